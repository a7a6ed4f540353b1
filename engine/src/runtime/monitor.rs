//! The per-container monitor: `wharf __monitor ID` (the wharf binary executed again, or
//! a fork of a single-threaded wharf command made to look and hold the same, see
//! `service/spawn.rs`), detached from the caller (its own session), single-threaded.
//! It creates the cgroup, clones the container's init process, owns its stdio (pipes,
//! or a pty with `-t`), writes the json-file log, serves attach clients on a Unix
//! socket, waits for the exit, records exit code, time and OOMKilled, applies the
//! restart policy with Docker's back-off, removes `--rm` containers and cleans up
//! cgroups and networks.
//!
//! The container outlives the CLI or console that started it. If the monitor itself
//! is killed, the engine tells the state truthfully from the recorded pids (see
//! [`super::state`]) and cleans up on `stop`/`rm`.

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::time::{Duration, Instant};

use nix::poll::PollFlags;
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use super::attach::{self, Decoder};
use super::cgroups::Cgroup;
use super::config::ContainerConfig;
use super::logs::{LogWriter, Stream};
use super::process::{self, InitPlan, Spawned, StartFailure, Stdio};
use super::rootfs::RootfsPlan;
use super::state::{self as rstate, now_rfc3339};
use super::{capabilities, net, paths};
use crate::api::{ContainerStatus, RestartPolicy};
use crate::error::{EngineError, Result};
use crate::LocalEngine;

/// Output kept per slow client before it is dropped.
const CLIENT_BUFFER: usize = 8 << 20;

/// Docker's restart back-off: 100 ms, doubling, at most a minute; reset after 10 s of running.
pub struct Backoff {
    current: Duration,
}

impl Backoff {
    pub fn new() -> Self {
        Backoff {
            current: Duration::ZERO,
        }
    }
    /// The delay before the next restart, given how long the last run lasted.
    pub fn next(&mut self, ran: Duration) -> Duration {
        if ran >= Duration::from_secs(10) || self.current.is_zero() {
            self.current = Duration::from_millis(100);
        } else {
            self.current = (self.current * 2).min(Duration::from_secs(60));
        }
        self.current
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new()
    }
}

/// Should a container that exited with `code` be restarted under `policy`?
pub fn should_restart(
    policy: &RestartPolicy,
    code: i32,
    restarts: u32,
    manually_stopped: bool,
) -> bool {
    if manually_stopped {
        return false;
    }
    match policy {
        RestartPolicy::No => false,
        RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
        RestartPolicy::OnFailure { max_retries } => {
            code != 0 && (*max_retries == 0 || restarts < *max_retries)
        }
    }
}

struct Client {
    stream: UnixStream,
    dec: Decoder,
    out: Vec<u8>,
    /// The client that started the container (`run` attached): its stdin EOF closes the container's.
    initial: bool,
}

