//! Registry protocol tests against a real `docker-registry` on 127.0.0.1: pulls (plain,
//! index with platform choice, Basic auth, Bearer tokens), pushes, and refusal of
//! damaged blobs. Images are built here as OCI layouts and copied in with skopeo.

mod registry_support;

use std::collections::HashMap;
use std::io::Read;
use std::sync::Mutex;

use registry_support::*;
use wharf_engine::api::Progress;
use wharf_engine::image::registry::auth::Credentials;
use wharf_engine::image::registry::client::{RegistryClient, Security};
use wharf_engine::image::registry::manifest::Platform;
use wharf_engine::image::registry::transfer::{self, BlobSink, BlobSource, PushImage};
use wharf_engine::image::Reference;
use wharf_engine::{EngineError, ErrorKind, Result};

/// Blobs kept in memory by digest, verified on the way in: a sink/source for the
/// protocol tests (the engine tests use the real image store).
#[derive(Default)]
struct MemBlobs(Mutex<HashMap<String, Vec<u8>>>);

impl BlobSink for MemBlobs {
    fn has_blob(&self, digest: &str) -> bool {
        self.0.lock().unwrap().contains_key(digest)
    }
    fn put_blob(&self, r: &mut dyn Read, digest: &str) -> Result<u64> {
        let mut v = Vec::new();
        r.read_to_end(&mut v)
            .map_err(|e| EngineError::io("reading blob", e))?;
        assert_eq!(
            sha256(&v),
            digest,
            "the verifying reader let a wrong blob through"
        );
        let n = v.len() as u64;
        self.0.lock().unwrap().insert(digest.to_string(), v);
        Ok(n)
    }
}

impl BlobSource for MemBlobs {
    fn open_blob(&self, digest: &str) -> Result<Box<dyn Read + Send>> {
        let v = self
            .0
            .lock()
            .unwrap()
            .get(digest)
            .cloned()
            .ok_or_else(|| EngineError::not_found("blob", digest, ""))?;
        Ok(Box::new(std::io::Cursor::new(v)))
    }
}

fn client(host: &str, creds: Option<(&str, &str)>) -> Result<RegistryClient> {
    let creds = creds.map(|(u, p)| Credentials {
        username: u.into(),
        password: p.into(),
    });
    RegistryClient::connect(host, host, creds, &Security::default())
}

fn pull(
    c: &RegistryClient,
    r: &str,
    platform: Option<&str>,
    sink: &MemBlobs,
) -> Result<(transfer::PulledImage, Vec<Progress>)> {
    let rref = Reference::parse_remote(r)?;
    let platform = platform.map(Platform::parse).transpose()?;
    let mut seen = Vec::new();
    let p = transfer::pull(c, &rref, platform.as_ref(), sink, 3, &mut |p| seen.push(p))?;
    Ok((p, seen))
}

/// A layout with a three-layer amd64 image (one ~3 MB layer) and an arm64 one, the
/// first tagged `v1`, both under the index tag `multi`.
fn fixture(dir: &std::path::Path) -> (Layout, TestImage, TestImage) {
    let mut layout = Layout::new(dir);
    let amd = layout.image(
        "amd64",
        &[
            vec![("etc/hostname", b"wharf\n".to_vec())],
            vec![("data/big.bin", noise(3_000_000, 1))],
            vec![("data/small.txt", b"hello".to_vec())],
        ],
    );
    let arm = layout.image("arm64", &[vec![("etc/hostname", b"wharf-arm\n".to_vec())]]);
    layout.tag_image(&amd, "v1");
    layout.tag_index(&[&amd, &arm], "multi");
    (layout, amd, arm)
}

