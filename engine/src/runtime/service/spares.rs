//! Spare container directories: what a removal leaves of a container's directory,
//! emptied, kept for the next create instead of deleted and made anew.
//!
//! On a root without a journal, ext4 does not reuse an inode freed in the last minutes:
//! each new file walks past every such inode of its group, so a run's new files cost
//! more the more files the runs before it deleted (a quarter of a short `run`'s CPU after
//! a few dozen `--rm` runs). A spare keeps the container's directory, its mount point,
//! writable layer and overlay work directory, its config, state, log, lock and /etc
//! files; a create takes one, writes what is its own into it before anyone can see it,
//! and renames it into `containers/`.
//!
//! What a spare keeps holds nothing of its container: the writable layer and the work
//! directory are emptied and given back the mode, owner and (but for security labels)
//! extended attributes of a new one (the writable layer's own are the container's root
//! directory's), every kept file is emptied, anything else is deleted. At most [`KEEP`]
//! spares are kept; a removal beyond that deletes.

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
    // What a directory made by the create has (the mount point is never written).
    let made = fs::metadata(dir.join("merged"))?;
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
        } else if (name == "diff" || name == "work") && kind.is_dir() {
            reset(&path, &made)?;
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

/// Make the writable layer or overlay work directory `path` what a fresh one is: empty,
/// with the mode and owner of one just made (`made`), and none of the extended
/// attributes the container or the overlay gave it (the upper directory's own
/// attributes are the container's root directory's). Security labels stay.
fn reset(path: &Path, made: &fs::Metadata) -> std::io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    for e in fs::read_dir(path)? {
        let e = e?;
        if e.file_type()?.is_dir() {
            fs::remove_dir_all(e.path())?;
        } else {
            fs::remove_file(e.path())?;
        }
    }
    for name in xattr::list(path)? {
        let n = name.to_string_lossy();
        if !n.starts_with("security.") {
            xattr::remove(path, &name)?;
        }
    }
    std::os::unix::fs::chown(path, Some(made.uid()), Some(made.gid()))?;
    fs::set_permissions(path, fs::Permissions::from_mode(made.mode() & 0o7777))
}

/// Take a spare for container `id`: renamed to `tmp/taken-<id>`, with an empty mount
/// point, writable layer and work directory, and empty files; the caller writes its
/// config and state and renames it into `containers/` ([`publish`]). `None` when there
/// is none.
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
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_spare_keeps_only_empty_files_and_its_mount_point() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("c");
        for sub in ["diff/etc", "work/work", "merged"] {
            fs::create_dir_all(d.join(sub)).unwrap();
        }
        fs::write(d.join("diff/etc/secret"), "of the last container").unwrap();
        // What a container's `chmod 700 /` and `setfattr` on / leave on its upper layer.
        fs::set_permissions(d.join("diff"), fs::Permissions::from_mode(0o700)).unwrap();
        xattr::set(d.join("diff"), "user.mark", b"x").unwrap();
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
        want.extend(["diff", "merged", "work", LOG].map(String::from));
        want.sort();
        assert_eq!(names, want);
        for f in KEPT.iter().chain([&LOG]) {
            assert_eq!(fs::read(d.join(f)).unwrap(), b"", "{f} emptied");
        }
        for sub in ["diff", "work"] {
            assert_eq!(
                fs::read_dir(d.join(sub)).unwrap().count(),
                0,
                "{sub} emptied"
            );
            let md = fs::metadata(d.join(sub)).unwrap();
            assert_eq!(
                md.permissions().mode() & 0o7777,
                fs::metadata(d.join("merged")).unwrap().permissions().mode() & 0o7777,
                "{sub} has a new directory's mode"
            );
            assert!(xattr::list(d.join(sub)).unwrap().next().is_none(), "{sub}");
        }
        // A mount point still holding something: no spare.
        fs::write(d.join("merged/x"), "").unwrap();
        assert!(empty("abc", &d).is_err());
    }
}
