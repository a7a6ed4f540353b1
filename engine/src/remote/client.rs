//! The client side of the engine socket: [`RemoteEngine`] implements the engine API by
//! calling a `wharf serve` over a Unix socket, or over ssh (`ssh://user@host` runs
//! `wharf serve --stdio` there, which relays to that machine's socket).

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::header;
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use super::conn::{BodyReader, ChildGuard, Conn, Exchange, ReqBody, Runner, Upload};
use super::StreamLine;
use crate::api::*;
use crate::caller::Caller;
use crate::error::{EngineError, Result};
use crate::events::Event;

/// Where the engine is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `unix:///run/wharf/wharf.sock`
    Unix(PathBuf),
    /// `ssh://user@host[:port]`: the command that reaches a remote `wharf serve --stdio`.
    Ssh { target: String, port: Option<u16> },
}

impl Endpoint {
    /// Parse `unix:///path` or `ssh://user@host[:port]`.
    pub fn parse(s: &str) -> Result<Self> {
        if let Some(p) = s.strip_prefix("unix://") {
            if p.is_empty() {
                return Err(EngineError::invalid(format!(
                    "host {s:?} has no socket path: use unix:///run/wharf/wharf.sock"
                )));
            }
            return Ok(Endpoint::Unix(PathBuf::from(p)));
        }
        if let Some(t) = s.strip_prefix("ssh://") {
            let (target, port) = parse_ssh(t).map_err(|why| {
                EngineError::invalid(format!(
                    "host {s:?} is refused: {why}; use ssh://user@host[:port] (host: a host name, an IPv4 address or a bracketed IPv6 address such as [::1])"
                ))
            })?;
            return Ok(Endpoint::Ssh { target, port });
        }
        Err(EngineError::invalid(format!(
            "host {s:?} is not understood: use unix:///path/to/wharf.sock or ssh://user@host"
        )))
    }
}

/// `ssh://user@host[:port]` to ssh's destination and port, refused with a message that
/// says why (for the Docker client's ssh endpoints too).
pub(crate) fn parse_ssh_url(s: &str) -> Result<(String, Option<u16>)> {
    let t = s
        .strip_prefix("ssh://")
        .ok_or_else(|| EngineError::invalid(format!("host {s:?} does not start with ssh://")))?;
    parse_ssh(t).map_err(|why| {
        EngineError::invalid(format!(
            "host {s:?} is refused: {why}; use ssh://user@host[:port] (host: a host name, an IPv4 address or a bracketed IPv6 address such as [::1])"
        ))
    })
}

/// `user@host[:port]` (after `ssh://`) to ssh's destination (`user@host`) and port.
/// Refuses anything ssh could read as an option (a leading `-`) and anything that is not
/// plainly a user name and a host: the destination reaches ssh's command line.
fn parse_ssh(t: &str) -> std::result::Result<(String, Option<u16>), String> {
    if t.is_empty() {
        return Err("it names no machine".into());
    }
    let (user, rest) = match t.split_once('@') {
        Some((u, r)) => (Some(u), r),
        None => (None, t),
    };
    if let Some(u) = user {
        check_ssh_user(u)?;
    }
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (addr, after) = v6
            .split_once(']')
            .ok_or("the bracketed IPv6 address has no closing ']'")?;
        addr.parse::<std::net::Ipv6Addr>()
            .map_err(|_| format!("{addr:?} is not an IPv6 address"))?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or_else(|| {
                format!("{after:?} follows the IPv6 address (a port is written [addr]:port)")
            })?),
        };
        (addr.to_string(), port)
    } else {
        match rest.rsplit_once(':') {
            Some((h, _)) if h.contains(':') => {
                return Err("an IPv6 address must be in brackets, e.g. ssh://user@[::1]:22".into())
            }
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (rest.to_string(), None),
        }
    };
    if !host.contains(':') {
        check_ssh_host(&host)?;
    }
    let port = match port {
        None => None,
        Some(p) => Some(
            p.parse::<u16>()
                .ok()
                .filter(|&n| n != 0 && p.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| format!("the port {p:?} is not a number from 1 to 65535"))?,
        ),
    };
    let target = match user {
        Some(u) => format!("{u}@{host}"),
        None => host,
    };
    Ok((target, port))
}

/// An ssh destination as [`parse_ssh`] makes it: `[user@]host`, host a name, an IPv4 or
/// an (unbracketed) IPv6 address.
fn check_destination(target: &str) -> std::result::Result<(), String> {
    let host = match target.split_once('@') {
        Some((u, h)) => {
            check_ssh_user(u)?;
            h
        }
        None => target,
    };
    if host.parse::<std::net::Ipv6Addr>().is_ok() {
        return Ok(());
    }
    check_ssh_host(host)
}

/// A user name as ssh is given it: ASCII letters, digits, `.`, `_`, `-`, not starting with `-`.
fn check_ssh_user(u: &str) -> std::result::Result<(), String> {
    if u.is_empty() {
        return Err("the user name before '@' is empty".into());
    }
    if u.starts_with('-') {
        return Err(format!(
            "the user name {u:?} starts with '-' (ssh would read it as an option)"
        ));
    }
    if let Some(c) = u
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "the user name {u:?} contains {c:?}: only ASCII letters, digits, '.', '_' and '-' are accepted"
        ));
    }
    Ok(())
}

