//! `wharf trace`: the API trace of a `wharf serve` (with `--host`), as the console's
//! trace pane shows it: every call with its caller, where it came from (wharf's protocol
//! or the Docker API, with the HTTP method and path as the client sent them), how long
//! it took and how it ended. Your own calls; everyone's with `--all` (admins: the
//! `audit.trace` permission). What a socat-sniffing lab shows, without socat.

use clap::{Args, Subcommand};
use wharf_engine::trace::TraceOptions;
use wharf_views::trace::{call_text, result_text, took};

use super::{print_table, report, Ctx};

/// Trace commands.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Cmd {
    /// Show the engine calls a `wharf serve` recorded (yours; everyone's with --all).
    Trace(TraceArgs),
}

#[derive(Debug, Args)]
pub struct TraceArgs {
    /// Every client's calls, not only yours (needs the audit.trace permission).
    #[arg(short, long)]
    pub all: bool,
    /// Keep showing new calls as they are made.
    #[arg(short, long)]
    pub follow: bool,
    /// `json` prints each call whole, one JSON object a line.
    #[arg(long)]
    pub format: Option<String>,
}

/// Run `wharf trace`; the exit code.
pub fn run(cmd: Cmd, ctx: &Ctx) -> i32 {
    let Cmd::Trace(a) = cmd;
    if ctx.local.is_some() {
        eprintln!(
            "wharf: the trace lives in a running engine: give --host to read a wharf serve's, or open the console's trace pane (:trace)"
        );
        return 1;
    }
    let json = match a.format.as_deref() {
        None => false,
        Some("json") => true,
        Some(f) => {
            eprintln!("wharf: --format {f:?} is not known: use json");
            return 125;
        }
    };
    let opts = TraceOptions {
        all: a.all,
        follow: a.follow,
        since: None,
    };
    let tz = chrono::Local::now().offset().local_minus_utc();
    let mut rows: Vec<Vec<String>> = Vec::new();
    let res = ctx.api().trace(&ctx.caller, &opts, &mut |e| {
        if json {
            println!("{}", serde_json::to_string(&e).unwrap_or_default());
            return true;
        }
        let row = vec![
            wharf_views::events::clock(e.time_nano, tz),
            e.caller.label(),
            e.source.clone(),
            call_text(&e),
            took(e.duration_us),
            result_text(&e),
        ];
        if a.follow {
            println!("{}", row.join("  "));
        } else {
            rows.push(row);
        }
        true
    });
    if !rows.is_empty() {
        print_table(&["TIME", "WHO", "FROM", "CALL", "TOOK", "RESULT"], &rows);
    }
    match res {
        Ok(()) => 0,
        Err(e) => {
            report(&e);
            1
        }
    }
}
