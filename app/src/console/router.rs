//! The fleet view's engine: one [`Engine`] over every host of the console, each call
//! sent to the host its object is on. A container is found by its id (ids are random,
//! so they do not collide across hosts); any other object is named `HOST::NAME` in the
//! fleet view's rows (an image, a network, a volume of that host); anything else goes to
//! the current host. The panes, the inspect layer, the logs and the terminal handoff
//! thus act on the right host without knowing there are several.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, RwLock};

use serde_json::Value;
use wharf_engine::api::*;
use wharf_engine::events::Event;
use wharf_engine::{Caller, Engine, EngineError, Result};

/// The separator of a host's name and an object's in the fleet view (`lab-02::web`).
pub const SEP: &str = "::";

/// `HOST::NAME` for an object of `host`.
pub fn qualify(host: &str, name: &str) -> String {
    format!("{host}{SEP}{name}")
}

/// One host as the router sends calls to it.
#[derive(Clone)]
pub struct Member {
    pub name: String,
    pub engine: Arc<dyn Engine>,
    pub caller: Caller,
}

/// Who is where: the members, the current host, and which host each container is on.
#[derive(Default)]
pub struct Routes {
    /// The hosts that are up.
    pub members: Vec<Member>,
    /// The current host among the members (`None`: it is down, or not reached yet).
    pub current: Option<usize>,
    /// The current host's name (what an error says when it is down).
    pub current_name: String,
    /// Container id to member index.
    pub containers: HashMap<String, usize>,
}

impl Routes {
    /// The member and the object's own name for `s`: `HOST::NAME` on that host; a
    /// container id, or an id prefix (4 characters or more) of containers on one host,
    /// on that host; anything else on the current host, if it is up. A prefix of
    /// containers on several hosts is refused: the caller says which (`HOST::ID`).
    pub fn resolve(&self, s: &str) -> Result<(Member, String)> {
        if let Some((h, rest)) = s.split_once(SEP) {
            if let Some(m) = self.members.iter().find(|m| m.name == h) {
                return Ok((m.clone(), rest.to_string()));
            }
            return Err(EngineError::unavailable(format!(
                "host {h} is not connected"
            )));
        }
        let i = match self.containers.get(s) {
            Some(&i) => Some(i),
            None if s.len() >= 4 => {
                let hosts: std::collections::BTreeSet<usize> = self
                    .containers
                    .iter()
                    .filter(|(id, _)| id.starts_with(s))
                    .map(|(_, &i)| i)
                    .collect();
                if hosts.len() > 1 {
                    let names: Vec<&str> = hosts
                        .iter()
                        .filter_map(|&i| self.members.get(i).map(|m| m.name.as_str()))
                        .collect();
                    let (last, rest) = names.split_last().unwrap_or((&"", &[]));
                    return Err(EngineError::invalid(format!(
                        "ambiguous: {s} names containers on hosts {} and {last}: use HOST{SEP}ID",
                        rest.join(", ")
                    )));
                }
                hosts.first().copied()
            }
            None => None,
        };
        let m = match i {
            Some(i) => self.members.get(i),
            None => Some(self.current_member()?),
        };
        m.map(|m| (m.clone(), s.to_string()))
            .ok_or_else(|| EngineError::unavailable("no host is connected"))
    }

    /// The current host, if it is up.
    pub fn current_member(&self) -> Result<&Member> {
        match self.current.and_then(|i| self.members.get(i)) {
            Some(m) => Ok(m),
            None if self.current_name.is_empty() => {
                Err(EngineError::unavailable("no host is connected"))
            }
            None => Err(EngineError::unavailable(format!(
                "host {} is down",
                self.current_name
            ))),
        }
    }
}

/// The engine over every host.
#[derive(Clone, Default)]
pub struct Router {
    pub routes: Arc<RwLock<Routes>>,
}

impl Router {
    /// The member and the object's own name for `s` ([`Routes::resolve`]).
    fn route(&self, s: &str) -> Result<(Member, String)> {
        self.routes
            .read()
            .map_err(|_| EngineError::internal("the fleet's routes are broken"))?
            .resolve(s)
    }

