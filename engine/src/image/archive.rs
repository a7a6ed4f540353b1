//! Image archives: reading `docker save` archives (the legacy shape with
//! `<id>/layer.tar` and `manifest.json`, and the OCI-based shape Docker 25+ writes) and
//! OCI image layouts in a tar; writing the legacy docker shape and OCI layouts.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

use serde_json::{json, Value};

use super::layer::{self, HashingReader, TarGuard};
use super::reference::Reference;
use super::store::{media, ImageStore, LayerRecord, NewImage, Staging, MAX_JSON};
use crate::error::{EngineError, IoContext, Result};

/// The files of an archive as staged: path -> blob digest, and symlinks.
#[derive(Default)]
struct ArchiveFiles {
    files: HashMap<PathBuf, String>,
    links: HashMap<PathBuf, PathBuf>,
}

impl ArchiveFiles {
    /// The digest of the file at `path`, following archive symlinks.
    fn get(&self, path: &str) -> Option<&String> {
        let mut p = clean(Path::new(path))?;
        for _ in 0..16 {
            if let Some(d) = self.files.get(&p) {
                return Some(d);
            }
            let target = self.links.get(&p)?;
            p = target.clone();
        }
        None
    }
}

/// Clean a relative archive path; `None` if it leaves the archive.
fn clean(p: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            _ => return None,
        }
    }
    Some(out)
}

/// Images found in an archive, ready to commit.
pub struct Loaded {
    pub staging: Staging,
    pub images: Vec<NewImage>,
}

