//! The client's HTTP/1.1, done by hyper: one connection per [`Conn`] (hyper's client
//! connection over a Unix socket or over the pipes of an ssh child), keep-alive, chunked
//! bodies both ways, trailers, and `Connection: Upgrade` for raw streams.
//!
//! The client is synchronous for its callers. A [`Runner`] (a current-thread tokio
//! runtime made once per client) runs each step of an exchange with `block_on`, and
//! every step drives the connection along with it: no task is spawned, so nothing of a
//! connection outlives the [`Conn`] that owns it, and dropping a `Conn` closes the
//! socket (or ends ssh) at once, which is how a stream is cut.

use std::future::Future;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::process::{Child, ChildStdin, ChildStdout};
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use futures::FutureExt;
use http::HeaderMap;
use http_body_util::channel::{Channel, Sender};
use http_body_util::{BodyExt, Either, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::error::{EngineError, Result};

/// Largest non-streamed body accepted.
pub const MAX_BODY: usize = 64 * 1024 * 1024;

/// A request's body: JSON in one piece, or an upload sent as it is read.
pub type ReqBody = Either<Full<Bytes>, Channel<Bytes>>;

/// Runs the client's futures to their end on the calling thread. Threads may call at
/// once: the first `block_on` drives the IO for all of them (tokio's current-thread
/// scheduler hands its driver on).
pub struct Runner {
    rt: Option<tokio::runtime::Runtime>,
}

impl Runner {
    /// A current-thread runtime with the IO driver only (no timers, no threads).
    pub fn new() -> Result<Self> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .map_err(|e| EngineError::io("starting the client's runtime", e))?;
        Ok(Runner { rt: Some(rt) })
    }

    fn rt(&self) -> &tokio::runtime::Runtime {
        self.rt
            .as_ref()
            .expect("the runtime lives as long as the runner")
    }

    /// Run `f` to its end. A caller inside a runtime already (the console's loop) cannot
    /// block on another one: `f` then runs on a thread of its own, waited for here.
    pub fn run<F>(&self, f: F) -> F::Output
    where
        F: Future + Send,
        F::Output: Send,
    {
        if tokio::runtime::Handle::try_current().is_err() {
            return self.rt().block_on(f);
        }
        std::thread::scope(|s| {
            s.spawn(|| self.rt().block_on(f))
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p))
        })
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        // Never blocks, so a client may be dropped inside another runtime too.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// Ends ssh with the connection it carries.
pub struct ChildGuard(pub Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What a connection runs over: a Unix socket, or an ssh child's stdin and stdout.
pub enum Io {
    Unix(tokio::net::UnixStream),
    Ssh {
        stdin: tokio::process::ChildStdin,
        stdout: tokio::process::ChildStdout,
        child: ChildGuard,
    },
}

impl AsyncRead for Io {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Unix(s) => Pin::new(s).poll_read(cx, buf),
            Io::Ssh { stdout, .. } => Pin::new(stdout).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Io {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Io::Unix(s) => Pin::new(s).poll_write(cx, buf),
            Io::Ssh { stdin, .. } => Pin::new(stdin).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Io::Unix(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Io::Ssh { stdin, .. } => Pin::new(stdin).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Io::Unix(s) => s.is_write_vectored(),
            Io::Ssh { stdin, .. } => stdin.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Unix(s) => Pin::new(s).poll_flush(cx),
            Io::Ssh { stdin, .. } => Pin::new(stdin).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Unix(s) => Pin::new(s).poll_shutdown(cx),
            Io::Ssh { stdin, .. } => Pin::new(stdin).poll_shutdown(cx),
        }
    }
}

type Driver = Pin<Box<dyn Future<Output = hyper::Result<()>> + Send>>;

/// hyper's side of a connection (reading, writing, framing), until it ends: then it is
/// dropped, which closes the socket (or ends ssh), and the bodies and answers it owed
/// end with an error.
struct Link(Option<Driver>);

impl Link {
    fn poll(&mut self, cx: &mut Context<'_>) {
        if let Some(d) = &mut self.0 {
            if d.as_mut().poll(cx).is_ready() {
                self.0 = None;
            }
        }
    }

    /// `f`, with the connection driven while it runs.
    async fn drive<F: Future>(&mut self, f: F) -> F::Output {
        let mut f = std::pin::pin!(f);
        std::future::poll_fn(|cx| {
            self.poll(cx);
            f.as_mut().poll(cx)
        })
        .await
    }
}

/// One HTTP/1.1 connection: hyper's request sender and the connection it drives.
pub struct Conn {
    sender: hyper::client::conn::http1::SendRequest<ReqBody>,
    link: Link,
}

impl Conn {
    /// A connection over a connected Unix socket.
    pub fn unix(runner: &Runner, s: UnixStream) -> io::Result<Self> {
        s.set_nonblocking(true)?;
        let _g = runner.rt().enter();
        Self::over(Io::Unix(tokio::net::UnixStream::from_std(s)?))
    }

    /// A connection over an ssh child's stdin and stdout (ended with the connection).
    pub fn ssh(
        runner: &Runner,
        stdin: ChildStdin,
        stdout: ChildStdout,
        child: ChildGuard,
    ) -> io::Result<Self> {
        let _g = runner.rt().enter();
        Self::over(Io::Ssh {
            stdin: tokio::process::ChildStdin::from_std(stdin)?,
            stdout: tokio::process::ChildStdout::from_std(stdout)?,
            child,
        })
    }

    fn over(io: Io) -> io::Result<Self> {
        // The handshake only sets things up: it is ready at once.
        let (sender, conn) = hyper::client::conn::http1::Builder::new()
            .handshake::<_, ReqBody>(TokioIo::new(io))
            .now_or_never()
            .ok_or_else(|| io::Error::other("the HTTP handshake did not complete"))?
            .map_err(io::Error::other)?;
        Ok(Conn {
            sender,
            link: Link(Some(Box::pin(conn.with_upgrades()))),
        })
    }

    /// Can it carry another request (keep-alive)?
    pub fn reusable(&self) -> bool {
        self.link.0.is_some() && !self.sender.is_closed()
    }

    /// Send `req`; the answer's head. Any failure before the head is a [`NoAnswer`].
    pub async fn send(
        &mut self,
        req: http::Request<ReqBody>,
    ) -> std::result::Result<http::Response<Incoming>, NoAnswer> {
        let sender = &mut self.sender;
        let answer = async move {
            sender.ready().await?;
            sender.send_request(req).await
        };
        self.link.drive(answer).await.map_err(NoAnswer)
    }

    /// Send `req` and read its whole answer (at most [`MAX_BODY`]).
    pub async fn round_trip(
        &mut self,
        req: http::Request<ReqBody>,
    ) -> std::result::Result<(http::response::Parts, Bytes), Exchange> {
        let resp = self.send(req).await.map_err(Exchange::NoAnswer)?;
        let (parts, body) = resp.into_parts();
        let body = self.collect(body).await.map_err(Exchange::Body)?;
        Ok((parts, body))
    }

    /// A whole body, at most [`MAX_BODY`].
    pub async fn collect(&mut self, body: Incoming) -> Result<Bytes> {
        self.link
            .drive(Limited::new(body, MAX_BODY).collect())
            .await
            .map(|c| c.to_bytes())
            .map_err(|e| protocol(&*e))
    }

    /// Send `req` with a body read from `input` as it goes (chunked); the answer's head.
    /// An answer that comes before the whole body was taken (a refusal) is that answer.
    pub fn upload(
        &mut self,
        runner: &Runner,
        req: http::Request<()>,
        input: &mut dyn Read,
    ) -> std::result::Result<http::Response<Incoming>, Upload> {
        let (mut tx, body) = Channel::<Bytes>::new(2);
        let answer = self.sender.send_request(req.map(|()| Either::Right(body)));
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match input.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Upload::Input(e)),
            };
            let chunk = Bytes::copy_from_slice(&buf[..n]);
            if !runner.run(self.feed(&mut tx, chunk)) {
                // The connection takes no more: its answer says why.
                break;
            }
        }
        drop(tx);
        runner
            .run(self.link.drive(answer))
            .map_err(|e| Upload::NoAnswer(NoAnswer(e)))
    }

    /// Hand `chunk` to the connection; `false` once it has ended.
    async fn feed(&mut self, tx: &mut Sender<Bytes>, chunk: Bytes) -> bool {
        let mut send = std::pin::pin!(tx.send_data(chunk));
        std::future::poll_fn(|cx| {
            self.link.poll(cx);
            if self.link.0.is_none() {
                return Poll::Ready(false);
            }
            send.as_mut().poll(cx).map(|r| r.is_ok())
        })
        .await
    }

    /// The connection after a `101` answer, as a blocking socket for the caller: hyper
    /// hands the raw connection back, and two threads relay it to one end of a socket
    /// pair (they end with it).
    pub fn upgraded(
        mut self,
        runner: &Runner,
        resp: http::Response<Incoming>,
    ) -> Result<UnixStream> {
        let up = runner
            .run(self.link.drive(hyper::upgrade::on(resp)))
            .map_err(|e| protocol(&e))?;
        let parts = up
            .downcast::<TokioIo<Io>>()
            .map_err(|_| EngineError::internal("the upgraded connection is not the one opened"))?;
        relay(parts.io.into_inner(), parts.read_buf)
    }
}

