//! exec, top, cp, diff, commit, export and health checks with real containers from the
//! offline demo image, through the real `wharf` binary (root).

mod containers_support;

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use containers_support::{wait_for, Wharf};

const SEC: Duration = Duration::from_secs(1);

fn code(o: &std::process::Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn out(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Events of the last minutes for `id`, one `action` per line.
fn actions(w: &Wharf, id: &str) -> Vec<String> {
    let o = w.ok(&[
        "events",
        "--since",
        "10m",
        "--until",
        "0s",
        "--filter",
        &format!("container={id}"),
        "--format",
        "json",
    ]);
    o.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| {
            let a = v["Action"]
                .as_str()
                .or(v["action"].as_str())
                .unwrap_or_default()
                .to_string();
            let code = v["Actor"]["Attributes"]["exitCode"]
                .as_str()
                .or(v["actor"]["attributes"]["exitCode"].as_str())
                .map(|c| format!(" {c}"))
                .unwrap_or_default();
            format!("{a}{code}")
        })
        .collect()
}

#[test]
fn exec_joins_the_container_and_keeps_its_limits() {
    let w = Wharf::new();
    let id = w.detached(
        &[
            "--name",
            "ex",
            "--hostname",
            "inside",
            "--ulimit",
            "nofile=321:321",
            "--pids-limit",
            "40",
        ],
        &["sleep", "1000"],
    );
    assert_eq!(w.ok(&["exec", "ex", "hostname"]).trim(), "inside");
    // Its own pid namespace: pid 1 is the container's command, nothing of the host.
    let ps = w.ok(&["exec", "ex", "ps", "-o", "pid,args"]);
    let rows: Vec<&str> = ps.lines().skip(1).collect();
    assert!(rows[0].trim().starts_with("1 sleep 1000"), "{ps}");
    assert_eq!(rows.len(), 2, "only sleep and ps itself: {ps}");
    // The same capabilities, seccomp and rlimits as the container.
    let status = w.ok(&["exec", "ex", "cat", "/proc/self/status"]);
    assert!(status.contains("CapEff:\t00000000a80425fb"), "{status}");
    assert!(status.contains("Seccomp:\t2"), "{status}");
    assert_eq!(w.ok(&["exec", "ex", "sh", "-c", "ulimit -n"]).trim(), "321");
    // The same cgroup (and cgroup namespace) as the container's init.
    assert_eq!(
        w.ok(&["exec", "ex", "cat", "/proc/self/cgroup"]),
        w.ok(&["exec", "ex", "cat", "/proc/1/cgroup"])
    );
    let mine = w.ok(&["exec", "ex", "sh", "-c", "echo $$; cat /proc/self/cgroup"]);
    assert!(mine.lines().skip(1).all(|l| l.ends_with(":/")), "{mine}");
    // What the container cannot do, exec cannot either.
    let o = w.run(&["exec", "ex", "mount", "-t", "tmpfs", "none", "/mnt"]);
    assert_ne!(code(&o), 0, "mount must be refused: {}", out(&o));
    let o = w.run(&["exec", "ex", "sh", "-c", "echo 1 > /proc/sys/kernel/panic"]);
    assert_ne!(code(&o), 0);
    // The exec'd process is counted in the container's cgroup: top shows it.
    w.ok(&["exec", "-d", "ex", "sleep", "77"]);
    wait_for("the detached exec in top", 10 * SEC, || {
        w.ok(&["top", "ex"]).contains("sleep 77")
    });
    // no-new-privileges carries over.
    let nnp = w.detached(&["--security-opt", "no-new-privileges"], &["sleep", "1000"]);
    assert!(w
        .ok(&["exec", &nnp, "cat", "/proc/self/status"])
        .contains("NoNewPrivs:\t1"));
    let _ = id;
}

#[test]
fn exec_exit_codes_env_user_stdin_and_events() {
    let w = Wharf::new();
    let id = w.detached(&["--name", "codes", "-e", "FROM_RUN=1"], &["sleep", "1000"]);
    let o = w.run(&[
        "exec",
        "codes",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 7",
    ]);
    assert_eq!(code(&o), 7);
    assert_eq!(out(&o), "out\n");
    assert_eq!(err(&o), "err\n");
    let o = w.run(&["exec", "codes", "no-such-command"]);
    assert_eq!(code(&o), 127, "{}", err(&o));
    assert!(err(&o).contains("executable file not found"), "{}", err(&o));
    let o = w.run(&["exec", "codes", "/etc/passwd"]);
    assert_eq!(code(&o), 126, "{}", err(&o));
    // Environment, user, working directory.
    let o = w.ok(&[
        "exec",
        "-e",
        "EXTRA=x",
        "-u",
        "1000",
        "-w",
        "/tmp",
        "codes",
        "sh",
        "-c",
        "echo $FROM_RUN $EXTRA; id -u; pwd",
    ]);
    assert_eq!(o, "1 x\n1000\n/tmp\n");
    // -i: stdin reaches the process, EOF ends it.
    let mut c = w
        .cmd(&["exec", "-i", "codes", "sh", "-c", "tr a-z A-Z; exit 4"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(b"hello\n").unwrap();
    let o = c.wait_with_output().unwrap();
    assert_eq!(out(&o), "HELLO\n");
    assert_eq!(code(&o), 4);
    let acts = actions(&w, &id);
    for want in ["exec_create", "exec_start", "exec_die 7", "exec_die 4"] {
        assert!(acts.iter().any(|a| a == want), "{want} in {acts:?}");
    }
    // Paused and stopped containers refuse exec.
    w.ok(&["pause", "codes"]);
    let o = w.run(&["exec", "codes", "true"]);
    assert_eq!(code(&o), 125);
    assert!(err(&o).contains("paused"), "{}", err(&o));
    w.ok(&["unpause", "codes"]);
    w.ok(&["stop", "-t", "1", "codes"]);
    let o = w.run(&["exec", "codes", "true"]);
    assert_eq!(code(&o), 125);
    assert!(err(&o).contains("not running"), "{}", err(&o));
}

#[test]
fn exec_tty_gets_the_terminal_size() {
    let w = Wharf::new();
    w.detached(&["--name", "tty"], &["sleep", "1000"]);
    // `script` gives the CLI a real terminal of a known size.
    let cmd = format!(
        "stty rows 33 cols 77; {} --root {} exec -t tty sh -c 'tty; stty size'",
        Wharf::exe(),
        w.root().display()
    );
    let o = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .expect("script (util-linux)");
    let s = out(&o);
    assert!(s.contains("/dev/pts/"), "{s}");
    assert!(s.contains("33 77"), "{s}");
}

#[test]
fn top_lists_the_container_processes() {
    let w = Wharf::new();
    w.detached(
        &["--name", "topc"],
        &["sh", "-c", "sleep 999 & sleep 998 & wait"],
    );
    wait_for("both sleeps", 10 * SEC, || {
        let t = w.ok(&["top", "topc"]);
        t.contains("sleep 999") && t.contains("sleep 998")
    });
    let t = w.ok(&["top", "topc", "-ef"]);
    let head: Vec<&str> = t.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        head,
        ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
    );
    assert_eq!(t.lines().count(), 4, "{t}");
    assert!(t.lines().skip(1).all(|l| l.starts_with("root")), "{t}");
    // Other ps options would be ignored: they are refused instead.
    let o = w.run(&["top", "topc", "aux"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&o.stderr).contains("does not take ps options"));
}

#[test]
fn cp_both_ways_stays_inside_the_container() {
    let w = Wharf::new();
    let host = tempfile::tempdir().unwrap();
    w.detached(&["--name", "cpc"], &["sleep", "1000"]);
    w.ok(&[
        "exec", "cpc", "sh", "-c",
        "echo secret-inside > /etc/marker; ln -s /etc /tmp/abs; ln -s ../../../../../etc /tmp/rel; mkdir -p /data/sub; echo deep > /data/sub/f",
    ]);
    // Out: through an absolute and a relative symlink, both resolve in the container.
    for link in ["abs", "rel"] {
        let dst = host.path().join(format!("m-{link}"));
        w.ok(&[
            "cp",
            &format!("cpc:/tmp/{link}/marker"),
            dst.to_str().unwrap(),
        ]);
        assert_eq!(std::fs::read_to_string(&dst).unwrap(), "secret-inside\n");
    }
    // A directory, into an existing host directory.
    w.ok(&["cp", "cpc:/data", host.path().to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(host.path().join("data/sub/f")).unwrap(),
        "deep\n"
    );
    // In: through the symlinks, the files land in the container's /etc, never the host's.
    let src = host.path().join("wharf-cp-probe");
    std::fs::write(&src, "from-host\n").unwrap();
    w.ok(&["cp", src.to_str().unwrap(), "cpc:/tmp/abs/"]);
    w.ok(&["cp", src.to_str().unwrap(), "cpc:/tmp/rel/renamed"]);
    assert!(!std::path::Path::new("/etc/wharf-cp-probe").exists());
    assert!(!std::path::Path::new("/etc/renamed").exists());
    assert_eq!(
        w.ok(&["exec", "cpc", "cat", "/etc/wharf-cp-probe", "/etc/renamed"]),
        "from-host\nfrom-host\n"
    );
    // A host directory into the container, under a new name.
    w.ok(&[
        "cp",
        host.path().join("data").to_str().unwrap(),
        "cpc:/copied",
    ]);
    assert_eq!(w.ok(&["exec", "cpc", "cat", "/copied/sub/f"]), "deep\n");
    // Stopped: still through the container's files, still inside its root.
    w.ok(&["stop", "-t", "1", "cpc"]);
    let dst = host.path().join("stopped");
    w.ok(&["cp", "cpc:/tmp/rel/marker", dst.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&dst).unwrap(), "secret-inside\n");
    w.ok(&["cp", src.to_str().unwrap(), "cpc:/tmp/abs/while-stopped"]);
    assert!(!std::path::Path::new("/etc/while-stopped").exists());
    w.ok(&["start", "cpc"]);
    assert_eq!(
        w.ok(&["exec", "cpc", "cat", "/etc/while-stopped"]),
        "from-host\n"
    );
    // A missing path is a clear error.
    let o = w.run(&["cp", "cpc:/no/such", host.path().to_str().unwrap()]);
    assert_eq!(code(&o), 125);
    assert!(err(&o).contains("not found"), "{}", err(&o));
}

#[test]
fn diff_commit_and_export() {
    let w = Wharf::new();
    w.detached(&["--name", "dc"], &["sleep", "1000"]);
    w.ok(&[
        "exec",
        "dc",
        "sh",
        "-c",
        "echo new > /added; echo more >> /etc/passwd; rm /bin/true; mkdir /newdir; touch /newdir/x",
    ]);
    let d = w.ok(&["diff", "dc"]);
    let lines: Vec<&str> = d.lines().collect();
    for want in [
        "A /added",
        "C /etc",
        "C /etc/passwd",
        "C /bin",
        "D /bin/true",
        "A /newdir",
        "A /newdir/x",
    ] {
        assert!(lines.contains(&want), "{want} in\n{d}");
    }
    assert!(
        !lines
            .iter()
            .any(|l| l.contains("hostname") || l.contains("resolv.conf")),
        "{d}"
    );
    let img = w.ok(&[
        "commit",
        "-c",
        "ENV COMMITTED=yes",
        "-m",
        "a change",
        "dc",
        "committed/img:v1",
    ]);
    assert!(img.trim().starts_with("sha256:"), "{img}");
    let o = w.ok(&[
        "run", "--rm", "--network", "none", "committed/img:v1", "sh", "-c",
        "cat /added; tail -1 /etc/passwd; echo $COMMITTED; test -e /bin/true || echo gone; ls /newdir",
    ]);
    assert_eq!(o, "new\nmore\nyes\ngone\nx\n");
    // Export: the merged file system, deletions applied.
    let tar = tempfile::NamedTempFile::new().unwrap();
    w.ok(&["export", "-o", tar.path().to_str().unwrap(), "dc"]);
    let mut ar = tar::Archive::new(std::fs::File::open(tar.path()).unwrap());
    let mut names = Vec::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let p = e.path().unwrap().to_string_lossy().into_owned();
        if p == "added" {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut e, &mut s).unwrap();
            assert_eq!(s, "new\n");
        }
        names.push(p);
    }
    for want in ["added", "bin/busybox", "etc/passwd", "newdir/x"] {
        assert!(names.iter().any(|n| n == want), "{want} exported");
    }
    assert!(
        !names.iter().any(|n| n == "bin/true"),
        "deleted file exported"
    );
    assert!(!names.iter().any(|n| n.contains(".wh.")));
}

#[test]
fn health_checks_turn_healthy_and_unhealthy() {
    let w = Wharf::new();
    let bad = w.detached(
        &[
            "--name",
            "hbad",
            "--health-cmd",
            "echo failing; exit 1",
            "--health-interval",
            "200ms",
            "--health-retries",
            "2",
        ],
        &["sleep", "1000"],
    );
    let good = w.detached(
        &[
            "--name",
            "hgood",
            "--health-cmd",
            "test -e /bin/sh",
            "--health-interval",
            "200ms",
        ],
        &["sleep", "1000"],
    );
    let plain = w.detached(&["--name", "hnone"], &["sleep", "1000"]);
    wait_for("hbad unhealthy", 20 * SEC, || {
        w.inspect("hbad")["State"]["Health"]["Status"] == "unhealthy"
    });
    wait_for("hgood healthy", 20 * SEC, || {
        w.inspect("hgood")["State"]["Health"]["Status"] == "healthy"
    });
    let h = w.inspect("hbad")["State"]["Health"].clone();
    assert!(h["FailingStreak"].as_u64().unwrap() >= 2, "{h}");
    assert_eq!(h["Log"][0]["ExitCode"], 1);
    assert_eq!(h["Log"][0]["Output"], "failing\n");
    assert!(w.inspect("hnone")["State"].get("Health").is_none());
    let ps = w.ok(&["ps"]);
    assert!(
        ps.lines()
            .any(|l| l.contains("(unhealthy)") && l.ends_with("hbad")),
        "{ps}"
    );
    assert!(
        ps.lines()
            .any(|l| l.contains("(healthy)") && l.ends_with("hgood")),
        "{ps}"
    );
    assert!(actions(&w, &bad).contains(&"health_status: unhealthy".to_string()));
    assert!(actions(&w, &good).contains(&"health_status: healthy".to_string()));
    // --no-healthcheck: none at all.
    let o = w.detached(&["--no-healthcheck"], &["sleep", "1000"]);
    assert!(w.inspect(&o)["State"].get("Health").is_none());
    let _ = plain;
    // An image's HEALTHCHECK (made by commit -c), and --no-healthcheck turning it off.
    w.ok(&[
        "commit",
        "-c",
        "HEALTHCHECK --interval=200ms --retries=1 CMD [\"sh\", \"-c\", \"exit 3\"]",
        "hnone",
        "with/health:1",
    ]);
    let mut args = vec!["run", "-d", "--network", "none", "--name", "fromimg"];
    args.extend(["with/health:1", "sleep", "1000"]);
    w.ok(&args);
    wait_for("the image's check to fail", 20 * SEC, || {
        w.inspect("fromimg")["State"]["Health"]["Status"] == "unhealthy"
    });
    assert_eq!(
        w.inspect("fromimg")["State"]["Health"]["Log"][0]["ExitCode"],
        3
    );
    w.ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        "offimg",
        "--no-healthcheck",
        "with/health:1",
        "sleep",
        "1000",
    ]);
    assert!(w.inspect("offimg")["State"].get("Health").is_none());
}

