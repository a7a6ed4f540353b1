//! Pull and push: manifests resolved (index -> platform), blobs moved in parallel with
//! progress, every byte checked against its digest and size.

use std::collections::VecDeque;
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use super::client::RegistryClient;
use super::manifest::{self, Descriptor, Fetched, Platform, MAX_CONFIG_BYTES};
use crate::api::Progress;
use crate::error::{EngineError, ErrorKind, Result};
use crate::ids::short;
use crate::image::Reference;

/// Layers downloaded at once (Docker's default `max-concurrent-downloads`).
pub const DOWNLOAD_CONCURRENCY: usize = 3;
/// Layers uploaded at once (Docker's default `max-concurrent-uploads`).
pub const UPLOAD_CONCURRENCY: usize = 5;
/// Tries per layer download before giving up (Docker makes 5).
pub const DOWNLOAD_ATTEMPTS: u32 = 3;
/// Pause before a retry, times the attempt number.
const RETRY_DELAY: std::time::Duration = std::time::Duration::from_secs(1);
/// Bytes between two progress reports of one layer.
const PROGRESS_STEP: u64 = 256 * 1024;

/// Where pulled blobs go: the image store.
pub trait BlobSink: Sync {
    /// Is the blob already stored (so it need not be downloaded)?
    fn has_blob(&self, digest: &str) -> bool;
    /// Store the blob read from `r`, which must hash to `digest`. Nothing is left behind
    /// when it fails.
    fn put_blob(&self, r: &mut dyn Read, digest: &str) -> Result<u64>;
}

/// What a pull fetched: the platform's manifest and config; the layers are in the sink.
#[derive(Debug, Clone)]
pub struct PulledImage {
    /// The image manifest (of the chosen platform), byte for byte as the registry sent it.
    pub manifest: Vec<u8>,
    pub manifest_media_type: String,
    /// `sha256:` of `manifest`.
    pub manifest_digest: String,
    /// What the reference resolved to: the index's digest when it named an index,
    /// else the manifest's (Docker shows this one as `Digest:` and in RepoDigests).
    pub resolved_digest: String,
    /// The image config, verified against the manifest.
    pub config: Vec<u8>,
    pub config_digest: String,
    /// The layer descriptors, in order.
    pub layers: Vec<Descriptor>,
    /// The platform chosen from an index, if there was one.
    pub platform: Option<Platform>,
    /// How many layer bytes were downloaded (0 when all were already stored).
    pub downloaded: u64,
}

