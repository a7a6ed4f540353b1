//! Listings asked again and again (a console refreshing, a hundred clients polling)
//! are answered from the last answer built for the same caller and question, as long
//! as the engine's index says nothing changed (its generation), the policy is the same
//! and no status text has moved with the clock since (`Up 5 seconds`). Each answer
//! carries an `ETag`; a client that sends it back in `If-None-Match` gets
//! `304 Not Modified` and keeps what it has (wharf's own client does), so an unchanged
//! listing costs neither side a rebuild or a decode. The tag names this server process
//! too: a restarted server never matches an old one.
//!
//! A kept answer is bytes, shared, never rebuilt per request; no lock is held while one
//! is sent. The connection's worker answers it at once, without handing the request to
//! a blocking thread ([`Lists::quick`]), when that needs no wait: the index tells its
//! generation without reading a file or waiting for another listing
//! ([`Index::quiet_generation`](crate::runtime::index::Index::quiet_generation)), and
//! the caller's right to list was checked on this connection under the same policy
//! within the last second ([`Grant`]; that check may ask the user database, so it runs
//! on a blocking thread). Every key holds the role and project the caller had when
//! judged ([`scope_of`]): a change of group shows in the rows within that second too. Anything else takes the ordinary path, where one request per
//! question makes the answer and the others wait for it and share it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use serde_json::Value;

use super::bridge::Responder;
use crate::caller::Caller;
use crate::error::Result;
use crate::LocalEngine;

/// Most answers kept (callers times questions); past it the cache starts over.
const MAX_ENTRIES: usize = 256;

/// How long a connection's passed check of the right to list stands for the quick path
/// (under the same policy): a change in the user database (a user taken out of a group)
/// shows within it.
pub const GRANT_FOR: Duration = Duration::from_secs(1);

/// Largest request body the quick path reads (wharf's listing arguments are a few
/// dozen bytes); a larger one takes the ordinary path.
pub const QUICK_BODY: u64 = 64 * 1024;

struct Cached {
    generation: u64,
    /// The policy the rows were judged by (its digest; empty without one): an edit of
    /// a role's scope or a user's project changes what a caller may see.
    policy: String,
    until: Option<i64>,
    etag: String,
    /// The answer's headers (its protocol's, and the tag).
    headers: HeaderMap,
    body: Bytes,
}

impl Cached {
    fn holds(&self, generation: u64, policy: &str, now: i64) -> bool {
        self.generation == generation && self.policy == policy && self.until.is_none_or(|u| now < u)
    }

    /// The answer to a request that sent `if_none_match`.
    fn answer(&self, if_none_match: Option<&str>) -> Answer {
        let mut headers = self.headers.clone();
        if if_none_match == Some(self.etag.as_str()) {
            headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(0));
            return Answer {
                status: StatusCode::NOT_MODIFIED,
                headers,
                body: Bytes::new(),
            };
        }
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(
            http::header::CONTENT_LENGTH,
            HeaderValue::from(self.body.len()),
        );
        Answer {
            status: StatusCode::OK,
            headers,
            body: self.body.clone(),
        }
    }
}

/// One question's kept answer.
#[derive(Default)]
struct Slot {
    /// Held while the answer is made: one request makes it, the others wait for it.
    making: Mutex<()>,
    /// The last answer made (held only to take or put it).
    last: Mutex<Option<Arc<Cached>>>,
}

impl Slot {
    fn last(&self) -> Option<Arc<Cached>> {
        self.last.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// A listing answer, ready to send.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    /// Send it through `out`.
    pub fn send(self, out: &mut Responder) {
        let mut w = out.start(self.status, self.headers);
        if !self.body.is_empty() {
            w.send(self.body);
        }
    }
}

/// The answers kept by one server.
pub struct Lists {
    epoch: String,
    entries: Mutex<HashMap<String, Arc<Slot>>>,
}

impl Default for Lists {
    fn default() -> Self {
        Lists {
            epoch: crate::ids::new_id()[..12].to_string(),
            entries: Mutex::new(HashMap::new()),
        }
    }
}

/// What a listing answer is made of: the JSON body, the index generation it was made
/// from, and when its status texts next change with the clock.
pub struct Made {
    pub body: Vec<u8>,
    pub generation: u64,
    pub until: Option<i64>,
}

/// The digest of the policy in force (empty without one).
fn policy_digest(engine: &LocalEngine) -> String {
    engine
        .gate()
        .policy()
        .map(|p| p.digest().to_string())
        .unwrap_or_default()
}

/// Does a listing with `filters` depend on the image store as well (`ancestor=` names
/// an image, and a tag or pull can change which one without any container changing)?
/// Such a listing is not kept: the container index's generation cannot tell it is stale.
pub fn depends_on_images(filters: &[(String, String)]) -> bool {
    filters.iter().any(|(k, _)| k == "ancestor")
}

/// Who a listing is for, as the engine judges its rows: the caller with the role and
/// project the policy gives them now (group membership included, which can change
/// while a connection stays open). It is part of every kept answer's key, so an answer
/// made for a wider role or another project is never given after the change. May ask
/// the user database: on a blocking thread, or kept by the connection's [`Grant`].
pub fn scope_of(engine: &LocalEngine, caller: &Caller) -> String {
    serde_json::to_string(&engine.gate().caller(caller)).unwrap_or_default()
}

/// The key of wharf's `container_list` with arguments `args` (the request body), for
/// the caller whose [`scope_of`] is `scope`.
pub fn wharf_key(scope: &str, args: &Value) -> String {
    format!("wharf {scope} {args}")
}

/// The key of Docker's `GET /containers/json?{query}`, for [`scope_of`] `scope`.
pub fn docker_key(scope: &str, query: &str) -> String {
    format!("docker {scope} {query}")
}

impl Lists {
    fn slot(&self, key: String) -> Arc<Slot> {
        let mut m = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if m.len() >= MAX_ENTRIES && !m.contains_key(&key) {
            m.clear();
        }
        m.entry(key).or_default().clone()
    }

