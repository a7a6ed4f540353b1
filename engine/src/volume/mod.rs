//! Local volumes: `volumes/<name>/_data` with `meta.json` beside it and one empty file
//! per using container under `refs/`. The runtime calls [`acquire`], [`copy_up_at_first_mount`]
//! and [`release`] as it mounts and removes containers.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::fs;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Mode, OFlags, ResolveFlags};

use serde::{Deserialize, Serialize};

use crate::api::{PruneReport, Volume, VolumeApi, VolumeCreate, VolumeListOptions, VolumeUsage};
use crate::caller::Caller;
use crate::error::{EngineError, IoContext, Result};
use crate::events::{Event, EventType};
use crate::policy::Action;
use crate::state::{atomic_write_json, read_json};
use crate::LocalEngine;

/// What is stored in `volumes/<name>/meta.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct Meta {
    name: String,
    created_at: String,
    labels: BTreeMap<String, String>,
    owner: u32,
    project: Option<String>,
    anonymous: bool,
}

/// Docker's rule for volume names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn validate_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let ok_first = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let ok_rest = name.len() >= 2 && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if ok_first && ok_rest && name.len() <= 255 {
        Ok(())
    } else {
        Err(EngineError::invalid(format!(
            "invalid volume name {name:?}: use at least two characters of [a-zA-Z0-9_.-], starting with a letter or digit"
        )))
    }
}

fn dir(engine: &LocalEngine, name: &str) -> PathBuf {
    engine.root().volumes().join(name)
}

/// Host path of a volume's data.
pub fn data_path(engine: &LocalEngine, name: &str) -> PathBuf {
    dir(engine, name).join("_data")
}

fn load(engine: &LocalEngine, name: &str) -> Result<Meta> {
    validate_name(name)?;
    read_json(&dir(engine, name).join("meta.json"))?.ok_or_else(|| {
        EngineError::not_found(
            "volume",
            name,
            "list volumes with `wharf volume ls` or create it with `wharf volume create`",
        )
    })
}

fn refs(engine: &LocalEngine, name: &str) -> Vec<String> {
    let containers = engine.root().containers();
    fs::read_dir(dir(engine, name).join("refs"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                // A container removed while wharf was down leaves a stale ref: ignore it.
                .filter(|id| containers.join(id).exists())
                .collect()
        })
        .unwrap_or_default()
}

/// Bytes under `path` (apparent sizes; symlinks not followed).
pub fn dir_size(path: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![path.to_path_buf()];
    while let Some(p) = stack.pop() {
        let Ok(rd) = fs::read_dir(&p) else { continue };
        for e in rd.flatten() {
            let Ok(md) = e.path().symlink_metadata() else {
                continue;
            };
            if md.is_dir() {
                stack.push(e.path());
            } else {
                total += md.len();
            }
        }
    }
    total
}

fn to_volume(engine: &LocalEngine, m: &Meta, usage: bool) -> Volume {
    Volume {
        name: m.name.clone(),
        driver: "local".into(),
        mountpoint: data_path(engine, &m.name).display().to_string(),
        created_at: m.created_at.clone(),
        labels: m.labels.clone(),
        scope: "local".into(),
        options: BTreeMap::new(),
        usage_data: usage.then(|| VolumeUsage {
            size: dir_size(&data_path(engine, &m.name)),
            ref_count: refs(engine, &m.name).len() as u64,
        }),
        owner: m.owner,
        project: m.project.clone(),
        anonymous: m.anonymous,
    }
}

