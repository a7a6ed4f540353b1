//! The rest of the run grammar: restart policies, ulimits, durations, signals,
//! environment, labels, extra hosts, DNS servers, log options, working directory,
//! host name, stop timeout and health checks.

use std::net::IpAddr;
use std::str::FromStr;

use super::resources::DecimalSize;
use super::{flag, num, shown, BadValue};
use crate::api::{HealthConfig, RestartPolicy, Ulimit};
use crate::error::EngineError;

impl FromStr for RestartPolicy {
    type Err = BadValue;

    /// `--restart`: `no` (or empty), `on-failure[:N]` (N ≥ 0 retries), `always`,
    /// `unless-stopped`. A retry count with any other policy is refused, as Docker does.
    fn from_str(s: &str) -> Result<Self, BadValue> {
        const HINT: &str = "use no, on-failure[:N], always or unless-stopped";
        let (name, count) = match s.split_once(':') {
            Some((n, c)) => (n, Some(c)),
            None => (s, None),
        };
        let retries = |c: Option<&str>| -> Result<u32, BadValue> {
            match c {
                None | Some("") => Ok(0),
                Some(c) => num::uint(c)
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| {
                        BadValue::new(
                            s,
                            format!("the retry count {c:?} is not a whole number of 0 or more; write on-failure:3"),
                        )
                    }),
            }
        };
        match name {
            "on-failure" => Ok(RestartPolicy::OnFailure {
                max_retries: retries(count)?,
            }),
            "" | "no" | "always" | "unless-stopped" if count.is_some() => Err(BadValue::new(
                s,
                format!("a retry count goes only with on-failure; {HINT}"),
            )),
            "" | "no" => Ok(RestartPolicy::No),
            "always" => Ok(RestartPolicy::Always),
            "unless-stopped" => Ok(RestartPolicy::UnlessStopped),
            _ => Err(BadValue::new(
                s,
                format!("it is not a restart policy; {HINT}"),
            )),
        }
    }
}

/// `--restart`.
pub fn restart(v: &str) -> Result<RestartPolicy, EngineError> {
    flag("--restart", v)
}

