//! Registry authentication: `WWW-Authenticate` challenges (Bearer and Basic) and the
//! per-user credential store written by `wharf login`.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::error::{EngineError, IoContext, Result};

/// What a registry asked for in its `WWW-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// Token auth: get a token from `realm` for `service` and the scope.
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
    /// HTTP basic auth with the stored user name and password.
    Basic { realm: Option<String> },
}

/// Parse a `WWW-Authenticate` header value: `Bearer realm="...",service="...",scope="..."`
/// or `Basic realm="..."`. Unknown schemes give `None`.
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header
        .split_once(|c: char| c.is_whitespace())
        .unwrap_or((header, ""));
    let params = parse_params(rest);
    match scheme.to_ascii_lowercase().as_str() {
        "bearer" => Some(Challenge::Bearer {
            realm: params.get("realm")?.clone(),
            service: params.get("service").cloned(),
            scope: params.get("scope").cloned(),
        }),
        "basic" => Some(Challenge::Basic {
            realm: params.get("realm").cloned(),
        }),
        _ => None,
    }
}

/// `key="quoted, value",key2=token` pairs; keys lowercased, quotes and escapes removed.
fn parse_params(s: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() || c == ',' {
                break;
            }
            key.push(c);
            chars.next();
        }
        if key.is_empty() {
            break;
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek() != Some(&'=') {
            continue;
        }
        chars.next();
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(n) = chars.next() {
                            value.push(n);
                        }
                    }
                    '"' => break,
                    _ => value.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' || c.is_whitespace() {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        out.insert(key.to_ascii_lowercase(), value);
    }
    out
}

/// A user name and password (or identity token) for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<hidden>")
            .finish()
    }
}

impl Credentials {
    /// The `Authorization: Basic ...` header value.
    pub fn basic_header(&self) -> String {
        let raw = format!("{}:{}", self.username, self.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }
}

/// One entry of the credential file, in the shape of Docker's `config.json` `auths`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct AuthEntry {
    /// base64 of `user:password`
    auth: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct AuthFile {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
}

/// Credentials saved by `wharf login`, one file per caller uid:
/// `<root>/auth/<uid>.json`, mode 0600 in a 0700 directory, so one user's login is never
/// used for another user's pull.
#[derive(Debug, Clone)]
pub struct CredentialStore {
    dir: PathBuf,
}

impl CredentialStore {
    /// The store under the state root (`<root>/auth`).
    pub fn new(root: &Path) -> Self {
        CredentialStore {
            dir: root.join("auth"),
        }
    }

    fn path(&self, uid: u32) -> PathBuf {
        self.dir.join(format!("{uid}.json"))
    }