    /// The current host, for calls about no object (an error when it is down).
    fn current(&self) -> Result<Member> {
        self.routes
            .read()
            .map_err(|_| EngineError::internal("the fleet's routes are broken"))?
            .current_member()
            .cloned()
    }
}

impl SystemApi for Router {
    fn info(&self, _c: &Caller) -> Result<SystemInfo> {
        let m = self.current()?;
        m.engine.info(&m.caller)
    }
    fn events(
        &self,
        _c: &Caller,
        filter: &EventFilter,
        sink: &mut dyn FnMut(Event) -> bool,
    ) -> Result<()> {
        let m = self.current()?;
        m.engine.events(&m.caller, filter, sink)
    }
}

impl AuditApi for Router {
    fn whoami(&self, _c: &Caller) -> Result<Caller> {
        let m = self.current()?;
        m.engine.whoami(&m.caller)
    }
    fn audit_read(&self, _c: &Caller) -> Result<Vec<wharf_engine::policy::audit::AuditEntry>> {
        let m = self.current()?;
        m.engine.audit_read(&m.caller)
    }
    fn audit_verify(&self, _c: &Caller) -> Result<u64> {
        let m = self.current()?;
        m.engine.audit_verify(&m.caller)
    }
    fn permissions(&self, _c: &Caller) -> Result<Permissions> {
        let m = self.current()?;
        m.engine.permissions(&m.caller)
    }
}

impl ImageApi for Router {
    fn image_list(&self, _c: &Caller, o: &ImageListOptions) -> Result<Vec<ImageSummary>> {
        let m = self.current()?;
        m.engine.image_list(&m.caller, o)
    }
    fn image_inspect(&self, _c: &Caller, r: &str) -> Result<Value> {
        let (m, r) = self.route(r)?;
        m.engine.image_inspect(&m.caller, &r)
    }
    fn image_history(&self, _c: &Caller, r: &str) -> Result<Vec<HistoryEntry>> {
        let (m, r) = self.route(r)?;
        m.engine.image_history(&m.caller, &r)
    }
    fn image_load(&self, _c: &Caller, input: &mut dyn Read) -> Result<LoadReport> {
        let m = self.current()?;
        m.engine.image_load(&m.caller, input)
    }
    fn image_import(&self, _c: &Caller, input: &mut dyn Read, o: &ImportOptions) -> Result<String> {
        let m = self.current()?;
        m.engine.image_import(&m.caller, input, o)
    }
    fn image_save(
        &self,
        _c: &Caller,
        refs: &[String],
        f: SaveFormat,
        out: &mut dyn Write,
    ) -> Result<()> {
        let (m, first) = self.route(refs.first().map(String::as_str).unwrap_or(""))?;
        let mut own: Vec<String> = refs.to_vec();
        if let Some(x) = own.first_mut() {
            *x = first;
        }
        for x in own.iter_mut().skip(1) {
            if let Some((_, rest)) = x.split_once(SEP) {
                *x = rest.to_string();
            }
        }
        m.engine.image_save(&m.caller, &own, f, out)
    }
    fn image_tag(&self, _c: &Caller, src: &str, dst: &str) -> Result<()> {
        let (m, src) = self.route(src)?;
        let dst = dst.split_once(SEP).map(|x| x.1).unwrap_or(dst);
        m.engine.image_tag(&m.caller, &src, dst)
    }
    fn image_remove(&self, _c: &Caller, r: &str, force: bool) -> Result<Vec<RemoveOutcome>> {
        let (m, r) = self.route(r)?;
        m.engine.image_remove(&m.caller, &r, force)
    }
    fn image_prune(&self, _c: &Caller, all: bool) -> Result<PruneReport> {
        let m = self.current()?;
        m.engine.image_prune(&m.caller, all)
    }
    fn image_build_demo(&self, _c: &Caller, r: &str) -> Result<String> {
        let (m, r) = self.route(r)?;
        m.engine.image_build_demo(&m.caller, &r)
    }
    fn image_disk_usage(&self, _c: &Caller) -> Result<ImageDiskUsage> {
        let m = self.current()?;
        m.engine.image_disk_usage(&m.caller)
    }
}

