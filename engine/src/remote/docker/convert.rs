//! Docker's API models (bollard's) to the engine API's types, and back for requests.
//! Pure functions, tested on their own.

use std::collections::{BTreeMap, HashMap};

use bollard::models as m;

use crate::api::*;
use crate::events::{Actor, Event, EventType};

fn map(h: Option<HashMap<String, String>>) -> BTreeMap<String, String> {
    h.unwrap_or_default().into_iter().collect()
}

fn hmap(b: &BTreeMap<String, String>) -> Option<HashMap<String, String>> {
    if b.is_empty() {
        None
    } else {
        Some(b.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
    }
}

/// `running`, `exited`, ... to the engine's state (unknown words read as `dead`).
pub fn status(s: &str) -> ContainerStatus {
    match s {
        "created" | "configured" | "initialized" => ContainerStatus::Created,
        "running" => ContainerStatus::Running,
        "paused" => ContainerStatus::Paused,
        "restarting" => ContainerStatus::Restarting,
        "removing" => ContainerStatus::Removing,
        "exited" | "stopped" => ContainerStatus::Exited,
        _ => ContainerStatus::Dead,
    }
}

/// Health and exit code, as the human status text says them (`Up 2 minutes
/// (healthy)`, `Exited (137) 3 seconds ago`): Docker's list has no other field for them
/// before API 1.52.
pub fn from_status_text(text: &str) -> (Option<HealthStatus>, Option<i32>) {
    let health = if text.contains("(healthy)") {
        Some(HealthStatus::Healthy)
    } else if text.contains("(unhealthy)") {
        Some(HealthStatus::Unhealthy)
    } else if text.contains("(health: starting)") {
        Some(HealthStatus::Starting)
    } else {
        None
    };
    let code = text
        .strip_prefix("Exited (")
        .and_then(|r| r.split(')').next())
        .and_then(|n| n.trim().parse().ok());
    (health, code)
}

/// A row of `docker ps`.
pub fn container(c: m::ContainerSummary) -> ContainerSummary {
    let status_text = c.status.unwrap_or_default();
    let (mut health, exit_code) = from_status_text(&status_text);
    if let Some(h) = c.health.as_ref().and_then(|h| h.status.as_ref()) {
        health = match h.to_string().as_str() {
            "healthy" => Some(HealthStatus::Healthy),
            "unhealthy" => Some(HealthStatus::Unhealthy),
            "starting" => Some(HealthStatus::Starting),
            _ => health,
        };
    }
    let state = c
        .state
        .map(|s| status(s.as_ref()))
        .unwrap_or(ContainerStatus::Dead);
    let mut endpoints: Vec<EndpointSummary> = c
        .network_settings
        .and_then(|n| n.networks)
        .unwrap_or_default()
        .into_iter()
        .map(|(network, e)| EndpointSummary {
            network,
            network_id: e.network_id.unwrap_or_default(),
            endpoint_id: e.endpoint_id.unwrap_or_default(),
            ip: e.ip_address.unwrap_or_default(),
            prefix_len: e.ip_prefix_len.unwrap_or(0).clamp(0, 32) as u8,
            gateway: e.gateway.unwrap_or_default(),
            mac: e.mac_address.unwrap_or_default(),
            aliases: e.aliases.unwrap_or_default(),
        })
        .collect();
    endpoints.sort_by(|a, b| a.network.cmp(&b.network));
    let networks: Vec<String> = endpoints.iter().map(|e| e.network.clone()).collect();
    let mounts = c
        .mounts
        .unwrap_or_default()
        .into_iter()
        .map(|m| MountPoint {
            kind: m.typ.map(|t| t.to_string()).unwrap_or_default(),
            name: m.name.unwrap_or_default(),
            source: m.source.unwrap_or_default(),
            destination: m.destination.unwrap_or_default(),
            mode: m.mode.unwrap_or_default(),
            rw: m.rw.unwrap_or(false),
        })
        .collect();
    let ports: Vec<PortBinding> = c
        .ports
        .unwrap_or_default()
        .into_iter()
        .map(|p| PortBinding {
            host_ip: p.ip.unwrap_or_default(),
            host_port: p.public_port.unwrap_or(0),
            container_port: p.private_port,
            proto: p
                .typ
                .map(|t| t.to_string())
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| "tcp".into()),
        })
        .collect();
    // Docker's listing has the ports, not the config: a port with a host side is
    // bound, every one listed is exposed.
    let key = |p: &PortBinding| format!("{}/{}", p.container_port, p.proto);
    let mut bound_ports: Vec<String> = ports.iter().filter(|p| p.host_port != 0).map(key).collect();
    let mut exposed_ports: Vec<String> = ports.iter().map(key).collect();
    for v in [&mut bound_ports, &mut exposed_ports] {
        v.sort();
        v.dedup();
    }
    let name = c
        .names
        .unwrap_or_default()
        .into_iter()
        .next()
        .map(|n| n.trim_start_matches('/').to_string())
        .unwrap_or_default();
    ContainerSummary {
        id: c.id.unwrap_or_default(),
        name,
        image: c.image.unwrap_or_default(),
        image_id: c.image_id.unwrap_or_default(),
        command: c.command.unwrap_or_default(),
        created: c.created.unwrap_or(0),
        state,
        status: status_text,
        health,
        exit_code,
        oom_killed: false,
        ports,
        labels: map(c.labels),
        networks,
        size_rw: c.size_rw.map(|s| s.max(0) as u64),
        owner: 0,
        project: None,
        network_mode: c
            .host_config
            .and_then(|h| h.network_mode)
            .unwrap_or_default(),
        endpoints,
        mounts,
        bound_ports,
        exposed_ports,
    }
}

