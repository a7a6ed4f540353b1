//! Docker API: attach, start, exec and resize: the endpoints that hijack the connection.
//!
//! `docker run` attaches *before* it starts the container: such an attach answers `101`
//! at once and waits ([`PendingAttaches`]); the start that follows starts the container
//! with its stream ([`crate::api::ContainerApi::container_start_attached`]) and hands it
//! to the waiting connection, so no output is lost. Exec instances are made by one call
//! and started by another ([`Execs`]); their exit code is kept for `GET /exec/{id}/json`.

use std::collections::HashMap;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::{json, Value};
use tokio::sync::oneshot;

use super::{base_headers, ok, status_only, unsupported, Call, Handled};
use crate::api::*;
use crate::error::EngineError;
use crate::policy::Action;
use crate::server::bridge::{After, Responder};
use crate::server::relay::{self, DockerStream, EngineWriter, Mode};

/// How long an attach waits for its container's start.
const PENDING_FOR: Duration = Duration::from_secs(600);
/// Exec instances kept per uid (finished ones are forgotten first).
const EXECS_PER_UID: usize = 256;

/// An exec instance made by `POST /containers/{id}/exec`.
#[derive(Clone)]
struct Exec {
    container: String,
    owner: u32,
    cfg: ExecConfig,
    attach_stdout: bool,
    attach_stderr: bool,
    detach_keys: Option<String>,
    /// Once started: the engine's exec id (its events carry it), the pid.
    engine_id: Option<String>,
    pid: i32,
    running: bool,
    exit_code: Option<i32>,
    created: Instant,
}

/// Exec instances by id, and the writers that carry resizes to running ones.
#[derive(Default)]
pub struct Execs {
    inner: Arc<Mutex<HashMap<String, Exec>>>,
    writers: Arc<Mutex<HashMap<String, EngineWriter>>>,
}

/// An attach waiting since when, and where its stream goes.
type Waiting = (Instant, oneshot::Sender<UnixStream>);

/// Attaches waiting for their container's start, and the attach writers of running
/// containers (for resizes).
#[derive(Default)]
pub struct PendingAttaches {
    waiting: Mutex<HashMap<String, Vec<Waiting>>>,
    writers: Arc<Mutex<HashMap<String, EngineWriter>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Docker's detach keys (`ctrl-p,ctrl-q`, `a`, `ctrl-@`) as bytes.
pub fn parse_detach_keys(s: &str) -> Result<Vec<u8>, EngineError> {
    let bad = || {
        EngineError::invalid(format!(
            "invalid detach keys {s:?}: use a comma-separated list of letters or ctrl-<letter>, e.g. ctrl-p,ctrl-q"
        ))
    };
    let mut out = Vec::new();
    for k in s.split(',') {
        if let Some(c) = k.strip_prefix("ctrl-") {
            let mut it = c.chars();
            let (Some(ch), None) = (it.next(), it.next()) else {
                return Err(bad());
            };
            out.push(match ch {
                'a'..='z' => ch as u8 - b'a' + 1,
                '@' => 0,
                '[' => 27,
                '\\' => 28,
                ']' => 29,
                '^' => 30,
                '_' => 31,
                _ => return Err(bad()),
            });
        } else {
            let mut it = k.chars();
            match (it.next(), it.next()) {
                (Some(ch), None) if ch.is_ascii() => out.push(ch as u8),
                _ => return Err(bad()),
            }
        }
    }
    if out.is_empty() {
        return Err(bad());
    }
    Ok(out)
}

/// The headers of a hijacked answer: Docker's media type says whether the stream is
/// raw (a terminal) or multiplexed.
fn hijack_headers(tty: bool) -> HeaderMap {
    let mut h = base_headers();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(if tty {
            "application/vnd.docker.raw-stream"
        } else {
            "application/vnd.docker.multiplexed-stream"
        }),
    );
    h.insert(
        http::header::CONNECTION,
        HeaderValue::from_static("Upgrade"),
    );
    h.insert(http::header::UPGRADE, HeaderValue::from_static("tcp"));
    h
}

fn wants_upgrade(c: &Call) -> Result<(), EngineError> {
    if c.req.header("upgrade").is_none() {
        return Err(EngineError::invalid(
            "this endpoint hijacks the connection: send `Connection: Upgrade` and `Upgrade: tcp`, as the docker CLI and docker-py do",
        ));
    }
    Ok(())
}

