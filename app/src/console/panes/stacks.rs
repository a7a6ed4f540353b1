//! The stacks pane (`:stacks`): the compose projects on the engine, found by their
//! containers' labels as `wharf compose ls -a` finds them; Enter opens one: its
//! services with their containers. Up, down (asks first; `v` removes the volumes too),
//! start, stop, restart, pause, unpause act on the project in the list, and on the
//! selected service in a project; `l` follows the project's logs, interleaved and
//! coloured by service; `n` (or `:stacks up FILE [NAME]`) starts a project from a file.
//! Every action is a [`Call::Stack`], done on a worker by `wharf_engine::compose` as
//! `wharf compose` does it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use ratatui::layout::Rect;
use ratatui::Frame;
use wharf_engine::api::{ContainerSummary, LogOptions};
use wharf_engine::compose::status::Drift;
use wharf_engine::compose::{self as compose, status};
use wharf_engine::policy::Action as Perm;
use wharf_views::stacks::{Body, ProjectRow, ServiceRow, StackLogLine};
use wharf_views::ListCursor;

use super::{Ctx, ListState, Pane, PaneInfo, View};
use crate::console::actions::{self, Action};
use crate::console::api::{self, Call, StackOp};
use crate::console::forms::{checked, Field};
use crate::console::msg::{Choice, Confirm, Effect, Msg, PaneMsg};
use crate::console::store::Store;
use wharf_views::footer::Level;

pub const UP: Action = Action::new(
    "stack-up",
    "compose up -d: create and start the project (or the selected service) from its compose file",
)
.short("up")
.needs(Perm::ContainerCreate);
pub const DOWN: Action = Action::new(
    "stack-down",
    "compose down: stop and remove the project's containers and networks (asks; v: volumes too)",
)
.short("down")
.needs(Perm::ContainerRemove);
pub const START: Action = Action::new(
    "stack-start",
    "compose start: start the project's (or the selected service's) containers",
)
.short("start")
.needs(Perm::ContainerStart);
pub const STOP: Action = Action::new(
    "stack-stop",
    "compose stop: stop the project's (or the selected service's) containers",
)
.short("stop")
.needs(Perm::ContainerStop);
pub const RESTART: Action = Action::new(
    "stack-restart",
    "compose restart: restart the project's (or the selected service's) containers",
)
.short("restart")
.needs(Perm::ContainerRestart);
pub const PAUSE: Action = Action::new(
    "stack-pause",
    "compose pause: pause the project's (or the selected service's) containers",
)
.short("pause")
.needs(Perm::ContainerPause);
pub const UNPAUSE: Action = Action::new(
    "stack-unpause",
    "compose unpause: unpause the project's (or the selected service's) containers",
)
.short("unpause")
.needs(Perm::ContainerUnpause);
pub const LOGS: Action = Action::new(
    "stack-logs",
    "the project's logs, interleaved and coloured by service, following",
)
.short("logs")
.needs(Perm::ContainerLogs);
pub const NEW: Action = Action::new(
    "stack-new",
    "start a project from a compose file (a form: the file, the project name)",
)
.short("new")
.needs(Perm::ContainerCreate);
pub const FOLLOW: Action =
    Action::new("stack-follow-toggle", "logs: follow new lines, or stop").short("follow");

pub static INFO: PaneInfo = PaneInfo {
    title: "Stacks",
    short: "Stk",
    context: "stacks",
    commands: &["stacks", "stack"],
    takes_container: false,
    actions: &[
        actions::DETAILS,
        UP,
        DOWN,
        STOP,
        START,
        RESTART,
        PAUSE,
        UNPAUSE,
        LOGS,
        NEW,
        FOLLOW,
    ],
    make: || Box::new(Stacks::default()),
};

/// How many log lines are kept.
const LOG_CAP: usize = 5000;

/// Where the pane is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
enum Mode {
    #[default]
    Projects,
    /// One project, by name.
    Project(String),
    /// A project's logs.
    Logs(String),
}

/// A line of a project's logs, from the worker (`generation`: the logs it is for).
struct LogFeed {
    generation: u64,
    line: StackLogLine,
}

