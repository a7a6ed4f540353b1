//! `wharf serve`: the engine behind a Unix socket, one thread per connection.

use std::io::{BufReader, BufWriter, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::http::{self, ChunkedWriter, Head};
use super::{status_for, StreamLine};
use crate::api::*;
use crate::caller::{Caller, Role};
use crate::error::{EngineError, IoContext, Result};
use crate::LocalEngine;

/// Bind the socket at `path` (replacing a stale one), open to local users: rights come
/// from identity and policy, not file modes.
pub fn bind(path: &Path) -> Result<UnixListener> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).ctx(|| format!("creating {}", dir.display()))?;
    }
    if path.exists() {
        if UnixStream::connect(path).is_ok() {
            return Err(EngineError::conflict(format!(
                "another wharf server is already listening on {}: stop it or use --socket",
                path.display()
            )));
        }
        std::fs::remove_file(path).ctx(|| format!("removing stale socket {}", path.display()))?;
    }
    let l = UnixListener::bind(path).ctx(|| format!("binding {}", path.display()))?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))
        .ctx(|| format!("opening {} to local users", path.display()))?;
    Ok(l)
}

/// Serve connections from `listener` until it fails.
pub fn serve(engine: Arc<LocalEngine>, listener: UnixListener) -> Result<()> {
    for conn in listener.incoming() {
        match conn {
            Ok(stream) => {
                let engine = engine.clone();
                std::thread::spawn(move || {
                    if let Err(e) = handle_connection(&engine, stream) {
                        tracing::debug!("connection ended: {e}");
                    }
                });
            }
            Err(e) => tracing::warn!("accepting a connection: {e}"),
        }
    }
    Ok(())
}

/// The caller behind a connection, from the kernel's peer credentials.
pub fn peer_caller(engine: &LocalEngine, stream: &UnixStream) -> Result<Caller> {
    let cred = nix::sys::socket::getsockopt(stream, nix::sys::socket::sockopt::PeerCredentials)
        .map_err(|e| EngineError::sys("reading the peer's credentials (SO_PEERCRED)", e))?;
    let uid = cred.uid();
    Ok(match engine.policy() {
        Some(p) => p.caller_for(uid),
        None => {
            let (name, gid, _) = crate::policy::user_groups(uid);
            // Single-user mode: root (and the server's own user) are admin; nobody else
            // has a role until a policy file admits them.
            let me = nix::unistd::geteuid().as_raw();
            let role = if uid == 0 || uid == me {
                Role::admin()
            } else {
                Role("none".into())
            };
            Caller {
                uid,
                gid,
                name,
                role,
                project: None,
            }
        }
    })
}

/// Serve one connection: requests until the client closes it.
pub fn handle_connection(engine: &LocalEngine, stream: UnixStream) -> Result<()> {
    let caller = peer_caller(engine, &stream)?;
    let mut reader = BufReader::new(stream.try_clone().ctx(|| "cloning the connection".into())?);
    let mut writer = BufWriter::new(stream);
    if caller.role.as_str() == "none" {
        // Refused and audited at the first request, with the reason.
        let msg = match engine.policy() {
            Some(p) => format!("{} has no role in the policy {}: ask an admin to add them", caller.name, p.source.display()),
            None => format!(
                "{} may not use this engine: it runs without a policy file, so only root may; an admin can admit users with --policy",
                caller.name
            ),
        };
        let _ = engine
            .audit()
            .record(&caller, "engine.connect", "", "denied", &msg);
        if let Some(head) = http::read_request(&mut reader)? {
            let _ = http::read_body(&mut reader, &head);
            write_json(&mut writer, 403, &EngineError::denied(msg))?;
        }
        return Ok(());
    }
    while let Some(head) = http::read_request(&mut reader)? {
        let Some(method) = head.path.strip_prefix("/v1/").map(str::to_string) else {
            let _ = http::read_body(&mut reader, &head)?;
            write_json(
                &mut writer,
                404,
                &EngineError::not_found("endpoint", &head.path, "the engine API lives under /v1/"),
            )?;
            continue;
        };
        let body = http::read_body(&mut reader, &head)?;
        let args: Value = if body.is_empty() {
            Value::Array(vec![])
        } else {
            match serde_json::from_slice(&body) {
                Ok(v) => v,
                Err(e) => {
                    write_json(
                        &mut writer,
                        400,
                        &EngineError::invalid(format!(
                            "request body for {method} is not JSON: {e}"
                        )),
                    )?;
                    continue;
                }
            }
        };
        dispatch(engine, &caller, &method, &head, args, &mut writer)?;
        writer.flush().ctx(|| "answering".into())?;
    }
    Ok(())
}

fn write_head<W: Write>(w: &mut W, status: u16, extra: &str) -> Result<()> {
    write!(
        w,
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\n{extra}\r\n",
        http::reason(status)
    )
    .ctx(|| "answering".into())
}

fn write_json<W: Write, T: Serialize>(w: &mut W, status: u16, value: &T) -> Result<()> {
    let body = serde_json::to_vec(value)
        .map_err(|e| EngineError::internal(format!("serializing an answer: {e}")))?;
    write_head(w, status, &format!("Content-Length: {}\r\n", body.len()))?;
    w.write_all(&body).ctx(|| "answering".into())?;
    w.flush().ctx(|| "answering".into())
}

