//! Docker API: images (`/images/...`), `/commit` and `/build/prune`, on the engine's
//! image store and registry client.
//!
//! Pulls, pushes, imports and loads answer with Docker's JSON message streams
//! (`{"status": ..., "id": ..., "progressDetail": ...}` lines). The head of such a stream
//! is sent with its first line, so a call that fails before any progress (a bad name, a
//! refusal, a registry that does not know the image) is an ordinary error answer with
//! dockerd's status code; a failure after that is the stream's last line,
//! `{"errorDetail": {"message": ...}, "error": ...}`, which the docker CLI and docker-py
//! read.
//!
//! Registry credentials come from `X-Registry-Auth` (base64 JSON, as the docker CLI and
//! docker-py send it) and are used for that one call only (`PullOptions::auth`,
//! `PushOptions::auth`): dockerd does not keep them either. Without them the caller's
//! login saved by `POST /auth` (or `wharf login`) is used.

use std::collections::BTreeMap;
use std::io::{self, Write};

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use serde_json::{json, Value};

use super::fields::{bad_type, Fields};
use super::{base_headers, json_status, ok, unsupported, Call, Handled};
use crate::api::*;
use crate::error::{EngineError, ErrorKind};
use crate::filters::bool_value;
use crate::image::registry::api::normalize_server;
use crate::image::Reference;
use crate::policy::Action;
use crate::server::bridge::{BodyWriter, Responder};

// ---------------------------------------------------------------------------------
// Streams

/// Headers of a JSON message stream.
fn json_headers() -> HeaderMap {
    let mut h = base_headers();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h
}

/// A JSON message stream whose head goes out with its first line.
struct JsonStream<'a> {
    out: &'a mut Responder,
    w: Option<BodyWriter>,
}

impl<'a> JsonStream<'a> {
    fn new(out: &'a mut Responder) -> Self {
        JsonStream { out, w: None }
    }

    /// Send one message (`false` once the client has gone).
    fn line(&mut self, v: &Value) -> bool {
        let w = match &mut self.w {
            Some(w) => w,
            None => self
                .w
                .insert(self.out.start(StatusCode::OK, json_headers())),
        };
        let mut b = serde_json::to_vec(v).unwrap_or_default();
        b.extend_from_slice(b"\r\n");
        w.send(Bytes::from(b))
    }

    /// End the stream: an error becomes the last line once the head is out, and an
    /// ordinary error answer before.
    fn finish(mut self, res: Result<(), EngineError>) -> Handled {
        match res {
            Ok(()) => {
                if self.w.is_none() {
                    self.out.start(StatusCode::OK, json_headers());
                }
                Ok(())
            }
            Err(e) if self.w.is_some() => {
                self.line(&json!({"errorDetail": {"message": e.message}, "error": e.message}));
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}

/// A raw body (a tar) whose head goes out with its first byte, so an error before any
/// byte is an ordinary error answer.
struct LazyBody<'a> {
    out: &'a mut Responder,
    content_type: &'static str,
    w: Option<BodyWriter>,
}

impl LazyBody<'_> {
    fn writer(&mut self) -> &mut BodyWriter {
        let ct = self.content_type;
        let out = &mut *self.out;
        self.w.get_or_insert_with(|| {
            let mut h = base_headers();
            h.insert(http::header::CONTENT_TYPE, HeaderValue::from_static(ct));
            out.start(StatusCode::OK, h)
        })
    }
}

impl Write for LazyBody<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer().write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `1.2MB`, as Docker's progress bars print sizes (decimal units, 4 significant digits).
pub fn human_size(n: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1000.0 && i + 1 < units.len() {
        v /= 1000.0;
        i += 1;
    }
    let digits = if v >= 100.0 {
        1
    } else if v >= 10.0 {
        2
    } else {
        3
    };
    let mut s = format!("{v:.prec$}", prec = if v >= 1000.0 { 0 } else { digits });
    if s.contains('.') {
        s = s.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    format!("{s}{}", units[i])
}

/// Docker's progress text: `[=====>        ]  1.2MB/2.1MB`.
pub fn progress_bar(current: u64, total: u64) -> String {
    if total == 0 {
        return format!("{:>8}", human_size(current));
    }
    let pct = ((current as f64 / total as f64 * 100.0) as usize / 2).min(50);
    let bar = format!("[{}>{}]", "=".repeat(pct), " ".repeat(50 - pct));
    if current > total {
        return bar;
    }
    format!("{bar} {:>8}/{}", human_size(current), human_size(total))
}

/// A pull or push progress event as Docker's JSON messages (one, or two for the end of
/// a push: its status line and the `aux` record clients read the digest from).
pub fn progress_messages(p: &Progress) -> Vec<Value> {
    let v = progress_json(p);
    match v.get("aux") {
        Some(aux) => vec![
            json!({"status": v["status"], "progressDetail": {}}),
            json!({"progressDetail": {}, "aux": aux}),
        ],
        None => vec![v],
    }
}

/// A pull or push progress event as one Docker JSON message.
pub fn progress_json(p: &Progress) -> Value {
    match p {
        Progress::Layer {
            id,
            status,
            current,
            total,
        } => {
            let moving = matches!(status.as_str(), "Downloading" | "Pushing" | "Extracting");
            match total {
                Some(t) if moving => json!({
                    "status": status,
                    "progressDetail": {"current": current, "total": t},
                    "progress": progress_bar(*current, *t),
                    "id": id,
                }),
                None if moving && *current > 0 => json!({
                    "status": status,
                    "progressDetail": {"current": current},
                    "progress": progress_bar(*current, 0),
                    "id": id,
                }),
                _ => json!({"status": status, "progressDetail": {}, "id": id}),
            }
        }
        Progress::Message(m) => {
            // `latest: Pulling from library/busybox` carries its tag as the id.
            if let Some((tag, from)) = m.split_once(": Pulling from ") {
                return json!({"status": format!("Pulling from {from}"), "id": tag});
            }
            // `1: digest: sha256:... size: 528` (end of a push) also goes as `aux`.
            if let Some((tag, rest)) = m.split_once(": digest: ") {
                let mut words = rest.split_whitespace();
                let digest = words.next().unwrap_or("");
                let size: u64 = match (words.next(), words.next()) {
                    (Some("size:"), Some(n)) => n.parse().unwrap_or(0),
                    _ => 0,
                };
                return json!({
                    "status": m,
                    "progressDetail": {},
                    "aux": {"Tag": tag, "Digest": digest, "Size": size},
                });
            }
            json!({"status": m})
        }
    }
}

// ---------------------------------------------------------------------------------
// Names

/// `%2F` and friends in a path segment decoded (docker-py quotes `@` and other
/// characters of image names in paths).
pub fn percent_decode(s: &str) -> Result<String, EngineError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| {
                    EngineError::invalid(format!("{s:?} has a bad percent escape in the path"))
                })?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map_err(|_| EngineError::invalid(format!("{s:?} is not UTF-8 once decoded")))
}

