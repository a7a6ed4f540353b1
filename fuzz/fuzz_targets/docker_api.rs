//! The Docker Engine API's request pieces (`engine/src/server/docker`): the `filters`
//! query parameter, the version prefix of a path, API versions, `since`/`until` times
//! and detach keys.
//!
//! The first byte picks the parser, the rest is the text. Invariants:
//! - errors are `InvalidArgument`, never a panic;
//! - filters that parse, written back in Docker's list shape, parse to the same pairs;
//! - a path whose version is accepted is that version (within the server's range) and
//!   the rest of the path; a version that parses prints back the same;
//! - detach keys that parse are control characters or ASCII, one byte per key.
#![no_main]

mod common;

use std::collections::BTreeMap;

use common::{ok_or_invalid, split_selector, text};
use libfuzzer_sys::fuzz_target;
use wharf_engine::server::docker::{
    self, attach::parse_detach_keys, parse_filters, parse_version, split_version,
    system::parse_time,
};

fuzz_target!(|data: &[u8]| {
    let Some((sel, rest)) = split_selector(data) else {
        return;
    };
    let Some(t) = text(rest) else {
        return;
    };
    match sel % 5 {
        0 => {
            let r = parse_filters(Some(t));
            ok_or_invalid("filters", t, &r);
            if let Ok(pairs) = r {
                let mut m: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
                for (k, v) in &pairs {
                    m.entry(k).or_default().push(v);
                }
                let again = serde_json::to_string(&m).expect("filters to JSON");
                let back = parse_filters(Some(&again)).expect("filters written back parse");
                assert_eq!(back, pairs, "{t:?} written back as {again:?}");
            }
        }
        1 => {
            let r = split_version(t);
            ok_or_invalid("path", t, &r);
            if let Ok((v, tail)) = r {
                let min = parse_version(docker::MIN_API_VERSION).expect("min version");
                let max = parse_version(docker::API_VERSION).expect("max version");
                assert!(min <= v && v <= max, "{t:?} got version {v:?}");
                assert!(
                    tail == t
                        || t.ends_with(tail.as_str())
                        || (tail == "/" && !t[2..].contains('/')),
                    "{t:?} split into {v:?} and {tail:?}"
                );
            }
        }
        2 => {
            if let Some((a, b)) = parse_version(t) {
                assert_eq!(parse_version(&format!("{a}.{b}")), Some((a, b)));
            }
        }
        3 => {
            let r = parse_time(t);
            ok_or_invalid("since/until", t, &r);
            if let Ok(n) = r {
                // Whole seconds print back to the same time.
                if n % 1_000_000_000 == 0 && n != i64::MIN && n != i64::MAX {
                    assert_eq!(parse_time(&(n / 1_000_000_000).to_string()).ok(), Some(n));
                }
            }
        }
        _ => {
            let r = parse_detach_keys(t);
            ok_or_invalid("detach keys", t, &r);
            if let Ok(keys) = r {
                assert_eq!(keys.len(), t.split(',').count());
                assert!(keys.iter().all(u8::is_ascii));
            }
        }
    }
});
