//! The engine calls the console makes, in one place: the lists and streams it reads,
//! and [`Call`], every action a pane can ask of the engine (and the one file it writes,
//! a saved log). They are blocking and run on worker threads, never in the draw path.
//! Errors become the engine's message text; outcomes become the notification to show.

use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::mpsc::UnboundedSender;
use wharf_engine::api::{
    BuildContext, BuildEvent, BuildOptions, BuildResult, Change, CommitOptions, Connections,
    ContainerCreate, ContainerListOptions, ContainerStats, ContainerSummary, EventFilter,
    ExecConfig, ImageListOptions, ImageSummary, LogLine, LogOptions, NamePage, NetworkConnect,
    NetworkCreate, NetworkListOptions, PageRequest, PolicyChange, PolicyView, Progress,
    PullOptions, PushOptions, RegistryEntry, RemoteManifest, RemoveOptions, RemoveOutcome,
    Resources, RestartPolicy, StatsOptions, SystemInfo, TagDeletion, TopResult, Volume,
    VolumeCreate, VolumeListOptions,
};
use wharf_engine::events::Event;
use wharf_engine::{Caller, Engine};
use wharf_views::disk_usage::{self, Usage};
use wharf_views::footer::{Level, Notification};
use wharf_views::networks::NetworkRow;
use wharf_views::util::{ago, dsize, fit, short_id};
use wharf_views::Load;

use super::msg::{HostFigures, Lists, Msg, PaneMsg};

/// What a container action does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerOp {
    Start,
    Stop,
    Restart,
    Kill,
    Pause,
    Unpause,
    Remove { force: bool },
}

impl ContainerOp {
    /// Past tense for notifications.
    pub fn done(self) -> &'static str {
        match self {
            ContainerOp::Start => "started",
            ContainerOp::Stop => "stopped",
            ContainerOp::Restart => "restarted",
            ContainerOp::Kill => "killed",
            ContainerOp::Pause => "paused",
            ContainerOp::Unpause => "unpaused",
            ContainerOp::Remove { .. } => "removed",
        }
    }
    /// Verb for errors.
    pub fn verb(self) -> &'static str {
        match self {
            ContainerOp::Start => "start",
            ContainerOp::Stop => "stop",
            ContainerOp::Restart => "restart",
            ContainerOp::Kill => "kill",
            ContainerOp::Pause => "pause",
            ContainerOp::Unpause => "unpause",
            ContainerOp::Remove { .. } => "remove",
        }
    }
}

/// A container an action is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub id: String,
    pub name: String,
}

fn msg(e: wharf_engine::EngineError) -> String {
    e.to_string()
}

fn load<T>(r: wharf_engine::Result<T>) -> Load<T> {
    match r {
        Ok(v) => Load::Ready(v),
        Err(err) => Load::Error(msg(err)),
    }
}

// ----- what the console reads -----

/// Engine and host facts for the header.
pub fn info(e: &dyn Engine, c: &Caller) -> Result<Box<SystemInfo>, String> {
    e.info(c).map(Box::new).map_err(msg)
}

/// `wharf ps -a` (the rows a remote engine's client keeps, shared, not copied).
pub fn containers(e: &dyn Engine, c: &Caller) -> Load<std::sync::Arc<Vec<ContainerSummary>>> {
    let opts = ContainerListOptions {
        all: true,
        ..Default::default()
    };
    load(e.container_list_shared(c, &opts))
}

/// `wharf images`.
pub fn images(e: &dyn Engine, c: &Caller) -> Load<Vec<ImageSummary>> {
    load(e.image_list(c, &ImageListOptions::default()))
}

/// `wharf volume ls`.
pub fn volumes(e: &dyn Engine, c: &Caller) -> Load<Vec<Volume>> {
    load(e.volume_list(c, &VolumeListOptions::default()))
}

/// `wharf network ls`, as the networks pane shows it.
pub fn networks(e: &dyn Engine, c: &Caller) -> Load<Vec<NetworkRow>> {
    let join = |v: Vec<String>| v.join(", ");
    load(e.network_list(c, &NetworkListOptions::default())).map(|v| {
        v.into_iter()
            .map(|n| {
                let mut containers: Vec<String> =
                    n.containers.values().map(|c| c.name.clone()).collect();
                containers.sort();
                NetworkRow {
                    subnet: join(n.ipam.config.iter().map(|x| x.subnet.clone()).collect()),
                    gateway: join(n.ipam.config.iter().map(|x| x.gateway.clone()).collect()),
                    containers,
                    driver: n.driver,
                    name: n.name,
                }
            })
            .collect()
    })
}

/// Host CPU and memory for the header.
pub fn host(e: &dyn Engine, c: &Caller) -> HostFigures {
    match e.host_stats(c) {
        Ok(h) => HostFigures {
            cpu_percent: Some(h.cpu_percent),
            mem: Some((h.mem_used, h.mem_total)),
        },
        Err(_) => HostFigures::default(),
    }
}

/// `wharf stats`: rounds of samples of the running containers until `sink` says stop;
/// why the stream ended.
pub fn stats_stream(
    e: &dyn Engine,
    c: &Caller,
    sink: &mut dyn FnMut(Vec<ContainerStats>) -> bool,
) -> String {
    let opts = StatsOptions {
        stream: true,
        all: false,
    };
    match e.container_stats(c, &[], &opts, sink) {
        Ok(()) => "the stats stream ended".into(),
        Err(err) => msg(err),
    }
}

/// `wharf events --since 1h -f`: the last hour's events, then live ones until `sink`
/// says stop (`live` is false for the stored ones); why the stream ended.
pub fn events_stream(
    e: &dyn Engine,
    c: &Caller,
    sink: &mut dyn FnMut(Event, bool) -> bool,
) -> String {
    let start = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
    let f = EventFilter {
        since: Some(start - 3600 * 1_000_000_000),
        follow: true,
        ..Default::default()
    };
    match e.events(c, &f, &mut |ev| {
        let live = ev.time_nano >= start;
        sink(ev, live)
    }) {
        Ok(()) => "the event stream ended".into(),
        Err(err) => msg(err),
    }
}

