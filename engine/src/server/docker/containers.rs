//! Docker API: containers (everything but create, start, attach and exec).
//!
//! Each handler checks the endpoint's permission before it reads a body, drives the
//! engine through its API with the caller, and answers in dockerd's shapes and words:
//! `No such container: x` (404), `304` for stopping a stopped container, streams of
//! logs multiplexed with 8-byte headers unless the container has a terminal, one stats
//! document per line, archive stats in `X-Docker-Container-Path-Stat`.

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use base64::Engine as _;
use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::{json, Map, Value};

use super::create::{resources, restart_policy};
use super::fields::Fields;
use super::{base_headers, ok, status_only, unsupported, Call, Handled};
use crate::api::*;
use crate::error::{EngineError, ErrorKind};
use crate::policy::Action;
use crate::server::bridge::{BodyWriter, Responder};
use crate::server::relay::mux_header;

/// dockerd's words for a container that does not exist (or is not the caller's to see:
/// the engine says not found for both): `No such container: x`.
pub fn no_such(id: &str) -> impl Fn(EngineError) -> EngineError + '_ {
    move |e| {
        if e.kind == ErrorKind::NotFound && e.message.starts_with("container ") {
            EngineError::new(ErrorKind::NotFound, format!("No such container: {id}"))
        } else {
            e
        }
    }
}

/// A header value, or an internal error.
fn header(v: &str) -> Result<HeaderValue, EngineError> {
    HeaderValue::from_str(v)
        .map_err(|_| EngineError::internal(format!("header value {v:?} is not valid")))
}

/// Docker's headers with a content type.
fn headers_with(content_type: &str) -> Result<HeaderMap, EngineError> {
    let mut h = base_headers();
    h.insert(http::header::CONTENT_TYPE, header(content_type)?);
    Ok(h)
}

/// A body that starts the answer (status, headers) at its first byte: an engine call
/// that fails before writing anything still answers with its error.
struct LazyBody<'a> {
    out: &'a mut Responder,
    status: StatusCode,
    headers: Option<HeaderMap>,
    w: Option<BodyWriter>,
}

impl<'a> LazyBody<'a> {
    fn new(out: &'a mut Responder, status: StatusCode, headers: HeaderMap) -> Self {
        LazyBody {
            out,
            status,
            headers: Some(headers),
            w: None,
        }
    }

    fn writer(&mut self) -> &mut BodyWriter {
        let (out, status, headers) = (&mut *self.out, self.status, &mut self.headers);
        self.w
            .get_or_insert_with(|| out.start(status, headers.take().unwrap_or_default()))
    }

    /// Start the answer if nothing was written (an empty body).
    fn finish(mut self) {
        let _ = self.writer();
    }

    /// Cut the connection before the body's end (an error after the first byte): the
    /// client sees a failed transfer, not a short body that looks whole.
    fn abort(self, why: &str) {
        if let Some(w) = self.w {
            w.abort(why);
        }
    }
}

impl Write for LazyBody<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.writer().write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// ---------------------------------------------------------------------------------
// Listing and inspecting.

/// The `ps --filter` keys the engine answers itself.
const ENGINE_FILTERS: [&str; 6] = ["status", "name", "id", "label", "ancestor", "exited"];
/// The ones answered here, from the listing's rows.
const API_FILTERS: [&str; 8] = [
    "before", "since", "network", "volume", "publish", "expose", "health", "is-task",
];
const STATUSES: [&str; 7] = [
    "created",
    "restarting",
    "running",
    "removing",
    "paused",
    "exited",
    "dead",
];

/// `GET /containers/json?all=&limit=&size=&filters=`.
pub fn list(c: &mut Call, out: &mut Responder) -> Handled {
    let e = c.sh.engine.clone();
    e.gate().precheck(c.caller, Action::ContainerList)?;
    let mut all = c.q_bool("all", false)?;
    let limit = c.q_int("limit")?.filter(|n| *n > 0).map(|n| n as usize);
    let size = c.q_bool("size", false)?;
    let mut engine_filters = Vec::new();
    let mut api_filters = Vec::new();
    for (k, v) in c.filters()? {
        if k == "status" && !STATUSES.contains(&v.as_str()) {
            return Err(EngineError::invalid(format!(
                "invalid filter 'status={v}': use one of {}",
                STATUSES.join(", ")
            )));
        }
        if k == "is-task" && v != "true" && v != "false" {
            return Err(EngineError::invalid(format!(
                "invalid filter 'is-task={v}': use true or false"
            )));
        }
        // As dockerd: asking for a state (or an exit code) lists stopped ones too.
        if k == "status" || k == "exited" {
            all = true;
        }
        if ENGINE_FILTERS.contains(&k.as_str()) {
            engine_filters.push((k, v));
        } else if API_FILTERS.contains(&k.as_str()) {
            api_filters.push((k, v));
        } else {
            return Err(EngineError::invalid(format!(
                "invalid filter {k:?}: wharf filters containers by {} and {}",
                ENGINE_FILTERS.join(", "),
                API_FILTERS.join(", ")
            )));
        }
    }
    // Every container, newest first: `since`/`before` name containers of any state, and
    // `limit` counts containers that pass the filters (dockerd's order of things).
    let opts = ContainerListOptions {
        all: true,
        last: None,
        size,
        filters: engine_filters,
    };
    let make = || -> Result<super::super::lists::Made, EngineError> {
        let l = e.container_list_timed(c.caller, &opts)?;
        let kept = docker_rows(c, &l.rows, all, limit, size, &api_filters)?;
        let body = serde_json::to_vec(&kept)
            .map_err(|e| EngineError::internal(format!("serializing the listing: {e}")))?;
        Ok(super::super::lists::Made {
            body,
            generation: l.generation,
            until: l.until,
        })
    };
    if size || super::super::lists::depends_on_images(&opts.filters) {
        // Sizes are walked on disk, and `ancestor=` names images (a tag can move
        // without any container changing): made afresh each time.
        let m = make()?;
        let v: Value = serde_json::from_slice(&m.body).unwrap_or(Value::Null);
        ok(out, &v);
        return Ok(());
    }
    let scope = super::super::lists::scope_of(&e, c.caller);
    let key = super::super::lists::docker_key(&scope, c.req.parts.uri.query().unwrap_or(""));
    let inm = c.req.header("if-none-match").map(str::to_string);
    c.sh.lists
        .answer(&e, key, inm.as_deref(), base_headers(), out, make)
}

/// The rows of `GET /containers/json` in Docker's shape, from the listing alone.
fn docker_rows(
    c: &Call,
    rows: &[ContainerSummary],
    all: bool,
    limit: Option<usize>,
    size: bool,
    api_filters: &[(String, String)],
) -> Result<Vec<Value>, EngineError> {
    let e = &c.sh.engine;
    let position = |name: &str| -> Result<usize, EngineError> {
        let q = name.trim_start_matches('/');
        rows.iter()
            .position(|r| r.name == q || r.id == q)
            .or_else(|| rows.iter().position(|r| r.id.starts_with(q)))
            .ok_or_else(|| {
                EngineError::new(ErrorKind::NotFound, format!("No such container: {name}"))
            })
    };
    // `since=X`: created after X (earlier in the list); `before=X`: created before X.
    let mut since_at: Option<usize> = None;
    let mut before_at: Option<usize> = None;
    for (k, v) in api_filters {
        match k.as_str() {
            "since" => since_at = Some(position(v)?),
            "before" => before_at = Some(position(v)?),
            _ => {}
        }
    }
    let mut image_sizes: HashMap<String, Option<u64>> = HashMap::new();
    let mut kept = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        if since_at.is_some_and(|s| i >= s) || before_at.is_some_and(|b| i <= b) {
            continue;
        }
        if !all && limit.is_none() && !r.state.is_active() {
            continue;
        }
        // Everything a row shows and filters on is in the listing: no inspect per row.
        if !api_match(r, api_filters) {
            continue;
        }
        let mut row = summary_json(r);
        if size {
            let rw = r.size_rw.unwrap_or(0);
            let img = image_sizes
                .entry(r.image_id.clone())
                .or_insert_with(|| {
                    e.image_inspect(c.caller, &r.image_id)
                        .ok()
                        .and_then(|v| v["Size"].as_u64())
                })
                .unwrap_or(0);
            row["SizeRw"] = json!(rw);
            row["SizeRootFs"] = json!(rw + img);
        }
        kept.push(row);
        if limit.is_some_and(|n| kept.len() >= n) {
            break;
        }
    }
    Ok(kept)
}