/// The ulimit names wharf knows: Docker's, and `as` (which Docker leaves out).
pub const ULIMIT_NAMES: [&str; 16] = [
    "as",
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

fn ulimit_problem(u: &Ulimit) -> Option<String> {
    if !ULIMIT_NAMES.contains(&u.name.as_str()) {
        return Some(format!(
            "{:?} is not a ulimit; use one of {}",
            u.name,
            ULIMIT_NAMES.join(", ")
        ));
    }
    if u.soft < -1 || u.hard < -1 {
        return Some("a limit is a number of 0 or more, or -1 (unlimited)".into());
    }
    if u.hard != -1 && (u.soft == -1 || u.soft > u.hard) {
        return Some("the soft limit must not exceed the hard limit".into());
    }
    None
}

impl FromStr for Ulimit {
    type Err = BadValue;

    /// `--ulimit name=soft[:hard]` as Docker reads it (go-units' `ParseUlimit`): the hard
    /// limit is the soft one when left out; `-1` or `infinity` is unlimited.
    fn from_str(s: &str) -> Result<Self, BadValue> {
        const HINT: &str = "write name=soft[:hard], such as nofile=1024:2048 (-1 is unlimited)";
        let bad = |why: String| BadValue::new(s, format!("{why}; {HINT}"));
        let (name, vals) = s
            .split_once('=')
            .ok_or_else(|| bad("there is no = in it".into()))?;
        let value = |v: &str| -> Result<i64, BadValue> {
            if v == "infinity" {
                return Ok(-1);
            }
            num::int(v).ok_or_else(|| bad(format!("{v:?} is not a whole number")))
        };
        let (soft, hard) = match vals.split(':').collect::<Vec<_>>().as_slice() {
            [soft] => {
                let v = value(soft)?;
                (v, v)
            }
            [soft, hard] => (value(soft)?, value(hard)?),
            _ => return Err(bad("it has more than two values".into())),
        };
        let u = Ulimit {
            name: name.to_string(),
            soft,
            hard,
        };
        match ulimit_problem(&u) {
            Some(why) => Err(BadValue::new(s, why)),
            None => Ok(u),
        }
    }
}

/// `--ulimit`.
pub fn ulimit(v: &str) -> Result<Ulimit, EngineError> {
    flag("--ulimit", v)
}

/// The rules on one ulimit as it reaches the engine.
pub fn check_ulimit(u: &Ulimit) -> Result<(), EngineError> {
    match ulimit_problem(u) {
        Some(why) => Err(EngineError::invalid(format!(
            "invalid --ulimit {}={}:{}: {why}",
            u.name, u.soft, u.hard
        ))),
        None => Ok(()),
    }
}

/// A Go duration (`time.ParseDuration`): `1m30s`, `500ms`, `2h`, `10s`, `1.5h`, `0`;
/// units ns, us (µs), ms, s, m, h; a sign is allowed. In nanoseconds, without overflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GoDuration(pub i64);

impl FromStr for GoDuration {
    type Err = BadValue;

    fn from_str(s: &str) -> Result<Self, BadValue> {
        let bad = || {
            BadValue::new(
                s,
                "it is not a duration; write a number with a unit (ns, us, ms, s, m, h), such as 30s, 1m30s or 500ms",
            )
        };
        let (neg, mut rest) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        if rest == "0" {
            return Ok(GoDuration(0));
        }
        if rest.is_empty() {
            return Err(bad());
        }
        let mut total: u128 = 0;
        while !rest.is_empty() {
            let n_end = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .ok_or_else(bad)?;
            let d = num::decimal(&rest[..n_end], false).ok_or_else(bad)?;
            rest = &rest[n_end..];
            let u_end = rest
                .find(|c: char| c.is_ascii_digit() || c == '.')
                .unwrap_or(rest.len());
            let unit: u128 = match &rest[..u_end] {
                "ns" => 1,
                "us" | "µs" | "μs" => 1_000,
                "ms" => 1_000_000,
                "s" => 1_000_000_000,
                "m" => 60_000_000_000,
                "h" => 3_600_000_000_000,
                _ => return Err(bad()),
            };
            total = d
                .times_floor(unit)
                .and_then(|v| total.checked_add(v))
                .filter(|t| *t <= i64::MAX as u128)
                .ok_or_else(|| {
                    BadValue::new(s, "the duration is too long (at most about 292 years)")
                })?;
            rest = &rest[u_end..];
        }
        let t = total as i64;
        Ok(GoDuration(if neg { -t } else { t }))
    }
}

/// A duration flag such as `--health-interval`: nanoseconds, not negative.
pub fn duration(flag_name: &str, v: &str) -> Result<i64, EngineError> {
    let d = flag::<GoDuration>(flag_name, v)?.0;
    if d < 0 {
        return Err(BadValue::new(v, "a duration cannot be negative").for_flag(flag_name));
    }
    Ok(d)
}

/// The shortest health check duration Docker accepts (other than 0, the default).
pub const MIN_HEALTH_DURATION_NS: i64 = 1_000_000;

/// The rules on the health check fields: a known test form, durations of 0 (the
/// default) or 1ms and more.
pub fn check_health(h: &HealthConfig) -> Result<(), EngineError> {
    if let Some(t) = &h.test {
        let ok = match t.first().map(String::as_str) {
            None => true,
            Some("NONE") => t.len() == 1,
            Some("CMD") => t.len() >= 2,
            Some("CMD-SHELL") => t.len() == 2,
            Some(_) => false,
        };
        if !ok {
            return Err(EngineError::invalid(format!(
                "invalid health check test {}: use [\"CMD-SHELL\", \"command\"], [\"CMD\", \"program\", \"args\"...] or [\"NONE\"] (--health-cmd makes the first)",
                shown(&t.join(" "))
            )));
        }
    }
    for (name, v) in [
        ("--health-interval", h.interval_ns),
        ("--health-timeout", h.timeout_ns),
        ("--health-start-period", h.start_period_ns),
    ] {
        match v {
            Some(d) if d < 0 => {
                return Err(EngineError::invalid(format!(
                    "invalid {name} {d}ns: a duration cannot be negative; give one such as 30s"
                )))
            }
            Some(d) if d > 0 && d < MIN_HEALTH_DURATION_NS => {
                return Err(EngineError::invalid(format!(
                    "invalid {name} {d}ns: the shortest is 1ms; give 1ms or more, or 0 for the default"
                )))
            }
            _ => {}
        }
    }
    Ok(())
}

/// A signal as Docker reads `--stop-signal` and `kill -s`: a number 1-64, or a name
/// with or without `SIG`, any case (`SIGTERM`, `term`, `RTMIN+3`, `RTMAX-1`).
pub fn parse_signal(s: &str) -> Result<i32, EngineError> {
    let t = s.trim();
    let bad = || {
        EngineError::invalid(format!(
            "invalid signal {}: use a name like SIGTERM or KILL, or a number from 1 to 64",
            shown(s)
        ))
    };
    if let Some(n) = num::uint(t) {
        return if (1..=64).contains(&n) {
            Ok(n as i32)
        } else {
            Err(bad())
        };
    }
    let up = t.to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    let (rtmin, rtmax) = (libc::SIGRTMIN(), libc::SIGRTMAX());
    let n = match name {
        "HUP" => libc::SIGHUP,
        "INT" => libc::SIGINT,
        "QUIT" => libc::SIGQUIT,
        "ILL" => libc::SIGILL,
        "TRAP" => libc::SIGTRAP,
        "ABRT" | "IOT" => libc::SIGABRT,
        "BUS" => libc::SIGBUS,
        "FPE" => libc::SIGFPE,
        "KILL" => libc::SIGKILL,
        "USR1" => libc::SIGUSR1,
        "SEGV" => libc::SIGSEGV,
        "USR2" => libc::SIGUSR2,
        "PIPE" => libc::SIGPIPE,
        "ALRM" => libc::SIGALRM,
        "TERM" => libc::SIGTERM,
        "STKFLT" => libc::SIGSTKFLT,
        "CHLD" | "CLD" => libc::SIGCHLD,
        "CONT" => libc::SIGCONT,
        "STOP" => libc::SIGSTOP,
        "TSTP" => libc::SIGTSTP,
        "TTIN" => libc::SIGTTIN,
        "TTOU" => libc::SIGTTOU,
        "URG" => libc::SIGURG,
        "XCPU" => libc::SIGXCPU,
        "XFSZ" => libc::SIGXFSZ,
        "VTALRM" => libc::SIGVTALRM,
        "PROF" => libc::SIGPROF,
        "WINCH" => libc::SIGWINCH,
        "IO" | "POLL" => libc::SIGIO,
        "PWR" => libc::SIGPWR,
        "SYS" => libc::SIGSYS,
        "RTMIN" => rtmin,
        "RTMAX" => rtmax,
        _ => {
            // The offset is up to 20 digits: checked, so a huge one is refused, not
            // wrapped (or, with overflow checks, a panic).
            let offset = |k: &str| num::uint(k).and_then(|k| i64::try_from(k).ok());
            let rt = if let Some(k) = name.strip_prefix("RTMIN+") {
                offset(k).and_then(|k| i64::from(rtmin).checked_add(k))
            } else if let Some(k) = name.strip_prefix("RTMAX-") {
                offset(k).and_then(|k| i64::from(rtmax).checked_sub(k))
            } else {
                None
            };
            match rt {
                Some(n) if (i64::from(rtmin)..=i64::from(rtmax)).contains(&n) => n as i32,
                _ => return Err(bad()),
            }
        }
    };
    Ok(n)
}

/// `--stop-signal`: the value as written, once it names a signal.
pub fn stop_signal(v: &str) -> Result<String, EngineError> {
    parse_signal(v).map_err(|_| {
        BadValue::new(
            v,
            "it is not a signal; use a name like SIGTERM or SIGQUIT, or a number from 1 to 64",
        )
        .for_flag("--stop-signal")
    })?;
    Ok(v.to_string())
}

/// A count flag such as `--health-retries`: a whole number, 0 or more.
pub fn count(flag_name: &str, v: &str) -> Result<u32, EngineError> {
    num::uint(v.trim())
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| {
            BadValue::new(v, "it is not a whole number of 0 or more, such as 3").for_flag(flag_name)
        })
}

