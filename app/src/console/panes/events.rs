//! The events pane: the engine's event stream (the last hour, then live), followed
//! unless paused, with its own `/` filter; enter shows an event in full.

use ratatui::layout::Rect;
use ratatui::Frame;
use wharf_engine::events::Event;

use super::{Ctx, ListState, Pane, PaneInfo, View};
use crate::console::actions::{self, Action};
use crate::console::msg::Effect;
use crate::console::store::Store;

pub const PAUSE: Action = Action::new(
    "pause-toggle-events",
    "stop following new events, or follow again",
)
.short("pause");

pub static INFO: PaneInfo = PaneInfo {
    title: "Events",
    short: "Events",
    context: "events",
    commands: &["events", "ev"],
    takes_container: false,
    actions: &[PAUSE],
    make: || Box::new(Events::default()),
};

/// The events pane.
#[derive(Debug, Default)]
pub struct Events {
    list: ListState,
    paused: bool,
}

impl Events {
    /// Events shown, oldest first.
    pub fn visible<'s>(&self, store: &'s Store) -> Vec<&'s Event> {
        store
            .events
            .iter()
            .filter(|e| {
                let name = wharf_views::events::object(e);
                self.list.filter.matches(
                    &[e.kind.as_str(), &e.action, &name, &e.actor.id],
                    &e.actor.attributes,
                )
            })
            .collect()
    }
}

impl Pane for Events {
    fn info(&self) -> &'static PaneInfo {
        &INFO
    }

    fn act(&mut self, a: Action, cx: &mut Ctx) -> bool {
        // Looking back stops following (the list moves as any list).
        if matches!(a, actions::UP | actions::PAGE_UP | actions::TOP) {
            self.paused = true;
            return false;
        }
        let evs = self.visible(cx.store);
        match a {
            PAUSE => self.paused = !self.paused,
            actions::DETAILS => {
                if let Some(ev) = evs.get(self.list.cursor.selected) {
                    cx.emit(Effect::Show {
                        title: format!("event {} {}", ev.kind.as_str(), ev.action),
                        body: serde_json::to_string_pretty(ev).unwrap_or_default(),
                    });
                }
            }
            _ => return false,
        }
        true
    }

    fn list(&mut self) -> Option<&mut ListState> {
        Some(&mut self.list)
    }

    fn len(&self, store: &Store) -> usize {
        self.visible(store).len()
    }

    fn status(&self, _store: &Store) -> String {
        let s = if self.paused { "paused" } else { "following" };
        s.to_string() + &self.list.filter_status()
    }

    fn click(&mut self, _col: u16, row: u16, area: Rect, cx: &mut Ctx) {
        self.paused = true;
        let n = self.visible(cx.store).len();
        self.list.click(row, area, n);
    }

    fn draw(&mut self, f: &mut Frame, area: Rect, v: &View) {
        let evs = self.visible(v.store);
        let m = wharf_views::events::Model {
            load: &v.store.events_load,
            events: &evs,
            paused: self.paused,
            filter: &self.list.filter_text,
            tz: chrono::Local::now().offset().local_minus_utc(),
            focused: v.focused,
        };
        wharf_views::events::draw(f, area, v.theme, &m, &mut self.list.cursor);
    }
}