/// The filters answered here.
fn api_match(r: &ContainerSummary, filters: &[(String, String)]) -> bool {
    crate::filters::matches_ok(filters, |key, v| match key {
        "before" | "since" => true,
        "is-task" => v == "false",
        "health" => {
            let h = r.health.map(|h| match h {
                HealthStatus::Starting => "starting",
                HealthStatus::Healthy => "healthy",
                HealthStatus::Unhealthy => "unhealthy",
            });
            h.unwrap_or("none") == v
        }
        "network" => r
            .endpoints
            .iter()
            .any(|ep| ep.network == v || (!v.is_empty() && ep.network_id.starts_with(v))),
        "volume" => r
            .mounts
            .iter()
            .any(|m| m.destination == v || (m.kind == "volume" && m.name == v)),
        "publish" | "expose" => port_filter(v).is_some_and(|(lo, hi, proto)| {
            let ports = if key == "publish" {
                &r.bound_ports
            } else {
                &r.exposed_ports
            };
            ports.iter().any(|k| {
                let (p, pr) = k.split_once('/').unwrap_or((k, "tcp"));
                p.parse::<u16>().is_ok_and(|p| p >= lo && p <= hi)
                    && proto.as_deref().is_none_or(|x| x == pr)
            })
        }),
        _ => false,
    })
}

/// `80`, `80/tcp`, `8000-8080/udp` as (first, last, protocol).
fn port_filter(v: &str) -> Option<(u16, u16, Option<String>)> {
    let (ports, proto) = match v.split_once('/') {
        Some((p, pr)) => (p, Some(pr.to_ascii_lowercase())),
        None => (v, None),
    };
    let (lo, hi) = match ports.split_once('-') {
        Some((a, b)) => (a.parse().ok()?, b.parse().ok()?),
        None => {
            let p = ports.parse().ok()?;
            (p, p)
        }
    };
    Some((lo, hi, proto))
}

/// A row of `GET /containers/json`, in Docker's shape (`Names` with their leading `/`),
/// from the listing alone.
pub fn summary_json(c: &ContainerSummary) -> Value {
    let ports: Vec<Value> = c
        .ports
        .iter()
        .map(|p| {
            let mut v = json!({"PrivatePort": p.container_port, "Type": p.proto});
            if p.host_port != 0 {
                v["PublicPort"] = json!(p.host_port);
                v["IP"] = json!(if p.host_ip.is_empty() {
                    "0.0.0.0"
                } else {
                    &p.host_ip
                });
            }
            v
        })
        .collect();
    let networks: Map<String, Value> = if c.endpoints.is_empty() {
        c.networks
            .iter()
            .map(|n| (n.clone(), endpoint_json(&json!({}))))
            .collect()
    } else {
        c.endpoints
            .iter()
            .map(|ep| {
                (
                    ep.network.clone(),
                    endpoint_json(&json!({
                        "Aliases": ep.aliases,
                        "NetworkID": ep.network_id,
                        "EndpointID": ep.endpoint_id,
                        "Gateway": ep.gateway,
                        "IPAddress": ep.ip,
                        "IPPrefixLen": ep.prefix_len,
                        "MacAddress": ep.mac,
                    })),
                )
            })
            .collect()
    };
    let mounts: Vec<Value> = c
        .mounts
        .iter()
        .map(|m| {
            let mut v = json!({
                "Type": m.kind,
                "Source": m.source,
                "Destination": m.destination,
                "Mode": m.mode,
                "RW": m.rw,
                "Propagation": if m.kind == "bind" { "rprivate" } else { "" },
            });
            if m.kind == "volume" {
                v["Name"] = json!(m.name);
                v["Driver"] = json!("local");
            }
            v
        })
        .collect();
    let mode = if c.network_mode.is_empty() {
        c.networks
            .first()
            .cloned()
            .unwrap_or_else(|| "bridge".into())
    } else {
        c.network_mode.clone()
    };
    let mut v = json!({
        "Id": c.id,
        "Names": [format!("/{}", c.name)],
        "Image": c.image,
        "ImageID": c.image_id,
        "Command": c.command,
        "Created": c.created,
        "Ports": ports,
        "Labels": c.labels,
        "State": c.state.as_str(),
        "Status": c.status,
        "HostConfig": {"NetworkMode": mode},
        "NetworkSettings": {"Networks": networks},
        "Mounts": mounts,
    });
    if let Some(s) = c.size_rw {
        v["SizeRw"] = json!(s);
    }
    v
}

/// One endpoint in Docker's `EndpointSettings` shape (every field present).
fn endpoint_json(ep: &Value) -> Value {
    let s = |k: &str| ep.get(k).cloned().unwrap_or_else(|| json!(""));
    json!({
        "IPAMConfig": ep.get("IPAMConfig").cloned().unwrap_or(Value::Null),
        "Links": ep.get("Links").cloned().unwrap_or(Value::Null),
        "Aliases": ep.get("Aliases").cloned().filter(|a| a.as_array().is_some_and(|a| !a.is_empty())).unwrap_or(Value::Null),
        "MacAddress": s("MacAddress"),
        "DriverOpts": Value::Null,
        "NetworkID": s("NetworkID"),
        "EndpointID": s("EndpointID"),
        "Gateway": s("Gateway"),
        "IPAddress": s("IPAddress"),
        "IPPrefixLen": ep.get("IPPrefixLen").cloned().unwrap_or(json!(0)),
        "IPv6Gateway": "",
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "DNSNames": Value::Null,
    })
}

/// `NetworkSettings.Networks` of an inspect document, each endpoint in Docker's shape.
fn networks_json(doc: &Value) -> Value {
    let m: Map<String, Value> = doc["NetworkSettings"]["Networks"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), endpoint_json(v)))
                .collect()
        })
        .unwrap_or_default();
    Value::Object(m)
}

/// `Mounts` of an inspect document in Docker's `MountPoint` shape.
fn mounts_json(doc: &Value) -> Value {
    let list: Vec<Value> = doc["Mounts"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| {
                    let kind = m["Type"].as_str().unwrap_or("");
                    let mut v = json!({
                        "Type": kind,
                        "Source": m.get("Source").cloned().unwrap_or_else(|| json!("")),
                        "Destination": m.get("Destination").cloned().unwrap_or_else(|| json!("")),
                        "Mode": m.get("Mode").cloned().unwrap_or_else(|| json!("")),
                        "RW": m.get("RW").cloned().unwrap_or(json!(true)),
                        "Propagation": if kind == "bind" { "rprivate" } else { "" },
                    });
                    if kind == "volume" {
                        v["Name"] = m.get("Name").cloned().unwrap_or_else(|| json!(""));
                        v["Driver"] = json!("local");
                    }
                    v
                })
                .collect()
        })
        .unwrap_or_default();
    Value::Array(list)
}