impl RegistryApi for Router {
    fn image_pull(
        &self,
        _c: &Caller,
        r: &str,
        o: &PullOptions,
        p: &mut dyn FnMut(Progress),
    ) -> Result<String> {
        let (m, r) = self.route(r)?;
        m.engine.image_pull(&m.caller, &r, o, p)
    }
    fn image_push(
        &self,
        _c: &Caller,
        r: &str,
        o: &PushOptions,
        p: &mut dyn FnMut(Progress),
    ) -> Result<()> {
        let (m, r) = self.route(r)?;
        m.engine.image_push(&m.caller, &r, o, p)
    }
    fn registry_login(&self, _c: &Caller, s: &str, u: &str, p: &str) -> Result<()> {
        let m = self.current()?;
        m.engine.registry_login(&m.caller, s, u, p)
    }
    fn registry_logout(&self, _c: &Caller, s: &str) -> Result<()> {
        let m = self.current()?;
        m.engine.registry_logout(&m.caller, s)
    }
}

macro_rules! by_container {
    ($self:ident, $id:ident, |$m:ident, $own:ident| $body:expr) => {{
        let ($m, $own) = $self.route($id)?;
        $body
    }};
}

impl ContainerApi for Router {
    fn container_create(&self, _c: &Caller, spec: &ContainerCreate) -> Result<String> {
        // `HOST::IMAGE` runs on that host.
        let (m, image) = self.route(&spec.image)?;
        let mut spec = spec.clone();
        spec.image = image;
        m.engine.container_create(&m.caller, &spec)
    }
    fn container_start(&self, _c: &Caller, id: &str) -> Result<()> {
        by_container!(self, id, |m, id| m.engine.container_start(&m.caller, &id))
    }
    fn container_stop(&self, _c: &Caller, id: &str, t: Option<u32>) -> Result<()> {
        by_container!(self, id, |m, id| m.engine.container_stop(&m.caller, &id, t))
    }
    fn container_restart(&self, _c: &Caller, id: &str, t: Option<u32>) -> Result<()> {
        by_container!(self, id, |m, id| m
            .engine
            .container_restart(&m.caller, &id, t))
    }
    fn container_kill(&self, _c: &Caller, id: &str, s: &str) -> Result<()> {
        by_container!(self, id, |m, id| m.engine.container_kill(&m.caller, &id, s))
    }
    fn container_pause(&self, _c: &Caller, id: &str) -> Result<()> {
        by_container!(self, id, |m, id| m.engine.container_pause(&m.caller, &id))
    }
    fn container_unpause(&self, _c: &Caller, id: &str) -> Result<()> {
        by_container!(self, id, |m, id| m.engine.container_unpause(&m.caller, &id))
    }
    fn container_remove(&self, _c: &Caller, id: &str, o: RemoveOptions) -> Result<()> {
        by_container!(self, id, |m, id| m
            .engine
            .container_remove(&m.caller, &id, o))
    }
    fn container_rename(&self, _c: &Caller, id: &str, n: &str) -> Result<()> {
        by_container!(self, id, |m, id| m
            .engine
            .container_rename(&m.caller, &id, n))
    }
    fn container_wait(&self, _c: &Caller, id: &str) -> Result<i32> {
        by_container!(self, id, |m, id| m.engine.container_wait(&m.caller, &id))
    }
    fn container_update(
        &self,
        _c: &Caller,
        id: &str,
        r: &Resources,
        p: Option<&RestartPolicy>,
    ) -> Result<()> {
        by_container!(self, id, |m, id| m
            .engine
            .container_update(&m.caller, &id, r, p))
    }
    fn container_list(
        &self,
        _c: &Caller,
        o: &ContainerListOptions,
    ) -> Result<Vec<ContainerSummary>> {
        let m = self.current()?;
        m.engine.container_list(&m.caller, o)
    }
    fn container_list_shared(
        &self,
        _c: &Caller,
        o: &ContainerListOptions,
    ) -> Result<std::sync::Arc<Vec<ContainerSummary>>> {
        let m = self.current()?;
        m.engine.container_list_shared(&m.caller, o)
    }
    fn container_inspect(&self, _c: &Caller, id: &str) -> Result<Value> {
        by_container!(self, id, |m, id| m.engine.container_inspect(&m.caller, &id))
    }
    fn container_prune(&self, _c: &Caller) -> Result<PruneReport> {
        let m = self.current()?;
        m.engine.container_prune(&m.caller)
    }
    fn container_logs(
        &self,
        _c: &Caller,
        id: &str,
        o: &LogOptions,
        sink: &mut dyn FnMut(LogLine) -> bool,
    ) -> Result<()> {
        by_container!(self, id, |m, id| m
            .engine
            .container_logs(&m.caller, &id, o, sink))
    }
    fn container_attach(&self, _c: &Caller, id: &str) -> Result<UnixStream> {
        by_container!(self, id, |m, id| m.engine.container_attach(&m.caller, &id))
    }
    fn container_start_attached(
        &self,
        _c: &Caller,
        id: &str,
        size: Option<(u16, u16)>,
    ) -> Result<UnixStream> {
        by_container!(self, id, |m, id| m
            .engine
            .container_start_attached(&m.caller, &id, size))
    }
}

