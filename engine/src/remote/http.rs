//! A small HTTP/1.1 layer for the engine socket: request/response heads parsed with
//! `httparse`, bodies framed by Content-Length or chunked encoding, keep-alive, and
//! `Connection: Upgrade` for raw streams. Only what the engine protocol needs.

use std::io::{self, BufRead, Read, Write};

use crate::error::{EngineError, Result};

/// Largest request/response head accepted (a guard against garbage on the socket).
const MAX_HEAD: usize = 64 * 1024;
/// Largest non-streamed body accepted.
pub const MAX_BODY: u64 = 64 * 1024 * 1024;

/// A parsed head: request line or status line, and headers (names lowercased).
#[derive(Debug, Clone, Default)]
pub struct Head {
    /// Request method (empty for responses).
    pub method: String,
    /// Request path (empty for responses).
    pub path: String,
    /// Response status (0 for requests).
    pub status: u16,
    pub headers: Vec<(String, String)>,
}

impl Head {
    /// The first header called `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Is the body chunked?
    pub fn chunked(&self) -> bool {
        self.header("transfer-encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    }

    /// Content-Length, if given.
    pub fn content_length(&self) -> Option<u64> {
        self.header("content-length")
            .and_then(|v| v.trim().parse().ok())
    }
}

fn read_raw_head<R: BufRead>(r: &mut R) -> io::Result<Option<Vec<u8>>> {
    let mut buf = Vec::new();
    loop {
        let n = r.read_until(b'\n', &mut buf)?;
        if n == 0 {
            return if buf.is_empty() {
                Ok(None)
            } else {
                Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed inside an HTTP head",
                ))
            };
        }
        if buf.ends_with(b"\r\n\r\n") || buf == b"\r\n" {
            if buf == b"\r\n" {
                buf.clear();
                continue;
            }
            return Ok(Some(buf));
        }
        if buf.len() > MAX_HEAD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "HTTP head too large",
            ));
        }
    }
}

fn proto_err(what: impl std::fmt::Display) -> EngineError {
    EngineError::unavailable(format!("engine socket protocol error: {what}"))
}

/// Read a request head; `Ok(None)` at a clean end of the connection.
pub fn read_request<R: BufRead>(r: &mut R) -> Result<Option<Head>> {
    let Some(raw) = read_raw_head(r).map_err(proto_err)? else {
        return Ok(None);
    };
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(&raw).map_err(proto_err)? {
        httparse::Status::Complete(_) => {}
        httparse::Status::Partial => return Err(proto_err("incomplete request head")),
    }
    Ok(Some(Head {
        method: req.method.unwrap_or_default().to_string(),
        path: req.path.unwrap_or_default().to_string(),
        status: 0,
        headers: req
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_ascii_lowercase(),
                    String::from_utf8_lossy(h.value).into_owned(),
                )
            })
            .collect(),
    }))
}

/// Read a response head.
pub fn read_response<R: BufRead>(r: &mut R) -> Result<Head> {
    let raw = read_raw_head(r).map_err(proto_err)?.ok_or_else(|| {
        EngineError::unavailable("the engine closed the connection without answering")
    })?;
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut headers);
    match resp.parse(&raw).map_err(proto_err)? {
        httparse::Status::Complete(_) => {}
        httparse::Status::Partial => return Err(proto_err("incomplete response head")),
    }
    Ok(Head {
        method: String::new(),
        path: String::new(),
        status: resp.code.unwrap_or(0),
        headers: resp
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_ascii_lowercase(),
                    String::from_utf8_lossy(h.value).into_owned(),
                )
            })
            .collect(),
    })
}

/// Reads a chunked body; ends (returns 0) after the last chunk and its trailer.
pub struct ChunkedReader<'a, R: BufRead> {
    inner: &'a mut R,
    left: u64,
    done: bool,
    /// Trailer fields seen after the last chunk (names lowercased).
    pub trailers: Vec<(String, String)>,
}

impl<'a, R: BufRead> ChunkedReader<'a, R> {
    /// Read the chunked body that follows on `inner`.
    pub fn new(inner: &'a mut R) -> Self {
        ChunkedReader {
            inner,
            left: 0,
            done: false,
            trailers: Vec::new(),
        }
    }
}

impl<R: BufRead> Read for ChunkedReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        if self.left == 0 {
            let mut line = String::new();
            self.inner.read_line(&mut line)?;
            let size = line.trim().split(';').next().unwrap_or("");
            self.left = u64::from_str_radix(size, 16).map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("bad chunk size {size:?}"),
                )
            })?;
            if self.left == 0 {
                // Trailer: lines until an empty one.
                loop {
                    line.clear();
                    if self.inner.read_line(&mut line)? == 0 || line.trim().is_empty() {
                        break;
                    }
                    if let Some((k, v)) = line.split_once(':') {
                        self.trailers
                            .push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
                    }
                }
                self.done = true;
                return Ok(0);
            }
        }
        let want = buf.len().min(self.left as usize);
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed inside a chunk",
            ));
        }
        self.left -= n as u64;
        if self.left == 0 {
            let mut crlf = [0u8; 2];
            self.inner.read_exact(&mut crlf)?;
        }
        Ok(n)
    }
}

