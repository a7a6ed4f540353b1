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

/// Draw the footer (one row). `hints` are (key, action) pairs.
pub fn draw(
    f: &mut Frame,
    area: Rect,
    theme: &Theme,
    note: Option<&Notification>,
    hints: &[(String, String)],
) {
    let mut right: Vec<Span> = Vec::new();
    let mut rw = 0usize;
    let budget = (area.width as usize) * 3 / 5;
    for (k, a) in hints {
        let w = width(k) + width(a) + 3;
        if rw + w > budget {
            break;
        }
        rw += w;
        right.push(Span::styled(k.clone(), theme.accent()));
        right.push(Span::raw(format!(" {a}  ")));
    }
    let left_room = (area.width as usize).saturating_sub(rw + 2);
    if let Some(n) = note {
        let style = match n.level {
            Level::Info => theme.text(),
            Level::Ok => theme.ok(),
            Level::Warn => theme.warn(),
            Level::Error => theme.error(),
        };
        let more = if n.details.is_some() {
            " (! details)"
        } else {
            ""
        };
        let text = fit(&format!(" {} {}{more}", n.symbol(), n.text), left_room);
        f.render_widget(
            Span::styled(text, style),
            Rect {
                width: left_room as u16,
                ..area
            },
        );
    }
    if rw > 0 {
        let x = area.right().saturating_sub(rw as u16);
        f.render_widget(
            Line::from(right),
            Rect {
                x,
                width: rw as u16,
                ..area
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::render;

    fn hints() -> Vec<(String, String)> {
        [
            ("s", "stop"),
            ("r", "restart"),
            ("p", "pause"),
            ("l", "logs"),
            ("?", "help"),
        ]
        .iter()
        .map(|(k, a)| (k.to_string(), a.to_string()))
        .collect()
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
            &hints()
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
            &hints()
        )));
    }
    #[test]
    fn empty() {
        insta::assert_snapshot!(render(60, 1, |f| draw(
            f,
            f.area(),
            &Theme::default(),
            None,
            &[]
        )));
    }
}
