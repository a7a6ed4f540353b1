//! Images: references, the content store, layers, load/import/save, the demo image.
//! Registries (pull/push/login) live in `registry/` on top of [`store::ImageStore`].
//!
//! What other parts call:
//! - the runtime: [`LocalEngine::resolve_image`] gives an image's id, config and unpacked
//!   layer directories (overlay lower dirs, bottom first);
//! - the registry: [`LocalEngine::image_store`] and [`store::ImageStore`]'s `put_blob`,
//!   `can_provide_blob`, `open_blob_stream` (plain layers loaded from archives have no
//!   blob file: they are rebuilt from their tar-split), `add_image`, `image_manifest`.

pub mod archive;
pub mod build;
pub mod durable;
pub mod layer;
mod pending;
pub mod reference;
pub mod registry;
pub mod store;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::PathBuf;

use serde_json::{json, Value};

use crate::api::{
    HistoryEntry, ImageApi, ImageDiskUsage, ImageListOptions, ImageSummary, ImportOptions,
    LoadReport, PruneReport, RemoveOutcome, SaveFormat,
};
use crate::caller::Caller;
use crate::error::{EngineError, Result};
use crate::events::{Event, EventType};
use crate::local::LocalEngine;
use crate::policy::Action;
pub use reference::Reference;
use store::{ImageIndex, ImageRecord, ImageStore, NewImage, MAX_JSON};

/// Default reference of `wharf image demo`.
pub const DEMO_REFERENCE: &str = "wharf/demo:latest";
/// Where the demo image's busybox comes from.
pub const HOST_BUSYBOX: &str = "/bin/busybox";

/// An image ready to run: what the runtime needs to create a container.
#[derive(Debug, Clone)]
pub struct ResolvedImage {
    /// `sha256:<hex>` of the config.
    pub id: String,
    /// The normalized reference (`docker.io/library/busybox:latest`), or the id when the
    /// image was named by id.
    pub reference: String,
    /// The full OCI/Docker image config JSON (`config.Cmd`, `config.Env`, `rootfs`, ...).
    pub config: Value,
    /// Unpacked layer directories, bottom layer first (overlay wants them top first:
    /// reverse them for `lowerdir=`).
    pub layer_dirs: Vec<PathBuf>,
}

/// How a user named an image, once found.
pub(crate) struct Found {
    pub(crate) id: String,
    /// The tag reference used (full form), if named by tag.
    tag: Option<String>,
    /// The repo digest used (`name@sha256:`), if named by digest.
    digest_ref: Option<String>,
}

fn not_found(reference: &str) -> EngineError {
    EngineError::not_found(
        "image",
        reference,
        &format!(
            "pull it with wharf pull {reference}, load it with wharf load -i FILE, \
             or build the offline demo image with wharf image demo; list images with wharf images"
        ),
    )
}

/// The image `reference` names, how it was named, and its config: where inspect,
/// history and the runtime's resolve all start.
fn lookup(store: &ImageStore, reference: &str) -> Result<(ImageIndex, Found, ImageRecord, Value)> {
    let idx = store.index()?;
    let found = find(&idx, reference)?;
    let rec = idx
        .images
        .get(&found.id)
        .cloned()
        .ok_or_else(|| not_found(reference))?;
    let config = serde_json::from_slice(&store.read_blob(&rec.id, MAX_JSON)?).map_err(|e| {
        EngineError::corrupt(format!(
            "the config of image {} is not valid JSON ({e}); remove it and load or pull it again",
            rec.id
        ))
    })?;
    Ok((idx, found, rec, config))
}

