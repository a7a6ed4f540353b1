//! The container runtime: [`ContainerApi`] for [`LocalEngine`].
//!
//! One module per kernel concern, as youki's libcontainer: [`namespaces`], [`rootfs`]
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
pub mod namespaces;
pub mod net;
pub mod paths;
pub mod process;
pub mod rlimits;
pub mod rootfs;
pub mod seccomp;
pub mod state;
pub mod toolbox;
pub mod user;
pub mod validate;

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::api::{
    ContainerApi, ContainerCreate, ContainerListOptions, ContainerStatus, ContainerSummary,
    LogLine, LogOptions, MountSpec, PruneReport, RemoveOptions, Resources, RestartPolicy,
};
use crate::caller::Caller;
use crate::error::{EngineError, ErrorKind, IoContext, Result};
use crate::events::{Event, EventType};
use crate::policy::Action;
use crate::LocalEngine;

use cgroups::Cgroup;
use config::ContainerConfig;
use state::RunState;

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
    use std::io::Write;
    let path = paths::dir(engine, &cfg.id).join("config.json");
    let data = serde_json::to_vec_pretty(cfg)
        .map_err(|e| EngineError::internal(format!("serializing {}: {e}", path.display())))?;
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

/// Delete a stopped container's files and say so (`destroy`). The directory is first
/// renamed away, so of two removers racing (a monitor's `--rm` and an `rm -f`) exactly
/// one removes it and reports it.
pub(crate) fn remove_files(engine: &LocalEngine, cfg: &ContainerConfig) -> Result<()> {
    match hide_files(engine, cfg)? {
        Some(doomed) => delete_hidden(cfg, &doomed),
        None => Ok(()),
    }
}

