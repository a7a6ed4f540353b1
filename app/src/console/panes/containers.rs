//! The containers pane: the table (filter, sort, marks), lifecycle actions on the
//! selected or marked containers, and the lower split with the selected container's log.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::Frame;
use wharf_engine::api::{ContainerStatus, ContainerSummary, LogLine};
use wharf_engine::policy::Action as Perm;
use wharf_views::containers::{self, SortKey};
use wharf_views::footer::Level;
use wharf_views::logs::{self, LogsState};
use wharf_views::run_form::{self, RunForm};
use wharf_views::Load;

use super::{Ctx, ListState, Pane, PaneInfo, View};
use crate::console::actions::{self, Action};
use crate::console::api::{self, Call, ContainerOp, Target};
use crate::console::filter::Filter;
use crate::console::msg::{Ask, Confirm, Effect, Handoff, Message, PaneMsg};
use crate::console::store::Store;

pub const START: Action =
    Action::new("start", "start the selected or marked containers").needs(Perm::ContainerStart);
pub const STOP: Action =
    Action::new("stop", "stop the selected or marked containers").needs(Perm::ContainerStop);
pub const RESTART: Action = Action::new("restart", "restart the selected or marked containers")
    .needs(Perm::ContainerRestart);
pub const KILL: Action = Action::new("kill", "send SIGKILL to the selected or marked containers")
    .needs(Perm::ContainerKill);
pub const PAUSE_TOGGLE: Action = Action::new("pause-toggle", "pause or unpause")
    .short("pause")
    .needs(Perm::ContainerPause);
pub const REMOVE: Action = Action::new(
    "remove",
    "remove the selected or marked containers (asks first)",
)
.needs(Perm::ContainerRemove);
pub const RENAME: Action =
    Action::new("rename", "rename the selected container").needs(Perm::ContainerRename);
pub const LOGS: Action =
    Action::new("logs", "the selected container's log").needs(Perm::ContainerLogs);
pub const EXEC_SHELL: Action = Action::new(
    "exec-shell",
    "a shell in the selected container (the console comes back when it exits)",
)
.short("shell")
.needs(Perm::ContainerExec);
pub const ATTACH: Action = Action::new(
    "attach",
    "attach to the selected container (ctrl-p ctrl-q detaches)",
)
.needs(Perm::ContainerAttach);
pub const STOPPED_TOGGLE: Action =
    Action::new("stopped-toggle", "show or hide stopped containers").short("stopped");
pub const SORT_NEXT: Action = Action::new("sort-next", "sort by the next column").short("sort");
pub const SORT_REVERSE: Action =
    Action::new("sort-reverse", "reverse the sort order").short("reverse");
pub const SORT_CPU: Action =
    Action::new("sort-cpu", "sort by CPU %, busiest first (again: reverse)").short("cpu");
pub const SORT_MEM: Action =
    Action::new("sort-mem", "sort by memory, largest first (again: reverse)").short("mem");
pub const SPLIT_TOGGLE: Action = Action::new(
    "split-toggle",
    "show or hide the selected container's log under the list",
)
.short("split");
pub const SPLIT_GROW: Action =
    Action::new("split-grow", "make the log under the list taller").short("taller");
pub const SPLIT_SHRINK: Action =
    Action::new("split-shrink", "make the log under the list shorter").short("shorter");
pub const SPLIT_ZOOM: Action =
    Action::new("split-zoom", "the log under the list full screen, or back").short("zoom");

pub static INFO: PaneInfo = PaneInfo {
    title: "Containers",
    short: "Cont",
    context: "containers",
    commands: &["containers", "ps", "c"],
    takes_container: false,
    actions: &[
        STOP,
        START,
        RESTART,
        LOGS,
        EXEC_SHELL,
        REMOVE,
        PAUSE_TOGGLE,
        actions::INSPECT,
        actions::RUN_FORM,
        ATTACH,
        KILL,
        RENAME,
        SORT_NEXT,
        SORT_CPU,
        SORT_MEM,
        STOPPED_TOGGLE,
        SPLIT_TOGGLE,
        SPLIT_ZOOM,
        actions::MARK,
        actions::MARK_ALL,
        SORT_REVERSE,
        SPLIT_GROW,
        SPLIT_SHRINK,
    ],
    make: || Box::new(Containers::default()),
};

/// Lines the lower split shows at most.
const PREVIEW_LINES: usize = 200;

/// The lower split: the selected container's log tail, read again on the slow tick.
#[derive(Debug)]
struct Split {
    on: bool,
    /// Its share of the body, in percent.
    pct: u16,
    /// It takes the whole body.
    zoom: bool,
    log: Option<LogsState>,
    /// Answers of older reads are dropped.
    gen: Arc<AtomicU64>,
    in_flight: bool,
}

