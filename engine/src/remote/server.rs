//! `wharf serve`: the engine behind a Unix socket, one thread per connection.

use std::io::{BufReader, BufWriter, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::http::{self, ChunkedWriter};
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
        if UPLOADS.contains(&method.as_str()) {
            // Arguments in a header, the data as the (chunked) body.
            let args: Value = head
                .header("x-wharf-args")
                .and_then(|a| serde_json::from_str(a).ok())
                .unwrap_or(Value::Array(vec![]));
            let mut body = http::ChunkedReader::new(&mut reader);
            upload(engine, &caller, &method, args, &mut body, &mut writer)?;
            // Whatever the engine did not read is drained, so the connection stays usable.
            std::io::copy(&mut body, &mut std::io::sink()).ctx(|| "reading the upload".into())?;
            writer.flush().ctx(|| "answering".into())?;
            continue;
        }
        if UPGRADES.contains(&method.as_str()) {
            // An exec or attach answers 101 and the connection becomes its attach stream.
            let body = http::read_body(&mut reader, &head)?;
            match upgrade(engine, &caller, &method, &body) {
                Err(e) => {
                    write_json(&mut writer, status_for(e.kind), &e)?;
                    continue;
                }
                Ok((headers, stream)) => {
                    write!(
                        writer,
                        "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: wharf-attach\r\n{headers}\r\n"
                    )
                    .ctx(|| "answering".into())?;
                    writer.flush().ctx(|| "answering".into())?;
                    if let Some(stream) = stream {
                        let conn = writer
                            .into_inner()
                            .map_err(|e| EngineError::io("answering", e.into_error()))?;
                        relay(reader, conn, stream);
                    }
                    return Ok(());
                }
            }
        }
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
        dispatch(engine, &caller, &method, args, &mut writer)?;
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

/// Copy bytes both ways between a client connection (with what its reader already
/// buffered) and an attach stream, until both directions end.
fn relay(mut from_client: BufReader<UnixStream>, to_client: UnixStream, session: UnixStream) {
    let Ok(mut session_in) = session.try_clone() else {
        return;
    };
    let up = std::thread::spawn(move || {
        let _ = std::io::copy(&mut from_client, &mut session_in);
        let _ = session_in.shutdown(std::net::Shutdown::Write);
    });
    let mut session_out = session;
    let mut to_client = to_client;
    let _ = std::io::copy(&mut session_out, &mut to_client);
    let _ = to_client.shutdown(std::net::Shutdown::Both);
    let _ = up.join();
}

/// Methods answered with `101 Switching Protocols`: the connection becomes an
/// attach-protocol stream.
const UPGRADES: &[&str] = &["exec", "container_attach", "container_start_attached"];

/// Start an upgrade method: the extra response headers and the stream to relay (none for
/// a detached exec).
fn upgrade(
    engine: &LocalEngine,
    caller: &Caller,
    method: &str,
    body: &[u8],
) -> Result<(String, Option<UnixStream>)> {
    fn args<T: DeserializeOwned>(method: &str, body: &[u8]) -> Result<T> {
        serde_json::from_slice(body)
            .map_err(|e| EngineError::invalid(format!("bad arguments for {method}: {e}")))
    }
    match method {
        "exec" => {
            let (c, cfg): (String, ExecConfig) = args(method, body)?;
            let s = engine.exec(caller, &c, &cfg)?;
            Ok((
                format!("X-Exec-Id: {}\r\nX-Exec-Pid: {}\r\n", s.id, s.pid),
                s.stream,
            ))
        }
        "container_attach" => {
            let (c,): (String,) = args(method, body)?;
            Ok((String::new(), Some(engine.container_attach(caller, &c)?)))
        }
        "container_start_attached" => {
            let (c, size): (String, Option<(u16, u16)>) = args(method, body)?;
            let s = engine.container_start_attached(caller, &c, size)?;
            Ok((String::new(), Some(s)))
        }
        _ => Err(EngineError::internal(format!("{method} is not an upgrade"))),
    }
}

/// Methods whose request body is data (an archive), not JSON arguments.
const UPLOADS: &[&str] = &["image_load", "image_import", "container_archive_put"];

/// Route an upload to the engine.
fn upload<W: Write>(
    engine: &LocalEngine,
    caller: &Caller,
    method: &str,
    a: Value,
    body: &mut dyn std::io::Read,
    w: &mut W,
) -> Result<()> {
    match method {
        "image_load" => reply(w, engine.image_load(caller, body)),
        "image_import" => call(w, method, a, |(o,): (ImportOptions,)| {
            engine.image_import(caller, body, &o)
        }),
        "container_archive_put" => call(w, method, a, |(c, d): (String, String)| {
            engine.container_archive_put(caller, &c, &d, body)
        }),
        _ => reply::<_, ()>(
            w,
            Err(EngineError::internal(format!("{method} is not an upload"))),
        ),
    }
}

/// A raw download (an archive) as a chunked body; the result travels in the
/// `X-Wharf-Result` trailer, an error after the first byte in `X-Wharf-Error`.
fn download<W: Write, T: Serialize>(
    w: &mut W,
    produce: impl FnOnce(&mut dyn Write) -> Result<T>,
) -> Result<()> {
    write!(w, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
        .ctx(|| "answering".into())?;
    let mut cw = ChunkedWriter::new(w);
    match produce(&mut cw) {
        Ok(v) => cw
            .finish_with_trailer(
                "X-Wharf-Result",
                &serde_json::to_string(&v).unwrap_or_default(),
            )
            .ctx(|| "answering".into()),
        Err(e) => cw
            .finish_with_trailer(
                "X-Wharf-Error",
                &serde_json::to_string(&e).unwrap_or_default(),
            )
            .ctx(|| "answering".into()),
    }
}

/// Stream with a typed item.
fn stream_of<W: Write, I: Serialize, T: Serialize>(
    w: &mut W,
    f: impl FnOnce(&mut dyn FnMut(I) -> bool) -> Result<T>,
) -> Result<()> {
    stream(w, |sink| {
        f(&mut |item: I| sink(serde_json::to_value(item).unwrap_or(Value::Null)))
    })
}

/// Route one request to the engine.
fn dispatch<W: Write>(
    engine: &LocalEngine,
    caller: &Caller,
    method: &str,
    a: Value,
    w: &mut W,
) -> Result<()> {
    match method {
        "ping" => reply(w, Ok("pong")),
        "whoami" => reply(w, engine.whoami(caller)),
        "permissions" => reply(w, engine.permissions(caller)),
        "info" => reply(w, engine.info(caller)),
        "events" => {
            let (filter,): (EventFilter,) = match args(method, a) {
                Ok(v) => v,
                Err(e) => return reply::<_, ()>(w, Err(e)),
            };
            stream_of(w, |sink| engine.events(caller, &filter, sink))
        }
        "image_list" => call(w, method, a, |(o,): (ImageListOptions,)| {
            engine.image_list(caller, &o)
        }),
        "image_inspect" => call(w, method, a, |(r,): (String,)| {
            engine.image_inspect(caller, &r)
        }),
        "image_history" => call(w, method, a, |(r,): (String,)| {
            engine.image_history(caller, &r)
        }),
        "image_save" => match args::<(Vec<String>, SaveFormat)>(method, a) {
            Ok((refs, fmt)) => download(w, |out| engine.image_save(caller, &refs, fmt, out)),
            Err(e) => reply::<_, ()>(w, Err(e)),
        },
        "image_tag" => call(w, method, a, |(s, t): (String, String)| {
            engine.image_tag(caller, &s, &t)
        }),
        "image_remove" => call(w, method, a, |(r, f): (String, bool)| {
            engine.image_remove(caller, &r, f)
        }),
        "image_prune" => call(w, method, a, |(all,): (bool,)| {
            engine.image_prune(caller, all)
        }),
        "image_build_demo" => call(w, method, a, |(r,): (String,)| {
            engine.image_build_demo(caller, &r)
        }),
        "image_disk_usage" => call(w, method, a, |(): ()| engine.image_disk_usage(caller)),
        "container_create" => call(w, method, a, |(s,): (ContainerCreate,)| {
            engine.container_create(caller, &s)
        }),
        "container_start" => call(w, method, a, |(id,): (String,)| {
            engine.container_start(caller, &id)
        }),
        "container_stop" => call(w, method, a, |(id, t): (String, Option<u32>)| {
            engine.container_stop(caller, &id, t)
        }),
        "container_restart" => call(w, method, a, |(id, t): (String, Option<u32>)| {
            engine.container_restart(caller, &id, t)
        }),
        "container_kill" => call(w, method, a, |(id, s): (String, String)| {
            engine.container_kill(caller, &id, &s)
        }),
        "container_pause" => call(w, method, a, |(id,): (String,)| {
            engine.container_pause(caller, &id)
        }),
        "container_unpause" => call(w, method, a, |(id,): (String,)| {
            engine.container_unpause(caller, &id)
        }),
        "container_remove" => call(w, method, a, |(id, o): (String, RemoveOptions)| {
            engine.container_remove(caller, &id, o)
        }),
        "container_rename" => call(w, method, a, |(id, n): (String, String)| {
            engine.container_rename(caller, &id, &n)
        }),
        "container_wait" => call(w, method, a, |(id,): (String,)| {
            engine.container_wait(caller, &id)
        }),
        "container_update" => call(
            w,
            method,
            a,
            |(id, r, p): (String, Resources, Option<RestartPolicy>)| {
                engine.container_update(caller, &id, &r, p.as_ref())
            },
        ),
        "container_list" => call(w, method, a, |(o,): (ContainerListOptions,)| {
            engine.container_list(caller, &o)
        }),
        "container_inspect" => call(w, method, a, |(id,): (String,)| {
            engine.container_inspect(caller, &id)
        }),
        "container_prune" => call(w, method, a, |(): ()| engine.container_prune(caller)),
        "container_logs" => match args::<(String, LogOptions)>(method, a) {
            Ok((id, o)) => stream_of(w, |sink| {
                engine.container_logs(caller, &id, &o, &mut |l: LogLine| sink(l))
            }),
            Err(e) => reply::<_, ()>(w, Err(e)),
        },
        "network_create" => call(w, method, a, |(s,): (NetworkCreate,)| {
            engine.network_create(caller, &s)
        }),
        "network_list" => call(w, method, a, |(o,): (NetworkListOptions,)| {
            engine.network_list(caller, &o)
        }),
        "network_inspect" => call(w, method, a, |(n,): (String,)| {
            engine.network_inspect(caller, &n)
        }),
        "network_remove" => call(w, method, a, |(n,): (String,)| {
            engine.network_remove(caller, &n)
        }),
        "network_prune" => call(w, method, a, |(): ()| engine.network_prune(caller)),
        "network_connect" => call(
            w,
            method,
            a,
            |(n, c, o): (String, String, NetworkConnect)| {
                engine.network_connect(caller, &n, &c, &o)
            },
        ),
        "network_disconnect" => call(w, method, a, |(n, c): (String, String)| {
            engine.network_disconnect(caller, &n, &c)
        }),
        "container_ports" => call(w, method, a, |(c,): (String,)| {
            engine.container_ports(caller, &c)
        }),
        "container_stats" => match args::<(Vec<String>, StatsOptions)>(method, a) {
            Ok((ids, o)) => stream_of(w, |sink| {
                engine.container_stats(caller, &ids, &o, &mut |b: Vec<ContainerStats>| sink(b))
            }),
            Err(e) => reply::<_, ()>(w, Err(e)),
        },
        "stats_history" => call(w, method, a, |(id,): (String,)| {
            engine.stats_history(caller, &id)
        }),
        "host_stats" => call(w, method, a, |(): ()| engine.host_stats(caller)),
        "container_top" => call(w, method, a, |(c,): (String,)| {
            engine.container_top(caller, &c)
        }),
        "container_diff" => call(w, method, a, |(c,): (String,)| {
            engine.container_diff(caller, &c)
        }),
        "container_commit" => call(w, method, a, |(c, o): (String, CommitOptions)| {
            engine.container_commit(caller, &c, &o)
        }),
        "container_stat_path" => call(w, method, a, |(c, p): (String, String)| {
            engine.container_stat_path(caller, &c, &p)
        }),
        "container_export" => match args::<(String,)>(method, a) {
            Ok((c,)) => download(w, |out| engine.container_export(caller, &c, out)),
            Err(e) => reply::<_, ()>(w, Err(e)),
        },
        "container_archive_get" => match args::<(String, String)>(method, a) {
            Ok((c, p)) => download(w, |out| engine.container_archive_get(caller, &c, &p, out)),
            Err(e) => reply::<_, ()>(w, Err(e)),
        },
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
            stream_of(w, |sink| {
                engine.image_pull(caller, &r, &o, &mut |p| {
                    sink(p);
                })
            })
        }
        "image_push" => {
            let (r,): (String,) = match args(method, a) {
                Ok(v) => v,
                Err(e) => return reply::<_, ()>(w, Err(e)),
            };
            stream_of(w, |sink| {
                engine.image_push(caller, &r, &mut |p| {
                    sink(p);
                })
            })
        }
        "registry_login" => call(w, method, a, |(s, u, p): (String, String, String)| {
            engine.registry_login(caller, &s, &u, &p)
        }),
        "registry_logout" => call(w, method, a, |(s,): (String,)| {
            engine.registry_logout(caller, &s)
        }),
        "audit_read" => reply(w, engine.audit_read(caller)),
        "audit_verify" => reply(w, engine.audit_verify(caller)),
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