/// The container's id and whether it has a terminal, whether it runs.
fn container_facts(
    c: &Call,
    id: &str,
    action: Action,
) -> Result<(String, String, bool, bool), EngineError> {
    let e = &c.sh.engine;
    e.gate().precheck(c.caller, action)?;
    let v = e.container_inspect(c.caller, id)?;
    let full = v["Id"].as_str().unwrap_or(id).to_string();
    let name = v["Name"]
        .as_str()
        .unwrap_or(id)
        .trim_start_matches('/')
        .to_string();
    let tty = v
        .pointer("/Config/Tty")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let running = v
        .pointer("/State/Running")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    Ok((full, name, tty, running))
}

/// Log lines already written, framed for the client (an attach with `logs=1`).
fn replay_logs(
    c: &Call,
    id: &str,
    tty: bool,
    stdout: bool,
    stderr: bool,
) -> Result<Vec<u8>, EngineError> {
    const MAX: usize = 16 << 20;
    let mut out = Vec::new();
    let opts = LogOptions {
        stdout,
        stderr,
        ..Default::default()
    };
    c.sh.engine.container_logs(c.caller, id, &opts, &mut |l| {
        let data = l.log.as_bytes();
        if tty {
            out.extend_from_slice(data);
        } else {
            let s = if l.stream == "stderr" { 2 } else { 1 };
            out.extend_from_slice(&relay::mux_header(s, data.len()));
            out.extend_from_slice(data);
        }
        out.len() < MAX
    })?;
    Ok(out)
}

/// `POST /containers/{id}/attach?stream=&stdin=&stdout=&stderr=&logs=&detachKeys=`.
pub fn attach(c: &mut Call, out: &mut Responder, id: &str) -> Handled {
    let (full, _name, tty, running) = container_facts(c, id, Action::ContainerAttach)?;
    wants_upgrade(c)?;
    let stream = c.q_bool("stream", false)?;
    let logs = c.q_bool("logs", false)?;
    let stdin = c.q_bool("stdin", false)?;
    let stdout = c.q_bool("stdout", false)?;
    let stderr = c.q_bool("stderr", false)?;
    let detach_keys = match c.q("detachKeys").filter(|k| !k.is_empty()) {
        Some(k) => parse_detach_keys(&k)?,
        None => parse_detach_keys("ctrl-p,ctrl-q")?,
    };
    if !stream && !logs {
        return Err(EngineError::invalid(
            "attach needs stream=1 or logs=1: there is nothing to send otherwise",
        ));
    }
    let prefix = if logs {
        replay_logs(c, &full, tty, stdout, stderr)?
    } else {
        Vec::new()
    };
    let writers = c.sh.docker.pending.writers.clone();
    let key = full.clone();
    let mode = Mode::Docker(DockerStream {
        tty,
        stdin,
        stdout,
        stderr,
        on_exit: None,
        on_writer: Some(Box::new(move |w| {
            lock(&writers).insert(key, w);
        })),
        detach_keys: stdin.then_some(detach_keys),
        prefix,
    });
    if !stream {
        // Only the logs: a stream that ends after them.
        let (tx, rx) = oneshot::channel();
        drop(tx);
        out.start_with(
            StatusCode::SWITCHING_PROTOCOLS,
            hijack_headers(tty),
            After::RelayLater(rx, mode),
        );
        return Ok(());
    }
    if running {
        let s = c.sh.engine.container_attach(c.caller, &full)?;
        out.start_with(
            StatusCode::SWITCHING_PROTOCOLS,
            hijack_headers(tty),
            After::Relay(s, mode),
        );
        return Ok(());
    }
    // Not running: wait for the start (what `docker run` does next).
    let (tx, rx) = oneshot::channel();
    {
        let mut w = lock(&c.sh.docker.pending.waiting);
        w.retain(|_, v| {
            v.retain(|(t, s)| t.elapsed() < PENDING_FOR && !s.is_closed());
            !v.is_empty()
        });
        w.entry(full).or_default().push((Instant::now(), tx));
    }
    out.start_with(
        StatusCode::SWITCHING_PROTOCOLS,
        hijack_headers(tty),
        After::RelayLater(rx, mode),
    );
    Ok(())
}

