//! The API trace pane (`:trace`): every engine call the console makes, live (and for an
//! admin on a `wharf serve`, every client's), with the actions they were for as the
//! `wharf` command that does the same. By default the calls that change something;
//! `a` shows reads too, `e` only failures, `/` filters by method, caller or result;
//! enter shows a call's whole request and answer as JSON; `y` copies a row's command;
//! `x` exports the session as a script.

use std::collections::VecDeque;

use ratatui::layout::Rect;
use ratatui::Frame;
use wharf_engine::trace::TraceEntry;
use wharf_views::trace::TraceRow;

use super::{Ctx, ListState, Pane, PaneInfo, View};
use crate::console::actions::{self, Action};
use crate::console::filter::Filter;
use crate::console::msg::{Effect, PaneMsg};
use crate::console::store::Store;
use crate::console::teach::{Lesson, TraceFeed, JOURNAL_EXPORT};

pub const PAUSE: Action = Action::new(
    "pause-toggle-trace",
    "stop following new calls, or follow again",
)
.short("pause");
pub const ERRORS: Action =
    Action::new("errors-toggle", "only the calls that failed, or all again").short("errors");
pub const READS: Action = Action::new(
    "reads-toggle",
    "show the calls that only read (lists, inspects, stats) too, or hide them",
)
.short("reads");
pub const COPY: Action = Action::new(
    "trace-copy",
    "copy the selected row's wharf command (or the call as JSON) to the clipboard",
)
.short("copy");

pub static INFO: PaneInfo = PaneInfo {
    title: "Trace",
    short: "Trace",
    context: "trace",
    commands: &["trace", "api"],
    takes_container: false,
    actions: &[READS, ERRORS, COPY, JOURNAL_EXPORT, PAUSE, actions::DETAILS],
    make: || Box::new(Trace::default()),
};

/// How many rows are kept.
pub const CAP: usize = 5000;

/// A row: a call, or an action between calls.
#[derive(Debug, Clone)]
enum Row {
    Call(Box<TraceEntry>),
    Lesson(Box<(Lesson, String)>),
}

/// The trace pane.
#[derive(Debug, Default)]
pub struct Trace {
    list: ListState,
    rows: VecDeque<Row>,
    paused: bool,
    reads: bool,
    errors_only: bool,
    note: Option<String>,
    changed: bool,
}

/// Does row `r` pass the pane's toggles and `/` filter?
fn passes(reads: bool, errors_only: bool, filter: &Filter, r: &Row) -> bool {
    match r {
        Row::Call(e) => {
            (reads || e.mutating || !e.ok)
                && (!errors_only || !e.ok)
                && filter.matches(
                    &[
                        &e.method,
                        &e.caller.name,
                        e.caller.role.as_str(),
                        &e.source,
                        e.http.as_ref().map(|h| h.path.as_str()).unwrap_or(""),
                        e.error.as_deref().unwrap_or(""),
                        if e.ok { "" } else { "error" },
                    ],
                    &Default::default(),
                )
        }
        Row::Lesson(l) => {
            let (l, line) = l.as_ref();
            (!errors_only || !l.ok)
                && filter.matches(&[line, &l.outcome, "action"], &Default::default())
        }
    }
}

impl Trace {
    /// Rows shown, oldest first.
    fn visible(&self) -> Vec<&Row> {
        self.rows
            .iter()
            .filter(|r| passes(self.reads, self.errors_only, &self.list.filter, r))
            .collect()
    }

    fn push(&mut self, r: Row) {
        if self.rows.len() >= CAP {
            self.rows.pop_front();
        }
        self.rows.push_back(r);
        self.changed = true;
    }

    /// A row in full, for its window.
    fn details(r: &Row) -> (String, String) {
        match r {
            Row::Call(e) => (
                format!("{} · {}", e.method, e.caller.label()),
                serde_json::to_string_pretty(e).unwrap_or_default(),
            ),
            Row::Lesson(l) => (format!("action · {}", l.1), l.0.text()),
        }
    }
}

