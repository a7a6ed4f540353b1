//! The Docker CLI on a shared wharf socket: non-root users (uids admitted by a policy,
//! the docker CLI 28 run with their uid) drive the engine with `docker`, each seeing and
//! doing only what their role allows, every refusal in the audit journal. What no Docker
//! daemon offers: a Docker-compatible socket that ordinary users may share safely.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const ALICE: u32 = 61411;
const BOB: u32 = 61412;
const VIEWER: u32 = 61413;

struct Server {
    dir: tempfile::TempDir,
    child: Child,
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::Builder::new()
            .prefix("wdocker-roles")
            .tempdir_in("/tmp")
            .unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let policy = dir.path().join("policy.json");
        std::fs::write(
            &policy,
            format!(
                r#"{{"users": {{"{ALICE}": {{"role": "user"}}, "{BOB}": {{"role": "user"}}, "{VIEWER}": {{"role": "viewer"}}}}}}"#
            ),
        )
        .unwrap();
        let root = dir.path().join("root");
        let o = Command::new(env!("CARGO_BIN_EXE_wharf"))
            .arg("--root")
            .arg(&root)
            .args(["image", "demo"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        let child = Command::new(env!("CARGO_BIN_EXE_wharf"))
            .arg("--root")
            .arg(&root)
            .arg("--policy")
            .arg(&policy)
            .args(["serve", "--socket"])
            .arg(dir.path().join("w.sock"))
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let s = Server { dir, child };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::os::unix::net::UnixStream::connect(s.sock()).is_err() {
            assert!(Instant::now() < deadline, "the server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        s
    }
    fn sock(&self) -> PathBuf {
        self.dir.path().join("w.sock")
    }
    /// `docker args...` as `uid`, against the shared socket.
    fn docker(&self, uid: u32, args: &[&str]) -> Output {
        let cfg = self.dir.path().join(format!("docker-{uid}"));
        if !cfg.exists() {
            std::fs::create_dir(&cfg).unwrap();
            nix::unistd::chown(
                &cfg,
                Some(nix::unistd::Uid::from_raw(uid)),
                Some(nix::unistd::Gid::from_raw(uid)),
            )
            .unwrap();
        }
        Command::new("docker")
            .args(args)
            .env("DOCKER_HOST", format!("unix://{}", self.sock().display()))
            .env("DOCKER_CONFIG", &cfg)
            .env("HOME", &cfg)
            .env_remove("DOCKER_CONTEXT")
            .current_dir("/")
            .stdin(Stdio::null())
            .uid(uid)
            .gid(uid)
            .output()
            .unwrap()
    }
    fn audit(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("root/audit.jsonl")).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let root = self.dir.path().join("root");
        let ids = Command::new(env!("CARGO_BIN_EXE_wharf"))
            .arg("--root")
            .arg(&root)
            .args(["ps", "-aq", "--no-trunc"])
            .output()
            .unwrap();
        for id in String::from_utf8_lossy(&ids.stdout).split_whitespace() {
            let _ = Command::new(env!("CARGO_BIN_EXE_wharf"))
                .arg("--root")
                .arg(&root)
                .args(["rm", "-f", id])
                .output();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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

fn refused(o: Output, what: &str, needle: &str) {
    assert!(
        !o.status.success(),
        "{what} should be refused: {}",
        text(&o)
    );
    assert!(
        text(&o).contains(needle),
        "{what}: expected {needle:?} in: {}",
        text(&o)
    );
}

#[test]
fn users_share_a_docker_socket_safely() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root (switches uids, runs containers)");
        return;
    }
    if Command::new("docker").arg("--version").output().is_err() {
        eprintln!("skipped: no docker CLI on PATH");
        return;
    }
    let s = Server::start();
    // Each user runs containers with the ordinary docker CLI.
    ok(
        s.docker(
            ALICE,
            &[
                "run",
                "-d",
                "--name",
                "alice-web",
                "--network",
                "none",
                "wharf/demo",
                "sleep",
                "60",
            ],
        ),
        "alice's docker run -d",
    );
    let hi = ok(
        s.docker(
            ALICE,
            &[
                "run",
                "--rm",
                "--network",
                "none",
                "wharf/demo",
                "echo",
                "hi from alice",
            ],
        ),
        "alice's attached docker run --rm",
    );
    assert_eq!(hi.trim(), "hi from alice");
    ok(
        s.docker(
            BOB,
            &[
                "run",
                "-d",
                "--name",
                "bob-db",
                "--network",
                "none",
                "wharf/demo",
                "sleep",
                "60",
            ],
        ),
        "bob's docker run -d",
    );
    // Each sees only their own.
    let alice_ps = ok(
        s.docker(ALICE, &["ps", "-a", "--format", "{{.Names}}"]),
        "alice's ps",
    );
    assert_eq!(alice_ps.trim(), "alice-web", "alice sees: {alice_ps}");
    let bob_ps = ok(
        s.docker(BOB, &["ps", "-a", "--format", "{{.Names}}"]),
        "bob's ps",
    );
    assert_eq!(bob_ps.trim(), "bob-db", "bob sees: {bob_ps}");
    // And cannot touch the other's.
    refused(
        s.docker(BOB, &["stop", "alice-web"]),
        "bob stopping alice's container",
        "",
    );
    refused(
        s.docker(BOB, &["logs", "alice-web"]),
        "bob reading alice's logs",
        "",
    );
    refused(
        s.docker(BOB, &["exec", "alice-web", "cat", "/etc/hostname"]),
        "bob exec'ing into alice's container",
        "",
    );
    // The policy's constraints hold for every field the docker CLI sends.
    refused(
        s.docker(
            ALICE,
            &[
                "run",
                "--rm",
                "--privileged",
                "--network",
                "none",
                "wharf/demo",
                "true",
            ],
        ),
        "a privileged run",
        "may not run privileged containers",
    );
    refused(
        s.docker(
            ALICE,
            &[
                "run",
                "--rm",
                "-v",
                "/:/host",
                "--network",
                "none",
                "wharf/demo",
                "true",
            ],
        ),
        "a host bind mount",
        "may not bind-mount host path",
    );
    refused(
        s.docker(
            ALICE,
            &[
                "run",
                "--rm",
                "--cap-add",
                "SYS_ADMIN",
                "--network",
                "none",
                "wharf/demo",
                "true",
            ],
        ),
        "an added capability",
        "may not add capabilities",
    );
    refused(
        s.docker(
            ALICE,
            &["run", "--rm", "--network", "host", "wharf/demo", "true"],
        ),
        "the host network",
        "may not use the host network",
    );
    // A viewer sees everyone's containers and changes nothing.
    let all = ok(
        s.docker(VIEWER, &["ps", "-a", "--format", "{{.Names}}"]),
        "viewer's ps",
    );
    assert!(all.contains("alice-web") && all.contains("bob-db"), "{all}");
    refused(
        s.docker(VIEWER, &["stop", "bob-db"]),
        "a viewer's stop",
        "may not stop",
    );
    refused(
        s.docker(
            VIEWER,
            &["run", "--rm", "--network", "none", "wharf/demo", "true"],
        ),
        "a viewer's run",
        "may not create",
    );
    // Every refusal is in the audit journal, with the caller and the reason.
    let audit = s.audit();
    let denied: Vec<&str> = audit.lines().filter(|l| l.contains("\"denied\"")).collect();
    for want in [
        "may not run privileged containers",
        "may not bind-mount host path /",
        "may not add capabilities",
        "may not use the host network",
        "(viewer) may not stop",
    ] {
        assert!(
            denied.iter().any(|l| l.contains(want)),
            "no denied audit entry with {want:?}: {denied:#?}"
        );
    }
    assert!(ok(
        Command::new(env!("CARGO_BIN_EXE_wharf"))
            .arg("--root")
            .arg(s.dir.path().join("root"))
            .args(["audit", "verify"])
            .output()
            .unwrap(),
        "audit verify"
    )
    .contains("intact"));
}

/// A policy edit while the server runs judges the next listing by the new role even
/// when no container changed and the role keeps its name (the server keeps each
/// caller's last listing while nothing listed changes: the policy is part of that).
#[test]
fn a_policy_edit_changes_the_next_listing() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root (switches uids, runs containers)");
        return;
    }
    if Command::new("docker").arg("--version").output().is_err() {
        eprintln!("skipped: no docker CLI on PATH");
        return;
    }
    let s = Server::start();
    let policy = |scope: &str| {
        std::fs::write(
            s.dir.path().join("policy.json"),
            format!(
                r#"{{"roles": {{"watcher": {{"inherits": "viewer", "scope": "{scope}"}}}},
                    "users": {{"{ALICE}": {{"role": "user"}}, "{VIEWER}": {{"role": "watcher"}}}}}}"#
            ),
        )
        .unwrap();
    };
    policy("all");
    // The server looks at its policy file every second: let it take the watcher role up.
    std::thread::sleep(Duration::from_millis(2500));
    ok(
        s.docker(
            ALICE,
            &[
                "create",
                "--name",
                "alices",
                "--network",
                "none",
                "wharf/demo",
                "true",
            ],
        ),
        "alice's docker create",
    );
    let names = |uid| ok(s.docker(uid, &["ps", "-a", "--format", "{{.Names}}"]), "ps");
    let deadline = Instant::now() + Duration::from_secs(15);
    while !names(VIEWER).contains("alices") {
        assert!(
            Instant::now() < deadline,
            "the watcher never saw alice's container"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // Asked again: the kept answer.
    assert!(names(VIEWER).contains("alices"));
    // The role, same name, now reaches only its own containers.
    policy("own");
    let deadline = Instant::now() + Duration::from_secs(15);
    while names(VIEWER).contains("alices") {
        assert!(
            Instant::now() < deadline,
            "the listing still shows alice's container after the watcher role became own-scoped"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(names(ALICE).contains("alices"));
}
