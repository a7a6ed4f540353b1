//! `wharf volume create|ls|inspect|rm|prune`.

use clap::{Args, Subcommand};
use wharf_engine::api::{VolumeCreate, VolumeListOptions};

use super::Ctx;

/// Volume commands.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Manage volumes.
    #[command(subcommand)]
    Volume(VolumeCmd),
}

#[derive(Debug, Subcommand)]
pub enum VolumeCmd {
    /// Create a volume (a random name if none is given).
    Create(CreateArgs),
    /// List volumes.
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Show volumes as JSON.
    Inspect { names: Vec<String> },
    /// Remove volumes (refused while a container uses them).
    #[command(alias = "remove")]
    Rm {
        /// Do not fail when a volume does not exist.
        #[arg(short, long)]
        force: bool,
        names: Vec<String>,
    },
    /// Remove unused anonymous volumes (all unused volumes with -a).
    Prune {
        #[arg(short, long)]
        all: bool,
        /// Do not ask for confirmation.
        #[arg(short, long)]
        force: bool,
    },
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    pub name: Option<String>,
    /// Set metadata (KEY=VALUE).
    #[arg(long = "label")]
    pub labels: Vec<String>,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Only names.
    #[arg(short, long)]
    pub quiet: bool,
    /// dangling=true|false, name=, label=KEY[=VALUE], driver=local.
    #[arg(short, long = "filter")]
    pub filters: Vec<String>,
    /// `json` for one JSON object per line.
    #[arg(long)]
    pub format: Option<String>,
}

/// Run a volume command; returns the exit code.
pub fn run(cmd: Cmd, ctx: &Ctx) -> i32 {
    let Cmd::Volume(cmd) = cmd;
    let api = ctx.api();
    let c = &ctx.caller;
    let res = match cmd {
        VolumeCmd::Create(a) => super::parse_labels(&a.labels).and_then(|labels| {
            api.volume_create(
                c,
                &VolumeCreate {
                    name: a.name,
                    labels,
                },
            )
            .map(|v| println!("{}", v.name))
        }),
        VolumeCmd::Ls(a) => {
            let filters = match super::parse_filters(&a.filters) {
                Ok(f) => f,
                Err(e) => {
                    eprintln!("wharf: {e}");
                    return 125;
                }
            };
            api.volume_list(c, &VolumeListOptions { filters })
                .map(|vols| {
                    if a.format.as_deref() == Some("json") {
                        for v in vols {
                            println!("{}", serde_json::to_string(&v).unwrap_or_default());
                        }
                    } else if a.quiet {
                        for v in vols {
                            println!("{}", v.name);
                        }
                    } else {
                        let rows: Vec<Vec<String>> =
                            vols.into_iter().map(|v| vec![v.driver, v.name]).collect();
                        super::print_table(&["DRIVER", "VOLUME NAME"], &rows);
                    }
                })
        }
        VolumeCmd::Inspect { names } => {
            let mut out = Vec::new();
            let mut code = 0;
            for n in &names {
                match api.volume_inspect(c, n) {
                    Ok(v) => out.push(v),
                    Err(e) => {
                        super::report(&e);
                        code = 1;
                    }
                }
            }
            println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
            return code;
        }
        VolumeCmd::Rm { force, names } => {
            let mut code = 0;
            for n in &names {
                match api.volume_remove(c, n, force) {
                    Ok(()) => println!("{n}"),
                    Err(e) => {
                        super::report(&e);
                        code = 1;
                    }
                }
            }
            return code;
        }
        VolumeCmd::Prune { all, force: _ } => api.volume_prune(c, all).map(|r| {
            if !r.deleted.is_empty() {
                println!("Deleted Volumes:");
                for d in &r.deleted {
                    println!("{d}");
                }
                println!();
            }
            println!("Total reclaimed space: {}", super::human_size(r.reclaimed));
        }),
    };
    match res {
        Ok(()) => 0,
        Err(e) => {
            super::report(&e);
            super::exit_code_for(&e)
        }
    }
}
