//! [`RegistryApi`] for the in-process engine: pull and push between registries and the
//! image store, login and logout with per-user credentials.

use std::io::Read;

use super::auth::{CredentialStore, Credentials};
use super::client::RegistryClient;
use super::manifest::Platform;
use super::reference::{api_host, DOCKER_HUB};
use super::transfer::{
    self, BlobSink, BlobSource, PushImage, DOWNLOAD_CONCURRENCY, UPLOAD_CONCURRENCY,
};
use super::{insecure_registries, security_for};
use crate::api::{Progress, PullOptions, PushOptions, RegistryApi, RegistryAuth};
use crate::caller::Caller;
use crate::error::{EngineError, Result};
use crate::events::{Event, EventType};
use crate::image::store::ImageStore;
use crate::image::Reference;
use crate::local::LocalEngine;
use crate::policy::Action;

impl BlobSink for ImageStore {
    fn has_blob(&self, digest: &str) -> bool {
        ImageStore::can_provide_blob(self, digest)
    }
    fn put_blob(&self, r: &mut dyn Read, digest: &str) -> Result<u64> {
        ImageStore::put_blob(self, r, Some(digest)).map(|(_, n)| n)
    }
}

impl BlobSource for ImageStore {
    fn open_blob(&self, digest: &str) -> Result<Box<dyn Read + Send>> {
        Ok(ImageStore::open_blob_stream(self, digest)?.0)
    }
}

/// The registry name a `wharf login SERVER` means: scheme, path and Docker Hub's
/// aliases removed (`https://index.docker.io/v1/` is `docker.io`).
pub fn normalize_server(server: &str) -> Result<String> {
    let s = server.trim();
    let s = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .unwrap_or(s);
    let s = s.split('/').next().unwrap_or("").to_ascii_lowercase();
    let s = match s.as_str() {
        ""
        | "index.docker.io"
        | "registry-1.docker.io"
        | "registry.hub.docker.com"
        | "docker.io" => DOCKER_HUB.to_string(),
        _ => s,
    };
    // Reuse the reference grammar to check the address (a bare word gets a port-less
    // check of its own: `myhost/x` would parse as a Docker Hub repository).
    let probe = if s.contains('.') || s.contains(':') || s == "localhost" {
        format!("{s}/x")
    } else {
        format!("{s}.invalid/x")
    };
    Reference::parse_remote(&probe).map_err(|_| {
        EngineError::invalid(format!("{server:?} is not a registry address: write host[:port], e.g. ghcr.io or localhost:5000"))
    })?;
    Ok(s)
}

impl LocalEngine {
    /// The per-user credential store (`<root>/auth/<uid>.json`).
    pub fn credentials(&self) -> CredentialStore {
        CredentialStore::new(self.root().path())
    }

    /// A client for `rref`'s registry with `auth` if given (one call's credentials),
    /// else the caller's saved login, if any.
    fn registry_client(
        &self,
        caller: &Caller,
        rref: &Reference,
        auth: Option<&RegistryAuth>,
    ) -> Result<RegistryClient> {
        let creds = match auth {
            Some(a) => Some(Credentials {
                username: a.username.clone(),
                password: a.password.clone(),
            }),
            None => self.credentials().get(caller.uid, &rref.registry)?,
        };
        let security = security_for(&rref.registry, &insecure_registries());
        RegistryClient::connect(&rref.registry, rref.api_host(), creds, &security)
    }
}

