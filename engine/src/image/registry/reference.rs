//! Registry addresses: where a registry's API answers and whether it is on this machine.
//! References themselves are [`crate::image::Reference`] (read with
//! [`Reference::parse_remote`](crate::image::Reference::parse_remote) on the registry
//! side).

/// Docker Hub's name in references.
pub const DOCKER_HUB: &str = crate::image::reference::DEFAULT_DOMAIN;
/// Where Docker Hub's registry API answers.
pub const DOCKER_HUB_API: &str = "registry-1.docker.io";

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
    fn loopback_registries() {
        assert!(is_loopback("[::1]:5000"));
        assert!(is_loopback("localhost"));
        assert!(is_loopback("127.0.0.1:5000"));
        assert!(!is_loopback("127.0.0.2:5000"));
        assert!(!is_loopback("example.com:5000"));
        assert_eq!(api_host("docker.io"), "registry-1.docker.io");
        assert_eq!(api_host("localhost:5000"), "localhost:5000");
    }
}
