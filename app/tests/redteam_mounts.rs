//! Red team: bind mounts through a shared engine. Real Unix users made by the test drive
//! a real `wharf serve` (their identity from the kernel) whose policy lets students
//! bind-mount under two prefixes only: `course/` (a tmpfs mounted `nosuid,nodev`, so
//! read-write binds are allowed there) and `suidfs/` (a tmpfs without them: read-only
//! only). Each attack must be refused with a clear reason, written to the audit journal
//! as a `container.create` denial naming the source, and read or write nothing on the
//! host: the content of a root-only secret, of a directory outside the prefixes and of
//! another student's private directory never appears in any output.
//!
//! Attacks go through the command line where a user would type them (`-v`, `--mount`),
//! and through the engine's socket protocol directly where the exact bytes matter
//! (relative and very long sources, `--volumes-from`): the engine must hold whatever
//! front end sends the request.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wharf_engine::api::{ContainerCreate, MountSpec};

const USERS: &[&str] = &["wharft-rt-alice", "wharft-rt-bob", "wharft-rt-teach"];
const ALICE: &str = "wharft-rt-alice";
const BOB: &str = "wharft-rt-bob";
const TEACH: &str = "wharft-rt-teach";

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

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

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn chown(p: &Path, user: &str) {
    let (uid, gid) = uid_of(user);
    std::os::unix::fs::chown(p, Some(uid), Some(gid)).unwrap();
}

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn token() -> String {
    let mut b = [0u8; 8];
    std::fs::File::open("/dev/urandom")
        .unwrap()
        .read_exact(&mut b)
        .unwrap();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A tmpfs the test mounted on the host (under its own temporary directory), unmounted
/// when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, opts: &str) -> Self {
        std::fs::create_dir_all(at).unwrap();
        let o = Command::new("mount")
            .args(["-t", "tmpfs", "-o", opts, "tmpfs"])
            .arg(at)
            .output()
            .unwrap();
        assert!(o.status.success(), "mount tmpfs: {}", text(&o));
        Tmpfs(at.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).output();
    }
}

/// The lab: a temporary directory with the server's root, the policy, the allowed
/// prefixes and the things that must not leak; the server, stopped (by pid) and its
/// containers removed when dropped, then the tmpfs unmounted, then the files removed.
struct Lab {
    child: Child,
    exe: PathBuf,
    base: PathBuf,
    secret: String,
    outside: String,
    private: String,
    /// Kept listening: the socket inside the prefix.
    _listener: UnixListener,
    _mounts: Vec<Tmpfs>,
    /// Every output and answer seen, checked for leaks at the end.
    seen: Vec<String>,
    _dir: tempfile::TempDir,
}

