//! Who is connected: the server's open connections as the accounts pane lists them, and
//! the note a running server leaves in its state root (`serve.json`: socket and pid) so
//! that a console on the same root, in another process, can ask it.

use std::path::{Path, PathBuf};

use crate::api::{Connection, Connections};
use crate::caller::Caller;
use crate::error::Result;
use crate::policy::{user_groups, Action};
use crate::LocalEngine;

use super::conns::Tracker;

/// The note's file name under the state root.
const NOTE: &str = "serve.json";

#[derive(serde::Serialize, serde::Deserialize)]
struct Note {
    socket: PathBuf,
    pid: u32,
}

/// The note of a running server, removed when it stops.
pub struct Announce {
    path: PathBuf,
}

impl Announce {
    /// Write the note for a server of `engine` listening on `socket`; `None` (logged)
    /// if it cannot be written: the server runs anyway.
    pub fn write(engine: &LocalEngine, socket: &Path) -> Option<Announce> {
        let path = engine.root().path().join(NOTE);
        let note = Note {
            socket: socket.to_path_buf(),
            pid: std::process::id(),
        };
        let data = serde_json::to_vec(&note).ok()?;
        let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
        match std::fs::write(&tmp, data).and_then(|()| std::fs::rename(&tmp, &path)) {
            Ok(()) => Some(Announce { path }),
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                tracing::warn!("cannot write {}: {e}", path.display());
                None
            }
        }
    }
}

impl Drop for Announce {
    fn drop(&mut self) {
        // Only our own note: another server may have taken the root since.
        let ours = std::fs::read(&self.path)
            .ok()
            .and_then(|d| serde_json::from_slice::<Note>(&d).ok())
            .is_some_and(|n| n.pid == std::process::id());
        if ours {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// The socket of the server running for the state root `root`, if one runs (its note
/// names a live process and an existing socket).
pub fn running_server(root: &Path) -> Option<PathBuf> {
    let note: Note = serde_json::from_slice(&std::fs::read(root.join(NOTE)).ok()?).ok()?;
    let alive = nix::sys::signal::kill(nix::unistd::Pid::from_raw(note.pid as i32), None).is_ok();
    (alive && note.socket.exists()).then_some(note.socket)
}

/// The open connections of `tracker`, for `caller` (`policy.read`).
pub fn connections(
    engine: &LocalEngine,
    caller: &Caller,
    tracker: &Tracker,
    socket: Option<&Path>,
) -> Result<Connections> {
    engine.gate().authorize(caller, Action::PolicyRead)?;
    let mut names: std::collections::HashMap<u32, (String, String)> = Default::default();
    let list = tracker
        .sessions()
        .into_iter()
        .map(|s| {
            let (user, role) = names
                .entry(s.uid)
                .or_insert_with(|| {
                    let (name, gid, _) = user_groups(s.uid);
                    let who = Caller {
                        uid: s.uid,
                        gid,
                        name: name.clone(),
                        role: crate::caller::Role("none".into()),
                        project: None,
                    };
                    (name, engine.gate().role(&who).name)
                })
                .clone();
            Connection {
                id: s.id,
                uid: s.uid,
                user,
                role,
                since: s.since,
                calls: s.calls(),
                last: s.last(),
            }
        })
        .collect();
    Ok(Connections {
        socket: socket.map(|p| p.display().to_string()),
        list,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::api::{AccountsApi, AuditApi};
    use crate::remote::client::{Endpoint, RemoteEngine};
    use crate::{Caller, EngineOptions, LocalEngine};

    /// Through the socket: who is connected (this client, with its calls), an edit of
    /// the policy in force for the next call, and a console on the same root (another
    /// engine object, as another process would have) finding the server.
    #[test]
    fn connections_and_policy_edits_through_the_socket() {
        let dir = tempfile::tempdir().unwrap();
        let policy = dir.path().join("policy.json");
        std::fs::write(&policy, r#"{"users": {"nobody": {"role": "user"}}}"#).unwrap();
        let opts = || EngineOptions {
            policy: Some(Arc::new(crate::policy::Policy::load(&policy).unwrap())),
            ..Default::default()
        };
        let root = dir.path().join("root");
        let local = Arc::new(LocalEngine::open(&root, opts()).unwrap());
        let sock = dir.path().join("wharf.sock");
        let listener = super::super::bind(&sock).unwrap();
        let e = local.clone();
        std::thread::spawn(move || super::super::serve(e, listener));
        let remote = RemoteEngine::connect(Endpoint::Unix(sock.clone())).unwrap();
        let me = Caller::root();
        remote.whoami(&me).unwrap();
        let c = remote.connections(&me).unwrap();
        assert_eq!(c.socket.as_deref(), Some(sock.to_str().unwrap()));
        let mine = c.list.iter().find(|c| c.uid == 0).expect("this client");
        assert_eq!(mine.role, "admin");
        assert!(mine.calls >= 2, "{mine:?}");

        let v = remote.policy_read(&me).unwrap();
        let change = remote
            .policy_write(
                &me,
                r#"{"users": {"nobody": {"role": "viewer"}}}"#,
                v.digest.as_deref(),
            )
            .unwrap();
        assert_eq!(change.summary, "user nobody: user -> viewer");
        let nobody = Caller {
            uid: 65534,
            gid: 65534,
            name: "nobody".into(),
            role: crate::caller::Role("user".into()),
            project: None,
        };
        assert_eq!(local.permissions(&nobody).unwrap().role, "viewer");

        // Another engine on the root asks the server.
        let other = LocalEngine::open(&root, opts()).unwrap();
        let c = other.connections(&me).unwrap();
        assert_eq!(c.socket.as_deref(), Some(sock.to_str().unwrap()));
        assert!(c.list.len() >= 2, "{c:?}");
    }
}
