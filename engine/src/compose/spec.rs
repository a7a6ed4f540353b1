//! The compose model: a project's services, networks and volumes, read from the YAML
//! tree with every key either understood or refused by name (file, line, key).
//!
//! Values go through the docker flag grammar ([`crate::api::flags`]) so `ports`,
//! `volumes`, sizes, durations, ulimits, signals and restart policies read exactly as
//! `wharf run` reads them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::yaml::{Node, Value};
use crate::api::flags;
use crate::api::{HealthConfig, MountSpec, PortBinding, Resources, RestartPolicy, Ulimit};
use crate::error::{EngineError, Result};

/// A compose project, resolved: files merged, variables interpolated, `extends`
/// applied, profiles chosen.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Project {
    pub name: String,
    /// The project directory (relative paths are resolved against it).
    pub working_dir: PathBuf,
    /// The compose files, as given (absolute).
    pub config_files: Vec<String>,
    /// Services of the active profiles, by name.
    pub services: BTreeMap<String, Service>,
    /// Services left out by `--profile` (a `run` or a named `up` may still want them).
    #[serde(skip)]
    pub disabled: BTreeMap<String, Service>,
    pub networks: BTreeMap<String, NetworkDef>,
    pub volumes: BTreeMap<String, VolumeDef>,
    /// What the user should know (unset variables, obsolete `version`).
    #[serde(skip)]
    pub warnings: Vec<String>,
}

/// When to wait for a dependency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    ServiceStarted,
    ServiceHealthy,
    ServiceCompletedSuccessfully,
}

/// One `depends_on` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dependency {
    pub condition: Condition,
    /// `restart: true`: restart this service when the dependency is restarted.
    pub restart: bool,
    /// `required: false`: a missing or disabled dependency is skipped.
    pub required: bool,
}

/// A service's attachment to a network.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceNetwork {
    pub aliases: Vec<String>,
    pub ipv4_address: Option<String>,
}

/// `pull_policy`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PullPolicy {
    /// Pull when the image is missing.
    #[default]
    Missing,
    Always,
    Never,
    /// Build (refused until wharf builds images).
    Build,
}

/// `build:` as written (wharf refuses to build until the build engine lands).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildDef {
    pub context: String,
    pub dockerfile: Option<String>,
    pub args: BTreeMap<String, String>,
    pub target: Option<String>,
}

/// A mount of a service: `kind` `volume` with `source` a key of the project's volumes
/// (or empty: anonymous), `bind` with an absolute host path, or `tmpfs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceMount {
    pub mount: MountSpec,
    /// A bind written in the short syntax: its host directory is created when missing,
    /// as compose does.
    #[serde(skip)]
    pub create_host_path: bool,
}

/// One service.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Service {
    pub name: String,
    pub image: Option<String>,
    pub build: Option<BuildDef>,
    pub pull_policy: PullPolicy,
    pub command: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    /// `KEY=VALUE`, env files first, then `environment` (which wins).
    pub environment: Vec<String>,
    pub ports: Vec<PortBinding>,
    pub expose: Vec<PortBinding>,
    pub volumes: Vec<ServiceMount>,
    pub tmpfs: Vec<MountSpec>,
    /// Networks by the project's key; empty with `network_mode`.
    pub networks: BTreeMap<String, ServiceNetwork>,
    /// `none`, `host` or `bridge`.
    pub network_mode: Option<String>,
    pub depends_on: BTreeMap<String, Dependency>,
    pub healthcheck: Option<HealthConfig>,
    pub restart: RestartPolicy,
    pub user: Option<String>,
    pub working_dir: Option<String>,
    pub hostname: Option<String>,
    pub container_name: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub privileged: bool,
    pub read_only: bool,
    pub init: bool,
    pub tty: bool,
    pub stdin_open: bool,
    pub ulimits: Vec<Ulimit>,
    pub resources: Resources,
    pub shm_size: Option<u64>,
    pub stop_signal: Option<String>,
    /// Seconds.
    pub stop_grace_period: Option<u32>,
    pub profiles: Vec<String>,
    /// Replicas (`scale`, `deploy.replicas`), 1 by default.
    pub scale: u32,
    pub dns: Vec<String>,
    pub extra_hosts: Vec<String>,
    pub security_opt: Vec<String>,
    pub log_driver: Option<String>,
    pub log_max_size: Option<u64>,
    pub log_max_files: Option<u32>,
}

/// A top-level network.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkDef {
    /// The engine's name: `<project>_<key>`, or `name:`, or the external name.
    pub name: String,
    pub external: bool,
    pub internal: bool,
    pub subnet: Option<String>,
    pub gateway: Option<String>,
    pub ip_range: Option<String>,
    pub labels: BTreeMap<String, String>,
}

/// A top-level volume.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeDef {
    /// The engine's name: `<project>_<key>`, or `name:`, or the external name.
    pub name: String,
    pub external: bool,
    pub labels: BTreeMap<String, String>,
}

// ---- reading values ----

/// A scalar's text (numbers and booleans as written).
pub(crate) fn text(n: &Node, path: &str) -> Result<String> {
    match &n.value {
        Value::Scalar { text, .. } => Ok(text.clone()),
        _ => Err(n.error(path, format!("expected a string, found {}", n.kind()))),
    }
}

fn opt_text(n: &Node, path: &str) -> Result<Option<String>> {
    if n.is_null() {
        Ok(None)
    } else {
        text(n, path).map(Some)
    }
}

fn boolean(n: &Node, path: &str) -> Result<bool> {
    match n.as_str() {
        Some("true" | "True" | "TRUE" | "yes" | "y" | "on") => Ok(true),
        Some("false" | "False" | "FALSE" | "no" | "n" | "off") => Ok(false),
        _ => Err(n.error(path, "expected true or false")),
    }
}

fn uint(n: &Node, path: &str) -> Result<u32> {
    n.as_str()
        .and_then(|s| s.parse::<u32>().ok())
        .ok_or_else(|| n.error(path, "expected a whole number"))
}

fn list(n: &Node, path: &str) -> Result<Vec<Node>> {
    match &n.value {
        Value::Seq(items) => Ok(items.clone()),
        Value::Null => Ok(vec![]),
        _ => Err(n.error(path, format!("expected a list, found {}", n.kind()))),
    }
}

fn map<'a>(n: &'a Node, path: &str) -> Result<&'a [(Node, Node)]> {
    match &n.value {
        Value::Map(m) => Ok(m),
        Value::Null => Ok(&[]),
        _ => Err(n.error(path, format!("expected a mapping, found {}", n.kind()))),
    }
}

/// A list of strings, or one string (for keys that take either).
fn strings(n: &Node, path: &str, one_ok: bool) -> Result<Vec<String>> {
    match &n.value {
        Value::Scalar { text, .. } if one_ok => Ok(vec![text.clone()]),
        _ => list(n, path)?
            .iter()
            .enumerate()
            .map(|(i, x)| text(x, &format!("{path}[{i}]")))
            .collect(),
    }
}

/// A flag-grammar error at a node.
fn at<T>(n: &Node, path: &str, r: std::result::Result<T, EngineError>) -> Result<T> {
    r.map_err(|e| n.error(path, e.message))
}

