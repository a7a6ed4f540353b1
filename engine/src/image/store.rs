//! The content store: verified blobs under `blobs/sha256/<hex>`, unpacked layers under
//! `layers/<chain-hex>/diff` (with `layers/<chain-hex>/layer.json`), and `images.json`
//! (references -> image ids, and each image's record).
//!
//! A plain (uncompressed) layer loaded from an archive or imported keeps no blob: its
//! layer directory has a `tar-split` (see [`layer::unpack_tar`]) from which the exact
//! layer tar is rebuilt and verified for `save` and `push` ([`ImageStore::open_blob_stream`],
//! [`ImageStore::layer_tar`]). Compressed layers, and layers pulled from registries, keep
//! their blob. Stores written before tar-splits (every layer with its blob) work as
//! they are: a blob, when there is one, is always preferred.
//!
//! Every addition is staged in a private directory under `tmp/` and renamed in only when
//! complete, under the `images` lock; a failure at any point leaves nothing behind. A
//! commit does not wait for the disk: `durable` says how a crash is still survived.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::layer::{self, Compression, LayerStats};
use super::pending::{self, PendingRecord};
use super::reference::{validate_digest, Reference};
use crate::api::StagingUsage;
use crate::error::{EngineError, IoContext, Result};
use crate::state::{atomic_write_json, read_json, FileLock, Probe, StateRoot};

/// Largest JSON document (manifest, config, index) read into memory.
pub const MAX_JSON: u64 = 16 << 20;

/// OCI media types used by the store.
pub mod media {
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
    pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
}

/// One layer of an image as recorded in `images.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerRecord {
    /// `sha256:` of the uncompressed tar.
    pub diff_id: String,
    /// Chain id: names the unpacked directory `layers/<hex>`.
    pub chain_id: String,
    /// The stored blob (as distributed: plain, gzip or zstd).
    pub blob: String,
    /// Media type of the blob in the manifest.
    pub media_type: String,
    /// Bytes of the blob.
    pub blob_size: u64,
    /// Bytes of file content (Docker's layer size).
    pub size: u64,
    /// Bytes of the uncompressed tar (what `save` writes as `layer.tar`).
    pub tar_size: u64,
}

/// An image as recorded in `images.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRecord {
    /// `sha256:` of the config: the image id.
    pub id: String,
    /// Digest of the stored manifest blob that describes this image's config and layers.
    pub manifest: String,
    /// Its media type.
    pub manifest_media_type: String,
    /// Layers, bottom first.
    pub layers: Vec<LayerRecord>,
    /// `name@sha256:...` digests from registries.
    #[serde(default)]
    pub repo_digests: Vec<String>,
    /// `created` of the config, seconds since the epoch (0 if absent).
    #[serde(default)]
    pub created: i64,
    /// When the image came into this store, seconds since the epoch.
    #[serde(default)]
    pub added: i64,
    /// When a tag last moved onto it, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_tag_time: Option<String>,
}

impl ImageRecord {
    /// Sum of the layers' content sizes.
    pub fn size(&self) -> u64 {
        self.layers.iter().map(|l| l.size).sum()
    }
}

/// `images.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageIndex {
    /// Full tag reference (`docker.io/library/busybox:latest`) -> image id.
    #[serde(default)]
    pub refs: BTreeMap<String, String>,
    /// Image id -> record.
    #[serde(default)]
    pub images: BTreeMap<String, ImageRecord>,
}

impl ImageIndex {
    /// Tag references pointing at `id`, sorted.
    pub fn tags_of(&self, id: &str) -> Vec<String> {
        self.refs
            .iter()
            .filter(|(_, v)| v.as_str() == id)
            .map(|(k, _)| k.clone())
            .collect()
    }
}

/// What `push` needs of an image: its manifest, config and layer blobs.
#[derive(Debug, Clone)]
pub struct ImageManifest {
    /// The manifest bytes as stored (push them unchanged so the digest holds).
    pub manifest: Vec<u8>,
    /// `sha256:` of `manifest`.
    pub manifest_digest: String,
    /// Media type of `manifest`.
    pub media_type: String,
    /// The config bytes.
    pub config: Vec<u8>,
    /// `sha256:` of `config` (the image id).
    pub config_digest: String,
    /// Layers, bottom first; every `blob` is in the store (`blob_path`).
    pub layers: Vec<LayerRecord>,
}

/// The image content store on a state root. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ImageStore {
    root: StateRoot,
}

fn hex_of(digest: &str) -> Result<&str> {
    validate_digest(digest)?;
    Ok(&digest[7..])
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A staging directory under `tmp/` that is removed when dropped, unless committed.
pub struct Staging {
    dir: PathBuf,
    /// `.owner` in `dir`, locked while this process lives: how a cleaner tells this
    /// staging from one a killed process left (see [`ImageStore::remove_orphaned_staging`]).
    _owner: FileLock,
    blobs: BTreeMap<String, PathBuf>,
    layers: BTreeMap<String, PathBuf>,
    /// Layers unpacked while their blob streamed in, not yet placed at a chain id:
    /// blob digest -> (layer directory, what unpacking found).
    unpacked: BTreeMap<String, Vec<(PathBuf, LayerStats)>>,
    /// Blobs that looked like layers but did not unpack: the error, raised if an image
    /// uses the blob as a layer.
    failed: BTreeMap<String, EngineError>,
    seq: u64,
    /// With [`defer_digests`](Staging::defer_digests): the chunks all plain layers hash
    /// from, and their digests still being computed, by the name that stands for them.
    pool: Option<std::sync::Arc<layer::ChunkPool>>,
    deferred: Vec<(String, layer::PendingDigest)>,
}

/// How deferred digests are named until known (never a valid digest).
const DEFERRED: &str = "deferred:";
/// Chunks (1 MiB) the hashing of a load may be behind its unpacking.
const DEFER_CHUNKS: usize = 48;

/// Map an error reading an archive or download to what it means.
fn read_err(e: io::Error, what: &str) -> EngineError {
    match e.kind() {
        io::ErrorKind::UnexpectedEof => EngineError::corrupt(format!(
            "the {what} is truncated ({e}); get a complete copy and try again"
        )),
        io::ErrorKind::InvalidData => {
            EngineError::corrupt(format!("the archive is damaged or hostile: {e}"))
        }
        _ => EngineError::io(format!("reading a {what}"), e),
    }
}

/// Reads through to `inner` while writing what passes to `file` and hashing it: a blob
/// stored as it is read by someone else (the layer unpacker).
struct TeeBlob<'a> {
    inner: &'a mut dyn Read,
    file: File,
    hasher: layer::HashPipe,
    count: u64,
    /// A failure to write the blob (a disk error, not a damaged layer).
    write_err: Option<io::Error>,
}

