//! Engine CPU cost of sampling 200 running containers at 1 s: the sampler (one thread
//! reading every container's cgroup and network counters) runs for a minute in this
//! process while `wharf stats`-style watching is on; its CPU time comes from getrusage.
//!
//! `cargo bench -p wharf --bench stats_cost` (as root). Figures are printed.

use std::process::Command;
use std::time::{Duration, Instant};

use wharf_engine::api::{StatsApi, StatsOptions};
use wharf_engine::{Caller, EngineOptions, LocalEngine};

const CONTAINERS: usize = 200;
const WATCH: Duration = Duration::from_secs(60);

fn cpu_time() -> Duration {
    let u = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF)
        .expect("getrusage");
    let t =
        |tv: nix::sys::time::TimeVal| Duration::new(tv.tv_sec() as u64, tv.tv_usec() as u32 * 1000);
    t(u.user_time()) + t(u.system_time())
}

fn main() {
    let dir = tempfile::Builder::new()
        .prefix("wbench")
        .tempdir_in("/tmp")
        .expect("tempdir");
    let root = dir.path();
    let exe = env!("CARGO_BIN_EXE_wharf");
    let wharf = |args: &[&str]| {
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
    };
    wharf(&["image", "demo"]);
    let t0 = Instant::now();
    for i in 0..CONTAINERS {
        wharf(&[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            &format!("s{i}"),
            "wharf/demo",
            "sleep",
            "100000",
        ]);
    }
    eprintln!(
        "started {CONTAINERS} containers in {:.1} s",
        t0.elapsed().as_secs_f64()
    );

    let engine = LocalEngine::open(
        root,
        EngineOptions {
            wharf_exe: Some(exe.into()),
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
            // Skip the first rounds (readers opening their files), then measure.
            if rounds == 3 {
                cpu0 = Some((cpu_time(), Instant::now()));
            }
            start.elapsed() < WATCH + Duration::from_secs(3)
        })
        .expect("stats");
    let (c0, w0) = cpu0.expect("enough rounds");
    let cpu = cpu_time() - c0;
    let wall = w0.elapsed();
    println!(
        "stats sampling: {seen} containers, {} rounds at 1 s: {:.3}% of one core ({:.1} ms CPU per round)",
        rounds,
        cpu.as_secs_f64() / wall.as_secs_f64() * 100.0,
        cpu.as_secs_f64() * 1000.0 / (rounds - 3) as f64
    );
    for i in 0..CONTAINERS {
        let _ = Command::new(exe)
            .arg("--root")
            .arg(root)
            .args(["rm", "-f", &format!("s{i}")])
            .output();
    }
}
