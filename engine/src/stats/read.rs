//! Reading one container's figures from cgroupfs (v1 or v2) and its network counters.
//!
//! Files are opened once and re-read with `pread` at offset 0 on every sample, which
//! cgroupfs and procfs regenerate; that keeps a sample of a container to a handful of
//! syscalls.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::api::{BlkioEntry, BlkioStats, CpuUsage, MemoryStats, NetStats, PidsStats, Throttling};

/// Where a container's cgroup files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CgroupPaths {
    /// One directory per v1 controller.
    V1 {
        cpuacct: PathBuf,
        cpu: PathBuf,
        memory: PathBuf,
        blkio: PathBuf,
        pids: PathBuf,
    },
    /// The unified directory.
    V2(PathBuf),
}

impl CgroupPaths {
    /// The paths of container `id` under the cgroupfs at `base` (`/sys/fs/cgroup`),
    /// under the wharf parent (`wharf/<id>`), for the host's mode.
    pub fn for_container(base: &Path, v2: bool, id: &str) -> Self {
        let rel = Path::new("wharf").join(id);
        if v2 {
            CgroupPaths::V2(base.join(rel))
        } else {
            CgroupPaths::V1 {
                cpuacct: base.join("cpuacct").join(&rel),
                cpu: base.join("cpu").join(&rel),
                memory: base.join("memory").join(&rel),
                blkio: base.join("blkio").join(&rel),
                pids: base.join("pids").join(&rel),
            }
        }
    }
}

/// What one sample of the cgroup gives.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CgroupSample {
    pub cpu: CpuUsage,
    pub throttling: Throttling,
    pub memory: MemoryStats,
    pub blkio: BlkioStats,
    pub pids: PidsStats,
}

/// Keeps a container's files open between samples.
#[derive(Debug)]
pub struct Reader {
    paths: CgroupPaths,
    pid: Option<i32>,
    files: HashMap<PathBuf, Option<File>>,
    buf: Vec<u8>,
}

fn parse_kv(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((it.next()?.to_string(), it.next()?.parse().ok()?))
        })
        .collect()
}

