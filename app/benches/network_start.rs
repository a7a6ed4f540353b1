//! What the network adds to a container start: `wharf run -d --network bridge` against
//! `--network none` (demo image, `sleep`), in the same run, interleaved. Timed from the
//! command's start to its exit (the container is running then); removal is not timed.
//!
//! Two phases: each bridge container alone (its start creates the bridge and wharf's
//! nftables table, its removal deletes them), then with another container keeping the
//! default bridge up (the usual case on a server).
//!
//! `cargo bench -p wharf --bench network_start` (as root; ROUNDS=n, 20 by default).
//! The bench first moves itself into a network namespace of its own, so the host's
//! network is never touched. Figures are printed; nothing is asserted.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    if !nix::unistd::geteuid().is_root() {
        eprintln!("the network start bench needs root");
        return;
    }
    // SAFETY: unshare with a constant flag; this process is single-threaded here.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        eprintln!("unshare(CLONE_NEWNET) failed: run the bench as root");
        std::process::exit(1);
    }
    let _ = Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .status();
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(20);
    let wharf = env!("CARGO_BIN_EXE_wharf");
    let tmp = tempfile::Builder::new()
        .prefix("wn")
        .tempdir_in("/tmp")
        .expect("temp dir");
    let root = tmp.path().join("root");
    let run = |args: &[&str]| {
        let out = Command::new(wharf)
            .arg("--root")
            .arg(&root)
            .args(args)
            .env_remove("WHARF_ROOT")
            .stdin(Stdio::null())
            .output()
            .expect("running wharf");
        assert!(
            out.status.success(),
            "wharf {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    run(&["image", "demo"]);
    for keeper in [false, true] {
        let keep = keeper.then(|| {
            run(&[
                "run",
                "-d",
                "--name",
                "keeper",
                "wharf/demo",
                "sleep",
                "1000",
            ])
        });
        let mut none = Vec::new();
        let mut bridge = Vec::new();
        for i in 0..rounds * 2 + 2 {
            let net = if i % 2 == 0 { "none" } else { "bridge" };
            let t = Instant::now();
            let id = run(&["run", "-d", "--network", net, "wharf/demo", "sleep", "1000"]);
            let d = t.elapsed();
            run(&["rm", "-f", &id]);
            if i >= 2 {
                if net == "none" {
                    none.push(d)
                } else {
                    bridge.push(d)
                }
            }
        }
        if let Some(k) = keep {
            run(&["rm", "-f", &k]);
        }
        let (n, b) = (median(none), median(bridge));
        let what = if keeper {
            "default bridge kept up by another container"
        } else {
            "each bridge container alone"
        };
        println!("wharf run -d, {rounds} rounds per mode, interleaved, private netns; {what}");
        println!("  --network none    median {:7.2} ms", ms(n));
        println!("  --network bridge  median {:7.2} ms", ms(b));
        println!(
            "  bridge adds {:.2} ms at the median (goal: at most 10 ms)",
            ms(b) - ms(n)
        );
    }
}
