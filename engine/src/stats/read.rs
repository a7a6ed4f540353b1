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

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::api::{CpuUsage, NetStats, PidsStats, Throttling};

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

/// `key value` lines in file order (memory.stat), updated in place from one read to
/// the next: while the kernel writes the same keys in the same order (always, on one
/// kernel), an update compares each line's key with the one expected there and stores
/// its number; the Docker-shaped map is kept too, and only its values change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KvList {
    keys: Vec<Cow<'static, str>>,
    values: Vec<u64>,
    /// For each entry of `map` in key order, the index in `keys` of its line (the last
    /// line of a repeated key wins).
    sorted: Vec<u32>,
    map: Arc<BTreeMap<Cow<'static, str>, u64>>,
    /// Index of `total_inactive_file` (v1, hierarchical) or else `inactive_file`.
    inactive: Option<u32>,
}

impl KvList {
    /// Replace the contents with the `key value` lines of `text` (lines whose value is
    /// not a number are skipped).
    pub fn update(&mut self, text: &[u8]) {
        if !self.update_same_keys(text) {
            self.update_keys(text);
        }
        // Copied first if a watcher still holds the last round's map.
        let map = Arc::make_mut(&mut self.map);
        for (v, &i) in map.values_mut().zip(&self.sorted) {
            *v = self.values[i as usize];
        }
    }

    /// The fast path: `text` holds exactly the known keys, in the same order, as
    /// `key number` lines. `false` if not (values may then be half updated).
    fn update_same_keys(&mut self, text: &[u8]) -> bool {
        let mut pos = 0;
        for (key, value) in self.keys.iter().zip(self.values.iter_mut()) {
            let rest = &text[pos..];
            let k = key.as_bytes();
            if rest.len() <= k.len() || rest[..k.len()] != *k || rest[k.len()] != b' ' {
                return false;
            }
            let digits = &rest[k.len() + 1..];
            let (mut n, mut j) = (0u64, 0);
            // At most 19 digits cannot overflow; a longer number takes the slow path.
            while j < digits.len().min(19) {
                let d = digits[j].wrapping_sub(b'0');
                if d > 9 {
                    break;
                }
                n = n * 10 + u64::from(d);
                j += 1;
            }
            if j == 0 {
                return false;
            }
            match digits.get(j) {
                None => pos = text.len(),
                Some(b'\n') => pos += k.len() + 1 + j + 1,
                Some(_) => return false,
            }
            *value = n;
        }
        text[pos..].iter().all(|b| is_space(*b))
    }

    /// The slow path: keys added, removed or moved.
    fn update_keys(&mut self, text: &[u8]) {
        self.keys.clear();
        self.values.clear();
        for (k, v) in kv_lines(text) {
            self.keys.push(intern(&String::from_utf8_lossy(k)));
            self.values.push(v);
        }
        let keys = &self.keys;
        let mut sorted: Vec<u32> = (0..keys.len() as u32).collect();
        // Stable, so a repeated key's lines stay in file order; keep the last one.
        sorted.sort_by(|a, b| keys[*a as usize].cmp(&keys[*b as usize]));
        sorted.dedup_by(|later, earlier| {
            let same = keys[*later as usize] == keys[*earlier as usize];
            if same {
                *earlier = *later;
            }
            same
        });
        self.map = Arc::new(
            sorted
                .iter()
                .map(|&i| (keys[i as usize].clone(), self.values[i as usize]))
                .collect(),
        );
        self.sorted = sorted;
        let find = |name: &str| keys.iter().rposition(|k| &**k == name);
        self.inactive = find("total_inactive_file")
            .or_else(|| find("inactive_file"))
            .map(|i| i as u32);
    }

    /// Forget every key (the file could not be read).
    pub fn clear(&mut self) {
        *self = KvList::default();
    }

    /// The value of `key`.
    #[cfg(test)]
    pub fn get(&self, key: &str) -> Option<u64> {
        self.map.get(key).copied()
    }

    /// Inactive file cache (what the docker CLI subtracts from usage), 0 if absent.
    pub fn inactive_file(&self) -> u64 {
        self.inactive.map_or(0, |i| self.values[i as usize])
    }

    /// Number of keys.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// No keys?
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The Docker-shaped map (shared: cloning it costs a reference count).
    pub fn map(&self) -> &Arc<BTreeMap<Cow<'static, str>, u64>> {
        &self.map
    }
}

/// At most this many memory.stat key names are shared (a kernel has a hundred or so).
const MAX_NAMES: usize = 1024;

/// The shared copy of a memory.stat key name. The kernel's set of names is small and
/// fixed, so each is allocated once per process and lives as long (up to [`MAX_NAMES`]
/// of them; past that, names are copied): samples sent to watchers then copy no names.
fn intern(name: &str) -> Cow<'static, str> {
    static NAMES: std::sync::Mutex<BTreeSet<&'static str>> = std::sync::Mutex::new(BTreeSet::new());
    let Ok(mut names) = NAMES.lock() else {
        return Cow::Owned(name.to_owned());
    };
    if let Some(n) = names.get(name) {
        return Cow::Borrowed(n);
    }
    if names.len() >= MAX_NAMES {
        return Cow::Owned(name.to_owned());
    }
    let shared: &'static str = Box::leak(name.into());
    names.insert(shared);
    Cow::Borrowed(shared)
}

