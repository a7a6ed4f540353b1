//! [`AccountsApi`] for the in-process engine: the policy as a table, its edits (checked,
//! written atomically, put in force, audited), the connections of the server running
//! for this state root, and each user's containers and limits against their role.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::api::{AccountsApi, Connections, PolicyChange, PolicyView, RoleView, Usage};
use crate::caller::{Caller, Role};
use crate::error::{EngineError, Result};
use crate::local::LocalEngine;
use crate::state::FileLock;

use super::edit;
use super::{builtin_roles, user_groups, Action, Policy};

/// The table of `policy` (the built-in roles alone in single-user mode).
pub fn view_of(policy: Option<&Policy>) -> PolicyView {
    let builtin = builtin_roles();
    let fallback;
    let p = match policy {
        Some(p) => p,
        None => {
            fallback = Policy::parse(std::path::Path::new("(built-in)"), "{}")
                .unwrap_or_else(|e| unreachable!("the built-in roles parse: {e}"));
            &fallback
        }
    };
    let file = p.file();
    let roles = p
        .roles()
        .map(|r| {
            let def = file.roles.get(&r.name).or_else(|| builtin.get(&r.name));
            RoleView {
                name: r.name.clone(),
                builtin: builtin.contains_key(&r.name),
                in_file: file.roles.contains_key(&r.name),
                inherits: def.and_then(|d| d.inherits.clone()),
                scope: r.scope,
                permissions: r.allowed().map(|a| a.as_str().to_string()).collect(),
                constraints: r.constraints.clone(),
                description: def.map(|d| d.description.clone()).unwrap_or_default(),
            }
        })
        .collect();
    match policy {
        Some(p) => PolicyView {
            source: Some(p.source.display().to_string()),
            digest: Some(p.digest().to_string()),
            file: file.clone(),
            roles,
            admins: edit::policy_writers(p, &[]),
        },
        None => PolicyView {
            roles,
            ..Default::default()
        },
    }
}

impl LocalEngine {
    /// The caller for `uid` as the policy in force sees them (for usage rows).
    fn account_of(&self, uid: u32) -> (Caller, String) {
        let (name, gid, _) = user_groups(uid);
        let probe = Caller {
            uid,
            gid,
            name,
            role: Role("none".into()),
            project: None,
        };
        let who = self.gate().caller(&probe);
        let role = self.gate().role(&probe).name;
        (who, role)
    }
}

impl LocalEngine {
    /// Follow the policy file: a change on disk (checked every `every`) is put in force
    /// if it is a valid policy, and audited; a broken one is refused and the policy in
    /// force stays. `None` in single-user mode. The thread ends with the engine.
    pub fn watch_policy(&self, every: std::time::Duration) -> Option<std::thread::JoinHandle<()>> {
        self.gate().policy()?;
        Some(edit::watch(
            Arc::downgrade(self.gate().slot()),
            self.audit().clone(),
            every,
        ))
    }
}

impl AccountsApi for LocalEngine {
    fn policy_read(&self, caller: &Caller) -> Result<PolicyView> {
        self.gate().authorize(caller, Action::PolicyRead)?;
        Ok(view_of(self.gate().policy().as_deref()))
    }

    fn policy_write(
        &self,
        caller: &Caller,
        text: &str,
        base: Option<&str>,
    ) -> Result<PolicyChange> {
        self.gate().precheck(caller, Action::PolicyWrite)?;
        let who = self.gate().caller(caller);
        let Some(_) = self.gate().policy() else {
            return Err(EngineError::conflict(
                "the engine runs without a policy file (single-user mode), so there is no policy to change: start wharf with --policy PATH (or create /etc/wharf/policy.json) to have roles",
            ));
        };
        // One edit at a time among the engines on this root.
        let _lock = FileLock::exclusive(&self.root().path().join("policy.lock"))?;
        // A valid change on disk not yet picked up is put in force first, so the check
        // below sees it.
        if let Err(e) = edit::reload(self.gate().slot(), self.audit()) {
            tracing::warn!("the policy file on disk is not the one in force: {e}");
        }
        let current = self
            .gate()
            .policy()
            .ok_or_else(|| EngineError::internal("the policy vanished"))?;
        let source = current.source.clone();
        let target = source.display().to_string();
        let refuse = |outcome: &str, e: EngineError| -> EngineError {
            if let Err(err) = self.audit().record(
                &who,
                Action::PolicyWrite.as_str(),
                &target,
                outcome,
                &e.message,
            ) {
                tracing::warn!("could not write the audit journal: {err}");
            }
            e
        };
        if let Some(b) = base {
            if b != current.digest() {
                return Err(refuse(
                    "denied",
                    EngineError::conflict(
                        "the policy changed since you read it (another admin's edit, or the file changed on disk): read it again and redo the change",
                    ),
                ));
            }
        }
        let new = Policy::parse(&source, text).map_err(|e| refuse("denied", e))?;
        edit::check_not_locked_out(&new, caller.uid).map_err(|e| refuse("denied", e))?;
        let summary = edit::summarize(current.file(), new.file());
        edit::write_file(&source, text).map_err(|e| refuse("failed", e))?;
        let new = Arc::new(new);
        self.gate().replace_policy(new.clone())?;
        self.audit().record(
            &who,
            Action::PolicyWrite.as_str(),
            &target,
            "allowed",
            &summary,
        )?;
        tracing::info!("policy {target} changed by {}: {summary}", who.label());
        Ok(PolicyChange {
            summary,
            previous: edit::previous_path(&source).display().to_string(),
            view: view_of(Some(&new)),
        })
    }

