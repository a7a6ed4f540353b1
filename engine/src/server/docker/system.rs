//! Docker API: `/_ping`, `/version`, `/info`, `/system/df`, `/events`, `/auth`.

use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode};
use serde_json::{json, Value};

use super::{base_headers, ok, Call, Handled, API_VERSION, MIN_API_VERSION};
use crate::api::*;
use crate::error::EngineError;
use crate::events::Event;
use crate::policy::Action;
use crate::server::bridge::Responder;

/// Docker's name for this machine's architecture.
pub fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "arm" => "arm",
        other => other,
    }
}

fn kernel() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `GET|HEAD /_ping`: `OK`, with the API version and OS in headers.
pub fn ping(c: &mut Call, out: &mut Responder) -> Handled {
    let mut h = base_headers();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store, must-revalidate"),
    );
    h.insert(http::header::PRAGMA, HeaderValue::from_static("no-cache"));
    // The classic builder's protocol (BuildKit sessions are not served).
    h.insert("builder-version", HeaderValue::from_static("1"));
    let body = if c.req.parts.method == Method::HEAD {
        Vec::new()
    } else {
        b"OK".to_vec()
    };
    out.full_with(StatusCode::OK, h, body);
    Ok(())
}

/// `GET /version`.
pub fn version(_c: &mut Call, out: &mut Responder) -> Handled {
    let v = env!("CARGO_PKG_VERSION");
    let details = json!({
        "ApiVersion": API_VERSION,
        "Arch": arch(),
        "BuildTime": "",
        "Experimental": "false",
        "GitCommit": "",
        "GoVersion": "",
        "KernelVersion": kernel(),
        "MinAPIVersion": MIN_API_VERSION,
        "Os": "linux",
    });
    ok(
        out,
        &json!({
            "Platform": {"Name": format!("wharf {v}")},
            "Components": [{"Name": "Engine", "Version": v, "Details": details}],
            "Version": v,
            "ApiVersion": API_VERSION,
            "MinAPIVersion": MIN_API_VERSION,
            "GitCommit": "",
            "GoVersion": "",
            "Os": "linux",
            "Arch": arch(),
            "KernelVersion": kernel(),
            "BuildTime": "",
        }),
    );
    Ok(())
}

/// `GET /info`.
pub fn info(c: &mut Call, out: &mut Responder) -> Handled {
    let engine = &c.sh.engine;
    let i = engine.info(c.caller)?;
    let cgroup_version = match i.cgroup_mode {
        CgroupMode::V2 => "2",
        _ => "1",
    };
    let fd_count = std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0);
    ok(
        out,
        &json!({
            "ID": machine_id(),
            "Containers": i.containers,
            "ContainersRunning": i.running,
            "ContainersPaused": i.paused,
            "ContainersStopped": i.stopped,
            "Images": i.images,
            "Driver": "overlay",
            "DriverStatus": [["Backing Filesystem", backing_fs(&i.root)]],
            "Plugins": {
                "Volume": ["local"],
                "Network": ["bridge", "host", "null"],
                "Authorization": null,
                "Log": ["json-file"],
            },
            "MemoryLimit": true,
            "SwapLimit": true,
            "CpuCfsPeriod": true,
            "CpuCfsQuota": true,
            "CPUShares": true,
            "CPUSet": true,
            "PidsLimit": true,
            "OomKillDisable": false,
            "IPv4Forwarding": std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").map(|s| s.trim() == "1").unwrap_or(false),
            "Debug": false,
            "NFd": fd_count,
            "NGoroutines": 0,
            "SystemTime": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            "LoggingDriver": "json-file",
            "CgroupDriver": "cgroupfs",
            "CgroupVersion": cgroup_version,
            "NEventsListener": 0,
            "KernelVersion": i.kernel,
            "OperatingSystem": i.os,
            "OSVersion": "",
            "OSType": "linux",
            "Architecture": std::env::consts::ARCH,
            "IndexServerAddress": "https://index.docker.io/v1/",
            "RegistryConfig": {
                "IndexConfigs": {},
                "InsecureRegistryCIDRs": ["127.0.0.0/8", "::1/128"],
                "Mirrors": [],
            },
            "NCPU": i.ncpu,
            "MemTotal": i.mem_total,
            "GenericResources": null,
            "DockerRootDir": i.root,
            "HttpProxy": "",
            "HttpsProxy": "",
            "NoProxy": "",
            "Name": i.hostname,
            "Labels": [],
            "ExperimentalBuild": false,
            "ServerVersion": i.engine_version,
            "Runtimes": {"wharf": {"path": "wharf"}},
            "DefaultRuntime": "wharf",
            "Swarm": {
                "NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive",
                "ControlAvailable": false, "Error": "", "RemoteManagers": null,
            },
            "LiveRestoreEnabled": true,
            "Isolation": "",
            "InitBinary": "wharf",
            "ContainerdCommit": {"ID": "", "Expected": ""},
            "RuncCommit": {"ID": "", "Expected": ""},
            "InitCommit": {"ID": "", "Expected": ""},
            "SecurityOptions": ["name=seccomp,profile=builtin", "name=cgroupns"],
            "Warnings": [],
        }),
    );
    Ok(())
}

