//! The container index: what a listing shows of every container, from memory.
//!
//! The truth stays on disk (`containers/<id>/config.json`, `state.json`, `health.json`
//! and the network store); the index is a cache of it that is never trusted without a
//! check that costs far less than reading it:
//!
//! - Each row carries the *stamp* (inode, mtime, ctime) of its container directory.
//!   Every file that matters there is replaced by a rename, and a rename changes the
//!   directory's mtime and ctime, so an unchanged stamp means unchanged files, by any
//!   writer (another CLI, a monitor, a process killed half-way). The `containers/`
//!   directory's own stamp says whether containers came or went, the network store's
//!   whether addresses and ports changed.
//! - Timestamps are coarse (a kernel tick): a row whose stamp is within [`SLACK`] of the
//!   moment its files were read may have changed again within the same tick, so it is
//!   *racy* and read again next time (git's racy-index rule).
//! - A row that says running is checked against /proc (its pid and start time, then its
//!   monitor's), as `observe` does; a container whose processes are gone without a word
//!   is set right through `observe` (marked exited, `--rm` removed) before it is listed.
//!
//! A process that starts cold (the CLI) reads the *summary file* `run/containers.summary`,
//! the rows and stamps of the last listing, written atomically (beside, then renamed
//! over) by whichever process found it stale; then one `stat` per container tells
//! which rows still hold. A missing, damaged, foreign (another boot, another format) or
//! stale summary is rebuilt from the files.
//!
//! A long-lived process (the console, `wharf serve`: [`LocalEngine::lists_often`]) keeps
//! the rows in memory and, from its second listing on, watches the directories
//! with inotify: a listing then costs one non-blocking read of the inotify queue and a
//! signal-0 probe per running container (the full /proc check once a second), not a
//! `stat` per container. Without inotify (no watches left) every listing checks the
//! stamps.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::config::ContainerConfig;
use super::state::{self, RunState};
use super::{paths, toolbox};
use crate::api::{ContainerStatus, ContainerSummary, HealthStatus, MountPoint, PortBinding};
use crate::error::Result;
use crate::LocalEngine;

/// A stamp within this much of the time its files were read is not trusted (kernel
/// file times move by ticks of up to 10 ms; the margin covers a few).
const SLACK: i64 = 50_000_000;

/// The summary file's format; another value is rebuilt. 2: empty and default row
/// fields left out (a smaller file parses faster: it is most of a cold `ps -a`). 3: the
/// run state's too, and the id only as the entry's key.
const FORMAT: u32 = 3;

/// Rows read again by a lookup past which it writes the summary file (below, writing
/// it costs more than the next process reading them again).
const REREAD_KEEP: usize = 16;

/// How often a long-lived index re-checks running containers fully against /proc (in
/// between, a signal-0 probe tells a vanished process).
const FULL_LIVENESS: Duration = Duration::from_secs(1);

/// Identity and change times of a file or directory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    ino: u64,
    mtime: i64,
    ctime: i64,
}

impl Stamp {
    /// The stamp of `path`, `None` if it does not exist.
    pub fn of(path: &Path) -> Option<Stamp> {
        let md = std::fs::metadata(path).ok()?;
        Some(Stamp {
            ino: md.ino(),
            mtime: md.mtime() * 1_000_000_000 + md.mtime_nsec(),
            ctime: md.ctime() * 1_000_000_000 + md.ctime_nsec(),
        })
    }

    /// The stamp of `name` in the directory open as `dir` (no walk of the directory's
    /// own path per entry: a listing stats every container), `None` if it does not
    /// exist.
    fn at(dir: &std::fs::File, name: &str) -> Option<Stamp> {
        use std::os::fd::AsFd;
        let st =
            nix::sys::stat::fstatat(dir.as_fd(), name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW)
                .ok()?;
        Some(Stamp {
            ino: st.st_ino,
            mtime: st.st_mtime * 1_000_000_000 + st.st_mtime_nsec,
            ctime: st.st_ctime * 1_000_000_000 + st.st_ctime_nsec,
        })
    }

    /// Could the thing have changed again after being read at `read_at` without its
    /// times moving?
    fn racy(&self, read_at: i64) -> bool {
        self.mtime.max(self.ctime) >= read_at - SLACK
    }
}

/// Does process `pid` or `monitor` exist? (A probe: signal 0.)
fn either_alive(pid: i32, monitor: i32) -> bool {
    let probe = |pid: i32| {
        // SAFETY: kill(2) with signal 0 only checks that the pid exists.
        pid > 0 && unsafe { libc::kill(pid, 0) } == 0
    };
    probe(pid) || probe(monitor)
}

fn now_ns() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
}

/// What a listing needs of one container, from its config, state and health files.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Row {
    /// Not in the summary file: its entry's key says it.
    #[serde(default, skip_serializing)]
    pub id: String,
    pub name: String,
    pub image: String,
    pub image_id: String,
    pub command: String,
    /// Seconds since the epoch.
    pub created: i64,
    pub owner: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// `--network` as given (`None`: bridge).
    pub network: Option<String>,
    /// `-p` as configured.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spec_ports: Vec<PortBinding>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bound_ports: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exposed_ports: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<MountPoint>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub auto_remove: bool,
    #[serde(with = "compact_state")]
    pub state: RunState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthStatus>,
}

