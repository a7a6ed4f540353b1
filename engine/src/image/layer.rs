//! Layer tars: compression detection, a guard against hostile tar headers, and
//! extraction into a layer directory usable as an overlay lower dir.
//!
//! OCI whiteouts become overlay ones: `.wh.NAME` a character device 0/0 named `NAME`,
//! `.wh..wh..opq` the `trusted.overlay.opaque=y` xattr on its directory. Modes, owners,
//! xattrs, symlinks, hardlinks and device nodes are kept. Anything that would write
//! outside the layer directory (`..`, absolute paths, writing through a symlink, a
//! hardlink to outside) is refused with an error naming the entry.
//!
//! Unpacking into the store also writes the layer's tar-split ([`unpack_tar`]), which
//! [`TarSplitReader`] turns back into the exact tar stream.

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

/// Bytes handed to a hashing thread at a time.
const HASH_CHUNK: usize = 1 << 20;

/// Chunks for hashing threads, shared by the streams of one load. At most `max` exist:
/// a reader that runs ahead of its hashing (and of earlier streams still hashing)
/// waits once all are in use, so memory stays bounded while the hashing of one layer
/// goes on behind the unpacking of the next.
pub struct ChunkPool {
    state: std::sync::Mutex<(Vec<Vec<u8>>, usize)>,
    freed: std::sync::Condvar,
    max: usize,
}

impl ChunkPool {
    /// A pool of at most `max` chunks of [`HASH_CHUNK`] bytes.
    pub fn new(max: usize) -> std::sync::Arc<Self> {
        std::sync::Arc::new(ChunkPool {
            state: std::sync::Mutex::new((Vec::new(), 0)),
            freed: std::sync::Condvar::new(),
            max: max.max(2),
        })
    }

    fn take(&self) -> Vec<u8> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(c) = st.0.pop() {
                return c;
            }
            if st.1 < self.max {
                st.1 += 1;
                return vec![0; HASH_CHUNK];
            }
            let (next, waited) = self
                .freed
                .wait_timeout(st, std::time::Duration::from_secs(30))
                .unwrap_or_else(|p| p.into_inner());
            st = next;
            if waited.timed_out() && st.0.is_empty() {
                // Hashing threads hold every chunk and give none back (one died?):
                // go on with a new chunk rather than wait for ever.
                tracing::warn!("no hashing chunk came back in 30 s; allocating another");
                st.1 += 1;
                return vec![0; HASH_CHUNK];
            }
        }
    }

    fn give(&self, chunk: Vec<u8>) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.0.push(chunk);
        self.freed.notify_one();
    }
}

/// The digest of a stream whose last bytes may still be hashing on its thread.
pub enum PendingDigest {
    Done(String),
    Hashing(Option<std::thread::JoinHandle<ring::digest::Digest>>),
}

impl PendingDigest {
    /// `sha256:<hex>`, once the hashing thread is done.
    pub fn wait(self) -> String {
        match self {
            PendingDigest::Done(d) => d,
            PendingDigest::Hashing(w) => match w.map(|w| w.join()) {
                Some(Ok(d)) => format!("sha256:{}", hex::encode(d)),
                // No digest: one that matches nothing, so the verification that follows
                // fails.
                _ => "sha256:hashing-thread-failed".to_string(),
            },
        }
    }
}

/// SHA-256 of a stream, computed on the calling thread or, for large streams, on a
/// thread of its own so that hashing overlaps with the caller's reads and writes.
pub struct HashPipe {
    inline: Option<ring::digest::Context>,
    /// Bytes added with [`update`](Self::update) not yet sent: `cur[..cur_len]`.
    cur: Vec<u8>,
    cur_len: usize,
    tx: Option<std::sync::mpsc::Sender<(Vec<u8>, usize)>>,
    pool: Option<std::sync::Arc<ChunkPool>>,
    worker: Option<std::thread::JoinHandle<ring::digest::Digest>>,
}

impl Drop for HashPipe {
    fn drop(&mut self) {
        let cur = std::mem::take(&mut self.cur);
        self.recycle(cur);
    }
}

impl HashPipe {
    /// Hash on the calling thread.
    pub fn inline() -> Self {
        HashPipe {
            inline: Some(ring::digest::Context::new(&ring::digest::SHA256)),
            cur: Vec::new(),
            cur_len: 0,
            tx: None,
            pool: None,
            worker: None,
        }
    }

