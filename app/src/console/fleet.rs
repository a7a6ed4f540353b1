//! One console over many hosts: each host's connection, state, version and latency
//! (the hosts pane shows them), `:host NAME` to switch, and the fleet view, where the
//! containers, images, networks and volumes of every host that answers are one list.
//!
//! Every host's calls run on threads of their own and its messages come back tagged
//! with the host and an epoch; a host that stops answering is marked down at the next
//! ping (every 2 s) and nothing waits for it; it is pinged again until it answers, and
//! then read again from scratch. Messages of an older epoch (a host switched away from,
//! or reconnected) are dropped, and their streams end at their next item.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedSender;
use wharf_engine::events::Event;
use wharf_engine::{Caller, Engine, EngineError, LocalEngine};

use super::msg::Msg;
use super::router::{self, Member, Router};
use super::store::{Listing, Store};
use super::worker::Worker;
use crate::hosts::{self, Connected, HostSpec};

/// Opens the embedded engine (once) for a `local` host.
pub type OpenLocal = Arc<dyn Fn() -> Result<Arc<LocalEngine>, EngineError> + Send + Sync>;

/// How long a ping may take before the host is marked down.
const PING_DEADLINE: Duration = Duration::from_secs(3);

/// Where a host stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostState {
    /// Not reached yet.
    Connecting,
    Up,
    /// It did not answer: why, as the connection said it.
    Down(String),
}

/// One host of the console.
pub struct Slot {
    pub spec: HostSpec,
    pub state: HostState,
    pub conn: Option<Connected>,
    /// The last ping's round trip.
    pub latency: Option<Duration>,
    /// Its lists in the fleet view.
    pub store: Store,
    worker: Option<Worker>,
    epoch: Arc<AtomicU64>,
    /// A connect or a ping is under way.
    checking: bool,
    /// When the state last changed.
    pub since: Instant,
}

impl Slot {
    fn new(spec: HostSpec) -> Slot {
        Slot {
            spec,
            state: HostState::Connecting,
            conn: None,
            latency: None,
            store: Store::default(),
            worker: None,
            epoch: Arc::new(AtomicU64::new(0)),
            checking: false,
            since: Instant::now(),
        }
    }

    /// `docker`, `wharf`, ... as far as known.
    pub fn kind(&self) -> &'static str {
        self.conn
            .as_ref()
            .map(|c| c.kind.as_str())
            .or(self.spec.kind.map(|k| k.as_str()))
            .unwrap_or("?")
    }

    fn set_state(&mut self, s: HostState) {
        if self.state != s {
            self.state = s;
            self.since = Instant::now();
        }
    }
}

/// What the fleet's threads report.
#[derive(Debug)]
pub enum FleetMsg {
    /// A host was reached (or not).
    Connected {
        host: usize,
        result: Result<Box<Connected>, String>,
    },
    /// A ping's answer: its round trip, or why there was none.
    Pinged {
        host: usize,
        result: Result<Duration, String>,
    },
    /// A message of a host's worker.
    From {
        host: usize,
        epoch: u64,
        msg: Box<Msg>,
    },
}

/// `engine`, its calls recorded in `tracer` if there is one.
fn traced(
    tracer: &Option<wharf_engine::trace::Tracer>,
    engine: Arc<dyn Engine>,
) -> Arc<dyn Engine> {
    match tracer {
        Some(t) => Arc::new(wharf_engine::trace::Traced::new(
            engine,
            t.clone(),
            "console",
        )),
        None => engine,
    }
}

/// The hosts of the console.
pub struct Fleet {
    pub hosts: Vec<Slot>,
    pub current: usize,
    /// The fleet view: all hosts at once.
    pub all: bool,
    /// Bumped when a host's state changes (the hosts pane follows it).
    pub rev: u64,
    /// The engine of the fleet view.
    pub router: Router,
    tx: UnboundedSender<Msg>,
    me: Caller,
    open_local: OpenLocal,
    /// A host to switch to once it is reached.
    pending_switch: Option<usize>,
    /// The fleet view's lists need merging again.
    pub dirty: bool,
    /// Where the console's engine calls are traced (the trace pane), any host's.
    pub tracer: Option<wharf_engine::trace::Tracer>,
}

impl Fleet {
    /// The fleet of `specs` (none reached yet); messages go to `tx`.
    pub fn new(
        specs: Vec<HostSpec>,
        me: Caller,
        open_local: OpenLocal,
        tx: UnboundedSender<Msg>,
    ) -> Fleet {
        Fleet {
            hosts: specs.into_iter().map(Slot::new).collect(),
            current: 0,
            all: false,
            rev: 0,
            router: Router::default(),
            tx,
            me,
            open_local,
            pending_switch: None,
            dirty: false,
            tracer: None,
        }
    }

