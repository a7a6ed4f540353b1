//! Bind mount sources: resolved once by the kernel, checked, and mounted as that same
//! object.
//!
//! At create, each bind source (an absolute path) is opened `O_PATH` with `openat2`
//! (magic links such as `/proc/self/root/…` or `/proc/<pid>/fd/N` refused); its real
//! path is read back from the descriptor and the object's device, inode and kind are
//! recorded ([`CheckedBind`]). The policy checks the real path, never the text given.
//!
//! For a caller whose role constrains bind mounts, the open runs *as that caller*: on a
//! short-lived thread whose file-system uid, gid and groups are the caller's (and which
//! holds no capability), so the host's own permission checks (modes, ACLs, search
//! permission on every directory of the path) decide what they may bind. Only
//! directories and regular files qualify, the caller must be able to read (and for a
//! read-write bind, write) the object, and a read-write bind must sit on a file system
//! mounted `nosuid,nodev`: otherwise a container's root could leave a setuid-root
//! program or a device node there for the unprivileged host user.
//!
//! At start, the container's init opens the recorded real path again with
//! `RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS` ([`reopen`]), insists on the same
//! device and inode, and mounts that descriptor (see [`super::rootfs`]): no rename or
//! symlink swap between the check and the mount changes what is mounted.
//!
//! Why a thread and not a child process: Linux credentials belong to each thread, and the
//! raw `setgroups`/`setfsgid`/`setfsuid` system calls (unlike the libc wrappers, which
//! broadcast to every thread) change only the calling one. File-system permission
//! checks use exactly the file-system ids, the supplementary groups and the effective
//! capabilities, which the thread clears. The thread's real, effective and saved uids
//! stay root, so the user cannot signal, stop or ptrace it (a forked child running as the
//! user could be stopped by them, hanging the request, and holds a copy of the server's
//! memory and descriptors); nothing is forked from a multi-threaded server, and the
//! descriptor needs no `SCM_RIGHTS` hand-over (threads share the descriptor table).

use std::collections::BTreeMap;
use std::ffi::CString;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

use rustix::fs::{FileType, Mode, OFlags, ResolveFlags, StatVfsMountFlags, CWD};
use rustix::io::Errno;
use serde::{Deserialize, Serialize};

use crate::api::{ContainerCreate, MountSpec};
use crate::caller::Caller;
use crate::error::{EngineError, IoContext, Result};
use crate::policy::Action;
use crate::LocalEngine;

/// rustix's errors carry context like std's and nix's (the runtime's descriptor-based
/// file code uses rustix).
impl<T> IoContext<T> for std::result::Result<T, Errno> {
    fn ctx(self, doing: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| EngineError::io(doing(), e.into()))
    }
}

/// The kernel's limit on a path given to a system call, the terminating NUL included.
const PATH_MAX: usize = libc::PATH_MAX as usize;

/// What kind of object a bind source is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Directory,
    File,
    /// A socket, device node or fifo (only for roles without a bind constraint).
    Other,
}

impl SourceKind {
    /// The kind of an object from its `st_mode`.
    pub fn of_mode(mode: u32) -> Self {
        match FileType::from_raw_mode(mode) {
            FileType::Directory => SourceKind::Directory,
            FileType::RegularFile => SourceKind::File,
            _ => SourceKind::Other,
        }
    }
    fn word(self) -> &'static str {
        match self {
            SourceKind::Directory => "directory",
            SourceKind::File => "file",
            SourceKind::Other => "special file",
        }
    }
}

/// A bind mount source as checked at create: stored in the container's config beside
/// the request (not in [`MountSpec`], so a client cannot send one), and verified again
/// by the container's init at every start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckedBind {
    /// The mount's target in the container.
    pub target: String,
    /// The real path (no symlink, no `..`), as the policy checked it.
    pub source: String,
    pub dev: u64,
    pub ino: u64,
    pub kind: SourceKind,
    /// Submounts below the source come along (`rbind`, Docker's default). Off for roles
    /// whose bind mounts are constrained: only the checked file system is mounted.
    pub recursive: bool,
    /// The file system's id (`statfs` f_fsid; 0 if it has none): stable across reboots
    /// where the device number may not be (NFS, btrfs, ZFS get theirs at mount time).
    #[serde(default)]
    pub fsid: u64,
    /// The boot `dev` was recorded in (`/proc/sys/kernel/random/boot_id`).
    #[serde(default)]
    pub boot_id: String,
}

impl CheckedBind {
    /// What `r` was found to be, for the mount on `target`.
    pub fn new(target: &str, r: &Resolved, recursive: bool) -> Self {
        CheckedBind {
            target: target.to_string(),
            source: r.path.clone(),
            dev: r.dev,
            ino: r.ino,
            kind: r.kind,
            recursive,
            fsid: r.fsid,
            boot_id: crate::state::boot_id(),
        }
    }

