//! The footer: the last notification on the left; on the right the actions this
//! context offers, from the keymap (hints drop from the right when there is no room).

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::Frame;

use crate::theme::Theme;
use crate::util::{fit, width};

/// How bad a notification is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Ok,
    Warn,
    Error,
}

/// A notification: a short text for the footer and details for its window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub level: Level,
    pub text: String,
    pub details: Option<String>,
}

impl Notification {
    /// Symbol for the level: ✔ ✖ ⚠ ·.
    pub fn symbol(&self) -> &'static str {
        match self.level {
            Level::Info => "·",
            Level::Ok => "✔",
            Level::Warn => "⚠",
            Level::Error => "✖",
        }
    }
}

/// How the footer shares its row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// How many hints show (the first ones: the most wanted).
    pub hints: usize,
    /// Columns the hints take, with the one always kept.
    pub hints_width: usize,
    /// Columns left for the notification.
    pub note_room: usize,
}

fn hint_width(h: &(String, String)) -> usize {
    width(&h.0) + width(&h.1) + 3
}

fn note_text(n: &Notification) -> String {
    let more = if n.details.is_some() {
        " (! details)"
    } else {
        ""
    };
    format!(" {} {}{more}", n.symbol(), n.text)
}

/// Share `width` columns: the notification keeps up to two fifths (all it needs when
/// it is short); the hints take the rest, most wanted first, and `always` (the help)
/// is never dropped.
pub fn layout(
    width: u16,
    note: Option<&Notification>,
    hints: &[(String, String)],
    always: Option<&(String, String)>,
) -> Layout {
    let w = width as usize;
    let note_w = note.map_or(0, |n| crate::util::width(&note_text(n)));
    let budget = w.saturating_sub(note_w.min(w * 2 / 5) + 2);
    let mut used = always.map_or(0, hint_width);
    let mut shown = 0;
    for h in hints {
        if used + hint_width(h) > budget {
            break;
        }
        used += hint_width(h);
        shown += 1;
    }
    Layout {
        hints: shown,
        hints_width: used,
        note_room: w.saturating_sub(used + 2),
    }
}

/// Does the notification fit beside the hints, or would it be cut?
pub fn note_fits(
    width: u16,
    note: &Notification,
    hints: &[(String, String)],
    always: Option<&(String, String)>,
) -> bool {
    crate::util::width(&note_text(note)) <= layout(width, Some(note), hints, always).note_room
}

/// Draw the footer (one row). `hints` are (key, action) pairs, most wanted first;
/// `always` (the help) shows last and is never dropped.
pub fn draw(
    f: &mut Frame,
    area: Rect,
    theme: &Theme,
    note: Option<&Notification>,
    hints: &[(String, String)],
    always: Option<&(String, String)>,
) {
    let l = layout(area.width, note, hints, always);
    let mut right: Vec<Span> = Vec::new();
    for (k, a) in hints[..l.hints].iter().chain(always) {
        right.push(Span::styled(k.clone(), theme.accent()));
        right.push(Span::raw(format!(" {a}  ")));
    }
    if let Some(n) = note {
        let style = match n.level {
            Level::Info => theme.text(),
            Level::Ok => theme.ok(),
            Level::Warn => theme.warn(),
            Level::Error => theme.error(),
        };
        let text = fit(&note_text(n), l.note_room);
        f.render_widget(
            Span::styled(text, style),
            Rect {
                width: l.note_room as u16,
                ..area
            },
        );
    }
    let rw = l.hints_width as u16;
    if rw > 0 {
        let x = area.right().saturating_sub(rw);
        f.render_widget(
            Line::from(right),
            Rect {
                x,
                width: rw.min(area.width),
                ..area
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::render;

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(k, a)| (k.to_string(), a.to_string()))
            .collect()
    }

    fn hints() -> Vec<(String, String)> {
        pairs(&[
            ("s", "stop"),
            ("r", "restart"),
            ("p", "pause"),
            ("l", "logs"),
        ])
    }

    fn help() -> (String, String) {
        ("?".into(), "help".into())
    }

    #[test]
    fn ok_with_hints() {
        let n = Notification {
            level: Level::Ok,
            text: "stopped batch-17".into(),
            details: None,
        };
        insta::assert_snapshot!(render(100, 1, |f| draw(
            f,
            f.area(),
            &Theme::default(),
            Some(&n),
            &hints(),
            Some(&help())
        )));
    }
    #[test]
    fn error_narrow() {
        let n = Notification {
            level: Level::Error,
            text: "cannot stop web-1: container \"web-1\" is not running".into(),
            details: Some("full text".into()),
        };
        insta::assert_snapshot!(render(80, 1, |f| draw(
            f,
            f.area(),
            &Theme::default(),
            Some(&n),
            &hints(),
            Some(&help())
        )));
    }
    #[test]
    fn empty() {
        insta::assert_snapshot!(render(60, 1, |f| draw(
            f,
            f.area(),
            &Theme::default(),
            None,
            &[],
            None
        )));
    }

    /// Reported: at 160 columns the containers' hints crowded out `? help` (and `e`,
    /// `a`). The help always shows; other hints drop from the least wanted.
    #[test]
    fn help_always_shows_and_hints_drop_by_priority() {
        let n = Notification {
            level: Level::Ok,
            text: "stopped batch-17".into(),
            details: None,
        };
        let all = pairs(&[
            ("s", "stop"),
            ("S", "start"),
            ("r", "restart"),
            ("l", "logs"),
            ("e", "shell"),
            ("d", "remove"),
            ("p", "pause"),
            ("i", "inspect"),
            ("n", "run"),
            ("a", "attach"),
            ("K", "kill"),
            ("R", "rename"),
            ("o", "sort"),
            ("c", "cpu"),
            ("m", "mem"),
            ("H", "stopped"),
            ("v", "split"),
            ("z", "zoom"),
            ("space", "mark"),
            ("A", "mark-all"),
        ]);
        for w in [60u16, 80, 120, 160] {
            let s = render(w, 1, |f| {
                draw(
                    f,
                    f.area(),
                    &Theme::default(),
                    Some(&n),
                    &all,
                    Some(&help()),
                )
            });
            assert!(s.contains("? help"), "{w}: {s}");
            let l = layout(w, Some(&n), &all, Some(&help()));
            // What shows is a prefix of the list: nothing wanted more is dropped.
            for (k, a) in &all[..l.hints] {
                assert!(s.contains(&format!("{k} {a}")), "{w}: {k} {a} in {s}");
            }
        }
        let s = render(160, 1, |f| {
            draw(
                f,
                f.area(),
                &Theme::default(),
                Some(&n),
                &all,
                Some(&help()),
            )
        });
        assert!(s.contains("e shell") && s.contains("a attach"), "{s}");
        insta::assert_snapshot!(s);
    }

    #[test]
    fn a_long_error_says_it_does_not_fit() {
        let n = Notification {
            level: Level::Error,
            text: "cannot start bad: ".to_string() + &"the reason ".repeat(12),
            details: None,
        };
        assert!(!note_fits(160, &n, &hints(), Some(&help())));
        let short = Notification {
            text: "cannot start bad".into(),
            ..n
        };
        assert!(note_fits(160, &short, &hints(), Some(&help())));
    }
}
