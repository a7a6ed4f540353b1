//! The `:` command line with completion, and the `/` filter line, drawn in the footer row.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::Frame;

use crate::theme::Theme;

/// Completions for what has been typed: command names (`commands`, the caller's, in
/// order), or container names after a command of `with_name` and a space (`logs w`).
pub fn complete(input: &str, commands: &[&str], with_name: &[&str], names: &[&str]) -> Vec<String> {
    let input = input.trim_start();
    if let Some((cmd, arg)) = input.split_once(' ') {
        if !with_name.contains(&cmd) {
            return Vec::new();
        }
        let arg = arg.trim_start();
        return names
            .iter()
            .filter(|n| n.starts_with(arg))
            .map(|n| format!("{cmd} {n}"))
            .collect();
    }
    commands
        .iter()
        .filter(|c| c.starts_with(input) && c.len() > 1)
        .map(|c| c.to_string())
        .collect()
}

/// Draw `:input` (or `/input`) with the first completion as ghost text and the others listed.
pub fn draw(
    f: &mut Frame,
    area: Rect,
    theme: &Theme,
    prompt: char,
    input: &str,
    completions: &[String],
    error: Option<&str>,
) {
    let mut spans = vec![
        Span::styled(format!(" {prompt}"), theme.accent()),
        Span::raw(input.to_string()),
    ];
    if let Some(first) = completions.first() {
        if let Some(rest) = first.strip_prefix(input) {
            spans.push(Span::styled(rest.to_string(), theme.dim()));
        }
    }
    spans.push(Span::styled("█", theme.accent()));
    if let Some(e) = error {
        spans.push(Span::styled(format!("  ✖ {e}"), theme.error()));
    } else if completions.len() > 1 {
        spans.push(Span::styled(
            format!("   Tab: {}", completions.join("  ")),
            theme.dim(),
        ));
    } else if prompt == '/' {
        spans.push(Span::styled(
            "   text, /regex/ or label=value · Enter keeps · Esc clears",
            theme.dim(),
        ));
    }
    f.render_widget(Line::from(spans), area);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::render;

    const COMMANDS: [&str; 11] = [
        "containers",
        "images",
        "networks",
        "volumes",
        "stats",
        "events",
        "logs",
        "log",
        "help",
        "quit",
        "q",
    ];

    #[test]
    fn completes_commands_and_names() {
        assert_eq!(complete("im", &COMMANDS, &["logs"], &[]), vec!["images"]);
        assert_eq!(
            complete("logs w", &COMMANDS, &["logs"], &["web-1", "db", "worker"]),
            vec!["logs web-1", "logs worker"]
        );
        assert!(complete("zz", &COMMANDS, &["logs"], &[]).is_empty());
        assert!(complete("images w", &COMMANDS, &["logs"], &["web-1"]).is_empty());
    }

    #[test]
    fn command_line() {
        let c = complete("logs w", &COMMANDS, &["logs"], &["web-1", "worker"]);
        insta::assert_snapshot!(render(80, 1, |f| draw(
            f,
            f.area(),
            &Theme::default(),
            ':',
            "logs w",
            &c,
            None
        )));
    }

    #[test]
    fn filter_line_and_error() {
        insta::assert_snapshot!(render(80, 1, |f| draw(
            f,
            f.area(),
            &Theme::default(),
            '/',
            "web",
            &[],
            None
        )));
        insta::assert_snapshot!(render(80, 1, |f| draw(
            f,
            f.area(),
            &Theme::default(),
            ':',
            "frobnicate",
            &[],
            Some("unknown command")
        )));
    }
}
