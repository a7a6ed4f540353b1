//! `wharf info`, `wharf events`, `wharf version`, and `wharf system info|events|df|prune`.

use std::io::Write;

use clap::{Args, Subcommand};
use wharf_engine::api::{ContainerListOptions, EventFilter};
use wharf_engine::EngineError;

use super::format::{Context, Format};
use super::Ctx;

/// System commands.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Cmd {
    /// Show the engine, host, cgroup mode and counts.
    Info(InfoArgs),
    /// Show events (Docker's vocabulary): new ones as they happen; with --since, past
    /// ones first; with --until, stop then.
    Events(EventsArgs),
    /// Show the wharf version (client and engine).
    Version(VersionArgs),
    /// Search Docker Hub: not available (wharf has no search service to ask).
    Search(SearchArgs),
    /// Manage wharf.
    System {
        #[command(subcommand)]
        cmd: SystemCmd,
    },
}

// `wharf system ...`
// (A plain comment: a doc comment here would become the commands' help text,
// as subcommands' arguments are built late; see `#[command(defer = true)]`.)
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum SystemCmd {
    /// Show disk usage.
    Df(super::images::DfArgs),
    /// Show the engine, host, cgroup mode and counts.
    Info(InfoArgs),
    /// Show events.
    Events(EventsArgs),
    /// Remove stopped containers, unused networks, dangling images (and more with -a,
    /// --volumes).
    Prune(SystemPruneArgs),
}

#[derive(Debug, Args)]
pub struct InfoArgs {
    /// `json`, or a Go template on Docker's info fields (`{{.Containers}}`, `{{.Images}}`).
    #[arg(short = 'f', long)]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct VersionArgs {
    /// `json`, or a Go template (`{{.Client.Version}}`, `{{.Server.Version}}`).
    #[arg(short = 'f', long)]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Filter output (is-official=true, stars=N).
    #[arg(short = 'f', long = "filter")]
    pub filter: Vec<String>,
    /// Output format.
    #[arg(long)]
    pub format: Option<String>,
    /// Maximum number of results.
    #[arg(long)]
    pub limit: Option<u32>,
    /// Don't truncate output.
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// What to look for.
    pub term: String,
}

#[derive(Debug, Args)]
pub struct SystemPruneArgs {
    /// Remove all unused images, not just dangling ones.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Prune anonymous volumes too.
    #[arg(long)]
    pub volumes: bool,
    /// Do not ask for confirmation.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Docker's prune filters (until=, label=): not supported, refused by name.
    #[arg(long = "filter")]
    pub filter: Vec<String>,
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Show events created since this time (RFC 3339, unix seconds, or a duration like 10m).
    #[arg(long)]
    pub since: Option<String>,
    /// Stream events until this time (same forms as --since).
    #[arg(long)]
    pub until: Option<String>,
    /// Filter: type=, event=, container=, image=, network=, volume=, label=.
    #[arg(short, long = "filter")]
    pub filters: Vec<String>,
    /// `json` prints one JSON object per line; or a Go template (`{{.Action}}`,
    /// `{{.Actor.ID}}`, `{{.Type}}`).
    #[arg(long)]
    pub format: Option<String>,
}

/// Parse a time as Docker's CLI accepts it; nanoseconds since the epoch: RFC 3339, unix
/// seconds (`1700000000.5`), or a Go duration before now (`10m`, `1h30m`).
pub fn parse_time(s: &str) -> Result<i64, String> {
    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_nanos_opt().unwrap_or(0));
    }
    if let Ok(secs) = s.parse::<f64>() {
        if secs.is_finite() && (0.0..=9.2e9).contains(&secs) && !s.contains(['e', 'E']) {
            return Ok((secs * 1e9) as i64);
        }
    }
    match s.parse::<wharf_engine::api::flags::GoDuration>() {
        Ok(d) if d.0 >= 0 => Ok(now.saturating_sub(d.0)),
        _ => Err(format!(
            "invalid time {s:?}: use RFC 3339 (2024-01-02T15:04:05Z), unix seconds, or a duration like 10m or 1h30m"
        )),
    }
}

