//! Image store: formats (own and third-party), round trips, layer contents, references,
//! tag/rmi/prune, events.

mod images_util;

use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};

use images_util::*;
use wharf_engine::api::{ImageApi, ImageListOptions, ImportOptions, RemoveOutcome, SaveFormat};
use wharf_engine::ErrorKind;

fn demo(e: &wharf_engine::LocalEngine) -> String {
    e.image_build_demo(&root(), "wharf/demo:latest")
        .expect("building the demo image (needs busybox-static)")
}

fn save(e: &wharf_engine::LocalEngine, refs: &[&str], f: SaveFormat) -> Vec<u8> {
    let mut out = Vec::new();
    e.image_save(
        &root(),
        &refs.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        f,
        &mut out,
    )
    .unwrap();
    out
}

#[test]
fn demo_image_has_busybox_users_and_www() {
    let (_d, e) = engine();
    let id = demo(&e);
    let r = e.resolve_image(&root(), "wharf/demo").unwrap();
    assert_eq!(r.id, id);
    assert_eq!(r.reference, "docker.io/wharf/demo:latest");
    assert_eq!(r.config["config"]["Cmd"], serde_json::json!(["sh"]));
    assert_eq!(r.layer_dirs.len(), 1);
    let l = &r.layer_dirs[0];
    assert!(
        l.join("bin/busybox")
            .metadata()
            .unwrap()
            .permissions()
            .mode()
            & 0o111
            != 0
    );
    assert_eq!(
        std::fs::read_link(l.join("bin/sh")).unwrap().to_str(),
        Some("/bin/busybox")
    );
    let passwd = std::fs::read_to_string(l.join("etc/passwd")).unwrap();
    assert!(
        passwd.contains("root:x:0:0")
            && passwd.contains("nobody:x:65534")
            && passwd.contains("app:x:1000:1000")
    );
    assert!(std::fs::read_to_string(l.join("etc/group"))
        .unwrap()
        .contains("app:x:1000:"));
    assert_eq!(
        l.join("tmp").metadata().unwrap().permissions().mode() & 0o7777,
        0o1777
    );
    assert!(l.join("root").is_dir());
    assert!(std::fs::read_to_string(l.join("www/index.html"))
        .unwrap()
        .contains("wharf demo"));
    // Built twice from the same busybox: the same image.
    assert_eq!(demo(&e), id);
    // By id, short id and sha256: prefix too.
    assert_eq!(e.resolve_image(&root(), &id[7..19]).unwrap().reference, id);
    assert_eq!(e.resolve_image(&root(), &id).unwrap().id, id);
    assert_eq!(e.resolve_image(&root(), &id[..20]).unwrap().id, id);
}

#[test]
fn missing_and_invalid_references_are_clear() {
    let (_d, e) = engine();
    let err = e.resolve_image(&root(), "nosuch:1").unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound);
    assert!(
        err.message.contains("wharf image demo") && err.message.contains("wharf pull"),
        "{err}"
    );
    let err = e.image_inspect(&root(), "Bad/Name").unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidArgument);
    assert!(err.message.contains("invalid reference format"), "{err}");
}

#[test]
fn docker_and_oci_round_trips_keep_ids() {
    let (_d, e) = engine();
    let id = demo(&e);
    e.image_tag(&root(), "wharf/demo", "localhost:5000/x/y:tag")
        .unwrap();
    for fmt in [SaveFormat::Docker, SaveFormat::Oci] {
        let a = save(&e, &["wharf/demo", "localhost:5000/x/y:tag"], fmt);
        let (_d2, e2) = engine();
        let rep = e2.image_load(&root(), &mut &a[..]).unwrap();
        assert_eq!(rep.tagged.len(), 2, "{fmt:?}: {rep:?}");
        assert_eq!(
            e2.resolve_image(&root(), "localhost:5000/x/y:tag")
                .unwrap()
                .id,
            id
        );
        assert_eq!(
            e2.resolve_image(&root(), "wharf/demo:latest").unwrap().id,
            id
        );
        // load -> save -> load again: still the same id and the same layer content.
        let b = save(&e2, &["wharf/demo"], fmt);
        let (_d3, e3) = engine();
        e3.image_load(&root(), &mut &b[..]).unwrap();
        let r3 = e3.resolve_image(&root(), "wharf/demo").unwrap();
        assert_eq!(r3.id, id);
        assert!(r3.layer_dirs[0].join("bin/busybox").is_file());
        let i1 = e.image_inspect(&root(), "wharf/demo").unwrap();
        let i3 = e3.image_inspect(&root(), "wharf/demo").unwrap();
        assert_eq!(i1["RootFS"], i3["RootFS"]);
        assert_eq!(i1["Size"], i3["Size"]);
    }
    // The docker archive has the legacy shape docker load reads.
    let a = save(&e, &["wharf/demo"], SaveFormat::Docker);
    let mut names = Vec::new();
    let mut ar = tar::Archive::new(&a[..]);
    for en in ar.entries().unwrap() {
        names.push(en.unwrap().path().unwrap().display().to_string());
    }
    assert!(
        names.contains(&"manifest.json".to_string()) && names.contains(&"repositories".to_string())
    );
    assert!(names.contains(&format!("{}.json", &id[7..])));
    assert!(names.iter().any(|n| n.ends_with("/layer.tar")));
}

