//! The engine's registry calls (pull, push, login, logout) against a real
//! `docker-registry` on 127.0.0.1, into and out of the real image store.

mod registry_support;

use std::os::unix::fs::PermissionsExt;

use registry_support::*;
use wharf_engine::api::EventFilter;
use wharf_engine::api::{
    ImageApi, ImageListOptions, Progress, PullOptions, PushOptions, RegistryApi, RemoveOutcome,
    SystemApi,
};
use wharf_engine::{Caller, EngineOptions, ErrorKind, LocalEngine};

fn engine(dir: &std::path::Path) -> LocalEngine {
    LocalEngine::open(dir, EngineOptions::default()).unwrap()
}

fn events(e: &LocalEngine, action: &str) -> Vec<wharf_engine::events::Event> {
    let mut out = Vec::new();
    let f = EventFilter {
        actions: vec![action.into()],
        ..Default::default()
    };
    e.events(&Caller::root(), &f, &mut |ev| {
        out.push(ev);
        true
    })
    .unwrap();
    out
}

fn pull(
    e: &LocalEngine,
    r: &str,
    platform: Option<&str>,
) -> wharf_engine::Result<(String, Vec<Progress>)> {
    let mut seen = Vec::new();
    let opts = PullOptions {
        platform: platform.map(str::to_string),
        ..Default::default()
    };
    let id = e.image_pull(&Caller::root(), r, &opts, &mut |p| seen.push(p))?;
    Ok((id, seen))
}

