//! The console's own log (tui-logger): what it did and what went wrong.

use ratatui::layout::Rect;
use ratatui::Frame;

use super::{Ctx, Pane, PaneInfo, View};
use crate::console::actions::Action;

pub static INFO: PaneInfo = PaneInfo {
    title: "Console log",
    short: "Own",
    context: "console-log",
    commands: &["log"],
    takes_container: false,
    actions: &[],
    make: || Box::new(ConsoleLog),
};

/// The console's own log.
#[derive(Debug, Default)]
pub struct ConsoleLog;

impl Pane for ConsoleLog {
    fn info(&self) -> &'static PaneInfo {
        &INFO
    }

    fn act(&mut self, _a: Action, _cx: &mut Ctx) -> bool {
        false
    }

    fn draw(&mut self, f: &mut Frame, area: Rect, v: &View) {
        wharf_views::applog::draw(f, area, v.theme);
    }
}