/// A read of the split's log tail.
struct Preview {
    gen: u64,
    lines: Result<Vec<LogLine>, String>,
}

/// The containers pane.
#[derive(Debug)]
pub struct Containers {
    list: ListState,
    marked: HashSet<String>,
    sort: (SortKey, bool),
    show_stopped: bool,
    /// The selected container, kept selected when the list is read again.
    sel_id: Option<String>,
    /// Select this container name once it shows up (after a run).
    select_name: Option<String>,
    /// The list revision last seen.
    seen_rev: u64,
    /// Rows shown at the last frame (for the tab status).
    shown: usize,
    split: Split,
    /// Where the table was drawn (clicks on its header sort).
    table: Rect,
}

impl Default for Containers {
    fn default() -> Self {
        Containers {
            list: ListState::default(),
            marked: HashSet::new(),
            sort: (SortKey::Name, false),
            show_stopped: true,
            sel_id: None,
            select_name: None,
            seen_rev: 0,
            shown: 0,
            split: Split {
                on: true,
                pct: 40,
                zoom: false,
                log: None,
                gen: Arc::new(AtomicU64::new(0)),
                in_flight: false,
            },
            table: Rect::default(),
        }
    }
}

impl Containers {
    /// The containers shown: filtered, stopped ones hidden if asked, sorted.
    pub fn visible<'s>(&self, store: &'s Store) -> Vec<&'s ContainerSummary> {
        let mut v: Vec<&ContainerSummary> = store
            .containers
            .items
            .iter()
            .filter(|c| self.show_stopped || c.state.is_active())
            .filter(|c| {
                // In the fleet view the host's name matches too.
                let host = store.containers.host_of(c).unwrap_or("");
                self.list.filter.matches_on(
                    &[&c.name, &c.image, &c.id, c.state.as_str(), host],
                    &c.labels,
                    &c.networks,
                )
            })
            .collect();
        containers::sort(&mut v, self.sort.0, self.sort.1, &store.stats);
        v
    }

    fn selected<'s>(&self, store: &'s Store) -> Option<&'s ContainerSummary> {
        self.visible(store).get(self.list.cursor.selected).copied()
    }

    /// Marked containers if any, else the selected one.
    fn targets<'s>(&self, store: &'s Store) -> Vec<&'s ContainerSummary> {
        let marked: Vec<_> = store
            .containers
            .items
            .iter()
            .filter(|c| self.marked.contains(&c.id))
            .collect();
        if !marked.is_empty() {
            return marked;
        }
        self.selected(store).into_iter().collect()
    }

    /// Sort another way, keeping the selected container selected.
    fn resort(&mut self, store: &Store, sort: (SortKey, bool)) {
        let id = self.selected(store).map(|c| c.id.clone());
        self.sort = sort;
        if let Some(i) = id.and_then(|id| self.visible(store).iter().position(|c| c.id == id)) {
            self.list.cursor.selected = i;
        }
    }

    /// Sort by `k`, or reverse when it is the sort already.
    fn sort_by(&mut self, store: &Store, k: SortKey, first_desc: bool) {
        let s = if self.sort.0 == k {
            (k, !self.sort.1)
        } else {
            (k, first_desc)
        };
        self.resort(store, s);
    }

    fn bulk(&mut self, cx: &mut Ctx, op: impl Fn(ContainerStatus) -> ContainerOp) {
        let targets = self.targets(cx.store);
        if targets.is_empty() {
            cx.emit(Effect::note(Level::Info, "nothing selected"));
            return;
        }
        // One call per operation (pause-toggle may both pause and unpause).
        let mut calls: Vec<(ContainerOp, Vec<Target>)> = Vec::new();
        for c in &targets {
            let o = op(c.state);
            let t = Target {
                id: c.id.clone(),
                name: c.name.clone(),
            };
            match calls.iter_mut().find(|(x, _)| *x == o) {
                Some((_, v)) => v.push(t),
                None => calls.push((o, vec![t])),
            }
        }
        self.marked.clear();
        for (op, targets) in calls {
            cx.emit(Effect::Call(Call::Containers { op, targets }));
        }
    }

    fn ask_remove(&self, cx: &mut Ctx) {
        let t = self.targets(cx.store);
        if t.is_empty() {
            return;
        }
        let running = t.iter().any(|x| x.state.is_active());
        let names: Vec<&str> = t.iter().map(|x| x.name.as_str()).collect();
        let what = if t.len() == 1 {
            format!("container {}", names[0])
        } else {
            format!("{} containers: {}", t.len(), names.join(", "))
        };
        let kill = if running {
            " Running ones are killed first."
        } else {
            ""
        };
        cx.emit(Effect::Confirm(Confirm::new(
            "remove",
            format!("remove {what}?{kill}"),
            Call::Containers {
                op: ContainerOp::Remove { force: running },
                targets: t
                    .iter()
                    .map(|c| Target {
                        id: c.id.clone(),
                        name: c.name.clone(),
                    })
                    .collect(),
            },
        )));
    }

    fn ask_rename(&self, cx: &mut Ctx) {
        let Some(c) = self.selected(cx.store) else {
            return;
        };
        let (id, old) = (c.id.clone(), c.name.clone());
        cx.emit(Effect::Ask(Ask {
            title: format!("rename {old}"),
            label: "new name:".into(),
            value: old.clone(),
            check: Box::new(|v| {
                (!run_form::valid_name(v)).then(|| {
                    "a name may contain only [a-zA-Z0-9_.-] and starts with a letter or digit"
                        .to_string()
                })
            }),
            then: Box::new(move |new| Effect::Call(Call::Rename { id, old, new })),
        }));
    }

    fn handoff(&self, cx: &mut Ctx, exec: bool) {
        let Some(c) = self.selected(cx.store) else {
            return;
        };
        let (id, name) = (c.id.clone(), c.name.clone());
        let ok = if exec {
            c.state == ContainerStatus::Running
        } else {
            matches!(c.state, ContainerStatus::Running | ContainerStatus::Paused)
        };
        if !ok {
            let start = cx
                .keys_for(INFO.context, START)
                .map(|k| format!(" (press {k})"))
                .unwrap_or_default();
            let text = format!(
                "container {name} is {}: start it first{start}",
                c.state.as_str()
            );
            cx.emit(Effect::note(Level::Warn, text));
            return;
        }
        cx.emit(Effect::Handoff(if exec {
            Handoff::Exec { id, name }
        } else {
            Handoff::Attach { id, name }
        }));
    }

    /// Read the tail of the split's log again, unless a read is under way. The split
    /// reads without following: a follower thread per selected row would outlive it.
    fn read_preview(&mut self, cx: &mut Ctx) {
        let Some(p) = &self.split.log else { return };
        if self.split.in_flight {
            return;
        }
        self.split.in_flight = true;
        let gen = self.split.gen.load(Ordering::SeqCst);
        let id = p.id.clone();
        cx.ask(INFO.context, move |e, c| {
            let mut lines = Vec::new();
            let r = api::container_logs(e, c, &id, false, PREVIEW_LINES, &mut |l| {
                lines.push(l);
                true
            });
            Preview {
                gen,
                lines: r.map(|()| lines),
            }
        });
    }

    fn draw_split(&self, f: &mut Frame, rule: Rect, rest: Rect, v: &View, p: &LogsState) {
        let theme = v.theme;
        let title = format!(
            " {} · log ({}) ",
            p.name,
            if p.load == Load::Loading {
                "reading"
            } else {
                "tail, every 2 s"
            }
        ) + if self.split.zoom {
            "· full screen "
        } else {
            ""
        };
        let line = "─".repeat(rule.width as usize);
        f.render_widget(Span::styled(line, theme.border()), rule);
        f.render_widget(
            Span::styled(title, theme.accent()),
            Rect {
                x: rule.x + 1,
                width: rule.width.saturating_sub(1),
                ..rule
            },
        );
        logs::draw(f, rest, theme, p);
    }
}