/// `--stop-timeout`: whole seconds, 0 or more.
pub fn stop_timeout(v: &str) -> Result<u32, EngineError> {
    num::uint(v.trim())
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| {
            BadValue::new(
                v,
                "it is not a whole number of seconds (0 or more), such as 10",
            )
            .for_flag("--stop-timeout")
        })
}

/// An `-e` value: `KEY=VALUE`, or `KEY` alone for the caller's own value of `KEY` (the
/// front end looks it up; when it has none, nothing is set, as with Docker).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvArg {
    /// `KEY=VALUE`, as written.
    Set(String),
    /// `KEY`: take it from the caller's environment.
    FromCaller(String),
}

fn env_name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("the variable has no name; write KEY=VALUE")
    } else if name.contains('\0') {
        Some("a variable name cannot contain NUL")
    } else {
        None
    }
}

impl FromStr for EnvArg {
    type Err = BadValue;

    fn from_str(s: &str) -> Result<Self, BadValue> {
        let (name, has_value) = match s.split_once('=') {
            Some((k, _)) => (k, true),
            None => (s, false),
        };
        if let Some(why) = env_name_problem(name) {
            return Err(BadValue::new(s, why));
        }
        if s.contains('\0') {
            return Err(BadValue::new(s, "a value cannot contain NUL"));
        }
        Ok(if has_value {
            EnvArg::Set(s.to_string())
        } else {
            EnvArg::FromCaller(s.to_string())
        })
    }
}

