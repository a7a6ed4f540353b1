//! The container's file system: overlay on the image layers, /proc, /dev (Docker's
//! device list), /dev/pts, /dev/shm, /dev/mqueue, read-only /sys with the cgroup
//! hierarchies, the /etc/hostname, /etc/hosts and /etc/resolv.conf bind mounts, user
//! mounts, masked and read-only paths, then pivot_root.
//!
//! Runs in the container's init process, inside its new mount namespace, before the
//! user command: nothing mounted here is visible on the host, and all of it goes away
//! with the namespace, so there is nothing to unmount on the host after a crash.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::{symlink, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::{makedev, mknod, Mode, SFlag};

use crate::api::MountSpec;
use crate::error::{EngineError, IoContext, Result};

/// Paths hidden from the container (Docker's list): files get /dev/null, directories
/// an empty read-only tmpfs.
pub const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Paths the container sees read-only (Docker's list).
pub const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// Device nodes in /dev: name, major, minor.
const DEVICES: &[(&str, u64, u64)] = &[
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

/// Everything the rootfs step needs.
#[derive(Debug, Clone)]
pub struct RootfsPlan {
    /// Image layers, bottom first.
    pub layers: Vec<PathBuf>,
    pub upper: PathBuf,
    pub work: PathBuf,
    pub merged: PathBuf,
    pub read_only: bool,
    pub privileged: bool,
    /// /dev/shm size in bytes.
    pub shm_size: u64,
    /// Host files bind-mounted over container paths (`/etc/hosts`, ...).
    pub etc_files: Vec<(PathBuf, &'static str)>,
    /// With `-t`: create /dev/console for the pty the init process opens later.
    pub console: bool,
    pub mounts: Vec<MountSpec>,
}

fn m(
    what: &str,
    source: Option<&str>,
    target: &Path,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> Result<()> {
    mount(source, target, fstype, flags, data)
        .ctx(|| format!("mounting {what} on {}", target.display()))
}

/// Resolve `path` (absolute, as the container sees it) inside `root` without ever
/// leaving it: symlinks are followed as if `root` were `/`, `..` stops at the root.
pub fn secure_join(root: &Path, path: &str) -> Result<PathBuf> {
    let mut out = PathBuf::new();
    let mut todo: Vec<PathBuf> = vec![PathBuf::from(path)];
    let mut links = 0;
    // A stack of pending paths: a symlink's target is pushed and walked first.
    let mut pending: Vec<std::ffi::OsString> = Vec::new();
    for c in todo
        .pop()
        .into_iter()
        .flat_map(|p| {
            p.components()
                .map(|c| c.as_os_str().to_os_string())
                .collect::<Vec<_>>()
        })
        .rev()
    {
        pending.push(c);
    }
    while let Some(c) = pending.pop() {
        let cp = Path::new(&c);
        match cp.components().next() {
            Some(Component::RootDir) | Some(Component::CurDir) | None => continue,
            Some(Component::ParentDir) => {
                out.pop();
                continue;
            }
            _ => {}
        }
        let candidate = out.join(&c);
        let full = root.join(&candidate);
        match fs::symlink_metadata(&full) {
            Ok(md) if md.file_type().is_symlink() => {
                links += 1;
                if links > 255 {
                    return Err(EngineError::invalid(format!(
                        "too many symbolic links resolving {path} in the container"
                    )));
                }
                let target =
                    fs::read_link(&full).ctx(|| format!("reading link {}", full.display()))?;
                if target.is_absolute() {
                    out = PathBuf::new();
                }
                for t in target.components().rev() {
                    pending.push(t.as_os_str().to_os_string());
                }
            }
            _ => out = candidate,
        }
    }
    Ok(root.join(out))
}

fn mkdir_in(root: &Path, path: &str) -> Result<PathBuf> {
    let p = secure_join(root, path)?;
    fs::create_dir_all(&p).ctx(|| format!("creating {path} in the container"))?;
    Ok(p)
}

fn touch_in(root: &Path, path: &str) -> Result<PathBuf> {
    let p = secure_join(root, path)?;
    if let Some(d) = p.parent() {
        fs::create_dir_all(d)
            .ctx(|| format!("creating the directory of {path} in the container"))?;
    }
    if !p.exists() {
        fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o644)
            .open(&p)
            .ctx(|| format!("creating {path} in the container"))?;
    }
    Ok(p)
}

/// Mount the overlay root file system on `merged` (in the current mount namespace).
pub fn mount_overlay(plan: &RootfsPlan) -> Result<()> {
    if plan.layers.is_empty() {
        return Err(EngineError::invalid(
            "the image has no layers: rebuild or re-pull it",
        ));
    }
    let lower: Vec<String> = plan
        .layers
        .iter()
        .rev()
        .map(|p| p.display().to_string())
        .collect();
    let data = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.join(":"),
        plan.upper.display(),
        plan.work.display()
    );
    m(
        "the overlay root file system",
        Some("overlay"),
        &plan.merged,
        Some("overlay"),
        MsFlags::empty(),
        Some(&data),
    )
}

/// Build the whole file system tree on `plan.merged` and pivot into it.
pub fn setup(plan: &RootfsPlan) -> Result<()> {
    // Nothing mounted here may propagate back to the host.
    m(
        "private propagation",
        None,
        Path::new("/"),
        None,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None,
    )?;
    mount_overlay(plan)?;
    let r = plan.merged.as_path();
    let nsd = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;

    m(
        "proc",
        Some("proc"),
        &mkdir_in(r, "/proc")?,
        Some("proc"),
        nsd,
        None,
    )?;

    let dev = mkdir_in(r, "/dev")?;
    if plan.privileged {
        m(
            "the host's /dev",
            Some("/dev"),
            &dev,
            None,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None,
        )?;
    } else {
        m(
            "/dev",
            Some("tmpfs"),
            &dev,
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME,
            Some("mode=755,size=65536k"),
        )?;
        let old = nix::sys::stat::umask(Mode::empty());
        for (name, major, minor) in DEVICES {
            let p = dev.join(name);
            mknod(
                &p,
                SFlag::S_IFCHR,
                Mode::from_bits_truncate(0o666),
                makedev(*major, *minor),
            )
            .ctx(|| format!("creating /dev/{name}"))?;
        }
        nix::sys::stat::umask(old);
        for (link, target) in [
            ("fd", "/proc/self/fd"),
            ("stdin", "/proc/self/fd/0"),
            ("stdout", "/proc/self/fd/1"),
            ("stderr", "/proc/self/fd/2"),
            ("ptmx", "pts/ptmx"),
        ] {
            symlink(target, dev.join(link)).ctx(|| format!("creating /dev/{link}"))?;
        }
        let pts = dev.join("pts");
        fs::create_dir(&pts).ctx(|| "creating /dev/pts".to_string())?;
        m(
            "devpts",
            Some("devpts"),
            &pts,
            Some("devpts"),
            MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
            Some("newinstance,ptmxmode=0666,mode=0620,gid=5"),
        )?;
    }
    let shm = dev.join("shm");
    fs::create_dir_all(&shm).ctx(|| "creating /dev/shm".to_string())?;
    m(
        "/dev/shm",
        Some("shm"),
        &shm,
        Some("tmpfs"),
        nsd,
        Some(&format!("mode=1777,size={}k", plan.shm_size / 1024)),
    )?;
    let mq = dev.join("mqueue");
    fs::create_dir_all(&mq).ctx(|| "creating /dev/mqueue".to_string())?;
    m(
        "/dev/mqueue",
        Some("mqueue"),
        &mq,
        Some("mqueue"),
        nsd,
        None,
    )?;
    if plan.console {
        fs::File::create(dev.join("console")).ctx(|| "creating /dev/console".to_string())?;
    }

    let sys = mkdir_in(r, "/sys")?;
    let ro = if plan.privileged {
        MsFlags::empty()
    } else {
        MsFlags::MS_RDONLY
    };
    m("sysfs", Some("sysfs"), &sys, Some("sysfs"), nsd | ro, None)?;
    mount_cgroups(&sys.join("fs/cgroup"), plan.privileged)?;

    for (host, target) in &plan.etc_files {
        let t = touch_in(r, target)?;
        m(
            target,
            Some(&host.display().to_string()),
            &t,
            None,
            MsFlags::MS_BIND,
            None,
        )?;
    }
    for spec in &plan.mounts {
        if spec.kind == "volume" {
            // A volume's first mount over image content gets that content copied in.
            let inside = r.join(spec.target.trim_start_matches('/'));
            crate::volume::copy_up_at_first_mount(Path::new(&spec.source), &inside)?;
        }
        user_mount(r, spec)?;
    }
    if !plan.privileged {
        for p in MASKED_PATHS {
            mask(r, p)?;
        }
        for p in READONLY_PATHS {
            readonly(&r.join(&p[1..]))?;
        }
    }
    pivot(r)?;
    if plan.read_only {
        m(
            "the root file system read-only",
            None,
            Path::new("/"),
            None,
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
            None,
        )?;
    }
    Ok(())
}

/// /sys/fs/cgroup: a tmpfs with each hierarchy this process sees, read-only (v1), or
/// the unified hierarchy read-only (v2). Paths are the container's cgroup namespace.
fn mount_cgroups(target: &Path, privileged: bool) -> Result<()> {
    let nsd = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    let ro_remount = |p: &Path| {
        if privileged {
            return Ok(());
        }
        m(
            "a cgroup hierarchy read-only",
            None,
            p,
            None,
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | nsd,
            None,
        )
    };
    if crate::api::CgroupMode::detect() == crate::api::CgroupMode::V2 {
        return m(
            "cgroup2",
            Some("cgroup2"),
            target,
            Some("cgroup2"),
            nsd | if privileged {
                MsFlags::empty()
            } else {
                MsFlags::MS_RDONLY
            },
            None,
        );
    }
    m(
        "/sys/fs/cgroup",
        Some("tmpfs"),
        target,
        Some("tmpfs"),
        nsd,
        Some("mode=755"),
    )?;
    let own =
        fs::read_to_string("/proc/self/cgroup").ctx(|| "reading /proc/self/cgroup".to_string())?;
    for line in own.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, ctrls) = (parts.next(), parts.next().unwrap_or(""));
        if ctrls.is_empty() {
            continue; // the v2 line of a hybrid host: Docker does not mount it either
        }
        let dir = ctrls.strip_prefix("name=").unwrap_or(ctrls);
        let p = target.join(dir);
        fs::create_dir_all(&p).ctx(|| format!("creating /sys/fs/cgroup/{dir}"))?;
        let opts = if ctrls.starts_with("name=") {
            format!("none,{ctrls}")
        } else {
            ctrls.to_string()
        };
        m(
            "a cgroup hierarchy",
            Some("cgroup"),
            &p,
            Some("cgroup"),
            nsd,
            Some(&opts),
        )?;
        ro_remount(&p)?;
        // `cpu,cpuacct` is also reachable as `cpu` and `cpuacct`.
        if ctrls.contains(',') && !ctrls.starts_with("name=") {
            for c in ctrls.split(',') {
                let _ = symlink(dir, target.join(c));
            }
        }
    }
    Ok(())
}

