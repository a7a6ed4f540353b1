//! `wharf pull`, `wharf push`, `wharf login`, `wharf logout`.

use std::collections::HashMap;
use std::io::{BufRead, IsTerminal, Write};

use clap::{Args, Subcommand};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use wharf_engine::api::{Progress, PullOptions, PushOptions};
use wharf_engine::image::registry::INSECURE_ENV;
use wharf_engine::ErrorKind;

use super::Ctx;

/// Registry commands.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Cmd {
    /// Download an image from a registry.
    Pull(PullArgs),
    /// Upload an image to a registry.
    Push(PushArgs),
    /// Log in to a registry (credentials are kept for your user only).
    Login(LoginArgs),
    /// Log out from a registry.
    Logout(LogoutArgs),
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// Image reference, e.g. busybox:latest or localhost:5000/team/app:v1.
    pub reference: String,
    /// Platform to pull from a multi-platform image: os/arch[/variant] (default: this host's).
    #[arg(long)]
    pub platform: Option<String>,
    /// Print only the image reference when done.
    #[arg(short, long)]
    pub quiet: bool,
    /// Allow plain http / unverified TLS for this registry (host[:port]); repeatable.
    #[arg(long = "insecure-registry", value_name = "HOST")]
    pub insecure: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// Image reference naming the registry, e.g. localhost:5000/team/app:v1.
    pub reference: String,
    /// Print only the pushed digest when done.
    #[arg(short, long)]
    pub quiet: bool,
    /// Allow plain http / unverified TLS for this registry (host[:port]); repeatable.
    #[arg(long = "insecure-registry", value_name = "HOST")]
    pub insecure: Vec<String>,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Registry (default: Docker Hub).
    pub server: Option<String>,
    /// User name.
    #[arg(short, long)]
    pub username: Option<String>,
    /// Password or token (prefer --password-stdin: this one shows in the process list).
    #[arg(short, long)]
    pub password: Option<String>,
    /// Read the password from standard input.
    #[arg(long)]
    pub password_stdin: bool,
    /// Allow plain http / unverified TLS for this registry (host[:port]); repeatable.
    #[arg(long = "insecure-registry", value_name = "HOST")]
    pub insecure: Vec<String>,
}

#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// Registry (default: Docker Hub).
    pub server: Option<String>,
}

impl PullArgs {
    /// `wharf pull REFERENCE` (for `run --pull always`).
    pub fn of(reference: &str, quiet: bool) -> PullArgs {
        PullArgs {
            reference: reference.to_string(),
            platform: None,
            quiet,
            insecure: vec![],
        }
    }
}

/// Add `--insecure-registry` values to what the embedded engine reads.
fn mark_insecure(hosts: &[String]) {
    if hosts.is_empty() {
        return;
    }
    let mut all: Vec<String> = std::env::var(INSECURE_ENV)
        .ok()
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect();
    all.extend(hosts.iter().cloned());
    // Still single-threaded here: nothing reads the environment concurrently.
    std::env::set_var(INSECURE_ENV, all.join(","));
}

/// Shows pull/push progress: one bar per layer on a terminal, plain lines otherwise.
struct Renderer {
    quiet: bool,
    multi: Option<MultiProgress>,
    bars: HashMap<String, ProgressBar>,
    last: HashMap<String, String>,
    /// Lines that come after the layers (Digest:, Status:), printed below the bars.
    after: Vec<String>,
}

impl Renderer {
    fn new(quiet: bool) -> Self {
        let tty = std::io::stdout().is_terminal() && !super::out::capturing();
        let multi =
            (tty && !quiet).then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stdout()));
        Renderer {
            quiet,
            multi,
            bars: HashMap::new(),
            last: HashMap::new(),
            after: Vec::new(),
        }
    }

    fn on(&mut self, p: Progress) {
        if self.quiet {
            return;
        }
        match p {
            Progress::Message(m) => match &self.multi {
                Some(_) if !self.bars.is_empty() => self.after.push(m),
                Some(mp) => {
                    let _ = mp.println(m);
                }
                None => println!("{m}"),
            },
            Progress::Layer {
                id,
                status,
                current,
                total,
            } => match &self.multi {
                Some(mp) => {
                    let bar = self.bars.entry(id.clone()).or_insert_with(|| {
                        let b = mp.add(ProgressBar::new(total.unwrap_or(0)));
                        b.set_prefix(id.clone());
                        b
                    });
                    let moving = matches!(status.as_str(), "Downloading" | "Pushing")
                        && total.is_some_and(|t| t > 0);
                    let style = if moving {
                        ProgressStyle::with_template("{prefix}: {msg:<12} [{bar:40}] {bytes:>10}/{total_bytes:<10} {bytes_per_sec}")
                    } else {
                        ProgressStyle::with_template("{prefix}: {msg}")
                    };
                    if let Ok(s) = style {
                        bar.set_style(s.progress_chars("=> "));
                    }
                    if let Some(t) = total {
                        bar.set_length(t);
                    }
                    bar.set_position(current);
                    bar.set_message(status);
                }
                None => {
                    // Plain output: one line per change of status, not per chunk.
                    if self.last.get(&id) != Some(&status) {
                        println!("{id}: {status}");
                        self.last.insert(id, status);
                    }
                }
            },
        }
    }

    fn finish(&mut self) {
        for b in self.bars.values() {
            b.finish();
        }
        for m in self.after.drain(..) {
            println!("{m}");
        }
    }
}