/// `command`/`entrypoint`: a list, or a string split as a shell would (no expansion).
fn command(n: &Node, path: &str) -> Result<Option<Vec<String>>> {
    match &n.value {
        Value::Null => Ok(None),
        Value::Scalar { text, .. } => shell_words(text).map(Some).map_err(|m| n.error(path, m)),
        _ => strings(n, path, false).map(Some),
    }
}

/// Split a command line as compose does (POSIX shell quoting, no expansion).
pub fn shell_words(s: &str) -> std::result::Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut any = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                any = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(x) => cur.push(x),
                        None => return Err(format!("unclosed quote in {s:?}")),
                    }
                }
            }
            '"' => {
                any = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(x @ ('"' | '\\' | '$' | '`')) => cur.push(x),
                            Some(x) => {
                                cur.push('\\');
                                cur.push(x);
                            }
                            None => return Err(format!("unclosed quote in {s:?}")),
                        },
                        Some(x) => cur.push(x),
                        None => return Err(format!("unclosed quote in {s:?}")),
                    }
                }
            }
            '\\' => {
                any = true;
                if let Some(x) = chars.next() {
                    if x != '\n' {
                        cur.push(x);
                    }
                }
            }
            c if c.is_whitespace() => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                any = true;
                cur.push(c);
            }
        }
    }
    if any {
        out.push(cur);
    }
    Ok(out)
}

/// Refuse a key wharf does not read: known compose keys it does not support say why,
/// others are unknown.
fn refuse(key: &Node, path: &str, known_unsupported: &[(&str, &str)]) -> EngineError {
    let k = key.as_str().unwrap_or("");
    match known_unsupported.iter().find(|(n, _)| *n == k) {
        Some((_, why)) => key.error(path, format!("{k} is not supported by wharf: {why}")),
        None => key.error(
            path,
            format!("unknown key {k:?}: not a compose key wharf knows (check the spelling; extension keys start with x-)"),
        ),
    }
}

const SERVICE_UNSUPPORTED: &[(&str, &str)] = &[
    (
        "secrets",
        "pass the file with a read-only bind mount (volumes) instead",
    ),
    (
        "configs",
        "pass the file with a read-only bind mount (volumes) instead",
    ),
    ("devices", "wharf gives containers no host devices"),
    (
        "device_cgroup_rules",
        "wharf gives containers no host devices",
    ),
    (
        "pid",
        "containers always get their own pid namespace in wharf",
    ),
    (
        "ipc",
        "containers always get their own ipc namespace in wharf",
    ),
    (
        "uts",
        "containers always get their own uts namespace in wharf",
    ),
    ("userns_mode", "not selectable per container in wharf"),
    ("cgroup", "not selectable per container in wharf"),
    ("cgroup_parent", "wharf places containers in its own cgroup"),
    (
        "links",
        "services reach each other by name on their networks: drop links",
    ),
    ("external_links", "use a shared external network instead"),
    (
        "volumes_from",
        "declare a named volume and mount it in both services",
    ),
    ("sysctls", "wharf sets no sysctls in containers"),
    ("isolation", "Windows only"),
    (
        "platform",
        "wharf runs images of this machine's platform only",
    ),
    ("domainname", "not supported by wharf's runtime"),
    ("mac_address", "wharf chooses MAC addresses"),
    ("oom_kill_disable", "not supported by wharf"),
    ("oom_score_adj", "not supported by wharf"),
    ("group_add", "not supported by wharf's runtime"),
    ("storage_opt", "wharf's overlay storage takes no options"),
    ("runtime", "wharf is its own runtime"),
    ("credential_spec", "Windows only"),
    ("annotations", "not supported by wharf"),
    ("attach", "not supported by wharf"),
    ("develop", "compose watch is not supported by wharf"),
    ("post_start", "lifecycle hooks are not supported by wharf"),
    ("pre_stop", "lifecycle hooks are not supported by wharf"),
    ("cpu_count", "Windows only; use cpus"),
    ("cpu_percent", "Windows only; use cpus"),
    ("cpu_period", "use cpus"),
    ("cpu_quota", "use cpus"),
    (
        "cpu_rt_period",
        "real-time scheduling is not supported by wharf",
    ),
    (
        "cpu_rt_runtime",
        "real-time scheduling is not supported by wharf",
    ),
    (
        "mem_reservation",
        "memory reservations are not supported by wharf; use mem_limit",
    ),
    ("mem_swappiness", "not supported by wharf"),
    ("blkio_config", "not supported by compose in wharf yet"),
    (
        "use_api_socket",
        "wharf does not mount its socket into containers",
    ),
    ("models", "not supported by wharf"),
    ("provider", "not supported by wharf"),
    ("gpus", "wharf gives containers no GPUs"),
    ("label_file", "write the labels under labels"),
    ("dns_search", "not supported by wharf"),
    ("dns_opt", "not supported by wharf"),
];

// ---- services ----

