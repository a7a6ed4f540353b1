//! The Docker Engine API on wharf's socket against dockerd, the same docker CLI driving
//! both in one run: `docker run --rm --network none wharf/demo true` (interleaved), and
//! `docker ps -a` with 1000 containers on each.
//!
//! `cargo bench -p wharf --bench docker_api` (as root; needs Debian's docker.io for
//! dockerd and the docker CLI on PATH). dockerd runs inside a network namespace of its
//! own (`unshare -n`), with its own data root, `--bridge none --iptables=false`: nothing
//! can be pulled and the host's network is untouched. Figures are printed; nothing is
//! asserted. `ROUNDS` (default 20) and `PS_CONTAINERS` (default 1000) change the sizes.

#[path = "support/dockerd.rs"]
mod dockerd;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dockerd::{env_usize, median, ms, must, wait_for_socket as wait_for};

/// Processes and files of the bench, stopped and removed (by pid) however it ends.
struct Guard {
    tmp: PathBuf,
    wharf_root: PathBuf,
    children: Vec<Child>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        dockerd::remove_containers(&self.wharf_root);
        for c in &mut self.children {
            dockerd::stop_child(c);
        }
        dockerd::clear_dir(&self.tmp);
    }
}

fn docker(sock: &Path, cfg: &Path, args: &[&str]) -> std::process::Output {
    Command::new("docker")
        .args(args)
        .env("DOCKER_HOST", format!("unix://{}", sock.display()))
        .env("DOCKER_CONFIG", cfg)
        .stdin(Stdio::null())
        .output()
        .expect("running docker")
}

/// Create `n` containers through `sock`, 4 at a time.
fn fill(sock: &Path, cfg: &Path, n: usize) {
    let per = n.div_ceil(4);
    std::thread::scope(|s| {
        for t in 0..4 {
            s.spawn(move || {
                for i in (t * per)..((t + 1) * per).min(n) {
                    let name = format!("ps-{i}");
                    must(
                        docker(
                            sock,
                            cfg,
                            &[
                                "create",
                                "--name",
                                &name,
                                "--network",
                                "none",
                                "wharf/demo",
                                "true",
                            ],
                        ),
                        "docker create",
                    );
                }
            });
        }
    });
}

fn main() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("the docker_api bench needs root");
        return;
    }
    if Command::new("dockerd").arg("--version").output().is_err()
        || Command::new("docker").arg("--version").output().is_err()
    {
        eprintln!("the docker_api bench needs dockerd (Debian's docker.io) and the docker CLI");
        return;
    }
    let rounds = env_usize("ROUNDS", 20);
    let ps_n = env_usize("PS_CONTAINERS", 1000);
    let tmp = tempfile::Builder::new()
        .prefix("wdock")
        .tempdir_in("/tmp")
        .expect("temp dir")
        .keep();
    let wharf_root = tmp.join("wharf");
    let mut g = Guard {
        tmp: tmp.clone(),
        wharf_root: wharf_root.clone(),
        children: vec![],
    };
    let cfg = tmp.join("dockercfg");
    std::fs::create_dir_all(&cfg).expect("docker config dir");
    let wharf = env!("CARGO_BIN_EXE_wharf");
    must(
        Command::new(wharf)
            .arg("--root")
            .arg(&wharf_root)
            .args(["image", "demo"])
            .output()
            .expect("wharf image demo"),
        "wharf image demo",
    );
    let archive = tmp.join("demo.tar");
    must(
        Command::new(wharf)
            .arg("--root")
            .arg(&wharf_root)
            .args(["save", "-o"])
            .arg(&archive)
            .arg("wharf/demo")
            .output()
            .expect("wharf save"),
        "wharf save",
    );
    let wsock = tmp.join("wharf.sock");
    g.children.push(
        Command::new(wharf)
            .arg("--root")
            .arg(&wharf_root)
            .args(["serve", "--socket"])
            .arg(&wsock)
            .stderr(Stdio::null())
            .spawn()
            .expect("wharf serve"),
    );
    let dsock = tmp.join("docker.sock");
    g.children
        .push(dockerd::spawn(&tmp, &dsock).expect("dockerd"));
    wait_for(&wsock, "wharf serve");
    wait_for(&dsock, "dockerd");
    must(
        docker(
            &dsock,
            &cfg,
            &["load", "-i", &archive.display().to_string()],
        ),
        "docker load into dockerd",
    );
    let run = ["run", "--rm", "--network", "none", "wharf/demo", "true"];
    // Warm both (first runs fill caches).
    for sock in [&wsock, &dsock] {
        for _ in 0..2 {
            must(docker(sock, &cfg, &run), "warm-up run");
        }
    }
    let (mut tw, mut td) = (Vec::new(), Vec::new());
    for i in 0..rounds {
        let order: [(&Path, &mut Vec<Duration>); 2] = if i % 2 == 0 {
            [(&wsock, &mut tw), (&dsock, &mut td)]
        } else {
            [(&dsock, &mut td), (&wsock, &mut tw)]
        };
        for (sock, times) in order {
            let t = Instant::now();
            must(docker(sock, &cfg, &run), "docker run --rm");
            times.push(t.elapsed());
        }
    }
    let (mw, md) = (median(tw), median(td));
    println!(
        "docker run --rm --network none wharf/demo true, median of {rounds} interleaved: wharf {:.1} ms, dockerd 20.10 {:.1} ms ({:.1}x faster)",
        ms(mw),
        ms(md),
        md.as_secs_f64() / mw.as_secs_f64()
    );
    // docker ps -a with ps_n containers on each.
    let t = Instant::now();
    fill(&wsock, &cfg, ps_n);
    let fill_w = t.elapsed();
    let t = Instant::now();
    fill(&dsock, &cfg, ps_n);
    let fill_d = t.elapsed();
    let (mut pw, mut pd) = (Vec::new(), Vec::new());
    for i in 0..15 {
        let order: [(&Path, &mut Vec<Duration>); 2] = if i % 2 == 0 {
            [(&wsock, &mut pw), (&dsock, &mut pd)]
        } else {
            [(&dsock, &mut pd), (&wsock, &mut pw)]
        };
        for (sock, times) in order {
            let t = Instant::now();
            let out = must(docker(sock, &cfg, &["ps", "-a"]), "docker ps -a");
            times.push(t.elapsed());
            assert!(
                out.lines().count() > ps_n,
                "ps listed {} lines",
                out.lines().count()
            );
        }
    }
    println!(
        "docker ps -a with {ps_n} containers, median of 15 interleaved: wharf {:.1} ms, dockerd 20.10 {:.1} ms (creating them, 4 clients at once: wharf {:.1} s, dockerd {:.1} s)",
        ms(median(pw)),
        ms(median(pd)),
        fill_w.as_secs_f64(),
        fill_d.as_secs_f64()
    );
    // The docker CLI's own start-up, for reference: `docker version` against wharf.
    let mut v = Vec::new();
    for _ in 0..10 {
        let t = Instant::now();
        must(docker(&wsock, &cfg, &["version"]), "docker version");
        v.push(t.elapsed());
    }
    println!(
        "docker version against wharf (the CLI's own cost per command): median {:.1} ms",
        ms(median(v))
    );
    drop(g);
}
