//! `wharf serve`: the engine behind a Unix socket, for every local user, each acting
//! with their own role. One HTTP/1.1 server (hyper, on tokio) answers two protocols:
//! wharf's own (`POST /v1/<method>`, see [`wharf`]) and the Docker Engine API
//! (`/_ping`, `/v1.NN/containers/json`, ..., see [`docker`]).
//!
//! The caller may be hostile. The caller's identity comes from the kernel (SO_PEERCRED),
//! never from what a client sends; connections are capped in all and per uid; a request
//! head must arrive within [`Limits::header_timeout`] (which also closes idle kept-alive
//! connections) and is bounded in size; a body is read only after the method alone has
//! been allowed for the caller's role, and within a size cap for the call; an accept
//! error (out of descriptors) backs off instead of spinning; refusals of users without a
//! role are audited once a minute per uid with a count.
//!
//! Requests are handled on blocking threads (engine calls block), but for listings asked
//! again while nothing changed: the connection's worker answers those at once from the
//! kept answer, never waiting on a lock a listing being made holds ([`lists`]).

pub mod accounts;
pub mod bridge;
pub mod conns;
pub mod docker;
pub mod lists;
pub mod relay;
pub mod timings;
pub mod wharf;

use std::convert::Infallible;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};

use crate::caller::{Caller, Role};
use crate::error::{EngineError, IoContext, Result};
use crate::policy::actions::audit_only;
use crate::LocalEngine;

use bridge::{After, Body, BodyReader, Responder};
use conns::{Denials, Full, Tracker};

/// Default socket path.
pub use crate::remote::DEFAULT_SOCKET;

/// The server's bounds.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Open connections in all.
    pub max_connections: usize,
    /// Open connections of one uid.
    pub max_per_uid: usize,
    /// Time for a request head to arrive (idle kept-alive connections are closed after it).
    pub header_timeout: Duration,
    /// Largest request head (request line and headers), bytes.
    pub max_head: usize,
    /// Largest JSON request body, bytes (uploads such as image archives stream instead).
    pub max_json_body: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 512,
            max_per_uid: 64,
            header_timeout: Duration::from_secs(60),
            max_head: 64 * 1024,
            max_json_body: 4 * 1024 * 1024,
        }
    }
}

/// What every connection shares.
pub struct Shared {
    pub engine: Arc<LocalEngine>,
    pub limits: Limits,
    pub conns: Arc<Tracker>,
    pub denials: Denials,
    pub docker: docker::State,
    /// Listings kept for repeated questions.
    pub lists: lists::Lists,
    pub rt: tokio::runtime::Handle,
    /// The socket's path, as the connections list names it.
    pub socket: Option<std::path::PathBuf>,
    /// How long answers take.
    pub timings: Arc<timings::Timings>,
}

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
    // A deep backlog: a burst of connections from one user must not fill the queue
    // before the accept loop refuses them (others would get ECONNREFUSED).
    use nix::sys::socket::{self, AddressFamily, Backlog, SockFlag, SockType, UnixAddr};
    let fd = socket::socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(|e| EngineError::sys("creating the socket", e))?;
    let addr = UnixAddr::new(path)
        .map_err(|e| EngineError::sys(format!("socket path {}", path.display()), e))?;
    socket::bind(std::os::fd::AsRawFd::as_raw_fd(&fd), &addr)
        .map_err(|e| EngineError::sys(format!("binding {}", path.display()), e))?;
    socket::listen(&fd, Backlog::MAXCONN)
        .map_err(|e| EngineError::sys(format!("listening on {}", path.display()), e))?;
    let l = UnixListener::from(fd);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))
        .ctx(|| format!("opening {} to local users", path.display()))?;
    Ok(l)
}

/// Serve connections from `listener` with the default limits until it fails.
pub fn serve(engine: Arc<LocalEngine>, listener: UnixListener) -> Result<()> {
    serve_with(engine, listener, Limits::default())
}