/// The engine's inspect document with what Docker's clients decode it as: every
/// endpoint and mount in Docker's shape, and the fields dockerd always has.
pub fn inspect_json(mut doc: Value) -> Value {
    let networks = networks_json(&doc);
    let mounts = mounts_json(&doc);
    if let Some(o) = doc.as_object_mut() {
        o.insert("Mounts".into(), mounts);
        for (k, v) in [
            ("MountLabel", json!("")),
            ("ProcessLabel", json!("")),
            ("AppArmorProfile", json!("")),
            ("ExecIDs", Value::Null),
        ] {
            o.entry(k).or_insert(v);
        }
        let driver = o.get("Driver").cloned().unwrap_or_else(|| json!("overlay"));
        o.entry("GraphDriver")
            .or_insert_with(|| json!({"Name": driver, "Data": null}));
    }
    if let Some(ns) = doc
        .get_mut("NetworkSettings")
        .and_then(Value::as_object_mut)
    {
        ns.insert("Networks".into(), networks);
        for (k, v) in [
            ("Bridge", json!("")),
            ("SandboxID", json!("")),
            ("SandboxKey", json!("")),
            ("HairpinMode", json!(false)),
            ("LinkLocalIPv6Address", json!("")),
            ("LinkLocalIPv6PrefixLen", json!(0)),
            ("Ports", json!({})),
            ("SecondaryIPAddresses", Value::Null),
            ("SecondaryIPv6Addresses", Value::Null),
            ("EndpointID", json!("")),
            ("Gateway", json!("")),
            ("GlobalIPv6Address", json!("")),
            ("GlobalIPv6PrefixLen", json!(0)),
            ("IPAddress", json!("")),
            ("IPPrefixLen", json!(0)),
            ("IPv6Gateway", json!("")),
            ("MacAddress", json!("")),
        ] {
            ns.entry(k).or_insert(v);
        }
        // The primary endpoint's figures, as dockerd repeats them at the top.
        let first = ns
            .get("Networks")
            .and_then(Value::as_object)
            .and_then(|m| m.values().next().cloned());
        if let Some(ep) = first {
            for k in ["EndpointID", "IPPrefixLen"] {
                if ns.get(k).is_some_and(|v| v == &json!("") || v == &json!(0)) {
                    if let Some(v) = ep.get(k) {
                        ns.insert(k.into(), v.clone());
                    }
                }
            }
        }
    }
    if let Some(cfg) = doc.get_mut("Config").and_then(Value::as_object_mut) {
        for (k, v) in [
            ("Domainname", json!("")),
            ("AttachStdin", json!(false)),
            ("AttachStdout", json!(false)),
            ("AttachStderr", json!(false)),
            ("StdinOnce", json!(false)),
        ] {
            cfg.entry(k).or_insert(v);
        }
    }
    if let Some(hc) = doc.get_mut("HostConfig").and_then(Value::as_object_mut) {
        let exposed: Map<String, Value> = hc
            .get("PortBindings")
            .and_then(Value::as_object)
            .map(|m| m.keys().map(|k| (k.clone(), json!({}))).collect())
            .unwrap_or_default();
        if let Some(cfg) = doc.get_mut("Config").and_then(Value::as_object_mut) {
            let e = cfg.entry("ExposedPorts").or_insert(Value::Null);
            if e.is_null() && !exposed.is_empty() {
                *e = Value::Object(exposed);
            }
        }
    }
    doc
}

/// `GET /containers/{id}/json?size=`.
pub fn inspect(c: &mut Call, out: &mut Responder, id: &str) -> Handled {
    let e = c.sh.engine.clone();
    e.gate().precheck(c.caller, Action::ContainerInspect)?;
    let size = c.q_bool("size", false)?;
    let doc = e.container_inspect(c.caller, id).map_err(no_such(id))?;
    let mut doc = inspect_json(doc);
    if size {
        let full = doc["Id"].as_str().unwrap_or(id).to_string();
        let rows = e.container_list(
            c.caller,
            &ContainerListOptions {
                all: true,
                size: true,
                filters: vec![("id".into(), full)],
                ..Default::default()
            },
        )?;
        let rw = rows.first().and_then(|r| r.size_rw).unwrap_or(0);
        let img = doc["Image"]
            .as_str()
            .and_then(|i| e.image_inspect(c.caller, i).ok())
            .and_then(|v| v["Size"].as_u64())
            .unwrap_or(0);
        doc["SizeRw"] = json!(rw);
        doc["SizeRootFs"] = json!(rw + img);
    }
    ok(out, &doc);
    Ok(())
}

// ---------------------------------------------------------------------------------
// Lifecycle.

/// Is the container running (or restarting, or paused)? `None` when the caller may not
/// inspect it (the action's own call decides then).
fn is_running(c: &Call, id: &str) -> Result<Option<(bool, Value)>, EngineError> {
    match c.sh.engine.container_inspect(c.caller, id) {
        Ok(doc) => {
            let st = &doc["State"];
            let running = st["Running"].as_bool().unwrap_or(false)
                || st["Restarting"].as_bool().unwrap_or(false);
            Ok(Some((running, doc)))
        }
        Err(e) if e.kind == ErrorKind::PermissionDenied => Ok(None),
        Err(e) => Err(no_such(id)(e)),
    }
}

/// `?t=` seconds (`-1`: wait as long as it takes).
fn timeout(c: &Call) -> Result<Option<u32>, EngineError> {
    match c.q_int("t")? {
        None => Ok(None),
        Some(n) if n < 0 => Ok(Some(u32::MAX)),
        Some(n) => Ok(Some(n.min(i64::from(u32::MAX)) as u32)),
    }
}

/// `?signal=` on stop and restart: only the container's own stop signal (wharf stops
/// with the signal fixed at create).
fn check_stop_signal(c: &Call, doc: Option<&Value>) -> Result<(), EngineError> {
    let Some(sig) = c.q("signal").filter(|s| !s.is_empty()) else {
        return Ok(());
    };
    let want = crate::runtime::config::parse_signal(&sig)?;
    let own = doc
        .and_then(|d| d["Config"]["StopSignal"].as_str())
        .unwrap_or("SIGTERM");
    if crate::runtime::config::parse_signal(own).ok() == Some(want) {
        return Ok(());
    }
    Err(unsupported(
        &format!("stopping with signal {sig} (this container stops with {own})"),
        "wharf stops a container with the stop signal set when it was created (--stop-signal); send other signals with docker kill -s",
    ))
}

/// `POST /containers/{id}/stop?t=&signal=`: `204`, or `304` when it is not running.
pub fn stop(c: &mut Call, out: &mut Responder, id: &str) -> Handled {
    let e = c.sh.engine.clone();
    e.gate().precheck(c.caller, Action::ContainerStop)?;
    let t = timeout(c)?;
    let state = is_running(c, id)?;
    check_stop_signal(c, state.as_ref().map(|s| &s.1))?;
    if state.as_ref().is_some_and(|s| !s.0) {
        status_only(out, StatusCode::NOT_MODIFIED);
        return Ok(());
    }
    e.container_stop(c.caller, id, t).map_err(no_such(id))?;
    status_only(out, StatusCode::NO_CONTENT);
    Ok(())
}

