//! Volume calls: create, list, inspect, remove, prune.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::caller::Caller;
use crate::error::Result;

use super::PruneReport;

/// A volume, shaped like Docker's `volume inspect`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Volume {
    pub name: String,
    /// Always `local`.
    pub driver: String,
    /// Host path of the data (`<root>/volumes/<name>/_data`).
    pub mountpoint: String,
    /// RFC 3339.
    pub created_at: String,
    pub labels: BTreeMap<String, String>,
    /// `local`.
    pub scope: String,
    pub options: BTreeMap<String, String>,
    /// Size and how many containers use it (filled by inspect, and by list when asked).
    pub usage_data: Option<VolumeUsage>,
    /// Owner uid and project.
    #[serde(default)]
    pub owner: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// Created without a name (`-v /path`, image VOLUME).
    #[serde(default)]
    pub anonymous: bool,
}

/// `UsageData` of `volume inspect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VolumeUsage {
    /// Bytes used by the data.
    pub size: u64,
    /// Containers that use the volume.
    pub ref_count: u64,
}

/// `volume create` options.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeCreate {
    /// A random name when `None`.
    pub name: Option<String>,
    pub labels: BTreeMap<String, String>,
}

/// `volume ls --filter`: dangling=true|false, name=SUBSTRING, label=KEY[=VALUE].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeListOptions {
    pub filters: Vec<(String, String)>,
}

/// Volume calls.
pub trait VolumeApi {
    /// `wharf volume create`; creating an existing name returns it unchanged, as Docker does.
    fn volume_create(&self, caller: &Caller, opts: &VolumeCreate) -> Result<Volume>;
    /// `wharf volume ls`.
    fn volume_list(&self, caller: &Caller, opts: &VolumeListOptions) -> Result<Vec<Volume>>;
    /// `wharf volume inspect`.
    fn volume_inspect(&self, caller: &Caller, name: &str) -> Result<Volume>;
    /// `wharf volume rm [-f]`: refused while a container uses it (even with -f, as Docker).
    fn volume_remove(&self, caller: &Caller, name: &str, force: bool) -> Result<()>;
    /// `wharf volume prune [-a]`: unused anonymous volumes (all unused with `all`).
    fn volume_prune(&self, caller: &Caller, all: bool) -> Result<PruneReport>;
}
