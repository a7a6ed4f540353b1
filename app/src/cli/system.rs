//! `wharf info`, `wharf events`.

use clap::{Args, Subcommand};
use wharf_engine::api::EventFilter;

use super::Ctx;

/// System commands.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Show the engine, host, cgroup mode and counts.
    Info(InfoArgs),
    /// Show events (Docker's vocabulary); follows until interrupted unless --until is given.
    Events(EventsArgs),
}

#[derive(Debug, Args)]
pub struct InfoArgs {
    /// Output format: `json` for machine-readable output.
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Show events created since this time (RFC 3339, unix seconds, or a duration like 10m).
    #[arg(long)]
    pub since: Option<String>,
    /// Stream events until this time (same forms as --since).
    #[arg(long)]
    pub until: Option<String>,
    /// Filter: type=, event=, container=, image=, network=, volume=, label=.
    #[arg(short, long = "filter")]
    pub filters: Vec<String>,
    /// Output format: `json` prints one JSON object per line.
    #[arg(long)]
    pub format: Option<String>,
}

/// Parse a time as Docker's CLI accepts it; nanoseconds since the epoch: RFC 3339, unix
/// seconds (`1700000000.5`), or a Go duration before now (`10m`, `1h30m`).
pub fn parse_time(s: &str) -> Result<i64, String> {
    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_nanos_opt().unwrap_or(0));
    }
    if let Ok(secs) = s.parse::<f64>() {
        if secs.is_finite() && (0.0..=9.2e9).contains(&secs) && !s.contains(['e', 'E']) {
            return Ok((secs * 1e9) as i64);
        }
    }
    match s.parse::<wharf_engine::api::flags::GoDuration>() {
        Ok(d) if d.0 >= 0 => Ok(now.saturating_sub(d.0)),
        _ => Err(format!(
            "invalid time {s:?}: use RFC 3339 (2024-01-02T15:04:05Z), unix seconds, or a duration like 10m or 1h30m"
        )),
    }
}

/// Turn `--filter` strings into an [`EventFilter`].
pub fn parse_event_filters(filters: &[String]) -> Result<EventFilter, String> {
    let mut f = EventFilter::default();
    for raw in filters {
        let (k, v) = raw
            .split_once('=')
            .ok_or_else(|| format!("invalid filter {raw:?}: use key=value, e.g. type=container"))?;
        match k {
            "type" => f.types.push(v.to_string()),
            "event" => f.actions.push(v.to_string()),
            "label" => f.labels.push(v.to_string()),
            "container" | "image" | "network" | "volume" => f.objects.push((k.to_string(), v.to_string())),
            _ => {
                return Err(format!(
                    "invalid filter key {k:?}: use type, event, container, image, network, volume or label"
                ))
            }
        }
    }
    Ok(f)
}

/// Run a system command; returns the exit code.
pub fn run(cmd: Cmd, ctx: &Ctx) -> i32 {
    match cmd {
        Cmd::Info(a) => match ctx.api().info(&ctx.caller) {
            Ok(info) => {
                if a.format.as_deref() == Some("json") {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&info).unwrap_or_default()
                    );
                } else {
                    println!("Engine:       wharf {}", info.engine_version);
                    println!("Host:         {}", info.hostname);
                    println!("OS:           {}", info.os);
                    println!("Kernel:       {}", info.kernel);
                    println!("Cgroup mode:  {}", info.cgroup_mode.as_str());
                    println!("CPUs:         {}", info.ncpu);
                    println!("Memory:       {}", super::human_size(info.mem_total));
                    println!("State root:   {}", info.root);
                    println!(
                        "Containers:   {} (running {}, paused {}, stopped {})",
                        info.containers, info.running, info.paused, info.stopped
                    );
                    println!("Images:       {}", info.images);
                    println!("Caller:       {}", info.caller.label());
                }
                0
            }
            Err(e) => {
                super::report(&e);
                super::exit_code_for(&e)
            }
        },
        Cmd::Events(a) => {
            let mut f = match parse_event_filters(&a.filters) {
                Ok(f) => f,
                Err(e) => {
                    eprintln!("wharf: {e}");
                    return 125;
                }
            };
            for (src, dst) in [(&a.since, &mut f.since), (&a.until, &mut f.until)] {
                if let Some(s) = src {
                    match parse_time(s) {
                        Ok(t) => *dst = Some(t),
                        Err(e) => {
                            eprintln!("wharf: {e}");
                            return 125;
                        }
                    }
                }
            }
            f.follow = a.until.is_none()
                || f.until
                    .is_some_and(|u| u > chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0));
            let json = a.format.as_deref() == Some("json");
            let res = ctx.api().events(&ctx.caller, &f, &mut |ev| {
                use std::io::Write;
                let line = if json {
                    serde_json::to_string(&ev).unwrap_or_default()
                } else {
                    let t = chrono::DateTime::from_timestamp_nanos(ev.time_nano)
                        .with_timezone(&chrono::Local)
                        .format("%Y-%m-%dT%H:%M:%S%.9f%:z");
                    let attrs: Vec<String> = ev
                        .actor
                        .attributes
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect();
                    format!(
                        "{t} {} {} {} ({})",
                        ev.kind.as_str(),
                        ev.action,
                        ev.actor.id,
                        attrs.join(", ")
                    )
                };
                let mut out = std::io::stdout().lock();
                writeln!(out, "{line}").and_then(|_| out.flush()).is_ok()
            });
            match res {
                Ok(()) => 0,
                Err(e) => {
                    super::report(&e);
                    super::exit_code_for(&e)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_as_docker_reads_them() {
        assert_eq!(
            parse_time("2024-01-02T15:04:05Z").unwrap(),
            1_704_207_845_000_000_000
        );
        assert_eq!(
            parse_time("1700000000.5").unwrap(),
            1_700_000_000_500_000_000
        );
        let now = chrono::Utc::now().timestamp_nanos_opt().unwrap();
        let t = parse_time("1h30m").unwrap();
        assert!((now - t - 5_400_000_000_000).abs() < 60_000_000_000, "{t}");
        for bad in ["nan", "inf", "-1", "1e30", "10x", "", "-10m"] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }
}
