//! The panes, as components (gitui's components, bottom's widgets): each module holds
//! one pane's state, the actions it offers and how it does them, and the view-model it
//! hands to `wharf_views`. The shell ([`super::app`]) keeps only the tabs, the
//! overlays, the prompt and the routing; it gives a pane the actions meant for it and
//! carries out the [`Effect`]s the pane queues (engine calls, dialogs, messages for
//! other panes).
//!
//! Adding a pane: a module here with its [`PaneInfo`] (title, keymap context, `:`
//! names, actions) and a [`Pane`] impl, one line in [`TABS`], its view in wharf-views,
//! and its keys in `keymaps/*.json`. The tab bar, the `:` list and completion, the
//! keymap's contexts, the footer and the help are all built from [`TABS`].
//!
//! A pane reached by `:` only (no tab, no number key) is a [`Menu`] in [`MENUS`]
//! instead: the registries, accounts and build panes. A menu may need a permission to open.

pub mod accounts;
pub mod build;
pub mod console_log;
pub mod containers;
pub mod events;
pub mod hosts;
pub mod images;
pub mod inspect;
pub mod logs;
pub mod networks;
pub mod registries;
pub mod stacks;
pub mod stats;
pub mod trace;
pub mod volumes;

use std::collections::VecDeque;

use ratatui::layout::Rect;
use ratatui::Frame;
use wharf_engine::policy::Action as Perm;
use wharf_engine::{Caller, Engine};
use wharf_views::{ListCursor, Theme};

use super::actions::{self, Action};
use super::filter::Filter;
use super::keymap::Keymap;
use super::msg::{Effect, Message, Msg, PaneMsg};
use super::store::Store;
use super::worker::Worker;

/// What the shell knows of a pane without one at hand.
pub struct PaneInfo {
    /// The tab's title (`Containers`).
    pub title: &'static str,
    /// Its title where room is short (`Cont`).
    pub short: &'static str,
    /// Its keymap context (`containers`); also its name in messages.
    pub context: &'static str,
    /// Its names in command mode (`:containers`, `:ps`); the first is the one completed.
    pub commands: &'static [&'static str],
    /// `:NAME CONTAINER` takes a container's name (completed from the list).
    pub takes_container: bool,
    /// The actions it offers, most wanted first (the footer drops from the end).
    pub actions: &'static [Action],
    /// A fresh one.
    pub make: fn() -> Box<dyn Pane>,
}

/// The panes, in tab order (number keys jump to them).
pub const TABS: &[&PaneInfo] = &[
    &containers::INFO,
    &images::INFO,
    &networks::INFO,
    &volumes::INFO,
    &stats::INFO,
    &events::INFO,
    &logs::INFO,
    &console_log::INFO,
    &trace::INFO,
    &hosts::INFO,
];

/// A pane reached by `:` only: shown while open, after the tabs (none is highlighted).
pub struct Menu {
    pub info: &'static PaneInfo,
    /// The permission a role needs to open it (the engine checks every call anyway).
    pub needs: Option<Perm>,
}

/// The menus: stacks (compose projects), registries (browsing is what a pull needs),
/// accounts (for admins), a build.
pub const MENUS: &[Menu] = &[
    Menu {
        info: &stacks::INFO,
        needs: Some(Perm::ContainerList),
    },
    Menu {
        info: &registries::INFO,
        needs: Some(Perm::ImagePull),
    },
    Menu {
        info: &accounts::INFO,
        needs: Some(Perm::PolicyRead),
    },
    Menu {
        info: &build::INFO,
        needs: Some(Perm::ImageBuild),
    },
];

/// Every pane the shell holds, in its order: the tabs, then the menus.
pub fn all() -> impl Iterator<Item = &'static PaneInfo> {
    TABS.iter().copied().chain(MENUS.iter().map(|m| m.info))
}