impl Pane for Containers {
    fn info(&self) -> &'static PaneInfo {
        &INFO
    }

    fn act(&mut self, a: Action, cx: &mut Ctx) -> bool {
        let store = cx.store;
        let n = self.visible(store).len();
        match a {
            actions::DETAILS | actions::INSPECT => {
                if let Some(c) = self.selected(store) {
                    cx.tell(Message::Inspect {
                        kind: "container",
                        id: c.id.clone(),
                        title: format!("container {}", c.name),
                    });
                }
            }
            actions::MARK => {
                if let Some(id) = self.selected(store).map(|c| c.id.clone()) {
                    if !self.marked.remove(&id) {
                        self.marked.insert(id);
                    }
                    self.list.cursor.step(1, n);
                }
            }
            actions::MARK_ALL => {
                if self.marked.is_empty() {
                    self.marked = self.visible(store).iter().map(|c| c.id.clone()).collect();
                } else {
                    self.marked.clear();
                }
            }
            SORT_NEXT => {
                let k = self.sort.0.next();
                self.resort(store, (k, k.biggest_first()));
            }
            SORT_CPU => self.sort_by(store, SortKey::Cpu, true),
            SORT_MEM => self.sort_by(store, SortKey::Mem, true),
            SORT_REVERSE => self.resort(store, (self.sort.0, !self.sort.1)),
            STOPPED_TOGGLE => {
                self.show_stopped = !self.show_stopped;
                self.list.cursor.selected = 0;
            }
            START => self.bulk(cx, |_| ContainerOp::Start),
            STOP => self.bulk(cx, |_| ContainerOp::Stop),
            RESTART => self.bulk(cx, |_| ContainerOp::Restart),
            KILL => self.bulk(cx, |_| ContainerOp::Kill),
            PAUSE_TOGGLE => self.bulk(cx, |st| {
                if st == ContainerStatus::Paused {
                    ContainerOp::Unpause
                } else {
                    ContainerOp::Pause
                }
            }),
            REMOVE => self.ask_remove(cx),
            RENAME => self.ask_rename(cx),
            LOGS => {
                if let Some(c) = self.selected(store) {
                    cx.tell(Message::OpenLogs {
                        id: c.id.clone(),
                        name: c.name.clone(),
                    });
                }
            }
            actions::RUN_FORM => {
                let known = store
                    .images
                    .items
                    .iter()
                    .flat_map(|i| i.repo_tags.clone())
                    .collect();
                cx.emit(Effect::RunForm(Box::new(RunForm::new(known))));
            }
            SPLIT_TOGGLE => {
                self.split.on = !self.split.on;
                self.split.zoom = false;
            }
            SPLIT_GROW | SPLIT_SHRINK => {
                self.split.on = true;
                self.split.zoom = false;
                self.split.pct = if a == SPLIT_GROW {
                    (self.split.pct + 10).min(80)
                } else {
                    self.split.pct.saturating_sub(10).max(20)
                };
            }
            SPLIT_ZOOM => {
                self.split.on = true;
                self.split.zoom = !self.split.zoom;
            }
            EXEC_SHELL => self.handoff(cx, true),
            ATTACH => self.handoff(cx, false),
            actions::BACK => {
                if self.split.zoom {
                    self.split.zoom = false;
                } else if !self.list.clear_filter() {
                    if self.marked.is_empty() {
                        return false;
                    }
                    self.marked.clear();
                }
            }
            _ => return false,
        }
        true
    }

    fn receive(&mut self, m: &Message, cx: &mut Ctx) -> bool {
        match m {
            Message::SelectContainer { name } => {
                // Selected when it is listed (at the next frame if it is already).
                self.select_name = Some(name.clone());
                true
            }
            Message::ShowContainers { network } => {
                let text = format!("network={network}");
                if let Ok(f) = Filter::parse(&text) {
                    self.list.set_filter(&text, f);
                }
                cx.emit(Effect::Focus(INFO.context));
                true
            }
            _ => false,
        }
    }

    fn answer(&mut self, m: PaneMsg, _cx: &mut Ctx) {
        let Some(Preview { gen, lines }) = m.take::<Preview>() else {
            return;
        };
        self.split.in_flight = false;
        if gen != self.split.gen.load(Ordering::SeqCst) {
            return;
        }
        if let Some(p) = self.split.log.as_mut() {
            let mut fresh = LogsState::new(&p.id, &p.name).with_cap(PREVIEW_LINES);
            match lines {
                Ok(lines) => {
                    fresh.load = Load::Ready(());
                    for l in lines {
                        fresh.push(l);
                    }
                }
                Err(e) => fresh.load = Load::Error(e),
            }
            *p = fresh;
        }
    }

    fn list(&mut self) -> Option<&mut ListState> {
        Some(&mut self.list)
    }

    fn len(&self, store: &Store) -> usize {
        self.visible(store).len()
    }

    fn status(&self, store: &Store) -> String {
        let mut s = format!("{} of {}", self.shown, store.containers.items.len());
        if !self.show_stopped {
            s.push_str(" · stopped hidden");
        }
        if !self.marked.is_empty() {
            s.push_str(&format!(" · {} marked", self.marked.len()));
        }
        s + &self.list.filter_status()
    }

    /// Keep the selection on the same container when the list is read again, and the
    /// lower split on the selected container (its name too: a rename shows at once).
    fn sync(&mut self, cx: &mut Ctx, shown: bool) -> bool {
        let store = cx.store;
        let mut changed = store.containers.rev != self.seen_rev;
        if changed || self.select_name.is_some() {
            self.seen_rev = store.containers.rev;
            let ids: HashSet<&str> = store
                .containers
                .items
                .iter()
                .map(|c| c.id.as_str())
                .collect();
            self.marked.retain(|m| ids.contains(m.as_str()));
            let vis = self.visible(store);
            let pos = match &self.select_name {
                Some(n) => vis.iter().position(|c| &c.name == n),
                None => self
                    .sel_id
                    .as_ref()
                    .and_then(|id| vis.iter().position(|c| &c.id == id)),
            };
            if let Some(p) = pos {
                self.list.cursor.selected = p;
                changed |= self.select_name.take().is_some();
            }
        }
        if !shown {
            return changed;
        }
        let sel = self.selected(store);
        self.sel_id = sel.map(|c| c.id.clone());
        let want = sel.filter(|_| self.split.on);
        let have = self.split.log.as_ref();
        match (want, have) {
            (Some(w), Some(h)) if w.id == h.id => {
                if w.name != h.name {
                    if let Some(h) = self.split.log.as_mut() {
                        h.name = w.name.clone();
                    }
                    changed = true;
                }
                changed
            }
            (None, None) => changed,
            (want, _) => {
                self.split.gen.fetch_add(1, Ordering::SeqCst);
                self.split.log =
                    want.map(|c| LogsState::new(&c.id, &c.name).with_cap(PREVIEW_LINES));
                self.split.in_flight = false;
                self.read_preview(cx);
                true
            }
        }
    }

    fn tick(&mut self, cx: &mut Ctx, shown: bool) {
        if !shown {
            // Off screen the split is dropped; it is read again when it shows.
            if self.split.log.take().is_some() {
                self.split.gen.fetch_add(1, Ordering::SeqCst);
            }
            return;
        }
        self.read_preview(cx);
    }

    fn click(&mut self, col: u16, row: u16, _area: Rect, cx: &mut Ctx) {
        let t = self.table;
        // A click on the header sorts by that column (again: reverse).
        if row == t.y {
            if let Some(i) = wharf_views::table::column_at(&containers::COLUMNS, t.x, t.width, col)
            {
                let k = SortKey::ALL[i];
                self.sort_by(cx.store, k, k.biggest_first());
            }
            return;
        }
        let n = self.visible(cx.store).len();
        self.list.click(row, t, n);
    }

    fn draw(&mut self, f: &mut Frame, body: Rect, v: &View) {
        let rows = self.visible(v.store);
        self.shown = rows.len();
        let run_key = v.key_if_allowed(INFO.context, actions::RUN_FORM);
        let stopped_key = v.keymap.keys_for(&[INFO.context], STOPPED_TOGGLE);
        let m = containers::Model {
            load: &v.store.containers.load,
            rows: &rows,
            total: v.store.containers.items.len(),
            marked: &self.marked,
            sort: self.sort,
            filter: &self.list.filter_text,
            run_key: run_key.as_deref(),
            show_stopped_key: stopped_key.as_deref(),
            stopped_hidden: !self.show_stopped,
            stats: &v.store.stats,
            now: v.now,
            focused: v.focused,
        };
        // The lower split: the selected container's log, when there is room.
        let split = match &self.split.log {
            Some(p) if self.split.on && (self.split.zoom || body.height >= 16) => {
                // The split's share of the body (resizable), or all of it (zoom).
                let th = if self.split.zoom {
                    0
                } else {
                    let lower = (u32::from(body.height) * u32::from(self.split.pct) / 100) as u16;
                    body.height.saturating_sub(lower).clamp(4, body.height - 5)
                };
                let rule = Rect {
                    y: body.y + th,
                    height: 1,
                    ..body
                };
                let rest = Rect {
                    y: body.y + th + 1,
                    height: body.height - th - 1,
                    ..body
                };
                Some((th, rule, rest, p))
            }
            _ => None,
        };
        self.table = Rect {
            height: split.as_ref().map_or(body.height, |s| s.0),
            ..body
        };
        if self.table.height > 0 {
            // The fleet view: each row's host in a HOST column.
            let hosts: Option<Vec<&str>> = (!v.store.containers.hosts.is_empty()).then(|| {
                rows.iter()
                    .map(|c| v.store.containers.host_of(c).unwrap_or(""))
                    .collect()
            });
            containers::draw_hosts(
                f,
                self.table,
                v.theme,
                &m,
                &mut self.list.cursor,
                hosts.as_deref(),
            );
        }
        if let Some((_, rule, rest, p)) = split {
            self.draw_split(f, rule, rest, v, p);
        }
        self.sel_id = rows.get(self.list.cursor.selected).map(|c| c.id.clone());
    }
}
