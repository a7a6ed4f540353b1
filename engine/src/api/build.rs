//! Building images from a Dockerfile: `wharf build`, the Docker API's `POST /build`,
//! and a console pane, all through [`BuildApi`].
//!
//! A build reports what it does as [`BuildEvent`]s through a sink, in order: the steps
//! as they start, the output of RUN steps as it comes, each step's result, and while a
//! step runs a [`BuildEvent::Running`] tick at least every half second. The sink returns
//! `false` to cancel: the step under way is killed, its container removed, and the build
//! ends with a `Cancelled` error having made no image. [`classic_lines`] turns events
//! into the classic builder's text (`Step 1/5 : FROM busybox`, ` ---> 3f57d9401f8d`),
//! which the CLI prints and the Docker API streams.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::caller::Caller;
use crate::error::Result;

use super::PruneReport;

/// Options of a build (`wharf build` flags, `POST /build` query parameters).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildOptions {
    /// `-f`: the Dockerfile's path inside the context (`Dockerfile` by default).
    pub dockerfile: String,
    /// `-f -`: the Dockerfile itself, instead of a file of the context.
    #[serde(default)]
    pub dockerfile_content: Option<String>,
    /// `-t`, any number of times.
    #[serde(default)]
    pub tags: Vec<String>,
    /// `--build-arg KEY=VALUE` (a `--build-arg KEY` alone is resolved by the client from
    /// its environment, as the docker CLI does).
    #[serde(default)]
    pub build_args: BTreeMap<String, String>,
    /// `--label`: labels of the final image.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// `--target`: the stage to build (the last one when `None`).
    #[serde(default)]
    pub target: Option<String>,
    /// `--no-cache`.
    #[serde(default)]
    pub no_cache: bool,
    /// `--pull`: refused (wharf builds offline and never pulls).
    #[serde(default)]
    pub pull: bool,
    /// `--network` of RUN steps: `none` (the default), `host`, `bridge`, or a network.
    #[serde(default)]
    pub network: Option<String>,
    /// `--platform`: only the host's.
    #[serde(default)]
    pub platform: Option<String>,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            dockerfile: "Dockerfile".into(),
            dockerfile_content: None,
            tags: vec![],
            build_args: BTreeMap::new(),
            labels: BTreeMap::new(),
            target: None,
            no_cache: false,
            pull: false,
            network: None,
            platform: None,
        }
    }
}

/// Where the build context comes from.
pub enum BuildContext<'a> {
    /// A directory the engine reads (in-process engines; a remote client sends it as a
    /// tar).
    Dir(PathBuf),
    /// A tar stream (plain or gzip), as `docker build -` and `POST /build` send it.
    Tar(&'a mut dyn Read),
    /// No context: only the Dockerfile (`-f -` with nothing else, or `docker build - <
    /// Dockerfile`): COPY and ADD of local files fail.
    Empty,
}

/// What a build tells as it goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BuildEvent {
    /// A step starts: `Step {index}/{total} : {instruction}`.
    Step {
        /// 1-based, across the stages built.
        index: usize,
        total: usize,
        /// The stage's name or number.
        stage: String,
        /// The instruction as written (continuations joined).
        instruction: String,
    },
    /// The step's result comes from the build cache.
    Cached { index: usize },
    /// A RUN step's container started.
    Container { index: usize, id: String },
    /// Output of a RUN step, as it comes.
    Output {
        index: usize,
        /// `stdout` or `stderr`.
        stream: String,
        data: String,
    },
    /// The step under way is still running (at least every 500 ms), for a live view's
    /// clock and for noticing a cancel while a step is silent.
    Running { index: usize, elapsed_ms: u64 },
    /// The step ended: the image it made (the stage's current image).
    StepDone {
        index: usize,
        image_id: String,
        /// The RUN/COPY container removed (`Removing intermediate container ...`).
        removed_container: Option<String>,
        elapsed_ms: u64,
    },
    /// A note (`[Warning] One or more build-args [X] were not consumed`, the ONBUILD
    /// triggers about to run).
    Message { text: String },
    /// The build is complete.
    Done { image_id: String, tags: Vec<String> },
}

