//! The API trace: every engine call, as it happened, for teaching and debugging.
//!
//! A [`Tracer`] keeps the last calls in a bounded in-memory ring and wakes whoever
//! follows it. It is fed from two places:
//!
//! - [`Traced`], a wrapper around any [`Engine`](crate::Engine): the console wraps its
//!   engine in one, so each call it makes is recorded with its caller, arguments,
//!   duration and answer;
//! - the socket server ([`crate::server`]): each request of any client, with the HTTP
//!   method and path as the client sent them (the Docker Engine API) or the wharf
//!   method and its arguments.
//!
//! While a call runs, the engine may say what it did ([`step`]: "mounted an overlay of 2
//! layers", "wrote memory.limit_in_bytes = 268435456"); the steps land in that call's
//! entry, so an explanation of the call is taken from what the engine actually did. The
//! steps are gathered per thread ([`scoped`]): a call's steps are those of the thread
//! that made it, including what a container's monitor reported back for a start.
//!
//! Arguments and answers are [`redact`]ed (registry passwords, `X-Registry-Auth`,
//! secret-looking environment values) and bounded in size before they are kept. Who
//! may read the trace is the engine's decision ([`crate::api::SystemApi::trace`]): a
//! caller sees their own calls; every caller's needs `audit.trace`.

mod traced;

pub use traced::Traced;

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::caller::Caller;

/// How many calls a tracer keeps by default.
pub const DEFAULT_CAP: usize = 2000;

/// The most bytes of JSON an entry keeps of an argument list or an answer; beyond it a
/// summary stands in.
pub const MAX_JSON: usize = 16 * 1024;

/// The HTTP request behind a call that came over the socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpCall {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path and query as the client sent them (`/v1.43/containers/create?name=web`).
    pub path: String,
    /// The answer's status.
    pub status: u16,
    /// The client's `User-Agent`, if it sent one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

/// One engine call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceEntry {
    /// Position in the tracer, from 1; a follower resumes after it.
    pub seq: u64,
    /// When the call started, nanoseconds since the epoch.
    pub time_nano: i64,
    /// Who asked.
    pub caller: Caller,
    /// Where the call came from: `console` (a console's own call), `cli`, `wharf` (wharf's
    /// protocol on the socket) or `docker` (the Docker Engine API on the socket).
    pub source: String,
    /// The engine method (`container_create`), or for the Docker API the endpoint as
    /// `POST /containers/create` (version prefix and query left out).
    pub method: String,
    /// The arguments (redacted), as a JSON array for engine methods, the request body
    /// for the Docker API.
    pub args: Value,
    /// The HTTP request, for calls over the socket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpCall>,
    /// How long the call took, microseconds (for a stream: until it ended).
    pub duration_us: u64,
    /// Did it succeed?
    pub ok: bool,
    /// The error's message, when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The answer (redacted, bounded).
    #[serde(default)]
    pub answer: Value,
    /// What the engine did for this call, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<String>,
    /// Does the method change state?
    pub mutating: bool,
    /// The console action this call was part of, if any (see [`with_action`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<u64>,
}

impl TraceEntry {
    /// A new entry for `method` called by `caller` from `source`, started now.
    pub fn new(caller: &Caller, source: &str, method: &str) -> TraceEntry {
        TraceEntry {
            seq: 0,
            time_nano: now_nano(),
            caller: caller.clone(),
            source: source.to_string(),
            method: method.to_string(),
            args: Value::Null,
            http: None,
            duration_us: 0,
            ok: true,
            error: None,
            answer: Value::Null,
            steps: Vec::new(),
            mutating: is_mutating(method),
            action: current_action(),
        }
    }

    /// The steps as one line: `created cgroup ...; mounted overlay ...`.
    pub fn explain(&self) -> Option<String> {
        (!self.steps.is_empty()).then(|| self.steps.join("; "))
    }
}

