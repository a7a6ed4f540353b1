//! The way back: an engine request as the command-line words that make it. The console
//! shows (and a session journal keeps) the `wharf run ...` line of what it did, so a
//! student can type it; these words read back through the grammar above to the same
//! request (each mount and log option is checked to do so as it is written).

use crate::api::{ContainerCreate, HealthConfig, MountSpec, PortBinding, RestartPolicy};

use super::{cpus_text, human, log_opt, mount, tmpfs, volume, LogOpt};

/// `s` as one word for a POSIX shell: as it is when it needs no quoting, else in single
/// quotes (`'it'\''s'`).
pub fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:=@,+%^".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Words as one shell command line.
pub fn shell_line<S: AsRef<str>>(words: &[S]) -> String {
    words
        .iter()
        .map(|w| shell_quote(w.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `-p`: `[ip:][host:]container[/udp]` for one binding.
pub fn publish_arg(p: &PortBinding) -> String {
    let ip = if p.host_ip.contains(':') {
        format!("[{}]", p.host_ip)
    } else {
        p.host_ip.clone()
    };
    let proto = if p.proto == "tcp" || p.proto.is_empty() {
        String::new()
    } else {
        format!("/{}", p.proto)
    };
    let host = if p.host_port == 0 {
        String::new()
    } else {
        p.host_port.to_string()
    };
    match (ip.is_empty(), host.is_empty()) {
        (true, true) => format!("{}{proto}", p.container_port),
        (true, false) => format!("{host}:{}{proto}", p.container_port),
        (false, _) => format!("{ip}:{host}:{}{proto}", p.container_port),
    }
}

/// The flag and value that make `m`: `-v`, `--tmpfs` or `--mount`, whichever reads back
/// to exactly `m` first.
pub fn mount_arg(m: &MountSpec) -> (String, String) {
    let mut opts: Vec<String> = Vec::new();
    if m.read_only {
        opts.push("ro".into());
    }
    opts.extend(m.options.iter().cloned());
    let tail = if opts.is_empty() {
        String::new()
    } else {
        format!(":{}", opts.join(","))
    };
    let mut tries: Vec<(&str, String)> = Vec::new();
    match m.kind.as_str() {
        "tmpfs" => {
            let o = m.options.join(",");
            tries.push((
                "--tmpfs",
                if o.is_empty() {
                    m.target.clone()
                } else {
                    format!("{}:{o}", m.target)
                },
            ));
        }
        _ if m.source.is_empty() => tries.push(("-v", format!("{}{tail}", m.target))),
        _ => tries.push(("-v", format!("{}:{}{tail}", m.source, m.target))),
    }
    let mut mo = vec![format!("type={}", m.kind)];
    if !m.source.is_empty() {
        mo.push(format!("source={}", m.source));
    }
    mo.push(format!("target={}", m.target));
    if m.read_only {
        mo.push("readonly".into());
    }
    for o in &m.options {
        mo.push(match (m.kind.as_str(), o.as_str()) {
            ("bind", "z" | "Z") => format!("bind-propagation={o}"),
            ("bind", p) => format!("bind-propagation={p}"),
            ("volume", "nocopy") => "volume-nocopy".into(),
            ("tmpfs", x) if x.starts_with("size=") => format!("tmpfs-size={}", &x[5..]),
            ("tmpfs", x) if x.starts_with("mode=") => format!("tmpfs-mode={}", &x[5..]),
            (_, x) => x.to_string(),
        });
    }
    tries.push(("--mount", mo.join(",")));
    for (flag, v) in &tries {
        let back = match *flag {
            "-v" => volume(v),
            "--tmpfs" => tmpfs(v),
            _ => mount(v),
        };
        if back.as_ref().is_ok_and(|b| b == m) {
            return (flag.to_string(), v.clone());
        }
    }
    let (f, v) = tries.swap_remove(0);
    (f.to_string(), v)
}

/// `--log-opt max-size=` for a size in bytes, as the grammar reads it back.
fn log_size(bytes: u64) -> String {
    for (unit, n) in [("g", 1_000_000_000u64), ("m", 1_000_000), ("k", 1_000)] {
        let v = format!("max-size={}{unit}", bytes / n);
        if bytes % n == 0 && matches!(log_opt(&v), Ok(LogOpt::MaxSize(b)) if b == bytes) {
            return v;
        }
    }
    format!("max-size={bytes}")
}

/// A duration in nanoseconds as a Go duration: `30s`, `1500ms`, `7ns`.
pub fn go_duration(ns: i64) -> String {
    for (unit, n) in [
        ("h", 3_600_000_000_000i64),
        ("m", 60_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
        ("us", 1_000),
    ] {
        if ns != 0 && ns % n == 0 {
            return format!("{}{unit}", ns / n);
        }
    }
    format!("{ns}ns")
}

fn restart_arg(r: &RestartPolicy) -> Option<String> {
    match r {
        RestartPolicy::No => None,
        RestartPolicy::Always => Some("always".into()),
        RestartPolicy::UnlessStopped => Some("unless-stopped".into()),
        RestartPolicy::OnFailure { max_retries: 0 } => Some("on-failure".into()),
        RestartPolicy::OnFailure { max_retries } => Some(format!("on-failure:{max_retries}")),
    }
}

fn health_args(h: &HealthConfig, out: &mut Vec<String>) {
    let mut flag = |f: &str, v: String| {
        out.push(f.to_string());
        out.push(v);
    };
    match h.test.as_deref() {
        Some([none]) if none == "NONE" => {
            out.push("--no-healthcheck".into());
            return;
        }
        Some([shell, cmd]) if shell == "CMD-SHELL" => flag("--health-cmd", cmd.clone()),
        // The exec form (`["CMD", ...]`) has no flag: as one shell line it does the same.
        Some([exec, rest @ ..]) if exec == "CMD" => flag("--health-cmd", shell_line(rest)),
        _ => {}
    }
    if let Some(v) = h.interval_ns {
        flag("--health-interval", go_duration(v));
    }
    if let Some(v) = h.timeout_ns {
        flag("--health-timeout", go_duration(v));
    }
    if let Some(v) = h.start_period_ns {
        flag("--health-start-period", go_duration(v));
    }
    if let Some(v) = h.retries {
        flag("--health-retries", v.to_string());
    }
}

/// The words after `wharf run -d` (or `wharf create`) that make `spec`: the flags, the
/// image, the command.
pub fn run_args(spec: &ContainerCreate) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let flag = |out: &mut Vec<String>, f: &str, v: &str| {
        out.push(f.to_string());
        out.push(v.to_string());
    };
    let switch = |out: &mut Vec<String>, on: bool, f: &str| {
        if on {
            out.push(f.to_string());
        }
    };
    switch(&mut out, spec.open_stdin, "-i");
    switch(&mut out, spec.tty, "-t");
    switch(&mut out, spec.auto_remove, "--rm");
    if let Some(n) = &spec.name {
        flag(&mut out, "--name", n);
    }
    if let Some(h) = &spec.hostname {
        flag(&mut out, "-h", h);
    }
    if let Some(u) = &spec.user {
        flag(&mut out, "-u", u);
    }
    if let Some(w) = &spec.workdir {
        flag(&mut out, "-w", w);
    }
    match spec.entrypoint.as_deref() {
        None => {}
        Some([]) => flag(&mut out, "--entrypoint", ""),
        Some([e, ..]) => flag(&mut out, "--entrypoint", e),
    }
    for e in &spec.env {
        flag(&mut out, "-e", e);
    }
    for (k, v) in &spec.labels {
        flag(&mut out, "-l", &format!("{k}={v}"));
    }
    for p in &spec.ports {
        flag(&mut out, "-p", &publish_arg(p));
    }
    switch(&mut out, spec.publish_all, "-P");
    for p in &spec.expose {
        let proto = if p.proto == "tcp" {
            String::new()
        } else {
            format!("/{}", p.proto)
        };
        flag(
            &mut out,
            "--expose",
            &format!("{}{proto}", p.container_port),
        );
    }
    for m in &spec.mounts {
        let (f, v) = mount_arg(m);
        flag(&mut out, &f, &v);
    }
    for v in &spec.volumes_from {
        flag(&mut out, "--volumes-from", v);
    }
    if let Some(n) = &spec.network {
        flag(&mut out, "--network", n);
    }
    if let Some(ip) = &spec.ip {
        flag(&mut out, "--ip", ip);
    }
    for a in &spec.network_aliases {
        flag(&mut out, "--network-alias", a);
    }
    for d in &spec.dns {
        flag(&mut out, "--dns", d);
    }
    for h in &spec.extra_hosts {
        flag(&mut out, "--add-host", h);
    }
    let r = &spec.resources;
    if let Some(m) = r.memory {
        flag(&mut out, "-m", &human(m));
    }
    if let Some(s) = r.memory_swap {
        flag(
            &mut out,
            "--memory-swap",
            &if s < 0 { "-1".to_string() } else { human(s) },
        );
    }
    if let Some(n) = r.nano_cpus {
        flag(&mut out, "--cpus", &cpus_text(n));
    }
    if let Some(s) = r.cpu_shares {
        flag(&mut out, "--cpu-shares", &s.to_string());
    }
    if let Some(c) = &r.cpuset_cpus {
        flag(&mut out, "--cpuset-cpus", c);
    }
    if let Some(p) = r.pids_limit {
        flag(&mut out, "--pids-limit", &p.to_string());
    }
    if let Some(w) = r.blkio_weight {
        flag(&mut out, "--blkio-weight", &w.to_string());
    }
    if let Some(p) = restart_arg(&spec.restart) {
        flag(&mut out, "--restart", &p);
    }
    switch(&mut out, spec.read_only, "--read-only");
    switch(&mut out, spec.privileged, "--privileged");
    switch(&mut out, spec.init, "--init");
    for c in &spec.cap_add {
        flag(&mut out, "--cap-add", c);
    }
    for c in &spec.cap_drop {
        flag(&mut out, "--cap-drop", c);
    }
    for s in &spec.security_opt {
        flag(&mut out, "--security-opt", s);
    }
    if let Some(s) = &spec.stop_signal {
        flag(&mut out, "--stop-signal", s);
    }
    if let Some(t) = spec.stop_timeout {
        flag(&mut out, "--stop-timeout", &t.to_string());
    }
    for u in &spec.ulimits {
        let v = if u.soft == u.hard {
            format!("{}={}", u.name, u.soft)
        } else {
            format!("{}={}:{}", u.name, u.soft, u.hard)
        };
        flag(&mut out, "--ulimit", &v);
    }
    if let Some(s) = spec.shm_size {
        flag(&mut out, "--shm-size", &human(s as i64));
    }
    if let Some(d) = &spec.log_driver {
        flag(&mut out, "--log-driver", d);
    }
    if let Some(b) = spec.log_max_size {
        flag(&mut out, "--log-opt", &log_size(b));
    }
    if let Some(n) = spec.log_max_files {
        flag(&mut out, "--log-opt", &format!("max-file={n}"));
    }
    if let Some(h) = &spec.healthcheck {
        health_args(h, &mut out);
    }
    out.push(spec.image.clone());
    if let Some([_, rest @ ..]) = spec.entrypoint.as_deref() {
        // `--entrypoint` takes one word; the entrypoint's others lead the command.
        out.extend(rest.iter().cloned());
    }
    if let Some(cmd) = &spec.cmd {
        out.extend(cmd.iter().cloned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::flags;

    #[test]
    fn words_are_quoted_only_when_needed() {
        assert_eq!(shell_quote("web-1"), "web-1");
        assert_eq!(shell_quote("8080:80/udp"), "8080:80/udp");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("echo hi"), "'echo hi'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(
            shell_line(&["sh", "-c", "echo $HOME"]),
            "sh -c 'echo $HOME'"
        );
    }

    #[test]
    fn ports_read_back_as_written() {
        for p in [
            "80",
            "8080:80",
            "127.0.0.1:8080:80",
            "127.0.0.1::80",
            "53:53/udp",
            "[::1]:8080:80",
        ] {
            let b = flags::publish(p).unwrap();
            assert_eq!(b.len(), 1, "{p}");
            let again = publish_arg(&b[0]);
            assert_eq!(flags::publish(&again).unwrap(), b, "{p} -> {again}");
        }
    }

    #[test]
    fn mounts_read_back_as_written() {
        let mut specs = Vec::new();
        for v in [
            "data:/data",
            "data:/data:ro",
            "/anon",
            "/srv/x:/x:ro,rshared",
            "/srv/y:/y:z",
        ] {
            specs.push(flags::volume(v).unwrap());
        }
        specs.push(flags::tmpfs("/run:size=65536k,mode=1777").unwrap());
        specs.push(flags::mount("type=volume,source=v2,target=/v2,volume-nocopy").unwrap());
        specs.push(flags::mount("type=tmpfs,target=/t,tmpfs-size=1m").unwrap());
        for m in specs {
            let (f, v) = mount_arg(&m);
            let back = match f.as_str() {
                "-v" => flags::volume(&v),
                "--tmpfs" => flags::tmpfs(&v),
                _ => flags::mount(&v),
            }
            .unwrap();
            assert_eq!(back, m, "{f} {v}");
        }
    }

    #[test]
    fn sizes_and_durations_read_back() {
        for b in [10_000_000u64, 1_500_000, 123] {
            assert_eq!(
                flags::log_opt(&log_size(b)).unwrap(),
                LogOpt::MaxSize(b),
                "{b}"
            );
        }
        for ns in [30_000_000_000i64, 1_500_000_000, 90_000_000_000, 7] {
            assert_eq!(flags::duration("--x", &go_duration(ns)).unwrap(), ns);
        }
    }
}