/// `-e`.
pub fn env(v: &str) -> Result<EnvArg, EngineError> {
    flag("-e", v)
}

/// One line of an `--env-file`, as Docker reads it: leading spaces dropped, empty lines
/// and `#` comments skipped (`None`), `KEY=VALUE` or `KEY`; a name with spaces in it is
/// refused.
pub fn env_file_line(line: &str) -> Result<Option<EnvArg>, BadValue> {
    let l = line.trim_start();
    if l.is_empty() || l.starts_with('#') {
        return Ok(None);
    }
    let name = l.split_once('=').map_or(l, |(k, _)| k);
    if name.contains(char::is_whitespace) {
        return Err(BadValue::new(
            line,
            format!("the variable name {name:?} contains spaces; write KEY=VALUE"),
        ));
    }
    l.parse().map(Some)
}

/// The rule on one `env` entry as it reaches the engine: `KEY=VALUE`, with a name.
pub fn check_env(e: &str) -> Result<(), EngineError> {
    let refuse = |why: &str| EngineError::invalid(format!("invalid -e {}: {why}", shown(e)));
    let Some((name, _)) = e.split_once('=') else {
        return Err(refuse(
            "an environment entry is KEY=VALUE (the front end fills in a bare KEY from its own environment)",
        ));
    };
    if let Some(why) = env_name_problem(name) {
        return Err(refuse(why));
    }
    if e.contains('\0') {
        return Err(refuse("a value cannot contain NUL"));
    }
    Ok(())
}

fn label_key_problem(key: &str) -> Option<&'static str> {
    if key.trim().is_empty() {
        Some("the label has no key; write key=value")
    } else if key.contains(char::is_whitespace) {
        Some("a label key cannot contain spaces")
    } else if key.contains('\0') {
        Some("a label key cannot contain NUL")
    } else {
        None
    }
}

/// `-l key=value` (`key` alone is `key=""`, as Docker): the pair.
pub fn label(v: &str) -> Result<(String, String), EngineError> {
    let (k, val) = v.split_once('=').unwrap_or((v, ""));
    if let Some(why) = label_key_problem(k) {
        return Err(BadValue::new(v, why).for_flag("--label"));
    }
    if val.contains('\0') {
        return Err(BadValue::new(v, "a label value cannot contain NUL").for_flag("--label"));
    }
    Ok((k.to_string(), val.to_string()))
}

/// The rule on one label as it reaches the engine.
pub fn check_label(key: &str, value: &str) -> Result<(), EngineError> {
    if let Some(why) = label_key_problem(key) {
        return Err(BadValue::new(key, why).for_flag("--label"));
    }
    if value.contains('\0') {
        return Err(BadValue::new(value, "a label value cannot contain NUL").for_flag("--label"));
    }
    Ok(())
}