/// A row of `docker images` (`<none>` tags left out, as the engine lists them).
pub fn image(i: m::ImageSummary) -> ImageSummary {
    ImageSummary {
        id: i.id,
        repo_tags: i
            .repo_tags
            .into_iter()
            .filter(|t| t != "<none>:<none>")
            .collect(),
        repo_digests: i
            .repo_digests
            .into_iter()
            .filter(|t| t != "<none>@<none>")
            .collect(),
        created: i.created,
        size: i.size.max(0) as u64,
        containers: i.containers.max(0) as usize,
    }
}

/// `docker volume inspect`.
pub fn volume(v: m::Volume) -> Volume {
    Volume {
        name: v.name,
        driver: v.driver,
        mountpoint: v.mountpoint,
        created_at: v.created_at.unwrap_or_default(),
        labels: v.labels.into_iter().collect(),
        scope: v
            .scope
            .map(|s| s.to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "local".into()),
        options: v.options.into_iter().collect(),
        usage_data: v.usage_data.map(|u| VolumeUsage {
            size: u.size.max(0) as u64,
            ref_count: u.ref_count.max(0) as u64,
        }),
        owner: 0,
        project: None,
        anonymous: false,
    }
}

/// `docker network inspect`.
pub fn network(n: m::Network, containers: BTreeMap<String, NetworkContainer>) -> NetworkInfo {
    let ipam = n.ipam.unwrap_or_default();
    NetworkInfo {
        name: n.name.unwrap_or_default(),
        id: n.id.unwrap_or_default(),
        created: n.created.unwrap_or_default(),
        scope: n.scope.unwrap_or_else(|| "local".into()),
        driver: n.driver.unwrap_or_default(),
        enable_ipv6: n.enable_ipv6.unwrap_or(false),
        ipam: Ipam {
            driver: ipam.driver.unwrap_or_else(|| "default".into()),
            options: map(ipam.options),
            config: ipam
                .config
                .unwrap_or_default()
                .into_iter()
                .map(|c| IpamConfig {
                    subnet: c.subnet.unwrap_or_default(),
                    gateway: c.gateway.unwrap_or_default(),
                    ip_range: c.ip_range.unwrap_or_default(),
                })
                .collect(),
        },
        internal: n.internal.unwrap_or(false),
        attachable: n.attachable.unwrap_or(false),
        ingress: n.ingress.unwrap_or(false),
        config_from: ConfigFrom {
            network: n.config_from.and_then(|c| c.network).unwrap_or_default(),
        },
        config_only: n.config_only.unwrap_or(false),
        containers,
        options: map(n.options),
        labels: map(n.labels),
        owner: 0,
    }
}

