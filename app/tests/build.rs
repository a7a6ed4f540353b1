//! `wharf build`: every instruction of the Dockerfile reference, built from the test's
//! own busybox image (offline), checked for files, config and history; the same
//! Dockerfiles as Docker 20.10's classic builder built them (fixtures recorded by
//! scripts/record-build-fixtures.sh, compared field by field); the cache; failures that
//! leave nothing behind; bad input; the Docker CLI, docker-py and docker-compose against
//! `wharf serve`.

mod containers_support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use containers_support::Wharf;
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../engine/tests/fixtures/build")
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Build `ctx` with `flags` (plain progress), insist on success, return the output.
fn build(w: &Wharf, ctx: &Path, flags: &[&str]) -> String {
    let mut args = vec!["build", "--progress", "plain"];
    args.extend_from_slice(flags);
    let c = ctx.display().to_string();
    args.push(&c);
    w.ok(&args)
}

/// The flags builds.txt gives a fixture.
fn fixture_flags(name: &str) -> Vec<String> {
    let list = std::fs::read_to_string(fixtures().join("builds.txt")).unwrap();
    for l in list.lines().filter(|l| !l.starts_with('#')) {
        if let Some((n, f)) = l.split_once('|') {
            if n.trim() == name {
                return f.split_whitespace().map(String::from).collect();
            }
        }
    }
    panic!("no fixture {name}");
}

