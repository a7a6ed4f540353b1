//! The engine socket: a real server on a temporary Unix socket, the real client.

use std::sync::Arc;

use wharf_engine::api::{EventFilter, SystemApi};
use wharf_engine::events::{Event, EventType};
use wharf_engine::remote::client::{Endpoint, RemoteEngine};
use wharf_engine::server;
use wharf_engine::{Caller, EngineOptions, LocalEngine};

fn start() -> (tempfile::TempDir, Arc<LocalEngine>, RemoteEngine) {
    let dir = tempfile::tempdir().unwrap();
    let engine =
        Arc::new(LocalEngine::open(dir.path().join("root"), EngineOptions::default()).unwrap());
    let sock = dir.path().join("wharf.sock");
    let listener = server::bind(&sock).unwrap();
    let e2 = engine.clone();
    std::thread::spawn(move || server::serve(e2, listener));
    let client = RemoteEngine::connect(Endpoint::Unix(sock)).unwrap();
    (dir, engine, client)
}

#[test]
fn info_and_identity_come_from_the_server() {
    let (_d, engine, client) = start();
    // The client claims to be someone else; the server uses the kernel's credentials.
    let liar = Caller {
        uid: 4242,
        gid: 4242,
        name: "mallory".into(),
        role: wharf_engine::Role("admin".into()),
        project: None,
    };
    let info = client.info(&liar).unwrap();
    assert_eq!(info.caller.uid, nix::unistd::getuid().as_raw());
    assert_eq!(info.root, engine.root().path().display().to_string());
    let me = wharf_engine::api::AuditApi::whoami(&client, &liar).unwrap();
    assert_eq!(me.uid, nix::unistd::getuid().as_raw());
}

#[test]
fn events_stream_to_a_client() {
    let (_d, engine, client) = start();
    engine.emit(Event::new(EventType::Image, "tag", "sha256:abc").attr("name", "x:1"));
    let filter = EventFilter {
        follow: true,
        ..Default::default()
    };
    let e2 = engine.clone();
    std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(50));
        e2.emit(Event::new(EventType::Container, "start", "c1"));
    });
    let mut got = Vec::new();
    client
        .events(&Caller::root(), &filter, &mut |ev| {
            got.push(ev.action.clone());
            got.len() < 2
        })
        .unwrap();
    assert_eq!(got, vec!["tag", "start"]);
    // The connection that was cut by the client does not disturb the next call.
    assert!(client.info(&Caller::root()).is_ok());
}

#[test]
fn endpoints_parse_with_clear_errors() {
    assert_eq!(
        Endpoint::parse("unix:///run/w.sock").unwrap(),
        Endpoint::Unix("/run/w.sock".into())
    );
    assert_eq!(
        Endpoint::parse("ssh://bob@lab:2222").unwrap(),
        Endpoint::Ssh {
            target: "bob@lab".into(),
            port: Some(2222)
        }
    );
    assert!(Endpoint::parse("tcp://x")
        .unwrap_err()
        .message
        .contains("unix:///"));
    let missing =
        RemoteEngine::connect(Endpoint::Unix("/nonexistent/wharf.sock".into())).unwrap_err();
    assert!(
        missing.message.contains("is `wharf serve` running?"),
        "{missing}"
    );
}
