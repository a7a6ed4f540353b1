//! The container runtime: [`ContainerApi`](crate::api::ContainerApi) for [`LocalEngine`].
//!
//! The container service (create, lifecycle, list, inspect, names, removal, recovery) is
//! `service`, one file per operation. Process control is one module per kernel
//! concern, as youki's libcontainer: [`namespaces`], [`rootfs`]
//! (overlay, mounts, masked paths, pivot_root), [`capabilities`], [`seccomp`],
//! [`cgroups`] (v1 and v2), [`rlimits`], [`user`], [`process`] (the container's init),
//! [`monitor`] (the per-container process that outlives the CLI), [`logs`] (json-file),
//! [`attach`] (the stdio protocol), [`state`] (state on disk, told truthfully) and
//! [`config`] (what a container is). [`net`] is where networking plugs in.

pub mod attach;
pub mod binds;
pub mod capabilities;
pub mod cgroups;
pub mod config;
pub mod exec;
pub mod index;
pub mod logs;
pub mod monitor;
mod mount_points;
pub mod namespaces;
pub mod net;
pub mod paths;
pub mod process;
pub mod rlimits;
pub mod rootfs;
pub mod seccomp;
mod service;
pub mod state;
pub mod toolbox;
pub mod user;
pub mod validate;

use crate::api::MountSpec;
use crate::caller::Caller;
use crate::error::{EngineError, IoContext, Result};
use crate::events::{Event, EventType};
use crate::LocalEngine;

use config::ContainerConfig;

pub use service::list::TimedList;
pub use service::status::{human_status, status_changes_at};

use service::names::validate_name;
use service::observe::needs_care;
pub(crate) use service::recover::sweep_removed;
pub(crate) use service::remove::{delete_hidden, hide_files, hide_quick, Hidden};

/// Read `containers/<id>/config.json`.
pub(crate) fn load_config(engine: &LocalEngine, id: &str) -> Result<ContainerConfig> {
    crate::state::read_json(&paths::dir(engine, id).join("config.json"))?.ok_or_else(|| {
        EngineError::not_found("container", id, "list containers with `wharf ps -a`")
    })
}

/// Write `config.json`: beside, fsync, rename over. The directory is not fsynced (the
/// second fsync doubles the cost of `create`): after a crash the rename is either there
/// or not, so the container has the old config, the new one, or (just created) does
/// not exist; never a torn or empty file.
///
/// A `--rm` container's config is not synced (the fsync is most of a short run's wait
/// on a busy disk): such a container does not outlive a crash anyway (it is removed when
/// found stopped), and what a crash leaves of a config never synced (a missing or empty
/// file) is removed by the first engine of the next boot ([`LocalEngine::recover_containers`]).
fn save_config(engine: &LocalEngine, cfg: &ContainerConfig) -> Result<()> {
    write_config(&paths::dir(engine, &cfg.id), cfg, false)
}

/// [`save_config`] into the container directory `dir`; `unseen`: `dir` is not in
/// `containers/` yet (a spare being filled), so the file is written in place.
fn write_config(dir: &std::path::Path, cfg: &ContainerConfig, unseen: bool) -> Result<()> {
    use std::io::Write;
    let path = dir.join("config.json");
    let data = serde_json::to_vec_pretty(cfg)
        .map_err(|e| EngineError::internal(format!("serializing {}: {e}", path.display())))?;
    if unseen {
        let f =
            crate::state::overwrite(&path, &data).ctx(|| format!("writing {}", path.display()))?;
        if !cfg.spec.auto_remove {
            f.sync_all().ctx(|| format!("syncing {}", path.display()))?;
        }
        return Ok(());
    }
    let tmp = path.with_file_name(format!(".config.json.tmp-{}", std::process::id()));
    let mut f = std::fs::File::create(&tmp).ctx(|| format!("creating {}", tmp.display()))?;
    f.write_all(&data)
        .ctx(|| format!("writing {}", tmp.display()))?;
    if !cfg.spec.auto_remove {
        f.sync_all().ctx(|| format!("syncing {}", tmp.display()))?;
    }
    std::fs::rename(&tmp, &path).ctx(|| format!("replacing {}", path.display()))
}

/// A container event with Docker's attributes (name, image, labels) and the owner.
pub(crate) fn event(cfg: &ContainerConfig, action: &str) -> Event {
    let mut ev = Event::new(EventType::Container, action, &cfg.id)
        .attr("name", &cfg.name)
        .attr("image", &cfg.image)
        .owned_by(cfg.owner);
    for (k, v) in &cfg.labels {
        ev = ev.attr(k, v);
    }
    ev
}

/// The mounts as the init process performs them: named volumes turned into host paths.
pub(crate) fn mounts_for(engine: &LocalEngine, cfg: &ContainerConfig) -> Vec<MountSpec> {
    cfg.spec
        .mounts
        .iter()
        .map(|m| {
            let mut m = m.clone();
            if m.kind == "volume" {
                m.source = crate::volume::data_path(engine, &m.source)
                    .display()
                    .to_string();
            }
            m
        })
        .collect()
}

/// The mounts as the container's init performs them ([`mounts_for`]), each bind with
/// the object its source must still be (checked at create). A container created before
/// sources were recorded has its binds resolved now, as the engine, unless its owner's
/// role constrains bind mounts: then it must be created again.
pub(crate) fn mount_plan(
    engine: &LocalEngine,
    cfg: &ContainerConfig,
) -> Result<Vec<rootfs::PlannedMount>> {
    let mut out = Vec::new();
    for spec in mounts_for(engine, cfg) {
        let expect = if spec.kind == "bind" {
            Some(match binds::checked_for(&cfg.bind_sources, &spec) {
                Some(c) => c.clone(),
                None => {
                    let owner = Caller {
                        uid: cfg.owner,
                        gid: cfg.owner,
                        name: String::new(),
                        role: crate::caller::Role("none".into()),
                        project: None,
                    };
                    if engine.gate().role(&owner).constraints.bind_mounts.is_some() {
                        return Err(EngineError::conflict(format!(
                            "container {} was created by an older wharf that did not record what its bind mount source {} is: recreate the container so the source is checked",
                            cfg.name, spec.source
                        )));
                    }
                    binds::check_now(&spec)?
                }
            })
        } else {
            None
        };
        out.push(rootfs::PlannedMount { spec, expect });
    }
    Ok(out)
}
