//! The containers pane: the table (filter, sort, marks), lifecycle actions on the
//! selected or marked containers, what is inside one (commit, cp, export, update, wait),
//! and the lower split with the selected container's log, processes (top) or changes
//! (diff).

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::Frame;
use wharf_engine::api::{Change, ContainerStatus, ContainerSummary, LogLine, TopResult};
use wharf_engine::policy::Action as Perm;
use wharf_views::containers::{self, SortKey};
use wharf_views::footer::Level;
use wharf_views::form::Form;
use wharf_views::forms::commit::CommitSpec;
use wharf_views::forms::update::{self, UpdateSpec};
use wharf_views::logs::{self, LogsState};
use wharf_views::run_form::{self, RunForm};
use wharf_views::{changes, procs, Load};

use super::{Ctx, ListState, Pane, PaneInfo, View};
use crate::console::actions::{self, Action};
use crate::console::api::{self, Call, ContainerOp, Target};
use crate::console::filter::Filter;
use crate::console::forms;
use crate::console::msg::{Ask, Confirm, Effect, FormAsk, Handoff, Message, PaneMsg};
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
pub const SPLIT_ZOOM: Action = Action::new(
    "split-zoom",
    "what is under the list full screen (arrows scroll processes and changes), or back",
)
.short("zoom");
pub const TOP: Action = Action::new(
    "processes",
    "the selected container's processes (top) under the list, every 2 s (again: its log)",
)
.short("top")
.needs(Perm::ContainerTop);
pub const DIFF: Action = Action::new(
    "diff",
    "the changes of its files under the list: A added, C changed, D deleted (again: its log)",
)
.needs(Perm::ContainerDiff);
pub const COMMIT: Action = Action::new(
    "commit",
    "make an image of the selected container (a form: repository:tag, message, author, changes)",
)
.needs(Perm::ContainerCommit);
pub const COPY: Action = Action::new(
    "copy",
    "copy files into or out of the selected container (a form, like wharf cp)",
)
.short("cp")
.needs(Perm::ContainerCp);
pub const EXPORT: Action = Action::new(
    "export",
    "write the selected container's file system to a tar file (a form)",
)
.needs(Perm::ContainerExport);
pub const UPDATE: Action = Action::new(
    "update",
    "change the selected container's memory, cpus, pids limit or restart policy, live (a form)",
)
.needs(Perm::ContainerUpdate);
pub const WAIT: Action = Action::new(
    "wait",
    "say when the selected container stops, with its exit code (the console goes on)",
)
.needs(Perm::ContainerWait);

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
        TOP,
        DIFF,
        COMMIT,
        COPY,
        EXPORT,
        UPDATE,
        WAIT,
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

/// A body shorter than this has no room for the split under the list (only full screen).
const MIN_SPLIT_BODY: u16 = 16;

/// What the lower split shows of the selected container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SplitMode {
    /// Its log tail.
    Log,
    /// Its processes (`wharf top`).
    Top,
    /// The changes of its writable layer (`wharf diff`).
    Diff,
}

/// The lower split: the selected container's log tail, processes or changes, read again
/// on the slow tick.
#[derive(Debug)]
struct Split {
    on: bool,
    /// Its share of the body, in percent.
    pct: u16,
    /// It takes the whole body.
    zoom: bool,
    mode: SplitMode,
    /// The container shown (its id and name), with its log.
    log: Option<LogsState>,
    top: Load<TopResult>,
    diff: Load<Vec<Change>>,
    /// The first row shown of the processes or changes.
    scroll: usize,
    /// Answers of older reads are dropped.
    gen: Arc<AtomicU64>,
    in_flight: bool,
}

/// What a read of the split brought.
enum Read {
    Log(Result<Vec<LogLine>, String>),
    Top(Result<TopResult, String>),
    Diff(Result<Vec<Change>, String>),
}

/// A read of the split.
struct Preview {
    gen: u64,
    read: Read,
}

/// The default commands of the images (for the run form's hint), read again when the
/// image list changes.
#[derive(Debug, Default)]
pub struct ImageCmds {
    seen_rev: u64,
    pub cmds: Vec<(String, Vec<String>)>,
}

