//! wharf's Docker Engine API client (`DockerEngine`) through the engine trait, against a
//! real dockerd, a real `podman system service`, and wharf's own Docker API: list, run,
//! logs, exec, stats, events and remove, exactly as the console calls them.
//!
//! dockerd runs in a network namespace of the test's own (`unshare -n`) with its own
//! data root, exec root and socket, `--bridge none --iptables=false`; Podman the same
//! with its own `--root`/`--runroot`; containers have no network. Nothing is pulled:
//! the offline demo image (`wharf image demo`) is loaded through the client itself.
//! Needs root, Debian's docker.io and podman; skipped (outside CI) when missing.

mod containers_support;
mod docker_support;

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use containers_support::Wharf;
use docker_support::{demo_archive, dockerd, tmpdir, wait_sock, Daemon};
use wharf_engine::api::*;
use wharf_engine::remote::docker::{DockerEndpoint, DockerEngine, Flavor};
use wharf_engine::runtime::attach;
use wharf_engine::{Caller, Engine};

/// `podman system service` in a network namespace of its own, or `None`.
fn podman() -> Option<Daemon> {
    if Command::new("podman").arg("--version").output().is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "podman is missing: .ci/run installs it"
        );
        eprintln!("skipped: no podman (apt-get install podman)");
        return None;
    }
    let tmp = tmpdir("wpod");
    let sock = tmp.join("podman.sock");
    std::fs::write(
        tmp.join("containers.conf"),
        "[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n\n[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n",
    )
    .unwrap();
    let child = Command::new("unshare")
        .args(["-n", "--", "podman"])
        .arg("--root")
        .arg(tmp.join("root"))
        .arg("--runroot")
        .arg(tmp.join("run"))
        .args(["--storage-driver", "vfs", "--cgroup-manager", "cgroupfs"])
        .args(["--events-backend", "file"])
        // crun refuses cgroup v1/v2 hybrid hosts (as this one is); runc, which docker.io
        // brings, runs there.
        .args(
            runc()
                .map(|r| vec!["--runtime".to_string(), r])
                .unwrap_or_default(),
        )
        .args(["system", "service", "--time=0"])
        .arg(format!("unix://{}", sock.display()))
        .env("CONTAINERS_CONF", tmp.join("containers.conf"))
        .env("XDG_RUNTIME_DIR", tmp.join("xdg"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(tmp.join("podman.log")).unwrap())
        .spawn()
        .expect("podman");
    let d = Daemon {
        tmp,
        child: Some(child),
        sock,
    };
    wait_sock(&d.sock, "podman system service");
    Some(d)
}

