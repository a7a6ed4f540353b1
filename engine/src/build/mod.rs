//! The Dockerfile front end, on the engine API: [`parser`] reads the text,
//! [`instructions`] gives each instruction its meaning, [`shell`] expands variables,
//! [`context`] holds the files, [`cache`] remembers steps, and [`exec`] runs the stages
//! the target needs, each RUN in a container created and started through the container
//! calls (so the policy gate and the hardening of `wharf run` apply), each step's
//! changes stored as a layer, the image config and history written as Docker's classic
//! builder writes them.

pub mod cache;
pub mod context;
pub mod exec;
pub mod instructions;
pub mod parser;
pub mod shell;

use crate::api::{
    BuildApi, BuildCacheEntry, BuildCachePruneOptions, BuildCacheUsage, BuildContext, BuildEvent,
    BuildOptions, BuildResult, PruneReport,
};
use std::path::{Path, PathBuf};

use crate::caller::Caller;
use crate::error::{EngineError, Result};
use crate::policy::Action;
use crate::LocalEngine;

/// The context directory `dir` as the engine will read it. The engine reads it with its
/// own privileges, as it opens a bind-mount source: for a caller whose role constrains
/// bind mounts, its real path must be under one of the role's bind prefixes (the same
/// check as `-v`), or the build is refused before anything in it is read. A path that
/// does not resolve is refused the same way (the engine does not say what exists
/// outside those directories).
fn context_dir(eng: &LocalEngine, caller: &Caller, dir: &Path) -> Result<PathBuf> {
    let gate = eng.gate();
    let who = gate.caller(caller);
    let Some(prefixes) = gate.role(caller).constraints.bind_prefixes_for(&who) else {
        return Ok(dir.to_path_buf());
    };
    if let Ok(real) = std::fs::canonicalize(dir) {
        if real
            .to_str()
            .is_some_and(|r| crate::policy::gate::bind_allowed(&prefixes, r))
        {
            return Ok(real);
        }
    }
    let allowed = if prefixes.is_empty() {
        "none".to_string()
    } else {
        prefixes.join(", ")
    };
    Err(EngineError::denied(format!(
        "{}: build context {} is outside the directories your role may read (bind mounts): {allowed}; build from a directory under one of them, or ask an admin to change the policy",
        who.label(),
        dir.display()
    )))
}

/// The role's `images` constraint, as `gate::check_create` applies it to a new
/// container, on an image reference a build names: each `-t` tag it writes (`what` =
/// `tag`), each `FROM` and `COPY --from` image it reads (`build from`). `reference` is
/// normalized first (`busybox` -> `docker.io/library/busybox:latest`).
pub(crate) fn check_image_ref(
    eng: &LocalEngine,
    caller: &Caller,
    what: &str,
    reference: &str,
) -> Result<()> {
    let gate = eng.gate();
    let role = gate.role(caller);
    let Some(pats) = &role.constraints.images else {
        return Ok(());
    };
    let r = crate::image::Reference::parse(reference)
        .map(|r| r.to_string())
        .unwrap_or_else(|_| reference.to_string());
    if pats.iter().any(|p| crate::policy::glob_match(p, &r)) {
        return Ok(());
    }
    Err(EngineError::denied(format!(
        "{} may not {what} image {r} (allowed: {}); ask an admin to change the policy",
        gate.caller(caller).label(),
        pats.join(", ")
    )))
}

impl BuildApi for LocalEngine {
    fn image_build(
        &self,
        caller: &Caller,
        opts: &BuildOptions,
        context: BuildContext<'_>,
        sink: &mut dyn FnMut(BuildEvent) -> bool,
    ) -> Result<BuildResult> {
        self.gate().authorize(caller, Action::ImageBuild)?;
        let context = match context {
            BuildContext::Dir(d) => BuildContext::Dir(context_dir(self, caller, &d)?),
            c => c,
        };
        exec::build(self, caller, opts, context, sink)
    }