/// The stored config of an image (for its history with empty_layer).
fn config_of(w: &Wharf, reference: &str) -> Value {
    let v: Value = serde_json::from_str(&w.ok(&["image", "inspect", reference])).unwrap();
    let id = v[0]["Id"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_string();
    let blob = std::fs::read(w.root().join("blobs/sha256").join(&id)).unwrap();
    serde_json::from_slice(&blob).unwrap()
}

/// `COPY file:<64 hex>` -> `COPY file:<sum>`: checksums are the builder's own.
fn norm(s: &str) -> String {
    let re = regex::Regex::new(r"(file|dir|multi):[0-9a-f]{64}").unwrap();
    re.replace_all(s, "$1:<sum>").into_owned()
}

fn history(cfg: &Value) -> Vec<(String, bool, String)> {
    cfg["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                norm(h["created_by"].as_str().unwrap_or("")),
                h["empty_layer"].as_bool().unwrap_or(false),
                h["author"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// Compare wharf's build of fixture `name` with what dockerd made of it.
fn compare_with_docker(w: &Wharf, name: &str) {
    let want: Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join(name).join("docker.json")).unwrap(),
    )
    .unwrap();
    let got: Value =
        serde_json::from_str(&w.ok(&["image", "inspect", &format!("fx/{name}")])).unwrap();
    let got = &got[0];
    for k in [
        "Env",
        "Cmd",
        "Entrypoint",
        "WorkingDir",
        "User",
        "ExposedPorts",
        "Volumes",
        "Labels",
        "Healthcheck",
        "StopSignal",
        "OnBuild",
        "Shell",
    ] {
        let g = got["Config"].get(k).cloned().unwrap_or(Value::Null);
        let d = want["Config"].get(k).cloned().unwrap_or(Value::Null);
        assert_eq!(g, d, "{name}: Config.{k}: wharf {g} docker {d}");
    }
    assert_eq!(
        got["Author"].as_str().unwrap_or(""),
        want["Author"].as_str().unwrap_or(""),
        "{name}: Author"
    );
    assert_eq!(
        got["RootFS"]["Layers"]
            .as_array()
            .map(|a| a.len())
            .unwrap_or(0) as u64,
        want["Layers"].as_u64().unwrap(),
        "{name}: number of layers"
    );
    let mine = history(&config_of(w, &format!("fx/{name}")));
    let theirs: Vec<(String, bool, String)> = want["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                norm(h["created_by"].as_str().unwrap_or("")),
                h["empty_layer"].as_bool().unwrap_or(false),
                h["author"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        mine.len(),
        theirs.len(),
        "{name}: history length\nwharf: {mine:#?}\ndocker: {theirs:#?}"
    );
    for (i, (m, t)) in mine.iter().zip(&theirs).enumerate() {
        assert_eq!(m, t, "{name}: history entry {i}");
    }
}

/// `sh -c script` in a container of `image` (as root, entrypoint cleared).
fn sh(w: &Wharf, image: &str, script: &str) -> String {
    w.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-u",
        "0",
        "--entrypoint",
        "",
        image,
        "sh",
        "-c",
        script,
    ])
}

#[test]
fn fixtures_match_docker_classic_builder() {
    let w = Wharf::new();
    for name in ["all", "onbuild", "multistage", "entry", "args"] {
        let flags = fixture_flags(name);
        let mut f: Vec<&str> = vec!["-t"];
        let tag = format!("fx/{name}");
        f.push(&tag);
        f.extend(flags.iter().map(String::as_str));
        let out = build(&w, &fixtures().join(name).join("ctx"), &f);
        assert!(
            out.contains(&format!("Successfully tagged fx/{name}:latest")),
            "{out}"
        );
        compare_with_docker(&w, name);
    }
    // The files each instruction made.
    let files = sh(
        &w,
        "fx/all",
        "cat /srv/app/hello.txt /etc/app/one.conf /etc/app/two.conf /srv/data/f.txt /srv/data/sub/deep.txt \
         /opt/pkg/packed.txt /opt/hello-added.txt /srv/app/built.txt /srv/app/exec.txt /tmp/shell.txt; \
         stat -c '%U:%G %n' /srv/data /srv/data/f.txt /srv/data/sub; \
         ls /srv/data; test -e /www/index.html && echo index-still-there; test -e /srv/app/README.md && echo readme; echo end",
    );
    assert_eq!(
        files,
        "hello\none\ntwo\nin dir\ndeep\npacked\nhello\nbuilt 1.0\nexec form\nshell is /bin/sh\n\
         app:app /srv/data\napp:app /srv/data/f.txt\napp:app /srv/data/sub\nf.txt\nsub\nend\n",
        "the .dockerignore'd secret is not copied, the deleted index.html is gone (a whiteout)"
    );
    assert_eq!(
        sh(&w, "fx/onbuild", "cat /tmp/onbuild.txt; echo $FROM_TRIGGER"),
        "triggered\n1\n"
    );
    assert_eq!(
        sh(&w, "fx/args", "cat /args.txt"),
        "given from-env http://proxy.invalid:3128\nlate\n"
    );
    let out = w.ok(&["run", "--rm", "--network", "none", "fx/entry"]);
    assert_eq!(out, "entry\n", "ENTRYPOINT in shell form ignores CMD");
    // The run of the image starts as its USER, in its WORKDIR, with its ENTRYPOINT.
    let out = w.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "fx/all",
        "id -un; pwd; echo $GREETING",
    ]);
    assert_eq!(out, "app\n/srv/app\nhello world\n");
    // The final stage FROM scratch has only what COPY --from put there.
    let o = w.run(&["run", "--rm", "--network", "none", "fx/multistage"]);
    assert!(
        !o.status.success(),
        "scratch has no shell to run its CMD: {}",
        text(&o)
    );
    let o = w.ok(&[
        "export",
        "-o",
        &w.root().join("ms.tar").display().to_string(),
        w.ok(&["create", "fx/multistage"]).trim(),
    ]);
    let _ = o;
    let mut names: Vec<String> =
        tar::Archive::new(std::fs::File::open(w.root().join("ms.tar")).unwrap())
            .entries()
            .unwrap()
            .map(|e| {
                e.unwrap()
                    .path()
                    .unwrap()
                    .display()
                    .to_string()
                    .trim_end_matches('/')
                    .to_string()
            })
            .collect();
    names.sort();
    assert!(
        names.contains(&"app/result.txt".to_string())
            && names.contains(&"app/main.txt".to_string())
            && names.contains(&"single.txt".to_string()),
        "{names:?}"
    );
    assert!(!names.iter().any(|n| n.starts_with("bin")), "{names:?}");
    w.ok(&["rm", "-f", w.ok(&["ps", "-aq"]).trim()]);
}