/// Keymap contexts and the actions each may bind, in the help's order: the shell's
/// (`global`, `list`), each pane's, the inspect layer's, the help's.
pub fn contexts() -> Vec<(&'static str, Vec<Action>)> {
    let shell: Vec<Action> = actions::GLOBAL
        .iter()
        .chain(actions::LIST)
        .copied()
        .collect();
    let with_shell = |own: &[Action]| -> Vec<Action> {
        let mut v = own.to_vec();
        v.extend(shell.iter().filter(|a| !own.contains(a)));
        v
    };
    let mut out = vec![("global", shell.clone()), ("list", shell.clone())];
    for p in all().chain([&inspect::INFO]) {
        out.push((p.context, with_shell(p.actions)));
    }
    out.push(("help", shell));
    out
}

/// What a pane may use while it acts: the engine's state, the keymap, the worker, and
/// the queue for what it wants done.
pub struct Ctx<'a> {
    pub store: &'a Store,
    pub keymap: &'a Keymap,
    pub worker: &'a Worker,
    pub out: &'a mut VecDeque<Effect>,
    /// Rows of a page (page-up/down).
    pub page: isize,
}

impl Ctx<'_> {
    /// Queue an effect.
    pub fn emit(&mut self, e: Effect) {
        self.out.push_back(e);
    }

    /// A message for whichever pane does it.
    pub fn tell(&mut self, m: Message) {
        self.emit(Effect::Tell(m));
    }

    /// Run `f` on a worker; its answer comes back to the pane of context `to`, in
    /// [`Pane::answer`].
    pub fn ask<T: Send + 'static>(
        &self,
        to: &'static str,
        f: impl FnOnce(&dyn Engine, &Caller) -> T + Send + 'static,
    ) {
        self.worker.run(move |e, c| Msg::Pane {
            to,
            msg: PaneMsg::new(f(e, c)),
        });
    }

    /// Keys bound to `a` in `ctx`, as text (`s`, `j, ↓`).
    pub fn keys_for(&self, ctx: &str, a: Action) -> Option<String> {
        self.keymap.keys_for(&[ctx], a)
    }
}

/// What a pane may use while it draws.
pub struct View<'a> {
    pub theme: &'a Theme,
    pub store: &'a Store,
    pub keymap: &'a Keymap,
    /// Does the role allow `a`? (Panes hide what the engine would refuse.)
    pub allowed: &'a dyn Fn(Action) -> bool,
    /// No window is over the pane.
    pub focused: bool,
    /// Seconds since the epoch, for "3 min ago".
    pub now: i64,
}

impl View<'_> {
    /// Keys bound to `a` in `ctx` if the role may take it: for empty states
    /// ("Press n to run one").
    pub fn key_if_allowed(&self, ctx: &str, a: Action) -> Option<String> {
        self.keymap
            .keys_for(&[ctx], a)
            .filter(|_| (self.allowed)(a))
    }
}

/// One pane.
pub trait Pane {
    /// What the shell shows of it.
    fn info(&self) -> &'static PaneInfo;

    /// Do `a` if it is this pane's; `false` leaves it to the shell.
    fn act(&mut self, a: Action, cx: &mut Ctx) -> bool;

    /// A message another pane sent; `true` when this pane did it.
    fn receive(&mut self, _m: &Message, _cx: &mut Ctx) -> bool {
        false
    }

    /// An answer this pane asked for (a worker's, or a text input's).
    fn answer(&mut self, _m: PaneMsg, _cx: &mut Ctx) {}

    /// The action `:NAME ARG` stands for (`:stacks up FILE` is stack-up): the console
    /// refuses the command when the role may not take it.
    fn command_action(&self, _arg: &str) -> Option<Action> {
        None
    }

    /// `:NAME ARG` for a pane that takes an argument.
    fn command(&mut self, arg: &str, _cx: &mut Ctx) -> Result<(), String> {
        if arg.is_empty() {
            Ok(())
        } else {
            Err(format!("{} takes no argument", self.info().commands[0]))
        }
    }

    /// The text right of the tabs (row counts, the filter).
    fn status(&self, _store: &Store) -> String {
        String::new()
    }

    /// The list this pane is, if it is one: its cursor and `/` filter. The shell moves
    /// it, filters it, clicks in it, and Esc clears its filter, unless [`act`]
    /// (Self::act) took the action first.
    fn list(&mut self) -> Option<&mut ListState> {
        None
    }

    /// How many rows the list shows now.
    fn len(&self, _store: &Store) -> usize {
        0
    }

