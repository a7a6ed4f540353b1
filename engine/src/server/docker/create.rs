//! Docker API: `POST /containers/create`, and the translation of Docker's container
//! configuration (`Config`, `HostConfig`, `NetworkingConfig`) into the engine's
//! [`ContainerCreate`].
//!
//! Every field a client sends is either mapped to the engine's request, accepted because
//! its value is Docker's default (clients send many zero-valued fields), or refused by
//! name with what to do instead. A field wharf does not know is refused when it holds
//! anything but a zero value. Nothing is dropped quietly: what wharf accepts without
//! acting on it (ports published on network none or host) comes back in `Warnings`,
//! which the docker CLI prints. Values go through the flag grammar ([`flags`]) the CLI
//! uses, and the engine checks the request again with the same rules.
//!
//! [`translate`] is pure (no engine, no host), so it is tested on bodies captured from
//! the docker CLI and docker-py (`engine/tests/fixtures/docker/`).

use http::StatusCode;
use serde_json::{json, Value};

use super::fields::{bad_type, is_zero, refuse, shown, Fields};
use super::{json_status, Call, Handled};
use crate::api::flags;
use crate::api::{
    ContainerApi, ContainerCreate, HealthConfig, MountSpec, NetworkApi, NetworkConnect,
    PortBinding, RemoveOptions, Resources, RestartPolicy, Ulimit,
};
use crate::error::{EngineError, ErrorKind};
use crate::policy::Action;
use crate::server::bridge::Responder;

/// `POST /containers/create?name=&platform=`: `201 {"Id", "Warnings"}`.
pub fn create(c: &mut Call, out: &mut Responder) -> Handled {
    let e = c.sh.engine.clone();
    e.gate().precheck(c.caller, Action::ContainerCreate)?;
    let name = c
        .q("name")
        .map(|n| n.trim_start_matches('/').to_string())
        .filter(|n| !n.is_empty());
    check_platform(c.q("platform").as_deref())?;
    let body = c.json_body()?;
    let t = match translate(&body, name.clone()) {
        Ok(t) => t,
        Err(err) => {
            // Refused before the engine saw it: audited as the engine audits its own
            // refusals, with what can be told of the request.
            let seen = ContainerCreate {
                name,
                image: body["Image"].as_str().unwrap_or_default().to_string(),
                ..Default::default()
            };
            e.gate().refuse_create(c.caller, &seen, &err);
            return Err(err);
        }
    };
    let id = e
        .container_create(c.caller, &t.spec)
        .map_err(|err| create_error(err, &t.spec))?;
    // Endpoints beyond the first are connected after create, as dockerd does; if one
    // cannot be, the container is removed again and the create fails as a whole.
    for (net, opts) in &t.connect {
        if let Err(err) = e.network_connect(c.caller, net, &id, opts) {
            let _ = e.container_remove(
                c.caller,
                &id,
                RemoveOptions {
                    force: true,
                    volumes: true,
                },
            );
            return Err(err.context(format!(
                "NetworkingConfig.EndpointsConfig.{net}: connecting the new container"
            )));
        }
    }
    json_status(
        out,
        StatusCode::CREATED,
        &json!({"Id": id, "Warnings": t.warnings}),
    );
    Ok(())
}

/// dockerd's words for the errors clients act on: a missing image is `No such image:
/// busybox:latest` (the docker CLI pulls on that 404), a taken name is a `Conflict.`.
fn create_error(err: EngineError, spec: &ContainerCreate) -> EngineError {
    if err.kind == ErrorKind::NotFound && err.message.starts_with("image ") {
        let shown = crate::image::Reference::parse(&spec.image)
            .map(|r| r.familiar())
            .unwrap_or_else(|_| spec.image.clone());
        return EngineError::new(ErrorKind::NotFound, format!("No such image: {shown}"));
    }
    err
}

/// `?platform=`: wharf runs images for the host's own platform only.
pub fn check_platform(p: Option<&str>) -> Result<(), EngineError> {
    let Some(p) = p.filter(|p| !p.is_empty()) else {
        return Ok(());
    };
    let host = host_arch();
    let mut parts = p.split('/');
    let os = parts.next().unwrap_or("");
    let arch = parts.next().map(normalize_arch);
    let variant_ok = match (arch.as_deref(), parts.next()) {
        (_, None) => true,
        // amd64 and arm64 have one variant each that is worth naming.
        (Some("amd64"), Some("v1" | "v2" | "v3")) | (Some("arm64"), Some("v8")) => true,
        _ => false,
    };
    if os == "linux" && arch.as_deref().is_none_or(|a| a == host) && variant_ok {
        return Ok(());
    }
    Err(EngineError::invalid(format!(
        "platform {p:?} is not supported by wharf: this engine runs linux/{host} images only; leave --platform out"
    )))
}

fn normalize_arch(a: &str) -> String {
    match a {
        "x86_64" | "x86-64" => "amd64".into(),
        "aarch64" => "arm64".into(),
        other => other.to_ascii_lowercase(),
    }
}

fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "arm" => "arm",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        other => other,
    }
}

/// What a create body becomes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Translated {
    pub spec: ContainerCreate,
    /// Networks to connect after create (endpoints beyond the primary one).
    pub connect: Vec<(String, NetworkConnect)>,
    /// What wharf accepted without acting on it, said back to the client.
    pub warnings: Vec<String>,
}

/// Translate a create body (`Config` with `HostConfig` and `NetworkingConfig` inside)
/// into the engine's request. `name` is from the query.
pub fn translate(body: &Value, name: Option<String>) -> Result<Translated, EngineError> {
    let mut t = Translated::default();
    t.spec.name = name;
    let mut cfg = Fields::new("", Some(body))?;
    config(&mut cfg, &mut t)?;
    let host_v = cfg.get("HostConfig");
    let net_v = cfg.get("NetworkingConfig");
    let exposed = exposed_ports(&mut cfg)?;
    let anon = anonymous_volumes(&mut cfg)?;
    cfg.finish()?;
    let mut host = Fields::new("HostConfig", host_v)?;
    host_config(&mut host, &mut t)?;
    (t.spec.resources, t.spec.ulimits) = resources(&mut host, false)?;
    host.finish()?;
    // Anonymous volumes of `Config.Volumes`, unless a bind or mount has the same target.
    for target in anon {
        if !t.spec.mounts.iter().any(|m| m.target == target) {
            t.spec.mounts.push(MountSpec {
                kind: "volume".into(),
                source: String::new(),
                target,
                read_only: false,
                options: vec![],
            });
        }
    }
    // Exposed ports beyond the published ones (`-P` publishes them too).
    for (port, proto) in exposed {
        if t.spec
            .ports
            .iter()
            .any(|p| p.container_port == port && p.proto == proto)
        {
            continue;
        }
        t.spec.expose.push(PortBinding {
            host_ip: String::new(),
            host_port: 0,
            container_port: port,
            proto,
        });
    }
    if matches!(t.spec.network.as_deref(), Some("host" | "none"))
        && (!t.spec.ports.is_empty() || t.spec.publish_all)
    {
        t.warnings.push(format!(
            "Published ports are discarded when using {} network mode",
            t.spec.network.as_deref().unwrap_or_default()
        ));
    }
    networking(net_v, &mut t)?;
    Ok(t)
}

/// The top-level `Config` fields.
fn config(f: &mut Fields, t: &mut Translated) -> Result<(), EngineError> {
    let s = &mut t.spec;
    s.hostname = f.string("Hostname")?;
    f.zero(
        "Domainname",
        "wharf sets no NIS domain name; put the domain in Hostname or use ExtraHosts",
    )?;
    s.user = f.string("User")?;
    // Which streams the client means to attach: the attach request names them itself.
    f.accept("AttachStdin");
    f.accept("AttachStdout");
    f.accept("AttachStderr");
    s.tty = f.bool("Tty")?;
    s.open_stdin = f.bool("OpenStdin")?;
    // The client attached at start closes the container's stdin when it leaves: that is
    // StdinOnce for `docker run -i`; a container without such a client keeps stdin open.
    f.accept("StdinOnce");
    s.env = f.strings("Env")?.unwrap_or_default();
    s.cmd = f.strings("Cmd")?;
    if let Some(h) = f.get("Healthcheck") {
        s.healthcheck = healthcheck(h)?;
    }
    if f.bool("ArgsEscaped")? {
        return Err(refuse(
            "Config.ArgsEscaped",
            &json!(true),
            "it is for Windows images only",
        ));
    }
    let image = f.string("Image")?.unwrap_or_default();
    if image.is_empty() {
        return Err(EngineError::invalid(
            "Config.Image is empty: name the image to create the container from",
        ));
    }
    s.image = image;
    s.workdir = f.string("WorkingDir")?;
    if let Some(w) = &s.workdir {
        if !w.starts_with('/') {
            return Err(EngineError::invalid(format!(
                "the working directory {w:?} is invalid, it needs to be an absolute path"
            )));
        }
    }
    // `null` keeps the image's ENTRYPOINT, `[]` (and the CLI's `[""]`) clears it.
    s.entrypoint = f.strings("Entrypoint")?.map(|e| {
        if e.len() == 1 && e[0].is_empty() {
            vec![]
        } else {
            e
        }
    });
    if f.bool("NetworkDisabled")? {
        t.spec.network = Some("none".into());
    }
    let s = &mut t.spec;
    f.zero(
        "MacAddress",
        "wharf derives each container's MAC address from its IP address; leave --mac-address out",
    )?;
    f.zero(
        "OnBuild",
        "ONBUILD triggers belong to image builds, not to containers",
    )?;
    s.labels = f.string_map("Labels")?;
    s.stop_signal = f.string("StopSignal")?;
    s.stop_timeout = match f.int("StopTimeout")? {
        None => None,
        Some(n) if (0..=i64::from(u32::MAX)).contains(&n) => Some(n as u32),
        Some(n) => {
            return Err(refuse(
                "Config.StopTimeout",
                &json!(n),
                "give the seconds to wait before SIGKILL, 0 or more",
            ))
        }
    };
    f.zero(
        "Shell",
        "SHELL belongs to image builds; give the command in Cmd or Entrypoint",
    )?;
    Ok(())
}

