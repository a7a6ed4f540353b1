//! A Docker Engine API client behind the [`Engine`](crate::Engine) trait: the console
//! and the CLI drive dockerd, Podman's API service or another wharf's Docker API with
//! the same calls as the embedded engine.
//!
//! The client is [bollard](https://docs.rs/bollard): it follows Docker's API closely
//! (typed models generated from Docker's own API description, kept up to date release
//! after release), speaks unix sockets and TCP with TLS (rustls on ring, already built
//! here for registries), is tested upstream against Podman too, and takes a custom
//! transport, which is how ssh goes through the system's `ssh` binary here, as the
//! docker CLI does. Its calls are async; the engine API is blocking, so each client
//! owns a small tokio runtime and the calling thread waits on it.
//!
//! What Docker has no word for is refused by name, never faked: the audit journal,
//! wharf's logins, the offline demo image, check-only creates. Docker has no roles:
//! whoever reaches the socket may do everything, and [`permissions`] says so.
//!
//! [`permissions`]: crate::api::AuditApi::permissions

mod convert;
mod engine;
mod transport;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bollard::Docker;

use crate::error::{EngineError, ErrorKind, Result};

pub use transport::SshTarget;

/// Which Docker API service answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// dockerd (Docker Engine, Moby).
    Docker,
    /// `podman system service`.
    Podman,
    /// Another wharf's Docker API (`wharf serve`).
    Wharf,
}

impl Flavor {
    /// `docker`, `podman`, `wharf`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Flavor::Docker => "docker",
            Flavor::Podman => "podman",
            Flavor::Wharf => "wharf",
        }
    }
}

/// Where a Docker API service is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DockerEndpoint {
    /// `unix:///var/run/docker.sock`
    Unix(PathBuf),
    /// `tcp://host:2375`, or with `tls` (a directory with `ca.pem`, `cert.pem`,
    /// `key.pem`, as `DOCKER_CERT_PATH`) `tcp://host:2376` over TLS.
    Tcp { addr: String, tls: Option<PathBuf> },
    /// `ssh://user@host[:port]`: `docker system dial-stdio` run there by the system's
    /// ssh (`podman system dial-stdio` for Podman).
    Ssh(SshTarget),
}

impl DockerEndpoint {
    /// `unix:///path`, `tcp://host:port` or `ssh://user@host[:port]` (`remote_cmd`: the
    /// program ssh runs there, `docker` or `podman`); `tls` names the certificates'
    /// directory for TCP.
    pub fn parse(url: &str, tls: Option<PathBuf>, remote_cmd: &str) -> Result<Self> {
        if let Some(p) = url.strip_prefix("unix://") {
            if p.is_empty() {
                return Err(EngineError::invalid(format!(
                    "host {url:?} has no socket path: use unix:///var/run/docker.sock"
                )));
            }
            return Ok(DockerEndpoint::Unix(PathBuf::from(p)));
        }
        if let Some(a) = url.strip_prefix("tcp://") {
            let a = a.trim_end_matches('/');
            if a.is_empty() || a.contains('/') || a.contains('@') {
                return Err(EngineError::invalid(format!(
                    "host {url:?} is not host:port: use tcp://host:2376"
                )));
            }
            let addr = if a.contains(':') && !a.ends_with(']') {
                a.to_string()
            } else {
                format!("{a}:{}", if tls.is_some() { 2376 } else { 2375 })
            };
            return Ok(DockerEndpoint::Tcp { addr, tls });
        }
        if url.starts_with("ssh://") {
            return Ok(DockerEndpoint::Ssh(SshTarget::parse(url, remote_cmd)?));
        }
        Err(EngineError::invalid(format!(
            "host {url:?} is not understood: use unix:///path, tcp://host:port or ssh://user@host"
        )))
    }
}