    /// Is the object found now (device, inode, kind, file system id; `boot_id` of
    /// now) the one that was checked? Same inode and kind, and the same device, or
    /// (after a reboot, which may number devices anew) the same file system id.
    pub fn same_object(
        &self,
        dev: u64,
        ino: u64,
        kind: SourceKind,
        fsid: u64,
        boot_id: &str,
    ) -> bool {
        let rebooted = !self.boot_id.is_empty() && !boot_id.is_empty() && self.boot_id != boot_id;
        ino == self.ino
            && kind == self.kind
            && (dev == self.dev || (rebooted && self.fsid != 0 && fsid == self.fsid))
    }
}

/// The `statfs` f_fsid of the file system `fd` is on (0 if unknown).
fn fsid_of(fd: &OwnedFd) -> u64 {
    rustix::fs::fstatvfs(fd).map(|s| s.f_fsid).unwrap_or(0)
}

/// An opened bind source.
#[derive(Debug)]
pub struct Resolved {
    /// `O_PATH` descriptor of the object.
    pub fd: OwnedFd,
    /// Its real path.
    pub path: String,
    pub dev: u64,
    pub ino: u64,
    pub kind: SourceKind,
    /// Its file system's id (see [`CheckedBind::fsid`]).
    pub fsid: u64,
}

/// The identity a constrained caller's paths are opened with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
    /// For messages: `alice (student)`.
    pub label: String,
}

impl Credentials {
    /// The caller's uid with the primary group and groups the user database gives it
    /// (as the policy sees the user).
    pub fn of(caller: &Caller, label: String) -> Self {
        let (_, gid, groups) = crate::policy::user_groups(caller.uid);
        Credentials {
            uid: caller.uid,
            gid,
            groups: groups.into_iter().map(|(g, _)| g).collect(),
            label,
        }
    }
}

/// `source` shortened for messages (a hostile path may be very long).
fn shown(source: &str) -> String {
    const MAX: usize = 160;
    if source.len() <= MAX {
        return source.to_string();
    }
    let mut cut = MAX;
    while !source.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}… ({} bytes)", &source[..cut], source.len())
}

/// The text checks every bind source passes before any system call sees it.
fn check_text(source: &str) -> Result<CString> {
    if source.is_empty() {
        return Err(EngineError::invalid(
            "a bind mount needs a source: give an absolute host path (-v /host/path:/target)",
        ));
    }
    if !source.starts_with('/') {
        return Err(EngineError::invalid(format!(
            "bind mount source {:?} is a relative path: give an absolute host path (the engine does not know the client's working directory)",
            shown(source)
        )));
    }
    if source.len() >= PATH_MAX {
        return Err(EngineError::invalid(format!(
            "bind mount source {} is longer than the kernel's limit of {} bytes for a path: give a shorter path",
            shown(source),
            PATH_MAX - 1
        )));
    }
    CString::new(source).map_err(|_| {
        EngineError::invalid(format!(
            "bind mount source {:?} contains a NUL byte",
            shown(source)
        ))
    })
}

/// `openat2` with retries on `EAGAIN` (a concurrent rename made the kernel give up on a
/// scoped lookup; trying again is what the man page asks for).
pub(crate) fn openat2(
    dir: BorrowedFd<'_>,
    path: &std::ffi::CStr,
    flags: OFlags,
    resolve: ResolveFlags,
) -> std::result::Result<OwnedFd, Errno> {
    let mut tries = 0;
    loop {
        match rustix::fs::openat2(dir, path, flags | OFlags::CLOEXEC, Mode::empty(), resolve) {
            Err(Errno::AGAIN) | Err(Errno::INTR) if tries < 64 => tries += 1,
            r => return r,
        }
    }
}

/// Why opening a source failed: the system call and its error.
#[derive(Debug, Clone, Copy)]
enum OpenFailure {
    /// The thread could not take the caller's identity.
    Identity(Errno),
    Open(Errno),
    /// The caller lacks read (and search) access to the object.
    Read(Errno),
    /// The caller lacks write access (read-write binds).
    Write(Errno),
}

/// Take `creds` on this thread only (raw system calls; the libc wrappers would change
/// every thread of the process) and drop the effective capabilities. The thread must
/// end afterwards: its credentials are never restored.
fn become_on_this_thread(creds: &Credentials) -> std::result::Result<(), Errno> {
    // SAFETY: setgroups(2) reads `len` gids from a valid slice; the raw system call
    // changes this thread's supplementary groups only.
    let r = unsafe {
        libc::syscall(
            libc::SYS_setgroups,
            creds.groups.len() as libc::size_t,
            creds.groups.as_ptr(),
        )
    };
    if r != 0 {
        return Err(Errno::from_raw_os_error(
            std::io::Error::last_os_error().raw_os_error().unwrap_or(0),
        ));
    }
    // SAFETY: setfsgid/setfsuid take integers and change this thread's file-system ids
    // only; an invalid id (u32::MAX) changes nothing and returns the current one, which
    // is how the change is verified (the calls report no error themselves).
    let (gid, uid) = unsafe {
        libc::syscall(libc::SYS_setfsgid, creds.gid as libc::c_long);
        libc::syscall(libc::SYS_setfsuid, creds.uid as libc::c_long);
        (
            libc::syscall(libc::SYS_setfsgid, u32::MAX as libc::c_long) as u32,
            libc::syscall(libc::SYS_setfsuid, u32::MAX as libc::c_long) as u32,
        )
    };
    if gid != creds.gid || uid != creds.uid {
        return Err(Errno::PERM);
    }
    // Changing the fsuid from 0 drops the file-system capabilities already; clear the
    // whole effective set so no securebit setting can leave an override behind.
    caps::clear(None, caps::CapSet::Effective).map_err(|_| Errno::PERM)?;
    Ok(())
}

