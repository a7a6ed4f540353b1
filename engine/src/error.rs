//! Errors of the engine API: each names the object, what failed and what to do.

use serde::{Deserialize, Serialize};

/// What kind of failure an [`EngineError`] is; clients map it to exit codes or HTTP statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The named object does not exist.
    NotFound,
    /// The request itself is malformed (bad reference, bad flag value, ...).
    InvalidArgument,
    /// The object exists but is in a state that forbids the request (in use, name taken, ...).
    Conflict,
    /// The caller's role does not allow the request.
    PermissionDenied,
    /// Data on disk or in an archive is damaged or does not match its digest.
    Corrupt,
    /// A remote (registry) or system resource failed.
    Unavailable,
    /// An I/O error on the host (disk full, permission, ...).
    Io,
    /// A bug or an unexpected state in wharf itself.
    Internal,
}

/// An error returned by every engine call.
///
/// `message` is a whole sentence for a person: the object, the problem, and what to do.
#[derive(Debug, Clone, thiserror::Error, Serialize, Deserialize, PartialEq, Eq)]
#[error("{message}")]
pub struct EngineError {
    pub kind: ErrorKind,
    pub message: String,
}

/// Result of every engine call.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;

impl EngineError {
    /// Any kind with a free-form message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// `what` `name` does not exist; `hint` says what to do.
    pub fn not_found(what: &str, name: &str, hint: &str) -> Self {
        let mut m = format!("{what} {name:?} not found");
        if !hint.is_empty() {
            m.push_str(": ");
            m.push_str(hint);
        }
        Self::new(ErrorKind::NotFound, m)
    }

    /// Bad input from the caller.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }

    /// The object is in a state that forbids the request.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }

    /// Data does not match what it claims to be.
    pub fn corrupt(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Corrupt, message)
    }

    /// The caller may not do this.
    pub fn denied(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::PermissionDenied, message)
    }

    /// A remote or system resource failed.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, message)
    }

    /// A bug or unexpected state.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    /// An I/O error while doing `doing` (e.g. "writing blob sha256:ab12..").
    /// A full disk gets its own advice.
    pub fn io(doing: impl std::fmt::Display, err: std::io::Error) -> Self {
        let advice = match err.raw_os_error() {
            Some(libc::ENOSPC) | Some(libc::EDQUOT) => {
                "; the disk is full: free space (e.g. `wharf system prune`) and try again"
            }
            Some(libc::EACCES) | Some(libc::EPERM) => {
                "; permission denied: run wharf as root or through sudo"
            }
            Some(libc::EROFS) => "; the file system is read-only",
            _ => "",
        };
        Self::new(ErrorKind::Io, format!("{doing}: {err}{advice}"))
    }

    /// An errno from a syscall while doing `doing`.
    pub fn sys(doing: impl std::fmt::Display, errno: nix::errno::Errno) -> Self {
        Self::io(doing, std::io::Error::from_raw_os_error(errno as i32))
    }

    /// Prefix the message with context, keeping the kind.
    pub fn context(mut self, ctx: impl std::fmt::Display) -> Self {
        self.message = format!("{ctx}: {}", self.message);
        self
    }
}

/// Attach a description of what was being done to an `io::Result`.
pub trait IoContext<T> {
    /// Map an I/O error to [`EngineError::io`] with `doing` as context.
    fn ctx(self, doing: impl FnOnce() -> String) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx(self, doing: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| EngineError::io(doing(), e))
    }
}

impl<T> IoContext<T> for nix::Result<T> {
    fn ctx(self, doing: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| EngineError::sys(doing(), e))
    }
}
