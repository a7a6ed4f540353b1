//! Health checks: the image's HEALTHCHECK or the `--health-*` flags, probed by exec.
//!
//! The monitor launches one checker per container (`wharf __health ID --monitor PID`,
//! detached like the monitor) that lives as long as that monitor. Each run of the
//! container starts `starting`; a probe every interval runs the test through
//! [`LocalEngine::exec_unchecked`] with the timeout; `retries` failures in a row make
//! the container `unhealthy`, a success makes it `healthy` (failures during the start
//! period do not count). The result is kept in `containers/<id>/health.json` (Docker's
//! `State.Health`: Status, FailingStreak, Log of the last five probes) and each change
//! of status is a `health_status: <status>` event.

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use serde_json::Value;

use super::super::config::ContainerConfig;
use super::super::state::{self as rstate, RunState};
use super::super::{attach, paths};
use crate::api::{ContainerStatus, ExecConfig, HealthConfig, HealthStatus, EXEC_SIGNAL};
use crate::LocalEngine;

const SEC: i64 = 1_000_000_000;
/// Output kept per probe, as Docker.
const MAX_OUTPUT: usize = 4096;

/// The health check in effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthSpec {
    /// The command as exec'd.
    pub cmd: Vec<String>,
    pub interval: Duration,
    pub timeout: Duration,
    pub start_period: Duration,
    pub retries: u32,
}

/// One probe, as in Docker's `State.Health.Log`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Probe {
    #[serde(rename = "Start")]
    pub start: String,
    #[serde(rename = "End")]
    pub end: String,
    #[serde(rename = "ExitCode")]
    pub exit_code: i32,
    #[serde(rename = "Output")]
    pub output: String,
}

/// Docker's `State.Health`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Health {
    #[serde(rename = "Status")]
    pub status: HealthStatus,
    #[serde(rename = "FailingStreak")]
    pub failing_streak: u32,
    #[serde(rename = "Log")]
    pub log: Vec<Probe>,
    /// The container pid this record is about (a new run starts over).
    #[serde(default)]
    pub pid: i32,
}

fn file(engine: &LocalEngine, id: &str) -> std::path::PathBuf {
    paths::dir(engine, id).join("health.json")
}

/// The recorded health of container `id`, if it has a health check.
pub fn load(engine: &LocalEngine, id: &str) -> Option<Health> {
    crate::state::read_json(&file(engine, id)).ok().flatten()
}

/// The health status to show for a running container (`None` without a check).
pub fn current(engine: &LocalEngine, cfg: &ContainerConfig, st: &RunState) -> Option<HealthStatus> {
    if !matches!(
        st.status,
        ContainerStatus::Running | ContainerStatus::Paused
    ) {
        return None;
    }
    match load(engine, &cfg.id) {
        Some(h) if h.pid == st.pid => Some(h.status),
        _ => spec_for(engine, cfg).map(|_| HealthStatus::Starting),
    }
}

/// `Up 5 seconds` + ` (healthy)`, as `docker ps`.
pub fn decorate(status: String, h: Option<HealthStatus>) -> String {
    match h {
        Some(HealthStatus::Starting) => format!("{status} (health: starting)"),
        Some(HealthStatus::Healthy) => format!("{status} (healthy)"),
        Some(HealthStatus::Unhealthy) => format!("{status} (unhealthy)"),
        None => status,
    }
}

/// Add `State.Health` to an inspect document when the container has a health check.
pub fn inspect_into(engine: &LocalEngine, cfg: &ContainerConfig, st: &RunState, doc: &mut Value) {
    if spec_for(engine, cfg).is_none() {
        return;
    }
    let h = load(engine, &cfg.id);
    let status = current(engine, cfg, st)
        .or(h.as_ref().map(|h| h.status))
        .unwrap_or(HealthStatus::Starting);
    let mut v = serde_json::json!({"Status": status, "FailingStreak": 0, "Log": []});
    if let Some(h) = h {
        v["FailingStreak"] = serde_json::json!(h.failing_streak);
        v["Log"] = serde_json::json!(h.log);
    }
    if let Some(s) = doc.get_mut("State").and_then(|s| s.as_object_mut()) {
        s.insert("Health".into(), v);
    }
}

fn ns(d: Option<i64>, image: Option<&Value>, default: i64) -> Duration {
    let v = d
        .filter(|v| *v > 0)
        .or_else(|| image.and_then(|v| v.as_i64()).filter(|v| *v > 0))
        .unwrap_or(default);
    Duration::from_nanos(v.max(0) as u64)
}