impl Lab {
    fn root(&self) -> PathBuf {
        self.base.join("root")
    }
    fn socket(&self) -> PathBuf {
        self.base.join("pub/wharf.sock")
    }
    fn course(&self) -> String {
        self.base.join("course").display().to_string()
    }
    fn suidfs(&self) -> String {
        self.base.join("suidfs").display().to_string()
    }
    fn tmp(&self) -> String {
        self.base.display().to_string()
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
    fn as_user(&mut self, user: &str, args: &[&str]) -> Output {
        let (uid, gid) = uid_of(user);
        let o = Command::new(&self.exe)
            .arg("--host")
            .arg(format!("unix://{}", self.socket().display()))
            .args(args)
            .env_remove("WHARF_ROOT")
            .env("HOME", "/tmp")
            .stdin(Stdio::null())
            .current_dir("/")
            .uid(uid)
            .gid(gid)
            .output()
            .unwrap();
        self.seen.push(text(&o));
        o
    }

    /// A shell command run on the host as `user`.
    fn host_shell(&mut self, user: &str, script: &str) -> String {
        let (uid, gid) = uid_of(user);
        let o = Command::new("/bin/sh")
            .args(["-c", script])
            .current_dir("/")
            .uid(uid)
            .gid(gid)
            .output()
            .unwrap();
        let t = text(&o);
        self.seen.push(t.clone());
        t
    }

    /// One call of the engine's socket protocol as `user` (their identity taken by the
    /// kernel at connect time): the HTTP status and the answer's body.
    fn api_as(&mut self, user: &str, method: &str, args: serde_json::Value) -> (u16, String) {
        let (uid, gid) = uid_of(user);
        let sock = self.socket();
        // Connect from a thread that took the user's identity: raw system calls change
        // that thread's credentials only, and it ends right after.
        let mut stream = std::thread::spawn(move || {
            // SAFETY: raw setgroups/setresgid/setresuid with integer arguments (and an
            // empty group list) change this thread's credentials only.
            unsafe {
                assert_eq!(
                    libc::syscall(libc::SYS_setgroups, 0usize, std::ptr::null::<u32>()),
                    0
                );
                assert_eq!(libc::syscall(libc::SYS_setresgid, gid, gid, gid), 0);
                assert_eq!(libc::syscall(libc::SYS_setresuid, uid, uid, uid), 0);
            }
            UnixStream::connect(sock).unwrap()
        })
        .join()
        .unwrap();
        let body = serde_json::to_vec(&args).unwrap();
        write!(
            stream,
            "POST /v1/{method} HTTP/1.1\r\nHost: wharf\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .unwrap();
        stream.write_all(&body).unwrap();
        stream.flush().unwrap();
        let mut r = BufReader::new(stream);
        let mut status = String::new();
        r.read_line(&mut status).unwrap();
        let code: u16 = status.split(' ').nth(1).unwrap().parse().unwrap();
        let mut len = 0usize;
        loop {
            let mut h = String::new();
            r.read_line(&mut h).unwrap();
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().unwrap();
                }
            }
        }
        let mut answer = vec![0u8; len];
        r.read_exact(&mut answer).unwrap();
        let answer = String::from_utf8_lossy(&answer).into_owned();
        self.seen.push(answer.clone());
        (code, answer)
    }

    /// A create request from `user` through the socket protocol.
    fn create_as(&mut self, user: &str, spec: &ContainerCreate) -> (u16, String) {
        self.api_as(user, "container_create", serde_json::json!([spec]))
    }

