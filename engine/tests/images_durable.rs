//! A load does not wait for the disk; a pending record under `unsynced/` says what may
//! not have reached it. These tests play what a machine crash leaves behind (a record
//! from an earlier boot, file contents cut short as delayed allocation leaves them) and
//! check that the engine, when it next opens, keeps what survived and goes back to the
//! state before the load for what did not.

mod images_util;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use images_util::*;
use serde_json::Value;
use wharf_engine::api::{ImageApi, SaveFormat};
use wharf_engine::{EngineOptions, LocalEngine};

fn load(e: &LocalEngine, archive: &[u8]) {
    e.image_load(&root(), &mut &archive[..]).unwrap();
}

fn reopen(dir: &Path) -> LocalEngine {
    LocalEngine::open(dir.join("root"), EngineOptions::default()).unwrap()
}

fn records(e: &LocalEngine) -> Vec<PathBuf> {
    match std::fs::read_dir(e.root().path().join("unsynced")) {
        Ok(d) => {
            let mut v: Vec<PathBuf> = d
                .map(|x| x.unwrap().path())
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect();
            v.sort();
            v
        }
        Err(_) => Vec::new(),
    }
}

fn record(path: &Path) -> Value {
    json(&std::fs::read(path).unwrap())
}

/// Rewrite a pending record as a crash would have left it: from another boot, or old.
fn edit_record(path: &Path, f: impl FnOnce(&mut Value)) {
    let mut v = record(path);
    f(&mut v);
    std::fs::write(path, serde_json::to_vec(&v).unwrap()).unwrap();
}

fn from_earlier_boot(path: &Path) {
    edit_record(path, |v| v["boot_id"] = "an-earlier-boot".into());
}

fn image_id(e: &LocalEngine, r: &str) -> Option<String> {
    e.image_store().index().unwrap().refs.get(r).cloned()
}

fn layer(files: &[(&str, &[u8])]) -> Vec<u8> {
    raw_tar(
        files
            .iter()
            .map(|(p, d)| E::File(p, 0o644, d))
            .collect::<Vec<_>>(),
    )
}

/// Image "a": two plain layers. Image "b": a layer of its own on top of a's first.
fn images() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let base = layer(&[("bin/tool", &[7u8; 20000]), ("etc/conf", b"base")]);
    let a_top = layer(&[("etc/a", b"a's file")]);
    let b_top = layer(&[("srv/data", &[9u8; 50000])]);
    let a = docker_archive(
        &config_for(&[&base, &a_top], &["sh"]),
        &[base.clone(), a_top],
        &["app:1"],
    );
    let b = docker_archive(
        &config_for(&[&base, &b_top], &["sh"]),
        &[base.clone(), b_top],
        &["app:1", "app:2"],
    );
    (a, b, base)
}

#[test]
fn a_load_leaves_a_record_of_this_boot_that_a_container_or_time_clears() {
    let (dir, e) = engine();
    let (a, _, _) = images();
    load(&e, &a);
    let recs = records(&e);
    assert_eq!(recs.len(), 1, "one pending record per load");
    let rec = record(&recs[0]);
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    assert_eq!(rec["boot_id"], boot.trim());
    assert_eq!(rec["layers"].as_array().unwrap().len(), 2);
    assert!(rec["tags"]["docker.io/library/app:1"].is_null(), "{rec}");

    // Reopened at once in the same boot: the record stays (the page cache holds the
    // files whatever happened to the process) and nothing is checked.
    let e = reopen(dir.path());
    assert_eq!(records(&e).len(), 1);

    // Loading the same image again renames nothing in: no new record.
    load(&e, &a);
    assert_eq!(records(&e).len(), 1);

    // Once old enough, the next start flushes and forgets it.
    edit_record(&records(&e)[0], |v| v["created"] = 1_000_000_000i64.into());
    let e = reopen(dir.path());
    assert!(records(&e).is_empty());
    assert!(image_id(&e, "docker.io/library/app:1").is_some());

    // What a container needs first: make_durable flushes and clears every record.
    let (_, b, _) = images();
    load(&e, &b);
    assert_eq!(records(&e).len(), 1);
    assert!(e.image_store().has_unsynced());
    e.image_store().make_durable().unwrap();
    assert!(records(&e).is_empty());
    assert!(!e.image_store().has_unsynced());
}

#[test]
fn after_a_crash_intact_layers_are_checked_and_kept() {
    let (dir, e) = engine();
    let (a, b, _) = images();
    load(&e, &a);
    load(&e, &b);
    let before = e.image_store().index().unwrap();
    // Without a journal, the inode may have been written before its chmod and chown.
    let b_id = image_id(&e, "docker.io/library/app:2").unwrap();
    let top = &e.image_store().index().unwrap().images[&b_id].layers[1];
    let data = e.image_store().layer_dir(&top.chain_id).join("srv/data");
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::chown(&data, Some(1234), Some(1234)).unwrap();
    for r in records(&e) {
        from_earlier_boot(&r);
    }
    let e = reopen(dir.path());
    let md = std::fs::metadata(&data).unwrap();
    assert_eq!(
        (md.mode() & 0o7777, md.uid(), md.gid()),
        (0o644, 0, 0),
        "the layer is unpacked again: modes and owners from its tar headers"
    );
    assert!(records(&e).is_empty(), "checked records are dropped");
    assert_eq!(e.image_store().index().unwrap(), before, "nothing to undo");
    assert!(
        !events(&e).iter().any(|(a, _)| a == "delete"),
        "{:?}",
        events(&e)
    );
    // And the layers still rebuild their exact bytes.
    let mut out = Vec::new();
    e.image_save(&root(), &["app:2".into()], SaveFormat::Docker, &mut out)
        .unwrap();
}

