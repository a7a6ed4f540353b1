//! Building images: wharf's builder against Docker 20.10's classic builder, from one run.
//!
//! - a rebuild of an unchanged 10-instruction Dockerfile, everything from the cache
//!   (`wharf build` end to end, and the engine call alone); goal under 50 ms;
//! - a first build (`--no-cache`) of a Dockerfile with 5 RUN steps, wharf and
//!   `DOCKER_BUILDKIT=0 docker build` on dockerd interleaved; goal at least 3x faster.
//!
//! dockerd runs inside a network namespace of its own (`unshare -n`) with its own data
//! root, exec root and socket, `--bridge none --iptables=false`; the base image is
//! wharf's demo image loaded into it, so nothing is pulled. Needs root; the docker side
//! is skipped without dockerd. `cargo bench -p wharf --bench build` (ROUNDS=N).

#[path = "support/dockerd.rs"]
mod dockerd;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dockerd::{median, ms, must};
use wharf_engine::api::{BuildApi, BuildContext, BuildOptions};
use wharf_engine::{Caller, EngineOptions, LocalEngine};

const TEN: &str = "FROM wharf/demo
ARG V=1
ENV A=1 B=2
LABEL bench=yes
WORKDIR /app
COPY a.txt ./
COPY dir /app/dir/
RUN echo $V > /app/v.txt
EXPOSE 8080
USER app
CMD [\"sh\"]
";

const FIVE_RUNS: &str = "FROM wharf/demo
RUN echo one > /one
RUN echo two > /two && cat /one
RUN mkdir -p /data && seq 1 1000 > /data/numbers
RUN wc -l /data/numbers > /count
RUN rm /one && ls / > /list
";

struct Guard {
    tmp: PathBuf,
    dockerd: Option<Child>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(c) = &mut self.dockerd {
            dockerd::stop_child(c);
        }
        dockerd::clear_dir(&self.tmp);
    }
}

fn wharf(root: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_wharf"))
        .arg("--root")
        .arg(root)
        .args(args)
        .env_remove("WHARF_ROOT")
        .stdin(Stdio::null())
        .output()
        .expect("wharf")
}

fn docker(sock: &Path, cfg: &Path, args: &[&str]) -> std::process::Output {
    Command::new("docker")
        .args(args)
        .env("DOCKER_HOST", format!("unix://{}", sock.display()))
        .env("DOCKER_CONFIG", cfg)
        .env("DOCKER_BUILDKIT", "0")
        .stdin(Stdio::null())
        .output()
        .expect("docker")
}