/// One entry of the bytes read and written per device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IoEntry {
    pub major: u64,
    pub minor: u64,
    /// `write` (else `read`).
    pub write: bool,
    pub value: u64,
}

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

#[derive(Debug)]
enum Fd {
    /// Not opened yet, or forgotten after a failed read: opened on the next read.
    Closed,
    Open(File),
    /// Could not be opened; tried again at the next refresh.
    Missing,
}

/// A file kept open between samples.
#[derive(Debug)]
struct Kept {
    path: PathBuf,
    fd: Fd,
    /// A digest of the bytes of the last read with [`Kept::read_new`] (`None`: none),
    /// to skip parsing them again.
    last: Option<u64>,
}

/// A 64-bit digest of `bytes`, eight at a time. Each step maps the state one to one for
/// a given word, and words map one to one into a step, so two texts of the same length
/// that differ in one word (one counter moved, the usual change) always differ here;
/// other changes collide by chance only (about 2^-64), and the next change is read.
fn digest(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let step = |h: u64, w: u64| {
        let h = (h ^ w).wrapping_mul(K);
        h ^ (h >> 32)
    };
    let mut chunks = bytes.chunks_exact(8);
    let mut h = 0u64;
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = step(h, u64::from_le_bytes(w));
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        h = step(h, u64::from_le_bytes(w));
    }
    step(h, bytes.len() as u64)
}

/// What [`Kept::read_new`] found.
enum Got<'a> {
    /// The file could not be read.
    Failed,
    /// The same bytes as the last time: what was parsed from them still holds.
    Same,
    New(&'a [u8]),
}

/// Smallest read buffer; it grows to fit the largest file read.
const MIN_BUF: usize = 4096;

impl Kept {
    fn new(path: PathBuf) -> Self {
        Kept {
            path,
            fd: Fd::Closed,
            last: None,
        }
    }

    /// The whole file with one `pread` at offset 0 into `buf` (grown and read again if
    /// the file did not fit); `None` if it cannot be opened or read.
    fn read<'a>(&mut self, buf: &'a mut Vec<u8>) -> Option<&'a [u8]> {
        if let Fd::Closed = self.fd {
            self.fd = match File::open(&self.path) {
                Ok(f) => Fd::Open(f),
                Err(_) => Fd::Missing,
            };
        }
        let Fd::Open(f) = &self.fd else {
            return None;
        };
        if buf.len() < MIN_BUF {
            buf.resize(MIN_BUF, 0);
        }
        loop {
            match f.read_at(buf, 0) {
                // Filled: the file may be longer; read it again whole into a larger buffer.
                Ok(n) if n == buf.len() => buf.resize(buf.len() * 2, 0),
                Ok(n) => return Some(&buf[..n]),
                Err(_) => {
                    // The cgroup or process went away (container stopped): forget the fd.
                    self.fd = Fd::Closed;
                    return None;
                }
            }
        }
    }

    /// Read the file and say whether its bytes differ from the last time: an idle
    /// container's memory.stat or /proc/net/dev is the same bytes round after round, and
    /// a digest of them costs far less than parsing them (or than comparing them with a
    /// copy, which a round a second finds out of the CPU caches). See [`digest`].
    fn read_new<'a>(&mut self, buf: &'a mut Vec<u8>) -> Got<'a> {
        let Some(t) = self.read(buf) else {
            self.last = None;
            return Got::Failed;
        };
        let digest = digest(t);
        if self.last == Some(digest) {
            return Got::Same;
        }
        self.last = Some(digest);
        Got::New(t)
    }

    /// Open (its last read worked)?
    fn readable(&self) -> bool {
        matches!(self.fd, Fd::Open(_))
    }

    fn refresh(&mut self) {
        if let Fd::Missing = self.fd {
            self.fd = Fd::Closed;
        }
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

/// Nanoseconds per clock tick (USER_HZ is 100 on Linux).
const NS_PER_TICK: u64 = 10_000_000;

/// Whitespace (and other control bytes, which cgroupfs and procfs do not write).
fn is_space(b: u8) -> bool {
    b <= b' '
}

/// The leading whitespace-separated token of `s` and the rest after it.
fn token(s: &[u8]) -> Option<(&[u8], &[u8])> {
    let start = s.iter().position(|b| !is_space(*b))?;
    let s = &s[start..];
    let end = s.iter().position(|b| is_space(*b)).unwrap_or(s.len());
    Some((&s[..end], &s[end..]))
}

/// A decimal number, digits only.
pub fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(n)
}

/// A file holding one number (`max` or anything else reads as `None`).
fn num(text: &[u8]) -> Option<u64> {
    token(text).and_then(|(t, rest)| {
        if rest.iter().all(|b| is_space(*b)) {
            parse_u64(t)
        } else {
            None
        }
    })
}

/// The `key value` lines of a flat keyed file (the first two whitespace-separated
/// tokens of each line); lines whose value is not a number are skipped. One pass over
/// the bytes.
pub fn kv_lines(text: &[u8]) -> KvLines<'_> {
    KvLines { text, pos: 0 }
}