fn machine_id() -> String {
    std::fs::read_to_string("/etc/machine-id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn backing_fs(root: &str) -> &'static str {
    match nix::sys::statfs::statfs(root).map(|s| s.filesystem_type()) {
        Ok(t) if t == nix::sys::statfs::EXT4_SUPER_MAGIC => "extfs",
        Ok(t) if t == nix::sys::statfs::XFS_SUPER_MAGIC => "xfs",
        Ok(t) if t == nix::sys::statfs::BTRFS_SUPER_MAGIC => "btrfs",
        Ok(t) if t == nix::sys::statfs::TMPFS_MAGIC => "tmpfs",
        _ => "unknown",
    }
}

/// `GET /system/df`: images, containers (with their writable layer's size) and
/// volumes (with their size) in the caller's scope.
pub fn df(c: &mut Call, out: &mut Responder) -> Handled {
    let e = &c.sh.engine;
    c.sh.engine.gate().precheck(c.caller, Action::SystemDf)?;
    let images = e.image_list(c.caller, &ImageListOptions::default())?;
    let containers = e.container_list(
        c.caller,
        &ContainerListOptions {
            all: true,
            size: true,
            ..Default::default()
        },
    )?;
    let volumes = e.volume_list(c.caller, &VolumeListOptions::default())?;
    let layers: u64 = images.iter().map(|i| i.size).sum();
    let imgs: Vec<Value> = images.iter().map(super::images::summary_json).collect();
    let ctrs: Vec<Value> = containers
        .iter()
        .map(super::containers::summary_json)
        .collect();
    let mut vols = Vec::new();
    for v in volumes {
        // Sizes come from inspect (a listing does not measure them).
        let full = e.volume_inspect(c.caller, &v.name).unwrap_or(v);
        vols.push(super::volumes::volume_json(&full));
    }
    ok(
        out,
        &json!({
            "LayersSize": layers,
            "Images": imgs,
            "Containers": ctrs,
            "Volumes": vols,
            "BuildCache": [],
        }),
    );
    Ok(())
}

/// A time in the events API: unix seconds with an optional fraction
/// (`1700000000.123456789`), or RFC 3339. Nanoseconds since the epoch.
pub fn parse_time(s: &str) -> Result<i64, EngineError> {
    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
    super::containers::parse_time(s, now)
        .map_err(|why| EngineError::invalid(format!("invalid time {s:?}: {why}")))
}

/// An event as Docker clients read it, with the legacy `status`/`id`/`from` fields of
/// container and image events.
pub fn event_json(ev: &Event) -> Value {
    let mut v = json!({
        "Type": ev.kind.as_str(),
        "Action": ev.action,
        "Actor": {"ID": ev.actor.id, "Attributes": ev.actor.attributes},
        "scope": ev.scope,
        "time": ev.time,
        "timeNano": ev.time_nano,
    });
    if matches!(ev.kind.as_str(), "container" | "image") {
        v["status"] = json!(ev.action);
        v["id"] = json!(ev.actor.id);
        if let Some(from) = ev.actor.attributes.get("image") {
            v["from"] = json!(from);
        }
    }
    v
}

/// `GET /events`: stored events from `since` (only new ones without it, as dockerd),
/// then live ones until `until` or the client goes.
pub fn events(c: &mut Call, out: &mut Responder) -> Handled {
    c.sh.engine.gate().precheck(c.caller, Action::EventsRead)?;
    let mut f = EventFilter {
        follow: true,
        ..Default::default()
    };
    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
    f.since = Some(match c.q("since").filter(|s| !s.is_empty()) {
        Some(s) => parse_time(&s)?,
        None => now,
    });
    if let Some(u) = c.q("until").filter(|s| !s.is_empty()) {
        f.until = Some(parse_time(&u)?);
    }
    for (k, v) in c.filters()? {
        match k.as_str() {
            "type" => f.types.push(v),
            "event" => f.actions.push(v),
            "container" | "image" | "network" | "volume" => f.objects.push((k, v)),
            "label" => f.labels.push(v),
            "scope" if v == "local" => {}
            "daemon" | "scope" | "config" | "node" | "plugin" | "secret" | "service" => {
                return Err(EngineError::invalid(format!(
                    "event filter {k}={v} cannot match anything on wharf (no swarm, no plugins, one engine)"
                )))
            }
            other => {
                return Err(EngineError::invalid(format!(
                    "invalid filter '{other}': use type, event, container, image, network, volume or label"
                )))
            }
        }
    }
    let engine = c.sh.engine.clone();
    let mut h = base_headers();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let mut w = out.start(StatusCode::OK, h);
    let res = engine.events(c.caller, &f, &mut |ev| {
        let mut line = serde_json::to_vec(&event_json(&ev)).unwrap_or_default();
        line.push(b'\n');
        w.send(Bytes::from(line))
    });
    if let Err(e) = res {
        // The head is out: say it in the stream, as dockerd does with `{"error": ...}`.
        let line = serde_json::to_vec(&json!({"error": e.message})).unwrap_or_default();
        w.send(Bytes::from(line));
    }
    Ok(())
}

/// `POST /auth`: check credentials against a registry and keep them for the caller.
pub fn auth(c: &mut Call, out: &mut Responder) -> Handled {
    c.sh.engine.gate().precheck(c.caller, Action::ImagePull)?;
    let body = c.json_body()?;
    let s = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let (user, password, mut server) = (s("username"), s("password"), s("serveraddress"));
    if let Some(tok) = body
        .get("identitytoken")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
    {
        return Err(EngineError::invalid(format!(
            "identity tokens ({} characters given) are not supported by wharf: log in with a user name and password or access token",
            tok.len()
        )));
    }
    if server.is_empty() || server.contains("index.docker.io") {
        server = "docker.io".into();
    }
    c.sh.engine
        .registry_login(c.caller, &server, &user, &password)?;
    ok(
        out,
        &json!({"Status": "Login Succeeded", "IdentityToken": ""}),
    );
    Ok(())
}