/// Is `name` a host name (RFC 1123): labels of letters, digits and `-`, not starting
/// or ending with `-`, joined by dots; 63 characters at most (the kernel keeps 64).
pub fn valid_hostname(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.split('.').all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// `-h` / `--hostname`.
pub fn hostname(v: &str) -> Result<String, EngineError> {
    check_hostname(v)?;
    Ok(v.to_string())
}

/// The rule on the container's host name.
pub fn check_hostname(v: &str) -> Result<(), EngineError> {
    if valid_hostname(v) {
        Ok(())
    } else {
        Err(BadValue::new(
            v,
            "a host name is letters, digits and -, in dot-separated parts that neither start nor end with -, 63 characters at most, such as web-1",
        )
        .for_flag("--hostname"))
    }
}

/// `--add-host NAME:IP` (or `NAME=IP`, as newer Docker; an IPv6 address may be in
/// brackets): `NAME:IP`, the form the engine stores.
pub fn add_host(v: &str) -> Result<String, EngineError> {
    let bad = |why: &str| {
        BadValue::new(
            v,
            format!("{why}; write NAME:IP, such as db.local:10.0.0.5"),
        )
        .for_flag("--add-host")
    };
    let (name, ip) = v
        .split_once('=')
        .or_else(|| v.split_once(':'))
        .ok_or_else(|| bad("there is no : between the name and the address"))?;
    if !valid_hostname(name) {
        return Err(bad(&format!("{name:?} is not a host name")));
    }
    let bare = ip
        .strip_prefix('[')
        .and_then(|i| i.strip_suffix(']'))
        .unwrap_or(ip);
    if bare == "host-gateway" {
        return Err(bad(
            "host-gateway is not supported by wharf; give the host's address on the container's network",
        ));
    }
    let ip: IpAddr = bare
        .parse()
        .map_err(|_| bad(&format!("{bare:?} is not an IP address")))?;
    Ok(format!("{name}:{ip}"))
}

/// The rule on one `extra_hosts` entry as it reaches the engine.
pub fn check_extra_host(v: &str) -> Result<(), EngineError> {
    add_host(v).map(|_| ())
}

/// `--dns`: an IP address.
pub fn dns(v: &str) -> Result<String, EngineError> {
    v.parse::<IpAddr>().map(|ip| ip.to_string()).map_err(|_| {
        BadValue::new(v, "a DNS server is an IP address, such as 1.1.1.1").for_flag("--dns")
    })
}

/// One `--log-opt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogOpt {
    /// `max-size=SIZE`: rotate the log at this many bytes (more than 0; decimal units
    /// as Docker's json-file reads them: `10m` is 10,000,000 bytes).
    MaxSize(u64),
    /// `max-file=N`: keep this many files (1 or more).
    MaxFile(u32),
}

impl FromStr for LogOpt {
    type Err = BadValue;

    fn from_str(s: &str) -> Result<Self, BadValue> {
        let Some((k, v)) = s.split_once('=') else {
            return Err(BadValue::new(
                s,
                "a log option is key=value; wharf's json-file log takes max-size=SIZE and max-file=N",
            ));
        };
        match k {
            "max-size" => {
                let b: DecimalSize = v
                    .parse()
                    .map_err(|e: BadValue| BadValue::new(s, e.reason))?;
                if b.0 == 0 {
                    return Err(BadValue::new(s, "max-size must be more than 0, such as 10m"));
                }
                Ok(LogOpt::MaxSize(b.0))
            }
            "max-file" => num::uint(v)
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| *n >= 1)
                .map(LogOpt::MaxFile)
                .ok_or_else(|| BadValue::new(s, "max-file is a whole number of files, 1 or more, such as 3")),
            "compress" | "labels" | "labels-regex" | "env" | "env-regex" | "tag" => Err(BadValue::new(
                s,
                format!("the log option {k} is not supported by wharf's json-file log; it takes max-size and max-file"),
            )),
            _ => Err(BadValue::new(
                s,
                format!("{k:?} is not a log option; wharf's json-file log takes max-size=SIZE and max-file=N"),
            )),
        }
    }
}

/// `--log-opt`.
pub fn log_opt(v: &str) -> Result<LogOpt, EngineError> {
    flag("--log-opt", v)
}

/// `--detach-keys` (run, start, attach, exec) as docker reads it: comma-separated
/// `ctrl-<a-z @ [ \\ ] ^ _>` or single characters (`ctrl-x,x`); empty turns detaching off.
pub fn detach_keys(s: &str) -> Result<Vec<u8>, EngineError> {
    let bad = || {
        EngineError::invalid(format!(
            "invalid --detach-keys {s:?}: use a comma-separated sequence of ctrl-<a-z, @, [, \\, ], ^, _> or single characters, e.g. ctrl-x,x"
        ))
    };
    if s.is_empty() {
        return Ok(vec![]);
    }
    let mut out = Vec::new();
    for part in s.split(',') {
        let lower = part.to_ascii_lowercase();
        if let Some(k) = lower.strip_prefix("ctrl-") {
            out.push(match k.as_bytes() {
                [c @ b'a'..=b'z'] => c - b'a' + 1,
                [b'@'] => 0,
                [b'['] => 27,
                [b'\\'] => 28,
                [b']'] => 29,
                [b'^'] => 30,
                [b'_'] => 31,
                _ => return Err(bad()),
            });
        } else if part.len() == 1 && part.is_ascii() {
            out.push(part.as_bytes()[0]);
        } else {
            return Err(bad());
        }
    }
    Ok(out)
}