/// `wharf logs [-f] --tail N`.
pub fn container_logs(
    e: &dyn Engine,
    c: &Caller,
    id: &str,
    follow: bool,
    tail: usize,
    sink: &mut dyn FnMut(LogLine) -> bool,
) -> Result<(), String> {
    let opts = LogOptions {
        follow,
        tail: Some(tail),
        stdout: true,
        stderr: true,
        ..Default::default()
    };
    e.container_logs(c, id, &opts, sink).map_err(msg)
}

/// Inspect JSON of a container, image, network or volume.
pub fn inspect(e: &dyn Engine, c: &Caller, kind: &str, id: &str) -> Result<Value, String> {
    fn json<T: serde::Serialize>(v: wharf_engine::Result<T>) -> Result<Value, String> {
        v.map_err(msg)
            .and_then(|v| serde_json::to_value(v).map_err(|x| x.to_string()))
    }
    match kind {
        "volume" => json(e.volume_inspect(c, id)),
        "container" => e.container_inspect(c, id).map_err(msg),
        "network" => json(e.network_inspect(c, id)),
        "image" => e.image_inspect(c, id).map_err(msg),
        other => Err(format!("cannot inspect a {other}")),
    }
}

/// `wharf top`: a container's processes.
pub fn top(e: &dyn Engine, c: &Caller, id: &str) -> Result<TopResult, String> {
    e.container_top(c, id).map_err(msg)
}

/// `wharf diff`: the changes of a container's writable layer.
pub fn diff(e: &dyn Engine, c: &Caller, id: &str) -> Result<Vec<Change>, String> {
    e.container_diff(c, id).map_err(msg)
}

/// The command each image runs by default (its entrypoint, then its cmd), by reference:
/// the run form says when a detached run of it would exit at once.
pub fn image_cmds(e: &dyn Engine, c: &Caller, refs: &[String]) -> Vec<(String, Vec<String>)> {
    let list = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    refs.iter()
        .filter_map(|r| {
            let j = e.image_inspect(c, r).ok()?;
            let cfg = &j["Config"];
            let mut cmd = list(&cfg["Entrypoint"]);
            cmd.extend(list(&cfg["Cmd"]));
            Some((r.clone(), cmd))
        })
        .collect()
}

/// `wharf system df`'s rows: images, staging, containers, local volumes, build cache.
pub fn disk_usage(e: &dyn Engine, c: &Caller) -> wharf_engine::Result<Vec<Usage>> {
    let u = e.image_disk_usage(c)?;
    let containers = e.container_list(
        c,
        &ContainerListOptions {
            all: true,
            size: true,
            ..Default::default()
        },
    )?;
    // The listing leaves volume sizes out; inspect works them out.
    let volumes: Vec<Volume> = e
        .volume_list(c, &VolumeListOptions::default())?
        .into_iter()
        .map(|v| e.volume_inspect(c, &v.name).unwrap_or(v))
        .collect();
    let rw = |s: &ContainerSummary| s.size_rw.unwrap_or(0);
    let vol = |v: &Volume| {
        v.usage_data
            .as_ref()
            .map(|u| (u.size, u.ref_count))
            .unwrap_or((0, 0))
    };
    let st = &u.staging;
    Ok(vec![
        Usage {
            kind: "Images",
            total: u.count,
            active: u.active,
            size: u.size,
            reclaimable: u.reclaimable,
        },
        Usage {
            kind: "Staging",
            total: st.count,
            active: st.active,
            size: st.size,
            reclaimable: st.reclaimable,
        },
        Usage {
            kind: "Containers",
            total: containers.len(),
            active: containers.iter().filter(|s| s.state.is_active()).count(),
            size: containers.iter().map(rw).sum(),
            reclaimable: containers
                .iter()
                .filter(|s| !s.state.is_active())
                .map(rw)
                .sum(),
        },
        Usage {
            kind: "Local Volumes",
            total: volumes.len(),
            active: volumes.iter().filter(|v| vol(v).1 > 0).count(),
            size: volumes.iter().map(|v| vol(v).0).sum(),
            reclaimable: volumes
                .iter()
                .filter(|v| vol(v).1 == 0)
                .map(|v| vol(v).0)
                .sum(),
        },
        // wharf keeps no build cache (yet): as `wharf system df` says.
        Usage {
            kind: "Build Cache",
            total: 0,
            active: 0,
            size: 0,
            reclaimable: 0,
        },
    ])
}

/// A shell's stream in a running container (`exec -it CTR sh`, bash when the image
/// has it), for a session on the terminal.
pub fn exec_shell(
    e: &dyn Engine,
    c: &Caller,
    id: &str,
    console_size: Option<(u16, u16)>,
) -> wharf_engine::Result<UnixStream> {
    let cfg = ExecConfig {
        cmd: vec!["/bin/sh".into(), "-c".into(), SHELL.into()],
        tty: true,
        stdin: true,
        console_size,
        ..Default::default()
    };
    e.exec(c, id, &cfg).and_then(|s| {
        s.stream.ok_or_else(|| {
            wharf_engine::EngineError::internal("the exec came back without a stream")
        })
    })
}

/// The shell [`exec_shell`] opens: bash when the image has it, else sh.
const SHELL: &str = "if command -v bash >/dev/null 2>&1; then exec bash; else exec sh; fi";

/// `run -it`: create the container (with a terminal and open stdin) and start it with
/// a stream attached from its first byte; its id, its name and the stream.
pub fn run_attached(
    e: &dyn Engine,
    c: &Caller,
    spec: &ContainerCreate,
    console_size: Option<(u16, u16)>,
) -> wharf_engine::Result<(String, UnixStream)> {
    let spec = ContainerCreate {
        tty: true,
        open_stdin: true,
        ..spec.clone()
    };
    let id = e.container_create(c, &spec)?;
    let sock = e.container_start_attached(c, &id, console_size)?;
    Ok((id, sock))
}

