//! Handing the terminal to a session in a container (exec shell, attach) and taking it
//! back: the console leaves the alternate screen and raw mode, the session runs on the
//! real terminal ([`crate::cli::session`]), then the console comes back and redraws.

use std::io::Write;

use wharf_engine::{Caller, Engine};
use wharf_views::footer::{Level, Notification};

use super::api;
use super::msg::Handoff;
use crate::cli::session::{self, End, Opts};

/// Run `h` on the terminal (which the caller has released) and say how it went.
pub fn run(engine: &dyn Engine, caller: &Caller, h: &Handoff) -> Notification {
    let mut out = std::io::stdout();
    // A clean screen for the session (the console's own is the alternate one).
    let _ = crossterm::execute!(
        out,
        crossterm::terminal::Clear(crossterm::terminal::ClearType::All),
        crossterm::cursor::MoveTo(0, 0)
    );
    let (name, started) = match h {
        Handoff::Exec { id, name } => {
            let _ = writeln!(
                out,
                "wharf: a shell in {name}; exit it (or ctrl-p ctrl-q) to return to the console"
            );
            let s = api::exec_shell(engine, caller, id, session::console_size(true)).map(|sock| {
                let o = Opts {
                    stdin: true,
                    tty: true,
                    detach_keys: true,
                };
                (sock, o)
            });
            (name, s)
        }
        Handoff::Attach { id, name } => {
            let _ = writeln!(
                out,
                "wharf: attached to {name}; ctrl-p ctrl-q detaches (the container keeps running)"
            );
            let s = api::attach(engine, caller, id).map(|(sock, tty, stdin)| {
                let o = Opts {
                    stdin,
                    tty,
                    detach_keys: true,
                };
                (sock, o)
            });
            (name, s)
        }
        Handoff::Run { spec, line } => {
            let _ = writeln!(
                out,
                "wharf: {line}\nwharf: exit its shell to return to the console; ctrl-p ctrl-q detaches (it keeps running)"
            );
            let s = api::run_attached(engine, caller, spec, session::console_size(true)).map(
                |(_, sock)| {
                    let o = Opts {
                        stdin: true,
                        tty: true,
                        detach_keys: true,
                    };
                    (sock, o)
                },
            );
            (spec.name.as_ref().unwrap_or(&spec.image), s)
        }
    };
    let _ = out.flush();
    let (verb, what) = match h {
        Handoff::Exec { .. } => ("open a shell in", "the shell in"),
        Handoff::Attach { .. } => ("attach to", "attach to"),
        Handoff::Run { .. } => ("run", "the session in"),
    };
    match started {
        Err(e) => Notification {
            level: Level::Error,
            text: format!("cannot {verb} {name}: {e}"),
            details: Some(e.to_string()),
        },
        Ok((sock, o)) => match session::session(sock, o) {
            End::Detached => Notification {
                level: Level::Info,
                text: format!("detached from {name}; it keeps running"),
                details: None,
            },
            End::Exit(code) => Notification {
                level: if code == 0 { Level::Ok } else { Level::Warn },
                text: format!("{what} {name} ended (exit code {code})"),
                details: None,
            },
        },
    }
}
