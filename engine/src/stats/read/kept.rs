//! Files kept open between samples, re-read with one `pread` at offset 0 into a shared
//! buffer, and a digest of the last bytes read to skip parsing them again.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

#[derive(Debug)]
enum Fd {
    /// Not opened yet, or forgotten after a failed read: opened on the next read.
    Closed,
    Open(File),
    /// Could not be opened; tried again at the next refresh.
    Missing,
}

/// A file kept open between samples.
#[derive(Debug)]
pub(super) struct Kept {
    path: PathBuf,
    fd: Fd,
    /// A digest of the bytes of the last read with [`Kept::read_new`] (`None`: none),
    /// to skip parsing them again.
    last: Option<u64>,
}

/// A 64-bit digest of `bytes`, eight at a time. Each step maps the state one to one for
/// a given word, and words map one to one into a step, so two texts of the same length
/// that differ in one word (one counter moved, the usual change) always differ here;
/// other changes collide by chance only (about 2^-64), and the next change is read.
pub(super) fn digest(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let step = |h: u64, w: u64| {
        let h = (h ^ w).wrapping_mul(K);
        h ^ (h >> 32)
    };
    let mut chunks = bytes.chunks_exact(8);
    let mut h = 0u64;
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = step(h, u64::from_le_bytes(w));
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        h = step(h, u64::from_le_bytes(w));
    }
    step(h, bytes.len() as u64)
}

/// What [`Kept::read_new`] found.
pub(super) enum Got<'a> {
    /// The file could not be read.
    Failed,
    /// The same bytes as the last time: what was parsed from them still holds.
    Same,
    New(&'a [u8]),
}

/// Smallest read buffer; it grows to fit the largest file read.
const MIN_BUF: usize = 4096;

impl Kept {
    pub(super) fn new(path: PathBuf) -> Self {
        Kept {
            path,
            fd: Fd::Closed,
            last: None,
        }
    }

    /// The whole file with one `pread` at offset 0 into `buf` (grown and read again if
    /// the file did not fit); `None` if it cannot be opened or read.
    pub(super) fn read<'a>(&mut self, buf: &'a mut Vec<u8>) -> Option<&'a [u8]> {
        if let Fd::Closed = self.fd {
            self.fd = match File::open(&self.path) {
                Ok(f) => Fd::Open(f),
                Err(_) => Fd::Missing,
            };
        }
        let Fd::Open(f) = &self.fd else {
            return None;
        };
        if buf.len() < MIN_BUF {
            buf.resize(MIN_BUF, 0);
        }
        loop {
            match f.read_at(buf, 0) {
                // Filled: the file may be longer; read it again whole into a larger buffer.
                Ok(n) if n == buf.len() => buf.resize(buf.len() * 2, 0),
                Ok(n) => return Some(&buf[..n]),
                Err(_) => {
                    // The cgroup or process went away (container stopped): forget the fd.
                    self.fd = Fd::Closed;
                    return None;
                }
            }
        }
    }

    /// Read the file and say whether its bytes differ from the last time: an idle
    /// container's memory.stat or /proc/net/dev is the same bytes round after round, and
    /// a digest of them costs far less than parsing them (or than comparing them with a
    /// copy, which a round a second finds out of the CPU caches). See [`digest`].
    pub(super) fn read_new<'a>(&mut self, buf: &'a mut Vec<u8>) -> Got<'a> {
        let Some(t) = self.read(buf) else {
            self.last = None;
            return Got::Failed;
        };
        let digest = digest(t);
        if self.last == Some(digest) {
            return Got::Same;
        }
        self.last = Some(digest);
        Got::New(t)
    }

    /// Open (its last read worked)?
    pub(super) fn readable(&self) -> bool {
        matches!(self.fd, Fd::Open(_))
    }

    pub(super) fn refresh(&mut self) {
        if let Fd::Missing = self.fd {
            self.fd = Fd::Closed;
        }
    }
}
