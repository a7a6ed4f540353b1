//! The docker-style flag grammar, in one place: every front end (the CLI, the console's
//! run form, the Docker Engine API, compose) turns text into engine values through these
//! `FromStr` types and per-flag functions, and the engine checks the values it receives
//! with the same rules (the `check_*` functions, used by the runtime's validation).
//!
//! Everything here is pure: no I/O, no reads of the host. What depends on the host (how
//! many CPUs it has, which paths exist) is checked by the engine when a request arrives.
//!
//! Errors name the flag, the value (quoted, cut to 60 characters) and what to write
//! instead. The grammar pieces ([`ByteSize`], [`NanoCpus`], [`PortSpec`], ...) do not
//! know which flag they serve; [`flag`] (or a per-flag function such as [`memory`])
//! adds the flag's name.

use std::fmt;
use std::str::FromStr;

use crate::error::EngineError;

pub mod argv;
mod misc;
mod mounts;
mod net;
mod num;
mod ports;
mod resources;

pub use misc::*;
pub use mounts::*;
pub use net::*;
pub use ports::*;
pub use resources::*;

/// A value refused by a grammar piece: the value as given and why, with what to write
/// instead. [`BadValue::for_flag`] turns it into the engine's error for one flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadValue {
    /// The value as given.
    pub value: String,
    /// Why it was refused and what to write instead (a clause, no final period).
    pub reason: String,
}

impl BadValue {
    /// `value` refused because of `reason`.
    pub fn new(value: &str, reason: impl Into<String>) -> Self {
        BadValue {
            value: value.to_string(),
            reason: reason.into(),
        }
    }

    /// The error for `flag` (`--memory`, `-p`): `invalid --memory "nan": ...`.
    pub fn for_flag(&self, flag: &str) -> EngineError {
        EngineError::invalid(format!(
            "invalid {flag} {}: {}",
            shown(&self.value),
            self.reason
        ))
    }
}

impl fmt::Display for BadValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid value {}: {}", shown(&self.value), self.reason)
    }
}

impl std::error::Error for BadValue {}

// No `From<BadValue> for EngineError`: a second conversion into `EngineError` would make
// `?` ambiguous in untyped closures elsewhere in the engine. Use `for_flag`.

/// A value for a message: quoted and escaped (control characters, NUL), cut to 60
/// characters so a hostile value cannot flood a terminal or a log.
pub fn shown(v: &str) -> String {
    let mut cut: String = v.chars().take(60).collect();
    if cut.len() < v.len() {
        cut.push('…');
    }
    format!("{cut:?}")
}

/// Parse `value` of `flag` as `T`; the error names the flag and the value.
pub fn flag<T: FromStr<Err = BadValue>>(flag: &str, value: &str) -> Result<T, EngineError> {
    value.parse().map_err(|e: BadValue| e.for_flag(flag))
}

/// The seccomp part of `--security-opt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seccomp {
    /// `seccomp=builtin` (or not given): wharf's default profile, Docker's equivalent.
    Default,
    /// `seccomp=unconfined`: no filter at all.
    Unconfined,
    /// A Docker-format JSON profile (the CLI inlines the file's content).
    Profile(String),
}

/// One `--security-opt` value, as Docker accepts them (`key=value`, or `key:value`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecurityOpt {
    /// `no-new-privileges[=true|false]`.
    NoNewPrivileges(bool),
    /// `seccomp=...`.
    Seccomp(Seccomp),
    /// `apparmor=PROFILE`. wharf applies no AppArmor profile; only `unconfined`, which
    /// says exactly that, is accepted (see [`SecurityOpt::check_supported`]).
    Apparmor(String),
    /// `label=...` (SELinux). wharf applies no SELinux labels; only `disable` is accepted.
    Label(String),
    /// `systempaths=unconfined`: no masked or read-only /proc and /sys paths.
    SystemPaths,
    /// `writable-cgroups=true|false`.
    WritableCgroups(bool),
}

fn parse_bool(opt: &str, v: &str) -> Result<bool, EngineError> {
    match v {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(EngineError::invalid(format!(
            "invalid --security-opt {opt:?}: the value must be true or false"
        ))),
    }
}

impl FromStr for SecurityOpt {
    type Err = EngineError;

