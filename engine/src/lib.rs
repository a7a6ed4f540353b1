//! wharf-engine: the container engine behind wharf, and its one API.
//!
//! Start at [`api::Engine`] (what can be asked) and [`LocalEngine`] (the in-process
//! implementation on a state root).

#![recursion_limit = "256"]

pub mod api;
pub mod build;
pub mod caller;
pub mod compose;
pub mod error;
pub mod events;
pub mod filters;
pub mod ids;
pub mod image;
pub mod local;
pub mod network;
pub mod policy;
pub mod remote;
pub mod runtime;
pub mod server;
pub mod state;
pub mod stats;
pub mod trace;
pub mod volume;

/// The engine's version (what `info` says).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub use api::Engine;
pub use caller::{Caller, Role};
pub use error::{EngineError, ErrorKind, Result};
pub use local::{EngineOptions, LocalEngine};
