//! Starting a container's monitor process: the wharf binary re-executed as
//! `wharf --root ROOT __monitor ID --sync-fd 3 [--attach-fd 4]` in a session of its own.
//! That command line is how people and scripts tell monitors apart (`ps`, the soak's
//! checks); the program skips its usual start-up for it (see `app/src/main.rs`).
//!
//! A single-threaded wharf process (a command such as `wharf run`) that registered its
//! monitor entry ([`crate::runtime::monitor::run_in_forks`]) forks instead: the child
//! is the monitor without loading the program again (about 1.5 ms of every start). It
//! first makes itself what the exec would have made it: the descriptors as above and
//! no others (so no lock of its parent's stays held), stdio on /dev/null, a session of
//! its own, signals at their defaults and unblocked, the same command line in
//! /proc/PID/cmdline (written over its argument area, see [`show_command_line`]). Where
//! that area is too small for it, the child executes the program as before. A
//! multi-threaded process (the console, `wharf serve`) always executes it: a fork
//! copies one thread, and another may hold a lock the copy would then wait on for ever.

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;

use crate::error::{EngineError, Result};
use crate::LocalEngine;

/// The monitor's arguments (after the program name).
fn monitor_args(root: &Path, id: &str, attach: bool) -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = vec![
        "--root".into(),
        root.as_os_str().to_owned(),
        "__monitor".into(),
        id.into(),
        "--sync-fd".into(),
        "3".into(),
    ];
    if attach {
        args.push("--attach-fd".into());
        args.push("4".into());
    }
    args
}

/// Put `sync` on 3 and `attach` on 4 (moved above 10 first, so that placing one
/// cannot clobber the other; dup2 clears close-on-exec on the target).
/// Async-signal-safe: runs between fork and exec.
fn place_fds(sync: i32, attach: Option<i32>) -> std::io::Result<()> {
    // SAFETY: fcntl and dup2 on descriptors this process owns.
    unsafe {
        let high = |fd: i32| {
            let n = libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10);
            if n < 0 {
                Err(std::io::Error::last_os_error())
            } else {
                Ok(n)
            }
        };
        let w = high(sync)?;
        let a = match attach {
            Some(a) => Some(high(a)?),
            None => None,
        };
        if libc::dup2(w, 3) < 0 {
            return Err(std::io::Error::last_os_error());
        }
        if let Some(a) = a {
            if libc::dup2(a, 4) < 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
    }
    Ok(())
}

/// Start the monitor for container `id` (`name` for messages), `sync` its end of the
/// pipe it reports on, `attach` its first client. Returns its pid.
pub(super) fn monitor(
    engine: &LocalEngine,
    id: &str,
    name: &str,
    sync: OwnedFd,
    attach: Option<OwnedFd>,
) -> Result<i32> {
    if let Some(run) = crate::runtime::monitor::in_forks() {
        if !engine.wharf_exe_named() && single_threaded() {
            return fork_monitor(engine, id, name, &sync, attach.as_ref(), run);
        }
    }
    exec_monitor(engine, id, name, &sync, attach.as_ref())
}

/// Fields `first..first + n` of /proc/self/stat (numbered from 1, as proc(5) does),
/// as numbers; None if unreadable. The command name (field 2) may hold spaces and
/// parentheses: fields are counted after its end.
fn self_stat(first: usize, n: usize) -> Option<Vec<usize>> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    let v: Vec<usize> = rest
        .split_whitespace()
        .skip(first - 3)
        .take(n)
        .map_while(|f| f.parse().ok())
        .collect();
    (v.len() == n).then_some(v)
}

/// Does this process run one thread only (field 20 of /proc/self/stat)?
fn single_threaded() -> bool {
    self_stat(20, 1).is_some_and(|v| v[0] == 1)
}

fn fork_monitor(
    engine: &LocalEngine,
    id: &str,
    name: &str,
    sync: &OwnedFd,
    attach: Option<&OwnedFd>,
    run: crate::runtime::monitor::InForkMonitor,
) -> Result<i32> {
    use std::os::unix::ffi::OsStrExt;
    let exe = engine.wharf_exe()?;
    let root = engine.root().path().to_path_buf();
    let args = monitor_args(&root, id, attach.is_some());
    // The command line the child shows: the one it would be executed with.
    let title = std::iter::once(exe.as_os_str())
        .chain(args.iter().map(|a| a.as_os_str()))
        .map(|a| a.as_bytes())
        .collect::<Vec<_>>()
        .join(&b' ');
    let id_owned = id.to_string();
    let wfd = sync.as_raw_fd();
    let afd = attach.map(|a| a.as_raw_fd());
    // SAFETY: this process runs one thread (checked just above), so the child is a
    // whole copy: no lock is held by a thread that does not exist there.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(EngineError::io(
            format!("starting the monitor for container {name}"),
            std::io::Error::last_os_error(),
        ));
    }
    if pid == 0 {
        // The child never returns into its parent's code: it ends in _exit, so none of
        // the parent's objects (whose descriptors are closed here) is dropped twice.
        let code = match become_monitor(wfd, afd, title) {
            // A panic must not unwind into the parent's frames (its command's code).
            Ok(true) => {
                std::panic::catch_unwind(|| run(&root, &id_owned, 3, afd.map(|_| 4))).unwrap_or(101)
            }
            // Nothing to report on: the parent hears that the monitor ended.
            Err(_) => 125,
            Ok(false) => {
                // Could not show the monitor's command line: run the program as before
                // (descriptors and stdio are in place; `exec` returns only on failure).
                let _ = std::process::Command::new(&exe).args(&args).exec();
                125
            }
        };
        // SAFETY: ends the child without running its parent's exit handlers.
        unsafe { libc::_exit(code) }
    }
    // Whoever lives longer reaps it, as for an executed monitor.
    std::thread::spawn(move || {
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
    });
    Ok(pid)
}