/// Every file left under the state root's `tmp/` (must be none after any call).
fn leftovers(root: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(root.join("tmp"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn push_rmi_pull_round_trip_keeps_the_id() {
    let reg = Registry::start(Auth::None);
    let tmp = tempfile::tempdir().unwrap();
    let e = engine(tmp.path());
    let root = Caller::root();
    let id = e.image_build_demo(&root, "wharf/demo:latest").unwrap();
    let target = format!("{}/demo/busybox:1", reg.host());
    e.image_tag(&root, "wharf/demo:latest", &target).unwrap();

    let mut seen = Vec::new();
    e.image_push(&root, &target, &PushOptions::default(), &mut |p| {
        seen.push(p)
    })
    .unwrap();
    assert!(
        seen.iter()
            .any(|p| matches!(p, Progress::Layer { status, .. } if status == "Pushed")),
        "{seen:?}"
    );
    let raw = skopeo_raw(&target, None);
    let pushed_digest = sha256(&raw);
    let inspect = e.image_inspect(&root, &target).unwrap();
    let digests: Vec<String> = serde_json::from_value(inspect["RepoDigests"].clone()).unwrap();
    assert!(
        digests.contains(&format!("{}/demo/busybox@{pushed_digest}", reg.host())),
        "{digests:?}"
    );
    let push_events = events(&e, "push");
    assert_eq!(push_events.len(), 1);
    assert_eq!(push_events[0].actor.id, target);

    // The same image under another repository of the registry: its layer is mounted
    // from the first one, not uploaded again.
    let second = format!("{}/demo/copy:1", reg.host());
    e.image_tag(&root, &target, &second).unwrap();
    let mut seen = Vec::new();
    e.image_push(&root, &second, &PushOptions::default(), &mut |p| {
        seen.push(p)
    })
    .unwrap();
    assert!(
        seen.iter().any(
            |p| matches!(p, Progress::Layer { status, .. } if status == "Mounted from demo/busybox")
        ),
        "{seen:?}"
    );
    assert!(
        !seen
            .iter()
            .any(|p| matches!(p, Progress::Layer { status, .. } if status == "Pushed")),
        "{seen:?}"
    );
    assert_eq!(skopeo_raw(&second, None), raw);
    e.image_remove(&root, &second, false).unwrap();

    // Remove every local reference to the image, then pull it back.
    for r in ["wharf/demo:latest", target.as_str()] {
        let out = e.image_remove(&root, r, false).unwrap();
        assert!(out.iter().any(|o| matches!(o, RemoveOutcome::Untagged(_))));
    }
    assert!(e
        .image_list(&root, &ImageListOptions::default())
        .unwrap()
        .is_empty());

    let (pulled, seen) = pull(&e, &target, None).unwrap();
    assert_eq!(pulled, id, "the image id survives push -> rmi -> pull");
    assert!(
        seen.iter()
            .any(|p| matches!(p, Progress::Message(m) if m == &format!("Digest: {pushed_digest}"))),
        "{seen:?}"
    );
    let list = e.image_list(&root, &ImageListOptions::default()).unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].id, id);
    assert!(
        list[0].repo_tags.iter().any(|t| t == &target),
        "{:?}",
        list[0].repo_tags
    );
    let inspect = e.image_inspect(&root, &target).unwrap();
    assert_eq!(inspect["Id"], id);
    let pull_events = events(&e, "pull");
    assert_eq!(pull_events.len(), 1);
    assert_eq!(pull_events[0].actor.id, target);
    assert_eq!(
        pull_events[0].actor.attributes.get("name"),
        Some(&format!("{}/demo/busybox", reg.host()))
    );

    // Pulling again is a no-op that says so.
    let (_, seen) = pull(&e, &target, None).unwrap();
    assert!(
        seen.iter().any(
            |p| matches!(p, Progress::Message(m) if m.starts_with("Status: Image is up to date"))
        ),
        "{seen:?}"
    );
    // And the image runs: its layers are unpacked.
    let resolved = e.resolve_image(&root, &target).unwrap();
    assert!(resolved
        .layer_dirs
        .iter()
        .any(|d| d.join("bin/busybox").exists()));
    assert!(
        leftovers(tmp.path()).is_empty(),
        "{:?}",
        leftovers(tmp.path())
    );
}

#[test]
fn pull_from_an_index_records_the_index_digest() {
    let reg = Registry::start(Auth::None);
    let tmp = tempfile::tempdir().unwrap();
    let mut layout = Layout::new(&tmp.path().join("layout"));
    let amd = layout.image(
        "amd64",
        &[
            vec![("etc/arch", b"amd64\n".to_vec())],
            vec![("data/x", noise(500_000, 3))],
        ],
    );
    let arm = layout.image("arm64", &[vec![("etc/arch", b"arm64\n".to_vec())]]);
    let index_digest = layout.tag_index(&[&amd, &arm], "multi");
    let target = format!("{}/multi/app:2", reg.host());
    layout.skopeo_push("multi", &target, None, true);

    let e = engine(&tmp.path().join("root"));
    let root = Caller::root();
    let (id, _) = pull(&e, &target, Some("linux/arm64")).unwrap();
    assert_eq!(id, arm.config_digest);
    let inspect = e.image_inspect(&root, &target).unwrap();
    assert_eq!(inspect["Architecture"], "arm64");
    let by_digest = format!("{}/multi/app@{index_digest}", reg.host());
    assert_eq!(
        e.resolve_image(&root, &by_digest).unwrap().id,
        id,
        "name@<index digest> finds the pulled image"
    );

    let (id2, _) = pull(&e, &target, Some("linux/amd64")).unwrap();
    assert_eq!(id2, amd.config_digest);
    assert_eq!(
        e.resolve_image(&root, &target).unwrap().id,
        id2,
        "the tag moved to the amd64 image"
    );
}

#[test]
fn login_logout_and_private_pull() {
    let reg = Registry::start(Auth::Htpasswd {
        user: "carol".into(),
        password: "c4r0l-pw".into(),
    });
    let tmp = tempfile::tempdir().unwrap();
    let mut layout = Layout::new(&tmp.path().join("layout"));
    let img = layout.image("amd64", &[vec![("hello", b"world".to_vec())]]);
    layout.tag_image(&img, "v1");
    let host = reg.host();
    let target = format!("{host}/private/app:v1");
    layout.skopeo_push("v1", &target, Some(("carol", "c4r0l-pw")), false);

    let e = engine(&tmp.path().join("root"));
    let carol = Caller {
        uid: 4242,
        gid: 4242,
        name: "carol".into(),
        role: wharf_engine::Role::admin(),
        project: None,
    };
    let other = Caller {
        uid: 4243,
        gid: 4243,
        name: "dave".into(),
        role: wharf_engine::Role::admin(),
        project: None,
    };

    let err = e
        .image_pull(&carol, &target, &PullOptions::default(), &mut |_| {})
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::PermissionDenied, "{err}");
    assert!(
        err.message.contains(&format!("wharf login {host}")),
        "{err}"
    );

    let err = e
        .registry_login(&carol, &host, "carol", "wrong")
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::PermissionDenied, "{err}");
    assert!(
        !tmp.path().join("root/auth/4242.json").exists(),
        "a refused login stores nothing"
    );

    e.registry_login(&carol, &format!("http://{host}/"), "carol", "c4r0l-pw")
        .unwrap();
    let file = tmp.path().join("root/auth/4242.json");
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(
        !std::fs::read_to_string(&file).unwrap().contains("c4r0l-pw"),
        "not stored in clear (base64 as Docker does)"
    );

    let id = e
        .image_pull(&carol, &target, &PullOptions::default(), &mut |_| {})
        .unwrap();
    assert_eq!(id, img.config_digest);
    // Another user does not get carol's login.
    e.image_remove(&carol, &target, false).unwrap();
    let err = e
        .image_pull(&other, &target, &PullOptions::default(), &mut |_| {})
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::PermissionDenied, "{err}");

    e.registry_logout(&carol, &host).unwrap();
    assert_eq!(
        e.registry_logout(&carol, &host).unwrap_err().kind,
        ErrorKind::NotFound
    );
    let err = e
        .image_pull(&carol, &target, &PullOptions::default(), &mut |_| {})
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::PermissionDenied, "{err}");
}

