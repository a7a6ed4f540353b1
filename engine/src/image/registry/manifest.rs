//! Manifests, image indexes / manifest lists, and platform selection.

use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};

/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker image manifest, schema 2.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list.
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker schema 1 (signed and unsigned): obsolete, refused.
pub const DOCKER_SCHEMA1: [&str; 2] = [
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
    "application/vnd.docker.distribution.manifest.v1+json",
];

/// `Accept` header for manifest requests: every type wharf can read, best first.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

/// Largest manifest or config wharf reads into memory.
pub const MAX_MANIFEST_BYTES: u64 = 4 * 1024 * 1024;
/// Largest image config wharf reads into memory.
pub const MAX_CONFIG_BYTES: u64 = 16 * 1024 * 1024;

/// A content descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    #[serde(default)]
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
}

/// `os/architecture/variant` of an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(
        default,
        rename = "os.version",
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

impl Platform {
    /// The platform this machine runs, in OCI's words (`linux/amd64`, `linux/arm64/v8`).
    pub fn host() -> Self {
        let (architecture, variant) = match std::env::consts::ARCH {
            "x86_64" => ("amd64", None),
            "x86" => ("386", None),
            "aarch64" => ("arm64", Some("v8")),
            "arm" => ("arm", Some("v7")),
            "powerpc64" if cfg!(target_endian = "little") => ("ppc64le", None),
            "powerpc64" => ("ppc64", None),
            "riscv64" => ("riscv64", None),
            "s390x" => ("s390x", None),
            "loongarch64" => ("loong64", None),
            other => (other, None),
        };
        Platform {
            architecture: architecture.into(),
            os: std::env::consts::OS.into(),
            variant: variant.map(Into::into),
            os_version: None,
        }
    }

    /// Parse `os/arch[/variant]` as `--platform` takes it.
    pub fn parse(s: &str) -> Result<Self> {
        let parts: Vec<&str> = s.split('/').collect();
        let bad = || {
            EngineError::invalid(format!("invalid platform {s:?}: write it as os/arch[/variant], e.g. linux/amd64 or linux/arm64/v8"))
        };
        if parts.len() < 2 || parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
            return Err(bad());
        }
        let mut architecture = parts[1].to_ascii_lowercase();
        let mut variant = parts.get(2).map(|v| v.to_ascii_lowercase());
        // Common aliases, normalised as containerd does.
        match architecture.as_str() {
            "x86_64" | "x86-64" => architecture = "amd64".into(),
            "aarch64" => architecture = "arm64".into(),
            "armhf" => {
                architecture = "arm".into();
                variant.get_or_insert_with(|| "v7".into());
            }
            "armel" => {
                architecture = "arm".into();
                variant.get_or_insert_with(|| "v6".into());
            }
            _ => {}
        }
        Ok(Platform {
            architecture,
            os: parts[0].to_ascii_lowercase(),
            variant,
            os_version: None,
        })
    }

    /// Does an image for `other` run on `self` (the wanted platform)? A wanted variant
    /// must match, except that arm64 images without a variant are v8.
    fn accepts(&self, other: &Platform) -> bool {
        if self.os != other.os || self.architecture != other.architecture {
            return false;
        }
        let norm = |p: &Platform| match (p.architecture.as_str(), p.variant.as_deref()) {
            ("arm64", None) => Some("v8".to_string()),
            (_, v) => v.map(str::to_string),
        };
        match norm(self) {
            None => true,
            Some(want) => norm(other).is_none_or(|have| have == want),
        }
    }
}

/// An image manifest (OCI or Docker schema 2; same shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
}

/// An image index or manifest list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub manifests: Vec<Descriptor>,
}

/// A manifest as fetched: either an image or an index of images.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    Image(Manifest),
    Index(Index),
}

/// The media type of a manifest: the `Content-Type` the registry sent if it names a
/// known type, else the `mediaType` field, else guessed from the shape.
pub fn media_type_of(content_type: Option<&str>, body: &[u8]) -> String {
    let ct = content_type.map(|c| c.split(';').next().unwrap_or(c).trim().to_string());
    let known = [
        OCI_MANIFEST,
        OCI_INDEX,
        DOCKER_MANIFEST,
        DOCKER_MANIFEST_LIST,
    ];
    if let Some(ct) = &ct {
        if known.contains(&ct.as_str()) || DOCKER_SCHEMA1.contains(&ct.as_str()) {
            return ct.clone();
        }
    }
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    if let Some(mt) = v.get("mediaType").and_then(|m| m.as_str()) {
        return mt.to_string();
    }
    if v.get("schemaVersion").and_then(|s| s.as_u64()) == Some(1) {
        return DOCKER_SCHEMA1[1].to_string();
    }
    if v.get("manifests").is_some() {
        OCI_INDEX.to_string()
    } else {
        OCI_MANIFEST.to_string()
    }
}

