//! Bad input on the Docker Engine API: malformed JSON, unknown fields, absurd sizes,
//! wrong types, unsupported endpoints, clients that hang up mid-stream and mid-hijack.
//! Each gets a Docker-shaped error (`{"message": ...}`) with dockerd's status, the
//! server keeps serving, and nothing half-created is left behind.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Server {
    dir: tempfile::TempDir,
    child: Child,
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::Builder::new()
            .prefix("wdocker-bad")
            .tempdir_in("/tmp")
            .unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let o = Command::new(env!("CARGO_BIN_EXE_wharf"))
            .arg("--root")
            .arg(dir.path().join("root"))
            .args(["image", "demo"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{o:?}");
        let child = Command::new(env!("CARGO_BIN_EXE_wharf"))
            .arg("--root")
            .arg(dir.path().join("root"))
            .args(["serve", "--socket"])
            .arg(dir.path().join("w.sock"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let s = Server { dir, child };
        let deadline = Instant::now() + Duration::from_secs(10);
        while UnixStream::connect(s.sock()).is_err() {
            assert!(Instant::now() < deadline, "the server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        s
    }
    fn sock(&self) -> PathBuf {
        self.dir.path().join("w.sock")
    }
    fn connect(&self) -> UnixStream {
        let s = UnixStream::connect(self.sock()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        s
    }
    /// One request on a fresh connection; (status, body).
    fn request(&self, method: &str, path: &str, body: &[u8]) -> (u16, String) {
        let mut s = self.connect();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .unwrap();
        let _ = s.write_all(body);
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        let text = String::from_utf8_lossy(&out).into_owned();
        let status = text
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        (status, body)
    }
    /// A Docker-shaped error: the status and its message.
    fn error(&self, method: &str, path: &str, body: &[u8]) -> (u16, String) {
        let (status, text) = self.request(method, path, body);
        let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap_or_else(|e| {
            panic!("{method} {path}: not Docker's error shape ({e}): {text:?}")
        });
        let msg = v["message"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} {path}: no message in {v}"))
            .to_string();
        (status, msg)
    }
    fn names(&self) -> Vec<String> {
        let (st, body) = self.request("GET", "/v1.45/containers/json?all=1", b"");
        assert_eq!(st, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|c| {
                c["Names"][0]
                    .as_str()
                    .unwrap_or("")
                    .trim_start_matches('/')
                    .to_string()
            })
            .collect()
    }
    fn alive(&self) {
        let t = Instant::now();
        let (st, body) = self.request("GET", "/_ping", b"");
        assert_eq!(
            (st, body.as_str()),
            (200, "OK"),
            "the server stopped answering"
        );
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "ping took {:?}",
            t.elapsed()
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let root = self.dir.path().join("root");
        let w = |args: &[&str]| {
            Command::new(env!("CARGO_BIN_EXE_wharf"))
                .arg("--root")
                .arg(&root)
                .args(args)
                .output()
        };
        if let Ok(o) = w(&["ps", "-aq", "--no-trunc"]) {
            for id in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                let _ = w(&["rm", "-f", id]);
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const CREATE: &str = "/v1.45/containers/create";

#[test]
fn bad_requests_get_docker_shaped_errors_and_leave_nothing() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let s = Server::start();
    let cases: Vec<(&str, String, u16, &str)> = vec![
        ("malformed JSON", r#"{"Image": "#.into(), 400, "JSON"),
        ("not an object", "[1, 2]".into(), 400, "the request body must be an object"),
        ("unknown field", r#"{"Image":"wharf/demo","Bogus":1}"#.into(), 400, "Bogus"),
        ("wrong type", r#"{"Image":"wharf/demo","Cmd":5}"#.into(), 400, "Cmd"),
        (
            "absurd memory",
            r#"{"Image":"wharf/demo","HostConfig":{"Memory":1e30}}"#.into(),
            400,
            "Memory",
        ),
        (
            "absurd CPUs",
            r#"{"Image":"wharf/demo","HostConfig":{"NanoCpus":9000000000000000000}}"#.into(),
            400,
            "",
        ),
        (
            "negative shm",
            r#"{"Image":"wharf/demo","HostConfig":{"ShmSize":-5}}"#.into(),
            400,
            "",
        ),
        (
            "a port out of range",
            r#"{"Image":"wharf/demo","ExposedPorts":{"70000/tcp":{}}}"#.into(),
            400,
            "",
        ),
        (
            "an unsupported host field",
            r#"{"Image":"wharf/demo","HostConfig":{"PidMode":"host"}}"#.into(),
            400,
            "PidMode",
        ),
        ("a missing image", r#"{"Image":"nosuch/image:1"}"#.into(), 404, "No such image"),
        (
            "a second endpoint on a network that does not exist",
            r#"{"Image":"wharf/demo","HostConfig":{"NetworkMode":"none"},"NetworkingConfig":{"EndpointsConfig":{"none":{},"nosuchnet":{}}}}"#.into(),
            0,
            "",
        ),
    ];
    for (what, body, want, needle) in &cases {
        let path = format!("{CREATE}?name=bad-{}", what.len());
        let (status, msg) = s.error("POST", &path, body.as_bytes());
        if *want != 0 {
            assert_eq!(status, *want, "{what}: {msg}");
        } else {
            assert!(status >= 400, "{what}: {status} {msg}");
        }
        assert!(msg.contains(needle), "{what}: {needle:?} not in {msg:?}");
        eprintln!("{what}: {status} {msg}");
        s.alive();
    }
    // A body over the JSON cap: refused, the rest of it never read.
    let big = format!(
        r#"{{"Image":"wharf/demo","Env":["{}"]}}"#,
        "x".repeat(8 << 20)
    );
    let (status, msg) = s.error("POST", CREATE, big.as_bytes());
    assert_eq!(status, 400, "{msg}");
    // Unsupported and unknown endpoints.
    let (st, msg) = s.error("POST", "/v1.45/swarm/init", b"{}");
    assert_eq!(st, 503, "{msg}");
    assert!(msg.contains("not a swarm manager"), "{msg}");
    let (st, msg) = s.error("GET", "/v1.45/plugins", b"");
    assert!(st == 400 || st == 501, "{st} {msg}");
    let (st, msg) = s.error("GET", "/v1.45/no/such/thing", b"");
    assert_eq!(st, 404, "{msg}");
    let (st, msg) = s.error("GET", "/v1.12/info", b"");
    assert_eq!(st, 400, "{msg}");
    assert!(msg.contains("too old"), "{msg}");
    // Nothing half-created.
    assert!(s.names().is_empty(), "left behind: {:?}", s.names());
    s.alive();
}

#[test]
fn clients_hanging_up_mid_stream_and_mid_hijack() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let s = Server::start();
    let (st, body) = s.request(
        "POST",
        &format!("{CREATE}?name=talker"),
        br#"{"Image":"wharf/demo","Cmd":["sh","-c","while true; do echo tick; sleep 0.1; done"],"HostConfig":{"NetworkMode":"none"}}"#,
    );
    assert_eq!(st, 201, "{body}");
    let (st, body) = s.request("POST", "/v1.45/containers/talker/start", b"");
    assert_eq!(st, 204, "{body}");
    for round in 0..5 {
        // Logs followed, dropped after the first bytes.
        let mut c = s.connect();
        c.write_all(
            b"GET /v1.45/containers/talker/logs?follow=1&stdout=1 HTTP/1.1\r\nHost: d\r\n\r\n",
        )
        .unwrap();
        let mut b = [0u8; 64];
        assert!(c.read(&mut b).unwrap() > 0);
        drop(c);
        // Events, dropped at once.
        let mut c = s.connect();
        c.write_all(b"GET /v1.45/events HTTP/1.1\r\nHost: d\r\n\r\n")
            .unwrap();
        drop(c);
        // Attach hijacked, dropped after the upgrade.
        let mut c = s.connect();
        c.write_all(b"POST /v1.45/containers/talker/attach?stream=1&stdout=1&stdin=1 HTTP/1.1\r\nHost: d\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
            .unwrap();
        let mut b = [0u8; 256];
        let n = c.read(&mut b).unwrap();
        assert!(
            String::from_utf8_lossy(&b[..n]).starts_with("HTTP/1.1 101"),
            "{}",
            String::from_utf8_lossy(&b[..n])
        );
        c.write_all(b"half a line").unwrap();
        drop(c);
        // An exec started and dropped mid-stream.
        let (st, body) = s.request(
            "POST",
            "/v1.45/containers/talker/exec",
            br#"{"Cmd":["sh","-c","echo started; sleep 0.2"],"AttachStdout":true,"AttachStderr":true}"#,
        );
        assert_eq!(st, 201, "{body}");
        let id = serde_json::from_str::<serde_json::Value>(&body).unwrap()["Id"]
            .as_str()
            .unwrap()
            .to_string();
        let mut c = s.connect();
        write!(c, "POST /v1.45/exec/{id}/start HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n{{}}").unwrap();
        let n = c.read(&mut b).unwrap();
        assert!(
            String::from_utf8_lossy(&b[..n]).starts_with("HTTP/1.1 101"),
            "round {round}"
        );
        drop(c);
        // A request cut in the middle of its body.
        let mut c = s.connect();
        c.write_all(b"POST /v1.45/containers/create?name=cut HTTP/1.1\r\nHost: d\r\nContent-Length: 500\r\n\r\n{\"Image\":").unwrap();
        drop(c);
        s.alive();
    }
    // The container still runs and talks; nothing else was made.
    let (st, body) = s.request("GET", "/v1.45/containers/talker/json", b"");
    assert_eq!(st, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["State"]["Status"], "running", "{v}");
    assert_eq!(s.names(), vec!["talker".to_string()]);
    // Every exec ended (the dropped clients did not leave them waiting on a reader).
    std::thread::sleep(Duration::from_millis(500));
    let (st, body) = s.request("GET", "/v1.45/containers/talker/top", b"");
    assert_eq!(st, 200, "{body}");
    assert!(
        !body.contains("sleep 0.2"),
        "an exec is still running: {body}"
    );
}
