//! A running container's lifecycle: stop, restart, kill, pause, unpause, and waiting
//! for it to exit.

use std::time::{Duration, Instant};

use crate::api::ContainerStatus;
use crate::caller::Caller;
use crate::error::{EngineError, ErrorKind, Result};
use crate::events::EventType;
use crate::policy::Action;
use crate::runtime::cgroups::Cgroup;
use crate::runtime::config::{self, ContainerConfig};
use crate::runtime::state::{self, RunState};
use crate::runtime::{event, paths};
use crate::LocalEngine;

use super::{send_signal, wait_until};

impl LocalEngine {
    pub(super) fn stop_container(
        &self,
        caller: &Caller,
        id: &str,
        timeout: Option<u32>,
    ) -> Result<()> {
        let (cfg, st) = self.resolve_owned(caller, Action::ContainerStop, id)?;
        if !st.status.is_active() {
            return Ok(());
        }
        let t = Duration::from_secs(u64::from(timeout.unwrap_or_else(|| cfg.stop_timeout())));
        self.stop_process(&cfg, &st, cfg.stop_signal()?, t);
        if !self.wait_stopped(&cfg.id, Duration::from_secs(10)) {
            return Err(EngineError::unavailable(format!(
                "container {} did not stop in time: try `wharf kill {}`",
                cfg.name, cfg.name
            )));
        }
        self.emit(event(&cfg, "stop"));
        Ok(())
    }

    pub(super) fn restart_container(
        &self,
        caller: &Caller,
        id: &str,
        timeout: Option<u32>,
    ) -> Result<()> {
        let (cfg, st) = self.resolve_owned(caller, Action::ContainerRestart, id)?;
        if st.status.is_active() {
            let t = Duration::from_secs(u64::from(timeout.unwrap_or_else(|| cfg.stop_timeout())));
            self.stop_process(&cfg, &st, cfg.stop_signal()?, t);
            // Wait for the monitor to finish with the old run.
            wait_until(Duration::from_secs(10), || {
                state::load(&paths::dir(self, &cfg.id))
                    .map(|s| !s.monitor_alive())
                    .unwrap_or(true)
            });
            self.emit(event(&cfg, "stop"));
        }
        self.spawn_monitor(&cfg.id, None)?;
        self.emit(event(&cfg, "restart"));
        Ok(())
    }

    pub(super) fn kill_container(&self, caller: &Caller, id: &str, signal: &str) -> Result<()> {
        let (cfg, st) = self.resolve_owned(caller, Action::ContainerKill, id)?;
        let sig = config::parse_signal(signal)?;
        if !st.pid_alive() {
            return Err(EngineError::conflict(format!(
                "container {} is not running: nothing to kill",
                cfg.name
            )));
        }
        if st.status == ContainerStatus::Paused && sig != libc::SIGKILL {
            return Err(EngineError::conflict(format!(
                "container {} is paused: unpause it first (`wharf unpause {}`)",
                cfg.name, cfg.name
            )));
        }
        if sig == libc::SIGKILL || sig == cfg.stop_signal()? {
            state::update(&paths::dir(self, &cfg.id), |s| s.manually_stopped = true)?;
        }
        self.emit(event(&cfg, "kill").attr("signal", sig.to_string()));
        send_signal(st.pid, sig);
        crate::trace_step!(
            "sent signal {sig} to the init process (host pid {})",
            st.pid
        );
        if st.status == ContainerStatus::Paused {
            let _ = Cgroup::for_container(&cfg.id).freeze(false);
        }
        Ok(())
    }

    pub(super) fn pause_container(&self, caller: &Caller, id: &str) -> Result<()> {
        let (cfg, st) = self.resolve_owned(caller, Action::ContainerPause, id)?;
        if st.status == ContainerStatus::Paused {
            return Err(EngineError::conflict(format!(
                "container {} is already paused",
                cfg.name
            )));
        }
        if st.status != ContainerStatus::Running || !st.pid_alive() {
            return Err(EngineError::conflict(format!(
                "container {} is not running: only running containers can be paused",
                cfg.name
            )));
        }
        Cgroup::for_container(&cfg.id).freeze(true)?;
        state::update(&paths::dir(self, &cfg.id), |s| {
            s.status = ContainerStatus::Paused
        })?;
        self.emit(event(&cfg, "pause"));
        Ok(())
    }

