//! A fast table drawn straight into the buffer: columns with priorities (the least
//! important drop first when the terminal is narrow), a sort arrow, a selection
//! marker `▶` and marks `*` in a three-column gutter. Only the visible rows are built.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Span;

use crate::theme::Theme;

/// A column of a table.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub title: &'static str,
    /// Width it gets at least, in cells.
    pub width: u16,
    /// Takes a share of the spare width.
    pub flex: bool,
    /// 0 is kept longest; higher numbers drop first.
    pub priority: u8,
}

/// Width of the gutter: selection marker, mark, space.
pub const GUTTER: u16 = 3;

/// Which columns fit into `width` and how wide each one is, in table order.
pub fn fit_columns(cols: &[Column], width: u16) -> Vec<(usize, u16)> {
    let mut keep: Vec<usize> = (0..cols.len()).collect();
    let need =
        |keep: &[usize]| -> u16 { GUTTER + keep.iter().map(|&i| cols[i].width + 1).sum::<u16>() };
    while keep.len() > 1 && need(&keep) > width {
        let (pos, _) = keep
            .iter()
            .enumerate()
            .max_by_key(|(_, &i)| (cols[i].priority, i))
            .expect("non-empty");
        keep.remove(pos);
    }
    let spare = width.saturating_sub(need(&keep));
    let flex = keep.iter().filter(|&&i| cols[i].flex).count() as u16;
    let mut given = 0;
    let mut out = Vec::with_capacity(keep.len());
    let mut nflex = 0;
    for &i in &keep {
        let mut w = cols[i].width;
        if cols[i].flex && flex > 0 {
            nflex += 1;
            let share = if nflex == flex {
                spare - given
            } else {
                spare / flex
            };
            given += share;
            w += share;
        }
        out.push((i, w));
    }
    out
}

/// The column (index into `cols`) under `x`, for a table `width` wide starting at `left`.
pub fn column_at(cols: &[Column], left: u16, width: u16, x: u16) -> Option<usize> {
    let mut at = left + GUTTER;
    for (i, w) in fit_columns(cols, width) {
        if x >= at && x < at + w + 1 {
            return Some(i);
        }
        at += w + 1;
    }
    None
}

/// One visible row: its cells (by column index) and whether it is marked.
pub struct Row<'a> {
    pub cells: Vec<Span<'a>>,
    pub marked: bool,
}