impl NetworkApi for Router {
    fn network_create(&self, _c: &Caller, spec: &NetworkCreate) -> Result<String> {
        let (m, name) = self.route(&spec.name)?;
        let mut spec = spec.clone();
        spec.name = name;
        m.engine.network_create(&m.caller, &spec)
    }
    fn network_list(&self, _c: &Caller, o: &NetworkListOptions) -> Result<Vec<NetworkInfo>> {
        let m = self.current()?;
        m.engine.network_list(&m.caller, o)
    }
    fn network_inspect(&self, _c: &Caller, n: &str) -> Result<NetworkInfo> {
        let (m, n) = self.route(n)?;
        m.engine.network_inspect(&m.caller, &n)
    }
    fn network_remove(&self, _c: &Caller, n: &str) -> Result<()> {
        let (m, n) = self.route(n)?;
        m.engine.network_remove(&m.caller, &n)
    }
    fn network_prune(&self, _c: &Caller) -> Result<PruneReport> {
        let m = self.current()?;
        m.engine.network_prune(&m.caller)
    }
    fn network_connect(&self, _c: &Caller, n: &str, ctr: &str, o: &NetworkConnect) -> Result<()> {
        let (m, n) = self.route(n)?;
        m.engine.network_connect(&m.caller, &n, ctr, o)
    }
    fn network_disconnect(&self, _c: &Caller, n: &str, ctr: &str) -> Result<()> {
        let (m, n) = self.route(n)?;
        m.engine.network_disconnect(&m.caller, &n, ctr)
    }
    fn container_ports(&self, _c: &Caller, id: &str) -> Result<Vec<PortBinding>> {
        by_container!(self, id, |m, id| m.engine.container_ports(&m.caller, &id))
    }
}

impl VolumeApi for Router {
    fn volume_create(&self, _c: &Caller, o: &VolumeCreate) -> Result<Volume> {
        let (m, name) = match &o.name {
            Some(n) => {
                let (m, n) = self.route(n)?;
                (m, Some(n))
            }
            None => (self.current()?, None),
        };
        let o = VolumeCreate {
            name,
            labels: o.labels.clone(),
        };
        m.engine.volume_create(&m.caller, &o)
    }
    fn volume_list(&self, _c: &Caller, o: &VolumeListOptions) -> Result<Vec<Volume>> {
        let m = self.current()?;
        m.engine.volume_list(&m.caller, o)
    }
    fn volume_inspect(&self, _c: &Caller, n: &str) -> Result<Volume> {
        let (m, n) = self.route(n)?;
        m.engine.volume_inspect(&m.caller, &n)
    }
    fn volume_remove(&self, _c: &Caller, n: &str, force: bool) -> Result<()> {
        let (m, n) = self.route(n)?;
        m.engine.volume_remove(&m.caller, &n, force)
    }
    fn volume_prune(&self, _c: &Caller, all: bool) -> Result<PruneReport> {
        let m = self.current()?;
        m.engine.volume_prune(&m.caller, all)
    }
}

