//! Image load (`LocalEngine::image_load`, what `wharf load`, the console and the socket's
//! `image_load` and Docker's `POST /images/load` run): untrusted archive bytes into a
//! fresh state root.
//!
//! Each input gets a new state root in a scratch tree where everything else is read-only
//! (see `sandbox.rs`). Invariants:
//! - errors say the archive is bad (`Corrupt`, `InvalidArgument`) or name the engine's
//!   own files; never a write outside the scratch tree, never a panic;
//! - a failed or finished load leaves no staging in `ROOT/tmp`, and nothing beside the
//!   root;
//! - what loaded is listed, inspectable, and saves (in both formats) into archives that
//!   load again, into another fresh root, as the same images under the same names.
#![no_main]

mod common;
mod sandbox;

use std::path::Path;

use common::expect_kind;
use libfuzzer_sys::fuzz_target;
use wharf_engine::api::{ImageApi, ImageListOptions, SaveFormat};
use wharf_engine::{Caller, EngineOptions, ErrorKind, LocalEngine};

fn engine(root: &Path) -> LocalEngine {
    LocalEngine::open(root, EngineOptions::default()).expect("opening the engine on a fresh root")
}

fn staging_left(root: &Path) -> Vec<String> {
    std::fs::read_dir(root.join("tmp"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// (id, sorted tags) of every image.
fn images(e: &LocalEngine) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = e
        .image_list(
            &Caller::root(),
            &ImageListOptions {
                all: true,
                ..Default::default()
            },
        )
        .expect("listing images")
        .into_iter()
        .map(|i| {
            let mut t = i.repo_tags;
            t.sort();
            (i.id, t)
        })
        .collect();
    out.sort();
    out
}

fuzz_target!(|input: &[u8]| {
    let mut buf = input.to_vec();
    common::fix_tar_checksums(&mut buf);
    let data = &buf[..];
    let dir = sandbox::fresh_dir();
    let root = dir.join("root");
    let e = engine(&root);
    let caller = Caller::root();
    let res = e.image_load(&caller, &mut &data[..]);
    if let Err(err) = &res {
        sandbox::no_escape("load", &err.message);
        expect_kind(
            "load",
            "<archive>",
            err,
            &[
                ErrorKind::Corrupt,
                ErrorKind::InvalidArgument,
                ErrorKind::Io,
                ErrorKind::Conflict,
            ],
        );
    }
    assert_eq!(
        staging_left(&root),
        Vec::<String>::new(),
        "a load left staging behind ({res:?})"
    );
    if let Ok(report) = &res {
        let listed = images(&e);
        assert!(
            !listed.is_empty(),
            "a load that succeeded added no image: {report:?}"
        );
        for t in &report.tagged {
            e.image_inspect(&caller, t)
                .expect("a loaded tag is inspectable");
        }
        for id in &report.untagged_ids {
            e.image_inspect(&caller, id)
                .expect("a loaded id is inspectable");
        }
        let names: Vec<String> = listed.iter().map(|(id, _)| id.clone()).collect();
        for fmt in [SaveFormat::Docker, SaveFormat::Oci] {
            let mut saved = Vec::new();
            e.image_save(&caller, &names, fmt, &mut saved)
                .unwrap_or_else(|err| panic!("saving what loaded ({fmt:?}): {err}"));
            let root2 = dir.join(format!("again-{fmt:?}"));
            let e2 = engine(&root2);
            e2.image_load(&caller, &mut &saved[..])
                .unwrap_or_else(|err| panic!("loading what was saved ({fmt:?}): {err}"));
            let ids: Vec<String> = images(&e2).into_iter().map(|(id, _)| id).collect();
            assert_eq!(
                ids, names,
                "the saved archive ({fmt:?}) loads as other images"
            );
            assert_eq!(staging_left(&root2), Vec::<String>::new());
        }
    }
    drop(e);
    sandbox::finish(&dir);
});
