//! Namespaces: the container gets new pid, mount, uts, ipc and net namespaces at clone
//! time (net shared with the host for `--network host`), and a new cgroup namespace
//! once the monitor has put it in its cgroup.

use crate::error::{EngineError, Result};

/// Flags for the clone that creates the container's init process.
pub fn clone_flags(host_network: bool) -> libc::c_int {
    let mut f = libc::CLONE_NEWPID | libc::CLONE_NEWNS | libc::CLONE_NEWUTS | libc::CLONE_NEWIPC;
    if !host_network {
        f |= libc::CLONE_NEWNET;
    }
    f
}

/// Unshare the cgroup namespace (the current cgroup becomes its root).
pub fn enter_cgroup_ns() -> Result<()> {
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP)
        .map_err(|e| EngineError::sys("creating the cgroup namespace", e))
}

/// Bring the loopback interface of the current network namespace up.
pub fn loopback_up() -> Result<()> {
    // SAFETY: a plain datagram socket used only for interface ioctls, closed below.
    let s = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if s < 0 {
        return Err(EngineError::io(
            "opening a socket to bring lo up",
            std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: ifreq is plain old data; zeroed is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (i, b) in b"lo".iter().enumerate() {
        req.ifr_name[i] = *b as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS/SIOCSIFFLAGS read and write the ifreq we own.
    let r = unsafe {
        if libc::ioctl(s, libc::SIOCGIFFLAGS, &mut req) < 0 {
            -1
        } else {
            req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            libc::ioctl(s, libc::SIOCSIFFLAGS, &req)
        }
    };
    let err = std::io::Error::last_os_error();
    // SAFETY: closing the socket opened above.
    unsafe { libc::close(s) };
    if r < 0 {
        return Err(EngineError::io("bringing the loopback interface up", err));
    }
    Ok(())
}
