//! The logs pane: one container's log, followed, with search, wrap, timestamps, a
//! stdout/stderr filter, and saving to a file. Other panes open it with
//! [`Message::OpenLogs`]; `:logs NAME` too.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ratatui::layout::Rect;
use ratatui::Frame;
use wharf_engine::api::LogLine;
use wharf_views::footer::Level;
use wharf_views::logs::{self, LogsState};
use wharf_views::Load;

use super::{Ctx, Pane, PaneInfo, View};
use crate::console::actions::{self, Action};
use crate::console::api::{self, Call};
use crate::console::msg::{Ask, Check, Effect, Message, Msg, PaneMsg};
use crate::console::store::Store;

pub const FOLLOW: Action =
    Action::new("follow-toggle", "follow new lines, or stop").short("follow");
pub const WRAP: Action = Action::new("wrap-toggle", "wrap long lines").short("wrap");
pub const TIMESTAMPS: Action = Action::new("timestamps-toggle", "show timestamps").short("time");
pub const STREAMS: Action =
    Action::new("stream-cycle", "stdout+stderr → stdout → stderr").short("streams");
pub const SAVE: Action = Action::new("save", "save the log (as filtered) to a file");

pub static INFO: PaneInfo = PaneInfo {
    title: "Logs",
    short: "Logs",
    context: "logs",
    commands: &["logs"],
    takes_container: true,
    actions: &[
        FOLLOW,
        actions::SEARCH,
        actions::NEXT_MATCH,
        WRAP,
        TIMESTAMPS,
        STREAMS,
        SAVE,
        actions::PREV_MATCH,
    ],
    make: || Box::new(Logs::default()),
};

/// What the pane gets back: lines of the log it follows, a search, a file name.
enum Answer {
    Line {
        gen: u64,
        line: LogLine,
    },
    End {
        gen: u64,
        result: Result<(), String>,
    },
    Search(String),
    SaveTo(String),
}

/// The logs pane.
#[derive(Debug, Default)]
pub struct Logs {
    log: Option<LogsState>,
    /// Bumped when another log opens: the old follower stops.
    gen: Arc<AtomicU64>,
    /// The containers list revision last seen.
    seen_rev: u64,
}

impl Logs {
    /// Follow a container's log from its last lines on a thread, until another opens.
    fn open(&mut self, cx: &mut Ctx, id: &str, name: &str) {
        let gen = self.gen.fetch_add(1, Ordering::SeqCst) + 1;
        self.log = Some(LogsState::new(id, name));
        let counter = self.gen.clone();
        let id = id.to_string();
        cx.worker.stream(move |e, c, tx| {
            let send = |a: Answer| {
                tx.send(Msg::Pane {
                    to: INFO.context,
                    msg: PaneMsg::new(a),
                })
                .is_ok()
            };
            let r = api::container_logs(e, c, &id, true, logs::DEFAULT_CAP, &mut |line| {
                counter.load(Ordering::SeqCst) == gen && send(Answer::Line { gen, line })
            });
            send(Answer::End { gen, result: r });
        });
        cx.emit(Effect::Focus(INFO.context));
    }

    fn ask(
        &self,
        cx: &mut Ctx,
        title: String,
        label: &str,
        value: String,
        then: fn(String) -> Answer,
    ) {
        let check: Check = if label == "file:" {
            Box::new(|v| {
                (v.trim().is_empty() || v.contains(char::is_whitespace))
                    .then(|| "no spaces, please".to_string())
            })
        } else {
            Box::new(|_| None)
        };
        cx.emit(Effect::Ask(Ask {
            title,
            label: label.into(),
            value,
            check,
            then: Box::new(move |v| Effect::ToPane {
                to: INFO.context,
                msg: PaneMsg::new(then(v)),
            }),
        }));
    }
}

