//! Registries: pull and push images over the OCI distribution protocol, and the
//! credentials `wharf login` saves.

pub mod api;
pub mod auth;
pub mod browse;
pub mod client;
pub mod manifest;
pub mod reference;
pub mod transfer;

use client::Security;

/// Environment variable listing registries (`host[:port]`, comma separated) that may be
/// reached over plain http or with unverified TLS, like Docker's `insecure-registries`.
pub const INSECURE_ENV: &str = "WHARF_INSECURE_REGISTRIES";

/// The registries marked insecure in [`INSECURE_ENV`].
pub fn insecure_registries() -> Vec<String> {
    std::env::var(INSECURE_ENV)
        .unwrap_or_default()
        .split([',', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// How to reach `registry`: insecure only if it is on loopback or listed in `insecure`.
pub fn security_for(registry: &str, insecure: &[String]) -> Security {
    let listed = insecure.iter().any(|i| {
        i == registry || (!i.contains(':') && reference::host_without_port(registry) == i)
    });
    Security {
        insecure: listed || reference::is_loopback(registry),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_for_loopback_or_listed() {
        let none: Vec<String> = vec![];
        assert!(security_for("127.0.0.1:5000", &none).insecure);
        assert!(security_for("localhost:5000", &none).insecure);
        assert!(security_for("[::1]:5000", &none).insecure);
        assert!(!security_for("registry.example.com", &none).insecure);
        assert!(!security_for("10.0.0.5:5000", &none).insecure);
        let listed = vec!["10.0.0.5:5000".to_string(), "lab.example".to_string()];
        assert!(security_for("10.0.0.5:5000", &listed).insecure);
        assert!(!security_for("10.0.0.5:5001", &listed).insecure);
        assert!(security_for("lab.example:443", &listed).insecure);
        assert!(!security_for("docker.io", &listed).insecure);
    }
}