/// `POST /containers/{id}/start`: `204`, or `304` when it already runs. An attach
/// waiting for this start gets the container's stream from its first byte.
pub fn start(c: &mut Call, out: &mut Responder, id: &str) -> Handled {
    let (full, _name, _tty, running) = container_facts(c, id, Action::ContainerStart)?;
    if c.q("detachKeys").is_some_and(|k| !k.is_empty()) {
        return Err(unsupported(
            "detachKeys on start",
            "give detachKeys to the attach request",
        ));
    }
    // A body was a container config before API 1.24; now it must be empty.
    let body = c.json_body()?;
    if !body.is_null() && body != json!({}) {
        return Err(EngineError::invalid(
            "starting a container with a config in the body is not supported (removed in API 1.24): give the config to create",
        ));
    }
    if running {
        status_only(out, StatusCode::NOT_MODIFIED);
        return Ok(());
    }
    let waiting: Vec<oneshot::Sender<UnixStream>> = lock(&c.sh.docker.pending.waiting)
        .remove(&full)
        .unwrap_or_default()
        .into_iter()
        .filter(|(_, s)| !s.is_closed())
        .map(|(_, s)| s)
        .collect();
    let mut waiting = waiting.into_iter();
    match waiting.next() {
        None => c.sh.engine.container_start(c.caller, &full)?,
        Some(first) => {
            let s =
                c.sh.engine
                    .container_start_attached(c.caller, &full, None)?;
            let _ = first.send(s);
            // Any other waiting attach joins the running container.
            for more in waiting {
                if let Ok(s) = c.sh.engine.container_attach(c.caller, &full) {
                    let _ = more.send(s);
                }
            }
        }
    }
    status_only(out, StatusCode::NO_CONTENT);
    Ok(())
}

fn size_of(c: &Call) -> Result<(u16, u16), EngineError> {
    let get = |k: &str| -> Result<u16, EngineError> {
        let v = c.q_int(k)?.ok_or_else(|| {
            EngineError::invalid(format!(
                "resize needs h and w (rows and columns); {k} is missing"
            ))
        })?;
        u16::try_from(v).map_err(|_| {
            EngineError::invalid(format!("invalid terminal size {k}={v}: use 0 to 65535"))
        })
    };
    Ok((get("h")?, get("w")?))
}

/// `POST /containers/{id}/resize?h=&w=`: the container's terminal size.
pub fn resize_container(c: &mut Call, out: &mut Responder, id: &str) -> Handled {
    let (full, name, tty, running) = container_facts(c, id, Action::ContainerAttach)?;
    let (h, w) = size_of(c)?;
    if !running {
        return Err(EngineError::conflict(format!(
            "cannot resize container {name}: it is not running"
        )));
    }
    if !tty {
        // dockerd answers this without error too: a container without a terminal has
        // no size to set.
        status_only(out, StatusCode::OK);
        return Ok(());
    }
    let writer = lock(&c.sh.docker.pending.writers).get(&full).cloned();
    let sent = match writer {
        Some(wr) => c.req.rt().block_on(relay::resize(&wr, h, w)).is_ok(),
        None => false,
    };
    if !sent {
        // No Docker client attached: tell the monitor through an attach of our own.
        lock(&c.sh.docker.pending.writers).remove(&full);
        let mut s = c.sh.engine.container_attach(c.caller, &full)?;
        crate::runtime::attach::write_frame(
            &mut s,
            crate::runtime::attach::RESIZE,
            &crate::runtime::attach::resize(h, w),
        )
        .map_err(|e| EngineError::io(format!("resizing the terminal of {name}"), e))?;
    }
    status_only(out, StatusCode::OK);
    Ok(())
}

