//! The console's forms besides the run form, as [`Spec`](crate::form::Spec)s of the
//! generic [`Form`](crate::form::Form): what each field takes (by the flag grammar),
//! the command line the form stands for, and the engine request it makes. Forms that
//! look at the host's files (cp, export) are the console's own (`app/src/console`):
//! views read no files.

pub mod commit;
pub mod network;
pub mod update;

/// Split a field into words as a shell would (quotes group).
pub(crate) fn words(s: &str) -> Result<Vec<String>, String> {
    shlex::split(s).ok_or_else(|| "unbalanced quotes".to_string())
}

/// Why `v` is not one of `names`, with the names it may have meant.
pub fn container_error(names: &[String], v: &str) -> Option<String> {
    if names.iter().any(|n| n == v) {
        return None;
    }
    let near: Vec<&str> = names
        .iter()
        .filter(|n| !v.is_empty() && n.starts_with(v))
        .map(String::as_str)
        .take(4)
        .collect();
    Some(if near.is_empty() {
        "the name of a container (see the containers pane)".into()
    } else {
        format!("did you mean {}?", near.join(", "))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_container_name_is_checked_with_suggestions() {
        let names = vec!["srv".to_string(), "srv-2".to_string(), "db".to_string()];
        assert_eq!(container_error(&names, "srv"), None);
        assert_eq!(
            container_error(&names, "sr").as_deref(),
            Some("did you mean srv, srv-2?")
        );
        assert!(container_error(&names, "x")
            .unwrap()
            .contains("name of a container"));
    }
}
