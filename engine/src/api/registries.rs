//! Registry browsing: the registries a caller knows (logged in to, or named by the
//! engine's configuration), a registry's repositories (`/v2/_catalog`, page by page),
//! a repository's tags (`tags/list`), a tag's manifest (platforms, layers, config), and
//! deleting a tag where the registry allows it. Pull, push, login and logout are
//! [`RegistryApi`](super::RegistryApi)'s.
//!
//! Permissions: browsing reads a registry as a pull does, so it needs `image.pull`;
//! deleting a tag changes the registry as a push does (a push can replace what a tag
//! names), so it needs `image.push`. No new verb: a policy that lets a role pull lets it
//! see what it could pull, and one that forbids pushing forbids deleting too.
//! Credentials are the caller's own (`wharf login`, stored per uid).
//!
//! Every method has a default that says the engine does not offer it, so an engine that
//! cannot (a Docker endpoint) needs no code for it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::accounts::unsupported;
use crate::caller::Caller;
use crate::error::Result;

/// A registry the caller may browse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryEntry {
    /// `host[:port]` as references name it (`docker.io`, `127.0.0.1:5000`).
    pub registry: String,
    /// The user name the caller logged in as, if they did (never the password).
    pub username: Option<String>,
    /// Named by the engine's configuration (the registries file, the insecure list).
    pub configured: bool,
    /// Reached over plain http or unverified TLS (loopback, or marked insecure).
    pub insecure: bool,
}

/// Which page of a list: at most `n` names after `last` (the registry's pagination).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageRequest {
    /// Names per page (the registry may send fewer); 100 when `None`.
    pub n: Option<u32>,
    /// The last name of the previous page.
    pub last: Option<String>,
}

/// A page of names: repositories of a registry, or tags of a repository.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamePage {
    /// The registry (`127.0.0.1:5000`), or the repository (`127.0.0.1:5000/demo/app`).
    pub of: String,
    pub names: Vec<String>,
    /// What to pass as `last` for the next page; `None` on the last page.
    pub next: Option<String>,
}

/// A tag's manifest as the registry serves it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteManifest {
    /// `registry/repository:tag` (or `@digest`).
    pub reference: String,
    /// `sha256:…` of what the tag names (an index for a multi-platform image).
    pub digest: String,
    pub media_type: String,
    /// The platforms of an index (empty for a single image).
    pub platforms: Vec<RemotePlatform>,
    /// The image of the asked platform (this host's by default), or of the only one.
    pub image: Option<RemoteImage>,
}

/// One platform of an index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemotePlatform {
    /// `linux/amd64`, `linux/arm64/v8`.
    pub platform: String,
    pub digest: String,
    pub size: u64,
}

/// One image: its layers and its config.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteImage {
    pub digest: String,
    pub media_type: String,
    pub platform: String,
    pub config_digest: String,
    pub layers: Vec<RemoteLayer>,
    /// Sum of the layers' (compressed) sizes: what a pull downloads at most.
    pub size: u64,
    pub config: RemoteConfig,
}

/// One layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteLayer {
    pub digest: String,
    pub size: u64,
    pub media_type: String,
}

/// What an image's config says about running it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteConfig {
    pub created: Option<String>,
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub working_dir: String,
    pub user: String,
    pub exposed_ports: Vec<String>,
    pub labels: BTreeMap<String, String>,
}

/// What a tag deletion did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagDeletion {
    /// `registry/repository:tag`.
    pub reference: String,
    /// The manifest the tag named.
    pub digest: String,
    /// `true`: the registry removed the tag alone; `false`: it removes tags by deleting
    /// the manifest, so every tag that named it went too.
    pub tag_only: bool,
}

/// Registry browsing calls.
pub trait RegistryBrowseApi {
    /// The caller's registries: those they logged in to and those the engine's
    /// configuration names.
    fn registry_list(&self, _caller: &Caller) -> Result<Vec<RegistryEntry>> {
        Err(unsupported("listing registries"))
    }
    /// A page of `registry`'s repositories (`GET /v2/_catalog`).
    fn registry_catalog(
        &self,
        _caller: &Caller,
        _registry: &str,
        _page: &PageRequest,
    ) -> Result<NamePage> {
        Err(unsupported("browsing a registry's catalog"))
    }
    /// A page of the tags of `repository` (`registry/name`; `GET /v2/NAME/tags/list`).
    fn registry_tags(
        &self,
        _caller: &Caller,
        _repository: &str,
        _page: &PageRequest,
    ) -> Result<NamePage> {
        Err(unsupported("listing a repository's tags"))
    }
    /// The manifest `reference` names, with the image of `platform` (`os/arch[/variant]`;
    /// this host's when `None`) if it is an index.
    fn registry_manifest(
        &self,
        _caller: &Caller,
        _reference: &str,
        _platform: Option<&str>,
    ) -> Result<RemoteManifest> {
        Err(unsupported("reading a manifest from a registry"))
    }
    /// Delete the tag `reference` names from its registry, where the registry allows it.
    fn registry_delete(&self, _caller: &Caller, _reference: &str) -> Result<TagDeletion> {
        Err(unsupported("deleting a tag from a registry"))
    }
}
