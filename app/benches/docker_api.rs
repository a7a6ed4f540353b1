//! The Docker Engine API on wharf's socket against dockerd, the same docker CLI driving
//! both in one run: `docker run --rm --network none wharf/demo true` (interleaved), and
//! `docker ps -a` with 1000 containers on each; and the same docker CLI against a
//! stand-in daemon that answers at once (`support/instant_daemon.rs`), the CLI's own
//! share that no daemon can take away.
//!
//! `cargo bench -p wharf --bench docker_api` (as root; needs Debian's docker.io for
//! dockerd and the docker CLI on PATH). dockerd runs inside a network namespace of its
//! own (`unshare -n`), with its own data root, `--bridge none --iptables=false`: nothing
//! can be pulled and the host's network is untouched. Figures are printed; nothing is
//! asserted. `ROUNDS` (default 20) and `PS_CONTAINERS` (default 1000) change the sizes.

#[path = "support/dockerd.rs"]
mod dockerd;
#[path = "support/instant_daemon.rs"]
mod instant_daemon;

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
    // The docker CLI's own share: the same command against a stand-in daemon that
    // answers at once (nothing runs), in the same interleaved rounds.
    let isock = tmp.join("instant.sock");
    instant_daemon::serve(&isock, b"[]".to_vec()).expect("instant daemon");
    must(docker(&isock, &cfg, &run), "run against the instant daemon");
    let (mut tw, mut td, mut ti) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..rounds {
        let mut order: [(&Path, &mut Vec<Duration>); 3] =
            [(&wsock, &mut tw), (&dsock, &mut td), (&isock, &mut ti)];
        order.rotate_left(i % 3);
        for (sock, times) in order {
            let t = Instant::now();
            must(docker(sock, &cfg, &run), "docker run --rm");
            times.push(t.elapsed());
        }
    }
    let (mw, md, mi) = (median(tw), median(td), median(ti));
    println!(
        "docker run --rm --network none wharf/demo true, median of {rounds} interleaved: wharf {:.1} ms, dockerd 20.10 {:.1} ms ({:.1}x faster); the docker CLI alone against a daemon that answers at once: {:.1} ms (the most any daemon can be faster than dockerd: {:.1}x)",
        ms(mw),
        ms(md),
        md.as_secs_f64() / mw.as_secs_f64(),
        ms(mi),
        md.as_secs_f64() / mi.as_secs_f64()
    );
    // docker ps -a with ps_n containers on each.
    let t = Instant::now();
    fill(&wsock, &cfg, ps_n);
    let fill_w = t.elapsed();
    let t = Instant::now();
    fill(&dsock, &cfg, ps_n);
    let fill_d = t.elapsed();
    // The stand-in answers wharf's own listing, so the CLI decodes the same rows.
    let psock = tmp.join("instant-ps.sock");
    let rows =
        instant_daemon::get_body(&wsock, "/v1.45/containers/json?all=1").expect("wharf's listing");
    instant_daemon::serve(&psock, rows).expect("instant daemon");
    let (mut pw, mut pd, mut pi) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..15 {
        let mut order: [(&Path, &mut Vec<Duration>); 3] =
            [(&wsock, &mut pw), (&dsock, &mut pd), (&psock, &mut pi)];
        order.rotate_left(i % 3);
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
        "docker ps -a with {ps_n} containers, median of 15 interleaved: wharf {:.1} ms, dockerd 20.10 {:.1} ms, the docker CLI alone against a daemon that answers wharf's rows at once {:.1} ms (creating them, 4 clients at once: wharf {:.1} s, dockerd {:.1} s)",
        ms(median(pw)),
        ms(median(pd)),
        ms(median(pi)),
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
