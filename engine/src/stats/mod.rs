//! Stats: one sampler per engine reads cgroups and network counters for the containers
//! someone is watching, at a fixed interval, and keeps a bounded history per container.
//! Watchers (`wharf stats`, the console, server clients) share its samples.
//!
//! A round costs little: the list of containers is taken again only when the event
//! journal changed (or every [`RELIST`]), each container's files stay open and are read
//! into samples updated in place, and the Docker-shaped [`ContainerStats`] is built only
//! for the watchers that ask, from the kept samples.

mod api;
pub mod read;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::api::{
    BlkioEntry, BlkioStats, ContainerStats, CpuStats, HostStats, MemoryStats, StatsPoint,
};
use read::{CgroupPaths, HostCpu, Reader, Sample};

/// Default sampling interval.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);
/// Points kept per container (10 minutes at 1 s).
pub const HISTORY: usize = 600;
/// Longest time between two listings of the containers when the event journal shows
/// no change.
pub const RELIST: Duration = Duration::from_secs(30);
/// A container is read in full (limits, and the files read only when it ran) at least
/// once in this many rounds, in turn, even when nothing says it changed: the safety net
/// for changes made behind wharf's back (a limit written by hand, an interface moved
/// into its namespace). Changes made through wharf are seen at the next round.
pub const REFRESH_EVERY: u64 = 30;
/// `preread` of a first sample, as Docker sends it.
const NEVER: &str = "0001-01-01T00:00:00Z";

/// A container to sample: from the runtime's view of running containers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub id: String,
    pub name: String,
    /// Init pid, for network counters.
    pub pid: Option<i32>,
    pub owner: u32,
    /// New, or its state or configuration changed, since the previous listing.
    pub changed: bool,
}

/// Lists the containers that can be sampled now (running ones). Called every round:
/// returns `None` when nothing changed since the last list it returned, unless asked
/// with `true`, when it always lists.
pub type TargetSource = Arc<dyn Fn(bool) -> Option<Vec<Target>> + Send + Sync>;

/// A sampled container: its reader, its latest sample and the previous CPU figures.
struct Slot {
    id: String,
    /// `/name`, as Docker shows it.
    name: String,
    owner: u32,
    reader: Reader,
    sample: Sample,
    cpu: CpuStats,
    /// When `sample` was taken; `None` before the first.
    read: Option<chrono::DateTime<chrono::Utc>>,
    /// The previous sample's CPU figures and time, if there was one.
    prev: Option<CpuStats>,
    preread: Option<chrono::DateTime<chrono::Utc>>,
    /// `read` and `preread` as Docker writes them, made when a watcher first asks after
    /// a sample (once a round for all watchers, never when nobody watches).
    times_text: Option<(String, String)>,
    /// Its column in the history frames, and the first round it has a point in.
    col: usize,
    since: u64,
    /// To be read in full at the next round.
    stale: bool,
}

impl Slot {
    fn new(base: &std::path::Path, v2: bool, t: &Target) -> Self {
        Slot {
            id: t.id.clone(),
            name: format!("/{}", t.name),
            owner: t.owner,
            reader: Reader::new(CgroupPaths::for_container(base, v2, &t.id), t.pid),
            sample: Sample::default(),
            cpu: CpuStats::default(),
            read: None,
            prev: None,
            preread: None,
            times_text: None,
            col: 0,
            since: 0,
            stale: true,
        }
    }

    /// Take a listing's view of the container (renamed, restarted with a new pid).
    fn update(&mut self, t: &Target) {
        if self.name.get(1..) != Some(t.name.as_str()) {
            self.name = format!("/{}", t.name);
        }
        self.owner = t.owner;
        self.reader.set_pid(t.pid);
    }

    /// The memory limit; none (or the kernel's "unlimited" value) reports the host's
    /// memory, as Docker.
    fn mem_limit(&self, mem_total: u64) -> u64 {
        match self.sample.mem_limit {
            0 => mem_total,
            l if l > mem_total => mem_total,
            l => l,
        }
    }

