//! `wharf stats`: live resource use of containers, computed as the docker CLI does.

use std::io::{IsTerminal, Write};

use clap::{Args, Subcommand};
use wharf_engine::api::{ContainerStats, StatsOptions};

use super::Ctx;

/// Stats commands.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Cmd {
    /// Show containers' CPU, memory, network, block I/O and pids (running ones by default).
    Stats(StatsArgs),
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// All containers (stopped ones show zeros).
    #[arg(short, long)]
    pub all: bool,
    /// Print one sample and exit.
    #[arg(long)]
    pub no_stream: bool,
    /// Show full ids.
    #[arg(long)]
    pub no_trunc: bool,
    /// `json` prints one Docker-shaped JSON object per container and sample.
    #[arg(long)]
    pub format: Option<String>,
    /// Containers (names or ids); all running ones when none.
    pub containers: Vec<String>,
}

/// Binary units as the docker CLI shows memory ("38.2MiB").
pub fn bytes_binary(b: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut i = 0;
    while v >= 1024.0 && i < units.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{b}B")
    } else {
        format!("{v:.2}{}", units[i]).replace(".00", "")
    }
}

/// One table row, as `docker stats` prints it.
pub fn row(s: &ContainerStats, no_trunc: bool) -> Vec<String> {
    let id = if no_trunc {
        s.id.clone()
    } else {
        wharf_engine::ids::short(&s.id).to_string()
    };
    let name = s.name.trim_start_matches('/').to_string();
    if s.read.is_empty() {
        // Not running: zeros, as Docker shows them.
        return vec![
            id,
            name,
            "0.00%".into(),
            "0B / 0B".into(),
            "0.00%".into(),
            "0B / 0B".into(),
            "0B / 0B".into(),
            "0".into(),
        ];
    }
    let (rx, tx) = s.net_io();
    let (r, w) = s.block_io();
    vec![
        id,
        name,
        format!("{:.2}%", s.cpu_percent()),
        format!(
            "{} / {}",
            bytes_binary(s.mem_usage()),
            bytes_binary(s.memory_stats.limit)
        ),
        format!("{:.2}%", s.mem_percent()),
        format!("{} / {}", super::human_size(rx), super::human_size(tx)),
        format!("{} / {}", super::human_size(r), super::human_size(w)),
        s.pids_stats.current.to_string(),
    ]
}

/// Run `wharf stats`; returns the exit code.
pub fn run(cmd: Cmd, ctx: &Ctx) -> i32 {
    let Cmd::Stats(a) = cmd;
    let opts = StatsOptions {
        stream: !a.no_stream,
        all: a.all,
    };
    // `json` keeps the Docker API's stats objects (what wharf has always printed);
    // any other format is a template on docker's stats context.
    let json = a.format.as_deref() == Some("json");
    let tmpl = match a.format.as_deref().filter(|_| !json) {
        None => None,
        Some(f) => match super::format::Format::parse("--format", Some(f)) {
            Ok(super::format::Format::Template { table, tmpl }) => Some((table, tmpl)),
            Ok(super::format::Format::Default) => None,
            Err(e) => {
                super::report(&e);
                return 125;
            }
        },
    };
    let tty = std::io::stdout().is_terminal() && !super::out::capturing();
    let mut failed = false;
    let res = ctx
        .api()
        .container_stats(&ctx.caller, &a.containers, &opts, &mut |batch| {
            let mut out = super::out::stdout();
            if json {
                for s in &batch {
                    if writeln!(out, "{}", serde_json::to_string(s).unwrap_or_default()).is_err() {
                        return false;
                    }
                }
            } else if let Some((table, tmpl)) = &tmpl {
                if tty && opts.stream {
                    let _ = write!(out, "\x1b[2J\x1b[H");
                }
                let rows: Vec<serde_json::Value> =
                    batch.iter().map(|s| context(s, a.no_trunc)).collect();
                let c = super::format::Context {
                    type_name: "*formatter.statsContext",
                    headers: &[
                        ("Container", "CONTAINER"),
                        ("ID", "CONTAINER ID"),
                        ("Name", "NAME"),
                        ("CPUPerc", "CPU %"),
                        ("MemUsage", "MEM USAGE / LIMIT"),
                        ("MemPerc", "MEM %"),
                        ("NetIO", "NET I/O"),
                        ("BlockIO", "BLOCK I/O"),
                        ("PIDs", "PIDS"),
                    ],
                    methods: vec![],
                    strict: true,
                };
                match super::format::render(tmpl, *table, &c, &rows) {
                    Ok(text) => print!("{text}"),
                    Err(e) => {
                        super::report(&e);
                        failed = true;
                        return false;
                    }
                }
            } else {
                if tty && opts.stream {
                    // Redraw in place, as docker stats does.
                    let _ = write!(out, "\x1b[2J\x1b[H");
                }
                let rows: Vec<Vec<String>> = batch.iter().map(|s| row(s, a.no_trunc)).collect();
                super::print_table(
                    &[
                        "CONTAINER ID",
                        "NAME",
                        "CPU %",
                        "MEM USAGE / LIMIT",
                        "MEM %",
                        "NET I/O",
                        "BLOCK I/O",
                        "PIDS",
                    ],
                    &rows,
                );
            }
            super::out::stdout().flush().is_ok()
        });
    match res {
        Ok(()) if failed => 125,
        Ok(()) => 0,
        Err(e) => {
            super::report(&e);
            super::exit_code_for(&e)
        }
    }
}

/// One sample as docker's `stats --format` sees it.
fn context(s: &ContainerStats, no_trunc: bool) -> serde_json::Value {
    let r = row(s, no_trunc);
    serde_json::json!({
        "Container": r[1],
        "ID": r[0],
        "Name": r[1],
        "CPUPerc": r[2],
        "MemUsage": r[3],
        "MemPerc": r[4],
        "NetIO": r[5],
        "BlockIO": r[6],
        "PIDs": r[7],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_units() {
        assert_eq!(bytes_binary(512), "512B");
        assert_eq!(bytes_binary(1536), "1.50KiB");
        assert_eq!(bytes_binary(64 * 1024 * 1024), "64MiB");
    }
}
