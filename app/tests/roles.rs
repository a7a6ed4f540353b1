//! Roles through the shared engine: real Unix users created by the test connect to a real
//! `wharf serve` (their identity from the kernel, SO_PEERCRED) and each sees and does only
//! what the policy gives their role. Every refusal lands in the hash-chained audit journal.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const USERS: &[&str] = &[
    "wharft-alice",
    "wharft-bob",
    "wharft-view",
    "wharft-op",
    "wharft-nobody",
];

/// Users made for the test, removed (by name, only these) when dropped.
struct Users;

impl Users {
    fn create() -> Self {
        for u in USERS {
            let _ = Command::new("userdel").arg(u).output();
            let o = Command::new("useradd")
                .args(["--no-create-home", "--shell", "/bin/false", u])
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "useradd {u}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        Users
    }
}

impl Drop for Users {
    fn drop(&mut self) {
        for u in USERS {
            let _ = Command::new("userdel").arg(u).output();
        }
    }
}

fn uid_of(name: &str) -> (u32, u32) {
    let u = nix::unistd::User::from_name(name).unwrap().unwrap();
    (u.uid.as_raw(), u.gid.as_raw())
}

/// The server and its temporary root, stopped (by pid) and cleaned when dropped.
struct Server {
    dir: tempfile::TempDir,
    child: Child,
    exe: PathBuf,
}

impl Server {
    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }
    fn socket(&self) -> PathBuf {
        self.dir.path().join("pub/wharf.sock")
    }
    fn as_root(&self, args: &[&str]) -> Output {
        Command::new(&self.exe)
            .arg("--root")
            .arg(self.root())
            .args(args)
            .env_remove("WHARF_HOST")
            .output()
            .unwrap()
    }
    /// `wharf --host unix://SOCKET args...` run as `user`.
    fn as_user(&self, user: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
        let (uid, gid) = uid_of(user);
        let mut c = Command::new(&self.exe);
        c.arg("--host")
            .arg(format!("unix://{}", self.socket().display()))
            .args(args);
        c.env_remove("WHARF_ROOT")
            .env("HOME", "/tmp")
            .stdin(Stdio::null())
            .current_dir("/");
        for (k, v) in env {
            c.env(k, v);
        }
        // std drops the supplementary groups when root switches uid.
        c.uid(uid).gid(gid);
        c.output().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let ids = self.as_root(&["ps", "-aq", "--no-trunc"]);
        for id in String::from_utf8_lossy(&ids.stdout).split_whitespace() {
            let _ = self.as_root(&["rm", "-f", id]);
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

fn start_server() -> Server {
    let dir = tempfile::Builder::new()
        .prefix("wroles")
        .tempdir_in("/tmp")
        .unwrap();
    // Other users must reach the socket and run the binary: a world-readable copy of it.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir(dir.path().join("pub")).unwrap();
    std::fs::set_permissions(
        dir.path().join("pub"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let exe = dir.path().join("pub/wharf");
    std::fs::copy(env!("CARGO_BIN_EXE_wharf"), &exe).unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let policy = dir.path().join("policy.json");
    std::fs::write(
        &policy,
        r#"{
  "roles": {
    "student": { "inherits": "user", "constraints": { "max_memory": 67108864 } }
  },
  "users": {
    "wharft-alice": { "role": "student" },
    "wharft-bob": { "role": "user" },
    "wharft-view": { "role": "viewer" },
    "wharft-op": { "role": "operator" }
  }
}"#,
    )
    .unwrap();
    let root = dir.path().join("root");
    let o = Command::new(&exe)
        .arg("--root")
        .arg(&root)
        .args(["image", "demo"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let child = Command::new(&exe)
        .arg("--root")
        .arg(&root)
        .arg("--policy")
        .arg(&policy)
        .args(["serve", "--socket"])
        .arg(dir.path().join("pub/wharf.sock"))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let s = Server { dir, child, exe };
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

#[test]
fn each_role_sees_and_does_only_what_it_may() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root (creates users, runs containers)");
        return;
    }
    let _users = Users::create();
    let s = start_server();
    let run = ["run", "-d", "--network", "none", "-m", "32m"];

    // Alice runs a container; the engine records her as its owner.
    let mut args = run.to_vec();
    args.extend([
        "--name",
        "alice-web",
        "wharf/demo",
        "sh",
        "-c",
        "echo secret; sleep 1000",
    ]);
    ok(s.as_user("wharft-alice", &args, &[]), "alice run");
    assert!(ok(s.as_user("wharft-alice", &["ps"], &[]), "alice ps").contains("alice-web"));

    // Bob cannot see, stop or read the logs of Alice's container.
    assert!(!ok(s.as_user("wharft-bob", &["ps", "-a"], &[]), "bob ps").contains("alice-web"));
    refused(
        s.as_user("wharft-bob", &["stop", "alice-web"], &[]),
        "bob stop",
        "it belongs to wharft-alice",
    );
    refused(
        s.as_user("wharft-bob", &["logs", "alice-web"], &[]),
        "bob logs",
        "it belongs to wharft-alice",
    );
    refused(
        s.as_user("wharft-bob", &["rm", "-f", "alice-web"], &[]),
        "bob rm",
        "it belongs to wharft-alice",
    );
    // Claiming another identity changes nothing: identity comes from the kernel.
    let alice_uid = uid_of("wharft-alice").0.to_string();
    let claim = [
        ("SUDO_UID", alice_uid.as_str()),
        ("SUDO_GID", alice_uid.as_str()),
        ("USER", "wharft-alice"),
    ];
    assert!(!ok(
        s.as_user("wharft-bob", &["ps", "-a"], &claim),
        "bob ps as alice"
    )
    .contains("alice-web"));
    refused(
        s.as_user("wharft-bob", &["stop", "alice-web"], &claim),
        "bob stop as alice",
        "wharft-bob (user)",
    );

    // Constraints: no host bind mounts, no published ports, no privileged, limits.
    let mut bind = run.to_vec();
    bind.extend(["-v", "/etc:/host-etc", "wharf/demo", "true"]);
    refused(
        s.as_user("wharft-alice", &bind, &[]),
        "alice bind /etc",
        "may not bind-mount host path /etc",
    );
    let mut priv_ = run.to_vec();
    priv_.extend(["--privileged", "wharf/demo", "true"]);
    refused(
        s.as_user("wharft-alice", &priv_, &[]),
        "alice privileged",
        "may not run privileged",
    );
    refused(
        s.as_user(
            "wharft-alice",
            &[
                "run",
                "-d",
                "--network",
                "none",
                "-m",
                "1g",
                "wharf/demo",
                "true",
            ],
            &[],
        ),
        "alice over her memory bound",
        "--memory at most",
    );
    refused(
        s.as_user(
            "wharft-bob",
            &[
                "run",
                "-d",
                "--network",
                "none",
                "-p",
                "8080:80",
                "wharf/demo",
                "true",
            ],
            &[],
        ),
        "bob publish",
        "may not publish ports",
    );

    // A viewer sees everything and changes nothing; no logs.
    assert!(ok(s.as_user("wharft-view", &["ps"], &[]), "viewer ps").contains("alice-web"));
    refused(
        s.as_user("wharft-view", &["stop", "alice-web"], &[]),
        "viewer stop",
        "(viewer) may not stop",
    );
    refused(
        s.as_user("wharft-view", &["logs", "alice-web"], &[]),
        "viewer logs",
        "(viewer) may not logs",
    );
    refused(
        s.as_user(
            "wharft-view",
            &["run", "-d", "--network", "none", "wharf/demo", "true"],
            &[],
        ),
        "viewer run",
        "(viewer) may not create",
    );

    // A user with no place in the policy gets nothing, and says so.
    refused(
        s.as_user("wharft-nobody", &["ps"], &[]),
        "unknown user",
        "has no role in the policy",
    );

    // An operator can act on anyone's container.
    ok(
        s.as_user("wharft-op", &["stop", "-t", "0", "alice-web"], &[]),
        "operator stop",
    );
    assert!(ok(s.as_user("wharft-op", &["ps", "-a"], &[]), "op ps").contains("Exited"));

    // Attaching works through the socket: `run` in the foreground (start attached) and
    // `attach` to a running container; Bob may not attach to Alice's.
    let mut fg = run.to_vec();
    fg.retain(|a| *a != "-d");
    fg.extend([
        "--name",
        "alice-fg",
        "wharf/demo",
        "sh",
        "-c",
        "echo hello-fg; exit 3",
    ]);
    let o = s.as_user("wharft-alice", &fg, &[]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("hello-fg"), "{}", text(&o));
    let mut talk = run.to_vec();
    talk.extend([
        "--name",
        "alice-talk",
        "wharf/demo",
        "sh",
        "-c",
        "i=0; while [ $i -lt 25 ]; do echo tick $i; i=$((i+1)); sleep 0.2; done; exit 5",
    ]);
    ok(s.as_user("wharft-alice", &talk, &[]), "alice run talk");
    refused(
        s.as_user("wharft-bob", &["attach", "alice-talk"], &[]),
        "bob attach",
        "alice-talk",
    );
    let o = s.as_user("wharft-alice", &["attach", "alice-talk"], &[]);
    assert_eq!(o.status.code(), Some(5), "{}", text(&o));
    assert!(text(&o).contains("tick"), "{}", text(&o));

    // An admin previews what Bob sees (embedded engine on the same root), audited.
    let policy = s.dir.path().join("policy.json");
    let preview = Command::new(&s.exe)
        .arg("--root")
        .arg(s.root())
        .arg("--policy")
        .arg(&policy)
        .args(["--as", "wharft-bob", "ps", "-a"])
        .output()
        .unwrap();
    assert!(
        preview.status.success() && !text(&preview).contains("alice-web"),
        "{}",
        text(&preview)
    );
    let as_alice = Command::new(&s.exe)
        .arg("--root")
        .arg(s.root())
        .arg("--policy")
        .arg(&policy)
        .args(["--as", "wharft-alice", "ps", "-a"])
        .output()
        .unwrap();
    assert!(text(&as_alice).contains("alice-web"), "{}", text(&as_alice));

    // Every refusal is in the audit journal, which the auditor-less users cannot read.
    refused(
        s.as_user("wharft-bob", &["audit"], &[]),
        "bob audit",
        "may not read",
    );
    let journal = ok(s.as_root(&["audit", "--format", "json"]), "root audit");
    let entries: Vec<serde_json::Value> = journal
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let denied = |user: &str, action: &str| {
        entries
            .iter()
            .any(|e| e["user"] == user && e["action"] == action && e["outcome"] == "denied")
    };
    assert!(
        denied("wharft-bob", "container.stop"),
        "bob's refused stop is audited"
    );
    // Listings filter silently: what a caller may not see leaves no refusals behind.
    assert!(
        !entries
            .iter()
            .any(|e| e["action"] == "container.inspect" && e["outcome"] == "denied"),
        "ps must not audit the containers it hides"
    );
    assert!(denied("wharft-bob", "container.logs"));
    assert!(denied("wharft-alice", "container.create"));
    assert!(denied("wharft-view", "container.stop"));
    assert!(entries
        .iter()
        .any(|e| e["user"] == "wharft-nobody" && e["outcome"] == "denied"));
    assert!(entries.iter().any(|e| e["user"] == "wharft-op"
        && e["action"] == "container.stop"
        && e["outcome"] == "allowed"));
    assert!(entries.iter().any(|e| e["action"] == "policy.preview"
        && e["target"] == "wharft-bob"
        && e["outcome"] == "allowed"));

    // The chain verifies; one edited byte breaks it.
    ok(s.as_root(&["audit", "verify"]), "verify");
    let path = s.root().join("audit.jsonl");
    let original = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, original.replacen("wharft-bob", "wharft-bol", 1)).unwrap();
    let o = s.as_root(&["audit", "verify"]);
    assert!(
        !o.status.success() && text(&o).contains("was edited"),
        "{}",
        text(&o)
    );
    std::fs::write(&path, original).unwrap();
    let _ = Path::new("");
}