/// A host name or IPv4 address: dot-separated labels of ASCII letters, digits, `-` and `_`
/// (ssh_config aliases use it), none empty or starting with `-`, at most 253 bytes.
fn check_ssh_host(h: &str) -> std::result::Result<(), String> {
    if h.is_empty() {
        return Err("it names no machine".into());
    }
    if h.starts_with('-') {
        return Err(format!(
            "the host {h:?} starts with '-' (ssh would read it as an option)"
        ));
    }
    if let Some(c) = h
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "the host {h:?} contains {c:?}: a host is a name of ASCII letters, digits, '-' and dots, or an IP address"
        ));
    }
    if h.len() > 253 {
        return Err(format!(
            "the host name is {} bytes long (at most 253)",
            h.len()
        ));
    }
    if let Some(l) = h
        .split('.')
        .find(|l| l.is_empty() || l.len() > 63 || l.starts_with('-'))
    {
        return Err(format!(
            "the host {h:?} has a label {l:?} that is empty, longer than 63 bytes or starts with '-'"
        ));
    }
    Ok(())
}

/// A container listing kept by its arguments: the server's tag for it and the rows.
type KeptList = (String, Arc<Vec<ContainerSummary>>);

/// The engine API over the socket. Connections are kept and reused.
pub struct RemoteEngine {
    endpoint: Endpoint,
    /// Kept connections (keep-alive); dropped before the runner that drives them.
    pool: Mutex<Vec<Conn>>,
    /// What the last ssh started said on stderr (for an ssh endpoint).
    ssh_said: Mutex<Option<super::ssh::Stderr>>,
    /// The last container listing per question, with the server's tag for it: asked
    /// again with `If-None-Match`, an unchanged listing comes back as `304` and is not
    /// decoded again.
    lists: Mutex<std::collections::HashMap<String, KeptList>>,
    /// Runs the connections (hyper's client) for the calls, which block.
    runner: Runner,
}

impl std::fmt::Debug for RemoteEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteEngine")
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

/// A request for `method`. Every request accepts trailers (a download's result travels
/// in one).
fn post(method: &str) -> http::request::Builder {
    http::Request::post(format!("/v1/{method}"))
        .header(header::HOST, "wharf")
        .header(header::TE, "trailers")
}

/// A request for `method` with `args` as its JSON body; `upgrade` asks for the attach
/// protocol (`101`).
fn json_request(method: &str, args: &Value, upgrade: bool) -> Result<http::Request<ReqBody>> {
    let body = serde_json::to_vec(args).unwrap_or_default();
    let mut b = post(method)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_LENGTH, body.len());
    if upgrade {
        b = b
            .header(header::CONNECTION, "Upgrade")
            .header(header::UPGRADE, "wharf-attach");
    }
    b.body(Either::Left(Full::new(Bytes::from(body))))
        .map_err(|e| EngineError::internal(format!("a request for {method}: {e}")))
}

/// `args` as JSON with every character outside printable ASCII escaped (`\uXXXX`), so
/// that it travels in a header and reads back as text. Such characters only occur
/// inside JSON strings, where the escape means the same character.
fn header_json(args: &Value) -> String {
    let s = serde_json::to_string(args).unwrap_or_default();
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii() && !c.is_ascii_control() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    out
}

/// The engine's error from a refusal's body.
fn refusal(method: &str, status: http::StatusCode, body: &[u8]) -> EngineError {
    serde_json::from_slice::<EngineError>(body).unwrap_or_else(|_| {
        EngineError::unavailable(format!(
            "the engine answered {method} with status {}",
            status.as_u16()
        ))
    })
}

impl RemoteEngine {
    /// Send `req` for `method` on a connection of its own; the answer must have status
    /// `want` (else it is the engine's error), and the connection then carries its body
    /// (or, after `101`, the raw stream).
    fn request(
        &self,
        method: &str,
        req: http::Request<ReqBody>,
        want: u16,
    ) -> Result<(Conn, http::Response<Incoming>)> {
        let mut conn = self.open()?;
        let resp = self
            .runner
            .run(conn.send(req))
            .map_err(|e| e.error(method))?;
        let resp = self.expect(&mut conn, method, resp, want)?;
        Ok((conn, resp))
    }

    /// `resp` if its status is `want`; else the engine's error, read from its body.
    fn expect(
        &self,
        conn: &mut Conn,
        method: &str,
        resp: http::Response<Incoming>,
        want: u16,
    ) -> Result<http::Response<Incoming>> {
        if resp.status().as_u16() == want {
            return Ok(resp);
        }
        let status = resp.status();
        let body = self.runner.run(conn.collect(resp.into_body()))?;
        Err(refusal(method, status, &body))
    }

    /// Call an attach-style method: `101`, then the connection is the stream.
    fn attach_call(&self, method: &str, args: Value) -> Result<UnixStream> {
        let (conn, resp) = self.request(method, json_request(method, &args, true)?, 101)?;
        conn.upgraded(&self.runner, resp)
    }

    /// A client for `endpoint`; checks that the engine answers.
    pub fn connect(endpoint: Endpoint) -> Result<Self> {
        let e = RemoteEngine {
            endpoint,
            pool: Mutex::new(Vec::new()),
            ssh_said: Mutex::new(None),
            lists: Mutex::new(Default::default()),
            runner: Runner::new()?,
        };
        let _: String = e.call("ping", json!([])).map_err(|err| e.explain(err))?;
        Ok(e)
    }

