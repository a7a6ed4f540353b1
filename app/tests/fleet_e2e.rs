//! The console over a fleet of three, end to end in tmux: the embedded engine, a second
//! wharf (`wharf serve`) reached over ssh (a real sshd of the test's own on loopback),
//! and a real dockerd in a network namespace of its own. The fleet view lists the
//! containers of all three with their host; the hosts pane shows each host's engine;
//! stopping dockerd marks that host down and the rest keep working; `:host local`
//! switches to one host. Needs root, tmux, openssh-server and docker.io.

mod containers_support;
mod docker_support;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use containers_support::{ChildGuard, Wharf};
use docker_support::{demo_archive, dockerd, tmpdir, wait_sock};
use wharf_engine::api::{ContainerApi, ContainerCreate, ImageApi};
use wharf_engine::remote::docker::{DockerEndpoint, DockerEngine};
use wharf_engine::Caller;

const BIN: &str = env!("CARGO_BIN_EXE_wharf");
const SSHD: &str = "/usr/sbin/sshd";

struct Tmux(String);

impl Tmux {
    fn start(cmd: &str) -> Tmux {
        let name = format!("wharf-fleet-{}", std::process::id());
        let st = Command::new("tmux")
            .args([
                "-L",
                &name,
                "new-session",
                "-d",
                "-x",
                "150",
                "-y",
                "30",
                cmd,
            ])
            .status()
            .expect("tmux");
        assert!(st.success());
        Tmux(name)
    }
    fn screen(&self) -> String {
        let o = Command::new("tmux")
            .args(["-L", &self.0, "capture-pane", "-p"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    }
    fn text(&self, s: &str) {
        Command::new("tmux")
            .args(["-L", &self.0, "send-keys", "-l", s])
            .status()
            .unwrap();
    }
    fn key(&self, k: &str) {
        Command::new("tmux")
            .args(["-L", &self.0, "send-keys", k])
            .status()
            .unwrap();
    }
    fn wait(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            let s = self.screen();
            if pred(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; the screen is:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    fn command(&self, c: &str) {
        self.text(":");
        self.text(c);
        self.key("Enter");
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.0, "kill-server"])
            .output();
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn keygen(path: &Path) {
    let o = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .output()
        .expect("ssh-keygen");
    assert!(o.status.success(), "ssh-keygen: {}", text(&o));
}

#[test]
fn one_console_over_three_hosts() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    if !Path::new(SSHD).exists() || Command::new("tmux").arg("-V").output().is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "sshd or tmux is missing: .ci/run installs them"
        );
        eprintln!("skipped: needs sshd and tmux");
        return;
    }
    let Some(mut d) = dockerd() else { return };
    let local = Wharf::new();
    let archive = demo_archive(&local, &d.tmp);
    local.ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        "local-web",
        "wharf/demo",
        "sleep",
        "300",
    ]);
    // The second wharf: its own root, served on a socket, reached through sshd.
    let far = Wharf::new();
    far.ok(&["image", "demo"]);
    far.ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        "ssh-web",
        "wharf/demo",
        "sleep",
        "300",
    ]);
    let dir = tmpdir("wfleet");
    let sock = dir.join("wharf.sock");
    let _serve = ChildGuard(
        far.cmd(&["serve", "--socket"])
            .arg(&sock)
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_sock(&sock, "wharf serve");
    keygen(&dir.join("host_key"));
    keygen(&dir.join("client_key"));
    std::fs::copy(dir.join("client_key.pub"), dir.join("authorized_keys")).unwrap();
    std::fs::create_dir_all("/run/sshd").unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(
        dir.join("sshd_config"),
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n\
             AuthorizedKeysFile {d}/authorized_keys\nPermitRootLogin prohibit-password\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
             StrictModes no\nForceCommand {BIN} serve --stdio --socket {sock}\n",
            d = dir.display(),
            sock = sock.display()
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("ssh_config"),
        format!(
            "Host *\n  IdentityFile {d}/client_key\n  IdentitiesOnly yes\n  \
             UserKnownHostsFile /dev/null\n  StrictHostKeyChecking no\n  LogLevel ERROR\n",
            d = dir.display()
        ),
    )
    .unwrap();
    let _sshd = ChildGuard(
        Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(dir.join("sshd_config"))
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "sshd did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    // dockerd's container, made through wharf's Docker client.
    let dk = DockerEngine::connect(DockerEndpoint::Unix(d.sock.clone())).unwrap();
    let c = Caller::root();
    dk.image_load(&c, &mut std::fs::File::open(&archive).unwrap())
        .unwrap();
    let id = dk
        .container_create(
            &c,
            &ContainerCreate {
                name: Some("docker-web".into()),
                image: "wharf/demo".into(),
                cmd: Some(vec!["sleep".into(), "300".into()]),
                network: Some("none".into()),
                ..Default::default()
            },
        )
        .unwrap();
    dk.container_start(&c, &id).unwrap();

    let cmd = format!(
        "env WHARF_ROOT={root} WHARF_SSH_COMMAND='ssh -F {cfg}' HOME={home} {BIN} \
         --host local --host ssh://root@127.0.0.1:{port} --host docker+unix://{dsock}",
        root = local.root().display(),
        cfg = dir.join("ssh_config").display(),
        home = dir.display(),
        dsock = d.sock.display(),
    );
    let t = Tmux::start(&cmd);
    // The fleet view: every host's containers, each with its host.
    let s = t.wait("the containers of all three hosts", |s| {
        s.contains("local-web") && s.contains("ssh-web") && s.contains("docker-web")
    });
    assert!(s.contains("HOST"), "{s}");
    assert!(s.contains("docker "), "the docker host's name: {s}");
    // The hosts pane: each host up, with its engine.
    t.command("hosts");
    let s = t.wait("three hosts up", |s| s.matches("▲ up").count() >= 3);
    assert!(s.contains("docker 20.10"), "{s}");
    assert!(s.contains("wharf"), "{s}");
    // dockerd stops: its host is marked, the others keep working.
    d.stop();
    let s = t.wait("the docker host marked down", |s| s.contains("✖ down"));
    assert!(s.matches("▲ up").count() >= 2, "{s}");
    t.command("containers");
    let s = t.wait("the others' containers", |s| {
        s.contains("local-web") && s.contains("ssh-web") && !s.contains("docker-web")
    });
    assert!(s.contains("HOST"), "{s}");
    // One host at a time.
    t.command("host local");
    let s = t.wait("the local host alone", |s| {
        s.contains("local-web") && !s.contains("ssh-web")
    });
    assert!(!s.contains("HOST "), "{s}");
    let _ = std::fs::remove_dir_all(&dir);
}
