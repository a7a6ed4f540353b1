//! The tab bar: numbered panes, the active one highlighted; a status text on the right
//! (row counts, the active filter). The panes are the caller's: it gives their titles.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::Frame;

use crate::theme::Theme;
use crate::util::{fit, width};

/// A tab's titles: the full one, and a short one for narrow terminals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TabTitle<'a> {
    pub title: &'a str,
    pub short: &'a str,
}

/// Room kept for the status text when choosing how to label the tabs.
const STATUS_ROOM: usize = 24;

fn labels(width: u16, tabs: &[TabTitle], active: usize, status: &str) -> Vec<String> {
    let all = |f: &dyn Fn(usize, &TabTitle) -> String| -> Vec<String> {
        tabs.iter().enumerate().map(|(i, t)| f(i, t)).collect()
    };
    // 1 for the leading space, 1 for each separator.
    let fits = |v: &[String], keep: usize| {
        v.iter().map(|l| crate::util::width(l) + 1).sum::<usize>() + 1 + keep <= width as usize
    };
    // Full titles when they leave room for a status text; else number and short name,
    // tight ("2 Img"); else as many short names as fit, the active tab's first and then
    // in pane order, numbers for the others.
    let full = all(&|i, t| format!(" {} {} ", i + 1, t.title));
    if fits(&full, STATUS_ROOM) {
        return full;
    }
    // With a pane that has no tab open (a menu: `active` past the tabs), the status
    // names it and says what it shows: it keeps its whole room when it can.
    let keep = if active >= tabs.len() {
        crate::util::width(status).max(12)
    } else {
        12
    };
    let short = all(&|i, t| format!("{} {}", i + 1, t.short));
    if fits(&short, keep) {
        return short;
    }
    // (A menu's status keeps its room and the margins around it.)
    let room = if active >= tabs.len() { keep + 2 } else { 16 };
    let mut out = all(&|i, _| format!("{}", i + 1));
    let order = std::iter::once(active).chain((0..tabs.len()).filter(|&i| i != active));
    for i in order {
        let Some(t) = tabs.get(i) else { continue };
        let mut more = out.clone();
        more[i] = format!("{} {}", i + 1, t.short);
        // (Room for a status like `12 of 40 · /web`.)
        if fits(&more, room) {
            out = more;
        }
    }
    out
}

/// Which tab (by index) is at column `x` of the bar drawn in `area` (mouse clicks).
pub fn hit(area: Rect, tabs: &[TabTitle], active: usize, status: &str, x: u16) -> Option<usize> {
    let mut at = area.x + 1;
    for (i, l) in labels(area.width, tabs, active, status).iter().enumerate() {
        let w = width(l) as u16;
        if x >= at && x < at + w {
            return Some(i);
        }
        at += w + 1;
    }
    None
}

/// Draw the tab bar (one row). Narrow terminals show short titles.
pub fn draw(
    f: &mut Frame,
    area: Rect,
    theme: &Theme,
    tabs: &[TabTitle],
    active: usize,
    status: &str,
) {
    let mut spans = vec![Span::raw(" ")];
    for (i, label) in labels(area.width, tabs, active, status)
        .into_iter()
        .enumerate()
    {
        let style = if i == active {
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

    const TABS: [TabTitle; 8] = [
        TabTitle {
            title: "Containers",
            short: "Cont",
        },
        TabTitle {
            title: "Images",
            short: "Img",
        },
        TabTitle {
            title: "Networks",
            short: "Net",
        },
        TabTitle {
            title: "Volumes",
            short: "Vol",
        },
        TabTitle {
            title: "Stats",
            short: "Stats",
        },
        TabTitle {
            title: "Events",
            short: "Events",
        },
        TabTitle {
            title: "Logs",
            short: "Logs",
        },
        TabTitle {
            title: "Console log",
            short: "Own",
        },
    ];

    #[test]
    fn wide() {
        insta::assert_snapshot!(render(150, 1, |f| draw(
            f,
            f.area(),
            &Theme::default(),
            &TABS,
            0,
            "5 of 9 · /web"
        )));
    }

    /// At 80 columns every tab keeps a name (reported: only numbers were left).
    #[test]
    fn narrow() {
        let s = render(80, 1, |f| {
            draw(
                f,
                f.area(),
                &Theme::default(),
                &TABS,
                6,
                "web-1 · following",
            )
        });
        for t in TABS {
            assert!(s.contains(t.short), "{} in {s}", t.short);
        }
        insta::assert_snapshot!(s);
    }

    /// A pane without a tab (a menu, past the tabs) is named by the status: at 80
    /// columns it keeps the whole status, the tabs their numbers; a short status leaves
    /// them their names.
    #[test]
    fn a_menu_keeps_its_whole_status() {
        let s = render(80, 1, |f| {
            draw(
                f,
                f.area(),
                &Theme::default(),
                &TABS,
                8,
                "Registries · 12 repositories",
            )
        });
        assert!(
            s.contains("Registries · 12 repositories") && s.contains("│8│"),
            "{s}"
        );
        let s = render(80, 1, |f| {
            draw(f, f.area(), &Theme::default(), &TABS, 8, "Accounts")
        });
        assert!(s.contains("Accounts"), "{s}");
        for t in TABS {
            assert!(s.contains(t.short), "{} in {s}", t.short);
        }
        let a = Rect::new(0, 0, 80, 1);
        // Clicks follow the labels as drawn (` 1 Cont│2 Img│...`).
        assert_eq!(hit(a, &TABS, 8, "Registries · 12 repositories", 3), Some(0));
        assert_eq!(hit(a, &TABS, 8, "Registries · 12 repositories", 8), Some(1));
    }

    #[test]
    fn very_narrow_keeps_numbers() {
        let s = render(50, 1, |f| {
            draw(f, f.area(), &Theme::default(), &TABS, 1, "")
        });
        // The active tab's name first, then as many as fit in pane order.
        assert!(s.contains(" 1 Cont│2 Img│3 Net│4 Vol│5│6│7│8│"), "{s}");
    }

    /// Twelve panes at 80 columns: the active one and the first six keep their names.
    #[test]
    fn many_panes_at_80_columns() {
        let more = [
            TabTitle {
                title: "Trace",
                short: "Trace",
            },
            TabTitle {
                title: "Hosts",
                short: "Hosts",
            },
            TabTitle {
                title: "Registries",
                short: "Reg",
            },
            TabTitle {
                title: "Accounts",
                short: "Acct",
            },
        ];
        let tabs: Vec<TabTitle> = TABS.iter().chain(more.iter()).copied().collect();
        let s = render(80, 1, |f| {
            draw(f, f.area(), &Theme::default(), &tabs, 10, "3 of 3")
        });
        for t in &TABS[..6] {
            assert!(s.contains(t.short), "{} in {s}", t.short);
        }
        assert!(s.contains("11 Reg"), "{s}");
    }

    #[test]
    fn clicks_hit_tabs() {
        let a = Rect::new(0, 0, 150, 1);
        assert_eq!(hit(a, &TABS, 0, "", 3), Some(0));
        assert_eq!(hit(a, &TABS, 0, "", 18), Some(1));
        assert_eq!(hit(a, &TABS, 0, "", 149), None);
        let n = Rect::new(0, 0, 80, 1);
        assert_eq!(hit(n, &TABS, 0, "", 8), Some(1));
    }
}
