//! Tar-splits: what unpacking a layer keeps of its tar stream besides the files (headers,
//! metadata, padding), written as the layer is unpacked ([`SplitRecorder`], [`SplitCtx`])
//! and read back with the files to rebuild the exact stream ([`TarSplitReader`]).

use std::ffi::OsStr;
use std::fs::{self, OpenOptions};
use std::io::{self, BufReader, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::COPY_BUF;
use crate::error::{EngineError, IoContext, Result};

/// The tar-split of an unpacked layer, inside the layer directory.
pub const TAR_SPLIT: &str = "tar-split";
/// Where files of a tar-split went when the archive replaced them (rare).
const TAR_SPLIT_MOVES: &str = "tar-split.moves";
/// Files the archive replaced, kept for the tar-split.
const SHADOW: &str = "shadow";
const SPLIT_MAGIC: &[u8] = b"wharf tar-split 1\n";
/// Raw bytes are written in records of at most this size.
const SPLIT_RAW_CHUNK: usize = 64 * 1024;

pub(super) type SharedSplit = std::rc::Rc<std::cell::RefCell<SplitRecorder>>;

/// Writes a tar-split: `R` records (raw bytes of the stream), `F` records (so many
/// bytes of content from a file of the layer), and an `E` record (the stream's length),
/// zstd-compressed.
pub(super) struct SplitRecorder {
    out: Option<zstd::stream::write::Encoder<'static, io::BufWriter<fs::File>>>,
    pending: Vec<u8>,
    /// The file (path relative to the layer directory) and size the unpacker writes
    /// the next entry's data to.
    pub(super) claim: Option<(Vec<u8>, u64)>,
    /// `F` records written.
    pub(super) files: u64,
    /// Bytes of the stream recorded so far.
    total: u64,
    /// The first write error (reported instead of the read error it causes).
    pub(super) failed: Option<io::Error>,
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

    pub(super) fn raw(&mut self, mut buf: &[u8]) -> io::Result<()> {
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

    pub(super) fn file(&mut self, path: &[u8], size: u64) -> io::Result<()> {
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
pub(super) struct SplitCtx {
    pub(super) rec: SharedSplit,
    root: PathBuf,
    /// Path in the layer -> index of the `F` record whose content it holds.
    pub(super) content: std::collections::BTreeMap<PathBuf, u64>,
    /// `F` record index -> where its file is now (relative to the layer directory).
    moves: Vec<(u64, Vec<u8>)>,
    shadows: u64,
}

impl SplitCtx {
    pub(super) fn new(root: &Path) -> Result<Self> {
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
    pub(super) fn shadow(&mut self, rel: &Path, full: &Path, is_dir: bool) -> Result<bool> {
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

    pub(super) fn finish(&mut self) -> Result<()> {
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
