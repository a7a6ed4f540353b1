//! The in-process engine: [`LocalEngine`] implements the engine API on a state root.
//! Each area implements its sub-trait in its own module (`image`, `runtime`, ...);
//! this file holds what they share: the root, the event journal, the caller check.

use std::path::PathBuf;
use std::time::Duration;

use crate::api::{AuditApi, CgroupMode, EventFilter, Permissions, SystemApi, SystemInfo};
use crate::caller::Caller;
use crate::error::Result;
use crate::events::{Event, Follower, Journal, Waiter};
use crate::policy::audit::AuditLog;
use crate::policy::{Action, Gate, Policy};
use crate::state::StateRoot;

/// How the in-process engine is set up.
#[derive(Debug, Clone, Default)]
pub struct EngineOptions {
    /// The `wharf` binary, re-executed as the per-container monitor. Defaults to
    /// the current executable (tests pass the built binary).
    pub wharf_exe: Option<PathBuf>,
    /// The policy; `None` = single-user mode, where every caller is admin.
    pub policy: Option<std::sync::Arc<Policy>>,
    /// How often the stats sampler reads cgroups (1 s when `None`).
    pub stats_interval: Option<Duration>,
    /// How long a bridge (and its rules) stays up after its last container stopped,
    /// for the next one; `None`: removed at once. The command line uses
    /// [`DEFAULT_BRIDGE_GRACE`] (`WHARF_BRIDGE_GRACE` seconds to change it).
    pub bridge_grace: Option<Duration>,
    /// A process the engine starts for itself (a container's monitor, the bridge
    /// keeper): the process that started it has already recovered what a crash or a
    /// killed operation left, so opening skips that (a start pays it once, not twice).
    pub internal: bool,
}

/// The command line's bridge grace period.
pub const DEFAULT_BRIDGE_GRACE: Duration = Duration::from_secs(30);

/// The engine running inside this process, on one state root. Cheap to clone.
#[derive(Debug, Clone)]
pub struct LocalEngine {
    root: StateRoot,
    journal: Journal,
    gate: Gate,
    sampler: std::sync::Arc<crate::stats::Sampler>,
    index: std::sync::Arc<crate::runtime::index::Index>,
    opts: EngineOptions,
    /// The API trace of the calls that came over the socket ([`crate::trace`]).
    tracer: crate::trace::Tracer,
}

impl LocalEngine {
    /// Open the engine on `root` (created if needed).
    pub fn open(root: impl Into<PathBuf>, opts: EngineOptions) -> Result<Self> {
        let root = StateRoot::open(root.into())?;
        let journal = Journal::new(root.path().join("events.jsonl"));
        let gate = Gate::new(
            opts.policy.clone(),
            AuditLog::new(root.path().join("audit.jsonl")),
        );
        let sampler = crate::stats::Sampler::new(
            opts.stats_interval
                .unwrap_or(crate::stats::DEFAULT_INTERVAL),
            PathBuf::from("/sys/fs/cgroup"),
            CgroupMode::detect() == CgroupMode::V2,
        );
        let engine = LocalEngine {
            root,
            journal,
            gate,
            sampler,
            index: Default::default(),
            opts,
            tracer: crate::trace::Tracer::default(),
        };
        if engine.opts.internal {
            return Ok(engine);
        }
        // After a crash: images whose files may not have reached the disk.
        engine.recover_images();
        // Container creates and removals killed half-way.
        let n = engine.remove_leftovers();
        if n > 0 {
            tracing::info!("deleted what {n} killed container creates or removals left");
        }
        // After a reboot: containers whose processes are gone, and their restart policies.
        engine.recover_containers();
        Ok(engine)
    }

    /// Say that this process lists again and again (the console, `wharf serve`): from
    /// its next listing on, the container index watches the directories with inotify
    /// instead of checking a stamp per container. A command line that happens to list
    /// twice would pay a watch per container for nothing, so it is asked for.
    pub fn lists_often(&self) {
        self.index.lists_often();
    }

    /// The state root.
    pub fn root(&self) -> &StateRoot {
        &self.root
    }

