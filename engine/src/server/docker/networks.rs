//! Docker API: networks (`/networks`, `/networks/create`, `/networks/{id}`,
//! `/networks/{id}/connect|disconnect`, `/networks/prune`), on the engine's bridge
//! networks. Creating a network records it; its bridge appears on the host only when a
//! container on it starts.

use http::StatusCode;
use serde_json::{json, Value};

use super::fields::{bad_type, refuse, Fields};
use super::{json_status, ok, status_only, unsupported, Call, Handled};
use crate::api::{NetworkApi, NetworkConnect, NetworkCreate, NetworkInfo, NetworkListOptions};
use crate::error::EngineError;
use crate::filters::bool_value;
use crate::policy::Action;
use crate::server::bridge::Responder;

/// A network in Docker's shape: the engine's [`NetworkInfo`] without wharf's `Owner`.
pub fn network_json(n: &NetworkInfo) -> Value {
    let mut v = serde_json::to_value(n).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.remove("Owner");
    }
    v
}

/// `GET /networks?filters=`: driver, id, label, name, scope, type, dangling.
pub fn list(c: &mut Call, out: &mut Responder) -> Handled {
    let mut filters = Vec::new();
    for (k, v) in c.filters()? {
        match k.as_str() {
            "dangling" => {
                let d = bool_value(&k, &v)?;
                filters.push((k, d.to_string()));
            }
            "driver" | "id" | "label" | "name" | "scope" | "type" => filters.push((k, v)),
            other => {
                return Err(EngineError::invalid(format!(
                    "invalid filter '{other}': networks are filtered by dangling, driver, id, label, name, scope or type"
                )))
            }
        }
    }
    let nets =
        c.sh.engine
            .network_list(c.caller, &NetworkListOptions { filters })?;
    let rows: Vec<Value> = nets.iter().map(network_json).collect();
    ok(out, &rows);
    Ok(())
}

/// Option keys of Docker's bridge driver, with why wharf does not take them.
fn option_hint(key: &str) -> &'static str {
    match key {
        "com.docker.network.bridge.name" => {
            "wharf names the bridge of each network itself (wh-<id>)"
        }
        "com.docker.network.driver.mtu" | "com.docker.network.mtu" => {
            "wharf's bridges use the default MTU"
        }
        "com.docker.network.bridge.enable_icc" => {
            "containers of one wharf network always reach each other; use separate networks to keep them apart"
        }
        "com.docker.network.bridge.enable_ip_masquerade" => {
            "wharf masquerades traffic of every network that is not internal; use --internal for a network without a way out"
        }
        "com.docker.network.bridge.host_binding_ipv4" => {
            "give the host address with each published port (-p IP:PORT:PORT)"
        }
        "com.docker.network.bridge.default_bridge" => "there is one default bridge, bridge",
        _ => "wharf's bridge driver takes no driver options",
    }
}