/// `Config.ExposedPorts`: `{"80/tcp": {}}` as (port, proto).
fn exposed_ports(f: &mut Fields) -> Result<Vec<(u16, String)>, EngineError> {
    let Some(v) = f.get("ExposedPorts") else {
        return Ok(vec![]);
    };
    let Value::Object(m) = v else {
        return Err(bad_type("Config.ExposedPorts", "an object", v));
    };
    let mut out = Vec::new();
    for (k, val) in m {
        if !is_zero(val) {
            return Err(refuse(
                &format!("Config.ExposedPorts.{k}"),
                val,
                "the value of an exposed port is always {}",
            ));
        }
        out.push(port_key(&format!("Config.ExposedPorts.{k}"), k)?);
    }
    Ok(out)
}

/// `80/tcp` (or `80`, tcp) as (port, proto).
fn port_key(path: &str, k: &str) -> Result<(u16, String), EngineError> {
    let (port, proto) = k.split_once('/').unwrap_or((k, "tcp"));
    let proto = proto.to_ascii_lowercase();
    if proto != "tcp" && proto != "udp" {
        return Err(refuse(
            path,
            &json!(k),
            "wharf publishes tcp and udp ports only",
        ));
    }
    if port.contains('-') {
        return Err(refuse(
            path,
            &json!(k),
            "give each port of a range on its own (the docker CLI does that for -p 8000-8001:8000-8001)",
        ));
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok((p, proto)),
        _ => Err(EngineError::invalid(format!(
            "{path}: invalid port {k:?}: use PORT/tcp or PORT/udp with a port from 1 to 65535"
        ))),
    }
}

/// `Config.Volumes`: `{"/data": {}}`, anonymous volumes.
fn anonymous_volumes(f: &mut Fields) -> Result<Vec<String>, EngineError> {
    let Some(v) = f.get("Volumes") else {
        return Ok(vec![]);
    };
    let Value::Object(m) = v else {
        return Err(bad_type("Config.Volumes", "an object", v));
    };
    let mut out = Vec::new();
    for (k, val) in m {
        if !is_zero(val) {
            return Err(refuse(
                &format!("Config.Volumes.{k}"),
                val,
                "the value of an anonymous volume is always {}",
            ));
        }
        check_target(&format!("Config.Volumes.{k}"), k)?;
        out.push(k.clone());
    }
    Ok(out)
}

fn check_target(path: &str, target: &str) -> Result<(), EngineError> {
    if !target.starts_with('/') || target.trim_end_matches('/').is_empty() {
        return Err(EngineError::invalid(format!(
            "{path}: the mount target {target:?} must be an absolute path in the container other than /"
        )));
    }
    Ok(())
}

/// `Config.Healthcheck`.
fn healthcheck(v: &Value) -> Result<Option<HealthConfig>, EngineError> {
    let mut f = Fields::new("Config.Healthcheck", Some(v))?;
    let test = f.strings("Test")?.filter(|t| !t.is_empty());
    if let Some(t) = &test {
        let ok = match t[0].as_str() {
            "NONE" => t.len() == 1,
            "CMD" => t.len() >= 2,
            "CMD-SHELL" => t.len() == 2,
            _ => false,
        };
        if !ok {
            return Err(EngineError::invalid(format!(
                "Config.Healthcheck.Test {}: use [\"CMD\", \"prog\", \"arg\"...], [\"CMD-SHELL\", \"command\"] or [\"NONE\"]",
                shown(&json!(t))
            )));
        }
    }
    let mut dur = |key: &'static str| -> Result<Option<i64>, EngineError> {
        let path = f.at(key);
        match f.int(key)? {
            None | Some(0) => Ok(None),
            Some(n) if n < 0 => Err(EngineError::invalid(format!("{path} cannot be negative"))),
            Some(n) if n < 1_000_000 => Err(EngineError::invalid(format!(
                "{path} in Healthcheck cannot be less than 1ms"
            ))),
            Some(n) => Ok(Some(n)),
        }
    };
    let interval_ns = dur("Interval")?;
    let timeout_ns = dur("Timeout")?;
    let start_period_ns = dur("StartPeriod")?;
    f.zero(
        "StartInterval",
        "wharf checks at Interval during the start period too; leave --health-start-interval out",
    )?;
    let retries = match f.int("Retries")? {
        None | Some(0) => None,
        Some(n) if (1..=i64::from(u32::MAX)).contains(&n) => Some(n as u32),
        Some(n) => {
            return Err(EngineError::invalid(format!(
                "Config.Healthcheck.Retries {n} is invalid: give 0 (the image's, or 3) or more"
            )))
        }
    };
    f.finish()?;
    let h = HealthConfig {
        test,
        interval_ns,
        timeout_ns,
        start_period_ns,
        retries,
    };
    Ok((h != HealthConfig::default()).then_some(h))
}

/// The `HostConfig` fields other than the resources.
fn host_config(f: &mut Fields, t: &mut Translated) -> Result<(), EngineError> {
    binds(f, &mut t.spec)?;
    // The client writes the file itself, after create.
    f.accept("ContainerIDFile");
    log_config(f, &mut t.spec)?;
    let mode = f.string("NetworkMode")?;
    network_mode(mode.as_deref(), &mut t.spec)?;
    port_bindings(f, &mut t.spec)?;
    t.spec.restart =
        restart_policy(f.get("RestartPolicy"), "HostConfig.RestartPolicy")?.unwrap_or_default();
    t.spec.auto_remove = f.bool("AutoRemove")?;
    f.one_of(
        "VolumeDriver",
        &["local"],
        "wharf has the local volume driver only",
    )?;
    for (i, v) in f
        .strings("VolumesFrom")?
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        v.parse::<flags::VolumesFrom>()
            .map_err(|e| e.for_flag(&format!("HostConfig.VolumesFrom[{i}]")))?;
        t.spec.volumes_from.push(v.clone());
    }
    mounts(f, &mut t.spec)?;
    // The terminal's first size: the docker CLI sends it again as a resize once
    // attached, which is what wharf's terminal takes.
    f.accept("ConsoleSize");
    f.zero(
        "Annotations",
        "wharf passes no OCI annotations to its runtime",
    )?;
    t.spec.cap_add = f.strings("CapAdd")?.unwrap_or_default();
    t.spec.cap_drop = f.strings("CapDrop")?.unwrap_or_default();
    f.one_of(
        "CgroupnsMode",
        &["private"],
        "every wharf container has its own cgroup namespace",
    )?;
    t.spec.dns = f.strings("Dns")?.unwrap_or_default();
    f.zero(
        "DnsOptions",
        "wharf writes nameservers only into resolv.conf; leave --dns-option out",
    )?;
    f.zero(
        "DnsSearch",
        "wharf writes nameservers only into resolv.conf; leave --dns-search out",
    )?;
    t.spec.extra_hosts = f.strings("ExtraHosts")?.unwrap_or_default();
    f.zero(
        "GroupAdd",
        "wharf does not add supplementary groups; give the group in User (user:group)",
    )?;
    // `shareable` lets other containers join the namespace, which wharf never does.
    f.one_of(
        "IpcMode",
        &["private", "shareable"],
        "every wharf container has its own IPC namespace",
    )?;
    f.zero("Cgroup", "every wharf container has its own cgroup")?;
    // Legacy links act on the default bridge (and as aliases on user networks), which
    // wharf does not do; on network none they do nothing in Docker either (compose
    // 1.29's `run` sends them for every service).
    if t.spec.network.as_deref() == Some("none") {
        let _ = f.strings("Links")?;
    } else {
        f.zero(
            "Links",
            "legacy links are not supported: put the containers on one user-defined network and use their names",
        )?;
    }
    f.zero(
        "OomScoreAdj",
        "wharf leaves the OOM score of containers as the kernel sets it",
    )?;
    f.zero("PidMode", "every wharf container has its own pid namespace")?;
    t.spec.privileged = f.bool("Privileged")?;
    t.spec.publish_all = f.bool("PublishAllPorts")?;
    t.spec.read_only = f.bool("ReadonlyRootfs")?;
    t.spec.security_opt = f.strings("SecurityOpt")?.unwrap_or_default();
    f.zero(
        "StorageOpt",
        "wharf's overlay storage takes no per-container options",
    )?;
    tmpfs_map(f, &mut t.spec)?;
    f.zero(
        "UTSMode",
        "every wharf container has its own UTS namespace (set Hostname)",
    )?;
    // wharf maps no user namespace unless asked: `host` says just that.
    f.one_of(
        "UsernsMode",
        &["host"],
        "wharf runs containers without a user namespace",
    )?;
    t.spec.shm_size = match f.int("ShmSize")? {
        None | Some(0) => None,
        Some(n) if n > 0 => Some(n as u64),
        Some(n) => {
            return Err(refuse(
                "HostConfig.ShmSize",
                &json!(n),
                "give the size of /dev/shm in bytes",
            ))
        }
    };
    f.zero("Sysctls", "wharf sets no sysctls in containers")?;
    f.zero(
        "Runtime",
        "wharf runs containers with its own runtime; leave --runtime out",
    )?;
    f.one_of("Isolation", &["default"], "isolation modes are for Windows")?;
    // Any list here replaces Docker's defaults, an empty one included: only null keeps them.
    for (k, hint) in [
        ("MaskedPaths", "wharf masks Docker's default paths; use --privileged where the role allows it"),
        ("ReadonlyPaths", "wharf makes Docker's default paths read-only; use --privileged where the role allows it"),
    ] {
        if let Some(v) = f.get(k) {
            return Err(refuse(&f.at(k), v, hint));
        }
    }
    t.spec.init = f.bool("Init")?;
    Ok(())
}

