//! The console's own CPU and memory while idle, watching running containers with the
//! engine's 1 s stats stream (goals: < 1% of one core, < 50 MB resident).
//!
//! `cargo bench -p wharf --bench console_idle` (root: it starts real containers, network
//! none). `WHARF_BENCH_CONTAINERS` (default 200) and `WHARF_BENCH_SECONDS` (default 60)
//! change the setup. The console runs in its own tmux server at 200x50; everything it
//! created is removed at the end. `WHARF_BENCH_SPLIT=0` hides the lower split first.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_wharf");

fn env_num(k: &str, d: u64) -> u64 {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

fn wharf(root: &Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .env("WHARF_ROOT", root)
        .output()
        .expect("run wharf")
}

/// (utime + stime in clock ticks, VmRSS kB, VmHWM kB) of `pid`.
fn usage(pid: u32) -> (u64, u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may contain spaces) start after ")".
    let rest = stat.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb = |k: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(k))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    (ticks, kb("VmRSS:"), kb("VmHWM:"))
}

/// Ticks per thread (by thread name and tid) of `pid`.
fn threads(pid: u32) -> std::collections::BTreeMap<(String, u32), u64> {
    let mut out = std::collections::BTreeMap::new();
    if let Ok(rd) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for e in rd.flatten() {
            let tid: u32 = e.file_name().to_string_lossy().parse().unwrap_or(0);
            let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
            let name = stat
                .split_once('(')
                .and_then(|x| x.1.rsplit_once(')'))
                .map(|x| x.0.to_string())
                .unwrap_or_default();
            let rest = stat.rsplit_once(')').map(|x| x.1).unwrap_or("");
            let f: Vec<&str> = rest.split_whitespace().collect();
            let t = f.get(11).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0)
                + f.get(12).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
            out.insert((name, tid), t);
        }
    }
    out
}

struct Cleanup<'a> {
    root: &'a Path,
    socket: String,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
        let out = wharf(self.root, &["ps", "-aq"]);
        for id in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            let _ = wharf(self.root, &["rm", "-f", id]);
        }
    }
}

fn main() {
    if !nix::unistd::geteuid().is_root() {
        println!("console_idle: skipped (needs root to run containers)");
        return;
    }
    let n = env_num("WHARF_BENCH_CONTAINERS", 200);
    let secs = env_num("WHARF_BENCH_SECONDS", 60);
    let dir = tempfile::tempdir().expect("temp root");
    let root = dir.path();
    let socket = format!("wharf-bench-{}", std::process::id());
    let _cleanup = Cleanup {
        root,
        socket: socket.clone(),
    };
    assert!(
        wharf(root, &["image", "demo"]).status.success(),
        "wharf image demo"
    );
    let t = Instant::now();
    for i in 0..n {
        let name = format!("idle-{i}");
        let o = wharf(
            root,
            &[
                "run",
                "-d",
                "--network",
                "none",
                "--name",
                &name,
                "wharf/demo:latest",
                "sleep",
                "100000",
            ],
        );
        assert!(
            o.status.success(),
            "starting {name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    println!(
        "started {n} containers in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    // Several arguments: tmux runs the console itself, not a shell.
    let root_env = format!("WHARF_ROOT={}", root.display());
    let ok = Command::new("tmux")
        .args([
            "-L",
            &socket,
            "new-session",
            "-d",
            "-x",
            "200",
            "-y",
            "50",
            "-e",
            &root_env,
            BIN,
            "--keymap",
            "default",
        ])
        .status()
        .expect("tmux");
    assert!(ok.success());
    let pid: u32 = String::from_utf8_lossy(
        &Command::new("tmux")
            .args(["-L", &socket, "display-message", "-p", "#{pane_pid}"])
            .output()
            .expect("tmux")
            .stdout,
    )
    .trim()
    .parse()
    .expect("pane pid");
    let want = format!("▲ {n} running");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let s = Command::new("tmux")
            .args(["-L", &socket, "capture-pane", "-p"])
            .output()
            .expect("tmux");
        if String::from_utf8_lossy(&s.stdout).contains(&want) {
            break;
        }
        assert!(Instant::now() < deadline, "the console never showed {want}");
        std::thread::sleep(Duration::from_millis(200));
    }
    // WHARF_BENCH_SPLIT=0: hide the lower split (the selected container's log follower).
    let split = env_num("WHARF_BENCH_SPLIT", 1) != 0;
    if !split {
        let _ = Command::new("tmux")
            .args(["-L", &socket, "send-keys", "v"])
            .status();
    }
    // Let the first stats rounds and the initial lists settle, then measure.
    std::thread::sleep(Duration::from_secs(5));
    let (t0, _, _) = usage(pid);
    let th0 = threads(pid);
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(secs));
    let (t1, rss, hwm) = usage(pid);
    let th1 = threads(pid);
    let wall = start.elapsed().as_secs_f64();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let cpu = (t1 - t0) as f64 / hz / wall * 100.0;
    let what = if split {
        "log split on"
    } else {
        "log split off"
    };
    println!("console idle for {wall:.0} s watching {n} running containers (stats every 1 s, 200x50, {what}):");
    let mut per: Vec<(f64, String)> = th1
        .iter()
        .map(|((name, tid), t)| {
            (
                (t - th0.get(&(name.clone(), *tid)).copied().unwrap_or(0)) as f64 / hz / wall
                    * 100.0,
                format!("{name}[{tid}]"),
            )
        })
        .filter(|(c, _)| *c > 0.0)
        .collect();
    per.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal));
    let top: Vec<String> = per
        .iter()
        .take(6)
        .map(|(c, n)| format!("{n} {c:.2} %"))
        .collect();
    println!("  busiest threads: {}", top.join(", "));
    println!(
        "  CPU {cpu:.2} % of one core (goal < 1 %)   RSS {:.1} MB, peak {:.1} MB (goal < 50 MB)",
        rss as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
}
