//! The container's init process: cloned by the monitor into new namespaces, it waits
//! for the monitor's go (cgroup and network are ready then), builds the root file
//! system, sets hostname, rlimits, user, capabilities, no_new_privs and seccomp, and
//! execs the user command. Failures before the exec travel back on a close-on-exec
//! pipe with the exit code Docker would give (125 setup, 126 cannot invoke, 127 not found).

use std::ffi::CString;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

use caps::CapsHashSet;

use super::namespaces;
use super::rootfs::{self, RootfsPlan};
use super::{capabilities, rlimits, seccomp, user};
use crate::api::Ulimit;
use crate::error::{EngineError, Result};

/// Everything the init process does, decided by the monitor before the clone.
#[derive(Debug, Clone)]
pub struct InitPlan {
    pub rootfs: RootfsPlan,
    pub hostname: String,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub workdir: String,
    pub user: String,
    pub caps: CapsHashSet,
    pub no_new_privs: bool,
    /// The compiled seccomp program (BPF), `None` for unconfined.
    pub seccomp: Option<Vec<u8>>,
    pub ulimits: Vec<Ulimit>,
    pub tty: bool,
    /// Run a tiny init as pid 1 that reaps zombies and forwards signals (`--init`).
    pub init: bool,
    /// Share the host's network namespace.
    pub host_network: bool,
    /// The files the process writes `0` into to join its cgroup itself, first thing
    /// after the clone ([`super::cgroups::Cgroup::self_join_files`]); empty when the
    /// monitor moves it by pid instead.
    pub cgroup_tasks: Vec<std::path::PathBuf>,
}

/// The init process's stdin, stdout and stderr: pipes (or /dev/null), or with `-t` a
/// pty the init process opens inside the container (its own /dev/pts, as runc does),
/// sending the master back to the monitor over `console`.
pub enum Stdio {
    Pipes {
        stdin: OwnedFd,
        stdout: OwnedFd,
        stderr: OwnedFd,
    },
    Console {
        socket: OwnedFd,
        rows: u16,
        cols: u16,
    },
}

/// A cloned init process, held before its exec until [`Spawned::release`].
pub struct Spawned {
    pub pid: i32,
    /// Born in its cgroup (`clone3` into the cgroup given to [`spawn`]).
    pub in_cgroup: bool,
    go: OwnedFd,
    errors: OwnedFd,
}

/// Why the init process did not get to exec its command.
#[derive(Debug, Clone)]
pub struct StartFailure {
    /// 125, 126 or 127.
    pub code: i32,
    pub message: String,
}

/// An interface the init process configures in its own network namespace (the monitor
/// made it there): index, address, prefix, and the gateway of the default route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    pub index: u32,
    pub ip: std::net::Ipv4Addr,
    pub prefix: u8,
    pub gateway: Option<std::net::Ipv4Addr>,
}

impl Interface {
    fn line(&self) -> String {
        let gw = self
            .gateway
            .map(|g| g.to_string())
            .unwrap_or_else(|| "-".into());
        format!("{} {} {} {gw}\n", self.index, self.ip, self.prefix)
    }

    fn parse(l: &str) -> Option<Interface> {
        let mut w = l.split(' ');
        let index = w.next()?.parse().ok()?;
        let ip = w.next()?.parse().ok()?;
        let prefix = w.next()?.parse().ok()?;
        let gateway = match w.next()? {
            "-" => None,
            g => Some(g.parse().ok()?),
        };
        Some(Interface {
            index,
            ip,
            prefix,
            gateway,
        })
    }
}

impl Spawned {
    /// The init process is in its cgroup: it may make its root file system (while the
    /// monitor sets up the network). `false` if it is gone.
    pub fn proceed(&self) -> bool {
        nix::unistd::write(&self.go, b"c").is_ok()
    }

