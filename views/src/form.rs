//! A small form over the panes: labelled one-line fields, one focused, a secret field
//! shown as dots (never its text), each field's error under it as you type, and a
//! summary line (what Enter will do, or why it cannot).

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

use crate::dialog::centered;
use crate::theme::Theme;
use crate::util::{fit, width};

/// One field as drawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldView<'a> {
    pub label: &'a str,
    /// The text typed so far (not shown for a secret field).
    pub value: &'a str,
    /// Drawn as one dot per character.
    pub secret: bool,
    /// A hint shown (dim) while the field is empty.
    pub placeholder: &'a str,
    /// What is wrong with the value, if anything.
    pub error: Option<&'a str>,
}

/// The form as drawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Model<'a> {
    pub title: &'a str,
    pub fields: Vec<FieldView<'a>>,
    pub focus: usize,
    /// What Enter does (`log in to 127.0.0.1:5000 as alice`), or the form's error.
    pub summary: &'a str,
    /// The summary is an error: Enter does nothing until it is fixed.
    pub blocked: bool,
    /// What Enter is called (`log in`, `save`).
    pub submit: &'a str,
}

/// What a secret field shows: a dot per character, never the text.
pub fn masked(value: &str) -> String {
    "•".repeat(value.chars().count())
}

/// Draw the form centred in `area`.
pub fn draw(f: &mut Frame, area: Rect, theme: &Theme, m: &Model) {
    let label_w = m
        .fields
        .iter()
        .map(|x| width(x.label))
        .max()
        .unwrap_or(0)
        .min(24);
    let w = area.width.saturating_sub(4).clamp(30, 96);
    let inner = (w as usize).saturating_sub(2);
    let value_w = inner.saturating_sub(label_w + 3).max(4);
    let mut lines: Vec<Line> = Vec::new();
    for (i, x) in m.fields.iter().enumerate() {
        let focused = i == m.focus;
        let shown = if x.secret {
            masked(x.value)
        } else {
            x.value.to_string()
        };
        // The end of a long value stays in view (where typing happens).
        let n = shown.chars().count();
        let room = value_w.saturating_sub(1);
        let shown: String = if n > room {
            shown.chars().skip(n - room).collect()
        } else {
            shown
        };
        let mut spans = vec![
            Span::styled(if focused { "▶ " } else { "  " }, theme.accent()),
            Span::styled(
                format!("{:<label_w$} ", fit(x.label, label_w)),
                if focused { theme.accent() } else { theme.dim() },
            ),
        ];
        if shown.is_empty() && !focused {
            spans.push(Span::styled(fit(x.placeholder, value_w), theme.dim()));
        } else {
            spans.push(Span::raw(shown));
            if focused {
                spans.push(Span::styled("█", theme.accent()));
                if x.value.is_empty() && !x.placeholder.is_empty() {
                    spans.push(Span::styled(
                        format!(" {}", fit(x.placeholder, value_w.saturating_sub(2))),
                        theme.dim(),
                    ));
                }
            }
        }
        lines.push(Line::from(spans));
        if let Some(e) = x.error {
            lines.push(Line::from(vec![
                Span::raw(" ".repeat(label_w + 3)),
                Span::styled(fit(e, value_w), theme.error()),
            ]));
        }
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        m.summary.to_string(),
        if m.blocked {
            theme.error()
        } else {
            theme.text()
        },
    ));
    lines.push(Line::from(vec![
        Span::styled("Tab", theme.accent()),
        Span::raw(" next field  "),
        Span::styled("Enter", theme.accent()),
        Span::raw(if m.blocked {
            format!(" {} (fix the fields first)  ", m.submit)
        } else {
            format!(" {}  ", m.submit)
        }),
        Span::styled("Esc", theme.accent()),
        Span::raw(" cancel"),
    ]));
    let summary_h = (width(m.summary).div_ceil(inner.max(1))).max(1) as u16;
    let h = (lines.len() as u16 + summary_h + 1).min(area.height);
    let r = centered(area, w, h);
    f.render_widget(Clear, r);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.accent())
        .title(Span::styled(format!(" {} ", m.title), theme.accent()));
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block),
        r,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::render;

    fn login<'a>(password: &'a str, error: Option<&'a str>) -> Model<'a> {
        Model {
            title: "log in to a registry",
            fields: vec![
                FieldView {
                    label: "registry",
                    value: "127.0.0.1:5000",
                    secret: false,
                    placeholder: "host[:port]",
                    error: None,
                },
                FieldView {
                    label: "user",
                    value: "alice",
                    secret: false,
                    placeholder: "",
                    error: None,
                },
                FieldView {
                    label: "password",
                    value: password,
                    secret: true,
                    placeholder: "or a token",
                    error,
                },
            ],
            focus: 2,
            summary: if error.is_some() {
                "a password is needed"
            } else {
                "log in to 127.0.0.1:5000 as alice"
            },
            blocked: error.is_some(),
            submit: "log in",
        }
    }

    #[test]
    fn a_secret_is_never_drawn() {
        let s = render(70, 12, |f| {
            draw(f, f.area(), &Theme::default(), &login("hunter2", None))
        });
        assert!(!s.contains("hunter2"), "{s}");
        assert!(s.contains("•••••••"), "{s}");
        insta::assert_snapshot!(s);
    }

    #[test]
    fn errors_show_under_their_field() {
        insta::assert_snapshot!(render(60, 12, |f| draw(
            f,
            f.area(),
            &Theme::default(),
            &login("", Some("a password (or token) is needed"))
        )));
    }
}
