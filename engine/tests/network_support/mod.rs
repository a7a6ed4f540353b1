//! Helpers for the network tests. Every test first moves its own thread into a fresh
//! network namespace ([`TestNetns::enter`]); the engine, `nft`, `ip` and the stand-in
//! containers all run from that thread, so nothing touches the host's network.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The test thread's own network namespace; [`TestNetns::assert_clean`] checks that
/// wharf left nothing in it.
pub struct TestNetns {
    _private: (),
}

fn ns_ino(path: &str) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path)
        .map(|m| m.ino())
        .unwrap_or_else(|e| panic!("stat {path}: {e}"))
}

impl TestNetns {
    /// Unshare the calling thread's network namespace (and check it worked: no test
    /// may ever run in the host's namespace), then bring its loopback up.
    pub fn enter() -> Self {
        let before = ns_ino("/proc/thread-self/ns/net");
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
            .expect("unshare(CLONE_NEWNET): run the tests as root");
        let after = ns_ino("/proc/thread-self/ns/net");
        assert_ne!(
            before, after,
            "the test thread must be in a new network namespace"
        );
        if nix::unistd::gettid() != nix::unistd::getpid() {
            assert_ne!(
                after,
                ns_ino("/proc/self/ns/net"),
                "never in the process's (host's) network namespace"
            );
        }
        sh_ok("ip link set lo up");
        TestNetns { _private: () }
    }

    /// `ip link`, `ip addr` and `nft list ruleset` show nothing of wharf.
    pub fn assert_clean(&self) {
        let links = sh_ok("ip -o link");
        for l in links.lines() {
            assert!(
                l.contains(": lo:") || l.contains(": out"),
                "a link was left behind: {l}\n{links}"
            );
        }
        let addrs = sh_ok("ip -o -4 addr");
        for l in addrs.lines() {
            assert!(
                l.contains(" lo ") || l.contains(" out"),
                "an address was left behind: {l}\n{addrs}"
            );
        }
        let rules = sh_ok("nft list ruleset");
        assert!(
            !rules.contains("wharf"),
            "wharf's nftables table was left behind:\n{rules}"
        );
    }
}

/// Run a shell command in the test's namespace; its output.
pub fn sh(cmd: &str) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .output()
        .expect("running sh")
}

/// Run a shell command that must succeed; its stdout.
pub fn sh_ok(cmd: &str) -> String {
    let out = sh(cmd);
    assert!(
        out.status.success(),
        "`{cmd}` failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Poll `f` until it returns `Some`, or panic after `secs` seconds.
pub fn wait_for<T>(what: &str, secs: u64, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A stand-in for a container: a `busybox sleep` in its own network and mount
/// namespaces, with `containers/<id>/hosts` bind-mounted over its `/etc/hosts` as
/// the runtime does. Killed (by pid) when dropped.
pub struct StandIn {
    pub id: String,
    pub child: Child,
}

impl StandIn {
    pub fn start(root: &Path, id: &str) -> Self {
        let dir = root.join("containers").join(id);
        std::fs::create_dir_all(&dir).unwrap();
        let hosts = dir.join("hosts");
        std::fs::write(&hosts, "").unwrap();
        let script = format!(
            "mount --bind {} /etc/hosts && exec busybox sleep 1000",
            hosts.display()
        );
        let child = Command::new("unshare")
            .args(["-n", "-m", "--propagation", "private", "sh", "-c", &script])
            .stdin(Stdio::null())
            .spawn()
            .expect("starting a stand-in container");
        let pid = child.id();
        wait_for("the stand-in to be ready", 10, || {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
            (comm.trim() == "sleep" || comm.trim() == "busybox").then_some(())
        });
        StandIn {
            id: id.to_string(),
            child,
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Run a command inside the stand-in's namespaces.
    pub fn exec(&self, cmd: &str) -> Output {
        Command::new("nsenter")
            .args(["-t", &self.pid().to_string(), "-n", "-m", "sh", "-c", cmd])
            .output()
            .expect("running nsenter")
    }

    /// Start a long-running command inside (a server); killed by pid with the guard.
    pub fn spawn(&self, cmd: &str) -> ChildGuard {
        let child = Command::new("nsenter")
            .args([
                "-t",
                &self.pid().to_string(),
                "-n",
                "-m",
                "sh",
                "-c",
                &format!("exec {cmd}"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("running nsenter");
        ChildGuard(child)
    }

    /// Stop it (SIGKILL by pid) and reap it.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A process killed (by pid) and reaped when dropped.
pub struct ChildGuard(pub Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A web root with `index.html` saying `text`, for `busybox httpd`.
pub fn web_root(dir: &Path, text: &str) -> PathBuf {
    let d = dir.join(format!("www-{text}"));
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("index.html"), text).unwrap();
    d
}

/// The response body of an HTTP GET to `host:port` sent with `nc` from `run`
/// (a stand-in's exec or the test namespace's `sh`), or `None` if nothing answered.
pub fn http_get(run: impl Fn(&str) -> Output, host: &str, port: u16) -> Option<String> {
    let out = run(&format!(
        "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | busybox nc -w 2 {host} {port}"
    ));
    let body = String::from_utf8_lossy(&out.stdout).into_owned();
    (!body.is_empty()).then_some(body)
}

/// Poll until `host:port` answers with a body containing `want`.
pub fn expect_http(run: impl Fn(&str) -> Output, host: &str, port: u16, want: &str) {
    wait_for(&format!("{host}:{port} to answer {want:?}"), 10, || {
        http_get(&run, host, port).filter(|b| b.contains(want))
    });
}

/// "Outside": another namespace joined to the test namespace by a veth
/// (`outh` 198.51.100.1 here, 198.51.100.2 there), standing for other hosts.
pub struct Outside {
    pub ns: StandIn,
}

impl Outside {
    pub fn start(root: &Path) -> Self {
        let ns = StandIn::start(root, "outside");
        let pid = ns.pid();
        sh_ok(&format!(
            "ip link add outh type veth peer name outp netns /proc/{pid}/ns/net && \
             ip addr add 198.51.100.1/24 dev outh && ip link set outh up"
        ));
        let out = ns.exec("ip link set lo up && ip addr add 198.51.100.2/24 dev outp && ip link set outp up && ip route add default via 198.51.100.1");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Outside { ns }
    }
}

impl Drop for Outside {
    fn drop(&mut self) {
        // The veth goes with the outside namespace; delete our end explicitly too.
        let _ = sh("ip link del outh");
    }
}
