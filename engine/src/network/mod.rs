//! Networks: bridges, veth pairs, addresses, NAT and published ports, name resolution.
//!
//! One module per concern: [`ipam`] (subnets and addresses), [`netlink`] (links,
//! addresses, routes), [`nft`] (wharf's nftables table), [`files`] (hosts and
//! resolv.conf), [`store`] (what is persisted under `networks/`); `api` implements
//! [`crate::api::NetworkApi`] on top.
//!
//! The runtime calls [`setup`] once the container's init exists in its own network
//! namespace, writes nothing itself (the files are at [`hosts_path`] / [`resolv_path`],
//! to be bind-mounted over `/etc/hosts` and `/etc/resolv.conf`), and calls [`teardown`]
//! when the container stops and [`forget`] when it is removed.
//!
//! Bridges exist only while a container uses them, and wharf's nftables table only
//! while some bridge exists: a wharf with nothing running leaves nothing in the
//! host's network configuration.

mod api;
pub mod batch;
pub mod files;
pub mod ipam;
pub mod netlink;
pub mod nft;
pub mod store;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::api::{ContainerCreate, PortBinding};
use crate::caller::Caller;
use crate::error::{EngineError, Result};
use crate::events::{Event, EventType};
use crate::local::LocalEngine;
use crate::policy::Action;
use crate::state::FileLock;

use netlink::Netlink;
use store::{CtrRecord, EndpointRecord, NetRecord, Store};

/// What the runtime knows about a container beyond its [`ContainerCreate`].
#[derive(Debug, Clone, Default)]
pub struct ContainerNetInfo<'a> {
    /// The container's name (without a leading `/`).
    pub name: &'a str,
    /// Its hostname (the short id unless `--hostname`).
    pub hostname: &'a str,
    /// The image's `ExposedPorts` keys (`80/tcp`, `53/udp`), published by `-P`.
    pub exposed_ports: &'a [String],
    /// The container's init configures its side itself (`lo`, addresses, route; the
    /// runtime's does, from [`NetworkSetup::endpoints`]): [`setup`] only makes the
    /// interfaces. Otherwise (a process that is not ours) `setup` configures it.
    pub by_init: bool,
}

/// One interface a container got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointSetup {
    pub network: String,
    pub network_id: String,
    pub endpoint_id: String,
    /// `eth0`, `eth1`, ...
    pub ifname: String,
    pub ip: Ipv4Addr,
    pub prefix_len: u8,
    pub gateway: Ipv4Addr,
    /// Its interface index inside the container.
    #[serde(default)]
    pub ifindex: u32,
    /// The container's default route goes through this network's gateway.
    #[serde(default)]
    pub default_route: bool,
    /// `02:42:ac:11:00:02`
    pub mac: String,
    pub aliases: Vec<String>,
}

/// Configure a container's side in one netlink batch, from a socket made in its
/// namespace: `lo` up, then each interface's address, and the default route through
/// the gateway of `gw` (an index into `eps`).
fn configure_in_netns(netns: &File, eps: &[EndpointSetup], gw: Option<usize>) -> Result<()> {
    let mut b = batch::Batch::default();
    b.push(batch::link_up(batch::LOOPBACK), 0, "bringing lo up");
    for (i, e) in eps.iter().enumerate() {
        b.push(
            batch::link_up(e.ifindex),
            0,
            format!("bringing {} up", e.ifname),
        );
        b.push(
            batch::add_addr(e.ifindex, e.ip, e.prefix_len),
            batch::CREATE,
            format!("adding address {}/{} to {}", e.ip, e.prefix_len, e.ifname),
        );
        if Some(i) == gw {
            b.push(
                batch::default_route(e.ifindex, e.gateway),
                batch::CREATE,
                format!("adding the default route via {}", e.gateway),
            );
        }
    }
    batch::NlSocket::in_netns(netns)?.run(&b)
}

/// What [`setup`] did: the container's interfaces, its published ports (host ports
/// chosen) and the content of its `/etc/hosts` and `/etc/resolv.conf` (also written
/// to [`hosts_path`] and [`resolv_path`] when the container's directory exists).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkSetup {
    /// `bridge`, `none` or `host`.
    pub mode: String,
    pub endpoints: Vec<EndpointSetup>,
    pub ports: Vec<PortBinding>,
    pub hosts: String,
    pub resolv_conf: String,
}

/// `containers/<id>/hosts`: the container's `/etc/hosts`, kept current by wharf.
pub fn hosts_path(engine: &LocalEngine, container_id: &str) -> PathBuf {
    engine.root().containers().join(container_id).join("hosts")
}

/// `containers/<id>/resolv.conf`: the container's `/etc/resolv.conf`.
pub fn resolv_path(engine: &LocalEngine, container_id: &str) -> PathBuf {
    engine
        .root()
        .containers()
        .join(container_id)
        .join("resolv.conf")
}

/// First and last port handed out for `-p CTR` and `-P`.
const EPHEMERAL: (u16, u16) = (49153, 60999);

/// The store opened for a change: lock held, predefined networks present, records
/// of containers that died without a teardown cleaned.
pub(crate) struct Session<'a> {
    engine: &'a LocalEngine,
    _lock: FileLock,
    pub st: Store,
    /// The async netlink connection, made on first use (most starts never need it).
    nl: Option<Netlink>,
    /// A plain netlink socket for batches, made on first use.
    hs: Option<batch::NlSocket>,
    events: Vec<Event>,
    /// The networks as loaded: a commit that changed them syncs the store to disk.
    networks_at_open: String,
    /// The keeper's own session: its lock on [`KEEPER_LOCK`] does not keep bridges.
    keeper: bool,
}

/// Held shared by `wharf serve` for its whole life: idle bridges stay up meanwhile.
const KEEPER_LOCK: &str = "bridge-keeper.lock";
/// Held by the one process that removes idle bridges when their time is up.
const REAPER_LOCK: &str = "bridge-reaper.lock";

fn now_ns() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
}