/// Serve connections from `listener` within `limits`.
pub fn serve_with(engine: Arc<LocalEngine>, listener: UnixListener, limits: Limits) -> Result<()> {
    serve_timed(engine, listener, limits, Arc::default())
}

/// [`serve_with`], counting how long each answer takes in `timings`.
pub fn serve_timed(
    engine: Arc<LocalEngine>,
    listener: UnixListener,
    limits: Limits,
    timings: Arc<timings::Timings>,
) -> Result<()> {
    engine.lists_often();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        // Engine calls block; each open connection has at most one in flight (plus the
        // relays of upgraded ones, which are async).
        .max_blocking_threads(limits.max_connections + 32)
        .thread_name("wharf-serve")
        .enable_all()
        .build()
        .ctx(|| "starting the server's runtime".into())?;
    listener
        .set_nonblocking(true)
        .ctx(|| "setting the socket non-blocking".into())?;
    let socket = listener
        .local_addr()
        .ok()
        .and_then(|a| a.as_pathname().map(Path::to_path_buf));
    // Consoles on this state root find this server (for the connections list) by it.
    let _announce = socket
        .as_deref()
        .and_then(|s| accounts::Announce::write(&engine, s));
    let shared = Arc::new(Shared {
        engine,
        limits,
        conns: Arc::new(Tracker::default()),
        denials: Denials::default(),
        docker: docker::State::default(),
        lists: lists::Lists::default(),
        rt: rt.handle().clone(),
        socket,
        timings,
    });
    rt.block_on(async move {
        let listener =
            tokio::net::UnixListener::from_std(listener).ctx(|| "registering the socket".into())?;
        accept_loop(shared, listener).await
    })
}

async fn accept_loop(shared: Arc<Shared>, listener: tokio::net::UnixListener) -> Result<()> {
    let mut last_warn: Option<std::time::Instant> = None;
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let shared = shared.clone();
                tokio::spawn(async move { connection(shared, stream).await });
            }
            Err(e) => {
                // Out of descriptors (or memory): back off instead of spinning, so the
                // connections already open keep being served.
                let pause = match e.raw_os_error() {
                    Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM) => {
                        Duration::from_millis(100)
                    }
                    _ => Duration::from_millis(10),
                };
                if last_warn.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                    tracing::warn!("accepting a connection: {e}; pausing {pause:?}");
                    last_warn = Some(std::time::Instant::now());
                }
                tokio::time::sleep(pause).await;
            }
        }
    }
}

/// The caller behind a connection, from the kernel's peer credentials.
pub fn caller_for_uid(engine: &LocalEngine, uid: u32) -> Caller {
    match engine.policy() {
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
    }
}

/// Why a caller without a role is refused.
fn no_role_message(engine: &LocalEngine, caller: &Caller) -> String {
    match engine.policy() {
        Some(p) => format!(
            "{} has no role in the policy {}: ask an admin to add them",
            caller.name,
            p.source.display()
        ),
        None => format!(
            "{} may not use this engine: it runs without a policy file, so only root may; an admin can admit users with --policy",
            caller.name
        ),
    }
}

