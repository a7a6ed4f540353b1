//! `create`: the request checked, a name chosen, the config built from the image's
//! and the request's, the container's directory and volumes made.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::api::ContainerCreate;
use crate::caller::Caller;
use crate::error::{EngineError, IoContext, Result};
use crate::policy::Action;
use crate::runtime::config::ContainerConfig;
use crate::runtime::state::{self, RunState};
use crate::runtime::{binds, event, load_config, paths, validate, write_config};
use crate::LocalEngine;

use super::names::random_name;

impl LocalEngine {
    pub(super) fn create_container(
        &self,
        caller: &Caller,
        spec: &ContainerCreate,
    ) -> Result<String> {
        // The permission first (nothing is looked at without it), then the request's
        // own sense, then the role's constraints on it (audited with its arguments).
        self.gate().precheck(caller, Action::ContainerCreate)?;
        validate::validate(spec).inspect_err(|e| self.gate().refuse_create(caller, spec, e))?;
        // Bind sources resolved by the kernel (as the caller, for a constrained role) and
        // `--volumes-from` expanded: the gate checks real paths, and the objects found
        // are recorded so the start mounts exactly them.
        let (resolved, bind_sources) = binds::prepare(self, caller, spec)?;
        let spec = &resolved;
        if spec.check_only {
            // Compose's dry run: the same checks, nothing created, refusals audited.
            self.gate().check_create_only(caller, spec)?;
            return match crate::network::check_request(self, caller, spec) {
                Err(e) if e.kind == crate::ErrorKind::NotFound => Ok(String::new()),
                Err(e) => Err(e),
                Ok(()) => Ok(String::new()),
            };
        }
        self.gate().authorize_create(caller, spec)?;
        crate::network::check_request(self, caller, spec)?;
        let id = crate::ids::new_id();
        let _l = self.root().lock("containers")?;
        let name = match &spec.name {
            Some(n) => {
                if let Ok(other) = self.find_container(n) {
                    if load_config(self, &other)
                        .map(|c| c.name == *n)
                        .unwrap_or(false)
                    {
                        // dockerd's words: clients (compose) look for them.
                        return Err(EngineError::conflict(format!(
                            "Conflict. The container name \"/{n}\" is already in use by container \"{other}\". You have to remove (or rename) that container to be able to reuse that name."
                        )));
                    }
                }
                n.clone()
            }
            None => loop {
                let n = random_name();
                if self.find_container(&n).is_err() {
                    break n;
                }
            },
        };
        let mut cfg = self.build_config(caller, spec, &id, name)?;
        cfg.bind_sources = bind_sources;
        let dir = paths::dir(self, &id);
        // Which container is in the making, for the engine that finds this create
        // killed half-way ([`LocalEngine::remove_leftovers`]).
        let marker = super::recover::creating_marker(self);
        crate::state::overwrite(&marker, id.as_bytes())
            .ctx(|| format!("writing {}", marker.display()))?;
        // A spare directory when there is one (see `spares`), filled out of sight and
        // renamed into place; else the directory is made in place.
        let taken = super::spares::take(self, &id);
        let res = (|| {
            let build = taken.as_deref().unwrap_or(&dir);
            for d in ["diff", "work", "merged"] {
                std::fs::create_dir_all(build.join(d))
                    .ctx(|| format!("creating {}", build.join(d).display()))?;
            }
            for m in cfg.spec.mounts.iter_mut().filter(|m| m.kind == "volume") {
                let name = (!m.source.is_empty()).then_some(m.source.as_str());
                m.source = crate::volume::acquire(self, caller, name, &id)?;
            }
            write_config(build, &cfg, taken.is_some())?;
            state::save(build, &RunState::default())?;
            match &taken {
                Some(t) => super::spares::publish(t, &id, &dir)
                    .ctx(|| format!("placing {}", dir.display())),
                None => Ok(()),
            }
        })();
        if let Err(e) = res {
            let _ = crate::volume::release(self, &id, true);
            let _ = std::fs::remove_dir_all(&dir);
            if let Some(t) = &taken {
                let _ = std::fs::remove_dir_all(t);
            }
            let _ = crate::state::overwrite(&marker, b"");
            return Err(e);
        }
        // Emptied, not removed: the next create writes the same file (a new inode per
        // create is a measurable part of a short `run` on ext4), in place.
        let _ = crate::state::overwrite(&marker, b"");
        if crate::trace::active() {
            crate::trace::step(format!(
                "resolved {} to image {} ({} layer{})",
                cfg.image,
                crate::ids::short(&cfg.image_id),
                cfg.layer_dirs.len(),
                if cfg.layer_dirs.len() == 1 { "" } else { "s" }
            ));
            crate::trace::step(format!(
                "made containers/{}/ with an empty writable layer (diff, work, merged) and its config, named {}",
                crate::ids::short(&id),
                cfg.name
            ));
            for m in cfg.spec.mounts.iter().filter(|m| m.kind == "volume") {
                crate::trace::step(format!(
                    "took volume {} for {}",
                    crate::ids::short(&m.source),
                    m.target
                ));
            }
        }
        self.emit(event(&cfg, "create"));
        Ok(id)
    }

