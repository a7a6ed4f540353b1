//! The stats pane: a live table of the running containers (CPU %, memory, net and block
//! I/O, pids) from the engine's stats stream, and sparklines of the selected
//! container's CPU and memory from the history the console keeps.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Sparkline;
use ratatui::Frame;
use wharf_engine::api::StatsPoint;

use crate::table::{self, draw_message, Column, Row};
use crate::theme::Theme;
use crate::util::{dsize, size};
use crate::{ListCursor, Load};

/// Columns, in order.
pub const COLUMNS: [Column; 7] = [
    Column {
        title: "NAME",
        width: 14,
        flex: true,
        priority: 0,
    },
    Column {
        title: "CPU %",
        width: 7,
        flex: false,
        priority: 0,
    },
    Column {
        title: "MEM USAGE / LIMIT",
        width: 21,
        flex: false,
        priority: 1,
    },
    Column {
        title: "MEM %",
        width: 6,
        flex: false,
        priority: 3,
    },
    Column {
        title: "NET I/O",
        width: 19,
        flex: false,
        priority: 2,
    },
    Column {
        title: "BLOCK I/O",
        width: 19,
        flex: false,
        priority: 4,
    },
    Column {
        title: "PIDS",
        width: 5,
        flex: false,
        priority: 5,
    },
];

/// Everything the stats pane draws.
pub struct Model<'a> {
    pub load: &'a Load<()>,
    /// (name, latest sample) of each running container, in display order.
    pub rows: &'a [(&'a str, StatsPoint)],
    /// The selected container's history, oldest first.
    pub history: &'a [StatsPoint],
    pub focused: bool,
}

