//! The stats pane. The engine has no stats API yet, so this pane says so instead of
//! showing numbers; it draws the message it is given.

use ratatui::layout::Rect;
use ratatui::Frame;

use crate::table::draw_message;
use crate::theme::Theme;

/// Draw why there are no statistics (and what would provide them).
pub fn draw_unavailable(f: &mut Frame, area: Rect, theme: &Theme, why: &str) {
    draw_message(
        f.buffer_mut(),
        area,
        &[
            ("Live statistics are not available.".into(), theme.text()),
            (why.to_string(), theme.dim()),
        ],
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::render;

    #[test]
    fn unavailable() {
        insta::assert_snapshot!(render(80, 5, |f| draw_unavailable(
            f,
            f.area(),
            &Theme::default(),
            "this engine has no stats API yet: CPU %, MEM and NET I/O show `-`"
        )));
    }
}