    /// The figures the console charts, as [`ContainerStats::point`] computes them.
    fn point(&self, time_ms: i64, mem_total: u64) -> StatsPoint {
        let (net_rx, net_tx) = self.sample.net_io();
        let (blk_read, blk_write) = self.sample.block_io();
        StatsPoint {
            time_ms,
            cpu_percent: self.cpu.percent_since(&self.prev.unwrap_or_default()),
            mem_usage: self.sample.mem_used(),
            mem_limit: self.mem_limit(mem_total),
            net_rx,
            net_tx,
            blk_read,
            blk_write,
            pids: self.sample.pids.current,
        }
    }

    /// The Docker-shaped latest sample.
    fn stats(&mut self, mem_total: u64) -> ContainerStats {
        let (read, preread) = self.times_text.get_or_insert_with(|| {
            let text = |t: chrono::DateTime<chrono::Utc>| {
                t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
            };
            (
                self.read.map(text).unwrap_or_default(),
                self.preread.map_or_else(|| NEVER.into(), text),
            )
        });
        let (read, preread) = (read.clone(), preread.clone());
        let s = &self.sample;
        ContainerStats {
            id: self.id.clone(),
            name: self.name.clone(),
            read,
            preread,
            cpu_stats: self.cpu,
            precpu_stats: self.prev.unwrap_or_default(),
            memory_stats: MemoryStats {
                usage: s.mem_usage,
                limit: self.mem_limit(mem_total),
                stats: s.mem_stat.map().clone(),
                oom_kills: s.oom_kills,
            },
            networks: read::net_map(&s.networks),
            blkio_stats: BlkioStats {
                io_service_bytes_recursive: s
                    .io
                    .iter()
                    .map(|e| BlkioEntry {
                        major: e.major,
                        minor: e.minor,
                        op: if e.write { "write" } else { "read" }.into(),
                        value: e.value,
                    })
                    .collect(),
            },
            pids_stats: s.pids,
        }
    }
}

/// The history of every sampled container: one frame per round (the last [`HISTORY`]
/// rounds), holding each container's point at its column. A round writes one frame
/// front to back, instead of one cold line in a ring per container.
#[derive(Default)]
struct History {
    /// Oldest first: the round and the points by column.
    frames: VecDeque<(u64, Vec<StatsPoint>)>,
    /// Columns in use so far, and those given back.
    cols: usize,
    free: Vec<usize>,
}

impl History {
    fn take_col(&mut self) -> usize {
        self.free.pop().unwrap_or_else(|| {
            self.cols += 1;
            self.cols - 1
        })
    }

    fn free_col(&mut self, col: usize) {
        self.free.push(col);
    }

    /// The frame of `round` (the oldest one's storage reused once there are enough).
    fn next_frame(&mut self, round: u64) -> &mut [StatsPoint] {
        let mut points = if self.frames.len() >= HISTORY {
            self.frames.pop_front().map(|f| f.1).unwrap_or_default()
        } else {
            Vec::new()
        };
        points.clear();
        points.resize(self.cols, StatsPoint::default());
        self.frames.push_back((round, points));
        match self.frames.back_mut() {
            Some(f) => &mut f.1,
            None => &mut [],
        }
    }

    /// The points at `col` from round `since` on.
    fn points(&self, col: usize, since: u64) -> Vec<StatsPoint> {
        self.frames
            .iter()
            .filter(|(round, _)| *round >= since)
            .filter_map(|(_, points)| points.get(col).copied())
            .collect()
    }
}

#[derive(Default)]
struct State {
    watchers: usize,
    running: bool,
    generation: u64,
    /// `generation` when the running thread started: rounds up to it were made by a
    /// thread that stopped, and their samples are gone.
    started_at: u64,
    /// The containers sampled, in the order of the last listing (by name).
    slots: Vec<Slot>,
    host_cpu: HostCpu,
    /// The host's memory (read when the containers are listed).
    mem_total: u64,
    /// Rounds made.
    rounds: u64,
    history: History,
    host_prev: Option<(u64, u64)>,
}

/// The engine's sampler.
pub struct Sampler {
    interval: Duration,
    cgroup_base: PathBuf,
    v2: bool,
    state: Mutex<State>,
    tick: Condvar,
}

impl std::fmt::Debug for Sampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sampler")
            .field("interval", &self.interval)
            .field("v2", &self.v2)
            .finish()
    }
}