impl<'a> Session<'a> {
    pub fn open(engine: &'a LocalEngine) -> Result<Self> {
        let lock = store::lock(engine.root())?;
        let st = store::load(engine.root())?;
        let networks_at_open = serde_json::to_string(&st.networks).unwrap_or_default();
        let mut s = Session {
            engine,
            _lock: lock,
            st,
            nl: None,
            hs: None,
            events: Vec::new(),
            networks_at_open,
            keeper: false,
        };
        let changed = s.ensure_builtins()? | s.collect_stale()?;
        if changed || s.idle_past_time() {
            s.commit()?;
        }
        Ok(s)
    }

    /// Idle bridges up past their grace period (their reaper was killed): the next
    /// session of any wharf process removes them.
    fn idle_past_time(&self) -> bool {
        let idle = self
            .st
            .bridges_up
            .as_ref()
            .is_some_and(|b| b.iter().any(|id| !self.st.network_active(id)));
        idle && !self.keeping()
    }

    /// The async netlink connection (made now if needed).
    pub fn nl(&mut self) -> Result<&Netlink> {
        if self.nl.is_none() {
            self.nl = Some(Netlink::new()?);
        }
        self.nl
            .as_ref()
            .ok_or_else(|| EngineError::internal("the netlink connection vanished"))
    }

    /// The batch socket in wharf's own namespace (made now if needed).
    fn hs(&mut self) -> Result<&mut batch::NlSocket> {
        if self.hs.is_none() {
            self.hs = Some(batch::NlSocket::new()?);
        }
        self.hs
            .as_mut()
            .ok_or_else(|| EngineError::internal("the netlink socket vanished"))
    }

    /// Delete links by name in one batch; those already gone are fine.
    fn delete_links(&mut self, names: &[String]) -> Result<()> {
        if names.is_empty() {
            return Ok(());
        }
        let mut b = batch::Batch::default();
        for n in names {
            b.push(
                batch::del_link(n),
                0,
                format!("deleting network interface {n}"),
            );
        }
        let codes = self.hs()?.send(&b)?;
        for (n, c) in names.iter().zip(codes) {
            match c {
                None | Some(libc::ENODEV) => {}
                Some(c) => {
                    return Err(EngineError::io(
                        format!("deleting network interface {n}"),
                        std::io::Error::from_raw_os_error(c),
                    ))
                }
            }
        }
        Ok(())
    }

    /// Are idle bridges kept up now: within the grace period after the last container
    /// left one, or while a `wharf serve` runs?
    fn keeping(&self) -> bool {
        if self.st.keep_until > now_ns() {
            return true;
        }
        !self.keeper
            && matches!(
                FileLock::probe(&self.engine.root().run().join(KEEPER_LOCK)),
                Ok(crate::state::Probe::Held)
            )
    }

    /// The bridge networks whose bridges are (to be) up: a running container on
    /// them, or made earlier and kept while [`Self::keeping`].
    fn networks_up(&self) -> BTreeSet<String> {
        let keeping = self.keeping();
        self.st
            .networks
            .values()
            .filter(|n| !n.bridge.is_empty())
            .filter(|n| {
                self.st.network_active(&n.id)
                    || (keeping
                        && self
                            .st
                            .bridges_up
                            .as_ref()
                            .is_some_and(|b| b.contains(&n.id)))
            })
            .map(|n| n.id.clone())
            .collect()
    }

    /// `bridge`, `host` and `none` exist from the first use on.
    fn ensure_builtins(&mut self) -> Result<bool> {
        let mut changed = false;
        for (name, driver) in [("bridge", "bridge"), ("host", "host"), ("none", "null")] {
            if self.st.builtin(name).is_some() {
                continue;
            }
            let (subnet, gateway, bridge) = if name == "bridge" {
                let mut taken = self.nl()?.route_prefixes()?;
                taken.extend(self.st.subnets());
                let s = ipam::choose_subnet(&taken)?;
                (
                    Some(s),
                    Some(ipam::default_gateway(&s)),
                    store::DEFAULT_BRIDGE.to_string(),
                )
            } else {
                (None, None, String::new())
            };
            let id = crate::ids::new_id();
            self.st.networks.insert(
                id.clone(),
                NetRecord {
                    id,
                    name: name.into(),
                    driver: driver.into(),
                    created: now(),
                    subnet,
                    gateway,
                    ip_range: None,
                    internal: false,
                    labels: BTreeMap::new(),
                    bridge,
                    owner: 0,
                },
            );
            changed = true;
        }
        Ok(changed)
    }

    /// Release what containers that are gone (exited without teardown, or removed)
    /// still held. Returns whether anything changed.
    fn collect_stale(&mut self) -> Result<bool> {
        let root = self.engine.root().containers();
        let mut changed = false;
        let ids: Vec<String> = self.st.containers.keys().cloned().collect();
        for id in ids {
            let exists = root.join(&id).is_dir();
            let Some(rec) = self.st.containers.get(&id) else {
                continue;
            };
            let alive = exists && rec.running && is_alive(rec);
            if rec.running && !alive {
                self.release(&id)?;
                changed = true;
            }
            if !exists {
                self.st.containers.remove(&id);
                changed = true;
            }
        }
        Ok(changed)
    }

    /// Undo a container's running state: veths gone, addresses and ports released.
    fn release(&mut self, cid: &str) -> Result<()> {
        let Some(rec) = self.st.containers.get_mut(cid) else {
            return Ok(());
        };
        let mut veths = Vec::new();
        for ep in rec.endpoints.iter_mut() {
            if ep.active() {
                self.events.push(
                    Event::new(EventType::Network, "disconnect", ep.network_id.clone())
                        .attr("container", cid),
                );
            }
            if let Some(v) = ep.host_veth.take() {
                veths.push(v);
            }
            ep.ip = None;
            ep.ifname = None;
        }
        let was_on_bridge = !veths.is_empty();
        rec.running = false;
        rec.pid = 0;
        rec.netns = None;
        rec.ports.clear();
        // A bridge it leaves idle stays up (with its rules) for the grace period.
        let grace = self.engine.bridge_grace();
        if was_on_bridge && !grace.is_zero() {
            self.st.keep_until = self
                .st
                .keep_until
                .max(now_ns() + i64::try_from(grace.as_nanos()).unwrap_or(i64::MAX / 2));
        }
        // Deleting one end of a veth deletes both; all of them in one batch.
        self.delete_links(&veths)
    }

