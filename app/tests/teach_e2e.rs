//! Teaching mode end to end: the real `wharf` binary in tmux on temporary state roots.
//! A run from the form shows its create and start calls in the trace pane with their
//! durations, and the equivalent wharf and docker commands; the wharf command (copied
//! with `y` through OSC 52 into tmux's buffer) run in a shell makes the same container.
//! A command typed at `:` creates a container the list shows at once. A session of ten
//! actions, exported as a script and replayed on a fresh root, gives the same
//! containers, networks and volumes. `--as` is said in the header. Needs root and tmux;
//! containers use `--network none`; networks are made in a namespace of the test's own.

mod console_support;
#[path = "../../engine/tests/network_support/mod.rs"]
mod network_support;

use console_support::*;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// What makes two containers the same for a student: image, command, environment,
/// limits, restart policy, network mode, mounts.
fn essence(inspect: &Value) -> Value {
    let c = &inspect[0];
    let mounts: Vec<Value> = c["Mounts"]
        .as_array()
        .map(|m| {
            m.iter()
                .map(|x| {
                    serde_json::json!({
                        "Type": x["Type"], "Name": x["Name"],
                        "Destination": x["Destination"], "RW": x["RW"],
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    serde_json::json!({
        "Image": c["Config"]["Image"],
        "Cmd": c["Config"]["Cmd"],
        // The host name is the container's own id.
        "Env": c["Config"]["Env"].as_array().map(|e| {
            e.iter()
                .filter(|v| !v.as_str().unwrap_or("").starts_with("HOSTNAME="))
                .cloned()
                .collect::<Vec<_>>()
        }),
        "Memory": c["HostConfig"]["Memory"],
        "NanoCpus": c["HostConfig"]["NanoCpus"],
        "RestartPolicy": c["HostConfig"]["RestartPolicy"],
        "NetworkMode": c["HostConfig"]["NetworkMode"],
        "Mounts": mounts,
    })
}

#[test]
fn a_run_from_the_form_is_traced_and_its_command_makes_the_same_container() {
    if !is_root() {
        eprintln!("skipped: the teaching end-to-end test runs containers and needs root");
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    wharf_ok(r, &["image", "demo"]);
    let c = Console::start_with(r, 160, 45, "", "");
    c.wait_for("No containers yet.");

    // The run form, with options of each kind.
    c.keys(&["n"]);
    c.wait_for("Run a container");
    for (i, v) in [
        "wharf/demo",
        "web",
        "sleep 1000",
        "", // start: detached
        "GREETING=hello",
        "", // ports
        "", // expose
        "", // publish all: no
        "web-data:/data",
        "none",
        "64m",
        "0.5",
        "on-failure:2",
    ]
    .iter()
    .enumerate()
    {
        if i > 0 {
            c.keys(&["Tab"]);
        }
        c.text(v);
    }
    let line = "wharf run -d --name web -e GREETING=hello -v web-data:/data --network none -m 64m --cpus 0.5 --restart on-failure:2 wharf/demo sleep 1000";
    // The form shows it (wrapped in its window).
    c.wait("the form's command line", |s| flat(s).contains(&flat(line)));
    c.keys(&["Enter"]);

    // The notification, and above it the commands and what the engine did.
    let s = c.wait_for("started web");
    let s = if s.contains("$ docker run") {
        s
    } else {
        c.wait_for("$ docker run")
    };
    assert!(s.contains(&format!("$ {line}")), "{s}");
    assert!(
        s.contains("$ docker run -d --name web -e GREETING=hello -v web-data:/data --network none -m 64m --cpus 0.5 --restart on-failure:2 wharf/demo sleep 1000"),
        "{s}"
    );
    assert!(s.contains("↳ engine: resolved wharf/demo"), "{s}");
    // The whole of it, in the notification's window.
    c.keys(&["!"]);
    let s = c.wait_for("what the engine did:");
    assert!(
        s.contains("memory.limit_in_bytes") || s.contains("memory.max"),
        "{s}"
    );
    assert!(
        s.contains("into new pid, mount, uts, ipc and network namespaces"),
        "{s}"
    );
    c.escape();

    // The trace pane: the create and the start, with how long each took.
    c.keys(&["9"]);
    let s = c.wait("the create and start calls", |s| {
        row(s, "console").is_some() && s.contains("container_start(")
    });
    let create = s
        .lines()
        .find(|l| l.contains("container_create({name: \"web\""))
        .unwrap_or_else(|| panic!("no create call:\n{s}"));
    let start = s.lines().find(|l| l.contains("container_start(")).unwrap();
    for l in [create, start] {
        assert!(l.contains(" ms ") || l.contains(" s "), "a duration: {l}");
        assert!(l.contains("root (admin)") && l.contains("ok"), "{l}");
    }
    assert!(
        s.contains(&format!("$ {}", &line[..60])),
        "the action's row:\n{s}"
    );
    // A call in full.
    c.keys(&["/"]);
    c.text("container_start");
    c.keys(&["Enter"]);
    c.keys(&["Enter"]);
    let s = c.wait_for("\"duration_us\"");
    assert!(s.contains("\"method\": \"container_start\""), "{s}");
    c.escape();
    c.escape();

    // `y` copies the wharf command (OSC 52, into tmux's buffer).
    c.keys(&["1"]);
    c.keys(&["y"]);
    c.wait_for("copied: wharf run");
    let copied = c.tmux(&["show-buffer"]);
    assert_eq!(copied.trim(), line);

    // That command, in a shell, makes the same container (another name).
    let typed = copied.trim().replace("--name web ", "--name web-shell ");
    let o = Command::new("sh")
        .args(["-c", &typed.replacen("wharf", BIN, 1)])
        .env("WHARF_ROOT", r)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let a: Value = serde_json::from_str(&wharf_ok(r, &["inspect", "web"])).unwrap();
    let b: Value = serde_json::from_str(&wharf_ok(r, &["inspect", "web-shell"])).unwrap();
    assert_eq!(essence(&a), essence(&b));
    assert_eq!(essence(&a)["Memory"], 64 << 20);
    c.wait("web-shell listed", |s| row(s, "web-shell").is_some());
}

#[test]
fn a_typed_command_creates_a_container_the_list_shows_at_once() {
    if !is_root() {
        eprintln!("skipped: the teaching end-to-end test runs containers and needs root");
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    wharf_ok(r, &["image", "demo"]);
    let c = Console::start_with(r, 120, 40, "", "");
    c.wait_for("No containers yet.");
    c.command("run -d --name typed --network none wharf/demo sleep 100");
    // Its output in a window, the list showing it running (no refresh key pressed).
    let s = c.wait("the container, running", |s| {
        row(s, "typed").is_some_and(|l| l.contains("▲ running"))
    });
    let id = wharf_ok(r, &["ps", "-q", "--no-trunc", "-f", "name=typed"]);
    let s = if s.contains(&id.trim()[..20]) {
        s
    } else {
        c.wait_for(&id.trim()[..20])
    };
    assert!(s.contains("$ wharf run -d --name typed"), "{s}");
    c.escape();
    // A wrong command keeps the prompt with the CLI's reason; one that needs a pane
    // says which.
    c.command("run --no-such-flag wharf/demo");
    c.wait_for("--no-such-flag");
    c.escape();
    c.command("logs -f typed");
    c.wait_for("the Logs pane follows a log");
    c.escape();
    // Its output and errors: `:rm` of a name that is not there.
    c.command("rm nothing-here");
    let s = c.wait_for("$ wharf rm nothing-here (exit code 125)");
    assert!(s.contains("nothing-here"), "{s}");
}

#[test]
fn a_session_of_ten_actions_replays_on_a_fresh_root() {
    if !is_root() {
        eprintln!("skipped: the teaching end-to-end test runs containers and needs root");
        return;
    }
    // Networks are made in this test's own network namespace.
    let _ns = network_support::TestNetns::enter();
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    let _cleanup = Cleanup(vec![first.path().into(), second.path().into()]);
    let journal_file;
    {
        let mut c = Console::start_with(first.path(), 160, 45, "", "");
        c.clean = false;
        c.wait_for("No containers yet.");
        // 1. the demo image (images pane, D)
        c.keys(&["2"]);
        c.wait_for("Images");
        c.keys(&["D"]);
        c.wait_for("built wharf/demo");
        // 2. a network (typed)
        c.command("network create lab");
        c.wait_for("wharf network create lab: ");
        c.escape();
        // 3. a volume (volumes pane, n)
        c.keys(&["4"]);
        c.keys(&["n"]);
        c.wait_for("new volume");
        c.text("lab-data");
        c.keys(&["Enter"]);
        c.wait_for("created volume lab-data");
        // 4. a container from the run form
        c.keys(&["1"]);
        c.keys(&["n"]);
        c.wait_for("Run a container");
        for (i, v) in [
            "wharf/demo",
            "web",
            "sleep 1000",
            "", // start: detached
            "ROLE=web",
            "", // ports
            "", // expose
            "", // publish all: no
            "lab-data:/data",
            "none",
        ]
        .iter()
        .enumerate()
        {
            if i > 0 {
                c.keys(&["Tab"]);
            }
            c.text(v);
        }
        c.keys(&["Enter"]);
        c.wait_for("started web");
        // 5. another one, typed
        c.command("run -d --name db --network none -e ROLE=db wharf/demo sleep 1000");
        c.wait("db running", |s| {
            row(s, "db").is_some_and(|l| l.contains("▲ running"))
        });
        c.escape();
        // 6. stop db (containers pane, s on it)
        c.keys(&["/"]);
        c.text("db");
        c.keys(&["Enter"]);
        c.keys(&["s"]);
        c.wait_for("stopped db");
        // 7. rename it (R)
        c.keys(&["R"]);
        c.wait_for("rename db");
        c.keys(&["C-u"]);
        c.text("db-old");
        c.keys(&["Enter"]);
        c.wait_for("renamed db to db-old");
        c.escape();
        // 8. a scratch volume, typed
        c.command("volume create scratch");
        c.wait_for("wharf volume create scratch: scratch");
        c.escape();
        // 9. a second network, typed, and 10. its removal (networks pane, d)
        c.command("network create lab2");
        c.wait_for("wharf network create lab2: ");
        c.escape();
        c.keys(&["3"]);
        c.keys(&["/"]);
        c.text("lab2");
        c.keys(&["Enter"]);
        c.wait("lab2 alone", |s| {
            row(s, "lab2").is_some() && row(s, "lab").is_none()
        });
        c.keys(&["d"]);
        c.wait_for("lab2?");
        c.keys(&["y"]);
        c.wait_for("removed network lab2");
        // The session as a script (trace pane, x).
        c.keys(&["9"]);
        c.keys(&["x"]);
        c.wait_for("exported 10 steps to ");
        let scripts: Vec<PathBuf> = std::fs::read_dir(first.path().join("journal"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "sh"))
            .collect();
        assert_eq!(scripts.len(), 1, "{scripts:?}");
        journal_file = scripts[0].clone();
    }
    let script = std::fs::read_to_string(&journal_file).unwrap();
    assert_eq!(
        script.lines().filter(|l| l.starts_with("wharf ")).count(),
        10,
        "{script}"
    );
    assert!(script.contains("\nwharf network create lab\n"), "{script}");
    assert!(
        script.contains("#    docker: docker rename db db-old"),
        "{script}"
    );
    // `wharf journal export` writes the same script.
    let exported = wharf_ok(first.path(), &["journal", "export"]);
    assert_eq!(exported, script);

    // Replayed step by step on a fresh root.
    let copy = second.path().join("lesson.sh");
    std::fs::write(&copy, &script).unwrap();
    {
        let mut c = Console::start_with(
            second.path(),
            160,
            45,
            "",
            &format!("journal replay {}", copy.display()),
        );
        c.clean = false;
        c.wait_for("replay lesson.sh 1/10: wharf image demo");
        for n in 2..=10 {
            c.keys(&[">"]);
            c.wait_for(&format!("replay lesson.sh {n}/10"));
        }
        c.keys(&[">"]);
        c.wait_for("all 10 steps done");
        c.keys(&["q"]);
    }
    let same = |args: &[&str]| {
        let mut a = wharf_ok(first.path(), args)
            .lines()
            .map(String::from)
            .collect::<Vec<_>>();
        let mut b = wharf_ok(second.path(), args)
            .lines()
            .map(String::from)
            .collect::<Vec<_>>();
        a.sort();
        b.sort();
        assert_eq!(a, b, "{args:?}");
        a
    };
    let ctrs = same(&[
        "ps",
        "-a",
        "--format",
        "{{.Names}} {{.Image}} {{.State}} {{.Command}}",
    ]);
    assert_eq!(ctrs.len(), 2, "{ctrs:?}");
    same(&["network", "ls", "--format", "{{.Name}} {{.Driver}}"]);
    let vols = same(&["volume", "ls", "-q"]);
    assert_eq!(vols, ["lab-data", "scratch"]);
    let env = |root: &Path| -> Value {
        let v: Value =
            serde_json::from_str(&wharf_ok(root, &["inspect", "web", "db-old"])).unwrap();
        serde_json::json!([essence(&v), essence(&Value::Array(vec![v[1].clone()]))])
    };
    assert_eq!(env(first.path()), env(second.path()));
}

#[test]
fn previewing_another_user_says_so_in_the_header() {
    if !is_root() {
        eprintln!("skipped: --as previews as an admin (root)");
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let policy = root.path().join("policy.json");
    std::fs::write(&policy, r#"{"users": {"61601": {"role": "user"}}}"#).unwrap();
    let c = Console::start_with(
        root.path(),
        100,
        30,
        &format!("WHARF_POLICY={}", policy.display()),
        "--as 61601",
    );
    c.wait_for("PREVIEW as 61601 (user) · you are root");
}