impl Read for TeeBlob<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Err(e) = self.file.write_all(&buf[..n]) {
            let msg = e.to_string();
            self.write_err.get_or_insert(e);
            return Err(io::Error::other(format!("writing the blob: {msg}")));
        }
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// Does `head` (the first bytes of a file) look like a layer: a tar, or compressed?
fn looks_like_layer(head: &[u8]) -> bool {
    Compression::detect(head) != Compression::None
        || (head.len() >= 512 && &head[257..262] == b"ustar")
}

impl Drop for Staging {
    fn drop(&mut self) {
        if self.dir.exists() {
            if let Err(e) = fs::remove_dir_all(&self.dir) {
                tracing::warn!(
                    "could not remove staging directory {}: {e}",
                    self.dir.display()
                );
            }
        }
    }
}

impl Staging {
    /// Let the hashing of plain layers run behind their unpacking, on into the next
    /// layer: [`put_file`](Self::put_file) then names such a layer by a stand-in
    /// (`deferred:<n>`) until [`resolve_digests`](Self::resolve_digests).
    pub fn defer_digests(&mut self) {
        self.pool = Some(layer::ChunkPool::new(DEFER_CHUNKS));
    }

    /// Wait for the deferred digests and name their layers by them. Returns stand-in ->
    /// digest, for the caller's own records of what `put_file` returned.
    pub fn resolve_digests(&mut self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for (name, pending) in std::mem::take(&mut self.deferred) {
            let digest = pending.wait();
            if let Some(v) = self.unpacked.remove(&name) {
                let slot = self.unpacked.entry(digest.clone()).or_default();
                for (root, mut stats) in v {
                    stats.diff_id = digest.clone();
                    slot.push((root, stats));
                }
            }
            if let Some(e) = self.failed.remove(&name) {
                self.failed.entry(digest.clone()).or_insert(e);
            }
            out.insert(name, digest);
        }
        out
    }

    /// The staging directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Is `digest` staged here already?
    pub fn has_blob(&self, digest: &str) -> bool {
        self.blobs.contains_key(digest)
    }

    /// Path of a staged blob, if staged.
    pub fn blob(&self, digest: &str) -> Option<&Path> {
        self.blobs.get(digest).map(PathBuf::as_path)
    }

    /// Write `r` to a staged blob, hashing as it goes; checks `expected` if given.
    pub fn put_blob(&mut self, r: &mut dyn Read, expected: Option<&str>) -> Result<(String, u64)> {
        if let Some(e) = expected {
            validate_digest(e)?;
        }
        let tmp = self
            .dir
            .join(format!("blob-{}", &crate::ids::new_id()[..16]));
        let res = (|| {
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)
                .ctx(|| format!("creating {}", tmp.display()))?;
            let mut h = Sha256::new();
            let mut buf = vec![0u8; 256 * 1024];
            let mut n: u64 = 0;
            loop {
                let k = match r.read(&mut buf) {
                    Ok(0) => break,
                    Ok(k) => k,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(read_err(e, "blob")),
                };
                h.update(&buf[..k]);
                f.write_all(&buf[..k])
                    .ctx(|| format!("writing {}", tmp.display()))?;
                n += k as u64;
            }
            let digest = format!("sha256:{}", hex::encode(h.finalize()));
            if let Some(e) = expected {
                if e != digest {
                    return Err(EngineError::corrupt(format!(
                        "blob {e} does not match its digest (its content hashes to {digest}): the archive or download is damaged; get it again"
                    )));
                }
            }
            Ok((digest, n))
        })();
        match res {
            Ok((digest, n)) => {
                self.adopt_blob_file(&tmp, &digest)?;
                Ok((digest, n))
            }
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                Err(e)
            }
        }
    }

    /// Stage one file of an archive. A file that looks like a layer (a tar, or
    /// compressed) is unpacked as it streams in, with its tar-split, so the archive is
    /// read once: a plain tar is then not kept as a blob (the tar-split and the files
    /// rebuild it), a compressed one is (its bytes cannot be rebuilt). A file that does
    /// not unpack is remembered as failed, an error only if an image uses it as a layer.
    /// Other files are staged as blobs. Returns the digest and the bytes read.
    pub fn put_file(&mut self, r: &mut dyn Read) -> Result<(String, u64)> {
        let mut head = [0u8; 512];
        let mut k = 0;
        while k < head.len() {
            match r.read(&mut head[k..]) {
                Ok(0) => break,
                Ok(n) => k += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(read_err(e, "archive")),
            }
        }
        let mut all = (&head[..k]).chain(r);
        if looks_like_layer(&head[..k]) {
            self.unpack_stream(&mut all, Compression::detect(&head[..k]), false)
        } else {
            self.put_blob(&mut all, None)
        }
    }

    /// Unpack the layer read from `r` (a plain, gzip or zstd tar) into a new layer
    /// directory of this staging area (see [`put_file`](Self::put_file)); with `strict`
    /// a layer that does not unpack is an error at once. Returns the blob digest and size.
    pub fn unpack_stream(
        &mut self,
        r: &mut dyn Read,
        compression: Compression,
        strict: bool,
    ) -> Result<(String, u64)> {
        self.seq += 1;
        let root = self.dir.join(format!("unpack-{}", self.seq));
        layer::new_layer_dir(&root)?;
        let (digest, n, unpacked) = if compression == Compression::None {
            let mut h = match &self.pool {
                Some(p) => layer::HashingReader::threaded_in(r, p.clone()),
                None => layer::HashingReader::threaded(r),
            };
            let res = layer::unpack_tar(&mut h, &root);
            if res.is_err() {
                // Read the rest so the digest is known (and the archive stays in step).
                io::copy(&mut h, &mut io::sink()).map_err(|e| read_err(e, "archive"))?;
            }
            let (digest, n) = if self.pool.is_some() {
                let (pending, n) = h.finish_later();
                let name = format!("{DEFERRED}{}", self.seq);
                self.deferred.push((name.clone(), pending));
                (name, n)
            } else {
                h.finish()
            };
            let unpacked = res.map(|size| LayerStats {
                diff_id: digest.clone(),
                tar_size: n,
                size,
                compression,
            });
            (digest, n, unpacked)
        } else {
            let tmp = self
                .dir
                .join(format!("blob-{}", &crate::ids::new_id()[..16]));
            let file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)
                .ctx(|| format!("creating {}", tmp.display()))?;
            let mut tee = TeeBlob {
                inner: r,
                file,
                hasher: layer::HashPipe::threaded(),
                count: 0,
                write_err: None,
            };
            let res = layer::unpack_layer_into(&mut tee, &root);
            // The rest of the blob (after the compressed stream, or after a failure).
            let drained = io::copy(&mut tee, &mut io::sink());
            if let Some(e) = tee.write_err.take() {
                let _ = fs::remove_file(&tmp);
                return Err(EngineError::io(format!("writing {}", tmp.display()), e));
            }
            if let Err(e) = drained {
                let _ = fs::remove_file(&tmp);
                return Err(read_err(e, "archive"));
            }
            let n = tee.count;
            drop(tee.file);
            let digest = tee.hasher.finish();
            self.adopt_blob_file(&tmp, &digest)?;
            (digest, n, res)
        };
        match unpacked {
            Ok(stats) => {
                self.unpacked
                    .entry(digest.clone())
                    .or_default()
                    .push((root, stats));
            }
            Err(e) => {
                if let Err(rm) = fs::remove_dir_all(&root) {
                    tracing::warn!("could not remove {}: {rm}", root.display());
                }
                if strict {
                    return Err(e);
                }
                self.failed.insert(digest.clone(), e);
            }
        }
        Ok((digest, n))
    }

    /// What unpacking the staged layer blob `digest` found, if it was unpacked here.
    pub fn unpacked(&self, digest: &str) -> Option<&LayerStats> {
        self.unpacked
            .get(digest)
            .and_then(|v| v.first())
            .map(|(_, s)| s)
    }

    fn take_unpacked(&mut self, digest: &str) -> Option<(PathBuf, LayerStats)> {
        let v = self.unpacked.get_mut(digest)?;
        let out = v.pop();
        if v.is_empty() {
            self.unpacked.remove(digest);
        }
        out
    }

    /// Name the staged file `tmp` (content hashing to `digest`) as the staged blob.
    fn adopt_blob_file(&mut self, tmp: &Path, digest: &str) -> Result<()> {
        if self.blobs.contains_key(digest) {
            let _ = fs::remove_file(tmp);
            return Ok(());
        }
        let dst = self.dir.join(format!("blob-{}", &digest[7..]));
        if let Err(e) = fs::rename(tmp, &dst) {
            let _ = fs::remove_file(tmp);
            return Err(EngineError::io(format!("staging blob {digest}"), e));
        }
        self.blobs.insert(digest.to_string(), dst);
        Ok(())
    }

    /// Stage in-memory bytes as a blob.
    pub fn put_bytes(&mut self, data: &[u8]) -> Result<String> {
        Ok(self.put_blob(&mut &data[..], None)?.0)
    }
}

