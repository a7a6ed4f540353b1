//! End to end: the real `wharf` binary in tmux on a temporary state root. Runs a
//! container through the run form (network none), sees it in the list, reads its log,
//! stops it and removes it, checking the screen at each step. Needs root (containers)
//! and tmux; each test uses its own tmux server (`tmux -L <unique>`) and kills only it.

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
