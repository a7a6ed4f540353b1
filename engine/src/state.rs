//! The state root on disk, atomic writes and file locks.
//!
//! Layout (see ARCHITECTURE.md): `blobs/sha256/<hex>`, `layers/<chain-id>/`,
//! `images.json`, `containers/<id>/`, `volumes/<name>/_data`, `networks/`,
//! `events.jsonl`, `audit.jsonl`, `run/` (locks, sockets, monitor pids), `tmp/`.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use crate::error::{EngineError, IoContext, Result};

/// Default state root when neither `--root` nor `WHARF_ROOT` is given.
pub const DEFAULT_ROOT: &str = "/var/lib/wharf";

/// The state root: every path the engine keeps state in derives from it.
#[derive(Debug, Clone)]
pub struct StateRoot {
    path: PathBuf,
}

impl StateRoot {
    /// Open (and create if needed) the state root at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let path = if path.is_absolute() {
            path.to_path_buf()
        } else {
            std::env::current_dir()
                .ctx(|| "reading the current directory".into())?
                .join(path)
        };
        let root = StateRoot { path };
        for d in [
            "blobs/sha256",
            "layers",
            "containers",
            "volumes",
            "networks",
            "run",
            "tmp",
        ] {
            let p = root.path.join(d);
            fs::create_dir_all(&p).ctx(|| format!("creating state directory {}", p.display()))?;
        }
        root.close()?;
        Ok(root)
    }

    /// Keep the root closed to everyone but its owner (`0700`), and close a root made
    /// by an older wharf (`0711`). The root holds other users' data, and containers'
    /// writable layers (`containers/<id>/diff`) and volumes (`volumes/<name>/_data`)
    /// where a container's root may have left a setuid-root program: with the root
    /// traversable, a local user who knows the path could run it. Nothing needs the
    /// traversal: containers see their files through their own mounts, exec enters
    /// them by namespace, and `wharf serve` clients only use the socket.
    fn close(&self) -> Result<()> {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let md = fs::metadata(&self.path)
            .ctx(|| format!("reading state directory {}", self.path.display()))?;
        if md.mode() & 0o077 == 0 {
            return Ok(());
        }
        let mode = md.mode() & 0o7700;
        match fs::set_permissions(&self.path, fs::Permissions::from_mode(mode)) {
            Ok(()) => Ok(()),
            // Not the owner (a user reading a root's state): nothing this process can
            // fix, and nothing it could open anyway.
            Err(e) if md.uid() != nix::unistd::geteuid().as_raw() => {
                tracing::warn!(
                    "the state root {} is open to other users (mode {:o}) and this user cannot close it: {e}",
                    self.path.display(),
                    md.mode() & 0o7777
                );
                Ok(())
            }
            Err(e) => Err(EngineError::io(
                format!(
                    "closing state root {} to other users (chmod 700)",
                    self.path.display()
                ),
                e,
            )),
        }
    }

    /// The root directory itself.
    pub fn path(&self) -> &Path {
        &self.path
    }
    /// `blobs/sha256`
    pub fn blobs(&self) -> PathBuf {
        self.path.join("blobs/sha256")
    }
    /// `layers`
    pub fn layers(&self) -> PathBuf {
        self.path.join("layers")
    }
    /// `containers`
    pub fn containers(&self) -> PathBuf {
        self.path.join("containers")
    }
    /// `volumes`
    pub fn volumes(&self) -> PathBuf {
        self.path.join("volumes")
    }
    /// `networks`
    pub fn networks(&self) -> PathBuf {
        self.path.join("networks")
    }
    /// `run`: locks, sockets, pid files.
    pub fn run(&self) -> PathBuf {
        self.path.join("run")
    }
    /// `tmp`: staging area on the same file system, so finished work can be renamed in.
    pub fn tmp(&self) -> PathBuf {
        self.path.join("tmp")
    }
    /// A fresh private staging directory under `tmp/`; the caller renames or removes it.
    pub fn staging_dir(&self, what: &str) -> Result<PathBuf> {
        let p = self
            .tmp()
            .join(format!("{what}-{}", &crate::ids::new_id()[..16]));
        fs::create_dir_all(&p).ctx(|| format!("creating staging directory {}", p.display()))?;
        Ok(p)
    }
    /// Take the named lock under `run/` (exclusive), e.g. `lock("images")`.
    pub fn lock(&self, name: &str) -> Result<FileLock> {
        FileLock::exclusive(&self.run().join(format!("{name}.lock")))
    }
    /// Take the named lock under `run/` shared, for readers.
    pub fn lock_shared(&self, name: &str) -> Result<FileLock> {
        FileLock::shared(&self.run().join(format!("{name}.lock")))
    }
}

/// Write `data` to `path` atomically: write a temporary file beside it, fsync it,
/// rename it over `path`, fsync the directory. A crash leaves the old or the new file.
pub fn atomic_write(path: &Path, data: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| EngineError::internal(format!("{} has no parent", path.display())))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", &crate::ids::new_id()[..12]));
    let res = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .ctx(|| format!("creating {}", tmp.display()))?;
        f.write_all(data)
            .ctx(|| format!("writing {}", path.display()))?;
        f.sync_all().ctx(|| format!("syncing {}", path.display()))?;
        fs::rename(&tmp, path).ctx(|| format!("replacing {}", path.display()))?;
        sync_dir(dir)
    })();
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res
}

