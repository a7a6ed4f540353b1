//! Starting a container: its monitor spawned (the process that runs it and outlives
//! the caller), with or without an attached client; and attaching to one that runs.

use std::io::Read;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;

use crate::api::ContainerStatus;
use crate::caller::Caller;
use crate::error::{EngineError, ErrorKind, Result};
use crate::policy::Action;
use crate::runtime::state;
use crate::runtime::{attach, event, paths};
use crate::LocalEngine;

/// The start error for a start failure code, with Docker's wording.
fn start_error(name: &str, code: i32, msg: &str) -> EngineError {
    let kind = if code == 126 || code == 127 {
        ErrorKind::InvalidArgument
    } else {
        ErrorKind::Internal
    };
    EngineError::new(kind, format!("failed to start container {name}: {msg}"))
}

impl LocalEngine {
    /// The lock a start holds until the container runs (or failed to): removals take it
    /// too, so that a container is never removed while it starts.
    pub(super) fn start_lock(&self, id: &str) -> Result<crate::state::FileLock> {
        crate::state::FileLock::exclusive(&paths::dir(self, id).join("start.lock"))
    }

    /// Start the monitor for container `id`; with `attach`, that socket is its first client.
    pub(super) fn spawn_monitor(&self, id: &str, attach: Option<OwnedFd>) -> Result<()> {
        let dir = paths::dir(self, id);
        let _start = self.start_lock(id)?;
        let (cfg, st) = self.observe_as(id, true)?;
        if st.status == ContainerStatus::Paused {
            return Err(EngineError::conflict(format!(
                "container {} is paused: unpause it with `wharf unpause {}`",
                cfg.name, cfg.name
            )));
        }
        if st.status.is_active() && (st.pid_alive() || st.monitor_alive()) {
            return Ok(());
        }
        if st.manually_stopped || st.remove_requested {
            state::update(&dir, |s| {
                s.manually_stopped = false;
                s.remove_requested = false;
            })?;
        }
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| EngineError::sys("creating a pipe", e))?;
        let monitor_pid = super::spawn::monitor(self, id, &cfg.name, w, attach)?;
        let mut msg = String::new();
        let _ = std::fs::File::from(r).read_to_string(&mut msg);
        if let Some(steps) = msg.strip_prefix("ok") {
            crate::trace_step!("started the monitor (pid {}) for {}", monitor_pid, cfg.name);
            // What the monitor did, for the trace of this call.
            for s in steps.lines().filter(|l| !l.is_empty()) {
                crate::trace::step(s);
            }
            return Ok(());
        }
        if let Some(rest) = msg.strip_prefix("err\n") {
            let (code, m) = rest.split_once('\n').unwrap_or(("125", rest));
            return Err(start_error(&cfg.name, code.parse().unwrap_or(125), m));
        }
        let st = state::load(&dir)?;
        Err(EngineError::internal(format!(
            "the monitor for container {} ended without reporting{}; see `wharf inspect {}`",
            cfg.name,
            if st.error.is_empty() {
                String::new()
            } else {
                format!(": {}", st.error)
            },
            cfg.name
        )))
    }

    pub(super) fn start_container(&self, caller: &Caller, id: &str) -> Result<()> {
        let (cfg, _) = self.resolve_owned(caller, Action::ContainerStart, id)?;
        self.spawn_monitor(&cfg.id, None)
    }

    /// Start container `id` with an attached client: returns the client's end of the
    /// attach socket, connected before the command runs so no output is missed. With
    /// `size` (rows, columns) a `-t` container's terminal starts at that size.
    pub fn start_attached(
        &self,
        caller: &Caller,
        name_or_id: &str,
        size: Option<(u16, u16)>,
    ) -> Result<UnixStream> {
        let (cfg, _) = self.resolve_owned(caller, Action::ContainerStart, name_or_id)?;
        let (mut mine, theirs) = UnixStream::pair()
            .map_err(|e| EngineError::io("creating the attach socket pair", e))?;
        if let Some((rows, cols)) = size {
            attach::write_frame(&mut mine, attach::RESIZE, &attach::resize(rows, cols))
                .map_err(|e| EngineError::io("sending the terminal size", e))?;
        }
        self.emit(event(&cfg, "attach"));
        self.spawn_monitor(&cfg.id, Some(OwnedFd::from(theirs)))?;
        Ok(mine)
    }

    /// Attach to a running container's stdio: the attach protocol ([`attach`]) on a socket.
    pub fn attach(&self, caller: &Caller, name_or_id: &str) -> Result<UnixStream> {
        let (cfg, st) = self.resolve_owned(caller, Action::ContainerAttach, name_or_id)?;
        if st.status != ContainerStatus::Running && st.status != ContainerStatus::Paused {
            return Err(EngineError::conflict(format!(
                "container {} is not running: start it with `wharf start -a {}`",
                cfg.name, cfg.name
            )));
        }
        let s = UnixStream::connect(paths::attach_socket(self, &cfg.id)).map_err(|e| {
            EngineError::unavailable(format!(
                "cannot attach to container {}: its monitor does not answer ({e})",
                cfg.name
            ))
        })?;
        self.emit(event(&cfg, "attach"));
        Ok(s)
    }
}
