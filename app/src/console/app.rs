//! The console's state and what keys, mouse and engine messages do to it. No terminal
//! here: [`App::handle_key`] and [`App::handle_msg`] change state and start work on
//! worker threads; [`super::ui`] draws the state.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};
use ratatui::layout::Rect;
use serde_json::Value;
use wharf_engine::api::{
    ContainerStatus, ContainerSummary, EventFilter, ImageSummary, LogLine, LogOptions,
    StatsOptions, StatsPoint, SystemInfo, Volume,
};
use wharf_engine::events::{Event, EventType};
use wharf_engine::policy::EffectiveRole;
use wharf_engine::{Caller, Engine};
use wharf_views::containers::SortKey;
use wharf_views::footer::{Level, Notification};
use wharf_views::header::Counts;
use wharf_views::inspect::InspectState;
use wharf_views::logs::LogsState;
use wharf_views::networks::NetworkRow;
use wharf_views::run_form::{Field, RunForm};
use wharf_views::tabs::Tab;
use wharf_views::{ListCursor, Load, Theme};

use super::api::{self, ContainerOp};
use super::filter::Filter;
use super::keymap::{Action, Key, Keymap, Lookup};

/// What a worker thread reports back.
#[derive(Debug)]
pub enum Msg {
    Info(Result<SystemInfo, String>),
    Containers(Load<Vec<ContainerSummary>>),
    Images(Load<Vec<ImageSummary>>),
    Volumes(Load<Vec<Volume>>),
    Networks(Load<Vec<NetworkRow>>),
    /// An event; `live` is false for the ones read back from the journal at start.
    Event(Box<Event>, bool),
    EventsEnded(String),
    LogLine(u64, LogLine),
    LogEnd(u64, Result<(), String>),
    /// The tail of the selected container's log, for the lower split.
    Preview(u64, Result<Vec<LogLine>, String>),
    Inspect(u64, Result<Value, String>),
    /// An action finished: the notification to show; `refresh` lists to reload.
    Done(Notification),
    Host(Option<f64>, Option<(u64, u64)>),
    /// A round of the stats stream (running containers).
    Stats(Vec<wharf_engine::api::ContainerStats>),
    /// Progress of a long action (a pull), shown in the footer.
    Progress(String),
    /// A text to show in a window (image history).
    Show(String, String),
    StatsEnded(String),
}

/// Runs blocking engine calls on threads and sends [`Msg`]s back.
#[derive(Clone)]
pub struct Worker {
    pub engine: Arc<dyn Engine>,
    pub caller: Caller,
    pub tx: tokio::sync::mpsc::UnboundedSender<Msg>,
}

impl Worker {
    /// Run `f` on a thread; its message goes back to the loop.
    pub fn run(&self, f: impl FnOnce(&dyn Engine, &Caller) -> Msg + Send + 'static) {
        let w = self.clone();
        std::thread::spawn(move || {
            let m = f(w.engine.as_ref(), &w.caller);
            let _ = w.tx.send(m);
        });
    }
}

/// The terminal handed to a session in a container: the loop suspends the console,
/// runs the session on the real terminal, and takes the terminal back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handoff {
    /// A shell (`exec -it CTR sh`, bash when the image has it).
    Exec { id: String, name: String },
    /// The container's own stdio (`attach`); ctrl-p ctrl-q detaches.
    Attach { id: String, name: String },
}

/// A modal window over the panes.
#[derive(Debug)]
pub enum Overlay {
    None,
    Help {
        scroll: u16,
    },
    Confirm {
        title: String,
        question: String,
        then: Pending,
    },
    Input {
        title: String,
        label: String,
        value: String,
        purpose: InputPurpose,
    },
    Message {
        title: String,
        body: String,
    },
    RunForm(Box<RunForm>),
}

/// What a confirmation does on `y`.
#[derive(Debug, Clone)]
pub enum Pending {
    RemoveContainers(Vec<(String, String)>, bool),
    RemoveImages(Vec<String>),
    PruneImages,
    RemoveVolume(String),
    PruneVolumes,
    RemoveNetwork(String),
}

/// What a text input is for.
#[derive(Debug, Clone)]
pub enum InputPurpose {
    Rename(String, String),
    Tag(String),
    LogSearch,
    InspectSearch,
    Pull,
    VolumeCreate,
    NetworkCreate,
    SaveLog,
    /// Connect one of these containers (names) to the network.
    NetworkConnect(String, Vec<String>),
    /// Disconnect one of these containers (names) from the network.
    NetworkDisconnect(String, Vec<String>),
}

/// The one-line prompt at the bottom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prompt {
    None,
    Command(String, Option<String>),
    Filter(String, Option<String>),
}

/// A list pane's rows and selection.
#[derive(Debug)]
pub struct ListPane<T> {
    pub load: Load<()>,
    pub items: Vec<T>,
    pub cursor: ListCursor,
    pub filter_text: String,
    pub filter: Filter,
    pub in_flight: bool,
    pub again: bool,
}

impl<T> ListPane<T> {
    /// Start a reload, unless one is under way (then another follows it): `true` to go.
    fn begin(&mut self) -> bool {
        if self.in_flight {
            self.again = true;
            return false;
        }
        self.in_flight = true;
        true
    }

    /// A reload's answer, kept; `true` when another reload was asked for meanwhile.
    fn finish(&mut self, l: Load<Vec<T>>) -> bool {
        self.in_flight = false;
        match l {
            Load::Ready(v) => {
                self.items = v;
                self.load = Load::Ready(());
            }
            other => self.load = other.map_unit(),
        }
        std::mem::take(&mut self.again)
    }
}

impl<T> Default for ListPane<T> {
    fn default() -> Self {
        ListPane {
            load: Load::Loading,
            items: Vec::new(),
            cursor: ListCursor::default(),
            filter_text: String::new(),
            filter: Filter::None,
            in_flight: false,
            again: false,
        }
    }
}

/// Everything the console knows.
pub struct App {
    pub worker: Worker,
    pub keymap: Keymap,
    pub theme: Theme,
    pub role: Option<EffectiveRole>,
    pub tab: Tab,
    pub overlay: Overlay,
    pub inspect: Option<InspectState>,
    inspect_gen: u64,
    pub prompt: Prompt,
    pending_keys: Vec<Key>,
    pub info: Load<SystemInfo>,
    pub host_cpu: Option<f64>,
    pub host_mem: Option<(u64, u64)>,
    pub containers: ListPane<ContainerSummary>,
    pub marked: HashSet<String>,
    pub sort: (SortKey, bool),
    pub show_stopped: bool,
    pub images: ListPane<ImageSummary>,
    pub image_marks: HashSet<String>,
    pub volumes: ListPane<Volume>,
    pub networks: ListPane<NetworkRow>,
    pub events: VecDeque<Event>,
    pub events_pane: ListPane<()>,
    pub events_paused: bool,
    pub logs: Option<LogsState>,
    log_gen: Arc<AtomicU64>,
    /// The selected container's log under the table (the lower split).
    pub preview: Option<LogsState>,
    preview_gen: Arc<AtomicU64>,
    preview_in_flight: bool,
    pub split: bool,
    /// The lower split's share of the body, in percent.
    pub split_pct: u16,
    /// The lower split takes the whole body.
    pub split_zoom: bool,
    /// A session waiting for the terminal (exec shell, attach).
    pub handoff: Option<Handoff>,
    /// Latest stats sample and a short history per running container.
    pub stats: HashMap<String, StatsPoint>,
    pub history: HashMap<String, VecDeque<StatsPoint>>,
    pub stats_load: Load<()>,
    pub stats_cursor: ListCursor,
    pub note: Option<Notification>,
    pub mouse: bool,
    pub quit: bool,
    /// Select this container name once it shows up (after a run).
    select_name: Option<String>,
    /// Where panes were drawn (for the mouse).
    pub body_area: Rect,
    pub tabs_area: Rect,
}

/// Lines the lower split shows at most.
const PREVIEW_LINES: usize = 200;

/// Samples of history kept per container (sparklines).
const HISTORY_CAP: usize = 300;

/// How many events the events pane keeps.
const EVENTS_CAP: usize = 5000;

impl App {
    /// A console on `worker`'s engine with `keymap`; `warning` is shown at start.
    pub fn new(
        worker: Worker,
        keymap: Keymap,
        warning: Option<String>,
        role: Option<EffectiveRole>,
        theme: Theme,
    ) -> App {
        // A bad keymap is said loudly: a window with the error, and the footer.
        let overlay = match &warning {
            Some(w) => Overlay::Message {
                title: "keymap".into(),
                body: w.replacen(": line", ":\nline", 1),
            },
            None => Overlay::None,
        };
        let note = warning.map(|w| Notification {
            level: Level::Warn,
            text: "bad keymap, using the default".into(),
            details: Some(w),
        });
        App {
            worker,
            keymap,
            theme,
            role,
            tab: Tab::Containers,
            overlay,
            inspect: None,
            inspect_gen: 0,
            prompt: Prompt::None,
            pending_keys: Vec::new(),
            info: Load::Loading,
            host_cpu: None,
            host_mem: None,
            containers: ListPane::default(),
            marked: HashSet::new(),
            sort: (SortKey::Name, false),
            show_stopped: true,
            images: ListPane::default(),
            image_marks: HashSet::new(),
            volumes: ListPane::default(),
            networks: ListPane::default(),
            events: VecDeque::new(),
            events_pane: ListPane::default(),
            events_paused: false,
            logs: None,
            log_gen: Arc::new(AtomicU64::new(0)),
            preview: None,
            preview_gen: Arc::new(AtomicU64::new(0)),
            preview_in_flight: false,
            split: true,
            split_pct: 40,
            split_zoom: false,
            handoff: None,
            stats: HashMap::new(),
            history: HashMap::new(),
            stats_load: Load::Loading,
            stats_cursor: ListCursor::default(),
            note,
            mouse: true,
            quit: false,
            select_name: None,
            body_area: Rect::default(),
            tabs_area: Rect::default(),
        }
    }

