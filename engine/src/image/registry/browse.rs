//! [`RegistryBrowseApi`] for the in-process engine: the caller's registries, a
//! registry's catalog and a repository's tags page by page, a tag's manifest with its
//! platforms, layers and config, and tag deletion, each with the caller's own login.

use std::io::Read;
use std::path::PathBuf;

use ureq::http::Method;

use super::auth::Credentials;
use super::client::{error_text, header, repo_scope, sha256_digest, Payload, RegistryClient};
use super::manifest::{self, Fetched, Platform, MAX_CONFIG_BYTES};
use super::reference::api_host;
use super::{insecure_registries, security_for};
use crate::api::{
    NamePage, PageRequest, RegistryBrowseApi, RegistryEntry, RemoteConfig, RemoteImage,
    RemoteLayer, RemoteManifest, RemotePlatform, TagDeletion,
};
use crate::caller::Caller;
use crate::error::{EngineError, ErrorKind, Result};
use crate::image::Reference;
use crate::local::LocalEngine;
use crate::policy::Action;

/// The registries file: `{"registries": ["registry.lab:5000", "ghcr.io"]}`, registries
/// every user of this machine is offered in the console besides those they logged in to.
pub const DEFAULT_REGISTRIES_FILE: &str = "/etc/wharf/registries.json";

/// Environment variable naming another registries file.
pub const REGISTRIES_ENV: &str = "WHARF_REGISTRIES";

/// Names per page when the caller does not say.
pub const DEFAULT_PAGE: u32 = 100;

/// The most names one page may ask for (a registry may cap it lower).
pub const MAX_PAGE: u32 = 1000;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistriesFile {
    #[serde(default)]
    registries: Vec<String>,
}

/// The registries named by the registries file (or none when there is none).
pub fn configured_registries() -> Result<Vec<String>> {
    let path = std::env::var_os(REGISTRIES_ENV)
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_REGISTRIES_FILE));
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => {
            return Err(EngineError::io(
                format!("reading the registries file {}", path.display()),
                e,
            ))
        }
    };
    let f: RegistriesFile = serde_json::from_str(&text).map_err(|e| {
        EngineError::invalid(format!(
            "registries file {} line {} column {}: {e}; write it as {{\"registries\": [\"host[:port]\", ...]}}",
            path.display(),
            e.line(),
            e.column()
        ))
    })?;
    f.registries
        .iter()
        .map(|r| {
            super::api::normalize_server(r).map_err(|e| {
                EngineError::invalid(format!("registries file {}: {}", path.display(), e.message))
            })
        })
        .collect()
}

/// The `last` of a `Link: <...?last=x&n=2>; rel="next"` header: where the next page starts.
fn next_from_link(link: Option<&str>) -> Option<String> {
    let link = link?;
    link.split(',').find_map(|part| {
        if !part.contains("rel=\"next\"") && !part.contains("rel=next") {
            return None;
        }
        let start = part.find('<')? + 1;
        let end = part[start..].find('>')? + start;
        let u = url::Url::parse(&format!("http://x{}", &part[start..end])).ok()?;
        u.query_pairs()
            .find(|(k, _)| k == "last")
            .map(|(_, v)| v.into_owned())
    })
}

/// `?n=..&last=..` for a page.
fn page_url(base: &str, page: &PageRequest) -> Result<String> {
    let mut u = url::Url::parse(base)
        .map_err(|e| EngineError::internal(format!("building {base}: {e}")))?;
    {
        let mut q = u.query_pairs_mut();
        q.append_pair(
            "n",
            &page
                .n
                .unwrap_or(DEFAULT_PAGE)
                .clamp(1, MAX_PAGE)
                .to_string(),
        );
        if let Some(l) = page.last.as_deref().filter(|l| !l.is_empty()) {
            q.append_pair("last", l);
        }
    }
    Ok(u.to_string())
}

