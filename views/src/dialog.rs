//! Dialogs over the panes: a confirmation that names what will be destroyed, a one-line
//! text input (rename, tag), and a message window (notification details).

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

use crate::theme::Theme;

/// A rectangle of `w`x`h` centred in `area` (clipped to it).
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

fn frame<'a>(theme: &Theme, title: &'a str, danger: bool) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(if danger {
            theme.error()
        } else {
            theme.accent()
        })
        .title(Span::styled(
            format!(" {title} "),
            if danger {
                theme.error()
            } else {
                theme.accent()
            },
        ))
}

/// Height a wrapped text needs at `width`.
fn wrapped_height(text: &str, width: u16) -> u16 {
    let w = width.max(1) as usize;
    text.lines()
        .map(|l| crate::util::width(l).div_ceil(w).max(1))
        .sum::<usize>() as u16
}

/// `remove 3 containers: a, b, c? y/N`
pub fn draw_confirm(f: &mut Frame, area: Rect, theme: &Theme, title: &str, question: &str) {
    draw_choice(f, area, theme, title, question, "yes", None);
}

/// A confirmation with its answers named: `y` (`yes`), perhaps a second one (`a` all),
/// and N / Esc.
pub fn draw_choice(
    f: &mut Frame,
    area: Rect,
    theme: &Theme,
    title: &str,
    question: &str,
    yes: &str,
    also: Option<(char, &str)>,
) {
    let answers = crate::util::width(yes) + also.map_or(0, |(_, l)| crate::util::width(l) + 5) + 15;
    let w = (crate::util::width(question).max(answers) as u16 + 4)
        .clamp(30, area.width.saturating_sub(4).max(30));
    let h = wrapped_height(question, w - 4) + 4;
    let r = centered(area, w, h);
    f.render_widget(Clear, r);
    let text = vec![
        Line::raw(question.to_string()),
        Line::raw(""),
        Line::from(
            [
                vec![
                    Span::styled("y", theme.error()),
                    Span::raw(format!(" {yes}   ")),
                ],
                also.map(|(k, label)| {
                    vec![
                        Span::styled(k.to_string(), theme.error()),
                        Span::raw(format!(" {label}   ")),
                    ]
                })
                .unwrap_or_default(),
                vec![Span::styled("N", theme.accent()), Span::raw(" / Esc no")],
            ]
            .concat(),
        ),
    ];
    f.render_widget(
        Paragraph::new(text)
            .wrap(Wrap { trim: false })
            .block(frame(theme, title, true)),
        r,
    );
}

/// A one-line input with its label and the current validation error.
pub fn draw_input(
    f: &mut Frame,
    area: Rect,
    theme: &Theme,
    title: &str,
    label: &str,
    value: &str,
    error: Option<&str>,
) {
    let r = centered(area, 60.min(area.width.saturating_sub(2)), 6);
    f.render_widget(Clear, r);
    let text = vec![
        Line::from(vec![
            Span::styled(format!("{label} "), theme.dim()),
            Span::raw(value.to_string()),
            Span::styled("█", theme.accent()),
        ]),
        Line::raw(""),
        match error {
            Some(e) => Line::styled(e.to_string(), theme.error()),
            None => Line::styled("Enter applies · Esc cancels", theme.dim()),
        },
    ];
    f.render_widget(
        Paragraph::new(text)
            .wrap(Wrap { trim: false })
            .block(frame(theme, title, false)),
        r,
    );
}

/// A window with a title and text (notification details, errors in full).
pub fn draw_message(f: &mut Frame, area: Rect, theme: &Theme, title: &str, body: &str) {
    let w = area.width.saturating_sub(8).clamp(20, 120);
    let h = (wrapped_height(body, w - 2) + 4).min(area.height.saturating_sub(2));
    let r = centered(area, w, h);
    f.render_widget(Clear, r);
    let mut lines: Vec<Line> = body.lines().map(|l| Line::raw(l.to_string())).collect();
    lines.push(Line::raw(""));
    lines.push(Line::styled("Esc or Enter closes", theme.dim()));
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(frame(theme, title, false)),
        r,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::render;

    #[test]
    fn confirm_names_what_is_destroyed() {
        insta::assert_snapshot!(render(80, 9, |f| draw_confirm(
            f,
            f.area(),
            &Theme::default(),
            "remove",
            "remove 3 containers: web-1, db, worker-3?"
        )));
    }
    #[test]
    fn confirm_narrow_long_list() {
        let q = format!(
            "remove 12 containers: {}?",
            (0..12)
                .map(|i| format!("job-{i}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        insta::assert_snapshot!(render(40, 12, |f| draw_confirm(
            f,
            f.area(),
            &Theme::default(),
            "remove",
            &q
        )));
    }
    #[test]
    fn input_with_error() {
        insta::assert_snapshot!(render(70, 8, |f| draw_input(
            f,
            f.area(),
            &Theme::default(),
            "rename web-1",
            "new name:",
            "bad name!",
            Some("a name may contain only [a-zA-Z0-9_.-]")
        )));
    }
    #[test]
    fn message() {
        insta::assert_snapshot!(render(70, 9, |f| {
            draw_message(f, f.area(), &Theme::default(), "error", "cannot stop web-1:\ncontainer \"web-1\" is not running: start it with wharf start web-1")
        }));
    }
}
