//! Between hyper (async) and the engine API (blocking calls with readers, writers and
//! sinks): every request is handled on a blocking thread that answers through a
//! [`Responder`], reads its body through a [`BodyReader`], and may hand the connection
//! over to an attach stream after a `101`.
//!
//! The head of the answer travels back through a oneshot channel, the body through a
//! bounded channel of frames: a slow client slows the engine call down (back-pressure),
//! a client that hangs up ends it (the next send fails, the sink returns `false`).

use std::io::{self, Read};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use http_body_util::BodyExt;
use hyper::body::{Frame, Incoming};
use tokio::sync::{mpsc, oneshot};

/// The body type of every answer.
pub type Body = http_body_util::combinators::BoxBody<Bytes, io::Error>;

/// Frames buffered between the engine thread and the connection (each at most 64 KiB
/// as the engine writes them): a few hundred KiB per streaming answer at most.
const CHANNEL_FRAMES: usize = 8;

/// How long a request body may stall (no byte at all) before the request is abandoned.
pub const BODY_STALL: Duration = Duration::from_secs(60);

/// What to do with the connection once the head has been written.
pub enum After {
    /// Nothing: an ordinary answer.
    Nothing,
    /// `101`: relay the upgraded connection to `stream` (an attach-protocol stream of
    /// the engine), translated by `mode`.
    Relay(UnixStream, crate::server::relay::Mode),
    /// `101` now, the stream later (a Docker attach to a container not started yet: the
    /// stream arrives when it starts); the connection closes if it never does.
    RelayLater(oneshot::Receiver<UnixStream>, crate::server::relay::Mode),
}

/// The head of an answer, sent before its body.
pub struct Head {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub after: After,
}

/// The blocking side of an answer.
pub struct Responder {
    head: Option<oneshot::Sender<Head>>,
    body: Option<mpsc::Sender<io::Result<Frame<Bytes>>>>,
}

/// The async side: the head, then the body.
pub struct Pending {
    pub head: oneshot::Receiver<Head>,
}

/// A writer for an answer's body (after [`Responder::start`]).
pub struct BodyWriter {
    tx: mpsc::Sender<io::Result<Frame<Bytes>>>,
    gone: bool,
}

impl Responder {
    /// A responder and the receivers the connection reads from.
    pub fn new() -> (Responder, Pending, mpsc::Receiver<io::Result<Frame<Bytes>>>) {
        let (htx, hrx) = oneshot::channel();
        let (btx, brx) = mpsc::channel(CHANNEL_FRAMES);
        (
            Responder {
                head: Some(htx),
                body: Some(btx),
            },
            Pending { head: hrx },
            brx,
        )
    }

    /// Has the head been sent?
    pub fn started(&self) -> bool {
        self.head.is_none()
    }

    /// Send the head; the returned writer carries the body. Dropping the writer ends
    /// the body.
    pub fn start(&mut self, status: StatusCode, headers: HeaderMap) -> BodyWriter {
        self.start_with(status, headers, After::Nothing)
    }

    /// Send the head with what follows it.
    pub fn start_with(
        &mut self,
        status: StatusCode,
        headers: HeaderMap,
        after: After,
    ) -> BodyWriter {
        crate::trace::note_answer(status.as_u16(), None);
        if let Some(h) = self.head.take() {
            let _ = h.send(Head {
                status,
                headers,
                after,
            });
        }
        BodyWriter {
            tx: self.body.take().unwrap_or_else(|| mpsc::channel(1).0),
            gone: false,
        }
    }

    /// A whole answer with `content_type` and `body`.
    pub fn full(&mut self, status: StatusCode, content_type: &str, body: Vec<u8>) {
        let mut h = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(content_type) {
            h.insert(http::header::CONTENT_TYPE, v);
        }
        self.full_with(status, h, body);
    }

    /// A whole answer with `headers` and `body` (its length given, not chunked).
    pub fn full_with(&mut self, status: StatusCode, mut headers: HeaderMap, body: Vec<u8>) {
        let json = headers
            .get(http::header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
        crate::trace::note_answer(status.as_u16(), json.then_some(body.as_slice()));
        headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        let mut w = self.start(status, headers);
        if !body.is_empty() {
            w.send(Bytes::from(body));
        }
    }

    /// A JSON answer.
    pub fn json<T: serde::Serialize + ?Sized>(&mut self, status: StatusCode, value: &T) {
        match serde_json::to_vec(value) {
            Ok(b) => self.full(status, "application/json", b),
            Err(e) => self.full(
                StatusCode::INTERNAL_SERVER_ERROR,
                "application/json",
                format!("{{\"message\":\"serializing the answer: {e}\"}}").into_bytes(),
            ),
        }
    }
}

impl BodyWriter {
    /// Send a chunk; `false` once the client has gone.
    pub fn send(&mut self, data: Bytes) -> bool {
        if self.gone {
            return false;
        }
        if self.tx.blocking_send(Ok(Frame::data(data))).is_err() {
            self.gone = true;
        }
        !self.gone
    }

    /// Has the client gone?
    pub fn gone(&self) -> bool {
        self.gone
    }

    /// Has the connection dropped the body, without a send to find out? (A handler that
    /// waits long between chunks, such as `wait`, polls this.)
    pub fn closed(&self) -> bool {
        self.gone || self.tx.is_closed()
    }