/// The containers of a `network inspect` answer (a map Docker's list model lacks).
pub fn network_containers(v: &serde_json::Value) -> BTreeMap<String, NetworkContainer> {
    let mut out = BTreeMap::new();
    if let Some(o) = v.get("Containers").and_then(|c| c.as_object()) {
        for (id, c) in o {
            let s = |k: &str| c.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string();
            out.insert(
                id.clone(),
                NetworkContainer {
                    name: s("Name"),
                    endpoint_id: s("EndpointID"),
                    mac_address: s("MacAddress"),
                    ipv4_address: s("IPv4Address"),
                    ipv6_address: s("IPv6Address"),
                    aliases: Vec::new(),
                },
            );
        }
    }
    out
}

/// An event, if it is of a kind the engine knows.
pub fn event(e: m::EventMessage) -> Option<Event> {
    let kind = match e.typ.map(|t| t.to_string()).as_deref() {
        Some("container") => EventType::Container,
        Some("image") => EventType::Image,
        Some("network") => EventType::Network,
        Some("volume") => EventType::Volume,
        Some("daemon") => EventType::Daemon,
        _ => return None,
    };
    let actor = e.actor.unwrap_or_default();
    let time_nano = e
        .time_nano
        .unwrap_or_else(|| e.time.unwrap_or(0) * 1_000_000_000);
    Some(Event {
        kind,
        // Docker 20.10 says `exec_start: sh` and `health_status: healthy`; the word
        // before the colon is the action, as the engine's journal has it.
        action: e.action.unwrap_or_default(),
        actor: Actor {
            id: actor.id.unwrap_or_default(),
            attributes: map(actor.attributes),
        },
        scope: e
            .scope
            .map(|s| s.to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "local".into()),
        time: e.time.unwrap_or(time_nano / 1_000_000_000),
        time_nano,
        owner: None,
    })
}

fn cpu(c: Option<m::ContainerCpuStats>) -> CpuStats {
    let c = c.unwrap_or_default();
    let u = c.cpu_usage.unwrap_or_default();
    let t = c.throttling_data.unwrap_or_default();
    CpuStats {
        cpu_usage: CpuUsage {
            total_usage: u.total_usage.unwrap_or(0),
            usage_in_kernelmode: u.usage_in_kernelmode.unwrap_or(0),
            usage_in_usermode: u.usage_in_usermode.unwrap_or(0),
        },
        system_cpu_usage: c.system_cpu_usage.unwrap_or(0),
        online_cpus: c
            .online_cpus
            .or_else(|| u.percpu_usage.as_ref().map(|p| p.len() as u32))
            .unwrap_or(0),
        throttling_data: Throttling {
            periods: t.periods.unwrap_or(0),
            throttled_periods: t.throttled_periods.unwrap_or(0),
            throttled_time: t.throttled_time.unwrap_or(0),
        },
    }
}

/// One stats sample.
pub fn stats(s: m::ContainerStatsResponse) -> ContainerStats {
    let mem = s.memory_stats.unwrap_or_default();
    let stats_map: BTreeMap<std::borrow::Cow<'static, str>, u64> = mem
        .stats
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (std::borrow::Cow::Owned(k), v))
        .collect();
    let pids = s.pids_stats.unwrap_or_default();
    ContainerStats {
        id: s.id.unwrap_or_default(),
        name: s
            .name
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_string(),
        read: s.read.unwrap_or_default(),
        preread: s.preread.unwrap_or_default(),
        cpu_stats: cpu(s.cpu_stats),
        precpu_stats: cpu(s.precpu_stats),
        memory_stats: MemoryStats {
            usage: mem.usage.unwrap_or(0),
            limit: mem.limit.unwrap_or(0),
            stats: std::sync::Arc::new(stats_map),
            oom_kills: 0,
        },
        networks: s
            .networks
            .unwrap_or_default()
            .into_iter()
            .map(|(k, n)| {
                (
                    k,
                    NetStats {
                        rx_bytes: n.rx_bytes.unwrap_or(0),
                        rx_packets: n.rx_packets.unwrap_or(0),
                        rx_errors: n.rx_errors.unwrap_or(0),
                        rx_dropped: n.rx_dropped.unwrap_or(0),
                        tx_bytes: n.tx_bytes.unwrap_or(0),
                        tx_packets: n.tx_packets.unwrap_or(0),
                        tx_errors: n.tx_errors.unwrap_or(0),
                        tx_dropped: n.tx_dropped.unwrap_or(0),
                    },
                )
            })
            .collect(),
        blkio_stats: BlkioStats {
            io_service_bytes_recursive: s
                .blkio_stats
                .and_then(|b| b.io_service_bytes_recursive)
                .unwrap_or_default()
                .into_iter()
                .map(|e| BlkioEntry {
                    major: e.major.unwrap_or(0),
                    minor: e.minor.unwrap_or(0),
                    op: e.op.unwrap_or_default().to_ascii_lowercase(),
                    value: e.value.unwrap_or(0),
                })
                .collect(),
        },
        pids_stats: PidsStats {
            current: pids.current.unwrap_or(0),
            limit: pids.limit.filter(|l| *l > 0 && *l < u64::MAX / 2),
        },
    }
}

