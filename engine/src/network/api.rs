//! [`NetworkApi`] for the in-process engine.

use std::collections::BTreeMap;

use crate::api::{
    ConfigFrom, Ipam, IpamConfig, NetworkApi, NetworkConnect, NetworkContainer, NetworkCreate,
    NetworkInfo, NetworkListOptions, PortBinding, PruneReport,
};
use crate::caller::Caller;
use crate::error::{EngineError, Result};
use crate::events::{Event, EventType};
use crate::local::LocalEngine;
use crate::policy::Action;

use super::store::{EndpointRecord, NetRecord, Store};
use super::{ipam, netlink, store, Session};

/// Docker's rule for network names.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// A network in Docker's inspect shape, with its running containers.
fn info_of(st: &Store, n: &NetRecord) -> NetworkInfo {
    let mut containers = BTreeMap::new();
    for (c, ep) in st.endpoints_on(&n.id) {
        let (Some(ip), Some(subnet)) = (ep.ip, n.subnet) else {
            continue;
        };
        containers.insert(
            c.id.clone(),
            NetworkContainer {
                name: c.name.clone(),
                endpoint_id: ep.endpoint_id.clone(),
                mac_address: ipam::mac_string(&ipam::mac_for(ip)),
                ipv4_address: format!("{ip}/{}", subnet.prefix_len()),
                ipv6_address: String::new(),
                aliases: super::names_of(c, ep),
            },
        );
    }
    let mut options = BTreeMap::new();
    if !n.bridge.is_empty() {
        options.insert(
            "com.docker.network.bridge.name".to_string(),
            n.bridge.clone(),
        );
        if n.name == "bridge" {
            options.insert(
                "com.docker.network.bridge.default_bridge".into(),
                "true".into(),
            );
        }
    }
    let config = match (n.subnet, n.gateway) {
        (Some(s), Some(g)) => vec![IpamConfig {
            subnet: s.to_string(),
            gateway: g.to_string(),
            ip_range: n.ip_range.map(|r| r.to_string()).unwrap_or_default(),
        }],
        _ => vec![],
    };
    NetworkInfo {
        name: n.name.clone(),
        id: n.id.clone(),
        created: n.created.clone(),
        scope: "local".into(),
        driver: n.driver.clone(),
        enable_ipv6: false,
        ipam: Ipam {
            driver: "default".into(),
            options: BTreeMap::new(),
            config,
        },
        internal: n.internal,
        attachable: false,
        ingress: false,
        config_from: ConfigFrom::default(),
        config_only: false,
        containers,
        options,
        labels: n.labels.clone(),
        owner: n.owner,
    }
}

/// The `network ls` filter keys.
const FILTER_KEYS: [&str; 7] = ["driver", "id", "label", "name", "scope", "type", "dangling"];

/// Does `n` pass the `network ls` filters ([`crate::filters::matches`])?
fn matches(st: &Store, n: &NetRecord, filters: &[(String, String)]) -> Result<bool> {
    use crate::filters::{bool_value, id_holds, label_holds, name_holds};
    crate::filters::matches(filters, |key, v| {
        Ok(match key {
            "driver" => n.driver == v,
            "id" => id_holds(&n.id, v),
            "name" => name_holds(&n.name, v),
            "scope" => v == "local",
            "type" => match v {
                "custom" => n.is_user(),
                "builtin" => !n.is_user(),
                _ => {
                    return Err(EngineError::invalid(format!(
                        "invalid filter type={v}: use custom or builtin"
                    )))
                }
            },
            "label" => label_holds(&n.labels, v),
            "dangling" => {
                let dangling = n.is_user() && st.endpoints_on(&n.id).next().is_none();
                bool_value(key, v)? == dangling
            }
            _ => false,
        })
    })
}

