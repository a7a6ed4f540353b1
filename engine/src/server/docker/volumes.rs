//! Docker API: volumes.

use serde_json::{json, Value};

use super::{unsupported, Call, Handled};
use crate::api::Volume;
use crate::server::bridge::Responder;

/// `list`.
#[allow(unused_variables)]
pub fn list(c: &mut Call, out: &mut Responder) -> Handled {
    Err(unsupported("volumes list", "not there yet"))
}

/// `create`.
#[allow(unused_variables)]
pub fn create(c: &mut Call, out: &mut Responder) -> Handled {
    Err(unsupported("volumes create", "not there yet"))
}

/// `prune`.
#[allow(unused_variables)]
pub fn prune(c: &mut Call, out: &mut Responder) -> Handled {
    Err(unsupported("volumes prune", "not there yet"))
}

/// `inspect`.
#[allow(unused_variables)]
pub fn inspect(c: &mut Call, out: &mut Responder, name: &str) -> Handled {
    Err(unsupported("volumes inspect", "not there yet"))
}

/// `remove`.
#[allow(unused_variables)]
pub fn remove(c: &mut Call, out: &mut Responder, name: &str) -> Handled {
    Err(unsupported("volumes remove", "not there yet"))
}

/// A volume in Docker's shape (without wharf's owner fields).
pub fn volume_json(v: &Volume) -> Value {
    let mut j = json!({
        "Name": v.name,
        "Driver": v.driver,
        "Mountpoint": v.mountpoint,
        "CreatedAt": v.created_at,
        "Labels": v.labels,
        "Scope": v.scope,
        "Options": v.options,
    });
    if let Some(u) = &v.usage_data {
        j["UsageData"] = json!({"Size": u.size, "RefCount": u.ref_count});
    }
    j
}
