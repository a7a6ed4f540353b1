//! Tar streams out of and into a container's file system, descriptor by descriptor:
//! nothing is ever looked up by a host path that a container could redirect.
//!
//! Reading walks directories with `openat(O_NOFOLLOW)` and `fstatat(AT_SYMLINK_NOFOLLOW)`
//! from a parent descriptor; symlinks are archived as symlinks. In [`Walk::Upper`] mode
//! (commit) overlay whiteouts become OCI `.wh.NAME` entries and opaque directories get a
//! `.wh..wh..opq` entry. Writing resolves each entry's parent inside the container's
//! root ([`super::fs::open_in`]) and creates the entry with `*at` calls that do not
//! follow a final symlink.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path};

use rustix::fs::{AtFlags, Mode, OFlags, Timespec, Timestamps};

use super::fs::open_in;
use crate::error::{EngineError, Result};

/// How to read a tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Walk {
    /// As it is (export, cp).
    Plain,
    /// An overlay upper directory, whiteouts turned into OCI entries (commit).
    Upper,
}

fn sys(doing: impl std::fmt::Display, e: rustix::io::Errno) -> EngineError {
    EngineError::io(doing, std::io::Error::from_raw_os_error(e.raw_os_error()))
}

fn tio(doing: impl std::fmt::Display, e: std::io::Error) -> EngineError {
    EngineError::io(doing, e)
}

/// Writes entries into a tar stream.
pub struct TarWriter<'a> {
    b: tar::Builder<&'a mut dyn Write>,
    links: HashMap<(u64, u64), String>,
    walk: Walk,
}

impl<'a> TarWriter<'a> {
    /// A writer on `out`.
    pub fn new(out: &'a mut dyn Write, walk: Walk) -> Self {
        let mut b = tar::Builder::new(out);
        b.follow_symlinks(false);
        TarWriter {
            b,
            links: HashMap::new(),
            walk,
        }
    }

    /// Finish the archive (the two zero blocks).
    pub fn finish(mut self) -> Result<()> {
        self.b.finish().map_err(|e| tio("finishing the tar", e))
    }

    /// Add the contents of directory `dir` (not the directory itself) under `prefix`
    /// (empty for the archive root).
    pub fn add_children(&mut self, dir: BorrowedFd<'_>, prefix: &str) -> Result<()> {
        let mut names: Vec<Vec<u8>> = Vec::new();
        // `dir` may be an O_PATH descriptor (a mount's root): reopen it for reading.
        let readable = rustix::fs::openat(
            dir,
            ".",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| sys("opening a directory", e))?;
        let d = rustix::fs::Dir::read_from(&readable).map_err(|e| sys("reading a directory", e))?;
        for ent in d {
            let ent = ent.map_err(|e| sys("reading a directory", e))?;
            let n = ent.file_name().to_bytes();
            if n != b"." && n != b".." {
                names.push(n.to_vec());
            }
        }
        names.sort();
        for n in names {
            let name = OsStr::from_bytes(&n);
            let arc = if prefix.is_empty() {
                name.to_string_lossy().into_owned()
            } else {
                format!("{prefix}/{}", name.to_string_lossy())
            };
            self.add(dir, name, &arc)?;
        }
        Ok(())
    }