impl Client {
    fn new(stream: UnixStream, initial: bool) -> Option<Self> {
        stream.set_nonblocking(true).ok()?;
        Some(Client {
            stream,
            dec: Decoder::default(),
            out: Vec::new(),
            initial,
        })
    }
    /// Queue bytes and write what the socket takes; false when the client is gone or too slow.
    fn send(&mut self, data: &[u8]) -> bool {
        self.out.extend_from_slice(data);
        self.flush() && self.out.len() < CLIENT_BUFFER
    }
    fn flush(&mut self) -> bool {
        while !self.out.is_empty() {
            match self.stream.write(&self.out) {
                Ok(0) => return false,
                Ok(n) => {
                    self.out.drain(..n);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return true,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => return false,
            }
        }
        true
    }
}

/// A started container, from the monitor's side.
struct Running {
    pid: i32,
    cgroup: Cgroup,
    /// stdout (or the pty master with `-t`).
    out: Option<OwnedFd>,
    err: Option<OwnedFd>,
    /// Where client stdin goes (pipe, or the pty master).
    stdin: Option<OwnedFd>,
    tty: bool,
    /// The container's mount namespace, held from the start until its exit is told:
    /// the kernel then unmounts the container's file systems when we let go, after the
    /// answer, instead of in the init's exit before its parent hears of it (0.9 ms of
    /// every `run --rm` here). None if it could not be opened (nothing depends on it).
    mounts: Option<std::fs::File>,
}

/// Entry point of `wharf __monitor`. `sync_fd` gets `ok` or the start error;
/// `attach_fd` is an already-connected client (the `run` that started us).
pub fn main(
    engine: &LocalEngine,
    id: &str,
    sync_fd: Option<RawFd>,
    attach_fd: Option<RawFd>,
) -> i32 {
    // SAFETY: the spawner passed these descriptors to us and nothing else owns them.
    let mut sync = sync_fd.map(|fd| unsafe { OwnedFd::from_raw_fd(fd) });
    // SAFETY: as above.
    let attach_client = attach_fd.map(|fd| unsafe { UnixStream::from_raw_fd(fd) });
    if let Some(f) = &sync {
        let _ = nix::fcntl::fcntl(
            f,
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
        );
    }
    if let Some(s) = &attach_client {
        let _ = nix::fcntl::fcntl(
            s,
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
        );
    }
    // The spawner made us a session leader already (setsid before exec); this is for
    // monitors started by hand.
    let _ = nix::unistd::setsid();
    // Do not pin the caller's working directory (and its mount) for the container's lifetime.
    let _ = std::env::set_current_dir("/");
    // The health checker (toolbox) lives as long as this monitor.
    super::toolbox::health::launch(engine, id);
    match run(engine, id, &mut sync, attach_client) {
        Ok(()) => 0,
        Err(e) => {
            // Failed before its start was reported (no config, the attach socket, the
            // log, the state file): the caller hears why, not that we vanished.
            report(
                sync.take(),
                Err(StartFailure {
                    code: 125,
                    message: e.to_string(),
                }),
                &[],
            );
            tracing::error!("monitor for {id}: {e}");
            1
        }
    }
}

/// How a program runs a container's monitor in a forked copy of itself: the state
/// root, the container id, the sync descriptor and the attach descriptor (as
/// `wharf --root ROOT __monitor ID --sync-fd N [--attach-fd M]` gives them); returns
/// the exit code. See `service/spawn.rs`.
pub type InForkMonitor = fn(&Path, &str, RawFd, Option<RawFd>) -> i32;

static IN_FORKS: std::sync::OnceLock<InForkMonitor> = std::sync::OnceLock::new();

/// Let a single-threaded process start monitors by forking and calling `run` in the
/// child, instead of executing the wharf program again. For the wharf program itself
/// (its `main` registers the same entry its `__monitor` command line runs); a program
/// that does not register, such as a test harness, keeps executing wharf.
pub fn run_in_forks(run: InForkMonitor) {
    let _ = IN_FORKS.set(run);
}

pub(crate) fn in_forks() -> Option<InForkMonitor> {
    IN_FORKS.get().copied()
}

/// A monitor that cannot even open its engine (the state root, the policy): tell the
/// spawner why on `sync_fd`, as a failed start does, and give the exit code (125).
pub fn fail_early(sync_fd: RawFd, message: &str) -> i32 {
    // SAFETY: the spawner passed this descriptor to us and nothing else owns it.
    let sync = unsafe { OwnedFd::from_raw_fd(sync_fd) };
    report(
        Some(sync),
        Err(StartFailure {
            code: 125,
            message: message.to_string(),
        }),
        &[],
    );
    125
}

/// Tell the spawner how the start went: `ok` and the steps it took (one a line, for
/// the caller's trace), or `err`, the exit code and the message.
fn report(sync: Option<OwnedFd>, res: std::result::Result<(), StartFailure>, steps: &[String]) {
    if let Some(fd) = sync {
        let mut f = std::fs::File::from(fd);
        let msg = match res {
            Ok(()) => {
                let mut m = "ok\n".to_string();
                for s in steps {
                    m.push_str(&s.replace('\n', " "));
                    m.push('\n');
                }
                m
            }
            Err(e) => format!("err\n{}\n{}", e.code, e.message),
        };
        let _ = f.write_all(msg.as_bytes());
    }
}

fn run(
    engine: &LocalEngine,
    id: &str,
    sync: &mut Option<OwnedFd>,
    attach_client: Option<UnixStream>,
) -> Result<()> {
    let dir = engine.root().containers().join(id);
    let cfg = super::load_config(engine, id)?;
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGCHLD);
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&mask), None)
        .map_err(|e| EngineError::sys("blocking SIGCHLD in the monitor", e))?;
    let sigfd = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .map_err(|e| EngineError::sys("creating the monitor's signalfd", e))?;
    let me = std::process::id() as i32;
    let my_start = rstate::proc_start(me).unwrap_or(0);
    let sock_path = paths::attach_socket(engine, id);
    let _ = std::fs::remove_file(&sock_path);
    let listener = UnixListener::bind(&sock_path).map_err(|e| {
        EngineError::io(
            format!("binding the attach socket {}", sock_path.display()),
            e,
        )
    })?;
    listener
        .set_nonblocking(true)
        .map_err(|e| EngineError::io("attach socket", e))?;

    let mut clients: Vec<Client> = attach_client
        .and_then(|s| Client::new(s, true))
        .into_iter()
        .collect();
    // The starting client may have sent its terminal size already: the pty gets it
    // before the command runs, so the first `stty size` is right.
    let mut size = (0u16, 0u16);
    if let Some(c) = clients.first_mut() {
        let mut b = [0u8; 256];
        while let Ok(n) = c.stream.read(&mut b) {
            if n == 0 {
                break;
            }
            c.dec.push(&b[..n]);
        }
        let mut keep = Decoder::default();
        while let Ok(Some((kind, d))) = c.dec.next_frame() {
            if kind == attach::RESIZE && d.len() == 4 {
                size = (
                    u16::from_be_bytes([d[0], d[1]]),
                    u16::from_be_bytes([d[2], d[3]]),
                );
            } else {
                keep.push(&attach::frame(kind, &d));
            }
        }
        c.dec = keep;
    }
    let mut log = if cfg.spec.log_driver.as_deref() == Some("none") {
        LogWriter::none()
    } else {
        LogWriter::open(
            &paths::log_file(engine, id),
            cfg.spec.log_max_size,
            cfg.spec.log_max_files,
        )?
    };
    let mut backoff = Backoff::new();
    loop {
        // The config may have been updated (limits, restart policy) since the last run.
        let cfg = super::load_config(engine, id).unwrap_or_else(|_| cfg.clone());
        let started_at = Instant::now();
        // What the start does is gathered for the trace of whoever asked for it.
        let (started, gathered) = crate::trace::scoped(|| start_once(engine, &cfg, &dir, size));
        match started {
            Err(fail) => {
                let recorded = rstate::update(&dir, |s| {
                    s.status = ContainerStatus::Exited;
                    s.pid = 0;
                    s.exit_code = fail.code;
                    s.error = fail.message.clone();
                    s.finished_at = now_rfc3339();
                    s.monitor_pid = 0;
                });
                let st = match recorded {
                    Ok(st) => st,
                    Err(e) => {
                        // The start's own failure is what the caller must hear.
                        let message = format!("{} (recording it failed too: {e})", fail.message);
                        report(
                            sync.take(),
                            Err(StartFailure {
                                code: fail.code,
                                message,
                            }),
                            &[],
                        );
                        return Err(e);
                    }
                };
                engine.emit(super::event(&cfg, "die").attr("exitCode", fail.code.to_string()));
                // Remove (--rm) before answering, so the caller never sees a leftover.
                let doomed = finish(engine, &cfg, &st, &sock_path);
                for c in clients.iter_mut() {
                    c.send(&attach::frame(
                        attach::ERROR,
                        format!("{}\n{}", fail.code, fail.message).as_bytes(),
                    ));
                    c.stream.set_nonblocking(false).ok();
                    c.flush();
                }
                report(sync.take(), Err(fail), &[]);
                delete(engine, &cfg, doomed);
                return Ok(());
            }
            Ok(mut running) => {
                let pid_start = rstate::proc_start(running.pid).unwrap_or(0);
                rstate::update(&dir, |s| {
                    s.status = ContainerStatus::Running;
                    s.pid = running.pid;
                    s.pid_start = pid_start;
                    s.monitor_pid = me;
                    s.monitor_start = my_start;
                    s.exit_code = 0;
                    s.oom_killed = false;
                    s.error.clear();
                    s.started_at = now_rfc3339();
                    s.finished_at.clear();
                    s.boot_id = rstate::boot_id();
                })?;
                engine.emit(super::event(&cfg, "start"));
                report(sync.take(), Ok(()), &gathered.steps);
                let status = serve(
                    &mut running,
                    &sigfd,
                    &listener,
                    &mut clients,
                    &mut log,
                    &cfg,
                );
                log.flush();
                let code = if libc::WIFEXITED(status) {
                    libc::WEXITSTATUS(status)
                } else if libc::WIFSIGNALED(status) {
                    128 + libc::WTERMSIG(status)
                } else {
                    255
                };
                let oom = running.cgroup.oom_kills() > 0;
                let ran = started_at.elapsed();
                // The exit is told first, the cleanup (cgroup, network, --rm's files)
                // follows the answer. Meanwhile this monitor stays recorded: a new start
                // of the container waits on the start lock until the cleanup is done,
                // and if this monitor is killed half-way, whoever looks at the container
                // next finishes it (`observe`; `sweep_removed` for --rm's files).
                let start_lock = crate::state::FileLock::exclusive(&dir.join("start.lock")).ok();
                let st = rstate::update(&dir, |s| {
                    let restart = !s.remove_requested
                        && should_restart(
                            &cfg.spec.restart,
                            code,
                            s.restart_count,
                            s.manually_stopped,
                        );
                    s.status = if restart {
                        ContainerStatus::Restarting
                    } else {
                        ContainerStatus::Exited
                    };
                    s.pid = 0;
                    s.exit_code = code;
                    s.oom_killed = oom;
                    s.finished_at = now_rfc3339();
                })?;
                if oom {
                    engine.emit(super::event(&cfg, "oom"));
                }
                engine.emit(super::event(&cfg, "die").attr("exitCode", code.to_string()));
                let last = st.status != ContainerStatus::Restarting;
                // --rm: gone from listings (renamed away) before the client hears the exit.
                let doomed = if last {
                    let _ = std::fs::remove_file(&sock_path);
                    hide_if_removed(engine, &cfg, &st)
                } else {
                    None
                };
                for c in clients.iter_mut() {
                    c.send(&attach::frame(attach::EXIT, code.to_string().as_bytes()));
                    c.stream.set_nonblocking(false).ok();
                    let _ = c.stream.set_write_timeout(Some(Duration::from_secs(2)));
                    c.flush();
                }
                clients.clear();
                if last {
                    // What is left is cleanup no one waits for, at the lowest priority:
                    // the client just woken is often on this CPU, and would otherwise
                    // wait for this monitor's time slice before it can answer.
                    // SAFETY: setpriority on this process; no memory is passed.
                    unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, 19) };
                }
                // The container's mounts go now (before its files, for --rm).
                running.mounts = None;
                if let Err(e) = running.cgroup.remove() {
                    tracing::warn!("removing the cgroup of {id}: {e}");
                }
                net::teardown(engine, &cfg);
                if last {
                    match doomed {
                        Some(d) => {
                            net::forget(engine, &cfg);
                            delete(engine, &cfg, Some(d));
                        }
                        None => {
                            let _ = rstate::update(&dir, |s| {
                                s.monitor_pid = 0;
                                s.monitor_start = 0;
                            });
                        }
                    }
                    drop(start_lock);
                    super::sweep_removed(engine);
                    return Ok(());
                }
                drop(start_lock);
                // Wait out the back-off, giving way to stop/rm.
                let delay = backoff.next(ran);
                let until = Instant::now() + delay;
                while Instant::now() < until {
                    std::thread::sleep(
                        Duration::from_millis(20)
                            .min(until.saturating_duration_since(Instant::now())),
                    );
                    let s = rstate::load(&dir)?;
                    if s.manually_stopped || s.remove_requested {
                        let st = rstate::update(&dir, |s| s.status = ContainerStatus::Exited)?;
                        let doomed = finish(engine, &cfg, &st, &sock_path);
                        delete(engine, &cfg, doomed);
                        return Ok(());
                    }
                }
                rstate::update(&dir, |s| s.restart_count += 1)?;
            }
        }
    }
}

