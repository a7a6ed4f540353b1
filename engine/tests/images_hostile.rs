//! Hostile and damaged archives are refused with a clear error, write nothing outside
//! the state root, and leave no blob, layer or staging directory behind.

mod images_util;

use images_util::*;
use wharf_engine::api::ImageApi;
use wharf_engine::ErrorKind;

/// Load a one-layer docker archive made of `layer` and expect a refusal mentioning `want`.
fn refuse_layer(layer: Vec<u8>, want: &str) {
    let (_d, e) = engine();
    let cfg = config_for(&[&layer], &["sh"]);
    let a = docker_archive(&cfg, &[layer], &["hostile:1"]);
    let err = e
        .image_load(&root(), &mut &a[..])
        .expect_err("a hostile layer must be refused");
    assert!(
        err.message.contains(want),
        "error {err} should mention {want:?}"
    );
    assert!(
        matches!(err.kind, ErrorKind::Corrupt | ErrorKind::InvalidArgument),
        "{err:?}"
    );
    assert_store_empty(&e);
}

fn unique_outside() -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("wharf-escape-{}", wharf_engine::ids::new_id()));
    std::fs::create_dir_all(&p).unwrap();
    p
}

#[test]
fn parent_dir_traversal() {
    refuse_layer(
        raw_tar(vec![E::File("../evil", 0o644, b"x")]),
        "contains '..'",
    );
    refuse_layer(
        raw_tar(vec![E::File("a/../../evil", 0o644, b"x")]),
        "contains '..'",
    );
    refuse_layer(
        raw_tar(vec![E::File("etc/../../.wh.passwd", 0o644, b"")]),
        "contains '..'",
    );
}

#[test]
fn absolute_path() {
    let out = unique_outside();
    let target = out.join("abs");
    refuse_layer(
        raw_tar(vec![E::File(target.to_str().unwrap(), 0o644, b"x")]),
        "absolute path",
    );
    assert!(!target.exists());
    std::fs::remove_dir_all(out).unwrap();
}

#[test]
fn symlink_escape_and_symlinked_parent() {
    let out = unique_outside();
    // A symlink to outside, then a file written through it.
    refuse_layer(
        raw_tar(vec![
            E::Symlink("link", out.to_str().unwrap()),
            E::File("link/pwned", 0o644, b"x"),
        ]),
        "goes through the symlink",
    );
    // A relative symlink climbing out.
    refuse_layer(
        raw_tar(vec![
            E::Symlink("up", "../../../../../../../.."),
            E::File("up/tmp/pwned", 0o644, b"x"),
        ]),
        "goes through the symlink",
    );
    // A directory replaced by a symlink, then a deeper path through it.
    refuse_layer(
        raw_tar(vec![
            E::Dir("a/", 0o755),
            E::File("a/ok", 0o644, b"ok"),
            E::Symlink("a", out.to_str().unwrap()),
            E::File("a/b/c", 0o644, b"x"),
        ]),
        "goes through the symlink",
    );
    // A whiteout through a symlinked parent.
    refuse_layer(
        raw_tar(vec![
            E::Symlink("w", out.to_str().unwrap()),
            E::File("w/.wh.x", 0o644, b""),
        ]),
        "goes through the symlink",
    );
    // An opaque marker through a symlinked parent.
    refuse_layer(
        raw_tar(vec![
            E::Symlink("o", out.to_str().unwrap()),
            E::File("o/.wh..wh..opq", 0o644, b""),
        ]),
        "goes through the symlink",
    );
    assert_eq!(
        std::fs::read_dir(&out).unwrap().count(),
        0,
        "nothing written outside"
    );
    std::fs::remove_dir_all(out).unwrap();
}

#[test]
fn hardlink_escape() {
    refuse_layer(
        raw_tar(vec![E::Hardlink("h", "../../../../etc/passwd")]),
        "contains '..'",
    );
    refuse_layer(
        raw_tar(vec![E::Hardlink("h", "/etc/passwd")]),
        "absolute path",
    );
    refuse_layer(
        raw_tar(vec![E::Symlink("s", "/etc"), E::Hardlink("h", "s/passwd")]),
        "points outside the layer",
    );
    refuse_layer(
        raw_tar(vec![E::Hardlink("h", "etc/not-in-layer")]),
        "\"etc\" is not in this layer",
    );
    refuse_layer(
        raw_tar(vec![E::Hardlink("h", "not-in-layer")]),
        "not a file of this layer",
    );
}