/// `POST /networks/create`: a bridge network. `201 {"Id": ..., "Warning": ""}`; `409`
/// when the name is taken.
pub fn create(c: &mut Call, out: &mut Responder) -> Handled {
    c.sh.engine
        .gate()
        .precheck(c.caller, Action::NetworkCreate)?;
    let body = c.json_body()?;
    let mut f = Fields::of("network create", &body)?;
    let Some(name) = f.string("Name")? else {
        return Err(EngineError::invalid(
            "network create: a network needs a Name",
        ));
    };
    // Deprecated: dockerd checks duplicates whatever it says (API 1.44+), as wharf does.
    f.opt_bool("CheckDuplicate")?;
    let driver = f.string("Driver")?.unwrap_or_default();
    match driver.as_str() {
        "" | "bridge" => {}
        "overlay" | "ipvlan" | "macvlan" | "host" | "null" | "none" => {
            return Err(unsupported(
                &format!("network driver {driver:?}"),
                "wharf creates bridge networks only (host and none exist already)",
            ))
        }
        other => {
            return Err(unsupported(
                &format!("network driver {other:?}"),
                "wharf has no network plugins and creates bridge networks only",
            ))
        }
    }
    match f.string("Scope")?.as_deref() {
        None | Some("local") => {}
        Some(s) => {
            return Err(unsupported(
                &format!("network scope {s:?}"),
                "wharf networks are local to this machine (no swarm)",
            ))
        }
    }
    let internal = f.bool("Internal")?;
    // `Attachable` lets standalone containers join a swarm-scoped network; on a local
    // bridge network it changes nothing in dockerd either (docker-compose 1.29 sends
    // `true` for every network it makes), and every wharf network takes containers.
    let _ = f.bool("Attachable")?;
    f.zero("Ingress", "the ingress network belongs to swarm")?;
    f.zero("ConfigOnly", "wharf has no configuration-only networks")?;
    f.zero("ConfigFrom", "wharf has no configuration-only networks")?;
    f.zero("EnableIPv6", "wharf networks are IPv4 only")?;
    if f.opt_bool("EnableIPv4")? == Some(false) {
        return Err(refuse(
            &f.at("EnableIPv4"),
            &Value::Bool(false),
            "wharf networks are IPv4 networks",
        ));
    }
    let mut ipam = f.object("IPAM")?;
    match ipam.string("Driver")?.as_deref() {
        None | Some("default") => {}
        Some(d) => {
            return Err(unsupported(
                &format!("IPAM driver {d:?}"),
                "wharf has its own address allocation (default) only",
            ))
        }
    }
    ipam.zero("Options", "wharf's address allocation takes no options")?;
    let pools: &[Value] = match ipam.get("Config") {
        None => &[],
        Some(Value::Array(a)) => a,
        Some(other) => return Err(bad_type(&ipam.at("Config"), "a list of pools", other)),
    };
    let pool_path = format!("{}[0]", ipam.at("Config"));
    ipam.finish()?;
    if pools.len() > 1 {
        return Err(unsupported(
            &format!("{} IPAM pools", pools.len()),
            "a wharf network has one subnet; create one network per subnet",
        ));
    }
    let mut spec = NetworkCreate {
        name,
        driver: Some("bridge".into()),
        internal,
        ..Default::default()
    };
    if let Some(pool) = pools.first() {
        let mut p = Fields::new(&pool_path, Some(pool))?;
        spec.subnet = p.string("Subnet")?;
        spec.gateway = p.string("Gateway")?;
        spec.ip_range = p.string("IPRange")?;
        p.zero(
            "AuxiliaryAddresses",
            "wharf reserves no addresses besides the gateway",
        )?;
        p.finish()?;
    }
    let options = f.string_map("Options")?;
    if let Some(k) = options.keys().next() {
        return Err(unsupported(
            &format!("network option {k}={}", options[k]),
            option_hint(k),
        ));
    }
    spec.labels = f.string_map("Labels")?;
    f.finish()?;
    let id = c.sh.engine.network_create(c.caller, &spec)?;
    json_status(out, StatusCode::CREATED, &json!({"Id": id, "Warning": ""}));
    Ok(())
}

/// `POST /networks/prune`: user networks no container uses. `{"NetworksDeleted": [...]}`.
pub fn prune(c: &mut Call, out: &mut Responder) -> Handled {
    if let Some((k, v)) = c.filters()?.into_iter().next() {
        return Err(match k.as_str() {
            "label" | "label!" | "until" => unsupported(
                &format!("pruning networks by {k} ({k}={v})"),
                "list them with docker network ls --filter and remove them by name",
            ),
            other => EngineError::invalid(format!(
                "invalid filter '{other}': network prune takes no filters on wharf"
            )),
        });
    }
    let r = c.sh.engine.network_prune(c.caller)?;
    ok(out, &json!({"NetworksDeleted": r.deleted}));
    Ok(())
}

/// `GET /networks/{id}?verbose=&scope=`.
pub fn inspect(c: &mut Call, out: &mut Responder, id: &str) -> Handled {
    // Verbose adds swarm services and peers, which wharf networks never have.
    c.q_bool("verbose", false)?;
    match c.q("scope").as_deref() {
        None | Some("") | Some("local") => {}
        Some("swarm") | Some("global") => {
            return Err(EngineError::not_found(
                "network",
                id,
                "wharf networks are local (scope=local); there is no swarm",
            ))
        }
        Some(s) => {
            return Err(EngineError::invalid(format!(
                "invalid scope {s:?}: use local, swarm or global"
            )))
        }
    }
    let n = c.sh.engine.network_inspect(c.caller, id)?;
    ok(out, &network_json(&n));
    Ok(())
}

/// `DELETE /networks/{id}`: `204`.
pub fn remove(c: &mut Call, out: &mut Responder, id: &str) -> Handled {
    c.sh.engine.network_remove(c.caller, id)?;
    status_only(out, StatusCode::NO_CONTENT);
    Ok(())
}

