//! `wharf exec`: a process in a running container's namespaces and cgroup.
//!
//! The engine starts a helper, the wharf binary re-executed as `wharf __exec`, because
//! joining a mount namespace needs a single-threaded process. The helper detaches (like
//! the monitor, so `exec -d` outlives the CLI), joins the container's pid namespace and
//! forks the exec'd process; that child joins the container's cgroup (the helper puts
//! it there from outside) and its cgroup, ipc, uts, net and mount namespaces, takes the
//! container's rlimits, and then goes through the same user, capability, no_new_privs
//! and seccomp steps as the container's own init ([`super::process::exec`]).
//!
//! Descriptors handed to the helper: 3 the exec spec (JSON on a pipe), 4 the sync pipe
//! (`ok\n<pid>` or `err\n<code>\n<message>`), 5 the client's attach-protocol socket
//! (absent with `-d`). The helper pumps the process's stdio to that socket and sends
//! `EXIT` with the exit code at the end; it records `exec_die` itself.

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::attach::{self, Decoder};
use super::cgroups::Cgroup;
use super::process::{InitPlan, StartFailure};
use super::rootfs::RootfsPlan;
use super::{capabilities, rlimits, state};
use crate::api::{ContainerStatus, ExecApi, ExecConfig, ExecSession, EXEC_SIGNAL};
use crate::caller::Caller;
use crate::error::{EngineError, ErrorKind, Result};
use crate::events::{Event, EventType};
use crate::policy::Action;
use crate::LocalEngine;

/// What the helper is told to run.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ExecSpec {
    exec_id: String,
    container: String,
    pid: i32,
    pid_start: u64,
    cfg: ExecConfig,
}

/// An exec event on the container (Docker's `exec_create`, `exec_start`, `exec_die`).
fn exec_event(cfg: &super::config::ContainerConfig, action: &str, exec_id: &str) -> Event {
    let mut ev = Event::new(EventType::Container, action, &cfg.id)
        .attr("name", &cfg.name)
        .attr("image", &cfg.image)
        .attr("execID", exec_id)
        .owned_by(cfg.owner);
    for (k, v) in &cfg.labels {
        ev = ev.attr(k, v);
    }
    ev
}

/// The error for an exec that could not start, with the code Docker would exit with
/// (126 cannot invoke, 127 not found) in the wording the CLI maps back to it.
fn exec_error(name: &str, code: i32, msg: &str) -> EngineError {
    let kind = if code == 126 || code == 127 {
        ErrorKind::InvalidArgument
    } else {
        ErrorKind::Internal
    };
    EngineError::new(
        kind,
        format!("exec failed in container {name} (code {code}): {msg}"),
    )
}

/// The exit code a CLI should use for an exec error (125, 126 or 127).
pub fn exit_code_of(e: &EngineError) -> i32 {
    if let Some(rest) = e.message.split("(code ").nth(1) {
        if let Some(c) = rest.split(')').next().and_then(|c| c.parse().ok()) {
            return c;
        }
    }
    125
}

