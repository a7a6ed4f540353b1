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