/// Pull `rref` from `client`'s registry: resolve the manifest (choosing `platform`, the
/// host's by default, from an index), fetch the config, download the missing layers
/// into `sink`, `concurrency` at a time.
pub fn pull(
    client: &RegistryClient,
    rref: &Reference,
    platform: Option<&Platform>,
    sink: &dyn BlobSink,
    concurrency: usize,
    progress: &mut dyn FnMut(Progress),
) -> Result<PulledImage> {
    let what = rref.familiar();
    let (body, media_type, digest) =
        client.get_manifest(&rref.repository, rref.manifest_reference(), &what)?;
    let resolved_digest = digest.clone();
    let (manifest_body, manifest_media_type, manifest_digest, manifest, chosen) =
        match manifest::parse(&media_type, &body, &what)? {
            Fetched::Image(m) => (body, media_type, digest, m, None),
            Fetched::Index(idx) => {
                let want = platform.cloned().unwrap_or_else(Platform::host);
                let desc = manifest::select_platform(&idx, &want, &what)?;
                manifest::check_digest(&desc.digest, &what)?;
                let (b, mt, d) = client.get_manifest(
                    &rref.repository,
                    &desc.digest,
                    &format!("{what} ({want})"),
                )?;
                match manifest::parse(&mt, &b, &what)? {
                Fetched::Image(m) => (b, mt, d, m, desc.platform.clone()),
                Fetched::Index(_) => {
                    return Err(EngineError::invalid(format!(
                        "{what} is an index of indexes for {want}; wharf pulls one level of image index only"
                    )))
                }
            }
            }
        };

    progress(Progress::Message(format!(
        "{}: Pulling from {}",
        rref.manifest_reference(),
        rref.familiar_name()
    )));

    // The config: small, kept in memory, verified.
    let config_desc = &manifest.config;
    if config_desc.size > MAX_CONFIG_BYTES {
        return Err(EngineError::invalid(format!(
            "the config of {what} claims {} bytes, more than the {MAX_CONFIG_BYTES} wharf accepts",
            config_desc.size
        )));
    }
    let (mut r, _) = client.get_blob(&rref.repository, &config_desc.digest)?;
    let mut config = Vec::new();
    let cancel = AtomicBool::new(false);
    let mut vr = VerifyingReader::new(&mut r, config_desc, &cancel, None);
    let read = vr.read_to_end(&mut config);
    if let Some(e) = vr.failure.take() {
        return Err(e.context(format!("pulling the config of {what}")));
    }
    read.map_err(|e| {
        EngineError::unavailable(format!(
            "downloading the config of {what} from {}: {e}",
            client.registry()
        ))
    })?;
    if let Some(want) = platform {
        check_config_platform(&config, want, &what)?;
    }

    // The layers.
    let mut queue = VecDeque::new();
    for l in &manifest.layers {
        if l.size > 0 && sink.has_blob(&l.digest) {
            progress(layer(&l.digest, "Already exists", 0, None));
        } else if !queue.iter().any(|q: &Descriptor| q.digest == l.digest) {
            progress(layer(&l.digest, "Pulling fs layer", 0, Some(l.size)));
            queue.push_back(l.clone());
        }
    }
    let fetch = |desc: &Descriptor, tx: &Sender<Progress>, cancel: &AtomicBool| -> Result<u64> {
        let (mut r, _) = client.get_blob(&rref.repository, &desc.digest)?;
        let mut vr = VerifyingReader::new(&mut r, desc, cancel, Some(tx));
        let stored = sink.put_blob(&mut vr, &desc.digest);
        if let Some(e) = vr.failure.take() {
            return Err(e);
        }
        let n = stored.map_err(|e| e.context(format!("storing layer {}", short(&desc.digest))))?;
        let _ = tx.send(layer(
            &desc.digest,
            "Verifying Checksum",
            n,
            Some(desc.size),
        ));
        let _ = tx.send(layer(&desc.digest, "Download complete", n, Some(desc.size)));
        Ok(n)
    };
    let downloaded = parallel(queue, concurrency, progress, |desc, tx, cancel| {
        // A broken connection or a registry that is briefly unavailable is tried again
        // (the failed attempt left nothing in the store); damaged content is not.
        let mut attempt = 1;
        loop {
            match fetch(desc, tx, cancel) {
                Err(e)
                    if e.kind == ErrorKind::Unavailable
                        && attempt < DOWNLOAD_ATTEMPTS
                        && !cancel.load(Ordering::Relaxed) =>
                {
                    let wait = RETRY_DELAY * attempt;
                    tracing::info!("retrying layer {} after: {e}", desc.digest);
                    let status = format!("Retrying in {} seconds", wait.as_secs());
                    let _ = tx.send(layer(&desc.digest, &status, 0, Some(desc.size)));
                    std::thread::sleep(wait);
                    attempt += 1;
                }
                other => return other,
            }
        }
    })?;
    Ok(PulledImage {
        manifest: manifest_body,
        manifest_media_type,
        manifest_digest,
        resolved_digest,
        config_digest: config_desc.digest.clone(),
        config,
        layers: manifest.layers,
        platform: chosen,
        downloaded,
    })
}

/// When a platform was asked for and the image is a single manifest, its config must say so.
fn check_config_platform(config: &[u8], want: &Platform, what: &str) -> Result<()> {
    #[derive(serde::Deserialize)]
    struct C {
        #[serde(default)]
        architecture: String,
        #[serde(default)]
        os: String,
    }
    let Ok(c) = serde_json::from_slice::<C>(config) else {
        return Ok(());
    };
    if (!c.os.is_empty() && c.os != want.os)
        || (!c.architecture.is_empty() && c.architecture != want.architecture)
    {
        return Err(EngineError::not_found(
            "platform",
            &want.to_string(),
            &format!(
                "{what} is a single {}/{} image; pull it without --platform",
                c.os, c.architecture
            ),
        ));
    }
    Ok(())
}

/// Where pushed blobs come from: the image store.
pub trait BlobSource: Sync {
    /// Open a stored blob for reading.
    fn open_blob(&self, digest: &str) -> Result<Box<dyn Read + Send>>;
}

/// What to push: the manifest as stored, and the blobs it names.
#[derive(Debug, Clone)]
pub struct PushImage {
    pub manifest: Vec<u8>,
    pub media_type: String,
    /// Repositories of the same registry that already hold this image's blobs: missing
    /// blobs are mounted from them (no upload) when the registry allows it.
    pub mount_from: Vec<String>,
}