    fn audit(&self) -> Vec<serde_json::Value> {
        let o = self.as_root(&["audit", "--format", "json"]);
        assert!(o.status.success(), "audit: {}", text(&o));
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// The audit journal has a `container.create` denial by `user` naming `source`.
    fn assert_audited(&self, case: &str, user: &str, source: &str) {
        let shown: String = source.chars().take(120).collect();
        let hit = self.audit().iter().any(|e| {
            e["user"] == user
                && e["action"] == "container.create"
                && e["outcome"] == "denied"
                && e["detail"].as_str().is_some_and(|d| d.contains(&shown))
        });
        assert!(
            hit,
            "{case}: no container.create denial by {user} naming {shown} in the audit journal"
        );
    }

    /// `wharf run --rm --network none ARGS` as `user` must fail with `needle` in the
    /// message and be audited naming `source`.
    fn refused_run(&mut self, case: &str, user: &str, args: &[&str], needle: &str, source: &str) {
        let mut all = vec!["run", "--rm", "--network", "none"];
        all.extend_from_slice(args);
        let o = self.as_user(user, &all);
        assert!(
            !o.status.success(),
            "{case}: should be refused: {}",
            text(&o)
        );
        assert!(
            text(&o).contains(needle),
            "{case}: expected {needle:?} in: {}",
            text(&o)
        );
        self.assert_audited(case, user, source);
        eprintln!("refused as expected: {case}: {}", text(&o).trim());
    }

    /// A create through the socket as `user` must be refused with `needle`, audited
    /// naming `source`.
    fn refused_create(
        &mut self,
        case: &str,
        user: &str,
        spec: &ContainerCreate,
        needle: &str,
        source: &str,
    ) -> String {
        let (code, body) = self.create_as(user, spec);
        assert_ne!(code, 200, "{case}: should be refused: {body}");
        assert!(
            body.contains(needle),
            "{case}: expected {needle:?} in: {body}"
        );
        self.assert_audited(case, user, source);
        eprintln!(
            "refused as expected: {case}: {}",
            body.chars().take(300).collect::<String>()
        );
        body
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let ids = self.as_root(&["ps", "-aq", "--no-trunc"]);
        for id in String::from_utf8_lossy(&ids.stdout).split_whitespace() {
            let _ = self.as_root(&["rm", "-f", "-v", id]);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn bind(source: &str, target: &str, read_only: bool) -> MountSpec {
    MountSpec {
        kind: "bind".into(),
        source: source.into(),
        target: target.into(),
        read_only,
        options: vec![],
    }
}

fn spec(mounts: Vec<MountSpec>, cmd: &[&str]) -> ContainerCreate {
    ContainerCreate {
        image: "wharf/demo".into(),
        cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
        network: Some("none".into()),
        mounts,
        ..Default::default()
    }
}

fn start_lab() -> Lab {
    let dir = tempfile::Builder::new()
        .prefix("wrt")
        .tempdir_in("/tmp")
        .unwrap();
    let base = dir.path().canonicalize().unwrap();
    chmod(&base, 0o755);
    let (secret, outside, private) = (
        format!("SECRET-{}", token()),
        format!("OUTSIDE-{}", token()),
        format!("PRIVATE-{}", token()),
    );
    // What must not leak: a root-only secret, a readable directory outside the
    // prefixes, another student's private directory.
    std::fs::create_dir(base.join("secret")).unwrap();
    std::fs::write(base.join("secret/key"), &secret).unwrap();
    chmod(&base.join("secret/key"), 0o600);
    chmod(&base.join("secret"), 0o700);
    std::fs::create_dir_all(base.join("outside/sub")).unwrap();
    std::fs::write(base.join("outside/f"), &outside).unwrap();
    chmod(&base.join("outside"), 0o755);

    // The prefixes: course on a nosuid,nodev tmpfs, suidfs on a tmpfs without them.
    let mounts = vec![
        Tmpfs::mount(&base.join("course"), "size=4m,mode=0755,nosuid,nodev"),
        Tmpfs::mount(&base.join("suidfs"), "size=1m,mode=0755"),
    ];
    let course = base.join("course");
    let alice = course.join("alice");
    std::fs::create_dir_all(alice.join("data")).unwrap();
    std::fs::write(alice.join("data/f"), "allowed-data\n").unwrap();
    std::fs::create_dir(alice.join("rw")).unwrap();
    for p in [alice.clone(), alice.join("data"), alice.join("rw")] {
        chown(&p, ALICE);
        chmod(&p, 0o755);
    }
    std::os::unix::fs::symlink("/etc", alice.join("etc-link")).unwrap();
    std::os::unix::fs::symlink(base.join("outside/sub"), alice.join("out-link")).unwrap();
    std::fs::create_dir(alice.join("race")).unwrap();
    std::fs::write(alice.join("race/f"), "allowed-race\n").unwrap();
    std::os::unix::fs::symlink(base.join("secret"), alice.join("race-swap")).unwrap();
    // A socket, a device node and a fifo inside the prefix, all open to alice.
    let listener = UnixListener::bind(alice.join("sock")).unwrap();
    chmod(&alice.join("sock"), 0o666);
    let c = |p: &Path| std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: mknod/mkfifo with valid NUL-terminated paths and integer arguments.
    unsafe {
        assert_eq!(
            libc::mknod(
                c(&alice.join("null")).as_ptr(),
                libc::S_IFCHR | 0o666,
                libc::makedev(1, 3)
            ),
            0
        );
        assert_eq!(libc::mkfifo(c(&alice.join("fifo")).as_ptr(), 0o666), 0);
    }
    chmod(&alice.join("null"), 0o666);
    chmod(&alice.join("fifo"), 0o666);
    // Bob's private directory inside the prefix.
    let bobdir = course.join("bob-private");
    std::fs::create_dir(&bobdir).unwrap();
    std::fs::write(bobdir.join("f"), &private).unwrap();
    chown(&bobdir.join("f"), BOB);
    chown(&bobdir, BOB);
    chmod(&bobdir, 0o700);
    let suid_alice = base.join("suidfs/alice");
    std::fs::create_dir(&suid_alice).unwrap();
    std::fs::write(suid_alice.join("f"), "allowed-suidfs\n").unwrap();
    chown(&suid_alice, ALICE);
    chmod(&suid_alice, 0o755);

    // The server: a world-readable copy of the binary beside its socket.
    std::fs::create_dir(base.join("pub")).unwrap();
    chmod(&base.join("pub"), 0o755);
    let exe = base.join("pub/wharf");
    std::fs::copy(env!("CARGO_BIN_EXE_wharf"), &exe).unwrap();
    chmod(&exe, 0o755);
    let policy = base.join("policy.json");
    std::fs::write(
        &policy,
        serde_json::json!({
            "roles": {
                "student": {
                    "inherits": "user",
                    "scope": "project",
                    "constraints": {"bind_mounts": [course.display().to_string(), base.join("suidfs").display().to_string()]}
                }
            },
            "users": {
                ALICE: {"role": "student", "project": "lab"},
                BOB: {"role": "student"},
                TEACH: {"role": "admin", "project": "lab"}
            }
        })
        .to_string(),
    )
    .unwrap();
    let root = base.join("root");
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
        .arg(base.join("pub/wharf.sock"))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lab = Lab {
        child,
        exe,
        base,
        secret,
        outside,
        private,
        _listener: listener,
        _mounts: mounts,
        seen: Vec::new(),
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !lab.socket().exists() {
        assert!(
            Instant::now() < deadline,
            "the server did not create its socket"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    lab
}

#[test]
fn bind_mount_attacks_are_refused_and_audited() {
    if !is_root() {
        eprintln!("skipped: needs root (creates users, mounts tmpfs, runs containers)");
        return;
    }
    let _users = Users::create();
    let mut lab = start_lab();
    let (course, suidfs, tmp) = (lab.course(), lab.suidfs(), lab.tmp());
    let alice = format!("{course}/alice");

    // Positive: the allowed directory, read-only and read-write, shows its content.
    let o = lab.as_user(
        ALICE,
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "-v",
            &format!("{alice}/data:/s:ro"),
            "wharf/demo",
            "cat",
            "/s/f",
        ],
    );
    assert!(o.status.success(), "allowed ro bind: {}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "allowed-data\n");
    let mark = format!("MARK-{}", token());
    let o = lab.as_user(
        ALICE,
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "-v",
            &format!("{alice}/rw:/s"),
            "wharf/demo",
            "sh",
            "-c",
            &format!("echo {mark} > /s/marker && cat /s/marker"),
        ],
    );
    assert!(o.status.success(), "allowed rw bind: {}", text(&o));
    assert_eq!(
        std::fs::read_to_string(format!("{alice}/rw/marker")).unwrap(),
        format!("{mark}\n")
    );
    for elsewhere in [
        format!("{tmp}/outside/marker"),
        format!("{tmp}/secret/marker"),
        format!("{course}/marker"),
        "/marker".into(),
        "/s/marker".into(),
    ] {
        assert!(
            !Path::new(&elsewhere).exists(),
            "the container's marker reached {elsewhere}"
        );
    }
    // A prefix without nosuid,nodev: read-only is fine.
    let o = lab.as_user(
        ALICE,
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "-v",
            &format!("{suidfs}/alice:/s:ro"),
            "wharf/demo",
            "cat",
            "/s/f",
        ],
    );
    assert!(o.status.success(), "ro bind on suidfs: {}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "allowed-suidfs\n");

    // `..` in -v: the kernel resolves it; the policy sees where it lands.
    let src = format!("{course}/../outside");
    lab.refused_run(
        "`..` in -v",
        ALICE,
        &["-v", &format!("{src}:/s:ro"), "wharf/demo", "cat", "/s/f"],
        &format!("may not bind-mount host path {tmp}/outside (given as {src}"),
        &src,
    );
    // `..` in --mount source=, to the root-only secret.
    let src = format!("{alice}/../../secret");
    lab.refused_run(
        "`..` in --mount source=",
        ALICE,
        &[
            "--mount",
            &format!("type=bind,source={src},target=/s,readonly"),
            "wharf/demo",
            "cat",
            "/s/key",
        ],
        &format!("may not bind-mount host path {tmp}/secret (given as {src}"),
        &src,
    );
    let src = format!("{course}/../outside");
    lab.refused_run(
        "`..` in --mount source= (readable, outside)",
        ALICE,
        &[
            "--mount",
            &format!("type=bind,source={src},target=/s,readonly"),
            "wharf/demo",
            "cat",
            "/s/f",
        ],
        "may not bind-mount host path",
        &src,
    );
    // `..` after a symlink: textually this is alice's own directory; really it is
    // the parent of where the link points.
    let src = format!("{alice}/out-link/..");
    lab.refused_run(
        "`..` after a symlink",
        ALICE,
        &["-v", &format!("{src}:/s:ro"), "wharf/demo", "cat", "/s/f"],
        &format!("may not bind-mount host path {tmp}/outside"),
        &src,
    );
    // A symlink to /etc planted in the allowed directory.
    let src = format!("{alice}/etc-link");
    lab.refused_run(
        "symlink to /etc in the prefix",
        ALICE,
        &[
            "-v",
            &format!("{src}:/s:ro"),
            "wharf/demo",
            "cat",
            "/s/shadow",
        ],
        "may not bind-mount host path /etc (given as",
        &src,
    );
    // Magic links.
    let src = format!("/proc/self/root{alice}/data");
    lab.refused_run(
        "/proc/self/root/...",
        ALICE,
        &["-v", &format!("{src}:/s:ro"), "wharf/demo", "cat", "/s/f"],
        "magic link",
        &src,
    );
    lab.refused_run(
        "/proc/1/root/...",
        ALICE,
        &[
            "-v",
            "/proc/1/root/etc:/s:ro",
            "wharf/demo",
            "cat",
            "/s/shadow",
        ],
        "magic link",
        "/proc/1/root/etc",
    );
    lab.refused_run(
        "/proc/self/cwd",
        ALICE,
        &["-v", "/proc/self/cwd:/s:ro", "wharf/demo", "ls", "/s"],
        "magic link",
        "/proc/self/cwd",
    );
    // A relative source (the engine does not know the client's directory).
    lab.refused_create(
        "relative source",
        ALICE,
        &spec(
            vec![bind("course/alice/data", "/s", true)],
            &["cat", "/s/f"],
        ),
        "must be an absolute host path",
        "course/alice/data",
    );
    // Very long paths: at PATH_MAX, far beyond it, and a name longer than 255 bytes.
    for len in [4096usize, 100_000] {
        let mut src = format!("{alice}/data/");
        while src.len() < len {
            src.push_str("x/");
        }
        let body = lab.refused_create(
            &format!("a {len}-byte path"),
            ALICE,
            &spec(vec![bind(&src, "/s", true)], &["true"]),
            "longer than the kernel's limit",
            &src,
        );
        assert!(
            body.len() < 2000,
            "the answer quotes a shortened path: {} bytes",
            body.len()
        );
    }
    let mut src = format!("{alice}/data/");
    while src.len() < 4095 {
        src.push_str("y/");
    }
    src.truncate(4095);
    lab.refused_create(
        "a 4095-byte path",
        ALICE,
        &spec(vec![bind(&src, "/s", true)], &["true"]),
        "does not exist",
        &src,
    );
    let src = format!("{alice}/{}", "n".repeat(300));
    lab.refused_create(
        "a 300-byte name",
        ALICE,
        &spec(vec![bind(&src, "/s", true)], &["true"]),
        "too long",
        &src,
    );
    // A socket (it could be a root daemon's), a device node and a fifo in the prefix.
    for (what, name) in [
        ("a unix socket", "sock"),
        ("a device node", "null"),
        ("a fifo", "fifo"),
    ] {
        let src = format!("{alice}/{name}");
        lab.refused_run(
            what,
            ALICE,
            &[
                "-v",
                &format!("{src}:/s:ro"),
                "wharf/demo",
                "ls",
                "-l",
                "/s",
            ],
            "socket, device node or fifo",
            &src,
        );
    }
    // Another student's 0700 directory inside the prefix.
    let src = format!("{course}/bob-private");
    lab.refused_run(
        "another user's 0700 directory",
        ALICE,
        &["-v", &format!("{src}:/s:ro"), "wharf/demo", "cat", "/s/f"],
        "cannot read it",
        &src,
    );
    // Read-write on a file system without nosuid,nodev.
    let src = format!("{suidfs}/alice");
    lab.refused_run(
        "read-write bind on a suid,dev file system",
        ALICE,
        &["-v", &format!("{src}:/s"), "wharf/demo", "true"],
        "without nosuid and nodev",
        &src,
    );

    // --volumes-from an admin's container with -v /:/host. The teacher (admin, same
    // project) may create it; alice sees it (project scope) but inherits no right to
    // its mounts: they are checked against her constraints. Bob may not even see it.
    let o = lab.as_user(
        TEACH,
        &[
            "create",
            "--name",
            "teach-root",
            "--network",
            "none",
            "-v",
            "/:/host",
            "wharf/demo",
            "true",
        ],
    );
    assert!(o.status.success(), "teacher create: {}", text(&o));
    let mut vf = spec(vec![], &["cat", "/host/etc/shadow"]);
    vf.volumes_from = vec!["teach-root".into()];
    lab.refused_create(
        "--volumes-from an admin's -v /:/host",
        ALICE,
        &vf,
        "bind mount /host of --volumes-from teach-root: wharft-rt-alice (student) may not bind-mount host path / ",
        "volumes_from=[teach-root]",
    );
    vf.volumes_from = vec!["teach-root:ro".into()];
    lab.refused_create(
        "--volumes-from an admin's -v /:/host (ro)",
        ALICE,
        &vf,
        "may not bind-mount host path / ",
        "volumes_from=[teach-root:ro]",
    );
    lab.refused_create(
        "--volumes-from out of scope",
        BOB,
        &vf,
        "it belongs to wharft-rt-teach",
        "volumes_from=[teach-root:ro]",
    );
    // Her own container's mounts come along, binds checked again, read-only with :ro.
    let o = lab.as_user(
        ALICE,
        &[
            "create",
            "--name",
            "alice-src",
            "--network",
            "none",
            "-v",
            "alicevol:/v",
            "-v",
            &format!("{alice}/data:/d:ro"),
            "wharf/demo",
            "true",
        ],
    );
    assert!(o.status.success(), "alice-src: {}", text(&o));
    let mut mine = spec(
        vec![],
        &[
            "sh",
            "-c",
            "cat /d/f; touch /v/x 2>/dev/null && echo wrote || echo read-only",
        ],
    );
    mine.name = Some("alice-vf".into());
    mine.volumes_from = vec!["alice-src:ro".into()];
    let (code, body) = lab.create_as(ALICE, &mine);
    assert_eq!(code, 200, "alice's own --volumes-from: {body}");
    let o = lab.as_user(ALICE, &["start", "-a", "alice-vf"]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "allowed-data\nread-only\n",
        "{}",
        text(&o)
    );

    // A symlink raced against the check: a thread swaps the allowed directory and a
    // symlink to the root-only secret while alice creates and starts containers on the
    // name. Every container that starts shows only the allowed content.
    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let stop = stop.clone();
        let (a, b) = (
            std::ffi::CString::new(format!("{alice}/race")).unwrap(),
            std::ffi::CString::new(format!("{alice}/race-swap")).unwrap(),
        );
        std::thread::spawn(move || {
            let mut swaps = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // SAFETY: renameat2 with valid NUL-terminated paths.
                let r = unsafe {
                    libc::renameat2(
                        libc::AT_FDCWD,
                        a.as_ptr(),
                        libc::AT_FDCWD,
                        b.as_ptr(),
                        libc::RENAME_EXCHANGE,
                    )
                };
                assert_eq!(r, 0, "renameat2: {}", std::io::Error::last_os_error());
                swaps += 1;
                std::thread::sleep(Duration::from_micros(200));
            }
            swaps
        })
    };
    let (mut started, mut refused, mut attempts) = (0, 0, 0);
    let t0 = Instant::now();
    while attempts < 80
        && t0.elapsed() < Duration::from_secs(45)
        && (t0.elapsed() < Duration::from_secs(6) || started == 0 || refused == 0)
    {
        attempts += 1;
        let o = lab.as_user(
            ALICE,
            &[
                "run",
                "--rm",
                "--network",
                "none",
                "-v",
                &format!("{alice}/race:/s:ro"),
                "wharf/demo",
                "cat",
                "/s/f",
            ],
        );
        if o.status.success() {
            started += 1;
            assert_eq!(
                String::from_utf8_lossy(&o.stdout),
                "allowed-race\n",
                "a raced container showed: {}",
                text(&o)
            );
        } else {
            refused += 1;
            let t = text(&o);
            assert!(
                [
                    "may not bind-mount host path",
                    "symbolic link",
                    "no longer the directory",
                    "changed while it was being checked",
                    "no longer exists"
                ]
                .iter()
                .any(|n| t.contains(n)),
                "a raced attempt failed for another reason: {t}"
            );
        }
    }
    stop.store(true, Ordering::Relaxed);
    let swaps = swapper.join().unwrap();
    eprintln!("race: {attempts} attempts, {started} started (allowed content only), {refused} refused, {swaps} swaps");
    assert!(
        started > 0,
        "no raced container started in {attempts} attempts"
    );
    // The swapper may have left the names exchanged: put the directory back.
    if std::fs::symlink_metadata(format!("{alice}/race"))
        .unwrap()
        .file_type()
        .is_symlink()
    {
        std::fs::rename(format!("{alice}/race"), format!("{alice}/race.tmp")).unwrap();
        std::fs::rename(format!("{alice}/race-swap"), format!("{alice}/race")).unwrap();
        std::fs::rename(format!("{alice}/race.tmp"), format!("{alice}/race-swap")).unwrap();
    }

    // The old state-root traversal: a container's root leaves a setuid copy of busybox
    // in its writable layer and in a named volume; the host user cannot reach either.
    let o = lab.as_user(
        ALICE,
        &[
            "run", "--name", "alice-suid", "--network", "none", "-v", "alicesuid:/v", "wharf/demo", "sh", "-c",
            "cp /bin/busybox /suid && chmod 4755 /suid && cp /bin/busybox /v/suid && chmod 4755 /v/suid && echo planted",
        ],
    );
    assert!(text(&o).contains("planted"), "{}", text(&o));
    let id = String::from_utf8_lossy(
        &lab.as_root(&["ps", "-aq", "--no-trunc", "--filter", "name=alice-suid"])
            .stdout,
    )
    .trim()
    .to_string();
    let layer = lab.root().join("containers").join(&id).join("diff/suid");
    let vol = lab.root().join("volumes/alicesuid/_data/suid");
    use std::os::unix::fs::MetadataExt;
    for p in [&layer, &vol] {
        let md = std::fs::metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert_eq!(
            (md.mode() & 0o7777, md.uid()),
            (0o4755, 0),
            "{} is a setuid-root program",
            p.display()
        );
    }
    assert_eq!(
        std::fs::metadata(lab.root()).unwrap().mode() & 0o7777,
        0o700
    );
    let script = format!(
        "for p in {} {}; do if [ -e \"$p\" ] || cat \"$p\" >/dev/null 2>&1; then echo \"REACHABLE $p\"; else echo \"unreachable $p\"; fi; done",
        layer.display(),
        vol.display()
    );
    let out = lab.host_shell(ALICE, &script);
    assert!(!out.contains("REACHABLE"), "{out}");
    assert_eq!(out.matches("unreachable").count(), 2, "{out}");

    // Nothing leaked anywhere.
    for t in &lab.seen {
        for (what, tok) in [
            ("the root-only secret", &lab.secret),
            ("the outside directory", &lab.outside),
            ("bob's private file", &lab.private),
        ] {
            assert!(!t.contains(tok.as_str()), "{what} leaked into: {t}");
        }
    }
}

/// The init's side: a bind source checked at create and replaced before the start (by
/// a symlink, then by another directory) fails the start with an error naming the
/// mount and saying to recreate the container; nothing was mounted. Put back, the very
/// same directory starts again.
#[test]
fn a_source_replaced_after_create_fails_the_start() {
    if !is_root() {
        eprintln!("skipped: needs root (runs containers)");
        return;
    }
    let dir = tempfile::Builder::new()
        .prefix("wrs")
        .tempdir_in("/tmp")
        .unwrap();
    let base = dir.path().canonicalize().unwrap();
    let root = base.join("root");
    let w = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_wharf"))
            .arg("--root")
            .arg(&root)
            .args(args)
            .env_remove("WHARF_HOST")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    struct Cleanup<'a>(&'a dyn Fn(&[&str]) -> Output);
    impl Drop for Cleanup<'_> {
        fn drop(&mut self) {
            let _ = (self.0)(&["rm", "-f", "swapped"]);
        }
    }
    let _c = Cleanup(&w);
    assert!(w(&["image", "demo"]).status.success());
    let data = base.join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("f"), "checked\n").unwrap();
    std::fs::create_dir(base.join("secret")).unwrap();
    let secret = format!("SECRET-{}", token());
    std::fs::write(base.join("secret/f"), &secret).unwrap();
    std::fs::create_dir(base.join("other")).unwrap();
    std::fs::write(base.join("other/f"), "other\n").unwrap();
    let src = data.display().to_string();
    let o = w(&[
        "create",
        "--name",
        "swapped",
        "--network",
        "none",
        "-v",
        &format!("{src}:/s:ro"),
        "wharf/demo",
        "cat",
        "/s/f",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let mounted = || {
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .any(|l| l.contains(base.to_str().unwrap()))
    };

    // Replaced by a symlink to another directory.
    std::fs::rename(&data, base.join("data.checked")).unwrap();
    std::os::unix::fs::symlink(base.join("secret"), &data).unwrap();
    let o = w(&["start", "-a", "swapped"]);
    let t = text(&o);
    assert!(!o.status.success(), "{t}");
    assert!(
        t.contains("bind mount /s")
            && t.contains(&format!("its source {src} is now"))
            && t.contains("symbolic link")
            && t.contains("recreate the container"),
        "{t}"
    );
    assert!(!t.contains(&secret), "{t}");
    assert!(!mounted(), "nothing of the test's directory is mounted");
    // Replaced by another directory.
    std::fs::remove_file(&data).unwrap();
    std::fs::rename(base.join("other"), &data).unwrap();
    let o = w(&["start", "-a", "swapped"]);
    let t = text(&o);
    assert!(!o.status.success(), "{t}");
    assert!(
        t.contains("is no longer the directory that was checked when the container was created")
            && t.contains("recreate the container"),
        "{t}"
    );
    assert!(!t.contains("other\n"), "{t}");
    assert!(!mounted());
    // The checked directory back in its place: it starts, with its content.
    std::fs::rename(&data, base.join("other")).unwrap();
    std::fs::rename(base.join("data.checked"), &data).unwrap();
    let o = w(&["start", "-a", "swapped"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "checked\n");

    // A container created before sources were recorded (no BindSources in its config):
    // its owner (root, no policy) has no bind constraint, so the source is resolved at
    // start, as Docker would.
    let v: serde_json::Value = serde_json::from_slice(&w(&["inspect", "swapped"]).stdout).unwrap();
    let id = v[0]["Id"].as_str().unwrap().to_string();
    let cfg_path = root.join("containers").join(&id).join("config.json");
    let mut cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&cfg_path).unwrap()).unwrap();
    assert!(cfg.as_object_mut().unwrap().remove("BindSources").is_some());
    std::fs::write(&cfg_path, serde_json::to_vec(&cfg).unwrap()).unwrap();
    let o = w(&["start", "-a", "swapped"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "checked\n");
}