/// The image name of the path segments `seg` (which may hold `/` and `:`).
fn name_of(seg: &[&str]) -> Result<String, EngineError> {
    let parts: Vec<String> = seg
        .iter()
        .map(|s| percent_decode(s))
        .collect::<Result<_, _>>()?;
    let name = parts.join("/");
    if name.is_empty() {
        return Err(EngineError::invalid("the image name in the path is empty"));
    }
    Ok(name)
}

/// The engine's "image NAME not found" in dockerd's words, `No such image: NAME`
/// (docker-py tells a missing image from other 404s by them); other errors unchanged.
pub fn no_such_image(e: EngineError) -> EngineError {
    if e.kind != ErrorKind::NotFound {
        return e;
    }
    let name = e
        .message
        .strip_prefix("image ")
        .and_then(|rest| rest.split_once(" not found"))
        .and_then(|(q, _)| serde_json::from_str::<String>(q).ok());
    match name {
        Some(n) => EngineError::new(ErrorKind::NotFound, format!("No such image: {n}")),
        None => e,
    }
}

/// `repo` with `tag` (if given) as one reference: `tag` replaces a tag in `repo`, as
/// dockerd does. A digest is refused (`what` says where).
fn tag_ref(repo: &str, tag: &str, what: &str) -> Result<String, EngineError> {
    let r = Reference::parse_any(repo)?;
    if r.digest.is_some() {
        return Err(EngineError::invalid(format!(
            "{what}: {repo:?} has a digest; give a repository and a tag"
        )));
    }
    if tag.is_empty() {
        return Ok(Reference::parse(repo)?.to_string());
    }
    let full = format!("{}:{tag}", r.name());
    Ok(Reference::parse(&full)?.to_string())
}

/// A `platform` parameter: only this machine's (`linux`, `linux/amd64`, ...) can be
/// honoured where the engine takes none.
fn host_platform_only(c: &Call, what: &str) -> Result<(), EngineError> {
    let Some(p) = c.q("platform").filter(|p| !p.is_empty()) else {
        return Ok(());
    };
    let arch = super::system::arch();
    let ok =
        p == "linux" || p == format!("linux/{arch}") || p.starts_with(&format!("linux/{arch}/"));
    if ok {
        Ok(())
    } else {
        Err(unsupported(
            &format!("{what} for platform {p:?}"),
            &format!("wharf {what} for this machine's platform (linux/{arch}) only"),
        ))
    }
}

/// Credentials of `X-Registry-Auth` for `registry`, if the header carries any.
fn registry_auth(c: &Call, registry: &str) -> Result<Option<RegistryAuth>, EngineError> {
    let Some(h) = c.req.header("x-registry-auth").map(str::trim) else {
        return Ok(None);
    };
    if h.is_empty() {
        return Ok(None);
    }
    let engines = [
        base64::engine::general_purpose::URL_SAFE,
        base64::engine::general_purpose::URL_SAFE_NO_PAD,
        base64::engine::general_purpose::STANDARD,
        base64::engine::general_purpose::STANDARD_NO_PAD,
    ];
    let raw = engines
        .iter()
        .find_map(|e| e.decode(h).ok())
        .ok_or_else(|| EngineError::invalid("X-Registry-Auth is not base64"))?;
    let v: Value = serde_json::from_slice(&raw)
        .map_err(|e| EngineError::invalid(format!("X-Registry-Auth is not JSON: {e}")))?;
    let mut f = Fields::of("X-Registry-Auth", &v)?;
    let mut username = f.string("username")?.unwrap_or_default();
    let mut password = f.string("password")?.unwrap_or_default();
    let auth = f.string("auth")?.unwrap_or_default();
    let server = f.string("serveraddress")?.unwrap_or_default();
    // Deprecated and ignored by dockerd.
    f.accept("email");
    f.zero(
        "identitytoken",
        "log in with a user name and password or access token",
    )?;
    f.zero(
        "registrytoken",
        "give a user name and password or access token instead of a bearer token",
    )?;
    f.finish()?;
    if username.is_empty() && password.is_empty() && !auth.is_empty() {
        let dec = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| {
                EngineError::invalid("X-Registry-Auth: auth is not base64 of user:password")
            })?;
        let (u, p) = dec.split_once(':').ok_or_else(|| {
            EngineError::invalid("X-Registry-Auth: auth is not base64 of user:password")
        })?;
        username = u.to_string();
        password = p.to_string();
    }
    if username.is_empty() && password.is_empty() {
        return Ok(None);
    }
    if username.is_empty() || password.is_empty() {
        return Err(EngineError::invalid(
            "X-Registry-Auth has a user name or a password but not both",
        ));
    }
    if !server.is_empty() {
        let s = normalize_server(&server)?;
        if s != registry {
            return Err(EngineError::invalid(format!(
                "X-Registry-Auth holds credentials for {s}, but the image is on {registry}"
            )));
        }
    }
    Ok(Some(RegistryAuth { username, password }))
}

