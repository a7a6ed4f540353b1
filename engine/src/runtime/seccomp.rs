//! seccomp: a default profile equivalent to Docker's for this kernel, and Docker-format
//! JSON profiles (`--security-opt seccomp=PROFILE.json`). Built and loaded with
//! libseccomp (through the `libseccomp` crate), which resolves syscall names per arch.
//!
//! The default profile is written as "allow, except": every syscall Docker's default
//! profile refuses on a current kernel (mount, unshare, setns, keyctl, kexec_load,
//! open_by_handle_at, bpf, module loading, clock setting, swapon, reboot, ...) fails
//! with EPERM, `clone` with namespace flags fails with EPERM, and `clone3` with ENOSYS
//! (so libc falls back to `clone`, whose flags can be checked), unless the container
//! holds the capability Docker gates that syscall on (`--cap-add SYS_ADMIN` allows mount).

use libseccomp::{ScmpAction, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall};
use serde::Deserialize;

use caps::{Capability, CapsHashSet};

use crate::error::{EngineError, Result};

/// Syscalls refused by default, and the capability that lets a container have them.
const REFUSED: &[(&str, Option<Capability>)] = &[
    ("acct", Some(Capability::CAP_SYS_PACCT)),
    ("add_key", None),
    ("bpf", Some(Capability::CAP_SYS_ADMIN)),
    ("clock_adjtime", Some(Capability::CAP_SYS_TIME)),
    ("clock_settime", Some(Capability::CAP_SYS_TIME)),
    ("settimeofday", Some(Capability::CAP_SYS_TIME)),
    ("stime", Some(Capability::CAP_SYS_TIME)),
    ("create_module", Some(Capability::CAP_SYS_MODULE)),
    ("delete_module", Some(Capability::CAP_SYS_MODULE)),
    ("finit_module", Some(Capability::CAP_SYS_MODULE)),
    ("init_module", Some(Capability::CAP_SYS_MODULE)),
    ("get_kernel_syms", Some(Capability::CAP_SYS_MODULE)),
    ("query_module", Some(Capability::CAP_SYS_MODULE)),
    ("get_mempolicy", Some(Capability::CAP_SYS_NICE)),
    ("mbind", Some(Capability::CAP_SYS_NICE)),
    ("set_mempolicy", Some(Capability::CAP_SYS_NICE)),
    ("move_pages", Some(Capability::CAP_SYS_NICE)),
    ("ioperm", Some(Capability::CAP_SYS_RAWIO)),
    ("iopl", Some(Capability::CAP_SYS_RAWIO)),
    ("kexec_file_load", Some(Capability::CAP_SYS_BOOT)),
    ("kexec_load", Some(Capability::CAP_SYS_BOOT)),
    ("reboot", Some(Capability::CAP_SYS_BOOT)),
    ("keyctl", None),
    ("request_key", None),
    ("lookup_dcookie", Some(Capability::CAP_SYS_ADMIN)),
    ("mount", Some(Capability::CAP_SYS_ADMIN)),
    ("umount", Some(Capability::CAP_SYS_ADMIN)),
    ("umount2", Some(Capability::CAP_SYS_ADMIN)),
    ("move_mount", Some(Capability::CAP_SYS_ADMIN)),
    ("open_tree", Some(Capability::CAP_SYS_ADMIN)),
    ("fsopen", Some(Capability::CAP_SYS_ADMIN)),
    ("fsconfig", Some(Capability::CAP_SYS_ADMIN)),
    ("fsmount", Some(Capability::CAP_SYS_ADMIN)),
    ("fspick", Some(Capability::CAP_SYS_ADMIN)),
    ("mount_setattr", Some(Capability::CAP_SYS_ADMIN)),
    ("pivot_root", Some(Capability::CAP_SYS_ADMIN)),
    ("setns", Some(Capability::CAP_SYS_ADMIN)),
    ("unshare", Some(Capability::CAP_SYS_ADMIN)),
    ("fanotify_init", Some(Capability::CAP_SYS_ADMIN)),
    ("perf_event_open", Some(Capability::CAP_SYS_ADMIN)),
    ("quotactl", Some(Capability::CAP_SYS_ADMIN)),
    ("quotactl_fd", Some(Capability::CAP_SYS_ADMIN)),
    ("swapon", Some(Capability::CAP_SYS_ADMIN)),
    ("swapoff", Some(Capability::CAP_SYS_ADMIN)),
    ("name_to_handle_at", Some(Capability::CAP_DAC_READ_SEARCH)),
    ("open_by_handle_at", Some(Capability::CAP_DAC_READ_SEARCH)),
    ("nfsservctl", None),
    ("sysfs", None),
    ("_sysctl", None),
    ("uselib", None),
    ("userfaultfd", None),
    ("ustat", None),
    ("vm86", None),
    ("vm86old", None),
    ("syslog", Some(Capability::CAP_SYSLOG)),
];

