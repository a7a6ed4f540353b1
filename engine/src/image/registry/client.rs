//! The HTTP side of the OCI distribution protocol: ping, authentication (Bearer tokens
//! with scopes, Basic), manifests and blobs, uploads. Blocking, on `ureq` with rustls;
//! one client per registry, shared by the download threads.

use std::collections::HashMap;
use std::io::Read;
use std::sync::Mutex;
use std::time::Duration;

use ureq::http::{self, Method, Response};
use ureq::{Agent, Body, SendBody};

use super::auth::{parse_challenge, Challenge, Credentials};
use super::manifest::{self, MANIFEST_ACCEPT, MAX_MANIFEST_BYTES};
use super::reference::is_loopback;
use crate::error::{EngineError, ErrorKind, Result};

/// `User-Agent` of every request.
const USER_AGENT: &str = concat!("wharf/", env!("CARGO_PKG_VERSION"));

/// How a client may reach a registry.
#[derive(Debug, Clone, Default)]
pub struct Security {
    /// Plain http and unverified TLS are allowed (loopback, or marked insecure).
    pub insecure: bool,
}

/// A client for one registry, authenticated as one user (or anonymous).
pub struct RegistryClient {
    agent: Agent,
    /// The registry as references name it (`docker.io`, `127.0.0.1:5000`).
    registry: String,
    /// `https://host:port` or `http://host:port`.
    base: String,
    insecure: bool,
    creds: Option<Credentials>,
    state: Mutex<AuthState>,
}

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryClient")
            .field("registry", &self.registry)
            .field("base", &self.base)
            .finish()
    }
}

#[derive(Default)]
struct AuthState {
    challenge: Option<Challenge>,
    /// Bearer tokens by scope string.
    tokens: HashMap<String, String>,
}

