//! Real containers from the offline demo image, through the real `wharf` binary (root).

mod containers_support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use containers_support::{alive, wait_for, ChildGuard, Wharf};

const SEC: Duration = Duration::from_secs(1);

fn code(o: &std::process::Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// The records of image commits not yet known to be on disk (`unsynced/`).
fn unsynced(w: &Wharf) -> usize {
    std::fs::read_dir(w.root().join("unsynced")).map_or(0, |d| d.count())
}

#[test]
fn exit_codes_like_docker() {
    let w = Wharf::new();
    // The demo image was just stored without waiting for the disk; the first container
    // made from it flushes it first.
    assert_eq!(unsynced(&w), 1);
    let o = w.run(&[
        "run",
        "--rm",
        "--network",
        "none",
        "wharf/demo",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    assert_eq!(code(&o), 3);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&o.stderr), "err\n");
    assert_eq!(unsynced(&w), 0, "a container stands only on flushed layers");
    let o = w.run(&[
        "run",
        "--rm",
        "--network",
        "none",
        "wharf/demo",
        "no-such-command",
    ]);
    assert_eq!(code(&o), 127, "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("executable file not found"));
    let o = w.run(&[
        "run",
        "--rm",
        "--network",
        "none",
        "wharf/demo",
        "/etc/passwd",
    ]);
    assert_eq!(code(&o), 126, "{}", String::from_utf8_lossy(&o.stderr));
    let o = w.run(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-m",
        "lots",
        "wharf/demo",
        "true",
    ]);
    assert_eq!(code(&o), 125);
    let o = w.run(&["run", "--rm", "--network", "none", "no/such-image", "true"]);
    assert_eq!(code(&o), 125);
    // --rm left nothing behind, failures included.
    assert_eq!(w.ok(&["ps", "-aq"]).trim(), "");
}

#[test]
fn env_workdir_user_hostname() {
    let w = Wharf::new();
    let out = w.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-e",
        "FOO=bar",
        "-w",
        "/srv/app",
        "-u",
        "nobody",
        "-h",
        "box1",
        "wharf/demo",
        "sh",
        "-c",
        "echo $FOO; pwd; id -u; id -g; hostname; cat /etc/hostname",
    ]);
    assert_eq!(out, "bar\n/srv/app\n65534\n65534\nbox1\nbox1\n");
    let out = w.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-u",
        "1000:1000",
        "wharf/demo",
        "sh",
        "-c",
        "id -u; id -g; grep CapEff /proc/self/status",
    ]);
    assert_eq!(out, "1000\n1000\nCapEff:\t0000000000000000\n");
    let env_file = w.root().join("env.list");
    std::fs::write(&env_file, "# comment\nA=1\nB=two words\n").unwrap();
    let out = w.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--env-file",
        env_file.to_str().unwrap(),
        "wharf/demo",
        "sh",
        "-c",
        "echo $A/$B",
    ]);
    assert_eq!(out, "1/two words\n");
    // --entrypoint replaces the image's command.
    let out = w.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--entrypoint",
        "echo",
        "wharf/demo",
        "hi",
    ]);
    assert_eq!(out, "hi\n");
}

#[test]
fn stop_waits_for_the_timeout_then_kills() {
    let w = Wharf::new();
    // pid 1 ignores SIGTERM without a handler: stop has to fall back to SIGKILL.
    let id = w.detached(
        &["--name", "stubborn"],
        &["sh", "-c", "while true; do sleep 0.1; done"],
    );
    w.wait_status("stubborn", "running", 5 * SEC);
    let t = Instant::now();
    w.ok(&["stop", "-t", "1", "stubborn"]);
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(950) && took < 8 * SEC,
        "stop took {took:?}"
    );
    let st = w.inspect(&id)["State"].clone();
    assert_eq!(st["Status"], "exited");
    assert_eq!(st["ExitCode"], 137);
    // A container that handles SIGTERM stops at once with its own code.
    w.detached(
        &["--name", "polite"],
        &[
            "sh",
            "-c",
            "trap 'exit 0' TERM; echo ready; while true; do sleep 0.1; done",
        ],
    );
    w.wait_ready("polite");
    let t = Instant::now();
    w.ok(&["stop", "-t", "10", "polite"]);
    assert!(t.elapsed() < 5 * SEC);
    assert_eq!(w.inspect("polite")["State"]["ExitCode"], 0);
    // --stop-signal is used by stop.
    w.detached(
        &["--name", "usr", "--stop-signal", "USR1"],
        &[
            "sh",
            "-c",
            "trap 'exit 5' USR1; echo ready; while true; do sleep 0.1; done",
        ],
    );
    w.wait_ready("usr");
    w.ok(&["stop", "usr"]);
    assert_eq!(w.inspect("usr")["State"]["ExitCode"], 5);
}

