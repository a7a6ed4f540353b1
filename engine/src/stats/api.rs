//! `StatsApi` for the in-process engine: the sampler's targets come from the runtime's
//! state on disk (running containers and their pids). They are listed again only when
//! the event journal changed (every start, stop, rename, update... appends to it) or when
//! the sampler asks, and then cached by file modification time (a container whose
//! state or configuration file changed is marked as changed), so a round over many
//! containers costs one `stat` of the journal.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use super::{Target, TargetSource, NEVER};
use crate::api::{ContainerStats, ContainerStatus, HostStats, StatsApi, StatsOptions, StatsPoint};
use crate::caller::Caller;
use crate::error::Result;
use crate::policy::Action;
use crate::runtime::state;
use crate::LocalEngine;

#[derive(Clone)]
struct Cached {
    state_mtime: Option<SystemTime>,
    config_mtime: Option<SystemTime>,
    running: bool,
    pid: i32,
    name: String,
    owner: u32,
}

fn mtime(p: &std::path::Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

/// What identifies a version of the live journal file: it changes with every append
/// and with a rotation.
fn journal_stamp(p: &std::path::Path) -> Option<(u64, u64, u64, Option<SystemTime>)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(p)
        .ok()
        .map(|m| (m.dev(), m.ino(), m.len(), m.modified().ok()))
}

/// The running containers of `engine`, for the sampler.
fn target_source(engine: LocalEngine) -> TargetSource {
    let cache: Mutex<HashMap<String, Cached>> = Mutex::new(HashMap::new());
    let last_stamp = Mutex::new(None);
    Arc::new(move |force| {
        // Taken before listing: an event appended while listing makes the next round
        // list again.
        let stamp = journal_stamp(engine.journal().path());
        {
            let mut last = match last_stamp.lock() {
                Ok(l) => l,
                Err(p) => p.into_inner(),
            };
            if !force && *last == Some(stamp) {
                return None;
            }
            *last = Some(stamp);
        }
        let Ok(rd) = std::fs::read_dir(engine.root().containers()) else {
            return Some(vec![]);
        };
        let mut cache = match cache.lock() {
            Ok(c) => c,
            Err(p) => p.into_inner(),
        };
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        for e in rd.flatten() {
            let id = e.file_name().to_string_lossy().into_owned();
            let dir = e.path();
            let (sm, cm) = (
                mtime(&state::state_path(&dir)),
                mtime(&dir.join("config.json")),
            );
            let fresh = cache
                .get(&id)
                .is_some_and(|c| c.state_mtime == sm && c.config_mtime == cm);
            if !fresh {
                let Ok(st) = state::load(&dir) else { continue };
                let Ok(cfg) = crate::runtime::load_config(&engine, &id) else {
                    continue;
                };
                let running = matches!(
                    st.status,
                    ContainerStatus::Running | ContainerStatus::Paused
                ) && st.pid_alive();
                cache.insert(
                    id.clone(),
                    Cached {
                        state_mtime: sm,
                        config_mtime: cm,
                        running,
                        pid: st.pid,
                        name: cfg.name,
                        owner: cfg.owner,
                    },
                );
            }
            seen.insert(id.clone());
            if let Some(c) = cache.get(&id).filter(|c| c.running) {
                out.push(Target {
                    id,
                    name: c.name.clone(),
                    pid: Some(c.pid),
                    owner: c.owner,
                    changed: !fresh,
                });
            }
        }
        cache.retain(|id, _| seen.contains(id));
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Some(out)
    })
}

/// The row of a container that does not run: zeros, as Docker shows it.
fn not_running(id: &str, name: &str) -> ContainerStats {
    ContainerStats {
        id: id.to_string(),
        name: format!("/{name}"),
        ..Default::default()
    }
}

