//! Docker API: attach, start, exec and resize.

use super::{unsupported, Call, Handled};
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
#[allow(unused_variables)]
pub fn start(c: &mut Call, out: &mut Responder, id: &str) -> Handled {
    Err(unsupported("start", "not yet"))
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