/// `--log-driver`: `json-file` (wharf's log, the default) or `none` (no log kept).
/// Docker's other drivers (`local`, `syslog`, `journald`, `gelf`, `fluentd`, ...) are
/// refused by name.
pub fn log_driver(v: &str) -> Result<String, EngineError> {
    check_log_driver(v)?;
    Ok(v.to_string())
}

/// The rule on the logging driver, as it reaches the engine.
pub fn check_log_driver(v: &str) -> Result<(), EngineError> {
    match v {
        "json-file" | "none" => Ok(()),
        "local" => Err(EngineError::invalid(
            "--log-driver local is not supported: wharf keeps json-file logs (the default; \
             --log-opt max-size= and max-file= rotate them) or none",
        )),
        other => Err(EngineError::invalid(format!(
            "--log-driver {other:?} is not supported: use json-file (the default) or none"
        ))),
    }
}

/// The rules on the log options as they reach the engine.
pub fn check_log(max_size: Option<u64>, max_files: Option<u32>) -> Result<(), EngineError> {
    if max_size == Some(0) || max_size.is_some_and(|s| s > i64::MAX as u64) {
        return Err(EngineError::invalid(
            "invalid --log-opt max-size: it must be more than 0, such as 10m",
        ));
    }
    if max_files == Some(0) {
        return Err(EngineError::invalid(
            "invalid --log-opt max-file=0: keep 1 file or more",
        ));
    }
    Ok(())
}

/// `-w` / `--workdir`: an absolute path in the container.
pub fn workdir(v: &str) -> Result<String, EngineError> {
    check_workdir(v)?;
    Ok(v.to_string())
}

/// The rule on the working directory.
pub fn check_workdir(v: &str) -> Result<(), EngineError> {
    if v.starts_with('/') && !v.contains('\0') {
        Ok(())
    } else {
        Err(BadValue::new(
            v,
            "the working directory must be an absolute path in the container, such as /app",
        )
        .for_flag("--workdir"))
    }
}

