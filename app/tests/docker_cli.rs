//! The real docker CLI (28.x, on PATH) against `wharf serve`'s Docker Engine API: each
//! test starts a server on its own state root and socket, drives containers with
//! `docker` the way a user does (`--network none`: no host network changes), and reads
//! the output as a user would. The server is stopped by pid and its containers removed
//! when the test ends. Skipped without root or without a docker CLI.
//!
//! docker-py's part is `app/tests/docker_py/containers.py`, run by [`docker_py`].

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A `wharf serve` with its temporary root; stopped (by pid) and cleaned when dropped.
struct Server {
    dir: tempfile::TempDir,
    child: Child,
}

impl Server {
    fn start() -> Server {
        Server::start_with(None)
    }

    /// A server with `policy` (JSON) in force; its directory is open to other users
    /// (the socket is reached there, identity comes from the kernel).
    fn start_with(policy: Option<&str>) -> Server {
        let dir = tempfile::Builder::new()
            .prefix("wdocker")
            .tempdir_in("/tmp")
            .expect("temp dir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        let mut policy_args: Vec<std::ffi::OsString> = Vec::new();
        if let Some(p) = policy {
            std::fs::write(dir.path().join("policy.json"), p).expect("policy");
            policy_args.push("--policy".into());
            policy_args.push(dir.path().join("policy.json").into());
        }
        let s0 = Command::new(exe())
            .arg("--root")
            .arg(dir.path().join("root"))
            .args(["image", "demo"])
            .env_remove("WHARF_ROOT")
            .output()
            .expect("wharf image demo");
        assert!(s0.status.success(), "{}", text(&s0));
        let child = Command::new(exe())
            .arg("--root")
            .arg(dir.path().join("root"))
            .args(&policy_args)
            .args(["serve", "--socket"])
            .arg(dir.path().join("w.sock"))
            .env_remove("WHARF_ROOT")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("serve.log")).expect("serve.log"))
            .spawn()
            .expect("wharf serve");
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