/// Parse a manifest body of `media_type`; `what` names it in errors.
pub fn parse(media_type: &str, body: &[u8], what: &str) -> Result<Fetched> {
    let damaged = |e: serde_json::Error| {
        EngineError::corrupt(format!(
            "the registry sent a damaged manifest for {what}: {e}"
        ))
    };
    match media_type {
        OCI_INDEX | DOCKER_MANIFEST_LIST => Ok(Fetched::Index(serde_json::from_slice(body).map_err(damaged)?)),
        OCI_MANIFEST | DOCKER_MANIFEST => {
            let m: Manifest = serde_json::from_slice(body).map_err(damaged)?;
            for d in std::iter::once(&m.config).chain(&m.layers) {
                check_digest(&d.digest, what)?;
            }
            Ok(Fetched::Image(m))
        }
        t if DOCKER_SCHEMA1.contains(&t) => Err(EngineError::invalid(format!(
            "{what} uses the obsolete Docker schema 1 manifest format, which wharf does not pull: push it again with a current tool (Docker 1.10+ or skopeo)"
        ))),
        t => Err(EngineError::invalid(format!(
            "{what} is not an image (its manifest type is {t:?}): wharf pulls OCI and Docker images only"
        ))),
    }
}

/// Refuse anything but `sha256:<64 lowercase hex>` (the only digests the store keeps).
pub fn check_digest(digest: &str, what: &str) -> Result<()> {
    let ok = digest.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    });
    if ok {
        Ok(())
    } else {
        Err(EngineError::corrupt(format!(
            "{what} names the blob digest {digest:?}, which is not a sha256 digest: wharf only stores sha256 content"
        )))
    }
}

/// Pick the manifest for `want` from an index; the error lists what the index offers.
pub fn select_platform<'a>(
    index: &'a Index,
    want: &Platform,
    what: &str,
) -> Result<&'a Descriptor> {
    let images = index.manifests.iter().filter(|d| d.platform.is_some());
    let mut matching: Vec<&Descriptor> = images
        .filter(|d| d.platform.as_ref().is_some_and(|p| want.accepts(p)))
        .collect();
    // Exact variant first, then none.
    matching.sort_by_key(|d| {
        d.platform
            .as_ref()
            .map(|p| p.variant != want.variant)
            .unwrap_or(true)
    });
    if let Some(d) = matching.first() {
        return Ok(d);
    }
    let offered: Vec<String> = index
        .manifests
        .iter()
        .filter_map(|d| d.platform.as_ref())
        .map(|p| p.to_string())
        .collect();
    Err(EngineError::not_found(
        "platform",
        &want.to_string(),
        &format!(
            "{what} has no image for it (it has {}); choose one with --platform",
            if offered.is_empty() {
                "none".to_string()
            } else {
                offered.join(", ")
            }
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(os: &str, arch: &str, variant: Option<&str>, n: char) -> Descriptor {
        Descriptor {
            media_type: OCI_MANIFEST.into(),
            digest: format!("sha256:{}", n.to_string().repeat(64)),
            size: 1,
            urls: vec![],
            platform: Some(Platform {
                os: os.into(),
                architecture: arch.into(),
                variant: variant.map(Into::into),
                os_version: None,
            }),
        }
    }

    #[test]
    fn platform_selection() {
        let idx = Index {
            schema_version: 2,
            media_type: Some(OCI_INDEX.into()),
            manifests: vec![
                desc("linux", "amd64", None, 'a'),
                desc("linux", "arm", Some("v6"), 'b'),
                desc("linux", "arm", Some("v7"), 'c'),
                desc("linux", "arm64", Some("v8"), 'd'),
                desc("windows", "amd64", None, 'e'),
            ],
        };
        let pick = |p: &str| {
            select_platform(&idx, &Platform::parse(p).unwrap(), "x")
                .map(|d| d.digest.chars().last().unwrap())
        };
        assert_eq!(pick("linux/amd64").unwrap(), 'a');
        assert_eq!(pick("linux/arm/v7").unwrap(), 'c');
        assert_eq!(pick("linux/arm/v6").unwrap(), 'b');
        assert_eq!(pick("linux/arm64").unwrap(), 'd');
        assert_eq!(pick("linux/aarch64").unwrap(), 'd');
        assert_eq!(pick("windows/amd64").unwrap(), 'e');
        let e = pick("linux/s390x").unwrap_err();
        assert!(
            e.message.contains("linux/arm/v7") && e.message.contains("--platform"),
            "{e}"
        );
        assert!(Platform::parse("linux").is_err());
        assert_eq!(Platform::host().os, "linux");
    }

    #[test]
    fn media_types() {
        assert_eq!(
            media_type_of(
                Some("application/vnd.oci.image.index.v1+json; charset=utf-8"),
                b"{}"
            ),
            OCI_INDEX
        );
        assert_eq!(
            media_type_of(
                Some("application/json"),
                br#"{"mediaType":"application/vnd.docker.distribution.manifest.v2+json"}"#
            ),
            DOCKER_MANIFEST
        );
        assert_eq!(
            media_type_of(None, br#"{"schemaVersion":2,"manifests":[]}"#),
            OCI_INDEX
        );
        let e = parse(DOCKER_SCHEMA1[0], b"{}", "busybox:1").unwrap_err();
        assert!(e.message.contains("schema 1"), "{e}");
        let bad = br#"{"schemaVersion":2,"config":{"digest":"sha512:00","size":1},"layers":[]}"#;
        assert!(parse(OCI_MANIFEST, bad, "x").is_err());
    }
}
