//! Container calls: lifecycle, listing, inspect, logs.
//!
//! The runtime owns this file's shape; fields for networks, volumes and health checks
//! are here from the start so later parts fill them in without reshaping the API.

use std::collections::BTreeMap;

use std::os::unix::net::UnixStream;

use serde::{Deserialize, Serialize};

use crate::caller::Caller;
use crate::error::Result;

use super::PruneReport;

/// Lifecycle state, as Docker's `State.Status`.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord,
)]
#[serde(rename_all = "lowercase")]
pub enum ContainerStatus {
    #[default]
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
}

impl ContainerStatus {
    /// Running, paused or restarting: the container has (or is about to have) processes.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            ContainerStatus::Running | ContainerStatus::Paused | ContainerStatus::Restarting
        )
    }
    /// Lowercase name, as in `--filter status=`.
    pub fn as_str(&self) -> &'static str {
        match self {
            ContainerStatus::Created => "created",
            ContainerStatus::Running => "running",
            ContainerStatus::Paused => "paused",
            ContainerStatus::Restarting => "restarting",
            ContainerStatus::Removing => "removing",
            ContainerStatus::Exited => "exited",
            ContainerStatus::Dead => "dead",
        }
    }
}

/// Health-check state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    Starting,
    Healthy,
    Unhealthy,
}

/// `--restart` policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "Name", rename_all = "kebab-case")]
pub enum RestartPolicy {
    #[default]
    No,
    OnFailure {
        #[serde(rename = "MaximumRetryCount", default)]
        max_retries: u32,
    },
    Always,
    UnlessStopped,
}

/// Resource limits (`run` flags and `update`). `None` means unset / unchanged; a front
/// end sends `None`, never 0, for a limit not given (Docker's API uses 0 for that). The
/// rules are [`flags::check_resources`](super::flags::check_resources) and the host's
/// CPUs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    /// `-m`, bytes, 6 MiB at least.
    pub memory: Option<i64>,
    /// `--memory-swap`, bytes (memory + swap, at least `memory`; -1 unlimited).
    pub memory_swap: Option<i64>,
    /// `--cpus` in billionths of a CPU (Docker's NanoCPUs): 0.01 CPU to the host's count.
    pub nano_cpus: Option<i64>,
    /// `--cpu-shares` (relative weight 2-262144, 1024 default).
    pub cpu_shares: Option<u64>,
    /// `--cpuset-cpus`, e.g. `0-1`: CPUs this host has online.
    pub cpuset_cpus: Option<String>,
    /// `--pids-limit`: 1 or more, or -1 for no limit.
    pub pids_limit: Option<i64>,
    /// `--blkio-weight` (10-1000).
    pub blkio_weight: Option<u16>,
}

/// `--ulimit name=soft[:hard]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ulimit {
    pub name: String,
    pub soft: i64,
    pub hard: i64,
}

/// A published port, `-p [ip:]host:container[/proto]` (see [`flags::PortSpec`](super::flags::PortSpec)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortBinding {
    /// An IPv4 or IPv6 address (no brackets); empty for all addresses.
    pub host_ip: String,
    /// 0 = pick an ephemeral port.
    pub host_port: u16,
    /// 1-65535.
    pub container_port: u16,
    /// `tcp` or `udp` (`sctp` is in Docker's grammar, but wharf does not publish it).
    pub proto: String,
}

/// What is mounted where: `-v`, `--mount`, `--tmpfs`. The exact vocabulary (what each
/// kind takes in `source` and `options`) is in [`flags`](super::flags#mountspec-as-the-engine-receives-it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountSpec {
    /// `volume`, `bind` or `tmpfs`.
    pub kind: String,
    /// Volume name (empty for anonymous) or absolute host path; empty for tmpfs.
    pub source: String,
    /// Absolute path in the container, not `/`.
    pub target: String,
    /// Read-only (the only place `ro`/`rw` is said; never in `options`).
    pub read_only: bool,
    /// bind: one propagation word and/or `z`/`Z`; volume: `nocopy` and/or `z`/`Z`;
    /// tmpfs: `size=BYTES|N%`, `mode=OCTAL`, `uid=`, `gid=`, `nr_inodes=`, `nr_blocks=`,
    /// `exec|noexec`, `suid|nosuid`, `dev|nodev`.
    pub options: Vec<String>,
}

/// `--health-*` flags; `None` fields fall back to the image's HEALTHCHECK.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthConfig {
    /// `["CMD-SHELL", "..."]`, `["CMD", ...]` or `["NONE"]` (`--no-healthcheck`).
    pub test: Option<Vec<String>>,
    pub interval_ns: Option<i64>,
    pub timeout_ns: Option<i64>,
    pub start_period_ns: Option<i64>,
    pub retries: Option<u32>,
}

