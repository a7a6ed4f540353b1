//! Container commands: run, create, start, stop, restart, kill, pause, unpause, rm,
//! rename, wait, update, attach, ps, inspect, logs, container prune; and the hidden
//! `__monitor` that the engine re-executes for each running container.

use std::io::{IsTerminal, Write};

use clap::{Args, Subcommand};
use wharf_engine::api::{
    ContainerCreate, ContainerListOptions, LogOptions, MountSpec, PortBinding, RemoveOptions,
    Resources, RestartPolicy,
};
use wharf_engine::runtime::{config::parse_size, rlimits};
use wharf_engine::{EngineError, ErrorKind};

use super::{ago, human_size, print_table, report, Ctx};

/// Container commands.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Create and start a container from an image.
    Run(Box<RunArgs>),
    /// Create a container without starting it.
    Create(Box<RunArgs>),
    /// Start stopped containers.
    Start(StartArgs),
    /// Stop running containers (stop signal, then SIGKILL after the timeout).
    Stop(StopArgs),
    /// Restart containers.
    Restart(StopArgs),
    /// Send a signal to running containers.
    Kill(KillArgs),
    /// Pause all processes in containers (cgroup freezer).
    Pause(NamesArgs),
    /// Resume paused containers.
    Unpause(NamesArgs),
    /// Remove containers.
    Rm(RmArgs),
    /// Rename a container.
    Rename(RenameArgs),
    /// Block until containers stop; print their exit codes.
    Wait(NamesArgs),
    /// Change limits or the restart policy of containers, live.
    Update(UpdateArgs),
    /// Attach to a running container's input and output.
    Attach(AttachArgs),
    /// List containers.
    Ps(PsArgs),
    /// Show low-level information on containers (or images), as JSON.
    Inspect(InspectArgs),
    /// Show a container's logs.
    Logs(LogsArgs),
    /// Manage containers.
    Container {
        #[command(subcommand)]
        cmd: ContainerCmd,
    },
    /// Internal: the per-container monitor (started by the engine).
    #[command(name = "__monitor", hide = true)]
    Monitor(MonitorArgs),
}

/// `wharf container ...`
#[derive(Debug, Subcommand)]
pub enum ContainerCmd {
    /// Remove all stopped containers.
    Prune(PruneArgs),
    /// List containers.
    #[command(alias = "list")]
    Ls(PsArgs),
    /// Show low-level information on containers.
    Inspect(InspectArgs),
}

#[derive(Debug, Args)]
pub struct MonitorArgs {
    pub id: String,
    #[arg(long)]
    pub sync_fd: Option<i32>,
    #[arg(long)]
    pub attach_fd: Option<i32>,
}

