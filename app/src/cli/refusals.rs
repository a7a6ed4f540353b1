//! What docker has and wharf does not: each docker flag and command that wharf lacks is
//! refused by name with the reason and what to do instead, never silently ignored. The
//! command line's parser refuses them (they are not wharf's flags); this module turns
//! its "unexpected argument" into wharf's words.

/// Docker commands wharf does not have, and why.
const COMMANDS: &[(&str, &str)] = &[
    ("buildx", "wharf has one builder (the classic one, built in): use wharf build; BuildKit builders are not supported"),
    ("checkpoint", "checkpoint and restore (CRIU) is not supported"),
    ("context", "wharf has no contexts: use --host unix:///PATH or ssh://user@host (or WHARF_HOST)"),
    ("manifest", "manifest lists are not managed by wharf: wharf pull --platform picks one platform"),
    ("plugin", "wharf has no plugins"),
    ("trust", "content trust (notary signatures) is not supported"),
    ("config", "swarm is not supported"),
    ("node", "swarm is not supported"),
    ("secret", "swarm is not supported"),
    ("service", "swarm is not supported"),
    ("stack", "swarm is not supported"),
    ("swarm", "swarm is not supported"),
    ("compose", "compose stacks are not in this wharf"),
    ("scout", "image scanning is not supported"),
    ("init", "wharf has no project templates"),
    ("debug", "wharf debug is not supported: use wharf exec"),
];

