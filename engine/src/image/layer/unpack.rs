//! Extracting a layer tar into its layer directory: archive paths checked, whiteouts made
//! overlay ones, modes, owners, xattrs, links and device nodes kept.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs::{self, OpenOptions};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use super::compression::{decompress, Compression};
use super::guard::TarGuard;
use super::hashing::HashingReader;
use super::tar_split::SplitCtx;
use super::{COPY_BUF, DIFF};
use crate::error::{EngineError, IoContext, Result};

/// What extracting a layer found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerStats {
    /// `sha256:` of the uncompressed tar stream: the layer's diff id.
    pub diff_id: String,
    /// Bytes of the uncompressed tar stream.
    pub tar_size: u64,
    /// Bytes of file content in the layer (Docker's layer size).
    pub size: u64,
    /// How the blob was compressed.
    pub compression: Compression,
}

/// Make a new, empty layer directory `root` with its `diff/` (mode 0755).
pub fn new_layer_dir(root: &Path) -> Result<()> {
    let diff = root.join(DIFF);
    fs::create_dir(root).ctx(|| format!("creating {}", root.display()))?;
    fs::create_dir(&diff).ctx(|| format!("creating {}", diff.display()))?;
    fs::set_permissions(&diff, fs::Permissions::from_mode(0o755))
        .ctx(|| format!("chmod {}", diff.display()))
}

/// Extract the layer blob read from `input` (plain, gzip or zstd tar) into the layer
/// directory `root`: files into `root/diff` (an existing empty directory), the
/// tar-split into `root/tar-split` (see [`unpack_tar`]).
pub fn unpack_layer_into(input: impl Read, root: &Path) -> Result<LayerStats> {
    let (compression, plain) = decompress(input).map_err(tar_err)?;
    let mut hashing = HashingReader::threaded(plain);
    let size = unpack_tar(&mut hashing, root)?;
    let (diff_id, tar_size) = hashing.finish();
    Ok(LayerStats {
        diff_id,
        tar_size,
        size,
        compression,
    })
}

/// Extract the uncompressed tar stream `plain` into the layer directory `root` (files
/// into `root/diff`, an existing empty directory) and read `plain` to its end (the diff
/// id covers the whole stream, end-of-archive blocks and trailing bytes included).
/// Returns the bytes of file content.
///
/// Also writes `root/tar-split`: the stream minus the content of the regular files,
/// which [`TarSplitReader`](super::TarSplitReader) puts back from the unpacked files to
/// rebuild the exact stream. Files the archive itself replaces later (a path written
/// twice, a directory replaced) are moved to `root/shadow/` instead of deleted, so they
/// can still be read back; `root/tar-split.moves` says where they went.
pub fn unpack_tar(plain: &mut dyn Read, root: &Path) -> Result<u64> {
    let dest = &root.join(DIFF);
    let split = SplitCtx::new(root)?;
    let rec = split.rec.clone();
    let mut u = Unpacker::new(dest, split);
    let res = (|| -> Result<()> {
        let guard = TarGuard::with_split(&mut *plain, rec.clone());
        let mut ar = tar::Archive::new(guard);
        {
            let entries = ar.entries().map_err(tar_err)?;
            for entry in entries {
                let entry = entry.map_err(tar_err)?;
                u.entry(entry)?;
            }
        }
        // The end-of-archive blocks and anything after them: hashed and recorded.
        let mut guard = ar.into_inner();
        guard.end();
        io::copy(&mut guard, &mut io::sink()).map_err(tar_err)?;
        Ok(())
    })();
    // A failure to write the tar-split shows up as a failed read: name the real cause.
    if let Some(e) = rec.borrow_mut().failed.take() {
        return Err(EngineError::io("writing the layer's tar-split", e));
    }
    res?;
    u.finish()?;
    Ok(u.size)
}

fn tar_err(e: io::Error) -> EngineError {
    match e.kind() {
        io::ErrorKind::UnexpectedEof => EngineError::corrupt(format!(
            "the layer archive is truncated ({e}); get a complete copy and try again"
        )),
        io::ErrorKind::InvalidData | io::ErrorKind::Other | io::ErrorKind::InvalidInput => {
            EngineError::corrupt(format!("the layer archive is damaged or hostile: {e}"))
        }
        _ => EngineError::io("reading the layer archive", e),
    }
}

