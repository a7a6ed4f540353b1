//! End to end: the real `wharf` binary in tmux on a temporary state root. Runs a
//! container through the run form (network none), sees it in the list, reads its log,
//! stops it and removes it, checking the screen at each step. Needs root (containers)
//! and tmux; each test uses its own tmux server (`tmux -L <unique>`) and kills only it.

mod console_support;
#[path = "../../engine/tests/network_support/mod.rs"]
mod network_support;
#[path = "../../engine/tests/registry_support/mod.rs"]
mod registry_support;

use console_support::*;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The demo image on a fresh root (root needed for what follows: containers).
fn demo_root() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    wharf_ok(root.path(), &["image", "demo"]);
    root
}

/// The pane's lines (not the header, the tabs or the footer).
fn body(screen: &str) -> Vec<&str> {
    let lines: Vec<&str> = screen.lines().collect();
    lines
        .get(2..lines.len().saturating_sub(1))
        .unwrap_or(&[])
        .iter()
        // The teaching strip (`$ wharf rmi x`, `$ docker rmi x`) is not the pane's.
        .filter(|l| !l.trim_start().starts_with("$ "))
        .copied()
        .collect()
}

/// A row of the pane naming `name`.
fn body_row<'a>(screen: &'a str, name: &str) -> Option<&'a str> {
    body(screen)
        .into_iter()
        .find(|l| l.split_whitespace().any(|w| w == name))
}

/// `wharf run -d --network NET --name NAME wharf/demo sh -c SCRIPT` on `root`.
fn run_sh(root: &Path, name: &str, net: &str, script: &str) {
    wharf_ok(
        root,
        &[
            "run",
            "-d",
            "--network",
            net,
            "--name",
            name,
            "wharf/demo",
            "sh",
            "-c",
            script,
        ],
    );
}

#[test]
fn run_list_logs_stop_remove_through_the_console() {
    if !is_root() {
        eprintln!("skipped: the console end-to-end test runs containers and needs root");
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let demo = Command::new(BIN)
        .args(["image", "demo"])
        .env("WHARF_ROOT", root.path())
        .output()
        .unwrap();
    assert!(
        demo.status.success(),
        "wharf image demo: {}",
        String::from_utf8_lossy(&demo.stderr)
    );

    let c = Console::start(root.path(), 160, 45, "");
    // An empty engine says what to do next.
    c.wait_for("No containers yet.");
    c.wait("the header with the caller's role", |s| {
        s.contains("Press n to run one.") && s.contains("(admin)")
    });

    // The run form: validated as typed, shows the equivalent command line.
    c.keys(&["n"]);
    c.wait_for("Run a container");
    c.text("wharf/demo:latest");
    c.keys(&["Tab"]);
    c.text("e2e-web");
    c.keys(&["Tab"]);
    c.text("sh -c 'trap \"exit 0\" TERM; echo hello-from-e2e; while true; do sleep 1; done'");
    // start, env, ports, expose, publish all, volumes: to network.
    for _ in 0..7 {
        c.keys(&["Tab"]);
    }
    c.text("none");
    c.wait_for("wharf run -d --name e2e-web --network none wharf/demo:latest sh -c");
    c.keys(&["Enter"]);

    // It shows up in the list, running.
    c.wait("e2e-web running, counted in the header", |s| {
        row(s, "e2e-web")
            .is_some_and(|r| r.contains("▲ running") && r.contains("wharf/demo:latest"))
            && s.contains("▲ 1 running")
    });
    c.wait_for("started e2e-web");

    // Its log.
    c.keys(&["l"]);
    c.wait("its log, following", |s| {
        s.contains("hello-from-e2e") && s.contains("e2e-web · following")
    });

    // Back to the list, stop it.
    c.keys(&["1"]);
    c.wait("the list", |s| row(s, "e2e-web").is_some());
    c.keys(&["s"]);
    c.wait("e2e-web exited, counted in the header", |s| {
        row(s, "e2e-web").is_some_and(|r| r.contains("■ exited (0)")) && s.contains("■ 1 stopped")
    });
    c.wait_for("stopped e2e-web");

    // Remove it: the confirmation names it.
    c.keys(&["d"]);
    c.wait_for("remove container e2e-web?");
    c.keys(&["y"]);
    c.wait_for("removed e2e-web");
    c.wait_for("No containers yet.");
    let ps = Command::new(BIN)
        .args(["ps", "-aq"])
        .env("WHARF_ROOT", root.path())
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&ps.stdout).trim().is_empty(),
        "the engine agrees it is gone"
    );

    // q leaves and the console exits.
    c.keys(&["q"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while c.alive() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!c.alive(), "the console exited on q");
}