/// Push `image` as `rref` (its tag, or its digest): the blobs the registry lacks,
/// `concurrency` at a time, then the config and the manifest. Returns the manifest digest.
pub fn push(
    client: &RegistryClient,
    rref: &Reference,
    image: &PushImage,
    source: &dyn BlobSource,
    concurrency: usize,
    progress: &mut dyn FnMut(Progress),
) -> Result<String> {
    let what = rref.familiar();
    let m = match manifest::parse(&image.media_type, &image.manifest, &what)? {
        Fetched::Image(m) => m,
        Fetched::Index(_) => {
            return Err(EngineError::invalid(format!(
                "{what} is an index; wharf pushes single images"
            )))
        }
    };
    let mut queue = VecDeque::new();
    for l in &m.layers {
        if !queue.iter().any(|q: &Descriptor| q.digest == l.digest) {
            progress(layer(&l.digest, "Preparing", 0, Some(l.size)));
            queue.push_back(l.clone());
        }
    }
    let upload = |desc: &Descriptor,
                  tx: Option<&Sender<Progress>>,
                  cancel: &AtomicBool|
     -> Result<u64> {
        if client.blob_exists(&rref.repository, &desc.digest)? {
            if let Some(tx) = tx {
                let _ = tx.send(layer(
                    &desc.digest,
                    "Layer already exists",
                    desc.size,
                    Some(desc.size),
                ));
            }
            return Ok(0);
        }
        for from in image.mount_from.iter().filter(|f| *f != &rref.repository) {
            if client.mount_blob(&rref.repository, &desc.digest, from)? {
                if let Some(tx) = tx {
                    let status = format!("Mounted from {from}");
                    let _ = tx.send(layer(&desc.digest, &status, desc.size, Some(desc.size)));
                }
                return Ok(0);
            }
        }
        let mut r = source.open_blob(&desc.digest)?;
        let mut vr = VerifyingReader::new(&mut r, desc, cancel, tx);
        vr.status = "Pushing";
        let res = client.upload_blob(&rref.repository, &desc.digest, &mut vr);
        if let Some(e) = vr.failure.take() {
            return Err(e.context(format!("pushing {what}: the stored blob is damaged; remove the image and pull or load it again")));
        }
        res?;
        if let Some(tx) = tx {
            let _ = tx.send(layer(&desc.digest, "Pushed", desc.size, Some(desc.size)));
        }
        Ok(desc.size)
    };
    parallel(queue, concurrency, progress, |desc, tx, cancel| {
        upload(desc, Some(tx), cancel)
    })?;
    let cancel = AtomicBool::new(false);
    upload(&m.config, None, &cancel)?;
    let reference = rref
        .digest
        .as_deref()
        .or(rref.tag.as_deref())
        .unwrap_or("latest");
    let digest = client.put_manifest(
        &rref.repository,
        reference,
        &image.media_type,
        &image.manifest,
    )?;
    progress(Progress::Message(format!(
        "{reference}: digest: {digest} size: {}",
        image.manifest.len()
    )));
    Ok(digest)
}

/// A layer progress line, by short digest as Docker shows them.
fn layer(digest: &str, status: &str, current: u64, total: Option<u64>) -> Progress {
    Progress::Layer {
        id: short(digest).to_string(),
        status: status.to_string(),
        current,
        total,
    }
}

/// Run `job` for each queued descriptor on `concurrency` threads, passing progress
/// reports on to `progress` on this thread. The first failure cancels the others.
/// Returns the sum of what the jobs returned.
fn parallel<F>(
    queue: VecDeque<Descriptor>,
    concurrency: usize,
    progress: &mut dyn FnMut(Progress),
    job: F,
) -> Result<u64>
where
    F: Fn(&Descriptor, &Sender<Progress>, &AtomicBool) -> Result<u64> + Sync,
{
    if queue.is_empty() {
        return Ok(0);
    }
    let workers = concurrency.clamp(1, queue.len());
    let queue = Mutex::new(queue);
    let cancel = AtomicBool::new(false);
    let first_error: Mutex<Option<EngineError>> = Mutex::new(None);
    let total = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|s| {
        let (tx, rx) = mpsc::channel::<Progress>();
        for _ in 0..workers {
            let tx = tx.clone();
            let (queue, cancel, first_error, total, job) =
                (&queue, &cancel, &first_error, &total, &job);
            s.spawn(move || loop {
                if cancel.load(Ordering::Relaxed) {
                    return;
                }
                let next = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front();
                let Some(desc) = next else { return };
                match job(&desc, &tx, cancel) {
                    Ok(n) => {
                        total.fetch_add(n, Ordering::Relaxed);
                    }
                    Err(e) => {
                        let mut slot = first_error.lock().unwrap_or_else(|e| e.into_inner());
                        // Keep the real failure, not the "cancelled" of the others.
                        if slot.is_none() {
                            *slot = Some(e);
                        }
                        cancel.store(true, Ordering::Relaxed);
                        return;
                    }
                }
            });
        }
        drop(tx);
        for p in rx {
            progress(p);
        }
    });
    match first_error.into_inner().unwrap_or_else(|e| e.into_inner()) {
        Some(e) => Err(e),
        None => Ok(total.into_inner()),
    }
}

