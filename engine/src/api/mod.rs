//! The one engine API. The console, the CLI, the socket server and the tests all act on
//! containers through [`Engine`]; the in-process [`crate::LocalEngine`] and (later) the
//! socket client implement it. Every call takes the [`Caller`](crate::Caller) first.
//!
//! The API is split by area into sub-traits so each area lives in its own file;
//! [`Engine`] is all of them together.

pub mod accounts;
pub mod build;
pub mod containers;
pub mod exec;
pub mod flags;
pub mod images;
pub mod networks;
pub mod registries;
pub mod stats;
pub mod system;
pub mod volumes;

pub use accounts::*;
pub use build::*;
pub use containers::*;
pub use exec::*;
pub use images::*;
pub use networks::*;
pub use registries::*;
pub use stats::*;
pub use system::*;
pub use volumes::*;

/// The whole engine API. Implemented for every type that implements all the areas.
pub trait Engine:
    SystemApi
    + AuditApi
    + ImageApi
    + RegistryApi
    + RegistryBrowseApi
    + AccountsApi
    + ContainerApi
    + NetworkApi
    + VolumeApi
    + StatsApi
    + ExecApi
    + ToolboxApi
    + BuildApi
    + Send
    + Sync
{
}

impl<T> Engine for T where
    T: SystemApi
        + AuditApi
        + ImageApi
        + RegistryApi
        + RegistryBrowseApi
        + AccountsApi
        + ContainerApi
        + NetworkApi
        + VolumeApi
        + StatsApi
        + ExecApi
        + ToolboxApi
        + BuildApi
        + Send
        + Sync
{
}

/// What a prune or a bulk removal did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PruneReport {
    /// Ids (or names) of what was deleted.
    pub deleted: Vec<String>,
    /// Bytes given back to the disk.
    pub reclaimed: u64,
}
