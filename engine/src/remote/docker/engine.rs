//! The engine API's areas on a Docker API service, one `impl` per area.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bollard::container::LogOutput;
use bollard::models as m;
use bollard::query_parameters as q;
use bytes::Bytes;
use futures::StreamExt;
use serde_json::Value;
use tokio::io::AsyncWriteExt;

use super::{convert, DockerEngine};
use crate::api::*;
use crate::caller::{Caller, Role};
use crate::error::{EngineError, Result};
use crate::events::Event;
use crate::runtime::attach;

/// Hand each item of `s` to `tx` until the stream ends or the receiver is gone.
async fn forward<T>(s: impl futures::Stream<Item = T>, tx: &tokio::sync::mpsc::Sender<T>) {
    let mut s = std::pin::pin!(s);
    while let Some(item) = s.next().await {
        if tx.send(item).await.is_err() {
            break;
        }
    }
}

/// A sink of a byte stream that writes it to `out`; the first write error ends it and
/// is kept in `err`.
fn writer<'a>(
    out: &'a mut dyn Write,
    err: &'a mut Option<std::io::Error>,
) -> impl FnMut(Bytes) -> bool + 'a {
    move |b: Bytes| match out.write_all(&b) {
        Ok(()) => true,
        Err(e) => {
            *err = Some(e);
            false
        }
    }
}

fn filters(pairs: &[(String, String)]) -> Option<HashMap<String, Vec<String>>> {
    if pairs.is_empty() {
        return None;
    }
    let mut f: HashMap<String, Vec<String>> = HashMap::new();
    for (k, v) in pairs {
        f.entry(k.clone()).or_default().push(v.clone());
    }
    Some(f)
}

/// Whole seconds as Docker's `since`/`until` take them (Podman reads no fraction);
/// `up` rounds up (an `until` keeps the events of its last second).
fn docker_time(nanos: i64, up: bool) -> String {
    let s = nanos.div_euclid(1_000_000_000);
    let s = if up && nanos.rem_euclid(1_000_000_000) > 0 {
        s + 1
    } else {
        s
    };
    s.to_string()
}

impl SystemApi for DockerEngine {
    fn info(&self, caller: &Caller) -> Result<SystemInfo> {
        let d = self.docker.clone();
        let i = self.block(async move { d.info().await })?;
        let cgroup = i.cgroup_version.map(|v| v.to_string()).unwrap_or_default();
        Ok(SystemInfo {
            engine_version: format!("{} {}", self.flavor.as_str(), self.version),
            hostname: i.name.unwrap_or_default(),
            kernel: i.kernel_version.unwrap_or_default(),
            os: i.operating_system.unwrap_or_default(),
            cgroup_mode: if cgroup == "2" {
                CgroupMode::V2
            } else {
                CgroupMode::V1
            },
            root: i.docker_root_dir.unwrap_or_default(),
            ncpu: i.ncpu.unwrap_or(0).max(0) as usize,
            mem_total: i.mem_total.unwrap_or(0).max(0) as u64,
            containers: i.containers.unwrap_or(0).max(0) as usize,
            running: i.containers_running.unwrap_or(0).max(0) as usize,
            paused: i.containers_paused.unwrap_or(0).max(0) as usize,
            stopped: i.containers_stopped.unwrap_or(0).max(0) as usize,
            images: i.images.unwrap_or(0).max(0) as usize,
            caller: self.whoami(caller)?,
        })
    }

    fn events(
        &self,
        _caller: &Caller,
        filter: &EventFilter,
        sink: &mut dyn FnMut(Event) -> bool,
    ) -> Result<()> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        pairs.extend(filter.types.iter().map(|t| ("type".to_string(), t.clone())));
        pairs.extend(
            filter
                .actions
                .iter()
                .map(|a| ("event".to_string(), a.clone())),
        );
        pairs.extend(filter.objects.iter().cloned());
        pairs.extend(
            filter
                .labels
                .iter()
                .map(|l| ("label".to_string(), l.clone())),
        );
        let until = match (filter.until, filter.follow) {
            (Some(u), _) => Some(docker_time(u, true)),
            // Stored events only: up to now, then the stream ends.
            (None, false) => Some(docker_time(
                chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0),
                true,
            )),
            (None, true) => None,
        };
        let opts = q::EventsOptions {
            since: filter.since.map(|n| docker_time(n, false)),
            until,
            filters: filters(&pairs),
        };
        let d = self.docker.clone();
        self.stream(
            move |tx| {
                Box::pin(async move {
                    let s = d.events(Some(opts));
                    forward(s, &tx).await;
                })
            },
            &mut |e| match convert::event(e) {
                Some(ev) => sink(ev),
                None => true,
            },
        )
    }
}

impl AuditApi for DockerEngine {
    fn whoami(&self, caller: &Caller) -> Result<Caller> {
        // The service knows no users: whoever reaches its socket may do everything.
        Ok(Caller {
            role: Role(self.flavor.as_str().into()),
            project: None,
            ..caller.clone()
        })
    }
    fn audit_read(&self, _caller: &Caller) -> Result<Vec<crate::policy::audit::AuditEntry>> {
        Err(self.refused(
            "the audit journal (audit.read)",
            "it keeps none; audit is wharf's own",
        ))
    }
    fn audit_verify(&self, _caller: &Caller) -> Result<u64> {
        Err(self.refused(
            "audit verification (audit.verify)",
            "it keeps no audit journal",
        ))
    }
    fn permissions(&self, _caller: &Caller) -> Result<Permissions> {
        // Everything the service does, for anyone who reaches it; nothing of wharf's own
        // (audit, policy).
        use crate::policy::Action;
        let allowed = Action::ALL
            .iter()
            .filter(|a| !matches!(a.kind(), "audit" | "policy"))
            .map(|a| a.as_str().to_string())
            .collect();
        Ok(Permissions {
            role: self.flavor.as_str().into(),
            allowed,
            read_only: false,
        })
    }
}

