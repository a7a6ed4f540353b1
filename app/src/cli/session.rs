//! A terminal session on an attach-protocol stream (`run` in the foreground, `start -a`,
//! `attach`, `exec`): the container's output to ours, our stdin to it, terminal size
//! changes, and Docker's detach keys (ctrl-p ctrl-q) on a terminal.
//!
//! stdin is read only after `poll` says it is readable, and the reading thread is joined
//! before [`stream`] returns: the console hands the terminal to a session and takes it
//! back, so no reader may be left behind to steal its next keypress.

use std::io::Write;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use wharf_engine::runtime::attach;

/// ctrl-p: the first detach key.
const CTRL_P: u8 = 0x10;
/// ctrl-q: the second detach key.
const CTRL_Q: u8 = 0x11;

/// The detach sequence of this process (`--detach-keys`), set once before a session.
static DETACH_KEYS: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();

fn detach_keys() -> &'static [u8] {
    DETACH_KEYS
        .get()
        .map(Vec::as_slice)
        .unwrap_or(&[CTRL_P, CTRL_Q])
}

/// `--detach-keys` as docker reads it (the flag grammar's [`flags::detach_keys`]).
pub fn parse_detach_keys(s: &str) -> Result<Vec<u8>, wharf_engine::EngineError> {
    wharf_engine::api::flags::detach_keys(s)
}

/// Use `keys` as this process's detach sequence (before the session starts).
pub fn set_detach_keys(keys: Vec<u8>) {
    let _ = DETACH_KEYS.set(keys);
}

/// `--sig-proxy`: signals this process gets (INT, TERM, HUP, QUIT, USR1, USR2) go to
/// the container instead of ending the CLI, as docker does for a session without a
/// terminal. Call before the session's threads start (they inherit the blocked set).
pub fn proxy_signals(
    api: std::sync::Arc<dyn wharf_engine::Engine>,
    caller: wharf_engine::Caller,
    container: String,
) {
    use nix::sys::signal::{SigSet, Signal};
    let mut set = SigSet::empty();
    for s in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
    ] {
        set.add(s);
    }
    if set.thread_block().is_err() {
        return;
    }
    std::thread::spawn(move || loop {
        let Ok(sig) = set.wait() else { return };
        let name = sig.as_str().trim_start_matches("SIG").to_string();
        if let Err(e) = wharf_engine::api::ContainerApi::container_kill(
            api.as_ref(),
            &caller,
            &container,
            &name,
        ) {
            eprintln!("wharf: forwarding SIG{name} to {container}: {e}");
        }
    });
}

/// How the session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The process exited with this code (125 when the monitor went away or refused).
    Exit(i32),
    /// The user pressed the detach keys; the container goes on.
    Detached,
}

impl End {
    /// The exit code a command returns for it (0 after a detach).
    pub fn code(self) -> i32 {
        match self {
            End::Exit(c) => c,
            End::Detached => 0,
        }
    }
}

/// Puts the terminal back when dropped.
struct RawMode;

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = crossterm::terminal::disable_raw_mode();
    }
}

/// What a session relays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opts {
    /// Our stdin goes to the container.
    pub stdin: bool,
    /// The container has a terminal: ours goes raw and its size follows.
    pub tty: bool,
    /// Watch for the detach keys on a terminal even without `tty` (the console always
    /// needs a way back); the terminal goes raw and output newlines get their `\r`.
    pub detach_keys: bool,
}

/// With `tty` and a terminal on stdin, its (rows, columns), for a container's pty.
pub fn console_size(tty: bool) -> Option<(u16, u16)> {
    (tty && std::io::IsTerminal::is_terminal(&std::io::stdin()))
        .then(crossterm::terminal::size)
        .and_then(|r| r.ok())
        .map(|(cols, rows)| (rows, cols))
}

