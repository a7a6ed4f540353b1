//! Looking at a container: `inspect` in Docker's shape, and its logs.

use serde_json::{json, Value};

use crate::api::{ContainerStatus, LogLine, LogOptions};
use crate::caller::Caller;
use crate::error::Result;
use crate::policy::Action;
use crate::runtime::{logs, mounts_for, paths, toolbox};
use crate::LocalEngine;

impl LocalEngine {
    pub(super) fn inspect_container(&self, caller: &Caller, id: &str) -> Result<Value> {
        let (cfg, st) = self.resolve_owned(caller, Action::ContainerInspect, id)?;
        let dir = paths::dir(self, &cfg.id);
        // Config.Entrypoint and Config.Cmd as the container runs them (the image's where
        // the create gave none), as docker shows them: the command line is both.
        let (entrypoint, cmd) = {
            let entry: Vec<String> = match &cfg.spec.entrypoint {
                Some(e) => e.clone(),
                None => self
                    .resolve_image(&Caller::root(), &cfg.image_id)
                    .ok()
                    .and_then(|img| img.config.pointer("/config/Entrypoint").cloned())
                    .and_then(|v| serde_json::from_value::<Vec<String>>(v).ok())
                    .unwrap_or_default(),
            };
            let entry = if cfg.args.starts_with(&entry) {
                entry
            } else {
                Vec::new()
            };
            let cmd = cfg.args[entry.len()..].to_vec();
            (
                (!entry.is_empty()).then_some(entry),
                (!cmd.is_empty()).then_some(cmd),
            )
        };
        let r = &cfg.spec.resources;
        let restart = serde_json::to_value(&cfg.spec.restart).unwrap_or(Value::Null);
        let restart = match restart {
            Value::Object(mut o) => {
                o.entry("MaximumRetryCount").or_insert(json!(0));
                Value::Object(o)
            }
            other => other,
        };
        let mounts: Vec<Value> = mounts_for(self, &cfg)
            .iter()
            .zip(&cfg.spec.mounts)
            .map(|(m, orig)| {
                json!({
                    "Type": m.kind, "Name": if m.kind == "volume" { orig.source.clone() } else { String::new() },
                    "Source": m.source, "Destination": m.target, "RW": !m.read_only, "Mode": m.options.join(","),
                })
            })
            .collect();
        // Docker's shapes: `{"max-size": "10485760"}` (no nulls) and
        // `{"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}` (host port "" when any).
        let mut log_opts = serde_json::Map::new();
        if let Some(s) = cfg.spec.log_max_size {
            log_opts.insert("max-size".into(), json!(s.to_string()));
        }
        if let Some(n) = cfg.spec.log_max_files {
            log_opts.insert("max-file".into(), json!(n.to_string()));
        }
        let mut port_bindings = serde_json::Map::new();
        for p in &cfg.spec.ports {
            let b = json!({
                "HostIp": p.host_ip,
                "HostPort": if p.host_port == 0 { String::new() } else { p.host_port.to_string() },
            });
            if let Some(list) = port_bindings
                .entry(format!("{}/{}", p.container_port, p.proto))
                .or_insert_with(|| json!([]))
                .as_array_mut()
            {
                list.push(b);
            }
        }
        // `{"80/tcp": {}}`: published and --expose'd ports (null when none, as Docker).
        let exposed: serde_json::Map<String, Value> = cfg
            .spec
            .ports
            .iter()
            .chain(&cfg.spec.expose)
            .map(|p| (format!("{}/{}", p.container_port, p.proto), json!({})))
            .collect();
        let exposed = (!exposed.is_empty()).then_some(Value::Object(exposed));
        let mut doc = json!({
            "Id": cfg.id,
            "Created": cfg.created,
            "Path": cfg.args.first().cloned().unwrap_or_default(),
            "Args": cfg.args.iter().skip(1).collect::<Vec<_>>(),
            "State": {
                "Status": st.status.as_str(),
                "Running": matches!(st.status, ContainerStatus::Running | ContainerStatus::Paused),
                "Paused": st.status == ContainerStatus::Paused,
                "Restarting": st.status == ContainerStatus::Restarting,
                "OOMKilled": st.oom_killed,
                "Dead": st.status == ContainerStatus::Dead,
                "Pid": if st.pid_alive() { st.pid } else { 0 },
                "ExitCode": st.exit_code,
                "Error": st.error,
                "StartedAt": if st.started_at.is_empty() { "0001-01-01T00:00:00Z".to_string() } else { st.started_at.clone() },
                "FinishedAt": if st.finished_at.is_empty() { "0001-01-01T00:00:00Z".to_string() } else { st.finished_at.clone() },
            },
            "Image": cfg.image_id,
            "ResolvConfPath": dir.join("resolv.conf"),
            "HostnamePath": dir.join("hostname"),
            "HostsPath": dir.join("hosts"),
            "LogPath": paths::log_file(self, &cfg.id),
            "Name": format!("/{}", cfg.name),
            "RestartCount": st.restart_count,
            "Driver": "overlay",
            "Platform": "linux",
            "HostConfig": {
                "NetworkMode": cfg.spec.network.clone().unwrap_or_else(|| "bridge".into()),
                "RestartPolicy": restart,
                "AutoRemove": cfg.spec.auto_remove,
                "Privileged": cfg.spec.privileged,
                "ReadonlyRootfs": cfg.spec.read_only,
                "CapAdd": cfg.spec.cap_add,
                "CapDrop": cfg.spec.cap_drop,
                "SecurityOpt": cfg.spec.security_opt.iter().map(|o| if o.starts_with("seccomp=") && o != "seccomp=unconfined" { "seccomp=<profile>".to_string() } else { o.clone() }).collect::<Vec<_>>(),
                "Init": cfg.spec.init,
                "Memory": r.memory.unwrap_or(0),
                "MemorySwap": r.memory_swap.unwrap_or(0),
                "NanoCpus": r.nano_cpus.unwrap_or(0),
                "CpuShares": r.cpu_shares.unwrap_or(0),
                "CpusetCpus": r.cpuset_cpus.clone().unwrap_or_default(),
                "PidsLimit": r.pids_limit,
                "BlkioWeight": r.blkio_weight.unwrap_or(0),
                "ShmSize": cfg.spec.shm_size.unwrap_or(64 << 20),
                "Ulimits": cfg.spec.ulimits.iter().map(|u| json!({"Name": u.name, "Soft": u.soft, "Hard": u.hard})).collect::<Vec<_>>(),
                "LogConfig": {"Type": cfg.spec.log_driver.as_deref().unwrap_or("json-file"), "Config": log_opts},
                "PortBindings": port_bindings,
                "PublishAllPorts": cfg.spec.publish_all,
                "Dns": cfg.spec.dns,
                "ExtraHosts": cfg.spec.extra_hosts,
            },
            "Mounts": mounts,
            "Config": {
                "Hostname": cfg.hostname,
                "User": cfg.user,
                "Tty": cfg.spec.tty,
                "OpenStdin": cfg.spec.open_stdin,
                "Env": cfg.env,
                "Cmd": cmd,
                "Entrypoint": entrypoint,
                "Image": cfg.image,
                "WorkingDir": cfg.working_dir,
                "Labels": cfg.labels,
                "StopSignal": cfg.spec.stop_signal.clone().unwrap_or_else(|| "SIGTERM".into()),
                "StopTimeout": cfg.stop_timeout(),
                "ExposedPorts": exposed,
                "Healthcheck": cfg.spec.healthcheck.as_ref().map(|h| json!({
                    "Test": h.test, "Interval": h.interval_ns.unwrap_or(0),
                    "Timeout": h.timeout_ns.unwrap_or(0), "StartPeriod": h.start_period_ns.unwrap_or(0),
                    "Retries": h.retries.unwrap_or(0),
                })),
            },
            "NetworkSettings": crate::network::network_settings(self, &cfg.id, cfg.spec.network.as_deref())
                .ok()
                .filter(|v| v["Networks"].as_object().is_some_and(|m| !m.is_empty()))
                .unwrap_or_else(|| serde_json::json!({ "Networks": { cfg.spec.network.clone().unwrap_or_else(|| "bridge".into()): {} } })),
            "Owner": cfg.owner,
            "Project": cfg.project,
        });
        // State.Health (toolbox).
        toolbox::health::inspect_into(self, &cfg, &st, &mut doc);
        Ok(doc)
    }

    pub(super) fn read_logs(
        &self,
        caller: &Caller,
        id: &str,
        opts: &LogOptions,
        sink: &mut dyn FnMut(LogLine) -> bool,
    ) -> Result<()> {
        let (cfg, _) = self.resolve_owned(caller, Action::ContainerLogs, id)?;
        if cfg.spec.log_driver.as_deref() == Some("none") {
            return Err(crate::EngineError::invalid(format!(
                "configured logging driver does not support reading: {} runs with --log-driver none, \
                 so no log is kept",
                cfg.name
            )));
        }
        let path = paths::log_file(self, &cfg.id);
        let running = || {
            self.observe(&cfg.id)
                .map(|(_, st)| st.status.is_active())
                .unwrap_or(false)
        };
        logs::read(&path, opts, sink, &running)
    }
}
