//! Container commands: run, create, start, stop, restart, kill, pause, unpause, rm,
//! rename, wait, update, attach, ps, inspect, logs, container prune; and the hidden
//! `__monitor` that the engine re-executes for each running container.

use std::io::Write;

use clap::{Args, Subcommand};
use wharf_engine::api::flags::{self, LogOpt, Seccomp, SecurityOpt};
use wharf_engine::api::{
    ContainerCreate, ContainerListOptions, LogOptions, MountSpec, RemoveOptions, Resources,
};
use wharf_engine::{EngineError, ErrorKind};

use super::env::{env_file, env_value};
use super::format::Format;
use super::{ago, human_size, print_table, report, Ctx};

/// Container commands.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
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
    /// Internal: keeps idle bridges up for their grace period, then removes them.
    #[command(name = "__bridge-keeper", hide = true)]
    BridgeKeeper,
}

// `wharf container ...`: docker's management form; each one is the top-level command
// of the same name (`wharf container rm` is `wharf rm`).
// (A plain comment: a doc comment here would become the commands' help text,
// as subcommands' arguments are built late; see `#[command(defer = true)]`.)
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum ContainerCmd {
    /// Remove all stopped containers.
    Prune(PruneArgs),
    /// List containers.
    #[command(visible_aliases = ["list", "ps"])]
    Ls(PsArgs),
    /// Show low-level information on containers.
    Inspect(InspectArgs),
    /// Create and start a container from an image.
    Run(Box<RunArgs>),
    /// Create a container without starting it.
    Create(Box<RunArgs>),
    /// Start stopped containers.
    Start(StartArgs),
    /// Stop running containers.
    Stop(StopArgs),
    /// Restart containers.
    Restart(StopArgs),
    /// Send a signal to running containers.
    Kill(KillArgs),
    /// Pause all processes in containers.
    Pause(NamesArgs),
    /// Resume paused containers.
    Unpause(NamesArgs),
    /// Remove containers.
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Rename a container.
    Rename(RenameArgs),
    /// Block until containers stop; print their exit codes.
    Wait(NamesArgs),
    /// Change limits or the restart policy of containers.
    Update(UpdateArgs),
    /// Attach to a running container's input and output.
    Attach(AttachArgs),
    /// Show a container's logs.
    Logs(LogsArgs),
    /// Run a command in a running container.
    Exec(super::toolbox::ExecArgs),
    /// Show the running processes of a container.
    Top(super::toolbox::TopArgs),
    /// Copy files between a container and the host.
    Cp(super::toolbox::CpArgs),
    /// Show changes to a container's file system.
    Diff(super::toolbox::OneArgs),
    /// Make a new image from a container's changes.
    Commit(super::toolbox::CommitArgs),
    /// Write a container's file system as a tar archive.
    Export(super::toolbox::ExportArgs),
    /// Show containers' resource usage.
    Stats(super::stats::StatsArgs),
    /// List a container's published ports.
    Port(super::networks::PortArgs),
}

#[derive(Debug, Args)]
pub struct MonitorArgs {
    pub id: String,
    #[arg(long)]
    pub sync_fd: Option<i32>,
    #[arg(long)]
    pub attach_fd: Option<i32>,
}

