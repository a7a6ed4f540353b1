//! The attach protocol between a monitor and its clients (`wharf run` attached,
//! `wharf attach`, the console), over a Unix stream socket.
//!
//! Every message is a frame: one kind byte, a big-endian u32 length, the payload.
//! Monitor to client: [`STDOUT`], [`STDERR`], [`EXIT`] (the exit code in decimal),
//! [`ERROR`] (`<code>\n<message>` when the command could not be started).
//! Client to monitor: [`STDIN`], [`STDIN_EOF`], [`RESIZE`] (rows and columns, u16 each).

use std::io::{self, Read, Write};

pub const STDIN: u8 = 0;
pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;
pub const EXIT: u8 = 3;
pub const ERROR: u8 = 4;
pub const STDIN_EOF: u8 = 5;
pub const RESIZE: u8 = 6;

/// Largest payload accepted (protects the monitor from a bad client).
pub const MAX_FRAME: usize = 1 << 20;

/// Encode one frame.
pub fn frame(kind: u8, data: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(5 + data.len());
    v.push(kind);
    v.extend_from_slice(&(data.len() as u32).to_be_bytes());
    v.extend_from_slice(data);
    v
}

/// Write one frame.
pub fn write_frame(w: &mut impl Write, kind: u8, data: &[u8]) -> io::Result<()> {
    w.write_all(&frame(kind, data))
}

/// Read one frame; `None` at a clean end of stream.
pub fn read_frame(r: &mut impl Read) -> io::Result<Option<(u8, Vec<u8>)>> {
    let mut head = [0u8; 5];
    match r.read_exact(&mut head) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "attach frame too large",
        ));
    }
    let mut data = vec![0u8; len];
    r.read_exact(&mut data)?;
    Ok(Some((head[0], data)))
}

/// A frame longer than [`MAX_FRAME`]: the peer is not speaking the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadFrame;

/// Incremental decoder for a non-blocking reader (the monitor side).
#[derive(Default)]
pub struct Decoder {
    buf: Vec<u8>,
}

impl Decoder {
    /// Add received bytes.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }
    /// Take whatever a non-blocking `r` has now (through `buf`); `true` when it is closed
    /// or broken, `false` when it would block.
    pub fn fill_from(&mut self, r: &mut impl Read, buf: &mut [u8]) -> bool {
        loop {
            match r.read(buf) {
                Ok(0) => return true,
                Ok(n) => self.push(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return true,
            }
        }
    }
    /// The next complete frame, if any; `Err` on a malformed stream.
    pub fn next_frame(&mut self) -> Result<Option<(u8, Vec<u8>)>, BadFrame> {
        if self.buf.len() < 5 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]) as usize;
        if len > MAX_FRAME {
            return Err(BadFrame);
        }
        if self.buf.len() < 5 + len {
            return Ok(None);
        }
        let kind = self.buf[0];
        let data = self.buf[5..5 + len].to_vec();
        self.buf.drain(..5 + len);
        Ok(Some((kind, data)))
    }
}

/// The (rows, columns) of a resize payload, if it is one.
pub fn parse_resize(d: &[u8]) -> Option<(u16, u16)> {
    (d.len() == 4).then(|| {
        (
            u16::from_be_bytes([d[0], d[1]]),
            u16::from_be_bytes([d[2], d[3]]),
        )
    })
}

/// Give the terminal `fd` (a pty end) the size (rows, columns).
pub fn set_winsize(fd: std::os::fd::BorrowedFd<'_>, rows: u16, cols: u16) {
    use std::os::fd::AsRawFd;
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads the winsize we own; `fd` is open for the call.
    unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
}

/// A resize payload.
pub fn resize(rows: u16, cols: u16) -> Vec<u8> {
    let mut v = rows.to_be_bytes().to_vec();
    v.extend_from_slice(&cols.to_be_bytes());
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resize_payloads_and_nonblocking_fill() {
        assert_eq!(parse_resize(&resize(33, 77)), Some((33, 77)));
        assert_eq!(parse_resize(&[1, 2, 3]), None);
        let (mut a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
        b.set_nonblocking(true).unwrap();
        let mut d = Decoder::default();
        let mut buf = [0u8; 3];
        // Nothing yet: it would block, not closed.
        assert!(!d.fill_from(&mut b, &mut buf));
        write_frame(&mut a, STDOUT, b"hello").unwrap();
        assert!(!d.fill_from(&mut b, &mut buf));
        assert_eq!(d.next_frame().unwrap(), Some((STDOUT, b"hello".to_vec())));
        drop(a);
        assert!(d.fill_from(&mut b, &mut buf), "the peer closed");
    }

    #[test]
    fn frames_round_trip() {
        let mut d = Decoder::default();
        let mut bytes = frame(STDOUT, b"hello");
        bytes.extend(frame(RESIZE, &resize(24, 80)));
        d.push(&bytes[..3]);
        assert_eq!(d.next_frame(), Ok(None));
        d.push(&bytes[3..]);
        assert_eq!(d.next_frame(), Ok(Some((STDOUT, b"hello".to_vec()))));
        assert_eq!(d.next_frame(), Ok(Some((RESIZE, vec![0, 24, 0, 80]))));
        let mut r = &frame(EXIT, b"3")[..];
        assert_eq!(read_frame(&mut r).unwrap(), Some((EXIT, b"3".to_vec())));
        assert_eq!(read_frame(&mut r).unwrap(), None);
    }
}
