//! The container toolbox: exec, top, cp, diff, commit, export; the `--health-*` flags
//! of run/create; and the hidden `__exec` and `__health` helpers the engine re-executes.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::{Component, Path, PathBuf};

use clap::{Args, Subcommand};
use wharf_engine::api::flags;
use wharf_engine::api::{CommitOptions, ExecConfig, HealthConfig};
use wharf_engine::runtime::exec::exit_code_of;
use wharf_engine::{Caller, Engine, EngineError, ErrorKind};

use super::{print_table, report, Ctx};

/// Toolbox commands.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Cmd {
    /// Run a command in a running container.
    Exec(ExecArgs),
    /// Show the running processes of a container.
    Top(TopArgs),
    /// Copy files between a container and the host (tar with `-`).
    Cp(CpArgs),
    /// Show changes to a container's file system (A added, C changed, D deleted).
    Diff(OneArgs),
    /// Make a new image from a container's changes.
    Commit(CommitArgs),
    /// Write a container's file system as a tar archive.
    Export(ExportArgs),
    /// Internal: the exec helper (started by the engine).
    #[command(name = "__exec", hide = true)]
    ExecHelper,
    /// Internal: the health checker (started by a container's monitor).
    #[command(name = "__health", hide = true)]
    Health(HealthHelperArgs),
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Keep stdin open.
    #[arg(short = 'i', long)]
    interactive: bool,
    /// Allocate a pseudo-terminal.
    #[arg(short = 't', long)]
    tty: bool,
    /// Run in the background.
    #[arg(short = 'd', long)]
    detach: bool,
    /// Environment variable KEY=VALUE (or KEY to pass this shell's value).
    #[arg(short = 'e', long = "env")]
    env: Vec<String>,
    /// user[:group] (names or ids).
    #[arg(short = 'u', long)]
    user: Option<String>,
    /// Working directory inside the container (an absolute path).
    #[arg(short = 'w', long)]
    workdir: Option<String>,
    /// Read environment variables from a file.
    #[arg(long = "env-file")]
    env_file: Vec<String>,
    /// Keys to detach: a comma-separated sequence like ctrl-p,ctrl-q (the default).
    #[arg(long = "detach-keys")]
    detach_keys: Option<String>,
    /// Container name or id.
    container: String,
    /// Command and arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    cmd: Vec<String>,
}

impl ExecArgs {
    /// `exec` without `-d`: the process's stdio is on this terminal.
    pub fn attached(&self) -> bool {
        !self.detach
    }
}

#[derive(Debug, Args)]
pub struct TopArgs {
    /// Container name or id.
    container: String,
    /// ps options: only `-ef` (the columns wharf shows); others are refused.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    ps_args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct CpArgs {
    /// Archive mode (owners are always kept; accepted for compatibility).
    #[arg(short = 'a', long)]
    archive: bool,
    /// Source: CONTAINER:PATH, a host path, or - (a tar on stdin).
    src: String,
    /// Destination: CONTAINER:PATH, a host path, or - (a tar on stdout).
    dest: String,
}

#[derive(Debug, Args)]
pub struct OneArgs {
    /// Container name or id.
    container: String,
}

#[derive(Debug, Args)]
pub struct CommitArgs {
    /// Author ("Name <email>").
    #[arg(short = 'a', long)]
    author: Option<String>,
    /// Dockerfile instruction to apply to the image config (CMD, ENV, LABEL, ...).
    #[arg(short = 'c', long = "change")]
    change: Vec<String>,
    /// Commit message.
    #[arg(short = 'm', long)]
    message: Option<String>,
    /// Pause the container while committing.
    #[arg(short = 'p', long, default_value_t = true, action = clap::ArgAction::Set)]
    pause: bool,
    /// Container name or id.
    container: String,
    /// REPOSITORY[:TAG] for the new image.
    reference: Option<String>,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write to a file instead of stdout.
    #[arg(short = 'o', long)]
    output: Option<PathBuf>,
    /// Container name or id.
    container: String,
}

