//! `wharf build` (docker build's flags, the classic builder's output or a live view on
//! a terminal) and `wharf builder prune|ls`.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use wharf_engine::api::{
    classic_lines, BuildCachePruneOptions, BuildContext, BuildEvent, BuildOptions,
};
use wharf_engine::EngineError;

use super::Ctx;

/// Build commands.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Cmd {
    /// Build an image from a Dockerfile.
    Build(Box<BuildArgs>),
    /// Manage the build cache.
    #[command(subcommand)]
    Builder(BuilderCmd),
}

/// `wharf builder ...`
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum BuilderCmd {
    /// Remove the build cache (the records and the intermediate images only it keeps).
    Prune(PruneArgs),
    /// List the build cache's records.
    #[command(alias = "du")]
    Ls,
    /// Build an image from a Dockerfile.
    Build(Box<BuildArgs>),
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Remove all of it (the default: wharf's cache has no shared or internal records).
    #[arg(short, long)]
    pub all: bool,
    /// Do not ask for confirmation.
    #[arg(short, long)]
    pub force: bool,
    /// `until=DURATION|TIMESTAMP`: only records last used before then.
    #[arg(long)]
    pub filter: Vec<String>,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The context: a directory, or `-` for a tar (or a Dockerfile) on standard input.
    pub context: String,
    /// Name and optionally a tag (`name:tag`); may be given several times.
    #[arg(short = 't', long = "tag")]
    pub tags: Vec<String>,
    /// Name of the Dockerfile (default: PATH/Dockerfile); `-` reads it from standard input.
    #[arg(short = 'f', long = "file")]
    pub file: Option<String>,
    /// Set build-time variables (`KEY=VALUE`, or `KEY` to take it from the environment).
    #[arg(long = "build-arg")]
    pub build_args: Vec<String>,
    /// Set metadata for the image.
    #[arg(long = "label")]
    pub labels: Vec<String>,
    /// The build stage to build.
    #[arg(long)]
    pub target: Option<String>,
    /// Do not use the cache.
    #[arg(long = "no-cache")]
    pub no_cache: bool,
    /// Always try to pull newer base images (refused: wharf builds offline).
    #[arg(long)]
    pub pull: bool,
    /// Suppress the build output and print the image ID on success.
    #[arg(short, long)]
    pub quiet: bool,
    /// Network of the RUN steps: none (the default), host, bridge or a network.
    #[arg(long)]
    pub network: Option<String>,
    /// Platform (the host's only).
    #[arg(long)]
    pub platform: Option<String>,
    /// Output: auto (a live view on a terminal), plain (the classic builder's lines), tty.
    #[arg(long, default_value = "auto")]
    pub progress: String,
    /// Write the image ID to the file.
    #[arg(long)]
    pub iidfile: Option<PathBuf>,
    /// Remove intermediate containers after a successful build (always: false is refused).
    #[arg(long, default_value = "true", num_args = 0..=1, default_missing_value = "true")]
    pub rm: String,
    /// Always remove intermediate containers (wharf always does).
    #[arg(long = "force-rm")]
    pub force_rm: bool,
    /// Skip image verification (accepted; wharf verifies nothing remote).
    #[arg(long = "disable-content-trust", default_value = "true", num_args = 0..=1, default_missing_value = "true")]
    pub disable_content_trust: String,
}

fn fail(e: &EngineError) -> i32 {
    super::report(e);
    super::exit_code_for(e)
}

fn usage(msg: impl std::fmt::Display) -> i32 {
    eprintln!("wharf: {msg}");
    125
}

/// Run a build command.
pub fn run(cmd: Cmd, ctx: &Ctx) -> i32 {
    match cmd {
        Cmd::Build(a) => build(*a, ctx),
        Cmd::Builder(BuilderCmd::Build(a)) => build(*a, ctx),
        Cmd::Builder(BuilderCmd::Prune(a)) => prune(a, ctx),
        Cmd::Builder(BuilderCmd::Ls) => match ctx.api().build_cache_list(&ctx.caller) {
            Ok(list) => {
                println!(
                    "{:<14} {:<14} {:>10}  {:<8} CREATED BY",
                    "ID", "IMAGE", "SIZE", "IN USE"
                );
                for e in list {
                    let id = e.id.trim_start_matches("sha256:");
                    println!(
                        "{:<14} {:<14} {:>10}  {:<8} {}",
                        &id[..12.min(id.len())],
                        wharf_engine::api::short_id(&e.image_id),
                        super::human_size(e.size),
                        if e.in_use { "true" } else { "false" },
                        e.created_by
                    );
                }
                0
            }
            Err(e) => fail(&e),
        },
    }
}

fn prune(a: PruneArgs, ctx: &Ctx) -> i32 {
    let mut opts = BuildCachePruneOptions::default();
    for f in &a.filter {
        match f.split_once('=') {
            Some(("until", v)) => match super::system::parse_time(v) {
                Ok(t) => opts.until = Some(t / 1_000_000_000),
                Err(e) => return usage(format!("--filter {f}: {e}")),
            },
            _ => {
                return usage(format!(
                    "--filter {f}: wharf's build cache filters by until=DURATION|TIMESTAMP only"
                ))
            }
        }
    }
    let _ = a.all;
    if !a.force && std::io::stdin().is_terminal() {
        eprint!("WARNING! This will remove all dangling build cache. Are you sure you want to continue? [y/N] ");
        let _ = std::io::stderr().flush();
        let mut l = String::new();
        let _ = std::io::stdin().read_line(&mut l);
        if !matches!(l.trim(), "y" | "Y" | "yes") {
            return 0;
        }
    }
    match ctx.api().build_cache_prune(&ctx.caller, &opts) {
        Ok(r) => {
            if !r.deleted.is_empty() {
                println!("Deleted build cache objects:");
                for d in &r.deleted {
                    println!("{}", d.trim_start_matches("sha256:"));
                }
                println!();
            }
            println!("Total reclaimed space: {}", super::human_size(r.reclaimed));
            0
        }
        Err(e) => fail(&e),
    }
}

/// The Dockerfile's place: (path in the context, or the text when it is elsewhere).
fn dockerfile_of(
    file: Option<&str>,
    context: Option<&Path>,
    stdin_used: &mut bool,
) -> Result<(String, Option<String>), EngineError> {
    match file {
        None => Ok(("Dockerfile".into(), None)),
        Some("-") => {
            *stdin_used = true;
            let mut s = String::new();
            std::io::stdin()
                .take(16 << 20)
                .read_to_string(&mut s)
                .map_err(|e| EngineError::io("reading the Dockerfile from standard input", e))?;
            Ok(("Dockerfile".into(), Some(s)))
        }
        Some(f) => {
            let p = std::fs::canonicalize(f).map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    EngineError::not_found(
                        "Dockerfile",
                        f,
                        "give its path with -f (relative to the current directory)",
                    )
                } else {
                    EngineError::io(format!("opening {f}"), e)
                }
            })?;
            if let Some(c) = context.and_then(|c| std::fs::canonicalize(c).ok()) {
                if let Ok(rel) = p.strip_prefix(&c) {
                    return Ok((rel.to_string_lossy().into_owned(), None));
                }
            }
            let text = std::fs::read_to_string(&p)
                .map_err(|e| EngineError::io(format!("reading {}", p.display()), e))?;
            Ok(("Dockerfile".into(), Some(text)))
        }
    }
}