fn num(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

/// Nanoseconds per clock tick (USER_HZ is 100 on Linux).
const NS_PER_TICK: u64 = 10_000_000;

impl Reader {
    /// A reader for a container's cgroup, and its init `pid` for network counters.
    pub fn new(paths: CgroupPaths, pid: Option<i32>) -> Self {
        Reader {
            paths,
            pid,
            files: HashMap::new(),
            buf: Vec::with_capacity(4096),
        }
    }

    /// The cgroup paths read.
    pub fn paths(&self) -> &CgroupPaths {
        &self.paths
    }

    /// Read a whole file through a kept fd; `None` if it does not exist.
    fn read(&mut self, path: PathBuf) -> Option<String> {
        let f = self
            .files
            .entry(path.clone())
            .or_insert_with(|| File::open(&path).ok())
            .as_ref()?;
        self.buf.clear();
        let mut chunk = [0u8; 4096];
        let mut off = 0u64;
        loop {
            match f.read_at(&mut chunk, off) {
                Ok(0) => break,
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    off += n as u64;
                    // cgroupfs and procfs answer a whole small file in one read; a short
                    // read is the end (asking again would regenerate the file for nothing).
                    if n < chunk.len() {
                        break;
                    }
                }
                Err(_) => {
                    // The cgroup went away (container stopped): forget the fd.
                    self.files.remove(&path);
                    return None;
                }
            }
        }
        Some(String::from_utf8_lossy(&self.buf).into_owned())
    }

    /// One sample of the cgroup; missing files read as zero.
    pub fn sample_cgroup(&mut self) -> CgroupSample {
        match self.paths.clone() {
            CgroupPaths::V1 {
                cpuacct,
                cpu,
                memory,
                blkio,
                pids,
            } => self.sample_v1(&cpuacct, &cpu, &memory, &blkio, &pids),
            CgroupPaths::V2(dir) => self.sample_v2(&dir),
        }
    }

    fn sample_v1(
        &mut self,
        cpuacct: &Path,
        cpu: &Path,
        memory: &Path,
        blkio: &Path,
        pids: &Path,
    ) -> CgroupSample {
        let mut s = CgroupSample::default();
        s.cpu.total_usage = self
            .read(cpuacct.join("cpuacct.usage"))
            .and_then(|t| num(&t))
            .unwrap_or(0);
        if let Some(t) = self.read(cpuacct.join("cpuacct.stat")) {
            let kv = parse_kv(&t);
            s.cpu.usage_in_usermode = kv.get("user").copied().unwrap_or(0) * NS_PER_TICK;
            s.cpu.usage_in_kernelmode = kv.get("system").copied().unwrap_or(0) * NS_PER_TICK;
        }
        if let Some(t) = self.read(cpu.join("cpu.stat")) {
            let kv = parse_kv(&t);
            s.throttling = Throttling {
                periods: kv.get("nr_periods").copied().unwrap_or(0),
                throttled_periods: kv.get("nr_throttled").copied().unwrap_or(0),
                throttled_time: kv.get("throttled_time").copied().unwrap_or(0),
            };
        }
        s.memory.usage = self
            .read(memory.join("memory.usage_in_bytes"))
            .and_then(|t| num(&t))
            .unwrap_or(0);
        s.memory.limit = self
            .read(memory.join("memory.limit_in_bytes"))
            .and_then(|t| num(&t))
            .unwrap_or(0);
        s.memory.stats = self
            .read(memory.join("memory.stat"))
            .map(|t| parse_kv(&t))
            .unwrap_or_default();
        if let Some(t) = self.read(memory.join("memory.oom_control")) {
            s.memory.oom_kills = parse_kv(&t).get("oom_kill").copied().unwrap_or(0);
        }
        if let Some(t) = self.read(blkio.join("blkio.throttle.io_service_bytes_recursive")) {
            s.blkio.io_service_bytes_recursive = t
                .lines()
                .filter_map(|l| {
                    let mut it = l.split_whitespace();
                    let dev = it.next()?;
                    let op = it.next()?.to_ascii_lowercase();
                    let value: u64 = it.next()?.parse().ok()?;
                    let (maj, min) = dev.split_once(':')?;
                    let (major, minor) = (maj.parse().ok()?, min.parse().ok()?);
                    (op == "read" || op == "write").then_some(BlkioEntry {
                        major,
                        minor,
                        op,
                        value,
                    })
                })
                .collect();
        }
        s.pids.current = self
            .read(pids.join("pids.current"))
            .and_then(|t| num(&t))
            .unwrap_or(0);
        s.pids.limit = self.read(pids.join("pids.max")).and_then(|t| num(&t));
        s
    }

    fn sample_v2(&mut self, dir: &Path) -> CgroupSample {
        let mut s = CgroupSample::default();
        if let Some(t) = self.read(dir.join("cpu.stat")) {
            let kv = parse_kv(&t);
            let g = |k: &str| kv.get(k).copied().unwrap_or(0);
            s.cpu = CpuUsage {
                total_usage: g("usage_usec") * 1000,
                usage_in_usermode: g("user_usec") * 1000,
                usage_in_kernelmode: g("system_usec") * 1000,
            };
            s.throttling = Throttling {
                periods: g("nr_periods"),
                throttled_periods: g("nr_throttled"),
                throttled_time: g("throttled_usec") * 1000,
            };
        }
        s.memory.usage = self
            .read(dir.join("memory.current"))
            .and_then(|t| num(&t))
            .unwrap_or(0);
        // "max" (no limit) does not parse: the caller fills in the host's memory.
        s.memory.limit = self
            .read(dir.join("memory.max"))
            .and_then(|t| num(&t))
            .unwrap_or(0);
        s.memory.stats = self
            .read(dir.join("memory.stat"))
            .map(|t| parse_kv(&t))
            .unwrap_or_default();
        if let Some(t) = self.read(dir.join("memory.events")) {
            s.memory.oom_kills = parse_kv(&t).get("oom_kill").copied().unwrap_or(0);
        }
        if let Some(t) = self.read(dir.join("io.stat")) {
            for l in t.lines() {
                let mut it = l.split_whitespace();
                let Some((maj, min)) = it.next().and_then(|d| d.split_once(':')) else {
                    continue;
                };
                let (Ok(major), Ok(minor)) = (maj.parse(), min.parse()) else {
                    continue;
                };
                for kv in it {
                    let Some((k, v)) = kv.split_once('=') else {
                        continue;
                    };
                    let op = match k {
                        "rbytes" => "read",
                        "wbytes" => "write",
                        _ => continue,
                    };
                    if let Ok(value) = v.parse() {
                        s.blkio.io_service_bytes_recursive.push(BlkioEntry {
                            major,
                            minor,
                            op: op.into(),
                            value,
                        });
                    }
                }
            }
        }
        s.pids.current = self
            .read(dir.join("pids.current"))
            .and_then(|t| num(&t))
            .unwrap_or(0);
        s.pids.limit = self.read(dir.join("pids.max")).and_then(|t| num(&t));
        s
    }

    /// Network counters of the container's interfaces (loopback excluded), read from
    /// its init process's view of /proc/net/dev.
    pub fn sample_net(&mut self) -> BTreeMap<String, NetStats> {
        let Some(pid) = self.pid else {
            return BTreeMap::new();
        };
        self.read(PathBuf::from(format!("/proc/{pid}/net/dev")))
            .map(|t| parse_net_dev(&t))
            .unwrap_or_default()
    }
}

/// Parse /proc/net/dev (loopback excluded).
pub fn parse_net_dev(text: &str) -> BTreeMap<String, NetStats> {
    let mut out = BTreeMap::new();
    for l in text.lines().skip(2) {
        let Some((name, rest)) = l.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name == "lo" {
            continue;
        }
        let v: Vec<u64> = rest
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        if v.len() < 16 {
            continue;
        }
        out.insert(
            name.to_string(),
            NetStats {
                rx_bytes: v[0],
                rx_packets: v[1],
                rx_errors: v[2],
                rx_dropped: v[3],
                tx_bytes: v[8],
                tx_packets: v[9],
                tx_errors: v[10],
                tx_dropped: v[11],
            },
        );
    }
    out
}