    fn read(&self, uid: u32) -> Result<AuthFile> {
        let path = self.path(uid);
        match fs::read(&path) {
            Ok(data) => serde_json::from_slice(&data).map_err(|e| {
                EngineError::corrupt(format!(
                    "credential file {} is damaged ({e}): remove it and log in again with wharf login",
                    path.display()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(AuthFile::default()),
            Err(e) => Err(EngineError::io(format!("reading credentials {}", path.display()), e)),
        }
    }

    fn write(&self, uid: u32, file: &AuthFile) -> Result<()> {
        fs::create_dir_all(&self.dir).ctx(|| format!("creating {}", self.dir.display()))?;
        fs::set_permissions(&self.dir, fs::Permissions::from_mode(0o700))
            .ctx(|| format!("restricting {}", self.dir.display()))?;
        let path = self.path(uid);
        let data = serde_json::to_vec_pretty(file)
            .map_err(|e| EngineError::internal(format!("serializing credentials: {e}")))?;
        // Atomic write whose temporary file is created 0600, so the secret is never
        // readable by others, not even for an instant.
        let tmp = self
            .dir
            .join(format!(".{uid}.json.tmp-{}", &crate::ids::new_id()[..12]));
        let res = (|| {
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)
                .ctx(|| format!("creating {}", tmp.display()))?;
            f.write_all(&data)
                .ctx(|| format!("writing {}", tmp.display()))?;
            f.sync_all().ctx(|| format!("syncing {}", tmp.display()))?;
            fs::rename(&tmp, &path).ctx(|| format!("replacing {}", path.display()))?;
            crate::state::sync_dir(&self.dir)
        })();
        if res.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        res
    }

    /// The credentials `uid` saved for `registry`, if any.
    pub fn get(&self, uid: u32, registry: &str) -> Result<Option<Credentials>> {
        let file = self.read(uid)?;
        let Some(entry) = file.auths.get(registry) else {
            return Ok(None);
        };
        let raw = base64::engine::general_purpose::STANDARD
            .decode(entry.auth.trim())
            .ok();
        let pair = raw.and_then(|r| String::from_utf8(r).ok());
        match pair.as_deref().and_then(|p| p.split_once(':')) {
            Some((u, p)) => Ok(Some(Credentials { username: u.to_string(), password: p.to_string() })),
            None => Err(EngineError::corrupt(format!(
                "saved credentials for {registry} are damaged: run wharf logout {registry} and wharf login {registry}"
            ))),
        }
    }

    /// The registries `uid` is logged in to, with the user name of each (never the
    /// password); a damaged entry is listed with an empty name.
    pub fn logins(&self, uid: u32) -> Result<Vec<(String, String)>> {
        let file = self.read(uid)?;
        Ok(file
            .auths
            .into_iter()
            .map(|(registry, entry)| {
                let user = base64::engine::general_purpose::STANDARD
                    .decode(entry.auth.trim())
                    .ok()
                    .and_then(|r| String::from_utf8(r).ok())
                    .and_then(|p| p.split_once(':').map(|(u, _)| u.to_string()))
                    .unwrap_or_default();
                (registry, user)
            })
            .collect())
    }

    /// Save credentials for `registry` (replacing earlier ones).
    pub fn set(&self, uid: u32, registry: &str, creds: &Credentials) -> Result<()> {
        let mut file = self.read(uid)?;
        let raw = format!("{}:{}", creds.username, creds.password);
        file.auths.insert(
            registry.to_string(),
            AuthEntry {
                auth: base64::engine::general_purpose::STANDARD.encode(raw),
            },
        );
        self.write(uid, &file)
    }

    /// Forget the credentials for `registry`; `false` if there were none.
    pub fn remove(&self, uid: u32, registry: &str) -> Result<bool> {
        let mut file = self.read(uid)?;
        if file.auths.remove(registry).is_none() {
            return Ok(false);
        }
        self.write(uid, &file)?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull,push""#,
        );
        assert_eq!(
            c,
            Some(Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/busybox:pull,push".into()),
            })
        );
        assert_eq!(
            parse_challenge(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic {
                realm: Some("Registry Realm".into())
            })
        );
        assert_eq!(
            parse_challenge(r#"bearer  realm = "http://x/t" , error="insufficient_scope""#),
            Some(Challenge::Bearer {
                realm: "http://x/t".into(),
                service: None,
                scope: None
            })
        );
        assert_eq!(
            parse_challenge("Bearer service=x"),
            None,
            "a bearer challenge without realm is unusable"
        );
        assert_eq!(parse_challenge("Negotiate"), None);
    }

    #[test]
    fn credential_file_is_private_and_per_uid() {
        let dir = tempfile::tempdir().unwrap();
        let store = CredentialStore::new(dir.path());
        let c = Credentials {
            username: "alice".into(),
            password: "s3cr:et".into(),
        };
        store.set(1000, "127.0.0.1:5000", &c).unwrap();
        assert_eq!(store.get(1000, "127.0.0.1:5000").unwrap(), Some(c));
        assert_eq!(store.get(1001, "127.0.0.1:5000").unwrap(), None);
        let mode = fs::metadata(dir.path().join("auth/1000.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let dmode = fs::metadata(dir.path().join("auth"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(dmode & 0o777, 0o700);
        assert_eq!(
            store.logins(1000).unwrap(),
            vec![("127.0.0.1:5000".to_string(), "alice".to_string())]
        );
        assert!(store.logins(1001).unwrap().is_empty());
        assert!(store.remove(1000, "127.0.0.1:5000").unwrap());
        assert!(!store.remove(1000, "127.0.0.1:5000").unwrap());
        assert_eq!(store.get(1000, "127.0.0.1:5000").unwrap(), None);
    }
}