impl StatsApi for Router {
    fn container_stats(
        &self,
        _c: &Caller,
        ids: &[String],
        o: &StatsOptions,
        sink: &mut dyn FnMut(Vec<ContainerStats>) -> bool,
    ) -> Result<()> {
        let first = ids.first().map(String::as_str).unwrap_or("");
        let (m, _) = self.route(first)?;
        m.engine.container_stats(&m.caller, ids, o, sink)
    }
    fn stats_history(&self, _c: &Caller, id: &str) -> Result<Vec<StatsPoint>> {
        by_container!(self, id, |m, id| m.engine.stats_history(&m.caller, &id))
    }
    fn host_stats(&self, _c: &Caller) -> Result<HostStats> {
        let m = self.current()?;
        m.engine.host_stats(&m.caller)
    }
}

impl ExecApi for Router {
    fn exec(&self, _c: &Caller, id: &str, cfg: &ExecConfig) -> Result<ExecSession> {
        by_container!(self, id, |m, id| m.engine.exec(&m.caller, &id, cfg))
    }
}

impl ToolboxApi for Router {
    fn container_top(&self, _c: &Caller, id: &str) -> Result<TopResult> {
        by_container!(self, id, |m, id| m.engine.container_top(&m.caller, &id))
    }
    fn container_diff(&self, _c: &Caller, id: &str) -> Result<Vec<Change>> {
        by_container!(self, id, |m, id| m.engine.container_diff(&m.caller, &id))
    }
    fn container_export(&self, _c: &Caller, id: &str, out: &mut dyn Write) -> Result<()> {
        by_container!(self, id, |m, id| m
            .engine
            .container_export(&m.caller, &id, out))
    }
    fn container_commit(&self, _c: &Caller, id: &str, o: &CommitOptions) -> Result<String> {
        by_container!(self, id, |m, id| m
            .engine
            .container_commit(&m.caller, &id, o))
    }
    fn container_stat_path(&self, _c: &Caller, id: &str, p: &str) -> Result<PathStat> {
        by_container!(self, id, |m, id| m
            .engine
            .container_stat_path(&m.caller, &id, p))
    }
    fn container_archive_get(
        &self,
        _c: &Caller,
        id: &str,
        p: &str,
        out: &mut dyn Write,
    ) -> Result<PathStat> {
        by_container!(self, id, |m, id| m
            .engine
            .container_archive_get(&m.caller, &id, p, out))
    }
    fn container_archive_put(
        &self,
        _c: &Caller,
        id: &str,
        dir: &str,
        input: &mut dyn Read,
    ) -> Result<()> {
        by_container!(self, id, |m, id| m
            .engine
            .container_archive_put(&m.caller, &id, dir, input))
    }
}

impl BuildApi for Router {
    fn image_build(
        &self,
        _c: &Caller,
        o: &BuildOptions,
        ctx: BuildContext<'_>,
        sink: &mut dyn FnMut(BuildEvent) -> bool,
    ) -> Result<BuildResult> {
        let m = self.current()?;
        m.engine.image_build(&m.caller, o, ctx, sink)
    }
    fn build_cache_list(&self, _c: &Caller) -> Result<Vec<BuildCacheEntry>> {
        let m = self.current()?;
        m.engine.build_cache_list(&m.caller)
    }
    fn build_cache_prune(&self, _c: &Caller, o: &BuildCachePruneOptions) -> Result<PruneReport> {
        let m = self.current()?;
        m.engine.build_cache_prune(&m.caller, o)
    }
    fn build_cache_usage(&self, _c: &Caller) -> Result<BuildCacheUsage> {
        let m = self.current()?;
        m.engine.build_cache_usage(&m.caller)
    }
}

