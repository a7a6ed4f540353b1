//! Accounts calls, for admins: the policy as a table and its edits, who is connected to
//! the engine's socket now, and each user's use of the engine against their role.
//!
//! Reading needs `policy.read`, writing `policy.write` (admins only among the built-in
//! roles). Every method has a default that says the engine does not offer it, so an
//! engine that cannot (a Docker endpoint) needs no code for it.

use serde::{Deserialize, Serialize};

use crate::caller::Caller;
use crate::error::{EngineError, Result};
use crate::policy::{Constraints, PolicyFile, Scope};

/// The policy in force, as the accounts pane shows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PolicyView {
    /// The policy file; `None` in single-user mode (no policy: whoever reaches the
    /// engine as root is admin, nobody else has a role).
    pub source: Option<String>,
    /// `sha256:<hex>` of the file's text in force: an edit names it, so two admins'
    /// edits cannot overwrite each other unseen.
    pub digest: Option<String>,
    /// The file's users, groups and roles as written.
    pub file: PolicyFile,
    /// Every role, built-in and the file's, resolved (inheritance applied).
    pub roles: Vec<RoleView>,
    /// Users who may change the policy (uid, name): never empty for a policy in force.
    pub admins: Vec<(u32, String)>,
}

/// One role, resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoleView {
    pub name: String,
    /// Built into wharf (the file may still override it).
    pub builtin: bool,
    /// Defined or overridden by the policy file.
    pub in_file: bool,
    pub inherits: Option<String>,
    pub scope: Scope,
    /// Every permission it grants, `kind.verb`.
    pub permissions: Vec<String>,
    pub constraints: Constraints,
    pub description: String,
}

/// What an edit did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyChange {
    /// One line: `user alice: user -> operator; role lab: added`.
    pub summary: String,
    /// Where the replaced version was kept.
    pub previous: String,
    /// The policy now in force.
    pub view: PolicyView,
}

/// One connection to the engine's socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connection {
    /// The server's number for it (in order of arrival).
    pub id: u64,
    pub uid: u32,
    pub user: String,
    /// The role the policy in force gives the user now.
    pub role: String,
    /// Seconds since the epoch when it connected.
    pub since: i64,
    /// Requests made on it so far.
    pub calls: u64,
    /// Seconds since the epoch of its last request (`since` before the first).
    pub last: i64,
}

/// Who is connected to the engine's socket.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connections {
    /// The socket of the `wharf serve` that answered; `None` when no server runs for
    /// this engine's state root (then `list` is empty).
    pub socket: Option<String>,
    pub list: Vec<Connection>,
}

/// One user's use of the engine, against what their role allows each container.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    pub uid: u32,
    pub user: String,
    pub role: String,
    pub project: Option<String>,
    /// Containers they own, in any state.
    pub containers: usize,
    /// Of those, running (or paused, or restarting).
    pub running: usize,
    /// Sum of the memory limits of the running ones, bytes.
    pub memory: i64,
    /// Running ones without a memory limit.
    pub memory_unlimited: usize,
    /// Sum of the CPU limits of the running ones, in CPUs.
    pub cpus: f64,
    /// Running ones without a CPU limit.
    pub cpus_unlimited: usize,
    /// The role's constraints (`max_memory`, `max_cpus`, `max_pids` per container).
    pub limits: Constraints,
}

/// Accounts calls.
pub trait AccountsApi {
    /// The policy in force (`policy.read`).
    fn policy_read(&self, _caller: &Caller) -> Result<PolicyView> {
        Err(unsupported("reading the policy"))
    }
    /// Replace the policy file with `text` (`policy.write`): checked as a policy file
    /// being loaded is, refused if it would leave no admin, refused if the file in force
    /// is no longer `base` (another edit came first); written atomically with the
    /// previous version kept, put in force at once and audited.
    fn policy_write(
        &self,
        _caller: &Caller,
        _text: &str,
        _base: Option<&str>,
    ) -> Result<PolicyChange> {
        Err(unsupported("changing the policy"))
    }
    /// Who is connected to the engine's socket now (`policy.read`).
    fn connections(&self, _caller: &Caller) -> Result<Connections> {
        Err(unsupported("listing connections"))
    }
    /// Each user's containers and limits in use (`policy.read`): users the policy names
    /// and owners of containers.
    fn account_usage(&self, _caller: &Caller) -> Result<Vec<Usage>> {
        Err(unsupported("reading users' usage"))
    }
}

/// The error of a call an engine does not offer.
pub(crate) fn unsupported(what: &str) -> EngineError {
    EngineError::unavailable(format!("{what} is not offered by this engine"))
}