/// What a trace reader asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceOptions {
    /// Every caller's calls (needs `audit.trace`); otherwise only the reader's own.
    #[serde(default)]
    pub all: bool,
    /// Keep streaming new calls after those kept.
    #[serde(default)]
    pub follow: bool,
    /// Only calls after this sequence number (0 or none: everything kept).
    #[serde(default)]
    pub since: Option<u64>,
}

/// Does `method` change state? (From the permission the method needs.)
pub fn is_mutating(method: &str) -> bool {
    if let Some((verb, _)) = method.split_once(' ') {
        // A Docker API endpoint: anything but GET/HEAD may change something.
        return !matches!(verb, "GET" | "HEAD");
    }
    // Browsing a registry is checked as a pull (image.pull) but changes nothing.
    if matches!(
        method,
        "registry_list" | "registry_catalog" | "registry_tags" | "registry_manifest"
    ) {
        return false;
    }
    crate::server::wharf::action_of(method).is_some_and(|a| a.is_mutating())
}

/// Nanoseconds since the epoch, now.
pub fn now_nano() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
}

// ----- the ring -----

struct Ring {
    entries: VecDeque<TraceEntry>,
    /// The next entry's sequence number.
    next: u64,
}

struct Inner {
    ring: Mutex<Ring>,
    cond: Condvar,
    cap: usize,
}

/// A bounded ring of [`TraceEntry`]s that followers wait on. Cheap to clone (shared).
#[derive(Clone)]
pub struct Tracer {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Tracer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracer")
            .field("cap", &self.inner.cap)
            .finish_non_exhaustive()
    }
}

impl Default for Tracer {
    fn default() -> Self {
        Tracer::new(DEFAULT_CAP)
    }
}

/// How long a follower sleeps before looking whether its reader is still there.
const FOLLOW_WAKE: Duration = Duration::from_millis(500);

impl Tracer {
    /// A tracer keeping the last `cap` calls.
    pub fn new(cap: usize) -> Tracer {
        Tracer {
            inner: Arc::new(Inner {
                ring: Mutex::new(Ring {
                    entries: VecDeque::new(),
                    next: 1,
                }),
                cond: Condvar::new(),
                cap: cap.max(1),
            }),
        }
    }

    fn ring(&self) -> std::sync::MutexGuard<'_, Ring> {
        // A panic while holding the lock leaves a ring that is still consistent.
        self.inner.ring.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keep `e` (its sequence number assigned here) and wake the followers; the number.
    pub fn record(&self, mut e: TraceEntry) -> u64 {
        let seq = {
            let mut r = self.ring();
            e.seq = r.next;
            r.next += 1;
            r.entries.push_back(e);
            while r.entries.len() > self.inner.cap {
                r.entries.pop_front();
            }
            r.next - 1
        };
        self.inner.cond.notify_all();
        seq
    }

    /// The kept entries after `since` (all of them for 0), oldest first.
    pub fn since(&self, since: u64) -> Vec<TraceEntry> {
        self.ring()
            .entries
            .iter()
            .filter(|e| e.seq > since)
            .cloned()
            .collect()
    }

    /// The last sequence number given (0 before any).
    pub fn last(&self) -> u64 {
        self.ring().next - 1
    }

    /// The entries of `opts` that `keep` passes, oldest first, to `sink` until it returns
    /// `false`; with `opts.follow`, new ones as they come, until `sink` says stop or
    /// `alive` says the reader has gone (it is asked at least twice a second).
    pub fn follow(
        &self,
        opts: &TraceOptions,
        keep: &dyn Fn(&TraceEntry) -> bool,
        sink: &mut dyn FnMut(TraceEntry) -> bool,
        alive: &dyn Fn() -> bool,
    ) {
        let mut after = opts.since.unwrap_or(0);
        loop {
            let batch = self.since(after);
            for e in batch {
                after = e.seq;
                if keep(&e) && !sink(e) {
                    return;
                }
            }
            if !opts.follow || !alive() {
                return;
            }
            let r = self.ring();
            if r.next - 1 == after {
                let _ = self.inner.cond.wait_timeout(r, FOLLOW_WAKE);
            }
        }
    }
}