impl Pane for Logs {
    fn info(&self) -> &'static PaneInfo {
        &INFO
    }

    fn act(&mut self, a: Action, cx: &mut Ctx) -> bool {
        if a == actions::BACK {
            cx.emit(Effect::Focus(super::containers::INFO.context));
            return true;
        }
        let page = cx.page;
        let Some(l) = self.log.as_mut() else {
            return false;
        };
        match a {
            actions::UP => l.scroll(-1),
            actions::DOWN => l.scroll(1),
            actions::PAGE_UP => l.scroll(-page),
            actions::PAGE_DOWN => l.scroll(page),
            actions::TOP => l.go_top(),
            actions::BOTTOM => l.go_bottom(),
            FOLLOW => {
                if l.follow {
                    // Stay where the last line is, then stop following.
                    l.scroll(-1);
                    l.scroll(1);
                    l.follow = false;
                } else {
                    l.go_bottom();
                }
            }
            WRAP => l.wrap = !l.wrap,
            TIMESTAMPS => l.timestamps = !l.timestamps,
            STREAMS => l.streams = l.streams.next(),
            actions::SEARCH | actions::FILTER => {
                let cur = l.search.clone();
                self.ask(cx, "search".into(), "find:", cur, Answer::Search);
            }
            actions::NEXT_MATCH | actions::PREV_MATCH => {
                if !l.find(a == actions::NEXT_MATCH) {
                    cx.emit(Effect::note(Level::Info, "no match"));
                }
            }
            SAVE => {
                let file = format!(
                    "{}-{}.log",
                    l.name,
                    chrono::Local::now().format("%Y%m%d-%H%M%S")
                );
                let title = format!("save the log of {}", l.name);
                self.ask(cx, title, "file:", file, Answer::SaveTo);
            }
            _ => return false,
        }
        true
    }

    fn receive(&mut self, m: &Message, cx: &mut Ctx) -> bool {
        match m {
            Message::OpenLogs { id, name } => {
                self.open(cx, id, name);
                true
            }
            _ => false,
        }
    }

    fn answer(&mut self, m: PaneMsg, cx: &mut Ctx) {
        let Some(a) = m.take::<Answer>() else { return };
        let now = self.gen.load(Ordering::SeqCst);
        let Some(l) = self.log.as_mut() else { return };
        match a {
            Answer::Line { gen, line } if gen == now => {
                l.load = Load::Ready(());
                l.push(line);
            }
            Answer::End { gen, result } if gen == now => match result {
                Ok(()) => {
                    l.load = Load::Ready(());
                    l.ended = Some("end of log".into());
                }
                Err(e) => {
                    l.ended = Some(e.clone());
                    l.load = Load::Error(e);
                }
            },
            Answer::Search(v) => {
                if !l.set_search(&v) && !v.is_empty() {
                    cx.emit(Effect::note(Level::Info, format!("no line matches {v:?}")));
                }
            }
            Answer::SaveTo(path) => cx.emit(Effect::Call(Call::SaveLog {
                path,
                text: l.export(),
                lines: l.len(),
            })),
            Answer::Line { .. } | Answer::End { .. } => {}
        }
    }

    fn command_action(&self, arg: &str) -> Option<Action> {
        (!arg.is_empty()).then_some(super::containers::LOGS)
    }

    /// `:logs NAME`.
    fn command(&mut self, arg: &str, cx: &mut Ctx) -> Result<(), String> {
        if arg.is_empty() {
            return Ok(());
        }
        let c = cx
            .store
            .find_container(arg)
            .ok_or_else(|| format!("no container {arg:?}"))?;
        let (id, name) = (c.id.clone(), c.name.clone());
        self.open(cx, &id, &name);
        Ok(())
    }

    fn status(&self, _store: &Store) -> String {
        self.log.as_ref().map(|l| l.status()).unwrap_or_default()
    }

    /// A renamed container's log shows its new name.
    fn sync(&mut self, cx: &mut Ctx, _shown: bool) -> bool {
        let Some(l) = self.log.as_mut() else {
            return false;
        };
        if std::mem::replace(&mut self.seen_rev, cx.store.containers.rev) == self.seen_rev {
            return false;
        }
        match cx.store.containers.items.iter().find(|c| c.id == l.id) {
            Some(c) if c.name != l.name => {
                l.name = c.name.clone();
                true
            }
            _ => false,
        }
    }

    fn draw(&mut self, f: &mut Frame, area: Rect, v: &View) {
        match &self.log {
            Some(l) => logs::draw(f, area, v.theme, l),
            None => {
                let k = v
                    .keymap
                    .keys_for(&[super::containers::INFO.context], super::containers::LOGS)
                    .unwrap_or_else(|| "l".into());
                wharf_views::table::draw_message(
                    f.buffer_mut(),
                    area,
                    &[
                        ("No log open.".into(), v.theme.text()),
                        (
                            format!("Select a container and press {k}, or type :logs NAME"),
                            v.theme.accent(),
                        ),
                    ],
                )
            }
        }
    }
}
