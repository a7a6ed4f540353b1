//! The shared engine under load: 100 concurrent clients listing 1000 containers through
//! the Unix socket (`wharf serve`'s server and the real client), for 10 seconds.
//!
//! `cargo bench -p wharf-engine --bench socket` (as root). Prints p50/p99 latency and
//! requests per second as the clients see them, the server's own share (from a request
//! read to its answer ready), and the load average before (the figures mean little on
//! a busy machine). The clients read the listing through `container_list_shared` (an
//! unchanged listing's kept rows, not a copy); then the same with `container_list` (a
//! copy of every row per call), and through bare HTTP exchanges, without the client's
//! decoding.

use std::io::{BufRead, BufReader, Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wharf_engine::api::{ContainerApi, ContainerCreate, ContainerListOptions, ImageApi};
use wharf_engine::remote::client::{Endpoint, RemoteEngine};
use wharf_engine::server;
use wharf_engine::{Caller, EngineOptions, LocalEngine};

const CONTAINERS: usize = 1000;
const CLIENTS: usize = 100;
const RUN: Duration = Duration::from_secs(10);

/// The 1-minute load average.
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn main() {
    let dir = tempfile::Builder::new()
        .prefix("wsock")
        .tempdir_in("/tmp")
        .expect("tempdir");
    let engine = Arc::new(
        LocalEngine::open(dir.path().join("root"), EngineOptions::default()).expect("open"),
    );
    let root = Caller::root();
    engine
        .image_build_demo(&root, "wharf/demo:latest")
        .expect("demo image");
    let t = Instant::now();
    for i in 0..CONTAINERS {
        let spec = ContainerCreate {
            name: Some(format!("c{i}")),
            image: "wharf/demo".into(),
            network: Some("none".into()),
            ..Default::default()
        };
        engine.container_create(&root, &spec).expect("create");
    }
    eprintln!(
        "created {CONTAINERS} containers in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    // The engine alone (no socket, no JSON): where a request's time goes.
    let opts_all = ContainerListOptions {
        all: true,
        ..Default::default()
    };
    let n = 30;
    let t = Instant::now();
    for _ in 0..n {
        engine.container_list(&root, &opts_all).expect("list");
    }
    let list = engine.container_list(&root, &opts_all).expect("list");
    let engine_ms = t.elapsed().as_secs_f64() * 1000.0 / n as f64;
    let t = Instant::now();
    let mut bytes = 0;
    for _ in 0..n {
        bytes = serde_json::to_vec(&list).expect("json").len();
    }
    let ser_ms = t.elapsed().as_secs_f64() * 1000.0 / n as f64;
    let body = serde_json::to_vec(&list).expect("json");
    let t = Instant::now();
    for _ in 0..n {
        let _: Vec<wharf_engine::api::ContainerSummary> =
            serde_json::from_slice(&body).expect("parse");
    }
    let de_ms = t.elapsed().as_secs_f64() * 1000.0 / n as f64;
    // What the client does with a `304`: hand out a copy of the rows it kept.
    let t = Instant::now();
    for _ in 0..n {
        drop(std::hint::black_box(list.clone()));
    }
    let clone_ms = t.elapsed().as_secs_f64() * 1000.0 / n as f64;
    println!(
        "one listing of {CONTAINERS}: engine {engine_ms:.2} ms, JSON {} KB encode {ser_ms:.2} ms, decode {de_ms:.2} ms, copy of the rows {clone_ms:.2} ms",
        bytes / 1024
    );

    let sock = dir.path().join("wharf.sock");
    let listener = server::bind(&sock).expect("bind");
    let e2 = engine.clone();
    // All the clients are root here: allow them all (the default caps one uid at 64).
    let limits = server::Limits {
        max_per_uid: CLIENTS + 8,
        ..Default::default()
    };
    let timings = Arc::new(server::timings::Timings::default());
    let t2 = timings.clone();
    std::thread::spawn(move || server::serve_timed(e2, listener, limits, t2));

    let opts = ContainerListOptions {
        all: true,
        ..Default::default()
    };
    let load_before = load();
    let (lat, wall) = clients(
        || RemoteEngine::connect(Endpoint::Unix(sock.clone())).expect("connect"),
        |client| {
            let list = client
                .container_list_shared(&Caller::root(), &opts)
                .expect("list");
            assert_eq!(list.len(), CONTAINERS);
        },
    );
    report("socket", &lat, wall, &timings, &load_before);

    // The same through `container_list`, which hands each caller its own copy of the
    // 1000 rows (what a caller that changes them needs).
    timings.reset();
    let load_before = load();
    let (lat, wall) = clients(
        || RemoteEngine::connect(Endpoint::Unix(sock.clone())).expect("connect"),
        |client| {
            let list = client.container_list(&Caller::root(), &opts).expect("list");
            assert_eq!(list.len(), CONTAINERS);
        },
    );
    report("socket, rows copied", &lat, wall, &timings, &load_before);

    // The same questions through bare HTTP exchanges: the server and the socket alone,
    // without the client's decoding or copy of the rows it hands out.
    timings.reset();
    let args = serde_json::to_string(&[&opts]).expect("json");
    let load_before = load();
    let (lat, wall) = clients(
        || {
            let conn = std::os::unix::net::UnixStream::connect(&sock).expect("connect");
            (BufReader::new(conn), String::new())
        },
        |(conn, etag)| {
            let status = bare_list(conn, &args, etag);
            assert!(status == 200 || status == 304, "status {status}");
        },
    );
    report("bare HTTP", &lat, wall, &timings, &load_before);
    for i in 0..CONTAINERS {
        let _ = engine.container_remove(&root, &format!("c{i}"), Default::default());
    }
}

/// Run [`CLIENTS`] threads, each with what `open` gives it, doing `one` again and again
/// for [`RUN`]: every call's latency, sorted, and the wall time.
fn clients<C>(
    open: impl Fn() -> C + Sync,
    one: impl Fn(&mut C) + Sync,
) -> (Vec<Duration>, Duration) {
    let start = Instant::now();
    let mut all: Vec<Duration> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..CLIENTS)
            .map(|_| {
                s.spawn(|| {
                    let mut c = open();
                    let mut lat = Vec::new();
                    while start.elapsed() < RUN {
                        let t = Instant::now();
                        one(&mut c);
                        lat.push(t.elapsed());
                    }
                    lat
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("client"))
            .collect()
    });
    all.sort();
    (all, start.elapsed())
}

/// Print the clients' figures and the server's for one run.
fn report(
    label: &str,
    lat: &[Duration],
    wall: Duration,
    timings: &server::timings::Timings,
    load_before: &str,
) {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let pct = |p: f64| ms(lat[((lat.len() - 1) as f64 * p) as usize]);
    println!(
        "{label}: {CLIENTS} concurrent clients listing {CONTAINERS} containers: {} requests in {:.1} s = {:.0} req/s; latency p50 {:.1} ms, p99 {:.1} ms (load average {load_before} before)",
        lat.len(),
        wall.as_secs_f64(),
        lat.len() as f64 / wall.as_secs_f64(),
        pct(0.5),
        pct(0.99)
    );
    println!(
        "  server: {} answers ({} at once from the kept listing), mean {:.3} ms, p50 {:.3} ms, p99 {:.3} ms (request read to answer ready)",
        timings.count(),
        timings.quick(),
        ms(timings.mean()),
        ms(timings.percentile(0.5)),
        ms(timings.percentile(0.99)),
    );
}

/// One `container_list` as a bare HTTP/1.1 exchange on a kept connection, sending back
/// the tag of the last answer as wharf's client does; the body is read, not decoded.
fn bare_list(
    conn: &mut BufReader<std::os::unix::net::UnixStream>,
    args: &str,
    etag: &mut String,
) -> u16 {
    let inm = if etag.is_empty() {
        String::new()
    } else {
        format!("If-None-Match: {etag}\r\n")
    };
    let req = format!(
        "POST /v1/container_list HTTP/1.1\r\nHost: wharf\r\n{inm}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{args}",
        args.len()
    );
    conn.get_mut().write_all(req.as_bytes()).expect("send");
    let mut line = String::new();
    conn.read_line(&mut line).expect("status line");
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let mut len = 0;
    loop {
        line.clear();
        conn.read_line(&mut line).expect("header");
        let Some((k, v)) = line.trim_end().split_once(':') else {
            break;
        };
        if k.eq_ignore_ascii_case("content-length") {
            len = v.trim().parse().expect("length");
        } else if k.eq_ignore_ascii_case("etag") {
            *etag = v.trim().to_string();
        }
    }
    let mut body = vec![0; len];
    conn.read_exact(&mut body).expect("body");
    status
}
