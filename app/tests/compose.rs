//! `wharf compose` with real containers from the demo image, through the real binary
//! (root), offline. Tests that use bridge networks first move their thread into a
//! network namespace of their own; the others use `network_mode: none`. Every test has
//! its own state root and project directory and takes its stacks down.

mod containers_support;
#[path = "../../engine/tests/network_support/mod.rs"]
mod network_support;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use containers_support::Wharf;
use network_support::TestNetns;

/// A project directory with files, and the wharf root it runs on.
struct Stack<'a> {
    w: &'a Wharf,
    dir: tempfile::TempDir,
}

impl<'a> Stack<'a> {
    fn new(w: &'a Wharf, name: &str, compose: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix(name)
            .tempdir_in("/tmp")
            .unwrap();
        std::fs::write(dir.path().join("compose.yaml"), compose).unwrap();
        Stack { w, dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.path().join(name), text).unwrap();
    }

    /// `wharf compose ARGS` in the project directory.
    fn run(&self, args: &[&str]) -> Output {
        let mut a = vec!["compose"];
        a.extend_from_slice(args);
        self.w
            .cmd(&a)
            .current_dir(self.path())
            .output()
            .expect("running wharf compose")
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "wharf compose {args:?} failed ({:?}):\nstdout: {}\nstderr: {}",
            o.status.code(),
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn err(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            !o.status.success(),
            "wharf compose {args:?} should fail:\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stderr).into_owned()
    }

    /// `compose ps -a --format json` as (name, service, state).
    fn ps(&self, project: &str) -> Vec<(String, String, String, String)> {
        let out = self.ok(&["-p", project, "ps", "-a", "--format", "json"]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["Name"].as_str().unwrap().to_string(),
                    c["Service"].as_str().unwrap().to_string(),
                    c["State"].as_str().unwrap().to_string(),
                    c["ID"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }
}

const GET: &str = "printf 'GET / HTTP/1.0\\r\\n\\r\\n'";
const HELLO: &str = "Hello from the wharf demo image";

fn trio(worker_env: &str) -> String {
    format!(
        r#"name: trio
x-quick: &quick
  image: wharf/demo
  stop_signal: SIGKILL
services:
  db:
    <<: *quick
    command: sh -c 'echo run >> /data/runs; sleep 1; touch /tmp/ready; exec httpd -f -p 8000 -h /www'
    volumes:
      - data:/data
    networks: [back]
    healthcheck:
      test: test -f /tmp/ready
      interval: 200ms
      retries: 50
  web:
    <<: *quick
    # What db answered when web started: it must already be healthy.
    command: sh -c "{GET} | nc -w 2 db 8000 > /tmp/db-at-start; exec httpd -f -p 8000 -h /www"
    networks:
      back: {{}}
      front:
        aliases: [www]
    depends_on:
      db:
        condition: service_healthy
  worker:
    <<: *quick
    command: sleep 1000
    environment:
      MODE: "{worker_env}"
    networks: [front]
    deploy:
      replicas: 3
networks:
  back: {{}}
  front:
    ipam:
      config:
        - subnet: 10.93.0.0/24
volumes:
  data: {{}}
"#
    )
}

#[test]
fn trio_on_a_user_network_volume_health_scale_and_recreate() {
    let ns = TestNetns::enter();
    let w = Wharf::new();
    let s = Stack::new(&w, "trio", &trio("a"));
    let up = s.run(&["up", "-d"]);
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    let err = String::from_utf8_lossy(&up.stderr);
    // db healthy before web was created.
    let healthy = err.find("Container trio-db-1  Healthy").expect(&err);
    let web_created = err.find("Container trio-web-1  Creating").expect(&err);
    assert!(healthy < web_created, "{err}");
    let ps = s.ps("trio");
    let names: Vec<&str> = ps.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "trio-db-1",
            "trio-web-1",
            "trio-worker-1",
            "trio-worker-2",
            "trio-worker-3"
        ],
        "{ps:?}"
    );
    assert!(ps.iter().all(|c| c.2 == "running"), "{ps:?}");
    // Name resolution between services: web reached db by name when it started; a
    // worker reaches web by service name and by alias on their shared network.
    let at_start = s.ok(&["exec", "-T", "web", "cat", "/tmp/db-at-start"]);
    assert!(at_start.contains(HELLO), "{at_start}");
    for host in ["web", "www"] {
        let script = format!("{GET} | nc -w 2 {host} 8000");
        let out = s.ok(&["exec", "-T", "--index", "3", "worker", "sh", "-c", &script]);
        assert!(out.contains(HELLO), "{host}: {out}");
    }
    // The worker is not on db's network.
    let script = format!("{GET} | nc -w 1 db 8000");
    let o = s.run(&["exec", "-T", "worker", "sh", "-c", &script]);
    assert!(!String::from_utf8_lossy(&o.stdout).contains(HELLO));
    // Labels as docker compose writes them.
    let web = w.inspect("trio-web-1");
    let labels = &web["Config"]["Labels"];
    assert_eq!(labels["com.docker.compose.project"], "trio");
    assert_eq!(labels["com.docker.compose.service"], "web");
    assert_eq!(labels["com.docker.compose.container-number"], "1");
    assert_eq!(labels["com.docker.compose.oneoff"], "False");
    assert!(
        labels["com.docker.compose.config-hash"]
            .as_str()
            .unwrap()
            .len()
            == 64
    );
    let nets = w.ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(
        nets.contains("trio_back") && nets.contains("trio_front"),
        "{nets}"
    );

    // A changed service is recreated alone.
    s.write("compose.yaml", &trio("b"));
    let up = s.run(&["up", "-d"]);
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    let after = s.ps("trio");
    for (old, new) in ps.iter().zip(&after) {
        assert_eq!(old.0, new.0);
        if old.1 == "worker" {
            assert_ne!(old.3, new.3, "{} was not recreated", old.0);
        } else {
            assert_eq!(old.3, new.3, "{} was recreated", old.0);
        }
    }
    // Unchanged: nothing recreated.
    let up = s.ok(&["up", "-d"]);
    let _ = up;
    assert_eq!(
        s.ps("trio").iter().map(|c| &c.3).collect::<Vec<_>>(),
        after.iter().map(|c| &c.3).collect::<Vec<_>>()
    );

    // down keeps the named volume, down -v removes it.
    s.ok(&["down"]);
    assert!(s.ps("trio").is_empty());
    let vols = w.ok(&["volume", "ls", "-q"]);
    assert!(vols.lines().any(|l| l == "trio_data"), "{vols}");
    let nets = w.ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(!nets.contains("trio_"), "{nets}");
    s.ok(&["up", "-d", "db"]);
    let runs = s.ok(&["exec", "-T", "db", "cat", "/data/runs"]);
    assert_eq!(
        runs, "run\nrun\n",
        "the volume kept what the first run wrote"
    );
    s.ok(&["down", "-v"]);
    let vols = w.ok(&["volume", "ls", "-q"]);
    assert!(!vols.contains("trio_data"), "{vols}");
    drop(s);
    drop(w);
    ns.assert_clean();
}

const NONE_STACK: &str = r#"name: envp
services:
  app:
    image: "wharf/demo:${TAG}"
    network_mode: none
    stop_signal: SIGKILL
    command: ["sh", "-c", "echo ${MSG:?set MSG in .env or the environment}; sleep 1000"]
  debug:
    image: wharf/demo
    network_mode: none
    stop_signal: SIGKILL
    profiles: [debug]
    command: sleep 1000
"#;

#[test]
fn profiles_env_interpolation_and_required_variables() {
    let w = Wharf::new();
    let s = Stack::new(&w, "envp", NONE_STACK);
    s.write(".env", "TAG=latest\n");
    let e = s.err(&["up", "-d"]);
    assert!(
        e.contains("compose.yaml:7:")
            && e.contains("services.app.command[2]")
            && e.contains(
                "required variable MSG is missing a value: set MSG in .env or the environment"
            ),
        "{e}"
    );
    assert!(
        w.ok(&["ps", "-aq"]).trim().is_empty(),
        "nothing was created"
    );
    s.write("other.env", "TAG=latest\nMSG=hello from env-file\n");
    s.ok(&["--env-file", "other.env", "up", "-d"]);
    let ps = s.ps("envp");
    assert_eq!(
        ps.iter().map(|c| c.1.as_str()).collect::<Vec<_>>(),
        ["app"],
        "{ps:?}"
    );
    containers_support::wait_for("the app's log", Duration::from_secs(10), || {
        s.ok(&["-p", "envp", "logs", "--no-color"])
            .contains("envp-app-1 | hello from env-file")
    });
    s.ok(&["--env-file", "other.env", "--profile", "debug", "up", "-d"]);
    let ps = s.ps("envp");
    assert_eq!(
        ps.iter().map(|c| c.1.as_str()).collect::<Vec<_>>(),
        ["app", "debug"],
        "{ps:?}"
    );
    // config prints the resolved file, variables in place.
    let cfg = s.ok(&["--env-file", "other.env", "config"]);
    assert!(
        cfg.contains("echo hello from env-file") && cfg.contains("wharf/demo:latest"),
        "{cfg}"
    );
    let ls = s.ok(&["ls"]);
    assert!(
        ls.lines()
            .any(|l| l.starts_with("envp") && l.contains("running(2)")),
        "{ls}"
    );
    s.ok(&["-p", "envp", "down"]);
    assert!(w.ok(&["ps", "-aq"]).trim().is_empty());
}

#[test]
fn bad_files_and_failed_ups_name_the_place_and_the_service() {
    let w = Wharf::new();
    let s = Stack::new(
        &w,
        "bad",
        "services:\n  web:\n    image: wharf/demo\n    network_mode: none\n    restrat: always\n",
    );
    let e = s.err(&["config"]);
    assert!(
        e.contains("compose.yaml:5:5: services.web.restrat: unknown key \"restrat\""),
        "{e}"
    );
    s.write(
        "compose.yaml",
        "services:\n  web:\n    image: wharf/demo\n    secrets: [x]\n",
    );
    let e = s.err(&["up", "-d"]);
    assert!(
        e.contains("compose.yaml:4:5: services.web.secrets: secrets is not supported by wharf"),
        "{e}"
    );
    s.write(
        "compose.yaml",
        "services:\n  web:\n    image: wharf/demo\n    ports:\n      - 80:80:80:80\n",
    );
    let e = s.err(&["up", "-d"]);
    assert!(e.contains("compose.yaml:5:9: services.web.ports[0]"), "{e}");
    s.write("compose.yaml", "services:\n  web:\n    image: [oops\n");
    let e = s.err(&["up", "-d"]);
    assert!(
        e.contains("compose.yaml:") && e.contains("not valid YAML"),
        "{e}"
    );
    // A missing image: the service is named, nothing is created.
    s.write(
        "compose.yaml",
        "services:\n  ok:\n    image: wharf/demo\n    network_mode: none\n  missing:\n    image: nosuch/image\n    pull_policy: never\n    network_mode: none\nvolumes:\n  v: {}\n",
    );
    let e = s.err(&["up", "-d"]);
    assert!(
        e.contains("nosuch/image") && e.contains("service missing"),
        "{e}"
    );
    assert!(w.ok(&["ps", "-aq"]).trim().is_empty());
    // build: refused by name until wharf builds images.
    s.write(
        "compose.yaml",
        "services:\n  app:\n    build: .\n    network_mode: none\n",
    );
    let e = s.err(&["up", "-d", "--build"]);
    assert!(e.contains("service app has a build section"), "{e}");
    // An unhealthy dependency: up says which and why; down removes what was made.
    s.write(
        "compose.yaml",
        "services:\n  db:\n    image: wharf/demo\n    network_mode: none\n    stop_signal: SIGKILL\n    command: sleep 1000\n    healthcheck: {test: 'false', interval: 200ms, retries: 1}\n  web:\n    image: wharf/demo\n    network_mode: none\n    command: sleep 1000\n    depends_on: {db: {condition: service_healthy}}\n",
    );
    let e = s.err(&["-p", "sick", "up", "-d"]);
    assert!(
        e.contains("service web") && e.contains("sick-db-1 is unhealthy"),
        "{e}"
    );
    assert_eq!(s.ps("sick").len(), 1);
    s.ok(&["-p", "sick", "down"]);
    assert!(w.ok(&["ps", "-aq"]).trim().is_empty());
}

#[test]
fn a_user_is_refused_a_host_bind_before_anything_is_created() {
    let w = Wharf::new();
    let policy = w.root().parent().unwrap().join(format!(
        "{}-policy.json",
        w.root().file_name().unwrap().to_string_lossy()
    ));
    std::fs::write(&policy, r#"{"users": {"4242": {"role": "user"}}}"#).unwrap();
    let s = Stack::new(
        &w,
        "role",
        "services:\n  fine:\n    image: wharf/demo\n    network_mode: none\n    volumes: [data:/data]\n  leaky:\n    image: wharf/demo\n    network_mode: none\n    volumes:\n      - /etc:/host-etc:ro\nvolumes:\n  data: {}\n",
    );
    let as_user = |args: &[&str]| {
        let mut a = vec![
            "--policy",
            policy.to_str().unwrap(),
            "--as",
            "4242",
            "compose",
        ];
        a.extend_from_slice(args);
        w.cmd(&a).current_dir(s.path()).output().unwrap()
    };
    let o = as_user(&["-p", "mine", "up", "-d"]);
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{e}");
    assert!(e.contains("service leaky") && e.contains("/etc"), "{e}");
    // Nothing at all was created: no container, no network, no volume.
    assert!(w.ok(&["ps", "-aq"]).trim().is_empty());
    assert!(!w.ok(&["volume", "ls", "-q"]).contains("mine_"));
    assert!(!w
        .ok(&["network", "ls", "--format", "{{.Name}}"])
        .contains("mine_"));
    // The refusal is audited as a refused create.
    let audit = std::fs::read_to_string(w.root().join("audit.jsonl")).unwrap_or_default();
    assert!(
        audit.lines().any(|l| l.contains("mine-leaky-1")
            && l.contains("denied")
            && l.contains("check only")),
        "{audit}"
    );
    // Someone else's project is not the user's to see.
    s.ok(&["-p", "admins", "up", "-d", "fine"]);
    let o = as_user(&["ls", "-a"]);
    assert!(!String::from_utf8_lossy(&o.stdout).contains("admins"));
    let o = as_user(&["-p", "admins", "ps", "-a", "-q"]);
    assert!(String::from_utf8_lossy(&o.stdout).trim().is_empty());
    s.ok(&["-p", "admins", "down", "-v"]);
    let _ = std::fs::remove_file(&policy);
}

/// A `wharf serve` on a root of its own (in the test's network namespace), stopped by
/// pid and waited for when dropped.
struct Serve {
    child: std::process::Child,
    socket: std::path::PathBuf,
}

impl Serve {
    fn start(w: &Wharf) -> Self {
        let socket = w.root().with_extension("sock");
        let child = w
            .cmd(&["serve", "--socket", socket.to_str().unwrap()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("wharf serve");
        containers_support::wait_for("the socket", Duration::from_secs(10), || {
            std::os::unix::net::UnixStream::connect(&socket).is_ok()
        });
        Serve { child, socket }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.socket);
    }
}

/// The same file through Debian's docker-compose 1.29.2 against wharf's Docker API
/// socket and through `wharf compose --host` against wharf's own protocol on the same
/// socket: each sees, uses and takes down the other's project.
#[test]
fn docker_compose_1_29_and_wharf_compose_see_one_project() {
    let has = std::process::Command::new("docker-compose")
        .arg("version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !has {
        eprintln!("skipped: no docker-compose on PATH (Debian's docker-compose 1.29.2)");
        return;
    }
    let ns = TestNetns::enter();
    let w = Wharf::new();
    let srv = Serve::start(&w);
    // The default network (docker-compose 1.29 makes it with Attachable=true), in the
    // test's network namespace: web reaches db by its service name.
    let s = Stack::new(
        &w,
        "dc",
        "version: \"3.8\"\nservices:\n  db:\n    image: wharf/demo\n    command: sh -c 'echo db up; exec sleep 1000'\n    stop_signal: SIGKILL\n    volumes: [data:/data]\n  web:\n    image: wharf/demo\n    command: sh -c 'echo web up; exec sleep 1000'\n    stop_signal: SIGKILL\n    depends_on: [db]\n  cache:\n    image: wharf/demo\n    command: sleep 1000\n    stop_signal: SIGKILL\n    environment:\n      MODE: test\n    depends_on: [web]\nvolumes:\n  data: {}\n",
    );
    let host = format!("unix://{}", srv.socket.display());
    let dc = |args: &[&str]| -> Output {
        let mut c = std::process::Command::new("timeout");
        c.arg("60")
            .arg("docker-compose")
            .args(args)
            .current_dir(s.path())
            .env("DOCKER_HOST", &host)
            .env("DOCKER_CONFIG", s.path().join(".docker"))
            .env_remove("DOCKER_CONTEXT")
            .stdin(std::process::Stdio::null());
        c.output().expect("docker-compose")
    };
    let dc_ok = |args: &[&str]| -> String {
        let o = dc(args);
        assert!(
            o.status.success(),
            "docker-compose {args:?}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let wc = |args: &[&str]| -> String {
        let mut a = vec!["--host", host.as_str()];
        a.extend_from_slice(args);
        s.ok(&a)
    };

    // docker-compose makes it; wharf compose sees it, runs in it, reads its logs.
    dc_ok(&["-p", "dcp", "up", "-d"]);
    let ls = wc(&["ls"]);
    assert!(
        ls.lines()
            .any(|l| l.starts_with("dcp ") && l.contains("running(3)")),
        "{ls}"
    );
    let ps = wc(&["-p", "dcp", "ps", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&ps).unwrap();
    let services: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["Service"].as_str().unwrap())
        .collect();
    assert_eq!(services, ["cache", "db", "web"], "{ps}");
    // docker-compose's own exec (exec create/start through the Docker API) and the
    // environment it set.
    let env = dc_ok(&["-p", "dcp", "exec", "-T", "cache", "env"]);
    assert!(env.contains("MODE=test"), "{env}");
    assert_eq!(
        wc(&["-p", "dcp", "exec", "-T", "web", "echo", "from-wharf"]),
        "from-wharf\n"
    );
    // Service names resolve between the containers docker-compose made.
    let ping = wc(&[
        "-p", "dcp", "exec", "-T", "web", "ping", "-c", "1", "-W", "2", "db",
    ]);
    assert!(ping.contains("1 packets received"), "{ping}");
    containers_support::wait_for("the logs", Duration::from_secs(10), || {
        let l = wc(&["-p", "dcp", "logs", "--no-color"]);
        l.contains("| db up") && l.contains("| web up")
    });
    // ... and docker-compose takes it down, volume and all.
    dc_ok(&["-p", "dcp", "down", "-v"]);
    assert!(!wc(&["ls", "-a"]).contains("dcp"));
    assert!(!w.ok(&["volume", "ls", "-q"]).contains("dcp_data"));
    // Nothing left behind: no containers, and the project's network is gone.
    assert!(w.ok(&["ps", "-aq"]).trim().is_empty());
    assert!(!w.ok(&["network", "ls"]).contains("dcp_default"));

    // wharf compose makes it; docker-compose sees it, runs in it, reads its logs.
    wc(&["-p", "wcp", "up", "-d"]);
    let ps = dc_ok(&["-p", "wcp", "ps"]);
    assert!(ps.contains("wcp-db-1") && ps.contains("wcp-web-1"), "{ps}");
    assert_eq!(ps.matches(" Up").count(), 3, "{ps}");
    assert_eq!(
        dc_ok(&["-p", "wcp", "exec", "-T", "db", "echo", "from-dc"]),
        "from-dc\n"
    );
    containers_support::wait_for("the logs", Duration::from_secs(10), || {
        let l = dc_ok(&["-p", "wcp", "logs", "--no-color"]);
        l.contains("db up") && l.contains("web up")
    });
    dc_ok(&["-p", "wcp", "down", "-v"]);
    assert!(w.ok(&["ps", "-aq"]).trim().is_empty());
    assert!(!w.ok(&["volume", "ls", "-q"]).contains("wcp_data"));
    drop(srv);
    drop(s);
    drop(w);
    ns.assert_clean();
}
