//! cgroups for containers, v1 and v2, under a wharf-owned parent (`wharf/<id>` in each
//! hierarchy). The mode is detected at run time; on a hybrid host (controllers on v1,
//! an empty v2 hierarchy) the v1 driver is used.
//!
//! Both drivers take the cgroupfs root as a parameter so tests can point them at a
//! recorded layout in a temporary directory.

pub mod devices;
pub mod v1;
pub mod v2;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::api::{CgroupMode, Resources};
use crate::error::{EngineError, IoContext, Result};

/// The parent cgroup every container goes under.
pub const PARENT: &str = "wharf";

/// One container's cgroup(s).
#[derive(Debug, Clone)]
pub enum Cgroup {
    V1(v1::V1),
    V2(v2::V2),
}

impl Cgroup {
    /// The cgroup of container `id` on this host (mode detected now).
    pub fn for_container(id: &str) -> Cgroup {
        let base = Path::new("/sys/fs/cgroup");
        match CgroupMode::detect() {
            CgroupMode::V2 => Cgroup::V2(v2::V2::new(base, id)),
            CgroupMode::V1 | CgroupMode::Hybrid => Cgroup::V1(v1::V1::new(base, id)),
        }
    }

    /// Create the cgroup directories (parents included).
    pub fn create(&self) -> Result<()> {
        quietly(|| match self {
            Cgroup::V1(c) => c.create(),
            Cgroup::V2(c) => c.create(),
        })?;
        crate::trace_step!("created cgroup {}", self.describe());
        Ok(())
    }

    /// Where the cgroup is, for the trace: `wharf/3f2a1b2c3d4e (v1: cpu, memory, ...)`.
    fn describe(&self) -> String {
        match self {
            Cgroup::V1(c) => {
                let ctrls: Vec<&str> = [
                    "cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids",
                ]
                .into_iter()
                .filter(|k| c.path(k).is_some())
                .collect();
                let at = ctrls
                    .first()
                    .and_then(|k| c.path(k))
                    .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                    .unwrap_or_default();
                format!(
                    "{PARENT}/{} in the v1 hierarchies {}",
                    crate::ids::short(&at),
                    ctrls.join(", ")
                )
            }
            Cgroup::V2(c) => format!("{} (v2)", shorten(&c.path())),
        }
    }

    /// Write the limits that are set in `r` (unset ones are left alone).
    pub fn apply(&self, r: &Resources) -> Result<()> {
        match self {
            Cgroup::V1(c) => c.apply(r),
            Cgroup::V2(c) => c.apply(r),
        }
    }

    /// Keep the container to Docker's default devices (all of them when `privileged`):
    /// the devices controller on v1, an eBPF device program on v2. Once, at creation.
    pub fn restrict_devices(&self, privileged: bool) -> Result<()> {
        quietly(|| match self {
            Cgroup::V1(c) => c.restrict_devices(privileged),
            Cgroup::V2(c) => c.restrict_devices(privileged),
        })?;
        crate::trace_step!(
            "{} (devices {})",
            if privileged {
                "allowed every device (privileged)"
            } else {
                "allowed Docker's default devices only"
            },
            match self {
                Cgroup::V1(_) => "controller",
                Cgroup::V2(_) => "eBPF program",
            }
        );
        Ok(())
    }

    /// Move `pid` into the cgroup.
    pub fn add_proc(&self, pid: i32) -> Result<()> {
        quietly(|| match self {
            Cgroup::V1(c) => c.add_proc(pid),
            Cgroup::V2(c) => c.add_proc(pid),
        })?;
        crate::trace_step!("moved pid {pid} into its cgroup (cgroup.procs)");
        Ok(())
    }

    /// The files a process writes `0` into to join this cgroup itself, where that is
    /// cheaper than being moved by pid: on v1, a single thread that moves itself
    /// through `tasks` skips the kernel's global threadgroup lock, whose write side
    /// waits for an RCU grace period (8–15 ms for the 8 hierarchies on these machines,
    /// against 0.5 ms). `None` on v2, where `cgroup.procs` always takes that lock and
    /// the monitor moves the process ([`Cgroup::add_proc`]).
    pub fn self_join_files(&self) -> Option<Vec<PathBuf>> {
        match self {
            Cgroup::V1(c) => Some(c.tasks_files()),
            Cgroup::V2(_) => None,
        }
    }

    /// The cgroup's directory, open, for a clone straight into it (`clone3` with
    /// `CLONE_INTO_CGROUP`): on v2, where a process cannot move itself cheaply, the
    /// kernel places the child at birth and nobody is moved. `None` on v1 (see
    /// [`Cgroup::self_join_files`]) or when the directory cannot be opened (the monitor
    /// then moves the process by pid).
    pub fn clone_into(&self) -> Option<std::os::fd::OwnedFd> {
        match self {
            Cgroup::V1(_) => None,
            Cgroup::V2(c) => nix::fcntl::open(
                &c.path(),
                nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )
            .ok(),
        }
    }

