//! Helpers for the container integration tests: a fresh state root with the demo
//! image, the real `wharf` binary, polling with deadlines, and cleanup on drop.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A wharf state root for one test; removes every container it made when dropped.
pub struct Wharf {
    dir: tempfile::TempDir,
}

impl Wharf {
    /// A fresh root with `wharf/demo:latest` built from /bin/busybox.
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("wt")
            .tempdir_in("/tmp")
            .expect("temp dir");
        let w = Wharf { dir };
        w.ok(&["image", "demo"]);
        w
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// The binary under test.
    pub fn exe() -> &'static str {
        env!("CARGO_BIN_EXE_wharf")
    }

    /// `wharf --root ROOT args...`, not yet run.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(Self::exe());
        c.arg("--root")
            .arg(self.root())
            .args(args)
            .env_remove("WHARF_ROOT")
            // Bridges go with their last container (tests check that nothing is left);
            // the grace period has its own test.
            .env("WHARF_BRIDGE_GRACE", "0")
            .stdin(Stdio::null());
        c
    }

    /// Run to completion.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("running wharf")
    }

    /// Run, insist on success, return stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "wharf {args:?} failed ({:?}):\nstdout: {}\nstderr: {}",
            o.status.code(),
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// `wharf run -d --network none ...`: the new container's id.
    pub fn detached(&self, extra: &[&str], cmd: &[&str]) -> String {
        let mut args = vec!["run", "-d", "--network", "none"];
        args.extend_from_slice(extra);
        args.push("wharf/demo");
        args.extend_from_slice(cmd);
        self.ok(&args).trim().to_string()
    }

    /// `wharf inspect NAME` as JSON (the first object).
    pub fn inspect(&self, name: &str) -> serde_json::Value {
        let out = self.ok(&["inspect", name]);
        let v: serde_json::Value = serde_json::from_str(&out).expect("inspect JSON");
        v[0].clone()
    }

    pub fn status(&self, name: &str) -> String {
        self.inspect(name)["State"]["Status"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The container's directory in the state root.
    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.root().join("containers").join(id)
    }

    /// The container's state.json as JSON.
    pub fn state_file(&self, id: &str) -> serde_json::Value {
        serde_json::from_slice(
            &std::fs::read(self.container_dir(id).join("state.json")).expect("state.json"),
        )
        .expect("state JSON")
    }

    /// Wait until the container has logged `ready` (its signal handlers are set).
    pub fn wait_ready(&self, name: &str) {
        wait_for(
            &format!("{name} to say ready"),
            Duration::from_secs(10),
            || self.run(&["logs", name]).stdout.starts_with(b"ready"),
        );
    }

    /// Wait until the container's status is `want`.
    pub fn wait_status(&self, name: &str, want: &str, timeout: Duration) {
        wait_for(&format!("{name} to be {want}"), timeout, || {
            self.status(name) == want
        });
    }
}

impl Drop for Wharf {
    fn drop(&mut self) {
        let ids = self.run(&["ps", "-aq", "--no-trunc"]);
        for id in String::from_utf8_lossy(&ids.stdout).split_whitespace() {
            let _ = self.run(&["rm", "-f", id]);
        }
    }
}

/// Poll `f` until it holds; panic with `what` after `timeout`.
pub fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Is `pid` alive (and not a zombie)?
pub fn alive(pid: i64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            let rest = &s[s.rfind(')').unwrap_or(0) + 2..];
            !rest.starts_with('Z') && !rest.starts_with('X')
        })
        .unwrap_or(false)
}

/// A process this test started, killed (by pid) and reaped when dropped.
pub struct ChildGuard(pub std::process::Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
