//! Docker parity where users notice it (issue 15), through the real `wharf` binary:
//! `--format` templates, events that follow only new ones, `system df` rows, `-it`
//! without a terminal, `version`, the management forms, `--log-driver`, and every flag
//! of `docker run --help` and command of `docker --help` (recorded in fixtures/)
//! either supported or refused by name.

mod containers_support;

use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

use containers_support::Wharf;

fn code(o: &std::process::Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn out(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn format_templates_on_listings_and_inspect() {
    let w = Wharf::new();
    w.detached(
        &["--name", "web", "-l", "tier=front", "-v", "site:/www"],
        &["sleep", "100"],
    );
    // The issue: a template was ignored and the whole table printed.
    assert_eq!(w.ok(&["ps", "--format", "{{.Names}}"]), "web\n");
    assert_eq!(
        w.ok(&[
            "ps",
            "--format",
            "{{.Names}} {{.Label \"tier\"}} {{.Image}} {{.State}}"
        ]),
        "web front wharf/demo running\n"
    );
    let t = w.ok(&["ps", "--format", "table {{.Names}}\\t{{.Status}}"]);
    let lines: Vec<&str> = t.lines().collect();
    assert!(
        lines[0].starts_with("NAMES") && lines[0].contains("STATUS"),
        "{t}"
    );
    assert!(
        lines[1].starts_with("web ") && lines[1].contains("Up"),
        "{t}"
    );
    // Columns line up as docker's tabwriter does them (min width 10, padding 3).
    assert_eq!(lines[0].find("STATUS"), lines[1].find("Up"), "{t}");
    let j: serde_json::Value =
        serde_json::from_str(w.ok(&["ps", "--format", "json"]).trim()).expect("one JSON line");
    assert_eq!(j["Names"], "web");
    assert_eq!(j["Mounts"], "site");
    assert_eq!(j["LocalVolumes"], "1");
    assert_eq!(j["Labels"], "tier=front");
    // Unknown fields, functions and actions are errors that name them.
    for (f, word) in [
        ("{{.Nope}}", "Nope"),
        ("{{nosuch .Names}}", "nosuch"),
        ("{{template \"x\"}}", "template"),
    ] {
        let o = w.run(&["ps", "--format", f]);
        assert_eq!(code(&o), 125, "{f}");
        assert!(err(&o).contains(word), "{f}: {}", err(&o));
        assert!(out(&o).is_empty(), "{f}: nothing printed: {}", out(&o));
    }
    // inspect -f runs on the Docker-shaped JSON.
    assert_eq!(
        w.ok(&["inspect", "-f", "{{.State.Status}}", "web"]),
        "running\n"
    );
    assert_eq!(
        w.ok(&[
            "inspect",
            "-f",
            "{{range .Mounts}}{{.Name}}:{{.Destination}}{{end}}",
            "web"
        ]),
        "site:/www\n"
    );
    let m = w.ok(&["inspect", "--format", "{{json .Mounts}}", "web"]);
    assert!(
        m.starts_with("[{") && m.contains("\"Destination\":\"/www\""),
        "{m}"
    );
    assert!(w
        .ok(&[
            "inspect",
            "-f",
            "{{range .Config.Env}}{{println .}}{{end}}",
            "web"
        ])
        .contains("PATH="));
    assert_eq!(
        w.ok(&[
            "container",
            "inspect",
            "-f",
            "{{index .Config.Labels \"tier\"}}",
            "web"
        ]),
        "front\n"
    );
    assert_eq!(
        w.ok(&[
            "inspect",
            "-f",
            "{{.NetworkSettings.IPAddress}}|{{.HostConfig.NetworkMode}}",
            "web"
        ]),
        "|none\n"
    );
    // images, image inspect, history, volume and network ls/inspect, info, version, df.
    assert_eq!(
        w.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]),
        "wharf/demo:latest\n"
    );
    let it = w.ok(&["images", "--format", "table {{.Repository}}\t{{.Size}}"]);
    assert!(it.starts_with("REPOSITORY") && it.contains("SIZE"), "{it}");
    assert_eq!(
        w.ok(&["image", "inspect", "-f", "{{.Os}}", "wharf/demo"]),
        "linux\n"
    );
    assert!(!w
        .ok(&["history", "--format", "{{.Size}}", "wharf/demo"])
        .is_empty());
    assert_eq!(w.ok(&["volume", "ls", "--format", "{{.Name}}"]), "site\n");
    assert_eq!(
        w.ok(&["volume", "inspect", "-f", "{{.Driver}}", "site"]),
        "local\n"
    );
    assert!(w
        .ok(&["network", "ls", "--format", "{{.Name}}"])
        .lines()
        .any(|l| l == "none"));
    assert_eq!(
        w.ok(&["network", "inspect", "-f", "{{.Name}}", "none"]),
        "none\n"
    );
    assert_eq!(
        w.ok(&[
            "info",
            "--format",
            "{{.Containers}} {{.ContainersRunning}} {{.Images}}"
        ]),
        "1 1 1\n"
    );
    let v = w.ok(&[
        "version",
        "--format",
        "{{.Client.Version}} {{.Server.Version}}",
    ]);
    assert_eq!(v.split_whitespace().count(), 2, "{v}");
    let df = w.ok(&["system", "df", "--format", "{{.Type}}"]);
    assert_eq!(
        df,
        "Images\nStaging\nContainers\nLocal Volumes\nBuild Cache\n"
    );
    let st = w.ok(&["stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}"]);
    assert_eq!(st, "web 1\n");
}