impl Row {
    fn new(engine: &LocalEngine, cfg: &ContainerConfig, st: RunState) -> Row {
        let health = toolbox::health::current(engine, cfg, &st);
        let created = chrono::DateTime::parse_from_rfc3339(&cfg.created)
            .map(|t| t.timestamp())
            .unwrap_or(0);
        let key = |p: &PortBinding| format!("{}/{}", p.container_port, p.proto);
        let mut bound: Vec<String> = cfg.spec.ports.iter().map(key).collect();
        bound.dedup();
        let mut exposed: Vec<String> = Vec::new();
        for k in cfg.spec.ports.iter().chain(&cfg.spec.expose).map(key) {
            if !exposed.contains(&k) {
                exposed.push(k);
            }
        }
        let mounts = super::mounts_for(engine, cfg)
            .iter()
            .zip(&cfg.spec.mounts)
            .map(|(m, orig)| MountPoint {
                kind: m.kind.clone(),
                name: if m.kind == "volume" {
                    orig.source.clone()
                } else {
                    String::new()
                },
                source: m.source.clone(),
                destination: m.target.clone(),
                mode: m.options.join(","),
                rw: !m.read_only,
            })
            .collect();
        Row {
            id: cfg.id.clone(),
            name: cfg.name.clone(),
            image: cfg.image.clone(),
            image_id: cfg.image_id.clone(),
            command: cfg.command_line(),
            created,
            owner: cfg.owner,
            project: cfg.project.clone(),
            labels: cfg.labels.clone(),
            network: cfg.spec.network.clone(),
            spec_ports: cfg.spec.ports.clone(),
            bound_ports: bound,
            exposed_ports: exposed,
            mounts,
            auto_remove: cfg.spec.auto_remove,
            state: st,
            health,
        }
    }

    /// Read container `id`'s row from its files (`None`: not a container, or not yet).
    fn read(engine: &LocalEngine, id: &str) -> Option<Row> {
        let cfg = super::load_config(engine, id).ok()?;
        let st = state::load(&paths::dir(engine, id)).ok()?;
        Some(Row::new(engine, &cfg, st))
    }

    /// Processes that should be there are gone with nobody (the monitor) to say so,
    /// or the monitor died before its cleanup after the exit was done.
    fn gone_silently(&self) -> bool {
        super::needs_care(&self.state)
    }

    /// Does the row say processes should be there (running, or a monitor)?
    fn has_processes(&self) -> bool {
        self.state.status.is_active() || self.state.monitor_pid != 0
    }

    /// The cheap probe between full checks: does a process of the row still exist?
    fn probably_alive(&self) -> bool {
        either_alive(self.state.pid, self.state.monitor_pid)
    }

    /// The row as `ps` shows it, with its networks and ports from `net`.
    pub fn summary(&self, net: Option<&crate::network::NetView>) -> ContainerSummary {
        let st = &self.state;
        let status = toolbox::health::decorate(super::human_status(st), self.health);
        let endpoints = net
            .map(|n| n.endpoints(&self.id, self.network.as_deref()))
            .unwrap_or_default();
        let mut networks: Vec<String> = endpoints.iter().map(|e| e.network.clone()).collect();
        if networks.is_empty() {
            networks.push(self.network.clone().unwrap_or_else(|| "bridge".into()));
        }
        ContainerSummary {
            id: self.id.clone(),
            name: self.name.clone(),
            image: self.image.clone(),
            image_id: self.image_id.clone(),
            command: self.command.clone(),
            created: self.created,
            state: st.status,
            status,
            health: self.health,
            exit_code: (st.status == ContainerStatus::Exited).then_some(st.exit_code),
            oom_killed: st.oom_killed,
            ports: net
                .map(|n| n.ports(&self.id))
                .unwrap_or_else(|| self.spec_ports.clone()),
            labels: self.labels.clone(),
            networks,
            size_rw: None,
            owner: self.owner,
            project: self.project.clone(),
            network_mode: self.network.clone().unwrap_or_else(|| "bridge".into()),
            endpoints,
            mounts: self.mounts.clone(),
            bound_ports: self.bound_ports.clone(),
            exposed_ports: self.exposed_ports.clone(),
        }
    }
}

/// One directory under `containers/` as last seen.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    stamp: Stamp,
    /// When its files were read (nanoseconds, wall clock).
    read_at: i64,
    /// `None`: not a container (yet: a directory without a config).
    row: Option<Arc<Row>>,
}

impl Entry {
    fn holds(&self, now: Option<Stamp>) -> bool {
        now == Some(self.stamp) && !self.stamp.racy(self.read_at)
    }
}

/// The summary file.
#[derive(Debug, Serialize, Deserialize)]
struct SummaryFile {
    format: u32,
    boot_id: String,
    /// Stamp of `containers/` and when the listing of it was read.
    dir: Stamp,
    dir_read_at: i64,
    entries: BTreeMap<String, Entry>,
}