#[test]
fn damaged_layer_leaves_nothing_behind() {
    let reg = Registry::start(Auth::None);
    let tmp = tempfile::tempdir().unwrap();
    let mut layout = Layout::new(&tmp.path().join("layout"));
    let img = layout.image(
        "amd64",
        &[
            vec![("a", b"a".to_vec())],
            vec![("big", noise(2_000_000, 9))],
        ],
    );
    layout.tag_image(&img, "v1");
    let target = format!("{}/broken:v1", reg.host());
    layout.skopeo_push("v1", &target, None, false);
    let path = reg.blob_data(&img.layers[1]);
    let mut data = std::fs::read(&path).unwrap();
    let mid = data.len() / 2;
    data[mid] ^= 1;
    std::fs::write(&path, &data).unwrap();

    let root_dir = tmp.path().join("root");
    let e = engine(&root_dir);
    let err = pull(&e, &target, None).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Corrupt, "{err}");
    assert!(!root_dir
        .join("blobs/sha256")
        .join(&img.layers[1][7..])
        .exists());
    assert!(e
        .image_list(&Caller::root(), &ImageListOptions::default())
        .unwrap()
        .is_empty());
    assert!(
        leftovers(&root_dir).is_empty(),
        "{:?}",
        leftovers(&root_dir)
    );
    assert!(
        events(&e, "pull").is_empty(),
        "no pull event for a failed pull"
    );
}

#[test]
fn push_of_a_missing_image_says_what_to_do() {
    let reg = Registry::start(Auth::None);
    let tmp = tempfile::tempdir().unwrap();
    let e = engine(tmp.path());
    let err = e
        .image_push(
            &Caller::root(),
            &format!("{}/nothing:here", reg.host()),
            &PushOptions::default(),
            &mut |_| {},
        )
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
    assert!(err.message.contains("wharf tag"), "{err}");
}