    /// The init's own failure, if it has already reported one (it failed making its
    /// root file system while the monitor was busy): its message beats what the
    /// monitor then ran into (its namespace gone).
    pub fn failure_now(&self) -> Option<StartFailure> {
        let _ = nix::fcntl::fcntl(
            &self.errors,
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        );
        let mut buf = [0u8; 4096];
        let n = nix::unistd::read(&self.errors, &mut buf).ok()?;
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        if text.is_empty() {
            return None;
        }
        let (code, msg) = text.split_once('\n').unwrap_or(("125", &text));
        Some(StartFailure {
            code: code.parse().unwrap_or(125),
            message: msg.to_string(),
        })
    }

    /// Let the init process go on (with the interfaces it is to configure in its
    /// namespace), and wait until it has exec'd the command (`Ok`) or failed.
    pub fn release(self, ifaces: &[Interface]) -> std::result::Result<(), StartFailure> {
        let mut go = std::fs::File::from(self.go);
        let mut msg = String::from("g");
        for i in ifaces {
            msg.push_str(&i.line());
        }
        let sent = go.write_all(msg.as_bytes()).is_ok();
        drop(go);
        let mut buf = String::new();
        let _ = std::fs::File::from(self.errors).read_to_string(&mut buf);
        if buf.is_empty() && !sent {
            return Err(StartFailure {
                code: 125,
                message: "the container's init process died before it started".into(),
            });
        }
        if buf.is_empty() {
            return Ok(());
        }
        let (code, msg) = buf.split_once('\n').unwrap_or(("125", &buf));
        Err(StartFailure {
            code: code.parse().unwrap_or(125),
            message: msg.to_string(),
        })
    }
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| EngineError::sys("creating a pipe", e))
}

/// `struct clone_args` of clone3(2), up to `cgroup` (CLONE_ARGS_SIZE_VER2).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// fork(2) with `flags` (new namespaces) added; with `cgroup` (an open cgroup v2
/// directory) the child is born in that cgroup (`clone3` with `CLONE_INTO_CGROUP`,
/// Linux 5.7), so nobody has to move it. Returns the pid (0 in the child) and whether
/// the child was born in `cgroup`: an older kernel, or a cgroup it will not clone into,
/// gets a plain clone, and the caller moves the child. The caller must be
/// single-threaded: the child runs on in a copy of it.
pub fn fork_into(
    flags: libc::c_int,
    cgroup: Option<std::os::fd::BorrowedFd<'_>>,
) -> std::io::Result<(i32, bool)> {
    if let Some(fd) = cgroup {
        let args = CloneArgs {
            flags: flags as u64 | CLONE_INTO_CGROUP,
            exit_signal: libc::SIGCHLD as u64,
            cgroup: fd.as_raw_fd() as u64,
            ..Default::default()
        };
        // SAFETY: clone3(2) without CLONE_VM and without a stack behaves like fork(2)
        // (the child returns 0 on the same stack); the caller is single-threaded, so
        // the child owns a consistent copy of memory. `args` outlives the call.
        let pid = unsafe {
            libc::syscall(
                libc::SYS_clone3,
                &args as *const CloneArgs,
                std::mem::size_of::<CloneArgs>(),
            )
        };
        if pid >= 0 {
            return Ok((pid as i32, true));
        }
    }
    // SAFETY: clone(2) without CLONE_VM and without a new stack behaves like fork(2);
    // the caller is single-threaded, so the child owns a consistent copy of memory.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (flags | libc::SIGCHLD) as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    if pid < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((pid as i32, false))
}