/// `HostConfig.Binds`: `src:dst[:opts]`, `name:dst[:opts]` or `dst`, as `-v` reads them.
fn binds(f: &mut Fields, s: &mut ContainerCreate) -> Result<(), EngineError> {
    for (i, b) in f.strings("Binds")?.unwrap_or_default().iter().enumerate() {
        s.mounts
            .push(parse_bind(&format!("HostConfig.Binds[{i}]"), b)?);
    }
    Ok(())
}

/// One `-v` value, by the flag grammar ([`flags::VolumeSpec`]).
pub fn parse_bind(path: &str, raw: &str) -> Result<MountSpec, EngineError> {
    raw.parse::<flags::VolumeSpec>()
        .map(|v| v.0)
        .map_err(|e| e.for_flag(path))
}

/// `HostConfig.LogConfig`: json-file (wharf's only log driver) with max-size/max-file.
fn log_config(f: &mut Fields, s: &mut ContainerCreate) -> Result<(), EngineError> {
    let mut l = Fields::new("HostConfig.LogConfig", f.get("LogConfig"))?;
    s.log_driver = l.one_of(
        "Type",
        &["json-file", "none"],
        "wharf keeps json-file logs (docker logs reads them) or none; leave --log-driver out or give one of those",
    )?;
    let opts = l.string_map("Config")?;
    l.finish()?;
    if s.log_driver.as_deref() == Some("none") && !opts.is_empty() {
        return Err(EngineError::invalid(
            "HostConfig.LogConfig: the none log driver takes no options; leave --log-opt out",
        ));
    }
    for (k, v) in opts {
        let path = format!("HostConfig.LogConfig.Config.{k}");
        match format!("{k}={v}").parse::<flags::LogOpt>() {
            Ok(flags::LogOpt::MaxSize(n)) => s.log_max_size = Some(n),
            Ok(flags::LogOpt::MaxFile(n)) => s.log_max_files = Some(n),
            Err(e) => return Err(e.for_flag(&path)),
        }
    }
    Ok(())
}

/// `HostConfig.NetworkMode`.
fn network_mode(mode: Option<&str>, s: &mut ContainerCreate) -> Result<(), EngineError> {
    s.network = match mode {
        None | Some("default") => s.network.take(),
        Some(m) if m.starts_with("container:") => {
            return Err(refuse(
                "HostConfig.NetworkMode",
                &json!(m),
                "sharing another container's network is not supported; put both on one user-defined network",
            ))
        }
        Some(m) => {
            if s.network.as_deref() == Some("none") && m != "none" {
                return Err(EngineError::invalid(format!(
                    "Config.NetworkDisabled and HostConfig.NetworkMode {m:?} contradict each other: give one"
                )));
            }
            Some(m.to_string())
        }
    };
    Ok(())
}

/// `HostConfig.PortBindings`: `{"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}`.
fn port_bindings(f: &mut Fields, s: &mut ContainerCreate) -> Result<(), EngineError> {
    let Some(v) = f.get("PortBindings") else {
        return Ok(());
    };
    let Value::Object(m) = v else {
        return Err(bad_type("HostConfig.PortBindings", "an object", v));
    };
    for (k, list) in m {
        let path = format!("HostConfig.PortBindings.{k}");
        let (port, proto) = port_key(&path, k)?;
        let entries: &[Value] = match list {
            Value::Null => &[],
            Value::Array(a) => a,
            other => return Err(bad_type(&path, "a list of bindings", other)),
        };
        for e in entries {
            let mut b = Fields::new(&path, Some(e))?;
            let ip = b.string("HostIp")?.unwrap_or_default();
            let hp = b.string("HostPort")?.unwrap_or_default();
            b.finish()?;
            let host_port = if hp.is_empty() {
                0
            } else if hp.contains('-') {
                return Err(refuse(
                    &format!("{path}.HostPort"),
                    &json!(hp),
                    "give one host port (or none for an ephemeral one), not a range",
                ));
            } else {
                hp.parse::<u16>().map_err(|_| {
                    EngineError::invalid(format!(
                        "{path}.HostPort {hp:?} is invalid: give a port from 1 to 65535, or leave it empty"
                    ))
                })?
            };
            s.ports.push(PortBinding {
                host_ip: ip.trim_matches(|c| c == '[' || c == ']').to_string(),
                host_port,
                container_port: port,
                proto: proto.clone(),
            });
        }
    }
    Ok(())
}

/// `RestartPolicy` (create and update): `None` when absent or empty (update: unchanged).
pub fn restart_policy(v: Option<&Value>, path: &str) -> Result<Option<RestartPolicy>, EngineError> {
    let mut f = Fields::new(path, v)?;
    let name = f.string("Name")?;
    let count = f.int("MaximumRetryCount")?.unwrap_or(0);
    f.finish()?;
    if count < 0 || count > i64::from(u32::MAX) {
        return Err(EngineError::invalid(format!(
            "{path}.MaximumRetryCount {count} is invalid: give 0 or more"
        )));
    }
    let p = match name.as_deref() {
        None => {
            if count != 0 {
                return Err(EngineError::invalid(format!(
                    "{path}: MaximumRetryCount needs the on-failure policy"
                )));
            }
            return Ok(None);
        }
        Some("no") => RestartPolicy::No,
        Some("always") => RestartPolicy::Always,
        Some("unless-stopped") => RestartPolicy::UnlessStopped,
        Some("on-failure") => RestartPolicy::OnFailure {
            max_retries: count as u32,
        },
        Some(other) => {
            return Err(EngineError::invalid(format!(
                "invalid restart policy {other:?}: use no, always, unless-stopped or on-failure"
            )))
        }
    };
    if count != 0 && !matches!(p, RestartPolicy::OnFailure { .. }) {
        return Err(EngineError::invalid(format!(
            "invalid restart policy: maximum retry count cannot be used with restart policy '{}'",
            name.unwrap_or_default()
        )));
    }
    Ok(Some(p))
}

/// `HostConfig.Mounts`.
fn mounts(f: &mut Fields, s: &mut ContainerCreate) -> Result<(), EngineError> {
    let Some(v) = f.get("Mounts") else {
        return Ok(());
    };
    let Value::Array(list) = v else {
        return Err(bad_type("HostConfig.Mounts", "a list of mounts", v));
    };
    for (i, m) in list.iter().enumerate() {
        let path = format!("HostConfig.Mounts[{i}]");
        s.mounts.push(mount(&path, m)?);
    }
    Ok(())
}