// ---------------------------------------------------------------------------------
// Listing

/// Seconds since the epoch of an RFC 3339 time (0 if it is not one).
fn rfc3339_secs(s: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp())
        .unwrap_or(0)
}

/// An `until` filter: a time (unix seconds or RFC 3339) or a duration before now.
fn until_secs(v: &str) -> Result<i64, EngineError> {
    super::system::parse_time(v)
        .map(|ns| ns.div_euclid(1_000_000_000))
        .map_err(|_| {
            EngineError::invalid(format!(
                "invalid filter 'until={v}': give a time (unix seconds or RFC 3339) or a duration such as 24h"
            ))
        })
}

/// Does `labels` have every `key` or `key=value` of `wanted`?
fn labels_match(labels: &Value, wanted: &[String]) -> bool {
    wanted
        .iter()
        .all(|w| crate::filters::label_holds(labels, w))
}

/// `GET /images/json?all=&digests=&filters=`: filters dangling, reference, label,
/// before, since, until.
pub fn list(c: &mut Call, out: &mut Responder) -> Handled {
    let e = &c.sh.engine;
    let mut opts = ImageListOptions {
        all: c.q_bool("all", false)?,
        ..Default::default()
    };
    // RepoDigests are always in the answer, as dockerd does whatever `digests` says.
    c.q_bool("digests", false)?;
    if c.q_bool("shared-size", false)? {
        return Err(unsupported(
            "shared-size",
            "wharf does not compute the size images share; docker system df shows what can be reclaimed",
        ));
    }
    let mut labels = Vec::new();
    let mut before: Option<(String, i64)> = None;
    let mut since: Option<(String, i64)> = None;
    let mut until: Option<i64> = None;
    let by_image = |r: &str| -> Result<(String, i64), EngineError> {
        let v = e.image_inspect(c.caller, r).map_err(no_such_image)?;
        Ok((
            v["Id"].as_str().unwrap_or("").to_string(),
            rfc3339_secs(v["Created"].as_str().unwrap_or("")),
        ))
    };
    for (k, v) in c.filters()? {
        match k.as_str() {
            "dangling" => {
                let d = bool_value(&k, &v)?;
                if opts.dangling.is_some_and(|x| x != d) {
                    return Err(EngineError::invalid(
                        "the dangling filter is given both true and false",
                    ));
                }
                opts.dangling = Some(d);
            }
            "reference" => opts.reference.push(v),
            "label" => labels.push(v),
            "before" => before = Some(by_image(&v)?),
            "since" => since = Some(by_image(&v)?),
            "until" => until = Some(until_secs(&v)?),
            other => {
                return Err(EngineError::invalid(format!(
                    "invalid filter '{other}': images are filtered by dangling, reference, label, before, since or until"
                )))
            }
        }
    }
    let mut rows = e.image_list(c.caller, &opts)?;
    rows.retain(|s| {
        before
            .as_ref()
            .is_none_or(|(id, t)| s.id != *id && s.created < *t)
            && since
                .as_ref()
                .is_none_or(|(id, t)| s.id != *id && s.created > *t)
            && until.is_none_or(|t| s.created < t)
    });
    let mut out_rows = Vec::new();
    for s in &rows {
        let mut j = summary_json(s);
        if !labels.is_empty() {
            let cfg_labels = e.image_inspect(c.caller, &s.id)?["Config"]["Labels"].clone();
            if !labels_match(&cfg_labels, &labels) {
                continue;
            }
            if cfg_labels.is_object() {
                j["Labels"] = cfg_labels;
            }
        }
        if !c.at_least((1, 44)) {
            j["VirtualSize"] = json!(s.size);
        } else if let Some(o) = j.as_object_mut() {
            o.remove("VirtualSize");
        }
        out_rows.push(j);
    }
    ok(out, &out_rows);
    Ok(())
}

// ---------------------------------------------------------------------------------
// Pull, import, load, save, push

