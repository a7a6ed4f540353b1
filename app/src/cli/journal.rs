//! `wharf journal`: the console's session journals. Each console session writes what it
//! did, one action a line (the `wharf` command that does the same, the `docker` one,
//! what happened and what the engine did), to `<root>/journal/<session>.jsonl` (with
//! `--host`: `$XDG_STATE_HOME/wharf/journal`). `wharf journal export` writes a session as
//! a shell script of wharf commands with comments, to hand out after a class;
//! `wharf journal replay FILE` replays such a script in the console, one step at a time.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use serde::{Deserialize, Serialize};
use wharf_engine::api::flags::argv::shell_line;
use wharf_engine::EngineError;

use super::{report, Ctx};

/// Journal commands.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Cmd {
    /// The console's session journals: list, export as a script, replay in the console.
    Journal {
        #[command(subcommand)]
        cmd: JournalCmd,
    },
}

// `wharf journal ...`
// (A plain comment: a doc comment here would become the commands' help text,
// as subcommands' arguments are built late; see `#[command(defer = true)]`.)
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum JournalCmd {
    /// List the console sessions recorded, oldest first.
    #[command(visible_alias = "list")]
    Ls,
    /// Write a session as a shell script of wharf commands with comments.
    Export(ExportArgs),
    /// Open the console and replay a script one step at a time (`>` runs the next step).
    Replay(ReplayArgs),
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The session (its name from `wharf journal ls`, or a .jsonl file); the latest when
    /// not given.
    pub session: Option<String>,
    /// Write to this file instead of standard output.
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// A script written by `wharf journal export` (or any shell script of wharf commands).
    pub file: PathBuf,
}

/// One action of a console session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// When it was done, nanoseconds since the epoch.
    pub time_nano: i64,
    /// Who did it: `alice (operator)`.
    pub who: String,
    /// The `wharf` command that does the same.
    pub wharf: Vec<String>,
    /// The `docker` command, where docker has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker: Option<Vec<String>>,
    /// What happened, as the console said it.
    pub outcome: String,
    /// What the engine did, from the trace, step by step.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<String>,
}

/// Where the session journals are kept for this engine.
pub fn dir(ctx: &Ctx) -> PathBuf {
    match &ctx.local {
        Some(e) => e.root().path().join("journal"),
        None => user_dir(),
    }
}

/// The journals of sessions on engines other than the embedded one (a server, the
/// fleet view): `$XDG_STATE_HOME/wharf/journal`.
pub fn user_dir() -> PathBuf {
    let base = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("wharf/journal")
}

/// A new session's journal file in `dir`: `<date>-<time>-<pid>.jsonl`.
pub fn new_session(dir: &Path) -> PathBuf {
    let name = format!(
        "{}-{}.jsonl",
        chrono::Local::now().format("%Y%m%d-%H%M%S"),
        std::process::id()
    );
    dir.join(name)
}

/// Append `e` to the journal `file` (made with its directory when missing).
pub fn append(file: &Path, e: &Entry) -> Result<(), EngineError> {
    if let Some(d) = file.parent() {
        std::fs::create_dir_all(d)
            .map_err(|err| EngineError::io(format!("creating {}", d.display()), err))?;
    }
    let mut line = serde_json::to_vec(e).map_err(|err| EngineError::internal(err.to_string()))?;
    line.push(b'\n');
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
        .map_err(|err| EngineError::io(format!("opening {}", file.display()), err))?;
    f.write_all(&line)
        .map_err(|err| EngineError::io(format!("writing {}", file.display()), err))
}

/// The entries of a journal file (lines that do not read are skipped).
pub fn read(file: &Path) -> Result<Vec<Entry>, EngineError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| EngineError::io(format!("reading {}", file.display()), e))?;
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect())
}

