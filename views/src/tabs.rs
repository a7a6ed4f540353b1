//! The tab bar: numbered panes, the active one highlighted; a status text on the right
//! (row counts, the active filter).

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::Frame;

use crate::theme::Theme;
use crate::util::{fit, width};

/// The panes, in tab order (number keys 1-8 jump to them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tab {
    Containers,
    Images,
    Networks,
    Volumes,
    Stats,
    Events,
    Logs,
    ConsoleLog,
}

impl Tab {
    /// All tabs in order.
    pub const ALL: [Tab; 8] = [
        Tab::Containers,
        Tab::Images,
        Tab::Networks,
        Tab::Volumes,
        Tab::Stats,
        Tab::Events,
        Tab::Logs,
        Tab::ConsoleLog,
    ];

    /// The title on the tab.
    pub fn title(self) -> &'static str {
        match self {
            Tab::Containers => "Containers",
            Tab::Images => "Images",
            Tab::Networks => "Networks",
            Tab::Volumes => "Volumes",
            Tab::Stats => "Stats",
            Tab::Events => "Events",
            Tab::Logs => "Logs",
            Tab::ConsoleLog => "Console log",
        }
    }

    /// Position in [`Tab::ALL`].
    pub fn index(self) -> usize {
        Self::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }

    /// The tab `delta` steps away, wrapping.
    pub fn cycle(self, delta: isize) -> Tab {
        let n = Self::ALL.len() as isize;
        Self::ALL[((self.index() as isize + delta).rem_euclid(n)) as usize]
    }
}

fn labels(width: u16, active: Tab) -> Vec<(Tab, String)> {
    // Full titles when they leave room for a status text.
    let full: usize = Tab::ALL.iter().map(|t| width_of(t.title()) + 5).sum();
    let compact = full + 24 > width as usize;
    Tab::ALL
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let label = if *t == active || !compact {
                format!(" {} {} ", i + 1, t.title())
            } else {
                format!(" {} ", i + 1)
            };
            (*t, label)
        })
        .collect()
}

fn width_of(s: &str) -> usize {
    width(s)
}

/// Which tab is at column `x` of the bar drawn in `area` (for mouse clicks).
pub fn hit(area: Rect, active: Tab, x: u16) -> Option<Tab> {
    let mut at = area.x + 1;
    for (t, l) in labels(area.width, active) {
        let w = width(&l) as u16;
        if x >= at && x < at + w {
            return Some(t);
        }
        at += w + 1;
    }
    None
}

/// Draw the tab bar (one row). Narrow terminals show only the numbers of inactive tabs.
pub fn draw(f: &mut Frame, area: Rect, theme: &Theme, active: Tab, status: &str) {
    let mut spans = vec![Span::raw(" ")];
    for (t, label) in labels(area.width, active) {
        let style = if t == active {
            theme
                .selected()
                .add_modifier(ratatui::style::Modifier::BOLD)
        } else {
            theme.dim()
        };
        spans.push(Span::styled(label, style));
        spans.push(Span::styled("│", theme.border()));
    }
    let used: usize = spans.iter().map(|s| width(&s.content)).sum();
    f.render_widget(Line::from(spans), area);
    let room = (area.width as usize).saturating_sub(used + 2);
    if room > 3 && !status.is_empty() {
        let s = fit(status, room);
        let w = width(&s) as u16;
        f.render_widget(
            Span::styled(s, theme.dim()),
            Rect {
                x: area.right() - w - 1,
                width: w,
                ..area
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::render;

    #[test]
    fn wide() {
        insta::assert_snapshot!(render(150, 1, |f| draw(
            f,
            f.area(),
            &Theme::default(),
            Tab::Containers,
            "5 of 9 · /web"
        )));
    }
    #[test]
    fn narrow() {
        insta::assert_snapshot!(render(80, 1, |f| draw(
            f,
            f.area(),
            &Theme::default(),
            Tab::Logs,
            "web-1 · following"
        )));
    }
    #[test]
    fn clicks_hit_tabs() {
        let a = Rect::new(0, 0, 150, 1);
        assert_eq!(hit(a, Tab::Containers, 3), Some(Tab::Containers));
        assert_eq!(hit(a, Tab::Containers, 18), Some(Tab::Images));
        assert_eq!(hit(a, Tab::Containers, 149), None);
    }

    #[test]
    fn cycles() {
        assert_eq!(Tab::Containers.cycle(-1), Tab::ConsoleLog);
        assert_eq!(Tab::ConsoleLog.cycle(1), Tab::Containers);
    }
}
