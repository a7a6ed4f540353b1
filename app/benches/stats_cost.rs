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
//! - `STATS_COST_ROUNDS=N`: sample N rounds back to back (a 1 ms interval) instead of a
//!   minute at 1 s, and print the CPU time per round; under
//!   `valgrind --tool=callgrind` the instruction counts of `Sampler::sample_round`
//!   (and of the watcher's side, `container_stats`) per call are repeatable.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use wharf_engine::api::{StatsApi, StatsOptions};
use wharf_engine::{Caller, EngineOptions, LocalEngine};

const CONTAINERS: usize = 200;
const WATCH: Duration = Duration::from_secs(60);
/// Rounds skipped before measuring (readers opening their files).
const WARMUP: usize = 3;

fn cpu_time() -> Duration {
    let u = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF)
        .expect("getrusage");
    let t =
        |tv: nix::sys::time::TimeVal| Duration::new(tv.tv_sec() as u64, tv.tv_usec() as u32 * 1000);
    t(u.user_time()) + t(u.system_time())
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
                    "none",
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
            stats_interval: rounds_only.map(|_| Duration::from_millis(1)),
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
                cpu0 = Some((cpu_time(), Instant::now()));
            }
            match rounds_only {
                Some(n) => rounds < WARMUP + n,
                None => start.elapsed() < WATCH + Duration::from_secs(3),
            }
        })
        .expect("stats");
    let (c0, w0) = cpu0.expect("enough rounds");
    let cpu = cpu_time() - c0;
    let wall = w0.elapsed();
    let measured = (rounds - WARMUP) as f64;
    match rounds_only {
        None => println!(
            "stats sampling: {seen} containers, {rounds} rounds at 1 s: {:.3}% of one core ({:.1} ms CPU per round)",
            cpu.as_secs_f64() / wall.as_secs_f64() * 100.0,
            cpu.as_secs_f64() * 1000.0 / measured
        ),
        // Back to back, the watcher may miss a round the sampler made: this is the CPU
        // time per round the watcher saw, an upper bound of the sampler's own.
        Some(_) => println!(
            "stats sampling: {seen} containers, {} rounds back to back: {:.2} ms CPU per round seen",
            rounds - WARMUP,
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