#[test]
fn toolbox_through_the_socket_server() {
    let w = Wharf::new();
    w.detached(&["--name", "remote"], &["sleep", "1000"]);
    w.ok(&[
        "exec",
        "remote",
        "sh",
        "-c",
        "echo via-socket > /r; ln -s /etc /l",
    ]);
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("wharf.sock");
    let server = containers_support::ChildGuard(
        w.cmd(&["serve", "--socket", sock.to_str().unwrap()])
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for("the server's socket", 10 * SEC, || sock.exists());
    let host = format!("unix://{}", sock.display());
    let remote = |args: &[&str]| {
        std::process::Command::new(Wharf::exe())
            .arg("--host")
            .arg(&host)
            .args(args)
            .env_remove("WHARF_ROOT")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let o = remote(&["top", "remote"]);
    assert!(out(&o).contains("sleep 1000"), "{}", err(&o));
    let o = remote(&["diff", "remote"]);
    assert!(
        out(&o).lines().any(|l| l == "A /r"),
        "{}{}",
        out(&o),
        err(&o)
    );
    let got = dir.path().join("got");
    let o = remote(&["cp", "remote:/r", got.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert_eq!(std::fs::read_to_string(&got).unwrap(), "via-socket\n");
    let o = remote(&["cp", got.to_str().unwrap(), "remote:/l/"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(!std::path::Path::new("/etc/got").exists());
    assert_eq!(w.ok(&["exec", "remote", "cat", "/etc/got"]), "via-socket\n");
    let tar = dir.path().join("e.tar");
    let o = remote(&["export", "-o", tar.to_str().unwrap(), "remote"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(std::fs::metadata(&tar).unwrap().len() > 100_000);
    // Exec over the upgraded connection: output, exit code, stdin.
    let o = remote(&[
        "exec",
        "remote",
        "sh",
        "-c",
        "hostname; echo err >&2; exit 5",
    ]);
    assert_eq!(code(&o), 5, "{}", err(&o));
    assert_eq!(
        out(&o).trim(),
        w.inspect("remote")["Config"]["Hostname"].as_str().unwrap()
    );
    assert_eq!(err(&o), "err\n");
    drop(server);
}

/// Issue 15: export and cp of a running container of a committed image (three lower
/// layers: its own changes, the commit's layer, the base) failed with EINVAL from
/// fsconfig (the kernel takes at most 256 bytes for one value) and left an empty tar.
#[test]
fn export_and_cp_work_on_a_container_of_a_committed_image() {
    let w = Wharf::new();
    w.ok(&[
        "run",
        "--network",
        "none",
        "--name",
        "base",
        "wharf/demo",
        "sh",
        "-c",
        "echo x > /www/n",
    ]);
    w.ok(&["commit", "base", "web:1"]);
    w.ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        "web",
        "web:1",
        "sleep",
        "100",
    ]);
    w.ok(&["exec", "web", "sh", "-c", "echo y > /www/m"]);
    let tar = w.root().join("t.tar");
    w.ok(&["export", "-o", tar.to_str().unwrap(), "web"]);
    let mut names = Vec::new();
    let mut ar = tar::Archive::new(std::fs::File::open(&tar).expect("the tar"));
    for e in ar.entries().expect("entries") {
        names.push(
            e.expect("entry")
                .path()
                .expect("path")
                .display()
                .to_string(),
        );
    }
    assert!(
        names.iter().any(|n| n == "www/n"),
        "commit's layer: {names:?}"
    );
    assert!(
        names.iter().any(|n| n == "www/m"),
        "container's own: {names:?}"
    );
    assert!(names.iter().any(|n| n == "bin/busybox"), "base: {names:?}");
    // Stopped, the same container's files are reached through a writable overlay.
    w.ok(&["stop", "-t", "1", "web"]);
    let dest = w.root().join("n-copy");
    w.ok(&["cp", "web:/www/n", dest.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&dest).expect("copied"), "x\n");
    let o = w.run(&["export", "web"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(o.stdout.len() > 10_000, "a whole tar on stdout");
}
