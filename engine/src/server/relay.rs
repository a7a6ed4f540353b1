//! After a `101`: the upgraded client connection and an engine attach stream
//! ([`crate::runtime::attach`] frames) joined. wharf's own clients speak the attach
//! protocol themselves (bytes are copied as they are); Docker clients get Docker's raw
//! stream (a terminal) or its multiplexed stdout/stderr frames, and their stdin becomes
//! `STDIN` frames, their half-close `STDIN_EOF`.

use std::sync::Arc;

use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::OwnedWriteHalf;
use tokio::sync::Mutex;

use crate::runtime::attach;

/// The engine-side writer of an attach stream, shared with whoever sends it resizes
/// (the Docker API's `resize` endpoints) so frames never interleave.
pub type EngineWriter = Arc<Mutex<OwnedWriteHalf>>;

/// How the client speaks.
pub enum Mode {
    /// wharf's attach protocol, copied byte for byte.
    Wharf,
    /// Docker's hijacked stream.
    Docker(DockerStream),
}

/// A Docker client's view of an attach or exec stream.
pub struct DockerStream {
    /// With a terminal the stream is raw; without, each chunk has an 8-byte header
    /// naming stdout (1) or stderr (2).
    pub tty: bool,
    /// Forward the client's bytes as stdin.
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    /// Called with the exit code when the process ends (exec inspect reads it), and
    /// with the writer once the relay holds it (resizes go through it).
    pub on_exit: Option<Box<dyn FnOnce(i32) + Send>>,
    pub on_writer: Option<Box<dyn FnOnce(EngineWriter) + Send>>,
    /// Bytes the client sends that detach it (Docker's `ctrl-p,ctrl-q` by default).
    pub detach_keys: Option<Vec<u8>>,
    /// Bytes written to the client before the stream (an attach's `logs=1` replay,
    /// already framed).
    pub prefix: Vec<u8>,
}

/// The 8-byte header Docker puts before each chunk of a multiplexed stream.
pub fn mux_header(stream: u8, len: usize) -> [u8; 8] {
    let n = (len as u32).to_be_bytes();
    [stream, 0, 0, 0, n[0], n[1], n[2], n[3]]
}

/// Join `client` and `engine` until both directions end.
pub async fn run(client: Upgraded, engine: std::os::unix::net::UnixStream, mode: Mode) {
    if engine.set_nonblocking(true).is_err() {
        return;
    }
    let Ok(engine) = tokio::net::UnixStream::from_std(engine) else {
        return;
    };
    let client = TokioIo::new(client);
    match mode {
        Mode::Wharf => {
            let mut client = client;
            let mut engine = engine;
            let _ = tokio::io::copy_bidirectional(&mut client, &mut engine).await;
        }
        Mode::Docker(d) => docker(client, engine, d).await,
    }
}

async fn docker(client: TokioIo<Upgraded>, engine: tokio::net::UnixStream, mut d: DockerStream) {
    let (mut c_read, mut c_write) = tokio::io::split(client);
    let (mut e_read, e_write) = engine.into_split();
    let e_write: EngineWriter = Arc::new(Mutex::new(e_write));
    if let Some(f) = d.on_writer.take() {
        f(e_write.clone());
    }
    let (tty, want_out, want_err) = (d.tty, d.stdout, d.stderr);
    let mut on_exit = d.on_exit.take();
    let prefix = std::mem::take(&mut d.prefix);
    // Engine to client.
    let down = async move {
        if !prefix.is_empty() && c_write.write_all(&prefix).await.is_err() {
            return;
        }
        let mut head = [0u8; 5];
        loop {
            if e_read.read_exact(&mut head).await.is_err() {
                break;
            }
            let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
            if len > attach::MAX_FRAME {
                break;
            }
            let mut data = vec![0u8; len];
            if e_read.read_exact(&mut data).await.is_err() {
                break;
            }
            let (stream, wanted) = match head[0] {
                attach::STDOUT => (1u8, want_out),
                attach::STDERR => (2u8, want_err),
                attach::EXIT => {
                    let code = String::from_utf8_lossy(&data).trim().parse().unwrap_or(-1);
                    if let Some(f) = on_exit.take() {
                        f(code);
                    }
                    break;
                }
                attach::ERROR => {
                    // `<code>\n<message>`: the process could not be started.
                    let text = String::from_utf8_lossy(&data).into_owned();
                    let (code, msg) = text.split_once('\n').unwrap_or(("126", &text));
                    if let Some(f) = on_exit.take() {
                        f(code.trim().parse().unwrap_or(126));
                    }
                    let line = format!("{msg}\n").into_bytes();
                    let out = if tty {
                        line
                    } else {
                        let mut v = mux_header(2, line.len()).to_vec();
                        v.extend_from_slice(&line);
                        v
                    };
                    let _ = c_write.write_all(&out).await;
                    break;
                }
                _ => continue,
            };
            if !wanted || data.is_empty() {
                continue;
            }
            let ok = if tty {
                c_write.write_all(&data).await
            } else {
                let mut v = Vec::with_capacity(8 + data.len());
                v.extend_from_slice(&mux_header(stream, data.len()));
                v.extend_from_slice(&data);
                c_write.write_all(&v).await
            };
            if ok.is_err() || c_write.flush().await.is_err() {
                break;
            }
        }
        let _ = c_write.shutdown().await;
    };
    // Client to engine.
    let stdin = d.stdin;
    let detach = d.detach_keys.take();
    let w = e_write.clone();
    let up = async move {
        let mut buf = vec![0u8; 32 * 1024];
        // Bytes that may be the start of the detach sequence, held back until it is
        // clear whether they are.
        let mut held: Vec<u8> = Vec::new();
        loop {
            let n = match c_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if !stdin {
                continue;
            }
            let mut out = Vec::with_capacity(n);
            let mut detached = false;
            match &detach {
                None => out.extend_from_slice(&buf[..n]),
                Some(keys) => {
                    for &b in &buf[..n] {
                        if b == keys[held.len()] {
                            held.push(b);
                            if held.len() == keys.len() {
                                detached = true;
                                break;
                            }
                        } else {
                            out.append(&mut held);
                            if b == keys[0] {
                                held.push(b);
                            } else {
                                out.push(b);
                            }
                        }
                    }
                }
            }
            if !out.is_empty() {
                let frame = attach::frame(attach::STDIN, &out);
                if w.lock().await.write_all(&frame).await.is_err() {
                    return false;
                }
            }
            if detached {
                // Detaching leaves the process running (no EOF on its stdin): the
                // connection is simply closed, as a wharf client does.
                return true;
            }
        }
        if stdin {
            let mut g = w.lock().await;
            if !held.is_empty() {
                let _ = g.write_all(&attach::frame(attach::STDIN, &held)).await;
            }
            let _ = g.write_all(&attach::frame(attach::STDIN_EOF, &[])).await;
        }
        false
    };
    // The stream ends when the process's output ends; the client's side may stay open
    // (a `docker run` without -i never closes its stdin).
    tokio::pin!(down);
    tokio::pin!(up);
    tokio::select! {
        _ = &mut down => {}
        detached = &mut up => {
            if !detached {
                (&mut down).await;
            }
        }
    }
}

/// Send a terminal size to an attach stream.
pub async fn resize(w: &EngineWriter, rows: u16, cols: u16) -> std::io::Result<()> {
    let mut p = Vec::with_capacity(4);
    p.extend_from_slice(&rows.to_be_bytes());
    p.extend_from_slice(&cols.to_be_bytes());
    w.lock()
        .await
        .write_all(&attach::frame(attach::RESIZE, &p))
        .await
}
