//! Network tests with stand-in containers (processes in their own network
//! namespaces), each test inside a network namespace of its own. Run as root.

mod network_support;

use network_support::*;
use wharf_engine::api::{
    ContainerCreate, NetworkApi, NetworkConnect, NetworkCreate, NetworkListOptions, PortBinding,
};
use wharf_engine::network::{self, ContainerNetInfo};
use wharf_engine::{Caller, EngineOptions, ErrorKind, LocalEngine};

struct World {
    _ns: TestNetns,
    tmp: tempfile::TempDir,
    engine: LocalEngine,
    caller: Caller,
}

impl World {
    fn new() -> Self {
        let ns = TestNetns::enter();
        let tmp = tempfile::tempdir().unwrap();
        let engine = LocalEngine::open(tmp.path().join("root"), EngineOptions::default()).unwrap();
        World {
            _ns: ns,
            tmp,
            engine,
            caller: Caller::root(),
        }
    }

    fn root(&self) -> std::path::PathBuf {
        self.engine.root().path().to_path_buf()
    }

    fn create(&self, name: &str, subnet: Option<&str>, internal: bool) -> String {
        let spec = NetworkCreate {
            name: name.into(),
            subnet: subnet.map(str::to_string),
            internal,
            ..Default::default()
        };
        self.engine.network_create(&self.caller, &spec).unwrap()
    }

    /// Start a stand-in named `name` and give it its network as the runtime would.
    fn run(&self, name: &str, spec: ContainerCreate) -> (StandIn, network::NetworkSetup) {
        let id = format!("{:0>64}", hex_of(name));
        let c = StandIn::start(&self.root(), &id);
        let info = ContainerNetInfo {
            name,
            hostname: name,
            exposed_ports: &[],
            by_init: false,
        };
        let setup = network::setup(&self.engine, &id, &spec, c.pid(), &info).unwrap();
        (c, setup)
    }

    fn stop(&self, c: &mut StandIn) {
        network::teardown(&self.engine, &c.id).unwrap();
        c.stop();
    }

    fn remove(&self, c: &mut StandIn) {
        self.stop(c);
        network::forget(&self.engine, &c.id).unwrap();
        std::fs::remove_dir_all(self.root().join("containers").join(&c.id)).unwrap();
    }
}

/// A hex string from a name, so stand-in ids look like container ids.
fn hex_of(name: &str) -> String {
    name.bytes().map(|b| format!("{b:02x}")).collect()
}

fn on(network: &str) -> ContainerCreate {
    ContainerCreate {
        network: Some(network.into()),
        ..Default::default()
    }
}

#[test]
fn user_network_names_aliases_and_isolation() {
    let w = World::new();
    w.create("front", None, false);
    w.create("back", None, false);
    let www = web_root(w.tmp.path(), "hello-from-web");

    let (mut web, s_web) = w.run(
        "web",
        ContainerCreate {
            network_aliases: vec!["www".into()],
            ..on("front")
        },
    );
    let (mut client, s_client) = w.run("client", on("front"));
    let (mut other, _) = w.run("other", on("back"));
    let _srv = web.spawn(&format!("busybox httpd -f -p 8000 -h {}", www.display()));

    assert_eq!(s_web.endpoints.len(), 1);
    assert_eq!(s_web.endpoints[0].ifname, "eth0");
    // Same network: by name and by alias, through the hosts file.
    expect_http(|c| client.exec(c), "web", 8000, "hello-from-web");
    expect_http(|c| client.exec(c), "www", 8000, "hello-from-web");
    assert!(s_client.hosts.contains("\tweb www"), "{}", s_client.hosts);
    // The web container learnt of its later peer too (file rewritten in place).
    let hosts = String::from_utf8_lossy(&web.exec("cat /etc/hosts").stdout).into_owned();
    assert!(hosts.contains("\tclient"), "{hosts}");
    // Another network: neither the name nor the address gets through.
    let web_ip = s_web.endpoints[0].ip.to_string();
    assert!(http_get(|c| other.exec(c), "web", 8000).is_none());
    assert!(http_get(|c| other.exec(c), &web_ip, 8000).is_none());

    // Inspect lists the running containers with their addresses.
    let info = w.engine.network_inspect(&w.caller, "front").unwrap();
    assert_eq!(info.containers.len(), 2);
    assert!(info
        .containers
        .values()
        .any(|c| c.name == "web" && c.ipv4_address.starts_with(&web_ip)));
    // In use: refused.
    let err = w.engine.network_remove(&w.caller, "front").unwrap_err();
    assert_eq!(err.kind, ErrorKind::Conflict, "{err}");

    drop(_srv);
    w.remove(&mut web);
    w.remove(&mut client);
    w.remove(&mut other);
    w.engine.network_remove(&w.caller, "front").unwrap();
    w.engine.network_remove(&w.caller, "back").unwrap();
    w._ns.assert_clean();
}