#[test]
fn compressed_layers_and_shared_layers() {
    let (_d, e) = engine();
    let base = raw_tar(vec![
        E::Dir("etc/", 0o755),
        E::File("etc/base", 0o644, b"base"),
    ]);
    let top = raw_tar(vec![E::File("top.txt", 0o600, b"top")]);
    let cfg = config_for(&[&base, &top], &["sh"]);
    // gzip docker archive, zstd OCI layout: same config, so the same image.
    let a = docker_archive(&cfg, &[gzip(&base), zstd(&top)], &["one:1"]);
    e.image_load(&root(), &mut &a[..]).unwrap();
    let b = oci_archive(
        &cfg,
        &[
            (zstd(&base), "application/vnd.oci.image.layer.v1.tar+zstd"),
            (gzip(&top), "application/vnd.oci.image.layer.v1.tar+gzip"),
        ],
        Some("two:2"),
        true,
        false,
    );
    e.image_load(&root(), &mut &b[..]).unwrap();
    let r1 = e.resolve_image(&root(), "one:1").unwrap();
    let r2 = e.resolve_image(&root(), "two:2").unwrap();
    assert_eq!(r1.id, sha(&cfg));
    assert_eq!(r1.id, r2.id);
    assert_eq!(r1.layer_dirs, r2.layer_dirs);
    assert_eq!(
        std::fs::read(r1.layer_dirs[0].join("etc/base")).unwrap(),
        b"base"
    );
    // A second image on the same base shares its unpacked layer.
    let top2 = raw_tar(vec![E::File("other.txt", 0o644, b"other")]);
    let cfg2 = config_for(&[&base, &top2], &["sh"]);
    let c = docker_archive(&cfg2, &[base.clone(), top2.clone()], &["three:3"]);
    e.image_load(&root(), &mut &c[..]).unwrap();
    let r3 = e.resolve_image(&root(), "three:3").unwrap();
    assert_eq!(r3.layer_dirs[0], r1.layer_dirs[0]);
    assert_eq!(std::fs::read_dir(e.root().layers()).unwrap().count(), 3);
    // Compressed-in, plain-out: the docker archive still round trips to the same id.
    let out = save(&e, &["one:1"], SaveFormat::Docker);
    let (_d2, e2) = engine();
    e2.image_load(&root(), &mut &out[..]).unwrap();
    assert_eq!(e2.resolve_image(&root(), "one:1").unwrap().id, r1.id);
    // The whole archive gzip-compressed loads too.
    let (_d3, e3) = engine();
    e3.image_load(&root(), &mut &gzip(&out)[..]).unwrap();
    assert_eq!(e3.resolve_image(&root(), "one:1").unwrap().id, r1.id);
}