// Flags of `run` and `create`.
// (A plain comment: a doc comment here would become the commands' help text,
// as subcommands' arguments are built late; see `#[command(defer = true)]`.)
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
    /// Working directory inside the container (an absolute path).
    #[arg(short = 'w', long)]
    workdir: Option<String>,
    /// user[:group] (names or ids).
    #[arg(short = 'u', long)]
    user: Option<String>,
    /// Override the image's ENTRYPOINT ("" clears it).
    #[arg(long, allow_hyphen_values = true)]
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
    #[arg(long = "stop-timeout", allow_hyphen_values = true)]
    stop_timeout: Option<String>,
    /// ulimit name=soft[:hard] (-1 unlimited).
    #[arg(long = "ulimit")]
    ulimits: Vec<String>,
    /// Size of /dev/shm (e.g. 64m).
    #[arg(long = "shm-size", allow_hyphen_values = true)]
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
    /// Publish a port or range: [ip:][hostPort:]containerPort[/tcp|udp].
    #[arg(short = 'p', long = "publish")]
    publish: Vec<String>,
    /// Publish all exposed ports (the image's and --expose) to ephemeral host ports.
    #[arg(short = 'P', long = "publish-all")]
    publish_all: bool,
    /// Expose a port or range (published by -P): PORT[/proto] or START-END[/proto].
    #[arg(long = "expose")]
    expose: Vec<String>,
    /// DNS server (an IP address).
    #[arg(long)]
    dns: Vec<String>,
    /// Extra /etc/hosts entry name:ip.
    #[arg(long = "add-host")]
    add_host: Vec<String>,
    /// Volume: NAME:/path[:opts], /host:/path[:opts], or /path for an anonymous volume;
    /// opts: ro, rw, z, Z, nocopy, [r]shared, [r]slave, [r]private.
    #[arg(short = 'v', long = "volume")]
    volumes: Vec<String>,
    /// Mount: type=bind|volume|tmpfs,source=...,target=...[,readonly][,...].
    #[arg(long = "mount")]
    mounts: Vec<String>,
    /// tmpfs mount: /path[:size=..,mode=..,uid=..,gid=..,exec|noexec,...].
    #[arg(long = "tmpfs")]
    tmpfs: Vec<String>,
    /// Mount the volumes of another container: CONTAINER[:ro|rw].
    #[arg(long = "volumes-from")]
    volumes_from: Vec<String>,
    /// Log options: max-size=10m, max-file=3.
    #[arg(long = "log-opt")]
    log_opt: Vec<String>,
    /// Logging driver: json-file (the default) or none (no log kept).
    #[arg(long = "log-driver")]
    log_driver: Option<String>,
    /// Read labels from a file of KEY=VALUE lines.
    #[arg(long = "label-file")]
    label_file: Vec<String>,
    /// Write the container id to this file (which must not exist).
    #[arg(long)]
    cidfile: Option<std::path::PathBuf>,
    /// Pull the image before creating: missing (the default), never, always.
    #[arg(long, default_value = "missing")]
    pull: String,
    /// Do not print pull output.
    #[arg(short = 'q', long)]
    quiet: bool,
    /// Platform of the image: only this machine's (linux/<its architecture>).
    #[arg(long)]
    platform: Option<String>,
    /// Forward the signals this command gets to the container (without a terminal).
    #[arg(long = "sig-proxy", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    sig_proxy: bool,
    /// Keys to detach from the container: a sequence like ctrl-p,ctrl-q (the default).
    #[arg(long = "detach-keys")]
    detach_keys: Option<String>,
    /// Image to run.
    image: String,
    /// Command and arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

impl RunArgs {
    /// `run` without `-d`: the container's stdio stays on this terminal.
    pub fn attached(&self) -> bool {
        !self.detach
    }
}

#[derive(Debug, Args)]
pub struct StartArgs {
    /// Attach stdout/stderr and wait for the exit.
    #[arg(short = 'a', long)]
    attach: bool,
    /// Attach stdin too (with -a).
    #[arg(short = 'i', long)]
    interactive: bool,
    /// Keys to detach: a comma-separated sequence like ctrl-p,ctrl-q (the default).
    #[arg(long = "detach-keys")]
    detach_keys: Option<String>,
    #[arg(required = true)]
    names: Vec<String>,
}

