//! `wharf`: the console (no arguments), the docker-style CLI, and (later) the server.

mod cli;

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use wharf_engine::{EngineOptions, LocalEngine};

/// A terminal console for containers, with its own engine.
#[derive(Debug, Parser)]
#[command(name = "wharf", version, about, long_about = None)]
struct Opts {
    /// State root (images, containers, volumes, networks, journals).
    #[arg(long, global = true, env = "WHARF_ROOT", default_value = wharf_engine::state::DEFAULT_ROOT)]
    root: PathBuf,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    #[command(flatten)]
    System(cli::system::Cmd),
    #[command(flatten)]
    Networks(cli::networks::Cmd),
}

fn main() {
    let opts = Opts::parse();
    let engine = match LocalEngine::open(&opts.root, EngineOptions::default()) {
        Ok(e) => Arc::new(e),
        Err(e) => {
            eprintln!("wharf: cannot open the state root {}: {e}", opts.root.display());
            std::process::exit(125);
        }
    };
    let ctx = cli::Ctx { engine, caller: cli::resolve_caller() };
    let code = match opts.command {
        None => {
            eprintln!("wharf: the console is not built yet; try `wharf info`");
            2
        }
        Some(Command::System(c)) => cli::system::run(c, &ctx),
        Some(Command::Networks(c)) => cli::networks::run(c, &ctx),
    };
    std::process::exit(code);
}