    /// Add directory `name` of `parent` as `arc` without its contents.
    pub fn add_dir_only(&mut self, parent: BorrowedFd<'_>, name: &OsStr, arc: &str) -> Result<()> {
        let st = rustix::fs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| sys(format!("stat {arc}"), e))?;
        let mut h = tar::Header::new_gnu();
        h.set_mode(st.st_mode & 0o7777);
        h.set_uid(u64::from(st.st_uid));
        h.set_gid(u64::from(st.st_gid));
        h.set_mtime(st.st_mtime.max(0) as u64);
        h.set_size(0);
        self.dir_header(parent, name, arc, h, st.st_mtime)
    }

    fn dir_header(
        &mut self,
        parent: BorrowedFd<'_>,
        name: &OsStr,
        arc: &str,
        mut h: tar::Header,
        mtime: i64,
    ) -> Result<()> {
        let err = |e: std::io::Error| tio(format!("archiving {arc}"), e);
        h.set_entry_type(tar::EntryType::Directory);
        self.b
            .append_data(&mut h, format!("{arc}/"), std::io::empty())
            .map_err(err)?;
        if self.walk == Walk::Upper && is_opaque(parent, name) {
            let mut w = tar::Header::new_gnu();
            w.set_entry_type(tar::EntryType::Regular);
            w.set_mode(0o644);
            w.set_size(0);
            w.set_mtime(mtime.max(0) as u64);
            self.b
                .append_data(&mut w, format!("{arc}/.wh..wh..opq"), std::io::empty())
                .map_err(err)?;
        }
        Ok(())
    }

    /// Add `name` in directory `parent` as `arc` (recursively for a directory).
    pub fn add(&mut self, parent: BorrowedFd<'_>, name: &OsStr, arc: &str) -> Result<()> {
        let st = match rustix::fs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(s) => s,
            // Gone while we walked (a running container): skip it.
            Err(rustix::io::Errno::NOENT) => return Ok(()),
            Err(e) => return Err(sys(format!("stat {arc}"), e)),
        };
        let fmt = st.st_mode & libc::S_IFMT;
        let mut h = tar::Header::new_gnu();
        h.set_mode(st.st_mode & 0o7777);
        h.set_uid(u64::from(st.st_uid));
        h.set_gid(u64::from(st.st_gid));
        h.set_mtime(st.st_mtime.max(0) as u64);
        h.set_size(0);
        let err = |e: std::io::Error| tio(format!("archiving {arc}"), e);
        if self.walk == Walk::Upper && fmt == libc::S_IFCHR && st.st_rdev == 0 {
            let (dir, base) = match arc.rsplit_once('/') {
                Some((d, b)) => (format!("{d}/"), b),
                None => (String::new(), arc),
            };
            h.set_entry_type(tar::EntryType::Regular);
            h.set_mode(0o644);
            return self
                .b
                .append_data(&mut h, format!("{dir}.wh.{base}"), std::io::empty())
                .map_err(err);
        }
        match fmt {
            libc::S_IFDIR => {
                self.dir_header(parent, name, arc, h, st.st_mtime)?;
                let fd = rustix::fs::openat(
                    parent,
                    name,
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| sys(format!("opening {arc}"), e))?;
                self.add_children(fd.as_fd(), arc)
            }
            libc::S_IFREG => {
                let key = (st.st_dev, st.st_ino);
                if st.st_nlink > 1 {
                    if let Some(first) = self.links.get(&key) {
                        h.set_entry_type(tar::EntryType::Link);
                        let first = first.clone();
                        return self.b.append_link(&mut h, arc, first).map_err(err);
                    }
                    self.links.insert(key, arc.to_string());
                }
                let fd = rustix::fs::openat(
                    parent,
                    name,
                    OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| sys(format!("opening {arc}"), e))?;
                let f = std::fs::File::from(fd);
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(st.st_size as u64);
                // A file that shrinks while read is padded; one that grows is cut.
                let r = f.take(st.st_size as u64).chain(std::io::repeat(0));
                self.b
                    .append_data(&mut h, arc, r.take(st.st_size as u64))
                    .map_err(err)
            }
            libc::S_IFLNK => {
                let target = rustix::fs::readlinkat(parent, name, Vec::new())
                    .map_err(|e| sys(format!("reading the link {arc}"), e))?;
                h.set_entry_type(tar::EntryType::Symlink);
                let t = OsStr::from_bytes(target.as_bytes()).to_os_string();
                self.b.append_link(&mut h, arc, t).map_err(err)
            }
            libc::S_IFCHR | libc::S_IFBLK => {
                h.set_entry_type(if fmt == libc::S_IFCHR {
                    tar::EntryType::Char
                } else {
                    tar::EntryType::Block
                });
                h.set_device_major(libc::major(st.st_rdev)).map_err(err)?;
                h.set_device_minor(libc::minor(st.st_rdev)).map_err(err)?;
                self.b
                    .append_data(&mut h, arc, std::io::empty())
                    .map_err(err)
            }
            libc::S_IFIFO => {
                h.set_entry_type(tar::EntryType::Fifo);
                self.b
                    .append_data(&mut h, arc, std::io::empty())
                    .map_err(err)
            }
            // Sockets are not archived (as tar and Docker do).
            _ => Ok(()),
        }
    }
}