fn ctx_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let d = tempfile::Builder::new()
        .prefix("wbctx")
        .tempdir_in("/tmp")
        .unwrap();
    for (name, content) in files {
        let p = d.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    d
}

#[test]
fn buildkit_syntax_heredocs_chmod_and_stages_only_as_needed() {
    let w = Wharf::new();
    let c = ctx_with(&[
        (
            "Dockerfile",
            "# syntax=docker/dockerfile:1.4\n\
FROM wharf/demo AS base\n\
ARG NAME=world\n\
RUN <<EOF\n\
echo one > /one\n\
echo \"hi $NAME\" > /two\n\
EOF\n\
COPY <<-EOT /etc/greeting\n\
\thello ${NAME}\n\
\tEOT\n\
COPY <<'RAW' /raw.txt\n\
not $NAME\n\
RAW\n\
COPY --chmod=751 run.sh /usr/local/bin/\n\
RUN <<EOF\n\
#!/usr/bin/awk -f\n\
BEGIN { print \"awk ran\" > \"/awk.txt\" }\n\
EOF\n\
RUN cat <<A > /three\n\
three\n\
A\n\
FROM wharf/demo AS broken\n\
RUN exit 7\n\
FROM base AS final\n\
RUN cat /one /two /etc/greeting /raw.txt /three /awk.txt && stat -c %a /usr/local/bin/run.sh\n",
        ),
        ("run.sh", "#!/bin/sh\necho run\n"),
    ]);
    let out = build(&w, c.path(), &["-t", "hd"]);
    assert!(
        out.contains("one\nhi world\nhello world\nnot $NAME\nthree\nawk ran\n751\n"),
        "{out}"
    );
    assert!(
        !out.contains("exit 7"),
        "the stage the target does not need is not built: {out}"
    );
    // --target picks a stage; only its own (and its bases') steps run.
    let out = build(&w, c.path(), &["-t", "only-base", "--target", "base"]);
    assert!(out.contains("Step 8/8"), "{out}");
    let o = w.run(&[
        "build",
        "--progress",
        "plain",
        "--target",
        "broken",
        &c.path().display().to_string(),
    ]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("The command '/bin/sh -c exit 7' returned a non-zero code: 7"),
        "{}",
        text(&o)
    );
    let o = w.run(&["build", "--target", "nope", &c.path().display().to_string()]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("nope"),
        "{}",
        text(&o)
    );
}

#[test]
fn cache_skips_unchanged_steps_and_reruns_from_a_changed_copy() {
    let w = Wharf::new();
    let c = ctx_with(&[
        ("Dockerfile", "FROM wharf/demo\nRUN echo first > /first\nCOPY a.txt /a.txt\nRUN cat /a.txt > /copy\nCOPY b.txt /b.txt\nRUN echo last\n"),
        ("a.txt", "a1\n"),
        ("b.txt", "b1\n"),
    ]);
    let first = build(&w, c.path(), &["-t", "cached"]);
    assert_eq!(first.matches("Running in").count(), 3, "{first}");
    let id1 = w.ok(&["images", "-q", "cached"]);
    // Unchanged: no RUN at all, the same image.
    let again = build(&w, c.path(), &["-t", "cached"]);
    assert_eq!(again.matches("Using cache").count(), 5, "{again}");
    assert!(!again.contains("Running in"), "{again}");
    assert_eq!(w.ok(&["images", "-q", "cached"]), id1);
    // One copied file changes: exactly the steps from its COPY on run again.
    std::fs::write(c.path().join("a.txt"), "a2\n").unwrap();
    let third = build(&w, c.path(), &["-t", "cached"]);
    assert_eq!(
        third.matches("Using cache").count(),
        1,
        "only the first RUN: {third}"
    );
    assert_eq!(third.matches("Running in").count(), 2, "{third}");
    assert_eq!(sh(&w, "cached", "cat /copy"), "a2\n");
    // --no-cache runs everything.
    let fresh = build(&w, c.path(), &["--no-cache"]);
    assert_eq!(fresh.matches("Running in").count(), 3, "{fresh}");
    assert!(!fresh.contains("Using cache"));
    // The cache shows in system df, is listed, and builder prune empties it.
    let df = w.ok(&["system", "df"]);
    let row = df
        .lines()
        .find(|l| l.starts_with("Build Cache"))
        .unwrap()
        .to_string();
    assert!(!row.contains("Build Cache     0 "), "{df}");
    assert!(w.ok(&["builder", "ls"]).contains("COPY file:"));
    let hidden = w.ok(&["images", "-q"]).lines().count();
    let all = w.ok(&["images", "-aq"]).lines().count();
    assert!(all > hidden, "intermediate images show with -a only");
    let pruned = w.ok(&["builder", "prune", "-f"]);
    assert!(
        pruned.contains("Deleted build cache objects:")
            && pruned.contains("Total reclaimed space:"),
        "{pruned}"
    );
    let df = w.ok(&["system", "df"]);
    let row = df.lines().find(|l| l.starts_with("Build Cache")).unwrap();
    assert!(row.split_whitespace().nth(2) == Some("0"), "{df}");
    // The tagged result stays; the intermediate images went.
    assert!(w.ok(&["images", "-q", "cached"]).trim().len() == 12);
    assert_eq!(
        w.ok(&["images", "-aq"]).lines().count(),
        hidden,
        "only tagged images are left"
    );
    let again = build(&w, c.path(), &["-t", "cached"]);
    assert_eq!(again.matches("Running in").count(), 3, "{again}");
}

