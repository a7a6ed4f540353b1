//! When what a commit stored reaches the disk.
//!
//! A load does not wait for its files to be written out (the page cache holds them, as
//! after `tar -xf`): [`ImageStore::commit`] writes a pending record under `unsynced/`
//! (fsynced) before it renames anything in, then updates `images.json` (fsynced). The
//! record names the layers and blobs that commit renamed in, the tags it moved and the
//! boot it happened in (`/proc/sys/kernel/random/boot_id`).
//!
//! Page-cache contents survive any process's death, so they can be missing only after
//! the machine went down: a record of the current boot is sound, one of an earlier boot
//! is checked.
//!
//! - [`ImageStore::make_durable`] flushes the file system (`syncfs`) and drops the
//!   records. The runtime calls it before a container uses an image's layers, so no
//!   container ever stands on a layer that could vanish.
//! - [`ImageStore::recover_unsynced`] (at engine start) flushes records of this boot that
//!   are old enough for the kernel to have written them out anyway, and checks records of
//!   an earlier boot: every layer is unpacked again from its own tar-split and files,
//!   which checks every byte against the diff id and sets every mode, owner, time and
//!   link from the tar headers (right even on a file system that does not journal
//!   metadata in order, after its fsck), and every blob is hashed against its digest.
//!   Images that use anything that fails are dropped, and the tags they took are given
//!   back to the images they named before. The store is then in the state before that
//!   commit, never a torn one.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

use super::layer;
use super::pending;
pub use super::pending::PendingRecord;
use super::store::{write_layer_meta, ImageIndex, ImageRecord, ImageStore, LayerMeta, LayerRecord};
use crate::error::{EngineError, IoContext, Result};
use crate::state::{boot_id, sync_dir};

/// Records of this boot older than this are flushed at engine start (the kernel writes
/// dirty pages out after 30 s by default, so the flush has nothing left to wait for).
const SETTLED: Duration = Duration::from_secs(60);

/// What [`ImageStore::recover_unsynced`] did.
#[derive(Debug, Default)]
pub struct Recovery {
    /// Images dropped because something they use did not survive: (id, its tags).
    pub dropped: Vec<(String, Vec<String>)>,
    /// Tags given back to the image they named before: (tag, image id).
    pub restored: Vec<(String, String)>,
}

impl ImageStore {
    /// The pending records, oldest first: (path, record).
    fn pending(&self) -> Result<Vec<(PathBuf, PendingRecord)>> {
        pending::read_all(self.root().path())
    }

    /// Is anything stored not yet known to be on disk?
    pub fn has_unsynced(&self) -> bool {
        self.pending().is_ok_and(|p| !p.is_empty())
    }

    /// Flush everything the store holds to disk and drop the pending records. Cheap when
    /// there are none (one directory read). Records of an earlier boot are never just
    /// dropped: they are checked first (see [`recover_unsynced`](Self::recover_unsynced)),
    /// and what that did is returned.
    pub fn make_durable(&self) -> Result<Recovery> {
        self.settle_records(true)
    }