/// `build ARGS...` read by clap as `wharf build` reads it: the console's `:build` line.
#[derive(Debug, clap::Parser)]
#[command(name = "build", no_binary_name = false)]
pub struct BuildLine {
    #[command(flatten)]
    pub args: BuildArgs,
}

/// What wharf refuses in any build's flags (`--rm=false`, a remote context).
pub fn refused(a: &BuildArgs) -> Option<String> {
    if a.rm == "false" || a.rm == "0" {
        return Some("--rm=false: wharf always removes the containers of build steps (a failed step's too); debug a step with wharf run on the last image instead".into());
    }
    if a.rm != "true" && a.rm != "1" {
        return Some(format!("--rm={}: give true or false", a.rm));
    }
    match a.disable_content_trust.as_str() {
        "true" | "1" => {}
        "false" | "0" => return Some(format!("--disable-content-trust={}: wharf does not verify image signatures (it builds offline, from images already here); leave content trust disabled", a.disable_content_trust)),
        v => return Some(format!("--disable-content-trust={v}: give true or false")),
    }
    if a.context.starts_with("http://")
        || a.context.starts_with("https://")
        || a.context.starts_with("git@")
        || a.context.starts_with("git://")
    {
        return Some(format!("the context {}: remote contexts need the network, and wharf builds offline: clone or download it and build the directory", a.context));
    }
    None
}