#[test]
fn changes_by_another_process_show_up_and_narrow_terminal_works() {
    let root = tempfile::tempdir().unwrap();
    let c = Console::start(root.path(), 80, 24, "");
    c.wait_for("No containers yet.");
    c.keys(&["4"]);
    c.wait_for("No volumes.");
    // Another process creates a volume: the pane follows the event stream.
    let out = Command::new(BIN)
        .args(["volume", "create", "from-elsewhere"])
        .env("WHARF_ROOT", root.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = c.wait_for("from-elsewhere");
    assert!(
        s.lines().count() <= 24 && s.lines().all(|l| l.chars().count() <= 80),
        "fits 80x24:\n{s}"
    );
    // The events pane shows it too.
    c.keys(&["6"]);
    c.wait("the volume create event", |s| {
        s.lines()
            .any(|l| l.contains("volume") && l.contains("create") && l.contains("from-elsewhere"))
    });
    // Filter, then command mode with completion.
    c.keys(&["/"]);
    c.text("nothing-like-this");
    c.wait_for("No event matches /nothing-like-this.");
    // A terminal cannot tell Esc from the start of an Alt sequence if the next key
    // follows at once, so wait for Esc to take effect (the filter is cleared).
    c.keys(&["Escape"]);
    c.wait("the filter cleared", |s| !s.contains("nothing-like-this"));
    c.keys(&[":"]);
    c.text("vol");
    c.keys(&["Tab"]);
    c.wait_for(":volumes");
    c.keys(&["Enter"]);
    c.wait_for("from-elsewhere");
    c.keys(&["q"]);
}

#[test]
fn a_bad_keymap_is_reported_and_the_default_is_used() {
    let root = tempfile::tempdir().unwrap();
    let km = root.path().join("keys.json");
    std::fs::write(&km, "{\n  \"global\": {\n    \"q\": \"explode\"\n  }\n}\n").unwrap();
    let c = Console::start(root.path(), 160, 30, &format!("--keymap {}", km.display()));
    c.wait("the keymap error with its place", |s| {
        s.contains("unknown action \"explode\"")
            && s.contains("line 3, column 5")
            && s.contains("default keymap")
    });
    c.keys(&["Escape"]);
    c.wait("the window closed, the footer still says it", |s| {
        !s.contains("unknown action") && s.contains("bad keymap, using the default")
    });
    // The default keymap is in force: ? opens the help, generated from it.
    c.keys(&["?"]);
    c.wait("the help from the default keymap", |s| {
        s.contains("keymap default") && s.contains("leave the console")
    });
    c.keys(&["Escape"]);
    c.wait("the help closed", |s| !s.contains("keymap default"));
    c.keys(&["q"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while c.alive() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!c.alive(), "q quits with the default keymap");
}

#[test]
fn shell_attach_and_network_connect_hand_the_terminal_over_and_back() {
    if !is_root() {
        eprintln!("skipped: the console end-to-end test runs containers and needs root");
        return;
    }
    // The network part lives in a namespace of this test's own (tmux, the console, the
    // monitors and the bridge all start from this thread); it goes away with the test.
    let _ns = network_support::TestNetns::enter();
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    wharf_ok(r, &["image", "demo"]);
    run_sh(
        r,
        "loop",
        "none",
        "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.3; done",
    );
    wharf_ok(r, &["network", "create", "lan"]);
    wharf_ok(
        r,
        &[
            "run",
            "-d",
            "--network",
            "lan",
            "--name",
            "srv",
            "wharf/demo",
            "sleep",
            "1000",
        ],
    );

    let c = Console::start(r, 120, 40, "");
    c.wait("both containers", |s| {
        row(s, "loop").is_some_and(|l| l.contains("running")) && row(s, "srv").is_some()
    });
    // Sorted by name, `loop` is selected: a shell in it takes the terminal.
    c.keys(&["e"]);
    c.wait_for("a shell in loop");
    c.wait_for("/ #");
    c.text("echo answer-$((6*7))");
    c.keys(&["Enter"]);
    c.wait_for("answer-42");
    c.text("exit 3");
    c.keys(&["Enter"]);
    // The console comes back whole, and says how the shell ended.
    let s = c.wait_for("the shell in loop ended (exit code 3)");
    assert!(row(&s, "srv").is_some(), "{s}");
    assert!(
        !s.contains("answer-42"),
        "the console redraws over the shell: {s}"
    );

    // Attach shows the container's output; ctrl-p ctrl-q comes back, the container runs on.
    c.keys(&["a"]);
    c.wait_for("attached to loop");
    c.wait_for("tick");
    c.keys(&["C-p", "C-q"]);
    let s = c.wait_for("detached from loop");
    assert!(
        row(&s, "loop").is_some_and(|l| l.contains("running")),
        "{s}"
    );
    // The console still takes keys: the networks pane.
    c.keys(&["3"]);
    c.wait("lan listing srv", |s| {
        row(s, "lan").is_some_and(|l| l.contains("1: srv"))
    });
    c.keys(&["/"]);
    c.text("lan");
    c.keys(&["Enter"]);
    c.wait("only lan", |s| {
        !s.contains("172.17.0.0") && row(s, "lan").is_some()
    });
    // Disconnect (the form offers the first container on it), then connect again.
    c.keys(&["x"]);
    c.wait_for("disconnect a container from lan");
    c.keys(&["Enter"]);
    c.wait_for("disconnected srv from lan");
    c.wait("lan empty", |s| {
        row(s, "lan").is_some_and(|l| l.trim_end().ends_with(" 0"))
    });
    c.keys(&["c"]);
    c.wait_for("connect a container to lan");
    c.text("nosuch");
    c.wait_for("the name of a container");
    c.keys(&["C-u"]);
    for _ in 0..6 {
        c.keys(&["BSpace"]);
    }
    c.text("srv");
    c.keys(&["Enter"]);
    c.wait_for("connected srv to lan");
    c.wait("lan listing srv again", |s| {
        row(s, "lan").is_some_and(|l| l.contains("1: srv"))
    });
    let inspect = wharf_ok(r, &["inspect", "srv"]);
    assert!(inspect.contains("\"lan\""), "{inspect}");
    c.keys(&["q"]);
    c.wait("the console to quit", |_| !c.alive());
}

#[test]
fn containers_stop_and_start_and_a_failed_start_says_why() {
    if !is_root() {
        eprintln!("skipped: runs containers, needs root");
        return;
    }
    let root = demo_root();
    let r = root.path();
    run_sh(
        r,
        "web",
        "none",
        "trap 'exit 0' TERM; while true; do sleep 0.2; done",
    );
    wharf_ok(
        r,
        &[
            "create",
            "--network",
            "none",
            "--name",
            "bad",
            "wharf/demo",
            "/nonexistent-cmd",
        ],
    );
    let c = Console::start(r, 160, 45, "");
    c.wait("both", |s| {
        row(s, "web").is_some_and(|l| l.contains("running")) && row(s, "bad").is_some()
    });
    // Sorted by name, `bad` is selected. Its start fails: the whole reason shows (it
    // was cut off in the footer), in a window.
    c.keys(&["S"]);
    let s = c.wait("the whole reason", |s| {
        flat(s).contains("stat/nonexistent-cmd:nosuchfileordirectory")
    });
    assert!(s.contains("┌ error"), "{s}");
    c.keys(&["Escape"]);
    c.wait("the window closed", |s| !s.contains("┌ error"));
    // web: stop, then start again.
    c.keys(&["Down"]);
    c.keys(&["s"]);
    c.wait("web exited", |s| {
        row(s, "web").is_some_and(|l| l.contains("■ exited (0)")) && s.contains("stopped web")
    });
    c.keys(&["S"]);
    c.wait("web running again", |s| {
        row(s, "web").is_some_and(|l| l.contains("▲ running")) && s.contains("started web")
    });
}

#[test]
fn removing_an_image_updates_the_list_at_once() {
    let root = demo_root();
    let r = root.path();
    wharf_ok(r, &["tag", "wharf/demo", "extra:1"]);
    wharf_ok(r, &["tag", "wharf/demo", "extra:2"]);
    // The list does not wait for the event stream to say what changed (reported: the
    // row stayed until ctrl-r). A role without the event stream shows it for sure.
    let policy = r.join("policy.json");
    std::fs::write(
        &policy,
        r#"{"roles": {"curator": {"description": "images, no event stream",
            "permissions": {"image": ["*"], "container": ["list"], "volume": ["list"],
                            "network": ["list"], "system": ["info"]}}},
           "users": {"nobody": {"role": "curator"}}}"#,
    )
    .unwrap();
    for extra in ["", &format!("--policy {} --as nobody", policy.display())] {
        let c = Console::start(r, 160, 45, extra);
        c.keys(&["2"]);
        let tag = if extra.is_empty() {
            "extra:1"
        } else {
            "extra:2"
        };
        c.wait("the references", |s| {
            body_row(s, tag).is_some() && body_row(s, "wharf/demo:latest").is_some()
        });
        // Sorted by reference, the extra tag is selected.
        c.keys(&["d"]);
        c.wait_for(&format!("remove image {tag}?"));
        c.keys(&["y"]);
        c.wait_for(&format!("removed {tag}"));
        c.wait("the row gone", |s| {
            body_row(s, tag).is_none() && body_row(s, "wharf/demo:latest").is_some()
        });
    }
}

