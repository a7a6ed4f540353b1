//! The container's file system: overlay on the image layers, /proc, /dev (Docker's
//! device list), /dev/pts, /dev/shm, /dev/mqueue, read-only /sys with the cgroup
//! hierarchies, the /etc/hostname, /etc/hosts and /etc/resolv.conf bind mounts, user
//! mounts, masked and read-only paths, then pivot_root.
//!
//! Runs in the container's init process, inside its new mount namespace, before the
//! user command: nothing mounted here is visible on the host, and all of it goes away
//! with the namespace, so there is nothing to unmount on the host after a crash.

use std::ffi::{CString, OsStr};
use std::fs;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{symlink, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::{makedev, mknod, Mode, SFlag};
use rustix::fs::{OFlags, ResolveFlags, CWD};
use rustix::mount::{
    fsconfig_create, fsconfig_set_flag, fsconfig_set_string, fsmount, fsopen, move_mount,
    open_tree, FsMountFlags, FsOpenFlags, MountAttrFlags, MoveMountFlags, OpenTreeFlags,
};

use super::binds::{self, CheckedBind, SourceKind};
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
    pub mounts: Vec<PlannedMount>,
}

/// One `-v`, `--mount` or `--tmpfs` mount as the init performs it.
#[derive(Debug, Clone)]
pub struct PlannedMount {
    /// The mount; its source is a host path (a volume's data directory, or a bind
    /// source's real path).
    pub spec: MountSpec,
    /// For a bind mount: the object its source must still be (checked at create).
    pub expect: Option<CheckedBind>,
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
    // Nothing mounted here may propagate back to the host: slave mounts receive from
    // the host and never send. (Receiving is what a bind mount's `slave` or `shared`
    // propagation asks for; every bind mount is made `rprivate` unless it asks.)
    m(
        "slave propagation",
        None,
        Path::new("/"),
        None,
        MsFlags::MS_REC | MsFlags::MS_SLAVE,
        None,
    )?;
    mount_overlay(plan)?;
    let r = plan.merged.as_path();
    // The container's root as a descriptor: user mount targets are resolved in it
    // (RESOLVE_IN_ROOT), so no symlink in the image or a shared volume leads a mount
    // outside the container's tree.
    let root_fd = open_path(
        CWD,
        &r.display().to_string(),
        OFlags::DIRECTORY,
        ResolveFlags::empty(),
    )
    .map_err(|e| EngineError::io(format!("opening {}", r.display()), e.into()))?;
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
    for pm in &plan.mounts {
        user_mount(r, root_fd.as_fd(), pm)?;
    }
    drop(root_fd);
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

/// `openat2(dir, path, O_PATH | flags, resolve)` with `RESOLVE_NO_MAGICLINKS` always.
fn open_path(
    dir: BorrowedFd<'_>,
    path: &str,
    flags: OFlags,
    resolve: ResolveFlags,
) -> std::result::Result<OwnedFd, rustix::io::Errno> {
    let c = CString::new(path).map_err(|_| rustix::io::Errno::INVAL)?;
    binds::openat2(
        dir,
        &c,
        OFlags::PATH | flags,
        resolve | ResolveFlags::NO_MAGICLINKS,
    )
}

/// The mount target `target` (absolute, as the container sees it), created as a
/// directory or a file like the source, opened inside the container's root.
fn open_target(root: &Path, root_fd: BorrowedFd<'_>, target: &str, dir: bool) -> Result<OwnedFd> {
    if dir {
        mkdir_in(root, target)?;
    } else {
        touch_in(root, target)?;
    }
    let rel = match target.trim_start_matches('/') {
        "" => ".",
        r => r,
    };
    let fd = open_path(root_fd, rel, OFlags::empty(), ResolveFlags::IN_ROOT).map_err(|e| {
        EngineError::io(
            format!("opening mount target {target} in the container"),
            e.into(),
        )
    })?;
    let st = rustix::fs::fstat(&fd)
        .map_err(|e| EngineError::io(format!("reading mount target {target}"), e.into()))?;
    let is_dir = SourceKind::of_mode(st.st_mode) == SourceKind::Directory;
    if is_dir != dir {
        return Err(EngineError::invalid(format!(
            "cannot mount a {} on {target}: it is a {} in the image; choose another target",
            if dir { "directory" } else { "file" },
            if is_dir { "directory" } else { "file" },
        )));
    }
    Ok(fd)
}

/// `struct mount_attr` of mount_setattr(2).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

const MOUNT_ATTR_RDONLY: u64 = 0x1;
const AT_RECURSIVE: libc::c_uint = 0x8000;

/// mount_setattr(2) on the mount (tree) `fd` is the root of.
fn set_mount_attr(
    fd: BorrowedFd<'_>,
    recursive: bool,
    set: u64,
    propagation: u64,
) -> std::io::Result<()> {
    let attr = MountAttr {
        attr_set: set,
        attr_clr: 0,
        propagation,
        userns_fd: 0,
    };
    let flags = libc::AT_EMPTY_PATH as libc::c_uint | if recursive { AT_RECURSIVE } else { 0 };
    use std::os::fd::AsRawFd;
    // SAFETY: mount_setattr(2) with a valid descriptor, an empty NUL-terminated path and
    // a pointer to a live `struct mount_attr` of the size passed; nothing is written.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            flags,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// A bind mount's propagation option as (kernel propagation flag, recursive).
/// `rprivate` by default (Docker's).
#[allow(clippy::unnecessary_cast)] // MS_* are c_ulong: u32 on 32-bit targets
fn propagation(options: &[String]) -> (u64, bool) {
    let word = options
        .iter()
        .find(|o| binds::PROPAGATIONS.contains(&o.as_str()))
        .map(String::as_str)
        .unwrap_or("rprivate");
    let flag = match word.trim_start_matches('r') {
        "shared" => libc::MS_SHARED,
        "slave" => libc::MS_SLAVE,
        _ => libc::MS_PRIVATE,
    };
    (flag as u64, word.starts_with('r'))
}

/// Mount the object `src` (an `O_PATH` descriptor opened in this mount namespace) on
/// `target`: a detached copy of it (open_tree), attached by descriptor (move_mount),
/// then read-only and propagation set on that mount (mount_setattr). No path is
/// resolved again on the way, so what was opened is what is mounted.
fn bind_fd(
    root: &Path,
    root_fd: BorrowedFd<'_>,
    spec: &MountSpec,
    src: &OwnedFd,
    recursive: bool,
) -> Result<()> {
    let what = |doing: &str| {
        format!(
            "{doing} {} on {} in the container",
            spec.source, spec.target
        )
    };
    let st = rustix::fs::fstat(src).map_err(|e| EngineError::io(what("reading"), e.into()))?;
    let dir = SourceKind::of_mode(st.st_mode) == SourceKind::Directory;
    let target = open_target(root, root_fd, &spec.target, dir)?;
    let mut flags = OpenTreeFlags::OPEN_TREE_CLONE
        | OpenTreeFlags::OPEN_TREE_CLOEXEC
        | OpenTreeFlags::AT_EMPTY_PATH;
    if recursive {
        flags |= OpenTreeFlags::AT_RECURSIVE;
    }
    let tree = open_tree(src, "", flags)
        .map_err(|e| EngineError::io(what("copying the mount of"), e.into()))?;
    move_mount(
        &tree,
        "",
        &target,
        "",
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH | MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH,
    )
    .map_err(|e| EngineError::io(what("mounting"), e.into()))?;
    // A volume is private, as a bind mount is by default.
    let (prop, prop_rec) = propagation(if spec.kind == "bind" {
        &spec.options
    } else {
        &[]
    });
    set_mount_attr(tree.as_fd(), prop_rec, 0, prop)
        .map_err(|e| EngineError::io(what("setting the propagation of"), e))?;
    if spec.read_only {
        // Recursively read-only: submounts too (Docker's `ro` on kernels >= 5.12).
        set_mount_attr(tree.as_fd(), true, MOUNT_ATTR_RDONLY, 0)
            .map_err(|e| EngineError::io(what("making read-only"), e))?;
    }
    Ok(())
}

/// Split tmpfs options into mount flags (`exec|noexec|suid|nosuid|dev|nodev|ro|rw`)
/// and the file system's own options (`size=64m`, `mode=1777`, ...), which go to the
/// kernel one by one. The default is `nosuid,nodev,noexec` (Docker's).
fn tmpfs_options(spec: &MountSpec) -> (MountAttrFlags, Vec<String>) {
    let mut flags = MountAttrFlags::MOUNT_ATTR_NOSUID
        | MountAttrFlags::MOUNT_ATTR_NODEV
        | MountAttrFlags::MOUNT_ATTR_NOEXEC;
    if spec.read_only {
        flags |= MountAttrFlags::MOUNT_ATTR_RDONLY;
    }
    let mut data = Vec::new();
    for o in spec
        .options
        .iter()
        .flat_map(|o| o.split(','))
        .filter(|o| !o.is_empty())
    {
        match o {
            "exec" => flags.remove(MountAttrFlags::MOUNT_ATTR_NOEXEC),
            "noexec" => flags.insert(MountAttrFlags::MOUNT_ATTR_NOEXEC),
            "suid" => flags.remove(MountAttrFlags::MOUNT_ATTR_NOSUID),
            "nosuid" => flags.insert(MountAttrFlags::MOUNT_ATTR_NOSUID),
            "dev" => flags.remove(MountAttrFlags::MOUNT_ATTR_NODEV),
            "nodev" => flags.insert(MountAttrFlags::MOUNT_ATTR_NODEV),
            "ro" => flags.insert(MountAttrFlags::MOUNT_ATTR_RDONLY),
            "rw" => flags.remove(MountAttrFlags::MOUNT_ATTR_RDONLY),
            other => data.push(other.to_string()),
        }
    }
    (flags, data)
}

/// A tmpfs on `spec.target`, made with the new mount API (fsopen, fsconfig per
/// option, fsmount) and attached by descriptor.
fn mount_tmpfs(root: &Path, root_fd: BorrowedFd<'_>, spec: &MountSpec) -> Result<()> {
    let what = |doing: &str| format!("{doing} the tmpfs on {}", spec.target);
    let target = open_target(root, root_fd, &spec.target, true)?;
    let (flags, data) = tmpfs_options(spec);
    let fs = fsopen("tmpfs", FsOpenFlags::FSOPEN_CLOEXEC)
        .map_err(|e| EngineError::io(what("creating"), e.into()))?;
    fsconfig_set_string(&fs, "source", "tmpfs")
        .map_err(|e| EngineError::io(what("creating"), e.into()))?;
    for o in &data {
        let r = match o.split_once('=') {
            Some((k, v)) => fsconfig_set_string(&fs, k, v),
            None => fsconfig_set_flag(&fs, o.as_str()),
        };
        r.map_err(|e| {
            EngineError::invalid(format!(
                "tmpfs option {o:?} for {} is not accepted by the kernel ({e}): use size=, mode=, uid=, gid=, nr_inodes= or exec, noexec, suid, nosuid, dev, nodev",
                spec.target
            ))
        })?;
    }
    fsconfig_create(&fs).map_err(|e| EngineError::io(what("creating"), e.into()))?;
    let mnt = fsmount(&fs, FsMountFlags::FSMOUNT_CLOEXEC, flags)
        .map_err(|e| EngineError::io(what("creating"), e.into()))?;
    move_mount(
        &mnt,
        "",
        &target,
        "",
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH | MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH,
    )
    .map_err(|e| EngineError::io(what("mounting"), e.into()))
}

/// One user mount, inside the container's mount namespace, before pivot_root.
fn user_mount(root: &Path, root_fd: BorrowedFd<'_>, pm: &PlannedMount) -> Result<()> {
    let spec = &pm.spec;
    match spec.kind.as_str() {
        "bind" => {
            let Some(expect) = &pm.expect else {
                return Err(EngineError::internal(format!(
                    "bind mount {} has no checked source: recreate the container",
                    spec.target
                )));
            };
            let src = binds::reopen(expect)?;
            bind_fd(root, root_fd, spec, &src, expect.recursive)
        }
        "volume" => {
            // The engine's own directory under the state root (never a user's path).
            let src = open_path(CWD, &spec.source, OFlags::DIRECTORY, ResolveFlags::empty())
                .map_err(|e| {
                    EngineError::io(
                        format!(
                            "opening the volume directory {} for {}",
                            spec.source, spec.target
                        ),
                        e.into(),
                    )
                })?;
            // A volume's first mount over image content gets that content copied in,
            // unless the mount says `nocopy`.
            if !spec.options.iter().any(|o| o == "nocopy") {
                crate::volume::copy_up_at_first_mount(
                    Path::new(&spec.source),
                    root_fd,
                    &spec.target,
                )?;
            }
            bind_fd(root, root_fd, spec, &src, true)
        }
        "tmpfs" => mount_tmpfs(root, root_fd, spec),
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

    /// The mount lines of this thread's mount namespace under `dir`.
    fn mounts_under(dir: &Path) -> Vec<String> {
        fs::read_to_string("/proc/thread-self/mountinfo")
            .unwrap()
            .lines()
            .filter(|l| {
                l.split(' ')
                    .nth(4)
                    .is_some_and(|m| Path::new(m).starts_with(dir))
            })
            .map(str::to_string)
            .collect()
    }

    /// The init's side of a bind mount, in a mount namespace of this test's own thread:
    /// the checked object is mounted (read-only, in-root target); replaced by a
    /// symlink or another directory, nothing is mounted and the error says why.
    #[test]
    fn user_mounts_mount_the_checked_object_or_nothing() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: needs root (mount namespaces)");
            return;
        }
        std::thread::spawn(|| {
            // Only this thread's namespace: the host's mounts are not touched.
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).unwrap();
            m(
                "slave",
                None,
                Path::new("/"),
                None,
                MsFlags::MS_REC | MsFlags::MS_SLAVE,
                None,
            )
            .unwrap();
            let t = tempfile::tempdir().unwrap();
            let base = t.path().canonicalize().unwrap();
            let root = base.join("root");
            fs::create_dir_all(root.join("etc")).unwrap();
            // A symlink in the image pointing out of the tree: targets stay inside.
            symlink("/etc", root.join("escape")).unwrap();
            fs::create_dir_all(base.join("src/data")).unwrap();
            fs::write(base.join("src/data/f"), b"checked").unwrap();
            fs::create_dir_all(base.join("src/other")).unwrap();
            fs::write(base.join("src/other/f"), b"other").unwrap();
            let src = base.join("src/data").display().to_string();
            let r = binds::resolve(&src, None, false).unwrap();
            let checked = CheckedBind::new("/escape/data", &r, true);
            let pm = PlannedMount {
                spec: MountSpec {
                    kind: "bind".into(),
                    source: r.path.clone(),
                    target: "/escape/data".into(),
                    read_only: true,
                    options: vec![],
                },
                expect: Some(checked),
            };
            let root_fd = fs::File::open(&root).unwrap();
            user_mount(&root, root_fd.as_fd(), &pm).unwrap();
            // /escape -> /etc resolved in the container's root: <root>/etc/data.
            let inside = root.join("etc/data");
            assert_eq!(fs::read(inside.join("f")).unwrap(), b"checked");
            assert!(!Path::new("/etc/data").exists());
            let e = fs::write(inside.join("new"), b"x").unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::EROFS));
            umount2(&inside, MntFlags::MNT_DETACH).unwrap();
            assert!(mounts_under(&root).is_empty());

            // The source swapped for a symlink to another directory after the check.
            fs::rename(base.join("src/data"), base.join("src/data.old")).unwrap();
            symlink(base.join("src/other"), base.join("src/data")).unwrap();
            let e = user_mount(&root, root_fd.as_fd(), &pm).unwrap_err();
            assert!(
                e.message.contains("symbolic link") && e.message.contains("recreate"),
                "{e}"
            );
            assert!(mounts_under(&root).is_empty(), "nothing mounted");
            // Replaced by another directory under the same name.
            fs::remove_file(base.join("src/data")).unwrap();
            fs::rename(base.join("src/other"), base.join("src/data")).unwrap();
            let e = user_mount(&root, root_fd.as_fd(), &pm).unwrap_err();
            assert!(
                e.message
                    .contains("no longer the directory that was checked"),
                "{e}"
            );
            assert!(mounts_under(&root).is_empty(), "nothing mounted");

            // Propagation: from a shared source, the default (rprivate) receives nothing
            // later mounted under it; rslave and rshared receive.
            let shared = base.join("shared");
            fs::create_dir(&shared).unwrap();
            m(
                "tmpfs",
                Some("tmpfs"),
                &shared,
                Some("tmpfs"),
                MsFlags::empty(),
                None,
            )
            .unwrap();
            m("shared", None, &shared, None, MsFlags::MS_SHARED, None).unwrap();
            for (i, (opt, receives)) in [
                (None, false),
                (Some("rslave"), true),
                (Some("rshared"), true),
            ]
            .into_iter()
            .enumerate()
            {
                fs::create_dir(shared.join(format!("sub{i}"))).unwrap();
                let r = binds::resolve(&shared.display().to_string(), None, false).unwrap();
                let target = format!("/p{i}");
                let pm = PlannedMount {
                    spec: MountSpec {
                        kind: "bind".into(),
                        source: r.path.clone(),
                        target: target.clone(),
                        read_only: false,
                        options: opt.map(|o: &str| vec![o.to_string()]).unwrap_or_default(),
                    },
                    expect: Some(CheckedBind::new(&target, &r, true)),
                };
                user_mount(&root, root_fd.as_fd(), &pm).unwrap();
                let sub = shared.join(format!("sub{i}"));
                m(
                    "tmpfs",
                    Some("tmpfs"),
                    &sub,
                    Some("tmpfs"),
                    MsFlags::empty(),
                    None,
                )
                .unwrap();
                fs::write(sub.join("later"), b"x").unwrap();
                assert_eq!(
                    root.join(format!("p{i}/sub{i}/later")).exists(),
                    receives,
                    "{opt:?}"
                );
                umount2(&sub, MntFlags::MNT_DETACH).unwrap();
                umount2(&root.join(format!("p{i}")), MntFlags::MNT_DETACH).unwrap();
            }
            umount2(&shared, MntFlags::MNT_DETACH).unwrap();

            // tmpfs: flag words are mount flags, the rest goes to the file system.
            let tmp = PlannedMount {
                spec: MountSpec {
                    kind: "tmpfs".into(),
                    source: String::new(),
                    target: "/t".into(),
                    read_only: false,
                    options: vec!["size=1m".into(), "exec".into(), "mode=0700".into()],
                },
                expect: None,
            };
            user_mount(&root, root_fd.as_fd(), &tmp).unwrap();
            let line = mounts_under(&root.join("t")).join("\n");
            assert!(
                line.contains("nosuid") && line.contains("nodev") && !line.contains("noexec"),
                "{line}"
            );
            assert!(
                line.contains("size=1024k") && line.contains("mode=700"),
                "{line}"
            );
            umount2(&root.join("t"), MntFlags::MNT_DETACH).unwrap();
            let bad = PlannedMount {
                spec: MountSpec {
                    options: vec!["bogus=1".into()],
                    ..tmp.spec.clone()
                },
                expect: None,
            };
            let e = user_mount(&root, root_fd.as_fd(), &bad).unwrap_err();
            assert!(e.message.contains("tmpfs option \"bogus=1\""), "{e}");
        })
        .join()
        .unwrap();
    }
}
