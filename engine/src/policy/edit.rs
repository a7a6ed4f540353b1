//! Changing the policy while the engine runs: an edit is checked as a file being loaded
//! is ([`Policy::parse`]), refused if it would leave no one able to change the policy
//! again, written atomically with the previous version kept beside it, and put in force
//! in the gate. A change of the file on disk (an admin's editor, another process's
//! edit) is picked up by [`watch`]; a broken file is refused and the policy in force
//! stays, never a more open one.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use crate::caller::Caller;
use crate::error::{EngineError, IoContext, Result};

use super::actions::{audit_only, Action};
use super::audit::AuditLog;
use super::{Binding, Policy, PolicyFile};

/// Where the version an edit replaced is kept: `policy.json.prev` beside `policy.json`.
pub fn previous_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".prev");
    path.with_file_name(name)
}

/// Uids that may change `policy` (`policy.write`), among those the policy names: root,
/// users named by name or uid, members of the groups it names, and `also` (the editor).
/// Names unknown to this machine cannot log in and do not count.
pub fn policy_writers(policy: &Policy, also: &[u32]) -> Vec<(u32, String)> {
    use nix::unistd::{Group, Uid, User};
    let mut uids: Vec<u32> = vec![0];
    uids.extend_from_slice(also);
    let file = policy.file();
    for who in file.users.keys() {
        match who.parse::<u32>() {
            Ok(uid) => uids.push(uid),
            Err(_) => {
                if let Ok(Some(u)) = User::from_name(who) {
                    uids.push(u.uid.as_raw());
                }
            }
        }
    }
    for g in file.groups.keys() {
        let group = match g.parse::<u32>() {
            Ok(gid) => Group::from_gid(nix::unistd::Gid::from_raw(gid)),
            Err(_) => Group::from_name(g),
        };
        if let Ok(Some(group)) = group {
            for m in &group.mem {
                if let Ok(Some(u)) = User::from_name(m) {
                    uids.push(u.uid.as_raw());
                }
            }
        }
    }
    uids.sort_unstable();
    uids.dedup();
    uids.into_iter()
        .filter_map(|uid| {
            let c = policy.caller_for(uid);
            let may = policy
                .role(c.role.as_str())
                .is_some_and(|r| r.allows(Action::PolicyWrite));
            // A uid with no account on this machine is not someone who can log in.
            let exists = User::from_uid(Uid::from_raw(uid)).ok().flatten().is_some();
            (may && exists).then_some((uid, c.name))
        })
        .collect()
}

/// Refuse a policy that would leave no one who may change it again.
pub fn check_not_locked_out(policy: &Policy, editor: u32) -> Result<()> {
    if policy_writers(policy, &[editor]).is_empty() {
        return Err(EngineError::invalid(
            "this change would lock out every admin: no user left (root included) would have policy.write, so no one could change the policy again. Keep at least one admin",
        ));
    }
    Ok(())
}

/// What changed between two policy files, in a line for the audit journal and the
/// console: `user alice: user -> operator; role student: changed; group lab: added (user)`.
pub fn summarize(old: &PolicyFile, new: &PolicyFile) -> String {
    fn binding(b: &Binding) -> String {
        match &b.project {
            Some(p) => format!("{} in project {p}", b.role),
            None => b.role.clone(),
        }
    }
    let mut parts = Vec::new();
    for (what, a, b) in [
        ("user", &old.users, &new.users),
        ("group", &old.groups, &new.groups),
    ] {
        for (k, v) in b {
            match a.get(k) {
                None => parts.push(format!("{what} {k}: added ({})", binding(v))),
                Some(o) if o != v => {
                    parts.push(format!("{what} {k}: {} -> {}", binding(o), binding(v)))
                }
                _ => {}
            }
        }
        for (k, v) in a {
            if !b.contains_key(k) {
                parts.push(format!("{what} {k}: removed (was {})", binding(v)));
            }
        }
    }
    for (k, v) in &new.roles {
        match old.roles.get(k) {
            None => parts.push(format!("role {k}: added")),
            Some(o) if o != v => parts.push(format!("role {k}: changed")),
            _ => {}
        }
    }
    for k in old.roles.keys() {
        if !new.roles.contains_key(k) {
            parts.push(format!("role {k}: removed"));
        }
    }
    if parts.is_empty() {
        "no change".into()
    } else {
        parts.join("; ")
    }
}