/// In the forked child: the descriptors, session, signals and command line an executed
/// monitor has. Ok(false): the command line could not be shown (the caller executes
/// the program instead; the descriptors are already where it expects them).
fn become_monitor(sync: i32, attach: Option<i32>, title: Vec<u8>) -> std::io::Result<bool> {
    place_fds(sync, attach)?;
    // SAFETY: plain system calls on this process's own descriptors, signals and memory.
    unsafe {
        let n = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if n < 0 {
            return Err(std::io::Error::last_os_error());
        }
        for fd in 0..3 {
            libc::dup2(n, fd);
        }
        // Every other descriptor goes: the parent's locks, sockets and files.
        let first = if attach.is_some() { 5 } else { 4 };
        if libc::syscall(
            libc::SYS_close_range,
            first as libc::c_uint,
            libc::c_uint::MAX,
            0,
        ) != 0
        {
            for fd in first..4096 {
                libc::close(fd);
            }
        }
        libc::setsid();
        // As exec does: caught signals back to their defaults (ignored ones stay
        // ignored), SIGPIPE at its default as a spawned command has it, none blocked.
        // SIGSEGV and SIGBUS keep Rust's stack-overflow report, which an executed wharf
        // installs too (this thread's guard page and alternate stack came along).
        for sig in 1..=libc::SIGRTMAX() {
            if [libc::SIGKILL, libc::SIGSTOP, libc::SIGSEGV, libc::SIGBUS].contains(&sig) {
                continue;
            }
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(sig, std::ptr::null(), &mut old) == 0
                && old.sa_sigaction != libc::SIG_DFL
                && (old.sa_sigaction != libc::SIG_IGN || sig == libc::SIGPIPE)
            {
                libc::signal(sig, libc::SIG_DFL);
            }
        }
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
        // The parent's freed heap is of no use here: give its pages back.
        libc::malloc_trim(0);
    }
    // The command line people and scripts know a monitor by.
    Ok(show_command_line(&title).is_ok())
}

/// Show `title` as this process's command line (/proc/PID/cmdline, `ps`): written over
/// the area the kernel shows, which holds the parent's arguments and environment
/// strings (the environment is copied out first), as setproctitle does. The kernel
/// then shows the text up to its NUL: one string, the arguments separated by spaces.
/// Err when the area is too small for it (a short command line in an empty
/// environment) or not laid out as the kernel lays it out.
fn show_command_line(title: &[u8]) -> std::io::Result<()> {
    let refuse = |what: &str| std::io::Error::other(what.to_string());
    // Fields 48-51: arg_start arg_end env_start env_end.
    let Some([arg_start, arg_end, env_start, env_end]) =
        self_stat(48, 4).and_then(|v| <[usize; 4]>::try_from(v).ok())
    else {
        return Err(refuse("no argument area in /proc/self/stat"));
    };
    if env_start != arg_end || env_end <= arg_start || title.len() + 1 > env_end - arg_start {
        return Err(refuse("the argument area is too small"));
    }
    extern "C" {
        static mut environ: *mut *mut libc::c_char;
    }
    // SAFETY: one thread; the environment strings are copied before their area is
    // written, and the area [arg_start, env_end) is this process's own stack memory.
    unsafe {
        let mut copies: Vec<*mut libc::c_char> = Vec::new();
        let mut p = environ;
        while !p.is_null() && !(*p).is_null() {
            copies.push(std::ffi::CStr::from_ptr(*p).to_owned().into_raw());
            p = p.add(1);
        }
        copies.push(std::ptr::null_mut());
        environ = Vec::leak(copies).as_mut_ptr();
        let area = std::slice::from_raw_parts_mut(arg_start as *mut u8, env_end - arg_start);
        // Not NUL at the end of the arguments: the kernel reads up to the first NUL.
        area.fill(b' ');
        area[..title.len()].copy_from_slice(title);
        area[title.len()] = 0;
    }
    Ok(())
}

fn exec_monitor(
    engine: &LocalEngine,
    id: &str,
    name: &str,
    sync: &OwnedFd,
    attach: Option<&OwnedFd>,
) -> Result<i32> {
    let exe = engine.wharf_exe()?;
    let mut cmd = std::process::Command::new(&exe);
    cmd.args(monitor_args(engine.root().path(), id, attach.is_some()))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let wfd = sync.as_raw_fd();
    let afd = attach.map(|a| a.as_raw_fd());
    // SAFETY: between fork and exec only fcntl/dup2/setsid (async-signal-safe) run.
    unsafe {
        cmd.pre_exec(move || {
            place_fds(wfd, afd)?;
            // Its own session: no terminal signals from the caller's process group.
            libc::setsid();
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(|e| {
        EngineError::io(
            format!(
                "starting the monitor {} for container {name}",
                exe.display()
            ),
            e,
        )
    })?;
    let pid = child.id() as i32;
    // The monitor outlives us in its own session; whoever lives longer reaps it
    // (this process, if it is a long-lived console; init otherwise).
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    Ok(pid)
}