/// Split a log line read with timestamps (`2024-01-01T00:00:00.000000000Z text`) into
/// its time and text.
pub fn split_timestamp(line: &str) -> (String, String) {
    match line.split_once(' ') {
        Some((t, rest)) if t.len() >= 20 && t.as_bytes()[4] == b'-' && t.contains('T') => {
            (t.to_string(), rest.to_string())
        }
        _ => (String::new(), line.to_string()),
    }
}

fn restart(r: &RestartPolicy) -> m::RestartPolicy {
    use m::RestartPolicyNameEnum as N;
    let (name, n) = match r {
        RestartPolicy::No => (N::NO, None),
        RestartPolicy::Always => (N::ALWAYS, None),
        RestartPolicy::UnlessStopped => (N::UNLESS_STOPPED, None),
        RestartPolicy::OnFailure { max_retries } => (N::ON_FAILURE, Some(*max_retries as i64)),
    };
    m::RestartPolicy {
        name: Some(name),
        maximum_retry_count: n,
    }
}

/// `docker update`'s body.
pub fn update(r: &Resources, restart_policy: Option<&RestartPolicy>) -> m::ContainerUpdateBody {
    m::ContainerUpdateBody {
        memory: r.memory,
        memory_swap: r.memory_swap,
        nano_cpus: r.nano_cpus,
        cpu_shares: r.cpu_shares.map(|s| s as i64),
        cpuset_cpus: r.cpuset_cpus.clone(),
        pids_limit: r.pids_limit,
        blkio_weight: r.blkio_weight,
        restart_policy: restart_policy.map(restart),
        ..Default::default()
    }
}