fn reply<W: Write, T: Serialize>(w: &mut W, res: Result<T>) -> Result<()> {
    match res {
        Ok(v) => write_json(w, 200, &v),
        Err(e) => write_json(w, status_for(e.kind), &e),
    }
}

fn args<T: DeserializeOwned>(method: &str, v: Value) -> Result<T> {
    serde_json::from_value(v)
        .map_err(|e| EngineError::invalid(format!("bad arguments for {method}: {e}")))
}

/// Decode the arguments, call, answer.
fn call<W: Write, A: DeserializeOwned, T: Serialize>(
    w: &mut W,
    method: &str,
    a: Value,
    f: impl FnOnce(A) -> Result<T>,
) -> Result<()> {
    reply(w, args::<A>(method, a).and_then(f))
}

/// A streamed answer: `items` calls its sink for each item; the sink returns `false`
/// once the client has gone.
fn stream<W: Write, T: Serialize>(
    w: &mut W,
    items: impl FnOnce(&mut dyn FnMut(Value) -> bool) -> Result<T>,
) -> Result<()> {
    write_head(w, 200, "Transfer-Encoding: chunked\r\n")?;
    let mut cw = ChunkedWriter::new(w);
    let mut gone = false;
    let res = items(&mut |item| {
        let mut line = serde_json::to_vec(&StreamLine::Item(item)).unwrap_or_default();
        line.push(b'\n');
        gone = cw.write_all(&line).and_then(|_| cw.flush()).is_err();
        !gone
    });
    if gone {
        return Err(EngineError::unavailable("the client went away"));
    }
    let last = match res {
        Ok(v) => StreamLine::End(serde_json::to_value(v).unwrap_or(Value::Null)),
        Err(e) => StreamLine::Error(e),
    };
    let mut line = serde_json::to_vec(&last).unwrap_or_default();
    line.push(b'\n');
    cw.write_all(&line).ctx(|| "answering".into())?;
    cw.finish().ctx(|| "answering".into())
}

/// Route one request to the engine.
fn dispatch<W: Write>(
    engine: &LocalEngine,
    caller: &Caller,
    method: &str,
    _head: &Head,
    a: Value,
    w: &mut W,
) -> Result<()> {
    match method {
        "ping" => reply(w, Ok("pong")),
        "whoami" => reply(w, Ok(engine.effective_caller(caller))),
        "info" => reply(w, engine.info(caller)),
        "events" => {
            let (filter,): (EventFilter,) = match args(method, a) {
                Ok(v) => v,
                Err(e) => return reply::<_, ()>(w, Err(e)),
            };
            stream(w, |sink| {
                engine.events(caller, &filter, &mut |ev| {
                    sink(serde_json::to_value(ev).unwrap_or(Value::Null))
                })
            })
        }
        "volume_create" => call(w, method, a, |(o,): (VolumeCreate,)| {
            engine.volume_create(caller, &o)
        }),
        "volume_list" => call(w, method, a, |(o,): (VolumeListOptions,)| {
            engine.volume_list(caller, &o)
        }),
        "volume_inspect" => call(w, method, a, |(n,): (String,)| {
            engine.volume_inspect(caller, &n)
        }),
        "volume_remove" => call(w, method, a, |(n, f): (String, bool)| {
            engine.volume_remove(caller, &n, f)
        }),
        "volume_prune" => call(w, method, a, |(all,): (bool,)| {
            engine.volume_prune(caller, all)
        }),
        "image_pull" => {
            let (r, o): (String, PullOptions) = match args(method, a) {
                Ok(v) => v,
                Err(e) => return reply::<_, ()>(w, Err(e)),
            };
            stream(w, |sink| {
                engine.image_pull(caller, &r, &o, &mut |p| {
                    sink(serde_json::to_value(p).unwrap_or(Value::Null));
                })
            })
        }
        "image_push" => {
            let (r,): (String,) = match args(method, a) {
                Ok(v) => v,
                Err(e) => return reply::<_, ()>(w, Err(e)),
            };
            stream(w, |sink| {
                engine.image_push(caller, &r, &mut |p| {
                    sink(serde_json::to_value(p).unwrap_or(Value::Null));
                })
            })
        }
        "registry_login" => call(w, method, a, |(s, u, p): (String, String, String)| {
            engine.registry_login(caller, &s, &u, &p)
        }),
        "registry_logout" => call(w, method, a, |(s,): (String,)| {
            engine.registry_logout(caller, &s)
        }),
        "audit_read" => reply(
            w,
            engine
                .authorize(caller, "audit.read", None)
                .and_then(|_| engine.audit().read()),
        ),
        "audit_verify" => reply(
            w,
            engine
                .authorize(caller, "audit.verify", None)
                .and_then(|_| engine.audit().verify()),
        ),
        _ => reply::<_, ()>(
            w,
            Err(EngineError::not_found(
                "engine method",
                method,
                "the server and client versions may differ",
            )),
        ),
    }
}