/// Docker flags wharf does not have: (commands they belong to, flag, why).
/// An empty command list is docker's global options.
const FLAGS: &[(&[&str], &str, &str)] = &[
    // Global options.
    (&[""], "--config", "wharf keeps no client config directory: registry logins are in wharf login's store"),
    (&[""], "--context", "wharf has no contexts: use --host (or WHARF_HOST)"),
    (&[""], "-c", "-c/--context: wharf has no contexts: use --host (or WHARF_HOST)"),
    (&[""], "--debug", "there is no debug mode: the console's log pane shows what wharf does"),
    (&[""], "-D", "-D/--debug: there is no debug mode"),
    (&[""], "--log-level", "wharf's command line has no log level"),
    (&[""], "-l", "-l/--log-level: wharf's command line has no log level"),
    (&[""], "--tls", "TCP with TLS is not supported: use --host unix:///PATH or ssh://user@host"),
    (&[""], "--tlscacert", "TCP with TLS is not supported: use --host unix:///PATH or ssh://user@host"),
    (&[""], "--tlscert", "TCP with TLS is not supported: use --host unix:///PATH or ssh://user@host"),
    (&[""], "--tlskey", "TCP with TLS is not supported: use --host unix:///PATH or ssh://user@host"),
    (&[""], "--tlsverify", "TCP with TLS is not supported: use --host unix:///PATH or ssh://user@host"),
    // build.
    (BUILD, "--add-host", "RUN steps have network none by default and no extra hosts: use --network"),
    (BUILD, "--cache-from", "wharf's build cache is its own (kept across builds): build once, and later builds use it"),
    (BUILD, "--cgroup-parent", "RUN steps run in wharf's own cgroup tree"),
    (BUILD, "--compress", "the context is read locally (or sent over wharf's socket) uncompressed"),
    (BUILD, "--cpu-period", "RUN steps run without resource limits of their own"),
    (BUILD, "--cpu-quota", "RUN steps run without resource limits of their own"),
    (BUILD, "--cpu-shares", "RUN steps run without resource limits of their own"),
    (BUILD, "-c", "-c/--cpu-shares: RUN steps run without resource limits of their own"),
    (BUILD, "--cpuset-cpus", "RUN steps run without resource limits of their own"),
    (BUILD, "--cpuset-mems", "RUN steps run without resource limits of their own"),
    (BUILD, "--isolation", "a Windows option"),
    (BUILD, "--memory", "RUN steps run without resource limits of their own"),
    (BUILD, "-m", "-m/--memory: RUN steps run without resource limits of their own"),
    (BUILD, "--memory-swap", "RUN steps run without resource limits of their own"),
    (BUILD, "--output", "the result is an image in wharf's store: wharf save or export it from there"),
    (BUILD, "-o", "-o/--output: the result is an image in wharf's store: wharf save or export it from there"),
    (BUILD, "--secret", "build secrets are a BuildKit feature: wharf's builder is the classic one"),
    (BUILD, "--security-opt", "RUN steps run with the hardening of wharf run"),
    (BUILD, "--shm-size", "RUN steps get the default /dev/shm"),
    (BUILD, "--squash", "squashing is an experimental docker feature: wharf export | wharf import flattens an image"),
    (BUILD, "--ssh", "ssh agent forwarding is a BuildKit feature: wharf's builder is the classic one"),
    (BUILD, "--ulimit", "RUN steps get the default limits"),
    (BUILD, "--stream", "the context is sent whole"),
    // run and create.
    (RUN, "--annotation", "OCI annotations are not supported: use --label"),
    (RUN, "--attach", "choosing streams is not supported: run in the foreground attaches stdout and stderr (and stdin with -i)"),
    (RUN, "-a", "-a/--attach: choosing streams is not supported: run in the foreground attaches stdout and stderr (and stdin with -i)"),
    (RUN, "--blkio-weight-device", "per-device I/O weights are not supported: use --blkio-weight"),
    (RUN, "--cgroup-parent", "wharf places each container in its own cgroup under wharf's tree"),
    (RUN, "--cgroupns", "every container has its own cgroup namespace; sharing the host's is not supported"),
    (RUN, "--cpu-count", "a Windows option: use --cpus"),
    (RUN, "--cpu-percent", "a Windows option: use --cpus"),
    (RUN, "--cpu-period", "CFS period and quota are set from --cpus: use --cpus"),
    (RUN, "--cpu-quota", "CFS period and quota are set from --cpus: use --cpus"),
    (RUN, "--cpu-rt-period", "real-time scheduling is not supported"),
    (RUN, "--cpu-rt-runtime", "real-time scheduling is not supported"),
    (RUN, "--cpuset-mems", "memory node pinning is not supported: use --cpuset-cpus"),
    (RUN, "--device", "host devices are not passed into containers (a device is a privilege wharf's roles do not hand out one by one)"),
    (RUN, "--device-cgroup-rule", "device rules are not supported: containers get Docker's default device set"),
    (RUN, "--device-read-bps", "per-device I/O limits are not supported: use --blkio-weight"),
    (RUN, "--device-read-iops", "per-device I/O limits are not supported: use --blkio-weight"),
    (RUN, "--device-write-bps", "per-device I/O limits are not supported: use --blkio-weight"),
    (RUN, "--device-write-iops", "per-device I/O limits are not supported: use --blkio-weight"),
    (RUN, "--disable-content-trust", "content trust (notary signatures) is not supported"),
    (RUN, "--dns-option", "only --dns servers are supported"),
    (RUN, "--dns-search", "only --dns servers are supported"),
    (RUN, "--domainname", "only --hostname is supported"),
    (RUN, "--gpus", "GPUs (host devices) are not passed into containers"),
    (RUN, "--group-add", "supplementary groups are not supported: use -u user:group"),
    (RUN, "--health-start-interval", "use --health-interval (checks run at that interval from the start)"),
    (RUN, "--io-maxbandwidth", "a Windows option: use --blkio-weight"),
    (RUN, "--io-maxiops", "a Windows option: use --blkio-weight"),
    (RUN, "--ip6", "wharf networks are IPv4 only"),
    (RUN, "--ipc", "every container has its own IPC namespace; sharing is not supported"),
    (RUN, "--isolation", "a Windows option"),
    (RUN, "--kernel-memory", "kernel memory limits are gone from Linux: use --memory"),
    (RUN, "--link", "legacy links are not supported: put both containers on one network (wharf network create) and use their names"),
    (RUN, "--link-local-ip", "link-local addresses are not supported"),
    (RUN, "--mac-address", "wharf's bridge chooses each container's MAC address; setting it is not supported"),
    (RUN, "--memory-reservation", "soft memory limits are not supported: use --memory"),
    (RUN, "--memory-swappiness", "swappiness is not supported: use --memory-swap"),
    (RUN, "--oom-kill-disable", "disabling the OOM killer is not supported: set --memory high enough"),
    (RUN, "--oom-score-adj", "OOM score adjustment is not supported"),
    (RUN, "--pid", "every container has its own pid namespace; sharing the host's or another container's is not supported"),
    (RUN, "--runtime", "wharf is its own runtime: there is no other to choose"),
    (RUN, "--storage-opt", "storage options are not supported: the writable layer is an overlay directory without a quota"),
    (RUN, "--sysctl", "namespaced sysctls are not supported"),
    (RUN, "--use-api-socket", "giving a container the engine's socket is not supported"),
    (RUN, "--userns", "user namespace modes are not chosen per container"),
    (RUN, "--uts", "every container has its own UTS namespace; sharing the host's is not supported"),
    (RUN, "--volume-driver", "only the local volume driver exists"),
    // exec
    (&["exec"], "--privileged", "exec --privileged is not supported: an exec has the container's own privileges"),
    // start
    (&["start"], "--checkpoint", "checkpoint and restore (CRIU) is not supported"),
    (&["start"], "--checkpoint-dir", "checkpoint and restore (CRIU) is not supported"),
];