/// A file's services in its order, with their drift.
type FileServices = Vec<(String, Drift)>;

/// The services of a project's file, from the worker.
struct ServicesFeed {
    project: String,
    rev: u64,
    services: Option<FileServices>,
}

/// The new-project form's answer.
struct UpFile {
    file: String,
    name: String,
}

/// The stacks pane.
#[derive(Debug, Default)]
pub struct Stacks {
    list: ListState,
    project_cursor: ListCursor,
    log_cursor: ListCursor,
    mode: Mode,
    logs: Vec<StackLogLine>,
    log_width: usize,
    following: bool,
    generation: u64,
    /// Set to end the streams of the logs shown.
    log_stop: Option<Arc<AtomicBool>>,
    /// Compose files of projects started here from a file (used while a project has
    /// no container with a `config_files` label, e.g. after a failed `up`).
    known_files: BTreeMap<String, Vec<String>>,
    /// The open project's services as its compose file has them (`status::services`):
    /// the project, the container list's revision they were read at, and the services
    /// in file order with their drift; `None` until read (or when the file cannot be).
    file_services: Option<(String, u64, FileServices)>,
    /// A read of the file's services is under way (project, revision).
    asked: Option<(String, u64)>,
    changed: bool,
}

/// The compose projects in the store's container list, as `compose ls -a` has them.
pub fn projects(store: &Store) -> Vec<ProjectRow> {
    let mut by: BTreeMap<&str, Vec<&ContainerSummary>> = BTreeMap::new();
    for c in store.containers.items.iter() {
        if let Some(p) = c.labels.get(compose::LABEL_PROJECT) {
            by.entry(p.as_str()).or_default().push(c);
        }
    }
    by.into_iter()
        .map(|(name, cs)| {
            let states: Vec<_> = cs.iter().map(|c| c.state).collect();
            let label = |k: &str| {
                cs.iter()
                    .find_map(|c| c.labels.get(k).cloned())
                    .unwrap_or_default()
            };
            ProjectRow {
                name: name.to_string(),
                status: status::status_text(&states),
                config_files: label(compose::LABEL_FILES),
                working_dir: label(compose::LABEL_WORKDIR),
                containers: cs.len(),
                running: states
                    .iter()
                    .filter(|s| **s == wharf_engine::api::ContainerStatus::Running)
                    .count(),
            }
        })
        .collect()
}

/// The compose files of a project row, as absolute paths.
fn files_of(p: &ProjectRow) -> Vec<String> {
    let dir = std::path::Path::new(&p.working_dir);
    p.config_files
        .split(',')
        .filter(|f| !f.is_empty())
        .map(|f| dir.join(f).to_string_lossy().into_owned())
        .collect()
}

/// A project's containers in the store (not the one-off ones), by service and number.
fn containers_of<'s>(store: &'s Store, project: &str) -> Vec<&'s ContainerSummary> {
    let mut v: Vec<&ContainerSummary> = store
        .containers
        .items
        .iter()
        .filter(|c| {
            c.labels.get(compose::LABEL_PROJECT).map(String::as_str) == Some(project)
                && !c
                    .labels
                    .get(compose::LABEL_ONEOFF)
                    .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        })
        .collect();
    let key = |c: &ContainerSummary| {
        (
            c.labels
                .get(compose::LABEL_SERVICE)
                .cloned()
                .unwrap_or_default(),
            c.labels
                .get(compose::LABEL_NUMBER)
                .and_then(|n| n.parse::<u32>().ok())
                .unwrap_or(0),
            c.name.clone(),
        )
    };
    v.sort_by_key(|c| key(c));
    v
}

fn service_of(c: &ContainerSummary) -> &str {
    c.labels
        .get(compose::LABEL_SERVICE)
        .map(String::as_str)
        .unwrap_or("")
}

