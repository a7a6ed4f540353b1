//! Exec and the container toolbox: `exec`, `top`, `cp`, `diff`, `commit`, `export`.
//!
//! An exec session is a stream in the attach protocol ([`crate::runtime::attach`]):
//! output frames, then an `EXIT` frame with the exit code; the client sends stdin,
//! stdin EOF, terminal resizes and [`EXEC_SIGNAL`] frames. A socket server can forward
//! that stream byte for byte.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;

use serde::{Deserialize, Serialize};

use crate::caller::Caller;
use crate::error::Result;

/// Client-to-exec frame kind (attach protocol extension): deliver the signal whose
/// number is the payload (decimal) to the exec'd process.
pub const EXEC_SIGNAL: u8 = 7;

/// `wharf exec` options.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecConfig {
    /// The command and its arguments (looked up in the container's PATH).
    pub cmd: Vec<String>,
    /// `-e KEY=VALUE`, added to the container's environment.
    pub env: Vec<String>,
    /// `-u user[:group]`; the container's user when `None`.
    pub user: Option<String>,
    /// `-w DIR`; the container's working directory when `None`.
    pub workdir: Option<String>,
    /// `-t`: a pty.
    pub tty: bool,
    /// `-i`: keep stdin open.
    pub stdin: bool,
    /// `-d`: run in the background, output discarded.
    pub detach: bool,
    /// With `tty`: the terminal's (rows, columns) from the start; later changes travel
    /// as resize frames.
    #[serde(default)]
    pub console_size: Option<(u16, u16)>,
}

/// A started exec.
#[derive(Debug)]
pub struct ExecSession {
    /// The exec id (64 hex), as in the exec events.
    pub id: String,
    /// The host pid of the exec'd process.
    pub pid: i32,
    /// The attach-protocol stream; `None` with `detach`.
    pub stream: Option<UnixStream>,
}

/// `wharf top`: ps-style columns and rows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopResult {
    pub titles: Vec<String>,
    pub processes: Vec<Vec<String>>,
}

/// What kind of change `wharf diff` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChangeKind {
    /// `C`
    Modified,
    /// `A`
    Added,
    /// `D`
    Deleted,
}

impl ChangeKind {
    /// The letter `docker diff` prints.
    pub fn letter(&self) -> char {
        match self {
            ChangeKind::Modified => 'C',
            ChangeKind::Added => 'A',
            ChangeKind::Deleted => 'D',
        }
    }
}

/// One line of `wharf diff`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub kind: ChangeKind,
    /// Absolute path in the container.
    pub path: String,
}

/// A path in a container, as `cp` needs to know it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathStat {
    pub name: String,
    pub size: u64,
    /// st_mode.
    pub mode: u32,
    pub is_dir: bool,
    /// Target of a symlink.
    pub link_target: Option<String>,
    /// Last modification, seconds since the epoch.
    #[serde(default)]
    pub mtime: i64,
}

/// `wharf commit` options.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitOptions {
    /// `REPOSITORY[:TAG]`; an untagged image when `None`.
    pub reference: Option<String>,
    /// `-m`
    pub message: Option<String>,
    /// `-a`
    pub author: Option<String>,
    /// `-c 'CMD ["x"]'`, Dockerfile instructions applied to the config.
    pub changes: Vec<String>,
    /// `--pause` (Docker's default true): freeze a running container while its layer is read.
    pub pause: bool,
}

/// Exec calls.
pub trait ExecApi {
    /// `wharf exec`: run a process in a running container's namespaces and cgroup with
    /// its capabilities, seccomp profile, no_new_privs, rlimits and environment.
    fn exec(&self, caller: &Caller, container: &str, cfg: &ExecConfig) -> Result<ExecSession>;
}

/// The container toolbox.
pub trait ToolboxApi {
    /// `wharf top`: the container's processes (found by its cgroup).
    fn container_top(&self, caller: &Caller, container: &str) -> Result<TopResult>;
    /// `wharf diff`: changes of the writable layer against the image.
    fn container_diff(&self, caller: &Caller, container: &str) -> Result<Vec<Change>>;
    /// `wharf export`: the container's root file system as a tar.
    fn container_export(&self, caller: &Caller, container: &str, out: &mut dyn Write)
        -> Result<()>;
    /// `wharf commit`: the writable layer as a new layer on the container's image; the new image id.
    fn container_commit(
        &self,
        caller: &Caller,
        container: &str,
        opts: &CommitOptions,
    ) -> Result<String>;
    /// What `path` in the container is (symlinks resolved inside the container's root).
    fn container_stat_path(&self, caller: &Caller, container: &str, path: &str)
        -> Result<PathStat>;
    /// `cp CTR:path -`: a tar of `path` (entries named from its base name).
    fn container_archive_get(
        &self,
        caller: &Caller,
        container: &str,
        path: &str,
        out: &mut dyn Write,
    ) -> Result<PathStat>;
    /// `cp - CTR:dir`: extract a tar into the existing directory `dir` of the container.
    fn container_archive_put(
        &self,
        caller: &Caller,
        container: &str,
        dir: &str,
        input: &mut dyn Read,
    ) -> Result<()>;
}