    /// The event journal.
    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    /// Was the wharf program named in the options (not this process's own)?
    pub(crate) fn wharf_exe_named(&self) -> bool {
        self.opts.wharf_exe.is_some()
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
            tracing::warn!(
                "could not record event {} {}: {e}",
                ev.kind.as_str(),
                ev.action
            );
        }
    }

    /// Container ids by the image id (`sha256:...`) they were created from, from the
    /// container index (each container's config, checked current), so the image store
    /// can refuse to delete an image in use without knowing the runtime.
    pub fn image_users(&self) -> Result<std::collections::BTreeMap<String, Vec<String>>> {
        let mut out: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        let snap = self.index.snapshot(self)?;
        for r in snap.rows {
            out.entry(r.image_id.clone())
                .or_default()
                .push(r.id.clone());
        }
        // A container the index could not read (its state damaged or missing) still
        // holds its image: read the image id from its config as it stands.
        for id in snap.unread {
            let image = std::fs::read(self.root.containers().join(&id).join("config.json"))
                .ok()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .and_then(|v| v.get("ImageId")?.as_str().map(str::to_string));
            if let Some(image) = image {
                out.entry(image).or_default().push(id);
            }
        }
        Ok(out)
    }

    /// The container index (listings from memory, see [`crate::runtime::index`]).
    pub fn index(&self) -> &crate::runtime::index::Index {
        &self.index
    }

    /// Does container `id` have live processes (running, paused or restarting, its pid
    /// checked against /proc)? For messages that name a container by its state.
    pub fn container_active(&self, id: &str) -> bool {
        crate::runtime::state::load(&self.root.containers().join(id))
            .map(|s| s.status.is_active() && s.pid_alive())
            .unwrap_or(false)
    }

    /// How long an idle bridge is kept up ([`EngineOptions::bridge_grace`]).
    pub fn bridge_grace(&self) -> Duration {
        self.opts.bridge_grace.unwrap_or(Duration::ZERO)
    }

    /// The stats sampler shared by every watcher of this engine.
    pub fn sampler(&self) -> &std::sync::Arc<crate::stats::Sampler> {
        &self.sampler
    }

    /// The gate every call passes: roles, scope, constraints, audit.
    pub fn gate(&self) -> &Gate {
        &self.gate
    }

    /// The audit journal.
    pub fn audit(&self) -> &AuditLog {
        self.gate.audit()
    }

    /// The API trace this engine keeps (the server records its clients' calls in it).
    pub fn tracer(&self) -> &crate::trace::Tracer {
        &self.tracer
    }

    /// The policy in force, if any (none = single-user mode). An admin's edit or a
    /// change of the file replaces it while the engine runs.
    pub fn policy(&self) -> Option<std::sync::Arc<Policy>> {
        self.gate.policy()
    }
}

impl AuditApi for LocalEngine {
    fn whoami(&self, caller: &Caller) -> Result<Caller> {
        Ok(self.gate.caller(caller))
    }

    fn audit_read(&self, caller: &Caller) -> Result<Vec<crate::policy::audit::AuditEntry>> {
        self.gate.authorize(caller, Action::AuditRead)?;
        self.audit().read()
    }

    fn audit_verify(&self, caller: &Caller) -> Result<u64> {
        self.gate.authorize(caller, Action::AuditVerify)?;
        self.audit().verify()
    }

    fn permissions(&self, caller: &Caller) -> Result<Permissions> {
        let role = self.gate.role(caller);
        let allowed = role.allowed().map(|a| a.as_str().to_string()).collect();
        Ok(Permissions {
            role: role.name.clone(),
            read_only: role.read_only(),
            allowed,
        })
    }
}

/// Read `tracer` for `caller` as the engine allows: their own calls, or with
/// `opts.all` everyone's (needs `audit.trace`; a refusal is audited). `alive` says
/// whether the reader is still there (a server's client may leave between calls).
pub fn follow_trace(
    engine: &LocalEngine,
    tracer: &crate::trace::Tracer,
    caller: &Caller,
    opts: &crate::trace::TraceOptions,
    sink: &mut dyn FnMut(crate::trace::TraceEntry) -> bool,
    alive: &dyn Fn() -> bool,
) -> Result<()> {
    // Everyone's calls, or a caller without a role: `audit.trace` is checked (and a
    // refusal audited).
    if opts.all || engine.gate.role(caller).name == "none" {
        engine.gate.authorize(caller, Action::AuditTrace)?;
    }
    let uid = caller.uid;
    let all = opts.all;
    tracer.follow(opts, &|e| all || e.caller.uid == uid, sink, alive);
    Ok(())
}