/// Read one service's mapping (after merging and `extends`).
pub(crate) fn service(
    name: &str,
    n: &Node,
    dir: &Path,
    vars: &super::interp::Vars,
) -> Result<Service> {
    let base = format!("services.{name}");
    let mut s = Service {
        name: name.to_string(),
        scale: 1,
        ..Default::default()
    };
    let mut env_files: Vec<String> = Vec::new();
    let mut env: Vec<(String, Option<String>)> = Vec::new();
    let mut mem_limit = None;
    let mut replicas: Option<u32> = None;
    let mut has_scale = None;
    for (k, v) in map(n, &base)? {
        let key = k.as_str().unwrap_or("");
        let p = format!("{base}.{key}");
        match key {
            _ if key.starts_with("x-") => {}
            "image" => s.image = opt_text(v, &p)?,
            "build" => s.build = Some(build(v, &p)?),
            "pull_policy" => {
                s.pull_policy = match text(v, &p)?.as_str() {
                    "missing" | "if_not_present" => PullPolicy::Missing,
                    "always" => PullPolicy::Always,
                    "never" => PullPolicy::Never,
                    "build" => PullPolicy::Build,
                    o => {
                        return Err(
                            v.error(&p, format!("{o:?} is not always, missing, never or build"))
                        )
                    }
                }
            }
            "command" => s.command = command(v, &p)?,
            "entrypoint" => s.entrypoint = command(v, &p)?,
            "environment" => env = environment(v, &p)?,
            "env_file" => {
                for (i, f) in list_or_one(v, &p)?.iter().enumerate() {
                    let pi = format!("{p}[{i}]");
                    let (path, required) = match &f.value {
                        Value::Map(_) => {
                            let mut path = None;
                            let mut required = true;
                            for (fk, fv) in map(f, &pi)? {
                                match fk.as_str().unwrap_or("") {
                                    "path" => path = Some(text(fv, &format!("{pi}.path"))?),
                                    "required" => required = boolean(fv, &format!("{pi}.required"))?,
                                    "format" => {
                                        return Err(fk.error(&pi, "format is not supported by wharf: env files are KEY=VALUE lines"))
                                    }
                                    _ => return Err(refuse(fk, &pi, &[])),
                                }
                            }
                            (
                                path.ok_or_else(|| f.error(&pi, "an env_file entry needs a path"))?,
                                required,
                            )
                        }
                        _ => (text(f, &pi)?, true),
                    };
                    let full = dir.join(&path);
                    match std::fs::read_to_string(&full) {
                        Ok(t) => {
                            for (ln, line) in t.lines().enumerate() {
                                match flags::env_file_line(line) {
                                    Ok(None) => {}
                                    Ok(Some(flags::EnvArg::Set(kv))) => env_files.push(kv),
                                    Ok(Some(flags::EnvArg::FromCaller(k))) => {
                                        if let Some(val) = vars.get(&k) {
                                            env_files.push(format!("{k}={val}"));
                                        }
                                    }
                                    Err(e) => {
                                        return Err(EngineError::invalid(format!(
                                            "{}:{}: {e} (env_file of service {name})",
                                            full.display(),
                                            ln + 1
                                        )))
                                    }
                                }
                            }
                        }
                        Err(_) if !required => {}
                        Err(e) => {
                            return Err(f.error(
                                &pi,
                                format!("cannot read env file {}: {e}", full.display()),
                            ))
                        }
                    }
                }
            }
            "ports" => {
                for (i, item) in list(v, &p)?.iter().enumerate() {
                    let pi = format!("{p}[{i}]");
                    s.ports.extend(port(item, &pi)?);
                }
            }
            "expose" => {
                for (i, item) in list(v, &p)?.iter().enumerate() {
                    let pi = format!("{p}[{i}]");
                    s.expose
                        .extend(at(item, &pi, flags::expose(&text(item, &pi)?))?);
                }
            }
            "volumes" => {
                for (i, item) in list(v, &p)?.iter().enumerate() {
                    let pi = format!("{p}[{i}]");
                    let m = volume(item, &pi, dir)?;
                    // A later file's mount at the same target replaces an earlier one.
                    s.volumes.retain(|x| x.mount.target != m.mount.target);
                    s.volumes.push(m);
                }
            }
            "tmpfs" => {
                for (i, t) in strings(v, &p, true)?.iter().enumerate() {
                    s.tmpfs.push(at(v, &format!("{p}[{i}]"), flags::tmpfs(t))?);
                }
            }
            "networks" => s.networks = service_networks(v, &p)?,
            "network_mode" => {
                let m = text(v, &p)?;
                match m.as_str() {
                    "none" | "host" | "bridge" => s.network_mode = Some(m),
                    o => {
                        return Err(v.error(
                            &p,
                            format!("network_mode {o:?} is not supported by wharf: use none, host or bridge, or networks"),
                        ))
                    }
                }
            }
            "depends_on" => s.depends_on = depends_on(v, &p)?,
            "healthcheck" => s.healthcheck = Some(healthcheck(v, &p)?),
            "restart" => {
                let r = text(v, &p)?;
                s.restart = at(v, &p, flags::restart(if r.is_empty() { "no" } else { &r }))?;
            }
            "user" => {
                let u = text(v, &p)?;
                at(v, &p, flags::check_user(&u))?;
                s.user = Some(u);
            }
            "working_dir" => s.working_dir = Some(at(v, &p, flags::workdir(&text(v, &p)?))?),
            "hostname" => s.hostname = Some(at(v, &p, flags::hostname(&text(v, &p)?))?),
            "container_name" => s.container_name = Some(text(v, &p)?),
            "labels" => {
                for (lk, lv) in string_map(v, &p)? {
                    let lv = lv.unwrap_or_default();
                    at(v, &p, flags::check_label(&lk, &lv))?;
                    s.labels.insert(lk, lv);
                }
            }
            "cap_add" => s.cap_add = strings(v, &p, false)?,
            "cap_drop" => s.cap_drop = strings(v, &p, false)?,
            "privileged" => s.privileged = boolean(v, &p)?,
            "read_only" => s.read_only = boolean(v, &p)?,
            "init" => s.init = boolean(v, &p)?,
            "tty" => s.tty = boolean(v, &p)?,
            "stdin_open" => s.stdin_open = boolean(v, &p)?,
            "ulimits" => s.ulimits = ulimits(v, &p)?,
            "mem_limit" => mem_limit = Some(at(v, &p, flags::memory(&text(v, &p)?))?),
            "memswap_limit" => {
                s.resources.memory_swap = Some(at(v, &p, flags::memory_swap(&text(v, &p)?))?)
            }
            "cpus" => s.resources.nano_cpus = Some(at(v, &p, flags::cpus(&text(v, &p)?))?),
            "cpu_shares" => {
                s.resources.cpu_shares = Some(at(v, &p, flags::cpu_shares(&text(v, &p)?))?)
            }
            "cpuset" => {
                s.resources.cpuset_cpus = Some(at(v, &p, flags::cpuset_cpus(&text(v, &p)?))?)
            }
            "pids_limit" => {
                s.resources.pids_limit = Some(at(v, &p, flags::pids_limit(&text(v, &p)?))?)
            }
            "shm_size" => s.shm_size = Some(at(v, &p, flags::shm_size(&text(v, &p)?))?),
            "stop_signal" => s.stop_signal = Some(at(v, &p, flags::stop_signal(&text(v, &p)?))?),
            "stop_grace_period" => {
                let ns = at(v, &p, flags::duration(&p, &text(v, &p)?))?;
                s.stop_grace_period = Some(u32::try_from(ns / 1_000_000_000).unwrap_or(u32::MAX));
            }
            "profiles" => s.profiles = strings(v, &p, false)?,
            "scale" => has_scale = Some(uint(v, &p)?),
            "deploy" => replicas = deploy(v, &p, &mut s.resources)?,
            "dns" => {
                for d in strings(v, &p, true)? {
                    s.dns.push(at(v, &p, flags::dns(&d))?);
                }
            }
            "extra_hosts" => {
                for (h, ip) in string_map(v, &p)? {
                    let entry = match ip {
                        Some(ip) => format!("{h}:{ip}"),
                        None => h,
                    };
                    s.extra_hosts
                        .push(at(v, &p, flags::add_host(&entry.replacen('=', ":", 1)))?);
                }
            }
            "security_opt" => {
                for o in strings(v, &p, false)? {
                    let parsed: crate::api::flags::SecurityOpt = at(v, &p, o.parse())?;
                    at(v, &p, parsed.check_supported())?;
                    s.security_opt.push(o);
                }
            }
            "logging" => logging(v, &p, &mut s)?,
            "extends" => {} // applied before reading
            _ => return Err(refuse(k, &p, SERVICE_UNSUPPORTED)),
        }
    }
    if let Some(m) = mem_limit {
        s.resources.memory.get_or_insert(m);
    }
    match (has_scale, replicas) {
        (Some(a), Some(b)) if a != b => {
            return Err(n.error(
                &base,
                format!("scale ({a}) and deploy.replicas ({b}) disagree: keep one"),
            ))
        }
        (Some(a), _) | (None, Some(a)) => s.scale = a,
        (None, None) => {}
    }
    if s.image.is_none() && s.build.is_none() {
        return Err(n.error(
            &base,
            "the service has neither an image nor a build section: give it an image",
        ));
    }
    if s.container_name.is_some() && s.scale > 1 {
        return Err(n.error(
            &base,
            "a service with container_name cannot have more than one replica",
        ));
    }
    // Environment: env files first, then `environment` (a bare KEY takes the caller's
    // value, or is left out when it has none).
    let mut all: Vec<String> = env_files;
    for (k, val) in env {
        let kv = match val {
            Some(v) => format!("{k}={v}"),
            None => match vars.get(&k) {
                Some(v) => format!("{k}={v}"),
                None => continue,
            },
        };
        all.retain(|e| e.split('=').next() != Some(k.as_str()));
        all.push(kv);
    }
    for e in &all {
        at(n, &format!("{base}.environment"), flags::check_env(e))?;
    }
    s.environment = all;
    Ok(s)
}

