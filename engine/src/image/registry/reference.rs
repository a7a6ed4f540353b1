//! Where an image lives in a registry: host, repository, tag or digest, parsed as
//! Docker writes references (`busybox` = `docker.io/library/busybox:latest`).

use crate::error::Result;

/// Docker Hub's name in references.
pub const DOCKER_HUB: &str = "docker.io";
/// Where Docker Hub's registry API answers.
pub const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// A reference resolved to one registry repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteRef {
    /// `docker.io`, `localhost:5000`, `[::1]:5000`, `ghcr.io`, ...
    pub registry: String,
    /// `library/busybox`, `team/app`, ...
    pub repository: String,
    /// `latest` when neither a tag nor a digest was given.
    pub tag: Option<String>,
    /// `sha256:<hex>`
    pub digest: Option<String>,
}

impl RemoteRef {
    /// Parse a reference as Docker does (with the image store's grammar,
    /// [`crate::image::Reference`]); the default tag is `latest` unless a digest is given.
    pub fn parse(input: &str) -> Result<Self> {
        let r = crate::image::Reference::parse(input.trim())?;
        let (registry, repository) = match r.domain.as_str() {
            // Docker Hub under another of its names: its official images live under
            // `library/` there too (`registry-1.docker.io/busybox` is `library/busybox`).
            "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
                let path = if r.path.contains('/') {
                    r.path
                } else {
                    format!("library/{}", r.path)
                };
                (DOCKER_HUB.to_string(), path)
            }
            _ => (r.domain, r.path),
        };
        Ok(RemoteRef {
            registry,
            repository,
            tag: r.tag,
            digest: r.digest,
        })
    }

    /// `docker.io/library/busybox`
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// What to ask the registry for: the digest if there is one, else the tag.
    pub fn manifest_reference(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }

    /// Host and port the registry API answers on.
    pub fn api_host(&self) -> &str {
        api_host(&self.registry)
    }

    /// Docker's familiar short form: `busybox:latest`, `team/app:1`, `localhost:5000/x:1`.
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

    /// Familiar repository name without tag or digest (`busybox`, `localhost:5000/x`).
    pub fn familiar_name(&self) -> String {
        crate::image::reference::familiar_name(&self.registry, &self.repository)
    }
}

impl std::fmt::Display for RemoteRef {
    /// The full form: `docker.io/library/busybox:latest`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
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

/// Host and port the API of `registry` answers on (Docker Hub's differs from its name).
pub fn api_host(registry: &str) -> &str {
    if registry == DOCKER_HUB {
        DOCKER_HUB_API
    } else {
        registry
    }
}

/// The host part of a registry address without its port: `localhost`, `127.0.0.1`, `::1`.
pub fn host_without_port(registry: &str) -> &str {
    if let Some(rest) = registry.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    registry
        .rsplit_once(':')
        .map(|(h, _)| h)
        .unwrap_or(registry)
}

/// Is the registry on this machine's loopback (where plain http is allowed)?
pub fn is_loopback(registry: &str) -> bool {
    let host = host_without_port(registry);
    host == "localhost"
        || host == "::1"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|a| a == std::net::Ipv4Addr::LOCALHOST)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_forms() {
        let r = RemoteRef::parse("busybox").unwrap();
        assert_eq!(r.to_string(), "docker.io/library/busybox:latest");
        assert_eq!(r.api_host(), "registry-1.docker.io");
        assert_eq!(r.familiar(), "busybox:latest");
        let r = RemoteRef::parse("localhost:5000/x/y:tag").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()),
            ("localhost:5000", "x/y", Some("tag"))
        );
        let d = format!("sha256:{}", "a".repeat(64));
        let r = RemoteRef::parse(&format!("127.0.0.1:5000/app@{d}")).unwrap();
        assert_eq!(r.tag, None);
        assert_eq!(r.manifest_reference(), d);
        let r = RemoteRef::parse("[::1]:5000/app:2").unwrap();
        assert_eq!(r.registry, "[::1]:5000");
        assert!(is_loopback(&r.registry));
        assert!(is_loopback("localhost"));
        assert!(is_loopback("127.0.0.1:5000"));
        assert!(!is_loopback("127.0.0.2:5000"));
        assert!(!is_loopback("example.com:5000"));
        assert_eq!(
            RemoteRef::parse("team/app").unwrap().to_string(),
            "docker.io/team/app:latest"
        );
    }

    #[test]
    fn docker_hub_aliases_name_the_official_repository() {
        // Found by the `reference` fuzz target: the alias kept `busybox` as the
        // repository, which Docker Hub does not have, and printed a reference that
        // parsed as another one.
        for alias in ["registry-1.docker.io", "registry.hub.docker.com"] {
            let r = RemoteRef::parse(&format!("{alias}/busybox")).unwrap();
            assert_eq!(r.to_string(), "docker.io/library/busybox:latest");
            assert_eq!(RemoteRef::parse(&r.to_string()).unwrap(), r);
            assert_eq!(RemoteRef::parse(&r.familiar()).unwrap(), r);
            let r = RemoteRef::parse(&format!("{alias}/team/app:1")).unwrap();
            assert_eq!(r.repository, "team/app");
            // The short form keeps Docker Hub's name where dropping it would name
            // another registry.
            let r = RemoteRef::parse(&format!("{alias}/a.b/x")).unwrap();
            assert_eq!(r.familiar(), "docker.io/a.b/x:latest");
            assert_eq!(RemoteRef::parse(&r.familiar()).unwrap(), r);
        }
    }

    #[test]
    fn invalid_ones_are_explained() {
        for bad in ["", "Busybox", "a:b:c/d", "x@sha256:12", "x:-tag", "a//b"] {
            let e = RemoteRef::parse(bad).unwrap_err();
            assert!(e.message.contains("invalid reference"), "{bad}: {e}");
            assert_eq!(e.kind, crate::ErrorKind::InvalidArgument);
        }
    }
}