    fn build_cache_list(&self, caller: &Caller) -> Result<Vec<BuildCacheEntry>> {
        self.gate().authorize(caller, Action::ImageList)?;
        let idx = cache::Cache::new(self.root()).read()?;
        let images = self.image_store().index()?;
        let users = self.image_users()?;
        let mut out: Vec<BuildCacheEntry> = idx
            .records
            .iter()
            .filter(|(_, r)| images.images.contains_key(&r.image))
            .map(|(k, r)| BuildCacheEntry {
                id: k.clone(),
                image_id: r.image.clone(),
                created_by: r.created_by.clone(),
                created: r.created,
                last_used: r.last_used,
                size: r.size,
                in_use: !images.tags_of(&r.image).is_empty() || users.contains_key(&r.image),
            })
            .collect();
        out.sort_by(|a, b| b.last_used.cmp(&a.last_used).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    fn build_cache_prune(
        &self,
        caller: &Caller,
        opts: &BuildCachePruneOptions,
    ) -> Result<PruneReport> {
        self.gate().authorize(caller, Action::ImagePrune)?;
        let c = cache::Cache::new(self.root());
        let _l = c.lock()?;
        let mut idx = c.read()?;
        let victims: Vec<String> = idx
            .records
            .iter()
            .filter(|(_, r)| opts.until.is_none_or(|u| r.last_used < u))
            .map(|(k, _)| k.clone())
            .collect();
        let mut ids = Vec::new();
        let mut keys = Vec::new();
        for k in victims {
            if let Some(r) = idx.records.remove(&k) {
                ids.push(r.image);
                keys.push(k);
            }
        }
        // An image another (kept) record still names stays.
        let kept: std::collections::BTreeSet<&String> =
            idx.records.values().map(|r| &r.image).collect();
        ids.retain(|i| !kept.contains(i));
        ids.sort();
        ids.dedup();
        // Children first, so each removal releases its own layer.
        ids.reverse();
        c.write(&idx)?;
        let removed = self.remove_cached_images(&ids)?;
        Ok(PruneReport {
            deleted: keys,
            reclaimed: removed.reclaimed,
        })
    }

    fn build_cache_usage(&self, caller: &Caller) -> Result<BuildCacheUsage> {
        let list = self.build_cache_list(caller)?;
        let mut u = BuildCacheUsage {
            count: list.len(),
            ..Default::default()
        };
        for e in &list {
            u.size += e.size;
            if e.in_use {
                u.active += 1;
            } else {
                u.reclaimable += e.size;
            }
        }
        Ok(u)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::api::BuildResult;
    use crate::caller::Role;
    use crate::error::ErrorKind;
    use crate::policy::Policy;
    use crate::EngineOptions;

    fn caller(uid: u32) -> Caller {
        Caller {
            uid,
            gid: uid,
            name: format!("u{uid}"),
            role: Role("user".into()),
            project: None,
        }
    }

    fn engine(dir: &Path, policy: Option<&str>) -> LocalEngine {
        let policy = policy.map(|text| {
            let path = dir.join("policy.json");
            std::fs::write(&path, text).unwrap();
            Arc::new(Policy::load(&path).unwrap())
        });
        LocalEngine::open(
            dir.join("root"),
            EngineOptions {
                policy,
                ..Default::default()
            },
        )
        .unwrap()
    }

    fn context(dir: &Path, dockerfile: &str) -> PathBuf {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
        dir.to_path_buf()
    }

    fn build(e: &LocalEngine, c: &Caller, dir: &Path, tags: &[&str]) -> Result<BuildResult> {
        let opts = BuildOptions {
            tags: tags.iter().map(|t| t.to_string()).collect(),
            ..Default::default()
        };
        e.image_build(c, &opts, BuildContext::Dir(dir.to_path_buf()), &mut |_| {
            true
        })
    }

    /// A student whose role binds only under their directory and runs only `ok*` images:
    /// the context, the tags and the base images of a build are held to the same rules.
    #[test]
    fn a_constrained_role_builds_only_from_its_directories_and_images() {
        let tmp = tempfile::tempdir().unwrap();
        let allowed = tmp.path().join("course");
        let inside = context(&allowed.join("app"), "FROM scratch\nLABEL a=b\n");
        let outside = context(&tmp.path().join("elsewhere"), "FROM scratch\nLABEL a=b\n");
        let policy = serde_json::json!({
            "roles": {"student": {"inherits": "user", "constraints": {
                "bind_mounts": [allowed.display().to_string()],
                "images": ["docker.io/library/ok*"],
            }}},
            "users": {"4242": {"role": "student"}},
        });
        let e = engine(tmp.path(), Some(&policy.to_string()));
        let s = caller(4242);

        let err = build(&e, &s, &outside, &["ok:1"]).unwrap_err();
        assert_eq!(err.kind, ErrorKind::PermissionDenied, "{err}");
        assert!(
            err.message
                .contains(&format!("build context {}", outside.display()))
                && err
                    .message
                    .contains("outside the directories your role may read (bind mounts)"),
            "{err}"
        );
        // A symlink under the allowed directory that leads out is judged by where it leads.
        std::os::unix::fs::symlink(&outside, allowed.join("link")).unwrap();
        let err = build(&e, &s, &allowed.join("link"), &["ok:1"]).unwrap_err();
        assert_eq!(err.kind, ErrorKind::PermissionDenied, "{err}");
        // A path that does not exist is refused the same way.
        let err = build(&e, &s, &tmp.path().join("nothing"), &["ok:1"]).unwrap_err();
        assert_eq!(err.kind, ErrorKind::PermissionDenied, "{err}");

        let r = build(&e, &s, &inside, &["ok:1"]).unwrap();
        assert_eq!(r.tags, ["docker.io/library/ok:1"]);

        let err = build(&e, &s, &inside, &["ok:2", "bad:1"]).unwrap_err();
        assert_eq!(err.kind, ErrorKind::PermissionDenied, "{err}");
        assert!(
            err.message
                .contains("may not tag image docker.io/library/bad:1"),
            "{err}"
        );

        let from = context(&allowed.join("from"), "FROM busybox\n");
        let err = build(&e, &s, &from, &[]).unwrap_err();
        assert_eq!(err.kind, ErrorKind::PermissionDenied, "{err}");
        assert!(
            err.message
                .contains("may not build from image docker.io/library/busybox:latest"),
            "{err}"
        );
        let copy = context(
            &allowed.join("copy"),
            "FROM scratch\nCOPY --from=busybox /bin/sh /sh\n",
        );
        let err = build(&e, &s, &copy, &[]).unwrap_err();
        assert_eq!(err.kind, ErrorKind::PermissionDenied, "{err}");
        assert!(err.message.contains("COPY --from=busybox"), "{err}");

        // Root (the admin) is not constrained.
        build(&e, &Caller::root(), &outside, &["bad:1"]).unwrap();
    }

    /// A step one user built never serves another user's build from the cache.
    #[test]
    fn the_build_cache_is_per_user() {
        let tmp = tempfile::tempdir().unwrap();
        let e = engine(tmp.path(), None);
        let dir = context(
            &tmp.path().join("ctx"),
            "FROM scratch\nLABEL a=b\nENV X=1\n",
        );
        let (a, b) = (caller(1000), caller(1001));
        assert_eq!(build(&e, &a, &dir, &[]).unwrap().cached, 0);
        let again = build(&e, &a, &dir, &[]).unwrap();
        assert_eq!(again.cached, again.steps - 1, "{again:?}");
        assert_eq!(build(&e, &b, &dir, &[]).unwrap().cached, 0);
        assert_eq!(build(&e, &b, &dir, &[]).unwrap().cached, 2);
    }
}