#[test]
fn docker25_archive_index_first_manifest_fallback() {
    let layer = raw_tar(vec![E::File("hello", 0o644, b"hi")]);
    let cfg = config_for(&[&layer], &["sh"]);
    // index.json and manifest.json both present (Docker 25+).
    let (_d, e) = engine();
    let a = oci_archive(
        &cfg,
        &[(layer.clone(), "application/vnd.oci.image.layer.v1.tar")],
        Some("docker.io/library/new:25"),
        true,
        true,
    );
    let rep = e.image_load(&root(), &mut &a[..]).unwrap();
    assert_eq!(rep.tagged, vec!["docker.io/library/new:25".to_string()]);
    // manifest.json only (index.json absent): the fallback.
    let (_d, e) = engine();
    let a = oci_archive(
        &cfg,
        &[(layer.clone(), "application/vnd.oci.image.layer.v1.tar")],
        Some("fallback:1"),
        false,
        true,
    );
    let rep = e.image_load(&root(), &mut &a[..]).unwrap();
    assert_eq!(rep.tagged, vec!["docker.io/library/fallback:1".to_string()]);
    assert_eq!(
        e.resolve_image(&root(), "fallback:1").unwrap().id,
        sha(&cfg)
    );
    // No name: loaded by id.
    let (_d, e) = engine();
    let a = oci_archive(
        &cfg,
        &[(layer, "application/vnd.oci.image.layer.v1.tar")],
        None,
        true,
        false,
    );
    let rep = e.image_load(&root(), &mut &a[..]).unwrap();
    assert_eq!(rep.untagged_ids, vec![sha(&cfg)]);
}

#[test]
fn skopeo_made_archives_load_with_the_same_id() {
    let (d, e) = engine();
    let id = demo(&e);
    let oci = d.path().join("demo-oci.tar");
    std::fs::write(&oci, save(&e, &["wharf/demo"], SaveFormat::Oci)).unwrap();
    // skopeo reads our OCI archive...
    let out = run(
        "skopeo",
        &["inspect", &format!("oci-archive:{}", oci.display())],
    );
    let v = json(&out.stdout);
    assert_eq!(v["Layers"].as_array().unwrap().len(), 1);
    // ...and converts it to a docker-archive, an OCI layout dir (gzip) and one with zstd.
    let da = d.path().join("skopeo-docker.tar");
    run(
        "skopeo",
        &[
            "copy",
            "-q",
            &format!("oci-archive:{}", oci.display()),
            &format!("docker-archive:{}:sk/docker:1", da.display()),
        ],
    );
    let od = d.path().join("skopeo-oci");
    run(
        "skopeo",
        &[
            "copy",
            "-q",
            &format!("oci-archive:{}", oci.display()),
            &format!("oci:{}:sk/oci:2", od.display()),
        ],
    );
    let oz = d.path().join("skopeo-zstd");
    run(
        "skopeo",
        &[
            "copy",
            "-q",
            "--dest-compress-format",
            "zstd",
            &format!("oci-archive:{}", oci.display()),
            &format!("oci:{}:sk/zstd:3", oz.display()),
        ],
    );
    let (_d2, e2) = engine();
    let f = std::fs::read(&da).unwrap();
    assert_eq!(
        e2.image_load(&root(), &mut &f[..]).unwrap().tagged,
        vec!["docker.io/sk/docker:1".to_string()]
    );
    e2.image_load(&root(), &mut &tar_dir(&od)[..]).unwrap();
    e2.image_load(&root(), &mut &tar_dir(&oz)[..]).unwrap();
    for r in ["sk/docker:1", "sk/oci:2", "sk/zstd:3"] {
        let ri = e2.resolve_image(&root(), r).unwrap();
        assert_eq!(ri.id, id, "{r}");
        assert!(ri.layer_dirs[0].join("bin/busybox").is_file(), "{r}");
    }
    let m = e2.image_store().image_manifest(&id).unwrap();
    assert!(m.layers.iter().any(|l| l.media_type.ends_with("+zstd")
        || l.media_type.ends_with("+gzip")
        || l.media_type.ends_with("tar")));
    // skopeo reads our docker archive too.
    let ours = d.path().join("ours-docker.tar");
    std::fs::write(&ours, save(&e2, &["sk/zstd:3"], SaveFormat::Docker)).unwrap();
    let v = json(
        &run(
            "skopeo",
            &[
                "inspect",
                &format!("docker-archive:{}:sk/zstd:3", ours.display()),
            ],
        )
        .stdout,
    );
    assert_eq!(v["Name"], "docker.io/sk/zstd");
}