/// `POST /images/create`: pull (`fromImage`, `tag`, `platform`) or import a root file
/// system tar from the body (`fromSrc=-`, `repo`, `tag`, `changes`, `message`).
pub fn create(c: &mut Call, out: &mut Responder) -> Handled {
    let from_image = c.q("fromImage").unwrap_or_default();
    let from_src = c.q("fromSrc").unwrap_or_default();
    match (from_image.is_empty(), from_src.is_empty()) {
        (false, true) => pull(c, out, &from_image),
        (true, false) => import(c, out, &from_src),
        (false, false) => Err(EngineError::invalid(
            "give fromImage (pull) or fromSrc (import), not both",
        )),
        (true, true) => Err(EngineError::invalid(
            "give fromImage to pull an image or fromSrc=- to import a root file system",
        )),
    }
}

fn pull(c: &mut Call, out: &mut Responder, from: &str) -> Handled {
    c.sh.engine.gate().precheck(c.caller, Action::ImagePull)?;
    let tag = c.q("tag").unwrap_or_default();
    let r = Reference::parse_any(from)?;
    let reference = if tag.is_empty() {
        if r.tag.is_none() && r.digest.is_none() {
            return Err(unsupported(
                "pulling every tag of a repository (docker pull --all-tags)",
                "name the tag to pull",
            ));
        }
        r.to_string()
    } else if tag.starts_with("sha256:") {
        crate::image::reference::validate_digest(&tag)?;
        format!("{}@{tag}", r.name())
    } else {
        format!("{}:{tag}", r.name())
    };
    let rref = Reference::parse_remote(&reference)?;
    let auth = registry_auth(c, &rref.registry)?;
    let opts = PullOptions {
        platform: c.q("platform").filter(|p| !p.is_empty()),
        auth,
    };
    let engine = c.sh.engine.clone();
    let caller = c.caller;
    let mut s = JsonStream::new(out);
    let res = engine.image_pull(caller, &reference, &opts, &mut |p| {
        for m in progress_messages(&p) {
            s.line(&m);
        }
    });
    s.finish(res.map(|_| ()))
}

fn import(c: &mut Call, out: &mut Responder, src: &str) -> Handled {
    if src != "-" {
        return Err(unsupported(
            &format!("importing from {src:?}"),
            "download the file and import it from standard input (docker import FILE, or - with the tar on stdin)",
        ));
    }
    c.sh.engine.gate().precheck(c.caller, Action::ImageImport)?;
    host_platform_only(c, "imports")?;
    let repo = c.q("repo").unwrap_or_default();
    let tag = c.q("tag").unwrap_or_default();
    let reference = match (repo.is_empty(), tag.is_empty()) {
        (true, true) => None,
        (true, false) => {
            return Err(EngineError::invalid(format!(
                "import: tag {tag:?} without repo; give repo (and tag)"
            )))
        }
        (false, _) => Some(tag_ref(&repo, &tag, "import")?),
    };
    let opts = ImportOptions {
        reference,
        changes: c
            .q_all("changes")
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect(),
        message: c.q("message").filter(|m| !m.is_empty()),
    };
    let mut body = c.req.body(None);
    let id = c.sh.engine.image_import(c.caller, &mut body, &opts)?;
    let mut s = JsonStream::new(out);
    s.line(&json!({"status": id}));
    s.finish(Ok(()))
}

/// `POST /images/load?quiet=`: a `docker save` archive (or an OCI layout tar) in the
/// body. Answers `{"stream": "Loaded image: NAME\n"}` lines.
pub fn load(c: &mut Call, out: &mut Responder) -> Handled {
    c.sh.engine.gate().precheck(c.caller, Action::ImageLoad)?;
    // Quiet only drops progress bars, and wharf's load reports none.
    c.q_bool("quiet", false)?;
    host_platform_only(c, "loads")?;
    let mut body = c.req.body(None);
    let r = c.sh.engine.image_load(c.caller, &mut body)?;
    let mut s = JsonStream::new(out);
    for t in &r.tagged {
        s.line(&json!({"stream": format!("Loaded image: {}\n", familiar(t))}));
    }
    for id in &r.untagged_ids {
        s.line(&json!({"stream": format!("Loaded image ID: {id}\n")}));
    }
    s.finish(Ok(()))
}

/// `GET /images/{name}/get` and `GET /images/get?names=`: a `docker save` tar.
pub fn save(c: &mut Call, out: &mut Responder, name: Option<&str>) -> Handled {
    let names: Vec<String> = match name {
        Some(n) => vec![n.to_string()],
        None => c
            .q_all("names")
            .into_iter()
            .filter(|n| !n.is_empty())
            .collect(),
    };
    if names.is_empty() {
        return Err(EngineError::invalid(
            "name the images to save: GET /images/get?names=IMAGE",
        ));
    }
    host_platform_only(c, "saves")?;
    let engine = c.sh.engine.clone();
    let mut body = LazyBody {
        out,
        content_type: "application/x-tar",
        w: None,
    };
    let res = engine.image_save(c.caller, &names, SaveFormat::Docker, &mut body);
    match (res, body.w.take()) {
        (Ok(()), _) => Ok(()),
        (Err(e), Some(w)) => {
            // Mid-tar: cut the connection so the client sees a failed transfer.
            tracing::debug!("docker save of {names:?}: {e}");
            w.abort(&e.message);
            Ok(())
        }
        (Err(e), None) => Err(no_such_image(e)),
    }
}