/// Pump an attach stream: stdin to the container (with `stdin`), its output to ours,
/// terminal size changes and detach keys (with `tty` on a terminal); returns the exit code.
pub fn stream(sock: UnixStream, stdin: bool, tty: bool) -> i32 {
    let end = session(
        sock,
        Opts {
            stdin,
            tty,
            detach_keys: false,
        },
    );
    if end == End::Detached {
        eprintln!("\r\nwharf: detached; the container keeps running");
    }
    end.code()
}

/// [`stream`], saying how it ended.
pub fn session(sock: UnixStream, o: Opts) -> End {
    let term = (o.tty || o.detach_keys) && std::io::IsTerminal::is_terminal(&std::io::stdin());
    let raw = if term {
        crossterm::terminal::enable_raw_mode().ok().map(|_| RawMode)
    } else {
        None
    };
    let detached = Arc::new(AtomicBool::new(false));
    // Dropping `stop_tx` wakes the input thread's poll: it ends without reading stdin again.
    let (stop_rx, stop_tx) = match UnixStream::pair() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("wharf: cannot create a socket pair: {e}");
            return End::Exit(125);
        }
    };
    let input = match sock.try_clone() {
        Ok(w) if o.stdin || term => {
            let detached = detached.clone();
            let reader_sock = sock.try_clone().ok();
            Some(std::thread::spawn(move || {
                pump_input(w, stop_rx, o, term, &detached);
                // After a detach the output side stops too.
                if detached.load(Ordering::SeqCst) {
                    if let Some(s) = reader_sock {
                        let _ = s.shutdown(std::net::Shutdown::Both);
                    }
                }
            }))
        }
        _ => None,
    };
    // A raw terminal without the container's tty needs `\r` before each `\n`.
    let crlf = raw.is_some() && !o.tty;
    let end = pump_output(&sock, &detached, &raw, crlf);
    drop(stop_tx);
    let _ = sock.shutdown(std::net::Shutdown::Write);
    if let Some(t) = input {
        let _ = t.join();
    }
    drop(raw);
    end
}

