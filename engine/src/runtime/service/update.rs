//! `update`: a container's resource limits and restart policy changed, applied at once
//! to a running one.

use crate::api::{Resources, RestartPolicy};
use crate::caller::Caller;
use crate::error::{EngineError, Result};
use crate::policy::Action;
use crate::runtime::cgroups::Cgroup;
use crate::runtime::{event, save_config, validate};
use crate::LocalEngine;

impl LocalEngine {
    pub(super) fn update_container(
        &self,
        caller: &Caller,
        id: &str,
        resources: &Resources,
        restart: Option<&RestartPolicy>,
    ) -> Result<()> {
        self.gate().check_resources(caller, resources)?;
        let (mut cfg, st) = self.resolve_owned(caller, Action::ContainerUpdate, id)?;
        let r = &mut cfg.spec.resources;
        macro_rules! merge {
            ($($f:ident),*) => { $( if resources.$f.is_some() { r.$f = resources.$f.clone(); } )* };
        }
        merge!(
            memory,
            memory_swap,
            nano_cpus,
            cpu_shares,
            cpuset_cpus,
            pids_limit,
            blkio_weight
        );
        validate::validate_resources(&cfg.spec.resources)?;
        if let Some(p) = restart {
            if cfg.spec.auto_remove && *p != RestartPolicy::No {
                return Err(EngineError::invalid("conflicting options: --restart and --rm; this container is removed when it stops"));
            }
            cfg.spec.restart = p.clone();
        }
        if st.status.is_active() && st.pid_alive() {
            Cgroup::for_container(&cfg.id).apply(resources)?;
        }
        save_config(self, &cfg)?;
        self.emit(event(&cfg, "update"));
        Ok(())
    }
}
