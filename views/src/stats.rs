//! The stats pane: a live table of the running containers (CPU %, memory, net and block
//! I/O, pids) from the engine's stats stream, and sparklines of the selected
//! container's CPU, memory, network and block I/O from the history the console keeps.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Sparkline;
use ratatui::Frame;
use wharf_engine::api::StatsPoint;

use crate::table::{self, Column, Row};
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
    let lines = table::load_lines(
        m.load,
        "waiting for the first samples…",
        "cannot read statistics",
        theme,
    )
    .or_else(|| {
        m.rows.is_empty().then(|| {
            vec![
                ("No running containers.".to_string(), theme.text()),
                (
                    "Statistics show here while containers run.".into(),
                    theme.dim(),
                ),
            ]
        })
    });
    if let Some(lines) = lines {
        return table::draw_empty(f.buffer_mut(), area, theme, &COLUMNS, None, &lines);
    }
    // Charts take the lower part when there is room.
    let charts_h = if area.height >= 16 { 8 } else { 0 };
    let top = Rect {
        height: area.height - charts_h,
        ..area
    };
    let rows = m.rows;
    table::draw_rows(
        f.buffer_mut(),
        top,
        theme,
        &COLUMNS,
        None,
        rows.len(),
        cursor,
        m.focused,
        |i| {
            let (name, p) = &rows[i];
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
        },
    );
    if charts_h == 0 {
        return;
    }
    let name = m.rows.get(cursor.selected).map(|r| r.0).unwrap_or("");
    // Four charts side by side: CPU %, memory, network and block I/O per second.
    let y = area.y + area.height - charts_h;
    let w = area.width / 4;
    let panel = |i: u16| Rect {
        x: area.x + i * w,
        y,
        width: if i == 3 { area.width - 3 * w } else { w },
        height: charts_h,
    };
    let keep = |r: Rect| m.history.len().saturating_sub(r.width as usize + 1);
    let rates = |r: Rect, v: fn(&StatsPoint) -> u64| -> Vec<u64> {
        m.history[keep(r)..]
            .windows(2)
            .map(|p| {
                let dt = (p[1].time_ms - p[0].time_ms).max(1) as u64;
                v(&p[1]).saturating_sub(v(&p[0])) * 1000 / dt
            })
            .collect()
    };
    let cpu: Vec<u64> = m.history[keep(panel(0))..]
        .iter()
        .map(|p| (p.cpu_percent * 10.0) as u64)
        .collect();
    let mem: Vec<u64> = m.history[keep(panel(1))..]
        .iter()
        .map(|p| p.mem_usage >> 10)
        .collect();
    let net = rates(panel(2), |p| p.net_rx + p.net_tx);
    let blk = rates(panel(3), |p| p.blk_read + p.blk_write);
    let last = m.history.last();
    let per_s = |v: &[u64]| {
        v.last()
            .map(|b| format!("{}/s", dsize(*b)))
            .unwrap_or_default()
    };
    let charts: [(&str, String, &Vec<u64>, Option<u64>); 4] = [
        (
            "cpu %",
            last.map(|p| format!("{:.1}%", p.cpu_percent))
                .unwrap_or_default(),
            &cpu,
            Some(1000),
        ),
        (
            "memory",
            last.map(|p| size(p.mem_usage)).unwrap_or_default(),
            &mem,
            None,
        ),
        ("net i/o", per_s(&net), &net, None),
        ("block i/o", per_s(&blk), &blk, None),
    ];
    for (i, (what, now, data, max)) in charts.into_iter().enumerate() {
        let r = panel(i as u16);
        let who = if i == 0 {
            format!(" {name} · ")
        } else {
            " ".into()
        };
        f.render_widget(
            Line::from(vec![
                Span::styled(format!("{who}{what} "), theme.accent()),
                Span::styled(now, theme.dim()),
            ]),
            Rect { height: 1, ..r },
        );
        let mut s = Sparkline::default().data(data.clone());
        if let Some(mx) = max {
            s = s.max(mx);
        }
        if theme.color {
            s = s.style(theme.ok());
        }
        f.render_widget(
            s,
            Rect {
                y: y + 1,
                height: charts_h - 1,
                width: r.width.saturating_sub(1),
                ..r
            },
        );
    }
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