#[test]
fn published_ports_from_loopback_and_outside() {
    let w = World::new();
    let outside = Outside::start(&w.tmp.path().join("outside"));
    let www = web_root(w.tmp.path(), "published");
    let spec = ContainerCreate {
        ports: vec![
            PortBinding {
                host_ip: String::new(),
                host_port: 18080,
                container_port: 8000,
                proto: "tcp".into(),
            },
            PortBinding {
                host_ip: String::new(),
                host_port: 0,
                container_port: 8000,
                proto: "tcp".into(),
            },
        ],
        ..Default::default()
    };
    let (mut web, setup) = w.run("pub", spec);
    let _srv = web.spawn(&format!("busybox httpd -f -p 8000 -h {}", www.display()));
    assert_eq!(setup.mode, "bridge");
    assert_eq!(setup.ports[0].host_port, 18080);
    let eph = setup.ports[1].host_port;
    assert!((49153..=60999).contains(&eph), "ephemeral port {eph}");
    assert_eq!(
        w.engine.container_ports(&w.caller, "pub").unwrap(),
        setup.ports
    );

    // From the host's own loopback, from the host's address, and from another host.
    expect_http(sh, "127.0.0.1", 18080, "published");
    expect_http(sh, "127.0.0.1", eph, "published");
    expect_http(sh, "198.51.100.1", 18080, "published");
    expect_http(|c| outside.ns.exec(c), "198.51.100.1", 18080, "published");
    // The container itself reaches the outside through NAT.
    let _osrv = outside
        .ns
        .spawn(&format!("busybox httpd -f -p 9000 -h {}", www.display()));
    expect_http(|c| web.exec(c), "198.51.100.2", 9000, "published");

    // A second container cannot take the same host port.
    let id2 = format!("{:0>64}", "2");
    let c2 = StandIn::start(&w.root(), &id2);
    let spec2 = ContainerCreate {
        ports: vec![PortBinding {
            host_ip: String::new(),
            host_port: 18080,
            container_port: 80,
            proto: "tcp".into(),
        }],
        ..Default::default()
    };
    let info = ContainerNetInfo {
        name: "dup",
        hostname: "dup",
        exposed_ports: &[],
        by_init: false,
    };
    let err = network::setup(&w.engine, &id2, &spec2, c2.pid(), &info).unwrap_err();
    assert!(err.message.contains("already allocated"), "{err}");
    drop(c2);

    // Stopped: the port no longer answers and the rules are gone.
    drop(_srv);
    w.remove(&mut web);
    assert!(http_get(sh, "127.0.0.1", 18080).is_none());
    drop(_osrv);
    drop(outside);
    w._ns.assert_clean();
}

#[test]
fn internal_network_has_no_way_out() {
    let w = World::new();
    let outside = Outside::start(&w.tmp.path().join("outside"));
    let www = web_root(w.tmp.path(), "outside-web");
    let _osrv = outside
        .ns
        .spawn(&format!("busybox httpd -f -p 9000 -h {}", www.display()));
    w.create("sealed", Some("10.77.0.0/24"), true);
    w.create("open", Some("10.78.0.0/24"), false);

    let (mut inner, s_in) = w.run("inner", on("sealed"));
    let (mut peer, _) = w.run("peer", on("sealed"));
    let (mut free, _) = w.run("free", on("open"));
    assert_eq!(s_in.endpoints[0].ip.to_string(), "10.77.0.2");
    // Positive control: a normal network reaches the outside host.
    expect_http(|c| free.exec(c), "198.51.100.2", 9000, "outside-web");
    // The internal one has no default route and its packets are not forwarded.
    let routes = String::from_utf8_lossy(&inner.exec("ip route").stdout).into_owned();
    assert!(!routes.contains("default"), "{routes}");
    assert!(http_get(|c| inner.exec(c), "198.51.100.2", 9000).is_none());
    let out = inner
        .exec("ip route add default via 10.77.0.1 && busybox nc -w 2 198.51.100.2 9000 </dev/null");
    assert!(
        !out.status.success(),
        "a forced default route must not get out either"
    );
    // Inside the internal network, containers still talk.
    let _srv = peer.spawn(&format!("busybox httpd -f -p 8000 -h {}", www.display()));
    expect_http(|c| inner.exec(c), "peer", 8000, "outside-web");

    drop(_srv);
    w.remove(&mut inner);
    w.remove(&mut peer);
    w.remove(&mut free);
    let report = w.engine.network_prune(&w.caller).unwrap();
    let mut deleted = report.deleted.clone();
    deleted.sort();
    assert_eq!(deleted, vec!["open".to_string(), "sealed".to_string()]);
    drop(_osrv);
    drop(outside);
    w._ns.assert_clean();
}

