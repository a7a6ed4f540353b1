//! Docker's `--filter` rules, once for every list (containers, networks, volumes,
//! events, and the Docker API's own filters on top of them).
//!
//! Filters are `(key, value)` pairs. Values of one key are alternatives (any may hold),
//! different keys must all hold. `label` and `label!` are the exception, as in Docker
//! (its `MatchKVList`): every `label=` value must hold, and every `label!=` value must
//! not. A label filter is `key` (the label is there) or `key=value` (it has that value).
//! Each list says which keys it takes ([`check_keys`]); what a key means for an object
//! is the list's own test, given to [`matches`].

use std::collections::{BTreeMap, HashMap};

use crate::error::{EngineError, Result};

/// Keys whose values must all hold rather than any.
fn all_must_hold(key: &str) -> bool {
    key == "label" || key == "label!"
}

/// Refuse a key not in `known`, by name: `refuse(key)` is the message (each list names
/// the keys it takes).
pub fn check_keys(
    filters: &[(String, String)],
    known: &[&str],
    refuse: impl Fn(&str) -> String,
) -> Result<()> {
    match filters.iter().find(|(k, _)| !known.contains(&k.as_str())) {
        Some((k, _)) => Err(EngineError::invalid(refuse(k))),
        None => Ok(()),
    }
}

/// Does an object pass `filters`? `hit(key, value)` says whether one filter holds for
/// it (an error, e.g. a value the key does not take, ends the matching). Values of one
/// key are OR-ed, keys AND-ed, `label`/`label!` values AND-ed.
pub fn matches(
    filters: &[(String, String)],
    mut hit: impl FnMut(&str, &str) -> Result<bool>,
) -> Result<bool> {
    for (i, (key, _)) in filters.iter().enumerate() {
        // Each key once, where it first appears.
        if filters[..i].iter().any(|(k, _)| k == key) {
            continue;
        }
        let all = all_must_hold(key);
        let mut held = all;
        // Every value is tried (a value the key does not take is refused even after
        // one that held).
        for (_, v) in filters[i..].iter().filter(|(k, _)| k == key) {
            let this = hit(key, v)?;
            held = if all { held && this } else { held || this };
        }
        if !held {
            return Ok(false);
        }
    }
    Ok(true)
}

/// [`matches`] for tests that cannot fail.
pub fn matches_ok(filters: &[(String, String)], mut hit: impl FnMut(&str, &str) -> bool) -> bool {
    matches(filters, |k, v| Ok(hit(k, v))).unwrap_or(false)
}

/// An object's labels, however it keeps them.
pub trait Labels {
    fn label(&self, key: &str) -> Option<&str>;
}

impl Labels for BTreeMap<String, String> {
    fn label(&self, key: &str) -> Option<&str> {
        self.get(key).map(String::as_str)
    }
}

impl Labels for HashMap<String, String> {
    fn label(&self, key: &str) -> Option<&str> {
        self.get(key).map(String::as_str)
    }
}

/// A JSON object of labels (an image's `Config.Labels`); `null` has none.
impl Labels for serde_json::Value {
    fn label(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(serde_json::Value::as_str)
    }
}

/// Does a `label=` value hold: `key` is there, or `key=value` has that value?
pub fn label_holds(labels: &impl Labels, v: &str) -> bool {
    match v.split_once('=') {
        Some((k, val)) => labels.label(k) == Some(val),
        None => labels.label(v).is_some(),
    }
}

/// `name=`: a part of the name (containers, networks, volumes).
pub fn name_holds(name: &str, v: &str) -> bool {
    name.contains(v)
}

/// `id=`: the id's beginning.
pub fn id_holds(id: &str, v: &str) -> bool {
    id.starts_with(v)
}

/// `true`/`false`/`1`/`0` (any case) in a filter such as `dangling`.
pub fn bool_value(key: &str, v: &str) -> Result<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" => Ok(true),
        "0" | "false" => Ok(false),
        _ => Err(EngineError::invalid(format!(
            "invalid filter '{key}={v}': use true or false"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn f(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// An object with a name, a status and labels, tested the way the lists do.
    fn object(pairs: &[(&str, &str)]) -> bool {
        let labels: BTreeMap<String, String> = [("app", "web"), ("tier", "front"), ("flag", "")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        matches_ok(&f(pairs), |k, v| match k {
            "name" => name_holds("proj_web_1", v),
            "id" => id_holds("abc123", v),
            "status" => v == "running",
            "label" => label_holds(&labels, v),
            "label!" => !label_holds(&labels, v),
            _ => false,
        })
    }

    #[test]
    fn repeated_keys_are_alternatives() {
        assert!(object(&[("status", "exited"), ("status", "running")]));
        assert!(object(&[("name", "db"), ("name", "web")]));
        assert!(!object(&[("name", "db"), ("name", "cache")]));
    }

    #[test]
    fn different_keys_must_all_hold() {
        assert!(object(&[("status", "running"), ("name", "web")]));
        assert!(!object(&[("status", "running"), ("name", "db")]));
        assert!(!object(&[("name", "web"), ("id", "xyz")]));
        assert!(object(&[
            ("name", "web"),
            ("id", "abc"),
            ("status", "running")
        ]));
        assert!(object(&[]));
    }

    #[test]
    fn label_forms() {
        assert!(object(&[("label", "app")]));
        assert!(object(&[("label", "app=web")]));
        assert!(!object(&[("label", "app=db")]));
        assert!(!object(&[("label", "nope")]));
        // `key=` asks for an empty value; `key` for the label whatever its value.
        assert!(object(&[("label", "flag=")]));
        assert!(object(&[("label", "flag")]));
        assert!(!object(&[("label", "app=")]));
        // Every label value must hold (Docker's rule for labels).
        assert!(object(&[("label", "app=web"), ("label", "tier=front")]));
        assert!(!object(&[("label", "app=web"), ("label", "tier=back")]));
        // `label!`: none of them may hold.
        assert!(object(&[("label!", "app=db")]));
        assert!(!object(&[("label!", "app")]));
        assert!(!object(&[("label!", "app=db"), ("label!", "tier=front")]));
        assert!(object(&[("label", "app"), ("label!", "tier=back")]));
        // JSON labels (an image's) and none at all.
        let j = serde_json::json!({"a": "1"});
        assert!(label_holds(&j, "a=1") && label_holds(&j, "a") && !label_holds(&j, "b"));
        assert!(!label_holds(&serde_json::Value::Null, "a"));
    }

    #[test]
    fn unknown_key_refused_by_name() {
        let known = ["name", "label"];
        assert!(
            check_keys(&f(&[("name", "x"), ("label", "y")]), &known, |_| "no"
                .into())
            .is_ok()
        );
        let e = check_keys(&f(&[("name", "x"), ("bogus", "y")]), &known, |k| {
            format!("invalid filter {k:?}")
        })
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidArgument);
        assert_eq!(e.message, "invalid filter \"bogus\"");
    }

    #[test]
    fn errors_from_a_test_end_the_match() {
        let r = matches(&f(&[("dangling", "maybe")]), bool_value);
        assert_eq!(r.unwrap_err().kind, ErrorKind::InvalidArgument);
        assert!(bool_value("dangling", "TRUE").unwrap());
        assert!(!bool_value("dangling", "0").unwrap());
    }
}