    fn socket(&self) -> PathBuf {
        self.dir.path().join("w.sock")
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    /// `docker args...` against this server, killed after a minute.
    fn docker(&self, args: &[&str]) -> Output {
        self.docker_in(args, None)
    }

    /// `docker args...` with `stdin` as its input.
    fn docker_in(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let mut c = Command::new("docker");
        c.args(args)
            .env("DOCKER_HOST", format!("unix://{}", self.socket().display()))
            .env("DOCKER_CONFIG", self.path("dockercfg"))
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_TLS_VERIFY")
            .env_remove("DOCKER_CERT_PATH")
            .env_remove("DOCKER_API_VERSION")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            });
        let mut child = c.spawn().expect("running docker");
        if let (Some(data), Some(mut w)) = (stdin, child.stdin.take()) {
            use std::io::Write;
            w.write_all(data).expect("docker's stdin");
        }
        finish(child, &format!("docker {args:?}"))
    }

    /// `docker args...` run as the Unix user `user` (HOME and DOCKER_CONFIG their own).
    fn docker_as(&self, user: &str, args: &[&str]) -> Output {
        let u = nix::unistd::User::from_name(user)
            .expect("user lookup")
            .expect("the user exists");
        let cfg = self.path(&format!("dockercfg-{user}"));
        std::fs::create_dir_all(&cfg).expect("config dir");
        nix::unistd::chown(&cfg, Some(u.uid), Some(u.gid)).expect("chown");
        let child = Command::new("docker")
            .args(args)
            .env("DOCKER_HOST", format!("unix://{}", self.socket().display()))
            .env("DOCKER_CONFIG", &cfg)
            .env("HOME", "/tmp")
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_API_VERSION")
            .current_dir("/")
            .uid(u.uid.as_raw())
            .gid(u.gid.as_raw())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("running docker as another user");
        finish(child, &format!("docker {args:?} as {user}"))
    }

    /// `docker args...`, insisting on success; its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let o = self.docker(args);
        assert!(
            o.status.success(),
            "docker {args:?} failed ({:?}): {}",
            o.status.code(),
            text(&o)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// `docker args...`, insisting on failure with `needle` in the output.
    fn fails(&self, args: &[&str], needle: &str) {
        let o = self.docker(args);
        assert!(
            !o.status.success(),
            "docker {args:?} should fail: {}",
            text(&o)
        );
        assert!(
            text(&o).contains(needle),
            "docker {args:?}: expected {needle:?} in: {}",
            text(&o)
        );
    }

    /// `docker inspect NAME` as JSON (its one object).
    fn inspect(&self, name: &str) -> serde_json::Value {
        let out = self.ok(&["inspect", name]);
        let v: serde_json::Value = serde_json::from_str(&out).expect("inspect is JSON");
        v[0].clone()
    }

    /// `NAME STATUS` lines of `docker ps -a`.
    fn statuses(&self) -> String {
        self.ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"])
    }

    /// Wait until `docker inspect -f {{.State.Status}}` says `want`.
    fn wait_status(&self, name: &str, want: &str) {
        wait_for(
            &format!("{name} to be {want}"),
            Duration::from_secs(20),
            || {
                self.ok(&["inspect", "-f", "{{.State.Status}}", name])
                    .trim()
                    == want
            },
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let root = self.dir.path().join("root");
        let wharf = |args: &[&str]| {
            Command::new(exe())
                .arg("--root")
                .arg(&root)
                .args(args)
                .env_remove("WHARF_ROOT")
                .stdin(Stdio::null())
                .output()
        };
        if let Ok(ids) = wharf(&["ps", "-aq", "--no-trunc"]) {
            for id in String::from_utf8_lossy(&ids.stdout).split_whitespace() {
                let _ = wharf(&["rm", "-f", id]);
            }
        }
        let _ = self.child.kill();
        let status = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "wharf serve ended with {status:?}; its log:\n{}",
                std::fs::read_to_string(self.path("serve.log")).unwrap_or_default()
            );
        }
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

/// Wait for `child` (killed by pid after a minute) and collect its output.
fn finish(mut child: Child, what: &str) -> Output {
    use std::io::Read;
    let mut out = child.stdout.take();
    let mut err = child.stderr.take();
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(o) = out.as_mut() {
            let _ = o.read_to_end(&mut v);
        }
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(e) = err.as_mut() {
            let _ = e.read_to_end(&mut v);
        }
        v
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(st) = child.try_wait().expect("waiting for docker") {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within a minute");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: t_out.join().unwrap_or_default(),
        stderr: t_err.join().unwrap_or_default(),
    }
}

fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Root (containers), and a docker CLI to test with.
fn can_run() -> bool {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root (runs containers)");
        return false;
    }
    if Command::new("docker")
        .arg("--version")
        .output()
        .map(|o| !o.status.success())
        .unwrap_or(true)
    {
        eprintln!("skipped: no docker CLI on PATH");
        return false;
    }
    true
}

/// A shell loop that exits 0 on SIGTERM (so `docker stop` shows a clean exit).
const LOOP: &str = "trap 'exit 0' TERM; echo ready; while true; do sleep 0.1; done";

