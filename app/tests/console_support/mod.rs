//! The console in a tmux server of the test's own, for the end-to-end tests: start it
//! on a state root, send keys and text, wait for what the screen shows. Killed on drop
//! (and the root's containers removed), even when a test fails.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_wharf");

pub struct Console {
    socket: String,
    root: PathBuf,
    /// Remove the root's containers when done (not when a test compares them after).
    pub clean: bool,
}

impl Console {
    /// The console (`wharf` with `extra` arguments) on `root`, `width`x`height`.
    pub fn start(root: &Path, width: u16, height: u16, extra: &str) -> Console {
        Self::launch(root, None, width, height, "", extra)
    }

    /// With `env` settings (`A=1 B=`) besides WHARF_ROOT, and `extra` arguments.
    pub fn start_with(root: &Path, width: u16, height: u16, env: &str, extra: &str) -> Console {
        Self::launch(root, None, width, height, env, extra)
    }

    /// `env WHARF_ROOT=root ENV wharf ARGS` in a tmux of its own, started in `cwd`.
    pub fn launch(
        root: &Path,
        cwd: Option<&Path>,
        width: u16,
        height: u16,
        env: &str,
        args: &str,
    ) -> Console {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let socket = format!("wharf-e2e-{}-{nanos}", std::process::id());
        let cmd = format!("env WHARF_ROOT={} {env} {BIN} {args}", root.display());
        let (w, h) = (width.to_string(), height.to_string());
        let mut a = vec!["-L", &socket, "new-session", "-d", "-x", &w, "-y", &h];
        let dir = cwd.map(|d| d.display().to_string());
        if let Some(d) = &dir {
            a.extend(["-c", d.as_str()]);
        }
        a.push(&cmd);
        let st = Command::new("tmux")
            .args(&a)
            .status()
            .expect("tmux runs (apt-get install tmux)");
        assert!(st.success(), "tmux new-session failed");
        // OSC 52 from the console lands in tmux's paste buffer.
        let _ = Command::new("tmux")
            .args(["-L", &socket, "set", "-g", "set-clipboard", "on"])
            .status();
        Console {
            socket,
            root: root.to_path_buf(),
            clean: true,
        }
    }

    /// A tmux command on this console's server; its output.
    pub fn tmux(&self, args: &[&str]) -> String {
        let mut a = vec!["-L", self.socket.as_str()];
        a.extend_from_slice(args);
        let o = Command::new("tmux").args(&a).output().expect("tmux");
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    pub fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p"])
    }

    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["-L", self.socket.as_str(), "send-keys"];
        args.extend_from_slice(keys);
        assert!(Command::new("tmux").args(&args).status().unwrap().success());
    }

    /// Type text literally (no key names).
    pub fn text(&self, s: &str) {
        assert!(Command::new("tmux")
            .args(["-L", &self.socket, "send-keys", "-l", s])
            .status()
            .unwrap()
            .success());
    }

    /// Wait until the screen satisfies `pred` (within a minute), returning it.
    pub fn wait(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
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

    pub fn wait_for(&self, text: &str) -> String {
        self.wait(&format!("{text:?}"), |s| s.contains(text))
    }

    /// Is the console still running?
    pub fn alive(&self) -> bool {
        Command::new("tmux")
            .args(["-L", &self.socket, "has-session"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    }

    /// Esc, given time to be Esc: a terminal cannot tell Esc from the start of an Alt
    /// sequence if the next key follows at once.
    pub fn escape(&self) {
        self.keys(&["Escape"]);
        std::thread::sleep(Duration::from_millis(400));
    }

    /// A command at the `:` prompt.
    pub fn command(&self, line: &str) {
        self.keys(&[":"]);
        self.wait_for(":");
        self.text(line);
        self.keys(&["Enter"]);
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        self.tmux(&["kill-server"]);
        if self.clean {
            remove_all(&self.root);
        }
    }
}

/// Removes the containers of its roots when dropped, even when a test fails.
pub struct Cleanup(pub Vec<PathBuf>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for r in &self.0 {
            remove_all(r);
        }
    }
}

/// Remove every container of `root` (unmounts, cgroups, monitors).
pub fn remove_all(root: &Path) {
    if let Ok(o) = Command::new(BIN)
        .args(["ps", "-aq"])
        .env("WHARF_ROOT", root)
        .output()
    {
        for id in String::from_utf8_lossy(&o.stdout).split_whitespace() {
            let _ = Command::new(BIN)
                .args(["rm", "-f", id])
                .env("WHARF_ROOT", root)
                .output();
        }
    }
}

/// `wharf ARGS` on `root`, which must succeed; its stdout.
pub fn wharf_ok(root: &Path, args: &[&str]) -> String {
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

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// The screen without box lines and spaces, to find a text a window wrapped.
pub fn flat(screen: &str) -> String {
    screen
        .chars()
        .filter(|c| !c.is_whitespace() && !"│─┌┐└┘".contains(*c))
        .collect()
}

/// The first line of the screen naming `name` as a word.
pub fn row<'a>(screen: &'a str, name: &str) -> Option<&'a str> {
    screen
        .lines()
        .find(|l| l.split_whitespace().any(|w| w == name))
}