#[test]
fn connect_and_disconnect_running_containers() {
    let w = World::new();
    w.create("lan", Some("10.79.0.0/24"), false);
    let www = web_root(w.tmp.path(), "on-lan");
    let (mut server, _) = w.run("server", on("lan"));
    let (mut client, s_client) = w.run("client", ContainerCreate::default());
    assert_eq!(s_client.endpoints[0].network, "bridge");
    let _srv = server.spawn(&format!("busybox httpd -f -p 8000 -h {}", www.display()));
    // On the default bridge only: no way to the user network.
    assert!(http_get(|c| client.exec(c), "10.79.0.2", 8000).is_none());

    let opts = NetworkConnect {
        ip: Some("10.79.0.50".into()),
        aliases: vec!["cli".into()],
    };
    w.engine
        .network_connect(&w.caller, "lan", "client", &opts)
        .unwrap();
    let links = String::from_utf8_lossy(&client.exec("ip -o -4 addr").stdout).into_owned();
    assert!(
        links.contains("eth1") && links.contains("10.79.0.50/24"),
        "{links}"
    );
    expect_http(|c| client.exec(c), "server", 8000, "on-lan");
    let hosts = String::from_utf8_lossy(&server.exec("cat /etc/hosts").stdout).into_owned();
    assert!(hosts.contains("10.79.0.50\tclient cli"), "{hosts}");
    assert_eq!(
        network::container_networks(&w.engine, &client.id).unwrap(),
        vec!["bridge", "lan"]
    );
    let err = w
        .engine
        .network_connect(&w.caller, "lan", "client", &NetworkConnect::default())
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Conflict);

    w.engine
        .network_disconnect(&w.caller, "lan", "client")
        .unwrap();
    assert!(
        http_get(|c| client.exec(c), "10.79.0.2", 8000).is_none(),
        "disconnect cuts traffic"
    );
    let links = String::from_utf8_lossy(&client.exec("ip -o link").stdout).into_owned();
    assert!(!links.contains("eth1"), "{links}");
    let hosts = String::from_utf8_lossy(&server.exec("cat /etc/hosts").stdout).into_owned();
    assert!(!hosts.contains("client"), "{hosts}");
    let err = w
        .engine
        .network_disconnect(&w.caller, "lan", "client")
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Conflict);

    // Events: create, connect, disconnect, destroy, in Docker's vocabulary.
    drop(_srv);
    w.remove(&mut server);
    w.remove(&mut client);
    w.engine.network_remove(&w.caller, "lan").unwrap();
    let evs = w.engine.journal().read(None, None).unwrap();
    let lan: Vec<&str> = evs
        .iter()
        .filter(|e| e.actor.attributes.get("name").map(String::as_str) == Some("lan"))
        .map(|e| e.action.as_str())
        .collect();
    for want in ["create", "connect", "disconnect", "destroy"] {
        assert!(lan.contains(&want), "no {want} event in {lan:?}");
    }
    w._ns.assert_clean();
}

