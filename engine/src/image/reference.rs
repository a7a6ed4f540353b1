//! Image references as Docker writes them: `busybox` is `docker.io/library/busybox:latest`,
//! `localhost:5000/x/y:tag`, `name@sha256:<hex>`, `name:tag@sha256:<hex>`.
//!
//! The grammar follows the distribution project's reference grammar (the one Docker uses):
//! an optional registry domain, slash-separated lowercase path components, an optional tag
//! and an optional digest.
//!
//! The image store and the registry client share the one [`Reference`] type; the registry
//! side reads references with [`Reference::parse_remote`], which also resolves Docker
//! Hub's other names.

use std::fmt;

use crate::error::{EngineError, Result};

/// Registry used when a reference names none.
pub const DEFAULT_DOMAIN: &str = "docker.io";
/// Tag used when a reference names neither a tag nor a digest.
pub const DEFAULT_TAG: &str = "latest";
const LEGACY_DOMAIN: &str = "index.docker.io";
const OFFICIAL_REPO_PREFIX: &str = "library/";
const NAME_MAX: usize = 255;

/// A normalized image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    /// Registry host (and port), e.g. `docker.io`, `localhost:5000`, `[::1]:5000`.
    pub registry: String,
    /// Repository path inside the registry, e.g. `library/busybox`, `team/app`.
    pub repository: String,
    /// Tag, if any (`latest` is filled in when neither tag nor digest was given).
    pub tag: Option<String>,
    /// `sha256:<hex>` manifest digest, if given.
    pub digest: Option<String>,
}

impl Reference {
    /// Parse and normalize `s` the way Docker does. A bare name gets `:latest`.
    pub fn parse(s: &str) -> Result<Self> {
        let mut r = Self::parse_any(s)?;
        if r.tag.is_none() && r.digest.is_none() {
            r.tag = Some(DEFAULT_TAG.to_string());
        }
        Ok(r)
    }

