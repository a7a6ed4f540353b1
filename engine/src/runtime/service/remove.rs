//! Removing containers (`rm`, `prune`): the directory renamed away first, so of two
//! removers racing exactly one removes it, then deleted.

use std::time::Duration;

use crate::api::{PruneReport, RemoveOptions};
use crate::caller::Caller;
use crate::error::{EngineError, IoContext, Result};
use crate::policy::Action;
use crate::runtime::cgroups::Cgroup;
use crate::runtime::config::ContainerConfig;
use crate::runtime::state;
use crate::runtime::{event, net, paths};
use crate::LocalEngine;

use super::wait_until;

/// Delete a stopped container's files and say so (`destroy`). The directory is first
/// renamed away, so of two removers racing (a monitor's `--rm` and an `rm -f`) exactly
/// one removes it and reports it.
pub(crate) fn remove_files(engine: &LocalEngine, cfg: &ContainerConfig) -> Result<()> {
    match hide_files(engine, cfg)? {
        Some(doomed) => delete_hidden(engine, cfg, doomed),
        None => Ok(()),
    }
}

/// Prefix of a container directory being deleted, in `tmp/`.
pub(super) const REMOVING: &str = "removing-";

// The lock its remover holds until the files are gone is on the container's directory
// itself (`FileLock::try_exclusive_dir`), taken before the rename, so it moves along with
// it; no lock file is made for it (one fewer new inode in every `--rm`'s exit).

/// A container's files renamed away by [`hide_files`], locked by this process until
/// [`delete_hidden`] is done with them (an engine starting meanwhile leaves them alone;
/// one starting after a remover was killed deletes them, see
/// [`LocalEngine::remove_leftovers`]).
pub(crate) struct Hidden {
    path: std::path::PathBuf,
    _lock: crate::state::FileLock,
}

/// The first half of [`remove_files`]: rename the container away (it is gone from
/// every listing from here on), release its volumes, forget its networks, say
/// `destroy`. Returns where the files now are, for [`delete_hidden`]; `None` if
/// someone else removed it first.
pub(crate) fn hide_files(engine: &LocalEngine, cfg: &ContainerConfig) -> Result<Option<Hidden>> {
    let doomed = hide_quick(engine, cfg)?;
    if doomed.is_some() {
        net::forget(engine, cfg);
        engine.emit(event(cfg, "destroy"));
    }
    Ok(doomed)
}

/// What must precede an answer that says a container is gone: rename it away,
/// release its volumes (anonymous ones of a `--rm` container go), drop its attach
/// socket. The network and the `destroy` event are the caller's.
pub(crate) fn hide_quick(engine: &LocalEngine, cfg: &ContainerConfig) -> Result<Option<Hidden>> {
    let dir = paths::dir(engine, &cfg.id);
    if !dir.exists() {
        return Ok(None);
    }
    let lock = match crate::state::FileLock::try_exclusive_dir(&dir) {
        Ok(Some(l)) => l,
        // Another remover holds it (and removes it), or renamed it away meanwhile.
        Ok(None) => return Ok(None),
        Err(_) if !dir.exists() => return Ok(None),
        Err(e) => return Err(e),
    };
    let remove_anon = cfg.spec.auto_remove
        || state::load(&dir)
            .map(|s| s.remove_requested)
            .unwrap_or(false);
    let doomed = engine.root().tmp().join(format!("{REMOVING}{}", cfg.id));
    match std::fs::rename(&dir, &doomed) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(EngineError::io(
                format!("removing container {} ({})", cfg.name, dir.display()),
                e,
            ))
        }
    }
    if cfg.spec.mounts.iter().any(|m| m.kind == "volume") {
        if let Err(e) = crate::volume::release(engine, &cfg.id, remove_anon) {
            tracing::warn!("releasing the volumes of {}: {e}", cfg.id);
        }
    }
    let _ = std::fs::remove_file(paths::attach_socket(engine, &cfg.id));
    Ok(Some(Hidden {
        path: doomed,
        _lock: lock,
    }))
}

/// The second half of [`remove_files`]: keep the renamed directory, emptied, as a
/// spare for the next create ([`super::spares`]), or delete it.
pub(crate) fn delete_hidden(
    engine: &LocalEngine,
    cfg: &ContainerConfig,
    doomed: Hidden,
) -> Result<()> {
    if super::spares::keep(engine, &cfg.id, &doomed.path) {
        return Ok(());
    }
    std::fs::remove_dir_all(&doomed.path).ctx(|| {
        format!(
            "removing the files of container {} ({})",
            cfg.name,
            doomed.path.display()
        )
    })
}