#[test]
fn umoci_layers_with_whiteouts_and_opaque_dirs() {
    let (d, e) = engine();
    demo(&e);
    let oci = d.path().join("demo.tar");
    std::fs::write(&oci, save(&e, &["wharf/demo"], SaveFormat::Oci)).unwrap();
    let lay = d.path().join("layout");
    std::fs::create_dir(&lay).unwrap();
    run(
        "tar",
        &["-xf", oci.to_str().unwrap(), "-C", lay.to_str().unwrap()],
    );
    let src = format!("{}:docker.io/wharf/demo:latest", lay.display());
    // umoci adds three layers: a new file, a whiteout of /etc/hostname, an opaque /www.
    let extra = d.path().join("extra");
    std::fs::create_dir_all(&extra).unwrap();
    std::fs::write(extra.join("note.txt"), b"from umoci").unwrap();
    run(
        "umoci",
        &[
            "insert",
            "--image",
            &src,
            "--tag",
            "t1",
            extra.join("note.txt").to_str().unwrap(),
            "/note.txt",
        ],
    );
    let t1 = format!("{}:t1", lay.display());
    run(
        "umoci",
        &["insert", "--image", &t1, "--whiteout", "/etc/hostname"],
    );
    let www = d.path().join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("new.html"), b"new").unwrap();
    run(
        "umoci",
        &[
            "insert",
            "--image",
            &t1,
            "--opaque",
            www.to_str().unwrap(),
            "/www",
        ],
    );
    let (_d2, e2) = engine();
    e2.image_load(&root(), &mut &tar_dir(&lay)[..]).unwrap();
    let r = e2.resolve_image(&root(), "t1").unwrap();
    assert_eq!(r.layer_dirs.len(), 4);
    assert_eq!(
        std::fs::read(r.layer_dirs[1].join("note.txt")).unwrap(),
        b"from umoci"
    );
    let wh = std::fs::symlink_metadata(r.layer_dirs[2].join("etc/hostname")).unwrap();
    assert!(
        wh.file_type().is_char_device() && wh.rdev() == 0,
        "whiteout is a 0/0 char device"
    );
    assert!(!r.layer_dirs[2].join("etc/.wh.hostname").exists());
    assert_eq!(
        xattr::get(r.layer_dirs[3].join("www"), "trusted.overlay.opaque")
            .unwrap()
            .as_deref(),
        Some(&b"y"[..])
    );
    assert!(r.layer_dirs[3].join("www/new.html").is_file());
    // The base image loaded from the same layout shares the bottom layer.
    assert_eq!(
        e2.resolve_image(&root(), "wharf/demo").unwrap().layer_dirs[0],
        r.layer_dirs[0]
    );
    // umoci can unpack what we save again.
    let out = d.path().join("again.tar");
    std::fs::write(&out, save(&e2, &["t1"], SaveFormat::Oci)).unwrap();
    let lay2 = d.path().join("layout2");
    std::fs::create_dir(&lay2).unwrap();
    run(
        "tar",
        &["-xf", out.to_str().unwrap(), "-C", lay2.to_str().unwrap()],
    );
    let bundle = d.path().join("bundle");
    run(
        "umoci",
        &[
            "unpack",
            "--image",
            &format!("{}:docker.io/library/t1:latest", lay2.display()),
            bundle.to_str().unwrap(),
        ],
    );
    assert!(bundle.join("rootfs/note.txt").is_file());
    assert!(!bundle.join("rootfs/etc/hostname").exists());
    assert!(
        bundle.join("rootfs/www/new.html").is_file()
            && !bundle.join("rootfs/www/index.html").exists()
    );
}