fn list_or_one(n: &Node, path: &str) -> Result<Vec<Node>> {
    match &n.value {
        Value::Scalar { .. } => Ok(vec![n.clone()]),
        _ => list(n, path),
    }
}

/// `environment`/`labels`/`extra_hosts`: a mapping, or a list of `KEY=VALUE` (`KEY`
/// alone: no value).
pub(crate) fn string_map(n: &Node, path: &str) -> Result<Vec<(String, Option<String>)>> {
    match &n.value {
        Value::Map(m) => m
            .iter()
            .map(|(k, v)| {
                let key = text(k, path)?;
                Ok((key.clone(), opt_text(v, &format!("{path}.{key}"))?))
            })
            .collect(),
        _ => strings(n, path, false)?
            .into_iter()
            .map(|e| {
                Ok(match e.split_once('=') {
                    Some((k, v)) => (k.to_string(), Some(v.to_string())),
                    None => (e, None),
                })
            })
            .collect(),
    }
}

fn environment(n: &Node, path: &str) -> Result<Vec<(String, Option<String>)>> {
    let vals = string_map(n, path)?;
    for (k, _) in &vals {
        if k.is_empty() {
            return Err(n.error(path, "a variable has no name: write KEY=VALUE"));
        }
    }
    Ok(vals)
}

fn build(n: &Node, p: &str) -> Result<BuildDef> {
    let mut b = BuildDef::default();
    match &n.value {
        Value::Scalar { text, .. } => b.context = text.clone(),
        _ => {
            for (k, v) in map(n, p)? {
                let key = k.as_str().unwrap_or("");
                let kp = format!("{p}.{key}");
                match key {
                    "context" => b.context = text(v, &kp)?,
                    "dockerfile" => b.dockerfile = Some(text(v, &kp)?),
                    "target" => b.target = Some(text(v, &kp)?),
                    "args" => {
                        for (ak, av) in string_map(v, &kp)? {
                            b.args.insert(ak, av.unwrap_or_default());
                        }
                    }
                    _ if key.starts_with("x-") => {}
                    _ => {
                        return Err(refuse(
                            k,
                            &kp,
                            &[
                                ("cache_from", "wharf's builder keeps no build cache"),
                                ("cache_to", "wharf's builder keeps no build cache"),
                                ("secrets", "not supported by wharf's builder"),
                                ("ssh", "not supported by wharf's builder"),
                                ("platforms", "wharf builds for this machine only"),
                                ("network", "not supported by wharf's builder"),
                                ("labels", "not supported by wharf's builder"),
                                ("shm_size", "not supported by wharf's builder"),
                                ("extra_hosts", "not supported by wharf's builder"),
                                ("dockerfile_inline", "not supported by wharf's builder"),
                                ("tags", "not supported by wharf's builder"),
                                ("additional_contexts", "not supported by wharf's builder"),
                                ("isolation", "Windows only"),
                                ("privileged", "not supported by wharf's builder"),
                                ("no_cache", "wharf's builder keeps no build cache"),
                                ("pull", "not supported by wharf's builder"),
                            ],
                        ))
                    }
                }
            }
        }
    }
    if b.context.is_empty() {
        b.context = ".".into();
    }
    Ok(b)
}

fn port(n: &Node, p: &str) -> Result<Vec<PortBinding>> {
    match &n.value {
        Value::Map(_) => {
            let (mut target, mut published, mut ip, mut proto) = (None, None, String::new(), None);
            for (k, v) in map(n, p)? {
                let key = k.as_str().unwrap_or("");
                let kp = format!("{p}.{key}");
                match key {
                    "target" => target = Some(text(v, &kp)?),
                    "published" => published = opt_text(v, &kp)?,
                    "host_ip" => ip = text(v, &kp)?,
                    "protocol" => proto = Some(text(v, &kp)?),
                    "mode" => {
                        let m = text(v, &kp)?;
                        if m != "host" && m != "ingress" {
                            return Err(v.error(&kp, "mode is host or ingress"));
                        }
                    }
                    "name" | "app_protocol" => {
                        text(v, &kp)?;
                    }
                    _ if key.starts_with("x-") => {}
                    _ => return Err(refuse(k, &kp, &[])),
                }
            }
            let target = target.ok_or_else(|| n.error(p, "a port needs a target"))?;
            let mut short = String::new();
            if !ip.is_empty() {
                if ip.contains(':') {
                    short.push_str(&format!("[{ip}]:"));
                } else {
                    short.push_str(&format!("{ip}:"));
                }
                short.push_str(published.as_deref().unwrap_or(""));
                short.push(':');
            } else if let Some(pb) = &published {
                short.push_str(&format!("{pb}:"));
            }
            short.push_str(&target);
            if let Some(pr) = proto {
                short.push_str(&format!("/{pr}"));
            }
            at(n, p, flags::publish(&short))
        }
        _ => at(n, p, flags::publish(&text(n, p)?)),
    }
}

/// A host path of a bind: relative ones against the project directory, `~` as $HOME.
fn host_path(src: &str, dir: &Path) -> String {
    if let Some(rest) = src.strip_prefix("~/") {
        if let Ok(home) = std::env::var("HOME") {
            return normalize(&Path::new(&home).join(rest));
        }
    }
    if src.starts_with('/') {
        normalize(Path::new(src))
    } else {
        normalize(&dir.join(src))
    }
}

fn normalize(p: &Path) -> String {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            o => out.push(o.as_os_str()),
        }
    }
    out.to_string_lossy().into_owned()
}

fn is_path(src: &str) -> bool {
    src.starts_with('.') || src.starts_with('/') || src.starts_with('~')
}