/// Everything `wharf create` / `wharf run` can say about a new container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerCreate {
    pub name: Option<String>,
    /// Image reference or id.
    pub image: String,
    /// Command; the image's CMD when `None`.
    pub cmd: Option<Vec<String>>,
    /// `--entrypoint`; the image's ENTRYPOINT when `None` (an empty vec clears it).
    pub entrypoint: Option<Vec<String>>,
    /// `-e KEY=VALUE`, after `--env-file` expansion; added to the image's env.
    pub env: Vec<String>,
    pub workdir: Option<String>,
    /// `-u user[:group]`.
    pub user: Option<String>,
    pub hostname: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub restart: RestartPolicy,
    pub resources: Resources,
    pub read_only: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub privileged: bool,
    /// `--init`: a tiny init as pid 1 that reaps zombies and forwards signals.
    pub init: bool,
    pub stop_signal: Option<String>,
    /// Seconds before SIGKILL on stop (10 by default).
    pub stop_timeout: Option<u32>,
    pub ulimits: Vec<Ulimit>,
    /// Bytes for /dev/shm (64 MiB by default).
    pub shm_size: Option<u64>,
    /// `no-new-privileges`, `seccomp=unconfined`, `seccomp=/path.json` (content inlined by the client).
    pub security_opt: Vec<String>,
    /// `-t`
    pub tty: bool,
    /// `-i`
    pub open_stdin: bool,
    /// `--rm`
    pub auto_remove: bool,
    /// `--network`: `bridge` (default), `none`, `host`, or a network name.
    pub network: Option<String>,
    /// `--ip`
    pub ip: Option<String>,
    /// `--network-alias`
    pub network_aliases: Vec<String>,
    /// `-p`
    pub ports: Vec<PortBinding>,
    /// `-P`: publish the image's exposed ports and `expose` on ephemeral host ports.
    pub publish_all: bool,
    /// `--expose`: more container ports to expose (host address empty, host port 0),
    /// published by `-P` like the image's `EXPOSE`.
    #[serde(default)]
    pub expose: Vec<PortBinding>,
    /// `--dns`
    pub dns: Vec<String>,
    /// `--add-host name:ip`
    pub extra_hosts: Vec<String>,
    pub mounts: Vec<MountSpec>,
    /// `--volumes-from CTR[:ro|rw]`
    pub volumes_from: Vec<String>,
    /// `--log-opt max-size=` in bytes.
    pub log_max_size: Option<u64>,
    /// `--log-opt max-file=`.
    pub log_max_files: Option<u32>,
    /// `--log-driver`: `json-file` (also when `None`) or `none` (no log file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_driver: Option<String>,
    pub healthcheck: Option<HealthConfig>,
    /// Check only: the engine runs every check a create runs (permission, the request's
    /// own sense, bind resolution, the role's constraints) and answers with an empty id,
    /// creating nothing. Compose checks each service of a stack this way before it
    /// creates anything, through any engine (embedded or `--host`). A named network that
    /// does not exist yet is not an error here (compose creates it afterwards).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub check_only: bool,
}

/// A mount of a container as listings show it (Docker's `MountPoint`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountPoint {
    /// `volume`, `bind` or `tmpfs`.
    pub kind: String,
    /// The volume's name (empty for binds and tmpfs).
    pub name: String,
    /// Host path: the bind source, or the volume's data directory (empty for tmpfs).
    pub source: String,
    /// Path in the container.
    pub destination: String,
    /// The mount options as given (`z`, `nocopy`, a propagation word), comma-separated.
    pub mode: String,
    /// Writable.
    pub rw: bool,
}

/// One network a container is on, as listings show it (Docker's `EndpointSettings`).
/// Address fields are empty while the container does not run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointSummary {
    /// Network name.
    pub network: String,
    pub network_id: String,
    /// Empty while not running.
    pub endpoint_id: String,
    pub ip: String,
    pub prefix_len: u8,
    pub gateway: String,
    pub mac: String,
    pub aliases: Vec<String>,
}

/// A row of `wharf ps`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerSummary {
    pub id: String,
    pub name: String,
    /// The reference the container was created from.
    pub image: String,
    pub image_id: String,
    /// Command line as one string.
    pub command: String,
    /// Seconds since the epoch.
    pub created: i64,
    pub state: ContainerStatus,
    /// Human status as `docker ps` prints it: `Up 2 minutes (healthy)`, `Exited (0) 3 seconds ago`.
    pub status: String,
    pub health: Option<HealthStatus>,
    pub exit_code: Option<i32>,
    pub oom_killed: bool,
    pub ports: Vec<PortBinding>,
    pub labels: BTreeMap<String, String>,
    /// Network names the container is attached to.
    pub networks: Vec<String>,
    /// Size of the writable layer, with `-s`.
    pub size_rw: Option<u64>,
    /// Owner uid and project (for role-scoped views).
    pub owner: u32,
    pub project: Option<String>,
    /// `--network` as created: `bridge`, `none`, `host` or a network name (Docker's
    /// `HostConfig.NetworkMode`).
    #[serde(default)]
    pub network_mode: String,
    /// The networks it is on, with addresses while it runs.
    #[serde(default)]
    pub endpoints: Vec<EndpointSummary>,
    /// What is mounted where.
    #[serde(default)]
    pub mounts: Vec<MountPoint>,
    /// Ports with a `-p` binding, as `80/tcp` (Docker's `HostConfig.PortBindings` keys).
    #[serde(default)]
    pub bound_ports: Vec<String>,
    /// Exposed ports (`-p` and `--expose`), as `80/tcp` (`Config.ExposedPorts` keys).
    #[serde(default)]
    pub exposed_ports: Vec<String>,
}

