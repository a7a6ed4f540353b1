//! Where a container's files live.

use std::path::PathBuf;

use crate::LocalEngine;

/// `containers/<id>/`
pub fn dir(engine: &LocalEngine, id: &str) -> PathBuf {
    engine.root().containers().join(id)
}

/// The json-file log, `containers/<id>/<id>-json.log` (as Docker names it).
pub fn log_file(engine: &LocalEngine, id: &str) -> PathBuf {
    dir(engine, id).join(format!("{id}-json.log"))
}

/// The monitor's attach socket. Unix socket paths are limited to 107 bytes, so it
/// lives under `run/` with a shortened id rather than in the container's directory.
pub fn attach_socket(engine: &LocalEngine, id: &str) -> PathBuf {
    engine
        .root()
        .run()
        .join(format!("c-{}.sock", &id[..id.len().min(20)]))
}