/// Find the image `reference` names in `idx`: a full or short id (with or without
/// `sha256:`), a tag reference or a digest reference, as Docker resolves them.
pub(crate) fn find(idx: &ImageIndex, reference: &str) -> Result<Found> {
    let by_id =
        |p: &str| crate::ids::resolve_prefix("image", p, idx.images.keys().map(String::as_str));
    if reference.starts_with("sha256:") {
        return match by_id(reference)? {
            Some(id) => Ok(Found {
                id,
                tag: None,
                digest_ref: None,
            }),
            None => Err(not_found(reference)),
        };
    }
    let looks_like_id = crate::ids::is_hex_prefix(reference);
    if looks_like_id && reference.len() == 64 {
        return match by_id(reference)? {
            Some(id) => Ok(Found {
                id,
                tag: None,
                digest_ref: None,
            }),
            None => Err(not_found(reference)),
        };
    }
    match Reference::parse(reference) {
        Ok(r) => {
            if let Some(d) = &r.digest {
                let dref = format!("{}@{d}", r.name());
                if let Some(rec) = idx.images.values().find(|i| i.repo_digests.contains(&dref)) {
                    return Ok(Found {
                        id: rec.id.clone(),
                        tag: None,
                        digest_ref: Some(dref),
                    });
                }
            } else if let Some(id) = idx.refs.get(&r.to_string()) {
                return Ok(Found {
                    id: id.clone(),
                    tag: Some(r.to_string()),
                    digest_ref: None,
                });
            }
        }
        Err(e) if !looks_like_id => return Err(e),
        Err(_) => {}
    }
    if looks_like_id {
        if let Some(id) = by_id(reference)? {
            return Ok(Found {
                id,
                tag: None,
                digest_ref: None,
            });
        }
    }
    Err(not_found(reference))
}

