//! A killed `wharf load` leaves its staging under `<root>/tmp/load-*`: a running engine
//! (`wharf serve`) shows it in `system df` and gives it back on `image prune`; the next
//! start of an engine removes it. A load still running in another process keeps its
//! staging through all of that. The loads are the real binary reading a big archive
//! from a pipe the test feeds slowly (it writes part of one big layer and waits), and
//! are killed with SIGKILL. Every process is ended by pid.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_wharf");
const MIB: u64 = 1 << 20;

/// Children ended by pid when the test ends, however it ends.
struct Children(Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn wharf(root: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.arg("--root")
        .arg(root)
        .env_remove("WHARF_ROOT")
        .env_remove("WHARF_HOST")
        .stdin(Stdio::null());
    c
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(t0.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn tree_size(dir: &Path) -> u64 {
    let mut total = 0;
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        match e.file_type() {
            Ok(t) if t.is_dir() => total += tree_size(&e.path()),
            Ok(t) if t.is_file() => total += e.metadata().map(|m| m.len()).unwrap_or(0),
            _ => {}
        }
    }
    total
}

/// The load staging directory whose owner file names `pid`.
fn staging_of(root: &Path, pid: u32) -> Option<PathBuf> {
    std::fs::read_dir(root.join("tmp"))
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("load-"))
                && std::fs::read_to_string(p.join(".owner"))
                    .is_ok_and(|o| o.starts_with(&format!("pid {pid} ")))
        })
}

fn load_dirs(root: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root.join("tmp"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("load-"))
        })
        .collect();
    v.sort();
    v
}

/// `wharf load` from a pipe: the start of an archive whose one layer is 4 GiB, of which
/// `bytes` are written; the pipe stays open (returned), as a slow sender's would. Waits
/// until the load has staged them.
fn start_load(root: &Path, bytes: u64, kids: &mut Children) -> (u32, PathBuf, ChildStdin) {
    let mut child = wharf(root)
        .arg("load")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut stdin = child.stdin.take().unwrap();
    kids.0.push(child);
    let mut h = tar::Header::new_gnu();
    h.set_path(format!("{:064x}/layer.tar", 1)).unwrap();
    h.set_size(4 << 30);
    h.set_mode(0o644);
    h.set_cksum();
    stdin.write_all(h.as_bytes()).unwrap();
    let chunk = vec![0u8; MIB as usize];
    for _ in 0..bytes / MIB {
        stdin.write_all(&chunk).unwrap();
    }
    stdin.flush().unwrap();
    let mut dir = None;
    wait_for(
        &format!("load {pid} to stage {bytes} bytes"),
        Duration::from_secs(60),
        || {
            dir = staging_of(root, pid);
            dir.as_deref()
                .is_some_and(|d| tree_size(d) + 2 * MIB >= bytes)
        },
    );
    (pid, dir.unwrap(), stdin)
}

/// SIGKILL the child `pid` (one of `kids`) and reap it.
fn kill(kids: &mut Children, pid: u32) {
    let c = kids.0.iter_mut().find(|c| c.id() == pid).unwrap();
    c.kill().unwrap();
    c.wait().unwrap();
}

/// The `Staging` line of `system df --format json`.
fn staging_df(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "system df: {}", text(o));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["Type"] == "Staging")
        .unwrap_or_else(|| panic!("no Staging line in: {}", text(o)))
}

#[test]
fn a_killed_load_leaves_staging_that_df_shows_and_prune_and_start_reclaim() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root (the state root's tmp/ and wharf serve)");
        return;
    }
    let dir = tempfile::Builder::new()
        .prefix("wstage")
        .tempdir_in("/tmp")
        .unwrap();
    let root = dir.path().join("root");
    let sock = dir.path().join("wharf.sock");
    let mut kids = Children(Vec::new());
    // A long-running engine, started before any load: it sees the leftovers as they are.
    kids.0.push(
        wharf(&root)
            .arg("serve")
            .arg("--socket")
            .arg(&sock)
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for("wharf serve", Duration::from_secs(20), || sock.exists());
    let host = format!("unix://{}", sock.display());
    let served = |args: &[&str]| -> Output {
        Command::new(BIN)
            .arg("--host")
            .arg(&host)
            .args(args)
            .env_remove("WHARF_ROOT")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };

    // One load that keeps running throughout, one that is killed mid-layer.
    let (_live_pid, live_dir, live_pipe) = start_load(&root, 8 * MIB, &mut kids);
    let (killed_pid, killed_dir, _pipe) = start_load(&root, 48 * MIB, &mut kids);
    kill(&mut kids, killed_pid);
    let left = tree_size(&killed_dir);
    assert!(left >= 46 * MIB, "the killed load staged only {left} bytes");

    // The running engine shows it: two staging directories, one active, the killed
    // one's bytes reclaimable.
    let st = staging_df(&served(&["system", "df", "--format", "json"]));
    assert_eq!(st["TotalCount"], 2, "{st}");
    assert_eq!(st["Active"], 1, "{st}");
    let reclaimable = st["ReclaimableBytes"].as_u64().unwrap();
    assert!(
        reclaimable >= left && reclaimable < left + MIB,
        "{st} (left {left})"
    );
    assert!(st["SizeBytes"].as_u64().unwrap() >= left + 6 * MIB, "{st}");
    let table = served(&["system", "df"]);
    assert!(
        text(&table).lines().any(|l| l.starts_with("Staging")),
        "{}",
        text(&table)
    );

    // `image prune` gives it back, and leaves the running load's staging alone.
    let o = served(&["image", "prune", "-f"]);
    assert!(o.status.success(), "image prune: {}", text(&o));
    assert!(!killed_dir.exists(), "prune left {}", killed_dir.display());
    assert!(live_dir.exists(), "prune removed a running load's staging");
    let out = text(&o);
    let reclaimed = out
        .lines()
        .find_map(|l| l.strip_prefix("Total reclaimed space: "))
        .unwrap_or_else(|| panic!("{out}"));
    let (n, unit) = reclaimed.trim().split_at(reclaimed.trim().len() - 2);
    assert!(
        unit == "MB" && n.parse::<f64>().unwrap() * 1e6 >= left as f64 * 0.99,
        "reclaimed {reclaimed}, left {left}"
    );
    let st = staging_df(&served(&["system", "df", "--format", "json"]));
    assert_eq!(
        (st["TotalCount"].as_u64(), st["Active"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(st["ReclaimableBytes"], 0, "{st}");

    // Another killed load: the next start of an engine (any wharf command) removes it.
    let (again_pid, again_dir, _pipe2) = start_load(&root, 16 * MIB, &mut kids);
    kill(&mut kids, again_pid);
    assert!(again_dir.exists());
    let o = wharf(&root).arg("images").output().unwrap();
    assert!(o.status.success(), "images: {}", text(&o));
    assert!(
        !again_dir.exists(),
        "engine start left {}",
        again_dir.display()
    );
    assert!(
        live_dir.exists(),
        "engine start removed a running load's staging"
    );
    assert_eq!(load_dirs(&root), vec![live_dir.clone()]);

    // The running load, cut short by its sender, fails and removes its own staging.
    drop(live_pipe);
    wait_for("the live load to end", Duration::from_secs(30), || {
        !live_dir.exists()
    });
    assert!(load_dirs(&root).is_empty(), "{:?}", load_dirs(&root));
}
