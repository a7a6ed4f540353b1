//! Image commands: `images`, `image ls|inspect|history|rm|prune|load|save|import|tag|demo`,
//! `load`, `save`, `import`, `tag`, `rmi`, and the image part of `system df`.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use wharf_engine::api::{ImageListOptions, ImportOptions, RemoveOutcome, SaveFormat};
use wharf_engine::EngineError;

use super::Ctx;

/// Image commands.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Cmd {
    /// List images.
    Images(ListArgs),
    /// Manage images.
    #[command(subcommand)]
    Image(ImageCmd),
    /// Load images from a docker save archive or an OCI layout (file, directory or stdin).
    Load(LoadArgs),
    /// Save images to a docker save archive (or an OCI layout with --format oci).
    Save(SaveArgs),
    /// Create an image from a root filesystem tarball.
    Import(ImportArgs),
    /// Create a tag TARGET that refers to SOURCE.
    Tag(TagArgs),
    /// Remove images.
    Rmi(RmArgs),
    /// Show the history of an image.
    History(HistoryArgs),
}

/// `wharf image ...`
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum ImageCmd {
    /// List images.
    #[command(alias = "list")]
    Ls(ListArgs),
    /// Show an image's details as JSON.
    Inspect(InspectArgs),
    /// Show an image's history.
    History(HistoryArgs),
    /// Remove images.
    #[command(alias = "remove")]
    Rm(RmArgs),
    /// Remove unused images (dangling ones; all unused with -a).
    Prune(PruneArgs),
    /// Load images from an archive.
    Load(LoadArgs),
    /// Save images to an archive.
    Save(SaveArgs),
    /// Create an image from a root filesystem tarball.
    Import(ImportArgs),
    /// Create a tag TARGET that refers to SOURCE.
    Tag(TagArgs),
    /// Build the offline demo image from the host's busybox-static (default wharf/demo:latest).
    Demo(DemoArgs),
    /// Download an image from a registry (`wharf pull`).
    Pull(super::registry::PullArgs),
    /// Upload an image to a registry (`wharf push`).
    Push(super::registry::PushArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this repository (and tag), e.g. busybox or busybox:1.36.
    pub reference: Option<String>,
    /// Show all images (intermediate ones too).
    #[arg(short, long)]
    pub all: bool,
    /// Only show image ids.
    #[arg(short, long)]
    pub quiet: bool,
    /// Show digests.
    #[arg(long)]
    pub digests: bool,
    /// Don't truncate output.
    #[arg(long)]
    pub no_trunc: bool,
    /// Filter: dangling=true|false, reference=PATTERN.
    #[arg(short, long = "filter")]
    pub filters: Vec<String>,
    /// Output format: `json` (one JSON object per line) or `table`.
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format with a Go template (`{{.Config.Cmd}}`, `{{json .RootFS}}`) or `json`.
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    pub image: String,
    /// Don't truncate output.
    #[arg(long)]
    pub no_trunc: bool,
    /// Only show image ids.
    #[arg(short, long)]
    pub quiet: bool,
    /// Print sizes and dates in a raw format.
    #[arg(short = 'H', long, default_value_t = true, action = clap::ArgAction::Set)]
    pub human: bool,
    /// Output format: `json`.
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    #[arg(required = true)]
    pub images: Vec<String>,
    /// Untag even images that containers use, and images with several tags.
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Remove all images no container uses, not just dangling ones.
    #[arg(short, long)]
    pub all: bool,
    /// Do not ask for confirmation.
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Read from this archive file or OCI layout directory instead of stdin.
    #[arg(short, long)]
    pub input: Option<PathBuf>,
    /// Suppress the load output.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct SaveArgs {
    #[arg(required = true)]
    pub images: Vec<String>,
    /// Write to this file instead of stdout.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// `docker` (what docker load reads; default) or `oci` (an OCI layout tar).
    #[arg(long, default_value = "docker")]
    pub format: String,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Root filesystem tarball (plain, gzip or zstd), or `-` for stdin.
    pub file: String,
    /// Reference to give the new image.
    pub reference: Option<String>,
    /// Apply a Dockerfile instruction: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME, WORKDIR, ...
    #[arg(short, long = "change")]
    pub changes: Vec<String>,
    /// Commit message for the image's history.
    #[arg(short, long)]
    pub message: Option<String>,
}

#[derive(Debug, Args)]
pub struct TagArgs {
    pub source: String,
    pub target: String,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Reference for the demo image.
    #[arg(default_value = wharf_engine::image::DEMO_REFERENCE)]
    pub reference: String,
}

// `wharf system df` (in cli/system.rs).
// (A plain comment: a doc comment here would become the commands' help text,
// as subcommands' arguments are built late; see `#[command(defer = true)]`.)
#[derive(Debug, Args)]
pub struct DfArgs {
    /// `json` (one object per type), or a Go template (`{{.Type}} {{.Size}}`).
    #[arg(long)]
    pub format: Option<String>,
    /// Show each image, container and volume.
    #[arg(short = 'v', long)]
    pub verbose: bool,
}

fn fail(e: &EngineError) -> i32 {
    super::report(e);
    super::exit_code_for(e)
}

fn usage(msg: String) -> i32 {
    eprintln!("wharf: {msg}");
    125
}

/// `docker.io/library/busybox:latest` -> (`busybox`, `latest`).
fn repo_tag(full: &str) -> (String, String) {
    match wharf_engine::image::Reference::parse_any(full) {
        Ok(r) => (r.familiar_name(), r.tag.unwrap_or_else(|| "<none>".into())),
        Err(_) => (full.to_string(), "<none>".into()),
    }
}

fn short_id(id: &str, no_trunc: bool) -> String {
    if no_trunc {
        id.to_string()
    } else {
        wharf_engine::ids::short(id).to_string()
    }
}

/// Run an image command; returns the exit code.
pub fn run(cmd: Cmd, ctx: &Ctx) -> i32 {
    match cmd {
        Cmd::Images(a) | Cmd::Image(ImageCmd::Ls(a)) => list(a, ctx),
        Cmd::Image(ImageCmd::Inspect(a)) => inspect(a, ctx),
        Cmd::Image(ImageCmd::History(a)) | Cmd::History(a) => history(a, ctx),
        Cmd::Image(ImageCmd::Pull(a)) => super::registry::run(super::registry::Cmd::Pull(a), ctx),
        Cmd::Image(ImageCmd::Push(a)) => super::registry::run(super::registry::Cmd::Push(a), ctx),
        Cmd::Rmi(a) | Cmd::Image(ImageCmd::Rm(a)) => remove(a, ctx),
        Cmd::Image(ImageCmd::Prune(a)) => prune(a, ctx),
        Cmd::Load(a) | Cmd::Image(ImageCmd::Load(a)) => load(a, ctx),
        Cmd::Save(a) | Cmd::Image(ImageCmd::Save(a)) => save(a, ctx),
        Cmd::Import(a) | Cmd::Image(ImageCmd::Import(a)) => import(a, ctx),
        Cmd::Tag(a) | Cmd::Image(ImageCmd::Tag(a)) => {
            match ctx.api().image_tag(&ctx.caller, &a.source, &a.target) {
                Ok(()) => 0,
                Err(e) => fail(&e),
            }
        }
        Cmd::Image(ImageCmd::Demo(a)) => {
            match ctx.api().image_build_demo(&ctx.caller, &a.reference) {
                Ok(id) => {
                    let r = wharf_engine::image::Reference::parse(&a.reference)
                        .map(|r| r.familiar())
                        .unwrap_or(a.reference);
                    println!(
                        "Built demo image {r} ({}) from {}",
                        wharf_engine::ids::short(&id),
                        wharf_engine::image::HOST_BUSYBOX
                    );
                    println!("Try: wharf run --rm -it {r}");
                    0
                }
                Err(e) => fail(&e),
            }
        }
    }
}

fn list(a: ListArgs, ctx: &Ctx) -> i32 {
    let mut opts = ImageListOptions {
        all: a.all,
        ..Default::default()
    };
    for f in &a.filters {
        match f.split_once('=') {
            Some(("dangling", v)) => match v {
                "true" | "1" => opts.dangling = Some(true),
                "false" | "0" => opts.dangling = Some(false),
                _ => {
                    return usage(format!(
                        "invalid filter {f:?}: dangling takes true or false"
                    ))
                }
            },
            Some(("reference", v)) => opts.reference.push(v.to_string()),
            _ => {
                return usage(format!(
                    "invalid filter {f:?}: use dangling=true|false or reference=PATTERN"
                ))
            }
        }
    }
    if let Some(r) = &a.reference {
        opts.reference.push(r.clone());
    }
    let images = match ctx.api().image_list(&ctx.caller, &opts) {
        Ok(v) => v,
        Err(e) => return fail(&e),
    };
    if a.quiet {
        let mut seen = std::collections::BTreeSet::new();
        for i in &images {
            if seen.insert(i.id.clone()) {
                println!("{}", short_id(&i.id, a.no_trunc));
            }
        }
        return 0;
    }
    // One row per tag; untagged images show <none>.
    let mut rows = Vec::new();
    for i in &images {
        let tags: Vec<(String, String)> = if i.repo_tags.is_empty() {
            vec![("<none>".into(), "<none>".into())]
        } else {
            i.repo_tags.iter().map(|t| repo_tag(t)).collect()
        };
        for (repo, tag) in tags {
            let digest = i
                .repo_digests
                .iter()
                .find(|d| {
                    d.split('@')
                        .next()
                        .map(|n| repo_tag(&format!("{n}:x")).0 == repo)
                        .unwrap_or(false)
                })
                .and_then(|d| d.split('@').nth(1))
                .unwrap_or("<none>")
                .to_string();
            rows.push((repo, tag, digest, i));
        }
    }
    let format = match super::format::Format::parse("--format", a.format.as_deref()) {
        Ok(f) => f,
        Err(e) => return fail(&e),
    };
    match format {
        super::format::Format::Template { table, tmpl } => {
            let ctx_rows: Vec<serde_json::Value> = rows
                .iter()
                .map(|(repo, tag, digest, i)| {
                    serde_json::json!({
                        "Containers": if i.containers == 0 { "N/A".to_string() } else { i.containers.to_string() },
                        "CreatedAt": super::containers::created_at(i.created),
                        "CreatedSince": super::ago(i.created),
                        "Digest": digest,
                        "ID": short_id(&i.id, a.no_trunc),
                        "Repository": repo,
                        "Tag": tag,
                        "Size": super::human_size(i.size),
                        "SharedSize": "N/A",
                        "UniqueSize": "N/A",
                        "VirtualSize": super::human_size(i.size),
                    })
                })
                .collect();
            let c = super::format::Context {
                type_name: "*formatter.ImageContext",
                headers: &[
                    ("Containers", "CONTAINERS"),
                    ("CreatedAt", "CREATED AT"),
                    ("CreatedSince", "CREATED"),
                    ("Digest", "DIGEST"),
                    ("ID", "IMAGE ID"),
                    ("Repository", "REPOSITORY"),
                    ("Tag", "TAG"),
                    ("Size", "SIZE"),
                    ("SharedSize", "SHARED SIZE"),
                    ("UniqueSize", "UNIQUE SIZE"),
                    ("VirtualSize", "SIZE"),
                ],
                methods: vec![],
                strict: true,
            };
            super::format::print(&tmpl, table, &c, &ctx_rows)
        }
        super::format::Format::Default => {
            let mut header = vec!["REPOSITORY", "TAG"];
            if a.digests {
                header.push("DIGEST");
            }
            header.extend(["IMAGE ID", "CREATED", "SIZE"]);
            let table: Vec<Vec<String>> = rows
                .iter()
                .map(|(repo, tag, digest, i)| {
                    let mut r = vec![repo.clone(), tag.clone()];
                    if a.digests {
                        r.push(digest.clone());
                    }
                    r.extend([
                        short_id(&i.id, a.no_trunc),
                        super::ago(i.created),
                        super::human_size(i.size),
                    ]);
                    r
                })
                .collect();
            super::print_table(&header, &table);
            0
        }
    }
}

fn inspect(a: InspectArgs, ctx: &Ctx) -> i32 {
    let mut out = Vec::new();
    let mut code = 0;
    for i in &a.images {
        match ctx.api().image_inspect(&ctx.caller, i) {
            Ok(v) => out.push(v),
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

fn history(a: HistoryArgs, ctx: &Ctx) -> i32 {
    let h = match ctx.api().image_history(&ctx.caller, &a.image) {
        Ok(h) => h,
        Err(e) => return fail(&e),
    };
    if a.quiet {
        for e in &h {
            println!(
                "{}",
                if e.id.starts_with("sha256:") {
                    short_id(&e.id, a.no_trunc)
                } else {
                    e.id.clone()
                }
            );
        }
        return 0;
    }
    match super::format::Format::parse("--format", a.format.as_deref()) {
        Err(e) => return fail(&e),
        Ok(super::format::Format::Template { table, tmpl }) => {
            let rows: Vec<serde_json::Value> = h
                .iter()
                .map(|e| {
                    serde_json::json!({
                        "ID": if e.id.starts_with("sha256:") { short_id(&e.id, a.no_trunc) } else { e.id.clone() },
                        "CreatedSince": super::ago(e.created),
                        "CreatedAt": chrono::DateTime::from_timestamp(e.created, 0).map(|t| t.to_rfc3339()).unwrap_or_default(),
                        "CreatedBy": e.created_by,
                        "Size": super::human_size(e.size),
                        "Comment": e.comment,
                    })
                })
                .collect();
            let c = super::format::Context {
                type_name: "*formatter.historyContext",
                headers: &[
                    ("ID", "IMAGE"),
                    ("CreatedSince", "CREATED"),
                    ("CreatedAt", "CREATED AT"),
                    ("CreatedBy", "CREATED BY"),
                    ("Size", "SIZE"),
                    ("Comment", "COMMENT"),
                ],
                methods: vec![],
                strict: true,
            };
            return super::format::print(&tmpl, table, &c, &rows);
        }
        Ok(super::format::Format::Default) => {}
    }
    let rows: Vec<Vec<String>> = h
        .iter()
        .map(|e| {
            let id = if e.id.starts_with("sha256:") {
                short_id(&e.id, a.no_trunc)
            } else {
                e.id.clone()
            };
            let mut by = e.created_by.clone();
            if !a.no_trunc && by.chars().count() > 45 {
                by = by.chars().take(44).collect::<String>() + "…";
            }
            let created = if a.human {
                super::ago(e.created)
            } else {
                chrono::DateTime::from_timestamp(e.created, 0)
                    .map(|t| t.to_rfc3339())
                    .unwrap_or_default()
            };
            let size = if a.human {
                super::human_size(e.size)
            } else {
                e.size.to_string()
            };
            vec![id, created, by, size, e.comment.clone()]
        })
        .collect();
    super::print_table(
        &["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"],
        &rows,
    );
    0
}

fn remove(a: RmArgs, ctx: &Ctx) -> i32 {
    let mut code = 0;
    for i in &a.images {
        match ctx.api().image_remove(&ctx.caller, i, a.force) {
            Ok(outcomes) => {
                for o in outcomes {
                    match o {
                        RemoveOutcome::Untagged(t) => println!("Untagged: {t}"),
                        RemoveOutcome::Deleted(d) => println!("Deleted: {d}"),
                    }
                }
            }
            Err(e) => {
                // Docker reports each failure and exits 1 after trying every image.
                super::report(&e);
                code = 1;
            }
        }
    }
    code
}

fn prune(a: PruneArgs, ctx: &Ctx) -> i32 {
    if !a.force && super::out::stdin_is_terminal() {
        let what = if a.all {
            "all images without at least one container associated to them"
        } else {
            "all dangling images"
        };
        eprint!("WARNING! This will remove {what}.\nAre you sure you want to continue? [y/N] ");
        let mut line = String::new();
        let _ = super::out::read_line(&mut line);
        if !matches!(line.trim(), "y" | "Y" | "yes") {
            return 0;
        }
    }
    match ctx.api().image_prune(&ctx.caller, a.all) {
        Ok(r) => {
            if !r.deleted.is_empty() {
                println!("Deleted Images:");
                for d in &r.deleted {
                    match d.strip_prefix("untagged: ") {
                        Some(t) => println!("untagged: {t}"),
                        None => println!("deleted: {d}"),
                    }
                }
                println!();
            }
            println!("Total reclaimed space: {}", super::human_size(r.reclaimed));
            0
        }
        Err(e) => fail(&e),
    }
}

/// A reader giving a tar of the directory `dir` (an OCI layout), produced by a thread.
fn tar_dir(dir: &Path) -> std::io::Result<impl Read> {
    let (r, mut w) = std::os::unix::net::UnixStream::pair()?;
    let dir = dir.to_path_buf();
    std::thread::spawn(move || {
        let mut b = tar::Builder::new(&mut w);
        b.follow_symlinks(false);
        let res = b.append_dir_all(".", &dir).and_then(|_| b.finish());
        if let Err(e) = res {
            eprintln!("wharf: reading {}: {e}", dir.display());
        }
    });
    Ok(r)
}

fn load(a: LoadArgs, ctx: &Ctx) -> i32 {
    let res = match &a.input {
        Some(p) if p.is_dir() => match tar_dir(p) {
            Ok(mut r) => ctx.api().image_load(&ctx.caller, &mut r),
            Err(e) => return usage(format!("reading {}: {e}", p.display())),
        },
        Some(p) => match std::fs::File::open(p) {
            Ok(f) => ctx.api().image_load(
                &ctx.caller,
                &mut std::io::BufReader::with_capacity(1 << 20, f),
            ),
            Err(e) => return usage(format!("cannot open {}: {e}", p.display())),
        },
        None => {
            if super::out::stdin_is_terminal() {
                return usage("requested load from stdin, but stdin is empty: use wharf load -i FILE or pipe an archive in".into());
            }
            ctx.api()
                .image_load(&ctx.caller, &mut std::io::stdin().lock())
        }
    };
    match res {
        Ok(r) => {
            if !a.quiet {
                for t in &r.tagged {
                    let t = wharf_engine::image::Reference::parse(t)
                        .map(|r| r.familiar())
                        .unwrap_or_else(|_| t.clone());
                    println!("Loaded image: {t}");
                }
                for id in &r.untagged_ids {
                    println!("Loaded image ID: {id}");
                }
            }
            0
        }
        Err(e) => fail(&e),
    }
}

fn save(a: SaveArgs, ctx: &Ctx) -> i32 {
    let format = match a.format.as_str() {
        "docker" => SaveFormat::Docker,
        "oci" => SaveFormat::Oci,
        other => return usage(format!("unknown --format {other:?}: use docker or oci")),
    };
    match &a.output {
        Some(p) => {
            // Write beside the target and rename, so a failure leaves no half archive.
            let dir = p
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let tmp = dir.join(format!(
                ".{}.wharf-tmp",
                p.file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default()
            ));
            let f = match std::fs::File::create(&tmp) {
                Ok(f) => f,
                Err(e) => return usage(format!("cannot create {}: {e}", p.display())),
            };
            let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
            let res = ctx.api().image_save(&ctx.caller, &a.images, format, &mut w);
            let res = res.and_then(|_| {
                w.flush()
                    .map_err(|e| EngineError::io(format!("writing {}", p.display()), e))
            });
            match res.and_then(|_| {
                std::fs::rename(&tmp, p)
                    .map_err(|e| EngineError::io(format!("writing {}", p.display()), e))
            }) {
                Ok(()) => 0,
                Err(e) => {
                    let _ = std::fs::remove_file(&tmp);
                    fail(&e)
                }
            }
        }
        None => {
            if super::out::stdout_is_terminal() {
                return usage(
                    "refusing to write an archive to a terminal: use -o FILE or redirect stdout"
                        .into(),
                );
            }
            let mut w = std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
            match ctx.api().image_save(&ctx.caller, &a.images, format, &mut w) {
                Ok(()) => match w.flush() {
                    Ok(()) => 0,
                    Err(e) => usage(format!("writing the archive: {e}")),
                },
                Err(e) => fail(&e),
            }
        }
    }
}

fn import(a: ImportArgs, ctx: &Ctx) -> i32 {
    let opts = ImportOptions {
        reference: a.reference.clone(),
        changes: a.changes.clone(),
        message: a.message.clone(),
    };
    let res = if a.file == "-" {
        match super::out::stdin_for_data() {
            Ok(mut input) => ctx.api().image_import(&ctx.caller, &mut input, &opts),
            Err(e) => Err(e),
        }
    } else {
        match std::fs::File::open(&a.file) {
            Ok(f) => ctx.api().image_import(
                &ctx.caller,
                &mut std::io::BufReader::with_capacity(1 << 20, f),
                &opts,
            ),
            Err(e) => return usage(format!("cannot open {}: {e}", a.file)),
        }
    };
    match res {
        Ok(id) => {
            println!("{id}");
            0
        }
        Err(e) => fail(&e),
    }
}