#[derive(Debug, Args)]
pub struct HealthHelperArgs {
    id: String,
    #[arg(long)]
    monitor: i32,
}

// `--health-*` flags of run and create. (A plain comment: a doc comment would become
// run's and create's help text, as their arguments are built late: `defer = true`.)
#[derive(Debug, Args, Default, Clone)]
pub struct HealthArgs {
    /// Command to run to check health (through /bin/sh -c).
    #[arg(long = "health-cmd")]
    health_cmd: Option<String>,
    /// Time between checks (ms|s|m|h), 30s by default.
    #[arg(long = "health-interval", allow_hyphen_values = true)]
    health_interval: Option<String>,
    /// Maximum time a check may run, 30s by default.
    #[arg(long = "health-timeout", allow_hyphen_values = true)]
    health_timeout: Option<String>,
    /// Consecutive failures to report unhealthy, 3 by default.
    #[arg(long = "health-retries", allow_hyphen_values = true)]
    health_retries: Option<String>,
    /// Time to start before failures count.
    #[arg(long = "health-start-period", allow_hyphen_values = true)]
    health_start_period: Option<String>,
    /// Disable any container-specified HEALTHCHECK.
    #[arg(long = "no-healthcheck")]
    no_healthcheck: bool,
}

impl HealthArgs {
    /// The `healthcheck` field of the create request.
    pub fn config(&self) -> Result<Option<HealthConfig>, EngineError> {
        let any = self.health_cmd.is_some()
            || self.health_interval.is_some()
            || self.health_timeout.is_some()
            || self.health_retries.is_some()
            || self.health_start_period.is_some();
        if self.no_healthcheck {
            if any {
                return Err(EngineError::invalid(
                    "--no-healthcheck conflicts with --health-* options: use one or the other",
                ));
            }
            return Ok(Some(HealthConfig {
                test: Some(vec!["NONE".into()]),
                ..Default::default()
            }));
        }
        if !any {
            return Ok(None);
        }
        let d = |flag: &str, s: &Option<String>| {
            s.as_deref().map(|v| flags::duration(flag, v)).transpose()
        };
        Ok(Some(HealthConfig {
            test: self
                .health_cmd
                .as_ref()
                .map(|c| vec!["CMD-SHELL".into(), c.clone()]),
            interval_ns: d("--health-interval", &self.health_interval)?,
            timeout_ns: d("--health-timeout", &self.health_timeout)?,
            start_period_ns: d("--health-start-period", &self.health_start_period)?,
            retries: self
                .health_retries
                .as_deref()
                .map(|v| flags::count("--health-retries", v))
                .transpose()?,
        }))
    }
}

fn fail(e: &EngineError) -> i32 {
    report(e);
    exit_code_of(e)
}

/// Run a toolbox command; returns the exit code.
pub fn run(cmd: Cmd, ctx: &Ctx) -> i32 {
    match cmd {
        Cmd::ExecHelper => match ctx.local() {
            Ok(engine) => wharf_engine::runtime::exec::helper_main(engine),
            Err(e) => {
                super::report(&e);
                125
            }
        },
        Cmd::Health(a) => match ctx.local() {
            Ok(engine) => wharf_engine::runtime::toolbox::health::main(engine, &a.id, a.monitor),
            Err(e) => {
                super::report(&e);
                125
            }
        },
        Cmd::Exec(a) => exec(a, ctx),
        Cmd::Top(a) if !(a.ps_args.is_empty() || a.ps_args == ["-ef"]) => fail(&EngineError::invalid(format!(
            "wharf top does not take ps options ({}): it always shows the columns of ps -ef; leave them out",
            a.ps_args.join(" ")
        ))),
        Cmd::Top(a) => match ctx.api().container_top(&ctx.caller, &a.container) {
            Ok(t) => {
                let titles: Vec<&str> = t.titles.iter().map(String::as_str).collect();
                print_table(&titles, &t.processes);
                0
            }
            Err(e) => fail(&e),
        },
        Cmd::Diff(a) => match ctx.api().container_diff(&ctx.caller, &a.container) {
            Ok(changes) => {
                let mut out = super::out::stdout();
                for c in changes {
                    let _ = writeln!(out, "{} {}", c.kind.letter(), c.path);
                }
                0
            }
            Err(e) => fail(&e),
        },
        Cmd::Commit(a) => {
            let opts = CommitOptions {
                reference: a.reference,
                message: a.message,
                author: a.author,
                changes: a.change,
                pause: a.pause,
            };
            match ctx.api().container_commit(&ctx.caller, &a.container, &opts) {
                Ok(id) => {
                    println!("{id}");
                    0
                }
                Err(e) => fail(&e),
            }
        }
        Cmd::Export(a) => export(a, ctx),
        Cmd::Cp(a) => cp(a, ctx),
    }
}

