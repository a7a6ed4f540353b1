//! The layer reader (`engine/src/image/layer/`): untrusted tar bytes (plain, gzip or
//! zstd) unpacked into a layer directory, as a load or pull does for every layer.
//!
//! Each input gets a fresh layer directory `D/layer` beside a sentinel file `D/sentinel`
//! in a scratch tree where everything else is read-only (see `sandbox.rs`). Invariants:
//! - errors are of the archive (`Corrupt`, `InvalidArgument`), never a write outside the
//!   scratch tree, never a panic;
//! - nothing outside `D/layer/diff` is touched: `D` holds the layer and the unchanged
//!   sentinel, and the layer directory holds its own files (`diff/` and the tar-split,
//!   still there after a failure too; its moves, `shadow/`) and nothing else;
//! - a layer that unpacks rebuilds, from its tar-split and its files, the exact tar
//!   stream it was unpacked from (what `save` and `push` send), with its diff id.
#![no_main]

mod common;
mod sandbox;

use std::io::Read;

use common::expect_kind;
use libfuzzer_sys::fuzz_target;
use wharf_engine::image::layer::{self, TarSplitReader};
use wharf_engine::ErrorKind;

fuzz_target!(|input: &[u8]| {
    let mut buf = input.to_vec();
    common::fix_tar_checksums(&mut buf);
    let data = &buf[..];
    let dir = sandbox::fresh_dir();
    let sentinel = dir.join("sentinel");
    std::fs::write(&sentinel, b"untouched").expect("writing the sentinel");
    let root = dir.join("layer");
    layer::new_layer_dir(&root).expect("making the layer directory");
    let res = layer::unpack_layer_into(data, &root);
    match &res {
        Err(e) => {
            sandbox::no_escape("unpack", &e.message);
            expect_kind(
                "unpack",
                "<layer>",
                e,
                &[
                    ErrorKind::Corrupt,
                    ErrorKind::InvalidArgument,
                    ErrorKind::Io,
                ],
            );
            if e.kind == ErrorKind::Io {
                // Io from a hostile archive is a write that failed: which one must be
                // inside the layer (the message names it).
                assert!(
                    e.message.contains(root.to_str().unwrap_or_default())
                        || e.message.contains("reading the layer archive"),
                    "I/O error outside the layer: {}",
                    e.message
                );
            }
        }
        Ok(_) => {}
    }
    // Nothing beside the layer changed.
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("listing the input directory")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["layer", "sentinel"],
        "the unpack wrote beside its layer"
    );
    assert_eq!(std::fs::read(&sentinel).expect("sentinel"), b"untouched");
    let md = std::fs::symlink_metadata(&root).expect("the layer directory is there");
    assert!(md.is_dir(), "the layer directory was replaced");
    // Its own files stay, whatever the archive holds (an entry may only change what is
    // inside diff/).
    let diff = std::fs::symlink_metadata(root.join("diff"));
    assert!(
        diff.is_ok_and(|m| m.is_dir()),
        "diff/ is gone or replaced ({:?})",
        res.as_ref().err()
    );
    let split = std::fs::symlink_metadata(root.join("tar-split"));
    assert!(
        split.is_ok_and(|m| m.is_file()),
        "the tar-split is gone ({:?})",
        res.as_ref().err()
    );
    for e in std::fs::read_dir(&root).expect("listing the layer") {
        let n = e.expect("entry").file_name().to_string_lossy().into_owned();
        assert!(
            ["diff", "tar-split", "tar-split.moves", "shadow"].contains(&n.as_str()),
            "the unpack made {n:?} in the layer directory, outside diff/"
        );
    }
    if let Ok(stats) = res {
        assert!(std::fs::symlink_metadata(root.join("diff"))
            .expect("diff")
            .is_dir());
        // The tar-split rebuilds the exact stream.
        let mut plain = Vec::new();
        let (_, mut r) = layer::decompress(data).expect("it decompressed once");
        r.read_to_end(&mut plain).expect("it decompressed once");
        assert_eq!(plain.len() as u64, stats.tar_size);
        let mut rebuilt = Vec::new();
        TarSplitReader::open(&root, &stats.diff_id)
            .expect("opening the tar-split")
            .read_to_end(&mut rebuilt)
            .expect("rebuilding the layer from its tar-split");
        assert!(
            rebuilt == plain,
            "the rebuilt layer differs from the one unpacked"
        );
    }
    sandbox::finish(&dir);
});
