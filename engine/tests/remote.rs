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

#[test]
fn successive_calls_keep_one_connection_and_survive_its_idle_close() {
    let dir = tempfile::tempdir().unwrap();
    let engine =
        Arc::new(LocalEngine::open(dir.path().join("root"), EngineOptions::default()).unwrap());
    let sock = dir.path().join("wharf.sock");
    let listener = server::bind(&sock).unwrap();
    let limits = server::Limits {
        header_timeout: std::time::Duration::from_millis(300),
        ..Default::default()
    };
    std::thread::spawn(move || server::serve_with(engine, listener, limits));
    let client = RemoteEngine::connect(Endpoint::Unix(sock)).unwrap();
    let me = Caller::root();
    // The server's connections (the test's only client), with their request counts.
    let ours = |c: &RemoteEngine| -> Vec<u64> {
        let list = wharf_engine::api::AccountsApi::connections(c, &me)
            .unwrap()
            .list;
        list.iter().map(|c| c.calls).collect()
    };
    for _ in 0..5 {
        client.info(&me).unwrap();
    }
    // ping, five info, connections: all on one connection (keep-alive).
    assert_eq!(ours(&client), vec![7]);
    // The server closes the kept connection once it has been idle past its header
    // timeout; the next call goes again on a new one, unnoticed.
    std::thread::sleep(std::time::Duration::from_millis(800));
    client.info(&me).unwrap();
    let list = wharf_engine::api::ContainerApi::container_list(&client, &me, &Default::default());
    assert!(list.unwrap().is_empty());
    assert_eq!(ours(&client), vec![3]);
}

#[test]
fn the_client_works_inside_a_runtime_and_drops_there() {
    // The console calls the client (an attach hand-off) from inside its own runtime.
    let (_d, engine, client) = start();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        assert!(client.info(&Caller::root()).is_ok());
        engine.emit(Event::new(EventType::Image, "tag", "sha256:abc"));
        let mut got = 0;
        client
            .events(
                &Caller::root(),
                &EventFilter {
                    follow: true,
                    ..Default::default()
                },
                &mut |_| {
                    got += 1;
                    false
                },
            )
            .unwrap();
        assert_eq!(got, 1);
        drop(client);
    });
}

#[test]
fn archives_go_up_and_come_down_with_their_trailers() {
    use wharf_engine::api::{ImageApi, SaveFormat};
    let (_d, engine, client) = start();
    let root = Caller::root();
    engine.image_build_demo(&root, "wharf/demo:latest").unwrap();
    let mut tar = Vec::new();
    client
        .image_save(
            &root,
            &["wharf/demo:latest".into()],
            SaveFormat::Docker,
            &mut tar,
        )
        .unwrap();
    assert!(tar.len() > 1024, "{} bytes", tar.len());
    // A missing image fails before the first byte: the engine's own error.
    let e = client
        .image_save(
            &root,
            &["nope:1".into()],
            SaveFormat::Docker,
            &mut Vec::new(),
        )
        .unwrap_err();
    assert_eq!(e.kind, wharf_engine::ErrorKind::NotFound, "{e}");
    client
        .image_remove(&root, "wharf/demo:latest", true)
        .unwrap();
    let report = client.image_load(&root, &mut &tar[..]).unwrap();
    assert_eq!(
        report.tagged,
        vec!["docker.io/wharf/demo:latest".to_string()]
    );
    assert!(client.image_inspect(&root, "wharf/demo:latest").is_ok());
    // Garbage is refused with the engine's error. (Small enough to be all sent before
    // the server refuses it: a server that stops reading mid-body and closes can break
    // the pipe under a longer upload before its answer is read.)
    let e = client
        .image_load(&root, &mut &vec![7u8; 16 << 10][..])
        .unwrap_err();
    assert_ne!(e.kind, wharf_engine::ErrorKind::Unavailable, "{e}");
}

#[test]
fn one_client_serves_many_threads_while_a_stream_waits() {
    // The console shares one client among its worker threads, one of them following a
    // stream that stays quiet: the others' calls go on meanwhile.
    let (_d, engine, client) = start();
    let client = Arc::new(client);
    let follower = {
        let client = client.clone();
        std::thread::spawn(move || {
            let filter = EventFilter {
                follow: true,
                ..Default::default()
            };
            let mut got = Vec::new();
            client
                .events(&Caller::root(), &filter, &mut |ev| {
                    got.push(ev.action);
                    false
                })
                .unwrap();
            got
        })
    };
    let callers: Vec<_> = (0..6)
        .map(|_| {
            let client = client.clone();
            std::thread::spawn(move || {
                for _ in 0..40 {
                    client.info(&Caller::root()).unwrap();
                }
            })
        })
        .collect();
    for c in callers {
        c.join().unwrap();
    }
    assert!(!follower.is_finished(), "the stream waits for its event");
    engine.emit(Event::new(EventType::Container, "start", "c1"));
    assert_eq!(follower.join().unwrap(), vec!["start"]);
}

/// An upload's X-Wharf-Args header that is not visible ASCII is refused by name
/// (400), not taken as absent (which would run the upload with no arguments).
#[test]
fn upload_args_that_are_not_ascii_are_refused() {
    use std::io::{Read, Write};
    let (dir, _engine, _client) = start();
    let mut c = std::os::unix::net::UnixStream::connect(dir.path().join("wharf.sock")).unwrap();
    let mut req = b"POST /v1/container_archive_put HTTP/1.1\r\nHost: wharf\r\nConnection: close\r\nContent-Length: 0\r\nX-Wharf-Args: [\"c\",\"/tmp/".to_vec();
    req.extend_from_slice("été\"]\r\n\r\n".as_bytes());
    c.write_all(&req).unwrap();
    let mut answer = String::new();
    c.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("X-Wharf-Args"), "{answer}");
}
