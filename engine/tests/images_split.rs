//! Plain layers loaded from archives are kept as unpacked files plus a tar-split (no
//! uncompressed copy): `save` rebuilds their exact bytes, refuses layers whose files were
//! changed, and stores written before tar-splits (layer blobs kept) still work.

mod images_util;

use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt};

use images_util::*;
use wharf_engine::api::{ImageApi, ImportOptions, SaveFormat};
use wharf_engine::ErrorKind;

fn save(e: &wharf_engine::LocalEngine, r: &str, f: SaveFormat) -> wharf_engine::Result<Vec<u8>> {
    let mut out = Vec::new();
    e.image_save(&root(), &[r.to_string()], f, &mut out)?;
    Ok(out)
}

/// The error of a save that must fail (without printing the archive if it does not).
fn save_err(e: &wharf_engine::LocalEngine, r: &str, f: SaveFormat) -> wharf_engine::EngineError {
    match save(e, r, f) {
        Ok(a) => panic!("save of {r} should fail, wrote {} bytes", a.len()),
        Err(e) => e,
    }
}

/// The file at `path` in the tar `archive`.
fn file_in(archive: &[u8], path: &str) -> Option<Vec<u8>> {
    let mut ar = tar::Archive::new(archive);
    for en in ar.entries().unwrap() {
        let mut en = en.unwrap();
        if en.path().unwrap().to_str() == Some(path) {
            let mut v = Vec::new();
            en.read_to_end(&mut v).unwrap();
            return Some(v);
        }
    }
    None
}

fn append(b: &mut tar::Builder<Vec<u8>>, path: &str, kind: tar::EntryType, data: &[u8]) {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(1_600_000_000);
    b.append_data(&mut h, path, data).unwrap();
}

/// A layer that exercises what a tar-split must get right: a path written twice, a
/// directory of files replaced by a file, a whiteout over a file of the same layer,
/// hard links, a GNU long name, PAX records, an empty file, padding that is not zero,
/// and bytes after the end of the archive.
fn tricky_layer() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut dir = tar::Header::new_gnu();
    dir.set_entry_type(tar::EntryType::Directory);
    dir.set_mode(0o755);
    dir.set_size(0);
    for d in ["a/", "d/", "w/"] {
        b.append_data(&mut dir.clone(), d, std::io::empty())
            .unwrap();
    }
    append(
        &mut b,
        "a/f1",
        tar::EntryType::Regular,
        b"the first version",
    );
    append(&mut b, "a/f1", tar::EntryType::Regular, b"second");
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Link);
    h.set_size(0);
    b.append_link(&mut h, "a/h", "a/f1").unwrap();
    append(&mut b, "d/x", tar::EntryType::Regular, &[1u8; 3000]);
    append(&mut b, "d/y", tar::EntryType::Regular, b"y");
    append(&mut b, "d", tar::EntryType::Regular, b"d is a file now");
    append(
        &mut b,
        "w/gone",
        tar::EntryType::Regular,
        b"whited out below",
    );
    append(&mut b, "w/.wh.gone", tar::EntryType::Regular, b"");
    append(&mut b, "empty", tar::EntryType::Regular, b"");
    let long = format!("long/{}/file", "n".repeat(150));
    append(&mut b, &long, tar::EntryType::Regular, &[7u8; 70_000]);
    let mut layer = b.into_inner().unwrap();
    // into_inner wrote the two end blocks: put more entries before them.
    layer.truncate(layer.len() - 1024);
    let mut tail = raw_tar(vec![E::FileX(
        "x",
        0o600,
        1000,
        1000,
        b"with xattrs",
        vec![("SCHILY.xattr.user.k", b"v")],
    )]);
    tail.truncate(tail.len() - 1024);
    layer.extend_from_slice(&tail);
    // A file whose padding is not zero.
    let mut h = tar::Header::new_gnu();
    h.set_path("junkpad").unwrap();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(5);
    h.set_mode(0o644);
    h.set_cksum();
    layer.extend_from_slice(h.as_bytes());
    layer.extend_from_slice(b"12345");
    layer.extend_from_slice(&[0xaa; 507]);
    // The end of the archive, then what some tools leave after it.
    layer.extend_from_slice(&[0u8; 1024]);
    layer.extend_from_slice(b"trailing bytes after the end");
    layer.extend_from_slice(&[0u8; 3000]);
    layer
}

