//! Digests of the streams that go through a load: sha256 hashing readers (on a thread of
//! their own for large streams, with a bounded pool of chunks), and chain ids.

use std::io::{self, Read};

use sha2::{Digest, Sha256};

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
}
