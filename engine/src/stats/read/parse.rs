//! Parsers of the v1 and v2 cgroup files, /proc/net/dev and /proc/stat: in place, over
//! the bytes as read, without allocating once an object's keys are known.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::api::{CpuUsage, NetStats, Throttling};

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

/// Nanoseconds per clock tick (USER_HZ is 100 on Linux).
pub(super) const NS_PER_TICK: u64 = 10_000_000;

/// Whitespace (and other control bytes, which cgroupfs and procfs do not write).
fn is_space(b: u8) -> bool {
    b <= b' '
}

/// The leading whitespace-separated token of `s` and the rest after it.
pub(super) fn token(s: &[u8]) -> Option<(&[u8], &[u8])> {
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
pub(super) fn num(text: &[u8]) -> Option<u64> {
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
