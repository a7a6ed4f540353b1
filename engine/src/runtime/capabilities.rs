//! Capabilities: Docker's default set (CapEff 00000000a80425fb for root), `--cap-add`,
//! `--cap-drop`, `--privileged`. Uses the `caps` crate for the capset/prctl calls.

use std::collections::HashSet;

use caps::{CapSet, Capability, CapsHashSet};

use crate::error::{EngineError, Result};

/// Docker's default capabilities.
pub const DEFAULT: &[Capability] = &[
    Capability::CAP_CHOWN,
    Capability::CAP_DAC_OVERRIDE,
    Capability::CAP_FSETID,
    Capability::CAP_FOWNER,
    Capability::CAP_MKNOD,
    Capability::CAP_NET_RAW,
    Capability::CAP_SETGID,
    Capability::CAP_SETUID,
    Capability::CAP_SETFCAP,
    Capability::CAP_SETPCAP,
    Capability::CAP_NET_BIND_SERVICE,
    Capability::CAP_SYS_CHROOT,
    Capability::CAP_KILL,
    Capability::CAP_AUDIT_WRITE,
];

/// Parse a capability name as Docker accepts it (`NET_ADMIN`, `cap_net_admin`, `ALL`).
fn parse(name: &str) -> Result<Option<Capability>> {
    let up = name.trim().to_ascii_uppercase();
    if up == "ALL" {
        return Ok(None);
    }
    let full = if up.starts_with("CAP_") {
        up
    } else {
        format!("CAP_{up}")
    };
    full.parse::<Capability>().map(Some).map_err(|_| {
        EngineError::invalid(format!(
            "unknown capability {name:?}: use names like NET_ADMIN or SYS_PTRACE"
        ))
    })
}

/// The set a container gets: the default (or all when privileged), plus `add`, minus `drop`.
pub fn effective_set(add: &[String], drop: &[String], privileged: bool) -> Result<CapsHashSet> {
    let all = caps::all();
    // Docker's rules: `--cap-add ALL` gives everything; `--cap-drop ALL` starts from
    // nothing and keeps only what is added; otherwise the default plus adds minus drops.
    let adds: Vec<Option<Capability>> = add.iter().map(|a| parse(a)).collect::<Result<_>>()?;
    let drops: Vec<Option<Capability>> = drop.iter().map(|d| parse(d)).collect::<Result<_>>()?;
    let mut set: HashSet<Capability> = if privileged || adds.contains(&None) {
        all.clone()
    } else if drops.contains(&None) {
        HashSet::new()
    } else {
        DEFAULT.iter().copied().collect()
    };
    set.extend(adds.iter().flatten().copied());
    if !privileged && !adds.contains(&None) {
        for d in drops.iter().flatten() {
            if !adds.contains(&Some(*d)) {
                set.remove(d);
            }
        }
    }
    // Only what this kernel knows and this process may hand on (wharf may itself run
    // in a container with a reduced bounding set).
    let mut known = caps::runtime::thread_all_supported();
    if let Ok(permitted) = caps::read(None, CapSet::Permitted) {
        known.retain(|c| permitted.contains(c));
    }
    Ok(set.intersection(&known).copied().collect())
}

/// The 64-bit mask of a set, as /proc/self/status prints it.
pub fn mask(set: &CapsHashSet) -> u64 {
    set.iter().fold(0u64, |m, c| m | c.bitmask())
}

/// Drop from the bounding set everything not in `keep` (needs CAP_SETPCAP; done first).
pub fn limit_bounding(keep: &CapsHashSet) -> Result<()> {
    for c in caps::runtime::thread_all_supported() {
        if !keep.contains(&c) {
            caps::drop(None, CapSet::Bounding, c).map_err(|e| {
                EngineError::internal(format!("dropping {c} from the bounding set: {e}"))
            })?;
        }
    }
    Ok(())
}

/// Set effective, permitted and inheritable (empty), ambient (empty) after the user
/// switch. A non-root user gets no effective capabilities, as with Docker.
pub fn apply_process_sets(keep: &CapsHashSet, root_user: bool) -> Result<()> {
    let set = if root_user {
        keep.clone()
    } else {
        CapsHashSet::new()
    };
    let err = |what: &str, e: caps::errors::CapsError| {
        EngineError::internal(format!("setting {what} capabilities: {e}"))
    };
    caps::clear(None, CapSet::Ambient).map_err(|e| err("ambient", e))?;
    caps::set(None, CapSet::Inheritable, &CapsHashSet::new()).map_err(|e| err("inheritable", e))?;
    // Permitted must be set before effective may shrink to it; effective can't exceed permitted.
    caps::set(None, CapSet::Effective, &set).map_err(|e| err("effective", e))?;
    caps::set(None, CapSet::Permitted, &set).map_err(|e| err("permitted", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_mask_is_dockers() {
        let s = effective_set(&[], &[], false).unwrap();
        assert_eq!(mask(&s), 0xa80425fb);
        let s = effective_set(&["NET_ADMIN".into()], &["chown".into()], false).unwrap();
        assert!(s.contains(&Capability::CAP_NET_ADMIN) && !s.contains(&Capability::CAP_CHOWN));
        assert!(effective_set(&["NOPE".into()], &[], false).is_err());
        assert!(effective_set(&[], &["ALL".into()], false)
            .unwrap()
            .is_empty());
    }
}
