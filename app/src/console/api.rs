//! The engine calls the console makes, in one place. They are blocking and run on
//! worker threads, never in the draw path. Errors become the engine's message text.
//! Areas whose API the engine does not offer yet answer `Load::Unavailable`/an error
//! saying so, instead of pretending.

use serde_json::Value;
use wharf_engine::api::{
    ContainerCreate, ContainerSummary, ImageSummary, LogLine, LogOptions, Volume, VolumeListOptions,
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

const NO_CONTAINERS: &str = "this engine has no container API yet (the runtime part is not in this build)";
const NO_IMAGES: &str = "this engine has no image API yet (the image part is not in this build)";
const NO_NETWORKS: &str = "this engine has no network API yet (the network part is not in this build)";

/// `wharf ps -a`.
pub fn containers(_e: &dyn Engine, _c: &Caller) -> Load<Vec<ContainerSummary>> {
    Load::Unavailable(format!("containers: {NO_CONTAINERS}"))
}

/// `wharf images`.
pub fn images(_e: &dyn Engine, _c: &Caller) -> Load<Vec<ImageSummary>> {
    Load::Unavailable(format!("images: {NO_IMAGES}"))
}

/// `wharf volume ls`.
pub fn volumes(e: &dyn Engine, c: &Caller) -> Load<Vec<Volume>> {
    match e.volume_list(c, &VolumeListOptions::default()) {
        Ok(v) => Load::Ready(v),
        Err(err) => Load::Error(err.to_string()),
    }
}

/// `wharf network ls`.
pub fn networks(_e: &dyn Engine, _c: &Caller) -> Load<Vec<NetworkRow>> {
    Load::Unavailable(format!("networks: {NO_NETWORKS}"))
}

/// One lifecycle action on one container.
pub fn container_op(_e: &dyn Engine, _c: &Caller, _id: &str, _op: ContainerOp) -> Result<(), String> {
    Err(NO_CONTAINERS.into())
}

/// `wharf rename`.
pub fn container_rename(_e: &dyn Engine, _c: &Caller, _id: &str, _name: &str) -> Result<(), String> {
    Err(NO_CONTAINERS.into())
}

/// `wharf run -d`: create, then start. Returns the id.
pub fn container_run(_e: &dyn Engine, _c: &Caller, _spec: &ContainerCreate) -> Result<String, String> {
    Err(NO_CONTAINERS.into())
}

/// `wharf logs [-f] --tail N`.
pub fn container_logs(
    _e: &dyn Engine,
    _c: &Caller,
    _id: &str,
    _opts: &LogOptions,
    _sink: &mut dyn FnMut(LogLine) -> bool,
) -> Result<(), String> {
    Err(NO_CONTAINERS.into())
}

/// Inspect JSON of a container, image or volume.
pub fn inspect(e: &dyn Engine, c: &Caller, kind: &str, id: &str) -> Result<Value, String> {
    match kind {
        "volume" => e.volume_inspect(c, id).map_err(|x| x.to_string()).and_then(|v| serde_json::to_value(v).map_err(|x| x.to_string())),
        "container" => Err(NO_CONTAINERS.into()),
        "image" => Err(NO_IMAGES.into()),
        other => Err(format!("cannot inspect a {other}")),
    }
}

/// `wharf rmi`; returns what was untagged/deleted, as lines.
pub fn image_remove(_e: &dyn Engine, _c: &Caller, _reference: &str, _force: bool) -> Result<Vec<String>, String> {
    Err(NO_IMAGES.into())
}

/// `wharf tag`.
pub fn image_tag(_e: &dyn Engine, _c: &Caller, _src: &str, _dst: &str) -> Result<(), String> {
    Err(NO_IMAGES.into())
}

/// `wharf image prune`: (deleted, bytes).
pub fn image_prune(_e: &dyn Engine, _c: &Caller) -> Result<(usize, u64), String> {
    Err(NO_IMAGES.into())
}

/// `wharf image demo`: the id.
pub fn image_demo(_e: &dyn Engine, _c: &Caller, _reference: &str) -> Result<String, String> {
    Err(NO_IMAGES.into())
}

/// `wharf volume rm`.
pub fn volume_remove(e: &dyn Engine, c: &Caller, name: &str) -> Result<(), String> {
    e.volume_remove(c, name, false).map_err(|x| x.to_string())
}

/// `wharf volume prune`: (deleted, bytes).
pub fn volume_prune(e: &dyn Engine, c: &Caller) -> Result<(usize, u64), String> {
    e.volume_prune(c, false).map(|r| (r.deleted.len(), r.reclaimed)).map_err(|x| x.to_string())
}
