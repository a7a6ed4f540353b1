//! cgroup v2: one unified hierarchy, `<mount>/wharf/<id>`, controllers enabled through
//! `cgroup.subtree_control` on the way down.
//!
//! This host runs v1 controllers, so this driver is tested against recorded cgroupfs
//! layouts in a temporary directory (see the tests below); a real v2 kernel is exercised
//! by a separate VM test.

use std::path::{Path, PathBuf};

use super::{
    keyed_value, make_dir, poll_until, read_file, read_pids, remove_dir, write_file, PARENT,
};
use crate::api::Resources;
use crate::error::Result;

/// Controllers wharf enables for its containers.
const WANTED: &[&str] = &["cpuset", "cpu", "io", "memory", "pids"];

/// A container's cgroup in the unified hierarchy mounted at `base`.
#[derive(Debug, Clone)]
pub struct V2 {
    base: PathBuf,
    id: String,
}

impl V2 {
    /// The cgroup of container `id` under the cgroup2 mount `base`.
    pub fn new(base: &Path, id: &str) -> Self {
        V2 {
            base: base.to_path_buf(),
            id: id.to_string(),
        }
    }

    /// `<base>/wharf/<id>`.
    pub fn path(&self) -> PathBuf {
        self.base.join(PARENT).join(&self.id)
    }

    fn enable_controllers(dir: &Path) -> Result<()> {
        let available = read_file(&dir.join("cgroup.controllers"));
        let enabled = read_file(&dir.join("cgroup.subtree_control"));
        let add: Vec<String> = WANTED
            .iter()
            .filter(|c| available.split_whitespace().any(|a| a == **c))
            .filter(|c| !enabled.split_whitespace().any(|a| a == **c))
            .map(|c| format!("+{c}"))
            .collect();
        if !add.is_empty() {
            write_file(&dir.join("cgroup.subtree_control"), &add.join(" "))?;
        }
        Ok(())
    }

    pub(super) fn create(&self) -> Result<()> {
        Self::enable_controllers(&self.base)?;
        let parent = self.base.join(PARENT);
        make_dir(&parent)?;
        Self::enable_controllers(&parent)?;
        make_dir(&self.path())
    }

    pub(super) fn apply(&self, r: &Resources) -> Result<()> {
        let p = self.path();
        if let Some(m) = r.memory {
            write_file(
                &p.join("memory.max"),
                &if m <= 0 { "max".into() } else { m.to_string() },
            )?;
        }
        // v2 counts swap alone: memory.swap.max = (memory + swap) - memory.
        let swap = match (r.memory, r.memory_swap) {
            (_, Some(s)) if s <= 0 => Some("max".to_string()),
            (Some(m), Some(s)) if m > 0 => Some((s - m).max(0).to_string()),
            (Some(m), None) if m > 0 => Some(m.to_string()),
            _ => None,
        };
        if let Some(s) = swap {
            if p.join("memory.swap.max").exists() {
                write_file(&p.join("memory.swap.max"), &s)?;
            }
        }
        if let Some(n) = r.nano_cpus {
            let period: i64 = 100_000;
            let v = if n <= 0 {
                format!("max {period}")
            } else {
                format!("{} {period}", n * period / 1_000_000_000)
            };
            write_file(&p.join("cpu.max"), &v)?;
        }
        if let Some(s) = r.cpu_shares {
            write_file(&p.join("cpu.weight"), &shares_to_weight(s).to_string())?;
        }
        if let Some(c) = &r.cpuset_cpus {
            write_file(&p.join("cpuset.cpus"), c)?;
        }
        if let Some(n) = r.pids_limit {
            write_file(
                &p.join("pids.max"),
                &if n <= 0 { "max".into() } else { n.to_string() },
            )?;
        }
        if let Some(w) = r.blkio_weight {
            let f = p.join("io.weight");
            if f.exists() {
                write_file(&f, &format!("default {}", blkio_to_io_weight(w)))?;
            } else if p.join("io.bfq.weight").exists() {
                write_file(&p.join("io.bfq.weight"), &w.to_string())?;
            }
        }
        Ok(())
    }

    /// Docker's device list as an eBPF program on the cgroup (nothing when privileged:
    /// without a program every device is allowed).
    pub(super) fn restrict_devices(&self, privileged: bool) -> Result<()> {
        if privileged {
            return Ok(());
        }
        super::devices::attach_default(&self.path())
    }

    pub(super) fn add_proc(&self, pid: i32) -> Result<()> {
        write_file(&self.path().join("cgroup.procs"), &pid.to_string())
    }

    pub(super) fn freeze(&self, frozen: bool) -> Result<()> {
        let p = self.path();
        write_file(&p.join("cgroup.freeze"), if frozen { "1" } else { "0" })?;
        let want = if frozen { 1 } else { 0 };
        poll_until("freezing the container", || {
            keyed_value(&p.join("cgroup.events"), "frozen") == Some(want) || !p.exists()
        })
    }