/// An answer of [`ImageCmds::sync`].
struct ImageCmdsRead(Vec<(String, Vec<String>)>);

impl ImageCmds {
    /// Ask for them again if the images changed; answers go to the pane `to`.
    pub fn sync(&mut self, cx: &mut Ctx, to: &'static str) {
        if cx.store.images.rev == self.seen_rev {
            return;
        }
        self.seen_rev = cx.store.images.rev;
        let refs: Vec<String> = cx
            .store
            .images
            .items
            .iter()
            .flat_map(|i| i.repo_tags.clone())
            .collect();
        cx.ask(to, move |e, c| ImageCmdsRead(api::image_cmds(e, c, &refs)));
    }

    /// Take an answer; `None` when `m` is not one (it is given back).
    pub fn answer(&mut self, m: PaneMsg) -> Option<PaneMsg> {
        match m.take_or_keep::<ImageCmdsRead>() {
            Ok(ImageCmdsRead(v)) => {
                self.cmds = v;
                None
            }
            Err(m) => Some(m),
        }
    }

    /// The run form, with what the engine has.
    pub fn run_form(&self, store: &Store) -> RunForm {
        let known = store
            .images
            .items
            .iter()
            .flat_map(|i| i.repo_tags.clone())
            .collect();
        let mut f = RunForm::new(known);
        f.image_cmds = self.cmds.clone();
        f
    }
}

/// A read's answer as a pane shows it.
fn loaded<T>(r: Result<T, String>) -> Load<T> {
    match r {
        Ok(v) => Load::Ready(v),
        Err(e) => Load::Error(e),
    }
}

