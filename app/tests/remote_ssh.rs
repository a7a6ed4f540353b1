//! `--host ssh://`: a real OpenSSH server of the test's own on loopback (its own host
//! key, config and port) whose forced command is `wharf serve --stdio` relaying to a
//! real `wharf serve` on a temporary root; the client reaches it with
//! `WHARF_SSH_COMMAND="ssh -F <test config>"`. Needs root and openssh-server
//! (`.ci/run` installs it); nothing outside loopback is touched, and both servers are
//! ended by pid.

mod containers_support;

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use containers_support::{wait_for, Wharf};

const BIN: &str = env!("CARGO_BIN_EXE_wharf");
const SSHD: &str = "/usr/sbin/sshd";

/// The servers the test started, ended by pid when it ends (the root's containers go
/// with its [`Wharf`]).
struct Children(Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
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
        .expect("ssh-keygen (apt-get install openssh-client)");
    assert!(o.status.success(), "ssh-keygen: {}", text(&o));
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn the_cli_drives_a_remote_engine_over_ssh() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root (runs sshd and containers)");
        return;
    }
    if !Path::new(SSHD).exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{SSHD} is missing: .ci/run installs openssh-server"
        );
        eprintln!("skipped: {SSHD} is missing (apt-get install openssh-server)");
        return;
    }
    let w = Wharf::new();
    let dir = tempfile::Builder::new()
        .prefix("wssh")
        .tempdir_in("/tmp")
        .unwrap();
    let d = dir.path().to_path_buf();
    let sock = d.join("wharf.sock");
    let mut children = Children(vec![w
        .cmd(&["serve", "--socket"])
        .arg(&sock)
        .stderr(Stdio::null())
        .spawn()
        .unwrap()]);

    keygen(&d.join("host_key"));
    keygen(&d.join("client_key"));
    std::fs::copy(d.join("client_key.pub"), d.join("authorized_keys")).unwrap();
    // sshd's privilege separation directory (Debian's package makes it at boot).
    std::fs::create_dir_all("/run/sshd").unwrap();
    let port = free_port();
    std::fs::write(
        d.join("sshd_config"),
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nListenAddress [::1]\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n\
             AuthorizedKeysFile {d}/authorized_keys\nPermitRootLogin prohibit-password\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
             StrictModes no\nForceCommand {BIN} serve --stdio --socket {sock}\n",
            d = d.display(),
            sock = sock.display()
        ),
    )
    .unwrap();
    std::fs::write(
        d.join("ssh_config"),
        format!(
            "Host *\n  IdentityFile {d}/client_key\n  IdentitiesOnly yes\n  \
             UserKnownHostsFile /dev/null\n  StrictHostKeyChecking no\n  LogLevel ERROR\n  \
             BatchMode yes\n",
            d = d.display()
        ),
    )
    .unwrap();
    children.0.push(
        Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config"))
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for(
        "sshd and wharf serve to start",
        Duration::from_secs(20),
        || TcpStream::connect(("127.0.0.1", port)).is_ok() && sock.exists(),
    );

    let host = format!("ssh://root@127.0.0.1:{port}");
    let ssh_cmd = format!("ssh -F {}", d.join("ssh_config").display());
    let remote = |args: &[&str]| -> Output {
        Command::new(BIN)
            .arg("--host")
            .arg(&host)
            .args(args)
            .env("WHARF_SSH_COMMAND", &ssh_cmd)
            .env_remove("WHARF_ROOT")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let ok = |args: &[&str]| -> String {
        let o = remote(args);
        assert!(o.status.success(), "wharf {args:?} over ssh: {}", text(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };

    // The remote engine answers, with the identity ssh gave the relay (root here).
    let info = ok(&["info"]);
    assert!(info.contains("root"), "{info}");
    assert!(ok(&["images"]).contains("wharf/demo"));
    // A container's whole life over ssh: run, ps, exec, logs, a foreground run, rm.
    ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        "over-ssh",
        "wharf/demo",
        "sh",
        "-c",
        "echo started-remotely; exec sleep 1000",
    ]);
    assert!(ok(&["ps"]).contains("over-ssh"));
    assert_eq!(
        ok(&["exec", "over-ssh", "cat", "/etc/hostname"])
            .trim()
            .len(),
        12
    );
    wait_for("the log line over ssh", Duration::from_secs(10), || {
        ok(&["logs", "over-ssh"]).contains("started-remotely")
    });
    let fg = remote(&[
        "run",
        "--rm",
        "--network",
        "none",
        "wharf/demo",
        "sh",
        "-c",
        "echo fg-out; exit 6",
    ]);
    assert_eq!(fg.status.code(), Some(6), "{}", text(&fg));
    assert!(text(&fg).contains("fg-out"), "{}", text(&fg));
    ok(&["rm", "-f", "over-ssh"]);
    assert!(!ok(&["ps", "-a"]).contains("over-ssh"));
    // The same engine, seen locally: the container really ran there and is gone.
    let ev = w.ok(&["events", "--since", "0", "--until", "0s"]);
    assert!(ev.contains("over-ssh") && ev.contains("destroy"), "{ev}");

    // A bracketed IPv6 address reaches ssh as its destination (if this host has ::1).
    if TcpStream::connect(("::1", port)).is_ok() {
        let o = Command::new(BIN)
            .arg("--host")
            .arg(format!("ssh://root@[::1]:{port}"))
            .arg("info")
            .env("WHARF_SSH_COMMAND", &ssh_cmd)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(o.status.success(), "info over ssh to [::1]: {}", text(&o));
    } else {
        eprintln!("no IPv6 loopback: the [::1] endpoint is not tried");
    }

    // A wrong host key or an unreachable port is a clear error, not a hang.
    let o = Command::new(BIN)
        .arg("--host")
        .arg(format!("ssh://root@127.0.0.1:{}", free_port()))
        .arg("ps")
        .env("WHARF_SSH_COMMAND", &ssh_cmd)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(!text(&o).trim().is_empty(), "no error printed");
}

/// `--host ssh://-oProxyCommand=...` (or the same in `WHARF_HOST`) must reach no ssh
/// option: the attack's command would create a marker file. Plain `ssh` is used, as a
/// user's shell would; nothing listens and nothing is contacted.
#[test]
fn an_ssh_host_that_looks_like_an_option_runs_nothing() {
    let dir = tempfile::Builder::new()
        .prefix("wssh-inject")
        .tempdir_in("/tmp")
        .unwrap();
    let marker = dir.path().join("pwned");
    let m = marker.display();
    let attacks = [
        format!("ssh://-oProxyCommand=touch${{IFS}}{m}"),
        format!("ssh://-oProxyCommand=touch${{IFS}}{m}@localhost"),
        format!("ssh://root@-oProxyCommand=touch${{IFS}}{m}"),
        format!("ssh://-oProxyCommand=touch {m}"),
        format!("ssh://root@localhost\n-oProxyCommand=touch${{IFS}}{m}"),
        format!("ssh://[-oProxyCommand=touch${{IFS}}{m}]:22"),
    ];
    for host in &attacks {
        for via_env in [false, true] {
            let mut cmd = Command::new(BIN);
            if via_env {
                cmd.env("WHARF_HOST", host);
            } else {
                cmd.arg("--host").arg(host);
            }
            let o = cmd
                .arg("ps")
                .env_remove("WHARF_SSH_COMMAND")
                .stdin(Stdio::null())
                .output()
                .unwrap();
            assert!(
                !marker.exists(),
                "{host:?} (env: {via_env}) ran the injected command"
            );
            assert!(
                !o.status.success(),
                "{host:?} (env: {via_env}) was accepted"
            );
            assert!(
                text(&o).contains("is refused"),
                "{host:?} (env: {via_env}): {}",
                text(&o)
            );
        }
    }
}