/// `rfc3339` of seconds since the epoch.
fn rfc3339(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// `docker.io/library/busybox:latest` -> `busybox:latest`.
fn familiar(r: &str) -> String {
    Reference::parse_any(r)
        .map(|x| x.familiar())
        .unwrap_or_else(|_| r.to_string())
}

/// Docker's `path.Match` glob on `name` (`*` and `?` do not cross `/`).
fn glob(pat: &str, name: &str) -> bool {
    let p: Vec<char> = pat.chars().collect();
    let n: Vec<char> = name.chars().collect();
    fn m(p: &[char], n: &[char]) -> bool {
        match p.first() {
            None => n.is_empty(),
            Some('*') => (0..=n.len())
                .take_while(|i| *i == 0 || n[i - 1] != '/')
                .any(|i| m(&p[1..], &n[i..])),
            Some('?') => !n.is_empty() && n[0] != '/' && m(&p[1..], &n[1..]),
            Some(c) => !n.is_empty() && n[0] == *c && m(&p[1..], &n[1..]),
        }
    }
    m(&p, &n)
}

/// Does the tag reference `full` match a `reference=` filter pattern?
fn reference_matches(pattern: &str, full: &str) -> bool {
    let Ok(r) = Reference::parse_any(full) else {
        return false;
    };
    let fam_name = r.familiar_name();
    let tag = r.tag.clone().unwrap_or_default();
    [
        fam_name.clone(),
        format!("{fam_name}:{tag}"),
        r.name(),
        r.to_string(),
    ]
    .iter()
    .any(|c| glob(pattern, c))
}

impl LocalEngine {
    /// The image content store (for the registry part and tests).
    pub fn image_store(&self) -> ImageStore {
        ImageStore::new(self.root().clone())
    }

    /// Find the image `reference` names (tag, digest reference, full or short id) and
    /// return what the runtime needs to run it. A missing image is a `NotFound` error
    /// telling the user how to get it.
    pub fn resolve_image(&self, caller: &Caller, reference: &str) -> Result<ResolvedImage> {
        self.gate().authorize(caller, Action::ImageInspect)?;
        let store = self.image_store();
        let (_, found, rec, config) = lookup(&store, reference)?;
        let mut layer_dirs = Vec::new();
        for l in &rec.layers {
            let d = store.layer_dir(&l.chain_id);
            if !d.is_dir() {
                return Err(EngineError::corrupt(format!(
                    "layer {} of image {} is missing from {}: remove the image and load or pull it again",
                    l.chain_id,
                    reference,
                    d.display()
                )));
            }
            layer_dirs.push(d);
        }
        let reference = found
            .tag
            .or(found.digest_ref)
            .unwrap_or_else(|| rec.id.clone());
        Ok(ResolvedImage {
            id: rec.id.clone(),
            reference,
            config,
            layer_dirs,
        })
    }

    /// At start: drop the images an earlier boot stored but may not have written out
    /// before the machine went down (see [`durable`]); each is a `delete` event.
    pub(crate) fn recover_images(&self) {
        match self.image_store().recover_unsynced() {
            Ok(r) => self.report_recovery(&r),
            Err(e) => tracing::warn!("could not check the images stored before a crash: {e}"),
        }
        // Staging that killed or crashed loads (pulls, imports, commits) left in tmp/.
        let (n, bytes) = self.image_store().remove_orphaned_staging();
        if n > 0 {
            tracing::info!(
                "removed {n} staging directories left by killed or crashed loads ({bytes} bytes)"
            );
        }
    }

    /// Before a container stands on image layers: everything stored is on disk (what an
    /// earlier boot left is checked first, see [`durable`]).
    pub(crate) fn images_durable(&self) -> Result<()> {
        let r = self.image_store().make_durable()?;
        self.report_recovery(&r);
        Ok(())
    }

    /// Events (and warnings) for what a crash check dropped and gave back.
    fn report_recovery(&self, r: &durable::Recovery) {
        for (id, tags) in &r.dropped {
            let name = tags.first().cloned().unwrap_or_else(|| id.clone());
            tracing::warn!(
                "image {name} ({id}) was not fully written to disk before the machine went down and was removed: load or pull it again"
            );
            self.emit(
                Event::new(EventType::Image, "delete", id)
                    .attr("name", &name)
                    .attr("reason", "incomplete after a crash"),
            );
        }
        for (tag, id) in &r.restored {
            self.image_event("tag", id, tag);
        }
    }

    /// Point `tags` (full references) at image `id`: the builder's `-t`, under the
    /// build's own permission. Emits `tag` (and `untag` for a tag taken over).
    pub(crate) fn tag_built(&self, id: &str, tags: &[String]) -> Result<()> {
        if tags.is_empty() {
            return Ok(());
        }
        let store = self.image_store();
        let _lock = store.lock()?;
        let mut idx = store.index()?;
        let mut events = Vec::new();
        for t in tags {
            let prev = idx.refs.insert(t.clone(), id.to_string());
            let fam = Reference::parse(t)
                .map(|r| r.familiar())
                .unwrap_or_else(|_| t.clone());
            if let Some(p) = prev.filter(|p| p != id) {
                events.push(("untag", p, fam.clone()));
            }
            events.push(("tag", id.to_string(), fam));
        }
        if let Some(rec) = idx.images.get_mut(id) {
            rec.last_tag_time = Some(chrono::Utc::now().to_rfc3339());
        }
        store.write_index(&idx)?;
        for (a, i, n) in events {
            self.image_event(a, &i, &n);
        }
        Ok(())
    }

    /// Remove the untagged images `ids` that no container uses (the build cache's
    /// prune); tagged or used ones stay. Returns what went and the bytes given back.
    pub(crate) fn remove_cached_images(&self, ids: &[String]) -> Result<PruneReport> {
        let store = self.image_store();
        let _lock = store.lock()?;
        let mut idx = store.index()?;
        let users = self.image_users()?;
        let mut report = PruneReport::default();
        let mut gone = Vec::new();
        for id in ids {
            if users.contains_key(id) || !idx.tags_of(id).is_empty() || !idx.images.contains_key(id)
            {
                continue;
            }
            for o in self.delete_image(&mut idx, id, &mut gone) {
                if let RemoveOutcome::Deleted(d) = o {
                    report.deleted.push(d);
                }
            }
        }
        store.write_index(&idx)?;
        report.reclaimed = store.release(&idx, &gone)?;
        Ok(report)
    }

    fn image_event(&self, action: &str, id: &str, name: &str) {
        self.emit(Event::new(EventType::Image, action, id).attr("name", name));
    }

    /// Commit images read from an archive or built here; emits `action` per image and
    /// reports the tags.
    fn commit_images(
        &self,
        st: store::Staging,
        imgs: Vec<NewImage>,
        action: &str,
    ) -> Result<(LoadReport, Vec<String>)> {
        let store = self.image_store();
        let mut st = st;
        let t0 = std::time::Instant::now();
        for img in &imgs {
            store.prepare(&mut st, img)?;
        }
        tracing::debug!("layers unpacked in {:?}", t0.elapsed());
        let done = store.commit(st, &imgs)?;
        tracing::debug!("layers unpacked and committed in {:?}", t0.elapsed());
        let mut report = LoadReport::default();
        let mut ids = Vec::new();
        for (img, c) in imgs.iter().zip(done) {
            for (tag, prev) in &c.moved {
                self.image_event("untag", prev, &familiar(tag));
            }
            if img.tags.is_empty() {
                report.untagged_ids.push(c.id.clone());
                self.image_event(action, &c.id, &c.id);
            }
            for t in &img.tags {
                report.tagged.push(t.clone());
                self.image_event(action, &c.id, &familiar(t));
            }
            ids.push(c.id);
        }
        Ok((report, ids))
    }

    fn import_tar(
        &self,
        input: &mut dyn Read,
        tags: Vec<String>,
        changes: &[String],
        comment: &str,
        created: &str,
        action: &str,
    ) -> Result<String> {
        let store = self.image_store();
        let mut st = store.staging("import")?;
        // Unpack as it streams in (with its tar-split) to learn the diff id; `prepare`
        // then finds it staged.
        let mut input = std::io::BufReader::with_capacity(1 << 20, input);
        let compression = layer::Compression::detect(
            std::io::BufRead::fill_buf(&mut input)
                .map_err(|e| EngineError::io("reading the root filesystem tar", e))?,
        );
        let (blob, _) = st
            .unpack_stream(&mut input, compression, true)
            .map_err(|e| e.context("the root filesystem tar"))?;
        let diff_id = st
            .unpacked(&blob)
            .map(|s| s.diff_id.clone())
            .ok_or_else(|| EngineError::internal("the imported layer was not unpacked"))?;
        let config = build::import_config(&diff_id, changes, comment, created)?;
        let img = NewImage {
            config,
            manifest: None,
            layers: vec![(blob, None)],
            tags,
            repo_digests: vec![],
        };
        let (_, ids) = self.commit_images(st, vec![img], action)?;
        ids.into_iter()
            .next()
            .ok_or_else(|| EngineError::internal("import produced no image"))
    }

    /// Remove image `id` from `idx` (all its tags and digests), returning the outcomes.
    fn delete_image(
        &self,
        idx: &mut ImageIndex,
        id: &str,
        gone: &mut Vec<ImageRecord>,
    ) -> Vec<RemoveOutcome> {
        let mut out = Vec::new();
        for t in idx.tags_of(id) {
            idx.refs.remove(&t);
            out.push(RemoveOutcome::Untagged(familiar(&t)));
            self.image_event("untag", id, &familiar(&t));
        }
        if let Some(rec) = idx.images.remove(id) {
            for d in &rec.repo_digests {
                out.push(RemoveOutcome::Untagged(familiar(d)));
            }
            out.push(RemoveOutcome::Deleted(id.to_string()));
            let still: BTreeSet<&str> = idx
                .images
                .values()
                .flat_map(|r| r.layers.iter().map(|l| l.chain_id.as_str()))
                .collect();
            for l in rec.layers.iter().rev() {
                if !still.contains(l.chain_id.as_str()) {
                    out.push(RemoveOutcome::Deleted(l.chain_id.clone()));
                }
            }
            self.image_event("delete", id, id);
            gone.push(rec);
        }
        out
    }

    fn summary(
        &self,
        idx: &ImageIndex,
        rec: &ImageRecord,
        users: &BTreeMap<String, Vec<String>>,
    ) -> ImageSummary {
        ImageSummary {
            id: rec.id.clone(),
            repo_tags: idx.tags_of(&rec.id),
            repo_digests: rec.repo_digests.clone(),
            created: rec.created,
            size: rec.size(),
            containers: users.get(&rec.id).map(Vec::len).unwrap_or(0),
        }
    }
}

impl ImageApi for LocalEngine {
    fn image_list(&self, caller: &Caller, opts: &ImageListOptions) -> Result<Vec<ImageSummary>> {
        self.gate().authorize(caller, Action::ImageList)?;
        let idx = self.image_store().index()?;
        let users = self.image_users()?;
        let mut out = Vec::new();
        // Images only the build cache holds are intermediate: shown with -a, as Docker does.
        let cached: std::collections::BTreeSet<String> =
            crate::build::cache::Cache::new(self.root())
                .images()
                .into_iter()
                .collect();
        for rec in idx.images.values() {
            let mut s = self.summary(&idx, rec, &users);
            let dangling = s.repo_tags.is_empty();
            if dangling && !opts.all && cached.contains(&rec.id) {
                continue;
            }
            if opts.dangling.is_some_and(|d| d != dangling) {
                continue;
            }
            if !opts.reference.is_empty() {
                s.repo_tags
                    .retain(|t| opts.reference.iter().any(|p| reference_matches(p, t)));
                if s.repo_tags.is_empty() {
                    continue;
                }
            }
            out.push(s);
        }
        out.sort_by(|a, b| b.created.cmp(&a.created).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    fn image_inspect(&self, caller: &Caller, reference: &str) -> Result<Value> {
        self.gate().authorize(caller, Action::ImageInspect)?;
        let store = self.image_store();
        let (idx, _, rec, cfg) = lookup(&store, reference)?;
        let mut c = cfg["config"].as_object().cloned().unwrap_or_default();
        for k in [
            "Cmd",
            "Entrypoint",
            "Env",
            "WorkingDir",
            "User",
            "ExposedPorts",
            "Volumes",
            "Labels",
            "StopSignal",
            "Healthcheck",
            "OnBuild",
        ] {
            c.entry(k).or_insert(if k == "WorkingDir" || k == "User" {
                json!("")
            } else {
                Value::Null
            });
        }
        let lowers: Vec<String> = rec
            .layers
            .iter()
            .rev()
            .map(|l| store.layer_dir(&l.chain_id).display().to_string())
            .collect();
        let comment = cfg["comment"].as_str().map(str::to_string).or_else(|| {
            cfg["history"]
                .as_array()
                .and_then(|h| h.last())
                .and_then(|h| h["comment"].as_str())
                .map(str::to_string)
        });
        let mut v = json!({
            "Id": rec.id,
            "RepoTags": idx.tags_of(&rec.id).iter().map(|t| familiar(t)).collect::<Vec<_>>(),
            "RepoDigests": rec.repo_digests.iter().map(|d| familiar(d)).collect::<Vec<_>>(),
            "Parent": cfg["parent"].as_str().unwrap_or(""),
            "Comment": comment.unwrap_or_default(),
            "Created": cfg["created"].as_str().unwrap_or(""),
            "DockerVersion": cfg["docker_version"].as_str().unwrap_or(""),
            "Author": cfg["author"].as_str().unwrap_or(""),
            "Config": Value::Object(c),
            "Architecture": cfg["architecture"].as_str().unwrap_or(""),
            "Os": cfg["os"].as_str().unwrap_or(""),
            "Size": rec.size(),
            "GraphDriver": {"Name": "overlay", "Data": {"LowerDir": lowers.join(":")}},
            "RootFS": {"Type": "layers", "Layers": rec.layers.iter().map(|l| l.diff_id.clone()).collect::<Vec<_>>()},
            "Metadata": {"LastTagTime": rec.last_tag_time.clone().unwrap_or_else(|| "0001-01-01T00:00:00Z".into())},
        });
        if let Some(var) = cfg["variant"].as_str() {
            v["Variant"] = json!(var);
        }
        Ok(v)
    }

    fn image_history(&self, caller: &Caller, reference: &str) -> Result<Vec<HistoryEntry>> {
        self.gate().authorize(caller, Action::ImageInspect)?;
        let store = self.image_store();
        let (_, _, rec, cfg) = lookup(&store, reference)?;
        let hist = cfg["history"].as_array().cloned().unwrap_or_default();
        let mut layers = rec.layers.iter();
        let mut out = Vec::new();
        if hist.is_empty() {
            for l in rec.layers.iter() {
                out.push(HistoryEntry {
                    id: "<missing>".into(),
                    created: rec.created,
                    created_by: String::new(),
                    size: l.size,
                    comment: String::new(),
                    empty_layer: false,
                });
            }
        }
        for h in hist {
            let empty = h["empty_layer"].as_bool().unwrap_or(false);
            let size = if empty {
                0
            } else {
                layers.next().map(|l| l.size).unwrap_or(0)
            };
            out.push(HistoryEntry {
                id: "<missing>".into(),
                created: h["created"]
                    .as_str()
                    .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                    .map(|t| t.timestamp())
                    .unwrap_or(0),
                created_by: h["created_by"].as_str().unwrap_or("").to_string(),
                size,
                comment: h["comment"].as_str().unwrap_or("").to_string(),
                empty_layer: empty,
            });
        }
        out.reverse();
        if let Some(first) = out.first_mut() {
            first.id = rec.id.clone();
        }
        Ok(out)
    }

    fn image_load(&self, caller: &Caller, input: &mut dyn Read) -> Result<LoadReport> {
        self.gate().authorize(caller, Action::ImageLoad)?;
        let t0 = std::time::Instant::now();
        let loaded = archive::read_archive(&self.image_store(), input)?;
        tracing::debug!("load: archive read and staged in {:?}", t0.elapsed());
        Ok(self.commit_images(loaded.staging, loaded.images, "load")?.0)
    }

    fn image_import(
        &self,
        caller: &Caller,
        input: &mut dyn Read,
        opts: &ImportOptions,
    ) -> Result<String> {
        self.gate().authorize(caller, Action::ImageImport)?;
        let tags = match &opts.reference {
            Some(r) => {
                let p = Reference::parse(r)?;
                if p.digest.is_some() {
                    return Err(EngineError::invalid(format!(
                        "cannot import as {r:?}: give a tag, not a digest"
                    )));
                }
                vec![p.to_string()]
            }
            None => vec![],
        };
        for c in &opts.changes {
            build::apply_change(&mut serde_json::Map::new(), c)?;
        }
        let comment = opts
            .message
            .clone()
            .unwrap_or_else(|| "Imported from -".into());
        let created = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        self.import_tar(input, tags, &opts.changes, &comment, &created, "import")
    }

    fn image_save(
        &self,
        caller: &Caller,
        references: &[String],
        format: SaveFormat,
        out: &mut dyn Write,
    ) -> Result<()> {
        self.gate().authorize(caller, Action::ImageSave)?;
        if references.is_empty() {
            return Err(EngineError::invalid(
                "wharf save needs at least one image: wharf save -o FILE IMAGE...",
            ));
        }
        let store = self.image_store();
        let idx = store.index()?;
        let mut items: Vec<archive::SaveItem> = Vec::new();
        for r in references {
            let found = find(&idx, r)?;
            let rec = idx.images.get(&found.id).ok_or_else(|| not_found(r))?;
            let tags: Vec<String> = found.tag.into_iter().collect();
            if let Some(it) = items.iter_mut().find(|i| i.id == rec.id) {
                for t in tags {
                    if !it.tags.contains(&t) {
                        it.tags.push(t);
                    }
                }
                continue;
            }
            let m = store.image_manifest(&rec.id)?;
            items.push(archive::SaveItem {
                tags,
                config: m.config,
                id: rec.id.clone(),
                manifest: m.manifest,
                manifest_digest: m.manifest_digest,
                manifest_media_type: m.media_type,
                layers: m.layers,
                created: rec.created,
            });
        }
        match format {
            SaveFormat::Docker => archive::write_docker(&store, &items, out)?,
            SaveFormat::Oci => archive::write_oci(&store, &items, out)?,
        }
        for it in &items {
            let name = it
                .tags
                .first()
                .map(|t| familiar(t))
                .unwrap_or_else(|| it.id.clone());
            self.image_event("save", &it.id, &name);
        }
        Ok(())
    }

    fn image_tag(&self, caller: &Caller, source: &str, target: &str) -> Result<()> {
        self.gate().authorize(caller, Action::ImageTag)?;
        let t = Reference::parse(target)?;
        if t.digest.is_some() {
            return Err(EngineError::invalid(format!(
                "cannot tag as {target:?}: a tag cannot contain a digest; write NAME:TAG"
            )));
        }
        let store = self.image_store();
        let _lock = store.lock()?;
        let mut idx = store.index()?;
        let found = find(&idx, source)?;
        let full = t.to_string();
        let prev = idx.refs.insert(full.clone(), found.id.clone());
        if let Some(rec) = idx.images.get_mut(&found.id) {
            rec.last_tag_time = Some(chrono::Utc::now().to_rfc3339());
        }
        store.write_index(&idx)?;
        if let Some(p) = prev.filter(|p| *p != found.id) {
            self.image_event("untag", &p, &t.familiar());
        }
        self.image_event("tag", &found.id, &t.familiar());
        Ok(())
    }

    fn image_remove(
        &self,
        caller: &Caller,
        reference: &str,
        force: bool,
    ) -> Result<Vec<RemoveOutcome>> {
        self.gate().authorize(caller, Action::ImageRemove)?;
        let store = self.image_store();
        let _lock = store.lock()?;
        let mut idx = store.index()?;
        let found = find(&idx, reference)?;
        let id = found.id.clone();
        let users = self.image_users()?.remove(&id).unwrap_or_default();
        let tags = idx.tags_of(&id);
        let mut out = Vec::new();
        let mut gone = Vec::new();
        // dockerd's words (clients match on them), naming a running user first as it does;
        // wharf's -f untags and keeps the image for its containers.
        let mut by_state: Vec<(bool, &String)> = users
            .iter()
            .map(|c| (self.container_active(c), c))
            .collect();
        by_state.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
        let user = by_state
            .first()
            .map(|(running, c)| (*running, crate::ids::short(c).to_string()));
        let others = if users.len() > 1 {
            format!(" (and {} more)", users.len() - 1)
        } else {
            String::new()
        };
        let in_use_by_tag = || {
            let (_, c) = user.clone().unwrap_or_default();
            EngineError::conflict(format!(
                "conflict: unable to remove repository reference {reference:?} (must force) - container {c}{others} is using its referenced image {}",
                crate::ids::short(&id)
            ))
        };
        let in_use_by_id = || {
            let (running, c) = user.clone().unwrap_or_default();
            EngineError::conflict(format!(
                "conflict: unable to delete {} (must be forced) - image is being used by {} container {c}{others}",
                crate::ids::short(&id),
                if running { "running" } else { "stopped" }
            ))
        };
        if let Some(tag) = &found.tag {
            if tags.len() > 1 {
                idx.refs.remove(tag);
                out.push(RemoveOutcome::Untagged(familiar(tag)));
                self.image_event("untag", &id, &familiar(tag));
            } else if !users.is_empty() {
                if !force {
                    return Err(in_use_by_tag());
                }
                idx.refs.remove(tag);
                out.push(RemoveOutcome::Untagged(familiar(tag)));
                self.image_event("untag", &id, &familiar(tag));
            } else {
                out.extend(self.delete_image(&mut idx, &id, &mut gone));
            }
        } else if let Some(dref) = &found.digest_ref {
            let rec = idx
                .images
                .get_mut(&id)
                .ok_or_else(|| not_found(reference))?;
            rec.repo_digests.retain(|d| d != dref);
            out.push(RemoveOutcome::Untagged(familiar(dref)));
            self.image_event("untag", &id, &familiar(dref));
            if tags.is_empty() && rec.repo_digests.is_empty() && users.is_empty() {
                out.extend(self.delete_image(&mut idx, &id, &mut gone));
            }
        } else {
            if !users.is_empty() {
                if !force {
                    return Err(in_use_by_id());
                }
                for t in &tags {
                    idx.refs.remove(t);
                    out.push(RemoveOutcome::Untagged(familiar(t)));
                    self.image_event("untag", &id, &familiar(t));
                }
            } else {
                if tags.len() > 1 && !force {
                    return Err(EngineError::conflict(format!(
                        "conflict: unable to delete {} (must be forced) - image is referenced in multiple repositories ({})",
                        crate::ids::short(&id),
                        tags.iter().map(|t| familiar(t)).collect::<Vec<_>>().join(", ")
                    )));
                }
                out.extend(self.delete_image(&mut idx, &id, &mut gone));
            }
        }
        store.write_index(&idx)?;
        store.release(&idx, &gone)?;
        store.collect_garbage(&idx, std::time::Duration::from_secs(600))?;
        Ok(out)
    }

    fn image_prune(&self, caller: &Caller, all: bool) -> Result<PruneReport> {
        self.gate().authorize(caller, Action::ImagePrune)?;
        let store = self.image_store();
        let _lock = store.lock()?;
        let mut idx = store.index()?;
        let users = self.image_users()?;
        // The build cache's intermediate images are not dangling (`builder prune` removes them).
        let cached: std::collections::BTreeSet<String> =
            crate::build::cache::Cache::new(self.root())
                .images()
                .into_iter()
                .collect();
        let victims: Vec<String> = idx
            .images
            .keys()
            .filter(|id| {
                !users.contains_key(*id)
                    && (all || (idx.tags_of(id).is_empty() && !cached.contains(*id)))
            })
            .cloned()
            .collect();
        let mut report = PruneReport::default();
        let mut gone = Vec::new();
        for id in victims {
            for o in self.delete_image(&mut idx, &id, &mut gone) {
                match o {
                    RemoveOutcome::Untagged(t) => report.deleted.push(format!("untagged: {t}")),
                    RemoveOutcome::Deleted(d) => report.deleted.push(d),
                }
            }
        }
        store.write_index(&idx)?;
        report.reclaimed = store.release(&idx, &gone)?;
        report.reclaimed += store.collect_garbage(&idx, std::time::Duration::from_secs(600))?;
        // What killed loads left in tmp/ (never a running one's).
        report.reclaimed += store.remove_orphaned_staging().1;
        Ok(report)
    }

    fn image_build_demo(&self, caller: &Caller, reference: &str) -> Result<String> {
        self.gate().authorize(caller, Action::ImageBuild)?;
        let r = Reference::parse(reference)?;
        if r.digest.is_some() {
            return Err(EngineError::invalid(format!(
                "cannot name the demo image {reference:?}: give a tag, not a digest"
            )));
        }
        let busybox = std::path::Path::new(HOST_BUSYBOX);
        let mtime = std::fs::metadata(busybox)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let rootfs = build::demo_rootfs(busybox, mtime)?;
        let created = rfc3339(mtime as i64);
        let changes = vec![
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string(),
            r#"CMD ["sh"]"#.to_string(),
        ];
        self.import_tar(
            &mut &rootfs[..],
            vec![r.to_string()],
            &changes,
            "wharf demo image from the host's busybox-static",
            &created,
            "import",
        )
    }

    fn image_disk_usage(&self, caller: &Caller) -> Result<ImageDiskUsage> {
        self.gate().authorize(caller, Action::ImageList)?;
        let idx = self.image_store().index()?;
        let users = self.image_users()?;
        Ok(self.image_disk_usage_of(&idx, &users))
    }
}

impl LocalEngine {
    fn image_disk_usage_of(
        &self,
        idx: &ImageIndex,
        users: &BTreeMap<String, Vec<String>>,
    ) -> ImageDiskUsage {
        let mut all: BTreeMap<&str, u64> = BTreeMap::new();
        let mut active_layers: BTreeSet<&str> = BTreeSet::new();
        let mut active = 0;
        for rec in idx.images.values() {
            let used = users.contains_key(&rec.id);
            if used {
                active += 1;
            }
            for l in &rec.layers {
                all.insert(&l.chain_id, l.size);
                if used {
                    active_layers.insert(&l.chain_id);
                }
            }
        }
        let size: u64 = all.values().sum();
        let reclaimable: u64 = all
            .iter()
            .filter(|(k, _)| !active_layers.contains(*k))
            .map(|(_, v)| v)
            .sum();
        ImageDiskUsage {
            count: idx.images.len(),
            active,
            size,
            reclaimable,
            staging: self.image_store().staging_usage(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_like_path_match() {
        assert!(glob("busy*", "busybox"));
        assert!(glob("busybox:*", "busybox:latest"));
        assert!(!glob("*", "team/app"));
        assert!(glob("*/*", "team/app"));
        assert!(glob("b?sybox", "busybox"));
        assert!(reference_matches(
            "busybox",
            "docker.io/library/busybox:latest"
        ));
        assert!(reference_matches(
            "busybox:lat*",
            "docker.io/library/busybox:latest"
        ));
        assert!(!reference_matches(
            "alpine",
            "docker.io/library/busybox:latest"
        ));
    }
}