/// A clean relative path inside the layer from an archive path: no `..`, not absolute.
pub fn clean_archive_path(raw: &[u8], what: &str) -> Result<PathBuf> {
    let shown = String::from_utf8_lossy(raw);
    if raw.first() == Some(&b'/') {
        return Err(EngineError::corrupt(format!(
            "layer entry {what} {shown:?} is an absolute path: refusing to extract an archive that writes outside its layer"
        )));
    }
    let mut out = PathBuf::new();
    for c in Path::new(OsStr::from_bytes(raw)).components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            Component::ParentDir => {
                return Err(EngineError::corrupt(format!(
                    "layer entry {what} {shown:?} contains '..': refusing to extract an archive that writes outside its layer"
                )))
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(EngineError::corrupt(format!(
                    "layer entry {what} {shown:?} is an absolute path: refusing to extract an archive that writes outside its layer"
                )))
            }
        }
    }
    Ok(out)
}

struct DirTimes {
    path: PathBuf,
    mtime: filetime::FileTime,
}

struct Unpacker<'a> {
    /// The process umask, when files can be created with their final mode and owner
    /// (saving a chmod and a chown per file); `None` to always set them.
    direct: Option<u32>,
    /// Directories (relative) whose new files would not get the creator's group or
    /// the plain umask: setgid, or with xattrs (a default ACL).
    special_dirs: HashSet<PathBuf>,
    dest: &'a Path,
    /// Directories (relative) known to exist as real directories.
    dirs: HashSet<PathBuf>,
    dir_times: Vec<DirTimes>,
    size: u64,
    buf: Vec<u8>,
    split: SplitCtx,
}

impl<'a> Unpacker<'a> {
    fn new(dest: &'a Path, split: SplitCtx) -> Self {
        Unpacker {
            direct: direct_create_umask(dest),
            special_dirs: HashSet::new(),
            dest,
            dirs: HashSet::new(),
            dir_times: Vec::new(),
            size: 0,
            buf: vec![0; COPY_BUF],
            split,
        }
    }

