//! The gate every engine call passes: who the caller is (by uid, from the policy), what
//! their role allows, which objects are in their scope, and the constraints on what they
//! create. Refusals and allowed changes are written to the audit journal here.
//!
//! One place to read to know what a role may do. [`crate::LocalEngine`] owns one `Gate`;
//! every area and every front end asks it.

use std::sync::{Arc, RwLock};

use crate::api::flags::{Seccomp, SecurityOpt};
use crate::api::{ContainerCreate, Resources};
use crate::caller::{Caller, Role};
use crate::error::{EngineError, Result};

use super::actions::Action;
use super::audit::AuditLog;
use super::{builtin_roles, user_groups, EffectiveRole, Policy, Scope};

/// The policy in force (none = single-user mode: everyone who reaches the engine is
/// admin) and the audit journal refusals and changes are written to.
///
/// The policy can be replaced while the engine runs (an admin's edit, the file changed
/// on disk): every clone of a gate shares one slot, and each decision reads the policy
/// once, so a call is judged wholly by the old policy or wholly by the new one.
#[derive(Debug, Clone)]
pub struct Gate {
    policy: Arc<RwLock<Option<Arc<Policy>>>>,
    audit: AuditLog,
}

impl Gate {
    /// A gate for `policy` writing to `audit`.
    pub fn new(policy: Option<Arc<Policy>>, audit: AuditLog) -> Self {
        Gate {
            policy: Arc::new(RwLock::new(policy)),
            audit,
        }
    }

    /// The policy in force, if any.
    pub fn policy(&self) -> Option<Arc<Policy>> {
        self.policy
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Put `policy` in force for every call that starts from now on (and every clone of
    /// this gate). Single-user mode stays single-user: a gate without a policy refuses.
    pub fn replace_policy(&self, policy: Arc<Policy>) -> Result<()> {
        let mut slot = self.policy.write().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            return Err(EngineError::conflict(
                "the engine runs without a policy file (single-user mode): start it with --policy PATH to have roles",
            ));
        }
        *slot = Some(policy);
        Ok(())
    }

    /// The policy slot every clone of this gate shares (for a reload, and for a
    /// watcher, which holds it weakly so that it ends with the engine).
    pub(crate) fn slot(&self) -> &Arc<RwLock<Option<Arc<Policy>>>> {
        &self.policy
    }

    /// The audit journal.
    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }

    /// The role the engine gives `caller`: from the policy by uid (a role the caller
    /// claims is never trusted), or admin in single-user mode.
    pub fn role(&self, caller: &Caller) -> EffectiveRole {
        // Built once: every API call (and every stats round) asks.
        static ADMIN: std::sync::OnceLock<EffectiveRole> = std::sync::OnceLock::new();
        match self.policy() {
            None => ADMIN
                .get_or_init(|| EffectiveRole {
                    name: "admin".into(),
                    permissions: builtin_roles()["admin"].permissions.clone(),
                    scope: Scope::All,
                    constraints: Default::default(),
                })
                .clone(),
            Some(p) => {
                let c = p.caller_for(caller.uid);
                p.role(c.role.as_str())
                    .cloned()
                    .unwrap_or_else(EffectiveRole::none)
            }
        }
    }

