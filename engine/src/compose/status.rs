//! What a project is now: its containers (found by labels, in the caller's scope), per
//! service with state, health, ports and drift from the file; the list of projects.
//! This is what `compose ps` and `compose ls` print and what a stacks pane lists.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::spec::Project;
use super::*;
use crate::api::{
    ContainerListOptions, ContainerStatus, Engine, HealthStatus, NetworkListOptions, PortBinding,
    VolumeListOptions,
};
use crate::caller::Caller;
use crate::error::Result;

/// One container of a project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerState {
    pub id: String,
    pub name: String,
    pub service: String,
    /// The replica's number (`container-number`); 0 if the label is missing.
    pub number: u32,
    /// Made by `compose run`.
    pub oneoff: bool,
    pub image: String,
    pub command: String,
    /// Seconds since the epoch.
    pub created: i64,
    pub state: ContainerStatus,
    /// As `docker ps` says it: `Up 2 minutes (healthy)`.
    pub status: String,
    pub health: Option<HealthStatus>,
    pub exit_code: Option<i32>,
    pub ports: Vec<PortBinding>,
    /// The config hash it was made from.
    pub config_hash: String,
    pub labels: BTreeMap<String, String>,
}

/// How a service's containers compare with the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Drift {
    /// As the file says.
    InSync,
    /// Made from another configuration: `up` recreates them.
    Changed,
    /// Fewer containers than the scale (none yet, or some removed): `up` creates them.
    Missing,
    /// More containers than the scale: `up` removes the extra ones.
    Extra,
    /// Containers of a service the file no longer has (orphans).
    NotInFile,
    /// A service of a profile that is not active, with no containers.
    Disabled,
}

/// One service of a project: what the file wants and what there is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceState {
    pub name: String,
    pub image: String,
    /// Replicas the file asks for (0 for orphans).
    pub scale: u32,
    pub containers: Vec<ContainerState>,
    pub drift: Drift,
}

/// A row of `compose ls`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectSummary {
    pub name: String,
    /// `running(2), exited(1)` as docker compose prints it.
    pub status: String,
    pub config_files: String,
    pub working_dir: String,
    pub containers: usize,
    pub running: usize,
}

impl ProjectSummary {
    /// How to load this project's files again (from its labels): what a stacks pane
    /// does to show drift or run `up` for a project it found with [`projects`].
    pub fn load_options(&self, env: BTreeMap<String, String>) -> super::LoadOptions {
        let dir = std::path::PathBuf::from(&self.working_dir);
        super::LoadOptions {
            files: self
                .config_files
                .split(',')
                .filter(|f| !f.is_empty())
                .map(|f| dir.join(f))
                .collect(),
            project_name: Some(self.name.clone()),
            project_dir: Some(dir.clone()),
            env,
            cwd: dir,
            ..Default::default()
        }
    }
}

fn state_of(c: crate::api::ContainerSummary) -> ContainerState {
    let l = &c.labels;
    ContainerState {
        service: l.get(LABEL_SERVICE).cloned().unwrap_or_default(),
        number: l
            .get(LABEL_NUMBER)
            .and_then(|n| n.parse().ok())
            .unwrap_or(0),
        oneoff: l
            .get(LABEL_ONEOFF)
            .is_some_and(|v| v.eq_ignore_ascii_case("true")),
        config_hash: l.get(LABEL_HASH).cloned().unwrap_or_default(),
        id: c.id,
        name: c.name,
        image: c.image,
        command: c.command,
        created: c.created,
        state: c.state,
        status: c.status,
        health: c.health,
        exit_code: c.exit_code,
        ports: c.ports,
        labels: c.labels,
    }
}

/// The project's containers the caller can see, any state, service containers first by
/// service and number, then one-off ones.
pub fn containers(api: &dyn Engine, caller: &Caller, project: &str) -> Result<Vec<ContainerState>> {
    let list = api.container_list(
        caller,
        &ContainerListOptions {
            all: true,
            filters: vec![project_filter(project)],
            ..Default::default()
        },
    )?;
    let mut out: Vec<ContainerState> = list.into_iter().map(state_of).collect();
    out.sort_by(|a, b| {
        (a.oneoff, &a.service, a.number, &a.name).cmp(&(b.oneoff, &b.service, b.number, &b.name))
    });
    Ok(out)
}