async fn connection(shared: Arc<Shared>, stream: tokio::net::UnixStream) {
    let uid = match stream.peer_cred() {
        Ok(c) => c.uid(),
        Err(e) => {
            tracing::debug!("reading the peer's credentials: {e}");
            return;
        }
    };
    let slot = match shared.conns.acquire(
        uid,
        shared.limits.max_connections,
        shared.limits.max_per_uid,
    ) {
        Ok(s) => s,
        Err(full) => {
            let msg = match full {
                Full::Total(n) => format!("the engine has {n} connections open, its maximum: try again later"),
                Full::Uid(n) => format!("uid {uid} has {n} connections open to the engine, the most one user may: close some and try again"),
            };
            refuse_raw(stream, 503, &msg).await;
            return;
        }
    };
    // Identity is looked up once per connection, on a blocking thread (NSS may block).
    let engine = shared.engine.clone();
    let caller = match tokio::task::spawn_blocking(move || caller_for_uid(&engine, uid)).await {
        Ok(c) => Arc::new(c),
        Err(_) => return,
    };
    if caller.role.as_str() == "none" {
        let msg = no_role_message(&shared.engine, &caller);
        if let Some(n) = shared.denials.note(uid) {
            let engine = shared.engine.clone();
            let who = (*caller).clone();
            let detail = if n == 1 {
                msg.clone()
            } else {
                format!("{msg} ({n} connections refused since the last entry)")
            };
            let _ = tokio::task::spawn_blocking(move || {
                let _ = engine
                    .audit()
                    .record(&who, audit_only::CONNECT, "", "denied", &detail);
            })
            .await;
        }
        // Answer the first request (without reading its body) and close.
        refuse_raw(stream, 403, &msg).await;
        return;
    }
    let io = TokioIo::new(stream);
    let svc_shared = shared.clone();
    let session = slot.session();
    let grant = Arc::new(lists::Grant::default());
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let shared = svc_shared.clone();
        let caller = caller.clone();
        let grant = grant.clone();
        session.note_call();
        async move { Ok::<_, Infallible>(handle(shared, caller, grant, req).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(shared.limits.header_timeout)
        .max_buf_size(shared.limits.max_head.max(8192))
        .max_headers(100)
        .serve_connection(io, service)
        .with_upgrades();
    if let Err(e) = conn.await {
        tracing::debug!("connection of uid {uid} ended: {e}");
    }
    drop(slot);
}

/// Write a whole HTTP answer on a connection hyper never saw, then close it: for
/// refusals decided before any request is read.
async fn refuse_raw(mut stream: tokio::net::UnixStream, status: u16, msg: &str) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = serde_json::json!({
        "message": msg,
        "kind": if status == 403 { "permission_denied" } else { "unavailable" },
    })
    .to_string();
    let reason = if status == 403 {
        "Forbidden"
    } else {
        "Service Unavailable"
    };
    // Give the client a moment to send its request so the answer reads as one.
    let mut scratch = [0u8; 1024];
    let _ = tokio::time::timeout(Duration::from_millis(200), stream.read(&mut scratch)).await;
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body.as_bytes()).await?;
        stream.shutdown().await
    })
    .await;
}

/// One request: what every handler gets, on a blocking thread.
pub struct Req {
    pub parts: http::request::Parts,
    body: Option<ReqBody>,
    rt: tokio::runtime::Handle,
}

/// A request's body: still on the connection, or read whole already (by the quick
/// path of listings, which then left the request to a handler).
enum ReqBody {
    Incoming(Incoming),
    Read(std::io::Result<bytes::Bytes>),
}

impl Req {
    /// The request body as a reader of at most `limit` bytes (`None`: unbounded, for
    /// streamed uploads). Reading starts only when this is called, so a handler decides
    /// on permission before a byte of the body is read.
    pub fn body(&mut self, limit: Option<u64>) -> BodyReader {
        match self.body.take() {
            Some(ReqBody::Incoming(b)) => BodyReader::spawn(b, limit, &self.rt),
            Some(ReqBody::Read(b)) => BodyReader::read(b, limit),
            // Asked twice: nothing more to read.
            None => BodyReader::empty(),
        }
    }

