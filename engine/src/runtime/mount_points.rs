//! The mount points an image lacks for the files every container gets bind-mounted
//! (/etc/hostname, /etc/hosts, /etc/resolv.conf), in a small read-only layer shared by
//! every container that needs the same ones and stacked above the image's layers.
//!
//! Without it, the init creates them in the container's writable layer: a copy-up of
//! /etc and two or three new files per start (a quarter of a millisecond of a short
//! `run` here, and as many files deleted again by `--rm`). Docker makes a per-container
//! "init" layer for the same files; this one is made once per need and kept under
//! `run/mountpoints/`.
//!
//! The layer's /etc has the mode and owner of the image's own (a directory's attributes
//! come from the topmost layer that has it), and the layer is used only when the image's
//! /etc is a directory or absent: a symlinked /etc keeps the old way.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{IoContext, Result};
use crate::LocalEngine;

/// The files the runtime mounts over, under /etc.
const FILES: [&str; 3] = ["hostname", "hosts", "resolv.conf"];

/// What `path` in one layer says about the merged view.
enum Seen {
    /// The layer has no such entry: look further down.
    Nothing,
    /// A whiteout: the path is absent from here down.
    Removed,
    /// An entry with this metadata.
    Entry(fs::Metadata),
}

fn look(layer: &Path, rel: &str) -> Seen {
    match fs::symlink_metadata(layer.join(rel)) {
        Err(_) => Seen::Nothing,
        Ok(m) if m.file_type().is_char_device() && m.rdev() == 0 => Seen::Removed,
        Ok(m) => Seen::Entry(m),
    }
}

fn opaque(dir: &Path) -> bool {
    matches!(xattr::get(dir, "trusted.overlay.opaque"), Ok(Some(v)) if v == b"y")
}

/// Mode, owner and group of a directory.
type Attrs = (u32, u32, u32);

/// What an image's /etc needs.
#[derive(Debug, PartialEq)]
struct Need {
    /// The attributes of the image's /etc; `None`: it has none.
    etc: Option<Attrs>,
    /// Which of [`FILES`] it lacks.
    missing: Vec<&'static str>,
}

/// The image's /etc as its layers (bottom first) merge it: `None` if it is something
/// other than a directory.
fn needs(layers: &[PathBuf]) -> Option<Need> {
    let mut etc = None;
    let mut found = [false; FILES.len()];
    let mut settled = [false; FILES.len()];
    for layer in layers.iter().rev() {
        match look(layer, "etc") {
            Seen::Nothing => continue,
            Seen::Removed => break,
            Seen::Entry(m) if !m.is_dir() => {
                // A non-directory on top: no layer. Below a directory: hidden by it.
                etc?;
                break;
            }
            Seen::Entry(m) => {
                if etc.is_none() {
                    etc = Some((m.mode() & 0o7777, m.uid(), m.gid()));
                }
            }
        }
        let dir = layer.join("etc");
        for (i, f) in FILES.iter().enumerate() {
            if settled[i] {
                continue;
            }
            match look(&dir, f) {
                Seen::Nothing => {}
                Seen::Removed => settled[i] = true,
                Seen::Entry(_) => (found[i], settled[i]) = (true, true),
            }
        }
        if settled.iter().all(|s| *s) || opaque(&dir) {
            break;
        }
    }
    let missing = FILES
        .iter()
        .zip(found)
        .filter(|(_, f)| !f)
        .map(|(n, _)| *n)
        .collect();
    Some(Need { etc, missing })
}

/// The image layers of a container, bottom first, with the mount-point layer on top
/// when the image lacks some of the files and its /etc allows one: as the container
/// runs, and as `cp` and `export` see it stopped. A failure to make the layer is not
/// the start's: the init then creates the files itself.
pub fn layers_for(engine: &LocalEngine, image_layers: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = image_layers.to_vec();
    if let Some(extra) = layer(engine, image_layers) {
        out.push(extra);
    }
    out
}

fn layer(engine: &LocalEngine, image_layers: &[PathBuf]) -> Option<PathBuf> {
    // No layers is the start's error to tell (the image is broken), not this one's.
    if image_layers.is_empty() {
        return None;
    }
    let Need { etc, missing } = needs(image_layers)?;
    if missing.is_empty() {
        return None;
    }
    let (mode, uid, gid) = etc.unwrap_or((0o755, 0, 0));
    let base = engine.root().run().join("mountpoints");
    let path = base.join(format!("{mode:o}-{uid}-{gid}-{}", missing.join("+")));
    if path.is_dir() {
        return Some(path);
    }
    match make(engine, &base, &path, (mode, uid, gid), &missing) {
        Ok(()) => Some(path),
        Err(e) => {
            tracing::warn!("making the mount-point layer {}: {e}", path.display());
            None
        }
    }
}