    /// Where this client connects.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// An engine that went silent over ssh: ssh's own words, explained.
    fn explain(&self, e: EngineError) -> EngineError {
        let Endpoint::Ssh { target, .. } = &self.endpoint else {
            return e;
        };
        if e.kind != crate::error::ErrorKind::Unavailable {
            return e;
        }
        let said = self
            .ssh_said
            .lock()
            .ok()
            .and_then(|s| s.clone())
            .map(|s| {
                // ssh's last words may trail the end of its output by a moment.
                for _ in 0..20 {
                    if !s.text().trim().is_empty() {
                        break;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(25));
                }
                s.text()
            })
            .unwrap_or_default();
        if said.trim().is_empty() {
            return e;
        }
        EngineError::unavailable(super::ssh::explain(target, &said))
    }

    fn open(&self) -> Result<Conn> {
        match &self.endpoint {
            Endpoint::Unix(p) => {
                let s = UnixStream::connect(p).map_err(|e| {
                    EngineError::unavailable(format!(
                        "cannot reach the wharf engine at {}: {e}; is `wharf serve` running?",
                        p.display()
                    ))
                })?;
                Conn::unix(&self.runner, s)
                    .map_err(|e| EngineError::io("setting up the connection", e))
            }
            Endpoint::Ssh { target, port } => {
                // An endpoint built without `parse` is checked all the same: the
                // destination must never be read as an option.
                check_destination(target).map_err(|why| {
                    EngineError::invalid(format!("ssh destination {target:?} is refused: {why}"))
                })?;
                // The system's ssh (WHARF_SSH_COMMAND replaces it), never prompting; what
                // it says on stderr is kept for the message if the engine never answers.
                let cmd = super::ssh::command(target, *port, &["wharf", "serve", "--stdio"]);
                let (mut child, said) = super::ssh::spawn(cmd, target)?;
                let stdin = child.stdin.take();
                let stdout = child.stdout.take();
                let child = ChildGuard(child);
                let (Some(stdin), Some(stdout)) = (stdin, stdout) else {
                    return Err(EngineError::internal("ssh has no stdin or stdout"));
                };
                *self.ssh_said.lock().unwrap_or_else(|p| p.into_inner()) = Some(said);
                Conn::ssh(&self.runner, stdin, stdout, child)
                    .map_err(|e| EngineError::io("setting up the connection through ssh", e))
            }
        }
    }

    /// A kept connection (`true`) or a new one.
    fn take(&self) -> Result<(Conn, bool)> {
        let pooled = self.pool.lock().map(|mut p| p.pop()).unwrap_or(None);
        match pooled {
            Some(c) => Ok((c, true)),
            None => Ok((self.open()?, false)),
        }
    }

    fn give_back(&self, c: Conn) {
        if !c.reusable() {
            return;
        }
        if let Ok(mut p) = self.pool.lock() {
            p.push(c);
        }
    }

    /// One request and its whole answer on a kept connection (then kept again). A kept
    /// connection may have been closed by the server while idle (it closes connections
    /// idle longer than its header timeout) before it read anything: then the request
    /// never arrived, and is sent again once on a new connection.
    fn exchange(
        &self,
        method: &str,
        req: impl Fn() -> Result<http::Request<ReqBody>>,
    ) -> Result<(http::response::Parts, Bytes)> {
        let (mut conn, pooled) = self.take()?;
        let mut res = self.runner.run(conn.round_trip(req()?));
        if pooled && matches!(&res, Err(Exchange::NoAnswer(e)) if e.closed()) {
            conn = self.open()?;
            res = self.runner.run(conn.round_trip(req()?));
        }
        match res {
            Ok(answer) => {
                self.give_back(conn);
                Ok(answer)
            }
            Err(Exchange::NoAnswer(e)) => Err(e.error(method)),
            Err(Exchange::Body(e)) => Err(e),
        }
    }

    /// Call `method` with `args` (a JSON array) and decode the answer.
    pub fn call<T: DeserializeOwned>(&self, method: &str, args: Value) -> Result<T> {
        let (head, body) = self.exchange(method, || json_request(method, &args, false))?;
        if head.status != http::StatusCode::OK {
            return Err(refusal(method, head.status, &body));
        }
        serde_json::from_slice(&body).map_err(|e| {
            EngineError::internal(format!(
                "the engine's answer to {method} does not decode: {e}"
            ))
        })
    }

