//! The hosts wharf can drive: the embedded engine (`local`), other wharfs (`wharf serve`
//! over a unix socket or ssh), Docker and Podman (their API over a unix socket, TCP with
//! TLS, or ssh). They come from `--host` (several times), the hosts file
//! (`$XDG_CONFIG_HOME/wharf/hosts.json`) and the docker CLI's contexts
//! (`~/.docker/contexts`).
//!
//! The hosts file:
//!
//! ```json
//! { "hosts": [
//!     { "name": "lab-02", "url": "ssh://admin@lab-02", "engine": "docker" },
//!     { "name": "build",  "url": "tcp://build.example:2376", "tls": "/home/me/.docker/build" },
//!     { "name": "pod",    "url": "unix:///run/user/1000/podman/podman.sock" },
//!     { "name": "here",   "url": "local" }
//! ] }
//! ```
//!
//! `engine` is `wharf`, `docker` or `podman`; without it `ssh://` means a wharf (its
//! `wharf serve --stdio`), `tcp://` Docker, and a unix socket is asked which it is. A URL
//! may also say it: `docker+ssh://`, `podman+unix://`, `wharf+unix://`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;
use wharf_engine::policy::EffectiveRole;
use wharf_engine::remote::client::{Endpoint, RemoteEngine};
use wharf_engine::remote::docker::{DockerEndpoint, DockerEngine};
use wharf_engine::{Caller, Engine, EngineError, ErrorKind, LocalEngine};

/// Which engine answers at a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The embedded engine of this process.
    Local,
    /// Another wharf, through its own protocol (roles, audit).
    Wharf,
    Docker,
    Podman,
}

impl Kind {
    /// `local`, `wharf`, `docker`, `podman`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Kind::Local => "local",
            Kind::Wharf => "wharf",
            Kind::Docker => "docker",
            Kind::Podman => "podman",
        }
    }

    fn parse(s: &str) -> Option<Kind> {
        match s {
            "local" => Some(Kind::Local),
            "wharf" => Some(Kind::Wharf),
            "docker" => Some(Kind::Docker),
            "podman" => Some(Kind::Podman),
            _ => None,
        }
    }
}

/// Where a host's name came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Flag,
    File,
    Context,
}

/// A host as configured: its name, URL, engine kind (when known before connecting),
/// and TLS certificates for `tcp://`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSpec {
    pub name: String,
    pub url: String,
    pub kind: Option<Kind>,
    pub tls: Option<PathBuf>,
    pub source: Source,
}

impl HostSpec {
    /// A host named by its URL (`--host URL`), the URL's kind prefix taken off.
    pub fn from_url(url: &str, source: Source) -> Result<HostSpec, String> {
        let (kind, url) = split_kind(url)?;
        if url != "local"
            && !["unix://", "tcp://", "ssh://"]
                .iter()
                .any(|p| url.starts_with(p))
        {
            return Err(format!(
                "host {url:?} is not understood: use local, unix:///path, tcp://host:port, \
                 ssh://user@host (docker+ or podman+ in front for those engines), or a name \
                 from the hosts file or the docker contexts"
            ));
        }
        let name = url
            .strip_prefix("ssh://")
            .or_else(|| url.strip_prefix("tcp://"))
            .map(|r| r.rsplit('@').next().unwrap_or(r).to_string())
            .or_else(|| {
                url.strip_prefix("unix://").map(|p| {
                    Path::new(p)
                        .file_name()
                        .map(|f| f.to_string_lossy().trim_end_matches(".sock").to_string())
                        .unwrap_or_else(|| p.to_string())
                })
            })
            .unwrap_or_else(|| url.to_string());
        Ok(HostSpec {
            name,
            url: url.to_string(),
            kind: kind.or((url == "local").then_some(Kind::Local)),
            tls: None,
            source,
        })
    }

    /// The embedded engine.
    pub fn local() -> HostSpec {
        HostSpec {
            name: "local".into(),
            url: "local".into(),
            kind: Some(Kind::Local),
            tls: None,
            source: Source::Flag,
        }
    }
}

