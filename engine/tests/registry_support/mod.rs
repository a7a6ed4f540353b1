//! Test support for the registry tests: a real `docker-registry` on loopback (open,
//! htpasswd or token auth), a small token server in front of it, and OCI layouts built
//! here and copied into the registry with skopeo. Everything listens on 127.0.0.1 only
//! and is stopped (by pid) when dropped.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use sha2::{Digest, Sha256};

pub fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// How the registry authenticates.
pub enum Auth {
    None,
    Htpasswd { user: String, password: String },
    Token(Arc<TokenServer>),
}

/// A `docker-registry` process on 127.0.0.1 with its storage in a temp dir.
pub struct Registry {
    child: Option<Child>,
    pub dir: tempfile::TempDir,
    pub port: u16,
}

/// Wait until the registry started as `child` answers on `port`. Its answers carry the
/// `X-Wharf-Test` header with `token`, so another test's registry that got the same port
/// is never mistaken for this one.
fn wait_ready(child: &mut Child, port: u16, token: &str) -> bool {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .timeout_global(Some(Duration::from_secs(2)))
        .build()
        .into();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if let Ok(resp) = agent.get(format!("http://127.0.0.1:{port}/v2/")).call() {
            return resp
                .headers()
                .get("x-wharf-test")
                .and_then(|v| v.to_str().ok())
                == Some(token);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

impl Registry {
    pub fn start(auth: Auth) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let storage = dir.path().join("storage");
        fs::create_dir_all(&storage).unwrap();
        let auth_yaml = match &auth {
            Auth::None => String::new(),
            Auth::Htpasswd { user, password } => {
                let hash = bcrypt::hash_with_result(password, 5)
                    .unwrap()
                    .format_for_version(bcrypt::Version::TwoA);
                let path = dir.path().join("htpasswd");
                fs::write(&path, format!("{user}:{hash}\n")).unwrap();
                format!(
                    "auth:\n  htpasswd:\n    realm: wharf-test\n    path: {}\n",
                    path.display()
                )
            }
            Auth::Token(ts) => {
                let bundle = dir.path().join("token-ca.pem");
                fs::write(&bundle, &ts.cert_pem).unwrap();
                format!(
                    "auth:\n  token:\n    realm: http://127.0.0.1:{}/token\n    service: {}\n    issuer: {}\n    rootcertbundle: {}\n",
                    ts.port,
                    TokenServer::SERVICE,
                    TokenServer::ISSUER,
                    bundle.display()
                )
            }
        };
        // A free port can be taken between the probe and the bind: retry a few times.
        for _ in 0..5 {
            let port = free_port();
            let token = format!("{}-{port}", std::process::id())
                + &hex::encode(Sha256::digest(dir.path().to_string_lossy().as_bytes()))[..12];
            let config = format!(
                "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: wharf-test-secret\n  headers:\n    X-Wharf-Test: [\"{token}\"]\n{auth_yaml}",
                storage.display()
            );
            let cfg = dir.path().join("config.yml");
            fs::write(&cfg, config).unwrap();
            let log = fs::File::create(dir.path().join("registry.log")).unwrap();
            let child = Command::new("/usr/bin/docker-registry")
                .arg("serve")
                .arg(&cfg)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .expect("docker-registry must be installed (apt-get install docker-registry)");
            let mut child = child;
            if wait_ready(&mut child, port, &token) {
                return Registry {
                    child: Some(child),
                    dir,
                    port,
                };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("docker-registry did not start");
    }

    /// `127.0.0.1:PORT`
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The blob's data file in the registry's storage.
    pub fn blob_data(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap();
        self.dir.path().join(format!(
            "storage/docker/registry/v2/blobs/sha256/{}/{hex}/data",
            &hex[..2]
        ))
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What a token request asked: (account, scopes, authenticated).
pub type TokenRequest = (Option<String>, Vec<String>, bool);

/// A token server (the `realm` of a Bearer challenge) on 127.0.0.1: grants what is asked
/// to `user`/`password`, pull of `public/...` to anyone, nothing else, and signs ES256 JWTs the registry
/// checks against the certificate in its `rootcertbundle`.
pub struct TokenServer {
    pub port: u16,
    pub cert_pem: String,
    cert_der: Vec<u8>,
    key: ring::signature::EcdsaKeyPair,
    pub user: String,
    pub password: String,
    /// Every request's (account, scopes, authenticated).
    pub requests: Mutex<Vec<TokenRequest>>,
    stop: AtomicBool,
}

impl TokenServer {
    pub const SERVICE: &'static str = "wharf-test-registry";
    pub const ISSUER: &'static str = "wharf-test-issuer";

    pub fn start(user: &str, password: &str) -> Arc<TokenServer> {
        let key_pair = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["wharf-test-token".to_string()])
            .unwrap()
            .self_signed(&key_pair)
            .unwrap();
        let rng = ring::rand::SystemRandom::new();
        let key = ring::signature::EcdsaKeyPair::from_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &key_pair.serialize_der(),
            &rng,
        )
        .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let ts = Arc::new(TokenServer {
            port,
            cert_pem: cert.pem(),
            cert_der: cert.der().to_vec(),
            key,
            user: user.into(),
            password: password.into(),
            requests: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
        });
        let t = ts.clone();
        // A plain accept loop: a failed accept (a client gone before it was taken) is
        // skipped, never the end of the server; one thread and one request per connection.
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if t.stop.load(Ordering::Relaxed) {
                    return;
                }
                match conn {
                    Ok(c) => {
                        let t = t.clone();
                        std::thread::spawn(move || t.handle(c));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        ts
    }

    /// Answer one token request (`GET /token?scope=..&account=..`), then close.
    fn handle(&self, conn: std::net::TcpStream) {
        use std::io::BufRead;
        let _ = conn.set_read_timeout(Some(Duration::from_secs(20)));
        let Ok(mut w) = conn.try_clone() else { return };
        let mut r = std::io::BufReader::new(conn);
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let target = line.split_whitespace().nth(1).unwrap_or("/").to_string();
        let mut given = None;
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                if k.trim().eq_ignore_ascii_case("authorization") {
                    given = Some(v.trim().to_string());
                }
            }
        }
        let (status, body) = self.answer(&target, given.as_deref());
        let reason = if status == 200 { "OK" } else { "Unauthorized" };
        let _ = write!(
            w,
            "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = w.flush();
    }

    /// Status and body for a token request to `target` with `Authorization: given`.
    fn answer(&self, target: &str, given: Option<&str>) -> (u16, String) {
        let url = url::Url::parse(&format!("http://x{target}")).unwrap();
        let mut scopes = Vec::new();
        let mut account = None;
        for (k, v) in url.query_pairs() {
            match k.as_ref() {
                "scope" => scopes.push(v.to_string()),
                "account" => account = Some(v.to_string()),
                _ => {}
            }
        }
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{}", self.user, self.password))
        );
        let authenticated = given == Some(expected.as_str());
        self.requests
            .lock()
            .unwrap()
            .push((account, scopes.clone(), authenticated));
        if given.is_some() && !authenticated {
            return (401, "{\"details\":\"bad credentials\"}".into());
        }
        // The authenticated user gets what they ask; anyone may pull `public/...`
        // (as Docker Hub serves public images to anonymous clients).
        let access: Vec<serde_json::Value> = scopes
            .iter()
            .filter_map(|s| {
                let mut p = s.splitn(3, ':');
                let (t, n, a) = (p.next()?, p.next()?, p.next()?);
                let actions: Vec<&str> = a
                    .split(',')
                    .filter(|act| authenticated || (n.starts_with("public/") && *act == "pull"))
                    .collect();
                Some(serde_json::json!({"type": t, "name": n, "actions": actions}))
            })
            .collect();
        let token = self.sign(&access);
        (
            200,
            serde_json::json!({"token": token, "expires_in": 300}).to_string(),
        )
    }

    fn sign(&self, access: &[serde_json::Value]) -> String {
        let b64 = |d: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(d);
        let header = serde_json::json!({
            "typ": "JWT",
            "alg": "ES256",
            "x5c": [base64::engine::general_purpose::STANDARD.encode(&self.cert_der)],
        });
        let now = chrono::Utc::now().timestamp();
        let claims = serde_json::json!({
            "iss": Self::ISSUER,
            "sub": self.user,
            "aud": Self::SERVICE,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": format!("{now}-{}", access.len()),
            "access": access,
        });
        let signing_input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let sig = self
            .key
            .sign(&ring::rand::SystemRandom::new(), signing_input.as_bytes())
            .unwrap();
        format!("{signing_input}.{}", b64(sig.as_ref()))
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Stop the token server thread (it holds an `Arc` to itself while serving): the flag,
/// then a connection that wakes its accept.
pub fn stop_token_server(ts: &TokenServer) {
    ts.stop.store(true, Ordering::Relaxed);
    let _ = std::net::TcpStream::connect(("127.0.0.1", ts.port));
}

/// One image of an OCI layout under construction.
pub struct TestImage {
    pub manifest: Vec<u8>,
    pub manifest_digest: String,
    pub config: Vec<u8>,
    pub config_digest: String,
    pub layers: Vec<String>,
    pub arch: String,
}

/// An OCI image layout in a directory, written by hand.
pub struct Layout {
    pub dir: PathBuf,
    index: Vec<serde_json::Value>,
}

impl Layout {
    pub fn new(dir: &Path) -> Layout {
        fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        Layout {
            dir: dir.to_path_buf(),
            index: Vec::new(),
        }
    }

    pub fn put_blob(&self, data: &[u8]) -> String {
        let d = sha256(data);
        fs::write(self.dir.join("blobs/sha256").join(&d[7..]), data).unwrap();
        d
    }

    /// A gzip layer holding `files` (path, content).
    pub fn layer(&self, files: &[(&str, Vec<u8>)]) -> (String, u64, String) {
        let mut tar = tar::Builder::new(Vec::new());
        for (path, content) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(content.len() as u64);
            h.set_mode(0o644);
            h.set_mtime(1_700_000_000);
            h.set_entry_type(tar::EntryType::Regular);
            tar.append_data(&mut h, path, &content[..]).unwrap();
        }
        let raw = tar.into_inner().unwrap();
        let diff_id = sha256(&raw);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&raw).unwrap();
        let gz = gz.finish().unwrap();
        let d = self.put_blob(&gz);
        (d, gz.len() as u64, diff_id)
    }

    /// An image of `layers` (each a list of files) for `arch`.
    pub fn image(&self, arch: &str, layers: &[Vec<(&str, Vec<u8>)>]) -> TestImage {
        let mut descs = Vec::new();
        let mut diff_ids = Vec::new();
        let mut digests = Vec::new();
        for files in layers {
            let (d, size, diff) = self.layer(files);
            descs.push(serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": size}));
            diff_ids.push(diff);
            digests.push(d);
        }
        let config = serde_json::to_vec(&serde_json::json!({
            "created": "2024-01-02T03:04:05Z",
            "architecture": arch,
            "os": "linux",
            "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/bin"], "Labels": {"test.arch": arch}},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": diff_ids.iter().map(|_| serde_json::json!({"created_by": "wharf test"})).collect::<Vec<_>>(),
        }))
        .unwrap();
        let config_digest = self.put_blob(&config);
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
            "layers": descs,
        }))
        .unwrap();
        let manifest_digest = self.put_blob(&manifest);
        TestImage {
            manifest,
            manifest_digest,
            config,
            config_digest,
            layers: digests,
            arch: arch.into(),
        }
    }

    /// Name `img` as `tag` in index.json.
    pub fn tag_image(&mut self, img: &TestImage, tag: &str) {
        self.index.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": img.manifest_digest,
            "size": img.manifest.len(),
            "annotations": {"org.opencontainers.image.ref.name": tag},
        }));
        self.write_index();
    }

    /// An image index over `imgs` (linux/<arch>), named `tag`. Returns its digest.
    pub fn tag_index(&mut self, imgs: &[&TestImage], tag: &str) -> String {
        let manifests: Vec<serde_json::Value> = imgs
            .iter()
            .map(|i| {
                let mut platform = serde_json::json!({"architecture": i.arch, "os": "linux"});
                if i.arch == "arm64" {
                    platform["variant"] = "v8".into();
                }
                serde_json::json!({
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": i.manifest_digest,
                    "size": i.manifest.len(),
                    "platform": platform,
                })
            })
            .collect();
        let idx = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": manifests,
        }))
        .unwrap();
        let d = self.put_blob(&idx);
        self.index.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "digest": d,
            "size": idx.len(),
            "annotations": {"org.opencontainers.image.ref.name": tag},
        }));
        self.write_index();
        d
    }

    fn write_index(&self) {
        let idx = serde_json::json!({"schemaVersion": 2, "manifests": self.index});
        fs::write(
            self.dir.join("index.json"),
            serde_json::to_vec(&idx).unwrap(),
        )
        .unwrap();
    }

    /// `skopeo copy [--all] oci:DIR:tag docker://host/dest` (plain http, optional creds).
    pub fn skopeo_push(&self, tag: &str, dest: &str, creds: Option<(&str, &str)>, all: bool) {
        self.skopeo_push_with(tag, dest, creds, all, &[])
    }

    /// [`skopeo_push`](Self::skopeo_push) with more `skopeo copy` flags (e.g. `-f v2s2`).
    pub fn skopeo_push_with(
        &self,
        tag: &str,
        dest: &str,
        creds: Option<(&str, &str)>,
        all: bool,
        extra: &[&str],
    ) {
        let mut cmd = Command::new("skopeo");
        cmd.args(["--insecure-policy", "copy", "--dest-tls-verify=false"]);
        cmd.args(extra);
        if all {
            cmd.arg("--all");
        }
        if let Some((u, p)) = creds {
            cmd.arg(format!("--dest-creds={u}:{p}"));
        }
        cmd.arg(format!("oci:{}:{tag}", self.dir.display()))
            .arg(format!("docker://{dest}"));
        let out = cmd.output().expect("skopeo must be installed");
        assert!(
            out.status.success(),
            "skopeo copy to {dest} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// `skopeo inspect --raw` of an image in the registry: its manifest bytes.
pub fn skopeo_raw(reference: &str, creds: Option<(&str, &str)>) -> Vec<u8> {
    let mut cmd = Command::new("skopeo");
    cmd.args(["inspect", "--raw", "--tls-verify=false"]);
    if let Some((u, p)) = creds {
        cmd.arg(format!("--creds={u}:{p}"));
    }
    let out = cmd.arg(format!("docker://{reference}")).output().unwrap();
    assert!(
        out.status.success(),
        "skopeo inspect {reference}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Deterministic pseudo-random bytes (incompressible enough to make real layers).
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407)
        | 1;
    let mut v = Vec::with_capacity(len);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

/// Counts of what a map holds, for quick assertions.
pub fn count_by<K: Ord + Clone>(items: impl IntoIterator<Item = K>) -> BTreeMap<K, usize> {
    let mut m = BTreeMap::new();
    for i in items {
        *m.entry(i).or_insert(0) += 1;
    }
    m
}

/// A front on 127.0.0.1 that relays GET/HEAD requests to a registry (one request per
/// connection), but cuts the connection half-way through blob `digest` the first
/// `breaks` times it is fetched.
pub struct FlakyFront {
    pub port: u16,
    pub cut: Arc<std::sync::atomic::AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl FlakyFront {
    pub fn start(upstream: u16, digest: &str, breaks: usize) -> FlakyFront {
        use std::io::{BufRead, BufReader};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (c, s, digest) = (cut.clone(), stop.clone(), digest.to_string());
        std::thread::spawn(move || {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .proxy(None)
                .build()
                .into();
            while !s.load(Ordering::Relaxed) {
                let mut conn = match listener.accept() {
                    Ok((conn, _)) => conn,
                    Err(_) => {
                        std::thread::sleep(Duration::from_millis(10));
                        continue;
                    }
                };
                conn.set_nonblocking(false).unwrap();
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                let mut parts = line.split_whitespace();
                let (method, path) = (
                    parts.next().unwrap_or("GET").to_string(),
                    parts.next().unwrap_or("/").to_string(),
                );
                let mut up = ureq::http::Request::builder()
                    .method(method.as_str())
                    .uri(format!("http://127.0.0.1:{upstream}{path}"));
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                        break;
                    }
                    if let Some((k, v)) = h.trim().split_once(':') {
                        if k.eq_ignore_ascii_case("accept")
                            || k.eq_ignore_ascii_case("authorization")
                        {
                            up = up.header(k, v.trim());
                        }
                    }
                }
                let Ok(resp) = agent.run(up.body(ureq::SendBody::none()).unwrap()) else {
                    continue;
                };
                let status = resp.status().as_u16();
                let mut head = format!("HTTP/1.1 {status} X\r\nConnection: close\r\n");
                for name in [
                    "Content-Type",
                    "Docker-Content-Digest",
                    "WWW-Authenticate",
                    "Location",
                ] {
                    if let Some(v) = resp.headers().get(name).and_then(|v| v.to_str().ok()) {
                        head.push_str(&format!("{name}: {v}\r\n"));
                    }
                }
                let data = resp
                    .into_body()
                    .into_with_config()
                    .limit(1 << 30)
                    .read_to_vec()
                    .unwrap_or_default();
                head.push_str(&format!("Content-Length: {}\r\n\r\n", data.len()));
                let _ = conn.write_all(head.as_bytes());
                let breaking = method == "GET"
                    && path.ends_with(&format!("/blobs/{digest}"))
                    && c.load(Ordering::Relaxed) < breaks;
                if method != "HEAD" {
                    if breaking {
                        c.fetch_add(1, Ordering::Relaxed);
                        // Announce the whole blob, send half, then drop the connection.
                        let _ = conn.write_all(&data[..data.len() / 2]);
                    } else {
                        let _ = conn.write_all(&data);
                    }
                }
                let _ = conn.shutdown(std::net::Shutdown::Both);
            }
        });
        FlakyFront { port, cut, stop }
    }
}

impl Drop for FlakyFront {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