/// `POST /containers/{id}/restart?t=&signal=`: `204`.
pub fn restart(c: &mut Call, out: &mut Responder, id: &str) -> Handled {
    let e = c.sh.engine.clone();
    e.gate().precheck(c.caller, Action::ContainerRestart)?;
    let t = timeout(c)?;
    let state = is_running(c, id)?;
    check_stop_signal(c, state.as_ref().map(|s| &s.1))?;
    e.container_restart(c.caller, id, t).map_err(no_such(id))?;
    status_only(out, StatusCode::NO_CONTENT);
    Ok(())
}

/// `POST /containers/{id}/kill?signal=` (SIGKILL by default): `204`.
pub fn kill(c: &mut Call, out: &mut Responder, id: &str) -> Handled {
    let e = c.sh.engine.clone();
    e.gate().precheck(c.caller, Action::ContainerKill)?;
    let sig = c
        .q("signal")
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "SIGKILL".into());
    e.container_kill(c.caller, id, &sig).map_err(no_such(id))?;
    status_only(out, StatusCode::NO_CONTENT);
    Ok(())
}

/// `POST /containers/{id}/pause`: `204`.
pub fn pause(c: &mut Call, out: &mut Responder, id: &str) -> Handled {
    let e = c.sh.engine.clone();
    e.gate().precheck(c.caller, Action::ContainerPause)?;
    e.container_pause(c.caller, id).map_err(no_such(id))?;
    status_only(out, StatusCode::NO_CONTENT);
    Ok(())
}

/// `POST /containers/{id}/unpause`: `204`.
pub fn unpause(c: &mut Call, out: &mut Responder, id: &str) -> Handled {
    let e = c.sh.engine.clone();
    e.gate().precheck(c.caller, Action::ContainerUnpause)?;
    e.container_unpause(c.caller, id).map_err(no_such(id))?;
    status_only(out, StatusCode::NO_CONTENT);
    Ok(())
}

/// `POST /containers/{id}/rename?name=`: `204`.
pub fn rename(c: &mut Call, out: &mut Responder, id: &str) -> Handled {
    let e = c.sh.engine.clone();
    e.gate().precheck(c.caller, Action::ContainerRename)?;
    let name = c
        .q("name")
        .map(|n| n.trim_start_matches('/').to_string())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| EngineError::invalid("rename needs ?name=NEW_NAME"))?;
    e.container_rename(c.caller, id, &name)
        .map_err(no_such(id))?;
    status_only(out, StatusCode::NO_CONTENT);
    Ok(())
}

/// `POST /containers/{id}/update`: limits and restart policy; `{"Warnings": []}`.
pub fn update(c: &mut Call, out: &mut Responder, id: &str) -> Handled {
    let e = c.sh.engine.clone();
    e.gate().precheck(c.caller, Action::ContainerUpdate)?;
    let body = c.json_body()?;
    let mut f = Fields::new("", Some(&body))?;
    let (r, _) = resources(&mut f, true)?;
    let restart = restart_policy(f.get("RestartPolicy"), "RestartPolicy")?;
    f.finish()?;
    e.container_update(c.caller, id, &r, restart.as_ref())
        .map_err(no_such(id))?;
    ok(out, &json!({"Warnings": []}));
    Ok(())
}

/// `DELETE /containers/{id}?force=&v=&link=`: `204`.
pub fn remove(c: &mut Call, out: &mut Responder, id: &str) -> Handled {
    let e = c.sh.engine.clone();
    e.gate().precheck(c.caller, Action::ContainerRemove)?;
    if c.q_bool("link", false)? {
        return Err(unsupported(
            "removing a legacy link (link=1)",
            "wharf has no links; remove the container itself",
        ));
    }
    let opts = RemoveOptions {
        force: c.q_bool("force", false)?,
        volumes: c.q_bool("v", false)?,
    };
    e.container_remove(c.caller, id, opts)
        .map_err(no_such(id))?;
    status_only(out, StatusCode::NO_CONTENT);
    Ok(())
}

/// `POST /containers/prune?filters=`: `until` and `label`/`label!` as dockerd.
pub fn prune(c: &mut Call, out: &mut Responder) -> Handled {
    let e = c.sh.engine.clone();
    e.gate().precheck(c.caller, Action::ContainerPrune)?;
    let filters = c.filters()?;
    if filters.is_empty() {
        let rep = e.container_prune(c.caller)?;
        ok(
            out,
            &json!({
                "ContainersDeleted": if rep.deleted.is_empty() { Value::Null } else { json!(rep.deleted) },
                "SpaceReclaimed": rep.reclaimed,
            }),
        );
        return Ok(());
    }
    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
    crate::filters::check_keys(&filters, &["until", "label", "label!"], |other| {
        format!("invalid filter {other:?}: prune takes until, label and label!")
    })?;
    let mut until: Option<i64> = None;
    for (k, v) in &filters {
        if k == "until" {
            let t = parse_time(v, now)
                .map_err(|m| EngineError::invalid(format!("invalid filter 'until={v}': {m}")))?;
            until = Some(until.map_or(t, |u| u.min(t)));
        }
    }
    let rows = e.container_list(
        c.caller,
        &ContainerListOptions {
            all: true,
            size: true,
            ..Default::default()
        },
    )?;
    let mut deleted = Vec::new();
    let mut reclaimed = 0u64;
    for r in rows {
        if r.state.is_active() {
            continue;
        }
        // Created before the earliest `until`; every `label`, no `label!`.
        let kept = crate::filters::matches_ok(&filters, |k, v| match k {
            "label" => crate::filters::label_holds(&r.labels, v),
            "label!" => !crate::filters::label_holds(&r.labels, v),
            _ => true,
        });
        if !kept || until.is_some_and(|u| r.created.saturating_mul(1_000_000_000) >= u) {
            continue;
        }
        // Each removal is authorized and audited on its own; others' are skipped.
        if e.container_remove(c.caller, &r.id, RemoveOptions::default())
            .is_ok()
        {
            reclaimed += r.size_rw.unwrap_or(0);
            deleted.push(r.id);
        }
    }
    ok(
        out,
        &json!({
            "ContainersDeleted": if deleted.is_empty() { Value::Null } else { json!(deleted) },
            "SpaceReclaimed": reclaimed,
        }),
    );
    Ok(())
}

/// A time as dockerd's filters and `since`/`until` take it: unix seconds (with a
/// fraction), RFC 3339, or a Go duration back from `now`. Nanoseconds since the epoch.
pub fn parse_time(v: &str, now_ns: i64) -> Result<i64, String> {
    let v = v.trim();
    if let Some((s, frac)) = v.split_once('.').or(Some((v, ""))) {
        if !s.is_empty()
            && s.chars().all(|c| c.is_ascii_digit() || c == '-')
            && frac.chars().all(|c| c.is_ascii_digit())
            && frac.len() <= 9
        {
            if let Ok(secs) = s.parse::<i64>() {
                let ns: i64 = if frac.is_empty() {
                    0
                } else {
                    format!("{frac:0<9}").parse().unwrap_or(0)
                };
                return Ok(secs.saturating_mul(1_000_000_000).saturating_add(ns));
            }
        }
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(v) {
        return Ok(t.timestamp_nanos_opt().unwrap_or(0));
    }
    if let Ok(d) = go_duration(v) {
        return Ok(now_ns.saturating_sub(d));
    }
    Err("give unix seconds, an RFC 3339 time or a duration such as 10m".into())
}

/// A Go duration (`1h30m`, `10s`, `250ms`) in nanoseconds.
fn go_duration(s: &str) -> Result<i64, ()> {
    let mut rest = s;
    let mut total: i64 = 0;
    if rest.is_empty() {
        return Err(());
    }
    while !rest.is_empty() {
        let n_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or(())?;
        let n: f64 = rest[..n_end].parse().map_err(|_| ())?;
        rest = &rest[n_end..];
        let u_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit: f64 = match &rest[..u_end] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(()),
        };
        rest = &rest[u_end..];
        let add = n * unit;
        if !add.is_finite() || add > 9.0e18 {
            return Err(());
        }
        total = total.saturating_add(add as i64);
    }
    Ok(total)
}

