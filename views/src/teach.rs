//! The teaching strip, above the footer: after an action, the `wharf` command that does
//! the same, the `docker` one where docker has it, and what the engine did; while a
//! journal is replayed, the next step. Each line is cut to the width (the whole text is
//! in the notification's window and the trace pane).

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::Frame;

use crate::theme::Theme;
use crate::util::{fit, width};

/// Everything the strip draws.
#[derive(Debug, Clone, Default)]
pub struct Model<'a> {
    /// `wharf run -d --name web ...`
    pub wharf: Option<&'a str>,
    /// `docker run -d --name web ...`
    pub docker: Option<&'a str>,
    /// What the engine did, one step after another.
    pub steps: &'a [String],
    /// The action failed (the commands are still what was asked).
    pub failed: bool,
    /// Keys that copy the commands (`y`, `Y`).
    pub copy_keys: (Option<&'a str>, Option<&'a str>),
    /// Replaying a journal: the step to come, and the keys that run and skip it.
    pub replay: Option<(&'a str, Option<&'a str>, Option<&'a str>)>,
}

impl Model<'_> {
    /// Rows the strip takes.
    pub fn height(&self) -> u16 {
        let mut h = 0;
        if self.wharf.is_some() {
            h += 1;
            h += u16::from(self.docker.is_some());
            h += u16::from(!self.steps.is_empty());
        }
        h + u16::from(self.replay.is_some())
    }
}

/// One line: `text` on the left (cut to fit), `hint` on the right.
fn line<'a>(
    w: usize,
    lead: Span<'a>,
    text: &str,
    style: ratatui::style::Style,
    hint: Option<String>,
    theme: &Theme,
) -> Line<'a> {
    let hint = hint.map(|h| format!(" {h} "));
    let room = w
        .saturating_sub(width(&lead.content))
        .saturating_sub(hint.as_deref().map_or(0, width));
    let body = fit(text, room);
    let pad = room.saturating_sub(width(&body));
    let mut spans = vec![lead, Span::styled(body, style), Span::raw(" ".repeat(pad))];
    if let Some(h) = hint {
        spans.push(Span::styled(h, theme.dim()));
    }
    Line::from(spans)
}

/// Draw the strip into `area` (its [`Model::height`] rows).
pub fn draw(f: &mut Frame, area: Rect, theme: &Theme, m: &Model) {
    let w = area.width as usize;
    let mut lines: Vec<Line> = Vec::new();
    if let Some((step, run, skip)) = m.replay {
        let keys = [
            run.map(|k| format!("{k} run")),
            skip.map(|k| format!("{k} skip")),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("  ");
        lines.push(line(
            w,
            Span::styled(" ▶ ", theme.warn()),
            step,
            theme.text(),
            (!keys.is_empty()).then_some(keys),
            theme,
        ));
    }
    if let Some(cmd) = m.wharf {
        let style = if m.failed {
            theme.error()
        } else {
            theme.accent()
        };
        lines.push(line(
            w,
            Span::styled(" $ ", theme.dim()),
            cmd,
            style,
            m.copy_keys.0.map(|k| format!("{k} copy")),
            theme,
        ));
        if let Some(d) = m.docker {
            lines.push(line(
                w,
                Span::styled(" $ ", theme.dim()),
                d,
                theme.text(),
                m.copy_keys.1.map(|k| format!("{k} copy")),
                theme,
            ));
        }
        if !m.steps.is_empty() {
            lines.push(line(
                w,
                Span::styled(" ↳ engine: ", theme.dim()),
                &m.steps.join("; "),
                theme.dim(),
                None,
                theme,
            ));
        }
    }
    for (i, l) in lines.into_iter().enumerate() {
        let r = Rect {
            y: area.y + i as u16,
            height: 1,
            ..area
        };
        if r.y < area.bottom() {
            f.render_widget(l, r);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::render;

    #[test]
    fn the_commands_and_what_the_engine_did() {
        let steps = vec![
            "created cgroup wharf/3f2a1b2c3d4e".to_string(),
            "wrote 268435456 to cgroup file memory/wharf/3f2a1b2c3d4e/memory.limit_in_bytes".into(),
        ];
        let m = Model {
            wharf: Some("wharf run -d --name web -m 256m wharf/demo httpd -f"),
            docker: Some("docker run -d --name web -m 256m wharf/demo httpd -f"),
            steps: &steps,
            copy_keys: (Some("y"), Some("Y")),
            ..Default::default()
        };
        assert_eq!(m.height(), 3);
        let s = render(80, 3, |f| draw(f, f.area(), &Theme::default(), &m));
        insta::assert_snapshot!(s);
        assert!(
            s.lines().all(|l| l.chars().count() <= 82),
            "80 columns and the quotes"
        );
    }

    #[test]
    fn a_replay_shows_its_next_step() {
        let m = Model {
            replay: Some((
                "replay lab.sh 3/10: wharf network create lab",
                Some(">"),
                Some("#"),
            )),
            ..Default::default()
        };
        assert_eq!(m.height(), 1);
        let s = render(80, 1, |f| draw(f, f.area(), &Theme::default(), &m));
        assert!(
            s.contains("▶ replay lab.sh 3/10: wharf network create lab")
                && s.contains("> run  # skip"),
            "{s}"
        );
    }
}
