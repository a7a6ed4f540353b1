//! `--volumes-from CTR[:ro|rw]` in the engine, with real containers: the lender's
//! volumes and bind mounts come along (not its tmpfs), read-only where they were or
//! with `:ro`; an explicit mount wins a target; the volumes are in use by the borrower.
//! Created through the engine's API (the same call every front end makes), started
//! with the real binary.

mod containers_support;

use containers_support::Wharf;
use wharf_engine::api::{ContainerApi, ContainerCreate, MountSpec};
use wharf_engine::{Caller, EngineOptions, ErrorKind, LocalEngine};

fn borrower(name: &str, from: &[&str], mounts: Vec<MountSpec>, script: &str) -> ContainerCreate {
    ContainerCreate {
        name: Some(name.into()),
        image: "wharf/demo".into(),
        cmd: Some(vec!["sh".into(), "-c".into(), script.into()]),
        network: Some("none".into()),
        volumes_from: from.iter().map(|s| s.to_string()).collect(),
        mounts,
        ..Default::default()
    }
}

#[test]
fn volumes_from_lends_volumes_and_binds() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root (runs containers)");
        return;
    }
    let w = Wharf::new();
    let engine = LocalEngine::open(
        w.root(),
        EngineOptions {
            wharf_exe: Some(Wharf::exe().into()),
            ..Default::default()
        },
    )
    .unwrap();
    let me = Caller::root();
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("f"), "from-the-bind\n").unwrap();
    let bind = host.path().display().to_string();
    w.ok(&[
        "create",
        "--name",
        "lender",
        "--network",
        "none",
        "-v",
        "vfvol:/vol",
        "-v",
        "vfro:/rov:ro",
        "-v",
        &format!("{bind}:/bind"),
        "--tmpfs",
        "/scratch",
        "wharf/demo",
        "true",
    ]);

    // Everything but the tmpfs comes along, with the lender's read-only-ness.
    let script = "echo hi > /vol/x && echo vol-rw; cat /bind/f; \
                  touch /rov/x 2>/dev/null && echo rov-rw || echo rov-ro; \
                  grep -q ' /scratch ' /proc/mounts && echo scratch || echo no-scratch";
    engine
        .container_create(&me, &borrower("b1", &["lender"], vec![], script))
        .unwrap();
    let out = w.ok(&["start", "-a", "b1"]);
    assert_eq!(out, "vol-rw\nfrom-the-bind\nrov-ro\nno-scratch\n");
    let data = w.root().join("volumes/vfvol/_data/x");
    assert_eq!(
        std::fs::read_to_string(&data).unwrap(),
        "hi\n",
        "the same volume"
    );

    // `:ro` makes everything read-only; an explicit mount wins its target.
    let script = "touch /vol/y 2>/dev/null && echo vol-rw || echo vol-ro; \
                  ls /bind; echo end";
    let explicit = MountSpec {
        kind: "volume".into(),
        source: "mine".into(),
        target: "/bind".into(),
        read_only: false,
        options: vec![],
    };
    engine
        .container_create(&me, &borrower("b2", &["lender:ro"], vec![explicit], script))
        .unwrap();
    assert_eq!(w.ok(&["start", "-a", "b2"]), "vol-ro\nend\n");
    let mounts = w.inspect("b2")["Mounts"].clone();
    let names: Vec<(&str, &str, bool)> = mounts
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["Destination"].as_str().unwrap(),
                m["Type"].as_str().unwrap(),
                m["RW"].as_bool().unwrap(),
            )
        })
        .collect();
    assert!(names.contains(&("/bind", "volume", true)), "{names:?}");
    assert!(names.contains(&("/vol", "volume", false)), "{names:?}");
    assert!(names.contains(&("/rov", "volume", false)), "{names:?}");
    assert!(!names.iter().any(|(d, _, _)| *d == "/scratch"), "{names:?}");

    // The borrowers use the lender's volumes.
    w.ok(&["rm", "lender"]);
    let o = w.run(&["volume", "rm", "vfvol"]);
    assert!(
        !o.status.success() && String::from_utf8_lossy(&o.stderr).contains("in use"),
        "{o:?}"
    );

    // Unknown containers and modes are refused by name; nothing is created.
    let e = engine
        .container_create(&me, &borrower("b3", &["nobody-here"], vec![], "true"))
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound, "{e}");
    let e = engine
        .container_create(&me, &borrower("b3", &["b1:rx"], vec![], "true"))
        .unwrap_err();
    assert!(e.message.contains("CONTAINER[:ro|rw]"), "{e}");
    assert!(w.run(&["inspect", "b3"]).status.code() != Some(0));
}
