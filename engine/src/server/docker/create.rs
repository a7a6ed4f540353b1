//! Docker API: create.

use super::{unsupported, Call, Handled};
use crate::server::bridge::Responder;

/// `create`.
#[allow(unused_variables)]
pub fn create(c: &mut Call, out: &mut Responder) -> Handled {
    Err(unsupported("create create", "not there yet"))
}
