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
    ///
    /// `fsconfig` takes a string value of at most 256 bytes (the kernel copies it with
    /// `strndup_user(value, 256)`), so a `lowerdir=a:b:c` of three layers under a
    /// state root already fails with EINVAL. Each layer is therefore given on its own
    /// with `lowerdir+` (Linux 6.8 and later); on older kernels, which do not know
    /// `lowerdir+`, the layers go in one `lowerdir` as `/proc/self/fd/N` paths of
    /// descriptors held open here (about 17 bytes a layer). Any single path longer than
    /// the limit is given through its descriptor too.
    pub fn overlay(upper: &Path, work: Option<&Path>, layers: &[PathBuf]) -> Result<RootDir> {
        let mut lower: Vec<PathBuf> = layers.iter().rev().cloned().collect();
        if work.is_none() {
            lower.insert(0, upper.to_path_buf());
        }
        if lower.len() == 1 {
            // An overlay needs two layers without an upper: add an empty one.
            lower.push(empty_dir()?);
        }
        let mut held = Vec::new();
        match Self::overlay_with(&lower, upper, work, LowerForm::PerLayer, &mut held) {
            Err(e) if e.0 == Some(rustix::io::Errno::INVAL) && e.1 => {
                // `lowerdir+` unknown (Linux before 6.8): one `lowerdir` of fd paths.
                Self::overlay_with(&lower, upper, work, LowerForm::FdPaths, &mut held)
                    .map_err(|e| e.2)
            }
            r => r.map_err(|e| e.2),
        }
    }

    fn overlay_with(
        lower: &[PathBuf],
        upper: &Path,
        work: Option<&Path>,
        form: LowerForm,
        held: &mut Vec<OwnedFd>,
    ) -> std::result::Result<RootDir, (Option<rustix::io::Errno>, bool, EngineError)> {
        let mk = |e| {
            (
                Some(e),
                false,
                sys("creating an overlay mount for the container's files", e),
            )
        };
        let fs = rustix::mount::fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC).map_err(mk)?;
        let set = |k: &str, v: &str, first_plus: bool| {
            rustix::mount::fsconfig_set_string(&fs, k, v).map_err(|e| {
                (
                    Some(e),
                    first_plus,
                    sys(format!("overlay option {k}={v}"), e),
                )
            })
        };
        match form {
            LowerForm::PerLayer => {
                for (i, l) in lower.iter().enumerate() {
                    let v = short_path(l, held).map_err(|e| (None, false, e))?;
                    set("lowerdir+", &v, i == 0)?;
                }
            }
            LowerForm::FdPaths => {
                let mut parts = Vec::new();
                for l in lower {
                    parts.push(fd_path(l, held).map_err(|e| (None, false, e))?);
                }
                let v = parts.join(":");
                if v.len() >= FSCONFIG_MAX {
                    return Err((
                        None,
                        false,
                        EngineError::invalid(format!(
                            "this image has too many layers ({}) for this kernel's mount API: \
                             Linux 6.8 or later mounts any number",
                            lower.len()
                        )),
                    ));
                }
                set("lowerdir", &v, false)?;
            }
        }
        if let Some(w) = work {
            let u = short_path(upper, held).map_err(|e| (None, false, e))?;
            set("upperdir", &u, false)?;
            let w = short_path(w, held).map_err(|e| (None, false, e))?;
            set("workdir", &w, false)?;
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

/// How the lower layers are handed to the kernel.
#[derive(Clone, Copy)]
enum LowerForm {
    /// One `lowerdir+` per layer (Linux 6.8+).
    PerLayer,
    /// One `lowerdir` of `/proc/self/fd/N` paths.
    FdPaths,
}

/// The longest string value `fsconfig` takes is 255 bytes and its NUL.
const FSCONFIG_MAX: usize = 256;

/// `p` itself when the kernel takes it as a string value, else its descriptor's path.
fn short_path(p: &Path, held: &mut Vec<OwnedFd>) -> Result<String> {
    let s = p.display().to_string();
    if s.len() < FSCONFIG_MAX && !s.contains([':', ',', '\\']) {
        Ok(s)
    } else {
        fd_path(p, held)
    }
}

/// `/proc/self/fd/N` for `p` opened as a path descriptor, kept in `held` until the
/// mount is made (overlay resolves the path when the option is set).
fn fd_path(p: &Path, held: &mut Vec<OwnedFd>) -> Result<String> {
    let fd = rustix::fs::open(
        p,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| sys(format!("opening the layer {}", p.display()), e))?;
    let s = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&fd));
    held.push(fd);
    Ok(s)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Layers with long paths (each near 200 bytes, far past fsconfig's 256 together),
    /// read-only and writable, in both of the forms the kernel may be given; as root.
    #[test]
    fn overlays_of_many_long_layer_paths_mount() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: needs root for mounts");
            return;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let deep = dir.path().join("d".repeat(120)).join("e".repeat(60));
        let layers: Vec<PathBuf> = (0..5)
            .map(|i| {
                let l = deep.join(format!("layer{i}"));
                std::fs::create_dir_all(&l).expect("layer");
                std::fs::write(l.join(format!("f{i}")), "x").expect("file");
                l
            })
            .collect();
        let upper = deep.join("upper");
        let work = deep.join("work");
        std::fs::create_dir_all(&upper).expect("upper");
        std::fs::create_dir_all(&work).expect("work");
        for form in [LowerForm::PerLayer, LowerForm::FdPaths] {
            for w in [None, Some(work.as_path())] {
                let mut held = Vec::new();
                let lower: Vec<PathBuf> = layers.iter().rev().cloned().collect();
                match RootDir::overlay_with(&lower, &upper, w, form, &mut held) {
                    Ok(root) => {
                        for i in 0..5 {
                            root.open(&format!("/f{i}"), OFlags::RDONLY)
                                .expect("a file of each layer");
                        }
                    }
                    // Linux before 6.8 has no lowerdir+; overlay() falls back then.
                    Err((Some(rustix::io::Errno::INVAL), true, _)) => {}
                    Err((_, _, e)) => panic!("mount failed: {e}"),
                }
            }
        }
        // And the public entry point, whichever form this kernel takes.
        let root = RootDir::overlay(&upper, None, &layers).expect("read-only overlay");
        root.open("/f0", OFlags::RDONLY)
            .expect("bottom layer's file");
    }
}