// ---------------------------------------------------------------------------------
// Waiting.

/// How often `wait` looks at the container and at its client.
/// How long `wait` sleeps at most between looks at the journal (inotify wakes it at
/// once on an event; this bounds noticing that the client left).
const WAIT_WAKE: Duration = Duration::from_millis(250);
/// How often `wait` looks at the container itself as well: an exit that no event told
/// of (its monitor was killed) is found, and set right, this way.
const WAIT_LOOK: Duration = Duration::from_secs(1);

/// `POST /containers/{id}/wait?condition=not-running|next-exit|removed`:
/// `{"StatusCode": n, "Error": null}`. The head is sent at once (as dockerd does), so a
/// client that gives up (the docker CLI's `run -d` waits, then leaves) is noticed.
///
/// Event-driven: the journal is subscribed to before the container is looked at, so an
/// exit between the two is not missed; then each `die` (with its exit code) and
/// `destroy` of the container ends the wait as the condition says, as soon as it is
/// appended. Once a second the container is looked at too (an exit nobody recorded),
/// and the wait ends when the client goes.
pub fn wait(c: &mut Call, out: &mut Responder, id: &str) -> Handled {
    let e = c.sh.engine.clone();
    e.gate().precheck(c.caller, Action::ContainerWait)?;
    let cond = c.q("condition").unwrap_or_default();
    let cond = match cond.as_str() {
        "" | "not-running" => "not-running",
        "next-exit" => "next-exit",
        "removed" => "removed",
        other => {
            return Err(EngineError::invalid(format!(
                "invalid condition {other:?}: use not-running, next-exit or removed"
            )))
        }
    };
    let mut follower = crate::events::Follower::from_now(e.journal());
    let waiter = crate::events::Waiter::new(e.journal());
    let first = e.container_inspect(c.caller, id).map_err(no_such(id))?;
    let full = first["Id"].as_str().unwrap_or(id).to_string();
    let finished0 = first["State"]["FinishedAt"].clone();
    let running = |d: &Value| {
        d["State"]["Running"].as_bool().unwrap_or(false)
            || d["State"]["Restarting"].as_bool().unwrap_or(false)
    };
    let mut code = first["State"]["ExitCode"].as_i64().unwrap_or(0);
    let mut w = out.start(StatusCode::OK, headers_with("application/json")?);
    let done_now = cond == "not-running" && !running(&first);
    let mut last_look = std::time::Instant::now();
    let result: Result<i64, EngineError> = 'wait: {
        if done_now {
            break 'wait Ok(code);
        }
        loop {
            let evs = match follower.poll() {
                Ok(evs) => evs,
                Err(err) => break 'wait Err(err),
            };
            let mut look = false;
            for ev in evs {
                if ev.kind != crate::events::EventType::Container || ev.actor.id != full {
                    continue;
                }
                match ev.action.as_str() {
                    "die" => {
                        code = ev
                            .actor
                            .attributes
                            .get("exitCode")
                            .and_then(|x| x.parse().ok())
                            .unwrap_or(code);
                        match cond {
                            "next-exit" => break 'wait Ok(code),
                            // Restarting (a restart policy) is still running.
                            "not-running" => look = true,
                            _ => {}
                        }
                    }
                    "destroy" => break 'wait Ok(code),
                    _ => {}
                }
            }
            if look || last_look.elapsed() >= WAIT_LOOK {
                last_look = std::time::Instant::now();
                match e.container_inspect(c.caller, &full) {
                    Ok(d) => {
                        let stopped = !running(&d);
                        let exited = d["State"]["FinishedAt"] != finished0;
                        if (cond == "not-running" && stopped) || (cond == "next-exit" && exited) {
                            break 'wait Ok(d["State"]["ExitCode"].as_i64().unwrap_or(code));
                        }
                    }
                    // Removed (--rm, or by someone else): its last exit code is known.
                    Err(err) if err.kind == ErrorKind::NotFound => break 'wait Ok(code),
                    Err(err) => break 'wait Err(err),
                }
            }
            if w.closed() {
                return Ok(());
            }
            waiter.wait(WAIT_WAKE);
        }
    };
    let body = match result {
        Ok(code) => json!({"StatusCode": code, "Error": null}),
        Err(err) => json!({"StatusCode": -1, "Error": {"Message": err.message}}),
    };
    let mut line = body.to_string().into_bytes();
    line.push(b'\n');
    w.send(bytes::Bytes::from(line));
    Ok(())
}

// ---------------------------------------------------------------------------------
// Logs.

/// Go's RFC3339Nano: nanoseconds without trailing zeros, `Z` for UTC.
pub fn rfc3339_nano(t: &chrono::DateTime<chrono::Utc>) -> String {
    let base = t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let ns = t.timestamp_subsec_nanos();
    if ns == 0 {
        return format!("{base}Z");
    }
    let frac = format!("{ns:09}");
    format!("{base}.{}Z", frac.trim_end_matches('0'))
}

/// `GET /containers/{id}/logs?follow=&stdout=&stderr=&since=&until=&timestamps=&tail=`:
/// multiplexed frames (stream 1 stdout, 2 stderr) unless the container has a terminal.
pub fn logs(c: &mut Call, out: &mut Responder, id: &str) -> Handled {
    let e = c.sh.engine.clone();
    e.gate().precheck(c.caller, Action::ContainerLogs)?;
    let stdout = c.q_bool("stdout", false)?;
    let stderr = c.q_bool("stderr", false)?;
    if !stdout && !stderr {
        return Err(EngineError::invalid(
            "Bad parameters: you must choose at least one stream",
        ));
    }
    if c.q_bool("details", false)? {
        return Err(unsupported(
            "log details (details=1)",
            "wharf's json-file logs carry no attributes; leave --details out",
        ));
    }
    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
    let time = |key: &str| -> Result<Option<i64>, EngineError> {
        match c.q(key).as_deref() {
            None | Some("") | Some("0") => Ok(None),
            Some(v) => parse_time(v, now)
                .map(Some)
                .map_err(|m| EngineError::invalid(format!("invalid {key} {v:?}: {m}"))),
        }
    };
    let since = time("since")?;
    let until = time("until")?;
    let tail = match c.q("tail").as_deref() {
        None | Some("") | Some("all") => None,
        Some(v) => match v.parse::<i64>() {
            Ok(n) if n < 0 => None,
            Ok(n) => Some(n as usize),
            Err(_) => {
                return Err(EngineError::invalid(format!(
                    "invalid tail {v:?}: give a number of lines or all"
                )))
            }
        },
    };
    let follow = c.q_bool("follow", false)?;
    let timestamps = c.q_bool("timestamps", false)?;
    let tty = match e.container_inspect(c.caller, id) {
        Ok(d) => d["Config"]["Tty"].as_bool().unwrap_or(false),
        Err(err) if err.kind == ErrorKind::PermissionDenied => false,
        Err(err) => return Err(no_such(id)(err)),
    };
    let opts = LogOptions {
        follow,
        tail,
        since,
        until,
        stdout,
        stderr,
    };
    let ctype = if tty {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    };
    let mut body = LazyBody::new(out, StatusCode::OK, headers_with(ctype)?);
    // Without follow, lines go out in chunks; with it, each as it comes.
    let mut buf: Vec<u8> = Vec::new();
    let mut gone = false;
    let res = e.container_logs(c.caller, id, &opts, &mut |l: LogLine| {
        let mut payload = Vec::with_capacity(l.log.len() + 40);
        if timestamps {
            let ts = chrono::DateTime::parse_from_rfc3339(&l.time)
                .map(|t| rfc3339_nano(&t.with_timezone(&chrono::Utc)))
                .unwrap_or_else(|_| l.time.clone());
            payload.extend_from_slice(ts.as_bytes());
            payload.push(b' ');
        }
        payload.extend_from_slice(l.log.as_bytes());
        if !tty {
            let n = if l.stream == "stderr" { 2 } else { 1 };
            buf.extend_from_slice(&mux_header(n, payload.len()));
        }
        buf.extend_from_slice(&payload);
        if follow || buf.len() >= 32 * 1024 {
            if body.write_all(&buf).is_err() {
                gone = true;
                return false;
            }
            buf.clear();
        }
        true
    });
    if let Err(err) = res {
        if body.w.is_none() {
            return Err(no_such(id)(err));
        }
        tracing::debug!("docker logs {id}: {err}");
        body.abort(&err.message);
        return Ok(());
    }
    if !gone && !buf.is_empty() {
        let _ = body.write_all(&buf);
    }
    body.finish();
    Ok(())
}