fn mount(path: &str, v: &Value) -> Result<MountSpec, EngineError> {
    let mut f = Fields::new(path, Some(v))?;
    let kind = f.string("Type")?.unwrap_or_default();
    let source = f.string("Source")?.unwrap_or_default();
    let target = f.string("Target")?.unwrap_or_default();
    check_target(path, &target)?;
    let read_only = f.bool("ReadOnly")?;
    f.one_of(
        "Consistency",
        &["default", "consistent"],
        "on Linux mounts are always consistent",
    )?;
    let mut m = MountSpec {
        kind: kind.clone(),
        source,
        target,
        read_only,
        options: vec![],
    };
    let bind_v = f.get("BindOptions");
    let vol_v = f.get("VolumeOptions");
    let tmpfs_v = f.get("TmpfsOptions");
    f.finish()?;
    let wrong = |key: &str, v: Option<&Value>| -> Result<(), EngineError> {
        match v {
            Some(v) if !is_zero(v) => Err(EngineError::invalid(format!(
                "{path}.{key} is for another mount type than {kind:?}"
            ))),
            _ => Ok(()),
        }
    };
    match kind.as_str() {
        "bind" => {
            wrong("VolumeOptions", vol_v)?;
            wrong("TmpfsOptions", tmpfs_v)?;
            if !m.source.starts_with('/') {
                return Err(EngineError::invalid(format!(
                    "{path}.Source {:?}: a bind mount needs an absolute host path",
                    m.source
                )));
            }
            let mut b = Fields::new(&format!("{path}.BindOptions"), bind_v)?;
            if let Some(p) = b.one_of(
                "Propagation",
                &flags::PROPAGATIONS,
                "give private, rprivate, shared, rshared, slave or rslave",
            )? {
                m.options.push(p);
            }
            b.zero("NonRecursive", "wharf's bind mounts are always recursive")?;
            b.zero(
                "CreateMountpoint",
                "create the host path first; wharf mounts existing paths only",
            )?;
            b.zero(
                "ReadOnlyNonRecursive",
                "wharf's read-only binds are read-only all the way down",
            )?;
            // What wharf does for every read-only bind.
            b.accept("ReadOnlyForceRecursive");
            b.finish()?;
        }
        "volume" => {
            wrong("BindOptions", bind_v)?;
            wrong("TmpfsOptions", tmpfs_v)?;
            let mut o = Fields::new(&format!("{path}.VolumeOptions"), vol_v)?;
            if o.bool("NoCopy")? {
                m.options.push("nocopy".into());
            }
            o.zero(
                "Labels",
                "create the volume with its labels first (docker volume create --label)",
            )?;
            o.zero("Subpath", "wharf mounts whole volumes only")?;
            let mut d = Fields::new(
                &format!("{path}.VolumeOptions.DriverConfig"),
                o.get("DriverConfig"),
            )?;
            d.one_of("Name", &["local"], "wharf has the local volume driver only")?;
            d.zero("Options", "wharf's local volumes take no driver options")?;
            d.finish()?;
            o.finish()?;
        }
        "tmpfs" => {
            wrong("BindOptions", bind_v)?;
            wrong("VolumeOptions", vol_v)?;
            let mut o = Fields::new(&format!("{path}.TmpfsOptions"), tmpfs_v)?;
            match o.int("SizeBytes")? {
                None | Some(0) => {}
                Some(n) if n > 0 => m.options.push(format!("size={n}")),
                Some(n) => {
                    return Err(EngineError::invalid(format!(
                        "{path}.TmpfsOptions.SizeBytes {n} cannot be negative"
                    )))
                }
            }
            match o.int("Mode")? {
                None | Some(0) => {}
                Some(n) if (0..=0o7777).contains(&n) => m.options.push(format!("mode={n:o}")),
                Some(n) => {
                    return Err(EngineError::invalid(format!(
                        "{path}.TmpfsOptions.Mode {n} is invalid: give permission bits (at most 0o7777, sent as a number)"
                    )))
                }
            }
            o.zero("Options", "give the size and mode in SizeBytes and Mode")?;
            o.finish()?;
        }
        "" => {
            return Err(EngineError::invalid(format!(
                "{path}.Type is missing: use bind, volume or tmpfs"
            )))
        }
        other => {
            return Err(refuse(
                &format!("{path}.Type"),
                &json!(other),
                "wharf mounts bind, volume and tmpfs",
            ))
        }
    }
    // The rest (volume names, anonymous volumes read-only, ...) by the grammar's rules.
    flags::check_mount(&m).map_err(|e| e.context(path))?;
    Ok(m)
}

/// `HostConfig.Tmpfs`: `{"/run": "size=64m,noexec"}`, as `--tmpfs` reads them.
fn tmpfs_map(f: &mut Fields, s: &mut ContainerCreate) -> Result<(), EngineError> {
    for (target, opts) in f.string_map("Tmpfs")? {
        let path = format!("HostConfig.Tmpfs.{target}");
        let raw = if opts.is_empty() {
            target.clone()
        } else {
            format!("{target}:{opts}")
        };
        let m = raw
            .parse::<flags::TmpfsSpec>()
            .map_err(|e| e.for_flag(&path))?;
        s.mounts.push(m.0);
    }
    Ok(())
}

/// The resource fields (`HostConfig` for create, the body of `update`). With `update`,
/// zero values mean "unchanged" and Docker's `-1`s mean "unlimited".
pub fn resources(f: &mut Fields, update: bool) -> Result<(Resources, Vec<Ulimit>), EngineError> {
    let mut r = Resources::default();
    let positive = |f: &mut Fields, key: &'static str| -> Result<Option<i64>, EngineError> {
        let path = f.at(key);
        match f.int(key)? {
            None | Some(0) => Ok(None),
            Some(n) if n > 0 => Ok(Some(n)),
            Some(n) => Err(EngineError::invalid(format!(
                "{path} {n} is invalid: it cannot be negative"
            ))),
        }
    };
    r.memory = positive(f, "Memory")?;
    r.memory_swap = match f.int("MemorySwap")? {
        None | Some(0) => None,
        Some(-1) => Some(-1),
        Some(n) if n > 0 => Some(n),
        Some(n) => {
            return Err(EngineError::invalid(format!(
                "{} {n} is invalid: give bytes of memory plus swap, or -1 for unlimited swap",
                f.at("MemorySwap")
            )))
        }
    };
    f.zero(
        "MemoryReservation",
        "wharf sets no soft memory limit; use Memory",
    )?;
    match f.int("MemorySwappiness")? {
        None | Some(-1) => {}
        Some(n) => {
            return Err(refuse(
                &f.at("MemorySwappiness"),
                &json!(n),
                "wharf leaves swappiness to the host",
            ))
        }
    }
    r.nano_cpus = positive(f, "NanoCpus")?;
    r.cpu_shares = positive(f, "CpuShares")?.map(|n| n as u64);
    let period = positive(f, "CpuPeriod")?;
    let quota = match f.int("CpuQuota")? {
        None | Some(0) => None,
        Some(-1) if update => {
            return Err(refuse(
                &f.at("CpuQuota"),
                &json!(-1),
                "wharf's update cannot lift a CPU limit; give a new one (--cpus)",
            ))
        }
        Some(n) if n > 0 => Some(n),
        Some(n) => {
            return Err(EngineError::invalid(format!(
                "{} {n} is invalid: give microseconds per period, 1000 or more",
                f.at("CpuQuota")
            )))
        }
    };
    if r.nano_cpus.is_some() && (period.is_some() || quota.is_some()) {
        return Err(EngineError::invalid(
            "Conflicting options: Nano CPUs and CPU Period cannot both be set: give --cpus or --cpu-period/--cpu-quota",
        ));
    }
    match (quota, period) {
        (None, None) => {}
        (Some(q), p) => {
            let p = p.unwrap_or(100_000);
            if !(1_000..=1_000_000).contains(&p) {
                return Err(EngineError::invalid(format!(
                    "CPU cfs period {p} is invalid: give 1000 to 1000000 microseconds"
                )));
            }
            if q < 1_000 {
                return Err(EngineError::invalid(format!(
                    "CPU cfs quota {q} is invalid: give 1000 microseconds or more"
                )));
            }
            // The same share of a CPU as wharf's --cpus (quota/period of 100 ms).
            r.nano_cpus = Some(q.saturating_mul(1_000_000_000) / p);
        }
        (None, Some(_)) => {
            return Err(refuse(
                &f.at("CpuPeriod"),
                &json!(period),
                "a period without CpuQuota limits nothing; give CpuQuota too, or NanoCpus",
            ))
        }
    }
    f.zero(
        "CpuRealtimePeriod",
        "wharf does not give containers real-time CPU time",
    )?;
    f.zero(
        "CpuRealtimeRuntime",
        "wharf does not give containers real-time CPU time",
    )?;
    r.cpuset_cpus = f.string("CpusetCpus")?;
    f.zero(
        "CpusetMems",
        "wharf does not pin memory nodes; leave --cpuset-mems out",
    )?;
    r.pids_limit = match f.int("PidsLimit")? {
        None => None,
        // 0 and -1 are "unlimited": at create that is the default, at update it is set.
        Some(0 | -1) => update.then_some(-1),
        Some(n) => Some(n),
    };
    r.blkio_weight = match f.int("BlkioWeight")? {
        None | Some(0) => None,
        Some(n) if (10..=1000).contains(&n) => Some(n as u16),
        Some(n) => {
            return Err(EngineError::invalid(format!(
                "{} {n} is invalid: give 10 to 1000",
                f.at("BlkioWeight")
            )))
        }
    };
    for k in [
        "BlkioWeightDevice",
        "BlkioDeviceReadBps",
        "BlkioDeviceWriteBps",
        "BlkioDeviceReadIOps",
        "BlkioDeviceWriteIOps",
    ] {
        f.zero(
            k,
            "wharf sets no per-device block I/O limits; use BlkioWeight",
        )?;
    }
    f.zero("Devices", "wharf passes no host devices into containers")?;
    f.zero(
        "DeviceCgroupRules",
        "wharf keeps Docker's default device rules",
    )?;
    f.zero(
        "DeviceRequests",
        "wharf passes no GPUs or other device requests into containers",
    )?;
    f.zero(
        "KernelMemory",
        "kernel memory limits are gone from the kernel; leave them out",
    )?;
    f.zero(
        "KernelMemoryTCP",
        "kernel memory limits are gone from the kernel; leave them out",
    )?;
    f.zero(
        "OomKillDisable",
        "wharf leaves the OOM killer on for containers",
    )?;
    f.zero(
        "CgroupParent",
        "wharf places containers under its own cgroup",
    )?;
    for k in [
        "CpuCount",
        "CpuPercent",
        "IOMaximumIOps",
        "IOMaximumBandwidth",
    ] {
        f.zero(k, "it is for Windows containers")?;
    }
    let mut ul = Vec::new();
    if update {
        f.zero("Ulimits", "ulimits are fixed when the container is created")?;
    } else if let Some(v) = f.get("Ulimits") {
        let Value::Array(list) = v else {
            return Err(bad_type(&f.at("Ulimits"), "a list", v));
        };
        for (i, u) in list.iter().enumerate() {
            ul.push(ulimit(&format!("{}[{i}]", f.at("Ulimits")), u)?);
        }
    }
    Ok((r, ul))
}

