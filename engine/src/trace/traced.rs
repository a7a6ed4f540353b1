//! [`Traced`]: any engine, with each call recorded in a [`Tracer`].

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use serde_json::{json, Value};

use super::{bounded, redact, scoped, TraceEntry, TraceOptions, Tracer};
use crate::api::*;
use crate::caller::Caller;
use crate::error::Result;
use crate::events::Event;
use crate::policy::audit::AuditEntry;
use crate::Engine;

/// An engine whose calls are recorded: each goes to the engine inside, then an entry
/// (caller, method, arguments, duration, answer or error, the steps the engine reported)
/// goes to the tracer. What the console wraps its engine in.
pub struct Traced<E: ?Sized> {
    inner: Arc<E>,
    tracer: Tracer,
    source: String,
}

impl<E: Engine + ?Sized> Traced<E> {
    /// `inner`, recording into `tracer` as `source` (`console`).
    pub fn new(inner: Arc<E>, tracer: Tracer, source: &str) -> Self {
        Traced {
            inner,
            tracer,
            source: source.to_string(),
        }
    }

    /// Where the calls go.
    pub fn tracer(&self) -> &Tracer {
        &self.tracer
    }

    /// The engine inside.
    pub fn inner(&self) -> &Arc<E> {
        &self.inner
    }

    /// Call `f` as `method(args)` and record it; `answer` makes the answer's JSON.
    fn record<T>(
        &self,
        c: &Caller,
        method: &str,
        args: Value,
        answer: impl FnOnce(&T) -> Value,
        f: impl FnOnce() -> Result<T>,
    ) -> Result<T> {
        let mut e = TraceEntry::new(c, &self.source, method);
        let t = Instant::now();
        let (r, g) = scoped(f);
        e.duration_us = t.elapsed().as_micros() as u64;
        e.args = bounded(redact(method, args));
        e.steps = g.steps;
        match &r {
            Ok(v) => e.answer = bounded(redact(method, answer(v))),
            Err(err) => {
                e.ok = false;
                e.error = Some(err.to_string());
            }
        }
        self.tracer.record(e);
        r
    }

    /// [`record`](Self::record) with the answer as its JSON.
    fn call<T: Serialize>(
        &self,
        c: &Caller,
        method: &str,
        args: Value,
        f: impl FnOnce() -> Result<T>,
    ) -> Result<T> {
        self.record(
            c,
            method,
            args,
            |v| serde_json::to_value(v).unwrap_or(Value::Null),
            f,
        )
    }

    /// A streaming call: the answer says how many items went to the sink.
    fn streamed<T>(
        &self,
        c: &Caller,
        method: &str,
        args: Value,
        f: impl FnOnce(&mut dyn FnMut()) -> Result<T>,
    ) -> Result<T> {
        let n = std::cell::Cell::new(0u64);
        self.record(
            c,
            method,
            args,
            |_: &T| json!({ "streamed": n.get() }),
            || f(&mut || n.set(n.get() + 1)),
        )
    }
}

impl<E: Engine + ?Sized> SystemApi for Traced<E> {
    fn info(&self, c: &Caller) -> Result<SystemInfo> {
        self.call(c, "info", json!([]), || self.inner.info(c))
    }

    fn events(
        &self,
        c: &Caller,
        filter: &EventFilter,
        sink: &mut dyn FnMut(Event) -> bool,
    ) -> Result<()> {
        self.streamed(c, "events", json!([filter]), |bump| {
            self.inner.events(c, filter, &mut |ev| {
                bump();
                sink(ev)
            })
        })
    }

    fn trace(
        &self,
        c: &Caller,
        opts: &TraceOptions,
        sink: &mut dyn FnMut(TraceEntry) -> bool,
    ) -> Result<()> {
        // Reading the trace is not itself traced (it would feed itself).
        self.inner.trace(c, opts, sink)
    }
}

impl<E: Engine + ?Sized> AuditApi for Traced<E> {
    fn whoami(&self, c: &Caller) -> Result<Caller> {
        self.call(c, "whoami", json!([]), || self.inner.whoami(c))
    }
    fn audit_read(&self, c: &Caller) -> Result<Vec<AuditEntry>> {
        self.call(c, "audit_read", json!([]), || self.inner.audit_read(c))
    }
    fn audit_verify(&self, c: &Caller) -> Result<u64> {
        self.call(c, "audit_verify", json!([]), || self.inner.audit_verify(c))
    }
    fn permissions(&self, c: &Caller) -> Result<Permissions> {
        self.call(c, "permissions", json!([]), || self.inner.permissions(c))
    }
}

