//! The hosts pane: every host of the console with its state, engine kind, version and
//! latency; Enter switches to the selected host, `a` shows all of them at once (the
//! fleet view).

use ratatui::layout::Rect;
use ratatui::Frame;

use super::{Ctx, ListState, Pane, PaneInfo, View};
use crate::console::actions::{self, Action};
use crate::console::msg::Effect;
use crate::console::store::Store;

pub const FLEET: Action = Action::new(
    "fleet-toggle",
    "show all hosts at once (the fleet view), or only the current one",
)
.short("all hosts");

pub static INFO: PaneInfo = PaneInfo {
    title: "Hosts",
    short: "Host",
    context: "hosts",
    commands: &["hosts"],
    takes_container: false,
    actions: &[actions::DETAILS, FLEET],
    make: || Box::new(Hosts::default()),
};

/// The hosts pane.
#[derive(Debug, Default)]
pub struct Hosts {
    list: ListState,
}

impl Hosts {
    fn visible<'s>(&self, store: &'s Store) -> Vec<&'s wharf_views::hosts::HostRow> {
        store
            .fleet_hosts
            .iter()
            .filter(|h| {
                self.list.filter.matches_on(
                    &[&h.name, &h.engine, &h.state, &h.url],
                    &Default::default(),
                    &[],
                )
            })
            .collect()
    }
}

impl Pane for Hosts {
    fn info(&self) -> &'static PaneInfo {
        &INFO
    }

    fn act(&mut self, a: Action, cx: &mut Ctx) -> bool {
        match a {
            actions::DETAILS => {
                if let Some(h) = self.visible(cx.store).get(self.list.cursor.selected) {
                    cx.emit(Effect::Host(h.name.clone()));
                }
            }
            FLEET => {
                let target = if cx.store.fleet_view {
                    cx.store
                        .fleet_hosts
                        .iter()
                        .find(|h| h.current)
                        .map(|h| h.name.clone())
                        .unwrap_or_else(|| "local".into())
                } else {
                    "all".into()
                };
                cx.emit(Effect::Host(target));
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

    fn status(&self, store: &Store) -> String {
        let up = store.fleet_hosts.iter().filter(|h| h.up).count();
        let mut s = format!("{up} of {} up", store.fleet_hosts.len());
        if store.fleet_view {
            s.push_str(" · fleet view");
        }
        s + &self.list.filter_status()
    }

    fn sync(&mut self, cx: &mut Ctx, _shown: bool) -> bool {
        let n = self.visible(cx.store).len();
        if self.list.cursor.selected >= n && n > 0 {
            self.list.cursor.selected = n - 1;
        }
        false
    }

    fn draw(&mut self, f: &mut Frame, area: Rect, v: &View) {
        let rows: Vec<wharf_views::hosts::HostRow> =
            self.visible(v.store).into_iter().cloned().collect();
        wharf_views::hosts::draw(
            f,
            area,
            v.theme,
            &rows,
            v.store.fleet_view,
            &mut self.list.cursor,
            v.focused,
        );
    }
}