#[test]
fn pull_and_login_through_the_engine_socket() {
    use std::sync::Arc;
    use wharf_engine::remote::client::{Endpoint, RemoteEngine};
    use wharf_engine::server;

    let reg = Registry::start(Auth::Htpasswd {
        user: "erin".into(),
        password: "3r1n-pw".into(),
    });
    let tmp = tempfile::tempdir().unwrap();
    let mut layout = Layout::new(&tmp.path().join("layout"));
    let img = layout.image("amd64", &[vec![("data/x", noise(1_500_000, 5))]]);
    layout.tag_image(&img, "v1");
    let host = reg.host();
    let target = format!("{host}/sock/app:v1");
    layout.skopeo_push("v1", &target, Some(("erin", "3r1n-pw")), false);

    let local = Arc::new(engine(&tmp.path().join("root")));
    let sock = tmp.path().join("wharf.sock");
    let listener = server::bind(&sock).unwrap();
    let e2 = local.clone();
    std::thread::spawn(move || server::serve(e2, listener));
    let remote = RemoteEngine::connect(Endpoint::Unix(sock)).unwrap();
    // The server knows the caller from the socket; what the client claims is ignored.
    let me = Caller::root();

    let err = remote
        .registry_login(&me, &host, "erin", "bad")
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::PermissionDenied, "{err}");
    remote
        .registry_login(&me, &host, "erin", "3r1n-pw")
        .unwrap();
    let mut seen = Vec::new();
    let id = remote
        .image_pull(&me, &target, &PullOptions::default(), &mut |p| seen.push(p))
        .unwrap();
    assert_eq!(id, img.config_digest);
    assert!(
        seen.iter()
            .any(|p| matches!(p, Progress::Layer { status, .. } if status == "Download complete")),
        "{seen:?}"
    );
    assert_eq!(
        local.resolve_image(&Caller::root(), &target).unwrap().id,
        id
    );
    remote.registry_logout(&me, &host).unwrap();
    assert_eq!(
        remote.registry_logout(&me, &host).unwrap_err().kind,
        ErrorKind::NotFound
    );
}

#[test]
fn docker_schema2_manifest_list() {
    let reg = Registry::start(Auth::None);
    let tmp = tempfile::tempdir().unwrap();
    let mut layout = Layout::new(&tmp.path().join("layout"));
    let amd = layout.image("amd64", &[vec![("etc/arch", b"amd64\n".to_vec())]]);
    let arm = layout.image("arm64", &[vec![("etc/arch", b"arm64\n".to_vec())]]);
    layout.tag_index(&[&amd, &arm], "multi");
    let target = format!("{}/docker/list:1", reg.host());
    layout.skopeo_push_with("multi", &target, None, true, &["--format", "v2s2"]);
    let raw: serde_json::Value = serde_json::from_slice(&skopeo_raw(&target, None)).unwrap();
    assert_eq!(
        raw["mediaType"], "application/vnd.docker.distribution.manifest.list.v2+json",
        "{raw}"
    );

    let e = engine(&tmp.path().join("root"));
    let (id, _) = pull(&e, &target, Some("linux/arm64/v8")).unwrap();
    assert_eq!(
        id, arm.config_digest,
        "the config is kept byte for byte by the conversion"
    );
    let resolved = e.resolve_image(&Caller::root(), &target).unwrap();
    let arch = std::fs::read_to_string(resolved.layer_dirs[0].join("etc/arch")).unwrap();
    assert_eq!(arch, "arm64\n");
    let (id, _) = pull(&e, &target, Some("linux/amd64")).unwrap();
    assert_eq!(id, amd.config_digest);
}

#[test]
fn push_of_a_loaded_image_rebuilds_its_plain_layers() {
    // An image loaded from a docker archive keeps no copy of its plain layer tars: push
    // rebuilds them from the unpacked files and their tar-splits, byte for byte.
    let reg = Registry::start(Auth::None);
    let root = Caller::root();
    let src = tempfile::tempdir().unwrap();
    let e = engine(src.path());
    let id = e.image_build_demo(&root, "wharf/demo:latest").unwrap();
    let mut archive = Vec::new();
    e.image_save(
        &root,
        &["wharf/demo:latest".to_string()],
        wharf_engine::api::SaveFormat::Docker,
        &mut archive,
    )
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let loaded = engine(tmp.path());
    loaded.image_load(&root, &mut &archive[..]).unwrap();
    let store = loaded.image_store();
    let m = store.image_manifest(&id).unwrap();
    for l in &m.layers {
        assert!(!store.blob_path(&l.blob).exists(), "no blob for {}", l.blob);
    }
    let target = format!("{}/loaded/demo:1", reg.host());
    loaded
        .image_tag(&root, "wharf/demo:latest", &target)
        .unwrap();
    loaded
        .image_push(&root, &target, &PushOptions::default(), &mut |_| {})
        .unwrap();
    for l in &m.layers {
        let data = std::fs::read(reg.blob_data(&l.blob)).unwrap();
        assert_eq!(
            (sha256(&data), data.len() as u64),
            (l.blob.clone(), l.blob_size)
        );
    }
    // A fresh store pulls the same image.
    let tmp2 = tempfile::tempdir().unwrap();
    let fresh = engine(tmp2.path());
    assert_eq!(pull(&fresh, &target, None).unwrap().0, id);
    // The loading store pulls another tag of it without downloading the layers.
    let second = format!("{}/loaded/demo:2", reg.host());
    fresh.image_tag(&root, &target, &second).unwrap();
    fresh
        .image_push(&root, &second, &PushOptions::default(), &mut |_| {})
        .unwrap();
    let (pulled, seen) = pull(&loaded, &second, None).unwrap();
    assert_eq!(pulled, id);
    assert!(
        seen.iter()
            .any(|p| matches!(p, Progress::Layer { status, .. } if status == "Already exists")),
        "{seen:?}"
    );
    assert!(leftovers(tmp.path()).is_empty());
}

