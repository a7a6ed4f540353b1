//! Helpers shared by the image tests: a temporary engine, raw tar writing (so hostile
//! entries can be made), and docker/OCI archive builders.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use wharf_engine::{Caller, EngineOptions, LocalEngine};

pub fn engine() -> (tempfile::TempDir, LocalEngine) {
    let dir = tempfile::tempdir().unwrap();
    let e = LocalEngine::open(dir.path().join("root"), EngineOptions::default()).unwrap();
    (dir, e)
}

pub fn root() -> Caller {
    Caller::root()
}

pub fn sha(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// Entries of a raw tar, written without the tar crate's path checks.
pub enum E<'a> {
    Dir(&'a str, u32),
    File(&'a str, u32, &'a [u8]),
    /// File with owner and PAX records (xattrs etc.).
    FileX(&'a str, u32, u64, u64, &'a [u8], Vec<(&'a str, &'a [u8])>),
    Symlink(&'a str, &'a str),
    Hardlink(&'a str, &'a str),
    Char(&'a str, u32, u32),
    Fifo(&'a str),
    /// A header whose claimed size does not match the data that follows.
    Raw(Box<tar::Header>, Vec<u8>),
}

fn set_name(h: &mut tar::Header, name: &str) {
    let g = h.as_gnu_mut().unwrap();
    g.name = [0; 100];
    g.name[..name.len()].copy_from_slice(name.as_bytes());
}

fn set_link(h: &mut tar::Header, name: &str) {
    let g = h.as_gnu_mut().unwrap();
    g.linkname = [0; 100];
    g.linkname[..name.len()].copy_from_slice(name.as_bytes());
}

fn pax(records: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in records {
        // "<len> <key>=<value>\n" where len counts itself.
        let body_len = 1 + k.len() + 1 + v.len() + 1;
        let mut len = body_len + 1;
        while format!("{len}").len() + body_len != len {
            len += 1;
        }
        out.extend_from_slice(format!("{len} {k}=").as_bytes());
        out.extend_from_slice(v);
        out.push(b'\n');
    }
    out
}

pub fn raw_tar(entries: Vec<E<'_>>) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(1_600_000_000);
        h.set_uid(0);
        h.set_gid(0);
        match e {
            E::Dir(p, mode) => {
                set_name(&mut h, p);
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(mode);
                h.set_size(0);
                h.set_cksum();
                b.append(&h, std::io::empty()).unwrap();
            }
            E::File(p, mode, data) => {
                set_name(&mut h, p);
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(mode);
                h.set_size(data.len() as u64);
                h.set_cksum();
                b.append(&h, data).unwrap();
            }
            E::FileX(p, mode, uid, gid, data, recs) => {
                if !recs.is_empty() {
                    let body = pax(&recs);
                    let mut ph = tar::Header::new_ustar();
                    ph.set_path("PaxHeaders/x").unwrap();
                    ph.set_entry_type(tar::EntryType::XHeader);
                    ph.set_size(body.len() as u64);
                    ph.set_mode(0o644);
                    ph.set_cksum();
                    b.append(&ph, &body[..]).unwrap();
                }
                set_name(&mut h, p);
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(mode);
                h.set_uid(uid);
                h.set_gid(gid);
                h.set_size(data.len() as u64);
                h.set_cksum();
                b.append(&h, data).unwrap();
            }
            E::Symlink(p, t) => {
                set_name(&mut h, p);
                set_link(&mut h, t);
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_mode(0o777);
                h.set_size(0);
                h.set_cksum();
                b.append(&h, std::io::empty()).unwrap();
            }
            E::Hardlink(p, t) => {
                set_name(&mut h, p);
                set_link(&mut h, t);
                h.set_entry_type(tar::EntryType::Link);
                h.set_mode(0o644);
                h.set_size(0);
                h.set_cksum();
                b.append(&h, std::io::empty()).unwrap();
            }
            E::Char(p, maj, min) => {
                set_name(&mut h, p);
                h.set_entry_type(tar::EntryType::Char);
                h.set_mode(0o666);
                h.set_size(0);
                h.set_device_major(maj).unwrap();
                h.set_device_minor(min).unwrap();
                h.set_cksum();
                b.append(&h, std::io::empty()).unwrap();
            }
            E::Fifo(p) => {
                set_name(&mut h, p);
                h.set_entry_type(tar::EntryType::Fifo);
                h.set_mode(0o600);
                h.set_size(0);
                h.set_cksum();
                b.append(&h, std::io::empty()).unwrap();
            }
            E::Raw(h, data) => {
                b.get_mut().extend_from_slice(h.as_bytes());
                b.get_mut().extend_from_slice(&data);
            }
        }
    }
    b.into_inner().unwrap()
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 1).unwrap()
}

/// Config JSON for layers whose uncompressed tars are `plain`.
pub fn config_for(plain: &[&[u8]], cmd: &[&str]) -> Vec<u8> {
    let diff_ids: Vec<String> = plain.iter().map(|l| sha(l)).collect();
    serde_json::to_vec(&json!({
        "architecture": "amd64",
        "os": "linux",
        "created": "2024-01-02T03:04:05Z",
        "config": {"Cmd": cmd, "Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": plain.iter().map(|_| json!({"created": "2024-01-02T03:04:05Z", "created_by": "test"})).collect::<Vec<_>>(),
    }))
    .unwrap()
}

/// A legacy `docker save` archive: `<n>/layer.tar` (as given: plain or compressed),
/// `<id>.json`, `manifest.json`, `repositories`. `dup_symlink` makes the last layer a
/// symlink to the first one (as docker does for repeated layers).
pub fn docker_archive(config: &[u8], layers: &[Vec<u8>], tags: &[&str]) -> Vec<u8> {
    let mut entries = Vec::new();
    let cfg_name = format!("{}.json", &sha(config)[7..]);
    let names: Vec<String> = (0..layers.len())
        .map(|i| format!("{:064x}", i + 1))
        .collect();
    let mut owned: Vec<(String, Vec<u8>)> = vec![(cfg_name.clone(), config.to_vec())];
    for (i, l) in layers.iter().enumerate() {
        owned.push((format!("{}/layer.tar", names[i]), l.clone()));
        owned.push((format!("{}/VERSION", names[i]), b"1.0".to_vec()));
    }
    let manifest = json!([{"Config": cfg_name, "RepoTags": tags, "Layers": names.iter().map(|n| format!("{n}/layer.tar")).collect::<Vec<_>>()}]);
    owned.push((
        "manifest.json".into(),
        serde_json::to_vec(&manifest).unwrap(),
    ));
    for (p, d) in &owned {
        entries.push(E::File(p, 0o644, d));
    }
    raw_tar(entries)
}

/// An OCI layout as a tar, optionally also with Docker 25's `manifest.json`
/// (`docker_manifest`) and with or without `index.json`.
pub fn oci_archive(
    config: &[u8],
    layers: &[(Vec<u8>, &str)],
    ref_name: Option<&str>,
    with_index: bool,
    docker_manifest: bool,
) -> Vec<u8> {
    let mut blobs: Vec<(String, Vec<u8>)> = Vec::new();
    let mut descs = Vec::new();
    for (l, mt) in layers {
        descs.push(json!({"mediaType": mt, "digest": sha(l), "size": l.len()}));
        blobs.push((sha(l), l.clone()));
    }
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(config), "size": config.len()},
        "layers": descs,
    }))
    .unwrap();
    blobs.push((sha(config), config.to_vec()));
    blobs.push((sha(&manifest), manifest.clone()));
    let mut desc = json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha(&manifest), "size": manifest.len()});
    if let Some(r) = ref_name {
        desc["annotations"] = json!({"org.opencontainers.image.ref.name": r});
    }
    let index = serde_json::to_vec(&json!({"schemaVersion": 2, "manifests": [desc]})).unwrap();
    let mut owned: Vec<(String, Vec<u8>)> = vec![(
        "oci-layout".into(),
        br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
    )];
    for (d, data) in blobs {
        owned.push((format!("blobs/sha256/{}", &d[7..]), data));
    }
    if with_index {
        owned.push(("index.json".into(), index));
    }
    if docker_manifest {
        let m = json!([{
            "Config": format!("blobs/sha256/{}", &sha(config)[7..]),
            "RepoTags": ref_name.map(|r| vec![r]).unwrap_or_default(),
            "Layers": layers.iter().map(|(l, _)| format!("blobs/sha256/{}", &sha(l)[7..])).collect::<Vec<_>>(),
        }]);
        owned.push(("manifest.json".into(), serde_json::to_vec(&m).unwrap()));
    }
    raw_tar(owned.iter().map(|(p, d)| E::File(p, 0o644, d)).collect())
}

