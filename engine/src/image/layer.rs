//! Layer tars: compression detection, a guard against hostile tar headers, and
//! extraction into a layer directory usable as an overlay lower dir.
//!
//! OCI whiteouts become overlay ones: `.wh.NAME` a character device 0/0 named `NAME`,
//! `.wh..wh..opq` the `trusted.overlay.opaque=y` xattr on its directory. Modes, owners,
//! xattrs, symlinks, hardlinks and device nodes are kept. Anything that would write
//! outside the layer directory (`..`, absolute paths, writing through a symlink, a
//! hardlink to outside) is refused with an error naming the entry.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs::{self, OpenOptions};
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{EngineError, IoContext, Result};

/// Largest tar metadata entry (PAX header, GNU long name/link) accepted.
pub const MAX_TAR_META: u64 = 1 << 20;
/// Buffer size for copying file contents.
const COPY_BUF: usize = 256 * 1024;

/// How a blob is compressed, detected from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// Detect from the magic bytes at the start of `head`.
    pub fn detect(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }

    /// OCI layer media type for a layer blob with this compression.
    pub fn oci_layer_media_type(self) -> &'static str {
        match self {
            Compression::None => "application/vnd.oci.image.layer.v1.tar",
            Compression::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
            Compression::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
        }
    }
}

/// Wrap `r` in a decompressor chosen from its magic bytes.
pub fn decompress<'a, R: Read + 'a>(r: R) -> io::Result<(Compression, Box<dyn Read + 'a>)> {
    let mut br = BufReader::with_capacity(COPY_BUF, r);
    let c = Compression::detect(br.fill_buf()?);
    let out: Box<dyn Read + 'a> = match c {
        Compression::None => Box::new(br),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(br)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(br)?),
    };
    Ok((c, out))
}

/// A reader that hashes (sha256) and counts what passes through it.
pub struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R: Read> HashingReader<R> {
    /// Hash everything read from `inner`.
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }
    /// `sha256:<hex>` and the byte count of what was read so far.
    pub fn finish(self) -> (String, u64) {
        (
            format!("sha256:{}", hex::encode(self.hasher.finalize())),
            self.count,
        )
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// Follows the block structure of a tar stream as it is read and fails the read when a
/// metadata entry (PAX header, GNU long name or link) claims more than [`MAX_TAR_META`]
/// bytes, before the tar reader would buffer it in memory.
pub struct TarGuard<R> {
    inner: R,
    header: [u8; 512],
    header_fill: usize,
    /// Data bytes (then padding) of the current entry still to pass.
    data_left: u64,
    pad_left: u64,
    /// Extended sparse header blocks still to pass.
    sparse_ext: bool,
    /// Collecting a PAX header's records (to learn a `size=` override).
    pax: Option<Vec<u8>>,
    size_override: Option<u64>,
    zero_blocks: u32,
}

impl<R: Read> TarGuard<R> {
    /// Guard the tar stream read from `inner`.
    pub fn new(inner: R) -> Self {
        TarGuard {
            inner,
            header: [0; 512],
            header_fill: 0,
            data_left: 0,
            pad_left: 0,
            sparse_ext: false,
            pax: None,
            size_override: None,
            zero_blocks: 0,
        }
    }

    fn bad(msg: String) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, msg)
    }

    fn on_header(&mut self) -> io::Result<()> {
        let h = self.header;
        if self.sparse_ext {
            self.sparse_ext = h[504] != 0;
            return Ok(());
        }
        if h.iter().all(|b| *b == 0) {
            self.zero_blocks += 1;
            return Ok(());
        }
        let size = parse_numeric(&h[124..136])
            .ok_or_else(|| Self::bad("tar header has an unreadable size field".into()))?;
        let kind = h[156];
        let size = match kind {
            b'x' | b'g' | b'L' | b'K' => {
                if size > MAX_TAR_META {
                    return Err(Self::bad(format!(
                        "tar metadata entry (type {:?}) claims {size} bytes, more than the {MAX_TAR_META} allowed: \
                         the archive is hostile or damaged",
                        kind as char
                    )));
                }
                size
            }
            _ => self.size_override.take().unwrap_or(size),
        };
        if kind == b'x' {
            self.pax = Some(Vec::with_capacity(size as usize));
        }
        if kind == b'S' && h[482] != 0 {
            self.sparse_ext = true;
        }
        self.data_left = size;
        self.pad_left = (512 - size % 512) % 512;
        Ok(())
    }

    fn track(&mut self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            if self.zero_blocks >= 2 {
                return Ok(()); // end of archive: whatever follows is not tar
            }
            if self.data_left > 0 {
                let n = (self.data_left.min(buf.len() as u64)) as usize;
                if let Some(p) = self.pax.as_mut() {
                    p.extend_from_slice(&buf[..n]);
                }
                self.data_left -= n as u64;
                buf = &buf[n..];
                if self.data_left == 0 {
                    if let Some(p) = self.pax.take() {
                        self.size_override = pax_size(&p);
                    }
                }
                continue;
            }
            if self.pad_left > 0 {
                let n = (self.pad_left.min(buf.len() as u64)) as usize;
                self.pad_left -= n as u64;
                buf = &buf[n..];
                continue;
            }
            let n = (512 - self.header_fill).min(buf.len());
            self.header[self.header_fill..self.header_fill + n].copy_from_slice(&buf[..n]);
            self.header_fill += n;
            buf = &buf[n..];
            if self.header_fill == 512 {
                self.header_fill = 0;
                self.on_header()?;
            }
        }
        Ok(())
    }
}