/// `POST /networks/{id}/connect`: `{"Container": ..., "EndpointConfig": {"Aliases",
/// "IPAMConfig": {"IPv4Address"}}}`. A stopped container is connected at its next start.
pub fn connect(c: &mut Call, out: &mut Responder, id: &str) -> Handled {
    c.sh.engine
        .gate()
        .precheck(c.caller, Action::NetworkConnect)?;
    let body = c.json_body()?;
    let mut f = Fields::of("network connect", &body)?;
    let Some(container) = f.string("Container")? else {
        return Err(EngineError::invalid(
            "network connect: name the container in the Container field",
        ));
    };
    let mut ep = f.object("EndpointConfig")?;
    f.finish()?;
    let opts = endpoint_config(&mut ep)?;
    c.sh.engine
        .network_connect(c.caller, id, &container, &opts)?;
    status_only(out, StatusCode::OK);
    Ok(())
}

/// What wharf takes of an `EndpointSettings`: aliases and a static IPv4 address.
/// Operational fields that clients echo back empty are accepted when empty.
pub fn endpoint_config(ep: &mut Fields) -> Result<NetworkConnect, EngineError> {
    let aliases = ep.string_list("Aliases")?;
    let mut ipam = ep.object("IPAMConfig")?;
    let ip = ipam.string("IPv4Address")?;
    ipam.zero("IPv6Address", "wharf networks are IPv4 only")?;
    ipam.zero("LinkLocalIPs", "wharf assigns no link-local addresses")?;
    ipam.finish()?;
    ep.zero(
        "Links",
        "legacy links are not supported; containers of a user-defined network reach each other by name",
    )?;
    ep.zero(
        "MacAddress",
        "wharf derives each endpoint's MAC address from its IP address",
    )?;
    ep.zero(
        "DriverOpts",
        "wharf's bridge driver takes no endpoint options",
    )?;
    ep.zero(
        "GwPriority",
        "wharf routes through the first network a container joined",
    )?;
    for k in [
        "NetworkID",
        "EndpointID",
        "Gateway",
        "IPAddress",
        "IPPrefixLen",
        "IPv6Gateway",
        "GlobalIPv6Address",
        "GlobalIPv6PrefixLen",
        "DNSNames",
    ] {
        ep.zero(
            k,
            "it is reported by the engine, not set by the client; use IPAMConfig.IPv4Address for a fixed address",
        )?;
    }
    Ok(NetworkConnect { ip, aliases })
}

/// `POST /networks/{id}/disconnect`: `{"Container": ..., "Force": bool}`.
pub fn disconnect(c: &mut Call, out: &mut Responder, id: &str) -> Handled {
    c.sh.engine
        .gate()
        .precheck(c.caller, Action::NetworkDisconnect)?;
    let body = c.json_body()?;
    let mut f = Fields::of("network disconnect", &body)?;
    let Some(container) = f.string("Container")? else {
        return Err(EngineError::invalid(
            "network disconnect: name the container in the Container field",
        ));
    };
    // Force lets dockerd drop endpoints of containers it no longer knows; wharf's
    // disconnect works in every container state, so it changes nothing.
    f.opt_bool("Force")?;
    f.finish()?;
    c.sh.engine.network_disconnect(c.caller, id, &container)?;
    status_only(out, StatusCode::OK);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_config_takes_aliases_and_ip_and_refuses_the_rest() {
        let body = json!({"Aliases": ["a"], "IPAMConfig": {"IPv4Address": "10.1.0.5", "IPv6Address": ""},
               "Links": null, "MacAddress": "", "NetworkID": "", "IPPrefixLen": 0});
        let mut ep = Fields::new("EndpointConfig", Some(&body)).unwrap();
        let o = endpoint_config(&mut ep).unwrap();
        ep.finish().unwrap();
        assert_eq!(o.aliases, vec!["a".to_string()]);
        assert_eq!(o.ip.as_deref(), Some("10.1.0.5"));
        for bad in [
            json!({"Links": ["x:y"]}),
            json!({"MacAddress": "02:42:ac:11:00:02"}),
            json!({"IPAMConfig": {"IPv6Address": "fd00::2"}}),
            json!({"IPAddress": "10.0.0.2"}),
        ] {
            let mut ep = Fields::new("EndpointConfig", Some(&bad)).unwrap();
            let e = endpoint_config(&mut ep).unwrap_err();
            assert!(e.message.contains("not supported"), "{bad}: {e}");
        }
    }

    #[test]
    fn network_json_drops_the_owner() {
        let n = NetworkInfo {
            name: "n".into(),
            owner: 1000,
            ..Default::default()
        };
        let v = network_json(&n);
        assert!(v.get("Owner").is_none());
        assert_eq!(v["Name"], "n");
    }
}
