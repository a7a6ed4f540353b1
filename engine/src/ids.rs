//! Object ids: 64 hex characters, shown shortened to 12, found by any unique prefix.

use crate::error::{EngineError, Result};

/// A fresh random id of 64 lowercase hex characters.
pub fn new_id() -> String {
    let mut buf = [0u8; 32];
    // getrandom only fails when the kernel has no entropy source at all.
    getrandom::fill(&mut buf).expect("the kernel's random source is unavailable");
    hex::encode(buf)
}

/// The first 12 characters, as `docker ps` shows ids.
pub fn short(id: &str) -> &str {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    &id[..id.len().min(12)]
}

/// Is `s` a plausible (possibly shortened) hex id?
pub fn is_hex_prefix(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// Find the one id among `ids` that `prefix` names. `what` names the kind of object
/// for the error ("container", "image").
pub fn resolve_prefix<'a, I>(what: &str, prefix: &str, ids: I) -> Result<Option<String>>
where
    I: IntoIterator<Item = &'a str>,
{
    let p = prefix.strip_prefix("sha256:").unwrap_or(prefix);
    if !is_hex_prefix(p) {
        return Ok(None);
    }
    let mut found: Option<&str> = None;
    for id in ids {
        let bare = id.strip_prefix("sha256:").unwrap_or(id);
        if bare.starts_with(p) {
            if found.is_some() {
                return Err(EngineError::invalid(format!(
                    "{what} id prefix {prefix:?} is ambiguous: give more characters"
                )));
            }
            found = Some(id);
        }
    }
    Ok(found.map(str::to_string))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_64_hex_and_distinct() {
        let a = new_id();
        let b = new_id();
        assert_eq!(a.len(), 64);
        assert!(is_hex_prefix(&a));
        assert_ne!(a, b);
        assert_eq!(short(&a).len(), 12);
    }

    #[test]
    fn prefix_resolution() {
        let ids = ["abc123", "abd456", "ff00"];
        assert_eq!(
            resolve_prefix("container", "abc", ids).unwrap().as_deref(),
            Some("abc123")
        );
        assert!(resolve_prefix("container", "ab", ids).is_err());
        assert_eq!(resolve_prefix("container", "0", ids).unwrap(), None);
        assert_eq!(resolve_prefix("container", "web", ids).unwrap(), None);
    }
}