impl Pane for Trace {
    fn info(&self) -> &'static PaneInfo {
        &INFO
    }

    fn act(&mut self, a: Action, cx: &mut Ctx) -> bool {
        if matches!(a, actions::UP | actions::PAGE_UP | actions::TOP) {
            self.paused = true;
            return false;
        }
        let sel = self
            .visible()
            .get(self.list.cursor.selected)
            .map(|r| (*r).clone());
        match a {
            PAUSE => self.paused = !self.paused,
            ERRORS => {
                self.errors_only = !self.errors_only;
                self.list.cursor.selected = 0;
            }
            READS => {
                self.reads = !self.reads;
                self.list.cursor.selected = 0;
            }
            actions::DETAILS => {
                if let Some(r) = &sel {
                    let (title, body) = Self::details(r);
                    cx.emit(Effect::Show { title, body });
                }
            }
            COPY => match &sel {
                Some(Row::Lesson(l)) => cx.emit(Effect::Copy(l.1.clone())),
                Some(Row::Call(e)) => {
                    // A call made for an action copies that action's command.
                    let of_action = e.action.and_then(|id| {
                        self.rows.iter().find_map(|r| match r {
                            Row::Lesson(l) if l.0.id == id => Some(l.1.clone()),
                            _ => None,
                        })
                    });
                    cx.emit(Effect::Copy(of_action.unwrap_or_else(|| {
                        serde_json::to_string(e).unwrap_or_default()
                    })))
                }
                None => {}
            },
            _ => return false,
        }
        true
    }

    fn answer(&mut self, m: PaneMsg, _cx: &mut Ctx) {
        match m.take::<TraceFeed>() {
            Some(TraceFeed::Entry(e)) => self.push(Row::Call(e)),
            Some(TraceFeed::Lesson(l)) => {
                let line = l.wharf_line();
                self.push(Row::Lesson(Box::new((*l, line))));
            }
            Some(TraceFeed::Ended(why)) => self.note = Some(why),
            None => {}
        }
    }

    fn sync(&mut self, _cx: &mut Ctx, shown: bool) -> bool {
        std::mem::take(&mut self.changed) && shown
    }

    fn list(&mut self) -> Option<&mut ListState> {
        Some(&mut self.list)
    }

    fn len(&self, _store: &Store) -> usize {
        self.visible().len()
    }

    fn status(&self, _store: &Store) -> String {
        let mut s = vec![if self.paused { "paused" } else { "following" }];
        if self.errors_only {
            s.push("errors only");
        } else if !self.reads {
            s.push("changes only");
        }
        s.join(" · ") + &self.list.filter_status()
    }

    fn click(&mut self, _col: u16, row: u16, area: Rect, cx: &mut Ctx) {
        self.paused = true;
        let n = self.len(cx.store);
        self.list.click(row, area, n);
    }

    fn draw(&mut self, f: &mut Frame, area: Rect, v: &View) {
        let Trace {
            list,
            rows,
            paused,
            reads,
            errors_only,
            note,
            ..
        } = self;
        let shown: Vec<TraceRow> = rows
            .iter()
            .filter(|r| passes(*reads, *errors_only, &list.filter, r))
            .map(|r| match r {
                Row::Call(e) => TraceRow::Call(e),
                Row::Lesson(l) => TraceRow::Action {
                    command: &l.1,
                    outcome: &l.0.outcome,
                    time_nano: l.0.time_nano,
                    ok: l.0.ok,
                },
            })
            .collect();
        let m = wharf_views::trace::Model {
            rows: &shown,
            paused: *paused,
            reads: *reads,
            errors_only: *errors_only,
            filter: &list.filter_text,
            tz: chrono::Local::now().offset().local_minus_utc(),
            focused: v.focused,
            note: note.as_deref(),
        };
        wharf_views::trace::draw(f, area, v.theme, &m, &mut list.cursor);
    }
}