/// For a container to be removed now that it stopped (`--rm`, `rm -f` meanwhile):
/// rename it away (gone from every listing), release its volumes, say `destroy`.
/// Returns where its files went, for [`delete`] once the network is forgotten.
fn hide_if_removed(
    engine: &LocalEngine,
    cfg: &ContainerConfig,
    st: &rstate::RunState,
) -> Option<super::Hidden> {
    if !(cfg.spec.auto_remove || st.remove_requested) {
        return None;
    }
    match super::hide_quick(engine, cfg) {
        Ok(Some(doomed)) => {
            engine.emit(super::event(cfg, "destroy"));
            Some(doomed)
        }
        Ok(None) => None,
        Err(e) => {
            tracing::warn!("removing container {}: {e}", cfg.id);
            None
        }
    }
}

/// After the last exit: drop the socket, mark the monitor gone, remove `--rm` containers.
/// Returns the renamed files of a removed container, deleted once the clients know.
fn finish(
    engine: &LocalEngine,
    cfg: &ContainerConfig,
    st: &rstate::RunState,
    sock: &Path,
) -> Option<super::Hidden> {
    let _ = std::fs::remove_file(sock);
    let dir = engine.root().containers().join(&cfg.id);
    if st.monitor_pid != 0 {
        let _ = rstate::update(&dir, |s| {
            s.monitor_pid = 0;
            s.monitor_start = 0;
        });
    }
    if cfg.spec.auto_remove || st.remove_requested {
        match super::hide_files(engine, cfg) {
            Ok(doomed) => return doomed,
            Err(e) => tracing::warn!("removing container {}: {e}", cfg.id),
        }
    }
    None
}

