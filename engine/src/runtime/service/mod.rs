//! The container service: [`ContainerApi`] for [`LocalEngine`], one file per operation
//! or concern, each an `impl LocalEngine` block that this module's trait impl calls.
//! Process control (the monitor, the container's init, its cgroups) is the rest of
//! [`crate::runtime`].
//!
//! [`create`] makes a container, [`start`] spawns its monitor (and attaches),
//! [`lifecycle`] stops, restarts, kills, pauses and waits, [`update`] changes its
//! limits, [`remove`] removes (`rm`, `prune`), [`names`] names and finds, [`observe`]
//! tells its state truthfully, [`list`] lists, [`status`] puts a status in words,
//! [`inspect`] shows it and its logs, [`recover`] cleans up after killed operations and
//! reboots.

mod create;
mod inspect;
mod lifecycle;
pub(super) mod list;
pub(super) mod names;
pub(super) mod observe;
pub(super) mod recover;
pub(super) mod remove;
mod spares;
mod spawn;
mod start;
pub(super) mod status;
mod update;

use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::api::{
    ContainerApi, ContainerCreate, ContainerListOptions, ContainerSummary, LogLine, LogOptions,
    PruneReport, RemoveOptions, Resources, RestartPolicy,
};
use crate::caller::Caller;
use crate::error::Result;
use crate::LocalEngine;

fn ms(d: Duration) -> Duration {
    d
}

/// Poll `f` every few milliseconds until it holds or `timeout` passes.
fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    let mut step = Duration::from_millis(2);
    loop {
        if f() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(step);
        step = (step * 2).min(ms(Duration::from_millis(25)));
    }
}

fn send_signal(pid: i32, sig: i32) {
    // SAFETY: kill(2) with integers; the pid was checked alive with its start time.
    unsafe { libc::kill(pid, sig) };
}

impl ContainerApi for LocalEngine {
    fn container_create(&self, caller: &Caller, spec: &ContainerCreate) -> Result<String> {
        self.create_container(caller, spec)
    }

    fn container_start(&self, caller: &Caller, id: &str) -> Result<()> {
        self.start_container(caller, id)
    }

    fn container_stop(&self, caller: &Caller, id: &str, timeout: Option<u32>) -> Result<()> {
        self.stop_container(caller, id, timeout)
    }

    fn container_restart(&self, caller: &Caller, id: &str, timeout: Option<u32>) -> Result<()> {
        self.restart_container(caller, id, timeout)
    }

    fn container_kill(&self, caller: &Caller, id: &str, signal: &str) -> Result<()> {
        self.kill_container(caller, id, signal)
    }

    fn container_pause(&self, caller: &Caller, id: &str) -> Result<()> {
        self.pause_container(caller, id)
    }

    fn container_unpause(&self, caller: &Caller, id: &str) -> Result<()> {
        self.unpause_container(caller, id)
    }

    fn container_remove(&self, caller: &Caller, id: &str, opts: RemoveOptions) -> Result<()> {
        self.remove_container(caller, id, opts)
    }

    fn container_rename(&self, caller: &Caller, id: &str, new_name: &str) -> Result<()> {
        self.rename_container(caller, id, new_name)
    }

    fn container_wait(&self, caller: &Caller, id: &str) -> Result<i32> {
        self.wait_container(caller, id)
    }

    fn container_update(
        &self,
        caller: &Caller,
        id: &str,
        resources: &Resources,
        restart: Option<&RestartPolicy>,
    ) -> Result<()> {
        self.update_container(caller, id, resources, restart)
    }

    fn container_list(
        &self,
        caller: &Caller,
        opts: &ContainerListOptions,
    ) -> Result<Vec<ContainerSummary>> {
        Ok(self.container_list_timed(caller, opts)?.rows)
    }

    fn container_inspect(&self, caller: &Caller, id: &str) -> Result<Value> {
        self.inspect_container(caller, id)
    }

    fn container_prune(&self, caller: &Caller) -> Result<PruneReport> {
        self.prune_containers(caller)
    }

    fn container_logs(
        &self,
        caller: &Caller,
        id: &str,
        opts: &LogOptions,
        sink: &mut dyn FnMut(LogLine) -> bool,
    ) -> Result<()> {
        self.read_logs(caller, id, opts, sink)
    }

    fn container_attach(&self, caller: &Caller, id: &str) -> Result<UnixStream> {
        self.attach(caller, id)
    }

    fn container_start_attached(
        &self,
        caller: &Caller,
        id: &str,
        size: Option<(u16, u16)>,
    ) -> Result<UnixStream> {
        self.start_attached(caller, id, size)
    }
}
