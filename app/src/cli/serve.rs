//! `wharf serve`: share this machine's engine with its users over a Unix socket.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use wharf_engine::remote::DEFAULT_SOCKET;
use wharf_engine::server;

use super::Ctx;

/// Server commands.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Cmd {
    /// Serve the engine on a Unix socket; each client acts with its own role (from the
    /// kernel's peer credentials and the policy).
    Serve(ServeArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Socket path.
    #[arg(long, default_value = DEFAULT_SOCKET)]
    pub socket: PathBuf,
    /// Relay one connection between stdin/stdout and the socket (for `--host ssh://`):
    /// the server then sees the ssh user's identity.
    #[arg(long)]
    pub stdio: bool,
    /// Most connections open at once, in all.
    #[arg(long, default_value_t = server::Limits::default().max_connections)]
    pub max_connections: usize,
    /// Most connections one user (uid) may hold open.
    #[arg(long, default_value_t = server::Limits::default().max_per_uid)]
    pub max_connections_per_user: usize,
    /// Seconds a client has to send a request head (idle connections close after it).
    #[arg(long, default_value_t = server::Limits::default().header_timeout.as_secs())]
    pub header_timeout: u64,
}

/// Run `wharf serve`; returns the exit code.
pub fn run(cmd: Cmd, ctx: &Ctx) -> i32 {
    let Cmd::Serve(a) = cmd;
    if a.stdio {
        return relay(&a.socket);
    }
    // A client that hangs up mid-answer must cost the server a failed write, not its
    // life: `main` restores SIGPIPE's default for the command line's sake.
    // SAFETY: setting a signal disposition before the server's threads start.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    let engine = match ctx.local() {
        Ok(e) => e.clone(),
        Err(e) => {
            super::report(&e);
            return super::exit_code_for(&e);
        }
    };
    let listener = match server::bind(&a.socket) {
        Ok(l) => l,
        Err(e) => {
            super::report(&e);
            return super::exit_code_for(&e);
        }
    };
    eprintln!(
        "wharf: serving the engine at {} (root {})",
        a.socket.display(),
        engine.root().path().display()
    );
    if a.max_connections == 0 || a.max_connections_per_user == 0 || a.header_timeout == 0 {
        eprintln!("wharf: --max-connections, --max-connections-per-user and --header-timeout must be at least 1");
        return 125;
    }
    // An edit of the policy file (by an admin in the console, or by hand) is put in
    // force without a restart; a broken one is refused and the policy in force stays.
    let _watch = engine.watch_policy(std::time::Duration::from_secs(1));
    // Bridges stay up while the server runs (their reaper waits for it to end).
    let _bridges = match wharf_engine::network::hold_bridges(&engine) {
        Ok(l) => Some(l),
        Err(e) => {
            eprintln!("wharf: bridges will not be kept up between containers: {e}");
            None
        }
    };
    let limits = server::Limits {
        max_connections: a.max_connections,
        max_per_uid: a.max_connections_per_user,
        header_timeout: std::time::Duration::from_secs(a.header_timeout),
        ..Default::default()
    };
    match server::serve_with(engine, listener, limits) {
        Ok(()) => 0,
        Err(e) => {
            super::report(&e);
            super::exit_code_for(&e)
        }
    }
}

/// Copy stdin to the socket and the socket to stdout until either side ends.
fn relay(socket: &std::path::Path) -> i32 {
    let stream = match std::os::unix::net::UnixStream::connect(socket) {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "wharf: cannot reach the engine at {}: {e}; is `wharf serve` running there?",
                socket.display()
            );
            return 125;
        }
    };
    let mut up = match stream.try_clone() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("wharf: {e}");
            return 125;
        }
    };
    // Plain read/write loops on the raw descriptors: whatever arrives goes on at once.
    // (Rust's stdout is line-buffered, and `io::copy` between a pipe and a socket turns
    // into splice(2), which here held an answer back until the next request.)
    // SAFETY: fds 0 and 1 are this process's stdin and stdout, open for its whole life;
    // ManuallyDrop keeps the Files from closing them.
    let (mut input, mut out) = unsafe {
        use std::os::fd::FromRawFd;
        (
            std::mem::ManuallyDrop::new(std::fs::File::from_raw_fd(0)),
            std::mem::ManuallyDrop::new(std::fs::File::from_raw_fd(1)),
        )
    };
    let t = std::thread::spawn(move || {
        pump(&mut *input, &mut up);
        let _ = up.shutdown(std::net::Shutdown::Write);
    });
    let mut down = stream;
    pump(&mut down, &mut *out);
    drop(t);
    0
}

/// Copy `from` to `to` until either ends, writing each read as it comes.
fn pump(from: &mut impl std::io::Read, to: &mut impl std::io::Write) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}