/// Iterator of [`kv_lines`].
#[derive(Debug, Clone)]
pub struct KvLines<'a> {
    text: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for KvLines<'a> {
    type Item = (&'a [u8], u64);

    fn next(&mut self) -> Option<Self::Item> {
        let t = self.text;
        let n = t.len();
        let mut i = self.pos;
        let blank = |b: u8| b == b' ' || b == b'\t';
        while i < n {
            while i < n && blank(t[i]) {
                i += 1;
            }
            let key_start = i;
            while i < n && !is_space(t[i]) {
                i += 1;
            }
            let key = &t[key_start..i];
            while i < n && blank(t[i]) {
                i += 1;
            }
            let mut value: Option<u64> = (i < n && !is_space(t[i])).then_some(0);
            while i < n && !is_space(t[i]) {
                let b = t[i];
                value = value.and_then(|v| {
                    if b.is_ascii_digit() {
                        v.checked_mul(10)?.checked_add(u64::from(b - b'0'))
                    } else {
                        None
                    }
                });
                i += 1;
            }
            while i < n && t[i] != b'\n' {
                i += 1;
            }
            i += 1;
            if let (false, Some(v)) = (key.is_empty(), value) {
                self.pos = i;
                return Some((key, v));
            }
        }
        self.pos = n;
        None
    }
}

/// CPU times from cgroup v1 cpuacct.stat (ticks) into `cpu`.
pub fn parse_cpuacct_stat(text: &[u8], cpu: &mut CpuUsage) {
    let (mut user, mut system) = (0, 0);
    for (k, v) in kv_lines(text) {
        match k {
            b"user" => user = v,
            b"system" => system = v,
            _ => {}
        }
    }
    cpu.usage_in_usermode = user * NS_PER_TICK;
    cpu.usage_in_kernelmode = system * NS_PER_TICK;
}

/// Throttling counters from cgroup v1 cpu.stat.
pub fn parse_cpu_stat_v1(text: &[u8]) -> Throttling {
    let mut t = Throttling::default();
    for (k, v) in kv_lines(text) {
        match k {
            b"nr_periods" => t.periods = v,
            b"nr_throttled" => t.throttled_periods = v,
            b"throttled_time" => t.throttled_time = v,
            _ => {}
        }
    }
    t
}

/// Usage and throttling from cgroup v2 cpu.stat (microseconds, reported in ns).
pub fn parse_cpu_stat_v2(text: &[u8]) -> (CpuUsage, Throttling) {
    let (mut c, mut t) = (CpuUsage::default(), Throttling::default());
    for (k, v) in kv_lines(text) {
        match k {
            b"usage_usec" => c.total_usage = v * 1000,
            b"user_usec" => c.usage_in_usermode = v * 1000,
            b"system_usec" => c.usage_in_kernelmode = v * 1000,
            b"nr_periods" => t.periods = v,
            b"nr_throttled" => t.throttled_periods = v,
            b"throttled_usec" => t.throttled_time = v * 1000,
            _ => {}
        }
    }
    (c, t)
}

/// The value of one key of a flat keyed file (memory.oom_control, memory.events).
pub fn kv_get(text: &[u8], key: &[u8]) -> Option<u64> {
    kv_lines(text).find(|(k, _)| *k == key).map(|(_, v)| v)
}

fn dev(s: &[u8]) -> Option<(u64, u64)> {
    let colon = s.iter().position(|b| *b == b':')?;
    Some((parse_u64(&s[..colon])?, parse_u64(&s[colon + 1..])?))
}

/// Bytes read and written from v1 blkio.throttle.io_service_bytes_recursive
/// (`8:0 Read 4096` lines; the other operations and the `Total` line are left out).
pub fn parse_blkio_v1(text: &[u8], out: &mut Vec<IoEntry>) {
    out.clear();
    for line in text.split(|b| *b == b'\n') {
        let Some((d, rest)) = token(line) else {
            continue;
        };
        let Some((op, rest)) = token(rest) else {
            continue;
        };
        let Some((value, _)) = token(rest) else {
            continue;
        };
        let write = if op.eq_ignore_ascii_case(b"read") {
            false
        } else if op.eq_ignore_ascii_case(b"write") {
            true
        } else {
            continue;
        };
        let (Some((major, minor)), Some(value)) = (dev(d), parse_u64(value)) else {
            continue;
        };
        out.push(IoEntry {
            major,
            minor,
            write,
            value,
        });
    }
}

/// Bytes read and written from v2 io.stat (`8:0 rbytes=.. wbytes=.. rios=..` lines).
pub fn parse_io_stat_v2(text: &[u8], out: &mut Vec<IoEntry>) {
    out.clear();
    for line in text.split(|b| *b == b'\n') {
        let Some((d, mut rest)) = token(line) else {
            continue;
        };
        let Some((major, minor)) = dev(d) else {
            continue;
        };
        while let Some((kv, r)) = token(rest) {
            rest = r;
            let Some(eq) = kv.iter().position(|b| *b == b'=') else {
                continue;
            };
            let write = match &kv[..eq] {
                b"rbytes" => false,
                b"wbytes" => true,
                _ => continue,
            };
            if let Some(value) = parse_u64(&kv[eq + 1..]) {
                out.push(IoEntry {
                    major,
                    minor,
                    write,
                    value,
                });
            }
        }
    }
}