#[test]
fn pull_from_plain_loopback_registry() {
    let reg = Registry::start(Auth::None);
    let tmp = tempfile::tempdir().unwrap();
    let (layout, amd, _) = fixture(tmp.path());
    let host = reg.host();
    layout.skopeo_push("v1", &format!("{host}/team/app:v1"), None, false);

    let c = client(&host, None).unwrap();
    assert!(
        c.base_url().starts_with("http://127.0.0.1:"),
        "loopback registry reached over {}",
        c.base_url()
    );
    let sink = MemBlobs::default();
    let (img, seen) = pull(&c, &format!("{host}/team/app:v1"), None, &sink).unwrap();
    assert_eq!(
        img.manifest_digest,
        sha256(&skopeo_raw(&format!("{host}/team/app:v1"), None))
    );
    assert_eq!(img.config, amd.config);
    assert_eq!(
        img.layers
            .iter()
            .map(|l| l.digest.clone())
            .collect::<Vec<_>>(),
        amd.layers
    );
    for l in &amd.layers {
        assert!(sink.has_blob(l), "layer {l} stored");
    }
    let complete = seen
        .iter()
        .filter(|p| matches!(p, Progress::Layer { status, .. } if status == "Download complete"))
        .count();
    assert_eq!(complete, 3);
    let progressed = seen.iter().any(|p| matches!(p, Progress::Layer { status, current, total: Some(t), .. } if status == "Downloading" && *current > 0 && current < t));
    assert!(
        progressed,
        "the big layer reports progress while downloading: {seen:?}"
    );

    // A second pull downloads nothing.
    let (again, seen) = pull(&c, &format!("{host}/team/app:v1"), None, &sink).unwrap();
    assert_eq!(again.downloaded, 0);
    assert_eq!(
        seen.iter()
            .filter(|p| matches!(p, Progress::Layer { status, .. } if status == "Already exists"))
            .count(),
        3
    );

    // By digest.
    let (by_digest, _) = pull(
        &c,
        &format!("{host}/team/app@{}", img.manifest_digest),
        None,
        &MemBlobs::default(),
    )
    .unwrap();
    assert_eq!(by_digest.manifest, img.manifest);

    // Unknown tag and repository.
    let e = pull(&c, &format!("{host}/team/app:nope"), None, &sink).unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound, "{e}");
    assert!(e.message.contains("app:nope"), "{e}");
    let e = pull(&c, &format!("{host}/team/none:v1"), None, &sink).unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound, "{e}");
}