/// The sessions in `dir`, oldest first.
pub fn sessions(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|r| {
            r.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn clock(time_nano: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(time_nano)
        .with_timezone(&chrono::Local)
        .format("%H:%M:%S")
        .to_string()
}

/// Comment text on one line.
fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// A session as a shell script: each action a wharf command, with what happened, what
/// the engine did and the docker command in comments.
pub fn script(name: &str, entries: &[Entry]) -> String {
    let mut s = String::from("#!/bin/sh\n");
    let who = entries.first().map(|e| e.who.as_str()).unwrap_or("nobody");
    let span = match (entries.first(), entries.last()) {
        (Some(a), Some(b)) => format!(", {} to {}", clock(a.time_nano), clock(b.time_nano)),
        _ => String::new(),
    };
    s.push_str(&format!(
        "# wharf session {name}: {} action{} by {who}{span}.\n",
        entries.len(),
        if entries.len() == 1 { "" } else { "s" }
    ));
    s.push_str(
        "# Each step is the wharf command that does what the console did (the docker one\n\
         # beside it where docker has it). Run it all with `sh FILE`, or one step at a time\n\
         # in the console with `wharf journal replay FILE`.\n\
         set -e\n",
    );
    for (i, e) in entries.iter().enumerate() {
        s.push('\n');
        s.push_str(&format!(
            "# {}. {} {}\n",
            i + 1,
            clock(e.time_nano),
            one_line(&e.outcome)
        ));
        if let Some(d) = &e.docker {
            s.push_str(&format!("#    docker: {}\n", shell_line(d)));
        }
        if !e.steps.is_empty() {
            s.push_str("#    what the engine did:\n");
            for st in &e.steps {
                s.push_str(&format!("#      - {}\n", one_line(st)));
            }
        }
        s.push_str(&shell_line(&e.wharf));
        s.push('\n');
    }
    s
}

/// One step of a script to replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The comment lines above it (without `#`), the first being what it did.
    pub comment: Vec<String>,
    /// The command's words (`wharf` first).
    pub words: Vec<String>,
    /// Line number in the script, for messages.
    pub line: usize,
}

/// The steps of a script: each command line, with the comments just above it. Blank
/// lines end a comment; `set -e` and the `#!` line are not steps.
pub fn parse_script(text: &str) -> Result<Vec<Step>, String> {
    let mut out = Vec::new();
    let mut comment: Vec<String> = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let l = raw.trim();
        if l.is_empty() {
            comment.clear();
            continue;
        }
        if let Some(c) = l.strip_prefix('#') {
            if !c.starts_with('!') {
                comment.push(c.trim().to_string());
            }
            continue;
        }
        if l == "set -e" {
            continue;
        }
        let words = shlex::split(l).ok_or_else(|| format!("line {}: unbalanced quotes", n + 1))?;
        out.push(Step {
            comment: std::mem::take(&mut comment),
            words,
            line: n + 1,
        });
    }
    Ok(out)
}

/// The session `name` means: a file, a session's name in `dir`, or the latest.
fn find(dir: &Path, name: Option<&str>) -> Result<PathBuf, EngineError> {
    match name {
        Some(n) if Path::new(n).is_file() => Ok(PathBuf::from(n)),
        Some(n) => {
            let f = dir.join(if n.ends_with(".jsonl") {
                n.to_string()
            } else {
                format!("{n}.jsonl")
            });
            if f.is_file() {
                Ok(f)
            } else {
                Err(EngineError::not_found(
                    "session",
                    n,
                    &format!("`wharf journal ls` lists those in {}", dir.display()),
                ))
            }
        }
        None => sessions(dir).pop().ok_or_else(|| {
            EngineError::not_found(
                "session",
                "(latest)",
                &format!(
                    "no console session is recorded in {} yet: act in the console first",
                    dir.display()
                ),
            )
        }),
    }
}