    /// `container_list`, sending the tag of the last answer to the same question: an
    /// unchanged listing (`304`) is the one kept, not read and decoded again.
    fn list_cached(&self, opts: &ContainerListOptions) -> Result<Arc<Vec<ContainerSummary>>> {
        let args = json!([opts]);
        let key = args.to_string();
        // The tag sent and the rows it stands for, taken together: another thread may
        // replace the kept entry meanwhile, and a 304 means *these* rows.
        let kept = self.lists.lock().ok().and_then(|m| m.get(&key).cloned());
        let known = kept
            .as_ref()
            .and_then(|(t, _)| http::HeaderValue::from_str(t).ok());
        let (head, body) = self.exchange("container_list", || {
            let mut req = json_request("container_list", &args, false)?;
            if let Some(tag) = &known {
                req.headers_mut().insert(header::IF_NONE_MATCH, tag.clone());
            }
            Ok(req)
        })?;
        if head.status == http::StatusCode::NOT_MODIFIED {
            if let Some((_, v)) = kept.filter(|_| known.is_some()) {
                return Ok(v);
            }
            return Err(EngineError::internal(
                "the engine said the listing had not changed, but none is kept",
            ));
        }
        if head.status != http::StatusCode::OK {
            return Err(refusal("container_list", head.status, &body));
        }
        let rows: Arc<Vec<ContainerSummary>> = serde_json::from_slice(&body).map_err(|e| {
            EngineError::internal(format!(
                "the engine's answer to container_list does not decode: {e}"
            ))
        })?;
        let tag = head.headers.get(header::ETAG).and_then(|t| t.to_str().ok());
        if let (Some(tag), Ok(mut m)) = (tag, self.lists.lock()) {
            if m.len() >= 64 {
                m.clear();
            }
            m.insert(key, (tag.to_string(), rows.clone()));
        }
        Ok(rows)
    }

    /// Call a streaming `method`: `on_item` gets each item until it returns `false`
    /// (then the connection is dropped, which ends the stream on the server).
    pub fn call_stream<T: DeserializeOwned>(
        &self,
        method: &str,
        args: Value,
        on_item: &mut dyn FnMut(Value) -> bool,
    ) -> Result<Option<T>> {
        let (conn, resp) = self.request(method, json_request(method, &args, false)?, 200)?;
        let body = BodyReader::new(&self.runner, conn, resp.into_body());
        Self::lines(method, body, on_item)
    }

    /// Read a stream of JSON lines: each item to `on_item` until it returns `false`
    /// (then the body is dropped with its connection), the result at the end.
    fn lines<T: DeserializeOwned>(
        method: &str,
        body: BodyReader<'_>,
        on_item: &mut dyn FnMut(Value) -> bool,
    ) -> Result<Option<T>> {
        let mut lines = BufReader::new(body);
        let mut line = String::new();
        loop {
            line.clear();
            let n = lines
                .read_line(&mut line)
                .map_err(|e| EngineError::unavailable(format!("reading {method}: {e}")))?;
            if n == 0 {
                return Err(EngineError::unavailable(format!(
                    "the engine ended {method} without a result"
                )));
            }
            match serde_json::from_str::<StreamLine>(&line) {
                Ok(StreamLine::Item(v)) => {
                    if !on_item(v) {
                        return Ok(None);
                    }
                }
                Ok(StreamLine::End(v)) => {
                    return serde_json::from_value(v).map(Some).map_err(|e| {
                        EngineError::internal(format!(
                            "the result of {method} does not decode: {e}"
                        ))
                    })
                }
                Ok(StreamLine::Error(e)) => return Err(e),
                Err(e) => {
                    return Err(EngineError::unavailable(format!(
                        "bad stream line from {method}: {e}"
                    )))
                }
            }
        }
    }

    /// Send `input` to `method` as a chunked request body (args in a header); the
    /// answer, which must be `200`.
    fn upload(
        &self,
        method: &str,
        args: &Value,
        input: &mut dyn Read,
    ) -> Result<(Conn, http::Response<Incoming>)> {
        let mut conn = self.open()?;
        let req = post(method)
            .header("x-wharf-args", header_json(args))
            .body(())
            .map_err(|e| EngineError::internal(format!("a request for {method}: {e}")))?;
        let resp = conn.upload(&self.runner, req, input).map_err(|e| match e {
            Upload::Input(e) => EngineError::unavailable(format!("sending {method}: {e}")),
            Upload::NoAnswer(e) => e.error(method),
        })?;
        let resp = self.expect(&mut conn, method, resp, 200)?;
        Ok((conn, resp))
    }

    /// Call `method` sending `input` as a chunked request body (args in a header).
    pub fn call_upload<T: DeserializeOwned>(
        &self,
        method: &str,
        args: Value,
        input: &mut dyn Read,
    ) -> Result<T> {
        let (mut conn, resp) = self.upload(method, &args, input)?;
        let body = self.runner.run(conn.collect(resp.into_body()))?;
        serde_json::from_slice(&body).map_err(|e| {
            EngineError::internal(format!("the answer to {method} does not decode: {e}"))
        })
    }
}

impl SystemApi for RemoteEngine {
    fn info(&self, _caller: &Caller) -> Result<SystemInfo> {
        self.call("info", json!([]))
    }

    fn events(
        &self,
        _caller: &Caller,
        filter: &EventFilter,
        sink: &mut dyn FnMut(Event) -> bool,
    ) -> Result<()> {
        let _: Option<()> = self.stream_typed("events", json!([filter]), sink)?;
        Ok(())
    }

    fn trace(
        &self,
        _caller: &Caller,
        opts: &crate::trace::TraceOptions,
        sink: &mut dyn FnMut(crate::trace::TraceEntry) -> bool,
    ) -> Result<()> {
        let _: Option<()> = self.stream_typed("trace", json!([opts]), sink)?;
        Ok(())
    }
}

