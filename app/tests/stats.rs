//! `wharf stats` on real containers: CPU of a busy container against an idle one,
//! memory that grows when a container allocates, the pids count.

mod containers_support;

use std::time::Duration;

use containers_support::{wait_for, Wharf};

fn sample(w: &Wharf, names: &[&str]) -> Vec<serde_json::Value> {
    let mut args = vec!["stats", "--no-stream", "--format", "json"];
    args.extend_from_slice(names);
    w.ok(&args)
        .lines()
        .map(|l| serde_json::from_str(l).expect("stats JSON"))
        .collect()
}

fn cpu_percent(s: &serde_json::Value) -> f64 {
    let cpu = s["cpu_stats"]["cpu_usage"]["total_usage"].as_f64().unwrap()
        - s["precpu_stats"]["cpu_usage"]["total_usage"]
            .as_f64()
            .unwrap();
    let sys = s["cpu_stats"]["system_cpu_usage"].as_f64().unwrap()
        - s["precpu_stats"]["system_cpu_usage"].as_f64().unwrap();
    if sys > 0.0 {
        cpu / sys * s["cpu_stats"]["online_cpus"].as_f64().unwrap() * 100.0
    } else {
        0.0
    }
}

fn mem_usage(s: &serde_json::Value) -> u64 {
    let usage = s["memory_stats"]["usage"].as_u64().unwrap();
    let st = &s["memory_stats"]["stats"];
    let inactive = st["total_inactive_file"]
        .as_u64()
        .or(st["inactive_file"].as_u64())
        .unwrap_or(0);
    usage - inactive.min(usage)
}

/// Host CPU time used by a process and its reaped children, in nanoseconds.
fn proc_cpu_ns(pid: i64) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // After the command name: state ppid pgrp session tty_nr tpgid flags minflt cminflt
    // majflt cmajflt utime stime ...
    let f: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    (f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()) * 10_000_000
}

#[test]
fn stats_follow_what_containers_do() {
    let w = Wharf::new();
    w.detached(&["--name", "burn"], &["sh", "-c", "while :; do :; done"]);
    w.detached(&["--name", "idle"], &["sleep", "1000"]);
    w.detached(
        &["--name", "forks"],
        &["sh", "-c", "sleep 1000 & sleep 1000 & wait"],
    );
    // `grow` allocates 40 MB once the test creates a file in a bind-mounted directory.
    let trigger = tempfile::tempdir().unwrap();
    let bind = format!("{}:/trigger", trigger.path().display());
    w.detached(
        &["--name", "grow", "-v", &bind],
        &["sh", "-c", "while [ ! -e /trigger/go ]; do sleep 0.1; done; x=$(head -c 40000000 /dev/zero | tr '\\0' a); sleep 1000 & wait"],
    );

    // The busy loop takes what CPU the machine gives it (all of a CPU on an idle
    // machine, less on a loaded one); the idle container takes none. Check the stats'
    // CPU % against the kernel's own accounting of the busy process over the same window.
    let pid = w.inspect("burn")["State"]["Pid"].as_i64().unwrap();
    let (cpu0, t0) = (proc_cpu_ns(pid), std::time::Instant::now());
    let s = sample(&w, &["burn", "idle"]);
    let (cpu1, t1) = (proc_cpu_ns(pid), std::time::Instant::now());
    assert_eq!(s.len(), 2);
    let (burn, idle) = (&s[0], &s[1]);
    assert_eq!(burn["name"], "/burn");
    let (b, i) = (cpu_percent(burn), cpu_percent(idle));
    let used = (cpu1 - cpu0) as f64 / (t1 - t0).as_nanos() as f64 * 100.0;
    assert!(
        b > 5.0 && i < 2.0,
        "busy container CPU {b:.1}%, idle {i:.1}%"
    );
    assert!(
        (b - used).abs() < 25.0,
        "stats say {b:.1}% but the process used {used:.1}% of a CPU"
    );
    let cg = burn["cpu_stats"]["cpu_usage"]["total_usage"]
        .as_u64()
        .unwrap();
    let own = proc_cpu_ns(pid);
    assert!(
        cg <= own + 1_500_000_000 && cg + 1_500_000_000 >= own,
        "cgroup {cg} ns vs process {own} ns"
    );

    let f = &sample(&w, &["forks"])[0];
    wait_for("three processes in forks", Duration::from_secs(10), || {
        sample(&w, &["forks"])[0]["pids_stats"]["current"] == 3
    });
    assert!(f["pids_stats"]["current"].as_u64().unwrap() >= 1);

    let before = mem_usage(&sample(&w, &["grow"])[0]);
    std::fs::write(trigger.path().join("go"), b"").unwrap();
    wait_for("memory to grow by 40 MB", Duration::from_secs(20), || {
        mem_usage(&sample(&w, &["grow"])[0]) > before + 35_000_000
    });

    // A stopped container shows zeros with -a and is absent without it.
    w.ok(&["stop", "-t", "0", "idle"]);
    let all = w.ok(&["stats", "--no-stream", "-a"]);
    assert!(all.contains("idle") && all.contains("0.00%"), "{all}");
    let running = w.ok(&["stats", "--no-stream"]);
    assert!(!running.contains("idle"), "{running}");
}
