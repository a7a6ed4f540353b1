//! The container toolbox on [`LocalEngine`]: `top`, `diff`, `cp` (archive get/put and
//! stat), `export`, `commit`, and health checks ([`health`]).
//!
//! Files are reached through [`fs::RootDir`]: the running container's own root, or a
//! private overlay mount of its layers (stopped containers, export, commit), and every
//! path is resolved inside that root.

pub mod fs;
pub mod health;
pub mod tarball;

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, OFlags};
use serde_json::{json, Value};

use super::cgroups::Cgroup;
use super::config::ContainerConfig;
use super::state::RunState;
use super::{event, paths};
use crate::api::{
    Change, ChangeKind, CommitOptions, ContainerStatus, PathStat, ToolboxApi, TopResult,
};
use crate::caller::Caller;
use crate::error::{EngineError, Result};
use crate::image::store::NewImage;
use crate::policy::Action;
use crate::LocalEngine;

use fs::RootDir;
use tarball::{TarWriter, Walk};

fn running(st: &RunState) -> bool {
    matches!(
        st.status,
        ContainerStatus::Running | ContainerStatus::Paused
    ) && st.pid_alive()
}

impl LocalEngine {
    /// The container's root for reading: its live root when running (volumes included),
    /// a private read-only overlay of its layers otherwise.
    fn read_root(&self, cfg: &ContainerConfig, st: &RunState) -> Result<RootDir> {
        if running(st) {
            return RootDir::of_process(st.pid);
        }
        RootDir::overlay(
            &paths::dir(self, &cfg.id).join("diff"),
            None,
            &super::mount_points::layers_for(self, &cfg.layer_dirs),
        )
    }

    /// The container's root for writing, and the start lock that keeps a stopped
    /// container from starting while its layer is mounted here.
    fn write_root(
        &self,
        cfg: &ContainerConfig,
        st: &RunState,
    ) -> Result<(RootDir, Option<crate::state::FileLock>)> {
        if running(st) {
            return Ok((RootDir::of_process(st.pid)?, None));
        }
        let dir = paths::dir(self, &cfg.id);
        let lock = crate::state::FileLock::exclusive(&dir.join("start.lock"))?;
        let (_, st) = self.observe(&cfg.id)?;
        if running(&st) {
            drop(lock);
            return Ok((RootDir::of_process(st.pid)?, None));
        }
        // The layers it runs with: its /etc mount points are there whether it runs or not.
        let layers = super::mount_points::layers_for(self, &cfg.layer_dirs);
        let root = RootDir::overlay(&dir.join("diff"), Some(&dir.join("work")), &layers)?;
        Ok((root, Some(lock)))
    }
}

impl LocalEngine {
    /// The container's writable layer as a layer tar (deletions as OCI whiteouts),
    /// without the runtime's own mount points: what `commit` and the builder store.
    pub(crate) fn write_upper_layer(
        &self,
        cfg: &ContainerConfig,
        out: &mut dyn Write,
    ) -> Result<()> {
        let upper = paths::dir(self, &cfg.id).join("diff");
        let ufd = rustix::fs::open(
            &upper,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .map_err(|e| {
            EngineError::io(
                format!("opening {}", upper.display()),
                std::io::Error::from_raw_os_error(e.raw_os_error()),
            )
        })?;
        let mut w = TarWriter::new(out, Walk::Upper);
        // The runtime's mount points are not part of the container's changes.
        let mut names: Vec<String> = Vec::new();
        if let Ok(d) = rustix::fs::Dir::read_from(&ufd) {
            for e in d.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                if n != "." && n != ".." {
                    names.push(n);
                }
            }
        }
        names.sort();
        for n in names {
            if n == "etc" || n == "dev" {
                let sub = rustix::fs::openat(
                    &ufd,
                    n.as_str(),
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    rustix::fs::Mode::empty(),
                );
                if let Ok(sub) = sub {
                    let mut kids = Vec::new();
                    if let Ok(d) = rustix::fs::Dir::read_from(&sub) {
                        for e in d.flatten() {
                            let k = e.file_name().to_string_lossy().into_owned();
                            if k != "." && k != ".." {
                                kids.push(k);
                            }
                        }
                    }
                    kids.sort();
                    let keep: Vec<String> = kids
                        .into_iter()
                        .filter(|k| {
                            let p = format!("/{n}/{k}");
                            !runtime_artifact(&p)
                                || in_lower(&cfg.layer_dirs, p.trim_start_matches('/'))
                        })
                        .collect();
                    if keep.is_empty() && in_lower(&cfg.layer_dirs, &n) {
                        continue;
                    }
                    w.add_dir_only(ufd.as_fd(), OsStr::new(&n), &n)?;
                    for k in keep {
                        w.add(sub.as_fd(), OsStr::new(&k), &format!("{n}/{k}"))?;
                    }
                    continue;
                }
            }
            w.add(ufd.as_fd(), OsStr::new(&n), &n)?;
        }
        w.finish()?;
        Ok(())
    }