fn volume(n: &Node, p: &str, dir: &Path) -> Result<ServiceMount> {
    match &n.value {
        Value::Map(_) => {
            let mut kind = None;
            let (mut source, mut target, mut ro) = (String::new(), None, false);
            let mut options: Vec<String> = Vec::new();
            let mut create = true;
            for (k, v) in map(n, p)? {
                let key = k.as_str().unwrap_or("");
                let kp = format!("{p}.{key}");
                match key {
                    "type" => kind = Some(text(v, &kp)?),
                    "source" => source = text(v, &kp)?,
                    "target" => target = Some(text(v, &kp)?),
                    "read_only" => ro = boolean(v, &kp)?,
                    "consistency" => {
                        text(v, &kp)?;
                    }
                    "bind" => {
                        for (bk, bv) in map(v, &kp)? {
                            let bkey = bk.as_str().unwrap_or("");
                            let bp = format!("{kp}.{bkey}");
                            match bkey {
                                "propagation" => options.push(text(bv, &bp)?),
                                "create_host_path" => create = boolean(bv, &bp)?,
                                "selinux" => options.push(text(bv, &bp)?),
                                _ => {
                                    return Err(refuse(
                                        bk,
                                        &bp,
                                        &[("recursive", "not supported by wharf")],
                                    ))
                                }
                            }
                        }
                    }
                    "volume" => {
                        for (vk, vv) in map(v, &kp)? {
                            let vkey = vk.as_str().unwrap_or("");
                            let vp = format!("{kp}.{vkey}");
                            match vkey {
                                "nocopy" => {
                                    if boolean(vv, &vp)? {
                                        options.push("nocopy".into())
                                    }
                                }
                                _ => {
                                    return Err(refuse(
                                        vk,
                                        &vp,
                                        &[("subpath", "not supported by wharf")],
                                    ))
                                }
                            }
                        }
                    }
                    "tmpfs" => {
                        for (tk, tv) in map(v, &kp)? {
                            let tkey = tk.as_str().unwrap_or("");
                            let tp = format!("{kp}.{tkey}");
                            match tkey {
                                "size" => {
                                    let t = text(tv, &tp)?;
                                    let b = at(tv, &tp, flags::flag::<flags::ByteSize>(&tp, &t))?;
                                    options.push(format!("size={}", b.0));
                                }
                                "mode" => {
                                    let t = text(tv, &tp)?;
                                    // YAML reads 1777 as a number; compose means octal.
                                    options.push(format!("mode={t}"));
                                }
                                _ => return Err(refuse(tk, &tp, &[])),
                            }
                        }
                    }
                    _ if key.starts_with("x-") => {}
                    _ => {
                        return Err(refuse(
                            k,
                            &kp,
                            &[
                                ("image", "image mounts are not supported by wharf"),
                                ("npipe", "Windows only"),
                            ],
                        ))
                    }
                }
            }
            let kind = kind.ok_or_else(|| {
                n.error(
                    p,
                    "a volume in the long syntax needs a type (volume, bind or tmpfs)",
                )
            })?;
            let target = target.ok_or_else(|| n.error(p, "a volume needs a target"))?;
            let source = match kind.as_str() {
                "bind" => host_path(&source, dir),
                "volume" | "tmpfs" => source,
                o => {
                    return Err(n.error(
                        &format!("{p}.type"),
                        format!("{o:?} is not supported by wharf: use volume, bind or tmpfs"),
                    ))
                }
            };
            let mount = MountSpec {
                kind: kind.clone(),
                source,
                target,
                read_only: ro,
                options,
            };
            at(n, p, flags::check_mount(&mount))?;
            Ok(ServiceMount {
                create_host_path: kind == "bind" && create,
                mount,
            })
        }
        _ => {
            let t = text(n, p)?;
            // SRC:DST[:MODE] with SRC a path or a volume key, or DST alone.
            let parts: Vec<&str> = t.splitn(3, ':').collect();
            let (src, rest) = if parts.len() >= 2 {
                (parts[0], t[parts[0].len() + 1..].to_string())
            } else {
                ("", t.clone())
            };
            let (text_for_grammar, bind) = if src.is_empty() {
                (rest.clone(), false)
            } else if is_path(src) {
                (format!("{}:{rest}", host_path(src, dir)), true)
            } else {
                (format!("{src}:{rest}"), false)
            };
            let mount = at(n, p, flags::volume(&text_for_grammar))?;
            Ok(ServiceMount {
                mount,
                create_host_path: bind,
            })
        }
    }
}

fn service_networks(n: &Node, p: &str) -> Result<BTreeMap<String, ServiceNetwork>> {
    let mut out = BTreeMap::new();
    match &n.value {
        Value::Map(m) => {
            for (k, v) in m {
                let name = text(k, p)?;
                let np = format!("{p}.{name}");
                let mut sn = ServiceNetwork::default();
                for (ak, av) in map(v, &np)? {
                    let akey = ak.as_str().unwrap_or("");
                    let ap = format!("{np}.{akey}");
                    match akey {
                        "aliases" => sn.aliases = strings(av, &ap, false)?,
                        "ipv4_address" => sn.ipv4_address = Some(text(av, &ap)?),
                        "priority" | "gw_priority" => {
                            text(av, &ap)?;
                        }
                        _ => {
                            return Err(refuse(
                                ak,
                                &ap,
                                &[
                                    ("ipv6_address", "wharf's networks are IPv4 only"),
                                    ("link_local_ips", "not supported by wharf"),
                                    ("mac_address", "wharf chooses MAC addresses"),
                                    ("driver_opts", "not supported by wharf"),
                                    ("interface_name", "not supported by wharf"),
                                ],
                            ))
                        }
                    }
                }
                for a in &sn.aliases {
                    if !flags::valid_hostname(a) {
                        return Err(v.error(&np, format!("alias {a:?} is not a valid host name")));
                    }
                }
                out.insert(name, sn);
            }
        }
        _ => {
            for name in strings(n, p, false)? {
                out.insert(name, ServiceNetwork::default());
            }
        }
    }
    Ok(out)
}

fn depends_on(n: &Node, p: &str) -> Result<BTreeMap<String, Dependency>> {
    let mut out = BTreeMap::new();
    match &n.value {
        Value::Map(m) => {
            for (k, v) in m {
                let name = text(k, p)?;
                let dp = format!("{p}.{name}");
                let mut d = Dependency {
                    condition: Condition::ServiceStarted,
                    restart: false,
                    required: true,
                };
                for (ck, cv) in map(v, &dp)? {
                    let ckey = ck.as_str().unwrap_or("");
                    let cp = format!("{dp}.{ckey}");
                    match ckey {
                        "condition" => {
                            d.condition = match text(cv, &cp)?.as_str() {
                                "service_started" => Condition::ServiceStarted,
                                "service_healthy" => Condition::ServiceHealthy,
                                "service_completed_successfully" => {
                                    Condition::ServiceCompletedSuccessfully
                                }
                                o => {
                                    return Err(cv.error(
                                        &cp,
                                        format!("{o:?} is not service_started, service_healthy or service_completed_successfully"),
                                    ))
                                }
                            }
                        }
                        "restart" => d.restart = boolean(cv, &cp)?,
                        "required" => d.required = boolean(cv, &cp)?,
                        _ => return Err(refuse(ck, &cp, &[])),
                    }
                }
                out.insert(name, d);
            }
        }
        _ => {
            for name in strings(n, p, false)? {
                out.insert(
                    name,
                    Dependency {
                        condition: Condition::ServiceStarted,
                        restart: false,
                        required: true,
                    },
                );
            }
        }
    }
    Ok(out)
}