/// A path typed at the console, made absolute from the console's directory.
fn absolute(p: &str) -> String {
    let p = p.trim();
    let p = match p.strip_prefix("~/") {
        Some(rest) => match std::env::var("HOME") {
            Ok(h) => format!("{h}/{rest}"),
            Err(_) => p.to_string(),
        },
        None => p.to_string(),
    };
    let path = std::path::Path::new(&p);
    if path.is_absolute() {
        p
    } else {
        std::env::current_dir()
            .map(|d| d.join(path).to_string_lossy().into_owned())
            .unwrap_or(p)
    }
}

/// `up -d` of the project in `file` (named `name`, else as the file says): the call, or
/// why not as a sentence naming the file. The file is read here to name the project
/// (the call reads it again on the worker).
pub fn up_from_file(file: &str, name: Option<&str>) -> Result<Call, String> {
    let file = absolute(file);
    if !std::path::Path::new(&file).is_file() {
        return Err(format!("no compose file {file}"));
    }
    let name = name.map(str::trim).filter(|n| !n.is_empty());
    let p = api::load_stack(name, std::slice::from_ref(&file))
        .map_err(|e| format!("cannot read the compose file {file}: {e}"))?;
    Ok(Call::Stack {
        project: p.name,
        files: vec![file],
        services: vec![],
        op: StackOp::Up,
    })
}

impl Stacks {
    fn visible(&self, store: &Store) -> Vec<ProjectRow> {
        projects(store)
            .into_iter()
            .filter(|p| {
                self.list.filter.matches(
                    &[&p.name, &p.status, &p.config_files, &p.working_dir],
                    &Default::default(),
                )
            })
            .collect()
    }

    fn selected_project(&self, store: &Store) -> Option<ProjectRow> {
        match &self.mode {
            Mode::Projects => self.visible(store).get(self.list.cursor.selected).cloned(),
            Mode::Project(n) | Mode::Logs(n) => Some(
                projects(store)
                    .into_iter()
                    .find(|p| p.name == *n)
                    .unwrap_or_else(|| ProjectRow {
                        name: n.clone(),
                        ..Default::default()
                    }),
            ),
        }
    }

    /// A project's compose files: from its labels, else as it was started here.
    fn files(&self, p: &ProjectRow) -> Vec<String> {
        let f = files_of(p);
        if f.is_empty() {
            self.known_files.get(&p.name).cloned().unwrap_or_default()
        } else {
            f
        }
    }

    /// A project's rows: each service of its file (in the file's order) with its
    /// containers, or alone when it has none; then containers of services the file
    /// does not have. Without the file: the containers by service.
    fn rows<'s>(&'s self, store: &'s Store, project: &str) -> Vec<ServiceRow<'s>> {
        let cs = containers_of(store, project);
        let mut out = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        if let Some((p, _, svcs)) = &self.file_services {
            if p == project {
                for (name, drift) in svcs {
                    seen.insert(name.as_str());
                    let note = match drift {
                        Drift::Changed => "changed in the file: up recreates",
                        Drift::Missing => "fewer than the file asks: up creates",
                        Drift::Extra => "more than the file asks: up removes",
                        Drift::NotInFile => "not in the file",
                        Drift::Disabled => "profile not active",
                        Drift::InSync => "",
                    };
                    let mine: Vec<&ContainerSummary> = cs
                        .iter()
                        .copied()
                        .filter(|c| service_of(c) == name)
                        .collect();
                    if mine.is_empty() {
                        out.push(ServiceRow {
                            service: name,
                            container: None,
                            note,
                        });
                    }
                    for c in mine {
                        out.push(ServiceRow {
                            service: name,
                            container: Some(c),
                            note,
                        });
                    }
                }
            }
        }
        for c in cs {
            if !seen.contains(service_of(c)) {
                out.push(ServiceRow {
                    service: service_of(c),
                    container: Some(c),
                    note: if seen.is_empty() {
                        ""
                    } else {
                        "not in the file"
                    },
                });
            }
        }
        out
    }

    /// The service the selection is on, in a project.
    fn selected_service(&self, store: &Store) -> Option<String> {
        match &self.mode {
            Mode::Project(n) => self
                .rows(store, n)
                .get(self.project_cursor.selected)
                .map(|r| r.service.to_string()),
            _ => None,
        }
    }

