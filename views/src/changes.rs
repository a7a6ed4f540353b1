//! A container's changes (`wharf diff`): one line per path of its writable layer, as
//! `docker diff` prints them, `A` added, `C` changed, `D` deleted (the letter coloured
//! too). Drawn under the containers list.

use ratatui::layout::Rect;
use ratatui::Frame;
use wharf_engine::api::{Change, ChangeKind};

use crate::table::{draw_message, load_lines};
use crate::theme::Theme;
use crate::util::fit;
use crate::Load;

/// `2 added, 1 changed, 0 deleted`.
pub fn summary(changes: &[Change]) -> String {
    let n = |k: ChangeKind| changes.iter().filter(|c| c.kind == k).count();
    format!(
        "{} added, {} changed, {} deleted",
        n(ChangeKind::Added),
        n(ChangeKind::Modified),
        n(ChangeKind::Deleted)
    )
}

/// Draw `changes` into `area` from line `scroll` on (clamped so the last line stays in
/// view); the scroll used.
pub fn draw(
    f: &mut Frame,
    area: Rect,
    theme: &Theme,
    changes: &Load<Vec<Change>>,
    scroll: usize,
) -> usize {
    let buf = f.buffer_mut();
    if let Some(lines) = load_lines(
        changes,
        "reading its changes…",
        "cannot list its changes",
        theme,
    ) {
        draw_message(buf, area, &lines);
        return 0;
    }
    let Load::Ready(v) = changes else { return 0 };
    if v.is_empty() {
        draw_message(
            buf,
            area,
            &[
                (
                    "No changes: its files are as the image has them.".into(),
                    theme.text(),
                ),
                (
                    "Files it writes, adds or deletes show here (A, C, D).".into(),
                    theme.dim(),
                ),
            ],
        );
        return 0;
    }
    let room = area.height as usize;
    let scroll = scroll.min(v.len().saturating_sub(room));
    for (k, c) in v.iter().skip(scroll).take(room).enumerate() {
        let y = area.y + k as u16;
        let style = match c.kind {
            ChangeKind::Added => theme.ok(),
            ChangeKind::Modified => theme.warn(),
            ChangeKind::Deleted => theme.error(),
        };
        buf.set_string(area.x, y, c.kind.letter().to_string(), style);
        buf.set_string(
            area.x + 2,
            y,
            fit(&c.path, (area.width as usize).saturating_sub(2)),
            theme.text(),
        );
    }
    scroll
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::render;

    fn changes() -> Vec<Change> {
        [
            (ChangeKind::Modified, "/etc"),
            (ChangeKind::Added, "/etc/motd"),
            (ChangeKind::Deleted, "/www/index.html"),
            (ChangeKind::Added, "/tmp/lab.txt"),
        ]
        .iter()
        .map(|(kind, path)| Change {
            kind: *kind,
            path: path.to_string(),
        })
        .collect()
    }

    #[test]
    fn changes_as_docker_diff_prints_them() {
        let v = changes();
        assert_eq!(summary(&v), "2 added, 1 changed, 1 deleted");
        let l = Load::Ready(v);
        insta::assert_snapshot!(render(40, 4, |f| {
            draw(f, f.area(), &Theme::default(), &l, 0);
        }));
        insta::assert_snapshot!(render(60, 4, |f| {
            draw(f, f.area(), &Theme::default(), &Load::Ready(vec![]), 0);
        }));
        let s = render(40, 2, |f| {
            assert_eq!(draw(f, f.area(), &Theme::default(), &l, 5), 2);
        });
        assert!(s.contains("/tmp/lab.txt"), "{s}");
    }
}
