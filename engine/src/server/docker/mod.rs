//! The Docker Engine API on wharf's socket, so the docker CLI, docker-py, compose and
//! other Docker tools drive the embedded engine. Every request is translated into calls
//! of the one engine API with the caller's identity (from the kernel), so roles, scope,
//! constraints and the audit journal apply to every field exactly as for wharf's own
//! clients; a refusal is a `403` in Docker's error shape with the policy's reason.
//!
//! Paths come versioned (`/v1.45/containers/json`) or not; versions below
//! [`MIN_API_VERSION`] or above [`API_VERSION`] are refused with dockerd's words.
//! A field of a request that wharf does not do is refused by name when set to anything
//! but its default, never ignored.

pub mod attach;
pub mod build;
pub mod containers;
pub mod create;
pub mod fields;
pub mod images;
pub mod networks;
pub mod system;
pub mod volumes;

use std::collections::BTreeMap;

use http::{HeaderMap, HeaderValue, Method, StatusCode};
use serde::Serialize;
use serde_json::Value;

use super::bridge::Responder;
use super::{Req, Shared};
use crate::caller::Caller;
use crate::error::{EngineError, ErrorKind};

/// The API version wharf speaks (what Docker Engine 26.1 speaks).
pub const API_VERSION: &str = "1.45";
/// The oldest API version wharf answers, as dockerd 26 does.
pub const MIN_API_VERSION: &str = "1.24";

/// What the Docker API keeps between requests.
#[derive(Default)]
pub struct State {
    /// Exec instances made by `POST /containers/{id}/exec`, by id.
    pub execs: attach::Execs,
    /// Attaches waiting for their container's start (`docker run` attaches first).
    pub pending: attach::PendingAttaches,
}

/// An API version as two numbers, for comparisons.
pub fn parse_version(v: &str) -> Option<(u32, u32)> {
    let (a, b) = v.split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// A request of the Docker API: the path without its version, split into segments.
pub struct Call<'a> {
    pub sh: &'a Shared,
    pub caller: &'a Caller,
    pub req: Req,
    /// The API version the client asked for (the server's when unversioned).
    pub version: (u32, u32),
    pub path: String,
}

impl Call<'_> {
    /// Query parameter `key`, decoded.
    pub fn q(&self, key: &str) -> Option<String> {
        self.req
            .query()
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// Every value of query parameter `key`.
    pub fn q_all(&self, key: &str) -> Vec<String> {
        self.req
            .query()
            .into_iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v)
            .collect()
    }

    /// A boolean query parameter as Docker reads them (`1`, `true`, `True`; absent or
    /// empty = `default`).
    pub fn q_bool(&self, key: &str, default: bool) -> Result<bool, EngineError> {
        match self.q(key).as_deref() {
            None | Some("") => Ok(default),
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" => Ok(true),
                "0" | "false" | "no" => Ok(false),
                _ => Err(EngineError::invalid(format!(
                    "invalid boolean {v:?} for query parameter {key}: use 1/0 or true/false"
                ))),
            },
        }
    }

    /// An integer query parameter.
    pub fn q_int(&self, key: &str) -> Result<Option<i64>, EngineError> {
        match self.q(key).as_deref() {
            None | Some("") => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                EngineError::invalid(format!("invalid number {v:?} for query parameter {key}"))
            }),
        }
    }

    /// The `filters` query parameter (`{"key": ["v1", "v2"]}`, or the old
    /// `{"key": {"v1": true}}`) as (key, value) pairs.
    pub fn filters(&self) -> Result<Vec<(String, String)>, EngineError> {
        parse_filters(self.q("filters").as_deref())
    }

    /// Is the client's API version at least `v`?
    pub fn at_least(&self, v: (u32, u32)) -> bool {
        self.version >= v
    }

    /// The JSON body of at most the server's JSON limit. An empty body is `null`.
    pub fn json_body(&mut self) -> Result<Value, EngineError> {
        let limit = self.sh.limits.max_json_body;
        let body = self
            .req
            .body(Some(limit))
            .read_all()
            .map_err(|e| EngineError::invalid(format!("request body: {e}")))?;
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&body)
            .map_err(|e| EngineError::invalid(format!("the request body is not valid JSON: {e}")))
    }
}