#[test]
fn kill_sends_the_signal() {
    let w = Wharf::new();
    w.detached(
        &["--name", "kk"],
        &[
            "sh",
            "-c",
            "trap 'echo got USR1; exit 7' USR1; echo ready; while true; do sleep 0.1; done",
        ],
    );
    // pid 1 ignores signals it has no handler for: wait until the trap is set.
    w.wait_ready("kk");
    w.ok(&["kill", "-s", "USR1", "kk"]);
    assert_eq!(w.ok(&["wait", "kk"]).trim(), "7");
    assert_eq!(w.ok(&["logs", "kk"]), "ready\ngot USR1\n");
    w.detached(&["--name", "k9"], &["sleep", "100"]);
    w.wait_status("k9", "running", 5 * SEC);
    w.ok(&["kill", "k9"]);
    assert_eq!(w.ok(&["wait", "k9"]).trim(), "137");
    let ev = w.ok(&[
        "events",
        "--until",
        "0s",
        "--filter",
        "event=kill",
        "--format",
        "json",
    ]);
    assert!(
        ev.contains("\"signal\":\"10\"") && ev.contains("\"signal\":\"9\""),
        "{ev}"
    );
}

#[test]
fn pause_stops_the_counter() {
    let w = Wharf::new();
    let id = w.detached(
        &["--name", "counter"],
        &[
            "sh",
            "-c",
            "i=0; while true; do i=$((i+1)); echo $i > /tmp/count; sleep 0.02; done",
        ],
    );
    let file = w.container_dir(&id).join("diff/tmp/count");
    let read = || {
        std::fs::read_to_string(&file)
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    wait_for("the counter to run", 5 * SEC, || read() > 3);
    w.ok(&["pause", "counter"]);
    assert_eq!(w.status("counter"), "paused");
    assert_eq!(w.inspect("counter")["State"]["Paused"], true);
    let a = read();
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(read(), a, "a paused container's counter moved");
    let ps = w.ok(&["ps", "--filter", "status=paused"]);
    assert!(ps.contains("(Paused)"), "{ps}");
    w.ok(&["unpause", "counter"]);
    wait_for("the counter to move again", 5 * SEC, || read() > a + 2);
    // stop works on a paused container too.
    w.ok(&["pause", "counter"]);
    w.ok(&["stop", "-t", "1", "counter"]);
    assert_eq!(w.status("counter"), "exited");
}

#[test]
fn restart_policies_and_backoff() {
    let w = Wharf::new();
    w.detached(
        &["--name", "onfail", "--restart", "on-failure:2"],
        &["sh", "-c", "exit 3"],
    );
    wait_for("on-failure:2 to give up", 20 * SEC, || {
        let v = w.inspect("onfail");
        v["State"]["Status"] == "exited" && v["RestartCount"] == 2
    });
    assert_eq!(w.inspect("onfail")["State"]["ExitCode"], 3);
    w.detached(&["--name", "ok0", "--restart", "on-failure"], &["true"]);
    wait_for("a clean exit to stay exited", 5 * SEC, || {
        w.status("ok0") == "exited"
    });
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(w.inspect("ok0")["RestartCount"], 0);
    w.detached(
        &["--name", "always", "--restart", "always"],
        &["sh", "-c", "sleep 0.1"],
    );
    wait_for("always to restart", 20 * SEC, || {
        w.inspect("always")["RestartCount"].as_u64().unwrap_or(0) >= 2
    });
    w.ok(&["stop", "-t", "1", "always"]);
    let n = w.inspect("always")["RestartCount"].as_u64().unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let v = w.inspect("always");
    assert_eq!(
        v["State"]["Status"], "exited",
        "a stopped `always` container came back"
    );
    assert_eq!(v["RestartCount"].as_u64().unwrap(), n);
    // Restarts show in events as die/start pairs.
    let ev = w.ok(&[
        "events",
        "--until",
        "0s",
        "--filter",
        "container=onfail",
        "--filter",
        "event=start",
    ]);
    assert_eq!(ev.lines().count(), 3, "{ev}");
}

#[test]
fn auto_remove_and_rename() {
    let w = Wharf::new();
    let id = w.detached(
        &["--rm", "--name", "gone"],
        &["sh", "-c", "while true; do sleep 0.1; done"],
    );
    w.wait_status("gone", "running", 5 * SEC);
    w.ok(&["stop", "-t", "1", "gone"]);
    wait_for("--rm to remove the container", 5 * SEC, || {
        !w.container_dir(&id).exists()
    });
    assert_eq!(w.ok(&["ps", "-aq"]).trim(), "");
    let o = w.run(&["run", "--rm", "--restart", "always", "wharf/demo", "true"]);
    assert_eq!(code(&o), 125, "--rm with --restart must be refused");

    w.ok(&[
        "create",
        "--network",
        "none",
        "--name",
        "first",
        "wharf/demo",
        "true",
    ]);
    w.ok(&[
        "create",
        "--network",
        "none",
        "--name",
        "second",
        "wharf/demo",
        "true",
    ]);
    let o = w.run(&[
        "create",
        "--network",
        "none",
        "--name",
        "first",
        "wharf/demo",
        "true",
    ]);
    assert_eq!(code(&o), 125);
    assert!(String::from_utf8_lossy(&o.stderr).contains("already in use"));
    w.ok(&["rename", "first", "renamed"]);
    assert_eq!(w.inspect("renamed")["Name"], "/renamed");
    assert!(w.run(&["inspect", "first"]).status.code() != Some(0));
    assert_ne!(code(&w.run(&["rename", "second", "renamed"])), 0);
    let ev = w.ok(&[
        "events",
        "--until",
        "0s",
        "--filter",
        "event=rename",
        "--format",
        "json",
    ]);
    assert!(ev.contains("\"oldName\":\"/first\""), "{ev}");
    // created containers start later; prune removes stopped ones.
    w.ok(&["start", "renamed"]);
    assert_eq!(w.ok(&["wait", "renamed"]).trim(), "0");
    let out = w.ok(&["container", "prune", "-f"]);
    assert!(out.contains("Deleted Containers"), "{out}");
    assert_eq!(w.ok(&["ps", "-aq"]).trim(), "");
}

#[test]
fn logs_rotate_and_follow() {
    let w = Wharf::new();
    let id = w.detached(
        &[
            "--name",
            "chatty",
            "--log-opt",
            "max-size=2k",
            "--log-opt",
            "max-file=3",
        ],
        &[
            "sh",
            "-c",
            "i=1; while [ $i -le 300 ]; do echo line $i; i=$((i+1)); done",
        ],
    );
    assert_eq!(w.ok(&["wait", "chatty"]).trim(), "0");
    let dir = w.container_dir(&id);
    let log = format!("{id}-json.log");
    assert!(dir.join(format!("{log}.1")).exists() && dir.join(format!("{log}.2")).exists());
    assert!(
        !dir.join(format!("{log}.3")).exists(),
        "max-file=3 keeps three files"
    );
    assert!(std::fs::metadata(dir.join(&log)).unwrap().len() <= 2048);
    let first: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(dir.join(&log))
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(first["stream"], "stdout");
    assert!(first["time"].as_str().unwrap().contains('T'));
    let out = w.ok(&["logs", "chatty"]);
    let nums: Vec<u32> = out
        .lines()
        .map(|l| l.trim_start_matches("line ").parse().unwrap())
        .collect();
    assert_eq!(*nums.last().unwrap(), 300);
    assert!(
        nums.windows(2).all(|p| p[1] == p[0] + 1),
        "lines out of order or missing"
    );
    assert_eq!(
        w.ok(&["logs", "--tail", "2", "chatty"]),
        "line 299\nline 300\n"
    );
    let ts = w.ok(&["logs", "-t", "--tail", "1", "chatty"]);
    assert!(ts.ends_with(" line 300\n") && ts.starts_with("20"), "{ts}");

    // Follow: lines arrive while the container runs (across rotations), and the
    // follower ends when it stops.
    w.detached(
        &[
            "--name",
            "slow",
            "--log-opt",
            "max-size=200",
            "--log-opt",
            "max-file=2",
        ],
        &[
            "sh",
            "-c",
            "sleep 1; for i in 1 2 3 4 5 6 7 8; do echo tick $i; sleep 0.15; done",
        ],
    );
    let child = w
        .cmd(&["logs", "-f", "slow"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut guard = ChildGuard(child);
    let out = guard.0.stdout.take().unwrap();
    let mut lines = Vec::new();
    for l in BufReader::new(out).lines() {
        lines.push(l.unwrap());
    }
    let status = guard.0.wait().unwrap();
    assert!(status.success());
    assert_eq!(
        lines.last().map(String::as_str),
        Some("tick 8"),
        "{lines:?}"
    );
    assert!(lines.iter().any(|l| l == "tick 4"), "{lines:?}");
}

#[test]
fn memory_oom_and_pids_limit() {
    let w = Wharf::new();
    let o = w.run(&[
        "run",
        "--name",
        "oom",
        "--network",
        "none",
        "-m",
        "8m",
        "--memory-swap",
        "8m",
        "wharf/demo",
        "dd",
        "if=/dev/zero",
        "of=/dev/null",
        "bs=64M",
        "count=1",
    ]);
    assert_eq!(code(&o), 137);
    let st = w.inspect("oom")["State"].clone();
    assert_eq!(st["OOMKilled"], true);
    assert_eq!(st["ExitCode"], 137);
    let ev = w.ok(&["events", "--until", "0s", "--filter", "event=oom"]);
    assert_eq!(ev.lines().count(), 1, "{ev}");

    // A fork bomb stops at the pids limit: the shell cannot fork its 10th process.
    w.detached(
        &["--name", "bomb", "--pids-limit", "10"],
        &["sh", "-c", "for i in $(seq 1 40); do sleep 3 & done; wait"],
    );
    assert_ne!(w.ok(&["wait", "bomb"]).trim(), "0");
    let o = w.run(&["logs", "bomb"]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("can't fork"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // Without the limit the same script forks all 40.
    w.detached(
        &["--name", "nobomb"],
        &[
            "sh",
            "-c",
            "for i in $(seq 1 40); do sleep 0.2 & done; wait",
        ],
    );
    assert_eq!(w.ok(&["wait", "nobomb"]).trim(), "0");
}

#[test]
fn update_changes_limits_live() {
    let w = Wharf::new();
    let id = w.detached(
        &["--name", "upd", "--pids-limit", "100", "-m", "64m"],
        &["sh", "-c", "while true; do sleep 0.1; done"],
    );
    w.wait_status("upd", "running", 5 * SEC);
    let cg = |ctrl: &str, f: &str| {
        std::fs::read_to_string(format!("/sys/fs/cgroup/{ctrl}/wharf/{id}/{f}"))
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    if std::path::Path::new("/sys/fs/cgroup/pids/cgroup.procs").exists() {
        assert_eq!(cg("pids", "pids.max"), "100");
        assert_eq!(
            cg("memory", "memory.limit_in_bytes"),
            (64u64 << 20).to_string()
        );
        w.ok(&[
            "update",
            "--pids-limit",
            "5",
            "-m",
            "32m",
            "--memory-swap",
            "64m",
            "--restart",
            "always",
            "upd",
        ]);
        assert_eq!(cg("pids", "pids.max"), "5");
        assert_eq!(
            cg("memory", "memory.limit_in_bytes"),
            (32u64 << 20).to_string()
        );
    } else {
        w.ok(&[
            "update",
            "--pids-limit",
            "5",
            "-m",
            "32m",
            "--memory-swap",
            "64m",
            "--restart",
            "always",
            "upd",
        ]);
    }
    let v = w.inspect("upd");
    assert_eq!(v["HostConfig"]["PidsLimit"], 5);
    assert_eq!(v["HostConfig"]["RestartPolicy"]["Name"], "always");
    w.ok(&["rm", "-f", "upd"]);
    assert!(
        !std::path::Path::new(&format!("/sys/fs/cgroup/pids/wharf/{id}")).exists(),
        "cgroup left behind"
    );
}

#[test]
fn containers_outlive_the_cli_and_the_monitor() {
    let w = Wharf::new();
    // An attached `run`, killed with SIGKILL: the container goes on.
    let cli = w
        .cmd(&[
            "run",
            "--name",
            "survivor",
            "--network",
            "none",
            "wharf/demo",
            "sh",
            "-c",
            "while true; do echo alive; sleep 0.1; done",
        ])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut cli = ChildGuard(cli);
    wait_for("the container to run", 10 * SEC, || {
        w.run(&["inspect", "survivor"]).status.success() && w.status("survivor") == "running"
    });
    cli.0.kill().unwrap();
    cli.0.wait().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let v = w.inspect("survivor");
    assert_eq!(v["State"]["Status"], "running");
    let pid = v["State"]["Pid"].as_i64().unwrap();
    assert!(alive(pid));
    let id = v["Id"].as_str().unwrap().to_string();
    // Kill the monitor: the container still runs, and says so.
    let monitor = w.state_file(&id)["MonitorPid"].as_i64().unwrap();
    assert!(alive(monitor));
    // SAFETY: SIGKILL to the monitor this test's container runs under.
    unsafe { libc::kill(monitor as i32, libc::SIGKILL) };
    wait_for("the monitor to die", 5 * SEC, || !alive(monitor));
    assert_eq!(w.status("survivor"), "running");
    // The container's process goes too: the state says exited, truthfully.
    // SAFETY: SIGKILL to this test's container process.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    wait_for("the state to tell the exit", 5 * SEC, || {
        w.status("survivor") == "exited"
    });
    assert_eq!(w.inspect("survivor")["State"]["ExitCode"], 255);
    w.ok(&["rm", "survivor"]);
    assert!(!w.container_dir(&id).exists());

    // Monitor killed, container alive: rm -f still kills and cleans up.
    let id = w.detached(
        &["--name", "orphan"],
        &["sh", "-c", "while true; do sleep 0.1; done"],
    );
    w.wait_status("orphan", "running", 5 * SEC);
    let st = w.state_file(&id);
    let (monitor, pid) = (
        st["MonitorPid"].as_i64().unwrap(),
        st["Pid"].as_i64().unwrap(),
    );
    // SAFETY: as above.
    unsafe { libc::kill(monitor as i32, libc::SIGKILL) };
    wait_for("the monitor to die", 5 * SEC, || !alive(monitor));
    let t = Instant::now();
    w.ok(&["rm", "-f", "orphan"]);
    assert!(t.elapsed() < 10 * SEC);
    wait_for("the container process to end", 5 * SEC, || !alive(pid));
    assert!(!w.container_dir(&id).exists());
    assert!(!std::path::Path::new(&format!("/sys/fs/cgroup/memory/wharf/{id}")).exists());
}

#[test]
fn recovery_after_a_reboot_applies_restart_policies() {
    let w = Wharf::new();
    let a = w.detached(
        &["--name", "keep", "--restart", "always"],
        &["sh", "-c", "while true; do sleep 0.1; done"],
    );
    let b = w.detached(
        &["--name", "plain"],
        &["sh", "-c", "while true; do sleep 0.1; done"],
    );
    w.wait_status("keep", "running", 5 * SEC);
    w.wait_status("plain", "running", 5 * SEC);
    // "Reboot": every process of both containers gone, state left on disk from another boot.
    for id in [&a, &b] {
        let st = w.state_file(id);
        for k in ["MonitorPid", "Pid"] {
            let p = st[k].as_i64().unwrap();
            // SAFETY: SIGKILL to processes of this test's containers.
            unsafe { libc::kill(p as i32, libc::SIGKILL) };
            wait_for("the process to die", 5 * SEC, || !alive(p));
        }
        let mut st = w.state_file(id);
        st["BootId"] = "00000000-old-boot".into();
        std::fs::write(
            w.container_dir(id).join("state.json"),
            serde_json::to_vec(&st).unwrap(),
        )
        .unwrap();
    }
    std::fs::write(w.root().join("run/boot_id"), "00000000-old-boot").unwrap();
    // The next wharf command notices and recovers.
    let ps = w.ok(&["ps", "-a"]);
    assert!(ps.contains("keep"), "{ps}");
    wait_for("`always` to come back", 10 * SEC, || {
        w.status("keep") == "running"
    });
    let pid = w.inspect("keep")["State"]["Pid"].as_i64().unwrap();
    assert!(alive(pid));
    let plain = w.inspect("plain")["State"].clone();
    assert_eq!(plain["Status"], "exited");
    assert_eq!(plain["ExitCode"], 255);
}

#[test]
fn attach_streams_output_and_events_are_recorded() {
    let w = Wharf::new();
    w.detached(
        &["--name", "talker"],
        &["sh", "-c", "while true; do echo tick; sleep 0.05; done"],
    );
    w.wait_status("talker", "running", 5 * SEC);
    let child = w
        .cmd(&["attach", "--no-stdin", "talker"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut guard = ChildGuard(child);
    let mut out = BufReader::new(guard.0.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "tick\n");
    drop(guard);
    // Interactive stdin reaches the container; its EOF ends `cat`.
    let mut child = w
        .cmd(&[
            "run",
            "-i",
            "--rm",
            "--network",
            "none",
            "wharf/demo",
            "sh",
            "-c",
            "cat | tr a-z A-Z",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut sin = child.stdin.take().unwrap();
        sin.write_all(b"hello wharf\n").unwrap();
    }
    let o = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), "HELLO WHARF\n");
    w.ok(&["rm", "-f", "talker"]);
    let ev = w.ok(&["events", "--until", "0s", "--filter", "container=talker"]);
    for action in ["create", "start", "attach", "kill", "die", "destroy"] {
        assert!(
            ev.contains(&format!(" {action} ")),
            "no {action} event in:\n{ev}"
        );
    }
    let ev = w.ok(&[
        "events",
        "--until",
        "0s",
        "--filter",
        "event=die",
        "--format",
        "json",
    ]);
    assert!(ev.contains("\"exitCode\":\"137\""), "{ev}");
}

#[test]
fn tty_from_a_real_terminal() {
    use std::io::Read;
    use std::os::unix::process::CommandExt;
    let w = Wharf::new();
    let ws = nix::pty::Winsize {
        ws_row: 30,
        ws_col: 100,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let pty = nix::pty::openpty(Some(&ws), None).unwrap();
    let slave = std::fs::File::from(pty.slave);
    let mut cmd = w.cmd(&[
        "run",
        "-it",
        "--rm",
        "--network",
        "none",
        "wharf/demo",
        "sh",
        "-c",
        "tty; stty size; echo $TERM; exit 4",
    ]);
    cmd.stdin(slave.try_clone().unwrap())
        .stdout(slave.try_clone().unwrap())
        .stderr(slave.try_clone().unwrap());
    // SAFETY: setsid and TIOCSCTTY between fork and exec: the pty becomes the CLI's terminal.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            libc::ioctl(0, libc::TIOCSCTTY, 0);
            Ok(())
        });
    }
    let child = cmd.spawn().unwrap();
    let mut guard = ChildGuard(child);
    // Our copies of the slave (in `cmd` too) must go, or the master never sees EIO.
    drop(cmd);
    drop(slave);
    let mut master = std::fs::File::from(pty.master);
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let reader = std::thread::spawn(move || {
        // EIO once the last slave descriptor closes.
        while let Ok(n) = master.read(&mut buf) {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        out
    });
    let status = guard.0.wait().unwrap();
    let out = String::from_utf8_lossy(&reader.join().unwrap()).replace('\r', "");
    assert_eq!(status.code(), Some(4), "{out}");
    assert!(out.contains("/dev/pts/0\n30 100\nxterm\n"), "{out:?}");
}

#[test]
fn ps_size_counts_the_writable_layer_of_the_containers_shown() {
    let w = Wharf::new();
    w.ok(&[
        "run",
        "--network",
        "none",
        "--name",
        "writer",
        "wharf/demo",
        "sh",
        "-c",
        "head -c 300000 /dev/zero > /blob",
    ]);
    w.ok(&[
        "create",
        "--network",
        "none",
        "--name",
        "other",
        "wharf/demo",
        "true",
    ]);
    let out = w.ok(&[
        "ps",
        "-a",
        "-s",
        "--filter",
        "name=writer",
        "--format",
        "json",
    ]);
    let rows: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 1, "{out}");
    // Docker's `ps --format json` fields: Size is human ("307kB").
    let shown = rows[0]["Size"].as_str().unwrap_or_default().to_string();
    let (num, unit) = shown.split_at(shown.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(0));
    let mult = match unit {
        "kB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        _ => 1.0,
    };
    let size = num.parse::<f64>().unwrap_or(0.0) * mult;
    assert!(
        size >= 300_000.0,
        "writable layer of writer: {shown}: {out}"
    );
    // Without -s no size is worked out.
    let out = w.ok(&["ps", "-a", "--filter", "name=writer", "--format", "json"]);
    assert!(out.contains("\"Size\":\"0B\""), "{out}");
    // ancestor= by name or id (resolved once per listing); an unknown image matches none.
    let by_name = w.ok(&["ps", "-aq", "--filter", "ancestor=wharf/demo"]);
    assert_eq!(by_name.lines().count(), 2, "{by_name}");
    let id = w.ok(&["images", "-q", "wharf/demo"]);
    let by_id = w.ok(&["ps", "-aq", "--filter", &format!("ancestor={}", id.trim())]);
    assert_eq!(by_id.lines().count(), 2, "{by_id}");
    assert!(w
        .ok(&["ps", "-aq", "--filter", "ancestor=no/such:image"])
        .trim()
        .is_empty());
    // A filter that does not exist is refused, with or without containers to test it on.
    let empty = Wharf::new();
    for root in [&w, &empty] {
        let o = root.run(&["ps", "-a", "--filter", "bogus=1"]);
        assert!(!o.status.success());
        assert!(String::from_utf8_lossy(&o.stderr).contains("invalid filter"));
    }
}

/// Hold an exclusive flock on `path` (created if missing) until the file is dropped.
fn flock(path: &std::path::Path) -> std::fs::File {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    // A directory is locked itself (a remover locks the container's directory).
    let f = if path.is_dir() {
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY)
            .open(path)
    } else {
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
    }
    .expect("lock file");
    // SAFETY: flock on a file this test owns.
    assert_eq!(unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) }, 0);
    f
}

