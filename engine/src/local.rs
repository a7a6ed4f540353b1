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
use crate::policy::{is_mutating, EffectiveRole, Policy, Scope};
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
}

/// The engine running inside this process, on one state root. Cheap to clone.
#[derive(Debug, Clone)]
pub struct LocalEngine {
    root: StateRoot,
    journal: Journal,
    audit: AuditLog,
    sampler: std::sync::Arc<crate::stats::Sampler>,
    opts: EngineOptions,
}

impl LocalEngine {
    /// Open the engine on `root` (created if needed).
    pub fn open(root: impl Into<PathBuf>, opts: EngineOptions) -> Result<Self> {
        let root = StateRoot::open(root.into())?;
        let journal = Journal::new(root.path().join("events.jsonl"));
        let audit = AuditLog::new(root.path().join("audit.jsonl"));
        let sampler = crate::stats::Sampler::new(
            opts.stats_interval
                .unwrap_or(crate::stats::DEFAULT_INTERVAL),
            PathBuf::from("/sys/fs/cgroup"),
            CgroupMode::detect() == CgroupMode::V2,
        );
        let engine = LocalEngine {
            root,
            journal,
            audit,
            sampler,
            opts,
        };
        // After a crash: images whose files may not have reached the disk.
        engine.recover_images();
        // After a reboot: containers whose processes are gone, and their restart policies.
        engine.recover_containers();
        Ok(engine)
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
            tracing::warn!(
                "could not record event {} {}: {e}",
                ev.kind.as_str(),
                ev.action
            );
        }
    }

    /// Container ids by the image id (`sha256:...`) they were created from, read from
    /// each `containers/<id>/config.json`. That file is the runtime's; this relies only on
    /// its top-level `"ImageId"` field, so the image store can refuse to delete an image
    /// in use without knowing the runtime.
    pub fn image_users(&self) -> Result<std::collections::BTreeMap<String, Vec<String>>> {
        let mut out: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        let dir = self.root.containers();
        let entries = std::fs::read_dir(&dir)
            .map_err(|e| crate::EngineError::io(format!("listing {}", dir.display()), e))?;
        for entry in entries.flatten() {
            let id = entry.file_name().to_string_lossy().into_owned();
            let cfg: Option<serde_json::Value> =
                crate::state::read_json(&entry.path().join("config.json")).unwrap_or(None);
            if let Some(image) = cfg
                .as_ref()
                .and_then(|c| c.get("ImageId"))
                .and_then(|v| v.as_str())
            {
                out.entry(image.to_string()).or_default().push(id);
            }
        }
        Ok(out)
    }

    /// The stats sampler shared by every watcher of this engine.
    pub fn sampler(&self) -> &std::sync::Arc<crate::stats::Sampler> {
        &self.sampler
    }

    /// The audit journal.
    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }

    /// The policy in force, if any (none = single-user mode).
    pub fn policy(&self) -> Option<&Policy> {
        self.opts.policy.as_deref()
    }

    /// The role the engine gives `caller`: from the policy by uid (a role the caller
    /// claims is never trusted), or admin in single-user mode.
    pub fn effective_role(&self, caller: &Caller) -> EffectiveRole {
        // Built once: every API call (and every stats round) asks.
        static ADMIN: std::sync::OnceLock<EffectiveRole> = std::sync::OnceLock::new();
        let builtin_admin = || {
            ADMIN
                .get_or_init(|| {
                    let defs = crate::policy::builtin_roles();
                    EffectiveRole {
                        name: "admin".into(),
                        permissions: defs["admin"].permissions.clone(),
                        scope: Scope::All,
                        constraints: Default::default(),
                    }
                })
                .clone()
        };
        match self.policy() {
            None => builtin_admin(),
            Some(p) => {
                let c = p.caller_for(caller.uid);
                p.role(c.role.as_str()).cloned().unwrap_or(EffectiveRole {
                    name: "none".into(),
                    permissions: Default::default(),
                    scope: Scope::Own,
                    constraints: Default::default(),
                })
            }
        }
    }

    /// The caller as the engine sees them: role and project from the policy by uid.
    pub fn effective_caller(&self, caller: &Caller) -> Caller {
        match self.policy() {
            None => Caller {
                role: crate::Role::admin(),
                ..caller.clone()
            },
            Some(p) => {
                let c = p.caller_for(caller.uid);
                Caller {
                    name: if caller.name.is_empty() {
                        c.name.clone()
                    } else {
                        caller.name.clone()
                    },
                    ..c
                }
            }
        }
    }

    /// May `caller` see an object of `owner`? (Filters lists, events, stats.)
    pub fn can_see(&self, caller: &Caller, owner: u32) -> bool {
        let role = self.effective_role(caller);
        self.in_scope(caller, &role, owner)
    }

    /// Would `caller`, whose `role` was computed once for a batch, be allowed `action`
    /// on an object of `owner`? Nothing is audited: this filters lists and prunes, so
    /// objects a caller may not see leave no trace of refusals.
    pub fn permits(&self, caller: &Caller, role: &EffectiveRole, action: &str, owner: u32) -> bool {
        role.allows(action) && self.in_scope(caller, role, owner)
    }

    /// Is an object of `owner` within `role`'s scope for `caller`? (For callers that
    /// check many objects with one role.)
    pub fn in_scope(&self, caller: &Caller, role: &EffectiveRole, owner: u32) -> bool {
        match role.scope {
            Scope::All => true,
            Scope::Own => owner == caller.uid,
            Scope::Project => {
                owner == caller.uid
                    || self.policy().is_some_and(|p| {
                        let mine = p.project_of(caller.uid);
                        mine.is_some() && mine == p.project_of(owner)
                    })
            }
        }
    }

    /// May `caller` create the container `spec` describes? Checks the role's constraints
    /// (bind mounts, ports, host network, privileged, capabilities, limits, images);
    /// a refusal is audited with its reason.
    pub fn authorize_create(
        &self,
        caller: &Caller,
        spec: &crate::api::ContainerCreate,
    ) -> Result<()> {
        let role = self.effective_role(caller);
        let who = self.effective_caller(caller);
        // Constraints on images are on the normalized reference (or the id as given).
        let image_ref = crate::image::Reference::parse(&spec.image)
            .map(|r| r.to_string())
            .unwrap_or_else(|_| spec.image.clone());
        if let Err(e) = crate::policy::check_create(&who, &role, spec, &image_ref) {
            let target = spec.name.clone().unwrap_or_else(|| spec.image.clone());
            if let Err(a) =
                self.audit
                    .record(&who, "container.create", &target, "denied", &e.message)
            {
                tracing::warn!("could not write the audit journal: {a}");
            }
            return Err(e);
        }
        Ok(())
    }

    /// May `caller` do `action` (e.g. `container.stop`) on an object owned by `owner`?
    /// Every API call goes through here before acting. See [`authorize_target`](Self::authorize_target).
    pub fn authorize(&self, caller: &Caller, action: &str, owner: Option<u32>) -> Result<()> {
        self.authorize_target(caller, action, "", owner)
    }

    /// May `caller` do `action` on `target` (a name or id, for messages and the audit
    /// journal) owned by `owner`? Refusals and allowed mutating calls are audited.
    pub fn authorize_target(
        &self,
        caller: &Caller,
        action: &str,
        target: &str,
        owner: Option<u32>,
    ) -> Result<()> {
        let who = self.effective_caller(caller);
        let role = self.effective_role(caller);
        let (kind, verb) = action.split_once('.').unwrap_or((action, ""));
        let object = if target.is_empty() {
            format!("{kind}s")
        } else {
            format!("{kind} {target}")
        };
        let refusal = if !role.allows(action) {
            Some(if role.name == "none" {
                let src = self
                    .policy()
                    .map(|p| p.source.display().to_string())
                    .unwrap_or_default();
                format!(
                    "{} has no role in the policy {src}: ask an admin to add them",
                    who.name
                )
            } else {
                format!(
                    "{} may not {verb} {object}: the role does not allow {action}",
                    who.label()
                )
            })
        } else {
            match owner {
                Some(o) if !self.in_scope(caller, &role, o) => {
                    let owner_name = crate::policy::user_groups(o).0;
                    Some(format!(
                        "{} may not {verb} {object}: it belongs to {owner_name}",
                        who.label()
                    ))
                }
                _ => None,
            }
        };
        if let Some(msg) = refusal {
            if let Err(e) = self.audit.record(&who, action, target, "denied", &msg) {
                tracing::warn!("could not write the audit journal: {e}");
            }
            return Err(crate::EngineError::denied(msg));
        }
        if is_mutating(action) {
            self.audit.record(&who, action, target, "allowed", "")?;
        }
        Ok(())
    }
}