/// Every service of `project` (the file's and orphans), with its containers and drift.
pub fn services(api: &dyn Engine, caller: &Caller, project: &Project) -> Result<Vec<ServiceState>> {
    let all = containers(api, caller, &project.name)?;
    let mut out = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    let both = project
        .services
        .iter()
        .map(|(n, s)| (n, s, true))
        .chain(project.disabled.iter().map(|(n, s)| (n, s, false)));
    for (name, svc, enabled) in both {
        seen.insert(name.clone());
        let cs: Vec<ContainerState> = all
            .iter()
            .filter(|c| !c.oneoff && c.service == *name)
            .cloned()
            .collect();
        if !enabled && cs.is_empty() {
            out.push(ServiceState {
                name: name.clone(),
                image: super::ops::image_of(project, svc),
                scale: 0,
                containers: cs,
                drift: Drift::Disabled,
            });
            continue;
        }
        let hash = super::ops::config_hash(project, svc)?;
        let scale = if enabled { svc.scale } else { 0 };
        let drift = if cs.iter().any(|c| c.config_hash != hash) {
            Drift::Changed
        } else if (cs.len() as u32) < scale {
            Drift::Missing
        } else if (cs.len() as u32) > scale {
            Drift::Extra
        } else {
            Drift::InSync
        };
        out.push(ServiceState {
            name: name.clone(),
            image: super::ops::image_of(project, svc),
            scale,
            containers: cs,
            drift,
        });
    }
    let mut orphans: BTreeMap<String, Vec<ContainerState>> = BTreeMap::new();
    for c in all
        .into_iter()
        .filter(|c| !c.oneoff && !seen.contains(&c.service))
    {
        orphans.entry(c.service.clone()).or_default().push(c);
    }
    for (name, cs) in orphans {
        out.push(ServiceState {
            name,
            image: cs.first().map(|c| c.image.clone()).unwrap_or_default(),
            scale: 0,
            containers: cs,
            drift: Drift::NotInFile,
        });
    }
    Ok(out)
}

/// `running(2), exited(1)`.
pub fn status_text(states: &[ContainerStatus]) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for s in states {
        *counts.entry(s.as_str()).or_default() += 1;
    }
    let mut parts: Vec<(usize, String)> = counts
        .into_iter()
        .map(|(k, n)| {
            let order = match k {
                "running" => 0,
                "restarting" => 1,
                "paused" => 2,
                "created" => 3,
                _ => 4,
            };
            (order, format!("{k}({n})"))
        })
        .collect();
    parts.sort();
    parts
        .into_iter()
        .map(|(_, s)| s)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The projects the caller can see: from their containers' labels, and from networks
/// and volumes of projects that have no container left (with `all`).
pub fn projects(api: &dyn Engine, caller: &Caller, all: bool) -> Result<Vec<ProjectSummary>> {
    let list = api.container_list(
        caller,
        &ContainerListOptions {
            all: true,
            filters: vec![("label".into(), LABEL_PROJECT.into())],
            ..Default::default()
        },
    )?;
    let mut by: BTreeMap<String, (Vec<ContainerStatus>, BTreeMap<String, String>)> =
        BTreeMap::new();
    for c in list {
        let Some(p) = c.labels.get(LABEL_PROJECT).cloned() else {
            continue;
        };
        let e = by.entry(p).or_default();
        e.0.push(c.state);
        if e.1.is_empty() {
            e.1 = c.labels.clone();
        }
    }
    if all {
        let nets = api.network_list(
            caller,
            &NetworkListOptions {
                filters: vec![("label".into(), LABEL_PROJECT.into())],
            },
        )?;
        for n in nets {
            if let Some(p) = n.labels.get(LABEL_PROJECT) {
                by.entry(p.clone()).or_default();
            }
        }
        let vols = api.volume_list(
            caller,
            &VolumeListOptions {
                filters: vec![("label".into(), LABEL_PROJECT.into())],
            },
        )?;
        for v in vols {
            if let Some(p) = v.labels.get(LABEL_PROJECT) {
                by.entry(p.clone()).or_default();
            }
        }
    }
    let mut out: Vec<ProjectSummary> = by
        .into_iter()
        .filter(|(_, (states, _))| all || states.iter().any(|s| s.is_active()))
        .map(|(name, (states, labels))| ProjectSummary {
            status: status_text(&states),
            config_files: labels.get(LABEL_FILES).cloned().unwrap_or_default(),
            working_dir: labels.get(LABEL_WORKDIR).cloned().unwrap_or_default(),
            containers: states.len(),
            running: states
                .iter()
                .filter(|s| **s == ContainerStatus::Running)
                .count(),
            name,
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_text_as_docker_compose() {
        use ContainerStatus::*;
        assert_eq!(
            status_text(&[Exited, Running, Running]),
            "running(2), exited(1)"
        );
        assert_eq!(status_text(&[]), "");
    }
}
