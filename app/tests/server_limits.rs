//! The shared socket against hostile local users: a real `wharf serve` with a policy,
//! attacked by client processes running as other uids (this test binary re-executed
//! with a uid of its own: the server knows callers by SO_PEERCRED), while root probes
//! that the server keeps answering. The server's peak memory is read from /proc.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Uids with no entry in the system's user database, admitted (or not) by the policy.
const USER: u32 = 61301;
const VIEWER: u32 = 61302;
const NOBODY: u32 = 61399;

struct Server {
    dir: tempfile::TempDir,
    child: Child,
}

impl Server {
    fn start(extra: &[&str], nofile: Option<u64>) -> Server {
        let dir = tempfile::tempdir().unwrap();
        // The clients run as other uids: they must reach the socket.
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let policy = dir.path().join("policy.json");
        std::fs::write(
            &policy,
            format!(
                r#"{{"users": {{"{USER}": {{"role": "user"}}, "{VIEWER}": {{"role": "viewer"}}}}}}"#
            ),
        )
        .unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_wharf"));
        cmd.arg("--root")
            .arg(dir.path().join("root"))
            .arg("--policy")
            .arg(&policy)
            .args(["serve", "--socket"])
            .arg(dir.path().join("w.sock"))
            .args(extra)
            .env_remove("WHARF_HOST")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("serve.log")).unwrap());
        if let Some(n) = nofile {
            // SAFETY: setrlimit is async-signal-safe; the child only calls it before exec.
            unsafe {
                cmd.pre_exec(move || {
                    let lim = libc::rlimit {
                        rlim_cur: n,
                        rlim_max: n,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let child = cmd.spawn().unwrap();
        let s = Server { dir, child };
        let t = Instant::now();
        while UnixStream::connect(s.sock()).is_err() {
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "the server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        s
    }
    fn sock(&self) -> PathBuf {
        self.dir.path().join("w.sock")
    }
    fn pid(&self) -> u32 {
        self.child.id()
    }
    /// Peak resident memory of the server, bytes.
    fn peak_rss(&self) -> u64 {
        status_field(self.pid(), "VmHWM:") * 1024
    }
    /// CPU time the server has used, in clock ticks.
    fn cpu_ticks(&self) -> u64 {
        let s = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap();
        let after = &s[s.rfind(')').unwrap() + 2..];
        let f: Vec<&str> = after.split_whitespace().collect();
        f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
    }
    fn audit_lines(&self, action: &str) -> usize {
        std::fs::read_to_string(self.dir.path().join("root/audit.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(&format!("\"action\":\"{action}\"")))
            .count()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.child.wait();
    }
}

fn status_field(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

/// One request on a fresh connection as root (admin); the time to the answer's status line.
fn ping(sock: &Path) -> Duration {
    let t = Instant::now();
    let mut s = UnixStream::connect(sock).unwrap_or_else(|e| {
        let log = std::fs::read_to_string(sock.with_file_name("serve.log")).unwrap_or_default();
        let unix = std::fs::read_to_string("/proc/net/unix").unwrap_or_default();
        let mine: Vec<&str> = unix.lines().filter(|l| l.contains(&*sock.to_string_lossy())).collect();
        std::thread::sleep(Duration::from_millis(200));
        let again = UnixStream::connect(sock).map(|_| ()).map_err(|e| e.to_string());
        panic!("connecting to the server: {e}; its log: {log}; /proc/net/unix: {mine:?}; again after 200 ms: {again:?}")
    });
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).unwrap();
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&buf[..n])
    );
    t.elapsed()
}

/// Run an attack in this test binary re-executed as `uid` (see `attacker` below).
fn attack(sock: &Path, uid: u32, what: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "attacker", "--nocapture", "--test-threads=1"])
        .env("WHARF_ATTACK", what)
        .env("WHARF_ATTACK_SOCK", sock)
        .uid(uid)
        .gid(uid)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// The number printed after `key` in an attacker's output.
fn value_after(out: &str, key: &str) -> usize {
    let i = out
        .find(key)
        .unwrap_or_else(|| panic!("no {key:?} in the attacker's output: {out:?}"));
    out[i + key.len()..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number after {key:?} in {out:?}"))
}

fn finish(c: Child) -> String {
    let o = c.wait_with_output().unwrap();
    assert!(o.status.success(), "attacker failed: {o:?}");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Write `total` bytes of `fill` after `head` until the server stops reading; what came back.
fn flood(sock: &Path, head: &[u8], fill: u8, total: usize) -> String {
    let mut s = UnixStream::connect(sock).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(20))).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let _ = s.write_all(head);
    let chunk = vec![fill; 1 << 20];
    let mut sent = 0;
    while sent < total {
        match s.write(&chunk) {
            Ok(n) => sent += n,
            Err(_) => break,
        }
    }
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    let line = String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or("")
        .to_string();
    format!("sent {} MB, answer {line:?}", sent >> 20)
}