impl<R: Read> Read for TarGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0
            && !buf.is_empty()
            && self.data_left == 0
            && self.pad_left > 0
            && self.zero_blocks < 2
        {
            // The stream ends right after an entry's complete data, without the padding
            // to the next block (umoci 0.4 writes such layers). Nothing is missing but
            // alignment, so supply it; missing data is still an error.
            let k = (self.pad_left.min(buf.len() as u64)) as usize;
            buf[..k].fill(0);
            self.pad_left -= k as u64;
            return Ok(k);
        }
        self.track(&buf[..n])?;
        Ok(n)
    }
}

/// A tar numeric field: octal text or GNU base-256.
fn parse_numeric(field: &[u8]) -> Option<u64> {
    if field[0] & 0x80 != 0 {
        let mut v: u64 = (field[0] & 0x7f) as u64;
        for b in &field[1..] {
            v = v.checked_mul(256)?.checked_add(*b as u64)?;
        }
        return Some(v);
    }
    let s: Vec<u8> = field
        .iter()
        .copied()
        .filter(|b| *b != 0 && *b != b' ')
        .collect();
    if s.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(std::str::from_utf8(&s).ok()?, 8).ok()
}

fn pax_size(records: &[u8]) -> Option<u64> {
    tar::PaxExtensions::new(records)
        .flatten()
        .find(|e| e.key_bytes() == b"size")
        .and_then(|e| e.value().ok().and_then(|v| v.parse().ok()))
}

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

/// Extract the layer blob read from `input` (plain, gzip or zstd tar) into `dest`
/// (an existing empty directory). On error `dest` is left half-filled: the caller
/// removes it (it is always a staging directory).
pub fn unpack_layer(input: impl Read, dest: &Path) -> Result<LayerStats> {
    let (compression, plain) = decompress(input).ctx(|| "reading the layer".into())?;
    let mut hashing = HashingReader::new(plain);
    let mut u = Unpacker::new(dest);
    {
        let mut ar = tar::Archive::new(TarGuard::new(&mut hashing));
        let entries = ar.entries().map_err(|e| tar_err(e, dest))?;
        for entry in entries {
            let entry = entry.map_err(|e| tar_err(e, dest))?;
            u.entry(entry)?;
        }
    }
    // The diff id covers the whole stream, end-of-archive blocks included.
    io::copy(&mut hashing, &mut io::sink()).map_err(|e| tar_err(e, dest))?;
    u.finish()?;
    let (diff_id, tar_size) = hashing.finish();
    Ok(LayerStats {
        diff_id,
        tar_size,
        size: u.size,
        compression,
    })
}

fn tar_err(e: io::Error, _dest: &Path) -> EngineError {
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
    dest: &'a Path,
    /// Directories (relative) known to exist as real directories.
    dirs: HashSet<PathBuf>,
    dir_times: Vec<DirTimes>,
    size: u64,
    buf: Vec<u8>,
}

