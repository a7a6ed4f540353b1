//! What a container is, as stored in `containers/<id>/config.json`: the create request,
//! what it resolved to (command, env, user, workdir, layers), owner and project.
//!
//! The top-level `Id`, `Name` and `ImageId` fields are read by other parts (the image
//! store's in-use check); keep them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use crate::api::flags::parse_signal;
use crate::api::flags::{Seccomp, SecurityOpt};
use crate::api::{ContainerCreate, Resources, RestartPolicy};
use crate::error::Result;

/// The stored definition of one container (immutable after create, except name,
/// limits and restart policy, which `rename` and `update` change).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    pub id: String,
    pub name: String,
    /// `sha256:...` of the image.
    pub image_id: String,
    /// The reference it was created from, as given.
    pub image: String,
    /// RFC 3339 with nanoseconds.
    pub created: String,
    /// Uid of the caller that created it.
    pub owner: u32,
    pub project: Option<String>,
    /// The request as given (limits and restart policy kept current by `update`).
    pub spec: ContainerCreate,
    /// Resolved command line: entrypoint + cmd.
    pub args: Vec<String>,
    /// Resolved environment: image env, then `-e`.
    pub env: Vec<String>,
    pub working_dir: String,
    /// `user[:group]` as given (or the image's), resolved inside the rootfs at start.
    pub user: String,
    pub hostname: String,
    /// Image layer directories, bottom first (overlay lower dirs).
    pub layer_dirs: Vec<PathBuf>,
    /// Labels: the image's, overridden by `-l`.
    pub labels: BTreeMap<String, String>,
    /// What each bind mount source was found to be at create (real path, device,
    /// inode), verified again at every start. Kept beside the request, not in it: a
    /// client cannot send one. Empty in configs written before sources were recorded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bind_sources: Vec<super::binds::CheckedBind>,
}

impl ContainerConfig {
    /// The restart policy in force.
    pub fn restart(&self) -> &RestartPolicy {
        &self.spec.restart
    }
    /// The limits in force.
    pub fn resources(&self) -> &Resources {
        &self.spec.resources
    }
    /// Seconds between the stop signal and SIGKILL.
    pub fn stop_timeout(&self) -> u32 {
        self.spec.stop_timeout.unwrap_or(10)
    }
    /// The stop signal (SIGTERM unless `--stop-signal` or the image says otherwise).
    pub fn stop_signal(&self) -> Result<i32> {
        parse_signal(self.spec.stop_signal.as_deref().unwrap_or("SIGTERM"))
    }
    /// Is `--security-opt no-new-privileges` set (the last one given wins, as in Docker)?
    pub fn no_new_privs(&self) -> bool {
        self.security_opts()
            .iter()
            .rev()
            .find_map(|o| match o {
                SecurityOpt::NoNewPrivileges(b) => Some(*b),
                _ => None,
            })
            .unwrap_or(false)
    }
    /// The seccomp setting (the last one given wins).
    pub fn seccomp(&self) -> Seccomp {
        self.security_opts()
            .into_iter()
            .rev()
            .find_map(|o| match o {
                SecurityOpt::Seccomp(s) => Some(s),
                _ => None,
            })
            .unwrap_or(Seccomp::Default)
    }
    /// The stored `--security-opt` values, parsed. They were checked at create, so one
    /// that no longer parses (a config from an older wharf) is left out with a warning.
    pub fn security_opts(&self) -> Vec<SecurityOpt> {
        self.spec
            .security_opt
            .iter()
            .filter_map(|o| match o.parse() {
                Ok(v) => Some(v),
                Err(e) => {
                    tracing::warn!("container {}: {e}", self.name);
                    None
                }
            })
            .collect()
    }
    /// The command line as one string, as `ps` shows it.
    pub fn command_line(&self) -> String {
        self.args
            .iter()
            .map(|a| {
                if a.contains(' ') || a.is_empty() {
                    format!("{a:?}")
                } else {
                    a.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The directory of one container.
pub fn container_dir(containers: &Path, id: &str) -> PathBuf {
    containers.join(id)
}
