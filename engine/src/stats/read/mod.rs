//! Reading one container's figures from cgroupfs (v1 or v2) and its network counters.
//!
//! Files are opened once and re-read with one `pread` at offset 0 into a buffer reused
//! for every file, which cgroupfs and procfs regenerate; the bytes are parsed in place
//! into a [`Sample`] that is updated, not rebuilt, on every round. A sample of a
//! container is a handful of syscalls and no allocation once its keys are known.
//!
//! Some files are read only when they can have changed, which for most containers most
//! of the time (idle ones) is not:
//! - limits (memory, pids, the v1 CPU quota) change only on `wharf update`: they are
//!   read on the rounds the caller marks as a refresh (the sampler does for a container
//!   new or changed according to the event journal, and for each one in turn every
//!   [`super::REFRESH_EVERY`] rounds), as are the v1 throttling counters of a container
//!   without a CPU quota (they cannot move then);
//! - the user/system split of CPU time (v1 cpuacct.stat), the number of tasks and the
//!   OOM kill count move only when the container's tasks run (forks, exits and OOM
//!   kills all run in the container), as do the v1 block I/O bytes (v1 has no cgroup
//!   writeback) and the interfaces of a network namespace with only loopback; so they
//!   are read when its CPU time moved since the previous sample (or at a refresh).
//!   Memory, v2 block I/O and network counters can move without the container running
//!   (reclaim, writeback, packets received): they are read every time.

mod kept;
mod parse;
mod paths;
#[cfg(test)]
pub(super) mod tests;

use std::path::PathBuf;

use crate::api::{CpuUsage, NetStats, PidsStats, Throttling};

use kept::{Got, Kept};
use parse::num;
pub use parse::{
    kv_get, kv_lines, net_map, parse_blkio_v1, parse_cpu_stat_v1, parse_cpu_stat_v2,
    parse_cpuacct_stat, parse_io_stat_v2, parse_net_dev, parse_u64, system_cpu, system_cpu_idle,
    IoEntry, KvLines, KvList,
};
pub use paths::CgroupPaths;

/// What one sample of a container gives, kept and updated in place.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sample {
    pub cpu: CpuUsage,
    pub throttling: Throttling,
    /// memory.usage_in_bytes / memory.current.
    pub mem_usage: u64,
    /// The cgroup's memory limit as read: 0 for none ("max") or unreadable.
    pub mem_limit: u64,
    /// memory.stat.
    pub mem_stat: KvList,
    pub oom_kills: u64,
    /// Bytes read and written per device, in file order.
    pub io: Vec<IoEntry>,
    pub pids: PidsStats,
    /// Interfaces other than loopback, in /proc/net/dev order.
    pub networks: Vec<(String, NetStats)>,
}

impl Sample {
    /// Memory in use as the docker CLI shows it: usage minus inactive file cache.
    pub fn mem_used(&self) -> u64 {
        self.mem_usage.saturating_sub(self.mem_stat.inactive_file())
    }

    /// Bytes received and sent over all interfaces.
    pub fn net_io(&self) -> (u64, u64) {
        self.networks
            .iter()
            .fold((0, 0), |(r, t), (_, n)| (r + n.rx_bytes, t + n.tx_bytes))
    }

    /// Bytes read and written on block devices.
    pub fn block_io(&self) -> (u64, u64) {
        self.io.iter().fold((0, 0), |(r, w), e| {
            if e.write {
                (r, w + e.value)
            } else {
                (r + e.value, w)
            }
        })
    }
}

/// The files of one cgroup layout.
#[derive(Debug)]
enum Files {
    V1 {
        /// cpuacct.usage, cpuacct.stat.
        usage: Kept,
        times: Kept,
        /// cpu.stat (throttling), cpu.cfs_quota_us.
        throttling: Kept,
        quota: Kept,
        /// memory.usage_in_bytes, memory.limit_in_bytes, memory.stat, memory.oom_control.
        mem_usage: Kept,
        mem_limit: Kept,
        mem_stat: Kept,
        oom: Kept,
        /// blkio.throttle.io_service_bytes_recursive.
        io: Kept,
        pids_current: Kept,
        pids_max: Kept,
        /// A CPU quota is set (as of the last refresh): the throttling counters move.
        quota_set: bool,
    },
    V2 {
        /// cpu.stat (usage and throttling).
        cpu: Kept,
        /// memory.current, memory.max, memory.stat, memory.events.
        mem_usage: Kept,
        mem_limit: Kept,
        mem_stat: Kept,
        events: Kept,
        /// io.stat.
        io: Kept,
        pids_current: Kept,
        pids_max: Kept,
    },
}

