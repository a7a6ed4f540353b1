//! The audit journal: every mutating call and every refusal, hash-chained so that an
//! edited, inserted or removed entry is detected by `wharf audit verify`.
//!
//! Each line is one [`AuditEntry`]; `hash = sha256(prev_hash || canonical JSON of the
//! entry without its hash)`. The last sequence number and hash are also kept in
//! `audit.head` (written atomically), so removing entries from the end is detected too.

use std::fs::{self, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::caller::Caller;
use crate::error::{EngineError, IoContext, Result};
use crate::state::{read_json, FileLock};

/// The hash before the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One audited call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub seq: u64,
    /// RFC 3339 with nanoseconds.
    pub time: String,
    pub uid: u32,
    pub user: String,
    pub role: String,
    /// `kind.verb`, e.g. `container.stop`.
    pub action: String,
    /// The object, by name or id (empty for kind-wide calls such as prune).
    pub target: String,
    /// `allowed`, `denied` or `failed`.
    pub outcome: String,
    /// Why it was denied or failed; parameters that matter for allowed calls.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
    pub prev: String,
    #[serde(default)]
    pub hash: String,
}

impl AuditEntry {
    fn compute_hash(&self) -> String {
        let mut copy = self.clone();
        copy.hash = String::new();
        let body = serde_json::to_vec(&copy).expect("audit entries always serialize");
        let mut h = Sha256::new();
        h.update(self.prev.as_bytes());
        h.update(&body);
        hex::encode(h.finalize())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct Head {
    seq: u64,
    hash: String,
}

/// The audit journal under the state root (`audit.jsonl`, `audit.head`).
#[derive(Debug, Clone)]
pub struct AuditLog {
    path: PathBuf,
}

impl AuditLog {
    /// The journal at `path` (normally `<root>/audit.jsonl`).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        AuditLog { path: path.into() }
    }

    fn sibling(&self, ext: &str) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push(ext);
        p.into()
    }

    /// The journal file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append an entry for `caller` doing `action` on `target` with `outcome`.
    pub fn record(
        &self,
        caller: &Caller,
        action: &str,
        target: &str,
        outcome: &str,
        detail: &str,
    ) -> Result<AuditEntry> {
        let _lock = FileLock::exclusive(&self.sibling(".lock"))?;
        let head: Head = read_json(&self.sibling(".head"))?.unwrap_or(Head {
            seq: 0,
            hash: GENESIS.into(),
        });
        let mut e = AuditEntry {
            seq: head.seq + 1,
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            uid: caller.uid,
            user: caller.name.clone(),
            role: caller.role.to_string(),
            action: action.into(),
            target: target.into(),
            outcome: outcome.into(),
            detail: detail.into(),
            prev: head.hash,
            hash: String::new(),
        };
        e.hash = e.compute_hash();
        let mut line = serde_json::to_vec(&e).expect("audit entries always serialize");
        line.push(b'\n');
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .ctx(|| format!("opening audit journal {}", self.path.display()))?;
        f.write_all(&line)
            .ctx(|| format!("appending to {}", self.path.display()))?;
        // No fsync: the journal is tamper evidence, not a durability log, and every
        // `wharf run` writes two entries. A crash can lose the newest entries; `verify`
        // then says so (the head names more entries than the file holds).
        let head = serde_json::to_vec(&Head {
            seq: e.seq,
            hash: e.hash.clone(),
        })
        .map_err(|err| EngineError::internal(format!("encoding the audit head: {err}")))?;
        let tmp = self.sibling(".head.tmp");
        std::fs::write(&tmp, head).ctx(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, self.sibling(".head"))
            .ctx(|| format!("writing {}", self.sibling(".head").display()))?;
        Ok(e)
    }

    /// Every entry, oldest first (lines that do not parse are reported by [`verify`](Self::verify)).
    pub fn read(&self) -> Result<Vec<AuditEntry>> {
        let f = match fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
            Err(e) => {
                return Err(EngineError::io(
                    format!("reading {}", self.path.display()),
                    e,
                ))
            }
        };
        let mut out = Vec::new();
        for line in BufReader::new(f).lines() {
            let line = line.ctx(|| format!("reading {}", self.path.display()))?;
            if let Ok(e) = serde_json::from_str(&line) {
                out.push(e);
            }
        }
        Ok(out)
    }

    /// Check the whole chain. Returns the number of entries, or a Corrupt error naming
    /// the first entry that was edited, inserted or removed.
    pub fn verify(&self) -> Result<u64> {
        let text = match fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => {
                return Err(EngineError::io(
                    format!("reading {}", self.path.display()),
                    e,
                ))
            }
        };
        let fail = |msg: String| {
            Err(EngineError::corrupt(format!(
                "audit journal {}: {msg}",
                self.path.display()
            )))
        };
        let mut prev = GENESIS.to_string();
        let mut seq = 0u64;
        for (i, line) in text.lines().enumerate() {
            let e: AuditEntry = match serde_json::from_str(line) {
                Ok(e) => e,
                Err(err) => return fail(format!("line {} is not a valid entry ({err})", i + 1)),
            };
            if e.seq != seq + 1 {
                return fail(format!(
                    "line {}: entry {} follows entry {seq}: entries were removed or inserted",
                    i + 1,
                    e.seq
                ));
            }
            if e.prev != prev {
                return fail(format!(
                    "line {}: entry {} does not chain to the entry before it",
                    i + 1,
                    e.seq
                ));
            }
            if e.compute_hash() != e.hash {
                return fail(format!(
                    "line {}: entry {} was edited (its hash does not match)",
                    i + 1,
                    e.seq
                ));
            }
            prev = e.hash;
            seq = e.seq;
        }
        let head: Option<Head> = read_json(&self.sibling(".head"))?;
        match head {
            Some(h) if h.seq != seq || h.hash != prev => {
                fail(format!("the journal ends at entry {seq} but {} entries were written: entries were removed from the end", h.seq))
            }
            None if seq > 0 => fail("audit.head is missing".into()),
            _ => Ok(seq),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_detects_edit_removal_and_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::new(dir.path().join("audit.jsonl"));
        let alice = Caller {
            uid: 1000,
            gid: 1000,
            name: "alice".into(),
            role: crate::Role("user".into()),
            project: None,
        };
        for i in 0..5 {
            log.record(
                &alice,
                "container.stop",
                &format!("web-{i}"),
                "denied",
                "it belongs to bob",
            )
            .unwrap();
        }
        assert_eq!(log.verify().unwrap(), 5);
        let text = fs::read_to_string(log.path()).unwrap();

        // Edit one byte.
        fs::write(log.path(), text.replacen("web-2", "web-3", 1)).unwrap();
        assert!(log
            .verify()
            .unwrap_err()
            .message
            .contains("entry 3 was edited"));

        // Remove a middle entry.
        let lines: Vec<&str> = text.lines().collect();
        let without: String = lines
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != 1)
            .map(|(_, l)| format!("{l}\n"))
            .collect();
        fs::write(log.path(), without).unwrap();
        assert!(log
            .verify()
            .unwrap_err()
            .message
            .contains("removed or inserted"));

        // Remove the last entry.
        let truncated: String = lines[..4].iter().map(|l| format!("{l}\n")).collect();
        fs::write(log.path(), truncated).unwrap();
        assert!(log
            .verify()
            .unwrap_err()
            .message
            .contains("removed from the end"));

        fs::write(log.path(), text).unwrap();
        assert_eq!(log.verify().unwrap(), 5);
    }
}
