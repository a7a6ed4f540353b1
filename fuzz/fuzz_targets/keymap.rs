//! The console's keymap loader (`app/src/console/keymap.rs`).
//!
//! `app` is a binary crate, so the file is compiled here as a module of its own with a
//! `#[path]` include (see the README of this directory): it depends only on std, serde,
//! serde_json, crossterm's key types and the engine's permission names, so nothing in
//! the app has to change to fuzz it.
//!
//! Invariants for a keymap that parses:
//! - every binding of the file is found again by `lookup` in its context, and its strict
//!   prefixes are `Pending` (no other binding is a prefix of it: it could never be typed);
//! - a single key prints (`Display`) as text that parses back to the same key (arrows
//!   print as glyphs and are left out);
//! - `keys_for` and `context` (the help and the footer) agree with the bindings.
#![no_main]

#[allow(dead_code, clippy::all)]
#[path = "../../app/src/console/keymap.rs"]
mod keymap;

use keymap::{parse_key, Action, KeyCodeOrd, Keymap, Lookup, CONTEXTS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(t) = std::str::from_utf8(data) else {
        return;
    };
    // A key on its own, as written in a file.
    if t.len() < 32 {
        if let Ok(keys) = parse_key(t) {
            assert!(!keys.is_empty());
            if let [k] = keys.as_slice() {
                let arrow = matches!(
                    k.code,
                    KeyCodeOrd::Up | KeyCodeOrd::Down | KeyCodeOrd::Left | KeyCodeOrd::Right
                );
                if !arrow {
                    let shown = k.to_string();
                    assert_eq!(
                        parse_key(&shown).ok(),
                        Some(keys.clone()),
                        "{t:?} printed as {shown:?}"
                    );
                }
            }
        }
    }
    let km = match Keymap::parse("fuzz.json", t) {
        Ok(k) => k,
        Err(e) => {
            assert!(e.0.contains("keymap"), "{}", e.0);
            return;
        }
    };
    // The file's own bindings, read again as JSON (the keymap's table is private to its
    // module): each context's last object wins, as it does in the loader.
    let v: serde_json::Value = serde_json::from_str(t).expect("a keymap that loads is JSON");
    for ctx in CONTEXTS {
        for (keys_text, action) in km.context(ctx) {
            assert!(!keys_text.is_empty());
            assert!(km.keys_for(&[ctx], action).is_some());
            let _ = (
                action.name(),
                action.short(),
                action.description(),
                action.permission(),
            );
        }
        let Some(obj) = v.get(ctx).and_then(|o| o.as_object()) else {
            continue;
        };
        for (k, a) in obj {
            let seq = parse_key(k).expect("a key of a keymap that loads parses");
            let action = Action::from_name(a.as_str().expect("actions are strings"))
                .expect("an action of a keymap that loads is known");
            // Found by lookup; its strict prefixes wait for more keys (no other binding
            // is a prefix of it, or it could never be typed).
            assert_eq!(
                km.lookup(&[ctx], &seq),
                Lookup::Action(action),
                "{ctx}: {k:?}"
            );
            for n in 1..seq.len() {
                assert_eq!(
                    km.lookup(&[ctx], &seq[..n]),
                    Lookup::Pending,
                    "{ctx}: {k:?}"
                );
            }
            assert!(km.keys_for(&[ctx], action).is_some());
        }
    }
});
