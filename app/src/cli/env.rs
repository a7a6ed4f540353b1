//! `-e` and `--env-file` as the client reads them: `KEY` alone takes this shell's value
//! (the engine may be on another machine). Used by run/create, exec and compose.

use wharf_engine::api::flags::{self, EnvArg};
use wharf_engine::EngineError;

/// An `-e` value for the engine: `KEY=VALUE` as given, or `KEY` with this shell's value
/// (nothing when this shell has none, as Docker does).
pub fn env_value(flag_name: &str, v: &str) -> Result<Option<String>, EngineError> {
    let arg: EnvArg = flags::flag(flag_name, v)?;
    Ok(match arg {
        EnvArg::Set(kv) => Some(kv),
        EnvArg::FromCaller(k) => from_caller(&k),
    })
}

fn from_caller(k: &str) -> Option<String> {
    std::env::var(k).ok().map(|v| format!("{k}={v}"))
}

/// The variables of an `--env-file`, as Docker reads one.
pub fn env_file(path: &str) -> Result<Vec<String>, EngineError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| EngineError::io(format!("reading env file {path}"), e))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let arg = flags::env_file_line(line)
            .map_err(|e| e.for_flag(&format!("--env-file {path}, line {}", n + 1)))?;
        match arg {
            Some(EnvArg::Set(kv)) => out.push(kv),
            Some(EnvArg::FromCaller(k)) => out.extend(from_caller(&k)),
            None => {}
        }
    }
    Ok(out)
}