// ---------------------------------------------------------------------------------
// The toolbox: top, changes, export, stats, archive.

/// `GET /containers/{id}/top?ps_args=`: `ps -ef`'s columns.
pub fn top(c: &mut Call, out: &mut Responder, id: &str) -> Handled {
    let e = c.sh.engine.clone();
    e.gate().precheck(c.caller, Action::ContainerTop)?;
    if let Some(a) = c.q("ps_args").filter(|a| !a.is_empty() && a != "-ef") {
        return Err(unsupported(
            &format!("ps_args {a:?}"),
            "wharf lists a container's processes with ps -ef's columns; leave the ps options out",
        ));
    }
    let t = e.container_top(c.caller, id).map_err(no_such(id))?;
    ok(out, &json!({"Titles": t.titles, "Processes": t.processes}));
    Ok(())
}

/// `GET /containers/{id}/changes`: `[{"Path", "Kind"}]`, Kind 0 modified, 1 added,
/// 2 deleted.
pub fn changes(c: &mut Call, out: &mut Responder, id: &str) -> Handled {
    let e = c.sh.engine.clone();
    e.gate().precheck(c.caller, Action::ContainerDiff)?;
    let list = e.container_diff(c.caller, id).map_err(no_such(id))?;
    let v: Vec<Value> = list
        .iter()
        .map(|ch| {
            let kind = match ch.kind {
                ChangeKind::Modified => 0,
                ChangeKind::Added => 1,
                ChangeKind::Deleted => 2,
            };
            json!({"Path": ch.path, "Kind": kind})
        })
        .collect();
    ok(out, &v);
    Ok(())
}

/// `GET /containers/{id}/export`: the root file system as a tar stream.
pub fn export(c: &mut Call, out: &mut Responder, id: &str) -> Handled {
    let e = c.sh.engine.clone();
    e.gate().precheck(c.caller, Action::ContainerExport)?;
    let mut body = LazyBody::new(out, StatusCode::OK, headers_with("application/x-tar")?);
    match e.container_export(c.caller, id, &mut body) {
        Ok(()) => {
            body.finish();
            Ok(())
        }
        Err(err) if body.w.is_none() => Err(no_such(id)(err)),
        Err(err) => {
            tracing::debug!("docker export {id}: {err}");
            body.abort(&err.message);
            Ok(())
        }
    }
}

/// One stats sample in exactly the shape the docker CLI computes from.
pub fn stats_json(s: &ContainerStats) -> Value {
    let mut v = serde_json::to_value(s).unwrap_or_else(|_| json!({}));
    let zero_time = "0001-01-01T00:00:00Z";
    for k in ["read", "preread"] {
        if v[k].as_str().is_none_or(str::is_empty) {
            v[k] = json!(zero_time);
        }
    }
    v["num_procs"] = json!(0);
    v["storage_stats"] = json!({});
    if v["blkio_stats"]["io_service_bytes_recursive"]
        .as_array()
        .is_some_and(|a| a.is_empty())
    {
        v["blkio_stats"]["io_service_bytes_recursive"] = Value::Null;
    }
    for k in [
        "io_serviced_recursive",
        "io_queue_recursive",
        "io_service_time_recursive",
        "io_wait_time_recursive",
        "io_merged_recursive",
        "io_time_recursive",
        "sectors_recursive",
    ] {
        v["blkio_stats"][k] = Value::Null;
    }
    if s.networks.is_empty() {
        if let Some(o) = v.as_object_mut() {
            o.remove("networks");
        }
    }
    v
}

/// `GET /containers/{id}/stats?stream=&one-shot=`: a document per second, or one
/// (with `precpu_stats` from the sample before, as dockerd does without one-shot).
pub fn stats(c: &mut Call, out: &mut Responder, id: &str) -> Handled {
    let e = c.sh.engine.clone();
    e.gate().precheck(c.caller, Action::ContainerStats)?;
    let stream = c.q_bool("stream", true)?;
    let one_shot = c.q_bool("one-shot", false)?;
    if one_shot && stream {
        return Err(EngineError::invalid(
            "cannot have stream=true and one-shot=true",
        ));
    }
    let doc = e.container_inspect(c.caller, id).map_err(no_such(id))?;
    let full = doc["Id"].as_str().unwrap_or(id).to_string();
    let mut body = LazyBody::new(out, StatusCode::OK, headers_with("application/json")?);
    let res = e.container_stats(
        c.caller,
        std::slice::from_ref(&full),
        &StatsOptions { stream, all: false },
        &mut |batch: Vec<ContainerStats>| {
            let Some(s) = batch.iter().find(|s| s.id == full) else {
                return true;
            };
            let mut line = stats_json(s).to_string().into_bytes();
            line.push(b'\n');
            body.write_all(&line).is_ok()
        },
    );
    match res {
        Ok(()) => {
            body.finish();
            Ok(())
        }
        Err(err) if body.w.is_none() => Err(no_such(id)(err)),
        Err(err) => {
            tracing::debug!("docker stats {id}: {err}");
            body.abort(&err.message);
            Ok(())
        }
    }
}

/// Go's `os.FileMode` bits for a `st_mode`.
pub fn go_file_mode(st_mode: u32) -> u32 {
    const DIR: u32 = 1 << 31;
    const SYMLINK: u32 = 1 << 27;
    const DEVICE: u32 = 1 << 26;
    const NAMED_PIPE: u32 = 1 << 25;
    const SOCKET: u32 = 1 << 24;
    const SETUID: u32 = 1 << 23;
    const SETGID: u32 = 1 << 22;
    const CHAR_DEVICE: u32 = 1 << 21;
    const STICKY: u32 = 1 << 20;
    let mut m = st_mode & 0o777;
    m |= match st_mode & libc::S_IFMT {
        libc::S_IFDIR => DIR,
        libc::S_IFLNK => SYMLINK,
        libc::S_IFBLK => DEVICE,
        libc::S_IFCHR => DEVICE | CHAR_DEVICE,
        libc::S_IFIFO => NAMED_PIPE,
        libc::S_IFSOCK => SOCKET,
        _ => 0,
    };
    if st_mode & libc::S_ISUID != 0 {
        m |= SETUID;
    }
    if st_mode & libc::S_ISGID != 0 {
        m |= SETGID;
    }
    if st_mode & libc::S_ISVTX != 0 {
        m |= STICKY;
    }
    m
}