    /// Persist, then make the host match: bridges no longer up deleted, nftables table
    /// replaced, hosts files of running containers rewritten, events recorded.
    pub fn commit(&mut self) -> Result<()> {
        let up = self.networks_up();
        // Rules first: if nftables refuses them, nothing is recorded and the caller undoes.
        self.apply_rules(&up)?;
        self.delete_idle_bridges(&up)?;
        let durable =
            serde_json::to_string(&self.st.networks).unwrap_or_default() != self.networks_at_open;
        store::save(self.engine.root(), &self.st, durable)?;
        if durable {
            self.networks_at_open = serde_json::to_string(&self.st.networks).unwrap_or_default();
        }
        self.refresh_hosts_files();
        for ev in self.events.drain(..) {
            self.engine.emit(fill_network_attrs(ev, &self.st));
        }
        Ok(())
    }

    /// Replace wharf's nftables table unless the last table applied from this state
    /// root (kept in `networks/nft.json`) is the same: starts that change no rule
    /// (`--network none`, a second container without ports, any container while its
    /// bridge is kept up) run no `nft` at all.
    fn apply_rules(&self, up: &BTreeSet<String>) -> Result<()> {
        let batch = nft::ruleset(&self.st, up);
        let text = batch.to_string();
        let cache = self.engine.root().networks().join("nft.json");
        match std::fs::read_to_string(&cache) {
            Ok(old) if old == text => return Ok(()),
            // Never applied from this root and nothing to apply: leave nftables alone
            // (a fresh root used with --network none never runs nft).
            Err(_) if !nft::has_rules(&batch) => return Ok(()),
            _ => {}
        }
        // Forget the cache first: a crash between the two steps then re-applies. The
        // cache is renamed into place but not synced: after a crash there is no table
        // (it lives in the kernel), and a lost cache only means nft runs once more.
        let _ = std::fs::remove_file(&cache);
        nft::run_nft(&batch)?;
        let tmp = cache.with_file_name(format!(".nft.json.tmp-{}", &crate::ids::new_id()[..12]));
        std::fs::write(&tmp, text.as_bytes())
            .and_then(|()| std::fs::rename(&tmp, &cache))
            .map_err(|e| EngineError::io(format!("writing {}", cache.display()), e))
    }

    /// Delete the bridges of networks no longer `up` (known to be up, or every one
    /// once for a store that does not say) and record which remain.
    fn delete_idle_bridges(&mut self, up: &BTreeSet<String>) -> Result<()> {
        let known = self.st.bridges_up.clone();
        let doomed: Vec<String> = self
            .st
            .networks
            .values()
            .filter(|n| !n.bridge.is_empty() && !up.contains(&n.id))
            .filter(|n| known.as_ref().is_none_or(|k| k.contains(&n.id)))
            .map(|n| n.bridge.clone())
            .collect();
        self.delete_links(&doomed)?;
        let mut now_up = known.unwrap_or_else(|| up.clone());
        now_up.retain(|id| up.contains(id));
        self.st.bridges_up = Some(now_up);
        Ok(())
    }

    /// Rewrite the hosts file of every running container on a user network (where
    /// peers are named) whose peers changed. One only on the default bridge names only
    /// itself: its file is written at its start and stays.
    fn refresh_hosts_files(&self) {
        for c in self.st.containers.values().filter(|c| {
            c.running
                && c.mode == "bridge"
                && c.endpoints.iter().any(|e| {
                    e.active()
                        && self
                            .st
                            .networks
                            .get(&e.network_id)
                            .is_some_and(|n| n.is_user())
                })
        }) {
            let dir = self.engine.root().containers().join(&c.id);
            let content = hosts_for(&self.st, c);
            if std::fs::read_to_string(dir.join("hosts")).is_ok_and(|old| old == content)
                || !dir.is_dir()
            {
                continue;
            }
            if let Err(e) = files::write_in_place(&dir.join("hosts"), &content) {
                tracing::warn!(
                    "could not update the hosts file of container {}: {e}",
                    c.name
                );
            }
        }
    }