/// Files of every size (up to past 4 MiB), set-id, owned by others, written twice,
/// hard-linked, with xattrs: content, mode, owner and time as the archive says, and the
/// tar-split still rebuilds the exact layer.
#[test]
fn layer_files_of_every_size_keep_content_and_attributes() {
    let (_d, e) = engine();
    let mid = |seed: u8, n: usize| -> Vec<u8> { (0..n).map(|i| (i as u8) ^ seed).collect() };
    let (a, b1, b2, c, x, big) = (
        mid(1, 100_000),
        mid(2, 200_000),
        mid(3, 70_000),
        mid(4, 4 << 20),
        mid(5, 65_536),
        mid(6, (4 << 20) + 1),
    );
    let layer = raw_tar(vec![
        E::Dir("bin/", 0o755),
        E::FileX("bin/suid", 0o4755, 0, 0, &a, vec![]),
        E::FileX("home/own", 0o640, 1000, 1001, &b1, vec![]),
        // Written twice: the second copy wins, the first is kept aside for the split.
        E::FileX("home/own", 0o600, 1002, 1003, &b2, vec![]),
        E::Hardlink("home/link", "home/own"),
        E::File("exactly-4m", 0o644, &c),
        E::FileX(
            "with-xattr",
            0o644,
            0,
            0,
            &x,
            vec![("SCHILY.xattr.user.k", b"v")],
        ),
        E::File("over-4m", 0o644, &big),
    ]);
    let cfg = config_for(&[&layer], &["sh"]);
    e.image_load(
        &root(),
        &mut &docker_archive(&cfg, std::slice::from_ref(&layer), &["aside:1"])[..],
    )
    .unwrap();
    let l = &e.resolve_image(&root(), "aside:1").unwrap().layer_dirs[0];
    let check = |p: &str, data: &[u8], mode: u32, owner: (u32, u32)| {
        let md = l.join(p).metadata().unwrap();
        assert_eq!(std::fs::read(l.join(p)).unwrap(), data, "{p} content");
        assert_eq!(md.mode() & 0o7777, mode, "{p} mode");
        assert_eq!((md.uid(), md.gid()), owner, "{p} owner");
        assert_eq!(md.mtime(), 1_600_000_000, "{p} mtime");
    };
    check("bin/suid", &a, 0o4755, (0, 0));
    check("home/own", &b2, 0o600, (1002, 1003));
    check("home/link", &b2, 0o600, (1002, 1003));
    check("exactly-4m", &c, 0o644, (0, 0));
    check("with-xattr", &x, 0o644, (0, 0));
    check("over-4m", &big, 0o644, (0, 0));
    assert_eq!(
        xattr::get(l.join("with-xattr"), "user.k")
            .unwrap()
            .as_deref(),
        Some(&b"v"[..])
    );
    // The tar-split rebuilds the exact layer (save checks it against the diff id).
    let mut out = Vec::new();
    e.image_save(&root(), &["aside:1".into()], SaveFormat::Docker, &mut out)
        .unwrap();
}