impl ImageApi for DockerEngine {
    fn image_list(&self, _caller: &Caller, opts: &ImageListOptions) -> Result<Vec<ImageSummary>> {
        let mut pairs = Vec::new();
        if let Some(d) = opts.dangling {
            pairs.push(("dangling".to_string(), d.to_string()));
        }
        pairs.extend(
            opts.reference
                .iter()
                .map(|r| ("reference".to_string(), r.clone())),
        );
        let o = q::ListImagesOptions {
            all: opts.all,
            filters: filters(&pairs),
            ..Default::default()
        };
        let d = self.docker.clone();
        let v = self.block(async move { d.list_images(Some(o)).await })?;
        Ok(v.into_iter().map(convert::image).collect())
    }
    fn image_inspect(&self, _caller: &Caller, reference: &str) -> Result<Value> {
        let d = self.docker.clone();
        let r = reference.to_string();
        let v = self.block(async move { d.inspect_image(&r).await })?;
        serde_json::to_value(v).map_err(|e| EngineError::internal(e.to_string()))
    }
    fn image_history(&self, _caller: &Caller, reference: &str) -> Result<Vec<HistoryEntry>> {
        let d = self.docker.clone();
        let r = reference.to_string();
        let v = self.block(async move { d.image_history(&r).await })?;
        Ok(v.into_iter()
            .map(|h| HistoryEntry {
                id: h.id,
                created: h.created,
                empty_layer: h.size == 0,
                created_by: h.created_by,
                size: h.size.max(0) as u64,
                comment: h.comment,
            })
            .collect())
    }
    fn image_load(&self, _caller: &Caller, input: &mut dyn Read) -> Result<LoadReport> {
        let mut buf = Vec::new();
        input
            .read_to_end(&mut buf)
            .map_err(|e| EngineError::io("reading the archive", e))?;
        let d = self.docker.clone();
        let infos = self.block(async move {
            let s = d.import_image(
                q::ImportImageOptions {
                    quiet: true,
                    ..Default::default()
                },
                bollard::body_full(Bytes::from(buf)),
                None,
            );
            s.collect::<Vec<_>>()
                .await
                .into_iter()
                .collect::<std::result::Result<Vec<_>, _>>()
        })?;
        let mut rep = LoadReport::default();
        for i in infos {
            if let Some(e) = i.error_detail.and_then(|e| e.message) {
                return Err(EngineError::invalid(format!("loading failed: {e}")));
            }
            let text = i.stream.unwrap_or_default();
            for line in text.lines() {
                if let Some(r) = line.strip_prefix("Loaded image: ") {
                    rep.tagged.push(r.trim().to_string());
                } else if let Some(r) = line.strip_prefix("Loaded image ID: ") {
                    rep.untagged_ids.push(r.trim().to_string());
                }
            }
        }
        Ok(rep)
    }
    fn image_import(
        &self,
        _caller: &Caller,
        input: &mut dyn Read,
        opts: &ImportOptions,
    ) -> Result<String> {
        let mut buf = Vec::new();
        input
            .read_to_end(&mut buf)
            .map_err(|e| EngineError::io("reading the root file system", e))?;
        let (repo, tag) = match &opts.reference {
            Some(r) => match r.rsplit_once(':').filter(|(_, t)| !t.contains('/')) {
                Some((a, b)) => (Some(a.to_string()), Some(b.to_string())),
                None => (Some(r.clone()), Some("latest".to_string())),
            },
            None => (None, None),
        };
        let o = q::CreateImageOptions {
            from_src: Some("-".into()),
            repo,
            tag,
            message: opts.message.clone(),
            changes: opts.changes.clone(),
            ..Default::default()
        };
        let d = self.docker.clone();
        let infos = self.block(async move {
            d.create_image(Some(o), Some(bollard::body_full(Bytes::from(buf))), None)
                .collect::<Vec<_>>()
                .await
                .into_iter()
                .collect::<std::result::Result<Vec<_>, _>>()
        })?;
        let id = infos
            .iter()
            .rev()
            .find_map(|i| i.status.clone().filter(|s| s.starts_with("sha256:")))
            .unwrap_or_default();
        Ok(id)
    }
    fn image_save(
        &self,
        _caller: &Caller,
        references: &[String],
        format: SaveFormat,
        out: &mut dyn Write,
    ) -> Result<()> {
        if format == SaveFormat::Oci {
            return Err(self.refused(
                "saving as an OCI layout",
                "its save writes docker save archives only",
            ));
        }
        let d = self.docker.clone();
        let refs = references.to_vec();
        let mut err = None;
        self.stream(
            move |tx| {
                Box::pin(async move {
                    let r: Vec<&str> = refs.iter().map(String::as_str).collect();
                    let s = d.export_images(&r);
                    forward(s, &tx).await;
                })
            },
            &mut writer(out, &mut err),
        )?;
        match err {
            Some(e) => Err(EngineError::io("writing the archive", e)),
            None => Ok(()),
        }
    }
    fn image_tag(&self, _caller: &Caller, source: &str, target: &str) -> Result<()> {
        let (repo, tag) = match target.rsplit_once(':').filter(|(_, t)| !t.contains('/')) {
            Some((a, b)) => (a.to_string(), b.to_string()),
            None => (target.to_string(), "latest".to_string()),
        };
        let d = self.docker.clone();
        let s = source.to_string();
        self.block(async move {
            d.tag_image(
                &s,
                Some(q::TagImageOptions {
                    repo: Some(repo),
                    tag: Some(tag),
                }),
            )
            .await
        })
    }
    fn image_remove(
        &self,
        _caller: &Caller,
        reference: &str,
        force: bool,
    ) -> Result<Vec<RemoveOutcome>> {
        let d = self.docker.clone();
        let r = reference.to_string();
        let v = self.block(async move {
            d.remove_image(
                &r,
                Some(q::RemoveImageOptions {
                    force,
                    ..Default::default()
                }),
                None,
            )
            .await
        })?;
        Ok(v.into_iter()
            .flat_map(|i| {
                i.untagged
                    .map(RemoveOutcome::Untagged)
                    .into_iter()
                    .chain(i.deleted.map(RemoveOutcome::Deleted))
            })
            .collect())
    }
    fn image_prune(&self, _caller: &Caller, all: bool) -> Result<PruneReport> {
        let f = if all {
            filters(&[("dangling".into(), "false".into())])
        } else {
            None
        };
        let d = self.docker.clone();
        let r = self.block(async move {
            d.prune_images(Some(q::PruneImagesOptions { filters: f }))
                .await
        })?;
        Ok(PruneReport {
            deleted: r
                .images_deleted
                .unwrap_or_default()
                .into_iter()
                .filter_map(|i| i.deleted.or(i.untagged))
                .collect(),
            reclaimed: r.space_reclaimed.unwrap_or(0).max(0) as u64,
        })
    }
    fn image_build_demo(&self, _caller: &Caller, _reference: &str) -> Result<String> {
        Err(self.refused(
            "building the offline demo image",
            "build it with wharf's own engine and load it there: \
             `wharf image demo && wharf save wharf/demo | docker load`",
        ))
    }
    fn image_disk_usage(&self, caller: &Caller) -> Result<ImageDiskUsage> {
        // /system/df changed shape across API versions: the image list says the same.
        let images = self.image_list(caller, &ImageListOptions::default())?;
        let size: u64 = images.iter().map(|i| i.size).sum();
        let active = images.iter().filter(|i| i.containers > 0).count();
        let reclaimable: u64 = images
            .iter()
            .filter(|i| i.containers == 0)
            .map(|i| i.size)
            .sum();
        Ok(ImageDiskUsage {
            count: images.len(),
            active,
            size,
            reclaimable,
            staging: StagingUsage::default(),
        })
    }
}

fn progress_of(
    id: Option<String>,
    status: Option<String>,
    p: Option<m::ProgressDetail>,
) -> Progress {
    match id {
        Some(id) if !id.is_empty() => {
            let p = p.unwrap_or_default();
            Progress::Layer {
                id,
                status: status.unwrap_or_default(),
                current: p.current.unwrap_or(0).max(0) as u64,
                total: p.total.filter(|t| *t > 0).map(|t| t as u64),
            }
        }
        _ => Progress::Message(status.unwrap_or_default()),
    }
}