/// One image ready to commit: its config, manifest and layers (blobs staged or stored).
#[derive(Debug, Clone)]
pub struct NewImage {
    pub config: Vec<u8>,
    /// Manifest bytes; when `None` an OCI manifest is written from the layers.
    pub manifest: Option<(Vec<u8>, String)>,
    /// Layer blobs, bottom first: (blob digest, media type from the manifest if known).
    pub layers: Vec<(String, Option<String>)>,
    /// Tags to point at it (full normalized references).
    pub tags: Vec<String>,
    /// Repo digests to record (`name@sha256:...`).
    pub repo_digests: Vec<String>,
}

/// What committing an image did to the references.
#[derive(Debug, Clone, Default)]
pub struct Committed {
    pub id: String,
    /// Tags that moved here from another image: (tag, previous image id).
    pub moved: Vec<(String, String)>,
}

impl ImageStore {
    /// The store on `root`.
    pub fn new(root: StateRoot) -> Self {
        ImageStore { root }
    }

    /// The state root.
    pub fn root(&self) -> &StateRoot {
        &self.root
    }

    fn index_path(&self) -> PathBuf {
        self.root.path().join("images.json")
    }

    /// Read `images.json` (empty if absent).
    pub fn index(&self) -> Result<ImageIndex> {
        Ok(read_json(&self.index_path())?.unwrap_or_default())
    }

    /// Take the images lock (writers).
    pub fn lock(&self) -> Result<FileLock> {
        self.root.lock("images")
    }

    /// Write `images.json` (hold [`lock`](Self::lock)).
    pub fn write_index(&self, idx: &ImageIndex) -> Result<()> {
        atomic_write_json(&self.index_path(), idx)
    }

    /// A fresh staging area (removed on drop), marked as this process's.
    pub fn staging(&self, what: &str) -> Result<Staging> {
        self.remove_orphaned_staging();
        let dir = self.root.staging_dir(what)?;
        let owner = match claim_staging(&dir) {
            Ok(l) => l,
            Err(e) => {
                let _ = fs::remove_dir_all(&dir);
                return Err(e);
            }
        };
        Ok(Staging {
            dir,
            _owner: owner,
            blobs: BTreeMap::new(),
            layers: BTreeMap::new(),
            unpacked: BTreeMap::new(),
            failed: BTreeMap::new(),
            seq: 0,
            pool: None,
            deferred: Vec::new(),
        })
    }