impl VolumeApi for RemoteEngine {
    fn volume_create(&self, _caller: &Caller, opts: &VolumeCreate) -> Result<Volume> {
        self.call("volume_create", json!([opts]))
    }
    fn volume_list(&self, _caller: &Caller, opts: &VolumeListOptions) -> Result<Vec<Volume>> {
        self.call("volume_list", json!([opts]))
    }
    fn volume_inspect(&self, _caller: &Caller, name: &str) -> Result<Volume> {
        self.call("volume_inspect", json!([name]))
    }
    fn volume_remove(&self, _caller: &Caller, name: &str, force: bool) -> Result<()> {
        self.call("volume_remove", json!([name, force]))
    }
    fn volume_prune(&self, _caller: &Caller, all: bool) -> Result<PruneReport> {
        self.call("volume_prune", json!([all]))
    }
}

impl RegistryApi for RemoteEngine {
    fn image_pull(
        &self,
        _caller: &Caller,
        reference: &str,
        opts: &PullOptions,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<String> {
        let id: Option<String> =
            self.stream_typed("image_pull", json!([reference, opts]), &mut |p| {
                progress(p);
                true
            })?;
        id.ok_or_else(|| EngineError::unavailable("the engine ended image_pull without a result"))
    }
    fn image_push(
        &self,
        _caller: &Caller,
        reference: &str,
        opts: &PushOptions,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<()> {
        let _: Option<()> =
            self.stream_typed("image_push", json!([reference, opts]), &mut |p| {
                progress(p);
                true
            })?;
        Ok(())
    }
    fn registry_login(
        &self,
        _caller: &Caller,
        server: &str,
        username: &str,
        password: &str,
    ) -> Result<()> {
        self.call("registry_login", json!([server, username, password]))
    }
    fn registry_logout(&self, _caller: &Caller, server: &str) -> Result<()> {
        self.call("registry_logout", json!([server]))
    }
}

impl RemoteEngine {
    /// Call `method` and copy its raw (chunked) answer into `out`; the result arrives in
    /// the `X-Wharf-Result` trailer, an error found after the first byte in `X-Wharf-Error`.
    pub fn call_download<T: DeserializeOwned>(
        &self,
        method: &str,
        args: Value,
        out: &mut dyn Write,
    ) -> Result<T> {
        let (conn, resp) = self.request(method, json_request(method, &args, false)?, 200)?;
        let mut body = BodyReader::new(&self.runner, conn, resp.into_body());
        std::io::copy(&mut body, out)
            .map_err(|e| EngineError::unavailable(format!("receiving {method}: {e}")))?;
        let trailer = |name: &str| {
            body.trailers
                .get(name)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        };
        if let Some(v) = trailer("x-wharf-error") {
            return Err(serde_json::from_str(&v)
                .unwrap_or_else(|_| EngineError::unavailable(format!("{method} failed: {v}"))));
        }
        let result = trailer("x-wharf-result").unwrap_or_else(|| "null".into());
        serde_json::from_str(&result).map_err(|e| {
            EngineError::internal(format!("the result of {method} does not decode: {e}"))
        })
    }

    fn stream_typed<I: DeserializeOwned, T: DeserializeOwned>(
        &self,
        method: &str,
        args: Value,
        sink: &mut dyn FnMut(I) -> bool,
    ) -> Result<Option<T>> {
        self.call_stream(method, args, &mut |v| match serde_json::from_value(v) {
            Ok(item) => sink(item),
            Err(_) => true,
        })
    }
}

impl RemoteEngine {
    /// An upload whose answer is a stream of JSON lines (`image_build`): the items go to
    /// `on_item` until it returns `false` (then the connection is dropped, which the
    /// server takes as a cancel).
    fn call_upload_stream<T: DeserializeOwned>(
        &self,
        method: &str,
        args: Value,
        input: &mut dyn Read,
        on_item: &mut dyn FnMut(Value) -> bool,
    ) -> Result<Option<T>> {
        let (conn, resp) = self.upload(method, &args, input)?;
        Self::lines(
            method,
            BodyReader::new(&self.runner, conn, resp.into_body()),
            on_item,
        )
    }
}

impl BuildApi for RemoteEngine {
    fn image_build(
        &self,
        _caller: &Caller,
        opts: &BuildOptions,
        context: BuildContext<'_>,
        sink: &mut dyn FnMut(BuildEvent) -> bool,
    ) -> Result<BuildResult> {
        let mut cancelled = false;
        let mut on = |v: Value| match serde_json::from_value::<BuildEvent>(v) {
            Ok(ev) => {
                let go = sink(ev);
                cancelled |= !go;
                go
            }
            Err(_) => true,
        };
        // The context travels as a tar (a directory is packed here, .dockerignore applied).
        let res: Option<BuildResult> = match context {
            BuildContext::Tar(r) => {
                self.call_upload_stream("image_build", json!([opts]), r, &mut on)?
            }
            BuildContext::Empty => self.call_upload_stream(
                "image_build",
                json!([opts]),
                &mut std::io::empty(),
                &mut on,
            )?,
            BuildContext::Dir(d) => {
                let tmp = tempfile_in_tmp()?;
                {
                    let mut f = std::io::BufWriter::new(&tmp.1);
                    crate::build::context::tar_dir(&d, &opts.dockerfile, &mut f)?;
                    f.flush()
                        .map_err(|e| EngineError::io("packing the build context", e))?;
                }
                let mut f = std::fs::File::open(&tmp.0)
                    .map_err(|e| EngineError::io("reading the packed build context", e))?;
                let r = self.call_upload_stream("image_build", json!([opts]), &mut f, &mut on);
                let _ = std::fs::remove_file(&tmp.0);
                r?
            }
        };
        match res {
            Some(r) => Ok(r),
            None if cancelled => Err(EngineError::new(
                crate::ErrorKind::Conflict,
                "the build was cancelled",
            )),
            None => Err(EngineError::unavailable(
                "the engine ended image_build without a result",
            )),
        }
    }
    fn build_cache_list(&self, _caller: &Caller) -> Result<Vec<BuildCacheEntry>> {
        self.call("build_cache_list", json!([]))
    }
    fn build_cache_prune(
        &self,
        _caller: &Caller,
        opts: &BuildCachePruneOptions,
    ) -> Result<PruneReport> {
        self.call("build_cache_prune", json!([opts]))
    }
    fn build_cache_usage(&self, _caller: &Caller) -> Result<BuildCacheUsage> {
        self.call("build_cache_usage", json!([]))
    }
}

/// A private temporary file under the system's temp directory.
fn tempfile_in_tmp() -> Result<(PathBuf, std::fs::File)> {
    let p = std::env::temp_dir().join(format!("wharf-context-{}.tar", &crate::ids::new_id()[..16]));
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&p)
        .map_err(|e| EngineError::io(format!("creating {}", p.display()), e))?;
    Ok((p, f))
}

impl ImageApi for RemoteEngine {
    fn image_list(&self, _caller: &Caller, opts: &ImageListOptions) -> Result<Vec<ImageSummary>> {
        self.call("image_list", json!([opts]))
    }
    fn image_inspect(&self, _caller: &Caller, reference: &str) -> Result<Value> {
        self.call("image_inspect", json!([reference]))
    }
    fn image_history(&self, _caller: &Caller, reference: &str) -> Result<Vec<HistoryEntry>> {
        self.call("image_history", json!([reference]))
    }
    fn image_load(&self, _caller: &Caller, input: &mut dyn Read) -> Result<LoadReport> {
        self.call_upload("image_load", json!([]), input)
    }
    fn image_import(
        &self,
        _caller: &Caller,
        input: &mut dyn Read,
        opts: &ImportOptions,
    ) -> Result<String> {
        self.call_upload("image_import", json!([opts]), input)
    }
    fn image_save(
        &self,
        _caller: &Caller,
        references: &[String],
        format: SaveFormat,
        out: &mut dyn Write,
    ) -> Result<()> {
        self.call_download("image_save", json!([references, format]), out)
    }
    fn image_tag(&self, _caller: &Caller, source: &str, target: &str) -> Result<()> {
        self.call("image_tag", json!([source, target]))
    }
    fn image_remove(
        &self,
        _caller: &Caller,
        reference: &str,
        force: bool,
    ) -> Result<Vec<RemoveOutcome>> {
        self.call("image_remove", json!([reference, force]))
    }
    fn image_prune(&self, _caller: &Caller, all: bool) -> Result<PruneReport> {
        self.call("image_prune", json!([all]))
    }
    fn image_build_demo(&self, _caller: &Caller, reference: &str) -> Result<String> {
        self.call("image_build_demo", json!([reference]))
    }
    fn image_disk_usage(&self, _caller: &Caller) -> Result<ImageDiskUsage> {
        self.call("image_disk_usage", json!(null))
    }
}

impl ContainerApi for RemoteEngine {
    fn container_create(&self, _caller: &Caller, spec: &ContainerCreate) -> Result<String> {
        self.call("container_create", json!([spec]))
    }
    fn container_start(&self, _caller: &Caller, id: &str) -> Result<()> {
        self.call("container_start", json!([id]))
    }
    fn container_stop(&self, _caller: &Caller, id: &str, timeout: Option<u32>) -> Result<()> {
        self.call("container_stop", json!([id, timeout]))
    }
    fn container_restart(&self, _caller: &Caller, id: &str, timeout: Option<u32>) -> Result<()> {
        self.call("container_restart", json!([id, timeout]))
    }
    fn container_kill(&self, _caller: &Caller, id: &str, signal: &str) -> Result<()> {
        self.call("container_kill", json!([id, signal]))
    }
    fn container_pause(&self, _caller: &Caller, id: &str) -> Result<()> {
        self.call("container_pause", json!([id]))
    }
    fn container_unpause(&self, _caller: &Caller, id: &str) -> Result<()> {
        self.call("container_unpause", json!([id]))
    }
    fn container_remove(&self, _caller: &Caller, id: &str, opts: RemoveOptions) -> Result<()> {
        self.call("container_remove", json!([id, opts]))
    }
    fn container_attach(&self, _caller: &Caller, id: &str) -> Result<UnixStream> {
        self.attach_call("container_attach", json!([id]))
    }
    fn container_start_attached(
        &self,
        _caller: &Caller,
        id: &str,
        size: Option<(u16, u16)>,
    ) -> Result<UnixStream> {
        self.attach_call("container_start_attached", json!([id, size]))
    }
    fn container_rename(&self, _caller: &Caller, id: &str, new_name: &str) -> Result<()> {
        self.call("container_rename", json!([id, new_name]))
    }
    fn container_wait(&self, _caller: &Caller, id: &str) -> Result<i32> {
        self.call("container_wait", json!([id]))
    }
    fn container_update(
        &self,
        _caller: &Caller,
        id: &str,
        resources: &Resources,
        restart: Option<&RestartPolicy>,
    ) -> Result<()> {
        self.call("container_update", json!([id, resources, restart]))
    }
    fn container_list(
        &self,
        _caller: &Caller,
        opts: &ContainerListOptions,
    ) -> Result<Vec<ContainerSummary>> {
        self.list_cached(opts).map(Arc::unwrap_or_clone)
    }
    fn container_list_shared(
        &self,
        _caller: &Caller,
        opts: &ContainerListOptions,
    ) -> Result<Arc<Vec<ContainerSummary>>> {
        self.list_cached(opts)
    }
    fn container_inspect(&self, _caller: &Caller, id: &str) -> Result<Value> {
        self.call("container_inspect", json!([id]))
    }
    fn container_prune(&self, _caller: &Caller) -> Result<PruneReport> {
        self.call("container_prune", json!(null))
    }
    fn container_logs(
        &self,
        _caller: &Caller,
        id: &str,
        opts: &LogOptions,
        sink: &mut dyn FnMut(LogLine) -> bool,
    ) -> Result<()> {
        let _: Option<()> = self.stream_typed("container_logs", json!([id, opts]), sink)?;
        Ok(())
    }
}

impl NetworkApi for RemoteEngine {
    fn network_create(&self, _caller: &Caller, spec: &NetworkCreate) -> Result<String> {
        self.call("network_create", json!([spec]))
    }
    fn network_list(
        &self,
        _caller: &Caller,
        opts: &NetworkListOptions,
    ) -> Result<Vec<NetworkInfo>> {
        self.call("network_list", json!([opts]))
    }
    fn network_inspect(&self, _caller: &Caller, network: &str) -> Result<NetworkInfo> {
        self.call("network_inspect", json!([network]))
    }
    fn network_remove(&self, _caller: &Caller, network: &str) -> Result<()> {
        self.call("network_remove", json!([network]))
    }
    fn network_prune(&self, _caller: &Caller) -> Result<PruneReport> {
        self.call("network_prune", json!(null))
    }
    fn network_connect(
        &self,
        _caller: &Caller,
        network: &str,
        container: &str,
        opts: &NetworkConnect,
    ) -> Result<()> {
        self.call("network_connect", json!([network, container, opts]))
    }
    fn network_disconnect(&self, _caller: &Caller, network: &str, container: &str) -> Result<()> {
        self.call("network_disconnect", json!([network, container]))
    }
    fn container_ports(&self, _caller: &Caller, container: &str) -> Result<Vec<PortBinding>> {
        self.call("container_ports", json!([container]))
    }
}

impl StatsApi for RemoteEngine {
    fn container_stats(
        &self,
        _caller: &Caller,
        ids: &[String],
        opts: &StatsOptions,
        sink: &mut dyn FnMut(Vec<ContainerStats>) -> bool,
    ) -> Result<()> {
        let _: Option<()> = self.stream_typed("container_stats", json!([ids, opts]), sink)?;
        Ok(())
    }
    fn stats_history(&self, _caller: &Caller, id: &str) -> Result<Vec<StatsPoint>> {
        self.call("stats_history", json!([id]))
    }
    fn host_stats(&self, _caller: &Caller) -> Result<HostStats> {
        self.call("host_stats", json!(null))
    }
}

impl AuditApi for RemoteEngine {
    fn whoami(&self, _caller: &Caller) -> Result<Caller> {
        self.call("whoami", json!([]))
    }
    fn audit_read(&self, _caller: &Caller) -> Result<Vec<crate::policy::audit::AuditEntry>> {
        self.call("audit_read", json!([]))
    }
    fn audit_verify(&self, _caller: &Caller) -> Result<u64> {
        self.call("audit_verify", json!([]))
    }
    fn permissions(&self, _caller: &Caller) -> Result<Permissions> {
        self.call("permissions", json!([]))
    }
}

impl ExecApi for RemoteEngine {
    fn exec(&self, _caller: &Caller, container: &str, cfg: &ExecConfig) -> Result<ExecSession> {
        let args = json!([container, cfg]);
        let (conn, resp) = self.request("exec", json_request("exec", &args, true)?, 101)?;
        let header = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok());
        let id = header("x-exec-id").unwrap_or_default().to_string();
        let pid = header("x-exec-pid")
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        if cfg.detach {
            return Ok(ExecSession {
                id,
                pid,
                stream: None,
            });
        }
        let mine = conn.upgraded(&self.runner, resp)?;
        Ok(ExecSession {
            id,
            pid,
            stream: Some(mine),
        })
    }
}