    /// [`Self::write_upper_layer`] of a container the caller may build with.
    pub(crate) fn container_layer(
        &self,
        caller: &Caller,
        container: &str,
        out: &mut dyn Write,
    ) -> Result<()> {
        let (cfg, _) = self.resolve_owned(caller, Action::ImageBuild, container)?;
        self.write_upper_layer(&cfg, out)
    }
}

/// Seconds since boot, and clock ticks per second.
fn uptime_and_hz() -> (f64, f64) {
    let up = std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    // SAFETY: sysconf has no memory side effects.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (up, if hz > 0.0 { hz } else { 100.0 })
}

fn boot_time() -> i64 {
    std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("btime ")?.trim().parse().ok())
        })
        .unwrap_or(0)
}

fn tty_name(nr: u64) -> String {
    let major = (nr >> 8) & 0xfff;
    let minor = (nr & 0xff) | ((nr >> 12) & 0xfff00);
    match major {
        0 => "?".into(),
        136..=143 => format!("pts/{}", minor + (major - 136) * 256),
        4 if minor < 64 => format!("tty{minor}"),
        4 => format!("ttyS{}", minor - 64),
        _ => "?".into(),
    }
}

fn cpu_time(secs: u64) -> String {
    let (d, h, m, s) = (
        secs / 86400,
        (secs / 3600) % 24,
        (secs / 60) % 60,
        secs % 60,
    );
    if d > 0 {
        format!("{d}-{h:02}:{m:02}:{s:02}")
    } else {
        format!("{h:02}:{m:02}:{s:02}")
    }
}

/// One `ps -ef` row for `pid` (host pid), or `None` if it is gone.
fn ps_row(pid: i32, up: f64, hz: f64, btime: i64) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let close = stat.rfind(')')?;
    let comm = stat.get(stat.find('(')? + 1..close)?.to_string();
    let f: Vec<&str> = stat.get(close + 2..)?.split_whitespace().collect();
    // f[0] is field 3 (state).
    let num = |i: usize| {
        f.get(i - 3)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let ppid = num(4);
    let tty = num(7);
    let ticks = num(14) + num(15);
    let start_ticks = num(22);
    let uid: u32 = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| {
            l.strip_prefix("Uid:")?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or(0);
    let user = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| uid.to_string());
    let elapsed = up - start_ticks as f64 / hz;
    let c = if elapsed > 0.0 {
        ((ticks as f64 / hz) / elapsed * 100.0) as u64
    } else {
        0
    };
    let started = btime + (start_ticks as f64 / hz) as i64;
    let stime = chrono::DateTime::from_timestamp(started, 0)
        .map(|t| {
            let t = t.with_timezone(&chrono::Local);
            if t.date_naive() == chrono::Local::now().date_naive() {
                t.format("%H:%M").to_string()
            } else {
                t.format("%b%d").to_string()
            }
        })
        .unwrap_or_default();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let cmd = if cmdline.is_empty() {
        format!("[{comm}]")
    } else {
        cmdline
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    };
    Some(vec![
        user,
        pid.to_string(),
        ppid.to_string(),
        c.to_string(),
        stime,
        tty_name(tty),
        cpu_time((ticks as f64 / hz) as u64),
        cmd,
    ])
}