#[test]
fn index_picks_the_platform() {
    let reg = Registry::start(Auth::None);
    let tmp = tempfile::tempdir().unwrap();
    let (layout, amd, arm) = fixture(tmp.path());
    let host = reg.host();
    layout.skopeo_push("multi", &format!("{host}/multi:1"), None, true);
    let c = client(&host, None).unwrap();
    let index_digest = sha256(&skopeo_raw(&format!("{host}/multi:1"), None));

    let (a, _) = pull(
        &c,
        &format!("{host}/multi:1"),
        Some("linux/arm64"),
        &MemBlobs::default(),
    )
    .unwrap();
    assert_eq!(a.config, arm.config);
    assert_eq!(a.resolved_digest, index_digest);
    assert_eq!(a.manifest_digest, arm.manifest_digest);
    assert_eq!(
        a.platform.as_ref().map(|p| p.to_string()).as_deref(),
        Some("linux/arm64/v8")
    );

    let (x, _) = pull(
        &c,
        &format!("{host}/multi:1"),
        Some("linux/amd64"),
        &MemBlobs::default(),
    )
    .unwrap();
    assert_eq!(x.config, amd.config);
    if Platform::host().architecture == "amd64" {
        let (h, _) = pull(&c, &format!("{host}/multi:1"), None, &MemBlobs::default()).unwrap();
        assert_eq!(
            h.manifest_digest, amd.manifest_digest,
            "the host's platform by default"
        );
    }
    let e = pull(
        &c,
        &format!("{host}/multi:1"),
        Some("linux/riscv64"),
        &MemBlobs::default(),
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
    assert!(
        e.message.contains("linux/amd64") && e.message.contains("linux/arm64/v8"),
        "{e}"
    );
}

#[test]
fn basic_auth_registry() {
    let reg = Registry::start(Auth::Htpasswd {
        user: "alice".into(),
        password: "wonder-land".into(),
    });
    let tmp = tempfile::tempdir().unwrap();
    let (layout, amd, _) = fixture(tmp.path());
    let host = reg.host();
    layout.skopeo_push(
        "v1",
        &format!("{host}/private:v1"),
        Some(("alice", "wonder-land")),
        false,
    );

    let anon = client(&host, None).unwrap();
    let e = pull(
        &anon,
        &format!("{host}/private:v1"),
        None,
        &MemBlobs::default(),
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::PermissionDenied, "{e}");
    assert!(e.message.contains("wharf login"), "{e}");

    let wrong = client(&host, Some(("alice", "nope"))).unwrap();
    let e = wrong.check_login().unwrap_err();
    assert_eq!(e.kind, ErrorKind::PermissionDenied, "{e}");

    let ok = client(&host, Some(("alice", "wonder-land"))).unwrap();
    ok.check_login().unwrap();
    let (img, _) = pull(
        &ok,
        &format!("{host}/private:v1"),
        None,
        &MemBlobs::default(),
    )
    .unwrap();
    assert_eq!(img.config, amd.config);
}

#[test]
fn bearer_token_registry() {
    let ts = TokenServer::start("bob", "builder-pw");
    let reg = Registry::start(Auth::Token(ts.clone()));
    let tmp = tempfile::tempdir().unwrap();
    let (layout, amd, _) = fixture(tmp.path());
    let host = reg.host();
    layout.skopeo_push(
        "v1",
        &format!("{host}/tokened/app:v1"),
        Some(("bob", "builder-pw")),
        false,
    );

    // Anonymous: the token server grants nothing, the registry refuses.
    let anon = client(&host, None).unwrap();
    let e = pull(
        &anon,
        &format!("{host}/tokened/app:v1"),
        None,
        &MemBlobs::default(),
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::PermissionDenied, "{e}");

    // Anonymous pull of a public repository works with an anonymous token; pushing
    // there anonymously does not.
    layout.skopeo_push(
        "v1",
        &format!("{host}/public/app:v1"),
        Some(("bob", "builder-pw")),
        false,
    );
    let (img, _) = pull(
        &anon,
        &format!("{host}/public/app:v1"),
        None,
        &MemBlobs::default(),
    )
    .unwrap();
    assert_eq!(img.config, amd.config);
    let sink = MemBlobs::default();
    let (src, _) = pull(&anon, &format!("{host}/public/app:v1"), None, &sink).unwrap();
    sink.put_blob(&mut &src.config[..], &src.config_digest)
        .unwrap();
    let image = PushImage {
        manifest: src.manifest.clone(),
        media_type: src.manifest_media_type.clone(),
        mount_from: vec![],
    };
    let dest = Reference::parse_remote(&format!("{host}/public/app:v2")).unwrap();
    let e = transfer::push(&anon, &dest, &image, &sink, 5, &mut |_| {}).unwrap_err();
    assert_eq!(e.kind, ErrorKind::PermissionDenied, "{e}");

    let wrong = client(&host, Some(("bob", "nope"))).unwrap();
    assert_eq!(
        wrong.check_login().unwrap_err().kind,
        ErrorKind::PermissionDenied
    );

    let ok = client(&host, Some(("bob", "builder-pw"))).unwrap();
    ok.check_login().unwrap();
    let (img, _) = pull(
        &ok,
        &format!("{host}/tokened/app:v1"),
        None,
        &MemBlobs::default(),
    )
    .unwrap();
    assert_eq!(img.config, amd.config);
    let reqs = ts.requests.lock().unwrap().clone();
    assert!(
        reqs.iter().any(|(acct, scopes, authed)| *authed
            && acct.as_deref() == Some("bob")
            && scopes == &vec!["repository:tokened/app:pull".to_string()]),
        "a pull token was asked for the repository's pull scope: {reqs:?}"
    );

    // Push through tokens too (pull,push scope).
    let sink = MemBlobs::default();
    let (src, _) = pull(&ok, &format!("{host}/tokened/app:v1"), None, &sink).unwrap();
    sink.put_blob(&mut &src.config[..], &src.config_digest)
        .unwrap();
    let image = PushImage {
        manifest: src.manifest.clone(),
        media_type: src.manifest_media_type.clone(),
        mount_from: vec!["tokened/app".into()],
    };
    let dest = Reference::parse_remote(&format!("{host}/tokened/copy:v2")).unwrap();
    let mut seen = Vec::new();
    let d = transfer::push(&ok, &dest, &image, &sink, 5, &mut |p| seen.push(p)).unwrap();
    assert_eq!(d, src.manifest_digest);
    let mounted = seen
        .iter()
        .filter(
            |p| matches!(p, Progress::Layer { status, .. } if status == "Mounted from tokened/app"),
        )
        .count();
    assert_eq!(
        mounted, 3,
        "every layer mounted across repositories, none uploaded: {seen:?}"
    );
    assert!(
        ts.requests.lock().unwrap().iter().any(|(_, s, _)| s
            == &vec![
                "repository:tokened/copy:pull,push".to_string(),
                "repository:tokened/app:pull".to_string()
            ]),
        "one token for both repositories"
    );
    assert_eq!(
        skopeo_raw(
            &format!("{host}/tokened/copy:v2"),
            Some(("bob", "builder-pw"))
        ),
        src.manifest
    );
    assert!(ts
        .requests
        .lock()
        .unwrap()
        .iter()
        .any(|(_, s, _)| s.iter().any(|s| s == "repository:tokened/copy:pull,push")));
    stop_token_server(&ts);
}

#[test]
fn push_then_pull_back() {
    let reg = Registry::start(Auth::None);
    let tmp = tempfile::tempdir().unwrap();
    let (layout, amd, _) = fixture(tmp.path());
    let host = reg.host();
    let c = client(&host, None).unwrap();
    // The source: the layout's blobs.
    let src = MemBlobs::default();
    for d in amd.layers.iter().chain([&amd.config_digest]) {
        let data = std::fs::read(layout.dir.join("blobs/sha256").join(&d[7..])).unwrap();
        src.put_blob(&mut &data[..], d).unwrap();
    }
    let image = PushImage {
        manifest: amd.manifest.clone(),
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        mount_from: vec![],
    };
    let dest = Reference::parse_remote(&format!("{host}/pushed/app:v1")).unwrap();
    let mut seen = Vec::new();
    let digest = transfer::push(&c, &dest, &image, &src, 5, &mut |p| seen.push(p)).unwrap();
    assert_eq!(digest, amd.manifest_digest);
    assert_eq!(
        seen.iter()
            .filter(|p| matches!(p, Progress::Layer { status, .. } if status == "Pushed"))
            .count(),
        3
    );
    assert_eq!(
        skopeo_raw(&format!("{host}/pushed/app:v1"), None),
        amd.manifest,
        "skopeo reads what wharf pushed"
    );

    // Again: every layer is already there.
    let mut seen = Vec::new();
    transfer::push(&c, &dest, &image, &src, 5, &mut |p| seen.push(p)).unwrap();
    assert_eq!(
        seen.iter()
            .filter(
                |p| matches!(p, Progress::Layer { status, .. } if status == "Layer already exists")
            )
            .count(),
        3
    );

    let (back, _) = pull(
        &c,
        &format!("{host}/pushed/app:v1"),
        None,
        &MemBlobs::default(),
    )
    .unwrap();
    assert_eq!(back.config, amd.config);

    // A damaged local blob is refused by wharf before the registry stores it.
    let bad = MemBlobs::default();
    for (d, v) in src.0.lock().unwrap().iter() {
        let mut v = v.clone();
        if d == &amd.layers[1] {
            v[100] ^= 0xff;
        }
        bad.0.lock().unwrap().insert(d.clone(), v);
    }
    let dest2 = Reference::parse_remote(&format!("{host}/pushed/bad:v1")).unwrap();
    let e = transfer::push(&c, &dest2, &image, &bad, 5, &mut |_| {}).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Corrupt, "{e}");
    let c2 = client(&host, None).unwrap();
    let e = pull(
        &c2,
        &format!("{host}/pushed/bad:v1"),
        None,
        &MemBlobs::default(),
    )
    .unwrap_err();
    assert_eq!(
        e.kind,
        ErrorKind::NotFound,
        "no manifest was pushed after the failure: {e}"
    );
}

