//! Sizes, CPUs and the other resource limits of `run`, `create` and `update`.

use std::fmt;
use std::ops::RangeInclusive;
use std::str::FromStr;

use super::{flag, num, BadValue};
use crate::api::Resources;
use crate::error::EngineError;

/// Docker's smallest memory limit: 6 MiB.
pub const MIN_MEMORY: i64 = 6 << 20;
/// The smallest CPU limit: 0.01 CPU (1 ms of quota in each 100 ms period).
pub const MIN_NANO_CPUS: i64 = 10_000_000;
/// Docker's bounds on `--cpu-shares`.
pub const CPU_SHARES: RangeInclusive<u64> = 2..=262_144;
/// The bounds on `--blkio-weight`.
pub const BLKIO_WEIGHT: RangeInclusive<u16> = 10..=1000;
/// The highest CPU number `--cpuset-cpus` may name (the kernel's largest NR_CPUS is 8192).
pub const MAX_CPU_ID: u32 = 8191;

const SIZE_HINT: &str = "write a number of bytes with an optional unit b, k, m, g, t or p (1k = 1024 bytes), such as 512m or 1.5g";

/// A size in bytes as Docker reads `-m`, `--shm-size` or `tmpfs-size` (go-units'
/// `RAMInBytes`): `512`, `64k`, `100m`, `1g`, `1.5g`; units are binary and
/// case-insensitive, `b` (or `ib`) after the unit is optional, one space may come before
/// the unit. Read exactly (no floats): `nan`, `inf`, `1e30` and negative sizes are
/// refused, and so is anything past `i64::MAX` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

impl FromStr for ByteSize {
    type Err = BadValue;

    fn from_str(s: &str) -> Result<Self, BadValue> {
        size(s, 1024).map(ByteSize)
    }
}

/// A size with decimal units, as Docker reads `--log-opt max-size` (go-units'
/// `FromHumanSize`): the grammar of [`ByteSize`], but `1k` is 1000 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct DecimalSize(pub u64);

impl FromStr for DecimalSize {
    type Err = BadValue;

    fn from_str(s: &str) -> Result<Self, BadValue> {
        size(s, 1000).map(DecimalSize)
    }
}

/// The size grammar, with units that are powers of `base` (1024 or 1000).
fn size(s: &str, base: u128) -> Result<u64, BadValue> {
    let t = s.trim();
    let hint = if base == 1024 {
        SIZE_HINT
    } else {
        "write a number of bytes with an optional unit b, k, m, g, t or p (1k = 1000 bytes), such as 10m"
    };
    let bad = |why: &str| BadValue::new(s, format!("{why}; {hint}"));
    if t.starts_with('-') {
        return Err(bad("a size cannot be negative"));
    }
    let end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (digits, unit) = t.split_at(end);
    let unit = unit.strip_prefix(' ').unwrap_or(unit).to_ascii_lowercase();
    let (power, rest) = match unit.as_bytes().first() {
        Some(b'k') => (1, &unit[1..]),
        Some(b'm') => (2, &unit[1..]),
        Some(b'g') => (3, &unit[1..]),
        Some(b't') => (4, &unit[1..]),
        Some(b'p') => (5, &unit[1..]),
        _ => (0, unit.as_str()),
    };
    let rest = if power > 0 {
        rest.strip_prefix('i').unwrap_or(rest)
    } else {
        rest
    };
    if digits.is_empty() || digits.starts_with('.') || digits.ends_with('.') {
        return Err(bad("it is not a size"));
    }
    if !(rest.is_empty() || rest == "b") {
        return Err(bad(&format!("{unit:?} is not a unit")));
    }
    let d = num::decimal(digits, false).ok_or_else(|| bad("it is not a size"))?;
    match d.times_floor(base.pow(power)) {
        Some(b) if b <= i64::MAX as u128 => Ok(b as u64),
        _ => Err(BadValue::new(
            s,
            "the size is larger than wharf can hold (at most 8191p); give a smaller size",
        )),
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&human(self.0 as i64))
    }
}