#[test]
fn a_network_shows_its_containers() {
    if !is_root() {
        eprintln!("skipped: runs containers, needs root");
        return;
    }
    let root = demo_root();
    let r = root.path();
    for (name, net) in [("iso-1", "none"), ("iso-2", "none"), ("on-host", "host")] {
        run_sh(r, name, net, "sleep 1000");
    }
    let c = Console::start(r, 160, 45, "");
    c.wait("three containers", |s| s.contains("▲ 3 running"));
    c.keys(&["3"]);
    c.wait("the networks", |s| {
        row(s, "none").is_some() && row(s, "host").is_some()
    });
    // bridge, host, none: none is the third.
    c.keys(&["Down", "Down"]);
    c.keys(&["Enter"]);
    let s = c.wait("the containers on none", |s| {
        s.contains("/network=none") && row(s, "iso-1").is_some()
    });
    assert!(
        row(&s, "iso-2").is_some() && row(&s, "on-host").is_none(),
        "{s}"
    );
    assert!(s.contains("2 of 3"), "{s}");
    // Esc clears the filter.
    c.keys(&["Escape"]);
    c.wait("all three again", |s| row(s, "on-host").is_some());
}

#[test]
fn volume_prune_says_what_it_removes_and_does_it() {
    if !is_root() {
        eprintln!("skipped: runs a container (for an anonymous volume), needs root");
        return;
    }
    let root = demo_root();
    let r = root.path();
    wharf_ok(r, &["volume", "create", "vol2"]);
    wharf_ok(
        r,
        &[
            "run",
            "--network",
            "none",
            "-v",
            "/data",
            "--name",
            "anon",
            "wharf/demo",
            "true",
        ],
    );
    wharf_ok(r, &["rm", "anon"]);
    let ls = wharf_ok(r, &["volume", "ls", "-q"]);
    let anon = ls
        .split_whitespace()
        .find(|v| *v != "vol2")
        .expect("the anonymous volume")
        .to_string();
    let short = &anon[..12];
    let c = Console::start(r, 160, 45, "");
    c.keys(&["4"]);
    c.wait("both volumes", |s| {
        row(s, "vol2").is_some() && s.contains(short)
    });
    // Reported: "remove unused anonymous volumes (of: vol2)?", then 0 pruned.
    c.keys(&["P"]);
    c.wait_for(&format!(
        "remove the unused anonymous volume: {short}? Unused named volumes are kept (vol2)"
    ));
    c.keys(&["y"]);
    c.wait_for(&format!("pruned 1 volume ({short})"));
    c.wait("the anonymous one gone", |s| {
        !body(s).iter().any(|l| l.contains(short)) && body_row(s, "vol2").is_some()
    });
    c.keys(&["P"]);
    c.wait_for("no anonymous volume is unused. Remove the unused named volume and its data: vol2?");
    c.keys(&["y"]);
    c.wait_for("pruned 1 volume (vol2)");
    c.wait_for("No volumes.");
    let left = wharf_ok(r, &["volume", "ls", "-q"]);
    assert!(left.trim().is_empty(), "the engine agrees: {left}");
}