#[test]
fn damaged_blob_in_registry_is_refused() {
    let reg = Registry::start(Auth::None);
    let tmp = tempfile::tempdir().unwrap();
    let (layout, amd, _) = fixture(tmp.path());
    let host = reg.host();
    layout.skopeo_push("v1", &format!("{host}/damaged:v1"), None, false);
    // Flip one byte of the big layer in the registry's own storage.
    let path = reg.blob_data(&amd.layers[1]);
    let mut data = std::fs::read(&path).unwrap();
    data[1000] ^= 0x55;
    std::fs::write(&path, &data).unwrap();

    let c = client(&host, None).unwrap();
    let sink = MemBlobs::default();
    let e = pull(&c, &format!("{host}/damaged:v1"), None, &sink).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Corrupt, "{e}");
    assert!(
        e.message.contains(&amd.layers[1]) && e.message.contains("does not match its digest"),
        "{e}"
    );
    assert!(
        !sink.has_blob(&amd.layers[1]),
        "nothing stored for the damaged layer"
    );
}

#[test]
fn cut_downloads_are_retried_damage_is_not() {
    let reg = Registry::start(Auth::None);
    let tmp = tempfile::tempdir().unwrap();
    let (layout, amd, _) = fixture(tmp.path());
    layout.skopeo_push("v1", &format!("{}/flaky:v1", reg.host()), None, false);

    // Cut once: the layer is fetched again and the pull succeeds.
    let front = FlakyFront::start(reg.port, &amd.layers[1], 1);
    let host = format!("127.0.0.1:{}", front.port);
    let c = client(&host, None).unwrap();
    let sink = MemBlobs::default();
    let (img, seen) = pull(&c, &format!("{host}/flaky:v1"), None, &sink).unwrap();
    assert_eq!(img.config, amd.config);
    assert_eq!(front.cut.load(std::sync::atomic::Ordering::Relaxed), 1);
    assert!(
        seen.iter().any(
            |p| matches!(p, Progress::Layer { status, .. } if status.starts_with("Retrying in"))
        ),
        "{seen:?}"
    );
    assert!(sink.has_blob(&amd.layers[1]));

    // Cut every time: it gives up after the last attempt, with nothing stored.
    let front = FlakyFront::start(reg.port, &amd.layers[1], usize::MAX);
    let host = format!("127.0.0.1:{}", front.port);
    let c = client(&host, None).unwrap();
    let sink = MemBlobs::default();
    let e = pull(&c, &format!("{host}/flaky:v1"), None, &sink).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unavailable, "{e}");
    assert_eq!(
        front.cut.load(std::sync::atomic::Ordering::Relaxed),
        transfer::DOWNLOAD_ATTEMPTS as usize
    );
    assert!(!sink.has_blob(&amd.layers[1]));
}
