//! Docker over ssh as the docker CLI does it: each connection is the system's `ssh`
//! running `docker system dial-stdio` on the far side (`podman system dial-stdio` for
//! Podman), which relays stdin/stdout to the daemon's socket there. hyper's pooled
//! client keeps connections (and so ssh processes) for reuse.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bollard::{ClientVersion, Docker};
use bytes::Bytes;
use futures::Stream;
use http_body_util::{Full, StreamBody};
use hyper::body::Frame;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

use crate::error::{EngineError, Result};
use crate::remote::client::parse_ssh_url;

/// bollard's request body (its own alias is private).
type Body = http_body_util::Either<
    Full<Bytes>,
    StreamBody<
        Pin<Box<dyn Stream<Item = std::result::Result<Frame<Bytes>, std::io::Error>> + Send>>,
    >,
>;

/// `ssh://[user@]host[:port]` and the program run there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTarget {
    target: String,
    port: Option<u16>,
    /// `docker` or `podman`.
    program: String,
}

impl SshTarget {
    /// Parse `ssh://user@host[:port]`, checked as wharf's own ssh endpoints are (nothing
    /// ssh could read as an option reaches its command line).
    pub fn parse(url: &str, program: &str) -> Result<Self> {
        let (target, port) = parse_ssh_url(url)?;
        if !matches!(program, "docker" | "podman") {
            return Err(EngineError::invalid(format!(
                "{program:?} is not a program wharf runs over ssh (docker or podman)"
            )));
        }
        Ok(SshTarget {
            target,
            port,
            program: program.into(),
        })
    }

    /// `user@host`, as ssh is given it.
    pub fn destination(&self) -> String {
        self.target.clone()
    }
}

impl std::fmt::Display for SshTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ssh://{}", self.target)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        Ok(())
    }
}

/// What the last ssh connection said on stderr.
#[derive(Debug, Clone, Default)]
pub struct SshErrors(Arc<Mutex<String>>);

impl SshErrors {
    /// The last non-empty stderr of an ssh connection.
    pub fn last(&self) -> Option<String> {
        self.0
            .lock()
            .ok()
            .map(|s| s.clone())
            .filter(|s| !s.trim().is_empty())
    }
}

#[derive(Clone)]
struct SshConnector {
    target: SshTarget,
    errors: SshErrors,
}

/// One connection: an ssh process's stdout and stdin.
struct SshStream {
    _child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    stdout: tokio::process::ChildStdout,
}

impl Connection for SshStream {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl AsyncRead for SshStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stdout).poll_read(cx, buf)
    }
}

impl AsyncWrite for SshStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stdin).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stdin).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stdin).poll_shutdown(cx)
    }
}

impl tower_service::Service<hyper::Uri> for SshConnector {
    type Response = TokioIo<SshStream>;
    type Error = std::io::Error;
    type Future =
        Pin<Box<dyn Future<Output = std::result::Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<std::result::Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _uri: hyper::Uri) -> Self::Future {
        let t = self.target.clone();
        let errors = self.errors.clone();
        Box::pin(async move {
            let cmd = crate::remote::ssh::command(
                &t.target,
                t.port,
                &[&t.program, "system", "dial-stdio"],
            );
            let mut child = tokio::process::Command::from(cmd)
                .kill_on_drop(true)
                .spawn()?;
            let stdin = child
                .stdin
                .take()
                .ok_or_else(|| std::io::Error::other("ssh has no stdin"))?;
            let stdout = child
                .stdout
                .take()
                .ok_or_else(|| std::io::Error::other("ssh has no stdout"))?;
            if let Some(mut err) = child.stderr.take() {
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let mut said = String::new();
                    while let Ok(n) = err.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        said.push_str(&String::from_utf8_lossy(&buf[..n]));
                        if let Ok(mut s) = errors.0.lock() {
                            s.clone_from(&said);
                        }
                    }
                });
            }
            Ok(TokioIo::new(SshStream {
                _child: child,
                stdin,
                stdout,
            }))
        })
    }
}

/// A bollard client whose connections are ssh processes to `t`.
pub fn connect(t: SshTarget, timeout: u64, version: &ClientVersion) -> Result<(Docker, SshErrors)> {
    let errors = SshErrors::default();
    let connector = SshConnector {
        target: t.clone(),
        errors: errors.clone(),
    };
    let client: Client<SshConnector, Body> = Client::builder(TokioExecutor::new())
        .pool_idle_timeout(std::time::Duration::from_secs(30))
        .build(connector);
    let client = Arc::new(client);
    let d = Docker::connect_with_custom_transport(
        move |req: bollard::BollardRequest| {
            let client = client.clone();
            async move {
                client
                    .request(req)
                    .await
                    .map_err(bollard::errors::Error::from)
            }
        },
        Some("http://docker"),
        timeout,
        version,
    )
    .map_err(|e| EngineError::unavailable(format!("cannot set up a client for {t}: {e}")))?;
    Ok((d, errors))
}