    /// The image store's staging directories under `tmp/`, each with whether a live
    /// process holds it; with the lock of each one whose process is gone.
    fn staging_dirs(&self) -> Vec<(PathBuf, StagingOwner)> {
        let Ok(entries) = fs::read_dir(self.root.tmp()) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let ours = STAGING_KINDS.iter().any(|p| name.starts_with(p));
            if !ours || !e.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let owner = staging_owner(&e.path());
            out.push((e.path(), owner));
        }
        out
    }

    /// Bytes and counts of the staging directories (for `wharf system df`).
    pub fn staging_usage(&self) -> StagingUsage {
        let mut u = StagingUsage::default();
        for (dir, owner) in self.staging_dirs() {
            let size = tree_size(&dir);
            u.count += 1;
            u.size += size;
            match owner {
                StagingOwner::Alive => u.active += 1,
                StagingOwner::Gone(_) => u.reclaimable += size,
            }
        }
        u
    }

    /// Remove the staging directories whose process is gone (a killed or crashed load,
    /// pull, import or commit), never one a running process holds, in this process or
    /// another. Returns how many were removed and the bytes given back. Runs at engine
    /// start, on `wharf image prune`, and before each new staging.
    pub fn remove_orphaned_staging(&self) -> (usize, u64) {
        let (mut n, mut freed) = (0, 0);
        for (dir, owner) in self.staging_dirs() {
            let StagingOwner::Gone(_lock) = owner else {
                continue;
            };
            let size = tree_size(&dir);
            // `_lock` is held until the directory (and the lock file in it) is gone.
            match fs::remove_dir_all(&dir) {
                Ok(()) => {
                    n += 1;
                    freed += size;
                }
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(err) => tracing::warn!(
                    "could not remove staging directory {} left by a killed or crashed wharf: {err}",
                    dir.display()
                ),
            }
        }
        (n, freed)
    }

    /// Where the blob `digest` is (or would be) stored.
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        self.root
            .blobs()
            .join(digest.strip_prefix("sha256:").unwrap_or(digest))
    }

    /// Is the blob `digest` stored?
    pub fn has_blob(&self, digest: &str) -> bool {
        validate_digest(digest).is_ok() && self.blob_path(digest).is_file()
    }

    /// Store the blob read from `r`, verified against `expected_digest` when given.
    /// Written to `tmp/` first and renamed in: a failure leaves nothing.
    /// Returns its digest and size.
    pub fn put_blob(
        &self,
        r: &mut dyn Read,
        expected_digest: Option<&str>,
    ) -> Result<(String, u64)> {
        let mut st = self.staging("blob")?;
        let (digest, n) = st.put_blob(r, expected_digest)?;
        let src = st.blobs[&digest].clone();
        let dst = self.blob_path(&digest);
        if !dst.exists() {
            sync_file(&src)?;
            fs::rename(&src, &dst).ctx(|| format!("storing blob {digest}"))?;
            crate::state::sync_dir(&self.root.blobs())?;
        }
        Ok((digest, n))
    }

    /// Read a whole stored blob (at most `max` bytes) and verify its digest.
    pub fn read_blob(&self, digest: &str, max: u64) -> Result<Vec<u8>> {
        hex_of(digest)?;
        let p = self.blob_path(digest);
        let f = File::open(&p).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                EngineError::not_found(
                    "blob",
                    digest,
                    "the image store is incomplete: remove the image and load or pull it again",
                )
            } else {
                EngineError::io(format!("reading blob {digest}"), e)
            }
        })?;
        let mut data = Vec::new();
        f.take(max + 1)
            .read_to_end(&mut data)
            .ctx(|| format!("reading blob {digest}"))?;
        if data.len() as u64 > max {
            return Err(EngineError::corrupt(format!(
                "blob {digest} is larger than the {max} bytes allowed for a JSON document"
            )));
        }
        let got = format!("sha256:{}", hex::encode(Sha256::digest(&data)));
        if got != digest {
            return Err(EngineError::corrupt(format!(
                "stored blob {digest} is damaged (it hashes to {got}): remove the image and load or pull it again"
            )));
        }
        Ok(data)
    }

    /// Open a stored blob for streaming; the caller verifies with a [`layer::HashingReader`].
    pub fn open_blob(&self, digest: &str) -> Result<File> {
        hex_of(digest)?;
        File::open(self.blob_path(digest)).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                EngineError::not_found(
                    "blob",
                    digest,
                    "the image store is incomplete: remove the image and load or pull it again",
                )
            } else {
                EngineError::io(format!("reading blob {digest}"), e)
            }
        })
    }

    /// The unpacked directory of the layer with chain id `chain`.
    pub fn layer_dir(&self, chain: &str) -> PathBuf {
        self.root
            .layers()
            .join(chain.strip_prefix("sha256:").unwrap_or(chain))
            .join("diff")
    }

    /// The directory of the layer `chain` (`diff/`, `layer.json`, `tar-split`).
    pub(super) fn layer_root(&self, chain: &str) -> PathBuf {
        self.root
            .layers()
            .join(chain.strip_prefix("sha256:").unwrap_or(chain))
    }

    /// Add an image whose layer blobs are already stored (what a registry pull does):
    /// `manifest_json` (OCI or Docker schema 2), `config_json`, and the references it was
    /// pulled as (tags become tags, and each name gets `name@<manifest digest>` as a repo
    /// digest). Unpacks what is missing. Returns the image id.
    pub fn add_image(
        &self,
        manifest_json: &[u8],
        config_json: &[u8],
        references: &[String],
    ) -> Result<String> {
        let m: serde_json::Value = serde_json::from_slice(manifest_json).map_err(|e| {
            EngineError::corrupt(format!("the image manifest is not valid JSON: {e}"))
        })?;
        let config_digest = format!("sha256:{}", hex::encode(Sha256::digest(config_json)));
        let want = m["config"]["digest"].as_str().unwrap_or_default();
        if want != config_digest {
            return Err(EngineError::corrupt(format!(
                "the image config hashes to {config_digest} but the manifest names {want:?}: the download is damaged; pull again"
            )));
        }
        let mut layers = Vec::new();
        for l in m["layers"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
            let d = l["digest"].as_str().unwrap_or_default().to_string();
            validate_digest(&d).map_err(|e| e.context("manifest layer"))?;
            if !self.can_provide_blob(&d) {
                return Err(EngineError::not_found(
                    "layer blob",
                    &d,
                    "store the layer with put_blob before adding the image",
                ));
            }
            layers.push((d, l["mediaType"].as_str().map(str::to_string)));
        }
        let manifest_digest = format!("sha256:{}", hex::encode(Sha256::digest(manifest_json)));
        let media_type = m["mediaType"]
            .as_str()
            .unwrap_or(media::OCI_MANIFEST)
            .to_string();
        let mut tags = Vec::new();
        let mut repo_digests = Vec::new();
        for r in references {
            let parsed = Reference::parse(r)?;
            repo_digests.push(format!("{}@{manifest_digest}", parsed.name()));
            if parsed.tag.is_some() {
                tags.push(
                    parsed
                        .with_tag(parsed.tag.as_deref().unwrap_or("latest"))
                        .to_string(),
                );
            }
        }
        let mut st = self.staging("add")?;
        let img = NewImage {
            config: config_json.to_vec(),
            manifest: Some((manifest_json.to_vec(), media_type)),
            layers,
            tags,
            repo_digests,
        };
        self.prepare(&mut st, &img)?;
        Ok(self.commit(st, std::slice::from_ref(&img))?.remove(0).id)
    }

    /// Everything `push` needs for the image `id`.
    pub fn image_manifest(&self, id: &str) -> Result<ImageManifest> {
        let idx = self.index()?;
        let rec = idx
            .images
            .get(id)
            .ok_or_else(|| EngineError::not_found("image", id, "list images with wharf images"))?;
        let manifest = self.read_blob(&rec.manifest, MAX_JSON)?;
        let config = self.read_blob(&rec.id, MAX_JSON)?;
        Ok(ImageManifest {
            manifest,
            manifest_digest: rec.manifest.clone(),
            media_type: rec.manifest_media_type.clone(),
            config,
            config_digest: rec.id.clone(),
            layers: rec.layers.clone(),
        })
    }

    /// Where to read the layer blob `digest` from to unpack it: the staged or stored
    /// blob, or else the tar stream rebuilt from a layer unpacked from it (staged or
    /// stored) with a tar-split.
    fn layer_source(&self, st: &Staging, digest: &str) -> Result<Box<dyn Read + Send>> {
        if let Some(p) = st.blob(digest) {
            return Ok(Box::new(
                File::open(p).ctx(|| format!("reading staged blob {digest}"))?,
            ));
        }
        if self.blob_path(digest).is_file() {
            return Ok(Box::new(self.open_blob(digest)?));
        }
        for dir in st.layers.values() {
            let meta: Option<LayerMeta> = read_json(&dir.join("layer.json")).unwrap_or(None);
            if meta.is_some_and(|m| m.diff_id == digest) && layer::has_tar_split(dir) {
                return Ok(Box::new(layer::TarSplitReader::open(dir, digest)?));
            }
        }
        let (r, _) = self.open_blob_stream(digest)?;
        Ok(r)
    }

    /// A stored layer with a tar-split whose uncompressed tar is `digest`: its directory
    /// and the tar's size.
    fn split_layer_of(&self, digest: &str) -> Option<(PathBuf, u64)> {
        let idx = self.index().ok()?;
        idx.images
            .values()
            .flat_map(|r| r.layers.iter())
            .filter(|l| l.diff_id == digest)
            .map(|l| (self.layer_root(&l.chain_id), l.tar_size))
            .find(|(root, _)| root.join("layer.json").is_file() && layer::has_tar_split(root))
    }

    /// Can the store give the blob `digest`: stored as it is, or rebuilt from an
    /// unpacked layer's tar-split (plain layers loaded from archives keep no blob)?
    pub fn can_provide_blob(&self, digest: &str) -> bool {
        self.has_blob(digest)
            || (validate_digest(digest).is_ok() && self.split_layer_of(digest).is_some())
    }

    /// Open the blob `digest` for streaming, and its size: the stored file, or the plain
    /// layer tar rebuilt from an unpacked layer (which fails its read if the layer's
    /// files were changed). The caller still verifies the digest as it reads.
    pub fn open_blob_stream(&self, digest: &str) -> Result<(Box<dyn Read + Send>, u64)> {
        hex_of(digest)?;
        match File::open(self.blob_path(digest)) {
            Ok(f) => {
                let n = f.metadata().ctx(|| format!("reading blob {digest}"))?.len();
                return Ok((Box::new(f), n));
            }
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(EngineError::io(format!("reading blob {digest}"), e))
            }
            Err(_) => {}
        }
        match self.split_layer_of(digest) {
            Some((root, size)) => Ok((Box::new(layer::TarSplitReader::open(&root, digest)?), size)),
            None => Err(EngineError::not_found(
                "blob",
                digest,
                "the image store is incomplete: remove the image and load or pull it again",
            )),
        }
    }

    /// The uncompressed tar of the stored layer `l` (what `save` writes as `layer.tar`):
    /// its blob decompressed, or the stream rebuilt from the unpacked layer and its
    /// tar-split. The caller verifies it against `l.diff_id`.
    pub fn layer_tar(&self, l: &LayerRecord) -> Result<Box<dyn Read>> {
        if self.blob_path(&l.blob).is_file() {
            let f = io::BufReader::with_capacity(1 << 20, self.open_blob(&l.blob)?);
            let (_, plain) = layer::decompress(f).ctx(|| format!("reading layer {}", l.blob))?;
            return Ok(plain);
        }
        let root = self.layer_root(&l.chain_id);
        if layer::has_tar_split(&root) {
            return Ok(Box::new(layer::TarSplitReader::open(&root, &l.diff_id)?));
        }
        let (r, _) = self.open_blob_stream(&l.diff_id)?;
        Ok(r)
    }

    /// Unpack into `st` every layer of `img` that is not unpacked yet, checking diff ids
    /// against the config. Layers are unpacked in parallel.
    pub fn prepare(&self, st: &mut Staging, img: &NewImage) -> Result<()> {
        let config: serde_json::Value = serde_json::from_slice(&img.config).map_err(|e| {
            EngineError::corrupt(format!("the image config is not valid JSON: {e}"))
        })?;
        let diff_ids: Vec<String> = config["rootfs"]["diff_ids"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        if diff_ids.len() != img.layers.len() {
            return Err(EngineError::corrupt(format!(
                "the image config lists {} layers (rootfs.diff_ids) but the manifest has {}: the image is damaged",
                diff_ids.len(),
                img.layers.len()
            )));
        }
        for d in &diff_ids {
            validate_digest(d).map_err(|e| e.context("image config rootfs.diff_ids"))?;
        }
        let chains = layer::chain_ids(&diff_ids);
        let mut jobs = Vec::new();
        for (i, chain) in chains.iter().enumerate() {
            let hex = &chain[7..];
            if st.layers.contains_key(chain) || self.layer_root(chain).join("layer.json").is_file()
            {
                continue;
            }
            let blob = &img.layers[i].0;
            let dir = st.dir.join(format!("layer-{hex}"));
            // Unpacked already as the archive streamed in: check it and name it.
            if let Some((src, stats)) = st.take_unpacked(blob) {
                name_layer(&src, &stats, &diff_ids[i], chain, blob)?;
                fs::rename(&src, &dir).ctx(|| format!("staging layer {chain}"))?;
                st.layers.insert(chain.clone(), dir);
                continue;
            }
            if let Some(e) = st.failed.get(blob) {
                return Err(e.clone().context(format!("layer {blob}")));
            }
            layer::new_layer_dir(&dir)?;
            st.layers.insert(chain.clone(), dir.clone());
            jobs.push((i, chain.clone(), dir, self.layer_source(st, blob)?));
        }
        let workers = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .clamp(1, 4);
        let queue = std::sync::Mutex::new(jobs);
        let results: std::sync::Mutex<Vec<Result<()>>> = std::sync::Mutex::new(Vec::new());
        std::thread::scope(|s| {
            for _ in 0..workers {
                s.spawn(|| loop {
                    let job = match queue.lock() {
                        Ok(mut q) => q.pop(),
                        Err(_) => None,
                    };
                    let Some((i, chain, dir, file)) = job else {
                        break;
                    };
                    let r = unpack_one(&dir, file, &diff_ids[i], &chain, &img.layers[i].0);
                    let failed = r.is_err();
                    if let Ok(mut v) = results.lock() {
                        v.push(r);
                    }
                    if failed {
                        if let Ok(mut q) = queue.lock() {
                            q.clear();
                        }
                    }
                });
            }
        });
        for r in results
            .into_inner()
            .map_err(|_| EngineError::internal("a layer worker panicked"))?
        {
            r?;
        }
        Ok(())
    }

    /// Rename staged blobs and layers into the store and record `imgs` in `images.json`,
    /// all under the images lock. Returns each image's id and the tags it took over.
    pub fn commit(&self, st: Staging, imgs: &[NewImage]) -> Result<Vec<Committed>> {
        let _lock = self.lock()?;
        let mut st = st;
        // What is staged is not flushed here: a pending record (written and fsynced
        // before anything is renamed in) says what may not be on disk yet, and
        // `durable` checks it after a crash (see there).
        let mut idx = self.index()?;
        // Only the layer blobs the images use; other files of an archive stay behind.
        let keep: BTreeSet<&String> = imgs
            .iter()
            .flat_map(|i| i.layers.iter().map(|(d, _)| d))
            .collect();
        let blobs: Vec<(String, PathBuf)> = std::mem::take(&mut st.blobs)
            .into_iter()
            .filter(|(d, _)| keep.contains(d) && !self.blob_path(d).exists())
            .collect();
        let layers: Vec<(String, PathBuf)> = std::mem::take(&mut st.layers)
            .into_iter()
            .filter(|(chain, _)| !self.layer_root(chain).join("layer.json").is_file())
            .collect();
        let record = PendingRecord {
            boot_id: crate::state::boot_id(),
            created: now(),
            layers: layers.iter().map(|(c, _)| c.clone()).collect(),
            blobs: blobs.iter().map(|(d, _)| d.clone()).collect(),
            tags: imgs
                .iter()
                .flat_map(|i| i.tags.iter())
                .map(|t| (t.clone(), idx.refs.get(t).cloned()))
                .collect(),
        };
        if !record.is_empty() {
            pending::write(self.root().path(), &record)?;
        }
        for (digest, src) in &blobs {
            let dst = self.blob_path(digest);
            fs::rename(src, &dst).ctx(|| format!("storing blob {digest}"))?;
        }
        for (chain, src) in &layers {
            let dst = self.layer_root(chain);
            if dst.exists() {
                fs::remove_dir_all(&dst)
                    .ctx(|| format!("removing the incomplete layer {}", dst.display()))?;
            }
            fs::rename(src, &dst).ctx(|| format!("storing layer {chain}"))?;
        }
        crate::state::sync_dir(&self.root.blobs())?;
        crate::state::sync_dir(&self.root.layers())?;
        let mut out = Vec::new();
        let t = now();
        for img in imgs {
            let rec = self.record_for(img, t)?;
            let id = rec.id.clone();
            let mut moved = Vec::new();
            match idx.images.get_mut(&id) {
                Some(existing) => {
                    for d in &rec.repo_digests {
                        if !existing.repo_digests.contains(d) {
                            existing.repo_digests.push(d.clone());
                        }
                    }
                    // The latest registry manifest wins, so push sends what was pulled.
                    if !img.repo_digests.is_empty() {
                        existing.manifest = rec.manifest.clone();
                        existing.manifest_media_type = rec.manifest_media_type.clone();
                        existing.layers = rec.layers.clone();
                    }
                }
                None => {
                    idx.images.insert(id.clone(), rec);
                }
            }
            for tag in &img.tags {
                if let Some(prev) = idx.refs.insert(tag.clone(), id.clone()) {
                    if prev != id {
                        moved.push((tag.clone(), prev));
                    }
                }
                if let Some(r) = idx.images.get_mut(&id) {
                    r.last_tag_time = Some(chrono::Utc::now().to_rfc3339());
                }
            }
            out.push(Committed { id, moved });
        }
        self.write_index(&idx)?;
        Ok(out)
    }

    fn record_for(&self, img: &NewImage, added: i64) -> Result<ImageRecord> {
        let config: serde_json::Value = serde_json::from_slice(&img.config).map_err(|e| {
            EngineError::corrupt(format!("the image config is not valid JSON: {e}"))
        })?;
        let id = format!("sha256:{}", hex::encode(Sha256::digest(&img.config)));
        let diff_ids: Vec<String> = config["rootfs"]["diff_ids"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let chains = layer::chain_ids(&diff_ids);
        let mut layers = Vec::new();
        for (i, (blob, mt)) in img.layers.iter().enumerate() {
            let meta: LayerMeta = read_json(&self.layer_root(&chains[i]).join("layer.json"))?
                .ok_or_else(|| {
                    EngineError::internal(format!("layer {} was not unpacked", chains[i]))
                })?;
            // A plain layer loaded from an archive keeps no blob: the blob is its tar.
            let blob_size = match fs::metadata(self.blob_path(blob)) {
                Ok(m) => m.len(),
                Err(_) if *blob == diff_ids[i] => meta.tar_size,
                Err(_) => 0,
            };
            let media_type = mt.clone().unwrap_or_else(|| {
                // Sniff the stored blob to name its compression.
                let mut head = [0u8; 4];
                let n = File::open(self.blob_path(blob))
                    .and_then(|mut f| f.read(&mut head))
                    .unwrap_or(0);
                Compression::detect(&head[..n])
                    .oci_layer_media_type()
                    .to_string()
            });
            layers.push(LayerRecord {
                diff_id: diff_ids[i].clone(),
                chain_id: chains[i].clone(),
                blob: blob.clone(),
                media_type,
                blob_size,
                size: meta.size,
                tar_size: meta.tar_size,
            });
        }
        let (manifest, manifest_media_type) = match &img.manifest {
            Some((bytes, mt)) => {
                let d = format!("sha256:{}", hex::encode(Sha256::digest(bytes)));
                if !self.has_blob(&d) {
                    self.put_blob(&mut &bytes[..], Some(&d))?;
                }
                (d, mt.clone())
            }
            None => {
                let bytes = oci_manifest(&img.config, &layers);
                let (d, _) = self.put_blob(&mut &bytes[..], None)?;
                (d, media::OCI_MANIFEST.to_string())
            }
        };
        if !self.has_blob(&id) {
            self.put_blob(&mut &img.config[..], Some(&id))?;
        }
        let created = config["created"]
            .as_str()
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.timestamp())
            .unwrap_or(0);
        Ok(ImageRecord {
            id,
            manifest,
            manifest_media_type,
            layers,
            repo_digests: img.repo_digests.clone(),
            created,
            added,
            last_tag_time: None,
        })
    }

    /// Remove the blobs and layers of the deleted images `gone` that no image in `idx`
    /// still uses (hold the images lock). Returns the bytes given back.
    pub fn release(&self, idx: &ImageIndex, gone: &[ImageRecord]) -> Result<u64> {
        let mut used: BTreeSet<&str> = BTreeSet::new();
        for r in idx.images.values() {
            used.insert(&r.id);
            used.insert(&r.manifest);
            for l in &r.layers {
                used.insert(&l.blob);
                used.insert(&l.chain_id);
            }
        }
        let mut freed = 0u64;
        for r in gone {
            let mut blobs = vec![r.id.as_str(), r.manifest.as_str()];
            blobs.extend(r.layers.iter().map(|l| l.blob.as_str()));
            for b in blobs {
                let p = self.blob_path(b);
                if !used.contains(b) && p.is_file() {
                    freed += fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
                    fs::remove_file(&p).ctx(|| format!("removing blob {b}"))?;
                }
            }
            for l in &r.layers {
                let p = self.layer_root(&l.chain_id);
                if !used.contains(l.chain_id.as_str()) && p.exists() {
                    freed += l.size;
                    fs::remove_dir_all(&p).ctx(|| format!("removing layer {}", l.chain_id))?;
                }
            }
        }
        Ok(freed)
    }

    /// Remove blobs and layers no image refers to (hold the images lock).
    /// Returns the bytes given back. Blobs younger than `min_age` are kept, so a pull
    /// that has stored blobs but not yet its image is not robbed.
    pub fn collect_garbage(&self, idx: &ImageIndex, min_age: std::time::Duration) -> Result<u64> {
        let mut keep_blobs: BTreeSet<String> = BTreeSet::new();
        let mut keep_layers: BTreeSet<String> = BTreeSet::new();
        for r in idx.images.values() {
            keep_blobs.insert(r.id[7..].to_string());
            keep_blobs.insert(r.manifest.trim_start_matches("sha256:").to_string());
            for l in &r.layers {
                keep_blobs.insert(l.blob.trim_start_matches("sha256:").to_string());
                keep_layers.insert(l.chain_id.trim_start_matches("sha256:").to_string());
            }
        }
        let mut freed = 0u64;
        let old_enough = |p: &Path| {
            fs::symlink_metadata(p)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age >= min_age)
        };
        for e in fs::read_dir(self.root.blobs())
            .ctx(|| "listing blobs".into())?
            .flatten()
        {
            let name = e.file_name().to_string_lossy().into_owned();
            if !keep_blobs.contains(&name) && old_enough(&e.path()) {
                freed += e.metadata().map(|m| m.len()).unwrap_or(0);
                fs::remove_file(e.path()).ctx(|| format!("removing blob {name}"))?;
            }
        }
        for e in fs::read_dir(self.root.layers())
            .ctx(|| "listing layers".into())?
            .flatten()
        {
            let name = e.file_name().to_string_lossy().into_owned();
            if !keep_layers.contains(&name) {
                let meta: Option<LayerMeta> =
                    read_json(&e.path().join("layer.json")).unwrap_or(None);
                freed += meta.map(|m| m.size).unwrap_or(0);
                fs::remove_dir_all(e.path()).ctx(|| format!("removing layer {name}"))?;
            }
        }
        Ok(freed)
    }
}

