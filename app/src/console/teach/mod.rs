//! Teaching mode: what each action does to the engine, and the command a student would
//! type to do the same.
//!
//! - After each action the strip above the footer shows the `wharf` command line that
//!   does the same, the `docker` one where docker has it, and what the engine did (the
//!   steps it reported in its trace); `y`/`Y` copy a command to the terminal's clipboard
//!   (OSC 52, so it works over SSH); `T` hides the strip.
//! - Every engine call the console makes is traced ([`wharf_engine::trace::Traced`]);
//!   the trace pane (`:trace`) shows them live, with the actions between them.
//! - `:` takes any wharf command ([`typed`]), run on the console's engine as its caller.
//! - Each action goes to the session journal (`wharf journal export`), and a journal's
//!   script replays one step at a time (`wharf journal replay FILE`, then `>`).

pub mod equiv;
pub mod typed;

use std::path::{Path, PathBuf};

use wharf_engine::api::flags::argv::shell_line;
use wharf_engine::trace::{TraceEntry, TraceOptions, Tracer};
use wharf_views::footer::{Level, Notification};

pub use equiv::Equivalent;

use super::actions::Action;
use super::app::{App, Overlay};
use super::msg::{Lists, Msg, PaneMsg};
use crate::cli::journal::{self, Step};

pub const COPY_COMMAND: Action = Action::new(
    "copy-command",
    "copy the last action's wharf command to the terminal's clipboard (OSC 52)",
)
.short("copy");
pub const COPY_DOCKER: Action = Action::new(
    "copy-docker",
    "copy the last action's docker command to the terminal's clipboard (OSC 52)",
)
.short("copy docker");
pub const TEACH_TOGGLE: Action = Action::new(
    "teach-toggle",
    "show or hide the commands and the engine's steps after each action",
)
.short("teach");
pub const REPLAY_NEXT: Action =
    Action::new("replay-next", "replaying a journal: run the next step").short("next step");
pub const REPLAY_SKIP: Action =
    Action::new("replay-skip", "replaying a journal: skip the next step").short("skip step");
pub const JOURNAL_EXPORT: Action = Action::new(
    "journal-export",
    "write this session as a shell script of wharf commands (its path is shown)",
)
.short("export");

/// What one action taught: the strip shows the last one; the trace pane and the
/// journal keep them all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lesson {
    /// The console action (its engine calls carry the id).
    pub id: u64,
    pub time_nano: i64,
    pub equiv: Equivalent,
    /// What the console said of it.
    pub outcome: String,
    pub ok: bool,
    /// What the engine did, from the trace of its calls.
    pub steps: Vec<String>,
    /// Did it change anything (a journal step)?
    pub mutating: bool,
}

impl Lesson {
    /// `wharf ...` as one line.
    pub fn wharf_line(&self) -> String {
        shell_line(&self.equiv.wharf)
    }

    /// `docker ...` as one line, if docker has it.
    pub fn docker_line(&self) -> Option<String> {
        self.equiv.docker.as_deref().map(shell_line)
    }

    /// The whole lesson as text (the notification's details, the trace pane's window).
    pub fn text(&self) -> String {
        let mut s = format!("$ {}\n", self.wharf_line());
        if let Some(d) = self.docker_line() {
            s.push_str(&format!("$ {d}\n"));
        }
        s.push_str(&format!("\n{}\n", self.outcome));
        if !self.steps.is_empty() {
            s.push_str("\nwhat the engine did:\n");
            for st in &self.steps {
                s.push_str(&format!("  · {st}\n"));
            }
        }
        s
    }
}

/// What the trace pane gets: a traced call, an action between them, or why the trace
/// stopped.
#[derive(Debug)]
pub enum TraceFeed {
    Entry(Box<TraceEntry>),
    Lesson(Box<Lesson>),
    Ended(String),
}

/// A worker's report of an action it did for the teaching mode.
#[derive(Debug)]
pub enum Report {
    /// A pane's action: its commands (if any command does it) and its answer.
    Action {
        id: u64,
        equiv: Option<Equivalent>,
        done: Box<Msg>,
    },
    /// A typed (or replayed) command.
    Typed(Box<typed::Outcome>),
}

