//! Docker API: volumes (`/volumes`, `/volumes/create`, `/volumes/{name}`,
//! `/volumes/prune`), on the engine's local volumes.

use http::StatusCode;
use serde_json::{json, Value};

use super::fields::Fields;
use super::{json_status, ok, status_only, unsupported, Call, Handled};
use crate::api::{Volume, VolumeApi, VolumeCreate, VolumeListOptions};
use crate::error::EngineError;
use crate::filters::bool_value;
use crate::policy::Action;
use crate::server::bridge::Responder;

/// `GET /volumes?filters=`: `{"Volumes": [...], "Warnings": []}`; filters dangling,
/// driver, label, name.
pub fn list(c: &mut Call, out: &mut Responder) -> Handled {
    let mut filters = Vec::new();
    for (k, v) in c.filters()? {
        match k.as_str() {
            "dangling" => {
                let d = bool_value(&k, &v)?;
                filters.push((k, d.to_string()));
            }
            "driver" | "label" | "name" => filters.push((k, v)),
            other => {
                return Err(EngineError::invalid(format!(
                "invalid filter '{other}': volumes are filtered by dangling, driver, label or name"
            )))
            }
        }
    }
    let vols =
        c.sh.engine
            .volume_list(c.caller, &VolumeListOptions { filters })?;
    let rows: Vec<Value> = vols.iter().map(plain_json).collect();
    ok(out, &json!({"Volumes": rows, "Warnings": []}));
    Ok(())
}

/// `POST /volumes/create`: `Name`, `Driver` (local), `Labels`; `DriverOpts` and
/// `ClusterVolumeSpec` are refused when set. `201` with the volume.
pub fn create(c: &mut Call, out: &mut Responder) -> Handled {
    c.sh.engine
        .gate()
        .precheck(c.caller, Action::VolumeCreate)?;
    let body = c.json_body()?;
    let mut f = Fields::of("volume create", &body)?;
    let name = f.string("Name")?;
    let driver = f.string("Driver")?.unwrap_or_default();
    if !driver.is_empty() && driver != "local" {
        return Err(unsupported(
            &format!("volume driver {driver:?}"),
            "wharf has the local volume driver only",
        ));
    }
    f.zero(
        "DriverOpts",
        "wharf's local volumes are plain directories; mount other file systems (nfs, tmpfs, devices) on the host and bind-mount them",
    )?;
    f.zero(
        "ClusterVolumeSpec",
        "cluster volumes belong to swarm, and wharf is not a swarm",
    )?;
    let labels = f.string_map("Labels")?;
    f.finish()?;
    let v =
        c.sh.engine
            .volume_create(c.caller, &VolumeCreate { name, labels })?;
    json_status(out, StatusCode::CREATED, &plain_json(&v));
    Ok(())
}

/// `POST /volumes/prune?filters=`: unused anonymous volumes, or every unused volume with
/// the `all` filter (dockerd 23+ and API 1.42+). Label and other filters are refused.
pub fn prune(c: &mut Call, out: &mut Responder) -> Handled {
    let mut all = false;
    for (k, v) in c.filters()? {
        match k.as_str() {
            "all" => all = bool_value(&k, &v)?,
            "label" | "label!" => {
                return Err(unsupported(
                    &format!("pruning volumes by label ({k}={v})"),
                    "list them with docker volume ls --filter label=... and remove them by name",
                ))
            }
            other => {
                return Err(EngineError::invalid(format!(
                    "invalid filter '{other}': volume prune takes the all filter"
                )))
            }
        }
    }
    let r = c.sh.engine.volume_prune(c.caller, all)?;
    ok(
        out,
        &json!({"VolumesDeleted": r.deleted, "SpaceReclaimed": r.reclaimed}),
    );
    Ok(())
}

/// `GET /volumes/{name}`.
pub fn inspect(c: &mut Call, out: &mut Responder, name: &str) -> Handled {
    let v = c.sh.engine.volume_inspect(c.caller, name)?;
    ok(out, &plain_json(&v));
    Ok(())
}

/// `DELETE /volumes/{name}?force=`: `204`; `409` while a container uses it (even with
/// force, as dockerd), in dockerd's words.
pub fn remove(c: &mut Call, out: &mut Responder, name: &str) -> Handled {
    let force = c.q_bool("force", false)?;
    c.sh.engine.volume_remove(c.caller, name, force)?;
    status_only(out, StatusCode::NO_CONTENT);
    Ok(())
}

/// A volume as `GET /volumes` and `GET /volumes/{name}` give it: without `UsageData`,
/// which dockerd fills for `GET /system/df` only.
fn plain_json(v: &Volume) -> Value {
    let mut j = volume_json(v);
    if let Some(o) = j.as_object_mut() {
        o.remove("UsageData");
    }
    j
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