/// Clone the init process into new namespaces; with `cgroup` (an open cgroup v2
/// directory) it is born in that cgroup, if the kernel can (Linux 5.7), so nobody has to
/// move it. The caller (the monitor) must be single-threaded: the child runs on in a
/// copy of it.
pub fn spawn(
    plan: &InitPlan,
    stdio: Stdio,
    cgroup: Option<std::os::fd::BorrowedFd<'_>>,
) -> Result<Spawned> {
    let (go_r, go_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    let flags = namespaces::clone_flags(plan.host_network);
    let (pid, in_cgroup) = fork_into(flags, cgroup)
        .map_err(|e| EngineError::io("creating the container's namespaces (clone)", e))?;
    if pid == 0 {
        drop(go_w);
        drop(err_r);
        child(plan, stdio, go_r, err_w);
    }
    drop(go_r);
    drop(err_w);
    drop(stdio);
    Ok(Spawned {
        pid,
        in_cgroup,
        go: go_w,
        errors: err_r,
    })
}

/// The init process: never returns.
fn child(plan: &InitPlan, stdio: Stdio, go: OwnedFd, errors: OwnedFd) -> ! {
    let mut errors = std::fs::File::from(errors);
    let fail = |errors: &mut std::fs::File, code: i32, msg: &str| -> ! {
        let _ = errors.write_all(format!("{code}\n{msg}").as_bytes());
        // SAFETY: _exit ends this process without running the monitor's destructors.
        unsafe { libc::_exit(code) }
    };
    // Into our cgroup first, where we move ourselves (cheaper than being moved);
    // the monitor waits for our report before it counts on it.
    if let Err(e) = super::cgroups::join_self(&plan.cgroup_tasks) {
        fail(&mut errors, 125, &e.message);
    }
    // Two words from the monitor: `c` once we are in our cgroup (the root file system
    // is made meanwhile the monitor sets up the network), then `g` with the interfaces
    // to configure, one per line, until it closes its end.
    let mut go = std::fs::File::from(go);
    let mut b = [0u8; 1];
    match go.read(&mut b) {
        Ok(1) if b[0] == b'c' => {}
        // The monitor went away: nothing to start for.
        // SAFETY: as above.
        _ => unsafe { libc::_exit(125) },
    }
    if let Err(e) = setup(plan, &stdio) {
        fail(&mut errors, 125, &e.message);
    }
    let mut go_msg = String::new();
    match go.read_to_string(&mut go_msg) {
        Ok(_) if go_msg.starts_with('g') => {}
        // SAFETY: as above.
        _ => unsafe { libc::_exit(125) },
    }
    drop(go);
    let ifaces: Vec<Interface> = go_msg[1..].lines().filter_map(Interface::parse).collect();
    if let Err(e) = setup_late(plan, &ifaces) {
        fail(&mut errors, 125, &e.message);
    }
    drop(stdio);
    match exec(plan, &mut errors) {
        Ok(never) => match never {},
        Err(f) => fail(&mut errors, f.code, &f.message),
    }
}

/// What the init does once in its cgroup: its cgroup namespace, session, stdio, root
/// file system, terminal.
fn setup(plan: &InitPlan, stdio: &Stdio) -> Result<()> {
    // The cgroup namespace is made now that the monitor has put us in our cgroup.
    namespaces::enter_cgroup_ns()?;
    reset_signals();
    nix::unistd::setsid().map_err(|e| EngineError::sys("setsid", e))?;
    if let Stdio::Pipes {
        stdin,
        stdout,
        stderr,
    } = stdio
    {
        for (fd, to) in [(stdin, 0), (stdout, 1), (stderr, 2)] {
            // SAFETY: dup2 onto the standard descriptors; both fds are valid.
            if unsafe { libc::dup2(fd.as_raw_fd(), to) } < 0 {
                return Err(EngineError::io(
                    "setting up stdio",
                    std::io::Error::last_os_error(),
                ));
            }
        }
    }
    rootfs::setup(&plan.rootfs)?;
    if let Stdio::Console { socket, rows, cols } = stdio {
        open_console(socket, *rows, *cols)?;
    }
    Ok(())
}

/// What the init does once its network is there: interfaces, hostname, rlimits.
fn setup_late(plan: &InitPlan, ifaces: &[Interface]) -> Result<()> {
    if !plan.host_network {
        if ifaces.is_empty() {
            namespaces::loopback_up()?;
        } else {
            configure_network(ifaces)?;
        }
    }
    nix::unistd::sethostname(&plan.hostname)
        .map_err(|e| EngineError::sys("setting the hostname", e))?;
    rlimits::apply(&plan.ulimits)?;
    Ok(())
}

/// In the container's network namespace, one netlink batch: `lo` up, each interface's
/// address and the interface up (the monitor made the interfaces here, down), the
/// default route.
fn configure_network(ifaces: &[Interface]) -> Result<()> {
    use crate::network::batch;
    let mut b = batch::Batch::default();
    b.push(batch::link_up(batch::LOOPBACK), 0, "bringing lo up");
    for i in ifaces {
        b.push(
            batch::link_up(i.index),
            0,
            format!("bringing interface {} up", i.index),
        );
        b.push(
            batch::add_addr(i.index, i.ip, i.prefix),
            batch::CREATE,
            format!(
                "adding address {}/{} to interface {}",
                i.ip, i.prefix, i.index
            ),
        );
        if let Some(gw) = i.gateway {
            b.push(
                batch::default_route(i.index, gw),
                batch::CREATE,
                format!("adding the default route via {gw}"),
            );
        }
    }
    batch::NlSocket::new()?.run(&b)
}

/// Open a pty in the container's own /dev/pts, make it our stdio and controlling
/// terminal, show it as /dev/console, and send the master to the monitor.
fn open_console(socket: &OwnedFd, rows: u16, cols: u16) -> Result<()> {
    use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
    let master = posix_openpt(
        nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_NOCTTY | nix::fcntl::OFlag::O_CLOEXEC,
    )
    .map_err(|e| EngineError::sys("opening /dev/ptmx in the container", e))?;
    grantpt(&master).map_err(|e| EngineError::sys("grantpt", e))?;
    unlockpt(&master).map_err(|e| EngineError::sys("unlockpt", e))?;
    let name = ptsname_r(&master).map_err(|e| EngineError::sys("ptsname", e))?;
    let slave = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&name)
        .map_err(|e| EngineError::io(format!("opening {name}"), e))?;
    if rows > 0 && cols > 0 {
        super::attach::set_winsize(slave.as_fd(), rows, cols);
    }
    let _ = nix::mount::mount(
        Some(name.as_str()),
        "/dev/console",
        None::<&str>,
        nix::mount::MsFlags::MS_BIND,
        None::<&str>,
    );
    for to in 0..3 {
        // SAFETY: dup2 onto the standard descriptors; the slave fd is valid.
        if unsafe { libc::dup2(slave.as_raw_fd(), to) } < 0 {
            return Err(EngineError::io(
                "setting up the terminal",
                std::io::Error::last_os_error(),
            ));
        }
    }
    // SAFETY: make the pty on fd 0 our controlling terminal; no memory is passed.
    if unsafe { libc::ioctl(0, libc::TIOCSCTTY, 0) } < 0 {
        return Err(EngineError::io(
            "making the pty the controlling terminal",
            std::io::Error::last_os_error(),
        ));
    }
    let fds = [master.as_raw_fd()];
    let cmsg = [nix::sys::socket::ControlMessage::ScmRights(&fds)];
    let iov = [std::io::IoSlice::new(b"m")];
    nix::sys::socket::sendmsg::<()>(
        socket.as_raw_fd(),
        &iov,
        &cmsg,
        nix::sys::socket::MsgFlags::empty(),
        None,
    )
    .map_err(|e| EngineError::sys("handing the terminal to the monitor", e))?;
    Ok(())
}