/// The update form's figures arrived (the form shows them; this only redraws).
struct Redraw;

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
    /// The body's height at the last frame (a short one has no room for the split).
    body_h: u16,
    image_cmds: ImageCmds,
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
                mode: SplitMode::Log,
                log: None,
                top: Load::Loading,
                diff: Load::Loading,
                scroll: 0,
                gen: Arc::new(AtomicU64::new(0)),
                in_flight: false,
            },
            table: Rect::default(),
            body_h: 0,
            image_cmds: ImageCmds::default(),
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

    /// Read what the split shows again (the log's tail, the processes or the changes),
    /// unless a read is under way. The split reads without following: a follower
    /// thread per selected row would outlive it.
    fn read_preview(&mut self, cx: &mut Ctx) {
        let Some(p) = &self.split.log else { return };
        if self.split.in_flight {
            return;
        }
        let id = p.id.clone();
        let gen = self.split.gen.load(Ordering::SeqCst);
        if self.split.mode == SplitMode::Top {
            // Only a running container has processes: say so without asking.
            let state = cx
                .store
                .containers
                .items
                .iter()
                .find(|c| c.id == id)
                .map(|c| c.state);
            if let Some(st) = state.filter(|s| !s.is_active()) {
                let start = cx
                    .keys_for(INFO.context, START)
                    .map(|k| format!(" (press {k})"))
                    .unwrap_or_default();
                self.split.top = Load::Unavailable(format!(
                    "{} is {}: its processes show while it runs; start it{start}",
                    p.name,
                    st.as_str()
                ));
                return;
            }
        }
        self.split.in_flight = true;
        let mode = self.split.mode;
        cx.ask(INFO.context, move |e, c| {
            let read = match mode {
                SplitMode::Log => {
                    let mut lines = Vec::new();
                    let r = api::container_logs(e, c, &id, false, PREVIEW_LINES, &mut |l| {
                        lines.push(l);
                        true
                    });
                    Read::Log(r.map(|()| lines))
                }
                SplitMode::Top => Read::Top(api::top(e, c, &id)),
                SplitMode::Diff => Read::Diff(api::diff(e, c, &id)),
            };
            Preview { gen, read }
        });
    }

    /// Show `mode` under the list (or the log again, when it shows already); the split
    /// comes on, full screen where the body has no room for it.
    fn show(&mut self, mode: SplitMode, cx: &mut Ctx) {
        let mode = if self.split.on && self.split.mode == mode {
            SplitMode::Log
        } else {
            mode
        };
        self.split.on = true;
        if self.body_h < MIN_SPLIT_BODY && mode != SplitMode::Log {
            self.split.zoom = true;
        }
        self.split.mode = mode;
        self.split.scroll = 0;
        self.split.top = Load::Loading;
        self.split.diff = Load::Loading;
        self.split.gen.fetch_add(1, Ordering::SeqCst);
        self.split.in_flight = false;
        self.read_preview(cx);
    }

    /// Scroll the processes or changes shown full screen; `false` for other actions.
    fn scroll_split(&mut self, a: Action, cx: &Ctx) -> bool {
        if !(self.split.zoom && self.split.on && self.split.mode != SplitMode::Log) {
            return false;
        }
        let page = cx.page.max(1) as usize;
        let s = &mut self.split.scroll;
        match a {
            actions::UP => *s = s.saturating_sub(1),
            actions::DOWN => *s += 1,
            actions::PAGE_UP => *s = s.saturating_sub(page),
            actions::PAGE_DOWN => *s += page,
            actions::TOP => *s = 0,
            actions::BOTTOM => *s = usize::MAX / 2,
            _ => return false,
        }
        true
    }

    /// The selected container as an action's target; a note when there is none.
    fn target(&self, cx: &mut Ctx) -> Option<Target> {
        let t = self.selected(cx.store).map(|c| Target {
            id: c.id.clone(),
            name: c.name.clone(),
        });
        if t.is_none() {
            cx.emit(Effect::note(Level::Info, "nothing selected"));
        }
        t
    }

    fn ask_commit(&self, cx: &mut Ctx) {
        let Some(t) = self.target(cx) else { return };
        let known: Vec<String> = cx
            .store
            .images
            .items
            .iter()
            .flat_map(|i| i.repo_tags.clone())
            .collect();
        let spec = CommitSpec {
            container: t.name.clone(),
            known,
        };
        let s2 = spec.clone();
        cx.emit(Effect::Form(Box::new(FormAsk {
            form: Form::new(Box::new(spec)),
            then: Box::new(move |v| {
                let call = Call::Commit {
                    target: t.clone(),
                    opts: Box::new(s2.request(v)),
                };
                match s2.replaces(v) {
                    Some(r) => Effect::Confirm(Confirm::new(
                        "commit",
                        format!("{r} exists: move its tag to the new image of {}?", t.name),
                        call,
                    )),
                    None => Effect::Call(call),
                }
            }),
        })));
    }

    /// The update form; what the container has now is read meanwhile and shows when it
    /// comes (the form opens at once, so no key typed into it is lost).
    fn ask_update(&self, cx: &mut Ctx) {
        let Some(t) = self.target(cx) else { return };
        let now: update::Now = Arc::new(Mutex::new(Default::default()));
        let fill = now.clone();
        let id = t.id.clone();
        cx.ask(INFO.context, move |e, c| {
            if let Ok(j) = api::inspect(e, c, "container", &id) {
                if let Ok(mut n) = fill.lock() {
                    *n = update::now_from_inspect(&j);
                }
            }
            Redraw
        });
        let spec = UpdateSpec {
            container: t.name.clone(),
            now,
        };
        let s2 = spec.clone();
        cx.emit(Effect::Form(Box::new(FormAsk {
            form: Form::new(Box::new(spec)),
            then: Box::new(move |v| match s2.request(v) {
                Ok((resources, restart)) => Effect::Call(Call::Update {
                    target: t.clone(),
                    resources: Box::new(resources),
                    restart,
                }),
                Err((_, e)) => Effect::note(Level::Error, e),
            }),
        })));
    }

    fn draw_split(&mut self, f: &mut Frame, rule: Rect, rest: Rect, v: &View) {
        let theme = v.theme;
        let Some(p) = &self.split.log else { return };
        let what = match self.split.mode {
            SplitMode::Log if p.load == Load::Loading => "log (reading)".to_string(),
            SplitMode::Log => "log (tail, every 2 s)".to_string(),
            SplitMode::Top => match &self.split.top {
                Load::Ready(t) => format!("processes (top, every 2 s: {})", t.processes.len()),
                _ => "processes (top)".into(),
            },
            SplitMode::Diff => match &self.split.diff {
                Load::Ready(d) => format!("changes (diff: {})", changes::summary(d)),
                _ => "changes (diff)".into(),
            },
        };
        let zoom = match (self.split.zoom, self.split.mode) {
            (false, _) => "",
            (true, SplitMode::Log) => "· full screen ",
            (true, _) => "· full screen, ↑↓ scroll ",
        };
        let title = format!(" {} · {what} {zoom}", p.name);
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
        match self.split.mode {
            SplitMode::Log => logs::draw(f, rest, theme, p),
            SplitMode::Top => {
                self.split.scroll = procs::draw(f, rest, theme, &self.split.top, self.split.scroll)
            }
            SplitMode::Diff => {
                self.split.scroll =
                    changes::draw(f, rest, theme, &self.split.diff, self.split.scroll)
            }
        }
    }
}