/// Not a test of its own: the attacker side, run by `attack` as another uid.
#[test]
fn attacker() {
    let Ok(what) = std::env::var("WHARF_ATTACK") else {
        return;
    };
    let sock = PathBuf::from(std::env::var("WHARF_ATTACK_SOCK").unwrap());
    match what.as_str() {
        "header" => println!("{}", flood(&sock, b"GET /_ping HTTP/1.1\r\nX-A: ", b'a', 100 << 20)),
        "request-line" => println!("{}", flood(&sock, b"GET /", b'a', 100 << 20)),
        "chunk-size" => println!(
            "{}",
            flood(
                &sock,
                b"POST /v1/container_create HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: chunked\r\n\r\n",
                b'1',
                30 << 20
            )
        ),
        "json" | "docker-json" => {
            let path = if what == "json" {
                "/v1/container_create"
            } else {
                "/v1.45/containers/create"
            };
            let n = 60usize << 20;
            let head = format!(
                "POST {path} HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\nContent-Length: {n}\r\n\r\n["
            );
            println!("{}", flood(&sock, head.as_bytes(), b'[', n - 1));
        }
        "hold" => {
            // Hold 600 idle connections (as many as the descriptors allow).
            // SAFETY: setrlimit on our own process with a valid struct.
            unsafe {
                let lim = libc::rlimit {
                    rlim_cur: 4096,
                    rlim_max: 4096,
                };
                libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
            }
            let mut held = Vec::new();
            for _ in 0..600 {
                if let Ok(s) = UnixStream::connect(&sock) {
                    held.push(s);
                }
            }
            println!("connected {}", held.len());
            std::thread::sleep(Duration::from_secs(4));
            // How many the server kept open: those it did not answer and close.
            let mut open = 0;
            for s in &held {
                s.set_nonblocking(true).unwrap();
                let mut b = [0u8; 1];
                match (&*s).read(&mut b) {
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => open += 1,
                    _ => {}
                }
            }
            println!("open {open}");
        }
        "connect-storm" => {
            let mut refused = 0;
            for _ in 0..2000 {
                if let Ok(mut s) = UnixStream::connect(&sock) {
                    let _ = s.write_all(b"GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n");
                    let mut b = Vec::new();
                    let _ = s.read_to_end(&mut b);
                    if b.starts_with(b"HTTP/1.1 403") {
                        refused += 1;
                    }
                }
            }
            println!("refused {refused}");
        }
        other => panic!("unknown attack {other}"),
    }
}

#[test]
fn oversized_inputs_keep_memory_bounded_and_others_answered() {
    let srv = Server::start(&[], None);
    let before = srv.peak_rss();
    let attacks = vec![
        attack(&srv.sock(), NOBODY, "header"),
        attack(&srv.sock(), USER, "header"),
        attack(&srv.sock(), USER, "request-line"),
        attack(&srv.sock(), USER, "chunk-size"),
        attack(&srv.sock(), VIEWER, "json"),
        attack(&srv.sock(), USER, "json"),
        attack(&srv.sock(), USER, "docker-json"),
    ];
    // Probe while the attacks run.
    let mut worst = Duration::ZERO;
    let mut times = Vec::new();
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(3) {
        let d = ping(&srv.sock());
        worst = worst.max(d);
        times.push(d);
        std::thread::sleep(Duration::from_millis(20));
    }
    let outcomes: Vec<String> = attacks.into_iter().map(finish).collect();
    times.sort();
    let median = times[times.len() / 2];
    let peak = srv.peak_rss();
    eprintln!(
        "server peak RSS {} MB (before the attacks {} MB); root's ping during them: median {median:?}, worst {worst:?} over {} pings; attacks: {outcomes:#?}",
        peak >> 20,
        before >> 20,
        times.len()
    );
    assert!(peak < 64 << 20, "peak RSS {} MB", peak >> 20);
    assert!(median < Duration::from_millis(100), "median {median:?}");
    assert!(worst < Duration::from_millis(1000), "worst {worst:?}");
    // Each attack was answered with a refusal (or cut off), never served.
    assert!(outcomes[0].contains("403"), "{}", outcomes[0]);
    assert!(
        outcomes[4].contains("403"),
        "a viewer's create is refused before its body is read: {}",
        outcomes[4]
    );
    for o in &outcomes {
        assert!(!o.contains("200 OK"), "{o}");
    }
    // The viewer's refusal is audited; the user's oversized bodies are not creations.
    assert_eq!(srv.audit_lines("container.create"), 1);
}