/// Is `rel` (no leading slash) present in the image layers (top first, honoring
/// whiteouts and opaque directories)?
fn in_lower(layers: &[PathBuf], rel: &str) -> bool {
    let parts: Vec<&str> = rel.split('/').filter(|p| !p.is_empty()).collect();
    for layer in layers.iter().rev() {
        let mut p = layer.clone();
        for (i, part) in parts.iter().enumerate() {
            p.push(part);
            match std::fs::symlink_metadata(&p) {
                Ok(md) => {
                    use std::os::unix::fs::{FileTypeExt, MetadataExt};
                    if md.file_type().is_char_device() && md.rdev() == 0 {
                        return false; // whited out here
                    }
                    if i + 1 == parts.len() {
                        return true;
                    }
                    if !md.is_dir() {
                        break; // a file hides what lies below it
                    }
                    if matches!(xattr::get(&p, "trusted.overlay.opaque"), Ok(Some(v)) if v == b"y")
                    {
                        // Nothing under this directory comes from lower layers.
                        let rest = parts[i + 1..].join("/");
                        let mut q = p.clone();
                        q.push(&rest);
                        return std::fs::symlink_metadata(q).is_ok();
                    }
                }
                Err(_) => break,
            }
        }
    }
    false
}

/// Names in directory `rel` of the lower layers (for opaque directories).
fn lower_names(layers: &[PathBuf], rel: &str) -> Vec<String> {
    let mut out = std::collections::BTreeSet::new();
    for l in layers {
        if let Ok(rd) = std::fs::read_dir(l.join(rel)) {
            for e in rd.flatten() {
                out.insert(e.file_name().to_string_lossy().into_owned());
            }
        }
    }
    out.into_iter()
        .filter(|n| in_lower(layers, &format!("{rel}/{n}")))
        .collect()
}

fn diff_walk(upper: &Path, rel: &str, layers: &[PathBuf], out: &mut Vec<Change>) {
    let Ok(rd) = std::fs::read_dir(upper.join(rel.trim_start_matches('/'))) else {
        return;
    };
    let mut ents: Vec<_> = rd.flatten().collect();
    ents.sort_by_key(|e| e.file_name());
    for e in ents {
        use std::os::unix::fs::{FileTypeExt, MetadataExt};
        let name = e.file_name().to_string_lossy().into_owned();
        let path = format!("{rel}/{name}");
        let Ok(md) = e.path().symlink_metadata() else {
            continue;
        };
        let lower_rel = path.trim_start_matches('/');
        if md.file_type().is_char_device() && md.rdev() == 0 {
            out.push(Change {
                kind: ChangeKind::Deleted,
                path,
            });
            continue;
        }
        let existed = in_lower(layers, lower_rel);
        out.push(Change {
            kind: if existed {
                ChangeKind::Modified
            } else {
                ChangeKind::Added
            },
            path: path.clone(),
        });
        if md.is_dir() {
            let opaque = matches!(
                xattr::get(e.path(), "trusted.overlay.opaque"),
                Ok(Some(v)) if v == b"y"
            );
            if opaque && existed {
                for n in lower_names(layers, lower_rel) {
                    if std::fs::symlink_metadata(e.path().join(&n)).is_err() {
                        out.push(Change {
                            kind: ChangeKind::Deleted,
                            path: format!("{path}/{n}"),
                        });
                    }
                }
            }
            diff_walk(upper, &path, layers, out);
        }
    }
}

