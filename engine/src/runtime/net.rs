//! Where the runtime meets networking: the one place the container's network is set
//! up (after its init process exists, before the user command runs) and torn down
//! (when it stops), and the /etc/hosts and /etc/resolv.conf it gets.
//!
//! `--network none` gives the container its own network namespace with only loopback,
//! `bridge` (the default) and user networks add veths on wharf's bridges (see
//! [`crate::network`]), `--network host` shares the host's.

use crate::error::Result;
use crate::LocalEngine;

use super::config::ContainerConfig;

/// The contents of the container's /etc/hosts and /etc/resolv.conf, and the
/// interfaces its init configures in its namespace.
#[derive(Debug, Clone, Default)]
pub struct NetFiles {
    pub hosts: String,
    pub resolv_conf: String,
    pub interfaces: Vec<super::process::Interface>,
}

/// Does the container share the host's network namespace?
pub fn is_host(cfg: &ContainerConfig) -> bool {
    cfg.spec.network.as_deref() == Some("host")
}

/// Set up the network of the container whose init process is `pid`: everything is
/// done by [`crate::network::setup`], which also writes `hosts` and `resolv.conf` in
/// the container's directory (and keeps `hosts` current while peers come and go).
pub fn setup(engine: &LocalEngine, cfg: &ContainerConfig, pid: i32) -> Result<NetFiles> {
    // `-P` publishes the image's EXPOSE ports and the `--expose` ones.
    let exposed: Vec<String> = if cfg.spec.publish_all {
        let image: Vec<String> = engine
            .resolve_image(&crate::Caller::root(), &cfg.image_id)
            .ok()
            .and_then(|img| {
                img.config
                    .pointer("/config/ExposedPorts")
                    .and_then(|p| p.as_object())
                    .map(|m| m.keys().cloned().collect())
            })
            .unwrap_or_default();
        exposed_ports(image, &cfg.spec.expose)
    } else {
        Vec::new()
    };
    let info = crate::network::ContainerNetInfo {
        name: &cfg.name,
        hostname: &cfg.hostname,
        exposed_ports: &exposed,
        by_init: true,
    };
    let s = crate::network::setup(engine, &cfg.id, &cfg.spec, pid, &info)?;
    if crate::trace::active() {
        if s.endpoints.is_empty() {
            crate::trace::step(match s.mode.as_str() {
                "host" => "shared the host's network namespace (--network host)".to_string(),
                _ => "left the network namespace with loopback only (--network none)".to_string(),
            });
        }
        for e in &s.endpoints {
            crate::trace::step(format!(
                "attached a veth pair to network {}: {} in the container, {}/{} via {}, mac {}",
                e.network, e.ifname, e.ip, e.prefix_len, e.gateway, e.mac
            ));
        }
        for p in &s.ports {
            crate::trace::step(format!(
                "published {}:{} -> {}/{} (nftables DNAT in wharf's table)",
                if p.host_ip.is_empty() {
                    "0.0.0.0"
                } else {
                    &p.host_ip
                },
                p.host_port,
                p.container_port,
                p.proto
            ));
        }
    }
    let interfaces = s
        .endpoints
        .iter()
        .map(|e| super::process::Interface {
            index: e.ifindex,
            ip: e.ip,
            prefix: e.prefix_len,
            gateway: e.default_route.then_some(e.gateway),
        })
        .collect();
    Ok(NetFiles {
        hosts: s.hosts,
        resolv_conf: s.resolv_conf,
        interfaces,
    })
}

/// The ports `-P` publishes: the image's `ExposedPorts` keys, then the `--expose` ports
/// the image does not already have, as `PORT/PROTO`.
fn exposed_ports(mut image: Vec<String>, expose: &[crate::api::PortBinding]) -> Vec<String> {
    for p in expose {
        let key = format!("{}/{}", p.container_port, p.proto);
        let bare = p.container_port.to_string();
        if !image
            .iter()
            .any(|k| *k == key || (p.proto == "tcp" && *k == bare))
        {
            image.push(key);
        }
    }
    image
}

/// Undo [`setup`] when the container has stopped. Never fails the stop. A bridge left
/// idle is kept up for the grace period by a reaper process started here if none runs
/// ([`crate::network::keep_bridges`]).
pub fn teardown(engine: &LocalEngine, cfg: &ContainerConfig) {
    if crate::network::is_none(cfg.spec.network.as_deref()) {
        return;
    }
    match crate::network::teardown(engine, &cfg.id) {
        Ok(true) => spawn_bridge_keeper(engine),
        Ok(false) => {}
        Err(e) => tracing::warn!("releasing the network of container {}: {e}", cfg.name),
    }
}

/// Start `wharf __bridge-keeper` detached (its own session, no stdio), not waited for.
fn spawn_bridge_keeper(engine: &LocalEngine) {
    use std::os::unix::process::CommandExt;
    let Ok(exe) = engine.wharf_exe() else { return };
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("--root")
        .arg(engine.root().path())
        .arg("__bridge-keeper")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    // SAFETY: only setsid (async-signal-safe) runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    match cmd.spawn() {
        // Whoever lives longer reaps it (init, once this monitor is gone).
        Ok(child) => drop(child),
        Err(e) => tracing::warn!("starting the bridge keeper: {e}"),
    }
}

/// The container is being removed: its network attachments are forgotten.
pub fn forget(engine: &LocalEngine, cfg: &ContainerConfig) {
    if crate::network::is_none(cfg.spec.network.as_deref()) {
        return;
    }
    if let Err(e) = crate::network::forget(engine, &cfg.id) {
        tracing::warn!("forgetting the networks of container {}: {e}", cfg.name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_all_takes_the_image_ports_and_the_exposed_ones() {
        let expose = crate::api::flags::expose("80-81").unwrap();
        let mut more = crate::api::flags::expose("53/udp").unwrap();
        more.extend(expose);
        assert_eq!(
            exposed_ports(vec!["80/tcp".into(), "8080".into()], &more),
            vec!["80/tcp", "8080", "53/udp", "81/tcp"]
        );
    }
}