#[test]
fn lifecycle_through_the_docker_cli() {
    if !can_run() {
        return;
    }
    let s = Server::start();

    // create: a full id; ps -a shows it Created, ps does not.
    let id = s
        .ok(&[
            "create",
            "--name",
            "web",
            "--network",
            "none",
            "-l",
            "tier=front",
            "-e",
            "GREETING=hi",
            "wharf/demo",
            "sh",
            "-c",
            LOOP,
        ])
        .trim()
        .to_string();
    assert_eq!(id.len(), 64, "{id}");
    assert!(s.statuses().contains("web Created"), "{}", s.statuses());
    assert!(!s.ok(&["ps"]).contains("web"));

    // A taken name, a missing image, a refused field: dockerd's answers.
    s.fails(
        &["create", "--name", "web", "--network", "none", "wharf/demo"],
        "Conflict. The container name \"/web\" is already in use by container",
    );
    // The CLI pulls on 404 `No such image` (pulling is not the point here).
    s.fails(
        &["create", "--network", "none", "nosuchimage"],
        "Unable to find image 'nosuchimage:latest' locally",
    );
    s.fails(
        &["create", "--pid", "host", "wharf/demo"],
        "HostConfig.PidMode \"host\" is not supported by wharf",
    );
    s.fails(&["start", "nosuch"], "No such container: nosuch");
    s.fails(&["stop", "nosuch"], "No such container: nosuch");
    s.fails(&["logs", "nosuch"], "No such container: nosuch");

    // start (detached): running, in ps, in ps -q, with its labels.
    assert_eq!(s.ok(&["start", "web"]).trim(), "web");
    s.wait_status("web", "running");
    let ps = s.ok(&["ps"]);
    assert!(ps.contains("wharf/demo") && ps.contains("web"), "{ps}");
    assert!(id.starts_with(s.ok(&["ps", "-q"]).trim()));
    assert!(s
        .ok(&["ps", "--format", "{{.Names}} {{.Status}}"])
        .starts_with("web Up"));
    assert_eq!(
        s.ok(&[
            "ps",
            "--filter",
            "label=tier=front",
            "--format",
            "{{.Names}}"
        ])
        .trim(),
        "web"
    );

    // inspect, as scripts and compose read it.
    let v = s.inspect("web");
    assert_eq!(v["Id"], id.as_str());
    assert_eq!(v["Name"], "/web");
    assert_eq!(v["State"]["Running"], true);
    assert_eq!(v["Config"]["Image"], "wharf/demo");
    assert_eq!(v["Config"]["Labels"]["tier"], "front");
    assert_eq!(v["HostConfig"]["NetworkMode"], "none");
    assert!(v["NetworkSettings"]["Networks"]["none"].is_object(), "{v}");
    assert!(v["Mounts"].is_array());
    assert!(v["Config"]["Env"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e == "GREETING=hi"));
    assert_eq!(
        s.ok(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.Config.Image}} {{.HostConfig.RestartPolicy}} {{json .Mounts}}",
            "web"
        ])
        .trim(),
        "running wharf/demo {no 0} []"
    );
    assert_eq!(
        s.ok(&["inspect", "-f", "{{.NetworkSettings.IPAddress}}", "web"])
            .trim(),
        ""
    );

    // pause / unpause.
    s.ok(&["pause", "web"]);
    assert!(
        s.statuses().contains("web Up") && s.statuses().contains("(Paused)"),
        "{}",
        s.statuses()
    );
    s.fails(&["pause", "web"], "already paused");
    s.ok(&["unpause", "web"]);
    s.wait_status("web", "running");

    // update --memory, then rename.
    s.ok(&["update", "--memory", "64m", "web"]);
    assert_eq!(
        s.ok(&["inspect", "-f", "{{.HostConfig.Memory}}", "web"])
            .trim(),
        "67108864"
    );
    s.ok(&["rename", "web", "site"]);
    assert!(s.statuses().contains("site Up"), "{}", s.statuses());

    // stop -t 1: the loop exits 0 on TERM; stopping again is fine (dockerd's 304).
    assert_eq!(s.ok(&["stop", "-t", "1", "site"]).trim(), "site");
    assert!(s.statuses().contains("site Exited (0)"), "{}", s.statuses());
    assert_eq!(s.ok(&["stop", "site"]).trim(), "site");
    assert_eq!(
        s.ok(&["ps", "--filter", "status=exited", "--format", "{{.Names}}"])
            .trim(),
        "site"
    );
    assert_eq!(s.ok(&["ps", "-q"]).trim(), "");
    assert_eq!(s.ok(&["wait", "site"]).trim(), "0");

    // restart, then kill -s KILL: the exit code the user sees is 137.
    s.ok(&["restart", "-t", "1", "site"]);
    s.wait_status("site", "running");
    s.ok(&["kill", "-s", "KILL", "site"]);
    s.wait_status("site", "exited");
    assert_eq!(s.ok(&["wait", "site"]).trim(), "137");
    assert!(
        s.statuses().contains("site Exited (137)"),
        "{}",
        s.statuses()
    );
    s.fails(&["kill", "site"], "not running");

    // wait blocks until the container exits, with its code.
    s.ok(&[
        "run",
        "-d",
        "--name",
        "short",
        "--network",
        "none",
        "wharf/demo",
        "sh",
        "-c",
        "sleep 1; exit 3",
    ]);
    assert_eq!(s.ok(&["wait", "short"]).trim(), "3");
    s.fails(
        &["rename", "short", "site"],
        "Conflict. The container name \"/site\" is already in use",
    );

    // rm: a running one only with -f.
    s.ok(&["start", "site"]);
    s.wait_status("site", "running");
    s.fails(&["rm", "site"], "cannot remove running container");
    assert_eq!(s.ok(&["rm", "-f", "site"]).trim(), "site");
    s.fails(
        &["inspect", "--type", "container", "site"],
        "No such container",
    );

    // run -d --rm: gone once it exits.
    let rid = s
        .ok(&[
            "run",
            "-d",
            "--rm",
            "--network",
            "none",
            "wharf/demo",
            "sh",
            "-c",
            "sleep 1",
        ])
        .trim()
        .to_string();
    assert_eq!(rid.len(), 64);
    wait_for("the --rm container to go", Duration::from_secs(20), || {
        !s.ok(&["ps", "-aq", "--no-trunc"]).contains(&rid)
    });

    // run in the foreground: output, exit codes, stdin, a terminal (the CLI creates,
    // attaches, waits for next-exit, starts; --rm waits for removed).
    assert_eq!(
        s.ok(&[
            "run",
            "--rm",
            "--network",
            "none",
            "wharf/demo",
            "echo",
            "hi"
        ]),
        "hi\n"
    );
    let o = s.docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        "wharf/demo",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&o.stderr), "err\n");
    let o = s.docker_in(
        &[
            "run",
            "-i",
            "--rm",
            "--network",
            "none",
            "wharf/demo",
            "cat",
        ],
        Some(b"through stdin\n"),
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "through stdin\n");
    let o = s.docker(&[
        "run",
        "--network",
        "none",
        "--name",
        "once",
        "wharf/demo",
        "sh",
        "-c",
        "exit 5",
    ]);
    assert_eq!(o.status.code(), Some(5), "{}", text(&o));
    assert!(s.statuses().contains("once Exited (5)"), "{}", s.statuses());
    let lines = s.ok(&["ps", "-aq"]).lines().count();
    assert_eq!(lines, 2, "only short and once are left");

    // Exposed and published ports: recorded, filtered on, and with --network none the
    // warning dockerd gives for discarded ports.
    let o = s.docker(&[
        "create",
        "--name",
        "ports",
        "--network",
        "none",
        "--expose",
        "9000",
        "-p",
        "8080:80",
        "wharf/demo",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("WARNING: Published ports are discarded when using none network mode"),
        "{}",
        text(&o)
    );
    assert_eq!(
        s.ok(&["inspect", "-f", "{{json .Config.ExposedPorts}}", "ports"])
            .trim(),
        r#"{"80/tcp":{},"9000/tcp":{}}"#
    );
    for (filter, hit) in [
        ("expose=9000", true),
        ("expose=8000-9000/tcp", true),
        ("expose=81", false),
        ("publish=80", true),
        ("publish=9000", false),
    ] {
        let names = s.ok(&["ps", "-a", "--filter", filter, "--format", "{{.Names}}"]);
        assert_eq!(names.contains("ports"), hit, "{filter}: {names}");
    }

    // container prune: the stopped ones go.
    let out = s.ok(&["container", "prune", "-f"]);
    assert!(out.contains("Deleted Containers:"), "{out}");
    assert!(out.contains("Total reclaimed space:"), "{out}");
    assert_eq!(s.ok(&["ps", "-aq"]).trim(), "");
}