#[test]
fn connections_are_capped_per_user_without_spinning() {
    let srv = Server::start(&["--max-connections-per-user", "16"], None);
    let cpu0 = srv.cpu_ticks();
    let t0 = Instant::now();
    let holder = attack(&srv.sock(), USER, "hold");
    std::thread::sleep(Duration::from_secs(1));
    let mut worst = Duration::ZERO;
    for _ in 0..20 {
        worst = worst.max(ping(&srv.sock()));
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = finish(holder);
    let ticks = srv.cpu_ticks() - cpu0;
    let secs = t0.elapsed().as_secs_f64();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let cpu = ticks as f64 / hz / secs * 100.0;
    eprintln!(
        "{out}; root's worst ping {worst:?}; server CPU {cpu:.1} % of a core over {secs:.1} s"
    );
    let open = value_after(&out, "open ");
    assert!(open <= 16, "{out}");
    assert!(worst < Duration::from_millis(1000), "worst {worst:?}");
    assert!(cpu < 50.0, "server CPU {cpu:.1} %");
}

#[test]
fn out_of_descriptors_backs_off_instead_of_spinning() {
    // An admin who set the caps above the descriptor limit: accept fails with EMFILE.
    let srv = Server::start(
        &[
            "--max-connections",
            "5000",
            "--max-connections-per-user",
            "5000",
        ],
        Some(128),
    );
    let holder = attack(&srv.sock(), USER, "hold");
    std::thread::sleep(Duration::from_secs(1));
    let cpu0 = srv.cpu_ticks();
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(2));
    let ticks = srv.cpu_ticks() - cpu0;
    let secs = t0.elapsed().as_secs_f64();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let cpu = ticks as f64 / hz / secs * 100.0;
    let out = finish(holder);
    eprintln!("{out}; server CPU while out of descriptors {cpu:.1} % of a core");
    assert!(cpu < 30.0, "server CPU {cpu:.1} % while out of descriptors");
    // Once the holder is gone, the server answers again.
    std::thread::sleep(Duration::from_millis(300));
    ping(&srv.sock());
}

#[test]
fn idle_and_slow_heads_are_closed() {
    let srv = Server::start(&["--header-timeout", "2"], None);
    let t = Instant::now();
    let mut idle = UnixStream::connect(srv.sock()).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut slow = UnixStream::connect(srv.sock()).unwrap();
    slow.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    slow.write_all(b"GET /_ping HTTP/1.1\r\n").unwrap();
    let mut b = [0u8; 256];
    // The idle one is closed at the timeout.
    let n = idle.read(&mut b).unwrap_or(0);
    let idle_after = t.elapsed();
    assert!(
        idle_after >= Duration::from_millis(1500) && idle_after < Duration::from_secs(6),
        "idle connection closed after {idle_after:?} ({n} bytes)"
    );
    // The slow one, trickling a header every 200 ms, is closed too.
    let mut closed = false;
    for _ in 0..30 {
        if slow.write_all(b"X-A: b\r\n").is_err() {
            closed = true;
            break;
        }
        // Any answer (or the end of the connection) means the server gave up on it.
        if slow.read(&mut b).is_ok() {
            closed = true;
            break;
        }
    }
    assert!(closed, "a head trickled in for 6 s was still being read");
}

#[test]
fn refused_users_are_counted_not_each_audited() {
    let srv = Server::start(&[], None);
    let out = finish(attack(&srv.sock(), NOBODY, "connect-storm"));
    let refused = value_after(&out, "refused ");
    let lines = srv.audit_lines("engine.connect");
    eprintln!("{refused} connections refused, {lines} audit entries");
    assert_eq!(refused, 2000);
    assert!((1..=2).contains(&lines), "{lines} audit entries");
    // The refusal says why.
    let text = std::fs::read_to_string(srv.dir.path().join("root/audit.jsonl")).unwrap();
    assert!(text.contains("has no role in the policy"), "{text}");
}