/// The runtime's name of container `id`, from `containers/<id>/config.json` if it says.
fn runtime_name(engine: &LocalEngine, id: &str) -> Option<String> {
    let cfg: serde_json::Value =
        crate::state::read_json(&engine.root().containers().join(id).join("config.json"))
            .ok()
            .flatten()?;
    ["Name", "name"]
        .iter()
        .find_map(|k| cfg.get(*k).and_then(|v| v.as_str()))
        .map(|s| s.trim_start_matches('/').to_string())
}

/// Find a container by name, full id or id prefix: among the containers the network
/// store knows, then the runtime's `containers/` directory.
fn resolve_container(engine: &LocalEngine, st: &Store, key: &str) -> Result<(String, String)> {
    let key = key.trim_start_matches('/');
    if let Some(c) = st
        .containers
        .values()
        .find(|c| c.id == key || c.name == key)
    {
        return Ok((c.id.clone(), c.name.clone()));
    }
    let dir = engine.root().containers();
    let ids: Vec<String> = std::fs::read_dir(&dir)
        .map_err(|e| EngineError::io(format!("listing {}", dir.display()), e))?
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    for id in &ids {
        if runtime_name(engine, id).as_deref() == Some(key) {
            return Ok((id.clone(), key.to_string()));
        }
    }
    if let Some(id) = crate::ids::resolve_prefix("container", key, ids.iter().map(String::as_str))?
    {
        let name = runtime_name(engine, &id).unwrap_or_else(|| crate::ids::short(&id).to_string());
        return Ok((id, name));
    }
    Err(EngineError::not_found(
        "container",
        key,
        "list containers with wharf ps -a",
    ))
}

impl LocalEngine {
    fn remove_network(&self, s: &mut Session, n: &NetRecord) -> Result<()> {
        if !n.is_user() {
            return Err(EngineError::denied(format!(
                "{} is a pre-defined network and cannot be removed",
                n.name
            )));
        }
        let users: Vec<String> =
            s.st.endpoints_on(&n.id)
                .map(|(c, _)| c.name.clone())
                .collect();
        if !users.is_empty() {
            return Err(EngineError::conflict(format!(
                "network {} is in use by container(s) {}: disconnect them first (wharf network disconnect {} CONTAINER) or remove them",
                n.name,
                users.join(", "),
                n.name
            )));
        }
        s.delete_links(std::slice::from_ref(&n.bridge))?;
        if let Some(b) = s.st.bridges_up.as_mut() {
            b.remove(&n.id);
        }
        s.st.networks.remove(&n.id);
        s.commit()?;
        self.emit(
            Event::new(EventType::Network, "destroy", n.id.clone())
                .attr("name", n.name.clone())
                .attr("type", n.driver.clone()),
        );
        Ok(())
    }
}