/// A failure before an answer's head arrived (the request may not have been read).
#[derive(Debug)]
pub struct NoAnswer(pub hyper::Error);

impl NoAnswer {
    /// The connection was closed before an answer began: on a kept connection, the
    /// server closed it while idle, and the request can go again on a new one.
    pub fn closed(&self) -> bool {
        let e = &self.0;
        e.is_incomplete_message()
            || e.is_canceled()
            || e.is_closed()
            || std::error::Error::source(e)
                .and_then(|s| s.downcast_ref::<io::Error>())
                .is_some_and(|io| {
                    matches!(
                        io.kind(),
                        io::ErrorKind::BrokenPipe
                            | io::ErrorKind::ConnectionReset
                            | io::ErrorKind::ConnectionAborted
                    )
                })
    }

    /// The error for the caller of `method`.
    pub fn error(&self, method: &str) -> EngineError {
        if self.closed() {
            EngineError::unavailable("the engine closed the connection without answering")
        } else if self.0.is_parse() {
            protocol(&self.0)
        } else {
            EngineError::unavailable(format!(
                "sending {method} to the engine: {}",
                chain(&self.0)
            ))
        }
    }
}

/// How a whole exchange failed.
#[derive(Debug)]
pub enum Exchange {
    NoAnswer(NoAnswer),
    Body(EngineError),
}

