//! The create request checked before anything is written, whichever front end sent it
//! (the CLI, the console's run form, the wharf protocol, the Docker Engine API,
//! compose): the same rules as the flag grammar ([`crate::api::flags`]'s `check_*`),
//! plus what depends on this host (its CPUs) and on what wharf can do.

use std::collections::HashSet;

use crate::api::flags::{self, CpuList, SecurityOpt};
use crate::api::{ContainerCreate, Resources, RestartPolicy};
use crate::error::{EngineError, Result};

use super::capabilities;

/// What of the host the checks need.
#[derive(Debug, Clone)]
pub struct Host {
    /// The online CPUs.
    pub cpus: CpuList,
}

impl Host {
    /// This host: `/sys/devices/system/cpu/online`, or the CPUs this process may use
    /// when that cannot be read.
    pub fn this() -> Host {
        let online = std::fs::read_to_string("/sys/devices/system/cpu/online")
            .ok()
            .and_then(|t| t.trim().parse::<CpuList>().ok());
        let cpus = online.unwrap_or_else(|| {
            let n = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
            CpuList(vec![(0, n.saturating_sub(1))])
        });
        Host { cpus }
    }
}

/// Check the create request before anything is written.
pub fn validate(spec: &ContainerCreate) -> Result<()> {
    validate_on(spec, &Host::this())
}

/// Check the limits a container has after `update` (they were merged into its own).
pub fn validate_resources(r: &Resources) -> Result<()> {
    resources_on(r, true, &Host::this())
}

fn resources_on(r: &Resources, update: bool, host: &Host) -> Result<()> {
    flags::check_resources(r, update)?;
    let ncpu = host.cpus.count().max(1);
    if let Some(n) = r.nano_cpus {
        if n > i64::from(ncpu) * 1_000_000_000 {
            return Err(EngineError::invalid(format!(
                "invalid --cpus {}: this host has {ncpu} CPU{} online, so the range of CPUs is from 0.01 to {ncpu}; give --cpus {ncpu} or less",
                flags::cpus_text(n),
                if ncpu == 1 { "" } else { "s" }
            )));
        }
    }
    if let Some(c) = &r.cpuset_cpus {
        let asked: CpuList = flags::flag("--cpuset-cpus", c)?;
        let missing = asked.missing_from(&host.cpus);
        if !missing.0.is_empty() {
            return Err(EngineError::invalid(format!(
                "invalid --cpuset-cpus {c:?}: this host has no CPU {missing}; its online CPUs are {}, so name some of those",
                host.cpus
            )));
        }
    }
    Ok(())
}

fn no_nul(what: &str, args: &[String]) -> Result<()> {
    match args.iter().find(|a| a.contains('\0')) {
        Some(a) => Err(EngineError::invalid(format!(
            "invalid {what}: the argument {} contains NUL, which no program can receive",
            flags::shown(a)
        ))),
        None => Ok(()),
    }
}