    /// Host `i` is already reached (the console's first host).
    pub fn set_connected(&mut self, i: usize, c: Connected) {
        if let Some(s) = self.hosts.get_mut(i) {
            s.latency = Some(c.latency);
            s.conn = Some(c);
            s.set_state(HostState::Up);
        }
        self.rev += 1;
        self.update_routes();
    }

    /// A host by name.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.hosts.iter().position(|h| h.spec.name == name)
    }

    /// A worker for host `i`'s engine, under a new epoch: messages of the previous one
    /// are dropped from now on.
    pub fn new_worker(&mut self, i: usize) -> Option<Worker> {
        let slot = self.hosts.get_mut(i)?;
        let c = slot.conn.as_ref()?;
        let epoch = slot.epoch.fetch_add(1, Ordering::SeqCst) + 1;
        let engine = traced(&self.tracer, c.engine.clone());
        let w = Worker {
            engine,
            caller: c.caller.clone(),
            tx: tagged(self.tx.clone(), i, epoch, slot.epoch.clone()),
        };
        slot.worker = Some(w.clone());
        Some(w)
    }

    /// The fleet view's worker: calls go through the router.
    pub fn router_worker(&self) -> Worker {
        Worker {
            engine: traced(&self.tracer, Arc::new(self.router.clone())),
            caller: self.me.clone(),
            tx: self.tx.clone(),
        }
    }

    /// Is `(host, epoch)` the host's current epoch?
    pub fn is_current(&self, host: usize, epoch: u64) -> bool {
        self.hosts
            .get(host)
            .is_some_and(|h| h.epoch.load(Ordering::SeqCst) == epoch)
    }

    /// Reach every host not reached yet, each on a thread.
    pub fn connect_all(&mut self) {
        for i in 0..self.hosts.len() {
            if self.hosts[i].conn.is_none() {
                self.connect(i);
            }
        }
    }

    fn connect(&mut self, i: usize) {
        let slot = &mut self.hosts[i];
        if slot.checking {
            return;
        }
        slot.checking = true;
        let spec = slot.spec.clone();
        let me = self.me.clone();
        let open = self.open_local.clone();
        let tx = self.tx.clone();
        std::thread::spawn(move || {
            let r = hosts::connect(&spec, &me, &*open)
                .map(|c| Box::new(c.described()))
                .map_err(|e| e.to_string());
            let _ = tx.send(Msg::Fleet(FleetMsg::Connected { host: i, result: r }));
        });
    }

    /// The slow tick: ping every reached host (a host that is down is tried again),
    /// reach those never reached.
    pub fn tick(&mut self) {
        for i in 0..self.hosts.len() {
            if self.hosts[i].checking {
                continue;
            }
            let Some((engine, caller)) = self.hosts[i]
                .conn
                .as_ref()
                .map(|c| (c.engine.clone(), c.caller.clone()))
            else {
                self.connect(i);
                continue;
            };
            self.hosts[i].checking = true;
            let tx = self.tx.clone();
            std::thread::spawn(move || {
                let r = ping(engine, caller);
                let _ = tx.send(Msg::Fleet(FleetMsg::Pinged { host: i, result: r }));
            });
        }
    }

    /// Apply a connect's or a ping's answer; `Some(i)` when host `i` came (back) up
    /// and is to be read again.
    pub fn apply(&mut self, m: &mut FleetMsg) -> Option<usize> {
        match m {
            FleetMsg::Connected { host, result } => {
                let i = *host;
                let slot = self.hosts.get_mut(i)?;
                slot.checking = false;
                self.rev += 1;
                match std::mem::replace(result, Err(String::new())) {
                    Ok(c) => {
                        slot.latency = Some(c.latency);
                        slot.conn = Some(*c);
                        slot.set_state(HostState::Up);
                        self.update_routes();
                        Some(i)
                    }
                    Err(e) => {
                        slot.set_state(HostState::Down(e));
                        None
                    }
                }
            }
            FleetMsg::Pinged { host, result } => {
                let i = *host;
                let slot = self.hosts.get_mut(i)?;
                slot.checking = false;
                match result {
                    Ok(d) => {
                        slot.latency = Some(*d);
                        let was_down = slot.state != HostState::Up;
                        slot.set_state(HostState::Up);
                        self.rev += 1;
                        if was_down {
                            self.update_routes();
                            return Some(i);
                        }
                    }
                    Err(e) => {
                        if slot.state == HostState::Up {
                            tracing::warn!("host {} is down: {e}", slot.spec.name);
                        }
                        slot.set_state(HostState::Down(e.clone()));
                        // Its streams are dropped; they are started again when it is back.
                        slot.epoch.fetch_add(1, Ordering::SeqCst);
                        self.rev += 1;
                        self.dirty = true;
                        self.update_routes();
                    }
                }
                None
            }
            FleetMsg::From { .. } => None,
        }
    }

    /// A switch asked for before the host was reached.
    pub fn take_pending(&mut self, i: usize) -> bool {
        if self.pending_switch == Some(i) {
            self.pending_switch = None;
            return true;
        }
        false
    }

    /// Switch once host `i` is reached.
    pub fn switch_later(&mut self, i: usize) {
        self.pending_switch = Some(i);
    }

    /// Start (again) host `i`'s lists and streams for the fleet view.
    pub fn start_store(&mut self, i: usize) {
        if let Some(w) = self.new_worker(i) {
            let slot = &mut self.hosts[i];
            slot.store = Store::default();
            slot.store.start(&w);
            self.dirty = true;
        }
    }

    /// The fleet view on: every reached host's lists.
    pub fn start_all(&mut self) {
        self.all = true;
        for i in 0..self.hosts.len() {
            if self.hosts[i].state == HostState::Up {
                self.start_store(i);
            }
        }
        self.update_routes();
    }

    /// The fleet view off: its streams are dropped.
    pub fn stop_all(&mut self) {
        self.all = false;
        for h in &mut self.hosts {
            h.epoch.fetch_add(1, Ordering::SeqCst);
            h.store = Store::default();
        }
    }

    /// The lists to read again in the fleet view, on each host that is up.
    pub fn refresh(&mut self, lists: super::msg::Lists) {
        for h in &mut self.hosts {
            if let (HostState::Up, Some(w)) = (&h.state, &h.worker) {
                h.store.refresh(lists, w);
            }
        }
    }

    /// A tagged message of host `i` for its fleet-view store; what is not about the
    /// store comes back.
    pub fn apply_to_store(&mut self, i: usize, m: Msg) -> Option<Msg> {
        let slot = self.hosts.get_mut(i)?;
        let w = slot.worker.clone()?;
        self.dirty = true;
        match slot.store.apply(m, &w) {
            Ok(applied) => {
                if let Some(w) = applied.warning {
                    tracing::warn!("{}: {w}", slot.spec.name);
                }
                None
            }
            Err(other) => Some(other),
        }
    }

    /// The router's members and where each container is.
    fn update_routes(&mut self) {
        let mut members = Vec::new();
        let mut index = Vec::new();
        for (i, h) in self.hosts.iter().enumerate() {
            if let (HostState::Up, Some(c)) = (&h.state, &h.conn) {
                index.push(i);
                members.push(Member {
                    name: h.spec.name.clone(),
                    engine: c.engine.clone(),
                    caller: c.caller.clone(),
                });
            }
        }
        let mut containers = std::collections::HashMap::new();
        for (m, &i) in index.iter().enumerate() {
            for c in self.hosts[i].store.containers.items.iter() {
                containers.insert(c.id.clone(), m);
            }
        }
        // The current host when it is up; when it is down, calls that name no host
        // are refused (never sent to another host).
        let current = index.iter().position(|&i| i == self.current);
        let current_name = self
            .hosts
            .get(self.current)
            .map(|h| h.spec.name.clone())
            .unwrap_or_default();
        if let Ok(mut r) = self.router.routes.write() {
            r.members = members;
            r.containers = containers;
            r.current = current;
            r.current_name = current_name;
        }
    }

    /// The fleet view's store: every host's lists as one, each row with its host.
    /// Objects other than containers are named `HOST::NAME`, so that what a pane asks
    /// about them goes to their host; `prev` gives the revisions to go on from.
    pub fn merged(&mut self, prev: &Store) -> Store {
        self.dirty = false;
        self.update_routes();
        let up: Vec<usize> = (0..self.hosts.len())
            .filter(|&i| self.hosts[i].state == HostState::Up)
            .collect();
        let name = |i: usize| -> Arc<str> { Arc::from(self.hosts[i].spec.name.as_str()) };
        let mut s = Store::default();
        s.containers = Listing::merged(
            up.iter()
                .map(|&i| (name(i), &self.hosts[i].store.containers))
                .collect(),
            prev.containers.rev + 1,
        );
        s.images = Listing::merged(
            up.iter()
                .map(|&i| (name(i), &self.hosts[i].store.images))
                .collect(),
            prev.images.rev + 1,
        );
        s.volumes = Listing::merged(
            up.iter()
                .map(|&i| (name(i), &self.hosts[i].store.volumes))
                .collect(),
            prev.volumes.rev + 1,
        );
        s.networks = Listing::merged(
            up.iter()
                .map(|&i| (name(i), &self.hosts[i].store.networks))
                .collect(),
            prev.networks.rev + 1,
        );

        for (img, h) in std::sync::Arc::make_mut(&mut s.images.items)
            .iter_mut()
            .zip(&s.images.hosts)
        {
            img.id = router::qualify(h, &img.id);
            for t in &mut img.repo_tags {
                *t = router::qualify(h, t);
            }
        }
        for (v, h) in std::sync::Arc::make_mut(&mut s.volumes.items)
            .iter_mut()
            .zip(&s.volumes.hosts)
        {
            v.name = router::qualify(h, &v.name);
        }
        for (n, h) in std::sync::Arc::make_mut(&mut s.networks.items)
            .iter_mut()
            .zip(&s.networks.hosts)
        {
            n.name = router::qualify(h, &n.name);
        }
        let mut events: Vec<Event> = Vec::new();
        for &i in &up {
            let st = &self.hosts[i].store;
            s.stats
                .extend(st.stats.iter().map(|(k, v)| (k.clone(), *v)));
            s.history
                .extend(st.history.iter().map(|(k, v)| (k.clone(), v.clone())));
            for e in &st.events {
                let mut e = e.clone();
                e.actor
                    .attributes
                    .insert("host".into(), self.hosts[i].spec.name.clone());
                events.push(e);
            }
        }
        events.sort_by_key(|e| e.time_nano);
        let skip = events.len().saturating_sub(super::store::EVENTS_CAP);
        s.events = events.into_iter().skip(skip).collect();
        s.events_rev = prev.events_rev + 1;
        s.events_load = wharf_views::Load::Ready(());
        s.stats_load = wharf_views::Load::Ready(());
        if let Some(st) = self.hosts.get(self.current).map(|h| &h.store) {
            s.info = st.info.clone();
        }
        s.host = prev.host;
        s
    }
}