    fn from_str(s: &str) -> Result<Self, EngineError> {
        let shown: String = s.chars().take(60).collect();
        if s == "no-new-privileges" {
            return Ok(SecurityOpt::NoNewPrivileges(true));
        }
        let (key, value) = match (s.split_once('='), s.split_once(':')) {
            (Some((k, v)), Some((k2, v2))) => {
                if k.len() < k2.len() {
                    (k, v)
                } else {
                    (k2, v2)
                }
            }
            (Some(kv), None) | (None, Some(kv)) => kv,
            (None, None) => {
                let hint = if s.starts_with("no-new-priv") {
                    " (did you mean no-new-privileges?)"
                } else {
                    ""
                };
                return Err(EngineError::invalid(format!(
                    "invalid --security-opt {shown:?}{hint}: use no-new-privileges, seccomp=unconfined|PROFILE.json, apparmor=unconfined or label=disable"
                )));
            }
        };
        Ok(match key {
            "no-new-privileges" => SecurityOpt::NoNewPrivileges(parse_bool(&shown, value)?),
            "seccomp" => SecurityOpt::Seccomp(match value {
                "unconfined" => Seccomp::Unconfined,
                "builtin" | "default" => Seccomp::Default,
                "" => return Err(EngineError::invalid(
                    "invalid --security-opt seccomp=: name a profile file, unconfined or builtin",
                )),
                json => Seccomp::Profile(json.to_string()),
            }),
            "apparmor" => SecurityOpt::Apparmor(value.to_string()),
            "label" => SecurityOpt::Label(value.to_string()),
            "systempaths" => {
                if value != "unconfined" {
                    return Err(EngineError::invalid(format!(
                        "invalid --security-opt {shown:?}: systempaths takes only unconfined"
                    )));
                }
                SecurityOpt::SystemPaths
            }
            "writable-cgroups" => SecurityOpt::WritableCgroups(parse_bool(&shown, value)?),
            other => {
                let hint = if other.starts_with("no-new-priv") {
                    " (did you mean no-new-privileges?)"
                } else {
                    ""
                };
                return Err(EngineError::invalid(format!(
                    "unknown --security-opt {other:?}{hint}: wharf understands no-new-privileges, seccomp, apparmor, label, systempaths and writable-cgroups"
                )));
            }
        })
    }
}

impl SecurityOpt {
    /// Refuse what wharf does not do, by name: AppArmor profiles, SELinux labels,
    /// unmasked system paths and writable cgroups.
    pub fn check_supported(&self) -> Result<(), EngineError> {
        match self {
            SecurityOpt::Apparmor(p) if p != "unconfined" => Err(EngineError::invalid(format!(
                "--security-opt apparmor={p} is not supported: wharf applies no AppArmor profile (only apparmor=unconfined, which is what wharf does, is accepted)"
            ))),
            SecurityOpt::Label(l) if l != "disable" => Err(EngineError::invalid(format!(
                "--security-opt label={l} is not supported: wharf applies no SELinux labels (only label=disable is accepted)"
            ))),
            SecurityOpt::SystemPaths => Err(EngineError::invalid(
                "--security-opt systempaths=unconfined is not supported by wharf: use --privileged where the role allows it",
            )),
            SecurityOpt::WritableCgroups(true) => Err(EngineError::invalid(
                "--security-opt writable-cgroups=true is not supported by wharf: use --privileged where the role allows it",
            )),
            _ => Ok(()),
        }
    }
}

impl fmt::Display for SecurityOpt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecurityOpt::NoNewPrivileges(b) => write!(f, "no-new-privileges={b}"),
            SecurityOpt::Seccomp(Seccomp::Default) => f.write_str("seccomp=builtin"),
            SecurityOpt::Seccomp(Seccomp::Unconfined) => f.write_str("seccomp=unconfined"),
            SecurityOpt::Seccomp(Seccomp::Profile(_)) => f.write_str("seccomp=<profile>"),
            SecurityOpt::Apparmor(p) => write!(f, "apparmor={p}"),
            SecurityOpt::Label(l) => write!(f, "label={l}"),
            SecurityOpt::SystemPaths => f.write_str("systempaths=unconfined"),
            SecurityOpt::WritableCgroups(b) => write!(f, "writable-cgroups={b}"),
        }
    }
}

/// Parse every `--security-opt` of a request; the first bad one is the error.
pub fn security_opts(opts: &[String]) -> Result<Vec<SecurityOpt>, EngineError> {
    opts.iter().map(|o| o.parse()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn security_opts_as_docker_reads_them() {
        let p = |s: &str| s.parse::<SecurityOpt>();
        assert_eq!(
            p("no-new-privileges").unwrap(),
            SecurityOpt::NoNewPrivileges(true)
        );
        assert_eq!(
            p("no-new-privileges:false").unwrap(),
            SecurityOpt::NoNewPrivileges(false)
        );
        assert_eq!(
            p("no-new-privileges=true").unwrap(),
            SecurityOpt::NoNewPrivileges(true)
        );
        assert_eq!(
            p("seccomp:unconfined").unwrap(),
            SecurityOpt::Seccomp(Seccomp::Unconfined)
        );
        assert_eq!(
            p("seccomp=builtin").unwrap(),
            SecurityOpt::Seccomp(Seccomp::Default)
        );
        // A profile's JSON has colons and equals signs of its own.
        let json = r#"{"defaultAction":"SCMP_ACT_ALLOW","x":"a=b"}"#;
        assert_eq!(
            p(&format!("seccomp={json}")).unwrap(),
            SecurityOpt::Seccomp(Seccomp::Profile(json.into()))
        );
        let e = p("no-new-privilege").unwrap_err();
        assert!(e.message.contains("did you mean no-new-privileges"), "{e}");
        assert!(p("bogus").is_err());
        assert!(p("no-new-privileges=maybe").is_err());
        assert!(p("apparmor=foo").unwrap().check_supported().is_err());
        assert!(p("apparmor=unconfined").unwrap().check_supported().is_ok());
        assert!(p("label=disable").unwrap().check_supported().is_ok());
        assert!(p("label=type:svirt_t").unwrap().check_supported().is_err());
        assert!(p("systempaths=unconfined")
            .unwrap()
            .check_supported()
            .is_err());
    }
}