    /// Hash on a thread of its own (on the calling thread if none can be started), at
    /// most a few chunks behind the caller.
    pub fn threaded() -> Self {
        Self::threaded_in(ChunkPool::new(6))
    }

    /// Hash on a thread of its own with chunks from `pool`.
    pub fn threaded_in(pool: std::sync::Arc<ChunkPool>) -> Self {
        let (tx, rx) = std::sync::mpsc::channel::<(Vec<u8>, usize)>();
        let back = pool.clone();
        let worker = std::thread::Builder::new()
            .name("wharf-sha256".into())
            .spawn(move || {
                let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
                for (chunk, len) in rx {
                    ctx.update(&chunk[..len]);
                    back.give(chunk);
                }
                ctx.finish()
            });
        match worker {
            Ok(w) => HashPipe {
                inline: None,
                cur: Vec::new(),
                cur_len: 0,
                tx: Some(tx),
                pool: Some(pool),
                worker: Some(w),
            },
            Err(e) => {
                tracing::debug!("hashing on the calling thread: {e}");
                Self::inline()
            }
        }
    }

    fn is_threaded(&self) -> bool {
        self.inline.is_none()
    }

    /// A buffer of [`HASH_CHUNK`] bytes to fill and [`send`](Self::send), from the pool
    /// (waiting for the hashing to free one when all are in use).
    fn buffer(&self) -> Vec<u8> {
        match &self.pool {
            Some(p) => p.take(),
            None => vec![0; HASH_CHUNK],
        }
    }

    /// Add `data` to the hash.
    pub fn update(&mut self, mut data: &[u8]) {
        if let Some(ctx) = self.inline.as_mut() {
            ctx.update(data);
            return;
        }
        while !data.is_empty() {
            if self.cur.is_empty() {
                self.cur = self.buffer();
                self.cur_len = 0;
            }
            let n = (HASH_CHUNK - self.cur_len).min(data.len());
            self.cur[self.cur_len..self.cur_len + n].copy_from_slice(&data[..n]);
            self.cur_len += n;
            data = &data[n..];
            if self.cur_len == HASH_CHUNK {
                let full = std::mem::take(&mut self.cur);
                self.send(full, HASH_CHUNK);
                self.cur_len = 0;
            }
        }
    }

    /// Give back a chunk taken with [`buffer`](Self::buffer) and not sent.
    fn recycle(&self, chunk: Vec<u8>) {
        if let (Some(p), false) = (&self.pool, chunk.is_empty()) {
            p.give(chunk);
        }
    }

    /// Add `chunk[..len]` to the hash, handing the buffer over (no copy).
    fn send(&mut self, chunk: Vec<u8>, len: usize) {
        if let Some(ctx) = self.inline.as_mut() {
            ctx.update(&chunk[..len]);
            return;
        }
        let back = match &self.tx {
            Some(tx) => tx.send((chunk, len)).err().map(|e| e.0 .0),
            None => Some(chunk),
        };
        if let Some(chunk) = back {
            // The worker is gone (it cannot fail short of a panic): finish() reports it.
            if self.tx.take().is_some() {
                tracing::warn!("the hashing thread stopped");
            }
            self.recycle(chunk);
        }
    }

    /// `sha256:<hex>` of everything added.
    pub fn finish(self) -> String {
        self.finish_later().wait()
    }

    /// Everything is added: the digest, when the hashing thread is through.
    pub fn finish_later(mut self) -> PendingDigest {
        if let Some(ctx) = self.inline.take() {
            return PendingDigest::Done(format!("sha256:{}", hex::encode(ctx.finish())));
        }
        if self.cur_len > 0 {
            let last = std::mem::take(&mut self.cur);
            self.send(last, self.cur_len);
        }
        drop(self.tx.take());
        PendingDigest::Hashing(self.worker.take())
    }
}

/// A reader that hashes (sha256) and counts what passes through it.
///
/// Threaded, it reads `inner` ahead in chunks that then go to the hashing thread whole,
/// so hashing costs the reader no copy; the hash and count then cover what was read from
/// `inner`, so read to the end before [`finish`](Self::finish).
pub struct HashingReader<R> {
    inner: R,
    hasher: HashPipe,
    count: u64,
    chunk: Vec<u8>,
    pos: usize,
    len: usize,
}