/// Keeps a container's files open between samples.
#[derive(Debug)]
pub struct Reader {
    /// Where the files are (opened again when the container restarts).
    paths: CgroupPaths,
    files: Files,
    pid: Option<i32>,
    net: Option<Kept>,
    /// The last read of /proc/net/dev showed loopback only.
    net_empty: bool,
    buf: Vec<u8>,
    /// Nothing read yet: the first sample reads the limits too.
    first: bool,
}

impl Reader {
    /// A reader for a container's cgroup, and its init `pid` for network counters.
    pub fn new(paths: CgroupPaths, pid: Option<i32>) -> Self {
        let files = match paths.clone() {
            CgroupPaths::V1 {
                cpuacct,
                cpu,
                memory,
                blkio,
                pids,
            } => Files::V1 {
                usage: Kept::new(cpuacct.join("cpuacct.usage")),
                times: Kept::new(cpuacct.join("cpuacct.stat")),
                throttling: Kept::new(cpu.join("cpu.stat")),
                quota: Kept::new(cpu.join("cpu.cfs_quota_us")),
                mem_usage: Kept::new(memory.join("memory.usage_in_bytes")),
                mem_limit: Kept::new(memory.join("memory.limit_in_bytes")),
                mem_stat: Kept::new(memory.join("memory.stat")),
                oom: Kept::new(memory.join("memory.oom_control")),
                io: Kept::new(blkio.join("blkio.throttle.io_service_bytes_recursive")),
                pids_current: Kept::new(pids.join("pids.current")),
                pids_max: Kept::new(pids.join("pids.max")),
                quota_set: true,
            },
            CgroupPaths::V2(dir) => Files::V2 {
                cpu: Kept::new(dir.join("cpu.stat")),
                mem_usage: Kept::new(dir.join("memory.current")),
                mem_limit: Kept::new(dir.join("memory.max")),
                mem_stat: Kept::new(dir.join("memory.stat")),
                events: Kept::new(dir.join("memory.events")),
                io: Kept::new(dir.join("io.stat")),
                pids_current: Kept::new(dir.join("pids.current")),
                pids_max: Kept::new(dir.join("pids.max")),
            },
        };
        Reader {
            paths,
            files,
            pid,
            net: pid.map(net_file),
            net_empty: false,
            buf: Vec::new(),
            first: true,
        }
    }

    /// The container's init pid changed: it started again, in a cgroup made anew (the
    /// files kept open belong to the one removed), so everything is opened again and the
    /// next sample reads the limits too.
    pub fn set_pid(&mut self, pid: Option<i32>) {
        if pid != self.pid {
            *self = Reader::new(self.paths.clone(), pid);
        }
    }

