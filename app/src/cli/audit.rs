//! `wharf audit`, `wharf audit verify`.

use clap::{Args, Subcommand};

use super::Ctx;

/// Audit commands.
#[derive(Debug, Subcommand)]
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
pub enum Verify {
    /// Check the hash chain: detects an edited, inserted or removed entry.
    Verify,
}

/// Run an audit command; returns the exit code.
pub fn run(cmd: Cmd, ctx: &Ctx) -> i32 {
    let Cmd::Audit(a) = cmd;
    let api = ctx.api();
    if matches!(a.verify, Some(Verify::Verify)) {
        return match api.audit_verify(&ctx.caller) {
            Ok(n) => {
                println!("audit journal intact: {n} entries, hash chain verified");
                0
            }
            Err(e) => {
                super::report(&e);
                1
            }
        };
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