/// Bytes in the largest binary unit that holds them exactly: `64m`, `1536k`, `100`.
pub fn human(bytes: i64) -> String {
    for (unit, shift) in [("p", 50), ("t", 40), ("g", 30), ("m", 20), ("k", 10)] {
        let u = 1i64 << shift;
        if bytes != 0 && bytes % u == 0 {
            return format!("{}{unit}", bytes / u);
        }
    }
    bytes.to_string()
}

/// `--cpus`: a number of CPUs in billionths, converted exactly as Docker does (a
/// rational number: `1.5`, `0.25`, `3/2`, `2e-1`; at most nine decimal places): `1.5`
/// is `1_500_000_000`. Finite and more than 0 (0.01 at least); the host's count is
/// checked by the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NanoCpus(pub i64);

impl FromStr for NanoCpus {
    type Err = BadValue;

    fn from_str(s: &str) -> Result<Self, BadValue> {
        let t = s.trim();
        let t = t.strip_prefix('+').unwrap_or(t);
        let bad = |why: &str| BadValue::new(s, why.to_string());
        if t.starts_with('-') {
            return Err(bad(
                "a CPU limit must be more than 0; give a number of CPUs such as 0.5 or 2",
            ));
        }
        const NANO: u128 = 1_000_000_000;
        let too_big =
            || bad("that is more CPUs than any machine has; give a number such as 0.5 or 2");
        let too_precise =
            || bad("a CPU limit has at most nine decimal places (billionths of a CPU)");
        let nano: u128 = match t.split_once('/') {
            Some((a, b)) => {
                let (Some(a), Some(b)) = (num::uint(a), num::uint(b)) else {
                    return Err(bad(
                        "it is not a number of CPUs; write a decimal number such as 0.5 or 2",
                    ));
                };
                if b == 0 {
                    return Err(bad(
                        "a fraction cannot divide by 0; write a number such as 0.5",
                    ));
                }
                let n = u128::from(a) * NANO;
                if n % u128::from(b) != 0 {
                    return Err(too_precise());
                }
                n / u128::from(b)
            }
            None => {
                let d = num::decimal(t, true).ok_or_else(|| {
                    bad("it is not a number of CPUs; write a decimal number such as 0.5 or 2")
                })?;
                match d.times_exact(NANO) {
                    Ok(Some(n)) => n,
                    Ok(None) => return Err(too_big()),
                    Err(()) => return Err(too_precise()),
                }
            }
        };
        if nano > i64::MAX as u128 {
            return Err(too_big());
        }
        let nano = nano as i64;
        match nano_cpus_problem(nano) {
            Some(why) => Err(BadValue::new(s, why)),
            None => Ok(NanoCpus(nano)),
        }
    }
}

/// Billionths of a CPU as a number of CPUs: `1.5`, `0.01`, `2`.
pub fn cpus_text(nano: i64) -> String {
    let whole = nano / 1_000_000_000;
    let frac = (nano % 1_000_000_000).abs();
    if frac == 0 {
        return whole.to_string();
    }
    let f = format!("{frac:09}");
    format!("{whole}.{}", f.trim_end_matches('0'))
}

fn nano_cpus_problem(n: i64) -> Option<String> {
    if n == 0 {
        Some("0 CPUs is no limit at all; leave --cpus out for no limit, or give a number such as 0.5".into())
    } else if n < 0 {
        Some("a CPU limit must be more than 0; give a number of CPUs such as 0.5 or 2".into())
    } else if n < MIN_NANO_CPUS {
        Some("the smallest CPU limit is 0.01; give 0.01 or more".into())
    } else {
        None
    }
}

/// `--cpuset-cpus` (and the kernel's lists of CPUs): numbers and ranges, `0-2,4`, as
/// ranges in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuList(pub Vec<(u32, u32)>);

impl CpuList {
    /// Is `cpu` in the list?
    pub fn contains(&self, cpu: u32) -> bool {
        self.0.iter().any(|(a, b)| (*a..=*b).contains(&cpu))
    }

    /// The CPUs of `self` that `other` does not have, as a list (empty when none).
    pub fn missing_from(&self, other: &CpuList) -> CpuList {
        let mut out: Vec<(u32, u32)> = Vec::new();
        for &(a, b) in &self.0 {
            let mut cpu = a;
            loop {
                if !other.contains(cpu) {
                    match out.last_mut() {
                        Some((_, end)) if *end + 1 == cpu => *end = cpu,
                        _ => out.push((cpu, cpu)),
                    }
                }
                if cpu == b {
                    break;
                }
                cpu += 1;
            }
        }
        CpuList(out)
    }