/// Read a whole archive (plain, gzip or zstd tar) into `store`'s staging area and work out
/// the images it holds. Nothing is added to the store yet.
pub fn read_archive(store: &ImageStore, input: &mut dyn Read) -> Result<Loaded> {
    let mut st = store.staging("load")?;
    // Each plain layer's hashing goes on behind the unpacking of what follows.
    st.defer_digests();
    let (_, plain) = layer::decompress(input).ctx(|| "reading the archive".into())?;
    let mut files = ArchiveFiles::default();
    let mut ar = tar::Archive::new(TarGuard::new(plain));
    let bad = |e: io::Error| {
        match e.kind() {
        io::ErrorKind::UnexpectedEof => EngineError::corrupt(format!("the archive is truncated ({e}); get a complete copy and try again")),
        io::ErrorKind::InvalidData | io::ErrorKind::Other | io::ErrorKind::InvalidInput => {
            EngineError::corrupt(format!("the archive is damaged or hostile ({e}); it is not a docker save archive or OCI layout wharf can read"))
        }
        _ => EngineError::io("reading the archive", e),
    }
    };
    let mut n_entries = 0usize;
    for entry in ar.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        n_entries += 1;
        let raw = entry.path_bytes().into_owned();
        let rel =
            layer::clean_archive_path(&raw, "path").map_err(|e| e.context("image archive"))?;
        match entry.header().entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let size = entry.size();
                let (digest, n) = st.put_file(&mut entry)?;
                if n < size {
                    return Err(EngineError::corrupt(format!(
                        "the archive is truncated inside {:?}; get a complete copy and try again",
                        rel.display().to_string()
                    )));
                }
                files.files.insert(rel, digest);
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .map(|c| c.into_owned())
                    .unwrap_or_default();
                let target = Path::new(
                    <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(&target),
                );
                let base = rel.parent().unwrap_or(Path::new(""));
                let resolved = if target.is_absolute() {
                    None
                } else {
                    clean(&base.join(target))
                };
                match resolved {
                    Some(t) => {
                        files.links.insert(rel, t);
                    }
                    None => {
                        return Err(EngineError::corrupt(format!(
                            "image archive symlink {:?} points outside the archive: refusing it",
                            rel.display().to_string()
                        )))
                    }
                }
            }
            tar::EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .map(|c| c.into_owned())
                    .unwrap_or_default();
                let t = layer::clean_archive_path(&target, "hardlink target")?;
                match files.files.get(&t).cloned() {
                    Some(d) => {
                        files.files.insert(rel, d);
                    }
                    None => {
                        return Err(EngineError::corrupt(format!(
                            "image archive hardlink {:?} points to {:?}, which is not an earlier file of the archive",
                            rel.display().to_string(),
                            t.display().to_string()
                        )))
                    }
                }
            }
            _ => {}
        }
    }
    let resolved = st.resolve_digests();
    for d in files.files.values_mut() {
        if let Some(real) = resolved.get(d) {
            *d = real.clone();
        }
    }
    if n_entries == 0 {
        return Err(EngineError::invalid(
            "the input is empty or not a tar archive: give a docker save archive or an OCI layout (wharf load -i FILE)",
        ));
    }
    let json_of = |st: &Staging, digest: &str, what: &str| -> Result<Value> {
        let data = staged_bytes(st, digest, what)?;
        serde_json::from_slice(&data).map_err(|e| {
            EngineError::corrupt(format!("{what} in the archive is not valid JSON: {e}"))
        })
    };
    let mut images = Vec::new();
    let mut from_index = false;
    if let Some(d) = files.get("index.json") {
        let index = json_of(&st, d, "index.json")?;
        let mut found = Vec::new();
        collect_manifests(&st, &files, &index, None, &mut found, 0)?;
        for (mdigest, mbytes, mtype, names) in found {
            let m: Value = serde_json::from_slice(&mbytes).map_err(|e| {
                EngineError::corrupt(format!("manifest {mdigest} is not valid JSON: {e}"))
            })?;
            let cdigest = m["config"]["digest"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let cblob = blob_in_layout(&files, &cdigest)?;
            let config = staged_bytes(&st, &cblob, "the image config")?;
            let mut layers = Vec::new();
            for l in m["layers"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
                let d = l["digest"].as_str().unwrap_or_default().to_string();
                let b = blob_in_layout(&files, &d)?;
                layers.push((b, l["mediaType"].as_str().map(str::to_string)));
            }
            images.push(NewImage {
                config,
                manifest: Some((mbytes, mtype)),
                layers,
                tags: names,
                repo_digests: vec![],
            });
        }
        from_index = !images.is_empty();
    }
    if !from_index {
        let Some(d) = files.get("manifest.json") else {
            return Err(EngineError::invalid(
                "the archive has neither manifest.json nor index.json: it is not a docker save archive or an OCI image layout",
            ));
        };
        let manifest = json_of(&st, d, "manifest.json")?;
        let entries = manifest.as_array().ok_or_else(|| {
            EngineError::corrupt("manifest.json in the archive is not a list of images")
        })?;
        for e in entries {
            let cpath = e["Config"].as_str().unwrap_or_default();
            let cdigest = files
                .get(cpath)
                .ok_or_else(|| EngineError::corrupt(format!("the archive's manifest.json names the config {cpath:?}, which is not in the archive")))?
                .clone();
            let config = staged_bytes(&st, &cdigest, "the image config")?;
            let mut layers = Vec::new();
            for l in e["Layers"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
                let lp = l.as_str().unwrap_or_default();
                let ld = files
                    .get(lp)
                    .ok_or_else(|| EngineError::corrupt(format!("the archive's manifest.json names the layer {lp:?}, which is not in the archive")))?;
                layers.push((ld.clone(), None));
            }
            let mut tags = Vec::new();
            for t in e["RepoTags"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
                if let Some(t) = t.as_str() {
                    tags.push(
                        Reference::parse(t)
                            .map_err(|e| e.context("the archive's manifest.json"))?
                            .to_string(),
                    );
                }
            }
            images.push(NewImage {
                config,
                manifest: None,
                layers,
                tags,
                repo_digests: vec![],
            });
        }
    }
    if images.is_empty() {
        return Err(EngineError::invalid("the archive holds no images"));
    }
    // Check every config against its id before unpacking anything.
    for img in &images {
        let _: Value = serde_json::from_slice(&img.config).map_err(|e| {
            EngineError::corrupt(format!(
                "an image config in the archive is not valid JSON: {e}"
            ))
        })?;
    }
    Ok(Loaded {
        staging: st,
        images,
    })
}

fn staged_bytes(st: &Staging, digest: &str, what: &str) -> Result<Vec<u8>> {
    let p = st
        .blob(digest)
        .ok_or_else(|| EngineError::internal(format!("{what} ({digest}) was not staged")))?;
    let mut f = std::fs::File::open(p).ctx(|| format!("reading {what}"))?;
    super::build::read_limited(&mut f, MAX_JSON, what)
}