/// Draw a header line and `rows` (already the visible window) into `area`.
/// `selected` is the index of the selected row within `rows`; `sort` is the sorted
/// column index and whether it is descending.
#[allow(clippy::too_many_arguments)]
pub fn draw(
    buf: &mut Buffer,
    area: Rect,
    theme: &Theme,
    cols: &[Column],
    layout: &[(usize, u16)],
    sort: Option<(usize, bool)>,
    rows: &[Row<'_>],
    selected: Option<usize>,
    focused: bool,
) {
    if area.height == 0 || area.width == 0 {
        return;
    }
    let mut x = area.x + GUTTER;
    for &(i, w) in layout {
        let mut title = cols[i].title.to_string();
        if let Some((s, desc)) = sort {
            if s == i {
                title.push_str(if desc { " ▼" } else { " ▲" });
            }
        }
        let room = area.right().saturating_sub(x);
        buf.set_stringn(x, area.y, &title, w.min(room) as usize, theme.column());
        x = x.saturating_add(w + 1);
        if x >= area.right() {
            break;
        }
    }
    for (n, row) in rows.iter().enumerate() {
        let y = area.y + 1 + n as u16;
        if y >= area.bottom() {
            break;
        }
        let is_sel = selected == Some(n);
        let line = Rect {
            x: area.x,
            y,
            width: area.width,
            height: 1,
        };
        if is_sel && focused {
            buf.set_style(line, theme.selected());
        }
        if is_sel {
            buf.set_string(area.x, y, "▶", theme.accent());
        }
        if row.marked {
            buf.set_string(area.x + 1, y, "*", theme.warn());
        }
        let mut x = area.x + GUTTER;
        for &(i, w) in layout {
            if let Some(cell) = row.cells.get(i) {
                let room = area.right().saturating_sub(x).min(w) as usize;
                let text = crate::util::fit(&cell.content, room);
                let style: Style = cell.style;
                buf.set_stringn(x, y, &text, room, style);
            }
            x = x.saturating_add(w + 1);
            if x >= area.right() {
                break;
            }
        }
    }
}

/// The lines a pane shows while its list is not there: loading, the engine's error, or why
/// it is unavailable; `None` once the list is ready.
pub fn load_lines<T>(
    load: &crate::Load<T>,
    loading: &str,
    failed: &str,
    theme: &Theme,
) -> Option<Vec<(String, Style)>> {
    match load {
        crate::Load::Loading => Some(vec![(loading.to_string(), theme.dim())]),
        crate::Load::Error(e) => Some(vec![
            (failed.to_string(), theme.error()),
            (e.clone(), theme.text()),
        ]),
        crate::Load::Unavailable(w) => Some(vec![(w.clone(), theme.dim())]),
        crate::Load::Ready(_) => None,
    }
}

/// A table with nothing to list: its header, and `lines` centred below it.
pub fn draw_empty(
    buf: &mut Buffer,
    area: Rect,
    theme: &Theme,
    cols: &[Column],
    sort: Option<(usize, bool)>,
    lines: &[(String, Style)],
) {
    let layout = fit_columns(cols, area.width);
    draw(buf, area, theme, cols, &layout, sort, &[], None, false);
    let body = Rect {
        y: area.y + 1,
        height: area.height.saturating_sub(1),
        ..area
    };
    draw_message(buf, body, lines);
}

/// A table of `len` rows under its header: the cursor scrolls to keep its selection in
/// view, and only the rows in the window are built, by `row(index)`.
#[allow(clippy::too_many_arguments)]
pub fn draw_rows<'a>(
    buf: &mut Buffer,
    area: Rect,
    theme: &Theme,
    cols: &[Column],
    sort: Option<(usize, bool)>,
    len: usize,
    cursor: &mut crate::ListCursor,
    focused: bool,
    row: impl FnMut(usize) -> Row<'a>,
) {
    let layout = fit_columns(cols, area.width);
    let height = area.height.saturating_sub(1) as usize;
    let off = cursor.scroll(height, len);
    let end = (off + height).min(len);
    let rows: Vec<Row> = (off..end).map(row).collect();
    let selected = Some(cursor.selected.saturating_sub(off));
    draw(
        buf, area, theme, cols, &layout, sort, &rows, selected, focused,
    );
}

/// Write a centred hint (empty states, errors) into `area`, one line per `lines` entry.
pub fn draw_message(buf: &mut Buffer, area: Rect, lines: &[(String, Style)]) {
    let top = area.y + area.height.saturating_sub(lines.len() as u16) / 2;
    for (n, (text, style)) in lines.iter().enumerate() {
        let y = top + n as u16;
        if y >= area.bottom() {
            break;
        }
        let t = crate::util::fit(text, area.width as usize);
        let w = crate::util::width(&t) as u16;
        let x = area.x + area.width.saturating_sub(w) / 2;
        buf.set_string(x, y, &t, *style);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn column_at_follows_the_layout() {
        let cols = [
            Column {
                title: "A",
                width: 4,
                flex: false,
                priority: 0,
            },
            Column {
                title: "B",
                width: 6,
                flex: false,
                priority: 1,
            },
        ];
        // Gutter 3, then A in 3..8 (width 4 + a space), B in 8..15.
        assert_eq!(column_at(&cols, 0, 40, 1), None);
        assert_eq!(column_at(&cols, 0, 40, 3), Some(0));
        assert_eq!(column_at(&cols, 0, 40, 7), Some(0));
        assert_eq!(column_at(&cols, 0, 40, 8), Some(1));
        assert_eq!(column_at(&cols, 0, 40, 20), None);
        // Too narrow for B: it is dropped.
        assert_eq!(column_at(&cols, 0, 9, 8), None);
    }

    use super::*;

    const COLS: [Column; 3] = [
        Column {
            title: "A",
            width: 10,
            flex: true,
            priority: 0,
        },
        Column {
            title: "B",
            width: 10,
            flex: false,
            priority: 2,
        },
        Column {
            title: "C",
            width: 10,
            flex: false,
            priority: 1,
        },
    ];

    #[test]
    fn drops_by_priority_and_shares_spare() {
        assert_eq!(fit_columns(&COLS, 40), vec![(0, 14), (1, 10), (2, 10)]);
        assert_eq!(fit_columns(&COLS, 30), vec![(0, 15), (2, 10)]);
        assert_eq!(fit_columns(&COLS, 5), vec![(0, 10)]);
    }
}