    /// The caller as the engine sees them: role and project from the policy by uid.
    pub fn caller(&self, caller: &Caller) -> Caller {
        match self.policy() {
            None => Caller {
                role: Role::admin(),
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
        let role = self.role(caller);
        self.in_scope(caller, &role, owner)
    }

    /// Would `caller`, whose `role` was computed once for a batch, be allowed `action`
    /// on an object of `owner`? Nothing is audited: this filters lists and prunes, so
    /// objects a caller may not see leave no trace of refusals.
    pub fn permits(
        &self,
        caller: &Caller,
        role: &EffectiveRole,
        action: Action,
        owner: u32,
    ) -> bool {
        role.allows(action) && self.in_scope(caller, role, owner)
    }

    /// Is an object of `owner` within `role`'s scope for `caller`?
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

    fn record(&self, who: &Caller, action: &str, target: &str, outcome: &str, detail: &str) {
        if let Err(e) = self.audit.record(who, action, target, outcome, detail) {
            tracing::warn!("could not write the audit journal: {e}");
        }
    }

    /// The sentence that refuses `action` to a caller whose role lacks it.
    fn lacks(&self, who: &Caller, role: &EffectiveRole, action: Action, object: &str) -> String {
        if role.name == "none" {
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
                "{} may not {} {object}: the role does not allow {action}",
                who.label(),
                action.verb()
            )
        }
    }

    /// Does the caller's role grant `action` at all? Decided from the action alone,
    /// before a request's arguments are read or parsed (a server calls this first, so a
    /// caller without the permission cannot make the engine parse a large body). A
    /// refusal is audited; an allowed call is audited by the engine call itself.
    pub fn precheck(&self, caller: &Caller, action: Action) -> Result<()> {
        let role = self.role(caller);
        if role.allows(action) {
            return Ok(());
        }
        let who = self.caller(caller);
        let msg = self.lacks(&who, &role, action, &objects(action));
        self.record(&who, action.as_str(), "", "denied", &msg);
        Err(EngineError::denied(msg))
    }

    /// May `caller` do `action` on the kind as a whole (list, create, prune)?
    pub fn authorize(&self, caller: &Caller, action: Action) -> Result<()> {
        self.authorize_on(caller, action, "", None)
    }

    /// May `caller` do `action` on `target` (a name or id, for messages and the audit
    /// journal) owned by `owner`? Refusals and allowed mutating calls are audited.
    pub fn authorize_on(
        &self,
        caller: &Caller,
        action: Action,
        target: &str,
        owner: Option<u32>,
    ) -> Result<()> {
        self.authorize_detail(caller, action, target, owner, "")
    }

    /// [`authorize_on`](Self::authorize_on) with `detail` (the arguments that matter)
    /// written to the audit journal with the outcome.
    pub fn authorize_detail(
        &self,
        caller: &Caller,
        action: Action,
        target: &str,
        owner: Option<u32>,
        detail: &str,
    ) -> Result<()> {
        let who = self.caller(caller);
        let role = self.role(caller);
        let object = if target.is_empty() {
            objects(action)
        } else {
            format!("{} {target}", action.kind())
        };
        let refusal = if !role.allows(action) {
            Some(self.lacks(&who, &role, action, &object))
        } else {
            match owner {
                Some(o) if !self.in_scope(caller, &role, o) => Some(format!(
                    "{} may not {} {object}: it belongs to {}",
                    who.label(),
                    action.verb(),
                    user_groups(o).0
                )),
                _ => None,
            }
        };
        if let Some(msg) = refusal {
            let detail = if detail.is_empty() {
                msg.clone()
            } else {
                format!("{msg} [{detail}]")
            };
            self.record(&who, action.as_str(), target, "denied", &detail);
            return Err(EngineError::denied(msg));
        }
        if action.is_mutating() {
            self.audit
                .record(&who, action.as_str(), target, "allowed", detail)?;
        }
        Ok(())
    }

    /// May `caller` do `action` linking two objects (a network and a container), each
    /// with its owner? Both must be in the caller's scope; one audit entry names both.
    pub fn authorize_link(
        &self,
        caller: &Caller,
        action: Action,
        first: (&str, Option<u32>),
        second: (&str, Option<u32>),
    ) -> Result<()> {
        let role = self.role(caller);
        let target = format!("{} {}", first.0, second.0);
        if role.allows(action) {
            for (name, owner) in [first, second] {
                if let Some(o) = owner {
                    if !self.in_scope(caller, &role, o) {
                        let who = self.caller(caller);
                        let msg = format!(
                            "{} may not {} {}: it belongs to {}",
                            who.label(),
                            action.verb(),
                            name,
                            user_groups(o).0
                        );
                        self.record(&who, action.as_str(), &target, "denied", &msg);
                        return Err(EngineError::denied(msg));
                    }
                }
            }
        }
        self.authorize_on(caller, action, &target, None)
    }

    /// May `caller` create the container `spec` describes? The role must allow
    /// `container.create` and its constraints must hold (bind mounts, ports, host
    /// network, privileged, capabilities, seccomp, ulimits, limits, images). Bind mount
    /// sources in `spec` must already be resolved (real paths, see
    /// [`crate::runtime::binds`]). The decision is audited with the security-relevant
    /// arguments either way.
    pub fn authorize_create(&self, caller: &Caller, spec: &ContainerCreate) -> Result<()> {
        let role = self.role(caller);
        let who = self.caller(caller);
        // Constraints on images are on the normalized reference (or the id as given).
        let image_ref = crate::image::Reference::parse(&spec.image)
            .map(|r| r.to_string())
            .unwrap_or_else(|_| spec.image.clone());
        let target = spec.name.clone().unwrap_or_default();
        let detail = create_detail(spec, &image_ref);
        if !role.allows(Action::ContainerCreate) {
            let msg = self.lacks(&who, &role, Action::ContainerCreate, "containers");
            self.record(
                &who,
                Action::ContainerCreate.as_str(),
                &target,
                "denied",
                &format!("{msg} [{detail}]"),
            );
            return Err(EngineError::denied(msg));
        }
        if let Err(e) = check_create(&who, &role, spec, &image_ref) {
            self.record(
                &who,
                Action::ContainerCreate.as_str(),
                &target,
                "denied",
                &format!("{} [{detail}]", e.message),
            );
            return Err(e);
        }
        self.audit.record(
            &who,
            Action::ContainerCreate.as_str(),
            &target,
            "allowed",
            &detail,
        )?;
        Ok(())
    }

    /// The checks of [`Gate::authorize_create`] for a check-only create (compose's dry
    /// run before it creates a stack): a refusal is audited as a refused create; an
    /// allowed check leaves no record, since nothing was created.
    pub fn check_create_only(&self, caller: &Caller, spec: &ContainerCreate) -> Result<()> {
        let role = self.role(caller);
        let who = self.caller(caller);
        let image_ref = crate::image::Reference::parse(&spec.image)
            .map(|r| r.to_string())
            .unwrap_or_else(|_| spec.image.clone());
        let target = spec.name.clone().unwrap_or_default();
        let detail = create_detail(spec, &image_ref);
        let res = if !role.allows(Action::ContainerCreate) {
            Err(EngineError::denied(self.lacks(
                &who,
                &role,
                Action::ContainerCreate,
                "containers",
            )))
        } else {
            check_create(&who, &role, spec, &image_ref)
        };
        if let Err(e) = &res {
            self.record(
                &who,
                Action::ContainerCreate.as_str(),
                &target,
                "denied",
                &format!("{} [check only; {detail}]", e.message),
            );
        }
        res
    }

    /// Write a refused create request to the audit journal, as given, with the reason:
    /// for refusals found before the gate's own checks (an invalid request, a bind
    /// source that does not resolve), so every refused create leaves a trace.
    pub fn refuse_create(&self, caller: &Caller, spec: &ContainerCreate, e: &EngineError) {
        let who = self.caller(caller);
        let image_ref = crate::image::Reference::parse(&spec.image)
            .map(|r| r.to_string())
            .unwrap_or_else(|_| spec.image.clone());
        let mut detail = create_detail(spec, &image_ref);
        if spec.check_only {
            detail = format!("check only; {detail}");
        }
        self.record(
            &who,
            Action::ContainerCreate.as_str(),
            spec.name.as_deref().unwrap_or(""),
            "denied",
            &format!("{} [{detail}]", e.message),
        );
    }

    /// May `caller` set `resources` on an existing container (`update`)? The role's
    /// limits hold for updates as for creation.
    pub fn check_resources(&self, caller: &Caller, resources: &Resources) -> Result<()> {
        let role = self.role(caller);
        let who = self.caller(caller);
        if let Err(e) = check_limits(&who, &role, resources, true) {
            self.record(
                &who,
                Action::ContainerUpdate.as_str(),
                "",
                "denied",
                &e.message,
            );
            return Err(e);
        }
        Ok(())
    }

    /// `--as USER`: an admin previews what user `uid` (asked for as `asked`) sees and
    /// may do. Refused for anyone without `policy.preview`; audited either way.
    pub fn preview_as(&self, admin: &Caller, uid: u32, asked: &str) -> Result<Caller> {
        let me = self.caller(admin);
        let role = self.role(admin);
        if !role.allows(Action::PolicyPreview) {
            let msg = format!(
                "{} may not act as another user: --as is for admins",
                me.label()
            );
            self.record(&me, Action::PolicyPreview.as_str(), asked, "denied", &msg);
            return Err(EngineError::denied(msg));
        }
        let target = match self.policy() {
            Some(p) => p.caller_for(uid),
            None => {
                let (name, gid, _) = user_groups(uid);
                Caller {
                    uid,
                    gid,
                    name,
                    role: Role::admin(),
                    project: None,
                }
            }
        };
        self.audit.record(
            &me,
            Action::PolicyPreview.as_str(),
            &target.name,
            "allowed",
            &format!("acting as {}", target.label()),
        )?;
        Ok(target)
    }
}

/// What an action of a whole kind acts on, in words: `containers`, `the policy`.
fn objects(action: Action) -> String {
    match action.kind() {
        "policy" => "the policy".into(),
        "audit" => "the audit journal".into(),
        "events" => "events".into(),
        "system" => "the system".into(),
        k => format!("{k}s"),
    }
}

/// The security-relevant arguments of a create request, for the audit journal:
/// `image=… mounts=[bind:/srv/x->/data:ro] cap_add=[NET_ADMIN] privileged ports=[…]`.
pub fn create_detail(spec: &ContainerCreate, image_ref: &str) -> String {
    let mut parts = vec![format!("image={image_ref}")];
    if !spec.mounts.is_empty() {
        let ms: Vec<String> = spec
            .mounts
            .iter()
            .map(|m| {
                format!(
                    "{}:{}->{}{}",
                    m.kind,
                    if m.source.is_empty() { "-" } else { &m.source },
                    m.target,
                    if m.read_only { ":ro" } else { "" }
                )
            })
            .collect();
        parts.push(format!("mounts=[{}]", ms.join(", ")));
    }
    if !spec.volumes_from.is_empty() {
        parts.push(format!("volumes_from=[{}]", spec.volumes_from.join(", ")));
    }
    if spec.privileged {
        parts.push("privileged".into());
    }
    if !spec.cap_add.is_empty() {
        parts.push(format!("cap_add=[{}]", spec.cap_add.join(", ")));
    }
    if !spec.cap_drop.is_empty() {
        parts.push(format!("cap_drop=[{}]", spec.cap_drop.join(", ")));
    }
    if !spec.security_opt.is_empty() {
        let shown: Vec<String> = spec
            .security_opt
            .iter()
            .map(|o| match o.parse::<SecurityOpt>() {
                Ok(v) => v.to_string(),
                Err(_) => o.chars().take(40).collect(),
            })
            .collect();
        parts.push(format!("security_opt=[{}]", shown.join(", ")));
    }
    if let Some(n) = &spec.network {
        parts.push(format!("network={n}"));
    }
    if !spec.ports.is_empty() {
        let ps: Vec<String> = spec
            .ports
            .iter()
            .map(|p| {
                format!(
                    "{}{}:{}/{}",
                    if p.host_ip.is_empty() {
                        String::new()
                    } else {
                        format!("{}:", p.host_ip)
                    },
                    p.host_port,
                    p.container_port,
                    p.proto
                )
            })
            .collect();
        parts.push(format!("ports=[{}]", ps.join(", ")));
    }
    if spec.publish_all {
        parts.push("publish_all".into());
    }
    if !spec.ulimits.is_empty() {
        let us: Vec<String> = spec
            .ulimits
            .iter()
            .map(|u| format!("{}={}:{}", u.name, u.soft, u.hard))
            .collect();
        parts.push(format!("ulimits=[{}]", us.join(", ")));
    }
    if let Some(u) = &spec.user {
        parts.push(format!("user={u}"));
    }
    parts.join(" ")
}

/// Check a new container against the role's constraints. `image_ref` is the normalized
/// reference. The error names the caller, the role and the rule.
pub fn check_create(
    caller: &Caller,
    role: &EffectiveRole,
    spec: &ContainerCreate,
    image_ref: &str,
) -> Result<()> {
    let c = &role.constraints;
    let deny = |what: String| Err(deny(caller, &what));
    if spec.privileged && c.privileged == Some(false) {
        return deny("run privileged containers".into());
    }
    if !spec.cap_add.is_empty() && c.cap_add == Some(false) {
        return deny(format!("add capabilities ({})", spec.cap_add.join(", ")));
    }
    for o in crate::api::flags::security_opts(&spec.security_opt)? {
        o.check_supported()?;
        if let SecurityOpt::Seccomp(s) = &o {
            if c.seccomp == Some(false) {
                match s {
                    Seccomp::Default => {}
                    Seccomp::Unconfined => return deny("lift the seccomp profile (seccomp=unconfined)".into()),
                    Seccomp::Profile(_) => return deny("replace the seccomp profile with a custom one (a custom profile may allow what the default refuses)".into()),
                }
            }
        }
    }
    if spec.network.as_deref() == Some("host") && c.host_network == Some(false) {
        return deny("use the host network".into());
    }
    if (!spec.ports.is_empty() || spec.publish_all) && c.publish_ports == Some(false) {
        return deny("publish ports".into());
    }
    if let Some(prefixes) = &c.bind_prefixes_for(caller) {
        for m in spec.mounts.iter().filter(|m| m.kind == "bind") {
            if !bind_allowed(prefixes, &m.source) {
                let allowed = if prefixes.is_empty() {
                    "none".to_string()
                } else {
                    prefixes.join(", ")
                };
                return deny(format!(
                    "bind-mount host path {} (allowed: {allowed})",
                    m.source
                ));
            }
        }
    }
    if c.raise_ulimits == Some(false) {
        for u in &spec.ulimits {
            let res = crate::runtime::rlimits::resource(&u.name)?;
            let (_, host_hard) = crate::runtime::rlimits::current(res);
            let above = |v: i64| host_hard.is_some_and(|h| v < 0 || v as u64 > h);
            if above(u.soft) || above(u.hard) {
                return deny(format!(
                    "raise ulimit {} above the engine's own limit ({})",
                    u.name,
                    host_hard
                        .map(|h| h.to_string())
                        .unwrap_or_else(|| "unlimited".into())
                ));
            }
        }
    }
    check_limits(caller, role, &spec.resources, false)?;
    if let Some(pats) = &c.images {
        if !pats.iter().any(|p| super::glob_match(p, image_ref)) {
            return deny(format!(
                "run image {image_ref} (allowed: {})",
                pats.join(", ")
            ));
        }
    }
    Ok(())
}

/// Is the resolved host path `source` under one of `prefixes` (compared by path
/// components, after resolving the prefixes themselves)?
pub(crate) fn bind_allowed(prefixes: &[String], source: &str) -> bool {
    let src = std::path::Path::new(source);
    prefixes.iter().any(|p| {
        // A prefix is resolved as the sources are (symlinks in it followed); one that
        // does not exist allows nothing.
        std::fs::canonicalize(p).is_ok_and(|real| src.starts_with(real))
    })
}

fn deny(caller: &Caller, what: &str) -> EngineError {
    EngineError::denied(format!(
        "{} may not {what}; ask an admin to change the policy",
        caller.label()
    ))
}

/// The role's bounds on memory, CPUs and pids. At create a bound means the container
/// must set a limit within it; at `update` only the limits being changed are checked.
fn check_limits(caller: &Caller, role: &EffectiveRole, r: &Resources, update: bool) -> Result<()> {
    let c = &role.constraints;
    if let Some(max) = c.max_memory {
        match r.memory {
            Some(m) if m > 0 && m <= max => {}
            None if update => {}
            _ => {
                return Err(deny(
                    caller,
                    &format!("run a container without --memory at most {max} bytes"),
                ))
            }
        }
        if let Some(s) = r.memory_swap {
            if s < 0 || s > max.saturating_mul(2) {
                return Err(deny(
                    caller,
                    &format!("set --memory-swap above {} bytes", max.saturating_mul(2)),
                ));
            }
        }
    }
    if let Some(max) = c.max_cpus {
        match r.nano_cpus {
            Some(n) if n > 0 && (n as f64) / 1e9 <= max => {}
            None if update => {}
            _ => {
                return Err(deny(
                    caller,
                    &format!("run a container without --cpus at most {max}"),
                ))
            }
        }
    }
    if let Some(max) = c.max_pids {
        match r.pids_limit {
            Some(p) if p > 0 && p <= max => {}
            None if update => {}
            _ => {
                return Err(deny(
                    caller,
                    &format!("run a container without --pids-limit at most {max}"),
                ))
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::MountSpec;
    use std::path::Path;

    fn policy(text: &str) -> Policy {
        Policy::parse(Path::new("policy.json"), text).unwrap()
    }

    fn alice() -> Caller {
        Caller {
            uid: 1000,
            gid: 1000,
            name: "alice".into(),
            role: Role("dev".into()),
            project: None,
        }
    }

    #[test]
    fn constraints_refuse_with_reason() {
        let dir = tempfile::tempdir().unwrap();
        let allowed = dir.path().join("data");
        std::fs::create_dir(&allowed).unwrap();
        let p = policy(&format!(
            r#"{{"roles": {{"dev": {{"inherits": "user", "constraints": {{"bind_mounts": [{:?}], "max_memory": 1000000, "images": ["docker.io/wharf/*"]}}}}}}}}"#,
            allowed.display().to_string()
        ));
        let dev = p.role("dev").unwrap();
        let mut spec = ContainerCreate {
            image: "wharf/demo".into(),
            ..Default::default()
        };
        spec.resources.memory = Some(500_000);
        let img = "docker.io/wharf/demo:latest";
        check_create(&alice(), dev, &spec, img).unwrap();
        let bind = |src: &str| MountSpec {
            kind: "bind".into(),
            source: src.into(),
            target: "/x".into(),
            read_only: false,
            options: vec![],
        };
        let mut bad = spec.clone();
        bad.mounts.push(bind("/etc"));
        let e = check_create(&alice(), dev, &bad, img).unwrap_err();
        assert!(
            e.message
                .contains("alice (dev) may not bind-mount host path /etc"),
            "{e}"
        );
        let mut ok = spec.clone();
        ok.mounts
            .push(bind(&allowed.join("x").display().to_string()));
        check_create(&alice(), dev, &ok, img).unwrap();
        // Compared by components: a sibling that shares the text prefix is not inside.
        let mut sibling = spec.clone();
        sibling
            .mounts
            .push(bind(&format!("{}-other", allowed.display())));
        assert!(check_create(&alice(), dev, &sibling, img).is_err());
        let mut big = spec.clone();
        big.resources.memory = Some(2_000_000);
        assert!(check_create(&alice(), dev, &big, img).is_err());
        let mut priv_ = spec.clone();
        priv_.privileged = true;
        assert!(check_create(&alice(), dev, &priv_, img)
            .unwrap_err()
            .message
            .contains("privileged"));
        assert!(
            check_create(&alice(), dev, &spec, "docker.io/library/nginx:latest")
                .unwrap_err()
                .message
                .contains("run image")
        );
        let mut ports = spec.clone();
        ports.publish_all = true;
        assert!(check_create(&alice(), dev, &ports, img).is_err());
        // A custom seccomp profile is a privilege, as is lifting the profile.
        for opt in [
            r#"seccomp={"defaultAction":"SCMP_ACT_ALLOW"}"#,
            "seccomp=unconfined",
            "seccomp:unconfined",
        ] {
            let mut s = spec.clone();
            s.security_opt.push(opt.into());
            let e = check_create(&alice(), dev, &s, img).unwrap_err();
            assert!(e.message.contains("seccomp"), "{opt}: {e}");
        }
        let mut nnp = spec.clone();
        nnp.security_opt.push("no-new-privileges".into());
        check_create(&alice(), dev, &nnp, img).unwrap();
        // Unknown or unsupported options are refused by name, for everyone.
        for opt in ["bogus", "apparmor=foo", "no-new-privilege"] {
            let mut s = spec.clone();
            s.security_opt.push(opt.into());
            let e = check_create(&alice(), dev, &s, img).unwrap_err();
            assert_eq!(e.kind, crate::ErrorKind::InvalidArgument, "{opt}: {e}");
        }
        // Ulimits above the engine's own hard limit are a privilege.
        let mut ul = spec.clone();
        ul.ulimits.push(crate::api::Ulimit {
            name: "nofile".into(),
            soft: -1,
            hard: -1,
        });
        let e = check_create(&alice(), dev, &ul, img).unwrap_err();
        assert!(e.message.contains("raise ulimit nofile"), "{e}");
        let mut cap = spec.clone();
        cap.cap_add.push("NET_ADMIN".into());
        assert!(check_create(&alice(), dev, &cap, img)
            .unwrap_err()
            .message
            .contains("add capabilities (NET_ADMIN)"));
    }

    #[test]
    fn bind_prefixes_per_user() {
        let dir = tempfile::tempdir().unwrap();
        for d in ["alice", "bob", "lab"] {
            std::fs::create_dir(dir.path().join(d)).unwrap();
        }
        let base = dir.path().display().to_string();
        let p = policy(&format!(
            r#"{{"roles": {{"dev": {{"inherits": "user", "constraints": {{"bind_mounts": ["{base}/{{user}}", "{base}/{{project}}"]}}}}}}}}"#
        ));
        let dev = p.role("dev").unwrap();
        let bind = |src: String| ContainerCreate {
            image: "wharf/demo".into(),
            mounts: vec![MountSpec {
                kind: "bind".into(),
                source: src,
                target: "/x".into(),
                read_only: true,
                options: vec![],
            }],
            ..Default::default()
        };
        let img = "docker.io/wharf/demo:latest";
        check_create(&alice(), dev, &bind(format!("{base}/alice")), img).unwrap();
        // Not bob's directory, not the parent of both, and no project: no project prefix.
        for other in [format!("{base}/bob"), base.clone(), format!("{base}/lab")] {
            assert!(
                check_create(&alice(), dev, &bind(other.clone()), img).is_err(),
                "{other}"
            );
        }
        let mut in_lab = alice();
        in_lab.project = Some("lab".into());
        check_create(&in_lab, dev, &bind(format!("{base}/lab")), img).unwrap();
        // Unknown placeholders and relative prefixes are refused when the policy loads.
        let e = Policy::parse(
            Path::new("p.json"),
            r#"{"roles": {"x": {"constraints": {"bind_mounts": ["/srv/{group}"]}}}}"#,
        )
        .unwrap_err();
        assert!(e.message.contains("unknown placeholder"), "{e}");
        let e = Policy::parse(
            Path::new("p.json"),
            r#"{"roles": {"x": {"constraints": {"bind_mounts": ["srv"]}}}}"#,
        )
        .unwrap_err();
        assert!(e.message.contains("absolute"), "{e}");
    }

    #[test]
    fn updates_stay_within_the_role() {
        let p = policy(
            r#"{"roles": {"dev": {"inherits": "user", "constraints": {"max_memory": 1000000}}}}"#,
        );
        let dev = p.role("dev").unwrap();
        let up = |m: Option<i64>| Resources {
            memory: m,
            ..Default::default()
        };
        check_limits(&alice(), dev, &up(None), true).unwrap();
        check_limits(&alice(), dev, &up(Some(900_000)), true).unwrap();
        assert!(check_limits(&alice(), dev, &up(Some(2_000_000)), true).is_err());
        assert!(check_limits(&alice(), dev, &up(None), false).is_err());
    }

    #[test]
    fn audit_detail_names_what_matters() {
        let spec = ContainerCreate {
            image: "wharf/demo".into(),
            privileged: true,
            cap_add: vec!["SYS_ADMIN".into()],
            mounts: vec![MountSpec {
                kind: "bind".into(),
                source: "/srv/x".into(),
                target: "/data".into(),
                read_only: true,
                options: vec![],
            }],
            security_opt: vec![r#"seccomp={"a":1}"#.into()],
            ..Default::default()
        };
        let d = create_detail(&spec, "docker.io/wharf/demo:latest");
        for want in [
            "image=docker.io/wharf/demo:latest",
            "mounts=[bind:/srv/x->/data:ro]",
            "privileged",
            "cap_add=[SYS_ADMIN]",
            "security_opt=[seccomp=<profile>]",
        ] {
            assert!(d.contains(want), "{want} in {d}");
        }
    }

    fn gate_with(policy_text: &str) -> (tempfile::TempDir, Gate) {
        let dir = tempfile::tempdir().unwrap();
        let g = Gate::new(
            Some(Arc::new(policy(policy_text))),
            AuditLog::new(dir.path().join("audit.jsonl")),
        );
        (dir, g)
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
        let (_d, g) = gate_with(
            r#"{"users": {"61001": {"role": "user", "project": "lab"}, "61002": {"role": "user", "project": "lab"},
                          "61003": {"role": "user"}, "61004": {"role": "viewer"}}}"#,
        );
        let stop = Action::ContainerStop;
        // Own and project objects: allowed; another user's: refused with the owner named.
        g.authorize_on(&who(61001, "user"), stop, "web", Some(61001))
            .unwrap();
        g.authorize_on(&who(61001, "user"), stop, "web", Some(61002))
            .unwrap();
        let err = g
            .authorize_on(&who(61003, "user"), stop, "db-1", Some(61001))
            .unwrap_err();
        assert_eq!(err.kind, crate::ErrorKind::PermissionDenied);
        assert!(
            err.message
                .contains("may not stop container db-1: it belongs to 61001"),
            "{err}"
        );
        // A viewer cannot stop, whatever role it claims.
        let err = g
            .authorize_on(&who(61004, "admin"), stop, "web", Some(61004))
            .unwrap_err();
        assert!(err.message.contains("(viewer) may not stop"), "{err}");
        g.authorize(&who(61004, "viewer"), Action::ContainerList)
            .unwrap();
        // Unknown users get nothing; the precheck refuses before anything is parsed.
        let err = g
            .authorize(&who(61999, "admin"), Action::ContainerList)
            .unwrap_err();
        assert!(err.message.contains("has no role in the policy"), "{err}");
        g.precheck(&who(61004, "viewer"), Action::ContainerList)
            .unwrap();
        let err = g
            .precheck(&who(61004, "viewer"), Action::ContainerCreate)
            .unwrap_err();
        assert!(err.message.contains("may not create containers"), "{err}");
        // Refusals and allowed mutations are audited; reads are not.
        let entries = g.audit().read().unwrap();
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
                ("container.create", "denied"),
            ]
        );
        assert_eq!(g.audit().verify().unwrap(), 6);
        assert!(g.can_see(&who(61002, "user"), 61001));
        assert!(!g.can_see(&who(61003, "user"), 61001));
    }

    #[test]
    fn single_user_mode_is_admin() {
        let dir = tempfile::tempdir().unwrap();
        let g = Gate::new(None, AuditLog::new(dir.path().join("audit.jsonl")));
        g.authorize_on(&who(61001, "viewer"), Action::PolicyWrite, "", Some(5))
            .unwrap();
        assert_eq!(g.caller(&who(61001, "viewer")).role, Role::admin());
    }

    #[test]
    fn preview_is_for_admins() {
        let (_d, g) =
            gate_with(r#"{"users": {"61001": {"role": "operator"}, "61002": {"role": "user"}}}"#);
        let e = g
            .preview_as(&who(61001, "admin"), 61002, "u61002")
            .unwrap_err();
        assert!(e.message.contains("--as is for admins"), "{e}");
        let as_user = g.preview_as(&Caller::root(), 61002, "u61002").unwrap();
        assert_eq!(as_user.role.as_str(), "user");
    }
}
