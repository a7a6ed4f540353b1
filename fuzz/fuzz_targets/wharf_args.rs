//! wharf's protocol on the socket: a method's arguments from a request body, decoded the
//! way `engine/src/server/wharf.rs` decodes them (the body as JSON, `[]` when empty, then
//! the method's argument tuple), and what the engine does with them first.
//!
//! The first byte picks the method, the rest is the body. Invariants:
//! - decoding never panics; what decodes survives the client's encoding (the remote client
//!   serializes the same types, so a value that does not come back equal is a protocol
//!   bug);
//! - a `ContainerCreate` is accepted or refused by the engine's validation with
//!   `InvalidArgument`, and one it accepts goes through the policy gate's constraints for
//!   an ordinary user (allowed, `PermissionDenied` or `InvalidArgument`);
//! - `update`'s limits, exec's env/user/workdir and import's changes are checked the same;
//! - an event filter matches events without panicking, and the empty filter matches all.
#![no_main]

mod common;

use std::fmt::Debug;
use std::path::Path;

use common::{expect_kind, ok_or_invalid, split_selector};
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use wharf_engine::api::flags::CpuList;
use wharf_engine::api::*;
use wharf_engine::events::{Event, EventType};
use wharf_engine::local::event_matches;
use wharf_engine::policy::Policy;
use wharf_engine::runtime::validate::{validate_on, Host};
use wharf_engine::{Caller, ErrorKind, Role};

/// The body as `handle` reads it: empty is `[]`, anything else must be JSON.
fn body(rest: &[u8]) -> Option<Value> {
    if rest.is_empty() {
        return Some(Value::Array(vec![]));
    }
    serde_json::from_slice(rest).ok()
}

/// `args::<T>(method, v)` of the server, then the client's side: what decoded encodes
/// and decodes to the same value.
fn args<T: DeserializeOwned + Serialize + PartialEq + Debug>(v: Value) -> Option<T> {
    let t: T = serde_json::from_value(v).ok()?;
    let wire = serde_json::to_value(&t).expect("a decoded argument encodes");
    let back: T = serde_json::from_value(wire.clone())
        .unwrap_or_else(|e| panic!("{t:?} encodes as {wire} which does not decode: {e}"));
    assert_eq!(back, t, "{wire} decodes differently");
    Some(t)
}

fn host() -> Host {
    Host {
        cpus: "0-3".parse::<CpuList>().expect("cpu list"),
    }
}

fn user() -> Caller {
    Caller {
        uid: 1000,
        gid: 1000,
        name: "alice".into(),
        role: Role("user".into()),
        project: None,
    }
}

fn check_create(spec: &ContainerCreate) {
    let shown = format!("{spec:?}");
    let r = validate_on(spec, &host());
    ok_or_invalid("container_create", &shown, &r);
    if r.is_err() {
        return;
    }
    // The gate's constraints, as for an ordinary user with the built-in roles.
    let policy = Policy::parse(Path::new("policy.json"), "{}").expect("the empty policy");
    let role = policy.role("user").expect("built-in role user");
    if let Err(e) = wharf_engine::policy::gate::check_create(&user(), role, spec, &spec.image) {
        expect_kind(
            "container_create (gate)",
            &shown,
            &e,
            &[ErrorKind::PermissionDenied, ErrorKind::InvalidArgument],
        );
    }
}

fn check_filter(f: &EventFilter) {
    let mut evs = vec![
        Event::new(EventType::Container, "start", "0123456789abcdef").attr("name", "web"),
        Event::new(EventType::Image, "health_status: healthy", "sha256:00").attr("image", "x"),
    ];
    // Events made of the filter's own words.
    for (k, v) in &f.objects {
        evs.push(Event::new(EventType::Network, v.clone(), v.clone()).attr(k.clone(), v.clone()));
    }
    for l in &f.labels {
        let (k, v) = l.split_once('=').unwrap_or((l, ""));
        evs.push(Event::new(EventType::Volume, l.clone(), k).attr(k, v));
    }
    for ev in &evs {
        let _ = event_matches(f, ev);
        assert!(event_matches(&EventFilter::default(), ev));
    }
}