/// Turn `--filter` strings into an [`EventFilter`].
pub fn parse_event_filters(filters: &[String]) -> Result<EventFilter, String> {
    let mut f = EventFilter::default();
    for raw in filters {
        let (k, v) = raw
            .split_once('=')
            .ok_or_else(|| format!("invalid filter {raw:?}: use key=value, e.g. type=container"))?;
        match k {
            "type" => f.types.push(v.to_string()),
            "event" => f.actions.push(v.to_string()),
            "label" => f.labels.push(v.to_string()),
            "container" | "image" | "network" | "volume" => f.objects.push((k.to_string(), v.to_string())),
            _ => {
                return Err(format!(
                    "invalid filter key {k:?}: use type, event, container, image, network, volume or label"
                ))
            }
        }
    }
    Ok(f)
}

/// Run a system command; returns the exit code.
pub fn run(cmd: Cmd, ctx: &Ctx) -> i32 {
    match cmd {
        Cmd::Info(a)
        | Cmd::System {
            cmd: SystemCmd::Info(a),
        } => info(a, ctx),
        Cmd::Events(a)
        | Cmd::System {
            cmd: SystemCmd::Events(a),
        } => events(a, ctx),
        Cmd::Version(a) => version(a, ctx),
        Cmd::Search(a) => fail(&EngineError::invalid(format!(
            "wharf search {:?}: searching is not supported: wharf asks registries only for \
             images it is given by name, and Docker Hub's search service is not one of them \
             (nor reachable offline); pull a reference you know, e.g. wharf pull busybox:latest",
            a.term
        ))),
        Cmd::System {
            cmd: SystemCmd::Df(a),
        } => df(a, ctx),
        Cmd::System {
            cmd: SystemCmd::Prune(a),
        } => prune(a, ctx),
    }
}

fn fail(e: &EngineError) -> i32 {
    super::report(e);
    super::exit_code_for(e)
}

/// Info as Docker names it (for templates), with wharf's own fields beside.
fn info_json(info: &wharf_engine::api::SystemInfo) -> serde_json::Value {
    let mut v = serde_json::to_value(info).unwrap_or_default();
    let docker = serde_json::json!({
        "Containers": info.containers,
        "ContainersRunning": info.running,
        "ContainersPaused": info.paused,
        "ContainersStopped": info.stopped,
        "Images": info.images,
        "Driver": "overlay",
        "DockerRootDir": info.root,
        "KernelVersion": info.kernel,
        "OperatingSystem": info.os,
        "OSType": "linux",
        "Architecture": go_arch(),
        "NCPU": info.ncpu,
        "MemTotal": info.mem_total,
        "Name": info.hostname,
        "ServerVersion": info.engine_version,
        "CgroupVersion": match info.cgroup_mode.as_str() { "v2" => "2", _ => "1" },
        "LoggingDriver": "json-file",
    });
    if let (Some(o), serde_json::Value::Object(d)) = (v.as_object_mut(), docker) {
        o.extend(d);
    }
    v
}

fn info(a: InfoArgs, ctx: &Ctx) -> i32 {
    let format = match Format::parse("--format", a.format.as_deref()) {
        Ok(f) => f,
        Err(e) => return fail(&e),
    };
    match ctx.api().info(&ctx.caller) {
        Ok(info) => {
            if let Format::Template { tmpl, table } = format {
                if a.format.as_deref().map(str::trim) == Some("json") {
                    // `json`: the engine's info, whole (as wharf always printed it).
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&info).unwrap_or_default()
                    );
                    return 0;
                }
                return super::format::print(&tmpl, table, &Context::map(), &[info_json(&info)]);
            }
            println!("Engine:       wharf {}", info.engine_version);
            println!("Host:         {}", info.hostname);
            println!("OS:           {}", info.os);
            println!("Kernel:       {}", info.kernel);
            println!("Cgroup mode:  {}", info.cgroup_mode.as_str());
            println!("CPUs:         {}", info.ncpu);
            println!("Memory:       {}", super::human_size(info.mem_total));
            println!("State root:   {}", info.root);
            println!(
                "Containers:   {} (running {}, paused {}, stopped {})",
                info.containers, info.running, info.paused, info.stopped
            );
            println!("Images:       {}", info.images);
            println!("Caller:       {}", info.caller.label());
            0
        }
        Err(e) => fail(&e),
    }
}

/// The machine's architecture in Go's (and so docker's) words.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// The Docker API version `wharf serve` speaks.
fn api_version() -> &'static str {
    wharf_engine::server::docker::API_VERSION
}

