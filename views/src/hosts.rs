//! The hosts table: NAME, ENGINE, VERSION, STATE, LATENCY, URL; the current host marked.

use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::Frame;

use crate::table::{self, Column, Row};
use crate::theme::Theme;
use crate::ListCursor;

/// Columns, in order.
pub const COLUMNS: [Column; 6] = [
    Column {
        title: "NAME",
        // `lab-02 (current)`.
        width: 16,
        flex: true,
        priority: 0,
    },
    Column {
        title: "ENGINE",
        width: 7,
        flex: false,
        priority: 2,
    },
    Column {
        title: "VERSION",
        width: 16,
        flex: false,
        priority: 4,
    },
    Column {
        title: "STATE",
        width: 22,
        flex: true,
        priority: 1,
    },
    Column {
        title: "LATENCY",
        width: 8,
        flex: false,
        priority: 3,
    },
    Column {
        title: "URL",
        width: 20,
        flex: true,
        priority: 5,
    },
];

/// One host as the pane shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct HostRow {
    pub name: String,
    /// `local`, `wharf`, `docker`, `podman`, `?` before it answered.
    pub engine: String,
    pub version: String,
    /// `up`, `connecting`, or `down: why`.
    pub state: String,
    pub up: bool,
    /// Milliseconds of the last ping.
    pub latency_ms: Option<f64>,
    pub url: String,
    /// The console is on it (or, in the fleet view, it is one of those shown).
    pub current: bool,
}

/// Draw the pane.
pub fn draw(
    f: &mut Frame,
    area: Rect,
    theme: &Theme,
    rows: &[HostRow],
    fleet: bool,
    cursor: &mut ListCursor,
    focused: bool,
) {
    let buf = f.buffer_mut();
    if rows.is_empty() {
        let lines = vec![
            ("No other hosts.".to_string(), theme.text()),
            (
                "Name them with --host (several times), in ~/.config/wharf/hosts.json, or as docker contexts."
                    .to_string(),
                theme.dim(),
            ),
        ];
        return table::draw_empty(buf, area, theme, &COLUMNS, None, &lines);
    }
    table::draw_rows(
        buf,
        area,
        theme,
        &COLUMNS,
        None,
        rows.len(),
        cursor,
        focused,
        |i| {
            let h = &rows[i];
            let state_style = if h.up {
                theme.ok()
            } else if h.state == "connecting" {
                theme.dim()
            } else {
                theme.error()
            };
            let sym = if h.up {
                "▲"
            } else if h.state == "connecting" {
                "…"
            } else {
                "✖"
            };
            let name = if h.current && !fleet {
                format!("{} (current)", h.name)
            } else {
                h.name.clone()
            };
            Row {
                cells: vec![
                    Span::raw(name),
                    Span::raw(h.engine.clone()),
                    Span::styled(h.version.clone(), theme.dim()),
                    Span::styled(format!("{sym} {}", h.state), state_style),
                    match h.latency_ms {
                        Some(ms) => Span::raw(format!("{ms:.1} ms")),
                        None => Span::styled("-", theme.dim()),
                    },
                    Span::styled(h.url.clone(), theme.dim()),
                ],
                marked: false,
            }
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::render;

    #[test]
    fn hosts_show_their_state_engine_and_latency() {
        let rows = vec![
            HostRow {
                name: "local".into(),
                engine: "local".into(),
                version: "wharf 0.1.0".into(),
                state: "up".into(),
                up: true,
                latency_ms: Some(0.4),
                url: "local".into(),
                current: true,
            },
            HostRow {
                name: "lab-02".into(),
                engine: "docker".into(),
                version: "docker 20.10.24".into(),
                state: "down: connection refused".into(),
                up: false,
                latency_ms: None,
                url: "unix:///run/docker.sock".into(),
                current: false,
            },
        ];
        let theme = Theme::default();
        let mut c = ListCursor::default();
        let s = render(110, 5, |f| {
            draw(f, f.area(), &theme, &rows, false, &mut c, true)
        });
        assert!(s.contains("local (current)"), "{s}");
        assert!(s.contains("docker 20.10.24"), "{s}");
        assert!(s.contains("✖ down: connection refused"), "{s}");
        assert!(s.contains("0.4 ms"), "{s}");
    }
}
