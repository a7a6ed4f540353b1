//! What the console knows of the engine: the lists, the stats samples, the events and
//! the header's facts, kept apart from the panes that show them (bottom-style: data
//! collection apart from drawing). Panes read it; only worker messages change it.

use std::collections::{HashMap, HashSet, VecDeque};

use wharf_engine::api::{
    ContainerStatus, ContainerSummary, ImageSummary, StatsPoint, SystemInfo, Volume,
};
use wharf_engine::events::{Event, EventType};
use wharf_engine::{Caller, Engine};
use wharf_views::header::Counts;
use wharf_views::networks::NetworkRow;
use wharf_views::Load;

use super::api;
use super::msg::{HostFigures, Lists, Msg};
use super::Worker;

/// Samples of history kept per container (sparklines).
const HISTORY_CAP: usize = 300;

/// How many events are kept.
pub const EVENTS_CAP: usize = 5000;

/// One engine list: its rows, and whether a reload is under way.
#[derive(Debug)]
pub struct Listing<T> {
    pub load: Load<()>,
    /// Shared with the engine's client where it keeps the listing (no copy per answer).
    pub items: std::sync::Arc<Vec<T>>,
    /// Bumped at each answer, so that panes can tell the rows changed.
    pub rev: u64,
    /// In the fleet view, each row's host (parallel to `items`); empty otherwise.
    pub hosts: Vec<std::sync::Arc<str>>,
    in_flight: bool,
    again: bool,
}

impl<T> Default for Listing<T> {
    fn default() -> Self {
        Listing {
            load: Load::Loading,
            items: Default::default(),
            rev: 0,
            hosts: Vec::new(),
            in_flight: false,
            again: false,
        }
    }
}

impl<T> Listing<T> {
    /// The host of a row of `items` (in the fleet view).
    pub fn host_of(&self, item: &T) -> Option<&str> {
        let size = std::mem::size_of::<T>();
        let base = self.items.as_ptr() as usize;
        let at = item as *const T as usize;
        if size == 0 || at < base || at >= base + size * self.items.len() {
            return None;
        }
        self.hosts.get((at - base) / size).map(|h| &**h)
    }

    /// Rows of several hosts as one listing (the fleet view): `parts` are each host's
    /// name and listing; `rev` is the revision it gets.
    pub fn merged(parts: Vec<(std::sync::Arc<str>, &Listing<T>)>, rev: u64) -> Listing<T>
    where
        T: Clone,
    {
        let mut out = Listing {
            rev,
            ..Listing::default()
        };
        let mut errors = Vec::new();
        let mut any_ready = false;
        let mut items = Vec::new();
        for (host, l) in parts {
            match &l.load {
                Load::Ready(()) => any_ready = true,
                Load::Error(e) | Load::Unavailable(e) => errors.push(format!("{host}: {e}")),
                Load::Loading => {}
            }
            items.extend(l.items.iter().cloned());
            out.hosts
                .extend(std::iter::repeat_n(host.clone(), l.items.len()));
        }
        out.items = std::sync::Arc::new(items);
        out.load = if any_ready {
            Load::Ready(())
        } else if !errors.is_empty() {
            Load::Error(errors.join("; "))
        } else {
            Load::Loading
        };
        out
    }

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
    fn finish<V: Into<std::sync::Arc<Vec<T>>>>(&mut self, l: Load<V>) -> bool {
        self.in_flight = false;
        self.rev += 1;
        self.load = match l {
            Load::Ready(v) => {
                self.items = v.into();
                Load::Ready(())
            }
            Load::Loading => Load::Loading,
            Load::Error(e) => Load::Error(e),
            Load::Unavailable(e) => Load::Unavailable(e),
        };
        std::mem::take(&mut self.again)
    }

    /// Set the rows (tests).
    #[cfg(test)]
    pub fn set(&mut self, items: Vec<T>) {
        self.items = std::sync::Arc::new(items);
        self.load = Load::Ready(());
        self.rev += 1;
    }
}

/// Everything the console knows of the engine.
#[derive(Debug)]
pub struct Store {
    pub info: Load<SystemInfo>,
    pub host: HostFigures,
    pub containers: Listing<ContainerSummary>,
    pub images: Listing<ImageSummary>,
    pub volumes: Listing<Volume>,
    pub networks: Listing<NetworkRow>,
    /// The latest sample per running container, and a short history of each.
    pub stats: HashMap<String, StatsPoint>,
    pub history: HashMap<String, VecDeque<StatsPoint>>,
    pub stats_load: Load<()>,
    /// The last hour's events and the live ones, oldest first (bounded).
    pub events: VecDeque<Event>,
    pub events_load: Load<()>,
    /// Bumped at each event.
    pub events_rev: u64,
    /// The name each renamed container got (from its `rename` event).
    renamed: HashMap<String, String>,
    /// The console's hosts (the hosts pane), and their revision.
    pub fleet_hosts: Vec<wharf_views::hosts::HostRow>,
    pub fleet_rev: u64,
    /// The lists are every host's (the fleet view).
    pub fleet_view: bool,
}

