//! Docker API: containers.

use serde_json::{json, Value};

use super::{unsupported, Call, Handled};
use crate::api::ContainerSummary;
use crate::server::bridge::Responder;

/// `list`.
#[allow(unused_variables)]
pub fn list(c: &mut Call, out: &mut Responder) -> Handled {
    Err(unsupported("containers list", "not there yet"))
}

/// `prune`.
#[allow(unused_variables)]
pub fn prune(c: &mut Call, out: &mut Responder) -> Handled {
    Err(unsupported("containers prune", "not there yet"))
}

/// `GET /containers/{id}/json`.
pub fn inspect(c: &mut Call, out: &mut Responder, id: &str) -> Handled {
    use crate::api::ContainerApi;
    let v = c.sh.engine.container_inspect(c.caller, id)?;
    super::ok(out, &v);
    Ok(())
}

/// `top`.
#[allow(unused_variables)]
pub fn top(c: &mut Call, out: &mut Responder, id: &str) -> Handled {
    Err(unsupported("containers top", "not there yet"))
}

/// `logs`.
#[allow(unused_variables)]
pub fn logs(c: &mut Call, out: &mut Responder, id: &str) -> Handled {
    Err(unsupported("containers logs", "not there yet"))
}

/// `changes`.
#[allow(unused_variables)]
pub fn changes(c: &mut Call, out: &mut Responder, id: &str) -> Handled {
    Err(unsupported("containers changes", "not there yet"))
}

/// `export`.
#[allow(unused_variables)]
pub fn export(c: &mut Call, out: &mut Responder, id: &str) -> Handled {
    Err(unsupported("containers export", "not there yet"))
}

/// `stats`.
#[allow(unused_variables)]
pub fn stats(c: &mut Call, out: &mut Responder, id: &str) -> Handled {
    Err(unsupported("containers stats", "not there yet"))
}

/// `stop`.
#[allow(unused_variables)]
pub fn stop(c: &mut Call, out: &mut Responder, id: &str) -> Handled {
    Err(unsupported("containers stop", "not there yet"))
}

/// `restart`.
#[allow(unused_variables)]
pub fn restart(c: &mut Call, out: &mut Responder, id: &str) -> Handled {
    Err(unsupported("containers restart", "not there yet"))
}

/// `kill`.
#[allow(unused_variables)]
pub fn kill(c: &mut Call, out: &mut Responder, id: &str) -> Handled {
    Err(unsupported("containers kill", "not there yet"))
}

/// `update`.
#[allow(unused_variables)]
pub fn update(c: &mut Call, out: &mut Responder, id: &str) -> Handled {
    Err(unsupported("containers update", "not there yet"))
}

/// `rename`.
#[allow(unused_variables)]
pub fn rename(c: &mut Call, out: &mut Responder, id: &str) -> Handled {
    Err(unsupported("containers rename", "not there yet"))
}

/// `pause`.
#[allow(unused_variables)]
pub fn pause(c: &mut Call, out: &mut Responder, id: &str) -> Handled {
    Err(unsupported("containers pause", "not there yet"))
}

/// `unpause`.
#[allow(unused_variables)]
pub fn unpause(c: &mut Call, out: &mut Responder, id: &str) -> Handled {
    Err(unsupported("containers unpause", "not there yet"))
}

/// `wait`.
#[allow(unused_variables)]
pub fn wait(c: &mut Call, out: &mut Responder, id: &str) -> Handled {
    Err(unsupported("containers wait", "not there yet"))
}

/// `remove`.
#[allow(unused_variables)]
pub fn remove(c: &mut Call, out: &mut Responder, id: &str) -> Handled {
    Err(unsupported("containers remove", "not there yet"))
}

/// `archive_head`.
#[allow(unused_variables)]
pub fn archive_head(c: &mut Call, out: &mut Responder, id: &str) -> Handled {
    Err(unsupported("containers archive_head", "not there yet"))
}

/// `archive_get`.
#[allow(unused_variables)]
pub fn archive_get(c: &mut Call, out: &mut Responder, id: &str) -> Handled {
    Err(unsupported("containers archive_get", "not there yet"))
}

/// `archive_put`.
#[allow(unused_variables)]
pub fn archive_put(c: &mut Call, out: &mut Responder, id: &str) -> Handled {
    Err(unsupported("containers archive_put", "not there yet"))
}

/// A row of `GET /containers/json`, in Docker's shape.
pub fn summary_json(c: &ContainerSummary) -> Value {
    let ports: Vec<Value> = c
        .ports
        .iter()
        .map(|p| {
            let mut v = json!({"PrivatePort": p.container_port, "Type": p.proto});
            if p.host_port != 0 {
                v["PublicPort"] = json!(p.host_port);
                v["IP"] = json!(if p.host_ip.is_empty() {
                    "0.0.0.0"
                } else {
                    &p.host_ip
                });
            }
            v
        })
        .collect();
    let mut v = json!({
        "Id": c.id,
        "Names": [format!("/{}", c.name)],
        "Image": c.image,
        "ImageID": c.image_id,
        "Command": c.command,
        "Created": c.created,
        "Ports": ports,
        "Labels": c.labels,
        "State": c.state.as_str(),
        "Status": c.status,
        "HostConfig": {"NetworkMode": c.networks.first().cloned().unwrap_or_else(|| "default".into())},
        "NetworkSettings": {"Networks": c.networks.iter().map(|n| (n.clone(), json!({"NetworkID": ""}))).collect::<serde_json::Map<_, _>>()},
        "Mounts": [],
    });
    if let Some(s) = c.size_rw {
        v["SizeRw"] = json!(s);
    }
    v
}
