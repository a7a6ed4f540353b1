//! Stats: one sampler per engine reads cgroups and network counters for the containers
//! someone is watching, at a fixed interval, and keeps a bounded history per container.
//! Watchers (`wharf stats`, the console, server clients) share its samples.

mod api;
pub mod read;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::api::{ContainerStats, CpuStats, HostStats, StatsPoint};
use read::{CgroupPaths, Reader};

/// Default sampling interval.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);
/// Points kept per container (10 minutes at 1 s).
pub const HISTORY: usize = 600;

/// A container to sample: from the runtime's view of running containers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub id: String,
    pub name: String,
    /// Init pid, for network counters.
    pub pid: Option<i32>,
    pub owner: u32,
}

/// Lists the containers that can be sampled now (running ones).
pub type TargetSource = Arc<dyn Fn() -> Vec<Target> + Send + Sync>;

struct Slot {
    reader: Reader,
    latest: Option<ContainerStats>,
    history: VecDeque<StatsPoint>,
}

#[derive(Default)]
struct State {
    watchers: usize,
    running: bool,
    generation: u64,
    slots: HashMap<String, Slot>,
    /// Ids sampled in the last round, in order.
    last_round: Vec<String>,
    /// Owner uid of each container sampled in the last round (for scope filtering).
    owners: HashMap<String, u32>,
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

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

fn read_host_cpu() -> (u64, u32) {
    std::fs::read_to_string("/proc/stat")
        .map(|t| read::system_cpu(&t))
        .unwrap_or((0, 1))
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

    /// Sample `target` once into its slot (creating the reader on first use).
    fn sample_one(&self, slot: &mut Slot, t: &Target, system: u64, cpus: u32, mem_total: u64) {
        let cg = slot.reader.sample_cgroup();
        let networks = slot.reader.sample_net();
        let prev = slot.latest.as_ref();
        let mut memory = cg.memory;
        // No limit (or the kernel's "unlimited" value): report the host's memory, as Docker.
        if memory.limit == 0 || memory.limit > mem_total {
            memory.limit = mem_total;
        }
        let stats = ContainerStats {
            id: t.id.clone(),
            name: format!("/{}", t.name),
            read: now_rfc3339(),
            preread: prev
                .map(|p| p.read.clone())
                .unwrap_or_else(|| "0001-01-01T00:00:00Z".into()),
            cpu_stats: CpuStats {
                cpu_usage: cg.cpu,
                system_cpu_usage: system,
                online_cpus: cpus,
                throttling_data: cg.throttling,
            },
            precpu_stats: prev.map(|p| p.cpu_stats).unwrap_or_default(),
            memory_stats: memory,
            networks,
            blkio_stats: cg.blkio,
            pids_stats: cg.pids,
        };
        let point = stats.point(chrono::Utc::now().timestamp_millis());
        if slot.history.len() == HISTORY {
            slot.history.pop_front();
        }
        slot.history.push_back(point);
        slot.latest = Some(stats);
    }

    /// One round over `targets`: what the sampler thread does each interval.
    pub fn sample_round(&self, targets: &[Target]) {
        let (system, cpus) = read_host_cpu();
        let mem_total = meminfo().0;
        let mut st = match self.state.lock() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        };
        let keep: std::collections::HashSet<&str> = targets.iter().map(|t| t.id.as_str()).collect();
        st.slots.retain(|id, _| keep.contains(id.as_str()));
        for t in targets {
            let slot = st.slots.entry(t.id.clone()).or_insert_with(|| Slot {
                reader: Reader::new(
                    CgroupPaths::for_container(&self.cgroup_base, self.v2, &t.id),
                    t.pid,
                ),
                latest: None,
                history: VecDeque::new(),
            });
            self.sample_one(slot, t, system, cpus, mem_total);
        }
        st.last_round = targets.iter().map(|t| t.id.clone()).collect();
        st.owners = targets.iter().map(|t| (t.id.clone(), t.owner)).collect();
        st.generation += 1;
        self.tick.notify_all();
    }

    /// Register a watcher; starts the sampling thread if it is not running.
    pub fn watch(self: &Arc<Self>, source: TargetSource) -> Watch {
        let start = {
            let mut st = match self.state.lock() {
                Ok(s) => s,
                Err(p) => p.into_inner(),
            };
            st.watchers += 1;
            let start = !st.running;
            st.running = true;
            start
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
            seen: 0,
        }
    }

    fn run(self: Arc<Self>, source: TargetSource) {
        loop {
            let started = Instant::now();
            let targets = source();
            self.sample_round(&targets);
            let mut st = match self.state.lock() {
                Ok(s) => s,
                Err(p) => p.into_inner(),
            };
            if st.watchers == 0 {
                st.running = false;
                st.slots.clear();
                return;
            }
            drop(st);
            std::thread::sleep(self.interval.saturating_sub(started.elapsed()));
        }
    }

    /// Wait for the next round after the one this watcher last saw, and return its
    /// samples (those for which `want` is true). `None` if `timeout` passes first.
    pub fn next_batch(
        &self,
        w: &mut Watch,
        want: &dyn Fn(&str) -> bool,
        timeout: Duration,
    ) -> Option<Vec<ContainerStats>> {
        let st = match self.state.lock() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        };
        let (st, _) = self
            .tick
            .wait_timeout_while(st, timeout, |s| s.generation <= w.seen)
            .unwrap_or_else(|p| p.into_inner());
        if st.generation <= w.seen {
            return None;
        }
        w.seen = st.generation;
        Some(
            st.last_round
                .iter()
                .filter(|id| want(id))
                .filter_map(|id| st.slots.get(id).and_then(|s| s.latest.clone()))
                .collect(),
        )
    }

    /// The owner uid of each container sampled in the last round.
    pub fn owners(&self) -> HashMap<String, u32> {
        self.state
            .lock()
            .map(|st| st.owners.clone())
            .unwrap_or_default()
    }

    /// The history of a container while it is sampled.
    pub fn history(&self, id: &str) -> Vec<StatsPoint> {
        self.state
            .lock()
            .map(|st| {
                st.slots
                    .get(id)
                    .map(|s| s.history.iter().copied().collect())
                    .unwrap_or_default()
            })
            .unwrap_or_default()
    }

    /// Host figures; CPU % is measured since the previous call.
    pub fn host(&self, state_root: &std::path::Path) -> HostStats {
        let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let (total, ncpu) = read::system_cpu(&text);
        let idle: u64 = text
            .lines()
            .next()
            .map(|l| {
                l.split_whitespace()
                    .skip(4)
                    .take(2)
                    .filter_map(|x| x.parse::<u64>().ok())
                    .sum::<u64>()
                    * 10_000_000
            })
            .unwrap_or(0);
        let cpu_percent = {
            let mut st = match self.state.lock() {
                Ok(s) => s,
                Err(p) => p.into_inner(),
            };
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
        };
        let src: TargetSource = Arc::new(move || vec![t.clone()]);
        let mut w = sampler.watch(src);
        let want = |_: &str| true;
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