/// Merge the `--health-*` flags over the image's HEALTHCHECK.
pub fn merge(flags: Option<&HealthConfig>, image: Option<&Value>) -> Option<HealthSpec> {
    let test: Vec<String> = match flags.and_then(|f| f.test.clone()) {
        Some(t) => t,
        None => image?
            .get("Test")?
            .as_array()?
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
    };
    let cmd = match test.first().map(String::as_str) {
        Some("CMD-SHELL") => vec!["/bin/sh".into(), "-c".into(), test.get(1..)?.join(" ")],
        Some("CMD") if test.len() > 1 => test[1..].to_vec(),
        _ => return None,
    };
    let f = flags.cloned().unwrap_or_default();
    Some(HealthSpec {
        cmd,
        interval: ns(
            f.interval_ns,
            image.and_then(|i| i.get("Interval")),
            30 * SEC,
        ),
        timeout: ns(f.timeout_ns, image.and_then(|i| i.get("Timeout")), 30 * SEC),
        start_period: ns(
            f.start_period_ns,
            image.and_then(|i| i.get("StartPeriod")),
            0,
        ),
        retries: f
            .retries
            .filter(|r| *r > 0)
            .or_else(|| {
                image
                    .and_then(|i| i.get("Retries"))
                    .and_then(|r| r.as_u64())
                    .filter(|r| *r > 0)
                    .map(|r| r as u32)
            })
            .unwrap_or(3),
    })
}

/// The health check of container `cfg`, if any.
pub fn spec_for(engine: &LocalEngine, cfg: &ContainerConfig) -> Option<HealthSpec> {
    let flags = cfg.spec.healthcheck.as_ref();
    if flags.and_then(|f| f.test.as_ref()).is_some() {
        return merge(flags, None).map(|s| {
            // Flags not given still fall back to the image's values.
            let img = image_healthcheck(engine, cfg);
            merge(flags, img.as_ref()).unwrap_or(s)
        });
    }
    let img = image_healthcheck(engine, cfg)?;
    merge(flags, Some(&img))
}

/// The image's HEALTHCHECK. An image id names its config's content, so what a config
/// says is read once per process (listings ask for every running container, every time).
fn image_healthcheck(engine: &LocalEngine, cfg: &ContainerConfig) -> Option<Value> {
    static SEEN: std::sync::Mutex<BTreeMap<String, Option<Value>>> =
        std::sync::Mutex::new(BTreeMap::new());
    if let Some(known) = SEEN.lock().ok()?.get(&cfg.image_id) {
        return known.clone();
    }
    let blob = engine
        .image_store()
        .read_blob(&cfg.image_id, 16 << 20)
        .ok()?;
    let v: Value = serde_json::from_slice(&blob).ok()?;
    let check = v.get("config").and_then(|c| c.get("Healthcheck")).cloned();
    if let Ok(mut seen) = SEEN.lock() {
        if seen.len() >= 1024 {
            seen.clear();
        }
        seen.insert(cfg.image_id.clone(), check.clone());
    }
    check
}

/// Start the checker for container `id` if it has a health check (called by its
/// monitor, whose pid bounds the checker's life).
pub fn launch(engine: &LocalEngine, id: &str) {
    let Ok(cfg) = super::super::load_config(engine, id) else {
        return;
    };
    if spec_for(engine, &cfg).is_none() {
        return;
    }
    let Ok(exe) = engine.wharf_exe() else { return };
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("--root")
        .arg(engine.root().path())
        .arg("__health")
        .arg(id)
        .arg("--monitor")
        .arg(std::process::id().to_string())
        .current_dir("/")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    // SAFETY: only close_range-free, async-signal-safe setsid runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    // The checker forks and its first process exits at once: wait for it so the
    // monitor keeps no zombie.
    let _ = cmd.status();
}

