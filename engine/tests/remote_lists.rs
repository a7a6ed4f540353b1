//! Listings over the socket come from the server's kept answers, most of them straight
//! from the connection's worker: yet a change by another process, or an edit of the
//! policy, shows in the very next listing.

use std::sync::Arc;

use wharf_engine::api::{ContainerApi, ContainerCreate, ContainerListOptions, ImageApi};
use wharf_engine::caller::Role;
use wharf_engine::policy::Policy;
use wharf_engine::remote::client::{Endpoint, RemoteEngine};
use wharf_engine::server::{self, timings::Timings};
use wharf_engine::{Caller, EngineOptions, LocalEngine};

struct Served {
    dir: tempfile::TempDir,
    /// The server's engine.
    engine: Arc<LocalEngine>,
    /// Another process on the same state root.
    other: LocalEngine,
    client: RemoteEngine,
    timings: Arc<Timings>,
}

/// A server on a fresh state root with the demo image; `None` without busybox.
fn serve(policy: Option<&str>) -> Option<Served> {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let other = LocalEngine::open(&root, EngineOptions::default()).unwrap();
    if other
        .image_build_demo(&Caller::root(), "wharf/demo")
        .is_err()
    {
        eprintln!("skipped: no /bin/busybox to build the demo image");
        return None;
    }
    let opts = EngineOptions {
        policy: policy
            .map(|p| Arc::new(Policy::parse(&dir.path().join("policy.json"), p).unwrap())),
        ..Default::default()
    };
    let engine = Arc::new(LocalEngine::open(&root, opts).unwrap());
    let sock = dir.path().join("wharf.sock");
    let listener = server::bind(&sock).unwrap();
    let (e2, timings) = (engine.clone(), Arc::new(Timings::default()));
    let t2 = timings.clone();
    std::thread::spawn(move || server::serve_timed(e2, listener, Default::default(), t2));
    let client = RemoteEngine::connect(Endpoint::Unix(sock)).unwrap();
    Some(Served {
        dir,
        engine,
        other,
        client,
        timings,
    })
}

fn create(e: &LocalEngine, caller: &Caller, name: &str) {
    let spec = ContainerCreate {
        name: Some(name.into()),
        image: "wharf/demo".into(),
        cmd: Some(vec!["true".into()]),
        network: Some("none".into()),
        ..Default::default()
    };
    e.container_create(caller, &spec).unwrap();
}

fn names(client: &RemoteEngine) -> Vec<String> {
    let all = ContainerListOptions {
        all: true,
        ..Default::default()
    };
    let mut v: Vec<String> = client
        .container_list(&Caller::root(), &all)
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    v.sort();
    v
}

#[test]
fn a_change_by_another_process_shows_in_the_next_listing() {
    let Some(s) = serve(None) else { return };
    let root = Caller::root();
    let mut want: Vec<String> = Vec::new();
    for i in 0..6 {
        // Asked again and again while nothing changes: the kept answer.
        for _ in 0..5 {
            assert_eq!(names(&s.client), want);
        }
        let name = format!("c{i}");
        create(&s.other, &root, &name);
        want.push(name);
        assert_eq!(names(&s.client), want, "right after creating c{i}");
    }
    s.other.container_rename(&root, "c0", "z0").unwrap();
    want.remove(0);
    want.push("z0".into());
    assert_eq!(names(&s.client), want, "right after the rename");
    s.other
        .container_remove(&root, "c1", Default::default())
        .unwrap();
    want.retain(|n| n != "c1");
    assert_eq!(names(&s.client), want, "right after the removal");
    for _ in 0..5 {
        assert_eq!(names(&s.client), want);
    }
    assert!(
        s.timings.quick() > 0,
        "no listing was answered from the kept answer by the worker"
    );
    drop(s.dir);
}

#[test]
fn a_policy_edit_shows_in_the_next_listing_on_a_kept_connection() {
    let policy = |scope: &str| {
        format!(
            r#"{{"roles": {{"watcher": {{"inherits": "viewer", "scope": "{scope}"}}}},
                "users": {{"root": {{"role": "watcher"}}}}}}"#
        )
    };
    let Some(s) = serve(Some(&policy("all"))) else {
        return;
    };
    // Someone else's container: root, a watcher, sees it while the scope is all.
    let alice = Caller {
        uid: 4242,
        gid: 4242,
        name: "alice".into(),
        role: Role::admin(),
        project: None,
    };
    create(&s.other, &alice, "alices");
    for _ in 0..10 {
        assert_eq!(names(&s.client), ["alices"]);
    }
    // Under a policy too, once the connection's right to list was checked.
    assert!(s.timings.quick() > 0, "no listing came from the worker");
    let own = Policy::parse(&s.dir.path().join("policy.json"), &policy("own")).unwrap();
    s.engine.gate().replace_policy(Arc::new(own)).unwrap();
    for _ in 0..5 {
        assert!(
            names(&s.client).is_empty(),
            "the listing still shows alice's container after the role became own-scoped"
        );
    }
}

#[test]
fn listings_racing_changes_are_never_stale() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let Some(s) = serve(None) else { return };
    let (done, stop) = (AtomicUsize::new(0), AtomicBool::new(false));
    std::thread::scope(|scope| {
        for _ in 0..3 {
            scope.spawn(|| {
                // A client each: one client's kept rows are its own business.
                let client = RemoteEngine::connect(s.client.endpoint().clone()).unwrap();
                while !stop.load(Ordering::SeqCst) {
                    // Every container created before the listing began is in it.
                    let before = done.load(Ordering::SeqCst);
                    let n = names(&client).len();
                    assert!(n >= before, "{n} listed after {before} were created");
                }
            });
        }
        for i in 0..30 {
            create(&s.other, &Caller::root(), &format!("r{i}"));
            done.store(i + 1, Ordering::SeqCst);
        }
        stop.store(true, Ordering::SeqCst);
    });
    assert_eq!(names(&s.client).len(), 30);
    assert!(s.timings.quick() > 0, "no listing came from the worker");
}

/// `ancestor=` names an image: a tag made by another process, which changes no
/// container, shows in the very next listing (such listings are not kept).
#[test]
fn ancestor_listings_follow_a_new_tag() {
    let Some(s) = serve(None) else { return };
    let root = Caller::root();
    create(&s.other, &root, "child");
    let by_tag = ContainerListOptions {
        all: true,
        filters: vec![("ancestor".into(), "renamed/demo:v1".into())],
        ..Default::default()
    };
    let count = || s.client.container_list(&root, &by_tag).unwrap().len();
    assert_eq!(count(), 0, "no image has that name yet");
    assert_eq!(count(), 0);
    s.other
        .image_tag(&root, "wharf/demo", "renamed/demo:v1")
        .unwrap();
    assert_eq!(count(), 1, "the new tag names the container's image");
    drop(s.dir);
}