/// `POST /images/{name}/push?tag=`: push `name:tag`, or every local tag of the
/// repository `name` when neither names a tag (as dockerd).
fn push(c: &mut Call, out: &mut Responder, name: &str) -> Handled {
    c.sh.engine.gate().precheck(c.caller, Action::ImagePush)?;
    host_platform_only(c, "pushes")?;
    let tag = c.q("tag").unwrap_or_default();
    let base = Reference::parse_any(name)?;
    let targets: Vec<String> = if !tag.is_empty() {
        vec![tag_ref(name, &tag, "push")?]
    } else if base.tag.is_some() || base.digest.is_some() {
        vec![base.to_string()]
    } else {
        let mut all: Vec<String> =
            c.sh.engine
                .image_list(c.caller, &ImageListOptions::default())?
                .into_iter()
                .flat_map(|s| s.repo_tags)
                .filter(|t| Reference::parse_any(t).is_ok_and(|r| r.name() == base.name()))
                .collect();
        all.sort();
        if all.is_empty() {
            return Err(EngineError::not_found(
                "image",
                &base.familiar_name(),
                "no local tag of this repository; tag an image first (docker tag IMAGE NAME:TAG)",
            ));
        }
        all
    };
    let registry = base.clone().on_registry().registry;
    let auth = registry_auth(c, &registry)?;
    let opts = PushOptions { auth };
    let engine = c.sh.engine.clone();
    let caller = c.caller;
    let mut s = JsonStream::new(out);
    let mut res = Ok(());
    for t in &targets {
        res = engine.image_push(caller, t, &opts, &mut |p| {
            for m in progress_messages(&p) {
                s.line(&m);
            }
        });
        if res.is_err() {
            break;
        }
    }
    s.finish(res)
}

// ---------------------------------------------------------------------------------
// By name

/// `/images/{name}/...`: `name` is every segment but the last for `json`, `history`,
/// `get`, `tag` and `push`, and the whole rest for `DELETE`.
pub fn by_name(c: &mut Call, out: &mut Responder, m: &Method, seg: &[&str]) -> Handled {
    let (last, head) = match seg.split_last() {
        Some((l, h)) if !h.is_empty() => (Some(*l), h),
        _ => (None, seg),
    };
    match (m, last) {
        (&Method::DELETE, _) => remove(c, out, &name_of(seg)?),
        (&Method::GET, Some("json")) => inspect(c, out, &name_of(head)?),
        (&Method::GET, Some("history")) => history(c, out, &name_of(head)?),
        (&Method::GET, Some("get")) => {
            let name = name_of(head)?;
            save(c, out, Some(&name))
        }
        (&Method::POST, Some("tag")) => tag(c, out, &name_of(head)?),
        (&Method::POST, Some("push")) => push(c, out, &name_of(head)?),
        _ => Err(EngineError::not_found(
            "API endpoint",
            &format!("{m} {}", c.path),
            "wharf serves GET /images/{name}/json|history|get, POST /images/{name}/tag|push and DELETE /images/{name}",
        )),
    }
}

/// `GET /images/{name}/json`: Docker's inspect shape (from the engine).
fn inspect(c: &mut Call, out: &mut Responder, name: &str) -> Handled {
    let mut v =
        c.sh.engine
            .image_inspect(c.caller, name)
            .map_err(no_such_image)?;
    if !c.at_least((1, 44)) {
        v["VirtualSize"] = v["Size"].clone();
        // dockerd 20.10 also answered the config of the container the image was made
        // in; wharf keeps none apart from the image's own, so that one stands in (what
        // docker-compose 1.29 reads `Volumes` from when it recreates a container).
        if v.get("ContainerConfig").is_none() {
            v["ContainerConfig"] = v["Config"].clone();
        }
    }
    ok(out, &v);
    Ok(())
}

/// `GET /images/{name}/history`: newest first, the image's tags on its top row.
fn history(c: &mut Call, out: &mut Responder, name: &str) -> Handled {
    let e = &c.sh.engine;
    let h = e.image_history(c.caller, name).map_err(no_such_image)?;
    let tags = e.image_inspect(c.caller, name)?["RepoTags"].clone();
    let rows: Vec<Value> = h
        .iter()
        .enumerate()
        .map(|(i, r)| {
            json!({
                "Id": r.id,
                "Created": r.created,
                "CreatedBy": r.created_by,
                "Tags": if i == 0 && tags.as_array().is_some_and(|a| !a.is_empty()) { tags.clone() } else { Value::Null },
                "Size": r.size,
                "Comment": r.comment,
            })
        })
        .collect();
    ok(out, &rows);
    Ok(())
}

/// `POST /images/{name}/tag?repo=&tag=`: `201`.
fn tag(c: &mut Call, out: &mut Responder, name: &str) -> Handled {
    let repo = c.q("repo").unwrap_or_default();
    if repo.is_empty() {
        return Err(EngineError::invalid(
            "tag: give the new name in repo (and tag)",
        ));
    }
    // `force` (API < 1.25) is how tags always behave now: a tag moves to the new image.
    c.q_bool("force", false)?;
    let target = tag_ref(&repo, &c.q("tag").unwrap_or_default(), "tag")?;
    c.sh.engine
        .image_tag(c.caller, name, &target)
        .map_err(no_such_image)?;
    super::status_only(out, StatusCode::CREATED);
    Ok(())
}

/// `DELETE /images/{name}?force=&noprune=`: `[{"Untagged": ...}, {"Deleted": ...}]`.
fn remove(c: &mut Call, out: &mut Responder, name: &str) -> Handled {
    let force = c.q_bool("force", false)?;
    // `noprune` keeps untagged parent images; wharf's images have no parent images, so
    // there is never one to keep.
    c.q_bool("noprune", false)?;
    let r =
        c.sh.engine
            .image_remove(c.caller, name, force)
            .map_err(no_such_image)?;
    ok(out, &outcomes_json(&r));
    Ok(())
}