/// Browsing with a token login: the caller's registries, the catalog page by page, tags,
/// a multi-platform manifest, deleting a tag; the registry's refusals as sentences; and
/// the permissions browsing (image.pull) and deleting (image.push) need.
#[test]
fn browse_a_registry_with_a_token_login() {
    use std::sync::Arc;
    use wharf_engine::api::{PageRequest, RegistryBrowseApi};
    use wharf_engine::policy::Policy;

    let ts = TokenServer::start("fran", "fr4n-pw");
    let reg = Registry::start(Auth::Token(ts.clone()));
    let host = reg.host();
    let creds = Some(("fran", "fr4n-pw"));
    let tmp = tempfile::tempdir().unwrap();
    let mut layout = Layout::new(&tmp.path().join("layout"));
    let amd = layout.image(
        "amd64",
        &[
            vec![("etc/arch", b"amd64\n".to_vec())],
            vec![("data/x", noise(300_000, 4))],
        ],
    );
    let arm = layout.image("arm64", &[vec![("etc/arch", b"arm64\n".to_vec())]]);
    layout.tag_index(&[&amd, &arm], "multi");
    layout.skopeo_push("multi", &format!("{host}/team/app:1"), creds, true);
    let v1 = layout.image("amd64", &[vec![("v", b"1".to_vec())]]);
    layout.tag_image(&v1, "v1");
    let v2 = layout.image("amd64", &[vec![("v", b"2".to_vec())]]);
    layout.tag_image(&v2, "v2");
    layout.skopeo_push("v1", &format!("{host}/team/tool:v1"), creds, false);
    layout.skopeo_push("v2", &format!("{host}/team/tool:v2"), creds, false);
    layout.skopeo_push("v1", &format!("{host}/public/base:1"), creds, false);

    let e = engine(&tmp.path().join("root"));
    let me = Caller {
        uid: 4300,
        gid: 4300,
        name: "fran".into(),
        role: wharf_engine::Role::admin(),
        project: None,
    };
    let page = PageRequest::default();

    // Anonymous: the catalog is refused with what to do; public tags are readable.
    let err = e.registry_catalog(&me, &host, &page).unwrap_err();
    assert_eq!(err.kind, ErrorKind::PermissionDenied, "{err}");
    assert!(
        err.message.contains(&format!("wharf login {host}")),
        "{err}"
    );
    let tags = e
        .registry_tags(&me, &format!("{host}/public/base"), &page)
        .unwrap();
    assert_eq!(tags.names, vec!["1"]);
    // Registries named by the configuration are offered before any login.
    let conf = tmp.path().join("registries.json");
    std::fs::write(&conf, r#"{"registries": ["registry.lab.example:5000"]}"#).unwrap();
    std::env::set_var("WHARF_REGISTRIES", &conf);
    let list = e.registry_list(&me).unwrap();
    assert!(
        list.iter()
            .any(|r| r.registry == "registry.lab.example:5000" && r.configured),
        "{list:?}"
    );

    e.registry_login(&me, &host, "fran", "fr4n-pw").unwrap();
    let list = e.registry_list(&me).unwrap();
    let mine = list.iter().find(|r| r.registry == host).unwrap();
    assert_eq!(mine.username.as_deref(), Some("fran"));
    assert!(mine.insecure, "loopback is reached over plain http");
    std::env::remove_var("WHARF_REGISTRIES");

    // The catalog, one name a page.
    let mut names = Vec::new();
    let mut last = None;
    for _ in 0..10 {
        let p = e
            .registry_catalog(
                &me,
                &host,
                &PageRequest {
                    n: Some(1),
                    last: last.clone(),
                },
            )
            .unwrap();
        assert!(p.names.len() <= 1, "{p:?}");
        names.extend(p.names);
        last = p.next;
        if last.is_none() {
            break;
        }
    }
    assert_eq!(names, vec!["public/base", "team/app", "team/tool"]);
    let tags = e
        .registry_tags(&me, &format!("{host}/team/tool"), &page)
        .unwrap();
    assert_eq!(tags.names, vec!["v1", "v2"]);
    assert_eq!(tags.of, format!("{host}/team/tool"));

    // A multi-platform tag: its platforms, and the image of the one asked.
    let m = e
        .registry_manifest(&me, &format!("{host}/team/app:1"), Some("linux/arm64"))
        .unwrap();
    let platforms: Vec<&str> = m.platforms.iter().map(|p| p.platform.as_str()).collect();
    assert_eq!(platforms, vec!["linux/amd64", "linux/arm64/v8"]);
    let img = m.image.unwrap();
    assert_eq!(img.config_digest, arm.config_digest);
    assert_eq!(img.layers.len(), 1);
    let m = e
        .registry_manifest(&me, &format!("{host}/team/app:1"), Some("linux/amd64"))
        .unwrap();
    let img = m.image.unwrap();
    assert_eq!(img.layers.len(), 2);
    assert_eq!(img.size, img.layers.iter().map(|l| l.size).sum::<u64>());
    assert_eq!(img.config.cmd, vec!["/bin/sh"]);
    assert_eq!(img.config.labels["test.arch"], "amd64");

    // Not there: plain sentences.
    let err = e
        .registry_manifest(&me, &format!("{host}/team/tool:nope"), None)
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
    let err = e
        .registry_tags(&me, &format!("{host}/team/nothing"), &page)
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
    assert!(err.message.contains("team/nothing"), "{err}");
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = e
        .registry_catalog(&me, &format!("127.0.0.1:{dead}"), &page)
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unavailable, "{err}");
    assert!(err.message.contains("connection refused"), "{err}");
    let err = e.registry_catalog(&me, "not a host", &page).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidArgument, "{err}");

    // Delete a tag: the other tag (another manifest) stays.
    let d = e
        .registry_delete(&me, &format!("{host}/team/tool:v1"))
        .unwrap();
    assert_eq!(d.digest, v1.manifest_digest);
    // (docker-registry 2.8 deletes by manifest: `tag_only` is false there.)
    let tags = e
        .registry_tags(&me, &format!("{host}/team/tool"), &page)
        .unwrap();
    assert_eq!(tags.names, vec!["v2"]);
    let err = e
        .registry_delete(&me, &format!("{host}/team/tool"))
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidArgument, "no tag named: {err}");

    // Permissions: browsing is a pull's, deleting a push's.
    let policy = Policy::parse(
        std::path::Path::new("policy.json"),
        r#"{"roles": {"puller": {"permissions": {"image": ["list", "pull"]}}},
            "users": {"nobody": {"role": "puller"}, "daemon": {"role": "viewer"}}}"#,
    )
    .unwrap();
    let pe = LocalEngine::open(
        tmp.path().join("root2"),
        EngineOptions {
            policy: Some(Arc::new(policy)),
            ..Default::default()
        },
    )
    .unwrap();
    let nobody = Caller {
        uid: 65534,
        gid: 65534,
        name: "nobody".into(),
        role: wharf_engine::Role("puller".into()),
        project: None,
    };
    let daemon = Caller {
        uid: 1,
        gid: 1,
        name: "daemon".into(),
        role: wharf_engine::Role("viewer".into()),
        project: None,
    };
    assert_eq!(
        pe.registry_tags(&nobody, &format!("{host}/public/base"), &page)
            .unwrap()
            .names,
        vec!["1"]
    );
    let err = pe
        .registry_delete(&nobody, &format!("{host}/public/base:1"))
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::PermissionDenied, "{err}");
    assert!(err.message.contains("image.push"), "{err}");
    let err = pe
        .registry_tags(&daemon, &format!("{host}/public/base"), &page)
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::PermissionDenied, "{err}");
    stop_token_server(&ts);
}
