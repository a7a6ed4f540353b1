//! `wharf`: the console (no arguments), the docker-style CLI, and (later) the server.

mod cli;
mod console;
mod hosts;

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use wharf_engine::{EngineOptions, LocalEngine};

/// A terminal console for containers, with its own engine.
#[derive(Debug, Parser)]
#[command(name = "wharf", version, about, long_about = None, disable_version_flag = true)]
struct Opts {
    /// Print the version and exit (`wharf version` shows the engine's too).
    #[arg(short = 'v', long = "version", action = clap::ArgAction::Version)]
    version: Option<bool>,

    /// State root (images, containers, volumes, networks, journals).
    #[arg(long, global = true, env = "WHARF_ROOT", default_value = wharf_engine::state::DEFAULT_ROOT)]
    root: PathBuf,

    /// As an admin, act as another user (name or uid) to preview what they see and may
    /// do; the preview itself is audited. Embedded engine only.
    #[arg(long = "as", global = true, value_name = "USER")]
    as_user: Option<String>,

    /// Use another engine than the embedded one: a `wharf serve`
    /// (`unix:///run/wharf/wharf.sock`, `ssh://user@host`), Docker or Podman
    /// (`unix:///var/run/docker.sock`, `tcp://host:2376`, `docker+ssh://user@host`,
    /// `podman+unix:///run/podman/podman.sock`), `local` for the embedded one, or a name
    /// from the hosts file or the docker contexts. The console takes it several times
    /// and shows them all.
    #[arg(long, global = true, env = "WHARF_HOST")]
    host: Vec<String>,

    /// Policy file mapping users to roles (default /etc/wharf/policy.json if it exists;
    /// without one wharf is single-user and the caller is admin).
    #[arg(long, global = true, env = "WHARF_POLICY")]
    policy: Option<PathBuf>,

    /// Console key bindings: a built-in keymap (`default`, `vim`) or a JSON file.
    /// Without it: $XDG_CONFIG_HOME/wharf/keymap.json if it exists, else `default`.
    #[arg(long, global = true, env = "WHARF_KEYMAP", value_name = "NAME|PATH")]
    keymap: Option<String>,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
enum Command {
    #[command(flatten)]
    System(cli::system::Cmd),
    #[command(flatten)]
    Networks(cli::networks::Cmd),
    #[command(flatten)]
    Audit(cli::audit::Cmd),
    #[command(flatten)]
    Serve(cli::serve::Cmd),
    #[command(flatten)]
    Volume(cli::volumes::Cmd),
    #[command(flatten)]
    Stats(cli::stats::Cmd),
    #[command(flatten)]
    Images(cli::images::Cmd),
    #[command(flatten)]
    Containers(cli::containers::Cmd),
    #[command(flatten)]
    Registry(cli::registry::Cmd),
    #[command(flatten)]
    Toolbox(cli::toolbox::Cmd),
    #[command(flatten)]
    Journal(cli::journal::Cmd),
    #[command(flatten)]
    Trace(cli::trace::Cmd),
    #[command(flatten)]
    Build(cli::build::Cmd),
    #[command(flatten)]
    Compose(cli::compose::Cmd),
}

/// Run one command of the command line (everything but the console and its replay) on
/// `ctx`; the exit code. The console runs the commands typed at its `:` prompt here too.
fn dispatch(command: Command, ctx: &cli::Ctx) -> i32 {
    match command {
        Command::System(c) => cli::system::run(c, ctx),
        Command::Networks(c) => cli::networks::run(c, ctx),
        Command::Audit(c) => cli::audit::run(c, ctx),
        Command::Serve(c) => cli::serve::run(c, ctx),
        Command::Volume(c) => cli::volumes::run(c, ctx),
        Command::Stats(c) => cli::stats::run(c, ctx),
        Command::Images(c) => cli::images::run(c, ctx),
        Command::Containers(c) => cli::containers::run(c, ctx),
        Command::Registry(c) => cli::registry::run(c, ctx),
        Command::Toolbox(c) => cli::toolbox::run(c, ctx),
        Command::Journal(c) => cli::journal::run(c, ctx),
        Command::Trace(c) => cli::trace::run(c, ctx),
        Command::Build(c) => cli::build::run(c, ctx),
        Command::Compose(c) => cli::compose::run(c, ctx),
    }
}

/// The console's session (journal, preview, replay) on `ctx`, or the exit code of a
/// journal that cannot be replayed.
fn session(
    ctx: &cli::Ctx,
    opts: &Opts,
    replay: Option<&std::path::Path>,
) -> Result<console::Session, i32> {
    let replay = match replay.map(console::teach::Replay::load).transpose() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("wharf: {e}");
            return Err(125);
        }
    };
    Ok(console::Session {
        journal_dir: cli::journal::dir(ctx),
        preview_by: opts
            .as_user
            .as_ref()
            .map(|_| cli::resolve_caller(None).name),
        remote: ctx.local.is_none(),
        replay,
    })
}

