//! The event journal: every change of state appends one line of JSON, in Docker's
//! event vocabulary, to `events.jsonl` (rotated by size). Readers in any process see it.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{IoContext, Result};
use crate::state::FileLock;

/// Kind of object an event is about, as Docker names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventType {
    Container,
    Image,
    Network,
    Volume,
    Daemon,
}

impl EventType {
    /// Lowercase name as in `--filter type=`.
    pub fn as_str(&self) -> &'static str {
        match self {
            EventType::Container => "container",
            EventType::Image => "image",
            EventType::Network => "network",
            EventType::Volume => "volume",
            EventType::Daemon => "daemon",
        }
    }
}

/// The object an event is about: its id and attributes (name, image, exitCode, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Actor {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Attributes", default)]
    pub attributes: BTreeMap<String, String>,
}

/// One event, shaped like Docker's `/events` messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    #[serde(rename = "Type")]
    pub kind: EventType,
    /// Docker's action word: create, start, die, kill, oom, pause, unpause, restart,
    /// rename, destroy, attach, update, exec_create, exec_start, exec_die,
    /// health_status: healthy, pull, push, load, import, save, tag, untag, delete,
    /// connect, disconnect, mount, unmount, ...
    #[serde(rename = "Action")]
    pub action: String,
    #[serde(rename = "Actor")]
    pub actor: Actor,
    pub scope: String,
    /// Seconds since the epoch.
    pub time: i64,
    /// Nanoseconds since the epoch.
    #[serde(rename = "timeNano")]
    pub time_nano: i64,
    /// Uid of the owner of the object (for role-scoped filtering), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<u32>,
}

impl Event {
    /// A new event stamped now.
    pub fn new(kind: EventType, action: impl Into<String>, id: impl Into<String>) -> Self {
        let now = chrono::Utc::now();
        let nanos = now.timestamp_nanos_opt().unwrap_or(0);
        Event {
            kind,
            action: action.into(),
            actor: Actor {
                id: id.into(),
                attributes: BTreeMap::new(),
            },
            scope: "local".into(),
            time: nanos / 1_000_000_000,
            time_nano: nanos,
            owner: None,
        }
    }

    /// Add an attribute (builder style).
    pub fn attr(mut self, k: impl Into<String>, v: impl Into<String>) -> Self {
        self.actor.attributes.insert(k.into(), v.into());
        self
    }

    /// Record the owner's uid (builder style).
    pub fn owned_by(mut self, uid: u32) -> Self {
        self.owner = Some(uid);
        self
    }
}

/// Default size at which `events.jsonl` is rotated to `events.jsonl.1`.
pub const DEFAULT_ROTATE_BYTES: u64 = 16 * 1024 * 1024;
/// How many rotated files are kept.
pub const KEEP_ROTATED: usize = 3;

/// The append-only journal under the state root.
#[derive(Debug, Clone)]
pub struct Journal {
    path: PathBuf,
    rotate_bytes: u64,
}

