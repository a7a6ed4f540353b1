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
    let f: Vec<u64> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    // After ')' : state is skipped by the parse filter, so utime/stime are f[10], f[11].
    (f[10] + f[11]) * 10_000_000
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

    let s = sample(&w, &["burn", "idle"]);
    assert_eq!(s.len(), 2);
    let (burn, idle) = (&s[0], &s[1]);
    assert_eq!(burn["name"], "/burn");
    let (b, i) = (cpu_percent(burn), cpu_percent(idle));
    // The busy loop takes what CPU the machine gives it; the idle one takes none. The
    // figures come from the container's cgroup: check them against the kernel's own
    // accounting of the container's process.
    assert!(b > 20.0, "busy container CPU {b:.1}%");
    assert!(i < 2.0, "idle container CPU {i:.1}%");
    let pid = w.inspect("burn")["State"]["Pid"].as_i64().unwrap();
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
