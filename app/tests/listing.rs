//! Listings from the engine's index stay true while others change the state behind
//! its back: a `wharf serve` (which keeps the index in memory and watches) lists while
//! other CLIs create, kill and remove; monitors and containers are SIGKILLed; the
//! summary file that cold CLIs start from is truncated, damaged or stale. Also: what
//! `run --rm` leaves (nothing) and the bridge's grace period (in a network namespace of
//! the test's own). Real containers, the real binary, as root.

mod containers_support;
#[path = "../../engine/tests/network_support/mod.rs"]
mod network_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use containers_support::{alive, wait_for, ChildGuard, Wharf};

const SEC: Duration = Duration::from_secs(1);

/// `wharf serve` on the test's root, stopped (by pid) when dropped.
struct Serve {
    _child: ChildGuard,
    sock: PathBuf,
}

impl Serve {
    fn start(w: &Wharf) -> Serve {
        let sock = w.root().join("test.sock");
        let child = w
            .cmd(&["serve", "--socket", &sock.display().to_string()])
            .stderr(Stdio::null())
            .spawn()
            .expect("wharf serve");
        let s = Serve {
            _child: ChildGuard(child),
            sock,
        };
        wait_for("the server's socket", 10 * SEC, || {
            std::os::unix::net::UnixStream::connect(&s.sock).is_ok()
        });
        s
    }

