//! Pull throughput from a `docker-registry` on 127.0.0.1 (not a test: prints figures).
//!
//! `cargo bench -p wharf-engine --bench registry_pull` (as root, with docker-registry and
//! skopeo installed). `WHARF_BENCH_MB` sets the image size (default 200 MB in 4 layers).
//!
//! Figures: the protocol alone (download, sha256 and size checks, into memory that is
//! thrown away), a full `image_pull` into a fresh state root (download, verify, store the
//! blobs, unpack the layers), and `skopeo copy` of the same image to an OCI directory
//! as a yardstick.

#[path = "../tests/registry_support/mod.rs"]
mod registry_support;

use std::io::Read;
use std::time::Instant;

use registry_support::*;
use wharf_engine::api::{PullOptions, RegistryApi};
use wharf_engine::image::registry::client::{RegistryClient, Security};
use wharf_engine::image::registry::transfer::{self, BlobSink};
use wharf_engine::image::Reference;
use wharf_engine::{Caller, EngineOptions, LocalEngine, Result};

/// Reads everything, keeps nothing.
struct Discard;

impl BlobSink for Discard {
    fn has_blob(&self, _digest: &str) -> bool {
        false
    }
    fn put_blob(&self, r: &mut dyn Read, _digest: &str) -> Result<u64> {
        let mut buf = vec![0u8; 1 << 20];
        let mut n = 0u64;
        loop {
            let k = r
                .read(&mut buf)
                .map_err(|e| wharf_engine::EngineError::io("reading", e))?;
            if k == 0 {
                return Ok(n);
            }
            n += k as u64;
        }
    }
}

fn mbps(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / 1e6 / secs
}

fn main() {
    let total_mb: usize = std::env::var("WHARF_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let reg = Registry::start(Auth::None);
    let tmp = tempfile::tempdir().unwrap();
    let mut layout = Layout::new(&tmp.path().join("layout"));
    let per_layer = total_mb * 1_000_000 / 4;
    let layers: Vec<Vec<(&str, Vec<u8>)>> = (0..4)
        .map(|i| vec![("data/blob.bin", noise(per_layer, i as u64 + 7))])
        .collect();
    let img = layout.image("amd64", &layers);
    layout.tag_image(&img, "bench");
    let host = reg.host();
    let reference = format!("{host}/bench/big:1");
    layout.skopeo_push("bench", &reference, None, false);
    let blob_bytes: u64 = img
        .layers
        .iter()
        .map(|d| {
            std::fs::metadata(layout.dir.join("blobs/sha256").join(&d[7..]))
                .unwrap()
                .len()
        })
        .sum();
    println!(
        "image: 4 layers, {:.1} MB of gzip blobs, {total_mb} MB unpacked",
        blob_bytes as f64 / 1e6
    );

    // 1. Protocol only.
    let rref = Reference::parse_remote(&reference).unwrap();
    let mut best = f64::MAX;
    for _ in 0..3 {
        let client = RegistryClient::connect(&host, &host, None, &Security::default()).unwrap();
        let t = Instant::now();
        transfer::pull(
            &client,
            &rref,
            None,
            &Discard,
            transfer::DOWNLOAD_CONCURRENCY,
            &mut |_| {},
        )
        .unwrap();
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!(
        "protocol (download + verify, 3 parallel): {:.2} s, {:.0} MB/s (best of 3)",
        best,
        mbps(blob_bytes, best)
    );

    // 2. Full pull into a fresh engine.
    let mut best = f64::MAX;
    for i in 0..3 {
        let root = tmp.path().join(format!("root{i}"));
        let engine = LocalEngine::open(&root, EngineOptions::default()).unwrap();
        let t = Instant::now();
        engine
            .image_pull(
                &Caller::root(),
                &reference,
                &PullOptions::default(),
                &mut |_| {},
            )
            .unwrap();
        best = best.min(t.elapsed().as_secs_f64());
        let _ = std::fs::remove_dir_all(&root);
    }
    println!(
        "wharf pull (download, verify, store, unpack): {:.2} s, {:.0} MB/s of blobs (best of 3)",
        best,
        mbps(blob_bytes, best)
    );

    // 3. skopeo as a yardstick.
    let mut best = f64::MAX;
    for i in 0..3 {
        let dest = tmp.path().join(format!("skopeo{i}"));
        let t = Instant::now();
        let ok = std::process::Command::new("skopeo")
            .args(["--insecure-policy", "copy", "--src-tls-verify=false", "-q"])
            .arg(format!("docker://{reference}"))
            .arg(format!("oci:{}:x", dest.display()))
            .status()
            .unwrap()
            .success();
        assert!(ok, "skopeo copy failed");
        best = best.min(t.elapsed().as_secs_f64());
        let _ = std::fs::remove_dir_all(&dest);
    }
    println!(
        "skopeo copy to an OCI dir (download, verify, store): {:.2} s, {:.0} MB/s (best of 3)",
        best,
        mbps(blob_bytes, best)
    );
}