/// The staged blob for `digest` in an OCI layout: `blobs/<alg>/<hex>`, whose content
/// must hash to `digest`.
fn blob_in_layout(files: &ArchiveFiles, digest: &str) -> Result<String> {
    super::reference::validate_digest(digest).map_err(|e| e.context("OCI layout descriptor"))?;
    let path = format!("blobs/sha256/{}", &digest[7..]);
    match files.get(&path) {
        Some(d) if d == digest => Ok(d.clone()),
        Some(d) => Err(EngineError::corrupt(format!(
            "blob {digest} in the archive does not match its digest (its content hashes to {d}): the archive is damaged or was tampered with"
        ))),
        None => Err(EngineError::corrupt(format!("the archive names blob {digest} but does not contain {path}"))),
    }
}

/// The name of a manifest in a layout. Docker 25 writes the full name as
/// `io.containerd.image.name` and only the tag as `ref.name`; OCI tools (skopeo, umoci)
/// write `ref.name` alone and edit only it, leaving a copied containerd name behind.
fn image_name<'a>(containerd: Option<&'a str>, ref_name: Option<&'a str>) -> Option<&'a str> {
    match (containerd, ref_name) {
        (Some(c), Some(r)) => {
            let tag_of_c = Reference::parse(c).ok().and_then(|x| x.tag);
            if tag_of_c.as_deref() == Some(r) || r == c {
                Some(c)
            } else {
                Some(r)
            }
        }
        (c, r) => c.or(r),
    }
}

type FoundManifest = (String, Vec<u8>, String, Vec<String>);

/// Walk an OCI index (nested indexes too, picking this host's platform) and collect
/// (manifest digest, bytes, media type, tags).
fn collect_manifests(
    st: &Staging,
    files: &ArchiveFiles,
    index: &Value,
    inherited: Option<&Vec<String>>,
    out: &mut Vec<FoundManifest>,
    depth: usize,
) -> Result<()> {
    if depth > 4 {
        return Err(EngineError::corrupt(
            "the archive's image indexes nest too deeply",
        ));
    }
    let arch = super::build::host_arch();
    let descs = index["manifests"].as_array().cloned().unwrap_or_default();
    let nested = inherited.is_some();
    for d in descs {
        let digest = d["digest"].as_str().unwrap_or_default().to_string();
        let mt = d["mediaType"].as_str().unwrap_or_default().to_string();
        if nested {
            if let Some(p) = d.get("platform") {
                if p["architecture"].as_str().is_some_and(|a| a != arch)
                    || p["os"].as_str().is_some_and(|o| o != "linux")
                {
                    continue;
                }
            }
        }
        let mut names = inherited.cloned().unwrap_or_default();
        let ann = &d["annotations"];
        let name = image_name(
            ann["io.containerd.image.name"].as_str(),
            ann["org.opencontainers.image.ref.name"].as_str(),
        );
        if let Some(n) = name {
            if let Ok(r) = Reference::parse(n) {
                if r.tag.is_some() {
                    let s = r.with_tag(r.tag.as_deref().unwrap_or("latest")).to_string();
                    if !names.contains(&s) {
                        names.push(s);
                    }
                }
            }
        }
        let blob = blob_in_layout(files, &digest)?;
        let bytes = staged_bytes(st, &blob, "a manifest")?;
        let v: Value = serde_json::from_slice(&bytes).map_err(|e| {
            EngineError::corrupt(format!("manifest {digest} is not valid JSON: {e}"))
        })?;
        let actual_mt = v["mediaType"].as_str().map(str::to_string).unwrap_or(mt);
        if actual_mt == media::OCI_INDEX
            || actual_mt == media::DOCKER_LIST
            || (v.get("manifests").is_some() && v.get("layers").is_none())
        {
            collect_manifests(st, files, &v, Some(&names), out, depth + 1)?;
            if nested {
                break;
            }
            continue;
        }
        if v.get("config").is_none() {
            continue; // attestations and other artifacts
        }
        if let Some(existing) = out.iter_mut().find(|(d, ..)| d == &digest) {
            for n in names {
                if !existing.3.contains(&n) {
                    existing.3.push(n);
                }
            }
            continue;
        }
        out.push((digest, bytes, actual_mt, names));
        if nested {
            break; // one platform of a list
        }
    }
    Ok(())
}

/// One image to write into an archive.
pub struct SaveItem {
    /// Full references to record as its tags (may be empty: saved by id).
    pub tags: Vec<String>,
    pub config: Vec<u8>,
    pub id: String,
    pub manifest: Vec<u8>,
    pub manifest_digest: String,
    pub manifest_media_type: String,
    pub layers: Vec<LayerRecord>,
    pub created: i64,
}

