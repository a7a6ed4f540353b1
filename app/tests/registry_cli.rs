//! `wharf push` / `wharf pull` / `wharf logout` as a user runs them (the real binary,
//! output not on a terminal, so plain lines), against a `docker-registry` on 127.0.0.1.

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A `docker-registry` on 127.0.0.1, stopped (by pid) when dropped.
struct Registry {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Registry {
    fn start() -> Registry {
        for _ in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let cfg = dir.path().join("config.yml");
            std::fs::write(
                &cfg,
                format!(
                    "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: wharf-cli-test\n",
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
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wharf(root: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wharf"))
        .env("WHARF_ROOT", root)
        .env_remove("WHARF_INSECURE_REGISTRIES")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "wharf failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn push_rmi_pull_from_the_command_line() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let target = format!("127.0.0.1:{}/cli/demo:1", reg.port);
    ok(&wharf(root, &["image", "demo"]));
    ok(&wharf(root, &["tag", "wharf/demo:latest", &target]));
    let id = ok(&wharf(root, &["images", "-q"])).trim().to_string();

    let out = ok(&wharf(root, &["push", &target]));
    assert!(
        out.contains(&format!(
            "The push refers to repository [127.0.0.1:{}/cli/demo]",
            reg.port
        )),
        "{out}"
    );
    assert!(out.lines().any(|l| l.ends_with(": Pushed")), "{out}");
    assert!(out.contains("1: digest: sha256:"), "{out}");
    assert!(
        !out.contains('\r') && !out.contains("\x1b["),
        "no terminal drawing when not on a terminal: {out:?}"
    );

    ok(&wharf(root, &["rmi", "wharf/demo:latest", &target]));
    let out = ok(&wharf(root, &["pull", &target]));
    assert!(out.lines().any(|l| l.ends_with(": Pull complete")), "{out}");
    assert!(
        out.contains(&format!("Status: Downloaded newer image for {target}")),
        "{out}"
    );
    assert_eq!(out.lines().last(), Some(target.as_str()), "{out}");
    assert_eq!(
        ok(&wharf(root, &["images", "-q"])).trim(),
        id,
        "same image id after the round trip"
    );

    let quiet = ok(&wharf(root, &["pull", "-q", &target]));
    assert_eq!(quiet.trim(), target);

    let o = wharf(root, &["pull", "--platform", "linux/s390x", &target]);
    assert_eq!(o.status.code(), Some(125));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("single linux/") && err.contains("without --platform"),
        "{err}"
    );

    let o = wharf(
        root,
        &["pull", &format!("127.0.0.1:{}/cli/none:1", reg.port)],
    );
    assert_eq!(o.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not found"));

    let out = ok(&wharf(
        root,
        &["logout", &format!("127.0.0.1:{}", reg.port)],
    ));
    assert!(out.contains("Not logged in to"), "{out}");
}
