//! A stand-in Docker daemon that answers at once from fixed answers: what the docker CLI
//! costs by itself for `docker run --rm IMAGE true` and `docker ps -a`, measured against
//! the same CLI talking to wharf and to dockerd. Nothing runs: `create` answers an id,
//! `attach` switches protocols and closes once `start` came, `wait` answers exit code 0
//! after the `start`, `containers/json` answers the bytes it was given (wharf's own
//! answer, so the CLI decodes the same rows). Bench-only: it is the floor no daemon can
//! go under, not a daemon.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// How many `start`s it has answered, for the `attach` and `wait` that wait for one.
#[derive(Default)]
struct Starts {
    n: Mutex<u64>,
    cv: Condvar,
}

impl Starts {
    fn now(&self) -> u64 {
        *self.n.lock().unwrap_or_else(|e| e.into_inner())
    }
    fn bump(&self) {
        *self.n.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.cv.notify_all();
    }
    /// Wait (at most 5 s) until a start after `seen`.
    fn after(&self, seen: u64) {
        let g = self.n.lock().unwrap_or_else(|e| e.into_inner());
        let _ = self
            .cv
            .wait_timeout_while(g, Duration::from_secs(5), |n| *n <= seen);
    }
}

const HEAD: &str =
    "Api-Version: 1.45\r\nDocker-Experimental: false\r\nOstype: linux\r\nServer: instant\r\n";

/// Serve on `sock` from a thread of its own for as long as the process lives;
/// `list` is the body of every `GET /containers/json`.
pub fn serve(sock: &Path, list: Vec<u8>) -> std::io::Result<()> {
    let _ = std::fs::remove_file(sock);
    let l = UnixListener::bind(sock)?;
    let list = Arc::new(list);
    let starts = Arc::new(Starts::default());
    std::thread::spawn(move || {
        for c in l.incoming().flatten() {
            let (list, starts) = (list.clone(), starts.clone());
            std::thread::spawn(move || {
                let _ = connection(c, &list, &starts);
            });
        }
    });
    Ok(())
}

fn connection(c: UnixStream, list: &[u8], starts: &Starts) -> std::io::Result<()> {
    let mut w = c.try_clone()?;
    let mut r = BufReader::new(c);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let (method, path) = (
            parts.next().unwrap_or("").to_string(),
            parts.next().unwrap_or("").to_string(),
        );
        let mut len = 0usize;
        loop {
            let mut h = String::new();
            if r.read_line(&mut h)? == 0 {
                return Ok(());
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; len];
        r.read_exact(&mut body)?;
        let path = path.split('?').next().unwrap_or("");
        if path.ends_with("/_ping") {
            let b = if method == "HEAD" { "" } else { "OK" };
            write!(w, "HTTP/1.1 200 OK\r\n{HEAD}Content-Length: 2\r\n\r\n{b}")?;
        } else if path.ends_with("/containers/create") {
            let b = format!("{{\"Id\":\"{}\",\"Warnings\":[]}}", "a".repeat(64));
            write!(
                w,
                "HTTP/1.1 201 Created\r\n{HEAD}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}",
                b.len()
            )?;
        } else if path.ends_with("/attach") {
            let seen = starts.now();
            write!(
                w,
                "HTTP/1.1 101 UPGRADED\r\n{HEAD}Content-Type: application/vnd.docker.multiplexed-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
            )?;
            starts.after(seen);
            return Ok(());
        } else if path.ends_with("/wait") {
            let seen = starts.now();
            write!(
                w,
                "HTTP/1.1 200 OK\r\n{HEAD}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            )?;
            w.flush()?;
            starts.after(seen);
            let b = "{\"Error\":null,\"StatusCode\":0}\n";
            write!(w, "{:x}\r\n{b}\r\n0\r\n\r\n", b.len())?;
        } else if path.ends_with("/start") {
            write!(w, "HTTP/1.1 204 No Content\r\n{HEAD}\r\n")?;
            starts.bump();
        } else if path.ends_with("/containers/json") {
            write!(
                w,
                "HTTP/1.1 200 OK\r\n{HEAD}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                list.len()
            )?;
            w.write_all(list)?;
        } else {
            let b = format!("{{\"message\":\"the instant daemon does not answer {path}\"}}");
            write!(
                w,
                "HTTP/1.1 404 Not Found\r\n{HEAD}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}",
                b.len()
            )?;
        }
        w.flush()?;
    }
}

/// The body of `GET path` on the Docker API socket `sock` (HTTP/1.0: the answer is the
/// bytes up to the close, no chunks).
pub fn get_body(sock: &Path, path: &str) -> std::io::Result<Vec<u8>> {
    let mut c = UnixStream::connect(sock)?;
    write!(c, "GET {path} HTTP/1.0\r\nHost: docker\r\n\r\n")?;
    let mut all = Vec::new();
    c.read_to_end(&mut all)?;
    let at = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no end of the answer's head"))?;
    Ok(all.split_off(at + 4))
}