/// runc's path, if it is installed.
fn runc() -> Option<String> {
    ["/usr/sbin/runc", "/usr/bin/runc"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .map(str::to_string)
}

fn read_exec(mut s: std::os::unix::net::UnixStream) -> (String, i32) {
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut out = String::new();
    loop {
        match attach::read_frame(&mut s) {
            Ok(Some((attach::STDOUT, d))) | Ok(Some((attach::STDERR, d))) => {
                out.push_str(&String::from_utf8_lossy(&d))
            }
            Ok(Some((attach::EXIT, d))) => {
                return (out, String::from_utf8_lossy(&d).parse().unwrap_or(-99))
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => return (out, -100),
        }
    }
}

/// Everything the console does with containers, through the trait.
pub fn exercise(e: &dyn Engine, archive: &Path, label: &str) {
    let c = Caller::root();
    let mut f = std::fs::File::open(archive).unwrap();
    let rep = e.image_load(&c, &mut f).expect("load");
    assert!(
        rep.tagged.iter().any(|t| t.contains("wharf/demo")) || !rep.untagged_ids.is_empty(),
        "{label}: {rep:?}"
    );
    let images = e.image_list(&c, &Default::default()).unwrap();
    assert!(
        images
            .iter()
            .any(|i| i.repo_tags.iter().any(|t| t.contains("wharf/demo"))),
        "{label}: {images:?}"
    );
    let name = format!("fleet-{label}");
    let since = chrono::Utc::now().timestamp_nanos_opt().unwrap() - 2_000_000_000;
    let id = e
        .container_create(
            &c,
            &ContainerCreate {
                name: Some(name.clone()),
                image: "wharf/demo".into(),
                cmd: Some(vec![
                    "sh".into(),
                    "-c".into(),
                    "echo hello from $HOSTNAME; exec sleep 60".into(),
                ]),
                network: Some("none".into()),
                ..Default::default()
            },
        )
        .unwrap_or_else(|err| panic!("{label}: create: {err}"));
    e.container_start(&c, &id)
        .unwrap_or_else(|err| panic!("{label}: start: {err}"));
    let all = ContainerListOptions {
        all: true,
        ..Default::default()
    };
    let row = e
        .container_list(&c, &all)
        .unwrap()
        .into_iter()
        .find(|x| x.id == id)
        .expect("listed");
    assert_eq!(row.name, name);
    assert_eq!(row.state, ContainerStatus::Running, "{label}: {row:?}");
    // Logs, as the console's split reads them.
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !lines.iter().any(|l: &LogLine| l.log.contains("hello from")) {
        lines.clear();
        e.container_logs(
            &c,
            &id,
            &LogOptions {
                tail: Some(10),
                stdout: true,
                stderr: true,
                ..Default::default()
            },
            &mut |l| {
                lines.push(l);
                true
            },
        )
        .unwrap();
        assert!(Instant::now() < deadline, "{label}: no log line: {lines:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!lines[0].time.is_empty(), "{label}: {lines:?}");
    // Exec, as the console's shell does (its stream, its exit code).
    let s = e
        .exec(
            &c,
            &id,
            &ExecConfig {
                cmd: vec!["sh".into(), "-c".into(), "echo inside; exit 3".into()],
                ..Default::default()
            },
        )
        .unwrap_or_else(|err| panic!("{label}: exec: {err}"));
    let (out, code) = read_exec(s.stream.expect("a stream"));
    assert!(out.contains("inside"), "{label}: {out:?}");
    assert_eq!(code, 3, "{label}: {out:?}");
    // Exec with stdin.
    let s = e
        .exec(
            &c,
            &id,
            &ExecConfig {
                cmd: vec!["cat".into()],
                stdin: true,
                ..Default::default()
            },
        )
        .unwrap();
    let mut st = s.stream.unwrap();
    attach::write_frame(&mut st, attach::STDIN, b"typed\n").unwrap();
    attach::write_frame(&mut st, attach::STDIN_EOF, b"").unwrap();
    let (out, code) = read_exec(st);
    assert!(out.contains("typed"), "{label}: {out:?}");
    assert_eq!(code, 0);
    // Stats: one batch with the container in it.
    let mut got = Vec::new();
    e.container_stats(&c, &[], &StatsOptions::default(), &mut |b| {
        got = b;
        false
    })
    .unwrap_or_else(|err| panic!("{label}: stats: {err}"));
    assert!(got.iter().any(|s| s.id == id), "{label}: {got:?}");
    // Inspect.
    let v = e.container_inspect(&c, &id).unwrap();
    assert_eq!(v["Id"].as_str(), Some(id.as_str()));
    // Stop, events, remove.
    e.container_stop(&c, &id, Some(1)).unwrap();
    // The stored events up to now (a `die` may trail the stop by a moment).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut actions = Vec::new();
        e.events(
            &c,
            &EventFilter {
                since: Some(since),
                types: vec!["container".into()],
                ..Default::default()
            },
            &mut |ev| {
                if ev.actor.id == id {
                    actions.push(ev.action.clone());
                }
                true
            },
        )
        .unwrap_or_else(|err| panic!("{label}: events: {err}"));
        let missing: Vec<&str> = ["create", "start", "die"]
            .into_iter()
            .filter(|a| !actions.iter().any(|x| x == a))
            .collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{label}: no {missing:?} events in {actions:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    e.container_remove(&c, &id, RemoveOptions::default())
        .unwrap();
    assert!(!e
        .container_list(&c, &all)
        .unwrap()
        .iter()
        .any(|x| x.id == id));
    // What Docker has no word for is refused by name.
    let err = e.audit_read(&c).unwrap_err();
    assert!(err.message.contains("audit"), "{label}: {err}");
    let p = e.permissions(&c).unwrap();
    assert!(p.allows("container.stop") && !p.allows("audit.read"));
}

/// One HTTP/1.1 request on a fresh connection to `sock`, read to the end: the status and
/// what follows the headers (for a hijacked answer, the raw stream).
fn http(sock: &Path, method: &str, path: &str, body: &str, upgrade: bool) -> (u16, Vec<u8>) {
    let mut s = std::os::unix::net::UnixStream::connect(sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let conn = if upgrade {
        "Connection: Upgrade\r\nUpgrade: tcp\r\n"
    } else {
        "Connection: close\r\n"
    };
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{conn}\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no headers in {:?}", String::from_utf8_lossy(&buf)))
        + 4;
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let status = head.split(' ').nth(1).and_then(|x| x.parse().ok()).unwrap();
    (status, buf[end..].to_vec())
}

/// A multiplexed stream's frames as (stream, payload), or `None` if it is not one.
fn demux(mut b: &[u8]) -> Option<Vec<(u8, Vec<u8>)>> {
    let mut out = Vec::new();
    while !b.is_empty() {
        if b.len() < 8 || b[0] > 2 || b[1..4] != [0, 0, 0] {
            return None;
        }
        let n = u32::from_be_bytes([b[4], b[5], b[6], b[7]]) as usize;
        if b.len() < 8 + n {
            return None;
        }
        out.push((b[0], b[8..8 + n].to_vec()));
        b = &b[8 + n..];
    }
    Some(out)
}

/// What oxker (through bollard) asks, as dockerd answers it (API 1.41: dockerd 20.10's
/// newest). `e` has the demo image.
///
/// - `stats?stream=false&one-shot=false`, right after the start and again after a
///   pause: every answer has the previous sample's figures (`precpu_stats`,
///   `preread`), so CPU % is over the last interval, not since boot.
/// - An exec made with a terminal and started with `{"Tty": false}` (what bollard
///   sends) runs and streams multiplexed; started with `{"Tty": true}`, raw: the start
///   request's Tty picks the framing.
fn oxkers_calls(e: &dyn Engine, sock: &Path, label: &str) {
    let c = Caller::root();
    let id = e
        .container_create(
            &c,
            &ContainerCreate {
                name: Some(format!("framing-{label}")),
                image: "wharf/demo".into(),
                cmd: Some(vec!["sleep".into(), "60".into()]),
                network: Some("none".into()),
                ..Default::default()
            },
        )
        .unwrap_or_else(|err| panic!("{label}: create: {err}"));
    e.container_start(&c, &id)
        .unwrap_or_else(|err| panic!("{label}: start: {err}"));
    // Two seconds apart: wharf's sampler stops between the calls.
    for round in 0..3 {
        if round > 0 {
            std::thread::sleep(Duration::from_secs(2));
        }
        let (st, body) = http(
            sock,
            "GET",
            &format!("/v1.41/containers/{id}/stats?stream=false&one-shot=false"),
            "",
            false,
        );
        let body = String::from_utf8_lossy(&body).into_owned();
        assert_eq!(st, 200, "{label}: stats: {body}");
        let json = &body[body.find('{').unwrap()..=body.rfind('}').unwrap()];
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        let preread = v["preread"].as_str().expect("preread");
        assert_ne!(preread, "0001-01-01T00:00:00Z", "{label} {round}: {v}");
        assert!(
            v["precpu_stats"]["system_cpu_usage"].as_u64() > Some(0),
            "{label} {round}: {v}"
        );
    }
    for start_tty in [false, true] {
        let (st, body) = http(
            sock,
            "POST",
            &format!("/v1.41/containers/{id}/exec"),
            r#"{"AttachStdout":true,"AttachStderr":true,"Tty":true,"Cmd":["echo","framed"]}"#,
            false,
        );
        let body = String::from_utf8_lossy(&body).into_owned();
        assert_eq!(st, 201, "{label}: exec create: {body}");
        let json = &body[body.find('{').unwrap()..=body.rfind('}').unwrap()];
        let exec: serde_json::Value = serde_json::from_str(json).unwrap();
        let exec = exec["Id"].as_str().unwrap().to_string();
        let (st, stream) = http(
            sock,
            "POST",
            &format!("/v1.41/exec/{exec}/start"),
            &format!(r#"{{"Detach":false,"Tty":{start_tty}}}"#),
            true,
        );
        let text = String::from_utf8_lossy(&stream).into_owned();
        assert_eq!(st, 101, "{label}: start Tty {start_tty}: {text}");
        if start_tty {
            assert!(stream.starts_with(b"framed"), "{label}: raw: {text:?}");
        } else {
            let frames =
                demux(&stream).unwrap_or_else(|| panic!("{label}: not multiplexed: {text:?}"));
            let out: Vec<u8> = frames
                .iter()
                .filter(|(s, _)| *s == 1)
                .flat_map(|(_, d)| d.clone())
                .collect();
            assert!(
                String::from_utf8_lossy(&out).contains("framed"),
                "{label}: {frames:?}"
            );
        }
    }
    e.container_remove(
        &c,
        &id,
        RemoveOptions {
            force: true,
            ..Default::default()
        },
    )
    .unwrap();
}

#[test]
fn dockerd_through_the_engine_trait() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let Some(d) = dockerd() else { return };
    let w = Wharf::new();
    let archive = demo_archive(&w, &d.tmp);
    let e = DockerEngine::connect(DockerEndpoint::Unix(d.sock.clone())).expect("connect");
    assert_eq!(e.flavor(), Flavor::Docker);
    let info = e.info(&Caller::root()).unwrap();
    assert!(info.engine_version.starts_with("docker "), "{info:?}");
    exercise(&e, &archive, "docker");
    oxkers_calls(&e, &d.sock, "docker");
}

#[test]
fn podman_through_the_engine_trait() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let Some(p) = podman() else { return };
    let w = Wharf::new();
    let archive = demo_archive(&w, &p.tmp);
    let e = DockerEngine::connect(DockerEndpoint::Unix(p.sock.clone())).expect("connect");
    assert_eq!(e.flavor(), Flavor::Podman);
    exercise(&e, &archive, "podman");
}

#[test]
fn wharfs_own_docker_api_through_the_engine_trait() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let w = Wharf::new();
    let tmp = tmpdir("wdapi");
    let archive = demo_archive(&w, &tmp);
    // The served engine is another root, so the load goes through the API.
    let served = Wharf::new();
    let sock = tmp.join("wharf.sock");
    let _serve = containers_support::ChildGuard(
        served
            .cmd(&["serve", "--socket"])
            .arg(&sock)
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_sock(&sock, "wharf serve");
    let e = DockerEngine::connect(DockerEndpoint::Unix(sock.clone())).expect("connect");
    assert_eq!(e.flavor(), Flavor::Wharf);
    exercise(&e, &archive, "wharf");
    oxkers_calls(&e, &sock, "wharf");
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn a_docker_host_that_is_not_there_says_so() {
    let e = DockerEngine::connect(DockerEndpoint::Unix("/nonexistent/docker.sock".into()))
        .expect_err("nothing there");
    assert!(
        e.message.contains("/nonexistent/docker.sock"),
        "{}",
        e.message
    );
}