#[test]
fn info_and_system_df_count_what_is_there() {
    let w = Wharf::new();
    w.detached(&["--name", "up", "-v", "data:/data"], &["sleep", "100"]);
    w.ok(&[
        "run",
        "--network",
        "none",
        "--name",
        "done",
        "wharf/demo",
        "sh",
        "-c",
        "dd if=/dev/zero of=/blob bs=1k count=200 2>/dev/null",
    ]);
    w.ok(&["volume", "create", "spare"]);
    let info = w.ok(&["info"]);
    assert!(info.contains("Images:       1"), "{info}");
    assert!(
        info.contains("Containers:   2 (running 1, paused 0, stopped 1)"),
        "{info}"
    );
    let df = w.ok(&["system", "df"]);
    let row = |ty: &str| -> Vec<String> {
        df.lines()
            .find(|l| l.starts_with(ty))
            .unwrap_or_else(|| panic!("no {ty} row: {df}"))[ty.len()..]
            .split_whitespace()
            .map(String::from)
            .collect()
    };
    assert_eq!(row("Images")[..2], ["1", "1"], "{df}");
    assert!(df.lines().any(|l| l.starts_with("Staging")), "{df}");
    let c = row("Containers");
    assert_eq!(c[..2], ["2", "1"], "{df}");
    assert!(c[2].ends_with("kB"), "the stopped one's 200 kB: {df}");
    assert!(c[3].ends_with("kB") && c[4] == "(100%)", "{df}");
    assert_eq!(row("Local Volumes")[..2], ["2", "1"], "{df}");
    assert_eq!(row("Build Cache")[..2], ["0", "0"], "{df}");
    let v = w.ok(&["system", "df", "-v"]);
    for part in [
        "Images space usage:",
        "Containers space usage:",
        "Local Volumes space usage:",
        "Build cache usage: 0B",
    ] {
        assert!(v.contains(part), "{part}: {v}");
    }
    assert!(v.lines().any(|l| l.starts_with("spare ")), "{v}");
    // system prune: stopped containers and dangling images go; volumes only with --volumes.
    let p = w.ok(&["system", "prune", "-f"]);
    assert!(
        p.contains("Deleted Containers:") && p.contains("Total reclaimed space"),
        "{p}"
    );
    assert_eq!(w.ok(&["ps", "-aq"]).lines().count(), 1);
    assert!(w.ok(&["volume", "ls", "-q"]).contains("spare"));
    let o = w.run(&["system", "prune", "-f", "--filter", "until=1h"]);
    assert_eq!(code(&o), 125);
    assert!(err(&o).contains("--filter"), "{}", err(&o));
}