/// Interfaces of /proc/net/dev other than loopback, updated in place in `out` (an
/// interface keeps its name's allocation while it stays at the same place).
pub fn parse_net_dev(text: &[u8], out: &mut Vec<(String, NetStats)>) {
    let mut i = 0;
    for line in text.split(|b| *b == b'\n').skip(2) {
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let Some((name, _)) = token(&line[..colon]) else {
            continue;
        };
        if name == b"lo" {
            continue;
        }
        let mut v = [0u64; 16];
        let mut rest = &line[colon + 1..];
        let mut n = 0;
        while n < 16 {
            let Some((t, r)) = token(rest) else { break };
            let Some(x) = parse_u64(t) else { break };
            v[n] = x;
            n += 1;
            rest = r;
        }
        if n < 16 {
            continue;
        }
        let stats = NetStats {
            rx_bytes: v[0],
            rx_packets: v[1],
            rx_errors: v[2],
            rx_dropped: v[3],
            tx_bytes: v[8],
            tx_packets: v[9],
            tx_errors: v[10],
            tx_dropped: v[11],
        };
        match out.get_mut(i) {
            Some((have, s)) if have.as_bytes() == name => *s = stats,
            Some(slot) => *slot = (String::from_utf8_lossy(name).into_owned(), stats),
            None => out.push((String::from_utf8_lossy(name).into_owned(), stats)),
        }
        i += 1;
    }
    out.truncate(i);
}