impl RegistryApi for DockerEngine {
    fn image_pull(
        &self,
        _caller: &Caller,
        reference: &str,
        opts: &PullOptions,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<String> {
        let (image, tag) = match reference.rsplit_once(':').filter(|(_, t)| !t.contains('/')) {
            Some((a, b)) if !reference.contains('@') => (a.to_string(), Some(b.to_string())),
            _ => (reference.to_string(), None),
        };
        let o = q::CreateImageOptions {
            from_image: Some(image),
            tag: tag.or_else(|| (!reference.contains('@')).then(|| "latest".to_string())),
            platform: opts.platform.clone().unwrap_or_default(),
            ..Default::default()
        };
        let creds = opts
            .auth
            .as_ref()
            .map(|a| bollard::auth::DockerCredentials {
                username: Some(a.username.clone()),
                password: Some(a.password.clone()),
                ..Default::default()
            });
        let d = self.docker.clone();
        let mut failed = None;
        self.stream(
            move |tx| {
                Box::pin(async move {
                    let s = d.create_image(Some(o), None, creds);
                    forward(s, &tx).await;
                })
            },
            &mut |i: m::CreateImageInfo| {
                if let Some(e) = i.error_detail.and_then(|e| e.message) {
                    failed = Some(e);
                    return false;
                }
                progress(progress_of(i.id, i.status, i.progress_detail));
                true
            },
        )?;
        if let Some(e) = failed {
            return Err(EngineError::unavailable(format!(
                "pulling {reference} failed: {e}"
            )));
        }
        let v = self.image_inspect(_caller, reference)?;
        Ok(v["Id"].as_str().unwrap_or_default().to_string())
    }
    fn image_push(
        &self,
        _caller: &Caller,
        reference: &str,
        opts: &PushOptions,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<()> {
        let (image, tag) = match reference.rsplit_once(':').filter(|(_, t)| !t.contains('/')) {
            Some((a, b)) => (a.to_string(), Some(b.to_string())),
            None => (reference.to_string(), None),
        };
        let creds = opts
            .auth
            .as_ref()
            .map(|a| bollard::auth::DockerCredentials {
                username: Some(a.username.clone()),
                password: Some(a.password.clone()),
                ..Default::default()
            });
        let d = self.docker.clone();
        let mut failed = None;
        self.stream(
            move |tx| {
                Box::pin(async move {
                    let s = d.push_image(
                        &image,
                        Some(q::PushImageOptions {
                            tag,
                            ..Default::default()
                        }),
                        creds,
                    );
                    forward(s, &tx).await;
                })
            },
            &mut |i: m::PushImageInfo| {
                if let Some(e) = i.error_detail.and_then(|e| e.message) {
                    failed = Some(e);
                    return false;
                }
                progress(progress_of(None, i.status, i.progress_detail));
                true
            },
        )?;
        match failed {
            Some(e) => Err(EngineError::unavailable(format!(
                "pushing {reference} failed: {e}"
            ))),
            None => Ok(()),
        }
    }
    fn registry_login(
        &self,
        _caller: &Caller,
        server: &str,
        _username: &str,
        _password: &str,
    ) -> Result<()> {
        Err(self.refused(
            &format!("logging in to {server}"),
            "the service stores no logins; run `docker login` there, or pull with credentials",
        ))
    }
    fn registry_logout(&self, _caller: &Caller, server: &str) -> Result<()> {
        Err(self.refused(
            &format!("logging out of {server}"),
            "the service stores no logins",
        ))
    }
}

impl ContainerApi for DockerEngine {
    fn container_create(&self, _caller: &Caller, spec: &ContainerCreate) -> Result<String> {
        if spec.check_only {
            return Err(self.refused(
                "a check-only create",
                "Docker creates or refuses; it has no dry run",
            ));
        }
        let body = convert::create(spec);
        let o = spec.name.clone().map(|n| q::CreateContainerOptions {
            name: Some(n),
            ..Default::default()
        });
        let d = self.docker.clone();
        let r = self.block(async move { d.create_container(o, body).await })?;
        Ok(r.id)
    }
    fn container_start(&self, _caller: &Caller, id: &str) -> Result<()> {
        let d = self.docker.clone();
        let id = id.to_string();
        self.block(async move { d.start_container(&id, None).await })
    }
    fn container_stop(&self, _caller: &Caller, id: &str, timeout: Option<u32>) -> Result<()> {
        let d = self.docker.clone();
        let id = id.to_string();
        self.block(async move {
            d.stop_container(
                &id,
                Some(q::StopContainerOptions {
                    t: timeout.map(|t| t as i32),
                    signal: None,
                }),
            )
            .await
        })
    }
    fn container_restart(&self, _caller: &Caller, id: &str, timeout: Option<u32>) -> Result<()> {
        let d = self.docker.clone();
        let id = id.to_string();
        self.block(async move {
            d.restart_container(
                &id,
                Some(q::RestartContainerOptions {
                    t: timeout.map(|t| t as i32),
                    signal: None,
                }),
            )
            .await
        })
    }
    fn container_kill(&self, _caller: &Caller, id: &str, signal: &str) -> Result<()> {
        let d = self.docker.clone();
        let id = id.to_string();
        let signal = signal.to_string();
        self.block(async move {
            d.kill_container(&id, Some(q::KillContainerOptions { signal }))
                .await
        })
    }
    fn container_pause(&self, _caller: &Caller, id: &str) -> Result<()> {
        let d = self.docker.clone();
        let id = id.to_string();
        self.block(async move { d.pause_container(&id).await })
    }
    fn container_unpause(&self, _caller: &Caller, id: &str) -> Result<()> {
        let d = self.docker.clone();
        let id = id.to_string();
        self.block(async move { d.unpause_container(&id).await })
    }
    fn container_remove(&self, _caller: &Caller, id: &str, opts: RemoveOptions) -> Result<()> {
        let d = self.docker.clone();
        let id = id.to_string();
        self.block(async move {
            d.remove_container(
                &id,
                Some(q::RemoveContainerOptions {
                    force: opts.force,
                    v: opts.volumes,
                    link: false,
                }),
            )
            .await
        })
    }
    fn container_rename(&self, _caller: &Caller, id: &str, new_name: &str) -> Result<()> {
        let d = self.docker.clone();
        let id = id.to_string();
        let name = new_name.to_string();
        self.block(async move {
            d.rename_container(&id, q::RenameContainerOptions { name })
                .await
        })
    }
    fn container_wait(&self, _caller: &Caller, id: &str) -> Result<i32> {
        let d = self.docker.clone();
        let id = id.to_string();
        let h = self.rt.spawn(async move {
            let mut s = d.wait_container(&id, None::<q::WaitContainerOptions>);
            s.next().await
        });
        match futures::executor::block_on(h) {
            Ok(Some(Ok(r))) => Ok(r.status_code as i32),
            // bollard reports a non-zero exit as an error carrying the code.
            Ok(Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. }))) => {
                Ok(code as i32)
            }
            Ok(Some(Err(e))) => Err(self.error(e)),
            Ok(None) => Err(EngineError::unavailable("the wait ended without a status")),
            Err(e) => Err(EngineError::internal(e.to_string())),
        }
    }
    fn container_update(
        &self,
        _caller: &Caller,
        id: &str,
        resources: &Resources,
        restart: Option<&RestartPolicy>,
    ) -> Result<()> {
        let body = convert::update(resources, restart);
        let d = self.docker.clone();
        let id = id.to_string();
        self.block(async move { d.update_container(&id, body).await })
    }
    fn container_list(
        &self,
        _caller: &Caller,
        opts: &ContainerListOptions,
    ) -> Result<Vec<ContainerSummary>> {
        let o = q::ListContainersOptions {
            all: opts.all,
            limit: opts.last.map(|n| n as i32),
            size: opts.size,
            filters: filters(&opts.filters),
        };
        let d = self.docker.clone();
        let v = self.block(async move { d.list_containers(Some(o)).await })?;
        Ok(v.into_iter().map(convert::container).collect())
    }
    fn container_inspect(&self, _caller: &Caller, id: &str) -> Result<Value> {
        let d = self.docker.clone();
        let id = id.to_string();
        let v = self.block(async move { d.inspect_container(&id, None).await })?;
        serde_json::to_value(v).map_err(|e| EngineError::internal(e.to_string()))
    }
    fn container_prune(&self, _caller: &Caller) -> Result<PruneReport> {
        let d = self.docker.clone();
        let r =
            self.block(async move { d.prune_containers(None::<q::PruneContainersOptions>).await })?;
        Ok(PruneReport {
            deleted: r.containers_deleted.unwrap_or_default(),
            reclaimed: r.space_reclaimed.unwrap_or(0).max(0) as u64,
        })
    }
    fn container_logs(
        &self,
        _caller: &Caller,
        id: &str,
        opts: &LogOptions,
        sink: &mut dyn FnMut(LogLine) -> bool,
    ) -> Result<()> {
        let secs = |n: Option<i64>| n.map(|n| (n / 1_000_000_000) as i32).unwrap_or(0);
        let o = q::LogsOptions {
            follow: opts.follow,
            stdout: opts.stdout || !opts.stderr,
            stderr: opts.stderr || !opts.stdout,
            since: secs(opts.since),
            until: secs(opts.until),
            timestamps: true,
            tail: opts
                .tail
                .map(|n| n.to_string())
                .unwrap_or_else(|| "all".into()),
        };
        let d = self.docker.clone();
        let id = id.to_string();
        // A frame may hold part of a line (a tty's output) or several: lines are cut at
        // newlines, the rest waits for the next frame of its stream.
        let mut pending: HashMap<&'static str, String> = HashMap::new();
        let mut go = true;
        self.stream(
            move |tx| {
                Box::pin(async move {
                    let s = d.logs(&id, Some(o));
                    forward(s, &tx).await;
                })
            },
            &mut |out: LogOutput| {
                let (stream, bytes) = match out {
                    LogOutput::StdErr { message } => ("stderr", message),
                    LogOutput::StdOut { message } | LogOutput::Console { message } => {
                        ("stdout", message)
                    }
                    LogOutput::StdIn { .. } => return true,
                };
                let buf = pending.entry(stream).or_default();
                buf.push_str(&String::from_utf8_lossy(&bytes));
                while let Some(i) = buf.find('\n') {
                    let line: String = buf.drain(..=i).collect();
                    let (time, log) = convert::split_timestamp(&line);
                    if !sink(LogLine {
                        stream: stream.into(),
                        log,
                        time,
                    }) {
                        go = false;
                        return false;
                    }
                }
                true
            },
        )?;
        if go {
            for (stream, rest) in pending {
                if !rest.is_empty() {
                    let (time, log) = convert::split_timestamp(&rest);
                    if !sink(LogLine {
                        stream: stream.into(),
                        log,
                        time,
                    }) {
                        break;
                    }
                }
            }
        }
        Ok(())
    }
    fn container_attach(&self, _caller: &Caller, id: &str) -> Result<UnixStream> {
        self.attach_stream(id, false, None)
    }
    fn container_start_attached(
        &self,
        _caller: &Caller,
        id: &str,
        size: Option<(u16, u16)>,
    ) -> Result<UnixStream> {
        self.attach_stream(id, true, size)
    }
}

