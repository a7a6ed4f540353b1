//! The images table: REPOSITORY:TAG, ID, SIZE, CREATED, CONTAINERS (using it). One row
//! per reference, as `docker images` shows them; untagged images show `<none>`.

use std::collections::HashSet;

use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::Frame;
use wharf_engine::api::ImageSummary;

use crate::table::{self, Column, Row};
use crate::theme::Theme;
use crate::util::{ago, dsize, short_id, short_ref};
use crate::{ListCursor, Load};

/// Columns, in order.
pub const COLUMNS: [Column; 5] = [
    Column {
        title: "REPOSITORY:TAG",
        width: 24,
        flex: true,
        priority: 0,
    },
    Column {
        title: "ID",
        width: 12,
        flex: false,
        priority: 1,
    },
    Column {
        title: "SIZE",
        width: 9,
        flex: false,
        priority: 2,
    },
    Column {
        title: "CREATED",
        width: 11,
        flex: false,
        priority: 3,
    },
    Column {
        title: "CONTAINERS",
        width: 10,
        flex: false,
        priority: 4,
    },
];

/// One row: a reference (or `<none>`) and its image.
#[derive(Debug, Clone)]
pub struct ImageRow<'a> {
    pub reference: String,
    pub image: &'a ImageSummary,
}

/// One row per tag (one `<none>` row for an untagged image), sorted by reference.
pub fn rows(images: &[ImageSummary]) -> Vec<ImageRow<'_>> {
    let mut out = Vec::new();
    for i in images {
        if i.repo_tags.is_empty() {
            out.push(ImageRow {
                reference: "<none>:<none>".into(),
                image: i,
            });
        }
        for t in &i.repo_tags {
            out.push(ImageRow {
                reference: short_ref(t).to_string(),
                image: i,
            });
        }
    }
    out.sort_by(|a, b| a.reference.cmp(&b.reference));
    out
}

/// Everything the images pane draws.
pub struct Model<'a> {
    pub load: &'a Load<()>,
    pub rows: &'a [ImageRow<'a>],
    pub total: usize,
    /// Marked rows, by reference.
    pub marked: &'a HashSet<String>,
    pub filter: &'a str,
    /// Key that builds the demo image, from the keymap.
    pub demo_key: Option<&'a str>,
    pub now: i64,
    pub focused: bool,
}

/// Draw the pane.
pub fn draw(f: &mut Frame, area: Rect, theme: &Theme, m: &Model, cursor: &mut ListCursor) {
    let buf = f.buffer_mut();
    let lines = table::load_lines(m.load, "loading images…", "cannot list images", theme).or_else(
        || match m.load {
            Load::Ready(()) if m.rows.is_empty() && m.total == 0 => {
                let mut l = vec![
                    ("No images yet.".to_string(), theme.text()),
                    (
                        "Build the offline demo image with `wharf image demo`,".into(),
                        theme.accent(),
                    ),
                    ("or pull one with `wharf pull busybox`.".into(), theme.dim()),
                ];
                if let Some(k) = m.demo_key {
                    l.insert(2, (format!("or press {k} here;"), theme.accent()));
                }
                Some(l)
            }
            Load::Ready(()) if m.rows.is_empty() => Some(vec![
                (format!("No image matches /{}.", m.filter), theme.text()),
                ("Esc clears the filter.".into(), theme.dim()),
            ]),
            _ => None,
        },
    );
    if let Some(lines) = lines {
        return table::draw_empty(buf, area, theme, &COLUMNS, None, &lines);
    }
    table::draw_rows(
        buf,
        area,
        theme,
        &COLUMNS,
        None,
        m.rows.len(),
        cursor,
        m.focused,
        |i| {
            let r = &m.rows[i];
            Row {
                cells: vec![
                    Span::raw(r.reference.as_str()),
                    Span::styled(short_id(&r.image.id), theme.dim()),
                    Span::raw(dsize(r.image.size)),
                    Span::styled(ago(r.image.created, m.now), theme.dim()),
                    if r.image.containers > 0 {
                        Span::styled(r.image.containers.to_string(), theme.ok())
                    } else {
                        Span::styled("0", theme.dim())
                    },
                ],
                marked: m.marked.contains(&r.reference),
            }
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{render, NOW};

    fn images() -> Vec<ImageSummary> {
        vec![
            ImageSummary {
                id: "sha256:4a2b9c0d1e2f3a4b5c6d7e8f".into(),
                repo_tags: vec![
                    "docker.io/library/busybox:latest".into(),
                    "wharf/demo:latest".into(),
                ],
                repo_digests: vec![],
                created: NOW - 7200,
                size: 2_180_000,
                containers: 2,
            },
            ImageSummary {
                id: "sha256:99aa88bb77cc66dd55ee".into(),
                repo_tags: vec![],
                repo_digests: vec![],
                created: NOW - 86400 * 3,
                size: 74_500_000,
                containers: 0,
            },
        ]
    }

    fn shot(w: u16, load: Load<()>, imgs: &[ImageSummary]) -> String {
        let rows = rows(imgs);
        let marked = HashSet::new();
        let m = Model {
            load: &load,
            rows: &rows,
            total: imgs.len(),
            marked: &marked,
            filter: "",
            demo_key: Some("D"),
            now: NOW,
            focused: true,
        };
        let mut cur = ListCursor::default();
        render(w, 7, |f| draw(f, f.area(), &Theme::default(), &m, &mut cur))
    }

    #[test]
    fn populated() {
        insta::assert_snapshot!(shot(100, Load::Ready(()), &images()));
    }
    #[test]
    fn narrow() {
        insta::assert_snapshot!(shot(40, Load::Ready(()), &images()));
    }
    #[test]
    fn empty() {
        insta::assert_snapshot!(shot(80, Load::Ready(()), &[]));
    }
    #[test]
    fn error() {
        insta::assert_snapshot!(shot(
            80,
            Load::Error("image store is corrupt: blob sha256:12 missing".into()),
            &[]
        ));
    }
}
