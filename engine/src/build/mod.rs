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
use crate::caller::Caller;
use crate::error::Result;
use crate::policy::Action;
use crate::LocalEngine;

impl BuildApi for LocalEngine {
    fn image_build(
        &self,
        caller: &Caller,
        opts: &BuildOptions,
        context: BuildContext<'_>,
        sink: &mut dyn FnMut(BuildEvent) -> bool,
    ) -> Result<BuildResult> {
        self.gate().authorize(caller, Action::ImageBuild)?;
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