    /// Parse without filling in a default tag (for `wharf push NAME`, filters, ...).
    pub fn parse_any(s: &str) -> Result<Self> {
        let bad = |why: &str| {
            EngineError::invalid(format!(
                "invalid reference format {s:?}: {why} (write e.g. busybox, busybox:1.36, \
                 localhost:5000/team/app:v1 or name@sha256:<64 hex digits>)"
            ))
        };
        if s.is_empty() {
            return Err(bad("it is empty"));
        }
        if s.len() > 1024 {
            return Err(bad("it is too long"));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((n, d)) => {
                validate_digest(d).map_err(|_| {
                    bad("the digest must be sha256: followed by 64 lowercase hex digits")
                })?;
                (n, Some(d.to_string()))
            }
            None => (s, None),
        };
        // The tag is after the last ':' that follows the last '/'.
        let last_slash = rest.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(t) = tag {
            if !valid_tag(t) {
                return Err(bad(&format!(
                    "tag {t:?} must be 1 to 128 letters, digits, '_', '.' or '-' and not start with '.' or '-'"
                )));
            }
        }
        if name.is_empty() {
            return Err(bad("the repository name is empty"));
        }
        let (domain, path) = split_domain(name);
        if let Some(d) = &domain {
            if !valid_domain(d) {
                return Err(bad(&format!("registry {d:?} is not a valid host[:port]")));
            }
        }
        if path.is_empty() {
            return Err(bad("the repository name is empty"));
        }
        if path.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(bad("repository name must be lowercase"));
        }
        for comp in path.split('/') {
            if !valid_component(comp) {
                return Err(bad(&format!(
                    "path component {comp:?} must be lowercase letters and digits, separated by '.', '_', '__' or '-'"
                )));
            }
        }
        if path.len() == 64 && path.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad(
                "a repository name cannot be a 64-character hex string (that is an image id)",
            ));
        }
        let mut domain = domain.unwrap_or_else(|| DEFAULT_DOMAIN.to_string());
        if domain == LEGACY_DOMAIN {
            domain = DEFAULT_DOMAIN.to_string();
        }
        let path = if domain == DEFAULT_DOMAIN && !path.contains('/') {
            format!("{OFFICIAL_REPO_PREFIX}{path}")
        } else {
            path.to_string()
        };
        if domain.len() + 1 + path.len() > NAME_MAX {
            return Err(bad(&format!(
                "the repository name is longer than {NAME_MAX} characters"
            )));
        }
        Ok(Reference {
            registry: domain,
            repository: path,
            tag: tag.map(str::to_string),
            digest,
        })
    }

    /// Parse a reference to pull or push as [`parse`](Self::parse) does (surrounding
    /// blanks ignored), with Docker Hub under another of its names resolved (see
    /// [`on_registry`](Self::on_registry)).
    pub fn parse_remote(input: &str) -> Result<Self> {
        Ok(Self::parse(input.trim())?.on_registry())
    }

    /// The repository as its registry serves it: Docker Hub under another of its names
    /// is `docker.io`, and its official images live under `library/` there too
    /// (`registry-1.docker.io/busybox` is `library/busybox`).
    pub fn on_registry(self) -> Self {
        match self.registry.as_str() {
            "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
                let repository = if self.repository.contains('/') {
                    self.repository
                } else {
                    format!("{OFFICIAL_REPO_PREFIX}{}", self.repository)
                };
                Reference {
                    registry: DEFAULT_DOMAIN.to_string(),
                    repository,
                    ..self
                }
            }
            _ => self,
        }
    }

    /// `docker.io/library/busybox` (no tag, no digest).
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The name as Docker shows it (`busybox`, `team/app`, `localhost:5000/x/y`), but
    /// never one that reads back as another repository: Docker Hub's name is kept when
    /// the first component would read as a registry (`docker.io/a.b/x`,
    /// `docker.io/localhost/x`) or the rest as an image id, and `library/` is dropped
    /// only before a single component (`docker.io/library/a/b` stays `library/a/b`), as
    /// Docker does.
    pub fn familiar_name(&self) -> String {
        if self.registry == DEFAULT_DOMAIN {
            let short = match self.repository.strip_prefix(OFFICIAL_REPO_PREFIX) {
                Some(rest) if !rest.contains('/') => rest,
                _ => &self.repository,
            };
            let id_like = short.len() == 64 && short.bytes().all(|b| b.is_ascii_hexdigit());
            if split_domain(short).0.is_none() && !id_like {
                return short.to_string();
            }
        }
        self.name()
    }

    /// `busybox:latest`, `localhost:5000/x/y@sha256:...`: the familiar form.
    pub fn familiar(&self) -> String {
        let mut s = self.familiar_name();
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d);
        }
        s
    }

    /// The same reference with only the tag part (drops a digest).
    pub fn with_tag(&self, tag: &str) -> Reference {
        Reference {
            registry: self.registry.clone(),
            repository: self.repository.clone(),
            tag: Some(tag.to_string()),
            digest: None,
        }
    }

    /// What to ask the registry for: the digest if there is one, else the tag.
    pub fn manifest_reference(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or(DEFAULT_TAG)
    }

    /// Host and port the registry API answers on.
    pub fn api_host(&self) -> &str {
        super::registry::reference::api_host(&self.registry)
    }
}

impl fmt::Display for Reference {
    /// The full normalized form: `docker.io/library/busybox:latest`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name())?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// Normalize `s` to its full string form (`busybox` -> `docker.io/library/busybox:latest`).
pub fn normalize(s: &str) -> Result<String> {
    Ok(Reference::parse(s)?.to_string())
}

/// Check a `sha256:<64 hex>` digest.
pub fn validate_digest(d: &str) -> Result<()> {
    match d.strip_prefix("sha256:") {
        Some(h)
            if h.len() == 64
                && h.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) =>
        {
            Ok(())
        }
        _ => Err(EngineError::invalid(format!(
            "invalid digest {d:?}: it must be sha256: followed by 64 lowercase hex digits"
        ))),
    }
}

fn split_domain(name: &str) -> (Option<String>, &str) {
    match name.find('/') {
        Some(i) => {
            let first = &name[..i];
            if first.contains('.')
                || first.contains(':')
                || first == "localhost"
                || first.bytes().any(|b| b.is_ascii_uppercase())
            {
                (Some(first.to_string()), &name[i + 1..])
            } else {
                (None, name)
            }
        }
        None => (None, name),
    }
}

fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    if b.is_empty() || !b[0].is_ascii_alphanumeric() || !b[b.len() - 1].is_ascii_alphanumeric() {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        let ch = b[i];
        if ch.is_ascii_lowercase() || ch.is_ascii_digit() {
            i += 1;
            continue;
        }
        // A separator: '.', '_', '__' or any run of '-'.
        let start = i;
        match ch {
            b'.' => i += 1,
            b'_' => {
                i += 1;
                if i < b.len() && b[i] == b'_' {
                    i += 1;
                }
            }
            b'-' => {
                while i < b.len() && b[i] == b'-' {
                    i += 1;
                }
            }
            _ => return false,
        }
        if i >= b.len() || !(b[i].is_ascii_lowercase() || b[i].is_ascii_digit()) || i == start {
            return false;
        }
    }
    true
}

fn valid_domain(d: &str) -> bool {
    let (host, port) = if let Some(rest) = d.strip_prefix('[') {
        // [ipv6]:port
        match rest.split_once(']') {
            Some((ip, after)) => {
                // An IPv6 address (Docker's grammar takes any hex digits and colons,
                // which no client can connect to).
                if ip.parse::<std::net::Ipv6Addr>().is_err() {
                    return false;
                }
                // Only a port may follow the brackets.
                if !after.is_empty() && !after.starts_with(':') {
                    return false;
                }
                (None, after.strip_prefix(':'))
            }
            None => return false,
        }
    } else {
        match d.rsplit_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(d), None),
        }
    };
    if let Some(p) = port {
        if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    match host {
        None => true,
        Some(h) => {
            !h.is_empty()
                && h.split('.').all(|label| {
                    let b = label.as_bytes();
                    !b.is_empty()
                        && b[0].is_ascii_alphanumeric()
                        && b[b.len() - 1].is_ascii_alphanumeric()
                        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
                })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> String {
        normalize(s).unwrap()
    }

    #[test]
    fn docker_normalization() {
        assert_eq!(n("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(n("busybox:1.36"), "docker.io/library/busybox:1.36");
        assert_eq!(n("library/busybox"), "docker.io/library/busybox:latest");
        assert_eq!(n("docker.io/busybox"), "docker.io/library/busybox:latest");
        assert_eq!(
            n("index.docker.io/busybox"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(n("team/app:v1"), "docker.io/team/app:v1");
        assert_eq!(n("localhost:5000/x/y:tag"), "localhost:5000/x/y:tag");
        assert_eq!(n("localhost/x"), "localhost/x:latest");
        assert_eq!(n("quay.io/a/b-c__d.e"), "quay.io/a/b-c__d.e:latest");
        assert_eq!(n("[::1]:5000/x:1"), "[::1]:5000/x:1");
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            n(&format!("busybox@{d}")),
            format!("docker.io/library/busybox@{d}")
        );
        assert_eq!(
            n(&format!("busybox:1@{d}")),
            format!("docker.io/library/busybox:1@{d}")
        );
    }

    #[test]
    fn registry_side() {
        let r = Reference::parse_remote("busybox").unwrap();
        assert_eq!(r.to_string(), "docker.io/library/busybox:latest");
        assert_eq!(r.api_host(), "registry-1.docker.io");
        assert_eq!(r.familiar(), "busybox:latest");
        let r = Reference::parse_remote("localhost:5000/x/y:tag").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()),
            ("localhost:5000", "x/y", Some("tag"))
        );
        assert_eq!(r.api_host(), "localhost:5000");
        let d = format!("sha256:{}", "a".repeat(64));
        let r = Reference::parse_remote(&format!("127.0.0.1:5000/app@{d}")).unwrap();
        assert_eq!(r.tag, None);
        assert_eq!(r.manifest_reference(), d);
        assert_eq!(Reference::parse("app:2").unwrap().manifest_reference(), "2");
        let r = Reference::parse_remote("[::1]:5000/app:2").unwrap();
        assert_eq!(r.registry, "[::1]:5000");
        assert_eq!(
            Reference::parse_remote(" team/app\n").unwrap().to_string(),
            "docker.io/team/app:latest"
        );
    }

    #[test]
    fn docker_hub_aliases_name_the_official_repository() {
        // Found by the `reference` fuzz target: the alias kept `busybox` as the
        // repository, which Docker Hub does not have, and printed a reference that
        // parsed as another one.
        for alias in ["registry-1.docker.io", "registry.hub.docker.com"] {
            let r = Reference::parse_remote(&format!("{alias}/busybox")).unwrap();
            assert_eq!(r.to_string(), "docker.io/library/busybox:latest");
            assert_eq!(Reference::parse_remote(&r.to_string()).unwrap(), r);
            assert_eq!(Reference::parse_remote(&r.familiar()).unwrap(), r);
            let r = Reference::parse_remote(&format!("{alias}/team/app:1")).unwrap();
            assert_eq!(r.repository, "team/app");
            // The short form keeps Docker Hub's name where dropping it would name
            // another registry.
            let r = Reference::parse_remote(&format!("{alias}/a.b/x")).unwrap();
            assert_eq!(r.familiar(), "docker.io/a.b/x:latest");
            assert_eq!(Reference::parse_remote(&r.familiar()).unwrap(), r);
            // The image store keeps the name as written, as Docker does.
            let r = Reference::parse(&format!("{alias}/busybox")).unwrap();
            assert_eq!(r.to_string(), format!("{alias}/busybox:latest"));
        }
    }

    #[test]
    fn familiar_forms() {
        let r = Reference::parse("busybox").unwrap();
        assert_eq!(r.familiar(), "busybox:latest");
        assert_eq!(r.familiar_name(), "busybox");
        assert_eq!(
            Reference::parse("localhost:5000/x/y:t").unwrap().familiar(),
            "localhost:5000/x/y:t"
        );
        assert_eq!(
            Reference::parse("team/app").unwrap().familiar_name(),
            "team/app"
        );
    }

    #[test]
    fn familiar_forms_read_back_as_the_same_reference() {
        // Found with the `reference` fuzz target: these shortened to names of other
        // repositories (`a.b/x` is registry a.b, `a/b` is docker.io/a/b).
        let id = "0123456789abcdef".repeat(4);
        for (full, short) in [
            ("docker.io/a.b/x:1", "docker.io/a.b/x:1"),
            ("docker.io/localhost/x:1", "docker.io/localhost/x:1"),
            ("docker.io/library/a/b:1", "library/a/b:1"),
            (
                &format!("docker.io/library/{id}:1"),
                &format!("docker.io/library/{id}:1"),
            ),
            ("docker.io/library/busybox:1", "busybox:1"),
            ("docker.io/team/app:1", "team/app:1"),
        ] {
            let r = Reference::parse(full).unwrap();
            assert_eq!(r.familiar(), short);
            assert_eq!(Reference::parse(&r.familiar()).unwrap(), r, "{full}");
        }
    }

    #[test]
    fn invalid_references_are_explained() {
        for bad in [
            "",
            "Busybox",
            "busybox:",
            "busybox:-x",
            "x:-tag",
            "a//b",
            "a:b:c/d",
            "-a",
            "a-",
            "a..b",
            "a___b",
            "busybox@sha256:abc",
            "x@sha256:12",
            "busybox@md5:aaaa",
            "host:port/x",
            "UPPER.io:99999999/x",
            // Found with the `reference` fuzz target: text after an IPv6 address's
            // brackets was taken as part of the registry.
            "[::1]x/foo",
            "[::1]x:5000/foo",
            "[:AAAA::::AAAA::::]:0/x",
            "[12345::1]/x",
            &"a".repeat(64),
            &format!("x:{}", "t".repeat(129)),
        ] {
            for e in [
                Reference::parse(bad).unwrap_err(),
                Reference::parse_remote(bad).unwrap_err(),
            ] {
                assert!(
                    e.message.starts_with("invalid reference format"),
                    "{bad}: {e}"
                );
                assert_eq!(e.kind, crate::ErrorKind::InvalidArgument, "{bad}");
            }
        }
        assert!(Reference::parse("Busybox")
            .unwrap_err()
            .message
            .contains("lowercase"));
    }
}