impl<R: Read> HashingReader<R> {
    /// Hash everything read from `inner`, on the reading thread.
    pub fn new(inner: R) -> Self {
        Self::with(inner, HashPipe::inline())
    }

    /// Hash everything read from `inner` on a thread of its own (for large streams).
    pub fn threaded(inner: R) -> Self {
        Self::with(inner, HashPipe::threaded())
    }

    /// Hash on a thread of its own, with chunks from `pool`.
    pub fn threaded_in(inner: R, pool: std::sync::Arc<ChunkPool>) -> Self {
        Self::with(inner, HashPipe::threaded_in(pool))
    }

    fn with(inner: R, hasher: HashPipe) -> Self {
        HashingReader {
            inner,
            hasher,
            count: 0,
            chunk: Vec::new(),
            pos: 0,
            len: 0,
        }
    }

    /// `sha256:<hex>` and the byte count of what was read so far.
    pub fn finish(self) -> (String, u64) {
        let (d, n) = self.finish_later();
        (d.wait(), n)
    }

    /// The digest (when its thread is through) and the byte count of what was read.
    pub fn finish_later(mut self) -> (PendingDigest, u64) {
        let chunk = std::mem::take(&mut self.chunk);
        if self.len > 0 {
            self.hasher.send(chunk, self.len);
        } else {
            self.hasher.recycle(chunk);
        }
        let hasher = std::mem::replace(&mut self.hasher, HashPipe::inline());
        (hasher.finish_later(), self.count)
    }
}

impl<R> Drop for HashingReader<R> {
    fn drop(&mut self) {
        // A chunk held at the end (read ahead, or after a failure) goes back to the pool.
        let chunk = std::mem::take(&mut self.chunk);
        self.hasher.recycle(chunk);
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.hasher.is_threaded() {
            let n = self.inner.read(buf)?;
            self.hasher.update(&buf[..n]);
            self.count += n as u64;
            return Ok(n);
        }
        if buf.is_empty() {
            return Ok(0);
        }
        if self.pos == self.len {
            let mut next = if self.len > 0 {
                let full = std::mem::take(&mut self.chunk);
                let len = self.len;
                self.len = 0;
                self.pos = 0;
                let next = self.hasher.buffer();
                self.hasher.send(full, len);
                next
            } else if self.chunk.is_empty() {
                self.hasher.buffer()
            } else {
                std::mem::take(&mut self.chunk)
            };
            let n = match self.inner.read(&mut next) {
                Ok(n) => n,
                Err(e) => {
                    self.chunk = next;
                    return Err(e);
                }
            };
            self.chunk = next;
            self.pos = 0;
            self.len = n;
            self.count += n as u64;
            if n == 0 {
                return Ok(0);
            }
        }
        let k = buf.len().min(self.len - self.pos);
        buf[..k].copy_from_slice(&self.chunk[self.pos..self.pos + k]);
        self.pos += k;
        Ok(k)
    }
}

