//! The run flags through the real `wharf` binary: what a red team found accepted is
//! refused with Docker's exit status 125 and a message naming the flag, and nothing is
//! created; values that only the engine can judge (this host's CPUs) are refused by the
//! engine the same way.

mod containers_support;

use containers_support::Wharf;

/// A CPU number this host does not have (99 unless it has that many).
fn missing_cpu() -> u32 {
    let online = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap_or_default();
    let max = online
        .trim()
        .split([',', '-'])
        .filter_map(|n| n.parse::<u32>().ok())
        .max()
        .unwrap_or(0);
    if max < 99 {
        99
    } else {
        max + 1
    }
}

fn refused(w: &Wharf, args: &[&str], flag: &str) {
    let o = w.run(args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        o.status.code(),
        Some(125),
        "wharf {args:?} should fail with 125\nstdout: {}\nstderr: {err}",
        String::from_utf8_lossy(&o.stdout)
    );
    // A short flag is looked for as `invalid -e `, not as a bare `-e`.
    let needle = if flag.len() == 2 {
        format!("invalid {flag} ")
    } else {
        flag.to_string()
    };
    assert!(
        err.contains(&needle),
        "wharf {args:?}: the message should name {flag}: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn hostile_run_flags_are_refused_and_nothing_is_created() {
    let w = Wharf::new();
    let cpu = missing_cpu().to_string();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--cpus", "1000"], "--cpus"),
        (vec!["--cpus=-1"], "--cpus"),
        (vec!["--cpus", "-1"], "--cpus"),
        (vec!["--cpus", "nan"], "--cpus"),
        (vec!["--cpus", "inf"], "--cpus"),
        (vec!["--cpus", "0"], "--cpus"),
        (vec!["--memory", "nan"], "--memory"),
        (vec!["--memory", "1e30"], "--memory"),
        (vec!["-m", "-1"], "--memory"),
        (vec!["-m", "1k"], "--memory"),
        (vec!["-p", "8080:0"], "-p"),
        (vec!["-p", "1.2.3.4.5:80:80"], "-p"),
        (vec!["-p", "8080:80/sctpx"], "-p"),
        (vec!["-p", "8080:80/sctp"], "-p"),
        (vec!["-v", "/tmp:/x:bogus"], "-v"),
        (vec!["-v", "/tmp:/x:ro,rw"], "-v"),
        (vec!["-v", "./rel:/x"], "-v"),
        (
            vec!["--mount", "type=volume,src=data,dst=/x,volume-driver=nfs"],
            "--mount",
        ),
        (vec!["--tmpfs", "/x:bogus"], "--tmpfs"),
        (vec!["-w", "rel"], "--workdir"),
        (vec!["-e", "=x"], "-e"),
        (vec!["--cpuset-cpus", &cpu], "--cpuset-cpus"),
        (vec!["--cpuset-cpus", "x"], "--cpuset-cpus"),
        (vec!["--pids-limit", "0"], "--pids-limit"),
        (vec!["--blkio-weight", "5"], "--blkio-weight"),
        (vec!["--cpu-shares", "nan"], "--cpu-shares"),
        (vec!["--shm-size", "0"], "--shm-size"),
        (vec!["--memory-swap", "-2"], "--memory-swap"),
        (vec!["--ulimit", "nofile=2:1"], "--ulimit"),
        (vec!["--restart", "always:3"], "--restart"),
        (vec!["--stop-signal", "SIGNOPE"], "--stop-signal"),
        (vec!["--stop-timeout", "-1"], "--stop-timeout"),
        (
            vec!["--health-cmd", "true", "--health-interval", "-1s"],
            "--health-interval",
        ),
        (
            vec!["--health-cmd", "true", "--health-retries", "x"],
            "--health-retries",
        ),
        (vec!["--log-opt", "compress=true"], "--log-opt"),
        (vec!["--add-host", "db:x"], "--add-host"),
        (vec!["--dns", "x"], "--dns"),
        (vec!["--hostname=-bad"], "--hostname"),
        (vec!["-l", "=x"], "--label"),
        (vec!["--expose", "0"], "--expose"),
        (vec!["--volumes-from", "web:z"], "--volumes-from"),
        (vec!["--security-opt", "apparmor=foo"], "--security-opt"),
    ];
    for (flags, name) in &cases {
        for cmd in ["run", "create"] {
            let mut args = vec![cmd, "--network", "none"];
            args.extend(flags.iter().copied());
            args.extend(["wharf/demo", "true"]);
            refused(&w, &args, name);
        }
    }
    // `update` reads its limits with the same grammar, and the engine checks the host's.
    let id = w.detached(&["--name", "upd"], &["sleep", "1000"]);
    for (flags, name) in [
        (vec!["--cpus", "nan"], "--cpus"),
        (vec!["--cpus", "1000"], "--cpus"),
        (vec!["-m", "1e30"], "--memory"),
        (vec!["--cpuset-cpus", cpu.as_str()], "--cpuset-cpus"),
        (vec![], "wharf update needs"),
    ] {
        let mut args = vec!["update"];
        args.extend(flags);
        args.push("upd");
        refused(&w, &args, name);
    }
    w.ok(&["rm", "-f", &id]);
    assert_eq!(w.ok(&["ps", "-aq"]).trim(), "", "nothing was created");
    // Usage errors (an unknown flag) exit 125 as Docker's do.
    refused(&w, &["run", "--bogus-flag", "wharf/demo"], "--bogus-flag");
}

#[test]
fn good_flags_still_run() {
    let w = Wharf::new();
    let out = w.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--cpus",
        "0.5",
        "-m",
        "64m",
        "--memory-swap",
        "-1",
        "--pids-limit",
        "-1",
        "--tmpfs",
        "/scratch:size=1m,mode=1777",
        "-w",
        "/scratch",
        "-e",
        "A=1",
        "--stop-timeout",
        "3",
        "--ulimit",
        "nofile=256:512",
        "wharf/demo",
        "sh",
        "-c",
        "echo $A; pwd; ulimit -n",
    ]);
    assert_eq!(out, "1\n/scratch\n256\n");
}
