//! `wharf ps -a` with 1000 containers, as typed (a process that starts cold and lists
//! from the engine's summary file, checked against the containers' directories),
//! against `docker ps -a` with as many on a dockerd of its own, in the same run,
//! interleaved. With `WHARF_BASE_BIN=/path/to/an/older/wharf` that binary is timed on
//! the same root too (before/after in one run).
//!
//! `cargo bench -p wharf --bench ps` (as root for dockerd; `PS_CONTAINERS` (1000) and
//! `ROUNDS` (15) change the sizes). The containers are made through the engine (the
//! files `wharf create` writes); dockerd's through its API. Figures are printed with
//! the load; nothing is asserted.

#[path = "support/dockerd.rs"]
mod dockerd;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dockerd::{env_usize, load, make_root, median, ms, Dockerd};

const BIN: &str = env!("CARGO_BIN_EXE_wharf");

fn timed(cmd: &mut Command, n: usize, what: &str) -> Duration {
    let t = Instant::now();
    let o = cmd.stdin(Stdio::null()).output().expect(what);
    let d = t.elapsed();
    assert!(
        o.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let lines = o.stdout.iter().filter(|b| **b == b'\n').count();
    assert!(lines > n, "{what} listed {lines} lines, not {n} containers");
    d
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let n = env_usize("PS_CONTAINERS", 1000);
    let rounds = env_usize("ROUNDS", 15);
    let tmp = tempfile::Builder::new()
        .prefix("wps")
        .tempdir_in("/tmp")
        .expect("temp dir");
    let root = tmp.path().join("root");
    let took = make_root(&root, n, "ps-");
    println!(
        "made {n} containers in {:.1} s (load {})",
        took.as_secs_f64(),
        load()
    );
    let mut bins: Vec<(String, String)> = vec![("wharf".into(), BIN.into())];
    if let Ok(b) = std::env::var("WHARF_BASE_BIN") {
        bins.push((format!("wharf ({b})"), b));
    }
    let docker = if nix::unistd::geteuid().is_root() {
        Dockerd::start(&tmp.path().join("docker"))
    } else {
        println!("(not root: no dockerd, docker's figure is left out)");
        None
    };
    if let Some(d) = &docker {
        let archive = tmp.path().join("demo.tar");
        let o = Command::new(BIN)
            .arg("--root")
            .arg(&root)
            .args(["save", "-o"])
            .arg(&archive)
            .arg("wharf/demo")
            .output()
            .expect("wharf save");
        assert!(o.status.success(), "wharf save");
        d.load(&archive);
        let t = Instant::now();
        d.create_many(n, "wharf/demo", "ps-");
        println!(
            "dockerd made {n} containers in {:.1} s",
            t.elapsed().as_secs_f64()
        );
    }
    let wharf_ps = |bin: &str| {
        let mut c = Command::new(bin);
        c.arg("--root").arg(&root).args(["ps", "-a"]);
        c
    };
    // The first listing after the containers were made (re)builds the summary file;
    // timed apart, then with the file gone (a stale or damaged one costs the same).
    let first = timed(&mut wharf_ps(BIN), n, "wharf ps -a");
    let _ = std::fs::remove_file(root.join("run/containers.summary"));
    let rebuild = timed(&mut wharf_ps(BIN), n, "wharf ps -a");
    println!(
        "wharf ps -a building the summary file: first {:.1} ms, again without it {:.1} ms",
        ms(first),
        ms(rebuild)
    );
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); bins.len() + 1];
    for r in 0..rounds {
        let k = bins.len() + usize::from(docker.is_some());
        for j in 0..k {
            let i = (j + r) % k;
            let d = if i < bins.len() {
                timed(&mut wharf_ps(&bins[i].1), n, "wharf ps -a")
            } else if let Some(d) = &docker {
                let t = Instant::now();
                let o = d.docker(&["ps", "-a"]);
                let e = t.elapsed();
                assert!(o.status.success(), "docker ps -a");
                e
            } else {
                continue;
            };
            times[i].push(d);
        }
    }
    println!(
        "ps -a with {n} containers, median of {rounds}, interleaved (load {}):",
        load()
    );
    for (i, (name, _)) in bins.iter().enumerate() {
        println!(
            "  {name:<40} {:7.1} ms (goal < 10 ms)",
            ms(median(times[i].clone()))
        );
    }
    if docker.is_some() {
        println!(
            "  {:<40} {:7.1} ms",
            "docker ps -a (dockerd)",
            ms(median(times[bins.len()].clone()))
        );
    }
    drop(docker);
}
