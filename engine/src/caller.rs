//! Who is asking: every engine call carries a [`Caller`].

use serde::{Deserialize, Serialize};

/// A role name. The built-in roles are `admin`, `operator`, `user`, `viewer` and `auditor`;
/// a policy file may define more, so a role is a name, not a closed enum.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Role(pub String);

impl Role {
    /// Everything, including policy changes.
    pub fn admin() -> Self {
        Role("admin".into())
    }
    /// The role's name as written in the policy file.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The identity behind an engine call: uid from the kernel (or SUDO_UID when embedded
/// through sudo), the user's name, the role the policy gives them, and their project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caller {
    pub uid: u32,
    pub gid: u32,
    pub name: String,
    pub role: Role,
    /// Project/team scope, if the policy puts the user in one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
}

impl Caller {
    /// Root as admin: the single-user mode with no policy file, and the engine's own
    /// internal actions (restart policies applied at start, monitors).
    pub fn root() -> Self {
        Caller {
            uid: 0,
            gid: 0,
            name: "root".into(),
            role: Role::admin(),
            project: None,
        }
    }

    /// `alice (operator)`, as errors and the header show it.
    pub fn label(&self) -> String {
        format!("{} ({})", self.name, self.role)
    }
}