impl AuditApi for LocalEngine {
    fn whoami(&self, caller: &Caller) -> Result<Caller> {
        Ok(self.effective_caller(caller))
    }

    fn audit_read(&self, caller: &Caller) -> Result<Vec<crate::policy::audit::AuditEntry>> {
        self.authorize(caller, "audit.read", None)?;
        self.audit.read()
    }

    fn audit_verify(&self, caller: &Caller) -> Result<u64> {
        self.authorize(caller, "audit.verify", None)?;
        self.audit.verify()
    }

    fn permissions(&self, caller: &Caller) -> Result<Permissions> {
        let role = self.effective_role(caller);
        let allowed = crate::policy::PERMISSIONS
            .iter()
            .flat_map(|(kind, verbs)| verbs.iter().map(move |v| format!("{kind}.{v}")))
            .filter(|a| role.allows(a))
            .collect();
        Ok(Permissions {
            role: role.name.clone(),
            read_only: role.read_only(),
            allowed,
        })
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
            (key == ev.kind.as_str()
                && (ev.actor.id.starts_with(v.as_str()) || attrs.get("name") == Some(v)))
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

/// The longest a follower sleeps without looking (inotify wakes it at once on a change;
/// this bounds the wait for `until` and for a directory without inotify).
const FOLLOW_WAIT: Duration = Duration::from_millis(250);

impl SystemApi for LocalEngine {
    fn info(&self, caller: &Caller) -> Result<SystemInfo> {
        self.authorize(caller, "system.info", None)?;
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
        let (containers, running, paused, stopped) = self.container_counts();
        Ok(SystemInfo {
            engine_version: env!("CARGO_PKG_VERSION").to_string(),
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
            images: 0,
            caller: caller.clone(),
        })
    }

    fn events(
        &self,
        caller: &Caller,
        filter: &EventFilter,
        sink: &mut dyn FnMut(Event) -> bool,
    ) -> Result<()> {
        self.authorize(caller, "events.read", None)?;
        let in_time = |ev: &Event| {
            filter.since.is_none_or(|s| ev.time_nano >= s)
                && filter.until.is_none_or(|u| ev.time_nano <= u)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Role;

    fn engine_with(policy: &str) -> (tempfile::TempDir, LocalEngine) {
        let dir = tempfile::tempdir().unwrap();
        let p = Policy::parse(std::path::Path::new("policy.json"), policy).unwrap();
        let e = LocalEngine::open(
            dir.path(),
            EngineOptions {
                policy: Some(std::sync::Arc::new(p)),
                ..Default::default()
            },
        )
        .unwrap();
        (dir, e)
    }

    fn who(uid: u32, claimed: &str) -> Caller {
        Caller {
            uid,
            gid: uid,
            name: format!("u{uid}"),
            role: Role(claimed.into()),
            project: None,
        }
    }

    #[test]
    fn scope_role_and_audit() {
        let (_d, e) = engine_with(
            r#"{"users": {"61001": {"role": "user", "project": "lab"}, "61002": {"role": "user", "project": "lab"},
                          "61003": {"role": "user"}, "61004": {"role": "viewer"}}}"#,
        );
        // Own and project objects: allowed; another user's: refused with the owner named.
        e.authorize_target(&who(61001, "user"), "container.stop", "web", Some(61001))
            .unwrap();
        e.authorize_target(&who(61001, "user"), "container.stop", "web", Some(61002))
            .unwrap();
        let err = e
            .authorize_target(&who(61003, "user"), "container.stop", "db-1", Some(61001))
            .unwrap_err();
        assert_eq!(err.kind, crate::ErrorKind::PermissionDenied);
        assert!(
            err.message
                .contains("may not stop container db-1: it belongs to 61001"),
            "{err}"
        );
        // A viewer cannot stop, whatever role it claims.
        let err = e
            .authorize_target(&who(61004, "admin"), "container.stop", "web", Some(61004))
            .unwrap_err();
        assert!(err.message.contains("(viewer) may not stop"), "{err}");
        e.authorize(&who(61004, "viewer"), "container.list", None)
            .unwrap();
        // Unknown users get nothing.
        let err = e
            .authorize(&who(61999, "admin"), "container.list", None)
            .unwrap_err();
        assert!(err.message.contains("has no role in the policy"), "{err}");
        // Refusals and allowed mutations are audited; reads are not.
        let entries = e.audit().read().unwrap();
        let outcomes: Vec<(&str, &str)> = entries
            .iter()
            .map(|a| (a.action.as_str(), a.outcome.as_str()))
            .collect();
        assert_eq!(
            outcomes,
            vec![
                ("container.stop", "allowed"),
                ("container.stop", "allowed"),
                ("container.stop", "denied"),
                ("container.stop", "denied"),
                ("container.list", "denied"),
            ]
        );
        assert_eq!(e.audit().verify().unwrap(), 5);
        assert!(e.can_see(&who(61002, "user"), 61001));
        assert!(!e.can_see(&who(61003, "user"), 61001));
    }

    #[test]
    fn single_user_mode_is_admin() {
        let dir = tempfile::tempdir().unwrap();
        let e = LocalEngine::open(dir.path(), EngineOptions::default()).unwrap();
        e.authorize_target(&who(61001, "viewer"), "policy.write", "", Some(5))
            .unwrap();
        assert_eq!(
            e.effective_caller(&who(61001, "viewer")).role,
            Role::admin()
        );
    }
}