/// A registered watcher; samples continue while at least one exists.
pub struct Watch {
    sampler: Arc<Sampler>,
    seen: u64,
}

impl Drop for Watch {
    fn drop(&mut self) {
        if let Ok(mut st) = self.sampler.state.lock() {
            st.watchers = st.watchers.saturating_sub(1);
        }
    }
}

fn meminfo() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let get = |k: &str| {
        text.lines()
            .find_map(|l| {
                l.strip_prefix(k).map(|v| {
                    v.trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<u64>()
                        .unwrap_or(0)
                        * 1024
                })
            })
            .unwrap_or(0)
    };
    (get("MemTotal:"), get("MemAvailable:"))
}

fn lock(m: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    match m.lock() {
        Ok(s) => s,
        Err(p) => p.into_inner(),
    }
}

impl Sampler {
    /// A sampler reading the cgroupfs at `cgroup_base` (`/sys/fs/cgroup`), v2 layout or v1.
    pub fn new(interval: Duration, cgroup_base: PathBuf, v2: bool) -> Arc<Self> {
        Arc::new(Sampler {
            interval,
            cgroup_base,
            v2,
            state: Mutex::new(State::default()),
            tick: Condvar::new(),
        })
    }

    /// The sampling interval.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Sample one container into its slot; returns its history point.
    fn sample_one(
        slot: &mut Slot,
        system: u64,
        cpus: u32,
        mem_total: u64,
        refresh: bool,
    ) -> StatsPoint {
        let now = chrono::Utc::now();
        if slot.read.is_some() {
            slot.prev = Some(slot.cpu);
            slot.preread = slot.read;
        }
        slot.reader.sample(&mut slot.sample, refresh);
        slot.cpu = CpuStats {
            cpu_usage: slot.sample.cpu,
            system_cpu_usage: system,
            online_cpus: cpus,
            throttling_data: slot.sample.throttling,
        };
        slot.read = Some(now);
        slot.times_text = None;
        slot.point(now.timestamp_millis(), mem_total)
    }

    /// One round: what the sampler thread does each interval. `listed` is a new list of
    /// the containers to sample (`None`: the same as the last round's). Containers new
    /// or changed in it are read in full (limits too); the others are, in turn, one
    /// round in [`REFRESH_EVERY`].
    fn round(&self, listed: Option<Vec<Target>>) {
        let mut guard = lock(&self.state);
        let st = &mut *guard;
        let (system, cpus) = st.host_cpu.read();
        if let Some(targets) = listed {
            st.mem_total = meminfo().0;
            let mut old: HashMap<String, Slot> =
                st.slots.drain(..).map(|s| (s.id.clone(), s)).collect();
            for t in &targets {
                let slot = match old.remove(&t.id) {
                    Some(mut s) => {
                        s.update(t);
                        s.stale |= t.changed;
                        s
                    }
                    None => {
                        let mut s = Slot::new(&self.cgroup_base, self.v2, t);
                        s.col = st.history.take_col();
                        s.since = st.rounds + 1;
                        s
                    }
                };
                st.slots.push(slot);
            }
            for gone in old.into_values() {
                st.history.free_col(gone.col);
            }
        }
        st.rounds += 1;
        let (mem_total, round) = (st.mem_total, st.rounds);
        let frame = st.history.next_frame(round);
        for (i, slot) in st.slots.iter_mut().enumerate() {
            let refresh =
                std::mem::take(&mut slot.stale) || (round + i as u64) % REFRESH_EVERY == 0;
            frame[slot.col] = Self::sample_one(slot, system, cpus, mem_total, refresh);
        }
        st.generation += 1;
        self.tick.notify_all();
    }

    /// Register a watcher; starts the sampling thread if it is not running. The
    /// watcher's first batch is the latest round if the running thread made it, else
    /// that thread's first round: a stopped thread's last round is gone with its
    /// samples, and counted as a round, it made the Docker API (which skips a first
    /// round) answer with a sample that had no previous one.
    pub fn watch(self: &Arc<Self>, source: TargetSource) -> Watch {
        let (start, seen) = {
            let mut st = lock(&self.state);
            st.watchers += 1;
            let start = !st.running;
            st.running = true;
            if start {
                st.started_at = st.generation;
            }
            let seen = if st.generation == st.started_at {
                st.generation
            } else {
                0
            };
            (start, seen)
        };
        if start {
            let me = self.clone();
            std::thread::Builder::new()
                .name("wharf-stats".into())
                .spawn(move || me.run(source))
                .expect("spawning the stats thread");
        }
        Watch {
            sampler: self.clone(),
            seen,
        }
    }