/// Found by scripts/soak.sh: `container prune` looked at a container, a `run` started
/// it, and the prune removed it anyway, leaving its processes, monitor and cgroups
/// behind. Removals now take the lock a start holds until the container runs: while a
/// start holds it, `prune` and `rm` wait, and look again once they have it.
#[test]
fn prune_and_rm_wait_for_a_start_in_progress() {
    let w = Wharf::new();
    for how in [&["container", "prune", "-f"][..], &["rm", "late"][..]] {
        let id = w
            .ok(&[
                "create",
                "--network",
                "none",
                "--name",
                "late",
                "wharf/demo",
                "sleep",
                "100",
            ])
            .trim()
            .to_string();
        // A start in progress, as far as the lock is concerned.
        let start = flock(&w.container_dir(&id).join("start.lock"));
        let mut remover = ChildGuard(w.cmd(how).stdout(Stdio::null()).spawn().expect("remover"));
        let t0 = Instant::now();
        while t0.elapsed() < 2 * SEC {
            assert!(
                remover.0.try_wait().expect("remover").is_none(),
                "wharf {how:?} did not wait for the start in progress"
            );
            assert!(
                w.container_dir(&id).exists(),
                "{how:?} removed a container that was starting"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        drop(start);
        let st = remover.0.wait().expect("remover");
        assert!(st.success(), "wharf {how:?}: {st:?}");
        assert!(
            !w.container_dir(&id).exists(),
            "{how:?} did not remove it once the start was done"
        );
    }
}

/// Found by scripts/soak.sh: an `rm` or `prune` killed after renaming a container's
/// directory into tmp/ left it there for good, and a `create` killed before writing its
/// config left a directory that is never listed yet keeps its volumes in use. The next
/// engine start deletes such leftovers, but never a removal whose remover still holds it.
#[test]
fn killed_creates_and_removals_are_cleaned_at_the_next_start() {
    let w = Wharf::new();
    // What a create killed before its config leaves: the layer directories, a volume
    // acquired for it, and the marker naming the container in the making.
    w.ok(&["volume", "create", "kept"]);
    let ghost = "0123456789abcdef".repeat(4);
    for d in ["diff", "work", "merged"] {
        std::fs::create_dir_all(w.container_dir(&ghost).join(d)).unwrap();
    }
    std::fs::write(w.root().join("run/creating"), &ghost).unwrap();
    std::fs::write(w.root().join("volumes/kept/refs").join(&ghost), b"").unwrap();
    // The engine start of this command deletes it first: the volume is free.
    w.ok(&["volume", "rm", "kept"]);
    assert!(
        !w.container_dir(&ghost).exists(),
        "the killed create's directory is still there"
    );
    assert!(
        std::fs::read(w.root().join("run/creating"))
            .unwrap_or_default()
            .is_empty(),
        "the marker still names the killed create"
    );
    let mut doomed = Vec::new();
    for name in ["gone1", "gone2"] {
        let id = w
            .ok(&[
                "create",
                "--network",
                "none",
                "--name",
                name,
                "wharf/demo",
                "true",
            ])
            .trim()
            .to_string();
        // What a remover killed right after its rename leaves.
        let to = w.root().join("tmp").join(format!("removing-{id}"));
        std::fs::rename(w.container_dir(&id), &to).unwrap();
        doomed.push(to);
    }
    // The second one's remover is alive (it holds the lock: on the directory).
    let live = flock(&doomed[1]);
    w.ok(&["ps", "-a"]);
    assert!(
        !doomed[0].exists(),
        "the killed removal's files are still in tmp/"
    );
    assert!(
        doomed[1].exists(),
        "a removal in progress was deleted under its remover"
    );
    drop(live);
    w.ok(&["ps", "-a"]);
    assert!(!doomed[1].exists());
}

/// A removed container's directory is kept, emptied, as a spare the next create takes:
/// nothing of the container before passes to the next (its files, output, /etc files,
/// writable layer), and a create killed while filling a spare leaves nothing behind.
#[test]
fn spare_directories_carry_nothing_to_the_next_container() {
    let spares = |w: &Wharf| -> Vec<std::path::PathBuf> {
        std::fs::read_dir(w.root().join("tmp"))
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("spare-"))
            .map(|e| e.path())
            .collect()
    };
    let w = Wharf::new();
    let first = w
        .ok(&[
            "run",
            "--name",
            "first",
            "--hostname",
            "firsthost",
            "wharf/demo",
            "sh",
            "-c",
            "echo secret > /secret; chmod 700 /; echo first output",
        ])
        .trim()
        .to_string();
    assert_eq!(first, "first output");
    w.ok(&["rm", "first"]);
    let kept = spares(&w);
    assert_eq!(kept.len(), 1, "the removal kept no spare");
    // Empty files, and its mount point, writable layer and work directory empty.
    for e in std::fs::read_dir(&kept[0]).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let md = e.metadata().unwrap();
        if ["merged", "diff", "work"].contains(&name.as_str()) {
            assert_eq!(std::fs::read_dir(e.path()).unwrap().count(), 0, "{name}");
        } else {
            assert!(
                md.is_file() && md.len() == 0,
                "{name} kept in the spare: {md:?}"
            );
        }
    }
    let out = w.ok(&[
        "run",
        "--name",
        "second",
        "wharf/demo",
        "sh",
        "-c",
        "ls /secret 2>&1; stat -c %a /; cat /etc/hostname",
    ]);
    assert!(spares(&w).is_empty(), "the create did not take the spare");
    let mut lines = out.lines();
    assert!(lines.next().unwrap().contains("No such file"), "{out}");
    assert_eq!(lines.next(), Some("755"), "{out}");
    assert_ne!(lines.next(), Some("firsthost"), "{out}");
    assert!(!w.ok(&["logs", "second"]).contains("first output"));
    assert_eq!(
        w.ok(&["diff", "second"]).trim(),
        "",
        "a fresh writable layer"
    );
    assert_eq!(w.status("second"), "exited");
    // Stopped, it still has its /etc mount points (from the shared layer, the demo image
    // has no /etc/hosts), as a copy-up gave it before.
    w.ok(&["cp", "second:/etc/hosts", "-"]);
    w.ok(&["rm", "second"]);

    // A create killed while it filled a spare: its taken spare, the marker naming it,
    // and a volume it had acquired are cleaned by the next engine start.
    w.ok(&["volume", "create", "held"]);
    let ghost = "fedcba9876543210".repeat(4);
    let taken = w.root().join("tmp").join(format!("taken-{ghost}"));
    std::fs::rename(&spares(&w)[0], &taken).unwrap();
    std::fs::write(w.root().join("run/creating"), &ghost).unwrap();
    std::fs::write(w.root().join("volumes/held/refs").join(&ghost), b"").unwrap();
    w.ok(&["volume", "rm", "held"]);
    assert!(!taken.exists(), "the killed create's spare is still there");
}