/// Read a line from the terminal, with echo off for secrets.
fn prompt(label: &str, secret: bool) -> std::io::Result<String> {
    use nix::sys::termios::{tcgetattr, tcsetattr, LocalFlags, SetArg};
    let stdin = std::io::stdin();
    eprint!("{label}");
    std::io::stderr().flush()?;
    let saved = if secret && stdin.is_terminal() {
        tcgetattr(&stdin).ok()
    } else {
        None
    };
    if let Some(t) = &saved {
        let mut quiet = t.clone();
        quiet.local_flags.remove(LocalFlags::ECHO);
        let _ = tcsetattr(&stdin, SetArg::TCSANOW, &quiet);
    }
    let mut line = String::new();
    let res = stdin.lock().read_line(&mut line);
    if let Some(t) = &saved {
        let _ = tcsetattr(&stdin, SetArg::TCSANOW, t);
        eprintln!();
    }
    res?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

fn fail(e: &wharf_engine::EngineError) -> i32 {
    super::report(e);
    super::exit_code_for(e)
}

/// Run a registry command; returns the exit code.
pub fn run(cmd: Cmd, ctx: &Ctx) -> i32 {
    let api = ctx.api();
    match cmd {
        Cmd::Pull(a) => {
            mark_insecure(&a.insecure);
            let mut r = Renderer::new(a.quiet);
            let opts = PullOptions {
                platform: a.platform.clone(),
                auth: None,
            };
            let res = api.image_pull(&ctx.caller, &a.reference, &opts, &mut |p| r.on(p));
            r.finish();
            match res {
                Ok(_) => {
                    match wharf_engine::image::Reference::parse_remote(&a.reference) {
                        Ok(rr) => println!("{rr}"),
                        Err(_) => println!("{}", a.reference),
                    }
                    0
                }
                Err(e) => fail(&e),
            }
        }
        Cmd::Push(a) => {
            mark_insecure(&a.insecure);
            let mut r = Renderer::new(a.quiet);
            let mut digest = None;
            let res = api.image_push(
                &ctx.caller,
                &a.reference,
                &PushOptions::default(),
                &mut |p| {
                    if let Progress::Message(m) = &p {
                        if let Some(d) = m.split("digest: ").nth(1) {
                            digest = d.split_whitespace().next().map(str::to_string);
                        }
                    }
                    r.on(p)
                },
            );
            r.finish();
            match res {
                Ok(()) => {
                    if a.quiet {
                        if let Some(d) = digest {
                            println!("{d}");
                        }
                    }
                    0
                }
                Err(e) => fail(&e),
            }
        }
        Cmd::Login(a) => {
            mark_insecure(&a.insecure);
            let server = a.server.clone().unwrap_or_else(|| "docker.io".into());
            let username = match a.username.clone() {
                Some(u) => u,
                None => match prompt("Username: ", false) {
                    Ok(u) => u,
                    Err(e) => {
                        eprintln!("wharf: reading the user name: {e}");
                        return 125;
                    }
                },
            };
            let password = if a.password_stdin {
                let mut s = String::new();
                if let Err(e) = std::io::stdin().lock().read_line(&mut s) {
                    eprintln!("wharf: reading the password from standard input: {e}");
                    return 125;
                }
                s.trim_end_matches(['\r', '\n']).to_string()
            } else if let Some(p) = a.password.clone() {
                eprintln!(
                    "WARNING! Using --password via the CLI is insecure. Use --password-stdin."
                );
                p
            } else {
                match prompt("Password: ", true) {
                    Ok(p) => p,
                    Err(e) => {
                        eprintln!("wharf: reading the password: {e}");
                        return 125;
                    }
                }
            };
            match api.registry_login(&ctx.caller, &server, &username, &password) {
                Ok(()) => {
                    println!("Login Succeeded");
                    0
                }
                Err(e) => fail(&e),
            }
        }
        Cmd::Logout(a) => {
            let server = a.server.clone().unwrap_or_else(|| "docker.io".into());
            match api.registry_logout(&ctx.caller, &server) {
                Ok(()) => {
                    println!("Removing login credentials for {server}");
                    0
                }
                Err(e) if e.kind == ErrorKind::NotFound => {
                    println!("Not logged in to {server}");
                    0
                }
                Err(e) => fail(&e),
            }
        }
    }
}