fn version(a: VersionArgs, ctx: &Ctx) -> i32 {
    let format = match Format::parse("--format", a.format.as_deref()) {
        Ok(f) => f,
        Err(e) => return fail(&e),
    };
    let os_arch = format!("linux/{}", go_arch());
    let v = env!("CARGO_PKG_VERSION");
    let client = serde_json::json!({
        "Version": v,
        "ApiVersion": api_version(),
        "APIVersion": api_version(),
        "Os": "linux",
        "Arch": go_arch(),
        "Context": if ctx.local.is_some() { "embedded" } else { "remote" },
        "GitCommit": "",
        "GoVersion": "",
        "BuildTime": "",
    });
    // The engine's side: the embedded engine, or the server behind --host.
    let server = ctx.api().info(&ctx.caller).map(|i| {
        serde_json::json!({
            "Version": i.engine_version,
            "ApiVersion": api_version(),
            "APIVersion": api_version(),
            "MinAPIVersion": wharf_engine::server::docker::MIN_API_VERSION,
            "Os": "linux",
            "Arch": go_arch(),
            "KernelVersion": i.kernel,
            "Experimental": false,
            "Platform": {"Name": format!("wharf {}", i.engine_version)},
            "Components": [{"Name": "Engine", "Version": i.engine_version}],
        })
    });
    if let Format::Template { tmpl, table } = format {
        let data = serde_json::json!({
            "Client": client,
            "Server": server.as_ref().ok(),
        });
        let code = super::format::print(&tmpl, table, &Context::map(), &[data]);
        if let Err(e) = &server {
            return fail(e);
        }
        return code;
    }
    println!("Client:");
    println!(" Version:           {v}");
    println!(" API version:       {}", api_version());
    println!(" OS/Arch:           {os_arch}");
    println!(
        " Context:           {}",
        client["Context"].as_str().unwrap_or("")
    );
    println!();
    match server {
        Ok(s) => {
            println!(
                "Server: {}",
                s["Platform"]["Name"].as_str().unwrap_or("wharf")
            );
            println!(" Engine:");
            println!(
                "  Version:          {}",
                s["Version"].as_str().unwrap_or("")
            );
            println!(
                "  API version:      {} (minimum version {})",
                api_version(),
                wharf_engine::server::docker::MIN_API_VERSION
            );
            println!("  OS/Arch:          {os_arch}");
            println!(
                "  Kernel:           {}",
                s["KernelVersion"].as_str().unwrap_or("")
            );
            0
        }
        Err(e) => fail(&e),
    }
}

/// The time now, in nanoseconds since the epoch.
fn now_nanos() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
}

fn events(a: EventsArgs, ctx: &Ctx) -> i32 {
    let mut f = match parse_event_filters(&a.filters) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("wharf: {e}");
            return 125;
        }
    };
    for (src, dst) in [(&a.since, &mut f.since), (&a.until, &mut f.until)] {
        if let Some(s) = src {
            match parse_time(s) {
                Ok(t) => *dst = Some(t),
                Err(e) => {
                    eprintln!("wharf: {e}");
                    return 125;
                }
            }
        }
    }
    // As docker: without --since and --until only new events; --until alone gives the
    // history up to then.
    if f.since.is_none() && f.until.is_none() {
        f.since = Some(now_nanos());
    }
    f.follow = a.until.is_none() || f.until.is_some_and(|u| u > now_nanos());
    let json = a.format.as_deref().map(str::trim) == Some("json");
    let tmpl = if json {
        None
    } else {
        match Format::parse("--format", a.format.as_deref()) {
            Ok(Format::Template { tmpl, table: false }) => Some(tmpl),
            Ok(Format::Template { table: true, .. }) => {
                return fail(&EngineError::invalid(
                    "--format: events are a stream: a table format does not apply to them",
                ))
            }
            Ok(Format::Default) => None,
            Err(e) => return fail(&e),
        }
    };
    let mut failed = None;
    let res = ctx.api().events(&ctx.caller, &f, &mut |ev| {
        let line = if json {
            serde_json::to_string(&ev).unwrap_or_default()
        } else if let Some(t) = &tmpl {
            let mut v = serde_json::to_value(&ev).unwrap_or_default();
            if let Some(o) = v.as_object_mut() {
                o.insert("Status".into(), ev.action.clone().into());
                o.insert("ID".into(), ev.actor.id.clone().into());
                o.insert(
                    "From".into(),
                    ev.actor
                        .attributes
                        .get("image")
                        .cloned()
                        .unwrap_or_default()
                        .into(),
                );
                o.insert("Scope".into(), ev.scope.clone().into());
                o.insert("Time".into(), ev.time.into());
                o.insert("TimeNano".into(), ev.time_nano.into());
                if let Some(actor) = o.get_mut("Actor").and_then(|a| a.as_object_mut()) {
                    let id = actor.get("ID").or(actor.get("id")).cloned();
                    let attrs = actor.get("Attributes").or(actor.get("attributes")).cloned();
                    actor.insert("ID".into(), id.unwrap_or_default());
                    actor.insert("Attributes".into(), attrs.unwrap_or_default());
                }
            }
            match t.execute(&v, &super::gotmpl::Options::default()) {
                Ok(s) => s,
                Err(e) => {
                    failed = Some(e);
                    return false;
                }
            }
        } else {
            let t = chrono::DateTime::from_timestamp_nanos(ev.time_nano)
                .with_timezone(&chrono::Local)
                .format("%Y-%m-%dT%H:%M:%S%.9f%:z");
            let attrs: Vec<String> = ev
                .actor
                .attributes
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            format!(
                "{t} {} {} {} ({})",
                ev.kind.as_str(),
                ev.action,
                ev.actor.id,
                attrs.join(", ")
            )
        };
        let mut out = super::out::stdout();
        writeln!(out, "{line}").and_then(|_| out.flush()).is_ok()
    });
    if let Some(e) = failed {
        return fail(&EngineError::invalid(format!(
            "template parsing error: executing the --format template: {e}"
        )));
    }
    match res {
        Ok(()) => 0,
        Err(e) => fail(&e),
    }
}