#[test]
fn plain_layers_keep_no_blob_and_save_rebuilds_them_exactly() {
    let (_d, e) = engine();
    let layer = tricky_layer();
    let diff = sha(&layer);
    let cfg = config_for(&[&layer], &["sh"]);
    e.image_load(
        &root(),
        &mut &docker_archive(&cfg, std::slice::from_ref(&layer), &["split:1"])[..],
    )
    .unwrap();
    let store = e.image_store();
    assert!(
        !store.blob_path(&diff).exists(),
        "no uncompressed copy of a plain layer"
    );
    assert!(store.can_provide_blob(&diff));
    let ldir = store.layer_dir(&diff);
    let lroot = ldir.parent().unwrap();
    assert!(lroot.join("tar-split").is_file());
    let split = std::fs::metadata(lroot.join("tar-split")).unwrap().len();
    assert!(split < 4096, "the tar-split is small ({split} bytes)");

    // The unpacked layer is what the archive says.
    assert_eq!(std::fs::read(ldir.join("a/f1")).unwrap(), b"second");
    assert_eq!(
        std::fs::metadata(ldir.join("a/h")).unwrap().ino(),
        std::fs::metadata(ldir.join("a/f1")).unwrap().ino()
    );
    assert_eq!(std::fs::read(ldir.join("d")).unwrap(), b"d is a file now");
    assert!(std::fs::symlink_metadata(ldir.join("w/gone"))
        .unwrap()
        .file_type()
        .is_char_device());
    assert_eq!(std::fs::read(ldir.join("junkpad")).unwrap(), b"12345");
    assert_eq!(std::fs::metadata(ldir.join("x")).unwrap().uid(), 1000);
    // Files the archive replaced are kept aside for the tar-split, outside the layer.
    assert!(lroot.join("shadow").is_dir());
    assert!(!ldir.join("shadow").exists() && !ldir.join("tar-split").exists());

    // save rebuilds the layer byte for byte, in both formats.
    let docker = save(&e, "split:1", SaveFormat::Docker).unwrap();
    assert_eq!(
        file_in(&docker, &format!("{}/layer.tar", &diff[7..])).as_deref(),
        Some(&layer[..])
    );
    let oci = save(&e, "split:1", SaveFormat::Oci).unwrap();
    assert_eq!(
        file_in(&oci, &format!("blobs/sha256/{}", &diff[7..])).as_deref(),
        Some(&layer[..])
    );
    // And what was saved loads as the same image.
    for a in [docker, oci] {
        let (_d2, e2) = engine();
        e2.image_load(&root(), &mut &a[..]).unwrap();
        assert_eq!(e2.resolve_image(&root(), "split:1").unwrap().id, sha(&cfg));
    }
}

#[test]
fn changed_layer_files_are_refused_on_save() {
    let layer = raw_tar(vec![
        E::File("etc/conf", 0o644, b"original"),
        E::File("bin/tool", 0o755, &[9u8; 10_000]),
    ]);
    let cfg = config_for(&[&layer], &["sh"]);
    let a = docker_archive(&cfg, std::slice::from_ref(&layer), &["changed:1"]);

    // Same size, other content.
    let (_d, e) = engine();
    e.image_load(&root(), &mut &a[..]).unwrap();
    let ldir = e.image_store().layer_dir(&sha(&layer));
    std::fs::write(ldir.join("etc/conf"), b"ORIGINAL").unwrap();
    let err = save_err(&e, "changed:1", SaveFormat::Docker);
    assert_eq!(err.kind, ErrorKind::Corrupt, "{err}");
    assert!(
        err.message.contains("changed after it was unpacked"),
        "{err}"
    );
    let err = save_err(&e, "changed:1", SaveFormat::Oci);
    assert_eq!(err.kind, ErrorKind::Corrupt, "{err}");
    assert!(
        err.message.contains("changed after it was unpacked"),
        "{err}"
    );

    // Another size.
    let (_d, e) = engine();
    e.image_load(&root(), &mut &a[..]).unwrap();
    let ldir = e.image_store().layer_dir(&sha(&layer));
    std::fs::write(ldir.join("bin/tool"), b"short").unwrap();
    let err = save_err(&e, "changed:1", SaveFormat::Docker);
    assert_eq!(err.kind, ErrorKind::Corrupt, "{err}");
    assert!(
        err.message.contains("changed after it was unpacked") && err.message.contains("bin/tool"),
        "{err}"
    );

    // A file replaced by a symlink is not followed.
    let (_d, e) = engine();
    e.image_load(&root(), &mut &a[..]).unwrap();
    let ldir = e.image_store().layer_dir(&sha(&layer));
    std::fs::remove_file(ldir.join("etc/conf")).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", ldir.join("etc/conf")).unwrap();
    let err = save_err(&e, "changed:1", SaveFormat::Docker);
    assert_eq!(err.kind, ErrorKind::Corrupt, "{err}");
}

