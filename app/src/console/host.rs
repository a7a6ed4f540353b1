//! Host CPU and memory for the header, from /proc (the app reads; views only draw).

/// CPU busy percent between two reads of /proc/stat.
#[derive(Debug, Default)]
pub struct HostSampler {
    last: Option<(u64, u64)>,
}

fn cpu_times() -> Option<(u64, u64)> {
    let s = std::fs::read_to_string("/proc/stat").ok()?;
    let line = s.lines().next()?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    if v.len() < 5 {
        return None;
    }
    let idle = v[3] + v[4];
    let total: u64 = v.iter().take(8).sum();
    Some((idle, total))
}

/// (used, total) bytes from /proc/meminfo (used = total - available).
pub fn memory() -> Option<(u64, u64)> {
    let s = std::fs::read_to_string("/proc/meminfo").ok()?;
    let get = |k: &str| -> Option<u64> {
        s.lines()
            .find_map(|l| l.strip_prefix(k))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
    };
    let total = get("MemTotal:")?;
    let avail = get("MemAvailable:")?;
    Some((total.saturating_sub(avail), total))
}

impl HostSampler {
    /// CPU busy since the previous call (None on the first).
    pub fn cpu(&mut self) -> Option<f64> {
        let now = cpu_times()?;
        let prev = self.last.replace(now)?;
        let dt = now.1.saturating_sub(prev.1);
        if dt == 0 {
            return None;
        }
        let idle = now.0.saturating_sub(prev.0);
        Some(100.0 * (dt - idle.min(dt)) as f64 / dt as f64)
    }
}