/// A container's own stdio (`attach`), with whether it has a terminal and an open stdin.
pub fn attach(
    e: &dyn Engine,
    c: &Caller,
    id: &str,
) -> wharf_engine::Result<(UnixStream, bool, bool)> {
    let info = e.container_inspect(c, id)?;
    let cfg = &info["Config"];
    let tty = cfg["Tty"].as_bool().unwrap_or(false);
    let stdin = cfg["OpenStdin"].as_bool().unwrap_or(false);
    e.container_attach(c, id).map(|sock| (sock, tty, stdin))
}

// ----- what the console does -----

/// An action a pane asks of the engine; [`Call::perform`] does it on a worker.
#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    /// One lifecycle action on each of `targets`.
    Containers {
        op: ContainerOp,
        targets: Vec<Target>,
    },
    /// `wharf rename`.
    Rename {
        id: String,
        old: String,
        new: String,
    },
    /// `wharf run -d`: create, then start; `line` is the equivalent command line.
    Run {
        spec: Box<ContainerCreate>,
        line: String,
    },
    /// `wharf create`: made, not started.
    Create {
        spec: Box<ContainerCreate>,
        line: String,
    },
    /// `wharf commit`.
    Commit {
        target: Target,
        opts: Box<CommitOptions>,
    },
    /// `wharf cp` into the container (`into`) or out of it, through the engine's
    /// archive calls; `host_path` is absolute.
    Copy {
        target: Box<Target>,
        into: bool,
        container_path: String,
        host_path: String,
    },
    /// `wharf export -o PATH`.
    Export { target: Target, path: String },
    /// `wharf update`: limits (`None`: unchanged) and the restart policy, live.
    Update {
        target: Target,
        resources: Box<Resources>,
        restart: Option<RestartPolicy>,
    },
    /// `wharf wait`: until the container stops; its exit code.
    Wait { target: Target },
    /// `wharf system df`, shown in a window.
    DiskUsage,
    /// `wharf rmi` of each reference.
    RemoveImages { refs: Vec<String> },
    /// `wharf tag`.
    TagImage { src: String, dst: String },
    /// `wharf image prune` (dangling images).
    PruneImages,
    /// `wharf image demo`.
    DemoImage { reference: String },
    /// `wharf pull`, with progress in the footer.
    PullImage { reference: String },
    /// `wharf history`, shown in a window.
    ImageHistory { reference: String },
    /// `wharf volume create [NAME]`.
    CreateVolume { name: Option<String> },
    /// `wharf volume rm`.
    RemoveVolume { name: String },
    /// `wharf volume prune [-a]`: unused anonymous volumes; with `all` named ones too.
    PruneVolumes { all: bool },
    /// `wharf network create`.
    CreateNetwork { spec: Box<NetworkCreate> },
    /// `wharf network rm`.
    RemoveNetwork { name: String },
    /// `wharf network connect [--ip] [--alias]`.
    Connect {
        network: String,
        container: String,
        opts: Box<NetworkConnect>,
    },
    /// `wharf network disconnect`.
    Disconnect { network: String, container: String },
    /// Write a log (as shown) to a file.
    SaveLog {
        path: String,
        text: String,
        lines: usize,
    },
    /// A registries or accounts pane's action after its confirmation; the answer goes
    /// back to the pane of context `to` as a [`PaneAnswer`].
    Pane { to: &'static str, call: PaneCall },
    /// `wharf compose -p PROJECT -f FILE... VERB [SERVICE...]`: a stack action, through
    /// the same `wharf_engine::compose` functions `wharf compose` calls.
    Stack {
        project: String,
        /// The compose files (absolute), from the project's labels or typed; may be
        /// empty for verbs that act on the project's containers by its labels.
        files: Vec<String>,
        services: Vec<String>,
        op: StackOp,
    },
    /// `wharf build [-f FILE] ... CONTEXT`: its events go to the build pane as they come
    /// (through `link`), which can cancel it.
    Build {
        context: String,
        /// `-f` as given (relative to the console's directory), for the command line.
        file: Option<String>,
        opts: Box<BuildOptions>,
        link: Box<BuildLink>,
    },
}

/// A build's way back to its pane: its number, where its events go, and the flag that
/// cancels it.
#[derive(Clone)]
pub struct BuildLink {
    pub serial: u64,
    pub to: &'static str,
    pub cancel: Arc<AtomicBool>,
    /// Set once the engine call has returned (its step's container removed).
    pub ended: Arc<AtomicBool>,
    pub tx: Option<UnboundedSender<Msg>>,
}

impl BuildLink {
    /// A link that goes nowhere (tests).
    #[cfg(test)]
    pub fn none() -> BuildLink {
        BuildLink {
            serial: 0,
            to: "build",
            cancel: Arc::new(AtomicBool::new(false)),
            ended: Arc::new(AtomicBool::new(false)),
            tx: None,
        }
    }
}

impl std::fmt::Debug for BuildLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BuildLink({})", self.serial)
    }
}

impl PartialEq for BuildLink {
    fn eq(&self, o: &BuildLink) -> bool {
        self.serial == o.serial && Arc::ptr_eq(&self.cancel, &o.cancel)
    }
}

/// What a build tells its pane.
#[derive(Debug)]
pub enum BuildFeed {
    Event {
        serial: u64,
        event: BuildEvent,
    },
    /// It ended: its image and tags, or the error; `cancelled` when a cancel ended it.
    End {
        serial: u64,
        result: Result<BuildResult, String>,
        cancelled: bool,
    },
}

/// What a stack action does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackOp {
    /// `up -d`.
    Up,
    /// `down [-v]`.
    Down {
        volumes: bool,
    },
    Start,
    Stop,
    Restart,
    Pause,
    Unpause,
}