/// Ask before a prune, as docker does, unless -f or stdin is not a terminal.
fn confirm(what: &[&str]) -> bool {
    if !super::out::stdin_is_terminal() {
        return true;
    }
    eprintln!("WARNING! This will remove:");
    for w in what {
        eprintln!("  - {w}");
    }
    eprint!("\nAre you sure you want to continue? [y/N] ");
    let mut line = String::new();
    let _ = super::out::read_line(&mut line);
    matches!(line.trim(), "y" | "Y" | "yes")
}

fn prune(a: SystemPruneArgs, ctx: &Ctx) -> i32 {
    if let Some(f) = a.filter.first() {
        return fail(&EngineError::invalid(format!(
            "wharf system prune does not support --filter ({f}): prune by kind with \
             wharf container prune, wharf image prune, wharf network prune, wharf volume prune"
        )));
    }
    let mut what = vec![
        "all stopped containers",
        "all networks not used by at least one container",
    ];
    if a.volumes {
        what.push("all anonymous volumes not used by at least one container");
    }
    what.push(if a.all {
        "all images without at least one container associated to them"
    } else {
        "all dangling images"
    });
    what.push("unused build cache");
    if !a.force && !confirm(&what) {
        return 0;
    }
    let api = ctx.api();
    let c = &ctx.caller;
    let mut total = 0u64;
    let mut code = 0;
    let mut section = |title: &str, r: wharf_engine::Result<wharf_engine::api::PruneReport>| match r
    {
        Ok(r) => {
            total += r.reclaimed;
            if !r.deleted.is_empty() {
                println!("{title}:");
                for d in &r.deleted {
                    println!("{d}");
                }
                println!();
            }
        }
        Err(e) => code = fail(&e),
    };
    section("Deleted Containers", api.container_prune(c));
    section("Deleted Networks", api.network_prune(c));
    if a.volumes {
        section("Deleted Volumes", api.volume_prune(c, false));
    }
    // The build cache before the images: the intermediate images it kept go with it.
    section(
        "Deleted build cache objects",
        api.build_cache_prune(c, &Default::default()),
    );
    section("Deleted Images", api.image_prune(c, a.all));
    println!("Total reclaimed space: {}", super::human_size(total));
    code
}