fn exec(a: ExecArgs, ctx: &Ctx) -> i32 {
    if !a.detach {
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
    let mut env = Vec::new();
    for f in &a.env_file {
        match super::env::env_file(f) {
            Ok(v) => env.extend(v),
            Err(e) => return fail(&e),
        }
    }
    for e in &a.env {
        match super::env::env_value("-e", e) {
            Ok(v) => env.extend(v),
            Err(e) => return fail(&e),
        }
    }
    let workdir = match a.workdir.as_deref().map(flags::workdir).transpose() {
        Ok(w) => w,
        Err(e) => return fail(&e),
    };
    let cfg = ExecConfig {
        cmd: a.cmd,
        env,
        user: a.user,
        workdir,
        tty: a.tty,
        stdin: a.interactive,
        detach: a.detach,
        console_size: super::session::console_size(a.tty),
    };
    match ctx.api().exec(&ctx.caller, &a.container, &cfg) {
        Ok(s) => match s.stream {
            Some(sock) => super::session::stream(sock, a.interactive, a.tty),
            None => 0,
        },
        Err(e) => fail(&e),
    }
}

fn export(a: ExportArgs, ctx: &Ctx) -> i32 {
    let res = match &a.output {
        Some(p) => {
            let f = match std::fs::File::create(p) {
                Ok(f) => f,
                Err(e) => {
                    return fail(&EngineError::io(format!("creating {}", p.display()), e));
                }
            };
            let mut w = std::io::BufWriter::new(f);
            ctx.api()
                .container_export(&ctx.caller, &a.container, &mut w)
                .and_then(|_| w.flush().map_err(|e| EngineError::io("writing the tar", e)))
        }
        None => {
            if super::out::stdout_is_terminal() {
                return fail(&EngineError::invalid(
                    "cowardly refusing to write a tar to a terminal: use -o FILE or redirect stdout",
                ));
            }
            let mut w = std::io::BufWriter::new(std::io::stdout().lock());
            ctx.api()
                .container_export(&ctx.caller, &a.container, &mut w)
                .and_then(|_| w.flush().map_err(|e| EngineError::io("writing the tar", e)))
        }
    };
    match res {
        Ok(()) => 0,
        Err(e) => fail(&e),
    }
}

/// `CONTAINER:PATH` split, or `None` for a host path (`./a:b` and `/a:b` are host paths).
fn container_path(s: &str) -> Option<(&str, &str)> {
    if s.starts_with('/') || s.starts_with('.') {
        return None;
    }
    let (c, p) = s.split_once(':')?;
    (!c.is_empty()).then_some((c, p))
}

fn cp(a: CpArgs, ctx: &Ctx) -> i32 {
    let _ = a.archive;
    let res = match (container_path(&a.src), container_path(&a.dest)) {
        (Some(_), Some(_)) => Err(EngineError::invalid(
            "copying between containers is not supported: copy to the host first",
        )),
        (None, None) => Err(EngineError::invalid(
            "one of the paths must be CONTAINER:PATH",
        )),
        (Some((c, p)), None) => copy_from(ctx, c, p, &a.dest),
        (None, Some((c, p))) => copy_to(ctx, &a.src, c, p),
    };
    match res {
        Ok(()) => 0,
        Err(e) => fail(&e),
    }
}

fn abs(p: &str) -> String {
    if p.starts_with('/') {
        p.to_string()
    } else {
        format!("/{p}")
    }
}

fn base_name(p: &str) -> String {
    Path::new(p.trim_end_matches('/'))
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| ".".into())
}