/// A journal script being replayed, one step at a time.
#[derive(Debug, Clone)]
pub struct Replay {
    pub file: PathBuf,
    pub steps: Vec<Step>,
    /// The next step to run.
    pub next: usize,
    /// A step is running.
    pub running: bool,
    /// What the last step did.
    pub last: Option<String>,
}

impl Replay {
    /// Read the script at `path`.
    pub fn load(path: &Path) -> Result<Replay, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let steps = journal::parse_script(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        if steps.is_empty() {
            return Err(format!("{} has no command to replay", path.display()));
        }
        Ok(Replay {
            file: path.to_path_buf(),
            steps,
            next: 0,
            running: false,
            last: None,
        })
    }

    /// The strip's line: `replay 3/10: wharf network create lab`.
    pub fn status(&self) -> String {
        let name = self
            .file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match self.steps.get(self.next) {
            _ if self.running => format!(
                "replay {name} {}/{}: running {}…",
                self.next + 1,
                self.steps.len(),
                shell_line(&self.steps[self.next].words)
            ),
            Some(s) => format!(
                "replay {name} {}/{}: {}",
                self.next + 1,
                self.steps.len(),
                shell_line(&s.words)
            ),
            None => format!("replay {name}: all {} steps done", self.steps.len()),
        }
    }
}

/// The teaching mode's state in the console.
#[derive(Debug)]
pub struct Teach {
    /// The console's own calls (none in tests without an engine wrapper).
    pub tracer: Option<Tracer>,
    /// Where this session's journal goes.
    pub journal_dir: Option<PathBuf>,
    journal_file: Option<PathBuf>,
    /// Steps written to the journal.
    pub journaled: usize,
    /// The admin previewing another user with `--as`.
    pub preview_by: Option<String>,
    /// The engine is a `wharf serve` (the server's trace is read too, for an admin).
    pub remote: bool,
    /// The last lesson, for the strip.
    pub last: Option<Lesson>,
    /// Show the strip.
    pub strip: bool,
    next_id: u64,
    /// Text to put on the terminal's clipboard before the next frame.
    pub clipboard: Option<String>,
    /// A typed command waiting for the terminal.
    pub terminal: Option<typed::Terminal>,
    pub replay: Option<Replay>,
}

impl Default for Teach {
    fn default() -> Self {
        Teach {
            tracer: None,
            journal_dir: None,
            journal_file: None,
            journaled: 0,
            preview_by: None,
            remote: false,
            last: None,
            strip: true,
            next_id: 1,
            clipboard: None,
            terminal: None,
            replay: None,
        }
    }
}

impl Teach {
    /// A new action's id.
    pub fn next_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// The steps the engine reported for action `id`, and whether it changed anything.
    fn steps_of(&self, id: u64) -> (Vec<String>, Option<bool>) {
        let Some(t) = &self.tracer else {
            return (Vec::new(), None);
        };
        let mine: Vec<TraceEntry> = t
            .since(0)
            .into_iter()
            .filter(|e| e.action == Some(id))
            .collect();
        let steps = mine.iter().flat_map(|e| e.steps.iter().cloned()).collect();
        (steps, Some(mine.iter().any(|e| e.mutating && e.ok)))
    }

    /// This session's journal file.
    pub fn journal_file(&mut self) -> Option<PathBuf> {
        if self.journal_file.is_none() {
            self.journal_file = self.journal_dir.as_deref().map(journal::new_session);
        }
        self.journal_file.clone()
    }
}