/// `docker create`'s body (Config, HostConfig, NetworkingConfig) for a create spec.
pub fn create(spec: &ContainerCreate) -> m::ContainerCreateBody {
    let mut port_bindings: HashMap<String, Option<Vec<m::PortBinding>>> = HashMap::new();
    let mut exposed: Vec<String> = Vec::new();
    for p in spec.ports.iter().chain(&spec.expose) {
        let key = format!("{}/{}", p.container_port, p.proto);
        if !exposed.contains(&key) {
            exposed.push(key.clone());
        }
        if spec.expose.contains(p) && !spec.ports.contains(p) {
            continue;
        }
        port_bindings
            .entry(key)
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(m::PortBinding {
                host_ip: Some(p.host_ip.clone()),
                host_port: Some(if p.host_port == 0 {
                    String::new()
                } else {
                    p.host_port.to_string()
                }),
            });
    }
    let mounts: Vec<m::Mount> = spec
        .mounts
        .iter()
        .map(|mt| {
            let typ = match mt.kind.as_str() {
                "bind" => m::MountType::BIND,
                "tmpfs" => m::MountType::TMPFS,
                _ => m::MountType::VOLUME,
            };
            let mut out = m::Mount {
                target: Some(mt.target.clone()),
                source: (!mt.source.is_empty()).then(|| mt.source.clone()),
                typ: Some(typ),
                read_only: Some(mt.read_only),
                ..Default::default()
            };
            if mt.kind == "tmpfs" {
                let size = mt
                    .options
                    .iter()
                    .find_map(|o| o.strip_prefix("size=")?.parse::<i64>().ok());
                let mode = mt
                    .options
                    .iter()
                    .find_map(|o| i64::from_str_radix(o.strip_prefix("mode=")?, 8).ok());
                out.tmpfs_options = Some(m::MountTmpfsOptions {
                    size_bytes: size,
                    mode,
                    ..Default::default()
                });
            }
            if mt.kind == "volume" && mt.options.iter().any(|o| o == "nocopy") {
                out.volume_options = Some(m::MountVolumeOptions {
                    no_copy: Some(true),
                    ..Default::default()
                });
            }
            out
        })
        .collect();
    let r = &spec.resources;
    let log_config =
        if spec.log_driver.is_some() || spec.log_max_size.is_some() || spec.log_max_files.is_some()
        {
            let mut cfg = HashMap::new();
            if let Some(s) = spec.log_max_size {
                cfg.insert("max-size".to_string(), s.to_string());
            }
            if let Some(n) = spec.log_max_files {
                cfg.insert("max-file".to_string(), n.to_string());
            }
            Some(m::HostConfigLogConfig {
                typ: Some(
                    spec.log_driver
                        .clone()
                        .unwrap_or_else(|| "json-file".into()),
                ),
                config: Some(cfg),
            })
        } else {
            None
        };
    let host = m::HostConfig {
        memory: r.memory,
        memory_swap: r.memory_swap,
        nano_cpus: r.nano_cpus,
        cpu_shares: r.cpu_shares.map(|s| s as i64),
        cpuset_cpus: r.cpuset_cpus.clone(),
        pids_limit: r.pids_limit,
        blkio_weight: r.blkio_weight,
        ulimits: (!spec.ulimits.is_empty()).then(|| {
            spec.ulimits
                .iter()
                .map(|u| m::ResourcesUlimits {
                    name: Some(u.name.clone()),
                    soft: Some(u.soft),
                    hard: Some(u.hard),
                })
                .collect()
        }),
        restart_policy: Some(restart(&spec.restart)),
        readonly_rootfs: Some(spec.read_only),
        cap_add: (!spec.cap_add.is_empty()).then(|| spec.cap_add.clone()),
        cap_drop: (!spec.cap_drop.is_empty()).then(|| spec.cap_drop.clone()),
        privileged: Some(spec.privileged),
        init: spec.init.then_some(true),
        shm_size: spec.shm_size.map(|s| s as i64),
        security_opt: (!spec.security_opt.is_empty()).then(|| spec.security_opt.clone()),
        auto_remove: Some(spec.auto_remove),
        network_mode: spec.network.clone(),
        port_bindings: (!port_bindings.is_empty()).then_some(port_bindings),
        publish_all_ports: Some(spec.publish_all),
        dns: (!spec.dns.is_empty()).then(|| spec.dns.clone()),
        extra_hosts: (!spec.extra_hosts.is_empty()).then(|| spec.extra_hosts.clone()),
        mounts: (!mounts.is_empty()).then_some(mounts),
        volumes_from: (!spec.volumes_from.is_empty()).then(|| spec.volumes_from.clone()),
        log_config,
        ..Default::default()
    };
    let networking = match (&spec.network, &spec.ip, spec.network_aliases.is_empty()) {
        (Some(net), ip, aliases_empty) if ip.is_some() || !aliases_empty => {
            let mut eps = HashMap::new();
            eps.insert(
                net.clone(),
                m::EndpointSettings {
                    ipam_config: ip.as_ref().map(|ip| m::EndpointIpamConfig {
                        ipv4_address: Some(ip.clone()),
                        ..Default::default()
                    }),
                    aliases: (!aliases_empty).then(|| spec.network_aliases.clone()),
                    ..Default::default()
                },
            );
            Some(m::NetworkingConfig {
                endpoints_config: Some(eps),
            })
        }
        _ => None,
    };
    let health = spec.healthcheck.as_ref().map(|h| m::HealthConfig {
        test: h.test.clone(),
        interval: h.interval_ns,
        timeout: h.timeout_ns,
        retries: h.retries.map(i64::from),
        start_period: h.start_period_ns,
        start_interval: None,
    });
    m::ContainerCreateBody {
        image: Some(spec.image.clone()),
        cmd: spec.cmd.clone(),
        entrypoint: spec.entrypoint.clone(),
        env: (!spec.env.is_empty()).then(|| spec.env.clone()),
        working_dir: spec.workdir.clone(),
        user: spec.user.clone(),
        hostname: spec.hostname.clone(),
        labels: hmap(&spec.labels),
        tty: Some(spec.tty),
        open_stdin: Some(spec.open_stdin),
        stdin_once: Some(false),
        attach_stdin: Some(false),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        stop_signal: spec.stop_signal.clone(),
        stop_timeout: spec.stop_timeout.map(i64::from),
        exposed_ports: (!exposed.is_empty()).then_some(exposed),
        healthcheck: health,
        host_config: Some(host),
        networking_config: networking,
        ..Default::default()
    }
}

