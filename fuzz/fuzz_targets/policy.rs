//! The policy loader (`wharf_engine::policy::Policy::parse`).
//!
//! Invariants for a policy that parses:
//! - every role resolves (inheritance included) and grants only known permissions: each
//!   `kind: [verbs]` names a known kind and known verbs (or `*`);
//! - the built-in roles are there; every user and group binding names a known role;
//! - parsing is deterministic, and what a role allows agrees with its permission lists;
//! - the image patterns of a role's constraints are matched in bounded time.
//!
//! A policy that does not parse is an `InvalidArgument` error that names the file.
#![no_main]

mod common;

use std::path::Path;

use common::{expect_kind, text};
use libfuzzer_sys::fuzz_target;
use wharf_engine::policy::{glob_match, Action, Policy};
use wharf_engine::ErrorKind;

fuzz_target!(|data: &[u8]| {
    let Some(t) = text(data) else {
        return;
    };
    let p = match Policy::parse(Path::new("fuzz-policy.json"), t) {
        Ok(p) => p,
        Err(e) => {
            expect_kind("policy", t, &e, &[ErrorKind::InvalidArgument]);
            assert!(e.message.contains("fuzz-policy.json"), "{}", e.message);
            return;
        }
    };
    let again = Policy::parse(Path::new("fuzz-policy.json"), t).expect("parses twice");
    assert_eq!(again, p);
    for builtin in ["admin", "operator", "user", "viewer", "auditor"] {
        assert!(
            p.role(builtin).is_some(),
            "built-in role {builtin} is missing"
        );
    }
    let known = Action::kinds();
    for role in p.roles() {
        assert_eq!(p.role(&role.name), Some(role));
        for (kind, verbs) in &role.permissions {
            assert!(
                known.contains(&kind.as_str()),
                "role {} has kind {kind:?}",
                role.name
            );
            let vs = Action::verbs_of(kind);
            for v in verbs {
                assert!(
                    v == "*" || vs.contains(&v.as_str()),
                    "role {} grants {kind}.{v}",
                    role.name
                );
            }
        }
        for a in Action::ALL {
            let listed = role
                .permissions
                .get(a.kind())
                .is_some_and(|v| v.iter().any(|x| x == "*" || x == a.verb()));
            assert_eq!(
                role.allows(*a),
                listed,
                "role {} and {}",
                role.name,
                a.as_str()
            );
            assert_eq!(Action::parse(a.as_str()), Some(*a));
        }
        let _ = role.read_only();
        if let Some(pats) = &role.constraints.images {
            for pat in pats.iter().take(4) {
                // A reference as long as the engine allows; the match must not take
                // exponential time on a pattern with many stars.
                let r = format!("docker.io/library/{}:latest", "a/".repeat(100));
                let _ = glob_match(pat, &r);
                assert!(glob_match("*", pat));
                // The same answers as the textbook match, on strings made from the
                // pattern itself.
                let plain: String = pat.chars().filter(|c| *c != '*').collect();
                let q: String = pat.replace('?', "x").replace('*', "yy");
                for cand in [
                    pat.as_str(),
                    &plain,
                    &q,
                    "docker.io/library/busybox:latest",
                    "",
                ] {
                    if pat.len() <= 64 && cand.len() <= 64 {
                        assert_eq!(
                            glob_match(pat, cand),
                            reference_glob(pat, cand),
                            "{pat:?} {cand:?}"
                        );
                    }
                }
            }
        }
    }
    for uid in [0, 1000] {
        if let Some(b) = p.binding_for(uid, "alice", &[(100, "staff".into())]) {
            assert!(
                p.role(&b.role).is_some(),
                "binding to unknown role {}",
                b.role
            );
        }
    }
});

/// Glob matching by dynamic programming over (pattern prefix, text prefix).
fn reference_glob(p: &str, s: &str) -> bool {
    let (p, s) = (p.as_bytes(), s.as_bytes());
    // m[i][j]: p[..i] matches s[..j].
    let mut m = vec![vec![false; s.len() + 1]; p.len() + 1];
    m[0][0] = true;
    for i in 1..=p.len() {
        for j in 0..=s.len() {
            m[i][j] = match p[i - 1] {
                b'*' => m[i - 1][j] || (j > 0 && m[i][j - 1]),
                b'?' => j > 0 && m[i - 1][j - 1],
                c => j > 0 && s[j - 1] == c && m[i - 1][j - 1],
            };
        }
    }
    m[p.len()][s.len()]
}