fn outcomes_json(r: &[RemoveOutcome]) -> Vec<Value> {
    r.iter()
        .map(|o| match o {
            RemoveOutcome::Untagged(t) => json!({"Untagged": t}),
            RemoveOutcome::Deleted(d) => json!({"Deleted": d}),
        })
        .collect()
}

// ---------------------------------------------------------------------------------
// Prune, search, commit, build cache

/// `POST /images/prune?filters=`: dangling unused images, or every unused image with
/// `dangling=false`.
pub fn prune(c: &mut Call, out: &mut Responder) -> Handled {
    let mut all = false;
    for (k, v) in c.filters()? {
        match k.as_str() {
            "dangling" => all = !bool_value(&k, &v)?,
            "label" | "label!" | "until" => {
                return Err(unsupported(
                    &format!("pruning images by {k} ({k}={v})"),
                    "list them with docker images --filter and remove them with docker rmi",
                ))
            }
            other => {
                return Err(EngineError::invalid(format!(
                    "invalid filter '{other}': image prune takes the dangling filter"
                )))
            }
        }
    }
    let r = c.sh.engine.image_prune(c.caller, all)?;
    let deleted: Vec<Value> = r
        .deleted
        .iter()
        .map(|d| match d.strip_prefix("untagged: ") {
            Some(t) => json!({"Untagged": t}),
            None => json!({"Deleted": d}),
        })
        .collect();
    ok(
        out,
        &json!({
            "ImagesDeleted": if deleted.is_empty() { Value::Null } else { json!(deleted) },
            "SpaceReclaimed": r.reclaimed,
        }),
    );
    Ok(())
}

/// `GET /images/search`: not available.
pub fn search(c: &mut Call, _out: &mut Responder) -> Handled {
    let term = c.q("term").unwrap_or_default();
    Err(EngineError::new(
        ErrorKind::Unavailable,
        format!(
            "searching Docker Hub is not available on wharf: it pulls images by name only; look {term:?} up on https://hub.docker.com and pull it with docker pull NAME"
        ),
    ))
}

/// A string as one double-quoted word of a Dockerfile-style change.
fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A `Cmd`/`Entrypoint`-style field (a list, or one string) as a JSON exec form.
fn exec_form(f: &mut Fields, key: &'static str) -> Result<Option<String>, EngineError> {
    Ok(f.strings(key)?
        .map(|list| serde_json::to_string(&list).unwrap_or_default()))
}

/// The keys of an object field (`ExposedPorts`, `Volumes`).
fn object_keys(f: &mut Fields, key: &'static str) -> Result<Vec<String>, EngineError> {
    match f.get(key) {
        None => Ok(vec![]),
        Some(Value::Object(o)) => Ok(o.keys().cloned().collect()),
        Some(other) => Err(bad_type(&f.at(key), "an object", other)),
    }
}

/// The container config of a commit request body as Dockerfile-style changes (what the
/// engine's commit applies to the new image's config). Fields a change cannot express
/// are refused by name.
pub fn config_changes(body: Value) -> Result<Vec<String>, EngineError> {
    let mut f = Fields::of("commit config", &body)?;
    let mut out = Vec::new();
    if let Some(cmd) = exec_form(&mut f, "Cmd")? {
        out.push(format!("CMD {cmd}"));
    }
    if let Some(ep) = exec_form(&mut f, "Entrypoint")? {
        out.push(format!("ENTRYPOINT {ep}"));
    }
    for e in f.string_list("Env")? {
        if !e.contains('=') {
            return Err(EngineError::invalid(format!(
                "commit config: Env entry {e:?} has no '='; write NAME=VALUE"
            )));
        }
        out.push(format!("ENV {}", quoted(&e)));
    }
    for p in object_keys(&mut f, "ExposedPorts")? {
        out.push(format!("EXPOSE {p}"));
    }
    let vols = object_keys(&mut f, "Volumes")?;
    if !vols.is_empty() {
        out.push(format!(
            "VOLUME {}",
            serde_json::to_string(&vols).unwrap_or_default()
        ));
    }
    let labels: BTreeMap<String, String> = f.string_map("Labels")?;
    for (k, v) in labels {
        out.push(format!("LABEL {}", quoted(&format!("{k}={v}"))));
    }
    for (key, word) in [
        ("User", "USER"),
        ("WorkingDir", "WORKDIR"),
        ("StopSignal", "STOPSIGNAL"),
    ] {
        if let Some(v) = f.string(key)? {
            out.push(format!("{word} {v}"));
        }
    }
    for o in f.string_list("OnBuild")? {
        out.push(format!("ONBUILD {o}"));
    }
    for (key, hint) in [
        (
            "Hostname",
            "the hostname is set per container (docker run --hostname)",
        ),
        ("Domainname", "the domain name is set per container"),
        ("AttachStdin", "attaching is chosen per container"),
        ("AttachStdout", "attaching is chosen per container"),
        ("AttachStderr", "attaching is chosen per container"),
        ("Tty", "a terminal is chosen per container (docker run -t)"),
        ("OpenStdin", "stdin is chosen per container (docker run -i)"),
        ("StdinOnce", "stdin is chosen per container"),
        ("Healthcheck", "wharf cannot put a health check into an image yet; set one per container (docker run --health-cmd)"),
        ("ArgsEscaped", "it is for Windows images"),
        (
            "Image",
            "the new image is made from the container's own image",
        ),
        (
            "NetworkDisabled",
            "networking is chosen per container (docker run --network none)",
        ),
        ("MacAddress", "MAC addresses are chosen per container"),
        (
            "StopTimeout",
            "the stop timeout is set per container (docker run --stop-timeout)",
        ),
        (
            "Shell",
            "SHELL applies to builds, and wharf's builder is not there yet",
        ),
    ] {
        f.zero(key, hint)?;
    }
    f.finish()?;
    Ok(out)
}