/// faccessat2(fd, "", mode, AT_EMPTY_PATH | AT_EACCESS): may this thread, with its
/// file-system ids, groups and effective capabilities (not the real uid), access the
/// object `fd` refers to? (rustix refuses AT_EMPTY_PATH here, hence the raw call.)
fn access_fd(fd: &OwnedFd, mode: libc::c_int) -> std::result::Result<(), Errno> {
    // SAFETY: faccessat2(2) with a valid descriptor, an empty NUL-terminated path and
    // integer arguments; nothing is written.
    let r = unsafe {
        libc::syscall(
            libc::SYS_faccessat2,
            fd.as_raw_fd(),
            c"".as_ptr(),
            mode,
            libc::AT_EMPTY_PATH | libc::AT_EACCESS,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(Errno::from_raw_os_error(
            std::io::Error::last_os_error().raw_os_error().unwrap_or(0),
        ))
    }
}

/// What the caller may do with the object, as found on their thread.
struct Access {
    read: std::result::Result<(), Errno>,
    /// Asked for read-write binds only.
    write: Option<std::result::Result<(), Errno>>,
}

/// Open `path` as `creds` on a short-lived thread, and find out whether they may read
/// it (and with `write`, write it).
fn open_as(
    creds: &Credentials,
    path: &std::ffi::CStr,
    write: bool,
) -> std::result::Result<(OwnedFd, Access), OpenFailure> {
    std::thread::scope(|s| {
        let thread = std::thread::Builder::new()
            .name("wharf-bind-check".into())
            .spawn_scoped(s, || {
                become_on_this_thread(creds).map_err(OpenFailure::Identity)?;
                let fd = openat2(CWD, path, OFlags::PATH, ResolveFlags::NO_MAGICLINKS)
                    .map_err(OpenFailure::Open)?;
                let st = rustix::fs::fstat(&fd).map_err(OpenFailure::Open)?;
                let mut need = libc::R_OK;
                if SourceKind::of_mode(st.st_mode) == SourceKind::Directory {
                    need |= libc::X_OK;
                }
                let access = Access {
                    read: access_fd(&fd, need),
                    write: write.then(|| access_fd(&fd, libc::W_OK)),
                };
                Ok((fd, access))
            });
        match thread {
            Ok(t) => t.join().unwrap_or(Err(OpenFailure::Identity(Errno::FAULT))),
            Err(e) => Err(OpenFailure::Identity(Errno::from_raw_os_error(
                e.raw_os_error().unwrap_or(libc::EAGAIN),
            ))),
        }
    })
}

/// The refusal for a failed open of `given`, in words.
fn open_error(given: &str, who: Option<&str>, f: OpenFailure) -> EngineError {
    let given = shown(given);
    let who_cannot = |what: &str| match who {
        Some(w) => format!("{w} cannot {what} it"),
        None => format!("the engine cannot {what} it"),
    };
    match f {
        OpenFailure::Identity(e) => EngineError::internal(format!(
            "checking bind mount source {given} as {}: could not take that user's identity on a thread of its own ({e}); the engine must run as root",
            who.unwrap_or("the caller")
        )),
        OpenFailure::Open(Errno::NOENT) => EngineError::invalid(format!(
            "bind mount source {given} does not exist: create it first, or fix the path"
        )),
        OpenFailure::Open(Errno::ACCESS) | OpenFailure::Open(Errno::PERM)
            if given.starts_with("/proc/") =>
        {
            EngineError::denied(format!(
                "bind mount source {given}: permission denied ({}); paths through /proc/PID/root, /proc/PID/cwd and /proc/PID/fd are magic links, which are refused anyway: give the real path",
                who_cannot("reach")
            ))
        }
        OpenFailure::Open(Errno::ACCESS) | OpenFailure::Open(Errno::PERM) => EngineError::denied(
            format!(
                "bind mount source {given}: permission denied ({}: a directory on its path does not let them through); bind only what you can open yourself",
                who_cannot("reach")
            ),
        ),
        OpenFailure::Open(Errno::LOOP) => EngineError::denied(format!(
            "bind mount source {given} goes through a /proc magic link (such as /proc/self/root or /proc/PID/fd/N) or too many symbolic links: give the real path"
        )),
        OpenFailure::Open(Errno::NAMETOOLONG) => EngineError::invalid(format!(
            "bind mount source {given}: a name on the path is too long for the kernel (more than 255 bytes), or the path is: give a shorter path"
        )),
        OpenFailure::Open(Errno::NOTDIR) => EngineError::invalid(format!(
            "bind mount source {given}: a component of the path is not a directory: fix the path"
        )),
        OpenFailure::Open(e) => EngineError::io(
            format!("opening bind mount source {given}"),
            std::io::Error::from_raw_os_error(e.raw_os_error()),
        ),
        OpenFailure::Read(e) => EngineError::denied(format!(
            "bind mount source {given}: {} ({e}); bind only what you can read yourself",
            who_cannot("read")
        )),
        OpenFailure::Write(Errno::ROFS) => EngineError::denied(format!(
            "bind mount source {given} is on a read-only file system: add :ro to mount it read-only"
        )),
        OpenFailure::Write(e) => EngineError::denied(format!(
            "bind mount source {given}: {} ({e}); a read-write bind needs write access: add :ro, or bind a directory you may write",
            who_cannot("write")
        )),
    }
}

/// A caller whose role constrains bind mounts: who they are and where they may bind.
#[derive(Debug, Clone, Copy)]
pub struct Constrained<'a> {
    pub creds: &'a Credentials,
    /// Allowed host path prefixes (resolved and compared by components).
    pub prefixes: &'a [String],
}

