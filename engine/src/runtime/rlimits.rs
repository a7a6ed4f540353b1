//! rlimits: the container inherits the host's limits (which is what Docker's defaults
//! amount to), and `--ulimit name=soft[:hard]` sets others (parsed by
//! [`crate::api::flags`]).

use crate::api::Ulimit;
use crate::error::{EngineError, Result};

/// The resource id of a Docker ulimit name.
pub fn resource(name: &str) -> Result<libc::__rlimit_resource_t> {
    Ok(match name {
        "core" => libc::RLIMIT_CORE,
        "cpu" => libc::RLIMIT_CPU,
        "data" => libc::RLIMIT_DATA,
        "fsize" => libc::RLIMIT_FSIZE,
        "locks" => libc::RLIMIT_LOCKS,
        "memlock" => libc::RLIMIT_MEMLOCK,
        "msgqueue" => libc::RLIMIT_MSGQUEUE,
        "nice" => libc::RLIMIT_NICE,
        "nofile" => libc::RLIMIT_NOFILE,
        "nproc" => libc::RLIMIT_NPROC,
        "rss" => libc::RLIMIT_RSS,
        "rtprio" => libc::RLIMIT_RTPRIO,
        "rttime" => libc::RLIMIT_RTTIME,
        "sigpending" => libc::RLIMIT_SIGPENDING,
        "stack" => libc::RLIMIT_STACK,
        "as" => libc::RLIMIT_AS,
        _ => {
            return Err(EngineError::invalid(format!(
                "unknown ulimit {name:?}: use one of {}",
                crate::api::flags::ULIMIT_NAMES.join(", ")
            )))
        }
    })
}

/// This process's (soft, hard) limits for `res`; `None` = unlimited. Containers inherit
/// these unless `--ulimit` says otherwise.
pub fn current(res: libc::__rlimit_resource_t) -> (Option<u64>, Option<u64>) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into a valid rlimit struct on our stack.
    if unsafe { libc::getrlimit(res, &mut lim) } != 0 {
        return (None, None);
    }
    let conv = |v: libc::rlim_t| (v != libc::RLIM_INFINITY).then_some(v);
    (conv(lim.rlim_cur), conv(lim.rlim_max))
}

/// Apply the ulimits to the calling process.
pub fn apply(limits: &[Ulimit]) -> Result<()> {
    for u in limits {
        let conv = |v: i64| {
            if v < 0 {
                libc::RLIM_INFINITY
            } else {
                v as libc::rlim_t
            }
        };
        let lim = libc::rlimit {
            rlim_cur: conv(u.soft),
            rlim_max: conv(u.hard),
        };
        // SAFETY: setrlimit reads a valid rlimit struct on our stack.
        let r = unsafe { libc::setrlimit(resource(&u.name)?, &lim) };
        if r != 0 {
            return Err(EngineError::io(
                format!("setting ulimit {}", u.name),
                std::io::Error::last_os_error(),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_the_grammar_accepts_is_a_resource() {
        for n in crate::api::flags::ULIMIT_NAMES {
            assert!(resource(n).is_ok(), "{n}");
        }
        assert!(resource("bogus").is_err());
    }
}
