//! `wharf audit`, `wharf audit verify`.

use clap::{Args, Subcommand};

use wharf_engine::policy::audit::TORN;
use wharf_engine::ErrorKind;

use super::Ctx;

/// Audit commands.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Cmd {
    /// Show the audit journal (mutating calls and refusals), or verify its hash chain.
    Audit(AuditArgs),
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub verify: Option<Verify>,
    /// Only entries since this time (RFC 3339, unix seconds, or a duration like 10m).
    #[arg(long)]
    pub since: Option<String>,
    /// Only entries of this user (name or uid).
    #[arg(long)]
    pub user: Option<String>,
    /// Output format: `json` prints one JSON object per line.
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Verify {
    /// Check the keyed hash chain and the head: detects an edited, inserted or removed
    /// entry, and names a line torn by a crash. Exit status 1 if the journal is not intact.
    Verify,
}

/// `wharf audit verify`: the result, precisely; notes on what crashes left, if the
/// caller may read the journal.
fn verify(ctx: &Ctx) -> i32 {
    let api = ctx.api();
    let n = match api.audit_verify(&ctx.caller) {
        Ok(n) => n,
        Err(e) => {
            super::report(&e);
            return if e.kind == ErrorKind::Corrupt {
                1
            } else {
                super::exit_code_for(&e)
            };
        }
    };
    println!("audit journal intact: {n} entries, chain and head verified");
    // Reading is a permission of its own: ask only if granted (a refusal is audited).
    let may_read = api
        .permissions(&ctx.caller)
        .is_ok_and(|p| p.allows("audit.read"));
    if !may_read {
        return 0;
    }
    let Ok(entries) = api.audit_read(&ctx.caller) else {
        return 0;
    };
    let unkeyed: Vec<u64> = entries
        .iter()
        .filter(|e| e.alg.is_empty())
        .map(|e| e.seq)
        .collect();
    if let (Some(first), Some(last)) = (unkeyed.first(), unkeyed.last()) {
        println!(
            "note: entries {first} to {last} predate the journal's key: they are chained with plain SHA-256, which anyone able to rewrite the file can redo"
        );
    }
    for e in entries.iter().filter(|e| e.action == TORN) {
        println!("note: entry {} ({}): {}", e.seq, e.time, e.detail);
    }
    0
}

/// Run an audit command; returns the exit code.
pub fn run(cmd: Cmd, ctx: &Ctx) -> i32 {
    let Cmd::Audit(a) = cmd;
    let api = ctx.api();
    if matches!(a.verify, Some(Verify::Verify)) {
        return verify(ctx);
    }
    let since = match a
        .since
        .as_deref()
        .map(super::system::parse_time)
        .transpose()
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("wharf: {e}");
            return 125;
        }
    };
    let entries = match api.audit_read(&ctx.caller) {
        Ok(v) => v,
        Err(e) => {
            super::report(&e);
            return super::exit_code_for(&e);
        }
    };
    let mut rows = Vec::new();
    for e in entries {
        if let Some(u) = &a.user {
            if &e.user != u && &e.uid.to_string() != u {
                continue;
            }
        }
        if let Some(s) = since {
            let t = chrono::DateTime::parse_from_rfc3339(&e.time)
                .map(|t| t.timestamp_nanos_opt().unwrap_or(0))
                .unwrap_or(0);
            if t < s {
                continue;
            }
        }
        if a.format.as_deref() == Some("json") {
            println!("{}", serde_json::to_string(&e).unwrap_or_default());
        } else {
            rows.push(vec![
                e.seq.to_string(),
                e.time.chars().take(19).collect(),
                format!("{} ({})", e.user, e.role),
                e.action,
                e.target,
                e.outcome,
                e.detail,
            ]);
        }
    }
    if a.format.as_deref() != Some("json") {
        super::print_table(
            &[
                "SEQ", "TIME", "CALLER", "ACTION", "TARGET", "OUTCOME", "DETAIL",
            ],
            &rows,
        );
    }
    0
}
