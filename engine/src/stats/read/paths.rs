//! Where a container's cgroup files are (v1: one directory per controller; v2: one).

use std::path::{Path, PathBuf};

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