    /// `syncfs`, then remove the records listed before it (later ones may name files
    /// the flush did not cover).
    fn flush_and_forget(&self, pending: &[(PathBuf, PendingRecord)]) -> Result<()> {
        let root = self.root().path();
        let f = fs::File::open(root).ctx(|| format!("opening {}", root.display()))?;
        rustix::fs::syncfs(&f).map_err(|e| {
            EngineError::io(
                format!(
                    "writing the image store in {} to disk (the disk may be full or failing; images loaded since the last flush stay marked as unsynced)",
                    root.display()
                ),
                e.into(),
            )
        })?;
        for (p, _) in pending {
            match fs::remove_file(p) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(EngineError::io(format!("removing {}", p.display()), e)),
            }
        }
        sync_dir(&pending::dir(self.root().path()))
    }

    /// At engine start: check what an earlier boot left unsynced and drop the images it
    /// cannot vouch for; flush what this boot left long enough ago.
    pub fn recover_unsynced(&self) -> Result<Recovery> {
        self.settle_records(false)
    }

    /// Records of this boot are flushed and dropped (with `flush_anyway`, or once
    /// settled); records of an earlier boot are checked first, under the images lock.
    fn settle_records(&self, flush_anyway: bool) -> Result<Recovery> {
        let mut out = Recovery::default();
        let pending = self.pending()?;
        if pending.is_empty() {
            return Ok(out);
        }
        let boot = boot_id();
        let earlier = |r: &PendingRecord| boot.is_empty() || r.boot_id != boot;
        if !pending.iter().any(|(_, r)| earlier(r)) {
            let now = chrono::Utc::now().timestamp();
            let settled = pending
                .iter()
                .all(|(_, r)| now - r.created >= SETTLED.as_secs() as i64);
            if flush_anyway || settled {
                self.flush_and_forget(&pending)?;
            }
            return Ok(out);
        }
        let _lock = self.lock()?;
        // Listed again under the lock: a commit may have added one meanwhile.
        let pending = self.pending()?;
        let earlier: Vec<&PendingRecord> = pending
            .iter()
            .map(|(_, r)| r)
            .filter(|r| earlier(r))
            .collect();
        let mut bad_layers = BTreeSet::new();
        let mut bad_blobs = BTreeSet::new();
        let mut idx = self.index()?;
        let layers: BTreeMap<&str, &LayerRecord> = idx
            .images
            .values()
            .flat_map(|r| r.layers.iter())
            .map(|l| (l.chain_id.as_str(), l))
            .collect();
        for rec in &earlier {
            for chain in &rec.layers {
                // A layer no image uses is garbage: removed below whatever it holds.
                let ok = match layers.get(chain.as_str()) {
                    Some(l) => self.rebuild_layer(l)?,
                    None => false,
                };
                if !ok {
                    bad_layers.insert(chain.clone());
                }
            }
            for blob in &rec.blobs {
                if !self.blob_intact(blob)? {
                    bad_blobs.insert(blob.clone());
                }
            }
        }
        drop(layers);
        let gone: Vec<ImageRecord> = idx
            .images
            .values()
            .filter(|r| {
                bad_blobs.contains(&r.id)
                    || bad_blobs.contains(&r.manifest)
                    || r.layers
                        .iter()
                        .any(|l| bad_layers.contains(&l.chain_id) || bad_blobs.contains(&l.blob))
            })
            .cloned()
            .collect();
        for r in &gone {
            let tags = idx.tags_of(&r.id);
            idx.images.remove(&r.id);
            out.dropped.push((r.id.clone(), tags));
        }
        out.restored = give_tags_back(&mut idx, &earlier);
        if !gone.is_empty() || !out.restored.is_empty() {
            self.write_index(&idx)?;
        }
        self.release(&idx, &gone)?;
        // Layers and blobs that failed but no image used: removed as well.
        self.remove_unused(&idx, &bad_layers, &bad_blobs)?;
        self.flush_and_forget(&pending)?;
        Ok(out)
    }

    /// Unpack the stored layer `chain` again from itself: its tar-split and files
    /// rebuild the tar stream (checked against `diff_id` as it ends), which unpacks into a
    /// new directory that then takes the old one's place. Contents are checked by the
    /// digest; everything else (modes, owners, times, links, devices, whiteouts) comes
    /// from the tar headers, so it is right even where the file system does not journal
    /// metadata in order (ext4 without a journal, after fsck).
    ///
    /// First a read-only pass: anything wrong in it (a torn tar-split, a short or
    /// changed file) means the layer did not survive, `Ok(false)`. A failure in the
    /// second pass, which writes, is the host's (a full disk, say): an error, and
    /// nothing is dropped; the check runs again at the next start.
    fn rebuild_layer(&self, l: &LayerRecord) -> Result<bool> {
        let (chain, diff_id) = (l.chain_id.as_str(), l.diff_id.as_str());
        let root = self.layer_root(chain);
        let intact = layer::has_tar_split(&root)
            && layer::TarSplitReader::open(&root, diff_id)
                .is_ok_and(|mut r| io::copy(&mut r, &mut io::sink()).is_ok());
        if !intact {
            tracing::warn!("layer {chain} did not survive the crash");
            return Ok(false);
        }
        let hex = chain.strip_prefix("sha256:").unwrap_or(chain);
        let fresh = root.with_file_name(format!(".rebuild-{hex}"));
        let old = root.with_file_name(format!(".old-{hex}"));
        let _ = fs::remove_dir_all(&fresh);
        let _ = fs::remove_dir_all(&old);
        let res = (|| -> Result<()> {
            layer::new_layer_dir(&fresh)?;
            // The reader checks the diff id as it ends (and fails the unpack if not).
            let mut r = layer::TarSplitReader::open(&root, diff_id)?;
            let size = layer::unpack_tar(&mut r, &fresh)?;
            let meta = LayerMeta {
                diff_id: diff_id.to_string(),
                chain_id: chain.to_string(),
                size,
                tar_size: l.tar_size,
            };
            write_layer_meta(&fresh, &meta)?;
            fs::rename(&root, &old).ctx(|| format!("moving {}", root.display()))?;
            fs::rename(&fresh, &root).ctx(|| format!("moving {}", fresh.display()))?;
            Ok(())
        })();
        if res.is_err() {
            let _ = fs::remove_dir_all(&fresh);
        }
        let _ = fs::remove_dir_all(&old);
        res.map(|()| true).map_err(|e| {
            e.context(format!(
                "unpacking layer {chain} again (stored before the machine went down)"
            ))
        })
    }

    /// Does the stored blob still hash to its name (a missing blob is fine: it was
    /// never needed, or another copy of it is elsewhere)? An error if it cannot be read.
    fn blob_intact(&self, digest: &str) -> Result<bool> {
        let p = self.blob_path(digest);
        let f = match fs::File::open(&p) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(true),
            Err(e) => return Err(EngineError::io(format!("reading {}", p.display()), e)),
        };
        let mut h = layer::HashingReader::new(io::BufReader::with_capacity(1 << 20, f));
        io::copy(&mut h, &mut io::sink()).ctx(|| format!("reading {}", p.display()))?;
        Ok(h.finish().0 == digest)
    }

    fn remove_unused(
        &self,
        idx: &ImageIndex,
        layers: &BTreeSet<String>,
        blobs: &BTreeSet<String>,
    ) -> Result<()> {
        let used_layers: BTreeSet<&str> = idx
            .images
            .values()
            .flat_map(|r| r.layers.iter().map(|l| l.chain_id.as_str()))
            .collect();
        for chain in layers {
            let root = self.layer_root(chain);
            if !used_layers.contains(chain.as_str()) && root.exists() {
                fs::remove_dir_all(&root).ctx(|| format!("removing layer {chain}"))?;
            }
        }
        for blob in blobs {
            let p = self.blob_path(blob);
            if let Err(e) = fs::remove_file(&p) {
                if e.kind() != io::ErrorKind::NotFound {
                    return Err(EngineError::io(format!("removing {}", p.display()), e));
                }
            }
        }
        Ok(())
    }
}

/// Tags left naming no image (theirs was dropped) go back to what they named before a
/// checked commit took them, newest commit first, if that image is still there.
fn give_tags_back(idx: &mut ImageIndex, records: &[&PendingRecord]) -> Vec<(String, String)> {
    let dangling: Vec<String> = idx
        .refs
        .iter()
        .filter(|(_, id)| !idx.images.contains_key(*id))
        .map(|(t, _)| t.clone())
        .collect();
    let mut out = Vec::new();
    for tag in dangling {
        let before = records
            .iter()
            .rev()
            .filter_map(|r| r.tags.get(&tag))
            .flatten()
            .find(|id| idx.images.contains_key(*id))
            .cloned();
        match before {
            Some(id) => {
                idx.refs.insert(tag.clone(), id.clone());
                out.push((tag, id));
            }
            None => {
                idx.refs.remove(&tag);
            }
        }
    }
    out
}
