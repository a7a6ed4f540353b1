//! The docker flag grammar (`wharf_engine::api::flags`): every `FromStr` type and
//! per-flag function, and `--security-opt`.
//!
//! The first byte picks the flag, the rest is its value. Invariants:
//! - an error is `InvalidArgument` (a user's bad value), never another kind, never a panic;
//! - a value that parses passes the engine's check of the same field (`check_*`, the
//!   rules the runtime applies to requests from every front end);
//! - where the grammar has a printed form (sizes, CPU counts and lists, durations,
//!   signals, security options), the printed form parses back to the same value.
#![no_main]

mod common;

use common::{ok_or_invalid, passes, split_selector, text};
use libfuzzer_sys::fuzz_target;
use wharf_engine::api::flags::{self, *};
use wharf_engine::api::{Resources, RestartPolicy, Ulimit};

/// A `BadValue` turned into the engine's error the way `flags::flag` does it.
fn parse<T: std::str::FromStr<Err = BadValue>>(v: &str) -> Result<T, wharf_engine::EngineError> {
    flags::flag::<T>("--fuzz", v)
}

fn check_res(what: &str, v: &str, r: Resources) {
    passes(what, v, flags::check_resources(&r, false));
    passes(what, v, flags::check_resources(&r, true));
}

fuzz_target!(|data: &[u8]| {
    let Some((sel, rest)) = split_selector(data) else {
        return;
    };
    let Some(v) = text(rest) else {
        return;
    };
    match sel % 36 {
        0 => {
            let r = parse::<ByteSize>(v);
            ok_or_invalid("size", v, &r);
            if let Ok(b) = r {
                assert!(b.0 <= i64::MAX as u64, "size {v:?} is {} bytes", b.0);
                let shown = b.to_string();
                assert_eq!(
                    shown.parse::<ByteSize>().ok(),
                    Some(b),
                    "size {v:?} printed as {shown:?}"
                );
            }
        }
        1 => {
            let r = parse::<DecimalSize>(v);
            ok_or_invalid("decimal size", v, &r);
            if let Ok(b) = r {
                assert!(b.0 <= i64::MAX as u64);
                assert_eq!(b.0.to_string().parse::<DecimalSize>().ok(), Some(b));
            }
        }
        2 => {
            let r = flags::cpus(v);
            ok_or_invalid("--cpus", v, &r);
            if let Ok(n) = r {
                let shown = flags::cpus_text(n);
                assert_eq!(
                    flags::cpus(&shown).ok(),
                    Some(n),
                    "--cpus {v:?} printed as {shown:?}"
                );
                check_res(
                    "--cpus",
                    v,
                    Resources {
                        nano_cpus: Some(n),
                        ..Default::default()
                    },
                );
            }
        }
        3 => {
            let r = parse::<CpuList>(v);
            ok_or_invalid("cpu list", v, &r);
            if let Ok(l) = r {
                let shown = l.to_string();
                assert_eq!(
                    shown.parse::<CpuList>().ok(),
                    Some(l.clone()),
                    "cpus {v:?} printed as {shown:?}"
                );
                assert!(l.count() >= 1 && l.count() <= MAX_CPU_ID + 1);
                assert!(l.missing_from(&l).0.is_empty());
                let c = flags::cpuset_cpus(v);
                ok_or_invalid("--cpuset-cpus", v, &c);
                if let Ok(c) = c {
                    check_res(
                        "--cpuset-cpus",
                        v,
                        Resources {
                            cpuset_cpus: Some(c),
                            ..Default::default()
                        },
                    );
                }
            }
        }
        4 => {
            let r = flags::publish(v);
            ok_or_invalid("-p", v, &r);
            if let Ok(ports) = r {
                assert!(!ports.is_empty());
                for p in &ports {
                    passes("-p", v, flags::check_port("-p", p));
                }
            }
        }
        5 => {
            let r = flags::expose(v);
            ok_or_invalid("--expose", v, &r);
            if let Ok(ports) = r {
                assert!(!ports.is_empty());
                for p in &ports {
                    assert_eq!((p.host_port, p.host_ip.as_str()), (0, ""));
                    passes("--expose", v, flags::check_port("--expose", p));
                }
            }
        }
        6 => {
            let r = flags::volume(v);
            ok_or_invalid("-v", v, &r);
            if let Ok(m) = r {
                passes("-v", v, flags::check_mount(&m));
            }
        }
        7 => {
            let r = flags::mount(v);
            ok_or_invalid("--mount", v, &r);
            if let Ok(m) = r {
                passes("--mount", v, flags::check_mount(&m));
            }
        }
        8 => {
            let r = flags::tmpfs(v);
            ok_or_invalid("--tmpfs", v, &r);
            if let Ok(m) = r {
                assert_eq!(m.kind, "tmpfs");
                passes("--tmpfs", v, flags::check_mount(&m));
            }
        }
        9 => {
            let r = flags::volumes_from(v);
            ok_or_invalid("--volumes-from", v, &r);
            if let Ok(s) = r {
                passes("--volumes-from", v, flags::check_volumes_from(&s));
                assert!(parse::<VolumesFrom>(v).is_ok());
            }
        }
        10 => {
            let r = flags::restart(v);
            ok_or_invalid("--restart", v, &r);
            if let Ok(p) = r {
                // The wire form (the wharf protocol, container configs on disk) keeps it.
                let json = serde_json::to_string(&p).expect("restart policy to JSON");
                let back: RestartPolicy =
                    serde_json::from_str(&json).expect("restart policy from JSON");
                assert_eq!(back, p);
            }
        }
        11 => {
            let r = flags::ulimit(v);
            ok_or_invalid("--ulimit", v, &r);
            if let Ok(u) = r {
                passes("--ulimit", v, flags::check_ulimit(&u));
                let again = format!("{}={}:{}", u.name, u.soft, u.hard);
                assert_eq!(
                    flags::ulimit(&again).ok(),
                    Some(u.clone()),
                    "{v:?} as {again:?}"
                );
            }
        }
        12 => {
            let r = parse::<GoDuration>(v);
            ok_or_invalid("duration", v, &r);
            if let Ok(d) = r {
                let again = format!("{}ns", d.0);
                assert_eq!(again.parse::<GoDuration>().ok(), Some(d));
                let f = flags::duration("--health-interval", v);
                ok_or_invalid("--health-interval", v, &f);
                if let Ok(n) = f {
                    assert!(n >= 0);
                }
            }
        }
        13 => {
            let r = flags::parse_signal(v);
            ok_or_invalid("signal", v, &r);
            if let Ok(n) = r {
                assert!((1..=64).contains(&n), "signal {v:?} is {n}");
                assert_eq!(flags::parse_signal(&n.to_string()).ok(), Some(n));
            }
        }
        14 => {
            let r = flags::stop_signal(v);
            ok_or_invalid("--stop-signal", v, &r);
            if let Ok(s) = r {
                assert!(flags::parse_signal(&s).is_ok());
            }
        }
        15 => {
            ok_or_invalid("--health-retries", v, &flags::count("--health-retries", v));
            ok_or_invalid("--stop-timeout", v, &flags::stop_timeout(v));
        }
        16 => {
            let r = flags::env(v);
            ok_or_invalid("-e", v, &r);
            if let Ok(EnvArg::Set(s)) = &r {
                passes("-e", v, flags::check_env(s));
            }
        }
        17 => {
            // Several lines, as an --env-file.
            for line in v.lines() {
                match flags::env_file_line(line) {
                    Ok(Some(EnvArg::Set(s))) => passes("--env-file", line, flags::check_env(&s)),
                    Ok(Some(EnvArg::FromCaller(k))) => {
                        // The front end fills in the caller's value.
                        passes("--env-file", line, flags::check_env(&format!("{k}=x")))
                    }
                    Ok(None) => {}
                    Err(e) => assert!(!e.reason.is_empty()),
                }
            }
        }
        18 => {
            let r = flags::label(v);
            ok_or_invalid("--label", v, &r);
            if let Ok((k, val)) = r {
                passes("--label", v, flags::check_label(&k, &val));
            }
        }
        19 => {
            let r = flags::hostname(v);
            ok_or_invalid("--hostname", v, &r);
            if let Ok(h) = r {
                passes("--hostname", v, flags::check_hostname(&h));
                assert!(h.len() <= 63);
            }
        }
        20 => {
            let r = flags::add_host(v);
            ok_or_invalid("--add-host", v, &r);
            if let Ok(h) = r {
                passes("--add-host", v, flags::check_extra_host(&h));
                assert_eq!(
                    flags::add_host(&h).ok(),
                    Some(h.clone()),
                    "--add-host {v:?} stored as {h:?}"
                );
            }
        }
        21 => {
            let r = flags::dns(v);
            ok_or_invalid("--dns", v, &r);
            if let Ok(ip) = r {
                assert_eq!(flags::dns(&ip).ok(), Some(ip.clone()));
            }
        }
        22 => {
            let r = flags::log_opt(v);
            ok_or_invalid("--log-opt", v, &r);
            match r {
                Ok(LogOpt::MaxSize(s)) => passes("--log-opt", v, flags::check_log(Some(s), None)),
                Ok(LogOpt::MaxFile(n)) => passes("--log-opt", v, flags::check_log(None, Some(n))),
                Err(_) => {}
            }
        }
        23 => {
            let r = flags::workdir(v);
            ok_or_invalid("--workdir", v, &r);
            if let Ok(w) = r {
                passes("--workdir", v, flags::check_workdir(&w));
            }
            ok_or_invalid("--user", v, &flags::check_user(v));
        }
        24 => {
            let r = flags::memory(v);
            ok_or_invalid("--memory", v, &r);
            if let Ok(m) = r {
                check_res(
                    "--memory",
                    v,
                    Resources {
                        memory: Some(m),
                        ..Default::default()
                    },
                );
                // Swap of twice the memory always goes with it.
                if let Some(s) = m.checked_mul(2) {
                    check_res(
                        "--memory",
                        v,
                        Resources {
                            memory: Some(m),
                            memory_swap: Some(s),
                            ..Default::default()
                        },
                    );
                }
            }
        }
        25 => {
            let r = flags::memory_swap(v);
            ok_or_invalid("--memory-swap", v, &r);
            if let Ok(s) = r {
                // With a memory limit of at most the swap figure.
                let m = if s == -1 { MIN_MEMORY } else { s };
                if m >= MIN_MEMORY {
                    check_res(
                        "--memory-swap",
                        v,
                        Resources {
                            memory: Some(m),
                            memory_swap: Some(s),
                            ..Default::default()
                        },
                    );
                }
                passes(
                    "--memory-swap",
                    v,
                    flags::check_resources(
                        &Resources {
                            memory_swap: Some(s),
                            ..Default::default()
                        },
                        true,
                    ),
                );
            }
        }
        26 => {
            let r = flags::cpu_shares(v);
            ok_or_invalid("--cpu-shares", v, &r);
            if let Ok(s) = r {
                check_res(
                    "--cpu-shares",
                    v,
                    Resources {
                        cpu_shares: Some(s),
                        ..Default::default()
                    },
                );
            }
        }
        27 => {
            let r = flags::pids_limit(v);
            ok_or_invalid("--pids-limit", v, &r);
            if let Ok(p) = r {
                check_res(
                    "--pids-limit",
                    v,
                    Resources {
                        pids_limit: Some(p),
                        ..Default::default()
                    },
                );
            }
        }
        28 => {
            let r = flags::blkio_weight(v);
            ok_or_invalid("--blkio-weight", v, &r);
            if let Ok(w) = r {
                check_res(
                    "--blkio-weight",
                    v,
                    Resources {
                        blkio_weight: Some(w),
                        ..Default::default()
                    },
                );
            }
        }
        29 => {
            let r = flags::shm_size(v);
            ok_or_invalid("--shm-size", v, &r);
            if let Ok(s) = r {
                passes("--shm-size", v, flags::check_shm_size(s));
            }
        }
        30 => {
            let r = v.parse::<SecurityOpt>();
            ok_or_invalid("--security-opt", v, &r);
            if let Ok(o) = r {
                ok_or_invalid("--security-opt", v, &o.check_supported());
                if !matches!(o, SecurityOpt::Seccomp(Seccomp::Profile(_))) {
                    let shown = o.to_string();
                    assert_eq!(
                        shown.parse::<SecurityOpt>().ok(),
                        Some(o.clone()),
                        "{v:?} printed as {shown:?}"
                    );
                }
            }
        }
        31 => {
            // Several options of one request, NUL-separated.
            let opts: Vec<String> = v.split('\0').map(str::to_string).collect();
            let r = flags::security_opts(&opts);
            ok_or_invalid("--security-opt", v, &r);
            if let Ok(parsed) = r {
                assert_eq!(parsed.len(), opts.len());
            }
        }
        32 => {
            // A `name=soft:hard` ulimit as the engine may receive it (wharf protocol, Docker
            // API): the check decides, never panics.
            if let Some((name, vals)) = v.split_once('=') {
                let (s, h) = vals.split_once(':').unwrap_or((vals, vals));
                if let (Ok(soft), Ok(hard)) = (s.parse::<i64>(), h.parse::<i64>()) {
                    let u = Ulimit {
                        name: name.into(),
                        soft,
                        hard,
                    };
                    ok_or_invalid("ulimit", v, &flags::check_ulimit(&u));
                }
            }
        }
        33 => {
            // Sizes the engine prints (`human`) from any byte count.
            if let Ok(n) = v.trim().parse::<i64>() {
                let shown = flags::human(n);
                if n >= 0 {
                    assert_eq!(
                        shown.parse::<ByteSize>().ok(),
                        Some(ByteSize(n as u64)),
                        "{n} printed as {shown:?}"
                    );
                }
                let _ = flags::cpus_text(n);
            }
        }
        34 => {
            let r = parse::<RestartPolicy>(v);
            ok_or_invalid("restart", v, &r);
        }
        _ => {
            let r = parse::<EnvArg>(v);
            ok_or_invalid("env", v, &r);
            let _ = flags::shown(v);
        }
    }
});