#[test]
fn stores_with_layer_blobs_from_before_tar_splits_still_work() {
    // A store written before tar-splits: each plain layer kept as a blob, no tar-split.
    let layer = raw_tar(vec![E::File("f", 0o644, b"old store")]);
    let diff = sha(&layer);
    let cfg = config_for(&[&layer], &["sh"]);
    let (_d, e) = engine();
    e.image_load(
        &root(),
        &mut &docker_archive(&cfg, std::slice::from_ref(&layer), &["old:1"])[..],
    )
    .unwrap();
    let store = e.image_store();
    let lroot = store.layer_dir(&diff).parent().unwrap().to_path_buf();
    std::fs::remove_file(lroot.join("tar-split")).unwrap();
    std::fs::write(store.blob_path(&diff), &layer).unwrap();
    for f in [SaveFormat::Docker, SaveFormat::Oci] {
        let a = save(&e, "old:1", f).unwrap();
        let (_d2, e2) = engine();
        e2.image_load(&root(), &mut &a[..]).unwrap();
        assert_eq!(e2.resolve_image(&root(), "old:1").unwrap().id, sha(&cfg));
    }
    let (mut r, n) = store.open_blob_stream(&diff).unwrap();
    let mut got = Vec::new();
    r.read_to_end(&mut got).unwrap();
    assert_eq!((got, n), (layer.clone(), layer.len() as u64));
    // A second image on the same layer at another position unpacks it from the blob.
    let base = raw_tar(vec![E::File("base", 0o644, b"base")]);
    let cfg2 = config_for(&[&base, &layer], &["sh"]);
    let a2 = docker_archive(&cfg2, &[base, layer.clone()], &["old:2"]);
    e.image_load(&root(), &mut &a2[..]).unwrap();
    let r2 = e.resolve_image(&root(), "old:2").unwrap();
    assert_eq!(
        std::fs::read(r2.layer_dirs[1].join("f")).unwrap(),
        b"old store"
    );
    // Without its blob, the layer is rebuilt from the other image's copy.
    std::fs::remove_file(store.blob_path(&diff)).unwrap();
    let a = save(&e, "old:1", SaveFormat::Docker).unwrap();
    assert_eq!(
        file_in(&a, &format!("{}/layer.tar", &diff[7..])).as_deref(),
        Some(&layer[..])
    );
    // With neither a blob nor a tar-split anywhere the store says what to do.
    e.image_remove(&root(), "old:2", false).unwrap();
    let err = save_err(&e, "old:1", SaveFormat::Docker);
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
    assert!(err.message.contains("load or pull it again"), "{err}");
}

#[test]
fn a_layer_used_at_two_positions_is_rebuilt_from_its_tar_split() {
    // Loaded once as a base layer, then used above another layer by a second image
    // that only names it (an OCI layout without the blob, as a registry pull would
    // skip it): it is unpacked again from the first copy's tar-split.
    let layer = raw_tar(vec![E::File("shared", 0o644, &[5u8; 5000])]);
    let cfg = config_for(&[&layer], &["sh"]);
    let (_d, e) = engine();
    e.image_load(
        &root(),
        &mut &docker_archive(&cfg, std::slice::from_ref(&layer), &["one:1"])[..],
    )
    .unwrap();
    let base = raw_tar(vec![E::File("base", 0o644, b"b")]);
    let cfg2 = config_for(&[&base, &layer], &["sh"]);
    let store = e.image_store();
    store.put_blob(&mut &base[..], Some(&sha(&base))).unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(&cfg2), "size": cfg2.len()},
        "layers": [
            {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha(&base), "size": base.len()},
            {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha(&layer), "size": layer.len()},
        ],
    }))
    .unwrap();
    let id = store
        .add_image(&manifest, &cfg2, &["localhost:5000/two:1".into()])
        .unwrap();
    let r = e.resolve_image(&root(), "localhost:5000/two:1").unwrap();
    assert_eq!(r.id, id);
    assert_eq!(
        std::fs::read(r.layer_dirs[1].join("shared")).unwrap(),
        vec![5u8; 5000]
    );
    // Its own tar-split rebuilds it too, after the first image is gone.
    e.image_remove(&root(), "one:1", false).unwrap();
    let a = save(&e, "localhost:5000/two:1", SaveFormat::Oci).unwrap();
    assert_eq!(
        file_in(&a, &format!("blobs/sha256/{}", &sha(&layer)[7..])).as_deref(),
        Some(&layer[..])
    );
}