impl NetworkApi for LocalEngine {
    fn network_create(&self, caller: &Caller, spec: &NetworkCreate) -> Result<String> {
        self.gate()
            .authorize_on(caller, Action::NetworkCreate, &spec.name, None)?;
        if !valid_name(&spec.name) {
            return Err(EngineError::invalid(format!(
                "network name {:?} is invalid: use letters, digits, '_', '.' and '-', starting with a letter or digit",
                spec.name
            )));
        }
        let driver = spec.driver.as_deref().unwrap_or("bridge");
        if driver != "bridge" {
            return Err(EngineError::invalid(format!(
                "network driver {driver:?} is not supported: wharf creates bridge networks only"
            )));
        }
        let mut s = Session::open(self)?;
        if s.st.networks.values().any(|n| n.name == spec.name) {
            return Err(EngineError::conflict(format!(
                "network with name {} already exists: pick another name or remove it with wharf network rm {}",
                spec.name, spec.name
            )));
        }
        let subnet = match &spec.subnet {
            Some(sub) => {
                let sub = ipam::parse_cidr("--subnet", sub)?;
                if let Some(other) =
                    s.st.networks
                        .values()
                        .find(|n| n.subnet.is_some_and(|o| ipam::overlaps(&o, &sub)))
                {
                    return Err(EngineError::conflict(format!(
                        "subnet {sub} overlaps network {} ({}): pick another --subnet",
                        other.name,
                        other.subnet.map(|o| o.to_string()).unwrap_or_default()
                    )));
                }
                sub
            }
            None => {
                let mut taken = s.nl()?.route_prefixes()?;
                taken.extend(s.st.subnets());
                ipam::choose_subnet(&taken)?
            }
        };
        let gateway = match &spec.gateway {
            Some(g) => {
                let g = ipam::parse_ip("--gateway", g)?;
                if !subnet.contains(&g) || g == subnet.network() || g == subnet.broadcast() {
                    return Err(EngineError::invalid(format!(
                        "--gateway {g} is not a usable address of subnet {subnet}"
                    )));
                }
                g
            }
            None => ipam::default_gateway(&subnet),
        };
        let ip_range = match &spec.ip_range {
            Some(r) => {
                let r = ipam::parse_cidr("--ip-range", r)?;
                if !subnet.contains(&r) {
                    return Err(EngineError::invalid(format!(
                        "--ip-range {r} is not inside subnet {subnet}"
                    )));
                }
                Some(r)
            }
            None => None,
        };
        if (spec.gateway.is_some() || spec.ip_range.is_some()) && spec.subnet.is_none() {
            return Err(EngineError::invalid(
                "--gateway and --ip-range need --subnet",
            ));
        }
        let id = crate::ids::new_id();
        let rec = NetRecord {
            id: id.clone(),
            name: spec.name.clone(),
            driver: "bridge".into(),
            created: super::now(),
            subnet: Some(subnet),
            gateway: Some(gateway),
            ip_range,
            internal: spec.internal,
            labels: spec.labels.clone(),
            bridge: format!("wh-{}", &id[..12]),
            owner: self.gate().caller(caller).uid,
        };
        crate::trace_step!(
            "allocated subnet {subnet} (gateway {gateway}) for bridge {}, made when a container first attaches",
            rec.bridge
        );
        s.st.networks.insert(id.clone(), rec);
        s.commit()?;
        self.emit(
            Event::new(EventType::Network, "create", id.clone())
                .attr("name", spec.name.clone())
                .attr("type", "bridge")
                .owned_by(self.gate().caller(caller).uid),
        );
        Ok(id)
    }

