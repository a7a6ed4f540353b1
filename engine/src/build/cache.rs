//! The build cache: which image a step made from which parent, keyed like the classic
//! builder's (the parent image, the instruction with the config it runs in, and the
//! checksums of the files COPY/ADD read). Records live in `build/cache.json` under the
//! state root; the images they name are ordinary (untagged) images of the store, which
//! `wharf images` shows only with `-a`, as Docker shows intermediate images.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::Result;
use crate::state::{FileLock, StateRoot};

/// One record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub image: String,
    pub parent: String,
    pub created_by: String,
    pub created: i64,
    pub last_used: i64,
    /// Bytes of the step's own layer.
    #[serde(default)]
    pub size: u64,
}

/// `build/cache.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Index {
    pub records: BTreeMap<String, Record>,
}

/// The cache of one state root.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
}

/// A cache key from its parts.
pub fn key(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    format!("sha256:{}", hex::encode(h.finalize()))
}

impl Cache {
    pub fn new(root: &StateRoot) -> Self {
        Cache {
            dir: root.path().join("build"),
        }
    }

    fn file(&self) -> PathBuf {
        self.dir.join("cache.json")
    }

    /// Take the cache's lock (writers).
    pub fn lock(&self) -> Result<FileLock> {
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| crate::EngineError::io(format!("creating {}", self.dir.display()), e))?;
        FileLock::exclusive(&self.dir.join("cache.lock"))
    }

    /// The records (empty when there is no cache yet).
    pub fn read(&self) -> Result<Index> {
        Ok(crate::state::read_json(&self.file())?.unwrap_or_default())
    }

    /// Write the records (under [`Cache::lock`]).
    pub fn write(&self, idx: &Index) -> Result<()> {
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| crate::EngineError::io(format!("creating {}", self.dir.display()), e))?;
        crate::state::atomic_write_json(&self.file(), idx)
    }

    /// Record what a step made, and mark hits as used, in one write.
    pub fn update(&self, put: Vec<(String, Record)>, used: &[String], now: i64) -> Result<()> {
        if put.is_empty() && used.is_empty() {
            return Ok(());
        }
        let _l = self.lock()?;
        let mut idx = self.read()?;
        for (k, r) in put {
            idx.records.insert(k, r);
        }
        for k in used {
            if let Some(r) = idx.records.get_mut(k) {
                r.last_used = now;
            }
        }
        self.write(&idx)
    }

    /// Image ids the cache holds.
    pub fn images(&self) -> Vec<String> {
        self.read()
            .map(|i| i.records.values().map(|r| r.image.clone()).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_separate_parts() {
        assert_ne!(key(&["ab", "c"]), key(&["a", "bc"]));
        assert_eq!(key(&["x"]), key(&["x"]));
    }
}