impl Pane for Containers {
    fn info(&self) -> &'static PaneInfo {
        &INFO
    }

    fn act(&mut self, a: Action, cx: &mut Ctx) -> bool {
        if self.scroll_split(a, cx) {
            return true;
        }
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
                cx.emit(Effect::RunForm(Box::new(self.image_cmds.run_form(store))));
            }
            TOP => self.show(SplitMode::Top, cx),
            DIFF => self.show(SplitMode::Diff, cx),
            COMMIT => self.ask_commit(cx),
            COPY => {
                if let Some(t) = self.target(cx) {
                    cx.emit(Effect::Form(Box::new(forms::copy_form(t))));
                }
            }
            EXPORT => {
                if let Some(t) = self.target(cx) {
                    cx.emit(Effect::Form(Box::new(forms::export_form(t))));
                }
            }
            UPDATE => self.ask_update(cx),
            WAIT => {
                if let Some(target) = self.target(cx) {
                    cx.emit(Effect::Call(Call::Wait { target }));
                }
            }
            SPLIT_TOGGLE => {
                self.split.on = !self.split.on;
                self.split.zoom = false;
                if !self.split.on && self.split.mode != SplitMode::Log {
                    // Back on, it shows the log again.
                    self.split.mode = SplitMode::Log;
                    self.split.gen.fetch_add(1, Ordering::SeqCst);
                    self.split.in_flight = false;
                }
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
        let Some(m) = self.image_cmds.answer(m) else {
            return;
        };
        let Some(Preview { gen, read }) = m.take::<Preview>() else {
            return;
        };
        if gen != self.split.gen.load(Ordering::SeqCst) {
            return;
        }
        self.split.in_flight = false;
        match read {
            Read::Log(lines) => {
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
            Read::Top(t) => self.split.top = loaded(t),
            Read::Diff(d) => self.split.diff = loaded(d),
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
        self.image_cmds.sync(cx, INFO.context);
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
                self.split.top = Load::Loading;
                self.split.diff = Load::Loading;
                self.split.scroll = 0;
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
            // The fleet view draws a HOST column first (as `draw` decides).
            let fleet = !cx.store.containers.hosts.is_empty();
            if let Some(k) = containers::sort_key_at(fleet, t.x, t.width, col) {
                self.sort_by(cx.store, k, k.biggest_first());
            }
            return;
        }
        let n = self.visible(cx.store).len();
        self.list.click(row, t, n);
    }

    fn draw(&mut self, f: &mut Frame, body: Rect, v: &View) {
        self.body_h = body.height;
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
        // The lower split: the selected container's log, processes or changes, when
        // there is room.
        let split = match &self.split.log {
            Some(_) if self.split.on && (self.split.zoom || body.height >= MIN_SPLIT_BODY) => {
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
                Some((th, rule, rest))
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
        if let Some((_, rule, rest)) = split {
            self.draw_split(f, rule, rest, v);
        }
        self.sel_id = rows.get(self.list.cursor.selected).map(|c| c.id.clone());
    }
}

#[cfg(test)]
mod tests {
    //! The lower split's processes and changes, as the pane draws them at 80x24 and
    //! 160x45 (the body, without the header, tabs and footer).

    use ratatui::backend::TestBackend;
    use ratatui::Terminal;
    use wharf_engine::api::ChangeKind;
    use wharf_views::Theme;

    use super::*;
    use crate::console::keymap::Keymap;

    const NOW: i64 = 1_767_225_600;

    fn store() -> Store {
        let mut s = Store::default();
        s.containers.set(containers::sample(6, NOW));
        s
    }

    /// The pane with `mode` under the list for the first row (batch-17).
    fn pane(store: &Store, mode: SplitMode) -> Containers {
        let mut p = Containers::default();
        let c = p.visible(store)[0];
        p.split.log = Some(LogsState::new(&c.id, &c.name));
        p.split.mode = mode;
        p.split.top = Load::Ready(TopResult {
            titles: ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
                .map(String::from)
                .to_vec(),
            processes: vec![
                [
                    "root",
                    "4211",
                    "4190",
                    "0",
                    "10:41",
                    "?",
                    "00:00:00",
                    "sh -c while true; do sleep 1; done",
                ]
                .map(String::from)
                .to_vec(),
                [
                    "root", "4260", "4211", "0", "10:42", "?", "00:00:00", "sleep 1",
                ]
                .map(String::from)
                .to_vec(),
            ],
        });
        p.split.diff = Load::Ready(
            [
                (ChangeKind::Modified, "/tmp"),
                (ChangeKind::Added, "/tmp/made.txt"),
                (ChangeKind::Modified, "/www"),
                (ChangeKind::Deleted, "/www/index.html"),
            ]
            .map(|(kind, path)| Change {
                kind,
                path: path.into(),
            })
            .to_vec(),
        );
        p
    }

    fn screen(p: &mut Containers, store: &Store, w: u16, h: u16) -> String {
        let keymap = Keymap::default_keymap();
        let theme = Theme::default();
        let allowed = |_| true;
        let v = View {
            theme: &theme,
            store,
            keymap: &keymap,
            allowed: &allowed,
            focused: true,
            now: NOW,
        };
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|f| p.draw(f, f.area(), &v)).unwrap();
        t.backend().to_string()
    }

    #[test]
    fn processes_and_changes_under_the_list() {
        let s = store();
        let mut p = pane(&s, SplitMode::Top);
        let wide = screen(&mut p, &s, 160, 42);
        assert!(
            wide.contains("batch-17 · processes (top, every 2 s: 2)"),
            "{wide}"
        );
        insta::assert_snapshot!("top_wide", wide);
        insta::assert_snapshot!("top_narrow", screen(&mut p, &s, 80, 21));
        let mut p = pane(&s, SplitMode::Diff);
        let narrow = screen(&mut p, &s, 80, 21);
        assert!(
            narrow.contains("batch-17 · changes (diff: 1 added, 2 changed, 1 deleted)"),
            "{narrow}"
        );
        insta::assert_snapshot!("diff_narrow", narrow);
        // Full screen, scrolled: the last lines stay in view.
        p.split.zoom = true;
        p.split.scroll = 100;
        let z = screen(&mut p, &s, 80, 3);
        assert!(
            z.contains("full screen, ↑↓") && z.contains("/www/index.html"),
            "{z}"
        );
    }

    /// In the fleet view a click on the IMAGE header sorts by image (the HOST column
    /// drawn first shifts every header right).
    #[test]
    fn fleet_header_click_sorts_by_the_column_drawn() {
        use std::collections::VecDeque;
        use std::sync::Arc;

        let dir = tempfile::tempdir().unwrap();
        let (worker, _rx) = crate::console::worker::Worker::on_temp_root(dir.path());
        let mut store = store();
        let n = store.containers.items.len();
        store.containers.hosts = vec![Arc::from("lab-01"); n];
        let keymap = Keymap::default_keymap();
        let mut out = VecDeque::new();
        let mut cx = Ctx {
            store: &store,
            keymap: &keymap,
            worker: &worker,
            out: &mut out,
            page: 10,
        };
        let mut p = Containers {
            table: Rect::new(0, 2, 160, 20),
            ..Containers::default()
        };
        // The IMAGE header's x in the fleet view's layout.
        let mut at = wharf_views::table::GUTTER;
        let mut image = None;
        for (i, w) in wharf_views::table::fit_columns(&containers::FLEET_COLUMNS, 160) {
            if containers::FLEET_COLUMNS[i].title == "IMAGE" {
                image = Some(at);
            }
            at += w + 1;
        }
        p.click(image.unwrap(), 2, p.table, &mut cx);
        assert_eq!(p.sort.0, SortKey::Image);
    }
}