/// Reads a blob while hashing and counting it. More bytes than the descriptor's size,
/// fewer at the end, or a different digest fail the read, and the reason is kept in
/// `failure` so the caller reports it rather than the store's generic error.
struct VerifyingReader<'a> {
    inner: &'a mut dyn Read,
    digest: &'a str,
    size: u64,
    hasher: Sha256,
    count: u64,
    reported: u64,
    cancel: &'a AtomicBool,
    tx: Option<&'a Sender<Progress>>,
    status: &'static str,
    failure: Option<EngineError>,
    done: bool,
}

impl<'a> VerifyingReader<'a> {
    fn new(
        inner: &'a mut dyn Read,
        desc: &'a Descriptor,
        cancel: &'a AtomicBool,
        tx: Option<&'a Sender<Progress>>,
    ) -> Self {
        VerifyingReader {
            inner,
            digest: &desc.digest,
            size: desc.size,
            hasher: Sha256::new(),
            count: 0,
            reported: 0,
            cancel,
            tx,
            status: "Downloading",
            failure: None,
            done: false,
        }
    }

    fn fail(&mut self, e: EngineError) -> std::io::Error {
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, e.message.clone());
        self.failure = Some(e);
        io
    }

    fn report(&mut self) {
        if let Some(tx) = self.tx {
            self.reported = self.count;
            let _ = tx.send(layer(self.digest, self.status, self.count, Some(self.size)));
        }
    }
}

impl Read for VerifyingReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.cancel.load(Ordering::Relaxed) {
            return Err(self.fail(EngineError::new(
                ErrorKind::Unavailable,
                "cancelled because another layer failed",
            )));
        }
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        // Never read more than one byte past the announced size.
        let room = (self.size - self.count.min(self.size)).saturating_add(1);
        let want = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let n = match self.inner.read(&mut buf[..want]) {
            Ok(n) => n,
            Err(e) => {
                return Err(self.fail(EngineError::unavailable(format!(
                    "downloading blob {} failed after {} of {} bytes: {e}",
                    self.digest, self.count, self.size
                ))))
            }
        };
        self.count += n as u64;
        if self.count > self.size {
            return Err(self.fail(EngineError::corrupt(format!(
                "blob {} is longer than the {} bytes its manifest announces: refused",
                self.digest, self.size
            ))));
        }
        self.hasher.update(&buf[..n]);
        if n == 0 {
            self.done = true;
            if self.count != self.size {
                return Err(self.fail(EngineError::corrupt(format!(
                    "blob {} ended after {} of its {} bytes: the transfer was cut; try again",
                    self.digest, self.count, self.size
                ))));
            }
            let got = format!("sha256:{}", hex::encode(self.hasher.clone().finalize()));
            if got != self.digest {
                return Err(self.fail(EngineError::corrupt(format!(
                    "blob {} does not match its digest (the content hashes to {got}): refused; nothing was stored",
                    self.digest
                ))));
            }
            self.report();
        } else if self.count - self.reported >= PROGRESS_STEP {
            self.report();
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(data: &[u8]) -> Descriptor {
        Descriptor {
            media_type: String::new(),
            digest: super::super::client::sha256_digest(data),
            size: data.len() as u64,
            urls: vec![],
            platform: None,
        }
    }

    fn read_all(data: &[u8], d: &Descriptor) -> std::result::Result<Vec<u8>, EngineError> {
        let cancel = AtomicBool::new(false);
        let mut src = data;
        let mut vr = VerifyingReader::new(&mut src, d, &cancel, None);
        let mut out = Vec::new();
        let r = vr.read_to_end(&mut out);
        match vr.failure.take() {
            Some(e) => Err(e),
            None => r
                .map(|_| out)
                .map_err(|e| EngineError::internal(e.to_string())),
        }
    }

    #[test]
    fn verifying_reader_checks_size_and_digest() {
        let data = vec![7u8; 1_000_000];
        let d = desc(&data);
        assert_eq!(read_all(&data, &d).unwrap(), data);
        let e = read_all(&data[..999_999], &d).unwrap_err();
        assert!(e.message.contains("ended after 999999"), "{e}");
        let mut longer = data.clone();
        longer.push(0);
        assert!(read_all(&longer, &d)
            .unwrap_err()
            .message
            .contains("longer than"));
        let mut other = data.clone();
        other[10] = 8;
        let e = read_all(&other, &d).unwrap_err();
        assert!(e.message.contains("does not match its digest"), "{e}");
    }
}
