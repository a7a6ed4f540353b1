//! Listing containers (`ps`): filters, the listing from the index with how long it
//! holds, and the counts `info` shows.

use std::collections::HashMap;

use crate::api::{ContainerListOptions, ContainerStatus, ContainerSummary};
use crate::caller::Caller;
use crate::error::Result;
use crate::policy::Action;
use crate::runtime::{index, paths};
use crate::LocalEngine;

use super::status::status_changes_at;

/// `ps --filter` keys checked once for a listing, and each `ancestor` value resolved to
/// its image id once (not per container).
fn prepare_filters(
    engine: &LocalEngine,
    filters: &[(String, String)],
) -> Result<HashMap<String, String>> {
    crate::filters::check_keys(
        filters,
        &["status", "name", "id", "label", "exited", "ancestor"],
        |other| {
            format!("invalid filter {other:?}: use status, name, id, label, ancestor or exited")
        },
    )?;
    let mut ancestors = HashMap::new();
    for (k, v) in filters {
        if k == "ancestor" {
            if let Ok(i) = engine.resolve_image(&Caller::root(), v) {
                ancestors.insert(v.clone(), i.id);
            }
        }
    }
    Ok(ancestors)
}

/// Does `s` pass `filters` ([`crate::filters::matches`])? `ancestors` and the keys come
/// from [`prepare_filters`].
fn matches_filters(
    s: &ContainerSummary,
    filters: &[(String, String)],
    ancestors: &HashMap<String, String>,
) -> bool {
    use crate::filters::{id_holds, label_holds, name_holds};
    crate::filters::matches_ok(filters, |key, v| match key {
        "status" => s.state.as_str() == v,
        "name" => name_holds(&s.name, v),
        "id" => id_holds(&s.id, v),
        "label" => label_holds(&s.labels, v),
        "ancestor" => {
            s.image == v
                || s.image_id == v
                || s.image_id
                    .trim_start_matches("sha256:")
                    .starts_with(v.trim_start_matches("sha256:"))
                || ancestors.get(v).is_some_and(|id| *id == s.image_id)
        }
        "exited" => {
            s.state == ContainerStatus::Exited
                && s.exit_code.map(|c| c.to_string()).as_deref() == Some(v)
        }
        _ => false,
    })
}

/// A listing with what says how long it holds ([`LocalEngine::container_list_timed`]).
pub struct TimedList {
    pub rows: Vec<ContainerSummary>,
    /// The index's generation it was made from ([`index::Index::generation`]).
    pub generation: u64,
    /// When (seconds since the epoch) a status text in it next changes by the passing
    /// of time alone (`Up 5 seconds`); `None`: none does.
    pub until: Option<i64>,
}

impl LocalEngine {
    /// `container_list`, and for how long the answer holds if nothing changes: the
    /// index's generation and the moment a status text would change with the clock
    /// (for a server that answers repeated listings without building them again).
    pub fn container_list_timed(
        &self,
        caller: &Caller,
        opts: &ContainerListOptions,
    ) -> Result<TimedList> {
        self.gate().authorize(caller, Action::ContainerList)?;
        let ancestors = prepare_filters(self, &opts.filters)?;
        // From the index: rows checked current, newest first.
        let snap = self.index().listing(self)?;
        let role = self.gate().role(caller);
        let mut rows: Vec<&index::Row> = snap
            .rows
            .iter()
            .map(|r| &**r)
            .filter(|r| {
                self.gate()
                    .permits(caller, &role, Action::ContainerInspect, r.owner)
            })
            .collect();
        if let Some(n) = opts.last {
            rows.truncate(n);
        } else if !opts.all {
            rows.retain(|r| r.state.status.is_active());
        }
        let now = chrono::Utc::now().timestamp();
        let mut until: Option<i64> = None;
        let mut kept = Vec::new();
        for r in rows {
            let mut s = r.summary(snap.net.as_deref());
            if matches_filters(&s, &opts.filters, &ancestors) {
                // `-s` walks the writable layer: only for the containers shown.
                if opts.size {
                    s.size_rw = Some(crate::volume::dir_size(
                        &paths::dir(self, &s.id).join("diff"),
                    ));
                }
                if let Some(t) = status_changes_at(&r.state, now) {
                    until = Some(until.map_or(t, |u| u.min(t)));
                }
                kept.push(s);
            }
        }
        Ok(TimedList {
            rows: kept,
            generation: snap.generation,
            until,
        })
    }

    /// (all, running, paused, stopped) containers, for `info`.
    /// Containers in `caller`'s scope: (all, running, paused, stopped).
    pub fn container_counts(&self, caller: &Caller) -> (usize, usize, usize, usize) {
        let (mut all, mut run, mut paused, mut stopped) = (0, 0, 0, 0);
        let role = self.gate().role(caller);
        let rows = self
            .index()
            .snapshot(self)
            .map(|s| s.rows)
            .unwrap_or_default();
        for r in rows {
            if !self.gate().in_scope(caller, &role, r.owner) {
                continue;
            }
            all += 1;
            match r.state.status {
                ContainerStatus::Running | ContainerStatus::Restarting => run += 1,
                ContainerStatus::Paused => paused += 1,
                _ => stopped += 1,
            }
        }
        (all, run, paused, stopped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_filters_must_all_hold_other_keys_are_alternatives() {
        let s = ContainerSummary {
            id: "abc".into(),
            name: "proj_web_1".into(),
            image: "busybox".into(),
            image_id: "sha256:1".into(),
            command: String::new(),
            created: 0,
            state: ContainerStatus::Running,
            status: String::new(),
            health: None,
            exit_code: None,
            oom_killed: false,
            ports: vec![],
            labels: [
                ("p".to_string(), "proj".to_string()),
                ("oneoff".to_string(), "False".to_string()),
            ]
            .into_iter()
            .collect(),
            networks: vec![],
            size_rw: None,
            owner: 0,
            project: None,
            ..Default::default()
        };
        let f = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let m = |pairs: &[(&str, &str)]| matches_filters(&s, &f(pairs), &HashMap::new());
        assert!(m(&[("label", "p=proj"), ("label", "oneoff=False")]));
        assert!(!m(&[("label", "p=proj"), ("label", "oneoff=True")]));
        assert!(m(&[("status", "exited"), ("status", "running")]));
        assert!(!m(&[("status", "running"), ("name", "db")]));
    }
}
