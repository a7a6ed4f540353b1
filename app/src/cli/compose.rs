//! `wharf compose`: docker compose's daily verbs on wharf's engine, through the engine
//! API with the caller (so over `--host` too). The project logic is in
//! `wharf_engine::compose`; this file reads flags and prints.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use clap::{Args, Subcommand};
use wharf_engine::api::{ContainerStatus, ExecConfig, LogOptions};
use wharf_engine::compose::ops::{self, DownOptions, Verb};
use wharf_engine::compose::spec::PullPolicy;
use wharf_engine::compose::status::{self, ContainerState};
use wharf_engine::compose::{self as compose, Progress, Project, UpOptions};
use wharf_engine::EngineError;

use super::{report, Ctx};

/// The `compose` command.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Cmd {
    /// Define and run multi-container applications from a compose file (docker compose)
    Compose(ComposeArgs),
}

// `wharf compose [OPTIONS] COMMAND`.
// (A plain comment: a doc comment here would become the commands' help text,
// as subcommands' arguments are built late; see `#[command(defer = true)]`.)
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = false)]
pub struct ComposeArgs {
    /// Compose file(s), merged in order (default: compose.yaml, docker-compose.yml, ...)
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Project name (default: `name:` in the file, else the directory's name)
    #[arg(short = 'p', long = "project-name", value_name = "NAME")]
    project_name: Option<String>,
    /// Enable services of this profile (repeatable)
    #[arg(long = "profile", value_name = "PROFILE")]
    profiles: Vec<String>,
    /// Variables file used for interpolation instead of <project dir>/.env (repeatable)
    #[arg(long = "env-file", value_name = "FILE")]
    env_files: Vec<PathBuf>,
    /// Project directory (default: the first file's directory)
    #[arg(long = "project-directory", value_name = "DIR")]
    project_directory: Option<PathBuf>,
    /// Colours and progress: never, always or auto
    #[arg(long = "ansi", value_name = "WHEN", default_value = "auto")]
    ansi: String,
    #[command(subcommand)]
    verb: ComposeVerb,
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
enum ComposeVerb {
    /// Create and start the project's containers
    Up(UpArgs),
    /// Stop and remove the project's containers and networks
    Down(DownArgs),
    /// List the project's containers
    Ps(PsArgs),
    /// Show the services' output, interleaved and coloured by service
    Logs(LogsArgs),
    /// Start the services' existing containers
    Start(Services),
    /// Stop the services' containers
    Stop(StopArgs),
    /// Restart the services' containers
    Restart(StopArgs),
    /// Pause the services' containers
    Pause(Services),
    /// Unpause the services' containers
    Unpause(Services),
    /// Send a signal to the services' containers
    Kill(KillArgs),
    /// Remove the services' stopped containers
    Rm(RmArgs),
    /// Run a command in a running service container
    Exec(ExecArgs),
    /// Run a one-off command in a new container of a service
    Run(RunArgs),
    /// Pull the services' images
    Pull(PullArgs),
    /// Build the services' images
    Build(Services),
    /// Check the files and print the resolved project
    Config(ConfigArgs),
    /// List projects
    Ls(LsArgs),
    /// List the images the project's containers use
    Images(Services),
    /// Show the compose version
    Version,
}

#[derive(Debug, Args)]
struct Services {
    services: Vec<String>,
}

#[derive(Debug, Args)]
struct UpArgs {
    /// Run in the background
    #[arg(short = 'd', long)]
    detach: bool,
    /// Build images before starting (refused: wharf compose does not build yet)
    #[arg(long)]
    build: bool,
    /// Recreate containers even if their configuration has not changed
    #[arg(long)]
    force_recreate: bool,
    /// Keep existing containers even if their configuration changed
    #[arg(long, conflicts_with = "force_recreate")]
    no_recreate: bool,
    /// Create the containers without starting them
    #[arg(long)]
    no_start: bool,
    /// Remove containers of services the file no longer has
    #[arg(long)]
    remove_orphans: bool,
    /// Do not start linked services
    #[arg(long)]
    no_deps: bool,
    /// Pull images: always, missing or never
    #[arg(long, value_name = "POLICY")]
    pull: Option<String>,
    /// SERVICE=N replicas
    #[arg(long, value_name = "SERVICE=N")]
    scale: Vec<String>,
    /// Seconds to wait for a container to stop when Ctrl-C stops the project
    #[arg(short = 't', long)]
    timeout: Option<u32>,
    /// Wait for dependencies to be healthy or complete for at most this many seconds
    #[arg(long, value_name = "SECONDS")]
    wait_timeout: Option<u64>,
    /// Do not colour the output
    #[arg(long)]
    no_color: bool,
    /// Do not print the container name before each line
    #[arg(long)]
    no_log_prefix: bool,
    services: Vec<String>,
}

#[derive(Debug, Args)]
struct DownArgs {
    /// Remove named volumes of the project and anonymous volumes of its containers
    #[arg(short = 'v', long)]
    volumes: bool,
    /// Remove images: local (the ones without a custom tag) or all
    #[arg(long, value_name = "TYPE")]
    rmi: Option<String>,
    /// Remove containers of services the file no longer has (always done)
    #[arg(long)]
    remove_orphans: bool,
    /// Seconds to wait for a container to stop
    #[arg(short = 't', long)]
    timeout: Option<u32>,
}

#[derive(Debug, Args)]
struct PsArgs {
    /// Stopped containers too
    #[arg(short = 'a', long)]
    all: bool,
    /// Only the ids
    #[arg(short = 'q', long)]
    quiet: bool,
    /// Only the service names
    #[arg(long)]
    services: bool,
    /// table or json
    #[arg(long, default_value = "table")]
    format: String,
    /// Only containers in this state (running, exited, paused, ...)
    #[arg(long)]
    status: Vec<String>,
    #[arg(value_name = "SERVICE")]
    names: Vec<String>,
}

#[derive(Debug, Args)]
struct LogsArgs {
    /// Follow the output
    #[arg(short = 'f', long)]
    follow: bool,
    /// Lines from the end of each container's log, or all
    #[arg(short = 'n', long, default_value = "all")]
    tail: String,
    /// Show timestamps
    #[arg(short = 't', long)]
    timestamps: bool,
    /// Do not colour the output
    #[arg(long)]
    no_color: bool,
    /// Do not print the container name before each line
    #[arg(long)]
    no_log_prefix: bool,
    services: Vec<String>,
}

#[derive(Debug, Args)]
struct StopArgs {
    /// Seconds to wait before killing
    #[arg(short = 't', long)]
    timeout: Option<u32>,
    services: Vec<String>,
}

#[derive(Debug, Args)]
struct KillArgs {
    /// The signal
    #[arg(short = 's', long, default_value = "SIGKILL")]
    signal: String,
    services: Vec<String>,
}

#[derive(Debug, Args)]
struct RmArgs {
    /// Do not ask (wharf never asks)
    #[arg(short = 'f', long)]
    force: bool,
    /// Stop the containers first
    #[arg(short = 's', long)]
    stop: bool,
    /// Remove their anonymous volumes
    #[arg(short = 'v', long)]
    volumes: bool,
    services: Vec<String>,
}

#[derive(Debug, Args)]
#[command(trailing_var_arg = true)]
struct ExecArgs {
    /// Detached
    #[arg(short = 'd', long)]
    detach: bool,
    /// No terminal (the default when stdin is not one)
    #[arg(short = 'T', long = "no-TTY")]
    no_tty: bool,
    /// KEY=VALUE
    #[arg(short = 'e', long = "env")]
    env: Vec<String>,
    /// User
    #[arg(short = 'u', long)]
    user: Option<String>,
    /// Working directory
    #[arg(short = 'w', long)]
    workdir: Option<String>,
    /// Which replica
    #[arg(long, default_value_t = 1)]
    index: u32,
    service: String,
    #[arg(required = true, allow_hyphen_values = true)]
    cmd: Vec<String>,
}

#[derive(Debug, Args)]
#[command(trailing_var_arg = true)]
struct RunArgs {
    /// Remove the container when it exits
    #[arg(long)]
    rm: bool,
    /// Detached
    #[arg(short = 'd', long)]
    detach: bool,
    /// No terminal
    #[arg(short = 'T', long = "no-TTY")]
    no_tty: bool,
    /// KEY=VALUE
    #[arg(short = 'e', long = "env")]
    env: Vec<String>,
    /// Container name
    #[arg(long)]
    name: Option<String>,
    /// Override the entrypoint
    #[arg(long)]
    entrypoint: Option<String>,
    /// User
    #[arg(short = 'u', long)]
    user: Option<String>,
    /// Working directory
    #[arg(short = 'w', long)]
    workdir: Option<String>,
    /// Do not start the services it depends on
    #[arg(long)]
    no_deps: bool,
    /// Publish the service's ports
    #[arg(long)]
    service_ports: bool,
    /// Add a label KEY=VALUE
    #[arg(short = 'l', long)]
    label: Vec<String>,
    service: String,
    #[arg(allow_hyphen_values = true)]
    cmd: Vec<String>,
}

#[derive(Debug, Args)]
struct PullArgs {
    /// Go on when an image fails to pull
    #[arg(long)]
    ignore_pull_failures: bool,
    /// Print nothing
    #[arg(short = 'q', long)]
    quiet: bool,
    services: Vec<String>,
}

#[derive(Debug, Args)]
struct ConfigArgs {
    /// Only check the files
    #[arg(short = 'q', long)]
    quiet: bool,
    /// Print the service names
    #[arg(long)]
    services: bool,
    /// Print the volume names
    #[arg(long)]
    volumes: bool,
    /// Print the profile names
    #[arg(long)]
    profiles: bool,
    /// yaml or json
    #[arg(long, default_value = "yaml")]
    format: String,
}

#[derive(Debug, Args)]
struct LsArgs {
    /// Stopped projects too
    #[arg(short = 'a', long)]
    all: bool,
    /// Only the names
    #[arg(short = 'q', long)]
    quiet: bool,
    /// table or json
    #[arg(long, default_value = "table")]
    format: String,
}

fn fail(e: &EngineError) -> i32 {
    report(e);
    super::exit_code_for(e)
}

struct Env {
    args: ComposeArgs,
}

impl Env {
    fn load_opts(&self) -> compose::LoadOptions {
        compose::LoadOptions {
            files: self.args.files.clone(),
            project_name: self.args.project_name.clone(),
            project_dir: self.args.project_directory.clone(),
            profiles: self.args.profiles.clone(),
            env_files: self.args.env_files.clone(),
            env: std::env::vars().collect(),
            cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
        }
    }

    /// The project from the files, warnings printed.
    fn project(&self) -> Result<Project, EngineError> {
        let p = compose::load(&self.load_opts())?;
        for w in &p.warnings {
            eprintln!("wharf compose: warning: {w}");
        }
        Ok(p)
    }

    /// The project's name, and the project when the files can be read: verbs that act
    /// on existing containers work from labels with `-p` alone.
    fn name_and_project(&self) -> Result<(String, Option<Project>), EngineError> {
        match self.project() {
            Ok(p) => Ok((p.name.clone(), Some(p))),
            Err(e) => match &self.args.project_name {
                Some(n) if e.kind == wharf_engine::ErrorKind::NotFound => Ok((n.clone(), None)),
                Some(n) => {
                    eprintln!("wharf compose: warning: {e}; acting on project {n} by its labels");
                    Ok((n.clone(), None))
                }
                None => Err(e),
            },
        }
    }

    fn color(&self, no_color: bool) -> bool {
        !no_color
            && match self.args.ansi.as_str() {
                "never" => false,
                "always" => true,
                _ => std::io::stdout().is_terminal(),
            }
    }
}

/// Progress to stderr, one line per step, as `docker compose --progress plain`.
fn printer(p: Progress) {
    if let Some(w) = p.action.strip_prefix("Warning: ") {
        eprintln!("wharf compose: warning: {w}");
    } else {
        eprintln!(" {} {}  {}", p.kind, p.name, p.action);
    }
}

fn quiet(_: Progress) {}

pub fn run(cmd: Cmd, ctx: &Ctx) -> i32 {
    let Cmd::Compose(args) = cmd;
    if !matches!(args.ansi.as_str(), "never" | "always" | "auto") {
        return fail(&EngineError::invalid(format!(
            "invalid --ansi {:?}: use never, always or auto",
            args.ansi
        )));
    }
    let mut env = Env { args };
    let verb = std::mem::replace(&mut env.args.verb, ComposeVerb::Version);
    let res = match verb {
        ComposeVerb::Up(a) => return up(&env, a, ctx),
        ComposeVerb::Down(a) => down(&env, a, ctx),
        ComposeVerb::Ps(a) => ps(&env, a, ctx),
        ComposeVerb::Logs(a) => logs(&env, a, ctx),
        ComposeVerb::Start(a) => verb_on(&env, ctx, &a.services, Verb::Start),
        ComposeVerb::Stop(a) => verb_on(&env, ctx, &a.services, Verb::Stop(a.timeout)),
        ComposeVerb::Restart(a) => verb_on(&env, ctx, &a.services, Verb::Restart(a.timeout)),
        ComposeVerb::Pause(a) => verb_on(&env, ctx, &a.services, Verb::Pause),
        ComposeVerb::Unpause(a) => verb_on(&env, ctx, &a.services, Verb::Unpause),
        ComposeVerb::Kill(a) => match wharf_engine::api::flags::parse_signal(&a.signal) {
            Ok(_) => verb_on(&env, ctx, &a.services, Verb::Kill(a.signal.clone())),
            Err(e) => Err(e),
        },
        ComposeVerb::Rm(a) => rm(&env, a, ctx),
        ComposeVerb::Exec(a) => return exec(&env, a, ctx),
        ComposeVerb::Run(a) => return run_one(&env, a, ctx),
        ComposeVerb::Pull(a) => env.project().and_then(|p| {
            let sink: &(dyn Fn(Progress) + Sync) = if a.quiet { &quiet } else { &printer };
            ops::pull(
                ctx.api(),
                &ctx.caller,
                &p,
                &a.services,
                a.ignore_pull_failures,
                sink,
            )
        }),
        ComposeVerb::Build(a) => build(&env, a),
        ComposeVerb::Config(a) => config(&env, a),
        ComposeVerb::Ls(a) => ls(a, ctx),
        ComposeVerb::Images(a) => images(&env, a, ctx),
        ComposeVerb::Version => {
            println!("wharf compose version {}", compose::VERSION);
            Ok(())
        }
    };
    match res {
        Ok(()) => 0,
        Err(e) => fail(&e),
    }
}

fn pull_policy(s: &str) -> Result<PullPolicy, EngineError> {
    match s {
        "always" => Ok(PullPolicy::Always),
        "missing" => Ok(PullPolicy::Missing),
        "never" => Ok(PullPolicy::Never),
        o => Err(EngineError::invalid(format!(
            "invalid --pull {o:?}: use always, missing or never"
        ))),
    }
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_interrupt(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

fn up(env: &Env, a: UpArgs, ctx: &Ctx) -> i32 {
    let project = match env.project() {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    let mut scale = BTreeMap::new();
    for s in &a.scale {
        let parsed = s
            .split_once('=')
            .and_then(|(k, v)| Some((k.to_string(), v.parse::<u32>().ok()?)));
        match parsed {
            Some((k, v)) => {
                scale.insert(k, v);
            }
            None => {
                return fail(&EngineError::invalid(format!(
                    "invalid --scale {s:?}: write SERVICE=N"
                )))
            }
        }
    }
    let pull = match a.pull.as_deref().map(pull_policy).transpose() {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    let opts = UpOptions {
        services: a.services.clone(),
        no_deps: a.no_deps,
        force_recreate: a.force_recreate,
        no_recreate: a.no_recreate,
        no_start: a.no_start,
        remove_orphans: a.remove_orphans,
        build: a.build,
        pull,
        scale,
        wait_timeout: a.wait_timeout.map(std::time::Duration::from_secs),
    };
    if let Err(e) = ops::up(ctx.api(), &ctx.caller, &project, &opts, &printer) {
        return fail(&e);
    }
    if a.detach || a.no_start {
        return 0;
    }
    // Attached: follow the logs; Ctrl-C stops the project's containers.
    // SAFETY: installing a handler that only stores to an atomic.
    unsafe {
        libc::signal(
            libc::SIGINT,
            on_interrupt as *const () as libc::sighandler_t,
        );
    }
    let names: Vec<String> = match ops::levels(&project, &a.services, !a.no_deps) {
        Ok(l) => l.into_iter().flatten().collect(),
        Err(e) => return fail(&e),
    };
    let color = env.color(a.no_color);
    let code = std::thread::scope(|scope| {
        let follower = scope.spawn(|| {
            follow_logs(
                ctx,
                &project.name,
                &names,
                true,
                None,
                false,
                color,
                !a.no_log_prefix,
            )
        });
        while !follower.is_finished() {
            if STOP.load(Ordering::SeqCst) {
                eprintln!("Gracefully stopping... (press Ctrl+C again to force)");
                // SAFETY: back to the default action: a second Ctrl-C ends wharf.
                unsafe {
                    libc::signal(libc::SIGINT, libc::SIG_DFL);
                }
                let r = ops::act(
                    ctx.api(),
                    &ctx.caller,
                    &project.name,
                    Some(&project),
                    &names,
                    &Verb::Stop(a.timeout),
                    &printer,
                );
                return match r {
                    Ok(_) => 130,
                    Err(e) => fail(&e),
                };
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        match follower.join() {
            Ok(Ok(())) => 0,
            Ok(Err(e)) => fail(&e),
            Err(_) => 1,
        }
    });
    code
}

fn down(env: &Env, a: DownArgs, ctx: &Ctx) -> Result<(), EngineError> {
    if let Some(r) = &a.rmi {
        if r != "local" && r != "all" {
            return Err(EngineError::invalid(format!(
                "invalid --rmi {r:?}: use local or all"
            )));
        }
    }
    let _ = a.remove_orphans;
    let (name, project) = env.name_and_project()?;
    ops::down(
        ctx.api(),
        &ctx.caller,
        &name,
        project.as_ref(),
        &DownOptions {
            volumes: a.volumes,
            rmi: a.rmi,
            timeout: a.timeout,
        },
        &printer,
    )
}

fn verb_on(env: &Env, ctx: &Ctx, services: &[String], verb: Verb) -> Result<(), EngineError> {
    let (name, project) = env.name_and_project()?;
    ops::act(
        ctx.api(),
        &ctx.caller,
        &name,
        project.as_ref(),
        services,
        &verb,
        &printer,
    )
    .map(|_| ())
}

fn rm(env: &Env, a: RmArgs, ctx: &Ctx) -> Result<(), EngineError> {
    let (name, project) = env.name_and_project()?;
    if a.stop {
        ops::act(
            ctx.api(),
            &ctx.caller,
            &name,
            project.as_ref(),
            &a.services,
            &Verb::Stop(None),
            &printer,
        )?;
    }
    let _ = a.force;
    let done = ops::act(
        ctx.api(),
        &ctx.caller,
        &name,
        project.as_ref(),
        &a.services,
        &Verb::Remove {
            force: false,
            volumes: a.volumes,
        },
        &printer,
    )?;
    if done.is_empty() {
        eprintln!("No stopped containers");
    }
    Ok(())
}

fn ports_text(c: &ContainerState) -> String {
    c.ports
        .iter()
        .map(|p| {
            if p.host_port == 0 {
                format!("{}/{}", p.container_port, p.proto)
            } else {
                let ip = if p.host_ip.is_empty() {
                    "0.0.0.0"
                } else {
                    &p.host_ip
                };
                format!("{ip}:{}->{}/{}", p.host_port, p.container_port, p.proto)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn table(rows: &[Vec<String>]) {
    let mut widths = vec![0; rows.first().map(Vec::len).unwrap_or(0)];
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let mut out = std::io::stdout().lock();
    for r in rows {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            if i + 1 == r.len() {
                line.push_str(c);
            } else {
                line.push_str(&format!("{c:<w$}   ", w = widths[i]));
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
}

fn ps(env: &Env, a: PsArgs, ctx: &Ctx) -> Result<(), EngineError> {
    let (name, project) = env.name_and_project()?;
    if a.services && !a.quiet {
        if let Some(p) = &project {
            for s in p.services.keys() {
                if a.names.is_empty() || a.names.contains(s) {
                    println!("{s}");
                }
            }
            return Ok(());
        }
    }
    let cs: Vec<ContainerState> = status::containers(ctx.api(), &ctx.caller, &name)?
        .into_iter()
        .filter(|c| a.names.is_empty() || a.names.contains(&c.service))
        .filter(|c| {
            a.all
                || !a.status.is_empty()
                || c.state != ContainerStatus::Exited && c.state != ContainerStatus::Created
        })
        .filter(|c| a.status.is_empty() || a.status.iter().any(|s| s == c.state.as_str()))
        .collect();
    if a.quiet {
        for c in &cs {
            println!("{}", c.id);
        }
        return Ok(());
    }
    if a.services {
        let mut seen = std::collections::BTreeSet::new();
        for c in &cs {
            if seen.insert(c.service.clone()) {
                println!("{}", c.service);
            }
        }
        return Ok(());
    }
    match a.format.as_str() {
        "json" => {
            let rows: Vec<serde_json::Value> = cs
                .iter()
                .map(|c| {
                    serde_json::json!({
                        "ID": c.id,
                        "Name": c.name,
                        "Image": c.image,
                        "Command": c.command,
                        "Project": name,
                        "Service": c.service,
                        "Created": c.created,
                        "State": c.state.as_str(),
                        "Status": c.status,
                        "Health": c.health.map(|h| format!("{h:?}").to_lowercase()).unwrap_or_default(),
                        "ExitCode": c.exit_code.unwrap_or(0),
                        "Labels": c.labels,
                        "Publishers": c.ports.iter().map(|p| serde_json::json!({
                            "URL": p.host_ip, "TargetPort": p.container_port,
                            "PublishedPort": p.host_port, "Protocol": p.proto,
                        })).collect::<Vec<_>>(),
                    })
                })
                .collect();
            println!("{}", serde_json::Value::Array(rows));
        }
        "table" => {
            let mut rows = vec![[
                "NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS",
            ]
            .map(String::from)
            .to_vec()];
            for c in &cs {
                let mut cmd: String = c.command.chars().take(20).collect();
                if c.command.chars().count() > 20 {
                    cmd.push('…');
                }
                rows.push(vec![
                    c.name.clone(),
                    c.image.clone(),
                    format!("{cmd:?}"),
                    c.service.clone(),
                    super::ago(c.created),
                    c.status.clone(),
                    ports_text(c),
                ]);
            }
            table(&rows);
        }
        o => {
            return Err(EngineError::invalid(format!(
                "invalid --format {o:?}: use table or json"
            )))
        }
    }
    Ok(())
}

const COLORS: &[&str] = &["36", "33", "32", "35", "34", "96", "93", "92", "95", "94"];

#[allow(clippy::too_many_arguments)]
fn follow_logs(
    ctx: &Ctx,
    project: &str,
    services: &[String],
    follow: bool,
    tail: Option<usize>,
    timestamps: bool,
    color: bool,
    prefix: bool,
) -> Result<(), EngineError> {
    let cs: Vec<ContainerState> = status::containers(ctx.api(), &ctx.caller, project)?
        .into_iter()
        .filter(|c| !c.oneoff && (services.is_empty() || services.contains(&c.service)))
        .collect();
    let width = cs.iter().map(|c| c.name.len()).max().unwrap_or(0);
    let mut svc_index: BTreeMap<String, usize> = BTreeMap::new();
    for c in &cs {
        let n = svc_index.len();
        svc_index.entry(c.service.clone()).or_insert(n);
    }
    let out = Mutex::new(());
    let errors: Mutex<Vec<EngineError>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for c in &cs {
            let (out, errors, svc_index) = (&out, &errors, &svc_index);
            scope.spawn(move || {
                let head = if prefix {
                    let text = format!("{:<width$} | ", c.name);
                    if color {
                        let code = COLORS[svc_index[&c.service] % COLORS.len()];
                        format!("\x1b[{code}m{text}\x1b[0m")
                    } else {
                        text
                    }
                } else {
                    String::new()
                };
                let opts = LogOptions {
                    follow,
                    tail,
                    since: None,
                    until: None,
                    stdout: true,
                    stderr: true,
                };
                let r = ctx
                    .api()
                    .container_logs(&ctx.caller, &c.id, &opts, &mut |l| {
                        if STOP.load(Ordering::SeqCst) {
                            return false;
                        }
                        let _g = out.lock();
                        let mut o = std::io::stdout().lock();
                        let line = l.log.strip_suffix('\n').unwrap_or(&l.log);
                        let r = if timestamps {
                            writeln!(o, "{head}{} {line}", l.time)
                        } else {
                            writeln!(o, "{head}{line}")
                        };
                        let _ = o.flush();
                        r.is_ok()
                    });
                if let Err(e) = r {
                    if let Ok(mut v) = errors.lock() {
                        v.push(e.context(format!("logs of {}", c.name)));
                    }
                }
            });
        }
    });
    match errors.into_inner().ok().and_then(|mut v| v.pop()) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn logs(env: &Env, a: LogsArgs, ctx: &Ctx) -> Result<(), EngineError> {
    let (name, project) = env.name_and_project()?;
    if let Some(p) = &project {
        for s in &a.services {
            ops::service(p, s)?;
        }
    }
    let tail = if a.tail == "all" || a.tail == "-1" {
        None
    } else {
        Some(a.tail.parse::<usize>().map_err(|_| {
            EngineError::invalid(format!("invalid --tail {:?}: use a number or all", a.tail))
        })?)
    };
    follow_logs(
        ctx,
        &name,
        &a.services,
        a.follow,
        tail,
        a.timestamps,
        env.color(a.no_color),
        !a.no_log_prefix,
    )
}

fn find_container(
    ctx: &Ctx,
    project: &str,
    service: &str,
    index: u32,
) -> Result<ContainerState, EngineError> {
    status::containers(ctx.api(), &ctx.caller, project)?
        .into_iter()
        .find(|c| !c.oneoff && c.service == service && c.number == index)
        .ok_or_else(|| {
            EngineError::not_found(
                "container",
                &format!("{project}-{service}-{index}"),
                &format!("service {service} has no container number {index}: run `wharf compose up -d {service}` first"),
            )
        })
}

fn exec(env: &Env, a: ExecArgs, ctx: &Ctx) -> i32 {
    let (name, project) = match env.name_and_project() {
        Ok(x) => x,
        Err(e) => return fail(&e),
    };
    if let Some(p) = &project {
        if let Err(e) = ops::service(p, &a.service) {
            return fail(&e);
        }
    }
    let c = match find_container(ctx, &name, &a.service, a.index) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    let tty = !a.no_tty && !a.detach && std::io::stdin().is_terminal();
    let mut envs = Vec::new();
    for e in &a.env {
        match super::env::env_value("-e", e) {
            Ok(v) => envs.extend(v),
            Err(e) => return fail(&e),
        }
    }
    let cfg = ExecConfig {
        cmd: a.cmd,
        env: envs,
        user: a.user,
        workdir: a.workdir,
        tty,
        stdin: !a.detach && !a.no_tty,
        detach: a.detach,
        console_size: super::session::console_size(tty),
    };
    match ctx.api().exec(&ctx.caller, &c.id, &cfg) {
        Ok(s) => match s.stream {
            Some(sock) => super::session::stream(sock, cfg.stdin, tty),
            None => 0,
        },
        Err(e) => fail(&e),
    }
}

fn run_one(env: &Env, a: RunArgs, ctx: &Ctx) -> i32 {
    let project = match env.project() {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    let svc = match ops::service(&project, &a.service) {
        Ok(s) => s.clone(),
        Err(e) => return fail(&e),
    };
    // What it depends on comes up first.
    if !a.no_deps && !svc.depends_on.is_empty() {
        let opts = UpOptions {
            services: svc.depends_on.keys().cloned().collect(),
            ..Default::default()
        };
        if let Err(e) = ops::up(ctx.api(), &ctx.caller, &project, &opts, &printer) {
            return fail(&e);
        }
    }
    let mut spec = match ops::run_spec(&project, &svc, a.service_ports) {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    if let Some(n) = &a.name {
        spec.name = Some(n.clone());
    }
    if !a.cmd.is_empty() {
        spec.cmd = Some(a.cmd.clone());
    }
    if let Some(e) = &a.entrypoint {
        spec.entrypoint = Some(match compose::spec::shell_words(e) {
            Ok(w) => w,
            Err(m) => return fail(&EngineError::invalid(format!("--entrypoint: {m}"))),
        });
    }
    if let Some(u) = &a.user {
        spec.user = Some(u.clone());
    }
    if let Some(w) = &a.workdir {
        spec.workdir = Some(w.clone());
    }
    for e in &a.env {
        match super::env::env_value("-e", e) {
            Ok(Some(kv)) => {
                let k = kv.split('=').next().unwrap_or("").to_string();
                spec.env.retain(|x| x.split('=').next() != Some(k.as_str()));
                spec.env.push(kv);
            }
            Ok(None) => {}
            Err(e) => return fail(&e),
        }
    }
    match super::parse_labels(&a.label) {
        Ok(l) => spec.labels.extend(l),
        Err(e) => return fail(&e),
    }
    let tty = !a.no_tty && !a.detach && std::io::stdin().is_terminal();
    spec.tty = tty;
    spec.open_stdin = !a.detach && !a.no_tty;
    spec.auto_remove = a.rm;
    // The same check as up, for the one-off container.
    let mut check = spec.clone();
    check.check_only = true;
    if let Err(e) = ctx.api().container_create(&ctx.caller, &check) {
        return fail(&e.context(format!("service {}", svc.name)));
    }
    // Its image, networks and volumes, as up makes them.
    if let Err(e) = ops::prepare(ctx.api(), &ctx.caller, &project, &svc.name, &printer) {
        return fail(&e);
    }
    let name = spec.name.clone().unwrap_or_default();
    let id = match ctx.api().container_create(&ctx.caller, &spec) {
        Ok(id) => id,
        Err(e) => return fail(&e.context(format!("service {}", svc.name))),
    };
    if a.detach {
        return match ctx.api().container_start(&ctx.caller, &id) {
            Ok(()) => {
                println!("{name}");
                0
            }
            Err(e) => fail(&e),
        };
    }
    let size = super::session::console_size(tty);
    match ctx.api().container_start_attached(&ctx.caller, &id, size) {
        Ok(s) => super::session::stream(s, spec.open_stdin, tty),
        Err(e) => fail(&e),
    }
}

fn build(env: &Env, a: Services) -> Result<(), EngineError> {
    let p = env.project()?;
    let names: Vec<String> = if a.services.is_empty() {
        p.services.keys().cloned().collect()
    } else {
        a.services.clone()
    };
    for n in &names {
        let s = ops::service(&p, n)?;
        if s.build.is_some() {
            return Err(EngineError::invalid(format!(
                "service {n} has a build section: building images in compose is not available yet in wharf; build or load the image {} another way",
                ops::image_of(&p, s)
            )));
        }
        eprintln!(" Service {n}  Skipped: uses image {}", ops::image_of(&p, s));
    }
    Ok(())
}

fn config(env: &Env, a: ConfigArgs) -> Result<(), EngineError> {
    let p = env.project()?;
    if a.quiet {
        return Ok(());
    }
    if a.services {
        for s in p.services.keys() {
            println!("{s}");
        }
        return Ok(());
    }
    if a.volumes {
        for v in p.volumes.keys() {
            println!("{v}");
        }
        return Ok(());
    }
    if a.profiles {
        let mut all = std::collections::BTreeSet::new();
        for s in p.services.values().chain(p.disabled.values()) {
            all.extend(s.profiles.iter().cloned());
        }
        for x in all {
            println!("{x}");
        }
        return Ok(());
    }
    let v = p.to_compose();
    match a.format.as_str() {
        "json" => println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default()),
        "yaml" => print!("{}", compose::yaml::to_yaml(&v).trim_start()),
        o => {
            return Err(EngineError::invalid(format!(
                "invalid --format {o:?}: use yaml or json"
            )))
        }
    }
    Ok(())
}

fn ls(a: LsArgs, ctx: &Ctx) -> Result<(), EngineError> {
    let list = status::projects(ctx.api(), &ctx.caller, a.all)?;
    if a.quiet {
        for p in &list {
            println!("{}", p.name);
        }
        return Ok(());
    }
    match a.format.as_str() {
        "json" => {
            let rows: Vec<serde_json::Value> = list
                .iter()
                .map(|p| serde_json::json!({"Name": p.name, "Status": p.status, "ConfigFiles": p.config_files}))
                .collect();
            println!("{}", serde_json::Value::Array(rows));
        }
        "table" => {
            let mut rows = vec![vec![
                "NAME".to_string(),
                "STATUS".into(),
                "CONFIG FILES".into(),
            ]];
            for p in &list {
                rows.push(vec![
                    p.name.clone(),
                    p.status.clone(),
                    p.config_files.clone(),
                ]);
            }
            table(&rows);
        }
        o => {
            return Err(EngineError::invalid(format!(
                "invalid --format {o:?}: use table or json"
            )))
        }
    }
    Ok(())
}

fn images(env: &Env, a: Services, ctx: &Ctx) -> Result<(), EngineError> {
    let (name, _) = env.name_and_project()?;
    let cs = status::containers(ctx.api(), &ctx.caller, &name)?;
    let mut rows = vec![vec![
        "CONTAINER".to_string(),
        "IMAGE".into(),
        "IMAGE ID".into(),
    ]];
    for c in cs
        .iter()
        .filter(|c| a.services.is_empty() || a.services.contains(&c.service))
    {
        let id = ctx
            .api()
            .image_inspect(&ctx.caller, &c.image)
            .ok()
            .and_then(|j| {
                j["Id"]
                    .as_str()
                    .map(|s| s.trim_start_matches("sha256:").chars().take(12).collect())
            })
            .unwrap_or_default();
        rows.push(vec![c.name.clone(), c.image.clone(), id]);
    }
    table(&rows);
    Ok(())
}
