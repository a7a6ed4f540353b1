//! NAT, published ports and isolation in wharf's own nftables table, `ip wharf`.
//!
//! The table is derived whole from the network store and replaced in one nftables
//! transaction (`nft -j -f -`: the JSON API of the `nft` tool) each time something
//! changes, so it can never drift from the store and a failed update leaves the old
//! table in place. Nothing outside `table ip wharf` is read or written. When no
//! bridge is in use the table is deleted, so an idle wharf leaves no rules behind.
//!
//! Rules (per bridge B with subnet S):
//! - postrouting: `ip saddr S oifname != B masquerade` (not for internal networks);
//!   `oifname B ip saddr 127.0.0.0/8 masquerade` (published ports reached from the
//!   host's loopback; the bridge has `route_localnet` on); `oifname B ct status dnat
//!   ip saddr S masquerade` (a container reaching a published port of a neighbour).
//! - prerouting and output: `fib daddr type local` goes to `ports`, which DNATs each
//!   published port to its container (output covers connections from the host itself).
//! - forward: traffic between two different wharf bridges is dropped; an internal
//!   network's bridge forwards nothing in or out.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

use crate::error::{EngineError, Result};

use super::store::Store;

/// The table's family and name.
pub const FAMILY: &str = "ip";
pub const TABLE: &str = "wharf";

fn table() -> Value {
    json!({"family": FAMILY, "name": TABLE})
}

fn chain(name: &str, kind: Option<(&str, &str, i32)>) -> Value {
    let mut c = json!({"family": FAMILY, "table": TABLE, "name": name});
    if let Some((ty, hook, prio)) = kind {
        c["type"] = json!(ty);
        c["hook"] = json!(hook);
        c["prio"] = json!(prio);
        c["policy"] = json!("accept");
    }
    json!({"add": {"chain": c}})
}

fn rule(chain: &str, expr: Vec<Value>) -> Value {
    json!({"add": {"rule": {"family": FAMILY, "table": TABLE, "chain": chain, "expr": expr}}})
}

fn eq(left: Value, right: Value) -> Value {
    json!({"match": {"op": "==", "left": left, "right": right}})
}

fn ne(left: Value, right: Value) -> Value {
    json!({"match": {"op": "!=", "left": left, "right": right}})
}

fn meta(key: &str) -> Value {
    json!({"meta": {"key": key}})
}

fn payload(proto: &str, field: &str) -> Value {
    json!({"payload": {"protocol": proto, "field": field}})
}

fn prefix(net: &ipnet::Ipv4Net) -> Value {
    json!({"prefix": {"addr": net.network().to_string(), "len": net.prefix_len()}})
}

