//! Console cold start: from the `wharf` process's start to its first full frame with
//! 1000 containers (a pre-made root; the header's counts and the list drawn), on a
//! pseudo-terminal of 200x50 the bench reads; median of `ROUNDS` starts. Docker has no
//! console: beside it, `docker ps -a` with as many containers on a dockerd of its own
//! (the time to see the same list), from the same run. With `WHARF_BASE_BIN` an older
//! binary is timed on the same root too.
//!
//! Then the fleet: the console on three hosts at once (the embedded engine, a `wharf
//! serve` on a unix socket, a dockerd) with `FLEET_CONTAINERS` (300) in all, plus a
//! fourth host that accepts connections and never answers: the time to the first
//! full frame of the fleet view with every host's containers.
//!
//! `cargo bench -p wharf --bench console_start` (`CONSOLE_CONTAINERS` (1000) and
//! `ROUNDS` (10) change the sizes; root for dockerd). A frame ends with the end of a
//! synchronized update (`ESC [ ? 2026 l`), which the console writes around each one.
//! Figures are printed with the load; nothing is asserted.

#[path = "support/dockerd.rs"]
mod dockerd;

use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dockerd::{env_usize, load, make_root, median, ms, Dockerd};

const BIN: &str = env!("CARGO_BIN_EXE_wharf");

/// Start the console of `bin` on `root` in a new pty; the time until its first full
/// frame showing `n` containers.
fn first_frame(bin: &str, root: &Path, n: usize) -> Duration {
    let ws = nix::pty::Winsize {
        ws_row: 50,
        ws_col: 200,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let pty = nix::pty::openpty(Some(&ws), None).expect("openpty");
    let slave: OwnedFd = pty.slave;
    // The console must not inherit the master: a console writing to a terminal only it
    // holds open would block for ever.
    let _ = nix::fcntl::fcntl(
        &pty.master,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    );
    let master = std::fs::File::from(pty.master);
    let io = |fd: &OwnedFd| Stdio::from(fd.try_clone().expect("dup"));
    let mut cmd = Command::new(bin);
    cmd.arg("--root")
        .arg(root)
        .args(["--keymap", "default"])
        .env("TERM", "xterm-256color")
        .env_remove("WHARF_HOST")
        .stdin(io(&slave))
        .stdout(io(&slave))
        .stderr(io(&slave));
    // SAFETY: setsid and the TIOCSCTTY ioctl (async-signal-safe) between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            libc::ioctl(0, libc::TIOCSCTTY, 0);
            Ok(())
        });
    }
    let t = Instant::now();
    let mut child = cmd.spawn().expect("starting the console");
    drop(slave);
    let want = format!("■ {n} stopped");
    let mut seen = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut found_at: Option<usize> = None;
    let deadline = Instant::now() + Duration::from_secs(60);
    let took = loop {
        let mut fds = [nix::poll::PollFd::new(
            master.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        let _ = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(100u16));
        assert!(Instant::now() < deadline, "the console never showed {want}");
        let got = match (&master).read(&mut buf) {
            Ok(0) | Err(_) => panic!("the console ended before its first frame"),
            Ok(k) => k,
        };
        seen.extend_from_slice(&buf[..got]);
        if found_at.is_none() {
            found_at = find(&seen, want.as_bytes());
        }
        if let Some(at) = found_at {
            // The frame holding the counts is whole once its synchronized update ends.
            if find(&seen[at..], b"\x1b[?2026l").is_some() {
                break t.elapsed();
            }
        }
    };
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    // Drain until it is gone (it restores the terminal on the way out).
    let fd = master.as_raw_fd();
    let _ = nix::fcntl::fcntl(
        &master,
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    );
    let end = Instant::now() + Duration::from_secs(10);
    while child.try_wait().ok().flatten().is_none() && Instant::now() < end {
        // SAFETY: read(2) into a buffer we own, on the pty master we hold.
        let _ = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = child.kill();
    let _ = child.wait();
    took
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let n = env_usize("CONSOLE_CONTAINERS", 1000);
    let rounds = env_usize("ROUNDS", 10);
    let tmp = tempfile::Builder::new()
        .prefix("wcs")
        .tempdir_in("/tmp")
        .expect("temp dir");
    let root = tmp.path().join("root");
    make_root(&root, n, "cs-");
    let mut bins: Vec<(String, String)> = vec![("wharf".into(), BIN.into())];
    if let Ok(b) = std::env::var("WHARF_BASE_BIN") {
        bins.push((format!("wharf ({b})"), b));
    }
    // Once each first: the summary file is built, caches are warm.
    for (_, b) in &bins {
        first_frame(b, &root, n);
    }
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); bins.len()];
    for r in 0..rounds {
        for j in 0..bins.len() {
            let i = (j + r) % bins.len();
            times[i].push(first_frame(&bins[i].1, &root, n));
        }
    }
    println!(
        "console cold start to the first full frame, {n} containers, 200x50, median of {rounds} (load {}):",
        load()
    );
    for (i, (name, _)) in bins.iter().enumerate() {
        println!(
            "  {name:<40} {:7.1} ms (goal < 100 ms)",
            ms(median(times[i].clone()))
        );
    }
    let docker = if nix::unistd::geteuid().is_root() {
        Dockerd::start(&tmp.path().join("docker"))
    } else {
        None
    };
    if let Some(d) = &docker {
        let archive = tmp.path().join("demo.tar");
        let o = Command::new(BIN)
            .arg("--root")
            .arg(&root)
            .args(["save", "-o"])
            .arg(&archive)
            .arg("wharf/demo")
            .output()
            .expect("wharf save");
        assert!(o.status.success(), "wharf save");
        d.load(&archive);
        d.create_many(n, "wharf/demo", "cs-");
        let _ = d.docker(&["ps", "-a"]);
        let mut v = Vec::new();
        for _ in 0..rounds {
            let t = Instant::now();
            let o = d.docker(&["ps", "-a"]);
            v.push(t.elapsed());
            assert!(o.status.success(), "docker ps -a");
        }
        println!(
            "  {:<40} {:7.1} ms (docker has no console: the time to the same list; load {})",
            "docker ps -a (dockerd)",
            ms(median(v)),
            load()
        );
    }
    drop(docker);
    fleet(tmp.path(), &root, rounds);
}