impl Default for Store {
    fn default() -> Self {
        Store {
            info: Load::Loading,
            host: HostFigures::default(),
            containers: Listing::default(),
            images: Listing::default(),
            volumes: Listing::default(),
            networks: Listing::default(),
            stats: HashMap::new(),
            history: HashMap::new(),
            stats_load: Load::Loading,
            events: VecDeque::new(),
            events_load: Load::Loading,
            events_rev: 0,
            renamed: HashMap::new(),
            fleet_hosts: Vec::new(),
            fleet_rev: 0,
            fleet_view: false,
        }
    }
}

/// What applying a message says to the shell.
#[derive(Debug, Default)]
pub struct Applied {
    /// A stream ended or failed: a warning for the footer.
    pub warning: Option<String>,
}

impl Store {
    /// Ask the engine for everything once, and start following stats and events.
    pub fn start(&mut self, w: &Worker) {
        w.run(|e, c| Msg::Info {
            info: api::info(e, c),
        });
        self.refresh(Lists::ALL, w);
        w.stream(|e, c, tx| {
            let why = api::stats_stream(e, c, &mut |batch| tx.send(Msg::Stats { batch }).is_ok());
            let _ = tx.send(Msg::StatsEnded { why });
        });
        w.stream(|e, c, tx| {
            let why = api::events_stream(e, c, &mut |ev, live| {
                tx.send(Msg::Event {
                    event: Box::new(ev),
                    live,
                })
                .is_ok()
            });
            let _ = tx.send(Msg::EventsEnded { why });
        });
    }

    /// Read `lists` again (a reload under way is followed by one more).
    pub fn refresh(&mut self, lists: Lists, w: &Worker) {
        fn reload<T>(
            on: bool,
            l: &mut Listing<T>,
            w: &Worker,
            read: fn(&dyn Engine, &Caller) -> Msg,
        ) {
            if on && l.begin() {
                w.run(read);
            }
        }
        reload(lists.containers, &mut self.containers, w, |e, c| {
            Msg::Containers {
                load: api::containers(e, c),
            }
        });
        reload(lists.images, &mut self.images, w, |e, c| Msg::Images {
            load: api::images(e, c),
        });
        reload(lists.volumes, &mut self.volumes, w, |e, c| Msg::Volumes {
            load: api::volumes(e, c),
        });
        reload(lists.networks, &mut self.networks, w, |e, c| {
            Msg::Networks {
                load: api::networks(e, c),
            }
        });
    }

    /// ctrl-r: every list; the header's engine facts only when the first answer failed
    /// (they do not change; its counts come from the list).
    pub fn refresh_all(&mut self, w: &Worker) {
        self.refresh(Lists::ALL, w);
        if matches!(self.info, Load::Error(_)) {
            w.run(|e, c| Msg::Info {
                info: api::info(e, c),
            });
        }
    }

    /// Apply a worker's message about the engine's state; `Err(m)` gives back the ones
    /// that are not about it.
    pub fn apply(&mut self, m: Msg, w: &Worker) -> Result<Applied, Msg> {
        let mut out = Applied::default();
        match m {
            Msg::Info { info } => {
                self.info = info.map(|i| Load::Ready(*i)).unwrap_or_else(Load::Error)
            }
            Msg::Host { figures } => {
                // Keep the last CPU figure when one reading failed.
                self.host = HostFigures {
                    cpu_percent: figures.cpu_percent.or(self.host.cpu_percent),
                    mem: figures.mem,
                };
            }
            Msg::Containers { load } => {
                if self.containers.finish(load) {
                    self.refresh(Lists::CONTAINERS, w);
                }
            }
            Msg::Images { load } => {
                if self.images.finish(load) {
                    self.refresh(Lists::IMAGES, w);
                }
            }
            Msg::Volumes { load } => {
                if self.volumes.finish(load) {
                    self.refresh(Lists::VOLUMES, w);
                }
            }
            Msg::Networks { load } => {
                if self.networks.finish(load) {
                    self.refresh(Lists::NETWORKS, w);
                }
            }
            Msg::Event { mut event, live } => {
                self.events_load = Load::Ready(());
                if live {
                    self.refresh(changed_by(&event), w);
                }
                self.name_after_rename(&mut event);
                wharf_views::events::push_bounded(&mut self.events, *event, EVENTS_CAP);
                self.events_rev += 1;
            }
            Msg::EventsEnded { why } => {
                self.events_load = if self.events.is_empty() {
                    Load::Error(why.clone())
                } else {
                    Load::Ready(())
                };
                out.warning = Some(format!(
                    "events: {why}; lists no longer update by themselves (ctrl-r refreshes)"
                ));
            }
            Msg::Stats { batch } => {
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
                let live: HashSet<&String> = self.stats.keys().collect();
                self.history.retain(|id, _| live.contains(id));
            }
            Msg::StatsEnded { why } => {
                self.stats.clear();
                self.stats_load = Load::Error(why.clone());
                out.warning = Some(format!("stats: {why}"));
            }
            other => return Err(other),
        }
        Ok(out)
    }