/// The Docker-shaped map of interfaces.
pub fn net_map(nets: &[(String, NetStats)]) -> BTreeMap<String, NetStats> {
    nets.iter().map(|(n, s)| (n.clone(), *s)).collect()
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

/// Host CPU time so far in nanoseconds (sum of the `cpu` line of /proc/stat), and the
/// number of online CPUs (the `cpuN` lines).
pub fn system_cpu(proc_stat: &[u8]) -> (u64, u32) {
    let (total, _, n) = system_cpu_idle(proc_stat);
    (total, n)
}

/// [`system_cpu`] with the idle part of the total (idle and iowait), in nanoseconds.
pub fn system_cpu_idle(proc_stat: &[u8]) -> (u64, u64, u32) {
    let mut total = 0;
    let mut idle = 0;
    let mut n = 0;
    for l in proc_stat.split(|b| *b == b'\n') {
        if let Some(rest) = l.strip_prefix(b"cpu ") {
            // user nice system idle iowait irq softirq steal (guest time is already in user).
            let mut rest = rest;
            let mut sum = 0u64;
            for i in 0..8 {
                let Some((t, r)) = token(rest) else { break };
                rest = r;
                let v = parse_u64(t).unwrap_or(0);
                sum += v;
                if i == 3 || i == 4 {
                    idle += v;
                }
            }
            total = sum * NS_PER_TICK;
            idle *= NS_PER_TICK;
        } else if l.starts_with(b"cpu") {
            n += 1;
        } else if n > 0 {
            // The cpu lines come first; the rest (intr, ctxt, ...) is not needed.
            break;
        }
    }
    (total, idle, n.max(1))
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

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use std::fs;

    /// A recorded cgroup v2 directory (values as a v2 kernel writes them).
    pub(in crate::stats) fn v2_fixture(dir: &Path) {
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
        let mut s = Sample::default();
        r.sample(&mut s, false);
        assert_eq!(s.cpu.total_usage, 2_500_000_000);
        assert_eq!(s.cpu.usage_in_kernelmode, 500_000_000);
        assert_eq!(s.throttling.throttled_periods, 4);
        assert_eq!(s.throttling.throttled_time, 1_200_000);
        assert_eq!(s.mem_usage, 10 << 20);
        assert_eq!(s.mem_limit, 0, "max = no limit");
        assert_eq!(s.mem_stat.map().clone()["inactive_file"], 2 << 20);
        assert_eq!(s.mem_stat.len(), 4);
        assert_eq!(s.oom_kills, 1);
        assert_eq!(
            s.pids,
            PidsStats {
                current: 3,
                limit: None
            }
        );
        assert_eq!(s.mem_used(), 8 << 20);
        assert_eq!(s.block_io(), (4196, 8192));
        assert_eq!(
            s.io,
            vec![
                IoEntry {
                    major: 8,
                    minor: 0,
                    write: false,
                    value: 4096
                },
                IoEntry {
                    major: 8,
                    minor: 0,
                    write: true,
                    value: 8192
                },
                IoEntry {
                    major: 253,
                    minor: 1,
                    write: false,
                    value: 100
                },
                IoEntry {
                    major: 253,
                    minor: 1,
                    write: true,
                    value: 0
                },
            ]
        );
        // Nothing changed: the same sample (the unchanged files are not parsed again).
        let before = s.clone();
        r.sample(&mut s, false);
        assert_eq!(s, before);
        // Re-reading through the kept fds sees new values.
        let dir = base.join("wharf/abc");
        fs::write(dir.join("pids.current"), "7\n").unwrap();
        fs::write(dir.join("memory.events"), "oom_kill 2\n").unwrap();
        fs::write(
            dir.join("memory.stat"),
            "anon 1\nfile 2\ninactive_file 3\nactive_file 4\n",
        )
        .unwrap();
        r.sample(&mut s, false);
        assert_eq!(s.mem_stat.get("inactive_file"), Some(3));
        // Tasks and OOM kills are read again once the container has run.
        assert_eq!((s.pids.current, s.oom_kills), (3, 1));
        fs::write(dir.join("cpu.stat"), "usage_usec 2500001\n").unwrap();
        r.sample(&mut s, false);
        assert_eq!((s.pids.current, s.oom_kills), (7, 2));
        assert_eq!(s.throttling, Throttling::default());
        // Limits are read again on a refresh only.
        fs::write(dir.join("memory.max"), "67108864\n").unwrap();
        fs::write(dir.join("pids.max"), "20\n").unwrap();
        r.sample(&mut s, false);
        assert_eq!((s.mem_limit, s.pids.limit), (0, None));
        r.sample(&mut s, true);
        assert_eq!((s.mem_limit, s.pids.limit), (64 << 20, Some(20)));
        // A file that goes away reads as zero; it is tried again at a refresh.
        fs::remove_file(dir.join("io.stat")).unwrap();
        r.sample(&mut s, false);
        assert_eq!(s.block_io(), (4196, 8192), "the kept fd still reads");
        let mut r2 = Reader::new(CgroupPaths::for_container(base, true, "abc"), None);
        r2.sample(&mut s, false);
        assert!(s.io.is_empty());
        fs::write(dir.join("io.stat"), "8:0 rbytes=1 wbytes=2\n").unwrap();
        r2.sample(&mut s, false);
        assert!(s.io.is_empty(), "missing until a refresh");
        r2.sample(&mut s, true);
        assert_eq!(s.block_io(), (1, 2));
    }

    /// A restart makes the cgroup anew: the reader opens the new files and reads their
    /// limits at once, not at the next refresh.
    #[test]
    fn a_restart_reads_the_new_cgroup() {
        let d = tempfile::tempdir().unwrap();
        let base = d.path();
        let dir = base.join("wharf/abc");
        v2_fixture(&dir);
        fs::write(dir.join("memory.max"), "67108864\n").unwrap();
        let mut r = Reader::new(CgroupPaths::for_container(base, true, "abc"), Some(1));
        let mut s = Sample::default();
        r.sample(&mut s, false);
        assert_eq!(s.mem_limit, 64 << 20);
        fs::remove_dir_all(&dir).unwrap();
        v2_fixture(&dir);
        fs::write(dir.join("memory.max"), "33554432\n").unwrap();
        r.set_pid(Some(2));
        r.sample(&mut s, false);
        assert_eq!(
            s.mem_limit,
            32 << 20,
            "the new cgroup's limit, without a refresh"
        );
    }

    /// /proc/net/dev with loopback only is looked at again when the container ran or at
    /// a refresh; with an interface, every time.
    #[test]
    fn net_counters_of_a_namespace_without_network() {
        let d = tempfile::tempdir().unwrap();
        let base = d.path();
        v2_fixture(&base.join("wharf/abc"));
        let mut r = Reader::new(CgroupPaths::for_container(base, true, "abc"), None);
        let dev = base.join("net_dev");
        let header = "Inter-|   Receive |  Transmit\n face |bytes packets|bytes packets\n";
        let lo = "    lo:  100 1 0 0 0 0 0 0 100 1 0 0 0 0 0 0\n";
        let eth = |rx: u64| format!("  eth0: {rx} 40 1 2 0 0 0 0 7000 50 3 4 0 0 0 0\n");
        fs::write(&dev, format!("{header}{lo}")).unwrap();
        r.net = Some(Kept::new(dev.clone()));
        let mut s = Sample::default();
        r.sample(&mut s, false);
        assert!(s.networks.is_empty());
        fs::write(&dev, format!("{header}{lo}{}", eth(5000))).unwrap();
        r.sample(&mut s, false);
        assert!(
            s.networks.is_empty(),
            "not looked at: the container did not run"
        );
        r.sample(&mut s, true);
        assert_eq!(s.net_io(), (5000, 7000), "a refresh looks");
        fs::write(&dev, format!("{header}{lo}{}", eth(6000))).unwrap();
        r.sample(&mut s, false);
        assert_eq!(s.net_io(), (6000, 7000), "with an interface, every time");
        // Back to loopback only; then an interface made by a process inside (it ran).
        fs::write(&dev, format!("{header}{lo}")).unwrap();
        r.sample(&mut s, false);
        assert!(s.networks.is_empty());
        fs::write(&dev, format!("{header}{lo}{}", eth(1))).unwrap();
        fs::write(base.join("wharf/abc/cpu.stat"), "usage_usec 2500001\n").unwrap();
        r.sample(&mut s, false);
        assert_eq!(s.net_io(), (1, 7000));
    }

    /// A recorded cgroup v1 layout (one directory per controller).
    fn v1_fixture(base: &Path, id: &str, quota: &str) {
        let dir = |c: &str| {
            let d = base.join(c).join("wharf").join(id);
            fs::create_dir_all(&d).unwrap();
            d
        };
        fs::write(dir("cpuacct").join("cpuacct.usage"), "1234567890\n").unwrap();
        fs::write(dir("cpuacct").join("cpuacct.stat"), "user 80\nsystem 20\n").unwrap();
        fs::write(
            dir("cpu").join("cpu.stat"),
            "nr_periods 7\nnr_throttled 2\nthrottled_time 3000\nnr_bursts 0\nburst_time 0\n",
        )
        .unwrap();
        fs::write(dir("cpu").join("cpu.cfs_quota_us"), format!("{quota}\n")).unwrap();
        fs::write(dir("memory").join("memory.usage_in_bytes"), "20971520\n").unwrap();
        fs::write(
            dir("memory").join("memory.limit_in_bytes"),
            "9223372036854771712\n",
        )
        .unwrap();
        fs::write(dir("memory").join("memory.stat"), V1_MEMORY_STAT).unwrap();
        fs::write(
            dir("memory").join("memory.oom_control"),
            "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
        )
        .unwrap();
        fs::write(
            dir("blkio").join("blkio.throttle.io_service_bytes_recursive"),
            "8:0 Read 4096\n8:0 Write 12288\n8:0 Sync 16384\n8:0 Async 0\n8:0 Discard 0\n8:0 Total 16384\nTotal 16384\n",
        )
        .unwrap();
        fs::write(dir("pids").join("pids.current"), "2\n").unwrap();
        fs::write(dir("pids").join("pids.max"), "50\n").unwrap();
    }

    /// memory.stat of a v1 container cgroup, as this host's 6.x kernel writes it.
    const V1_MEMORY_STAT: &str = "cache 1216512\nrss 0\nrss_huge 0\nshmem 0\nmapped_file 0\ndirty 0\nwriteback 0\nswap 0\npgpgin 297\npgpgout 0\npgfault 0\npgmajfault 0\ninactive_anon 0\nactive_anon 0\ninactive_file 1216512\nactive_file 0\nunevictable 0\nhierarchical_memory_limit 9223372036854771712\nhierarchical_memsw_limit 9223372036854771712\ntotal_cache 1216512\ntotal_rss 0\ntotal_rss_huge 0\ntotal_shmem 0\ntotal_mapped_file 0\ntotal_dirty 0\ntotal_writeback 0\ntotal_swap 0\ntotal_pgpgin 297\ntotal_pgpgout 0\ntotal_pgfault 0\ntotal_pgmajfault 0\ntotal_inactive_anon 0\ntotal_active_anon 0\ntotal_inactive_file 1216000\ntotal_active_file 0\ntotal_unevictable 0\n";

    #[test]
    fn v1_fixture_reads_like_docker() {
        let d = tempfile::tempdir().unwrap();
        let base = d.path();
        v1_fixture(base, "abc", "-1");
        let mut r = Reader::new(CgroupPaths::for_container(base, false, "abc"), None);
        let mut s = Sample::default();
        r.sample(&mut s, false);
        assert_eq!(
            s.cpu,
            CpuUsage {
                total_usage: 1_234_567_890,
                usage_in_kernelmode: 200_000_000,
                usage_in_usermode: 800_000_000,
            }
        );
        assert_eq!(
            s.throttling,
            Throttling {
                periods: 7,
                throttled_periods: 2,
                throttled_time: 3000
            }
        );
        assert_eq!(s.mem_usage, 20 << 20);
        assert_eq!(s.mem_limit, 9223372036854771712);
        assert_eq!(s.mem_stat.len(), 36);
        // The hierarchical figure wins, as in the docker CLI.
        assert_eq!(s.mem_used(), (20 << 20) - 1_216_000);
        assert_eq!(s.oom_kills, 2);
        assert_eq!(s.block_io(), (4096, 12288));
        assert_eq!(s.io.len(), 2);
        assert_eq!(
            s.pids,
            PidsStats {
                current: 2,
                limit: Some(50)
            }
        );
        // CPU times and tasks are read again once the container has run.
        let acct = base.join("cpuacct/wharf/abc");
        fs::write(acct.join("cpuacct.stat"), "user 90\nsystem 20\n").unwrap();
        fs::write(base.join("pids/wharf/abc/pids.current"), "4\n").unwrap();
        fs::write(
            base.join("blkio/wharf/abc/blkio.throttle.io_service_bytes_recursive"),
            "8:0 Read 8192\n8:0 Write 12288\nTotal 20480\n",
        )
        .unwrap();
        r.sample(&mut s, false);
        assert_eq!((s.cpu.usage_in_usermode, s.pids.current), (800_000_000, 2));
        assert_eq!(s.block_io(), (4096, 12288));
        fs::write(acct.join("cpuacct.usage"), "1234567891\n").unwrap();
        r.sample(&mut s, false);
        assert_eq!((s.cpu.usage_in_usermode, s.pids.current), (900_000_000, 4));
        assert_eq!(s.block_io(), (8192, 12288));
        // Without a quota the throttling counters are read at refreshes only.
        let cpu = base.join("cpu/wharf/abc");
        fs::write(
            cpu.join("cpu.stat"),
            "nr_periods 9\nnr_throttled 3\nthrottled_time 4000\n",
        )
        .unwrap();
        r.sample(&mut s, false);
        assert_eq!(s.throttling.periods, 7);
        // `wharf update --cpus` sets one (and its event makes the next round a refresh).
        fs::write(cpu.join("cpu.cfs_quota_us"), "50000\n").unwrap();
        r.sample(&mut s, true);
        assert_eq!(s.throttling.periods, 9);
        fs::write(
            cpu.join("cpu.stat"),
            "nr_periods 10\nnr_throttled 3\nthrottled_time 4000\n",
        )
        .unwrap();
        r.sample(&mut s, false);
        assert_eq!(s.throttling.periods, 10);
    }

    #[test]
    fn memory_stat_list_follows_key_changes() {
        let mut l = KvList::default();
        l.update(b"b 2\na 1\ninactive_file 5\n");
        assert_eq!(l.inactive_file(), 5);
        assert_eq!(
            **l.map(),
            BTreeMap::from([
                ("a".into(), 1),
                ("b".into(), 2),
                ("inactive_file".into(), 5)
            ])
        );
        // Same keys: values only.
        l.update(b"b 20\na 10\ninactive_file 50\n");
        assert_eq!(
            (l.get("a"), l.get("b"), l.inactive_file()),
            (Some(10), Some(20), 50)
        );
        // A key added, one dropped, a line that is not a number skipped.
        l.update(b"b 3\nc 4\nbad x\ntotal_inactive_file 7\ninactive_file 6\n");
        assert_eq!(l.len(), 4);
        assert_eq!(l.get("a"), None);
        assert_eq!(l.inactive_file(), 7, "total_inactive_file first");
        assert_eq!(
            l.map().keys().map(|k| &**k).collect::<Vec<_>>(),
            ["b", "c", "inactive_file", "total_inactive_file"]
        );
        // Fewer lines.
        l.update(b"b 3\n");
        assert_eq!((l.len(), l.inactive_file()), (1, 0));
        l.update(b"");
        assert!(l.is_empty());
    }

    /// A sequence of memory.stat versions applied to one list gives, each time, what
    /// parsing that text alone into a map gives (the fast path and the slow one agree).
    #[test]
    fn memory_stat_updates_match_a_fresh_parse() {
        let texts: [&[u8]; 14] = [
            V1_MEMORY_STAT.as_bytes(),
            b"cache 1\nrss 2\n",
            b"cache 3\nrss 4",
            b"cache 5\nrss 6\n\n",
            b"cache 7\nrss 8 \n",
            b"cache 9\nrss 10\nextra 11\n",
            b"a 1\na 2\nb 3\n",
            b"a 5\na 6\nb 7\n",
            b"a 18446744073709551615\nb 1\n",
            b"a 9999999999999999999\nb 1\n",
            b"a 99999999999999999999\nb 1\n",
            b"a x\nb 1\n",
            b"a\nb 1\n",
            b"",
        ];
        let mut l = KvList::default();
        for _ in 0..2 {
            for t in texts {
                l.update(t);
                let fresh: BTreeMap<Cow<'static, str>, u64> = kv_lines(t)
                    .map(|(k, v)| (Cow::Owned(String::from_utf8_lossy(k).into_owned()), v))
                    .collect();
                assert_eq!(**l.map(), fresh, "{}", String::from_utf8_lossy(t));
                let inactive = fresh
                    .get("total_inactive_file")
                    .or(fresh.get("inactive_file"))
                    .copied()
                    .unwrap_or(0);
                assert_eq!(l.inactive_file(), inactive);
            }
        }
        l.update(b"a 1\na 2\nb 3\n");
        l.update(b"a 5\na 6\nb 7\n");
        assert_eq!(
            (l.get("a"), l.len()),
            (Some(6), 2),
            "the last line of a key wins"
        );
    }

    #[test]
    fn digest_sees_every_one_counter_change() {
        let base = V1_MEMORY_STAT.as_bytes();
        let d0 = digest(base);
        // Every single-byte change (one digit moving, one letter) changes the digest.
        let mut t = base.to_vec();
        for i in 0..t.len() {
            let keep = t[i];
            for b in [b'0', b'1', b'9', b' ', b'a'] {
                if b != keep {
                    t[i] = b;
                    assert_ne!(digest(&t), d0, "byte {i} set to {b}");
                }
            }
            t[i] = keep;
        }
        // Longer or shorter (a counter gaining a digit), or a trailing zero byte.
        assert_ne!(digest(&base[..base.len() - 1]), d0);
        let mut longer = base.to_vec();
        longer.push(0);
        assert_ne!(digest(&longer), d0);
        assert_eq!(digest(base), d0);
    }

    #[test]
    fn kv_lines_as_split_whitespace() {
        let text = b"a 1\n\n  b\t2 extra\nc\nd x\ne 3x\n f 18446744073709551616\ng 4";
        let got: Vec<(&[u8], u64)> = kv_lines(text).collect();
        assert_eq!(got, [(&b"a"[..], 1), (&b"b"[..], 2), (&b"g"[..], 4)]);
        // The same as parsing each line's first two tokens.
        let by_tokens: Vec<(&[u8], u64)> = text
            .split(|b| *b == b'\n')
            .filter_map(|l| {
                let (k, rest) = token(l)?;
                let (v, _) = token(rest)?;
                Some((k, parse_u64(v)?))
            })
            .collect();
        assert_eq!(got, by_tokens);
        assert_eq!(kv_lines(b"").count(), 0);
        assert_eq!(kv_lines(b"\n\n").count(), 0);
    }

    #[test]
    fn small_parsers() {
        assert_eq!(num(b"12345\n"), Some(12345));
        assert_eq!(num(b"max\n"), None);
        assert_eq!(num(b""), None);
        assert_eq!(num(b"1 2\n"), None);
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        assert_eq!(parse_u64(b"-1"), None);
        assert_eq!(
            kv_get(
                b"low 0\nhigh 0\nmax 0\noom 0\noom_kill 4\noom_group_kill 0\n",
                b"oom_kill"
            ),
            Some(4)
        );
        let (c, t) = parse_cpu_stat_v2(b"usage_usec 10\nuser_usec 6\nsystem_usec 4\ncore_sched.force_idle_usec 0\nnr_periods 5\nnr_throttled 1\nthrottled_usec 2\nnr_bursts 0\nburst_usec 0\n");
        assert_eq!(
            (c.total_usage, c.usage_in_usermode, c.usage_in_kernelmode),
            (10_000, 6_000, 4_000)
        );
        assert_eq!(
            (t.periods, t.throttled_periods, t.throttled_time),
            (5, 1, 2_000)
        );
        let mut io = vec![];
        parse_blkio_v1(b"Total 0\n", &mut io);
        assert!(io.is_empty());
    }

    #[test]
    fn net_dev_and_proc_stat() {
        let text = b"Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo:  100 1 0 0 0 0 0 0 100 1 0 0 0 0 0 0\n  eth0: 5000 40 1 2 0 0 0 0 7000 50 3 4 0 0 0 0\n";
        let mut n = vec![];
        parse_net_dev(text, &mut n);
        let m = net_map(&n);
        assert_eq!(m.len(), 1);
        assert_eq!(
            (m["eth0"].rx_bytes, m["eth0"].tx_bytes, m["eth0"].tx_dropped),
            (5000, 7000, 4)
        );
        // In place: a second interface, then the first one gone.
        let two = b"h1\nh2\n  eth0: 1 0 0 0 0 0 0 0 2 0 0 0 0 0 0 0\n  eth1: 3 0 0 0 0 0 0 0 4 0 0 0 0 0 0 0\n";
        parse_net_dev(two, &mut n);
        assert_eq!(n.len(), 2);
        assert_eq!(n[1].0, "eth1");
        let one = b"h1\nh2\n  eth1: 5 0 0 0 0 0 0 0 6 0 0 0 0 0 0 0\n";
        parse_net_dev(one, &mut n);
        assert_eq!(n.len(), 1);
        assert_eq!((n[0].0.as_str(), n[0].1.rx_bytes), ("eth1", 5));
        let (total, cpus) = system_cpu(b"cpu  10 0 10 80 0 0 0 0 0 0\ncpu0 5 0 5 40 0 0 0 0 0 0\ncpu1 5 0 5 40 0 0 0 0 0 0\nintr 1\n");
        assert_eq!((total, cpus), (100 * NS_PER_TICK, 2));
        let (total, idle, cpus) =
            system_cpu_idle(b"cpu  10 0 10 70 10 0 0 0 0 0\ncpu0 1 1 1 1 1\n");
        assert_eq!(
            (total, idle, cpus),
            (100 * NS_PER_TICK, 80 * NS_PER_TICK, 1)
        );
    }

    /// The real files of this host's processes parse (this runs as any user).
    #[test]
    fn reads_this_hosts_proc_files() {
        let (total, cpus) = HostCpu::default().read();
        let online = std::thread::available_parallelism().map_or(0, |n| n.get()) as u32;
        assert!(total > 0 && cpus >= online, "{cpus} cpus, {online} usable");
        let me = std::process::id() as i32;
        let mut k = net_file(me);
        let mut buf = Vec::new();
        let text = k.read(&mut buf).expect("/proc/self/net/dev").to_vec();
        let mut n = vec![];
        parse_net_dev(&text, &mut n);
        // Every interface but loopback, counted from the text independently.
        let listed: Vec<String> = String::from_utf8_lossy(&text)
            .lines()
            .skip(2)
            .filter_map(|l| l.split_once(':').map(|(name, _)| name.trim().to_string()))
            .filter(|name| name != "lo")
            .collect();
        let parsed: Vec<String> = n.iter().map(|(name, _)| name.clone()).collect();
        assert_eq!(parsed, listed);
    }

    #[test]
    fn a_file_larger_than_the_buffer_reads_whole() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("big");
        let text: String = (0..3000).map(|i| format!("key{i} {i}\n")).collect();
        fs::write(&p, &text).unwrap();
        let mut k = Kept::new(p);
        let mut buf = Vec::new();
        assert_eq!(k.read(&mut buf).unwrap(), text.as_bytes());
        let mut l = KvList::default();
        l.update(text.as_bytes());
        assert_eq!((l.len(), l.get("key2999")), (3000, Some(2999)));
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