impl LocalEngine {
    pub(super) fn remove_container(
        &self,
        caller: &Caller,
        id: &str,
        opts: RemoveOptions,
    ) -> Result<()> {
        let (cfg, _) = self.resolve_owned(caller, Action::ContainerRemove, id)?;
        let dir = paths::dir(self, &cfg.id);
        // Under the start lock (see `container_prune`): looked at again once it is held.
        let lock = || match self.start_lock(&cfg.id) {
            Ok(l) => Ok(Some(l)),
            Err(_) if !dir.exists() => Ok(None),
            Err(e) => Err(e),
        };
        let observe = || match self.observe(&cfg.id) {
            Ok((_, st)) => Ok(Some(st)),
            Err(e) if e.kind == crate::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        };
        let Some(mut _start) = lock()? else {
            return Ok(());
        };
        let Some(st) = observe()? else {
            return Ok(());
        };
        if st.status.is_active() && (st.pid_alive() || st.monitor_alive()) {
            if !opts.force {
                return Err(EngineError::conflict(format!(
                    "cannot remove running container {}: stop it first, or force the removal with `wharf rm -f {}`",
                    cfg.name, cfg.name
                )));
            }
            state::update(&dir, |s| {
                s.manually_stopped = true;
                s.remove_requested = opts.volumes || s.remove_requested;
            })?;
            self.stop_process(&cfg, &st, libc::SIGKILL, Duration::ZERO);
            // The monitor finishes the run (it takes the start lock to record the exit
            // and clean up, and removes the files itself now that removal is
            // requested): the lock is let go meanwhile, and taken again after.
            drop(_start);
            wait_until(Duration::from_secs(10), || {
                state::load(&dir)
                    .map(|s| !s.monitor_alive())
                    .unwrap_or(true)
            });
            let Some(l) = lock()? else {
                return Ok(());
            };
            _start = l;
            let Some(st) = observe()? else {
                return Ok(());
            };
            if st.status.is_active() && (st.pid_alive() || st.monitor_alive()) {
                return Err(EngineError::conflict(format!(
                    "container {} was started again while it was being removed: remove it again",
                    cfg.name
                )));
            }
        }
        let _ = Cgroup::for_container(&cfg.id).remove();
        net::teardown(self, &cfg);
        if !dir.exists() {
            return Ok(());
        }
        if opts.volumes {
            let _ = state::update(&dir, |s| s.remove_requested = true);
        }
        remove_files(self, &cfg)?;
        crate::trace_step!(
            "removed its cgroup and containers/{}/ (writable layer, config, log){}",
            crate::ids::short(&cfg.id),
            if opts.volumes {
                " and its anonymous volumes"
            } else {
                ""
            }
        );
        Ok(())
    }

    pub(super) fn prune_containers(&self, caller: &Caller) -> Result<PruneReport> {
        self.gate().authorize(caller, Action::ContainerPrune)?;
        let role = self.gate().role(caller);
        let mut rep = PruneReport::default();
        for id in self.container_ids() {
            // Checked and removed under the start lock, which a start holds until the
            // container runs: no start slips in between (found by scripts/soak.sh: a
            // prune removed a container a concurrent `run` had just started, leaving
            // its processes, monitor and cgroups behind).
            let Ok(_start) = self.start_lock(&id) else {
                continue;
            };
            let Ok((cfg, st)) = self.observe(&id) else {
                continue;
            };
            // Others' containers are skipped silently; each removal is authorized (and
            // audited) on its own.
            if st.status.is_active()
                || !self
                    .gate()
                    .permits(caller, &role, Action::ContainerRemove, cfg.owner)
                || self
                    .gate()
                    .authorize_on(caller, Action::ContainerRemove, &cfg.name, Some(cfg.owner))
                    .is_err()
            {
                continue;
            }
            // What a start killed before it recorded its process may still run in the
            // container's cgroup (found by scripts/soak.sh): killed with the cgroup, as
            // `rm` does. No start is under way (the start lock is held).
            let _ = Cgroup::for_container(&cfg.id).remove();
            net::teardown(self, &cfg);
            let size = crate::volume::dir_size(&paths::dir(self, &id).join("diff"));
            if remove_files(self, &cfg).is_ok() {
                rep.deleted.push(id);
                rep.reclaimed += size;
            }
        }
        Ok(rep)
    }
}