fn healthcheck(n: &Node, p: &str) -> Result<HealthConfig> {
    let mut h = HealthConfig::default();
    let mut disable = false;
    for (k, v) in map(n, p)? {
        let key = k.as_str().unwrap_or("");
        let kp = format!("{p}.{key}");
        let dur = |v: &Node| -> Result<i64> { at(v, &kp, flags::duration(&kp, &text(v, &kp)?)) };
        match key {
            "test" => {
                h.test = Some(match &v.value {
                    Value::Scalar { text, .. } => vec!["CMD-SHELL".to_string(), text.clone()],
                    _ => {
                        let t = strings(v, &kp, false)?;
                        match t.first().map(String::as_str) {
                            Some("CMD" | "CMD-SHELL" | "NONE") => t,
                            _ => {
                                return Err(
                                    v.error(&kp, "a test list starts with CMD, CMD-SHELL or NONE")
                                )
                            }
                        }
                    }
                })
            }
            "interval" => h.interval_ns = Some(dur(v)?),
            "timeout" => h.timeout_ns = Some(dur(v)?),
            "start_period" => h.start_period_ns = Some(dur(v)?),
            "retries" => h.retries = Some(uint(v, &kp)?),
            "disable" => disable = boolean(v, &kp)?,
            _ => {
                return Err(refuse(
                    k,
                    &kp,
                    &[("start_interval", "not supported by wharf's health checks")],
                ))
            }
        }
    }
    if disable {
        h = HealthConfig {
            test: Some(vec!["NONE".into()]),
            ..Default::default()
        };
    }
    at(n, p, flags::check_health(&h))?;
    Ok(h)
}

fn ulimits(n: &Node, p: &str) -> Result<Vec<Ulimit>> {
    let mut out = Vec::new();
    for (k, v) in map(n, p)? {
        let name = text(k, p)?;
        let up = format!("{p}.{name}");
        let u = match &v.value {
            Value::Map(_) => {
                let (mut soft, mut hard) = (None, None);
                for (lk, lv) in map(v, &up)? {
                    match lk.as_str().unwrap_or("") {
                        "soft" => soft = Some(text(lv, &up)?),
                        "hard" => hard = Some(text(lv, &up)?),
                        _ => return Err(refuse(lk, &up, &[])),
                    }
                }
                let (Some(s), Some(h)) = (soft, hard) else {
                    return Err(v.error(&up, "a ulimit mapping needs soft and hard"));
                };
                format!("{name}={s}:{h}")
            }
            _ => format!("{name}={}", text(v, &up)?),
        };
        out.push(at(v, &up, flags::ulimit(&u))?);
    }
    Ok(out)
}

fn deploy(n: &Node, p: &str, r: &mut Resources) -> Result<Option<u32>> {
    let mut replicas = None;
    for (k, v) in map(n, p)? {
        let key = k.as_str().unwrap_or("");
        let kp = format!("{p}.{key}");
        match key {
            "replicas" => replicas = Some(uint(v, &kp)?),
            "resources" => {
                for (rk, rv) in map(v, &kp)? {
                    let rkey = rk.as_str().unwrap_or("");
                    let rp = format!("{kp}.{rkey}");
                    match rkey {
                        "limits" => {
                            for (lk, lv) in map(rv, &rp)? {
                                let lkey = lk.as_str().unwrap_or("");
                                let lp = format!("{rp}.{lkey}");
                                match lkey {
                                    "cpus" => {
                                        r.nano_cpus =
                                            Some(at(lv, &lp, flags::cpus(&text(lv, &lp)?))?)
                                    }
                                    "memory" => {
                                        r.memory =
                                            Some(at(lv, &lp, flags::memory(&text(lv, &lp)?))?)
                                    }
                                    "pids" => {
                                        r.pids_limit =
                                            Some(at(lv, &lp, flags::pids_limit(&text(lv, &lp)?))?)
                                    }
                                    _ => return Err(refuse(lk, &lp, &[])),
                                }
                            }
                        }
                        _ => {
                            return Err(refuse(
                                rk,
                                &rp,
                                &[("reservations", "wharf reserves nothing; set limits only")],
                            ))
                        }
                    }
                }
            }
            _ => {
                return Err(refuse(
                    k,
                    &kp,
                    &[
                        ("mode", "wharf runs replicated services only (replicas)"),
                        ("placement", "wharf runs on one machine"),
                        ("update_config", "swarm only"),
                        ("rollback_config", "swarm only"),
                        ("restart_policy", "use the service's restart key"),
                        ("endpoint_mode", "swarm only"),
                        ("labels", "use the service's labels key"),
                    ],
                ))
            }
        }
    }
    Ok(replicas)
}

fn logging(n: &Node, p: &str, s: &mut Service) -> Result<()> {
    for (k, v) in map(n, p)? {
        let key = k.as_str().unwrap_or("");
        let kp = format!("{p}.{key}");
        match key {
            "driver" => s.log_driver = Some(at(v, &kp, flags::log_driver(&text(v, &kp)?))?),
            "options" => {
                for (ok, ov) in map(v, &kp)? {
                    let okey = text(ok, &kp)?;
                    let o = format!("{okey}={}", text(ov, &kp)?);
                    match at(ov, &format!("{kp}.{okey}"), flags::log_opt(&o))? {
                        flags::LogOpt::MaxSize(b) => s.log_max_size = Some(b),
                        flags::LogOpt::MaxFile(n) => s.log_max_files = Some(n),
                    }
                }
            }
            _ => return Err(refuse(k, &kp, &[])),
        }
    }
    Ok(())
}

// ---- top level ----

/// Top-level `networks`.
pub(crate) fn networks(n: &Node, project: &str) -> Result<BTreeMap<String, NetworkDef>> {
    let mut out = BTreeMap::new();
    for (k, v) in map(n, "networks")? {
        let key = text(k, "networks")?;
        let p = format!("networks.{key}");
        let mut d = NetworkDef::default();
        let mut name = None;
        for (nk, nv) in map(v, &p)? {
            let nkey = nk.as_str().unwrap_or("");
            let np = format!("{p}.{nkey}");
            match nkey {
                "driver" => {
                    let dr = text(nv, &np)?;
                    if dr != "bridge" {
                        return Err(nv.error(
                            &np,
                            format!(
                                "driver {dr:?} is not supported by wharf: only bridge networks"
                            ),
                        ));
                    }
                }
                "internal" => d.internal = boolean(nv, &np)?,
                "external" => match &nv.value {
                    Value::Map(_) => {
                        d.external = true;
                        if let Some(x) = nv.get("name") {
                            name = Some(text(x, &np)?);
                        }
                    }
                    _ => d.external = boolean(nv, &np)?,
                },
                "name" => name = Some(text(nv, &np)?),
                "labels" => {
                    for (lk, lv) in string_map(nv, &np)? {
                        d.labels.insert(lk, lv.unwrap_or_default());
                    }
                }
                "attachable" => {
                    boolean(nv, &np)?;
                }
                "enable_ipv6" => {
                    if boolean(nv, &np)? {
                        return Err(nv.error(&np, "wharf's networks are IPv4 only"));
                    }
                }
                "ipam" => {
                    for (ik, iv) in map(nv, &np)? {
                        let ikey = ik.as_str().unwrap_or("");
                        let ip = format!("{np}.{ikey}");
                        match ikey {
                            "driver" => {
                                let dr = text(iv, &ip)?;
                                if dr != "default" {
                                    return Err(iv.error(&ip, "only the default IPAM driver"));
                                }
                            }
                            "config" => {
                                let pools = list(iv, &ip)?;
                                if pools.len() > 1 {
                                    return Err(iv.error(&ip, "wharf's networks take one subnet"));
                                }
                                for pool in pools {
                                    for (ck, cv) in map(&pool, &ip)? {
                                        let ckey = ck.as_str().unwrap_or("");
                                        let cp = format!("{ip}.{ckey}");
                                        match ckey {
                                            "subnet" => d.subnet = Some(text(cv, &cp)?),
                                            "gateway" => d.gateway = Some(text(cv, &cp)?),
                                            "ip_range" => d.ip_range = Some(text(cv, &cp)?),
                                            _ => {
                                                return Err(refuse(
                                                    ck,
                                                    &cp,
                                                    &[("aux_addresses", "not supported by wharf")],
                                                ))
                                            }
                                        }
                                    }
                                }
                            }
                            _ => {
                                return Err(refuse(
                                    ik,
                                    &ip,
                                    &[("options", "not supported by wharf")],
                                ))
                            }
                        }
                    }
                }
                _ if nkey.starts_with("x-") => {}
                _ => {
                    return Err(refuse(
                        nk,
                        &np,
                        &[("driver_opts", "wharf's bridge takes no driver options")],
                    ))
                }
            }
        }
        d.name = match name {
            Some(n) => n,
            None if d.external => key.clone(),
            None => format!("{project}_{key}"),
        };
        out.insert(key, d);
    }
    Ok(out)
}