    /// How many CPUs the list names (ranges may overlap; each CPU counts once).
    pub fn count(&self) -> u32 {
        (0..=MAX_CPU_ID).filter(|c| self.contains(*c)).count() as u32
    }
}

impl FromStr for CpuList {
    type Err = BadValue;

    fn from_str(s: &str) -> Result<Self, BadValue> {
        let t = s.trim();
        let bad = |why: String| {
            BadValue::new(
                s,
                format!("{why}; write CPU numbers and ranges such as 0-2,4"),
            )
        };
        if t.is_empty() {
            return Err(bad("no CPUs are named".into()));
        }
        let mut out = Vec::new();
        for part in t.split(',') {
            let (a, b) = part.split_once('-').unwrap_or((part, part));
            let (Some(a), Some(b)) = (num::uint(a), num::uint(b)) else {
                return Err(bad(format!("{part:?} is not a CPU number or range")));
            };
            if b > u64::from(MAX_CPU_ID) {
                return Err(bad(format!(
                    "CPU {b} is past the highest possible CPU number ({MAX_CPU_ID})"
                )));
            }
            if a > b {
                return Err(bad(format!("the range {part:?} runs backwards")));
            }
            out.push((a as u32, b as u32));
        }
        Ok(CpuList(out))
    }
}

impl fmt::Display for CpuList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|(a, b)| {
                if a == b {
                    a.to_string()
                } else {
                    format!("{a}-{b}")
                }
            })
            .collect();
        f.write_str(&parts.join(","))
    }
}

fn memory_problem(m: i64) -> Option<String> {
    if m <= 0 {
        Some(
            "a memory limit must be more than 0; leave -m out for no limit, or give 6m or more"
                .into(),
        )
    } else if m < MIN_MEMORY {
        Some("the minimum memory limit is 6m (6 MiB), as in Docker; give -m 6m or more".into())
    } else {
        None
    }
}

fn swap_problem(s: i64) -> Option<String> {
    if s == -1 || s > 0 {
        None
    } else {
        Some("--memory-swap is memory plus swap in bytes, or -1 for unlimited swap; give a size such as 1g, or -1".into())
    }
}

fn cpu_shares_problem(s: u64) -> Option<String> {
    (!CPU_SHARES.contains(&s)).then(|| {
        format!(
            "CPU shares are a relative weight from {} to {} (1024 is the default); give a number in that range, or leave --cpu-shares out",
            CPU_SHARES.start(),
            CPU_SHARES.end()
        )
    })
}

fn pids_problem(p: i64) -> Option<String> {
    (p == 0 || p < -1).then(|| {
        "a pids limit is a number of processes (1 or more), or -1 for no limit".to_string()
    })
}

fn blkio_problem(w: u16) -> Option<String> {
    (!BLKIO_WEIGHT.contains(&w)).then(|| {
        format!(
            "the block IO weight is from {} to {}; give a number in that range, or leave --blkio-weight out",
            BLKIO_WEIGHT.start(),
            BLKIO_WEIGHT.end()
        )
    })
}

fn shm_problem(s: u64) -> Option<String> {
    if s == 0 {
        Some(
            "/dev/shm needs a size of more than 0; leave --shm-size out for the default 64m".into(),
        )
    } else if s > i64::MAX as u64 {
        Some("the size is larger than wharf can hold".into())
    } else {
        None
    }
}

fn refuse(flag: &str, value: &str, why: String) -> EngineError {
    BadValue::new(value, why).for_flag(flag)
}

/// `-m` / `--memory`: bytes, 6 MiB at least.
pub fn memory(v: &str) -> Result<i64, EngineError> {
    let m = flag::<ByteSize>("--memory", v)?.0 as i64;
    match memory_problem(m) {
        Some(why) => Err(refuse("--memory", v, why)),
        None => Ok(m),
    }
}