impl<'a> Unpacker<'a> {
    fn new(dest: &'a Path) -> Self {
        Unpacker {
            dest,
            dirs: HashSet::new(),
            dir_times: Vec::new(),
            size: 0,
            buf: vec![0; COPY_BUF],
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

    /// Remove whatever is at `full` unless it is a directory and `keep_dir`.
    fn clear(&mut self, full: &Path, keep_dir: bool) -> Result<bool> {
        match fs::symlink_metadata(full) {
            Ok(md) if md.file_type().is_dir() => {
                if keep_dir {
                    return Ok(true);
                }
                fs::remove_dir_all(full).ctx(|| format!("replacing {}", full.display()))?;
                self.dirs.clear();
                Ok(false)
            }
            Ok(_) => {
                fs::remove_file(full).ctx(|| format!("replacing {}", full.display()))?;
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
        if let Some(pax) = entry.pax_extensions().map_err(|e| tar_err(e, self.dest))? {
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
            let hidden = parent.join(OsStr::from_bytes(target));
            let full = self.dest.join(&hidden);
            self.clear(&full, false)?;
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
                let existed = self.clear(&full, true)?;
                if !existed {
                    fs::create_dir(&full).ctx(|| format!("creating {}", full.display()))?;
                }
                std::os::unix::fs::lchown(&full, Some(uid), Some(gid))
                    .ctx(|| format!("chown {}", full.display()))?;
                fs::set_permissions(&full, fs::Permissions::from_mode(mode))
                    .ctx(|| format!("chmod {}", full.display()))?;
                self.set_xattrs(&full, &xattrs)?;
                self.dirs.insert(rel.clone());
                self.dir_times.push(DirTimes { path: full, mtime });
            }
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                self.clear(&full, false)?;
                let mut f = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                    .mode(0o600)
                    .open(&full)
                    .ctx(|| format!("creating {}", full.display()))?;
                let n =
                    copy_with(&mut entry, &mut f, &mut self.buf).map_err(|e| match e.kind() {
                        io::ErrorKind::UnexpectedEof
                        | io::ErrorKind::InvalidData
                        | io::ErrorKind::Other => tar_err(e, self.dest),
                        _ => EngineError::io(format!("writing {}", full.display()), e),
                    })?;
                if n < header.size().unwrap_or(0) {
                    return Err(EngineError::corrupt(format!(
                        "the layer archive is truncated inside {:?}; get a complete copy and try again",
                        rel.display().to_string()
                    )));
                }
                self.size += n;
                std::os::unix::fs::fchown(&f, Some(uid), Some(gid))
                    .ctx(|| format!("chown {}", full.display()))?;
                f.set_permissions(fs::Permissions::from_mode(mode))
                    .ctx(|| format!("chmod {}", full.display()))?;
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
                self.clear(&full, false)?;
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
                self.clear(&full, false)?;
                fs::hard_link(&target_full, &full)
                    .ctx(|| format!("creating hardlink {}", full.display()))?;
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                use nix::sys::stat::{makedev, mknod, Mode, SFlag};
                self.clear(&full, false)?;
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
        // Directory times last, deepest first: adding children changed them.
        for d in self.dir_times.iter().rev() {
            filetime::set_symlink_file_times(&d.path, d.mtime, d.mtime)
                .ctx(|| format!("setting times of {}", d.path.display()))?;
        }
        Ok(())
    }
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

/// Chain id of a stack of diff ids (bottom first): the identity of an unpacked layer.
pub fn chain_ids(diff_ids: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let next = match out.last() {
            None => d.clone(),
            Some(prev) => format!(
                "sha256:{}",
                hex::encode(Sha256::digest(format!("{prev} {d}").as_bytes()))
            ),
        };
        out.push(next);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_ids_follow_the_oci_rule() {
        let a = format!("sha256:{}", "a".repeat(64));
        let b = format!("sha256:{}", "b".repeat(64));
        let c = chain_ids(&[a.clone(), b.clone()]);
        assert_eq!(c[0], a);
        let want = format!(
            "sha256:{}",
            hex::encode(Sha256::digest(format!("{a} {b}").as_bytes()))
        );
        assert_eq!(c[1], want);
    }

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

    #[test]
    fn numeric_fields() {
        assert_eq!(parse_numeric(b"00000001750\0"), Some(0o1750));
        assert_eq!(
            parse_numeric(&[0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]),
            Some(256)
        );
    }
}