/// Write `text` to `path` atomically (a temporary file beside it, synced, renamed over
/// it), keeping the version it replaces as [`previous_path`]. The new file keeps the
/// old one's mode (0644 for a new one): the policy is not a secret, and every user's
/// client may read what roles there are.
pub fn write_file(path: &Path, text: &str) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mode = fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o7777)
        .unwrap_or(0o644);
    let tag = &crate::ids::new_id()[..12];
    let write_tmp = |tmp: &Path, data: &[u8]| -> Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(tmp)
            .ctx(|| format!("creating {}", tmp.display()))?;
        f.write_all(data)
            .ctx(|| format!("writing {}", tmp.display()))?;
        f.set_permissions(fs::Permissions::from_mode(mode))
            .ctx(|| format!("setting the mode of {}", tmp.display()))?;
        f.sync_all().ctx(|| format!("syncing {}", tmp.display()))
    };
    // The previous version first: a crash after it leaves the old file in force and a
    // copy of it, never a missing file.
    if let Ok(old) = fs::read(path) {
        let prev = previous_path(path);
        let tmp = dir.join(format!(".policy-prev-{tag}"));
        let res = write_tmp(&tmp, &old)
            .and_then(|()| fs::rename(&tmp, &prev).ctx(|| format!("replacing {}", prev.display())));
        if res.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        res?;
    }
    let tmp = dir.join(format!(".policy-new-{tag}"));
    let res = write_tmp(&tmp, text.as_bytes())
        .and_then(|()| fs::rename(&tmp, path).ctx(|| format!("replacing {}", path.display())));
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res?;
    crate::state::sync_dir(dir)
}

/// The engine itself as the audit journal names it (reloads are nobody's call).
fn engine_caller() -> Caller {
    Caller {
        name: "wharf".into(),
        ..Caller::root()
    }
}

/// The policy slot of a gate, as a watcher holds it.
type Slot = Weak<RwLock<Option<Arc<Policy>>>>;

/// What the watcher last saw of the file: (device, inode, size, mtime in ns).
type Stamp = (u64, u64, u64, i64);

fn stamp(path: &Path) -> Option<Stamp> {
    fs::metadata(path).ok().map(|m| {
        (
            m.dev(),
            m.ino(),
            m.size(),
            m.mtime() * 1_000_000_000 + m.mtime_nsec(),
        )
    })
}

/// Read the policy file again and put it in force if it differs from the one in force.
/// `Ok(Some(summary))` when it changed, `Ok(None)` when it is the same; a broken or
/// unreadable file is an error and the policy in force stays.
pub fn reload(slot: &RwLock<Option<Arc<Policy>>>, audit: &AuditLog) -> Result<Option<String>> {
    let current = slot.read().unwrap_or_else(|e| e.into_inner()).clone();
    let Some(current) = current else {
        return Ok(None);
    };
    let path = current.source.clone();
    let text = fs::read_to_string(&path)
        .map_err(|e| EngineError::io(format!("reading the policy file {}", path.display()), e))?;
    if super::text_digest(&text) == current.digest() {
        return Ok(None);
    }
    let new = Policy::parse(&path, &text)?;
    let summary = summarize(current.file(), new.file());
    *slot.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(new));
    let detail = format!("the file changed on disk: {summary}");
    if let Err(e) = audit.record(
        &engine_caller(),
        audit_only::POLICY_RELOAD,
        &path.display().to_string(),
        "allowed",
        &detail,
    ) {
        tracing::warn!("could not write the audit journal: {e}");
    }
    Ok(Some(summary))
}