/// One of `HostConfig.Ulimits`: `{"Name", "Soft", "Hard"}`.
fn ulimit(path: &str, u: &Value) -> Result<Ulimit, EngineError> {
    let mut f = Fields::new(path, Some(u))?;
    let name = f.string("Name")?.unwrap_or_default();
    let soft = f.int("Soft")?.unwrap_or(0);
    let hard = f.int("Hard")?.unwrap_or(0);
    f.finish()?;
    if name.is_empty() {
        return Err(EngineError::invalid(format!("{path}.Name is missing")));
    }
    if hard >= 0 && soft > hard {
        return Err(EngineError::invalid(format!(
            "{path}: ulimit {name}: the soft limit {soft} must not exceed the hard limit {hard}"
        )));
    }
    Ok(Ulimit { name, soft, hard })
}

/// `NetworkingConfig.EndpointsConfig`: the primary network's aliases and address go
/// into the request; other networks are connected after create.
fn networking(v: Option<&Value>, t: &mut Translated) -> Result<(), EngineError> {
    let mut n = Fields::new("NetworkingConfig", v)?;
    let eps = n.get("EndpointsConfig");
    n.finish()?;
    let Some(eps) = eps else {
        return Ok(());
    };
    let Value::Object(eps) = eps else {
        return Err(bad_type(
            "NetworkingConfig.EndpointsConfig",
            "an object",
            eps,
        ));
    };
    let mode = t.spec.network.clone();
    let is_default = |k: &str| k == "default" || k == "bridge";
    for (name, ep) in eps {
        let path = format!("NetworkingConfig.EndpointsConfig.{name}");
        let mut f = Fields::new(&path, Some(ep))?;
        let mut ipam = Fields::new(&format!("{path}.IPAMConfig"), f.get("IPAMConfig"))?;
        let ip = ipam.string("IPv4Address")?;
        ipam.zero("IPv6Address", "wharf's networks are IPv4 only")?;
        ipam.zero("LinkLocalIPs", "wharf assigns no link-local addresses")?;
        ipam.finish()?;
        let aliases = f.strings("Aliases")?.unwrap_or_default();
        f.zero(
            "Links",
            "legacy links are not supported: containers on one user-defined network reach each other by name",
        )?;
        f.zero(
            "MacAddress",
            "wharf derives each container's MAC address from its IP address",
        )?;
        f.zero(
            "DriverOpts",
            "wharf's bridge driver takes no endpoint options",
        )?;
        f.zero("GwPriority", "wharf routes through the primary network")?;
        // What inspect reports of an endpoint; dockerd ignores them in a request too.
        for k in [
            "NetworkID",
            "EndpointID",
            "Gateway",
            "IPAddress",
            "IPPrefixLen",
            "IPv6Gateway",
            "GlobalIPv6Address",
            "GlobalIPv6PrefixLen",
            "DNSNames",
        ] {
            f.accept(k);
        }
        f.finish()?;
        let primary = match mode.as_deref() {
            None => is_default(name),
            Some(m) => m == name || (m == "bridge" && is_default(name)),
        };
        if primary {
            if (mode.is_none() || mode.as_deref() == Some("bridge")) && !aliases.is_empty() {
                return Err(EngineError::invalid(format!(
                    "{path}.Aliases: network-scoped alias is supported only for containers in user defined networks"
                )));
            }
            t.spec.network_aliases = aliases;
            t.spec.ip = ip;
        } else if matches!(mode.as_deref(), Some("none" | "host")) {
            return Err(EngineError::invalid(format!(
                "{path}: a container on network {:?} cannot join other networks",
                mode.as_deref().unwrap_or_default()
            )));
        } else {
            t.connect
                .push((name.clone(), NetworkConnect { ip, aliases }));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A body captured from a real client (see `engine/tests/fixtures/docker/README.md`).
    fn fixture(name: &str) -> Value {
        let p = format!(
            "{}/tests/fixtures/docker/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"));
        serde_json::from_str(&text).unwrap()
    }

    /// Set (or with `None` remove) the field at JSON pointer `ptr`.
    fn set(v: &mut Value, ptr: &str, to: Option<Value>) {
        let (parent, key) = ptr.rsplit_once('/').unwrap();
        let obj = v.pointer_mut(parent).unwrap().as_object_mut().unwrap();
        match to {
            Some(x) => obj.insert(key.to_string(), x),
            None => obj.remove(key),
        };
    }

    fn err(body: &Value) -> String {
        translate(body, None).unwrap_err().message
    }

    #[test]
    fn docker_run_detached_with_many_flags() {
        // docker run -d --name x -p 8080:80 -v /tmp:/t:ro --memory 64m --cpus 0.5
        //   --restart on-failure:3 --health-cmd true --health-interval 5s
        //   --health-retries 2 --network none -e A=b -l k=v --ulimit nofile=100:200
        //   --init --stop-signal SIGINT --stop-timeout 3 --shm-size 32m
        //   --log-opt max-size=1m --log-opt max-file=2 --tmpfs /run:size=1m
        //   --mount type=volume,src=vol1,dst=/v --entrypoint /bin/sh --user 1000:1000
        //   -w /tmp --hostname hh --dns 1.1.1.1 --add-host a:1.2.3.4 --cap-add NET_ADMIN
        //   --cap-drop MKNOD --read-only --security-opt no-new-privileges
        //   --pids-limit 50 demo -c 'echo hi'
        let t = translate(&fixture("cli_run_d_full.json"), Some("x".into())).unwrap();
        let s = &t.spec;
        assert_eq!(s.name.as_deref(), Some("x"));
        assert_eq!(s.image, "demo");
        assert_eq!(s.hostname.as_deref(), Some("hh"));
        assert_eq!(s.user.as_deref(), Some("1000:1000"));
        assert_eq!(s.env, vec!["A=b"]);
        assert_eq!(s.cmd, Some(vec!["-c".to_string(), "echo hi".to_string()]));
        assert_eq!(s.entrypoint, Some(vec!["/bin/sh".to_string()]));
        assert_eq!(s.workdir.as_deref(), Some("/tmp"));
        assert_eq!(s.labels.get("k").map(String::as_str), Some("v"));
        assert_eq!(s.stop_signal.as_deref(), Some("SIGINT"));
        assert_eq!(s.stop_timeout, Some(3));
        assert_eq!(
            s.healthcheck,
            Some(HealthConfig {
                test: Some(vec!["CMD-SHELL".into(), "true".into()]),
                interval_ns: Some(5_000_000_000),
                timeout_ns: None,
                start_period_ns: None,
                retries: Some(2),
            })
        );
        assert_eq!(
            s.ports,
            vec![PortBinding {
                host_ip: String::new(),
                host_port: 8080,
                container_port: 80,
                proto: "tcp".into()
            }]
        );
        assert_eq!(s.network.as_deref(), Some("none"));
        assert_eq!(s.restart, RestartPolicy::OnFailure { max_retries: 3 });
        assert_eq!(s.resources.memory, Some(64 << 20));
        assert_eq!(s.resources.nano_cpus, Some(500_000_000));
        assert_eq!(s.resources.pids_limit, Some(50));
        assert_eq!(s.cap_add, vec!["CAP_NET_ADMIN"]);
        assert_eq!(s.cap_drop, vec!["CAP_MKNOD"]);
        assert_eq!(s.dns, vec!["1.1.1.1"]);
        assert_eq!(s.extra_hosts, vec!["a:1.2.3.4"]);
        assert!(s.read_only && s.init && !s.privileged && !s.tty && !s.auto_remove);
        assert_eq!(s.security_opt, vec!["no-new-privileges"]);
        assert_eq!(
            s.ulimits,
            vec![Ulimit {
                name: "nofile".into(),
                soft: 100,
                hard: 200
            }]
        );
        assert_eq!(s.shm_size, Some(32 << 20));
        // json-file's max-size is decimal, as Docker reads it: 1m is 1,000,000 bytes.
        assert_eq!(s.log_max_size, Some(1_000_000));
        assert_eq!(s.log_max_files, Some(2));
        let mounts: Vec<(&str, &str, &str, bool, Vec<String>)> = s
            .mounts
            .iter()
            .map(|m| {
                (
                    m.kind.as_str(),
                    m.source.as_str(),
                    m.target.as_str(),
                    m.read_only,
                    m.options.clone(),
                )
            })
            .collect();
        assert_eq!(
            mounts,
            vec![
                ("bind", "/tmp", "/t", true, vec![]),
                ("volume", "vol1", "/v", false, vec![]),
                ("tmpfs", "", "/run", false, vec!["size=1048576".to_string()]),
            ]
        );
        assert!(t.connect.is_empty());
        // -p with --network none: accepted, and said so as dockerd says it for host.
        assert_eq!(
            t.warnings,
            vec!["Published ports are discarded when using none network mode"]
        );
        assert!(t.spec.expose.is_empty());
    }

    #[test]
    fn plain_create_is_the_default_request() {
        for f in ["cli_create_plain.json", "py_create_simple.json"] {
            let t = translate(&fixture(f), None).unwrap();
            let mut want = ContainerCreate {
                image: "demo".into(),
                ..Default::default()
            };
            if f.starts_with("py") {
                want.cmd = Some(vec!["echo".into(), "hi".into()]);
            }
            assert_eq!(t.spec, want, "{f}");
            assert!(t.connect.is_empty() && t.warnings.is_empty());
        }
    }

    #[test]
    fn run_rm_and_tty() {
        let t = translate(&fixture("cli_run_rm_echo.json"), None).unwrap();
        assert!(t.spec.auto_remove);
        assert_eq!(t.spec.cmd, Some(vec!["echo".into(), "hi".into()]));
        let t = translate(&fixture("cli_create_tty.json"), None).unwrap();
        assert!(t.spec.tty && t.spec.open_stdin);
        assert_eq!(t.spec.cmd, Some(vec!["sh".into()]));
    }

    #[test]
    fn docker_py_host_config() {
        let t = translate(&fixture("py_create_hostconfig.json"), None).unwrap();
        let s = &t.spec;
        assert_eq!(s.resources.memory, Some(64 << 20));
        assert_eq!(s.network.as_deref(), Some("none"));
        assert_eq!(s.restart, RestartPolicy::Always);
        assert_eq!(s.mounts.len(), 1);
        assert!(s.mounts[0].read_only && s.mounts[0].kind == "bind");
        assert_eq!(s.ports[0].host_port, 8080);
        assert_eq!(s.env, vec!["A=b"]);
        assert_eq!(s.stop_signal.as_deref(), Some("SIGTERM"));
        // docker-py sends null for the health check fields it was not given.
        let h = s.healthcheck.clone().unwrap();
        assert_eq!(h.test, Some(vec!["CMD".into(), "true".into()]));
        assert_eq!(h.interval_ns, Some(1_000_000_000));
        assert_eq!(h.retries, None);
    }

    #[test]
    fn networks_aliases_address_and_more_endpoints() {
        // docker create --network mynet --ip 10.1.0.5 --network-alias web
        //   --mac-address 02:42:ac:11:00:02 -P --expose 9000 --no-healthcheck demo
        let mut b = fixture("cli_create_network.json");
        assert!(
            err(&b).contains("NetworkingConfig.EndpointsConfig.mynet.MacAddress"),
            "{}",
            err(&b)
        );
        set(
            &mut b,
            "/NetworkingConfig/EndpointsConfig/mynet/MacAddress",
            None,
        );
        let t = translate(&b, None).unwrap();
        assert_eq!(t.spec.network.as_deref(), Some("mynet"));
        assert_eq!(t.spec.ip.as_deref(), Some("10.1.0.5"));
        assert_eq!(t.spec.network_aliases, vec!["web"]);
        assert_eq!(
            t.spec.healthcheck.as_ref().and_then(|h| h.test.clone()),
            Some(vec!["NONE".to_string()])
        );
        // Exposed, and published by -P on an ephemeral port.
        assert!(t.spec.publish_all);
        assert_eq!(
            t.spec.expose,
            vec![PortBinding {
                host_ip: String::new(),
                host_port: 0,
                container_port: 9000,
                proto: "tcp".into()
            }]
        );
        assert!(t.warnings.is_empty(), "{:?}", t.warnings);
        // A second endpoint is connected after create.
        set(
            &mut b,
            "/NetworkingConfig/EndpointsConfig/other",
            Some(json!({"Aliases": ["db"], "IPAMConfig": {"IPv4Address": "10.2.0.9"}})),
        );
        let t = translate(&b, None).unwrap();
        assert_eq!(
            t.connect,
            vec![(
                "other".to_string(),
                NetworkConnect {
                    ip: Some("10.2.0.9".into()),
                    aliases: vec!["db".into()]
                }
            )]
        );
        // Aliases on the default bridge: dockerd's refusal.
        let mut b = fixture("cli_create_plain.json");
        set(
            &mut b,
            "/NetworkingConfig/EndpointsConfig/default",
            Some(json!({"Aliases": ["x"]})),
        );
        assert!(err(&b).contains("only for containers in user defined networks"));
        // Other networks beside host or none.
        let mut b = fixture("cli_create_plain.json");
        set(&mut b, "/HostConfig/NetworkMode", Some(json!("none")));
        set(
            &mut b,
            "/NetworkingConfig/EndpointsConfig/other",
            Some(json!({})),
        );
        assert!(
            err(&b).contains("cannot join other networks"),
            "{}",
            err(&b)
        );
    }

    #[test]
    fn binds_mounts_and_tmpfs() {
        // docker create -v named:/data -v /anon
        //   --mount type=bind,src=/tmp,dst=/b,bind-propagation=rslave,readonly
        //   --mount type=tmpfs,dst=/tt,tmpfs-size=1000000,tmpfs-mode=1770
        //   --mount type=volume,dst=/nc,volume-nocopy demo
        let b = fixture("cli_create_mounts.json");
        let t = translate(&b, None).unwrap();
        let got: Vec<String> = t
            .spec
            .mounts
            .iter()
            .map(|m| {
                format!(
                    "{} {}->{}{} {}",
                    m.kind,
                    m.source,
                    m.target,
                    if m.read_only { ":ro" } else { "" },
                    m.options.join(",")
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                "volume named->/data ",
                "bind /tmp->/b:ro rslave",
                "tmpfs ->/tt size=1000000,mode=1770",
                "volume ->/nc nocopy",
                "volume ->/anon ",
            ]
        );
        // -v parsing.
        let m = parse_bind("b", "/src:/dst:ro,z").unwrap();
        assert!(m.read_only && m.kind == "bind" && m.options == vec!["z"]);
        assert_eq!(parse_bind("b", "/anon").unwrap().kind, "volume");
        assert!(parse_bind("b", "rel/path:/x")
            .unwrap_err()
            .message
            .contains("absolute"));
        assert!(parse_bind("b", "/a:/b:rw,ro").is_err());
        assert!(parse_bind("b", "/a:/b:cached").is_err());
        assert!(parse_bind("b", "/a:/").is_err());
        assert_eq!(
            parse_bind("b", "/a:/b:shared").unwrap().options,
            vec!["shared"]
        );
        assert_eq!(
            parse_bind("b", "v1:/b:nocopy").unwrap().options,
            vec!["nocopy"]
        );
        assert!(parse_bind("HostConfig.Binds[3]", "/a:/b:bogus")
            .unwrap_err()
            .message
            .starts_with("invalid HostConfig.Binds[3] \"/a:/b:bogus\""));
        assert!(parse_bind("b", "/a:/b:rprivate").is_ok());
        // --tmpfs options.
        let mut b = fixture("cli_create_plain.json");
        set(
            &mut b,
            "/HostConfig/Tmpfs",
            Some(json!({"/run": "rw,noexec,nosuid,size=64k,mode=755,uid=1"})),
        );
        let t = translate(&b, None).unwrap();
        assert_eq!(
            t.spec.mounts[0].options,
            vec!["noexec", "nosuid", "size=65536", "mode=755", "uid=1"]
        );
        set(
            &mut b,
            "/HostConfig/Tmpfs",
            Some(json!({"/run": "exec,ro"})),
        );
        let t = translate(&b, None).unwrap();
        assert!(t.spec.mounts[0].read_only);
        assert_eq!(t.spec.mounts[0].options, vec!["exec"]);
        set(
            &mut b,
            "/HostConfig/Tmpfs",
            Some(json!({"/run": "exec,noexec"})),
        );
        assert!(err(&b).contains("HostConfig.Tmpfs./run"), "{}", err(&b));
        set(
            &mut b,
            "/HostConfig/Tmpfs",
            Some(json!({"/run": "mpol=bind"})),
        );
        assert!(err(&b).contains("mpol"), "{}", err(&b));
    }

    #[test]
    fn entrypoint_null_empty_and_cleared() {
        let mut b = fixture("cli_create_plain.json");
        assert_eq!(translate(&b, None).unwrap().spec.entrypoint, None);
        set(&mut b, "/Entrypoint", Some(json!([])));
        assert_eq!(translate(&b, None).unwrap().spec.entrypoint, Some(vec![]));
        set(&mut b, "/Entrypoint", Some(json!([""])));
        assert_eq!(translate(&b, None).unwrap().spec.entrypoint, Some(vec![]));
        set(&mut b, "/Entrypoint", Some(json!("/bin/sh")));
        assert_eq!(
            translate(&b, None).unwrap().spec.entrypoint,
            Some(vec!["/bin/sh".into()])
        );
        set(&mut b, "/Cmd", Some(json!([1])));
        assert!(err(&b).contains("Cmd must be a list of strings"));
    }

    #[test]
    fn cpu_quota_restart_and_update_resources() {
        let mut b = fixture("cli_create_plain.json");
        set(&mut b, "/HostConfig/CpuQuota", Some(json!(50_000)));
        assert_eq!(
            translate(&b, None).unwrap().spec.resources.nano_cpus,
            Some(500_000_000)
        );
        set(&mut b, "/HostConfig/CpuPeriod", Some(json!(200_000)));
        assert_eq!(
            translate(&b, None).unwrap().spec.resources.nano_cpus,
            Some(250_000_000)
        );
        set(&mut b, "/HostConfig/NanoCpus", Some(json!(1_000_000_000)));
        assert!(err(&b).contains("Conflicting options"));
        let mut b = fixture("cli_create_plain.json");
        set(
            &mut b,
            "/HostConfig/RestartPolicy",
            Some(json!({"Name": "always", "MaximumRetryCount": 2})),
        );
        assert!(err(&b).contains("maximum retry count cannot be used with restart policy 'always'"));
        set(
            &mut b,
            "/HostConfig/RestartPolicy",
            Some(json!({"Name": "sometimes"})),
        );
        assert!(err(&b).contains("invalid restart policy \"sometimes\""));
        // update: zero is unchanged, -1 unlimited.
        let body = json!({"Memory": 0, "PidsLimit": 0, "CpuQuota": 0, "MemorySwap": -1,
            "RestartPolicy": {"Name": "", "MaximumRetryCount": 0}});
        let mut f = Fields::new("", Some(&body)).unwrap();
        let (r, _) = resources(&mut f, true).unwrap();
        assert_eq!(r.memory, None);
        assert_eq!(r.pids_limit, Some(-1));
        assert_eq!(r.nano_cpus, None);
        assert_eq!(r.memory_swap, Some(-1));
        assert_eq!(
            restart_policy(f.get("RestartPolicy"), "RestartPolicy").unwrap(),
            None
        );
        f.finish().unwrap();
        let body = json!({"CpuQuota": -1});
        let mut f = Fields::new("", Some(&body)).unwrap();
        assert!(resources(&mut f, true)
            .unwrap_err()
            .message
            .contains("cannot lift a CPU limit"));
        let body = json!({"Ulimits": [{"Name": "nofile", "Soft": 1, "Hard": 1}]});
        let mut f = Fields::new("", Some(&body)).unwrap();
        assert!(resources(&mut f, true)
            .unwrap_err()
            .message
            .contains("Ulimits"));
    }

    /// Every field wharf refuses, each set alone on a plain `docker create` body: the
    /// error names the field.
    #[test]
    fn refused_fields_are_named() {
        let cases: &[(&str, Value, &str)] = &[
            (
                "/Domainname",
                json!("d.com"),
                "Domainname \"d.com\" is not supported",
            ),
            ("/MacAddress", json!("02:42:ac:11:00:02"), "MacAddress"),
            ("/OnBuild", json!(["RUN x"]), "OnBuild"),
            ("/Shell", json!(["/bin/bash", "-c"]), "Shell"),
            ("/ArgsEscaped", json!(true), "ArgsEscaped"),
            ("/Healthcheck", json!({"Test": ["CMD"]}), "Healthcheck.Test"),
            (
                "/Healthcheck",
                json!({"Test": ["NONE"], "Interval": 5}),
                "cannot be less than 1ms",
            ),
            (
                "/Healthcheck",
                json!({"StartInterval": 1_000_000_000i64}),
                "StartInterval",
            ),
            ("/Healthcheck", json!({"Retries": -1}), "Retries"),
            ("/StopTimeout", json!(-1), "StopTimeout"),
            ("/WorkingDir", json!("rel"), "needs to be an absolute path"),
            ("/Image", json!(""), "Config.Image is empty"),
            ("/Volumes", json!({"rel": {}}), "Config.Volumes.rel"),
            ("/ExposedPorts", json!({"80/sctp": {}}), "tcp and udp"),
            ("/Bogus", json!(1), "Bogus 1 is not supported by wharf"),
            (
                "/HostConfig/PidMode",
                json!("host"),
                "HostConfig.PidMode \"host\" is not supported by wharf",
            ),
            ("/HostConfig/IpcMode", json!("host"), "HostConfig.IpcMode"),
            ("/HostConfig/UTSMode", json!("host"), "HostConfig.UTSMode"),
            (
                "/HostConfig/UsernsMode",
                json!("private"),
                "HostConfig.UsernsMode",
            ),
            (
                "/HostConfig/CgroupnsMode",
                json!("host"),
                "HostConfig.CgroupnsMode",
            ),
            ("/HostConfig/Cgroup", json!("x"), "HostConfig.Cgroup"),
            (
                "/HostConfig/NetworkMode",
                json!("container:web"),
                "HostConfig.NetworkMode \"container:web\"",
            ),
            ("/HostConfig/Links", json!(["foo:bar"]), "HostConfig.Links"),
            ("/HostConfig/Links", json!("foo:bar"), "HostConfig.Links"),
            (
                "/HostConfig/VolumesFrom",
                json!(["other:rx"]),
                "HostConfig.VolumesFrom[0]",
            ),
            (
                "/HostConfig/VolumeDriver",
                json!("nfs"),
                "HostConfig.VolumeDriver",
            ),
            ("/HostConfig/GroupAdd", json!(["10"]), "HostConfig.GroupAdd"),
            (
                "/HostConfig/OomScoreAdj",
                json!(100),
                "HostConfig.OomScoreAdj",
            ),
            (
                "/HostConfig/Sysctls",
                json!({"net.ipv4.ip_forward": "1"}),
                "HostConfig.Sysctls",
            ),
            (
                "/HostConfig/StorageOpt",
                json!({"size": "1G"}),
                "HostConfig.StorageOpt",
            ),
            ("/HostConfig/Runtime", json!("runc"), "HostConfig.Runtime"),
            (
                "/HostConfig/Isolation",
                json!("hyperv"),
                "HostConfig.Isolation",
            ),
            (
                "/HostConfig/Annotations",
                json!({"a": "b"}),
                "HostConfig.Annotations",
            ),
            (
                "/HostConfig/DnsOptions",
                json!(["ndots:2"]),
                "HostConfig.DnsOptions",
            ),
            (
                "/HostConfig/DnsSearch",
                json!(["x.com"]),
                "HostConfig.DnsSearch",
            ),
            (
                "/HostConfig/MaskedPaths",
                json!([]),
                "HostConfig.MaskedPaths",
            ),
            (
                "/HostConfig/ReadonlyPaths",
                json!(["/proc"]),
                "HostConfig.ReadonlyPaths",
            ),
            (
                "/HostConfig/Devices",
                json!([{"PathOnHost": "/dev/null", "PathInContainer": "/dev/null", "CgroupPermissions": "rwm"}]),
                "HostConfig.Devices",
            ),
            (
                "/HostConfig/DeviceRequests",
                json!([{"Count": -1, "Capabilities": [["gpu"]]}]),
                "HostConfig.DeviceRequests",
            ),
            (
                "/HostConfig/DeviceCgroupRules",
                json!(["c 1:3 rwm"]),
                "HostConfig.DeviceCgroupRules",
            ),
            (
                "/HostConfig/CpusetMems",
                json!("0"),
                "HostConfig.CpusetMems",
            ),
            (
                "/HostConfig/MemoryReservation",
                json!(10485760),
                "HostConfig.MemoryReservation",
            ),
            (
                "/HostConfig/MemorySwappiness",
                json!(10),
                "HostConfig.MemorySwappiness",
            ),
            (
                "/HostConfig/OomKillDisable",
                json!(true),
                "HostConfig.OomKillDisable",
            ),
            (
                "/HostConfig/CpuPeriod",
                json!(100000),
                "HostConfig.CpuPeriod",
            ),
            (
                "/HostConfig/CpuRealtimeRuntime",
                json!(1000),
                "HostConfig.CpuRealtimeRuntime",
            ),
            (
                "/HostConfig/BlkioDeviceReadBps",
                json!([{"Path": "/dev/sda", "Rate": 1}]),
                "HostConfig.BlkioDeviceReadBps",
            ),
            (
                "/HostConfig/BlkioWeight",
                json!(5),
                "HostConfig.BlkioWeight 5 is invalid",
            ),
            (
                "/HostConfig/CgroupParent",
                json!("/x"),
                "HostConfig.CgroupParent",
            ),
            (
                "/HostConfig/KernelMemory",
                json!(1),
                "HostConfig.KernelMemory",
            ),
            ("/HostConfig/CpuCount", json!(1), "HostConfig.CpuCount"),
            ("/HostConfig/ShmSize", json!(-1), "HostConfig.ShmSize"),
            (
                "/HostConfig/LogConfig",
                json!({"Type": "syslog"}),
                "HostConfig.LogConfig.Type \"syslog\"",
            ),
            (
                "/HostConfig/LogConfig",
                json!({"Type": "local"}),
                "HostConfig.LogConfig.Type \"local\"",
            ),
            (
                "/HostConfig/LogConfig",
                json!({"Type": "none", "Config": {"max-size": "1m"}}),
                "the none log driver takes no options",
            ),
            (
                "/HostConfig/LogConfig",
                json!({"Type": "json-file", "Config": {"compress": "true"}}),
                "HostConfig.LogConfig.Config.compress",
            ),
            (
                "/HostConfig/PortBindings",
                json!({"80/tcp": [{"HostPort": "8000-8010"}]}),
                "HostPort",
            ),
            (
                "/HostConfig/PortBindings",
                json!({"80/tcp": [{"HostPort": "x"}]}),
                "HostPort \"x\" is invalid",
            ),
            (
                "/HostConfig/Mounts",
                json!([{"Type": "npipe", "Target": "/x"}]),
                "HostConfig.Mounts[0].Type \"npipe\"",
            ),
            (
                "/HostConfig/Mounts",
                json!([{"Type": "bind", "Source": "/x", "Target": "/y", "BindOptions": {"NonRecursive": true}}]),
                "NonRecursive",
            ),
            (
                "/HostConfig/Mounts",
                json!([{"Type": "bind", "Source": "/x", "Target": "/y", "BindOptions": {"CreateMountpoint": true}}]),
                "CreateMountpoint",
            ),
            (
                "/HostConfig/Mounts",
                json!([{"Type": "volume", "Source": "v1", "Target": "/y", "VolumeOptions": {"Labels": {"a": "b"}}}]),
                "VolumeOptions.Labels",
            ),
            (
                "/HostConfig/Mounts",
                json!([{"Type": "volume", "Source": "v1", "Target": "/y", "VolumeOptions": {"DriverConfig": {"Name": "nfs"}}}]),
                "DriverConfig.Name \"nfs\"",
            ),
            (
                "/HostConfig/Mounts",
                json!([{"Type": "volume", "Source": "v1", "Target": "/y", "VolumeOptions": {"Subpath": "a"}}]),
                "Subpath",
            ),
            (
                "/HostConfig/Mounts",
                json!([{"Type": "tmpfs", "Target": "/y", "TmpfsOptions": {"Options": [["exec"]]}}]),
                "TmpfsOptions.Options",
            ),
            (
                "/HostConfig/Mounts",
                json!([{"Type": "tmpfs", "Target": "/y", "BindOptions": {"Propagation": "shared"}}]),
                "is for another mount type",
            ),
            (
                "/HostConfig/Mounts",
                json!([{"Type": "bind", "Source": "rel", "Target": "/y"}]),
                "absolute host path",
            ),
            (
                "/HostConfig/Mounts",
                json!([{"Type": "volume", "Target": "/y", "Bogus": 1}]),
                "HostConfig.Mounts[0].Bogus",
            ),
            ("/HostConfig/Bogus", json!("x"), "HostConfig.Bogus"),
            (
                "/NetworkingConfig/EndpointsConfig/default/Links",
                json!(["a:b"]),
                "EndpointsConfig.default.Links",
            ),
            (
                "/NetworkingConfig/EndpointsConfig/default/DriverOpts",
                json!({"a": "b"}),
                "EndpointsConfig.default.DriverOpts",
            ),
            (
                "/NetworkingConfig/EndpointsConfig/default/IPAMConfig",
                json!({"IPv6Address": "fd00::2"}),
                "IPAMConfig.IPv6Address",
            ),
        ];
        for (ptr, v, want) in cases {
            let mut b = fixture("cli_create_plain.json");
            set(&mut b, ptr, Some(v.clone()));
            match translate(&b, None) {
                Ok(t) => panic!("{ptr} = {v} was accepted: {:?}", t.spec),
                Err(e) => assert!(e.message.contains(want), "{ptr} = {v}: {}", e.message),
            }
        }
    }

    /// The options `docker create` with everything wharf refuses (captured from the
    /// CLI): the first refused field is named, and each, once dropped, names the next.
    #[test]
    fn captured_refusals_one_by_one() {
        let mut b = fixture("cli_create_refused.json");
        let mut seen = Vec::new();
        for _ in 0..40 {
            let Err(e) = translate(&b, None) else { break };
            // `HostConfig.PidMode "host" is not supported ...` → /HostConfig/PidMode
            let field = e.message.split(' ').next().unwrap().to_string();
            let ptr = format!("/{}", field.replace('.', "/"));
            assert!(b.pointer(&ptr).is_some(), "{}", e.message);
            set(&mut b, &ptr, None);
            seen.push(field);
        }
        assert!(translate(&b, None).is_ok());
        for f in [
            "Domainname",
            "HostConfig.Annotations",
            "HostConfig.DnsOptions",
            "HostConfig.DnsSearch",
            "HostConfig.GroupAdd",
            "HostConfig.IpcMode",
            "HostConfig.Links",
            "HostConfig.OomScoreAdj",
            "HostConfig.PidMode",
            "HostConfig.StorageOpt",
            "HostConfig.UTSMode",
            "HostConfig.Sysctls",
            "HostConfig.Runtime",
            "HostConfig.CpusetMems",
            "HostConfig.MemoryReservation",
            "HostConfig.Devices",
            "HostConfig.DeviceRequests",
            "HostConfig.OomKillDisable",
        ] {
            assert!(seen.iter().any(|s| s == f), "{f} not refused: {seen:?}");
        }
    }

    #[test]
    fn zero_values_and_platforms() {
        let mut b = fixture("cli_create_plain.json");
        // Fields wharf does not know are fine while they hold nothing.
        set(&mut b, "/HostConfig/Future", Some(json!({"A": [], "B": 0})));
        set(&mut b, "/HostConfig/CgroupnsMode", Some(json!("private")));
        set(&mut b, "/HostConfig/UsernsMode", Some(json!("host")));
        set(&mut b, "/HostConfig/ConsoleSize", Some(json!([24, 80])));
        assert!(translate(&b, None).is_ok());
        set(
            &mut b,
            "/HostConfig/LogConfig",
            Some(json!({"Type": "none", "Config": {}})),
        );
        assert_eq!(
            translate(&b, None).unwrap().spec.log_driver.as_deref(),
            Some("none")
        );
        // compose 1.29's `run` links the service's containers; on network none links do
        // nothing, in Docker too.
        set(&mut b, "/HostConfig/NetworkMode", Some(json!("none")));
        set(&mut b, "/NetworkingConfig", None);
        set(&mut b, "/HostConfig/Links", Some(json!(["p_web_1:web"])));
        assert!(translate(&b, None).is_ok());
        assert!(check_platform(None).is_ok());
        assert!(check_platform(Some("")).is_ok());
        assert!(check_platform(Some("linux")).is_ok());
        assert!(check_platform(Some(&format!("linux/{}", host_arch()))).is_ok());
        assert!(check_platform(Some("windows/amd64")).is_err());
        assert!(check_platform(Some("linux/mips64"))
            .unwrap_err()
            .message
            .contains("platform \"linux/mips64\" is not supported by wharf"));
    }

    #[test]
    fn missing_image_in_dockerd_words() {
        let spec = ContainerCreate {
            image: "busybox".into(),
            ..Default::default()
        };
        let e = create_error(EngineError::not_found("image", "busybox", "pull it"), &spec);
        assert_eq!(e.kind, ErrorKind::NotFound);
        assert_eq!(e.message, "No such image: busybox:latest");
    }
}