/// Files the runtime itself puts in the writable layer (mount points for the container's
/// hostname, hosts and resolv.conf): not the user's changes.
fn runtime_artifact(path: &str) -> bool {
    matches!(
        path,
        "/etc/hostname" | "/etc/hosts" | "/etc/resolv.conf" | "/dev/console" | "/dev/shm"
    )
}

/// One `-c` change: `HEALTHCHECK [--interval=D] [--timeout=D] [--start-period=D]
/// [--retries=N] CMD ...` or `HEALTHCHECK NONE` here, the other instructions as import does.
fn apply_commit_change(c: &mut serde_json::Map<String, Value>, change: &str) -> Result<()> {
    let t = change.trim();
    let (word, rest) = t.split_once(char::is_whitespace).unwrap_or((t, ""));
    if !word.eq_ignore_ascii_case("HEALTHCHECK") {
        return crate::image::build::apply_change(c, change);
    }
    let bad = |why: &str| EngineError::invalid(format!("--change {change:?}: {why}"));
    let mut rest = rest.trim();
    let mut hc = serde_json::Map::new();
    while let Some(opt) = rest.strip_prefix("--") {
        let (kv, tail) = opt.split_once(char::is_whitespace).unwrap_or((opt, ""));
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| bad("options are --name=value"))?;
        let key = match k {
            "interval" => "Interval",
            "timeout" => "Timeout",
            "start-period" => "StartPeriod",
            "retries" => "Retries",
            _ => {
                return Err(bad(
                    "unknown option: use --interval, --timeout, --start-period or --retries",
                ))
            }
        };
        let val = if key == "Retries" {
            json!(v
                .parse::<u32>()
                .map_err(|_| bad("--retries needs a number"))?)
        } else {
            json!(crate::api::flags::duration(
                &format!("--change HEALTHCHECK --{k}"),
                v
            )?)
        };
        hc.insert(key.into(), val);
        rest = tail.trim();
    }
    let (kind, cmd) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let test: Vec<String> = if kind.eq_ignore_ascii_case("NONE") {
        vec!["NONE".into()]
    } else if kind.eq_ignore_ascii_case("CMD") && !cmd.trim().is_empty() {
        match serde_json::from_str::<Vec<String>>(cmd.trim()) {
            Ok(v) => std::iter::once("CMD".to_string()).chain(v).collect(),
            Err(_) => vec!["CMD-SHELL".into(), cmd.trim().to_string()],
        }
    } else {
        return Err(bad(
            "give HEALTHCHECK [OPTIONS] CMD command, or HEALTHCHECK NONE",
        ));
    };
    hc.insert("Test".into(), json!(test));
    c.insert("Healthcheck".into(), Value::Object(hc));
    Ok(())
}

/// The image config of a commit: the base image's, with the container's settings and the
/// changes, plus the new layer and a history entry.
fn commit_config(
    base: &Value,
    cfg: &ContainerConfig,
    opts: &CommitOptions,
    diff_id: &str,
) -> Result<Vec<u8>> {
    let mut img = base.clone();
    let obj = img
        .as_object_mut()
        .ok_or_else(|| EngineError::corrupt("the base image config is not a JSON object"))?;
    let mut c = obj
        .get("config")
        .and_then(|c| c.as_object())
        .cloned()
        .unwrap_or_default();
    // HOSTNAME is the container's own, set again for each new container.
    let env: Vec<&String> = cfg
        .env
        .iter()
        .filter(|e| !e.starts_with("HOSTNAME="))
        .collect();
    c.insert("Env".into(), json!(env));
    if let Some(cmd) = &cfg.spec.cmd {
        c.insert("Cmd".into(), json!(cmd));
    }
    if let Some(ep) = &cfg.spec.entrypoint {
        c.insert("Entrypoint".into(), json!(ep));
    }
    c.insert("WorkingDir".into(), json!(cfg.working_dir));
    c.insert("User".into(), json!(cfg.user));
    if !cfg.labels.is_empty() {
        c.insert("Labels".into(), json!(cfg.labels));
    }
    c.remove("Hostname");
    for ch in &opts.changes {
        apply_commit_change(&mut c, ch)?;
    }
    obj.insert("config".into(), Value::Object(c));
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    obj.insert("created".into(), json!(now));
    if let Some(a) = &opts.author {
        obj.insert("author".into(), json!(a));
    }
    obj.insert("container".into(), json!(cfg.id));
    let rootfs = obj
        .entry("rootfs")
        .or_insert_with(|| json!({"type": "layers", "diff_ids": []}));
    match rootfs.get_mut("diff_ids").and_then(|d| d.as_array_mut()) {
        Some(a) => a.push(json!(diff_id)),
        None => rootfs["diff_ids"] = json!([diff_id]),
    }
    let mut h = json!({"created": now, "created_by": cfg.command_line()});
    if let Some(m) = &opts.message {
        h["comment"] = json!(m);
    }
    if let Some(a) = &opts.author {
        h["author"] = json!(a);
    }
    match obj.get_mut("history").and_then(|x| x.as_array_mut()) {
        Some(a) => a.push(h),
        None => {
            obj.insert("history".into(), json!([h]));
        }
    }
    serde_json::to_vec(&img).map_err(|e| EngineError::internal(format!("encoding the config: {e}")))
}

