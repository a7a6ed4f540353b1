//! Where the runtime meets networking: the one place the container's network is set
//! up (after its init process exists, before the user command runs) and torn down
//! (when it stops), and the /etc/hosts and /etc/resolv.conf it gets.
//!
//! `--network none` (and, until bridge networks land, the default) gives the container
//! its own network namespace with only loopback, brought up by the init process;
//! `--network host` shares the host's.

use crate::error::Result;
use crate::LocalEngine;

use super::config::ContainerConfig;

/// The contents of the container's /etc/hosts and /etc/resolv.conf.
#[derive(Debug, Clone, Default)]
pub struct NetFiles {
    pub hosts: String,
    pub resolv_conf: String,
}

/// Does the container share the host's network namespace?
pub fn is_host(cfg: &ContainerConfig) -> bool {
    cfg.spec.network.as_deref() == Some("host")
}

fn base_hosts() -> String {
    "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n".to_string()
}

/// The host's resolv.conf without loopback name servers (unreachable from the
/// container's namespace), as Docker does; `--dns` replaces the servers.
fn resolv_conf(cfg: &ContainerConfig) -> String {
    let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let mut out = String::new();
    for l in host.lines() {
        let t = l.trim();
        if let Some(ns) = t.strip_prefix("nameserver") {
            let ns = ns.trim();
            if !cfg.spec.dns.is_empty() || ns.starts_with("127.") || ns == "::1" {
                continue;
            }
        }
        out.push_str(l);
        out.push('\n');
    }
    for d in &cfg.spec.dns {
        out.push_str(&format!("nameserver {d}\n"));
    }
    out
}

/// Set up the network of the container whose init process is `pid`.
pub fn setup(_engine: &LocalEngine, cfg: &ContainerConfig, _pid: i32) -> Result<NetFiles> {
    if is_host(cfg) {
        return Ok(NetFiles {
            hosts: std::fs::read_to_string("/etc/hosts").unwrap_or_else(|_| base_hosts()),
            resolv_conf: std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default(),
        });
    }
    let mut hosts = base_hosts();
    for h in &cfg.spec.extra_hosts {
        if let Some((name, ip)) = h.split_once(':') {
            hosts.push_str(&format!("{ip}\t{name}\n"));
        }
    }
    Ok(NetFiles {
        hosts,
        resolv_conf: resolv_conf(cfg),
    })
}

/// Undo [`setup`] when the container has stopped. Never fails the stop.
pub fn teardown(_engine: &LocalEngine, _cfg: &ContainerConfig) {}