fn copy_from(ctx: &Ctx, ctr: &str, path: &str, dest: &str) -> Result<(), EngineError> {
    let path = abs(path);
    if dest == "-" {
        if super::out::capturing() {
            return Err(EngineError::invalid(
                "cp to - writes a tar to standard output, which the console shows as text: copy to a file instead",
            ));
        }
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        ctx.api()
            .container_archive_get(&ctx.caller, ctr, &path, &mut out)?;
        return out
            .flush()
            .map_err(|e| EngineError::io("writing the tar", e));
    }
    copy_out(ctx.api(), &ctx.caller, ctr, &path, dest)
}

/// `cp CTR:PATH DEST`: `path` in the container (absolute) to the host path `dest` (into
/// it when it is a directory), through the engine's archive call; as the CLI does it,
/// and the console's cp form.
pub fn copy_out(
    api: &dyn Engine,
    caller: &Caller,
    ctr: &str,
    path: &str,
    dest: &str,
) -> Result<(), EngineError> {
    let dest_path = PathBuf::from(dest);
    let into_dir = dest_path.is_dir();
    if !into_dir && dest.ends_with('/') {
        return Err(EngineError::not_found(
            "directory",
            dest,
            "create it first, or name a new file without a trailing /",
        ));
    }
    // The tar streams from the engine (on a thread) into the extraction here.
    let (r, w) = UnixStream::pair().map_err(|e| EngineError::io("creating a socket pair", e))?;
    std::thread::scope(|s| {
        let producer = s.spawn(move || {
            let mut w = std::io::BufWriter::new(w);
            let res = api.container_archive_get(caller, ctr, path, &mut w);
            let _ = w.flush();
            res
        });
        let extract = extract_into(&r, &dest_path, dest, into_dir);
        drop(r);
        let produced = producer
            .join()
            .map_err(|_| EngineError::internal("the copy thread panicked"))?;
        produced?;
        extract
    })
}

/// Unpack the tar coming on `r` at `dest_path` (into it, or as it when it is a new name).
fn extract_into(
    r: &UnixStream,
    dest_path: &Path,
    dest: &str,
    into_dir: bool,
) -> Result<(), EngineError> {
    let dest_path = dest_path.to_path_buf();
    (|| -> Result<(), EngineError> {
        let mut ar = tar::Archive::new(std::io::BufReader::new(r));
        ar.set_preserve_permissions(true);
        ar.set_overwrite(true);
        let (root, rename) = if into_dir {
            (dest_path.clone(), None)
        } else {
            let parent = dest_path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
                .to_path_buf();
            (parent, Some(base_name(dest)))
        };
        let mut real_root: Option<PathBuf> = None;
        for ent in ar
            .entries()
            .map_err(|e| EngineError::io("reading the tar", e))?
        {
            let mut ent = ent.map_err(|e| EngineError::io("reading the tar", e))?;
            let p = ent
                .path()
                .map_err(|e| EngineError::io("reading the tar", e))?
                .into_owned();
            let mut parts: Vec<String> = Vec::new();
            for c in p.components() {
                match c {
                    Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
                    Component::CurDir | Component::RootDir => {}
                    _ => {
                        return Err(EngineError::invalid(format!(
                            "the archive entry {} leaves the destination",
                            p.display()
                        )))
                    }
                }
            }
            if parts.is_empty() {
                continue;
            }
            if let Some(n) = &rename {
                parts[0] = n.clone();
            }
            let rel: PathBuf = parts.iter().collect();
            let target = root.join(&rel);
            let parent = target.parent().unwrap_or(&root).to_path_buf();
            std::fs::create_dir_all(&parent)
                .map_err(|e| EngineError::io(format!("creating {}", parent.display()), e))?;
            // Never write through a symlink that an earlier entry planted. The root is
            // resolved once, when the first entry has made sure it exists.
            let real_root: &Path = match real_root {
                Some(ref r) => r,
                None => real_root
                    .insert(root.canonicalize().map_err(|e| {
                        EngineError::io(format!("resolving {}", root.display()), e)
                    })?),
            };
            let real_parent = parent
                .canonicalize()
                .map_err(|e| EngineError::io(format!("resolving {}", parent.display()), e))?;
            if !real_parent.starts_with(real_root) {
                return Err(EngineError::invalid(format!(
                    "the archive entry {} would be written outside {}: refusing",
                    p.display(),
                    root.display()
                )));
            }
            if ent.header().entry_type().is_dir() && target.is_dir() {
                continue;
            }
            ent.unpack(&target)
                .map_err(|e| EngineError::io(format!("writing {}", target.display()), e))?;
        }
        Ok(())
    })()
}