#[test]
fn failures_leave_nothing_and_errors_say_where() {
    let w = Wharf::new();
    let c = ctx_with(&[(
        "Dockerfile",
        "FROM wharf/demo\nRUN echo before\nRUN echo out; echo err >&2; exit 3\nRUN echo never\n",
    )]);
    let before = w.ok(&["images", "-aq"]).lines().count();
    let o = w.run(&[
        "build",
        "--progress",
        "plain",
        "-t",
        "broken",
        &c.path().display().to_string(),
    ]);
    assert!(!o.status.success());
    let s = text(&o);
    assert!(
        s.contains(
            "The command '/bin/sh -c echo out; echo err >&2; exit 3' returned a non-zero code: 3"
        ),
        "{s}"
    );
    assert!(
        s.contains("out\n") && s.contains("err\n"),
        "the step's output is shown: {s}"
    );
    assert!(!s.contains("never"), "{s}");
    assert_eq!(w.ok(&["ps", "-aq"]), "", "no container is left");
    assert!(
        w.ok(&["images", "-q", "broken"]).is_empty(),
        "no image is tagged"
    );
    // Only the successful step's image (cache) was added.
    assert_eq!(w.ok(&["images", "-aq"]).lines().count(), before + 1);
    // A Dockerfile error names the line and the instruction.
    let bad = ctx_with(&[("Dockerfile", "FROM wharf/demo\n\nCOPY onlyone\n")]);
    let o = w.run(&["build", &bad.path().display().to_string()]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("line 3: COPY"),
        "{}",
        text(&o)
    );
    let bad = ctx_with(&[(
        "Dockerfile",
        "FROM wharf/demo\nRUN --mount=type=cache,target=/x true\n",
    )]);
    let o = w.run(&["build", &bad.path().display().to_string()]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("line 2: RUN")
            && String::from_utf8_lossy(&o.stderr).contains("--mount"),
        "{}",
        text(&o)
    );
    let bad = ctx_with(&[("Dockerfile", "FROM nothere/image\n")]);
    let o = w.run(&["build", &bad.path().display().to_string()]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("offline"),
        "{}",
        text(&o)
    );
    // Paths out of the context are refused: ../x, and symlinks out.
    let outside = ctx_with(&[
        ("sub/Dockerfile", "FROM wharf/demo\nCOPY ../secret /x\n"),
        ("secret", "s"),
    ]);
    let o = w.run(&["build", &outside.path().join("sub").display().to_string()]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("outside the build context"),
        "{}",
        text(&o)
    );
    let link = ctx_with(&[("Dockerfile", "FROM wharf/demo\nCOPY passwd /x\n")]);
    std::os::unix::fs::symlink("/etc/passwd", link.path().join("passwd")).unwrap();
    let o = w.run(&["build", &link.path().display().to_string()]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("points outside the build context"),
        "{}",
        text(&o)
    );
    let link = ctx_with(&[("Dockerfile", "FROM wharf/demo\nCOPY up /x\n")]);
    std::os::unix::fs::symlink("../../../etc", link.path().join("up")).unwrap();
    let o = w.run(&["build", &link.path().display().to_string()]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("points outside the build context"),
        "{}",
        text(&o)
    );
    // Offline: ADD of a URL and --pull are refused with the reason.
    let url = ctx_with(&[(
        "Dockerfile",
        "FROM wharf/demo\nADD https://example.com/x /x\n",
    )]);
    let o = w.run(&["build", &url.path().display().to_string()]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("offline"),
        "{}",
        text(&o)
    );
    let o = w.run(&["build", "--pull", &c.path().display().to_string()]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--pull")
            && String::from_utf8_lossy(&o.stderr).contains("offline"),
        "{}",
        text(&o)
    );
    let o = w.run(&[
        "build",
        "--platform",
        "linux/s390x",
        &c.path().display().to_string(),
    ]);
    assert!(
        !o.status.success() && String::from_utf8_lossy(&o.stderr).contains("platform"),
        "{}",
        text(&o)
    );
    assert_eq!(w.ok(&["ps", "-aq"]), "");
}