/// Namespace flags refused to `clone` without CAP_SYS_ADMIN.
const NS_FLAGS: &[u64] = &[
    libc::CLONE_NEWNS as u64,
    libc::CLONE_NEWUTS as u64,
    libc::CLONE_NEWIPC as u64,
    libc::CLONE_NEWUSER as u64,
    libc::CLONE_NEWPID as u64,
    libc::CLONE_NEWNET as u64,
    libc::CLONE_NEWCGROUP as u64,
];

fn sc_err(what: &str, e: impl std::fmt::Display) -> EngineError {
    EngineError::internal(format!("building the seccomp profile: {what}: {e}"))
}

/// Build the default profile for a container holding `caps`.
pub fn default_filter(caps: &CapsHashSet) -> Result<ScmpFilterContext> {
    let mut f = ScmpFilterContext::new(ScmpAction::Allow).map_err(|e| sc_err("new filter", e))?;
    // Loading must not set no_new_privs: Docker leaves NoNewPrivs at 0.
    f.set_ctl_nnp(false).map_err(|e| sc_err("nnp", e))?;
    let eperm = ScmpAction::Errno(libc::EPERM);
    for (name, cap) in REFUSED {
        if cap.is_some_and(|c| caps.contains(&c)) {
            continue;
        }
        // Names this arch does not have (vm86 on x86_64) are skipped.
        if let Ok(sc) = ScmpSyscall::from_name(name) {
            f.add_rule(eperm, sc).map_err(|e| sc_err(name, e))?;
        }
    }
    if !caps.contains(&Capability::CAP_SYS_ADMIN) {
        let clone = ScmpSyscall::from_name("clone").map_err(|e| sc_err("clone", e))?;
        for flag in NS_FLAGS {
            f.add_rule_conditional(
                eperm,
                clone,
                &[ScmpArgCompare::new(
                    0,
                    ScmpCompareOp::MaskedEqual(*flag),
                    *flag,
                )],
            )
            .map_err(|e| sc_err("clone", e))?;
        }
        if let Ok(c3) = ScmpSyscall::from_name("clone3") {
            f.add_rule(ScmpAction::Errno(libc::ENOSYS), c3)
                .map_err(|e| sc_err("clone3", e))?;
        }
    }
    Ok(f)
}

/// A Docker-format seccomp profile.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Profile {
    default_action: String,
    #[serde(default)]
    default_errno_ret: Option<i32>,
    #[serde(default)]
    syscalls: Vec<Rule>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    #[serde(default)]
    names: Vec<String>,
    #[serde(default)]
    name: Option<String>,
    action: String,
    #[serde(default)]
    errno_ret: Option<i32>,
    #[serde(default)]
    args: Vec<Arg>,
    #[serde(default)]
    includes: Filter,
    #[serde(default)]
    excludes: Filter,
}