    pub(super) fn is_frozen(&self) -> bool {
        keyed_value(&self.path().join("cgroup.events"), "frozen") == Some(1)
    }

    pub(super) fn oom_kills(&self) -> u64 {
        keyed_value(&self.path().join("memory.events"), "oom_kill").unwrap_or(0)
    }

    pub(super) fn pids(&self) -> Vec<i32> {
        read_pids(&self.path().join("cgroup.procs"))
    }

    pub(super) fn remove_dirs(&self) -> Result<()> {
        remove_dir(&self.path())
    }
}

/// `--cpu-shares` (2..262144) to `cpu.weight` (1..10000), as runc converts it.
pub fn shares_to_weight(shares: u64) -> u64 {
    let s = shares.clamp(2, 262_144);
    1 + ((s - 2) * 9999) / 262_142
}

/// `--blkio-weight` (10..1000) to `io.weight` (1..10000), as runc converts it.
pub fn blkio_to_io_weight(w: u16) -> u64 {
    let w = u64::from(w.clamp(10, 1000));
    1 + (w - 10) * 9999 / 990
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    /// Lay out a v2 cgroupfs as the kernel shows it: the root with its controllers, and
    /// (as the kernel would create on mkdir) the control files of the container's cgroup.
    fn fixture(id: &str) -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        fs::write(
            root.join("cgroup.controllers"),
            "cpuset cpu io memory hugetlb pids rdma misc\n",
        )
        .unwrap();
        fs::write(root.join("cgroup.subtree_control"), "").unwrap();
        let parent = root.join(PARENT);
        fs::create_dir_all(parent.join(id)).unwrap();
        fs::write(
            parent.join("cgroup.controllers"),
            "cpuset cpu io memory pids\n",
        )
        .unwrap();
        fs::write(parent.join("cgroup.subtree_control"), "").unwrap();
        for f in [
            "memory.max",
            "memory.swap.max",
            "cpu.max",
            "cpu.weight",
            "cpuset.cpus",
            "pids.max",
            "io.weight",
            "cgroup.procs",
            "cgroup.freeze",
        ] {
            fs::write(parent.join(id).join(f), "").unwrap();
        }
        fs::write(
            parent.join(id).join("cgroup.events"),
            "populated 1\nfrozen 1\n",
        )
        .unwrap();
        fs::write(
            parent.join(id).join("memory.events"),
            "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n",
        )
        .unwrap();
        t
    }

    #[test]
    fn v2_limits_land_in_the_right_files() {
        let t = fixture("c1");
        let cg = V2::new(t.path(), "c1");
        cg.create().unwrap();
        assert_eq!(
            fs::read_to_string(t.path().join("cgroup.subtree_control")).unwrap(),
            "+cpuset +cpu +io +memory +pids"
        );
        let r = Resources {
            memory: Some(64 << 20),
            memory_swap: Some(96 << 20),
            nano_cpus: Some(1_500_000_000),
            cpu_shares: Some(512),
            cpuset_cpus: Some("0".into()),
            pids_limit: Some(20),
            blkio_weight: Some(500),
        };
        cg.apply(&r).unwrap();
        let read = |f: &str| fs::read_to_string(cg.path().join(f)).unwrap();
        assert_eq!(read("memory.max"), (64u64 << 20).to_string());
        assert_eq!(read("memory.swap.max"), (32u64 << 20).to_string());
        assert_eq!(read("cpu.max"), "150000 100000");
        assert_eq!(read("cpu.weight"), "20");
        assert_eq!(read("cpuset.cpus"), "0");
        assert_eq!(read("pids.max"), "20");
        assert_eq!(
            read("io.weight"),
            format!("default {}", blkio_to_io_weight(500))
        );
        cg.add_proc(4242).unwrap();
        assert_eq!(read("cgroup.procs"), "4242");
        assert_eq!(cg.oom_kills(), 1);
        cg.freeze(true).unwrap();
        assert_eq!(read("cgroup.freeze"), "1");
        assert!(cg.is_frozen());
    }

    #[test]
    fn v2_unlimited_values() {
        let t = fixture("c2");
        let cg = V2::new(t.path(), "c2");
        cg.create().unwrap();
        cg.apply(&Resources {
            memory: Some(0),
            memory_swap: Some(-1),
            nano_cpus: Some(0),
            pids_limit: Some(0),
            ..Default::default()
        })
        .unwrap();
        let read = |f: &str| fs::read_to_string(cg.path().join(f)).unwrap();
        assert_eq!(read("memory.max"), "max");
        assert_eq!(read("memory.swap.max"), "max");
        assert_eq!(read("cpu.max"), "max 100000");
        assert_eq!(read("pids.max"), "max");
        assert_eq!(shares_to_weight(1024), 39);
    }
}
