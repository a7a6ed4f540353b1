//! The stats pane: the running containers' latest samples (by name, with its own `/`
//! filter) and charts of the selected one's history.

use std::collections::BTreeMap;

use ratatui::layout::Rect;
use ratatui::Frame;
use wharf_engine::api::StatsPoint;
use wharf_views::stats;

use super::{Ctx, ListState, Pane, PaneInfo, View};
use crate::console::actions::Action;
use crate::console::store::Store;

pub static INFO: PaneInfo = PaneInfo {
    title: "Stats",
    short: "Stats",
    context: "stats",
    commands: &["stats"],
    takes_container: false,
    actions: &[],
    make: || Box::new(Stats::default()),
};

/// The stats pane.
#[derive(Debug, Default)]
pub struct Stats {
    list: ListState,
}

impl Stats {
    /// Running containers with a sample, by name: (id, name, sample).
    pub fn rows<'s>(&self, store: &'s Store) -> Vec<(&'s str, &'s str, StatsPoint)> {
        let none = BTreeMap::new();
        let mut v: Vec<_> = store
            .containers
            .items
            .iter()
            .filter(|c| self.list.filter.matches(&[&c.name, &c.image, &c.id], &none))
            .filter_map(|c| {
                store
                    .stats
                    .get(&c.id)
                    .map(|p| (c.id.as_str(), c.name.as_str(), *p))
            })
            .collect();
        v.sort_by(|a, b| a.1.cmp(b.1));
        v
    }
}

impl Pane for Stats {
    fn info(&self) -> &'static PaneInfo {
        &INFO
    }

    fn act(&mut self, _a: Action, _cx: &mut Ctx) -> bool {
        false
    }

    fn list(&mut self) -> Option<&mut ListState> {
        Some(&mut self.list)
    }

    fn len(&self, store: &Store) -> usize {
        self.rows(store).len()
    }

    fn status(&self, store: &Store) -> String {
        format!("{} running", store.stats.len()) + &self.list.filter_status()
    }

    fn draw(&mut self, f: &mut Frame, area: Rect, v: &View) {
        let rows = self.rows(v.store);
        let history: Vec<StatsPoint> = rows
            .get(self.list.cursor.selected)
            .and_then(|(id, _, _)| v.store.history.get(*id))
            .map(|h| h.iter().copied().collect())
            .unwrap_or_default();
        let rows: Vec<(&str, StatsPoint)> = rows.iter().map(|(_, name, p)| (*name, *p)).collect();
        let m = stats::Model {
            load: &v.store.stats_load,
            rows: &rows,
            history: &history,
            focused: v.focused,
        };
        stats::draw(f, area, v.theme, &m, &mut self.list.cursor);
    }
}