/// `docker+ssh://x` to (docker, `ssh://x`).
fn split_kind(url: &str) -> Result<(Option<Kind>, &str), String> {
    match url.split_once("+") {
        Some((k, rest)) if rest.contains("://") && !k.contains('/') => match Kind::parse(k) {
            Some(kind) if kind != Kind::Local => Ok((Some(kind), rest)),
            _ => Err(format!(
                "{k:?} in {url:?} is not an engine: use wharf+, docker+ or podman+"
            )),
        },
        _ => Ok((None, url)),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileHost {
    name: String,
    url: String,
    #[serde(default)]
    engine: Option<String>,
    #[serde(default)]
    tls: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HostsFile {
    hosts: Vec<FileHost>,
}

/// `$XDG_CONFIG_HOME/wharf/hosts.json` (`~/.config/wharf/hosts.json`); `WHARF_HOSTS`
/// names another file.
pub fn hosts_file() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("WHARF_HOSTS").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("wharf/hosts.json"))
}

/// The hosts of a hosts file (none when it does not exist); errors name the file and
/// what is wrong.
pub fn load_file(path: &Path) -> Result<Vec<HostSpec>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let f: HostsFile = serde_json::from_str(&text).map_err(|e| {
        format!(
            "{}: {e} (expected {{\"hosts\": [{{\"name\": ..., \"url\": ..., \"engine\": ...}}]}})",
            path.display()
        )
    })?;
    let mut out: Vec<HostSpec> = Vec::new();
    for h in f.hosts {
        let what = format!("{}: host {:?}", path.display(), h.name);
        if h.name.is_empty() || h.name.contains(char::is_whitespace) || h.name.contains("::") {
            return Err(format!("{what}: a name is one word (no spaces, no \"::\")"));
        }
        if out.iter().any(|o| o.name == h.name) {
            return Err(format!("{what} is named twice"));
        }
        let mut spec =
            HostSpec::from_url(&h.url, Source::File).map_err(|e| format!("{what}: {e}"))?;
        if let Some(k) = h.engine {
            spec.kind =
                Some(Kind::parse(&k).ok_or_else(|| {
                    format!("{what}: engine {k:?} is not wharf, docker or podman")
                })?);
        }
        spec.name = h.name;
        spec.tls = h.tls;
        out.push(spec);
    }
    Ok(out)
}

/// The docker CLI's contexts (`~/.docker/contexts/meta/*/meta.json`, or under
/// `DOCKER_CONFIG`), as Docker hosts named after them; TLS material from
/// `contexts/tls/<id>/docker/`.
pub fn docker_contexts() -> Vec<HostSpec> {
    let dir = std::env::var_os("DOCKER_CONFIG")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker")));
    match dir {
        Some(d) => contexts_in(&d.join("contexts")),
        None => Vec::new(),
    }
}

