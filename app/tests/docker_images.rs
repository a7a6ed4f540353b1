//! The Docker Engine API of `wharf serve` for images, networks and volumes, driven by
//! the real docker CLI (`DOCKER_HOST=unix://...`) and by docker-py, against a real
//! server on a fresh state root. Registries are `docker-registry` processes on
//! 127.0.0.1. Networks are created, connected (to containers that never start),
//! inspected and removed: nothing here changes the host's network.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;

/// A `wharf serve` on its own root and socket, with the demo image; its containers are
/// removed and the server stopped (by pid) when dropped.
struct Server {
    dir: tempfile::TempDir,
    child: Child,
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::Builder::new()
            .prefix("wdimg")
            .tempdir_in("/tmp")
            .unwrap();
        std::fs::create_dir(dir.path().join("cfg")).unwrap();
        let root = dir.path().join("root");
        let o = Command::new(exe())
            .arg("--root")
            .arg(&root)
            .args(["image", "demo"])
            .output()
            .unwrap();
        assert!(o.status.success(), "image demo: {}", text(&o));
        let log = std::fs::File::create(dir.path().join("serve.log")).unwrap();
        let child = Command::new(exe())
            .arg("--root")
            .arg(&root)
            .args(["serve", "--socket"])
            .arg(dir.path().join("w.sock"))
            .env_remove("WHARF_INSECURE_REGISTRIES")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let s = Server { dir, child };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !s.socket().exists() {
            assert!(
                Instant::now() < deadline,
                "the server did not create its socket"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        s
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("w.sock")
    }

    /// The docker CLI's config directory (`DOCKER_CONFIG`).
    fn config(&self) -> PathBuf {
        self.dir.path().join("cfg")
    }

    fn host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    /// `wharf --root ROOT args...` on the server's root.
    fn wharf(&self, args: &[&str]) -> Output {
        Command::new(exe())
            .arg("--root")
            .arg(self.root())
            .args(args)
            .env_remove("WHARF_HOST")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn docker_cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("docker");
        c.args(args)
            .env("DOCKER_HOST", self.host())
            .env("DOCKER_CONFIG", self.config())
            .env("DOCKER_CLI_HINTS", "false")
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_API_VERSION");
        c
    }

    /// `docker args...` against the server.
    fn docker(&self, args: &[&str]) -> Output {
        self.docker_cmd(args).stdin(Stdio::null()).output().unwrap()
    }

    /// `docker args...` with `input` on its standard input.
    fn docker_with(&self, args: &[&str], input: &[u8]) -> Output {
        let mut child = self
            .docker_cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        child.wait_with_output().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let ids = self.wharf(&["ps", "-aq", "--no-trunc"]);
        for id in String::from_utf8_lossy(&ids.stdout).split_whitespace() {
            let _ = self.wharf(&["rm", "-f", id]);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn exe() -> &'static str {
    env!("CARGO_BIN_EXE_wharf")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn ok(o: Output, what: &str) -> String {
    assert!(o.status.success(), "{what} failed: {}", text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn fails(o: Output, what: &str, needle: &str) -> String {
    assert!(!o.status.success(), "{what} should fail: {}", text(&o));
    let t = text(&o);
    assert!(t.contains(needle), "{what}: expected {needle:?} in: {t}");
    t
}

/// Can this machine run the tests (root, the docker CLI)?
fn usable() -> bool {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root");
        return false;
    }
    if Command::new("docker").arg("--version").output().is_err() {
        eprintln!("skipped: the docker CLI is not installed");
        return false;
    }
    true
}

/// A `docker-registry` on 127.0.0.1 (with htpasswd auth when `user` is given), stopped
/// (by pid) when dropped.
struct Registry {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Registry {
    fn start(user: Option<(&str, &str)>) -> Registry {
        for _ in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let auth = match user {
                None => String::new(),
                Some((u, p)) => {
                    let hash = bcrypt::hash_with_result(p, 5)
                        .unwrap()
                        .format_for_version(bcrypt::Version::TwoA);
                    let path = dir.path().join("htpasswd");
                    std::fs::write(&path, format!("{u}:{hash}\n")).unwrap();
                    format!(
                        "auth:\n  htpasswd:\n    realm: wharf-test\n    path: {}\n",
                        path.display()
                    )
                }
            };
            let cfg = dir.path().join("config.yml");
            std::fs::write(
                &cfg,
                format!(
                    "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: wharf-docker-test\n{auth}",
                    dir.path().join("storage").display()
                ),
            )
            .unwrap();
            let mut child = Command::new("/usr/bin/docker-registry")
                .arg("serve")
                .arg(&cfg)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("docker-registry must be installed");
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if child.try_wait().ok().flatten().is_some() {
                    break;
                }
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Registry {
                        child,
                        port,
                        _dir: dir,
                    };
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("docker-registry did not start");
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A root file system tar: busybox as /bin/sh and /bin/busybox.
fn rootfs_tar(path: &Path) {
    let mut b = tar::Builder::new(std::fs::File::create(path).unwrap());
    let bin = std::fs::read("/bin/busybox").unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_mode(0o755);
    h.set_size(0);
    b.append_data(&mut h, "bin", &[][..]).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o755);
    h.set_size(bin.len() as u64);
    b.append_data(&mut h, "bin/busybox", &bin[..]).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    b.append_link(&mut h, "bin/sh", "busybox").unwrap();
    b.finish().unwrap();
}

fn lines(s: &str) -> Vec<String> {
    s.lines().map(str::to_string).collect()
}

#[test]
fn images_with_the_docker_cli() {
    if !usable() {
        return;
    }
    let s = Server::start();
    let id = ok(s.wharf(&["images", "-q", "--no-trunc"]), "wharf images")
        .trim()
        .to_string();
    assert!(id.starts_with("sha256:"), "{id}");
    let short = &id[7..19];

    // List: table, --format, -q, filters.
    let out = ok(s.docker(&["images"]), "docker images");
    assert!(
        out.lines()
            .any(|l| l.starts_with("wharf/demo") && l.contains("latest") && l.contains(short)),
        "{out}"
    );
    assert_eq!(
        ok(
            s.docker(&["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"]),
            "images --format"
        )
        .trim(),
        format!("wharf/demo:latest {short}")
    );
    assert_eq!(ok(s.docker(&["images", "-q"]), "images -q").trim(), short);
    assert_eq!(
        ok(
            s.docker(&["images", "-q", "--filter", "dangling=true"]),
            "dangling"
        )
        .trim(),
        ""
    );
    fails(
        s.docker(&["images", "--filter", "bogus=1"]),
        "unknown filter",
        "invalid filter 'bogus'",
    );

    // Inspect and history, by name and by id.
    let out = ok(
        s.docker(&[
            "image",
            "inspect",
            "--format",
            "{{.Id}} {{index .RepoTags 0}} {{.Os}} {{len .RootFS.Layers}} {{index .Config.Cmd 0}}",
            "wharf/demo",
        ]),
        "image inspect",
    );
    assert_eq!(
        out.trim(),
        format!("{id} wharf/demo:latest linux 1 sh"),
        "{out}"
    );
    let out = ok(
        s.docker(&["image", "inspect", "--format", "{{.Size}}", &id]),
        "inspect by id",
    );
    assert!(out.trim().parse::<u64>().unwrap() > 500_000, "{out}");
    let out = ok(
        s.docker(&[
            "history",
            "--no-trunc",
            "--format",
            "{{.ID}}|{{.Comment}}",
            "wharf/demo",
        ]),
        "history",
    );
    assert_eq!(
        lines(&out),
        vec![format!(
            "{id}|wharf demo image from the host's busybox-static"
        )]
    );
    fails(
        s.docker(&["image", "inspect", "nosuch:1"]),
        "inspect missing",
        "No such image: nosuch:1",
    );
    fails(
        s.docker(&["rmi", "nosuch:1"]),
        "rmi missing",
        "No such image: nosuch:1",
    );
    fails(
        s.docker(&["tag", "nosuch:1", "x:1"]),
        "tag missing",
        "No such image: nosuch:1",
    );

    // Tag: names with a registry port and slashes travel in the path.
    ok(
        s.docker(&["tag", "wharf/demo", "localhost:5000/team/app:v1"]),
        "tag",
    );
    assert_eq!(
        ok(
            s.docker(&[
                "image",
                "inspect",
                "--format",
                "{{.Id}}",
                "localhost:5000/team/app:v1"
            ]),
            "inspect by the new tag"
        )
        .trim(),
        id
    );
    assert_eq!(
        ok(
            s.docker(&[
                "images",
                "--filter",
                "reference=localhost:5000/*/*",
                "--format",
                "{{.Repository}}:{{.Tag}}"
            ]),
            "reference filter"
        )
        .trim(),
        "localhost:5000/team/app:v1"
    );

    // Save both names, remove them, load them back: the same id under both names.
    let tar = s.dir.path().join("saved.tar");
    ok(
        s.docker(&[
            "save",
            "-o",
            tar.to_str().unwrap(),
            "wharf/demo",
            "localhost:5000/team/app:v1",
        ]),
        "save",
    );
    let names: Vec<String> = tar::Archive::new(std::fs::File::open(&tar).unwrap())
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    assert!(names.iter().any(|n| n == "manifest.json"), "{names:?}");
    let out = ok(
        s.docker(&["rmi", "wharf/demo", "localhost:5000/team/app:v1"]),
        "rmi both",
    );
    assert!(out.contains("Untagged: wharf/demo:latest"), "{out}");
    assert!(out.contains(&format!("Deleted: {id}")), "{out}");
    assert_eq!(ok(s.docker(&["images", "-q"]), "images").trim(), "");
    let out = ok(s.docker(&["load", "-i", tar.to_str().unwrap()]), "load");
    assert!(out.contains("Loaded image: wharf/demo:latest"), "{out}");
    assert!(
        out.contains("Loaded image: localhost:5000/team/app:v1"),
        "{out}"
    );
    assert_eq!(
        ok(
            s.docker(&["image", "inspect", "--format", "{{.Id}}", "wharf/demo"]),
            "inspect loaded"
        )
        .trim(),
        id
    );
    // docker save to stdout streams the same archive.
    let o = s.docker(&["save", "wharf/demo"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(o.stdout.len() > 500_000);
    fails(
        s.docker(&["save", "-o", tar.to_str().unwrap(), "nosuch:1"]),
        "save missing",
        "No such image: nosuch:1",
    );
    // A broken archive is refused with a message, not a hang.
    fails(
        s.docker_with(&["load"], b"this is not a tar"),
        "load garbage",
        "Error",
    );

    // Import a root file system tar with changes and a message.
    let rootfs = s.dir.path().join("rootfs.tar");
    rootfs_tar(&rootfs);
    let out = ok(
        s.docker(&[
            "import",
            "-c",
            r#"CMD ["/bin/sh"]"#,
            "-c",
            "ENV A=b",
            "-m",
            "imported here",
            rootfs.to_str().unwrap(),
            "imp:1",
        ]),
        "import",
    );
    let imp = out.trim().to_string();
    assert!(imp.starts_with("sha256:"), "{out}");
    let out = ok(
        s.docker(&[
            "image",
            "inspect",
            "--format",
            "{{.Id}} {{json .Config.Cmd}} {{json .Config.Env}} {{.Comment}}",
            "imp:1",
        ]),
        "inspect import",
    );
    assert_eq!(
        out.trim(),
        format!(r#"{imp} ["/bin/sh"] ["A=b"] imported here"#)
    );
    // An untagged import is dangling; prune removes it and keeps the rest.
    let dangling = ok(
        s.docker_with(
            &["import", "-", "--message", "untagged"],
            &std::fs::read(&rootfs).unwrap(),
        ),
        "import from stdin",
    )
    .trim()
    .to_string();
    assert_ne!(dangling, imp, "the message makes another config");
    let out = ok(
        s.docker(&["images", "-q", "--no-trunc", "--filter", "dangling=true"]),
        "dangling",
    );
    assert_eq!(out.trim(), dangling);
    let out = ok(s.docker(&["image", "prune", "-f"]), "image prune");
    assert!(out.contains(&format!("deleted: {dangling}")), "{out}");
    assert_eq!(
        ok(
            s.docker(&["images", "-q", "--filter", "dangling=true"]),
            "dangling after prune"
        )
        .trim(),
        ""
    );
    let mut left = lines(&ok(
        s.docker(&["images", "--format", "{{.Repository}}:{{.Tag}}"]),
        "images after prune",
    ));
    left.sort();
    assert_eq!(
        left,
        vec!["imp:1", "localhost:5000/team/app:v1", "wharf/demo:latest"],
        "tagged images stay"
    );
    // since/before compare creation times: the demo image is older than the import.
    assert_eq!(
        ok(
            s.docker(&[
                "images",
                "--filter",
                "since=wharf/demo",
                "--format",
                "{{.Repository}}"
            ]),
            "since"
        )
        .trim(),
        "imp"
    );
    let mut before = lines(&ok(
        s.docker(&[
            "images",
            "--filter",
            "before=imp:1",
            "--format",
            "{{.Repository}}",
        ]),
        "before",
    ));
    before.sort();
    assert_eq!(before, vec!["localhost:5000/team/app", "wharf/demo"]);
    ok(s.docker(&["rmi", "imp:1"]), "rmi imp");

    // Not here: search, builds.
    fails(
        s.docker(&["search", "busybox"]),
        "search",
        "searching Docker Hub is not available on wharf",
    );
    let out = ok(s.docker(&["builder", "prune", "-f"]), "builder prune");
    assert!(out.contains("Total"), "{out}");
}

#[test]
fn rmi_in_use_commit_networks_and_volumes_with_the_docker_cli() {
    if !usable() {
        return;
    }
    let s = Server::start();
    let id = ok(s.wharf(&["images", "-q", "--no-trunc"]), "wharf images")
        .trim()
        .to_string();
    // Containers made on the same root are the server's too (they never start).
    let c1 = ok(
        s.wharf(&[
            "create",
            "--name",
            "c1",
            "--network",
            "none",
            "-v",
            "vol1:/data",
            "wharf/demo",
        ]),
        "create c1",
    )
    .trim()
    .to_string();
    let c2 = ok(
        s.wharf(&["create", "--name", "c2", "wharf/demo"]),
        "create c2",
    )
    .trim()
    .to_string();

    // rmi while containers use the image: dockerd's conflicts.
    let t = fails(
        s.docker(&["rmi", "wharf/demo"]),
        "rmi in use",
        "(must force)",
    );
    assert!(
        t.contains("conflict: unable to remove repository reference \"wharf/demo\""),
        "{t}"
    );
    for by in [&id[7..19], id.as_str()] {
        let t = fails(s.docker(&["rmi", by]), "rmi by id in use", "");
        assert!(
            t.contains(&format!(
                "conflict: unable to delete {} (must be forced) - image is being used by stopped container",
                &id[7..19]
            )),
            "{t}"
        );
    }

    // Commit a created container, with changes, author and message.
    let out = ok(
        s.docker(&[
            "commit",
            "-c",
            "ENV COMMITTED=yes",
            "-c",
            "LABEL stage=test",
            "-a",
            "tester",
            "-m",
            "a message",
            "c1",
            "committed:1",
        ]),
        "commit",
    );
    let cid = out.trim().to_string();
    assert!(cid.starts_with("sha256:"), "{out}");
    let out = ok(
        s.docker(&[
            "image",
            "inspect",
            "--format",
            "{{.Id}}|{{json .Config.Env}}|{{.Config.Labels.stage}}|{{.Author}}|{{.Comment}}",
            "committed:1",
        ]),
        "inspect committed",
    );
    let f: Vec<&str> = out.trim().split('|').collect();
    assert_eq!(f[0], cid);
    assert!(f[1].contains("COMMITTED=yes"), "{out}");
    assert_eq!(&f[2..], &["test", "tester", "a message"], "{out}");
    fails(
        s.docker(&["commit", "nosuch", "x:1"]),
        "commit missing",
        "nosuch",
    );
    ok(s.docker(&["rmi", "committed:1"]), "rmi committed");

    // Volumes.
    let t = fails(s.docker(&["volume", "rm", "vol1"]), "volume in use", "");
    assert!(
        t.contains(&format!("remove vol1: volume is in use - [{c1}]")),
        "{t}"
    );
    assert_eq!(
        ok(
            s.docker(&["volume", "create", "--label", "k=v", "v1"]),
            "volume create"
        )
        .trim(),
        "v1"
    );
    let anon = ok(s.docker(&["volume", "create"]), "volume create unnamed")
        .trim()
        .to_string();
    assert_eq!(anon.len(), 64, "{anon}");
    assert_eq!(
        ok(
            s.docker(&["volume", "ls", "-q", "--filter", "label=k=v"]),
            "volume ls label"
        )
        .trim(),
        "v1"
    );
    let all = ok(s.docker(&["volume", "ls", "-q"]), "volume ls");
    for v in ["v1", "vol1", anon.as_str()] {
        assert!(all.lines().any(|l| l == v), "{v} in {all}");
    }
    assert_eq!(
        ok(
            s.docker(&[
                "volume",
                "inspect",
                "--format",
                "{{.Driver}} {{.Labels.k}} {{.Scope}}",
                "v1"
            ]),
            "volume inspect"
        )
        .trim(),
        "local v local"
    );
    fails(
        s.docker(&["volume", "create", "-d", "nfs", "v2"]),
        "driver",
        "volume driver \"nfs\" is not supported",
    );
    fails(
        s.docker(&["volume", "create", "-o", "type=tmpfs", "v3"]),
        "driver opts",
        "DriverOpts",
    );
    // Plain prune: only anonymous volumes (none here); -a: every unused one.
    let out = ok(s.docker(&["volume", "prune", "-f"]), "volume prune");
    assert!(!out.contains("v1"), "{out}");
    let out = ok(s.docker(&["volume", "prune", "-af"]), "volume prune -a");
    assert!(out.contains("v1") && out.contains(&anon), "{out}");
    assert_eq!(
        ok(s.docker(&["volume", "ls", "-q"]), "volume ls").trim(),
        "vol1",
        "the one in use stays"
    );
    fails(
        s.docker(&["volume", "rm", "nosuch"]),
        "rm missing volume",
        "not found",
    );

    // Networks: records only (c2 never starts, so no bridge appears on the host).
    let nid = ok(
        s.docker(&[
            "network",
            "create",
            "--label",
            "a=b",
            "--subnet",
            "10.213.7.0/24",
            "--internal",
            "n1",
        ]),
        "network create",
    )
    .trim()
    .to_string();
    assert_eq!(nid.len(), 64, "{nid}");
    fails(
        s.docker(&["network", "create", "n1"]),
        "duplicate",
        "network with name n1 already exists",
    );
    fails(
        s.docker(&["network", "create", "-d", "overlay", "o1"]),
        "overlay",
        "network driver \"overlay\" is not supported",
    );
    fails(
        s.docker(&["network", "create", "--ipv6", "v6"]),
        "ipv6",
        "EnableIPv6",
    );
    fails(
        s.docker(&[
            "network",
            "create",
            "-o",
            "com.docker.network.bridge.name=br9",
            "o2",
        ]),
        "bridge name",
        "network option com.docker.network.bridge.name=br9 is not supported",
    );
    let out = ok(
        s.docker(&["network", "ls", "--format", "{{.Name}} {{.Driver}}"]),
        "network ls",
    );
    for want in ["bridge bridge", "host host", "none null", "n1 bridge"] {
        assert!(out.lines().any(|l| l == want), "{want} in {out}");
    }
    assert_eq!(
        ok(
            s.docker(&["network", "ls", "-q", "--no-trunc", "--filter", "label=a=b"]),
            "network ls label"
        )
        .trim(),
        nid
    );
    assert_eq!(
        ok(
            s.docker(&[
                "network",
                "inspect",
                "--format",
                "{{.Internal}} {{(index .IPAM.Config 0).Subnet}} {{.Labels.a}} {{.Scope}}",
                "n1"
            ]),
            "network inspect"
        )
        .trim(),
        "true 10.213.7.0/24 b local"
    );
    let raw = ok(s.docker(&["network", "inspect", "n1"]), "network inspect");
    assert!(!raw.contains("\"Owner\""), "{raw}");
    ok(
        s.docker(&[
            "network",
            "connect",
            "--alias",
            "web",
            "--ip",
            "10.213.7.9",
            "n1",
            "c2",
        ]),
        "connect",
    );
    fails(
        s.docker(&["network", "connect", "n1", "c2"]),
        "connect twice",
        "already connected",
    );
    fails(
        s.docker(&["network", "connect", "--link", "c1:x", "n1", "c2"]),
        "links",
        "Links",
    );
    fails(s.docker(&["network", "rm", "n1"]), "rm in use", "in use");
    ok(
        s.docker(&["network", "disconnect", "n1", "c2"]),
        "disconnect",
    );
    fails(
        s.docker(&["network", "disconnect", "n1", "c2"]),
        "disconnect twice",
        "not connected",
    );
    let links = Command::new("ip").args(["-o", "link"]).output().unwrap();
    assert!(
        !String::from_utf8_lossy(&links.stdout).contains(&format!("wh-{}", &nid[..12])),
        "no bridge appears for a network no running container uses"
    );
    ok(s.docker(&["network", "rm", "n1"]), "network rm");
    fails(
        s.docker(&["network", "rm", "bridge"]),
        "rm bridge",
        "pre-defined",
    );
    ok(s.docker(&["network", "create", "n2"]), "create n2");
    ok(s.docker(&["network", "create", "n3"]), "create n3");
    let out = ok(s.docker(&["network", "prune", "-f"]), "network prune");
    assert!(
        out.lines().any(|l| l == "n2") && out.lines().any(|l| l == "n3"),
        "{out}"
    );
    let out = ok(s.docker(&["network", "ls", "--format", "{{.Name}}"]), "ls");
    assert_eq!(lines(&out), vec!["bridge", "host", "none"]);

    // system df reads the same shapes.
    let out = ok(s.docker(&["system", "df"]), "system df");
    assert!(
        out.contains("Images") && out.contains("Local Volumes"),
        "{out}"
    );

    // With the containers gone, the image and the volume go.
    ok(s.wharf(&["rm", &c1, &c2]), "wharf rm");
    ok(s.docker(&["volume", "rm", "vol1"]), "volume rm");
    let out = ok(s.docker(&["rmi", "wharf/demo"]), "rmi");
    assert!(out.contains(&format!("Deleted: {id}")), "{out}");
}

#[test]
fn pull_push_and_login_with_the_docker_cli() {
    if !usable() {
        return;
    }
    let (user, password) = ("tester", "s3cret-pw");
    let reg = Registry::start(Some((user, password)));
    let s = Server::start();
    let target = format!("{}/t/demo:1", reg.host());
    ok(s.docker(&["tag", "wharf/demo", &target]), "tag");

    // No credentials: the registry says no, and the CLI says why.
    let t = fails(s.docker(&["push", &target]), "push without login", "");
    assert!(
        t.to_lowercase().contains("unauthorized") || t.contains("authentication"),
        "{t}"
    );

    // Credentials in the CLI's config travel in X-Registry-Auth, for that call only.
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    std::fs::write(
        s.config().join("config.json"),
        format!(
            r#"{{"auths": {{"{}": {{"auth": "{basic}"}}}}}}"#,
            reg.host()
        ),
    )
    .unwrap();
    let out = ok(s.docker(&["push", &target]), "push");
    assert!(
        out.contains(&format!(
            "The push refers to repository [{}/t/demo]",
            reg.host()
        )),
        "{out}"
    );
    assert!(out.contains("1: digest: sha256:"), "{out}");
    assert!(
        !s.root().join("auth").join("0.json").exists(),
        "X-Registry-Auth credentials are not stored"
    );
    ok(s.docker(&["rmi", &target]), "rmi pushed");
    let out = ok(s.docker(&["pull", &target]), "pull");
    assert!(
        out.contains(&format!("Status: Downloaded newer image for {target}"))
            || out.contains(&format!("Status: Image is up to date for {target}")),
        "{out}"
    );
    assert!(out.contains("Digest: sha256:"), "{out}");
    let digests = ok(
        s.docker(&[
            "images",
            "--digests",
            "--format",
            "{{.Repository}} {{.Digest}}",
        ]),
        "images --digests",
    );
    assert!(
        digests
            .lines()
            .any(|l| l.starts_with(&format!("{}/t/demo sha256:", reg.host()))),
        "{digests}"
    );
    // A wrong password in the header is refused, not replaced by anything stored.
    let bad = base64::engine::general_purpose::STANDARD.encode(format!("{user}:wrong"));
    std::fs::write(
        s.config().join("config.json"),
        format!(r#"{{"auths": {{"{}": {{"auth": "{bad}"}}}}}}"#, reg.host()),
    )
    .unwrap();
    ok(s.docker(&["rmi", &target]), "rmi pulled");
    fails(
        s.docker(&["pull", &target]),
        "pull with a wrong password",
        "",
    );
    // A missing image is the registry's not-found, with dockerd's status.
    std::fs::remove_file(s.config().join("config.json")).unwrap();

    // docker login checks the credentials on the server (POST /auth) and keeps them there
    // for this user, so a client without its own copy can pull.
    fails(
        s.docker_with(
            &["login", &reg.host(), "-u", user, "--password-stdin"],
            b"wrong\n",
        ),
        "login with a wrong password",
        "",
    );
    let out = ok(
        s.docker_with(
            &["login", &reg.host(), "-u", user, "--password-stdin"],
            format!("{password}\n").as_bytes(),
        ),
        "login",
    );
    assert!(out.contains("Login Succeeded"), "{out}");
    std::fs::remove_file(s.config().join("config.json")).unwrap();
    let out = ok(s.docker(&["pull", &target]), "pull after login");
    assert!(out.contains("Status: Downloaded newer image"), "{out}");
    fails(
        s.docker(&["pull", &format!("{}/t/nothing:1", reg.host())]),
        "pull missing",
        "not found",
    );
    fails(
        s.docker(&["pull", "--all-tags", &format!("{}/t/demo", reg.host())]),
        "all tags",
        "every tag",
    );

    // A failure after the progress began ends the stream with an error message, which
    // the CLI shows (and exits non-zero): the layer's blob is gone from the registry.
    ok(s.docker(&["rmi", "-f", &target, "wharf/demo"]), "rmi all");
    assert_eq!(ok(s.docker(&["images", "-q"]), "images").trim(), "");
    let blobs = reg._dir.path().join("storage/docker/registry/v2/blobs");
    let mut largest: Option<(u64, PathBuf)> = None;
    let mut stack = vec![blobs];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n == "data") {
                let n = p.metadata().unwrap().len();
                if largest.as_ref().is_none_or(|(m, _)| n > *m) {
                    largest = Some((n, p));
                }
            }
        }
    }
    let (_, layer) = largest.expect("the pushed layer in the registry's storage");
    std::fs::remove_file(&layer).unwrap();
    let o = s.docker(&["pull", &target]);
    assert!(!o.status.success(), "pull of a broken image: {}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("1: Pulling from"),
        "the stream had begun: {}",
        text(&o)
    );
    assert!(
        !String::from_utf8_lossy(&o.stderr).trim().is_empty(),
        "the error is shown: {}",
        text(&o)
    );
    assert_eq!(ok(s.docker(&["images", "-q"]), "images").trim(), "");
}

#[test]
fn docker_py_images_networks_volumes() {
    if !usable() {
        return;
    }
    let has_py = Command::new("python3")
        .args(["-c", "import docker"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_py {
        eprintln!("skipped: docker-py (python3 -c 'import docker') is not installed");
        return;
    }
    let (user, password) = ("pyuser", "py-pass-1");
    let reg = Registry::start(Some((user, password)));
    let s = Server::start();
    rootfs_tar(&s.dir.path().join("rootfs.tar"));
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/docker_py/images_networks_volumes.py");
    let o = Command::new("python3")
        .arg(&script)
        .env("DOCKER_HOST", s.host())
        .env("DOCKER_CONFIG", s.config())
        .env("REGISTRY", reg.host())
        .env("REGISTRY_USER", user)
        .env("REGISTRY_PASSWORD", password)
        .env("WORK", s.dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(o.status.success(), "docker-py script failed:\n{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("docker-py: all good"),
        "{}",
        text(&o)
    );
}
