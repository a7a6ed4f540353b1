//! The system's `ssh`, as wharf runs it to reach another machine: `~/.ssh/config`, the
//! agent, `known_hosts` and jump hosts work as they do for the user's own ssh, because
//! it is the user's own ssh. `WHARF_SSH_COMMAND` (like git's `GIT_SSH_COMMAND`) replaces
//! plain `ssh`, e.g. `ssh -F ./ssh_config`.
//!
//! ssh never prompts (BatchMode) and gives up on a machine that does not answer
//! (ConnectTimeout): a console cannot type a password, and a host that hangs must not
//! hang the caller. What ssh says on stderr is kept and turned into a message that
//! names the cause (an unknown host key, a refused login, a name that does not
//! resolve) and what to do about it.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use crate::error::{EngineError, Result};

/// Seconds ssh waits for a machine to answer before it gives up.
pub const CONNECT_TIMEOUT: u32 = 10;

/// What ssh wrote on stderr, kept for the error message (bounded).
#[derive(Debug, Clone, Default)]
pub struct Stderr(Arc<Mutex<String>>);

impl Stderr {
    /// Everything kept so far.
    pub fn text(&self) -> String {
        self.0.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Read `r` (ssh's stderr) to its end on a thread of its own.
    fn collect(&self, mut r: impl Read + Send + 'static) {
        let keep = self.0.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = r.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if let Ok(mut s) = keep.lock() {
                    if s.len() < 16 * 1024 {
                        s.push_str(&String::from_utf8_lossy(&buf[..n]));
                    }
                }
            }
        });
    }
}

/// The `ssh` command line that runs `remote` on `target` (`[user@]host`), with stdin
/// and stdout piped and stderr kept.
pub fn command(target: &str, port: Option<u16>, remote: &[&str]) -> Command {
    let custom = std::env::var("WHARF_SSH_COMMAND").unwrap_or_default();
    let mut words = custom.split_whitespace();
    let mut cmd = Command::new(words.next().unwrap_or("ssh"));
    cmd.args(words);
    // Options on the command line come before ~/.ssh/config's: never prompt, give up
    // on a machine that does not answer, and notice a connection that died.
    cmd.args([
        "-o",
        "BatchMode=yes",
        "-o",
        &format!("ConnectTimeout={CONNECT_TIMEOUT}"),
        "-o",
        "ServerAliveInterval=15",
        "-o",
        "ServerAliveCountMax=3",
        "-T",
    ]);
    if let Some(p) = port {
        cmd.arg("-p").arg(p.to_string());
    }
    // `--`: whatever follows is the destination and the remote command.
    cmd.arg("--").arg(target).args(remote);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Start `cmd` (from [`command`]); its stderr is collected into the returned [`Stderr`].
pub fn spawn(mut cmd: Command, target: &str) -> Result<(Child, Stderr)> {
    let mut child = cmd.spawn().map_err(|e| {
        EngineError::unavailable(format!(
            "cannot run ssh to reach {target}: {e} (is openssh-client installed?)"
        ))
    })?;
    let err = Stderr::default();
    if let Some(s) = child.stderr.take() {
        err.collect(s);
    }
    Ok((child, err))
}

/// A message for a connection through ssh to `target` that ended before the engine
/// answered, from what ssh said: the cause in plain words and what to do.
pub fn explain(target: &str, stderr: &str) -> String {
    let said: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("Warning: Permanently added"))
        .collect();
    let said_text = said.join("; ");
    let host = target.rsplit('@').next().unwrap_or(target);
    let low = stderr.to_ascii_lowercase();
    let hint = if low.contains("host key verification failed")
        || low.contains("no matching host key")
        || low.contains("host key for") && low.contains("has changed")
    {
        if low.contains("has changed") || low.contains("remote host identification") {
            format!("the host key of {host} has CHANGED since it was recorded in known_hosts: check with the machine's admin before trusting it (ssh-keygen -R {host} forgets the old key)")
        } else {
            format!("the host key of {host} is not known: connect once with `ssh {target}` to check and accept it (wharf never accepts a key on its own)")
        }
    } else if low.contains("permission denied") {
        format!("the login to {target} was refused: load your key into the agent (ssh-add), name it in ~/.ssh/config (IdentityFile), or check the user name")
    } else if low.contains("could not resolve hostname")
        || low.contains("name or service not known")
    {
        format!("{host} does not resolve: check the name, or add a Host entry in ~/.ssh/config")
    } else if low.contains("connection timed out") || low.contains("operation timed out") {
        format!(
            "{host} did not answer within {CONNECT_TIMEOUT} s: is it up, and is the port right?"
        )
    } else if low.contains("connection refused") {
        format!("{host} refused the connection: is sshd running there, on that port?")
    } else if low.contains("command not found") || low.contains("not found") {
        format!("the command wharf runs on {host} is missing there: {said_text}")
    } else if low.contains("no route to host") || low.contains("network is unreachable") {
        format!("{host} cannot be reached from here (no route)")
    } else if said.is_empty() {
        format!("ssh to {target} ended without a word")
    } else {
        format!("ssh to {target} failed")
    };
    if said.is_empty() || hint.contains(&said_text) {
        hint
    } else {
        format!("{hint} (ssh said: {said_text})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_failures_are_explained() {
        let m = explain("bob@lab", "Host key verification failed.\r\n");
        assert!(m.contains("not known") && m.contains("ssh bob@lab"), "{m}");
        let m = explain("bob@lab", "bob@lab: Permission denied (publickey).\n");
        assert!(m.contains("refused") && m.contains("ssh-add"), "{m}");
        assert!(m.contains("Permission denied (publickey)"), "{m}");
        let m = explain(
            "lab",
            "ssh: Could not resolve hostname lab: Name or service not known\n",
        );
        assert!(m.contains("does not resolve"), "{m}");
        let m = explain(
            "lab",
            "ssh: connect to host lab port 22: Connection timed out\n",
        );
        assert!(m.contains("did not answer"), "{m}");
        let m = explain("lab", "bash: docker: command not found\n");
        assert!(m.contains("missing"), "{m}");
        assert!(explain("lab", "").contains("without a word"));
    }

    #[test]
    fn the_command_never_prompts_and_keeps_the_destination_apart() {
        std::env::remove_var("WHARF_SSH_COMMAND");
        let c = command("u@h", Some(2222), &["docker", "system", "dial-stdio"]);
        let args: Vec<String> = c
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let dd = args.iter().position(|a| a == "--").unwrap();
        assert_eq!(args[dd + 1], "u@h");
        assert_eq!(args[dd + 2..], ["docker", "system", "dial-stdio"]);
        assert!(args.contains(&"BatchMode=yes".to_string()));
        assert!(args.iter().any(|a| a.starts_with("ConnectTimeout=")));
        assert!(args.windows(2).any(|w| w == ["-p", "2222"]));
    }
}