/// Writes a chunked body; call [`finish`](Self::finish) to end it.
pub struct ChunkedWriter<'a, W: Write> {
    inner: &'a mut W,
}

impl<'a, W: Write> ChunkedWriter<'a, W> {
    /// Start a chunked body on `inner` (the head must say `Transfer-Encoding: chunked`).
    pub fn new(inner: &'a mut W) -> Self {
        ChunkedWriter { inner }
    }

    /// Write the last chunk.
    pub fn finish(self) -> io::Result<()> {
        self.inner.write_all(b"0\r\n\r\n")?;
        self.inner.flush()
    }

    /// Write the last chunk followed by one trailer field (e.g. an error found mid-stream).
    pub fn finish_with_trailer(self, name: &str, value: &str) -> io::Result<()> {
        let value: String = value.chars().filter(|c| *c != '\r' && *c != '\n').collect();
        write!(self.inner, "0\r\n{name}: {value}\r\n\r\n")?;
        self.inner.flush()
    }
}

impl<W: Write> Write for ChunkedWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        write!(self.inner, "{:x}\r\n", buf.len())?;
        self.inner.write_all(buf)?;
        self.inner.write_all(b"\r\n")?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Read a whole (non-streamed) body as the head describes it.
pub fn read_body<R: BufRead>(r: &mut R, head: &Head) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    if head.chunked() {
        ChunkedReader::new(r)
            .take(MAX_BODY + 1)
            .read_to_end(&mut body)
            .map_err(proto_err)?;
    } else if let Some(n) = head.content_length() {
        if n > MAX_BODY {
            return Err(proto_err(format!(
                "body of {n} bytes is larger than {MAX_BODY}"
            )));
        }
        r.take(n).read_to_end(&mut body).map_err(proto_err)?;
        if body.len() as u64 != n {
            return Err(proto_err("connection closed inside a body"));
        }
    }
    if body.len() as u64 > MAX_BODY {
        return Err(proto_err("body too large"));
    }
    Ok(body)
}

/// Reason phrase for the statuses the engine uses.
pub fn reason(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        422 => "Unprocessable Entity",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        507 => "Insufficient Storage",
        _ => "Status",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_round_trip_and_heads() {
        let mut wire = Vec::new();
        wire.extend_from_slice(
            b"POST /v1/info HTTP/1.1\r\nHost: wharf\r\nTransfer-Encoding: chunked\r\n\r\n",
        );
        {
            let mut w = ChunkedWriter::new(&mut wire);
            w.write_all(b"hello ").unwrap();
            w.write_all(b"world").unwrap();
            w.finish().unwrap();
        }
        wire.extend_from_slice(b"GET /v1/ping HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
        let mut r = io::BufReader::new(&wire[..]);
        let h = read_request(&mut r).unwrap().unwrap();
        assert_eq!((h.method.as_str(), h.path.as_str()), ("POST", "/v1/info"));
        assert!(h.chunked());
        assert_eq!(read_body(&mut r, &h).unwrap(), b"hello world");
        let h2 = read_request(&mut r).unwrap().unwrap();
        assert_eq!(h2.path, "/v1/ping");
        assert_eq!(read_body(&mut r, &h2).unwrap(), b"");
        assert!(read_request(&mut r).unwrap().is_none());
    }

    #[test]
    fn trailers_carry_late_errors() {
        let mut wire = Vec::new();
        let mut w = ChunkedWriter::new(&mut wire);
        w.write_all(b"partial").unwrap();
        w.finish_with_trailer("X-Wharf-Error", "{\"kind\":\"io\"}")
            .unwrap();
        let mut r = io::BufReader::new(&wire[..]);
        let mut cr = ChunkedReader::new(&mut r);
        let mut body = Vec::new();
        cr.read_to_end(&mut body).unwrap();
        assert_eq!(body, b"partial");
        assert_eq!(
            cr.trailers,
            vec![("x-wharf-error".to_string(), "{\"kind\":\"io\"}".to_string())]
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut r = io::BufReader::new(&b"\x00\x01garbage\r\n\r\n"[..]);
        assert!(read_request(&mut r).is_err());
        let mut r = io::BufReader::new(&b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"[..]);
        let h = read_response(&mut r).unwrap();
        assert!(read_body(&mut r, &h).is_err());
    }
}
