//! The volumes table: NAME, DRIVER, MOUNTPOINT, SIZE, USED BY.

use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::Frame;

use crate::table::{self, Column, Row};
use crate::theme::Theme;
use crate::util::dsize;
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
        width: 7,
        flex: false,
        priority: 3,
    },
    Column {
        title: "MOUNTPOINT",
        width: 24,
        flex: true,
        priority: 2,
    },
    Column {
        title: "SIZE",
        width: 9,
        flex: false,
        priority: 4,
    },
    Column {
        title: "USED BY",
        width: 16,
        flex: false,
        priority: 1,
    },
];

/// One volume as the pane shows it (filled from the engine's volume list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeRow {
    pub name: String,
    pub driver: String,
    pub mountpoint: String,
    /// `None` until measured.
    pub size: Option<u64>,
    /// How many containers use it; `None` when the engine did not say.
    pub used_by: Option<u64>,
}

/// Draw the pane.
pub fn draw(
    f: &mut Frame,
    area: Rect,
    theme: &Theme,
    load: &Load<Vec<VolumeRow>>,
    cursor: &mut ListCursor,
    focused: bool,
) {
    let buf = f.buffer_mut();
    let lines = table::load_lines(load, "loading volumes…", "cannot list volumes", theme);
    let rows = match load {
        Load::Ready(r) if !r.is_empty() => r,
        _ => {
            let lines = lines.unwrap_or_else(|| {
                vec![
                    ("No volumes.".into(), theme.text()),
                    ("Create one with `wharf volume create NAME`, or run a container with -v NAME:/path.".into(), theme.accent()),
                ]
            });
            return table::draw_empty(buf, area, theme, &COLUMNS, None, &lines);
        }
    };
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
            let v = &rows[i];
            Row {
                cells: vec![
                    Span::raw(v.name.as_str()),
                    Span::styled(v.driver.as_str(), theme.dim()),
                    Span::styled(v.mountpoint.as_str(), theme.dim()),
                    Span::raw(v.size.map(dsize).unwrap_or_else(|| "-".into())),
                    match v.used_by {
                        None => Span::styled("-", theme.dim()),
                        Some(0) => Span::styled("unused", theme.dim()),
                        Some(1) => Span::raw("1 container"),
                        Some(n) => Span::raw(format!("{n} containers")),
                    },
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

    fn shot(w: u16, load: Load<Vec<VolumeRow>>) -> String {
        let mut cur = ListCursor::default();
        render(w, 6, |f| {
            draw(f, f.area(), &Theme::default(), &load, &mut cur, true)
        })
    }

    #[test]
    fn populated_and_narrow() {
        let rows = vec![
            VolumeRow {
                name: "pgdata".into(),
                driver: "local".into(),
                mountpoint: "/var/lib/wharf/volumes/pgdata/_data".into(),
                size: Some(48_000_000),
                used_by: Some(1),
            },
            VolumeRow {
                name: "cache".into(),
                driver: "local".into(),
                mountpoint: "/var/lib/wharf/volumes/cache/_data".into(),
                size: None,
                used_by: Some(0),
            },
        ];
        insta::assert_snapshot!(shot(110, Load::Ready(rows.clone())));
        insta::assert_snapshot!(shot(50, Load::Ready(rows)));
    }
    #[test]
    fn empty_error_unavailable() {
        insta::assert_snapshot!(shot(100, Load::Ready(vec![])));
        insta::assert_snapshot!(shot(80, Load::Error("volume store unreadable".into())));
        insta::assert_snapshot!(shot(
            80,
            Load::Unavailable("volumes: this engine has no volume API yet".into())
        ));
    }
}
