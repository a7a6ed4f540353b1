//! The in-process engine: [`LocalEngine`] implements the engine API on a state root.
//! Each area implements its sub-trait in its own module (`image`, `runtime`, ...);
//! this file holds what they share: the root, the event journal, the caller check.

use std::path::PathBuf;
use std::time::Duration;

use crate::api::{CgroupMode, EventFilter, SystemApi, SystemInfo};
use crate::caller::Caller;
use crate::error::Result;
use crate::events::{Event, Follower, Journal};
use crate::state::StateRoot;

/// How the in-process engine is set up.
#[derive(Debug, Clone, Default)]
pub struct EngineOptions {
    /// The `wharf` binary, re-executed as the per-container monitor. Defaults to
    /// the current executable (tests pass the built binary).
    pub wharf_exe: Option<PathBuf>,
}

/// The engine running inside this process, on one state root. Cheap to clone.
#[derive(Debug, Clone)]
pub struct LocalEngine {
    root: StateRoot,
    journal: Journal,
    opts: EngineOptions,
}

impl LocalEngine {
    /// Open the engine on `root` (created if needed).
    pub fn open(root: impl Into<PathBuf>, opts: EngineOptions) -> Result<Self> {
        let root = StateRoot::open(root.into())?;
        let journal = Journal::new(root.path().join("events.jsonl"));
        Ok(LocalEngine { root, journal, opts })
    }

    /// The state root.
    pub fn root(&self) -> &StateRoot {
        &self.root
    }

    /// The event journal.
    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    /// The `wharf` binary to re-execute for monitors.
    pub fn wharf_exe(&self) -> Result<PathBuf> {
        match &self.opts.wharf_exe {
            Some(p) => Ok(p.clone()),
            None => std::env::current_exe()
                .map_err(|e| crate::EngineError::io("finding the wharf executable", e)),
        }
    }

    /// Append an event to the journal. A failure to record is logged, never fatal to
    /// the action that already happened.
    pub fn emit(&self, ev: Event) {
        if let Err(e) = self.journal.append(&ev) {
            tracing::warn!("could not record event {} {}: {e}", ev.kind.as_str(), ev.action);
        }
    }

    /// Container ids by the image id (`sha256:...`) they were created from, read from
    /// each `containers/<id>/config.json`. That file is the runtime's; this relies only on
    /// its top-level `"ImageId"` field, so the image store can refuse to delete an image
    /// in use without knowing the runtime.
    pub fn image_users(&self) -> Result<std::collections::BTreeMap<String, Vec<String>>> {
        let mut out: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        let dir = self.root.containers();
        let entries = std::fs::read_dir(&dir).map_err(|e| crate::EngineError::io(format!("listing {}", dir.display()), e))?;
        for entry in entries.flatten() {
            let id = entry.file_name().to_string_lossy().into_owned();
            let cfg: Option<serde_json::Value> = crate::state::read_json(&entry.path().join("config.json")).unwrap_or(None);
            if let Some(image) = cfg.as_ref().and_then(|c| c.get("ImageId")).and_then(|v| v.as_str()) {
                out.entry(image.to_string()).or_default().push(id);
            }
        }
        Ok(out)
    }

    /// May `caller` do `action` (e.g. `container.stop`) on an object owned by `owner`?
    /// Every API call goes through here before acting.
    ///
    /// Without a policy file wharf is single-user and the caller is admin, so this
    /// allows everything; the roles issue adds the policy and the audit journal here.
    pub fn authorize(&self, caller: &Caller, action: &str, owner: Option<u32>) -> Result<()> {
        let _ = (caller, action, owner);
        Ok(())
    }
}

/// Does `ev` pass `f` (everything but the time bounds)?
pub fn event_matches(f: &EventFilter, ev: &Event) -> bool {
    if !f.types.is_empty() && !f.types.iter().any(|t| t == ev.kind.as_str()) {
        return false;
    }
    if !f.actions.is_empty() {
        // `health_status: healthy` matches `event=health_status` too.
        let base = ev.action.split(':').next().unwrap_or(&ev.action);
        if !f.actions.iter().any(|a| a == &ev.action || a == base) {
            return false;
        }
    }
    // Object filters: values of one key are OR-ed, keys AND-ed.
    let mut keys: Vec<&str> = f.objects.iter().map(|(k, _)| k.as_str()).collect();
    keys.dedup();
    for key in keys {
        let hit = f.objects.iter().filter(|(k, _)| k == key).any(|(_, v)| {
            let attrs = &ev.actor.attributes;
            // The object itself (by id prefix or name), or another object that names it
            // in its attributes (a container event's `image`, an exec's `container`).
            (key == ev.kind.as_str() && (ev.actor.id.starts_with(v.as_str()) || attrs.get("name") == Some(v)))
                || attrs.get(key) == Some(v)
        });
        if !hit {
            return false;
        }
    }
    for l in &f.labels {
        let (k, v) = match l.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (l.as_str(), None),
        };
        match ev.actor.attributes.get(k) {
            Some(have) if v.is_none_or(|v| v == have) => {}
            _ => return false,
        }
    }
    true
}

/// How often a follower looks for new events (well inside the 100 ms promise).
const FOLLOW_POLL: Duration = Duration::from_millis(20);

impl SystemApi for LocalEngine {
    fn info(&self, caller: &Caller) -> Result<SystemInfo> {
        self.authorize(caller, "system.info", None)?;
        let uts = nix::sys::utsname::uname().map_err(|e| crate::EngineError::sys("uname", e))?;
        let os = std::fs::read_to_string("/etc/os-release")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("PRETTY_NAME=").map(|v| v.trim_matches('"').to_string()))
            })
            .unwrap_or_else(|| "Linux".into());
        let mem_total = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|s| {
                s.lines().find_map(|l| {
                    l.strip_prefix("MemTotal:")
                        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                })
            })
            .map(|kb| kb * 1024)
            .unwrap_or(0);
        Ok(SystemInfo {
            engine_version: env!("CARGO_PKG_VERSION").to_string(),
            hostname: uts.nodename().to_string_lossy().into_owned(),
            kernel: uts.release().to_string_lossy().into_owned(),
            os,
            cgroup_mode: CgroupMode::detect(),
            root: self.root.path().display().to_string(),
            ncpu: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            mem_total,
            containers: 0,
            running: 0,
            paused: 0,
            stopped: 0,
            images: 0,
            caller: caller.clone(),
        })
    }

    fn events(&self, caller: &Caller, filter: &EventFilter, sink: &mut dyn FnMut(Event) -> bool) -> Result<()> {
        self.authorize(caller, "events.read", None)?;
        let in_time = |ev: &Event| {
            !filter.since.is_some_and(|s| ev.time_nano < s) && !filter.until.is_some_and(|u| ev.time_nano > u)
        };
        let wanted = |ev: &Event| in_time(ev) && event_matches(filter, ev);
        // Rotated files first, then the live file through a follower, so nothing
        // appended between the two reads is missed or repeated.
        for path in self.journal.files() {
            if path == self.journal.path() {
                continue;
            }
            for ev in Journal::new(path).read(filter.since, filter.until)? {
                if event_matches(filter, &ev) && !sink(ev) {
                    return Ok(());
                }
            }
        }
        let mut follower = Follower::new(&self.journal);
        loop {
            for ev in follower.poll()? {
                if wanted(&ev) && !sink(ev) {
                    return Ok(());
                }
            }
            if !filter.follow {
                return Ok(());
            }
            if filter.until.is_some_and(|u| chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0) > u) {
                return Ok(());
            }
            std::thread::sleep(FOLLOW_POLL);
        }
    }
}