/// A sender whose messages reach `main` tagged with `host` and `epoch`; it stops (and
/// its senders start failing) once the host's epoch moved on.
fn tagged(
    main: UnboundedSender<Msg>,
    host: usize,
    epoch: u64,
    current: Arc<AtomicU64>,
) -> UnboundedSender<Msg> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Msg>();
    std::thread::spawn(move || {
        while let Some(m) = rx.blocking_recv() {
            if current.load(Ordering::SeqCst) != epoch {
                break;
            }
            let msg = Msg::Fleet(FleetMsg::From {
                host,
                epoch,
                msg: Box::new(m),
            });
            if main.send(msg).is_err() {
                break;
            }
        }
    });
    tx
}

/// One round trip to a host (its `info`), within [`PING_DEADLINE`].
fn ping(engine: Arc<dyn Engine>, caller: Caller) -> Result<Duration, String> {
    let t = Instant::now();
    let r = wharf_engine::remote::docker::with_deadline(PING_DEADLINE, move || {
        engine.info(&caller).map(|_| ())
    });
    r.map(|()| t.elapsed()).map_err(|e| e.message)
}

/// The hosts pane's rows.
fn rows(f: &Fleet) -> Vec<wharf_views::hosts::HostRow> {
    f.hosts
        .iter()
        .enumerate()
        .map(|(i, h)| wharf_views::hosts::HostRow {
            name: h.spec.name.clone(),
            engine: h.kind().to_string(),
            version: h
                .conn
                .as_ref()
                .map(|c| c.version.clone())
                .unwrap_or_default(),
            state: match &h.state {
                HostState::Up => "up".into(),
                HostState::Connecting => "connecting".into(),
                HostState::Down(why) => format!("down: {why}"),
            },
            up: h.state == HostState::Up,
            latency_ms: h
                .latency
                .filter(|_| h.state == HostState::Up)
                .map(|d| d.as_secs_f64() * 1000.0),
            url: h.spec.url.clone(),
            current: i == f.current,
        })
        .collect()
}

