//! A container's config and state, told truthfully: what died unseen is marked and
//! cleaned up when looked at; and the lookup every operation starts from (find,
//! observe, authorize).

use crate::api::ContainerStatus;
use crate::caller::Caller;
use crate::error::{EngineError, Result};
use crate::policy::Action;
use crate::runtime::cgroups::Cgroup;
use crate::runtime::config::ContainerConfig;
use crate::runtime::state::{self, RunState};
use crate::runtime::{event, load_config, net, paths};
use crate::LocalEngine;

use super::remove::remove_files;

/// Does a container's state call for `observe` to set it right: processes gone with
/// nobody to say so, or stopped with the monitor gone before its cleanup was done?
pub(in crate::runtime) fn needs_care(st: &RunState) -> bool {
    if st.status.is_active() {
        !st.pid_alive() && !st.monitor_alive()
    } else {
        st.monitor_pid != 0 && !st.monitor_alive()
    }
}

impl LocalEngine {
    /// Config and state of a container, told truthfully: a container whose processes
    /// are gone (monitor killed, machine restarted) is marked exited and cleaned up here.
    pub(in crate::runtime) fn observe(&self, id: &str) -> Result<(ContainerConfig, RunState)> {
        self.observe_as(id, false)
    }

    /// [`Self::observe`]; `starting`: the caller holds the container's start lock.
    /// Otherwise the cleanup is left to a start in progress, if there is one (its
    /// cgroup must not be removed under it).
    pub(super) fn observe_as(
        &self,
        id: &str,
        starting: bool,
    ) -> Result<(ContainerConfig, RunState)> {
        let cfg = load_config(self, id)?;
        let dir = paths::dir(self, id);
        let st = state::load(&dir)?;
        if !needs_care(&st) {
            return Ok((cfg, st));
        }
        let _start = if starting {
            None
        } else {
            match crate::state::FileLock::try_exclusive(&dir.join("start.lock"))? {
                Some(l) => Some(l),
                None => return Ok((cfg, st)),
            }
        };
        let mut died = false;
        let st = {
            let _l = state::lock(&dir)?;
            let mut st = state::load(&dir)?;
            if st.status.is_active() && !st.pid_alive() && !st.monitor_alive() {
                died = st.status != ContainerStatus::Restarting;
                st.status = ContainerStatus::Exited;
                if died {
                    st.exit_code = 255;
                    st.error = "the container's monitor is gone (killed, or the machine restarted): its exit status is unknown".into();
                    st.finished_at = state::now_rfc3339();
                }
                st.pid = 0;
                st.monitor_pid = 0;
                state::save(&dir, &st)?;
            } else if needs_care(&st) {
                // Stopped, and its monitor died before it had cleaned up after it.
                st.monitor_pid = 0;
                st.monitor_start = 0;
                state::save(&dir, &st)?;
            }
            st
        };
        let _ = Cgroup::for_container(id).remove();
        net::teardown(self, &cfg);
        let _ = std::fs::remove_file(paths::attach_socket(self, id));
        if died {
            self.emit(event(&cfg, "die").attr("exitCode", "255"));
        }
        if cfg.spec.auto_remove || st.remove_requested {
            remove_files(self, &cfg)?;
            return Err(EngineError::not_found(
                "container",
                id,
                "it was removed when it stopped (--rm)",
            ));
        }
        Ok((cfg, st))
    }

    pub(in crate::runtime) fn resolve_owned(
        &self,
        caller: &Caller,
        action: Action,
        name_or_id: &str,
    ) -> Result<(ContainerConfig, RunState)> {
        let id = self.find_container(name_or_id)?;
        let (cfg, st) = self.observe(&id)?;
        self.gate()
            .authorize_on(caller, action, &cfg.name, Some(cfg.owner))?;
        Ok((cfg, st))
    }
}