// ----- what a call did, per thread -----

/// What was gathered on a thread while a call ran ([`scoped`]).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Gathered {
    /// What the engine did, in order.
    pub steps: Vec<String>,
    /// The request's arguments, when a server handler decoded them.
    pub args: Option<Value>,
    /// The request body read as a whole (JSON when it parses), for the Docker API.
    pub body: Option<Value>,
    /// The answer's status and JSON, as a server sent it.
    pub status: Option<u16>,
    pub answer: Option<Value>,
}

thread_local! {
    static FRAMES: RefCell<Vec<Gathered>> = const { RefCell::new(Vec::new()) };
    static ACTION: Cell<Option<u64>> = const { Cell::new(None) };
}

/// Pops the frame it pushed, even on a panic.
struct FrameGuard;

impl Drop for FrameGuard {
    fn drop(&mut self) {
        FRAMES.with(|f| {
            f.borrow_mut().pop();
        });
    }
}

/// Run `f`, gathering the steps (and, in a server, the request and answer) of this
/// thread while it runs.
pub fn scoped<R>(f: impl FnOnce() -> R) -> (R, Gathered) {
    FRAMES.with(|fr| fr.borrow_mut().push(Gathered::default()));
    let guard = FrameGuard;
    let r = f();
    let g = FRAMES.with(|fr| fr.borrow_mut().last_mut().map(std::mem::take));
    drop(guard);
    (r, g.unwrap_or_default())
}

/// Is a call being traced on this thread? (Skip formatting a step when not.)
pub fn active() -> bool {
    FRAMES.with(|f| !f.borrow().is_empty())
}

fn with_top(f: impl FnOnce(&mut Gathered)) {
    FRAMES.with(|fr| {
        if let Some(top) = fr.borrow_mut().last_mut() {
            f(top)
        }
    })
}

/// Say what the engine did for the call running on this thread (nothing happens when
/// no call is traced). Use [`trace_step!`](crate::trace_step) to skip the formatting then.
pub fn step(s: impl Into<String>) {
    with_top(|g| g.steps.push(s.into()));
}

/// The steps gathered so far on this thread's innermost traced call.
pub fn steps_so_far() -> Vec<String> {
    FRAMES.with(|f| {
        f.borrow()
            .last()
            .map(|g| g.steps.clone())
            .unwrap_or_default()
    })
}

/// A server handler's decoded arguments for the call it traces.
pub fn note_args(v: &Value) {
    with_top(|g| g.args = Some(v.clone()));
}

/// A request body read whole (kept when it is JSON within [`MAX_JSON`]).
pub fn note_body(b: &[u8]) {
    if !active() {
        return;
    }
    let v = if b.is_empty() {
        return;
    } else if b.len() > MAX_JSON {
        Value::String(format!("({} bytes)", b.len()))
    } else {
        serde_json::from_slice(b)
            .unwrap_or_else(|_| Value::String(format!("({} bytes, not JSON)", b.len())))
    };
    with_top(|g| g.body = Some(v));
}

/// The status (and the JSON, if any) a server answered with.
pub fn note_answer(status: u16, json: Option<&[u8]>) {
    if !active() {
        return;
    }
    let v = json.map(|b| {
        if b.len() > MAX_JSON {
            Value::String(format!("({} bytes of JSON)", b.len()))
        } else {
            serde_json::from_slice(b).unwrap_or(Value::Null)
        }
    });
    with_top(|g| {
        if g.status.is_none() {
            g.status = Some(status);
            g.answer = v;
        }
    });
}

/// Run `f` as part of the console action `id`: the calls it makes carry the id.
pub fn with_action<R>(id: u64, f: impl FnOnce() -> R) -> R {
    let prev = ACTION.with(|a| a.replace(Some(id)));
    struct Restore(Option<u64>);
    impl Drop for Restore {
        fn drop(&mut self) {
            ACTION.with(|a| a.set(self.0));
        }
    }
    let _r = Restore(prev);
    f()
}