/// Delete what [`finish`] renamed away (after the clients have their answer).
fn delete(engine: &LocalEngine, cfg: &ContainerConfig, doomed: Option<super::Hidden>) {
    if let Some(d) = doomed {
        if let Err(e) = super::delete_hidden(engine, cfg, d) {
            tracing::warn!("{e}");
        }
    }
}

fn nonblock(fd: &OwnedFd) {
    let _ = nix::fcntl::fcntl(
        fd,
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    );
}

fn pipe() -> std::result::Result<(OwnedFd, OwnedFd), StartFailure> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| StartFailure {
        code: 125,
        message: format!("creating a pipe: {e}"),
    })
}

fn fail125(e: EngineError) -> StartFailure {
    StartFailure {
        code: 125,
        message: e.message,
    }
}

/// Create the cgroup, clone the init process, connect its network, let it exec.
fn start_once(
    engine: &LocalEngine,
    cfg: &ContainerConfig,
    dir: &Path,
    size: (u16, u16),
) -> std::result::Result<Running, StartFailure> {
    let cgroup = Cgroup::for_container(&cfg.id);
    let _ = cgroup.remove(); // a leftover from a killed monitor
    cgroup.create().map_err(fail125)?;
    if let Err(e) = cgroup
        .restrict_devices(cfg.spec.privileged)
        .and_then(|_| cgroup.apply(cfg.resources()))
    {
        let _ = cgroup.remove();
        return Err(fail125(e));
    }
    let res = spawn_in(engine, cfg, dir, &cgroup, size);
    if res.is_err() {
        let _ = cgroup.remove();
    }
    res
}