/// `POST /commit?container=&repo=&tag=&comment=&author=&pause=&changes=`, the body a
/// container config applied to the new image: `201 {"Id": ...}`.
pub fn commit(c: &mut Call, out: &mut Responder) -> Handled {
    c.sh.engine
        .gate()
        .precheck(c.caller, Action::ContainerCommit)?;
    let container = c.q("container").unwrap_or_default();
    if container.is_empty() {
        return Err(EngineError::invalid(
            "commit: name the container in the container parameter",
        ));
    }
    let repo = c.q("repo").unwrap_or_default();
    let tag = c.q("tag").unwrap_or_default();
    let reference = match (repo.is_empty(), tag.is_empty()) {
        (true, true) => None,
        (true, false) => {
            return Err(EngineError::invalid(format!(
                "commit: tag {tag:?} without repo; give repo (and tag)"
            )))
        }
        (false, _) => Some(tag_ref(&repo, &tag, "commit")?),
    };
    let pause = c.q_bool("pause", true)?;
    let mut changes = config_changes(c.json_body()?)?;
    // The query's changes come last: dockerd applies them on top of the body's config.
    changes.extend(c.q_all("changes").into_iter().filter(|s| !s.is_empty()));
    let opts = CommitOptions {
        reference,
        message: c.q("comment").filter(|s| !s.is_empty()),
        author: c.q("author").filter(|s| !s.is_empty()),
        changes,
        pause,
    };
    let id = c.sh.engine.container_commit(c.caller, &container, &opts)?;
    json_status(out, StatusCode::CREATED, &json!({"Id": id}));
    Ok(())
}

/// `POST /build/prune`: the build cache's records (and the intermediate images only
/// they keep), answered with what went. `filters` may say `until`; `all` and
/// `keep-storage` are accepted (wharf's cache has no shared or internal records, and
/// keeps no storage quota).
pub fn build_prune(c: &mut Call, out: &mut Responder) -> Handled {
    c.sh.engine.gate().precheck(c.caller, Action::ImagePrune)?;
    let mut opts = BuildCachePruneOptions::default();
    for (k, v) in c.filters()? {
        match k.as_str() {
            "until" => {
                let t = super::system::parse_time(&v)?;
                opts.until = Some(t / 1_000_000_000);
            }
            other => {
                return Err(unsupported(
                    &format!("the build cache filter {other}"),
                    "wharf's build cache filters by until only",
                ))
            }
        }
    }
    c.q_bool("all", false)?;
    c.q_int("keep-storage")?;
    let r = c.sh.engine.build_cache_prune(c.caller, &opts)?;
    let ids: Vec<String> = r
        .deleted
        .iter()
        .map(|d| d.trim_start_matches("sha256:").to_string())
        .collect();
    ok(
        out,
        &json!({"CachesDeleted": ids, "SpaceReclaimed": r.reclaimed}),
    );
    Ok(())
}

// ---------------------------------------------------------------------------------
// Shapes shared with system.rs

/// A reference as Docker clients show it (`busybox:latest`, `localhost:5000/x:1`).
pub fn familiar(r: &str) -> String {
    crate::image::Reference::parse(r)
        .map(|r| r.familiar())
        .unwrap_or_else(|_| r.to_string())
}

