//! The pending records under `unsynced/`: what a commit renamed into the store before
//! its contents were known to be on disk. [`ImageStore::commit`](super::store::ImageStore::commit)
//! writes them; `durable` reads, checks and drops them (see there).

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{EngineError, IoContext, Result};
use crate::state::{atomic_write_json, read_json};

/// `unsynced/<n>.json`: what one commit renamed into the store before its contents were
/// known to be on disk.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PendingRecord {
    /// The boot the commit happened in.
    pub boot_id: String,
    /// Seconds since the epoch.
    pub created: i64,
    /// Layer chain ids renamed into `layers/`.
    pub layers: Vec<String>,
    /// Blob digests renamed into `blobs/sha256/`.
    pub blobs: Vec<String>,
    /// Each tag the commit set -> the image it named before (`None`: a new tag).
    pub tags: BTreeMap<String, Option<String>>,
}

impl PendingRecord {
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty() && self.blobs.is_empty()
    }
}

/// Where the records of the store at `root` are.
pub(super) fn dir(root: &Path) -> PathBuf {
    root.join("unsynced")
}

/// The pending records of the store at `root`, oldest first: (path, record). A damaged
/// record (torn writes cannot happen, but a hand edit can) counts as naming nothing.
pub(super) fn read_all(root: &Path) -> Result<Vec<(PathBuf, PendingRecord)>> {
    let dir = dir(root);
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(EngineError::io(format!("listing {}", dir.display()), e)),
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".json") || name.starts_with('.') {
            continue;
        }
        let rec = match read_json::<PendingRecord>(&e.path()) {
            Ok(r) => r.unwrap_or_default(),
            Err(err) => {
                tracing::warn!("{err}");
                PendingRecord::default()
            }
        };
        out.push((e.path(), rec));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Record, durably, what a commit to the store at `root` is about to rename in (hold
/// the images lock). Returns the record's path.
pub(super) fn write(root: &Path, rec: &PendingRecord) -> Result<PathBuf> {
    let dir = dir(root);
    fs::create_dir_all(&dir).ctx(|| format!("creating {}", dir.display()))?;
    // Names sort in commit order: nanoseconds, then a random part.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let path = dir.join(format!("{nanos:020}-{}.json", &crate::ids::new_id()[..8]));
    atomic_write_json(&path, rec)?;
    Ok(path)
}