    /// A container event after a rename carries the new name. (The engine's monitor,
    /// started before the rename, still says the old one in `die` events.)
    fn name_after_rename(&mut self, ev: &mut Event) {
        if ev.kind != EventType::Container {
            return;
        }
        let attrs = &mut ev.actor.attributes;
        if ev.action == "rename" {
            if let Some(n) = attrs.get("name") {
                self.renamed.insert(ev.actor.id.clone(), n.clone());
            }
        } else if ev.action == "destroy" {
            self.renamed.remove(&ev.actor.id);
        } else if let (Some(new), Some(name)) =
            (self.renamed.get(&ev.actor.id), attrs.get_mut("name"))
        {
            if name != new {
                name.clone_from(new);
            }
        }
    }

    /// Container counts for the header.
    pub fn counts(&self) -> Option<Counts> {
        self.containers.load.ready()?;
        let mut c = Counts::default();
        for x in self.containers.items.iter() {
            match x.state {
                ContainerStatus::Running | ContainerStatus::Restarting => c.running += 1,
                ContainerStatus::Paused => c.paused += 1,
                _ => c.stopped += 1,
            }
        }
        Some(c)
    }

    /// A container by name or id prefix.
    pub fn find_container(&self, name_or_id: &str) -> Option<&ContainerSummary> {
        let items = &self.containers.items;
        items
            .iter()
            .find(|c| c.name == name_or_id)
            .or_else(|| items.iter().find(|c| c.id.starts_with(name_or_id)))
    }

    /// Names of all listed containers.
    pub fn container_names(&self) -> Vec<String> {
        self.containers
            .items
            .iter()
            .map(|c| c.name.clone())
            .collect()
    }
}

/// The lists an engine event changes.
fn changed_by(ev: &Event) -> Lists {
    match ev.kind {
        EventType::Container => {
            let a = ev.action.as_str();
            let mut l = Lists::CONTAINERS;
            // Image use counts change with containers, and volumes' users too.
            if matches!(a, "create" | "destroy") {
                l = l.and(Lists::IMAGES);
            }
            if matches!(a, "create" | "destroy" | "mount" | "unmount") {
                l = l.and(Lists::VOLUMES);
            }
            l
        }
        EventType::Image => Lists::IMAGES,
        EventType::Volume => Lists::VOLUMES,
        // A container's networks are in its row too.
        EventType::Network if matches!(ev.action.as_str(), "connect" | "disconnect") => {
            Lists::NETWORKS.and(Lists::CONTAINERS)
        }
        EventType::Network => Lists::NETWORKS,
        EventType::Daemon => Lists::NONE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wharf_engine::events::Actor;

    fn event(action: &str, id: &str, name: &str) -> Msg {
        let mut attributes = std::collections::BTreeMap::new();
        attributes.insert("name".to_string(), name.to_string());
        Msg::Event {
            event: Box::new(Event {
                kind: EventType::Container,
                action: action.into(),
                actor: Actor {
                    id: id.into(),
                    attributes,
                },
                scope: "local".into(),
                time: 0,
                time_nano: 0,
                owner: None,
            }),
            live: false,
        }
    }

    /// Reported: after a rename, a later event (the monitor's `die`) showed the old name.
    #[test]
    fn events_after_a_rename_carry_the_new_name() {
        let dir = tempfile::tempdir().unwrap();
        let (w, _rx) = Worker::on_temp_root(dir.path());
        let mut s = Store::default();
        for m in [
            event("start", "c1", "web"),
            event("rename", "c1", "web2"),
            event("die", "c1", "web"),
            event("die", "c2", "web"),
        ] {
            s.apply(m, &w).unwrap();
        }
        let names: Vec<String> = s.events.iter().map(wharf_views::events::object).collect();
        assert_eq!(names, ["web", "web2", "web2", "web"]);
    }
}