/// A name list answer (`{"repositories": [...]}` or `{"name": .., "tags": [...]}`).
#[derive(serde::Deserialize)]
struct Names {
    #[serde(default)]
    repositories: Option<Vec<String>>,
    #[serde(default)]
    tags: Option<Vec<String>>,
}

impl RegistryClient {
    /// `GET /v2/_catalog?n=&last=`: a page of the registry's repositories.
    pub fn catalog(&self, page: &PageRequest) -> Result<(Vec<String>, Option<String>)> {
        let url = page_url(&format!("{}/v2/_catalog", self.base_url()), page)?;
        let mut resp = self.send(
            Method::GET,
            &url,
            Some("registry:catalog:*"),
            &[],
            Payload::Empty,
        )?;
        match resp.status().as_u16() {
            200 => {}
            404 | 405 => {
                return Err(EngineError::new(
                    ErrorKind::NotFound,
                    format!(
                        "registry {} does not list its repositories (it answered {} to GET /v2/_catalog): open a repository by its name instead",
                        self.registry(),
                        resp.status().as_u16()
                    ),
                ))
            }
            _ => return Err(self.status_error(&mut resp, "the list of repositories")),
        }
        let next = next_from_link(header(&resp, "link").as_deref());
        let names = self.read_names(&mut resp, "the list of repositories")?;
        Ok((names.repositories.unwrap_or_default(), next))
    }

    /// `GET /v2/<repo>/tags/list?n=&last=`: a page of a repository's tags.
    pub fn tags(
        &self,
        repository: &str,
        page: &PageRequest,
    ) -> Result<(Vec<String>, Option<String>)> {
        let url = page_url(
            &format!("{}/v2/{repository}/tags/list", self.base_url()),
            page,
        )?;
        let scope = repo_scope(repository, false);
        let mut resp = self.send(Method::GET, &url, Some(&scope), &[], Payload::Empty)?;
        if resp.status().as_u16() != 200 {
            let e = self.status_error(&mut resp, &format!("the tags of {repository}"));
            return Err(if e.kind == ErrorKind::NotFound {
                EngineError::not_found(
                    "repository",
                    &format!("{}/{repository}", self.registry()),
                    "check its name in the registry's catalog",
                )
            } else {
                e
            });
        }
        let next = next_from_link(header(&resp, "link").as_deref());
        let names = self.read_names(&mut resp, &format!("the tags of {repository}"))?;
        Ok((names.tags.unwrap_or_default(), next))
    }

    fn read_names(&self, resp: &mut ureq::http::Response<ureq::Body>, what: &str) -> Result<Names> {
        let body = resp
            .body_mut()
            .with_config()
            .limit(manifest::MAX_MANIFEST_BYTES)
            .read_to_vec()
            .map_err(|e| {
                EngineError::unavailable(format!(
                    "reading {what} from registry {}: {e}",
                    self.registry()
                ))
            })?;
        serde_json::from_slice(&body).map_err(|e| {
            EngineError::unavailable(format!(
                "registry {} sent {what} in a form wharf cannot read: {e}",
                self.registry()
            ))
        })
    }

    /// A small blob (an image config), read whole and checked against its digest.
    pub fn get_small_blob(&self, repository: &str, digest: &str, size: u64) -> Result<Vec<u8>> {
        if size > MAX_CONFIG_BYTES {
            return Err(EngineError::invalid(format!(
                "the config {digest} of {repository} claims {size} bytes, more than the {MAX_CONFIG_BYTES} wharf reads"
            )));
        }
        let (r, _) = self.get_blob(repository, digest)?;
        let mut data = Vec::new();
        r.take(MAX_CONFIG_BYTES + 1)
            .read_to_end(&mut data)
            .map_err(|e| {
                EngineError::unavailable(format!(
                    "reading blob {digest} of {repository} from registry {}: {e}",
                    self.registry()
                ))
            })?;
        if sha256_digest(&data) != digest {
            return Err(EngineError::corrupt(format!(
                "blob {digest} of {repository} from registry {} does not match its digest: try again",
                self.registry()
            )));
        }
        Ok(data)
    }