/// The rule on `-u`: `user[:group]`, names or numeric ids, neither part empty.
pub fn check_user(v: &str) -> Result<(), EngineError> {
    let ok = !v.contains('\0')
        && !v.contains(char::is_whitespace)
        && match v.split_once(':') {
            Some((u, g)) => !u.is_empty() && !g.is_empty() && !g.contains(':'),
            None => !v.is_empty(),
        };
    if ok {
        Ok(())
    } else {
        Err(BadValue::new(
            v,
            "write user[:group], by name or numeric id, such as 1000:1000 or nobody",
        )
        .for_flag("--user"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys_and_log_drivers_as_docker_reads_them() {
        assert_eq!(detach_keys("ctrl-p,ctrl-q").unwrap(), vec![0x10, 0x11]);
        assert_eq!(detach_keys("ctrl-@,a,ctrl-_").unwrap(), vec![0, b'a', 31]);
        assert_eq!(detach_keys("").unwrap(), Vec::<u8>::new());
        for bad in ["ctrl-", "ctrl-pp", "ab", "ctrl-1", ","] {
            let e = detach_keys(bad).expect_err(bad);
            assert!(e.message.contains("--detach-keys"), "{bad}: {e}");
        }
        assert!(log_driver("json-file").is_ok() && log_driver("none").is_ok());
        for bad in ["local", "syslog", "gelf", ""] {
            let e = log_driver(bad).expect_err(bad);
            assert!(e.message.contains("--log-driver"), "{bad}: {e}");
        }
    }

    #[test]
    fn restart_policies() {
        let p = |s: &str| s.parse::<RestartPolicy>();
        assert_eq!(p("no"), Ok(RestartPolicy::No));
        assert_eq!(p(""), Ok(RestartPolicy::No));
        assert_eq!(p("always"), Ok(RestartPolicy::Always));
        assert_eq!(p("unless-stopped"), Ok(RestartPolicy::UnlessStopped));
        assert_eq!(
            p("on-failure"),
            Ok(RestartPolicy::OnFailure { max_retries: 0 })
        );
        assert_eq!(
            p("on-failure:3"),
            Ok(RestartPolicy::OnFailure { max_retries: 3 })
        );
        assert_eq!(
            p("on-failure:"),
            Ok(RestartPolicy::OnFailure { max_retries: 0 })
        );
        for s in [
            "sometimes",
            "always:3",
            "no:1",
            ":3",
            "on-failure:-1",
            "on-failure:x",
            "ALWAYS",
        ] {
            assert!(p(s).is_err(), "{s}");
        }
        assert!(restart("bogus")
            .unwrap_err()
            .message
            .starts_with("invalid --restart \"bogus\""));
    }

    #[test]
    fn ulimits() {
        let u = |s: &str| s.parse::<Ulimit>();
        assert_eq!(
            u("nofile=1024:2048"),
            Ok(Ulimit {
                name: "nofile".into(),
                soft: 1024,
                hard: 2048
            })
        );
        assert_eq!(u("nproc=10").unwrap().hard, 10);
        assert_eq!(u("core=-1").unwrap().soft, -1);
        assert_eq!(u("core=infinity:infinity").unwrap().hard, -1);
        assert_eq!(u("memlock=1024:-1").unwrap().hard, -1);
        for s in [
            "nofile=5:1",
            "bogus=1",
            "nofile",
            "nofile=",
            "nofile=1:2:3",
            "nofile=-1:10",
            "nofile=-2",
            "nofile=x",
            "=1",
        ] {
            assert!(u(s).is_err(), "{s}");
        }
        assert!(check_ulimit(&Ulimit {
            name: "nofile".into(),
            soft: 10,
            hard: 5
        })
        .is_err());
        assert!(check_ulimit(&Ulimit {
            name: "nope".into(),
            soft: 1,
            hard: 1
        })
        .is_err());
    }

    #[test]
    fn go_durations() {
        const S: i64 = 1_000_000_000;
        let d = |s: &str| s.parse::<GoDuration>().map(|d| d.0);
        assert_eq!(d("30s"), Ok(30 * S));
        assert_eq!(d("1m30s"), Ok(90 * S));
        assert_eq!(d("500ms"), Ok(S / 2));
        assert_eq!(d("2h"), Ok(7200 * S));
        assert_eq!(d("1.5h"), Ok(5400 * S));
        assert_eq!(d("10us"), Ok(10_000));
        assert_eq!(d("10µs"), Ok(10_000));
        assert_eq!(d("0"), Ok(0));
        assert_eq!(d("-1s"), Ok(-S));
        for s in [
            "",
            "5",
            "x",
            "1d",
            "s",
            "1.s.",
            "nan",
            "inf",
            "99999999999h",
            "1e3s",
        ] {
            assert!(d(s).is_err(), "{s}");
        }
        assert!(duration("--health-interval", "-1s")
            .unwrap_err()
            .message
            .contains("negative"));
        assert_eq!(duration("--health-interval", "0").unwrap(), 0);
    }

    #[test]
    fn health_rules() {
        let h = |test: Option<Vec<&str>>, interval: Option<i64>| HealthConfig {
            test: test.map(|t| t.into_iter().map(String::from).collect()),
            interval_ns: interval,
            ..Default::default()
        };
        assert!(check_health(&h(Some(vec!["CMD-SHELL", "true"]), Some(1_000_000))).is_ok());
        assert!(check_health(&h(Some(vec!["NONE"]), None)).is_ok());
        assert!(check_health(&h(Some(vec!["CMD", "true"]), Some(0))).is_ok());
        assert!(check_health(&h(Some(vec!["CMD"]), None)).is_err());
        assert!(check_health(&h(Some(vec!["SHELL", "x"]), None)).is_err());
        assert!(check_health(&h(None, Some(-1))).is_err());
        assert!(check_health(&h(None, Some(999))).is_err());
    }

    #[test]
    fn signals() {
        assert_eq!(parse_signal("SIGTERM").unwrap(), 15);
        assert_eq!(parse_signal("kill").unwrap(), 9);
        assert_eq!(parse_signal("Sigquit").unwrap(), 3);
        assert_eq!(parse_signal("10").unwrap(), 10);
        assert_eq!(parse_signal("RTMIN").unwrap(), libc::SIGRTMIN());
        assert_eq!(parse_signal("SIGRTMIN+3").unwrap(), libc::SIGRTMIN() + 3);
        assert_eq!(parse_signal("RTMAX-1").unwrap(), libc::SIGRTMAX() - 1);
        for s in [
            "SIGNOPE",
            "0",
            "65",
            "-9",
            "RTMIN+100",
            "RTMAX-100",
            // Offsets past i64 (found with the `flags` fuzz target: they overflowed).
            "RTMIN+9223372036854775807",
            "RTMAX-9223372036854775808",
            "RTMAX-18446744073709551615",
            "",
            "SIG",
        ] {
            assert!(parse_signal(s).is_err(), "{s}");
        }
        assert_eq!(stop_signal("SIGQUIT").unwrap(), "SIGQUIT");
        assert!(stop_signal("bogus")
            .unwrap_err()
            .message
            .starts_with("invalid --stop-signal \"bogus\""));
        assert_eq!(stop_timeout("10").unwrap(), 10);
        assert!(stop_timeout("-1").is_err());
        assert!(stop_timeout("1.5").is_err());
        assert_eq!(count("--health-retries", "3").unwrap(), 3);
        assert!(count("--health-retries", "-1").is_err());
    }

    #[test]
    fn env_and_labels() {
        assert_eq!(env("A=1").unwrap(), EnvArg::Set("A=1".into()));
        assert_eq!(env("A=").unwrap(), EnvArg::Set("A=".into()));
        assert_eq!(env("A=b=c").unwrap(), EnvArg::Set("A=b=c".into()));
        assert_eq!(env("HOME").unwrap(), EnvArg::FromCaller("HOME".into()));
        for s in ["=x", "", "=", "A\0=1", "A=1\0"] {
            assert!(env(s).is_err(), "{s:?}");
        }
        assert!(env("=x")
            .unwrap_err()
            .message
            .starts_with("invalid -e \"=x\""));
        assert_eq!(env_file_line("  # c").unwrap(), None);
        assert_eq!(env_file_line("").unwrap(), None);
        assert_eq!(
            env_file_line("  A=1 2").unwrap(),
            Some(EnvArg::Set("A=1 2".into()))
        );
        assert!(env_file_line("A B=1").is_err());
        assert!(env_file_line("=1").is_err());
        assert!(check_env("A=1").is_ok());
        assert!(check_env("A").is_err());
        assert!(check_env("=1").is_err());

        assert_eq!(label("a=b").unwrap(), ("a".into(), "b".into()));
        assert_eq!(label("a").unwrap(), ("a".into(), "".into()));
        assert_eq!(label("a=b=c").unwrap(), ("a".into(), "b=c".into()));
        for s in ["=x", "", " =x", "a b=c"] {
            assert!(label(s).is_err(), "{s:?}");
        }
    }

    #[test]
    fn hosts_dns_logs_workdir() {
        assert_eq!(add_host("db:10.0.0.5").unwrap(), "db:10.0.0.5");
        assert_eq!(add_host("db=10.0.0.5").unwrap(), "db:10.0.0.5");
        assert_eq!(add_host("db:::1").unwrap(), "db:::1");
        assert_eq!(add_host("db=[::1]").unwrap(), "db:::1");
        assert_eq!(
            add_host("db.local:[2001:db8::1]").unwrap(),
            "db.local:2001:db8::1"
        );
        for s in [
            "db",
            ":1.2.3.4",
            "db:",
            "db:x",
            "db:1.2.3.4.5",
            "db:host-gateway",
            "-db:1.2.3.4",
            "a b:1.2.3.4",
        ] {
            assert!(add_host(s).is_err(), "{s:?}");
        }
        assert_eq!(dns("1.1.1.1").unwrap(), "1.1.1.1");
        assert_eq!(dns("::1").unwrap(), "::1");
        assert!(dns("one.one.one.one").is_err());
        assert_eq!(
            log_opt("max-size=10m").unwrap(),
            LogOpt::MaxSize(10_000_000)
        );
        assert_eq!(log_opt("max-file=3").unwrap(), LogOpt::MaxFile(3));
        for s in [
            "max-size=0",
            "max-size=nan",
            "max-file=0",
            "max-file=-1",
            "compress=true",
            "bogus=1",
            "max-size",
        ] {
            assert!(log_opt(s).is_err(), "{s}");
        }
        assert!(log_opt("compress=true")
            .unwrap_err()
            .message
            .contains("compress is not supported"));
        assert_eq!(workdir("/app").unwrap(), "/app");
        assert!(workdir("rel")
            .unwrap_err()
            .message
            .starts_with("invalid --workdir \"rel\""));
        assert!(workdir("").is_err());
        for u in ["1000", "1000:1000", "nobody", "www-data:www-data"] {
            assert!(check_user(u).is_ok(), "{u}");
        }
        for u in ["", ":1", "1:", "a:b:c", "a b", "a\0"] {
            assert!(check_user(u).is_err(), "{u:?}");
        }
        assert!(hostname("web-1.example").is_ok());
        for s in ["", "-web", "web-", "a..b", "web_1", &"x".repeat(64), "a b"] {
            assert!(hostname(s).is_err(), "{s:?}");
        }
    }
}