impl ToolboxApi for RemoteEngine {
    fn container_top(&self, _caller: &Caller, container: &str) -> Result<TopResult> {
        self.call("container_top", json!([container]))
    }
    fn container_diff(&self, _caller: &Caller, container: &str) -> Result<Vec<Change>> {
        self.call("container_diff", json!([container]))
    }
    fn container_export(
        &self,
        _caller: &Caller,
        container: &str,
        out: &mut dyn Write,
    ) -> Result<()> {
        self.call_download("container_export", json!([container]), out)
    }
    fn container_commit(
        &self,
        _caller: &Caller,
        container: &str,
        opts: &CommitOptions,
    ) -> Result<String> {
        self.call("container_commit", json!([container, opts]))
    }
    fn container_stat_path(
        &self,
        _caller: &Caller,
        container: &str,
        path: &str,
    ) -> Result<PathStat> {
        self.call("container_stat_path", json!([container, path]))
    }
    fn container_archive_get(
        &self,
        _caller: &Caller,
        container: &str,
        path: &str,
        out: &mut dyn Write,
    ) -> Result<PathStat> {
        self.call_download("container_archive_get", json!([container, path]), out)
    }
    fn container_archive_put(
        &self,
        _caller: &Caller,
        container: &str,
        dir: &str,
        input: &mut dyn Read,
    ) -> Result<()> {
        self.call_upload("container_archive_put", json!([container, dir]), input)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ssh(s: &str) -> (String, Option<u16>) {
        match Endpoint::parse(s) {
            Ok(Endpoint::Ssh { target, port }) => (target, port),
            other => panic!("{s:?}: {other:?}"),
        }
    }

    fn refused(s: &str) -> String {
        let e = Endpoint::parse(s).expect_err(s);
        assert!(e.message.contains("is refused"), "{s:?}: {e}");
        e.message
    }

    #[test]
    fn ssh_endpoints_that_are_plain_parse() {
        assert_eq!(ssh("ssh://bob@lab:2222"), ("bob@lab".into(), Some(2222)));
        assert_eq!(ssh("ssh://lab"), ("lab".into(), None));
        assert_eq!(ssh("ssh://u@h"), ("u@h".into(), None));
        assert_eq!(ssh("ssh://u@h:65535"), ("u@h".into(), Some(65535)));
        assert_eq!(ssh("ssh://u@h:1"), ("u@h".into(), Some(1)));
        assert_eq!(
            ssh("ssh://root@127.0.0.1:22"),
            ("root@127.0.0.1".into(), Some(22))
        );
        assert_eq!(ssh("ssh://u@[::1]:22"), ("u@::1".into(), Some(22)));
        assert_eq!(ssh("ssh://u@[fe80::1]"), ("u@fe80::1".into(), None));
        assert_eq!(
            ssh("ssh://deploy.bot@node-3.lab.example.org"),
            ("deploy.bot@node-3.lab.example.org".into(), None)
        );
        assert_eq!(ssh("ssh://my_alias"), ("my_alias".into(), None));
    }

    #[test]
    fn ssh_endpoints_that_ssh_could_misread_are_refused() {
        // Option injection, in the host, the user, or both.
        for s in [
            "ssh://-oProxyCommand=touch${IFS}/tmp/pwned",
            "ssh://-oProxyCommand=touch /tmp/pwned",
            "ssh://-p22@h",
            "ssh://u@-h",
            "ssh://u@-oProxyCommand=x",
            "ssh://-F/etc/x@h:22",
            "ssh://[-1]:22",
        ] {
            let m = refused(s);
            assert!(m.contains("'-'") || m.contains("IPv6"), "{s:?}: {m}");
        }
        // Ports.
        for s in [
            "ssh://u@h:0",
            "ssh://u@h:99999",
            "ssh://u@h:",
            "ssh://u@h:+22",
            "ssh://u@h:2x",
        ] {
            assert!(refused(s).contains("port"), "{s:?}");
        }
        // Whitespace, control characters, non-ASCII, shell and URL syntax.
        for s in [
            "ssh://u@h ost",
            "ssh://u @h",
            "ssh://u@h\n-oProxyCommand=x",
            "ssh://u@h\t",
            "ssh://u@h\u{0}",
            "ssh://ü@h",
            "ssh://u@hôte",
            "ssh://u@h\u{200b}",
            "ssh://u@h;id",
            "ssh://u@h$(id)",
            "ssh://u@h/path",
            "ssh://a@b@c",
            "ssh://u@h..x",
            "ssh://u@.h",
            "ssh://@h",
            "ssh://",
            "ssh://u@",
            "ssh://u@::1",
            "ssh://u@[::1",
            "ssh://u@[::1]22",
            "ssh://u@[not-v6]",
        ] {
            refused(s);
        }
        let long = format!("ssh://u@{}", "a".repeat(64));
        refused(&long);
    }

    #[test]
    fn upload_args_travel_as_plain_ascii() {
        let v = json!(["/tmp/été 🐳", "a\u{7f}b", {"k": "\"q\""}]);
        let h = header_json(&v);
        assert!(http::HeaderValue::from_str(&h).is_ok(), "{h}");
        assert!(h.contains("\\u00e9t\\u00e9 \\ud83d\\udc33"), "{h}");
        assert_eq!(serde_json::from_str::<Value>(&h).unwrap(), v);
    }

    #[test]
    fn a_destination_built_by_hand_is_checked_before_ssh_runs() {
        let e = RemoteEngine {
            endpoint: Endpoint::Ssh {
                target: "-oProxyCommand=true".into(),
                port: None,
            },
            pool: Mutex::new(Vec::new()),
            ssh_said: Mutex::new(None),
            lists: Mutex::new(Default::default()),
            runner: Runner::new().unwrap(),
        };
        let err = e.open().err().expect("refused");
        assert!(err.message.contains("is refused"), "{err}");
        assert!(check_destination("u@::1").is_ok());
        assert!(check_destination("u@h.example").is_ok());
        assert!(check_destination("u@-h").is_err());
    }
}