    /// Allocate an address on the endpoint's network, make sure its bridge exists and
    /// plug a veth into the container (`netns`) as the next free `ethN`: one netlink
    /// request for the pair (its container end made there directly, named, addressed
    /// by MAC, up, at a known interface index). The container end's address and route
    /// are for [`configure_in_netns`].
    fn attach(&mut self, cid: &str, ep_index: usize, netns: &File) -> Result<EndpointSetup> {
        let rec = self
            .st
            .containers
            .get(cid)
            .ok_or_else(|| EngineError::internal("container record vanished"))?;
        let ep = rec.endpoints[ep_index].clone();
        let used_ifnames: BTreeSet<String> = rec
            .endpoints
            .iter()
            .filter_map(|e| e.ifname.clone())
            .collect();
        let net = self
            .st
            .networks
            .get(&ep.network_id)
            .cloned()
            .ok_or_else(|| {
                EngineError::not_found(
                    "network",
                    &ep.network_id,
                    "it was removed: disconnect the container from it with wharf network disconnect",
                )
            })?;
        let (Some(subnet), Some(gateway)) = (net.subnet, net.gateway) else {
            return Err(EngineError::invalid(format!(
                "network {:?} has no addresses to give",
                net.name
            )));
        };
        let used = self.st.used_ips(&net.id);
        let ip = match ep.static_ip {
            Some(ip) => {
                ipam::check_static(&net.name, &subnet, gateway, ip, &used)?;
                ip
            }
            None => ipam::allocate(&subnet, net.ip_range.as_ref(), gateway, &used).ok_or_else(|| {
                EngineError::conflict(format!(
                    "network {:?} has no free address left: remove stopped containers or create a larger network",
                    net.name
                ))
            })?,
        };
        let bridge_idx = match self.hs()?.link_index(&net.bridge)? {
            Some(i) => i,
            None => {
                let idx = self
                    .nl()?
                    .ensure_bridge(&net.bridge, gateway, subnet.prefix_len())?;
                // Published ports reached from the host's own loopback are DNATed to the
                // container and leave through this bridge with a 127/8 source: allow it.
                netlink::write_sysctl(
                    &format!("net/ipv4/conf/{}/route_localnet", net.bridge),
                    "1",
                )?;
                if !net.internal
                    && std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward")
                        .map(|s| s.trim() != "1")
                        .unwrap_or(true)
                {
                    netlink::write_sysctl("net/ipv4/ip_forward", "1")?;
                }
                idx
            }
        };
        self.st
            .bridges_up
            .get_or_insert_with(Default::default)
            .insert(net.id.clone());
        let ifname = (0..)
            .map(|i| format!("eth{i}"))
            .find(|n| !used_ifnames.contains(n))
            .unwrap_or_default();
        let host_veth = veth_name(cid, &net.id);
        let mac = ipam::mac_for(ip);
        let what = format!("creating veth pair {host_veth}/{ifname}");
        let mut b = batch::Batch::default();
        b.push(
            batch::veth(&host_veth, bridge_idx, &ifname, netns.as_raw_fd(), mac),
            batch::CREATE,
            what.clone(),
        );
        let code = self.hs()?.send(&b)?[0];
        match code {
            None => {}
            // A leftover from a crash holds the name (it is ours by name): delete, retry.
            Some(libc::EEXIST) if self.hs()?.link_index(&host_veth)?.is_some() => {
                self.delete_links(std::slice::from_ref(&host_veth))?;
                self.hs()?.run(&b)?;
            }
            Some(c) => return Err(EngineError::io(what, std::io::Error::from_raw_os_error(c))),
        }
        // The container's end, by its index there (read from this end: no lookup in
        // the container's namespace).
        let peer_index = self.hs()?.veth_peer_index(&host_veth)?.ok_or_else(|| {
            EngineError::internal(format!(
                "{what}: the kernel did not say which interface is {ifname} in the container"
            ))
        })?;
        let rec = self
            .st
            .containers
            .get_mut(cid)
            .ok_or_else(|| EngineError::internal("container record vanished"))?;
        let e = &mut rec.endpoints[ep_index];
        e.ip = Some(ip);
        e.ifname = Some(ifname.clone());
        e.host_veth = Some(host_veth);
        self.events
            .push(Event::new(EventType::Network, "connect", net.id.clone()).attr("container", cid));
        Ok(EndpointSetup {
            network: net.name.clone(),
            network_id: net.id.clone(),
            endpoint_id: ep.endpoint_id.clone(),
            ifname,
            ifindex: peer_index,
            default_route: false,
            ip,
            prefix_len: subnet.prefix_len(),
            gateway,
            mac: ipam::mac_string(&mac),
            aliases: ep.aliases.clone(),
        })
    }

    /// Host veths this session created, deleted again after a failure.
    fn undo(&mut self, veths: &[String]) {
        let _ = self.delete_links(veths);
        // Bridges made for nothing go too (the store on disk still has the old state).
        if let Ok(old) = store::load(self.engine.root()) {
            let idle: Vec<String> = old
                .networks
                .values()
                .filter(|n| !n.bridge.is_empty() && !old.network_active(&n.id))
                .filter(|n| !old.bridges_up.as_ref().is_some_and(|b| b.contains(&n.id)))
                .map(|n| n.bridge.clone())
                .collect();
            let _ = self.delete_links(&idle);
        }
    }
}

