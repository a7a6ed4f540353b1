//! The docker-style command line: one module per area, each with its own
//! `Cmd` enum (flattened into the top-level command) and `run` function.

// First, so that in every module below `println!` and friends are the capturing ones
// of [`out`] (the console shows a typed command's output in a window).
#[macro_use]
pub mod out;

pub mod audit;
pub mod build;
pub mod compose;
pub mod containers;
pub mod env;
pub mod format;
pub mod gotmpl;
pub mod images;
pub mod journal;
pub mod networks;
pub mod refusals;
pub mod registry;
pub mod serve;
pub mod session;
pub mod stats;
pub mod system;
pub mod toolbox;
pub mod trace;
pub mod volumes;

use std::collections::BTreeMap;
use std::sync::Arc;

use wharf_engine::policy::Policy;
use wharf_engine::{Caller, Engine, EngineError, ErrorKind, LocalEngine, Role};

/// What every command runs with: the engine and who is asking.
pub struct Ctx {
    /// The engine API: the embedded engine, or a `wharf serve` reached with `--host`.
    pub api: Arc<dyn Engine>,
    /// The embedded engine; `None` with `--host`.
    pub local: Option<Arc<LocalEngine>>,
    pub caller: Caller,
}

impl Ctx {
    /// The engine as the API trait object (what the console and server use too).
    pub fn api(&self) -> &dyn Engine {
        self.api.as_ref()
    }

    /// The embedded engine, for what only it can do (monitors, serving, attaching to a
    /// local container's terminal).
    pub fn local(&self) -> Result<&Arc<LocalEngine>, EngineError> {
        self.local.as_ref().ok_or_else(|| {
            EngineError::invalid(
                "this command needs the embedded engine and does not work through --host yet: \
                 run it on the engine's machine",
            )
        })
    }
}

/// `--label KEY=VALUE` strings to a map (a bare KEY gets an empty value, as Docker
/// does; an empty key is refused), by the flag grammar.
pub fn parse_labels(list: &[String]) -> Result<BTreeMap<String, String>, EngineError> {
    list.iter()
        .map(|l| wharf_engine::api::flags::label(l))
        .collect()
}

/// `key=value` filter strings to pairs.
pub fn parse_filters(list: &[String]) -> Result<Vec<(String, String)>, String> {
    list.iter()
        .map(|f| {
            f.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| format!("invalid filter {f:?}: use key=value"))
        })
        .collect()
}

/// The caller of this process: the real user, or the user behind sudo (SUDO_UID).
/// Without a policy wharf is single-user and that user is admin; with one, the role and
/// project come from the policy.
pub fn resolve_caller(policy: Option<&Policy>) -> Caller {
    let mut uid = nix::unistd::getuid().as_raw();
    let mut gid = nix::unistd::getgid().as_raw();
    if uid == 0 {
        if let (Some(u), Some(g)) = (env_u32("SUDO_UID"), env_u32("SUDO_GID")) {
            uid = u;
            gid = g;
        }
    }
    if let Some(p) = policy {
        return p.caller_for(uid);
    }
    let name = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| uid.to_string());
    Caller {
        uid,
        gid,
        name,
        role: Role::admin(),
        project: None,
    }
}

/// `--as USER`: an admin previews what `user` sees and may do. Refused for anyone else;
/// audited either way.
pub fn preview_as(engine: &LocalEngine, admin: &Caller, user: &str) -> Result<Caller, EngineError> {
    let uid = match user.parse::<u32>() {
        Ok(uid) => uid,
        Err(_) => nix::unistd::User::from_name(user)
            .ok()
            .flatten()
            .map(|u| u.uid.as_raw())
            .ok_or_else(|| {
                EngineError::not_found(
                    "user",
                    user,
                    "give a user name or uid known to this machine",
                )
            })?,
    };
    engine.gate().preview_as(admin, uid, user)
}

/// Load the policy: `--policy PATH` if given, else the default file if it exists.
/// `Ok(None)` = single-user mode. A broken file is an error: never a more open fallback.
pub fn load_policy(path: Option<&std::path::Path>) -> Result<Option<Policy>, EngineError> {
    let default = std::path::Path::new(wharf_engine::policy::DEFAULT_POLICY);
    match path {
        Some(p) => Policy::load(p).map(Some),
        None if default.exists() => Policy::load(default).map(Some),
        None => Ok(None),
    }
}

fn env_u32(k: &str) -> Option<u32> {
    std::env::var(k).ok()?.parse().ok()
}

/// Exit status for an engine error, as Docker's CLI: 125 when wharf itself fails.
pub fn exit_code_for(_e: &EngineError) -> i32 {
    125
}

/// Print an engine error the way every command does.
pub fn report(e: &EngineError) {
    let prefix = match e.kind {
        ErrorKind::PermissionDenied => "wharf: permission denied",
        ErrorKind::NotFound => "wharf: not found",
        _ => "wharf",
    };
    eprintln!("{prefix}: {e}");
}

/// Format seconds since the epoch as "3 minutes ago", as the docker CLI does.
pub fn ago(secs: i64) -> String {
    let now = chrono::Utc::now().timestamp();
    let d = (now - secs).max(0);
    let (n, unit) = match d {
        0..=1 => return "Less than a second ago".into(),
        2..=59 => (d, "second"),
        60..=3599 => (d / 60, "minute"),
        3600..=86399 => (d / 3600, "hour"),
        86400..=1209599 => (d / 86400, "day"),
        1209600..=5183999 => (d / 604800, "week"),
        5184000..=31535999 => (d / 2592000, "month"),
        _ => (d / 31536000, "year"),
    };
    if n == 1 {
        match unit {
            "hour" => "About an hour ago".into(),
            "minute" => "About a minute ago".into(),
            _ => format!("1 {unit} ago"),
        }
    } else {
        format!("{n} {unit}s ago")
    }
}

/// Docker's human sizes: decimal units, 3 significant digits ("4.27MB").
pub fn human_size(bytes: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1000.0 && i < units.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    // Three significant digits, trailing zeros dropped.
    let decimals = if i == 0 || v >= 100.0 {
        0
    } else if v >= 10.0 {
        1
    } else {
        2
    };
    let mut digits = format!("{v:.decimals$}");
    if digits.contains('.') {
        digits = digits
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string();
    }
    format!("{digits}{}", units[i])
}

/// Print rows as left-aligned columns separated by three spaces (docker's table style).
pub fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
    }
    // The whole table in one write (a line at a time is a system call per row).
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let start = out.len();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                out.push_str(c);
            } else {
                use std::fmt::Write as _;
                let _ = write!(out, "{c:<w$}   ", w = widths[i]);
            }
        }
        let end = out[start..].trim_end().len();
        out.truncate(start + end);
        out.push('\n');
    };
    line(header.to_vec());
    for r in rows {
        line(r.iter().map(String::as_str).collect());
    }
    print!("{out}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_like_docker() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(999), "999B");
        assert_eq!(human_size(4_270_000), "4.27MB");
        assert_eq!(human_size(12_300_000), "12.3MB");
        assert_eq!(human_size(1_500_000_000), "1.5GB");
    }
}
