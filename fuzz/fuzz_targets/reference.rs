//! Image references (`engine/src/image/reference.rs`), as the image store reads them
//! (`Reference::parse`) and as the registry client does (`Reference::parse_remote`), and
//! registry addresses (`engine/src/image/registry/reference.rs`).
//!
//! Invariants for text that parses:
//! - the full form (`to_string()`) and the familiar form parse again to the same value;
//! - `normalize` is idempotent;
//! - with a default tag unless a digest is given; the name fits Docker's 255 characters;
//! - a registry reference names the same registry and repository, its printed forms parse
//!   back to it, Docker Hub's repositories are where Docker Hub serves them, and its
//!   registry makes the URL the client talks to (that host and port, nothing else).
#![no_main]

mod common;

use common::{ok_or_invalid, text};
use libfuzzer_sys::fuzz_target;
use wharf_engine::image::reference::{normalize, validate_digest, Reference};
use wharf_engine::image::registry::reference::{host_without_port, is_loopback};

fuzz_target!(|data: &[u8]| {
    let Some(s) = text(data) else {
        return;
    };
    let any = Reference::parse_any(s);
    ok_or_invalid("reference", s, &any);
    let r = Reference::parse(s);
    ok_or_invalid("reference", s, &r);
    assert_eq!(
        any.is_ok(),
        r.is_ok(),
        "{s:?}: parse and parse_any disagree"
    );
    ok_or_invalid("digest", s, &validate_digest(s));
    if let Ok(r) = &r {
        assert!(
            r.tag.is_some() || r.digest.is_some(),
            "{s:?}: no tag and no digest"
        );
        assert!(
            r.name().len() <= 255,
            "{s:?}: name {} is too long",
            r.name()
        );
        let full = r.to_string();
        assert_eq!(
            Reference::parse(&full).as_ref().ok(),
            Some(r),
            "{s:?} printed as {full:?}"
        );
        let familiar = r.familiar();
        assert_eq!(
            Reference::parse(&familiar).as_ref().ok(),
            Some(r),
            "{s:?} as {familiar:?}"
        );
        assert_eq!(normalize(&full).ok(), Some(full.clone()));
        assert_eq!(normalize(s).ok(), Some(full.clone()));
        let tagged = r.with_tag("v1");
        assert_eq!(Reference::parse(&tagged.to_string()).ok(), Some(tagged));
    }
    let rr = Reference::parse_remote(s);
    ok_or_invalid("registry reference", s, &rr);
    if let Ok(rr) = &rr {
        // Naming the registry's own form again changes nothing.
        assert_eq!(&rr.clone().on_registry(), rr, "{s:?}");
        let full = rr.to_string();
        assert_eq!(
            Reference::parse_remote(&full).as_ref().ok(),
            Some(rr),
            "{s:?} printed as {full:?}"
        );
        let familiar = rr.familiar();
        assert_eq!(
            Reference::parse_remote(&familiar).as_ref().ok(),
            Some(rr),
            "{s:?} as {familiar:?}"
        );
        assert!(!rr.manifest_reference().is_empty());
        // The registry client (ureq, on `http::Uri`) talks to
        // `https://<api host>/v2/...`: the host must make a URI with exactly that
        // authority and path.
        let base = format!("https://{}/v2/", rr.api_host());
        let u: http::Uri = base
            .parse()
            .unwrap_or_else(|e| panic!("{s:?}: {base} is not a URI: {e}"));
        assert_eq!(
            u.authority().map(|a| a.as_str()),
            Some(rr.api_host()),
            "{s:?}: {base}"
        );
        assert_eq!(u.path(), "/v2/", "{s:?}: {base}");
        let _ = (host_without_port(&rr.registry), is_loopback(&rr.registry));
    }
    let _ = (host_without_port(s), is_loopback(s));
});