/// A row of `GET /images/json`, in Docker's shape.
pub fn summary_json(i: &ImageSummary) -> Value {
    json!({
        "Id": i.id,
        "ParentId": "",
        "RepoTags": i.repo_tags.iter().map(|t| familiar(t)).collect::<Vec<_>>(),
        "RepoDigests": i.repo_digests.iter().map(|t| familiar(t)).collect::<Vec<_>>(),
        "Created": i.created,
        "Size": i.size,
        "SharedSize": -1,
        "VirtualSize": i.size,
        "Labels": {},
        "Containers": i.containers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_bars_as_docker_prints_them() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(999), "999B");
        assert_eq!(human_size(2_100_000), "2.1MB");
        assert_eq!(human_size(1_234_567), "1.235MB");
        assert_eq!(human_size(123_456_789), "123.5MB");
        let bar = progress_bar(50, 100);
        assert!(
            bar.starts_with(&format!("[{}>{}]", "=".repeat(25), " ".repeat(25))),
            "{bar}"
        );
        assert!(bar.ends_with("50B/100B"), "{bar}");
        assert!(progress_bar(100, 100).starts_with(&format!("[{}>]", "=".repeat(50))));
    }

    #[test]
    fn progress_as_docker_messages() {
        let v = progress_json(&Progress::Message(
            "latest: Pulling from library/busybox".into(),
        ));
        assert_eq!(
            v,
            json!({"status": "Pulling from library/busybox", "id": "latest"})
        );
        let v = progress_json(&Progress::Layer {
            id: "abc".into(),
            status: "Downloading".into(),
            current: 10,
            total: Some(20),
        });
        assert_eq!(v["progressDetail"], json!({"current": 10, "total": 20}));
        assert_eq!(v["id"], "abc");
        assert!(v["progress"].as_str().unwrap().starts_with('['));
        let v = progress_json(&Progress::Layer {
            id: "abc".into(),
            status: "Pull complete".into(),
            current: 20,
            total: Some(20),
        });
        assert_eq!(
            v,
            json!({"status": "Pull complete", "progressDetail": {}, "id": "abc"})
        );
        let v = progress_json(&Progress::Message(
            "1: digest: sha256:abcd size: 528".into(),
        ));
        assert_eq!(
            v["aux"],
            json!({"Tag": "1", "Digest": "sha256:abcd", "Size": 528})
        );
        let two = progress_messages(&Progress::Message(
            "1: digest: sha256:abcd size: 528".into(),
        ));
        assert_eq!(two[0]["status"], "1: digest: sha256:abcd size: 528");
        assert!(two[0].get("aux").is_none());
        assert_eq!(two[1]["aux"]["Digest"], "sha256:abcd");
    }

    #[test]
    fn missing_images_in_dockerd_words() {
        let e = EngineError::not_found("image", "nosuch:1", "pull it");
        assert_eq!(no_such_image(e).message, "No such image: nosuch:1");
        let e = EngineError::not_found("container", "c", "");
        assert_eq!(no_such_image(e.clone()).message, e.message);
        let e = EngineError::invalid("image \"x\" not found");
        assert_eq!(no_such_image(e).kind, ErrorKind::InvalidArgument);
    }

    #[test]
    fn names_in_paths() {
        assert_eq!(
            name_of(&["localhost:5000", "app:v1"]).unwrap(),
            "localhost:5000/app:v1"
        );
        assert_eq!(
            name_of(&["busybox%40sha256:abc"]).unwrap(),
            "busybox@sha256:abc"
        );
        assert!(name_of(&["bad%zz"]).is_err());
        assert!(name_of(&[""]).is_err());
        assert_eq!(
            tag_ref("localhost:5000/app", "v2", "t").unwrap(),
            "localhost:5000/app:v2"
        );
        assert_eq!(
            tag_ref("busybox:1", "2", "t").unwrap(),
            "docker.io/library/busybox:2"
        );
        assert_eq!(
            tag_ref("busybox", "", "t").unwrap(),
            "docker.io/library/busybox:latest"
        );
        assert!(tag_ref(
            "busybox@sha256:0000000000000000000000000000000000000000000000000000000000000000",
            "",
            "t"
        )
        .is_err());
    }

    #[test]
    fn durations_and_labels() {
        // Durations back from now (the one time parser of the Docker API).
        let now = chrono::Utc::now().timestamp();
        let back = |v: &str| now - until_secs(v).unwrap();
        assert!((86399..=86401).contains(&back("24h")));
        assert!((5399..=5401).contains(&back("1h30m")));
        assert!((0..=2).contains(&back("1.5s")));
        assert!(until_secs("x").is_err());
        assert_eq!(until_secs("10").unwrap(), 10);
        assert_eq!(until_secs("1700000000").unwrap(), 1_700_000_000);
        let l = json!({"a": "1", "b": "2"});
        assert!(labels_match(&l, &["a".into(), "b=2".into()]));
        assert!(!labels_match(&l, &["a=2".into()]));
        assert!(!labels_match(&Value::Null, &["a".into()]));
    }

    #[test]
    fn commit_config_becomes_changes() {
        let ch = config_changes(json!({
            "Cmd": ["sh", "-c", "echo \"hi\""],
            "Env": ["A=b c", "Q=\"x\\y\""],
            "ExposedPorts": {"80/tcp": {}},
            "Labels": {"k": "v w"},
            "WorkingDir": "/srv",
            "Volumes": {"/data": {}},
            "Hostname": "",
            "Tty": false,
        }))
        .unwrap();
        assert_eq!(ch[0], r#"CMD ["sh","-c","echo \"hi\""]"#);
        // Each change parses back to what was asked.
        let mut cfg = serde_json::Map::new();
        for c in &ch {
            crate::image::build::apply_change(&mut cfg, c).unwrap();
        }
        assert_eq!(cfg["Cmd"], json!(["sh", "-c", "echo \"hi\""]));
        assert_eq!(cfg["Env"], json!(["A=b c", "Q=\"x\\y\""]));
        assert_eq!(cfg["Labels"], json!({"k": "v w"}));
        assert_eq!(cfg["ExposedPorts"], json!({"80/tcp": {}}));
        assert_eq!(cfg["Volumes"], json!({"/data": {}}));
        assert_eq!(cfg["WorkingDir"], json!("/srv"));
        assert!(config_changes(Value::Null).unwrap().is_empty());
        let e = config_changes(json!({"Hostname": "h"})).unwrap_err();
        assert!(e.message.contains("Hostname"), "{e}");
        let e = config_changes(json!({"Healthcheck": {"Test": ["CMD", "true"]}})).unwrap_err();
        assert!(e.message.contains("Healthcheck"), "{e}");
        assert!(config_changes(json!({"Env": ["NOEQUALS"]})).is_err());
        assert!(config_changes(json!({"Bogus": 1})).is_err());
    }
}
