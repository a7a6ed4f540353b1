//! System-wide calls: info, disk usage, and the event stream.

use serde::{Deserialize, Serialize};

use crate::caller::Caller;
use crate::error::Result;
use crate::events::Event;

/// Which cgroup hierarchy the host runs, detected at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CgroupMode {
    /// Controllers on cgroup v1 hierarchies only.
    V1,
    /// Controllers on v1 with a (controller-less) v2 hierarchy beside them.
    Hybrid,
    /// Unified cgroup v2 only.
    V2,
}

impl CgroupMode {
    /// Detect from `/sys/fs/cgroup`.
    pub fn detect() -> Self {
        let base = std::path::Path::new("/sys/fs/cgroup");
        if base.join("cgroup.controllers").exists() {
            CgroupMode::V2
        } else if base.join("unified/cgroup.controllers").exists() {
            CgroupMode::Hybrid
        } else {
            CgroupMode::V1
        }
    }

    /// `v1`, `hybrid` or `v2`.
    pub fn as_str(&self) -> &'static str {
        match self {
            CgroupMode::V1 => "v1",
            CgroupMode::Hybrid => "hybrid",
            CgroupMode::V2 => "v2",
        }
    }
}

/// `wharf info`: what engine this is and what it runs on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemInfo {
    pub engine_version: String,
    pub hostname: String,
    pub kernel: String,
    pub os: String,
    pub cgroup_mode: CgroupMode,
    pub root: String,
    pub ncpu: usize,
    pub mem_total: u64,
    pub containers: usize,
    pub running: usize,
    pub paused: usize,
    pub stopped: usize,
    pub images: usize,
    /// Who asked, as the engine sees them.
    pub caller: Caller,
}

/// Which events a subscriber wants; empty lists match everything.
/// Values within one key are OR-ed, keys are AND-ed, as in Docker.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventFilter {
    /// `type=container|image|network|volume`
    pub types: Vec<String>,
    /// `event=start|die|...`
    pub actions: Vec<String>,
    /// `container=NAME|ID`, `image=`, `network=`, `volume=`: matched against the
    /// actor id (prefix) and its `name` attribute.
    pub objects: Vec<(String, String)>,
    /// `label=key` or `label=key=value`
    pub labels: Vec<String>,
    /// Nanoseconds since the epoch.
    pub since: Option<i64>,
    /// Nanoseconds since the epoch; with `follow`, the stream ends there.
    pub until: Option<i64>,
    /// Keep streaming new events after the stored ones.
    pub follow: bool,
}

/// System-wide calls.
pub trait SystemApi {
    /// Engine, host, cgroup mode, counts.
    fn info(&self, caller: &Caller) -> Result<SystemInfo>;

    /// Stored events that match `filter`, then (with `filter.follow`) live ones until
    /// `sink` returns `false` or `until` passes. `sink` is called in order.
    fn events(
        &self,
        caller: &Caller,
        filter: &EventFilter,
        sink: &mut dyn FnMut(Event) -> bool,
    ) -> Result<()>;

    /// The API trace ([`crate::trace`]): the calls kept, then (with `opts.follow`) new
    /// ones as they are made, until `sink` returns `false`. A caller reads their own
    /// calls; every caller's (`opts.all`) needs `audit.trace`. An engine without a trace
    /// says so.
    fn trace(
        &self,
        caller: &Caller,
        opts: &crate::trace::TraceOptions,
        sink: &mut dyn FnMut(crate::trace::TraceEntry) -> bool,
    ) -> Result<()> {
        let _ = (caller, opts, sink);
        Err(crate::error::EngineError::unavailable(
            "this engine keeps no API trace",
        ))
    }
}

/// Who am I, and the audit journal.
pub trait AuditApi {
    /// The caller as the engine sees them: role and project from its policy.
    fn whoami(&self, caller: &Caller) -> Result<Caller>;
    /// The audit journal, oldest first (needs `audit.read`).
    fn audit_read(&self, caller: &Caller) -> Result<Vec<crate::policy::audit::AuditEntry>>;
    /// Verify the journal's hash chain (needs `audit.verify`); the number of entries.
    fn audit_verify(&self, caller: &Caller) -> Result<u64>;
    /// The caller's effective permissions, for clients that hide what would be refused:
    /// `kind.verb` names, and whether the role changes nothing.
    fn permissions(&self, caller: &Caller) -> Result<Permissions>;
}

/// What a caller may do, as the engine decides it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permissions {
    pub role: String,
    /// `kind.verb` for every permission the role grants.
    pub allowed: Vec<String>,
    pub read_only: bool,
}

impl Permissions {
    /// Does the role grant `action` (`kind.verb`)?
    pub fn allows(&self, action: &str) -> bool {
        self.allowed.iter().any(|a| a == action)
    }
}