/// Draw the pane.
pub fn draw(f: &mut Frame, area: Rect, theme: &Theme, m: &Model, cursor: &mut ListCursor) {
    let layout = table::fit_columns(&COLUMNS, area.width);
    let lines = match m.load {
        Load::Loading => Some(vec![(
            "waiting for the first samples…".to_string(),
            theme.dim(),
        )]),
        Load::Error(e) => Some(vec![
            ("cannot read statistics".into(), theme.error()),
            (e.clone(), theme.text()),
        ]),
        Load::Unavailable(w) => Some(vec![(w.clone(), theme.dim())]),
        Load::Ready(()) if m.rows.is_empty() => Some(vec![
            ("No running containers.".to_string(), theme.text()),
            (
                "Statistics show here while containers run.".into(),
                theme.dim(),
            ),
        ]),
        Load::Ready(()) => None,
    };
    if let Some(lines) = lines {
        table::draw(
            f.buffer_mut(),
            area,
            theme,
            &COLUMNS,
            &layout,
            None,
            &[],
            None,
            false,
        );
        let body = Rect {
            y: area.y + 1,
            height: area.height.saturating_sub(1),
            ..area
        };
        return draw_message(f.buffer_mut(), body, &lines);
    }
    // Charts take the lower part when there is room.
    let charts_h = if area.height >= 16 { 8 } else { 0 };
    let top = Rect {
        height: area.height - charts_h,
        ..area
    };
    let height = top.height.saturating_sub(1) as usize;
    let off = cursor.scroll(height, m.rows.len());
    let end = (off + height).min(m.rows.len());
    let rows: Vec<Row> = m.rows[off..end]
        .iter()
        .map(|(name, p)| {
            let mem_pct = if p.mem_limit > 0 {
                p.mem_usage as f64 * 100.0 / p.mem_limit as f64
            } else {
                0.0
            };
            Row {
                cells: vec![
                    Span::raw(*name),
                    Span::styled(
                        format!("{:.1}", p.cpu_percent),
                        if p.cpu_percent >= 80.0 {
                            theme.warn()
                        } else {
                            theme.text()
                        },
                    ),
                    Span::raw(format!("{} / {}", size(p.mem_usage), size(p.mem_limit))),
                    Span::raw(format!("{mem_pct:.1}")),
                    Span::raw(format!("{} / {}", dsize(p.net_rx), dsize(p.net_tx))),
                    Span::raw(format!("{} / {}", dsize(p.blk_read), dsize(p.blk_write))),
                    Span::raw(p.pids.to_string()),
                ],
                marked: false,
            }
        })
        .collect();
    table::draw(
        f.buffer_mut(),
        top,
        theme,
        &COLUMNS,
        &layout,
        None,
        &rows,
        Some(cursor.selected - off),
        m.focused,
    );
    if charts_h == 0 {
        return;
    }
    let name = m.rows.get(cursor.selected).map(|r| r.0).unwrap_or("");
    let half = area.width / 2;
    let y = area.y + area.height - charts_h;
    let left = Rect {
        x: area.x,
        y,
        width: half,
        height: charts_h,
    };
    let right = Rect {
        x: area.x + half,
        y,
        width: area.width - half,
        height: charts_h,
    };
    let keep = |w: u16| m.history.len().saturating_sub(w as usize);
    let cpu: Vec<u64> = m.history[keep(left.width)..]
        .iter()
        .map(|p| (p.cpu_percent * 10.0) as u64)
        .collect();
    let mem: Vec<u64> = m.history[keep(right.width)..]
        .iter()
        .map(|p| p.mem_usage >> 10)
        .collect();
    let last = m.history.last();
    let title = |what: &str, now: String| {
        Line::from(vec![
            Span::styled(format!(" {name} · {what} "), theme.accent()),
            Span::styled(now, theme.dim()),
        ])
    };
    f.render_widget(
        title(
            "cpu %",
            last.map(|p| format!("{:.1}%", p.cpu_percent))
                .unwrap_or_default(),
        ),
        Rect { height: 1, ..left },
    );
    f.render_widget(
        title(
            "memory",
            last.map(|p| size(p.mem_usage)).unwrap_or_default(),
        ),
        Rect { height: 1, ..right },
    );
    let spark = |data: &Vec<u64>| {
        let s = Sparkline::default().data(data.clone());
        if theme.color {
            s.style(theme.ok())
        } else {
            s
        }
    };
    f.render_widget(
        spark(&cpu).max(1000),
        Rect {
            y: y + 1,
            height: charts_h - 1,
            ..left
        },
    );
    f.render_widget(
        spark(&mem),
        Rect {
            y: y + 1,
            height: charts_h - 1,
            ..right
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::render;

    fn pt(i: u64) -> StatsPoint {
        StatsPoint {
            time_ms: i as i64 * 1000,
            cpu_percent: (i % 10) as f64 * 5.0,
            mem_usage: (30 + i % 7) << 20,
            mem_limit: 1 << 30,
            net_rx: 1_200_000 + i,
            net_tx: 860_000,
            blk_read: 4_096_000,
            blk_write: 0,
            pids: 3,
        }
    }

    fn shot(w: u16, h: u16, load: Load<()>, n: usize) -> String {
        let rows: Vec<(&str, StatsPoint)> = ["web-1", "db", "worker-3"]
            .iter()
            .take(n)
            .map(|s| (*s, pt(7)))
            .collect();
        let hist: Vec<StatsPoint> = (0..40).map(pt).collect();
        let m = Model {
            load: &load,
            rows: &rows,
            history: &hist,
            focused: true,
        };
        let mut cur = ListCursor::default();
        render(w, h, |f| draw(f, f.area(), &Theme::default(), &m, &mut cur))
    }

    #[test]
    fn populated_with_charts() {
        insta::assert_snapshot!(shot(120, 16, Load::Ready(()), 3));
    }
    #[test]
    fn narrow() {
        insta::assert_snapshot!(shot(80, 8, Load::Ready(()), 2));
    }
    #[test]
    fn empty_and_error() {
        insta::assert_snapshot!(shot(80, 5, Load::Ready(()), 0));
        insta::assert_snapshot!(shot(
            80,
            5,
            Load::Error("the stats sampler stopped answering".into()),
            0
        ));
    }
}