impl ToolboxApi for LocalEngine {
    fn container_top(&self, caller: &Caller, container: &str) -> Result<TopResult> {
        let (cfg, st) = self.resolve_owned(caller, Action::ContainerTop, container)?;
        if !running(&st) {
            return Err(EngineError::conflict(format!(
                "container {} is not running: start it with `wharf start {}`",
                cfg.name, cfg.name
            )));
        }
        let mut pids = Cgroup::for_container(&cfg.id).pids();
        pids.sort_unstable();
        pids.dedup();
        let (up, hz) = uptime_and_hz();
        let bt = boot_time();
        Ok(TopResult {
            titles: ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            processes: pids
                .into_iter()
                .filter_map(|p| ps_row(p, up, hz, bt))
                .collect(),
        })
    }

    fn container_diff(&self, caller: &Caller, container: &str) -> Result<Vec<Change>> {
        let (cfg, _) = self.resolve_owned(caller, Action::ContainerInspect, container)?;
        let upper = paths::dir(self, &cfg.id).join("diff");
        let mut out = Vec::new();
        diff_walk(&upper, "", &cfg.layer_dirs, &mut out);
        out.retain(|c| !(runtime_artifact(&c.path) && c.kind == ChangeKind::Added));
        // /etc and /dev copied up only for those mount points are no change either.
        let has_child =
            |dir: &str, out: &[Change]| out.iter().any(|c| c.path.starts_with(&format!("{dir}/")));
        let keep: Vec<bool> = out
            .iter()
            .map(|c| {
                !(matches!(c.path.as_str(), "/etc" | "/dev")
                    && c.kind == ChangeKind::Modified
                    && !has_child(&c.path, &out))
            })
            .collect();
        let mut k = keep.iter();
        out.retain(|_| *k.next().unwrap_or(&true));
        Ok(out)
    }

    fn container_export(
        &self,
        caller: &Caller,
        container: &str,
        out: &mut dyn Write,
    ) -> Result<()> {
        let (cfg, _) = self.resolve_owned(caller, Action::ContainerExport, container)?;
        let root = RootDir::overlay(
            &paths::dir(self, &cfg.id).join("diff"),
            None,
            &super::mount_points::layers_for(self, &cfg.layer_dirs),
        )?;
        let mut w = TarWriter::new(out, Walk::Plain);
        w.add_children(root.fd(), "")?;
        w.finish()?;
        self.emit(event(&cfg, "export"));
        Ok(())
    }