/// Resolve the bind source `given` (an absolute path) as the engine (`as_user` `None`:
/// Docker's semantics, any kind of object), or as a constrained caller: the real path
/// must be under one of their prefixes, and only directories and regular files they may
/// read themselves qualify; `read_write` binds need write access and a `nosuid,nodev`
/// file system. Returns the opened object with its real path.
pub fn resolve(
    given: &str,
    as_user: Option<Constrained<'_>>,
    read_write: bool,
) -> Result<Resolved> {
    let c = check_text(given)?;
    let (fd, access) = match as_user {
        None => (
            openat2(CWD, &c, OFlags::PATH, ResolveFlags::NO_MAGICLINKS)
                .map_err(|e| open_error(given, None, OpenFailure::Open(e)))?,
            None,
        ),
        Some(u) => {
            let (fd, a) = open_as(u.creds, &c, read_write)
                .map_err(|f| open_error(given, Some(&u.creds.label), f))?;
            (fd, Some(a))
        }
    };
    let st = rustix::fs::fstat(&fd).map_err(|e| {
        EngineError::io(
            format!("reading bind mount source {}", shown(given)),
            e.into(),
        )
    })?;
    let kind = SourceKind::of_mode(st.st_mode);
    let link = format!("/proc/self/fd/{}", fd.as_raw_fd());
    let real = std::fs::read_link(&link).map_err(|e| {
        EngineError::io(
            format!(
                "reading the real path of bind mount source {} ({link}; is /proc mounted?)",
                shown(given)
            ),
            e,
        )
    })?;
    let Some(real) = real.to_str().map(str::to_string) else {
        return Err(EngineError::invalid(format!(
            "bind mount source {} resolves to a path that is not UTF-8: rename it",
            shown(given)
        )));
    };
    if st.st_nlink == 0 || real.ends_with(" (deleted)") || !real.starts_with('/') {
        return Err(EngineError::invalid(format!(
            "bind mount source {} was deleted (or is not reachable from the engine's root) while it was opened: create it again",
            shown(given)
        )));
    }
    // The text the policy checks must name the object opened: open it again by that
    // text, with no symlink allowed, and compare.
    let again = CString::new(real.clone())
        .ok()
        .and_then(|c| openat2(CWD, &c, OFlags::PATH, no_links()).ok())
        .and_then(|f| rustix::fs::fstat(&f).ok());
    if again.is_none_or(|a| (a.st_dev, a.st_ino) != (st.st_dev, st.st_ino)) {
        return Err(EngineError::conflict(format!(
            "bind mount source {} changed while it was being checked (it resolved to {real}, which now names something else): try again",
            shown(given)
        )));
    }
    if let (Some(u), Some(access)) = (as_user, access) {
        let who = &u.creds.label;
        // The policy first: where the path really leads.
        if !crate::policy::gate::bind_allowed(u.prefixes, &real) {
            let as_given = if real == given {
                String::new()
            } else {
                format!("given as {}; ", shown(given))
            };
            return Err(EngineError::denied(format!(
                "{who} may not bind-mount host path {real} ({as_given}allowed: {}); ask an admin to change the policy",
                u.prefixes.join(", ")
            )));
        }
        if kind == SourceKind::Other {
            return Err(EngineError::denied(format!(
                "{who} may not bind-mount {}: it is a socket, device node or fifo ({real}); only directories and regular files may be bound",
                shown(given)
            )));
        }
        access
            .read
            .map_err(|e| open_error(given, Some(who), OpenFailure::Read(e)))?;
        if let Some(w) = access.write {
            w.map_err(|e| open_error(given, Some(who), OpenFailure::Write(e)))?;
        }
        if read_write {
            let vfs = rustix::fs::fstatvfs(&fd).map_err(|e| {
                EngineError::io(format!("reading the file system of {real}"), e.into())
            })?;
            let mut missing = Vec::new();
            if !vfs.f_flag.contains(StatVfsMountFlags::NOSUID) {
                missing.push("nosuid");
            }
            if !vfs.f_flag.contains(StatVfsMountFlags::NODEV) {
                missing.push("nodev");
            }
            if !missing.is_empty() {
                return Err(EngineError::denied(format!(
                    "{who} may not bind-mount {} read-write: {real} is on a file system mounted without {}, where a container's root could leave a setuid-root program or a device node for host users; add :ro to mount it read-only, or ask an admin to mount that directory nosuid,nodev (mount --bind {real} {real}; mount -o remount,bind,nosuid,nodev {real})",
                    shown(given),
                    missing.join(" and ")
                )));
            }
        }
    }
    Ok(Resolved {
        fsid: fsid_of(&fd),
        fd,
        path: real,
        dev: st.st_dev,
        ino: st.st_ino,
        kind,
    })
}