/// The network store's answers for listings, with the store file's stamp.
struct NetCache {
    stamp: Option<Stamp>,
    read_at: i64,
    view: Arc<crate::network::NetView>,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    dir: Option<Stamp>,
    dir_read_at: i64,
    loaded: bool,
    /// Something changed since the summary file was last written.
    dirty: bool,
    /// Rows read from their files since the summary file was last written: a lookup
    /// (which does not keep the file, see [`Index::listing`]) writes it past
    /// [`REREAD_KEEP`], so that the next cold process does not read them all again.
    reread: usize,
    net: Option<NetCache>,
    watch: Option<Watch>,
    /// Listings served by this index (the second one sets up inotify).
    uses: u64,
    /// The process lists again and again: worth watching ([`Index::lists_often`]).
    lists_often: bool,
    /// Setting up the watches failed (no inotify instances or watches left).
    no_watch: bool,
    last_full_liveness: Option<Instant>,
    /// Bumped whenever a row, the set of rows or the network view changes.
    generation: u64,
}

/// The in-memory index of one engine (shared by its clones).
#[derive(Default)]
pub struct Index {
    inner: Mutex<Inner>,
    /// What a quiet look needs ([`Index::quiet_generation`]), apart from the rows so
    /// that it never waits for a look that reads files.
    quiet: Mutex<QuietSlot>,
}

/// What a quiet look needs of a watching index, as its last look left it.
struct Quiet {
    generation: u64,
    /// The watch's queue (a duplicate of its descriptor).
    events: Arc<std::os::fd::OwnedFd>,
    /// Pid and monitor pid of every row that says running or has a monitor.
    probes: Arc<Vec<(i32, i32)>>,
    /// The last full check against /proc.
    full_at: Instant,
}

#[derive(Default)]
struct QuietSlot {
    /// `None` from when a look takes events off the queue until it has counted them
    /// in its generation, or when the index does not watch.
    view: Option<Quiet>,
    /// A quiet look left the due full check to its caller (then): the others go on
    /// with the probe meanwhile.
    claimed: Option<Instant>,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Index")
    }
}

/// A consistent view of every container, for one listing.
pub struct Snapshot {
    pub rows: Vec<Arc<Row>>,
    /// Container directories whose config or state could not be read (damaged, or
    /// being written): not listed, yet what they use is not free to delete.
    pub unread: Vec<String>,
    pub net: Option<Arc<crate::network::NetView>>,
    /// Changes whenever anything listed changes (for answers cached by the caller).
    pub generation: u64,
}

fn summary_path(engine: &LocalEngine) -> std::path::PathBuf {
    engine.root().run().join("containers.summary")
}

impl Index {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// This process lists again and again: watch the directories from the next listing
    /// on (a cold command line checks stamps instead).
    pub fn lists_often(&self) {
        self.lock().lists_often = true;
    }

    /// Every container, current: the rows that no longer hold are read again, and
    /// containers whose processes vanished are set right first.
    pub fn snapshot(&self, engine: &LocalEngine) -> Result<Snapshot> {
        self.snapshot_then(engine, false)
    }

    /// [`Index::snapshot`] for a listing: a process that checks stamps (not one that
    /// watches) also leaves the summary file current for the next cold listing. A
    /// lookup by name does not: rewriting every row costs more than the lookup (a
    /// `run` in a root of 1000 containers would write 800 KB).
    pub fn listing(&self, engine: &LocalEngine) -> Result<Snapshot> {
        self.snapshot_then(engine, true)
    }

    fn snapshot_then(&self, engine: &LocalEngine, keep_summary: bool) -> Result<Snapshot> {
        let mut g = self.fresh(engine);
        if keep_summary && g.dirty && g.watch.is_none() {
            // Only processes that check stamps keep the file: a watching one has
            // nothing a cold process could trust more than its own look.
            g.write_summary(engine);
        }
        let mut rows: Vec<Arc<Row>> = g.entries.values().filter_map(|e| e.row.clone()).collect();
        let unread = g
            .entries
            .iter()
            .filter(|(_, e)| e.row.is_none())
            .map(|(id, _)| id.clone())
            .collect();
        rows.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| b.id.cmp(&a.id)));
        Ok(Snapshot {
            rows,
            unread,
            net: g.net.as_ref().map(|n| n.view.clone()),
            generation: g.generation,
        })
    }

    /// The rows brought up to date from their files, for finding a container by name or
    /// id: without the liveness check of running containers (a read of /proc per
    /// process) and, in a process that does not watch, without the network view, which
    /// a name does not need. Writes the summary file when many rows had to be read.
    pub fn lookup(&self, engine: &LocalEngine) -> Vec<Arc<Row>> {
        let mut g = self.lock();
        g.refresh(engine, &self.quiet, false);
        self.publish(g.quiet());
        if g.dirty && g.watch.is_none() && g.reread >= REREAD_KEEP {
            g.write_summary(engine);
        }
        g.entries.values().filter_map(|e| e.row.clone()).collect()
    }

    /// A number that changes whenever anything a listing shows (but the passing of
    /// time) changes, the index brought up to date first: equal numbers, equal rows.
    pub fn generation(&self, engine: &LocalEngine) -> u64 {
        self.fresh(engine).generation
    }

    /// What [`Index::generation`] would answer, when telling it takes neither a wait
    /// nor a read of a file: the index watches, no change is queued since its last
    /// look, and every row that says running answers the probe (the full check against
    /// /proc, once a second, is left to one caller, which gets `None`). `None`
    /// otherwise, or while a look is taking in changes: then ask [`Index::generation`] where
    /// blocking is fine. For a server's worker threads, which must never wait for a
    /// listing to be read.
    pub fn quiet_generation(&self) -> Option<u64> {
        let (generation, probes) = {
            let mut q = self.quiet.lock().unwrap_or_else(|e| e.into_inner());
            let v = q.view.as_ref()?;
            // Asked under the lock: a look that takes events off the queue withdraws
            // the view first.
            if queued(&v.events) {
                return None;
            }
            let due = v.full_at.elapsed() >= FULL_LIVENESS;
            if due && q.claimed.is_none_or(|t| t.elapsed() >= FULL_LIVENESS) {
                q.claimed = Some(Instant::now());
                return None;
            }
            (v.generation, v.probes.clone())
        };
        probes
            .iter()
            .all(|&(pid, monitor)| either_alive(pid, monitor))
            .then_some(generation)
    }

    /// Set the quiet view (`None`: there is none).
    fn publish(&self, view: Option<Quiet>) {
        self.quiet.lock().unwrap_or_else(|e| e.into_inner()).view = view;
    }

    /// The index brought up to date (locked).
    fn fresh(&self, engine: &LocalEngine) -> MutexGuard<'_, Inner> {
        // Containers found dead without a word are observed outside the lock (that
        // writes their state, may remove them, and emits events), then read again.
        let mut g = self.lock();
        g.refresh(engine, &self.quiet, true);
        let dead = g.find_dead();
        if !dead.is_empty() {
            drop(g);
            for id in &dead {
                let _ = engine.observe(id);
            }
            g = self.lock();
            for id in &dead {
                g.forget_row(id);
            }
            g.check_stamps(engine, false);
        }
        self.publish(g.quiet());
        g
    }
}