fn header(path: &str, size: u64, mode: u32, mtime: u64, kind: tar::EntryType) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(mode);
    h.set_mtime(mtime);
    h.set_uid(0);
    h.set_gid(0);
    let _ = path;
    h
}

fn werr(e: io::Error) -> EngineError {
    // A stored layer found changed or damaged while it is read.
    if e.kind() == io::ErrorKind::InvalidData {
        return EngineError::corrupt(e.to_string());
    }
    EngineError::io("writing the archive", e)
}

fn add_bytes<W: Write>(b: &mut tar::Builder<W>, path: &str, data: &[u8], mtime: u64) -> Result<()> {
    let mut h = header(
        path,
        data.len() as u64,
        0o644,
        mtime,
        tar::EntryType::Regular,
    );
    b.append_data(&mut h, path, data).map_err(werr)
}

/// Stream a stored layer blob into the archive as an uncompressed `layer.tar`, checking
/// that it still hashes to its diff id.
fn add_layer_tar<W: Write>(
    store: &ImageStore,
    b: &mut tar::Builder<W>,
    path: &str,
    l: &LayerRecord,
    mtime: u64,
) -> Result<()> {
    let plain = store.layer_tar(l)?;
    let mut hashing = HashingReader::new(plain);
    let size = if l.tar_size > 0 {
        l.tar_size
    } else {
        l.blob_size
    };
    let mut h = header(path, size, 0o644, mtime, tar::EntryType::Regular);
    b.append_data(&mut h, path, (&mut hashing).take(size))
        .map_err(werr)?;
    expect_end(&mut hashing)?;
    let (got, n) = hashing.finish();
    if got != l.diff_id || n != size {
        return Err(EngineError::corrupt(format!(
            "stored layer {} is damaged (it no longer hashes to {}): the archive written is invalid; remove the image and load or pull it again",
            l.blob, l.diff_id
        )));
    }
    Ok(())
}

/// After the recorded size, the stream must end: a rebuilt layer checks its digest there.
fn expect_end(r: &mut dyn Read) -> Result<()> {
    let mut one = [0u8; 1];
    match r.read(&mut one) {
        Ok(0) => Ok(()),
        Ok(_) => Err(EngineError::corrupt(
            "a stored layer is longer than recorded: remove the image and load or pull it again",
        )),
        Err(e) => Err(werr(e)),
    }
}

/// Copy a stored blob into the archive at `path`, verifying its digest.
fn add_blob<W: Write>(
    store: &ImageStore,
    b: &mut tar::Builder<W>,
    path: &str,
    digest: &str,
    mtime: u64,
) -> Result<()> {
    let (r, size) = store.open_blob_stream(digest)?;
    let mut hashing = HashingReader::new(io::BufReader::with_capacity(1 << 20, r));
    let mut h = header(path, size, 0o644, mtime, tar::EntryType::Regular);
    b.append_data(&mut h, path, (&mut hashing).take(size))
        .map_err(werr)?;
    expect_end(&mut hashing)?;
    let (got, _) = hashing.finish();
    if got != digest {
        return Err(EngineError::corrupt(format!(
            "stored blob {digest} is damaged (it hashes to {got}): remove the image and load or pull it again"
        )));
    }
    Ok(())
}