/// The engine's options for a build's flags (what `wharf build` and the console's
/// `:build` both send); `-f -` reads the Dockerfile from standard input and sets
/// `stdin_used`.
pub fn options(a: &BuildArgs, stdin_used: &mut bool) -> Result<BuildOptions, EngineError> {
    let mut build_args = BTreeMap::new();
    for b in &a.build_args {
        match b.split_once('=') {
            Some((k, v)) => {
                build_args.insert(k.to_string(), v.to_string());
            }
            // `KEY`: this shell's value, as for `-e KEY` (nothing when it has none).
            None => {
                if let Some(kv) = super::env::env_value("--build-arg", b)? {
                    if let Some((k, v)) = kv.split_once('=') {
                        build_args.insert(k.to_string(), v.to_string());
                    }
                }
            }
        }
    }
    let labels = super::parse_labels(&a.labels)?;
    let ctx_dir = (a.context != "-").then(|| PathBuf::from(&a.context));
    let (dockerfile, content) = dockerfile_of(a.file.as_deref(), ctx_dir.as_deref(), stdin_used)?;
    Ok(BuildOptions {
        dockerfile,
        dockerfile_content: content,
        tags: a.tags.clone(),
        build_args,
        labels,
        target: a.target.clone(),
        no_cache: a.no_cache,
        pull: a.pull,
        network: a.network.clone(),
        platform: a.platform.clone(),
    })
}

fn build(a: BuildArgs, ctx: &Ctx) -> i32 {
    if let Some(why) = refused(&a) {
        return usage(why);
    }
    let mut stdin_used = false;
    let ctx_dir = (a.context != "-").then(|| PathBuf::from(&a.context));
    let opts = match options(&a, &mut stdin_used) {
        Ok(o) => o,
        Err(e) => return fail(&e),
    };
    let progress = match a.progress.as_str() {
        "auto" => {
            if std::io::stderr().is_terminal() && !a.quiet {
                "tty"
            } else {
                "plain"
            }
        }
        "plain" | "tty" => a.progress.as_str(),
        other => return usage(format!("--progress {other}: use auto, plain or tty")),
    };
    let mut view = View::new(progress == "tty", a.quiet);
    let mut stdin_buf: Vec<u8> = Vec::new();
    let context = match &ctx_dir {
        Some(d) => BuildContext::Dir(d.clone()),
        None => {
            if stdin_used {
                return usage(
                    "-f - and a context of - both read standard input: give a context directory",
                );
            }
            // A tar is a context; anything else is a Dockerfile with no context.
            if let Err(e) = std::io::stdin().read_to_end(&mut stdin_buf) {
                return fail(&EngineError::io("reading standard input", e));
            }
            let is_tar = stdin_buf.len() >= 262 && &stdin_buf[257..262] == b"ustar"
                || stdin_buf.starts_with(&[0x1f, 0x8b]);
            if is_tar {
                BuildContext::Tar(&mut &stdin_buf[..] as &mut dyn Read)
            } else {
                let text = String::from_utf8_lossy(&stdin_buf).into_owned();
                let opts2 = BuildOptions {
                    dockerfile_content: Some(text),
                    ..opts.clone()
                };
                return finish(
                    ctx.api()
                        .image_build(&ctx.caller, &opts2, BuildContext::Empty, &mut |ev| {
                            view.event(&ev)
                        }),
                    &mut view,
                    &a,
                );
            }
        }
    };
    let res = ctx
        .api()
        .image_build(&ctx.caller, &opts, context, &mut |ev| view.event(&ev));
    finish(res, &mut view, &a)
}

