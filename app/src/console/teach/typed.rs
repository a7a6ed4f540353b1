//! Commands typed at the console's `:` prompt: any `wharf` command (`:run -d --name web
//! wharf/demo`, `:network create lab`, `:rm -f web`), read by the CLI's own parser and
//! done by the CLI's own code on the console's engine, as the console's caller. Their
//! output is captured ([`crate::cli::out`]) for a window. Commands that need the
//! terminal (an attached `run`, `exec`, `attach`, `start -a`) get it the way the
//! console's shell action does; those that never end or are not for a console are
//! refused with the reason.

use std::io::Write;
use std::sync::Arc;

use clap::Parser;
use wharf_engine::{Caller, Engine};
use wharf_views::footer::{Level, Notification};

use crate::cli::{self, containers, stats, system, toolbox};
use crate::Command;

/// How a typed command runs.
#[derive(Debug)]
pub enum Plan {
    /// On a worker, its output captured.
    Captured(Box<Command>),
    /// On the terminal, the console suspended.
    Terminal(Box<Command>),
    /// A `--help` (or `--version`): the text to show.
    Help(String),
}

/// A typed command read: its words (after `wharf`) and how it runs.
#[derive(Debug)]
pub struct Parsed {
    pub words: Vec<String>,
    pub plan: Plan,
}

/// The console's own settings: a typed command acts on the console's engine.
const OWN: &[&str] = &["--root", "--host", "-H", "--as", "--policy", "--keymap"];

/// Read `line` (with or without a leading `wharf`) as a command; the reason when it
/// cannot run here.
pub fn parse(line: &str) -> Result<Parsed, String> {
    let mut words = shlex::split(line.trim()).ok_or("unbalanced quotes")?;
    if words.first().is_some_and(|w| w == "wharf") {
        words.remove(0);
    }
    if words.is_empty() {
        return Err("type a wharf command, e.g. run -d --name web wharf/demo".into());
    }
    if let Some(w) = words.iter().find(|w| {
        OWN.iter()
            .any(|o| *w == o || w.starts_with(&format!("{o}=")))
    }) {
        return Err(format!(
            "{w} is the console's own setting: typed commands act on the console's engine, as its user"
        ));
    }
    let mut argv = vec!["wharf".to_string()];
    argv.extend(words.iter().cloned());
    let opts = match crate::Opts::try_parse_from(&argv) {
        Ok(o) => o,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion)
                || e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            {
                return Ok(Parsed {
                    words,
                    plan: Plan::Help(e.render().to_string()),
                });
            }
            let msg = crate::cli::refusals::explain(&e, &argv).unwrap_or_else(|| {
                e.render()
                    .to_string()
                    .lines()
                    .next()
                    .unwrap_or("not a wharf command")
                    .trim_start_matches("error: ")
                    .to_string()
            });
            return Err(msg);
        }
    };
    let Some(cmd) = opts.command else {
        return Err("that opens a console: this is one".into());
    };
    let plan = classify(cmd)?;
    Ok(Parsed { words, plan })
}

/// Whether `cmd` runs captured, needs the terminal, or cannot run in a console.
fn classify(cmd: Command) -> Result<Plan, String> {
    use containers::{Cmd as C, ContainerCmd as CC};
    let refuse = |why: &str| Err(why.to_string());
    let terminal = match &cmd {
        Command::Serve(_) => return refuse("serve runs a server for other users: start it in a shell"),
        Command::Journal(cli::journal::Cmd::Journal {
            cmd: cli::journal::JournalCmd::Replay(_),
        }) => return refuse("journal replay opens a console: run it in a shell"),
        Command::Trace(cli::trace::Cmd::Trace(a)) if a.follow => {
            return refuse("trace -f follows the calls: the Trace pane follows them (:trace, tab 9)")
        }
        Command::Registry(cli::registry::Cmd::Login(_)) => {
            return refuse("login reads a password: run wharf login in a shell, where it is neither shown nor traced")
        }
        Command::Containers(C::Monitor(_))
        | Command::Toolbox(toolbox::Cmd::ExecHelper)
        | Command::Toolbox(toolbox::Cmd::Health(_)) => {
            return refuse("that is wharf's own internal command")
        }
        Command::Containers(C::Logs(a) | C::Container { cmd: CC::Logs(a) }) if a.follows() => {
            return refuse("logs -f follows until the container stops: the Logs pane follows a log (:logs NAME)")
        }
        Command::System(
            system::Cmd::Events(a)
            | system::Cmd::System {
                cmd: system::SystemCmd::Events(a),
            },
        ) if a.until.is_none() => {
            return refuse("events follows the stream: the Events pane shows it (:events), or give --until")
        }
        Command::Stats(stats::Cmd::Stats(a))
        | Command::Containers(C::Container {
            cmd: CC::Stats(a),
        }) if !a.no_stream => {
            return refuse("stats streams: the Stats pane shows it (:stats), or add --no-stream")
        }
        Command::Containers(C::Run(a) | C::Container { cmd: CC::Run(a) }) => a.attached(),
        Command::Containers(C::Start(a) | C::Container { cmd: CC::Start(a) }) => a.attached(),
        Command::Containers(C::Attach(_) | C::Container { cmd: CC::Attach(_) }) => true,
        Command::Toolbox(toolbox::Cmd::Exec(a))
        | Command::Containers(C::Container { cmd: CC::Exec(a) }) => a.attached(),
        _ => false,
    };
    Ok(if terminal {
        Plan::Terminal(Box::new(cmd))
    } else {
        Plan::Captured(Box::new(cmd))
    })
}

