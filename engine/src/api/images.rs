//! Image calls: list, inspect, history, load/import/save, tag, remove, prune,
//! pull/push/login, and the offline demo image.
//!
//! Image ids are `sha256:<hex>` of the image config, as Docker's are.

use std::io::{Read, Write};

use serde::{Deserialize, Serialize};

use crate::caller::Caller;
use crate::error::Result;

use super::PruneReport;

/// A row of `wharf images`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageSummary {
    /// `sha256:<hex>` of the config.
    pub id: String,
    /// Full references, e.g. `docker.io/library/busybox:latest`.
    pub repo_tags: Vec<String>,
    /// `repo@sha256:<manifest digest>`.
    pub repo_digests: Vec<String>,
    /// Creation time from the config, seconds since the epoch.
    pub created: i64,
    /// Sum of the uncompressed layer sizes.
    pub size: u64,
    /// How many containers (any state) use this image.
    pub containers: usize,
}

/// Options of `wharf images`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageListOptions {
    /// `-a`: also intermediate images.
    pub all: bool,
    /// `--filter dangling=true|false`
    pub dangling: Option<bool>,
    /// `--filter reference=PATTERN` (glob on `repo:tag`), OR-ed.
    pub reference: Vec<String>,
}

/// A row of `wharf image history`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// Image id for the top row, `<missing>` below, as Docker shows it.
    pub id: String,
    pub created: i64,
    pub created_by: String,
    pub size: u64,
    pub comment: String,
    pub empty_layer: bool,
}

/// `wharf import` options.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportOptions {
    /// Reference to tag the new image with.
    pub reference: Option<String>,
    /// Dockerfile-style changes: `CMD ["sh"]`, `ENV A=b`, `WORKDIR /x`, `EXPOSE 80`, ...
    pub changes: Vec<String>,
    /// History comment.
    pub message: Option<String>,
}

/// Archive format for `wharf save`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SaveFormat {
    /// What `docker save` writes and `docker load` reads.
    #[default]
    Docker,
    /// An OCI image layout in a tar (skopeo's `oci-archive:`).
    Oci,
}

/// What a load or import added.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadReport {
    /// References now pointing at loaded images (`Loaded image: REF`).
    pub tagged: Vec<String>,
    /// Ids of loaded images without a reference (`Loaded image ID: sha256:...`).
    pub untagged_ids: Vec<String>,
}

/// One line of `wharf rmi` output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RemoveOutcome {
    /// `Untagged: REF`
    Untagged(String),
    /// `Deleted: sha256:...`
    Deleted(String),
}

/// Progress of a pull or push, one layer at a time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Progress {
    /// A layer (by short digest) moved on: status such as `Downloading`, `Verifying`,
    /// `Extracting`, `Pull complete`, `Already exists`, `Pushed`, `Layer already exists`.
    Layer {
        id: String,
        status: String,
        current: u64,
        total: Option<u64>,
    },
    /// A free-form line (`Digest: sha256:...`, `Status: Downloaded newer image ...`).
    Message(String),
}

/// A user name and password for one pull or push (Docker's `X-Registry-Auth`): used
/// instead of the caller's saved login for that call only, never stored.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryAuth {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for RegistryAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryAuth")
            .field("username", &self.username)
            .field("password", &"<hidden>")
            .finish()
    }
}

/// Options of `wharf pull`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullOptions {
    /// `os/arch[/variant]`; the host's when `None`.
    pub platform: Option<String>,
    /// Credentials for this pull only; the caller's saved login (`wharf login`) when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<RegistryAuth>,
}

/// Options of `wharf push`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushOptions {
    /// Credentials for this push only; the caller's saved login (`wharf login`) when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<RegistryAuth>,
}

/// `wharf system df` figures for images.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageDiskUsage {
    pub count: usize,
    pub active: usize,
    pub size: u64,
    pub reclaimable: u64,
    /// Staging directories of loads, imports, pulls and commits under the root's `tmp/`.
    #[serde(default)]
    pub staging: StagingUsage,
}

/// `wharf system df` figures for the image store's staging directories (`tmp/load-*`,
/// `import-*`, `add-*`, `blob-*`, `commit-*`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagingUsage {
    /// Staging directories.
    pub count: usize,
    /// Of those, held by a load (pull, import, commit) still running.
    pub active: usize,
    /// Bytes in all of them.
    pub size: u64,
    /// Bytes in those whose process is gone (killed or crashed): `wharf image prune`
    /// gives them back, and so does the next start of the engine.
    pub reclaimable: u64,
}

/// Image calls.
pub trait ImageApi {
    /// `wharf images`.
    fn image_list(&self, caller: &Caller, opts: &ImageListOptions) -> Result<Vec<ImageSummary>>;
    /// `wharf image inspect`: Docker-shaped JSON (Id, RepoTags, RepoDigests, Created,
    /// Config{...}, RootFS, Size, ...).
    fn image_inspect(&self, caller: &Caller, reference: &str) -> Result<serde_json::Value>;
    /// `wharf image history`, newest first.
    fn image_history(&self, caller: &Caller, reference: &str) -> Result<Vec<HistoryEntry>>;
    /// `wharf load`: a `docker save` archive (both shapes) or an OCI layout tar,
    /// plain or gzip/zstd compressed.
    fn image_load(&self, caller: &Caller, input: &mut dyn Read) -> Result<LoadReport>;
    /// `wharf import`: a root filesystem tar becomes a one-layer image. Returns its id.
    fn image_import(
        &self,
        caller: &Caller,
        input: &mut dyn Read,
        opts: &ImportOptions,
    ) -> Result<String>;
    /// `wharf save`: write the images named by `references` as one archive.
    fn image_save(
        &self,
        caller: &Caller,
        references: &[String],
        format: SaveFormat,
        out: &mut dyn Write,
    ) -> Result<()>;
    /// `wharf tag SOURCE TARGET`.
    fn image_tag(&self, caller: &Caller, source: &str, target: &str) -> Result<()>;
    /// `wharf rmi [-f]`: refused while a container uses the image unless `force`.
    fn image_remove(
        &self,
        caller: &Caller,
        reference: &str,
        force: bool,
    ) -> Result<Vec<RemoveOutcome>>;
    /// `wharf image prune [-a]`: dangling images (all unused with `all`).
    fn image_prune(&self, caller: &Caller, all: bool) -> Result<PruneReport>;
    /// `wharf image demo`: build a small busybox image from the host's busybox-static,
    /// offline. Returns the image id.
    fn image_build_demo(&self, caller: &Caller, reference: &str) -> Result<String>;
    /// Image part of `wharf system df`.
    fn image_disk_usage(&self, caller: &Caller) -> Result<ImageDiskUsage>;
}

/// Registry calls (pull, push, login, logout), implemented by the registry part on
/// top of [`crate::image::store::ImageStore`].
pub trait RegistryApi {
    /// `wharf pull`. Returns the image id.
    fn image_pull(
        &self,
        caller: &Caller,
        reference: &str,
        opts: &PullOptions,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<String>;
    /// `wharf push`.
    fn image_push(
        &self,
        caller: &Caller,
        reference: &str,
        opts: &PushOptions,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<()>;
    /// `wharf login`: check the credentials against the registry and store them.
    fn registry_login(
        &self,
        caller: &Caller,
        server: &str,
        username: &str,
        password: &str,
    ) -> Result<()>;
    /// `wharf logout`.
    fn registry_logout(&self, caller: &Caller, server: &str) -> Result<()>;
}
