//! Docker API: attach, start, exec and resize.

use http::StatusCode;

use super::{status_only, unsupported, Call, Handled};
use crate::api::*;
use crate::policy::Action;
use crate::server::bridge::Responder;

/// Exec instances by id.
#[derive(Default)]
pub struct Execs {}

/// Attaches waiting for their container's start.
#[derive(Default)]
pub struct PendingAttaches {}

#[allow(unused_variables)]
pub fn attach(c: &mut Call, out: &mut Responder, id: &str) -> Handled {
    Err(unsupported("attach", "not yet"))
}
/// `POST /containers/{id}/start`: `204`, or `304` when it already runs.
pub fn start(c: &mut Call, out: &mut Responder, id: &str) -> Handled {
    let e = &c.sh.engine;
    e.gate().precheck(c.caller, Action::ContainerStart)?;
    if c.q("detachKeys").is_some_and(|k| !k.is_empty()) {
        // Accepted for old clients; detach keys belong to the attach request.
    }
    let running = e
        .container_inspect(c.caller, id)?
        .pointer("/State/Running")
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false);
    if running {
        status_only(out, StatusCode::NOT_MODIFIED);
        return Ok(());
    }
    e.container_start(c.caller, id)?;
    status_only(out, StatusCode::NO_CONTENT);
    Ok(())
}
#[allow(unused_variables)]
pub fn resize_container(c: &mut Call, out: &mut Responder, id: &str) -> Handled {
    Err(unsupported("resize", "not yet"))
}
#[allow(unused_variables)]
pub fn exec_create(c: &mut Call, out: &mut Responder, id: &str) -> Handled {
    Err(unsupported("exec", "not yet"))
}
#[allow(unused_variables)]
pub fn exec_start(c: &mut Call, out: &mut Responder, id: &str) -> Handled {
    Err(unsupported("exec", "not yet"))
}
#[allow(unused_variables)]
pub fn exec_resize(c: &mut Call, out: &mut Responder, id: &str) -> Handled {
    Err(unsupported("exec", "not yet"))
}
#[allow(unused_variables)]
pub fn exec_inspect(c: &mut Call, out: &mut Responder, id: &str) -> Handled {
    Err(unsupported("exec", "not yet"))
}
