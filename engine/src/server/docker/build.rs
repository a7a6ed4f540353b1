//! Docker API: `POST /build`, the classic builder's protocol (what `DOCKER_BUILDKIT=0
//! docker build`, docker-py's `images.build` and `docker-compose build` send): the
//! context as a tar body, options as query parameters (each supported or refused by
//! name), and Docker's JSON stream back: `{"stream": "Step 1/3 : FROM busybox\n"}`,
//! `{"aux": {"ID": "sha256:..."}}`, and on failure
//! `{"errorDetail": {"code": 1, "message": ...}, "error": ...}`.

use std::collections::BTreeMap;

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use serde_json::{json, Value};

use super::{base_headers, unsupported, Call, Handled};
use crate::api::{classic_lines, BuildApi, BuildContext, BuildEvent, BuildOptions};
use crate::error::EngineError;
use crate::policy::Action;
use crate::server::bridge::{BodyWriter, Responder};

/// A JSON object of strings from a query parameter (`buildargs`, `labels`).
fn json_map(c: &Call, key: &str) -> Result<BTreeMap<String, Option<String>>, EngineError> {
    match c.q(key).as_deref() {
        None | Some("") | Some("null") => Ok(BTreeMap::new()),
        Some(t) => serde_json::from_str(t).map_err(|e| {
            EngineError::invalid(format!("{key}: {t:?} is not a JSON object of strings: {e}"))
        }),
    }
}

/// Refuse `key` when it is set to anything but an empty or default value.
fn refuse_set(c: &Call, key: &str, defaults: &[&str], why: &str) -> Result<(), EngineError> {
    match c.q(key) {
        Some(v) if !v.is_empty() && !defaults.contains(&v.as_str()) => {
            Err(unsupported(&format!("the build option {key}={v}"), why))
        }
        _ => Ok(()),
    }
}

/// Every query parameter [`options`] reads or refuses: what the docker CLI's classic
/// builder, docker-py and docker-compose send. Any other is refused by name (a silently
/// dropped option builds something other than what was asked).
const KNOWN: &[&str] = &[
    "t",
    "dockerfile",
    "buildargs",
    "labels",
    "target",
    "q",
    "nocache",
    "rm",
    "forcerm",
    "pull",
    "networkmode",
    "platform",
    "remote",
    "extrahosts",
    "memory",
    "memswap",
    "cpushares",
    "cpuperiod",
    "cpuquota",
    "shmsize",
    "cpusetcpus",
    "cpusetmems",
    "cgroupparent",
    "isolation",
    "ulimits",
    "cachefrom",
    "outputs",
    "squash",
    "session",
    "buildid",
    "version",
    "securityopt",
];

/// Refuse a query parameter [`options`] does not know, by name.
fn refuse_unknown(c: &Call) -> Result<(), EngineError> {
    for (k, _) in c.req.query() {
        if !KNOWN.contains(&k.as_str()) {
            return Err(EngineError::invalid(format!(
                "unknown build option {k:?} (a query parameter of POST /build): wharf's builder takes {}",
                KNOWN.join(", ")
            )));
        }
    }
    Ok(())
}

/// The options of a `POST /build`.
fn options(c: &Call) -> Result<(BuildOptions, bool), EngineError> {
    refuse_unknown(c)?;
    let limits = "RUN steps run without resource limits of their own; set limits on the containers you run from the image";
    refuse_set(c, "remote", &[], "remote contexts need the network, and wharf builds offline: send the context as the request body")?;
    refuse_set(c, "extrahosts", &[], "RUN steps have no extra hosts")?;
    for k in [
        "memory",
        "memswap",
        "cpushares",
        "cpuperiod",
        "cpuquota",
        "shmsize",
    ] {
        refuse_set(c, k, &["0"], limits)?;
    }
    for k in ["cpusetcpus", "cpusetmems", "cgroupparent"] {
        refuse_set(c, k, &[], limits)?;
    }
    refuse_set(
        c,
        "isolation",
        &["default"],
        "isolation is a Windows option",
    )?;
    refuse_set(c, "ulimits", &["[]", "null"], limits)?;
    refuse_set(
        c,
        "cachefrom",
        &["[]", "null"],
        "wharf's build cache is its own and kept across builds; build once and later builds use it",
    )?;
    refuse_set(
        c,
        "outputs",
        &["[]", "null"],
        "the result is an image in wharf's store",
    )?;
    refuse_set(
        c,
        "squash",
        &["0", "false", "False"],
        "squashing is an experimental docker feature: export and import the image to flatten it",
    )?;
    refuse_set(
        c,
        "session",
        &[],
        "build sessions are BuildKit's: set DOCKER_BUILDKIT=0",
    )?;
    refuse_set(
        c,
        "buildid",
        &[],
        "build ids are BuildKit's: set DOCKER_BUILDKIT=0",
    )?;
    refuse_set(
        c,
        "version",
        &["1"],
        "wharf's builder is the classic one (version 1): set DOCKER_BUILDKIT=0",
    )?;
    refuse_set(
        c,
        "securityopt",
        &["[]", "null"],
        "RUN steps run with the hardening of wharf run",
    )?;
    // rm and forcerm: wharf removes every step's container, failed or not.
    c.q_bool("rm", true)?;
    c.q_bool("forcerm", false)?;
    let quiet = c.q_bool("q", false)?;
    let pull = c.q_bool("pull", false)?;
    let mut build_args = BTreeMap::new();
    for (k, v) in json_map(c, "buildargs")? {
        // A null value means "from the client's environment", which the client resolves.
        if let Some(v) = v {
            build_args.insert(k, v);
        }
    }
    let labels = json_map(c, "labels")?
        .into_iter()
        .map(|(k, v)| (k, v.unwrap_or_default()))
        .collect();
    let network = c
        .q("networkmode")
        .filter(|n| !n.is_empty() && n != "default");
    let opts = BuildOptions {
        dockerfile: c
            .q("dockerfile")
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| "Dockerfile".into()),
        dockerfile_content: None,
        tags: c.q_all("t").into_iter().filter(|t| !t.is_empty()).collect(),
        build_args,
        labels,
        target: c.q("target").filter(|t| !t.is_empty()),
        no_cache: c.q_bool("nocache", false)?,
        pull,
        network,
        platform: c.q("platform").filter(|p| !p.is_empty()),
    };
    Ok((opts, quiet))
}

