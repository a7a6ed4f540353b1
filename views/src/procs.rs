//! A container's processes (`wharf top`): ps -ef's columns as the engine gives them,
//! the command last, taking the rest of the width. Drawn under the containers list.

use ratatui::layout::Rect;
use ratatui::Frame;
use wharf_engine::api::TopResult;

use crate::table::{draw_message, load_lines};
use crate::theme::Theme;
use crate::util::{fit, width};
use crate::Load;

/// Draw `top` into `area`, from row `scroll` on (clamped so the last row stays in
/// view); the scroll used.
pub fn draw(
    f: &mut Frame,
    area: Rect,
    theme: &Theme,
    top: &Load<TopResult>,
    scroll: usize,
) -> usize {
    let buf = f.buffer_mut();
    if let Some(lines) = load_lines(
        top,
        "reading its processes…",
        "cannot list its processes",
        theme,
    ) {
        draw_message(buf, area, &lines);
        return 0;
    }
    let Load::Ready(t) = top else { return 0 };
    if t.processes.is_empty() {
        draw_message(buf, area, &[("No processes.".into(), theme.dim())]);
        return 0;
    }
    let n = t.titles.len();
    // Every column but the last as wide as its widest cell.
    let widths: Vec<usize> = (0..n)
        .map(|i| {
            t.processes
                .iter()
                .map(|p| p.get(i).map_or(0, |c| width(c)))
                .chain([width(&t.titles[i])])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| -> String {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate().take(n) {
            if i + 1 == n {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$} ", w = widths[i]));
            }
        }
        s
    };
    let w = area.width as usize;
    if area.height == 0 {
        return 0;
    }
    buf.set_string(area.x, area.y, fit(&line(&t.titles), w), theme.column());
    let room = area.height as usize - 1;
    let scroll = scroll.min(t.processes.len().saturating_sub(room));
    for (k, p) in t.processes.iter().skip(scroll).take(room).enumerate() {
        let y = area.y + 1 + k as u16;
        buf.set_string(area.x, y, fit(&line(p), w), theme.text());
    }
    scroll
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::render;

    fn top() -> TopResult {
        let row = |pid: &str, cmd: &str| -> Vec<String> {
            ["root", pid, "0", "0", "10:41", "?", "00:00:00", cmd]
                .iter()
                .map(|s| s.to_string())
                .collect()
        };
        TopResult {
            titles: ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            processes: vec![
                row(
                    "4211",
                    "sh -c trap 'exit 0' TERM; while true; do sleep 1; done",
                ),
                row("4260", "sleep 1"),
            ],
        }
    }

    #[test]
    fn processes_and_states() {
        let t = Load::Ready(top());
        insta::assert_snapshot!(render(60, 4, |f| {
            draw(f, f.area(), &Theme::default(), &t, 0);
        }));
        insta::assert_snapshot!(render(60, 3, |f| {
            draw(
                f,
                f.area(),
                &Theme::default(),
                &Load::Error("container web is not running".into()),
                0,
            );
        }));
        // Scrolled past the end: the last rows stay in view.
        let s = render(60, 2, |f| {
            assert_eq!(draw(f, f.area(), &Theme::default(), &t, 9), 1);
        });
        assert!(s.contains("sleep 1"), "{s}");
    }
}
