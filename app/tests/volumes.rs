//! Volumes with real containers: copy-up of image content, in-use refusal, anonymous
//! volumes removed with `rm -v`, read-only volume mounts.

mod containers_support;

use containers_support::Wharf;

#[test]
fn volumes_with_real_containers() {
    let w = Wharf::new();
    // An empty named volume mounted over image content gets that content copied in.
    let out = w.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        "etcvol:/etc",
        "wharf/demo",
        "cat",
        "/etc/passwd",
    ]);
    assert!(out.contains("root:x:0:0"), "{out}");
    let vol = w.ok(&["volume", "inspect", "etcvol"]);
    let v: serde_json::Value = serde_json::from_str(&vol).unwrap();
    let mountpoint = v[0]["Mountpoint"].as_str().unwrap().to_string();
    assert!(
        std::path::Path::new(&mountpoint).join("passwd").exists(),
        "copied into {mountpoint}"
    );

    // In use: refused while a container (even a stopped one) has it; free after rm.
    w.ok(&[
        "create",
        "--name",
        "holder",
        "--network",
        "none",
        "-v",
        "etcvol:/etc",
        "wharf/demo",
        "true",
    ]);
    let o = w.run(&["volume", "rm", "etcvol"]);
    assert!(
        !o.status.success() && String::from_utf8_lossy(&o.stderr).contains("in use"),
        "{o:?}"
    );
    w.ok(&["rm", "holder"]);
    w.ok(&["volume", "rm", "etcvol"]);

    // A read-only volume mount refuses writes.
    let out = w.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        "data:/data:ro",
        "wharf/demo",
        "sh",
        "-c",
        "touch /data/x 2>/dev/null && echo wrote || echo refused",
    ]);
    assert_eq!(out.trim(), "refused");

    // Anonymous volumes (-v /path) go with `rm -v`.
    w.ok(&[
        "run",
        "--name",
        "anon",
        "--network",
        "none",
        "-v",
        "/scratch",
        "wharf/demo",
        "sh",
        "-c",
        "echo x > /scratch/f",
    ]);
    let before = w.ok(&["volume", "ls", "-q"]);
    assert_eq!(
        before.lines().filter(|l| l.len() == 64).count(),
        1,
        "{before}"
    );
    w.ok(&["rm", "-v", "anon"]);
    let after = w.ok(&["volume", "ls", "-q"]);
    assert_eq!(
        after.lines().filter(|l| l.len() == 64).count(),
        0,
        "{after}"
    );
}

/// Issue 15: docker copies the image's content into a named volume whenever the volume
/// is empty, not only at its first mount (a course empties a volume and mounts it again).
#[test]
fn an_emptied_volume_is_filled_from_the_image_again() {
    let w = Wharf::new();
    let run = |cmd: &str| {
        w.ok(&[
            "run",
            "--rm",
            "--network",
            "none",
            "-v",
            "site:/www",
            "wharf/demo",
            "sh",
            "-c",
            cmd,
        ])
    };
    assert!(
        run("ls /www").contains("index.html"),
        "first mount fills it"
    );
    // Emptied by a container; the next mount finds it empty and fills it again.
    run("rm -f /www/* && ls -A /www | wc -l");
    assert!(
        run("ls /www").contains("index.html"),
        "an empty volume gets the image's content again"
    );
    // A volume with content is left as it is.
    run("rm -f /www/* && echo mine > /www/own");
    let ls = run("ls /www");
    assert!(ls.contains("own") && !ls.contains("index.html"), "{ls}");
}