    /// Read the open project's services from its file on a worker, once per change of
    /// the container list.
    /// `force`: read again even if the list did not change (the file may have).
    fn ask_services(&mut self, cx: &mut Ctx, force: bool) {
        let Mode::Project(n) = &self.mode else {
            return;
        };
        let rev = cx.store.containers.rev;
        let key = (n.clone(), rev);
        if self.asked.as_ref() == Some(&key)
            || (!force
                && self
                    .file_services
                    .as_ref()
                    .is_some_and(|(p, r, _)| *p == key.0 && *r == rev))
        {
            return;
        }
        let Some(p) = self.selected_project(cx.store) else {
            return;
        };
        let files = self.files(&p);
        if files.is_empty() {
            return;
        }
        self.asked = Some(key);
        let project = n.clone();
        cx.ask(INFO.context, move |e, c| {
            let services = api::load_stack(Some(&project), &files)
                .and_then(|p| status::services(e, c, &p))
                .ok()
                .map(|v| v.into_iter().map(|s| (s.name, s.drift)).collect());
            ServicesFeed {
                project,
                rev,
                services,
            }
        });
    }

    /// A stack action on the selected project (or service).
    fn stack(&mut self, op: StackOp, cx: &mut Ctx) {
        let Some(p) = self.selected_project(cx.store) else {
            cx.emit(Effect::note(Level::Warn, "select a project"));
            return;
        };
        let files = self.files(&p);
        let services: Vec<String> = match op {
            StackOp::Down { .. } => vec![],
            _ => self.selected_service(cx.store).into_iter().collect(),
        };
        if op == StackOp::Up && files.is_empty() {
            cx.emit(Effect::note(
                Level::Warn,
                format!(
                    "the compose file of project {} is not known (no config_files label): start it with :stacks up FILE",
                    p.name
                ),
            ));
            return;
        }
        let call = |op| Call::Stack {
            project: p.name.clone(),
            files: files.clone(),
            services: services.clone(),
            op,
        };
        if let StackOp::Down { .. } = op {
            cx.emit(Effect::Confirm(Confirm {
                yes: "down".into(),
                also: Some(Choice {
                    key: 'v',
                    label: "down and remove its volumes (-v)".into(),
                    then: call(StackOp::Down { volumes: true }),
                }),
                ..Confirm::new(
                    "compose down",
                    format!(
                        "stop and remove the {} containers of project {} and its networks? Volumes are kept unless you answer v.",
                        p.containers, p.name
                    ),
                    call(StackOp::Down { volumes: false }),
                )
            }));
        } else {
            cx.emit(Effect::Call(call(op)));
        }
    }

    fn ask_new(&self, cx: &mut Ctx) {
        let form = checked(
            "start a project from a compose file",
            vec![
                Field::new("compose file", "").hint("path/to/compose.yaml"),
                Field::new("project name", "").hint("from the file (name:) or its directory"),
            ],
            "up",
            Box::new(|v| {
                let file = v[0].trim();
                if file.is_empty() {
                    return Err((Some(0), "the compose file's path".into()));
                }
                let abs = absolute(file);
                if !std::path::Path::new(&abs).is_file() {
                    return Err((Some(0), format!("no file {abs}")));
                }
                let name = v[1].trim();
                if !name.is_empty() && compose::load::normalize_name(name) != name {
                    return Err((
                        Some(1),
                        "lowercase letters, digits, dashes and underscores".into(),
                    ));
                }
                Ok(if name.is_empty() {
                    format!("wharf compose -f {abs} up -d")
                } else {
                    format!("wharf compose -p {name} -f {abs} up -d")
                })
            }),
            Box::new(|v| Effect::ToPane {
                to: INFO.context,
                msg: PaneMsg::new(UpFile {
                    file: v[0].trim().to_string(),
                    name: v[1].trim().to_string(),
                }),
            }),
        );
        cx.emit(Effect::Form(Box::new(form.focus(0))));
    }

