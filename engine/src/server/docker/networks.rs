//! Docker API: networks.

use super::{unsupported, Call, Handled};
use crate::server::bridge::Responder;

/// `list`.
#[allow(unused_variables)]
pub fn list(c: &mut Call, out: &mut Responder) -> Handled {
    Err(unsupported("networks list", "not there yet"))
}

/// `create`.
#[allow(unused_variables)]
pub fn create(c: &mut Call, out: &mut Responder) -> Handled {
    Err(unsupported("networks create", "not there yet"))
}

/// `prune`.
#[allow(unused_variables)]
pub fn prune(c: &mut Call, out: &mut Responder) -> Handled {
    Err(unsupported("networks prune", "not there yet"))
}

/// `inspect`.
#[allow(unused_variables)]
pub fn inspect(c: &mut Call, out: &mut Responder, id: &str) -> Handled {
    Err(unsupported("networks inspect", "not there yet"))
}

/// `remove`.
#[allow(unused_variables)]
pub fn remove(c: &mut Call, out: &mut Responder, id: &str) -> Handled {
    Err(unsupported("networks remove", "not there yet"))
}

/// `connect`.
#[allow(unused_variables)]
pub fn connect(c: &mut Call, out: &mut Responder, id: &str) -> Handled {
    Err(unsupported("networks connect", "not there yet"))
}

/// `disconnect`.
#[allow(unused_variables)]
pub fn disconnect(c: &mut Call, out: &mut Responder, id: &str) -> Handled {
    Err(unsupported("networks disconnect", "not there yet"))
}