impl RegistryBrowseApi for Router {
    fn registry_list(&self, _c: &Caller) -> Result<Vec<RegistryEntry>> {
        let m = self.current()?;
        m.engine.registry_list(&m.caller)
    }
    fn registry_catalog(&self, _c: &Caller, r: &str, p: &PageRequest) -> Result<NamePage> {
        let m = self.current()?;
        m.engine.registry_catalog(&m.caller, r, p)
    }
    fn registry_tags(&self, _c: &Caller, r: &str, p: &PageRequest) -> Result<NamePage> {
        let m = self.current()?;
        m.engine.registry_tags(&m.caller, r, p)
    }
    fn registry_manifest(
        &self,
        _c: &Caller,
        r: &str,
        platform: Option<&str>,
    ) -> Result<RemoteManifest> {
        let m = self.current()?;
        m.engine.registry_manifest(&m.caller, r, platform)
    }
    fn registry_delete(&self, _c: &Caller, r: &str) -> Result<TagDeletion> {
        let m = self.current()?;
        m.engine.registry_delete(&m.caller, r)
    }
}

impl AccountsApi for Router {
    fn policy_read(&self, _c: &Caller) -> Result<PolicyView> {
        let m = self.current()?;
        m.engine.policy_read(&m.caller)
    }
    fn policy_write(&self, _c: &Caller, text: &str, base: Option<&str>) -> Result<PolicyChange> {
        let m = self.current()?;
        m.engine.policy_write(&m.caller, text, base)
    }
    fn connections(&self, _c: &Caller) -> Result<Connections> {
        let m = self.current()?;
        m.engine.connections(&m.caller)
    }
    fn account_usage(&self, _c: &Caller) -> Result<Vec<Usage>> {
        let m = self.current()?;
        m.engine.account_usage(&m.caller)
    }
}

#[cfg(test)]
mod tests {
    use wharf_engine::{EngineOptions, LocalEngine};

    use super::*;

    fn member(dir: &std::path::Path, name: &str) -> Member {
        let root = dir.join(name);
        Member {
            name: name.into(),
            engine: Arc::new(LocalEngine::open(&root, EngineOptions::default()).unwrap()),
            caller: Caller::root(),
        }
    }

    fn host(r: &Routes, s: &str) -> std::result::Result<(String, String), String> {
        r.resolve(s)
            .map(|(m, rest)| (m.name, rest))
            .map_err(|e| e.message)
    }

    /// Each call goes to the host its object is on, or is refused: never to another
    /// host by default.
    #[test]
    fn calls_go_to_their_host_or_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = Routes {
            members: vec![member(dir.path(), "lab-01"), member(dir.path(), "lab-02")],
            current: Some(1),
            current_name: "lab-02".into(),
            containers: HashMap::from([
                ("abcdef01".to_string(), 0),
                ("abcdef02".to_string(), 1),
                ("fedcba01".to_string(), 0),
            ]),
        };
        let ok = |h: &str, s: &str| Ok((h.to_string(), s.to_string()));
        assert_eq!(host(&r, "lab-01::web"), ok("lab-01", "web"));
        assert_eq!(
            host(&r, "lab-09::web"),
            Err("host lab-09 is not connected".into())
        );
        // An id, and a prefix of containers on one host.
        assert_eq!(host(&r, "abcdef01"), ok("lab-01", "abcdef01"));
        assert_eq!(host(&r, "fedc"), ok("lab-01", "fedc"));
        // A prefix of containers on two hosts.
        assert_eq!(
            host(&r, "abcd"),
            Err("ambiguous: abcd names containers on hosts lab-01 and lab-02: use HOST::ID".into())
        );
        // A short prefix, a name, an unknown id: the current host.
        assert_eq!(host(&r, "fed"), ok("lab-02", "fed"));
        assert_eq!(host(&r, "web"), ok("lab-02", "web"));
        // ... unless it is down: then no other host stands in for it.
        r.current = None;
        assert_eq!(host(&r, "web"), Err("host lab-02 is down".into()));
        assert_eq!(host(&r, "fedc"), ok("lab-01", "fedc"));
        assert_eq!(
            r.current_member()
                .map(|m| m.name.clone())
                .map_err(|e| e.message),
            Err("host lab-02 is down".into())
        );
        let none = Routes::default();
        assert_eq!(host(&none, "web"), Err("no host is connected".into()));
    }
}
