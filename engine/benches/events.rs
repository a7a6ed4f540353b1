//! Event latency from an action in one process to a subscriber in another.
//!
//! `cargo bench -p wharf-engine --bench events`: this binary re-executes itself as the
//! subscriber (`Engine::events` with follow), appends N events from the parent and
//! reports the latency percentiles between an event's timestamp and its arrival.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use wharf_engine::api::{EventFilter, SystemApi};
use wharf_engine::events::{Event, EventType};
use wharf_engine::{Caller, EngineOptions, LocalEngine};

const N: usize = 300;

fn now_ns() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
}

fn subscriber(root: &str) {
    let e = LocalEngine::open(root, EngineOptions::default()).expect("open root");
    let f = EventFilter {
        follow: true,
        ..Default::default()
    };
    let mut seen = 0;
    println!("ready");
    e.events(&Caller::root(), &f, &mut |ev| {
        println!("{} {}", ev.time_nano, now_ns());
        seen += 1;
        seen < N
    })
    .expect("follow events");
}

fn main() {
    if let Ok(root) = std::env::var("WHARF_BENCH_SUBSCRIBER") {
        return subscriber(&root);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("root");
    let engine = LocalEngine::open(&root, EngineOptions::default()).expect("open root");
    let mut child = Command::new(std::env::current_exe().expect("current exe"))
        .env("WHARF_BENCH_SUBSCRIBER", &root)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn subscriber");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    assert_eq!(lines.next().and_then(|l| l.ok()).as_deref(), Some("ready"));
    std::thread::sleep(Duration::from_millis(200));
    let writer = std::thread::spawn(move || {
        for i in 0..N {
            engine.emit(Event::new(EventType::Container, "start", format!("c{i}")));
            std::thread::sleep(Duration::from_millis(5));
        }
    });
    let mut lat: Vec<f64> = lines
        .take(N)
        .filter_map(|l| l.ok())
        .filter_map(|l| {
            let (a, b) = l.split_once(' ')?;
            Some((b.parse::<i64>().ok()? - a.parse::<i64>().ok()?) as f64 / 1e6)
        })
        .collect();
    writer.join().expect("writer");
    let _ = child.wait();
    lat.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| lat[((lat.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "event latency, action -> subscriber in another process ({} events): p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        lat.len(),
        pct(0.50),
        pct(0.99),
        pct(1.0)
    );
}
