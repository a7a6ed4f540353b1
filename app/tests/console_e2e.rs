//! End to end: the real `wharf` binary in tmux on a temporary state root. Runs a
//! container through the run form (network none), sees it in the list, reads its log,
//! stops it and removes it, checking the screen at each step. Needs root (containers)
//! and tmux; each test uses its own tmux server (`tmux -L <unique>`) and kills only it.

#[path = "../../engine/tests/network_support/mod.rs"]
mod network_support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_wharf");

/// A tmux server of our own running the console; killed (and the root's containers
/// removed) on drop, even when the test fails.
struct Console {
    socket: String,
    root: PathBuf,
}

impl Console {
    fn start(root: &Path, width: u16, height: u16, extra: &str) -> Console {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let socket = format!("wharf-e2e-{}-{nanos}", std::process::id());
        let cmd = format!("env WHARF_ROOT={} {BIN} {extra}", root.display());
        let st = Command::new("tmux")
            .args([
                "-L",
                &socket,
                "new-session",
                "-d",
                "-x",
                &width.to_string(),
                "-y",
                &height.to_string(),
                &cmd,
            ])
            .status()
            .expect("tmux runs (apt-get install tmux)");
        assert!(st.success(), "tmux new-session failed");
        Console {
            socket,
            root: root.to_path_buf(),
        }
    }

    fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p"])
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["-L", self.socket.as_str(), "send-keys"];
        args.extend_from_slice(keys);
        assert!(Command::new("tmux").args(&args).status().unwrap().success());
    }

    /// Type text literally (no key names).
    fn text(&self, s: &str) {
        assert!(Command::new("tmux")
            .args(["-L", &self.socket, "send-keys", "-l", s])
            .status()
            .unwrap()
            .success());
    }

    /// Wait until the screen satisfies `pred` (with a deadline), returning it.
    fn wait(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            let s = self.screen();
            if pred(&s) {
                return s;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}; the screen is:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn wait_for(&self, text: &str) -> String {
        self.wait(&format!("{text:?}"), |s| s.contains(text))
    }

    fn alive(&self) -> bool {
        Command::new("tmux")
            .args(["-L", &self.socket, "has-session"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
        // Remove whatever containers the test left behind (unmounts, cgroups, monitors).
        if let Ok(o) = Command::new(BIN)
            .args(["ps", "-aq"])
            .env("WHARF_ROOT", &self.root)
            .output()
        {
            for id in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                let _ = Command::new(BIN)
                    .args(["rm", "-f", id])
                    .env("WHARF_ROOT", &self.root)
                    .output();
            }
        }
    }
}

/// `wharf ARGS` on `root`, which must succeed; its stdout.
fn wharf_ok(root: &Path, args: &[&str]) -> String {
    let o = Command::new(BIN)
        .args(args)
        .env("WHARF_ROOT", root)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "wharf {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

fn row<'a>(screen: &'a str, name: &str) -> Option<&'a str> {
    screen
        .lines()
        .find(|l| l.split_whitespace().any(|w| w == name))
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
    for _ in 0..4 {
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
    wharf_ok(
        r,
        &[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            "loop",
            "wharf/demo",
            "sh",
            "-c",
            "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.3; done",
        ],
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
