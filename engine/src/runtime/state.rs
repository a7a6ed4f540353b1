//! The run state of one container, `containers/<id>/state.json`, and how it is told
//! truthfully: a recorded pid only counts as alive if `/proc/<pid>` still has the
//! start time that was recorded with it (pids are reused).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::api::ContainerStatus;
use crate::error::{EngineError, IoContext, Result};
use crate::state::{read_json, FileLock};

/// What happened to a container, as the monitor and the engine record it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RunState {
    pub status: ContainerStatus,
    /// Host pid of the container's pid 1 (0 when not running).
    pub pid: i32,
    /// Its start time in clock ticks since boot (field 22 of /proc/pid/stat).
    pub pid_start: u64,
    /// Host pid of the monitor (0 when none).
    pub monitor_pid: i32,
    pub monitor_start: u64,
    pub exit_code: i32,
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
    pub error: String,
    /// RFC 3339, empty when never.
    pub started_at: String,
    pub finished_at: String,
    pub restart_count: u32,
    /// Set by `stop`/`kill`: restart policies (except `always` at next boot) leave it stopped.
    pub manually_stopped: bool,
    /// The boot the pids belong to (`/proc/sys/kernel/random/boot_id`).
    pub boot_id: String,
    /// Set by `rm -f` while a monitor still runs: remove when it exits.
    #[serde(default)]
    pub remove_requested: bool,
}

impl Default for RunState {
    fn default() -> Self {
        RunState {
            status: ContainerStatus::Created,
            pid: 0,
            pid_start: 0,
            monitor_pid: 0,
            monitor_start: 0,
            exit_code: 0,
            oom_killed: false,
            error: String::new(),
            started_at: String::new(),
            finished_at: String::new(),
            restart_count: 0,
            manually_stopped: false,
            boot_id: boot_id(),
            remove_requested: false,
        }
    }
}

impl RunState {
    /// Is the container's pid 1 still the process that was started?
    pub fn pid_alive(&self) -> bool {
        self.pid > 0 && self.boot_id == boot_id() && proc_alive(self.pid, self.pid_start)
    }
    /// Is the monitor still running?
    pub fn monitor_alive(&self) -> bool {
        self.monitor_pid > 0
            && self.boot_id == boot_id()
            && proc_alive(self.monitor_pid, self.monitor_start)
    }
}

/// Path of the state file.
pub fn state_path(dir: &Path) -> PathBuf {
    dir.join("state.json")
}

/// Read the state (default when missing). A reader that opened the state just before
/// a save swapped it out, and read it during the save after, may find it half written
/// ([`crate::state::replace_via_spare`]): it reads again. An empty state is one a crash
/// caught before it was written out (states are not synced, and a rewrite never empties
/// the file first): as if missing, to be re-derived like any state after a crash.
pub fn load(dir: &Path) -> Result<RunState> {
    let path = state_path(dir);
    let mut again = 2;
    loop {
        match read_json(&path) {
            Err(e) if e.kind == crate::error::ErrorKind::Corrupt => {
                if std::fs::metadata(&path).is_ok_and(|m| m.len() == 0) {
                    return Ok(RunState::default());
                }
                if again == 0 {
                    return Err(e);
                }
                again -= 1;
            }
            r => return Ok(r?.unwrap_or_default()),
        }
    }
}

/// Write the state: written into its spare, then swapped into place, never torn (see
/// [`crate::state::replace_via_spare`]). Writers hold the container's lock ([`lock`]),
/// or the container is not yet known to anyone (its create).
///
/// Unlike configs, the run state is not fsynced: it is rewritten at every transition
/// (several times per container start), and after a crash it is re-derived anyway
/// (pids are checked against /proc and the boot id, see [`RunState::pid_alive`]), so a
/// state one transition old is told truthfully on the next look.
pub fn save(dir: &Path, st: &RunState) -> Result<()> {
    let path = state_path(dir);
    let data = serde_json::to_vec_pretty(st)
        .map_err(|e| EngineError::internal(format!("serializing {}: {e}", path.display())))?;
    crate::state::replace_via_spare(&dir.join(".state.json.spare"), &path, &data)
        .ctx(|| format!("writing {}", path.display()))
}

/// The per-container lock that serializes state changes between the engine and the monitor.
pub fn lock(dir: &Path) -> Result<FileLock> {
    FileLock::exclusive(&dir.join("lock"))
}

/// Load, change and save the state under the container's lock; returns the new state.
pub fn update(dir: &Path, f: impl FnOnce(&mut RunState)) -> Result<RunState> {
    let _l = lock(dir)?;
    let mut st = load(dir)?;
    f(&mut st);
    save(dir, &st)?;
    Ok(st)
}

pub use crate::state::boot_id;

/// Start time (clock ticks since boot) and state letter of `pid`, from /proc.
pub fn proc_stat(pid: i32) -> Option<(u64, char)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    let rest = &s[s.rfind(')')? + 2..];
    let mut fields = rest.split(' ');
    let state = fields.next()?.chars().next()?;
    // `rest` starts at field 3; starttime is field 22.
    let start = fields.nth(18)?.parse().ok()?;
    Some((start, state))
}

/// Start time of `pid`, if it exists (zombies included).
pub fn proc_start(pid: i32) -> Option<u64> {
    proc_stat(pid).map(|(s, _)| s)
}

/// Is `pid` the process started at `start`, and not a zombie?
pub fn proc_alive(pid: i32, start: u64) -> bool {
    matches!(proc_stat(pid), Some((s, st)) if s == start && st != 'Z' && st != 'X')
}

/// Now as RFC 3339 with nanoseconds (Docker's format).
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_is_alive_and_start_time_matters() {
        let me = std::process::id() as i32;
        let start = proc_start(me).unwrap();
        assert!(proc_alive(me, start));
        assert!(!proc_alive(me, start + 1));
        assert!(!proc_alive(i32::MAX - 1, 0));
    }

    #[test]
    fn an_empty_state_is_a_missing_one_and_a_damaged_one_an_error() {
        let d = tempfile::tempdir().unwrap();
        let st = RunState {
            exit_code: 3,
            ..Default::default()
        };
        save(d.path(), &st).unwrap();
        save(d.path(), &st).unwrap();
        assert_eq!(load(d.path()).unwrap().exit_code, 3);
        std::fs::write(state_path(d.path()), b"").unwrap();
        assert_eq!(load(d.path()).unwrap().exit_code, 0);
        std::fs::write(state_path(d.path()), b"{\"Status\":").unwrap();
        let e = load(d.path()).unwrap_err();
        assert_eq!(e.kind, crate::error::ErrorKind::Corrupt, "{e}");
    }
}