/// The contexts under `dir` (a `contexts` directory).
pub fn contexts_in(dir: &Path) -> Vec<HostSpec> {
    let Ok(entries) = std::fs::read_dir(dir.join("meta")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let Ok(text) = std::fs::read_to_string(e.path().join("meta.json")) else {
            continue;
        };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        let (Some(name), Some(url)) = (
            v["Name"].as_str(),
            v["Endpoints"]["docker"]["Host"].as_str(),
        ) else {
            continue;
        };
        let tls = dir.join("tls").join(e.file_name()).join("docker");
        let mut spec = match HostSpec::from_url(url, Source::Context) {
            Ok(s) => s,
            Err(_) => continue,
        };
        spec.name = name.to_string();
        spec.kind = Some(spec.kind.unwrap_or(Kind::Docker));
        spec.tls = tls.join("ca.pem").exists().then_some(tls);
        out.push(spec);
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// `--host` values (names or URLs) as hosts, names looked up in `known` (the hosts file
/// then the contexts).
pub fn resolve(args: &[String], known: &[HostSpec]) -> Result<Vec<HostSpec>, String> {
    let mut out: Vec<HostSpec> = Vec::new();
    for a in args {
        let spec = if a == "local" {
            HostSpec::local()
        } else if let Some(k) = known.iter().find(|k| &k.name == a) {
            k.clone()
        } else if a.contains("://") {
            HostSpec::from_url(a, Source::Flag)?
        } else {
            let names: Vec<&str> = known.iter().map(|k| k.name.as_str()).collect();
            return Err(format!(
                "no host is named {a:?}{}: give a URL (unix://, tcp://, ssh://) or add it to {}",
                if names.is_empty() {
                    String::new()
                } else {
                    format!(" (known: {})", names.join(", "))
                },
                hosts_file()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "the hosts file".into())
            ));
        };
        // Two hosts of one name: the later is told apart by a number.
        let mut spec = spec;
        let base = spec.name.clone();
        let mut n = 2;
        while out.iter().any(|o| o.name == spec.name) {
            spec.name = format!("{base}-{n}");
            n += 1;
        }
        out.push(spec);
    }
    Ok(out)
}

/// A host reached: its engine, who we are there, the role's permissions, what it is.
#[derive(Clone)]
pub struct Connected {
    pub engine: Arc<dyn Engine>,
    pub caller: Caller,
    pub role: Option<EffectiveRole>,
    pub kind: Kind,
    /// The engine's version as it says it (`docker 20.10.24`, `wharf 0.1.0`).
    pub version: String,
    /// How long the first answer took.
    pub latency: Duration,
    /// The embedded engine, for `local`.
    pub local: Option<Arc<LocalEngine>>,
}

impl std::fmt::Debug for Connected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connected")
            .field("kind", &self.kind)
            .field("version", &self.version)
            .finish()
    }
}

impl Connected {
    /// With the engine's version as it says it (one more call: `info`), for the views
    /// that show it (the hosts pane).
    pub fn described(mut self) -> Connected {
        if self.version.is_empty() {
            if let Ok(i) = self.engine.info(&self.caller) {
                self.version = i.engine_version;
            }
        }
        self
    }
}

/// Reach `spec`. `local` opens the embedded engine with `open_local`; `me` is this
/// process's caller (the embedded engine's, and the name a Docker host is shown with).
pub fn connect(
    spec: &HostSpec,
    me: &Caller,
    open_local: &dyn Fn() -> Result<Arc<LocalEngine>, EngineError>,
) -> Result<Connected, EngineError> {
    let t = Instant::now();
    let (engine, kind, local): (Arc<dyn Engine>, Kind, Option<Arc<LocalEngine>>) = match spec.kind {
        Some(Kind::Local) => {
            let e = open_local()?;
            (e.clone(), Kind::Local, Some(e))
        }
        Some(Kind::Wharf) => (Arc::new(wharf(&spec.url)?), Kind::Wharf, None),
        Some(k @ (Kind::Docker | Kind::Podman)) => {
            let d = docker(spec, k)?;
            (Arc::new(d), k, None)
        }
        None if spec.url.starts_with("ssh://") => (Arc::new(wharf(&spec.url)?), Kind::Wharf, None),
        None if spec.url.starts_with("tcp://") => {
            let d = docker(spec, Kind::Docker)?;
            let k = flavor_kind(&d);
            (Arc::new(d), k, None)
        }
        None => {
            // A unix socket: a wharf answers its own protocol's ping; anything else
            // is asked as a Docker API.
            match wharf(&spec.url) {
                Ok(r) => (Arc::new(r), Kind::Wharf, None),
                Err(e) if e.kind == ErrorKind::Unavailable && !answered(&e) => return Err(e),
                Err(_) => {
                    let d = docker(spec, Kind::Docker)?;
                    let k = flavor_kind(&d);
                    (Arc::new(d), k, None)
                }
            }
        }
    };
    let latency = t.elapsed();
    let caller = engine.whoami(me).unwrap_or_else(|_| me.clone());
    let role = engine
        .permissions(&caller)
        .ok()
        .map(|p| EffectiveRole::from_permissions(&p));
    // The embedded engine's version is this build's; another engine's is asked for
    // by those that show it ([`Connected::described`]): `info` counts every container.
    let version = match kind {
        Kind::Local => wharf_engine::VERSION.to_string(),
        _ => String::new(),
    };
    Ok(Connected {
        engine,
        caller,
        role,
        kind,
        version,
        latency,
        local,
    })
}