/// [`validate`] against a given host.
pub fn validate_on(spec: &ContainerCreate, host: &Host) -> Result<()> {
    if let Some(n) = &spec.name {
        super::validate_name(n)?;
    }
    if spec.auto_remove && spec.restart != RestartPolicy::No {
        return Err(EngineError::invalid(
            "conflicting options: --restart and --rm; use one of them",
        ));
    }
    no_nul("command", spec.cmd.as_deref().unwrap_or_default())?;
    no_nul(
        "--entrypoint",
        spec.entrypoint.as_deref().unwrap_or_default(),
    )?;
    for e in &spec.env {
        flags::check_env(e)?;
    }
    if let Some(w) = &spec.workdir {
        flags::check_workdir(w)?;
    }
    if let Some(u) = &spec.user {
        flags::check_user(u)?;
    }
    if let Some(h) = &spec.hostname {
        flags::check_hostname(h)?;
    }
    for (k, v) in &spec.labels {
        flags::check_label(k, v)?;
    }
    if let Some(s) = &spec.stop_signal {
        flags::stop_signal(s)?;
    }
    for u in &spec.ulimits {
        flags::check_ulimit(u)?;
    }
    capabilities::effective_set(&spec.cap_add, &spec.cap_drop, spec.privileged)?;
    resources_on(&spec.resources, false, host)?;
    if let Some(s) = spec.shm_size {
        flags::check_shm_size(s)?;
    }
    for o in &spec.security_opt {
        o.parse::<SecurityOpt>()?.check_supported()?;
    }
    let mut targets = HashSet::new();
    for m in &spec.mounts {
        flags::check_mount(m)?;
        let clean = m.target.trim_end_matches('/').to_string();
        if !targets.insert(clean) {
            return Err(EngineError::invalid(format!(
                "duplicate mount point {}: two mounts have the same target; keep one",
                flags::shown(&m.target)
            )));
        }
    }
    for v in &spec.volumes_from {
        flags::check_volumes_from(v)?;
    }
    for (flag, ports) in [("-p", &spec.ports), ("--expose", &spec.expose)] {
        for p in ports {
            flags::check_port(flag, p)?;
            if p.proto == "sctp" {
                let host = if flag == "-p" {
                    format!("{}:", p.host_port)
                } else {
                    String::new()
                };
                return Err(EngineError::invalid(format!(
                    "invalid {flag} {host}{}/sctp: wharf publishes tcp and udp ports only (sctp is in Docker's grammar, not in wharf's port publishing); use tcp or udp",
                    p.container_port
                )));
            }
        }
    }
    for d in &spec.dns {
        flags::dns(d)?;
    }
    for h in &spec.extra_hosts {
        flags::check_extra_host(h)?;
    }
    flags::check_log(spec.log_max_size, spec.log_max_files)?;
    if let Some(d) = &spec.log_driver {
        flags::check_log_driver(d)?;
    }
    if let Some(h) = &spec.healthcheck {
        flags::check_health(h)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{HealthConfig, MountSpec, PortBinding, Ulimit};

    fn host() -> Host {
        Host {
            cpus: "0-1".parse().unwrap(),
        }
    }

    fn spec(f: impl FnOnce(&mut ContainerCreate)) -> Result<()> {
        let mut s = ContainerCreate {
            image: "busybox".into(),
            ..Default::default()
        };
        f(&mut s);
        validate_on(&s, &host())
    }

    fn refused(what: &str, f: impl FnOnce(&mut ContainerCreate), needle: &str) {
        let e = spec(f).expect_err(what);
        assert!(e.message.contains(needle), "{what}: {e}");
    }

    #[test]
    fn a_plain_request_passes() {
        spec(|_| {}).unwrap();
        spec(|s| {
            s.resources.nano_cpus = Some(2_000_000_000);
            s.resources.cpuset_cpus = Some("0-1".into());
            s.resources.memory = Some(64 << 20);
            s.resources.memory_swap = Some(-1);
            s.env = vec!["A=1".into()];
            s.workdir = Some("/app".into());
            s.hostname = Some("web-1".into());
            s.ports = flags::publish("8080:80/udp").unwrap();
            s.expose = flags::expose("90").unwrap();
            s.mounts = vec![
                flags::volume("/srv:/data:ro").unwrap(),
                flags::tmpfs("/run:size=1m").unwrap(),
            ];
            s.volumes_from = vec!["other:ro".into()];
            s.security_opt = vec!["no-new-privileges".into()];
            s.extra_hosts = vec!["db:10.0.0.5".into()];
            s.dns = vec!["1.1.1.1".into()];
        })
        .unwrap();
    }

    #[test]
    fn host_dependent_limits() {
        refused(
            "1000 cpus",
            |s| s.resources.nano_cpus = Some(1000 * 1_000_000_000),
            "this host has 2 CPUs online",
        );
        refused(
            "-1 cpus",
            |s| s.resources.nano_cpus = Some(-1_000_000_000),
            "--cpus",
        );
        refused(
            "cpuset 99",
            |s| s.resources.cpuset_cpus = Some("99".into()),
            "no CPU 99; its online CPUs are 0-1",
        );
        refused(
            "cpuset 1-3",
            |s| s.resources.cpuset_cpus = Some("1-3".into()),
            "no CPU 2-3",
        );
        let update = Resources {
            nano_cpus: Some(3_000_000_000),
            ..Default::default()
        };
        assert!(resources_on(&update, true, &host()).is_err());
    }

    #[test]
    fn every_field_from_any_front_end() {
        refused("memory", |s| s.resources.memory = Some(1), "6m");
        refused(
            "swap below memory",
            |s| {
                s.resources.memory = Some(64 << 20);
                s.resources.memory_swap = Some(8 << 20)
            },
            "--memory-swap",
        );
        refused(
            "shares",
            |s| s.resources.cpu_shares = Some(1),
            "--cpu-shares",
        );
        refused("pids", |s| s.resources.pids_limit = Some(0), "--pids-limit");
        refused(
            "blkio",
            |s| s.resources.blkio_weight = Some(1),
            "--blkio-weight",
        );
        refused("shm", |s| s.shm_size = Some(0), "--shm-size");
        refused(
            "port 0",
            |s| {
                s.ports = vec![PortBinding {
                    host_ip: String::new(),
                    host_port: 8080,
                    container_port: 0,
                    proto: "tcp".into(),
                }]
            },
            "invalid containerPort: 0",
        );
        refused(
            "bad proto",
            |s| {
                s.ports = vec![PortBinding {
                    host_ip: String::new(),
                    host_port: 8080,
                    container_port: 80,
                    proto: "sctpx".into(),
                }]
            },
            "tcp, udp or sctp",
        );
        refused(
            "sctp",
            |s| s.ports = flags::publish("8080:80/sctp").unwrap(),
            "tcp and udp ports only",
        );
        refused(
            "bad host ip",
            |s| {
                s.ports = vec![PortBinding {
                    host_ip: "1.2.3.4.5".into(),
                    host_port: 8080,
                    container_port: 80,
                    proto: "tcp".into(),
                }]
            },
            "not an IP address",
        );
        refused(
            "relative target",
            |s| {
                s.mounts = vec![MountSpec {
                    kind: "bind".into(),
                    source: "/tmp".into(),
                    target: "x".into(),
                    read_only: false,
                    options: vec![],
                }]
            },
            "absolute",
        );
        refused(
            "bogus option",
            |s| {
                s.mounts = vec![MountSpec {
                    kind: "bind".into(),
                    source: "/tmp".into(),
                    target: "/x".into(),
                    read_only: false,
                    options: vec!["bogus".into()],
                }]
            },
            "\"bogus\"",
        );
        refused(
            "relative bind source",
            |s| {
                s.mounts = vec![MountSpec {
                    kind: "bind".into(),
                    source: "tmp".into(),
                    target: "/x".into(),
                    read_only: false,
                    options: vec![],
                }]
            },
            "absolute host path",
        );
        refused(
            "bad volume name",
            |s| {
                s.mounts = vec![MountSpec {
                    kind: "volume".into(),
                    source: "../../etc".into(),
                    target: "/x".into(),
                    read_only: false,
                    options: vec![],
                }]
            },
            "not a volume name",
        );
        refused(
            "duplicate target",
            |s| {
                s.mounts = vec![
                    flags::volume("/a:/x").unwrap(),
                    flags::tmpfs("/x/").unwrap(),
                ]
            },
            "duplicate mount point",
        );
        refused("env =x", |s| s.env = vec!["=x".into()], "no name");
        refused("env bare", |s| s.env = vec!["X".into()], "KEY=VALUE");
        refused(
            "label",
            |s| {
                s.labels.insert(String::new(), "x".into());
            },
            "--label",
        );
        refused("workdir", |s| s.workdir = Some("rel".into()), "--workdir");
        refused("hostname", |s| s.hostname = Some("-x".into()), "--hostname");
        refused("user", |s| s.user = Some("a:b:c".into()), "--user");
        refused(
            "signal",
            |s| s.stop_signal = Some("SIGNOPE".into()),
            "--stop-signal",
        );
        refused(
            "ulimit",
            |s| {
                s.ulimits = vec![Ulimit {
                    name: "nofile".into(),
                    soft: 10,
                    hard: 5,
                }]
            },
            "soft limit",
        );
        refused(
            "ulimit name",
            |s| {
                s.ulimits = vec![Ulimit {
                    name: "bogus".into(),
                    soft: 1,
                    hard: 1,
                }]
            },
            "not a ulimit",
        );
        refused(
            "health",
            |s| {
                s.healthcheck = Some(HealthConfig {
                    interval_ns: Some(-1),
                    ..Default::default()
                })
            },
            "negative",
        );
        refused("log", |s| s.log_max_files = Some(0), "max-file");
        refused(
            "volumes-from",
            |s| s.volumes_from = vec!["x:bogus".into()],
            "--volumes-from",
        );
        refused(
            "security-opt",
            |s| s.security_opt = vec!["apparmor=foo".into()],
            "AppArmor",
        );
        refused("dns", |s| s.dns = vec!["x".into()], "--dns");
        refused(
            "add-host",
            |s| s.extra_hosts = vec!["x".into()],
            "--add-host",
        );
        refused("cmd NUL", |s| s.cmd = Some(vec!["a\0b".into()]), "NUL");
        refused(
            "expose with a host side",
            |s| s.expose = flags::publish("8080:80").unwrap(),
            "no host side",
        );
        refused(
            "rm and restart",
            |s| {
                s.auto_remove = true;
                s.restart = RestartPolicy::Always
            },
            "conflicting options",
        );
    }

    #[test]
    fn this_host_has_cpus() {
        assert!(Host::this().cpus.count() >= 1);
    }
}