/// Follows the block structure of a tar stream as it is read and fails the read when a
/// metadata entry (PAX header, GNU long name or link) claims more than [`MAX_TAR_META`]
/// bytes, before the tar reader would buffer it in memory.
///
/// With a [`SplitRecorder`] it also records the stream's tar-split: every byte that is
/// not the content of a file the unpacker claimed (headers, metadata, padding, the end
/// of the archive and whatever follows it), so the exact stream can be rebuilt later.
pub struct TarGuard<R> {
    inner: R,
    header: [u8; 512],
    header_fill: usize,
    /// Data bytes (then padding) of the current entry still to pass.
    data_left: u64,
    pad_left: u64,
    /// Extended sparse header blocks still to pass, then `sparse_data` bytes of data.
    sparse_ext: bool,
    sparse_data: u64,
    /// Collecting a PAX header's records (to learn a `size=` override).
    pax: Option<Vec<u8>>,
    size_override: Option<u64>,
    zero_blocks: u32,
    split: Option<SharedSplit>,
    /// The current entry's data has not started yet.
    data_start: bool,
    /// The current entry's data goes to a file (not recorded).
    content: bool,
    /// The tar reader is done: the rest is recorded as it is.
    ended: bool,
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
            sparse_data: 0,
            pax: None,
            size_override: None,
            zero_blocks: 0,
            split: None,
            data_start: false,
            content: false,
            ended: false,
        }
    }

    fn with_split(inner: R, split: SharedSplit) -> Self {
        let mut g = Self::new(inner);
        g.split = Some(split);
        g
    }

    /// Stop following the structure: what follows the archive is passed (and recorded)
    /// as it is.
    fn end(&mut self) {
        self.ended = true;
    }

    fn raw(&self, buf: &[u8]) -> io::Result<()> {
        match &self.split {
            Some(s) => s.borrow_mut().raw(buf),
            None => Ok(()),
        }
    }

    fn bad(msg: String) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, msg)
    }

    fn on_header(&mut self) -> io::Result<()> {
        let h = self.header;
        if self.sparse_ext {
            self.sparse_ext = h[504] != 0;
            if !self.sparse_ext {
                self.start_data(self.sparse_data);
            }
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
            // Extension blocks of the sparse map come first, then the data.
            self.sparse_ext = true;
            self.sparse_data = size;
            return Ok(());
        }
        self.start_data(size);
        Ok(())
    }

    fn start_data(&mut self, size: u64) {
        self.data_left = size;
        self.pad_left = (512 - size % 512) % 512;
        self.data_start = size > 0;
        self.content = false;
    }

    /// At the first data byte of an entry: does the unpacker write it to a file?
    fn take_claim(&mut self) -> io::Result<bool> {
        let Some(s) = &self.split else {
            return Ok(false);
        };
        let mut s = s.borrow_mut();
        match s.claim.take() {
            Some((path, size)) if size == self.data_left => {
                s.file(&path, size)?;
                Ok(true)
            }
            Some((path, size)) => Err(Self::bad(format!(
                "tar entry {:?} has {} bytes of data but the reader expected {size}",
                String::from_utf8_lossy(&path),
                self.data_left
            ))),
            None => Ok(false),
        }
    }

    fn track(&mut self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            if self.ended || self.zero_blocks >= 2 {
                // End of archive: whatever follows is not tar.
                return self.raw(buf);
            }
            if self.data_left > 0 {
                let n = (self.data_left.min(buf.len() as u64)) as usize;
                if self.data_start {
                    self.data_start = false;
                    self.content = self.take_claim()?;
                }
                if let Some(p) = self.pax.as_mut() {
                    p.extend_from_slice(&buf[..n]);
                }
                if !self.content {
                    self.raw(&buf[..n])?;
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
                self.raw(&buf[..n])?;
                self.pad_left -= n as u64;
                buf = &buf[n..];
                continue;
            }
            let n = (512 - self.header_fill).min(buf.len());
            self.raw(&buf[..n])?;
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
            && !self.ended
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

/// A tar numeric field: octal text or GNU base-256, read as the tar reader reads it (the
/// text up to the first NUL, trimmed), so the guard follows the same entry sizes as the
/// reader it guards. A base-256 value the reader would read differently (bits above its
/// 64) is refused.
fn parse_numeric(field: &[u8]) -> Option<u64> {
    if field[0] & 0x80 != 0 {
        let mut v: u64 = (field[0] & 0x7f) as u64;
        for b in &field[1..] {
            v = v.checked_mul(256)?.checked_add(*b as u64)?;
        }
        return Some(v);
    }
    let end = field.iter().position(|b| *b == 0).unwrap_or(field.len());
    let s = std::str::from_utf8(&field[..end]).ok()?.trim();
    if s.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(s, 8).ok()
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
    let (compression, plain) = decompress(input).map_err(|e| tar_err(e, root))?;
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
/// which [`TarSplitReader`] puts back from the unpacked files to rebuild the exact
/// stream. Files the archive itself replaces later (a path written twice, a directory
/// replaced) are moved to `root/shadow/` instead of deleted, so they can still be read
/// back; `root/tar-split.moves` says where they went.
pub fn unpack_tar(plain: &mut dyn Read, root: &Path) -> Result<u64> {
    let dest = &root.join(DIFF);
    let split = SplitCtx::new(root)?;
    let rec = split.rec.clone();
    let mut u = Unpacker::new(dest, split);
    let res = (|| -> Result<()> {
        let guard = TarGuard::with_split(&mut *plain, rec.clone());
        let mut ar = tar::Archive::new(guard);
        {
            let entries = ar.entries().map_err(|e| tar_err(e, dest))?;
            for entry in entries {
                let entry = entry.map_err(|e| tar_err(e, dest))?;
                u.entry(entry)?;
            }
        }
        // The end-of-archive blocks and anything after them: hashed and recorded.
        let mut guard = ar.into_inner();
        guard.end();
        io::copy(&mut guard, &mut io::sink()).map_err(|e| tar_err(e, dest))?;
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

/// Does the layer directory `root` have a tar-split (layers unpacked before tar-splits
/// existed have their blob instead)?
pub fn has_tar_split(root: &Path) -> bool {
    root.join(TAR_SPLIT).is_file()
}

enum SplitState {
    Between,
    Raw(u64),
    File(fs::File, u64),
    Done,
}

/// Rebuilds the exact tar stream of an unpacked layer from its tar-split and its files,
/// checking it against the layer's diff id as it goes: a file changed since the layer was
/// unpacked makes the read fail (`InvalidData`) instead of yielding a different layer.
pub struct TarSplitReader {
    root: PathBuf,
    dir: std::os::fd::OwnedFd,
    split: zstd::stream::read::Decoder<'static, BufReader<fs::File>>,
    moves: std::collections::HashMap<u64, Vec<u8>>,
    state: SplitState,
    next_file: u64,
    hasher: Sha256,
    count: u64,
    diff_id: String,
}

impl TarSplitReader {
    /// Open the layer directory `root` (with `tar-split` and `diff/`) of the layer whose
    /// uncompressed tar hashes to `diff_id`.
    pub fn open(root: &Path, diff_id: &str) -> Result<Self> {
        let dir: std::os::fd::OwnedFd = fs::File::open(root)
            .ctx(|| format!("opening the layer {}", root.display()))?
            .into();
        let path = root.join(TAR_SPLIT);
        let f = fs::File::open(&path).ctx(|| format!("opening {}", path.display()))?;
        let mut split =
            zstd::stream::read::Decoder::new(f).ctx(|| format!("reading {}", path.display()))?;
        let mut magic = vec![0u8; SPLIT_MAGIC.len()];
        split
            .read_exact(&mut magic)
            .ctx(|| format!("reading {}", path.display()))?;
        if magic != SPLIT_MAGIC {
            return Err(EngineError::corrupt(format!(
                "{} is not a tar-split wharf can read: remove the image and load or pull it again",
                path.display()
            )));
        }
        let mut moves = std::collections::HashMap::new();
        let mpath = root.join(TAR_SPLIT_MOVES);
        match fs::read(&mpath) {
            Ok(data) => {
                let mut d = &data[..];
                while !d.is_empty() {
                    let bad = || {
                        EngineError::corrupt(format!(
                            "{} is damaged: remove the image and load or pull it again",
                            mpath.display()
                        ))
                    };
                    if d.len() < 12 {
                        return Err(bad());
                    }
                    let i = u64::from_le_bytes(d[..8].try_into().map_err(|_| bad())?);
                    let n = u32::from_le_bytes(d[8..12].try_into().map_err(|_| bad())?) as usize;
                    if d.len() < 12 + n {
                        return Err(bad());
                    }
                    moves.insert(i, d[12..12 + n].to_vec());
                    d = &d[12 + n..];
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(EngineError::io(format!("reading {}", mpath.display()), e)),
        }
        Ok(TarSplitReader {
            root: root.to_path_buf(),
            dir,
            split,
            moves,
            state: SplitState::Between,
            next_file: 0,
            hasher: Sha256::new(),
            count: 0,
            diff_id: diff_id.to_string(),
        })
    }

    fn changed(&self, what: String) -> io::Error {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "layer {} in {} was changed after it was unpacked ({what}), so it no longer rebuilds the layer with its digest: remove the image and load or pull it again",
                self.diff_id,
                self.root.display()
            ),
        )
    }

    fn damaged(&self) -> io::Error {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "the tar-split of layer {} in {} is damaged: remove the image and load or pull it again",
                self.diff_id,
                self.root.display()
            ),
        )
    }

    fn read_u64(&mut self) -> io::Result<u64> {
        let mut b = [0u8; 8];
        self.split.read_exact(&mut b).map_err(|_| self.damaged())?;
        Ok(u64::from_le_bytes(b))
    }

    fn read_u32(&mut self) -> io::Result<u32> {
        let mut b = [0u8; 4];
        self.split.read_exact(&mut b).map_err(|_| self.damaged())?;
        Ok(u32::from_le_bytes(b))
    }

    /// Open a content file by its path in the layer directory, never following a
    /// symlink nor leaving the directory.
    fn open_file(&self, rel: &[u8], size: u64) -> io::Result<fs::File> {
        use rustix::fs::{Mode, OFlags, ResolveFlags};
        let shown = String::from_utf8_lossy(rel).into_owned();
        let fd = rustix::fs::openat2(
            &self.dir,
            OsStr::from_bytes(rel),
            OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::empty(),
            ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
        )
        .map_err(|e| self.changed(format!("{shown}: {e}")))?;
        let f = fs::File::from(fd);
        let md = f.metadata()?;
        if !md.is_file() || md.len() != size {
            return Err(self.changed(format!(
                "{shown} should be a file of {size} bytes, it has {}",
                md.len()
            )));
        }
        Ok(f)
    }
}

impl Read for TarSplitReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            match &mut self.state {
                SplitState::Done => return Ok(0),
                SplitState::Raw(left) => {
                    let want = (*left).min(buf.len() as u64) as usize;
                    let n = self.split.read(&mut buf[..want])?;
                    if n == 0 {
                        return Err(self.damaged());
                    }
                    *left -= n as u64;
                    if *left == 0 {
                        self.state = SplitState::Between;
                    }
                    self.hasher.update(&buf[..n]);
                    self.count += n as u64;
                    return Ok(n);
                }
                SplitState::File(f, left) => {
                    let want = (*left).min(buf.len() as u64) as usize;
                    let n = f.read(&mut buf[..want])?;
                    if n == 0 {
                        return Err(self.changed("a file got shorter".into()));
                    }
                    *left -= n as u64;
                    if *left == 0 {
                        self.state = SplitState::Between;
                    }
                    self.hasher.update(&buf[..n]);
                    self.count += n as u64;
                    return Ok(n);
                }
                SplitState::Between => {
                    let mut tag = [0u8; 1];
                    self.split
                        .read_exact(&mut tag)
                        .map_err(|_| self.damaged())?;
                    match tag[0] {
                        b'R' => {
                            let n = self.read_u32()? as u64;
                            self.state = SplitState::Raw(n);
                        }
                        b'F' => {
                            let size = self.read_u64()?;
                            let n = self.read_u32()? as usize;
                            if n > 1 << 20 {
                                return Err(self.damaged());
                            }
                            let mut path = vec![0u8; n];
                            self.split
                                .read_exact(&mut path)
                                .map_err(|_| self.damaged())?;
                            let index = self.next_file;
                            self.next_file += 1;
                            let path = self.moves.get(&index).cloned().unwrap_or(path);
                            let f = self.open_file(&path, size)?;
                            self.state = SplitState::File(f, size);
                        }
                        b'E' => {
                            let total = self.read_u64()?;
                            let got = format!(
                                "sha256:{}",
                                hex::encode(std::mem::take(&mut self.hasher).finalize())
                            );
                            if total != self.count {
                                return Err(self.damaged());
                            }
                            if got != self.diff_id {
                                return Err(self.changed(format!("its files hash to {got}")));
                            }
                            self.state = SplitState::Done;
                        }
                        _ => return Err(self.damaged()),
                    }
                }
            }
        }
    }
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

/// The unpacked layer's directory of files, inside the layer directory.
pub const DIFF: &str = "diff";
/// The tar-split of an unpacked layer, inside the layer directory.
pub const TAR_SPLIT: &str = "tar-split";
/// Where files of a tar-split went when the archive replaced them (rare).
const TAR_SPLIT_MOVES: &str = "tar-split.moves";
/// Files the archive replaced, kept for the tar-split.
const SHADOW: &str = "shadow";
const SPLIT_MAGIC: &[u8] = b"wharf tar-split 1\n";
/// Raw bytes are written in records of at most this size.
const SPLIT_RAW_CHUNK: usize = 64 * 1024;

type SharedSplit = std::rc::Rc<std::cell::RefCell<SplitRecorder>>;

/// Writes a tar-split: `R` records (raw bytes of the stream), `F` records (so many
/// bytes of content from a file of the layer), and an `E` record (the stream's length),
/// zstd-compressed.
struct SplitRecorder {
    out: Option<zstd::stream::write::Encoder<'static, io::BufWriter<fs::File>>>,
    pending: Vec<u8>,
    /// The file (path relative to the layer directory) and size the unpacker writes
    /// the next entry's data to.
    claim: Option<(Vec<u8>, u64)>,
    /// `F` records written.
    files: u64,
    /// Bytes of the stream recorded so far.
    total: u64,
    /// The first write error (reported instead of the read error it causes).
    failed: Option<io::Error>,
}

impl SplitRecorder {
    fn create(path: &Path) -> Result<Self> {
        let f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .ctx(|| format!("creating {}", path.display()))?;
        let mut out =
            zstd::stream::write::Encoder::new(io::BufWriter::with_capacity(COPY_BUF, f), 1)
                .ctx(|| format!("creating {}", path.display()))?;
        io::Write::write_all(&mut out, SPLIT_MAGIC)
            .ctx(|| format!("writing {}", path.display()))?;
        Ok(SplitRecorder {
            out: Some(out),
            pending: Vec::with_capacity(SPLIT_RAW_CHUNK),
            claim: None,
            files: 0,
            total: 0,
            failed: None,
        })
    }

    fn write(&mut self, data: &[u8]) -> io::Result<()> {
        let r = match self.out.as_mut() {
            Some(o) => io::Write::write_all(o, data),
            None => Err(io::Error::other("the tar-split is already finished")),
        };
        if let Err(e) = r {
            let msg = e.to_string();
            self.failed.get_or_insert(e);
            return Err(io::Error::other(format!("writing the tar-split: {msg}")));
        }
        Ok(())
    }

    fn flush_raw(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        let mut head = [0u8; 5];
        head[0] = b'R';
        head[1..].copy_from_slice(&(pending.len() as u32).to_le_bytes());
        let r = self.write(&head).and_then(|_| self.write(&pending));
        self.pending = pending;
        self.pending.clear();
        r
    }

    fn raw(&mut self, mut buf: &[u8]) -> io::Result<()> {
        self.total += buf.len() as u64;
        while !buf.is_empty() {
            let n = (SPLIT_RAW_CHUNK - self.pending.len()).min(buf.len());
            self.pending.extend_from_slice(&buf[..n]);
            buf = &buf[n..];
            if self.pending.len() == SPLIT_RAW_CHUNK {
                self.flush_raw()?;
            }
        }
        Ok(())
    }

    fn file(&mut self, path: &[u8], size: u64) -> io::Result<()> {
        self.flush_raw()?;
        let mut rec = Vec::with_capacity(13 + path.len());
        rec.push(b'F');
        rec.extend_from_slice(&size.to_le_bytes());
        rec.extend_from_slice(&(path.len() as u32).to_le_bytes());
        rec.extend_from_slice(path);
        self.write(&rec)?;
        self.files += 1;
        self.total += size;
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.flush_raw()?;
        let mut rec = [0u8; 9];
        rec[0] = b'E';
        rec[1..].copy_from_slice(&self.total.to_le_bytes());
        self.write(&rec)?;
        let out = self
            .out
            .take()
            .ok_or_else(|| io::Error::other("the tar-split is already finished"))?;
        let mut w = out.finish()?;
        io::Write::flush(&mut w)
    }
}

/// The unpacker's side of a tar-split: which regular files hold which `F` record, and
/// the files the archive replaced (moved to `shadow/`).
struct SplitCtx {
    rec: SharedSplit,
    root: PathBuf,
    /// Path in the layer -> index of the `F` record whose content it holds.
    content: std::collections::BTreeMap<PathBuf, u64>,
    /// `F` record index -> where its file is now (relative to the layer directory).
    moves: Vec<(u64, Vec<u8>)>,
    shadows: u64,
}

impl SplitCtx {
    fn new(root: &Path) -> Result<Self> {
        Ok(SplitCtx {
            rec: std::rc::Rc::new(std::cell::RefCell::new(SplitRecorder::create(
                &root.join(TAR_SPLIT),
            )?)),
            root: root.to_path_buf(),
            content: Default::default(),
            moves: Vec::new(),
            shadows: 0,
        })
    }

    /// Move `full` (the layer's `rel`) out of the way into `shadow/` if it holds content
    /// of the tar-split; returns whether it did.
    fn shadow(&mut self, rel: &Path, full: &Path, is_dir: bool) -> Result<bool> {
        let held: Vec<(PathBuf, u64)> = if is_dir {
            self.content
                .range(rel.to_path_buf()..)
                .take_while(|(p, _)| p.starts_with(rel))
                .map(|(p, i)| (p.clone(), *i))
                .collect()
        } else {
            self.content
                .get(rel)
                .map(|i| vec![(rel.to_path_buf(), *i)])
                .unwrap_or_default()
        };
        if held.is_empty() {
            return Ok(false);
        }
        let shadow = self.root.join(SHADOW);
        if self.shadows == 0 {
            fs::create_dir_all(&shadow).ctx(|| format!("creating {}", shadow.display()))?;
        }
        self.shadows += 1;
        let name = self.shadows.to_string();
        fs::rename(full, shadow.join(&name)).ctx(|| format!("moving {} aside", full.display()))?;
        for (p, i) in held {
            self.content.remove(&p);
            let mut to = format!("{SHADOW}/{name}").into_bytes();
            if let Ok(sub) = p.strip_prefix(rel) {
                if !sub.as_os_str().is_empty() {
                    to.push(b'/');
                    to.extend_from_slice(sub.as_os_str().as_bytes());
                }
            }
            self.moves.push((i, to));
        }
        Ok(true)
    }

    fn finish(&mut self) -> Result<()> {
        self.rec
            .borrow_mut()
            .finish()
            .ctx(|| format!("writing {}", self.root.join(TAR_SPLIT).display()))?;
        if !self.moves.is_empty() {
            let mut data = Vec::new();
            for (i, p) in &self.moves {
                data.extend_from_slice(&i.to_le_bytes());
                data.extend_from_slice(&(p.len() as u32).to_le_bytes());
                data.extend_from_slice(p);
            }
            let path = self.root.join(TAR_SPLIT_MOVES);
            fs::write(&path, data).ctx(|| format!("writing {}", path.display()))?;
        }
        Ok(())
    }
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
                        | io::ErrorKind::Other => tar_err(e, self.dest),
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

    /// Streams hashed from one small pool, each finished later while the next is read:
    /// every digest right, and the pool's bound holds (two chunks for 10 MiB of input).
    #[test]
    fn deferred_digests_from_a_shared_pool() {
        let pool = ChunkPool::new(2);
        let streams: Vec<Vec<u8>> = (0..3u8)
            .map(|k| (0..(3 << 20) + 12345).map(|i| (i as u8) ^ k).collect())
            .collect();
        let mut pending = Vec::new();
        for data in &streams {
            let mut r = HashingReader::threaded_in(&data[..], pool.clone());
            let mut buf = vec![0u8; 100_000];
            let mut n = 0;
            loop {
                let k = r.read(&mut buf).unwrap();
                if k == 0 {
                    break;
                }
                n += k;
            }
            assert_eq!(n, data.len());
            let (d, count) = r.finish_later();
            assert_eq!(count, data.len() as u64);
            pending.push(d);
        }
        for (d, data) in pending.into_iter().zip(&streams) {
            assert_eq!(
                d.wait(),
                format!("sha256:{}", hex::encode(Sha256::digest(data)))
            );
        }
        let st = pool.state.lock().unwrap();
        assert!(st.1 <= 2, "at most two chunks made");
        assert_eq!(st.0.len(), st.1, "every chunk came back to the pool");
    }

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
        // As the tar reader reads them: up to the first NUL, trimmed (found with the
        // `layer_unpack` fuzz target: the guard read "00000000615" here, the reader 6).
        assert_eq!(parse_numeric(b"000000006\x0015"), Some(6));
        assert_eq!(parse_numeric(b" 0000006 \0\0\0"), Some(6));
        assert_eq!(parse_numeric(b"00 0006\0\0\0\0\0"), None);
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