/// Receive the pty master sent by [`open_console`].
pub fn receive_console(socket: &OwnedFd) -> Result<OwnedFd> {
    let mut buf = [0u8; 1];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = nix::sys::socket::recvmsg::<()>(
        socket.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        nix::sys::socket::MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(|e| EngineError::sys("receiving the container's terminal", e))?;
    for c in msg
        .cmsgs()
        .map_err(|e| EngineError::sys("reading the terminal message", e))?
    {
        if let nix::sys::socket::ControlMessageOwned::ScmRights(fds) = c {
            if let Some(fd) = fds.first() {
                // SAFETY: the kernel just gave us this descriptor; nothing else owns it.
                return Ok(unsafe { OwnedFd::from_raw_fd(*fd) });
            }
        }
    }
    Err(EngineError::internal(
        "the container's init process sent no terminal",
    ))
}

/// Undo the monitor's signal dispositions and mask (Rust ignores SIGPIPE, the monitor
/// blocks SIGCHLD): the command must start with defaults.
pub(crate) fn reset_signals() {
    for sig in 1..32 {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: restoring the default disposition; no handler code is involved.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }
    let empty = nix::sys::signal::SigSet::empty();
    let _ = nix::sys::signal::sigprocmask(
        nix::sys::signal::SigmaskHow::SIG_SETMASK,
        Some(&empty),
        None,
    );
}

fn env_value<'a>(env: &'a [String], key: &str) -> Option<&'a str> {
    env.iter()
        .rev()
        .find_map(|e| e.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
}