/// `layers/<hex>/layer.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct LayerMeta {
    pub(super) diff_id: String,
    pub(super) chain_id: String,
    pub(super) size: u64,
    pub(super) tar_size: u64,
}

/// Name prefixes of the image store's staging directories under `tmp/`.
const STAGING_KINDS: [&str; 5] = ["load-", "import-", "add-", "blob-", "commit-"];

/// The lock file in a staging directory, held by the process that stages there.
const STAGING_OWNER: &str = ".owner";

/// How long a staging directory without an owner file is left alone: one that a process
/// is making this instant, or one an older wharf (before owner files) is still using.
const UNOWNED_GRACE: std::time::Duration = std::time::Duration::from_secs(600);

/// Whether a staging directory's process lives.
#[derive(Debug)]
enum StagingOwner {
    /// Held by a running process (or too young to tell).
    Alive,
    /// Its process is gone; the lock, if it had one, is now ours.
    Gone(Option<FileLock>),
}

/// Mark `dir` as this process's for as long as it lives: `.owner`, locked, saying the
/// pid and boot id. It is made aside, locked, then renamed in, so that no cleaner ever
/// sees it unlocked while its process lives.
fn claim_staging(dir: &Path) -> Result<FileLock> {
    let tmp = dir.join(".owner.tmp");
    let lock = FileLock::exclusive(&tmp)?;
    let mut f = lock.file();
    writeln!(
        f,
        "pid {} boot {}",
        std::process::id(),
        crate::state::boot_id()
    )
    .ctx(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, dir.join(STAGING_OWNER))
        .ctx(|| format!("claiming staging directory {}", dir.display()))?;
    Ok(lock)
}