/// The console action this thread works for, if any.
pub fn current_action() -> Option<u64> {
    ACTION.with(|a| a.get())
}

/// `trace_step!("wrote {} = {}", file, value)`: a [`step`], formatted only when a call is
/// traced on this thread.
#[macro_export]
macro_rules! trace_step {
    ($($t:tt)*) => {
        if $crate::trace::active() {
            $crate::trace::step(format!($($t)*));
        }
    };
}

// ----- redaction -----

const REDACTED: &str = "<redacted>";

/// Keys whose values are secrets wherever they appear in arguments or answers.
fn secret_key(k: &str) -> bool {
    let k = k.to_ascii_lowercase().replace(['-', '_'], "");
    // An image's `author` is not a credential.
    if k == "author" {
        return false;
    }
    [
        "token",
        "secret",
        "password",
        "passwd",
        "auth",
        "key",
        "credential",
    ]
    .iter()
    .any(|w| k.contains(w))
}

/// Is a build argument's name one whose value reads as a secret (`NPM_TOKEN`,
/// `DB_PASSWORD`, `API_KEY`, `DB_PASS`, `PRIVATE_...`)?
fn secret_build_arg(name: &str) -> bool {
    secret_key(name) || secret_env(name)
}

/// A request's path and query as a trace keeps it: the value of `buildargs` (the build
/// arguments of `POST /build`, which often carry tokens) and of any parameter whose
/// name reads as a secret replaced by `<redacted>`.
pub fn redact_query(path_and_query: &str) -> String {
    let Some((path, query)) = path_and_query.split_once('?') else {
        return path_and_query.to_string();
    };
    let parts: Vec<String> = query
        .split('&')
        .map(|kv| {
            // The name as the server reads it (`build%61rgs` is `buildargs`).
            let name = url::form_urlencoded::parse(kv.as_bytes())
                .next()
                .map(|(k, _)| k.into_owned())
                .unwrap_or_default();
            match kv.split_once('=') {
                Some((k, _)) if name.eq_ignore_ascii_case("buildargs") || secret_key(&name) => {
                    format!("{k}={REDACTED}")
                }
                _ => kv.to_string(),
            }
        })
        .collect();
    format!("{path}?{}", parts.join("&"))
}

/// Is an environment variable's name one whose value reads as a secret?
fn secret_env(name: &str) -> bool {
    let n = name.to_ascii_uppercase();
    [
        "PASS",
        "SECRET",
        "TOKEN",
        "CREDENTIAL",
        "PRIVATE",
        "API_KEY",
        "APIKEY",
    ]
    .iter()
    .any(|w| n.contains(w))
}

fn redact_env(v: &mut Value) {
    if let Value::Array(items) = v {
        for it in items {
            if let Value::String(s) = it {
                if let Some((k, _)) = s.split_once('=') {
                    if secret_env(k) {
                        *s = format!("{k}={REDACTED}");
                    }
                }
            }
        }
    }
}

fn redact_value(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if secret_key(k) && !x.is_null() {
                    *x = Value::String(REDACTED.into());
                } else if k == "build_args" || k.eq_ignore_ascii_case("buildargs") {
                    if let Value::Object(args) = x {
                        for (name, val) in args.iter_mut() {
                            if secret_build_arg(name) && !val.is_null() {
                                *val = Value::String(REDACTED.into());
                            }
                        }
                    }
                } else if k.eq_ignore_ascii_case("env") {
                    redact_env(x);
                } else {
                    redact_value(x);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(redact_value),
        _ => {}
    }
}

/// `v` (the arguments or answer of `method`) without its secrets: a registry login's
/// password, auth headers and tokens anywhere, secret-looking environment values.
pub fn redact(method: &str, mut v: Value) -> Value {
    if method == "registry_login" {
        if let Value::Array(a) = &mut v {
            if let Some(p) = a.get_mut(2) {
                *p = Value::String(REDACTED.into());
            }
        }
    }
    redact_value(&mut v);
    v
}

