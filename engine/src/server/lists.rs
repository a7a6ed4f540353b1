//! Listings asked again and again (a console refreshing, a hundred clients polling)
//! are answered from the last answer built for the same caller and question, as long
//! as the engine's index says nothing changed (its generation) and no status text has
//! moved with the clock since (`Up 5 seconds`). Each answer carries an `ETag`; a client
//! that sends it back in `If-None-Match` gets `304 Not Modified` and keeps what it has
//! (wharf's own client does), so an unchanged listing costs neither side a rebuild or
//! a decode. The tag names this server process too: a restarted server never matches
//! an old one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};

use super::bridge::Responder;
use crate::error::Result;
use crate::LocalEngine;

/// Most answers kept (callers times questions); past it the cache starts over.
const MAX_ENTRIES: usize = 256;

struct Cached {
    generation: u64,
    /// The policy the rows were judged by (its digest; empty without one): an edit of
    /// a role's scope or a user's project changes what a caller may see.
    policy: String,
    until: Option<i64>,
    etag: String,
    body: Bytes,
}

/// The answers kept by one server.
pub struct Lists {
    epoch: String,
    entries: Mutex<HashMap<String, Arc<Mutex<Option<Cached>>>>>,
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

impl Lists {
    /// Answer the listing `key` (the caller and the question, whole): from the kept
    /// answer while it holds (`304` if the client has it already), else made by `make`
    /// and kept. One request per key makes it; the others wait for it and share it.
    pub fn answer(
        &self,
        engine: &LocalEngine,
        key: String,
        if_none_match: Option<&str>,
        headers: HeaderMap,
        out: &mut Responder,
        make: impl FnOnce() -> Result<Made>,
    ) -> Result<()> {
        let slot = {
            let mut m = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            if m.len() >= MAX_ENTRIES && !m.contains_key(&key) {
                m.clear();
            }
            m.entry(key).or_default().clone()
        };
        let mut slot = slot.lock().unwrap_or_else(|e| e.into_inner());
        let generation = engine.index().generation(engine);
        let policy = engine
            .gate()
            .policy()
            .map(|p| p.digest().to_string())
            .unwrap_or_default();
        let now = chrono::Utc::now().timestamp();
        let holds = |c: &Cached| {
            c.generation == generation && c.policy == policy && c.until.is_none_or(|u| now < u)
        };
        if !slot.as_ref().is_some_and(holds) {
            let m = make()?;
            // The policy's digest is in the tag: a client's 304 never outlives an edit.
            let etag = format!(
                "\"{}-{}-{}-{}\"",
                self.epoch,
                m.generation,
                m.until.unwrap_or(0),
                policy.trim_start_matches("sha256:").get(..12).unwrap_or("")
            );
            *slot = Some(Cached {
                policy,
                generation: m.generation,
                until: m.until,
                etag,
                body: Bytes::from(m.body),
            });
        }
        let Some(c) = slot.as_ref() else {
            return Ok(());
        };
        let mut h = headers;
        if let Ok(v) = HeaderValue::from_str(&c.etag) {
            h.insert(http::header::ETAG, v);
        }
        if if_none_match == Some(c.etag.as_str()) {
            h.insert(http::header::CONTENT_LENGTH, HeaderValue::from(0));
            out.start(StatusCode::NOT_MODIFIED, h);
            return Ok(());
        }
        h.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        h.insert(
            http::header::CONTENT_LENGTH,
            HeaderValue::from(c.body.len()),
        );
        let mut w = out.start(StatusCode::OK, h);
        w.send(c.body.clone());
        Ok(())
    }
}
