//! End to end: the console's build pane, with the real `wharf` binary in tmux on a
//! temporary state root. `:build DIR -t built:1` builds a 3-step Dockerfile from the
//! demo image, the pane shows each step and its output, the image is then listed on the
//! images pane; `b` on the images pane asks for the directory and the tag; `c` cancels
//! a build whose RUN sleeps, and no container is left behind. Needs root (RUN steps
//! are containers) and tmux; each test uses its own tmux server and kills only it.

use std::time::{Duration, Instant};

mod console_support;

use console_support::*;

/// A fresh root with the demo image, and a directory holding `ctx/Dockerfile`.
fn setup(dockerfile: &str) -> (tempfile::TempDir, tempfile::TempDir) {
    let root = tempfile::tempdir().unwrap();
    wharf_ok(root.path(), &["image", "demo"]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("ctx")).unwrap();
    std::fs::write(dir.path().join("ctx/Dockerfile"), dockerfile).unwrap();
    (root, dir)
}

#[test]
fn build_from_the_prompt_shows_steps_then_the_image() {
    if !is_root() {
        eprintln!("skipped: builds run containers and need root");
        return;
    }
    let (root, dir) =
        setup("FROM wharf/demo\nRUN echo hi > /x && echo made-by-run\nCMD [\"cat\", \"/x\"]\n");
    let c = Console::launch(root.path(), Some(dir.path()), 160, 45, "", "");
    c.wait_for("? help");
    c.keys(&[":"]);
    c.text("build ctx -t built:1");
    c.keys(&["Enter"]);
    let s = c.wait_for("✓ built");
    assert!(s.contains("Step 1/3 : FROM wharf/demo"), "{s}");
    assert!(s.contains("Step 2/3 : RUN echo hi > /x"), "{s}");
    assert!(s.contains("Step 3/3 : CMD"), "{s}");
    assert!(s.contains("│ made-by-run"), "the RUN step's output: {s}");
    assert!(s.contains("tagged built:1"), "{s}");
    // The teaching strip shows the command that does the same.
    assert!(s.contains("wharf build -t built:1 ctx"), "{s}");
    // The image is on the images pane.
    c.keys(&["2"]);
    let s = c.wait("built:1 listed", |s| {
        s.lines().any(|l| l.contains("built") && l.contains(" 1 "))
    });
    assert!(s.contains("built"), "{s}");
    assert!(
        wharf_ok(root.path(), &["images", "-q", "built:1"])
            .trim()
            .len()
            >= 12
    );
    assert_eq!(wharf_ok(root.path(), &["run", "--rm", "built:1"]), "hi\n");

    // Again from the images pane's form (b): the steps come from the cache.
    c.keys(&["b"]);
    c.wait_for("build an image");
    // The directory field starts at "."; replace it.
    c.keys(&["BSpace"]);
    c.text("ctx");
    c.keys(&["Tab"]);
    c.text("built:2");
    c.keys(&["Enter"]);
    let s = c.wait_for("tagged built:2");
    assert!(s.contains("CACHED"), "{s}");
    let s = c.screen();
    assert!(!s.contains("error"), "{s}");
}

#[test]
fn a_failing_run_names_its_command_and_code() {
    if !is_root() {
        eprintln!("skipped: builds run containers and need root");
        return;
    }
    let (root, dir) = setup("FROM wharf/demo\nRUN echo before-fail; exit 7\n");
    let c = Console::launch(root.path(), Some(dir.path()), 80, 24, "", "");
    c.wait_for("? help");
    c.keys(&[":"]);
    c.text("build ctx --no-cache -t nope:1");
    c.keys(&["Enter"]);
    let s = c.wait_for("the build failed");
    assert!(s.contains("before-fail"), "{s}");
    let flat: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("returned a non-zero code: 7"), "{s}");
    assert_eq!(wharf_ok(root.path(), &["ps", "-aq"]), "");
    // A Dockerfile error names its line and instruction (the error's window closed).
    std::fs::create_dir(dir.path().join("bad")).unwrap();
    std::fs::write(
        dir.path().join("bad/Dockerfile"),
        "FROM wharf/demo\nFROBNICATE x\n",
    )
    .unwrap();
    c.keys(&["Escape"]);
    c.wait("the error window closed", |s| {
        !s.contains("Esc or Enter closes")
    });
    c.keys(&[":"]);
    c.text("build bad");
    c.keys(&["Enter"]);
    c.wait_for("build bad");
    let s = c.wait("the error", |s| {
        s.contains("unknown instruction: FROBNICATE")
    });
    assert!(s.contains("line 2"), "{s}");
}

#[test]
fn cancel_stops_the_step_and_leaves_no_container() {
    if !is_root() {
        eprintln!("skipped: builds run containers and need root");
        return;
    }
    let (root, dir) = setup("FROM wharf/demo\nRUN echo sleeping && sleep 30\nCMD [\"true\"]\n");
    let c = Console::launch(root.path(), Some(dir.path()), 80, 24, "", "");
    c.wait_for("? help");
    c.keys(&[":"]);
    c.text("build ctx -t slow:1");
    c.keys(&["Enter"]);
    c.wait_for("│ sleeping");
    assert_eq!(
        wharf_ok(root.path(), &["ps", "-aq"]).lines().count(),
        1,
        "the RUN step's container"
    );
    let started = Instant::now();
    c.keys(&["c"]);
    let s = c.wait_for("■ cancelled");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the sleep was stopped"
    );
    assert!(s.contains("cancelled"), "{s}");
    assert_eq!(
        wharf_ok(root.path(), &["ps", "-aq"]),
        "",
        "no container left"
    );
    assert_eq!(wharf_ok(root.path(), &["images", "-q", "slow:1"]), "");

    // Leaving the console while a build runs cancels it too.
    c.keys(&[":"]);
    c.text("build ctx -t slow:2");
    c.keys(&["Enter"]);
    c.wait("the step running again", |s| {
        s.contains("│ sleeping") && s.contains("building")
    });
    c.keys(&["q"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while c.alive() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!c.alive(), "the console left");
    assert_eq!(
        wharf_ok(root.path(), &["ps", "-aq"]),
        "",
        "no container left"
    );
}