/// Parse Docker's `filters` JSON.
pub fn parse_filters(text: Option<&str>) -> Result<Vec<(String, String)>, EngineError> {
    let Some(t) = text.filter(|t| !t.is_empty()) else {
        return Ok(vec![]);
    };
    let v: Value = serde_json::from_str(t)
        .map_err(|e| EngineError::invalid(format!("invalid filters {t:?}: {e}")))?;
    let Value::Object(m) = v else {
        return Err(EngineError::invalid(format!(
            "invalid filters {t:?}: expected a JSON object"
        )));
    };
    let mut out = Vec::new();
    for (k, vals) in m {
        match vals {
            Value::Array(a) => {
                for x in a {
                    match x {
                        Value::String(s) => out.push((k.clone(), s)),
                        other => out.push((k.clone(), other.to_string())),
                    }
                }
            }
            Value::Object(o) => {
                for (x, on) in o {
                    if on.as_bool().unwrap_or(false) {
                        out.push((k.clone(), x));
                    }
                }
            }
            Value::String(s) => out.push((k.clone(), s)),
            other => {
                return Err(EngineError::invalid(format!(
                    "invalid filter {k:?}: {other} is not a list of values"
                )))
            }
        }
    }
    Ok(out)
}

/// The HTTP status dockerd uses for an error of this kind.
pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::InvalidArgument => StatusCode::BAD_REQUEST,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::PermissionDenied => StatusCode::FORBIDDEN,
        ErrorKind::Corrupt | ErrorKind::Io | ErrorKind::Internal => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// Headers dockerd sends with every answer.
pub fn base_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("api-version", HeaderValue::from_static(API_VERSION));
    h.insert("docker-experimental", HeaderValue::from_static("false"));
    h.insert("ostype", HeaderValue::from_static("linux"));
    h.insert(
        "server",
        HeaderValue::from_static(concat!("wharf/", env!("CARGO_PKG_VERSION"), " (linux)")),
    );
    h
}

/// An error in Docker's shape: `{"message": "..."}`.
pub fn error(out: &mut Responder, e: &EngineError) {
    json_status(
        out,
        status_of(e.kind),
        &serde_json::json!({ "message": e.message }),
    );
}

/// A JSON answer with Docker's headers.
pub fn json_status<T: Serialize + ?Sized>(out: &mut Responder, status: StatusCode, v: &T) {
    let body = serde_json::to_vec(v).unwrap_or_default();
    let mut h = base_headers();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    out.full_with(status, h, body);
}

/// `200` with JSON.
pub fn ok<T: Serialize + ?Sized>(out: &mut Responder, v: &T) {
    json_status(out, StatusCode::OK, v)
}

/// An answer without a body (`204`, `304`, `201` ...).
pub fn status_only(out: &mut Responder, status: StatusCode) {
    out.start(status, base_headers());
}

/// A handler's result: it answered itself, or failed with an engine error.
pub type Handled = Result<(), EngineError>;

/// Answer one Docker API request.
pub fn handle(sh: &Shared, caller: &Caller, req: Req, out: &mut Responder) {
    let raw = req.parts.uri.path().to_string();
    let (version, path) = match split_version(&raw) {
        Ok(v) => v,
        Err(e) => return error(out, &e),
    };
    let mut call = Call {
        sh,
        caller,
        req,
        version,
        path,
    };
    if let Err(e) = route(&mut call, out) {
        if out.started() {
            tracing::debug!("docker API {raw}: {e}");
        } else {
            error(out, &no_such_container(&call.path, e));
        }
    }
}

/// dockerd's words for a container the engine does not find, on every
/// `/containers/{id}/...` endpoint: `No such container: {id}`.
fn no_such_container(path: &str, e: EngineError) -> EngineError {
    let mut seg = path.trim_start_matches('/').split('/');
    match (seg.next(), seg.next()) {
        (Some("containers"), Some(id))
            if e.kind == ErrorKind::NotFound
                && e.message.starts_with("container ")
                && !["json", "create", "prune"].contains(&id) =>
        {
            EngineError::new(ErrorKind::NotFound, format!("No such container: {id}"))
        }
        _ => e,
    }
}

/// `/v1.45/containers/json` → ((1, 45), `/containers/json`); versions out of range are
/// refused with dockerd's words.
pub fn split_version(raw: &str) -> Result<((u32, u32), String), EngineError> {
    let server = parse_version(API_VERSION).unwrap_or((1, 45));
    let Some(rest) = raw.strip_prefix("/v") else {
        return Ok((server, raw.to_string()));
    };
    let (ver, tail) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let Some(v) = parse_version(ver) else {
        return Ok((server, raw.to_string()));
    };
    let min = parse_version(MIN_API_VERSION).unwrap_or((1, 24));
    if v < min {
        return Err(EngineError::invalid(format!(
            "client version {ver} is too old. Minimum supported API version is {MIN_API_VERSION}, please upgrade your client to a newer version"
        )));
    }
    if v > server {
        return Err(EngineError::invalid(format!(
            "client version {ver} is too new. Maximum supported API version is {API_VERSION}"
        )));
    }
    Ok((v, tail.to_string()))
}