/// Does `ev` pass `f` (everything but the time bounds)? Docker's rules
/// ([`crate::filters::matches`]): `type`, `event` and each object key are alternatives
/// among their values, every label must hold.
pub fn event_matches(f: &EventFilter, ev: &Event) -> bool {
    let pairs: Vec<(String, String)> = (f.types.iter().map(|v| ("type", v)))
        .chain(f.actions.iter().map(|v| ("event", v)))
        .chain(f.labels.iter().map(|v| ("label", v)))
        .map(|(k, v)| (k.to_string(), v.clone()))
        .chain(f.objects.iter().cloned())
        .collect();
    let attrs = &ev.actor.attributes;
    crate::filters::matches_ok(&pairs, |key, v| match key {
        "type" => v == ev.kind.as_str(),
        // `health_status: healthy` matches `event=health_status` too.
        "event" => v == ev.action || v == ev.action.split(':').next().unwrap_or(&ev.action),
        "label" => crate::filters::label_holds(attrs, v),
        // The object itself (by id prefix or name), or another object that names it in
        // its attributes (a container event's `image`, an exec's `container`).
        _ => {
            (key == ev.kind.as_str()
                && (crate::filters::id_holds(&ev.actor.id, v)
                    || attrs.get("name").map(String::as_str) == Some(v)))
                || attrs.get(key).map(String::as_str) == Some(v)
        }
    })
}

/// The longest a follower sleeps without looking (inotify wakes it at once on a change;
/// this bounds the wait for `until` and for a directory without inotify).
const FOLLOW_WAIT: Duration = Duration::from_millis(250);

impl SystemApi for LocalEngine {
    fn info(&self, caller: &Caller) -> Result<SystemInfo> {
        self.gate.authorize(caller, Action::SystemInfo)?;
        let uts = nix::sys::utsname::uname().map_err(|e| crate::EngineError::sys("uname", e))?;
        let os = std::fs::read_to_string("/etc/os-release")
            .ok()
            .and_then(|s| {
                s.lines().find_map(|l| {
                    l.strip_prefix("PRETTY_NAME=")
                        .map(|v| v.trim_matches('"').to_string())
                })
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
        let (containers, running, paused, stopped) = self.container_counts(caller);
        // Images are shared by everyone; the count needs no image.list permission.
        let images = crate::api::ImageApi::image_list(self, &Caller::root(), &Default::default())
            .map(|l| l.len())
            .unwrap_or(0);
        Ok(SystemInfo {
            engine_version: crate::VERSION.to_string(),
            hostname: uts.nodename().to_string_lossy().into_owned(),
            kernel: uts.release().to_string_lossy().into_owned(),
            os,
            cgroup_mode: CgroupMode::detect(),
            root: self.root.path().display().to_string(),
            ncpu: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            mem_total,
            containers,
            running,
            paused,
            stopped,
            images,
            caller: caller.clone(),
        })
    }

    fn trace(
        &self,
        caller: &Caller,
        opts: &crate::trace::TraceOptions,
        sink: &mut dyn FnMut(crate::trace::TraceEntry) -> bool,
    ) -> Result<()> {
        follow_trace(self, &self.tracer, caller, opts, sink, &|| true)
    }

    fn events(
        &self,
        caller: &Caller,
        filter: &EventFilter,
        sink: &mut dyn FnMut(Event) -> bool,
    ) -> Result<()> {
        self.gate.authorize(caller, Action::EventsRead)?;
        let in_time = |ev: &Event| {
            filter.since.is_none_or(|s| ev.time_nano >= s)
                && filter.until.is_none_or(|u| ev.time_nano <= u)
        };
        // Events of objects outside the caller's scope are not theirs to see.
        let role = self.gate.role(caller);
        let visible = |ev: &Event| {
            ev.owner
                .is_none_or(|o| self.gate.in_scope(caller, &role, o))
        };
        let wanted = |ev: &Event| in_time(ev) && event_matches(filter, ev) && visible(ev);
        // Rotated files first, then the live file through a follower, so nothing
        // appended between the two reads is missed or repeated.
        for path in self.journal.files() {
            if path == self.journal.path() {
                continue;
            }
            for ev in Journal::new(path).read(filter.since, filter.until)? {
                if event_matches(filter, &ev) && visible(&ev) && !sink(ev) {
                    return Ok(());
                }
            }
        }
        let mut follower = Follower::new(&self.journal);
        let waiter = filter.follow.then(|| Waiter::new(&self.journal));
        loop {
            for ev in follower.poll()? {
                if wanted(&ev) && !sink(ev) {
                    return Ok(());
                }
            }
            if !filter.follow {
                return Ok(());
            }
            if filter
                .until
                .is_some_and(|u| chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0) > u)
            {
                return Ok(());
            }
            if let Some(w) = &waiter {
                w.wait(FOLLOW_WAIT);
            }
        }
    }
}