#[test]
fn logs_and_the_toolbox_through_the_docker_cli() {
    if !can_run() {
        return;
    }
    let s = Server::start();
    s.ok(&[
        "run", "-d", "--name", "talk", "--network", "none", "wharf/demo", "sh", "-c",
        "echo first; echo oops >&2; sleep 2; echo second; mkdir /made; rm /bin/true; while true; do sleep 0.1; done",
    ]);
    wait_for("second", Duration::from_secs(20), || {
        s.ok(&["logs", "talk"]).contains("second")
    });

    // logs: stdout and stderr apart (multiplexed), --tail, -t, --since.
    let o = s.docker(&["logs", "talk"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "first\nsecond\n");
    assert_eq!(String::from_utf8_lossy(&o.stderr), "oops\n");
    assert_eq!(s.ok(&["logs", "--tail", "1", "talk"]), "second\n");
    let ts = s.ok(&["logs", "-t", "--tail", "1", "talk"]);
    let (stamp, line) = ts.trim_end().split_once(' ').expect("a timestamp");
    assert_eq!(line, "second");
    assert!(
        chrono::DateTime::parse_from_rfc3339(stamp).is_ok() && stamp.ends_with('Z'),
        "{stamp}"
    );
    // --since an instant between the two lines.
    let first_t = s
        .ok(&["logs", "-t", "talk"])
        .lines()
        .next()
        .and_then(|l| l.split_once(' ').map(|(t, _)| t.to_string()))
        .expect("first line");
    let after_first = chrono::DateTime::parse_from_rfc3339(&first_t).unwrap()
        + chrono::Duration::milliseconds(500);
    let since = after_first.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    assert_eq!(s.ok(&["logs", "--since", &since, "talk"]), "second\n");

    // top: ps's columns and the loop's processes.
    let top = s.ok(&["top", "talk"]);
    assert!(top.starts_with("UID"), "{top}");
    assert!(top.contains("PID") && top.contains("CMD"), "{top}");
    assert!(top.contains("sh -c echo first"), "{top}");

    // stats --no-stream: one row with the name and a memory figure.
    let st = s.ok(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}} {{.CPUPerc}} {{.MemUsage}} {{.PIDs}}",
        "talk",
    ]);
    let f: Vec<&str> = st.split_whitespace().collect();
    assert_eq!(f[0], "talk", "{st}");
    assert!(f[1].ends_with('%'), "{st}");
    assert!(f[2].ends_with("iB") || f[2].ends_with('B'), "{st}");
    assert!(f.last().unwrap().parse::<u32>().unwrap() >= 1, "{st}");

    // diff: A/C/D as docker prints them.
    let diff = s.ok(&["diff", "talk"]);
    assert!(diff.lines().any(|l| l == "A /made"), "{diff}");
    assert!(diff.lines().any(|l| l == "D /bin/true"), "{diff}");
    assert!(diff.lines().any(|l| l == "C /bin"), "{diff}");

    // cp into the container and back out; a directory; a symlink as a symlink.
    std::fs::write(s.path("note.txt"), "from the host\n").unwrap();
    let host = s.path("note.txt").display().to_string();
    s.ok(&["cp", &host, "talk:/made/"]);
    let back = s.path("back.txt").display().to_string();
    s.ok(&["cp", "talk:/made/note.txt", &back]);
    assert_eq!(
        std::fs::read_to_string(s.path("back.txt")).unwrap(),
        "from the host\n"
    );
    let dir = s.path("madeback").display().to_string();
    s.ok(&["cp", "talk:/made", &dir]);
    assert!(Path::new(&dir).join("note.txt").is_file());
    let link = s.path("shlink").display().to_string();
    s.ok(&["cp", "talk:/bin/sh", &link]);
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    // -L follows it.
    let followed = s.path("shfile").display().to_string();
    s.ok(&["cp", "-L", "talk:/bin/sh", &followed]);
    assert!(std::fs::symlink_metadata(&followed).unwrap().is_file());
    // A tar on stdin.
    let mut tarball = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(3);
    h.set_mode(0o644);
    h.set_cksum();
    tarball
        .append_data(&mut h, "piped.txt", &b"abc"[..])
        .unwrap();
    let data = tarball.into_inner().unwrap();
    let o = s.docker_in(&["cp", "-", "talk:/made"], Some(&data));
    assert!(o.status.success(), "{}", text(&o));
    // And out again as a tar on stdout.
    let o = s.docker(&["cp", "talk:/made/piped.txt", "-"]);
    assert!(o.status.success(), "{}", text(&o));
    let mut ar = tar::Archive::new(&o.stdout[..]);
    let mut e = ar.entries().unwrap().next().unwrap().unwrap();
    assert_eq!(e.path().unwrap().display().to_string(), "piped.txt");
    let mut got = String::new();
    std::io::Read::read_to_string(&mut e, &mut got).unwrap();
    assert_eq!(got, "abc");

    // export: the root file system as a tar.
    let o = s.docker(&["export", "talk"]);
    assert!(o.status.success(), "{}", text(&o));
    let mut names = Vec::new();
    for e in tar::Archive::new(&o.stdout[..]).entries().unwrap() {
        names.push(e.unwrap().path().unwrap().display().to_string());
    }
    assert!(names.iter().any(|n| n == "bin/busybox"), "{names:?}");
    assert!(names.iter().any(|n| n.trim_end_matches('/') == "made"));
}