/// `X-Docker-Container-Path-Stat`: base64 of `{"name","size","mode","mtime","linkTarget"}`.
pub fn path_stat_header(name: &str, size: u64, st_mode: u32, mtime: i64, link: &str) -> String {
    let t = chrono::DateTime::from_timestamp(mtime, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| "0001-01-01T00:00:00Z".into());
    let v = json!({
        "name": name,
        "size": size,
        "mode": go_file_mode(st_mode),
        "mtime": t,
        "linkTarget": link,
    });
    base64::engine::general_purpose::STANDARD.encode(v.to_string())
}

/// The stat of a tar's first entry, as [`path_stat_header`] wants it: (size, st_mode,
/// mtime, link target). `None` until `buf` holds a whole first header (extensions
/// included).
fn first_entry_stat(buf: &[u8]) -> Option<(u64, u32, i64, String)> {
    let mut ar = tar::Archive::new(buf);
    let mut entries = ar.entries().ok()?;
    let ent = entries.next()?.ok()?;
    let h = ent.header();
    let kind = match h.entry_type() {
        tar::EntryType::Directory => libc::S_IFDIR,
        tar::EntryType::Symlink => libc::S_IFLNK,
        tar::EntryType::Char => libc::S_IFCHR,
        tar::EntryType::Block => libc::S_IFBLK,
        tar::EntryType::Fifo => libc::S_IFIFO,
        _ => libc::S_IFREG,
    };
    let mode = (h.mode().ok()? & 0o7777) | kind;
    let link = ent
        .link_name()
        .ok()
        .flatten()
        .map(|l| l.to_string_lossy().into_owned())
        .unwrap_or_default();
    Some((ent.size(), mode, h.mtime().ok()? as i64, link))
}

/// The last component of a container path, as dockerd names it in path stats.
fn base_name(path: &str) -> String {
    let t = path.trim_end_matches('/');
    if t.is_empty() {
        return "/".into();
    }
    t.rsplit('/').next().unwrap_or(t).to_string()
}

/// What the archive writer does once the first entry is known.
enum Peek<'a> {
    /// HEAD: keep the stat and stop the copy.
    Stat(Option<String>),
    /// GET: send the answer with the stat, then the tar.
    Send(LazyBody<'a>),
}

/// A writer that holds a tar's beginning until its first entry tells the path's stat
/// (dockerd's `X-Docker-Container-Path-Stat` describes the path itself, a symlink
/// included, which is what the first entry of `cp`'s archive is).
struct ArchivePeek<'a> {
    name: String,
    buf: Vec<u8>,
    header: Option<String>,
    peek: Peek<'a>,
}

/// How much of a tar is held back to find its first entry (long names, PAX headers).
const PEEK_MAX: usize = 1 << 20;

