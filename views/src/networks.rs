//! The networks table: NAME, DRIVER, SUBNET, GATEWAY, CONTAINERS.

use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::Frame;

use crate::table::{self, Column, Row};
use crate::theme::Theme;
use crate::{ListCursor, Load};

/// Columns, in order.
pub const COLUMNS: [Column; 5] = [
    Column {
        title: "NAME",
        width: 16,
        flex: true,
        priority: 0,
    },
    Column {
        title: "DRIVER",
        width: 8,
        flex: false,
        priority: 3,
    },
    Column {
        title: "SUBNET",
        width: 18,
        flex: false,
        priority: 1,
    },
    Column {
        title: "GATEWAY",
        width: 15,
        flex: false,
        priority: 2,
    },
    Column {
        title: "CONTAINERS",
        width: 12,
        flex: true,
        priority: 4,
    },
];

/// One network as the pane shows it (filled from the engine's network list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkRow {
    pub name: String,
    pub driver: String,
    pub subnet: String,
    pub gateway: String,
    /// Names of the running containers on it.
    pub containers: Vec<String>,
}

/// Draw the pane.
pub fn draw(
    f: &mut Frame,
    area: Rect,
    theme: &Theme,
    load: &Load<()>,
    rows: &[&NetworkRow],
    cursor: &mut ListCursor,
    focused: bool,
) {
    let buf = f.buffer_mut();
    let lines = table::load_lines(load, "loading networks…", "cannot list networks", theme);
    if lines.is_some() || rows.is_empty() {
        let lines = lines.unwrap_or_else(|| {
            vec![
                ("No networks.".into(), theme.text()),
                (
                    "Create one with `wharf network create NAME`.".into(),
                    theme.accent(),
                ),
            ]
        });
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
            let n = rows[i];
            Row {
                cells: vec![
                    Span::raw(n.name.as_str()),
                    Span::styled(n.driver.as_str(), theme.dim()),
                    Span::raw(n.subnet.as_str()),
                    Span::raw(n.gateway.as_str()),
                    Span::raw(if n.containers.is_empty() {
                        "0".to_string()
                    } else {
                        format!("{}: {}", n.containers.len(), n.containers.join(", "))
                    }),
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

    fn shot(w: u16, load: Load<Vec<NetworkRow>>) -> String {
        let mut cur = ListCursor::default();
        let rows: Vec<&NetworkRow> = match &load {
            Load::Ready(r) => r.iter().collect(),
            _ => vec![],
        };
        let load = match &load {
            Load::Ready(_) => Load::Ready(()),
            Load::Loading => Load::Loading,
            Load::Error(e) => Load::Error(e.clone()),
            Load::Unavailable(e) => Load::Unavailable(e.clone()),
        };
        render(w, 6, |f| {
            draw(f, f.area(), &Theme::default(), &load, &rows, &mut cur, true)
        })
    }

    #[test]
    fn populated_and_narrow() {
        let rows = vec![
            NetworkRow {
                name: "bridge".into(),
                driver: "bridge".into(),
                subnet: "172.17.0.0/16".into(),
                gateway: "172.17.0.1".into(),
                containers: vec!["web-1".into(), "db".into(), "worker-3".into()],
            },
            NetworkRow {
                name: "none".into(),
                driver: "null".into(),
                subnet: String::new(),
                gateway: String::new(),
                containers: vec!["batch".into()],
            },
        ];
        insta::assert_snapshot!(shot(90, Load::Ready(rows.clone())));
        insta::assert_snapshot!(shot(40, Load::Ready(rows)));
    }
    #[test]
    fn empty_error_unavailable() {
        insta::assert_snapshot!(shot(80, Load::Ready(vec![])));
        insta::assert_snapshot!(shot(80, Load::Error("network store unreadable".into())));
        insta::assert_snapshot!(shot(
            80,
            Load::Unavailable("networks: this engine has no network API yet".into())
        ));
    }
}