const METHODS: &[&str] = &[
    "events",
    "image_list",
    "image_save",
    "image_tag",
    "image_remove",
    "image_prune",
    "image_import",
    "image_pull",
    "container_create",
    "container_stop",
    "container_kill",
    "container_remove",
    "container_update",
    "container_list",
    "container_logs",
    "container_stats",
    "container_commit",
    "container_start_attached",
    "exec",
    "network_create",
    "network_list",
    "network_connect",
    "volume_create",
    "volume_list",
    "container_archive_put",
];

fuzz_target!(|data: &[u8]| {
    let Some((sel, rest)) = split_selector(data) else {
        return;
    };
    let Some(a) = body(rest) else {
        return;
    };
    let method = METHODS[sel as usize % METHODS.len()];
    match method {
        "events" => {
            if let Some((f,)) = args::<(EventFilter,)>(a) {
                check_filter(&f);
            }
        }
        "image_list" => {
            args::<(ImageListOptions,)>(a);
        }
        "image_save" => {
            args::<(Vec<String>, SaveFormat)>(a);
        }
        "image_tag" | "container_archive_put" => {
            args::<(String, String)>(a);
        }
        "image_remove" => {
            args::<(String, bool)>(a);
        }
        "image_prune" => {
            args::<(bool,)>(a);
        }
        "image_import" => {
            if let Some((o,)) = args::<(ImportOptions,)>(a) {
                for c in &o.changes {
                    let r = wharf_engine::image::build::apply_change(&mut Default::default(), c);
                    ok_or_invalid("import change", c, &r);
                }
            }
        }
        "image_pull" => {
            args::<(String, PullOptions)>(a);
        }
        "container_create" => {
            if let Some((s,)) = args::<(ContainerCreate,)>(a) {
                check_create(&s);
            }
        }
        "container_stop" => {
            args::<(String, Option<u32>)>(a);
        }
        "container_kill" => {
            if let Some((_, s)) = args::<(String, String)>(a) {
                ok_or_invalid("kill signal", &s, &flags::parse_signal(&s));
            }
        }
        "container_remove" => {
            args::<(String, RemoveOptions)>(a);
        }
        "container_update" => {
            if let Some((_, r, p)) = args::<(String, Resources, Option<RestartPolicy>)>(a) {
                let shown = format!("{r:?} {p:?}");
                let spec = ContainerCreate {
                    image: "busybox".into(),
                    resources: r.clone(),
                    ..Default::default()
                };
                ok_or_invalid("update", &shown, &validate_on(&spec, &host()));
                ok_or_invalid("update", &shown, &flags::check_resources(&r, true));
            }
        }
        "container_list" => {
            args::<(ContainerListOptions,)>(a);
        }
        "container_logs" => {
            args::<(String, LogOptions)>(a);
        }
        "container_stats" => {
            args::<(Vec<String>, StatsOptions)>(a);
        }
        "container_commit" => {
            if let Some((_, o)) = args::<(String, CommitOptions)>(a) {
                for c in &o.changes {
                    let r = wharf_engine::image::build::apply_change(&mut Default::default(), c);
                    ok_or_invalid("commit change", c, &r);
                }
            }
        }
        "container_start_attached" => {
            args::<(String, Option<(u16, u16)>)>(a);
        }
        "exec" => {
            if let Some((_, cfg)) = args::<(String, ExecConfig)>(a) {
                for e in &cfg.env {
                    ok_or_invalid("exec -e", e, &flags::check_env(e));
                }
                if let Some(u) = &cfg.user {
                    ok_or_invalid("exec -u", u, &flags::check_user(u));
                }
                if let Some(w) = &cfg.workdir {
                    ok_or_invalid("exec -w", w, &flags::check_workdir(w));
                }
            }
        }
        "network_create" => {
            args::<(NetworkCreate,)>(a);
        }
        "network_list" => {
            args::<(NetworkListOptions,)>(a);
        }
        "network_connect" => {
            args::<(String, String, NetworkConnect)>(a);
        }
        "volume_create" => {
            args::<(VolumeCreate,)>(a);
        }
        "volume_list" => {
            args::<(VolumeListOptions,)>(a);
        }
        _ => unreachable!(),
    }
});