/// Create (or find) a volume. A `None` name gets a random one; `anonymous` marks
/// volumes made for a container's mount (`-v /path`, image VOLUME), which plain prune removes.
fn create(
    engine: &LocalEngine,
    caller: &Caller,
    name: Option<&str>,
    labels: &BTreeMap<String, String>,
    anonymous: bool,
) -> Result<(Meta, bool)> {
    let name = name.map(str::to_string).unwrap_or_else(crate::ids::new_id);
    validate_name(&name)?;
    let _lock = engine.root().lock("volumes")?;
    if let Some(m) = read_json::<Meta>(&dir(engine, &name).join("meta.json"))? {
        return Ok((m, false));
    }
    let stage = engine.root().staging_dir("volume")?;
    let res = (|| {
        fs::create_dir(stage.join("_data")).ctx(|| format!("creating volume {name}"))?;
        fs::set_permissions(stage.join("_data"), fs::Permissions::from_mode(0o755))
            .ctx(|| format!("creating volume {name}"))?;
        fs::create_dir(stage.join("refs")).ctx(|| format!("creating volume {name}"))?;
        let caller = engine.gate().caller(caller);
        let mut labels = labels.clone();
        if anonymous {
            labels.insert("com.docker.volume.anonymous".into(), String::new());
        }
        let m = Meta {
            name: name.clone(),
            created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            labels,
            owner: caller.uid,
            project: caller.project.clone(),
            anonymous,
        };
        atomic_write_json(&stage.join("meta.json"), &m)?;
        fs::rename(&stage, dir(engine, &name)).ctx(|| format!("creating volume {name}"))?;
        Ok(m)
    })();
    if res.is_err() {
        let _ = fs::remove_dir_all(&stage);
    }
    let m = res?;
    engine.emit(
        Event::new(EventType::Volume, "create", &name)
            .attr("driver", "local")
            .owned_by(m.owner),
    );
    Ok((m, true))
}

/// Make sure the volume a container mounts exists (a named one is created on first use,
/// `None` makes an anonymous one) and record that `container_id` uses it. Returns the
/// volume's name.
pub fn acquire(
    engine: &LocalEngine,
    caller: &Caller,
    name: Option<&str>,
    container_id: &str,
) -> Result<String> {
    let (m, created) = create(engine, caller, name, &BTreeMap::new(), name.is_none())?;
    if !created {
        engine
            .gate()
            .authorize_on(caller, Action::VolumeInspect, &m.name, Some(m.owner))?;
    }
    let r = dir(engine, &m.name).join("refs").join(container_id);
    fs::write(&r, b"").ctx(|| {
        format!(
            "recording that container {container_id} uses volume {}",
            m.name
        )
    })?;
    Ok(m.name)
}

/// At a volume's mount: if its data is empty, copy the image content at `target`
/// (resolved inside the container's root `root`, as the container would see it) in,
/// keeping modes, owners and links. Called by the container's init, which sees the image
/// content (its overlay is mounted only in the container's mount namespace). As Docker
/// does, this happens whenever the volume is empty (unless the mount says `nocopy`), not
/// only at its first mount; the marker beside the data (`volumes/<name>/initialized`)
/// only records that it was mounted once.
///
/// Everything goes through directory descriptors: the image side is opened with
/// `RESOLVE_IN_ROOT` (a symlink in the image cannot point the copy at the host's files),
/// and the volume side creates each entry exclusively without following links (another
/// container using the volume cannot redirect a write outside it).
pub fn copy_up_at_first_mount(data: &Path, root: BorrowedFd<'_>, target: &str) -> Result<()> {
    let Some(marker) = data.parent().map(|d| d.join("initialized")) else {
        return Ok(());
    };
    let rel = match target.trim_start_matches('/') {
        "" => ".",
        r => r,
    };
    let src = CString::new(rel).ok().and_then(|c| {
        crate::runtime::binds::openat2(
            root,
            &c,
            OFlags::RDONLY | OFlags::DIRECTORY,
            ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        )
        .ok()
    });
    let dst = open_dir_at(rustix::fs::CWD, data.as_os_str())
        .ctx(|| format!("opening volume data {}", data.display()))?;
    let empty = is_empty_dir(&dst).ctx(|| format!("reading {}", data.display()))?;
    // A target that is not a directory in the image has nothing to copy.
    if let (true, Some(src)) = (empty, src) {
        copy_dir(&src, &dst).map_err(|e| {
            e.context(format!(
                "copying image content at {target} into volume {}",
                data.display()
            ))
        })?;
        let st = rustix::fs::fstat(&src).ctx(|| format!("reading {target} in the image"))?;
        owner_and_mode(&dst, &st).ctx(|| format!("setting the owner of {}", data.display()))?;
    }
    fs::write(&marker, b"").ctx(|| format!("marking {} initialized", data.display()))
}

