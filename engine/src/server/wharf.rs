//! wharf's own protocol on the socket: `POST /v1/<method>` with the method's arguments
//! as a JSON array. A plain answer is `200` with the result as JSON; an error is a 4xx/5xx
//! status with an [`EngineError`] as JSON. Streams (events, logs, stats, pull progress)
//! answer with a chunked body of JSON lines ([`StreamLine`]); downloads (archives) with a
//! raw chunked body whose result or late error travels in a trailer; uploads send the
//! arguments in `X-Wharf-Args` and the data as the body; `exec` and the attach methods
//! answer `101` and the connection carries the attach protocol.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::bridge::{After, Responder};
use super::relay::Mode;
use super::{Req, Shared};
use crate::api::*;
use crate::caller::Caller;
use crate::error::{EngineError, Result};
use crate::policy::Action;
use crate::remote::{status_for, StreamLine};
use crate::LocalEngine;

/// The permission a method needs, decided before its arguments are read; `None` for
/// methods every caller with a role may call (their checks are inside the engine).
pub(crate) fn action_of(method: &str) -> Option<Action> {
    use Action::*;
    Some(match method {
        "info" => SystemInfo,
        "events" => EventsRead,
        "image_list" | "image_disk_usage" => ImageList,
        "image_inspect" => ImageInspect,
        "image_history" => ImageHistory,
        "image_save" => ImageSave,
        "image_tag" => ImageTag,
        "image_remove" => ImageRemove,
        "image_prune" => ImagePrune,
        "image_build_demo" | "image_build" => ImageBuild,
        "build_cache_list" | "build_cache_usage" => ImageList,
        "build_cache_prune" => ImagePrune,
        "image_load" => ImageLoad,
        "image_import" => ImageImport,
        "image_pull" => ImagePull,
        "image_push" => ImagePush,
        "registry_login" | "registry_logout" => ImagePull,
        // Browsing reads a registry as a pull does; deleting a tag changes it as a push
        // does (see api/registries.rs).
        "registry_list" | "registry_catalog" | "registry_tags" | "registry_manifest" => ImagePull,
        "registry_delete" => ImagePush,
        "policy_read" | "connections" | "account_usage" => PolicyRead,
        "policy_write" => PolicyWrite,
        "container_create" => ContainerCreate,
        "container_start" | "container_start_attached" => ContainerStart,
        "container_stop" => ContainerStop,
        "container_restart" => ContainerRestart,
        "container_kill" => ContainerKill,
        "container_pause" => ContainerPause,
        "container_unpause" => ContainerUnpause,
        "container_remove" => ContainerRemove,
        "container_rename" => ContainerRename,
        "container_wait" => ContainerWait,
        "container_update" => ContainerUpdate,
        "container_list" => ContainerList,
        "container_inspect" | "container_ports" | "container_stat_path" => ContainerInspect,
        "container_prune" => ContainerPrune,
        "container_logs" => ContainerLogs,
        "container_attach" => ContainerAttach,
        "container_stats" | "stats_history" => ContainerStats,
        "container_top" => ContainerTop,
        "container_diff" => ContainerDiff,
        "container_commit" => ContainerCommit,
        "container_export" => ContainerExport,
        "container_archive_get" | "container_archive_put" => ContainerCp,
        "exec" => ContainerExec,
        "network_create" => NetworkCreate,
        "network_list" => NetworkList,
        "network_inspect" => NetworkInspect,
        "network_remove" => NetworkRemove,
        "network_prune" => NetworkPrune,
        "network_connect" => NetworkConnect,
        "network_disconnect" => NetworkDisconnect,
        "volume_create" => VolumeCreate,
        "volume_list" => VolumeList,
        "volume_inspect" => VolumeInspect,
        "volume_remove" => VolumeRemove,
        "volume_prune" => VolumePrune,
        "audit_read" => AuditRead,
        "audit_verify" => AuditVerify,
        "host_stats" => SystemInfo,
        _ => return None,
    })
}

/// Methods whose request body is data (an archive), not JSON arguments.
const UPLOADS: &[&str] = &[
    "image_load",
    "image_import",
    "container_archive_put",
    "image_build",
];

/// Methods answered with `101 Switching Protocols`.
const UPGRADES: &[&str] = &["exec", "container_attach", "container_start_attached"];