impl super::app::App {
    /// A message about the hosts.
    pub fn fleet_msg(&mut self, m: FleetMsg) {
        let Some(f) = self.fleet.as_mut() else {
            return;
        };
        match m {
            FleetMsg::From { host, epoch, msg } => {
                if !f.is_current(host, epoch) {
                    return;
                }
                if f.all {
                    if let Some(other) = f.apply_to_store(host, *msg) {
                        self.handle_msg(other);
                    }
                } else if host == f.current {
                    self.handle_msg(*msg);
                }
            }
            mut other => {
                let was_down: Vec<bool> =
                    f.hosts.iter().map(|h| h.state != HostState::Up).collect();
                let Some(i) = f.apply(&mut other) else {
                    if let FleetMsg::Pinged {
                        host,
                        result: Err(why),
                    } = &other
                    {
                        if !was_down.get(*host).copied().unwrap_or(true) {
                            let name = f.hosts[*host].spec.name.clone();
                            self.note = Some(wharf_views::footer::Notification {
                                level: wharf_views::footer::Level::Error,
                                text: format!("host {name} is down: {why}"),
                                details: None,
                            });
                        }
                    }
                    return;
                };
                let name = f.hosts[i].spec.name.clone();
                if f.take_pending(i) {
                    if let Err(e) = self.switch_host(&name) {
                        tracing::warn!("{e}");
                    }
                    return;
                }
                if f.all {
                    f.start_store(i);
                } else if i == f.current && was_down.get(i).copied().unwrap_or(false) {
                    // The current host is back: read it again from scratch.
                    if let Some(w) = f.new_worker(i) {
                        self.worker = w;
                        self.store = Store::default();
                        self.store.start(&self.worker);
                    }
                }
                if was_down.get(i).copied().unwrap_or(false) && f.hosts[i].spec.kind.is_some() {
                    tracing::info!("host {name} is up");
                }
            }
        }
    }

