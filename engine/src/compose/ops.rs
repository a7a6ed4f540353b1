//! Acting on a project through the engine API: `up` (check every service first, then
//! networks, volumes and containers in dependency order, recreating only what changed),
//! `down`, the per-container verbs, `pull`, and the one-off container of `run`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::spec::{Condition, Project, PullPolicy, Service};
use super::status::{self, ContainerState};
use super::*;
use crate::api::{
    ContainerCreate, ContainerStatus, Engine, NetworkConnect, NetworkCreate, NetworkListOptions,
    PullOptions, RemoveOptions, VolumeCreate, VolumeListOptions,
};
use crate::caller::Caller;
use crate::error::{EngineError, ErrorKind, Result};

/// One step of an operation, for the user: `Container web-1 Started`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// `Network`, `Volume`, `Container`, `Image`.
    pub kind: &'static str,
    pub name: String,
    /// `Creating`, `Created`, `Started`, `Running`, `Recreated`, `Waiting`, `Healthy`,
    /// `Stopped`, `Removed`, `Pulled`, `Warning: ...`.
    pub action: String,
}

/// Where progress goes (from several threads at once).
pub type Sink<'a> = &'a (dyn Fn(Progress) + Sync);

fn say(sink: Sink<'_>, kind: &'static str, name: &str, action: &str) {
    sink(Progress {
        kind,
        name: name.to_string(),
        action: action.to_string(),
    });
}

/// Options of `up`.
#[derive(Debug, Clone, Default)]
pub struct UpOptions {
    /// Only these services (and what they depend on, unless `no_deps`).
    pub services: Vec<String>,
    pub no_deps: bool,
    /// `--force-recreate`.
    pub force_recreate: bool,
    /// `--no-recreate`.
    pub no_recreate: bool,
    /// `--no-start`: create only.
    pub no_start: bool,
    /// `--remove-orphans`.
    pub remove_orphans: bool,
    /// `--build`.
    pub build: bool,
    /// `--pull always|missing|never`, over each service's `pull_policy`.
    pub pull: Option<PullPolicy>,
    /// `--scale SERVICE=N`.
    pub scale: BTreeMap<String, u32>,
    /// How long to wait for a dependency to be healthy or to complete.
    pub wait_timeout: Option<Duration>,
}

/// Options of `down`.
#[derive(Debug, Clone, Default)]
pub struct DownOptions {
    /// `-v`: named volumes of the project and anonymous volumes of its containers.
    pub volumes: bool,
    /// `--rmi local|all`.
    pub rmi: Option<String>,
    /// `-t`: seconds before SIGKILL.
    pub timeout: Option<u32>,
}

/// Spawn `f` on `scope` as part of the spawning thread's console action, if any (the
/// trace keeps the action per thread): a console's compose action traces all its calls.
fn spawn_in<'scope, T: Send + 'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    f: impl FnOnce() -> T + Send + 'scope,
) -> std::thread::ScopedJoinHandle<'scope, T> {
    let action = crate::trace::current_action();
    scope.spawn(move || match action {
        Some(id) => crate::trace::with_action(id, f),
        None => f(),
    })
}

/// The image a service runs: its `image`, or `<project>-<service>` for a built one.
pub fn image_of(project: &Project, svc: &Service) -> String {
    svc.image
        .clone()
        .unwrap_or_else(|| format!("{}-{}", project.name, svc.name))
}

/// The name of replica `n` of a service.
pub fn container_name(project: &Project, svc: &Service, n: u32) -> String {
    match &svc.container_name {
        Some(c) => c.clone(),
        None => format!("{}-{}-{n}", project.name, svc.name),
    }
}

/// The networks a service joins, first one first: (engine name, aliases, address).
fn service_networks(
    project: &Project,
    svc: &Service,
) -> Vec<(String, Vec<String>, Option<String>)> {
    if let Some(m) = &svc.network_mode {
        return vec![(m.clone(), vec![], None)];
    }
    let mut keys: Vec<(&String, super::spec::ServiceNetwork)> = if svc.networks.is_empty() {
        vec![]
    } else {
        svc.networks.iter().map(|(k, v)| (k, v.clone())).collect()
    };
    let default_key = "default".to_string();
    let default_net = super::spec::ServiceNetwork::default();
    if keys.is_empty() {
        keys.push((&default_key, default_net));
    }
    // `default` first when it is one of them, then by name.
    keys.sort_by_key(|(k, _)| (k.as_str() != "default", (*k).clone()));
    keys.into_iter()
        .map(|(k, sn)| {
            let name = project
                .networks
                .get(k)
                .map(|d| d.name.clone())
                .unwrap_or_else(|| format!("{}_{k}", project.name));
            let mut aliases = vec![svc.name.clone()];
            aliases.extend(sn.aliases.iter().cloned());
            (name, aliases, sn.ipv4_address.clone())
        })
        .collect()
}

