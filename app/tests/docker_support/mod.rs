//! A dockerd of a test's own (network namespace, data root, socket) and the demo image
//! as an archive, for the Docker client's tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use super::containers_support::Wharf;

// The benches' dockerd plumbing: one launcher (own network namespace, no bridge, no
// iptables), one way to stop it and to clear its directory.
#[path = "../../benches/support/dockerd.rs"]
mod bench_dockerd;

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
    /// Stop it (SIGTERM, then SIGKILL after a while).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            bench_dockerd::stop_child(&mut c);
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
        bench_dockerd::clear_dir(&self.tmp);
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
    let child = bench_dockerd::spawn(&tmp, &sock).expect("dockerd");
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
