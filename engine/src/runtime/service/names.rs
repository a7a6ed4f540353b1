//! Container names: Docker's rule for them, random ones for containers created without
//! one, finding a container by name, id or id prefix, and renaming.

use crate::caller::Caller;
use crate::error::{EngineError, Result};
use crate::policy::Action;
use crate::runtime::{event, load_config, paths, save_config};
use crate::LocalEngine;

/// Docker's container names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub(in crate::runtime) fn validate_name(name: &str) -> Result<()> {
    let mut c = name.chars();
    let ok = c.next().is_some_and(|f| f.is_ascii_alphanumeric())
        && name.len() >= 2
        && c.all(|ch| ch.is_ascii_alphanumeric() || "_.-".contains(ch));
    if ok {
        Ok(())
    } else {
        Err(EngineError::invalid(format!(
            "invalid container name {name:?}: use at least two characters of [a-zA-Z0-9_.-], starting with a letter or digit"
        )))
    }
}

/// A random `adjective_name`, as Docker makes them.
pub(super) fn random_name() -> String {
    const A: &[&str] = &[
        "brave", "calm", "eager", "fancy", "gentle", "happy", "jolly", "keen", "lucid", "merry",
        "nifty", "proud", "quiet", "sharp", "tender", "upbeat", "vivid", "witty", "zealous",
        "bold",
    ];
    const B: &[&str] = &[
        "turing", "hopper", "lovelace", "curie", "noether", "ritchie", "thompson", "knuth",
        "dijkstra", "lamport", "liskov", "hamilton", "shannon", "babbage", "pike", "torvalds",
        "wozniak", "kay", "backus", "allen",
    ];
    let mut b = [0u8; 4];
    let _ = getrandom::fill(&mut b);
    format!(
        "{}_{}{}",
        A[b[0] as usize % A.len()],
        B[b[1] as usize % B.len()],
        u16::from_be_bytes([b[2], b[3]]) % 100
    )
}

impl LocalEngine {
    pub(crate) fn container_ids(&self) -> Vec<String> {
        std::fs::read_dir(self.root().containers())
            .map(|rd| {
                rd.flatten()
                    .filter(|e| e.path().join("config.json").exists())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The full id of the container named by `name_or_id` (name, full id, or unique id prefix).
    pub fn find_container(&self, name_or_id: &str) -> Result<String> {
        let q = name_or_id.trim_start_matches('/');
        // A full id names its directory: no listing (listings that look at every
        // container by id, such as the Docker API's `ps`, stay linear).
        if q.len() == 64
            && q.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            && paths::dir(self, q).join("config.json").exists()
        {
            return Ok(q.to_string());
        }
        // Names from the index (each row checked current against its files), not from
        // every config; no liveness check, which a name does not need.
        let rows = self.index().lookup(self);
        if let Some(r) = rows.iter().find(|r| r.id == q || r.name == q) {
            return Ok(r.id.clone());
        }
        if let Some(id) =
            crate::ids::resolve_prefix("container", q, rows.iter().map(|r| r.id.as_str()))?
        {
            return Ok(id);
        }
        Err(EngineError::not_found(
            "container",
            name_or_id,
            "list containers with `wharf ps -a`",
        ))
    }

    pub(super) fn rename_container(&self, caller: &Caller, id: &str, new_name: &str) -> Result<()> {
        let (mut cfg, _) = self.resolve_owned(caller, Action::ContainerRename, id)?;
        validate_name(new_name)?;
        let _l = self.root().lock("containers")?;
        if let Ok(other) = self.find_container(new_name) {
            if other != cfg.id
                && load_config(self, &other)
                    .map(|c| c.name == new_name)
                    .unwrap_or(false)
            {
                // dockerd's words, as for create.
                return Err(EngineError::conflict(format!(
                    "Error when allocating new name: Conflict. The container name \"/{new_name}\" is already in use by container \"{other}\". You have to remove (or rename) that container to be able to reuse that name."
                )));
            }
        }
        let old = std::mem::replace(&mut cfg.name, new_name.to_string());
        save_config(self, &cfg)?;
        self.emit(event(&cfg, "rename").attr("oldName", format!("/{old}")));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(validate_name("web-1").is_ok());
        assert!(validate_name("-bad").is_err());
        assert!(validate_name("a").is_err());
        let n = random_name();
        assert!(validate_name(&n).is_ok(), "{n}");
    }
}