fn user_mount(root: &Path, spec: &MountSpec) -> Result<()> {
    match spec.kind.as_str() {
        "bind" | "volume" => {
            let src = Path::new(&spec.source);
            let md = fs::metadata(src).map_err(|e| {
                EngineError::io(
                    format!(
                        "bind mount source {} (create it first, or fix the -v path)",
                        spec.source
                    ),
                    e,
                )
            })?;
            let target = if md.is_dir() {
                mkdir_in(root, &spec.target)?
            } else {
                touch_in(root, &spec.target)?
            };
            m(
                &spec.target,
                Some(&spec.source),
                &target,
                None,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None,
            )?;
            if spec.read_only {
                m(
                    &spec.target,
                    None,
                    &target,
                    None,
                    MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
                    None,
                )?;
            }
            Ok(())
        }
        "tmpfs" => {
            let target = mkdir_in(root, &spec.target)?;
            let mut flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
            if spec.read_only {
                flags |= MsFlags::MS_RDONLY;
            }
            let opts = spec.options.join(",");
            m(
                &spec.target,
                Some("tmpfs"),
                &target,
                Some("tmpfs"),
                flags,
                (!opts.is_empty()).then_some(opts.as_str()),
            )
        }
        other => Err(EngineError::invalid(format!(
            "mount type {other:?} is not supported: use bind, volume or tmpfs"
        ))),
    }
}