#[test]
fn context_from_stdin_and_dockerfile_from_stdin() {
    let w = Wharf::new();
    // A tar on stdin is the context.
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in [
        (
            "Dockerfile",
            &b"FROM wharf/demo\nCOPY f /f\nRUN cat /f\n"[..],
        ),
        ("f", &b"from a tar\n"[..]),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, data).unwrap();
    }
    let tarball = b.into_inner().unwrap();
    let run = |args: &[&str], input: &[u8]| -> Output {
        let mut ch = w
            .cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        ch.stdin.take().unwrap().write_all(input).unwrap();
        ch.wait_with_output().unwrap()
    };
    let o = run(
        &["build", "--progress", "plain", "-t", "fromtar", "-"],
        &tarball,
    );
    assert!(
        o.status.success() && String::from_utf8_lossy(&o.stdout).contains("from a tar"),
        "{}",
        text(&o)
    );
    // A Dockerfile on stdin, no context.
    let o = run(
        &["build", "--progress", "plain", "-q", "-"],
        b"FROM wharf/demo\nRUN echo no context\n",
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout)
            .trim()
            .starts_with("sha256:"),
        "-q prints the id only: {}",
        text(&o)
    );
    // -f - with a context directory.
    let c = ctx_with(&[("data.txt", "ctx data\n")]);
    let o = run(
        &[
            "build",
            "--progress",
            "plain",
            "-f",
            "-",
            "-t",
            "dash-f",
            &c.path().display().to_string(),
        ],
        b"FROM wharf/demo\nCOPY data.txt /\nRUN cat /data.txt\n",
    );
    assert!(
        o.status.success() && String::from_utf8_lossy(&o.stdout).contains("ctx data"),
        "{}",
        text(&o)
    );
    // -f naming another file, build args and labels.
    let c = ctx_with(&[(
        "other.Dockerfile",
        "FROM wharf/demo\nARG WHO\nRUN echo \"hi $WHO\"\n",
    )]);
    let out = build(
        &w,
        c.path(),
        &[
            "-f",
            &c.path().join("other.Dockerfile").display().to_string(),
            "--build-arg",
            "WHO=you",
            "--label",
            "a=b",
            "-t",
            "one",
            "-t",
            "two:2",
        ],
    );
    assert!(
        out.contains("hi you")
            && out.contains("Successfully tagged one:latest")
            && out.contains("Successfully tagged two:2"),
        "{out}"
    );
    let v: Value = serde_json::from_str(&w.ok(&["image", "inspect", "two:2"])).unwrap();
    assert_eq!(v[0]["Config"]["Labels"]["a"], "b");
}

// ---------------------------------------------------------------------------------
// Docker clients against `wharf serve`

struct Server {
    w: Wharf,
    child: std::process::Child,
    sock: PathBuf,
}