/// Frames from the container to stdout/stderr until EXIT (or the stream ends).
fn pump_output(sock: &UnixStream, detached: &AtomicBool, raw: &Option<RawMode>, crlf: bool) -> End {
    let mut r = std::io::BufReader::new(sock);
    let mut out = std::io::stdout();
    let mut err = std::io::stderr();
    let fix = |d: Vec<u8>| -> Vec<u8> {
        if !crlf {
            return d;
        }
        let mut v = Vec::with_capacity(d.len() + d.len() / 16);
        for b in d {
            if b == b'\n' {
                v.push(b'\r');
            }
            v.push(b);
        }
        v
    };
    loop {
        match attach::read_frame(&mut r) {
            Ok(Some((attach::STDOUT, d))) => {
                let _ = out.write_all(&fix(d));
                let _ = out.flush();
            }
            Ok(Some((attach::STDERR, d))) => {
                let _ = err.write_all(&fix(d));
            }
            Ok(Some((attach::EXIT, d))) => {
                return End::Exit(String::from_utf8_lossy(&d).trim().parse().unwrap_or(125))
            }
            Ok(Some((attach::ERROR, d))) => {
                let text = String::from_utf8_lossy(&d).into_owned();
                let (c, m) = text.split_once('\n').unwrap_or(("125", &text));
                if raw.is_some() {
                    let _ = crossterm::terminal::disable_raw_mode();
                }
                eprintln!("wharf: {m}");
                return End::Exit(c.parse().unwrap_or(125));
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => {
                if detached.load(Ordering::SeqCst) {
                    return End::Detached;
                }
                if raw.is_some() {
                    let _ = crossterm::terminal::disable_raw_mode();
                }
                eprintln!("wharf: the container's monitor went away; see `wharf ps -a`");
                return End::Exit(125);
            }
        }
    }
}

/// stdin (when readable) and terminal size changes to the container, until `stop` is
/// readable (the session ended), the stream breaks, or the detach keys.
fn pump_input(mut w: UnixStream, stop: UnixStream, o: Opts, term: bool, detached: &AtomicBool) {
    let fd0 = std::io::stdin();
    // On a terminal stdin is read for the detach keys even when it does not go through.
    let mut stdin_open = o.stdin || term;
    let mut last_size = (0u16, 0u16);
    let mut matched = 0usize;
    let mut buf = [0u8; 8192];
    loop {
        if term && o.tty {
            if let Ok((cols, rows)) = crossterm::terminal::size() {
                if (rows, cols) != last_size {
                    last_size = (rows, cols);
                    if attach::write_frame(&mut w, attach::RESIZE, &attach::resize(rows, cols))
                        .is_err()
                    {
                        return;
                    }
                }
            }
        }
        let ready = {
            let mut fds = vec![PollFd::new(stop.as_fd(), PollFlags::POLLIN)];
            if stdin_open {
                fds.push(PollFd::new(fd0.as_fd(), PollFlags::POLLIN));
            }
            // A tty's size is looked at ten times a second; otherwise sleep until input.
            let timeout = if term && o.tty {
                PollTimeout::from(100u16)
            } else {
                PollTimeout::NONE
            };
            match poll(&mut fds, timeout) {
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => return,
            }
            if fds[0].revents().is_some_and(|r| !r.is_empty()) {
                return;
            }
            stdin_open && fds[1].revents().is_some_and(|r| !r.is_empty())
        };
        if !ready {
            continue;
        }
        // SAFETY: reading into a buffer we own from fd 0, which poll said is readable.
        let n = unsafe { libc::read(fd0.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            stdin_open = false;
        } else if n == 0 {
            stdin_open = false;
        }
        if !stdin_open {
            if o.stdin {
                let _ = attach::write_frame(&mut w, attach::STDIN_EOF, &[]);
            }
            if !term {
                return;
            }
            continue;
        }
        let data = &buf[..n as usize];
        if !term {
            if attach::write_frame(&mut w, attach::STDIN, data).is_err() {
                return;
            }
            continue;
        }
        // Detach keys (ctrl-p ctrl-q unless --detach-keys), possibly split across reads;
        // a partial sequence that does not go on is sent as typed.
        let keys = detach_keys();
        let mut send = Vec::with_capacity(data.len() + keys.len());
        for &b in data {
            if keys.is_empty() {
                send.push(b);
                continue;
            }
            if b == keys[matched] {
                matched += 1;
                if matched == keys.len() {
                    if o.stdin && !send.is_empty() {
                        let _ = attach::write_frame(&mut w, attach::STDIN, &send);
                    }
                    detached.store(true, Ordering::SeqCst);
                    return;
                }
                continue;
            }
            send.extend_from_slice(&keys[..matched]);
            matched = 0;
            if b == keys[0] {
                matched = 1;
                if keys.len() == 1 {
                    if o.stdin && !send.is_empty() {
                        let _ = attach::write_frame(&mut w, attach::STDIN, &send);
                    }
                    detached.store(true, Ordering::SeqCst);
                    return;
                }
            } else {
                send.push(b);
            }
        }
        if o.stdin && !send.is_empty() && attach::write_frame(&mut w, attach::STDIN, &send).is_err()
        {
            return;
        }
    }
}

/// Docker's check before attaching a terminal: with both -i and -t, stdin must be a
/// terminal ("the input device is not a TTY"), or the session would be garbled.
pub fn check_tty(stdin: bool, tty: bool) -> Result<(), wharf_engine::EngineError> {
    use std::io::IsTerminal;
    if stdin && tty && !std::io::stdin().is_terminal() {
        return Err(wharf_engine::EngineError::invalid(
            "the input device is not a TTY: leave out -t (or -i), or run from a terminal",
        ));
    }
    Ok(())
}
