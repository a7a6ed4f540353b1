//! The network store: `networks/state.json`, every network and every container's
//! attachments (and thus every allocated address), read and written whole under the
//! `networks` lock so several wharf processes allocate without clashing.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

use crate::api::PortBinding;
use crate::error::{EngineError, Result};
use crate::state::{atomic_write_json, read_json, FileLock, StateRoot};

/// Name of the Linux bridge behind the default `bridge` network.
pub const DEFAULT_BRIDGE: &str = "wharf0";

/// A network as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NetRecord {
    pub id: String,
    pub name: String,
    /// `bridge`, `host` or `null`.
    pub driver: String,
    /// RFC 3339.
    pub created: String,
    pub subnet: Option<Ipv4Net>,
    pub gateway: Option<Ipv4Addr>,
    pub ip_range: Option<Ipv4Net>,
    pub internal: bool,
    pub labels: BTreeMap<String, String>,
    /// The Linux bridge (empty for host/none).
    pub bridge: String,
    pub owner: u32,
}

impl NetRecord {
    /// A user network (not `bridge`, `host` or `none`)?
    pub fn is_user(&self) -> bool {
        !matches!(self.name.as_str(), "bridge" | "host" | "none")
    }
}

/// One container's attachment to one network.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EndpointRecord {
    pub network_id: String,
    pub endpoint_id: String,
    /// `--ip`: the address asked for, kept across restarts.
    pub static_ip: Option<Ipv4Addr>,
    /// `--network-alias` / `connect --alias`.
    pub aliases: Vec<String>,
    /// While running: the address, the interface in the container and the host veth.
    pub ip: Option<Ipv4Addr>,
    pub ifname: Option<String>,
    pub host_veth: Option<String>,
}

impl EndpointRecord {
    /// Is it set up (running)?
    pub fn active(&self) -> bool {
        self.ip.is_some()
    }
}

/// A container as the network part knows it.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct CtrRecord {
    pub id: String,
    pub name: String,
    pub hostname: String,
    /// `bridge` (the default network or user networks), `none` or `host`.
    pub mode: String,
    /// Pid of the container's init and the identity of its network namespace while running.
    pub pid: i32,
    pub netns: Option<(u64, u64)>,
    pub running: bool,
    pub dns: Vec<String>,
    pub extra_hosts: Vec<String>,
    /// Published ports with the host ports chosen (while running).
    pub ports: Vec<PortBinding>,
    /// In interface order: the first is eth0.
    pub endpoints: Vec<EndpointRecord>,
    /// The network the container was created on was disconnected before it ever ran
    /// (what docker-compose 1.29 does before connecting it again with its aliases): the
    /// next start attaches only the endpoints recorded here.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub primary_off: bool,
}

/// Everything in `networks/state.json`.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Store {
    pub networks: BTreeMap<String, NetRecord>,
    pub containers: BTreeMap<String, CtrRecord>,
    /// Networks whose Linux bridge wharf made and has not deleted yet (`None` in a
    /// store written by an older wharf: unknown, every bridge is looked at once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridges_up: Option<BTreeSet<String>>,
    /// Idle bridges (and their rules) are kept until then, nanoseconds since the
    /// epoch: the grace period after the last container left, for the next one.
    #[serde(default)]
    pub keep_until: i64,
}

pub(crate) fn path(root: &StateRoot) -> std::path::PathBuf {
    root.networks().join("state.json")
}

/// Take the store's lock; hold it for the whole read-change-write.
pub fn lock(root: &StateRoot) -> Result<FileLock> {
    root.lock("networks")
}

/// Read the store (empty when new).
pub fn load(root: &StateRoot) -> Result<Store> {
    Ok(read_json(&path(root))?.unwrap_or_default())
}

/// Write the store atomically. With `durable` it is synced to disk (networks were
/// created or removed: that must survive a crash); without, it is only renamed into
/// place (never torn): what containers hold is re-derived after a crash anyway, since
/// no container survives one and [`Store`] records of dead ones are released.
pub fn save(root: &StateRoot, st: &Store, durable: bool) -> Result<()> {
    if durable {
        return atomic_write_json(&path(root), st);
    }
    let p = path(root);
    let data = serde_json::to_vec_pretty(st)
        .map_err(|e| EngineError::internal(format!("serializing {}: {e}", p.display())))?;
    let tmp = p.with_file_name(format!(".state.json.tmp-{}", &crate::ids::new_id()[..12]));
    let res = std::fs::write(&tmp, &data)
        .and_then(|()| std::fs::rename(&tmp, &p))
        .map_err(|e| EngineError::io(format!("writing {}", p.display()), e));
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}

impl Store {
    /// The network named or id-prefixed by `key`.
    pub fn find(&self, key: &str) -> Result<&NetRecord> {
        if let Some(n) = self
            .networks
            .values()
            .find(|n| n.name == key || n.id == key)
        {
            return Ok(n);
        }
        let id =
            crate::ids::resolve_prefix("network", key, self.networks.keys().map(String::as_str))?;
        id.and_then(|id| self.networks.get(&id)).ok_or_else(|| {
            EngineError::not_found(
                "network",
                key,
                "list networks with wharf network ls or create it with wharf network create",
            )
        })
    }

    /// The record of a predefined network by name.
    pub fn builtin(&self, name: &str) -> Option<&NetRecord> {
        self.networks
            .values()
            .find(|n| n.name == name && !n.is_user())
    }

    /// Addresses in use on network `net_id`, by any running container.
    pub fn used_ips(&self, net_id: &str) -> BTreeSet<Ipv4Addr> {
        self.endpoints_on(net_id)
            .filter_map(|(_, e)| e.ip)
            .collect()
    }

    /// `(container, endpoint)` pairs on network `net_id` (active or not).
    pub fn endpoints_on<'a>(
        &'a self,
        net_id: &'a str,
    ) -> impl Iterator<Item = (&'a CtrRecord, &'a EndpointRecord)> + 'a {
        self.containers.values().flat_map(move |c| {
            c.endpoints
                .iter()
                .filter(move |e| e.network_id == net_id)
                .map(move |e| (c, e))
        })
    }

    /// Does any running container use network `net_id`?
    pub fn network_active(&self, net_id: &str) -> bool {
        self.endpoints_on(net_id).any(|(_, e)| e.active())
    }

    /// Subnets of all bridge networks.
    pub fn subnets(&self) -> Vec<Ipv4Net> {
        self.networks.values().filter_map(|n| n.subnet).collect()
    }
}
