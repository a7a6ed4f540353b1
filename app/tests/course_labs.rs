//! The labs of a typical Docker course, chapter by chapter (containers; volumes; networks),
//! typed as a student would with the wharf CLI, offline: the demo image (busybox-static)
//! in a fresh state root. Each output is checked the way the course reads it.
//!
//! The network chapter runs in a network namespace this test creates (user networks,
//! names, aliases, published ports between containers); nothing touches the host's
//! network. Reaching a published port from the host itself is the networks test's part.

mod containers_support;
#[path = "../../engine/tests/network_support/mod.rs"]
mod network_support;

use std::path::Path;
use std::time::Duration;

use containers_support::{wait_for, Wharf};

fn code(o: &std::process::Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn err(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

const DEMO_PAGE: &str = "Hello from the wharf demo image";

/// Chapter 4: containers, their life cycle, and images made from them.
#[test]
fn chapter_containers() {
    let w = Wharf::new();
    let dir = w.root().join("lab");
    std::fs::create_dir_all(&dir).unwrap();

    // Hello world, and a container that is kept after it exits.
    assert_eq!(
        w.ok(&[
            "run",
            "--network",
            "none",
            "wharf/demo",
            "echo",
            "hello world"
        ]),
        "hello world\n"
    );
    assert_eq!(w.ok(&["ps", "-a", "-q"]).lines().count(), 1);
    assert_eq!(w.ok(&["ps", "-q"]).lines().count(), 0, "exited: not in ps");

    // A detached web server; ps shows it, with docker's columns.
    let id = w.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "--network",
        "none",
        "wharf/demo",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/www",
    ]);
    assert_eq!(id.trim().len(), 64, "run -d prints the full id: {id}");
    let ps = w.ok(&["ps"]);
    let header = ps.lines().next().unwrap();
    for col in [
        "CONTAINER ID",
        "IMAGE",
        "COMMAND",
        "CREATED",
        "STATUS",
        "PORTS",
        "NAMES",
    ] {
        assert!(header.contains(col), "{col}: {ps}");
    }
    assert!(ps.lines().nth(1).unwrap().ends_with("web"), "{ps}");
    assert!(w
        .ok(&["ps", "--format", "{{.Names}}: {{.Status}}"])
        .starts_with("web: Up"));
    assert_eq!(
        w.ok(&["ps", "--filter", "name=web", "-q"]).trim(),
        &id.trim()[..12]
    );

    // Logs: all, the last line, with timestamps.
    w.ok(&[
        "run",
        "-d",
        "--name",
        "counter",
        "--network",
        "none",
        "wharf/demo",
        "sh",
        "-c",
        "for i in 1 2 3; do echo line $i; done; sleep 100",
    ]);
    wait_for("three lines", Duration::from_secs(10), || {
        w.ok(&["logs", "counter"]) == "line 1\nline 2\nline 3\n"
    });
    assert_eq!(w.ok(&["logs", "--tail", "1", "counter"]), "line 3\n");
    let ts = w.ok(&["logs", "-t", "--tail", "1", "counter"]);
    assert!(
        ts.contains('T') && ts.trim_end().ends_with("line 3"),
        "{ts}"
    );

    // exec: look inside, change a file.
    assert!(w
        .ok(&["exec", "web", "cat", "/www/index.html"])
        .contains(DEMO_PAGE));
    w.ok(&["exec", "web", "sh", "-c", "echo changed > /www/index.html"]);
    assert!(w.ok(&["exec", "web", "ps"]).contains("httpd"));

    // stop, start, restart; the state as inspect -f reads it.
    assert_eq!(w.ok(&["stop", "-t", "1", "web"]), "web\n");
    assert_eq!(
        w.ok(&["inspect", "-f", "{{.State.Status}}", "web"]),
        "exited\n"
    );
    assert!(w
        .ok(&[
            "ps",
            "-a",
            "--filter",
            "name=web",
            "--format",
            "{{.Status}}"
        ])
        .starts_with("Exited"));
    assert_eq!(w.ok(&["start", "web"]), "web\n");
    assert_eq!(
        w.ok(&["inspect", "-f", "{{.State.Running}}", "web"]),
        "true\n"
    );
    assert_eq!(w.ok(&["restart", "-t", "1", "web"]), "web\n");
    assert_eq!(
        w.ok(&[
            "inspect",
            "--format",
            "{{.Name}} {{.Config.Image}} {{.Path}}",
            "web"
        ]),
        "/web wharf/demo httpd\n"
    );
    assert_eq!(
        w.ok(&["inspect", "-f", "{{json .Config.Cmd}}", "web"]),
        "[\"httpd\",\"-f\",\"-p\",\"80\",\"-h\",\"/www\"]\n"
    );
    // The change survived stop and start: it lives in the container's layer.
    assert_eq!(
        w.ok(&["exec", "web", "cat", "/www/index.html"]),
        "changed\n"
    );

    // cp both ways, diff.
    let copy = dir.join("copy.html");
    w.ok(&["cp", "web:/www/index.html", path(&copy)]);
    assert_eq!(std::fs::read_to_string(&copy).unwrap(), "changed\n");
    let note = dir.join("note.txt");
    std::fs::write(&note, "from the host\n").unwrap();
    w.ok(&["cp", path(&note), "web:/tmp/"]);
    assert_eq!(
        w.ok(&["exec", "web", "cat", "/tmp/note.txt"]),
        "from the host\n"
    );
    let diff = w.ok(&["diff", "web"]);
    for line in ["C /www", "C /www/index.html", "A /tmp/note.txt"] {
        assert!(diff.lines().any(|l| l == line), "{line}: {diff}");
    }

    // commit, history, tag, images.
    let img = w.ok(&["commit", "web", "course/web:v1"]);
    assert!(img.starts_with("sha256:"), "{img}");
    let hist = w.ok(&["history", "course/web:v1"]);
    assert!(hist.starts_with("IMAGE"), "{hist}");
    assert!(
        hist.lines().count() >= 3,
        "a layer more than the base: {hist}"
    );
    w.ok(&["tag", "course/web:v1", "course/web:latest"]);
    let images = w.ok(&[
        "images",
        "course/web",
        "--format",
        "{{.Repository}}:{{.Tag}}",
    ]);
    let mut tags: Vec<&str> = images.lines().collect();
    tags.sort();
    assert_eq!(tags, ["course/web:latest", "course/web:v1"]);
    assert_eq!(
        w.ok(&[
            "run",
            "--rm",
            "--network",
            "none",
            "course/web:v1",
            "cat",
            "/www/index.html"
        ]),
        "changed\n"
    );

    // save, rmi, load.
    let saved = dir.join("web.tar");
    w.ok(&["save", "-o", path(&saved), "course/web:v1"]);
    let rmi = w.ok(&["rmi", "course/web:v1", "course/web:latest"]);
    assert!(rmi.contains("Untagged: course/web:v1"), "{rmi}");
    assert!(rmi.contains("Deleted: sha256:"), "{rmi}");
    assert_eq!(
        w.ok(&["load", "-i", path(&saved)]),
        "Loaded image: course/web:v1\n"
    );
    assert_eq!(
        w.ok(&[
            "run",
            "--rm",
            "--network",
            "none",
            "course/web:v1",
            "cat",
            "/www/index.html"
        ]),
        "changed\n"
    );

    // export a container's file system, import it as a one-layer image.
    let fs = dir.join("fs.tar");
    w.ok(&["export", "-o", path(&fs), "web"]);
    let flat = w.ok(&["import", path(&fs), "course/flat:1"]);
    assert!(flat.starts_with("sha256:"), "{flat}");
    assert_eq!(
        w.ok(&[
            "run",
            "--rm",
            "--network",
            "none",
            "course/flat:1",
            "cat",
            "/tmp/note.txt"
        ]),
        "from the host\n"
    );
    assert_eq!(w.ok(&["history", "-q", "course/flat:1"]).lines().count(), 1);

    // top, stats, pause/unpause, rename, wait, rm.
    assert!(w.ok(&["top", "web"]).contains("httpd"));
    let stats = w.ok(&["stats", "--no-stream", "--format", "{{.Name}}"]);
    assert!(stats.lines().any(|l| l == "web"), "{stats}");
    w.ok(&["pause", "web"]);
    assert_eq!(
        w.ok(&["inspect", "-f", "{{.State.Status}}", "web"]),
        "paused\n"
    );
    w.ok(&["unpause", "web"]);
    w.ok(&["rename", "web", "site"]);
    assert_eq!(
        w.ok(&["ps", "--filter", "name=site", "--format", "{{.Names}}"]),
        "site\n"
    );
    w.ok(&[
        "run",
        "-d",
        "--name",
        "three",
        "--network",
        "none",
        "wharf/demo",
        "sh",
        "-c",
        "sleep 1; exit 3",
    ]);
    assert_eq!(w.ok(&["wait", "three"]), "3\n");
    let o = w.run(&["rm", "site"]);
    assert_ne!(code(&o), 0, "a running container is not removed without -f");
    assert!(err(&o).contains("site"), "{}", err(&o));
    w.ok(&["rm", "-f", "site", "counter", "three"]);
    let pruned = w.ok(&["container", "prune", "-f"]);
    assert!(pruned.contains("Total reclaimed space"), "{pruned}");
    assert_eq!(w.ok(&["ps", "-aq"]), "");
}