fn spawn_in(
    engine: &LocalEngine,
    cfg: &ContainerConfig,
    dir: &Path,
    cgroup: &Cgroup,
    size: (u16, u16),
) -> std::result::Result<Running, StartFailure> {
    let tty = cfg.spec.tty;
    let mut console_sock: Option<OwnedFd> = None;
    let (stdio, out, err, stdin) = if tty {
        let (mine, theirs) = nix::sys::socket::socketpair(
            nix::sys::socket::AddressFamily::Unix,
            nix::sys::socket::SockType::Stream,
            None,
            nix::sys::socket::SockFlag::SOCK_CLOEXEC,
        )
        .map_err(|e| StartFailure {
            code: 125,
            message: format!("creating the console socket: {e}"),
        })?;
        console_sock = Some(mine);
        let (rows, cols) = size;
        (
            Stdio::Console {
                socket: theirs,
                rows,
                cols,
            },
            None,
            None,
            None,
        )
    } else {
        let (out_r, out_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        let (in_r, in_w) = if cfg.spec.open_stdin {
            let (r, w) = pipe()?;
            (r, Some(w))
        } else {
            let null = std::fs::File::open("/dev/null")
                .map_err(|e| fail125(EngineError::io("opening /dev/null", e)))?;
            (OwnedFd::from(null), None)
        };
        nonblock(&out_r);
        nonblock(&err_r);
        if let Some(w) = &in_w {
            nonblock(w);
        }
        (
            Stdio::Pipes {
                stdin: in_r,
                stdout: out_w,
                stderr: err_w,
            },
            Some(out_r),
            Some(err_r),
            in_w,
        )
    };
    let caps =
        capabilities::effective_set(&cfg.spec.cap_add, &cfg.spec.cap_drop, cfg.spec.privileged)
            .map_err(fail125)?;
    let cache = engine.root().run().join("seccomp");
    let seccomp = match cfg.seccomp() {
        _ if cfg.spec.privileged => None,
        crate::api::flags::Seccomp::Unconfined => None,
        crate::api::flags::Seccomp::Default => {
            Some(super::seccomp::cached_bpf(&cache, None, &caps).map_err(fail125)?)
        }
        crate::api::flags::Seccomp::Profile(json) => {
            Some(super::seccomp::cached_bpf(&cache, Some(&json), &caps).map_err(fail125)?)
        }
    };
    let host_network = net::is_host(cfg);
    let plan = InitPlan {
        rootfs: RootfsPlan {
            layers: super::mount_points::layers_for(engine, &cfg.layer_dirs),
            upper: dir.join("diff"),
            work: dir.join("work"),
            merged: dir.join("merged"),
            read_only: cfg.spec.read_only,
            privileged: cfg.spec.privileged,
            shm_size: cfg.spec.shm_size.unwrap_or(64 << 20),
            etc_files: vec![
                (dir.join("hostname"), "/etc/hostname"),
                (dir.join("hosts"), "/etc/hosts"),
                (dir.join("resolv.conf"), "/etc/resolv.conf"),
            ],
            console: tty,
            mounts: super::mount_plan(engine, cfg).map_err(fail125)?,
        },
        hostname: cfg.hostname.clone(),
        args: cfg.args.clone(),
        env: cfg.env.clone(),
        workdir: cfg.working_dir.clone(),
        user: cfg.user.clone(),
        caps,
        no_new_privs: cfg.no_new_privs(),
        seccomp,
        ulimits: cfg.spec.ulimits.clone(),
        tty,
        init: cfg.spec.init,
        host_network,
        cgroup_tasks: cgroup.self_join_files().unwrap_or_default(),
    };
    // The files must exist before the init process bind-mounts them.
    for f in ["hostname", "hosts", "resolv.conf"] {
        if !dir.join(f).exists() {
            let _ = std::fs::write(dir.join(f), b"");
        }
    }
    // v2: born in the cgroup (v1: the init joins it itself, see `cgroup_tasks`).
    let into = cgroup.clone_into();
    let spawned: Spawned =
        process::spawn(&plan, stdio, into.as_ref().map(std::os::fd::AsFd::as_fd))
            .map_err(fail125)?;
    drop(into);
    let pid = spawned.pid;
    // The init's mount namespace (it has its own from the clone), held from now on: a
    // command as short as `true` may exit before the release below returns, and its
    // exit would then unmount the container's file systems before its parent hears.
    let mounts = std::fs::File::open(format!("/proc/{pid}/ns/mnt")).ok();
    crate::trace_step!(
        "cloned the init process (host pid {pid}) into new {} namespaces",
        if host_network {
            "pid, mount, uts and ipc (network: the host's)"
        } else {
            "pid, mount, uts, ipc and network"
        }
    );
    let kill_and_reap = |msg: StartFailure| {
        // SAFETY: kill/waitpid on our own child.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            libc::waitpid(pid, std::ptr::null_mut(), 0);
        }
        msg
    };
    // Before the release: the init's own failure, if it had one (making its root
    // file system meanwhile), says more than what it caused here.
    let failed = |msg: StartFailure| {
        let own = spawned.failure_now();
        kill_and_reap(own.unwrap_or(msg))
    };
    if spawned.in_cgroup {
        crate::trace_step!("cloned the init process (host pid {pid}) straight into its cgroup");
    } else if plan.cgroup_tasks.is_empty() {
        if let Err(e) = cgroup.add_proc(pid) {
            return Err(failed(fail125(e)));
        }
    } else {
        crate::trace_step!("the init process (host pid {pid}) joined its cgroup itself (tasks)");
    }
    // In its cgroup, the init makes its root file system while the network is set up
    // here (a failure there is read from it at `release`).
    spawned.proceed();
    // The one place the network is set up: the init process (and its net namespace)
    // exists, the user command has not run yet.
    let files = match net::setup(engine, cfg, pid) {
        Ok(f) => f,
        Err(e) => return Err(failed(fail125(e))),
    };
    for (name, content) in [
        ("hostname", format!("{}\n", cfg.hostname)),
        ("hosts", files.hosts),
        ("resolv.conf", files.resolv_conf),
    ] {
        // Rewritten at every start, and only when the content changed: in place (nothing
        // to keep across a crash, and the container's command runs only after this).
        let path = dir.join(name);
        if std::fs::read(&path).ok().as_deref() != Some(content.as_bytes()) {
            if let Err(e) = crate::state::overwrite(&path, content.as_bytes()) {
                return Err(failed(fail125(EngineError::io(
                    format!("writing {}", path.display()),
                    e,
                ))));
            }
        }
    }
    if let Err(f) = spawned.release(&files.interfaces) {
        // SAFETY: reap our own child, which is exiting.
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
        net::teardown(engine, cfg);
        return Err(f);
    }
    if crate::trace::active() {
        // The init process did all of this before it executed the command.
        for s in init_steps(&plan) {
            crate::trace::step(s);
        }
    }
    let (mut out, mut stdin) = (out, stdin);
    if let Some(sock) = console_sock {
        // The command runs already; its terminal's master was sent before the exec.
        let master = match process::receive_console(&sock) {
            Ok(m) => m,
            Err(e) => return Err(kill_and_reap(fail125(e))),
        };
        let dup = master
            .try_clone()
            .map_err(|e| kill_and_reap(fail125(EngineError::io("pty", e))))?;
        nonblock(&master);
        out = Some(master);
        stdin = Some(dup);
    }
    Ok(Running {
        pid,
        cgroup: cgroup.clone(),
        out,
        err,
        stdin,
        tty,
        mounts,
    })
}