/// Are events waiting in the inotify queue `fd`? (Nothing is read.)
fn queued(fd: &std::os::fd::OwnedFd) -> bool {
    use std::os::fd::AsRawFd;
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int, the bytes ready to read, to `n`.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::FIONREAD, &mut n as *mut libc::c_int) };
    r != 0 || n > 0
}

impl Inner {
    /// The view a quiet look may answer from, if this index watches all it shows.
    fn quiet(&self) -> Option<Quiet> {
        let w = self.watch.as_ref().filter(|w| !w.short)?;
        self.net.as_ref()?;
        let probes = self
            .entries
            .values()
            .filter_map(|e| e.row.as_ref())
            .filter(|r| r.has_processes())
            .map(|r| (r.state.pid, r.state.monitor_pid))
            .collect();
        Some(Quiet {
            generation: self.generation,
            events: w.events.clone(),
            probes: Arc::new(probes),
            full_at: self.last_full_liveness?,
        })
    }

    fn forget_row(&mut self, id: &str) {
        if let Some(e) = self.entries.get_mut(id) {
            // Read again next time: no directory has this stamp.
            e.stamp = Stamp::default();
        }
        self.generation += 1;
    }

    /// Bring the rows up to date; `quiet`'s view is withdrawn before changes are taken
    /// off the watch's queue (and put back by the caller once they are counted).
    fn refresh(&mut self, engine: &LocalEngine, quiet: &Mutex<QuietSlot>, net: bool) {
        self.uses += 1;
        if !self.loaded {
            self.loaded = true;
            self.load_summary(engine);
        }
        let mut fresh_watch = false;
        if self.watch.is_none() && self.uses >= 2 && self.lists_often && !self.no_watch {
            // A process that lists again and again: watch rather than stat. What
            // changed before the watches were in place is found by one look at all.
            self.watch = Watch::new(engine);
            self.no_watch = self.watch.is_none();
            if let Some(w) = &mut self.watch {
                for id in self.entries.keys() {
                    w.add(engine, id);
                }
                fresh_watch = true;
            }
        }
        let changes = match self.watch.as_mut() {
            Some(_) if fresh_watch => Some(Changes::All),
            Some(w) => {
                // Under the view's lock: a quiet look sees either the events queued or
                // no view, never a view that does not count events already taken.
                let mut q = quiet.lock().unwrap_or_else(|e| e.into_inner());
                let c = w.changes();
                if !matches!(c, Changes::None) {
                    q.view = None;
                }
                Some(c)
            }
            None => None,
        };
        match changes {
            Some(Changes::Some { ids, dir, net }) => {
                if dir {
                    self.dir = None;
                }
                if net {
                    self.net = None;
                }
                for id in ids {
                    self.forget_row(&id);
                }
                self.check_stamps(engine, false);
            }
            Some(Changes::None) => {}
            // Without a watch, or after an overflow: every stamp.
            Some(Changes::All) | None => self.check_stamps(engine, true),
        }
        // A lookup by name in a process that does not watch needs no network view (a
        // read of the whole network store); a watching one keeps it current (cheap).
        if net || self.watch.is_some() {
            self.check_net(engine);
        }
    }