/// `--memory-swap`: memory plus swap in bytes, or `-1` for unlimited swap.
pub fn memory_swap(v: &str) -> Result<i64, EngineError> {
    if v.trim() == "-1" {
        return Ok(-1);
    }
    let s = flag::<ByteSize>("--memory-swap", v)?.0 as i64;
    match swap_problem(s) {
        Some(why) => Err(refuse("--memory-swap", v, why)),
        None => Ok(s),
    }
}

/// `--cpus`: billionths of a CPU ([`NanoCpus`]).
pub fn cpus(v: &str) -> Result<i64, EngineError> {
    Ok(flag::<NanoCpus>("--cpus", v)?.0)
}

/// `--cpuset-cpus`: the list as written (trimmed), once it parses as a [`CpuList`].
pub fn cpuset_cpus(v: &str) -> Result<String, EngineError> {
    flag::<CpuList>("--cpuset-cpus", v)?;
    Ok(v.trim().to_string())
}

/// `--cpu-shares`: a relative weight, 2 to 262144.
pub fn cpu_shares(v: &str) -> Result<u64, EngineError> {
    let s = num::uint(v.trim()).ok_or_else(|| {
        refuse(
            "--cpu-shares",
            v,
            "it is not a whole number; give a weight such as 512 (1024 is the default)".into(),
        )
    })?;
    match cpu_shares_problem(s) {
        Some(why) => Err(refuse("--cpu-shares", v, why)),
        None => Ok(s),
    }
}

/// `--pids-limit`: a number of processes, or `-1` for no limit.
pub fn pids_limit(v: &str) -> Result<i64, EngineError> {
    let p = num::int(v.trim()).ok_or_else(|| {
        refuse(
            "--pids-limit",
            v,
            "it is not a whole number; give a number of processes such as 100, or -1 for no limit"
                .into(),
        )
    })?;
    match pids_problem(p) {
        Some(why) => Err(refuse("--pids-limit", v, why)),
        None => Ok(p),
    }
}

/// `--blkio-weight`: 10 to 1000.
pub fn blkio_weight(v: &str) -> Result<u16, EngineError> {
    let w = num::uint(v.trim())
        .and_then(|w| u16::try_from(w).ok())
        .ok_or_else(|| {
            refuse(
                "--blkio-weight",
                v,
                "it is not a weight; give a whole number from 10 to 1000".into(),
            )
        })?;
    match blkio_problem(w) {
        Some(why) => Err(refuse("--blkio-weight", v, why)),
        None => Ok(w),
    }
}

/// `--shm-size`: bytes for /dev/shm, more than 0.
pub fn shm_size(v: &str) -> Result<u64, EngineError> {
    let s = flag::<ByteSize>("--shm-size", v)?.0;
    match shm_problem(s) {
        Some(why) => Err(refuse("--shm-size", v, why)),
        None => Ok(s),
    }
}

/// The rules on limits that do not depend on the host, for a create request
/// (`update == false`) or the limits a container has after an `update`.
pub fn check_resources(r: &Resources, update: bool) -> Result<(), EngineError> {
    if let Some(m) = r.memory {
        if let Some(why) = memory_problem(m) {
            return Err(refuse("--memory", &human(m), why));
        }
    }
    if let Some(s) = r.memory_swap {
        if let Some(why) = swap_problem(s) {
            return Err(refuse("--memory-swap", &s.to_string(), why));
        }
        match r.memory {
            Some(m) if s > 0 && s < m => {
                return Err(EngineError::invalid(format!(
                    "invalid --memory-swap {}: it is memory plus swap, so it must be at least the memory limit ({}); give --memory-swap {} or more, or -1 for unlimited swap",
                    human(s),
                    human(m),
                    human(m)
                )))
            }
            None if s > 0 && !update => {
                return Err(EngineError::invalid(format!(
                    "invalid --memory-swap {}: it is memory plus swap, so it needs a memory limit too; add -m",
                    human(s)
                )))
            }
            _ => {}
        }
    }
    if let Some(n) = r.nano_cpus {
        if let Some(why) = nano_cpus_problem(n) {
            return Err(refuse("--cpus", &cpus_text(n), why));
        }
    }
    if let Some(s) = r.cpu_shares {
        if let Some(why) = cpu_shares_problem(s) {
            return Err(refuse("--cpu-shares", &s.to_string(), why));
        }
    }
    if let Some(c) = &r.cpuset_cpus {
        flag::<CpuList>("--cpuset-cpus", c)?;
    }
    if let Some(p) = r.pids_limit {
        if let Some(why) = pids_problem(p) {
            return Err(refuse("--pids-limit", &p.to_string(), why));
        }
    }
    if let Some(w) = r.blkio_weight {
        if let Some(why) = blkio_problem(w) {
            return Err(refuse("--blkio-weight", &w.to_string(), why));
        }
    }
    Ok(())
}

