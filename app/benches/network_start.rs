//! What the network adds to a container start: `--network bridge` against
//! `--network none` (demo image), in the same run, interleaved, timed from the
//! command's start to its exit.
//!
//! Three phases:
//! - `wharf run --rm IMG true` with `WHARF_BRIDGE_GRACE=0`: the bridge and wharf's
//!   nftables table are made and removed around each run (what every run paid before
//!   the grace period);
//! - the same as it is used: the bridge and the table stay up for the grace period
//!   between runs (`WHARF_BRIDGE_GRACE`, 30 s by default);
//! - `wharf run -d ... sleep` with another container keeping the default bridge up
//!   (removal not timed).
//!
//! `cargo bench -p wharf --bench network_start` (as root; ROUNDS=n, 20 by default).
//! The bench first moves itself into a network namespace of its own, so the host's
//! network is never touched. Figures are printed with the load; nothing is asserted.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
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
    let wharf = std::env::var("WHARF_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_wharf").into());
    let tmp = tempfile::Builder::new()
        .prefix("wn")
        .tempdir_in("/tmp")
        .expect("temp dir");
    let root = tmp.path().join("root");
    let run = |grace: &str, args: &[&str]| {
        let out = Command::new(&wharf)
            .arg("--root")
            .arg(&root)
            .args(args)
            .env_remove("WHARF_ROOT")
            .env("WHARF_BRIDGE_GRACE", grace)
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
    run("30", &["image", "demo"]);
    // The made-and-removed phase first: after a run with a grace period the bridge
    // stays up for that long.
    for (grace, what) in [
        (
            "0",
            "bridge and nft table made and removed by each run (WHARF_BRIDGE_GRACE=0)",
        ),
        ("30", "bridge kept up between runs (grace period)"),
    ] {
        let mut none = Vec::new();
        let mut bridge = Vec::new();
        for i in 0..rounds * 2 + 2 {
            let net = if i % 2 == 0 { "none" } else { "bridge" };
            let t = Instant::now();
            run(
                grace,
                &["run", "--rm", "--network", net, "wharf/demo", "true"],
            );
            let d = t.elapsed();
            if i >= 2 {
                if net == "none" {
                    none.push(d)
                } else {
                    bridge.push(d)
                }
            }
        }
        let (n, b) = (median(none), median(bridge));
        println!("wharf run --rm IMG true, {rounds} rounds per mode, interleaved, private netns; {what} (load {})", load());
        println!("  --network none    median {:7.2} ms", ms(n));
        println!("  --network bridge  median {:7.2} ms", ms(b));
        println!(
            "  bridge adds {:.2} ms at the median (goal: at most 10 ms)",
            ms(b) - ms(n)
        );
    }
    let keep = run(
        "30",
        &[
            "run",
            "-d",
            "--name",
            "keeper",
            "wharf/demo",
            "sleep",
            "1000",
        ],
    );
    let mut none = Vec::new();
    let mut bridge = Vec::new();
    for i in 0..rounds * 2 + 2 {
        let net = if i % 2 == 0 { "none" } else { "bridge" };
        let t = Instant::now();
        let id = run(
            "30",
            &["run", "-d", "--network", net, "wharf/demo", "sleep", "1000"],
        );
        let d = t.elapsed();
        run("30", &["rm", "-f", &id]);
        if i >= 2 {
            if net == "none" {
                none.push(d)
            } else {
                bridge.push(d)
            }
        }
    }
    run("0", &["rm", "-f", &keep]);
    let (n, b) = (median(none), median(bridge));
    println!(
        "wharf run -d, {rounds} rounds per mode, interleaved, private netns; default bridge kept up by another container (load {})",
        load()
    );
    println!("  --network none    median {:7.2} ms", ms(n));
    println!("  --network bridge  median {:7.2} ms", ms(b));
    println!(
        "  bridge adds {:.2} ms at the median (goal: at most 10 ms)",
        ms(b) - ms(n)
    );
}