impl StatsApi for LocalEngine {
    fn container_stats(
        &self,
        caller: &Caller,
        ids: &[String],
        opts: &StatsOptions,
        sink: &mut dyn FnMut(Vec<ContainerStats>) -> bool,
    ) -> Result<()> {
        self.gate().authorize(caller, Action::ContainerStats)?;
        // Named containers: resolve and check each; none named: everything in scope.
        let mut wanted: Option<HashMap<String, String>> = None;
        if !ids.is_empty() {
            let mut m = HashMap::new();
            for n in ids {
                let id = self.find_container(n)?;
                let cfg = crate::runtime::load_config(self, &id)?;
                self.gate().authorize_on(
                    caller,
                    Action::ContainerStats,
                    &cfg.name,
                    Some(cfg.owner),
                )?;
                m.insert(id, cfg.name);
            }
            wanted = Some(m);
        } else if opts.all {
            let mut m = HashMap::new();
            for id in self.container_ids() {
                if let Ok(cfg) = crate::runtime::load_config(self, &id) {
                    if self.gate().can_see(caller, cfg.owner) {
                        m.insert(id, cfg.name);
                    }
                }
            }
            wanted = Some(m);
        }
        // One answer about named containers none of which runs: their zero rows now,
        // as dockerd answers at once (the sampler would take a round or two to say the
        // same).
        if let (false, Some(m)) = (opts.stream, &wanted) {
            let none_runs = m.keys().all(|id| {
                state::load(&crate::runtime::paths::dir(self, id))
                    .map(|st| !st.status.is_active())
                    .unwrap_or(true)
            });
            if none_runs {
                let mut rows: Vec<ContainerStats> =
                    m.iter().map(|(id, name)| not_running(id, name)).collect();
                rows.sort_by(|a, b| a.name.cmp(&b.name));
                sink(rows);
                return Ok(());
            }
        }
        let role = self.gate().role(caller);
        let mut watch = self.sampler().watch(target_source(self.clone()));
        let me = caller.clone();
        // Named containers were checked above; otherwise the caller's scope, from the
        // owners the sampler already knows (no file read, one role for the batch).
        let want = |id: &str, owner: u32| -> bool {
            match &wanted {
                Some(m) => m.contains_key(id),
                None => self.gate().in_scope(&me, &role, owner),
            }
        };
        let timeout = self.sampler().interval() * 5 + Duration::from_secs(2);
        // The first round has no previous sample to compute CPU % from: skip it. Without
        // a stream, also a round where a container has no previous sample yet (started,
        // or first listed, in it): as dockerd, whose first sample only primes, the one
        // answer has `precpu_stats` (a few rounds at most).
        let mut rounds = 0;
        loop {
            let Some(mut batch) = self.sampler().next_batch(&mut watch, &want, timeout) else {
                return Err(crate::EngineError::internal(
                    "the stats sampler stopped answering",
                ));
            };
            rounds += 1;
            if rounds == 1
                || (!opts.stream && rounds < 4 && batch.iter().any(|s| s.preread == NEVER))
            {
                continue;
            }
            // Named or -a containers that are not running show as zero rows, as Docker.
            if let Some(m) = &wanted {
                let running: HashSet<&str> = batch.iter().map(|s| s.id.as_str()).collect();
                let stopped: Vec<ContainerStats> = m
                    .iter()
                    .filter(|(id, _)| !running.contains(id.as_str()))
                    .map(|(id, name)| not_running(id, name))
                    .collect();
                batch.extend(stopped);
                batch.sort_by(|a, b| a.name.cmp(&b.name));
            }
            if !sink(batch) || !opts.stream {
                return Ok(());
            }
        }
    }

    fn stats_history(&self, caller: &Caller, id: &str) -> Result<Vec<StatsPoint>> {
        let id = self.find_container(id)?;
        let cfg = crate::runtime::load_config(self, &id)?;
        self.gate()
            .authorize_on(caller, Action::ContainerStats, &cfg.name, Some(cfg.owner))?;
        Ok(self.sampler().history(&id))
    }

    fn host_stats(&self, caller: &Caller) -> Result<HostStats> {
        self.gate().authorize(caller, Action::SystemInfo)?;
        Ok(self.sampler().host(self.root().path()))
    }
}
