//! The engine on a cgroup-v2-only kernel: boots Debian's kernel under qemu (software
//! emulation) with the real `wharf` binary, busybox and the checks in an initramfs
//! (`vmtest/`), and fails unless every check reports PASS before the time limit.
//!
//! Needs root and the Debian packages qemu-system-x86, linux-image-amd64, cpio and
//! busybox-static (`.ci/run` installs them). `WHARF_VM_TIMEOUT` (seconds) changes the
//! time limit; `WHARF_SKIP_VM_TEST=1` skips the test on purpose (it says so).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Every check the guest must report as PASS, in the order `vmtest/checks.sh` runs them.
const EXPECTED: &[&str] = &[
    "boot",
    "cgroup2_only",
    "controllers",
    "info_v2",
    "image_demo",
    "run_exit_codes",
    "overlay_rootfs",
    "devices",
    "oom_kill",
    "pids_limit",
    "cpus_half",
    "pause_freeze",
    "update_live",
    "stats_cgroup",
    "exec_cgroup",
    "bridge_network",
    "rm_no_cgroup",
];

/// Default time limit for build + boot + all checks.
const DEFAULT_TIMEOUT_SECS: u64 = 420;

const MARK: &str = "WHARF-VM ";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("app/ has a parent")
        .to_path_buf()
}

/// Kills and reaps the guest (the qemu process this test started) if the test ends early.
struct Guest(Child);

impl Drop for Guest {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// What the guest said about each check.
#[derive(Debug, Default)]
struct Report {
    passed: Vec<String>,
    failed: Vec<String>,
    done: bool,
}

fn parse_line(report: &mut Report, line: &str) {
    let Some(at) = line.find(MARK) else { return };
    let rest = &line[at + MARK.len()..];
    let name_of = |s: &str| {
        s.split_whitespace()
            .next()
            .unwrap_or("")
            .trim_end_matches(':')
            .to_string()
    };
    if let Some(r) = rest.strip_prefix("PASS ") {
        report.passed.push(name_of(r));
    } else if let Some(r) = rest.strip_prefix("FAIL ") {
        report.failed.push(name_of(r));
    } else if rest.starts_with("DONE") {
        report.done = true;
    }
}

#[test]
fn engine_on_cgroup_v2_only_kernel() {
    if std::env::var_os("WHARF_SKIP_VM_TEST").is_some() {
        eprintln!("cgroup2_vm: skipped because WHARF_SKIP_VM_TEST is set");
        return;
    }
    assert!(
        nix::unistd::geteuid().is_root(),
        "cgroup2_vm: must run as root (reads /boot/vmlinuz-*, as CI does)"
    );
    let start = Instant::now();
    let timeout = Duration::from_secs(
        std::env::var("WHARF_VM_TIMEOUT")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(DEFAULT_TIMEOUT_SECS),
    );
    let root = repo_root();
    let wharf = env!("CARGO_BIN_EXE_wharf");
    let work = tempfile::Builder::new()
        .prefix("cgroup2-vm-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("create a temp dir under target/tmp");

    let build = Command::new(root.join("vmtest/build-initramfs.sh"))
        .arg(work.path())
        .arg(wharf)
        .output()
        .expect("run vmtest/build-initramfs.sh");
    assert!(
        build.status.success(),
        "building the initramfs failed ({}):\n{}{}",
        build.status,
        String::from_utf8_lossy(&build.stdout),
        String::from_utf8_lossy(&build.stderr)
    );
    eprintln!("{}", String::from_utf8_lossy(&build.stderr).trim_end());
    let built = start.elapsed();

    let child = Command::new(root.join("vmtest/boot.sh"))
        .arg(work.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start vmtest/boot.sh (qemu-system-x86_64: install qemu-system-x86)");
    let mut guest = Guest(child);

    let (tx, rx) = mpsc::channel::<String>();
    let mut readers = Vec::new();
    let stdout = guest.0.stdout.take().expect("piped stdout");
    let stderr = guest.0.stderr.take().expect("piped stderr");
    for (stream, prefix) in [
        (Box::new(stdout) as Box<dyn std::io::Read + Send>, ""),
        (Box::new(stderr), "qemu: "),
    ] {
        let tx = tx.clone();
        readers.push(std::thread::spawn(move || {
            for line in BufReader::new(stream).split(b'\n') {
                let Ok(line) = line else { break };
                let text = String::from_utf8_lossy(&line).replace('\r', "");
                if tx.send(format!("{prefix}{text}")).is_err() {
                    break;
                }
            }
        }));
    }
    drop(tx);

    let mut console = String::new();
    let mut report = Report::default();
    let mut timed_out = false;
    loop {
        let left = timeout.saturating_sub(start.elapsed());
        if left.is_zero() {
            timed_out = true;
            break;
        }
        match rx.recv_timeout(left) {
            Ok(line) => {
                parse_line(&mut report, &line);
                console.push_str(&line);
                console.push('\n');
            }
            // Both streams closed: qemu has exited.
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                timed_out = true;
                break;
            }
        }
    }
    // On a timeout this kills qemu, which closes the pipes and ends the readers.
    drop(guest);
    for r in readers {
        let _ = r.join();
    }

    let log = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cgroup2-vm-console.log");
    let _ = std::fs::write(&log, &console);
    eprintln!(
        "cgroup2_vm: initramfs built in {:.1}s, guest finished after {:.1}s total; console log in {}",
        built.as_secs_f64(),
        start.elapsed().as_secs_f64(),
        log.display()
    );

    let missing: Vec<&str> = EXPECTED
        .iter()
        .copied()
        .filter(|n| !report.passed.iter().any(|p| p == n))
        .collect();
    let ok = !timed_out && report.done && report.failed.is_empty() && missing.is_empty();
    assert!(
        ok,
        "cgroup-v2 guest: {}failed {:?}, not passed {:?}, finished: {}\n--- guest console ---\n{}",
        if timed_out {
            format!("timed out after {}s; ", timeout.as_secs())
        } else {
            String::new()
        },
        report.failed,
        missing,
        report.done,
        console
    );
}

#[test]
fn parses_guest_lines() {
    let mut r = Report::default();
    for l in [
        "\u{1b}c\u{1b}[?7lWHARF-VM PASS boot (0s)",
        "WHARF-VM FAIL oom_kill (3s, rc 1): exit code 0, expected 137",
        "WHARF-VM   | detail",
        "[    2.7] something else",
        "WHARF-VM DONE passed=1 failed=1",
    ] {
        parse_line(&mut r, l);
    }
    assert_eq!(r.passed, vec!["boot"]);
    assert_eq!(r.failed, vec!["oom_kill"]);
    assert!(r.done);
}
