//! What keys are bound to: named actions. Each has a name for keymap files, a short
//! label for the footer, a description for the help, and the engine permission it needs
//! (`wharf_engine::policy::Action`), so that a role that lacks it is not offered it.
//!
//! The shell's own actions (leave, help, tabs, moving in lists) are here, with the few
//! that several panes offer (inspect, mark, search). A pane declares the rest next to the
//! code that does them (`panes::containers::STOP`), and lists what it offers in its
//! [`PaneInfo`](super::panes::PaneInfo); the keymap, the footer, the help and the `:`
//! list are built from those lists.

use wharf_engine::policy::Action as Perm;

/// An action a key can be bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Action {
    /// The name in keymap files (`stop`, `image-remove`).
    pub name: &'static str,
    /// The footer's label (`pause` for `pause-toggle`).
    pub short: &'static str,
    /// What it does, for the help.
    pub description: &'static str,
    /// The engine permission it needs (`container.stop`), if it asks the engine to act.
    pub permission: Option<Perm>,
}

impl Action {
    /// An action that needs no permission; its footer label is its name.
    pub const fn new(name: &'static str, description: &'static str) -> Action {
        Action {
            name,
            short: name,
            description,
            permission: None,
        }
    }

    /// The same, with a shorter footer label.
    pub const fn short(self, short: &'static str) -> Action {
        Action { short, ..self }
    }

    /// The same, needing `p`.
    pub const fn needs(self, p: Perm) -> Action {
        Action {
            permission: Some(p),
            ..self
        }
    }
}

// ----- the shell's actions (contexts `global` and `list`) -----

pub const QUIT: Action = Action::new("quit", "leave the console (containers keep running)");
pub const HELP: Action = Action::new("help", "this help, generated from the keymap");
pub const COMMAND: Action = Action::new(
    "command",
    "command mode: :containers :images :logs NAME :quit ...",
);
pub const FILTER: Action = Action::new("filter", "filter the list: text, /regex/ or label=value");
pub const NEXT_TAB: Action = Action::new("next-tab", "next pane");
pub const PREV_TAB: Action = Action::new("prev-tab", "previous pane");
pub const MOUSE_TOGGLE: Action = Action::new(
    "mouse-toggle",
    "release the mouse for text selection, or take it back",
);
pub const BACK: Action = Action::new("back", "close, clear the filter, or go back");
pub const REFRESH: Action = Action::new("refresh", "ask the engine again");
pub const NOTIFICATION: Action = Action::new("notification", "the last notification in full");

/// `tab-1` .. `tab-9`: go to the pane of that number (the help names the pane).
pub const TABS: [Action; 9] = [
    Action::new("tab-1", "go to pane 1"),
    Action::new("tab-2", "go to pane 2"),
    Action::new("tab-3", "go to pane 3"),
    Action::new("tab-4", "go to pane 4"),
    Action::new("tab-5", "go to pane 5"),
    Action::new("tab-6", "go to pane 6"),
    Action::new("tab-7", "go to pane 7"),
    Action::new("tab-8", "go to pane 8"),
    Action::new("tab-9", "go to pane 9"),
];

pub const UP: Action = Action::new("up", "previous row");
pub const DOWN: Action = Action::new("down", "next row");
pub const PAGE_UP: Action = Action::new("page-up", "a page up");
pub const PAGE_DOWN: Action = Action::new("page-down", "a page down");
pub const TOP: Action = Action::new("top", "first row");
pub const BOTTOM: Action = Action::new("bottom", "last row");
pub const DETAILS: Action = Action::new("details", "details of the selection (inspect)");

/// Actions of the `global` context.
pub const GLOBAL: &[Action] = &[
    QUIT,
    HELP,
    COMMAND,
    FILTER,
    NEXT_TAB,
    PREV_TAB,
    TABS[0],
    TABS[1],
    TABS[2],
    TABS[3],
    TABS[4],
    TABS[5],
    TABS[6],
    TABS[7],
    TABS[8],
    MOUSE_TOGGLE,
    BACK,
    NOTIFICATION,
    REFRESH,
    super::teach::COPY_COMMAND,
    super::teach::COPY_DOCKER,
    super::teach::TEACH_TOGGLE,
    super::teach::REPLAY_NEXT,
    super::teach::REPLAY_SKIP,
];

/// Actions of the `list` context (every pane moves the same way).
pub const LIST: &[Action] = &[UP, DOWN, PAGE_UP, PAGE_DOWN, TOP, BOTTOM, DETAILS];

// ----- actions several panes offer -----

pub const INSPECT: Action = Action::new("inspect", "the selected object's JSON as a tree");
pub const MARK: Action = Action::new("mark", "mark the row for a bulk action");
pub const MARK_ALL: Action =
    Action::new("mark-all", "mark all shown rows, or clear the marks").short("mark all");
pub const SEARCH: Action = Action::new("search", "search (highlights; n/N move)");
pub const NEXT_MATCH: Action = Action::new("next-match", "next match").short("next");
pub const PREV_MATCH: Action = Action::new("previous-match", "previous match").short("previous");
pub const RUN_FORM: Action = Action::new(
    "run-form",
    "run a new container (a form: detached, interactive -it, or create only)",
)
.short("run")
.needs(Perm::ContainerCreate);
pub const DISK_USAGE: Action = Action::new(
    "disk-usage",
    "disk usage of images, containers, volumes, build cache, staging (system df)",
)
.short("df")
.needs(Perm::SystemDf);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tabs_are_numbered_from_one() {
        for (i, t) in TABS.iter().enumerate() {
            assert_eq!(t.name, format!("tab-{}", i + 1));
        }
    }
}
