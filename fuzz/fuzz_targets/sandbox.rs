//! A scratch tree for the targets that write files (layer unpacking, image loads), and a
//! guard that nothing is written anywhere else.
//!
//! Once per process: a private mount namespace (nothing here is seen by the host), a
//! fresh tmpfs as the scratch tree (gone with the process), the fuzzer's own directories
//! (corpus, artifacts, the working directory) kept writable, and every other mount
//! remounted read-only. A write outside the scratch tree then fails with EROFS ("os
//! error 30"), which the targets treat as a finding; a write that got through would
//! have to be inside the tree, where the targets check that each input touched only its
//! own directory.
#![allow(dead_code)]

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

static SCRATCH: OnceLock<PathBuf> = OnceLock::new();
static COUNTER: AtomicU64 = AtomicU64::new(0);

fn cstr(p: &Path) -> CString {
    CString::new(p.as_os_str().as_encoded_bytes()).expect("path without NUL")
}

fn mount(
    src: Option<&Path>,
    target: &Path,
    fstype: Option<&str>,
    flags: libc::c_ulong,
    data: Option<&str>,
) -> std::io::Result<()> {
    let src = src.map(cstr);
    let target = cstr(target);
    let fstype = fstype.map(|f| CString::new(f).expect("fs type"));
    let data = data.map(|d| CString::new(d).expect("mount data"));
    // SAFETY: every pointer is a NUL-terminated string that outlives the call, or NULL.
    let r = unsafe {
        libc::mount(
            src.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            target.as_ptr(),
            fstype.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            flags,
            data.as_ref()
                .map_or(std::ptr::null(), |s| s.as_ptr().cast()),
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Undo the octal escapes of /proc/self/mountinfo (`\040` for a space).
fn unescape(s: &str) -> PathBuf {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    PathBuf::from(std::ffi::OsString::from(
        String::from_utf8_lossy(&out).into_owned(),
    ))
}

fn mount_flags(opts: &str) -> libc::c_ulong {
    let mut f = 0;
    for o in opts.split(',') {
        f |= match o {
            "nosuid" => libc::MS_NOSUID,
            "nodev" => libc::MS_NODEV,
            "noexec" => libc::MS_NOEXEC,
            "noatime" => libc::MS_NOATIME,
            "nodiratime" => libc::MS_NODIRATIME,
            "relatime" => libc::MS_RELATIME,
            _ => 0,
        };
    }
    f
}

fn setup() -> PathBuf {
    // SAFETY: geteuid has no preconditions.
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "this target runs as root (mounts, mknod, chown)"
    );
    // Directories the fuzzer writes to: its working directory, the corpus directories and
    // the artifact prefix it was given.
    let mut keep: Vec<PathBuf> = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        keep.push(cwd);
    }
    for a in std::env::args().skip(1) {
        if let Some(p) = a.strip_prefix("-artifact_prefix=") {
            let p = Path::new(p);
            let dir = if p.is_dir() {
                p
            } else {
                p.parent().unwrap_or(p)
            };
            keep.push(dir.to_path_buf());
        } else if !a.starts_with('-') && Path::new(&a).is_dir() {
            keep.push(PathBuf::from(a));
        }
    }
    let mut keep: Vec<PathBuf> = keep
        .into_iter()
        .filter_map(|p| std::fs::canonicalize(p).ok())
        .filter(|p| p != Path::new("/"))
        .collect();
    keep.sort();
    keep.dedup();

    let base = std::env::var_os("FUZZ_TMP")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/dev/shm"));
    let scratch = base.join(format!("wharf-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).expect("creating the scratch directory");
    let scratch = std::fs::canonicalize(&scratch).expect("scratch path");

    // SAFETY: unshare only changes this thread's (and later children's) mount namespace.
    if unsafe { libc::unshare(libc::CLONE_NEWNS) } != 0 {
        panic!("unshare(CLONE_NEWNS): {}", std::io::Error::last_os_error());
    }
    mount(
        None,
        Path::new("/"),
        None,
        libc::MS_REC | libc::MS_PRIVATE,
        None,
    )
    .expect("making / private");
    mount(
        Some(Path::new("tmpfs")),
        &scratch,
        Some("tmpfs"),
        0,
        Some("size=2g,mode=0700"),
    )
    .expect("tmpfs on the scratch directory");
    for k in &keep {
        mount(Some(k), k, None, libc::MS_BIND | libc::MS_REC, None)
            .expect("binding a fuzzer directory");
    }
    let info = std::fs::read_to_string("/proc/self/mountinfo").expect("reading mountinfo");
    for line in info.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        if f.len() < 6 {
            continue;
        }
        let mp = unescape(f[4]);
        let s = mp.to_string_lossy();
        let special = s == "/dev"
            || s.starts_with("/dev/pts")
            || s.starts_with("/dev/mqueue")
            || s.starts_with("/proc")
            || s.starts_with("/sys");
        if special
            || mp == scratch
            || keep.iter().any(|k| mp.starts_with(k))
            || mp.starts_with(&scratch)
        {
            continue;
        }
        let flags = libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | mount_flags(f[5]);
        // A mount point hidden under another one cannot be reached by path: skip it.
        let _ = mount(None, &mp, None, flags, None);
    }
    // The check that it took: the root is read-only now.
    let probe = Path::new("/").join(format!(".wharf-fuzz-probe-{}", std::process::id()));
    match std::fs::write(&probe, b"x") {
        Err(e) if e.raw_os_error() == Some(libc::EROFS) => {}
        other => {
            let _ = std::fs::remove_file(&probe);
            panic!("/ is still writable after the read-only remount: {other:?}");
        }
    }
    scratch
}

/// The scratch tree (set up on first use).
pub fn scratch() -> &'static Path {
    SCRATCH.get_or_init(setup)
}

/// A fresh, empty directory in the scratch tree for one input.
pub fn fresh_dir() -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let d = scratch().join(format!("in-{n}"));
    std::fs::create_dir(&d).expect("creating an input directory");
    d
}

/// After an input: the scratch tree holds only `dir` (nothing was written beside it),
/// then `dir` is removed.
pub fn finish(dir: &Path) {
    let entries: Vec<PathBuf> = std::fs::read_dir(scratch())
        .expect("listing the scratch tree")
        .map(|e| e.expect("scratch entry").path())
        .collect();
    assert_eq!(
        entries,
        vec![dir.to_path_buf()],
        "something was written beside the input's directory"
    );
    std::fs::remove_dir_all(dir).expect("removing the input's directory");
}

/// An engine error that says a write hit the read-only host: an escape.
#[track_caller]
pub fn no_escape(what: &str, msg: &str) {
    assert!(
        !msg.contains("os error 30") && !msg.contains("Read-only file system"),
        "{what}: a write outside the scratch tree was attempted: {msg}"
    );
}