impl LocalEngine {
    /// Start an exec in a running container; the internal entry used by the API and the
    /// health checker (which has no caller of its own).
    pub(crate) fn exec_unchecked(
        &self,
        cfg: &super::config::ContainerConfig,
        st: &state::RunState,
        ecfg: &ExecConfig,
    ) -> Result<ExecSession> {
        match st.status {
            ContainerStatus::Paused => {
                return Err(EngineError::conflict(format!(
                    "container {} is paused: unpause it with `wharf unpause {}` before exec",
                    cfg.name, cfg.name
                )))
            }
            ContainerStatus::Running if st.pid_alive() => {}
            _ => {
                return Err(EngineError::conflict(format!(
                    "container {} is not running: start it with `wharf start {}` before exec",
                    cfg.name, cfg.name
                )))
            }
        }
        if ecfg.cmd.is_empty() {
            return Err(EngineError::invalid(
                "no command given for exec: wharf exec CONTAINER COMMAND [ARG...]",
            ));
        }
        let exec_id = crate::ids::new_id();
        let spec = ExecSpec {
            exec_id: exec_id.clone(),
            container: cfg.id.clone(),
            pid: st.pid,
            pid_start: st.pid_start,
            cfg: ecfg.clone(),
        };
        let json = serde_json::to_vec(&spec)
            .map_err(|e| EngineError::internal(format!("encoding the exec spec: {e}")))?;
        if json.len() > 60 * 1024 {
            return Err(EngineError::invalid(
                "the exec command and environment are too large (over 60 KiB)",
            ));
        }
        self.emit(exec_event(cfg, "exec_create", &exec_id).attr("execCommand", ecfg.cmd.join(" ")));
        let (spec_r, spec_w) = pipe()?;
        std::fs::File::from(spec_w)
            .write_all(&json)
            .map_err(|e| EngineError::io("writing the exec spec", e))?;
        let (sync_r, sync_w) = pipe()?;
        let (mine, theirs) = if ecfg.detach {
            (None, None)
        } else {
            let (a, b) = UnixStream::pair()
                .map_err(|e| EngineError::io("creating the exec socket pair", e))?;
            (Some(a), Some(OwnedFd::from(b)))
        };
        let exe = self.wharf_exe()?;
        let mut cmd = std::process::Command::new(&exe);
        cmd.arg("--root")
            .arg(self.root().path())
            .arg("__exec")
            // The helper may outlive the caller: do not pin its working directory.
            .current_dir("/")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let fds: Vec<RawFd> = [Some(&spec_r), Some(&sync_w), theirs.as_ref()]
            .iter()
            .map(|f| f.map(|f| f.as_raw_fd()).unwrap_or(-1))
            .collect();
        // SAFETY: between fork and exec only fcntl/dup2 run (async-signal-safe). The
        // descriptors are first moved above 10 so placing them on 3..5 cannot clobber
        // one another; dup2 clears close-on-exec on the targets.
        unsafe {
            cmd.pre_exec(move || {
                let mut high = [-1; 3];
                for (i, fd) in fds.iter().enumerate() {
                    if *fd >= 0 {
                        let n = libc::fcntl(*fd, libc::F_DUPFD_CLOEXEC, 10);
                        if n < 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                        high[i] = n;
                    }
                }
                for (i, fd) in high.iter().enumerate() {
                    if *fd >= 0 && libc::dup2(*fd, 3 + i as i32) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        let status = cmd.status().map_err(|e| {
            EngineError::io(
                format!(
                    "starting the exec helper {} for {}",
                    exe.display(),
                    cfg.name
                ),
                e,
            )
        })?;
        drop(sync_w);
        drop(theirs);
        drop(spec_r);
        if !status.success() {
            return Err(EngineError::internal(format!(
                "the exec helper for container {} failed to start ({status})",
                cfg.name
            )));
        }
        let mut msg = String::new();
        let _ = std::fs::File::from(sync_r).read_to_string(&mut msg);
        if let Some(rest) = msg.strip_prefix("ok\n") {
            let pid = rest.trim().parse().unwrap_or(0);
            self.emit(
                exec_event(cfg, "exec_start", &exec_id).attr("execCommand", ecfg.cmd.join(" ")),
            );
            return Ok(ExecSession {
                id: exec_id,
                pid,
                stream: mine,
            });
        }
        if let Some(rest) = msg.strip_prefix("err\n") {
            let (code, m) = rest.split_once('\n').unwrap_or(("125", rest));
            return Err(exec_error(&cfg.name, code.parse().unwrap_or(125), m));
        }
        Err(EngineError::internal(format!(
            "the exec helper for container {} ended without reporting; the container may have stopped",
            cfg.name
        )))
    }
}

impl ExecApi for LocalEngine {
    fn exec(&self, caller: &Caller, container: &str, ecfg: &ExecConfig) -> Result<ExecSession> {
        let (cfg, st) = self.resolve_owned(caller, Action::ContainerExec, container)?;
        self.exec_unchecked(&cfg, &st, ecfg)
    }
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| EngineError::sys("creating a pipe", e))
}

fn nonblock(fd: &impl AsFd) {
    let _ = nix::fcntl::fcntl(
        fd,
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    );
}

fn cloexec(fd: RawFd) {
    // SAFETY: fcntl on a descriptor we were handed; no memory involved.
    unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
}

/// Entry point of `wharf __exec` (descriptors 3, 4 and optionally 5, see the module doc).
pub fn helper_main(engine: &LocalEngine) -> i32 {
    for fd in 3..=5 {
        cloexec(fd);
    }
    let mut spec_json = Vec::new();
    // SAFETY: the engine handed us fd 3 (the spec pipe) and nothing else owns it.
    let mut spec_file = unsafe { std::fs::File::from_raw_fd(3) };
    if spec_file.read_to_end(&mut spec_json).is_err() {
        return 125;
    }
    drop(spec_file);
    // SAFETY: as above for fd 4, the sync pipe.
    let sync = unsafe { OwnedFd::from_raw_fd(4) };
    // SAFETY: fcntl(F_GETFD) only checks that fd 5 is open.
    let sock = if unsafe { libc::fcntl(5, libc::F_GETFD) } >= 0 {
        // SAFETY: fd 5 is the client socket handed to us.
        Some(unsafe { UnixStream::from_raw_fd(5) })
    } else {
        None
    };
    let spec: ExecSpec = match serde_json::from_slice(&spec_json) {
        Ok(s) => s,
        Err(e) => {
            report(sync, Err((125, format!("bad exec spec: {e}"))));
            return 125;
        }
    };
    // Detach: the engine waits for this first process only.
    // SAFETY: fork in a single-threaded process.
    match unsafe { libc::fork() } {
        -1 => {
            report(sync, Err((125, "forking the exec helper failed".into())));
            return 125;
        }
        0 => {}
        // SAFETY: the parent leaves at once; the child owns the descriptors.
        _ => unsafe { libc::_exit(0) },
    }
    let _ = nix::unistd::setsid();
    run(engine, spec, sync, sock)
}

fn report(sync: OwnedFd, res: std::result::Result<i32, (i32, String)>) {
    let msg = match res {
        Ok(pid) => format!("ok\n{pid}"),
        Err((code, m)) => format!("err\n{code}\n{m}"),
    };
    let _ = std::fs::File::from(sync).write_all(msg.as_bytes());
}

/// The exec'd process's stdio, from the helper's side.
struct Pumps {
    out: Option<OwnedFd>,
    err: Option<OwnedFd>,
    stdin: Option<OwnedFd>,
    tty: bool,
}

/// Namespace descriptors of the container's init, opened from the host.
struct Namespaces {
    pid: OwnedFd,
    /// (fd, CLONE_NEW* flag), joined by the child in this order.
    others: Vec<(OwnedFd, libc::c_int)>,
}

fn open_namespaces(pid: i32) -> std::result::Result<Namespaces, String> {
    let open = |name: &str| -> std::result::Result<OwnedFd, String> {
        std::fs::File::open(format!("/proc/{pid}/ns/{name}"))
            .map(OwnedFd::from)
            .map_err(|e| format!("opening the container's {name} namespace: {e}"))
    };
    let mut others = Vec::new();
    for (name, flag) in [
        ("cgroup", libc::CLONE_NEWCGROUP),
        ("ipc", libc::CLONE_NEWIPC),
        ("uts", libc::CLONE_NEWUTS),
        ("net", libc::CLONE_NEWNET),
        ("mnt", libc::CLONE_NEWNS),
    ] {
        others.push((open(name)?, flag));
    }
    Ok(Namespaces {
        pid: open("pid")?,
        others,
    })
}

/// A pty from the container's own devpts: the master for us, the peer for the process.
fn container_pty(pid: i32) -> std::result::Result<(OwnedFd, OwnedFd), String> {
    let root = super::toolbox::fs::RootDir::of_process(pid).map_err(|e| e.message)?;
    let master = root
        .open(
            "/dev/ptmx",
            rustix::fs::OFlags::RDWR | rustix::fs::OFlags::NOCTTY,
        )
        .map_err(|e| format!("opening the container's /dev/ptmx: {}", e.message))?;
    let zero: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads the int we own; the fd is a pty master.
    if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &zero) } < 0 {
        return Err(format!(
            "unlocking the pty: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: TIOCGPTPEER returns a new descriptor for the slave; no memory is passed.
    let peer = unsafe {
        libc::ioctl(
            master.as_raw_fd(),
            libc::TIOCGPTPEER,
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    };
    if peer < 0 {
        return Err(format!(
            "opening the pty's peer: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: the ioctl just returned this new descriptor.
    Ok((master, unsafe { OwnedFd::from_raw_fd(peer) }))
}

fn run(engine: &LocalEngine, spec: ExecSpec, sync: OwnedFd, sock: Option<UnixStream>) -> i32 {
    let fail = |sync: OwnedFd, code: i32, msg: String| {
        report(sync, Err((code, msg)));
        code
    };
    let cfg = match super::load_config(engine, &spec.container) {
        Ok(c) => c,
        Err(e) => return fail(sync, 125, e.message),
    };
    let ns = match open_namespaces(spec.pid) {
        Ok(n) => n,
        Err(m) => return fail(sync, 125, m),
    };
    // The descriptors must belong to the recorded init, not to a recycled pid.
    if !state::proc_alive(spec.pid, spec.pid_start) {
        return fail(
            sync,
            125,
            format!("container {} stopped before the exec could start", cfg.name),
        );
    }
    let ecfg = &spec.cfg;
    let null = || {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/null")
            .map(OwnedFd::from)
            .map_err(|e| format!("opening /dev/null: {e}"))
    };
    let mk_pipe =
        || nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"));
    // (child stdin, stdout, stderr), helper's ends.
    let setup = (|| -> std::result::Result<([OwnedFd; 3], Pumps), String> {
        if ecfg.detach || sock.is_none() {
            return Ok((
                [null()?, null()?, null()?],
                Pumps {
                    out: None,
                    err: None,
                    stdin: None,
                    tty: false,
                },
            ));
        }
        if ecfg.tty {
            let (master, slave) = container_pty(spec.pid)?;
            if let Some((rows, cols)) = ecfg.console_size {
                attach::set_winsize(master.as_fd(), rows, cols);
            }
            let s2 = slave.try_clone().map_err(|e| e.to_string())?;
            let s3 = slave.try_clone().map_err(|e| e.to_string())?;
            let m2 = master.try_clone().map_err(|e| e.to_string())?;
            nonblock(&master);
            return Ok((
                [slave, s2, s3],
                Pumps {
                    out: Some(master),
                    err: None,
                    stdin: Some(m2),
                    tty: true,
                },
            ));
        }
        let (out_r, out_w) = mk_pipe()?;
        let (err_r, err_w) = mk_pipe()?;
        nonblock(&out_r);
        nonblock(&err_r);
        let (in_r, in_w) = if ecfg.stdin {
            let (r, w) = mk_pipe()?;
            nonblock(&w);
            (r, Some(w))
        } else {
            (null()?, None)
        };
        Ok((
            [in_r, out_w, err_w],
            Pumps {
                out: Some(out_r),
                err: Some(err_r),
                stdin: in_w,
                tty: false,
            },
        ))
    })();
    let (child_stdio, pumps) = match setup {
        Ok(x) => x,
        Err(m) => return fail(sync, 125, m),
    };
    let plan = match exec_plan(&cfg, ecfg, &engine.root().run().join("seccomp")) {
        Ok(p) => p,
        Err(m) => return fail(sync, 125, m),
    };
    // setns(CLONE_NEWPID) only moves our future children into the namespace.
    // SAFETY: setns with a namespace descriptor we own.
    if unsafe { libc::setns(ns.pid.as_raw_fd(), libc::CLONE_NEWPID) } < 0 {
        return fail(
            sync,
            125,
            format!(
                "joining the container's pid namespace: {}",
                std::io::Error::last_os_error()
            ),
        );
    }
    let (go_r, go_w) = match mk_pipe() {
        Ok(p) => p,
        Err(m) => return fail(sync, 125, m),
    };
    let (err_r, err_w) = match mk_pipe() {
        Ok(p) => p,
        Err(m) => return fail(sync, 125, m),
    };
    // v2: born in the container's cgroup (v1: it joins it itself, see `cgroup_tasks`).
    let cgroup = Cgroup::for_container(&cfg.id);
    let into = cgroup.clone_into();
    // This helper is single-threaded: a fork is safe.
    let (child, in_cgroup) = match super::process::fork_into(0, into.as_ref().map(|f| f.as_fd())) {
        Ok(x) => x,
        Err(e) => return fail(sync, 125, format!("forking the exec process failed: {e}")),
    };
    drop(into);
    if child == 0 {
        drop(go_w);
        drop(err_r);
        drop(pumps);
        child_main(&plan, &ns, child_stdio, go_r, err_w);
    }
    drop(go_r);
    drop(err_w);
    drop(child_stdio);
    drop(ns);
    let kill_child = |msg: String| {
        // SAFETY: kill and reap our own child.
        unsafe {
            libc::kill(child, libc::SIGKILL);
            libc::waitpid(child, std::ptr::null_mut(), 0);
        }
        msg
    };
    if !in_cgroup && plan.cgroup_tasks.is_empty() {
        if let Err(e) = cgroup.add_proc(child) {
            let m = kill_child(format!("joining the container's cgroup: {}", e.message));
            return fail(sync, 125, m);
        }
    }
    // A failed write means it is gone already: its own words (joining its cgroup,
    // say) are on the error pipe, read below.
    let sent = std::fs::File::from(go_w).write_all(b"g").is_ok();
    let mut buf = String::new();
    let _ = std::fs::File::from(err_r).read_to_string(&mut buf);
    if buf.is_empty() && !sent {
        let m = kill_child("the exec process died before it started".into());
        return fail(sync, 125, m);
    }
    if !buf.is_empty() {
        // SAFETY: reap our own child, which is exiting.
        unsafe { libc::waitpid(child, std::ptr::null_mut(), 0) };
        let (code, m) = buf.split_once('\n').unwrap_or(("125", &buf));
        return fail(sync, code.parse().unwrap_or(125), m.to_string());
    }
    report(sync, Ok(child));
    let code = pump(child, pumps, sock);
    engine.emit(exec_event(&cfg, "exec_die", &spec.exec_id).attr("exitCode", code.to_string()));
    0
}

/// The init plan for the exec'd process: the container's security settings and
/// environment, with the exec's command, extra env, user and working directory.
fn exec_plan(
    cfg: &super::config::ContainerConfig,
    ecfg: &ExecConfig,
    seccomp_cache: &std::path::Path,
) -> std::result::Result<InitPlan, String> {
    let caps =
        capabilities::effective_set(&cfg.spec.cap_add, &cfg.spec.cap_drop, cfg.spec.privileged)
            .map_err(|e| e.message)?;
    // The same compiled profile as the container's (from the engine's BPF cache).
    let seccomp = match cfg.seccomp() {
        _ if cfg.spec.privileged => None,
        crate::api::flags::Seccomp::Unconfined => None,
        crate::api::flags::Seccomp::Default => {
            Some(super::seccomp::cached_bpf(seccomp_cache, None, &caps).map_err(|e| e.message)?)
        }
        crate::api::flags::Seccomp::Profile(json) => Some(
            super::seccomp::cached_bpf(seccomp_cache, Some(&json), &caps).map_err(|e| e.message)?,
        ),
    };
    let mut env = cfg.env.clone();
    let mut set = |kv: &str| {
        let key = kv.split('=').next().unwrap_or("");
        env.retain(|e| e.split('=').next() != Some(key));
        env.push(kv.to_string());
    };
    if ecfg.tty {
        set("TERM=xterm");
    }
    for e in &ecfg.env {
        if e.contains('=') {
            set(e);
        }
    }
    Ok(InitPlan {
        rootfs: RootfsPlan {
            layers: vec![],
            upper: Default::default(),
            work: Default::default(),
            merged: Default::default(),
            read_only: false,
            privileged: false,
            shm_size: 0,
            etc_files: vec![],
            console: false,
            mounts: vec![],
        },
        hostname: cfg.hostname.clone(),
        args: ecfg.cmd.clone(),
        env,
        workdir: ecfg
            .workdir
            .clone()
            .unwrap_or_else(|| cfg.working_dir.clone()),
        user: ecfg.user.clone().unwrap_or_else(|| cfg.user.clone()),
        caps,
        no_new_privs: cfg.no_new_privs(),
        seccomp,
        ulimits: cfg.spec.ulimits.clone(),
        tty: ecfg.tty,
        init: false,
        host_network: false,
        cgroup_tasks: Cgroup::for_container(&cfg.id)
            .self_join_files()
            .unwrap_or_default(),
    })
}

/// The exec'd process before its exec: never returns.
fn child_main(
    plan: &InitPlan,
    ns: &Namespaces,
    stdio: [OwnedFd; 3],
    go: OwnedFd,
    errors: OwnedFd,
) -> ! {
    let mut errors = std::fs::File::from(errors);
    let fail = |errors: &mut std::fs::File, code: i32, msg: String| -> ! {
        let _ = errors.write_all(format!("{code}\n{msg}").as_bytes());
        // SAFETY: leave the forked child without running the helper's destructors.
        unsafe { libc::_exit(code) }
    };
    // Into the container's cgroup, moving ourselves where that is cheaper.
    if let Err(e) = super::cgroups::join_self(&plan.cgroup_tasks) {
        fail(&mut errors, 125, e.message);
    }
    let mut b = [0u8; 1];
    match std::fs::File::from(go).read(&mut b) {
        Ok(1) => {}
        // SAFETY: as above.
        _ => unsafe { libc::_exit(125) },
    }
    // We are in the container's cgroup now: its cgroup namespace comes first, then the
    // others, mount last (it changes our root and working directory).
    for (fd, flag) in &ns.others {
        // SAFETY: setns with a namespace descriptor we own.
        if unsafe { libc::setns(fd.as_raw_fd(), *flag) } < 0 {
            fail(
                &mut errors,
                125,
                format!(
                    "joining the container's namespace ({flag:#x}): {}",
                    std::io::Error::last_os_error()
                ),
            );
        }
    }
    super::process::reset_signals();
    if nix::unistd::setsid().is_err() {
        fail(&mut errors, 125, "setsid failed".into());
    }
    for (fd, to) in stdio.iter().zip(0..) {
        // SAFETY: dup2 onto the standard descriptors; both are valid.
        if unsafe { libc::dup2(fd.as_raw_fd(), to) } < 0 {
            fail(&mut errors, 125, "setting up stdio failed".into());
        }
    }
    drop(stdio);
    // SAFETY: make the pty on fd 0 our controlling terminal; no memory is passed.
    if plan.tty && unsafe { libc::ioctl(0, libc::TIOCSCTTY, 0) } < 0 {
        fail(
            &mut errors,
            125,
            "making the pty the controlling terminal failed".into(),
        );
    }
    if let Err(e) = rlimits::apply(&plan.ulimits) {
        fail(&mut errors, 125, e.message);
    }
    match super::process::exec(plan, &mut errors) {
        Ok(never) => match never {},
        Err(StartFailure { code, message }) => fail(&mut errors, code, message),
    }
}

fn read_some(fd: &OwnedFd, buf: &mut [u8]) -> Option<usize> {
    // None = would block; Some(0) = closed.
    match nix::unistd::read(fd, buf) {
        Ok(n) => Some(n),
        Err(nix::errno::Errno::EAGAIN) | Err(nix::errno::Errno::EINTR) => None,
        Err(_) => Some(0), // EIO on a pty whose other side is gone
    }
}

/// Pump stdio between the process and the client until the process has exited and
/// its output is drained; returns its exit code.
fn pump(child: i32, mut p: Pumps, mut sock: Option<UnixStream>) -> i32 {
    let mut status: Option<i32> = None;
    let mut drain_deadline: Option<Instant> = None;
    let mut pending: Vec<u8> = Vec::new();
    let mut stdin_eof = false;
    let mut dec = Decoder::default();
    let mut buf = vec![0u8; 64 * 1024];
    if let Some(s) = &sock {
        nonblock(s);
    }
    let send = |sock: &mut Option<UnixStream>, kind: u8, data: &[u8]| {
        if let Some(s) = sock.as_mut() {
            let _ = s.set_nonblocking(false);
            let ok = attach::write_frame(s, kind, data).is_ok();
            let _ = s.set_nonblocking(true);
            if !ok {
                // The client left: the process runs on, its output is dropped.
                *sock = None;
            }
        }
    };
    loop {
        if status.is_none() {
            let mut st = 0;
            // SAFETY: waitpid on our own child, writing into a local.
            if unsafe { libc::waitpid(child, &mut st, libc::WNOHANG) } == child {
                status = Some(st);
                drain_deadline = Some(Instant::now() + Duration::from_secs(1));
            }
        }
        if let Some(st) = status {
            let drained = p.out.is_none() && p.err.is_none();
            if drained || drain_deadline.is_some_and(|d| Instant::now() > d) {
                let code = if libc::WIFEXITED(st) {
                    libc::WEXITSTATUS(st)
                } else if libc::WIFSIGNALED(st) {
                    128 + libc::WTERMSIG(st)
                } else {
                    255
                };
                send(&mut sock, attach::EXIT, code.to_string().as_bytes());
                return code;
            }
        }
        let pfd = |fd: Option<RawFd>, events: libc::c_short| libc::pollfd {
            fd: fd.unwrap_or(-1),
            events,
            revents: 0,
        };
        let mut fds = [
            pfd(p.out.as_ref().map(|f| f.as_raw_fd()), libc::POLLIN),
            pfd(p.err.as_ref().map(|f| f.as_raw_fd()), libc::POLLIN),
            pfd(
                if pending.is_empty() {
                    None
                } else {
                    p.stdin.as_ref().map(|f| f.as_raw_fd())
                },
                libc::POLLOUT,
            ),
            pfd(sock.as_ref().map(|s| s.as_raw_fd()), libc::POLLIN),
        ];
        // The child's exit is noticed by polling waitpid every 50 ms.
        // SAFETY: poll(2) on an array we own, with its exact length.
        unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 50) };
        for (i, kind) in [(0usize, attach::STDOUT), (1, attach::STDERR)] {
            if fds[i].revents == 0 {
                continue;
            }
            let slot = if i == 0 { &mut p.out } else { &mut p.err };
            let Some(fd) = slot.as_ref() else { continue };
            match read_some(fd, &mut buf) {
                None => {}
                Some(0) => *slot = None,
                Some(n) => send(&mut sock, kind, &buf[..n]),
            }
        }
        if fds[2].revents != 0 {
            if let Some(fd) = p.stdin.as_ref() {
                match nix::unistd::write(fd, &pending) {
                    Ok(n) => {
                        pending.drain(..n);
                    }
                    Err(nix::errno::Errno::EAGAIN) => {}
                    Err(_) => {
                        pending.clear();
                        if !p.tty {
                            p.stdin = None;
                        }
                    }
                }
            }
        }
        if fds[3].revents != 0 {
            let mut closed = false;
            if let Some(s) = sock.as_mut() {
                closed |= dec.fill_from(s, &mut buf);
            }
            loop {
                match dec.next_frame() {
                    Ok(Some((attach::STDIN, d))) if !stdin_eof => pending.extend_from_slice(&d),
                    Ok(Some((attach::STDIN_EOF, _))) => stdin_eof = true,
                    Ok(Some((attach::RESIZE, d))) if p.tty => {
                        if let (Some((rows, cols)), Some(fd)) =
                            (attach::parse_resize(&d), p.stdin.as_ref())
                        {
                            attach::set_winsize(fd.as_fd(), rows, cols);
                        }
                    }
                    Ok(Some((EXEC_SIGNAL, d))) => {
                        if let Some(sig) = std::str::from_utf8(&d)
                            .ok()
                            .and_then(|s| s.trim().parse::<i32>().ok())
                        {
                            if status.is_none() {
                                // SAFETY: kill(2) on our own, not yet reaped, child.
                                unsafe { libc::kill(child, sig) };
                            }
                        }
                    }
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(_) => {
                        closed = true;
                        break;
                    }
                }
            }
            if closed {
                sock = None;
                if !p.tty {
                    stdin_eof = true;
                }
            }
        }
        if stdin_eof && pending.is_empty() && !p.tty {
            p.stdin = None;
        }
    }
}
