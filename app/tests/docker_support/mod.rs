//! A dockerd of a test's own (network namespace, data root, socket) and the demo image
//! as an archive, for the Docker client's tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::containers_support::Wharf;

pub fn tmpdir(prefix: &str) -> PathBuf {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in("/tmp")
        .unwrap()
        .keep()
}

pub fn wait_sock(sock: &Path, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::os::unix::net::UnixStream::connect(sock).is_err() {
        assert!(Instant::now() < deadline, "{what} did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A daemon the test started, stopped by pid, its files removed (mounts first).
pub struct Daemon {
    pub tmp: PathBuf,
    pub child: Option<Child>,
    pub sock: PathBuf,
}

impl Daemon {
    /// Stop it (SIGTERM, then SIGKILL after 20 s).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(c.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let deadline = Instant::now() + Duration::from_secs(20);
            while c.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
        if let Ok(mi) = std::fs::read_to_string("/proc/self/mountinfo") {
            let prefix = self.tmp.display().to_string();
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
        let _ = std::fs::remove_dir_all(&self.tmp);
    }
}

/// dockerd in a network namespace of its own, or `None` where it cannot run.
pub fn dockerd() -> Option<Daemon> {
    if Command::new("dockerd").arg("--version").output().is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "dockerd is missing: .ci/run installs docker.io"
        );
        eprintln!("skipped: no dockerd (apt-get install docker.io)");
        return None;
    }
    let tmp = tmpdir("wdeng");
    let sock = tmp.join("docker.sock");
    let child = Command::new("unshare")
        .args(["-n", "--", "dockerd"])
        .arg("--data-root")
        .arg(tmp.join("data"))
        .arg("--exec-root")
        .arg(tmp.join("exec"))
        .arg("--pidfile")
        .arg(tmp.join("docker.pid"))
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
        .stderr(std::fs::File::create(tmp.join("dockerd.log")).unwrap())
        .spawn()
        .expect("dockerd");
    let d = Daemon {
        tmp,
        child: Some(child),
        sock,
    };
    wait_sock(&d.sock, "dockerd");
    Some(d)
}

/// The offline demo image as a `docker save` archive.
pub fn demo_archive(w: &Wharf, dir: &Path) -> PathBuf {
    w.ok(&["image", "demo"]);
    let a = dir.join("demo.tar");
    w.ok(&["save", "-o", &a.display().to_string(), "wharf/demo"]);
    a
}