/// The container a service's replica is made from, without the per-replica labels.
fn base_spec(project: &Project, svc: &Service) -> ContainerCreate {
    let nets = service_networks(project, svc);
    let (network, aliases, ip) = nets
        .first()
        .cloned()
        .unwrap_or(("none".into(), vec![], None));
    let mut mounts = Vec::new();
    for m in &svc.volumes {
        let mut spec = m.mount.clone();
        if spec.kind == "volume" && !spec.source.is_empty() {
            if let Some(v) = project.volumes.get(&spec.source) {
                spec.source = v.name.clone();
            }
        }
        mounts.push(spec);
    }
    mounts.extend(svc.tmpfs.iter().cloned());
    let mut labels = svc.labels.clone();
    labels.insert(LABEL_PROJECT.into(), project.name.clone());
    labels.insert(LABEL_SERVICE.into(), svc.name.clone());
    labels.insert(LABEL_ONEOFF.into(), "False".into());
    labels.insert(
        LABEL_WORKDIR.into(),
        project.working_dir.display().to_string(),
    );
    labels.insert(LABEL_FILES.into(), project.config_files.join(","));
    labels.insert(LABEL_VERSION.into(), VERSION.into());
    labels.insert(LABEL_IMAGE.into(), image_of(project, svc));
    if !svc.depends_on.is_empty() {
        let deps: Vec<String> = svc
            .depends_on
            .iter()
            .map(|(n, d)| {
                let c = match d.condition {
                    Condition::ServiceStarted => "service_started",
                    Condition::ServiceHealthy => "service_healthy",
                    Condition::ServiceCompletedSuccessfully => "service_completed_successfully",
                };
                format!("{n}:{c}:{}", d.restart)
            })
            .collect();
        labels.insert(LABEL_DEPENDS.into(), deps.join(","));
    }
    let user_net = !matches!(network.as_str(), "none" | "host" | "bridge");
    ContainerCreate {
        name: None,
        image: image_of(project, svc),
        cmd: svc.command.clone(),
        entrypoint: svc.entrypoint.clone(),
        env: svc.environment.clone(),
        workdir: svc.working_dir.clone(),
        user: svc.user.clone(),
        hostname: svc.hostname.clone(),
        labels,
        restart: svc.restart.clone(),
        resources: svc.resources.clone(),
        read_only: svc.read_only,
        cap_add: svc.cap_add.clone(),
        cap_drop: svc.cap_drop.clone(),
        privileged: svc.privileged,
        init: svc.init,
        stop_signal: svc.stop_signal.clone(),
        stop_timeout: svc.stop_grace_period,
        ulimits: svc.ulimits.clone(),
        shm_size: svc.shm_size,
        security_opt: svc.security_opt.clone(),
        tty: svc.tty,
        open_stdin: svc.stdin_open,
        auto_remove: false,
        network: Some(network),
        ip,
        network_aliases: if user_net { aliases } else { vec![] },
        ports: svc.ports.clone(),
        publish_all: false,
        expose: svc.expose.clone(),
        dns: svc.dns.clone(),
        extra_hosts: svc.extra_hosts.clone(),
        mounts,
        volumes_from: vec![],
        log_max_size: svc.log_max_size,
        log_max_files: svc.log_max_files,
        log_driver: svc.log_driver.clone(),
        healthcheck: svc.healthcheck.clone(),
        check_only: false,
    }
}

/// The hash of what a service's containers are made from: its container request (the
/// labels that name a replica or the files aside) and its other networks. A container
/// whose `config-hash` label differs is out of date and `up` recreates it.
pub fn config_hash(project: &Project, svc: &Service) -> Result<String> {
    let mut spec = base_spec(project, svc);
    for k in [LABEL_WORKDIR, LABEL_FILES, LABEL_VERSION] {
        spec.labels.remove(k);
    }
    let nets = service_networks(project, svc);
    let v = serde_json::json!({ "spec": spec, "networks": nets });
    let bytes = serde_json::to_vec(&v)
        .map_err(|e| EngineError::invalid(format!("hashing service {}: {e}", svc.name)))?;
    Ok(hex::encode(Sha256::digest(&bytes)))
}

/// Replica `n` of a service, as it is created.
pub fn container_spec(project: &Project, svc: &Service, n: u32) -> Result<ContainerCreate> {
    let mut spec = base_spec(project, svc);
    spec.name = Some(container_name(project, svc, n));
    spec.labels.insert(LABEL_NUMBER.into(), n.to_string());
    spec.labels
        .insert(LABEL_HASH.into(), config_hash(project, svc)?);
    Ok(spec)
}

/// The one-off container of `compose run`: the service's, named
/// `<project>-<service>-run-<id>`, without published ports unless `service_ports`.
pub fn run_spec(project: &Project, svc: &Service, service_ports: bool) -> Result<ContainerCreate> {
    let mut spec = base_spec(project, svc);
    let suffix = &crate::ids::new_id()[..12];
    spec.name = Some(format!("{}-{}-run-{suffix}", project.name, svc.name));
    spec.labels.insert(LABEL_ONEOFF.into(), "True".into());
    spec.labels.insert(LABEL_NUMBER.into(), "1".into());
    spec.labels
        .insert(LABEL_HASH.into(), config_hash(project, svc)?);
    if !service_ports {
        spec.ports.clear();
    }
    spec.restart = Default::default();
    Ok(spec)
}