    /// Check `containers/` (and with `every`, every container directory) against the
    /// rows; read again what changed.
    fn check_stamps(&mut self, engine: &LocalEngine, every: bool) {
        let root = engine.root().containers();
        let now = now_ns();
        let dir = Stamp::of(&root);
        let dir_holds =
            dir.is_some() && dir == self.dir && !dir.is_some_and(|d| d.racy(self.dir_read_at));
        if !dir_holds {
            let mut seen = HashSet::new();
            if let Ok(rd) = std::fs::read_dir(&root) {
                for e in rd.flatten() {
                    let name = e.file_name().to_string_lossy().into_owned();
                    if name.starts_with('.') {
                        continue;
                    }
                    seen.insert(name);
                }
            }
            let before = self.entries.len();
            self.entries.retain(|id, _| seen.contains(id));
            if self.entries.len() != before {
                self.dirty = true;
                self.generation += 1;
            }
            for id in seen {
                if !self.entries.contains_key(&id) {
                    if let Some(w) = &mut self.watch {
                        w.add(engine, &id);
                    }
                    self.entries.insert(
                        id,
                        Entry {
                            stamp: Stamp::default(),
                            read_at: 0,
                            row: None,
                        },
                    );
                }
            }
            self.dir = dir;
            self.dir_read_at = now;
            self.dirty = true;
        }
        let ids: Vec<String> = self
            .entries
            .iter()
            .filter(|(_, e)| every || e.stamp == Stamp::default() || e.stamp.racy(e.read_at))
            .map(|(id, _)| id.clone())
            .collect();
        let dir_fd = std::fs::File::open(&root).ok();
        for id in ids {
            let stamp = match &dir_fd {
                Some(d) => Stamp::at(d, &id),
                None => Stamp::of(&root.join(&id)),
            };
            let holds = self.entries.get(&id).is_some_and(|e| e.holds(stamp));
            if holds {
                continue;
            }
            let Some(stamp) = stamp else {
                self.entries.remove(&id);
                self.generation += 1;
                self.dirty = true;
                continue;
            };
            let read_at = now_ns();
            let row = Row::read(engine, &id).map(Arc::new);
            self.reread += 1;
            self.entries.insert(
                id,
                Entry {
                    stamp,
                    read_at,
                    row,
                },
            );
            self.generation += 1;
            self.dirty = true;
        }
    }

    /// The network store's view, read again when its file changed.
    fn check_net(&mut self, engine: &LocalEngine) {
        let path = engine.root().networks().join("state.json");
        let stamp = Stamp::of(&path);
        if let Some(n) = &self.net {
            if self.watch.is_some()
                || (n.stamp == stamp && !stamp.is_some_and(|s| s.racy(n.read_at)))
            {
                return;
            }
        }
        let read_at = now_ns();
        if let Ok(view) = crate::network::view_unlocked(engine) {
            self.net = Some(NetCache {
                stamp,
                read_at,
                view: Arc::new(view),
            });
            self.generation += 1;
        }
    }

    /// Rows that say running whose processes are gone without a word.
    fn find_dead(&mut self) -> Vec<String> {
        let full = self.watch.is_none()
            || self
                .last_full_liveness
                .is_none_or(|t| t.elapsed() >= FULL_LIVENESS);
        if full {
            self.last_full_liveness = Some(Instant::now());
        }
        self.entries
            .values()
            .filter_map(|e| e.row.as_ref())
            .filter(|r| r.has_processes())
            .filter(|r| {
                if full {
                    r.gone_silently()
                } else {
                    !r.probably_alive() && r.gone_silently()
                }
            })
            .map(|r| r.id.clone())
            .collect()
    }

    fn load_summary(&mut self, engine: &LocalEngine) {
        let Ok(data) = std::fs::read(summary_path(engine)) else {
            return;
        };
        let Ok(f) = serde_json::from_slice::<SummaryFile>(&data) else {
            return;
        };
        if f.format != FORMAT || f.boot_id != state::boot_id() {
            return;
        }
        self.dir = Some(f.dir);
        self.dir_read_at = f.dir_read_at;
        self.entries = f
            .entries
            .into_iter()
            .map(|(id, mut e)| {
                if let Some(r) = e.row.as_mut().and_then(Arc::get_mut) {
                    r.id = id.clone();
                }
                (id, e)
            })
            .collect();
    }

    fn write_summary(&mut self, engine: &LocalEngine) {
        let Some(dir) = self.dir else { return };
        let f = SummaryFile {
            format: FORMAT,
            boot_id: state::boot_id(),
            dir,
            dir_read_at: self.dir_read_at,
            entries: self
                .entries
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        };
        let Ok(data) = serde_json::to_vec(&f) else {
            return;
        };
        // A cache: renamed over (never torn), not synced (a crash at worst leaves an
        // older one, which its stamps expose).
        let path = summary_path(engine);
        let tmp = path.with_file_name(format!(
            ".containers.summary.{}-{}",
            std::process::id(),
            &crate::ids::new_id()[..8]
        ));
        if std::fs::write(&tmp, &data).is_ok() && std::fs::rename(&tmp, &path).is_ok() {
            self.dirty = false;
            self.reread = 0;
        } else {
            let _ = std::fs::remove_file(&tmp);
        }
    }
}

/// What the inotify queue says.
enum Changes {
    None,
    Some {
        ids: Vec<String>,
        /// `containers/` changed (containers came or went).
        dir: bool,
        /// The network store changed.
        net: bool,
    },
    /// The queue overflowed: look at everything.
    All,
}