/// Write the images as a `docker save` archive in the legacy shape (which every
/// `docker load` reads): `manifest.json`, `repositories`, `<config hex>.json`,
/// `<layer>/layer.tar` (+ `VERSION`, `json`).
pub fn write_docker(store: &ImageStore, items: &[SaveItem], out: &mut dyn Write) -> Result<()> {
    let mut b = tar::Builder::new(out);
    let mut manifest = Vec::new();
    let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut written: std::collections::HashSet<String> = Default::default();
    for it in items {
        let mtime = it.created.max(0) as u64;
        let idhex = &it.id[7..];
        let cfg_name = format!("{idhex}.json");
        if written.insert(cfg_name.clone()) {
            add_bytes(&mut b, &cfg_name, &it.config, mtime)?;
        }
        let mut layer_paths = Vec::new();
        let mut parent: Option<String> = None;
        for l in &it.layers {
            // The directory is named by the chain id: unique per position in the stack.
            let dir = l.chain_id[7..].to_string();
            let p = format!("{dir}/layer.tar");
            if written.insert(dir.clone()) {
                let mut h = header(&dir, 0, 0o755, mtime, tar::EntryType::Directory);
                b.append_data(&mut h, format!("{dir}/"), io::empty())
                    .map_err(werr)?;
                add_bytes(&mut b, &format!("{dir}/VERSION"), b"1.0", mtime)?;
                let mut v1 =
                    json!({"id": dir, "created": "1970-01-01T00:00:00Z", "container_config": {}});
                if let Some(p) = &parent {
                    v1["parent"] = json!(p);
                }
                add_bytes(
                    &mut b,
                    &format!("{dir}/json"),
                    &serde_json::to_vec(&v1).unwrap_or_default(),
                    mtime,
                )?;
                add_layer_tar(store, &mut b, &p, l, mtime)?;
            }
            parent = Some(dir);
            layer_paths.push(p);
        }
        let mut familiar_tags = Vec::new();
        for t in &it.tags {
            let r = Reference::parse(t)?;
            familiar_tags.push(r.familiar());
            if let (Some(tag), Some(top)) = (&r.tag, &parent) {
                repositories
                    .entry(r.familiar_name())
                    .or_default()
                    .insert(tag.clone(), top.clone());
            }
        }
        manifest.push(json!({"Config": cfg_name, "RepoTags": if familiar_tags.is_empty() { Value::Null } else { json!(familiar_tags) }, "Layers": layer_paths}));
    }
    add_bytes(
        &mut b,
        "manifest.json",
        &serde_json::to_vec(&manifest).unwrap_or_default(),
        0,
    )?;
    if !repositories.is_empty() {
        add_bytes(
            &mut b,
            "repositories",
            &serde_json::to_vec(&repositories).unwrap_or_default(),
            0,
        )?;
    }
    b.into_inner().map_err(werr)?.flush().map_err(werr)
}

/// Write the images as an OCI image layout in a tar (`oci-layout`, `index.json`,
/// `blobs/sha256/...`). Each manifest is annotated with its full reference as
/// `org.opencontainers.image.ref.name` and `io.containerd.image.name`.
pub fn write_oci(store: &ImageStore, items: &[SaveItem], out: &mut dyn Write) -> Result<()> {
    let mut b = tar::Builder::new(out);
    add_bytes(
        &mut b,
        "oci-layout",
        br#"{"imageLayoutVersion":"1.0.0"}"#,
        0,
    )?;
    for d in ["blobs/", "blobs/sha256/"] {
        let mut h = header(d, 0, 0o755, 0, tar::EntryType::Directory);
        b.append_data(&mut h, d, io::empty()).map_err(werr)?;
    }
    let mut written: std::collections::HashSet<String> = Default::default();
    let mut descs = Vec::new();
    for it in items {
        for l in &it.layers {
            if written.insert(l.blob.clone()) {
                add_blob(
                    store,
                    &mut b,
                    &format!("blobs/sha256/{}", &l.blob[7..]),
                    &l.blob,
                    0,
                )?;
            }
        }
        if written.insert(it.id.clone()) {
            add_bytes(
                &mut b,
                &format!("blobs/sha256/{}", &it.id[7..]),
                &it.config,
                0,
            )?;
        }
        if written.insert(it.manifest_digest.clone()) {
            add_bytes(
                &mut b,
                &format!("blobs/sha256/{}", &it.manifest_digest[7..]),
                &it.manifest,
                0,
            )?;
        }
        let base = json!({
            "mediaType": it.manifest_media_type,
            "digest": it.manifest_digest,
            "size": it.manifest.len(),
            "platform": platform_of(&it.config),
        });
        if it.tags.is_empty() {
            descs.push(base.clone());
        }
        for t in &it.tags {
            let mut d = base.clone();
            d["annotations"] =
                json!({"org.opencontainers.image.ref.name": t, "io.containerd.image.name": t});
            descs.push(d);
        }
    }
    let index = json!({"schemaVersion": 2, "mediaType": media::OCI_INDEX, "manifests": descs});
    add_bytes(
        &mut b,
        "index.json",
        &serde_json::to_vec(&index).unwrap_or_default(),
        0,
    )?;
    b.into_inner().map_err(werr)?.flush().map_err(werr)
}

fn platform_of(config: &[u8]) -> Value {
    let c: Value = serde_json::from_slice(config).unwrap_or(Value::Null);
    let mut p = json!({
        "architecture": c["architecture"].as_str().unwrap_or(super::build::host_arch()),
        "os": c["os"].as_str().unwrap_or("linux"),
    });
    if let Some(v) = c["variant"].as_str() {
        p["variant"] = json!(v);
    }
    p
}