fn copy_to(ctx: &Ctx, src: &str, ctr: &str, path: &str) -> Result<(), EngineError> {
    let path = abs(path);
    if src == "-" {
        let mut input =
            super::out::stdin_for_data().map_err(|e| EngineError::invalid(e.to_string()))?;
        return ctx
            .api()
            .container_archive_put(&ctx.caller, ctr, &path, &mut input);
    }
    copy_in(ctx.api(), &ctx.caller, src, ctr, &path)
}

/// `cp SRC CTR:PATH`: the host path `src` into the container at `path` (absolute; into
/// it when it is a directory), through the engine's archive call; as the CLI does it,
/// and the console's cp form.
pub fn copy_in(
    api: &dyn Engine,
    caller: &Caller,
    src: &str,
    ctr: &str,
    path: &str,
) -> Result<(), EngineError> {
    let path = path.to_string();
    let src_path = PathBuf::from(src);
    let md = std::fs::symlink_metadata(&src_path)
        .map_err(|e| EngineError::io(format!("reading {src}"), e))?;
    let (dir, name) = match api.container_stat_path(caller, ctr, &path) {
        Ok(st) if st.is_dir => (path.clone(), base_name(src)),
        Ok(_) if md.is_dir() => {
            return Err(EngineError::invalid(format!(
                "cannot copy the directory {src} over the file {ctr}:{path}"
            )))
        }
        Ok(_) => parent_and_name(&path),
        Err(e) if e.kind == ErrorKind::NotFound => {
            if path.ends_with('/') {
                return Err(e);
            }
            parent_and_name(&path)
        }
        Err(e) => return Err(e),
    };
    let (r, w) = UnixStream::pair().map_err(|e| EngineError::io("creating a socket pair", e))?;
    let producer = std::thread::spawn(move || -> std::io::Result<()> {
        let mut b = tar::Builder::new(std::io::BufWriter::new(w));
        b.follow_symlinks(false);
        if md.is_dir() {
            b.append_dir_all(&name, &src_path)?;
        } else {
            b.append_path_with_name(&src_path, &name)?;
        }
        b.into_inner()?.flush()
    });
    let mut reader = std::io::BufReader::new(r);
    let res = api.container_archive_put(caller, ctr, &dir, &mut reader);
    drop(reader);
    let produced = producer
        .join()
        .map_err(|_| EngineError::internal("the copy thread panicked"))?;
    res?;
    produced.map_err(|e| EngineError::io(format!("reading {src}"), e))
}

fn parent_and_name(path: &str) -> (String, String) {
    let p = path.trim_end_matches('/');
    match p.rsplit_once('/') {
        Some((d, n)) => (if d.is_empty() { "/".into() } else { d.into() }, n.into()),
        None => ("/".into(), p.into()),
    }
}