    /// A request header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.parts.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The query's `key=value` pairs, decoded.
    pub fn query(&self) -> Vec<(String, String)> {
        self.parts
            .uri
            .query()
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The runtime the connection runs on (for relays and resizes).
    pub fn rt(&self) -> &tokio::runtime::Handle {
        &self.rt
    }
}

/// A listing answered from the kept answer on this worker, with its arguments for the
/// trace, when that needs no wait ([`lists`]); else the request's body back (read
/// already when it holds wharf's arguments) for the ordinary path.
async fn quick(
    shared: &Shared,
    scope: &str,
    q: &lists::Question,
    parts: &http::request::Parts,
    body: Incoming,
) -> std::result::Result<(lists::Answer, Option<serde_json::Value>), ReqBody> {
    use http_body_util::BodyExt;
    let (bytes, body) = match q {
        lists::Question::Docker => (bytes::Bytes::new(), Some(body)),
        lists::Question::Wharf => {
            let small = parts
                .headers
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .is_some_and(|n| n <= lists::QUICK_BODY);
            if !small {
                return Err(ReqBody::Incoming(body));
            }
            match tokio::time::timeout(bridge::BODY_STALL, body.collect()).await {
                Ok(Ok(b)) => (b.to_bytes(), None),
                Ok(Err(e)) => return Err(ReqBody::Read(Err(bridge::unreadable(e)))),
                Err(_) => return Err(ReqBody::Read(Err(bridge::stalled()))),
            }
        }
    };
    let answer = q.key(scope, parts, &bytes).and_then(|(key, args)| {
        let inm = parts
            .headers
            .get(http::header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok());
        Some((shared.lists.quick(&shared.engine, &key, inm)?, args))
    });
    answer.ok_or(match body {
        Some(b) => ReqBody::Incoming(b),
        None => ReqBody::Read(Ok(bytes)),
    })
}

async fn handle(
    shared: Arc<Shared>,
    caller: Arc<Caller>,
    grant: Arc<lists::Grant>,
    mut req: Request<Incoming>,
) -> Response<Body> {
    let received = std::time::Instant::now();
    let on_upgrade = hyper::upgrade::on(&mut req);
    let (parts, body) = req.into_parts();
    let is_wharf = parts.uri.path().starts_with("/v1/");
    let traced = TracedRequest::of(&parts, is_wharf);
    let question = lists::Question::of(&parts, is_wharf);
    let scope = question
        .as_ref()
        .and_then(|_| grant.scope(&shared.engine, &caller));
    let body = match question.as_ref().zip(scope) {
        None => ReqBody::Incoming(body),
        Some((q, scope)) => match quick(&shared, &scope, q, &parts, body).await {
            Ok((answer, args)) => {
                let took = received.elapsed();
                shared.timings.record(took, true);
                if let Some(t) = traced {
                    let g = crate::trace::Gathered {
                        args,
                        status: Some(answer.status.as_u16()),
                        ..Default::default()
                    };
                    t.record(&shared.engine, &caller, took, g);
                }
                let mut resp = Response::new(bridge::full(answer.body));
                *resp.status_mut() = answer.status;
                *resp.headers_mut() = answer.headers;
                return resp;
            }
            Err(body) => body,
        },
    };
    // A listing answered here passed the check of the right to list, under the policy
    // in force when it began.
    let policy = question
        .is_some()
        .then(|| shared.engine.gate().policy())
        .flatten()
        .map(|p| p.digest().to_string());
    // The caller's scope as the listing judged it (on the blocking thread), kept with
    // the grant for the quick path.
    let judged: Arc<std::sync::OnceLock<String>> = Arc::default();
    let (responder, pending, body_rx) = Responder::new();
    let r = Req {
        parts,
        body: Some(body),
        rt: shared.rt.clone(),
    };
    let sh = shared.clone();
    let judged_by = judged.clone();
    let listing = policy.is_some();
    let task = tokio::task::spawn_blocking(move || {
        let mut responder = responder;
        let caller = &*caller;
        if listing {
            let _ = judged_by.set(lists::scope_of(&sh.engine, caller));
        }
        let started = std::time::Instant::now();
        let ((), gathered) = crate::trace::scoped(|| {
            if is_wharf {
                wharf::handle(&sh, caller, r, &mut responder);
            } else {
                docker::handle(&sh, caller, r, &mut responder);
            }
            if !responder.started() {
                responder.json(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &serde_json::json!({"message": "the engine gave no answer"}),
                );
            }
        });
        if let Some(t) = traced {
            t.record(&sh.engine, caller, started.elapsed(), gathered);
        }
    });
    let head = match pending.head.await {
        Ok(h) => {
            shared.timings.record(received.elapsed(), false);
            if let (Some(p), Some(scope)) = (
                policy.filter(|_| h.status.is_success() || h.status == 304),
                judged.get(),
            ) {
                grant.note(p, scope.clone());
            }
            h
        }
        Err(_) => {
            // The handler panicked before answering.
            let _ = task.await;
            let mut resp = Response::new(bridge::empty());
            *resp.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            return resp;
        }
    };
    let mut resp = Response::new(match head.after {
        After::Nothing => bridge::channel_body(body_rx),
        After::Relay(..) | After::RelayLater(..) => bridge::empty(),
    });
    *resp.status_mut() = head.status;
    *resp.headers_mut() = head.headers;
    if head.status == StatusCode::SWITCHING_PROTOCOLS {
        match head.after {
            After::Nothing => {}
            After::Relay(stream, mode) => {
                tokio::spawn(async move {
                    match on_upgrade.await {
                        Ok(up) => relay::run(up, stream, mode).await,
                        Err(e) => tracing::debug!("upgrading the connection: {e}"),
                    }
                });
            }
            After::RelayLater(later, mode) => {
                tokio::spawn(async move {
                    let up = match on_upgrade.await {
                        Ok(up) => up,
                        Err(e) => return tracing::debug!("upgrading the connection: {e}"),
                    };
                    // Until the container starts, the client's connection is held; if
                    // the start never comes (the sender is dropped), it is closed.
                    if let Ok(stream) = later.await {
                        relay::run(up, stream, mode).await;
                    }
                });
            }
        }
    }
    resp
}

/// What the trace keeps of a request, taken from its head before the handler runs.
struct TracedRequest {
    source: &'static str,
    method: String,
    http: crate::trace::HttpCall,
}

impl TracedRequest {
    /// `None` for what is not traced: reading the trace itself.
    fn of(parts: &http::request::Parts, is_wharf: bool) -> Option<TracedRequest> {
        let path = parts.uri.path();
        let verb = parts.method.as_str().to_string();
        let method = if is_wharf {
            path.trim_start_matches("/v1/").to_string()
        } else {
            // `/v1.43/containers/json` is `GET /containers/json`.
            let rest = path
                .strip_prefix("/v")
                .and_then(|r| r.split_once('/'))
                .filter(|(v, _)| v.chars().all(|c| c.is_ascii_digit() || c == '.'))
                .map(|(_, r)| format!("/{r}"))
                .unwrap_or_else(|| path.to_string());
            format!("{verb} {rest}")
        };
        if method == "trace" {
            return None;
        }
        let path_and_query = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| path.to_string());
        Some(TracedRequest {
            source: if is_wharf { "wharf" } else { "docker" },
            method,
            http: crate::trace::HttpCall {
                method: verb,
                path: crate::trace::redact_query(&path_and_query),
                status: 0,
                user_agent: parts
                    .headers
                    .get(http::header::USER_AGENT)
                    .and_then(|v| v.to_str().ok())
                    .map(|s| s.chars().take(120).collect()),
            },
        })
    }

    /// Into the engine's trace, with what the handler gathered.
    fn record(
        self,
        engine: &LocalEngine,
        caller: &Caller,
        took: Duration,
        g: crate::trace::Gathered,
    ) {
        use crate::trace::{bounded, redact, TraceEntry};
        let mut e = TraceEntry::new(caller, self.source, &self.method);
        e.time_nano -= took.as_nanos() as i64;
        e.duration_us = took.as_micros() as u64;
        let status = g.status.unwrap_or(0);
        e.http = Some(crate::trace::HttpCall {
            status,
            ..self.http
        });
        e.args = bounded(redact(
            &self.method,
            g.args.or(g.body).unwrap_or(serde_json::Value::Null),
        ));
        e.ok = status < 400;
        let answer = g.answer.unwrap_or(serde_json::Value::Null);
        if !e.ok {
            e.error = Some(
                answer
                    .get("message")
                    .and_then(|m| m.as_str())
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("HTTP {status}")),
            );
        }
        e.answer = bounded(redact(&self.method, answer));
        e.steps = g.steps;
        engine.tracer().record(e);
    }
}

/// Headers of a JSON answer.
pub fn json_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h
}