/// Chapter 5: named and anonymous volumes, bind mounts, tmpfs.
#[test]
fn chapter_volumes() {
    let w = Wharf::new();
    let run = |args: &[&str]| {
        let mut a = vec!["run", "--rm", "--network", "none"];
        a.extend_from_slice(args);
        w.ok(&a)
    };
    // A named volume over image content is filled from the image.
    assert_eq!(w.ok(&["volume", "create", "site"]), "site\n");
    assert_eq!(w.ok(&["volume", "ls", "-q"]), "site\n");
    assert!(run(&["-v", "site:/www", "wharf/demo", "cat", "/www/index.html"]).contains(DEMO_PAGE));
    let mp = w.ok(&["volume", "inspect", "-f", "{{.Mountpoint}}", "site"]);
    assert!(Path::new(mp.trim()).join("index.html").exists(), "{mp}");
    // Data outlives the container that wrote it.
    run(&[
        "-v",
        "site:/www",
        "wharf/demo",
        "sh",
        "-c",
        "echo kept > /www/kept.txt",
    ]);
    assert_eq!(
        run(&["-v", "site:/www", "wharf/demo", "cat", "/www/kept.txt"]),
        "kept\n"
    );
    // --mount says the same.
    assert_eq!(
        run(&[
            "--mount",
            "type=volume,source=site,target=/data",
            "wharf/demo",
            "cat",
            "/data/kept.txt"
        ]),
        "kept\n"
    );
    // In use: refused; free once the container is gone.
    w.ok(&[
        "run",
        "-d",
        "--name",
        "user",
        "--network",
        "none",
        "-v",
        "site:/www",
        "wharf/demo",
        "sleep",
        "100",
    ]);
    let o = w.run(&["volume", "rm", "site"]);
    assert_ne!(code(&o), 0);
    assert!(err(&o).contains("site"), "{}", err(&o));
    // --volumes-from shares them.
    assert_eq!(
        run(&[
            "--volumes-from",
            "user",
            "wharf/demo",
            "cat",
            "/www/kept.txt"
        ]),
        "kept\n"
    );
    w.ok(&["rm", "-f", "user"]);
    assert_eq!(w.ok(&["volume", "rm", "site"]), "site\n");

    // Anonymous volumes: listed, removed with rm -v.
    w.ok(&[
        "run",
        "-d",
        "--name",
        "anon",
        "--network",
        "none",
        "-v",
        "/data",
        "wharf/demo",
        "sleep",
        "100",
    ]);
    assert_eq!(
        w.ok(&[
            "inspect",
            "-f",
            "{{range .Mounts}}{{.Type}} {{.Destination}}{{end}}",
            "anon"
        ]),
        "volume /data\n"
    );
    assert_eq!(w.ok(&["volume", "ls", "-q"]).lines().count(), 1);
    w.ok(&["rm", "-f", "-v", "anon"]);
    assert_eq!(w.ok(&["volume", "ls", "-q"]), "");

    // Bind mounts: read-write, read-only.
    let host = w.root().join("hostdir");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("f"), "on the host\n").unwrap();
    let bind = format!("{}:/mnt", path(&host));
    assert_eq!(
        run(&["-v", &bind, "wharf/demo", "cat", "/mnt/f"]),
        "on the host\n"
    );
    run(&["-v", &bind, "wharf/demo", "sh", "-c", "echo back > /mnt/g"]);
    assert_eq!(std::fs::read_to_string(host.join("g")).unwrap(), "back\n");
    let ro = format!("{bind}:ro");
    let o = w.run(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        &ro,
        "wharf/demo",
        "touch",
        "/mnt/h",
    ]);
    assert_ne!(code(&o), 0, "a read-only bind refuses writes");
    assert!(err(&o).contains("Read-only file system"), "{}", err(&o));
    let m = format!("type=bind,source={},target=/mnt,readonly", path(&host));
    assert_eq!(
        run(&["--mount", &m, "wharf/demo", "cat", "/mnt/g"]),
        "back\n"
    );

    // tmpfs.
    let mounts = run(&[
        "--tmpfs",
        "/scratch",
        "wharf/demo",
        "grep",
        " /scratch ",
        "/proc/mounts",
    ]);
    assert!(mounts.starts_with("tmpfs /scratch tmpfs"), "{mounts}");

    // prune.
    w.ok(&["volume", "create", "spare"]);
    let p = w.ok(&["volume", "prune", "-a", "-f"]);
    assert!(p.contains("spare"), "{p}");
}