/// Top-level `volumes`.
pub(crate) fn volumes(n: &Node, project: &str) -> Result<BTreeMap<String, VolumeDef>> {
    let mut out = BTreeMap::new();
    for (k, v) in map(n, "volumes")? {
        let key = text(k, "volumes")?;
        let p = format!("volumes.{key}");
        let mut d = VolumeDef::default();
        let mut name = None;
        for (vk, vv) in map(v, &p)? {
            let vkey = vk.as_str().unwrap_or("");
            let vp = format!("{p}.{vkey}");
            match vkey {
                "driver" => {
                    let dr = text(vv, &vp)?;
                    if dr != "local" {
                        return Err(vv.error(
                            &vp,
                            format!("driver {dr:?} is not supported by wharf: only local volumes"),
                        ));
                    }
                }
                "external" => match &vv.value {
                    Value::Map(_) => {
                        d.external = true;
                        if let Some(x) = vv.get("name") {
                            name = Some(text(x, &vp)?);
                        }
                    }
                    _ => d.external = boolean(vv, &vp)?,
                },
                "name" => name = Some(text(vv, &vp)?),
                "labels" => {
                    for (lk, lv) in string_map(vv, &vp)? {
                        d.labels.insert(lk, lv.unwrap_or_default());
                    }
                }
                _ if vkey.starts_with("x-") => {}
                _ => {
                    return Err(refuse(
                        vk,
                        &vp,
                        &[("driver_opts", "wharf's local volumes take no options")],
                    ))
                }
            }
        }
        d.name = match name {
            Some(n) => n,
            None if d.external => key.clone(),
            None => format!("{project}_{key}"),
        };
        if !flags::valid_volume_name(&d.name) {
            return Err(v.error(&p, format!("{:?} is not a valid volume name", d.name)));
        }
        out.insert(key, d);
    }
    Ok(out)
}

/// Set `k` unless `v` is empty, null or false (the resolved file leaves defaults out).
fn put(o: &mut serde_json::Map<String, serde_json::Value>, k: &str, v: serde_json::Value) {
    use serde_json::Value as J;
    let empty = match &v {
        J::Null | J::Bool(false) => true,
        J::Array(a) => a.is_empty(),
        J::Object(m) => m.is_empty(),
        J::String(s) => s.is_empty(),
        _ => false,
    };
    if !empty {
        o.insert(k.to_string(), v);
    }
}

fn duration_text(ns: i64) -> String {
    if ns % 1_000_000_000 == 0 {
        format!("{}s", ns / 1_000_000_000)
    } else {
        format!("{}ms", ns / 1_000_000)
    }
}