/// Host CPU time so far in nanoseconds (sum of the `cpu` line of /proc/stat), and the
/// number of online CPUs (the `cpuN` lines).
pub fn system_cpu(proc_stat: &str) -> (u64, u32) {
    let mut total = 0;
    let mut n = 0;
    for l in proc_stat.lines() {
        if let Some(rest) = l.strip_prefix("cpu ") {
            // user nice system idle iowait irq softirq steal (guest time is already in user).
            total = rest
                .split_whitespace()
                .take(8)
                .filter_map(|x| x.parse::<u64>().ok())
                .sum::<u64>()
                * NS_PER_TICK;
        } else if l.starts_with("cpu") {
            n += 1;
        }
    }
    (total, n.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    /// A recorded cgroup v2 directory (values as a v2 kernel writes them).
    fn v2_fixture(dir: &Path) {
        fs::create_dir_all(dir).unwrap();
        fs::write(dir.join("cpu.stat"), "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\nnr_periods 10\nnr_throttled 4\nthrottled_usec 1200\n").unwrap();
        fs::write(dir.join("memory.current"), "10485760\n").unwrap();
        fs::write(dir.join("memory.max"), "max\n").unwrap();
        fs::write(
            dir.join("memory.stat"),
            "anon 4194304\nfile 6291456\ninactive_file 2097152\nactive_file 4194304\n",
        )
        .unwrap();
        fs::write(
            dir.join("memory.events"),
            "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n",
        )
        .unwrap();
        fs::write(dir.join("io.stat"), "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n253:1 rbytes=100 wbytes=0 rios=1 wios=0\n").unwrap();
        fs::write(dir.join("pids.current"), "3\n").unwrap();
        fs::write(dir.join("pids.max"), "max\n").unwrap();
    }

    #[test]
    fn v2_fixture_reads_like_docker() {
        let d = tempfile::tempdir().unwrap();
        let base = d.path();
        let paths = CgroupPaths::for_container(base, true, "abc");
        v2_fixture(&base.join("wharf/abc"));
        let mut r = Reader::new(paths, None);
        let s = r.sample_cgroup();
        assert_eq!(s.cpu.total_usage, 2_500_000_000);
        assert_eq!(s.cpu.usage_in_kernelmode, 500_000_000);
        assert_eq!(s.throttling.throttled_periods, 4);
        assert_eq!(s.memory.usage, 10 << 20);
        assert_eq!(s.memory.limit, 0, "max = no limit");
        assert_eq!(s.memory.stats["inactive_file"], 2 << 20);
        assert_eq!(s.memory.oom_kills, 1);
        assert_eq!(
            s.pids,
            PidsStats {
                current: 3,
                limit: None
            }
        );
        let st = crate::api::ContainerStats {
            memory_stats: s.memory.clone(),
            blkio_stats: s.blkio.clone(),
            ..Default::default()
        };
        assert_eq!(st.mem_usage(), 8 << 20);
        assert_eq!(st.block_io(), (4196, 8192));
        // Re-reading through the kept fds sees new values.
        fs::write(base.join("wharf/abc/pids.current"), "7\n").unwrap();
        assert_eq!(r.sample_cgroup().pids.current, 7);
    }

    #[test]
    fn net_dev_and_proc_stat() {
        let text = "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo:  100 1 0 0 0 0 0 0 100 1 0 0 0 0 0 0\n  eth0: 5000 40 1 2 0 0 0 0 7000 50 3 4 0 0 0 0\n";
        let n = parse_net_dev(text);
        assert_eq!(n.len(), 1);
        assert_eq!(
            (n["eth0"].rx_bytes, n["eth0"].tx_bytes, n["eth0"].tx_dropped),
            (5000, 7000, 4)
        );
        let (total, cpus) = system_cpu("cpu  10 0 10 80 0 0 0 0 0 0\ncpu0 5 0 5 40 0 0 0 0 0 0\ncpu1 5 0 5 40 0 0 0 0 0 0\nintr 1\n");
        assert_eq!((total, cpus), (100 * NS_PER_TICK, 2));
    }

    #[test]
    fn cpu_percent_as_docker_cli() {
        let mut s = crate::api::ContainerStats::default();
        s.precpu_stats.cpu_usage.total_usage = 1_000_000_000;
        s.precpu_stats.system_cpu_usage = 100_000_000_000;
        s.cpu_stats.cpu_usage.total_usage = 1_500_000_000;
        s.cpu_stats.system_cpu_usage = 102_000_000_000;
        s.cpu_stats.online_cpus = 2;
        // 0.5 s of CPU out of 2 s of host CPU time on 2 CPUs: 50%.
        assert!((s.cpu_percent() - 50.0).abs() < 1e-9);
    }
}
