//! Safe access to a container's file system from the host.
//!
//! A [`RootDir`] is a directory descriptor for the container's `/`: the running
//! container's root through `/proc/<pid>/root` (its mounts and volumes included), or a
//! private overlay mount made with the new mount API (`fsopen`/`fsmount`): a detached
//! mount that no one else can see and that the kernel removes when the descriptor is
//! closed, so a crash never leaves a mount behind. Every path is resolved with
//! `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`: `..` and absolute symlinks stop
//! at the container's root, exactly as they would inside the container.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::mount::{FsMountFlags, FsOpenFlags, MountAttrFlags};

use crate::error::{EngineError, Result};

/// A container's root directory, held open.
pub struct RootDir {
    fd: OwnedFd,
}

fn sys(doing: impl std::fmt::Display, e: rustix::io::Errno) -> EngineError {
    EngineError::io(doing, std::io::Error::from_raw_os_error(e.raw_os_error()))
}

impl RootDir {
    /// The root of running process `pid` (the container's init).
    pub fn of_process(pid: i32) -> Result<RootDir> {
        let fd = rustix::fs::open(
            format!("/proc/{pid}/root"),
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| sys(format!("opening the root of process {pid}"), e))?;
        Ok(RootDir { fd })
    }

    /// A private overlay of `layers` (bottom first) with `upper`: writable when `work`
    /// is given (changes go to `upper`), read-only otherwise (then `upper` is simply the
    /// top layer, so a running container's own mount is not disturbed).
    pub fn overlay(upper: &Path, work: Option<&Path>, layers: &[PathBuf]) -> Result<RootDir> {
        let mk = |e| sys("creating an overlay mount for the container's files", e);
        let fs = rustix::mount::fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC).map_err(mk)?;
        let mut lower: Vec<String> = layers
            .iter()
            .rev()
            .map(|p| p.display().to_string())
            .collect();
        if work.is_none() {
            lower.insert(0, upper.display().to_string());
        }
        if lower.len() == 1 {
            // An overlay needs two layers without an upper: add an empty one.
            lower.push(empty_dir()?.display().to_string());
        }
        let set = |k: &str, v: &str| {
            rustix::mount::fsconfig_set_string(&fs, k, v)
                .map_err(|e| sys(format!("overlay option {k}={v}"), e))
        };
        set("lowerdir", &lower.join(":"))?;
        if let Some(w) = work {
            set("upperdir", &upper.display().to_string())?;
            set("workdir", &w.display().to_string())?;
        }
        rustix::mount::fsconfig_create(&fs).map_err(mk)?;
        let attrs = if work.is_some() {
            MountAttrFlags::empty()
        } else {
            MountAttrFlags::MOUNT_ATTR_RDONLY
        };
        let fd = rustix::mount::fsmount(&fs, FsMountFlags::FSMOUNT_CLOEXEC, attrs).map_err(mk)?;
        Ok(RootDir { fd })
    }

    /// The root descriptor.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Open `path` (absolute or relative, both from the container's root) inside the root.
    pub fn open(&self, path: &str, flags: OFlags) -> Result<OwnedFd> {
        open_in(self.fd.as_fd(), path, flags)
    }
}

/// Open `path` under `dir` with `dir` as the root for every step of the resolution.
pub fn open_in(dir: BorrowedFd<'_>, path: &str, flags: OFlags) -> Result<OwnedFd> {
    let rel = path.trim_start_matches('/');
    let rel = if rel.is_empty() { "." } else { rel };
    rustix::fs::openat2(
        dir,
        rel,
        flags | OFlags::CLOEXEC,
        // openat2 insists on a zero mode unless a file may be created.
        if flags.contains(OFlags::CREATE) {
            Mode::from_raw_mode(0o644)
        } else {
            Mode::empty()
        },
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    )
    .map_err(|e| {
        if e == rustix::io::Errno::NOENT {
            EngineError::not_found("path", path, "check the path inside the container")
        } else {
            sys(format!("opening {path} in the container"), e)
        }
    })
}

/// An empty directory to stand in for a missing layer.
fn empty_dir() -> Result<PathBuf> {
    let p = std::env::temp_dir().join("wharf-empty-layer");
    std::fs::create_dir_all(&p).map_err(|e| EngineError::io("creating an empty layer", e))?;
    Ok(p)
}

/// Split `/a/b/c` into (`/a/b`, `c`); `/` gives (`/`, `.`).
pub fn split(path: &str) -> (String, String) {
    let p = path.trim_end_matches('/');
    match p.rsplit_once('/') {
        Some((d, n)) if !n.is_empty() => (
            if d.is_empty() {
                "/".into()
            } else {
                d.to_string()
            },
            n.to_string(),
        ),
        _ if p.is_empty() => ("/".into(), ".".into()),
        _ => (".".into(), p.to_string()),
    }
}