#[derive(Debug, Default, Deserialize)]
struct Filter {
    #[serde(default)]
    caps: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Arg {
    index: u32,
    value: u64,
    #[serde(default)]
    value_two: u64,
    op: String,
}

fn action(name: &str, errno: Option<i32>) -> Result<ScmpAction> {
    Ok(match name {
        "SCMP_ACT_ALLOW" => ScmpAction::Allow,
        "SCMP_ACT_ERRNO" => ScmpAction::Errno(errno.unwrap_or(libc::EPERM)),
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => ScmpAction::KillThread,
        "SCMP_ACT_KILL_PROCESS" => ScmpAction::KillProcess,
        "SCMP_ACT_TRAP" => ScmpAction::Trap,
        "SCMP_ACT_LOG" => ScmpAction::Log,
        "SCMP_ACT_TRACE" => ScmpAction::Trace(errno.unwrap_or(0) as u16),
        other => {
            return Err(EngineError::invalid(format!(
                "seccomp profile: unknown action {other:?}"
            )))
        }
    })
}

fn holds(caps: &CapsHashSet, names: &[String]) -> bool {
    names.iter().all(|n| {
        let up = n.to_ascii_uppercase();
        let full = if up.starts_with("CAP_") {
            up
        } else {
            format!("CAP_{up}")
        };
        full.parse::<Capability>().is_ok_and(|c| caps.contains(&c))
    })
}

/// Build a filter from a Docker-format JSON profile, for a container holding `caps`.
pub fn profile_filter(json: &str, caps: &CapsHashSet) -> Result<ScmpFilterContext> {
    let p: Profile = serde_json::from_str(json).map_err(|e| {
        EngineError::invalid(format!(
            "seccomp profile is not valid JSON in Docker's format: {e}"
        ))
    })?;
    let default = action(&p.default_action, p.default_errno_ret)?;
    let mut f = ScmpFilterContext::new(default).map_err(|e| sc_err("new filter", e))?;
    f.set_ctl_nnp(false).map_err(|e| sc_err("nnp", e))?;
    for r in &p.syscalls {
        if !r.includes.caps.is_empty() && !holds(caps, &r.includes.caps) {
            continue;
        }
        if !r.excludes.caps.is_empty() && holds(caps, &r.excludes.caps) {
            continue;
        }
        let act = action(&r.action, r.errno_ret.or(p.default_errno_ret))?;
        if act == default {
            continue;
        }
        let mut cmps = Vec::new();
        for a in &r.args {
            let op = match a.op.as_str() {
                "SCMP_CMP_NE" => ScmpCompareOp::NotEqual,
                "SCMP_CMP_LT" => ScmpCompareOp::Less,
                "SCMP_CMP_LE" => ScmpCompareOp::LessOrEqual,
                "SCMP_CMP_EQ" => ScmpCompareOp::Equal,
                "SCMP_CMP_GE" => ScmpCompareOp::GreaterEqual,
                "SCMP_CMP_GT" => ScmpCompareOp::Greater,
                "SCMP_CMP_MASKED_EQ" => ScmpCompareOp::MaskedEqual(a.value),
                other => {
                    return Err(EngineError::invalid(format!(
                        "seccomp profile: unknown operator {other:?}"
                    )))
                }
            };
            let datum = if a.op == "SCMP_CMP_MASKED_EQ" {
                a.value_two
            } else {
                a.value
            };
            cmps.push(ScmpArgCompare::new(a.index, op, datum));
        }
        for name in r.names.iter().chain(r.name.iter()) {
            if let Ok(sc) = ScmpSyscall::from_name(name) {
                f.add_rule_conditional(act, sc, &cmps)
                    .map_err(|e| sc_err(name, e))?;
            }
        }
    }
    Ok(f)
}

/// The compiled BPF program of a filter, written to `path` (atomically) and returned.
pub fn write_bpf(f: &ScmpFilterContext, path: &std::path::Path) -> Result<Vec<u8>> {
    use crate::error::IoContext;
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let file = std::fs::File::create(&tmp).ctx(|| format!("creating {}", tmp.display()))?;
    let res = f.export_bpf(&file).map_err(|e| sc_err("exporting BPF", e));
    drop(file);
    if let Err(e) = res {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    let bpf = std::fs::read(&tmp).ctx(|| format!("reading {}", tmp.display()))?;
    std::fs::rename(&tmp, path).ctx(|| format!("replacing {}", path.display()))?;
    Ok(bpf)
}

/// The BPF program for a container: from `cache_dir` when this profile and capability
/// set were compiled before (libseccomp's compiler costs tens of milliseconds), else
/// compiled now and cached. `profile` is `None` for the default profile.
pub fn cached_bpf(
    cache_dir: &std::path::Path,
    profile: Option<&str>,
    caps: &CapsHashSet,
) -> Result<Vec<u8>> {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    h.update(crate::runtime::capabilities::mask(caps).to_le_bytes());
    h.update(profile.unwrap_or("<default>").as_bytes());
    let path = cache_dir.join(format!("{}.bpf", hex::encode(h.finalize())));
    if let Ok(b) = std::fs::read(&path) {
        if !b.is_empty() && b.len() % 8 == 0 {
            return Ok(b);
        }
    }
    let f = match profile {
        None => default_filter(caps)?,
        Some(json) => profile_filter(json, caps)?,
    };
    std::fs::create_dir_all(cache_dir)
        .map_err(|e| EngineError::io(format!("creating {}", cache_dir.display()), e))?;
    write_bpf(&f, &path)
}

/// Load a compiled BPF program into the calling process (inherited across execve).
/// Without no_new_privs this needs CAP_SYS_ADMIN, so it runs before capabilities drop.
pub fn load_bpf(bpf: &[u8]) -> Result<()> {
    if bpf.is_empty() || bpf.len() % 8 != 0 || bpf.len() / 8 > u16::MAX as usize {
        return Err(EngineError::internal(
            "the compiled seccomp program is damaged: remove the cache under run/seccomp",
        ));
    }
    let prog = libc::sock_fprog {
        len: (bpf.len() / 8) as u16,
        filter: bpf.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: seccomp(2) reads `prog` and the instructions it points to, which outlive the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0,
            &prog as *const libc::sock_fprog,
        )
    };
    if r != 0 {
        return Err(EngineError::io(
            "loading the seccomp profile",
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_build() {
        let caps = crate::runtime::capabilities::effective_set(&[], &[], false).unwrap();
        default_filter(&caps).unwrap();
        let json = r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
            {"names":["read","write","exit_group"],"action":"SCMP_ACT_ALLOW"},
            {"names":["personality"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":8,"op":"SCMP_CMP_EQ"}]},
            {"names":["mount"],"action":"SCMP_ACT_ALLOW","includes":{"caps":["CAP_SYS_ADMIN"]}}]}"#;
        profile_filter(json, &caps).unwrap();
        assert!(profile_filter("{", &caps).is_err());
        let t = tempfile::tempdir().unwrap();
        let a = cached_bpf(t.path(), None, &caps).unwrap();
        assert_eq!(a.len() % 8, 0);
        assert_eq!(std::fs::read_dir(t.path()).unwrap().count(), 1);
        assert_eq!(cached_bpf(t.path(), None, &caps).unwrap(), a);
    }
}