/// Find `cmd` in the container's PATH, as Docker reports it.
fn lookup(cmd: &str, env: &[String]) -> std::result::Result<CString, StartFailure> {
    let nf = |m: String| StartFailure {
        code: 127,
        message: m,
    };
    if cmd.contains('/') {
        return match std::fs::metadata(cmd) {
            Ok(_) => CString::new(cmd).map_err(|_| nf(format!("exec: {cmd:?}: invalid name"))),
            Err(_) => Err(nf(format!(
                "exec: {cmd:?}: stat {cmd}: no such file or directory"
            ))),
        };
    }
    let path = env_value(env, "PATH")
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    for dir in path.split(':') {
        let p = Path::new(if dir.is_empty() { "." } else { dir }).join(cmd);
        if let Ok(md) = std::fs::metadata(&p) {
            use std::os::unix::fs::PermissionsExt;
            if md.is_file() && md.permissions().mode() & 0o111 != 0 {
                return CString::new(p.display().to_string())
                    .map_err(|_| nf(format!("exec: {cmd:?}: invalid name")));
            }
        }
    }
    Err(nf(format!(
        "exec: {cmd:?}: executable file not found in $PATH"
    )))
}

pub(crate) fn exec(
    plan: &InitPlan,
    errors: &mut std::fs::File,
) -> std::result::Result<std::convert::Infallible, StartFailure> {
    let setup_err = |e: EngineError| StartFailure {
        code: 125,
        message: e.message,
    };
    let u = user::resolve(Path::new("/"), &plan.user).map_err(setup_err)?;
    let mut env = plan.env.clone();
    if env_value(&env, "HOME").is_none() {
        env.push(format!("HOME={}", u.home));
    }
    if !plan.workdir.is_empty() {
        let _ = std::fs::create_dir_all(&plan.workdir);
    }
    let filter = plan.seccomp.as_deref();
    capabilities::limit_bounding(&plan.caps).map_err(setup_err)?;
    // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: do it while we hold it.
    if let (Some(f), false) = (filter, plan.no_new_privs) {
        seccomp::load_bpf(f).map_err(setup_err)?;
    }
    let sys = |what: &str, e: nix::errno::Errno| StartFailure {
        code: 125,
        message: format!("{what}: {e}"),
    };
    let groups: Vec<nix::unistd::Gid> = u
        .groups
        .iter()
        .map(|g| nix::unistd::Gid::from_raw(*g))
        .collect();
    nix::unistd::setgroups(&groups).map_err(|e| sys("setting supplementary groups", e))?;
    nix::unistd::setgid(nix::unistd::Gid::from_raw(u.gid))
        .map_err(|e| sys("setting the group", e))?;
    // SAFETY: prctl with integer arguments only.
    unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) };
    nix::unistd::setuid(nix::unistd::Uid::from_raw(u.uid))
        .map_err(|e| sys("setting the user", e))?;
    // SAFETY: as above.
    unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 0, 0, 0, 0) };
    capabilities::apply_process_sets(&plan.caps, u.uid == 0).map_err(setup_err)?;
    if plan.no_new_privs {
        // SAFETY: prctl with integer arguments only.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return Err(StartFailure {
                code: 125,
                message: "setting no_new_privs failed".into(),
            });
        }
        if let Some(f) = filter {
            seccomp::load_bpf(f).map_err(setup_err)?;
        }
    }
    if !plan.workdir.is_empty() {
        nix::unistd::chdir(plan.workdir.as_str()).map_err(|e| StartFailure {
            code: 126,
            message: format!(
                "chdir to cwd ({:?}) set in config.json failed: {e}",
                plan.workdir
            ),
        })?;
    }
    let Some(cmd) = plan.args.first() else {
        return Err(StartFailure {
            code: 125,
            message: "no command specified: give one after the image name".into(),
        });
    };
    let path = lookup(cmd, &env)?;
    let argv: Vec<CString> = plan
        .args
        .iter()
        .filter_map(|a| CString::new(a.as_str()).ok())
        .collect();
    let envp: Vec<CString> = env
        .iter()
        .filter_map(|e| CString::new(e.as_str()).ok())
        .collect();
    if plan.init {
        init_and_exec(&path, &argv, &envp, errors)
    } else {
        Err(exec_error(
            cmd,
            nix::unistd::execve(&path, &argv, &envp).unwrap_err(),
        ))
    }
}

