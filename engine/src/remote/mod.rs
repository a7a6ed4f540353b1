//! The engine behind a Unix socket (`wharf serve`) and the client that speaks to it.
//!
//! The protocol mirrors the engine API: `POST /v1/<method>` with the method's arguments
//! as a JSON array; a plain answer is `200` with the result as JSON, an error is a 4xx/5xx
//! status with an [`EngineError`](crate::EngineError) as JSON. Streams (events, logs,
//! stats, pull progress) answer with a chunked body of JSON lines, each
//! `{"item": ...}`, ending with `{"end": RESULT}` or `{"error": ERROR}`. The caller's
//! identity comes from the kernel (SO_PEERCRED), never from what the client sends.

pub mod browse;
pub mod client;
mod conn;
pub mod docker;
pub mod ssh;

use serde::{Deserialize, Serialize};

use crate::error::{EngineError, ErrorKind};

/// Default socket path.
pub const DEFAULT_SOCKET: &str = "/run/wharf/wharf.sock";

/// The HTTP status for an error kind.
pub fn status_for(kind: ErrorKind) -> u16 {
    match kind {
        ErrorKind::NotFound => 404,
        ErrorKind::InvalidArgument => 400,
        ErrorKind::Conflict => 409,
        ErrorKind::PermissionDenied => 403,
        ErrorKind::Corrupt => 422,
        ErrorKind::Unavailable => 503,
        ErrorKind::Io => 507,
        ErrorKind::Internal => 500,
    }
}

/// One line of a streamed answer.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StreamLine {
    /// An item of the stream (an event, a log line, a stats sample, a progress update).
    Item(serde_json::Value),
    /// The stream ended; the method's result.
    End(serde_json::Value),
    /// The stream ended with an error.
    Error(EngineError),
}