    /// The kept answer to `key` if it holds now and telling so takes no wait (see the
    /// module's words); `None`: ask [`Lists::answer`] on a blocking thread. The caller
    /// is allowed to list (a [`Grant`] holds).
    pub fn quick(
        &self,
        engine: &LocalEngine,
        key: &str,
        if_none_match: Option<&str>,
    ) -> Option<Answer> {
        let slot = self
            .entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned()?;
        let c = slot.last()?;
        let generation = engine.index().quiet_generation()?;
        let now = chrono::Utc::now().timestamp();
        let policy = engine.gate().policy();
        let digest = policy.as_deref().map_or("", |p| p.digest());
        c.holds(generation, digest, now)
            .then(|| c.answer(if_none_match))
    }

    /// Answer the listing `key` (the caller and the question, whole): from the kept
    /// answer while it holds (`304` if the client has it already), else made by `make`
    /// and kept. One request per key makes it; the others wait for it and share it.
    /// `headers` are the protocol's, the same for every answer to `key`.
    pub fn answer(
        &self,
        engine: &LocalEngine,
        key: String,
        if_none_match: Option<&str>,
        headers: HeaderMap,
        out: &mut Responder,
        make: impl FnOnce() -> Result<Made>,
    ) -> Result<()> {
        let slot = self.slot(key);
        let current = || {
            let generation = engine.index().generation(engine);
            let now = chrono::Utc::now().timestamp();
            slot.last()
                .filter(|c| c.holds(generation, &policy_digest(engine), now))
        };
        let c = match current() {
            Some(c) => c,
            None => {
                let _making = slot.making.lock().unwrap_or_else(|e| e.into_inner());
                // Made by another request while this one waited?
                match current() {
                    Some(c) => c,
                    None => {
                        let policy = policy_digest(engine);
                        let m = make()?;
                        let c = Arc::new(self.keep(policy, m, headers));
                        *slot.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(c.clone());
                        c
                    }
                }
            }
        };
        c.answer(if_none_match).send(out);
        Ok(())
    }

    fn keep(&self, policy: String, m: Made, headers: HeaderMap) -> Cached {
        // The policy's digest is in the tag: a client's 304 never outlives an edit.
        let etag = format!(
            "\"{}-{}-{}-{}\"",
            self.epoch,
            m.generation,
            m.until.unwrap_or(0),
            policy.trim_start_matches("sha256:").get(..12).unwrap_or("")
        );
        let mut headers = headers;
        if let Ok(v) = HeaderValue::from_str(&etag) {
            headers.insert(http::header::ETAG, v);
        }
        Cached {
            policy,
            generation: m.generation,
            until: m.until,
            etag,
            headers,
            body: Bytes::from(m.body),
        }
    }
}

/// A listing question, told from a request's head.
pub enum Question {
    /// wharf's `container_list` (its arguments in the body).
    Wharf,
    /// Docker's `GET /containers/json` (its arguments in the query).
    Docker,
}

impl Question {
    /// The listing `parts` asks for, if it is one.
    pub fn of(parts: &http::request::Parts, is_wharf: bool) -> Option<Question> {
        let path = parts.uri.path();
        if is_wharf {
            return (parts.method == Method::POST && path == "/v1/container_list")
                .then_some(Question::Wharf);
        }
        let (_, p) = super::docker::split_version(path).ok()?;
        (parts.method == Method::GET && p == "/containers/json").then_some(Question::Docker)
    }

    /// Its key for `caller`, with the arguments as the trace keeps them; `None` when
    /// the body is not JSON (the ordinary path says why).
    pub fn key(
        &self,
        scope: &str,
        parts: &http::request::Parts,
        body: &[u8],
    ) -> Option<(String, Option<Value>)> {
        match self {
            Question::Wharf => {
                let args: Value = serde_json::from_slice(body).ok()?;
                Some((wharf_key(scope, &args), Some(args)))
            }
            Question::Docker => Some((docker_key(scope, parts.uri.query().unwrap_or("")), None)),
        }
    }
}

/// A connection's last passed check of the right to list: the policy it was judged by,
/// the caller's [`scope_of`] then, and when. Without a policy every caller that got a
/// connection may list, as an admin.
#[derive(Default)]
pub struct Grant(Mutex<Option<(String, String, Instant)>>);

impl Grant {
    /// The caller's [`scope_of`], if they may list as far as can be told without the
    /// check (and without asking the user database).
    pub fn scope(&self, engine: &LocalEngine, caller: &Caller) -> Option<String> {
        let Some(p) = engine.gate().policy() else {
            // No policy: an admin, whatever the groups say (no lookup).
            return Some(scope_of(engine, caller));
        };
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .filter(|(d, _, at)| d == p.digest() && at.elapsed() < GRANT_FOR)
            .map(|(_, scope, _)| scope.clone())
    }

    /// The check passed under the policy with digest `policy` (taken before it ran),
    /// for the caller whose [`scope_of`] was `scope`.
    pub fn note(&self, policy: String, scope: String) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some((policy, scope, Instant::now()));
    }
}