/// Write `data` over the file at `path` (created if missing) in place: from its start,
/// then cut to the new length. Never emptied first: on ext4, a file truncated to
/// nothing and written again is forced to disk when it is closed (`auto_da_alloc`),
/// and the next truncation frees that block, which on a root mounted with `discard`
/// and no journal waits for the device (0.25 ms a file on the machines measured).
/// Not atomic: for files no one reads while they are rewritten (a spare, a marker
/// read under a lock). Returns the file, for a caller that syncs it.
pub fn overwrite(path: &Path, data: &[u8]) -> std::io::Result<File> {
    use std::os::unix::fs::FileExt;
    let f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)?;
    f.write_all_at(data, 0)?;
    if f.metadata()?.len() != data.len() as u64 {
        f.set_len(data.len() as u64)?;
    }
    Ok(f)
}

/// Replace the file at `path` with `data` through its spare: `data` is written into
/// the spare in place ([`overwrite`]), then the two are swapped in one step
/// (`renameat2` RENAME_EXCHANGE), so the spare holds the old content for the next
/// write. Readers see the old file or the new one, whole, as after a rename; one that
/// opened the old file and reads it after the *next* write may see that write half
/// done (a reader reads again what does not parse). Writers must exclude each other.
///
/// No file is made per write, and none is forced to disk: ext4 writes a file renamed
/// over another out at once (`auto_da_alloc`), and the next replacement then frees its
/// block, a synchronous discard on a root mounted with `discard` without a journal.
/// No `path` yet, or a file system without the exchange: the spare is renamed.
pub fn replace_via_spare(spare: &Path, path: &Path, data: &[u8]) -> std::io::Result<()> {
    use nix::fcntl::{renameat2, RenameFlags, AT_FDCWD};
    overwrite(spare, data)?;
    match renameat2(
        AT_FDCWD,
        spare,
        AT_FDCWD,
        path,
        RenameFlags::RENAME_EXCHANGE,
    ) {
        Ok(()) => Ok(()),
        Err(nix::errno::Errno::ENOENT | nix::errno::Errno::EINVAL) => fs::rename(spare, path),
        Err(e) => Err(e.into()),
    }
}

/// Serialize `value` as pretty JSON and write it atomically.
pub fn atomic_write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let data = serde_json::to_vec_pretty(value)
        .map_err(|e| EngineError::internal(format!("serializing {}: {e}", path.display())))?;
    atomic_write(path, &data)
}