/// `wharf system df [-v]`: images (and staging), containers, local volumes, build cache.
fn df(a: super::images::DfArgs, ctx: &Ctx) -> i32 {
    let api = ctx.api();
    let c = &ctx.caller;
    let u = match api.image_disk_usage(c) {
        Ok(u) => u,
        Err(e) => return fail(&e),
    };
    let containers = match api.container_list(
        c,
        &ContainerListOptions {
            all: true,
            size: true,
            ..Default::default()
        },
    ) {
        Ok(l) => l,
        Err(e) => return fail(&e),
    };
    let names = match api.volume_list(c, &Default::default()) {
        Ok(v) => v,
        Err(e) => return fail(&e),
    };
    // The listing leaves sizes out; inspect works them out.
    let volumes: Vec<wharf_engine::api::Volume> = names
        .into_iter()
        .map(|v| api.volume_inspect(c, &v.name).unwrap_or(v))
        .collect();
    let running = |s: &wharf_engine::api::ContainerSummary| {
        matches!(s.state.as_str(), "running" | "paused" | "restarting")
    };
    let c_size: u64 = containers.iter().map(|s| s.size_rw.unwrap_or(0)).sum();
    let c_active = containers.iter().filter(|s| running(s)).count();
    let c_reclaim: u64 = containers
        .iter()
        .filter(|s| !running(s))
        .map(|s| s.size_rw.unwrap_or(0))
        .sum();
    let usage = |v: &wharf_engine::api::Volume| {
        v.usage_data
            .as_ref()
            .map(|u| (u.size, u.ref_count))
            .unwrap_or((0, 0))
    };
    let v_size: u64 = volumes.iter().map(|v| usage(v).0).sum();
    let v_active = volumes.iter().filter(|v| usage(v).1 > 0).count();
    let v_reclaim: u64 = volumes
        .iter()
        .filter(|v| usage(v).1 == 0)
        .map(|v| usage(v).0)
        .sum();
    let st = &u.staging;
    let bc = api.build_cache_usage(c).unwrap_or_default();
    // (type, total, active, size, reclaimable)
    let rows: Vec<(&str, usize, usize, u64, u64)> = vec![
        ("Images", u.count, u.active, u.size, u.reclaimable),
        // Loads, pulls and imports under way (ACTIVE) or left by killed ones
        // (RECLAIMABLE: `wharf image prune` or the next start gives them back).
        ("Staging", st.count, st.active, st.size, st.reclaimable),
        ("Containers", containers.len(), c_active, c_size, c_reclaim),
        ("Local Volumes", volumes.len(), v_active, v_size, v_reclaim),
        ("Build Cache", bc.count, bc.active, bc.size, bc.reclaimable),
    ];
    let pct = |part: u64, whole: u64| (part * 100).checked_div(whole).unwrap_or(0);
    let reclaim_text = |r: u64, s: u64, ty: &str| {
        if ty == "Build Cache" {
            super::human_size(r)
        } else {
            format!("{} ({}%)", super::human_size(r), pct(r, s))
        }
    };
    let json = a.format.as_deref().map(str::trim) == Some("json");
    let format = if json {
        Format::Default
    } else {
        match Format::parse("--format", a.format.as_deref()) {
            Ok(f) => f,
            Err(e) => return fail(&e),
        }
    };
    if json {
        for (ty, total, active, size, reclaim) in &rows {
            let v = serde_json::json!({"Type": ty, "TotalCount": total, "Active": active,
                "Size": super::human_size(*size), "Reclaimable": reclaim_text(*reclaim, *size, ty),
                "SizeBytes": size, "ReclaimableBytes": reclaim});
            println!("{v}");
        }
        return 0;
    }
    if let Format::Template { tmpl, table } = format {
        if a.verbose {
            return fail(&EngineError::invalid(
                "--format and --verbose together are not supported: use one",
            ));
        }
        let data: Vec<serde_json::Value> = rows
            .iter()
            .map(|(ty, total, active, size, reclaim)| {
                serde_json::json!({"Type": ty, "TotalCount": total.to_string(), "Active": active.to_string(),
                    "Size": super::human_size(*size), "Reclaimable": reclaim_text(*reclaim, *size, ty)})
            })
            .collect();
        let c = Context {
            type_name: "*formatter.diskUsageImagesContext",
            headers: &[
                ("Type", "TYPE"),
                ("TotalCount", "TOTAL"),
                ("Active", "ACTIVE"),
                ("Size", "SIZE"),
                ("Reclaimable", "RECLAIMABLE"),
            ],
            methods: vec![],
            strict: true,
        };
        return super::format::print(&tmpl, table, &c, &data);
    }
    if a.verbose {
        return df_verbose(ctx, &containers, &volumes);
    }
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|(ty, total, active, size, reclaim)| {
            vec![
                ty.to_string(),
                total.to_string(),
                active.to_string(),
                super::human_size(*size),
                reclaim_text(*reclaim, *size, ty),
            ]
        })
        .collect();
    super::print_table(&["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"], &table);
    0
}