/// What a typed command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The console action it was (its engine calls carry the id).
    pub id: u64,
    /// Its words, after `wharf`.
    pub words: Vec<String>,
    /// Its exit code, as in a shell.
    pub code: i32,
    /// What it printed.
    pub out: String,
    pub err: String,
    /// It asked a question the console could not answer.
    pub asked: bool,
    /// It was a step of a replay.
    pub replay: bool,
    /// It ran on the terminal (nothing was captured).
    pub on_terminal: bool,
}

/// Run a captured command on `engine` as `caller` (blocking: on a worker).
pub fn run_captured(
    engine: Arc<dyn Engine>,
    caller: Caller,
    cmd: Command,
    id: u64,
) -> (i32, cli::out::Captured) {
    let ctx = cli::Ctx {
        api: engine,
        local: None,
        caller,
    };
    wharf_engine::trace::with_action(id, || {
        cli::out::capture(None, || crate::dispatch(cmd, &ctx))
    })
}

/// A typed command waiting for the terminal.
#[derive(Debug)]
pub struct Terminal {
    pub id: u64,
    pub words: Vec<String>,
    pub cmd: Box<Command>,
    pub replay: bool,
}

/// Run `t` on the real terminal (the console has released it), then wait for Enter so
/// its last output can be read; what happened.
pub fn on_terminal(engine: Arc<dyn Engine>, caller: Caller, t: Terminal) -> Outcome {
    let mut out = std::io::stdout();
    let line = wharf_engine::api::flags::argv::shell_line(&t.words);
    let _ = crossterm::execute!(
        out,
        crossterm::terminal::Clear(crossterm::terminal::ClearType::All),
        crossterm::cursor::MoveTo(0, 0)
    );
    let _ = writeln!(
        out,
        "$ wharf {line}\n(the console is suspended; it comes back when this ends)"
    );
    let _ = out.flush();
    let ctx = cli::Ctx {
        api: engine,
        local: None,
        caller,
    };
    let code = wharf_engine::trace::with_action(t.id, || crate::dispatch(*t.cmd, &ctx));
    let _ = write!(
        out,
        "\r\n[wharf {line}: exit code {code}] press Enter to return to the console "
    );
    let _ = out.flush();
    let mut s = String::new();
    let _ = std::io::stdin().read_line(&mut s);
    Outcome {
        id: t.id,
        words: t.words,
        code,
        out: String::new(),
        err: String::new(),
        asked: false,
        replay: t.replay,
        on_terminal: true,
    }
}

/// The notification for an outcome: `wharf WORDS` and how it ended.
pub fn note(o: &Outcome) -> Notification {
    let line = format!(
        "wharf {}",
        wharf_engine::api::flags::argv::shell_line(&o.words)
    );
    let text_out = [o.out.trim_end(), o.err.trim_end()]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("\n");
    if o.code == 0 {
        let first = text_out.lines().next().unwrap_or("");
        Notification {
            level: Level::Ok,
            text: if first.is_empty() {
                format!("{line}: done")
            } else {
                format!("{line}: {first}")
            },
            details: (!text_out.is_empty()).then_some(text_out),
        }
    } else {
        let why = o
            .err
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim_start_matches("wharf: ")
            .to_string();
        Notification {
            level: Level::Error,
            text: format!("{line} failed (exit code {}): {why}", o.code),
            details: Some(text_out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(line: &str) -> Result<&'static str, String> {
        parse(line).map(|p| match p.plan {
            Plan::Captured(_) => "captured",
            Plan::Terminal(_) => "terminal",
            Plan::Help(_) => "help",
        })
    }

    #[test]
    fn typed_commands_are_the_clis() {
        assert_eq!(plan("run -d --name web wharf/demo"), Ok("captured"));
        assert_eq!(plan("wharf network create lab"), Ok("captured"));
        assert_eq!(plan("rm -f web"), Ok("captured"));
        assert_eq!(plan("container prune -f"), Ok("captured"));
        assert_eq!(plan("logs web"), Ok("captured"));
        assert_eq!(plan("stats --no-stream"), Ok("captured"));
        assert_eq!(plan("run -it wharf/demo sh"), Ok("terminal"));
        assert_eq!(plan("run --rm wharf/demo echo hi"), Ok("terminal"));
        assert_eq!(plan("exec -it web sh"), Ok("terminal"));
        assert_eq!(plan("exec -d web touch /x"), Ok("captured"));
        assert_eq!(plan("attach web"), Ok("terminal"));
        assert_eq!(plan("start -a web"), Ok("terminal"));
        assert_eq!(plan("run --help"), Ok("help"));
        assert_eq!(
            parse("run -d --name 'web wharf/demo").unwrap_err(),
            "unbalanced quotes"
        );
    }

    #[test]
    fn what_a_console_cannot_do_is_refused_with_the_reason() {
        for (line, why) in [
            ("logs -f web", "Logs pane"),
            ("events", "Events pane"),
            ("stats", "Stats pane"),
            ("serve", "shell"),
            ("login localhost:5000", "password"),
            ("--root /tmp/x ps", "console's own"),
            ("ps --host unix:///x", "console's own"),
            ("journal replay x.sh", "shell"),
            ("", "type a wharf command"),
            ("frobnicate", "frobnicate"),
        ] {
            let e = plan(line).unwrap_err();
            assert!(e.contains(why), "{line}: {e}");
        }
    }
}