impl std::fmt::Display for DockerEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DockerEndpoint::Unix(p) => write!(f, "unix://{}", p.display()),
            DockerEndpoint::Tcp { addr, .. } => write!(f, "tcp://{addr}"),
            DockerEndpoint::Ssh(t) => write!(f, "{t}"),
        }
    }
}

/// The oldest API version wharf asks for (Docker 20.10 and Podman 4 speak 1.41).
const MIN_API: &bollard::ClientVersion = &bollard::ClientVersion {
    major_version: 1,
    minor_version: 41,
};

/// Seconds a plain call may take before it is given up (streams are not limited).
const CALL_TIMEOUT: u64 = 60;

/// The engine API on a Docker API service.
pub struct DockerEngine {
    docker: Docker,
    rt: Arc<tokio::runtime::Runtime>,
    endpoint: DockerEndpoint,
    flavor: Flavor,
    /// The service's version (`20.10.24`, `4.3.1`).
    version: String,
    /// The API version both sides speak.
    api_version: String,
    /// ssh's stderr for an ssh endpoint (for messages).
    ssh_err: Option<transport::SshErrors>,
}

impl std::fmt::Debug for DockerEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DockerEngine")
            .field("endpoint", &self.endpoint)
            .field("flavor", &self.flavor)
            .field("version", &self.version)
            .finish()
    }
}