/// The rule on `shm_size` (bytes for /dev/shm).
pub fn check_shm_size(s: u64) -> Result<(), EngineError> {
    match shm_problem(s) {
        Some(why) => Err(refuse("--shm-size", &s.to_string(), why)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_as_docker_reads_them() {
        let ok = [
            ("512", 512),
            ("0", 0),
            ("64k", 64 << 10),
            ("64K", 64 << 10),
            ("100m", 100 << 20),
            ("100M", 100 << 20),
            ("1g", 1 << 30),
            ("1G", 1 << 30),
            ("1gb", 1 << 30),
            ("1GiB", 1 << 30),
            ("1.5g", 3 << 29),
            ("1 g", 1 << 30),
            ("32b", 32),
            ("2t", 2 << 40),
            ("1p", 1 << 50),
            ("1.5", 1),
            (" 64m ", 64 << 20),
        ];
        for (s, want) in ok {
            assert_eq!(s.parse::<ByteSize>(), Ok(ByteSize(want)), "{s}");
        }
        let refused = [
            "",
            "nan",
            "NaN",
            "inf",
            "-inf",
            "1e30",
            "1e3",
            "-1",
            "-1m",
            "m",
            "1x",
            "1mm",
            "1.2.3",
            ".5m",
            "5.m",
            "0x10",
            "1  m",
            "1ib",
            "9000p",
            "99999999999999999999999g",
        ];
        for s in refused {
            assert!(s.parse::<ByteSize>().is_err(), "{s} was accepted");
        }
        let e = memory("nan").unwrap_err();
        assert!(e.message.starts_with("invalid --memory \"nan\": "), "{e}");
        assert!(e.message.contains("such as 512m"), "{e}");
        assert!(memory("-1").unwrap_err().message.contains("negative"));
        assert_eq!(memory("1.5g").unwrap(), 3 << 29);
        assert!(memory("1m").unwrap_err().message.contains("6m"));
        assert!(memory("0").is_err());
        assert!(memory("1e30").is_err());
        assert_eq!(memory_swap("-1").unwrap(), -1);
        assert_eq!(memory_swap("1g").unwrap(), 1 << 30);
        assert!(memory_swap("-2").is_err());
        assert!(memory_swap("0").is_err());
        assert_eq!(shm_size("64m").unwrap(), 64 << 20);
        assert!(shm_size("0").is_err());
        assert_eq!(human(64 << 20), "64m");
        assert_eq!(human(1536), "1536");
        assert_eq!(human(3 << 29), "1536m");
        assert_eq!("10m".parse::<DecimalSize>(), Ok(DecimalSize(10_000_000)));
        assert_eq!("2k".parse::<DecimalSize>(), Ok(DecimalSize(2000)));
        assert!("nan".parse::<DecimalSize>().is_err());
    }

    #[test]
    fn cpus_as_docker_reads_them() {
        let ok = [
            ("1", 1_000_000_000),
            ("1.5", 1_500_000_000),
            ("0.5", 500_000_000),
            (".25", 250_000_000),
            ("0.01", 10_000_000),
            ("3/2", 1_500_000_000),
            ("2e-1", 200_000_000),
            ("1.000000001", 1_000_000_001),
            ("+2", 2_000_000_000),
            ("1000", 1_000_000_000_000),
        ];
        for (s, want) in ok {
            assert_eq!(s.parse::<NanoCpus>(), Ok(NanoCpus(want)), "{s}");
        }
        for s in [
            "",
            "nan",
            "NaN",
            "inf",
            "-1",
            "0",
            "0.0",
            "-0.5",
            "1.0000000001",
            "0.001",
            "1/0",
            "1/3",
            "x",
            "1e30",
            "1,5",
            "1e-12",
        ] {
            assert!(s.parse::<NanoCpus>().is_err(), "{s} was accepted");
        }
        let e = cpus("nan").unwrap_err();
        assert!(e.message.starts_with("invalid --cpus \"nan\""), "{e}");
        assert!(cpus("1.0000000001")
            .unwrap_err()
            .message
            .contains("nine decimal"));
        assert!(cpus("0").unwrap_err().message.contains("leave --cpus out"));
        assert_eq!(cpus_text(1_500_000_000), "1.5");
        assert_eq!(cpus_text(10_000_000), "0.01");
        assert_eq!(cpus_text(2_000_000_000), "2");
    }

    #[test]
    fn cpu_lists() {
        let l: CpuList = "0-2,4".parse().unwrap();
        assert_eq!(l.0, vec![(0, 2), (4, 4)]);
        assert!(l.contains(1) && l.contains(4) && !l.contains(3));
        assert_eq!(l.count(), 4);
        assert_eq!(l.to_string(), "0-2,4");
        let online: CpuList = "0-1".parse().unwrap();
        assert_eq!(l.missing_from(&online).to_string(), "2,4");
        assert_eq!(
            "0,1".parse::<CpuList>().unwrap().missing_from(&online).0,
            vec![]
        );
        for s in ["", "a", "1-", "-1", "2-1", "0,,1", "1.5", "0-99999", " - "] {
            assert!(s.parse::<CpuList>().is_err(), "{s}");
        }
        assert_eq!(cpuset_cpus(" 0-1 ").unwrap(), "0-1");
        assert!(cpuset_cpus("x")
            .unwrap_err()
            .message
            .starts_with("invalid --cpuset-cpus \"x\""));
    }

    #[test]
    fn the_other_limits() {
        assert_eq!(cpu_shares("512").unwrap(), 512);
        for s in ["0", "1", "262145", "-5", "x", "1.5"] {
            assert!(cpu_shares(s).is_err(), "{s}");
        }
        assert_eq!(pids_limit("100").unwrap(), 100);
        assert_eq!(pids_limit("-1").unwrap(), -1);
        for s in ["0", "-2", "x", "1e3"] {
            assert!(pids_limit(s).is_err(), "{s}");
        }
        assert_eq!(blkio_weight("500").unwrap(), 500);
        for s in ["0", "9", "1001", "70000", "x"] {
            assert!(blkio_weight(s).is_err(), "{s}");
        }
    }

    #[test]
    fn resource_rules() {
        let r = |f: fn(&mut Resources)| {
            let mut r = Resources::default();
            f(&mut r);
            check_resources(&r, false)
        };
        assert!(r(|_| {}).is_ok());
        assert!(r(|r| r.memory = Some(64 << 20)).is_ok());
        assert!(r(|r| r.memory = Some(1 << 20)).is_err());
        assert!(r(|r| r.memory = Some(0)).is_err());
        assert!(r(|r| r.memory = Some(-1)).is_err());
        assert!(r(|r| {
            r.memory = Some(64 << 20);
            r.memory_swap = Some(32 << 20)
        })
        .unwrap_err()
        .message
        .contains("at least the memory limit"));
        assert!(r(|r| {
            r.memory = Some(64 << 20);
            r.memory_swap = Some(-1)
        })
        .is_ok());
        assert!(r(|r| r.memory_swap = Some(64 << 20)).is_err());
        let mut only_swap = Resources {
            memory_swap: Some(64 << 20),
            ..Default::default()
        };
        assert!(check_resources(&only_swap, true).is_ok());
        only_swap.memory_swap = Some(-7);
        assert!(check_resources(&only_swap, true).is_err());
        assert!(r(|r| r.nano_cpus = Some(-1)).is_err());
        assert!(r(|r| r.nano_cpus = Some(0)).is_err());
        assert!(r(|r| r.nano_cpus = Some(1)).is_err());
        assert!(r(|r| r.cpu_shares = Some(1)).is_err());
        assert!(r(|r| r.cpuset_cpus = Some("1-0".into())).is_err());
        assert!(r(|r| r.pids_limit = Some(0)).is_err());
        assert!(r(|r| r.blkio_weight = Some(5)).is_err());
        assert!(check_shm_size(0).is_err());
    }
}