/// The console on `ctx`'s engine (the first of `hosts`), replaying `replay` if given.
fn console(
    ctx: &cli::Ctx,
    opts: &Opts,
    replay: Option<&std::path::Path>,
    hosts: console::Hosts,
) -> i32 {
    // The policy may change while the console runs (the accounts pane, an edit by
    // hand): the embedded engine follows its file.
    let _watch = ctx
        .local
        .as_ref()
        .and_then(|e| e.watch_policy(std::time::Duration::from_secs(1)));
    // The role decides what the console offers, as the engine reports it (through
    // --host too); the engine still checks every call.
    let role = wharf_engine::api::AuditApi::permissions(ctx.api.as_ref(), &ctx.caller)
        .ok()
        .map(|p| wharf_engine::policy::EffectiveRole::from_permissions(&p));
    let session = match session(ctx, opts, replay) {
        Ok(s) => s,
        Err(code) => return code,
    };
    // The first host as the console acts on it: with --as, the previewed user.
    let mut hosts = hosts;
    hosts.first_conn = hosts.first_conn.map(|mut c| {
        c.caller = ctx.caller.clone();
        c.role = role.clone();
        c
    });
    console::run(
        ctx.api.clone(),
        ctx.caller.clone(),
        role,
        opts.keymap.as_deref(),
        hosts,
        session,
    )
}

/// Options that may come from the environment (`WHARF_ROOT`, `WHARF_HOST`, ...) count
/// an empty value as unset, as Docker does with an empty `DOCKER_HOST`: clap would take
/// it as given and refuse it (or use "" as a host).
fn unset_empty_env() {
    // Building the parser to find the names costs as much as parsing: only when some
    // WHARF_ setting is empty at all.
    if !std::env::vars_os()
        .any(|(k, v)| v.is_empty() && k.as_encoded_bytes().starts_with(b"WHARF_"))
    {
        return;
    }
    fn walk(c: &clap::Command) {
        for a in c.get_arguments() {
            if let Some(k) = a.get_env() {
                if std::env::var_os(k).is_some_and(|v| v.is_empty()) {
                    // No other thread runs yet.
                    std::env::remove_var(k);
                }
            }
        }
        for sub in c.get_subcommands() {
            walk(sub);
        }
    }
    // Subcommands' arguments are deferred (`#[command(defer = true)]`): build them all.
    let mut cmd = <Opts as clap::CommandFactory>::command();
    cmd.build();
    walk(&cmd);
}

/// How long an idle bridge stays up for the next container: `WHARF_BRIDGE_GRACE`
/// seconds (0: removed with its last container), 30 s by default.
fn bridge_grace() -> std::time::Duration {
    std::env::var("WHARF_BRIDGE_GRACE")
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(std::time::Duration::from_secs_f64)
        .unwrap_or(wharf_engine::local::DEFAULT_BRIDGE_GRACE)
}

/// `wharf --root ROOT __monitor ID --sync-fd N [--attach-fd M]`, exactly as the engine
/// starts a container's monitor: run it without the command line's start-up (building
/// the parser of every command, the hosts file and docker contexts, the caller's
/// account), a good part of a short container's start. `None`: not that command line.
fn monitor_fast_path(argv: &[std::ffi::OsString]) -> Option<i32> {
    let [_, r, root, m, id, s, sync, rest @ ..] = argv else {
        return None;
    };
    if r != "--root" || m != "__monitor" || s != "--sync-fd" {
        return None;
    }
    let sync: i32 = sync.to_str()?.parse().ok()?;
    let attach: Option<i32> = match rest {
        [] => None,
        [a, fd] if a == "--attach-fd" => Some(fd.to_str()?.parse().ok()?),
        _ => return None,
    };
    Some(run_monitor(
        std::path::Path::new(root),
        id.to_str()?,
        sync,
        attach,
    ))
}

/// A container's monitor on `root`, as `wharf --root ROOT __monitor ID --sync-fd SYNC
/// [--attach-fd ATTACH]` runs it, also in a forked `wharf run` (see
/// `wharf_engine::runtime::monitor::run_in_forks`). Returns the exit code.
fn run_monitor(root: &std::path::Path, id: &str, sync: i32, attach: Option<i32>) -> i32 {
    // As `--policy`'s default: the environment's WHARF_POLICY (empty: unset), then the
    // policy file's usual place.
    let policy_path = std::env::var_os("WHARF_POLICY")
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from);
    // Its stderr goes nowhere: a failure to start is said on the sync pipe.
    let policy = match cli::load_policy(policy_path.as_deref()) {
        Ok(p) => p.map(Arc::new),
        Err(e) => return wharf_engine::runtime::monitor::fail_early(sync, &e.to_string()),
    };
    match open_engine(root, policy, true) {
        Ok(engine) => wharf_engine::runtime::monitor::main(&engine, id, Some(sync), attach),
        Err(e) => wharf_engine::runtime::monitor::fail_early(sync, &e.to_string()),
    }
}