impl Journal {
    /// The journal at `path` (normally `<root>/events.jsonl`).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Journal {
            path: path.into(),
            rotate_bytes: DEFAULT_ROTATE_BYTES,
        }
    }

    /// Change the rotation size (tests use a small one).
    pub fn with_rotate_bytes(mut self, bytes: u64) -> Self {
        self.rotate_bytes = bytes;
        self
    }

    /// The live file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock_path(&self) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push(".lock");
        p.into()
    }

    fn rotated(&self, n: usize) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push(format!(".{n}"));
        p.into()
    }

    /// Append one event (one `write` of one line, under the journal lock).
    pub fn append(&self, ev: &Event) -> Result<()> {
        let mut line = serde_json::to_vec(ev).expect("events always serialize");
        line.push(b'\n');
        let _lock = FileLock::exclusive(&self.lock_path())?;
        if let Ok(md) = fs::metadata(&self.path) {
            if md.len() + line.len() as u64 > self.rotate_bytes {
                self.rotate()?;
            }
        }
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .ctx(|| format!("opening event journal {}", self.path.display()))?;
        f.write_all(&line)
            .ctx(|| format!("appending to {}", self.path.display()))
    }

    fn rotate(&self) -> Result<()> {
        let _ = fs::remove_file(self.rotated(KEEP_ROTATED));
        for n in (1..KEEP_ROTATED).rev() {
            let from = self.rotated(n);
            if from.exists() {
                fs::rename(&from, self.rotated(n + 1))
                    .ctx(|| format!("rotating {}", from.display()))?;
            }
        }
        fs::rename(&self.path, self.rotated(1)).ctx(|| format!("rotating {}", self.path.display()))
    }

    /// Every file of the journal, oldest first.
    pub fn files(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = (1..=KEEP_ROTATED)
            .rev()
            .map(|n| self.rotated(n))
            .filter(|p| p.exists())
            .collect();
        v.push(self.path.clone());
        v
    }

    /// All events between `since` and `until` (nanoseconds, inclusive), oldest first,
    /// across rotated files. Lines that do not parse (a torn write after a crash) are skipped.
    pub fn read(&self, since: Option<i64>, until: Option<i64>) -> Result<Vec<Event>> {
        let mut out = Vec::new();
        for p in self.files() {
            let f = match fs::File::open(&p) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(crate::EngineError::io(
                        format!("reading {}", p.display()),
                        e,
                    ))
                }
            };
            for line in BufReader::new(f).lines() {
                let line = line.ctx(|| format!("reading {}", p.display()))?;
                if let Ok(ev) = serde_json::from_str::<Event>(&line) {
                    if since.is_some_and(|s| ev.time_nano < s)
                        || until.is_some_and(|u| ev.time_nano > u)
                    {
                        continue;
                    }
                    out.push(ev);
                }
            }
        }
        Ok(out)
    }
}

/// Reads new lines of the live journal file as they are appended, following rotation.
/// Keeps the file open, so a rotation between two polls loses nothing.
#[derive(Debug)]
pub struct Follower {
    path: PathBuf,
    file: Option<fs::File>,
    partial: Vec<u8>,
}

impl Follower {
    /// Follow `journal`'s live file from its beginning.
    pub fn new(journal: &Journal) -> Self {
        Follower {
            path: journal.path.clone(),
            file: None,
            partial: Vec::new(),
        }
    }

    /// Follow only what is appended to `journal` from now on (a subscription: what
    /// happens after this call is in the next polls, across rotations).
    pub fn from_now(journal: &Journal) -> Self {
        use std::io::{Seek, SeekFrom};
        let file = fs::File::open(&journal.path).ok().and_then(|mut f| {
            // Appends are whole lines under the journal's lock: the end is a line's end.
            let _lock = FileLock::shared(&journal.lock_path()).ok();
            f.seek(SeekFrom::End(0)).ok().map(|_| f)
        });
        Follower {
            path: journal.path.clone(),
            file,
            partial: Vec::new(),
        }
    }

    fn drain(&mut self, out: &mut Vec<Event>) -> Result<()> {
        use std::io::Read;
        let Some(f) = self.file.as_mut() else {
            return Ok(());
        };
        let mut buf = Vec::new();
        f.read_to_end(&mut buf)
            .ctx(|| format!("reading {}", self.path.display()))?;
        self.partial.extend_from_slice(&buf);
        while let Some(pos) = self.partial.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=pos).collect();
            if let Ok(ev) = serde_json::from_slice::<Event>(&line) {
                out.push(ev);
            }
        }
        Ok(())
    }

    /// Events appended since the last poll (all of the live file on the first one).
    pub fn poll(&mut self) -> Result<Vec<Event>> {
        use std::os::unix::fs::MetadataExt;
        let mut out = Vec::new();
        self.drain(&mut out)?;
        // Rotated away (or not there yet)? Switch to the current live file.
        let current = fs::metadata(&self.path).ok().map(|m| (m.dev(), m.ino()));
        let open = match &self.file {
            Some(f) => f.metadata().ok().map(|m| (m.dev(), m.ino())),
            None => None,
        };
        if current.is_some() && current != open {
            self.file = fs::File::open(&self.path).ok();
            self.partial.clear();
            self.drain(&mut out)?;
        }
        Ok(out)
    }
}