impl StackOp {
    /// The compose verb's words.
    pub fn words(self) -> &'static [&'static str] {
        match self {
            StackOp::Up => &["up", "-d"],
            StackOp::Down { volumes: false } => &["down"],
            StackOp::Down { volumes: true } => &["down", "-v"],
            StackOp::Start => &["start"],
            StackOp::Stop => &["stop"],
            StackOp::Restart => &["restart"],
            StackOp::Pause => &["pause"],
            StackOp::Unpause => &["unpause"],
        }
    }

    /// Past tense for notifications.
    pub fn done(self) -> &'static str {
        match self {
            StackOp::Up => "up",
            StackOp::Down { .. } => "down",
            StackOp::Start => "started",
            StackOp::Stop => "stopped",
            StackOp::Restart => "restarted",
            StackOp::Pause => "paused",
            StackOp::Unpause => "unpaused",
        }
    }
}

/// What a registries or accounts pane asks after a confirmation.
#[derive(Debug, Clone, PartialEq)]
pub enum PaneCall {
    /// `wharf logout SERVER`.
    RegistryLogout { server: String },
    /// Delete a tag from its registry.
    RegistryDelete { reference: String },
    /// Replace the policy with `text` (the edit of version `base`), `what` in a word.
    PolicyWrite {
        text: String,
        base: Option<String>,
        what: String,
    },
}

/// The answer to a [`PaneCall`].
#[derive(Debug)]
pub enum PaneAnswer {
    LoggedOut {
        server: String,
        result: Result<(), String>,
    },
    Deleted {
        reference: String,
        result: Result<TagDeletion, String>,
    },
    PolicyWritten {
        what: String,
        result: Result<PolicyChange, String>,
    },
}

impl PaneCall {
    fn perform(self, e: &dyn Engine, c: &Caller) -> PaneAnswer {
        match self {
            PaneCall::RegistryLogout { server } => PaneAnswer::LoggedOut {
                result: e.registry_logout(c, &server).map_err(msg),
                server,
            },
            PaneCall::RegistryDelete { reference } => PaneAnswer::Deleted {
                result: e.registry_delete(c, &reference).map_err(msg),
                reference,
            },
            PaneCall::PolicyWrite { text, base, what } => PaneAnswer::PolicyWritten {
                result: e.policy_write(c, &text, base.as_deref()).map_err(msg),
                what,
            },
        }
    }
}

impl Call {
    /// The lists this call changes.
    pub fn changes(&self) -> Lists {
        match self {
            // Image use counts change with containers, and so do volumes' users.
            Call::Containers {
                op: ContainerOp::Remove { .. },
                ..
            }
            | Call::Run { .. }
            | Call::Create { .. } => Lists::CONTAINERS.and(Lists::IMAGES).and(Lists::VOLUMES),
            Call::Containers { .. }
            | Call::Rename { .. }
            | Call::Update { .. }
            | Call::Wait { .. } => Lists::CONTAINERS,
            Call::Commit { .. } => Lists::IMAGES,
            Call::Copy { .. } | Call::Export { .. } | Call::DiskUsage => Lists::NONE,
            Call::RemoveImages { .. }
            | Call::TagImage { .. }
            | Call::PruneImages
            | Call::DemoImage { .. }
            | Call::PullImage { .. } => Lists::IMAGES,
            Call::CreateVolume { .. } | Call::RemoveVolume { .. } | Call::PruneVolumes { .. } => {
                Lists::VOLUMES
            }
            Call::CreateNetwork { .. } | Call::RemoveNetwork { .. } => Lists::NETWORKS,
            Call::Build { .. } => Lists::IMAGES,
            Call::Connect { .. } | Call::Disconnect { .. } => {
                Lists::NETWORKS.and(Lists::CONTAINERS)
            }
            Call::ImageHistory { .. } | Call::SaveLog { .. } | Call::Pane { .. } => Lists::NONE,
            Call::Stack { .. } => Lists::CONTAINERS
                .and(Lists::NETWORKS)
                .and(Lists::VOLUMES)
                .and(Lists::IMAGES),
        }
    }