/// The batch that makes the table match `st` (or removes it when no bridge is up):
/// rules for the bridges of the networks in `up` (those with a running container, and
/// idle ones kept up for the next), ports of the running containers.
pub fn ruleset(st: &Store, up: &std::collections::BTreeSet<String>) -> Value {
    let active: Vec<_> = st
        .networks
        .values()
        .filter(|n| n.driver == "bridge" && n.subnet.is_some() && up.contains(&n.id))
        .collect();
    // `add` then `delete` makes the delete valid whether or not the table exists.
    let mut cmds = vec![
        json!({"add": {"table": table()}}),
        json!({"delete": {"table": table()}}),
    ];
    if active.is_empty() {
        return json!({"nftables": cmds});
    }
    cmds.push(json!({"add": {"table": table()}}));
    cmds.push(chain("prerouting", Some(("nat", "prerouting", -100))));
    cmds.push(chain("output", Some(("nat", "output", -100))));
    cmds.push(chain("postrouting", Some(("nat", "postrouting", 100))));
    cmds.push(chain("forward", Some(("filter", "forward", 0))));
    cmds.push(chain("ports", None));
    let local = eq(
        json!({"fib": {"result": "type", "flags": ["daddr"]}}),
        json!("local"),
    );
    cmds.push(rule(
        "prerouting",
        vec![local.clone(), json!({"jump": {"target": "ports"}})],
    ));
    cmds.push(rule(
        "output",
        vec![local, json!({"jump": {"target": "ports"}})],
    ));

    let bridges: Vec<&str> = active.iter().map(|n| n.bridge.as_str()).collect();
    for n in &active {
        let Some(subnet) = n.subnet else { continue };
        let b = n.bridge.as_str();
        if n.internal {
            cmds.push(rule(
                "forward",
                vec![
                    eq(meta("iifname"), json!(b)),
                    ne(meta("oifname"), json!(b)),
                    json!({"drop": null}),
                ],
            ));
            cmds.push(rule(
                "forward",
                vec![
                    eq(meta("oifname"), json!(b)),
                    ne(meta("iifname"), json!(b)),
                    json!({"drop": null}),
                ],
            ));
        } else {
            let others: Vec<&str> = bridges.iter().copied().filter(|o| *o != b).collect();
            if !others.is_empty() {
                cmds.push(rule(
                    "forward",
                    vec![
                        eq(meta("iifname"), json!(b)),
                        eq(meta("oifname"), json!({"set": others})),
                        json!({"drop": null}),
                    ],
                ));
            }
            cmds.push(rule(
                "postrouting",
                vec![
                    eq(payload("ip", "saddr"), prefix(&subnet)),
                    ne(meta("oifname"), json!(b)),
                    json!({"masquerade": null}),
                ],
            ));
        }
        cmds.push(rule(
            "postrouting",
            vec![
                eq(meta("oifname"), json!(b)),
                eq(
                    payload("ip", "saddr"),
                    json!({"prefix": {"addr": "127.0.0.0", "len": 8}}),
                ),
                json!({"masquerade": null}),
            ],
        ));
        cmds.push(rule(
            "postrouting",
            vec![
                eq(meta("oifname"), json!(b)),
                eq(payload("ip", "saddr"), prefix(&subnet)),
                json!({"match": {"op": "in", "left": {"ct": {"key": "status"}}, "right": "dnat"}}),
                json!({"masquerade": null}),
            ],
        ));
    }

    // Published ports: to the container's address on its first network.
    for c in st.containers.values().filter(|c| c.running) {
        let Some(ep) = c.endpoints.first() else {
            continue;
        };
        let (Some(ip), Some(net)) = (ep.ip, st.networks.get(&ep.network_id)) else {
            continue;
        };
        if net.internal {
            continue;
        }
        for p in &c.ports {
            let mut expr = Vec::new();
            if !p.host_ip.is_empty() && p.host_ip != "0.0.0.0" {
                expr.push(eq(payload("ip", "daddr"), json!(p.host_ip)));
            }
            expr.push(eq(payload(&p.proto, "dport"), json!(p.host_port)));
            expr.push(json!({"dnat": {"addr": ip.to_string(), "port": p.container_port}}));
            cmds.push(rule("ports", expr));
        }
    }
    json!({"nftables": cmds})
}

/// Does the batch create the table (rather than only remove it)?
pub fn has_rules(batch: &Value) -> bool {
    batch["nftables"].as_array().is_some_and(|c| c.len() > 2)
}

/// Feed a JSON batch to `nft -j -f` on its standard input.
pub fn run_nft(batch: &Value) -> Result<()> {
    let data = serde_json::to_vec(batch)
        .map_err(|e| EngineError::internal(format!("encoding nftables rules: {e}")))?;
    let mut child = Command::new(nft_binary())
        // nft turns "-" into /dev/stdin, which minimal systems (an initramfs) lack;
        // /proc/self/fd/0 is the same pipe wherever /proc is mounted.
        .args(["-j", "-f", "/proc/self/fd/0"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                EngineError::unavailable(
                    "the nft tool is not installed: install nftables (apt-get install nftables) to use bridge networks",
                )
            } else {
                EngineError::io("running nft", e)
            }
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(&data)
            .map_err(|e| EngineError::io("sending rules to nft", e))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| EngineError::io("waiting for nft", e))?;
    if !out.status.success() {
        return Err(EngineError::unavailable(format!(
            "nftables refused wharf's rules (table {FAMILY} {TABLE}): {}; is the nf_tables kernel module available?",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// `nft` from the usual places (sbin may be missing from a user's PATH).
fn nft_binary() -> &'static str {
    for p in ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"] {
        if std::path::Path::new(p).exists() {
            return p;
        }
    }
    "nft"
}