    fn connections(&self, caller: &Caller) -> Result<Connections> {
        self.gate().authorize(caller, Action::PolicyRead)?;
        // The connections live in the server: ask the one running for this root.
        let Some(socket) = crate::server::accounts::running_server(self.root().path()) else {
            return Ok(Connections::default());
        };
        let remote = crate::remote::client::RemoteEngine::connect(
            crate::remote::client::Endpoint::Unix(socket.clone()),
        )?;
        remote
            .connections(caller)
            .map_err(|e| e.context(format!("asking the wharf serve at {}", socket.display())))
    }

    fn account_usage(&self, caller: &Caller) -> Result<Vec<Usage>> {
        self.gate().authorize(caller, Action::PolicyRead)?;
        let mut rows: BTreeMap<u32, Usage> = BTreeMap::new();
        let row = |uid: u32| -> Usage {
            let (who, role) = self.account_of(uid);
            let limits = self
                .gate()
                .policy()
                .and_then(|p| p.role(&role).map(|r| r.constraints.clone()))
                .unwrap_or_default();
            Usage {
                uid,
                user: who.name,
                role,
                project: who.project,
                containers: 0,
                running: 0,
                memory: 0,
                memory_unlimited: 0,
                cpus: 0.0,
                cpus_unlimited: 0,
                limits,
            }
        };
        if let Some(p) = self.gate().policy() {
            for who in p.file().users.keys() {
                let uid = match who.parse::<u32>() {
                    Ok(u) => Some(u),
                    Err(_) => nix::unistd::User::from_name(who)
                        .ok()
                        .flatten()
                        .map(|u| u.uid.as_raw()),
                };
                if let Some(uid) = uid {
                    rows.entry(uid).or_insert_with(|| row(uid));
                }
            }
        }
        for id in self.container_ids() {
            let path = self.root().containers().join(&id).join("config.json");
            let Ok(Some(cfg)) =
                crate::state::read_json::<crate::runtime::config::ContainerConfig>(&path)
            else {
                continue;
            };
            let u = rows.entry(cfg.owner).or_insert_with(|| row(cfg.owner));
            u.containers += 1;
            if self.container_active(&id) {
                u.running += 1;
                let r = cfg.resources();
                match r.memory.filter(|m| *m > 0) {
                    Some(m) => u.memory += m,
                    None => u.memory_unlimited += 1,
                }
                match r.nano_cpus.filter(|c| *c > 0) {
                    Some(c) => u.cpus += c as f64 / 1e9,
                    None => u.cpus_unlimited += 1,
                }
            }
        }
        Ok(rows.into_values().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::AuditApi;
    use crate::error::ErrorKind;
    use crate::local::EngineOptions;

    fn nobody() -> Caller {
        Caller {
            uid: 65534,
            gid: 65534,
            name: "nobody".into(),
            role: Role("user".into()),
            project: None,
        }
    }

    fn engine(dir: &std::path::Path, text: &str) -> (LocalEngine, std::path::PathBuf) {
        let path = dir.join("policy.json");
        std::fs::write(&path, text).unwrap();
        let e = LocalEngine::open(
            dir.join("root"),
            EngineOptions {
                policy: Some(Arc::new(Policy::load(&path).unwrap())),
                ..Default::default()
            },
        )
        .unwrap();
        (e, path)
    }

    #[test]
    fn an_edit_is_in_force_at_once_audited_and_the_old_version_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (e, path) = engine(dir.path(), r#"{"users": {"nobody": {"role": "user"}}}"#);
        let root = Caller::root();
        let v = e.policy_read(&root).unwrap();
        assert_eq!(v.file.users["nobody"].role, "user");
        assert!(v.admins.iter().any(|a| a.0 == 0), "{:?}", v.admins);
        assert_eq!(e.permissions(&nobody()).unwrap().role, "user");

        // Not an admin: refused, and audited.
        let err = e.policy_write(&nobody(), "{}", None).unwrap_err();
        assert_eq!(err.kind, ErrorKind::PermissionDenied, "{err}");

        let text = r#"{"users": {"nobody": {"role": "viewer"}}}"#;
        let change = e.policy_write(&root, text, v.digest.as_deref()).unwrap();
        assert_eq!(change.summary, "user nobody: user -> viewer");
        assert_eq!(e.permissions(&nobody()).unwrap().role, "viewer");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        assert_eq!(
            std::fs::read_to_string(edit::previous_path(&path)).unwrap(),
            r#"{"users": {"nobody": {"role": "user"}}}"#
        );
        let audit = e.audit_read(&root).unwrap();
        let last = audit.last().unwrap();
        assert_eq!(
            (
                last.action.as_str(),
                last.outcome.as_str(),
                last.detail.as_str()
            ),
            ("policy.write", "allowed", "user nobody: user -> viewer")
        );
        assert!(audit
            .iter()
            .any(|a| a.action == "policy.write" && a.outcome == "denied" && a.user == "nobody"));

        // An edit of the version before is refused: someone changed it since.
        let err = e
            .policy_write(&root, "{}", v.digest.as_deref())
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Conflict, "{err}");
        // A broken policy and one that locks every admin out change nothing.
        let now = e.policy_read(&root).unwrap();
        let err = e
            .policy_write(
                &root,
                r#"{"users": {"nobody": {"role": "pilot"}}}"#,
                now.digest.as_deref(),
            )
            .unwrap_err();
        assert!(err.message.contains("unknown role"), "{err}");
        let err = e
            .policy_write(
                &root,
                r#"{"users": {"root": {"role": "viewer"}}}"#,
                now.digest.as_deref(),
            )
            .unwrap_err();
        assert!(err.message.contains("lock out every admin"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        assert_eq!(e.permissions(&nobody()).unwrap().role, "viewer");
    }

    #[test]
    fn a_change_of_the_file_is_picked_up_and_a_broken_one_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (e, path) = engine(dir.path(), r#"{"users": {"nobody": {"role": "user"}}}"#);
        let _w = e.watch_policy(std::time::Duration::from_millis(20));
        let wait_role = |want: &str| {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while e.permissions(&nobody()).unwrap().role != want {
                assert!(
                    std::time::Instant::now() < deadline,
                    "role never became {want}"
                );
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        };
        std::fs::write(&path, r#"{"users": {"nobody": {"role": "operator"}}}"#).unwrap();
        wait_role("operator");
        std::fs::write(&path, r#"{"users": {"nobody": {"role": "pilot"}}}"#).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert_eq!(
            e.permissions(&nobody()).unwrap().role,
            "operator",
            "the broken file is refused"
        );
        let audit = e.audit_read(&Caller::root()).unwrap();
        let reloads: Vec<&str> = audit
            .iter()
            .filter(|a| a.action == "policy.reload")
            .map(|a| a.outcome.as_str())
            .collect();
        assert_eq!(reloads, vec!["allowed", "failed"]);
    }

    #[test]
    fn usage_lists_the_policy_users() {
        let dir = tempfile::tempdir().unwrap();
        let (e, _) = engine(
            dir.path(),
            r#"{"roles": {"small": {"inherits": "user", "constraints": {"max_memory": 1073741824}}},
                "users": {"nobody": {"role": "small", "project": "lab"}}}"#,
        );
        let u = e.account_usage(&Caller::root()).unwrap();
        let n = u.iter().find(|u| u.uid == 65534).unwrap();
        assert_eq!((n.role.as_str(), n.containers, n.running), ("small", 0, 0));
        assert_eq!(n.project.as_deref(), Some("lab"));
        assert_eq!(n.limits.max_memory, Some(1 << 30));
        assert_eq!(
            e.account_usage(&nobody()).unwrap_err().kind,
            ErrorKind::PermissionDenied
        );
        // No server for this root: no connections, and no error.
        assert_eq!(e.connections(&Caller::root()).unwrap().socket, None);
    }
}
