//! What killed operations and restarts of the machine left: removals and creates killed
//! half-way, containers whose processes are gone after a reboot.

use crate::api::ContainerStatus;
use crate::runtime::cgroups::Cgroup;
use crate::runtime::config::ContainerConfig;
use crate::runtime::{monitor, paths, state};
use crate::LocalEngine;

use super::remove::REMOVING;

/// The file naming the container a create is making (under the containers lock;
/// empty when none is).
pub(super) fn creating_marker(engine: &LocalEngine) -> std::path::PathBuf {
    engine.root().run().join("creating")
}

/// Does `dir` hold only what a create makes before its config (its layer directories,
/// a config being written), and no config?
fn killed_create(dir: &std::path::Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    let mut layers = false;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        match name.as_str() {
            "diff" => layers = true,
            "work" | "merged" => {}
            n if n.starts_with(".config.json.tmp-") => {}
            _ => return false,
        }
    }
    layers
}

/// Finish the removals whose remover was killed half-way (after its rename into
/// `tmp/`): a live remover holds the lock in the renamed directory, a killed one left
/// it free. The container loses what is left in its cgroup, its network records, its
/// volumes' use and its files. Cheap when there are none (one directory read); run by
/// a monitor after each exit and at engine start. Returns how many were finished.
pub(crate) fn sweep_removed(engine: &LocalEngine) -> usize {
    let Ok(rd) = std::fs::read_dir(engine.root().tmp()) else {
        return 0;
    };
    let mut n = 0;
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(id) = name.strip_prefix(REMOVING) else {
            continue;
        };
        let doomed = e.path();
        let Ok(Some(_lock)) = crate::state::FileLock::try_exclusive_dir(&doomed) else {
            continue;
        };
        let _ = Cgroup::for_container(id).remove();
        if let Err(e) = crate::network::forget(engine, id) {
            tracing::warn!("forgetting the networks of removed container {id}: {e}");
        }
        let anon = state::load(&doomed).is_ok_and(|s| s.remove_requested)
            || crate::state::read_json::<ContainerConfig>(&doomed.join("config.json"))
                .ok()
                .flatten()
                .is_some_and(|c| c.spec.auto_remove);
        n += usize::from(engine.delete_leftover(id, &doomed, anon));
    }
    n
}

impl LocalEngine {
    /// Delete what killed container operations left, at engine start: the files of
    /// removals killed after their rename into `tmp/` (whose remover no longer holds
    /// the lock), and the directories of creates killed before their config was written
    /// (never listed, yet counted as users of the volumes they had acquired). Volumes
    /// still marked as used by them are released. Returns how many were deleted.
    pub(crate) fn remove_leftovers(&self) -> usize {
        let mut n = sweep_removed(self);
        // A create holds this lock from its first directory to its state file: when it
        // is free, a container directory with only what a create makes before its
        // config is a killed create's. Busy: a create is under way, and a later start
        // looks again.
        // Creates are one at a time under that lock, and each names its container in
        // the marker until its state file is written: one directory to look at, not
        // every container's (a crash that lost the marker is a reboot, whose recovery
        // looks at every directory).
        let lock = self.root().run().join("containers.lock");
        if let Ok(Some(_l)) = crate::state::FileLock::try_exclusive(&lock) {
            let marker = creating_marker(self);
            match std::fs::read_to_string(&marker) {
                Ok(id) if !id.is_empty() => {
                    if id.len() == 64 && crate::ids::is_hex_prefix(&id) {
                        let dir = paths::dir(self, &id);
                        // A spare it had taken and was filling (see `spares`).
                        let taken = self
                            .root()
                            .tmp()
                            .join(format!("{}{id}", super::spares::TAKEN));
                        if taken.exists() {
                            n += usize::from(self.delete_leftover(&id, &taken, true));
                        }
                        if killed_create(&dir) {
                            n += usize::from(self.delete_leftover(&id, &dir, true));
                        }
                    }
                    let _ = crate::state::overwrite(&marker, b"");
                }
                _ => {}
            }
        }
        n
    }

    /// Release the volumes of container `id` and delete `dir`, what a killed operation
    /// left of it.
    fn delete_leftover(&self, id: &str, dir: &std::path::Path, remove_anonymous: bool) -> bool {
        if let Err(err) = crate::volume::release(self, id, remove_anonymous) {
            tracing::warn!("releasing the volumes of container {id}: {err}");
        }
        match std::fs::remove_dir_all(dir) {
            Ok(()) => true,
            Err(err) => {
                tracing::warn!(
                    "could not delete {}, left by a killed create or removal: {err}",
                    dir.display()
                );
                false
            }
        }
    }

    /// After a reboot (or the first run on this boot): mark containers whose processes
    /// are gone as exited and apply their restart policies. Cheap when nothing changed.
    pub fn recover_containers(&self) {
        let marker = self.root().run().join("boot_id");
        let now = state::boot_id();
        if std::fs::read_to_string(&marker)
            .map(|s| s.trim() == now)
            .unwrap_or(false)
        {
            return;
        }
        let Ok(_l) = self.root().lock("recovery") else {
            return;
        };
        if std::fs::read_to_string(&marker)
            .map(|s| s.trim() == now)
            .unwrap_or(false)
        {
            return;
        }
        // Write the marker first: the monitors started below open the engine too.
        let _ = crate::state::atomic_write(&marker, now.as_bytes());
        // What a crash left of containers whose config was never synced (`--rm` ones):
        // a directory whose config is missing or empty. Nothing is being created across
        // a reboot, so these are remnants, not containers in the making.
        let booted = std::fs::read_to_string("/proc/uptime")
            .ok()
            .and_then(|u| u.split_whitespace().next()?.parse::<f64>().ok())
            .map(|up| chrono::Utc::now().timestamp() - up as i64 - 1);
        if let (Ok(rd), Some(booted)) = (std::fs::read_dir(self.root().containers()), booted) {
            for e in rd.flatten() {
                use std::os::unix::fs::MetadataExt;
                let cfg = e.path().join("config.json");
                let empty = std::fs::metadata(&cfg)
                    .map(|m| m.len() == 0)
                    .unwrap_or(true);
                // Made before this boot (not one another process is making now).
                let before = e.metadata().is_ok_and(|m| m.is_dir() && m.mtime() < booted);
                if before && empty {
                    let id = e.file_name().to_string_lossy().into_owned();
                    tracing::warn!("removing what a crash left of container {id} (no config)");
                    // As any leftover goes: its volumes released (anonymous ones too:
                    // nothing can name them), its network records forgotten.
                    if let Err(err) = crate::network::forget(self, &id) {
                        tracing::warn!("forgetting the networks of container {id}: {err}");
                    }
                    self.delete_leftover(&id, &e.path(), true);
                }
            }
        }
        for id in self.container_ids() {
            let Ok((cfg, st)) = self.observe(&id) else {
                continue;
            };
            if st.status == ContainerStatus::Exited
                && !st.finished_at.is_empty()
                && monitor::should_restart(
                    &cfg.spec.restart,
                    st.exit_code,
                    st.restart_count,
                    st.manually_stopped,
                )
                && st.error.contains("monitor is gone")
            {
                if let Err(e) = self.spawn_monitor(&id, None) {
                    tracing::warn!(
                        "restarting {} after a restart of the machine: {e}",
                        cfg.name
                    );
                }
            }
        }
    }
}