/// inotify watches on `containers/`, each container directory and `networks/`.
struct Watch {
    ino: nix::sys::inotify::Inotify,
    /// The queue's descriptor again, for quiet looks.
    events: Arc<std::os::fd::OwnedFd>,
    by_wd: HashMap<nix::sys::inotify::WatchDescriptor, String>,
    containers: nix::sys::inotify::WatchDescriptor,
    networks: nix::sys::inotify::WatchDescriptor,
    /// A watch could not be added (limit reached): stamps are checked instead.
    short: bool,
}

const DIR_EVENTS: nix::sys::inotify::AddWatchFlags =
    nix::sys::inotify::AddWatchFlags::from_bits_truncate(
        libc::IN_CREATE
            | libc::IN_DELETE
            | libc::IN_MOVED_FROM
            | libc::IN_MOVED_TO
            | libc::IN_ATTRIB,
    );

impl Watch {
    fn new(engine: &LocalEngine) -> Option<Watch> {
        use nix::sys::inotify::{InitFlags, Inotify};
        let ino = Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK).ok()?;
        let containers = ino
            .add_watch(&engine.root().containers(), DIR_EVENTS)
            .ok()?;
        let networks = ino.add_watch(&engine.root().networks(), DIR_EVENTS).ok()?;
        let events = std::os::fd::AsFd::as_fd(&ino).try_clone_to_owned().ok()?;
        Some(Watch {
            ino,
            events: Arc::new(events),
            by_wd: HashMap::new(),
            containers,
            networks,
            short: false,
        })
    }

    fn add(&mut self, engine: &LocalEngine, id: &str) {
        match self
            .ino
            .add_watch(&engine.root().containers().join(id), DIR_EVENTS)
        {
            Ok(wd) => {
                self.by_wd.insert(wd, id.to_string());
            }
            Err(nix::errno::Errno::ENOENT) => {}
            Err(_) => self.short = true,
        }
    }

    fn changes(&mut self) -> Changes {
        if self.short {
            return Changes::All;
        }
        let mut ids = Vec::new();
        let (mut dir, mut net) = (false, false);
        loop {
            let evs = match self.ino.read_events() {
                Ok(evs) => evs,
                Err(nix::errno::Errno::EAGAIN) => break,
                Err(_) => return Changes::All,
            };
            if evs.is_empty() {
                break;
            }
            for ev in evs {
                if ev
                    .mask
                    .contains(nix::sys::inotify::AddWatchFlags::IN_Q_OVERFLOW)
                {
                    return Changes::All;
                }
                if ev.wd == self.containers {
                    dir = true;
                    if let Some(name) = &ev.name {
                        ids.push(name.to_string_lossy().into_owned());
                    }
                } else if ev.wd == self.networks {
                    net = true;
                } else if let Some(id) = self.by_wd.get(&ev.wd) {
                    if ev
                        .mask
                        .contains(nix::sys::inotify::AddWatchFlags::IN_IGNORED)
                    {
                        let id = id.clone();
                        self.by_wd.remove(&ev.wd);
                        ids.push(id);
                        dir = true;
                    } else {
                        ids.push(id.clone());
                    }
                }
            }
        }
        if ids.is_empty() && !dir && !net {
            Changes::None
        } else {
            ids.sort();
            ids.dedup();
            Changes::Some { ids, dir, net }
        }
    }
}

/// A row's run state in the summary file: only what differs from a new container's
/// (most of its twelve fields are zero or empty for most containers, and every cold
/// listing parses the file).
mod compact_state {
    use std::borrow::Cow;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::api::ContainerStatus;
    use crate::runtime::state::RunState;

    fn zero<T: Default + PartialEq>(v: &T) -> bool {
        *v == T::default()
    }