#[test]
fn addresses_are_reused_and_survive_restarts() {
    let w = World::new();
    w.create("pool", Some("10.80.0.0/24"), false);
    let (mut a, sa) = w.run("a", on("pool"));
    let (mut b, sb) = w.run("b", on("pool"));
    assert_eq!(sa.endpoints[0].ip.to_string(), "10.80.0.2");
    assert_eq!(sb.endpoints[0].ip.to_string(), "10.80.0.3");
    // Another engine on the same root (a restart) sees the allocations.
    let again = LocalEngine::open(w.root(), EngineOptions::default()).unwrap();
    let info = again.network_inspect(&w.caller, "pool").unwrap();
    assert_eq!(info.containers.len(), 2);
    w.remove(&mut a);
    let (mut c, sc) = w.run("c", on("pool"));
    assert_eq!(
        sc.endpoints[0].ip.to_string(),
        "10.80.0.2",
        "the freed address is handed out again"
    );
    // A static address, and one already taken.
    let (mut d, sd) = w.run(
        "d",
        ContainerCreate {
            ip: Some("10.80.0.100".into()),
            ..on("pool")
        },
    );
    assert_eq!(sd.endpoints[0].ip.to_string(), "10.80.0.100");
    let id = format!("{:0>64}", "e");
    let e = StandIn::start(&w.root(), &id);
    let info = ContainerNetInfo {
        name: "e",
        hostname: "e",
        exposed_ports: &[],
        by_init: false,
    };
    let err = network::setup(
        &w.engine,
        &id,
        &ContainerCreate {
            ip: Some("10.80.0.100".into()),
            ..on("pool")
        },
        e.pid(),
        &info,
    )
    .unwrap_err();
    assert!(err.message.contains("already in use"), "{err}");
    drop(e);
    // A container that dies without a teardown gives its address back too.
    b.stop();
    let (mut f, sf) = w.run("f", on("pool"));
    assert_eq!(sf.endpoints[0].ip.to_string(), "10.80.0.3");

    for s in [&mut b, &mut c, &mut d, &mut f] {
        w.remove(s);
    }
    w.engine.network_remove(&w.caller, "pool").unwrap();
    w._ns.assert_clean();
}

#[test]
fn none_host_and_default_bridge() {
    let w = World::new();
    let nets = w
        .engine
        .network_list(&w.caller, &NetworkListOptions::default())
        .unwrap();
    let names: Vec<&str> = nets.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, vec!["bridge", "host", "none"]);
    let bridge = &nets[0];
    assert_eq!(bridge.options["com.docker.network.bridge.name"], "wharf0");
    assert!(w.engine.network_remove(&w.caller, "bridge").is_err());

    let (mut n, sn) = w.run(
        "lonely",
        ContainerCreate {
            network: Some("none".into()),
            dns: vec!["9.9.9.9".into()],
            ..Default::default()
        },
    );
    assert!(sn.endpoints.is_empty());
    assert!(sn.resolv_conf.starts_with("nameserver 9.9.9.9\n"));
    let links = String::from_utf8_lossy(&n.exec("ip -o link").stdout).into_owned();
    assert_eq!(links.lines().count(), 1, "only lo: {links}");
    assert!(
        links.contains("UP") || links.contains("LOOPBACK,UP"),
        "{links}"
    );

    let (mut d, sd) = w.run(
        "dflt",
        ContainerCreate {
            extra_hosts: vec!["db.local:10.1.2.3".into()],
            ..Default::default()
        },
    );
    let subnet = &bridge.ipam.config[0].subnet;
    let net: ipnet::Ipv4Net = subnet.parse().unwrap();
    assert!(net.contains(&sd.endpoints[0].ip));
    assert_eq!(sd.endpoints[0].gateway, net.hosts().next().unwrap());
    assert!(sd.hosts.contains("10.1.2.3\tdb.local"));
    assert!(sd.hosts.contains(&format!("{}\tdflt", sd.endpoints[0].ip)));
    let routes = String::from_utf8_lossy(&d.exec("ip route").stdout).into_owned();
    assert!(
        routes.contains(&format!("default via {}", sd.endpoints[0].gateway)),
        "{routes}"
    );
    // The gateway answers from inside.
    let out = d.exec(&format!("busybox ping -c1 -W2 {}", sd.endpoints[0].gateway));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // Refused: configuring a process that shares the engine's namespace.
    let id = format!("{:0>64}", "ff");
    std::fs::create_dir_all(w.root().join("containers").join(&id)).unwrap();
    // This thread's id: /proc/<tid>/ns/net is this test's namespace, which the engine shares.
    let me = nix::unistd::gettid().as_raw();
    let info = ContainerNetInfo {
        name: "me",
        hostname: "me",
        exposed_ports: &[],
        by_init: false,
    };
    let err = network::setup(&w.engine, &id, &ContainerCreate::default(), me, &info).unwrap_err();
    assert!(err.message.contains("refusing"), "{err}");

    w.remove(&mut n);
    w.remove(&mut d);
    w._ns.assert_clean();
}