    /// `DELETE /v2/<repo>/manifests/<reference>`: the status and the registry's words.
    fn delete_manifest(&self, repository: &str, reference: &str) -> Result<(u16, String)> {
        let url = format!("{}/v2/{repository}/manifests/{reference}", self.base_url());
        let scope = format!("repository:{repository}:pull,push,delete");
        let mut resp = self.send(Method::DELETE, &url, Some(&scope), &[], Payload::Empty)?;
        let status = resp.status().as_u16();
        if (200..300).contains(&status) {
            return Ok((status, String::new()));
        }
        if matches!(status, 401 | 403 | 404 | 429) {
            return Err(self.status_error(&mut resp, &format!("deleting {repository}:{reference}")));
        }
        Ok((status, error_text(&mut resp)))
    }
}

impl LocalEngine {
    /// A client for `registry` with the caller's saved login, if any.
    fn browse_client(&self, caller: &Caller, registry: &str) -> Result<RegistryClient> {
        let creds: Option<Credentials> = self.credentials().get(caller.uid, registry)?;
        let security = security_for(registry, &insecure_registries());
        RegistryClient::connect(registry, api_host(registry), creds, &security)
    }

    /// A repository named `registry/name`, checked (no tag or digest).
    fn repository_ref(repository: &str) -> Result<Reference> {
        let r = Reference::parse_remote(repository).map_err(|e| {
            EngineError::invalid(format!(
                "{repository:?} is not a repository name: write registry/name, e.g. localhost:5000/team/app ({})",
                e.message
            ))
        })?;
        if r.digest.is_some()
            || repository
                .rsplit('/')
                .next()
                .is_some_and(|l| l.contains(':'))
        {
            return Err(EngineError::invalid(format!(
                "{repository:?} names a tag or digest: give the repository alone (registry/name)"
            )));
        }
        Ok(r)
    }
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The parts of an image config the console shows.
fn remote_config(config: &[u8]) -> RemoteConfig {
    let v: serde_json::Value = serde_json::from_slice(config).unwrap_or_default();
    let c = &v["config"];
    let mut ports: Vec<String> = c["ExposedPorts"]
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    ports.sort();
    RemoteConfig {
        created: v["created"].as_str().map(str::to_string),
        entrypoint: strings(&c["Entrypoint"]),
        cmd: strings(&c["Cmd"]),
        env: strings(&c["Env"]),
        working_dir: c["WorkingDir"].as_str().unwrap_or("").to_string(),
        user: c["User"].as_str().unwrap_or("").to_string(),
        exposed_ports: ports,
        labels: c["Labels"]
            .as_object()
            .map(|o| {
                o.iter()
                    .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

impl RegistryBrowseApi for LocalEngine {
    fn registry_list(&self, caller: &Caller) -> Result<Vec<RegistryEntry>> {
        self.gate().authorize(caller, Action::ImagePull)?;
        let insecure = insecure_registries();
        let mut out: Vec<RegistryEntry> = Vec::new();
        for (registry, username) in self.credentials().logins(caller.uid)? {
            out.push(RegistryEntry {
                insecure: security_for(&registry, &insecure).insecure,
                registry,
                username: Some(username),
                configured: false,
            });
        }
        let mut named = configured_registries()?;
        named.extend(
            insecure
                .iter()
                .filter_map(|r| super::api::normalize_server(r).ok()),
        );
        for registry in named {
            match out.iter_mut().find(|e| e.registry == registry) {
                Some(e) => e.configured = true,
                None => out.push(RegistryEntry {
                    insecure: security_for(&registry, &insecure).insecure,
                    registry,
                    username: None,
                    configured: true,
                }),
            }
        }
        out.sort_by(|a, b| a.registry.cmp(&b.registry));
        Ok(out)
    }

    fn registry_catalog(
        &self,
        caller: &Caller,
        registry: &str,
        page: &PageRequest,
    ) -> Result<NamePage> {
        let registry = super::api::normalize_server(registry)?;
        self.gate().authorize_on(
            caller,
            Action::ImagePull,
            &format!("registry {registry}"),
            None,
        )?;
        let client = self.browse_client(caller, &registry)?;
        let (names, next) = client.catalog(page)?;
        Ok(NamePage {
            of: registry,
            names,
            next,
        })
    }

    fn registry_tags(
        &self,
        caller: &Caller,
        repository: &str,
        page: &PageRequest,
    ) -> Result<NamePage> {
        let r = Self::repository_ref(repository)?;
        self.gate()
            .authorize_on(caller, Action::ImagePull, &r.familiar_name(), None)?;
        let client = self.browse_client(caller, &r.registry)?;
        let (names, next) = client.tags(&r.repository, page)?;
        Ok(NamePage {
            of: r.name(),
            names,
            next,
        })
    }

    fn registry_manifest(
        &self,
        caller: &Caller,
        reference: &str,
        platform: Option<&str>,
    ) -> Result<RemoteManifest> {
        let r = Reference::parse_remote(reference)?;
        self.gate()
            .authorize_on(caller, Action::ImagePull, &r.familiar(), None)?;
        let want = match platform {
            Some(p) => Platform::parse(p)?,
            None => Platform::host(),
        };
        let client = self.browse_client(caller, &r.registry)?;
        let what = r.familiar();
        let (body, media_type, digest) =
            client.get_manifest(&r.repository, r.manifest_reference(), &what)?;
        let mut out = RemoteManifest {
            reference: r.to_string(),
            digest: digest.clone(),
            media_type: media_type.clone(),
            platforms: vec![],
            image: None,
        };
        let (image, image_digest, image_type, image_platform) =
            match manifest::parse(&media_type, &body, &what)? {
                Fetched::Image(m) => (m, digest, media_type, None),
                Fetched::Index(idx) => {
                    out.platforms = idx
                        .manifests
                        .iter()
                        .filter_map(|d| {
                            d.platform.as_ref().map(|p| RemotePlatform {
                                platform: p.to_string(),
                                digest: d.digest.clone(),
                                size: d.size,
                            })
                        })
                        .collect();
                    let chosen = match manifest::select_platform(&idx, &want, &what) {
                        Ok(d) => d.clone(),
                        // An index without this host's platform still shows its list.
                        Err(_) if platform.is_none() => return Ok(out),
                        Err(e) => return Err(e),
                    };
                    let (b, t, d) = client.get_manifest(&r.repository, &chosen.digest, &what)?;
                    match manifest::parse(&t, &b, &what)? {
                        Fetched::Image(m) => (m, d, t, chosen.platform.map(|p| p.to_string())),
                        Fetched::Index(_) => {
                            return Err(EngineError::invalid(format!(
                        "{what} is an index of indexes; wharf reads one level of image index only"
                    )))
                        }
                    }
                }
            };
        let config =
            client.get_small_blob(&r.repository, &image.config.digest, image.config.size)?;
        let cv: serde_json::Value = serde_json::from_slice(&config).unwrap_or_default();
        let platform = image_platform.unwrap_or_else(|| {
            let os = cv["os"].as_str().unwrap_or("?");
            let arch = cv["architecture"].as_str().unwrap_or("?");
            match cv["variant"].as_str() {
                Some(v) => format!("{os}/{arch}/{v}"),
                None => format!("{os}/{arch}"),
            }
        });
        out.image = Some(RemoteImage {
            digest: image_digest,
            media_type: image_type,
            platform,
            config_digest: image.config.digest.clone(),
            size: image.layers.iter().map(|l| l.size).sum(),
            layers: image
                .layers
                .iter()
                .map(|l| RemoteLayer {
                    digest: l.digest.clone(),
                    size: l.size,
                    media_type: l.media_type.clone(),
                })
                .collect(),
            config: remote_config(&config),
        });
        Ok(out)
    }

    fn registry_delete(&self, caller: &Caller, reference: &str) -> Result<TagDeletion> {
        let r = Reference::parse_remote(reference)?;
        let tagged = reference
            .rsplit('/')
            .next()
            .is_some_and(|l| l.contains(':'));
        let Some(tag) = r.tag.clone().filter(|_| r.digest.is_none() && tagged) else {
            return Err(EngineError::invalid(format!(
                "{reference} names no tag: give the tag to delete (registry/name:tag)"
            )));
        };
        // Deleting a tag changes the registry as a push does.
        self.gate()
            .authorize_on(caller, Action::ImagePush, &r.familiar(), None)?;
        let client = self.browse_client(caller, &r.registry)?;
        let what = r.familiar();
        let (_, _, digest) = client.get_manifest(&r.repository, &tag, &what)?;
        let refused = |status: u16, text: &str| {
            EngineError::new(
                ErrorKind::Conflict,
                format!(
                    "registry {} does not allow deleting {what} (it answered {status}: {text}): deletion may be turned off in its configuration",
                    r.registry
                ),
            )
        };
        // The tag alone first (OCI distribution 1.1); a registry that deletes only by
        // digest refuses that, and then the manifest goes, with every tag naming it.
        let (status, text) = client.delete_manifest(&r.repository, &tag)?;
        if (200..300).contains(&status) {
            return Ok(TagDeletion {
                reference: r.to_string(),
                digest,
                tag_only: true,
            });
        }
        if !matches!(status, 400 | 405) {
            return Err(refused(status, &text));
        }
        let (status, text) = client.delete_manifest(&r.repository, &digest)?;
        if (200..300).contains(&status) {
            return Ok(TagDeletion {
                reference: r.to_string(),
                digest,
                tag_only: false,
            });
        }
        Err(refused(status, &text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_headers_give_the_next_page() {
        assert_eq!(
            next_from_link(Some("</v2/_catalog?last=b%2Fc&n=2>; rel=\"next\"")).as_deref(),
            Some("b/c")
        );
        assert_eq!(next_from_link(Some("</v2/x>; rel=\"prev\"")), None);
        assert_eq!(next_from_link(None), None);
    }

    #[test]
    fn page_urls() {
        let u = page_url(
            "http://h/v2/_catalog",
            &PageRequest {
                n: Some(5000),
                last: Some("a/b".into()),
            },
        )
        .unwrap();
        assert_eq!(u, "http://h/v2/_catalog?n=1000&last=a%2Fb");
        assert_eq!(
            page_url("http://h/v2/_catalog", &PageRequest::default()).unwrap(),
            "http://h/v2/_catalog?n=100"
        );
    }

    #[test]
    fn repositories_are_names_without_tags() {
        assert!(LocalEngine::repository_ref("127.0.0.1:5000/a/b").is_ok());
        assert!(LocalEngine::repository_ref("127.0.0.1:5000/a/b:1").is_err());
        assert!(LocalEngine::repository_ref("Bad Name").is_err());
    }

    #[test]
    fn configs_read_what_matters() {
        let c = remote_config(
            br#"{"created":"2024-01-02T03:04:05Z","config":{"Cmd":["sh"],"Env":["A=1"],
               "ExposedPorts":{"80/tcp":{}},"Labels":{"k":"v"},"User":"1000"}}"#,
        );
        assert_eq!(c.cmd, vec!["sh"]);
        assert_eq!(c.exposed_ports, vec!["80/tcp"]);
        assert_eq!(c.labels["k"], "v");
        assert_eq!(c.user, "1000");
        assert_eq!(c.created.as_deref(), Some("2024-01-02T03:04:05Z"));
    }
}