fn exec_error(cmd: &str, e: nix::errno::Errno) -> StartFailure {
    let code = if e == nix::errno::Errno::ENOENT {
        127
    } else {
        126
    };
    StartFailure {
        code,
        message: format!("exec: {cmd:?}: {e}"),
    }
}

/// The pid of the command, for the `--init` signal forwarder.
static CHILD: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

extern "C" fn forward(sig: libc::c_int) {
    let pid = CHILD.load(std::sync::atomic::Ordering::Relaxed);
    if pid > 0 {
        // SAFETY: kill is async-signal-safe.
        unsafe { libc::kill(pid, sig) };
    }
}

/// `--init`: stay as pid 1, run the command as a child, forward signals to it, reap
/// every orphan, and exit with the command's status.
fn init_and_exec(
    path: &CString,
    argv: &[CString],
    envp: &[CString],
    errors: &mut std::fs::File,
) -> std::result::Result<std::convert::Infallible, StartFailure> {
    // SAFETY: fork in a single-threaded process.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(StartFailure {
            code: 125,
            message: "fork for --init failed".into(),
        });
    }
    if pid == 0 {
        let e = nix::unistd::execve(path, argv, envp).unwrap_err();
        let f = exec_error(&path.to_string_lossy(), e);
        let _ = errors.write_all(format!("{}\n{}", f.code, f.message).as_bytes());
        // SAFETY: leave the forked child without running destructors.
        unsafe { libc::_exit(f.code) };
    }
    CHILD.store(pid, std::sync::atomic::Ordering::Relaxed);
    // Our copy of the error pipe must not keep the monitor waiting.
    // SAFETY: closing our own descriptor of the error pipe; `errors` is not used after.
    unsafe { libc::close(errors.as_raw_fd()) };
    for sig in 1..32 {
        if [libc::SIGKILL, libc::SIGSTOP, libc::SIGCHLD].contains(&sig) {
            continue;
        }
        // SAFETY: installing an async-signal-safe handler.
        unsafe { libc::signal(sig, forward as *const () as libc::sighandler_t) };
    }
    loop {
        let mut status = 0;
        // SAFETY: waitpid writes the status into our local.
        let r = unsafe { libc::waitpid(-1, &mut status, 0) };
        if r == pid {
            let code = if libc::WIFEXITED(status) {
                libc::WEXITSTATUS(status)
            } else {
                128 + libc::WTERMSIG(status)
            };
            // SAFETY: end pid 1; the kernel kills what is left in the namespace.
            unsafe { libc::_exit(code) };
        }
        if r < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ECHILD) {
            // SAFETY: as above.
            unsafe { libc::_exit(0) };
        }
    }
}

/// Raw fd helper for the monitor: wrap a descriptor inherited at exec.
///
/// # Safety
/// `fd` must be open and owned by nobody else in this process.
pub unsafe fn owned(fd: RawFd) -> OwnedFd {
    // SAFETY: guaranteed by the caller.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interfaces_travel_as_lines() {
        let i = Interface {
            index: 1000,
            ip: "172.17.0.2".parse().unwrap(),
            prefix: 16,
            gateway: Some("172.17.0.1".parse().unwrap()),
        };
        let j = Interface {
            gateway: None,
            index: 1001,
            ..i.clone()
        };
        for x in [&i, &j] {
            assert_eq!(Interface::parse(x.line().trim_end()).as_ref(), Some(x));
        }
        assert_eq!(Interface::parse("1000 not-an-ip 16 -"), None);
    }
}