/// `system df -v`: each image, container and volume with its size.
fn df_verbose(
    ctx: &Ctx,
    containers: &[wharf_engine::api::ContainerSummary],
    volumes: &[wharf_engine::api::Volume],
) -> i32 {
    let images = match ctx.api().image_list(&ctx.caller, &Default::default()) {
        Ok(i) => i,
        Err(e) => return fail(&e),
    };
    println!("Images space usage:\n");
    let mut rows = Vec::new();
    for i in &images {
        let tags: Vec<(String, String)> = if i.repo_tags.is_empty() {
            vec![("<none>".into(), "<none>".into())]
        } else {
            i.repo_tags
                .iter()
                .map(|t| match wharf_engine::image::Reference::parse_any(t) {
                    Ok(r) => (r.familiar_name(), r.tag.unwrap_or_else(|| "<none>".into())),
                    Err(_) => (t.clone(), "<none>".into()),
                })
                .collect()
        };
        for (repo, tag) in tags {
            rows.push(vec![
                repo,
                tag,
                wharf_engine::ids::short(&i.id).to_string(),
                super::ago(i.created),
                super::human_size(i.size),
                "0B".into(),
                super::human_size(i.size),
                i.containers.to_string(),
            ]);
        }
    }
    super::print_table(
        &[
            "REPOSITORY",
            "TAG",
            "IMAGE ID",
            "CREATED",
            "SIZE",
            "SHARED SIZE",
            "UNIQUE SIZE",
            "CONTAINERS",
        ],
        &rows,
    );
    println!("\nContainers space usage:\n");
    let rows: Vec<Vec<String>> = containers
        .iter()
        .map(|s| {
            let local = ctx
                .api()
                .container_inspect(&ctx.caller, &s.id)
                .ok()
                .and_then(|v| {
                    v["Mounts"]
                        .as_array()
                        .map(|m| m.iter().filter(|m| m["Type"] == "volume").count())
                })
                .unwrap_or(0);
            let cmd = if s.command.chars().count() <= 20 {
                format!("\"{}\"", s.command)
            } else {
                format!("\"{}…\"", s.command.chars().take(19).collect::<String>())
            };
            vec![
                wharf_engine::ids::short(&s.id).to_string(),
                s.image.clone(),
                cmd,
                local.to_string(),
                super::human_size(s.size_rw.unwrap_or(0)),
                super::ago(s.created),
                s.status.clone(),
                s.name.clone(),
            ]
        })
        .collect();
    super::print_table(
        &[
            "CONTAINER ID",
            "IMAGE",
            "COMMAND",
            "LOCAL VOLUMES",
            "SIZE",
            "CREATED",
            "STATUS",
            "NAMES",
        ],
        &rows,
    );
    println!("\nLocal Volumes space usage:\n");
    let rows: Vec<Vec<String>> = volumes
        .iter()
        .map(|v| {
            let (size, links) = v
                .usage_data
                .as_ref()
                .map(|u| (u.size, u.ref_count))
                .unwrap_or((0, 0));
            vec![v.name.clone(), links.to_string(), super::human_size(size)]
        })
        .collect();
    super::print_table(&["VOLUME NAME", "LINKS", "SIZE"], &rows);
    let cache = ctx.api().build_cache_list(&ctx.caller).unwrap_or_default();
    let total: u64 = cache.iter().map(|e| e.size).sum();
    println!("\nBuild cache usage: {}\n", super::human_size(total));
    let ago = super::ago;
    let rows: Vec<Vec<String>> = cache
        .iter()
        .map(|e| {
            let id = e.id.trim_start_matches("sha256:");
            vec![
                id[..12.min(id.len())].to_string(),
                "regular".to_string(),
                super::human_size(e.size),
                ago(e.created),
                ago(e.last_used),
                "1".to_string(),
                e.in_use.to_string(),
            ]
        })
        .collect();
    super::print_table(
        &[
            "CACHE ID",
            "CACHE TYPE",
            "SIZE",
            "CREATED",
            "LAST USED",
            "USAGE",
            "SHARED",
        ],
        &rows,
    );
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_as_docker_reads_them() {
        assert_eq!(
            parse_time("2024-01-02T15:04:05Z").unwrap(),
            1_704_207_845_000_000_000
        );
        assert_eq!(
            parse_time("1700000000.5").unwrap(),
            1_700_000_000_500_000_000
        );
        let now = chrono::Utc::now().timestamp_nanos_opt().unwrap();
        let t = parse_time("1h30m").unwrap();
        assert!((now - t - 5_400_000_000_000).abs() < 60_000_000_000, "{t}");
        for bad in ["nan", "inf", "-1", "1e30", "10x", "", "-10m"] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }
}