/// Flags of `run` and `create`.
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct RunArgs {
    /// Print help.
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
    /// Run in the background and print the container id.
    #[arg(short = 'd', long)]
    detach: bool,
    /// Keep stdin open.
    #[arg(short = 'i', long)]
    interactive: bool,
    /// Allocate a pseudo-terminal.
    #[arg(short = 't', long)]
    tty: bool,
    /// `--health-*` flags (toolbox).
    #[command(flatten)]
    health: super::toolbox::HealthArgs,
    /// Remove the container when it exits.
    #[arg(long)]
    rm: bool,
    /// Container name.
    #[arg(long)]
    name: Option<String>,
    /// Environment variable KEY=VALUE (or KEY to pass this shell's value).
    #[arg(short = 'e', long = "env")]
    env: Vec<String>,
    /// Read environment variables from a file.
    #[arg(long = "env-file")]
    env_file: Vec<String>,
    /// Working directory inside the container.
    #[arg(short = 'w', long)]
    workdir: Option<String>,
    /// user[:group] (names or ids).
    #[arg(short = 'u', long)]
    user: Option<String>,
    /// Override the image's ENTRYPOINT ("" clears it).
    #[arg(long)]
    entrypoint: Option<String>,
    /// Container host name.
    #[arg(short = 'h', long)]
    hostname: Option<String>,
    /// Label key=value.
    #[arg(short = 'l', long = "label")]
    labels: Vec<String>,
    /// Restart policy: no, on-failure[:N], always, unless-stopped.
    #[arg(long, default_value = "no")]
    restart: String,
    #[command(flatten)]
    limits: LimitArgs,
    /// Mount the root file system read-only.
    #[arg(long = "read-only")]
    read_only: bool,
    /// Add a capability.
    #[arg(long = "cap-add")]
    cap_add: Vec<String>,
    /// Drop a capability.
    #[arg(long = "cap-drop")]
    cap_drop: Vec<String>,
    /// Give the container all capabilities, all devices, no seccomp.
    #[arg(long)]
    privileged: bool,
    /// Run an init as pid 1 that forwards signals and reaps zombies.
    #[arg(long)]
    init: bool,
    /// Signal to stop the container.
    #[arg(long = "stop-signal")]
    stop_signal: Option<String>,
    /// Seconds to wait before killing the container on stop.
    #[arg(long = "stop-timeout")]
    stop_timeout: Option<u32>,
    /// ulimit name=soft[:hard].
    #[arg(long = "ulimit")]
    ulimits: Vec<String>,
    /// Size of /dev/shm.
    #[arg(long = "shm-size")]
    shm_size: Option<String>,
    /// Security options: no-new-privileges, seccomp=unconfined|PROFILE.json.
    #[arg(long = "security-opt")]
    security_opt: Vec<String>,
    /// Network: bridge, none, host, or a network name.
    #[arg(long = "network", alias = "net")]
    network: Option<String>,
    /// IPv4 address on the network.
    #[arg(long)]
    ip: Option<String>,
    /// Network-scoped alias.
    #[arg(long = "network-alias")]
    network_alias: Vec<String>,
    /// Publish a port: [ip:]host:container[/proto].
    #[arg(short = 'p', long = "publish")]
    publish: Vec<String>,
    /// Publish all exposed ports to random host ports.
    #[arg(short = 'P', long = "publish-all")]
    publish_all: bool,
    /// DNS server.
    #[arg(long)]
    dns: Vec<String>,
    /// Extra /etc/hosts entry name:ip.
    #[arg(long = "add-host")]
    add_host: Vec<String>,
    /// Volume: NAME:/path, /host:/path[:ro], or /path for an anonymous volume.
    #[arg(short = 'v', long = "volume")]
    volumes: Vec<String>,
    /// Mount: type=bind|volume|tmpfs,source=...,target=...[,readonly].
    #[arg(long = "mount")]
    mounts: Vec<String>,
    /// tmpfs mount: /path[:options].
    #[arg(long = "tmpfs")]
    tmpfs: Vec<String>,
    /// Log options: max-size=10m, max-file=3.
    #[arg(long = "log-opt")]
    log_opt: Vec<String>,
    /// Image to run.
    image: String,
    /// Command and arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct StartArgs {
    /// Attach stdout/stderr and wait for the exit.
    #[arg(short = 'a', long)]
    attach: bool,
    #[arg(required = true)]
    names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// Seconds to wait before killing.
    #[arg(short = 't', long = "time", alias = "timeout")]
    time: Option<u32>,
    #[arg(required = true)]
    names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct KillArgs {
    /// Signal to send.
    #[arg(short = 's', long = "signal", default_value = "KILL")]
    signal: String,
    #[arg(required = true)]
    names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct NamesArgs {
    #[arg(required = true)]
    names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Kill running containers first.
    #[arg(short = 'f', long)]
    force: bool,
    /// Remove anonymous volumes too.
    #[arg(short = 'v', long)]
    volumes: bool,
    #[arg(required = true)]
    names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RenameArgs {
    container: String,
    new_name: String,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    #[command(flatten)]
    limits: LimitArgs,
    /// Restart policy.
    #[arg(long)]
    restart: Option<String>,
    #[arg(required = true)]
    names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct AttachArgs {
    /// Do not forward stdin.
    #[arg(long = "no-stdin")]
    no_stdin: bool,
    container: String,
}

#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show all containers (default: running).
    #[arg(short = 'a', long)]
    all: bool,
    /// Only ids.
    #[arg(short = 'q', long)]
    quiet: bool,
    /// The last N created containers.
    #[arg(short = 'n', long = "last")]
    last: Option<usize>,
    /// The latest created container.
    #[arg(short = 'l', long)]
    latest: bool,
    /// Show sizes of the writable layers.
    #[arg(short = 's', long)]
    size: bool,
    /// Do not truncate output.
    #[arg(long = "no-trunc")]
    no_trunc: bool,
    /// Filter: status=, name=, label=, ancestor=, exited=, id=.
    #[arg(short = 'f', long = "filter")]
    filters: Vec<String>,
    /// `json`: one JSON object per line.
    #[arg(long)]
    format: Option<String>,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    #[arg(required = true)]
    names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Follow the output.
    #[arg(short = 'f', long)]
    follow: bool,
    /// Lines from the end (a number or `all`).
    #[arg(short = 'n', long, default_value = "all")]
    tail: String,
    /// Since a time (RFC 3339, unix seconds, or a duration like 10m).
    #[arg(long)]
    since: Option<String>,
    /// Until a time.
    #[arg(long)]
    until: Option<String>,
    /// Show timestamps.
    #[arg(short = 't', long)]
    timestamps: bool,
    container: String,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Do not ask for confirmation.
    #[arg(short = 'f', long)]
    force: bool,
}

/// Exit status for a failure, as Docker's CLI: 126 when the command cannot be invoked,
/// 127 when it is not found, 125 for everything else.
pub fn exit_code(e: &EngineError) -> i32 {
    if e.kind == ErrorKind::InvalidArgument && e.message.starts_with("failed to start container") {
        if e.message.contains("executable file not found")
            || e.message.contains("no such file or directory")
        {
            return 127;
        }
        return 126;
    }
    125
}

fn fail(e: &EngineError) -> i32 {
    report(e);
    exit_code(e)
}

/// Run a container command; returns the exit code.
pub fn run(cmd: Cmd, ctx: &Ctx) -> i32 {
    match cmd {
        Cmd::Monitor(a) => match ctx.local() {
            Ok(engine) => {
                wharf_engine::runtime::monitor::main(engine, &a.id, a.sync_fd, a.attach_fd)
            }
            Err(e) => fail(&e),
        },
        Cmd::Run(a) => run_container(*a, ctx, true),
        Cmd::Create(a) => run_container(*a, ctx, false),
        Cmd::Start(a) => {
            let mut code = 0;
            for n in &a.names {
                if a.attach {
                    return match ctx.api().container_start_attached(&ctx.caller, n, None) {
                        Ok(s) => super::session::stream(s, false, false),
                        Err(e) => fail(&e),
                    };
                }
                match ctx.api().container_start(&ctx.caller, n) {
                    Ok(()) => println!("{n}"),
                    Err(e) => code = fail(&e),
                }
            }
            code
        }
        Cmd::Stop(a) => each(&a.names, |n| {
            ctx.api().container_stop(&ctx.caller, n, a.time)
        }),
        Cmd::Restart(a) => each(&a.names, |n| {
            ctx.api().container_restart(&ctx.caller, n, a.time)
        }),
        Cmd::Kill(a) => each(&a.names, |n| {
            ctx.api().container_kill(&ctx.caller, n, &a.signal)
        }),
        Cmd::Pause(a) => each(&a.names, |n| ctx.api().container_pause(&ctx.caller, n)),
        Cmd::Unpause(a) => each(&a.names, |n| ctx.api().container_unpause(&ctx.caller, n)),
        Cmd::Rm(a) => {
            let opts = RemoveOptions {
                force: a.force,
                volumes: a.volumes,
            };
            each(&a.names, |n| {
                ctx.api().container_remove(&ctx.caller, n, opts)
            })
        }
        Cmd::Rename(a) => match ctx
            .api()
            .container_rename(&ctx.caller, &a.container, &a.new_name)
        {
            Ok(()) => 0,
            Err(e) => fail(&e),
        },
        Cmd::Wait(a) => {
            let mut code = 0;
            for n in &a.names {
                match ctx.api().container_wait(&ctx.caller, n) {
                    Ok(c) => println!("{c}"),
                    Err(e) => code = fail(&e),
                }
            }
            code
        }
        Cmd::Update(a) => update(a, ctx),
        Cmd::Attach(a) => match ctx.api().container_attach(&ctx.caller, &a.container) {
            Ok(s) => {
                let tty = ctx
                    .api()
                    .container_inspect(&ctx.caller, &a.container)
                    .ok()
                    .and_then(|v| v["Config"]["Tty"].as_bool())
                    .unwrap_or(false);
                super::session::stream(s, !a.no_stdin, tty)
            }
            Err(e) => fail(&e),
        },
        Cmd::Ps(a)
        | Cmd::Container {
            cmd: ContainerCmd::Ls(a),
        } => ps(a, ctx),
        Cmd::Inspect(a)
        | Cmd::Container {
            cmd: ContainerCmd::Inspect(a),
        } => inspect(a, ctx),
        Cmd::Logs(a) => logs(a, ctx),
        Cmd::Container {
            cmd: ContainerCmd::Prune(a),
        } => prune(a, ctx),
    }
}

/// Do `f` for each name, printing the name on success (as docker does).
fn each(names: &[String], f: impl Fn(&str) -> wharf_engine::Result<()>) -> i32 {
    let mut code = 0;
    for n in names {
        match f(n) {
            Ok(()) => println!("{n}"),
            Err(e) => code = fail(&e),
        }
    }
    code
}

fn parse_restart(s: &str) -> Result<RestartPolicy, EngineError> {
    let (name, n) = match s.split_once(':') {
        Some((a, b)) => (a, Some(b)),
        None => (s, None),
    };
    Ok(match (name, n) {
        ("no", None) | ("", None) => RestartPolicy::No,
        ("always", None) => RestartPolicy::Always,
        ("unless-stopped", None) => RestartPolicy::UnlessStopped,
        ("on-failure", n) => RestartPolicy::OnFailure {
            max_retries: match n {
                Some(v) => v.parse().map_err(|_| {
                    EngineError::invalid(format!(
                        "invalid restart count in {s:?}: use on-failure:N"
                    ))
                })?,
                None => 0,
            },
        },
        _ => {
            return Err(EngineError::invalid(format!(
                "invalid restart policy {s:?}: use no, on-failure[:N], always or unless-stopped"
            )))
        }
    })
}

/// Resource limits, as `run`, `create` and `update` take them.
#[derive(Debug, Args)]
pub struct LimitArgs {
    /// Memory limit (e.g. 64m).
    #[arg(short = 'm', long)]
    pub memory: Option<String>,
    /// Memory plus swap limit; -1 for unlimited swap.
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Number of CPUs (e.g. 1.5).
    #[arg(long)]
    pub cpus: Option<f64>,
    /// CPU shares (relative weight).
    #[arg(short = 'c', long = "cpu-shares")]
    pub cpu_shares: Option<u64>,
    /// CPUs allowed (0-3, 0,1).
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// Limit on the number of processes (-1 unlimited).
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Block IO weight (10-1000).
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
}

impl LimitArgs {
    /// The engine's form of these limits (sizes parsed, `--cpus` in nano CPUs).
    pub fn to_resources(&self) -> Result<Resources, EngineError> {
        Ok(Resources {
            memory: self.memory.as_deref().map(parse_size).transpose()?,
            memory_swap: match self.memory_swap.as_deref() {
                Some("-1") => Some(-1),
                Some(s) => Some(parse_size(s)?),
                None => None,
            },
            nano_cpus: self.cpus.map(|c| (c * 1e9) as i64),
            cpu_shares: self.cpu_shares,
            cpuset_cpus: self.cpuset_cpus.clone(),
            pids_limit: self.pids_limit,
            blkio_weight: self.blkio_weight,
        })
    }
}

pub(super) fn env_from_host(kv: &str) -> Option<String> {
    if kv.contains('=') {
        Some(kv.to_string())
    } else {
        std::env::var(kv).ok().map(|v| format!("{kv}={v}"))
    }
}

fn parse_port(s: &str) -> Result<PortBinding, EngineError> {
    let bad = || {
        EngineError::invalid(format!(
            "invalid port {s:?}: use [ip:]host:container[/tcp|udp]"
        ))
    };
    let (spec, proto) = match s.rsplit_once('/') {
        Some((a, p)) => (a, p.to_string()),
        None => (s, "tcp".to_string()),
    };
    let parts: Vec<&str> = spec.rsplitn(3, ':').collect();
    let (container, host, ip) = match parts.as_slice() {
        [c] => (*c, "", ""),
        [c, h] => (*c, *h, ""),
        [c, h, ip] => (*c, *h, *ip),
        _ => return Err(bad()),
    };
    Ok(PortBinding {
        host_ip: ip.trim_matches(|c| c == '[' || c == ']').to_string(),
        host_port: if host.is_empty() {
            0
        } else {
            host.parse().map_err(|_| bad())?
        },
        container_port: container.parse().map_err(|_| bad())?,
        proto,
    })
}

fn parse_volume(s: &str) -> Result<MountSpec, EngineError> {
    let parts: Vec<&str> = s.split(':').collect();
    let (src, dst, mode) = match parts.as_slice() {
        [d] => ("", *d, ""),
        [s, d] => (*s, *d, ""),
        [s, d, m] => (*s, *d, *m),
        _ => {
            return Err(EngineError::invalid(format!(
                "invalid volume {s:?}: use NAME:/path, /host:/path[:ro] or /path"
            )))
        }
    };
    let kind = if src.starts_with('/') {
        "bind"
    } else {
        "volume"
    };
    Ok(MountSpec {
        kind: kind.into(),
        source: src.into(),
        target: dst.into(),
        read_only: mode.split(',').any(|m| m == "ro"),
        options: vec![],
    })
}

fn parse_mount(s: &str) -> Result<MountSpec, EngineError> {
    let mut m = MountSpec {
        kind: "volume".into(),
        source: String::new(),
        target: String::new(),
        read_only: false,
        options: vec![],
    };
    for kv in s.split(',') {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        match k {
            "type" => m.kind = v.into(),
            "source" | "src" => m.source = v.into(),
            "target" | "destination" | "dst" => m.target = v.into(),
            "readonly" | "ro" => m.read_only = v.is_empty() || v == "true" || v == "1",
            "tmpfs-size" => m.options.push(format!("size={v}")),
            "tmpfs-mode" => m.options.push(format!("mode={v}")),
            _ => {
                return Err(EngineError::invalid(format!(
                    "invalid --mount option {k:?} in {s:?}"
                )))
            }
        }
    }
    if m.target.is_empty() {
        return Err(EngineError::invalid(format!(
            "--mount {s:?} needs target=/path"
        )));
    }
    Ok(m)
}

fn build_spec(a: &RunArgs) -> Result<ContainerCreate, EngineError> {
    let mut env = Vec::new();
    for f in &a.env_file {
        let text = std::fs::read_to_string(f)
            .map_err(|e| EngineError::io(format!("reading env file {f}"), e))?;
        for l in text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            env.extend(env_from_host(l));
        }
    }
    env.extend(a.env.iter().filter_map(|e| env_from_host(e)));
    let labels = super::parse_labels(&a.labels);
    let mut mounts: Vec<MountSpec> = a
        .volumes
        .iter()
        .map(|v| parse_volume(v))
        .collect::<Result<_, _>>()?;
    for m in &a.mounts {
        mounts.push(parse_mount(m)?);
    }
    for t in &a.tmpfs {
        let (target, opts) = t.split_once(':').unwrap_or((t, ""));
        mounts.push(MountSpec {
            kind: "tmpfs".into(),
            source: String::new(),
            target: target.into(),
            read_only: false,
            options: opts
                .split(',')
                .filter(|o| !o.is_empty())
                .map(str::to_string)
                .collect(),
        });
    }
    let (mut log_max_size, mut log_max_files) = (None, None);
    for o in &a.log_opt {
        match o.split_once('=') {
            Some(("max-size", v)) => log_max_size = Some(parse_size(v)? as u64),
            Some(("max-file", v)) => {
                log_max_files = Some(v.parse().map_err(|_| {
                    EngineError::invalid(format!("invalid max-file {v:?}: use a number"))
                })?)
            }
            _ => {
                return Err(EngineError::invalid(format!(
                    "unsupported --log-opt {o:?}: use max-size= or max-file="
                )))
            }
        }
    }
    let mut security_opt = Vec::new();
    for o in &a.security_opt {
        let o = o.replacen("seccomp:", "seccomp=", 1);
        match o.strip_prefix("seccomp=") {
            Some(p) if p != "unconfined" => {
                let json = std::fs::read_to_string(p)
                    .map_err(|e| EngineError::io(format!("reading seccomp profile {p}"), e))?;
                security_opt.push(format!("seccomp={json}"));
            }
            _ => security_opt.push(o),
        }
    }
    Ok(ContainerCreate {
        name: a.name.clone(),
        image: a.image.clone(),
        cmd: (!a.command.is_empty()).then(|| a.command.clone()),
        entrypoint: a.entrypoint.as_ref().map(|e| {
            if e.is_empty() {
                vec![]
            } else {
                vec![e.clone()]
            }
        }),
        env,
        workdir: a.workdir.clone(),
        user: a.user.clone(),
        hostname: a.hostname.clone(),
        labels,
        restart: parse_restart(&a.restart)?,
        resources: a.limits.to_resources()?,
        read_only: a.read_only,
        cap_add: a.cap_add.clone(),
        cap_drop: a.cap_drop.clone(),
        privileged: a.privileged,
        init: a.init,
        stop_signal: a.stop_signal.clone(),
        stop_timeout: a.stop_timeout,
        ulimits: a
            .ulimits
            .iter()
            .map(|u| rlimits::parse(u))
            .collect::<Result<_, _>>()?,
        shm_size: a
            .shm_size
            .as_deref()
            .map(parse_size)
            .transpose()?
            .map(|s| s as u64),
        security_opt,
        tty: a.tty,
        open_stdin: a.interactive,
        auto_remove: a.rm,
        network: a.network.clone(),
        ip: a.ip.clone(),
        network_aliases: a.network_alias.clone(),
        ports: a
            .publish
            .iter()
            .map(|p| parse_port(p))
            .collect::<Result<_, _>>()?,
        publish_all: a.publish_all,
        dns: a.dns.clone(),
        extra_hosts: a.add_host.clone(),
        mounts,
        volumes_from: vec![],
        log_max_size,
        log_max_files,
        healthcheck: a.health.config()?,
    })
}

fn run_container(a: RunArgs, ctx: &Ctx, start: bool) -> i32 {
    let spec = match build_spec(&a) {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    let id = match ctx.api().container_create(&ctx.caller, &spec) {
        Ok(id) => id,
        Err(e) => return fail(&e),
    };
    if !start {
        println!("{id}");
        return 0;
    }
    if a.detach {
        return match ctx.api().container_start(&ctx.caller, &id) {
            Ok(()) => {
                println!("{id}");
                0
            }
            Err(e) => fail(&e),
        };
    }
    let size = super::session::console_size(a.tty);
    match ctx.api().container_start_attached(&ctx.caller, &id, size) {
        Ok(s) => super::session::stream(s, a.interactive, a.tty),
        Err(e) => fail(&e),
    }
}

fn update(a: UpdateArgs, ctx: &Ctx) -> i32 {
    let r = match a.limits.to_resources() {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let restart = match a.restart.as_deref().map(parse_restart).transpose() {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    each(&a.names, |n| {
        ctx.api()
            .container_update(&ctx.caller, n, &r, restart.as_ref())
    })
}

fn ps(a: PsArgs, ctx: &Ctx) -> i32 {
    let filters = match super::parse_filters(&a.filters) {
        Ok(f) => f,
        Err(m) => return fail(&EngineError::invalid(m)),
    };
    let opts = ContainerListOptions {
        all: a.all,
        last: if a.latest { Some(1) } else { a.last },
        size: a.size,
        filters,
    };
    let list = match ctx.api().container_list(&ctx.caller, &opts) {
        Ok(l) => l,
        Err(e) => return fail(&e),
    };
    if a.quiet {
        for c in &list {
            println!(
                "{}",
                if a.no_trunc {
                    c.id.as_str()
                } else {
                    wharf_engine::ids::short(&c.id)
                }
            );
        }
        return 0;
    }
    if a.format.as_deref() == Some("json") {
        for c in &list {
            println!("{}", serde_json::to_string(c).unwrap_or_default());
        }
        return 0;
    }
    let mut header = vec![
        "CONTAINER ID",
        "IMAGE",
        "COMMAND",
        "CREATED",
        "STATUS",
        "PORTS",
        "NAMES",
    ];
    if a.size {
        header.push("SIZE");
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|c| {
            let cmd = if a.no_trunc || c.command.chars().count() <= 20 {
                format!("\"{}\"", c.command)
            } else {
                format!("\"{}…\"", c.command.chars().take(19).collect::<String>())
            };
            let ports = c
                .ports
                .iter()
                .map(|p| {
                    format!(
                        "{}:{}->{}/{}",
                        if p.host_ip.is_empty() {
                            "0.0.0.0"
                        } else {
                            &p.host_ip
                        },
                        p.host_port,
                        p.container_port,
                        p.proto
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            let mut row = vec![
                if a.no_trunc {
                    c.id.clone()
                } else {
                    wharf_engine::ids::short(&c.id).to_string()
                },
                c.image.clone(),
                cmd,
                ago(c.created),
                c.status.clone(),
                ports,
                c.name.clone(),
            ];
            if a.size {
                row.push(human_size(c.size_rw.unwrap_or(0)));
            }
            row
        })
        .collect();
    print_table(&header, &rows);
    0
}

fn inspect(a: InspectArgs, ctx: &Ctx) -> i32 {
    let mut out = Vec::new();
    let mut code = 0;
    for n in &a.names {
        match ctx.api().container_inspect(&ctx.caller, n) {
            Ok(v) => out.push(v),
            Err(e) if e.kind == ErrorKind::NotFound => {
                match ctx.api().image_inspect(&ctx.caller, n) {
                    Ok(v) => out.push(v),
                    Err(_) => {
                        report(&EngineError::not_found(
                            "object",
                            n,
                            "no container or image has that name or id",
                        ));
                        code = 1;
                    }
                }
            }
            Err(e) => code = fail(&e),
        }
    }
    println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    code
}

fn logs(a: LogsArgs, ctx: &Ctx) -> i32 {
    let since = match a
        .since
        .as_deref()
        .map(super::system::parse_time)
        .transpose()
    {
        Ok(v) => v,
        Err(m) => return fail(&EngineError::invalid(m)),
    };
    let until = match a
        .until
        .as_deref()
        .map(super::system::parse_time)
        .transpose()
    {
        Ok(v) => v,
        Err(m) => return fail(&EngineError::invalid(m)),
    };
    let tail = if a.tail == "all" {
        None
    } else {
        match a.tail.parse() {
            Ok(n) => Some(n),
            Err(_) => {
                return fail(&EngineError::invalid(format!(
                    "invalid --tail {:?}: use a number or all",
                    a.tail
                )))
            }
        }
    };
    let opts = LogOptions {
        follow: a.follow,
        tail,
        since,
        until,
        stdout: true,
        stderr: true,
    };
    let mut out = std::io::stdout();
    let mut err = std::io::stderr();
    let res = ctx
        .api()
        .container_logs(&ctx.caller, &a.container, &opts, &mut |l| {
            let w: &mut dyn Write = if l.stream == "stderr" {
                &mut err
            } else {
                &mut out
            };
            let ok = if a.timestamps {
                write!(w, "{} {}", l.time, l.log)
            } else {
                w.write_all(l.log.as_bytes())
            };
            let _ = w.flush();
            ok.is_ok()
        });
    match res {
        Ok(()) => 0,
        Err(e) => fail(&e),
    }
}

fn prune(a: PruneArgs, ctx: &Ctx) -> i32 {
    if !a.force && std::io::stdin().is_terminal() {
        eprint!("WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ");
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
        if !matches!(line.trim(), "y" | "Y" | "yes") {
            return 0;
        }
    }
    match ctx.api().container_prune(&ctx.caller) {
        Ok(r) => {
            if !r.deleted.is_empty() {
                println!("Deleted Containers:");
                for d in &r.deleted {
                    println!("{d}");
                }
                println!();
            }
            println!("Total reclaimed space: {}", human_size(r.reclaimed));
            0
        }
        Err(e) => fail(&e),
    }
}
