//! Network calls: user-defined bridge networks, connect/disconnect, published ports.
//!
//! Types serialize in Docker's shape (`docker network inspect`), so `--format json`
//! and scripts written for Docker read them unchanged.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::caller::Caller;
use crate::error::Result;

use super::{PortBinding, PruneReport};

/// `wharf network create`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkCreate {
    pub name: String,
    /// `--driver`; only `bridge` (the default) can be created.
    pub driver: Option<String>,
    /// `--subnet`, CIDR; chosen from the free private ranges when `None`.
    pub subnet: Option<String>,
    /// `--gateway`; the subnet's first address when `None`.
    pub gateway: Option<String>,
    /// `--ip-range`: containers get addresses from this CIDR inside the subnet.
    pub ip_range: Option<String>,
    /// `--internal`: no route out, no NAT, no published ports.
    pub internal: bool,
    /// `--label k=v`
    pub labels: BTreeMap<String, String>,
}

/// One IPAM pool of a network.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpamConfig {
    #[serde(rename = "Subnet")]
    pub subnet: String,
    #[serde(rename = "Gateway")]
    pub gateway: String,
    #[serde(rename = "IPRange", default, skip_serializing_if = "String::is_empty")]
    pub ip_range: String,
}

/// `IPAM` of `network inspect`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ipam {
    #[serde(rename = "Driver")]
    pub driver: String,
    #[serde(rename = "Options")]
    pub options: BTreeMap<String, String>,
    #[serde(rename = "Config")]
    pub config: Vec<IpamConfig>,
}

/// A running container attached to a network, as `network inspect` lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkContainer {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    #[serde(rename = "MacAddress")]
    pub mac_address: String,
    /// `172.18.0.2/16`
    #[serde(rename = "IPv4Address")]
    pub ipv4_address: String,
    #[serde(rename = "IPv6Address")]
    pub ipv6_address: String,
    /// Names this container answers to on the network (its name, short id, aliases).
    #[serde(rename = "Aliases", default)]
    pub aliases: Vec<String>,
}

/// `ConfigFrom` of `network inspect`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigFrom {
    #[serde(rename = "Network")]
    pub network: String,
}

/// A network, in the shape of `docker network inspect` (also the rows of `network ls`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkInfo {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Id")]
    pub id: String,
    /// RFC 3339.
    #[serde(rename = "Created")]
    pub created: String,
    #[serde(rename = "Scope")]
    pub scope: String,
    /// `bridge`, `host` or `null`.
    #[serde(rename = "Driver")]
    pub driver: String,
    #[serde(rename = "EnableIPv6")]
    pub enable_ipv6: bool,
    #[serde(rename = "IPAM")]
    pub ipam: Ipam,
    #[serde(rename = "Internal")]
    pub internal: bool,
    #[serde(rename = "Attachable")]
    pub attachable: bool,
    #[serde(rename = "Ingress")]
    pub ingress: bool,
    #[serde(rename = "ConfigFrom")]
    pub config_from: ConfigFrom,
    #[serde(rename = "ConfigOnly")]
    pub config_only: bool,
    /// Running containers by id.
    #[serde(rename = "Containers")]
    pub containers: BTreeMap<String, NetworkContainer>,
    /// `com.docker.network.bridge.name` names the Linux bridge.
    #[serde(rename = "Options")]
    pub options: BTreeMap<String, String>,
    #[serde(rename = "Labels")]
    pub labels: BTreeMap<String, String>,
    /// Uid of the creator (0 for the predefined networks).
    #[serde(rename = "Owner", default)]
    pub owner: u32,
}

impl NetworkInfo {
    /// One of the predefined networks (`bridge`, `host`, `none`), which cannot be removed?
    pub fn is_builtin(&self) -> bool {
        matches!(self.name.as_str(), "bridge" | "host" | "none")
    }
}

/// Options of `wharf network ls`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkListOptions {
    /// `--filter key=value`: driver, id, label, name, scope, type (custom|builtin), dangling.
    pub filters: Vec<(String, String)>,
}

/// Options of `wharf network connect`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkConnect {
    /// `--ip`
    pub ip: Option<String>,
    /// `--alias`
    pub aliases: Vec<String>,
}

/// Network calls.
pub trait NetworkApi {
    /// `wharf network create`: returns the new network's id.
    fn network_create(&self, caller: &Caller, spec: &NetworkCreate) -> Result<String>;
    /// `wharf network ls`, the predefined networks included.
    fn network_list(&self, caller: &Caller, opts: &NetworkListOptions) -> Result<Vec<NetworkInfo>>;
    /// `wharf network inspect NAME|ID`.
    fn network_inspect(&self, caller: &Caller, network: &str) -> Result<NetworkInfo>;
    /// `wharf network rm`: refused while a container (running or not) is connected.
    fn network_remove(&self, caller: &Caller, network: &str) -> Result<()>;
    /// `wharf network prune`: remove user networks no container uses.
    fn network_prune(&self, caller: &Caller) -> Result<PruneReport>;
    /// `wharf network connect [--ip] [--alias] NET CTR`: live for a running container,
    /// remembered for the next start of a stopped one.
    fn network_connect(
        &self,
        caller: &Caller,
        network: &str,
        container: &str,
        opts: &NetworkConnect,
    ) -> Result<()>;
    /// `wharf network disconnect NET CTR`.
    fn network_disconnect(&self, caller: &Caller, network: &str, container: &str) -> Result<()>;
    /// `wharf port CTR`: the container's published ports with the host ports chosen.
    fn container_ports(&self, caller: &Caller, container: &str) -> Result<Vec<PortBinding>>;
}