    /// `up -d` from a file: the project is shown (its services appear as they start).
    fn up_file(&mut self, file: &str, name: Option<&str>, cx: &mut Ctx) -> Result<(), String> {
        let call = up_from_file(file, name)?;
        if let Call::Stack { project, files, .. } = &call {
            self.known_files.insert(project.clone(), files.clone());
            self.stop_logs();
            self.mode = Mode::Project(project.clone());
            self.project_cursor = ListCursor::default();
        }
        cx.emit(Effect::Call(call));
        Ok(())
    }

    fn stop_logs(&mut self) {
        if let Some(s) = self.log_stop.take() {
            s.store(true, Ordering::SeqCst);
        }
    }

    /// Follow the project's logs: a stream per container, lines back as [`LogFeed`]s.
    fn open_logs(&mut self, cx: &mut Ctx) {
        let Some(p) = self.selected_project(cx.store) else {
            return;
        };
        self.stop_logs();
        self.generation += 1;
        self.logs.clear();
        self.following = true;
        self.log_cursor = ListCursor::default();
        let cs = containers_of(cx.store, &p.name);
        self.log_width = cs.iter().map(|c| c.name.len()).max().unwrap_or(0);
        self.mode = Mode::Logs(p.name.clone());
        let stop = Arc::new(AtomicBool::new(false));
        self.log_stop = Some(stop.clone());
        let generation = self.generation;
        let name = p.name.clone();
        cx.worker.stream(move |e, c, tx| {
            // The project's containers as `compose logs` finds them.
            let cs = match status::containers(e, c, &name) {
                Ok(cs) => cs,
                Err(err) => {
                    let _ = tx.send(Msg::Pane {
                        to: INFO.context,
                        msg: PaneMsg::new(LogFeed {
                            generation,
                            line: StackLogLine {
                                service: 0,
                                container: "wharf".into(),
                                text: format!("cannot list project {name}: {err}"),
                            },
                        }),
                    });
                    return;
                }
            };
            let mut index: BTreeMap<String, usize> = BTreeMap::new();
            for c in &cs {
                let n = index.len();
                index.entry(c.service.clone()).or_insert(n);
            }
            std::thread::scope(|scope| {
                for k in cs.iter().filter(|k| !k.oneoff) {
                    let (stop, tx, index) = (&stop, tx, &index);
                    scope.spawn(move || {
                        let opts = LogOptions {
                            follow: true,
                            tail: Some(200),
                            stdout: true,
                            stderr: true,
                            ..Default::default()
                        };
                        let service = index.get(&k.service).copied().unwrap_or(0);
                        let _ = e.container_logs(c, &k.id, &opts, &mut |l| {
                            if stop.load(Ordering::SeqCst) {
                                return false;
                            }
                            let text = l.log.strip_suffix('\n').unwrap_or(&l.log).to_string();
                            tx.send(Msg::Pane {
                                to: INFO.context,
                                msg: PaneMsg::new(LogFeed {
                                    generation,
                                    line: StackLogLine {
                                        service,
                                        container: k.name.clone(),
                                        text,
                                    },
                                }),
                            })
                            .is_ok()
                        });
                    });
                }
            });
        });
    }

    fn close_logs(&mut self) {
        self.stop_logs();
        if let Mode::Logs(n) = &self.mode {
            self.mode = Mode::Project(n.clone());
        }
    }
}