#[test]
fn logs_follow_and_search() {
    if !is_root() {
        eprintln!("skipped: runs containers, needs root");
        return;
    }
    let root = demo_root();
    let r = root.path();
    run_sh(
        r,
        "talker",
        "none",
        "i=0; while true; do echo line-$i; i=$((i+1)); sleep 0.05; done",
    );
    let c = Console::start(r, 120, 40, "");
    c.wait("talker", |s| row(s, "talker").is_some());
    // :logs NAME, with completion.
    c.keys(&[":"]);
    c.text("logs ta");
    c.wait_for("logs talker");
    c.keys(&["Tab", "Enter"]);
    c.wait("its log, following", |s| {
        s.contains("talker · following") && s.contains("line-5")
    });
    // More lines than the screen has rows, then f stops following: the screen stays
    // while lines come.
    c.wait("a screenful", |s| s.contains("line-60"));
    c.keys(&["f"]);
    let s = c.wait_for("talker · paused");
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(body(&s), body(&c.screen()), "a paused log stays put");
    // Search: the match is counted in the status, n moves.
    c.keys(&["s"]);
    c.wait_for("find:");
    c.text("line-3");
    c.keys(&["Enter"]);
    c.wait("a match", |s| s.contains("/line-3 1/"));
    c.keys(&["n"]);
    c.wait("the next match", |s| s.contains("/line-3 2/"));
    // f follows again; Esc goes back to the list.
    c.keys(&["f"]);
    c.wait_for("talker · following");
    c.keys(&["Escape"]);
    c.wait("the list", |s| {
        s.contains("NAME") && row(s, "talker").is_some()
    });
}

#[test]
fn events_follow_pause_and_show_one_in_full() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let c = Console::start(r, 160, 45, "");
    c.wait_for("No containers yet.");
    c.keys(&["6"]);
    wharf_ok(r, &["volume", "create", "first"]);
    c.wait("the first event", |s| {
        s.lines()
            .any(|l| l.contains("volume") && l.contains("create") && l.contains("first"))
    });
    c.wait_for("following");
    // Enter: the event in full.
    c.keys(&["Enter"]);
    c.wait("the event's JSON", |s| {
        s.contains("event volume create") && s.contains("\"Action\": \"create\"")
    });
    c.keys(&["Escape"]);
    c.wait("the window closed", |s| !s.contains("event volume create"));
    // p pauses; a new event still shows, and p follows again.
    c.keys(&["p"]);
    c.wait_for("paused");
    wharf_ok(r, &["volume", "create", "second"]);
    c.wait("the second event", |s| s.contains("second"));
    c.keys(&["p"]);
    c.wait_for("following");
}

#[test]
fn a_rename_shows_in_the_split_and_in_later_events() {
    if !is_root() {
        eprintln!("skipped: runs containers, needs root");
        return;
    }
    let root = demo_root();
    let r = root.path();
    run_sh(
        r,
        "web",
        "none",
        "trap 'exit 0' TERM; echo hi; while true; do sleep 0.2; done",
    );
    let c = Console::start(r, 160, 45, "");
    c.wait_for("─ web · log");
    c.keys(&["R"]);
    c.wait_for("rename web");
    c.keys(&["C-u"]);
    c.text("web2");
    c.keys(&["Enter"]);
    c.wait_for("renamed web to web2");
    // The split follows the new name (reported: it kept the old one).
    c.wait_for("─ web2 · log");
    c.keys(&["s"]);
    c.wait("web2 exited", |s| {
        row(s, "web2").is_some_and(|l| l.contains("exited"))
    });
    // The die event, from the container's monitor, names web2 too.
    c.keys(&["6"]);
    let s = c.wait("the die event", |s| s.lines().any(|l| l.contains(" die ")));
    let die = s.lines().find(|l| l.contains(" die ")).unwrap_or("");
    assert!(row(die, "web2").is_some(), "{s}");
}

#[test]
fn the_footer_keeps_help_and_narrow_screens_keep_tab_names() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    // Empty settings count as unset (here: no host, no keymap file).
    let c = Console::start_with(r, 160, 45, "WHARF_HOST= WHARF_KEYMAP= WHARF_POLICY=", "");
    let s = c.wait_for("No containers yet.");
    assert!(
        !s.contains("keymap"),
        "an empty WHARF_KEYMAP is no keymap: {s}"
    );
    // Reported: at 160 columns `? help`, `e` and `a` were dropped.
    let foot = s.lines().last().unwrap_or("");
    for h in ["? help", "e shell", "a attach", "s stop"] {
        assert!(foot.contains(h), "{h} in {foot}");
    }
    drop(c);
    // Reported: at 80x24 tab names vanished and help lines were cut mid-phrase.
    let c = Console::start(r, 80, 24, "");
    let s = c.wait_for("No containers yet.");
    let tabs = s.lines().nth(1).unwrap_or("");
    for t in [
        "1 Cont", "2 Img", "3 Net", "4 Vol", "5 Stats", "6 Events", "7 Logs", "8 Own",
    ] {
        assert!(tabs.contains(t), "{t} in {tabs}");
    }
    assert!(s.lines().last().unwrap_or("").contains("? help"), "{s}");
    c.keys(&["?"]);
    let s = c.wait_for("keymap default");
    assert!(
        flat(&s).contains("leavetheconsole(containerskeeprunning)"),
        "the description wraps whole: {s}"
    );
    assert!(s.lines().all(|l| l.chars().count() <= 80), "{s}");
}