fn main() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("the build bench needs root");
        return;
    }
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let tmp = tempfile::Builder::new()
        .prefix("wbench")
        .tempdir_in("/tmp")
        .expect("tmp")
        .keep();
    let mut g = Guard {
        tmp: tmp.clone(),
        dockerd: None,
    };
    let root = tmp.join("wharf");
    must(wharf(&root, &["image", "demo"]), "wharf image demo");
    let ten = tmp.join("ten");
    std::fs::create_dir_all(ten.join("dir")).expect("ctx");
    std::fs::write(ten.join("Dockerfile"), TEN).expect("ctx");
    std::fs::write(ten.join("a.txt"), "a\n").expect("ctx");
    std::fs::write(ten.join("dir/b.txt"), "b\n").expect("ctx");
    let five = tmp.join("five");
    std::fs::create_dir_all(&five).expect("ctx");
    std::fs::write(five.join("Dockerfile"), FIVE_RUNS).expect("ctx");

    // 1. The cached rebuild.
    let ten_s = ten.display().to_string();
    must(
        wharf(
            &root,
            &["build", "--progress", "plain", "-t", "ten", &ten_s],
        ),
        "first build of ten",
    );
    let mut cli = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let o = wharf(&root, &["build", "-q", "-t", "ten", &ten_s]);
        cli.push(t.elapsed());
        must(o, "cached rebuild");
    }
    let eng = LocalEngine::open(
        &root,
        EngineOptions {
            wharf_exe: Some(env!("CARGO_BIN_EXE_wharf").into()),
            ..Default::default()
        },
    )
    .expect("engine");
    let caller = Caller::root();
    let opts = BuildOptions {
        tags: vec!["ten".into()],
        ..Default::default()
    };
    let mut call = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let r = eng
            .image_build(&caller, &opts, BuildContext::Dir(ten.clone()), &mut |_| {
                true
            })
            .expect("cached build");
        call.push(t.elapsed());
        assert_eq!(r.cached, 10, "every step from the cache");
    }
    println!(
        "cached rebuild of a 10-instruction Dockerfile, median of 20: wharf build {:.1} ms end to end, {:.1} ms in the engine (goal under 50 ms)",
        ms(median(cli)),
        ms(median(call))
    );

    // 2. First builds of 5 RUN steps against dockerd 20.10.
    let has_docker = Command::new("dockerd")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
        && Command::new("docker")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
    let five_s = five.display().to_string();
    let wharf_first = || {
        let t = Instant::now();
        must(
            wharf(&root, &["build", "-q", "--no-cache", "-t", "five", &five_s]),
            "wharf first build",
        );
        t.elapsed()
    };
    if !has_docker {
        let tw: Vec<Duration> = (0..rounds).map(|_| wharf_first()).collect();
        println!("first build of 5 RUN steps, median of {rounds}: wharf {:.0} ms (dockerd not installed: no comparison)", ms(median(tw)));
        return;
    }
    must(
        wharf(
            &root,
            &[
                "save",
                "-o",
                &tmp.join("demo.tar").display().to_string(),
                "wharf/demo",
            ],
        ),
        "wharf save",
    );
    let dsock = tmp.join("docker.sock");
    let cfg = tmp.join("dockercfg");
    std::fs::create_dir_all(&cfg).expect("cfg");
    g.dockerd = Some(dockerd::spawn(&tmp, &dsock).expect("dockerd"));
    let deadline = Instant::now() + Duration::from_secs(60);
    while !docker(&dsock, &cfg, &["version"]).status.success() {
        if Instant::now() > deadline {
            eprintln!("dockerd did not start");
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    must(
        docker(
            &dsock,
            &cfg,
            &["load", "-i", &tmp.join("demo.tar").display().to_string()],
        ),
        "docker load",
    );
    // The docker side's cached rebuild, for the record.
    must(
        docker(
            &dsock,
            &cfg,
            &["build", "--network", "none", "-q", "-t", "ten", &ten_s],
        ),
        "docker first build of ten",
    );
    let mut dcached = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        must(
            docker(
                &dsock,
                &cfg,
                &["build", "--network", "none", "-q", "-t", "ten", &ten_s],
            ),
            "docker cached build",
        );
        dcached.push(t.elapsed());
    }
    println!(
        "  (docker build of the same, cached, median of 5: {:.0} ms)",
        ms(median(dcached))
    );
    let docker_first = || {
        let t = Instant::now();
        must(
            docker(
                &dsock,
                &cfg,
                &[
                    "build",
                    "--network",
                    "none",
                    "-q",
                    "--no-cache",
                    "-t",
                    "five",
                    &five_s,
                ],
            ),
            "docker first build",
        );
        t.elapsed()
    };
    // Warm both.
    wharf_first();
    docker_first();
    let (mut tw, mut td) = (Vec::new(), Vec::new());
    for i in 0..rounds {
        if i % 2 == 0 {
            tw.push(wharf_first());
            td.push(docker_first());
        } else {
            td.push(docker_first());
            tw.push(wharf_first());
        }
    }
    let (w, d) = (median(tw), median(td));
    println!(
        "first build (--no-cache) of 5 RUN steps, median of {rounds} interleaved: wharf {:.0} ms, dockerd 20.10 classic builder {:.0} ms ({:.1}x faster; goal 3x)",
        ms(w),
        ms(d),
        d.as_secs_f64() / w.as_secs_f64()
    );
    let _ = docker(&dsock, &cfg, &["system", "prune", "-af"]);
}