    fn container_commit(
        &self,
        caller: &Caller,
        container: &str,
        opts: &CommitOptions,
    ) -> Result<String> {
        let (cfg, st) = self.resolve_owned(caller, Action::ContainerCommit, container)?;
        self.gate().authorize(caller, Action::ImageImport)?;
        let tags = match &opts.reference {
            Some(r) => {
                let p = crate::image::reference::Reference::parse(r)?;
                if p.digest.is_some() {
                    return Err(EngineError::invalid(format!(
                        "cannot commit as {r:?}: give a tag, not a digest"
                    )));
                }
                vec![p.to_string()]
            }
            None => vec![],
        };
        for c in &opts.changes {
            apply_commit_change(&mut serde_json::Map::new(), c)?;
        }
        let store = self.image_store();
        let idx = store.index()?;
        let base = idx.images.get(&cfg.image_id).cloned().ok_or_else(|| {
            EngineError::not_found(
                "image",
                &cfg.image_id,
                "the container's image was removed; commit needs it: load or pull it again",
            )
        })?;
        let base_cfg: Value = serde_json::from_slice(&store.read_blob(&base.id, 16 << 20)?)
            .map_err(|e| EngineError::corrupt(format!("the config of image {}: {e}", base.id)))?;
        let mut staging = store.staging("commit")?;
        let tar_path = staging.dir().join("layer.tar");
        // Docker pauses a running container while its layer is read (`--pause`).
        let freeze = opts.pause && st.status == ContainerStatus::Running && st.pid_alive();
        let cg = Cgroup::for_container(&cfg.id);
        if freeze {
            cg.freeze(true)?;
        }
        let written = (|| -> Result<()> {
            let f = std::fs::File::create(&tar_path)
                .map_err(|e| EngineError::io(format!("creating {}", tar_path.display()), e))?;
            let mut bw = std::io::BufWriter::new(f);
            self.write_upper_layer(&cfg, &mut bw)?;
            bw.flush()
                .map_err(|e| EngineError::io("writing the layer", e))?;
            Ok(())
        })();
        if freeze {
            let _ = cg.freeze(false);
        }
        written?;
        let mut f = std::fs::File::open(&tar_path)
            .map_err(|e| EngineError::io("reading the new layer", e))?;
        let (blob, _) = staging.put_blob(&mut f, None)?;
        let config = commit_config(&base_cfg, &cfg, opts, &blob)?;
        let mut layers: Vec<(String, Option<String>)> = base
            .layers
            .iter()
            .map(|l| (l.blob.clone(), Some(l.media_type.clone())))
            .collect();
        layers.push((blob, None));
        let img = NewImage {
            config,
            manifest: None,
            layers,
            tags: tags.clone(),
            repo_digests: vec![],
        };
        store.prepare(&mut staging, &img)?;
        let done = store.commit(staging, std::slice::from_ref(&img))?;
        let id = done
            .into_iter()
            .next()
            .map(|c| c.id)
            .ok_or_else(|| EngineError::internal("commit produced no image"))?;
        let mut ev = event(&cfg, "commit").attr("imageID", &id);
        if let Some(t) = tags.first() {
            ev = ev.attr("imageRef", t);
        }
        self.emit(ev);
        Ok(id)
    }

    fn container_stat_path(
        &self,
        caller: &Caller,
        container: &str,
        path: &str,
    ) -> Result<PathStat> {
        let (cfg, st) = self.resolve_owned(caller, Action::ContainerCp, container)?;
        let root = self.read_root(&cfg, &st)?;
        // A destination is followed (inside the root) like `cd` would.
        let fd = root.open(path, OFlags::PATH).map_err(|e| {
            if e.kind == crate::error::ErrorKind::NotFound {
                EngineError::not_found(
                    "path",
                    &format!("{}:{path}", cfg.name),
                    "check the path inside the container",
                )
            } else {
                e
            }
        })?;
        let st = rustix::fs::fstat(&fd).map_err(|e| {
            EngineError::io(
                format!("stat {path}"),
                std::io::Error::from_raw_os_error(e.raw_os_error()),
            )
        })?;
        Ok(PathStat {
            name: fs::split(path).1,
            size: st.st_size as u64,
            mode: st.st_mode,
            is_dir: st.st_mode & libc::S_IFMT == libc::S_IFDIR,
            link_target: None,
            mtime: st.st_mtime,
        })
    }