/// Base64 (standard alphabet, padded), for OSC 52.
pub fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        out.push(A[(n >> 18) as usize & 63] as char);
        out.push(A[(n >> 12) as usize & 63] as char);
        out.push(if c.len() > 1 {
            A[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if c.len() > 2 {
            A[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

/// The OSC 52 sequence that puts `text` on the terminal's clipboard (tmux and most
/// terminals take it, over SSH too).
pub fn osc52(text: &str) -> String {
    format!("\x1b]52;c;{}\x07", base64(text.as_bytes()))
}

/// Follow `tracer` on a thread, feeding the trace pane.
pub fn follow_local(tracer: Tracer, tx: tokio::sync::mpsc::UnboundedSender<Msg>) {
    std::thread::spawn(move || {
        let opts = TraceOptions {
            follow: true,
            ..Default::default()
        };
        let feed = |f: TraceFeed| {
            tx.send(Msg::Pane {
                to: super::panes::trace::INFO.context,
                msg: PaneMsg::new(f),
            })
            .is_ok()
        };
        tracer.follow(
            &opts,
            // The trace pane's own reading is not shown (the console reads the server's
            // trace through the engine too).
            &|e| e.method != "trace",
            &mut |e| feed(TraceFeed::Entry(Box::new(e))),
            &|| !tx.is_closed(),
        );
    });
}

impl App {
    /// Start the teaching mode's followers: the console's own trace, and for an admin on
    /// a `wharf serve` every client's.
    pub fn start_teaching(&mut self) {
        if let Some(t) = self.teach.tracer.clone() {
            follow_local(t, self.worker.tx.clone());
        }
        let admin = self
            .role
            .as_ref()
            .is_some_and(|r| r.allows(wharf_engine::policy::Action::AuditTrace));
        if self.teach.remote && admin {
            self.worker.stream(|e, c, tx| {
                let opts = TraceOptions {
                    all: true,
                    follow: true,
                    since: None,
                };
                let to = super::panes::trace::INFO.context;
                let r = e.trace(c, &opts, &mut |mut en| {
                    en.source = format!("{} (server)", en.source);
                    tx.send(Msg::Pane {
                        to,
                        msg: PaneMsg::new(TraceFeed::Entry(Box::new(en))),
                    })
                    .is_ok()
                });
                let why = match r {
                    Ok(()) => "the server's trace ended".to_string(),
                    Err(err) => format!("the server's trace: {err}"),
                };
                let _ = tx.send(Msg::Pane {
                    to,
                    msg: PaneMsg::new(TraceFeed::Ended(why)),
                });
            });
        }
    }

    /// Perform an engine call as an action of the teaching mode: its calls are traced
    /// under a new action id, and its report brings the commands that do the same.
    pub fn perform_taught(&mut self, call: super::api::Call) {
        if let Some(b) = call.busy() {
            self.note = Some(Notification {
                level: Level::Info,
                text: b,
                details: None,
            });
        }
        let id = self.teach.next_id();
        let equiv = equiv::of(&call);
        let tx = self.worker.tx.clone();
        self.worker.run(move |e, c| {
            let done = wharf_engine::trace::with_action(id, || {
                call.perform(e, c, &mut |text| {
                    let _ = tx.send(Msg::Progress { text });
                })
            });
            Msg::Teach(Report::Action {
                id,
                equiv,
                done: Box::new(done),
            })
        });
    }

    /// A report of the teaching mode.
    pub fn taught(&mut self, r: Report) {
        match r {
            Report::Action { id, equiv, done } => {
                let (ok, outcome) = match done.as_ref() {
                    Msg::Done { note, .. } => (note.level != Level::Error, note.text.clone()),
                    Msg::Show { title, .. } => (true, title.clone()),
                    _ => (true, String::new()),
                };
                self.handle_msg(*done);
                if let Some(equiv) = equiv {
                    self.learn(id, equiv, ok, outcome);
                }
            }
            Report::Typed(o) => self.typed_done(*o),
        }
    }

    /// Keep what action `id` taught: the strip, the notification's details, the trace
    /// pane, the journal.
    fn learn(&mut self, id: u64, equiv: Equivalent, ok: bool, outcome: String) {
        let (steps, mutating) = self.teach.steps_of(id);
        let lesson = Lesson {
            id,
            time_nano: wharf_engine::trace::now_nano(),
            equiv,
            outcome,
            ok,
            steps,
            mutating: mutating.unwrap_or(true),
        };
        if let Some(n) = &mut self.note {
            let more = lesson.text();
            n.details = Some(match n.details.take() {
                Some(d) if !d.is_empty() && !more.contains(d.trim()) => format!("{more}\n{d}"),
                _ => more,
            });
        }
        if ok && lesson.mutating {
            self.journal(&lesson);
        }
        self.teach.last = Some(lesson.clone());
        let to = super::panes::trace::INFO.context;
        self.handle_msg(Msg::Pane {
            to,
            msg: PaneMsg::new(TraceFeed::Lesson(Box::new(lesson))),
        });
    }

    /// Append a lesson to the session journal.
    fn journal(&mut self, l: &Lesson) {
        let Some(file) = self.teach.journal_file() else {
            return;
        };
        let e = journal::Entry {
            time_nano: l.time_nano,
            who: self.worker.caller.label(),
            wharf: l.equiv.wharf.clone(),
            docker: l.equiv.docker.clone(),
            outcome: l.outcome.clone(),
            steps: l.steps.clone(),
        };
        match journal::append(&file, &e) {
            Ok(()) => self.teach.journaled += 1,
            Err(err) => tracing::warn!("the session journal: {err}"),
        }
    }

    /// `:` with a line that is no pane's command: a wharf command. `Err` keeps the
    /// prompt open with the reason.
    pub fn run_typed(&mut self, line: &str, replay: bool) -> Result<(), String> {
        let p = typed::parse(line)?;
        let id = self.teach.next_id();
        match p.plan {
            typed::Plan::Help(text) => {
                self.overlay = Overlay::Message {
                    title: format!("wharf {}", shell_line(&p.words)),
                    body: text,
                };
            }
            typed::Plan::Terminal(cmd) => {
                self.teach.terminal = Some(typed::Terminal {
                    id,
                    words: p.words,
                    cmd,
                    replay,
                });
            }
            typed::Plan::Captured(cmd) => {
                self.note = Some(Notification {
                    level: Level::Info,
                    text: format!("running wharf {}…", shell_line(&p.words)),
                    details: None,
                });
                let words = p.words;
                // The console's engine, as the CLI's context holds it.
                let engine = self.worker.engine.clone();
                self.worker.run(move |_, c| {
                    let (code, got) = typed::run_captured(engine, c.clone(), *cmd, id);
                    Msg::Teach(Report::Typed(Box::new(typed::Outcome {
                        id,
                        words,
                        code,
                        out: String::from_utf8_lossy(&got.out).into_owned(),
                        err: String::from_utf8_lossy(&got.err).into_owned(),
                        asked: got.asked,
                        replay,
                        on_terminal: false,
                    })))
                });
            }
        }
        Ok(())
    }

    /// A typed command ended: the lists, its output, its lesson, the replay.
    pub fn typed_done(&mut self, o: typed::Outcome) {
        let mut note = typed::note(&o);
        if o.asked {
            let hint = "the console cannot answer questions: give the command its -f (force) flag to run it without asking";
            note.level = Level::Warn;
            note.text = format!("{}: {hint}", note.text);
            note.details = Some(format!(
                "{}\n\n{hint}",
                note.details.clone().unwrap_or_default()
            ));
        }
        let ok = o.code == 0 && !o.asked;
        self.handle_msg(Msg::Done {
            note: note.clone(),
            refresh: Lists::ALL,
        });
        let shown = [o.out.trim_end(), o.err.trim_end()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join("\n");
        if !o.replay && !o.on_terminal && (!shown.is_empty() || !ok) {
            self.overlay = Overlay::Message {
                title: format!(
                    "$ wharf {}{}",
                    shell_line(&o.words),
                    if o.code == 0 {
                        String::new()
                    } else {
                        format!(" (exit code {})", o.code)
                    }
                ),
                body: note.details.clone().unwrap_or_else(|| "(no output)".into()),
            };
        }
        self.learn(o.id, Equivalent::typed(&o.words), ok, note.text.clone());
        if o.replay {
            if let Some(r) = &mut self.teach.replay {
                r.running = false;
                r.last = Some(note.text.clone());
                if ok {
                    r.next += 1;
                }
            }
        }
    }

    /// A console with a typed command waiting for the terminal: run it there.
    pub fn take_terminal(&mut self) -> Option<typed::Terminal> {
        self.teach.terminal.take()
    }

    /// The teaching mode's keys; `false` when `a` is not one.
    pub fn teach_act(&mut self, a: Action) -> bool {
        match a {
            COPY_COMMAND | COPY_DOCKER => {
                let text = self.teach.last.as_ref().and_then(|l| {
                    if a == COPY_COMMAND {
                        Some(l.wharf_line())
                    } else {
                        l.docker_line()
                    }
                });
                match text {
                    Some(t) => self.copy(t),
                    None => self.note_text(Level::Warn, "no command to copy yet: act first"),
                }
            }
            TEACH_TOGGLE => {
                self.teach.strip = !self.teach.strip;
                let s = if self.teach.strip {
                    "teaching strip on: each action shows its commands and the engine's steps"
                } else {
                    "teaching strip off (T shows it again)"
                };
                self.note_text(Level::Info, s);
            }
            REPLAY_NEXT | REPLAY_SKIP => self.replay_step(a == REPLAY_NEXT),
            JOURNAL_EXPORT => self.export_journal(),
            _ => return false,
        }
        true
    }

    fn note_text(&mut self, level: Level, text: &str) {
        self.note = Some(Notification {
            level,
            text: text.to_string(),
            details: None,
        });
    }

    /// Put `text` on the terminal's clipboard.
    pub fn copy(&mut self, text: String) {
        self.note_text(Level::Ok, &format!("copied: {text}"));
        self.teach.clipboard = Some(text);
    }

    fn replay_step(&mut self, run: bool) {
        let Some(r) = &mut self.teach.replay else {
            return self.note_text(
                Level::Warn,
                "no journal is being replayed: wharf journal replay FILE",
            );
        };
        if r.running {
            return;
        }
        let Some(step) = r.steps.get(r.next).cloned() else {
            let s = r.status();
            return self.note_text(Level::Info, &s);
        };
        if !run {
            r.next += 1;
            let t = format!("skipped: {}", shell_line(&step.words));
            return self.note_text(Level::Info, &t);
        }
        if step.words.first().map(String::as_str) != Some("wharf") {
            r.next += 1;
            let t = format!(
                "skipped line {}: {} is not a wharf command",
                step.line,
                shell_line(&step.words)
            );
            return self.note_text(Level::Warn, &t);
        }
        r.running = true;
        let line = shell_line(&step.words);
        if let Err(e) = self.run_typed(&line, true) {
            if let Some(r) = &mut self.teach.replay {
                r.running = false;
            }
            self.note_text(Level::Error, &format!("step {}: {e}", step.line));
        }
    }

    /// Write this session's journal as a script next to it; say where.
    fn export_journal(&mut self) {
        let Some(file) = self.teach.journal_file() else {
            return self.note_text(Level::Warn, "this console keeps no journal");
        };
        if self.teach.journaled == 0 {
            return self.note_text(
                Level::Warn,
                "nothing to export yet: the journal keeps the actions that changed something",
            );
        }
        let name = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let res = journal::read(&file).and_then(|entries| {
            let out = file.with_extension("sh");
            std::fs::write(&out, journal::script(&name, &entries))
                .map(|()| (out, entries.len()))
                .map_err(|e| {
                    wharf_engine::EngineError::io(format!("writing {}", file.display()), e)
                })
        });
        match res {
            Ok((out, n)) => {
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o755));
                self.note = Some(Notification {
                    level: Level::Ok,
                    text: format!("exported {n} steps to {}", out.display()),
                    details: Some(format!(
                        "{}\n\nReplay it with: wharf journal replay {}",
                        out.display(),
                        out.display()
                    )),
                });
            }
            Err(e) => self.note_text(Level::Error, &format!("cannot export the journal: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_as_the_rfc_says() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
        assert_eq!(osc52("hi"), "\x1b]52;c;aGk=\x07");
    }
}