    /// What a list does with `a` when [`act`](Self::act) left it: move, or clear the
    /// filter on Esc.
    fn list_act(&mut self, a: Action, cx: &mut Ctx) -> bool {
        let (n, page) = (self.len(cx.store), cx.page);
        let Some(l) = self.list() else {
            return false;
        };
        l.navigate(a, n, page) || (a == actions::BACK && l.clear_filter())
    }

    /// Before each frame (`shown`: it is the pane on screen): follow what changed in the
    /// store; `true` when the pane changed.
    fn sync(&mut self, _cx: &mut Ctx, _shown: bool) -> bool {
        false
    }

    /// The slow tick (every 2 s).
    fn tick(&mut self, _cx: &mut Ctx, _shown: bool) {}

    /// A click at (`col`, `row`) of the body `area`: a list selects the row.
    fn click(&mut self, _col: u16, row: u16, area: Rect, cx: &mut Ctx) {
        let n = self.len(cx.store);
        if let Some(l) = self.list() {
            l.click(row, area, n);
        }
    }

    /// Draw into `area`.
    fn draw(&mut self, f: &mut Frame, area: Rect, v: &View);
}

/// A list's cursor and `/` filter, as most panes have.
#[derive(Debug, Default)]
pub struct ListState {
    pub cursor: ListCursor,
    pub filter_text: String,
    pub filter: Filter,
}

impl ListState {
    /// Move for a `list` action (up, down, pages, top, bottom) over `len` rows; `false`
    /// for other actions.
    pub fn navigate(&mut self, a: Action, len: usize, page: isize) -> bool {
        let c = &mut self.cursor;
        match a {
            actions::UP => c.step(-1, len),
            actions::DOWN => c.step(1, len),
            actions::PAGE_UP => c.step(-page, len),
            actions::PAGE_DOWN => c.step(page, len),
            actions::TOP => c.top(),
            actions::BOTTOM => c.bottom(len),
            _ => return false,
        }
        true
    }

    /// Clear the filter; `false` when there was none.
    pub fn clear_filter(&mut self) -> bool {
        if self.filter_text.is_empty() {
            return false;
        }
        self.set_filter("", Filter::None);
        true
    }

    /// Set the filter; the selection goes back to the first row.
    pub fn set_filter(&mut self, text: &str, f: Filter) {
        self.filter_text = text.to_string();
        self.filter = f;
        self.cursor.selected = 0;
    }

    /// Select the row under a click at `row` of a table drawn in `area` (its first
    /// line is the header); `true` when a row was hit.
    pub fn click(&mut self, row: u16, area: Rect, len: usize) -> bool {
        if row <= area.y || row >= area.bottom() {
            return false;
        }
        let i = self.cursor.offset + (row - area.y - 1) as usize;
        if i < len {
            self.cursor.selected = i;
            return true;
        }
        false
    }

    /// The tab status's filter part: ` · /text`.
    pub fn filter_status(&self) -> String {
        if self.filter_text.is_empty() {
            String::new()
        } else {
            format!(" · /{}", self.filter_text)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One name, one action: what a keymap names is the same wherever it is bound; and
    /// the panes' contexts and `:` names do not collide.
    #[test]
    fn the_registry_is_consistent() {
        let all: Vec<Action> = contexts().into_iter().flat_map(|c| c.1).collect();
        for a in &all {
            for b in &all {
                assert!(a.name != b.name || a == b, "{} is two actions", a.name);
            }
        }
        let mut ctx: Vec<&str> = contexts().iter().map(|c| c.0).collect();
        let n = ctx.len();
        ctx.sort();
        ctx.dedup();
        assert_eq!(ctx.len(), n, "a context twice");
        let mut cmds: Vec<&str> = super::all()
            .flat_map(|p| p.commands.iter().copied())
            .collect();
        let n = cmds.len();
        cmds.sort();
        cmds.dedup();
        assert_eq!(cmds.len(), n, "a : name twice");
        assert!(
            TABS.len() <= actions::TABS.len(),
            "a pane without a number key"
        );
        for p in super::all() {
            let made = (p.make)();
            assert_eq!(made.info().context, p.context);
        }
    }
}