/// A directory opened (for reading entries) without following a final symlink.
fn open_dir_at(dir: impl AsFd, name: &std::ffi::OsStr) -> std::io::Result<OwnedFd> {
    Ok(rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

fn is_empty_dir(dir: &OwnedFd) -> std::io::Result<bool> {
    let mut d = rustix::fs::Dir::read_from(dir)?;
    while let Some(e) = d.read() {
        let e = e?;
        let n = e.file_name().to_bytes();
        if n != b"." && n != b".." {
            return Ok(false);
        }
    }
    Ok(true)
}

/// chown then chmod (chown clears set-id bits) an open file or directory like `st`.
fn owner_and_mode(fd: &OwnedFd, st: &rustix::fs::Stat) -> std::io::Result<()> {
    rustix::fs::fchown(
        fd,
        Some(rustix::fs::Uid::from_raw(st.st_uid)),
        Some(rustix::fs::Gid::from_raw(st.st_gid)),
    )?;
    rustix::fs::fchmod(fd, Mode::from_raw_mode(st.st_mode & 0o7777))?;
    Ok(())
}

/// Copy the entries of directory `src` into the directory `dst` (both open): files,
/// directories and symlinks with their modes and owners (device nodes, fifos and
/// sockets are skipped). Nothing is followed and nothing existing is overwritten.
pub fn copy_dir(src: &OwnedFd, dst: &OwnedFd) -> Result<()> {
    let mut entries = rustix::fs::Dir::read_from(src).ctx(|| "reading a directory".into())?;
    while let Some(e) = entries.read() {
        let e = e.ctx(|| "reading a directory".into())?;
        let name = std::ffi::OsStr::from_bytes(e.file_name().to_bytes()).to_os_string();
        if name == "." || name == ".." {
            continue;
        }
        let shown = Path::new(&name).display().to_string();
        let st = rustix::fs::statat(src, &name, AtFlags::SYMLINK_NOFOLLOW)
            .ctx(|| format!("reading {shown}"))?;
        match rustix::fs::FileType::from_raw_mode(st.st_mode) {
            rustix::fs::FileType::Symlink => {
                let to = rustix::fs::readlinkat(src, &name, Vec::new())
                    .ctx(|| format!("reading link {shown}"))?;
                rustix::fs::symlinkat(to.as_c_str(), dst, &name)
                    .ctx(|| format!("creating link {shown}"))?;
                rustix::fs::chownat(
                    dst,
                    &name,
                    Some(rustix::fs::Uid::from_raw(st.st_uid)),
                    Some(rustix::fs::Gid::from_raw(st.st_gid)),
                    AtFlags::SYMLINK_NOFOLLOW,
                )
                .ctx(|| format!("setting the owner of {shown}"))?;
            }
            rustix::fs::FileType::Directory => {
                rustix::fs::mkdirat(dst, &name, Mode::from_raw_mode(0o700))
                    .ctx(|| format!("creating {shown}"))?;
                let from = open_dir_at(src, &name).ctx(|| format!("opening {shown}"))?;
                let to = open_dir_at(dst, &name).ctx(|| format!("opening {shown}"))?;
                copy_dir(&from, &to).map_err(|e| e.context(&shown))?;
                owner_and_mode(&to, &st).ctx(|| format!("setting the owner of {shown}"))?;
            }
            rustix::fs::FileType::RegularFile => {
                let from = rustix::fs::openat(
                    src,
                    &name,
                    OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .ctx(|| format!("opening {shown}"))?;
                let to = rustix::fs::openat(
                    dst,
                    &name,
                    OFlags::WRONLY
                        | OFlags::CREATE
                        | OFlags::EXCL
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o600),
                )
                .ctx(|| format!("creating {shown}"))?;
                let (mut r, mut w) = (fs::File::from(from), fs::File::from(to));
                std::io::copy(&mut r, &mut w).ctx(|| format!("copying {shown}"))?;
                owner_and_mode(&OwnedFd::from(w), &st)
                    .ctx(|| format!("setting the owner of {shown}"))?;
            }
            _ => continue,
        }
    }
    Ok(())
}

/// Record a mount or unmount event (`action` is `mount` or `unmount`).
pub fn emit_mount(
    engine: &LocalEngine,
    action: &str,
    name: &str,
    container_id: &str,
    destination: &str,
    read_write: bool,
) {
    let mut ev = Event::new(EventType::Volume, action, name)
        .attr("container", container_id)
        .attr("driver", "local");
    if action == "mount" {
        ev = ev
            .attr("destination", destination)
            .attr("read/write", read_write.to_string())
            .attr("propagation", "");
    }
    engine.emit(ev);
}

/// Forget that `container_id` uses any volume; with `remove_anonymous`, remove the
/// anonymous volumes no other container uses (`rm -v`, `--rm`).
pub fn release(engine: &LocalEngine, container_id: &str, remove_anonymous: bool) -> Result<()> {
    let root = engine.root().volumes();
    let Ok(rd) = fs::read_dir(&root) else {
        return Ok(());
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let r = e.path().join("refs").join(container_id);
        if !r.exists() {
            continue;
        }
        fs::remove_file(&r).ctx(|| format!("releasing volume {name}"))?;
        if remove_anonymous {
            if let Ok(m) = load(engine, &name) {
                if m.anonymous && refs(engine, &name).is_empty() {
                    destroy(engine, &m)?;
                }
            }
        }
    }
    Ok(())
}

fn destroy(engine: &LocalEngine, m: &Meta) -> Result<()> {
    let d = dir(engine, &m.name);
    // Rename first so a crash mid-delete leaves no half volume under its name.
    let trash = engine
        .root()
        .tmp()
        .join(format!("volume-rm-{}", &crate::ids::new_id()[..16]));
    fs::rename(&d, &trash).ctx(|| format!("removing volume {}", m.name))?;
    fs::remove_dir_all(&trash).ctx(|| format!("removing volume {}", m.name))?;
    engine.emit(
        Event::new(EventType::Volume, "destroy", &m.name)
            .attr("driver", "local")
            .owned_by(m.owner),
    );
    Ok(())
}

fn all(engine: &LocalEngine) -> Result<Vec<Meta>> {
    let root = engine.root().volumes();
    let mut out = Vec::new();
    for e in fs::read_dir(&root)
        .ctx(|| format!("listing {}", root.display()))?
        .flatten()
    {
        if let Some(m) = read_json::<Meta>(&e.path().join("meta.json"))? {
            out.push(m);
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

impl VolumeApi for LocalEngine {
    fn volume_create(&self, caller: &Caller, opts: &VolumeCreate) -> Result<Volume> {
        self.gate().authorize_on(
            caller,
            Action::VolumeCreate,
            opts.name.as_deref().unwrap_or(""),
            None,
        )?;
        let (m, made) = create(self, caller, opts.name.as_deref(), &opts.labels, false)?;
        crate::trace_step!(
            "{} volumes/{}/_data on the host",
            if made { "made" } else { "kept the existing" },
            m.name
        );
        if m.owner != caller.uid {
            self.gate()
                .authorize_on(caller, Action::VolumeInspect, &m.name, Some(m.owner))?;
        }
        Ok(to_volume(self, &m, false))
    }

    fn volume_list(&self, caller: &Caller, opts: &VolumeListOptions) -> Result<Vec<Volume>> {
        self.gate().authorize(caller, Action::VolumeList)?;
        let mut out = Vec::new();
        crate::filters::check_keys(
            &opts.filters,
            &["dangling", "name", "label", "driver"],
            |k| format!("invalid volume filter {k:?}: use dangling, name, label or driver"),
        )?;
        for m in all(self)? {
            if !self.gate().can_see(caller, m.owner) {
                continue;
            }
            let keep = crate::filters::matches(&opts.filters, |k, v| {
                Ok(match k {
                    "dangling" => {
                        crate::filters::bool_value(k, v)? == refs(self, &m.name).is_empty()
                    }
                    "name" => crate::filters::name_holds(&m.name, v),
                    "label" => crate::filters::label_holds(&m.labels, v),
                    "driver" => v == "local",
                    _ => false,
                })
            })?;
            if !keep {
                continue;
            }
            out.push(to_volume(self, &m, true));
        }
        Ok(out)
    }

    fn volume_inspect(&self, caller: &Caller, name: &str) -> Result<Volume> {
        let m = load(self, name)?;
        self.gate()
            .authorize_on(caller, Action::VolumeInspect, name, Some(m.owner))?;
        Ok(to_volume(self, &m, true))
    }

    fn volume_remove(&self, caller: &Caller, name: &str, force: bool) -> Result<()> {
        let m = match load(self, name) {
            Err(e) if force && e.kind == crate::ErrorKind::NotFound => return Ok(()),
            r => r?,
        };
        self.gate()
            .authorize_on(caller, Action::VolumeRemove, name, Some(m.owner))?;
        let _lock = self.root().lock("volumes")?;
        let users = refs(self, name);
        if !users.is_empty() {
            // dockerd's words (clients match on them): full ids, space-separated.
            return Err(EngineError::conflict(format!(
                "remove {name}: volume is in use - [{}]",
                users.join(" ")
            )));
        }
        destroy(self, &m)
    }

    fn volume_prune(&self, caller: &Caller, all_volumes: bool) -> Result<PruneReport> {
        self.gate().authorize(caller, Action::VolumePrune)?;
        let _lock = self.root().lock("volumes")?;
        let mut report = PruneReport::default();
        for m in all(self)? {
            if !self.gate().can_see(caller, m.owner)
                || !(m.anonymous || all_volumes)
                || !refs(self, &m.name).is_empty()
            {
                continue;
            }
            let size = dir_size(&data_path(self, &m.name));
            destroy(self, &m)?;
            report.deleted.push(m.name);
            report.reclaimed += size;
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EngineOptions;
    use std::os::unix::fs::MetadataExt;

    fn engine() -> (tempfile::TempDir, LocalEngine) {
        let d = tempfile::tempdir().unwrap();
        let e = LocalEngine::open(d.path(), EngineOptions::default()).unwrap();
        (d, e)
    }

    #[test]
    fn create_list_inspect_remove_prune() {
        let (_d, e) = engine();
        let c = Caller::root();
        let mut labels = BTreeMap::new();
        labels.insert("app".to_string(), "db".to_string());
        let v = e
            .volume_create(
                &c,
                &VolumeCreate {
                    name: Some("data".into()),
                    labels,
                },
            )
            .unwrap();
        assert_eq!(v.driver, "local");
        assert!(Path::new(&v.mountpoint).is_dir());
        // Creating again returns the same volume.
        assert_eq!(
            e.volume_create(
                &c,
                &VolumeCreate {
                    name: Some("data".into()),
                    ..Default::default()
                }
            )
            .unwrap()
            .created_at,
            v.created_at
        );
        fs::write(Path::new(&v.mountpoint).join("f"), b"12345").unwrap();
        let i = e.volume_inspect(&c, "data").unwrap();
        assert_eq!(i.usage_data.unwrap().size, 5);
        assert_eq!(
            e.volume_list(
                &c,
                &VolumeListOptions {
                    filters: vec![("label".into(), "app=db".into())]
                }
            )
            .unwrap()
            .len(),
            1
        );
        assert!(e
            .volume_list(
                &c,
                &VolumeListOptions {
                    filters: vec![("bogus".into(), "x".into())]
                }
            )
            .is_err());

        // In use: refused, even with force; released: removed.
        fs::create_dir_all(e.root().containers().join("c1")).unwrap();
        acquire(&e, &c, Some("data"), "c1").unwrap();
        let err = e.volume_remove(&c, "data", true).unwrap_err();
        assert_eq!(err.message, "remove data: volume is in use - [c1]");
        release(&e, "c1", true).unwrap();
        e.volume_remove(&c, "data", false).unwrap();
        assert!(!e.root().volumes().join("data").exists());
        assert_eq!(
            e.volume_inspect(&c, "data").unwrap_err().kind,
            crate::ErrorKind::NotFound
        );

        // Anonymous volumes go with rm -v; prune takes unused anonymous ones only unless -a.
        let anon = acquire(&e, &c, None, "c1").unwrap();
        assert_eq!(anon.len(), 64);
        release(&e, "c1", true).unwrap();
        assert!(!e.root().volumes().join(&anon).exists());
        let anon2 = acquire(&e, &c, None, "c1").unwrap();
        release(&e, "c1", false).unwrap();
        e.volume_create(
            &c,
            &VolumeCreate {
                name: Some("keep".into()),
                ..Default::default()
            },
        )
        .unwrap();
        let r = e.volume_prune(&c, false).unwrap();
        assert_eq!(r.deleted, vec![anon2]);
        assert_eq!(
            e.volume_prune(&c, true).unwrap().deleted,
            vec!["keep".to_string()]
        );
        let actions: Vec<String> = e
            .journal()
            .read(None, None)
            .unwrap()
            .iter()
            .map(|ev| ev.action.clone())
            .collect();
        assert!(
            actions.contains(&"create".to_string()) && actions.contains(&"destroy".to_string())
        );
        assert!(
            e.root().tmp().read_dir().unwrap().next().is_none(),
            "nothing left in tmp"
        );
    }

    #[test]
    fn bad_names_are_refused() {
        let (_d, e) = engine();
        for bad in ["a", "-x", "../etc", "a/b", ""] {
            let err = e
                .volume_create(
                    &Caller::root(),
                    &VolumeCreate {
                        name: Some(bad.into()),
                        ..Default::default()
                    },
                )
                .unwrap_err();
            assert!(err.message.contains("invalid volume name"), "{bad}: {err}");
        }
    }

    #[test]
    fn copy_up_keeps_modes_owners_and_links_whenever_empty() {
        let (d, e) = engine();
        let src = d.path().join("img");
        fs::create_dir_all(src.join("sub")).unwrap();
        fs::write(src.join("sub/file"), b"hi").unwrap();
        fs::set_permissions(src.join("sub/file"), fs::Permissions::from_mode(0o640)).unwrap();
        nix::unistd::chown(&src.join("sub/file"), Some(1234.into()), Some(4321.into())).unwrap();
        std::os::unix::fs::symlink("sub/file", src.join("link")).unwrap();
        fs::set_permissions(&src, fs::Permissions::from_mode(0o1777)).unwrap();
        let name = acquire(&e, &Caller::root(), Some("cache"), "c1").unwrap();
        // The image's root is the temporary directory; `/img` is the mount target.
        let root = fs::File::open(d.path()).unwrap();
        copy_up_at_first_mount(&data_path(&e, &name), root.as_fd(), "/img").unwrap();
        let data = data_path(&e, &name);
        let md = data.join("sub/file").metadata().unwrap();
        assert_eq!(
            (md.mode() & 0o7777, md.uid(), md.gid()),
            (0o640, 1234, 4321)
        );
        assert_eq!(
            fs::read_link(data.join("link")).unwrap(),
            Path::new("sub/file")
        );
        assert_eq!(data.metadata().unwrap().mode() & 0o7777, 0o1777);
        // A volume with content is left alone...
        fs::remove_file(data.join("link")).unwrap();
        copy_up_at_first_mount(&data_path(&e, &name), root.as_fd(), "/img").unwrap();
        assert!(!data.join("link").exists());
        // ...and an empty one is filled again, as Docker does at every mount.
        fs::remove_dir_all(data.join("sub")).unwrap();
        copy_up_at_first_mount(&data_path(&e, &name), root.as_fd(), "/img").unwrap();
        assert!(data.join("link").exists() && data.join("sub/file").exists());
    }

    /// The image decides what is at the mount target, so a symlink there (or on the way)
    /// is resolved inside the container's root, never on the host: an image with
    /// `/data -> /etc` gets its own /etc copied, not the host's.
    #[test]
    fn copy_up_follows_image_symlinks_inside_the_image() {
        let (d, e) = engine();
        let img = d.path().join("image-root");
        fs::create_dir_all(img.join("etc")).unwrap();
        fs::write(img.join("etc/only-in-image"), b"image").unwrap();
        std::os::unix::fs::symlink("/etc", img.join("data")).unwrap();
        std::os::unix::fs::symlink("../../../../../../etc", img.join("rel")).unwrap();
        let root = fs::File::open(&img).unwrap();
        for (vol, target) in [("abs", "/data"), ("rel", "/rel"), ("dots", "/../../etc")] {
            let name = acquire(&e, &Caller::root(), Some(vol), "c1").unwrap();
            copy_up_at_first_mount(&data_path(&e, &name), root.as_fd(), target).unwrap();
            let got: Vec<String> = fs::read_dir(data_path(&e, &name))
                .unwrap()
                .map(|x| x.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            assert_eq!(got, vec!["only-in-image".to_string()], "{target}");
        }
    }
}