    /// What the footer says while it runs (for the slow ones, and container actions).
    pub fn busy(&self) -> Option<String> {
        match self {
            Call::Containers { op, targets } => Some(format!(
                "{} {}…",
                op.verb(),
                targets
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            Call::Run { spec, .. } => Some(format!(
                "creating {}…",
                spec.name.as_deref().unwrap_or(&spec.image)
            )),
            Call::DemoImage { reference } => {
                Some(format!("building {reference} from the host's busybox…"))
            }
            Call::PullImage { reference } => Some(format!("pulling {reference}…")),
            Call::Pane {
                call: PaneCall::RegistryDelete { reference },
                ..
            } => Some(format!("deleting {reference}…")),
            Call::Pane {
                call: PaneCall::PolicyWrite { what, .. },
                ..
            } => Some(format!("writing the policy ({what})…")),
            Call::Create { spec, .. } => Some(format!(
                "creating {}…",
                spec.name.as_deref().unwrap_or(&spec.image)
            )),
            Call::Commit { target, .. } => Some(format!("committing {}…", target.name)),
            Call::Copy { target, into, .. } => Some(format!(
                "copying {} {}…",
                if *into { "into" } else { "out of" },
                target.name
            )),
            Call::Export { target, path } => Some(format!("exporting {} to {path}…", target.name)),
            Call::Wait { target } => Some(format!(
                "waiting for {} to stop (the console goes on)…",
                target.name
            )),
            Call::Build { context, .. } => Some(format!("building {context}…")),
            Call::Stack {
                project,
                services,
                op,
                ..
            } => Some(format!(
                "compose {} {project}{}…",
                op.words()[0],
                if services.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", services.join(", "))
                }
            )),
            _ => None,
        }
    }

    /// Do it; `progress` gets lines for the footer while it runs. The answer is the
    /// notification (with the lists to read again), or a window to show.
    pub fn perform(self, e: &dyn Engine, c: &Caller, progress: &mut dyn FnMut(String)) -> Msg {
        let refresh = self.changes();
        let note = match self {
            Call::Pane { to, call } => {
                return Msg::Pane {
                    to,
                    msg: PaneMsg::new(call.perform(e, c)),
                }
            }
            Call::Containers { op, targets } => containers_op(e, c, op, &targets),
            Call::Build {
                context,
                opts,
                link,
                ..
            } => build(e, c, &context, &opts, &link),
            Call::Rename { id, old, new } => outcome(
                e.container_rename(c, &id, &new),
                |()| format!("renamed {old} to {new}"),
                format!("cannot rename {old}"),
            ),
            Call::Run { spec, line } => run(e, c, &spec, &line),
            Call::Create { spec, line } => outcome(
                e.container_create(c, &spec),
                |id| {
                    format!(
                        "created {} ({}): not started",
                        spec.name.as_deref().unwrap_or("a container"),
                        short_id(&id)
                    )
                },
                format!(
                    "cannot create {} ({line})",
                    spec.name.as_deref().unwrap_or(&spec.image)
                ),
            ),
            Call::Commit { target, opts } => outcome(
                e.container_commit(c, &target.id, &opts),
                |id| match &opts.reference {
                    Some(r) => format!("committed {} as {r} ({})", target.name, short_id(&id)),
                    None => format!(
                        "committed {} as an untagged image ({})",
                        target.name,
                        short_id(&id)
                    ),
                },
                format!("cannot commit {}", target.name),
            ),
            Call::Copy {
                target,
                into,
                container_path,
                host_path,
            } => {
                let where_ = format!("{}:{container_path}", target.name);
                if into {
                    outcome(
                        crate::cli::toolbox::copy_in(e, c, &host_path, &target.id, &container_path),
                        |()| format!("copied {host_path} into {where_}"),
                        format!("cannot copy {host_path} into {where_}"),
                    )
                } else {
                    outcome(
                        crate::cli::toolbox::copy_out(
                            e,
                            c,
                            &target.id,
                            &container_path,
                            &host_path,
                        ),
                        |()| format!("copied {where_} to {host_path}"),
                        format!("cannot copy {where_} to {host_path}"),
                    )
                }
            }
            Call::Export { target, path } => outcome(
                export(e, c, &target.id, &path),
                |n| format!("exported {} to {path} ({})", target.name, dsize(n)),
                format!("cannot export {} to {path}", target.name),
            ),
            Call::Update {
                target,
                resources,
                restart,
            } => outcome(
                e.container_update(c, &target.id, &resources, restart.as_ref()),
                |()| format!("updated {}", target.name),
                format!("cannot update {}", target.name),
            ),
            Call::Wait { target } => match e.container_wait(c, &target.id) {
                Ok(code) => Notification {
                    level: if code == 0 { Level::Ok } else { Level::Warn },
                    text: format!("{} stopped: exit code {code}", target.name),
                    details: None,
                },
                Err(err) => Notification {
                    level: Level::Error,
                    text: format!("cannot wait for {}: {err}", target.name),
                    details: Some(err.to_string()),
                },
            },
            Call::DiskUsage => match disk_usage(e, c) {
                Ok(rows) => {
                    return Msg::Show {
                        title: "disk usage".into(),
                        body: disk_usage::text(&rows),
                    }
                }
                Err(err) => Notification {
                    level: Level::Error,
                    text: format!("cannot read the disk usage: {err}"),
                    details: Some(err.to_string()),
                },
            },
            Call::RemoveImages { refs } => remove_images(e, c, &refs),
            Call::TagImage { src, dst } => outcome(
                e.image_tag(c, &src, &dst),
                |()| format!("tagged {src} as {dst}"),
                format!("cannot tag {src}"),
            ),
            Call::PruneImages => outcome(
                e.image_prune(c, false),
                |r| {
                    format!(
                        "pruned {} images, {} freed",
                        r.deleted.len(),
                        dsize(r.reclaimed)
                    )
                },
                "cannot prune images".into(),
            ),
            Call::DemoImage { reference } => outcome(
                e.image_build_demo(c, &reference),
                |id| format!("built {reference} ({})", short_id(&id)),
                "cannot build the demo image".into(),
            ),
            Call::PullImage { reference } => pull(e, c, &reference, progress),
            Call::ImageHistory { reference } => match e.image_history(c, &reference) {
                Ok(h) => {
                    let mut body = format!(
                        "{:<14}{:<14}{:>10}  {}\n",
                        "IMAGE", "CREATED", "SIZE", "CREATED BY"
                    );
                    let now = chrono::Utc::now().timestamp();
                    for x in h {
                        body.push_str(&format!(
                            "{:<14}{:<14}{:>10}  {}\n",
                            fit(short_id(&x.id), 12),
                            ago(x.created, now),
                            dsize(x.size),
                            fit(&x.created_by, 60)
                        ));
                    }
                    return Msg::Show {
                        title: format!("history of {reference}"),
                        body,
                    };
                }
                Err(err) => Notification {
                    level: Level::Error,
                    text: format!("cannot read the history of {reference}: {err}"),
                    details: Some(err.to_string()),
                },
            },
            Call::CreateVolume { name } => outcome(
                e.volume_create(
                    c,
                    &VolumeCreate {
                        name,
                        ..Default::default()
                    },
                ),
                |vol| format!("created volume {}", vol.name),
                "cannot create the volume".into(),
            ),
            Call::RemoveVolume { name } => outcome(
                e.volume_remove(c, &name, false),
                |()| format!("removed volume {name}"),
                format!("cannot remove volume {name}"),
            ),
            Call::PruneVolumes { all } => outcome(
                e.volume_prune(c, all),
                |r| {
                    let n = r.deleted.len();
                    // Anonymous volumes by short id.
                    let short = |v: &String| {
                        if v.len() == 64 && v.chars().all(|c| c.is_ascii_hexdigit()) {
                            short_id(v).to_string()
                        } else {
                            v.clone()
                        }
                    };
                    let names = if n == 0 {
                        String::new()
                    } else {
                        let v: Vec<String> = r.deleted.iter().map(short).collect();
                        format!(" ({})", v.join(", "))
                    };
                    format!(
                        "pruned {n} volume{}{names}, {} freed",
                        if n == 1 { "" } else { "s" },
                        dsize(r.reclaimed)
                    )
                },
                "cannot prune volumes".into(),
            ),
            Call::CreateNetwork { spec } => outcome(
                e.network_create(c, &spec),
                |_| format!("created network {}", spec.name),
                format!("cannot create network {}", spec.name),
            ),
            Call::RemoveNetwork { name } => outcome(
                e.network_remove(c, &name),
                |()| format!("removed network {name}"),
                format!("cannot remove network {name}"),
            ),
            Call::Connect {
                network,
                container,
                opts,
            } => outcome(
                e.network_connect(c, &network, &container, &opts),
                |()| format!("connected {container} to {network}"),
                format!("cannot connect {container} to {network}"),
            ),
            Call::Disconnect { network, container } => outcome(
                e.network_disconnect(c, &network, &container),
                |()| format!("disconnected {container} from {network}"),
                format!("cannot disconnect {container} from {network}"),
            ),
            Call::SaveLog { path, text, lines } => outcome(
                std::fs::write(&path, text),
                |()| format!("saved {lines} lines to {path}"),
                format!("cannot write {path}"),
            ),
            Call::Stack {
                project,
                files,
                services,
                op,
            } => stack(e, c, &project, &files, &services, op, progress),
        };
        Msg::Done { note, refresh }
    }
}

/// A build, its events sent to its pane as they come; cancelled when the pane's flag is
/// set.
fn build(
    e: &dyn Engine,
    c: &Caller,
    context: &str,
    opts: &BuildOptions,
    link: &BuildLink,
) -> Notification {
    let send = |f: BuildFeed| {
        if let Some(tx) = &link.tx {
            let _ = tx.send(Msg::Pane {
                to: link.to,
                msg: PaneMsg::new(f),
            });
        }
    };
    let r = e.image_build(
        c,
        opts,
        BuildContext::Dir(std::path::PathBuf::from(context)),
        &mut |event| {
            send(BuildFeed::Event {
                serial: link.serial,
                event,
            });
            !link.cancel.load(Ordering::SeqCst)
        },
    );
    link.ended.store(true, Ordering::SeqCst);
    let cancelled = r.is_err() && link.cancel.load(Ordering::SeqCst);
    let note = match &r {
        Ok(b) => Notification {
            level: Level::Ok,
            text: match b.tags.first() {
                Some(t) => format!(
                    "built {} ({}, {} steps, {} cached)",
                    wharf_views::util::short_ref(t),
                    short_id(&b.image_id),
                    b.steps,
                    b.cached
                ),
                None => format!("built {}", short_id(&b.image_id)),
            },
            details: None,
        },
        Err(_) if cancelled => Notification {
            level: Level::Warn,
            text: format!("the build of {context} was cancelled; no image was made"),
            details: None,
        },
        Err(err) => Notification {
            level: Level::Error,
            text: format!("cannot build {context}: {err}"),
            details: Some(err.to_string()),
        },
    };
    send(BuildFeed::End {
        serial: link.serial,
        result: r.map_err(msg),
        cancelled,
    });
    note
}

/// The notification for an outcome: `ok`'s text on success; on failure `failed: error`
/// with the whole error as details.
fn outcome<T, E: std::fmt::Display>(
    r: Result<T, E>,
    ok: impl FnOnce(T) -> String,
    failed: String,
) -> Notification {
    match r {
        Ok(x) => Notification {
            level: Level::Ok,
            text: ok(x),
            details: None,
        },
        Err(err) => Notification {
            level: Level::Error,
            text: format!("{failed}: {err}"),
            details: Some(err.to_string()),
        },
    }
}

/// Load a project's compose files as `wharf compose -p NAME -f FILE...` does (the
/// variables of the console's environment, the first file's directory).
pub fn load_stack(
    project: Option<&str>,
    files: &[String],
) -> wharf_engine::Result<wharf_engine::compose::Project> {
    let cwd = files
        .first()
        .and_then(|f| std::path::Path::new(f).parent().map(|p| p.to_path_buf()))
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_else(|| std::path::PathBuf::from("."));
    wharf_engine::compose::load(&wharf_engine::compose::LoadOptions {
        files: files.iter().map(std::path::PathBuf::from).collect(),
        project_name: project.map(String::from),
        env: std::env::vars().collect(),
        cwd,
        ..Default::default()
    })
}

/// A stack action, through `wharf_engine::compose::ops` as `wharf compose` does it:
/// `up` loads the files; the other verbs act on the project's containers by its labels
/// (with the files when they can be read, for the services' order). Errors name the
/// project and the file.
fn stack(
    e: &dyn Engine,
    c: &Caller,
    project: &str,
    files: &[String],
    services: &[String],
    op: StackOp,
    progress: &mut dyn FnMut(String),
) -> Notification {
    use wharf_engine::compose::ops::{self, DownOptions, Verb};
    let steps = std::sync::Mutex::new(Vec::<String>::new());
    let sink = |p: wharf_engine::compose::Progress| {
        if let Ok(mut v) = steps.lock() {
            v.push(format!("{} {} {}", p.kind, p.name, p.action));
        }
    };
    let file_text = if files.is_empty() {
        String::new()
    } else {
        format!(" ({})", files.join(", "))
    };
    let failed = |err: wharf_engine::EngineError, what: &str| Notification {
        level: Level::Error,
        text: format!("cannot {what} project {project}{file_text}: {err}"),
        details: Some(err.to_string()),
    };
    let loaded = if files.is_empty() {
        None
    } else {
        match load_stack(Some(project), files) {
            Ok(p) => Some(p),
            // Verbs on existing containers work from the labels alone, as `-p` does.
            Err(err) if op == StackOp::Up => return failed(err, "start"),
            Err(_) => None,
        }
    };
    let r = match op {
        StackOp::Up => match &loaded {
            Some(p) => {
                progress(format!("compose up {project}…"));
                let opts = wharf_engine::compose::UpOptions {
                    services: services.to_vec(),
                    ..Default::default()
                };
                ops::up(e, c, p, &opts, &sink)
            }
            None => {
                return Notification {
                    level: Level::Error,
                    text: format!(
                        "cannot start project {project}: its compose file is not known (its containers have no config_files label); use :stacks up FILE"
                    ),
                    details: None,
                }
            }
        },
        StackOp::Down { volumes } => ops::down(
            e,
            c,
            project,
            loaded.as_ref(),
            &DownOptions {
                volumes,
                ..Default::default()
            },
            &sink,
        ),
        op => {
            let verb = match op {
                StackOp::Start => Verb::Start,
                StackOp::Stop => Verb::Stop(None),
                StackOp::Restart => Verb::Restart(None),
                StackOp::Pause => Verb::Pause,
                _ => Verb::Unpause,
            };
            ops::act(e, c, project, loaded.as_ref(), services, &verb, &sink).map(|_| ())
        }
    };
    let steps = steps.into_inner().unwrap_or_default();
    match r {
        Ok(()) => {
            let warn: Vec<&String> = steps.iter().filter(|s| s.contains("Warning: ")).collect();
            let what = if services.is_empty() {
                format!("project {project}")
            } else {
                format!("{} of project {project}", services.join(", "))
            };
            Notification {
                level: if warn.is_empty() {
                    Level::Ok
                } else {
                    Level::Warn
                },
                text: match warn.first() {
                    Some(w) => format!("{what} {}; {w}", op.done()),
                    None => format!("{what} {}", op.done()),
                },
                details: (!steps.is_empty()).then(|| steps.join("\n")),
            }
        }
        Err(err) => {
            let verb = match op {
                StackOp::Up => "start",
                StackOp::Down { .. } => "take down",
                op => op.words()[0],
            };
            let mut n = failed(err, verb);
            if !steps.is_empty() {
                n.details = Some(format!(
                    "{}\n\n{}",
                    steps.join("\n"),
                    n.details.unwrap_or_default()
                ));
            }
            n
        }
    }
}

/// One lifecycle action on each container, all reported in one notification.
fn containers_op(e: &dyn Engine, c: &Caller, op: ContainerOp, targets: &[Target]) -> Notification {
    let mut ok = Vec::new();
    let mut errs = Vec::new();
    for t in targets {
        let r = match op {
            ContainerOp::Start => e.container_start(c, &t.id),
            ContainerOp::Stop => e.container_stop(c, &t.id, None),
            ContainerOp::Restart => e.container_restart(c, &t.id, None),
            // As `wharf kill` says it (its equivalent command sends the same).
            ContainerOp::Kill => e.container_kill(c, &t.id, "KILL"),
            ContainerOp::Pause => e.container_pause(c, &t.id),
            ContainerOp::Unpause => e.container_unpause(c, &t.id),
            ContainerOp::Remove { force } => e.container_remove(
                c,
                &t.id,
                RemoveOptions {
                    force,
                    volumes: false,
                },
            ),
        };
        match r {
            Ok(()) => ok.push(t.name.clone()),
            Err(err) => errs.push(format!("cannot {} {}: {err}", op.verb(), t.name)),
        }
    }
    if errs.is_empty() {
        return Notification {
            level: Level::Ok,
            text: format!("{} {}", op.done(), ok.join(", ")),
            details: None,
        };
    }
    let mut text = errs[0].clone();
    if errs.len() > 1 {
        text = format!("{} errors; first: {text}", errs.len());
    }
    if !ok.is_empty() {
        text.push_str(&format!("; {} {}", op.done(), ok.join(", ")));
    }
    Notification {
        level: Level::Error,
        text,
        details: Some(errs.join("\n")),
    }
}

fn run(e: &dyn Engine, c: &Caller, spec: &ContainerCreate, line: &str) -> Notification {
    let name = spec.name.clone().unwrap_or_default();
    let started = e.container_create(c, spec).map_err(msg).and_then(|id| {
        e.container_start(c, &id)
            .map(|()| id.clone())
            .map_err(|err| format!("created {} but cannot start it: {err}", short_id(&id)))
    });
    match started {
        Ok(id) => exited_at_once(e, c, &id).unwrap_or_else(|| Notification {
            level: Level::Ok,
            text: format!("started {name} ({})", short_id(&id)),
            details: None,
        }),
        Err(err) => Notification {
            level: Level::Error,
            text: format!("cannot run: {err}"),
            details: Some(format!("{line}\n\n{err}")),
        },
    }
}

/// How long after its start a container is watched for an exit at once.
const FIRST_MOMENTS: std::time::Duration = std::time::Duration::from_millis(500);

/// A container that stopped within [`FIRST_MOMENTS`] of its start: say so, and why as far
/// as can be told (a shell with no input; else its last log lines).
fn exited_at_once(e: &dyn Engine, c: &Caller, id: &str) -> Option<Notification> {
    let deadline = std::time::Instant::now() + FIRST_MOMENTS;
    let j = loop {
        let j = e.container_inspect(c, id).ok()?;
        if matches!(j["State"]["Status"].as_str(), Some("exited" | "dead")) {
            break j;
        }
        if std::time::Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let name = j["Name"].as_str().unwrap_or(id).trim_start_matches('/');
    let code = j["State"]["ExitCode"].as_i64().unwrap_or(0);
    let words = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut cmd = words(&j["Config"]["Entrypoint"]);
    cmd.extend(words(&j["Config"]["Cmd"]));
    let tty = j["Config"]["Tty"].as_bool().unwrap_or(false);
    if !tty && wharf_views::run_form::is_bare_shell(&cmd) {
        return Some(Notification {
            level: Level::Warn,
            text: format!(
                "{name} exited at once (exit code {code}): {} is a shell that waits for input, and a detached container has none. Run it with start: interactive (run -it) in the run form, or give it a command",
                cmd.join(" ")
            ),
            details: None,
        });
    }
    let mut tail = Vec::new();
    let _ = container_logs(e, c, id, false, 5, &mut |l| {
        tail.push(l.log.trim_end().to_string());
        true
    });
    let last = tail
        .last()
        .map(|l| format!("; its last line: {}", fit(l, 80)))
        .unwrap_or_default();
    Some(Notification {
        level: if code == 0 { Level::Info } else { Level::Warn },
        text: format!("{name} exited at once (exit code {code}){last}"),
        details: (!tail.is_empty()).then(|| tail.join("\n")),
    })
}

/// `wharf export -o PATH`: the bytes written. A file left half-written by a failure is
/// removed.
fn export(e: &dyn Engine, c: &Caller, id: &str, path: &str) -> wharf_engine::Result<u64> {
    use std::io::Write;
    let f = std::fs::File::create(path)
        .map_err(|err| wharf_engine::EngineError::io(format!("creating {path}"), err))?;
    let mut w = std::io::BufWriter::new(f);
    let r = e
        .container_export(c, id, &mut w)
        .and_then(|()| {
            w.flush()
                .map_err(|err| wharf_engine::EngineError::io(format!("writing {path}"), err))
        })
        .and_then(|()| {
            std::fs::metadata(path)
                .map(|m| m.len())
                .map_err(|err| wharf_engine::EngineError::io(format!("reading {path}"), err))
        });
    if r.is_err() {
        drop(w);
        let _ = std::fs::remove_file(path);
    }
    r
}

fn remove_images(e: &dyn Engine, c: &Caller, refs: &[String]) -> Notification {
    let mut lines = Vec::new();
    let mut errs = Vec::new();
    for r in refs {
        match e.image_remove(c, r, false) {
            Ok(v) => lines.extend(v.into_iter().map(|o| match o {
                RemoveOutcome::Untagged(r) => format!("Untagged: {r}"),
                RemoveOutcome::Deleted(d) => format!("Deleted: {d}"),
            })),
            Err(err) => errs.push(format!("cannot remove {r}: {err}")),
        }
    }
    if errs.is_empty() {
        Notification {
            level: Level::Ok,
            text: format!("removed {}", refs.join(", ")),
            details: Some(lines.join("\n")),
        }
    } else {
        Notification {
            level: Level::Error,
            text: errs[0].clone(),
            details: Some(errs.join("\n")),
        }
    }
}

fn pull(
    e: &dyn Engine,
    c: &Caller,
    reference: &str,
    progress: &mut dyn FnMut(String),
) -> Notification {
    let mut last = std::time::Instant::now();
    let r = e.image_pull(c, reference, &Default::default(), &mut |p| {
        // At most a few updates a second.
        if last.elapsed() < std::time::Duration::from_millis(200) {
            return;
        }
        last = std::time::Instant::now();
        progress(match p {
            Progress::Layer {
                id,
                status,
                current,
                total: Some(t),
            } if t > 0 => format!("pulling {reference}: {id} {status} {}%", current * 100 / t),
            Progress::Layer { id, status, .. } => format!("pulling {reference}: {id} {status}"),
            Progress::Message(m) => format!("pulling {reference}: {m}"),
        });
    });
    outcome(
        r,
        |id| format!("pulled {reference} ({})", short_id(&id)),
        format!("cannot pull {reference}"),
    )
}

// ----- registries and accounts (their panes) -----

/// The caller's registries (logged in to, or configured).
pub fn registry_list(e: &dyn Engine, c: &Caller) -> Result<Vec<RegistryEntry>, String> {
    e.registry_list(c).map_err(msg)
}

/// A page of `registry`'s repositories after `last`.
pub fn registry_catalog(
    e: &dyn Engine,
    c: &Caller,
    registry: &str,
    last: Option<String>,
) -> Result<NamePage, String> {
    let page = PageRequest { n: None, last };
    e.registry_catalog(c, registry, &page).map_err(msg)
}

/// A page of `repository`'s tags after `last`.
pub fn registry_tags(
    e: &dyn Engine,
    c: &Caller,
    repository: &str,
    last: Option<String>,
) -> Result<NamePage, String> {
    let page = PageRequest { n: None, last };
    e.registry_tags(c, repository, &page).map_err(msg)
}

/// A tag's manifest, with the image of `platform` (this host's by default).
pub fn registry_manifest(
    e: &dyn Engine,
    c: &Caller,
    reference: &str,
    platform: Option<&str>,
) -> Result<RemoteManifest, String> {
    e.registry_manifest(c, reference, platform).map_err(msg)
}

/// `wharf login SERVER -u USER` with the password typed in the pane.
pub fn registry_login(
    e: &dyn Engine,
    c: &Caller,
    server: &str,
    user: &str,
    password: &str,
) -> Result<(), String> {
    e.registry_login(c, server, user, password).map_err(msg)
}

/// `wharf pull [--platform P] REFERENCE`, each progress step to `progress`; the image id.
pub fn pull_image(
    e: &dyn Engine,
    c: &Caller,
    reference: &str,
    platform: Option<String>,
    progress: &mut dyn FnMut(Progress),
) -> Result<String, String> {
    let opts = PullOptions {
        platform,
        ..Default::default()
    };
    e.image_pull(c, reference, &opts, progress).map_err(msg)
}

/// `wharf tag LOCAL TARGET` (unless they are the same) and `wharf push TARGET`.
pub fn push_image(
    e: &dyn Engine,
    c: &Caller,
    local: &str,
    target: &str,
    progress: &mut dyn FnMut(Progress),
) -> Result<(), String> {
    if local != target {
        e.image_tag(c, local, target)
            .map_err(|err| format!("cannot tag {local} as {target}: {err}"))?;
    }
    e.image_push(c, target, &PushOptions::default(), progress)
        .map_err(msg)
}

/// The policy in force.
pub fn policy_read(e: &dyn Engine, c: &Caller) -> Result<PolicyView, String> {
    e.policy_read(c).map_err(msg)
}

/// Who is connected to the engine's socket.
pub fn connections(e: &dyn Engine, c: &Caller) -> Result<Connections, String> {
    e.connections(c).map_err(msg)
}

/// Each user's containers and limits.
pub fn account_usage(e: &dyn Engine, c: &Caller) -> Result<Vec<wharf_engine::api::Usage>, String> {
    e.account_usage(c).map_err(msg)
}