/// The file naming the container a create is making (under the containers lock).
fn creating_marker(engine: &LocalEngine) -> std::path::PathBuf {
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

/// Prefix of a container directory being deleted, in `tmp/`.
const REMOVING: &str = "removing-";
/// The lock its remover holds until the files are gone; taken in the container's
/// directory before the rename, so it moves along with it.
const REMOVE_LOCK: &str = "remove.lock";

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
    let lock = match crate::state::FileLock::try_exclusive(&dir.join(REMOVE_LOCK)) {
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
        let Ok(Some(_lock)) = crate::state::FileLock::try_exclusive(&doomed.join(REMOVE_LOCK))
        else {
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

/// The second half of [`remove_files`]: delete the renamed files.
pub(crate) fn delete_hidden(cfg: &ContainerConfig, doomed: &Hidden) -> Result<()> {
    std::fs::remove_dir_all(&doomed.path).ctx(|| {
        format!(
            "removing the files of container {} ({})",
            cfg.name,
            doomed.path.display()
        )
    })
}

/// Docker's container names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
fn validate_name(name: &str) -> Result<()> {
    let mut c = name.chars();
    let ok = c.next().is_some_and(|f| f.is_ascii_alphanumeric())
        && name.len() >= 2
        && c.all(|ch| ch.is_ascii_alphanumeric() || "_.-".contains(ch));
    if ok {
        Ok(())
    } else {
        Err(EngineError::invalid(format!(
            "invalid container name {name:?}: use at least two characters of [a-zA-Z0-9_.-], starting with a letter or digit"
        )))
    }
}

/// A random `adjective_name`, as Docker makes them.
fn random_name() -> String {
    const A: &[&str] = &[
        "brave", "calm", "eager", "fancy", "gentle", "happy", "jolly", "keen", "lucid", "merry",
        "nifty", "proud", "quiet", "sharp", "tender", "upbeat", "vivid", "witty", "zealous",
        "bold",
    ];
    const B: &[&str] = &[
        "turing", "hopper", "lovelace", "curie", "noether", "ritchie", "thompson", "knuth",
        "dijkstra", "lamport", "liskov", "hamilton", "shannon", "babbage", "pike", "torvalds",
        "wozniak", "kay", "backus", "allen",
    ];
    let mut b = [0u8; 4];
    let _ = getrandom::fill(&mut b);
    format!(
        "{}_{}{}",
        A[b[0] as usize % A.len()],
        B[b[1] as usize % B.len()],
        u16::from_be_bytes([b[2], b[3]]) % 100
    )
}

fn ms(d: Duration) -> Duration {
    d
}

/// Does a container's state call for `observe` to set it right: processes gone with
/// nobody to say so, or stopped with the monitor gone before its cleanup was done?
fn needs_care(st: &RunState) -> bool {
    if st.status.is_active() {
        !st.pid_alive() && !st.monitor_alive()
    } else {
        st.monitor_pid != 0 && !st.monitor_alive()
    }
}

/// Poll `f` every few milliseconds until it holds or `timeout` passes.
fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    let mut step = Duration::from_millis(2);
    loop {
        if f() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(step);
        step = (step * 2).min(ms(Duration::from_millis(25)));
    }
}

fn send_signal(pid: i32, sig: i32) {
    // SAFETY: kill(2) with integers; the pid was checked alive with its start time.
    unsafe { libc::kill(pid, sig) };
}

/// The start error for a start failure code, with Docker's wording.
fn start_error(name: &str, code: i32, msg: &str) -> EngineError {
    let kind = if code == 126 || code == 127 {
        ErrorKind::InvalidArgument
    } else {
        ErrorKind::Internal
    };
    EngineError::new(kind, format!("failed to start container {name}: {msg}"))
}

impl LocalEngine {
    pub(crate) fn container_ids(&self) -> Vec<String> {
        std::fs::read_dir(self.root().containers())
            .map(|rd| {
                rd.flatten()
                    .filter(|e| e.path().join("config.json").exists())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The full id of the container named by `name_or_id` (name, full id, or unique id prefix).
    pub fn find_container(&self, name_or_id: &str) -> Result<String> {
        let q = name_or_id.trim_start_matches('/');
        // A full id names its directory: no listing (listings that look at every
        // container by id, such as the Docker API's `ps`, stay linear).
        if q.len() == 64
            && q.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            && paths::dir(self, q).join("config.json").exists()
        {
            return Ok(q.to_string());
        }
        // Names from the index (each row checked current), not from every config.
        let rows = self.index().snapshot(self)?.rows;
        if let Some(r) = rows.iter().find(|r| r.id == q || r.name == q) {
            return Ok(r.id.clone());
        }
        if let Some(id) =
            crate::ids::resolve_prefix("container", q, rows.iter().map(|r| r.id.as_str()))?
        {
            return Ok(id);
        }
        Err(EngineError::not_found(
            "container",
            name_or_id,
            "list containers with `wharf ps -a`",
        ))
    }

    /// Config and state of a container, told truthfully: a container whose processes
    /// are gone (monitor killed, machine restarted) is marked exited and cleaned up here.
    fn observe(&self, id: &str) -> Result<(ContainerConfig, RunState)> {
        self.observe_as(id, false)
    }

    /// [`Self::observe`]; `starting`: the caller holds the container's start lock.
    /// Otherwise the cleanup is left to a start in progress, if there is one (its
    /// cgroup must not be removed under it).
    fn observe_as(&self, id: &str, starting: bool) -> Result<(ContainerConfig, RunState)> {
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

    /// The lock a start holds until the container runs (or failed to): removals take it
    /// too, so that a container is never removed while it starts.
    fn start_lock(&self, id: &str) -> Result<crate::state::FileLock> {
        crate::state::FileLock::exclusive(&paths::dir(self, id).join("start.lock"))
    }

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
            if let Ok(id) = std::fs::read_to_string(&marker) {
                if id.len() == 64 && crate::ids::is_hex_prefix(&id) {
                    let dir = paths::dir(self, &id);
                    if killed_create(&dir) {
                        n += usize::from(self.delete_leftover(&id, &dir, true));
                    }
                }
                let _ = std::fs::remove_file(&marker);
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

    /// Start the monitor for container `id`; with `attach`, that socket is its first client.
    fn spawn_monitor(&self, id: &str, attach: Option<OwnedFd>) -> Result<()> {
        let dir = paths::dir(self, id);
        let _start = self.start_lock(id)?;
        let (cfg, st) = self.observe_as(id, true)?;
        if st.status == ContainerStatus::Paused {
            return Err(EngineError::conflict(format!(
                "container {} is paused: unpause it with `wharf unpause {}`",
                cfg.name, cfg.name
            )));
        }
        if st.status.is_active() && (st.pid_alive() || st.monitor_alive()) {
            return Ok(());
        }
        if st.manually_stopped || st.remove_requested {
            state::update(&dir, |s| {
                s.manually_stopped = false;
                s.remove_requested = false;
            })?;
        }
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| EngineError::sys("creating a pipe", e))?;
        let exe = self.wharf_exe()?;
        let mut cmd = std::process::Command::new(&exe);
        cmd.arg("--root")
            .arg(self.root().path())
            .arg("__monitor")
            .arg(id)
            .arg("--sync-fd")
            .arg("3");
        if attach.is_some() {
            cmd.arg("--attach-fd").arg("4");
        }
        cmd.stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let wfd = w.as_raw_fd();
        let afd = attach.as_ref().map(|a| a.as_raw_fd());
        // SAFETY: between fork and exec only fcntl/dup2 (async-signal-safe) run. The
        // descriptors are first moved above 10 so that placing one on 3 or 4 cannot
        // clobber the other, and dup2 always clears close-on-exec on the target.
        unsafe {
            cmd.pre_exec(move || {
                let high = |fd: i32| {
                    let n = libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10);
                    if n < 0 {
                        Err(std::io::Error::last_os_error())
                    } else {
                        Ok(n)
                    }
                };
                let w = high(wfd)?;
                let a = match afd {
                    Some(a) => Some(high(a)?),
                    None => None,
                };
                // Its own session: no terminal signals from the caller's process group.
                libc::setsid();
                if libc::dup2(w, 3) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if let Some(a) = a {
                    if libc::dup2(a, 4) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn().map_err(|e| {
            EngineError::io(
                format!(
                    "starting the monitor {} for container {}",
                    exe.display(),
                    cfg.name
                ),
                e,
            )
        })?;
        drop(w);
        drop(attach);
        let monitor_pid = child.id();
        // The monitor outlives us in its own session; whoever lives longer reaps it
        // (this process, if it is a long-lived console; init otherwise).
        std::thread::spawn(move || {
            let _ = child.wait();
        });
        let mut msg = String::new();
        let _ = std::fs::File::from(r).read_to_string(&mut msg);
        if let Some(steps) = msg.strip_prefix("ok") {
            crate::trace_step!("started the monitor (pid {}) for {}", monitor_pid, cfg.name);
            // What the monitor did, for the trace of this call.
            for s in steps.lines().filter(|l| !l.is_empty()) {
                crate::trace::step(s);
            }
            return Ok(());
        }
        if let Some(rest) = msg.strip_prefix("err\n") {
            let (code, m) = rest.split_once('\n').unwrap_or(("125", rest));
            return Err(start_error(&cfg.name, code.parse().unwrap_or(125), m));
        }
        let st = state::load(&dir)?;
        Err(EngineError::internal(format!(
            "the monitor for container {} ended without reporting{}; see `wharf inspect {}`",
            cfg.name,
            if st.error.is_empty() {
                String::new()
            } else {
                format!(": {}", st.error)
            },
            cfg.name
        )))
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

    /// (all, running, paused, stopped) containers, for `info`.
    /// Containers in `caller`'s scope: (all, running, paused, stopped).
    pub fn container_counts(&self, caller: &Caller) -> (usize, usize, usize, usize) {
        let (mut all, mut run, mut paused, mut stopped) = (0, 0, 0, 0);
        let role = self.gate().role(caller);
        let rows = self
            .index()
            .snapshot(self)
            .map(|s| s.rows)
            .unwrap_or_default();
        for r in rows {
            if !self.gate().in_scope(caller, &role, r.owner) {
                continue;
            }
            all += 1;
            match r.state.status {
                ContainerStatus::Running | ContainerStatus::Restarting => run += 1,
                ContainerStatus::Paused => paused += 1,
                _ => stopped += 1,
            }
        }
        (all, run, paused, stopped)
    }

    fn resolve_owned(
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

    fn wait_stopped(&self, id: &str, timeout: Duration) -> bool {
        wait_until(timeout, || match self.observe(id) {
            Ok((_, st)) => {
                !st.status.is_active()
                    || (st.status == ContainerStatus::Restarting && !st.pid_alive())
            }
            Err(_) => true,
        })
    }

    /// Signal, wait `timeout`, SIGKILL: the core of stop, restart and rm -f.
    fn stop_process(&self, cfg: &ContainerConfig, st: &RunState, sig: i32, timeout: Duration) {
        let dir = paths::dir(self, &cfg.id);
        let _ = state::update(&dir, |s| s.manually_stopped = true);
        if !st.pid_alive() {
            return;
        }
        let cg = Cgroup::for_container(&cfg.id);
        self.emit(event(cfg, "kill").attr("signal", sig.to_string()));
        send_signal(st.pid, sig);
        crate::trace_step!(
            "sent signal {sig} to the init process (host pid {})",
            st.pid
        );
        if st.status == ContainerStatus::Paused {
            let _ = cg.freeze(false);
            let _ = state::update(&dir, |s| {
                if s.status == ContainerStatus::Paused {
                    s.status = ContainerStatus::Running
                }
            });
        }
        let waited = std::time::Instant::now();
        if wait_until(timeout, || !state::proc_alive(st.pid, st.pid_start)) {
            crate::trace_step!(
                "the init process exited after {:.1} s",
                waited.elapsed().as_secs_f64()
            );
        } else {
            crate::trace_step!("still running after {} s: sent SIGKILL", timeout.as_secs());
            self.emit(event(cfg, "kill").attr("signal", libc::SIGKILL.to_string()));
            send_signal(st.pid, libc::SIGKILL);
            wait_until(Duration::from_secs(10), || {
                !state::proc_alive(st.pid, st.pid_start)
            });
        }
    }

    /// Start container `id` with an attached client: returns the client's end of the
    /// attach socket, connected before the command runs so no output is missed. With
    /// `size` (rows, columns) a `-t` container's terminal starts at that size.
    pub fn start_attached(
        &self,
        caller: &Caller,
        name_or_id: &str,
        size: Option<(u16, u16)>,
    ) -> Result<UnixStream> {
        let (cfg, _) = self.resolve_owned(caller, Action::ContainerStart, name_or_id)?;
        let (mut mine, theirs) = UnixStream::pair()
            .map_err(|e| EngineError::io("creating the attach socket pair", e))?;
        if let Some((rows, cols)) = size {
            attach::write_frame(&mut mine, attach::RESIZE, &attach::resize(rows, cols))
                .map_err(|e| EngineError::io("sending the terminal size", e))?;
        }
        self.emit(event(&cfg, "attach"));
        self.spawn_monitor(&cfg.id, Some(OwnedFd::from(theirs)))?;
        Ok(mine)
    }

    /// Attach to a running container's stdio: the attach protocol ([`attach`]) on a socket.
    pub fn attach(&self, caller: &Caller, name_or_id: &str) -> Result<UnixStream> {
        let (cfg, st) = self.resolve_owned(caller, Action::ContainerAttach, name_or_id)?;
        if st.status != ContainerStatus::Running && st.status != ContainerStatus::Paused {
            return Err(EngineError::conflict(format!(
                "container {} is not running: start it with `wharf start -a {}`",
                cfg.name, cfg.name
            )));
        }
        let s = UnixStream::connect(paths::attach_socket(self, &cfg.id)).map_err(|e| {
            EngineError::unavailable(format!(
                "cannot attach to container {}: its monitor does not answer ({e})",
                cfg.name
            ))
        })?;
        self.emit(event(&cfg, "attach"));
        Ok(s)
    }

    fn build_config(
        &self,
        caller: &Caller,
        spec: &ContainerCreate,
        id: &str,
        name: String,
    ) -> Result<ContainerConfig> {
        let img = self.resolve_image(caller, &spec.image)?;
        // A container stands on the image's layers: they must be on disk first.
        self.images_durable()?;
        let icfg = img.config.get("config").cloned().unwrap_or(Value::Null);
        let strs = |v: Option<&Value>| -> Option<Vec<String>> {
            v.and_then(|v| v.as_array()).map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
        };
        let entry = match &spec.entrypoint {
            Some(e) => e.clone(),
            None => strs(icfg.get("Entrypoint")).unwrap_or_default(),
        };
        let cmd = match &spec.cmd {
            Some(c) => c.clone(),
            None if spec.entrypoint.is_some() => vec![],
            None => strs(icfg.get("Cmd")).unwrap_or_default(),
        };
        let args: Vec<String> = entry.into_iter().chain(cmd).collect();
        if args.is_empty() {
            return Err(EngineError::invalid(format!(
                "no command specified: image {} has no CMD or ENTRYPOINT; give a command after the image name",
                spec.image
            )));
        }
        let host_net = spec.network.as_deref() == Some("host");
        let hostname = match (&spec.hostname, host_net) {
            (Some(h), _) => h.clone(),
            (None, true) => nix::unistd::gethostname()
                .map(|h| h.to_string_lossy().into_owned())
                .unwrap_or_default(),
            (None, false) => id[..12].to_string(),
        };
        let mut env: Vec<String> = strs(icfg.get("Env")).unwrap_or_default();
        let mut set = |kv: String| {
            let key = kv.split('=').next().unwrap_or("").to_string();
            env.retain(|e| e.split('=').next() != Some(key.as_str()));
            env.push(kv);
        };
        if !env_has(&spec.env, "PATH")
            && !strs(icfg.get("Env"))
                .unwrap_or_default()
                .iter()
                .any(|e| e.starts_with("PATH="))
        {
            set("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
        }
        set(format!("HOSTNAME={hostname}"));
        if spec.tty {
            set("TERM=xterm".into());
        }
        for e in &spec.env {
            if e.contains('=') {
                set(e.clone());
            }
        }
        let mut labels: BTreeMap<String, String> = icfg
            .get("Labels")
            .and_then(|l| l.as_object())
            .map(|o| {
                o.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        labels.extend(spec.labels.clone());
        let mut spec = spec.clone();
        if spec.stop_signal.is_none() {
            spec.stop_signal = icfg
                .get("StopSignal")
                .and_then(|s| s.as_str())
                .map(str::to_string);
        }
        Ok(ContainerConfig {
            id: id.to_string(),
            name,
            image_id: img.id.clone(),
            image: spec.image.clone(),
            created: state::now_rfc3339(),
            owner: caller.uid,
            project: caller.project.clone(),
            args,
            env,
            working_dir: spec
                .workdir
                .clone()
                .or_else(|| {
                    icfg.get("WorkingDir")
                        .and_then(|w| w.as_str())
                        .map(str::to_string)
                })
                .filter(|w| !w.is_empty())
                .unwrap_or_else(|| "/".into()),
            user: spec
                .user
                .clone()
                .or_else(|| {
                    icfg.get("User")
                        .and_then(|u| u.as_str())
                        .map(str::to_string)
                })
                .unwrap_or_default(),
            hostname,
            layer_dirs: img.layer_dirs.clone(),
            labels,
            spec,
            bind_sources: Vec::new(),
        })
    }
}

fn env_has(env: &[String], key: &str) -> bool {
    env.iter().any(|e| e.split('=').next() == Some(key))
}

/// `Up 2 minutes`, `Exited (0) 3 seconds ago`, as `docker ps` prints it.
pub fn human_status(st: &RunState) -> String {
    let since = |t: &str| {
        chrono::DateTime::parse_from_rfc3339(t)
            .map(|t| duration_words(chrono::Utc::now().timestamp() - t.timestamp()))
            .unwrap_or_default()
    };
    match st.status {
        ContainerStatus::Created => "Created".into(),
        ContainerStatus::Running => format!("Up {}", since(&st.started_at)),
        ContainerStatus::Paused => format!("Up {} (Paused)", since(&st.started_at)),
        ContainerStatus::Restarting => format!(
            "Restarting ({}) {} ago",
            st.exit_code,
            since(&st.finished_at)
        ),
        ContainerStatus::Exited => {
            format!("Exited ({}) {} ago", st.exit_code, since(&st.finished_at))
        }
        ContainerStatus::Removing => "Removal In Progress".into(),
        ContainerStatus::Dead => "Dead".into(),
    }
}

/// When (seconds since the epoch) [`human_status`] of `st` next reads differently by
/// the passing of time alone (`Up 59 seconds` to `Up About a minute`); `None` if never.
pub fn status_changes_at(st: &RunState, now: i64) -> Option<i64> {
    let at = |t: &str| {
        chrono::DateTime::parse_from_rfc3339(t)
            .ok()
            .map(|t| t.timestamp())
    };
    let t = match st.status {
        ContainerStatus::Running | ContainerStatus::Paused => at(&st.started_at)?,
        ContainerStatus::Restarting | ContainerStatus::Exited => at(&st.finished_at)?,
        _ => return None,
    };
    // The boundaries of `duration_words`.
    let d = (now - t).max(0);
    let next = match d {
        0..=59 => d + 1,
        60..=119 => 120,
        120..=3599 => (d / 60 + 1) * 60,
        3600..=7199 => 7200,
        7200..=172_799 => (d / 3600 + 1) * 3600,
        _ => (d / 86400 + 1) * 86400,
    };
    Some(t + next)
}

fn duration_words(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0 => "Less than a second".into(),
        1 => "1 second".into(),
        2..=59 => format!("{s} seconds"),
        60..=119 => "About a minute".into(),
        120..=3599 => format!("{} minutes", s / 60),
        3600..=7199 => "About an hour".into(),
        7200..=172799 => format!("{} hours", s / 3600),
        _ => format!("{} days", s / 86400),
    }
}

/// `ps --filter` keys checked once for a listing, and each `ancestor` value resolved to
/// its image id once (not per container).
fn prepare_filters(
    engine: &LocalEngine,
    filters: &[(String, String)],
) -> Result<HashMap<String, String>> {
    crate::filters::check_keys(
        filters,
        &["status", "name", "id", "label", "exited", "ancestor"],
        |other| {
            format!("invalid filter {other:?}: use status, name, id, label, ancestor or exited")
        },
    )?;
    let mut ancestors = HashMap::new();
    for (k, v) in filters {
        if k == "ancestor" {
            if let Ok(i) = engine.resolve_image(&Caller::root(), v) {
                ancestors.insert(v.clone(), i.id);
            }
        }
    }
    Ok(ancestors)
}

/// Does `s` pass `filters` ([`crate::filters::matches`])? `ancestors` and the keys come
/// from [`prepare_filters`].
fn matches_filters(
    s: &ContainerSummary,
    filters: &[(String, String)],
    ancestors: &HashMap<String, String>,
) -> bool {
    use crate::filters::{id_holds, label_holds, name_holds};
    crate::filters::matches_ok(filters, |key, v| match key {
        "status" => s.state.as_str() == v,
        "name" => name_holds(&s.name, v),
        "id" => id_holds(&s.id, v),
        "label" => label_holds(&s.labels, v),
        "ancestor" => {
            s.image == v
                || s.image_id == v
                || s.image_id
                    .trim_start_matches("sha256:")
                    .starts_with(v.trim_start_matches("sha256:"))
                || ancestors.get(v).is_some_and(|id| *id == s.image_id)
        }
        "exited" => {
            s.state == ContainerStatus::Exited
                && s.exit_code.map(|c| c.to_string()).as_deref() == Some(v)
        }
        _ => false,
    })
}

/// A listing with what says how long it holds ([`LocalEngine::container_list_timed`]).
pub struct TimedList {
    pub rows: Vec<ContainerSummary>,
    /// The index's generation it was made from ([`index::Index::generation`]).
    pub generation: u64,
    /// When (seconds since the epoch) a status text in it next changes by the passing
    /// of time alone (`Up 5 seconds`); `None`: none does.
    pub until: Option<i64>,
}

impl LocalEngine {
    /// `container_list`, and for how long the answer holds if nothing changes: the
    /// index's generation and the moment a status text would change with the clock
    /// (for a server that answers repeated listings without building them again).
    pub fn container_list_timed(
        &self,
        caller: &Caller,
        opts: &ContainerListOptions,
    ) -> Result<TimedList> {
        self.gate().authorize(caller, Action::ContainerList)?;
        let ancestors = prepare_filters(self, &opts.filters)?;
        // From the index: rows checked current, newest first.
        let snap = self.index().snapshot(self)?;
        let role = self.gate().role(caller);
        let mut rows: Vec<&index::Row> = snap
            .rows
            .iter()
            .map(|r| &**r)
            .filter(|r| {
                self.gate()
                    .permits(caller, &role, Action::ContainerInspect, r.owner)
            })
            .collect();
        if let Some(n) = opts.last {
            rows.truncate(n);
        } else if !opts.all {
            rows.retain(|r| r.state.status.is_active());
        }
        let now = chrono::Utc::now().timestamp();
        let mut until: Option<i64> = None;
        let mut kept = Vec::new();
        for r in rows {
            let mut s = r.summary(snap.net.as_deref());
            if matches_filters(&s, &opts.filters, &ancestors) {
                // `-s` walks the writable layer: only for the containers shown.
                if opts.size {
                    s.size_rw = Some(crate::volume::dir_size(
                        &paths::dir(self, &s.id).join("diff"),
                    ));
                }
                if let Some(t) = status_changes_at(&r.state, now) {
                    until = Some(until.map_or(t, |u| u.min(t)));
                }
                kept.push(s);
            }
        }
        Ok(TimedList {
            rows: kept,
            generation: snap.generation,
            until,
        })
    }
}

impl ContainerApi for LocalEngine {
    fn container_create(&self, caller: &Caller, spec: &ContainerCreate) -> Result<String> {
        // The permission first (nothing is looked at without it), then the request's
        // own sense, then the role's constraints on it (audited with its arguments).
        self.gate().precheck(caller, Action::ContainerCreate)?;
        validate::validate(spec).inspect_err(|e| self.gate().refuse_create(caller, spec, e))?;
        // Bind sources resolved by the kernel (as the caller, for a constrained role) and
        // `--volumes-from` expanded: the gate checks real paths, and the objects found
        // are recorded so the start mounts exactly them.
        let (resolved, bind_sources) = binds::prepare(self, caller, spec)?;
        let spec = &resolved;
        if spec.check_only {
            // Compose's dry run: the same checks, nothing created, refusals audited.
            self.gate().check_create_only(caller, spec)?;
            return match crate::network::check_request(self, caller, spec) {
                Err(e) if e.kind == crate::ErrorKind::NotFound => Ok(String::new()),
                Err(e) => Err(e),
                Ok(()) => Ok(String::new()),
            };
        }
        self.gate().authorize_create(caller, spec)?;
        crate::network::check_request(self, caller, spec)?;
        let id = crate::ids::new_id();
        let _l = self.root().lock("containers")?;
        let name = match &spec.name {
            Some(n) => {
                if let Ok(other) = self.find_container(n) {
                    if load_config(self, &other)
                        .map(|c| c.name == *n)
                        .unwrap_or(false)
                    {
                        // dockerd's words: clients (compose) look for them.
                        return Err(EngineError::conflict(format!(
                            "Conflict. The container name \"/{n}\" is already in use by container \"{other}\". You have to remove (or rename) that container to be able to reuse that name."
                        )));
                    }
                }
                n.clone()
            }
            None => loop {
                let n = random_name();
                if self.find_container(&n).is_err() {
                    break n;
                }
            },
        };
        let mut cfg = self.build_config(caller, spec, &id, name)?;
        cfg.bind_sources = bind_sources;
        let dir = paths::dir(self, &id);
        // Which container is in the making, for the engine that finds this create
        // killed half-way ([`LocalEngine::remove_leftovers`]).
        let marker = creating_marker(self);
        std::fs::write(&marker, &id).ctx(|| format!("writing {}", marker.display()))?;
        let res = (|| {
            for d in ["diff", "work", "merged"] {
                std::fs::create_dir_all(dir.join(d))
                    .ctx(|| format!("creating {}", dir.join(d).display()))?;
            }
            for m in cfg.spec.mounts.iter_mut().filter(|m| m.kind == "volume") {
                let name = (!m.source.is_empty()).then_some(m.source.as_str());
                m.source = crate::volume::acquire(self, caller, name, &id)?;
            }
            save_config(self, &cfg)?;
            state::save(&dir, &RunState::default())
        })();
        if let Err(e) = res {
            let _ = crate::volume::release(self, &id, true);
            let _ = std::fs::remove_dir_all(&dir);
            let _ = std::fs::remove_file(&marker);
            return Err(e);
        }
        let _ = std::fs::remove_file(&marker);
        if crate::trace::active() {
            crate::trace::step(format!(
                "resolved {} to image {} ({} layer{})",
                cfg.image,
                crate::ids::short(&cfg.image_id),
                cfg.layer_dirs.len(),
                if cfg.layer_dirs.len() == 1 { "" } else { "s" }
            ));
            crate::trace::step(format!(
                "made containers/{}/ with an empty writable layer (diff, work, merged) and its config, named {}",
                crate::ids::short(&id),
                cfg.name
            ));
            for m in cfg.spec.mounts.iter().filter(|m| m.kind == "volume") {
                crate::trace::step(format!(
                    "took volume {} for {}",
                    crate::ids::short(&m.source),
                    m.target
                ));
            }
        }
        self.emit(event(&cfg, "create"));
        Ok(id)
    }

    fn container_start(&self, caller: &Caller, id: &str) -> Result<()> {
        let (cfg, _) = self.resolve_owned(caller, Action::ContainerStart, id)?;
        self.spawn_monitor(&cfg.id, None)
    }

    fn container_stop(&self, caller: &Caller, id: &str, timeout: Option<u32>) -> Result<()> {
        let (cfg, st) = self.resolve_owned(caller, Action::ContainerStop, id)?;
        if !st.status.is_active() {
            return Ok(());
        }
        let t = Duration::from_secs(u64::from(timeout.unwrap_or_else(|| cfg.stop_timeout())));
        self.stop_process(&cfg, &st, cfg.stop_signal()?, t);
        if !self.wait_stopped(&cfg.id, Duration::from_secs(10)) {
            return Err(EngineError::unavailable(format!(
                "container {} did not stop in time: try `wharf kill {}`",
                cfg.name, cfg.name
            )));
        }
        self.emit(event(&cfg, "stop"));
        Ok(())
    }

    fn container_restart(&self, caller: &Caller, id: &str, timeout: Option<u32>) -> Result<()> {
        let (cfg, st) = self.resolve_owned(caller, Action::ContainerRestart, id)?;
        if st.status.is_active() {
            let t = Duration::from_secs(u64::from(timeout.unwrap_or_else(|| cfg.stop_timeout())));
            self.stop_process(&cfg, &st, cfg.stop_signal()?, t);
            // Wait for the monitor to finish with the old run.
            wait_until(Duration::from_secs(10), || {
                state::load(&paths::dir(self, &cfg.id))
                    .map(|s| !s.monitor_alive())
                    .unwrap_or(true)
            });
            self.emit(event(&cfg, "stop"));
        }
        self.spawn_monitor(&cfg.id, None)?;
        self.emit(event(&cfg, "restart"));
        Ok(())
    }

    fn container_kill(&self, caller: &Caller, id: &str, signal: &str) -> Result<()> {
        let (cfg, st) = self.resolve_owned(caller, Action::ContainerKill, id)?;
        let sig = config::parse_signal(signal)?;
        if !st.pid_alive() {
            return Err(EngineError::conflict(format!(
                "container {} is not running: nothing to kill",
                cfg.name
            )));
        }
        if st.status == ContainerStatus::Paused && sig != libc::SIGKILL {
            return Err(EngineError::conflict(format!(
                "container {} is paused: unpause it first (`wharf unpause {}`)",
                cfg.name, cfg.name
            )));
        }
        if sig == libc::SIGKILL || sig == cfg.stop_signal()? {
            state::update(&paths::dir(self, &cfg.id), |s| s.manually_stopped = true)?;
        }
        self.emit(event(&cfg, "kill").attr("signal", sig.to_string()));
        send_signal(st.pid, sig);
        crate::trace_step!(
            "sent signal {sig} to the init process (host pid {})",
            st.pid
        );
        if st.status == ContainerStatus::Paused {
            let _ = Cgroup::for_container(&cfg.id).freeze(false);
        }
        Ok(())
    }

    fn container_pause(&self, caller: &Caller, id: &str) -> Result<()> {
        let (cfg, st) = self.resolve_owned(caller, Action::ContainerPause, id)?;
        if st.status == ContainerStatus::Paused {
            return Err(EngineError::conflict(format!(
                "container {} is already paused",
                cfg.name
            )));
        }
        if st.status != ContainerStatus::Running || !st.pid_alive() {
            return Err(EngineError::conflict(format!(
                "container {} is not running: only running containers can be paused",
                cfg.name
            )));
        }
        Cgroup::for_container(&cfg.id).freeze(true)?;
        state::update(&paths::dir(self, &cfg.id), |s| {
            s.status = ContainerStatus::Paused
        })?;
        self.emit(event(&cfg, "pause"));
        Ok(())
    }

    fn container_unpause(&self, caller: &Caller, id: &str) -> Result<()> {
        let (cfg, st) = self.resolve_owned(caller, Action::ContainerUnpause, id)?;
        if st.status != ContainerStatus::Paused {
            return Err(EngineError::conflict(format!(
                "container {} is not paused",
                cfg.name
            )));
        }
        Cgroup::for_container(&cfg.id).freeze(false)?;
        state::update(&paths::dir(self, &cfg.id), |s| {
            if s.status == ContainerStatus::Paused {
                s.status = ContainerStatus::Running
            }
        })?;
        self.emit(event(&cfg, "unpause"));
        Ok(())
    }

    fn container_remove(&self, caller: &Caller, id: &str, opts: RemoveOptions) -> Result<()> {
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

    fn container_rename(&self, caller: &Caller, id: &str, new_name: &str) -> Result<()> {
        let (mut cfg, _) = self.resolve_owned(caller, Action::ContainerRename, id)?;
        validate_name(new_name)?;
        let _l = self.root().lock("containers")?;
        if let Ok(other) = self.find_container(new_name) {
            if other != cfg.id
                && load_config(self, &other)
                    .map(|c| c.name == new_name)
                    .unwrap_or(false)
            {
                // dockerd's words, as for create.
                return Err(EngineError::conflict(format!(
                    "Error when allocating new name: Conflict. The container name \"/{new_name}\" is already in use by container \"{other}\". You have to remove (or rename) that container to be able to reuse that name."
                )));
            }
        }
        let old = std::mem::replace(&mut cfg.name, new_name.to_string());
        save_config(self, &cfg)?;
        self.emit(event(&cfg, "rename").attr("oldName", format!("/{old}")));
        Ok(())
    }

    fn container_wait(&self, caller: &Caller, id: &str) -> Result<i32> {
        let (cfg, _) = self.resolve_owned(caller, Action::ContainerWait, id)?;
        // Subscribed before the first look: an exit in between is in the follower. Each
        // event of the container wakes a look (the monitor writes the state before it
        // says `die`); a look once a second finds an exit nobody recorded.
        let mut follower = crate::events::Follower::from_now(self.journal());
        let waiter = crate::events::Waiter::new(self.journal());
        let mut seen_die: Option<i32> = None;
        loop {
            match self.observe(&cfg.id) {
                Ok((_, st)) if !st.status.is_active() => return Ok(st.exit_code),
                Ok(_) => {}
                Err(e) if e.kind == ErrorKind::NotFound && seen_die.is_some() => {
                    return Ok(seen_die.unwrap_or(0))
                }
                // Removed on exit (--rm): its last exit code is in the event journal.
                Err(e) if e.kind == ErrorKind::NotFound => {
                    let mut code = 0;
                    let filter = crate::api::EventFilter {
                        types: vec!["container".into()],
                        actions: vec!["die".into()],
                        objects: vec![("container".into(), cfg.id.clone())],
                        ..Default::default()
                    };
                    crate::api::SystemApi::events(self, caller, &filter, &mut |ev| {
                        code = ev
                            .actor
                            .attributes
                            .get("exitCode")
                            .and_then(|c| c.parse().ok())
                            .unwrap_or(code);
                        true
                    })?;
                    return Ok(code);
                }
                Err(e) => return Err(e),
            }
            let deadline = Instant::now() + Duration::from_secs(1);
            'events: while Instant::now() < deadline {
                for ev in follower.poll()? {
                    if ev.actor.id == cfg.id && ev.kind == EventType::Container {
                        if ev.action == "die" {
                            seen_die = ev
                                .actor
                                .attributes
                                .get("exitCode")
                                .and_then(|c| c.parse().ok())
                                .or(seen_die);
                        }
                        break 'events;
                    }
                }
                waiter.wait(Duration::from_millis(250));
            }
        }
    }

    fn container_update(
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

    fn container_list(
        &self,
        caller: &Caller,
        opts: &ContainerListOptions,
    ) -> Result<Vec<ContainerSummary>> {
        Ok(self.container_list_timed(caller, opts)?.rows)
    }

    fn container_inspect(&self, caller: &Caller, id: &str) -> Result<Value> {
        let (cfg, st) = self.resolve_owned(caller, Action::ContainerInspect, id)?;
        let dir = paths::dir(self, &cfg.id);
        // Config.Entrypoint and Config.Cmd as the container runs them (the image's where
        // the create gave none), as docker shows them: the command line is both.
        let (entrypoint, cmd) = {
            let entry: Vec<String> = match &cfg.spec.entrypoint {
                Some(e) => e.clone(),
                None => self
                    .resolve_image(&Caller::root(), &cfg.image_id)
                    .ok()
                    .and_then(|img| img.config.pointer("/config/Entrypoint").cloned())
                    .and_then(|v| serde_json::from_value::<Vec<String>>(v).ok())
                    .unwrap_or_default(),
            };
            let entry = if cfg.args.starts_with(&entry) {
                entry
            } else {
                Vec::new()
            };
            let cmd = cfg.args[entry.len()..].to_vec();
            (
                (!entry.is_empty()).then_some(entry),
                (!cmd.is_empty()).then_some(cmd),
            )
        };
        let r = &cfg.spec.resources;
        let restart = serde_json::to_value(&cfg.spec.restart).unwrap_or(Value::Null);
        let restart = match restart {
            Value::Object(mut o) => {
                o.entry("MaximumRetryCount").or_insert(json!(0));
                Value::Object(o)
            }
            other => other,
        };
        let mounts: Vec<Value> = mounts_for(self, &cfg)
            .iter()
            .zip(&cfg.spec.mounts)
            .map(|(m, orig)| {
                json!({
                    "Type": m.kind, "Name": if m.kind == "volume" { orig.source.clone() } else { String::new() },
                    "Source": m.source, "Destination": m.target, "RW": !m.read_only, "Mode": m.options.join(","),
                })
            })
            .collect();
        // Docker's shapes: `{"max-size": "10485760"}` (no nulls) and
        // `{"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}` (host port "" when any).
        let mut log_opts = serde_json::Map::new();
        if let Some(s) = cfg.spec.log_max_size {
            log_opts.insert("max-size".into(), json!(s.to_string()));
        }
        if let Some(n) = cfg.spec.log_max_files {
            log_opts.insert("max-file".into(), json!(n.to_string()));
        }
        let mut port_bindings = serde_json::Map::new();
        for p in &cfg.spec.ports {
            let b = json!({
                "HostIp": p.host_ip,
                "HostPort": if p.host_port == 0 { String::new() } else { p.host_port.to_string() },
            });
            if let Some(list) = port_bindings
                .entry(format!("{}/{}", p.container_port, p.proto))
                .or_insert_with(|| json!([]))
                .as_array_mut()
            {
                list.push(b);
            }
        }
        // `{"80/tcp": {}}`: published and --expose'd ports (null when none, as Docker).
        let exposed: serde_json::Map<String, Value> = cfg
            .spec
            .ports
            .iter()
            .chain(&cfg.spec.expose)
            .map(|p| (format!("{}/{}", p.container_port, p.proto), json!({})))
            .collect();
        let exposed = (!exposed.is_empty()).then_some(Value::Object(exposed));
        let mut doc = json!({
            "Id": cfg.id,
            "Created": cfg.created,
            "Path": cfg.args.first().cloned().unwrap_or_default(),
            "Args": cfg.args.iter().skip(1).collect::<Vec<_>>(),
            "State": {
                "Status": st.status.as_str(),
                "Running": matches!(st.status, ContainerStatus::Running | ContainerStatus::Paused),
                "Paused": st.status == ContainerStatus::Paused,
                "Restarting": st.status == ContainerStatus::Restarting,
                "OOMKilled": st.oom_killed,
                "Dead": st.status == ContainerStatus::Dead,
                "Pid": if st.pid_alive() { st.pid } else { 0 },
                "ExitCode": st.exit_code,
                "Error": st.error,
                "StartedAt": if st.started_at.is_empty() { "0001-01-01T00:00:00Z".to_string() } else { st.started_at.clone() },
                "FinishedAt": if st.finished_at.is_empty() { "0001-01-01T00:00:00Z".to_string() } else { st.finished_at.clone() },
            },
            "Image": cfg.image_id,
            "ResolvConfPath": dir.join("resolv.conf"),
            "HostnamePath": dir.join("hostname"),
            "HostsPath": dir.join("hosts"),
            "LogPath": paths::log_file(self, &cfg.id),
            "Name": format!("/{}", cfg.name),
            "RestartCount": st.restart_count,
            "Driver": "overlay",
            "Platform": "linux",
            "HostConfig": {
                "NetworkMode": cfg.spec.network.clone().unwrap_or_else(|| "bridge".into()),
                "RestartPolicy": restart,
                "AutoRemove": cfg.spec.auto_remove,
                "Privileged": cfg.spec.privileged,
                "ReadonlyRootfs": cfg.spec.read_only,
                "CapAdd": cfg.spec.cap_add,
                "CapDrop": cfg.spec.cap_drop,
                "SecurityOpt": cfg.spec.security_opt.iter().map(|o| if o.starts_with("seccomp=") && o != "seccomp=unconfined" { "seccomp=<profile>".to_string() } else { o.clone() }).collect::<Vec<_>>(),
                "Init": cfg.spec.init,
                "Memory": r.memory.unwrap_or(0),
                "MemorySwap": r.memory_swap.unwrap_or(0),
                "NanoCpus": r.nano_cpus.unwrap_or(0),
                "CpuShares": r.cpu_shares.unwrap_or(0),
                "CpusetCpus": r.cpuset_cpus.clone().unwrap_or_default(),
                "PidsLimit": r.pids_limit,
                "BlkioWeight": r.blkio_weight.unwrap_or(0),
                "ShmSize": cfg.spec.shm_size.unwrap_or(64 << 20),
                "Ulimits": cfg.spec.ulimits.iter().map(|u| json!({"Name": u.name, "Soft": u.soft, "Hard": u.hard})).collect::<Vec<_>>(),
                "LogConfig": {"Type": cfg.spec.log_driver.as_deref().unwrap_or("json-file"), "Config": log_opts},
                "PortBindings": port_bindings,
                "PublishAllPorts": cfg.spec.publish_all,
                "Dns": cfg.spec.dns,
                "ExtraHosts": cfg.spec.extra_hosts,
            },
            "Mounts": mounts,
            "Config": {
                "Hostname": cfg.hostname,
                "User": cfg.user,
                "Tty": cfg.spec.tty,
                "OpenStdin": cfg.spec.open_stdin,
                "Env": cfg.env,
                "Cmd": cmd,
                "Entrypoint": entrypoint,
                "Image": cfg.image,
                "WorkingDir": cfg.working_dir,
                "Labels": cfg.labels,
                "StopSignal": cfg.spec.stop_signal.clone().unwrap_or_else(|| "SIGTERM".into()),
                "StopTimeout": cfg.stop_timeout(),
                "ExposedPorts": exposed,
                "Healthcheck": cfg.spec.healthcheck.as_ref().map(|h| json!({
                    "Test": h.test, "Interval": h.interval_ns.unwrap_or(0),
                    "Timeout": h.timeout_ns.unwrap_or(0), "StartPeriod": h.start_period_ns.unwrap_or(0),
                    "Retries": h.retries.unwrap_or(0),
                })),
            },
            "NetworkSettings": crate::network::network_settings(self, &cfg.id)
                .ok()
                .filter(|v| v["Networks"].as_object().is_some_and(|m| !m.is_empty()))
                .unwrap_or_else(|| serde_json::json!({ "Networks": { cfg.spec.network.clone().unwrap_or_else(|| "bridge".into()): {} } })),
            "Owner": cfg.owner,
            "Project": cfg.project,
        });
        // State.Health (toolbox).
        toolbox::health::inspect_into(self, &cfg, &st, &mut doc);
        Ok(doc)
    }

    fn container_prune(&self, caller: &Caller) -> Result<PruneReport> {
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

    fn container_logs(
        &self,
        caller: &Caller,
        id: &str,
        opts: &LogOptions,
        sink: &mut dyn FnMut(LogLine) -> bool,
    ) -> Result<()> {
        let (cfg, _) = self.resolve_owned(caller, Action::ContainerLogs, id)?;
        if cfg.spec.log_driver.as_deref() == Some("none") {
            return Err(crate::EngineError::invalid(format!(
                "configured logging driver does not support reading: {} runs with --log-driver none, \
                 so no log is kept",
                cfg.name
            )));
        }
        let path = paths::log_file(self, &cfg.id);
        let running = || {
            self.observe(&cfg.id)
                .map(|(_, st)| st.status.is_active())
                .unwrap_or(false)
        };
        logs::read(&path, opts, sink, &running)
    }

    fn container_attach(&self, caller: &Caller, id: &str) -> Result<UnixStream> {
        self.attach(caller, id)
    }

    fn container_start_attached(
        &self,
        caller: &Caller,
        id: &str,
        size: Option<(u16, u16)>,
    ) -> Result<UnixStream> {
        self.start_attached(caller, id, size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_filters_must_all_hold_other_keys_are_alternatives() {
        let s = ContainerSummary {
            id: "abc".into(),
            name: "proj_web_1".into(),
            image: "busybox".into(),
            image_id: "sha256:1".into(),
            command: String::new(),
            created: 0,
            state: ContainerStatus::Running,
            status: String::new(),
            health: None,
            exit_code: None,
            oom_killed: false,
            ports: vec![],
            labels: [
                ("p".to_string(), "proj".to_string()),
                ("oneoff".to_string(), "False".to_string()),
            ]
            .into_iter()
            .collect(),
            networks: vec![],
            size_rw: None,
            owner: 0,
            project: None,
            ..Default::default()
        };
        let f = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let m = |pairs: &[(&str, &str)]| matches_filters(&s, &f(pairs), &HashMap::new());
        assert!(m(&[("label", "p=proj"), ("label", "oneoff=False")]));
        assert!(!m(&[("label", "p=proj"), ("label", "oneoff=True")]));
        assert!(m(&[("status", "exited"), ("status", "running")]));
        assert!(!m(&[("status", "running"), ("name", "db")]));
    }

    #[test]
    fn names_and_status_words() {
        assert!(validate_name("web-1").is_ok());
        assert!(validate_name("-bad").is_err());
        assert!(validate_name("a").is_err());
        let n = random_name();
        assert!(validate_name(&n).is_ok(), "{n}");
        assert_eq!(duration_words(5), "5 seconds");
        assert_eq!(duration_words(300), "5 minutes");
        let st = RunState {
            status: ContainerStatus::Created,
            ..Default::default()
        };
        assert_eq!(human_status(&st), "Created");
        assert_eq!(status_changes_at(&st, 1000), None);
        // Each boundary is where the words change, and not before.
        let t0 = chrono::DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z")
            .unwrap()
            .timestamp();
        let up = RunState {
            status: ContainerStatus::Running,
            started_at: "2024-01-01T00:00:00Z".into(),
            ..Default::default()
        };
        for d in [
            0, 1, 30, 59, 60, 119, 120, 150, 3599, 3600, 7199, 7200, 90_000, 172_799, 172_800,
            900_000,
        ] {
            let next = status_changes_at(&up, t0 + d).unwrap();
            assert!(next > t0 + d);
            assert_eq!(duration_words(d), duration_words(next - t0 - 1), "{d}");
            assert_ne!(duration_words(d), duration_words(next - t0), "{d}");
        }
    }
}