/// What the init process did between the clone and the exec, as [`process`] does it for
/// `plan`: reported once it has reached the exec.
fn init_steps(plan: &InitPlan) -> Vec<String> {
    let r = &plan.rootfs;
    let mut out =
        vec!["the init process unshared a new cgroup namespace (its cgroup is its /)".to_string()];
    out.push(format!(
        "mounted an overlay root: {} image layer{} read-only, a writable upper layer{}",
        r.layers.len(),
        if r.layers.len() == 1 { "" } else { "s" },
        if r.read_only {
            " (the root remounted read-only)"
        } else {
            ""
        }
    ));
    out.push(format!(
        "mounted /proc, /dev, /dev/pts, /dev/shm ({} MiB), /dev/mqueue and /sys{}",
        r.shm_size >> 20,
        if r.privileged { "" } else { " (read-only)" }
    ));
    for m in &r.mounts {
        let s = &m.spec;
        out.push(match s.kind.as_str() {
            "tmpfs" => format!("mounted a tmpfs on {}", s.target),
            kind => format!(
                "{}-mounted {} on {}{}",
                kind,
                s.source,
                s.target,
                if s.read_only { " read-only" } else { "" }
            ),
        });
    }
    out.push("bind-mounted /etc/hostname, /etc/hosts and /etc/resolv.conf".into());
    out.push(format!(
        "pivot_root into the new root; set the hostname {}{}",
        plan.hostname,
        if r.privileged {
            ""
        } else {
            "; masked and read-only paths as Docker's"
        }
    ));
    out.push(format!(
        "kept {} capabilities{}{}",
        plan.caps.len(),
        match &plan.seccomp {
            Some(_) => ", loaded the seccomp filter",
            None => ", no seccomp filter",
        },
        if plan.no_new_privs {
            ", set no_new_privs"
        } else {
            ""
        }
    ));
    out.push(format!(
        "executed {}{}",
        plan.args.first().map(String::as_str).unwrap_or("?"),
        if plan.init {
            " under the tiny init"
        } else {
            ""
        }
    ));
    out
}