/// `POST /containers/{id}/exec`: make an exec instance (started by `/exec/{id}/start`).
pub fn exec_create(c: &mut Call, out: &mut Responder, id: &str) -> Handled {
    let (full, _name, _tty, running) = container_facts(c, id, Action::ContainerExec)?;
    let b = c.json_body()?;
    if !b.is_object() {
        return Err(EngineError::invalid("exec create needs a JSON object body"));
    }
    let flag = |k: &str| b.get(k).and_then(Value::as_bool).unwrap_or(false);
    let strs = |k: &str| -> Result<Vec<String>, EngineError> {
        match b.get(k) {
            None | Some(Value::Null) => Ok(vec![]),
            Some(Value::Array(a)) => a
                .iter()
                .map(|x| {
                    x.as_str().map(str::to_string).ok_or_else(|| {
                        EngineError::invalid(format!("exec {k}: every item must be a string"))
                    })
                })
                .collect(),
            Some(other) => Err(EngineError::invalid(format!(
                "exec {k} must be a list of strings, not {other}"
            ))),
        }
    };
    let text = |k: &str| {
        b.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    for k in b
        .as_object()
        .map(|m| m.keys().cloned().collect::<Vec<_>>())
        .unwrap_or_default()
    {
        match k.as_str() {
            "AttachStdin" | "AttachStdout" | "AttachStderr" | "DetachKeys" | "ConsoleSize"
            | "Tty" | "Env" | "Cmd" | "Privileged" | "User" | "WorkingDir" | "Container"
            | "Detach" => {}
            other => {
                return Err(EngineError::invalid(format!(
                    "exec create: unknown field {other:?}"
                )))
            }
        }
    }
    if flag("Privileged") {
        return Err(unsupported(
            "exec --privileged",
            "an exec gets the container's own capabilities; recreate the container with the rights it needs where the role allows them",
        ));
    }
    let cmd = strs("Cmd")?;
    if cmd.is_empty() {
        return Err(EngineError::invalid("No exec command specified"));
    }
    let env = strs("Env")?;
    for e in &env {
        if e.split('=').next().unwrap_or("").is_empty() {
            return Err(EngineError::invalid(format!(
                "invalid environment variable {e:?} for exec: use KEY=VALUE"
            )));
        }
    }
    let console_size = match b.get("ConsoleSize") {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) if a.len() == 2 => {
            let n = |v: &Value| v.as_u64().and_then(|x| u16::try_from(x).ok());
            match (n(&a[0]), n(&a[1])) {
                (Some(h), Some(w)) if h > 0 && w > 0 => Some((h, w)),
                (Some(0), Some(0)) => None,
                _ => {
                    return Err(EngineError::invalid(
                        "exec ConsoleSize must be [height, width]",
                    ))
                }
            }
        }
        Some(_) => {
            return Err(EngineError::invalid(
                "exec ConsoleSize must be [height, width]",
            ))
        }
    };
    let detach_keys = text("DetachKeys");
    if let Some(k) = &detach_keys {
        parse_detach_keys(k)?;
    }
    if !running {
        return Err(EngineError::conflict(format!(
            "Container {full} is not running"
        )));
    }
    let cfg = ExecConfig {
        cmd,
        env,
        user: text("User"),
        workdir: text("WorkingDir"),
        tty: flag("Tty"),
        stdin: flag("AttachStdin"),
        detach: false,
        console_size,
    };
    let exec_id = crate::ids::new_id();
    let owner = c.caller.uid;
    let mut m = lock(&c.sh.docker.execs.inner);
    let mine: Vec<(String, bool, Instant)> = m
        .iter()
        .filter(|(_, x)| x.owner == owner)
        .map(|(k, x)| (k.clone(), x.running, x.created))
        .collect();
    if mine.len() >= EXECS_PER_UID {
        // Forget the oldest finished ones; refuse if all are running.
        let mut done: Vec<_> = mine.iter().filter(|(_, r, _)| !r).collect();
        done.sort_by_key(|(_, _, t)| *t);
        match done.first() {
            Some((k, _, _)) => {
                m.remove(k);
            }
            None => {
                return Err(EngineError::conflict(format!(
                    "uid {owner} has {EXECS_PER_UID} exec instances running, the most one user may: let some finish"
                )))
            }
        }
    }
    m.insert(
        exec_id.clone(),
        Exec {
            container: full,
            owner,
            cfg,
            attach_stdout: flag("AttachStdout"),
            attach_stderr: flag("AttachStderr"),
            detach_keys,
            engine_id: None,
            pid: 0,
            running: false,
            exit_code: None,
            created: Instant::now(),
        },
    );
    drop(m);
    super::json_status(out, StatusCode::CREATED, &json!({"Id": exec_id}));
    Ok(())
}