/// Answer one request of wharf's protocol.
pub fn handle(sh: &Shared, caller: &Caller, mut r: Req, out: &mut Responder) {
    let engine = &*sh.engine;
    let Some(method) = r.parts.uri.path().strip_prefix("/v1/").map(str::to_string) else {
        return fail(
            out,
            EngineError::not_found(
                "endpoint",
                r.parts.uri.path(),
                "the engine API lives under /v1/",
            ),
        );
    };
    if r.parts.method != http::Method::POST {
        return fail(
            out,
            EngineError::invalid(format!("{method}: wharf's protocol takes POST")),
        );
    }
    if let Some(a) = action_of(&method) {
        if let Err(e) = engine.gate().precheck(caller, a) {
            return fail(out, e);
        }
    } else if !matches!(method.as_str(), "ping" | "whoami" | "permissions" | "trace") {
        return fail(
            out,
            EngineError::not_found(
                "engine method",
                &method,
                "the server and client versions may differ",
            ),
        );
    }
    if UPLOADS.contains(&method.as_str()) {
        // Arguments in a header, the data as the (chunked) body.
        let raw = r.parts.headers.get("x-wharf-args");
        let args: Value = match raw.map(|v| v.to_str()) {
            None => Value::Array(vec![]),
            // Present but not visible ASCII: refused by name, not taken as absent.
            Some(Err(_)) => {
                return fail(
                    out,
                    EngineError::invalid(format!(
                    "X-Wharf-Args of {method} is not visible ASCII: send it JSON-escaped (\\uXXXX)"
                )),
                )
            }
            Some(Ok(a)) => match serde_json::from_str(a) {
                Ok(v) => v,
                Err(e) => {
                    return fail(
                        out,
                        EngineError::invalid(format!("X-Wharf-Args of {method} is not JSON: {e}")),
                    )
                }
            },
        };
        crate::trace::note_args(&args);
        let mut body = r.body(None);
        upload(engine, caller, &method, args, &mut body, out);
        return;
    }
    let body = match r.body(Some(sh.limits.max_json_body)).read_all() {
        Ok(b) => b,
        Err(e) => {
            return fail(
                out,
                EngineError::invalid(format!("request body of {method}: {e}")),
            )
        }
    };
    let args: Value = if body.is_empty() {
        Value::Array(vec![])
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => {
                return fail(
                    out,
                    EngineError::invalid(format!("request body for {method} is not JSON: {e}")),
                )
            }
        }
    };
    drop(body);
    crate::trace::note_args(&args);
    if UPGRADES.contains(&method.as_str()) {
        match upgrade(engine, caller, &method, args) {
            Err(e) => fail(out, e),
            Ok((headers, stream)) => {
                let mut h = headers;
                h.insert(
                    http::header::CONNECTION,
                    HeaderValue::from_static("Upgrade"),
                );
                h.insert(
                    http::header::UPGRADE,
                    HeaderValue::from_static("wharf-attach"),
                );
                let after = match stream {
                    Some(s) => After::Relay(s, Mode::Wharf),
                    None => After::Nothing,
                };
                out.start_with(StatusCode::SWITCHING_PROTOCOLS, h, after);
            }
        }
        return;
    }
    if method == "connections" {
        // The connections are the server's, not the engine's.
        return reply(
            out,
            super::accounts::connections(engine, caller, &sh.conns, sh.socket.as_deref()),
        );
    }
    if method == "container_list" {
        let inm = r.header("if-none-match").map(str::to_string);
        return container_list(sh, caller, args, inm.as_deref(), out);
    }
    dispatch(engine, caller, &method, args, out);
}

/// `container_list`, from the server's kept answers while nothing changed
/// ([`super::lists`]); `-s` (sizes walked on disk) and `ancestor=` (image names, which
/// the container index does not follow) are always made afresh.
fn container_list(
    sh: &Shared,
    caller: &Caller,
    a: Value,
    if_none_match: Option<&str>,
    out: &mut Responder,
) {
    let engine = &*sh.engine;
    let opts: ContainerListOptions =
        match args::<(ContainerListOptions,)>("container_list", a.clone()) {
            Ok((o,)) => o,
            Err(e) => return fail(out, e),
        };
    if opts.size || super::lists::depends_on_images(&opts.filters) {
        return reply(out, engine.container_list(caller, &opts));
    }
    let key = super::lists::wharf_key(&super::lists::scope_of(engine, caller), &a);
    let res = sh
        .lists
        .answer(engine, key, if_none_match, HeaderMap::new(), out, || {
            let l = engine.container_list_timed(caller, &opts)?;
            let body = serde_json::to_vec(&l.rows)
                .map_err(|e| EngineError::internal(format!("serializing the listing: {e}")))?;
            Ok(super::lists::Made {
                body,
                generation: l.generation,
                until: l.until,
            })
        });
    if let Err(e) = res {
        fail(out, e);
    }
}