/// The published ports of a container from its inspect answer.
pub fn ports_of(inspect: &serde_json::Value) -> Vec<PortBinding> {
    let mut out = Vec::new();
    if let Some(o) = inspect
        .pointer("/NetworkSettings/Ports")
        .and_then(|p| p.as_object())
    {
        for (k, v) in o {
            let (port, proto) = k.split_once('/').unwrap_or((k, "tcp"));
            let Ok(container_port) = port.parse::<u16>() else {
                continue;
            };
            for b in v.as_array().into_iter().flatten() {
                out.push(PortBinding {
                    host_ip: b["HostIp"].as_str().unwrap_or("").to_string(),
                    host_port: b["HostPort"]
                        .as_str()
                        .and_then(|p| p.parse().ok())
                        .unwrap_or(0),
                    container_port,
                    proto: proto.to_string(),
                });
            }
        }
    }
    out.sort_by_key(|p| (p.container_port, p.host_port));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_texts_give_health_and_exit_codes() {
        assert_eq!(
            from_status_text("Up 2 minutes (healthy)"),
            (Some(HealthStatus::Healthy), None)
        );
        assert_eq!(
            from_status_text("Exited (137) 3 seconds ago"),
            (None, Some(137))
        );
        assert_eq!(
            from_status_text("Up 1 second (health: starting)").0,
            Some(HealthStatus::Starting)
        );
        assert_eq!(status("running"), ContainerStatus::Running);
        assert_eq!(status("stopped"), ContainerStatus::Exited);
    }

    #[test]
    fn a_docker_list_row_reads_as_the_engines() {
        let row: m::ContainerSummary = serde_json::from_value(serde_json::json!({
            "Id": "abc", "Names": ["/web"], "Image": "busybox", "ImageID": "sha256:1",
            "Command": "sh", "Created": 5, "State": "exited",
            "Status": "Exited (3) 1 minute ago",
            "Ports": [{"PrivatePort": 80, "PublicPort": 8080, "Type": "tcp", "IP": "0.0.0.0"}],
            "Labels": {"a": "b"},
            "NetworkSettings": {"Networks": {"bridge": {}}}
        }))
        .unwrap();
        let c = container(row);
        assert_eq!(c.name, "web");
        assert_eq!(c.state, ContainerStatus::Exited);
        assert_eq!(c.exit_code, Some(3));
        assert_eq!(c.ports[0].host_port, 8080);
        assert_eq!(c.networks, ["bridge"]);
    }

    #[test]
    fn create_specs_become_dockers_body() {
        let spec = ContainerCreate {
            image: "busybox".into(),
            cmd: Some(vec!["sleep".into(), "1".into()]),
            ports: vec![PortBinding {
                host_ip: String::new(),
                host_port: 8080,
                container_port: 80,
                proto: "tcp".into(),
            }],
            network: Some("none".into()),
            restart: RestartPolicy::OnFailure { max_retries: 3 },
            ..Default::default()
        };
        let b = create(&spec);
        let v = serde_json::to_value(&b).unwrap();
        assert_eq!(v["Image"], "busybox");
        assert_eq!(v["HostConfig"]["NetworkMode"], "none");
        assert_eq!(
            v["HostConfig"]["PortBindings"]["80/tcp"][0]["HostPort"],
            "8080"
        );
        assert_eq!(v["HostConfig"]["RestartPolicy"]["Name"], "on-failure");
        assert_eq!(v["HostConfig"]["RestartPolicy"]["MaximumRetryCount"], 3);
    }

    #[test]
    fn timestamps_split_from_log_lines() {
        assert_eq!(
            split_timestamp("2024-01-02T03:04:05.123456789Z hello world\n"),
            (
                "2024-01-02T03:04:05.123456789Z".to_string(),
                "hello world\n".to_string()
            )
        );
        assert_eq!(split_timestamp("plain"), (String::new(), "plain".into()));
    }
}
