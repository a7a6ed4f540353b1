//! A dockerd for a bench, to print docker's figure beside wharf's from the same run:
//! in a network namespace of its own (`unshare -n`), with its own data and exec roots
//! under the bench's temporary directory, `--bridge none --iptables=false` (the host's
//! network is untouched; nothing can be pulled). Stopped by pid and its files removed
//! when dropped. Needs Debian's docker.io (dockerd and the docker CLI); without them
//! [`Dockerd::start`] says so and the bench prints wharf's figures alone.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub struct Dockerd {
    child: Child,
    dir: PathBuf,
    pub sock: PathBuf,
    cfg: PathBuf,
}

impl Dockerd {
    /// Start one under `dir` (created); `None` (with the reason printed) if dockerd or
    /// the docker CLI is missing, or it does not come up within a minute.
    pub fn start(dir: &Path) -> Option<Dockerd> {
        if Command::new("dockerd").arg("--version").output().is_err()
            || Command::new("docker").arg("--version").output().is_err()
        {
            println!("(no dockerd and docker CLI here: docker's figure is left out)");
            return None;
        }
        std::fs::create_dir_all(dir).ok()?;
        let sock = dir.join("docker.sock");
        let cfg = dir.join("dockercfg");
        std::fs::create_dir_all(&cfg).ok()?;
        let child = spawn(dir, &sock).ok()?;
        let d = Dockerd {
            child,
            dir: dir.to_path_buf(),
            sock,
            cfg,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while d.docker(&["version"]).status.code() != Some(0) {
            if Instant::now() > deadline {
                println!("(dockerd did not start: docker's figure is left out)");
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(d)
    }

    /// Run the docker CLI against it.
    pub fn docker(&self, args: &[&str]) -> Output {
        Command::new("docker")
            .args(args)
            .env("DOCKER_HOST", format!("unix://{}", self.sock.display()))
            .env("DOCKER_CONFIG", &self.cfg)
            .stdin(Stdio::null())
            .output()
            .expect("running docker")
    }

    /// `docker load` an archive.
    pub fn load(&self, archive: &Path) {
        let o = self.docker(&["load", "-i", &archive.display().to_string()]);
        assert!(
            o.status.success(),
            "docker load: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }

    /// Create `n` containers of `image` (`--network none`, command `true`) through the
    /// API, four at a time (the CLI would take a process each).
    pub fn create_many(&self, n: usize, image: &str, prefix: &str) {
        let per = n.div_ceil(4);
        std::thread::scope(|s| {
            for t in 0..4 {
                s.spawn(move || {
                    for i in (t * per)..((t + 1) * per).min(n) {
                        let body = serde_json::json!({
                            "Image": image,
                            "Cmd": ["true"],
                            "HostConfig": {"NetworkMode": "none"},
                        })
                        .to_string();
                        let (status, text) =
                            self.post(&format!("/containers/create?name={prefix}{i}"), &body);
                        assert!(status == 201, "docker create: {status} {text}");
                    }
                });
            }
        });
    }

    /// One HTTP/1.0 POST of JSON on the socket: (status, body).
    fn post(&self, path: &str, body: &str) -> (u16, String) {
        let mut s = UnixStream::connect(&self.sock).expect("dockerd socket");
        let req = format!(
            "POST {path} HTTP/1.0\r\nHost: docker\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).expect("request");
        let mut resp = String::new();
        let _ = s.read_to_string(&mut resp);
        let status = resp
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let text = resp.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
        (status, text)
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        // dockerd unmounts what it mounted on SIGTERM; whatever is left under its
        // directory is unmounted before the files go.
        stop_child(&mut self.child);
        clear_dir(&self.dir);
    }
}

/// SIGTERM to a child this bench started (by pid), 30 s to go, then SIGKILL; reaped.
pub fn stop_child(c: &mut Child) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(c.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while c.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = c.kill();
    let _ = c.wait();
}

/// Unmount whatever is mounted under `dir` (deepest first), then delete it.
pub fn clear_dir(dir: &Path) {
    if let Ok(mi) = std::fs::read_to_string("/proc/self/mountinfo") {
        let prefix = dir.display().to_string();
        let mut points: Vec<&str> = mi
            .lines()
            .filter_map(|l| l.split_whitespace().nth(4))
            .filter(|p| p.starts_with(&prefix))
            .collect();
        points.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for p in points {
            let _ = nix::mount::umount2(p, nix::mount::MntFlags::MNT_DETACH);
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// Remove every container of the wharf state root `root` (`rm -f`, 100 at a time).
pub fn remove_containers(root: &Path) {
    let wharf = env!("CARGO_BIN_EXE_wharf");
    let Ok(o) = Command::new(wharf)
        .arg("--root")
        .arg(root)
        .args(["ps", "-aq", "--no-trunc"])
        .output()
    else {
        return;
    };
    let ids: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect();
    for chunk in ids.chunks(100) {
        let _ = Command::new(wharf)
            .arg("--root")
            .arg(root)
            .args(["rm", "-f"])
            .args(chunk)
            .stdout(Stdio::null())
            .output();
    }
}

/// Its standard output; the bench ends (status 1) with what was said when it failed.
pub fn must(o: Output, what: &str) -> String {
    if !o.status.success() {
        eprintln!(
            "{what} failed: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        std::process::exit(1);
    }
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Wait (a minute at most, else the bench ends) until `sock` takes connections.
pub fn wait_for_socket(sock: &Path, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while UnixStream::connect(sock).is_err() {
        if Instant::now() > deadline {
            eprintln!("{what} did not start");
            std::process::exit(1);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Start dockerd with its data, exec root, pid file and log under `dir`, answering on
/// `sock`, in a network namespace of its own (`unshare -n`) with no bridge and no
/// iptables: the host's network is untouched and nothing can be pulled. The caller
/// keeps the child (and stops it by pid).
pub fn spawn(dir: &Path, sock: &Path) -> std::io::Result<Child> {
    Command::new("unshare")
        .args(["-n", "--", "dockerd"])
        .arg("--data-root")
        .arg(dir.join("docker-data"))
        .arg("--exec-root")
        .arg(dir.join("docker-exec"))
        .arg("--pidfile")
        .arg(dir.join("docker.pid"))
        .arg("-H")
        .arg(format!("unix://{}", sock.display()))
        .args([
            "--bridge",
            "none",
            "--iptables=false",
            "--ip6tables=false",
            "--ip-masq=false",
            "--userland-proxy=false",
        ])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("dockerd.log"))?)
        .spawn()
}

/// The machine's load averages, to print beside each figure.
pub fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// The median.
pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Milliseconds.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A setting from the environment (`ROUNDS`, `PS_CONTAINERS`...), or `d`.
pub fn env_usize(k: &str, d: usize) -> usize {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

/// A wharf state root at `root` with the demo image and `n` created containers named
/// `{prefix}{i}` (`--network none`, command `true`), made through the engine (the files
/// `wharf create` writes). Returns how long the creates took.
pub fn make_root(root: &Path, n: usize, prefix: &str) -> Duration {
    use wharf_engine::api::{ContainerApi, ContainerCreate, ImageApi};
    let engine = wharf_engine::LocalEngine::open(
        root,
        wharf_engine::EngineOptions {
            wharf_exe: Some(env!("CARGO_BIN_EXE_wharf").into()),
            ..Default::default()
        },
    )
    .expect("open the root");
    let me = wharf_engine::Caller::root();
    engine
        .image_build_demo(&me, "wharf/demo:latest")
        .expect("demo image");
    let t = Instant::now();
    for i in 0..n {
        let spec = ContainerCreate {
            name: Some(format!("{prefix}{i}")),
            image: "wharf/demo".into(),
            cmd: Some(vec!["true".into()]),
            network: Some("none".into()),
            ..Default::default()
        };
        engine.container_create(&me, &spec).expect("create");
    }
    t.elapsed()
}