/// Build the layer aside and rename it into place (a concurrent start may have done
/// the same: its layer is as good).
fn make(
    engine: &LocalEngine,
    base: &Path,
    path: &Path,
    (mode, uid, gid): Attrs,
    missing: &[&str],
) -> Result<()> {
    fs::create_dir_all(base).ctx(|| format!("creating {}", base.display()))?;
    let stage = engine.root().staging_dir("mountpoints")?;
    let res = (|| {
        let etc = stage.join("etc");
        fs::create_dir(&etc).ctx(|| format!("creating {}", etc.display()))?;
        for f in missing {
            fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o644)
                .open(etc.join(f))
                .ctx(|| format!("creating {}", etc.join(f).display()))?;
        }
        std::os::unix::fs::chown(&etc, Some(uid), Some(gid))
            .ctx(|| format!("giving {} its owner", etc.display()))?;
        fs::set_permissions(&etc, fs::Permissions::from_mode(mode))
            .ctx(|| format!("setting the mode of {}", etc.display()))?;
        fs::set_permissions(&stage, fs::Permissions::from_mode(0o755))
            .ctx(|| format!("setting the mode of {}", stage.display()))?;
        match fs::rename(&stage, path) {
            Ok(()) => Ok(()),
            Err(_) if path.is_dir() => Ok(()),
            Err(e) => Err(crate::error::EngineError::io(
                format!("placing {}", path.display()),
                e,
            )),
        }
    })();
    if stage.exists() {
        let _ = fs::remove_dir_all(&stage);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(base: &Path, name: &str) -> PathBuf {
        let p = base.join(name);
        fs::create_dir_all(&p).unwrap();
        p
    }

    #[test]
    fn what_an_image_lacks_is_read_through_its_layers() {
        let t = tempfile::tempdir().unwrap();
        // No /etc at all: every file, in a default /etc.
        let bare = layer(t.path(), "bare");
        assert_eq!(
            needs(std::slice::from_ref(&bare)).unwrap(),
            Need {
                etc: None,
                missing: FILES.to_vec()
            }
        );
        // /etc with hosts in a lower layer, hostname in an upper one.
        let low = layer(t.path(), "low");
        fs::create_dir(low.join("etc")).unwrap();
        fs::set_permissions(low.join("etc"), fs::Permissions::from_mode(0o751)).unwrap();
        fs::write(low.join("etc/hosts"), "").unwrap();
        let up = layer(t.path(), "up");
        fs::create_dir(up.join("etc")).unwrap();
        fs::set_permissions(up.join("etc"), fs::Permissions::from_mode(0o750)).unwrap();
        fs::write(up.join("etc/hostname"), "").unwrap();
        let need = needs(&[low.clone(), up.clone()]).unwrap();
        assert_eq!(
            need.etc.map(|e| e.0),
            Some(0o750),
            "the topmost /etc's mode"
        );
        assert_eq!(need.missing, ["resolv.conf"]);
        // A symlinked /etc on top: no layer.
        let link = layer(t.path(), "link");
        std::os::unix::fs::symlink("usr/etc", link.join("etc")).unwrap();
        assert!(needs(&[low.clone(), link]).is_none());
    }

    #[test]
    fn whiteouts_and_opaque_directories_hide_lower_files() {
        if !nix::unistd::geteuid().is_root() {
            return;
        }
        let t = tempfile::tempdir().unwrap();
        let low = layer(t.path(), "low");
        fs::create_dir(low.join("etc")).unwrap();
        for f in FILES {
            fs::write(low.join("etc").join(f), "x").unwrap();
        }
        assert!(needs(std::slice::from_ref(&low))
            .unwrap()
            .missing
            .is_empty());
        // A whiteout of hosts.
        let wh = layer(t.path(), "wh");
        fs::create_dir(wh.join("etc")).unwrap();
        nix::sys::stat::mknod(
            &wh.join("etc/hosts"),
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::from_bits_truncate(0o000),
            0,
        )
        .unwrap();
        assert_eq!(needs(&[low.clone(), wh]).unwrap().missing, ["hosts"]);
        // An opaque /etc with only hostname.
        let op = layer(t.path(), "op");
        fs::create_dir(op.join("etc")).unwrap();
        fs::write(op.join("etc/hostname"), "").unwrap();
        xattr::set(op.join("etc"), "trusted.overlay.opaque", b"y").unwrap();
        assert_eq!(
            needs(&[low.clone(), op]).unwrap().missing,
            ["hosts", "resolv.conf"]
        );
        // /etc itself whited out: everything, in a default /etc.
        let gone = layer(t.path(), "gone");
        nix::sys::stat::mknod(
            &gone.join("etc"),
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::from_bits_truncate(0o000),
            0,
        )
        .unwrap();
        assert_eq!(
            needs(&[low, gone]).unwrap(),
            Need {
                etc: None,
                missing: FILES.to_vec()
            }
        );
    }
}