fn no_links() -> ResolveFlags {
    ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS
}

/// Open the checked bind source `c` again (in the container's init, before the mount)
/// by its real path, with no symlink and no magic link allowed, and insist it is the
/// object that was checked. Returns its `O_PATH` descriptor, to be mounted as is.
pub fn reopen(c: &CheckedBind) -> Result<OwnedFd> {
    let recreate = "recreate the container (wharf rm, then wharf run or create again) so the new source is checked";
    let path = CString::new(c.source.clone()).map_err(|_| {
        EngineError::invalid(format!(
            "bind mount {}: its recorded source contains a NUL byte: {recreate}",
            c.target
        ))
    })?;
    let fd = openat2(CWD, &path, OFlags::PATH, no_links()).map_err(|e| match e {
        Errno::NOENT | Errno::NOTDIR => EngineError::conflict(format!(
            "bind mount {}: its source {} no longer exists: create it again, or {recreate}",
            c.target, c.source
        )),
        Errno::LOOP | Errno::XDEV => EngineError::conflict(format!(
            "bind mount {}: its source {} is now (or now goes through) a symbolic link, so it is not the {} that was checked when the container was created: {recreate}",
            c.target,
            c.source,
            c.kind.word()
        )),
        e => EngineError::io(
            format!("opening bind mount source {} for {}", c.source, c.target),
            e.into(),
        ),
    })?;
    let st = rustix::fs::fstat(&fd).map_err(|e| {
        EngineError::io(format!("reading bind mount source {}", c.source), e.into())
    })?;
    let now = SourceKind::of_mode(st.st_mode);
    if !c.same_object(
        st.st_dev,
        st.st_ino,
        now,
        fsid_of(&fd),
        &crate::state::boot_id(),
    ) {
        return Err(EngineError::conflict(format!(
            "bind mount {}: its source {} is no longer the {} that was checked when the container was created (it was replaced or moved since): {recreate}",
            c.target,
            c.source,
            c.kind.word()
        )));
    }
    Ok(fd)
}

/// Bind propagation words (`-v /a:/b:rslave`, `--mount bind-propagation=`).
pub const PROPAGATIONS: &[&str] = &[
    "shared", "rshared", "slave", "rslave", "private", "rprivate",
];

/// Check the options of one mount against the vocabulary the runtime honours: bind
/// propagation (one word), volume `nocopy`; tmpfs options go to the kernel at start.
fn check_options(m: &MountSpec) -> Result<()> {
    if Path::new(&m.target) == Path::new("/") {
        return Err(EngineError::invalid(format!(
            "{} mount on /: a mount cannot replace the container's root; choose a directory below it",
            m.kind
        )));
    }
    match m.kind.as_str() {
        "bind" => {
            let props: Vec<&String> = m
                .options
                .iter()
                .filter(|o| PROPAGATIONS.contains(&o.as_str()))
                .collect();
            if let Some(o) = m
                .options
                .iter()
                .find(|o| !PROPAGATIONS.contains(&o.as_str()))
            {
                return Err(EngineError::invalid(format!(
                    "bind mount {}: unknown option {o:?}: a bind mount takes one propagation of {}",
                    m.target,
                    PROPAGATIONS.join(", ")
                )));
            }
            if props.len() > 1 {
                return Err(EngineError::invalid(format!(
                    "bind mount {}: more than one propagation ({}): give one",
                    m.target,
                    m.options.join(", ")
                )));
            }
            Ok(())
        }
        "volume" => match m.options.iter().find(|o| o.as_str() != "nocopy") {
            Some(o) => Err(EngineError::invalid(format!(
                "volume mount {}: unknown option {o:?}: a volume mount takes nocopy",
                m.target
            ))),
            None => Ok(()),
        },
        "tmpfs" => Ok(()),
        other => Err(EngineError::invalid(format!(
            "mount type {other:?} is not supported: use bind, volume or tmpfs"
        ))),
    }
}

