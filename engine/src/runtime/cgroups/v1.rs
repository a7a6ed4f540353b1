//! cgroup v1: one directory per controller hierarchy, `/sys/fs/cgroup/<ctrl>/wharf/<id>`.

use std::path::{Path, PathBuf};

use super::{
    keyed_value, make_dir, poll_until, read_file, read_pids, remove_dir, write_file, PARENT,
};
use crate::api::Resources;
use crate::error::Result;

/// Controllers wharf uses on v1, by their mount directory names.
const CONTROLLERS: &[&str] = &[
    "cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids",
];

/// A container's cgroups on the v1 hierarchies mounted under `base`.
#[derive(Debug, Clone)]
pub struct V1 {
    base: PathBuf,
    id: String,
}

impl V1 {
    /// The cgroups of container `id` under the v1 mount point `base` (`/sys/fs/cgroup`).
    pub fn new(base: &Path, id: &str) -> Self {
        V1 {
            base: base.to_path_buf(),
            id: id.to_string(),
        }
    }

    /// `<base>/<ctrl>/wharf/<id>` if that hierarchy is mounted.
    pub fn path(&self, ctrl: &str) -> Option<PathBuf> {
        let h = self.base.join(ctrl);
        h.join("cgroup.procs")
            .exists()
            .then(|| h.join(PARENT).join(&self.id))
    }

    fn dirs(&self) -> Vec<PathBuf> {
        let mut seen = Vec::new();
        for c in CONTROLLERS {
            if let Some(p) = self.path(c) {
                // cpu and cpuacct may be one hierarchy behind two names.
                let canon =
                    std::fs::canonicalize(self.base.join(c)).unwrap_or_else(|_| self.base.join(c));
                if !seen.iter().any(|(k, _): &(PathBuf, PathBuf)| *k == canon) {
                    seen.push((canon, p));
                }
            }
        }
        seen.into_iter().map(|(_, p)| p).collect()
    }

    pub(super) fn create(&self) -> Result<()> {
        for d in self.dirs() {
            make_dir(&d)?;
        }
        // cpuset children start empty on v1: copy cpus and mems down from the parents.
        if let Some(p) = self.path("cpuset") {
            let parent = p.parent().map(Path::to_path_buf).unwrap_or_default();
            for f in ["cpuset.cpus", "cpuset.mems"] {
                for (dir, up) in [(&parent, parent.parent()), (&p, Some(parent.as_path()))] {
                    if read_file(&dir.join(f)).is_empty() {
                        if let Some(up) = up {
                            write_file(&dir.join(f), &read_file(&up.join(f)))?;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Docker's device list in the devices controller (everything when privileged).
    pub(super) fn restrict_devices(&self, privileged: bool) -> Result<()> {
        if let Some(p) = self.path("devices") {
            if std::fs::metadata(p.join("devices.deny")).is_ok() {
                if privileged {
                    write_file(&p.join("devices.allow"), "a")?;
                } else {
                    write_file(&p.join("devices.deny"), "a")?;
                    for d in super::devices::ALLOWED {
                        write_file(&p.join("devices.allow"), d)?;
                    }
                }
            }
        }
        Ok(())
    }

    pub(super) fn apply(&self, r: &Resources) -> Result<()> {
        if let Some(p) = self.path("memory") {
            let memsw = p.join("memory.memsw.limit_in_bytes");
            let swap = match (r.memory, r.memory_swap) {
                (_, Some(s)) => Some(s),
                // Docker: with -m alone, memory + swap is twice the memory.
                (Some(m), None) if m > 0 => Some(m * 2),
                _ => None,
            };
            if let Some(m) = r.memory {
                let m = if m <= 0 { -1 } else { m };
                let mem = p.join("memory.limit_in_bytes");
                match (swap, memsw.exists()) {
                    (Some(s), true) => {
                        // memsw must stay >= memory: order the two writes so it always does.
                        let s = if s <= 0 { -1 } else { s };
                        if write_file(&mem, &m.to_string()).is_err() {
                            write_file(&memsw, &s.to_string())?;
                            write_file(&mem, &m.to_string())?;
                        } else {
                            write_file(&memsw, &s.to_string())?;
                        }
                    }
                    _ => write_file(&mem, &m.to_string())?,
                }
            } else if let (Some(s), true) = (swap, memsw.exists()) {
                write_file(&memsw, &(if s <= 0 { -1 } else { s }).to_string())?;
            }
        }
        if let Some(p) = self.path("cpu") {
            if let Some(n) = r.nano_cpus {
                let period: i64 = 100_000;
                let quota = if n <= 0 {
                    -1
                } else {
                    n * period / 1_000_000_000
                };
                write_file(&p.join("cpu.cfs_period_us"), &period.to_string())?;
                write_file(&p.join("cpu.cfs_quota_us"), &quota.to_string())?;
            }
            if let Some(s) = r.cpu_shares {
                write_file(&p.join("cpu.shares"), &s.max(2).to_string())?;
            }
        }
        if let (Some(p), Some(cpus)) = (self.path("cpuset"), &r.cpuset_cpus) {
            write_file(&p.join("cpuset.cpus"), cpus)?;
        }
        if let (Some(p), Some(n)) = (self.path("pids"), r.pids_limit) {
            write_file(
                &p.join("pids.max"),
                &if n <= 0 {
                    "max".to_string()
                } else {
                    n.to_string()
                },
            )?;
        }
        if let (Some(p), Some(w)) = (self.path("blkio"), r.blkio_weight) {
            for f in ["blkio.weight", "blkio.bfq.weight"] {
                if p.join(f).exists() {
                    write_file(&p.join(f), &w.to_string())?;
                    break;
                }
            }
        }
        Ok(())
    }

    /// The `tasks` file of each hierarchy's directory.
    pub(super) fn tasks_files(&self) -> Vec<PathBuf> {
        self.dirs().into_iter().map(|d| d.join("tasks")).collect()
    }

    pub(super) fn add_proc(&self, pid: i32) -> Result<()> {
        for d in self.dirs() {
            write_file(&d.join("cgroup.procs"), &pid.to_string())?;
        }
        Ok(())
    }

    pub(super) fn freeze(&self, frozen: bool) -> Result<()> {
        let Some(p) = self.path("freezer") else {
            return Err(crate::EngineError::unavailable(
                "the freezer cgroup controller is not mounted: pause needs it (mount it under /sys/fs/cgroup/freezer)",
            ));
        };
        let want = if frozen { "FROZEN" } else { "THAWED" };
        write_file(&p.join("freezer.state"), want)?;
        poll_until("freezing the container", || {
            let s = read_file(&p.join("freezer.state"));
            if s == "FREEZING" && frozen {
                // Retry: a task in a transient state may need another nudge.
                let _ = write_file(&p.join("freezer.state"), want);
            }
            s == want || (!p.exists())
        })
    }

    pub(super) fn is_frozen(&self) -> bool {
        self.path("freezer")
            .is_some_and(|p| read_file(&p.join("freezer.state")) == "FROZEN")
    }

    pub(super) fn oom_kills(&self) -> u64 {
        self.path("memory")
            .and_then(|p| keyed_value(&p.join("memory.oom_control"), "oom_kill"))
            .unwrap_or(0)
    }

    pub(super) fn pids(&self) -> Vec<i32> {
        self.path("pids")
            .or_else(|| self.path("memory"))
            .map(|p| read_pids(&p.join("cgroup.procs")))
            .unwrap_or_default()
    }

    pub(super) fn remove_dirs(&self) -> Result<()> {
        let mut first_err = None;
        for d in self.dirs() {
            if let Err(e) = remove_dir(&d) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}