impl Project {
    /// The resolved project as a compose file (what `compose config` prints): every
    /// value in compose's own long forms, variables in place, defaults left out. It reads
    /// back as the same project.
    pub fn to_compose(&self) -> serde_json::Value {
        use serde_json::{json, Map, Value as J};
        let mut services = Map::new();
        for (name, s) in self.services.iter() {
            let mut o = Map::new();
            put(&mut o, "image", json!(s.image));
            if let Some(b) = &s.build {
                put(
                    &mut o,
                    "build",
                    json!({"context": b.context, "dockerfile": b.dockerfile, "args": b.args, "target": b.target}),
                );
            }
            if s.pull_policy != PullPolicy::Missing {
                put(
                    &mut o,
                    "pull_policy",
                    serde_json::to_value(s.pull_policy).unwrap_or(J::Null),
                );
            }
            put(&mut o, "command", json!(s.command));
            put(&mut o, "entrypoint", json!(s.entrypoint));
            let env: Map<String, J> = s
                .environment
                .iter()
                .map(|e| {
                    let (k, v) = e.split_once('=').unwrap_or((e, ""));
                    (k.to_string(), J::String(v.to_string()))
                })
                .collect();
            put(&mut o, "environment", J::Object(env));
            put(
                &mut o,
                "ports",
                J::Array(
                    s.ports
                        .iter()
                        .map(|p| {
                            let mut m = json!({"target": p.container_port, "protocol": p.proto});
                            if p.host_port != 0 {
                                m["published"] = json!(p.host_port.to_string());
                            }
                            if !p.host_ip.is_empty() {
                                m["host_ip"] = json!(p.host_ip);
                            }
                            m
                        })
                        .collect(),
                ),
            );
            put(
                &mut o,
                "expose",
                J::Array(
                    s.expose
                        .iter()
                        .map(|p| json!(format!("{}/{}", p.container_port, p.proto)))
                        .collect(),
                ),
            );
            let mut vols: Vec<J> = Vec::new();
            for m in s.volumes.iter().map(|m| &m.mount).chain(&s.tmpfs) {
                let mut v = json!({"type": m.kind, "target": m.target});
                if !m.source.is_empty() {
                    v["source"] = json!(m.source);
                }
                if m.read_only {
                    v["read_only"] = json!(true);
                }
                for opt in &m.options {
                    match (m.kind.as_str(), opt.split_once('=')) {
                        ("tmpfs", Some(("size", n))) => v["tmpfs"]["size"] = json!(n),
                        ("tmpfs", Some(("mode", n))) => v["tmpfs"]["mode"] = json!(n),
                        ("volume", None) if opt == "nocopy" => v["volume"]["nocopy"] = json!(true),
                        ("bind", None) if !matches!(opt.as_str(), "z" | "Z") => {
                            v["bind"]["propagation"] = json!(opt)
                        }
                        _ => {}
                    }
                }
                vols.push(v);
            }
            put(&mut o, "volumes", J::Array(vols));
            put(&mut o, "network_mode", json!(s.network_mode));
            if s.network_mode.is_none() {
                let nets: Map<String, J> = s
                    .networks
                    .iter()
                    .map(|(k, n)| {
                        let mut m = Map::new();
                        if !n.aliases.is_empty() {
                            m.insert("aliases".into(), json!(n.aliases));
                        }
                        if let Some(ip) = &n.ipv4_address {
                            m.insert("ipv4_address".into(), json!(ip));
                        }
                        (k.clone(), if m.is_empty() { J::Null } else { J::Object(m) })
                    })
                    .collect();
                if !nets.is_empty() {
                    o.insert("networks".into(), J::Object(nets));
                }
            }
            put(&mut o,
                "depends_on",
                J::Object(
                    s.depends_on
                        .iter()
                        .map(|(k, d)| {
                            let mut m = json!({"condition": serde_json::to_value(d.condition).unwrap_or(J::Null)});
                            if d.restart {
                                m["restart"] = json!(true);
                            }
                            if !d.required {
                                m["required"] = json!(false);
                            }
                            (k.clone(), m)
                        })
                        .collect(),
                ),
            );
            if let Some(h) = &s.healthcheck {
                let mut m = Map::new();
                if h.test.as_deref() == Some(&["NONE".to_string()][..]) {
                    m.insert("disable".into(), json!(true));
                } else {
                    if let Some(t) = &h.test {
                        m.insert("test".into(), json!(t));
                    }
                    for (k, v) in [
                        ("interval", h.interval_ns),
                        ("timeout", h.timeout_ns),
                        ("start_period", h.start_period_ns),
                    ] {
                        if let Some(ns) = v {
                            m.insert(k.into(), json!(duration_text(ns)));
                        }
                    }
                    if let Some(r) = h.retries {
                        m.insert("retries".into(), json!(r));
                    }
                }
                put(&mut o, "healthcheck", J::Object(m));
            }
            let restart = match &s.restart {
                RestartPolicy::No => String::new(),
                RestartPolicy::Always => "always".into(),
                RestartPolicy::UnlessStopped => "unless-stopped".into(),
                RestartPolicy::OnFailure { max_retries: 0 } => "on-failure".into(),
                RestartPolicy::OnFailure { max_retries } => format!("on-failure:{max_retries}"),
            };
            put(&mut o, "restart", json!(restart));
            put(&mut o, "user", json!(s.user));
            put(&mut o, "working_dir", json!(s.working_dir));
            put(&mut o, "hostname", json!(s.hostname));
            put(&mut o, "container_name", json!(s.container_name));
            put(&mut o, "labels", json!(s.labels));
            put(&mut o, "cap_add", json!(s.cap_add));
            put(&mut o, "cap_drop", json!(s.cap_drop));
            put(&mut o, "privileged", json!(s.privileged));
            put(&mut o, "read_only", json!(s.read_only));
            put(&mut o, "init", json!(s.init));
            put(&mut o, "tty", json!(s.tty));
            put(&mut o, "stdin_open", json!(s.stdin_open));
            put(
                &mut o,
                "ulimits",
                J::Object(
                    s.ulimits
                        .iter()
                        .map(|u| (u.name.clone(), json!({"soft": u.soft, "hard": u.hard})))
                        .collect(),
                ),
            );
            let r = &s.resources;
            let mut limits = Map::new();
            if let Some(n) = r.nano_cpus {
                limits.insert("cpus".into(), json!(flags::cpus_text(n)));
            }
            if let Some(m) = r.memory {
                limits.insert("memory".into(), json!(m.to_string()));
            }
            if let Some(p) = r.pids_limit {
                limits.insert("pids".into(), json!(p));
            }
            let mut deploy = Map::new();
            if !limits.is_empty() {
                deploy.insert("resources".into(), json!({"limits": limits}));
            }
            if s.scale != 1 {
                deploy.insert("replicas".into(), json!(s.scale));
            }
            put(&mut o, "deploy", J::Object(deploy));
            put(
                &mut o,
                "memswap_limit",
                json!(r.memory_swap.map(|m| m.to_string())),
            );
            put(&mut o, "cpu_shares", json!(r.cpu_shares));
            put(&mut o, "cpuset", json!(r.cpuset_cpus));
            put(&mut o, "shm_size", json!(s.shm_size.map(|m| m.to_string())));
            put(&mut o, "stop_signal", json!(s.stop_signal));
            put(
                &mut o,
                "stop_grace_period",
                json!(s.stop_grace_period.map(|t| format!("{t}s"))),
            );
            put(&mut o, "profiles", json!(s.profiles));
            put(&mut o, "dns", json!(s.dns));
            put(&mut o, "extra_hosts", json!(s.extra_hosts));
            put(&mut o, "security_opt", json!(s.security_opt));
            let mut logging = Map::new();
            if let Some(d) = &s.log_driver {
                logging.insert("driver".into(), json!(d));
            }
            let mut lo = Map::new();
            if let Some(b) = s.log_max_size {
                lo.insert("max-size".into(), json!(b.to_string()));
            }
            if let Some(n) = s.log_max_files {
                lo.insert("max-file".into(), json!(n.to_string()));
            }
            if !lo.is_empty() {
                logging.insert("options".into(), J::Object(lo));
            }
            put(&mut o, "logging", J::Object(logging));
            services.insert(name.clone(), J::Object(o));
        }
        let networks: Map<String, J> = self
            .networks
            .iter()
            .map(|(k, n)| {
                let mut m = json!({"name": n.name});
                if n.external {
                    m["external"] = json!(true);
                }
                if n.internal {
                    m["internal"] = json!(true);
                }
                if let Some(sub) = &n.subnet {
                    let mut pool = json!({"subnet": sub});
                    if let Some(g) = &n.gateway {
                        pool["gateway"] = json!(g);
                    }
                    if let Some(r) = &n.ip_range {
                        pool["ip_range"] = json!(r);
                    }
                    m["ipam"] = json!({"config": [pool]});
                }
                if !n.labels.is_empty() {
                    m["labels"] = json!(n.labels);
                }
                (k.clone(), m)
            })
            .collect();
        let volumes: Map<String, J> = self
            .volumes
            .iter()
            .map(|(k, v)| {
                let mut m = json!({"name": v.name});
                if v.external {
                    m["external"] = json!(true);
                }
                if !v.labels.is_empty() {
                    m["labels"] = json!(v.labels);
                }
                (k.clone(), m)
            })
            .collect();
        let mut top = Map::new();
        top.insert("name".into(), json!(self.name));
        top.insert("services".into(), J::Object(services));
        if !networks.is_empty() {
            top.insert("networks".into(), J::Object(networks));
        }
        if !volumes.is_empty() {
            top.insert("volumes".into(), J::Object(volumes));
        }
        J::Object(top)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_as_compose_splits() {
        assert_eq!(
            shell_words(r#"sh -c 'echo "a b"' x\ y "q\"z""#).unwrap(),
            ["sh", "-c", "echo \"a b\"", "x y", "q\"z"]
        );
        assert!(shell_words("'open").is_err());
        assert_eq!(shell_words("  ").unwrap(), Vec::<String>::new());
        assert_eq!(shell_words("''").unwrap(), [""]);
    }
}