impl<E: Engine + ?Sized> ImageApi for Traced<E> {
    fn image_list(&self, c: &Caller, opts: &ImageListOptions) -> Result<Vec<ImageSummary>> {
        self.call(c, "image_list", json!([opts]), || {
            self.inner.image_list(c, opts)
        })
    }
    fn image_inspect(&self, c: &Caller, reference: &str) -> Result<Value> {
        self.call(c, "image_inspect", json!([reference]), || {
            self.inner.image_inspect(c, reference)
        })
    }
    fn image_history(&self, c: &Caller, reference: &str) -> Result<Vec<HistoryEntry>> {
        self.call(c, "image_history", json!([reference]), || {
            self.inner.image_history(c, reference)
        })
    }
    fn image_load(&self, c: &Caller, input: &mut dyn Read) -> Result<LoadReport> {
        self.call(c, "image_load", json!(["(archive)"]), || {
            self.inner.image_load(c, input)
        })
    }
    fn image_import(
        &self,
        c: &Caller,
        input: &mut dyn Read,
        opts: &ImportOptions,
    ) -> Result<String> {
        self.call(c, "image_import", json!([opts]), || {
            self.inner.image_import(c, input, opts)
        })
    }
    fn image_save(
        &self,
        c: &Caller,
        references: &[String],
        format: SaveFormat,
        out: &mut dyn Write,
    ) -> Result<()> {
        self.call(c, "image_save", json!([references, format]), || {
            self.inner.image_save(c, references, format, out)
        })
    }
    fn image_tag(&self, c: &Caller, source: &str, target: &str) -> Result<()> {
        self.call(c, "image_tag", json!([source, target]), || {
            self.inner.image_tag(c, source, target)
        })
    }
    fn image_remove(&self, c: &Caller, reference: &str, force: bool) -> Result<Vec<RemoveOutcome>> {
        self.call(c, "image_remove", json!([reference, force]), || {
            self.inner.image_remove(c, reference, force)
        })
    }
    fn image_prune(&self, c: &Caller, all: bool) -> Result<PruneReport> {
        self.call(c, "image_prune", json!([all]), || {
            self.inner.image_prune(c, all)
        })
    }
    fn image_build_demo(&self, c: &Caller, reference: &str) -> Result<String> {
        self.call(c, "image_build_demo", json!([reference]), || {
            self.inner.image_build_demo(c, reference)
        })
    }
    fn image_disk_usage(&self, c: &Caller) -> Result<ImageDiskUsage> {
        self.call(c, "image_disk_usage", json!([]), || {
            self.inner.image_disk_usage(c)
        })
    }
}

