//! Networks with real containers from the demo image, through the real `wharf` binary
//! (root). Each test first moves its thread into a network namespace of its own, so
//! wharf, its monitors and every container network live there and never on the host;
//! after each test nothing of wharf is left in that namespace.

mod containers_support;
#[path = "../../engine/tests/network_support/mod.rs"]
mod network_support;

use std::time::Duration;

use containers_support::Wharf;
use network_support::{sh, Outside, TestNetns};

const GET: &str = "printf 'GET / HTTP/1.0\\r\\n\\r\\n'";
const HELLO: &str = "Hello from the wharf demo image";

/// A web server from the demo image on `net` (extra `run` flags in `extra`).
fn web(w: &Wharf, name: &str, net: &str, extra: &[&str]) -> String {
    let mut args = vec!["run", "-d", "--name", name, "--network", net];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["wharf/demo", "httpd", "-f", "-p", "8000", "-h", "/www"]);
    w.ok(&args).trim().to_string()
}

/// `nc` from a fresh container on `net` to `host:8000`; the answer, if any.
fn fetch(w: &Wharf, net: &str, host: &str) -> Option<String> {
    let script = format!("{GET} | nc -w 2 {host} 8000");
    let o = w.run(&[
        "run",
        "--rm",
        "--network",
        net,
        "wharf/demo",
        "sh",
        "-c",
        &script,
    ]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    out.contains(HELLO).then_some(out)
}

/// Poll until a container on `net` gets the demo page from `host`.
fn expect_reach(w: &Wharf, net: &str, host: &str) {
    network_support::wait_for(&format!("{host} to answer on {net}"), 15, || {
        fetch(w, net, host)
    });
}

fn ip_on(w: &Wharf, name: &str, net: &str) -> String {
    w.inspect(name)["NetworkSettings"]["Networks"][net]["IPAddress"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn containers_talk_by_name_and_networks_are_isolated() {
    let ns = TestNetns::enter();
    let w = Wharf::new();
    w.ok(&["network", "create", "lan"]);
    w.ok(&["network", "create", "other"]);
    web(&w, "web", "lan", &["--network-alias", "www"]);
    expect_reach(&w, "lan", "web");
    expect_reach(&w, "lan", "www");
    let ip = ip_on(&w, "web", "lan");
    assert!(!ip.is_empty());
    // Another user network: neither by name nor by address.
    assert!(fetch(&w, "other", "web").is_none());
    assert!(fetch(&w, "other", &ip).is_none());
    // The network lists its container; rm is refused while it is in use.
    let inspect: serde_json::Value =
        serde_json::from_str(&w.ok(&["network", "inspect", "lan"])).unwrap();
    let containers = inspect[0]["Containers"].as_object().unwrap();
    assert!(containers.values().any(|c| c["Name"] == "web"), "{inspect}");
    assert!(!w.run(&["network", "rm", "lan"]).status.success());
    let ps = w.ok(&["ps", "--format", "json"]);
    assert!(ps.contains("lan"), "{ps}");

    w.ok(&["rm", "-f", "web"]);
    w.ok(&["network", "rm", "lan", "other"]);
    drop(w);
    ns.assert_clean();
}

#[test]
fn published_port_answers_from_the_host() {
    let ns = TestNetns::enter();
    let tmp = tempfile::tempdir().unwrap();
    let outside = Outside::start(tmp.path());
    let w = Wharf::new();
    web(&w, "pub", "bridge", &["-p", "18081:8000", "-p", "8000"]);
    let ports = w.ok(&["port", "pub"]);
    assert!(ports.contains("8000/tcp -> 0.0.0.0:18081"), "{ports}");
    let eph = w.ok(&["port", "pub", "8000/tcp"]);
    assert!(
        eph.lines()
            .any(|l| l.starts_with("0.0.0.0:") && l != "0.0.0.0:18081"),
        "{eph}"
    );
    for (host, run) in [
        ("127.0.0.1", None),
        ("198.51.100.1", None),
        ("198.51.100.1", Some(&outside)),
    ] {
        network_support::wait_for(&format!("{host}:18081 to answer"), 15, || {
            let cmd = format!("{GET} | busybox nc -w 2 {host} 18081");
            let o = match run {
                Some(o) => o.ns.exec(&cmd),
                None => sh(&cmd),
            };
            String::from_utf8_lossy(&o.stdout)
                .contains(HELLO)
                .then_some(())
        });
    }
    w.ok(&["rm", "-f", "pub"]);
    let o = sh(&format!("{GET} | busybox nc -w 1 127.0.0.1 18081"));
    assert!(
        !String::from_utf8_lossy(&o.stdout).contains(HELLO),
        "the port is released with the container"
    );
    drop(w);
    drop(outside);
    ns.assert_clean();
}

#[test]
fn internal_network_has_no_route_out() {
    let ns = TestNetns::enter();
    let tmp = tempfile::tempdir().unwrap();
    let outside = Outside::start(tmp.path());
    let _srv = outside.ns.spawn("busybox httpd -f -p 8000 -h /");
    let w = Wharf::new();
    w.ok(&[
        "network",
        "create",
        "--internal",
        "--subnet",
        "10.91.0.0/24",
        "sealed",
    ]);
    let routes = w.ok(&[
        "run",
        "--rm",
        "--network",
        "sealed",
        "wharf/demo",
        "ip",
        "route",
    ]);
    assert!(
        !routes.contains("default") && routes.contains("10.91.0.0/24"),
        "{routes}"
    );
    let probe = "nc -w 2 198.51.100.2 8000 </dev/null && echo CONNECTED || echo BLOCKED";
    // Positive control on the default bridge: the outside host's port answers.
    network_support::wait_for(
        "the outside host to be reachable from the bridge",
        15,
        || {
            let o = w.ok(&["run", "--rm", "wharf/demo", "sh", "-c", probe]);
            o.contains("CONNECTED").then_some(())
        },
    );
    let o = w.ok(&[
        "run",
        "--rm",
        "--network",
        "sealed",
        "wharf/demo",
        "sh",
        "-c",
        probe,
    ]);
    assert!(o.contains("BLOCKED"), "{o}");
    w.ok(&["network", "rm", "sealed"]);
    drop(w);
    drop(_srv);
    drop(outside);
    ns.assert_clean();
}

#[test]
fn connect_disconnect_and_address_reuse() {
    let ns = TestNetns::enter();
    let w = Wharf::new();
    w.ok(&["network", "create", "--subnet", "10.92.0.0/24", "a"]);
    w.ok(&["network", "create", "--subnet", "10.93.0.0/24", "b"]);
    web(&w, "srv", "a", &[]);
    assert_eq!(ip_on(&w, "srv", "a"), "10.92.0.2");
    expect_reach(&w, "a", "srv");
    assert!(fetch(&w, "b", "srv").is_none());
    // Live connect: reachable from b by name, with the asked address.
    w.ok(&[
        "network",
        "connect",
        "--ip",
        "10.93.0.77",
        "--alias",
        "api",
        "b",
        "srv",
    ]);
    assert_eq!(ip_on(&w, "srv", "b"), "10.93.0.77");
    expect_reach(&w, "b", "api");
    // Live disconnect from a: cut.
    w.ok(&["network", "disconnect", "a", "srv"]);
    assert!(fetch(&w, "a", "srv").is_none());
    assert!(fetch(&w, "a", "10.92.0.2").is_none());
    expect_reach(&w, "b", "srv");

    // Addresses come back after rm.
    w.ok(&[
        "run",
        "-d",
        "--name",
        "xx",
        "--network",
        "a",
        "wharf/demo",
        "sleep",
        "1000",
    ]);
    assert_eq!(
        ip_on(&w, "xx", "a"),
        "10.92.0.2",
        "the address srv gave up is reused"
    );
    w.ok(&["rm", "-f", "xx"]);
    w.ok(&[
        "run",
        "-d",
        "--name",
        "yy",
        "--network",
        "a",
        "wharf/demo",
        "sleep",
        "1000",
    ]);
    assert_eq!(ip_on(&w, "yy", "a"), "10.92.0.2");
    // Stop releases the address; start gives one again.
    w.ok(&["stop", "-t", "0", "yy"]);
    w.wait_status("yy", "exited", Duration::from_secs(10));
    assert_eq!(ip_on(&w, "yy", "a"), "");
    w.ok(&["start", "yy"]);
    assert_eq!(ip_on(&w, "yy", "a"), "10.92.0.2");

    let events = w.ok(&[
        "events",
        "--since",
        "10m",
        "--until",
        "0s",
        "--filter",
        "type=network",
    ]);
    for want in ["network create", "network connect", "network disconnect"] {
        assert!(events.contains(want), "no {want} in:\n{events}");
    }
    w.ok(&["rm", "-f", "srv", "yy"]);
    w.ok(&["network", "rm", "a", "b"]);
    let events = w.ok(&[
        "events",
        "--since",
        "10m",
        "--until",
        "0s",
        "--filter",
        "event=destroy",
        "--filter",
        "type=network",
    ]);
    assert!(events.contains("name=a"), "{events}");
    drop(w);
    ns.assert_clean();
}

#[test]
fn publish_all_publishes_the_exposed_ports() {
    let ns = TestNetns::enter();
    let w = Wharf::new();
    web(&w, "exp", "bridge", &["-P", "--expose", "8000"]);
    let eph = w.ok(&["port", "exp", "8000/tcp"]);
    let port = eph
        .lines()
        .find_map(|l| l.strip_prefix("0.0.0.0:"))
        .unwrap_or_else(|| panic!("8000/tcp is not published: {eph}"))
        .to_string();
    network_support::wait_for(&format!("127.0.0.1:{port} to answer"), 15, || {
        let o = sh(&format!("{GET} | busybox nc -w 2 127.0.0.1 {port}"));
        String::from_utf8_lossy(&o.stdout)
            .contains(HELLO)
            .then_some(())
    });
    // Without -P an exposed port stays unpublished.
    web(&w, "unexp", "bridge", &["--expose", "8000"]);
    assert_eq!(w.ok(&["port", "unexp"]).trim(), "");
    w.ok(&["rm", "-f", "exp", "unexp"]);
    drop(w);
    ns.assert_clean();
}

/// `--network none` containers are not recorded in the network store (every start and
/// stop would read and rewrite it whole, and it grows with the containers it holds),
/// yet inspect and listings say `none`, and `network connect` refuses them, as it
/// refuses a `--network host` container that never ran.
#[test]
fn network_none_is_not_recorded_yet_shown_and_refused() {
    let ns = TestNetns::enter();
    let w = Wharf::new();
    let id = w
        .ok(&[
            "create",
            "--name",
            "nn",
            "--network",
            "none",
            "wharf/demo",
            "true",
        ])
        .trim()
        .to_string();
    w.ok(&["start", "-a", "nn"]);
    // (A root that never had a network need not have a store at all.)
    let store: serde_json::Value = std::fs::read(w.root().join("networks/state.json"))
        .map(|b| serde_json::from_slice(&b).unwrap())
        .unwrap_or_default();
    assert!(
        store["containers"].get(&id).is_none(),
        "recorded: {}",
        store["containers"]
    );
    let nets = w.inspect("nn")["NetworkSettings"]["Networks"].clone();
    assert_eq!(nets["none"]["IPAddress"], "", "{nets}");
    assert!(!nets["none"]["NetworkID"].as_str().unwrap().is_empty());
    let listed = w.ok(&["ps", "-a", "--format", "{{.Names}} {{.Networks}}"]);
    assert_eq!(listed.trim(), "nn none");
    let o = w.run(&["network", "connect", "bridge", "nn"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("uses --network none"));
    w.ok(&[
        "create",
        "--name",
        "hh",
        "--network",
        "host",
        "wharf/demo",
        "true",
    ]);
    let o = w.run(&["network", "connect", "bridge", "hh"]);
    assert!(
        !o.status.success(),
        "a host-network container was connected"
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("uses --network host"));
    w.ok(&["rm", "nn", "hh"]);
    drop(w);
    ns.assert_clean();
}