    fn build_config(
        &self,
        caller: &Caller,
        spec: &ContainerCreate,
        id: &str,
        name: String,
    ) -> Result<ContainerConfig> {
        let img = self.resolve_image(caller, &spec.image)?;
        // A container stands on the image's layers: they must be on disk first.
        self.images_durable()?;
        let icfg = img.config.get("config").cloned().unwrap_or(Value::Null);
        let strs = |v: Option<&Value>| -> Option<Vec<String>> {
            v.and_then(|v| v.as_array()).map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
        };
        let entry = match &spec.entrypoint {
            Some(e) => e.clone(),
            None => strs(icfg.get("Entrypoint")).unwrap_or_default(),
        };
        let cmd = match &spec.cmd {
            Some(c) => c.clone(),
            None if spec.entrypoint.is_some() => vec![],
            None => strs(icfg.get("Cmd")).unwrap_or_default(),
        };
        let args: Vec<String> = entry.into_iter().chain(cmd).collect();
        if args.is_empty() {
            return Err(EngineError::invalid(format!(
                "no command specified: image {} has no CMD or ENTRYPOINT; give a command after the image name",
                spec.image
            )));
        }
        let host_net = spec.network.as_deref() == Some("host");
        let hostname = match (&spec.hostname, host_net) {
            (Some(h), _) => h.clone(),
            (None, true) => nix::unistd::gethostname()
                .map(|h| h.to_string_lossy().into_owned())
                .unwrap_or_default(),
            (None, false) => id[..12].to_string(),
        };
        let mut env: Vec<String> = strs(icfg.get("Env")).unwrap_or_default();
        let mut set = |kv: String| {
            let key = kv.split('=').next().unwrap_or("").to_string();
            env.retain(|e| e.split('=').next() != Some(key.as_str()));
            env.push(kv);
        };
        if !env_has(&spec.env, "PATH")
            && !strs(icfg.get("Env"))
                .unwrap_or_default()
                .iter()
                .any(|e| e.starts_with("PATH="))
        {
            set("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
        }
        set(format!("HOSTNAME={hostname}"));
        if spec.tty {
            set("TERM=xterm".into());
        }
        for e in &spec.env {
            if e.contains('=') {
                set(e.clone());
            }
        }
        let mut labels: BTreeMap<String, String> = icfg
            .get("Labels")
            .and_then(|l| l.as_object())
            .map(|o| {
                o.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        labels.extend(spec.labels.clone());
        let mut spec = spec.clone();
        if spec.stop_signal.is_none() {
            spec.stop_signal = icfg
                .get("StopSignal")
                .and_then(|s| s.as_str())
                .map(str::to_string);
        }
        Ok(ContainerConfig {
            id: id.to_string(),
            name,
            image_id: img.id.clone(),
            image: spec.image.clone(),
            created: state::now_rfc3339(),
            owner: caller.uid,
            project: caller.project.clone(),
            args,
            env,
            working_dir: spec
                .workdir
                .clone()
                .or_else(|| {
                    icfg.get("WorkingDir")
                        .and_then(|w| w.as_str())
                        .map(str::to_string)
                })
                .filter(|w| !w.is_empty())
                .unwrap_or_else(|| "/".into()),
            user: spec
                .user
                .clone()
                .or_else(|| {
                    icfg.get("User")
                        .and_then(|u| u.as_str())
                        .map(str::to_string)
                })
                .unwrap_or_default(),
            hostname,
            layer_dirs: img.layer_dirs.clone(),
            labels,
            spec,
            bind_sources: Vec::new(),
        })
    }
}

fn env_has(env: &[String], key: &str) -> bool {
    env.iter().any(|e| e.split('=').next() == Some(key))
}