/// The exec instance `id`, if the caller may see it (its creator, or a caller whose
/// role reaches the container's owner).
fn find_exec(c: &Call, id: &str) -> Result<Exec, EngineError> {
    let m = lock(&c.sh.docker.execs.inner);
    let x = m
        .get(id)
        .ok_or_else(|| {
            EngineError::not_found(
                "exec instance",
                id,
                "create it with POST /containers/{id}/exec",
            )
        })?
        .clone();
    drop(m);
    if x.owner != c.caller.uid {
        // Scope through the container it runs in.
        c.sh.engine.container_inspect(c.caller, &x.container)?;
        let role = c.sh.engine.gate().role(c.caller);
        if !c.sh.engine.gate().in_scope(c.caller, &role, x.owner) {
            return Err(EngineError::not_found(
                "exec instance",
                id,
                "create it with POST /containers/{id}/exec",
            ));
        }
    }
    Ok(x)
}

/// `POST /exec/{id}/start` (`{"Detach": bool, "Tty": bool}`).
pub fn exec_start(c: &mut Call, out: &mut Responder, id: &str) -> Handled {
    c.sh.engine
        .gate()
        .precheck(c.caller, Action::ContainerExec)?;
    let x = find_exec(c, id)?;
    let b = c.json_body()?;
    let detach = b.get("Detach").and_then(Value::as_bool).unwrap_or(false);
    // As dockerd: the start request's Tty picks only the stream's framing (raw with it,
    // multiplexed without: bollard, so oxker, starts a terminal exec with `false`); the
    // process gets the terminal the exec was created with.
    let raw = b.get("Tty").and_then(Value::as_bool).unwrap_or(false);
    if x.running || x.exit_code.is_some() || x.engine_id.is_some() {
        return Err(EngineError::conflict(format!(
            "Exec {id} has already been started"
        )));
    }
    if !detach {
        wants_upgrade(c)?;
    }
    let mut cfg = x.cfg.clone();
    cfg.detach = detach;
    if let Some(size) = b.get("ConsoleSize").and_then(Value::as_array) {
        if size.len() == 2 {
            if let (Some(h), Some(w)) = (size[0].as_u64(), size[1].as_u64()) {
                if let (Ok(h), Ok(w)) = (u16::try_from(h), u16::try_from(w)) {
                    if h > 0 && w > 0 {
                        cfg.console_size = Some((h, w));
                    }
                }
            }
        }
    }
    let session = match c.sh.engine.exec(c.caller, &x.container, &cfg) {
        Ok(s) => s,
        Err(e) if !detach && matches!(crate::runtime::exec::exit_code_of(&e), 126 | 127) => {
            // The command could not be started: as dockerd, the stream carries the
            // reason and the exec's exit code is 126 or 127.
            let code = crate::runtime::exec::exit_code_of(&e);
            let (mine, mut theirs) =
                UnixStream::pair().map_err(|err| EngineError::io("creating a socket pair", err))?;
            crate::runtime::attach::write_frame(
                &mut theirs,
                crate::runtime::attach::ERROR,
                format!("{code}\n{}", e.message).as_bytes(),
            )
            .map_err(|err| EngineError::io("reporting the exec failure", err))?;
            drop(theirs);
            ExecSession {
                id: String::new(),
                pid: 0,
                stream: Some(mine),
            }
        }
        Err(e) => return Err(e),
    };
    {
        let mut m = lock(&c.sh.docker.execs.inner);
        if let Some(e) = m.get_mut(id) {
            e.engine_id = (!session.id.is_empty()).then(|| session.id.clone());
            e.pid = session.pid;
            e.running = true;
        }
    }
    let Some(stream) = session.stream else {
        // Detached: the exit code comes from the engine's exec_die event later.
        status_only(out, StatusCode::OK);
        return Ok(());
    };
    let table = c.sh.docker.execs.inner.clone();
    let writers = c.sh.docker.execs.writers.clone();
    let writers2 = writers.clone();
    let (k1, k2) = (id.to_string(), id.to_string());
    let detach_keys = match &x.detach_keys {
        Some(k) => parse_detach_keys(k)?,
        None => parse_detach_keys("ctrl-p,ctrl-q")?,
    };
    let mode = Mode::Docker(DockerStream {
        tty: raw,
        stdin: x.cfg.stdin,
        stdout: x.attach_stdout,
        stderr: x.attach_stderr,
        on_exit: Some(Box::new(move |code| {
            if let Some(e) = lock(&table).get_mut(&k1) {
                e.running = false;
                e.exit_code = Some(code);
            }
            lock(&writers2).remove(&k1);
        })),
        on_writer: Some(Box::new(move |w| {
            lock(&writers).insert(k2, w);
        })),
        detach_keys: x.cfg.stdin.then_some(detach_keys),
        prefix: Vec::new(),
    });
    out.start_with(
        StatusCode::SWITCHING_PROTOCOLS,
        hijack_headers(raw),
        After::Relay(stream, mode),
    );
    Ok(())
}

