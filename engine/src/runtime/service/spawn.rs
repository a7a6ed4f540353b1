//! Starting a container's monitor process: the wharf binary re-executed as
//! `wharf --root ROOT __monitor ID --sync-fd 3 [--attach-fd 4]` in a session of its own.
//! That command line is how people and scripts tell monitors apart (`ps`, the soak's
//! checks); the program skips its usual start-up for it (see `app/src/main.rs`).

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
    exec_monitor(engine, id, name, &sync, attach.as_ref())
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