impl Pane for Stacks {
    fn info(&self) -> &'static PaneInfo {
        &INFO
    }

    fn act(&mut self, a: Action, cx: &mut Ctx) -> bool {
        match a {
            actions::DETAILS => match &self.mode {
                Mode::Projects => {
                    if let Some(p) = self.selected_project(cx.store) {
                        self.mode = Mode::Project(p.name);
                        self.project_cursor = ListCursor::default();
                    }
                }
                Mode::Project(n) => {
                    let rows = self.rows(cx.store, n);
                    if let Some(c) = rows
                        .get(self.project_cursor.selected)
                        .and_then(|r| r.container)
                    {
                        let body = format!(
                            "service   {}\ncontainer {}\nimage     {}\nstate     {}\nstatus    {}\nports     {}\n",
                            service_of(c),
                            c.name,
                            c.image,
                            wharf_views::containers::state_text(c),
                            c.status,
                            wharf_views::containers::ports_text(c)
                        );
                        cx.emit(Effect::Show {
                            title: c.name.clone(),
                            body,
                        });
                    }
                }
                Mode::Logs(_) => {}
            },
            actions::BACK => match &self.mode {
                Mode::Projects => return false,
                Mode::Project(_) => self.mode = Mode::Projects,
                Mode::Logs(_) => self.close_logs(),
            },
            UP => self.stack(StackOp::Up, cx),
            DOWN => self.stack(StackOp::Down { volumes: false }, cx),
            START => self.stack(StackOp::Start, cx),
            STOP => self.stack(StackOp::Stop, cx),
            RESTART => self.stack(StackOp::Restart, cx),
            PAUSE => self.stack(StackOp::Pause, cx),
            UNPAUSE => self.stack(StackOp::Unpause, cx),
            LOGS => self.open_logs(cx),
            NEW => self.ask_new(cx),
            FOLLOW => {
                if matches!(self.mode, Mode::Logs(_)) {
                    self.following = !self.following;
                }
            }
            _ => {
                // Moving: the project's rows or the log's lines.
                let n = self.len(cx.store);
                let page = cx.page;
                match &self.mode {
                    Mode::Projects => return false,
                    Mode::Project(_) => {
                        let mut l = ListState {
                            cursor: std::mem::take(&mut self.project_cursor),
                            ..Default::default()
                        };
                        let moved = l.navigate(a, n, page);
                        self.project_cursor = l.cursor;
                        return moved;
                    }
                    Mode::Logs(_) => {
                        if matches!(a, actions::UP | actions::PAGE_UP | actions::TOP) {
                            self.following = false;
                        }
                        let mut l = ListState {
                            cursor: std::mem::take(&mut self.log_cursor),
                            ..Default::default()
                        };
                        let moved = l.navigate(a, n, page);
                        self.log_cursor = l.cursor;
                        if matches!(a, actions::BOTTOM) {
                            self.following = true;
                        }
                        return moved;
                    }
                }
            }
        }
        true
    }

    fn answer(&mut self, m: PaneMsg, cx: &mut Ctx) {
        let m = match m.take_or_keep::<UpFile>() {
            Ok(u) => {
                let name = Some(u.name.as_str()).filter(|n| !n.is_empty());
                if let Err(e) = self.up_file(&u.file, name, cx) {
                    cx.emit(Effect::note(Level::Error, e));
                }
                return;
            }
            Err(m) => m,
        };
        let m = match m.take_or_keep::<ServicesFeed>() {
            Ok(f) => {
                if self.asked.as_ref() == Some(&(f.project.clone(), f.rev)) {
                    self.asked = None;
                }
                self.file_services = f.services.map(|v| (f.project, f.rev, v));
                self.changed = true;
                return;
            }
            Err(m) => m,
        };
        if let Some(f) = m.take::<LogFeed>() {
            if f.generation != self.generation || !matches!(self.mode, Mode::Logs(_)) {
                return;
            }
            self.log_width = self.log_width.max(f.line.container.len());
            if self.logs.len() >= LOG_CAP {
                self.logs.remove(0);
                self.log_cursor.selected = self.log_cursor.selected.saturating_sub(1);
            }
            self.logs.push(f.line);
            self.changed = true;
        }
    }

    /// `:stacks NAME` opens a project; `:stacks up FILE [NAME]` starts one from a file.
    fn command_action(&self, arg: &str) -> Option<Action> {
        (arg.split_whitespace().next() == Some("up")).then_some(UP)
    }

    fn command(&mut self, arg: &str, cx: &mut Ctx) -> Result<(), String> {
        let words: Vec<&str> = arg.split_whitespace().collect();
        match words.as_slice() {
            [] => Ok(()),
            ["up", file] | ["up", file, _] => self.up_file(file, words.get(2).copied(), cx),
            ["up", ..] => Err("write :stacks up FILE [PROJECT]".into()),
            [name] => {
                if !projects(cx.store).iter().any(|p| p.name == *name) {
                    return Err(format!("no compose project {name:?}"));
                }
                self.stop_logs();
                self.mode = Mode::Project(name.to_string());
                self.project_cursor = ListCursor::default();
                Ok(())
            }
            _ => Err("write :stacks [PROJECT] or :stacks up FILE [PROJECT]".into()),
        }
    }

    fn status(&self, store: &Store) -> String {
        match &self.mode {
            Mode::Projects => {
                let n = self.visible(store).len();
                format!(
                    "{n} project{}{}",
                    if n == 1 { "" } else { "s" },
                    self.list.filter_status()
                )
            }
            Mode::Project(n) => match self.selected_service(store) {
                Some(s) => format!("{n} · service {s}"),
                None => n.clone(),
            },
            Mode::Logs(n) => format!(
                "logs of {n} · {}",
                if self.following {
                    "following"
                } else {
                    "paused"
                }
            ),
        }
    }

    fn list(&mut self) -> Option<&mut ListState> {
        match self.mode {
            Mode::Projects => Some(&mut self.list),
            _ => None,
        }
    }

    fn len(&self, store: &Store) -> usize {
        match &self.mode {
            Mode::Projects => self.visible(store).len(),
            Mode::Project(n) => self.rows(store, n).len(),
            Mode::Logs(_) => self.logs.len(),
        }
    }

    /// The file's services again (an edited file shows its drift).
    fn tick(&mut self, cx: &mut Ctx, shown: bool) {
        if shown {
            self.ask_services(cx, true);
        }
    }

    fn sync(&mut self, cx: &mut Ctx, shown: bool) -> bool {
        if shown {
            self.ask_services(cx, false);
        }
        std::mem::take(&mut self.changed) && shown
    }

    fn click(&mut self, _col: u16, row: u16, area: Rect, cx: &mut Ctx) {
        let n = self.len(cx.store);
        match &self.mode {
            Mode::Projects => {
                self.list.click(row, area, n);
            }
            Mode::Project(_) => {
                let area = Rect {
                    y: area.y + 1,
                    height: area.height.saturating_sub(1),
                    ..area
                };
                let mut l = ListState {
                    cursor: std::mem::take(&mut self.project_cursor),
                    ..Default::default()
                };
                l.click(row, area, n);
                self.project_cursor = l.cursor;
            }
            Mode::Logs(_) => {}
        }
    }

    fn draw(&mut self, f: &mut Frame, area: Rect, v: &View) {
        match self.mode.clone() {
            Mode::Projects => {
                let rows = self.visible(v.store);
                let refs: Vec<&ProjectRow> = rows.iter().collect();
                let body = Body::Projects {
                    load: &v.store.containers.load,
                    rows: &refs,
                    up_key: v.key_if_allowed(INFO.context, NEW),
                };
                wharf_views::stacks::draw(
                    f,
                    area,
                    v.theme,
                    &body,
                    &mut self.list.cursor,
                    v.focused,
                );
            }
            Mode::Project(n) => {
                let mut cursor = std::mem::take(&mut self.project_cursor);
                let rows = self.rows(v.store, &n);
                let p = self.selected_project(v.store).unwrap_or_default();
                let files = self.files(&p).join(",");
                let status = if p.status.is_empty() {
                    "no containers".to_string()
                } else {
                    p.status.clone()
                };
                let body = Body::Project {
                    name: &n,
                    files: &files,
                    status: &status,
                    rows: &rows,
                };
                wharf_views::stacks::draw(f, area, v.theme, &body, &mut cursor, v.focused);
                drop(rows);
                self.project_cursor = cursor;
            }
            Mode::Logs(n) => {
                let body = Body::Logs {
                    name: &n,
                    lines: &self.logs,
                    following: self.following,
                    width: self.log_width,
                };
                wharf_views::stacks::draw(f, area, v.theme, &body, &mut self.log_cursor, v.focused);
            }
        }
    }
}

impl Drop for Stacks {
    fn drop(&mut self) {
        self.stop_logs();
    }
}