    /// Ask the engine for everything once, and start following events.
    pub fn start(&mut self) {
        self.worker
            .run(|e, c| Msg::Info(e.info(c).map_err(|x| x.to_string())));
        self.refresh_containers();
        self.refresh_images();
        self.refresh_volumes();
        self.refresh_networks();
        let w = self.worker.clone();
        std::thread::spawn(move || {
            let tx = w.tx.clone();
            let opts = StatsOptions {
                stream: true,
                all: false,
            };
            let r = w
                .engine
                .container_stats(&w.caller, &[], &opts, &mut |batch| {
                    tx.send(Msg::Stats(batch)).is_ok()
                });
            let _ = w.tx.send(Msg::StatsEnded(match r {
                Ok(()) => "the stats stream ended".into(),
                Err(e) => e.to_string(),
            }));
        });
        let w = self.worker.clone();
        std::thread::spawn(move || {
            let start = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
            let f = EventFilter {
                since: Some(start - 3600 * 1_000_000_000),
                follow: true,
                ..Default::default()
            };
            let tx = w.tx.clone();
            let res = w.engine.events(&w.caller, &f, &mut |ev| {
                let live = ev.time_nano >= start;
                tx.send(Msg::Event(Box::new(ev), live)).is_ok()
            });
            let _ = w.tx.send(Msg::EventsEnded(match res {
                Ok(()) => "the event stream ended".into(),
                Err(e) => e.to_string(),
            }));
        });
    }

    /// Sort the containers another way, keeping the selected one selected.
    fn resort(&mut self, sort: (SortKey, bool)) {
        let id = self.selected_container().map(|c| c.id.clone());
        self.sort = sort;
        if let Some(i) = id.and_then(|id| self.visible_containers().iter().position(|c| c.id == id))
        {
            self.containers.cursor.selected = i;
        }
    }

    /// Back from a session in a container: say how it ended, reload the containers.
    pub fn after_handoff(&mut self, n: Notification) {
        self.handle_msg(Msg::Done(n));
    }

    /// Is an engine action allowed for the caller's role? (The engine checks again.)
    pub fn allowed(&self, a: Action) -> bool {
        match (a.permission(), &self.role) {
            (Some(p), Some(r)) => r.allows(p),
            _ => true,
        }
    }

    /// Does the role only look?
    pub fn read_only(&self) -> bool {
        self.role.as_ref().is_some_and(|r| r.read_only())
    }

    fn refresh_containers(&mut self) {
        if self.containers.begin() {
            self.worker
                .run(|e, c| Msg::Containers(api::containers(e, c)));
        }
    }
    fn refresh_images(&mut self) {
        if self.images.begin() {
            self.worker.run(|e, c| Msg::Images(api::images(e, c)));
        }
    }
    fn refresh_volumes(&mut self) {
        if self.volumes.begin() {
            self.worker.run(|e, c| Msg::Volumes(api::volumes(e, c)));
        }
    }
    fn refresh_networks(&mut self) {
        if self.networks.begin() {
            self.worker.run(|e, c| Msg::Networks(api::networks(e, c)));
        }
    }

    fn notify(&mut self, level: Level, text: impl Into<String>) {
        let text = text.into();
        match level {
            Level::Error => tracing::error!("{text}"),
            Level::Warn => tracing::warn!("{text}"),
            _ => tracing::info!("{text}"),
        }
        self.note = Some(Notification {
            level,
            text,
            details: None,
        });
    }

    // ----- derived views -----

    /// The containers shown: filtered, stopped ones hidden if asked, sorted.
    pub fn visible_containers(&self) -> Vec<&ContainerSummary> {
        let mut v: Vec<&ContainerSummary> = self
            .containers
            .items
            .iter()
            .filter(|c| self.show_stopped || c.state.is_active())
            .filter(|c| {
                self.containers
                    .filter
                    .matches(&[&c.name, &c.image, &c.id, c.state.as_str()], &c.labels)
            })
            .collect();
        wharf_views::containers::sort(&mut v, self.sort.0, self.sort.1, &self.stats);
        v
    }