impl<E: Engine + ?Sized> RegistryApi for Traced<E> {
    fn image_pull(
        &self,
        c: &Caller,
        reference: &str,
        opts: &PullOptions,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<String> {
        self.call(c, "image_pull", json!([reference, opts]), || {
            self.inner.image_pull(c, reference, opts, progress)
        })
    }
    fn image_push(
        &self,
        c: &Caller,
        reference: &str,
        opts: &PushOptions,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<()> {
        self.call(c, "image_push", json!([reference, opts]), || {
            self.inner.image_push(c, reference, opts, progress)
        })
    }
    fn registry_login(
        &self,
        c: &Caller,
        server: &str,
        username: &str,
        password: &str,
    ) -> Result<()> {
        self.call(
            c,
            "registry_login",
            json!([server, username, password]),
            || self.inner.registry_login(c, server, username, password),
        )
    }
    fn registry_logout(&self, c: &Caller, server: &str) -> Result<()> {
        self.call(c, "registry_logout", json!([server]), || {
            self.inner.registry_logout(c, server)
        })
    }
}

impl<E: Engine + ?Sized> ContainerApi for Traced<E> {
    fn container_create(&self, c: &Caller, spec: &ContainerCreate) -> Result<String> {
        self.call(c, "container_create", json!([spec]), || {
            self.inner.container_create(c, spec)
        })
    }
    fn container_start(&self, c: &Caller, id: &str) -> Result<()> {
        self.call(c, "container_start", json!([id]), || {
            self.inner.container_start(c, id)
        })
    }
    fn container_stop(&self, c: &Caller, id: &str, timeout: Option<u32>) -> Result<()> {
        self.call(c, "container_stop", json!([id, timeout]), || {
            self.inner.container_stop(c, id, timeout)
        })
    }
    fn container_restart(&self, c: &Caller, id: &str, timeout: Option<u32>) -> Result<()> {
        self.call(c, "container_restart", json!([id, timeout]), || {
            self.inner.container_restart(c, id, timeout)
        })
    }
    fn container_kill(&self, c: &Caller, id: &str, signal: &str) -> Result<()> {
        self.call(c, "container_kill", json!([id, signal]), || {
            self.inner.container_kill(c, id, signal)
        })
    }
    fn container_pause(&self, c: &Caller, id: &str) -> Result<()> {
        self.call(c, "container_pause", json!([id]), || {
            self.inner.container_pause(c, id)
        })
    }
    fn container_unpause(&self, c: &Caller, id: &str) -> Result<()> {
        self.call(c, "container_unpause", json!([id]), || {
            self.inner.container_unpause(c, id)
        })
    }
    fn container_remove(&self, c: &Caller, id: &str, opts: RemoveOptions) -> Result<()> {
        self.call(c, "container_remove", json!([id, opts]), || {
            self.inner.container_remove(c, id, opts)
        })
    }
    fn container_rename(&self, c: &Caller, id: &str, new_name: &str) -> Result<()> {
        self.call(c, "container_rename", json!([id, new_name]), || {
            self.inner.container_rename(c, id, new_name)
        })
    }
    fn container_wait(&self, c: &Caller, id: &str) -> Result<i32> {
        self.call(c, "container_wait", json!([id]), || {
            self.inner.container_wait(c, id)
        })
    }
    fn container_update(
        &self,
        c: &Caller,
        id: &str,
        resources: &Resources,
        restart: Option<&RestartPolicy>,
    ) -> Result<()> {
        self.call(
            c,
            "container_update",
            json!([id, resources, restart]),
            || self.inner.container_update(c, id, resources, restart),
        )
    }
    fn container_list(
        &self,
        c: &Caller,
        opts: &ContainerListOptions,
    ) -> Result<Vec<ContainerSummary>> {
        self.call(c, "container_list", json!([opts]), || {
            self.inner.container_list(c, opts)
        })
    }
    fn container_list_shared(
        &self,
        c: &Caller,
        opts: &ContainerListOptions,
    ) -> Result<std::sync::Arc<Vec<ContainerSummary>>> {
        self.call(c, "container_list", json!([opts]), || {
            self.inner.container_list_shared(c, opts)
        })
    }
    fn container_inspect(&self, c: &Caller, id: &str) -> Result<Value> {
        self.call(c, "container_inspect", json!([id]), || {
            self.inner.container_inspect(c, id)
        })
    }
    fn container_prune(&self, c: &Caller) -> Result<PruneReport> {
        self.call(c, "container_prune", json!([]), || {
            self.inner.container_prune(c)
        })
    }
    fn container_logs(
        &self,
        c: &Caller,
        id: &str,
        opts: &LogOptions,
        sink: &mut dyn FnMut(LogLine) -> bool,
    ) -> Result<()> {
        self.streamed(c, "container_logs", json!([id, opts]), |bump| {
            self.inner.container_logs(c, id, opts, &mut |l| {
                bump();
                sink(l)
            })
        })
    }
    fn container_attach(&self, c: &Caller, id: &str) -> Result<UnixStream> {
        self.record(
            c,
            "container_attach",
            json!([id]),
            |_| json!("(attach stream)"),
            || self.inner.container_attach(c, id),
        )
    }
    fn container_start_attached(
        &self,
        c: &Caller,
        id: &str,
        size: Option<(u16, u16)>,
    ) -> Result<UnixStream> {
        self.record(
            c,
            "container_start_attached",
            json!([id, size]),
            |_| json!("(attach stream)"),
            || self.inner.container_start_attached(c, id, size),
        )
    }
}

impl<E: Engine + ?Sized> NetworkApi for Traced<E> {
    fn network_create(&self, c: &Caller, spec: &NetworkCreate) -> Result<String> {
        self.call(c, "network_create", json!([spec]), || {
            self.inner.network_create(c, spec)
        })
    }
    fn network_list(&self, c: &Caller, opts: &NetworkListOptions) -> Result<Vec<NetworkInfo>> {
        self.call(c, "network_list", json!([opts]), || {
            self.inner.network_list(c, opts)
        })
    }
    fn network_inspect(&self, c: &Caller, network: &str) -> Result<NetworkInfo> {
        self.call(c, "network_inspect", json!([network]), || {
            self.inner.network_inspect(c, network)
        })
    }
    fn network_remove(&self, c: &Caller, network: &str) -> Result<()> {
        self.call(c, "network_remove", json!([network]), || {
            self.inner.network_remove(c, network)
        })
    }
    fn network_prune(&self, c: &Caller) -> Result<PruneReport> {
        self.call(c, "network_prune", json!([]), || {
            self.inner.network_prune(c)
        })
    }
    fn network_connect(
        &self,
        c: &Caller,
        network: &str,
        container: &str,
        opts: &NetworkConnect,
    ) -> Result<()> {
        self.call(
            c,
            "network_connect",
            json!([network, container, opts]),
            || self.inner.network_connect(c, network, container, opts),
        )
    }
    fn network_disconnect(&self, c: &Caller, network: &str, container: &str) -> Result<()> {
        self.call(c, "network_disconnect", json!([network, container]), || {
            self.inner.network_disconnect(c, network, container)
        })
    }
    fn container_ports(&self, c: &Caller, container: &str) -> Result<Vec<PortBinding>> {
        self.call(c, "container_ports", json!([container]), || {
            self.inner.container_ports(c, container)
        })
    }
}

impl<E: Engine + ?Sized> VolumeApi for Traced<E> {
    fn volume_create(&self, c: &Caller, opts: &VolumeCreate) -> Result<Volume> {
        self.call(c, "volume_create", json!([opts]), || {
            self.inner.volume_create(c, opts)
        })
    }
    fn volume_list(&self, c: &Caller, opts: &VolumeListOptions) -> Result<Vec<Volume>> {
        self.call(c, "volume_list", json!([opts]), || {
            self.inner.volume_list(c, opts)
        })
    }
    fn volume_inspect(&self, c: &Caller, name: &str) -> Result<Volume> {
        self.call(c, "volume_inspect", json!([name]), || {
            self.inner.volume_inspect(c, name)
        })
    }
    fn volume_remove(&self, c: &Caller, name: &str, force: bool) -> Result<()> {
        self.call(c, "volume_remove", json!([name, force]), || {
            self.inner.volume_remove(c, name, force)
        })
    }
    fn volume_prune(&self, c: &Caller, all: bool) -> Result<PruneReport> {
        self.call(c, "volume_prune", json!([all]), || {
            self.inner.volume_prune(c, all)
        })
    }
}

impl<E: Engine + ?Sized> StatsApi for Traced<E> {
    fn container_stats(
        &self,
        c: &Caller,
        ids: &[String],
        opts: &StatsOptions,
        sink: &mut dyn FnMut(Vec<ContainerStats>) -> bool,
    ) -> Result<()> {
        self.streamed(c, "container_stats", json!([ids, opts]), |bump| {
            self.inner.container_stats(c, ids, opts, &mut |b| {
                bump();
                sink(b)
            })
        })
    }
    fn stats_history(&self, c: &Caller, id: &str) -> Result<Vec<StatsPoint>> {
        self.call(c, "stats_history", json!([id]), || {
            self.inner.stats_history(c, id)
        })
    }
    fn host_stats(&self, c: &Caller) -> Result<HostStats> {
        self.call(c, "host_stats", json!([]), || self.inner.host_stats(c))
    }
}

impl<E: Engine + ?Sized> ExecApi for Traced<E> {
    fn exec(&self, c: &Caller, container: &str, cfg: &ExecConfig) -> Result<ExecSession> {
        self.record(
            c,
            "exec",
            json!([container, cfg]),
            |s: &ExecSession| json!({"id": s.id, "pid": s.pid}),
            || self.inner.exec(c, container, cfg),
        )
    }
}

impl<E: Engine + ?Sized> ToolboxApi for Traced<E> {
    fn container_top(&self, c: &Caller, container: &str) -> Result<TopResult> {
        self.call(c, "container_top", json!([container]), || {
            self.inner.container_top(c, container)
        })
    }
    fn container_diff(&self, c: &Caller, container: &str) -> Result<Vec<Change>> {
        self.call(c, "container_diff", json!([container]), || {
            self.inner.container_diff(c, container)
        })
    }
    fn container_export(&self, c: &Caller, container: &str, out: &mut dyn Write) -> Result<()> {
        self.call(c, "container_export", json!([container]), || {
            self.inner.container_export(c, container, out)
        })
    }
    fn container_commit(
        &self,
        c: &Caller,
        container: &str,
        opts: &CommitOptions,
    ) -> Result<String> {
        self.call(c, "container_commit", json!([container, opts]), || {
            self.inner.container_commit(c, container, opts)
        })
    }
    fn container_stat_path(&self, c: &Caller, container: &str, path: &str) -> Result<PathStat> {
        self.call(c, "container_stat_path", json!([container, path]), || {
            self.inner.container_stat_path(c, container, path)
        })
    }
    fn container_archive_get(
        &self,
        c: &Caller,
        container: &str,
        path: &str,
        out: &mut dyn Write,
    ) -> Result<PathStat> {
        self.call(c, "container_archive_get", json!([container, path]), || {
            self.inner.container_archive_get(c, container, path, out)
        })
    }
    fn container_archive_put(
        &self,
        c: &Caller,
        container: &str,
        dir: &str,
        input: &mut dyn Read,
    ) -> Result<()> {
        self.call(c, "container_archive_put", json!([container, dir]), || {
            self.inner.container_archive_put(c, container, dir, input)
        })
    }
}

impl<E: Engine + ?Sized> BuildApi for Traced<E> {
    fn image_build(
        &self,
        c: &Caller,
        opts: &BuildOptions,
        context: BuildContext<'_>,
        sink: &mut dyn FnMut(BuildEvent) -> bool,
    ) -> Result<BuildResult> {
        let ctx = match &context {
            BuildContext::Dir(p) => json!({ "dir": p }),
            BuildContext::Tar(_) => json!("tar stream"),
            BuildContext::Empty => json!("none"),
        };
        self.call(c, "image_build", json!([opts, ctx]), || {
            self.inner.image_build(c, opts, context, sink)
        })
    }
    fn build_cache_list(&self, c: &Caller) -> Result<Vec<BuildCacheEntry>> {
        self.call(c, "build_cache_list", json!([]), || {
            self.inner.build_cache_list(c)
        })
    }
    fn build_cache_prune(&self, c: &Caller, opts: &BuildCachePruneOptions) -> Result<PruneReport> {
        self.call(c, "build_cache_prune", json!([opts]), || {
            self.inner.build_cache_prune(c, opts)
        })
    }
    fn build_cache_usage(&self, c: &Caller) -> Result<BuildCacheUsage> {
        self.call(c, "build_cache_usage", json!([]), || {
            self.inner.build_cache_usage(c)
        })
    }
}

impl<E: Engine + ?Sized> RegistryBrowseApi for Traced<E> {
    fn registry_list(&self, c: &Caller) -> Result<Vec<RegistryEntry>> {
        self.call(c, "registry_list", json!([]), || {
            self.inner.registry_list(c)
        })
    }
    fn registry_catalog(&self, c: &Caller, registry: &str, page: &PageRequest) -> Result<NamePage> {
        self.call(c, "registry_catalog", json!([registry, page]), || {
            self.inner.registry_catalog(c, registry, page)
        })
    }
    fn registry_tags(&self, c: &Caller, repository: &str, page: &PageRequest) -> Result<NamePage> {
        self.call(c, "registry_tags", json!([repository, page]), || {
            self.inner.registry_tags(c, repository, page)
        })
    }
    fn registry_manifest(
        &self,
        c: &Caller,
        reference: &str,
        platform: Option<&str>,
    ) -> Result<RemoteManifest> {
        self.call(c, "registry_manifest", json!([reference, platform]), || {
            self.inner.registry_manifest(c, reference, platform)
        })
    }
    fn registry_delete(&self, c: &Caller, reference: &str) -> Result<TagDeletion> {
        self.call(c, "registry_delete", json!([reference]), || {
            self.inner.registry_delete(c, reference)
        })
    }
}

impl<E: Engine + ?Sized> AccountsApi for Traced<E> {
    fn policy_read(&self, c: &Caller) -> Result<PolicyView> {
        self.call(c, "policy_read", json!([]), || self.inner.policy_read(c))
    }
    fn policy_write(&self, c: &Caller, text: &str, base: Option<&str>) -> Result<PolicyChange> {
        self.call(c, "policy_write", json!([text, base]), || {
            self.inner.policy_write(c, text, base)
        })
    }
    fn connections(&self, c: &Caller) -> Result<Connections> {
        self.call(c, "connections", json!([]), || self.inner.connections(c))
    }
    fn account_usage(&self, c: &Caller) -> Result<Vec<Usage>> {
        self.call(c, "account_usage", json!([]), || {
            self.inner.account_usage(c)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::{EngineOptions, LocalEngine};

    #[test]
    fn calls_are_recorded_with_their_answers_errors_and_actions() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Arc::new(LocalEngine::open(dir.path(), EngineOptions::default()).unwrap());
        let t = Traced::new(engine, Tracer::new(100), "console");
        let c = Caller::root();
        crate::trace::with_action(3, || {
            t.volume_create(
                &c,
                &VolumeCreate {
                    name: Some("lab-data".into()),
                    ..Default::default()
                },
            )
        })
        .unwrap();
        assert!(t.volume_remove(&c, "no-such-volume", false).is_err());
        let e = t.tracer().since(0);
        assert_eq!(e.len(), 2);
        assert_eq!(
            (e[0].method.as_str(), e[0].source.as_str(), e[0].action),
            ("volume_create", "console", Some(3))
        );
        assert!(e[0].ok && e[0].mutating);
        assert_eq!(e[0].args[0]["name"], "lab-data");
        assert_eq!(e[0].answer["Name"], "lab-data");
        assert!(!e[1].ok && e[1].error.as_deref().unwrap().contains("no-such-volume"));
        assert_eq!(e[1].action, None);
    }

    #[test]
    fn registry_and_accounts_calls_are_recorded_and_a_password_never() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Arc::new(LocalEngine::open(dir.path(), EngineOptions::default()).unwrap());
        let t = Traced::new(engine, Tracer::new(100), "console");
        let c = Caller::root();
        t.registry_list(&c).unwrap();
        // Nothing listens there: the login fails, its password stays out of the trace.
        assert!(t
            .registry_login(&c, "127.0.0.1:1", "gina", "g1na-s3cret")
            .is_err());
        let _ = t.registry_catalog(&c, "127.0.0.1:1", &PageRequest::default());
        let _ = t.policy_read(&c);
        let _ = t.account_usage(&c);
        let e = t.tracer().since(0);
        let methods: Vec<&str> = e.iter().map(|e| e.method.as_str()).collect();
        assert_eq!(
            methods,
            [
                "registry_list",
                "registry_login",
                "registry_catalog",
                "policy_read",
                "account_usage"
            ]
        );
        assert!(!e[0].mutating && !e[2].mutating && !e[3].mutating);
        assert_eq!(e[1].args[1], "gina");
        let all = serde_json::to_string(&e.iter().map(|e| &e.args).collect::<Vec<_>>()).unwrap();
        assert!(!all.contains("g1na-s3cret"), "{all}");
        assert!(e[1]
            .error
            .as_deref()
            .is_some_and(|m| !m.contains("g1na-s3cret")));
    }

    #[test]
    fn a_caller_reads_their_own_calls_and_only_admins_everyones() {
        let dir = tempfile::tempdir().unwrap();
        let policy = crate::policy::Policy::parse(
            std::path::Path::new("policy.json"),
            r#"{"users": {"4242": {"role": "user"}, "4343": {"role": "user"}}}"#,
        )
        .unwrap();
        let alice = policy.caller_for(4242);
        let bob = policy.caller_for(4343);
        let engine = LocalEngine::open(
            dir.path(),
            EngineOptions {
                policy: Some(Arc::new(policy)),
                ..Default::default()
            },
        )
        .unwrap();
        for who in [&alice, &bob, &alice] {
            let mut e = TraceEntry::new(who, "wharf", "container_create");
            e.args = json!([{"env": ["SECRET_OF=".to_string() + &who.name]}]);
            engine.tracer().record(e);
        }
        let read = |who: &Caller, all: bool| {
            let mut got = Vec::new();
            engine
                .trace(
                    who,
                    &TraceOptions {
                        all,
                        ..Default::default()
                    },
                    &mut |e| {
                        got.push(e.caller.uid);
                        true
                    },
                )
                .map(|()| got)
        };
        assert_eq!(read(&alice, false).unwrap(), [4242, 4242]);
        assert_eq!(read(&bob, false).unwrap(), [4343]);
        let refused = read(&alice, true).unwrap_err();
        assert_eq!(refused.kind, ErrorKind::PermissionDenied);
        assert!(refused.message.contains("audit.trace"), "{refused}");
        assert_eq!(read(&Caller::root(), true).unwrap().len(), 3);
    }
}