    /// The sampler thread: one round per interval (one wake-up), while someone watches.
    fn run(self: Arc<Self>, source: TargetSource) {
        let mut listed_at: Option<Instant> = None;
        loop {
            let started = Instant::now();
            let force = listed_at.is_none_or(|t| started.duration_since(t) >= RELIST);
            let listed = source(force);
            if listed.is_some() {
                listed_at = Some(started);
            }
            self.round(listed);
            let mut st = lock(&self.state);
            if st.watchers == 0 {
                st.running = false;
                st.slots.clear();
                st.history = History::default();
                return;
            }
            drop(st);
            std::thread::sleep(self.interval.saturating_sub(started.elapsed()));
        }
    }

    /// Wait for the next round after the one this watcher last saw, and return its
    /// samples of the containers for which `want(id, owner uid)` is true, in the order
    /// of the listing. `None` if `timeout` passes first.
    pub fn next_batch(
        &self,
        w: &mut Watch,
        want: &dyn Fn(&str, u32) -> bool,
        timeout: Duration,
    ) -> Option<Vec<ContainerStats>> {
        let st = lock(&self.state);
        let (mut st, _) = self
            .tick
            .wait_timeout_while(st, timeout, |s| s.generation <= w.seen)
            .unwrap_or_else(|p| p.into_inner());
        if st.generation <= w.seen {
            return None;
        }
        w.seen = st.generation;
        let st = &mut *st;
        let mem_total = st.mem_total;
        Some(
            st.slots
                .iter_mut()
                .filter(|s| want(&s.id, s.owner))
                .map(|s| s.stats(mem_total))
                .collect(),
        )
    }

    /// The history of a container while it is sampled (oldest first, at most
    /// [`HISTORY`] points).
    pub fn history(&self, id: &str) -> Vec<StatsPoint> {
        let st = lock(&self.state);
        st.slots
            .iter()
            .find(|s| s.id == id)
            .map(|s| st.history.points(s.col, s.since))
            .unwrap_or_default()
    }

    /// Host figures; CPU % is measured since the previous call.
    pub fn host(&self, state_root: &std::path::Path) -> HostStats {
        let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let (total, idle, ncpu) = read::system_cpu_idle(text.as_bytes());
        let cpu_percent = {
            let mut st = lock(&self.state);
            let pct = match st.host_prev {
                Some((t0, i0)) if total > t0 => {
                    100.0 * (1.0 - (idle.saturating_sub(i0)) as f64 / (total - t0) as f64)
                }
                _ => 0.0,
            };
            st.host_prev = Some((total, idle));
            pct.clamp(0.0, 100.0)
        };
        let (mem_total, mem_avail) = meminfo();
        let load = std::fs::read_to_string("/proc/loadavg")
            .ok()
            .map(|t| {
                let v: Vec<f64> = t
                    .split_whitespace()
                    .take(3)
                    .filter_map(|x| x.parse().ok())
                    .collect();
                [
                    v.first().copied().unwrap_or(0.0),
                    v.get(1).copied().unwrap_or(0.0),
                    v.get(2).copied().unwrap_or(0.0),
                ]
            })
            .unwrap_or_default();
        let (disk_total, disk_free) = nix::sys::statvfs::statvfs(state_root)
            .map(|s| {
                (
                    s.blocks() * s.fragment_size(),
                    s.blocks_available() * s.fragment_size(),
                )
            })
            .unwrap_or((0, 0));
        HostStats {
            ncpu,
            cpu_percent,
            mem_total,
            mem_used: mem_total.saturating_sub(mem_avail),
            load,
            disk_total,
            disk_free,
        }
    }
}