/// Does directory `name` in `parent` carry overlay's opaque mark?
pub fn is_opaque(parent: BorrowedFd<'_>, name: &OsStr) -> bool {
    let mut p = format!("/proc/self/fd/{}/", parent.as_raw_fd()).into_bytes();
    p.extend_from_slice(name.as_bytes());
    matches!(
        xattr::get(OsStr::from_bytes(&p), "trusted.overlay.opaque"),
        Ok(Some(v)) if v == b"y"
    )
}

/// Clean an archive path: relative, no `..`, no empty result.
fn clean(p: &Path) -> Option<String> {
    let mut parts = Vec::new();
    for c in p.components() {
        match c {
            Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// Extract a tar into directory `dest` (a container path) of the container whose root is
/// `root`: every entry's parent is resolved inside that root.
pub fn extract(root: BorrowedFd<'_>, dest: &str, input: &mut dyn Read) -> Result<()> {
    let mut ar = tar::Archive::new(input);
    let entries = ar.entries().map_err(|e| tio("reading the tar stream", e))?;
    let base = dest.trim_end_matches('/');
    let mut dirs: Vec<(String, u64)> = Vec::new();
    for ent in entries {
        let mut ent = ent.map_err(|e| tio("reading the tar stream", e))?;
        let raw = ent.path().map_err(|e| tio("reading a tar entry name", e))?;
        let Some(rel) = clean(&raw) else {
            return Err(EngineError::invalid(format!(
                "the archive entry {:?} leaves the destination: refusing to copy it",
                raw.display()
            )));
        };
        let full = format!("{base}/{rel}");
        let (pdir, name) = super::fs::split(&full);
        let parent = open_in(root, &pdir, OFlags::PATH | OFlags::DIRECTORY)
            .map_err(|e| e.context(format!("copying {rel}")))?;
        let h = ent.header().clone();
        let mode = Mode::from_raw_mode(h.mode().unwrap_or(0o644) & 0o7777);
        let uid = h.uid().unwrap_or(0) as u32;
        let gid = h.gid().unwrap_or(0) as u32;
        let mtime = h.mtime().unwrap_or(0) as i64;
        let what = |e| sys(format!("copying {rel} into the container"), e);
        let replace = |p: &OwnedFd| {
            // Remove a non-directory in the way (a file, or a symlink never followed).
            if let Ok(st) = rustix::fs::statat(p, name.as_str(), AtFlags::SYMLINK_NOFOLLOW) {
                if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
                    let _ = rustix::fs::unlinkat(p, name.as_str(), AtFlags::empty());
                }
            }
        };
        match h.entry_type() {
            tar::EntryType::Directory => {
                // A non-directory in the way (a file, or a symlink: never followed, so
                // an absolute link cannot lead the mode change onto the host) goes.
                replace(&parent);
                match rustix::fs::mkdirat(&parent, name.as_str(), mode) {
                    Ok(()) => {}
                    Err(rustix::io::Errno::EXIST) => {
                        // Something else is there: never replaced by a directory, and
                        // left untouched (its mode is not the directory's to set).
                        let st =
                            rustix::fs::statat(&parent, name.as_str(), AtFlags::SYMLINK_NOFOLLOW)
                                .map_err(what)?;
                        if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
                            return Err(EngineError::conflict(format!(
                                "cannot overwrite non-directory {full} with directory {rel}: remove it first, or copy elsewhere"
                            )));
                        }
                    }
                    Err(e) => return Err(what(e)),
                }
                // The umask trimmed the mode; the archive's mode wins (through a
                // descriptor of the directory itself, never a link).
                if let Ok(d) = rustix::fs::openat(
                    &parent,
                    name.as_str(),
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                ) {
                    let _ = rustix::fs::fchmod(&d, mode);
                }
                dirs.push((full.clone(), mtime as u64));
            }
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                replace(&parent);
                let fd = rustix::fs::openat(
                    &parent,
                    name.as_str(),
                    OFlags::WRONLY
                        | OFlags::CREATE
                        | OFlags::TRUNC
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    mode,
                )
                .map_err(what)?;
                let mut f = std::fs::File::from(fd);
                std::io::copy(&mut ent, &mut f).map_err(|e| tio(format!("writing {rel}"), e))?;
                rustix::fs::fchmod(&f, mode).map_err(what)?;
            }
            tar::EntryType::Symlink => {
                let target = ent
                    .link_name()
                    .map_err(|e| tio("reading a link target", e))?
                    .unwrap_or_default()
                    .into_owned();
                replace(&parent);
                rustix::fs::symlinkat(target.as_os_str(), &parent, name.as_str()).map_err(what)?;
            }
            tar::EntryType::Link => {
                let target = ent
                    .link_name()
                    .map_err(|e| tio("reading a link target", e))?
                    .unwrap_or_default()
                    .into_owned();
                let Some(trel) = clean(&target) else {
                    return Err(EngineError::invalid(format!(
                        "the hard link {rel} points outside the destination"
                    )));
                };
                let (tdir, tname) = super::fs::split(&format!("{base}/{trel}"));
                let tparent = open_in(root, &tdir, OFlags::PATH | OFlags::DIRECTORY)?;
                replace(&parent);
                rustix::fs::linkat(
                    &tparent,
                    tname.as_str(),
                    &parent,
                    name.as_str(),
                    AtFlags::empty(),
                )
                .map_err(what)?;
                continue;
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                let kind = match h.entry_type() {
                    tar::EntryType::Char => libc::S_IFCHR,
                    tar::EntryType::Block => libc::S_IFBLK,
                    _ => libc::S_IFIFO,
                };
                let dev = libc::makedev(
                    h.device_major().ok().flatten().unwrap_or(0),
                    h.device_minor().ok().flatten().unwrap_or(0),
                );
                replace(&parent);
                // SAFETY: mknodat with a valid directory descriptor and a C string we own.
                let cname = std::ffi::CString::new(name.as_str())
                    .map_err(|_| EngineError::invalid(format!("bad entry name {rel:?}")))?;
                if unsafe {
                    libc::mknodat(parent.as_raw_fd(), cname.as_ptr(), kind | mode.bits(), dev)
                } < 0
                {
                    return Err(tio(
                        format!("creating {rel}"),
                        std::io::Error::last_os_error(),
                    ));
                }
            }
            // Extended headers are consumed by the reader; other kinds are skipped.
            _ => continue,
        }
        let _ = rustix::fs::chownat(
            &parent,
            name.as_str(),
            Some(rustix::fs::Uid::from_raw(uid)),
            Some(rustix::fs::Gid::from_raw(gid)),
            AtFlags::SYMLINK_NOFOLLOW,
        );
        let ts = Timespec {
            tv_sec: mtime,
            tv_nsec: 0,
        };
        let _ = rustix::fs::utimensat(
            &parent,
            name.as_str(),
            &Timestamps {
                last_access: ts,
                last_modification: ts,
            },
            AtFlags::SYMLINK_NOFOLLOW,
        );
    }
    // Directory times last: their entries changed them.
    for (d, mtime) in dirs.into_iter().rev() {
        let (pdir, name) = super::fs::split(&d);
        if let Ok(p) = open_in(root, &pdir, OFlags::PATH | OFlags::DIRECTORY) {
            let ts = Timespec {
                tv_sec: mtime as i64,
                tv_nsec: 0,
            };
            let _ = rustix::fs::utimensat(
                &p,
                name.as_str(),
                &Timestamps {
                    last_access: ts,
                    last_modification: ts,
                },
                AtFlags::SYMLINK_NOFOLLOW,
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(entries: &[(&str, tar::EntryType, &str)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, kind, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(*kind);
            h.set_mode(0o644);
            if *kind == tar::EntryType::Symlink {
                h.set_size(0);
                b.append_link(&mut h, path, data).unwrap();
            } else {
                h.set_size(data.len() as u64);
                b.append_data(&mut h, path, data.as_bytes()).unwrap();
            }
        }
        b.into_inner().unwrap()
    }

    fn root_of(dir: &Path) -> OwnedFd {
        rustix::fs::open(dir, OFlags::PATH | OFlags::DIRECTORY, Mode::empty()).unwrap()
    }

    #[test]
    fn extraction_stays_inside_the_root() {
        let host = tempfile::tempdir().unwrap();
        let outside = host.path().join("outside");
        let root = host.path().join("root");
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::create_dir_all(root.join("dest")).unwrap();
        // A symlink planted by the archive, then an entry written through it: the link's
        // absolute target is taken from the container's root, never the host's.
        let t = tar_of(&[
            ("l", tar::EntryType::Symlink, outside.to_str().unwrap()),
            ("up", tar::EntryType::Symlink, "../../../../../.."),
        ]);
        let rfd = root_of(&root);
        extract(rfd.as_fd(), "/dest", &mut &t[..]).unwrap();
        std::fs::create_dir_all(root.join(outside.strip_prefix("/").unwrap())).unwrap();
        let t = tar_of(&[
            ("l/through-abs", tar::EntryType::Regular, "a"),
            ("up/through-rel", tar::EntryType::Regular, "b"),
        ]);
        extract(rfd.as_fd(), "/dest", &mut &t[..]).unwrap();
        assert!(!outside.join("through-abs").exists());
        assert_eq!(
            std::fs::read_to_string(
                root.join(outside.strip_prefix("/").unwrap())
                    .join("through-abs")
            )
            .unwrap(),
            "a"
        );
        assert_eq!(
            std::fs::read_to_string(root.join("through-rel")).unwrap(),
            "b"
        );
        // `..` in a name is refused outright.
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(1);
        h.set_mode(0o644);
        // Written raw: the tar crate refuses to build such a name itself.
        h.as_gnu_mut().unwrap().name[..7].copy_from_slice(b"../evil");
        h.set_cksum();
        b.append(&h, &b"x"[..]).unwrap();
        let t = b.into_inner().unwrap();
        let e = extract(rfd.as_fd(), "/dest", &mut &t[..]).unwrap_err();
        assert!(e.message.contains("leaves the destination"), "{e}");
        assert!(!root.join("evil").exists() && !host.path().join("evil").exists());
    }

    #[test]
    fn a_directory_never_replaces_a_file() {
        let host = tempfile::tempdir().unwrap();
        let root = host.path().join("root");
        std::fs::create_dir_all(root.join("dest")).unwrap();
        std::fs::write(root.join("dest/x"), "data").unwrap();
        std::fs::set_permissions(
            root.join("dest/x"),
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .unwrap();
        let t = tar_of(&[
            ("x/", tar::EntryType::Directory, ""),
            ("x/y", tar::EntryType::Regular, "y"),
        ]);
        let rfd = root_of(&root);
        let e = extract(rfd.as_fd(), "/dest", &mut &t[..]).unwrap_err();
        assert!(
            e.message.contains("cannot overwrite non-directory /dest/x"),
            "{e}"
        );
        let md = std::fs::metadata(root.join("dest/x")).unwrap();
        assert!(md.is_file());
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&md.permissions()) & 0o777,
            0o600
        );
        assert_eq!(
            std::fs::read_to_string(root.join("dest/x")).unwrap(),
            "data"
        );
    }

    #[test]
    fn upper_whiteouts_become_oci_entries() {
        let dir = tempfile::tempdir().unwrap();
        let up = dir.path();
        std::fs::create_dir(up.join("d")).unwrap();
        std::fs::write(up.join("d/f"), "x").unwrap();
        nix::sys::stat::mknod(
            &up.join("gone"),
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::from_bits_truncate(0o600),
            0,
        )
        .unwrap();
        xattr::set(up.join("d"), "trusted.overlay.opaque", b"y").unwrap();
        let fd = rustix::fs::open(up, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty()).unwrap();
        let mut out = Vec::new();
        let mut w = TarWriter::new(&mut out, Walk::Upper);
        w.add_children(fd.as_fd(), "").unwrap();
        w.finish().unwrap();
        let mut ar = tar::Archive::new(&out[..]);
        let names: Vec<String> = ar
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["d/", "d/.wh..wh..opq", "d/f", ".wh.gone"]);
    }
}