fn session_name(f: &Path) -> String {
    f.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Run a journal command (not `replay`, which the console does); the exit code.
pub fn run(cmd: Cmd, ctx: &Ctx) -> i32 {
    let Cmd::Journal { cmd } = cmd;
    let d = dir(ctx);
    match cmd {
        JournalCmd::Ls => {
            let rows: Vec<Vec<String>> = sessions(&d)
                .iter()
                .map(|f| {
                    let n = read(f).map(|e| e.len()).unwrap_or(0);
                    vec![session_name(f), n.to_string(), f.display().to_string()]
                })
                .collect();
            super::print_table(&["SESSION", "ACTIONS", "FILE"], &rows);
            0
        }
        JournalCmd::Export(a) => {
            let f = match find(&d, a.session.as_deref()) {
                Ok(f) => f,
                Err(e) => {
                    report(&e);
                    return 1;
                }
            };
            let entries = match read(&f) {
                Ok(e) => e,
                Err(e) => {
                    report(&e);
                    return 1;
                }
            };
            let text = script(&session_name(&f), &entries);
            match &a.output {
                Some(o) => match std::fs::write(o, &text) {
                    Ok(()) => {
                        use std::os::unix::fs::PermissionsExt;
                        let _ = std::fs::set_permissions(o, std::fs::Permissions::from_mode(0o755));
                        eprintln!(
                            "wrote {} step{} of session {} to {}",
                            entries.len(),
                            if entries.len() == 1 { "" } else { "s" },
                            session_name(&f),
                            o.display()
                        );
                        0
                    }
                    Err(e) => {
                        report(&EngineError::io(format!("writing {}", o.display()), e));
                        1
                    }
                },
                None => {
                    print!("{text}");
                    0
                }
            }
        }
        JournalCmd::Replay(_) => {
            eprintln!("wharf: journal replay opens the console: run it in a terminal");
            125
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(wharf: &[&str], docker: bool, outcome: &str) -> Entry {
        let w: Vec<String> = wharf.iter().map(|s| s.to_string()).collect();
        Entry {
            time_nano: 1_767_225_600_000_000_000,
            who: "root (admin)".into(),
            docker: docker.then(|| {
                let mut d = w.clone();
                d[0] = "docker".into();
                d
            }),
            wharf: w,
            outcome: outcome.into(),
            steps: vec![
                "created cgroup wharf/3f2a1b2c3d4e".into(),
                "wrote 268435456\nto memory.limit_in_bytes".into(),
            ],
        }
    }

    #[test]
    fn a_session_exports_as_a_script_that_replays_step_by_step() {
        let entries = vec![
            entry(
                &["wharf", "network", "create", "lab"],
                true,
                "created network lab",
            ),
            entry(
                &[
                    "wharf",
                    "run",
                    "-d",
                    "--name",
                    "web",
                    "-e",
                    "GREETING=hello world",
                    "wharf/demo",
                    "sh",
                    "-c",
                    "echo $GREETING; sleep 100",
                ],
                true,
                "started web (3f2a1b2c3d4e)",
            ),
            entry(
                &["wharf", "image", "demo", "wharf/demo"],
                false,
                "built wharf/demo",
            ),
        ];
        let text = script("20260101-000000-1", &entries);
        assert!(text.starts_with(
            "#!/bin/sh\n# wharf session 20260101-000000-1: 3 actions by root (admin)"
        ));
        assert!(text.contains(
            "#    docker: docker network create lab\n#    what the engine did:\n#      - created cgroup wharf/3f2a1b2c3d4e\n#      - wrote 268435456 to memory.limit_in_bytes\nwharf network create lab\n"
        ), "{text}");
        assert!(text.contains("wharf run -d --name web -e 'GREETING=hello world' wharf/demo sh -c 'echo $GREETING; sleep 100'\n"));
        let steps = parse_script(&text).unwrap();
        assert_eq!(steps.len(), 3);
        for (s, e) in steps.iter().zip(&entries) {
            assert_eq!(s.words, e.wharf);
        }
        assert!(steps[1].comment[0].ends_with("started web (3f2a1b2c3d4e)"));
        assert!(parse_script("wharf run 'oops").is_err());
    }

    #[test]
    fn journals_append_and_read_back() {
        let d = tempfile::tempdir().unwrap();
        let f = new_session(&d.path().join("journal"));
        let e = entry(
            &["wharf", "volume", "create", "data"],
            true,
            "created volume data",
        );
        append(&f, &e).unwrap();
        append(&f, &e).unwrap();
        assert_eq!(read(&f).unwrap(), vec![e.clone(), e]);
        assert_eq!(sessions(&d.path().join("journal")), vec![f.clone()]);
        assert_eq!(find(&d.path().join("journal"), None).unwrap(), f);
    }
}