#[test]
fn docker_py() {
    if !can_run() {
        return;
    }
    let have = Command::new("python3")
        .args(["-c", "import docker"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !have {
        eprintln!("skipped: python3 without the docker package");
        return;
    }
    let s = Server::start();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/docker_py/containers.py");
    let child = Command::new("python3")
        .arg(script)
        .arg(s.socket())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    let o = finish(child, "docker_py/containers.py");
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("docker-py: all good"), "{}", text(&o));
}

/// Users made for [`roles_through_the_docker_api`], removed (by name, only these) when
/// dropped.
struct Users;

const USERS: [&str; 2] = ["wharft-dkuser", "wharft-dkview"];

impl Users {
    fn create() -> Users {
        for u in USERS {
            let _ = Command::new("userdel").arg(u).output();
            let o = Command::new("useradd")
                .args(["--no-create-home", "--shell", "/bin/false", u])
                .output()
                .expect("useradd");
            assert!(o.status.success(), "useradd {u}: {}", text(&o));
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

/// Roles, scope and constraints apply to the Docker API as to wharf's own clients: the
/// docker CLI run as other users gets what their role allows, refusals in dockerd's
/// shape (403) with the policy's reason, and every refusal in the audit journal.
#[test]
fn roles_through_the_docker_api() {
    if !can_run() {
        return;
    }
    let _users = Users::create();
    let s = Server::start_with(Some(
        r#"{"users": {"wharft-dkuser": {"role": "user"}, "wharft-dkview": {"role": "viewer"}}}"#,
    ));
    // root (admin under any policy) runs one.
    s.ok(&[
        "run",
        "-d",
        "--name",
        "roots",
        "--network",
        "none",
        "wharf/demo",
        "sleep",
        "60",
    ]);

    // The viewer sees, but may not create or stop (403 before the body is read).
    let o = s.docker_as("wharft-dkview", &["ps", "--format", "{{.Names}}"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("roots"));
    let o = s.docker_as(
        "wharft-dkview",
        &["create", "--network", "none", "wharf/demo", "true"],
    );
    assert!(!o.status.success());
    assert!(
        text(&o).contains("may not create containers"),
        "{}",
        text(&o)
    );
    let o = s.docker_as("wharft-dkview", &["stop", "roots"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("may not"), "{}", text(&o));

    // The user sees their own only, acts on their own only, within the constraints.
    let o = s.docker_as("wharft-dkuser", &["ps", "-a", "--format", "{{.Names}}"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "");
    let o = s.docker_as("wharft-dkuser", &["stop", "roots"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("it belongs to root"), "{}", text(&o));
    let o = s.docker_as(
        "wharft-dkuser",
        &[
            "create",
            "-v",
            "/etc:/hostetc",
            "--network",
            "none",
            "wharf/demo",
        ],
    );
    assert!(!o.status.success());
    assert!(
        text(&o).contains("bind-mount host path /etc"),
        "{}",
        text(&o)
    );
    let o = s.docker_as(
        "wharft-dkuser",
        &["create", "--privileged", "--network", "none", "wharf/demo"],
    );
    assert!(!o.status.success());
    assert!(text(&o).contains("privileged"), "{}", text(&o));
    let o = s.docker_as(
        "wharft-dkuser",
        &[
            "run",
            "-d",
            "--name",
            "mine",
            "--network",
            "none",
            "wharf/demo",
            "sleep",
            "60",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = s.docker_as("wharft-dkuser", &["ps", "--format", "{{.Names}}"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "mine");
    let o = s.docker_as("wharft-dkuser", &["rm", "-f", "mine"]);
    assert!(o.status.success(), "{}", text(&o));
    // prune by the user leaves root's alone.
    s.ok(&["stop", "-t", "0", "roots"]);
    let o = s.docker_as("wharft-dkuser", &["container", "prune", "-f"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(s.statuses().contains("roots Exited"), "{}", s.statuses());

    // A field wharf refuses before the engine sees the request: refused and audited too.
    let o = s.docker_as(
        "wharft-dkuser",
        &["create", "--pid", "host", "--network", "none", "wharf/demo"],
    );
    assert!(!o.status.success());
    assert!(text(&o).contains("HostConfig.PidMode"), "{}", text(&o));

    // The refusals are in the audit journal.
    let journal = Command::new(exe())
        .arg("--root")
        .arg(s.path("root"))
        .args(["audit", "--format", "json"])
        .output()
        .expect("wharf audit");
    let j = String::from_utf8_lossy(&journal.stdout);
    assert!(
        j.lines()
            .any(|l| l.contains("HostConfig.PidMode") && l.contains("wharft-dkuser")),
        "the refused PidMode is not in the journal:\n{j}"
    );
    for want in ["container.create", "container.stop"] {
        assert!(
            j.lines()
                .any(|l| l.contains(want) && l.contains("denied") && l.contains("wharft-dk")),
            "no denied {want} in the journal:\n{j}"
        );
    }
}

/// docker-compose 1.29 (docker-py 5 inside) on a project of one service with
/// `network_mode: none` and a named volume: up, ps, logs, run (one-off, attached, exit
/// code), restart, stop, down.
#[test]
fn compose_v1_project() {
    if !can_run() {
        return;
    }
    if Command::new("docker-compose")
        .arg("version")
        .output()
        .map(|o| !o.status.success())
        .unwrap_or(true)
    {
        eprintln!("skipped: no docker-compose on PATH");
        return;
    }
    let s = Server::start();
    let proj = s.path("proj");
    std::fs::create_dir_all(&proj).unwrap();
    std::fs::write(
        proj.join("docker-compose.yml"),
        r#"version: "3.7"
services:
  web:
    image: wharf/demo
    command: ["sh", "-c", "echo up; trap 'exit 0' TERM; while true; do sleep 0.2; done"]
    network_mode: none
    labels:
      tier: front
    volumes:
      - data:/data
    tmpfs:
      - /run
    stop_grace_period: 2s
volumes:
  data: {}
"#,
    )
    .unwrap();
    let compose = |args: &[&str]| -> Output {
        let child = Command::new("docker-compose")
            .args(args)
            .current_dir(&proj)
            .env("DOCKER_HOST", format!("unix://{}", s.socket().display()))
            .env("DOCKER_CONFIG", s.path("dockercfg"))
            .env_remove("DOCKER_CONTEXT")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("docker-compose");
        finish(child, &format!("docker-compose {args:?}"))
    };
    let ok = |args: &[&str]| -> String {
        let o = compose(args);
        assert!(o.status.success(), "docker-compose {args:?}: {}", text(&o));
        text(&o)
    };
    ok(&["up", "-d"]);
    let ps = ok(&["ps"]);
    assert_eq!(ps.matches("proj_web_1").count(), 1, "{ps}");
    assert!(ps.contains("Up"), "{ps}");
    wait_for("the service to log", Duration::from_secs(20), || {
        ok(&["logs"]).contains("up")
    });
    // A second up leaves the running service as it is.
    assert!(ok(&["up", "-d"]).contains("up-to-date"));
    // run: a one-off container, attached (compose runs the docker CLI for it), removed,
    // with its exit code.
    let o = compose(&["run", "--rm", "-T", "web", "echo", "one-off"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("one-off"));
    let o = compose(&["run", "--rm", "-T", "web", "sh", "-c", "exit 4"]);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    assert_eq!(ok(&["ps"]).matches("proj_web").count(), 1);
    ok(&["restart"]);
    ok(&["stop"]);
    assert!(ok(&["ps"]).contains("Exit 0"), "{}", ok(&["ps"]));
    ok(&["down", "-v"]);
    assert_eq!(s.ok(&["ps", "-aq"]).trim(), "");
    assert!(!s.ok(&["volume", "ls", "-q"]).contains("proj_data"));
}
