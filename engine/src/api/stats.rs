//! Stats calls: Docker-shaped container stats, per-container history, host figures.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::caller::Caller;
use crate::error::Result;

/// `cpu_stats.cpu_usage`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuUsage {
    /// Nanoseconds of CPU used by the container.
    pub total_usage: u64,
    pub usage_in_kernelmode: u64,
    pub usage_in_usermode: u64,
}

/// `cpu_stats.throttling_data`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Throttling {
    pub periods: u64,
    pub throttled_periods: u64,
    pub throttled_time: u64,
}

/// `cpu_stats` / `precpu_stats`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuStats {
    pub cpu_usage: CpuUsage,
    /// Nanoseconds of CPU time the whole host has spent (from /proc/stat).
    pub system_cpu_usage: u64,
    pub online_cpus: u32,
    pub throttling_data: Throttling,
}

impl CpuStats {
    /// CPU % as the docker CLI computes it, from `prev` (the previous sample) to these
    /// figures: the container's share of the host's CPU time, times the online CPUs.
    pub fn percent_since(&self, prev: &CpuStats) -> f64 {
        let cpu = self.cpu_usage.total_usage as f64 - prev.cpu_usage.total_usage as f64;
        let sys = self.system_cpu_usage as f64 - prev.system_cpu_usage as f64;
        let cpus = self.online_cpus.max(1) as f64;
        if sys > 0.0 && cpu > 0.0 {
            cpu / sys * cpus * 100.0
        } else {
            0.0
        }
    }
}

/// `memory_stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryStats {
    pub usage: u64,
    pub limit: u64,
    /// Raw counters from memory.stat (inactive_file, total_inactive_file, anon, file, ...).
    /// Shared: the engine hands every watcher the same map (a copy costs a reference
    /// count) and its key names are shared too (`Cow::Borrowed`); deserialized ones own
    /// theirs. Serialized as a plain map.
    pub stats: Arc<BTreeMap<Cow<'static, str>, u64>>,
    /// OOM kills seen by the cgroup.
    #[serde(default)]
    pub oom_kills: u64,
}

/// `networks.<name>`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetStats {
    pub rx_bytes: u64,
    pub rx_packets: u64,
    pub rx_errors: u64,
    pub rx_dropped: u64,
    pub tx_bytes: u64,
    pub tx_packets: u64,
    pub tx_errors: u64,
    pub tx_dropped: u64,
}

/// One entry of `blkio_stats.io_service_bytes_recursive`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlkioEntry {
    pub major: u64,
    pub minor: u64,
    /// `read` or `write` (lowercase, as Docker reports on cgroup v2).
    pub op: String,
    pub value: u64,
}

/// `blkio_stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlkioStats {
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
}

/// `pids_stats`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PidsStats {
    pub current: u64,
    /// `None` = no limit.
    pub limit: Option<u64>,
}

/// One sample, shaped like Docker's `/containers/{id}/stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerStats {
    pub id: String,
    pub name: String,
    /// RFC 3339.
    pub read: String,
    pub preread: String,
    pub cpu_stats: CpuStats,
    pub precpu_stats: CpuStats,
    pub memory_stats: MemoryStats,
    pub networks: BTreeMap<String, NetStats>,
    pub blkio_stats: BlkioStats,
    pub pids_stats: PidsStats,
}

impl ContainerStats {
    /// CPU % as the docker CLI computes it: the container's share of the host's CPU time
    /// since the previous sample, times the number of online CPUs.
    pub fn cpu_percent(&self) -> f64 {
        self.cpu_stats.percent_since(&self.precpu_stats)
    }

    /// Memory in use as the docker CLI shows it: usage minus inactive file cache.
    pub fn mem_usage(&self) -> u64 {
        let s = &self.memory_stats.stats;
        let inactive = s
            .get("total_inactive_file")
            .or_else(|| s.get("inactive_file"))
            .copied()
            .unwrap_or(0);
        self.memory_stats.usage.saturating_sub(inactive)
    }

    /// Memory use as a percentage of the limit.
    pub fn mem_percent(&self) -> f64 {
        if self.memory_stats.limit == 0 {
            0.0
        } else {
            self.mem_usage() as f64 / self.memory_stats.limit as f64 * 100.0
        }
    }

    /// Bytes received and sent over all interfaces.
    pub fn net_io(&self) -> (u64, u64) {
        self.networks
            .values()
            .fold((0, 0), |(r, t), n| (r + n.rx_bytes, t + n.tx_bytes))
    }

    /// Bytes read and written on block devices.
    pub fn block_io(&self) -> (u64, u64) {
        self.blkio_stats
            .io_service_bytes_recursive
            .iter()
            .fold((0, 0), |(r, w), e| {
                match e.op.to_ascii_lowercase().as_str() {
                    "read" => (r + e.value, w),
                    "write" => (r, w + e.value),
                    _ => (r, w),
                }
            })
    }

    /// The figures the console charts.
    pub fn point(&self, time_ms: i64) -> StatsPoint {
        let (net_rx, net_tx) = self.net_io();
        let (blk_read, blk_write) = self.block_io();
        StatsPoint {
            time_ms,
            cpu_percent: self.cpu_percent(),
            mem_usage: self.mem_usage(),
            mem_limit: self.memory_stats.limit,
            net_rx,
            net_tx,
            blk_read,
            blk_write,
            pids: self.pids_stats.current,
        }
    }
}

/// A point of a container's history (for sparklines and charts).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct StatsPoint {
    /// Milliseconds since the epoch.
    pub time_ms: i64,
    pub cpu_percent: f64,
    pub mem_usage: u64,
    pub mem_limit: u64,
    pub net_rx: u64,
    pub net_tx: u64,
    pub blk_read: u64,
    pub blk_write: u64,
    pub pids: u64,
}

/// Options of `wharf stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsOptions {
    /// Keep sending samples (every interval) instead of one.
    pub stream: bool,
    /// With no ids: all containers (not only running ones).
    pub all: bool,
}

/// Host figures for the console header.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HostStats {
    pub ncpu: u32,
    /// Busy share of all CPUs since the previous call (0-100).
    pub cpu_percent: f64,
    pub mem_total: u64,
    /// MemTotal - MemAvailable.
    pub mem_used: u64,
    pub load: [f64; 3],
    /// File system holding the state root.
    pub disk_total: u64,
    pub disk_free: u64,
}

/// Stats calls.
pub trait StatsApi {
    /// `wharf stats`: batches of samples, one batch per interval, for `ids` (all running
    /// containers in the caller's scope when empty), until `sink` returns `false` (or
    /// after the first batch without `opts.stream`).
    fn container_stats(
        &self,
        caller: &Caller,
        ids: &[String],
        opts: &StatsOptions,
        sink: &mut dyn FnMut(Vec<ContainerStats>) -> bool,
    ) -> Result<()>;
    /// The history buffer of a container (oldest first), kept while it is watched.
    fn stats_history(&self, caller: &Caller, id: &str) -> Result<Vec<StatsPoint>>;
    /// Host CPU, memory, load and the state root's disk.
    fn host_stats(&self, caller: &Caller) -> Result<HostStats>;
}