/// `CTR[:ro|rw]` of `--volumes-from`: the container and whether its mounts come read-only.
fn parse_volumes_from(v: &str) -> Result<(&str, bool)> {
    let (name, mode) = v.split_once(':').unwrap_or((v, "rw"));
    match (name.is_empty(), mode) {
        (false, "rw") => Ok((name, false)),
        (false, "ro") => Ok((name, true)),
        _ => Err(EngineError::invalid(format!(
            "invalid --volumes-from {v:?}: use CONTAINER[:ro|rw]"
        ))),
    }
}

/// The mounts `--volumes-from` brings: each named container (in the caller's scope)
/// lends its volume and bind mounts, read-only with `:ro` or where they were
/// read-only; a later container's mount wins a target over an earlier one's (Docker's
/// rule). Volumes come with `nocopy`: they were filled when first mounted.
fn volumes_from(
    engine: &LocalEngine,
    caller: &Caller,
    list: &[String],
) -> Result<Vec<(MountSpec, String)>> {
    let mut by_target: BTreeMap<std::path::PathBuf, (MountSpec, String)> = BTreeMap::new();
    for v in list {
        let (name, ro) = parse_volumes_from(v)?;
        let id = engine.find_container(name)?;
        let cfg = super::load_config(engine, &id)?;
        engine
            .gate()
            .authorize_on(caller, Action::ContainerInspect, &cfg.name, Some(cfg.owner))?;
        for m in cfg
            .spec
            .mounts
            .iter()
            .filter(|m| m.kind == "volume" || m.kind == "bind")
        {
            let mut m = m.clone();
            m.read_only |= ro;
            if m.kind == "volume" && !m.options.iter().any(|o| o == "nocopy") {
                m.options.push("nocopy".into());
            }
            by_target.insert(Path::new(&m.target).to_path_buf(), (m, cfg.name.clone()));
        }
    }
    Ok(by_target.into_values().collect())
}

/// Bring a create request into the shape the policy checks and the runtime mounts:
/// `--volumes-from` expanded (explicit mounts win a target), options checked, every
/// bind source resolved (as the caller when their role constrains bind mounts) and its
/// real path put in place of the text given. Returns the new request and what each bind
/// source was found to be. A refusal is written to the audit journal with the request
/// as given.
pub fn prepare(
    engine: &LocalEngine,
    caller: &Caller,
    spec: &ContainerCreate,
) -> Result<(ContainerCreate, Vec<CheckedBind>)> {
    prepare_inner(engine, caller, spec)
        .inspect_err(|e| engine.gate().refuse_create(caller, spec, e))
}

fn prepare_inner(
    engine: &LocalEngine,
    caller: &Caller,
    spec: &ContainerCreate,
) -> Result<(ContainerCreate, Vec<CheckedBind>)> {
    let mut out = spec.clone();
    let mut seen = std::collections::HashSet::new();
    for m in &spec.mounts {
        check_options(m)?;
        if !seen.insert(Path::new(&m.target).to_path_buf()) {
            return Err(EngineError::invalid(format!(
                "duplicate mount point {}: mount one thing there",
                m.target
            )));
        }
    }
    // Where each mount came from, for messages: `None` = given explicitly.
    let mut lenders: Vec<Option<String>> = vec![None; out.mounts.len()];
    for (m, lender) in volumes_from(engine, caller, &spec.volumes_from)? {
        // Explicit mounts win a target.
        if !seen.contains(Path::new(&m.target)) {
            out.mounts.push(m);
            lenders.push(Some(lender));
        }
    }
    let gate = engine.gate();
    let role = gate.role(caller);
    let prefixes = role.constraints.bind_prefixes_for(&gate.caller(caller));
    let creds = prefixes
        .as_ref()
        .map(|_| Credentials::of(caller, gate.caller(caller).label()));
    let mut checked = Vec::new();
    for (m, lender) in out
        .mounts
        .iter_mut()
        .zip(&lenders)
        .filter(|(m, _)| m.kind == "bind")
    {
        let target = m.target.clone();
        let from = |e: EngineError| match lender {
            Some(l) => e.context(format!("bind mount {target} of --volumes-from {l}")),
            None => e,
        };
        if let Some(p) = &prefixes {
            if p.is_empty() {
                // Nothing is allowed: say so without touching the path.
                return Err(from(EngineError::denied(format!(
                    "{} may not bind-mount host path {} (allowed: none); ask an admin to change the policy",
                    gate.caller(caller).label(),
                    shown(&m.source)
                ))));
            }
        }
        let constrained = match (&prefixes, &creds) {
            (Some(p), Some(c)) => Some(Constrained {
                creds: c,
                prefixes: p,
            }),
            _ => None,
        };
        let r = resolve(&m.source, constrained, !m.read_only).map_err(from)?;
        m.source = r.path.clone();
        checked.push(CheckedBind::new(&m.target, &r, prefixes.is_none()));
    }
    Ok((out, checked))
}