/// Group samples by id (for callers that want a map).
pub fn by_id(batch: Vec<ContainerStats>) -> BTreeMap<String, ContainerStats> {
    batch.into_iter().map(|s| (s.id.clone(), s)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real v1 cgroup made by the test (this host runs v1 controllers), with a
    /// process burning CPU in it, read through the sampler.
    #[test]
    fn samples_a_real_v1_cgroup() {
        if crate::api::CgroupMode::detect() == crate::api::CgroupMode::V2
            || !nix::unistd::geteuid().is_root()
        {
            eprintln!("skipped: needs root and cgroup v1 controllers (the v2 path is covered by fixtures and the qemu guest)");
            return;
        }
        let id = format!("stats-test-{}", &crate::ids::new_id()[..12]);
        let base = PathBuf::from("/sys/fs/cgroup");
        let ctrls = ["cpuacct", "cpu", "memory", "blkio", "pids"];
        struct Cleanup(Vec<PathBuf>, Option<std::process::Child>);
        impl Drop for Cleanup {
            fn drop(&mut self) {
                if let Some(c) = self.1.as_mut() {
                    let _ = c.kill();
                    let _ = c.wait();
                }
                for p in &self.0 {
                    let _ = std::fs::remove_dir(p);
                }
            }
        }
        let mut guard = Cleanup(vec![], None);
        for c in ctrls {
            let p = base.join(c).join("wharf").join(&id);
            std::fs::create_dir_all(&p).unwrap();
            guard.0.push(p);
        }
        std::fs::write(base.join("pids/wharf").join(&id).join("pids.max"), "50").unwrap();
        // The child waits until it is in the cgroup, then allocates 20 MB (charged to the
        // cgroup) and spins.
        let mut child = std::process::Command::new("sh")
            .arg("-c")
            .arg("read go; x=$(head -c 20000000 /dev/zero | tr '\\0' a); while :; do :; done")
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        let mut stdin = child.stdin.take().unwrap();
        guard.1 = Some(child);
        for c in ctrls {
            std::fs::write(
                base.join(c).join("wharf").join(&id).join("cgroup.procs"),
                pid.to_string(),
            )
            .unwrap();
        }
        use std::io::Write as _;
        stdin.write_all(b"go\n").unwrap();
        let sampler = Sampler::new(Duration::from_millis(300), base, false);
        let t = Target {
            id: id.clone(),
            name: "burner".into(),
            pid: Some(pid as i32),
            owner: 0,
            changed: true,
        };
        let src: TargetSource = Arc::new(move |_| Some(vec![t.clone()]));
        let mut w = sampler.watch(src);
        let want = |_: &str, _: u32| true;
        let mut last = None;
        for _ in 0..4 {
            last = sampler.next_batch(&mut w, &want, Duration::from_secs(5));
        }
        let batch = last.expect("a batch within the deadline");
        let s = &batch[0];
        assert_eq!(s.name, "/burner");
        // The cgroup's CPU time matches what the kernel accounts to the process itself
        // (independent of how loaded the machine is), and shows as a positive CPU %.
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .unwrap()
            .1
            .split_whitespace()
            .collect();
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        let proc_ns = ticks * 10_000_000;
        let cg_ns = s.cpu_stats.cpu_usage.total_usage;
        assert!(
            cg_ns + 100_000_000 >= proc_ns / 2 && cg_ns <= proc_ns + 500_000_000,
            "cgroup cpu {cg_ns} ns vs process cpu {proc_ns} ns"
        );
        assert!(
            s.cpu_percent() > 1.0,
            "a busy loop shows CPU use: {}",
            s.cpu_percent()
        );
        assert!(
            s.pids_stats.current >= 1 && s.pids_stats.limit == Some(50),
            "{:?}",
            s.pids_stats
        );
        assert!(
            s.memory_stats.usage > 10_000_000,
            "allocated memory is charged: {}",
            s.memory_stats.usage
        );
        assert!(s.memory_stats.limit > 0);
        assert!(sampler.history(&id).len() >= 3);
    }

    /// Rounds over recorded cgroup v2 files: the Docker shape built for watchers, the
    /// history points and listings that change.
    #[test]
    fn rounds_over_recorded_files() {
        let d = tempfile::tempdir().unwrap();
        let base = d.path().to_path_buf();
        read::tests::v2_fixture(&base.join("wharf/aaa"));
        read::tests::v2_fixture(&base.join("wharf/bbb"));
        let sampler = Sampler::new(DEFAULT_INTERVAL, base.clone(), true);
        let target = |id: &str, name: &str, owner| Target {
            id: id.into(),
            name: name.into(),
            pid: None,
            owner,
            changed: true,
        };
        let everyone = |_: &str, _: u32| true;
        let batch = |s: &Sampler| {
            let mut w = Watch {
                sampler: sampler.clone(),
                seen: 0,
            };
            lock(&s.state).watchers += 1;
            s.next_batch(&mut w, &everyone, Duration::ZERO).unwrap()
        };
        sampler.round(Some(vec![target("aaa", "a", 0), target("bbb", "b", 1000)]));
        let mem_total = meminfo().0;
        let first = batch(&sampler);
        assert_eq!(first.len(), 2);
        let a = &first[0];
        assert_eq!((a.id.as_str(), a.name.as_str()), ("aaa", "/a"));
        assert_eq!(a.preread, NEVER);
        assert_eq!(a.precpu_stats, CpuStats::default());
        assert_eq!(a.cpu_stats.cpu_usage.total_usage, 2_500_000_000);
        assert_eq!(a.cpu_stats.throttling_data.throttled_periods, 4);
        assert!(a.cpu_stats.online_cpus >= 1 && a.cpu_stats.system_cpu_usage > 0);
        assert_eq!(
            a.memory_stats,
            MemoryStats {
                usage: 10 << 20,
                limit: mem_total,
                stats: Arc::new(BTreeMap::from([
                    ("active_file".into(), 4 << 20),
                    ("anon".into(), 4 << 20),
                    ("file".into(), 6 << 20),
                    ("inactive_file".into(), 2 << 20),
                ])),
                oom_kills: 1,
            }
        );
        assert_eq!(
            a.blkio_stats.io_service_bytes_recursive[..2],
            [
                BlkioEntry {
                    major: 8,
                    minor: 0,
                    op: "read".into(),
                    value: 4096
                },
                BlkioEntry {
                    major: 8,
                    minor: 0,
                    op: "write".into(),
                    value: 8192
                }
            ]
        );
        assert!(a.networks.is_empty());
        assert_eq!(a.pids_stats.current, 3);
        // Docker's JSON shape, and back (as a remote client reads it).
        let json = serde_json::to_value(a).unwrap();
        assert_eq!(json["memory_stats"]["stats"]["inactive_file"], 2 << 20);
        assert_eq!(
            json["blkio_stats"]["io_service_bytes_recursive"][1]["op"],
            "write"
        );
        assert_eq!(json["preread"], NEVER);
        let back: ContainerStats = serde_json::from_value(json).unwrap();
        assert_eq!(&back, a);

        // The next round (same list): CPU moved, previous figures carried over.
        let dir = base.join("wharf/aaa");
        std::fs::write(dir.join("cpu.stat"), "usage_usec 3500000\nuser_usec 2500000\nsystem_usec 1000000\nnr_periods 10\nnr_throttled 4\nthrottled_usec 1200\n").unwrap();
        std::fs::write(dir.join("memory.max"), "8388608\n").unwrap();
        sampler.round(None);
        let second = batch(&sampler);
        let a2 = &second[0];
        assert_eq!(a2.preread, a.read);
        assert_eq!(a2.precpu_stats, a.cpu_stats);
        assert_eq!(a2.cpu_stats.cpu_usage.total_usage, 3_500_000_000);
        assert_eq!(
            a2.memory_stats.limit, mem_total,
            "limits wait for a listing"
        );
        // The history holds what ContainerStats::point computes from the Docker shape.
        let hist = sampler.history("aaa");
        assert_eq!(hist.len(), 2);
        for (p, s) in hist.iter().zip([a, a2]) {
            assert_eq!(*p, s.point(p.time_ms));
        }

        // A new listing: bbb renamed, aaa gone, ccc new; limits read again.
        read::tests::v2_fixture(&base.join("wharf/ccc"));
        std::fs::write(base.join("wharf/bbb/memory.max"), "8388608\n").unwrap();
        sampler.round(Some(vec![target("bbb", "b2", 1000), target("ccc", "c", 0)]));
        let third = batch(&sampler);
        let names: Vec<&str> = third.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["/b2", "/c"]);
        assert_eq!(third[0].memory_stats.limit, 8 << 20);
        assert_eq!(third[0].preread, second[1].read, "bbb kept its samples");
        assert_eq!(third[1].preread, NEVER);
        assert!(sampler.history("aaa").is_empty());
        assert_eq!(sampler.history("bbb").len(), 3);
        // A listing where ccc did not change: its new limit waits for its turn.
        std::fs::write(base.join("wharf/ccc/memory.max"), "4194304\n").unwrap();
        let unchanged = Target {
            changed: false,
            ..target("ccc", "c", 0)
        };
        sampler.round(Some(vec![target("bbb", "b2", 1000), unchanged]));
        assert_eq!(batch(&sampler)[1].memory_stats.limit, mem_total);
        let mut turns = 1;
        while batch(&sampler)[1].memory_stats.limit == mem_total {
            assert!(
                turns < REFRESH_EVERY,
                "read in full within {REFRESH_EVERY} rounds"
            );
            sampler.round(None);
            turns += 1;
        }
        assert_eq!(batch(&sampler)[1].memory_stats.limit, 4 << 20);
        // The history is bounded, oldest first, and ends with the latest sample.
        for _ in 0..HISTORY + 5 {
            sampler.round(None);
        }
        let last = batch(&sampler);
        for (i, s) in last.iter().enumerate() {
            let h = sampler.history(&s.id);
            assert_eq!(h.len(), HISTORY);
            assert!(h.windows(2).all(|w| w[0].time_ms <= w[1].time_ms));
            let p = h[HISTORY - 1];
            assert_eq!(p, s.point(p.time_ms), "container {i}");
        }
        // Watchers see only what they want.
        let mut w = Watch {
            sampler: sampler.clone(),
            seen: 0,
        };
        lock(&sampler.state).watchers += 1;
        let mine = sampler
            .next_batch(&mut w, &|_, owner| owner == 1000, Duration::ZERO)
            .unwrap();
        assert_eq!(mine.len(), 1);
        assert_eq!(mine[0].id, "bbb");
    }

    /// A watcher that starts the sampler again after it stopped (no watchers) gets the
    /// new thread's rounds, not the stopped one's last generation, whose samples are
    /// gone: so its second batch has previous figures (oxker's `stats?stream=false`
    /// calls, a second apart, showed CPU % since boot now and then).
    #[test]
    fn a_restarted_sampler_counts_only_its_new_rounds() {
        let d = tempfile::tempdir().unwrap();
        let base = d.path().to_path_buf();
        read::tests::v2_fixture(&base.join("wharf/aaa"));
        let sampler = Sampler::new(Duration::from_millis(100), base, true);
        let src: TargetSource = Arc::new(|_| {
            Some(vec![Target {
                id: "aaa".into(),
                name: "a".into(),
                pid: None,
                owner: 0,
                changed: true,
            }])
        });
        let all = |_: &str, _: u32| true;
        let wait = Duration::from_secs(10);
        let mut w = sampler.watch(src.clone());
        assert_eq!(sampler.next_batch(&mut w, &all, wait).unwrap().len(), 1);
        drop(w);
        let deadline = Instant::now() + wait;
        while lock(&sampler.state).running {
            assert!(Instant::now() < deadline, "the sampler did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
        // The watcher that starts it again, and one that comes (most likely) before the
        // new thread's first round.
        let mut watchers = [sampler.watch(src.clone()), sampler.watch(src)];
        for w in &mut watchers {
            let first = sampler.next_batch(w, &all, wait).unwrap();
            assert_eq!(first.len(), 1, "a round of the new thread: {first:?}");
            let second = sampler.next_batch(w, &all, wait).unwrap();
            assert_ne!(second[0].preread, NEVER);
            assert!(second[0].precpu_stats.system_cpu_usage > 0);
        }
    }

    #[test]
    fn host_figures_are_sane() {
        let s = Sampler::new(DEFAULT_INTERVAL, PathBuf::from("/sys/fs/cgroup"), false);
        let h = s.host(std::path::Path::new("/"));
        assert!(
            h.ncpu >= 1
                && h.mem_total > 0
                && h.mem_used <= h.mem_total
                && h.disk_total >= h.disk_free
        );
    }
}