/// Route by method and path.
fn route(c: &mut Call, out: &mut Responder) -> Handled {
    let m = c.req.parts.method.clone();
    let path = c.path.clone();
    let seg: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (&m, seg.as_slice()) {
        (&Method::GET | &Method::HEAD, ["_ping"]) => system::ping(c, out),
        (&Method::GET, ["version"]) => system::version(c, out),
        (&Method::GET, ["info"]) => system::info(c, out),
        (&Method::GET, ["system", "df"]) => system::df(c, out),
        (&Method::GET, ["events"]) => system::events(c, out),
        (&Method::POST, ["auth"]) => system::auth(c, out),

        (&Method::GET, ["containers", "json"]) => containers::list(c, out),
        (&Method::POST, ["containers", "create"]) => create::create(c, out),
        (&Method::POST, ["containers", "prune"]) => containers::prune(c, out),
        (&Method::GET, ["containers", id, "json"]) => containers::inspect(c, out, id),
        (&Method::GET, ["containers", id, "top"]) => containers::top(c, out, id),
        (&Method::GET, ["containers", id, "logs"]) => containers::logs(c, out, id),
        (&Method::GET, ["containers", id, "changes"]) => containers::changes(c, out, id),
        (&Method::GET, ["containers", id, "export"]) => containers::export(c, out, id),
        (&Method::GET, ["containers", id, "stats"]) => containers::stats(c, out, id),
        (&Method::POST, ["containers", id, "resize"]) => attach::resize_container(c, out, id),
        (&Method::POST, ["containers", id, "start"]) => attach::start(c, out, id),
        (&Method::POST, ["containers", id, "stop"]) => containers::stop(c, out, id),
        (&Method::POST, ["containers", id, "restart"]) => containers::restart(c, out, id),
        (&Method::POST, ["containers", id, "kill"]) => containers::kill(c, out, id),
        (&Method::POST, ["containers", id, "update"]) => containers::update(c, out, id),
        (&Method::POST, ["containers", id, "rename"]) => containers::rename(c, out, id),
        (&Method::POST, ["containers", id, "pause"]) => containers::pause(c, out, id),
        (&Method::POST, ["containers", id, "unpause"]) => containers::unpause(c, out, id),
        (&Method::POST, ["containers", id, "attach"]) => attach::attach(c, out, id),
        (&Method::GET, ["containers", _, "attach", "ws"]) => Err(unsupported(
            "attaching over a websocket",
            "use POST /containers/{id}/attach",
        )),
        (&Method::POST, ["containers", id, "wait"]) => containers::wait(c, out, id),
        (&Method::DELETE, ["containers", id]) => containers::remove(c, out, id),
        (&Method::HEAD, ["containers", id, "archive"]) => containers::archive_head(c, out, id),
        (&Method::GET, ["containers", id, "archive"]) => containers::archive_get(c, out, id),
        (&Method::PUT, ["containers", id, "archive"]) => containers::archive_put(c, out, id),
        (&Method::POST, ["containers", id, "exec"]) => attach::exec_create(c, out, id),
        (&Method::POST, ["exec", id, "start"]) => attach::exec_start(c, out, id),
        (&Method::POST, ["exec", id, "resize"]) => attach::exec_resize(c, out, id),
        (&Method::GET, ["exec", id, "json"]) => attach::exec_inspect(c, out, id),

        (&Method::GET, ["images", "json"]) => images::list(c, out),
        (&Method::POST, ["images", "create"]) => images::create(c, out),
        (&Method::POST, ["images", "load"]) => images::load(c, out),
        (&Method::GET, ["images", "get"]) => images::save(c, out, None),
        (&Method::POST, ["images", "prune"]) => images::prune(c, out),
        (&Method::GET, ["images", "search"]) => images::search(c, out),
        (&Method::POST, ["commit"]) => images::commit(c, out),
        (&Method::POST, ["build"]) => build::build(c, out),
        (&Method::POST, ["build", "prune"]) => images::build_prune(c, out),
        (_, ["images", ..]) => images::by_name(c, out, &m, &seg[1..]),

        (&Method::GET, ["networks"]) => networks::list(c, out),
        (&Method::POST, ["networks", "create"]) => networks::create(c, out),
        (&Method::POST, ["networks", "prune"]) => networks::prune(c, out),
        (&Method::GET, ["networks", id]) => networks::inspect(c, out, id),
        (&Method::DELETE, ["networks", id]) => networks::remove(c, out, id),
        (&Method::POST, ["networks", id, "connect"]) => networks::connect(c, out, id),
        (&Method::POST, ["networks", id, "disconnect"]) => networks::disconnect(c, out, id),

        (&Method::GET, ["volumes"]) => volumes::list(c, out),
        (&Method::POST, ["volumes", "create"]) => volumes::create(c, out),
        (&Method::POST, ["volumes", "prune"]) => volumes::prune(c, out),
        (&Method::GET, ["volumes", name]) => volumes::inspect(c, out, name),
        (&Method::DELETE, ["volumes", name]) => volumes::remove(c, out, name),
        (&Method::PUT, ["volumes", _]) => Err(unsupported(
            "updating a volume",
            "only cluster volumes can be updated, and wharf is not a swarm",
        )),

        (_, ["swarm", ..] | ["nodes", ..] | ["services", ..] | ["tasks", ..] | ["secrets", ..] | ["configs", ..]) => {
            Err(EngineError::new(
                ErrorKind::Unavailable,
                "This node is not a swarm manager. wharf runs no swarm: use containers, networks and volumes directly",
            ))
        }
        (_, ["plugins", ..]) => Err(unsupported(
            "plugins",
            "wharf has its own local volume and bridge network drivers only",
        )),
        (_, ["session"]) => Err(unsupported(
            "build sessions (BuildKit)",
            "wharf's builder is the classic one: build with DOCKER_BUILDKIT=0",
        )),
        (&Method::GET, ["distribution", ..]) => Err(unsupported(
            "registry distribution lookups",
            "pull the image with `docker pull` instead",
        )),
        _ => Err(EngineError::not_found(
            "API endpoint",
            &format!("{m} {path}"),
            "wharf does not serve it; see README for what the Docker API on wharf supports",
        )),
    }
}