/// Options of `wharf ps`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerListOptions {
    /// `-a`: stopped ones too.
    pub all: bool,
    /// `-n N`: the N most recently created (any state).
    pub last: Option<usize>,
    /// `-s`: compute `size_rw`.
    pub size: bool,
    /// `--filter key=value`: status, name, label, ancestor, exited, id.
    pub filters: Vec<(String, String)>,
}

/// Options of `wharf rm`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoveOptions {
    /// `-f`: kill a running container first.
    pub force: bool,
    /// `-v`: remove its anonymous volumes.
    pub volumes: bool,
}

/// Options of `wharf logs`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogOptions {
    pub follow: bool,
    /// Only the last N lines.
    pub tail: Option<usize>,
    /// Nanoseconds since the epoch.
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub stdout: bool,
    pub stderr: bool,
}

/// One log line, as stored in Docker's json-file shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// `stdout` or `stderr`.
    pub stream: String,
    /// The bytes of the line, newline included when there was one.
    pub log: String,
    /// RFC 3339 with nanoseconds.
    pub time: String,
}

/// Container calls.
pub trait ContainerApi {
    /// `wharf create`: returns the new id.
    fn container_create(&self, caller: &Caller, spec: &ContainerCreate) -> Result<String>;
    /// `wharf start`.
    fn container_start(&self, caller: &Caller, id: &str) -> Result<()>;
    /// `wharf stop [-t]`: stop signal, then SIGKILL after the timeout.
    fn container_stop(&self, caller: &Caller, id: &str, timeout: Option<u32>) -> Result<()>;
    /// `wharf restart [-t]`.
    fn container_restart(&self, caller: &Caller, id: &str, timeout: Option<u32>) -> Result<()>;
    /// `wharf kill [-s SIGNAL]`.
    fn container_kill(&self, caller: &Caller, id: &str, signal: &str) -> Result<()>;
    /// `wharf pause`.
    fn container_pause(&self, caller: &Caller, id: &str) -> Result<()>;
    /// `wharf unpause`.
    fn container_unpause(&self, caller: &Caller, id: &str) -> Result<()>;
    /// `wharf rm [-f] [-v]`.
    fn container_remove(&self, caller: &Caller, id: &str, opts: RemoveOptions) -> Result<()>;
    /// `wharf rename`.
    fn container_rename(&self, caller: &Caller, id: &str, new_name: &str) -> Result<()>;
    /// `wharf wait`: blocks until the container stops; returns its exit code.
    fn container_wait(&self, caller: &Caller, id: &str) -> Result<i32>;
    /// `wharf update`: limits (and restart policy) changed live.
    fn container_update(
        &self,
        caller: &Caller,
        id: &str,
        resources: &Resources,
        restart: Option<&RestartPolicy>,
    ) -> Result<()>;
    /// `wharf ps`.
    fn container_list(
        &self,
        caller: &Caller,
        opts: &ContainerListOptions,
    ) -> Result<Vec<ContainerSummary>>;
    /// `container_list` for a caller that only reads the rows: an implementation that
    /// keeps a listing (wharf's client, for an unchanged answer) hands out the rows it
    /// keeps instead of a copy of each (0.4 ms for 1000 rows).
    fn container_list_shared(
        &self,
        caller: &Caller,
        opts: &ContainerListOptions,
    ) -> Result<std::sync::Arc<Vec<ContainerSummary>>> {
        self.container_list(caller, opts).map(std::sync::Arc::new)
    }
    /// `wharf inspect`: Docker-shaped JSON (Id, Name, State{...}, Config, HostConfig, Mounts, ...).
    fn container_inspect(&self, caller: &Caller, id: &str) -> Result<serde_json::Value>;
    /// `wharf container prune`: remove stopped containers.
    fn container_prune(&self, caller: &Caller) -> Result<PruneReport>;
    /// `wharf logs`: lines in order to `sink` until it returns `false`, or (without
    /// `follow`) the end of the log, or (with `follow`) the container stops.
    fn container_logs(
        &self,
        caller: &Caller,
        id: &str,
        opts: &LogOptions,
        sink: &mut dyn FnMut(LogLine) -> bool,
    ) -> Result<()>;
    /// `wharf attach`: a running (or paused) container's stdio as an attach-protocol
    /// stream ([`crate::runtime::attach`]): its output, and stdin/resizes sent back.
    fn container_attach(&self, caller: &Caller, id: &str) -> Result<UnixStream>;
    /// `wharf start -a`: start the container with a stream attached from its first byte;
    /// `size` is the terminal's (rows, columns) for a container with a tty.
    fn container_start_attached(
        &self,
        caller: &Caller,
        id: &str,
        size: Option<(u16, u16)>,
    ) -> Result<UnixStream>;
}