/// Fill `name` and `type` of a network event from the store.
fn fill_network_attrs(ev: Event, st: &Store) -> Event {
    match st.networks.get(&ev.actor.id) {
        Some(n) => {
            let name = n.name.clone();
            let driver = n.driver.clone();
            ev.attr("name", name).attr("type", driver)
        }
        None => ev,
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// Host-side veth name: `wv` + 12 hex digits derived from container and network ids.
fn veth_name(cid: &str, net_id: &str) -> String {
    use sha2::Digest;
    let h = sha2::Sha256::digest(format!("{cid}/{net_id}").as_bytes());
    format!("wv{}", &hex::encode(h)[..12])
}

/// Is the recorded container process still the one whose namespace we configured?
fn is_alive(rec: &CtrRecord) -> bool {
    if rec.pid <= 0 {
        return false;
    }
    match rec.netns {
        Some(id) => netlink::open_netns(rec.pid)
            .and_then(|f| netlink::ns_id(&f))
            .map(|n| n == id)
            .unwrap_or(false),
        None => std::path::Path::new(&format!("/proc/{}", rec.pid)).exists(),
    }
}

/// The hosts file of a bridge-mode container: itself on each network, its extra
/// hosts, and the running peers of its user networks by name, aliases and short id.
fn hosts_for(st: &Store, c: &CtrRecord) -> String {
    let extra: Vec<files::HostEntry> = c
        .extra_hosts
        .iter()
        .filter_map(|h| files::parse_extra_host(h).ok())
        .collect();
    let mut own = Vec::new();
    let mut peers = Vec::new();
    for ep in c.endpoints.iter().filter(|e| e.active()) {
        let Some(ip) = ep.ip else { continue };
        own.push(files::entry(ip, vec![c.hostname.clone()]));
        let Some(net) = st.networks.get(&ep.network_id) else {
            continue;
        };
        if !net.is_user() {
            continue;
        }
        for (peer, pep) in st.endpoints_on(&net.id) {
            let (Some(pip), true) = (pep.ip, peer.id != c.id) else {
                continue;
            };
            peers.push(files::entry(pip, names_of(peer, pep)));
        }
    }
    files::render_hosts(&own, &extra, &peers)
}

/// Names a container answers to on a user network: name, aliases, short id.
fn names_of(c: &CtrRecord, ep: &EndpointRecord) -> Vec<String> {
    let mut names = vec![c.name.clone()];
    names.extend(ep.aliases.iter().cloned());
    let short = crate::ids::short(&c.id).to_string();
    if !names.contains(&short) {
        names.push(short);
    }
    names
}

/// Parse the image's `ExposedPorts` keys (`80/tcp`, `53/udp`, `8080`).
fn parse_exposed(s: &str) -> Option<(u16, String)> {
    let (port, proto) = s.split_once('/').unwrap_or((s, "tcp"));
    Some((port.parse().ok()?, proto.to_ascii_lowercase()))
}

/// Do two host IPs of port bindings overlap (empty / 0.0.0.0 means all)?
fn host_ips_overlap(a: &str, b: &str) -> bool {
    let any = |s: &str| s.is_empty() || s == "0.0.0.0";
    any(a) || any(b) || a == b
}

/// Is `port` free on this host for `proto` (nothing listening, no other binding)?
fn port_free(proto: &str, port: u16) -> bool {
    match proto {
        "udp" => std::net::UdpSocket::bind(("0.0.0.0", port)).is_ok(),
        _ => std::net::TcpListener::bind(("0.0.0.0", port)).is_ok(),
    }
}

/// Work out the host side of every published port: explicit ports checked against
/// other containers, `0` replaced by a free ephemeral port.
fn resolve_ports(
    st: &Store,
    cid: &str,
    spec: &ContainerCreate,
    exposed: &[String],
) -> Result<Vec<PortBinding>> {
    let mut wanted: Vec<PortBinding> = Vec::new();
    for p in &spec.ports {
        let proto = if p.proto.is_empty() {
            "tcp".to_string()
        } else {
            p.proto.to_ascii_lowercase()
        };
        if proto != "tcp" && proto != "udp" {
            return Err(EngineError::invalid(format!(
                "published port {}/{}: the protocol must be tcp or udp",
                p.container_port, p.proto
            )));
        }
        if !p.host_ip.is_empty() {
            ipam::parse_ip("-p host address", &p.host_ip)?;
        }
        wanted.push(PortBinding { proto, ..p.clone() });
    }
    if spec.publish_all {
        for e in exposed {
            let Some((port, proto)) = parse_exposed(e) else {
                return Err(EngineError::invalid(format!(
                    "the image exposes {e:?}, which is not PORT[/PROTO]"
                )));
            };
            if !wanted
                .iter()
                .any(|w| w.container_port == port && w.proto == proto)
            {
                wanted.push(PortBinding {
                    host_ip: String::new(),
                    host_port: 0,
                    container_port: port,
                    proto,
                });
            }
        }
    }
    let mut taken: Vec<(String, String, u16, String)> = st
        .containers
        .values()
        .filter(|c| c.running && c.id != cid)
        .flat_map(|c| {
            c.ports.iter().map(move |p| {
                (
                    p.host_ip.clone(),
                    p.proto.clone(),
                    p.host_port,
                    c.name.clone(),
                )
            })
        })
        .collect();
    let mut out = Vec::new();
    for mut p in wanted {
        if p.host_port == 0 {
            let port = (EPHEMERAL.0..=EPHEMERAL.1)
                .find(|port| {
                    !taken
                        .iter()
                        .any(|(_, proto, hp, _)| *proto == p.proto && hp == port)
                        && port_free(&p.proto, *port)
                })
                .ok_or_else(|| {
                    EngineError::conflict(
                        "no free host port is left for -p/-P: stop containers that publish ports",
                    )
                })?;
            p.host_port = port;
        } else if let Some((_, _, _, owner)) = taken.iter().find(|(ip, proto, hp, _)| {
            *proto == p.proto && *hp == p.host_port && host_ips_overlap(ip, &p.host_ip)
        }) {
            let ip = if p.host_ip.is_empty() {
                "0.0.0.0"
            } else {
                &p.host_ip
            };
            return Err(EngineError::conflict(format!(
                "Bind for {ip}:{} failed: port is already allocated (by container {owner}): pick another host port",
                p.host_port
            )));
        }
        taken.push((
            p.host_ip.clone(),
            p.proto.clone(),
            p.host_port,
            String::new(),
        ));
        out.push(p);
    }
    Ok(out)
}

/// The mode `--network` asks for: `bridge` with the network's id, `none` or `host`.
fn resolve_mode(st: &Store, network: Option<&str>) -> Result<(String, Option<String>)> {
    match network.unwrap_or("bridge") {
        "" | "bridge" | "default" => {
            let n = st.builtin("bridge").ok_or_else(|| EngineError::internal("the default bridge network is missing"))?;
            Ok(("bridge".into(), Some(n.id.clone())))
        }
        "none" => Ok(("none".into(), None)),
        "host" => Ok(("host".into(), None)),
        other if other.starts_with("container:") => Err(EngineError::invalid(format!(
            "--network {other}: sharing another container's network is not supported by wharf; use a user network"
        ))),
        other => {
            let n = st.find(other)?;
            match n.driver.as_str() {
                "host" => Ok(("host".into(), None)),
                "null" => Ok(("none".into(), None)),
                _ => Ok(("bridge".into(), Some(n.id.clone()))),
            }
        }
    }
}

/// `--network none`, by its name: a container with loopback only, which the store
/// keeps no record of (it has no endpoint, address or port, and cannot be connected to
/// a network). Its listings and inspect say `none` from its config. A user network of
/// the `null` driver is looked up in the store and recorded as before.
pub fn is_none(network: Option<&str>) -> bool {
    network == Some("none")
}

/// Give a starting container its network: called by the runtime with the pid of the
/// container's init, which already lives in its own network namespace (unless the
/// mode is `host`). Creates bridge, veths, addresses, routes, NAT and port rules as
/// `spec` asks; writes and returns the hosts and resolv.conf content.
pub fn setup(
    engine: &LocalEngine,
    container_id: &str,
    spec: &ContainerCreate,
    pid: i32,
    info: &ContainerNetInfo,
) -> Result<NetworkSetup> {
    files::check_dns(&spec.dns)?;
    let extra: Vec<files::HostEntry> = spec
        .extra_hosts
        .iter()
        .map(|h| files::parse_extra_host(h))
        .collect::<Result<_>>()?;
    let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    if is_none(spec.network.as_deref()) {
        // Loopback only: nothing to set up, nothing the store needs to know (see
        // `is_none`); each start and stop of such a container would otherwise read and
        // rewrite the whole store, which grows with the containers it holds. A root's
        // first start makes the store once (the built-in networks, `none`'s id).
        if !store::path(engine.root()).exists() {
            Session::open(engine)?;
        }
        if !info.by_init {
            // A caller whose process will not bring its loopback up itself.
            configure_in_netns(&netlink::open_netns(pid)?, &[], None)?;
        }
        let hosts = files::render_hosts(&[], &extra, &[]);
        let resolv = files::render_resolv(&host_resolv, &spec.dns, false);
        write_files(engine, container_id, &hosts, &resolv);
        return Ok(NetworkSetup {
            mode: "none".into(),
            endpoints: vec![],
            ports: vec![],
            hosts,
            resolv_conf: resolv,
        });
    }
    let mut s = Session::open(engine)?;
    let (mode, primary) = resolve_mode(&s.st, spec.network.as_deref())?;
    let name = info.name.trim_start_matches('/');
    let hostname = if info.hostname.is_empty() {
        crate::ids::short(container_id)
    } else {
        info.hostname
    };

    // Whatever a previous run left (it should have been torn down) goes first.
    s.release(container_id)?;
    let rec =
        s.st.containers
            .entry(container_id.to_string())
            .or_insert_with(|| CtrRecord {
                id: container_id.to_string(),
                ..Default::default()
            });
    rec.name = name.to_string();
    rec.hostname = hostname.to_string();
    rec.mode = mode.clone();
    rec.dns = spec.dns.clone();
    rec.extra_hosts = spec.extra_hosts.clone();
    rec.pid = pid;

    if mode == "host" {
        rec.running = true;
        rec.endpoints.clear();
        s.commit()?;
        let mut hosts = std::fs::read_to_string("/etc/hosts")
            .unwrap_or_else(|_| "127.0.0.1\tlocalhost\n".into());
        for e in &extra {
            hosts.push_str(&format!("{}\t{}\n", e.ip, e.names.join(" ")));
        }
        let resolv = files::render_resolv(&host_resolv, &spec.dns, true);
        write_files(engine, container_id, &hosts, &resolv);
        return Ok(NetworkSetup {
            mode,
            endpoints: vec![],
            ports: vec![],
            hosts,
            resolv_conf: resolv,
        });
    }

    let netns = netlink::open_netns(pid)?;
    let nsid = netlink::ns_id(&netns)?;
    if nsid == netlink::ns_id(&netlink::own_netns()?)? {
        return Err(EngineError::invalid(format!(
            "container {name} (pid {pid}) shares wharf's own network namespace: refusing to configure the host's network; \
             start it in a new network namespace or with --network host"
        )));
    }
    let rec =
        s.st.containers
            .get_mut(container_id)
            .ok_or_else(|| EngineError::internal("container record vanished"))?;
    rec.netns = Some(nsid);
    rec.running = true;
    let primary_off = rec.primary_off
        && !primary
            .as_ref()
            .is_some_and(|p| rec.endpoints.iter().any(|e| &e.network_id == p));
    if mode == "none" {
        rec.endpoints.clear();
    } else if primary_off {
        // Disconnected from the network it was created on before it ever ran: only
        // the networks connected since.
    } else if let Some(pid_net) = &primary {
        // The primary network first (eth0); networks connected while stopped follow.
        let aliases = if s.st.networks.get(pid_net).is_some_and(|n| n.is_user()) {
            spec.network_aliases.clone()
        } else {
            Vec::new()
        };
        let static_ip = spec
            .ip
            .as_deref()
            .map(|ip| ipam::parse_ip("--ip", ip))
            .transpose()?;
        if static_ip.is_some() && !s.st.networks.get(pid_net).is_some_and(|n| n.is_user()) {
            return Err(EngineError::invalid(
                "--ip works only on user-defined networks: create one with wharf network create and use --network",
            ));
        }
        let rec =
            s.st.containers
                .get_mut(container_id)
                .ok_or_else(|| EngineError::internal("container record vanished"))?;
        let old = rec
            .endpoints
            .iter()
            .position(|e| &e.network_id == pid_net)
            .map(|i| rec.endpoints.remove(i));
        let mut ep = old.unwrap_or_else(|| EndpointRecord {
            network_id: pid_net.clone(),
            endpoint_id: crate::ids::new_id(),
            static_ip: None,
            aliases: Vec::new(),
            ip: None,
            ifname: None,
            host_veth: None,
        });
        ep.static_ip = static_ip.or(ep.static_ip);
        for a in aliases {
            if !ep.aliases.contains(&a) {
                ep.aliases.push(a);
            }
        }
        rec.endpoints.insert(0, ep);
    }

    let n_eps =
        s.st.containers
            .get(container_id)
            .map(|r| r.endpoints.len())
            .unwrap_or(0);
    let mut made = Vec::new();
    let mut endpoints = Vec::new();
    let result: Result<Vec<PortBinding>> = (|| {
        for i in 0..n_eps {
            let e = s.attach(container_id, i, &netns)?;
            made.push(veth_name(container_id, &e.network_id));
            endpoints.push(e);
        }
        // The default route goes through the first network that has a way out.
        let gw_idx = endpoints.iter().position(|e| {
            s.st.networks
                .get(&e.network_id)
                .is_some_and(|n| !n.internal)
        });
        if let Some(e) = gw_idx.and_then(|i| endpoints.get_mut(i)) {
            e.default_route = true;
        }
        if !info.by_init {
            configure_in_netns(&netns, &endpoints, gw_idx)?;
        }
        let ports = match (&primary, endpoints.first()) {
            (Some(_), Some(e))
                if s.st
                    .networks
                    .get(&e.network_id)
                    .is_some_and(|n| !n.internal) =>
            {
                resolve_ports(&s.st, container_id, spec, info.exposed_ports)?
            }
            _ => Vec::new(),
        };
        if let Some(rec) = s.st.containers.get_mut(container_id) {
            rec.ports = ports.clone();
        }
        s.commit()?;
        Ok(ports)
    })();
    let ports = match result {
        Ok(p) => p,
        Err(e) => {
            s.undo(&made);
            return Err(e.context(format!("setting up the network of container {name}")));
        }
    };
    let rec =
        s.st.containers
            .get(container_id)
            .ok_or_else(|| EngineError::internal("container record vanished"))?;
    let hosts = if mode == "none" {
        files::render_hosts(&[], &extra, &[])
    } else {
        hosts_for(&s.st, rec)
    };
    let resolv = files::render_resolv(&host_resolv, &spec.dns, false);
    write_files(engine, container_id, &hosts, &resolv);
    Ok(NetworkSetup {
        mode,
        endpoints,
        ports,
        hosts,
        resolv_conf: resolv,
    })
}

fn write_files(engine: &LocalEngine, cid: &str, hosts: &str, resolv: &str) {
    let dir = engine.root().containers().join(cid);
    if !dir.is_dir() {
        return;
    }
    for (p, c) in [
        (hosts_path(engine, cid), hosts),
        (resolv_path(engine, cid), resolv),
    ] {
        if let Err(e) = files::write_in_place(&p, c) {
            tracing::warn!("could not write {}: {e}", p.display());
        }
    }
}

/// Check a create request's network flags before the container is created: the
/// network exists, `--ip` parses and is used on a user network.
pub fn check_request(engine: &LocalEngine, caller: &Caller, spec: &ContainerCreate) -> Result<()> {
    files::check_dns(&spec.dns)?;
    for h in &spec.extra_hosts {
        files::parse_extra_host(h)?;
    }
    let net = spec.network.as_deref().unwrap_or("bridge");
    let user = match net {
        "" | "bridge" | "default" | "none" | "host" => false,
        other if other.starts_with("container:") => {
            return Err(EngineError::invalid(format!(
                "--network {other}: sharing another container's network is not supported by wharf; use a user network"
            )))
        }
        other => {
            let _l = engine.root().lock_shared("networks")?;
            let st = store::load(engine.root())?;
            let n = st.find(other)?;
            if n.is_user() {
                // Another user's network is theirs: joining it reaches their containers.
                engine.gate().authorize_on(
                    caller,
                    Action::NetworkConnect,
                    &n.name,
                    Some(n.owner),
                )?;
            }
            n.is_user()
        }
    };
    if let Some(ip) = &spec.ip {
        ipam::parse_ip("--ip", ip)?;
        if !user {
            return Err(EngineError::invalid(
                "--ip works only on user-defined networks: create one with wharf network create and use --network",
            ));
        }
    }
    if (net == "host" || net == "none") && (!spec.ports.is_empty() || spec.publish_all) {
        tracing::info!("published ports are ignored with --network {net}");
    }
    Ok(())
}

/// A container stopped: its veths, addresses (free for others again), published
/// ports and NAT rules are released. Networks it was connected to are remembered
/// for its next start. Idempotent.
///
/// A bridge it leaves idle stays up (with its rules) for the engine's grace period,
/// for the next container; returns `true` when nobody is there yet to remove it after
/// that: the caller then starts [`keep_bridges`] in a process of its own.
pub fn teardown(engine: &LocalEngine, container_id: &str) -> Result<bool> {
    // Opening the session may already have released it (its process is gone, or a
    // `--rm` container was renamed away first): releasing is idempotent either way.
    let mut s = Session::open(engine)?;
    s.release(container_id)?;
    s.commit()?;
    Ok(s.needs_reaper())
}

impl Session<'_> {
    /// Bridges are up with no container on them, and no process is waiting to remove
    /// them when their time is up (checked under the store's lock, which the reaper
    /// also holds when it decides to go).
    fn needs_reaper(&self) -> bool {
        let idle = self
            .st
            .bridges_up
            .as_ref()
            .is_some_and(|b| b.iter().any(|id| !self.st.network_active(id)));
        idle && matches!(
            FileLock::try_exclusive(&self.engine.root().run().join(REAPER_LOCK)),
            Ok(Some(_))
        )
    }
}

/// Keep idle bridges up while `wharf serve` runs: hold the returned lock for as long.
pub fn hold_bridges(engine: &LocalEngine) -> Result<FileLock> {
    FileLock::shared(&engine.root().run().join(KEEPER_LOCK))
}

/// The reaper of idle bridges (`wharf __bridge-keeper`, started by a monitor whose
/// container left a bridge idle): waits out the grace period (moved on by each
/// container that leaves since) and any `wharf serve`, then removes the bridges and
/// rules nothing uses. One at a time; if it is killed, the next network change of any
/// wharf process removes what is past its time.
pub fn keep_bridges(engine: &LocalEngine) -> Result<()> {
    let run = engine.root().run();
    let Some(_me) = FileLock::try_exclusive(&run.join(REAPER_LOCK))? else {
        return Ok(());
    };
    loop {
        let until = store::load(engine.root())?.keep_until;
        let left = until - now_ns();
        if left > 0 {
            std::thread::sleep(std::time::Duration::from_nanos(left as u64));
            continue;
        }
        // While a `wharf serve` holds the keeper lock (shared), this waits.
        let _k = FileLock::exclusive(&run.join(KEEPER_LOCK))?;
        if !engine.root().path().join("networks").is_dir() {
            return Ok(());
        }
        let mut s = Session::open(engine)?;
        s.keeper = true;
        if s.st.keep_until > now_ns() {
            continue;
        }
        s.commit()?;
        // Our lock on REAPER_LOCK goes with `_me` while the store's lock is still held
        // (dropped after, in reverse order of declaration): a container leaving a
        // bridge idle now either ran before this (and moved keep_until: seen above)
        // or finds no reaper and starts one.
        drop(_k);
        drop(_me);
        drop(s);
        return Ok(());
    }
}

/// A container was removed: [`teardown`] and forget its networks.
pub fn forget(engine: &LocalEngine, container_id: &str) -> Result<()> {
    let mut s = Session::open(engine)?;
    s.release(container_id)?;
    if s.st.containers.remove(container_id).is_some() {
        s.commit()?;
    }
    Ok(())
}

/// Names of the networks a container is attached to (running) or configured for.
pub fn container_networks(engine: &LocalEngine, container_id: &str) -> Result<Vec<String>> {
    Ok(view(engine)?.networks(container_id))
}

/// The published ports of a running container with the host ports chosen (empty
/// when it does not run).
pub fn published_ports(engine: &LocalEngine, container_id: &str) -> Result<Vec<PortBinding>> {
    Ok(view(engine)?.ports(container_id))
}

/// Every container's networks and published ports from one read of the store, for
/// listings (the store holds all containers, so reading it per container is quadratic).
pub struct NetView {
    st: store::Store,
}

/// Read the store once for [`NetView`]'s questions.
pub fn view(engine: &LocalEngine) -> Result<NetView> {
    let _l = engine.root().lock_shared("networks")?;
    Ok(NetView {
        st: store::load(engine.root())?,
    })
}

/// [`view`] without the store's lock, for listings: the store is replaced by a rename,
/// so a reader sees the old or the new one whole, and never waits behind a start.
pub fn view_unlocked(engine: &LocalEngine) -> Result<NetView> {
    Ok(NetView {
        st: store::load(engine.root())?,
    })
}

impl NetView {
    /// Names of the networks a container is attached to (running) or configured for.
    pub fn networks(&self, container_id: &str) -> Vec<String> {
        let Some(c) = self.st.containers.get(container_id) else {
            return Vec::new();
        };
        if c.mode == "host" || c.mode == "none" {
            return vec![c.mode.clone()];
        }
        c.endpoints
            .iter()
            .filter_map(|e| self.st.networks.get(&e.network_id).map(|n| n.name.clone()))
            .collect()
    }

    /// The networks of a container with their addresses (empty ones while it does not
    /// run), as listings show them; `mode` is its `--network` (`bridge` when `None`),
    /// used for a container the store has no record of (never started).
    pub fn endpoints(
        &self,
        container_id: &str,
        mode: Option<&str>,
    ) -> Vec<crate::api::EndpointSummary> {
        use crate::api::EndpointSummary;
        let Some(c) = self.st.containers.get(container_id) else {
            let want = match mode.unwrap_or("bridge") {
                "" | "default" => "bridge",
                m => m,
            };
            let net = self.st.builtin(want).or_else(|| self.st.find(want).ok());
            return vec![EndpointSummary {
                network: net
                    .map(|n| n.name.clone())
                    .unwrap_or_else(|| want.to_string()),
                network_id: net.map(|n| n.id.clone()).unwrap_or_default(),
                ..Default::default()
            }];
        };
        if c.mode == "host" || c.mode == "none" {
            return vec![EndpointSummary {
                network: c.mode.clone(),
                network_id: self
                    .st
                    .builtin(&c.mode)
                    .map(|n| n.id.clone())
                    .unwrap_or_default(),
                ..Default::default()
            }];
        }
        c.endpoints
            .iter()
            .filter_map(|ep| {
                let n = self.st.networks.get(&ep.network_id)?;
                let active = ep.active();
                Some(EndpointSummary {
                    network: n.name.clone(),
                    network_id: n.id.clone(),
                    endpoint_id: if active {
                        ep.endpoint_id.clone()
                    } else {
                        String::new()
                    },
                    ip: ep.ip.map(|i| i.to_string()).unwrap_or_default(),
                    prefix_len: if active {
                        n.subnet.map(|s| s.prefix_len()).unwrap_or(0)
                    } else {
                        0
                    },
                    gateway: match (active, n.gateway) {
                        (true, Some(g)) => g.to_string(),
                        _ => String::new(),
                    },
                    mac: ep
                        .ip
                        .map(|ip| ipam::mac_string(&ipam::mac_for(ip)))
                        .unwrap_or_default(),
                    aliases: ep.aliases.clone(),
                })
            })
            .collect()
    }

    /// The published ports of a running container (empty when it does not run).
    pub fn ports(&self, container_id: &str) -> Vec<PortBinding> {
        self.st
            .containers
            .get(container_id)
            .filter(|c| c.running)
            .map(|c| c.ports.clone())
            .unwrap_or_default()
    }
}

/// Docker's `NetworkSettings` of a container (for `inspect`): `Networks` by name with
/// addresses, and `Ports` as `{"80/tcp": [{"HostIp", "HostPort"}]}`.
pub fn network_settings(
    engine: &LocalEngine,
    container_id: &str,
    network: Option<&str>,
) -> Result<serde_json::Value> {
    let _l = engine.root().lock_shared("networks")?;
    let st = store::load(engine.root())?;
    let mut networks = serde_json::Map::new();
    if is_none(network) && !st.containers.contains_key(container_id) {
        networks.insert(
            "none".into(),
            serde_json::json!({
                "NetworkID": st.builtin("none").map(|n| n.id.clone()).unwrap_or_default(),
                "IPAddress": "",
            }),
        );
    }
    let mut ports = serde_json::Map::new();
    let mut primary = serde_json::json!({});
    if let Some(c) = st.containers.get(container_id) {
        for (i, ep) in c.endpoints.iter().enumerate() {
            let Some(n) = st.networks.get(&ep.network_id) else {
                continue;
            };
            let ip = ep.ip.map(|i| i.to_string()).unwrap_or_default();
            let v = serde_json::json!({
                "Aliases": ep.aliases,
                "NetworkID": n.id,
                "EndpointID": if ep.active() { ep.endpoint_id.clone() } else { String::new() },
                "Gateway": if ep.active() { n.gateway.map(|g| g.to_string()).unwrap_or_default() } else { String::new() },
                "IPAddress": ip,
                "IPPrefixLen": if ep.active() { n.subnet.map(|s| s.prefix_len()).unwrap_or(0) } else { 0 },
                "MacAddress": ep.ip.map(|ip| ipam::mac_string(&ipam::mac_for(ip))).unwrap_or_default(),
            });
            if i == 0 {
                primary = v.clone();
            }
            networks.insert(n.name.clone(), v);
        }
        if c.mode == "host" || c.mode == "none" {
            let id = st
                .builtin(&c.mode)
                .map(|n| n.id.clone())
                .unwrap_or_default();
            networks.insert(
                c.mode.clone(),
                serde_json::json!({"NetworkID": id, "IPAddress": ""}),
            );
        }
        for p in &c.ports {
            let key = format!("{}/{}", p.container_port, p.proto);
            let ip = if p.host_ip.is_empty() {
                "0.0.0.0".to_string()
            } else {
                p.host_ip.clone()
            };
            let entry = ports.entry(key).or_insert_with(|| serde_json::json!([]));
            if let Some(a) = entry.as_array_mut() {
                a.push(serde_json::json!({"HostIp": ip, "HostPort": p.host_port.to_string()}));
            }
        }
    }
    Ok(serde_json::json!({
        "Networks": networks,
        "Ports": ports,
        // Empty strings off a bridge (`--network none`, host), as Docker has them.
        "IPAddress": primary.get("IPAddress").cloned().unwrap_or_else(|| "".into()),
        "Gateway": primary.get("Gateway").cloned().unwrap_or_else(|| "".into()),
        "MacAddress": primary.get("MacAddress").cloned().unwrap_or_else(|| "".into()),
    }))
}
