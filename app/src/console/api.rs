//! The engine calls the console makes, in one place. They are blocking and run on
//! worker threads, never in the draw path. Errors become the engine's message text.

use serde_json::Value;
use wharf_engine::api::{
    ContainerCreate, ContainerListOptions, ContainerSummary, ImageListOptions, ImageSummary,
    LogLine, LogOptions, NetworkListOptions, RemoveOptions, RemoveOutcome, Volume,
    VolumeListOptions,
};
use wharf_engine::{Caller, Engine};
use wharf_views::networks::NetworkRow;
use wharf_views::Load;

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

fn msg(e: wharf_engine::EngineError) -> String {
    e.to_string()
}

/// `wharf ps -a`.
pub fn containers(e: &dyn Engine, c: &Caller) -> Load<Vec<ContainerSummary>> {
    match e.container_list(
        c,
        &ContainerListOptions {
            all: true,
            ..Default::default()
        },
    ) {
        Ok(v) => Load::Ready(v),
        Err(err) => Load::Error(msg(err)),
    }
}

/// `wharf images`.
pub fn images(e: &dyn Engine, c: &Caller) -> Load<Vec<ImageSummary>> {
    match e.image_list(c, &ImageListOptions::default()) {
        Ok(v) => Load::Ready(v),
        Err(err) => Load::Error(msg(err)),
    }
}

/// `wharf volume ls`.
pub fn volumes(e: &dyn Engine, c: &Caller) -> Load<Vec<Volume>> {
    match e.volume_list(c, &VolumeListOptions::default()) {
        Ok(v) => Load::Ready(v),
        Err(err) => Load::Error(err.to_string()),
    }
}

/// `wharf network ls`.
pub fn networks(e: &dyn Engine, c: &Caller) -> Load<Vec<NetworkRow>> {
    match e.network_list(c, &NetworkListOptions::default()) {
        Ok(v) => Load::Ready(
            v.into_iter()
                .map(|n| NetworkRow {
                    subnet: n
                        .ipam
                        .config
                        .iter()
                        .map(|x| x.subnet.clone())
                        .collect::<Vec<_>>()
                        .join(", "),
                    gateway: n
                        .ipam
                        .config
                        .iter()
                        .map(|x| x.gateway.clone())
                        .collect::<Vec<_>>()
                        .join(", "),
                    containers: {
                        let mut v: Vec<String> =
                            n.containers.values().map(|c| c.name.clone()).collect();
                        v.sort();
                        v
                    },
                    driver: n.driver,
                    name: n.name,
                })
                .collect(),
        ),
        Err(err) => Load::Error(msg(err)),
    }
}

/// Host CPU and memory for the header.
pub fn host(e: &dyn Engine, c: &Caller) -> Option<(f64, (u64, u64))> {
    e.host_stats(c)
        .ok()
        .map(|h| (h.cpu_percent, (h.mem_used, h.mem_total)))
}

/// One lifecycle action on one container.
pub fn container_op(e: &dyn Engine, c: &Caller, id: &str, op: ContainerOp) -> Result<(), String> {
    match op {
        ContainerOp::Start => e.container_start(c, id),
        ContainerOp::Stop => e.container_stop(c, id, None),
        ContainerOp::Restart => e.container_restart(c, id, None),
        ContainerOp::Kill => e.container_kill(c, id, "SIGKILL"),
        ContainerOp::Pause => e.container_pause(c, id),
        ContainerOp::Unpause => e.container_unpause(c, id),
        ContainerOp::Remove { force } => e.container_remove(
            c,
            id,
            RemoveOptions {
                force,
                volumes: false,
            },
        ),
    }
    .map_err(msg)
}

/// `wharf rename`.
pub fn container_rename(e: &dyn Engine, c: &Caller, id: &str, name: &str) -> Result<(), String> {
    e.container_rename(c, id, name).map_err(msg)
}

/// `wharf run -d`: create, then start. Returns the id.
pub fn container_run(e: &dyn Engine, c: &Caller, spec: &ContainerCreate) -> Result<String, String> {
    let id = e.container_create(c, spec).map_err(msg)?;
    e.container_start(c, &id).map_err(|err| {
        format!(
            "created {} but cannot start it: {err}",
            wharf_views::util::short_id(&id)
        )
    })?;
    Ok(id)
}

/// `wharf logs [-f] --tail N`.
pub fn container_logs(
    e: &dyn Engine,
    c: &Caller,
    id: &str,
    opts: &LogOptions,
    sink: &mut dyn FnMut(LogLine) -> bool,
) -> Result<(), String> {
    e.container_logs(c, id, opts, sink).map_err(msg)
}

/// Inspect JSON of a container, image or volume.
pub fn inspect(e: &dyn Engine, c: &Caller, kind: &str, id: &str) -> Result<Value, String> {
    match kind {
        "volume" => e
            .volume_inspect(c, id)
            .map_err(msg)
            .and_then(|v| serde_json::to_value(v).map_err(|x| x.to_string())),
        "container" => e.container_inspect(c, id).map_err(msg),
        "network" => e
            .network_inspect(c, id)
            .map_err(msg)
            .and_then(|v| serde_json::to_value(v).map_err(|x| x.to_string())),
        "image" => e.image_inspect(c, id).map_err(msg),
        other => Err(format!("cannot inspect a {other}")),
    }
}

/// `wharf rmi`; returns what was untagged/deleted, as lines.
pub fn image_remove(
    e: &dyn Engine,
    c: &Caller,
    reference: &str,
    force: bool,
) -> Result<Vec<String>, String> {
    e.image_remove(c, reference, force)
        .map(|v| {
            v.into_iter()
                .map(|o| match o {
                    RemoveOutcome::Untagged(r) => format!("Untagged: {r}"),
                    RemoveOutcome::Deleted(d) => format!("Deleted: {d}"),
                })
                .collect()
        })
        .map_err(msg)
}

/// `wharf tag`.
pub fn image_tag(e: &dyn Engine, c: &Caller, src: &str, dst: &str) -> Result<(), String> {
    e.image_tag(c, src, dst).map_err(msg)
}

/// `wharf image prune`: (deleted, bytes).
pub fn image_prune(e: &dyn Engine, c: &Caller) -> Result<(usize, u64), String> {
    e.image_prune(c, false)
        .map(|r| (r.deleted.len(), r.reclaimed))
        .map_err(msg)
}

/// `wharf image demo`: the id.
pub fn image_demo(e: &dyn Engine, c: &Caller, reference: &str) -> Result<String, String> {
    e.image_build_demo(c, reference).map_err(msg)
}

/// `wharf volume rm`.
pub fn volume_remove(e: &dyn Engine, c: &Caller, name: &str) -> Result<(), String> {
    e.volume_remove(c, name, false).map_err(|x| x.to_string())
}

/// `wharf volume prune`: (deleted, bytes).
pub fn volume_prune(e: &dyn Engine, c: &Caller) -> Result<(usize, u64), String> {
    e.volume_prune(c, false)
        .map(|r| (r.deleted.len(), r.reclaimed))
        .map_err(|x| x.to_string())
}