/// A service of the project by name, enabled or not (a service named on the command
/// line runs even when its profile is not active, as with docker compose).
pub fn service<'a>(project: &'a Project, name: &str) -> Result<&'a Service> {
    project
        .services
        .get(name)
        .or_else(|| project.disabled.get(name))
        .ok_or_else(|| {
            EngineError::not_found(
                "service",
                name,
                &format!(
                    "project {} has {}",
                    project.name,
                    project
                        .services
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })
}

/// The services to act on: those named (all enabled ones when none) with what they
/// depend on, in levels: each level's services depend only on earlier levels.
pub fn levels(project: &Project, names: &[String], with_deps: bool) -> Result<Vec<Vec<String>>> {
    let mut chosen: BTreeSet<String> = BTreeSet::new();
    let mut todo: Vec<String> = if names.is_empty() {
        project.services.keys().cloned().collect()
    } else {
        names.to_vec()
    };
    while let Some(n) = todo.pop() {
        let s = service(project, &n)?;
        if chosen.insert(n.clone()) && with_deps {
            for (d, dep) in &s.depends_on {
                if project.services.contains_key(d) || project.disabled.contains_key(d) {
                    todo.push(d.clone());
                } else if dep.required {
                    return Err(EngineError::invalid(format!(
                        "service {n} depends on {d}, which the project does not define"
                    )));
                }
            }
        }
    }
    let mut out: Vec<Vec<String>> = Vec::new();
    let mut placed: BTreeSet<String> = BTreeSet::new();
    while placed.len() < chosen.len() {
        let level: Vec<String> = chosen
            .iter()
            .filter(|n| !placed.contains(*n))
            .filter(|n| {
                service(project, n)
                    .map(|s| {
                        s.depends_on
                            .keys()
                            .all(|d| placed.contains(d) || !chosen.contains(d))
                    })
                    .unwrap_or(false)
            })
            .cloned()
            .collect();
        if level.is_empty() {
            let rest: Vec<String> = chosen.difference(&placed).cloned().collect();
            return Err(EngineError::invalid(format!(
                "dependency cycle between services {}: depends_on must not loop",
                rest.join(", ")
            )));
        }
        placed.extend(level.iter().cloned());
        out.push(level);
    }
    Ok(out)
}

fn svc_err(name: &str, e: EngineError) -> EngineError {
    e.context(format!("service {name}"))
}

/// Is the image there? Pull it if the policy says so (before anything is created).
fn ensure_image(
    api: &dyn Engine,
    caller: &Caller,
    project: &Project,
    svc: &Service,
    opts: &UpOptions,
    sink: Sink<'_>,
) -> Result<()> {
    let image = image_of(project, svc);
    let policy = opts.pull.unwrap_or(svc.pull_policy);
    if svc.build.is_some()
        && (opts.build || policy == PullPolicy::Build || api.image_inspect(caller, &image).is_err())
    {
        return Err(EngineError::invalid(format!(
            "service {} has a build section and its image {image} has to be built: building images in compose is not available yet in wharf; build or load the image, then run up again",
            svc.name
        )));
    }
    let present = api.image_inspect(caller, &image).is_ok();
    match policy {
        PullPolicy::Always => pull_one(api, caller, &svc.name, &image, sink),
        _ if present => Ok(()),
        PullPolicy::Never | PullPolicy::Build => Err(EngineError::not_found(
            "image",
            &image,
            &format!(
                "service {} has pull_policy never: load or pull the image first",
                svc.name
            ),
        )),
        PullPolicy::Missing => pull_one(api, caller, &svc.name, &image, sink),
    }
}

fn pull_one(
    api: &dyn Engine,
    caller: &Caller,
    service: &str,
    image: &str,
    sink: Sink<'_>,
) -> Result<()> {
    say(sink, "Image", image, "Pulling");
    api.image_pull(caller, image, &PullOptions::default(), &mut |_| {})
        .map_err(|e| svc_err(service, e.context(format!("pulling image {image}"))))?;
    say(sink, "Image", image, "Pulled");
    Ok(())
}

/// `pull`: the images of the services (all when none named).
pub fn pull(
    api: &dyn Engine,
    caller: &Caller,
    project: &Project,
    names: &[String],
    ignore_failures: bool,
    sink: Sink<'_>,
) -> Result<()> {
    let names: Vec<String> = if names.is_empty() {
        project.services.keys().cloned().collect()
    } else {
        names.to_vec()
    };
    for n in names {
        let s = service(project, &n)?;
        if s.image.is_none() {
            say(
                sink,
                "Image",
                &image_of(project, s),
                "Skipped: built, not pulled",
            );
            continue;
        }
        match pull_one(api, caller, &n, &image_of(project, s), sink) {
            Err(e) if ignore_failures => say(
                sink,
                "Image",
                &image_of(project, s),
                &format!("Warning: {e}"),
            ),
            r => r?,
        }
    }
    Ok(())
}

/// Check, without creating anything, that `up` can create every chosen service: the
/// images are there (or pulled), external networks and volumes exist, and the engine
/// would create each container for this caller (a check-only create: permission, the
/// request's sense, bind sources, the role's constraints). The first problem, with the
/// service named, is the error.
pub fn check(
    api: &dyn Engine,
    caller: &Caller,
    project: &Project,
    names: &[String],
    opts: &UpOptions,
    sink: Sink<'_>,
) -> Result<()> {
    for (key, n) in &project.networks {
        if n.external && api.network_inspect(caller, &n.name).is_err() {
            return Err(EngineError::not_found(
                "network",
                &n.name,
                &format!(
                    "network {key} is declared external: create it first (wharf network create {})",
                    n.name
                ),
            ));
        }
    }
    for (key, v) in &project.volumes {
        if v.external && api.volume_inspect(caller, &v.name).is_err() {
            return Err(EngineError::not_found(
                "volume",
                &v.name,
                &format!(
                    "volume {key} is declared external: create it first (wharf volume create {})",
                    v.name
                ),
            ));
        }
    }
    for n in names {
        let s = service(project, n)?;
        let mut spec = container_spec(project, s, 1)?;
        spec.check_only = true;
        // A bind source compose will create (short syntax) is checked as the nearest
        // directory that exists: nothing is created before every service passed.
        for (m, sm) in spec.mounts.iter_mut().zip(&s.volumes) {
            if sm.create_host_path && m.kind == "bind" {
                let mut p = std::path::PathBuf::from(&m.source);
                while !p.exists() && p.pop() {}
                m.source = p.display().to_string();
            }
        }
        match api.container_create(caller, &spec) {
            Ok(id) if id.is_empty() => {}
            Ok(id) => {
                // A server that does not know check-only creates made it: take it back.
                let _ = api.container_remove(
                    caller,
                    &id,
                    RemoveOptions {
                        force: true,
                        volumes: true,
                    },
                );
                return Err(EngineError::unavailable(
                    "the engine does not support check-only creates (it is older than this wharf): upgrade the server",
                ));
            }
            Err(e) => return Err(svc_err(n, e)),
        }
        ensure_image(api, caller, project, s, opts, sink)?;
    }
    Ok(())
}

fn ensure_networks(
    api: &dyn Engine,
    caller: &Caller,
    project: &Project,
    needed: &BTreeSet<String>,
    sink: Sink<'_>,
) -> Result<()> {
    for (key, n) in &project.networks {
        if n.external || !needed.contains(&n.name) {
            continue;
        }
        if api.network_inspect(caller, &n.name).is_ok() {
            continue;
        }
        let mut labels = n.labels.clone();
        labels.insert(LABEL_PROJECT.into(), project.name.clone());
        labels.insert(LABEL_NETWORK.into(), key.clone());
        labels.insert(LABEL_VERSION.into(), VERSION.into());
        say(sink, "Network", &n.name, "Creating");
        match api.network_create(
            caller,
            &NetworkCreate {
                name: n.name.clone(),
                driver: None,
                subnet: n.subnet.clone(),
                gateway: n.gateway.clone(),
                ip_range: n.ip_range.clone(),
                internal: n.internal,
                labels,
            },
        ) {
            Ok(_) => say(sink, "Network", &n.name, "Created"),
            // Made by someone else in the meantime: use it.
            Err(e) if e.kind == ErrorKind::Conflict => {}
            Err(e) => return Err(e.context(format!("creating network {}", n.name))),
        }
    }
    Ok(())
}

fn ensure_volumes(
    api: &dyn Engine,
    caller: &Caller,
    project: &Project,
    needed: &BTreeSet<String>,
    sink: Sink<'_>,
) -> Result<()> {
    for (key, v) in &project.volumes {
        if v.external || !needed.contains(key) {
            continue;
        }
        if api.volume_inspect(caller, &v.name).is_ok() {
            continue;
        }
        let mut labels = v.labels.clone();
        labels.insert(LABEL_PROJECT.into(), project.name.clone());
        labels.insert(LABEL_VOLUME.into(), key.clone());
        labels.insert(LABEL_VERSION.into(), VERSION.into());
        say(sink, "Volume", &v.name, "Creating");
        api.volume_create(
            caller,
            &VolumeCreate {
                name: Some(v.name.clone()),
                labels,
            },
        )
        .map_err(|e| e.context(format!("creating volume {}", v.name)))?;
        say(sink, "Volume", &v.name, "Created");
    }
    Ok(())
}

/// What a service's containers need before one is created (`run`'s one-off container):
/// its image, and the project's networks and volumes it uses.
pub fn prepare(
    api: &dyn Engine,
    caller: &Caller,
    project: &Project,
    name: &str,
    sink: Sink<'_>,
) -> Result<()> {
    let s = service(project, name)?;
    check(api, caller, project, &[], &UpOptions::default(), sink)?;
    ensure_image(api, caller, project, s, &UpOptions::default(), sink)?;
    let nets = service_networks(project, s)
        .into_iter()
        .map(|(n, _, _)| n)
        .collect();
    let vols = s
        .volumes
        .iter()
        .filter(|m| m.mount.kind == "volume" && !m.mount.source.is_empty())
        .map(|m| m.mount.source.clone())
        .collect();
    ensure_networks(api, caller, project, &nets, sink)?;
    ensure_volumes(api, caller, project, &vols, sink)
}

/// Create a replica, join its other networks.
fn create(
    api: &dyn Engine,
    caller: &Caller,
    project: &Project,
    svc: &Service,
    n: u32,
    sink: Sink<'_>,
) -> Result<String> {
    let spec = container_spec(project, svc, n)?;
    let name = spec.name.clone().unwrap_or_default();
    for m in &svc.volumes {
        if m.create_host_path && m.mount.kind == "bind" {
            let p = std::path::Path::new(&m.mount.source);
            if !p.exists() {
                std::fs::create_dir_all(p).map_err(|e| {
                    EngineError::io(format!("creating bind source {}", p.display()), e)
                })?;
            }
        }
    }
    say(sink, "Container", &name, "Creating");
    let id = api.container_create(caller, &spec)?;
    for (net, aliases, ip) in service_networks(project, svc).into_iter().skip(1) {
        api.network_connect(caller, &net, &id, &NetworkConnect { ip, aliases })
            .map_err(|e| e.context(format!("connecting {name} to network {net}")))?;
    }
    say(sink, "Container", &name, "Created");
    Ok(id)
}

fn remove(
    api: &dyn Engine,
    caller: &Caller,
    c: &ContainerState,
    timeout: Option<u32>,
    volumes: bool,
    sink: Sink<'_>,
) -> Result<()> {
    if c.state.is_active() {
        say(sink, "Container", &c.name, "Stopping");
        if c.state == ContainerStatus::Paused {
            let _ = api.container_unpause(caller, &c.id);
        }
        api.container_stop(caller, &c.id, timeout)?;
        say(sink, "Container", &c.name, "Stopped");
    }
    say(sink, "Container", &c.name, "Removing");
    match api.container_remove(
        caller,
        &c.id,
        RemoveOptions {
            force: true,
            volumes,
        },
    ) {
        Err(e) if e.kind != ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    say(sink, "Container", &c.name, "Removed");
    Ok(())
}

/// Wait until `dep`'s containers meet `cond` (healthy, or exited 0).
#[allow(clippy::too_many_arguments)]
fn wait_for(
    api: &dyn Engine,
    caller: &Caller,
    project: &Project,
    svc: &str,
    dep: &str,
    cond: Condition,
    timeout: Duration,
    sink: Sink<'_>,
) -> Result<()> {
    if cond == Condition::ServiceStarted {
        return Ok(());
    }
    let deadline = Instant::now() + timeout;
    let mut said = false;
    loop {
        let cs: Vec<ContainerState> = status::containers(api, caller, &project.name)?
            .into_iter()
            .filter(|c| !c.oneoff && c.service == dep)
            .collect();
        let mut done = !cs.is_empty();
        for c in &cs {
            match cond {
                Condition::ServiceHealthy => {
                    let j = api.container_inspect(caller, &c.id)?;
                    let health = j["State"]["Health"]["Status"]
                        .as_str()
                        .unwrap_or("")
                        .to_string();
                    if health == "unhealthy" {
                        return Err(EngineError::unavailable(format!(
                            "service {svc} depends on {dep} being healthy, and container {} is unhealthy: see `wharf compose logs {dep}`",
                            c.name
                        )));
                    }
                    if health.is_empty() {
                        return Err(EngineError::invalid(format!(
                            "service {svc} waits for {dep} to be healthy, but container {} has no health check: give {dep} a healthcheck",
                            c.name
                        )));
                    }
                    if !c.state.is_active() {
                        return Err(EngineError::unavailable(format!(
                            "service {svc} depends on {dep} being healthy, and container {} is {}: see `wharf compose logs {dep}`",
                            c.name,
                            c.state.as_str()
                        )));
                    }
                    done &= health == "healthy";
                }
                Condition::ServiceCompletedSuccessfully => {
                    if c.state.is_active() || c.state == ContainerStatus::Created {
                        done = false;
                    } else if c.exit_code.unwrap_or(0) != 0 {
                        return Err(EngineError::unavailable(format!(
                            "service {svc} depends on {dep} completing successfully, and container {} exited with code {}",
                            c.name,
                            c.exit_code.unwrap_or(-1)
                        )));
                    }
                }
                Condition::ServiceStarted => {}
            }
        }
        if done {
            if said {
                let what = if cond == Condition::ServiceHealthy {
                    "Healthy"
                } else {
                    "Exited"
                };
                for c in &cs {
                    say(sink, "Container", &c.name, what);
                }
            }
            return Ok(());
        }
        if !said {
            for c in &cs {
                say(sink, "Container", &c.name, "Waiting");
            }
            said = true;
        }
        if Instant::now() > deadline {
            return Err(EngineError::unavailable(format!(
                "service {svc} gave up waiting for {dep} after {}s",
                timeout.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// How long a dependency may take to be healthy: its health check's own worst case,
/// at least a minute.
fn health_budget(svc: &Service) -> Duration {
    let h = svc.healthcheck.clone().unwrap_or_default();
    let s = |ns: Option<i64>, d: i64| ns.filter(|n| *n > 0).unwrap_or(d) / 1_000_000_000;
    let interval = s(h.interval_ns, 30_000_000_000);
    let timeout = s(h.timeout_ns, 30_000_000_000);
    let start = s(h.start_period_ns, 0);
    let retries = i64::from(h.retries.unwrap_or(3));
    Duration::from_secs((start + (interval + timeout) * (retries + 1)).max(60) as u64)
}

/// Bring one service to what the file says: keep, create, recreate or remove replicas,
/// then start them.
#[allow(clippy::too_many_arguments)]
fn converge(
    api: &dyn Engine,
    caller: &Caller,
    project: &Project,
    svc: &Service,
    existing: &[ContainerState],
    opts: &UpOptions,
    sink: Sink<'_>,
) -> Result<()> {
    let hash = config_hash(project, svc)?;
    let scale = opts.scale.get(&svc.name).copied().unwrap_or(svc.scale);
    let mine: Vec<&ContainerState> = existing
        .iter()
        .filter(|c| !c.oneoff && c.service == svc.name)
        .collect();
    // Wait for what this service depends on.
    for (dep, d) in &svc.depends_on {
        if let Ok(ds) = service(project, dep) {
            let t = opts.wait_timeout.unwrap_or_else(|| health_budget(ds));
            wait_for(api, caller, project, &svc.name, dep, d.condition, t, sink)?;
        }
    }
    // Replicas beyond the scale go (highest numbers first).
    for c in mine.iter().filter(|c| c.number > scale || c.number == 0) {
        remove(api, caller, c, svc.stop_grace_period, false, sink)?;
    }
    for n in 1..=scale {
        let current = mine.iter().find(|c| c.number == n);
        let fresh = container_name(project, svc, n);
        let (id, name) = match current {
            Some(c) if (c.config_hash == hash || opts.no_recreate) && !opts.force_recreate => {
                if c.state.is_active() {
                    say(sink, "Container", &c.name, "Running");
                    continue;
                }
                (c.id.clone(), c.name.clone())
            }
            Some(c) => {
                say(sink, "Container", &c.name, "Recreate");
                remove(api, caller, c, svc.stop_grace_period, false, sink)?;
                let id = create(api, caller, project, svc, n, sink)?;
                say(sink, "Container", &fresh, "Recreated");
                (id, fresh)
            }
            None => (create(api, caller, project, svc, n, sink)?, fresh),
        };
        if !opts.no_start {
            say(sink, "Container", &name, "Starting");
            api.container_start(caller, &id)
                .map_err(|e| e.context(format!("starting container {name}")))?;
            say(sink, "Container", &name, "Started");
        }
    }
    Ok(())
}

/// `up`: check every chosen service first (nothing is created when one would be
/// refused), then networks, volumes and containers, level by level of `depends_on`,
/// services of a level in parallel. A failure names the service and leaves what was
/// made labelled, so `down` removes it.
pub fn up(
    api: &dyn Engine,
    caller: &Caller,
    project: &Project,
    opts: &UpOptions,
    sink: Sink<'_>,
) -> Result<()> {
    let levels = levels(project, &opts.services, !opts.no_deps)?;
    let names: Vec<String> = levels.iter().flatten().cloned().collect();
    check(api, caller, project, &names, opts, sink)?;
    // Only the networks and volumes the chosen services use.
    let mut nets = BTreeSet::new();
    let mut vols = BTreeSet::new();
    for n in &names {
        let s = service(project, n)?;
        for (net, _, _) in service_networks(project, s) {
            nets.insert(net);
        }
        for m in &s.volumes {
            if m.mount.kind == "volume" && !m.mount.source.is_empty() {
                vols.insert(m.mount.source.clone());
            }
        }
    }
    ensure_networks(api, caller, project, &nets, sink)?;
    ensure_volumes(api, caller, project, &vols, sink)?;
    let existing = status::containers(api, caller, &project.name)?;
    // Orphans: containers of services the file no longer has.
    let known: BTreeSet<&String> = project
        .services
        .keys()
        .chain(project.disabled.keys())
        .collect();
    let orphans: Vec<&ContainerState> = existing
        .iter()
        .filter(|c| !c.oneoff && !known.contains(&c.service))
        .collect();
    if !orphans.is_empty() {
        if opts.remove_orphans {
            for c in orphans {
                remove(api, caller, c, None, false, sink)?;
            }
        } else {
            let names: Vec<&str> = orphans.iter().map(|c| c.name.as_str()).collect();
            say(
                sink,
                "Project",
                &project.name,
                &format!(
                    "Warning: found orphan containers ({}) for this project; run up with --remove-orphans to clean them up",
                    names.join(", ")
                ),
            );
        }
    }
    for level in &levels {
        let results: Vec<Result<()>> = std::thread::scope(|scope| {
            let handles: Vec<_> = level
                .iter()
                .map(|n| {
                    let existing = &existing;
                    spawn_in(scope, move || -> Result<()> {
                        let s = service(project, n)?;
                        converge(api, caller, project, s, existing, opts, sink)
                            .map_err(|e| svc_err(n, e))
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(EngineError::invalid("a compose worker panicked")))
                })
                .collect()
        });
        for r in results {
            r?;
        }
    }
    Ok(())
}

/// `down`: stop and remove the project's containers (one-off ones too) and networks;
/// with `-v` its volumes; with `--rmi` its images. Works from labels alone, so a
/// project whose file is gone (or made by another tool) goes too.
pub fn down(
    api: &dyn Engine,
    caller: &Caller,
    name: &str,
    project: Option<&Project>,
    opts: &DownOptions,
    sink: Sink<'_>,
) -> Result<()> {
    let cs = status::containers(api, caller, name)?;
    let images: BTreeSet<String> = match (&opts.rmi, project) {
        (None, _) => BTreeSet::new(),
        (Some(m), Some(p)) => p
            .services
            .values()
            .chain(p.disabled.values())
            .filter(|s| m == "all" || s.image.is_none())
            .map(|s| image_of(p, s))
            .collect(),
        (Some(m), None) => cs
            .iter()
            .filter(|c| {
                m == "all"
                    || c.labels
                        .get(LABEL_IMAGE)
                        .is_none_or(|i| *i == format!("{name}-{}", c.service))
            })
            .map(|c| c.image.clone())
            .collect(),
    };
    let results: Vec<Result<()>> = std::thread::scope(|scope| {
        let hs: Vec<_> = cs
            .iter()
            .map(|c| {
                spawn_in(scope, move || {
                    remove(api, caller, c, opts.timeout, opts.volumes, sink)
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(EngineError::invalid("a compose worker panicked")))
            })
            .collect()
    });
    for r in results {
        r?;
    }
    let nets = api.network_list(
        caller,
        &NetworkListOptions {
            filters: vec![project_filter(name)],
        },
    )?;
    for n in nets {
        say(sink, "Network", &n.name, "Removing");
        match api.network_remove(caller, &n.name) {
            Err(e) if e.kind != ErrorKind::NotFound => {
                return Err(e.context(format!("removing network {}", n.name)))
            }
            _ => say(sink, "Network", &n.name, "Removed"),
        }
    }
    if opts.volumes {
        let vols = api.volume_list(
            caller,
            &VolumeListOptions {
                filters: vec![project_filter(name)],
            },
        )?;
        for v in vols {
            say(sink, "Volume", &v.name, "Removing");
            match api.volume_remove(caller, &v.name, false) {
                Err(e) if e.kind != ErrorKind::NotFound => {
                    return Err(e.context(format!("removing volume {}", v.name)))
                }
                _ => say(sink, "Volume", &v.name, "Removed"),
            }
        }
    }
    for i in images {
        match api.image_remove(caller, &i, false) {
            Ok(_) => say(sink, "Image", &i, "Removed"),
            Err(e) if e.kind == ErrorKind::NotFound => {}
            Err(e) => say(sink, "Image", &i, &format!("Warning: {e}")),
        }
    }
    Ok(())
}

/// What [`act`] does to each container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verb {
    Start,
    Stop(Option<u32>),
    Restart(Option<u32>),
    Pause,
    Unpause,
    Kill(String),
    /// `rm`: stopped containers only, unless `force` (`stop` first with `-s`).
    Remove {
        force: bool,
        volumes: bool,
    },
}

/// A verb on the project's service containers (the named services' only, when named),
/// in parallel. `start` follows `depends_on` order.
pub fn act(
    api: &dyn Engine,
    caller: &Caller,
    name: &str,
    project: Option<&Project>,
    services: &[String],
    verb: &Verb,
    sink: Sink<'_>,
) -> Result<Vec<ContainerState>> {
    let cs: Vec<ContainerState> = status::containers(api, caller, name)?
        .into_iter()
        .filter(|c| !c.oneoff && (services.is_empty() || services.contains(&c.service)))
        .collect();
    if let Some(p) = project {
        for s in services {
            service(p, s)?;
        }
    }
    // Start in dependency order when the file is known.
    let order: Vec<Vec<String>> = match (verb, project) {
        (Verb::Start | Verb::Restart(_), Some(p)) => levels(p, services, false).unwrap_or_default(),
        _ => vec![],
    };
    let mut groups: Vec<Vec<&ContainerState>> = Vec::new();
    let mut placed = BTreeSet::new();
    for level in &order {
        let g: Vec<&ContainerState> = cs.iter().filter(|c| level.contains(&c.service)).collect();
        placed.extend(g.iter().map(|c| c.id.clone()));
        groups.push(g);
    }
    groups.push(cs.iter().filter(|c| !placed.contains(&c.id)).collect());
    let mut done = Vec::new();
    for g in groups {
        let results: Vec<Result<Option<ContainerState>>> = std::thread::scope(|scope| {
            let hs: Vec<_> = g
                .into_iter()
                .map(|c| {
                    spawn_in(scope, move || -> Result<Option<ContainerState>> {
                        let r = match verb {
                            Verb::Start => {
                                if c.state == ContainerStatus::Running {
                                    return Ok(None);
                                }
                                api.container_start(caller, &c.id).map(|_| "Started")
                            }
                            Verb::Stop(t) => {
                                if !c.state.is_active() {
                                    return Ok(None);
                                }
                                api.container_stop(caller, &c.id, *t).map(|_| "Stopped")
                            }
                            Verb::Restart(t) => api
                                .container_restart(caller, &c.id, *t)
                                .map(|_| "Restarted"),
                            Verb::Pause => {
                                if c.state != ContainerStatus::Running {
                                    return Ok(None);
                                }
                                api.container_pause(caller, &c.id).map(|_| "Paused")
                            }
                            Verb::Unpause => {
                                if c.state != ContainerStatus::Paused {
                                    return Ok(None);
                                }
                                api.container_unpause(caller, &c.id).map(|_| "Unpaused")
                            }
                            Verb::Kill(sig) => {
                                if !c.state.is_active() {
                                    return Ok(None);
                                }
                                api.container_kill(caller, &c.id, sig).map(|_| "Killed")
                            }
                            Verb::Remove { force, volumes } => {
                                if c.state.is_active() && !force {
                                    return Ok(None);
                                }
                                api.container_remove(
                                    caller,
                                    &c.id,
                                    RemoveOptions {
                                        force: *force,
                                        volumes: *volumes,
                                    },
                                )
                                .map(|_| "Removed")
                            }
                        };
                        let what = r.map_err(|e| e.context(format!("container {}", c.name)))?;
                        say(sink, "Container", &c.name, what);
                        Ok(Some(c.clone()))
                    })
                })
                .collect();
            hs.into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(EngineError::invalid("a compose worker panicked")))
                })
                .collect()
        });
        for r in results {
            if let Some(c) = r? {
                done.push(c);
            }
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::load::{load, LoadOptions};

    fn project(text: &str) -> Project {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("compose.yaml");
        std::fs::write(&f, text).unwrap();
        load(&LoadOptions {
            files: vec![f],
            project_name: Some("p".into()),
            cwd: t.path().to_path_buf(),
            ..Default::default()
        })
        .unwrap()
    }

    #[test]
    fn specs_labels_levels_and_hashes() {
        let text = "services:\n  web:\n    image: demo\n    depends_on: {db: {condition: service_healthy}}\n    networks: {front: {aliases: [www]}, default: {}}\n    ports: [\"8080:80\"]\n  db:\n    image: demo\n    volumes: [data:/data]\n    healthcheck: {test: true, interval: 1s}\n  tool:\n    image: demo\n    profiles: [tools]\nnetworks:\n  front: {}\nvolumes:\n  data: {}\n";
        let p = project(text);
        let web = container_spec(&p, &p.services["web"], 1).unwrap();
        assert_eq!(web.name.as_deref(), Some("p-web-1"));
        assert_eq!(web.network.as_deref(), Some("p_default"));
        assert_eq!(web.network_aliases, ["web"]);
        assert_eq!(web.labels[LABEL_PROJECT], "p");
        assert_eq!(web.labels[LABEL_SERVICE], "web");
        assert_eq!(web.labels[LABEL_NUMBER], "1");
        assert_eq!(web.labels[LABEL_ONEOFF], "False");
        let db = container_spec(&p, &p.services["db"], 1).unwrap();
        assert_eq!(db.mounts[0].source, "p_data");
        assert_eq!(
            levels(&p, &[], true).unwrap(),
            vec![vec!["db".to_string()], vec!["web".to_string()]]
        );
        assert_eq!(
            levels(&p, &["web".into()], false).unwrap(),
            vec![vec!["web".to_string()]]
        );
        // A service named explicitly runs even with its profile off.
        assert_eq!(
            levels(&p, &["tool".into()], true).unwrap(),
            vec![vec!["tool".to_string()]]
        );
        // The hash follows the service's configuration, not another's.
        let p2 = project(&text.replace("ports: [\"8080:80\"]", "ports: [\"8081:80\"]"));
        assert_ne!(
            config_hash(&p, &p.services["web"]).unwrap(),
            config_hash(&p2, &p2.services["web"]).unwrap()
        );
        assert_eq!(
            config_hash(&p, &p.services["db"]).unwrap(),
            config_hash(&p2, &p2.services["db"]).unwrap()
        );
        let cyc = project(
            "services:\n  a: {image: x, depends_on: [b]}\n  b: {image: x, depends_on: [a]}\n",
        );
        assert!(levels(&cyc, &[], true)
            .unwrap_err()
            .message
            .contains("cycle"));
    }
}