#[test]
fn the_cli_takes_empty_settings_as_unset() {
    let root = tempfile::tempdir().unwrap();
    let o = Command::new(BIN)
        .args(["volume", "ls"])
        .env("WHARF_ROOT", root.path())
        .env("WHARF_HOST", "")
        .env("WHARF_POLICY", "")
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "WHARF_HOST= uses the embedded engine: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The registries pane against a docker-registry with a token server on 127.0.0.1: log
/// in (the password never on screen), browse repositories and tags, pull (it shows in
/// the images pane), push a local image, log out.
#[test]
fn registries_pane_logs_in_browses_pulls_pushes_and_logs_out() {
    use registry_support::{stop_token_server, Auth, Layout, Registry, TokenServer};
    let ts = TokenServer::start("gina", "g1na-s3cret");
    let reg = Registry::start(Auth::Token(ts.clone()));
    let host = reg.host();
    let root = demo_root();
    let r = root.path();
    let mut layout = Layout::new(&r.join("layout"));
    let img = layout.image(
        "amd64",
        &[
            vec![("etc/hello", b"hi\n".to_vec())],
            vec![("data/blob", registry_support::noise(400_000, 7))],
        ],
    );
    layout.tag_image(&img, "1");
    layout.skopeo_push(
        "1",
        &format!("{host}/team/app:1"),
        Some(("gina", "g1na-s3cret")),
        false,
    );

    let c = Console::start(r, 160, 45, "");
    c.wait_for("No containers yet.");
    c.keys(&[":"]);
    c.text("registries");
    c.keys(&["Enter"]);
    c.wait_for("No registries yet");
    // Log in: the password is typed hidden.
    c.keys(&["L"]);
    c.wait_for("log in to a registry");
    c.text(&host);
    c.keys(&["Tab"]);
    c.text("gina");
    c.keys(&["Tab"]);
    c.text("g1na-s3cret");
    let s = c.wait_for("•••••••••••");
    assert!(!s.contains("g1na-s3cret"), "{s}");
    c.keys(&["Enter"]);
    c.wait_for(&format!("logged in to {host}"));
    c.wait("the registry with the login", |s| {
        row(s, &host).is_some_and(|l| l.contains("gina"))
    });
    // Its repositories, the tags of one, and a pull with each layer's progress.
    c.keys(&["Enter"]);
    c.wait("the repositories", |s| body_row(s, "team/app").is_some());
    c.keys(&["Enter"]);
    c.wait("the tags", |s| {
        s.contains("TAG") && body_row(s, "1").is_some()
    });
    c.keys(&["Enter"]);
    c.wait("the manifest", |s| {
        s.contains("LAYERS") && s.contains(&img.layers[1][7..19])
    });
    c.keys(&["Escape"]);
    c.wait("the tags again", |s| {
        s.contains("TAG") && !s.contains("LAYERS")
    });
    c.keys(&["p"]);
    // The pull may be over before a screen shows it going: its panel keeps each layer.
    let s = c.wait_for(&format!("pulled {host}/team/app:1"));
    assert!(s.matches("Pull complete").count() >= 2, "{s}");
    c.keys(&["2"]);
    c.wait("the pulled image in the images pane", |s| {
        body_row(s, &format!("{host}/team/app:1")).is_some()
    });
    // Push the demo image to the registry.
    c.keys(&[":"]);
    c.text("registries");
    c.keys(&["Enter"]);
    c.wait("the tags, as they were left", |s| s.contains("TAG"));
    c.keys(&["P"]);
    c.wait_for("push an image");
    c.keys(&["C-u"]);
    c.text("wharf/demo:latest");
    c.keys(&["Tab", "C-u"]);
    c.text(&format!("{host}/team/demo:7"));
    c.wait_for(&format!(
        "tag wharf/demo:latest as {host}/team/demo:7 and push it"
    ));
    c.keys(&["Enter"]);
    let s = c.wait("the push's end", |s| {
        s.contains(&format!("pushed {host}/team/demo:7")) || s.contains("failed")
    });
    assert!(
        !s.contains("failed"),
        "{s}\nthe registry's log:\n{}",
        reg.log()
    );
    let raw = registry_support::skopeo_raw(
        &format!("{host}/team/demo:7"),
        Some(("gina", "g1na-s3cret")),
    );
    assert!(!raw.is_empty());
    // Back to the registries (Esc closes the push's panel, then goes up a level), log
    // out. One Esc at a time, each seen on screen first: the terminal reads two Escs
    // sent together as one, and an Esc just before a letter as Alt and the letter.
    c.keys(&["Escape"]);
    c.wait("the push's panel closed", |s| {
        !s.lines().any(|l| l.starts_with("─ ") && l.contains("push"))
    });
    c.keys(&["Escape"]);
    c.wait("the repositories", |s| s.contains("REPOSITORY"));
    c.keys(&["Escape"]);
    c.wait("the registries", |s| s.contains("LOGGED IN AS"));
    c.keys(&["X"]);
    c.wait_for(&format!("log out of {host}?"));
    c.keys(&["y"]);
    c.wait_for(&format!("logged out of {host}"));
    // The console's own log never saw the password either.
    c.keys(&["8"]);
    let s = c.wait_for("logged out");
    assert!(!s.contains("g1na-s3cret"), "{s}");
    let auth = std::fs::read_to_string(r.join("auth/0.json")).unwrap_or_default();
    assert!(!auth.contains(&host), "the login is gone: {auth}");
    stop_token_server(&ts);
}

// ----- the console for a Docker course's lab steps (issue 15) -----

/// Press Tab `n` times (the forms' next field).
fn tabs(c: &Console, n: usize) {
    for _ in 0..n {
        c.keys(&["Tab"]);
    }
}

#[test]
fn run_form_creates_only_runs_with_a_terminal_and_says_why_a_shell_exits() {
    if !is_root() {
        eprintln!("skipped: runs containers, needs root");
        return;
    }
    let root = demo_root();
    let r = root.path();
    let c = Console::start(r, 160, 45, "");
    c.wait_for("No containers yet.");

    // Create only, with --expose and -P. The image's command is sh: the form says a
    // detached run of it would exit at once, and offers interactive.
    c.keys(&["n"]);
    c.wait_for("Run a container");
    c.text("wharf/demo");
    c.keys(&["Tab"]);
    c.text("made");
    tabs(&c, 2);
    c.wait_for("has no input and exits at once: choose interactive");
    c.keys(&["Right", "Right"]);
    tabs(&c, 3);
    c.text("8080/tcp");
    c.keys(&["Tab"]);
    c.keys(&["y"]);
    tabs(&c, 2);
    c.text("none");
    c.wait_for("wharf create --name made -P --expose 8080 --network none wharf/demo");
    c.keys(&["Enter"]);
    c.wait("made created, not started", |s| {
        s.contains("created made (") && row(s, "made").is_some_and(|l| l.contains("created"))
    });
    let f = wharf_ok(
        r,
        &[
            "inspect",
            "-f",
            "{{json .Config.ExposedPorts}} {{.HostConfig.PublishAllPorts}} {{.State.Status}}",
            "made",
        ],
    );
    assert_eq!(f.trim(), r#"{"8080/tcp":{}} true created"#);

    // Interactive: the terminal goes to the container's shell, and comes back.
    c.keys(&["n"]);
    c.wait_for("Run a container");
    c.text("wharf/demo");
    c.keys(&["Tab"]);
    c.text("tty1");
    tabs(&c, 2);
    c.keys(&["i"]);
    tabs(&c, 6);
    c.text("none");
    c.wait_for("wharf run -it --name tty1 --network none wharf/demo");
    c.keys(&["Enter"]);
    c.wait_for("wharf: wharf run -it --name tty1");
    c.wait_for("/ #");
    c.text("echo inside-$((6*7)); tty");
    c.keys(&["Enter"]);
    c.wait_for("inside-42");
    c.wait_for("/dev/pts/0");
    c.text("exit 5");
    c.keys(&["Enter"]);
    c.wait_for("the session in tty1 ended (exit code 5)");
    // The list is read again after the session (the first frame back may still show
    // the list from before it, as it did once under load).
    c.wait("tty1 listed as exited (5)", |s| {
        row(s, "tty1").is_some_and(|l| l.contains("exited (5)"))
    });

    // Detached, the image's sh exits at once: the console says why.
    c.keys(&["n"]);
    c.wait_for("Run a container");
    c.text("wharf/demo");
    c.keys(&["Tab"]);
    c.text("quick");
    tabs(&c, 8);
    c.text("none");
    c.keys(&["Enter"]);
    c.wait_for("quick exited at once (exit code 0)");
    // Why, in full (the footer has room for the start of it).
    c.keys(&["!"]);
    c.wait("why quick exited", |s| {
        flat(s).contains("quickexitedatonce(exitcode0):shisashellthatwaitsforinput")
    });
}

#[test]
fn diff_top_cp_commit_export_update_and_wait_through_the_console() {
    if !is_root() {
        eprintln!("skipped: runs containers, needs root");
        return;
    }
    let root = demo_root();
    let r = root.path();
    let host = tempfile::tempdir().unwrap();
    let h = host.path().display().to_string();
    std::fs::write(host.path().join("note.txt"), "from-the-host\n").unwrap();
    run_sh(
        r,
        "box",
        "none",
        "trap 'exit 0' TERM; echo made > /tmp/made.txt; rm /www/index.html; while true; do sleep 0.2; done",
    );
    let c = Console::start(r, 160, 45, "");
    c.wait("box running", |s| {
        row(s, "box").is_some_and(|l| l.contains("running"))
    });

    // diff, then top, under the list; again: the log.
    c.keys(&["D"]);
    c.wait("its changes", |s| {
        s.contains("box · changes (diff: 1 added, 2 changed, 1 deleted)")
            && s.contains("A /tmp/made.txt")
            && s.contains("D /www/index.html")
            && s.contains("C /www")
    });
    c.keys(&["t"]);
    c.wait("its processes", |s| {
        s.contains("box · processes (top") && s.contains("PID") && s.contains("sleep 0.2")
    });
    c.keys(&["t"]);
    c.wait_for("box · log");

    // cp into the container.
    c.keys(&["F"]);
    c.wait_for("copy files into or out of box");
    c.keys(&["Tab"]);
    c.text("/tmp/");
    c.keys(&["Tab"]);
    c.text(&format!("{h}/note.txt"));
    c.wait_for(&format!("wharf cp {h}/note.txt box:/tmp/"));
    c.keys(&["Enter"]);
    c.wait_for(&format!("copied {h}/note.txt into box:/tmp/"));
    let got = wharf_ok(r, &["exec", "box", "cat", "/tmp/note.txt"]);
    assert_eq!(got, "from-the-host\n");

    // cp out of it; a second time it would replace the file: it asks first.
    for round in 0..2 {
        c.keys(&["F"]);
        c.wait_for("copy files into or out of box");
        c.keys(&["o"]);
        c.keys(&["Tab"]);
        c.text("/tmp/made.txt");
        c.keys(&["Tab"]);
        c.text(&format!("{h}/out.txt"));
        c.wait_for(&format!("wharf cp box:/tmp/made.txt {h}/out.txt"));
        if round == 1 {
            c.wait_for("exists: it is replaced (asks first)");
            c.keys(&["Enter"]);
            c.wait_for(&format!(
                "replace {h}/out.txt on this machine with box:/tmp/made.txt?"
            ));
            c.keys(&["y"]);
        } else {
            c.keys(&["Enter"]);
        }
        c.wait_for(&format!("copied box:/tmp/made.txt to {h}/out.txt"));
        assert_eq!(
            std::fs::read_to_string(host.path().join("out.txt")).unwrap(),
            "made\n"
        );
        std::thread::sleep(Duration::from_millis(300));
    }

    // commit, with a message, an author and a change.
    c.keys(&["C"]);
    c.wait_for("commit box to an image");
    c.text("lab/box:1");
    c.keys(&["Tab"]);
    c.text("lab step 1");
    c.keys(&["Tab"]);
    c.text("Alice");
    c.keys(&["Tab"]);
    c.text(r#"CMD ["cat","/tmp/made.txt"]"#);
    c.wait_for(
        r#"wharf commit -a Alice -m 'lab step 1' -c 'CMD ["cat","/tmp/made.txt"]' box lab/box:1"#,
    );
    c.keys(&["Enter"]);
    c.wait_for("committed box as lab/box:1");
    let out = wharf_ok(r, &["run", "--rm", "--network", "none", "lab/box:1"]);
    assert_eq!(out.trim(), "made");
    let comment = wharf_ok(
        r,
        &[
            "image",
            "inspect",
            "-f",
            "{{.Comment}} {{.Author}}",
            "lab/box:1",
        ],
    );
    assert_eq!(comment.trim(), "lab step 1 Alice");

    // export to a file.
    c.keys(&["E"]);
    c.wait_for("export the file system of box");
    c.text(&format!("{h}/box.tar"));
    c.wait_for(&format!("wharf export -o {h}/box.tar box"));
    c.keys(&["Enter"]);
    c.wait_for(&format!("exported box to {h}/box.tar"));
    let list = Command::new("tar")
        .args(["-tf", &format!("{h}/box.tar")])
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(
        list.lines()
            .any(|l| l.trim_start_matches("./") == "tmp/made.txt"),
        "{list}"
    );

    // update, live: the form shows what it has.
    c.keys(&["u"]);
    c.wait_for("update box (live)");
    c.wait_for("no limit, kept");
    c.text("64m");
    tabs(&c, 2);
    c.text("50");
    c.keys(&["Tab"]);
    c.text("on-failure:2");
    c.wait_for("wharf update -m 64m --pids-limit 50 --restart on-failure:2 box");
    c.keys(&["Enter"]);
    c.wait_for("updated box");
    let f = wharf_ok(
        r,
        &[
            "inspect",
            "-f",
            "{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}} {{.HostConfig.RestartPolicy.Name}}",
            "box",
        ],
    );
    assert_eq!(f.trim(), "67108864 50 on-failure");

    // wait: the console goes on, and says when it stops.
    c.keys(&["w"]);
    c.wait_for("waiting for box to stop");
    wharf_ok(r, &["stop", "box"]);
    c.wait_for("box stopped: exit code 0");
}

#[test]
fn disk_usage_from_the_images_and_volumes_panes() {
    if !is_root() {
        eprintln!("skipped: builds the demo image, needs root");
        return;
    }
    let root = demo_root();
    let r = root.path();
    wharf_ok(r, &["volume", "create", "data1"]);
    let c = Console::start(r, 80, 24, "");
    c.wait_for("No containers yet.");
    c.keys(&["2"]);
    c.wait("the demo image", |s| s.contains("wharf/demo"));
    c.keys(&["u"]);
    let s = c.wait_for("$ wharf system df");
    for what in [
        "disk usage",
        "TYPE",
        "Images",
        "Staging",
        "Containers",
        "Build Cache",
    ] {
        assert!(s.contains(what), "{what}: {s}");
    }
    let images = s.lines().find(|l| l.contains("Images ")).unwrap_or("");
    assert!(
        images.split_whitespace().nth(1) == Some("1"),
        "one image: {images}"
    );
    assert!(s.lines().all(|l| l.chars().count() <= 80), "{s}");
    c.keys(&["Escape"]);
    c.wait("the window closed", |s| !s.contains("$ wharf system df"));
    c.keys(&["4"]);
    c.wait("the volume", |s| row(s, "data1").is_some());
    c.keys(&["u"]);
    let s = c.wait_for("$ wharf system df");
    let vols = s
        .lines()
        .find(|l| l.contains("Local Volumes"))
        .unwrap_or("");
    assert_eq!(
        vols.split("Local Volumes")
            .nth(1)
            .and_then(|r| r.split_whitespace().next()),
        Some("1"),
        "{vols}"
    );
}

#[test]
fn network_create_with_addresses_and_connect_with_an_ip_and_aliases() {
    if !is_root() {
        eprintln!("skipped: creates networks, needs root");
        return;
    }
    // In a network namespace of the test's own: the container started at the end gets
    // its bridge there.
    let _ns = network_support::TestNetns::enter();
    let root = demo_root();
    let r = root.path();
    wharf_ok(
        r,
        &["create", "--name", "srv", "wharf/demo", "sleep", "1000"],
    );
    let c = Console::start(r, 160, 45, "");
    c.wait("srv listed", |s| row(s, "srv").is_some());
    c.keys(&["3"]);
    c.wait("the networks", |s| row(s, "bridge").is_some());

    // Create: the addresses are checked as typed.
    c.keys(&["n"]);
    c.wait_for("new bridge network");
    c.text("lab");
    c.keys(&["Tab"]);
    c.text("10.77.0.1/24");
    c.wait_for("has host bits set: use 10.77.0.0/24 instead");
    c.keys(&["C-u"]);
    c.text("10.77.0.0/24");
    c.keys(&["Tab"]);
    c.text("10.78.0.1");
    c.wait_for("--gateway 10.78.0.1 is not a usable address of subnet 10.77.0.0/24");
    c.keys(&["C-u"]);
    c.text("10.77.0.254");
    c.keys(&["Tab"]);
    c.text("10.77.0.128/25");
    c.keys(&["Tab"]);
    c.keys(&["y"]);
    // The command line wraps in the form: its two halves.
    c.wait("the command line", |s| {
        s.contains("wharf network create --subnet 10.77.0.0/24 --gateway 10.77.0.254 --ip-range 10.77.0.128/25")
            && s.contains("│--internal lab ")
    });
    c.keys(&["Enter"]);
    c.wait_for("created network lab");
    let f = wharf_ok(
        r,
        &[
            "network",
            "inspect",
            "-f",
            "{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}} {{.IPRange}}{{end}} {{.Internal}}",
            "lab",
        ],
    );
    assert_eq!(f.trim(), "10.77.0.0/24 10.77.0.254 10.77.0.128/25 true");

    // Connect srv with an address and two aliases.
    c.keys(&["/"]);
    c.text("lab");
    c.keys(&["Enter"]);
    // (By the NAME column: lab's DRIVER is bridge too.)
    let named = |s: &str, n: &str| {
        body(s)
            .iter()
            .any(|l| l.trim_start_matches(['▶', ' ']).split_whitespace().next() == Some(n))
    };
    c.wait("only lab", |s| named(s, "lab") && !named(s, "bridge"));
    c.keys(&["c"]);
    c.wait_for("connect a container to lab");
    c.text("srv");
    c.keys(&["Tab"]);
    c.text("10.77.1.5");
    c.wait_for("10.77.1.5 is not a usable address of lab (10.77.0.0/24)");
    c.keys(&["C-u"]);
    c.text("10.77.0.200");
    c.keys(&["Tab"]);
    c.text("db cache");
    c.wait_for("wharf network connect --ip 10.77.0.200 --alias db --alias cache lab srv");
    c.keys(&["Enter"]);
    c.wait_for("connected srv to lab");
    wharf_ok(r, &["start", "srv"]);
    let f = wharf_ok(
        r,
        &[
            "inspect",
            "-f",
            "{{.NetworkSettings.Networks.lab.IPAddress}} {{json .NetworkSettings.Networks.lab.Aliases}}",
            "srv",
        ],
    );
    assert!(f.starts_with("10.77.0.200 "), "{f}");
    assert!(f.contains("\"db\"") && f.contains("\"cache\""), "{f}");
}

/// The stacks pane: `:stacks up FILE` starts a two-service project (on its own bridge
/// network, in the test's network namespace); both services show running; the
/// project's logs interleave both; stop, start, and down (asked first) act on the
/// whole project; after down no container and no project network is left.
#[test]
fn stacks_pane_ups_stops_starts_and_downs_a_project() {
    if !is_root() {
        eprintln!("skipped: runs containers and a bridge network, needs root");
        return;
    }
    let _ns = network_support::TestNetns::enter();
    let root = demo_root();
    let r = root.path();
    let dir = tempfile::Builder::new()
        .prefix("stacks")
        .tempdir_in("/tmp")
        .unwrap();
    let file = dir.path().join("compose.yaml");
    std::fs::write(
        &file,
        "name: duo\nservices:\n  web:\n    image: wharf/demo\n    command: sh -c 'echo web says hi; exec sleep 1000'\n    stop_signal: SIGKILL\n  db:\n    image: wharf/demo\n    command: sh -c 'echo db says hi; exec sleep 1000'\n    stop_signal: SIGKILL\n",
    )
    .unwrap();
    let c = Console::start(r, 160, 45, "");
    c.wait_for("Containers");
    c.keys(&[":"]);
    c.text(&format!("stacks up {}", file.display()));
    c.keys(&["Enter"]);
    // The project's services, each with its container running.
    let s = c.wait("both services running", |s| {
        row(s, "duo-web-1").is_some_and(|l| l.contains("running"))
            && row(s, "duo-db-1").is_some_and(|l| l.contains("running"))
    });
    assert!(s.contains("duo ·"), "{s}");
    assert!(s.contains(&file.display().to_string()), "{s}");
    let nets = wharf_ok(r, &["network", "ls"]);
    assert!(nets.contains("duo_default"), "{nets}");

    // Logs: both services, interleaved.
    c.keys(&["l"]);
    c.wait("both services' lines", |s| {
        s.contains("web says hi") && s.contains("db says hi")
    });
    c.keys(&["Escape"]);
    c.wait("the project again", |s| {
        s.contains("SERVICE") && !s.contains("logs of duo")
    });
    c.keys(&["Escape"]);
    c.wait("the project list", |s| {
        row(s, "duo").is_some_and(|l| l.contains("running(2)"))
    });

    // Stop, then start, the whole project.
    c.keys(&["s"]);
    c.wait("stopped", |s| {
        row(s, "duo").is_some_and(|l| l.contains("exited(2)"))
    });
    c.keys(&["S"]);
    c.wait("started again", |s| {
        row(s, "duo").is_some_and(|l| l.contains("running(2)"))
    });

    // Down asks first, then removes the containers and the project's network.
    c.keys(&["d"]);
    c.wait_for("Volumes are kept unless you answer v");
    c.keys(&["y"]);
    c.wait_for("No compose projects");
    let ps = wharf_ok(r, &["ps", "-aq"]);
    assert!(ps.trim().is_empty(), "containers left: {ps}");
    let nets = wharf_ok(r, &["network", "ls"]);
    assert!(!nets.contains("duo_default"), "{nets}");
}