#[test]
fn truncated_layer_and_archive() {
    let layer = raw_tar(vec![E::File("big", 0o644, &[7u8; 20_000])]);
    refuse_layer(layer[..5_000].to_vec(), "truncated");
    // The whole archive cut short, inside a layer's data.
    let (_d, e) = engine();
    let cfg = config_for(&[&layer], &["sh"]);
    let a = docker_archive(&cfg, &[layer], &["cut:1"]);
    let err = e
        .image_load(&root(), &mut &a[..a.len() / 2][..])
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Corrupt, "{err}");
    assert!(
        err.message.contains("truncated") || err.message.contains("no manifest.json"),
        "{err}"
    );
    assert_store_empty(&e);
    // Cut gzip stream.
    let (_d, e) = engine();
    let g = gzip(&a);
    let err = e
        .image_load(&root(), &mut &g[..g.len() - 100][..])
        .unwrap_err();
    assert!(
        matches!(err.kind, ErrorKind::Corrupt | ErrorKind::Io),
        "{err:?}"
    );
    assert_store_empty(&e);
}

#[test]
fn wrong_digests() {
    let layer = raw_tar(vec![E::File("f", 0o644, b"content")]);
    let cfg = config_for(&[&layer], &["sh"]);
    // OCI layout whose layer blob was swapped for other content.
    let mut a = oci_archive(
        &cfg,
        &[(layer.clone(), "application/vnd.oci.image.layer.v1.tar")],
        Some("x:1"),
        true,
        false,
    );
    let needle = b"content";
    let pos = a.windows(needle.len()).position(|w| w == needle).unwrap();
    a[pos] = b'C';
    let (_d, e) = engine();
    let err = e.image_load(&root(), &mut &a[..]).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Corrupt);
    assert!(err.message.contains("does not match its digest"), "{err}");
    assert_store_empty(&e);
    // Docker archive whose config names another diff id.
    let other = raw_tar(vec![E::File("g", 0o644, b"other")]);
    let bad_cfg = config_for(&[&other], &["sh"]);
    let (_d, e) = engine();
    let err = e
        .image_load(
            &root(),
            &mut &docker_archive(&bad_cfg, std::slice::from_ref(&layer), &["y:1"])[..],
        )
        .unwrap_err();
    assert!(err.message.contains("image config says"), "{err}");
    assert_store_empty(&e);
    // The registry's entry points: put_blob with a wrong digest, add_image without blobs.
    let (_d, e) = engine();
    let s = e.image_store();
    let err = s
        .put_blob(&mut &b"data"[..], Some(&sha(b"other")))
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Corrupt);
    assert!(!s.has_blob(&sha(b"data")));
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(&cfg), "size": cfg.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha(&layer), "size": layer.len()}],
    }))
    .unwrap();
    assert_eq!(
        s.add_image(&manifest, &cfg, &["x:1".into()])
            .unwrap_err()
            .kind,
        ErrorKind::NotFound
    );
    assert_eq!(
        s.add_image(&manifest, b"{}", &["x:1".into()])
            .unwrap_err()
            .kind,
        ErrorKind::Corrupt
    );
    assert_store_empty(&e);
    // And with the blob stored, add_image works and records the repo digest.
    s.put_blob(&mut &layer[..], Some(&sha(&layer))).unwrap();
    let id = s
        .add_image(&manifest, &cfg, &["localhost:5000/x/y:1".into()])
        .unwrap();
    assert_eq!(id, sha(&cfg));
    let r = e
        .resolve_image(&root(), &format!("localhost:5000/x/y@{}", sha(&manifest)))
        .unwrap();
    assert_eq!(r.id, id);
    let m = s.image_manifest(&id).unwrap();
    assert_eq!(m.manifest, manifest);
    assert_eq!(m.layers[0].blob, sha(&layer));
    assert!(s.blob_path(&m.layers[0].blob).is_file());
}