/// A Docker API feature wharf does not have, refused by name (501 in dockerd's words
/// where it has them).
pub fn unsupported(what: &str, hint: &str) -> EngineError {
    EngineError::new(
        ErrorKind::InvalidArgument,
        format!("{what} is not supported by wharf: {hint}"),
    )
}

/// Labels from a JSON object (values must be strings).
pub fn labels_of(v: &Value, what: &str) -> Result<BTreeMap<String, String>, EngineError> {
    match v {
        Value::Null => Ok(BTreeMap::new()),
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                other => Err(EngineError::invalid(format!(
                    "{what}: label {k:?} has value {other}, not a string"
                ))),
            })
            .collect(),
        other => Err(EngineError::invalid(format!(
            "{what}: labels must be an object of strings, not {other}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_paths() {
        assert_eq!(
            split_version("/v1.41/containers/json").unwrap(),
            ((1, 41), "/containers/json".to_string())
        );
        assert_eq!(
            split_version("/_ping").unwrap(),
            ((1, 45), "/_ping".to_string())
        );
        let e = split_version("/v1.12/info").unwrap_err();
        assert_eq!(
            e.message,
            "client version 1.12 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version"
        );
        assert!(split_version("/v1.99/info")
            .unwrap_err()
            .message
            .contains("too new"));
    }

    #[test]
    fn missing_containers_in_dockerds_words() {
        let nf = || EngineError::not_found("container", "web", "list containers");
        assert_eq!(
            no_such_container("/containers/web/start", nf()).message,
            "No such container: web"
        );
        // Other objects, and other errors, keep the engine's words.
        let path = EngineError::not_found("path", "web:/x", "check the path");
        assert_eq!(
            no_such_container("/containers/web/archive", path.clone()),
            path
        );
        assert_eq!(no_such_container("/images/web/json", nf()), nf());
    }

    #[test]
    fn filters_both_shapes() {
        let f = parse_filters(Some(
            r#"{"label":["a=b","c"],"status":{"running":true,"exited":false}}"#,
        ))
        .unwrap();
        assert_eq!(
            f,
            vec![
                ("label".into(), "a=b".into()),
                ("label".into(), "c".into()),
                ("status".into(), "running".into())
            ]
        );
        assert!(parse_filters(Some("[1]")).is_err());
        assert!(parse_filters(Some("{")).is_err());
        assert!(parse_filters(None).unwrap().is_empty());
    }
}
