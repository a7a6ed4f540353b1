//! The help screen, generated from the active keymap: one section per context, each
//! binding with its key(s), action name and description.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use ratatui::Frame;

use crate::theme::Theme;
use crate::util::width;

/// One binding as the help lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// Keys, e.g. `s` or `j, down`.
    pub keys: String,
    pub action: String,
    pub description: String,
}

/// One section: a context (`global`, `containers`, ...) and its bindings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub context: String,
    pub bindings: Vec<Binding>,
}

/// Words of `text` in lines of at most `w` columns (a longer word stands alone).
fn wrap(text: &str, w: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    for word in text.split(' ') {
        if !cur.is_empty() && width(&cur) + 1 + width(word) > w {
            out.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(word);
    }
    out.push(cur);
    out
}

/// The width of the help's text inside its window over `area`.
pub fn text_width(area: Rect) -> u16 {
    area.width.saturating_sub(4).min(100).saturating_sub(2)
}

/// The help as lines of at most `width` columns: descriptions wrap under themselves
/// (used for drawing and for scrolling bounds).
pub fn lines<'a>(
    theme: &Theme,
    keymap_name: &str,
    sections: &'a [Section],
    width_: u16,
) -> Vec<Line<'a>> {
    let kw = sections
        .iter()
        .flat_map(|s| &s.bindings)
        .map(|b| width(&b.keys))
        .max()
        .unwrap_or(4)
        .min(18);
    let aw = sections
        .iter()
        .flat_map(|s| &s.bindings)
        .map(|b| width(&b.action))
        .max()
        .unwrap_or(4);
    let w = width_ as usize;
    // The description's column; on a narrow screen it goes under the key instead.
    let mut indent = 2 + kw + 2 + aw + 2;
    let under = indent + 12 > w;
    if under {
        indent = 4;
    }
    let room = w.saturating_sub(indent).max(8);
    let mut out = vec![Line::from(vec![
        Span::styled("keymap ", theme.dim()),
        Span::styled(keymap_name.to_string(), theme.accent()),
        Span::styled(" · Esc or ? closes · arrows scroll", theme.dim()),
    ])];
    for s in sections {
        out.push(Line::raw(""));
        out.push(Line::styled(s.context.clone(), theme.column()));
        for b in &s.bindings {
            let mut first = vec![
                Span::raw("  "),
                Span::styled(format!("{:<kw$}", b.keys), theme.accent()),
                Span::raw("  "),
                Span::raw(format!("{:<aw$}", b.action)),
            ];
            let mut desc = wrap(&b.description, room).into_iter();
            if !under {
                first.push(Span::raw("  "));
                first.push(Span::styled(desc.next().unwrap_or_default(), theme.dim()));
            }
            out.push(Line::from(first));
            for more in desc {
                out.push(Line::from(vec![
                    Span::raw(" ".repeat(indent)),
                    Span::styled(more, theme.dim()),
                ]));
            }
        }
    }
    out
}

/// Draw the help as a window over `area`, scrolled by `scroll` lines.
pub fn draw(
    f: &mut Frame,
    area: Rect,
    theme: &Theme,
    keymap_name: &str,
    sections: &[Section],
    scroll: u16,
) {
    let w = area.width.saturating_sub(4).min(100);
    let h = area.height.saturating_sub(2);
    let r = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + 1,
        width: w,
        height: h,
    };
    f.render_widget(Clear, r);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border())
        .title(Span::styled(" Help ", theme.accent()));
    f.render_widget(
        Paragraph::new(lines(theme, keymap_name, sections, text_width(area)))
            .block(block)
            .scroll((scroll, 0)),
        r,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::render;

    fn sections() -> Vec<Section> {
        let b = |k: &str, a: &str, d: &str| Binding {
            keys: k.into(),
            action: a.into(),
            description: d.into(),
        };
        vec![
            Section {
                context: "global".into(),
                bindings: vec![
                    b("q", "quit", "leave the console"),
                    b("?", "help", "this screen"),
                ],
            },
            Section {
                context: "containers".into(),
                bindings: vec![
                    b("s", "stop", "stop the selected or marked containers"),
                    b("d", "remove", "remove (asks first)"),
                ],
            },
        ]
    }

    #[test]
    fn generated() {
        insta::assert_snapshot!(render(80, 14, |f| draw(
            f,
            f.area(),
            &Theme::default(),
            "default",
            &sections(),
            0
        )));
    }
    /// Reported: at 80x24 help lines were cut mid-phrase. They wrap, and no line is
    /// wider than the window.
    #[test]
    fn long_descriptions_wrap() {
        let mut s = sections();
        s[1].bindings.push(Binding {
            keys: "e".into(),
            action: "exec-shell".into(),
            description: "a shell in the selected container (the console comes back when it exits)"
                .into(),
        });
        let text = render(80, 16, |f| {
            draw(f, f.area(), &Theme::default(), "default", &s, 0)
        });
        assert!(text.contains("(the console comes back"), "{text}");
        assert!(text.contains("      when it exits)"), "{text}");
        insta::assert_snapshot!(text);
        for l in lines(&Theme::default(), "default", &s, 40).iter().skip(1) {
            let w: usize = l.spans.iter().map(|x| width(&x.content)).sum();
            assert!(w <= 40, "{l:?}");
        }
    }

    #[test]
    fn scrolled_narrow() {
        insta::assert_snapshot!(render(40, 8, |f| draw(
            f,
            f.area(),
            &Theme::default(),
            "vim",
            &sections(),
            3
        )));
    }
}