impl DockerEngine {
    /// A client for `endpoint`; checks that the service answers and agrees on an API
    /// version, and finds out whose it is (Docker, Podman, wharf).
    pub fn connect(endpoint: DockerEndpoint) -> Result<Self> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("wharf-docker")
            .enable_all()
            .build()
            .map_err(|e| EngineError::io("starting the Docker client's runtime", e))?;
        let rt = Arc::new(rt);
        let mut ssh_err = None;
        let docker = {
            let _g = rt.enter();
            match &endpoint {
                DockerEndpoint::Unix(p) => {
                    Docker::connect_with_unix(&p.to_string_lossy(), CALL_TIMEOUT, MIN_API)
                }
                DockerEndpoint::Tcp { addr, tls: None } => {
                    Docker::connect_with_http(addr, CALL_TIMEOUT, MIN_API)
                }
                DockerEndpoint::Tcp {
                    addr,
                    tls: Some(dir),
                } => Docker::connect_with_ssl(
                    addr,
                    &dir.join("key.pem"),
                    &dir.join("cert.pem"),
                    &dir.join("ca.pem"),
                    CALL_TIMEOUT,
                    MIN_API,
                ),
                DockerEndpoint::Ssh(t) => {
                    let (d, errs) = transport::connect(t.clone(), CALL_TIMEOUT, MIN_API)?;
                    ssh_err = Some(errs);
                    Ok(d)
                }
            }
            .map_err(|e| {
                EngineError::unavailable(format!("cannot set up a client for {endpoint}: {e}"))
            })?
        };
        let mut me = DockerEngine {
            docker,
            rt,
            endpoint,
            flavor: Flavor::Docker,
            version: String::new(),
            api_version: String::new(),
            ssh_err,
        };
        let d = me.docker.clone();
        let v = me.block(async move {
            let d = d.negotiate_version().await?;
            let v = d.version().await?;
            Ok((d, v))
        });
        let (d, v) = v.map_err(|e| e.context(format!("connecting to {}", me.endpoint)))?;
        me.docker = d;
        let comps: Vec<String> = v
            .components
            .iter()
            .flatten()
            .map(|c| c.name.to_ascii_lowercase())
            .collect();
        let platform = v
            .platform
            .as_ref()
            .map(|p| p.name.to_ascii_lowercase())
            .unwrap_or_default();
        me.flavor = if comps.iter().any(|c| c.contains("podman")) || platform.contains("podman") {
            Flavor::Podman
        } else if comps.iter().any(|c| c.contains("wharf")) || platform.contains("wharf") {
            Flavor::Wharf
        } else {
            Flavor::Docker
        };
        me.version = v.version.unwrap_or_default();
        me.api_version = v.api_version.unwrap_or_default();
        Ok(me)
    }

    /// Where this client connects.
    pub fn endpoint(&self) -> &DockerEndpoint {
        &self.endpoint
    }

    /// Whose service it is.
    pub fn flavor(&self) -> Flavor {
        self.flavor
    }

    /// The service's version, e.g. `20.10.24`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Run a bollard future to its end on this client's runtime and wait for it here.
    /// Safe from any thread, inside another runtime too (the waiting is plain parking).
    fn block<T: Send + 'static>(
        &self,
        f: impl Future<Output = std::result::Result<T, bollard::errors::Error>> + Send + 'static,
    ) -> Result<T> {
        let h = self.rt.spawn(f);
        match futures::executor::block_on(h) {
            Ok(r) => r.map_err(|e| self.error(e)),
            Err(e) => Err(EngineError::internal(format!(
                "a call to {} failed inside the client: {e}",
                self.endpoint
            ))),
        }
    }

    /// Run `f` (which sends what it reads to the channel) and hand each item to `sink`
    /// on this thread until it returns `false` or the stream ends.
    fn stream<T: Send + 'static>(
        &self,
        f: impl FnOnce(
                tokio::sync::mpsc::Sender<std::result::Result<T, bollard::errors::Error>>,
            ) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>>
            + Send
            + 'static,
        sink: &mut dyn FnMut(T) -> bool,
    ) -> Result<()> {
        let (tx, mut rx) = tokio::sync::mpsc::channel(256);
        let task = self.rt.spawn(f(tx));
        let out = loop {
            match rx.blocking_recv() {
                None => break Ok(()),
                Some(Ok(item)) => {
                    if !sink(item) {
                        break Ok(());
                    }
                }
                Some(Err(e)) => break Err(self.error(e)),
            }
        };
        task.abort();
        out
    }

    /// The engine's error for a bollard error: Docker's status as the kind, its message;
    /// a service that cannot be reached says where, and (over ssh) why.
    fn error(&self, e: bollard::errors::Error) -> EngineError {
        use bollard::errors::Error as B;
        match e {
            B::DockerResponseServerError {
                status_code,
                message,
            } => {
                let kind = match status_code {
                    400 => ErrorKind::InvalidArgument,
                    401 | 403 => ErrorKind::PermissionDenied,
                    404 => ErrorKind::NotFound,
                    409 => ErrorKind::Conflict,
                    501 | 503 => ErrorKind::Unavailable,
                    _ => ErrorKind::Internal,
                };
                EngineError::new(kind, message)
            }
            B::DockerContainerWaitError { error, code } => {
                EngineError::internal(format!("waiting failed ({code}): {error}"))
            }
            B::RequestTimeoutError => EngineError::unavailable(format!(
                "{} did not answer within {CALL_TIMEOUT} s",
                self.endpoint
            )),
            other => {
                let base = format!("cannot reach {}: {other}", self.endpoint);
                match (&self.ssh_err, &self.endpoint) {
                    (Some(errs), DockerEndpoint::Ssh(t)) => match errs.last() {
                        Some(said) => {
                            EngineError::unavailable(super::ssh::explain(&t.destination(), &said))
                        }
                        None => EngineError::unavailable(base),
                    },
                    _ => EngineError::unavailable(base),
                }
            }
        }
    }

    /// A call Docker has no word for.
    fn refused(&self, what: &str, why: &str) -> EngineError {
        EngineError::new(
            ErrorKind::Unavailable,
            format!(
                "{what} is not available on {} ({} {}): {why}",
                self.endpoint,
                self.flavor.as_str(),
                self.version
            ),
        )
    }
}

/// Wait at most `d` for `f` (a ping), on a thread, so a host that hangs delays nothing.
pub fn with_deadline<T: Send + 'static>(
    d: Duration,
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(d).unwrap_or_else(|_| {
        Err(EngineError::unavailable(format!(
            "no answer within {} ms",
            d.as_millis()
        )))
    })
}