impl RegistryApi for LocalEngine {
    fn image_pull(
        &self,
        caller: &Caller,
        reference: &str,
        opts: &PullOptions,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<String> {
        let rref = Reference::parse_remote(reference)?;
        self.gate()
            .authorize_on(caller, Action::ImagePull, &rref.familiar(), None)?;
        let platform = opts.platform.as_deref().map(Platform::parse).transpose()?;
        let client = self.registry_client(caller, &rref, opts.auth.as_ref())?;
        let store = self.image_store();
        let before = store.index()?.refs.get(&rref.to_string()).cloned();
        let pulled = transfer::pull(
            &client,
            &rref,
            platform.as_ref(),
            &store,
            DOWNLOAD_CONCURRENCY,
            progress,
        )?;
        let id = store.add_image(&pulled.manifest, &pulled.config, &[rref.to_string()])?;
        if pulled.resolved_digest != pulled.manifest_digest {
            // Pulled through an index: Docker records the index digest, which is what
            // `name@digest` must find again.
            let _lock = store.lock()?;
            let mut idx = store.index()?;
            if let Some(rec) = idx.images.get_mut(&id) {
                let platform_ref = format!("{}@{}", rref.name(), pulled.manifest_digest);
                let index_ref = format!("{}@{}", rref.name(), pulled.resolved_digest);
                rec.repo_digests.retain(|d| d != &platform_ref);
                if !rec.repo_digests.contains(&index_ref) {
                    rec.repo_digests.push(index_ref);
                }
                store.write_index(&idx)?;
            }
        }
        for l in &pulled.layers {
            if pulled.downloaded > 0 {
                progress(Progress::Layer {
                    id: crate::ids::short(&l.digest).to_string(),
                    status: "Pull complete".into(),
                    current: l.size,
                    total: Some(l.size),
                });
            }
        }
        progress(Progress::Message(format!(
            "Digest: {}",
            pulled.resolved_digest
        )));
        let status = if before.as_deref() == Some(id.as_str()) && pulled.downloaded == 0 {
            format!("Status: Image is up to date for {}", rref.familiar())
        } else {
            format!("Status: Downloaded newer image for {}", rref.familiar())
        };
        progress(Progress::Message(status));
        self.emit(
            Event::new(EventType::Image, "pull", rref.familiar())
                .attr("name", rref.familiar_name())
                .attr("id", id.clone()),
        );
        Ok(id)
    }

    fn image_push(
        &self,
        caller: &Caller,
        reference: &str,
        opts: &PushOptions,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<()> {
        let rref = Reference::parse_remote(reference)?;
        self.gate()
            .authorize_on(caller, Action::ImagePush, &rref.familiar(), None)?;
        let local = self.resolve_image(caller, reference).map_err(|e| {
            if e.kind == crate::error::ErrorKind::NotFound {
                EngineError::not_found(
                    "image",
                    &rref.familiar(),
                    &format!(
                        "tag a local image first (wharf tag IMAGE {}) and push again",
                        rref.familiar()
                    ),
                )
            } else {
                e
            }
        })?;
        let store = self.image_store();
        let m = store.image_manifest(&local.id)?;
        let client = self.registry_client(caller, &rref, opts.auth.as_ref())?;
        progress(Progress::Message(format!(
            "The push refers to repository [{}]",
            rref.name()
        )));
        // Repositories of this registry the image came from or went to: their blobs can
        // be mounted instead of uploaded.
        let mut mount_from: Vec<String> = Vec::new();
        let known = store
            .index()?
            .images
            .get(&local.id)
            .map(|r| r.repo_digests.clone())
            .unwrap_or_default();
        for d in known {
            if let Ok(r) = Reference::parse_remote(&d) {
                if r.registry == rref.registry
                    && r.repository != rref.repository
                    && !mount_from.contains(&r.repository)
                {
                    mount_from.push(r.repository);
                }
            }
        }
        let image = PushImage {
            manifest: m.manifest.clone(),
            media_type: m.media_type.clone(),
            mount_from,
        };
        let digest = transfer::push(&client, &rref, &image, &store, UPLOAD_CONCURRENCY, progress)?;
        // As Docker does, remember where the image now is.
        {
            let _lock = store.lock()?;
            let mut idx = store.index()?;
            if let Some(rec) = idx.images.get_mut(&local.id) {
                let dref = format!("{}@{digest}", rref.name());
                if !rec.repo_digests.contains(&dref) {
                    rec.repo_digests.push(dref);
                    store.write_index(&idx)?;
                }
            }
        }
        self.emit(
            Event::new(EventType::Image, "push", rref.familiar())
                .attr("name", rref.familiar_name())
                .attr("id", local.id.clone()),
        );
        Ok(())
    }

    fn registry_login(
        &self,
        caller: &Caller,
        server: &str,
        username: &str,
        password: &str,
    ) -> Result<()> {
        let server = normalize_server(server)?;
        self.gate().authorize_on(
            caller,
            Action::ImagePull,
            &format!("registry {server}"),
            Some(caller.uid),
        )?;
        if username.is_empty() || password.is_empty() {
            return Err(EngineError::invalid(format!(
                "logging in to {server} needs a user name and a password (or token)"
            )));
        }
        if username.contains(':') {
            return Err(EngineError::invalid(
                "a registry user name cannot contain ':'",
            ));
        }
        let creds = Credentials {
            username: username.to_string(),
            password: password.to_string(),
        };
        let security = security_for(&server, &insecure_registries());
        let client =
            RegistryClient::connect(&server, api_host(&server), Some(creds.clone()), &security)?;
        client.check_login()?;
        self.credentials().set(caller.uid, &server, &creds)
    }

    fn registry_logout(&self, caller: &Caller, server: &str) -> Result<()> {
        let server = normalize_server(server)?;
        self.gate().authorize_on(
            caller,
            Action::ImagePull,
            &format!("registry {server}"),
            Some(caller.uid),
        )?;
        if self.credentials().remove(caller.uid, &server)? {
            Ok(())
        } else {
            Err(EngineError::not_found(
                "login",
                &server,
                "you were not logged in to it",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names() {
        assert_eq!(
            normalize_server("https://index.docker.io/v1/").unwrap(),
            "docker.io"
        );
        assert_eq!(normalize_server("").unwrap(), "docker.io");
        assert_eq!(
            normalize_server("127.0.0.1:5000").unwrap(),
            "127.0.0.1:5000"
        );
        assert_eq!(
            normalize_server("http://LocalHost:5000/").unwrap(),
            "localhost:5000"
        );
        assert!(normalize_server("a b").is_err());
    }
}