#[test]
fn after_a_crash_a_torn_layer_drops_its_image_and_gives_its_tags_back() {
    let (dir, e) = engine();
    let (a, b, base) = images();
    load(&e, &a);
    e.image_store().make_durable().unwrap();
    let a_id = image_id(&e, "docker.io/library/app:1").unwrap();
    load(&e, &b);
    let b_id = image_id(&e, "docker.io/library/app:1").unwrap();
    assert_ne!(a_id, b_id, "b took app:1 over");
    let recs = records(&e);
    assert_eq!(recs.len(), 1);
    let rec = record(&recs[0]);
    assert_eq!(rec["tags"]["docker.io/library/app:1"], a_id.as_str());
    assert!(rec["tags"]["docker.io/library/app:2"].is_null());
    // b's own layer is the only one the record names (the base was a's, flushed).
    let chains: Vec<String> = rec["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert_eq!(chains.len(), 1);
    // The machine went down before the file's contents were written: delayed
    // allocation leaves it empty.
    let torn = e.image_store().layer_dir(&chains[0]).join("srv/data");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&torn)
        .unwrap()
        .set_len(0)
        .unwrap();
    from_earlier_boot(&recs[0]);

    let e = reopen(dir.path());
    let idx = e.image_store().index().unwrap();
    assert!(!idx.images.contains_key(&b_id), "b is dropped");
    assert_eq!(
        idx.refs.get("docker.io/library/app:1"),
        Some(&a_id),
        "app:1 names a again"
    );
    assert!(
        !idx.refs.contains_key("docker.io/library/app:2"),
        "app:2 was new with b: gone with it"
    );
    assert!(
        !e.image_store().layer_dir(&chains[0]).exists(),
        "b's torn layer is removed"
    );
    assert!(records(&e).is_empty());
    let evs = events(&e);
    assert!(
        evs.contains(&("delete".into(), "docker.io/library/app:1".into()))
            || evs.contains(&("delete".into(), "docker.io/library/app:2".into())),
        "{evs:?}"
    );
    assert!(
        evs.contains(&("tag".into(), "docker.io/library/app:1".into())),
        "{evs:?}"
    );
    // a, sharing b's base layer, is whole: it saves with its layers' exact bytes.
    let mut out = Vec::new();
    e.image_save(&root(), &["app:1".into()], SaveFormat::Docker, &mut out)
        .unwrap();
    let mut n = 0;
    for en in tar::Archive::new(&out[..]).entries().unwrap() {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut en.unwrap(), &mut v).unwrap();
        n += usize::from(v == base);
    }
    assert_eq!(n, 1, "the shared base layer is saved unchanged");
}

#[test]
fn after_a_crash_a_torn_blob_drops_its_image() {
    let (dir, e) = engine();
    let plain = layer(&[("x", &[5u8; 30000])]);
    let gz = gzip(&plain);
    let archive = docker_archive(
        &config_for(&[&plain], &["sh"]),
        std::slice::from_ref(&gz),
        &["gz:1"],
    );
    load(&e, &archive);
    let recs = records(&e);
    assert_eq!(recs.len(), 1);
    let rec = record(&recs[0]);
    assert!(
        rec["blobs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b.as_str() == Some(sha(&gz).as_str())),
        "the compressed blob is named: {rec}"
    );
    let blob = e.image_store().blob_path(&sha(&gz));
    std::fs::write(&blob, vec![0u8; gz.len()]).unwrap();
    from_earlier_boot(&recs[0]);
    let e = reopen(dir.path());
    assert!(image_id(&e, "docker.io/library/gz:1").is_none());
    assert!(!blob.exists(), "the torn blob is removed");
    let idx = e.image_store().index().unwrap();
    assert!(idx.images.is_empty(), "{idx:?}");
    assert!(
        std::fs::read_dir(e.root().layers())
            .unwrap()
            .next()
            .is_none(),
        "its layer went with it"
    );
}

#[test]
fn a_flush_never_forgets_an_earlier_boots_record_unchecked() {
    let (_dir, e) = engine();
    let (a, _, _) = images();
    load(&e, &a);
    let recs = records(&e);
    let rec = record(&recs[0]);
    let torn = rec["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| e.image_store().layer_dir(c.as_str().unwrap()).join("etc/a"))
        .find(|p| p.exists())
        .unwrap();
    std::fs::write(&torn, b"").unwrap();
    from_earlier_boot(&recs[0]);
    // What a container create does first: the torn image is found and dropped, not
    // flushed and trusted.
    e.image_store().make_durable().unwrap();
    assert!(records(&e).is_empty());
    assert!(image_id(&e, "docker.io/library/app:1").is_none());
}