/// The console on `root` with `args` in a tmux of its own (200x50): the time until the
/// screen shows `n` containers in the header. The hosts answer one after another and
/// the console redraws only what changed, so the count is read off the screen (tmux
/// keeps it), not off the byte stream; tmux's own start (a few ms) is counted in.
fn fleet_frame(root: &Path, n: usize, args: &[String]) -> Duration {
    // A server of its own each time (a name reused at once may meet the last one
    // still going away).
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let socket = format!("wharf-bench-{}-{nanos}", std::process::id());
    let cmd = format!(
        "env TERM=xterm-256color {BIN} --root {} --keymap default {}",
        root.display(),
        args.join(" ")
    );
    let want = format!("■ {n} stopped");
    let t = Instant::now();
    let st = Command::new("tmux")
        .args([
            "-L",
            &socket,
            "new-session",
            "-d",
            "-x",
            "200",
            "-y",
            "50",
            &cmd,
        ])
        .status()
        .expect("tmux (apt-get install tmux)");
    assert!(st.success(), "tmux new-session");
    let deadline = Instant::now() + Duration::from_secs(60);
    let took = loop {
        let o = Command::new("tmux")
            .args(["-L", &socket, "capture-pane", "-p"])
            .output()
            .expect("tmux capture-pane");
        if String::from_utf8_lossy(&o.stdout).contains(&want) {
            break t.elapsed();
        }
        assert!(
            Instant::now() < deadline,
            "the fleet view never showed {want}"
        );
        std::thread::sleep(Duration::from_millis(2));
    };
    let _ = Command::new("tmux")
        .args(["-L", &socket, "kill-server"])
        .output();
    took
}

/// The fleet view's cold start: three hosts with a third of the containers each, and
/// one that never answers.
fn fleet(tmp: &Path, demo_root: &Path, rounds: usize) {
    let per = env_usize("FLEET_CONTAINERS", 300) / 3;
    let local = tmp.join("fleet-local");
    make_root(&local, per, "fa-");
    let served = tmp.join("fleet-served");
    make_root(&served, per, "fb-");
    let sock = tmp.join("fleet-served.sock");
    let mut serve = Command::new(BIN)
        .arg("--root")
        .arg(&served)
        .args(["serve", "--socket"])
        .arg(&sock)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("wharf serve");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::os::unix::net::UnixStream::connect(&sock).is_err() {
        assert!(Instant::now() < deadline, "wharf serve did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Accepts (the backlog does) and never answers.
    let dead = tmp.join("fleet-dead.sock");
    let _silent = std::os::unix::net::UnixListener::bind(&dead).expect("a silent socket");
    let mut hosts = vec![
        "--host".to_string(),
        "local".into(),
        "--host".into(),
        format!("wharf+unix://{}", sock.display()),
        "--host".into(),
        format!("wharf+unix://{}", dead.display()),
    ];
    let mut n = 2 * per;
    let docker = if nix::unistd::geteuid().is_root() {
        Dockerd::start(&tmp.join("fleet-docker"))
    } else {
        None
    };
    if let Some(d) = &docker {
        let archive = tmp.join("fleet-demo.tar");
        let o = Command::new(BIN)
            .arg("--root")
            .arg(demo_root)
            .args(["save", "-o"])
            .arg(&archive)
            .arg("wharf/demo")
            .output()
            .expect("wharf save");
        assert!(o.status.success(), "wharf save");
        d.load(&archive);
        d.create_many(per, "wharf/demo", "fd-");
        hosts.extend([
            "--host".into(),
            format!("docker+unix://{}", d.sock.display()),
        ]);
        n += per;
    }
    fleet_frame(&local, n, &hosts);
    let v: Vec<Duration> = (0..rounds)
        .map(|_| fleet_frame(&local, n, &hosts))
        .collect();
    println!(
        "fleet view cold start to the first full frame: {} hosts with {n} containers in all and one that never answers, median of {rounds} (load {}):\n  {:<40} {:7.1} ms (goal < 300 ms)",
        if docker.is_some() { 3 } else { 2 },
        load(),
        "wharf",
        ms(median(v))
    );
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(serve.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    let _ = serve.wait();
}