    /// Make sure every parent of `rel` is a real directory inside the layer, creating
    /// missing ones; refuse a parent that is a symlink or not a directory.
    fn ensure_parents(&mut self, rel: &Path, create: bool) -> Result<()> {
        let mut cur = PathBuf::new();
        let comps: Vec<_> = rel.components().collect();
        for c in comps.iter().take(comps.len().saturating_sub(1)) {
            cur.push(c);
            if self.dirs.contains(&cur) {
                continue;
            }
            let full = self.dest.join(&cur);
            match fs::symlink_metadata(&full) {
                Ok(md) if md.file_type().is_dir() => {}
                Ok(md) if md.file_type().is_symlink() => {
                    return Err(EngineError::corrupt(format!(
                        "layer entry {:?} goes through the symlink {:?}: refusing to extract an archive that could write outside its layer",
                        rel.display().to_string(),
                        cur.display().to_string()
                    )))
                }
                Ok(_) => {
                    return Err(EngineError::corrupt(format!(
                        "layer entry {:?} needs {:?} to be a directory but the archive made it a file",
                        rel.display().to_string(),
                        cur.display().to_string()
                    )))
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound && create => {
                    fs::create_dir(&full).ctx(|| format!("creating {}", full.display()))?;
                    fs::set_permissions(&full, fs::Permissions::from_mode(0o755))
                        .ctx(|| format!("setting the mode of {}", full.display()))?;
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(EngineError::corrupt(format!(
                        "{:?} is not in this layer",
                        cur.display().to_string()
                    )))
                }
                Err(e) => return Err(EngineError::io(format!("checking {}", full.display()), e)),
            }
            self.dirs.insert(cur.clone());
        }
        Ok(())
    }

    /// Remove whatever is at `rel` unless it is a directory and `keep_dir` (content the
    /// tar-split needs is moved aside instead).
    fn clear(&mut self, rel: &Path, keep_dir: bool) -> Result<bool> {
        let full = self.dest.join(rel);
        let full = full.as_path();
        match fs::symlink_metadata(full) {
            Ok(md) if md.file_type().is_dir() => {
                if keep_dir {
                    return Ok(true);
                }
                if !self.split.shadow(rel, full, true)? {
                    fs::remove_dir_all(full).ctx(|| format!("replacing {}", full.display()))?;
                }
                self.dirs.clear();
                Ok(false)
            }
            Ok(_) => {
                if !self.split.shadow(rel, full, false)? {
                    fs::remove_file(full).ctx(|| format!("replacing {}", full.display()))?;
                }
                Ok(false)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(EngineError::io(format!("checking {}", full.display()), e)),
        }
    }

    fn entry<R: Read>(&mut self, mut entry: tar::Entry<'_, R>) -> Result<()> {
        let raw = entry.path_bytes().into_owned();
        let rel = clean_archive_path(&raw, "path")?;
        let kind = entry.header().entry_type();
        if matches!(
            kind,
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader
        ) {
            return Ok(());
        }
        if rel.as_os_str().is_empty() {
            return Ok(()); // "./" itself: the layer root
        }
        let name = rel
            .file_name()
            .map(|n| n.as_bytes().to_vec())
            .unwrap_or_default();
        let header = entry.header().clone();
        let mut uid = header.uid().unwrap_or(0);
        let mut gid = header.gid().unwrap_or(0);
        let mode = header.mode().unwrap_or(0o644) & 0o7777;
        let mtime = filetime::FileTime::from_unix_time(header.mtime().unwrap_or(0) as i64, 0);
        let mut xattrs: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        if let Some(pax) = entry.pax_extensions().map_err(tar_err)? {
            for ext in pax.flatten() {
                let key = ext.key_bytes();
                if let Some(x) = key.strip_prefix(b"SCHILY.xattr.") {
                    // Overlay's own attributes (opaque, redirect, ...) come only from
                    // whiteout entries: an archive must not steer the overlay.
                    if !x.starts_with(b"trusted.overlay.") {
                        xattrs.push((x.to_vec(), ext.value_bytes().to_vec()));
                    }
                } else if key == b"uid" {
                    if let Some(v) = ext.value().ok().and_then(|v| v.parse().ok()) {
                        uid = v;
                    }
                } else if key == b"gid" {
                    if let Some(v) = ext.value().ok().and_then(|v| v.parse().ok()) {
                        gid = v;
                    }
                }
            }
        }
        let uid = u32::try_from(uid).unwrap_or(0);
        let gid = u32::try_from(gid).unwrap_or(0);

        // Whiteouts.
        if let Some(target) = name.strip_prefix(b".wh.") {
            self.ensure_parents(&rel, true)?;
            let parent = rel.parent().map(Path::to_path_buf).unwrap_or_default();
            if target == b".wh..opq" {
                let dir = self.dest.join(&parent);
                xattr::set(&dir, "trusted.overlay.opaque", b"y").ctx(|| {
                    format!(
                        "marking {} opaque (needs root and a file system with trusted xattrs)",
                        dir.display()
                    )
                })?;
                return Ok(());
            }
            if target.starts_with(b".wh.") || target.is_empty() {
                return Ok(()); // other AUFS metadata
            }
            if target == b"." || target == b".." {
                // `.wh..` and `.wh...` would hide the directory itself or its parent
                // (the layer directory above diff/, for one at the top).
                return Err(EngineError::corrupt(format!(
                    "layer whiteout {:?} names no file (it would remove {:?}): refusing to extract an archive that writes outside its layer",
                    rel.display().to_string(),
                    String::from_utf8_lossy(target)
                )));
            }
            let hidden = parent.join(OsStr::from_bytes(target));
            let full = self.dest.join(&hidden);
            self.clear(&hidden, false)?;
            nix::sys::stat::mknod(
                &full,
                nix::sys::stat::SFlag::S_IFCHR,
                nix::sys::stat::Mode::empty(),
                0,
            )
            .ctx(|| format!("creating the whiteout {} (needs root)", full.display()))?;
            std::os::unix::fs::lchown(&full, Some(uid), Some(gid))
                .ctx(|| format!("chown {}", full.display()))?;
            return Ok(());
        }

        self.ensure_parents(&rel, true)?;
        let full = self.dest.join(&rel);
        match kind {
            tar::EntryType::Directory => {
                // Create first and look only when something is there (rare): one
                // system call per new directory.
                match fs::create_dir(&full) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                        if !self.clear(&rel, true)? {
                            fs::create_dir(&full).ctx(|| format!("creating {}", full.display()))?;
                        }
                    }
                    Err(e) => {
                        return Err(EngineError::io(format!("creating {}", full.display()), e))
                    }
                }
                std::os::unix::fs::lchown(&full, Some(uid), Some(gid))
                    .ctx(|| format!("chown {}", full.display()))?;
                fs::set_permissions(&full, fs::Permissions::from_mode(mode))
                    .ctx(|| format!("chmod {}", full.display()))?;
                self.set_xattrs(&full, &xattrs)?;
                if mode & 0o2000 != 0 || !xattrs.is_empty() {
                    self.special_dirs.insert(rel.clone());
                }
                self.dirs.insert(rel.clone());
                self.dir_times.push(DirTimes { path: full, mtime });
            }
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                let want = entry.size();
                // Created with its final mode (and, as root, owner) when the umask and
                // the directory change neither: no chmod and chown afterwards.
                let parent_plain = rel.parent().is_none_or(|p| !self.special_dirs.contains(p));
                let direct_mode = self
                    .direct
                    .is_some_and(|umask| mode & 0o7000 == 0 && mode & umask == 0)
                    && parent_plain;
                let direct_owner = direct_mode && uid == 0 && gid == 0;
                let create_mode = if direct_mode { mode } else { 0o600 };
                let open = |p: &Path| {
                    OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                        .mode(create_mode)
                        .open(p)
                };
                // Create first and clear only when something is there (rare).
                let mut f = match open(&full) {
                    Ok(f) => f,
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                        self.clear(&rel, false)?;
                        open(&full).ctx(|| format!("creating {}", full.display()))?
                    }
                    Err(e) => {
                        return Err(EngineError::io(format!("creating {}", full.display()), e))
                    }
                };
                // The data of a plain file is the file: the tar-split refers to it. A
                // sparse file's data is not (holes), so the split keeps it raw.
                let claimed = want > 0 && kind != tar::EntryType::GNUSparse;
                if claimed {
                    let mut p = format!("{DIFF}/").into_bytes();
                    p.extend_from_slice(rel.as_os_str().as_bytes());
                    self.split.rec.borrow_mut().claim = Some((p, want));
                }
                let n =
                    copy_with(&mut entry, &mut f, &mut self.buf).map_err(|e| match e.kind() {
                        io::ErrorKind::UnexpectedEof
                        | io::ErrorKind::InvalidData
                        | io::ErrorKind::Other => tar_err(e),
                        _ => EngineError::io(format!("writing {}", full.display()), e),
                    })?;
                if n < want {
                    return Err(EngineError::corrupt(format!(
                        "the layer archive is truncated inside {:?}; get a complete copy and try again",
                        rel.display().to_string()
                    )));
                }
                if claimed {
                    let s = &mut self.split;
                    let mut r = s.rec.borrow_mut();
                    if r.claim.take().is_some() {
                        return Err(EngineError::internal(format!(
                            "the data of layer entry {:?} did not pass the tar-split recorder",
                            rel.display().to_string()
                        )));
                    }
                    let index = r.files - 1;
                    drop(r);
                    s.content.insert(rel.clone(), index);
                }
                self.size += n;
                if !direct_owner {
                    std::os::unix::fs::fchown(&f, Some(uid), Some(gid))
                        .ctx(|| format!("chown {}", full.display()))?;
                }
                if !direct_mode {
                    f.set_permissions(fs::Permissions::from_mode(mode))
                        .ctx(|| format!("chmod {}", full.display()))?;
                }
                self.set_xattrs(&full, &xattrs)?;
                filetime::set_file_handle_times(&f, Some(mtime), Some(mtime))
                    .ctx(|| format!("setting times of {}", full.display()))?;
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .map(|c| c.into_owned())
                    .unwrap_or_default();
                if target.is_empty() {
                    return Err(EngineError::corrupt(format!(
                        "layer symlink {:?} has no target",
                        rel.display().to_string()
                    )));
                }
                self.clear(&rel, false)?;
                std::os::unix::fs::symlink(OsStr::from_bytes(&target), &full)
                    .ctx(|| format!("creating symlink {}", full.display()))?;
                std::os::unix::fs::lchown(&full, Some(uid), Some(gid))
                    .ctx(|| format!("chown {}", full.display()))?;
                self.set_xattrs(&full, &xattrs)?;
                filetime::set_symlink_file_times(&full, mtime, mtime)
                    .ctx(|| format!("setting times of {}", full.display()))?;
            }
            tar::EntryType::Link => {
                let raw_target = entry
                    .link_name_bytes()
                    .map(|c| c.into_owned())
                    .unwrap_or_default();
                let target_rel = clean_archive_path(
                    &raw_target,
                    &format!("{:?} hardlink target", rel.display().to_string()),
                )?;
                if target_rel.as_os_str().is_empty() {
                    return Err(EngineError::corrupt(format!(
                        "layer hardlink {:?} has no target",
                        rel.display().to_string()
                    )));
                }
                // The target must already be in this layer, reached without symlinks.
                self.ensure_parents(&target_rel, false).map_err(|e| {
                    EngineError::corrupt(format!(
                        "layer hardlink {:?} -> {:?} points outside the layer or to nothing ({}): refusing it",
                        rel.display().to_string(),
                        target_rel.display().to_string(),
                        e.message
                    ))
                })?;
                let target_full = self.dest.join(&target_rel);
                match fs::symlink_metadata(&target_full) {
                    Ok(md) if !md.file_type().is_dir() => {}
                    _ => {
                        return Err(EngineError::corrupt(format!(
                            "layer hardlink {:?} -> {:?}: the target is not a file of this layer; refusing it",
                            rel.display().to_string(),
                            target_rel.display().to_string()
                        )))
                    }
                }
                if target_full == full {
                    return Ok(());
                }
                self.clear(&rel, false)?;
                fs::hard_link(&target_full, &full)
                    .ctx(|| format!("creating hardlink {}", full.display()))?;
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                use nix::sys::stat::{makedev, mknod, Mode, SFlag};
                self.clear(&rel, false)?;
                let flag = match kind {
                    tar::EntryType::Char => SFlag::S_IFCHR,
                    tar::EntryType::Block => SFlag::S_IFBLK,
                    _ => SFlag::S_IFIFO,
                };
                let major = header.device_major().ok().flatten().unwrap_or(0);
                let minor = header.device_minor().ok().flatten().unwrap_or(0);
                mknod(
                    &full,
                    flag,
                    Mode::from_bits_truncate(mode),
                    makedev(major as u64, minor as u64),
                )
                .ctx(|| format!("creating device node {} (needs root)", full.display()))?;
                std::os::unix::fs::lchown(&full, Some(uid), Some(gid))
                    .ctx(|| format!("chown {}", full.display()))?;
                fs::set_permissions(&full, fs::Permissions::from_mode(mode))
                    .ctx(|| format!("chmod {}", full.display()))?;
                self.set_xattrs(&full, &xattrs)?;
                filetime::set_symlink_file_times(&full, mtime, mtime)
                    .ctx(|| format!("setting times of {}", full.display()))?;
            }
            other => {
                return Err(EngineError::corrupt(format!(
                    "layer entry {:?} has the unsupported tar type {:?}",
                    rel.display().to_string(),
                    other
                )))
            }
        }
        Ok(())
    }

    fn set_xattrs(&self, full: &Path, xattrs: &[(Vec<u8>, Vec<u8>)]) -> Result<()> {
        for (k, v) in xattrs {
            if let Err(e) = xattr::set(full, OsStr::from_bytes(k), v) {
                // user.* cannot be set on symlinks and devices; file systems without
                // xattr support refuse them all. Docker ignores these too.
                if !matches!(e.raw_os_error(), Some(libc::EPERM) | Some(libc::ENOTSUP)) {
                    return Err(EngineError::io(
                        format!(
                            "setting xattr {} on {}",
                            String::from_utf8_lossy(k),
                            full.display()
                        ),
                        e,
                    ));
                }
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        self.split.finish()?;
        // Directory times last, deepest first: adding children changed them.
        for d in self.dir_times.iter().rev() {
            filetime::set_symlink_file_times(&d.path, d.mtime, d.mtime)
                .ctx(|| format!("setting times of {}", d.path.display()))?;
        }
        Ok(())
    }
}

/// When files created under `dest` get exactly the mode asked for (less the umask) and
/// the creator's uid and gid: running as root (uid and gid 0), the umask known, and no
/// default ACL on `dest`. Returns the umask then.
fn direct_create_umask(dest: &Path) -> Option<u32> {
    if !nix::unistd::geteuid().is_root() || nix::unistd::getegid().as_raw() != 0 {
        return None;
    }
    if xattr::get(dest, "system.posix_acl_default")
        .ok()
        .flatten()
        .is_some()
    {
        return None;
    }
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Umask:"))?;
    u32::from_str_radix(line.trim_start_matches("Umask:").trim(), 8).ok()
}

/// `io::copy` with a caller-owned buffer; returns the bytes copied.
pub fn copy_with(r: &mut dyn Read, w: &mut dyn io::Write, buf: &mut [u8]) -> io::Result<u64> {
    let mut total = 0u64;
    loop {
        let n = match r.read(buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        w.write_all(&buf[..n])?;
        total += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::super::tar_split::TAR_SPLIT;
    use super::super::TarSplitReader;
    use super::*;

    #[test]
    fn archive_paths_are_cleaned_or_refused() {
        assert_eq!(
            clean_archive_path(b"./a/b", "path").unwrap(),
            PathBuf::from("a/b")
        );
        assert_eq!(
            clean_archive_path(b"a//b/", "path").unwrap(),
            PathBuf::from("a/b")
        );
        assert!(clean_archive_path(b"../x", "path")
            .unwrap_err()
            .message
            .contains("'..'"));
        assert!(clean_archive_path(b"a/../../x", "path").is_err());
        assert!(clean_archive_path(b"/etc/passwd", "path")
            .unwrap_err()
            .message
            .contains("absolute"));
    }

    /// A one-entry layer whose header is changed by `patch` (the checksum is redone).
    fn layer_with(name: &str, data: &[u8], patch: impl FnOnce(&mut [u8; 512])) -> Vec<u8> {
        let mut h = tar::Header::new_gnu();
        h.set_path(name).unwrap();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        let mut raw = *h.as_bytes();
        patch(&mut raw);
        let mut h = tar::Header::from_byte_slice(&raw).clone();
        h.set_cksum();
        let mut b = tar::Builder::new(Vec::new());
        b.append(&h, data).unwrap();
        b.into_inner().unwrap()
    }

    /// The layer directory with `diff/` and a tar-split after an unpack, whatever it
    /// returned.
    fn own_files_stay(root: &Path) {
        assert!(root.join(DIFF).is_dir(), "diff/ is gone");
        assert!(root.join(TAR_SPLIT).is_file(), "the tar-split is gone");
    }

    #[test]
    fn size_fields_with_text_after_the_nul_unpack_and_rebuild() {
        // Found with the `layer_unpack` fuzz target: the guard and the tar reader read
        // different sizes, and the unpack failed with an internal error.
        let data = layer_with("f", b"hello\n", |h| {
            h[124..136].copy_from_slice(b"000000006\x0015")
        });
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("l");
        new_layer_dir(&root).unwrap();
        let stats = unpack_layer_into(&data[..], &root).unwrap();
        assert_eq!(fs::read(root.join("diff/f")).unwrap(), b"hello\n");
        let mut rebuilt = Vec::new();
        TarSplitReader::open(&root, &stats.diff_id)
            .unwrap()
            .read_to_end(&mut rebuilt)
            .unwrap();
        assert!(rebuilt == data);
    }

    #[test]
    fn whiteouts_of_dot_and_dot_dot_are_refused() {
        // Found with the `layer_unpack` fuzz target: `.wh...` at the top removed the
        // layer directory's own files (diff/ and the tar-split, one level above diff/).
        for name in [".wh...", ".wh..", "a/.wh...", "a/.wh.."] {
            let data = layer_with(name, b"", |_| {});
            let d = tempfile::tempdir().unwrap();
            let root = d.path().join("l");
            new_layer_dir(&root).unwrap();
            fs::create_dir(root.join("diff/a")).unwrap();
            fs::write(root.join("diff/a/keep"), b"x").unwrap();
            let e = unpack_layer_into(&data[..], &root).unwrap_err();
            assert_eq!(e.kind, crate::ErrorKind::Corrupt, "{name}: {e}");
            own_files_stay(&root);
            assert!(root.join("diff/a/keep").is_file(), "{name}");
        }
    }
}