/// A request body.
pub enum Payload<'a> {
    /// No body.
    Empty,
    /// A small body held in memory (can be sent again after an auth challenge).
    Bytes(&'a [u8]),
    /// A stream, sent chunked, once.
    Stream(&'a mut dyn Read),
}

/// `repository:NAME:ACTIONS`, the token scope for one repository.
pub fn repo_scope(repository: &str, push: bool) -> String {
    format!(
        "repository:{repository}:{}",
        if push { "pull,push" } else { "pull" }
    )
}

impl RegistryClient {
    /// Reach `registry` (whose API answers at `api_host`), learn how it authenticates
    /// (`GET /v2/`) and keep `creds` for it. Plain http is used only when
    /// `security.insecure` (loopback registries are always allowed it), after https failed.
    pub fn connect(
        registry: &str,
        api_host: &str,
        creds: Option<Credentials>,
        security: &Security,
    ) -> Result<Self> {
        let insecure = security.insecure || is_loopback(api_host);
        let tls = ureq::tls::TlsConfig::builder()
            .disable_verification(insecure)
            .build();
        let mut builder = Agent::config_builder();
        if is_loopback(api_host) {
            // A proxy from the environment cannot reach this machine's loopback.
            builder = builder.proxy(None);
        }
        let config = builder
            .http_status_as_error(false)
            .user_agent(USER_AGENT)
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_per_read(Some(Duration::from_secs(120)))
            .timeout_per_write(Some(Duration::from_secs(120)))
            .max_redirects(10)
            .redirect_auth_headers(ureq::config::RedirectAuthHeaders::SameHost)
            .tls_config(tls)
            .build();
        let agent = Agent::new_with_config(config);
        let mut client = RegistryClient {
            agent,
            registry: registry.to_string(),
            base: format!("https://{api_host}"),
            insecure,
            creds,
            state: Mutex::new(AuthState::default()),
        };
        match client.ping() {
            Ok(()) => Ok(client),
            Err(e) if insecure && e.kind == ErrorKind::Unavailable => {
                client.base = format!("http://{api_host}");
                client.ping().map_err(|e2| {
                    EngineError::unavailable(format!(
                        "cannot reach registry {registry} over https ({}) nor http ({}): check the address and that the registry is running",
                        e.message, e2.message
                    ))
                })?;
                Ok(client)
            }
            Err(e) => Err(e),
        }
    }

    /// The registry's name as references write it.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// `https://...` or `http://...` this client talks to.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Were credentials given?
    pub fn has_credentials(&self) -> bool {
        self.creds.is_some()
    }

    fn transport_error(&self, doing: &str, e: ureq::Error) -> EngineError {
        EngineError::unavailable(format!(
            "{doing} at registry {} ({}) failed: {}",
            self.registry,
            self.base,
            transport_sentence(&self.registry, &self.base, &e)
        ))
    }

    /// `GET /v2/`: 200 means no auth, 401 carries the challenge.
    fn ping(&self) -> Result<()> {
        let url = format!("{}/v2/", self.base);
        let req = http::Request::get(&url)
            .body(SendBody::none())
            .map_err(|e| EngineError::internal(format!("building {url}: {e}")))?;
        let mut resp = self
            .agent
            .run(req)
            .map_err(|e| self.transport_error("connecting", e))?;
        match resp.status().as_u16() {
            200 => Ok(()),
            401 => {
                let challenge = www_authenticate(&resp);
                if challenge.is_none() {
                    return Err(EngineError::unavailable(format!(
                        "registry {} asks for authentication in a way wharf does not support (WWW-Authenticate: {:?})",
                        self.registry,
                        header(&resp, "www-authenticate").unwrap_or_default()
                    )));
                }
                self.lock().challenge = challenge;
                Ok(())
            }
            s => Err(EngineError::unavailable(format!(
                "{} does not answer as an OCI registry (GET /v2/ returned {s}: {}): check the address",
                self.registry,
                error_text(&mut resp)
            ))),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, AuthState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Check that the stored credentials are accepted (`wharf login`).
    pub fn check_login(&self) -> Result<()> {
        let challenge = self.lock().challenge.clone();
        match challenge {
            None => Ok(()),
            Some(Challenge::Basic { .. }) => {
                let url = format!("{}/v2/", self.base);
                let mut resp = self.send(Method::GET, &url, None, &[], Payload::Empty)?;
                match resp.status().as_u16() {
                    200 => Ok(()),
                    401 | 403 => Err(self.bad_login()),
                    s => Err(EngineError::unavailable(format!(
                        "registry {} answered {s} to the login check: {}",
                        self.registry,
                        error_text(&mut resp)
                    ))),
                }
            }
            Some(Challenge::Bearer { .. }) => self.token(None, true).map(|_| ()),
        }
    }

    fn bad_login(&self) -> EngineError {
        EngineError::denied(format!(
            "registry {} refused the user name or password: check them and run wharf login {} again",
            self.registry, self.registry
        ))
    }

    /// The Authorization header for `scope` under the current challenge.
    fn authorization(&self, scope: Option<&str>, refresh: bool) -> Result<Option<String>> {
        let challenge = self.lock().challenge.clone();
        match challenge {
            None => Ok(None),
            Some(Challenge::Basic { .. }) => Ok(self.creds.as_ref().map(Credentials::basic_header)),
            Some(Challenge::Bearer { .. }) => {
                Ok(Some(format!("Bearer {}", self.token(scope, refresh)?)))
            }
        }
    }

    /// A bearer token for `scope` (cached unless `refresh`).
    fn token(&self, scope: Option<&str>, refresh: bool) -> Result<String> {
        let key = scope.unwrap_or("").to_string();
        if !refresh {
            if let Some(t) = self.lock().tokens.get(&key) {
                return Ok(t.clone());
            }
        }
        let Some(Challenge::Bearer { realm, service, .. }) = self.lock().challenge.clone() else {
            return Err(EngineError::internal(
                "asked for a bearer token without a bearer challenge",
            ));
        };
        let mut url = url::Url::parse(&realm).map_err(|e| {
            EngineError::unavailable(format!(
                "registry {} names an invalid token service {realm:?}: {e}",
                self.registry
            ))
        })?;
        let realm_host = url.host_str().unwrap_or("").to_string();
        let realm_host = realm_host.trim_start_matches('[').trim_end_matches(']');
        match url.scheme() {
            "https" => {}
            "http" if self.insecure || is_loopback(realm_host) => {}
            s => {
                return Err(EngineError::denied(format!(
                    "registry {} sends wharf to the token service {realm} over {s}, which would expose credentials: mark the registry insecure (--insecure-registry) only if you trust the network",
                    self.registry
                )))
            }
        }
        {
            let mut q = url.query_pairs_mut();
            if let Some(s) = &service {
                q.append_pair("service", s);
            }
            // Several scopes are separated by spaces in the cache key; each is its own
            // `scope` parameter, as the token protocol wants.
            for s in scope
                .into_iter()
                .flat_map(|s| s.split(' '))
                .filter(|s| !s.is_empty())
            {
                q.append_pair("scope", s);
            }
            if let Some(c) = &self.creds {
                q.append_pair("account", &c.username);
            }
        }
        let mut req = http::Request::get(url.as_str());
        if let Some(c) = &self.creds {
            req = req.header("Authorization", c.basic_header());
        }
        let req = req
            .body(SendBody::none())
            .map_err(|e| EngineError::internal(format!("building token request: {e}")))?;
        let mut resp = self
            .agent
            .run(req)
            .map_err(|e| self.transport_error("getting a token", e))?;
        match resp.status().as_u16() {
            200 => {}
            401 | 403 if self.creds.is_some() => return Err(self.bad_login()),
            401 | 403 => {
                return Err(EngineError::denied(format!(
                    "the token service of registry {} refused anonymous access{}: log in with wharf login {}",
                    self.registry,
                    scope.map(|s| format!(" to {s}")).unwrap_or_default(),
                    self.registry
                )))
            }
            s => {
                return Err(EngineError::unavailable(format!(
                    "the token service of registry {} answered {s}: {}",
                    self.registry,
                    error_text(&mut resp)
                )))
            }
        }
        #[derive(serde::Deserialize)]
        struct TokenResponse {
            #[serde(default)]
            token: Option<String>,
            #[serde(default)]
            access_token: Option<String>,
        }
        let body = resp
            .body_mut()
            .with_config()
            .limit(MAX_MANIFEST_BYTES)
            .read_to_vec()
            .map_err(|e| self.transport_error("reading a token", e))?;
        let tr: TokenResponse = serde_json::from_slice(&body).map_err(|e| {
            EngineError::unavailable(format!(
                "the token service of registry {} sent an unreadable answer: {e}",
                self.registry
            ))
        })?;
        let token = tr
            .token
            .or(tr.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                EngineError::unavailable(format!(
                    "the token service of registry {} sent no token",
                    self.registry
                ))
            })?;
        self.lock().tokens.insert(key, token.clone());
        Ok(token)
    }

    /// Send one request with authentication; on a 401 with a (new) challenge, fetch a
    /// token and try once more if the body can be sent again.
    pub fn send(
        &self,
        method: Method,
        url: &str,
        scope: Option<&str>,
        headers: &[(&str, &str)],
        mut payload: Payload<'_>,
    ) -> Result<Response<Body>> {
        let mut refresh = false;
        loop {
            let mut req = http::Request::builder().method(method.clone()).uri(url);
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            if let Some(a) = self.authorization(scope, refresh)? {
                req = req.header("Authorization", a);
            }
            let doing = format!("{method} {}", url.strip_prefix(&self.base).unwrap_or(url));
            let replayable = !matches!(payload, Payload::Stream(_));
            let err = |e: http::Error| EngineError::internal(format!("building {doing}: {e}"));
            let resp = match &mut payload {
                Payload::Empty => self.agent.run(req.body(SendBody::none()).map_err(err)?),
                Payload::Bytes(b) => self.agent.run(req.body(*b).map_err(err)?),
                Payload::Stream(r) => self
                    .agent
                    .run(req.body(SendBody::from_reader(&mut **r)).map_err(err)?),
            }
            .map_err(|e| self.transport_error(&doing, e))?;
            if resp.status().as_u16() == 401 && !refresh && replayable {
                if let Some(c) = www_authenticate(&resp) {
                    self.lock().challenge = Some(c);
                    refresh = true;
                    continue;
                }
            }
            return Ok(resp);
        }
    }

    /// Turn a failed response into an error about `what`.
    pub fn status_error(&self, resp: &mut Response<Body>, what: &str) -> EngineError {
        let status = resp.status().as_u16();
        let text = error_text(resp);
        match status {
            401 if self.creds.is_none() => EngineError::denied(format!(
                "registry {} requires authentication for {what}: log in with wharf login {} ({text})",
                self.registry, self.registry
            )),
            401 | 403 => EngineError::denied(format!(
                "registry {} refused access to {what} ({text}): check that your login (wharf login {}) may do this",
                self.registry, self.registry
            )),
            404 => EngineError::new(ErrorKind::NotFound, format!("{what} not found in registry {} ({text})", self.registry)),
            429 => EngineError::unavailable(format!("registry {} limits the request rate ({text}): wait and try again", self.registry)),
            _ => EngineError::unavailable(format!("registry {} answered {status} for {what}: {text}", self.registry)),
        }
    }

    /// `GET /v2/<repo>/manifests/<reference>`: body, media type and verified digest.
    /// A digest reference is checked against the body; a tag against the registry's
    /// `Docker-Content-Digest` header.
    pub fn get_manifest(
        &self,
        repository: &str,
        reference: &str,
        what: &str,
    ) -> Result<(Vec<u8>, String, String)> {
        let url = format!("{}/v2/{repository}/manifests/{reference}", self.base);
        let scope = repo_scope(repository, false);
        let mut resp = self.send(
            Method::GET,
            &url,
            Some(&scope),
            &[("Accept", MANIFEST_ACCEPT)],
            Payload::Empty,
        )?;
        if resp.status().as_u16() != 200 {
            let e = self.status_error(&mut resp, what);
            return Err(if e.kind == ErrorKind::NotFound {
                EngineError::not_found(
                    "image",
                    what,
                    &format!(
                        "registry {} has no such repository, tag or digest; check the name and tag",
                        self.registry
                    ),
                )
            } else {
                e
            });
        }
        let content_type = header(&resp, "content-type");
        let claimed = header(&resp, "docker-content-digest");
        let body = resp
            .body_mut()
            .with_config()
            .limit(MAX_MANIFEST_BYTES)
            .read_to_vec()
            .map_err(|e| self.transport_error(&format!("reading the manifest of {what}"), e))?;
        let digest = sha256_digest(&body);
        let expected = if reference.starts_with("sha256:") {
            Some(reference.to_string())
        } else {
            claimed.filter(|c| c.starts_with("sha256:"))
        };
        if let Some(exp) = expected {
            if exp != digest {
                return Err(EngineError::corrupt(format!(
                    "the manifest of {what} from registry {} does not match its digest (expected {exp}, got {digest}): the registry or the network damaged it; try again",
                    self.registry
                )));
            }
        }
        let media_type = manifest::media_type_of(content_type.as_deref(), &body);
        Ok((body, media_type, digest))
    }

    /// `GET /v2/<repo>/blobs/<digest>` (following redirects to storage): the body
    /// stream and its length if the server said.
    pub fn get_blob(
        &self,
        repository: &str,
        digest: &str,
    ) -> Result<(Box<dyn Read + Send>, Option<u64>)> {
        let url = format!("{}/v2/{repository}/blobs/{digest}", self.base);
        let scope = repo_scope(repository, false);
        let mut resp = self.send(Method::GET, &url, Some(&scope), &[], Payload::Empty)?;
        if resp.status().as_u16() != 200 {
            return Err(self.status_error(&mut resp, &format!("blob {digest} of {repository}")));
        }
        let len = header(&resp, "content-length").and_then(|l| l.parse().ok());
        Ok((Box::new(resp.into_body().into_reader()), len))
    }

    /// `HEAD /v2/<repo>/blobs/<digest>`: does the repository have the blob?
    pub fn blob_exists(&self, repository: &str, digest: &str) -> Result<bool> {
        let url = format!("{}/v2/{repository}/blobs/{digest}", self.base);
        let scope = repo_scope(repository, true);
        let mut resp = self.send(Method::HEAD, &url, Some(&scope), &[], Payload::Empty)?;
        match resp.status().as_u16() {
            200 => Ok(true),
            404 => Ok(false),
            _ => Err(self.status_error(&mut resp, &format!("blob {digest} of {repository}"))),
        }
    }

    /// Cross-repository mount: ask the registry to link blob `digest` from repository
    /// `from` (same registry) into `repository` without sending it. `true` if mounted;
    /// `false` if the registry declined (the caller uploads instead).
    pub fn mount_blob(&self, repository: &str, digest: &str, from: &str) -> Result<bool> {
        let scope = format!("{} repository:{from}:pull", repo_scope(repository, true));
        let mut url = url::Url::parse(&format!("{}/v2/{repository}/blobs/uploads/", self.base))
            .map_err(|e| EngineError::internal(format!("building a mount URL: {e}")))?;
        url.query_pairs_mut()
            .append_pair("mount", digest)
            .append_pair("from", from);
        let mut resp = self.send(
            Method::POST,
            url.as_str(),
            Some(&scope),
            &[],
            Payload::Bytes(&[]),
        )?;
        match resp.status().as_u16() {
            201 => Ok(true),
            202 => {
                // The registry opened an ordinary upload instead; close it, best effort.
                if let Ok(loc) = self.location(&resp, url.as_str(), "a declined mount") {
                    let _ = self.send(Method::DELETE, &loc, Some(&scope), &[], Payload::Empty);
                }
                Ok(false)
            }
            401 | 403 | 404 => Ok(false),
            _ => Err(self.status_error(
                &mut resp,
                &format!("mount of blob {digest} from {from} into {repository}"),
            )),
        }
    }

    /// Upload a blob the way Docker does: `POST` a session, `PATCH` the content
    /// (streamed, chunked), `PUT ?digest=` to commit. The registry checks the digest.
    pub fn upload_blob(
        &self,
        repository: &str,
        digest: &str,
        content: &mut dyn Read,
    ) -> Result<()> {
        let scope = repo_scope(repository, true);
        let what = format!("upload of blob {digest} to {repository}");
        let start = format!("{}/v2/{repository}/blobs/uploads/", self.base);
        let mut resp = self.send(Method::POST, &start, Some(&scope), &[], Payload::Bytes(&[]))?;
        if resp.status().as_u16() != 202 {
            return Err(self.status_error(&mut resp, &what));
        }
        let location = self.location(&resp, &start, &what)?;
        let mut resp = self.send(
            Method::PATCH,
            &location,
            Some(&scope),
            &[("Content-Type", "application/octet-stream")],
            Payload::Stream(content),
        )?;
        if resp.status().as_u16() != 202 {
            return Err(self.status_error(&mut resp, &what));
        }
        let location = self.location(&resp, &location, &what)?;
        let mut url = url::Url::parse(&location).map_err(|e| {
            EngineError::unavailable(format!(
                "registry {} sent an invalid upload location {location:?}: {e}",
                self.registry
            ))
        })?;
        url.query_pairs_mut().append_pair("digest", digest);
        let mut resp = self.send(
            Method::PUT,
            url.as_str(),
            Some(&scope),
            &[],
            Payload::Bytes(&[]),
        )?;
        match resp.status().as_u16() {
            201 | 204 => Ok(()),
            400 => Err(EngineError::corrupt(format!(
                "registry {} rejected blob {digest} for {repository} ({}): the local copy may be damaged",
                self.registry,
                error_text(&mut resp)
            ))),
            _ => Err(self.status_error(&mut resp, &what)),
        }
    }

    /// The absolute URL of a response's `Location`, resolved against `base_url`.
    fn location(&self, resp: &Response<Body>, base_url: &str, what: &str) -> Result<String> {
        let loc = header(resp, "location").ok_or_else(|| {
            EngineError::unavailable(format!(
                "registry {} sent no upload location for {what}",
                self.registry
            ))
        })?;
        let base = url::Url::parse(base_url)
            .map_err(|e| EngineError::internal(format!("parsing {base_url}: {e}")))?;
        let abs = base.join(&loc).map_err(|e| {
            EngineError::unavailable(format!(
                "registry {} sent an invalid upload location {loc:?}: {e}",
                self.registry
            ))
        })?;
        // Never let an upload location move credentials off the registry's scheme/host.
        if abs.scheme() != base.scheme()
            || abs.host_str() != base.host_str()
            || abs.port_or_known_default() != base.port_or_known_default()
        {
            return Err(EngineError::unavailable(format!(
                "registry {} sent the upload for {what} to another server ({abs}); wharf does not follow it",
                self.registry
            )));
        }
        Ok(abs.to_string())
    }

    /// `PUT /v2/<repo>/manifests/<reference>`; returns the digest the registry stored.
    pub fn put_manifest(
        &self,
        repository: &str,
        reference: &str,
        media_type: &str,
        body: &[u8],
    ) -> Result<String> {
        let url = format!("{}/v2/{repository}/manifests/{reference}", self.base);
        let scope = repo_scope(repository, true);
        let mut resp = self.send(
            Method::PUT,
            &url,
            Some(&scope),
            &[("Content-Type", media_type)],
            Payload::Bytes(body),
        )?;
        match resp.status().as_u16() {
            200..=202 => {}
            _ => {
                return Err(
                    self.status_error(&mut resp, &format!("manifest {repository}:{reference}"))
                )
            }
        }
        let digest = sha256_digest(body);
        if let Some(claimed) = header(&resp, "docker-content-digest") {
            if claimed != digest {
                return Err(EngineError::corrupt(format!(
                    "registry {} stored manifest {repository}:{reference} as {claimed}, but wharf sent {digest}",
                    self.registry
                )));
            }
        }
        Ok(digest)
    }
}

/// The parsed `WWW-Authenticate` of a response.
fn www_authenticate(resp: &Response<Body>) -> Option<Challenge> {
    resp.headers()
        .get_all("www-authenticate")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(parse_challenge)
        // Prefer Bearer when both are offered.
        .min_by_key(|c| matches!(c, Challenge::Basic { .. }))
}

/// Why a request never got an answer, as a sentence with what to do: the name does not
/// resolve, nothing listens, no route, no answer in time, a TLS failure.
pub(crate) fn transport_sentence(registry: &str, base: &str, e: &ureq::Error) -> String {
    use std::io::ErrorKind as K;
    let host = base.split("://").nth(1).unwrap_or(base);
    match e {
        ureq::Error::HostNotFound => format!(
            "the name {} does not resolve (no such host): check the registry's address",
            super::reference::host_without_port(host)
        ),
        ureq::Error::Io(io) if io.kind() == K::ConnectionRefused => format!(
            "nothing listens at {host} (connection refused): check the address and that the registry is running"
        ),
        ureq::Error::Io(io) if matches!(io.kind(), K::HostUnreachable | K::NetworkUnreachable) => {
            format!("{host} cannot be reached from this machine (no route): check the address and the network")
        }
        ureq::Error::Io(io) if io.kind() == K::TimedOut => {
            format!("{host} did not answer in time: check the network, or try again later")
        }
        ureq::Error::Timeout(_) => {
            format!("{host} did not answer in time: check the network, or try again later")
        }
        ureq::Error::Rustls(_) | ureq::Error::Tls(_) | ureq::Error::TlsRequired => format!(
            "the TLS (https) connection to {host} failed ({e}): its certificate is not trusted on this machine or does not name it, or it does not speak https; a registry with a self-signed certificate can be marked insecure with {}={registry} (only on a network you trust)",
            super::INSECURE_ENV
        ),
        // rustls reports a failed handshake through the stream as invalid data.
        ureq::Error::Io(io) if io.kind() == K::InvalidData => format!(
            "the TLS (https) connection to {host} failed ({io}): its certificate is not trusted on this machine or does not name it, or it does not speak https; a registry with a self-signed certificate can be marked insecure with {}={registry} (only on a network you trust)",
            super::INSECURE_ENV
        ),
        ureq::Error::ConnectionFailed => {
            format!("cannot connect to {host}: check the address and the network")
        }
        other => other.to_string(),
    }
}

/// A header as a string.
pub(crate) fn header(resp: &Response<Body>, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// The registry's error message: `errors[].message` (and code) from the JSON body,
/// else the start of the body.
pub(crate) fn error_text(resp: &mut Response<Body>) -> String {
    let body = resp
        .body_mut()
        .with_config()
        .limit(64 * 1024)
        .read_to_vec()
        .unwrap_or_default();
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<ErrorItem>,
    }
    #[derive(serde::Deserialize)]
    struct ErrorItem {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    if let Ok(e) = serde_json::from_slice::<Errors>(&body) {
        let parts: Vec<String> = e
            .errors
            .iter()
            .map(|i| format!("{}: {}", i.code, i.message))
            .collect();
        if !parts.is_empty() {
            return parts.join("; ");
        }
    }
    let text = String::from_utf8_lossy(&body);
    let text = text.trim();
    if text.is_empty() {
        resp.status()
            .canonical_reason()
            .unwrap_or("no details")
            .to_string()
    } else {
        text.chars().take(200).collect()
    }
}

/// `sha256:<hex>` of `data`.
pub fn sha256_digest(data: &[u8]) -> String {
    use sha2::Digest;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(data)))
}