/// The commands `run`'s flags apply to.
const RUN: &[&str] = &["run", "create", "container run", "container create"];
const BUILD: &[&str] = &["build", "builder build", "image build"];

/// Global options that take a value (to find the command in a command line).
const GLOBAL_WITH_VALUE: &[&str] = &["--root", "--as", "--host", "--policy", "--keymap"];

/// The command path of a command line (`run`, `container run`, "" for none).
#[cfg(test)]
fn command_of(argv: &[String]) -> String {
    command_at(argv).0
}

fn command_at(argv: &[String]) -> (String, usize) {
    let mut first = argv.len();
    let mut words = Vec::new();
    let mut i = 1;
    while i < argv.len() {
        let a = &argv[i];
        if GLOBAL_WITH_VALUE.contains(&a.as_str()) {
            i += 2;
            continue;
        }
        if a.starts_with('-') {
            if words.is_empty() {
                i += 1;
                continue;
            }
            break;
        }
        if words.is_empty() {
            first = i;
        }
        words.push(a.as_str());
        if words.len() == 2
            || !["container", "image", "network", "volume", "system"].contains(&words[0])
        {
            break;
        }
        i += 1;
    }
    (words.join(" "), first)
}

/// What a docker command wharf lacks says, or `None` when wharf does not know it.
pub fn command(name: &str) -> Option<String> {
    COMMANDS
        .iter()
        .find(|(c, _)| *c == name)
        .map(|(c, why)| format!("wharf: `{c}` is not supported: {why}"))
}

/// What a docker flag wharf lacks says for `argv`'s command, or `None`.
pub fn flag(argv: &[String], flag: &str) -> Option<String> {
    let flag = flag.split('=').next().unwrap_or(flag);
    let (mut cmd, first) = command_at(argv);
    // Before the command, it is one of docker's global options.
    let at = argv
        .iter()
        .position(|a| a == flag || a.starts_with(&format!("{flag}=")));
    if at.is_some_and(|p| p < first) {
        cmd = String::new();
    }
    FLAGS
        .iter()
        .find(|(cmds, f, _)| *f == flag && cmds.contains(&cmd.as_str()))
        .map(|(_, f, why)| {
            let on = if cmd.is_empty() {
                "wharf".to_string()
            } else {
                format!("wharf {cmd}")
            };
            format!("wharf: {f} is not supported by {on}: {why}")
        })
}

/// wharf's words for a command-line error, when it is a docker flag or command that
/// wharf lacks.
pub fn explain(e: &clap::Error, argv: &[String]) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let arg = match e
        .get(ContextKind::InvalidArg)
        .or_else(|| e.get(ContextKind::InvalidSubcommand))
    {
        Some(ContextValue::String(s)) => s.clone(),
        Some(ContextValue::Strings(v)) => v.first().cloned()?,
        _ => return None,
    };
    match e.kind() {
        ErrorKind::UnknownArgument => flag(argv, &arg),
        ErrorKind::InvalidSubcommand => command(&arg).or_else(|| {
            let (cmd, _) = command_at(argv);
            let group = cmd
                .split(' ')
                .next()
                .filter(|g| !g.is_empty() && *g != arg)?;
            Some(format!(
                "wharf: `{group} {arg}` is not supported{}: wharf {group} --help lists what is",
                if group == "volume" && arg == "update" {
                    " (cluster volumes are a swarm feature)"
                } else {
                    ""
                }
            ))
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn the_command_of_a_line() {
        assert_eq!(command_of(&argv("wharf --root /r run --gpus all x")), "run");
        assert_eq!(
            command_of(&argv("wharf container run --gpus x")),
            "container run"
        );
        assert_eq!(command_of(&argv("wharf --tls ps")), "ps");
        assert_eq!(command_of(&argv("wharf --tls")), "");
        let m = flag(&argv("wharf --tls ps"), "--tls").unwrap();
        assert!(m.contains("by wharf:"), "{m}");
        let m = flag(&argv("wharf run --gpus all busybox"), "--gpus").unwrap();
        assert!(m.contains("--gpus") && m.contains("wharf run"), "{m}");
        assert!(flag(&argv("wharf ps --gpus"), "--gpus").is_none());
        assert!(command("buildx").unwrap().contains("`buildx`"));
        assert!(command("build").is_none());
    }
}
