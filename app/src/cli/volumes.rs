//! `wharf volume create|ls|inspect|rm|prune`.

use clap::{Args, Subcommand};
use wharf_engine::api::{VolumeCreate, VolumeListOptions};

use super::Ctx;

/// Volume commands.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Cmd {
    /// Manage volumes.
    #[command(subcommand)]
    Volume(VolumeCmd),
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum VolumeCmd {
    /// Create a volume (a random name if none is given).
    Create(CreateArgs),
    /// List volumes.
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Show volumes as JSON.
    Inspect {
        /// Format with a Go template (`{{.Mountpoint}}`) or `json`.
        #[arg(short = 'f', long)]
        format: Option<String>,
        #[arg(required = true)]
        names: Vec<String>,
    },
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
                .and_then(|vols| {
                    if let Some(f) = a.format.as_deref().filter(|f| f.trim() != "table") {
                        let Ok(super::format::Format::Template { table, tmpl }) =
                            super::format::Format::parse("--format", Some(f))
                        else {
                            return super::format::Format::parse("--format", Some(f)).map(|_| ());
                        };
                        let rows: Vec<serde_json::Value> = vols
                            .iter()
                            .map(|v| {
                                serde_json::json!({
                                    "Driver": v.driver,
                                    "Labels": super::format::labels_text(&v.labels),
                                    "Links": v.usage_data.as_ref().map(|u| u.ref_count.to_string()).unwrap_or_else(|| "N/A".into()),
                                    "Mountpoint": v.mountpoint,
                                    "Name": v.name,
                                    "Scope": v.scope,
                                    "Size": v.usage_data.as_ref().map(|u| super::human_size(u.size)).unwrap_or_else(|| "N/A".into()),
                                })
                            })
                            .collect();
                        let c = super::format::Context {
                            type_name: "*formatter.volumeContext",
                            headers: &[
                                ("Driver", "DRIVER"),
                                ("Labels", "LABELS"),
                                ("Links", "LINKS"),
                                ("Mountpoint", "MOUNTPOINT"),
                                ("Name", "VOLUME NAME"),
                                ("Scope", "SCOPE"),
                                ("Size", "SIZE"),
                            ],
                            methods: vec![("Label", super::format::label_method as super::gotmpl::Method)],
                            strict: true,
                        };
                        return super::format::render(&tmpl, table, &c, &rows).map(|s| print!("{s}"));
                    } else if a.quiet {
                        for v in vols {
                            println!("{}", v.name);
                        }
                    } else {
                        let rows: Vec<Vec<String>> =
                            vols.into_iter().map(|v| vec![v.driver, v.name]).collect();
                        super::print_table(&["DRIVER", "VOLUME NAME"], &rows);
                    }
                    Ok(())
                })
        }
        VolumeCmd::Inspect { format, names } => {
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
            if let Some(f) = &format {
                let objects: Vec<serde_json::Value> = out
                    .iter()
                    .map(|o| serde_json::to_value(o).unwrap_or_default())
                    .collect();
                let c = super::format::print_each("--format", f, &objects);
                return if c != 0 { c } else { code };
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