/// `POST /exec/{id}/resize?h=&w=`.
pub fn exec_resize(c: &mut Call, out: &mut Responder, id: &str) -> Handled {
    c.sh.engine
        .gate()
        .precheck(c.caller, Action::ContainerExec)?;
    let x = find_exec(c, id)?;
    let (h, w) = size_of(c)?;
    if !x.running {
        return Err(EngineError::conflict(format!("exec {id} is not running")));
    }
    let writer = lock(&c.sh.docker.execs.writers).get(id).cloned();
    match writer {
        Some(wr) if x.cfg.tty => {
            c.req
                .rt()
                .block_on(relay::resize(&wr, h, w))
                .map_err(|e| EngineError::io(format!("resizing exec {id}"), e))?;
        }
        _ => {}
    }
    status_only(out, StatusCode::OK);
    Ok(())
}

/// The exit code of a started exec from the engine's `exec_die` event, once it ended.
fn exit_from_events(c: &Call, x: &Exec) -> Option<i32> {
    let engine_id = x.engine_id.as_ref()?;
    let filter = EventFilter {
        types: vec!["container".into()],
        actions: vec!["exec_die".into()],
        objects: vec![("execID".into(), engine_id.clone())],
        ..Default::default()
    };
    let mut code = None;
    let _ = c.sh.engine.events(c.caller, &filter, &mut |ev| {
        code = ev
            .actor
            .attributes
            .get("exitCode")
            .and_then(|v| v.parse().ok());
        code.is_none()
    });
    code
}

/// `GET /exec/{id}/json`.
pub fn exec_inspect(c: &mut Call, out: &mut Responder, id: &str) -> Handled {
    c.sh.engine
        .gate()
        .precheck(c.caller, Action::ContainerInspect)?;
    let mut x = find_exec(c, id)?;
    if x.running && x.exit_code.is_none() {
        if let Some(code) = exit_from_events(c, &x) {
            x.running = false;
            x.exit_code = Some(code);
            if let Some(e) = lock(&c.sh.docker.execs.inner).get_mut(id) {
                e.running = false;
                e.exit_code = Some(code);
            }
        }
    }
    let (entry, args) = x
        .cfg
        .cmd
        .split_first()
        .map(|(a, b)| (a.clone(), b.to_vec()))
        .unwrap_or_default();
    ok(
        out,
        &json!({
            "ID": id,
            "Running": x.running,
            "ExitCode": x.exit_code,
            "ProcessConfig": {
                "tty": x.cfg.tty,
                "entrypoint": entry,
                "arguments": args,
                "privileged": false,
                "user": x.cfg.user.clone().unwrap_or_default(),
            },
            "OpenStdin": x.cfg.stdin,
            "OpenStderr": x.attach_stderr,
            "OpenStdout": x.attach_stdout,
            "CanRemove": false,
            "ContainerID": x.container,
            "DetachKeys": x.detach_keys.clone().unwrap_or_default(),
            "Pid": x.pid,
        }),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys_as_docker_reads_them() {
        assert_eq!(parse_detach_keys("ctrl-p,ctrl-q").unwrap(), vec![16, 17]);
        assert_eq!(parse_detach_keys("a,ctrl-@").unwrap(), vec![b'a', 0]);
        assert!(parse_detach_keys("ctrl-").is_err());
        assert!(parse_detach_keys("ctrl-ab").is_err());
        assert!(parse_detach_keys("").is_err());
    }
}