/// Found by scripts/soak.sh: a monitor killed after starting the container's process
/// but before recording it leaves that process in the container's cgroup, with the
/// container still stopped as far as its state says; `container prune` then removed the
/// container and left the process running. Prune now kills what is left in the cgroup
/// and removes it, as `rm` does.
#[test]
fn prune_kills_what_a_killed_start_left_in_the_cgroup() {
    use wharf_engine::runtime::cgroups::Cgroup;
    let w = Wharf::new();
    let id = w
        .ok(&[
            "create",
            "--network",
            "none",
            "--name",
            "half",
            "wharf/demo",
            "sleep",
            "100",
        ])
        .trim()
        .to_string();
    // The process of a start whose monitor was killed: in the cgroup, nowhere else.
    let cg = Cgroup::for_container(&id);
    cg.create().unwrap();
    let mut orphan = ChildGuard(
        std::process::Command::new("sleep")
            .arg("100")
            .spawn()
            .expect("sleep"),
    );
    cg.add_proc(orphan.0.id() as i32).unwrap();
    assert_eq!(w.status("half"), "created");
    w.ok(&["container", "prune", "-f"]);
    wait_for("the orphan to be killed", 5 * SEC, || {
        orphan.0.try_wait().expect("orphan").is_some()
    });
    assert!(Cgroup::for_container(&id).pids().is_empty());
}