/// Did the far side answer (an HTTP error) rather than stay silent?
fn answered(e: &EngineError) -> bool {
    e.message.contains("answered") || e.message.contains("status")
}

fn flavor_kind(d: &DockerEngine) -> Kind {
    match d.flavor() {
        wharf_engine::remote::docker::Flavor::Podman => Kind::Podman,
        wharf_engine::remote::docker::Flavor::Wharf => Kind::Wharf,
        wharf_engine::remote::docker::Flavor::Docker => Kind::Docker,
    }
}

fn wharf(url: &str) -> Result<RemoteEngine, EngineError> {
    RemoteEngine::connect(Endpoint::parse(url)?)
}

fn docker(spec: &HostSpec, kind: Kind) -> Result<DockerEngine, EngineError> {
    let program = if kind == Kind::Podman {
        "podman"
    } else {
        "docker"
    };
    DockerEngine::connect(DockerEndpoint::parse(&spec.url, spec.tls.clone(), program)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_names_resolve() {
        let known = vec![HostSpec {
            name: "lab".into(),
            url: "ssh://admin@lab".into(),
            kind: Some(Kind::Docker),
            tls: None,
            source: Source::File,
        }];
        let v = resolve(
            &[
                "local".into(),
                "lab".into(),
                "podman+unix:///run/podman/podman.sock".into(),
                "ssh://u@lab".into(),
            ],
            &known,
        )
        .unwrap();
        assert_eq!(v[0].kind, Some(Kind::Local));
        assert_eq!(v[1].url, "ssh://admin@lab");
        assert_eq!(v[2].kind, Some(Kind::Podman));
        assert_eq!(v[2].url, "unix:///run/podman/podman.sock");
        assert_eq!(v[2].name, "podman");
        // Same name twice: numbered.
        assert_eq!(v[3].name, "lab-2");
        assert!(resolve(&["nowhere".into()], &known)
            .unwrap_err()
            .contains("known: lab"));
        assert!(HostSpec::from_url("kube+ssh://x", Source::Flag).is_err());
        assert!(HostSpec::from_url("http://x", Source::Flag).is_err());
    }

    #[test]
    fn the_hosts_file_and_docker_contexts_read() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("hosts.json");
        std::fs::write(
            &f,
            r#"{"hosts": [
                {"name": "lab-02", "url": "ssh://admin@lab-02", "engine": "docker"},
                {"name": "build", "url": "tcp://build:2376", "tls": "/certs"},
                {"name": "here", "url": "local"}
            ]}"#,
        )
        .unwrap();
        let v = load_file(&f).unwrap();
        assert_eq!(v.len(), 3);
        assert_eq!(v[0].kind, Some(Kind::Docker));
        assert_eq!(v[1].tls.as_deref(), Some(Path::new("/certs")));
        assert_eq!(v[2].kind, Some(Kind::Local));
        std::fs::write(&f, r#"{"hosts": [{"name": "a", "url": "ftp://x"}]}"#).unwrap();
        assert!(load_file(&f).unwrap_err().contains("host \"a\""));
        std::fs::write(
            &f,
            r#"{"hosts": [{"name": "a", "url": "local", "colour": 1}]}"#,
        )
        .unwrap();
        assert!(load_file(&f).unwrap_err().contains("colour"));
        assert!(load_file(&d.path().join("none.json")).unwrap().is_empty());

        let ctx = d.path().join("contexts");
        let meta = ctx.join("meta/abc");
        std::fs::create_dir_all(&meta).unwrap();
        std::fs::write(
            meta.join("meta.json"),
            r#"{"Name":"prod","Metadata":{},"Endpoints":{"docker":{"Host":"ssh://ops@prod","SkipTLSVerify":false}}}"#,
        )
        .unwrap();
        let tls = ctx.join("tls/abc/docker");
        std::fs::create_dir_all(&tls).unwrap();
        std::fs::write(tls.join("ca.pem"), "x").unwrap();
        let c = contexts_in(&ctx);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].name, "prod");
        assert_eq!(c[0].kind, Some(Kind::Docker));
        assert_eq!(c[0].tls.as_deref(), Some(tls.as_path()));
    }
}