/// Is the store on `root` free of blobs, layers, staging leftovers and images?
pub fn assert_store_empty(e: &LocalEngine) {
    let root = e.root();
    for d in [root.blobs(), root.layers(), root.tmp()] {
        // A removed container's emptied directory, kept for the next create, is not
        // the image store's.
        let left: Vec<PathBuf> = std::fs::read_dir(&d)
            .unwrap()
            .map(|x| x.unwrap().path())
            .filter(|p| {
                !p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("spare-")
            })
            .collect();
        assert!(
            left.is_empty(),
            "{} should be empty after a refused load, has {left:?}",
            d.display()
        );
    }
    let idx = e.image_store().index().unwrap();
    assert!(
        idx.images.is_empty() && idx.refs.is_empty(),
        "images.json should be empty: {idx:?}"
    );
}

/// Tar a directory (for loading OCI layouts written by skopeo/umoci to a directory).
pub fn tar_dir(dir: &Path) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    b.follow_symlinks(false);
    b.append_dir_all(".", dir).unwrap();
    b.into_inner().unwrap()
}

pub fn run(cmd: &str, args: &[&str]) -> std::process::Output {
    let out = std::process::Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {cmd}: {e} (install it: apt-get install {cmd})"));
    assert!(
        out.status.success(),
        "{cmd} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn events(e: &LocalEngine) -> Vec<(String, String)> {
    e.journal()
        .read(None, None)
        .unwrap()
        .into_iter()
        .map(|ev| {
            (
                ev.action,
                ev.actor.attributes.get("name").cloned().unwrap_or_default(),
            )
        })
        .collect()
}

pub fn json(v: &[u8]) -> Value {
    serde_json::from_slice(v).unwrap()
}