/// The checked source for bind mount `m` of a stored container, if create recorded one.
pub fn checked_for<'a>(checked: &'a [CheckedBind], m: &MountSpec) -> Option<&'a CheckedBind> {
    checked
        .iter()
        .find(|c| c.target == m.target && c.source == m.source)
}

/// A checked source made now, as the engine, for a container created before sources
/// were recorded (owners whose role does not constrain bind mounts only).
pub fn check_now(m: &MountSpec) -> Result<CheckedBind> {
    let r = resolve(&m.source, None, !m.read_only)?;
    Ok(CheckedBind::new(&m.target, &r, true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    fn root() -> bool {
        nix::unistd::geteuid().is_root()
    }

    fn nobody() -> Credentials {
        Credentials {
            uid: 65534,
            gid: 65534,
            groups: vec![],
            label: "nobody (user)".into(),
        }
    }

    #[test]
    fn text_is_checked_before_any_system_call() {
        for (src, want) in [
            ("", "needs a source"),
            ("relative/dir", "relative path"),
            ("./x", "relative path"),
            ("/a\0b", "NUL byte"),
        ] {
            let e = resolve(src, None, false).unwrap_err();
            assert!(e.message.contains(want), "{src:?}: {e}");
        }
        let long = format!("/{}", "a/".repeat(PATH_MAX));
        let e = resolve(&long, None, false).unwrap_err();
        assert!(e.message.contains("longer than the kernel's limit"), "{e}");
        assert!(
            e.message.len() < 600,
            "a long path is shortened in the message"
        );
    }

    #[test]
    fn dots_and_symlinks_resolve_to_the_real_path() {
        let d = tempfile::tempdir().unwrap();
        let real = d.path().canonicalize().unwrap();
        std::fs::create_dir_all(real.join("allowed/sub")).unwrap();
        std::fs::create_dir_all(real.join("secret")).unwrap();
        symlink(real.join("secret"), real.join("allowed/link")).unwrap();
        let r = resolve(
            &format!("{}/allowed/../secret", real.display()),
            None,
            false,
        )
        .unwrap();
        assert_eq!(r.path, real.join("secret").display().to_string());
        let r = resolve(&format!("{}/allowed/link/", real.display()), None, false).unwrap();
        assert_eq!(r.path, real.join("secret").display().to_string());
        assert_eq!(r.kind, SourceKind::Directory);
        let r = resolve(
            &format!("{}/allowed/link/../allowed/sub", real.display()),
            None,
            false,
        )
        .unwrap();
        assert_eq!(r.path, real.join("allowed/sub").display().to_string());
        assert!(r.fd.as_raw_fd() > 2);
        let e = resolve(&format!("{}/nothing", real.display()), None, false).unwrap_err();
        assert!(e.message.contains("does not exist"), "{e}");
    }

    #[test]
    fn magic_links_are_refused() {
        for p in [
            "/proc/self/root/etc",
            "/proc/1/root/etc",
            "/proc/self/cwd",
            "/proc/thread-self/root",
        ] {
            let e = resolve(p, None, false).unwrap_err();
            assert!(e.message.contains("magic link"), "{p}: {e}");
        }
        let f = std::fs::File::open("/").unwrap();
        let e = resolve(&format!("/proc/self/fd/{}", f.as_raw_fd()), None, false).unwrap_err();
        assert!(e.message.contains("magic link"), "{e}");
    }

    #[test]
    fn a_constrained_caller_opens_as_themselves() {
        if !root() {
            eprintln!("skipped: needs root");
            return;
        }
        let d = tempfile::tempdir().unwrap();
        let base = d.path().canonicalize().unwrap();
        std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o755)).unwrap();
        let nobody = nobody();
        let prefixes = [base.display().to_string(), "/dev/null".to_string()];
        let user = Some(Constrained {
            creds: &nobody,
            prefixes: &prefixes,
        });
        let at = |p: &str| format!("{}/{p}", base.display());
        // A 0700 directory of someone else (root) inside: not for nobody.
        std::fs::create_dir(base.join("private")).unwrap();
        std::fs::set_permissions(base.join("private"), std::fs::Permissions::from_mode(0o700))
            .unwrap();
        let e = resolve(&at("private"), user, false).unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::PermissionDenied, "{e}");
        assert!(e.message.contains("nobody (user) cannot read it"), "{e}");
        // Nor anything below it (search permission on the path).
        std::fs::create_dir(base.join("private/inner")).unwrap();
        let e = resolve(&at("private/inner"), user, false).unwrap_err();
        assert!(e.message.contains("cannot reach it"), "{e}");
        // A world-readable directory: yes read-only; read-write needs write access.
        std::fs::create_dir(base.join("open")).unwrap();
        std::fs::set_permissions(base.join("open"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        resolve(&at("open"), user, false).unwrap();
        let e = resolve(&at("open"), user, true).unwrap_err();
        assert!(e.message.contains("cannot write it"), "{e}");
        // The policy speaks first: outside the prefixes, whatever the permissions.
        let e = resolve(&at("open/../.."), user, true).unwrap_err();
        assert!(e.message.contains("may not bind-mount host path"), "{e}");
        assert!(e.message.contains("given as"), "{e}");
        // Other kinds of object are refused even where the caller could open them.
        let sock = base.join("open.sock");
        let _l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let e = resolve(&sock.display().to_string(), user, false).unwrap_err();
        assert!(e.message.contains("socket, device node or fifo"), "{e}");
        let e = resolve("/dev/null", user, false).unwrap_err();
        assert!(e.message.contains("socket, device node or fifo"), "{e}");
        // The engine (no constraint) binds what Docker binds.
        assert_eq!(
            resolve("/dev/null", None, true).unwrap().kind,
            SourceKind::Other
        );
        // The thread's identity did not leak into this one.
        assert!(std::fs::read_dir(base.join("private")).is_ok());
        assert_eq!(nix::unistd::geteuid().as_raw(), 0);
    }

    #[test]
    fn reopen_insists_on_the_checked_object() {
        let d = tempfile::tempdir().unwrap();
        let base = d.path().canonicalize().unwrap();
        std::fs::create_dir(base.join("data")).unwrap();
        std::fs::create_dir(base.join("other")).unwrap();
        let r = resolve(&format!("{}/data", base.display()), None, false).unwrap();
        let c = CheckedBind::new("/d", &r, true);
        reopen(&c).unwrap();
        // Swapped for a symlink: refused before anything is followed.
        std::fs::rename(base.join("data"), base.join("data.old")).unwrap();
        symlink(base.join("data.old"), base.join("data")).unwrap();
        let e = reopen(&c).unwrap_err();
        assert!(
            e.message.contains("symbolic link") && e.message.contains("recreate the container"),
            "{e}"
        );
        // Replaced by another directory: refused by identity.
        std::fs::remove_file(base.join("data")).unwrap();
        std::fs::rename(base.join("other"), base.join("data")).unwrap();
        let e = reopen(&c).unwrap_err();
        assert!(
            e.message
                .contains("no longer the directory that was checked"),
            "{e}"
        );
        std::fs::remove_dir(base.join("data")).unwrap();
        let e = reopen(&c).unwrap_err();
        assert!(e.message.contains("no longer exists"), "{e}");
    }

    #[test]
    fn identity_survives_a_reboot_by_file_system_id_only() {
        let c = CheckedBind {
            target: "/d".into(),
            source: "/srv/d".into(),
            dev: 40,
            ino: 7,
            kind: SourceKind::Directory,
            recursive: true,
            fsid: 99,
            boot_id: "boot-a".into(),
        };
        let dir = SourceKind::Directory;
        assert!(c.same_object(40, 7, dir, 99, "boot-a"));
        // Same boot: the device must match, whatever the file system id says.
        assert!(!c.same_object(41, 7, dir, 99, "boot-a"));
        assert!(!c.same_object(40, 8, dir, 99, "boot-a"));
        assert!(!c.same_object(40, 7, SourceKind::File, 99, "boot-a"));
        // After a reboot the device may be numbered anew: the file system id decides.
        assert!(c.same_object(41, 7, dir, 99, "boot-b"));
        assert!(!c.same_object(41, 7, dir, 98, "boot-b"));
        assert!(!c.same_object(41, 8, dir, 99, "boot-b"));
        // No file system id, or an old record without a boot: the device decides.
        let old = CheckedBind {
            fsid: 0,
            ..c.clone()
        };
        assert!(!old.same_object(41, 7, dir, 0, "boot-b"));
        let older = CheckedBind {
            boot_id: String::new(),
            ..c
        };
        assert!(!older.same_object(41, 7, dir, 99, "boot-b"));
    }

    #[test]
    fn options_and_volumes_from_words() {
        let m = |kind: &str, opts: &[&str]| MountSpec {
            kind: kind.into(),
            source: "/x".into(),
            target: "/t".into(),
            read_only: false,
            options: opts.iter().map(|s| s.to_string()).collect(),
        };
        check_options(&m("bind", &["rslave"])).unwrap();
        check_options(&m("volume", &["nocopy"])).unwrap();
        check_options(&m("tmpfs", &["size=1m", "exec"])).unwrap();
        assert!(check_options(&m("bind", &["nocopy"])).is_err());
        assert!(check_options(&m("bind", &["shared", "private"])).is_err());
        assert!(check_options(&m("volume", &["rshared"])).is_err());
        assert!(check_options(&m("npipe", &[])).is_err());
        let root = MountSpec {
            target: "//".into(),
            ..m("volume", &[])
        };
        assert!(check_options(&root).is_err());
        assert_eq!(parse_volumes_from("web").unwrap(), ("web", false));
        assert_eq!(parse_volumes_from("web:ro").unwrap(), ("web", true));
        assert_eq!(parse_volumes_from("web:rw").unwrap(), ("web", false));
        assert!(parse_volumes_from("web:z").is_err());
        assert!(parse_volumes_from(":ro").is_err());
    }
}