#[test]
fn bomb_sized_headers() {
    // A PAX header claiming a terabyte (the data that follows is gzip'd zeros, cheap to
    // send): refused when the header is read, before anything is buffered.
    let mut h = tar::Header::new_ustar();
    h.set_path("PaxHeaders/bomb").unwrap();
    h.set_entry_type(tar::EntryType::XHeader);
    h.set_size(1 << 40);
    h.set_mode(0o644);
    h.set_cksum();
    let mut layer = raw_tar(vec![E::Raw(Box::new(h), vec![0u8; 64 * 1024])]);
    layer.truncate(512 + 64 * 1024);
    refuse_layer(gzip(&layer), "claims 1099511627776 bytes");
    // A GNU long name of 100 MB.
    let mut h = tar::Header::new_gnu();
    h.as_gnu_mut().unwrap().name[..13].copy_from_slice(b"././@LongLink");
    h.set_entry_type(tar::EntryType::GNULongName);
    h.set_size(100 << 20);
    h.set_mode(0o644);
    h.set_cksum();
    refuse_layer(
        raw_tar(vec![E::Raw(Box::new(h), vec![b'a'; 4096])]),
        "claims 104857600 bytes",
    );
    // The same bomb in the outer archive.
    let mut h = tar::Header::new_ustar();
    h.set_path("PaxHeaders/bomb").unwrap();
    h.set_entry_type(tar::EntryType::XHeader);
    h.set_size(1 << 40);
    h.set_mode(0o644);
    h.set_cksum();
    let (_d, e) = engine();
    let a = gzip(&raw_tar(vec![E::Raw(Box::new(h), vec![0u8; 4096])]));
    let err = e.image_load(&root(), &mut &a[..]).unwrap_err();
    assert!(err.message.contains("claims"), "{err}");
    assert_store_empty(&e);
    // A regular file claiming far more data than there is.
    let mut h = tar::Header::new_gnu();
    h.as_gnu_mut().unwrap().name[..4].copy_from_slice(b"huge");
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(1 << 40);
    h.set_mode(0o644);
    h.set_cksum();
    refuse_layer(
        raw_tar(vec![E::Raw(Box::new(h), vec![1u8; 8192])]),
        "truncated",
    );
}

#[test]
fn hostile_outer_archives() {
    for (entries, want) in [
        (
            vec![E::File("../manifest.json", 0o644, b"[]")],
            "contains '..'",
        ),
        (
            vec![E::File("/manifest.json", 0o644, b"[]")],
            "absolute path",
        ),
        (
            vec![E::Symlink("manifest.json", "/etc/passwd")],
            "points outside the archive",
        ),
        (
            vec![E::Symlink("manifest.json", "../../x")],
            "points outside the archive",
        ),
        (
            vec![E::Hardlink("manifest.json", "../etc/passwd")],
            "contains '..'",
        ),
        (
            vec![E::File("hello.txt", 0o644, b"hi")],
            "neither manifest.json nor index.json",
        ),
        (
            vec![E::File("manifest.json", 0o644, b"{not json")],
            "not valid JSON",
        ),
        (
            vec![E::File(
                "manifest.json",
                0o644,
                br#"[{"Config":"nope.json","Layers":[]}]"#,
            )],
            "not in the archive",
        ),
    ] {
        let (_d, e) = engine();
        let a = raw_tar(entries);
        let err = e.image_load(&root(), &mut &a[..]).unwrap_err();
        assert!(err.message.contains(want), "{err} should mention {want:?}");
        assert_store_empty(&e);
    }
    let (_d, e) = engine();
    let err = e
        .image_load(
            &root(),
            &mut &b"this is not a tar archive at all, just text"[..],
        )
        .unwrap_err();
    assert!(
        matches!(err.kind, ErrorKind::InvalidArgument | ErrorKind::Corrupt),
        "{err:?}"
    );
    assert_store_empty(&e);
    let err = e.image_load(&root(), &mut &b""[..]).unwrap_err();
    assert!(err.message.contains("empty"), "{err}");
    assert_store_empty(&e);
}

#[test]
fn concurrent_loads_of_one_image_share_its_layer() {
    let (_d, e) = engine();
    let layer = raw_tar(vec![E::File("f", 0o644, &[3u8; 300_000])]);
    let cfg = config_for(&[&layer], &["sh"]);
    let a = docker_archive(&cfg, &[layer], &["same:1"]);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| e.image_load(&root(), &mut &a[..]).unwrap());
        }
    });
    assert_eq!(std::fs::read_dir(e.root().layers()).unwrap().count(), 1);
    assert_eq!(std::fs::read_dir(e.root().tmp()).unwrap().count(), 0);
    assert_eq!(e.resolve_image(&root(), "same:1").unwrap().id, sha(&cfg));
}