    /// Sample the cgroup and network counters into `s`; missing files read as zero.
    /// With `refresh`, limits are read again and files that were missing are tried again.
    pub fn sample(&mut self, s: &mut Sample, refresh: bool) {
        let first = std::mem::take(&mut self.first);
        let refresh = refresh || first;
        let buf = &mut self.buf;
        let ran = match &mut self.files {
            Files::V1 {
                usage,
                times,
                throttling,
                quota,
                mem_usage,
                mem_limit,
                mem_stat,
                oom,
                io,
                pids_current,
                pids_max,
                quota_set,
            } => {
                if refresh {
                    for k in [
                        &mut *usage,
                        &mut *times,
                        &mut *throttling,
                        &mut *quota,
                        &mut *mem_usage,
                        &mut *mem_limit,
                        &mut *mem_stat,
                        &mut *oom,
                        &mut *io,
                        &mut *pids_current,
                        &mut *pids_max,
                    ] {
                        k.refresh();
                    }
                    // -1 (or unreadable: assume set, and read the counters) = no quota.
                    *quota_set = quota.read(buf).is_none_or(|t| !t.starts_with(b"-1"));
                    s.mem_limit = mem_limit.read(buf).and_then(num).unwrap_or(0);
                    s.pids.limit = pids_max.read(buf).and_then(num);
                }
                let before = s.cpu.total_usage;
                s.cpu.total_usage = usage.read(buf).and_then(num).unwrap_or(0);
                let ran = refresh || s.cpu.total_usage != before;
                if ran {
                    match times.read(buf) {
                        Some(t) => parse_cpuacct_stat(t, &mut s.cpu),
                        None => {
                            s.cpu.usage_in_usermode = 0;
                            s.cpu.usage_in_kernelmode = 0;
                        }
                    }
                }
                if refresh || *quota_set {
                    s.throttling = throttling
                        .read(buf)
                        .map(parse_cpu_stat_v1)
                        .unwrap_or_default();
                }
                s.mem_usage = mem_usage.read(buf).and_then(num).unwrap_or(0);
                match mem_stat.read_new(buf) {
                    Got::New(t) => s.mem_stat.update(t),
                    Got::Same => {}
                    Got::Failed => s.mem_stat.clear(),
                }
                if ran {
                    s.oom_kills = oom
                        .read(buf)
                        .and_then(|t| kv_get(t, b"oom_kill"))
                        .unwrap_or(0);
                    s.pids.current = pids_current.read(buf).and_then(num).unwrap_or(0);
                }
                // v1 has no cgroup writeback (the flusher threads write in the root
                // cgroup), so the bytes counted here are those the container's own tasks
                // submitted: they move only when it ran.
                if ran {
                    match io.read_new(buf) {
                        Got::New(t) => parse_blkio_v1(t, &mut s.io),
                        Got::Same => {}
                        Got::Failed => s.io.clear(),
                    }
                }
                ran
            }
            Files::V2 {
                cpu,
                mem_usage,
                mem_limit,
                mem_stat,
                events,
                io,
                pids_current,
                pids_max,
            } => {
                if refresh {
                    for k in [
                        &mut *cpu,
                        &mut *mem_usage,
                        &mut *mem_limit,
                        &mut *mem_stat,
                        &mut *events,
                        &mut *io,
                        &mut *pids_current,
                        &mut *pids_max,
                    ] {
                        k.refresh();
                    }
                    // "max" (no limit) does not parse: the caller fills in the host's memory.
                    s.mem_limit = mem_limit.read(buf).and_then(num).unwrap_or(0);
                    s.pids.limit = pids_max.read(buf).and_then(num);
                }
                let before = s.cpu.total_usage;
                match cpu.read_new(buf) {
                    Got::New(t) => (s.cpu, s.throttling) = parse_cpu_stat_v2(t),
                    Got::Same => {}
                    Got::Failed => (s.cpu, s.throttling) = Default::default(),
                }
                let ran = refresh || s.cpu.total_usage != before;
                s.mem_usage = mem_usage.read(buf).and_then(num).unwrap_or(0);
                match mem_stat.read_new(buf) {
                    Got::New(t) => s.mem_stat.update(t),
                    Got::Same => {}
                    Got::Failed => s.mem_stat.clear(),
                }
                if ran {
                    s.oom_kills = events
                        .read(buf)
                        .and_then(|t| kv_get(t, b"oom_kill"))
                        .unwrap_or(0);
                    s.pids.current = pids_current.read(buf).and_then(num).unwrap_or(0);
                }
                match io.read_new(buf) {
                    Got::New(t) => parse_io_stat_v2(t, &mut s.io),
                    Got::Same => {}
                    Got::Failed => s.io.clear(),
                }
                ran
            }
        };
        // Network counters of the container's interfaces (loopback excluded), from its
        // init process's view of /proc/net/dev. A namespace with only loopback (no
        // network) has nothing to report until an interface comes: wharf adds one with
        // an event (a refresh), a process inside only by running; so it is looked at
        // again only then (or at the next refresh, if the host moves one in).
        match self.net.as_mut() {
            Some(k) if refresh || ran || !self.net_empty => {
                if refresh {
                    k.refresh();
                }
                match k.read_new(buf) {
                    Got::New(t) => parse_net_dev(t, &mut s.networks),
                    Got::Same => {}
                    Got::Failed => s.networks.clear(),
                }
                self.net_empty = k.readable() && s.networks.is_empty();
            }
            Some(_) => {}
            None => s.networks.clear(),
        }
    }
}

fn net_file(pid: i32) -> Kept {
    Kept::new(PathBuf::from(format!("/proc/{pid}/net/dev")))
}

/// /proc/stat kept open, for the host's CPU time.
#[derive(Debug)]
pub struct HostCpu {
    file: Kept,
    buf: Vec<u8>,
}

impl Default for HostCpu {
    fn default() -> Self {
        HostCpu {
            file: Kept::new(PathBuf::from("/proc/stat")),
            buf: Vec::new(),
        }
    }
}

impl HostCpu {
    /// Host CPU time so far (ns) and online CPUs; `(0, 1)` if /proc/stat is unreadable.
    pub fn read(&mut self) -> (u64, u32) {
        self.file.refresh();
        self.file.read(&mut self.buf).map_or((0, 1), system_cpu)
    }
}
