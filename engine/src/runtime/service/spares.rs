//! Spare container directories: what a removal leaves of a container's directory,
//! emptied, kept for the next create instead of deleted and made anew.
//!
//! On a root without a journal, ext4 does not reuse an inode freed in the last minutes:
//! each new file walks past every such inode of its group, so a run's new files cost
//! more the more files the runs before it deleted (a quarter of a short `run`'s CPU after
//! a few dozen `--rm` runs). A spare keeps the container's directory, its empty mount
//! point, its config, state, log, lock and /etc files; a create takes one, writes what
//! is its own into it before anyone can see it, and renames it into `containers/`.
//!
//! What a spare keeps holds nothing of its container: its writable layer (`diff`) and
//! overlay work directory are deleted (their own attributes would pass to the next
//! container's root), every kept file is emptied, anything else is deleted. At most
//! [`KEEP`] spares are kept; a removal beyond that deletes.

use std::fs;
use std::path::{Path, PathBuf};

use crate::LocalEngine;

/// Prefix of a spare in `tmp/`.
const SPARE: &str = "spare-";
/// Prefix of a spare a create has taken and is filling, in `tmp/` (a killed create's is
/// deleted by [`LocalEngine::remove_leftovers`]).
pub(super) const TAKEN: &str = "taken-";
/// How many spares are kept at most.
const KEEP: usize = 8;
/// The files a spare keeps, emptied (the log is kept as [`LOG`]).
const KEPT: [&str; 8] = [
    "config.json",
    "state.json",
    ".state.json.spare",
    "hostname",
    "hosts",
    "resolv.conf",
    "lock",
    "start.lock",
];
/// The log's name in a spare (`<id>-json.log` in a container).
const LOG: &str = "json.log";

/// Empty the removed container directory `dir` (renamed away into `tmp/`, held by its
/// remover) and keep it as a spare. `false` if there are enough spares or it could not
/// be emptied as it must: the caller then deletes it.
pub(crate) fn keep(engine: &LocalEngine, id: &str, dir: &Path) -> bool {
    if count(engine) >= KEEP {
        return false;
    }
    empty(id, dir).is_ok()
        && fs::rename(
            dir,
            engine
                .root()
                .tmp()
                .join(format!("{SPARE}{}", &crate::ids::new_id()[..16])),
        )
        .is_ok()
}

fn count(engine: &LocalEngine) -> usize {
    fs::read_dir(engine.root().tmp()).map_or(KEEP, |rd| {
        rd.flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(SPARE))
            .count()
    })
}

fn empty(id: &str, dir: &Path) -> std::io::Result<()> {
    let log = format!("{id}-json.log");
    for e in fs::read_dir(dir)? {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        let path = e.path();
        let kind = e.file_type()?;
        if name == "merged" && kind.is_dir() {
            // The mount point, unmounted: empty, or this is no spare.
            if fs::read_dir(&path)?.next().is_some() {
                return Err(std::io::ErrorKind::DirectoryNotEmpty.into());
            }
        } else if kind.is_file() && (KEPT.contains(&name.as_str()) || name == log) {
            fs::OpenOptions::new().write(true).open(&path)?.set_len(0)?;
            if name == log {
                fs::rename(&path, dir.join(LOG))?;
            }
        } else if kind.is_dir() {
            fs::remove_dir_all(&path)?;
        } else {
            fs::remove_file(&path)?;
        }
    }
    Ok(())
}

/// Take a spare for container `id`: renamed to `tmp/taken-<id>`, with an empty mount
/// point and empty files; the caller makes its `diff` and `work`, writes its config and
/// state, and renames it into `containers/` ([`publish`]). `None` when there is none.
pub(super) fn take(engine: &LocalEngine, id: &str) -> Option<PathBuf> {
    let tmp = engine.root().tmp();
    let to = tmp.join(format!("{TAKEN}{id}"));
    for e in fs::read_dir(&tmp).ok()?.flatten() {
        if !e.file_name().to_string_lossy().starts_with(SPARE) {
            continue;
        }
        // Another create may take the same one first: then the next.
        if fs::rename(e.path(), &to).is_ok() {
            return Some(to);
        }
    }
    None
}

/// Put the filled spare `taken` in place as container `id`'s directory `dir`.
pub(super) fn publish(taken: &Path, id: &str, dir: &Path) -> std::io::Result<()> {
    let log = taken.join(LOG);
    if log.exists() {
        fs::rename(&log, taken.join(format!("{id}-json.log")))?;
    }
    fs::rename(taken, dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spare_keeps_only_empty_files_and_its_mount_point() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("c");
        for sub in ["diff/etc", "work/work", "merged"] {
            fs::create_dir_all(d.join(sub)).unwrap();
        }
        fs::write(d.join("diff/etc/secret"), "of the last container").unwrap();
        for f in KEPT {
            fs::write(d.join(f), "old").unwrap();
        }
        fs::write(d.join("abc-json.log"), "old output\n").unwrap();
        fs::write(d.join("abc-json.log.1"), "older output\n").unwrap();
        fs::write(d.join("health.json"), "{}").unwrap();
        empty("abc", &d).unwrap();
        let mut names: Vec<String> = fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let mut want: Vec<String> = KEPT.iter().map(|s| s.to_string()).collect();
        want.extend([LOG.to_string(), "merged".to_string()]);
        want.sort();
        assert_eq!(names, want);
        for f in KEPT.iter().chain([&LOG]) {
            assert_eq!(fs::read(d.join(f)).unwrap(), b"", "{f} emptied");
        }
        // A mount point still holding something: no spare.
        fs::write(d.join("merged/x"), "").unwrap();
        assert!(empty("abc", &d).is_err());
    }
}