/// What a container's monitor process shows and holds, from /proc: its command line
/// (NULs as spaces), its descriptors' targets by number, and the masks of the signals
/// it catches, ignores and blocks.
fn monitor_process(pid: i64) -> (String, Vec<(i32, String)>, [u64; 3]) {
    let line = String::from_utf8_lossy(&std::fs::read(format!("/proc/{pid}/cmdline")).unwrap())
        .replace('\0', " ")
        .trim()
        .to_string();
    let mut fds: Vec<(i32, String)> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .map(|e| {
            let n = e.file_name().to_string_lossy().parse().unwrap();
            (
                n,
                e.path().read_link().unwrap().to_string_lossy().into_owned(),
            )
        })
        .collect();
    fds.sort();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let mask = |k: &str| {
        let v = status
            .lines()
            .find_map(|l| l.strip_prefix(k))
            .unwrap_or_else(|| panic!("{k} in {status}"));
        u64::from_str_radix(v.trim(), 16).unwrap()
    };
    (
        line,
        fds,
        [mask("SigCgt:"), mask("SigIgn:"), mask("SigBlk:")],
    )
}

/// `wharf run` starts a container's monitor by forking itself rather than loading the
/// program again: the copy must look and hold what an executed monitor does. Its
/// command line is the one scripts know monitors by; its descriptors are /dev/null on
/// 0-2 and its own (the log, its sockets, pipes, its signalfd, the container's mount
/// namespace): none of the files,
/// locks or sockets of the command it was forked from; no signal handler of that
/// command is left (SIGSEGV and SIGBUS keep Rust's stack-overflow report, as an
/// executed wharf has them), nothing ignored that the command did not ignore, only
/// SIGCHLD blocked (for its signalfd).
/// Both for a detached run and for an attached one (which forwards signals).
#[test]
fn a_forked_monitor_is_what_an_executed_one_is() {
    let w = Wharf::new();
    let detached = w.detached(&[], &["sleep", "30"]);
    let mut attached = ChildGuard(
        w.cmd(&[
            "run",
            "--network",
            "none",
            "--name",
            "att",
            "wharf/demo",
            "sleep",
            "30",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("wharf run"),
    );
    wait_for("the attached container to run", 10 * SEC, || {
        let o = w.run(&["inspect", "-f", "{{.State.Status}}", "att"]);
        o.stdout.starts_with(b"running")
    });
    let att = w.inspect("att")["Id"].as_str().unwrap().to_string();
    let (_, _, [_, cli_ignored, _]) = monitor_process(attached.0.id().into());
    for id in [&detached, &att] {
        let pid = w.state_file(id)["MonitorPid"].as_i64().unwrap();
        assert!(pid > 0 && alive(pid));
        let (line, fds, [caught, ignored, blocked]) = monitor_process(pid);
        let want = format!("--root {} __monitor {id} --sync-fd 3", w.root().display());
        assert!(line.starts_with(Wharf::exe()), "{line}");
        assert!(line.contains(&want), "{line}");
        // A fork shows its line as one string (written over its argument area); an
        // executed monitor's arguments are separate. This one was forked.
        let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
        assert_eq!(
            raw.iter().filter(|b| **b == 0).count(),
            1,
            "the monitor of {id} was executed, not forked: {raw:?}"
        );
        // The container's mount namespace, which it holds until the exit is told.
        let init = w.state_file(id)["Pid"].as_i64().unwrap();
        let mnt = std::fs::read_link(format!("/proc/{init}/ns/mnt")).unwrap();
        for (n, target) in &fds {
            let own = target.starts_with("anon_inode:")
                || *target == *mnt.to_string_lossy()
                || target.starts_with("socket:")
                || target.starts_with("pipe:")
                || target.ends_with(&format!("{id}-json.log"));
            assert!(
                if *n < 3 { target == "/dev/null" } else { own },
                "fd {n} -> {target} in the monitor of {id}: {fds:?}"
            );
        }
        let segv_bus = (1u64 << (libc::SIGSEGV - 1)) | (1u64 << (libc::SIGBUS - 1));
        assert_eq!(caught & !segv_bus, 0, "handlers {caught:x}");
        // Ignored: what the command ignores (exec keeps that too), less SIGPIPE; glibc's
        // own signals 32 and 33 aside (it sets them up itself when it needs them).
        let pipe = 1u64 << (libc::SIGPIPE - 1);
        let glibc = 3u64 << 31;
        assert_eq!(
            ignored & !glibc,
            cli_ignored & !pipe & !glibc,
            "ignored {ignored:x}"
        );
        assert_eq!(blocked, 1u64 << (libc::SIGCHLD - 1), "blocked {blocked:x}");
    }
    // What its parent held (the containers' lock, the start lock) is free.
    w.ok(&["rm", "-f", &detached, "att"]);
    let _ = attached.0.wait();
}

/// Run `wharf __monitor` by hand as the engine starts it (`--sync-fd 3`), with `env`
/// added: its exit status and what it said on the sync pipe.
fn monitor_by_hand(w: &Wharf, env: &[(&str, &std::path::Path)]) -> (Option<i32>, String) {
    use std::io::Read;
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let (r, wr) = nix::unistd::pipe().expect("pipe");
    let mut r = std::fs::File::from(r);
    let wfd = wr.as_raw_fd();
    let mut cmd = std::process::Command::new(Wharf::exe());
    cmd.arg("--root")
        .arg(w.root())
        .args(["__monitor", &"0".repeat(64), "--sync-fd", "3"])
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: only dup2 (async-signal-safe) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(wfd, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let status = cmd.status().expect("monitor");
    drop(wr);
    let mut said = String::new();
    r.read_to_string(&mut said).expect("report");
    (status.code(), said)
}

/// A monitor that fails before the start (here: no such container) says why on its
/// report pipe, as a failed start does, instead of ending without a word (which its
/// spawner can only call "monitor ended without reporting").
#[test]
fn monitor_reports_a_failure_before_the_start() {
    let w = Wharf::new();
    let (status, said) = monitor_by_hand(&w, &[]);
    assert_eq!(status, Some(1));
    assert!(said.starts_with("err\n125\n"), "{said:?}");
    assert!(
        said.contains(&"0".repeat(12)),
        "names the container: {said:?}"
    );
    // One that cannot even open its engine (a policy file that does not parse) too.
    let bad = w.root().with_extension("policy.json");
    std::fs::write(&bad, "{ not json").unwrap();
    let (status, said) = monitor_by_hand(&w, &[("WHARF_POLICY", &bad)]);
    let _ = std::fs::remove_file(&bad);
    assert_eq!(status, Some(125));
    assert!(said.starts_with("err\n125\n"), "{said:?}");
    assert!(said.contains("policy"), "names the policy: {said:?}");
}