impl StartArgs {
    /// `start -a` or `-i`: the container's stdio comes to this terminal.
    pub fn attached(&self) -> bool {
        self.attach || self.interactive
    }
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
    /// Forward the signals this command gets to the container (without a terminal).
    #[arg(long = "sig-proxy", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    sig_proxy: bool,
    /// Keys to detach: a comma-separated sequence like ctrl-p,ctrl-q (the default).
    #[arg(long = "detach-keys")]
    detach_keys: Option<String>,
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
    /// `json`, `table`, `table TEMPLATE` or a Go template (`{{.Names}}`, `{{.Label "k"}}`).
    #[arg(long)]
    format: Option<String>,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format with a Go template (`{{.State.Status}}`, `{{json .Mounts}}`) or `json`.
    #[arg(short = 'f', long)]
    format: Option<String>,
    /// Only this type of object: container or image.
    #[arg(long = "type")]
    kind: Option<String>,
    /// Display total file sizes (accepted: inspect always reports SizeRw when known).
    #[arg(short = 's', long)]
    size: bool,
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

impl LogsArgs {
    /// `logs -f`: it follows until the container stops.
    pub fn follows(&self) -> bool {
        self.follow
    }
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
        Cmd::BridgeKeeper => match ctx.local() {
            Ok(engine) => match wharf_engine::network::keep_bridges(engine) {
                Ok(()) => 0,
                Err(e) => fail(&e),
            },
            Err(e) => fail(&e),
        },
        Cmd::Run(a) => run_container(*a, ctx, true),
        Cmd::Create(a) => run_container(*a, ctx, false),
        Cmd::Start(a) => {
            if let Some(k) = &a.detach_keys {
                match super::session::parse_detach_keys(k) {
                    Ok(keys) => super::session::set_detach_keys(keys),
                    Err(e) => return fail(&e),
                }
            }
            let mut code = 0;
            for n in &a.names {
                if a.attach || a.interactive {
                    let tty = has_tty(ctx, n);
                    if let Err(e) = super::session::check_tty(a.interactive, tty) {
                        report(&e);
                        return 1;
                    }
                    let size = super::session::console_size(tty);
                    return match ctx.api().container_start_attached(&ctx.caller, n, size) {
                        Ok(s) => {
                            if !tty {
                                super::session::proxy_signals(
                                    ctx.api.clone(),
                                    ctx.caller.clone(),
                                    n.clone(),
                                );
                            }
                            super::session::stream(s, a.interactive, tty)
                        }
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
        Cmd::Attach(a) => attach(a, ctx),
        Cmd::Ps(a) => ps(a, ctx),
        Cmd::Inspect(a) => inspect(a, ctx),
        Cmd::Logs(a) => logs(a, ctx),
        Cmd::Container { cmd } => container_cmd(cmd, ctx),
    }
}

/// `wharf container X`: the same as `wharf X`.
fn container_cmd(cmd: ContainerCmd, ctx: &Ctx) -> i32 {
    use super::{networks, stats, toolbox};
    match cmd {
        ContainerCmd::Prune(a) => prune(a, ctx),
        ContainerCmd::Ls(a) => run(Cmd::Ps(a), ctx),
        ContainerCmd::Inspect(a) => run(Cmd::Inspect(a), ctx),
        ContainerCmd::Run(a) => run(Cmd::Run(a), ctx),
        ContainerCmd::Create(a) => run(Cmd::Create(a), ctx),
        ContainerCmd::Start(a) => run(Cmd::Start(a), ctx),
        ContainerCmd::Stop(a) => run(Cmd::Stop(a), ctx),
        ContainerCmd::Restart(a) => run(Cmd::Restart(a), ctx),
        ContainerCmd::Kill(a) => run(Cmd::Kill(a), ctx),
        ContainerCmd::Pause(a) => run(Cmd::Pause(a), ctx),
        ContainerCmd::Unpause(a) => run(Cmd::Unpause(a), ctx),
        ContainerCmd::Rm(a) => run(Cmd::Rm(a), ctx),
        ContainerCmd::Rename(a) => run(Cmd::Rename(a), ctx),
        ContainerCmd::Wait(a) => run(Cmd::Wait(a), ctx),
        ContainerCmd::Update(a) => run(Cmd::Update(a), ctx),
        ContainerCmd::Attach(a) => run(Cmd::Attach(a), ctx),
        ContainerCmd::Logs(a) => run(Cmd::Logs(a), ctx),
        ContainerCmd::Exec(a) => toolbox::run(toolbox::Cmd::Exec(a), ctx),
        ContainerCmd::Top(a) => toolbox::run(toolbox::Cmd::Top(a), ctx),
        ContainerCmd::Cp(a) => toolbox::run(toolbox::Cmd::Cp(a), ctx),
        ContainerCmd::Diff(a) => toolbox::run(toolbox::Cmd::Diff(a), ctx),
        ContainerCmd::Commit(a) => toolbox::run(toolbox::Cmd::Commit(a), ctx),
        ContainerCmd::Export(a) => toolbox::run(toolbox::Cmd::Export(a), ctx),
        ContainerCmd::Stats(a) => stats::run(stats::Cmd::Stats(a), ctx),
        ContainerCmd::Port(a) => networks::run(networks::Cmd::Port(a), ctx),
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

// Resource limits, as `run`, `create` and `update` take them. Every value is text
// read by the flag grammar ([`flags`]), so clap's own number parsing (which takes
// `nan` for a float) never decides.
// (A plain comment: a doc comment here would become the commands' help text,
// as subcommands' arguments are built late; see `#[command(defer = true)]`.)
#[derive(Debug, Args)]
pub struct LimitArgs {
    /// Memory limit (e.g. 64m, 1.5g; 6m at least).
    #[arg(short = 'm', long, allow_hyphen_values = true)]
    pub memory: Option<String>,
    /// Memory plus swap limit; -1 for unlimited swap.
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Number of CPUs (e.g. 1.5).
    #[arg(long, allow_hyphen_values = true)]
    pub cpus: Option<String>,
    /// CPU shares (relative weight, 2-262144; 1024 by default).
    #[arg(short = 'c', long = "cpu-shares", allow_hyphen_values = true)]
    pub cpu_shares: Option<String>,
    /// CPUs allowed (0-3, 0,1).
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// Limit on the number of processes (-1 unlimited).
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<String>,
    /// Block IO weight (10-1000).
    #[arg(long = "blkio-weight", allow_hyphen_values = true)]
    pub blkio_weight: Option<String>,
}

impl LimitArgs {
    /// The engine's form of these limits (sizes parsed, `--cpus` in nano CPUs).
    pub fn to_resources(&self) -> Result<Resources, EngineError> {
        Ok(Resources {
            memory: self.memory.as_deref().map(flags::memory).transpose()?,
            memory_swap: self
                .memory_swap
                .as_deref()
                .map(flags::memory_swap)
                .transpose()?,
            nano_cpus: self.cpus.as_deref().map(flags::cpus).transpose()?,
            cpu_shares: self
                .cpu_shares
                .as_deref()
                .map(flags::cpu_shares)
                .transpose()?,
            cpuset_cpus: self
                .cpuset_cpus
                .as_deref()
                .map(flags::cpuset_cpus)
                .transpose()?,
            pids_limit: self
                .pids_limit
                .as_deref()
                .map(flags::pids_limit)
                .transpose()?,
            blkio_weight: self
                .blkio_weight
                .as_deref()
                .map(flags::blkio_weight)
                .transpose()?,
        })
    }
}

/// `--security-opt` values for the engine: checked by the grammar, with a seccomp
/// profile file's content inlined (the engine may be on another machine).
fn security_opts(opts: &[String]) -> Result<Vec<String>, EngineError> {
    let mut out = Vec::new();
    for o in opts {
        match o.parse::<SecurityOpt>()? {
            SecurityOpt::Seccomp(Seccomp::Profile(path)) => {
                let json = std::fs::read_to_string(&path)
                    .map_err(|e| EngineError::io(format!("reading seccomp profile {path}"), e))?;
                out.push(format!("seccomp={json}"));
            }
            _ => out.push(o.clone()),
        }
    }
    Ok(out)
}

fn all<T>(
    values: &[String],
    f: impl Fn(&str) -> Result<T, EngineError>,
) -> Result<Vec<T>, EngineError> {
    values.iter().map(|v| f(v)).collect()
}

fn build_spec(a: &RunArgs) -> Result<ContainerCreate, EngineError> {
    let mut env = Vec::new();
    for f in &a.env_file {
        env.extend(env_file(f)?);
    }
    for e in &a.env {
        env.extend(env_value("-e", e)?);
    }
    let mut labels: std::collections::BTreeMap<String, String> = std::collections::BTreeMap::new();
    for f in &a.label_file {
        labels.extend(label_file(f)?);
    }
    labels.extend(all(&a.labels, flags::label)?);
    let log_driver = a.log_driver.as_deref().map(flags::log_driver).transpose()?;
    let mut mounts: Vec<MountSpec> = all(&a.volumes, flags::volume)?;
    mounts.extend(all(&a.mounts, flags::mount)?);
    mounts.extend(all(&a.tmpfs, flags::tmpfs)?);
    let (mut log_max_size, mut log_max_files) = (None, None);
    for o in &a.log_opt {
        match flags::log_opt(o)? {
            LogOpt::MaxSize(b) => log_max_size = Some(b),
            LogOpt::MaxFile(n) => log_max_files = Some(n),
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
        workdir: a.workdir.as_deref().map(flags::workdir).transpose()?,
        user: a.user.clone(),
        hostname: a.hostname.as_deref().map(flags::hostname).transpose()?,
        labels,
        restart: flags::restart(&a.restart)?,
        resources: a.limits.to_resources()?,
        read_only: a.read_only,
        cap_add: a.cap_add.clone(),
        cap_drop: a.cap_drop.clone(),
        privileged: a.privileged,
        init: a.init,
        stop_signal: a
            .stop_signal
            .as_deref()
            .map(flags::stop_signal)
            .transpose()?,
        stop_timeout: a
            .stop_timeout
            .as_deref()
            .map(flags::stop_timeout)
            .transpose()?,
        ulimits: all(&a.ulimits, flags::ulimit)?,
        shm_size: a.shm_size.as_deref().map(flags::shm_size).transpose()?,
        security_opt: security_opts(&a.security_opt)?,
        tty: a.tty,
        open_stdin: a.interactive,
        auto_remove: a.rm,
        network: a.network.clone(),
        ip: a.ip.clone(),
        network_aliases: a.network_alias.clone(),
        ports: all(&a.publish, flags::publish)?.concat(),
        publish_all: a.publish_all,
        expose: all(&a.expose, flags::expose)?.concat(),
        dns: all(&a.dns, flags::dns)?,
        extra_hosts: all(&a.add_host, flags::add_host)?,
        mounts,
        volumes_from: all(&a.volumes_from, flags::volumes_from)?,
        log_max_size,
        log_max_files,
        log_driver,
        healthcheck: a.health.config()?,
        check_only: false,
    })
}

/// The labels of a `--label-file`: KEY=VALUE lines; blank lines and `#` comments skipped.
fn label_file(path: &str) -> Result<Vec<(String, String)>, EngineError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| EngineError::io(format!("reading label file {path}"), e))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        out.push(flags::label(l).map_err(|e| {
            EngineError::invalid(format!("--label-file {path}, line {}: {e}", n + 1))
        })?);
    }
    Ok(out)
}

/// `--platform`: this machine's platform only (wharf runs no emulation).
fn check_platform(p: &str) -> Result<(), EngineError> {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    if p == "linux" || p == format!("linux/{arch}") || p == arch {
        return Ok(());
    }
    Err(EngineError::invalid(format!(
        "--platform {p:?} is not supported: wharf runs images of this machine's platform only (linux/{arch})"
    )))
}

/// `--pull`: never fails when the image is missing; always pulls first.
fn pull_policy(a: &RunArgs, ctx: &Ctx) -> Result<(), EngineError> {
    let have = || ctx.api().image_inspect(&ctx.caller, &a.image).is_ok();
    match a.pull.as_str() {
        "missing" => Ok(()),
        "never" => {
            if have() {
                Ok(())
            } else {
                Err(EngineError::not_found(
                    "image",
                    &a.image,
                    "--pull never: load, import or pull it first",
                ))
            }
        }
        "always" => {
            let code = super::registry::run(
                super::registry::Cmd::Pull(super::registry::PullArgs::of(&a.image, a.quiet)),
                ctx,
            );
            if code == 0 {
                Ok(())
            } else {
                Err(EngineError::invalid(format!(
                    "--pull always: pulling {} failed",
                    a.image
                )))
            }
        }
        other => Err(EngineError::invalid(format!(
            "invalid --pull {other:?}: use missing, never or always"
        ))),
    }
}

/// Whether container `name` has a terminal. Asked only of a container the caller can
/// see (listings filter silently), so that a refused attach or start is refused, and
/// audited, as that and not as an inspect.
fn has_tty(ctx: &Ctx, name: &str) -> bool {
    let opts = ContainerListOptions {
        all: true,
        ..Default::default()
    };
    let visible = ctx
        .api()
        .container_list_shared(&ctx.caller, &opts)
        .map(|l| l.iter().any(|c| c.name == name || c.id.starts_with(name)))
        .unwrap_or(false);
    visible
        && ctx
            .api()
            .container_inspect(&ctx.caller, name)
            .ok()
            .and_then(|v| v["Config"]["Tty"].as_bool())
            .unwrap_or(false)
}

fn attach(a: AttachArgs, ctx: &Ctx) -> i32 {
    if let Some(k) = &a.detach_keys {
        match super::session::parse_detach_keys(k) {
            Ok(keys) => super::session::set_detach_keys(keys),
            Err(e) => return fail(&e),
        }
    }
    let tty = has_tty(ctx, &a.container);
    if let Err(e) = super::session::check_tty(!a.no_stdin, tty) {
        report(&e);
        return 1;
    }
    match ctx.api().container_attach(&ctx.caller, &a.container) {
        Ok(s) => {
            if a.sig_proxy && !tty {
                super::session::proxy_signals(
                    ctx.api.clone(),
                    ctx.caller.clone(),
                    a.container.clone(),
                );
            }
            super::session::stream(s, !a.no_stdin, tty)
        }
        Err(e) => fail(&e),
    }
}

fn run_container(a: RunArgs, ctx: &Ctx, start: bool) -> i32 {
    if start && !a.detach {
        if let Err(e) = super::session::check_tty(a.interactive, a.tty) {
            report(&e);
            return 1;
        }
    }
    if let Some(k) = &a.detach_keys {
        match super::session::parse_detach_keys(k) {
            Ok(keys) => super::session::set_detach_keys(keys),
            Err(e) => return fail(&e),
        }
    }
    if let Some(p) = &a.platform {
        if let Err(e) = check_platform(p) {
            return fail(&e);
        }
    }
    if let Some(p) = &a.cidfile {
        if p.exists() {
            return fail(&EngineError::invalid(format!(
                "container ID file found, make sure the other container isn't running or delete {}",
                p.display()
            )));
        }
    }
    let spec = match build_spec(&a) {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    if let Err(e) = pull_policy(&a, ctx) {
        return fail(&e);
    }
    let id = match ctx.api().container_create(&ctx.caller, &spec) {
        Ok(id) => id,
        Err(e) => return fail(&e),
    };
    if let Some(p) = &a.cidfile {
        if let Err(e) = std::fs::write(p, &id) {
            return fail(&EngineError::io(
                format!("writing --cidfile {}", p.display()),
                e,
            ));
        }
    }
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
        Ok(s) => {
            if a.sig_proxy && !a.tty {
                super::session::proxy_signals(ctx.api.clone(), ctx.caller.clone(), id.clone());
            }
            super::session::stream(s, a.interactive, a.tty)
        }
        Err(e) => fail(&e),
    }
}

fn update(a: UpdateArgs, ctx: &Ctx) -> i32 {
    let r = match a.limits.to_resources() {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let restart = match a.restart.as_deref().map(flags::restart).transpose() {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    if r == Resources::default() && restart.is_none() {
        return fail(&EngineError::invalid(
            "wharf update needs at least one flag to change: a limit (-m, --cpus, --pids-limit, ...) or --restart",
        ));
    }
    each(&a.names, |n| {
        ctx.api()
            .container_update(&ctx.caller, n, &r, restart.as_ref())
    })
}

/// Docker's `ps` formatter context (`--format` fields).
fn ps_format_context() -> super::format::Context {
    super::format::Context {
        type_name: "*formatter.ContainerContext",
        headers: &[
            ("ID", "CONTAINER ID"),
            ("Image", "IMAGE"),
            ("Command", "COMMAND"),
            ("CreatedAt", "CREATED AT"),
            ("RunningFor", "CREATED"),
            ("Ports", "PORTS"),
            ("State", "STATE"),
            ("Status", "STATUS"),
            ("Size", "SIZE"),
            ("Names", "NAMES"),
            ("Labels", "LABELS"),
            ("Mounts", "MOUNTS"),
            ("Networks", "NETWORKS"),
            ("LocalVolumes", "LOCAL VOLUMES"),
        ],
        methods: vec![(
            "Label",
            super::format::label_method as super::gotmpl::Method,
        )],
        strict: true,
    }
}

/// Docker's time format in listings: `2024-01-02 15:04:05 +0000 UTC`.
pub(super) fn created_at(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string())
        .unwrap_or_default()
}

fn ports_text(c: &wharf_engine::api::ContainerSummary) -> String {
    c.ports
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
        .join(", ")
}

/// One container as docker's `ps --format` sees it.
fn ps_context(c: &wharf_engine::api::ContainerSummary, no_trunc: bool) -> serde_json::Value {
    let cmd = if no_trunc || c.command.chars().count() <= 20 {
        format!("\"{}\"", c.command)
    } else {
        format!("\"{}…\"", c.command.chars().take(19).collect::<String>())
    };
    // Mounts as docker shows them: volume names, else host paths.
    let mounts: Vec<&str> = c
        .mounts
        .iter()
        .map(|m| {
            if m.name.is_empty() {
                m.source.as_str()
            } else {
                m.name.as_str()
            }
        })
        .collect();
    let local = c.mounts.iter().filter(|m| m.kind == "volume").count();
    serde_json::json!({
        "Command": cmd,
        "CreatedAt": created_at(c.created),
        "ID": if no_trunc { c.id.clone() } else { wharf_engine::ids::short(&c.id).to_string() },
        "Image": c.image,
        "Labels": super::format::labels_text(&c.labels),
        "LocalVolumes": local.to_string(),
        "Mounts": mounts.join(","),
        "Names": c.name,
        "Networks": c.networks.join(","),
        "Ports": ports_text(c),
        "RunningFor": ago(c.created),
        "Size": c.size_rw.map(human_size).unwrap_or_else(|| "0B".into()),
        "State": c.state.as_str(),
        "Status": c.status,
    })
}

fn ps(a: PsArgs, ctx: &Ctx) -> i32 {
    let format = match Format::parse("--format", a.format.as_deref()) {
        Ok(f) => f,
        Err(e) => return fail(&e),
    };
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
    // Only read: the rows a remote engine keeps, not a copy of them.
    let list = match ctx.api().container_list_shared(&ctx.caller, &opts) {
        Ok(l) => l,
        Err(e) => return fail(&e),
    };
    if a.quiet {
        for c in list.iter() {
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
    if let Format::Template { table, tmpl } = format {
        let rows: Vec<serde_json::Value> = list.iter().map(|c| ps_context(c, a.no_trunc)).collect();
        return super::format::print(&tmpl, table, &ps_format_context(), &rows);
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
    let _ = a.size;
    let (containers, images) = match a.kind.as_deref() {
        None => (true, true),
        Some("container") => (true, false),
        Some("image") => (false, true),
        Some(other) => {
            return fail(&EngineError::invalid(format!(
                "--type {other:?} is not supported: use container or image \
                 (networks and volumes: wharf network inspect, wharf volume inspect)"
            )))
        }
    };
    if let Some(f) = &a.format {
        if let Err(e) = Format::parse("--format", Some(f)) {
            return fail(&e);
        }
    }
    let mut out = Vec::new();
    let mut code = 0;
    for n in &a.names {
        let c = if containers {
            ctx.api().container_inspect(&ctx.caller, n)
        } else {
            Err(EngineError::not_found("container", n, ""))
        };
        match c {
            Ok(v) => out.push(v),
            Err(e) if e.kind == ErrorKind::NotFound => {
                let i = if images {
                    ctx.api().image_inspect(&ctx.caller, n).ok()
                } else {
                    None
                };
                match i {
                    Some(v) => out.push(v),
                    None => {
                        report(&EngineError::not_found(
                            if containers && images {
                                "object"
                            } else if containers {
                                "container"
                            } else {
                                "image"
                            },
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
    match &a.format {
        Some(f) => {
            let c = super::format::print_each("--format", f, &out);
            if c != 0 {
                return c;
            }
        }
        None => println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default()),
    }
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
    let mut out = super::out::stdout();
    let mut err = super::out::stderr();
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
    if !a.force && super::out::stdin_is_terminal() {
        eprint!("WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ");
        let mut line = String::new();
        let _ = super::out::read_line(&mut line);
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use wharf_views::run_form::{Field, RunForm};

    /// `wharf ARGS...` through the real command line, to the `run` flags.
    fn run_args(argv: &[String]) -> RunArgs {
        match crate::Opts::try_parse_from(argv) {
            Ok(crate::Opts {
                command: Some(crate::Command::Containers(Cmd::Run(a))),
                ..
            }) => *a,
            other => panic!("{argv:?} did not parse as run: {other:?}"),
        }
    }

    fn cli(line: &str) -> Result<ContainerCreate, EngineError> {
        build_spec(&run_args(&shlex::split(line).expect("words")))
    }

    /// The console's run form and `wharf run` make the same request of the same flags:
    /// the form's own command line, run through the CLI, gives what the form gives.
    #[test]
    fn the_run_form_and_the_cli_make_the_same_request() {
        let forms: [&[(Field, &str)]; 4] = [
            &[(Field::Image, "wharf/demo")],
            &[
                (Field::Image, "wharf/demo:latest"),
                (Field::Name, "web-1"),
                (Field::Command, "sh -c 'echo hello; sleep 60'"),
                (Field::Env, "MODE=demo 'GREETING=hello world'"),
                (Field::Ports, "8080:80 127.0.0.1::9090/udp 8000-8001:70-71"),
                (Field::Volumes, "/srv:/data:ro,rshared data:/cache /scratch"),
                (Field::Network, "none"),
                (Field::Memory, "1.5g"),
                (Field::Cpus, "0.5"),
                (Field::Restart, "on-failure:3"),
            ],
            &[
                (Field::Image, "busybox"),
                (Field::Ports, "[::1]:8080:80/udp"),
                (Field::Volumes, "vol-1:/v:nocopy"),
                (Field::Memory, "64M"),
                (Field::Cpus, "3/2"),
                (Field::Restart, "always"),
            ],
            &[
                (Field::Image, "busybox"),
                (Field::Memory, "6m"),
                (Field::Cpus, "2"),
                (Field::Restart, "unless-stopped"),
            ],
        ];
        for fields in forms {
            let mut form = RunForm::new(vec![]);
            for (f, v) in fields {
                form.set(*f, v);
            }
            let from_form = form.to_create().expect("a valid form");
            let line = form.command_line();
            let from_cli = cli(&line).expect("the form's command line");
            assert_eq!(from_form, from_cli, "{line}");
        }
    }

    /// What the red team found accepted is refused by the CLI and by the form alike, and
    /// both errors name the flag.
    #[test]
    fn hostile_values_are_refused_by_both() {
        let cases = [
            (Field::Cpus, "--cpus", "nan"),
            (Field::Cpus, "--cpus", "-1"),
            (Field::Memory, "--memory", "nan"),
            (Field::Memory, "--memory", "1e30"),
            (Field::Ports, "-p", "8080:0"),
            (Field::Ports, "-p", "1.2.3.4.5:80:80"),
            (Field::Ports, "-p", "8080:80/sctpx"),
            (Field::Volumes, "-v", "/tmp:/x:bogus"),
            (Field::Env, "-e", "=x"),
        ];
        for (field, flag, value) in cases {
            let e = cli(&format!("wharf run {flag}={value} busybox"))
                .expect_err(&format!("{flag} {value}"));
            assert!(e.message.contains(flag), "{flag} {value}: {e}");
            let mut form = RunForm::new(vec![]);
            form.set(Field::Image, "busybox");
            form.set(field, value);
            let (f, msg) = form.to_create().expect_err(value);
            assert_eq!(f, field);
            assert_eq!(msg, e.message, "the form says what the CLI says");
        }
        for (flag, value) in [
            ("--cpus", "1000"),
            ("-w", "rel"),
            ("--cpuset-cpus", "x"),
            ("--tmpfs", "/x:bogus"),
            ("--mount", "type=bind,src=rel,dst=/x"),
            ("--ulimit", "nofile=2:1"),
            ("--health-interval", "-1s"),
            ("--log-opt", "compress=true"),
            ("--stop-signal", "SIGNOPE"),
            ("--add-host", "db:x"),
            ("--dns", "x"),
            ("--restart", "always:3"),
            ("--volumes-from", "web:z"),
            ("--expose", "0"),
        ] {
            let r = cli(&format!("wharf run {flag}={value} busybox"));
            if flag == "--cpus" {
                // The host's CPU count is the engine's to check.
                assert!(r.is_ok(), "{flag} {value}");
                continue;
            }
            let e = r.expect_err(&format!("{flag} {value}"));
            let named = if flag == "-w" { "--workdir" } else { flag };
            assert!(e.message.contains(named), "{flag} {value}: {e}");
        }
    }

    #[test]
    fn every_run_flag_reaches_the_request() {
        let c = cli("wharf run --name n -e A=1 -w /app -u 1:1 -h host -l k=v --restart always \
             -m 64m --memory-swap -1 --cpus 1.5 -c 512 --cpuset-cpus 0 --pids-limit 10 --blkio-weight 500 \
             --read-only --cap-add NET_ADMIN --cap-drop MKNOD --init --stop-signal SIGQUIT --stop-timeout 5 \
             --ulimit nofile=10:20 --shm-size 1m --security-opt no-new-privileges --network none --ip 10.0.0.2 \
             --network-alias a -p 80 -P --expose 81 --dns 1.1.1.1 --add-host db=10.0.0.5 -v /a:/b \
             --mount type=tmpfs,dst=/t --tmpfs /u:size=1k --volumes-from other:ro --log-opt max-size=1k \
             --log-opt max-file=2 --health-cmd true --health-interval 1s --health-retries 2 -t -i --entrypoint sh img x")
            .unwrap();
        assert_eq!(c.workdir.as_deref(), Some("/app"));
        assert_eq!(c.resources.memory_swap, Some(-1));
        assert_eq!(c.resources.nano_cpus, Some(1_500_000_000));
        assert_eq!(c.resources.cpu_shares, Some(512));
        assert_eq!(c.resources.blkio_weight, Some(500));
        assert_eq!(c.stop_timeout, Some(5));
        assert_eq!(c.shm_size, Some(1 << 20));
        assert_eq!(c.expose.len(), 1);
        assert_eq!(c.extra_hosts, vec!["db:10.0.0.5".to_string()]);
        assert_eq!(c.mounts.len(), 3);
        assert_eq!(c.mounts[2].options, vec!["size=1024".to_string()]);
        assert_eq!(c.volumes_from, vec!["other:ro".to_string()]);
        assert_eq!(c.log_max_size, Some(1000));
        assert_eq!(c.log_max_files, Some(2));
        assert_eq!(c.healthcheck.as_ref().and_then(|h| h.retries), Some(2));
        assert_eq!(c.labels.get("k").map(String::as_str), Some("v"));
    }
}