#[test]
fn layer_keeps_modes_owners_xattrs_links_and_devices() {
    let (_d, e) = engine();
    let layer = raw_tar(vec![
        E::Dir("./", 0o755),
        E::Dir("usr/", 0o755),
        E::Dir("usr/bin/", 0o755),
        E::FileX(
            "usr/bin/ping",
            0o4755,
            0,
            0,
            b"ping",
            vec![(
                "SCHILY.xattr.security.capability",
                b"\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
            )],
        ),
        E::FileX(
            "home/app/own",
            0o640,
            1000,
            1001,
            b"mine",
            vec![
                ("SCHILY.xattr.user.note", b"hello"),
                ("SCHILY.xattr.trusted.overlay.redirect", b"/etc"),
            ],
        ),
        E::FileX(
            "big-uid",
            0o600,
            0,
            0,
            b"x",
            vec![("uid", b"3000000"), ("gid", b"3000001")],
        ),
        E::Symlink("usr/bin/sh", "/bin/busybox"),
        E::Symlink("rel", "usr/bin/ping"),
        E::Hardlink("usr/bin/ping2", "usr/bin/ping"),
        E::Char("dev/null", 1, 3),
        E::Fifo("run/fifo"),
        E::File("etc/.wh.gone", 0o644, b""),
        E::Dir("var/", 0o755),
        E::File("var/.wh..wh..opq", 0o644, b""),
        E::File("var/kept", 0o644, b"kept"),
        E::Dir("sticky/", 0o1777),
    ]);
    let cfg = config_for(&[&layer], &["sh"]);
    e.image_load(
        &root(),
        &mut &docker_archive(&cfg, std::slice::from_ref(&layer), &["attrs:1"])[..],
    )
    .unwrap();
    let l = &e.resolve_image(&root(), "attrs:1").unwrap().layer_dirs[0];
    let ping = l.join("usr/bin/ping").metadata().unwrap();
    assert_eq!(ping.mode() & 0o7777, 0o4755, "setuid kept");
    assert_eq!(ping.nlink(), 2, "hardlink kept");
    assert!(xattr::get(l.join("usr/bin/ping"), "security.capability")
        .unwrap()
        .is_some());
    let own = l.join("home/app/own").metadata().unwrap();
    assert_eq!(
        (own.uid(), own.gid(), own.mode() & 0o777),
        (1000, 1001, 0o640)
    );
    assert_eq!(
        xattr::get(l.join("home/app/own"), "user.note")
            .unwrap()
            .as_deref(),
        Some(&b"hello"[..])
    );
    assert!(
        xattr::get(l.join("home/app/own"), "trusted.overlay.redirect")
            .unwrap()
            .is_none(),
        "overlay xattrs from archives are dropped"
    );
    let big = l.join("big-uid").metadata().unwrap();
    assert_eq!((big.uid(), big.gid()), (3000000, 3000001));
    assert_eq!(
        std::fs::read_link(l.join("usr/bin/sh")).unwrap().to_str(),
        Some("/bin/busybox")
    );
    assert_eq!(
        std::fs::read_link(l.join("rel")).unwrap().to_str(),
        Some("usr/bin/ping")
    );
    let null = std::fs::symlink_metadata(l.join("dev/null")).unwrap();
    assert!(null.file_type().is_char_device());
    assert_eq!(null.rdev(), nix::sys::stat::makedev(1, 3));
    assert!(std::fs::symlink_metadata(l.join("run/fifo"))
        .unwrap()
        .file_type()
        .is_fifo());
    let gone = std::fs::symlink_metadata(l.join("etc/gone")).unwrap();
    assert!(gone.file_type().is_char_device() && gone.rdev() == 0);
    assert_eq!(
        xattr::get(l.join("var"), "trusted.overlay.opaque")
            .unwrap()
            .as_deref(),
        Some(&b"y"[..])
    );
    assert!(!l.join("var/.wh..wh..opq").exists());
    assert_eq!(l.join("sticky").metadata().unwrap().mode() & 0o7777, 0o1777);
    assert_eq!(
        l.join("usr").metadata().unwrap().mtime(),
        1_600_000_000,
        "directory times restored last"
    );
    // The diff id was checked: a config naming another diff id is refused.
    let (_d2, e2) = engine();
    let other = raw_tar(vec![E::File("x", 0o644, b"x")]);
    let bad_cfg = config_for(&[&other], &["sh"]);
    let err = e2
        .image_load(
            &root(),
            &mut &docker_archive(&bad_cfg, &[layer], &["bad:1"])[..],
        )
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Corrupt);
    assert!(err.message.contains("image config says"), "{err}");
    assert_store_empty(&e2);
}

#[test]
fn import_with_changes_from_plain_gzip_and_zstd() {
    let (_d, e) = engine();
    let rootfs = raw_tar(vec![
        E::Dir("bin/", 0o755),
        E::File("bin/hello", 0o755, b"#!/bin/sh\necho hi\n"),
    ]);
    let opts = ImportOptions {
        reference: Some("imported:1".into()),
        changes: vec![
            r#"CMD ["/bin/hello"]"#.into(),
            "ENV A=b".into(),
            "EXPOSE 8080".into(),
            "WORKDIR /srv".into(),
            "LABEL k=v".into(),
            "USER 1000".into(),
        ],
        message: Some("from a test".into()),
    };
    let id = e.image_import(&root(), &mut &rootfs[..], &opts).unwrap();
    let v = e.image_inspect(&root(), "imported:1").unwrap();
    assert_eq!(v["Id"], id);
    assert_eq!(v["Config"]["Cmd"], serde_json::json!(["/bin/hello"]));
    assert_eq!(v["Config"]["Env"], serde_json::json!(["A=b"]));
    assert_eq!(
        v["Config"]["ExposedPorts"],
        serde_json::json!({"8080/tcp": {}})
    );
    assert_eq!(v["Config"]["WorkingDir"], "/srv");
    assert_eq!(v["Config"]["User"], "1000");
    assert_eq!(v["Config"]["Labels"]["k"], "v");
    assert_eq!(v["Comment"], "from a test");
    assert_eq!(v["RootFS"]["Layers"][0], sha(&rootfs));
    assert_eq!(v["RepoTags"], serde_json::json!(["imported:1"]));
    for (i, data) in [gzip(&rootfs), zstd(&rootfs)].iter().enumerate() {
        let o = ImportOptions {
            reference: Some(format!("imported:c{i}")),
            ..Default::default()
        };
        e.image_import(&root(), &mut &data[..], &o).unwrap();
        let v = e.image_inspect(&root(), &format!("imported:c{i}")).unwrap();
        assert_eq!(
            v["RootFS"]["Layers"][0],
            sha(&rootfs),
            "diff id is of the uncompressed tar"
        );
    }
    // One unpacked layer serves all three.
    assert_eq!(std::fs::read_dir(e.root().layers()).unwrap().count(), 1);
    let bad = ImportOptions {
        reference: Some("x".into()),
        changes: vec!["RUN true".into()],
        message: None,
    };
    assert_eq!(
        e.image_import(&root(), &mut &rootfs[..], &bad)
            .unwrap_err()
            .kind,
        ErrorKind::InvalidArgument
    );
}