/// What a build made.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildResult {
    /// `sha256:...` of the image.
    pub image_id: String,
    /// The full references it was tagged with.
    pub tags: Vec<String>,
    /// Steps run, and how many of them came from the cache.
    pub steps: usize,
    pub cached: usize,
}

/// A record of the build cache.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildCacheEntry {
    /// The cache key (`sha256:` of the parent image, the instruction and the checksums
    /// of the files it reads).
    pub id: String,
    /// The image the step made.
    pub image_id: String,
    /// The instruction, as in the image's history.
    pub created_by: String,
    /// Seconds since the epoch.
    pub created: i64,
    pub last_used: i64,
    /// Bytes of the step's own layer (0 for a step without one).
    pub size: u64,
    /// Is the image also a tagged image or used by a container (then pruning the cache
    /// forgets the record but keeps the image)?
    pub in_use: bool,
}

/// Options of `wharf builder prune`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildCachePruneOptions {
    /// Only records last used before this time (seconds since the epoch).
    pub until: Option<i64>,
}

/// `system df` figures of the build cache.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildCacheUsage {
    pub count: usize,
    pub active: usize,
    pub size: u64,
    pub reclaimable: u64,
}

/// Building images, and the build cache.
pub trait BuildApi {
    /// Build an image. Needs `image.build`; every RUN step's container is created and
    /// started through the container calls, so the caller's role must allow those and
    /// its constraints apply to them. The sink gets [`BuildEvent`]s and returns `false`
    /// to cancel.
    fn image_build(
        &self,
        caller: &Caller,
        opts: &BuildOptions,
        context: BuildContext<'_>,
        sink: &mut dyn FnMut(BuildEvent) -> bool,
    ) -> Result<BuildResult>;
    /// The build cache's records, newest first.
    fn build_cache_list(&self, caller: &Caller) -> Result<Vec<BuildCacheEntry>>;
    /// `wharf builder prune`: forget the records and remove the images only the cache
    /// kept.
    fn build_cache_prune(
        &self,
        caller: &Caller,
        opts: &BuildCachePruneOptions,
    ) -> Result<PruneReport>;
    /// The build cache's part of `system df`.
    fn build_cache_usage(&self, caller: &Caller) -> Result<BuildCacheUsage>;
}

/// The first 12 hex digits of an id, as the classic builder prints ids.
pub fn short_id(id: &str) -> String {
    id.strip_prefix("sha256:")
        .unwrap_or(id)
        .chars()
        .take(12)
        .collect()
}

/// The classic builder's output for one event (`docker build` with DOCKER_BUILDKIT=0,
/// and the Docker API's `stream` lines), newline-terminated pieces.
pub fn classic_lines(ev: &BuildEvent) -> Vec<String> {
    match ev {
        BuildEvent::Step {
            index,
            total,
            instruction,
            ..
        } => {
            vec![format!("Step {index}/{total} : {instruction}\n")]
        }
        BuildEvent::Cached { .. } => vec![" ---> Using cache\n".into()],
        BuildEvent::Container { id, .. } => vec![format!(" ---> Running in {}\n", short_id(id))],
        BuildEvent::Output { data, .. } => vec![data.clone()],
        BuildEvent::Running { .. } => vec![],
        BuildEvent::StepDone {
            image_id,
            removed_container,
            ..
        } => {
            let mut v = Vec::new();
            if let Some(c) = removed_container {
                v.push(format!("Removing intermediate container {}\n", short_id(c)));
            }
            v.push(format!(" ---> {}\n", short_id(image_id)));
            v
        }
        BuildEvent::Message { text } => vec![format!("{text}\n")],
        BuildEvent::Done { image_id, tags } => {
            let mut v = vec![format!("Successfully built {}\n", short_id(image_id))];
            for t in tags {
                v.push(format!(
                    "Successfully tagged {}\n",
                    crate::image::Reference::parse(t)
                        .map(|r| r.familiar())
                        .unwrap_or_else(|_| t.clone())
                ));
            }
            v
        }
    }
}