    #[derive(Serialize, Deserialize, Default)]
    #[serde(rename_all = "PascalCase", default)]
    struct Compact<'a> {
        #[serde(skip_serializing_if = "zero")]
        status: ContainerStatus,
        #[serde(skip_serializing_if = "zero")]
        pid: i32,
        #[serde(skip_serializing_if = "zero")]
        pid_start: u64,
        #[serde(skip_serializing_if = "zero")]
        monitor_pid: i32,
        #[serde(skip_serializing_if = "zero")]
        monitor_start: u64,
        #[serde(skip_serializing_if = "zero")]
        exit_code: i32,
        #[serde(rename = "OOMKilled", skip_serializing_if = "zero")]
        oom_killed: bool,
        #[serde(skip_serializing_if = "zero")]
        error: Cow<'a, str>,
        #[serde(skip_serializing_if = "zero")]
        started_at: Cow<'a, str>,
        #[serde(skip_serializing_if = "zero")]
        finished_at: Cow<'a, str>,
        #[serde(skip_serializing_if = "zero")]
        restart_count: u32,
        #[serde(skip_serializing_if = "zero")]
        manually_stopped: bool,
        #[serde(skip_serializing_if = "zero")]
        boot_id: Cow<'a, str>,
        #[serde(skip_serializing_if = "zero")]
        remove_requested: bool,
    }

    pub fn serialize<Z: Serializer>(s: &RunState, z: Z) -> Result<Z::Ok, Z::Error> {
        Compact {
            status: s.status,
            pid: s.pid,
            pid_start: s.pid_start,
            monitor_pid: s.monitor_pid,
            monitor_start: s.monitor_start,
            exit_code: s.exit_code,
            oom_killed: s.oom_killed,
            error: Cow::Borrowed(&s.error),
            started_at: Cow::Borrowed(&s.started_at),
            finished_at: Cow::Borrowed(&s.finished_at),
            restart_count: s.restart_count,
            manually_stopped: s.manually_stopped,
            boot_id: Cow::Borrowed(&s.boot_id),
            remove_requested: s.remove_requested,
        }
        .serialize(z)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<RunState, D::Error> {
        let c = Compact::deserialize(d)?;
        Ok(RunState {
            status: c.status,
            pid: c.pid,
            pid_start: c.pid_start,
            monitor_pid: c.monitor_pid,
            monitor_start: c.monitor_start,
            exit_code: c.exit_code,
            oom_killed: c.oom_killed,
            error: c.error.into_owned(),
            started_at: c.started_at.into_owned(),
            finished_at: c.finished_at.into_owned(),
            restart_count: c.restart_count,
            manually_stopped: c.manually_stopped,
            boot_id: c.boot_id.into_owned(),
            remove_requested: c.remove_requested,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ContainerApi, ContainerCreate, ContainerListOptions, ImageApi};
    use crate::{Caller, EngineOptions};

    /// The summary's compact run state gives back every field, set or not, and leaves
    /// out the ones a new container has.
    #[test]
    fn compact_state_round_trips() {
        let round = |st: &RunState| -> (String, RunState) {
            let mut out = Vec::new();
            compact_state::serialize(st, &mut serde_json::Serializer::new(&mut out)).unwrap();
            let back = compact_state::deserialize(&mut serde_json::Deserializer::from_slice(&out))
                .unwrap();
            (String::from_utf8(out).unwrap(), back)
        };
        let new = RunState {
            boot_id: String::new(),
            ..Default::default()
        };
        let (text, back) = round(&new);
        assert_eq!(text, "{}");
        assert_eq!(
            serde_json::to_value(&back).unwrap(),
            serde_json::to_value(&new).unwrap()
        );
        let full = RunState {
            status: ContainerStatus::Restarting,
            pid: 41,
            pid_start: 42,
            monitor_pid: 43,
            monitor_start: 44,
            exit_code: 137,
            oom_killed: true,
            error: "e".into(),
            started_at: "2026-12-07T11:00:00Z".into(),
            finished_at: "2026-12-07T11:00:01Z".into(),
            restart_count: 3,
            manually_stopped: true,
            boot_id: "b".into(),
            remove_requested: true,
        };
        let (_, back) = round(&full);
        assert_eq!(
            serde_json::to_value(&back).unwrap(),
            serde_json::to_value(&full).unwrap()
        );
    }

    fn engine(root: &Path) -> LocalEngine {
        LocalEngine::open(root, EngineOptions::default()).unwrap()
    }

    fn create(e: &LocalEngine, name: &str) -> String {
        let spec = ContainerCreate {
            name: Some(name.into()),
            image: "wharf/demo".into(),
            cmd: Some(vec!["true".into()]),
            network: Some("none".into()),
            ..Default::default()
        };
        e.container_create(&Caller::root(), &spec).unwrap()
    }

    fn names(e: &LocalEngine) -> Vec<String> {
        let all = ContainerListOptions {
            all: true,
            ..Default::default()
        };
        let mut v: Vec<String> = e
            .container_list(&Caller::root(), &all)
            .unwrap()
            .into_iter()
            .map(|s| s.name)
            .collect();
        v.sort();
        v
    }

    /// Two engines on one root stand for two processes: what one changes, the other
    /// lists at once, whether it watches (from its second listing on) or not.
    #[test]
    fn changes_by_another_engine_are_listed_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        // `a` is long-lived (a console): it watches from its second listing on.
        let a = engine(&root);
        a.lists_often();
        if a.image_build_demo(&Caller::root(), "wharf/demo").is_err() {
            eprintln!("skipped: no /bin/busybox to build the demo image");
            return;
        }
        let b = engine(&root);
        assert!(names(&a).is_empty());
        create(&b, "one");
        assert_eq!(names(&a), ["one"]);
        // From here `a` watches with inotify.
        create(&b, "two");
        assert_eq!(names(&a), ["one", "two"]);
        b.container_rename(&Caller::root(), "one", "uno").unwrap();
        assert_eq!(names(&a), ["two", "uno"]);
        b.container_remove(&Caller::root(), "two", Default::default())
            .unwrap();
        assert_eq!(names(&a), ["uno"]);
        // A state written behind everyone's back (a monitor), by rename.
        let id = a.find_container("uno").unwrap();
        let d = paths::dir(&a, &id);
        let mut st = state::load(&d).unwrap();
        st.status = ContainerStatus::Exited;
        st.exit_code = 7;
        state::save(&d, &st).unwrap();
        let all = ContainerListOptions {
            all: true,
            ..Default::default()
        };
        let l = a.container_list(&Caller::root(), &all).unwrap();
        assert_eq!(l[0].exit_code, Some(7));
        // A third engine, cold, from the summary file: the same.
        let c = engine(&root);
        assert_eq!(names(&c), ["uno"]);
        assert_eq!(
            c.container_list(&Caller::root(), &all).unwrap()[0].exit_code,
            Some(7)
        );
    }

    /// A damaged, truncated or stale summary file is noticed and rebuilt.
    #[test]
    fn a_bad_or_stale_summary_is_rebuilt() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        // `a` is long-lived (a console): it watches from its second listing on.
        let a = engine(&root);
        a.lists_often();
        if a.image_build_demo(&Caller::root(), "wharf/demo").is_err() {
            eprintln!("skipped: no /bin/busybox to build the demo image");
            return;
        }
        for n in ["a1", "a2", "a3"] {
            create(&a, n);
        }
        assert_eq!(names(&engine(&root)), ["a1", "a2", "a3"]);
        let file = root.join("run/containers.summary");
        let good = std::fs::read(&file).unwrap();
        // Truncated.
        std::fs::write(&file, &good[..good.len() / 2]).unwrap();
        assert_eq!(names(&engine(&root)), ["a1", "a2", "a3"]);
        // Garbage, empty.
        std::fs::write(&file, b"not json").unwrap();
        assert_eq!(names(&engine(&root)), ["a1", "a2", "a3"]);
        std::fs::write(&file, b"").unwrap();
        assert_eq!(names(&engine(&root)), ["a1", "a2", "a3"]);
        // Stale: an old summary put back after changes (a crash lost the new one).
        std::fs::write(&file, &good).unwrap();
        a.container_remove(&Caller::root(), "a1", Default::default())
            .unwrap();
        a.container_rename(&Caller::root(), "a2", "b2").unwrap();
        create(&a, "a4");
        std::fs::write(&file, &good).unwrap();
        assert_eq!(names(&engine(&root)), ["a3", "a4", "b2"]);
        // Another boot's summary is not trusted at all.
        let mut v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        v["boot_id"] = "another-boot".into();
        std::fs::write(&file, serde_json::to_vec(&v).unwrap()).unwrap();
        assert_eq!(names(&engine(&root)), ["a3", "a4", "b2"]);
        // Names resolve through the index too.
        let e = engine(&root);
        assert!(e.find_container("a1").is_err());
        assert!(e.find_container("b2").is_ok());
    }

    /// A change within the same clock tick as the read is not missed (racy stamps).
    #[test]
    fn racy_rows_are_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        // `a` is long-lived (a console): it watches from its second listing on.
        let a = engine(&root);
        a.lists_often();
        if a.image_build_demo(&Caller::root(), "wharf/demo").is_err() {
            eprintln!("skipped: no /bin/busybox to build the demo image");
            return;
        }
        let id = create(&a, "quick");
        let d = paths::dir(&a, &id);
        let all = ContainerListOptions {
            all: true,
            ..Default::default()
        };
        for code in 1..20 {
            // Listed by a cold engine, then changed at once: the next cold listing
            // sees the change even when the directory's time did not move.
            let _ = engine(&root).container_list(&Caller::root(), &all).unwrap();
            let mut st = state::load(&d).unwrap();
            st.status = ContainerStatus::Exited;
            st.exit_code = code;
            state::save(&d, &st).unwrap();
            let l = engine(&root).container_list(&Caller::root(), &all).unwrap();
            assert_eq!(l[0].exit_code, Some(code));
        }
    }

    /// A lookup by name that had to read many rows leaves the summary file for the
    /// next process; one that read a few does not (writing it would cost more).
    #[test]
    fn lookups_keep_the_summary_past_many_reads() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let a = engine(&root);
        if a.image_build_demo(&Caller::root(), "wharf/demo").is_err() {
            eprintln!("skipped: no /bin/busybox to build the demo image");
            return;
        }
        for i in 0..REREAD_KEEP + 4 {
            create(&a, &format!("c{i}"));
        }
        let summary = summary_path(&a);
        let _ = std::fs::remove_file(&summary);
        // Past the racy window: rows read now are trusted from the file later.
        std::thread::sleep(std::time::Duration::from_nanos(3 * SLACK as u64));
        let b = engine(&root);
        assert!(b.find_container("c3").is_ok());
        assert!(summary.exists(), "a lookup that read every row keeps them");
        // Two new containers: the next cold lookup reads those two rows only, and
        // leaves the file as it was.
        let kept = std::fs::read(&summary).unwrap();
        // Each by a process of its own, as the command line does (`a` has counted rows
        // of its own, racy ones read again at each of its lookups).
        create(&engine(&root), "late1");
        create(&engine(&root), "late2");
        let c = engine(&root);
        assert!(c.find_container("late2").is_ok());
        assert_eq!(c.index().lock().reread, 2);
        assert_eq!(std::fs::read(&summary).unwrap(), kept);
    }

    #[test]
    fn stamps_tell_racy_from_settled() {
        let s = Stamp {
            ino: 1,
            mtime: 1_000_000_000,
            ctime: 1_000_000_000,
        };
        assert!(s.racy(1_000_000_000));
        assert!(s.racy(1_000_000_000 + SLACK - 1));
        assert!(!s.racy(1_000_000_000 + SLACK + 1));
    }
}