    /// End the body with an error: the connection is cut before the body's end, so the
    /// client sees a failed transfer instead of a short body that looks complete (for
    /// raw streams such as `docker save` tars, which have no way to carry an error).
    pub fn abort(mut self, why: &str) {
        if !self.gone {
            let e = io::Error::other(why.to_string());
            if self.tx.blocking_send(Err(e)).is_err() {
                self.gone = true;
            }
        }
    }

    /// End the body with trailer fields (sent only to clients that asked with
    /// `TE: trailers`).
    pub fn trailers(mut self, fields: &[(&str, String)]) {
        let mut map = HeaderMap::new();
        for (k, v) in fields {
            let v: String = v.chars().filter(|c| *c != '\r' && *c != '\n').collect();
            if let (Ok(k), Ok(v)) = (
                HeaderName::from_bytes(k.as_bytes()),
                HeaderValue::from_str(&v),
            ) {
                map.insert(k, v);
            }
        }
        if !self.gone && self.tx.blocking_send(Ok(Frame::trailers(map))).is_err() {
            self.gone = true;
        }
    }
}

impl io::Write for BodyWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.send(Bytes::copy_from_slice(buf)) {
            Ok(buf.len())
        } else {
            Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the client went away",
            ))
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A request body as a blocking reader. Fed by a task on the connection's side that
/// reads the body's frames; stops with an error when the body stalls for
/// [`BODY_STALL`] or exceeds the limit the reader was made with.
pub struct BodyReader {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    buf: Bytes,
    done: bool,
}

impl BodyReader {
    /// Start pumping `body` (at most `limit` bytes; `None` = no limit) into a reader.
    pub fn spawn(body: Incoming, limit: Option<u64>, rt: &tokio::runtime::Handle) -> BodyReader {
        let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(CHANNEL_FRAMES);
        rt.spawn(async move {
            let mut body = body;
            let mut total: u64 = 0;
            loop {
                let next = tokio::time::timeout(BODY_STALL, body.frame()).await;
                let frame = match next {
                    Err(_) => {
                        let _ = tx.send(Err(stalled())).await;
                        return;
                    }
                    Ok(None) => return,
                    Ok(Some(Err(e))) => {
                        let _ = tx.send(Err(unreadable(e))).await;
                        return;
                    }
                    Ok(Some(Ok(f))) => f,
                };
                let Ok(data) = frame.into_data() else {
                    continue; // trailers
                };
                total += data.len() as u64;
                if let Some(l) = limit.filter(|l| total > *l) {
                    let _ = tx.send(Err(too_large(l))).await;
                    return;
                }
                if tx.send(Ok(data)).await.is_err() {
                    return; // the engine stopped reading
                }
            }
        });
        BodyReader {
            rx,
            buf: Bytes::new(),
            done: false,
        }
    }

    /// A reader of a body read whole already (`Err`: reading it failed), within
    /// `limit` as [`BodyReader::spawn`]'s.
    pub fn read(body: io::Result<Bytes>, limit: Option<u64>) -> BodyReader {
        let (tx, rx) = mpsc::channel(1);
        let item = match body {
            Ok(b) => match limit.filter(|l| b.len() as u64 > *l) {
                Some(l) => Err(too_large(l)),
                None => Ok(b),
            },
            Err(e) => Err(e),
        };
        // Room for one: it is there to read, then the end (the sender is gone).
        let _ = tx.try_send(item);
        BodyReader {
            rx,
            buf: Bytes::new(),
            done: false,
        }
    }

    /// A reader with nothing to read.
    pub fn empty() -> BodyReader {
        let (_, rx) = mpsc::channel(1);
        BodyReader {
            rx,
            buf: Bytes::new(),
            done: true,
        }
    }

    /// The whole body (within the reader's limit).
    pub fn read_all(&mut self) -> io::Result<Vec<u8>> {
        let mut v = Vec::new();
        self.read_to_end(&mut v)?;
        crate::trace::note_body(&v);
        Ok(v)
    }
}

impl Read for BodyReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.buf.is_empty() {
            if self.done {
                return Ok(0);
            }
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.buf = b,
                Some(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                None => {
                    self.done = true;
                    return Ok(0);
                }
            }
        }
        let n = out.len().min(self.buf.len());
        out[..n].copy_from_slice(&self.buf[..n]);
        let _ = self.buf.split_to(n);
        Ok(n)
    }
}

/// A request body that stopped coming for [`BODY_STALL`].
pub fn stalled() -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!("the request body stalled for {} s", BODY_STALL.as_secs()),
    )
}

/// A request body the connection failed to read.
pub fn unreadable(e: hyper::Error) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("reading the request body: {e}"),
    )
}

fn too_large(limit: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("the request body is larger than {limit} bytes, the most this call takes"),
    )
}

/// A whole answer's body, sent as it is.
pub fn full(body: Bytes) -> Body {
    http_body_util::Full::new(body)
        .map_err(|never| match never {})
        .boxed()
}

/// The body of an answer from the frames the engine thread sends.
pub fn channel_body(rx: mpsc::Receiver<io::Result<Frame<Bytes>>>) -> Body {
    let stream =
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|f| (f, rx)) });
    http_body_util::StreamBody::new(stream).boxed()
}

/// An empty body.
pub fn empty() -> Body {
    http_body_util::Empty::new()
        .map_err(|never| match never {})
        .boxed()
}