/// Entry point of `wharf __health ID --monitor PID`.
pub fn main(engine: &LocalEngine, id: &str, monitor: i32) -> i32 {
    let monitor_start = rstate::proc_start(monitor).unwrap_or(0);
    // SAFETY: fork in a single-threaded process; the parent leaves at once.
    match unsafe { libc::fork() } {
        -1 => return 1,
        0 => {}
        // SAFETY: as above.
        _ => unsafe { libc::_exit(0) },
    }
    let Ok(cfg) = super::super::load_config(engine, id) else {
        return 1;
    };
    let Some(spec) = spec_for(engine, &cfg) else {
        return 0;
    };
    let dir = paths::dir(engine, id);
    let mut pid = 0;
    let mut started = Instant::now();
    let mut next = Instant::now();
    let mut health: Option<Health> = None;
    loop {
        if !rstate::proc_alive(monitor, monitor_start) {
            return 0;
        }
        let Ok(st) = rstate::load(&dir) else { return 0 };
        if st.status == ContainerStatus::Running && st.pid_alive() && st.pid != pid {
            // A new run of the container: start over.
            pid = st.pid;
            started = Instant::now();
            next = started + spec.interval;
            let h = Health {
                status: HealthStatus::Starting,
                failing_streak: 0,
                log: health.take().map(|h| h.log).unwrap_or_default(),
                pid,
            };
            let _ = crate::state::atomic_write_json(&file(engine, id), &h);
            health = Some(h);
        }
        if pid == 0 || st.pid != pid || Instant::now() < next {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        }
        next = Instant::now() + spec.interval;
        if st.status != ContainerStatus::Running {
            continue; // paused: no probe
        }
        let probe = run_probe(engine, &cfg, &st, &spec);
        let Some(h) = health.as_mut() else { continue };
        let before = h.status;
        if probe.exit_code == 0 {
            h.failing_streak = 0;
            h.status = HealthStatus::Healthy;
        } else if started.elapsed() >= spec.start_period {
            h.failing_streak += 1;
            if h.failing_streak >= spec.retries {
                h.status = HealthStatus::Unhealthy;
            }
        }
        h.log.push(probe);
        if h.log.len() > 5 {
            let extra = h.log.len() - 5;
            h.log.drain(..extra);
        }
        let _ = crate::state::atomic_write_json(&file(engine, id), &*h);
        if h.status != before {
            let word = match h.status {
                HealthStatus::Starting => "starting",
                HealthStatus::Healthy => "healthy",
                HealthStatus::Unhealthy => "unhealthy",
            };
            engine.emit(super::super::event(&cfg, &format!("health_status: {word}")));
        }
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// Run the test once, with the timeout.
fn run_probe(
    engine: &LocalEngine,
    cfg: &ContainerConfig,
    st: &RunState,
    spec: &HealthSpec,
) -> Probe {
    let start = now();
    let ecfg = ExecConfig {
        cmd: spec.cmd.clone(),
        ..Default::default()
    };
    let done = |code: i32, output: String| Probe {
        start: start.clone(),
        end: now(),
        exit_code: code,
        output,
    };
    let session = match engine.exec_unchecked(cfg, st, &ecfg) {
        Ok(s) => s,
        Err(e) => return done(super::super::exec::exit_code_of(&e), e.message),
    };
    let Some(sock) = session.stream else {
        return done(-1, "the probe has no output stream".into());
    };
    let deadline = Instant::now() + spec.timeout;
    let mut out = Vec::new();
    let mut r = std::io::BufReader::new(&sock);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            let mut w = &sock;
            let _ = attach::write_frame(&mut w, EXEC_SIGNAL, b"9");
            return done(
                -1,
                format!(
                    "Health check exceeded timeout ({}s)",
                    spec.timeout.as_secs_f64()
                ),
            );
        }
        let _ = sock.set_read_timeout(Some(left));
        match attach::read_frame(&mut r) {
            Ok(Some((attach::STDOUT | attach::STDERR, d))) => {
                if out.len() < MAX_OUTPUT {
                    let take = (MAX_OUTPUT - out.len()).min(d.len());
                    out.extend_from_slice(&d[..take]);
                }
            }
            Ok(Some((attach::EXIT, d))) => {
                let code = String::from_utf8_lossy(&d).trim().parse().unwrap_or(-1);
                return done(code, String::from_utf8_lossy(&out).into_owned());
            }
            Ok(Some(_)) => {}
            Ok(None) => return done(-1, "the probe ended without an exit code".into()),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) => return done(-1, format!("reading the probe's output: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_over_image() {
        let img = serde_json::json!({"Test": ["CMD", "true"], "Interval": 5 * SEC, "Retries": 7});
        let s = merge(None, Some(&img)).unwrap();
        assert_eq!(s.cmd, vec!["true"]);
        assert_eq!(s.interval, Duration::from_secs(5));
        assert_eq!(s.retries, 7);
        let f = HealthConfig {
            test: Some(vec!["CMD-SHELL".into(), "exit 1".into()]),
            retries: Some(2),
            ..Default::default()
        };
        let s = merge(Some(&f), Some(&img)).unwrap();
        assert_eq!(s.cmd, vec!["/bin/sh", "-c", "exit 1"]);
        assert_eq!(s.retries, 2);
        assert_eq!(s.interval, Duration::from_secs(5));
        let none = HealthConfig {
            test: Some(vec!["NONE".into()]),
            ..Default::default()
        };
        assert!(merge(Some(&none), Some(&img)).is_none());
    }
}
