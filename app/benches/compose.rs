//! `compose up -d` of a 5-service project (`network_mode: none`, one named volume, one
//! `depends_on`): `wharf compose` on its embedded engine against Debian's
//! docker-compose 1.29.2 driving dockerd 20.10, and docker-compose 1.29.2 driving
//! wharf's Docker API socket, all from one run, rounds interleaved. Each round is an
//! `up -d` from nothing (timed), then a `down -v` (timed too).
//!
//! `cargo bench -p wharf --bench compose` (as root; needs dockerd, the docker CLI and
//! docker-compose on PATH). dockerd runs in a network namespace of its own
//! (`unshare -n`) with its own data root, `--bridge none --iptables=false`; the demo
//! image is loaded into it from `wharf save`. Nothing can be pulled and the host's
//! network is untouched. Figures are printed; nothing is asserted. `ROUNDS` (default 5).

#[path = "support/dockerd.rs"]
mod dockerd;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dockerd::{median, ms, must, wait_for_socket as wait_for};

const FILE: &str = r#"services:
  db:
    image: wharf/demo
    command: ["sleep", "1000"]
    network_mode: none
    stop_signal: SIGKILL
    volumes: [data:/data]
  web:
    image: wharf/demo
    command: ["sleep", "1000"]
    network_mode: none
    stop_signal: SIGKILL
    depends_on: [db]
  worker:
    image: wharf/demo
    command: ["sleep", "1000"]
    network_mode: none
    stop_signal: SIGKILL
  cache:
    image: wharf/demo
    command: ["sleep", "1000"]
    network_mode: none
    stop_signal: SIGKILL
  cron:
    image: wharf/demo
    command: ["sleep", "1000"]
    network_mode: none
    stop_signal: SIGKILL
volumes:
  data: {}
"#;

/// Processes and files of the bench, stopped (by pid) and removed however it ends.
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

/// How a side builds its command for some arguments.
type MakeCmd<'a> = Box<dyn Fn(&[&str]) -> Command + 'a>;

/// One side: how to run `up -d` and `down -v` in the project directory.
struct Side<'a> {
    label: &'a str,
    cmd: MakeCmd<'a>,
    up: Vec<Duration>,
    down: Vec<Duration>,
}

impl Side<'_> {
    fn round(&mut self) {
        let t = Instant::now();
        must(
            (self.cmd)(&["up", "-d"]).output().expect("up"),
            &format!("{} up", self.label),
        );
        self.up.push(t.elapsed());
        let t = Instant::now();
        must(
            (self.cmd)(&["down", "-v"]).output().expect("down"),
            &format!("{} down", self.label),
        );
        self.down.push(t.elapsed());
    }
}

fn main() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("the compose bench needs root");
        return;
    }
    for tool in ["dockerd", "docker", "docker-compose"] {
        if Command::new(tool).arg("--version").output().is_err() {
            eprintln!(
                "the compose bench needs {tool} on PATH (Debian's docker.io and docker-compose)"
            );
            return;
        }
    }
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let tmp = tempfile::Builder::new()
        .prefix("wcompose")
        .tempdir_in("/tmp")
        .expect("temp dir")
        .keep();
    let wharf_root = tmp.join("wharf");
    let mut g = Guard {
        tmp: tmp.clone(),
        wharf_root: wharf_root.clone(),
        children: vec![],
    };
    let wharf = env!("CARGO_BIN_EXE_wharf");
    let proj = tmp.join("bench");
    std::fs::create_dir_all(&proj).expect("project dir");
    std::fs::write(proj.join("docker-compose.yml"), FILE).expect("compose file");
    let cfg = tmp.join("dockercfg");
    std::fs::create_dir_all(&cfg).expect("docker config");
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
        Command::new("docker")
            .args(["load", "-i"])
            .arg(&archive)
            .env("DOCKER_HOST", format!("unix://{}", dsock.display()))
            .env("DOCKER_CONFIG", &cfg)
            .output()
            .expect("docker load"),
        "docker load into dockerd",
    );
    let compose_on = |sock: PathBuf| {
        let (proj, cfg) = (proj.clone(), cfg.clone());
        Box::new(move |args: &[&str]| {
            let mut c = Command::new("docker-compose");
            c.args(["-p", "bench"])
                .args(args)
                .current_dir(&proj)
                .env("DOCKER_HOST", format!("unix://{}", sock.display()))
                .env("DOCKER_CONFIG", &cfg)
                .env_remove("DOCKER_CONTEXT")
                .stdin(Stdio::null());
            c
        }) as MakeCmd
    };
    let wroot = wharf_root.clone();
    let wproj = proj.clone();
    let mut sides = [
        Side {
            label: "wharf compose (embedded engine)",
            cmd: Box::new(move |args: &[&str]| {
                let mut c = Command::new(wharf);
                c.arg("--root")
                    .arg(&wroot)
                    .args(["compose", "-p", "bench"])
                    .args(args)
                    .current_dir(&wproj)
                    .stdin(Stdio::null());
                c
            }),
            up: vec![],
            down: vec![],
        },
        Side {
            label: "docker-compose 1.29.2 + dockerd 20.10",
            cmd: compose_on(dsock.clone()),
            up: vec![],
            down: vec![],
        },
        Side {
            label: "docker-compose 1.29.2 + wharf serve (Docker API)",
            cmd: compose_on(wsock.clone()),
            up: vec![],
            down: vec![],
        },
    ];
    // One warm-up round each (caches, the python start-up's page cache).
    for s in sides.iter_mut() {
        s.round();
        s.up.clear();
        s.down.clear();
    }
    for i in 0..rounds {
        let n = sides.len();
        for k in 0..n {
            sides[(i + k) % n].round();
        }
    }
    println!("compose up -d of 5 services (network none, 1 named volume), then down -v; median of {rounds} interleaved rounds:");
    let base = median(sides[1].up.clone());
    for s in &sides {
        let up = median(s.up.clone());
        println!(
            "  {:<50} up -d {:>8.1} ms ({:.1}x dockerd's)   down -v {:>8.1} ms",
            s.label,
            ms(up),
            base.as_secs_f64() / up.as_secs_f64(),
            ms(median(s.down.clone())),
        );
    }
}