    fn network_list(&self, caller: &Caller, opts: &NetworkListOptions) -> Result<Vec<NetworkInfo>> {
        self.gate().authorize(caller, Action::NetworkList)?;
        crate::filters::check_keys(&opts.filters, &FILTER_KEYS, |key| {
            format!(
                "invalid filter key {key:?}: use driver, id, label, name, scope, type or dangling"
            )
        })?;
        let s = Session::open(self)?;
        let mut out = Vec::new();
        for n in s.st.networks.values() {
            let visible = !n.is_user() || self.gate().can_see(caller, n.owner);
            if visible && matches(&s.st, n, &opts.filters)? {
                out.push(info_of(&s.st, n));
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn network_inspect(&self, caller: &Caller, network: &str) -> Result<NetworkInfo> {
        let s = Session::open(self)?;
        let n = s.st.find(network)?;
        self.gate().authorize_on(
            caller,
            Action::NetworkInspect,
            &n.name,
            n.is_user().then_some(n.owner),
        )?;
        Ok(info_of(&s.st, n))
    }

    fn network_remove(&self, caller: &Caller, network: &str) -> Result<()> {
        let mut s = Session::open(self)?;
        let n = s.st.find(network)?.clone();
        self.gate()
            .authorize_on(caller, Action::NetworkRemove, &n.name, Some(n.owner))?;
        self.remove_network(&mut s, &n)
    }

    fn network_prune(&self, caller: &Caller) -> Result<PruneReport> {
        self.gate().authorize(caller, Action::NetworkPrune)?;
        let mut s = Session::open(self)?;
        let unused: Vec<NetRecord> =
            s.st.networks
                .values()
                .filter(|n| n.is_user() && s.st.endpoints_on(&n.id).next().is_none())
                .cloned()
                .collect();
        let role = self.gate().role(caller);
        let mut report = PruneReport::default();
        for n in unused {
            if !self
                .gate()
                .permits(caller, &role, Action::NetworkRemove, n.owner)
                || self
                    .gate()
                    .authorize_on(caller, Action::NetworkRemove, &n.name, Some(n.owner))
                    .is_err()
            {
                continue;
            }
            self.remove_network(&mut s, &n)?;
            report.deleted.push(n.name.clone());
        }
        Ok(report)
    }

    fn network_connect(
        &self,
        caller: &Caller,
        network: &str,
        container: &str,
        opts: &NetworkConnect,
    ) -> Result<()> {
        let mut s = Session::open(self)?;
        let n = s.st.find(network)?.clone();

        if n.driver != "bridge" {
            return Err(EngineError::invalid(format!(
                "containers cannot be connected to network {}: only bridge networks take connections",
                n.name
            )));
        }
        let (cid, cname) = resolve_container(self, &s.st, container)?;
        let cfg = crate::runtime::load_config(self, &cid).ok();
        let container_owner = cfg.as_ref().map(|c| c.owner);
        // A container the store has no record of (never started, or `--network none`,
        // which is never recorded) has the mode it was created with.
        let created_mode = cfg
            .as_ref()
            .and_then(|c| super::resolve_mode(&s.st, c.spec.network.as_deref()).ok())
            .map(|(mode, _)| mode)
            .unwrap_or_else(|| "bridge".into());
        self.gate().authorize_link(
            caller,
            Action::NetworkConnect,
            (
                &format!("network {}", n.name),
                n.is_user().then_some(n.owner),
            ),
            (
                &format!("container {cname}"),
                Some(container_owner.unwrap_or(0)),
            ),
        )?;
        let static_ip = opts
            .ip
            .as_deref()
            .map(|ip| ipam::parse_ip("--ip", ip))
            .transpose()?;
        if static_ip.is_some() && !n.is_user() {
            return Err(EngineError::invalid(
                "--ip works only on user-defined networks",
            ));
        }
        let rec =
            s.st.containers
                .entry(cid.clone())
                .or_insert_with(|| store::CtrRecord {
                    id: cid.clone(),
                    name: cname.clone(),
                    hostname: crate::ids::short(&cid).to_string(),
                    mode: created_mode,
                    ..Default::default()
                });
        if rec.mode == "host" || rec.mode == "none" {
            return Err(EngineError::conflict(format!(
                "container {} uses --network {}: it cannot be connected to other networks",
                rec.name, rec.mode
            )));
        }
        if rec.endpoints.iter().any(|e| e.network_id == n.id) {
            return Err(EngineError::conflict(format!(
                "container {} is already connected to network {}",
                rec.name, n.name
            )));
        }
        if let (Some(ip), Some(subnet), Some(gw)) = (static_ip, n.subnet, n.gateway) {
            ipam::check_static(&n.name, &subnet, gw, ip, &s.st.used_ips(&n.id))?;
        }
        let rec =
            s.st.containers
                .get_mut(&cid)
                .ok_or_else(|| EngineError::internal("container record vanished"))?;
        rec.endpoints.push(EndpointRecord {
            network_id: n.id.clone(),
            endpoint_id: crate::ids::new_id(),
            static_ip,
            aliases: if n.is_user() {
                opts.aliases.clone()
            } else {
                Vec::new()
            },
            ip: None,
            ifname: None,
            host_veth: None,
        });
        let idx = rec.endpoints.len() - 1;
        if !rec.running {
            // Remembered: applied at the next start.
            s.commit()?;
            self.emit(
                Event::new(EventType::Network, "connect", n.id.clone())
                    .attr("container", cid)
                    .attr("name", n.name.clone())
                    .attr("type", n.driver.clone()),
            );
            return Ok(());
        }
        let pid = rec.pid;
        let netns = netlink::open_netns(pid)?;
        let res: Result<()> = (|| {
            let e = s.attach(&cid, idx, &netns)?;
            super::configure_in_netns(&netns, &[e], None)?;
            s.commit()
        })();
        if let Err(e) = res {
            s.undo(&[super::veth_name(&cid, &n.id)]);
            return Err(e.context(format!(
                "connecting container {cname} to network {}",
                n.name
            )));
        }
        Ok(())
    }

    fn network_disconnect(&self, caller: &Caller, network: &str, container: &str) -> Result<()> {
        let mut s = Session::open(self)?;
        let n = s.st.find(network)?.clone();

        let (cid, cname) = resolve_container(self, &s.st, container)?;
        let container_owner = crate::runtime::load_config(self, &cid)
            .ok()
            .map(|c| c.owner);
        self.gate().authorize_link(
            caller,
            Action::NetworkDisconnect,
            (
                &format!("network {}", n.name),
                n.is_user().then_some(n.owner),
            ),
            (
                &format!("container {cname}"),
                Some(container_owner.unwrap_or(0)),
            ),
        )?;
        let rec = s.st.containers.get_mut(&cid);
        let Some(pos) = rec
            .as_ref()
            .and_then(|r| r.endpoints.iter().position(|e| e.network_id == n.id))
        else {
            // A container that has not run yet is on the network it was created on
            // without a record here: disconnecting it from that one is remembered
            // for its start.
            let never_ran = rec.as_ref().is_none_or(|r| !r.running);
            let created_on = crate::runtime::load_config(self, &cid)
                .ok()
                .and_then(|c| c.spec.network)
                .unwrap_or_else(|| "bridge".into());
            let is_primary = matches!(s.st.find(&created_on), Ok(p) if p.id == n.id);
            if !(never_ran && is_primary && n.driver == "bridge") {
                return Err(EngineError::conflict(format!(
                    "container {cname} is not connected to network {}",
                    n.name
                )));
            }
            let rec =
                s.st.containers
                    .entry(cid.clone())
                    .or_insert_with(|| store::CtrRecord {
                        id: cid.clone(),
                        name: cname.clone(),
                        hostname: crate::ids::short(&cid).to_string(),
                        mode: "bridge".into(),
                        ..Default::default()
                    });
            if rec.primary_off {
                return Err(EngineError::conflict(format!(
                    "container {cname} is not connected to network {}",
                    n.name
                )));
            }
            rec.primary_off = true;
            s.commit()?;
            self.emit(
                Event::new(EventType::Network, "disconnect", n.id.clone())
                    .attr("container", cid)
                    .attr("name", n.name.clone())
                    .attr("type", n.driver.clone()),
            );
            return Ok(());
        };
        let rec = rec.ok_or_else(|| EngineError::internal("container record vanished"))?;
        let ep = rec.endpoints.remove(pos);
        if pos == 0 {
            // Ports were published on this network's address.
            rec.ports.clear();
        }
        if let Some(v) = ep.host_veth.clone() {
            s.delete_links(&[v])?;
        }
        s.commit()?;
        self.emit(
            Event::new(EventType::Network, "disconnect", n.id.clone())
                .attr("container", cid)
                .attr("name", n.name.clone())
                .attr("type", n.driver.clone()),
        );
        Ok(())
    }

    fn container_ports(&self, caller: &Caller, container: &str) -> Result<Vec<PortBinding>> {
        self.gate()
            .authorize_on(caller, Action::ContainerInspect, container, None)?;
        let s = Session::open(self)?;
        let (cid, _) = resolve_container(self, &s.st, container)?;
        Ok(s.st
            .containers
            .get(&cid)
            .filter(|c| c.running)
            .map(|c| c.ports.clone())
            .unwrap_or_default())
    }
}
