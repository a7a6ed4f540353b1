//! The commit form: `wharf commit [-a AUTHOR] [-m MESSAGE] [-c INSTRUCTION]... CONTAINER
//! [REPOSITORY[:TAG]]`, the container's writable layer as a new image.

use serde_json::Map;
use wharf_engine::api::CommitOptions;
use wharf_engine::image::build::apply_change;
use wharf_engine::image::reference::{self, Reference};

use crate::form::{quote, FieldDef, Spec};

/// Field numbers.
pub const REFERENCE: usize = 0;
pub const MESSAGE: usize = 1;
pub const AUTHOR: usize = 2;
pub const CHANGES: usize = 3;
pub const PAUSE: usize = 4;

const FIELDS: &[FieldDef] = &[
    FieldDef::text(
        "repository:tag",
        "optional, e.g. lab/web:2 (none: an untagged image)",
    ),
    FieldDef::text("message", "optional: what this image has"),
    FieldDef::text("author", "optional, e.g. Alice <alice@lab>"),
    FieldDef::text("changes", "optional, e.g. CMD [\"httpd\",\"-f\"] EXPOSE 80"),
    FieldDef::choice("pause", &["yes", "no"]),
];

/// The instructions `commit -c` takes.
const INSTRUCTIONS: [&str; 10] = [
    "CMD",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "LABEL",
    "ONBUILD",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

/// The changes field as `-c` instructions: a new one starts at each instruction word
/// written in capitals (`CMD ["sh"] EXPOSE 80` is two); the text between is kept as
/// typed (JSON arrays keep their quotes).
pub fn split_changes(s: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut start: Option<usize> = None;
    let mut pos = 0;
    for w in s.split_inclusive(char::is_whitespace) {
        let word = w.trim_end();
        if !word.is_empty() && (start.is_none() || INSTRUCTIONS.contains(&word)) {
            if let Some(b) = start {
                out.push(s[b..pos].trim().to_string());
            }
            start = Some(pos);
        }
        pos += w.len();
    }
    if let Some(b) = start {
        out.push(s[b..].trim().to_string());
    }
    out.retain(|x| !x.is_empty());
    out
}

/// The commit form for a container (`known`: the image references there are, full).
#[derive(Debug, Clone)]
pub struct CommitSpec {
    pub container: String,
    pub known: Vec<String>,
}

impl CommitSpec {
    /// The engine's options for these values (checked first: see [`Spec::error`]).
    pub fn request(&self, v: &[String]) -> CommitOptions {
        let opt = |i: usize| Some(v[i].trim().to_string()).filter(|s| !s.is_empty());
        CommitOptions {
            reference: opt(REFERENCE),
            message: opt(MESSAGE),
            author: opt(AUTHOR),
            changes: split_changes(&v[CHANGES]),
            pause: v[PAUSE] != "no",
        }
    }

    /// The full reference an existing image has under this name, if one does: the
    /// commit moves that tag.
    pub fn replaces(&self, v: &[String]) -> Option<String> {
        let r = v[REFERENCE].trim();
        let full = reference::normalize(r).ok()?;
        self.known.iter().find(|k| **k == full).cloned()
    }
}

impl Spec for CommitSpec {
    fn title(&self) -> String {
        format!("commit {} to an image", self.container)
    }

    fn fields(&self) -> &'static [FieldDef] {
        FIELDS
    }

    fn error(&self, v: &[String], i: usize) -> Option<String> {
        let t = v[i].trim();
        match i {
            REFERENCE if !t.is_empty() => match Reference::parse(t) {
                Err(e) => Some(e.message),
                Ok(r) if r.digest.is_some() => {
                    Some("a commit gets a tag, not a digest: leave out @sha256:…".into())
                }
                Ok(_) => None,
            },
            CHANGES => split_changes(t).iter().find_map(|c| {
                apply_change(&mut Map::new(), c)
                    .err()
                    .map(|e| e.message.replace("--change", "-c"))
            }),
            _ => None,
        }
    }

    fn hint(&self, v: &[String], i: usize) -> Option<String> {
        (i == REFERENCE)
            .then(|| self.replaces(v))
            .flatten()
            .map(|_| "exists: the tag moves to the new image".into())
    }

    fn command_line(&self, v: &[String]) -> String {
        let mut out = vec!["wharf".to_string(), "commit".into()];
        let t = |i: usize| v[i].trim().to_string();
        if !t(AUTHOR).is_empty() {
            out.push(format!("-a {}", quote(&t(AUTHOR))));
        }
        if !t(MESSAGE).is_empty() {
            out.push(format!("-m {}", quote(&t(MESSAGE))));
        }
        for c in split_changes(&v[CHANGES]) {
            out.push(format!("-c {}", quote(&c)));
        }
        if v[PAUSE] == "no" {
            out.push("--pause=false".into());
        }
        out.push(quote(&self.container));
        if !t(REFERENCE).is_empty() {
            out.push(quote(&t(REFERENCE)));
        }
        out.join(" ")
    }

    fn verb(&self) -> &'static str {
        "commit"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::form::{draw, Form};
    use crate::testutil::render;
    use crate::Theme;

    fn form() -> Form {
        Form::new(Box::new(CommitSpec {
            container: "web-1".into(),
            known: vec!["docker.io/lab/web:1".into()],
        }))
    }

    #[test]
    fn instructions_split_where_a_new_one_starts() {
        assert_eq!(
            split_changes(r#"CMD ["httpd", "-f"]  EXPOSE 80 ENV A=b C=d"#),
            vec![r#"CMD ["httpd", "-f"]"#, "EXPOSE 80", "ENV A=b C=d"]
        );
        assert_eq!(split_changes("  "), Vec::<String>::new());
        assert_eq!(split_changes("cmd sh"), vec!["cmd sh"]);
    }

    #[test]
    fn a_filled_form_makes_the_request_and_the_command_line() {
        let mut f = form()
            .with(REFERENCE, "lab/web:2")
            .with(MESSAGE, "with index.html")
            .with(AUTHOR, "Alice <alice@lab>")
            .with(CHANGES, r#"CMD ["httpd","-f"] EXPOSE 80"#);
        assert!(f.submit());
        let spec = CommitSpec {
            container: "web-1".into(),
            known: vec![],
        };
        let o = spec.request(&f.values);
        assert_eq!(o.reference.as_deref(), Some("lab/web:2"));
        assert_eq!(o.changes, vec![r#"CMD ["httpd","-f"]"#, "EXPOSE 80"]);
        assert!(o.pause);
        assert_eq!(
            f.command_line(),
            r#"wharf commit -a 'Alice <alice@lab>' -m 'with index.html' -c 'CMD ["httpd","-f"]' -c 'EXPOSE 80' web-1 lab/web:2"#
        );
        f.focus = CHANGES;
        insta::assert_snapshot!(render(100, 16, |fr| draw(
            fr,
            fr.area(),
            &Theme::default(),
            &f
        )));
    }

    #[test]
    fn errors_and_the_tag_that_moves() {
        let f = form().with(REFERENCE, "Lab/Web").with(CHANGES, "RUN true");
        assert!(f.error(REFERENCE).unwrap().contains("lowercase"));
        assert!(
            f.error(CHANGES).unwrap().contains("cannot be changed"),
            "{:?}",
            f.error(CHANGES)
        );
        let f = form().with(REFERENCE, "lab/web:1");
        assert!(f.error(REFERENCE).is_none());
        assert!(f.spec.hint(&f.values, REFERENCE).is_some());
        let f = form().with(
            REFERENCE,
            "lab/web@sha256:0000000000000000000000000000000000000000000000000000000000000000",
        );
        assert!(f.error(REFERENCE).unwrap().contains("digest"));
        let mut f = form().with(REFERENCE, "Lab/Web");
        f.submit();
        insta::assert_snapshot!(render(80, 14, |fr| draw(
            fr,
            fr.area(),
            &Theme::default(),
            &f
        )));
    }
}