/// Chapter 8: networks. `--network none`; user networks with names and aliases,
/// connect and disconnect, published ports, /etc/hosts and DNS settings: all inside a
/// network namespace of this test.
#[test]
fn chapter_networks() {
    let w = Wharf::new();
    // --network none: only the loopback.
    let links = w.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "wharf/demo",
        "ip",
        "-o",
        "link",
    ]);
    assert_eq!(links.lines().count(), 1, "{links}");
    assert!(links.contains(": lo:"), "{links}");

    let ns = network_support::TestNetns::enter();
    let nets = w.ok(&["network", "ls", "--format", "{{.Name}}"]);
    for n in ["bridge", "host", "none"] {
        assert!(nets.lines().any(|l| l == n), "{n}: {nets}");
    }
    w.ok(&["network", "create", "labnet"]);
    assert_eq!(
        w.ok(&["network", "inspect", "-f", "{{.Driver}}", "labnet"]),
        "bridge\n"
    );
    w.ok(&[
        "run",
        "-d",
        "--name",
        "srv",
        "--network",
        "labnet",
        "--network-alias",
        "api",
        "wharf/demo",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/www",
    ]);
    // Containers of one network find each other by name and alias.
    // (busybox-static's wget crashes in this build; nc speaks HTTP as well.)
    let get = |host: &str| format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 {host} 80");
    let fetch = |host: &str| {
        w.run(&[
            "run",
            "--rm",
            "--network",
            "labnet",
            "wharf/demo",
            "sh",
            "-c",
            &get(host),
        ])
    };
    wait_for("srv to answer", Duration::from_secs(10), || {
        String::from_utf8_lossy(&fetch("srv").stdout).contains(DEMO_PAGE)
    });
    assert!(String::from_utf8_lossy(&fetch("api").stdout).contains(DEMO_PAGE));
    let ip = w.ok(&[
        "inspect",
        "-f",
        "{{range $n, $c := .NetworkSettings.Networks}}{{$n}}={{$c.IPAddress}}{{end}}",
        "srv",
    ]);
    assert!(
        ip.starts_with("labnet=") && ip.trim().len() > "labnet=".len(),
        "{ip}"
    );
    assert_eq!(
        w.ok(&[
            "network",
            "inspect",
            "-f",
            "{{range .Containers}}{{.Name}}{{end}}",
            "labnet"
        ]),
        "srv\n"
    );
    // Not on the network: no name.
    let o = w.run(&[
        "run",
        "--rm",
        "--network",
        "none",
        "wharf/demo",
        "sh",
        "-c",
        &get("srv"),
    ]);
    assert_ne!(code(&o), 0);
    // connect and disconnect a running container.
    w.ok(&[
        "run",
        "-d",
        "--name",
        "client",
        "wharf/demo",
        "sleep",
        "100",
    ]);
    w.ok(&["network", "connect", "labnet", "client"]);
    assert!(w
        .ok(&["exec", "client", "sh", "-c", &get("srv")])
        .contains(DEMO_PAGE));
    w.ok(&["network", "disconnect", "labnet", "client"]);
    let o = w.run(&["exec", "client", "sh", "-c", &get("srv")]);
    assert_ne!(code(&o), 0, "disconnected: srv is out of reach");

    // Published ports: port lists them.
    w.ok(&[
        "run",
        "-d",
        "--name",
        "pub",
        "-p",
        "8080:80",
        "wharf/demo",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/www",
    ]);
    assert_eq!(w.ok(&["port", "pub"]), "80/tcp -> 0.0.0.0:8080\n");
    assert_eq!(w.ok(&["port", "pub", "80"]), "0.0.0.0:8080\n");
    assert!(w
        .ok(&["ps", "--filter", "name=pub", "--format", "{{.Ports}}"])
        .contains("0.0.0.0:8080->80/tcp"));

    // /etc/hosts and DNS servers.
    let hosts = w.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--add-host",
        "db:10.1.2.3",
        "wharf/demo",
        "cat",
        "/etc/hosts",
    ]);
    assert!(
        hosts
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["10.1.2.3", "db"]),
        "{hosts}"
    );
    let resolv = w.ok(&[
        "run",
        "--rm",
        "--network",
        "labnet",
        "--dns",
        "1.1.1.1",
        "wharf/demo",
        "cat",
        "/etc/resolv.conf",
    ]);
    assert!(resolv.contains("nameserver 1.1.1.1"), "{resolv}");

    w.ok(&["rm", "-f", "srv", "client", "pub"]);
    let o = w.run(&["network", "rm", "labnet"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    drop(w);
    ns.assert_clean();
}