fn read_some(fd: &OwnedFd, buf: &mut [u8]) -> Option<usize> {
    // None = would block; Some(0) = closed.
    match nix::unistd::read(fd, buf) {
        Ok(n) => Some(n),
        Err(nix::errno::Errno::EAGAIN) | Err(nix::errno::Errno::EINTR) => None,
        Err(_) => Some(0), // EIO on a pty whose slave side is gone
    }
}

/// Pump output to the log and clients and client input to the container until the
/// init process has exited and its output is drained. Returns the wait status.
fn serve(
    r: &mut Running,
    sigfd: &SignalFd,
    listener: &UnixListener,
    clients: &mut Vec<Client>,
    log: &mut LogWriter,
    cfg: &ContainerConfig,
) -> i32 {
    let mut status: Option<i32> = None;
    let mut drain_deadline: Option<Instant> = None;
    let mut stdin_pending: Vec<u8> = Vec::new();
    let mut stdin_eof = false;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if let Some(st) = status {
            let drained = r.out.is_none() && r.err.is_none();
            if drained || drain_deadline.is_some_and(|d| Instant::now() > d) {
                return st;
            }
        }
        let timeout: libc::c_int = if status.is_some() { 50 } else { -1 };
        let (n_out, n_err) = (r.out.is_some(), r.err.is_some());
        let stdin_is_pty = r.tty;
        let want_stdin_write = !stdin_pending.is_empty() && r.stdin.is_some();
        let out_fd = r.out.as_ref().map(|f| f.as_raw_fd());
        let err_fd = r.err.as_ref().map(|f| f.as_raw_fd());
        let in_fd = r.stdin.as_ref().map(|f| f.as_raw_fd());
        let pfd = |fd: RawFd, events: libc::c_short| libc::pollfd {
            fd,
            events,
            revents: 0,
        };
        let mut fds: Vec<libc::pollfd> = vec![
            pfd(sigfd.as_fd().as_raw_fd(), libc::POLLIN),
            pfd(listener.as_raw_fd(), libc::POLLIN),
            // A negative fd is ignored by poll(2).
            pfd(out_fd.unwrap_or(-1), libc::POLLIN),
            pfd(err_fd.unwrap_or(-1), libc::POLLIN),
            pfd(
                if want_stdin_write {
                    in_fd.unwrap_or(-1)
                } else {
                    -1
                },
                libc::POLLOUT,
            ),
        ];
        for c in clients.iter() {
            let ev = if c.out.is_empty() {
                libc::POLLIN
            } else {
                libc::POLLIN | libc::POLLOUT
            };
            fds.push(pfd(c.stream.as_raw_fd(), ev));
        }
        // SAFETY: poll(2) on a vector of pollfd we own, with its exact length.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
        if n < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            std::thread::sleep(Duration::from_millis(10));
        }
        let rev: Vec<PollFlags> = fds
            .iter()
            .map(|f| PollFlags::from_bits_truncate(f.revents))
            .collect();
        let ready = |i: usize| !rev[i].is_empty();
        if ready(0) {
            while let Ok(Some(_)) = sigfd.read_signal() {}
            if status.is_none() {
                let mut st = 0;
                // SAFETY: waitpid on our own child, writing into a local.
                let w = unsafe { libc::waitpid(r.pid, &mut st, libc::WNOHANG) };
                if w == r.pid {
                    status = Some(st);
                    drain_deadline = Some(Instant::now() + Duration::from_secs(2));
                }
            }
        }
        for (i, stream, present) in [(2, Stream::Stdout, n_out), (3, Stream::Stderr, n_err)] {
            if !present || !ready(i) {
                continue;
            }
            let slot = if stream == Stream::Stdout {
                &mut r.out
            } else {
                &mut r.err
            };
            let Some(fd) = slot.as_ref() else { continue };
            match read_some(fd, &mut buf) {
                None => {}
                Some(0) => *slot = None,
                Some(n) => {
                    log.write(stream, &buf[..n]);
                    let kind = if stream == Stream::Stdout {
                        attach::STDOUT
                    } else {
                        attach::STDERR
                    };
                    let f = attach::frame(kind, &buf[..n]);
                    clients.retain_mut(|c| c.send(&f));
                }
            }
        }
        if ready(4) {
            if let Some(fd) = r.stdin.as_ref() {
                match nix::unistd::write(fd, &stdin_pending) {
                    Ok(n) => {
                        stdin_pending.drain(..n);
                    }
                    Err(nix::errno::Errno::EAGAIN) => {}
                    Err(_) => {
                        stdin_pending.clear();
                        if !stdin_is_pty {
                            r.stdin = None;
                        }
                    }
                }
            }
        }
        let mut gone = Vec::new();
        for (k, c) in clients.iter_mut().enumerate() {
            let fl = rev[5 + k];
            if fl.contains(PollFlags::POLLOUT) && !c.flush() {
                gone.push(k);
                continue;
            }
            if !fl.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR) {
                continue;
            }
            let mut closed = c.dec.fill_from(&mut c.stream, &mut buf);
            loop {
                match c.dec.next_frame() {
                    Ok(Some((attach::STDIN, data))) if !stdin_eof => {
                        stdin_pending.extend_from_slice(&data)
                    }
                    Ok(Some((attach::STDIN_EOF, _))) if c.initial && !stdin_is_pty => {
                        stdin_eof = true
                    }
                    Ok(Some((attach::RESIZE, d))) if stdin_is_pty => {
                        if let (Some((rows, cols)), Some(fd)) =
                            (attach::parse_resize(&d), r.stdin.as_ref())
                        {
                            attach::set_winsize(fd.as_fd(), rows, cols);
                        }
                    }
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(attach::BadFrame) => {
                        closed = true;
                        break;
                    }
                }
            }
            if closed {
                // `run -i` without a tty: the starting client leaving closes stdin (StdinOnce).
                if c.initial && cfg.spec.open_stdin && !stdin_is_pty {
                    stdin_eof = true;
                }
                gone.push(k);
            }
        }
        for k in gone.into_iter().rev() {
            clients.remove(k);
        }
        if stdin_eof && stdin_pending.is_empty() && !stdin_is_pty {
            r.stdin = None;
        }
        // New clients join after this round, so `rev` still matches `clients`.
        if ready(1) {
            while let Ok((s, _)) = listener.accept() {
                if let Some(c) = Client::new(s, false) {
                    clients.push(c);
                }
            }
        }
        if !stdin_pending.is_empty() {
            if let Some(fd) = r.stdin.as_ref() {
                if let Ok(n) = nix::unistd::write(fd, &stdin_pending) {
                    stdin_pending.drain(..n);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_resets() {
        let mut b = Backoff::new();
        let short = Duration::from_millis(10);
        assert_eq!(b.next(short), Duration::from_millis(100));
        assert_eq!(b.next(short), Duration::from_millis(200));
        assert_eq!(b.next(short), Duration::from_millis(400));
        assert_eq!(b.next(Duration::from_secs(11)), Duration::from_millis(100));
        for _ in 0..20 {
            b.next(short);
        }
        assert_eq!(b.next(short), Duration::from_secs(60));
    }

    #[test]
    fn restart_policies() {
        assert!(!should_restart(&RestartPolicy::No, 1, 0, false));
        assert!(should_restart(&RestartPolicy::Always, 0, 5, false));
        assert!(!should_restart(&RestartPolicy::Always, 0, 5, true));
        assert!(should_restart(
            &RestartPolicy::OnFailure { max_retries: 2 },
            1,
            1,
            false
        ));
        assert!(!should_restart(
            &RestartPolicy::OnFailure { max_retries: 2 },
            1,
            2,
            false
        ));
        assert!(!should_restart(
            &RestartPolicy::OnFailure { max_retries: 0 },
            0,
            0,
            false
        ));
    }
}