    /// Before a frame: the fleet view's lists merged again, the hosts pane's rows.
    pub fn sync_fleet(&mut self) -> bool {
        let Some(f) = self.fleet.as_mut() else {
            return false;
        };
        let mut changed = false;
        if f.all && f.dirty {
            let prev = std::mem::take(&mut self.store);
            self.store = f.merged(&prev);
            self.store.fleet_hosts = prev.fleet_hosts;
            self.store.fleet_rev = prev.fleet_rev;
            changed = true;
        }
        self.store.fleet_view = f.all;
        if f.rev != self.store.fleet_rev || self.store.fleet_hosts.is_empty() {
            self.store.fleet_hosts = rows(f);
            self.store.fleet_rev = f.rev;
            changed = true;
        }
        changed
    }

    /// `:host NAME`: the console on that host; `all`: the fleet view.
    pub fn switch_host(&mut self, name: &str) -> Result<(), String> {
        let Some(f) = self.fleet.as_mut() else {
            return Err("this console has one engine: name more with --host, in the hosts file, or as docker contexts".into());
        };
        if matches!(name, "all" | "*" | "fleet") {
            if !f.all {
                f.start_all();
                self.worker = f.router_worker();
                self.store = Store::default();
                self.store.fleet_view = true;
                f.dirty = true;
                f.rev += 1;
            }
            return Ok(());
        }
        let Some(i) = f.find(name) else {
            let names: Vec<&str> = f.hosts.iter().map(|h| h.spec.name.as_str()).collect();
            return Err(format!(
                "no host is named {name:?} (hosts: {}, all)",
                names.join(", ")
            ));
        };
        match f.hosts[i].state.clone() {
            HostState::Up => {}
            HostState::Connecting => {
                f.switch_later(i);
                self.note = Some(wharf_views::footer::Notification {
                    level: wharf_views::footer::Level::Info,
                    text: format!("reaching {name}…"),
                    details: None,
                });
                return Ok(());
            }
            HostState::Down(why) => {
                f.switch_later(i);
                return Err(format!(
                    "host {name} is down ({why}); the console switches to it when it answers"
                ));
            }
        }
        if f.all {
            f.stop_all();
        }
        f.current = i;
        f.rev += 1;
        let Some(w) = f.new_worker(i) else {
            return Err(format!("host {name} is not reached yet"));
        };
        let c = f.hosts[i].conn.clone();
        self.role = c.and_then(|c| c.role);
        self.worker = w;
        self.store = Store::default();
        self.store.start(&self.worker);
        f.update_routes_pub();
        Ok(())
    }
}

impl Fleet {
    /// The router follows the current host.
    pub fn update_routes_pub(&mut self) {
        self.update_routes();
    }
}