/// What a bridged stream is of: an exec (its exit code ends it, resizes go to it), or a
/// container's own stdio.
#[derive(Debug, Clone)]
enum Ending {
    Exec(String),
    Container(String),
}

impl DockerEngine {
    fn attach_stream(&self, id: &str, start: bool, size: Option<(u16, u16)>) -> Result<UnixStream> {
        let d = self.docker.clone();
        let cid = id.to_string();
        let r = self.block(async move {
            d.attach_container(
                &cid,
                Some(q::AttachContainerOptions {
                    stream: true,
                    stdin: true,
                    stdout: true,
                    stderr: true,
                    logs: false,
                    detach_keys: None,
                }),
            )
            .await
        })?;
        if start {
            self.container_start(&Caller::root(), id)?;
            if let Some((h, w)) = size {
                let d = self.docker.clone();
                let cid = id.to_string();
                let _ = self.block(async move {
                    d.resize_container_tty(
                        &cid,
                        q::ResizeContainerTTYOptions {
                            h: h as i32,
                            w: w as i32,
                        },
                    )
                    .await
                });
            }
        }
        self.bridge(r.output, r.input, Ending::Container(id.to_string()))
    }

    /// Hand the caller one end of a socket pair speaking the attach protocol, and relay
    /// the other end to a Docker attach/exec stream: output as frames, then the exit code;
    /// stdin, stdin's end and resizes back.
    fn bridge(
        &self,
        output: std::pin::Pin<
            Box<
                dyn futures::Stream<Item = std::result::Result<LogOutput, bollard::errors::Error>>
                    + Send,
            >,
        >,
        input: std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send>>,
        ending: Ending,
    ) -> Result<UnixStream> {
        let resize_target = ending.clone();
        let (mine, theirs) =
            UnixStream::pair().map_err(|e| EngineError::io("creating a socket pair", e))?;
        let mut theirs_in = theirs
            .try_clone()
            .map_err(|e| EngineError::io("cloning a socket", e))?;
        let out_w = Arc::new(Mutex::new(
            theirs
                .try_clone()
                .map_err(|e| EngineError::io("cloning a socket", e))?,
        ));
        // Output: Docker's frames to attach frames; at the end, the exit code.
        let (tx, mut rx) = tokio::sync::mpsc::channel(64);
        let reader = self.rt.spawn(async move { forward(output, &tx).await });
        let d = self.docker.clone();
        let rt = self.rt.clone();
        let w = out_w.clone();
        std::thread::spawn(move || {
            while let Some(item) = rx.blocking_recv() {
                let (kind, data) = match item {
                    Ok(LogOutput::StdErr { message }) => (attach::STDERR, message),
                    Ok(LogOutput::StdOut { message }) | Ok(LogOutput::Console { message }) => {
                        (attach::STDOUT, message)
                    }
                    Ok(LogOutput::StdIn { .. }) => continue,
                    Err(_) => break,
                };
                let ok = w
                    .lock()
                    .map(|mut s| attach::write_frame(&mut *s, kind, &data).is_ok())
                    .unwrap_or(false);
                if !ok {
                    reader.abort();
                    return;
                }
            }
            let code = futures::executor::block_on(rt.spawn(async move {
                match ending {
                    Ending::Exec(id) => {
                        // The exec's state may trail its stream's end by a moment.
                        for _ in 0..50 {
                            match d.inspect_exec(&id).await {
                                Ok(i) if i.running != Some(true) => {
                                    return i.exit_code.unwrap_or(0)
                                }
                                Ok(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                                Err(_) => return -1,
                            }
                        }
                        -1
                    }
                    Ending::Container(id) => {
                        let mut s = d.wait_container(&id, None::<q::WaitContainerOptions>);
                        match s.next().await {
                            Some(Ok(r)) => r.status_code,
                            Some(Err(bollard::errors::Error::DockerContainerWaitError {
                                code,
                                ..
                            })) => code,
                            _ => -1,
                        }
                    }
                }
            }))
            .unwrap_or(-1);
            if let Ok(mut s) = w.lock() {
                let _ = attach::write_frame(&mut *s, attach::EXIT, code.to_string().as_bytes());
                let _ = s.shutdown(std::net::Shutdown::Write);
            }
        });
        // Input: attach frames to Docker's stdin.
        let (itx, mut irx) = tokio::sync::mpsc::channel::<Option<Vec<u8>>>(64);
        let mut input = input;
        self.rt.spawn(async move {
            while let Some(m) = irx.recv().await {
                match m {
                    Some(data) => {
                        if input.write_all(&data).await.is_err() {
                            break;
                        }
                        let _ = input.flush().await;
                    }
                    None => {
                        let _ = input.shutdown().await;
                        break;
                    }
                }
            }
        });
        let resize = self.resizer(resize_target);
        std::thread::spawn(move || {
            while let Ok(Some((kind, data))) = attach::read_frame(&mut theirs_in) {
                match kind {
                    attach::STDIN => {
                        let sent = itx.blocking_send(Some(data));
                        if sent.is_err() {
                            break;
                        }
                    }
                    attach::STDIN_EOF => {
                        let _ = itx.blocking_send(None);
                    }
                    attach::RESIZE if data.len() == 4 => {
                        let rows = u16::from_be_bytes([data[0], data[1]]);
                        let cols = u16::from_be_bytes([data[2], data[3]]);
                        resize(rows, cols);
                    }
                    _ => {}
                }
            }
        });
        Ok(mine)
    }

    /// Resizes of the terminal of `target`.
    fn resizer(&self, target: Ending) -> Box<dyn Fn(u16, u16) + Send> {
        let d = self.docker.clone();
        let rt = self.rt.clone();
        Box::new(move |h, w| {
            let d = d.clone();
            let t = target.clone();
            rt.spawn(async move {
                match t {
                    Ending::Exec(id) => {
                        let _ = d
                            .resize_exec(
                                &id,
                                q::ResizeExecOptions {
                                    h: h as i32,
                                    w: w as i32,
                                },
                            )
                            .await;
                    }
                    Ending::Container(id) => {
                        let _ = d
                            .resize_container_tty(
                                &id,
                                q::ResizeContainerTTYOptions {
                                    h: h as i32,
                                    w: w as i32,
                                },
                            )
                            .await;
                    }
                }
            });
        })
    }
}

impl NetworkApi for DockerEngine {
    fn network_create(&self, _caller: &Caller, spec: &NetworkCreate) -> Result<String> {
        let ipam = if spec.subnet.is_some() || spec.gateway.is_some() || spec.ip_range.is_some() {
            Some(m::Ipam {
                driver: Some("default".into()),
                config: Some(vec![m::IpamConfig {
                    subnet: spec.subnet.clone(),
                    gateway: spec.gateway.clone(),
                    ip_range: spec.ip_range.clone(),
                    auxiliary_addresses: None,
                }]),
                options: None,
            })
        } else {
            None
        };
        let req = m::NetworkCreateRequest {
            name: spec.name.clone(),
            driver: spec.driver.clone(),
            internal: Some(spec.internal),
            ipam,
            labels: (!spec.labels.is_empty()).then(|| {
                spec.labels
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            }),
            ..Default::default()
        };
        let d = self.docker.clone();
        let r = self.block(async move { d.create_network(req).await })?;
        Ok(r.id)
    }
    fn network_list(
        &self,
        _caller: &Caller,
        opts: &NetworkListOptions,
    ) -> Result<Vec<NetworkInfo>> {
        let o = q::ListNetworksOptions {
            filters: filters(&opts.filters),
        };
        let d = self.docker.clone();
        let v = self.block(async move { d.list_networks(Some(o)).await })?;
        Ok(v.into_iter()
            .map(|n| convert::network(n, Default::default()))
            .collect())
    }
    fn network_inspect(&self, _caller: &Caller, network: &str) -> Result<NetworkInfo> {
        let d = self.docker.clone();
        let n = network.to_string();
        let v = self.block(async move { d.inspect_network(&n, None).await })?;
        let raw = serde_json::to_value(&v).unwrap_or(Value::Null);
        let base: m::Network = serde_json::from_value(raw.clone()).unwrap_or_default();
        Ok(convert::network(base, convert::network_containers(&raw)))
    }
    fn network_remove(&self, _caller: &Caller, network: &str) -> Result<()> {
        let d = self.docker.clone();
        let n = network.to_string();
        self.block(async move { d.remove_network(&n).await })
    }
    fn network_prune(&self, _caller: &Caller) -> Result<PruneReport> {
        let d = self.docker.clone();
        let r = self.block(async move { d.prune_networks(None).await })?;
        Ok(PruneReport {
            deleted: r.networks_deleted.unwrap_or_default(),
            reclaimed: 0,
        })
    }
    fn network_connect(
        &self,
        _caller: &Caller,
        network: &str,
        container: &str,
        opts: &NetworkConnect,
    ) -> Result<()> {
        let req = m::NetworkConnectRequest {
            container: container.to_string(),
            endpoint_config: Some(m::EndpointSettings {
                ipam_config: opts.ip.as_ref().map(|ip| m::EndpointIpamConfig {
                    ipv4_address: Some(ip.clone()),
                    ..Default::default()
                }),
                aliases: (!opts.aliases.is_empty()).then(|| opts.aliases.clone()),
                ..Default::default()
            }),
        };
        let d = self.docker.clone();
        let n = network.to_string();
        self.block(async move { d.connect_network(&n, req).await })
    }
    fn network_disconnect(&self, _caller: &Caller, network: &str, container: &str) -> Result<()> {
        let req = m::NetworkDisconnectRequest {
            container: container.to_string(),
            force: Some(false),
        };
        let d = self.docker.clone();
        let n = network.to_string();
        self.block(async move { d.disconnect_network(&n, req).await })
    }
    fn container_ports(&self, caller: &Caller, container: &str) -> Result<Vec<PortBinding>> {
        Ok(convert::ports_of(
            &self.container_inspect(caller, container)?,
        ))
    }
}

impl VolumeApi for DockerEngine {
    fn volume_create(&self, _caller: &Caller, opts: &VolumeCreate) -> Result<Volume> {
        let req = m::VolumeCreateRequest {
            name: opts.name.clone(),
            labels: (!opts.labels.is_empty()).then(|| {
                opts.labels
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            }),
            ..Default::default()
        };
        let d = self.docker.clone();
        let v = self.block(async move { d.create_volume(req).await })?;
        Ok(convert::volume(v))
    }
    fn volume_list(&self, _caller: &Caller, opts: &VolumeListOptions) -> Result<Vec<Volume>> {
        let o = q::ListVolumesOptions {
            filters: filters(&opts.filters),
        };
        let d = self.docker.clone();
        let r = self.block(async move { d.list_volumes(Some(o)).await })?;
        Ok(r.volumes
            .unwrap_or_default()
            .into_iter()
            .map(convert::volume)
            .collect())
    }
    fn volume_inspect(&self, _caller: &Caller, name: &str) -> Result<Volume> {
        let d = self.docker.clone();
        let n = name.to_string();
        let v = self.block(async move { d.inspect_volume(&n).await })?;
        Ok(convert::volume(v))
    }
    fn volume_remove(&self, _caller: &Caller, name: &str, force: bool) -> Result<()> {
        let d = self.docker.clone();
        let n = name.to_string();
        self.block(async move {
            d.remove_volume(&n, Some(q::RemoveVolumeOptions { force }))
                .await
        })
    }
    fn volume_prune(&self, _caller: &Caller, all: bool) -> Result<PruneReport> {
        let f = if all {
            filters(&[("all".into(), "true".into())])
        } else {
            None
        };
        let d = self.docker.clone();
        let r = self.block(async move {
            d.prune_volumes(Some(q::PruneVolumesOptions { filters: f }))
                .await
        })?;
        Ok(PruneReport {
            deleted: r.volumes_deleted.unwrap_or_default(),
            reclaimed: r.space_reclaimed.unwrap_or(0).max(0) as u64,
        })
    }
}

impl StatsApi for DockerEngine {
    fn container_stats(
        &self,
        caller: &Caller,
        ids: &[String],
        opts: &StatsOptions,
        sink: &mut dyn FnMut(Vec<ContainerStats>) -> bool,
    ) -> Result<()> {
        // Docker has one stream per container: one is followed for each container
        // watched, and every interval the latest sample of each goes out as one batch.
        let latest: Arc<Mutex<HashMap<String, ContainerStats>>> = Default::default();
        let mut followed: HashMap<String, tokio::task::JoinHandle<()>> = HashMap::new();
        let interval = Duration::from_secs(2);
        let out = loop {
            let watched: Vec<String> = if ids.is_empty() {
                let o = ContainerListOptions {
                    all: opts.all,
                    ..Default::default()
                };
                match self.container_list(caller, &o) {
                    Ok(v) => v
                        .into_iter()
                        .filter(|c| opts.all || c.state == ContainerStatus::Running)
                        .map(|c| c.id)
                        .collect(),
                    Err(e) => break Err(e),
                }
            } else {
                ids.to_vec()
            };
            let live: HashSet<&String> = watched.iter().collect();
            followed.retain(|id, h| {
                let keep = live.contains(id) && !h.is_finished();
                if !keep {
                    h.abort();
                }
                keep
            });
            if let Ok(mut l) = latest.lock() {
                l.retain(|id, _| live.contains(id));
            }
            for id in &watched {
                if followed.contains_key(id) {
                    continue;
                }
                let d = self.docker.clone();
                let l = latest.clone();
                let cid = id.clone();
                followed.insert(
                    id.clone(),
                    self.rt.spawn(async move {
                        let mut s = d.stats(
                            &cid,
                            Some(q::StatsOptions {
                                stream: true,
                                one_shot: false,
                            }),
                        );
                        while let Some(Ok(sample)) = s.next().await {
                            let mut st = convert::stats(sample);
                            if st.id.is_empty() {
                                st.id.clone_from(&cid);
                            }
                            if let Ok(mut l) = l.lock() {
                                l.insert(cid.clone(), st);
                            }
                        }
                    }),
                );
            }
            // Wait for a sample of each (the first batch), at most an interval.
            let t = Instant::now();
            while t.elapsed() < interval {
                let have = latest.lock().map(|l| l.len()).unwrap_or(0);
                if have >= watched.len() && t.elapsed() > Duration::from_millis(200) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let batch: Vec<ContainerStats> = latest
                .lock()
                .map(|l| watched.iter().filter_map(|id| l.get(id).cloned()).collect())
                .unwrap_or_default();
            if !sink(batch) || !opts.stream {
                break Ok(());
            }
            let left = interval.saturating_sub(t.elapsed());
            std::thread::sleep(left);
        };
        for (_, h) in followed {
            h.abort();
        }
        out
    }
    fn stats_history(&self, _caller: &Caller, _id: &str) -> Result<Vec<StatsPoint>> {
        // The service keeps no history: the console builds its own as it watches.
        Ok(Vec::new())
    }
    fn host_stats(&self, _caller: &Caller) -> Result<HostStats> {
        Err(self.refused(
            "host CPU and memory use",
            "the Docker API reports the host's size, not its load",
        ))
    }
}

impl ExecApi for DockerEngine {
    fn exec(&self, _caller: &Caller, container: &str, cfg: &ExecConfig) -> Result<ExecSession> {
        let ec = m::ExecConfig {
            attach_stdin: Some(cfg.stdin && !cfg.detach),
            attach_stdout: Some(!cfg.detach),
            attach_stderr: Some(!cfg.detach),
            tty: Some(cfg.tty),
            env: (!cfg.env.is_empty()).then(|| cfg.env.clone()),
            cmd: Some(cfg.cmd.clone()),
            user: cfg.user.clone(),
            working_dir: cfg.workdir.clone(),
            ..Default::default()
        };
        let d = self.docker.clone();
        let c = container.to_string();
        let detach = cfg.detach;
        let tty = cfg.tty;
        let (id, started) = self.block(async move {
            let id = d.create_exec(&c, ec).await?.id;
            let s = d
                .start_exec(
                    &id,
                    Some(bollard::exec::StartExecOptions {
                        detach,
                        tty,
                        output_capacity: None,
                    }),
                )
                .await?;
            Ok((id, s))
        })?;
        let pid = {
            let d = self.docker.clone();
            let i = id.clone();
            self.block(async move { d.inspect_exec(&i).await })
                .ok()
                .and_then(|x| x.pid)
                .unwrap_or(0) as i32
        };
        match started {
            bollard::exec::StartExecResults::Detached => Ok(ExecSession {
                id,
                pid,
                stream: None,
            }),
            bollard::exec::StartExecResults::Attached { output, input } => {
                if let Some((h, w)) = cfg.console_size.filter(|_| cfg.tty) {
                    let d = self.docker.clone();
                    let i = id.clone();
                    let _ = self.block(async move {
                        d.resize_exec(
                            &i,
                            q::ResizeExecOptions {
                                h: h as i32,
                                w: w as i32,
                            },
                        )
                        .await
                    });
                }
                let stream = self.bridge(output, input, Ending::Exec(id.clone()))?;
                Ok(ExecSession {
                    id,
                    pid,
                    stream: Some(stream),
                })
            }
        }
    }
}

impl ToolboxApi for DockerEngine {
    fn container_top(&self, _caller: &Caller, container: &str) -> Result<TopResult> {
        let d = self.docker.clone();
        let c = container.to_string();
        let r = self.block(async move { d.top_processes(&c, None::<q::TopOptions>).await })?;
        Ok(TopResult {
            titles: r.titles.unwrap_or_default(),
            processes: r.processes.unwrap_or_default(),
        })
    }
    fn container_diff(&self, _caller: &Caller, container: &str) -> Result<Vec<Change>> {
        let d = self.docker.clone();
        let c = container.to_string();
        let r = self.block(async move { d.container_changes(&c).await })?;
        Ok(r.unwrap_or_default()
            .into_iter()
            .map(|ch| Change {
                kind: match ch.kind {
                    m::ChangeType::_1 => ChangeKind::Added,
                    m::ChangeType::_2 => ChangeKind::Deleted,
                    _ => ChangeKind::Modified,
                },
                path: ch.path,
            })
            .collect())
    }
    fn container_export(
        &self,
        _caller: &Caller,
        container: &str,
        out: &mut dyn Write,
    ) -> Result<()> {
        let d = self.docker.clone();
        let c = container.to_string();
        let mut err = None;
        self.stream(
            move |tx| {
                Box::pin(async move {
                    let s = d.export_container(&c);
                    forward(s, &tx).await;
                })
            },
            &mut writer(out, &mut err),
        )?;
        match err {
            Some(e) => Err(EngineError::io("writing the export", e)),
            None => Ok(()),
        }
    }
    fn container_commit(
        &self,
        _caller: &Caller,
        container: &str,
        opts: &CommitOptions,
    ) -> Result<String> {
        let (repo, tag) = match &opts.reference {
            Some(r) => match r.rsplit_once(':').filter(|(_, t)| !t.contains('/')) {
                Some((a, b)) => (Some(a.to_string()), Some(b.to_string())),
                None => (Some(r.clone()), Some("latest".to_string())),
            },
            None => (None, None),
        };
        let o = q::CommitContainerOptions {
            container: Some(container.to_string()),
            repo,
            tag,
            comment: opts.message.clone(),
            author: opts.author.clone(),
            pause: opts.pause,
            changes: (!opts.changes.is_empty()).then(|| opts.changes.join("\n")),
        };
        let d = self.docker.clone();
        let r =
            self.block(async move { d.commit_container(o, m::ContainerConfig::default()).await })?;
        Ok(r.id)
    }
    fn container_stat_path(
        &self,
        _caller: &Caller,
        container: &str,
        path: &str,
    ) -> Result<PathStat> {
        let d = self.docker.clone();
        let c = container.to_string();
        let p = path.to_string();
        let r = self.block(async move {
            d.get_container_archive_info(&c, Some(q::ContainerArchiveInfoOptions { path: p }))
                .await
        })?;
        let mode = r.file_mode;
        Ok(PathStat {
            name: r.name,
            size: r.size.max(0) as u64,
            // Go's FileMode: the directory bit is the top one.
            is_dir: mode & (1 << 31) != 0,
            mode: (mode & 0o7777)
                | if mode & (1 << 31) != 0 {
                    0o040000
                } else {
                    0o100000
                },
            link_target: (!r.link_target.is_empty()).then_some(r.link_target),
            mtime: r
                .modification_time
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
                .map(|t| t.timestamp())
                .unwrap_or(0),
        })
    }
    fn container_archive_get(
        &self,
        caller: &Caller,
        container: &str,
        path: &str,
        out: &mut dyn Write,
    ) -> Result<PathStat> {
        let stat = self.container_stat_path(caller, container, path)?;
        let d = self.docker.clone();
        let c = container.to_string();
        let p = path.to_string();
        let mut err = None;
        self.stream(
            move |tx| {
                Box::pin(async move {
                    let s = d.download_from_container(
                        &c,
                        Some(q::DownloadFromContainerOptions { path: p }),
                    );
                    forward(s, &tx).await;
                })
            },
            &mut writer(out, &mut err),
        )?;
        match err {
            Some(e) => Err(EngineError::io("writing the archive", e)),
            None => Ok(stat),
        }
    }
    fn container_archive_put(
        &self,
        _caller: &Caller,
        container: &str,
        dir: &str,
        input: &mut dyn Read,
    ) -> Result<()> {
        let mut buf = Vec::new();
        input
            .read_to_end(&mut buf)
            .map_err(|e| EngineError::io("reading the archive", e))?;
        let d = self.docker.clone();
        let c = container.to_string();
        let p = dir.to_string();
        self.block(async move {
            d.upload_to_container(
                &c,
                Some(q::UploadToContainerOptions {
                    path: p,
                    ..Default::default()
                }),
                bollard::body_full(Bytes::from(buf)),
            )
            .await
        })
    }
}

/// The context as one tar for `POST /build`, with a `-f -` Dockerfile added to it (as
/// `.wharf.Dockerfile`; returned as the name to build from).
fn build_tar(opts: &BuildOptions, context: BuildContext<'_>) -> Result<(Vec<u8>, String)> {
    let mut plain = Vec::new();
    match context {
        BuildContext::Dir(d) => crate::build::context::tar_dir(&d, &opts.dockerfile, &mut plain)?,
        BuildContext::Tar(r) => {
            let mut raw = Vec::new();
            r.read_to_end(&mut raw)
                .map_err(|e| EngineError::io("reading the build context", e))?;
            if raw.starts_with(&[0x1f, 0x8b]) {
                flate2::read::GzDecoder::new(&raw[..])
                    .read_to_end(&mut plain)
                    .map_err(|e| EngineError::io("unpacking the gzip build context", e))?;
            } else {
                plain = raw;
            }
        }
        BuildContext::Empty => {}
    }
    let Some(content) = &opts.dockerfile_content else {
        if plain.is_empty() {
            tar::Builder::new(&mut plain)
                .finish()
                .map_err(|e| EngineError::io("packing an empty build context", e))?;
        }
        return Ok((plain, opts.dockerfile.clone()));
    };
    // Copy the entries over and add the Dockerfile.
    let name = ".wharf.Dockerfile".to_string();
    let mut out = tar::Builder::new(Vec::new());
    if !plain.is_empty() {
        let mut a = tar::Archive::new(&plain[..]);
        for e in a
            .entries()
            .map_err(|e| EngineError::invalid(format!("the build context is not a tar: {e}")))?
        {
            let mut e =
                e.map_err(|e| EngineError::invalid(format!("the build context is damaged: {e}")))?;
            let mut h = e.header().clone();
            let path = e
                .path()
                .map_err(|e| EngineError::invalid(format!("a path in the build context: {e}")))?
                .into_owned();
            out.append_data(&mut h, path, &mut e)
                .map_err(|e| EngineError::io("repacking the build context", e))?;
        }
    }
    let mut h = tar::Header::new_gnu();
    h.set_size(content.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    out.append_data(&mut h, &name, content.as_bytes())
        .map_err(|e| EngineError::io("adding the Dockerfile to the build context", e))?;
    let plain = out
        .into_inner()
        .map_err(|e| EngineError::io("packing the build context", e))?;
    Ok((plain, name))
}

/// `Step 2/5 : RUN make` of the classic builder's stream.
fn parse_step(line: &str) -> Option<(usize, usize, String)> {
    let rest = line.strip_prefix("Step ")?;
    let (nums, instr) = rest.split_once(" : ")?;
    let (i, n) = nums.split_once('/')?;
    Some((
        i.parse().ok()?,
        n.parse().ok()?,
        instr.trim_end().to_string(),
    ))
}

impl BuildApi for DockerEngine {
    fn image_build(
        &self,
        caller: &Caller,
        opts: &BuildOptions,
        context: BuildContext<'_>,
        sink: &mut dyn FnMut(BuildEvent) -> bool,
    ) -> Result<BuildResult> {
        if opts.pull {
            return Err(EngineError::invalid(
                "--pull is not supported: wharf builds with the images the host already has",
            ));
        }
        let (tar, dockerfile) = build_tar(opts, context)?;
        let d = self.docker.clone();
        let o = q::BuildImageOptions {
            dockerfile,
            t: opts.tags.first().cloned(),
            nocache: opts.no_cache,
            rm: true,
            buildargs: (!opts.build_args.is_empty())
                .then(|| opts.build_args.clone().into_iter().collect()),
            labels: (!opts.labels.is_empty()).then(|| opts.labels.clone().into_iter().collect()),
            networkmode: opts.network.clone(),
            platform: opts.platform.clone().unwrap_or_default(),
            target: opts.target.clone().unwrap_or_default(),
            ..Default::default()
        };
        let mut res = BuildResult::default();
        let mut step = 0usize;
        let mut failed: Option<String> = None;
        let mut go = true;
        self.stream(
            move |tx| {
                Box::pin(async move {
                    let s = d.build_image(o, None, Some(bollard::body_full(Bytes::from(tar))));
                    forward(s, &tx).await;
                })
            },
            &mut |i: m::BuildInfo| {
                if let Some(e) = i.error_detail.and_then(|e| e.message) {
                    failed = Some(e);
                    return false;
                }
                if let Some(id) = i.aux.and_then(|a| a.id) {
                    res.image_id = id;
                }
                for line in i.stream.unwrap_or_default().split_inclusive('\n') {
                    let ev = if let Some((index, total, instruction)) = parse_step(line) {
                        step = index;
                        res.steps += 1;
                        BuildEvent::Step {
                            index,
                            total,
                            stage: String::new(),
                            instruction,
                        }
                    } else if line.trim() == "---> Using cache" {
                        res.cached += 1;
                        BuildEvent::Cached { index: step }
                    } else if let Some(id) = line.trim().strip_prefix("Successfully built ") {
                        if res.image_id.is_empty() {
                            res.image_id = id.to_string();
                        }
                        continue;
                    } else if line.starts_with("Successfully tagged ") {
                        continue;
                    } else {
                        BuildEvent::Output {
                            index: step,
                            stream: "stdout".into(),
                            data: line.to_string(),
                        }
                    };
                    if !sink(ev) {
                        go = false;
                        return false;
                    }
                }
                true
            },
        )?;
        if let Some(e) = failed {
            return Err(EngineError::invalid(format!("the build failed: {e}")));
        }
        if !go {
            return Err(EngineError::new(
                crate::ErrorKind::Conflict,
                "the build was cancelled",
            ));
        }
        if res.image_id.is_empty() {
            return Err(EngineError::unavailable(format!(
                "{} ended the build without naming the image it made",
                self.endpoint
            )));
        }
        // Docker's /build takes one tag per `t`: the others are tagged after.
        for t in opts.tags.iter().skip(1) {
            self.image_tag(caller, &res.image_id, t)?;
        }
        res.tags = opts.tags.clone();
        sink(BuildEvent::Done {
            image_id: res.image_id.clone(),
            tags: res.tags.clone(),
        });
        Ok(res)
    }
    fn build_cache_list(&self, _caller: &Caller) -> Result<Vec<BuildCacheEntry>> {
        let d = self.docker.clone();
        let df = self.block(async move { d.df(None).await })?;
        let Some(u) = df.build_cache_usage else {
            return Err(EngineError::unavailable(format!(
                "{} does not list its build cache in a form wharf reads (Docker API 1.52 or later does)",
                self.endpoint
            )));
        };
        let time = |v: &Value, k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                .map(|t| t.timestamp())
                .unwrap_or(0)
        };
        Ok(u.items
            .unwrap_or_default()
            .iter()
            .map(|v| BuildCacheEntry {
                id: v
                    .get("ID")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .into(),
                image_id: String::new(),
                created_by: v
                    .get("Description")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .into(),
                created: time(v, "CreatedAt"),
                last_used: time(v, "LastUsedAt"),
                size: v.get("Size").and_then(Value::as_u64).unwrap_or(0),
                in_use: v.get("InUse").and_then(Value::as_bool).unwrap_or(false),
            })
            .collect())
    }
    fn build_cache_prune(
        &self,
        _caller: &Caller,
        opts: &BuildCachePruneOptions,
    ) -> Result<PruneReport> {
        let d = self.docker.clone();
        let o = q::PruneBuildOptions {
            filters: opts
                .until
                .map(|u| HashMap::from([("until".to_string(), vec![u.to_string()])])),
            ..Default::default()
        };
        let r = self.block(async move { d.prune_build(Some(o)).await })?;
        Ok(PruneReport {
            deleted: r.caches_deleted.unwrap_or_default(),
            reclaimed: r.space_reclaimed.unwrap_or(0).max(0) as u64,
        })
    }
    fn build_cache_usage(&self, _caller: &Caller) -> Result<BuildCacheUsage> {
        let d = self.docker.clone();
        let df = self.block(async move { d.df(None).await })?;
        let Some(u) = df.build_cache_usage else {
            return Err(EngineError::unavailable(format!(
                "{} does not report its build cache in a form wharf reads (Docker API 1.52 or later does)",
                self.endpoint
            )));
        };
        Ok(BuildCacheUsage {
            count: u.total_count.unwrap_or(0).max(0) as usize,
            active: u.active_count.unwrap_or(0).max(0) as usize,
            size: u.total_size.unwrap_or(0).max(0) as u64,
            reclaimable: u.reclaimable.unwrap_or(0).max(0) as u64,
        })
    }
}

/// Docker and Podman have no registry browsing of their own: the calls say so
/// (`... is not offered by this engine`), as the console marks it.
impl RegistryBrowseApi for DockerEngine {}

/// Docker and Podman have no roles or policy: the accounts calls say they are not
/// offered.
impl AccountsApi for DockerEngine {}