impl Write for ArchivePeek<'_> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.header.is_some() {
            return match &mut self.peek {
                Peek::Send(b) => b.write(data),
                Peek::Stat(_) => Err(std::io::Error::other("the stat is taken")),
            };
        }
        self.buf.extend_from_slice(data);
        let stat = first_entry_stat(&self.buf);
        if stat.is_none() && self.buf.len() < PEEK_MAX {
            return Ok(data.len());
        }
        let (size, mode, mtime, link) =
            stat.unwrap_or((0, libc::S_IFREG | 0o644, 0, String::new()));
        let h = path_stat_header(&self.name, size, mode, mtime, &link);
        self.header = Some(h.clone());
        match &mut self.peek {
            Peek::Stat(s) => {
                *s = Some(h);
                Err(std::io::Error::other("the stat is taken"))
            }
            Peek::Send(b) => {
                if let (Some(hd), Ok(v)) = (b.headers.as_mut(), header(&h)) {
                    hd.insert("x-docker-container-path-stat", v);
                }
                let held = std::mem::take(&mut self.buf);
                b.write_all(&held)?;
                Ok(data.len())
            }
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn archive_path(c: &Call) -> Result<String, EngineError> {
    c.q("path")
        .filter(|p| !p.is_empty())
        .ok_or_else(|| EngineError::invalid("the archive calls need ?path=PATH in the container"))
}

/// The stat header from the engine's (following) stat: for `dir/.` and as a fallback.
fn followed_stat(c: &Call, id: &str, path: &str) -> Result<String, EngineError> {
    let st =
        c.sh.engine
            .container_stat_path(c.caller, id, path)
            .map_err(no_such(id))?;
    Ok(path_stat_header(
        &base_name(path),
        st.size,
        st.mode,
        st.mtime,
        st.link_target.as_deref().unwrap_or(""),
    ))
}

/// `HEAD /containers/{id}/archive?path=`: the stat in `X-Docker-Container-Path-Stat`.
pub fn archive_head(c: &mut Call, out: &mut Responder, id: &str) -> Handled {
    let e = c.sh.engine.clone();
    e.gate().precheck(c.caller, Action::ContainerCp)?;
    let path = archive_path(c)?;
    let stat = if path.ends_with("/.") || path == "." {
        followed_stat(c, id, &path)?
    } else {
        let mut p = ArchivePeek {
            name: base_name(&path),
            buf: Vec::new(),
            header: None,
            peek: Peek::Stat(None),
        };
        let res = e.container_archive_get(c.caller, id, &path, &mut p);
        match (p.peek, res) {
            (Peek::Stat(Some(h)), _) => h,
            (_, Err(err)) => return Err(no_such(id)(err)),
            // An archive without entries.
            (_, Ok(st)) => path_stat_header(
                &base_name(&path),
                st.size,
                st.mode,
                st.mtime,
                st.link_target.as_deref().unwrap_or(""),
            ),
        }
    };
    let mut h = base_headers();
    h.insert("x-docker-container-path-stat", header(&stat)?);
    out.start(StatusCode::OK, h);
    Ok(())
}

/// `GET /containers/{id}/archive?path=`: a tar of the path, its stat in the header.
pub fn archive_get(c: &mut Call, out: &mut Responder, id: &str) -> Handled {
    let e = c.sh.engine.clone();
    e.gate().precheck(c.caller, Action::ContainerCp)?;
    let path = archive_path(c)?;
    let mut headers = headers_with("application/x-tar")?;
    let known = if path.ends_with("/.") || path == "." {
        let h = followed_stat(c, id, &path)?;
        headers.insert("x-docker-container-path-stat", header(&h)?);
        Some(h)
    } else {
        None
    };
    let mut p = ArchivePeek {
        name: base_name(&path),
        buf: Vec::new(),
        header: known,
        peek: Peek::Send(LazyBody::new(out, StatusCode::OK, headers)),
    };
    let res = e.container_archive_get(c.caller, id, &path, &mut p);
    let started = match &p.peek {
        Peek::Send(b) => b.w.is_some(),
        Peek::Stat(_) => false,
    };
    match res {
        Err(err) if !started => Err(no_such(id)(err)),
        Err(err) => {
            tracing::debug!("docker cp from {id}:{path}: {err}");
            if let Peek::Send(b) = p.peek {
                b.abort(&err.message);
            }
            Ok(())
        }
        Ok(st) => {
            // Whatever is still held (a short archive) goes out now, with the stat.
            let ArchivePeek {
                buf,
                header: hd,
                peek,
                name,
            } = p;
            if let Peek::Send(mut b) = peek {
                if hd.is_none() {
                    let h = path_stat_header(
                        &name,
                        st.size,
                        st.mode,
                        st.mtime,
                        st.link_target.as_deref().unwrap_or(""),
                    );
                    if let (Some(m), Ok(v)) = (b.headers.as_mut(), header(&h)) {
                        m.insert("x-docker-container-path-stat", v);
                    }
                }
                if !buf.is_empty() {
                    let _ = b.write_all(&buf);
                }
                b.finish();
            }
            Ok(())
        }
    }
}

/// `PUT /containers/{id}/archive?path=&noOverwriteDirNonDir=&copyUIDGID=`: extract a
/// tar into the directory `path`.
pub fn archive_put(c: &mut Call, out: &mut Responder, id: &str) -> Handled {
    let e = c.sh.engine.clone();
    e.gate().precheck(c.caller, Action::ContainerCp)?;
    let path = archive_path(c)?;
    // wharf never replaces a directory with a non-directory or the other way round (the
    // copy fails there), which is what noOverwriteDirNonDir asks; without it dockerd
    // would replace, wharf still refuses at that entry.
    let _ = c.q_bool("noOverwriteDirNonDir", false)?;
    if c.q_bool("copyUIDGID", false)? {
        // dockerd then gives the files the container's user; wharf keeps the archive's
        // owners, which is the same only for a container that runs as root.
        let doc = e.container_inspect(c.caller, id).map_err(no_such(id))?;
        let user = doc["Config"]["User"].as_str().unwrap_or("");
        if !matches!(user, "" | "root" | "0" | "0:0" | "root:root") {
            return Err(unsupported(
                &format!("copyUIDGID for a container that runs as {user:?}"),
                "wharf keeps the owners the archive gives; leave -a out and set the owners in the archive",
            ));
        }
    }
    let mut body = c.req.body(None);
    e.container_archive_put(c.caller, id, &path, &mut body)
        .map_err(no_such(id))?;
    status_only(out, StatusCode::OK);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_as_dockerd_reads_them() {
        let now = 2_000_000_000_000_000_000;
        assert_eq!(
            parse_time("1700000000", now).unwrap(),
            1_700_000_000_000_000_000
        );
        assert_eq!(
            parse_time("1700000000.5", now).unwrap(),
            1_700_000_000_500_000_000
        );
        assert_eq!(
            parse_time("1700000000.000000001", now).unwrap(),
            1_700_000_000_000_000_001
        );
        assert_eq!(parse_time("10m", now).unwrap(), now - 600_000_000_000);
        assert_eq!(parse_time("1h30m", now).unwrap(), now - 5_400_000_000_000);
        assert_eq!(
            parse_time("2023-11-14T22:13:20Z", now).unwrap(),
            1_700_000_000_000_000_000
        );
        assert!(parse_time("yesterday", now).is_err());
        assert!(parse_time("", now).is_err());
    }

    #[test]
    fn rfc3339_nano_trims_zeros_as_go() {
        let t = chrono::DateTime::from_timestamp(1_700_000_000, 120_000_000).unwrap();
        assert_eq!(rfc3339_nano(&t), "2023-11-14T22:13:20.12Z");
        let t = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        assert_eq!(rfc3339_nano(&t), "2023-11-14T22:13:20Z");
        let t = chrono::DateTime::from_timestamp(1_700_000_000, 1).unwrap();
        assert_eq!(rfc3339_nano(&t), "2023-11-14T22:13:20.000000001Z");
    }

    #[test]
    fn go_file_modes() {
        assert_eq!(go_file_mode(libc::S_IFDIR | 0o755), (1 << 31) | 0o755);
        assert_eq!(go_file_mode(libc::S_IFLNK | 0o777), (1 << 27) | 0o777);
        assert_eq!(go_file_mode(libc::S_IFREG | 0o644), 0o644);
        assert_eq!(
            go_file_mode(libc::S_IFDIR | libc::S_ISVTX | 0o777),
            (1 << 31) | (1 << 20) | 0o777
        );
        assert_eq!(
            go_file_mode(libc::S_IFCHR | 0o666),
            (1 << 26) | (1 << 21) | 0o666
        );
        let h = path_stat_header("x", 3, libc::S_IFLNK | 0o777, 0, "/etc/y");
        let v: Value =
            serde_json::from_slice(&base64::engine::general_purpose::STANDARD.decode(h).unwrap())
                .unwrap();
        assert_eq!(
            v,
            json!({"name": "x", "size": 3, "mode": (1u32 << 27) | 0o777,
                   "mtime": "1970-01-01T00:00:00Z", "linkTarget": "/etc/y"})
        );
    }

    #[test]
    fn first_tar_entry_is_the_path() {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_mode(0o777);
        h.set_size(0);
        h.set_mtime(5);
        // A long name needs a GNU extension entry first.
        let long = "l".repeat(150);
        b.append_link(&mut h, &long, "target").unwrap();
        let data = b.into_inner().unwrap();
        for cut in [100, 512, 1000] {
            assert!(first_entry_stat(&data[..cut]).is_none(), "{cut}");
        }
        let (size, mode, mtime, link) = first_entry_stat(&data).unwrap();
        assert_eq!(
            (size, mode, mtime, link.as_str()),
            (0, libc::S_IFLNK | 0o777, 5, "target")
        );
        assert_eq!(base_name("/etc/hostname"), "hostname");
        assert_eq!(base_name("/etc/"), "etc");
        assert_eq!(base_name("/"), "/");
    }

    #[test]
    fn port_filters() {
        assert_eq!(port_filter("80"), Some((80, 80, None)));
        assert_eq!(port_filter("80/udp"), Some((80, 80, Some("udp".into()))));
        assert_eq!(
            port_filter("8000-8080/tcp"),
            Some((8000, 8080, Some("tcp".into())))
        );
        assert_eq!(port_filter("x"), None);
    }

    #[test]
    fn stats_documents_parse_as_docker_expects() {
        let s = ContainerStats {
            id: "abc".into(),
            name: "/x".into(),
            ..Default::default()
        };
        let v = stats_json(&s);
        assert_eq!(v["read"], "0001-01-01T00:00:00Z");
        assert_eq!(v["preread"], "0001-01-01T00:00:00Z");
        assert_eq!(v["name"], "/x");
        assert_eq!(v["num_procs"], 0);
        assert!(v["cpu_stats"]["cpu_usage"]["total_usage"].is_u64());
        assert!(v["memory_stats"]["stats"].is_object());
        assert!(v.get("networks").is_none());
    }

    #[test]
    fn inspect_fills_dockers_shapes() {
        let doc = json!({
            "Id": "abc", "Driver": "overlay",
            "Config": {"Image": "demo"},
            "HostConfig": {"PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}},
            "Mounts": [{"Type": "volume", "Name": "v", "Source": "/s", "Destination": "/d", "RW": true, "Mode": ""}],
            "NetworkSettings": {"Networks": {"net": {"NetworkID": "n1", "IPAddress": "10.0.0.2", "IPPrefixLen": 24, "EndpointID": "e1"}}},
        });
        let v = inspect_json(doc);
        assert_eq!(v["Config"]["ExposedPorts"], json!({"80/tcp": {}}));
        assert_eq!(v["Mounts"][0]["Driver"], "local");
        assert_eq!(v["Mounts"][0]["Propagation"], "");
        assert_eq!(
            v["NetworkSettings"]["Networks"]["net"]["IPAddress"],
            "10.0.0.2"
        );
        assert_eq!(
            v["NetworkSettings"]["Networks"]["net"]["GlobalIPv6PrefixLen"],
            0
        );
        assert_eq!(v["NetworkSettings"]["EndpointID"], "e1");
        assert_eq!(v["GraphDriver"]["Name"], "overlay");
        assert_eq!(v["ExecIDs"], Value::Null);
    }
}