fn staging_owner(dir: &Path) -> StagingOwner {
    match FileLock::probe(&dir.join(STAGING_OWNER)) {
        Ok(Probe::Held) => StagingOwner::Alive,
        Ok(Probe::Free(lock)) => StagingOwner::Gone(Some(lock)),
        Ok(Probe::Missing) => {
            let young = fs::symlink_metadata(dir)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_none_or(|age| age < UNOWNED_GRACE);
            if young {
                StagingOwner::Alive
            } else {
                StagingOwner::Gone(None)
            }
        }
        // Cannot tell: keep it.
        Err(_) => StagingOwner::Alive,
    }
}

/// Bytes in the regular files under `dir` (symlinks not followed; what vanishes while
/// counting is skipped).
fn tree_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => todo.push(e.path()),
                Ok(t) if t.is_file() => total += e.metadata().map(|m| m.len()).unwrap_or(0),
                _ => {}
            }
        }
    }
    total
}

fn diff_mismatch(blob: &str, got: &str, want: &str) -> EngineError {
    EngineError::corrupt(format!(
        "layer {blob} unpacks to {got} but the image config says {want}: the archive is damaged or was tampered with"
    ))
}

fn unpack_one(
    dir: &Path,
    src: Box<dyn Read + Send>,
    diff_id: &str,
    chain: &str,
    blob: &str,
) -> Result<()> {
    let stats: LayerStats =
        layer::unpack_layer_into(io::BufReader::with_capacity(1 << 20, src), dir)
            .map_err(|e| e.context(format!("layer {blob}")))?;
    name_layer(dir, &stats, diff_id, chain, blob)
}

