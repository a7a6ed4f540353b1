//! Inspect, a layer over any pane: the selected object's JSON as a tree that folds and
//! searches. Panes open it with [`Message::Inspect`]; Esc closes it.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::Frame;
use serde_json::Value;
use wharf_views::footer::Level;
use wharf_views::inspect::{self, InspectState};
use wharf_views::Load;

use super::{Ctx, Pane, PaneInfo, View};
use crate::console::actions::{self, Action};
use crate::console::api;
use crate::console::msg::{Ask, Effect, Message, PaneMsg};

pub const FOLD_TOGGLE: Action = Action::new("fold-toggle", "fold or unfold the node").short("fold");
pub const FOLD_ALL: Action = Action::new("fold-all", "fold every node").short("fold all");
pub const UNFOLD_ALL: Action = Action::new("unfold-all", "unfold every node").short("unfold all");

pub static INFO: PaneInfo = PaneInfo {
    title: "Inspect",
    short: "Inspect",
    context: "inspect",
    commands: &[],
    takes_container: false,
    actions: &[
        FOLD_TOGGLE,
        actions::SEARCH,
        actions::NEXT_MATCH,
        FOLD_ALL,
        UNFOLD_ALL,
        actions::PREV_MATCH,
    ],
    make: || Box::new(Inspect::default()),
};

/// What the layer gets back.
enum Answer {
    Inspected {
        gen: u64,
        json: Result<Value, String>,
    },
    Search(String),
}

/// The inspect layer.
#[derive(Debug, Default)]
pub struct Inspect {
    state: Option<InspectState>,
    /// Answers for an object no longer shown are dropped.
    gen: u64,
}

impl Inspect {
    /// Is it over the pane?
    pub fn is_open(&self) -> bool {
        self.state.is_some()
    }

    /// Close it.
    pub fn close(&mut self) {
        self.state = None;
    }
}

impl Pane for Inspect {
    fn info(&self) -> &'static PaneInfo {
        &INFO
    }

    fn act(&mut self, a: Action, cx: &mut Ctx) -> bool {
        if a == actions::BACK {
            self.close();
            return true;
        }
        let Some(i) = self.state.as_mut() else {
            return false;
        };
        let n = i.lines().len();
        match a {
            actions::UP => i.cursor.step(-1, n),
            actions::DOWN => i.cursor.step(1, n),
            actions::PAGE_UP => i.cursor.step(-cx.page, n),
            actions::PAGE_DOWN => i.cursor.step(cx.page, n),
            actions::TOP => i.cursor.top(),
            actions::BOTTOM => i.cursor.bottom(n),
            actions::DETAILS | FOLD_TOGGLE => i.toggle(),
            FOLD_ALL => i.fold_all(),
            UNFOLD_ALL => i.unfold_all(),
            actions::SEARCH | actions::FILTER => cx.emit(Effect::Ask(Ask {
                title: "search".into(),
                label: "find:".into(),
                value: i.search.clone(),
                check: Box::new(|_| None),
                then: Box::new(|v| Effect::ToPane {
                    to: INFO.context,
                    msg: PaneMsg::new(Answer::Search(v)),
                }),
            })),
            actions::NEXT_MATCH | actions::PREV_MATCH => {
                if !i.find(a == actions::NEXT_MATCH) {
                    cx.emit(Effect::note(Level::Info, "no match"));
                }
            }
            _ => return false,
        }
        true
    }

    fn receive(&mut self, m: &Message, cx: &mut Ctx) -> bool {
        let Message::Inspect { kind, id, title } = m else {
            return false;
        };
        self.gen += 1;
        let gen = self.gen;
        self.state = Some(InspectState::new(title));
        let (kind, id) = (*kind, id.clone());
        cx.ask(INFO.context, move |e, c| Answer::Inspected {
            gen,
            json: api::inspect(e, c, kind, &id),
        });
        true
    }

    fn answer(&mut self, m: PaneMsg, cx: &mut Ctx) {
        let Some(a) = m.take::<Answer>() else { return };
        let Some(i) = self.state.as_mut() else { return };
        match a {
            Answer::Inspected { gen, json } if gen == self.gen => {
                i.set(json.map(Load::Ready).unwrap_or_else(Load::Error))
            }
            Answer::Inspected { .. } => {}
            Answer::Search(v) => {
                i.search = v.clone();
                if !i.find(true) && !v.is_empty() {
                    cx.emit(Effect::note(Level::Info, format!("nothing matches {v:?}")));
                }
            }
        }
    }

    fn draw(&mut self, f: &mut Frame, body: Rect, v: &View) {
        let Some(ins) = self.state.as_mut() else {
            return;
        };
        let title = Rect { height: 1, ..body };
        let rest = Rect {
            y: body.y + 1,
            height: body.height - 1,
            ..body
        };
        f.render_widget(
            Line::from(vec![
                Span::styled(format!(" inspect {}", ins.title), v.theme.accent()),
                Span::styled("  · Esc back", v.theme.dim()),
            ]),
            title,
        );
        inspect::draw(f, rest, v.theme, ins);
    }
}