/// The embedded engine on `root` as the command line opens it (`internal`: for a
/// process the engine started for itself, which skips the crash recovery).
fn open_engine(
    root: &std::path::Path,
    policy: Option<Arc<wharf_engine::policy::Policy>>,
    internal: bool,
) -> Result<LocalEngine, wharf_engine::EngineError> {
    let opts = EngineOptions {
        policy,
        bridge_grace: Some(bridge_grace()),
        internal,
        ..Default::default()
    };
    LocalEngine::open(root, opts).map_err(|e| {
        wharf_engine::EngineError::unavailable(format!(
            "cannot open the state root {}: {e}",
            root.display()
        ))
    })
}

fn main() {
    // Die quietly on a closed pipe (`wharf ps | head`), as other command-line tools do.
    // SAFETY: setting a signal disposition to the default before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(code) = monitor_fast_path(&args) {
        std::process::exit(code);
    }
    // `wharf run` and the like start their containers' monitors by forking.
    wharf_engine::runtime::monitor::run_in_forks(run_monitor);
    unset_empty_env();
    // Usage errors (an unknown flag, a missing value) exit 125 as Docker's CLI does;
    // --help and --version exit 0.
    // Docker's `-H HOST` before the command is wharf's --host.
    let mut argv: Vec<String> = std::env::args().collect();
    for a in argv.iter_mut().skip(1) {
        if !a.starts_with('-') {
            break;
        }
        if a == "-H" {
            *a = "--host".into();
        } else if let Some(h) = a.strip_prefix("-H=") {
            *a = format!("--host={h}");
        }
    }
    let opts = Opts::try_parse_from(&argv).unwrap_or_else(|e| {
        let code = if e.use_stderr() { 125 } else { 0 };
        // A docker flag or command wharf lacks is refused in wharf's words.
        match cli::refusals::explain(&e, &argv) {
            Some(m) => eprintln!("{m}"),
            None => {
                let _ = e.print();
            }
        }
        std::process::exit(code)
    });
    let policy = match cli::load_policy(opts.policy.as_deref()) {
        Ok(p) => p.map(Arc::new),
        Err(e) => {
            eprintln!("wharf: {e}");
            std::process::exit(125);
        }
    };
    // The hosts wharf knows: the hosts file, then the docker contexts.
    let mut known = match hosts::hosts_file() {
        Some(f) => hosts::load_file(&f).unwrap_or_else(|e| {
            eprintln!("wharf: {e}");
            std::process::exit(125);
        }),
        None => Vec::new(),
    };
    for c in hosts::docker_contexts() {
        if !known.iter().any(|k| k.name == c.name) {
            known.push(c);
        }
    }
    let chosen = hosts::resolve(&opts.host, &known).unwrap_or_else(|e| {
        eprintln!("wharf: {e}");
        std::process::exit(125);
    });
    if chosen.len() > 1 && opts.command.is_some() {
        eprintln!("wharf: a command acts on one host; name one --host (the console takes several)");
        std::process::exit(125);
    }
    if opts.as_user.is_some() && chosen.iter().any(|h| h.kind != Some(hosts::Kind::Local)) {
        eprintln!("wharf: --as works on the embedded engine only; through --host the server decides who you are");
        std::process::exit(125);
    }
    let me = cli::resolve_caller(policy.as_deref());
    let root = opts.root.clone();
    let local_policy = policy.clone();
    let local_cell: std::sync::Arc<std::sync::OnceLock<Arc<LocalEngine>>> = Default::default();
    let cell = local_cell.clone();
    // A container's monitor and the bridge keeper run on an engine their starter opened
    // (and recovered) already.
    let internal = matches!(
        opts.command,
        Some(Command::Containers(
            cli::containers::Cmd::Monitor(_) | cli::containers::Cmd::BridgeKeeper
        ))
    );
    // The console lists again and again (`wharf serve` says so itself).
    let lists_often = opts.command.is_none();
    let open_local = move || -> Result<Arc<LocalEngine>, wharf_engine::EngineError> {
        if let Some(e) = cell.get() {
            return Ok(e.clone());
        }
        let e = open_engine(&root, local_policy.clone(), internal)?;
        if lists_often {
            e.lists_often();
        }
        Ok(cell.get_or_init(|| Arc::new(e)).clone())
    };
    // The console with several hosts reaches them itself (none waits for another).
    if opts.command.is_none() && chosen.len() > 1 {
        let others: Vec<hosts::HostSpec> = known
            .iter()
            .filter(|k| !chosen.iter().any(|c| c.url == k.url))
            .cloned()
            .collect();
        let session = console::Session {
            journal_dir: cli::journal::user_dir(),
            remote: true,
            ..Default::default()
        };
        let code = console::run_fleet(
            chosen,
            others,
            me,
            Arc::new(open_local),
            opts.keymap.as_deref(),
            session,
        );
        std::process::exit(code);
    }
    let first = chosen
        .into_iter()
        .next()
        .unwrap_or_else(hosts::HostSpec::local);
    let first_spec = first.clone();
    let connected = hosts::connect(&first, &me, &open_local).map(|c| {
        // The console's hosts pane shows the version; a command does not need it.
        if opts.command.is_none() {
            c.described()
        } else {
            c
        }
    });
    let first_conn = connected.as_ref().ok().cloned();
    let ctx = match connected {
        Ok(c) if c.kind == hosts::Kind::Local => {
            let e = c.local.clone().expect("the embedded engine");
            let caller = match &opts.as_user {
                Some(user) => match cli::preview_as(&e, &me, user) {
                    Ok(c) => c,
                    Err(err) => {
                        cli::report(&err);
                        std::process::exit(125);
                    }
                },
                None => me.clone(),
            };
            cli::Ctx {
                api: e.clone(),
                local: Some(e),
                caller,
            }
        }
        Ok(c) => cli::Ctx {
            api: c.engine.clone(),
            local: None,
            caller: c.caller.clone(),
        },
        Err(e) => {
            eprintln!("wharf: {e}");
            std::process::exit(125);
        }
    };
    let code = match opts.command {
        None
        | Some(Command::Journal(cli::journal::Cmd::Journal {
            cmd: cli::journal::JournalCmd::Replay(_),
        })) => {
            let replay = match &opts.command {
                Some(Command::Journal(cli::journal::Cmd::Journal {
                    cmd: cli::journal::JournalCmd::Replay(a),
                })) => Some(a.file.clone()),
                _ => None,
            };
            // The other known hosts are there to switch to (`:host NAME`) and in the
            // hosts pane.
            let others: Vec<hosts::HostSpec> = known
                .iter()
                .filter(|k| k.url != first_spec.url)
                .cloned()
                .collect();
            console(
                &ctx,
                &opts,
                replay.as_deref(),
                console::Hosts {
                    first: first_spec,
                    others,
                    me: me.clone(),
                    open_local: Arc::new(open_local),
                    first_conn,
                },
            )
        }
        Some(c) => dispatch(c, &ctx),
    };
    std::process::exit(code);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `WHARF_ROOT=` is unset, not an empty path (which clap refused).
    #[test]
    fn an_empty_environment_setting_counts_as_unset() {
        std::env::set_var("WHARF_ROOT", "");
        std::env::set_var("WHARF_KEYMAP", "");
        assert!(
            Opts::try_parse_from(["wharf"]).is_err(),
            "clap takes it as given"
        );
        unset_empty_env();
        let o = Opts::try_parse_from(["wharf"]).expect("parses");
        assert_eq!(o.root, PathBuf::from(wharf_engine::state::DEFAULT_ROOT));
        assert_eq!(o.keymap, None);
        assert!(std::env::var_os("WHARF_ROOT").is_none());
    }

    /// Subcommands' arguments are built late (`#[command(defer = true)]`): a doc comment
    /// on an arguments struct or a nested command enum would then replace the command's
    /// own help line. Every command keeps the line its parent lists it with.
    #[test]
    fn deferred_arguments_keep_each_commands_help_line() {
        fn lines(c: &clap::Command, path: &str, out: &mut Vec<(String, Option<String>)>) {
            for sub in c.get_subcommands() {
                let p = format!("{path} {}", sub.get_name());
                out.push((p.clone(), sub.get_about().map(|a| a.to_string())));
                lines(sub, &p, out);
            }
        }
        let declared = <Opts as clap::CommandFactory>::command();
        let mut built = declared.clone();
        built.build();
        let (mut before, mut after) = (Vec::new(), Vec::new());
        lines(&declared, "wharf", &mut before);
        lines(&built, "wharf", &mut after);
        assert!(before.len() > 50, "{} commands", before.len());
        for (path, about) in &before {
            let now = after.iter().find(|(p, _)| p == path).map(|(_, a)| a);
            assert_eq!(now, Some(about), "{path}");
            assert!(about.is_some(), "{path} has no help line");
        }
    }
}