/// Check an unpacked layer against the diff id the config gives it (`want`), then
/// write its `layer.json`.
fn name_layer(dir: &Path, stats: &LayerStats, want: &str, chain: &str, blob: &str) -> Result<()> {
    if stats.diff_id != want {
        return Err(diff_mismatch(blob, &stats.diff_id, want));
    }
    let meta = LayerMeta {
        diff_id: want.to_string(),
        chain_id: chain.to_string(),
        size: stats.size,
        tar_size: stats.tar_size,
    };
    write_layer_meta(dir, &meta)
}

/// Write `layer.json` in a staged layer directory. No fsync here, as for the layer's
/// files: the commit's pending record covers them (see `durable`).
pub(super) fn write_layer_meta(dir: &Path, meta: &LayerMeta) -> Result<()> {
    let data = serde_json::to_vec(meta)
        .map_err(|e| EngineError::internal(format!("serializing layer.json: {e}")))?;
    fs::write(dir.join("layer.json"), data)
        .ctx(|| format!("writing {}", dir.join("layer.json").display()))
}

/// An OCI manifest for a config and its stored layers.
pub fn oci_manifest(config: &[u8], layers: &[LayerRecord]) -> Vec<u8> {
    let m = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media::OCI_MANIFEST,
        "config": {
            "mediaType": media::OCI_CONFIG,
            "digest": format!("sha256:{}", hex::encode(Sha256::digest(config))),
            "size": config.len(),
        },
        "layers": layers.iter().map(|l| serde_json::json!({
            "mediaType": l.media_type,
            "digest": l.blob,
            "size": l.blob_size,
        })).collect::<Vec<_>>(),
    });
    serde_json::to_vec(&m).unwrap_or_default()
}