/// `v` within [`MAX_JSON`]: as it is when small, else a summary (a list's length and
/// first items, an object's keys).
pub fn bounded(v: Value) -> Value {
    let n = serde_json::to_vec(&v).map(|b| b.len()).unwrap_or(0);
    if n <= MAX_JSON {
        return v;
    }
    match v {
        Value::Array(a) => {
            let len = a.len();
            let mut first = Vec::new();
            let mut used = 0;
            for x in a {
                let w = serde_json::to_vec(&x).map(|b| b.len()).unwrap_or(0);
                if used + w > MAX_JSON / 2 {
                    break;
                }
                used += w;
                first.push(x);
            }
            serde_json::json!({"truncated": format!("{len} items, {n} bytes"), "first": first})
        }
        Value::Object(m) => serde_json::json!({
            "truncated": format!("{n} bytes"),
            "keys": m.keys().cloned().collect::<Vec<_>>(),
        }),
        other => {
            let s = other.to_string();
            let cut: String = s.chars().take(MAX_JSON / 2).collect();
            Value::String(format!("{cut}… ({n} bytes)"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_build_args_and_query_values_are_redacted() {
        let opts = crate::api::BuildOptions {
            build_args: [
                ("NPM_TOKEN", "t0ps3cret"),
                ("DB_PASS", "hunter2"),
                ("GitHub-Auth", "ghp_x"),
                ("Api_Key", "k"),
                ("VERSION", "1.2"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            dockerfile_content: Some("FROM scratch\n".into()),
            ..Default::default()
        };
        let v = redact("image_build", json!([opts, "tar stream"]));
        let args = &v[0]["build_args"];
        for k in ["NPM_TOKEN", "DB_PASS", "GitHub-Auth", "Api_Key"] {
            assert_eq!(args[k], REDACTED, "{k}: {v}");
        }
        assert_eq!(args["VERSION"], "1.2");
        assert_eq!(v[0]["dockerfile_content"], "FROM scratch\n");
        // Substrings, any case; an image's author stays.
        let v = redact(
            "x",
            json!({"MyAccessToken": "a", "client_secret": "b", "author": "me", "name": "n"}),
        );
        assert_eq!(v["MyAccessToken"], REDACTED);
        assert_eq!(v["client_secret"], REDACTED);
        assert_eq!(v["author"], "me");
        assert_eq!(v["name"], "n");

        assert_eq!(
            redact_query("/v1.41/build?t=x%3A1&buildargs=%7B%22TOKEN%22%3A%22s%22%7D&q=1"),
            "/v1.41/build?t=x%3A1&buildargs=<redacted>&q=1"
        );
        assert_eq!(
            redact_query("/build?BuildArgs=x&api_token=y&rm=1"),
            "/build?BuildArgs=<redacted>&api_token=<redacted>&rm=1"
        );
        assert_eq!(
            redact_query("/build?build%61rgs=x&t=y"),
            "/build?build%61rgs=<redacted>&t=y"
        );
        assert_eq!(redact_query("/containers/json"), "/containers/json");
    }

    fn entry(uid: u32, method: &str) -> TraceEntry {
        let mut c = Caller::root();
        c.uid = uid;
        TraceEntry::new(&c, "console", method)
    }

    #[test]
    fn the_ring_keeps_the_last_calls_in_order() {
        let t = Tracer::new(3);
        for i in 0..5 {
            t.record(entry(i, "container_start"));
        }
        let kept = t.since(0);
        assert_eq!(kept.iter().map(|e| e.seq).collect::<Vec<_>>(), [3, 4, 5]);
        assert_eq!(kept[0].caller.uid, 2);
        assert_eq!(t.since(4).len(), 1);
        assert_eq!(t.last(), 5);
    }

    #[test]
    fn a_follower_gets_new_calls_live_and_only_those_it_keeps() {
        let t = Tracer::new(10);
        t.record(entry(1, "container_list"));
        let t2 = t.clone();
        let h = std::thread::spawn(move || {
            let mut got = Vec::new();
            t2.follow(
                &TraceOptions {
                    follow: true,
                    ..Default::default()
                },
                &|e| e.caller.uid == 1,
                &mut |e| {
                    got.push(e.method.clone());
                    got.len() < 3
                },
                &|| true,
            );
            got
        });
        std::thread::sleep(Duration::from_millis(50));
        t.record(entry(2, "container_stop"));
        t.record(entry(1, "container_create"));
        t.record(entry(1, "container_start"));
        let got = h.join().unwrap();
        assert_eq!(
            got,
            ["container_list", "container_create", "container_start"]
        );
    }

    #[test]
    fn a_follower_whose_reader_left_returns() {
        let t = Tracer::new(10);
        let gone = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            let h = s.spawn(|| {
                t.follow(
                    &TraceOptions {
                        follow: true,
                        ..Default::default()
                    },
                    &|_| true,
                    &mut |_| true,
                    &|| !gone.load(std::sync::atomic::Ordering::SeqCst),
                )
            });
            gone.store(true, std::sync::atomic::Ordering::SeqCst);
            h.join().unwrap();
        });
    }

    #[test]
    fn steps_belong_to_the_call_of_their_thread() {
        assert!(!active());
        step("nobody listens");
        let ((), g) = scoped(|| {
            step("outer one");
            let ((), inner) = scoped(|| trace_step!("inner {}", 1));
            assert_eq!(inner.steps, ["inner 1"]);
            std::thread::spawn(|| step("another thread"))
                .join()
                .unwrap();
            step("outer two");
        });
        assert_eq!(g.steps, ["outer one", "outer two"]);
        assert!(!active());
    }

    #[test]
    fn actions_mark_the_calls_made_for_them() {
        assert_eq!(current_action(), None);
        let e = with_action(7, || entry(0, "container_start"));
        assert_eq!(e.action, Some(7));
        assert_eq!(current_action(), None);
    }

    #[test]
    fn secrets_are_redacted() {
        let v = redact(
            "registry_login",
            json!(["localhost:5000", "alice", "hunter2"]),
        );
        assert_eq!(v, json!(["localhost:5000", "alice", REDACTED]));
        let v = redact(
            "POST /auth",
            json!({"username": "alice", "password": "hunter2", "serveraddress": "r"}),
        );
        assert_eq!(v["password"], REDACTED);
        assert_eq!(v["username"], "alice");
        let v = redact(
            "container_create",
            json!([{"env": ["A=1", "DB_PASSWORD=hunter2", "GITHUB_TOKEN=x"], "image": "busybox"}]),
        );
        assert_eq!(
            v[0]["env"],
            json!(["A=1", "DB_PASSWORD=<redacted>", "GITHUB_TOKEN=<redacted>"])
        );
        let v = redact("x", json!({"headers": {"X-Registry-Auth": "eyJ..."}}));
        assert_eq!(v["headers"]["X-Registry-Auth"], REDACTED);
        assert!(!serde_json::to_string(&v).unwrap().contains("eyJ"));
    }

    #[test]
    fn large_answers_are_summarised() {
        let big: Vec<Value> = (0..5000)
            .map(|i| json!({"id": i, "name": "x".repeat(20)}))
            .collect();
        let b = bounded(Value::Array(big));
        assert!(serde_json::to_vec(&b).unwrap().len() <= MAX_JSON);
        assert!(b["truncated"].as_str().unwrap().starts_with("5000 items"));
        assert_eq!(bounded(json!([1, 2])), json!([1, 2]));
    }

    #[test]
    fn mutating_methods() {
        assert!(is_mutating("container_create"));
        assert!(!is_mutating("container_list"));
        assert!(!is_mutating("registry_catalog") && !is_mutating("policy_read"));
        assert!(is_mutating("registry_delete") && is_mutating("policy_write"));
        assert!(is_mutating("POST /containers/create"));
        assert!(!is_mutating("GET /containers/json"));
    }
}
