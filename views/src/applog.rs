//! The console's own log (tui-logger): what the console did and what went wrong,
//! including details of notifications.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::Frame;
use tui_logger::{TuiLoggerLevelOutput, TuiLoggerWidget};

use crate::theme::Theme;

/// Draw the console's log, newest at the bottom.
pub fn draw(f: &mut Frame, area: Rect, theme: &Theme) {
    let w = TuiLoggerWidget::default()
        .style_error(theme.error())
        .style_warn(theme.warn())
        .style_info(theme.text())
        .style_debug(theme.dim())
        .style_trace(theme.dim())
        .output_separator(' ')
        .output_timestamp(Some("%H:%M:%S".into()))
        .output_level(Some(TuiLoggerLevelOutput::Abbreviated))
        .output_target(false)
        .output_file(false)
        .output_line(false)
        .style(Style::default());
    f.render_widget(w, area);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::render;

    #[test]
    fn shows_what_the_console_logged() {
        use tracing_subscriber::layer::SubscriberExt;
        tui_logger::init_logger(tui_logger::LevelFilter::Info).expect("logger");
        let sub = tracing_subscriber::registry().with(tui_logger::TuiTracingSubscriberLayer);
        tracing::subscriber::with_default(sub, || {
            tracing::warn!("keymap /x.json: unknown action \"frob\"")
        });
        tui_logger::move_events();
        let s = render(80, 3, |f| draw(f, f.area(), &Theme::default()));
        assert!(s.contains("unknown action \"frob\""), "{s}");
        assert!(s.contains(" W "), "level shown: {s}");
    }
}