#[test]
fn list_tag_history_rmi_prune_and_events() {
    let (_d, e) = engine();
    let id = demo(&e);
    e.image_tag(&root(), "wharf/demo", "busybox:mine").unwrap();
    e.image_tag(&root(), &id[7..19], "localhost:5000/x/y:tag")
        .unwrap();
    assert!(e
        .image_tag(
            &root(),
            "wharf/demo",
            &format!("x@sha256:{}", "a".repeat(64))
        )
        .is_err());
    let layer = raw_tar(vec![E::File("f", 0o644, b"f")]);
    let cfg = config_for(&[&layer], &["sh"]);
    e.image_load(&root(), &mut &docker_archive(&cfg, &[layer], &[])[..])
        .unwrap();
    let all = e.image_list(&root(), &ImageListOptions::default()).unwrap();
    assert_eq!(all.len(), 2);
    let dangling = e
        .image_list(
            &root(),
            &ImageListOptions {
                dangling: Some(true),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(dangling.len(), 1);
    assert_eq!(dangling[0].id, sha(&cfg));
    let by_ref = e
        .image_list(
            &root(),
            &ImageListOptions {
                reference: vec!["busy*".into()],
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(by_ref.len(), 1);
    assert_eq!(
        by_ref[0].repo_tags,
        vec!["docker.io/library/busybox:mine".to_string()]
    );
    let demo_row = all.iter().find(|s| s.id == id).unwrap();
    assert_eq!(demo_row.repo_tags.len(), 3);
    assert!(demo_row.size > 500_000);
    let h = e.image_history(&root(), "wharf/demo").unwrap();
    assert_eq!(h[0].id, id);
    assert_eq!(h[0].size, demo_row.size);

    // A container uses the demo image: removal is refused, -f only untags.
    let c = e.root().containers().join("c0ffee");
    std::fs::create_dir_all(&c).unwrap();
    std::fs::write(
        c.join("config.json"),
        serde_json::to_vec(&serde_json::json!({"ImageId": id})).unwrap(),
    )
    .unwrap();
    let err = e.image_remove(&root(), &id, false).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Conflict);
    assert!(err.message.contains("c0ffee"), "{err}");
    // Removing one of several tags just untags.
    assert_eq!(
        e.image_remove(&root(), "busybox:mine", false).unwrap(),
        vec![RemoveOutcome::Untagged("busybox:mine".into())]
    );
    assert_eq!(
        e.image_remove(&root(), "localhost:5000/x/y:tag", false)
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        e.image_remove(&root(), "wharf/demo", false)
            .unwrap_err()
            .kind,
        ErrorKind::Conflict
    );
    assert_eq!(
        e.image_remove(&root(), "wharf/demo", true).unwrap(),
        vec![RemoveOutcome::Untagged("wharf/demo:latest".into())]
    );
    assert!(
        e.resolve_image(&root(), &id).is_ok(),
        "kept for its container"
    );
    // Prune: the dangling unused image goes, the one in use stays.
    let rep = e.image_prune(&root(), false).unwrap();
    assert!(rep.deleted.contains(&sha(&cfg)), "{rep:?}");
    assert!(e.resolve_image(&root(), &id).is_ok());
    let du = e.image_disk_usage(&root()).unwrap();
    assert_eq!((du.count, du.active, du.reclaimable), (1, 1, 0));
    // Container gone: rmi by id deletes image and layer.
    std::fs::remove_dir_all(&c).unwrap();
    let out = e.image_remove(&root(), &id[7..19], false).unwrap();
    assert!(out.contains(&RemoveOutcome::Deleted(id.clone())), "{out:?}");
    assert_eq!(std::fs::read_dir(e.root().layers()).unwrap().count(), 0);
    assert!(e.resolve_image(&root(), &id).is_err());
    let ev = events(&e);
    for want in [
        ("import", "wharf/demo:latest"),
        ("tag", "busybox:mine"),
        ("load", sha(&cfg).as_str()),
        ("untag", "busybox:mine"),
        ("delete", id.as_str()),
    ] {
        assert!(
            ev.iter().any(|(a, n)| a == want.0 && n == want.1),
            "missing event {want:?} in {ev:?}"
        );
    }
    let err = e
        .image_save(&root(), &[], SaveFormat::Docker, &mut Vec::new())
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidArgument);
}

#[test]
fn rmi_by_id_with_several_tags_needs_force_and_prune_all() {
    let (_d, e) = engine();
    let id = demo(&e);
    e.image_tag(&root(), "wharf/demo", "other:1").unwrap();
    assert_eq!(
        e.image_remove(&root(), &id, false).unwrap_err().kind,
        ErrorKind::Conflict
    );
    let out = e.image_remove(&root(), &id, true).unwrap();
    assert_eq!(
        out.iter()
            .filter(|o| matches!(o, RemoveOutcome::Untagged(_)))
            .count(),
        2
    );
    assert_store_empty(&e);
    demo(&e);
    let rep = e.image_prune(&root(), true).unwrap();
    assert!(rep.reclaimed > 0);
    assert_store_empty(&e);
}

#[test]
fn rmi_is_refused_while_a_real_container_uses_the_image() {
    use wharf_engine::api::{ContainerApi, ContainerCreate, RemoveOptions};
    let (_d, e) = engine();
    let id = demo(&e);
    let spec = ContainerCreate {
        image: "wharf/demo".into(),
        ..Default::default()
    };
    let c = e.container_create(&root(), &spec).unwrap();
    let err = e.image_remove(&root(), "wharf/demo", false).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Conflict, "{err}");
    assert!(err.message.contains(&c[..12]), "{err}");
    assert_eq!(e.image_disk_usage(&root()).unwrap().active, 1);
    e.container_remove(
        &root(),
        &c,
        RemoveOptions {
            force: true,
            volumes: true,
        },
    )
    .unwrap();
    let out = e.image_remove(&root(), "wharf/demo", false).unwrap();
    assert!(out.contains(&RemoveOutcome::Deleted(id)), "{out:?}");
    assert_store_empty(&e);
}

#[test]
fn legacy_archive_with_symlinked_duplicate_layer() {
    // Docker's legacy save writes a repeated layer as a symlink to the first copy.
    let (_d, e) = engine();
    let layer = raw_tar(vec![E::File("same", 0o644, b"same")]);
    let cfg = config_for(&[&layer, &layer], &["sh"]);
    let cfg_name = format!("{}.json", &sha(&cfg)[7..]);
    let manifest = serde_json::to_vec(&serde_json::json!([{
        "Config": cfg_name, "RepoTags": ["dup:1"], "Layers": ["a/layer.tar", "b/layer.tar"],
    }]))
    .unwrap();
    let a = raw_tar(vec![
        E::Dir("a/", 0o755),
        E::File("a/layer.tar", 0o644, &layer),
        E::Dir("b/", 0o755),
        E::Symlink("b/layer.tar", "../a/layer.tar"),
        E::File(&cfg_name, 0o644, &cfg),
        E::File("manifest.json", 0o644, &manifest),
    ]);
    e.image_load(&root(), &mut &a[..]).unwrap();
    let r = e.resolve_image(&root(), "dup:1").unwrap();
    assert_eq!(r.layer_dirs.len(), 2);
    assert_ne!(
        r.layer_dirs[0], r.layer_dirs[1],
        "one directory per chain id"
    );
    assert!(r.layer_dirs[1].join("same").is_file());
    let out = save(&e, &["dup:1"], SaveFormat::Docker);
    let (_d2, e2) = engine();
    e2.image_load(&root(), &mut &out[..]).unwrap();
    assert_eq!(e2.resolve_image(&root(), "dup:1").unwrap().id, r.id);
}