    /// `wharf --host unix://SOCK ps -a --format '{{.Names}} {{.State}}'`, sorted lines.
    fn ps(&self) -> Vec<String> {
        let o = Command::new(Wharf::exe())
            .arg("--host")
            .arg(format!("unix://{}", self.sock.display()))
            .args(["ps", "-a", "--format", "{{.Names}} {{.State}}"])
            .stdin(Stdio::null())
            .output()
            .expect("wharf --host ps");
        assert!(
            o.status.success(),
            "ps through the server: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        lines(&o.stdout)
    }
}

fn lines(out: &[u8]) -> Vec<String> {
    let mut v: Vec<String> = String::from_utf8_lossy(out)
        .lines()
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

/// The same listing from a cold CLI (the summary file).
fn ps(w: &Wharf) -> Vec<String> {
    lines(
        w.ok(&["ps", "-a", "--format", "{{.Names}} {{.State}}"])
            .as_bytes(),
    )
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Kill (SIGKILL, by pid) a container's monitor and its process, as a crash would.
fn kill_all(w: &Wharf, id: &str) {
    let st = w.state_file(id);
    for k in ["MonitorPid", "Pid"] {
        let p = st[k].as_i64().unwrap();
        // SAFETY: SIGKILL to a process of this test's container.
        unsafe { libc::kill(p as i32, libc::SIGKILL) };
        wait_for("the process to die", 5 * SEC, || !alive(p));
    }
}

#[test]
fn listings_stay_true_while_others_change_things() {
    let w = Wharf::new();
    let serve = Serve::start(&w);
    assert!(serve.ps().is_empty());
    w.ok(&[
        "create",
        "--name",
        "made",
        "--network",
        "none",
        "wharf/demo",
        "true",
    ]);
    assert_eq!(serve.ps(), strs(&["made created"]));
    let id = w.detached(&["--name", "runner"], &["sleep", "1000"]);
    // Each change by another CLI is in the server's very next listing.
    assert_eq!(serve.ps(), strs(&["made created", "runner running"]));
    assert_eq!(ps(&w), strs(&["made created", "runner running"]));
    w.ok(&["kill", "runner"]);
    wait_for("the kill to be recorded", 5 * SEC, || {
        w.status("runner") == "exited"
    });
    assert_eq!(serve.ps(), strs(&["made created", "runner exited"]));
    w.ok(&["rm", "made"]);
    w.ok(&["rename", "runner", "walker"]);
    assert_eq!(serve.ps(), strs(&["walker exited"]));
    assert_eq!(ps(&w), strs(&["walker exited"]));
    // Behind everyone's back: a monitor and its container SIGKILLed. Nobody records
    // the exit; the listings find it (and set the state right).
    w.ok(&["start", "walker"]);
    w.wait_status("walker", "running", 5 * SEC);
    assert_eq!(serve.ps(), strs(&["walker running"]));
    kill_all(&w, &id);
    // A killed process stays a zombie until its new parent reaps it, and a zombie
    // still answers kill(pid, 0): where init reaps late, the server's cheap probe
    // may count it alive until its next full look (a second at most).
    wait_for("the server to see the container died", 3 * SEC, || {
        serve.ps() == strs(&["walker exited"])
    });
    assert_eq!(ps(&w), strs(&["walker exited"]));
    assert_eq!(w.inspect("walker")["State"]["ExitCode"], 255);
    // Only the monitor killed: the container runs on, and says so.
    let other = w.detached(&["--name", "orphan"], &["sleep", "1000"]);
    assert_eq!(serve.ps(), strs(&["orphan running", "walker exited"]));
    let m = w.state_file(&other)["MonitorPid"].as_i64().unwrap();
    // SAFETY: SIGKILL to this test's container's monitor.
    unsafe { libc::kill(m as i32, libc::SIGKILL) };
    wait_for("the monitor to die", 5 * SEC, || !alive(m));
    assert_eq!(serve.ps(), strs(&["orphan running", "walker exited"]));
    assert_eq!(ps(&w), strs(&["orphan running", "walker exited"]));
    w.ok(&["rm", "-f", "orphan", "walker"]);
    assert!(serve.ps().is_empty());
    assert!(ps(&w).is_empty());
}

#[test]
fn a_truncated_damaged_or_stale_summary_is_rebuilt() {
    let w = Wharf::new();
    let a = w.detached(&["--name", "aa"], &["sleep", "1000"]);
    w.ok(&[
        "create",
        "--name",
        "bb",
        "--network",
        "none",
        "wharf/demo",
        "true",
    ]);
    assert_eq!(ps(&w), strs(&["aa running", "bb created"]));
    let file = w.root().join("run/containers.summary");
    let good = std::fs::read(&file).expect("the summary file");
    // Stale: aa's processes die without a word, bb goes, cc comes; the old file is put back.
    kill_all(&w, &a);
    w.ok(&["rm", "bb"]);
    w.ok(&[
        "create",
        "--name",
        "cc",
        "--network",
        "none",
        "wharf/demo",
        "true",
    ]);
    std::fs::write(&file, &good).unwrap();
    assert_eq!(ps(&w), strs(&["aa exited", "cc created"]));
    for bad in [&good[..good.len() / 3], b"{\"format\": 1}".as_slice(), b""] {
        std::fs::write(&file, bad).unwrap();
        assert_eq!(ps(&w), strs(&["aa exited", "cc created"]));
    }
    std::fs::remove_file(&file).unwrap();
    assert_eq!(ps(&w), strs(&["aa exited", "cc created"]));
    // By name and id prefix, through the index too.
    w.ok(&["rm", "cc"]);
    w.ok(&["rm", &a[..12]]);
    assert!(ps(&w).is_empty());
}

/// `containers/<id>` cgroups of this root's containers still there.
fn cgroup_left(id: &str) -> bool {
    ["pids", "memory", "cpu"]
        .iter()
        .any(|c| Path::new(&format!("/sys/fs/cgroup/{c}/wharf/{id}")).exists())
}

#[test]
fn run_rm_answers_first_and_leaves_nothing_behind() {
    let w = Wharf::new();
    let mut ids = Vec::new();
    for i in 0..3 {
        let cid = w.root().join(format!("cid-{i}"));
        let o = w.run(&[
            "run",
            "--rm",
            "--network",
            "none",
            "--cidfile",
            &cid.display().to_string(),
            "wharf/demo",
            "sh",
            "-c",
            "exit 3",
        ]);
        assert_eq!(o.status.code(), Some(3));
        // Gone from listings when the answer comes.
        assert!(ps(&w).is_empty());
        ids.push(std::fs::read_to_string(&cid).unwrap().trim().to_string());
    }
    // The cleanup after the answer: cgroups, the renamed files.
    wait_for("the cleanup after the answers", 10 * SEC, || {
        ids.iter().all(|id| !cgroup_left(id))
            && std::fs::read_dir(w.root().join("tmp"))
                .map(|d| {
                    d.flatten()
                        .all(|e| !e.file_name().to_string_lossy().starts_with("removing-"))
                })
                .unwrap_or(true)
    });
    // What a remover killed half-way left (renamed away a while ago, its monitor gone,
    // its cgroup still there) is finished by the next container that ends.
    let fake = format!("{:064x}", 0xdead_beef_u64);
    let left = w.root().join("tmp").join(format!("removing-{fake}"));
    std::fs::create_dir_all(left.join("diff/etc")).unwrap();
    std::fs::write(left.join("state.json"), br#"{"Status":"exited","Pid":0,"PidStart":0,"MonitorPid":999999,"MonitorStart":1,"ExitCode":0,"OOMKilled":false,"Error":"","StartedAt":"","FinishedAt":"","RestartCount":0,"ManuallyStopped":false,"BootId":"x"}"#).unwrap();
    let cg = format!("/sys/fs/cgroup/pids/wharf/{fake}");
    std::fs::create_dir_all(&cg).unwrap();
    let old = Command::new("touch")
        .args(["-d", "2 hours ago"])
        .arg(&left)
        .status()
        .unwrap();
    assert!(old.success());
    w.ok(&["run", "--rm", "--network", "none", "wharf/demo", "true"]);
    wait_for("the leftover to be swept", 10 * SEC, || {
        !left.exists() && !Path::new(&cg).exists()
    });
}

#[test]
fn a_killed_monitor_after_the_exit_is_finished_by_the_next_look() {
    let w = Wharf::new();
    // A stopped container whose monitor died before its cleanup (as if killed right
    // after answering): the state still names the monitor.
    let id = w.detached(&["--name", "late"], &["true"]);
    w.wait_status("late", "exited", 5 * SEC);
    wait_for("the monitor to finish", 5 * SEC, || {
        w.state_file(&id)["MonitorPid"] == 0
    });
    let mut st = w.state_file(&id);
    st["MonitorPid"] = 999_999.into();
    st["MonitorStart"] = 1.into();
    let d = w.container_dir(&id);
    std::fs::write(d.join(".state.json.new"), serde_json::to_vec(&st).unwrap()).unwrap();
    std::fs::rename(d.join(".state.json.new"), d.join("state.json")).unwrap();
    let cg = format!("/sys/fs/cgroup/pids/wharf/{id}");
    std::fs::create_dir_all(&cg).unwrap();
    assert_eq!(ps(&w), strs(&["late exited"]));
    assert_eq!(w.state_file(&id)["MonitorPid"], 0);
    assert!(
        !Path::new(&cg).exists(),
        "the cgroup left behind is removed"
    );
    // And it starts again normally.
    w.ok(&["start", "late"]);
    w.wait_status("late", "exited", 5 * SEC);
}

/// Does link `name` exist in the test's network namespace?
fn link(name: &str) -> bool {
    network_support::sh(&format!("ip link show {name}"))
        .status
        .success()
}

fn table() -> bool {
    String::from_utf8_lossy(&network_support::sh("nft list tables").stdout).contains("wharf")
}

#[test]
fn the_bridge_stays_up_for_its_grace_period_then_goes() {
    let ns = network_support::TestNetns::enter();
    let w = Wharf::new();
    let run = |grace: &str| {
        let o = w
            .cmd(&["run", "--rm", "wharf/demo", "true"])
            .env("WHARF_BRIDGE_GRACE", grace)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    // Kept for a second after the last container, for the next; then removed by the
    // keeper process the monitor started.
    run("1");
    assert!(
        link("wharf0") && table(),
        "the bridge and the table stay up"
    );
    run("1");
    assert!(link("wharf0") && table());
    wait_for("the keeper to remove the bridge", 10 * SEC, || {
        !link("wharf0") && !table()
    });
    ns.assert_clean();
    // The keeper killed: the next look at the networks by any wharf (a start on a
    // network, `network ls`) removes them once their time is up. A `--network none`
    // start does not look: it has no network to set up.
    run("1");
    let keeper = wait_keeper(w.root());
    // SAFETY: SIGKILL to the keeper this test's container started.
    unsafe { libc::kill(keeper, libc::SIGKILL) };
    std::thread::sleep(2 * SEC);
    assert!(link("wharf0"), "nobody removed it");
    w.ok(&["run", "--rm", "--network", "none", "wharf/demo", "true"]);
    assert!(
        link("wharf0"),
        "a --network none start leaves networks alone"
    );
    w.ok(&["network", "ls"]);
    assert!(!link("wharf0") && !table());
    ns.assert_clean();
    // Under `wharf serve` bridges stay up (even without a grace period), and go when
    // it stops.
    let serve = Serve::start(&w);
    run("0");
    std::thread::sleep(SEC / 2);
    assert!(link("wharf0") && table(), "kept while the server runs");
    drop(serve);
    wait_for("the bridge to go with the server", 10 * SEC, || {
        !link("wharf0") && !table()
    });
    ns.assert_clean();
}

/// The pid of the `__bridge-keeper` of `root` (found in /proc).
fn wait_keeper(root: &Path) -> i32 {
    let mut found = 0;
    wait_for("the bridge keeper", 5 * SEC, || {
        found = std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| e.file_name().to_string_lossy().parse::<i32>().ok())
            .find(|pid| {
                std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                    let c = String::from_utf8_lossy(&c);
                    c.contains("__bridge-keeper") && c.contains(&*root.to_string_lossy())
                })
            })
            .unwrap_or(0);
        found != 0
    });
    found
}