fn mask(root: &Path, path: &str) -> Result<()> {
    let p = root.join(&path[1..]);
    match fs::symlink_metadata(&p) {
        Ok(md) if md.is_dir() => m(
            path,
            Some("tmpfs"),
            &p,
            Some("tmpfs"),
            MsFlags::MS_RDONLY,
            None,
        ),
        Ok(_) => m(
            path,
            Some(&root.join("dev/null").display().to_string()),
            &p,
            None,
            MsFlags::MS_BIND,
            None,
        ),
        Err(_) => Ok(()),
    }
}

fn readonly(p: &Path) -> Result<()> {
    if fs::symlink_metadata(p).is_err() {
        return Ok(());
    }
    let s = p.display().to_string();
    m(
        &s,
        Some(&s),
        p,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )?;
    m(
        &s,
        None,
        p,
        None,
        MsFlags::MS_BIND
            | MsFlags::MS_REMOUNT
            | MsFlags::MS_RDONLY
            | MsFlags::MS_NOSUID
            | MsFlags::MS_NODEV
            | MsFlags::MS_NOEXEC,
        None,
    )
}

/// pivot_root into `root` and detach the old root (pivot_root(".", ".") as runc does).
fn pivot(root: &Path) -> Result<()> {
    nix::unistd::chdir(root).ctx(|| format!("entering {}", root.display()))?;
    nix::unistd::pivot_root(".", ".").ctx(|| "pivot_root into the container's root".to_string())?;
    // The old root is now stacked on top: make it private and detach it.
    m(
        "the old root",
        None,
        Path::new("."),
        None,
        MsFlags::MS_REC | MsFlags::MS_SLAVE,
        None,
    )?;
    umount2(".", MntFlags::MNT_DETACH).ctx(|| "detaching the host's root".to_string())?;
    nix::unistd::chdir("/").ctx(|| "entering /".to_string())
}

/// Does `name` look like a path component we can create (used for workdirs)?
pub fn is_plain(name: &OsStr) -> bool {
    !name.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secure_join_stays_inside() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        fs::create_dir_all(r.join("a/b")).unwrap();
        symlink("/etc/../../../outside", r.join("a/esc")).unwrap();
        symlink("../b", r.join("a/rel")).unwrap();
        assert_eq!(secure_join(r, "/a/b/c").unwrap(), r.join("a/b/c"));
        assert_eq!(secure_join(r, "/../../x").unwrap(), r.join("x"));
        assert_eq!(secure_join(r, "/a/esc").unwrap(), r.join("outside"));
        assert_eq!(secure_join(r, "/a/rel/f").unwrap(), r.join("b/f"));
    }
}