    /// Freeze (pause) or thaw, waiting until the kernel says it is done.
    pub fn freeze(&self, frozen: bool) -> Result<()> {
        match self {
            Cgroup::V1(c) => c.freeze(frozen),
            Cgroup::V2(c) => c.freeze(frozen),
        }
    }

    /// Is the cgroup frozen?
    pub fn is_frozen(&self) -> bool {
        match self {
            Cgroup::V1(c) => c.is_frozen(),
            Cgroup::V2(c) => c.is_frozen(),
        }
    }

    /// How many times the OOM killer killed in this cgroup.
    pub fn oom_kills(&self) -> u64 {
        match self {
            Cgroup::V1(c) => c.oom_kills(),
            Cgroup::V2(c) => c.oom_kills(),
        }
    }

    /// Pids in the cgroup.
    pub fn pids(&self) -> Vec<i32> {
        match self {
            Cgroup::V1(c) => c.pids(),
            Cgroup::V2(c) => c.pids(),
        }
    }

    /// Kill what is left, thaw, and remove the directories. Missing ones are fine.
    pub fn remove(&self) -> Result<()> {
        quietly(|| self.remove_quietly())
    }

    fn remove_quietly(&self) -> Result<()> {
        let _ = self.freeze(false);
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            for pid in self.pids() {
                // SAFETY: kill(2) takes no memory; the pid was read from this cgroup.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            let res = match self {
                Cgroup::V1(c) => c.remove_dirs(),
                Cgroup::V2(c) => c.remove_dirs(),
            };
            match res {
                Ok(()) => return Ok(()),
                Err(e) if Instant::now() > deadline => return Err(e),
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    }
}

thread_local! {
    /// Writes not to report one by one (creating, device rules: summarised instead).
    static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn quietly<R>(f: impl FnOnce() -> R) -> R {
    let before = QUIET.with(|q| q.replace(true));
    let r = f();
    QUIET.with(|q| q.set(before));
    r
}

/// A cgroup path as the trace shows it: under the cgroupfs, the container's id short.
fn shorten(path: &Path) -> String {
    let p = path
        .strip_prefix("/sys/fs/cgroup")
        .unwrap_or(path)
        .display()
        .to_string();
    p.split('/')
        .map(|c| {
            if c.len() == 64 && c.chars().all(|x| x.is_ascii_hexdigit()) {
                &c[..12]
            } else {
                c
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Write `value` to an existing cgroup file.
pub(crate) fn write_file(path: &Path, value: &str) -> Result<()> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .open(path)
        .ctx(|| format!("opening cgroup file {}", path.display()))?;
    f.write_all(value.as_bytes())
        .ctx(|| format!("writing {value:?} to cgroup file {}", path.display()))?;
    if !QUIET.with(|q| q.get()) {
        crate::trace_step!("wrote {value} to cgroup file {}", shorten(path));
    }
    Ok(())
}

/// Read a cgroup file, trimmed; empty when unreadable.
pub(crate) fn read_file(path: &Path) -> String {
    fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// `key value` lines (memory.events, memory.oom_control): the value of `key`.
pub(crate) fn keyed_value(path: &Path, key: &str) -> Option<u64> {
    let s = fs::read_to_string(path).ok()?;
    s.lines().find_map(|l| {
        let mut it = l.split_whitespace();
        (it.next()? == key)
            .then(|| it.next()?.parse().ok())
            .flatten()
    })
}

/// Join the cgroup whose [`Cgroup::self_join_files`] are `files`: this thread moves
/// itself. The caller must be single-threaded (a freshly cloned init or exec process),
/// so the thread is the whole process.
pub fn join_self(files: &[PathBuf]) -> Result<()> {
    for f in files {
        fs::write(f, b"0").map_err(|e| {
            EngineError::io(
                format!("joining the container's cgroup ({})", f.display()),
                e,
            )
        })?;
    }
    Ok(())
}

/// Pids listed in a `cgroup.procs` file.
pub(crate) fn read_pids(path: &Path) -> Vec<i32> {
    fs::read_to_string(path)
        .map(|s| s.lines().filter_map(|l| l.trim().parse().ok()).collect())
        .unwrap_or_default()
}

/// Remove a cgroup directory (rmdir; cgroupfs directories only hold control files).
pub(crate) fn remove_dir(path: &Path) -> Result<()> {
    match fs::remove_dir(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(EngineError::io(
            format!("removing cgroup {}", path.display()),
            e,
        )),
    }
}

/// `mkdir -p` for cgroup directories.
pub(crate) fn make_dir(path: &PathBuf) -> Result<()> {
    fs::create_dir_all(path).ctx(|| format!("creating cgroup {}", path.display()))
}

/// Wait until `done` holds or two seconds pass.
pub(crate) fn poll_until(what: &str, mut done: impl FnMut() -> bool) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(2);
    while !done() {
        if Instant::now() > deadline {
            return Err(EngineError::unavailable(format!(
                "{what} did not finish within 2s; try again"
            )));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok(())
}