fn sync_file(p: &Path) -> Result<()> {
    File::open(p)
        .and_then(|f| f.sync_all())
        .ctx(|| format!("syncing {}", p.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, ImageStore) {
        let dir = tempfile::tempdir().unwrap();
        let root = StateRoot::open(dir.path().join("root")).unwrap();
        (dir, ImageStore::new(root))
    }

    /// A staging directory as a killed process leaves it: an owner file nobody locks.
    fn orphan(store: &ImageStore, name: &str, bytes: usize, owner: bool) -> PathBuf {
        let d = store.root().tmp().join(name);
        fs::create_dir_all(d.join("layer-x")).unwrap();
        fs::write(d.join("layer-x/blob"), vec![0u8; bytes]).unwrap();
        if owner {
            fs::write(d.join(STAGING_OWNER), b"pid 1 boot x\n").unwrap();
        }
        d
    }

    #[test]
    fn staging_of_a_live_owner_is_kept_and_of_a_dead_one_reclaimed() {
        let (_d, store) = store();
        let mut live = store.staging("load").unwrap();
        live.put_bytes(&[1u8; 1000]).unwrap();
        assert!(live.dir().join(STAGING_OWNER).is_file());
        let u = store.staging_usage();
        assert_eq!((u.count, u.active, u.reclaimable), (1, 1, 0));
        assert!(u.size >= 1000, "{u:?}");

        let dead = orphan(&store, "load-dead", 5000, true);
        let young = orphan(&store, "import-young", 300, false);
        let old = orphan(&store, "blob-old", 700, false);
        let long_ago = filetime::FileTime::from_unix_time(1_600_000_000, 0);
        filetime::set_file_mtime(&old, long_ago).unwrap();
        // Not the image store's: left alone.
        let other = store.root().tmp().join("volume-abc");
        fs::create_dir_all(&other).unwrap();

        let u = store.staging_usage();
        assert_eq!((u.count, u.active), (4, 2), "{u:?}");
        assert!(u.reclaimable >= 5700 && u.reclaimable < 6000, "{u:?}");
        assert!(u.size >= u.reclaimable + 1300, "{u:?}");

        let (n, freed) = store.remove_orphaned_staging();
        assert_eq!(n, 2);
        assert!(freed >= 5700, "{freed}");
        assert!(!dead.exists() && !old.exists());
        assert!(young.exists() && other.exists() && live.dir().exists());
        let u = store.staging_usage();
        assert_eq!((u.count, u.active, u.reclaimable), (2, 2, 0));

        // A new staging does the same cleanup; a dropped one leaves nothing.
        orphan(&store, "add-dead", 10, true);
        let next = store.staging("commit").unwrap();
        assert!(!store.root().tmp().join("add-dead").exists());
        let next_dir = next.dir().to_path_buf();
        drop(next);
        drop(live);
        assert!(!next_dir.exists());
        assert_eq!(store.staging_usage().count, 1); // import-young
    }
}