    fn container_archive_get(
        &self,
        caller: &Caller,
        container: &str,
        path: &str,
        out: &mut dyn Write,
    ) -> Result<PathStat> {
        let (cfg, st) = self.resolve_owned(caller, Action::ContainerCp, container)?;
        let root = self.read_root(&cfg, &st)?;
        let stat = stat_in(&root, &cfg.name, path)?;
        let (dir, name) = fs::split(path);
        let parent = root.open(&dir, OFlags::PATH | OFlags::DIRECTORY)?;
        let mut w = TarWriter::new(out, Walk::Plain);
        if name == "." {
            w.add_children(parent.as_fd(), "")?;
        } else if path.ends_with('/') {
            // `dir/`: the directory a symlink names, under the name given.
            let d = root.open(path, OFlags::RDONLY | OFlags::DIRECTORY)?;
            w.add_dir_only(parent.as_fd(), OsStr::new(&name), &name)?;
            w.add_children(d.as_fd(), &name)?;
        } else {
            w.add(parent.as_fd(), OsStr::new(&name), &name)?;
        }
        w.finish()?;
        Ok(stat)
    }

    fn container_archive_put(
        &self,
        caller: &Caller,
        container: &str,
        dir: &str,
        input: &mut dyn Read,
    ) -> Result<()> {
        let (cfg, st) = self.resolve_owned(caller, Action::ContainerCp, container)?;
        if cfg.spec.read_only && running(&st) {
            return Err(EngineError::conflict(format!(
                "container {} has a read-only root file system: copy into a volume instead",
                cfg.name
            )));
        }
        let (root, _lock) = self.write_root(&cfg, &st)?;
        root.open(dir, OFlags::PATH | OFlags::DIRECTORY)
            .map_err(|e| {
                if e.kind == crate::error::ErrorKind::NotFound {
                    EngineError::not_found(
                        "directory",
                        &format!("{}:{dir}", cfg.name),
                        "create it first, or copy to an existing directory",
                    )
                } else {
                    e
                }
            })?;
        tarball::extract(root.fd(), dir, input)?;
        self.emit(event(&cfg, "copy").attr("path", dir));
        Ok(())
    }
}

/// Stat `path` in the container without following its last component.
fn stat_in(root: &RootDir, name: &str, path: &str) -> Result<PathStat> {
    let (dir, base) = fs::split(path);
    let parent = root
        .open(&dir, OFlags::PATH | OFlags::DIRECTORY)
        .map_err(|e| {
            if e.kind == crate::error::ErrorKind::NotFound {
                EngineError::not_found(
                    "path",
                    &format!("{name}:{path}"),
                    "check the path inside the container",
                )
            } else {
                e
            }
        })?;
    let st =
        rustix::fs::statat(&parent, base.as_str(), AtFlags::SYMLINK_NOFOLLOW).map_err(|e| {
            if e == rustix::io::Errno::NOENT {
                EngineError::not_found(
                    "path",
                    &format!("{name}:{path}"),
                    "check the path inside the container",
                )
            } else {
                EngineError::io(
                    format!("stat {path}"),
                    std::io::Error::from_raw_os_error(e.raw_os_error()),
                )
            }
        })?;
    let fmt = st.st_mode & libc::S_IFMT;
    let link_target = (fmt == libc::S_IFLNK)
        .then(|| rustix::fs::readlinkat(&parent, base.as_str(), Vec::new()).ok())
        .flatten()
        .map(|t| t.to_string_lossy().into_owned());
    Ok(PathStat {
        name: base,
        size: st.st_size as u64,
        mode: st.st_mode,
        is_dir: fmt == libc::S_IFDIR,
        link_target,
        mtime: st.st_mtime,
    })
}
