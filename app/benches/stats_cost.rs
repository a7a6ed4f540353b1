//! Engine CPU cost of sampling 200 running containers at 1 s: the sampler (one thread
//! reading every container's cgroup and network counters) runs for a minute in this
//! process while `wharf stats`-style watching is on; its CPU time comes from getrusage.
//!
//! `cargo bench -p wharf --bench stats_cost` (as root). Figures are printed.
//!
//! For profiling, environment variables change what it does:
//! - `STATS_COST_ROOT=DIR`: use the containers already running in the state root DIR
//!   (made by an earlier run with `STATS_COST_KEEP=1`) instead of starting 200;
//! - `STATS_COST_KEEP=1`: leave the containers running and their state root in place;
//! - `STATS_COST_ROUNDS=N`: sample N rounds at a short interval (20 ms) instead of a
//!   minute at 1 s, and print the CPU time per round; under `valgrind --tool=callgrind`
//!   the instruction counts per call of the sampler's parts (`Sampler::round`,
//!   `Reader::sample` per container) and of the watcher's (`Sampler::next_batch`) are
//!   repeatable;
//! - `STATS_COST_NETWORK=bridge`: start the containers on the default bridge network
//!   (each then has an interface whose counters are read every round) instead of
//!   `--network none`; the bench first moves into a network namespace of its own, so
//!   the host's network is not touched.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use wharf_engine::api::{StatsApi, StatsOptions};
use wharf_engine::{Caller, EngineOptions, LocalEngine};

const CONTAINERS: usize = 200;
const WATCH: Duration = Duration::from_secs(60);
/// The interval with `STATS_COST_ROUNDS`: short, with time left for the watcher.
const SHORT: Duration = Duration::from_millis(20);
/// Rounds skipped before measuring (readers opening their files).
const WARMUP: usize = 3;

/// User and system CPU time of this process so far.
fn cpu_times() -> (Duration, Duration) {
    let u = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF)
        .expect("getrusage");
    let t =
        |tv: nix::sys::time::TimeVal| Duration::new(tv.tv_sec() as u64, tv.tv_usec() as u32 * 1000);
    (t(u.user_time()), t(u.system_time()))
}

fn wharf(exe: &str, root: &Path, args: &[&str]) -> String {
    let o = Command::new(exe)
        .arg("--root")
        .arg(root)
        .args(args)
        .output()
        .expect("wharf");
    assert!(
        o.status.success(),
        "wharf {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn main() {
    let exe = env!("CARGO_BIN_EXE_wharf");
    let keep = std::env::var_os("STATS_COST_KEEP").is_some();
    let rounds_only: Option<usize> = std::env::var("STATS_COST_ROUNDS")
        .ok()
        .map(|n| n.parse().expect("STATS_COST_ROUNDS is a number"));
    let given = std::env::var_os("STATS_COST_ROOT").map(PathBuf::from);
    let network = std::env::var("STATS_COST_NETWORK").unwrap_or_else(|_| "none".into());
    if network != "none" && given.is_none() {
        // SAFETY: unshare with a constant flag; this process is single-threaded here.
        if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
            eprintln!("unshare(CLONE_NEWNET) failed: run the bench as root");
            std::process::exit(1);
        }
        let _ = Command::new("ip")
            .args(["link", "set", "lo", "up"])
            .status();
    }
    let mut tmp = None;
    let root: PathBuf = match &given {
        Some(r) => r.clone(),
        None => {
            let dir = tempfile::Builder::new()
                .prefix("wbench")
                .tempdir_in("/tmp")
                .expect("tempdir");
            let p = dir.path().to_path_buf();
            tmp = Some(dir);
            p
        }
    };
    if given.is_none() {
        wharf(exe, &root, &["image", "demo"]);
        let t0 = Instant::now();
        for i in 0..CONTAINERS {
            wharf(
                exe,
                &root,
                &[
                    "run",
                    "-d",
                    "--network",
                    &network,
                    "--name",
                    &format!("s{i}"),
                    "wharf/demo",
                    "sleep",
                    "100000",
                ],
            );
        }
        eprintln!(
            "started {CONTAINERS} containers in {:.1} s",
            t0.elapsed().as_secs_f64()
        );
    }

    let engine = LocalEngine::open(
        &root,
        EngineOptions {
            wharf_exe: Some(exe.into()),
            stats_interval: rounds_only.map(|_| SHORT),
            ..Default::default()
        },
    )
    .expect("open");
    let caller = Caller::root();
    let opts = StatsOptions {
        stream: true,
        all: false,
    };
    let start = Instant::now();
    let mut cpu0 = None;
    let mut rounds = 0;
    let mut seen = 0;
    engine
        .container_stats(&caller, &[], &opts, &mut |batch| {
            rounds += 1;
            seen = batch.len();
            if rounds == WARMUP {
                cpu0 = Some((cpu_times(), Instant::now()));
            }
            match rounds_only {
                Some(n) => rounds < WARMUP + n,
                None => start.elapsed() < WATCH + Duration::from_secs(3),
            }
        })
        .expect("stats");
    let ((u0, s0), w0) = cpu0.expect("enough rounds");
    let (u1, s1) = cpu_times();
    let (user, sys) = (u1 - u0, s1 - s0);
    let cpu = user + sys;
    let wall = w0.elapsed();
    let measured = (rounds - WARMUP) as f64;
    let split = format!(
        "user {:.1} ms + system {:.1} ms per round",
        user.as_secs_f64() * 1000.0 / measured,
        sys.as_secs_f64() * 1000.0 / measured
    );
    match rounds_only {
        None => println!(
            "stats sampling: {seen} containers, {rounds} rounds at 1 s: {:.3}% of one core ({:.1} ms CPU per round: {split})",
            cpu.as_secs_f64() / wall.as_secs_f64() * 100.0,
            cpu.as_secs_f64() * 1000.0 / measured
        ),
        Some(_) => println!(
            "stats sampling: {seen} containers, {} rounds at {} ms: {:.2} ms CPU per round ({split})",
            rounds - WARMUP,
            SHORT.as_millis(),
            cpu.as_secs_f64() * 1000.0 / measured
        ),
    }
    if keep {
        if let Some(d) = tmp.take() {
            let p = d.keep();
            eprintln!("containers left running; state root {}", p.display());
        }
        return;
    }
    if given.is_none() {
        for i in 0..CONTAINERS {
            let _ = Command::new(exe)
                .arg("--root")
                .arg(&root)
                .args(["rm", "-f", &format!("s{i}")])
                .output();
        }
    }
}
