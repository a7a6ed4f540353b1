//! Benchmark: what the network adds to a container start, `bridge` against `none`,
//! measured in the same run, alternating. The whole benchmark first moves into a new
//! network namespace of its own, so the host's network is never touched.
//!
//! Each round starts a stand-in container (`unshare -n busybox sleep`) and times
//! `network::setup` for it (what the runtime calls between creating the init process
//! and letting it run), then `teardown` + `forget`.
//!
//! Run as root: `cargo bench -p wharf-engine --bench network_setup` (ROUNDS=n to change
//! the number of rounds, 40 by default).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use wharf_engine::api::ContainerCreate;
use wharf_engine::network::{self, ContainerNetInfo};
use wharf_engine::{EngineOptions, LocalEngine};

fn stand_in() -> std::process::Child {
    let child = Command::new("unshare")
        .args(["-n", "busybox", "sleep", "1000"])
        .stdin(Stdio::null())
        .spawn()
        .expect("starting a stand-in");
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(10);
    // Ready once unshare has exec'd busybox in its new namespace.
    let own = std::fs::read_link("/proc/thread-self/ns/net").expect("own netns");
    let ready = || {
        std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "busybox")
            && std::fs::read_link(format!("/proc/{pid}/ns/net")).is_ok_and(|n| n != own)
    };
    while !ready() {
        assert!(Instant::now() < deadline, "stand-in did not start");
        std::thread::sleep(Duration::from_millis(1));
    }
    child
}

fn stats(name: &str, v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let med = v[v.len() / 2];
    let p90 = v[(v.len() * 9 / 10).min(v.len() - 1)];
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    println!(
        "{name:<28} median {med:7.2} ms   p90 {p90:7.2} ms   mean {mean:7.2} ms   min {:7.2} ms",
        v[0]
    );
    med
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
        .expect("unshare(CLONE_NEWNET): run as root");
    let _ = Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .status();
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(40);
    let tmp = tempfile::tempdir().expect("tempdir");
    let engine =
        LocalEngine::open(tmp.path().join("root"), EngineOptions::default()).expect("engine");

    for keeper in [false, true] {
        // Phase 1: every bridge container is alone (its start creates the bridge,
        // its stop deletes it). Phase 2: another container keeps the bridge up.
        let keep = keeper.then(|| {
            let id = format!("{:064x}", 0xffff);
            std::fs::create_dir_all(engine.root().containers().join(&id)).expect("container dir");
            let child = stand_in();
            let info = ContainerNetInfo {
                name: "keeper",
                hostname: "keeper",
                exposed_ports: &[],
                by_init: false,
            };
            network::setup(
                &engine,
                &id,
                &ContainerCreate::default(),
                child.id() as i32,
                &info,
            )
            .expect("setup");
            (id, child)
        });
        run_phase(&engine, rounds, keeper);
        if let Some((id, mut child)) = keep {
            let _ = child.kill();
            let _ = child.wait();
            network::forget(&engine, &id).expect("forget");
        }
    }
}

fn run_phase(engine: &LocalEngine, rounds: usize, keeper: bool) {
    let mut times: [Vec<f64>; 4] = Default::default();
    let labels = [
        "none: setup",
        "bridge: setup",
        "none: teardown",
        "bridge: teardown",
    ];
    for i in 0..rounds * 2 {
        let bridge = i % 2 == 1;
        let id = format!("{:064x}", i + 1);
        std::fs::create_dir_all(engine.root().containers().join(&id)).expect("container dir");
        let mut child = stand_in();
        let spec = ContainerCreate {
            network: Some(if bridge { "bridge" } else { "none" }.into()),
            ..Default::default()
        };
        let info = ContainerNetInfo {
            name: "bench",
            hostname: "bench",
            exposed_ports: &[],
            by_init: false,
        };
        let t = Instant::now();
        network::setup(engine, &id, &spec, child.id() as i32, &info).expect("setup");
        let setup_ms = t.elapsed().as_secs_f64() * 1e3;
        let _ = child.kill();
        let _ = child.wait();
        let t = Instant::now();
        network::teardown(engine, &id).expect("teardown");
        network::forget(engine, &id).expect("forget");
        let down_ms = t.elapsed().as_secs_f64() * 1e3;
        let _ = std::fs::remove_dir_all(engine.root().containers().join(&id));
        if i >= 2 {
            // The first round of each mode warms caches (and creates the default network).
            times[bridge as usize].push(setup_ms);
            times[2 + bridge as usize].push(down_ms);
        }
    }
    let what = if keeper {
        "bridge kept up by another container"
    } else {
        "each bridge container alone"
    };
    println!(
        "network setup, {} rounds per mode, alternating, private netns; {what}",
        rounds - 1
    );
    let mut med = [0.0; 4];
    for k in 0..4 {
        med[k] = stats(labels[k], &mut times[k]);
    }
    println!(
        "bridge adds {:.2} ms at the median to a start (goal: at most 10 ms)",
        med[1] - med[0]
    );
}