/// Wakes a follower when the journal's directory changes (inotify), so new events
/// arrive without polling; falls back to a short sleep where inotify is unavailable.
#[derive(Debug)]
pub struct Waiter {
    inotify: Option<nix::sys::inotify::Inotify>,
}

impl Waiter {
    /// Watch the directory holding `journal`.
    pub fn new(journal: &Journal) -> Self {
        use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
        let dir = journal
            .path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let inotify = Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK)
            .ok()
            .and_then(|i| {
                i.add_watch(
                    &dir,
                    AddWatchFlags::IN_MODIFY
                        | AddWatchFlags::IN_CREATE
                        | AddWatchFlags::IN_MOVED_TO,
                )
                .ok()
                .map(|_| i)
            });
        Waiter { inotify }
    }

    /// Block until something in the directory changes or `timeout` passes.
    pub fn wait(&self, timeout: std::time::Duration) {
        use std::os::fd::AsFd;
        let Some(ino) = &self.inotify else {
            std::thread::sleep(timeout.min(std::time::Duration::from_millis(20)));
            return;
        };
        let ms = u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX);
        let mut fds = [nix::poll::PollFd::new(
            ino.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        if let Ok(n) = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(ms)) {
            if n > 0 {
                // Drain the queue; which file changed does not matter, the follower looks.
                while ino.read_events().map(|e| !e.is_empty()).unwrap_or(false) {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_read_and_rotate() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::new(dir.path().join("events.jsonl")).with_rotate_bytes(600);
        for i in 0..20 {
            j.append(
                &Event::new(EventType::Container, "start", format!("id{i}")).attr("name", "web"),
            )
            .unwrap();
        }
        let all = j.read(None, None).unwrap();
        assert!(
            all.len() < 20,
            "old files are dropped after {KEEP_ROTATED} rotations"
        );
        assert_eq!(all.last().unwrap().actor.id, "id19");
        let times: Vec<i64> = all.iter().map(|e| e.time_nano).collect();
        let mut sorted = times.clone();
        sorted.sort();
        assert_eq!(times, sorted, "oldest first across rotation");
        let since = all[all.len() - 2].time_nano;
        assert!(j.read(Some(since), None).unwrap().len() >= 2);
    }

    #[test]
    fn follower_sees_appends_across_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::new(dir.path().join("events.jsonl")).with_rotate_bytes(400);
        let mut f = Follower::new(&j);
        assert!(f.poll().unwrap().is_empty());
        let mut seen = Vec::new();
        for i in 0..12 {
            j.append(&Event::new(EventType::Image, "tag", format!("i{i}")))
                .unwrap();
            if i % 3 == 0 {
                seen.extend(f.poll().unwrap());
            }
        }
        seen.extend(f.poll().unwrap());
        let ids: Vec<String> = seen.iter().map(|e| e.actor.id.clone()).collect();
        let want: Vec<String> = (0..12).map(|i| format!("i{i}")).collect();
        assert_eq!(ids, want);
    }

    #[test]
    fn docker_shape() {
        let ev = Event::new(EventType::Container, "die", "abc").attr("exitCode", "0");
        let v: serde_json::Value = serde_json::to_value(&ev).unwrap();
        assert_eq!(v["Type"], "container");
        assert_eq!(v["Action"], "die");
        assert_eq!(v["Actor"]["ID"], "abc");
        assert_eq!(v["Actor"]["Attributes"]["exitCode"], "0");
        assert!(v["timeNano"].as_i64().unwrap() > 0);
    }
}