fn status(kind: crate::ErrorKind) -> StatusCode {
    StatusCode::from_u16(status_for(kind)).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn fail(w: &mut Responder, e: EngineError) {
    w.json(status(e.kind), &e);
}

fn reply<T: Serialize>(w: &mut Responder, res: Result<T>) {
    match res {
        Ok(v) => w.json(StatusCode::OK, &v),
        Err(e) => fail(w, e),
    }
}

fn args<T: DeserializeOwned>(method: &str, v: Value) -> Result<T> {
    serde_json::from_value(v)
        .map_err(|e| EngineError::invalid(format!("bad arguments for {method}: {e}")))
}

/// Decode the arguments, call, answer.
fn call<A: DeserializeOwned, T: Serialize>(
    w: &mut Responder,
    method: &str,
    a: Value,
    f: impl FnOnce(A) -> Result<T>,
) {
    reply(w, args::<A>(method, a).and_then(f))
}

fn line(v: &StreamLine) -> Bytes {
    let mut l = serde_json::to_vec(v).unwrap_or_default();
    l.push(b'\n');
    Bytes::from(l)
}

/// A streamed answer: `items` calls its sink for each item; the sink returns `false`
/// once the client has gone.
fn stream<T: Serialize>(
    w: &mut Responder,
    items: impl FnOnce(&mut dyn FnMut(Value) -> bool) -> Result<T>,
) {
    let mut body = w.start(StatusCode::OK, super::json_headers());
    let res = items(&mut |item| body.send(line(&StreamLine::Item(item))));
    if body.gone() {
        return;
    }
    let last = match res {
        Ok(v) => StreamLine::End(serde_json::to_value(v).unwrap_or(Value::Null)),
        Err(e) => StreamLine::Error(e),
    };
    body.send(line(&last));
}

/// Stream with a typed item.
fn stream_of<I: Serialize, T: Serialize>(
    w: &mut Responder,
    f: impl FnOnce(&mut dyn FnMut(I) -> bool) -> Result<T>,
) {
    stream(w, |sink| {
        f(&mut |item: I| sink(serde_json::to_value(item).unwrap_or(Value::Null)))
    })
}

/// A raw download (an archive) as a chunked body; the result travels in the
/// `X-Wharf-Result` trailer, an error after the first byte in `X-Wharf-Error`
/// (the client asks for trailers with `TE: trailers`).
fn download<T: Serialize>(
    w: &mut Responder,
    produce: impl FnOnce(&mut dyn std::io::Write) -> Result<T>,
) {
    let mut h = HeaderMap::new();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(
        http::header::TRAILER,
        HeaderValue::from_static("X-Wharf-Result, X-Wharf-Error"),
    );
    let mut body = w.start(StatusCode::OK, h);
    match produce(&mut body) {
        Ok(v) => body.trailers(&[(
            "X-Wharf-Result",
            serde_json::to_string(&v).unwrap_or_default(),
        )]),
        Err(e) => body.trailers(&[(
            "X-Wharf-Error",
            serde_json::to_string(&e).unwrap_or_default(),
        )]),
    }
}

/// Route an upload to the engine.
fn upload(
    engine: &LocalEngine,
    caller: &Caller,
    method: &str,
    a: Value,
    body: &mut dyn std::io::Read,
    w: &mut Responder,
) {
    match method {
        "image_load" => reply(w, engine.image_load(caller, body)),
        "image_import" => call(w, method, a, |(o,): (ImportOptions,)| {
            engine.image_import(caller, body, &o)
        }),
        "container_archive_put" => call(w, method, a, |(c, d): (String, String)| {
            engine.container_archive_put(caller, &c, &d, body)
        }),
        "image_build" => {
            let (o,): (BuildOptions,) = match args(method, a) {
                Ok(v) => v,
                Err(e) => return fail(w, e),
            };
            // The body is the context tar; the events stream back, and a client that
            // goes away cancels the build (its sink answers false).
            stream_of(w, |sink| {
                engine.image_build(caller, &o, BuildContext::Tar(body), &mut |ev| sink(ev))
            })
        }
        _ => fail(
            w,
            EngineError::internal(format!("{method} is not an upload")),
        ),
    }
}

/// Start an upgrade method: the extra response headers and the stream to relay (none for
/// a detached exec).
fn upgrade(
    engine: &LocalEngine,
    caller: &Caller,
    method: &str,
    a: Value,
) -> Result<(HeaderMap, Option<std::os::unix::net::UnixStream>)> {
    let mut h = HeaderMap::new();
    match method {
        "exec" => {
            let (c, cfg): (String, ExecConfig) = args(method, a)?;
            let s = engine.exec(caller, &c, &cfg)?;
            if let Ok(v) = HeaderValue::from_str(&s.id) {
                h.insert("x-exec-id", v);
            }
            h.insert("x-exec-pid", HeaderValue::from(s.pid));
            Ok((h, s.stream))
        }
        "container_attach" => {
            let (c,): (String,) = args(method, a)?;
            Ok((h, Some(engine.container_attach(caller, &c)?)))
        }
        "container_start_attached" => {
            let (c, size): (String, Option<(u16, u16)>) = args(method, a)?;
            Ok((h, Some(engine.container_start_attached(caller, &c, size)?)))
        }
        _ => Err(EngineError::internal(format!("{method} is not an upgrade"))),
    }
}

/// The API trace as a stream of JSON lines: refused before the first line when the
/// caller may not read what they asked for; ends when the client leaves.
fn trace(
    engine: &LocalEngine,
    caller: &Caller,
    opts: &crate::trace::TraceOptions,
    w: &mut Responder,
) {
    if opts.all {
        if let Err(e) = engine.gate().authorize(caller, Action::AuditTrace) {
            return fail(w, e);
        }
    }
    let body = std::cell::RefCell::new(w.start(StatusCode::OK, super::json_headers()));
    let res = crate::local::follow_trace(
        engine,
        engine.tracer(),
        caller,
        opts,
        &mut |e| {
            let v = serde_json::to_value(e).unwrap_or(Value::Null);
            body.borrow_mut().send(line(&StreamLine::Item(v)))
        },
        &|| !body.borrow().closed(),
    );
    let mut body = body.into_inner();
    if body.gone() {
        return;
    }
    let last = match res {
        Ok(()) => StreamLine::End(Value::Null),
        Err(e) => StreamLine::Error(e),
    };
    body.send(line(&last));
}

/// Route one request to the engine.
fn dispatch(engine: &LocalEngine, caller: &Caller, method: &str, a: Value, w: &mut Responder) {
    match method {
        "ping" => reply(w, Ok("pong")),
        "whoami" => reply(w, engine.whoami(caller)),
        "permissions" => reply(w, engine.permissions(caller)),
        "info" => reply(w, engine.info(caller)),
        "trace" => {
            let (opts,): (crate::trace::TraceOptions,) = match args(method, a) {
                Ok(v) => v,
                Err(e) => return fail(w, e),
            };
            trace(engine, caller, &opts, w)
        }
        "events" => {
            let (filter,): (EventFilter,) = match args(method, a) {
                Ok(v) => v,
                Err(e) => return fail(w, e),
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
            Err(e) => fail(w, e),
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
            Err(e) => fail(w, e),
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
            Err(e) => fail(w, e),
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
            Err(e) => fail(w, e),
        },
        "container_archive_get" => match args::<(String, String)>(method, a) {
            Ok((c, p)) => download(w, |out| engine.container_archive_get(caller, &c, &p, out)),
            Err(e) => fail(w, e),
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
                Err(e) => return fail(w, e),
            };
            stream_of(w, |sink| {
                engine.image_pull(caller, &r, &o, &mut |p| {
                    sink(p);
                })
            })
        }
        "image_push" => {
            let (r, o): (String, PushOptions) = match args(method, a) {
                Ok(v) => v,
                Err(e) => return fail(w, e),
            };
            stream_of(w, |sink| {
                engine.image_push(caller, &r, &o, &mut |p| {
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
        "registry_list" => reply(w, engine.registry_list(caller)),
        "registry_catalog" => call(w, method, a, |(r, p): (String, PageRequest)| {
            engine.registry_catalog(caller, &r, &p)
        }),
        "registry_tags" => call(w, method, a, |(r, p): (String, PageRequest)| {
            engine.registry_tags(caller, &r, &p)
        }),
        "registry_manifest" => call(w, method, a, |(r, p): (String, Option<String>)| {
            engine.registry_manifest(caller, &r, p.as_deref())
        }),
        "registry_delete" => call(w, method, a, |(r,): (String,)| {
            engine.registry_delete(caller, &r)
        }),
        "policy_read" => reply(w, engine.policy_read(caller)),
        "policy_write" => call(w, method, a, |(t, b): (String, Option<String>)| {
            engine.policy_write(caller, &t, b.as_deref())
        }),
        "account_usage" => reply(w, engine.account_usage(caller)),
        "build_cache_list" => reply(w, engine.build_cache_list(caller)),
        "build_cache_usage" => reply(w, engine.build_cache_usage(caller)),
        "build_cache_prune" => call(w, method, a, |(o,): (BuildCachePruneOptions,)| {
            engine.build_cache_prune(caller, &o)
        }),
        "audit_read" => reply(w, engine.audit_read(caller)),
        "audit_verify" => reply(w, engine.audit_verify(caller)),
        _ => reply::<()>(
            w,
            Err(EngineError::not_found(
                "engine method",
                method,
                "the server and client versions may differ",
            )),
        ),
    }
}