/// Follow the policy file of `slot`: each time it changes on disk (checked every
/// `every`), it is read, checked and put in force ([`reload`]); a broken version is
/// logged and audited once and the policy in force stays. Ends when the engine is gone.
pub fn watch(slot: Slot, audit: AuditLog, every: Duration) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name("wharf-policy".into())
        .spawn(move || {
            let path = match slot.upgrade().and_then(|s| s.read().ok()?.clone()) {
                Some(p) => p.source.clone(),
                None => return,
            };
            // The first look compares the file with the policy in force by digest.
            let mut seen = None;
            let mut refused: Option<Stamp> = None;
            loop {
                std::thread::sleep(every);
                let Some(s) = slot.upgrade() else { return };
                let now = stamp(&path);
                if now == seen || now.is_none() {
                    continue;
                }
                seen = now;
                match reload(&s, &audit) {
                    Ok(Some(summary)) => {
                        refused = None;
                        tracing::info!("policy {} reloaded: {summary}", path.display());
                    }
                    Ok(None) => refused = None,
                    Err(e) => {
                        if refused != now {
                            refused = now;
                            tracing::error!(
                                "policy {} not reloaded, the one in force stays: {e}",
                                path.display()
                            );
                            let _ = audit.record(
                                &engine_caller(),
                                audit_only::POLICY_RELOAD,
                                &path.display().to_string(),
                                "failed",
                                &format!("{e}; the policy in force stays"),
                            );
                        }
                    }
                }
            }
        })
        .unwrap_or_else(|e| {
            tracing::warn!("cannot start the policy watcher: {e}");
            std::thread::spawn(|| {})
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Policy {
        Policy::parse(Path::new("policy.json"), text).unwrap()
    }

    #[test]
    fn root_counts_unless_the_policy_demotes_it() {
        // Nobody named, but root is admin unless the policy says otherwise.
        assert!(check_not_locked_out(&parse("{}"), 65534).is_ok());
        let p = parse(r#"{"users": {"root": {"role": "viewer"}}}"#);
        let e = check_not_locked_out(&p, 65534).unwrap_err();
        assert!(e.message.contains("lock out every admin"), "{e}");
        let p = parse(r#"{"users": {"root": {"role": "viewer"}, "nobody": {"role": "admin"}}}"#);
        assert_eq!(policy_writers(&p, &[]), vec![(65534, "nobody".to_string())]);
        // A role of the file that grants policy.write counts as admin.
        let p = parse(
            r#"{"roles": {"boss": {"permissions": {"policy": ["write"]}}},
                "users": {"0": {"role": "boss"}}}"#,
        );
        assert!(check_not_locked_out(&p, 65534).is_ok());
    }

    #[test]
    fn summaries_name_what_changed() {
        let a = parse(r#"{"users": {"alice": {"role": "user"}, "bob": {"role": "viewer"}}}"#);
        let b = parse(
            r#"{"users": {"alice": {"role": "operator"}, "carol": {"role": "user", "project": "lab"}},
                "roles": {"student": {"inherits": "user"}}}"#,
        );
        assert_eq!(
            summarize(a.file(), b.file()),
            "user alice: user -> operator; user carol: added (user in project lab); user bob: removed (was viewer); role student: added"
        );
        assert_eq!(summarize(a.file(), a.file()), "no change");
    }

    #[test]
    fn writes_keep_the_previous_version_and_the_mode() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("policy.json");
        fs::write(&p, "{\"users\": {}}").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o640)).unwrap();
        write_file(&p, "{}\n").unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "{}\n");
        assert_eq!(
            fs::read_to_string(previous_path(&p)).unwrap(),
            "{\"users\": {}}"
        );
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o640
        );
        let left: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left.len(), 2, "{left:?}");
    }

    #[test]
    fn reload_takes_a_good_file_and_keeps_the_policy_on_a_broken_one() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("policy.json");
        fs::write(&p, r#"{"users": {"alice": {"role": "user"}}}"#).unwrap();
        let slot = RwLock::new(Some(Arc::new(Policy::load(&p).unwrap())));
        let audit = AuditLog::new(dir.path().join("audit.jsonl"));
        assert_eq!(reload(&slot, &audit).unwrap(), None, "same file");
        fs::write(&p, r#"{"users": {"alice": {"role": "operator"}}}"#).unwrap();
        assert_eq!(
            reload(&slot, &audit).unwrap().as_deref(),
            Some("user alice: user -> operator")
        );
        fs::write(&p, r#"{"users": {"alice": {"role": "pilot"}}}"#).unwrap();
        assert!(reload(&slot, &audit).is_err());
        let now = slot.read().unwrap().clone().unwrap();
        assert_eq!(
            now.binding_for(5000, "alice", &[]).unwrap().role,
            "operator"
        );
        let entries = audit.read().unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].action, "policy.reload");
    }
}