/// `X-Registry-Config`: credentials for pulls of base images. wharf never pulls while
/// building, so only an empty one is accepted.
fn registry_config(c: &Call) -> Result<(), EngineError> {
    let Some(v) = c.req.header("x-registry-config") else {
        return Ok(());
    };
    let v = v.trim();
    if v.is_empty() {
        return Ok(());
    }
    let decoded = base64::engine::general_purpose::URL_SAFE
        .decode(v)
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(v))
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
    match decoded {
        Some(Value::Object(m)) if m.is_empty() => Ok(()),
        Some(Value::Null) => Ok(()),
        _ => Err(unsupported(
            "registry credentials for a build (X-Registry-Config)",
            "wharf builds offline and never pulls base images: load or pull them first, and log out of registries in the client (or build with a client that sends none)",
        )),
    }
}

struct Stream<'a> {
    out: &'a mut Responder,
    w: Option<BodyWriter>,
}

impl Stream<'_> {
    fn line(&mut self, v: &Value) -> bool {
        let w = match &mut self.w {
            Some(w) => w,
            None => {
                let mut h = base_headers();
                h.insert(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                self.w.insert(self.out.start(StatusCode::OK, h))
            }
        };
        let mut b = serde_json::to_vec(v).unwrap_or_default();
        b.extend_from_slice(b"\r\n");
        w.send(Bytes::from(b))
    }
}

/// `POST /build`.
pub fn build(c: &mut Call, out: &mut Responder) -> Handled {
    c.sh.engine.gate().precheck(c.caller, Action::ImageBuild)?;
    registry_config(c)?;
    let (opts, quiet) = options(c)?;
    let engine = c.sh.engine.clone();
    let caller = c.caller;
    let mut body = c.req.body(None);
    let mut s = Stream { out, w: None };
    let res = engine.image_build(caller, &opts, BuildContext::Tar(&mut body), &mut |ev| {
        if let BuildEvent::Done { image_id, .. } = &ev {
            if !s.line(&json!({"aux": {"ID": image_id}})) {
                return false;
            }
            if quiet {
                return s.line(&json!({"stream": format!("{image_id}\n")}));
            }
        }
        if let BuildEvent::Running { elapsed_ms, .. } = ev {
            // A silent step: a blank line now and then (JSON readers skip whitespace)
            // tells whether the client is still there; one that left cancels the build.
            if elapsed_ms % 1000 < 250 {
                if let Some(w) = &mut s.w {
                    return w.send(Bytes::from_static(b"\r\n"));
                }
            }
            return true;
        }
        if quiet {
            return true;
        }
        for l in classic_lines(&ev) {
            if !s.line(&json!({"stream": l})) {
                return false;
            }
        }
        true
    });
    match res {
        Ok(_) => {
            if s.w.is_none() {
                s.line(&json!({"stream": ""}));
            }
            Ok(())
        }
        Err(e) => {
            // Once the stream is open the error is its last line (the docker CLI prints
            // it and exits 1); before, an ordinary error answer.
            if s.w.is_some() {
                let code = if e.message.contains("returned a non-zero code: ") {
                    e.message
                        .rsplit(": ")
                        .next()
                        .and_then(|n| n.trim().parse::<i64>().ok())
                        .unwrap_or(1)
                } else {
                    1
                };
                s.line(&json!({"errorDetail": {"code": code, "message": e.message}, "error": e.message}));
                Ok(())
            } else {
                Err(e)
            }
        }
    }
}