    pub(super) fn unpause_container(&self, caller: &Caller, id: &str) -> Result<()> {
        let (cfg, st) = self.resolve_owned(caller, Action::ContainerUnpause, id)?;
        if st.status != ContainerStatus::Paused {
            return Err(EngineError::conflict(format!(
                "container {} is not paused",
                cfg.name
            )));
        }
        Cgroup::for_container(&cfg.id).freeze(false)?;
        state::update(&paths::dir(self, &cfg.id), |s| {
            if s.status == ContainerStatus::Paused {
                s.status = ContainerStatus::Running
            }
        })?;
        self.emit(event(&cfg, "unpause"));
        Ok(())
    }

    pub(super) fn wait_container(&self, caller: &Caller, id: &str) -> Result<i32> {
        let (cfg, _) = self.resolve_owned(caller, Action::ContainerWait, id)?;
        // Subscribed before the first look: an exit in between is in the follower. Each
        // event of the container wakes a look (the monitor writes the state before it
        // says `die`); a look once a second finds an exit nobody recorded.
        let mut follower = crate::events::Follower::from_now(self.journal());
        let waiter = crate::events::Waiter::new(self.journal());
        let mut seen_die: Option<i32> = None;
        loop {
            match self.observe(&cfg.id) {
                Ok((_, st)) if !st.status.is_active() => return Ok(st.exit_code),
                Ok(_) => {}
                Err(e) if e.kind == ErrorKind::NotFound && seen_die.is_some() => {
                    return Ok(seen_die.unwrap_or(0))
                }
                // Removed on exit (--rm): its last exit code is in the event journal.
                Err(e) if e.kind == ErrorKind::NotFound => {
                    let mut code = 0;
                    let filter = crate::api::EventFilter {
                        types: vec!["container".into()],
                        actions: vec!["die".into()],
                        objects: vec![("container".into(), cfg.id.clone())],
                        ..Default::default()
                    };
                    crate::api::SystemApi::events(self, caller, &filter, &mut |ev| {
                        code = ev
                            .actor
                            .attributes
                            .get("exitCode")
                            .and_then(|c| c.parse().ok())
                            .unwrap_or(code);
                        true
                    })?;
                    return Ok(code);
                }
                Err(e) => return Err(e),
            }
            let deadline = Instant::now() + Duration::from_secs(1);
            'events: while Instant::now() < deadline {
                for ev in follower.poll()? {
                    if ev.actor.id == cfg.id && ev.kind == EventType::Container {
                        if ev.action == "die" {
                            seen_die = ev
                                .actor
                                .attributes
                                .get("exitCode")
                                .and_then(|c| c.parse().ok())
                                .or(seen_die);
                        }
                        break 'events;
                    }
                }
                waiter.wait(Duration::from_millis(250));
            }
        }
    }

    fn wait_stopped(&self, id: &str, timeout: Duration) -> bool {
        wait_until(timeout, || match self.observe(id) {
            Ok((_, st)) => {
                !st.status.is_active()
                    || (st.status == ContainerStatus::Restarting && !st.pid_alive())
            }
            Err(_) => true,
        })
    }

    /// Signal, wait `timeout`, SIGKILL: the core of stop, restart and rm -f.
    pub(super) fn stop_process(
        &self,
        cfg: &ContainerConfig,
        st: &RunState,
        sig: i32,
        timeout: Duration,
    ) {
        let dir = paths::dir(self, &cfg.id);
        let _ = state::update(&dir, |s| s.manually_stopped = true);
        if !st.pid_alive() {
            return;
        }
        let cg = Cgroup::for_container(&cfg.id);
        self.emit(event(cfg, "kill").attr("signal", sig.to_string()));
        send_signal(st.pid, sig);
        crate::trace_step!(
            "sent signal {sig} to the init process (host pid {})",
            st.pid
        );
        if st.status == ContainerStatus::Paused {
            let _ = cg.freeze(false);
            let _ = state::update(&dir, |s| {
                if s.status == ContainerStatus::Paused {
                    s.status = ContainerStatus::Running
                }
            });
        }
        let waited = std::time::Instant::now();
        if wait_until(timeout, || !state::proc_alive(st.pid, st.pid_start)) {
            crate::trace_step!(
                "the init process exited after {:.1} s",
                waited.elapsed().as_secs_f64()
            );
        } else {
            crate::trace_step!("still running after {} s: sent SIGKILL", timeout.as_secs());
            self.emit(event(cfg, "kill").attr("signal", libc::SIGKILL.to_string()));
            send_signal(st.pid, libc::SIGKILL);
            wait_until(Duration::from_secs(10), || {
                !state::proc_alive(st.pid, st.pid_start)
            });
        }
    }
}