#[test]
fn import_keeps_a_tar_split_and_compressed_blobs() {
    let (_d, e) = engine();
    let rootfs = raw_tar(vec![E::File("bin/x", 0o755, b"x"), E::Dir("tmp/", 0o1777)]);
    let opts = ImportOptions {
        reference: Some("imp:plain".into()),
        ..Default::default()
    };
    let id = e.image_import(&root(), &mut &rootfs[..], &opts).unwrap();
    let store = e.image_store();
    assert!(!store.blob_path(&sha(&rootfs)).exists());
    let a = save(&e, "imp:plain", SaveFormat::Docker).unwrap();
    let (_d2, e2) = engine();
    e2.image_load(&root(), &mut &a[..]).unwrap();
    assert_eq!(e2.resolve_image(&root(), "imp:plain").unwrap().id, id);
    // A compressed layer keeps its blob: its bytes cannot be rebuilt.
    let gz = gzip(&rootfs);
    let opts = ImportOptions {
        reference: Some("imp:gz".into()),
        ..Default::default()
    };
    e.image_import(&root(), &mut &gz[..], &opts).unwrap();
    assert_eq!(std::fs::read(store.blob_path(&sha(&gz))).unwrap(), gz);
    let oci = save(&e, "imp:gz", SaveFormat::Oci).unwrap();
    assert_eq!(
        file_in(&oci, &format!("blobs/sha256/{}", &sha(&gz)[7..])).as_deref(),
        Some(&gz[..])
    );
}

#[test]
fn files_get_their_modes_and_owners_whatever_the_umask_and_directory() {
    // Files are created with their final mode and owner when nothing would change them:
    // check the cases where something would (umask bits, setgid directories).
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_mode(0o2775);
    h.set_uid(0);
    h.set_gid(50);
    h.set_size(0);
    b.append_data(&mut h, "sg/", std::io::empty()).unwrap();
    for (path, mode, uid, gid) in [
        ("sg/f", 0o644, 0, 0),
        ("sg/g", 0o640, 0, 50),
        ("open", 0o777, 0, 0),
        ("plain", 0o644, 0, 0),
        ("ro", 0o444, 0, 0),
        ("owned", 0o644, 7, 8),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(mode);
        h.set_uid(uid);
        h.set_gid(gid);
        h.set_size(1);
        b.append_data(&mut h, path, &b"x"[..]).unwrap();
    }
    let layer = b.into_inner().unwrap();
    let cfg = config_for(&[&layer], &["sh"]);
    let (_d, e) = engine();
    e.image_load(
        &root(),
        &mut &docker_archive(&cfg, std::slice::from_ref(&layer), &["modes:1"])[..],
    )
    .unwrap();
    let l = &e.resolve_image(&root(), "modes:1").unwrap().layer_dirs[0];
    for (path, mode, uid, gid) in [
        ("sg", 0o2775, 0, 50),
        ("sg/f", 0o644, 0, 0),
        ("sg/g", 0o640, 0, 50),
        ("open", 0o777, 0, 0),
        ("plain", 0o644, 0, 0),
        ("ro", 0o444, 0, 0),
        ("owned", 0o644, 7, 8),
    ] {
        let m = std::fs::symlink_metadata(l.join(path)).unwrap();
        assert_eq!(
            (m.mode() & 0o7777, m.uid(), m.gid()),
            (mode, uid, gid),
            "{path}"
        );
    }
}