fn finish(
    res: Result<wharf_engine::api::BuildResult, EngineError>,
    view: &mut View,
    a: &BuildArgs,
) -> i32 {
    view.end(res.is_ok());
    match res {
        Ok(r) => {
            if a.quiet {
                println!("{}", r.image_id);
            }
            if let Some(f) = &a.iidfile {
                if let Err(e) = std::fs::write(f, &r.image_id) {
                    return fail(&EngineError::io(format!("writing {}", f.display()), e));
                }
            }
            0
        }
        Err(e) => fail(&e),
    }
}

/// What the user sees: the classic builder's lines, or a live view.
struct View {
    tty: bool,
    quiet: bool,
    bar: Option<indicatif::ProgressBar>,
    /// The current step's text and its output (shown whole if it fails).
    current: String,
    output: String,
}

impl View {
    fn new(tty: bool, quiet: bool) -> Self {
        View {
            tty,
            quiet,
            bar: None,
            current: String::new(),
            output: String::new(),
        }
    }

    fn event(&mut self, ev: &BuildEvent) -> bool {
        if self.quiet {
            return true;
        }
        if !self.tty {
            let mut out = std::io::stdout().lock();
            for l in classic_lines(ev) {
                let _ = out.write_all(l.as_bytes());
            }
            let _ = out.flush();
            return true;
        }
        match ev {
            BuildEvent::Step {
                index,
                total,
                instruction,
                stage,
            } => {
                self.close_bar(None);
                self.current = format!("[{stage} {index}/{total}] {instruction}");
                self.output.clear();
                let b = indicatif::ProgressBar::new_spinner();
                b.set_style(
                    indicatif::ProgressStyle::with_template("{spinner} {msg} {elapsed}")
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
                );
                b.set_message(self.current.clone());
                b.enable_steady_tick(std::time::Duration::from_millis(120));
                self.bar = Some(b);
            }
            BuildEvent::Output { data, .. } => {
                self.output.push_str(data);
                if let Some(b) = &self.bar {
                    let last = data.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("");
                    let mut short: String = last.chars().take(60).collect();
                    if !short.is_empty() {
                        short = format!("  | {short}");
                    }
                    b.set_message(format!("{}{short}", self.current));
                }
            }
            BuildEvent::Cached { .. } => {
                self.current.push_str("  CACHED");
            }
            BuildEvent::StepDone {
                image_id,
                elapsed_ms,
                ..
            } => {
                let msg = format!(
                    "✓ {}  ---> {}  {:.1}s",
                    self.current,
                    wharf_engine::api::short_id(image_id),
                    *elapsed_ms as f64 / 1000.0
                );
                self.close_bar(Some(msg));
            }
            BuildEvent::Message { text } => match &self.bar {
                Some(b) => b.println(text),
                None => eprintln!("{text}"),
            },
            BuildEvent::Done { image_id, tags } => {
                self.close_bar(None);
                for l in classic_lines(&BuildEvent::Done {
                    image_id: image_id.clone(),
                    tags: tags.clone(),
                }) {
                    eprint!("{l}");
                }
            }
            BuildEvent::Container { .. } | BuildEvent::Running { .. } => {}
        }
        true
    }

    fn close_bar(&mut self, msg: Option<String>) {
        if let Some(b) = self.bar.take() {
            match msg {
                Some(m) => {
                    b.finish_and_clear();
                    eprintln!("{m}");
                }
                None => b.finish_and_clear(),
            }
        }
    }

    fn end(&mut self, ok: bool) {
        if self.tty && !ok && !self.current.is_empty() {
            self.close_bar(Some(format!("✗ {}", self.current)));
            if !self.output.is_empty() {
                eprint!("{}", self.output);
                if !self.output.ends_with('\n') {
                    eprintln!();
                }
            }
        } else {
            self.close_bar(None);
        }
    }
}