    /// Image rows shown.
    pub fn visible_images(&self) -> Vec<wharf_views::images::ImageRow<'_>> {
        let none = BTreeMap::new();
        wharf_views::images::rows(&self.images.items)
            .into_iter()
            .filter(|r| {
                self.images
                    .filter
                    .matches(&[&r.reference, &r.image.id], &none)
            })
            .collect()
    }

    /// Volumes shown.
    pub fn visible_volumes(&self) -> Vec<&Volume> {
        self.volumes
            .items
            .iter()
            .filter(|v| {
                self.volumes
                    .filter
                    .matches(&[&v.name, &v.mountpoint], &v.labels)
            })
            .collect()
    }

    /// Networks shown.
    pub fn visible_networks(&self) -> Vec<&NetworkRow> {
        let none = BTreeMap::new();
        self.networks
            .items
            .iter()
            .filter(|n| {
                self.networks
                    .filter
                    .matches(&[&n.name, &n.driver, &n.subnet], &none)
            })
            .collect()
    }

    /// Events shown.
    pub fn visible_events(&self) -> Vec<&Event> {
        self.events
            .iter()
            .filter(|e| {
                let name = wharf_views::events::object(e);
                self.events_pane.filter.matches(
                    &[e.kind.as_str(), &e.action, &name, &e.actor.id],
                    &e.actor.attributes,
                )
            })
            .collect()
    }

    /// Running containers with a stats sample, in the containers pane's order: (id,
    /// name, sample).
    pub fn stats_rows(&self) -> Vec<(&str, &str, StatsPoint)> {
        self.visible_containers()
            .into_iter()
            .filter_map(|c| {
                self.stats
                    .get(&c.id)
                    .map(|p| (c.id.as_str(), c.name.as_str(), *p))
            })
            .collect()
    }

    /// History of the container selected in the stats pane (`rows`: [`stats_rows`](Self::stats_rows)).
    pub fn stats_history(&self, rows: &[(&str, &str, StatsPoint)]) -> Vec<StatsPoint> {
        rows.get(self.stats_cursor.selected)
            .and_then(|(id, _, _)| self.history.get(*id))
            .map(|h| h.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Container counts for the header.
    pub fn counts(&self) -> Option<Counts> {
        self.containers.load.ready()?;
        let mut c = Counts::default();
        for x in &self.containers.items {
            match x.state {
                ContainerStatus::Running | ContainerStatus::Restarting => c.running += 1,
                ContainerStatus::Paused => c.paused += 1,
                _ => c.stopped += 1,
            }
        }
        Some(c)
    }

    /// Keymap contexts in force, most specific first.
    pub fn contexts(&self) -> Vec<&'static str> {
        if matches!(self.overlay, Overlay::Help { .. }) {
            return vec!["help", "list", "global"];
        }
        if self.inspect.is_some() {
            return vec!["inspect", "list", "global"];
        }
        match self.tab {
            Tab::Containers => vec!["containers", "list", "global"],
            Tab::Images => vec!["images", "list", "global"],
            Tab::Networks => vec!["networks", "list", "global"],
            Tab::Volumes => vec!["volumes", "list", "global"],
            Tab::Stats => vec!["stats", "list", "global"],
            Tab::Events => vec!["events", "list", "global"],
            Tab::Logs => vec!["logs", "list", "global"],
            Tab::ConsoleLog => vec!["list", "global"],
        }
    }

    /// Footer hints: (key, action) for this context's own actions the role may take.
    pub fn hints(&self) -> Vec<(String, String)> {
        let ctx = self.contexts();
        let mut out: Vec<(String, String)> = self
            .keymap
            .context(ctx[0])
            .into_iter()
            .filter(|(_, a)| self.allowed(*a))
            .filter(|(_, a)| {
                !matches!(
                    a,
                    Action::Mark
                        | Action::MarkAll
                        | Action::SortReverse
                        | Action::SplitGrow
                        | Action::SplitShrink
                        | Action::PrevMatch
                        | Action::Top
                        | Action::Bottom
                )
            })
            .map(|(k, a)| {
                (
                    k.split(", ").next().unwrap_or(&k).to_string(),
                    a.short().to_string(),
                )
            })
            .collect();
        if let Some(k) = self.keymap.keys_for(&["global"], Action::Help) {
            out.push((k, "help".into()));
        }
        out
    }

    /// The help, generated from the keymap (actions the role may not take are left out).
    pub fn help_sections(&self) -> Vec<wharf_views::help::Section> {
        super::keymap::CONTEXTS
            .iter()
            .map(|ctx| wharf_views::help::Section {
                context: ctx.to_string(),
                bindings: self
                    .keymap
                    .context(ctx)
                    .into_iter()
                    .filter(|(_, a)| self.allowed(*a))
                    .map(|(k, a)| wharf_views::help::Binding {
                        keys: k,
                        action: a.name().into(),
                        description: a.description().into(),
                    })
                    .collect(),
            })
            .filter(|s| !s.bindings.is_empty())
            .collect()
    }

    /// The text right of the tabs; `shown`: how many containers the containers pane
    /// shows (the caller has them at hand).
    pub fn tab_status(&self, shown: usize) -> String {
        let f = |p: &str| {
            if p.is_empty() {
                String::new()
            } else {
                format!(" · /{p}")
            }
        };
        match self.tab {
            Tab::Containers => {
                let mut s = format!("{shown} of {}", self.containers.items.len());
                if !self.show_stopped {
                    s.push_str(" · stopped hidden");
                }
                if !self.marked.is_empty() {
                    s.push_str(&format!(" · {} marked", self.marked.len()));
                }
                s + &f(&self.containers.filter_text)
            }
            Tab::Images => {
                format!("{} images", self.images.items.len()) + &f(&self.images.filter_text)
            }
            Tab::Volumes => {
                format!("{} volumes", self.volumes.items.len()) + &f(&self.volumes.filter_text)
            }
            Tab::Networks => {
                format!("{} networks", self.networks.items.len()) + &f(&self.networks.filter_text)
            }
            Tab::Events => format!(
                "{}{}",
                if self.events_paused {
                    "paused"
                } else {
                    "following"
                },
                f(&self.events_pane.filter_text)
            ),
            Tab::Logs => self.logs.as_ref().map(|l| l.status()).unwrap_or_default(),
            _ => String::new(),
        }
    }

    // ----- engine messages -----

    /// Apply a worker's message.
    pub fn handle_msg(&mut self, m: Msg) {
        match m {
            Msg::Info(r) => self.info = r.map(Load::Ready).unwrap_or_else(Load::Error),
            Msg::Containers(l) => {
                let sel_id = self
                    .visible_containers()
                    .get(self.containers.cursor.selected)
                    .map(|c| c.id.clone());
                let again = self.containers.finish(l);
                let ids: HashSet<&String> = self.containers.items.iter().map(|c| &c.id).collect();
                self.marked.retain(|m| ids.contains(m));
                // Keep the selection on the same container (or on a new one asked for).
                let vis = self.visible_containers();
                let want_name = self.select_name.clone();
                let pos = match &want_name {
                    Some(n) => vis.iter().position(|c| &c.name == n),
                    None => sel_id.and_then(|id| vis.iter().position(|c| c.id == id)),
                };
                if let Some(p) = pos {
                    self.containers.cursor.selected = p;
                    if want_name.is_some() {
                        self.select_name = None;
                    }
                }
                if again {
                    self.refresh_containers();
                }
            }
            Msg::Images(l) => {
                if self.images.finish(l) {
                    self.refresh_images();
                }
            }
            Msg::Volumes(l) => {
                if self.volumes.finish(l) {
                    self.refresh_volumes();
                }
            }
            Msg::Networks(l) => {
                if self.networks.finish(l) {
                    self.refresh_networks();
                }
            }
            Msg::Event(ev, live) => {
                self.events_pane.load = Load::Ready(());
                if live {
                    match ev.kind {
                        EventType::Container => {
                            self.refresh_containers();
                            // Image use counts change with containers.
                            if matches!(ev.action.as_str(), "create" | "destroy") {
                                self.refresh_images();
                            }
                            if matches!(
                                ev.action.as_str(),
                                "create" | "destroy" | "mount" | "unmount"
                            ) {
                                self.refresh_volumes();
                            }
                        }
                        EventType::Image => self.refresh_images(),
                        EventType::Volume => self.refresh_volumes(),
                        EventType::Network => self.refresh_networks(),
                        EventType::Daemon => {}
                    }
                }
                wharf_views::events::push_bounded(&mut self.events, *ev, EVENTS_CAP);
            }
            Msg::EventsEnded(why) => {
                self.events_pane.load = if self.events.is_empty() {
                    Load::Error(why.clone())
                } else {
                    Load::Ready(())
                };
                self.notify(
                    Level::Warn,
                    format!(
                        "events: {why}; lists no longer update by themselves (ctrl-r refreshes)"
                    ),
                );
            }
            Msg::LogLine(gen, line) => {
                if gen == self.log_gen.load(Ordering::SeqCst) {
                    if let Some(l) = self.logs.as_mut() {
                        l.load = Load::Ready(());
                        l.push(line);
                    }
                }
            }
            Msg::LogEnd(gen, r) => {
                if gen == self.log_gen.load(Ordering::SeqCst) {
                    if let Some(l) = self.logs.as_mut() {
                        match r {
                            Ok(()) => {
                                l.load = Load::Ready(());
                                l.ended = Some("end of log".into());
                            }
                            Err(e) => {
                                l.ended = Some(e.clone());
                                l.load = Load::Error(e);
                            }
                        }
                    }
                }
            }
            Msg::Preview(gen, r) => {
                self.preview_in_flight = false;
                if gen == self.preview_gen.load(Ordering::SeqCst) {
                    if let Some(p) = self.preview.as_mut() {
                        let mut fresh = LogsState::new(&p.id, &p.name).with_cap(PREVIEW_LINES);
                        match r {
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
            }
            Msg::Inspect(gen, r) => {
                if gen == self.inspect_gen {
                    if let Some(i) = self.inspect.as_mut() {
                        i.set(r.map(Load::Ready).unwrap_or_else(Load::Error));
                    }
                }
            }
            Msg::Done(n) => {
                match n.level {
                    Level::Error => tracing::error!("{}", n.details.as_deref().unwrap_or(&n.text)),
                    _ => tracing::info!("{}", n.text),
                }
                self.note = Some(n);
                self.refresh_containers();
            }
            Msg::Stats(batch) => {
                self.stats_load = Load::Ready(());
                let now = chrono::Utc::now().timestamp_millis();
                self.stats.clear();
                for s in batch {
                    let p = s.point(now);
                    let h = self.history.entry(s.id.clone()).or_default();
                    if h.len() >= HISTORY_CAP {
                        h.pop_front();
                    }
                    h.push_back(p);
                    self.stats.insert(s.id, p);
                }
                let live: HashSet<String> = self.stats.keys().cloned().collect();
                self.history.retain(|id, _| live.contains(id));
            }
            Msg::Progress(text) => {
                self.note = Some(Notification {
                    level: Level::Info,
                    text,
                    details: None,
                })
            }
            Msg::Show(title, body) => self.overlay = Overlay::Message { title, body },
            Msg::StatsEnded(why) => {
                self.stats.clear();
                self.stats_load = Load::Error(why.clone());
                self.notify(Level::Warn, format!("stats: {why}"));
            }
            Msg::Host(cpu, mem) => {
                if cpu.is_some() {
                    self.host_cpu = cpu;
                }
                self.host_mem = mem;
            }
        }
    }

    // ----- input -----

    /// A key press.
    pub fn handle_key(&mut self, ev: KeyEvent) {
        if ev.kind != crossterm::event::KeyEventKind::Press {
            return;
        }
        // ctrl-c always leaves.
        if ev.code == KeyCode::Char('c') && ev.modifiers.contains(KeyModifiers::CONTROL) {
            self.quit = true;
            return;
        }
        if self.handle_modal_key(&ev) {
            return;
        }
        let Some(k) = Key::from_event(&ev) else {
            return;
        };
        self.pending_keys.push(k);
        let ctx = self.contexts();
        match self.keymap.lookup(&ctx, &self.pending_keys) {
            Lookup::Pending => {}
            Lookup::Action(a) => {
                self.pending_keys.clear();
                self.act(a);
            }
            Lookup::None => {
                // A sequence that went nowhere: try the last key alone.
                let retry = self.pending_keys.len() > 1;
                self.pending_keys.clear();
                if retry {
                    if let Lookup::Action(a) = self.keymap.lookup(&ctx, &[k]) {
                        self.act(a);
                    }
                }
            }
        }
    }

    /// Keys for prompts, dialogs and forms; true when consumed.
    fn handle_modal_key(&mut self, ev: &KeyEvent) -> bool {
        let ctrl = ev.modifiers.contains(KeyModifiers::CONTROL);
        // Prompt line.
        if let Prompt::Command(s, _) | Prompt::Filter(s, _) = &self.prompt {
            let is_cmd = matches!(self.prompt, Prompt::Command(..));
            let mut s = s.clone();
            let mut done = false;
            let mut cancel = false;
            match ev.code {
                KeyCode::Esc => cancel = true,
                KeyCode::Enter => done = true,
                // Backspace on an empty filter closes it.
                KeyCode::Backspace if s.is_empty() && !is_cmd => cancel = true,
                KeyCode::Backspace => {
                    s.pop();
                }
                KeyCode::Char('u') if ctrl => s.clear(),
                KeyCode::Tab if is_cmd => {
                    if let Some(c) = self.completions(&s).first() {
                        s = c.clone();
                    }
                }
                KeyCode::Char(c) => s.push(c),
                _ => {}
            }
            if is_cmd {
                self.prompt = Prompt::Command(s.clone(), None);
                if cancel {
                    self.prompt = Prompt::None;
                } else if done {
                    self.run_command(&s);
                }
            } else {
                // The filter applies as it is typed.
                let parsed = Filter::parse(&s);
                let err = parsed.as_ref().err().cloned();
                if let Ok(f) = parsed {
                    self.set_filter(&s, f);
                }
                self.prompt = Prompt::Filter(s, err);
                if cancel {
                    self.set_filter("", Filter::None);
                    self.prompt = Prompt::None;
                } else if done {
                    self.prompt = Prompt::None;
                }
            }
            return true;
        }
        match &mut self.overlay {
            Overlay::None | Overlay::Help { .. } => false,
            Overlay::Message { .. } => {
                if matches!(ev.code, KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q')) {
                    self.overlay = Overlay::None;
                }
                true
            }
            Overlay::Confirm { then, .. } => {
                match ev.code {
                    KeyCode::Char('y') | KeyCode::Char('Y') => {
                        let p = then.clone();
                        self.overlay = Overlay::None;
                        self.confirmed(p);
                    }
                    KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc | KeyCode::Enter => {
                        self.overlay = Overlay::None
                    }
                    _ => {}
                }
                true
            }
            Overlay::Input { value, purpose, .. } => {
                match ev.code {
                    KeyCode::Esc => self.overlay = Overlay::None,
                    KeyCode::Enter => {
                        let (v, p) = (value.clone(), purpose.clone());
                        if input_error(&p, &v).is_none() {
                            self.overlay = Overlay::None;
                            self.input_done(p, v);
                        }
                    }
                    KeyCode::Backspace => {
                        value.pop();
                    }
                    KeyCode::Char('u') if ctrl => value.clear(),
                    KeyCode::Char(c) => value.push(c),
                    _ => {}
                }
                true
            }
            Overlay::RunForm(form) => {
                match ev.code {
                    KeyCode::Esc => self.overlay = Overlay::None,
                    KeyCode::Tab | KeyCode::Down => form.move_focus(1),
                    KeyCode::BackTab | KeyCode::Up => form.move_focus(-1),
                    KeyCode::Backspace => form.backspace(),
                    KeyCode::Char('u') if ctrl => form.clear_field(),
                    KeyCode::Char(c) => form.type_char(c),
                    KeyCode::Enter => {
                        form.submitted = true;
                        match form.to_create() {
                            Ok(spec) => {
                                let name = spec.name.clone();
                                let line = form.command_line();
                                self.overlay = Overlay::None;
                                self.tab = Tab::Containers;
                                self.select_name = name.clone();
                                tracing::info!("run: {line}");
                                self.notify(
                                    Level::Info,
                                    format!("creating {}…", name.as_deref().unwrap_or(&spec.image)),
                                );
                                self.worker.run(move |e, c| {
                                    Msg::Done(match api::container_run(e, c, &spec) {
                                        Ok(id) => Notification {
                                            level: Level::Ok,
                                            text: format!(
                                                "started {} ({})",
                                                name.as_deref().unwrap_or(""),
                                                wharf_views::util::short_id(&id)
                                            ),
                                            details: None,
                                        },
                                        Err(err) => Notification {
                                            level: Level::Error,
                                            text: format!("cannot run: {err}"),
                                            details: Some(format!("{line}\n\n{err}")),
                                        },
                                    })
                                });
                            }
                            Err((f, _)) => {
                                form.focus = Field::ALL.iter().position(|x| *x == f).unwrap_or(0)
                            }
                        }
                    }
                    _ => {}
                }
                true
            }
        }
    }

    /// Completions for the `:` line.
    pub fn completions(&self, input: &str) -> Vec<String> {
        let names: Vec<&str> = self
            .containers
            .items
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        wharf_views::command::complete(input, &names)
    }

    fn run_command(&mut self, s: &str) {
        let s = s.trim();
        let (cmd, arg) = s
            .split_once(' ')
            .map(|(a, b)| (a, b.trim()))
            .unwrap_or((s, ""));
        let tab = match cmd {
            "containers" | "ps" | "c" => Some(Tab::Containers),
            "images" | "i" => Some(Tab::Images),
            "networks" | "net" => Some(Tab::Networks),
            "volumes" | "vol" => Some(Tab::Volumes),
            "stats" => Some(Tab::Stats),
            "events" | "ev" => Some(Tab::Events),
            "log" => Some(Tab::ConsoleLog),
            _ => None,
        };
        if let Some(t) = tab {
            self.prompt = Prompt::None;
            self.inspect = None;
            self.tab = t;
            return;
        }
        match cmd {
            "q" | "quit" | "q!" => self.quit = true,
            "help" => {
                self.prompt = Prompt::None;
                self.overlay = Overlay::Help { scroll: 0 };
            }
            "logs" if arg.is_empty() => {
                self.prompt = Prompt::None;
                self.tab = Tab::Logs;
            }
            "logs" => {
                let found = self
                    .containers
                    .items
                    .iter()
                    .find(|c| c.name == arg || c.id.starts_with(arg))
                    .map(|c| (c.id.clone(), c.name.clone()));
                match found {
                    Some((id, name)) => {
                        self.prompt = Prompt::None;
                        self.open_logs(&id, &name);
                    }
                    None => {
                        self.prompt =
                            Prompt::Command(s.to_string(), Some(format!("no container {arg:?}")))
                    }
                }
            }
            _ => {
                self.prompt = Prompt::Command(
                    s.to_string(),
                    Some(format!("unknown command {cmd:?}: Tab completes")),
                )
            }
        }
    }

    fn set_filter(&mut self, text: &str, f: Filter) {
        let (t, fl, cur) = match self.tab {
            Tab::Containers => (
                &mut self.containers.filter_text,
                &mut self.containers.filter,
                &mut self.containers.cursor,
            ),
            Tab::Images => (
                &mut self.images.filter_text,
                &mut self.images.filter,
                &mut self.images.cursor,
            ),
            Tab::Volumes => (
                &mut self.volumes.filter_text,
                &mut self.volumes.filter,
                &mut self.volumes.cursor,
            ),
            Tab::Networks => (
                &mut self.networks.filter_text,
                &mut self.networks.filter,
                &mut self.networks.cursor,
            ),
            Tab::Events => (
                &mut self.events_pane.filter_text,
                &mut self.events_pane.filter,
                &mut self.events_pane.cursor,
            ),
            _ => return,
        };
        *t = text.to_string();
        *fl = f;
        cur.selected = 0;
    }

    fn current_filter(&self) -> &str {
        match self.tab {
            Tab::Containers => &self.containers.filter_text,
            Tab::Images => &self.images.filter_text,
            Tab::Volumes => &self.volumes.filter_text,
            Tab::Networks => &self.networks.filter_text,
            Tab::Events => &self.events_pane.filter_text,
            _ => "",
        }
    }

    /// Rows in the current list and its cursor.
    fn list_len_cursor(&mut self) -> (usize, Option<&mut ListCursor>) {
        if self.inspect.is_some() {
            #[allow(clippy::unnecessary_unwrap)]
            let i = self.inspect.as_mut().expect("checked above");
            let n = i.lines().len();
            return (n, Some(&mut i.cursor));
        }
        match self.tab {
            Tab::Containers => {
                let n = self.visible_containers().len();
                (n, Some(&mut self.containers.cursor))
            }
            Tab::Images => {
                let n = self.visible_images().len();
                (n, Some(&mut self.images.cursor))
            }
            Tab::Volumes => {
                let n = self.visible_volumes().len();
                (n, Some(&mut self.volumes.cursor))
            }
            Tab::Networks => {
                let n = self.visible_networks().len();
                (n, Some(&mut self.networks.cursor))
            }
            Tab::Events => {
                let n = self.visible_events().len();
                (n, Some(&mut self.events_pane.cursor))
            }
            Tab::Stats => {
                let n = self.stats_rows().len();
                (n, Some(&mut self.stats_cursor))
            }
            _ => (0, None),
        }
    }

    fn page(&self) -> isize {
        (self.body_area.height.saturating_sub(2)).max(1) as isize
    }

    fn move_cursor(&mut self, delta: isize) {
        if matches!(self.overlay, Overlay::Help { .. }) {
            // The last lines stay on screen: scrolling stops where the help ends.
            let sections = self.help_sections();
            let lines = wharf_views::help::lines(&self.theme, &self.keymap.name, &sections);
            let max = lines.len().saturating_sub(3) as isize;
            if let Overlay::Help { scroll } = &mut self.overlay {
                *scroll = (*scroll as isize + delta).clamp(0, max) as u16;
            }
            return;
        }
        if self.tab == Tab::Logs && self.inspect.is_none() {
            if let Some(l) = self.logs.as_mut() {
                l.scroll(delta);
            }
            return;
        }
        if self.tab == Tab::Events && self.inspect.is_none() && delta < 0 {
            self.events_paused = true;
        }
        let (n, cur) = self.list_len_cursor();
        if let Some(c) = cur {
            c.step(delta, n);
        }
    }

    /// The selected container, if the containers pane has one.
    pub fn selected_container(&self) -> Option<&ContainerSummary> {
        self.visible_containers()
            .get(self.containers.cursor.selected)
            .copied()
    }

    /// Marked containers if any, else the selected one: (id, name, state).
    fn targets(&self) -> Vec<(String, String, ContainerStatus)> {
        let vis = self.visible_containers();
        let marked: Vec<_> = self
            .containers
            .items
            .iter()
            .filter(|c| self.marked.contains(&c.id))
            .map(|c| (c.id.clone(), c.name.clone(), c.state))
            .collect();
        if !marked.is_empty() {
            return marked;
        }
        vis.get(self.containers.cursor.selected)
            .map(|c| vec![(c.id.clone(), c.name.clone(), c.state)])
            .unwrap_or_default()
    }

    fn bulk(&mut self, items: Vec<(String, String, ContainerOp)>) {
        if items.is_empty() {
            self.notify(Level::Info, "nothing selected");
            return;
        }
        let label = items
            .iter()
            .map(|i| i.1.clone())
            .collect::<Vec<_>>()
            .join(", ");
        self.notify(Level::Info, format!("{} {label}…", items[0].2.verb()));
        self.marked.clear();
        self.worker.run(move |e, c| {
            let mut ok = Vec::new();
            let mut errs = Vec::new();
            for (id, name, op) in &items {
                match api::container_op(e, c, id, *op) {
                    Ok(()) => ok.push(name.clone()),
                    Err(err) => errs.push(format!("cannot {} {name}: {err}", op.verb())),
                }
            }
            let op = items[0].2;
            Msg::Done(if errs.is_empty() {
                Notification {
                    level: Level::Ok,
                    text: format!("{} {}", op.done(), ok.join(", ")),
                    details: None,
                }
            } else {
                let mut text = errs[0].clone();
                if errs.len() > 1 {
                    text = format!("{} errors; first: {text}", errs.len());
                }
                if !ok.is_empty() {
                    text.push_str(&format!("; {} {}", op.done(), ok.join(", ")));
                }
                Notification {
                    level: Level::Error,
                    text,
                    details: Some(errs.join("\n")),
                }
            })
        });
    }

    fn open_logs(&mut self, id: &str, name: &str) {
        let gen = self.log_gen.fetch_add(1, Ordering::SeqCst) + 1;
        self.logs = Some(LogsState::new(id, name));
        self.tab = Tab::Logs;
        self.inspect = None;
        self.read_log(
            id,
            gen,
            self.log_gen.clone(),
            wharf_views::logs::DEFAULT_CAP,
        );
    }

    /// Follow a container's log from its last `tail` lines on a thread, until the
    /// generation counter moves on (another container, another pane).
    fn read_log(&self, id: &str, gen: u64, counter: Arc<AtomicU64>, tail: usize) {
        let id = id.to_string();
        let w = self.worker.clone();
        std::thread::spawn(move || {
            let opts = LogOptions {
                follow: true,
                tail: Some(tail),
                stdout: true,
                stderr: true,
                ..Default::default()
            };
            let tx = w.tx.clone();
            let r = api::container_logs(w.engine.as_ref(), &w.caller, &id, &opts, &mut |l| {
                counter.load(Ordering::SeqCst) == gen && tx.send(Msg::LogLine(gen, l)).is_ok()
            });
            let _ = w.tx.send(Msg::LogEnd(gen, r));
        });
    }

    /// Keep the lower split on the selected container: read the tail of its log when
    /// the selection changes. Called before every frame; true when it changed.
    pub fn sync_preview(&mut self) -> bool {
        let want = if self.split && self.tab == Tab::Containers && self.inspect.is_none() {
            self.selected_container()
                .map(|c| (c.id.clone(), c.name.clone()))
        } else {
            None
        };
        let have = self.preview.as_ref().map(|p| p.id.clone());
        if want.as_ref().map(|w| &w.0) == have.as_ref() {
            return false;
        }
        self.preview_gen.fetch_add(1, Ordering::SeqCst);
        self.preview = None;
        if let Some((id, name)) = want {
            self.preview = Some(LogsState::new(&id, &name).with_cap(PREVIEW_LINES));
            self.preview_in_flight = false;
            self.refresh_preview();
        }
        true
    }

    /// Read the tail of the previewed log again (on the slow tick). The split reads
    /// without following: a follower thread per selected row would outlive the selection.
    pub fn refresh_preview(&mut self) {
        let Some(p) = &self.preview else { return };
        if self.preview_in_flight {
            return;
        }
        self.preview_in_flight = true;
        let gen = self.preview_gen.load(Ordering::SeqCst);
        let id = p.id.clone();
        self.worker.run(move |e, c| {
            let opts = LogOptions {
                follow: false,
                tail: Some(PREVIEW_LINES),
                stdout: true,
                stderr: true,
                ..Default::default()
            };
            let mut lines = Vec::new();
            let r = api::container_logs(e, c, &id, &opts, &mut |l| {
                lines.push(l);
                true
            });
            Msg::Preview(gen, r.map(|()| lines))
        });
    }

    fn open_inspect(&mut self, kind: &'static str, id: String, title: String) {
        self.inspect_gen += 1;
        let gen = self.inspect_gen;
        self.inspect = Some(InspectState::new(&title));
        self.worker
            .run(move |e, c| Msg::Inspect(gen, api::inspect(e, c, kind, &id)));
    }

    /// Do an action.
    pub fn act(&mut self, a: Action) {
        if !self.allowed(a) {
            let who = self
                .role
                .as_ref()
                .map(|r| r.name.clone())
                .unwrap_or_default();
            self.notify(Level::Warn, format!("the role {who} may not {}", a.name()));
            return;
        }
        match a {
            Action::Quit => self.quit = true,
            Action::Help => {
                self.overlay = if matches!(self.overlay, Overlay::Help { .. }) {
                    Overlay::None
                } else {
                    Overlay::Help { scroll: 0 }
                }
            }
            Action::Command => self.prompt = Prompt::Command(String::new(), None),
            Action::Filter => {
                if matches!(
                    self.tab,
                    Tab::Containers | Tab::Images | Tab::Volumes | Tab::Networks | Tab::Events
                ) {
                    let cur = self.current_filter().to_string();
                    self.prompt = Prompt::Filter(cur, None);
                } else if self.tab == Tab::Logs {
                    self.act(Action::Search);
                }
            }
            Action::NextTab | Action::PrevTab => {
                self.inspect = None;
                self.overlay = Overlay::None;
                self.tab = self.tab.cycle(if a == Action::NextTab { 1 } else { -1 });
            }
            Action::Tab(n) => {
                self.inspect = None;
                self.overlay = Overlay::None;
                self.tab = Tab::ALL[(n as usize).saturating_sub(1).min(Tab::ALL.len() - 1)];
            }
            Action::MouseToggle => {
                self.mouse = !self.mouse;
                self.notify(
                    Level::Info,
                    if self.mouse {
                        "mouse on: click and scroll"
                    } else {
                        "mouse released: select text with it; M takes it back"
                    },
                );
            }
            Action::Notification => {
                if let Some(n) = &self.note {
                    self.overlay = Overlay::Message {
                        title: "notification".into(),
                        body: n.details.clone().unwrap_or_else(|| n.text.clone()),
                    };
                }
            }
            Action::Back => {
                if !matches!(self.overlay, Overlay::None) {
                    self.overlay = Overlay::None;
                } else if self.inspect.is_some() {
                    self.inspect = None;
                } else if self.split_zoom {
                    self.split_zoom = false;
                } else if !self.current_filter().is_empty() {
                    self.set_filter("", Filter::None);
                } else if self.tab == Tab::Containers && !self.marked.is_empty() {
                    self.marked.clear();
                } else if self.tab == Tab::Logs {
                    self.tab = Tab::Containers;
                }
            }
            Action::Refresh => {
                self.refresh_containers();
                self.refresh_images();
                self.refresh_volumes();
                self.refresh_networks();
                // The header's engine facts do not change (its counts come from the
                // list); ask again only when the first answer was an error.
                if matches!(self.info, Load::Error(_)) {
                    self.worker
                        .run(|e, c| Msg::Info(e.info(c).map_err(|x| x.to_string())));
                }
            }
            Action::Up => self.move_cursor(-1),
            Action::Down => self.move_cursor(1),
            Action::PageUp => self.move_cursor(-self.page()),
            Action::PageDown => self.move_cursor(self.page()),
            Action::Top => {
                if self.tab == Tab::Logs && self.inspect.is_none() {
                    if let Some(l) = self.logs.as_mut() {
                        l.go_top();
                    }
                } else {
                    if self.tab == Tab::Events {
                        self.events_paused = true;
                    }
                    if let (_, Some(c)) = self.list_len_cursor() {
                        c.top();
                    }
                }
            }
            Action::Bottom => {
                if self.tab == Tab::Logs && self.inspect.is_none() {
                    if let Some(l) = self.logs.as_mut() {
                        l.go_bottom();
                    }
                } else if let (n, Some(c)) = self.list_len_cursor() {
                    c.bottom(n);
                }
            }
            Action::Details => match (self.inspect.is_some(), self.tab) {
                (true, _) => {
                    if let Some(i) = self.inspect.as_mut() {
                        i.toggle();
                    }
                }
                (false, Tab::Containers | Tab::Images | Tab::Volumes | Tab::Networks) => {
                    self.act(Action::Inspect)
                }
                (false, Tab::Events) => {
                    if let Some(ev) = self.visible_events().get(self.events_pane.cursor.selected) {
                        let body = serde_json::to_string_pretty(ev).unwrap_or_default();
                        self.overlay = Overlay::Message {
                            title: format!("event {} {}", ev.kind.as_str(), ev.action),
                            body,
                        };
                    }
                }
                _ => {}
            },
            Action::Inspect => match self.tab {
                Tab::Containers => {
                    if let Some(c) = self.selected_container() {
                        let (id, t) = (c.id.clone(), format!("container {}", c.name));
                        self.open_inspect("container", id, t);
                    }
                }
                Tab::Images => {
                    if let Some(r) = self.visible_images().get(self.images.cursor.selected) {
                        let (id, t) = (r.image.id.clone(), format!("image {}", r.reference));
                        self.open_inspect("image", id, t);
                    }
                }
                Tab::Networks => {
                    if let Some(n) = self.visible_networks().get(self.networks.cursor.selected) {
                        let (id, t) = (n.name.clone(), format!("network {}", n.name));
                        self.open_inspect("network", id, t);
                    }
                }
                Tab::Volumes => {
                    if let Some(v) = self.visible_volumes().get(self.volumes.cursor.selected) {
                        let (id, t) = (v.name.clone(), format!("volume {}", v.name));
                        self.open_inspect("volume", id, t);
                    }
                }
                _ => {}
            },
            Action::Mark => match self.tab {
                Tab::Containers => {
                    if let Some(id) = self.selected_container().map(|c| c.id.clone()) {
                        if !self.marked.remove(&id) {
                            self.marked.insert(id);
                        }
                        self.move_cursor(1);
                    }
                }
                Tab::Images => {
                    if let Some(r) = self
                        .visible_images()
                        .get(self.images.cursor.selected)
                        .map(|r| r.reference.clone())
                    {
                        if !self.image_marks.remove(&r) {
                            self.image_marks.insert(r);
                        }
                        self.move_cursor(1);
                    }
                }
                _ => {}
            },
            Action::MarkAll => match self.tab {
                Tab::Containers => {
                    if self.marked.is_empty() {
                        self.marked = self
                            .visible_containers()
                            .iter()
                            .map(|c| c.id.clone())
                            .collect();
                    } else {
                        self.marked.clear();
                    }
                }
                Tab::Images => {
                    if self.image_marks.is_empty() {
                        self.image_marks = self
                            .visible_images()
                            .iter()
                            .map(|r| r.reference.clone())
                            .collect();
                    } else {
                        self.image_marks.clear();
                    }
                }
                _ => {}
            },
            Action::SortNext => {
                let k = self.sort.0.next();
                self.resort((k, k.biggest_first()));
            }
            Action::SortCpu | Action::SortMem => {
                let k = if a == Action::SortCpu {
                    SortKey::Cpu
                } else {
                    SortKey::Mem
                };
                self.resort(if self.sort.0 == k {
                    (k, !self.sort.1)
                } else {
                    (k, true)
                });
            }
            Action::SortReverse => self.resort((self.sort.0, !self.sort.1)),
            Action::StoppedToggle => {
                self.show_stopped = !self.show_stopped;
                self.containers.cursor.selected = 0;
            }
            Action::Start | Action::Stop | Action::Restart | Action::Kill => {
                let op = match a {
                    Action::Start => ContainerOp::Start,
                    Action::Stop => ContainerOp::Stop,
                    Action::Restart => ContainerOp::Restart,
                    _ => ContainerOp::Kill,
                };
                let items = self
                    .targets()
                    .into_iter()
                    .map(|(id, n, _)| (id, n, op))
                    .collect();
                self.bulk(items);
            }
            Action::PauseToggle => {
                let items = self
                    .targets()
                    .into_iter()
                    .map(|(id, n, st)| {
                        (
                            id,
                            n,
                            if st == ContainerStatus::Paused {
                                ContainerOp::Unpause
                            } else {
                                ContainerOp::Pause
                            },
                        )
                    })
                    .collect();
                self.bulk(items);
            }
            Action::Remove => {
                let t = self.targets();
                if t.is_empty() {
                    return;
                }
                let running = t.iter().any(|x| x.2.is_active());
                let names: Vec<String> = t.iter().map(|x| x.1.clone()).collect();
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
                self.overlay = Overlay::Confirm {
                    title: "remove".into(),
                    question: format!("remove {what}?{kill}"),
                    then: Pending::RemoveContainers(
                        t.into_iter().map(|x| (x.0, x.1)).collect(),
                        running,
                    ),
                };
            }
            Action::Rename => {
                if let Some(c) = self.selected_container() {
                    self.overlay = Overlay::Input {
                        title: format!("rename {}", c.name),
                        label: "new name:".into(),
                        value: c.name.clone(),
                        purpose: InputPurpose::Rename(c.id.clone(), c.name.clone()),
                    };
                }
            }
            Action::Logs => {
                if let Some((id, name)) = self
                    .selected_container()
                    .map(|c| (c.id.clone(), c.name.clone()))
                {
                    self.open_logs(&id, &name);
                }
            }
            Action::RunForm => {
                let known: Vec<String> = self
                    .images
                    .items
                    .iter()
                    .flat_map(|i| i.repo_tags.clone())
                    .collect();
                let mut form = RunForm::new(known);
                if self.tab == Tab::Images {
                    if let Some(r) = self.visible_images().get(self.images.cursor.selected) {
                        if r.reference != "<none>:<none>" {
                            form.set(Field::Image, &r.reference);
                            form.focus = 1;
                        }
                    }
                }
                self.overlay = Overlay::RunForm(Box::new(form));
            }
            Action::ImageRemove => {
                let mut refs: Vec<String> = self.image_marks.iter().cloned().collect();
                refs.sort();
                if refs.is_empty() {
                    if let Some(r) = self.visible_images().get(self.images.cursor.selected) {
                        refs.push(if r.reference == "<none>:<none>" {
                            r.image.id.clone()
                        } else {
                            r.reference.clone()
                        });
                    }
                }
                if refs.is_empty() {
                    return;
                }
                let what = if refs.len() == 1 {
                    format!("image {}", refs[0])
                } else {
                    format!("{} images: {}", refs.len(), refs.join(", "))
                };
                self.overlay = Overlay::Confirm {
                    title: "remove".into(),
                    question: format!("remove {what}?"),
                    then: Pending::RemoveImages(refs),
                };
            }
            Action::ImageTag => {
                if let Some(r) = self.visible_images().get(self.images.cursor.selected) {
                    let src = if r.reference == "<none>:<none>" {
                        r.image.id.clone()
                    } else {
                        r.reference.clone()
                    };
                    self.overlay = Overlay::Input {
                        title: format!("tag {src}"),
                        label: "new reference:".into(),
                        value: String::new(),
                        purpose: InputPurpose::Tag(src),
                    };
                }
            }
            Action::ImagePrune => {
                let dangling: Vec<String> = self
                    .images
                    .items
                    .iter()
                    .filter(|i| i.repo_tags.is_empty() && i.containers == 0)
                    .map(|i| wharf_views::util::short_id(&i.id).to_string())
                    .collect();
                let q = if dangling.is_empty() {
                    "remove dangling images? (none are listed right now)".to_string()
                } else {
                    format!(
                        "remove {} dangling images: {}?",
                        dangling.len(),
                        dangling.join(", ")
                    )
                };
                self.overlay = Overlay::Confirm {
                    title: "prune images".into(),
                    question: q,
                    then: Pending::PruneImages,
                };
            }
            Action::ImageDemo => {
                self.notify(
                    Level::Info,
                    "building wharf/demo:latest from the host's busybox…",
                );
                self.worker.run(|e, c| {
                    Msg::Done(match api::image_demo(e, c, "wharf/demo:latest") {
                        Ok(id) => Notification {
                            level: Level::Ok,
                            text: format!(
                                "built wharf/demo:latest ({})",
                                wharf_views::util::short_id(&id)
                            ),
                            details: None,
                        },
                        Err(err) => Notification {
                            level: Level::Error,
                            text: format!("cannot build the demo image: {err}"),
                            details: Some(err),
                        },
                    })
                });
            }
            Action::VolumeRemove => {
                if let Some(v) = self.visible_volumes().get(self.volumes.cursor.selected) {
                    let n = v.name.clone();
                    self.overlay = Overlay::Confirm {
                        title: "remove".into(),
                        question: format!("remove volume {n} and its data?"),
                        then: Pending::RemoveVolume(n),
                    };
                }
            }
            Action::VolumePrune => {
                let unused: Vec<String> = self
                    .volumes
                    .items
                    .iter()
                    .filter(|v| v.usage_data.is_some_and(|u| u.ref_count == 0))
                    .map(|v| v.name.clone())
                    .collect();
                let q = if unused.is_empty() {
                    "remove unused anonymous volumes?".to_string()
                } else {
                    format!(
                        "remove unused anonymous volumes (of: {})?",
                        unused.join(", ")
                    )
                };
                self.overlay = Overlay::Confirm {
                    title: "prune volumes".into(),
                    question: q,
                    then: Pending::PruneVolumes,
                };
            }
            Action::FollowToggle
            | Action::WrapToggle
            | Action::TimestampsToggle
            | Action::StreamCycle => {
                if let Some(l) = self.logs.as_mut() {
                    match a {
                        Action::FollowToggle => {
                            if l.follow {
                                l.scroll(-1);
                                l.scroll(1);
                                l.follow = false;
                            } else {
                                l.go_bottom();
                            }
                        }
                        Action::WrapToggle => l.wrap = !l.wrap,
                        Action::TimestampsToggle => l.timestamps = !l.timestamps,
                        _ => l.streams = l.streams.next(),
                    }
                }
            }
            Action::Search => {
                let (purpose, cur) = if self.inspect.is_some() {
                    (
                        InputPurpose::InspectSearch,
                        self.inspect.as_ref().map(|i| i.search.clone()),
                    )
                } else if self.tab == Tab::Logs && self.logs.is_some() {
                    (
                        InputPurpose::LogSearch,
                        self.logs.as_ref().map(|l| l.search.clone()),
                    )
                } else {
                    return;
                };
                self.overlay = Overlay::Input {
                    title: "search".into(),
                    label: "find:".into(),
                    value: cur.unwrap_or_default(),
                    purpose,
                };
            }
            Action::NextMatch | Action::PrevMatch => {
                let fwd = a == Action::NextMatch;
                let found = if let Some(i) = self.inspect.as_mut() {
                    i.find(fwd)
                } else if let Some(l) = self.logs.as_mut().filter(|_| self.tab == Tab::Logs) {
                    l.find(fwd)
                } else {
                    true
                };
                if !found {
                    self.notify(Level::Info, "no match");
                }
            }
            Action::FoldToggle | Action::FoldAll | Action::UnfoldAll => {
                if let Some(i) = self.inspect.as_mut() {
                    match a {
                        Action::FoldToggle => i.toggle(),
                        Action::FoldAll => i.fold_all(),
                        _ => i.unfold_all(),
                    }
                }
            }
            Action::PauseEvents => {
                self.events_paused = !self.events_paused;
            }
            Action::SplitToggle => {
                self.split = !self.split;
                self.split_zoom = false;
            }
            Action::SplitGrow | Action::SplitShrink => {
                self.split = true;
                self.split_zoom = false;
                self.split_pct = if a == Action::SplitGrow {
                    (self.split_pct + 10).min(80)
                } else {
                    self.split_pct.saturating_sub(10).max(20)
                };
            }
            Action::SplitZoom => {
                self.split = true;
                self.split_zoom = !self.split_zoom;
            }
            Action::ExecShell | Action::Attach => {
                let Some(c) = self.selected_container() else {
                    return;
                };
                let (id, name) = (c.id.clone(), c.name.clone());
                let ok = match a {
                    Action::ExecShell => c.state == ContainerStatus::Running,
                    _ => matches!(c.state, ContainerStatus::Running | ContainerStatus::Paused),
                };
                if !ok {
                    let start = self
                        .keymap
                        .keys_for(&["containers"], Action::Start)
                        .map(|k| format!(" (press {k})"))
                        .unwrap_or_default();
                    self.notify(
                        Level::Warn,
                        format!(
                            "container {name} is {}: start it first{start}",
                            c.state.as_str()
                        ),
                    );
                    return;
                }
                self.handoff = Some(if a == Action::ExecShell {
                    Handoff::Exec { id, name }
                } else {
                    Handoff::Attach { id, name }
                });
            }
            Action::NetworkConnect | Action::NetworkDisconnect => {
                let Some(n) = self
                    .visible_networks()
                    .get(self.networks.cursor.selected)
                    .map(|n| (*n).clone())
                else {
                    return;
                };
                let names: Vec<String> = self
                    .containers
                    .items
                    .iter()
                    .map(|c| c.name.clone())
                    .collect();
                self.overlay = if a == Action::NetworkConnect {
                    Overlay::Input {
                        title: format!("connect a container to {}", n.name),
                        label: "container:".into(),
                        value: String::new(),
                        purpose: InputPurpose::NetworkConnect(n.name, names),
                    }
                } else {
                    Overlay::Input {
                        title: format!("disconnect a container from {}", n.name),
                        label: "container:".into(),
                        value: n.containers.first().cloned().unwrap_or_default(),
                        purpose: InputPurpose::NetworkDisconnect(n.name, names),
                    }
                };
            }
            Action::ImageHistory => {
                if let Some(r) = self.visible_images().get(self.images.cursor.selected) {
                    let reference = if r.reference == "<none>:<none>" {
                        r.image.id.clone()
                    } else {
                        r.reference.clone()
                    };
                    self.worker
                        .run(move |e, c| match e.image_history(c, &reference) {
                            Ok(h) => {
                                let mut body = format!(
                                    "{:<14}{:<14}{:>10}  {}\n",
                                    "IMAGE", "CREATED", "SIZE", "CREATED BY"
                                );
                                let now = chrono::Utc::now().timestamp();
                                for x in h {
                                    body.push_str(&format!(
                                        "{:<14}{:<14}{:>10}  {}\n",
                                        wharf_views::util::fit(
                                            wharf_views::util::short_id(&x.id),
                                            12
                                        ),
                                        wharf_views::util::ago(x.created, now),
                                        wharf_views::util::dsize(x.size),
                                        wharf_views::util::fit(&x.created_by, 60)
                                    ));
                                }
                                Msg::Show(format!("history of {reference}"), body)
                            }
                            Err(err) => Msg::Done(Notification {
                                level: Level::Error,
                                text: format!("cannot read the history of {reference}: {err}"),
                                details: None,
                            }),
                        });
                }
            }
            Action::ImagePull => {
                self.overlay = Overlay::Input {
                    title: "pull".into(),
                    label: "reference:".into(),
                    value: String::new(),
                    purpose: InputPurpose::Pull,
                };
            }
            Action::VolumeCreate => {
                self.overlay = Overlay::Input {
                    title: "new volume".into(),
                    label: "name (empty: random):".into(),
                    value: String::new(),
                    purpose: InputPurpose::VolumeCreate,
                };
            }
            Action::NetworkCreate => {
                self.overlay = Overlay::Input {
                    title: "new bridge network".into(),
                    label: "name:".into(),
                    value: String::new(),
                    purpose: InputPurpose::NetworkCreate,
                };
            }
            Action::NetworkRemove => {
                if let Some(n) = self.visible_networks().get(self.networks.cursor.selected) {
                    let n = n.name.clone();
                    self.overlay = Overlay::Confirm {
                        title: "remove".into(),
                        question: format!("remove network {n}?"),
                        then: Pending::RemoveNetwork(n),
                    };
                }
            }
            Action::SaveLog => {
                if let Some(l) = &self.logs {
                    let file = format!(
                        "{}-{}.log",
                        l.name,
                        chrono::Local::now().format("%Y%m%d-%H%M%S")
                    );
                    self.overlay = Overlay::Input {
                        title: format!("save the log of {}", l.name),
                        label: "file:".into(),
                        value: file,
                        purpose: InputPurpose::SaveLog,
                    };
                }
            }
        }
    }

    fn confirmed(&mut self, p: Pending) {
        match p {
            Pending::RemoveContainers(items, force) => {
                let items = items
                    .into_iter()
                    .map(|(id, n)| (id, n, ContainerOp::Remove { force }))
                    .collect();
                self.bulk(items);
            }
            Pending::RemoveImages(refs) => {
                self.image_marks.clear();
                self.worker.run(move |e, c| {
                    let mut lines = Vec::new();
                    let mut errs = Vec::new();
                    for r in &refs {
                        match api::image_remove(e, c, r, false) {
                            Ok(l) => lines.extend(l),
                            Err(err) => errs.push(format!("cannot remove {r}: {err}")),
                        }
                    }
                    Msg::Done(if errs.is_empty() {
                        Notification {
                            level: Level::Ok,
                            text: format!("removed {}", refs.join(", ")),
                            details: Some(lines.join("\n")),
                        }
                    } else {
                        Notification {
                            level: Level::Error,
                            text: errs[0].clone(),
                            details: Some(errs.join("\n")),
                        }
                    })
                });
            }
            Pending::PruneImages => self.worker.run(|e, c| {
                Msg::Done(match api::image_prune(e, c) {
                    Ok((n, b)) => Notification {
                        level: Level::Ok,
                        text: format!("pruned {n} images, {} freed", wharf_views::util::dsize(b)),
                        details: None,
                    },
                    Err(err) => Notification {
                        level: Level::Error,
                        text: format!("cannot prune images: {err}"),
                        details: Some(err),
                    },
                })
            }),
            Pending::RemoveVolume(n) => self.worker.run(move |e, c| {
                outcome(
                    api::volume_remove(e, c, &n),
                    |()| format!("removed volume {n}"),
                    format!("cannot remove volume {n}"),
                )
            }),
            Pending::RemoveNetwork(n) => self.worker.run(move |e, c| {
                outcome(
                    e.network_remove(c, &n),
                    |()| format!("removed network {n}"),
                    format!("cannot remove network {n}"),
                )
            }),
            Pending::PruneVolumes => self.worker.run(|e, c| {
                Msg::Done(match api::volume_prune(e, c) {
                    Ok((n, b)) => Notification {
                        level: Level::Ok,
                        text: format!("pruned {n} volumes, {} freed", wharf_views::util::dsize(b)),
                        details: None,
                    },
                    Err(err) => Notification {
                        level: Level::Error,
                        text: format!("cannot prune volumes: {err}"),
                        details: Some(err),
                    },
                })
            }),
        }
    }

    fn input_done(&mut self, p: InputPurpose, v: String) {
        match p {
            InputPurpose::Rename(id, old) => self.worker.run(move |e, c| {
                outcome(
                    api::container_rename(e, c, &id, &v),
                    |()| format!("renamed {old} to {v}"),
                    format!("cannot rename {old}"),
                )
            }),
            InputPurpose::Tag(src) => self.worker.run(move |e, c| {
                outcome(
                    api::image_tag(e, c, &src, &v),
                    |()| format!("tagged {src} as {v}"),
                    format!("cannot tag {src}"),
                )
            }),
            InputPurpose::LogSearch => {
                if let Some(l) = self.logs.as_mut() {
                    if !l.set_search(&v) && !v.is_empty() {
                        self.notify(Level::Info, format!("no line matches {v:?}"));
                    }
                }
            }
            InputPurpose::Pull => {
                self.notify(Level::Info, format!("pulling {v}…"));
                let tx = self.worker.tx.clone();
                self.worker.run(move |e, c| {
                    let mut last = std::time::Instant::now();
                    let r = e.image_pull(c, &v, &Default::default(), &mut |p| {
                        // At most a few updates a second.
                        if last.elapsed() < std::time::Duration::from_millis(200) {
                            return;
                        }
                        last = std::time::Instant::now();
                        let text = match p {
                            wharf_engine::api::Progress::Layer {
                                id,
                                status,
                                current,
                                total,
                            } => match total {
                                Some(t) if t > 0 => {
                                    format!("pulling {v}: {id} {status} {}%", current * 100 / t)
                                }
                                _ => format!("pulling {v}: {id} {status}"),
                            },
                            wharf_engine::api::Progress::Message(m) => format!("pulling {v}: {m}"),
                        };
                        let _ = tx.send(Msg::Progress(text));
                    });
                    outcome(
                        r,
                        |id| format!("pulled {v} ({})", wharf_views::util::short_id(&id)),
                        format!("cannot pull {v}"),
                    )
                });
            }
            InputPurpose::VolumeCreate => self.worker.run(move |e, c| {
                let spec = wharf_engine::api::VolumeCreate {
                    name: if v.is_empty() { None } else { Some(v.clone()) },
                    ..Default::default()
                };
                outcome(
                    e.volume_create(c, &spec),
                    |vol| format!("created volume {}", vol.name),
                    "cannot create the volume".to_string(),
                )
            }),
            InputPurpose::NetworkCreate => self.worker.run(move |e, c| {
                let spec = wharf_engine::api::NetworkCreate {
                    name: v.clone(),
                    ..Default::default()
                };
                outcome(
                    e.network_create(c, &spec),
                    |_| format!("created network {v}"),
                    format!("cannot create network {v}"),
                )
            }),
            InputPurpose::NetworkConnect(net, _) => self.worker.run(move |e, c| {
                let opts = wharf_engine::api::NetworkConnect::default();
                outcome(
                    e.network_connect(c, &net, &v, &opts),
                    |()| format!("connected {v} to {net}"),
                    format!("cannot connect {v} to {net}"),
                )
            }),
            InputPurpose::NetworkDisconnect(net, _) => self.worker.run(move |e, c| {
                outcome(
                    e.network_disconnect(c, &net, &v),
                    |()| format!("disconnected {v} from {net}"),
                    format!("cannot disconnect {v} from {net}"),
                )
            }),
            InputPurpose::SaveLog => {
                if let Some(l) = &self.logs {
                    let text = l.export();
                    let n = l.len();
                    self.worker.run(move |_, _| {
                        Msg::Done(match std::fs::write(&v, text) {
                            Ok(()) => Notification {
                                level: Level::Ok,
                                text: format!("saved {n} lines to {v}"),
                                details: None,
                            },
                            Err(err) => Notification {
                                level: Level::Error,
                                text: format!("cannot write {v}: {err}"),
                                details: None,
                            },
                        })
                    });
                }
            }
            InputPurpose::InspectSearch => {
                if let Some(i) = self.inspect.as_mut() {
                    i.search = v.clone();
                    if !i.find(true) && !v.is_empty() {
                        self.notify(Level::Info, format!("nothing matches {v:?}"));
                    }
                }
            }
        }
    }

    /// A mouse event (only delivered while the mouse is captured).
    pub fn handle_mouse(&mut self, m: MouseEvent) {
        match m.kind {
            MouseEventKind::ScrollDown => self.move_cursor(3),
            MouseEventKind::ScrollUp => self.move_cursor(-3),
            MouseEventKind::Down(crossterm::event::MouseButton::Left) => {
                if !matches!(self.overlay, Overlay::None) {
                    return;
                }
                if m.row == self.tabs_area.y {
                    if let Some(t) = wharf_views::tabs::hit(self.tabs_area, self.tab, m.column) {
                        self.inspect = None;
                        self.tab = t;
                    }
                    return;
                }
                let b = self.body_area;
                // A click on the containers' header sorts by that column (again: reverse).
                if m.row == b.y && self.tab == Tab::Containers && self.inspect.is_none() {
                    let cols = &wharf_views::containers::COLUMNS;
                    if let Some(i) = wharf_views::table::column_at(cols, b.x, b.width, m.column) {
                        let k = SortKey::ALL[i];
                        self.resort(if self.sort.0 == k {
                            (k, !self.sort.1)
                        } else {
                            (k, k.biggest_first())
                        });
                    }
                    return;
                }
                // Row 0 of a table is its header.
                if m.row > b.y && m.row < b.bottom() && self.inspect.is_none() {
                    let off = match self.tab {
                        Tab::Containers => self.containers.cursor.offset,
                        Tab::Images => self.images.cursor.offset,
                        Tab::Volumes => self.volumes.cursor.offset,
                        Tab::Networks => self.networks.cursor.offset,
                        Tab::Events => {
                            self.events_paused = true;
                            self.events_pane.cursor.offset
                        }
                        _ => return,
                    };
                    let row = off + (m.row - b.y - 1) as usize;
                    let (n, cur) = self.list_len_cursor();
                    if let Some(c) = cur {
                        if row < n {
                            c.selected = row;
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

/// What is wrong with a text input's value, if anything.
pub fn input_error(p: &InputPurpose, v: &str) -> Option<String> {
    match p {
        InputPurpose::Rename(..) if !wharf_views::run_form::valid_name(v) => {
            Some("a name may contain only [a-zA-Z0-9_.-] and starts with a letter or digit".into())
        }
        InputPurpose::VolumeCreate if !v.is_empty() && !wharf_views::run_form::valid_name(v) => {
            Some("a volume name may contain only [a-zA-Z0-9_.-]".into())
        }
        InputPurpose::NetworkCreate if !wharf_views::run_form::valid_name(v) => {
            Some("a network name may contain only [a-zA-Z0-9_.-]".into())
        }
        InputPurpose::NetworkConnect(_, names) | InputPurpose::NetworkDisconnect(_, names)
            if !names.iter().any(|n| n == v) =>
        {
            let near: Vec<&str> = names
                .iter()
                .filter(|n| !v.is_empty() && n.starts_with(v))
                .map(String::as_str)
                .take(4)
                .collect();
            Some(if near.is_empty() {
                "the name of a container (see the containers pane)".into()
            } else {
                format!("did you mean {}?", near.join(", "))
            })
        }
        InputPurpose::Pull | InputPurpose::SaveLog
            if v.trim().is_empty() || v.contains(char::is_whitespace) =>
        {
            Some("no spaces, please".into())
        }
        InputPurpose::Tag(_) if v.is_empty() || v.contains(char::is_whitespace) => {
            Some("a reference like name:tag, without spaces".into())
        }
        _ => None,
    }
}

/// The notification for an action's outcome: `ok`'s text on success; on failure
/// `failed: error` with the whole error as details.
fn outcome<T, E: std::fmt::Display>(
    r: Result<T, E>,
    ok: impl FnOnce(T) -> String,
    failed: String,
) -> Msg {
    Msg::Done(match r {
        Ok(x) => Notification {
            level: Level::Ok,
            text: ok(x),
            details: None,
        },
        Err(err) => Notification {
            level: Level::Error,
            text: format!("{failed}: {err}"),
            details: Some(err.to_string()),
        },
    })
}

trait MapUnit {
    fn map_unit(self) -> Load<()>;
}

impl<T> MapUnit for Load<T> {
    fn map_unit(self) -> Load<()> {
        match self {
            Load::Loading => Load::Loading,
            Load::Ready(_) => Load::Ready(()),
            Load::Error(e) => Load::Error(e),
            Load::Unavailable(e) => Load::Unavailable(e),
        }
    }
}
