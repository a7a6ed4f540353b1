//! Colours and emphasis, in one place. With `NO_COLOR` set, styles keep only
//! modifiers (bold, reverse, dim), so every state still reads through its symbol.

use ratatui::style::{Color, Modifier, Style};
use wharf_engine::api::{ContainerStatus, ContainerSummary};

/// The palette in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    /// False when `NO_COLOR` is set (or the terminal has no colour).
    pub color: bool,
}

impl Default for Theme {
    fn default() -> Self {
        Theme { color: true }
    }
}

impl Theme {
    /// Colour unless `NO_COLOR` is set to a non-empty value (no-color.org).
    pub fn from_env() -> Self {
        Theme {
            color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        }
    }

    fn fg(&self, c: Color) -> Style {
        if self.color {
            Style::new().fg(c)
        } else {
            Style::new()
        }
    }

    /// Plain text.
    pub fn text(&self) -> Style {
        Style::new()
    }
    /// Secondary text (ids, times, hints).
    pub fn dim(&self) -> Style {
        if self.color {
            Style::new().fg(Color::DarkGray)
        } else {
            Style::new().add_modifier(Modifier::DIM)
        }
    }
    /// Titles, headers, keys in hints.
    pub fn accent(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }
    /// Column headers.
    pub fn column(&self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }
    /// The selected row.
    pub fn selected(&self) -> Style {
        if self.color {
            Style::new()
                .bg(Color::Rgb(40, 60, 90))
                .add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::REVERSED)
        }
    }
    /// Borders and rules.
    pub fn border(&self) -> Style {
        self.fg(Color::DarkGray)
    }
    /// Success notifications.
    pub fn ok(&self) -> Style {
        self.fg(Color::Green)
    }
    /// Warnings.
    pub fn warn(&self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }
    /// Errors.
    pub fn error(&self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }
    /// Search matches.
    pub fn highlight(&self) -> Style {
        if self.color {
            Style::new().bg(Color::Yellow).fg(Color::Black)
        } else {
            Style::new().add_modifier(Modifier::REVERSED)
        }
    }
    /// The current search match.
    pub fn current_match(&self) -> Style {
        if self.color {
            Style::new()
                .bg(Color::LightRed)
                .fg(Color::Black)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD | Modifier::UNDERLINED)
        }
    }

    /// Symbol and style of a container's state: running green ▲, paused yellow ‖,
    /// exited grey ■, failed/OOM/dead red ✖, restarting blue ↻, created ○.
    pub fn state(&self, c: &ContainerSummary) -> (&'static str, Style) {
        match c.state {
            ContainerStatus::Running => ("▲", self.fg(Color::Green)),
            ContainerStatus::Paused => ("‖", self.fg(Color::Yellow)),
            ContainerStatus::Restarting => ("↻", self.fg(Color::Blue)),
            ContainerStatus::Created => ("○", self.fg(Color::Gray)),
            ContainerStatus::Removing => ("✖", self.fg(Color::Magenta)),
            ContainerStatus::Dead => ("✖", self.fg(Color::Red)),
            ContainerStatus::Exited => {
                if c.oom_killed || c.exit_code.is_some_and(|e| e != 0) {
                    ("✖", self.fg(Color::Red))
                } else {
                    ("■", self.fg(Color::Gray))
                }
            }
        }
    }
}