impl Server {
    fn start() -> Self {
        let w = Wharf::new();
        let sock = w.root().join("w.sock");
        let child = w
            .cmd(&["serve", "--socket", &sock.display().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::os::unix::net::UnixStream::connect(&sock).is_err() {
            assert!(Instant::now() < deadline, "wharf serve did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Server { w, child, sock }
    }
    fn docker(&self, args: &[&str], dir: &Path) -> Output {
        Command::new("docker")
            .args(args)
            .current_dir(dir)
            .env("DOCKER_HOST", format!("unix://{}", self.sock.display()))
            .env("DOCKER_CONFIG", self.w.root().join("dockercfg"))
            .env("DOCKER_BUILDKIT", "0")
            .env("DOCKER_CLI_HINTS", "false")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.child.wait();
    }
}

fn have(cmd: &str, arg: &str) -> bool {
    Command::new(cmd)
        .arg(arg)
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn docker_cli_docker_py_and_compose_build_through_wharf_serve() {
    if !have("docker", "--version") {
        eprintln!("skipped: the docker CLI is not installed");
        return;
    }
    let s = Server::start();
    let c = ctx_with(&[
        ("Dockerfile", "FROM wharf/demo\nARG MSG=none\nCOPY hello.txt /hello.txt\nRUN echo \"msg $MSG\" && cat /hello.txt\nCMD [\"cat\", \"/hello.txt\"]\n"),
        ("hello.txt", "hello docker\n"),
    ]);
    let o = s.docker(
        &["build", "-t", "viadocker:1", "--build-arg", "MSG=cli", "."],
        c.path(),
    );
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    for want in [
        "Step 1/5 : FROM wharf/demo",
        " ---> Running in ",
        "msg cli",
        "hello docker",
        "Successfully built ",
        "Successfully tagged viadocker:1",
    ] {
        assert!(out.contains(want), "{want:?} in {out}");
    }
    assert_eq!(
        s.w.ok(&["run", "--rm", "--network", "none", "viadocker:1"]),
        "hello docker\n"
    );
    // Again: from the cache.
    let o = s.docker(&["build", "-q", "-t", "viadocker:1", "."], c.path());
    assert!(
        o.status.success()
            && String::from_utf8_lossy(&o.stdout)
                .trim()
                .starts_with("sha256:"),
        "{}",
        text(&o)
    );
    // A failing step: docker build fails with the step's message; nothing is left.
    let bad = ctx_with(&[(
        "Dockerfile",
        "FROM wharf/demo\nRUN echo failing && exit 5\n",
    )]);
    let o = s.docker(&["build", "-t", "bad", "."], bad.path());
    assert!(!o.status.success());
    assert!(
        text(&o).contains("returned a non-zero code: 5"),
        "{}",
        text(&o)
    );
    assert_eq!(s.w.ok(&["ps", "-aq"]), "");
    // builder prune through the API answers what it removed.
    let o = s.docker(&["builder", "prune", "-f"], c.path());
    assert!(
        o.status.success() && text(&o).contains("Total reclaimed space"),
        "{}",
        text(&o)
    );

    if have("python3", "-c")
        && Command::new("python3")
            .args(["-c", "import docker"])
            .output()
            .is_ok_and(|o| o.status.success())
    {
        let script = r#"
import docker, os, sys
c = docker.DockerClient(base_url=os.environ["DOCKER_HOST"])
img, logs = c.images.build(path=sys.argv[1], tag="frompy:1", buildargs={"MSG": "py"}, rm=True)
lines = "".join(l.get("stream", "") for l in logs)
assert "msg py" in lines, lines
assert "frompy:1" in img.tags, img.tags
try:
    c.images.build(path=sys.argv[2], tag="pybad")
    raise SystemExit("a failing build raised nothing")
except docker.errors.BuildError as e:
    assert "non-zero code: 5" in str(e), str(e)
print("docker-py build: ok")
"#;
        let o = Command::new("python3")
            .args([
                "-c",
                script,
                &c.path().display().to_string(),
                &bad.path().display().to_string(),
            ])
            .env("DOCKER_HOST", format!("unix://{}", s.sock.display()))
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            o.status.success() && text(&o).contains("docker-py build: ok"),
            "{}",
            text(&o)
        );
    } else {
        eprintln!("skipped: docker-py is not installed");
    }
    if have("docker-compose", "--version") {
        std::fs::write(
            c.path().join("docker-compose.yml"),
            "version: \"2\"\nservices:\n  app:\n    build:\n      context: .\n      args:\n        MSG: compose\n    image: fromcompose:1\n",
        )
        .unwrap();
        let o = Command::new("docker-compose")
            .args(["build"])
            .current_dir(c.path())
            .env("DOCKER_HOST", format!("unix://{}", s.sock.display()))
            .env("DOCKER_BUILDKIT", "0")
            .env("COMPOSE_DOCKER_CLI_BUILD", "0")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        assert!(!s.w.ok(&["images", "-q", "fromcompose:1"]).trim().is_empty());
    } else {
        eprintln!("skipped: docker-compose is not installed");
    }
    assert_eq!(s.w.ok(&["ps", "-aq"]), "");
}

#[test]
fn builds_through_wharf_protocol_and_the_policy_gate() {
    // `wharf --host` builds through wharf's own protocol: the directory is packed by the
    // client (.dockerignore applied), the steps stream back.
    let s = Server::start();
    let c = ctx_with(&[
        (
            "Dockerfile",
            "FROM wharf/demo\nCOPY . /ctx/\nRUN ls /ctx && echo remote-run\n",
        ),
        ("keep.txt", "k"),
        ("skip.log", "s"),
        (".dockerignore", "*.log\n"),
    ]);
    let host = format!("unix://{}", s.sock.display());
    let o = Command::new(Wharf::exe())
        .args([
            "--host",
            &host,
            "build",
            "--progress",
            "plain",
            "-t",
            "remote:1",
        ])
        .arg(c.path())
        .env_remove("WHARF_ROOT")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("keep.txt") && !t.contains("skip.log") && t.contains("remote-run"),
        "{t}"
    );
    assert!(t.contains("Successfully tagged remote:1"), "{t}");
    let o = Command::new(Wharf::exe())
        .args(["--host", &host, "system", "df"])
        .env_remove("WHARF_ROOT")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(text(&o).contains("Build Cache     2"), "{}", text(&o));

    // The gate: a viewer may not build; a role whose constraints forbid the host network
    // cannot give it to RUN steps (they are created like any container). The engine reads
    // a context directory as it would a bind source: the role may bind the context's
    // directory (the built-in user role binds nothing: refused, by name).
    let w = Wharf::new();
    let policy = w.root().join("policy.json");
    let c = ctx_with(&[("Dockerfile", "FROM wharf/demo\nRUN echo gated\n")]);
    std::fs::write(
        &policy,
        serde_json::json!({
            "roles": {
                "nohost": {"inherits": "user", "constraints": {
                    "host_network": false,
                    "bind_mounts": [c.path().display().to_string()],
                }},
                "nobinds": {"inherits": "user"},
            },
            "users": {"nobody": {"role": "viewer"}, "daemon": {"role": "nohost"}, "bin": {"role": "nobinds"}},
        })
        .to_string(),
    )
    .unwrap();
    let as_user = |user: &str, extra: &[&str]| -> Output {
        let mut args = vec![
            "--policy",
            policy.to_str().unwrap(),
            "--as",
            user,
            "build",
            "--progress",
            "plain",
        ];
        args.extend_from_slice(extra);
        let p = c.path().display().to_string();
        args.push(&p);
        w.run(&args)
    };
    let o = as_user("nobody", &[]);
    assert!(
        !o.status.success() && text(&o).contains("image.build"),
        "{}",
        text(&o)
    );
    let o = as_user("bin", &[]);
    assert!(
        !o.status.success()
            && text(&o).contains(&format!(
                "build context {} is outside the directories your role may read (bind mounts): none",
                c.path().display()
            )),
        "{}",
        text(&o)
    );
    let o = as_user("daemon", &["--network", "host"]);
    assert!(
        !o.status.success() && text(&o).to_lowercase().contains("host"),
        "{}",
        text(&o)
    );
    let o = as_user("daemon", &[]);
    assert!(
        o.status.success() && text(&o).contains("gated"),
        "{}",
        text(&o)
    );
    assert_eq!(w.ok(&["ps", "-aq"]), "");
}

#[test]
fn a_build_is_watched_live_and_cancelled_through_the_engine_api() {
    // What a console pane does: run the build on a worker, show the events as they come,
    // and cancel by answering false (here at the first tick of a silent step).
    use wharf_engine::api::{BuildApi, BuildContext, BuildEvent, BuildOptions};
    let w = Wharf::new();
    let eng = wharf_engine::LocalEngine::open(
        w.root(),
        wharf_engine::EngineOptions {
            wharf_exe: Some(Wharf::exe().into()),
            ..Default::default()
        },
    )
    .unwrap();
    let c = ctx_with(&[(
        "Dockerfile",
        "FROM wharf/demo\nRUN echo started && sleep 60\nRUN echo never\n",
    )]);
    let mut seen: Vec<String> = Vec::new();
    let t = Instant::now();
    let opts = BuildOptions {
        tags: vec!["cancelled".into()],
        ..Default::default()
    };
    let r = eng.image_build(
        &wharf_engine::Caller::root(),
        &opts,
        BuildContext::Dir(c.path().to_path_buf()),
        &mut |ev| {
            let keep_going =
                !matches!(ev, BuildEvent::Running { elapsed_ms, .. } if elapsed_ms >= 500);
            seen.push(match &ev {
                BuildEvent::Step {
                    index,
                    total,
                    instruction,
                    ..
                } => format!("step {index}/{total} {instruction}"),
                BuildEvent::Output { data, .. } => format!("output {}", data.trim()),
                BuildEvent::Running { .. } => "running".into(),
                BuildEvent::Container { .. } => "container".into(),
                other => format!("{other:?}"),
            });
            keep_going
        },
    );
    let e = r.unwrap_err();
    assert!(e.message.contains("cancelled"), "{e}");
    assert!(
        t.elapsed() < Duration::from_secs(20),
        "the step was stopped, not waited for"
    );
    assert!(
        seen.contains(&"step 2/3 RUN echo started && sleep 60".to_string()),
        "{seen:?}"
    );
    assert!(seen.contains(&"output started".to_string()), "{seen:?}");
    assert!(seen.iter().any(|s| s == "running"), "{seen:?}");
    assert!(!seen.iter().any(|s| s.contains("never")), "{seen:?}");
    assert_eq!(w.ok(&["ps", "-aq"]), "", "the step's container is gone");
    assert!(w.ok(&["images", "-q", "cancelled"]).is_empty());
}

/// `POST /build` refuses a query parameter it does not know, by name, with Docker's 400;
/// `wharf build` refuses `--rm` and `--disable-content-trust` values it does not honour.
#[test]
fn unknown_build_options_are_refused_by_name() {
    use std::io::Read as _;
    let s = Server::start();
    let mut conn = std::os::unix::net::UnixStream::connect(&s.sock).unwrap();
    conn.write_all(
        b"POST /v1.41/build?t=x%3A1&frobnicate=1 HTTP/1.1\r\nHost: docker\r\nContent-Type: application/x-tar\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(
        answer.contains(r#"unknown build option \"frobnicate\""#),
        "{answer}"
    );

    let c = ctx_with(&[("Dockerfile", "FROM scratch\nLABEL a=b\n")]);
    let p = c.path().display().to_string();
    for (flag, want) in [
        ("--rm=maybe", "--rm=maybe: give true or false"),
        (
            "--disable-content-trust=false",
            "--disable-content-trust=false: wharf does not verify image signatures",
        ),
        (
            "--disable-content-trust=nope",
            "--disable-content-trust=nope: give true or false",
        ),
    ] {
        let o = s.w.run(&["build", flag, &p]);
        assert!(
            !o.status.success() && text(&o).contains(want),
            "{flag}: {}",
            text(&o)
        );
    }
    s.w.ok(&["build", "--rm=1", "--disable-content-trust=true", "-q", &p]);
}