/// How an upload failed.
#[derive(Debug)]
pub enum Upload {
    /// Reading what was to be sent.
    Input(io::Error),
    NoAnswer(NoAnswer),
}

/// An error and its causes, in one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

fn protocol(e: &dyn std::error::Error) -> EngineError {
    EngineError::unavailable(format!("engine socket protocol error: {}", chain(e)))
}

/// A streamed answer's body as a blocking reader; its trailers once it has ended.
pub struct BodyReader<'a> {
    runner: &'a Runner,
    conn: Conn,
    body: Incoming,
    buf: Bytes,
    done: bool,
    /// The trailer fields, once the body has ended.
    pub trailers: HeaderMap,
}

impl<'a> BodyReader<'a> {
    pub fn new(runner: &'a Runner, conn: Conn, body: Incoming) -> Self {
        BodyReader {
            runner,
            conn,
            body,
            buf: Bytes::new(),
            done: false,
            trailers: HeaderMap::new(),
        }
    }
}

impl Read for BodyReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.buf.is_empty() {
            if self.done || out.is_empty() {
                return Ok(0);
            }
            let BodyReader {
                runner, conn, body, ..
            } = self;
            match runner.run(conn.link.drive(body.frame())) {
                None => self.done = true,
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => self.buf = data,
                    Err(frame) => {
                        if let Ok(t) = frame.into_trailers() {
                            self.trailers.extend(t);
                        }
                    }
                },
                Some(Err(e)) => return Err(io::Error::other(chain(&e))),
            }
        }
        let n = out.len().min(self.buf.len());
        out[..n].copy_from_slice(&self.buf[..n]);
        self.buf.advance(n);
        Ok(n)
    }
}

/// Relay an upgraded connection to one end of a socket pair, which the caller gets.
fn relay(io: Io, read_buf: Bytes) -> Result<UnixStream> {
    let blocking = |e: io::Error| EngineError::io("taking back the upgraded connection", e);
    type Halves = (
        Box<dyn Read + Send>,
        Box<dyn Write + Send>,
        Option<ChildGuard>,
    );
    let (reader, mut writer, child): Halves = match io {
        Io::Unix(s) => {
            let s = s.into_std().map_err(blocking)?;
            s.set_nonblocking(false).map_err(blocking)?;
            (
                Box::new(s.try_clone().map_err(blocking)?),
                Box::new(s),
                None,
            )
        }
        Io::Ssh {
            stdin,
            stdout,
            child,
        } => {
            let w = stdin.into_owned_fd().map_err(blocking)?;
            let r = stdout.into_owned_fd().map_err(blocking)?;
            rustix::io::ioctl_fionbio(&w, false).map_err(|e| blocking(e.into()))?;
            rustix::io::ioctl_fionbio(&r, false).map_err(|e| blocking(e.into()))?;
            (
                Box::new(ChildStdout::from(r)),
                Box::new(ChildStdin::from(w)),
                Some(child),
            )
        }
    };
    let (mine, theirs) =
        UnixStream::pair().map_err(|e| EngineError::io("creating a socket pair", e))?;
    let mut theirs_in = theirs
        .try_clone()
        .map_err(|e| EngineError::io("cloning a socket", e))?;
    // What hyper read past the answer's head comes first.
    let mut reader = Read::chain(read_buf.reader(), reader);
    std::thread::spawn(move || {
        let _ = io::copy(&mut reader, &mut theirs_in);
        let _ = theirs_in.shutdown(std::net::Shutdown::Write);
    });
    std::thread::spawn(move || {
        let mut theirs = theirs;
        let _keep = child;
        let _ = io::copy(&mut theirs, &mut writer);
        let _ = writer.flush();
    });
    Ok(mine)
}
