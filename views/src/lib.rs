//! wharf-views: everything that draws. Panes take view-models (plain data, mostly the
//! engine's API types) and draw them into a ratatui frame; they read no files and call
//! no engine.
//!
//! One file per drawn block (oxker-style), each with snapshot tests on ratatui's
//! `TestBackend`: [`header`], [`tabs`], [`containers`], [`images`], [`networks`],
//! [`volumes`], [`stats`], [`events`], [`logs`], [`inspect`], [`help`], [`footer`],
//! [`dialog`], [`run_form`], [`applog`], [`command`]; the forms ([`form`], [`forms`]),
//! a container's processes and changes ([`procs`], [`changes`]), [`disk_usage`]; the
//! [`registries`] and [`accounts`] panes; the [`build`] pane.

pub mod accounts;
pub mod applog;
pub mod build;
pub mod changes;
pub mod command;
pub mod containers;
pub mod cursor;
pub mod dialog;
pub mod disk_usage;
pub mod events;
pub mod footer;
pub mod form;
pub mod forms;
pub mod header;
pub mod help;
pub mod hosts;
pub mod images;
pub mod inspect;
pub mod logs;
pub mod networks;
pub mod procs;
pub mod registries;
pub mod run_form;
pub mod stacks;
pub mod stats;
pub mod table;
pub mod tabs;
pub mod teach;
pub mod theme;
pub mod trace;
pub mod util;
pub mod volumes;

pub use cursor::ListCursor;
pub use theme::Theme;

/// What a pane shows while its data is not (yet) a list of rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Load<T> {
    /// The first answer from the engine has not arrived yet.
    Loading,
    /// The engine answered.
    Ready(T),
    /// The engine refused or failed; the message is the engine's.
    Error(String),
    /// This engine has no such API yet (say which part is missing).
    Unavailable(String),
}

impl<T> Load<T> {
    /// The data, if any.
    pub fn ready(&self) -> Option<&T> {
        match self {
            Load::Ready(t) => Some(t),
            _ => None,
        }
    }

    /// The same state with the data changed by `f`.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Load<U> {
        match self {
            Load::Loading => Load::Loading,
            Load::Ready(t) => Load::Ready(f(t)),
            Load::Error(e) => Load::Error(e),
            Load::Unavailable(e) => Load::Unavailable(e),
        }
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    /// Draw with `f` on a `w`x`h` test terminal and return the screen as text.
    pub fn render(w: u16, h: u16, f: impl FnOnce(&mut ratatui::Frame)) -> String {
        let mut t = Terminal::new(TestBackend::new(w, h)).expect("test backend");
        t.draw(f).expect("draw");
        t.backend().to_string()
    }

    /// Fixed "now" for snapshots: 2026-01-01T00:00:00Z.
    pub const NOW: i64 = 1_767_225_600;
}