/// Read what `child` prints within `wait`, then kill it.
fn output_for(mut child: std::process::Child, wait: Duration) -> String {
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    while start.elapsed() < wait {
        if child.try_wait().ok().flatten().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    reader.join().expect("reader")
}

#[test]
fn events_follow_only_new_ones_unless_since() {
    let w = Wharf::new();
    w.ok(&[
        "create",
        "--network",
        "none",
        "--name",
        "old",
        "wharf/demo",
        "true",
    ]);
    // Without --since: nothing of the past, only what happens from now on.
    let child = w
        .cmd(&[
            "events",
            "--format",
            "{{.Action}} {{.Actor.Attributes.name}}",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("events");
    std::thread::sleep(Duration::from_millis(700));
    w.ok(&[
        "create",
        "--network",
        "none",
        "--name",
        "new",
        "wharf/demo",
        "true",
    ]);
    let seen = output_for(child, Duration::from_secs(2));
    assert!(!seen.contains("old"), "history was printed: {seen}");
    assert!(seen.contains("create new"), "the new event: {seen}");
    // --until without --since: the history up to then, and no following.
    let past = w.ok(&[
        "events",
        "--until",
        "0s",
        "--format",
        "{{.Action}} {{.Actor.Attributes.name}}",
    ]);
    assert!(
        past.contains("create old") && past.contains("create new"),
        "{past}"
    );
    // --since: history from then.
    let since = w.ok(&[
        "events",
        "--since",
        "10m",
        "--until",
        "0s",
        "--filter",
        "container=old",
    ]);
    assert!(since.contains("container create"), "{since}");
}

#[test]
fn a_terminal_is_asked_for_only_with_a_terminal() {
    let w = Wharf::new();
    w.detached(&["--name", "box"], &["sleep", "100"]);
    // stdin is /dev/null here: -t with -i is refused as docker refuses it.
    for args in [
        vec!["exec", "-t", "-i", "box", "sh"],
        vec!["exec", "-it", "box", "sh"],
        vec![
            "run",
            "-it",
            "--rm",
            "--network",
            "none",
            "wharf/demo",
            "sh",
        ],
        vec![
            "container",
            "run",
            "-ti",
            "--rm",
            "--network",
            "none",
            "wharf/demo",
            "sh",
        ],
    ] {
        let o = w.run(&args);
        assert_eq!(code(&o), 1, "{args:?}: {}", err(&o));
        assert!(
            err(&o).contains("the input device is not a TTY"),
            "{args:?}: {}",
            err(&o)
        );
    }
    assert_eq!(
        w.ok(&["ps", "-aq"]).lines().count(),
        1,
        "run -it made nothing"
    );
    // attach to a container with a terminal, without one.
    w.detached(&["--name", "tty", "-t", "-i"], &["sh"]);
    let o = w.run(&["attach", "tty"]);
    assert_eq!(code(&o), 1, "{}", err(&o));
    assert!(err(&o).contains("not a TTY"), "{}", err(&o));
    // Without -i, or without -t, there is nothing to refuse.
    assert_eq!(w.ok(&["exec", "-t", "box", "echo", "ok"]).trim(), "ok");
    assert_eq!(w.ok(&["exec", "-i", "box", "echo", "ok"]).trim(), "ok");
    // --detach-keys are read by docker's grammar.
    let o = w.run(&["attach", "--detach-keys", "ctrl-", "box"]);
    assert_eq!(code(&o), 125);
    assert!(err(&o).contains("--detach-keys"), "{}", err(&o));
}

#[test]
fn version_management_forms_and_log_drivers() {
    let w = Wharf::new();
    let v = w.ok(&["version"]);
    assert!(
        v.starts_with("Client:") && v.contains("\nServer: wharf"),
        "{v}"
    );
    assert!(v.contains("API version:"), "{v}");
    // The management forms are the same commands.
    let id = w.ok(&[
        "container",
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        "mm",
        "wharf/demo",
        "sleep",
        "100",
    ]);
    assert_eq!(w.ok(&["container", "ls", "-q", "--no-trunc"]), id);
    assert_eq!(w.ok(&["container", "exec", "mm", "echo", "hi"]), "hi\n");
    assert!(w.ok(&["container", "top", "mm"]).contains("sleep"));
    w.ok(&["container", "stop", "-t", "0", "mm"]);
    w.ok(&["container", "commit", "mm", "snap:1"]);
    assert!(w.ok(&["image", "ls"]).contains("snap"));
    assert!(w.ok(&["image", "history", "snap:1"]).contains("IMAGE"));
    assert!(w.ok(&["history", "snap:1"]).contains("CREATED BY"));
    w.ok(&["image", "tag", "snap:1", "snap:2"]);
    w.ok(&["image", "rm", "snap:2"]);
    w.ok(&["container", "rm", "mm"]);
    // --log-driver: json-file and none; none keeps no log and says so.
    w.ok(&[
        "run",
        "--network",
        "none",
        "--name",
        "quiet",
        "--log-driver",
        "none",
        "wharf/demo",
        "echo",
        "hi",
    ]);
    let o = w.run(&["logs", "quiet"]);
    assert_ne!(code(&o), 0);
    assert!(err(&o).contains("does not support reading"), "{}", err(&o));
    assert_eq!(
        w.ok(&["inspect", "-f", "{{.HostConfig.LogConfig.Type}}", "quiet"]),
        "none\n"
    );
    for d in ["local", "syslog", "journald"] {
        let o = w.run(&["run", "--log-driver", d, "wharf/demo", "true"]);
        assert_eq!(code(&o), 125, "{d}");
        assert!(
            err(&o).contains("--log-driver") && err(&o).contains(d),
            "{}",
            err(&o)
        );
    }
    // --label-file, --cidfile, --pull never.
    let lf = w.root().join("labels");
    std::fs::write(&lf, "# labels\na=1\nb=two\n").unwrap();
    let cid = w.root().join("cid");
    let id = w.ok(&[
        "create",
        "--network",
        "none",
        "--label-file",
        lf.to_str().unwrap(),
        "--cidfile",
        cid.to_str().unwrap(),
        "--pull",
        "never",
        "wharf/demo",
    ]);
    assert_eq!(std::fs::read_to_string(&cid).unwrap(), id.trim());
    assert_eq!(
        w.ok(&[
            "inspect",
            "-f",
            "{{.Config.Labels.a}}{{.Config.Labels.b}}",
            id.trim()
        ]),
        "1two\n"
    );
    let o = w.run(&["create", "--cidfile", cid.to_str().unwrap(), "wharf/demo"]);
    assert_eq!(code(&o), 125, "an existing cidfile is refused");
    let o = w.run(&["run", "--pull", "never", "no/such:image"]);
    assert_eq!(code(&o), 125);
    // search answers clearly.
    let o = w.run(&["search", "busybox"]);
    assert_eq!(code(&o), 125);
    assert!(err(&o).contains("search"), "{}", err(&o));
}

/// `--flag` names in a docker help text's option lines.
fn help_flags(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for l in text.lines() {
        let t = l.trim_start();
        if !t.starts_with('-') {
            continue;
        }
        for word in t.split_whitespace() {
            let w = word.trim_end_matches(',');
            if let Some(name) = w.strip_prefix("--") {
                out.push(format!("--{name}"));
                break;
            }
        }
    }
    out
}

/// Command names in `docker --help`'s command sections.
fn help_commands(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_commands = false;
    for l in text.lines() {
        if l.ends_with("Commands:") {
            in_commands = true;
            continue;
        }
        if l.trim().is_empty() || !l.starts_with("  ") {
            in_commands = false;
            continue;
        }
        if in_commands {
            if let Some(c) = l.split_whitespace().next() {
                out.push(c.to_string());
            }
        }
    }
    out
}

#[test]
fn every_docker_run_flag_is_supported_or_refused_by_name() {
    let w = Wharf::new();
    let help = include_str!("fixtures/docker-run-help.txt");
    let flags = help_flags(help);
    assert!(
        flags.len() > 90,
        "the fixture lists docker run's flags: {flags:?}"
    );
    let ours = w.ok(&["run", "--help"]);
    let mut refused = Vec::new();
    for f in &flags {
        if ours.contains(&format!("{f} "))
            || ours.contains(&format!("{f}\n"))
            || ours.contains(&format!("{f}="))
            || ours.contains(&format!("{f} <"))
        {
            // Supported: the flag parses (the run itself may want a real value).
            continue;
        }
        let o = w.run(&["run", f, "x", "wharf/demo", "true"]);
        assert_ne!(code(&o), 0, "{f}: accepted silently");
        assert!(
            err(&o).contains(f.as_str()) && err(&o).contains("not supported"),
            "{f}: the refusal names the flag: {}",
            err(&o)
        );
        refused.push(f.clone());
    }
    // The flags of docker's run that the course uses are wharf's own.
    for f in [
        "--add-host",
        "--dns",
        "--ip",
        "--network-alias",
        "--shm-size",
        "--stop-signal",
        "--stop-timeout",
        "--label-file",
        "--env-file",
        "--cidfile",
        "--pull",
        "--log-driver",
        "--log-opt",
        "--sig-proxy",
        "--detach-keys",
    ] {
        assert!(!refused.contains(&f.to_string()), "{f} is supported");
    }
    // --device, --group-add and --mac-address are refused by name.
    for f in ["--device", "--group-add", "--mac-address"] {
        assert!(refused.contains(&f.to_string()), "{f}");
    }
}

#[test]
fn every_docker_command_and_global_option_is_supported_or_refused_by_name() {
    let w = Wharf::new();
    let help = include_str!("fixtures/docker-help.txt");
    let commands = help_commands(help);
    assert!(commands.len() > 50, "{commands:?}");
    for c in &commands {
        let o = w.run(&[c, "--help"]);
        if code(&o) == 0 {
            continue;
        }
        let o = w.run(&[c]);
        assert_ne!(code(&o), 0, "{c}");
        assert!(
            err(&o).contains(&format!("`{c}`")) && err(&o).contains("not supported"),
            "{c}: {}",
            err(&o)
        );
    }
    // Global options: wharf's own, or refused by name.
    let ours = w.ok(&["--help"]);
    let globals = help_flags(&help[help.find("Global Options:").expect("global options")..]);
    assert!(globals.len() >= 10, "{globals:?}");
    for f in &globals {
        if ours.contains(&format!("{f} ")) || ours.contains(&format!("{f}\n")) {
            continue;
        }
        let o = w.run(&[f, "x", "ps"]);
        assert_ne!(code(&o), 0, "{f}");
        assert!(err(&o).contains(f.as_str()), "{f}: {}", err(&o));
    }
    // -H is --host, -v is --version, as in docker.
    assert!(w.ok(&["-v"]).starts_with("wharf "));
}