/// Read a JSON file; `Ok(None)` if it does not exist. A damaged file is a clear error.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    match fs::read(path) {
        Ok(data) => serde_json::from_slice(&data).map(Some).map_err(|e| {
            EngineError::corrupt(format!(
                "{} is damaged ({e}); restore it from a backup or remove it",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(EngineError::io(format!("reading {}", path.display()), e)),
    }
}

/// This boot's id (`/proc/sys/kernel/random/boot_id`; empty if the kernel does not
/// say): what outlives a process but not the machine is recorded with it.
pub fn boot_id() -> String {
    fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// fsync a directory so a rename in it is durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    let d = File::open(dir).ctx(|| format!("opening {}", dir.display()))?;
    d.sync_all().ctx(|| format!("syncing {}", dir.display()))
}

/// What [`FileLock::probe`] found.
#[derive(Debug)]
pub enum Probe {
    /// There is no such lock file.
    Missing,
    /// A live process holds it.
    Held,
    /// Nobody held it; now we do (exclusively), until the lock is dropped.
    Free(FileLock),
}

/// An advisory `flock` held until dropped. Several wharf processes on one root
/// serialize their writers through these.
#[derive(Debug)]
pub struct FileLock {
    file: File,
}

impl FileLock {
    /// Block until the exclusive lock on `path` (created if missing) is held.
    pub fn exclusive(path: &Path) -> Result<Self> {
        Self::take(path, libc::LOCK_EX)
    }
    /// Block until a shared lock on `path` is held.
    pub fn shared(path: &Path) -> Result<Self> {
        Self::take(path, libc::LOCK_SH)
    }
    /// Try the exclusive lock without blocking; `Ok(None)` if someone holds it.
    pub fn try_exclusive(path: &Path) -> Result<Option<Self>> {
        Self::try_on(Self::open(path)?, path)
    }

    /// The exclusive lock on `file` (opened from `path`) without blocking.
    fn try_on(file: File, path: &Path) -> Result<Option<Self>> {
        // SAFETY: flock on a valid, owned fd; no memory is passed.
        let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if r == 0 {
            return Ok(Some(FileLock { file }));
        }
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
            Ok(None)
        } else {
            Err(EngineError::io(format!("locking {}", path.display()), err))
        }
    }

    /// Try the exclusive lock on the directory `dir` itself (no file made for it);
    /// `Ok(None)` if someone holds it. The lock stays with the directory through a
    /// rename.
    pub fn try_exclusive_dir(dir: &Path) -> Result<Option<Self>> {
        use std::os::unix::fs::OpenOptionsExt;
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY)
            .open(dir)
            .map_err(|e| EngineError::io(format!("opening {}", dir.display()), e))?;
        Self::try_on(file, dir)
    }

    /// Who holds the lock file at `path`, without creating it or waiting: a lock file
    /// whose holder died is free (the kernel drops a dead process's locks).
    pub fn probe(path: &Path) -> Result<Probe> {
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Probe::Missing),
            Err(e) => {
                return Err(EngineError::io(
                    format!("opening lock {}", path.display()),
                    e,
                ))
            }
        };
        // SAFETY: flock on a valid, owned fd; no memory is passed.
        let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if r == 0 {
            return Ok(Probe::Free(FileLock { file }));
        }
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
            Ok(Probe::Held)
        } else {
            Err(EngineError::io(format!("locking {}", path.display()), err))
        }
    }

    fn open(path: &Path) -> Result<File> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .ctx(|| format!("opening lock {}", path.display()))
    }

    fn take(path: &Path, op: libc::c_int) -> Result<Self> {
        let file = Self::open(path)?;
        loop {
            // SAFETY: flock on a valid, owned fd; no memory is passed.
            let r = unsafe { libc::flock(file.as_raw_fd(), op) };
            if r == 0 {
                return Ok(FileLock { file });
            }
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EINTR) {
                return Err(EngineError::io(format!("locking {}", path.display()), err));
            }
        }
    }

    /// The locked file (e.g. to write a pid into it).
    pub fn file(&self) -> &File {
        &self.file
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.json");
        atomic_write(&p, b"one").unwrap();
        atomic_write(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn overwrite_keeps_the_file_and_cuts_it_to_the_new_length() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("spare");
        overwrite(&p, b"a longer first text").unwrap();
        let ino = fs::metadata(&p).unwrap().ino();
        overwrite(&p, b"short").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"short");
        overwrite(&p, b"").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"");
        overwrite(&p, b"again, longer than before").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"again, longer than before");
        assert_eq!(fs::metadata(&p).unwrap().ino(), ino, "rewritten in place");
    }

    #[test]
    fn replace_via_spare_is_a_rename_for_readers_and_keeps_one_spare() {
        use std::io::Read;
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state.json");
        let spare = dir.path().join(".state.json.spare");
        // No file yet: the spare is renamed into place.
        replace_via_spare(&spare, &p, b"first").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"first");
        assert!(!spare.exists());
        // A reader that opened the old file reads it whole after the swap.
        let mut reader = File::open(&p).unwrap();
        let first = fs::metadata(&p).unwrap().ino();
        replace_via_spare(&spare, &p, b"second, longer").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"second, longer");
        let mut old = String::new();
        reader.read_to_string(&mut old).unwrap();
        assert_eq!(old, "first");
        // The two files take turns: no third one is made.
        replace_via_spare(&spare, &p, b"third").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"third");
        assert_eq!(fs::metadata(&p).unwrap().ino(), first);
        let mut names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names, [".state.json.spare", "state.json"]);
    }

    #[test]
    fn damaged_json_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("images.json");
        fs::write(&p, b"{not json").unwrap();
        let e = read_json::<serde_json::Value>(&p).unwrap_err();
        assert!(e.message.contains("images.json is damaged"), "{e}");
        assert_eq!(
            read_json::<serde_json::Value>(&dir.path().join("none")).unwrap(),
            None
        );
    }

    #[test]
    fn probe_tells_held_free_and_missing_apart() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("owner");
        assert!(matches!(FileLock::probe(&p).unwrap(), Probe::Missing));
        assert!(!p.exists(), "probe created the lock file");
        let held = FileLock::exclusive(&p).unwrap();
        assert!(matches!(FileLock::probe(&p).unwrap(), Probe::Held));
        drop(held);
        let free = FileLock::probe(&p).unwrap();
        assert!(matches!(free, Probe::Free(_)));
        assert!(FileLock::try_exclusive(&p).unwrap().is_none());
    }

    #[test]
    fn root_is_closed_and_old_roots_are_closed_at_open() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("root");
        StateRoot::open(&p).unwrap();
        assert_eq!(fs::metadata(&p).unwrap().mode() & 0o7777, 0o700);
        // A root made by an older wharf (0711) is closed when opened.
        fs::set_permissions(&p, fs::Permissions::from_mode(0o711)).unwrap();
        StateRoot::open(&p).unwrap();
        assert_eq!(fs::metadata(&p).unwrap().mode() & 0o7777, 0o700);
    }

    #[test]
    fn exclusive_lock_excludes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.lock");
        let held = FileLock::exclusive(&p).unwrap();
        assert!(FileLock::try_exclusive(&p).unwrap().is_none());
        drop(held);
        assert!(FileLock::try_exclusive(&p).unwrap().is_some());
    }
}
