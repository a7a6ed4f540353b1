//! The command a student would type: for each action a pane asks of the engine
//! ([`Call`]), the `wharf` command line that makes the same engine request, and the
//! `docker` one where docker has the command. Made from the call's actual arguments
//! (a run's from its whole request, through [`wharf_engine::api::flags::argv`]); the
//! tests send both through the engine and compare what arrives.

use wharf_engine::api::flags::argv::run_args;

use super::super::api::{Call, ContainerOp};

/// The commands that do what an action did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Equivalent {
    /// `wharf ...`, word by word.
    pub wharf: Vec<String>,
    /// `docker ...`, where docker has the command.
    pub docker: Option<Vec<String>>,
}

fn words(ws: &[&str]) -> Vec<String> {
    ws.iter().map(|s| s.to_string()).collect()
}

impl Equivalent {
    /// `wharf ARGS` and `docker ARGS`.
    fn both(args: Vec<String>) -> Equivalent {
        let mut w = vec!["wharf".to_string()];
        w.extend(args.iter().cloned());
        let mut d = vec!["docker".to_string()];
        d.extend(args);
        Equivalent {
            wharf: w,
            docker: Some(d),
        }
    }

    /// `wharf ARGS` only (docker has no such command).
    fn wharf_only(args: Vec<String>) -> Equivalent {
        let mut w = vec!["wharf".to_string()];
        w.extend(args);
        Equivalent {
            wharf: w,
            docker: None,
        }
    }

    /// For a command typed at the console's prompt (the words after `wharf`): itself,
    /// and docker's where docker has that command.
    pub fn typed(args: &[String]) -> Equivalent {
        let first: Vec<&str> = args.iter().take(2).map(String::as_str).collect();
        let wharf_only = matches!(
            first.as_slice(),
            ["audit", ..] | ["journal", ..] | ["serve", ..] | ["trace", ..] | ["image", "demo"]
        );
        if wharf_only {
            Equivalent::wharf_only(args.to_vec())
        } else {
            Equivalent::both(args.to_vec())
        }
    }
}

/// `build [-t NAME]... [-f FILE] [--no-cache] [--target T] [--build-arg K=V]... CONTEXT`.
fn build_args(
    context: &str,
    file: Option<&str>,
    o: &wharf_engine::api::BuildOptions,
) -> Vec<String> {
    let mut a = vec!["build".to_string()];
    for t in &o.tags {
        a.extend(["-t".into(), t.clone()]);
    }
    if let Some(f) = file {
        a.extend(["-f".into(), f.to_string()]);
    }
    if o.no_cache {
        a.push("--no-cache".into());
    }
    if let Some(t) = &o.target {
        a.extend(["--target".into(), t.clone()]);
    }
    for (k, v) in &o.build_args {
        a.extend(["--build-arg".into(), format!("{k}={v}")]);
    }
    for (k, v) in &o.labels {
        a.extend(["--label".into(), format!("{k}={v}")]);
    }
    if let Some(n) = &o.network {
        a.extend(["--network".into(), n.clone()]);
    }
    if let Some(p) = &o.platform {
        a.extend(["--platform".into(), p.clone()]);
    }
    a.push(context.to_string());
    a
}

/// The commands for `call`; `None` for what no command does (saving a shown log).
pub fn of(call: &Call) -> Option<Equivalent> {
    let s = |x: &str| x.to_string();
    Some(match call {
        Call::Containers { op, targets } => {
            let mut a = match op {
                ContainerOp::Start => words(&["start"]),
                ContainerOp::Stop => words(&["stop"]),
                ContainerOp::Restart => words(&["restart"]),
                ContainerOp::Kill => words(&["kill"]),
                ContainerOp::Pause => words(&["pause"]),
                ContainerOp::Unpause => words(&["unpause"]),
                ContainerOp::Remove { force: true } => words(&["rm", "-f"]),
                ContainerOp::Remove { force: false } => words(&["rm"]),
            };
            a.extend(targets.iter().map(|t| t.name.clone()));
            Equivalent::both(a)
        }
        Call::Rename { old, new, .. } => {
            Equivalent::both(vec![s("rename"), old.clone(), new.clone()])
        }
        Call::Run { spec, .. } => {
            let mut a = words(&["run", "-d"]);
            a.extend(run_args(spec));
            Equivalent::both(a)
        }
        Call::RemoveImages { refs } => {
            let mut a = words(&["rmi"]);
            a.extend(refs.iter().cloned());
            Equivalent::both(a)
        }
        Call::TagImage { src, dst } => Equivalent::both(vec![s("tag"), src.clone(), dst.clone()]),
        Call::PruneImages => Equivalent::both(words(&["image", "prune", "-f"])),
        Call::DemoImage { reference } => {
            Equivalent::wharf_only(vec![s("image"), s("demo"), reference.clone()])
        }
        Call::PullImage { reference } => Equivalent::both(vec![s("pull"), reference.clone()]),
        Call::ImageHistory { reference } => Equivalent::both(vec![s("history"), reference.clone()]),
        Call::CreateVolume { name } => {
            let mut a = words(&["volume", "create"]);
            a.extend(name.iter().cloned());
            Equivalent::both(a)
        }
        Call::RemoveVolume { name } => Equivalent::both(vec![s("volume"), s("rm"), name.clone()]),
        Call::PruneVolumes { all } => {
            let mut a = words(&["volume", "prune", "-f"]);
            if *all {
                a.push(s("-a"));
            }
            Equivalent::both(a)
        }
        Call::CreateNetwork { spec } => {
            let mut a = words(&["network", "create"]);
            if let Some(d) = spec.driver.as_ref().filter(|d| d.as_str() != "bridge") {
                a.extend([s("--driver"), d.clone()]);
            }
            for (flag, v) in [
                ("--subnet", &spec.subnet),
                ("--gateway", &spec.gateway),
                ("--ip-range", &spec.ip_range),
            ] {
                if let Some(v) = v {
                    a.extend([s(flag), v.clone()]);
                }
            }
            if spec.internal {
                a.push(s("--internal"));
            }
            for (k, v) in &spec.labels {
                a.extend([s("--label"), format!("{k}={v}")]);
            }
            a.push(spec.name.clone());
            Equivalent::both(a)
        }
        Call::RemoveNetwork { name } => Equivalent::both(vec![s("network"), s("rm"), name.clone()]),
        Call::Connect {
            network,
            container,
            opts,
        } => {
            let mut a = words(&["network", "connect"]);
            if let Some(ip) = &opts.ip {
                a.extend([s("--ip"), ip.clone()]);
            }
            for al in &opts.aliases {
                a.extend([s("--alias"), al.clone()]);
            }
            a.extend([network.clone(), container.clone()]);
            Equivalent::both(a)
        }
        Call::Disconnect { network, container } => Equivalent::both(vec![
            s("network"),
            s("disconnect"),
            network.clone(),
            container.clone(),
        ]),
        Call::Build {
            context,
            file,
            opts,
            ..
        } => Equivalent::both(build_args(context, file.as_deref(), opts)),
        Call::Stack {
            project,
            files,
            services,
            op,
        } => {
            let mut a = vec![s("compose"), s("-p"), project.clone()];
            for f in files {
                a.extend([s("-f"), f.clone()]);
            }
            a.extend(words(op.words()));
            a.extend(services.iter().cloned());
            Equivalent::both(a)
        }
        // Saving the log shown is the console's own doing; actions added later say
        // theirs here.
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    //! Each action's command, read by the CLI's own parser (clap) and done by the CLI's
    //! own code, makes the engine request the console made: both go through a traced
    //! engine (each on its own fresh root) and the calls recorded are compared.

    use std::collections::BTreeMap;
    use std::sync::Arc;

    use clap::Parser;
    use serde_json::Value;
    use wharf_engine::api::flags;
    use wharf_engine::api::{ContainerCreate, HealthConfig, Resources, RestartPolicy, Ulimit};
    use wharf_engine::trace::{Traced, Tracer};
    use wharf_engine::{Caller, Engine, EngineOptions, LocalEngine};

    use super::super::super::api::{StackOp, Target};
    use super::*;

    fn traced(dir: &std::path::Path) -> Arc<Traced<LocalEngine>> {
        let e = LocalEngine::open(dir, EngineOptions::default()).expect("engine on a temp root");
        Arc::new(Traced::new(Arc::new(e), Tracer::new(1000), "test"))
    }

    /// Calls as the trace has them: method, arguments.
    type Calls = Vec<(String, Value)>;

    /// The calls (method, arguments) `call` makes, and those its wharf command makes
    /// among the same methods.
    fn both_ways(call: Call) -> (Calls, Calls, Equivalent) {
        let eq = of(&call).expect("an equivalent command");
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (ea, eb) = (traced(a.path()), traced(b.path()));
        let c = Caller::root();
        let _ = call.perform(ea.as_ref(), &c, &mut |_| {});
        let opts = crate::Opts::try_parse_from(&eq.wharf)
            .unwrap_or_else(|e| panic!("{:?} does not parse: {e}", eq.wharf));
        let ctx = crate::cli::Ctx {
            api: eb.clone() as Arc<dyn Engine>,
            local: None,
            caller: c,
        };
        let cmd = opts.command.expect("a command");
        let _ = crate::cli::out::capture(None, || crate::dispatch(cmd, &ctx));
        let calls = |t: &Tracer| -> Vec<(String, Value)> {
            t.since(0).into_iter().map(|e| (e.method, e.args)).collect()
        };
        let console = calls(ea.tracer());
        let methods: Vec<&String> = console.iter().map(|(m, _)| m).collect();
        let typed: Vec<(String, Value)> = calls(eb.tracer())
            .into_iter()
            .filter(|(m, _)| methods.contains(&m))
            .collect();
        (console, typed, eq)
    }

    fn round_trip(call: Call) -> Equivalent {
        let what = format!("{call:?}");
        let (console, typed, eq) = both_ways(call);
        assert!(!console.is_empty(), "{what}: no engine call");
        assert_eq!(console, typed, "{what}: {:?}", eq.wharf);
        if let Some(d) = &eq.docker {
            assert_eq!(d[0], "docker");
            assert_eq!(d[1..], eq.wharf[1..], "docker's words are wharf's");
        }
        eq
    }

    fn t(name: &str) -> Target {
        // The console names containers by id, the command by name: the same here.
        Target {
            id: name.into(),
            name: name.into(),
        }
    }

    #[test]
    fn stack_actions_are_compose_commands() {
        let call = |op| Call::Stack {
            project: "shop".into(),
            files: vec!["/srv/shop/compose.yaml".into()],
            services: vec![],
            op,
        };
        let eq = of(&call(StackOp::Up)).unwrap();
        assert_eq!(
            eq.wharf.join(" "),
            "wharf compose -p shop -f /srv/shop/compose.yaml up -d"
        );
        assert_eq!(
            eq.docker.unwrap().join(" "),
            "docker compose -p shop -f /srv/shop/compose.yaml up -d"
        );
        let eq = of(&call(StackOp::Down { volumes: true })).unwrap();
        assert_eq!(
            eq.wharf.join(" "),
            "wharf compose -p shop -f /srv/shop/compose.yaml down -v"
        );
        let eq = of(&Call::Stack {
            project: "shop".into(),
            files: vec![],
            services: vec!["web".into()],
            op: StackOp::Restart,
        })
        .unwrap();
        assert_eq!(eq.wharf.join(" "), "wharf compose -p shop restart web");
    }

    #[test]
    fn a_stack_stop_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("compose.yaml");
        std::fs::write(
            &file,
            "services:\n  web:\n    image: wharf/demo\n    network_mode: none\n",
        )
        .unwrap();
        for op in [
            StackOp::Stop,
            StackOp::Start,
            StackOp::Down { volumes: true },
        ] {
            round_trip(Call::Stack {
                project: "shop".into(),
                files: vec![file.to_string_lossy().into_owned()],
                services: vec![],
                op,
            });
        }
    }

    #[test]
    fn a_run_with_every_kind_of_option_round_trips() {
        let mut labels = BTreeMap::new();
        labels.insert("course".to_string(), "containers 101".to_string());
        labels.insert("empty".to_string(), String::new());
        let mut mounts = vec![
            flags::volume("lab-data:/data").unwrap(),
            flags::volume("/srv/course:/course:ro").unwrap(),
            flags::volume("/scratch").unwrap(),
        ];
        mounts.push(flags::tmpfs("/run/cache:size=64m,mode=1777").unwrap());
        let spec = ContainerCreate {
            name: Some("web".into()),
            image: "wharf/demo:latest".into(),
            cmd: Some(vec!["httpd".into(), "-f".into(), "-p".into(), "80".into()]),
            entrypoint: Some(vec![]),
            env: vec!["GREETING=hello world".into(), "EMPTY=".into()],
            workdir: Some("/srv".into()),
            user: Some("1000:1000".into()),
            hostname: Some("web-1".into()),
            labels,
            restart: RestartPolicy::OnFailure { max_retries: 3 },
            resources: Resources {
                memory: Some(256 << 20),
                memory_swap: Some(-1),
                nano_cpus: Some(1_500_000_000),
                cpu_shares: Some(512),
                cpuset_cpus: Some("0".into()),
                pids_limit: Some(100),
                blkio_weight: Some(300),
            },
            read_only: true,
            cap_add: vec!["NET_ADMIN".into()],
            cap_drop: vec!["MKNOD".into()],
            init: true,
            stop_signal: Some(flags::stop_signal("SIGINT").unwrap()),
            stop_timeout: Some(5),
            ulimits: vec![
                flags::ulimit("nofile=1024:2048").unwrap(),
                Ulimit {
                    name: "nproc".into(),
                    soft: 64,
                    hard: 64,
                },
            ],
            shm_size: Some(128 << 20),
            security_opt: vec!["no-new-privileges".into()],
            network: Some("lab".into()),
            ip: Some("172.30.0.10".into()),
            network_aliases: vec!["www".into()],
            ports: [
                flags::publish("8080:80").unwrap(),
                flags::publish("127.0.0.1:5353:53/udp").unwrap(),
                flags::publish("9000").unwrap(),
            ]
            .concat(),
            expose: flags::expose("7000/udp").unwrap(),
            dns: vec!["10.0.0.2".into()],
            extra_hosts: vec![flags::add_host("db.local:10.0.0.5").unwrap()],
            mounts,
            volumes_from: vec!["data-box:ro".into()],
            log_max_size: Some(10_000_000),
            log_max_files: Some(3),
            log_driver: Some("json-file".into()),
            healthcheck: Some(HealthConfig {
                test: Some(vec![
                    "CMD-SHELL".into(),
                    "wget -q -O- localhost || exit 1".into(),
                ]),
                interval_ns: Some(30_000_000_000),
                timeout_ns: Some(5_000_000_000),
                start_period_ns: Some(1_500_000_000),
                retries: Some(3),
            }),
            ..Default::default()
        };
        let eq = round_trip(Call::Run {
            spec: Box::new(spec),
            line: String::new(),
        });
        let line = flags::argv::shell_line(&eq.wharf);
        assert!(
            line.starts_with("wharf run -d --name web -h web-1 "),
            "{line}"
        );
        assert!(
            line.contains(" -p 8080:80 -p 127.0.0.1:5353:53/udp -p 9000 "),
            "{line}"
        );
        assert!(line.contains(" -e 'GREETING=hello world' "), "{line}");
        assert!(line.contains(" -m 256m "), "{line}");
        assert!(line.contains(" --restart on-failure:3 "), "{line}");
        assert!(
            line.ends_with(" wharf/demo:latest httpd -f -p 80"),
            "{line}"
        );
    }

    #[test]
    fn a_plain_run_reads_as_typed() {
        let spec = ContainerCreate {
            name: Some("web".into()),
            image: "wharf/demo".into(),
            ports: flags::publish("8080:80").unwrap(),
            cmd: Some(vec!["httpd".into(), "-f".into()]),
            ..Default::default()
        };
        let eq = round_trip(Call::Run {
            spec: Box::new(spec),
            line: String::new(),
        });
        assert_eq!(
            flags::argv::shell_line(&eq.wharf),
            "wharf run -d --name web -p 8080:80 wharf/demo httpd -f"
        );
        assert_eq!(
            flags::argv::shell_line(eq.docker.as_deref().unwrap()),
            "docker run -d --name web -p 8080:80 wharf/demo httpd -f"
        );
    }

    #[test]
    fn container_actions_round_trip() {
        for op in [
            ContainerOp::Start,
            ContainerOp::Stop,
            ContainerOp::Restart,
            ContainerOp::Kill,
            ContainerOp::Pause,
            ContainerOp::Unpause,
            ContainerOp::Remove { force: false },
            ContainerOp::Remove { force: true },
        ] {
            round_trip(Call::Containers {
                op,
                targets: vec![t("web"), t("db")],
            });
        }
        round_trip(Call::Rename {
            id: "web".into(),
            old: "web".into(),
            new: "web-2".into(),
        });
    }

    #[test]
    fn image_volume_and_network_actions_round_trip() {
        for call in [
            Call::RemoveImages {
                refs: vec!["busybox:1".into(), "wharf/demo:old".into()],
            },
            Call::TagImage {
                src: "wharf/demo".into(),
                dst: "lab/web:v2".into(),
            },
            Call::PruneImages,
            Call::ImageHistory {
                reference: "wharf/demo".into(),
            },
            Call::PullImage {
                reference: "localhost:1/nothing/here:latest".into(),
            },
            Call::CreateVolume {
                name: Some("lab-data".into()),
            },
            Call::CreateVolume { name: None },
            Call::RemoveVolume {
                name: "lab-data".into(),
            },
            Call::PruneVolumes { all: false },
            Call::PruneVolumes { all: true },
            Call::CreateNetwork {
                spec: Box::new(wharf_engine::api::NetworkCreate {
                    name: "lab".into(),
                    ..Default::default()
                }),
            },
            Call::CreateNetwork {
                spec: Box::new(wharf_engine::api::NetworkCreate {
                    name: "lab2".into(),
                    driver: None,
                    subnet: Some("10.9.0.0/16".into()),
                    gateway: Some("10.9.0.254".into()),
                    ip_range: Some("10.9.1.0/24".into()),
                    internal: true,
                    labels: [("course".to_string(), "ch5".to_string())].into(),
                }),
            },
            Call::RemoveNetwork { name: "lab".into() },
            Call::Connect {
                network: "lab".into(),
                container: "web".into(),
                opts: Default::default(),
            },
            Call::Connect {
                network: "lab".into(),
                container: "web".into(),
                opts: Box::new(wharf_engine::api::NetworkConnect {
                    ip: Some("10.9.1.7".into()),
                    aliases: vec!["www".into()],
                }),
            },
            Call::Disconnect {
                network: "lab".into(),
                container: "web".into(),
            },
        ] {
            round_trip(call);
        }
        // The demo image is wharf's own: no docker command.
        let eq = of(&Call::DemoImage {
            reference: "wharf/demo:latest".into(),
        })
        .unwrap();
        assert_eq!(eq.docker, None);
        let opts = crate::Opts::try_parse_from(&eq.wharf).unwrap();
        assert!(matches!(
            opts.command,
            Some(crate::Command::Images(crate::cli::images::Cmd::Image(
                crate::cli::images::ImageCmd::Demo(ref a)
            ))) if a.reference == "wharf/demo:latest"
        ));
    }

    /// A build's command, read by the CLI's parser and made into options by the CLI's
    /// code, asks the engine for the same build; and both builds make the same calls.
    #[test]
    fn a_build_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(
            dir.path().join("sub/Build.file"),
            "FROM scratch\nARG V\nLABEL v=$V\n",
        )
        .unwrap();
        let context = dir.path().to_string_lossy().into_owned();
        let file = dir
            .path()
            .join("sub/Build.file")
            .to_string_lossy()
            .into_owned();
        let line = crate::cli::build::BuildLine::try_parse_from([
            "build",
            "-t",
            "built:1",
            "-t",
            "built:latest",
            "-f",
            &file,
            "--no-cache",
            "--build-arg",
            "V=2",
            &context,
        ])
        .unwrap();
        let opts = crate::cli::build::options(&line.args, &mut false).unwrap();
        assert_eq!(opts.dockerfile, "sub/Build.file");
        let call = Call::Build {
            context: context.clone(),
            file: Some(file.clone()),
            opts: Box::new(opts.clone()),
            link: Box::new(crate::console::api::BuildLink::none()),
        };
        let eq = round_trip(call);
        assert_eq!(
            eq.wharf,
            vec![
                "wharf",
                "build",
                "-t",
                "built:1",
                "-t",
                "built:latest",
                "-f",
                &file,
                "--no-cache",
                "--build-arg",
                "V=2",
                &context
            ]
        );
        let parsed = crate::Opts::try_parse_from(&eq.wharf).unwrap();
        match parsed.command {
            Some(crate::Command::Build(crate::cli::build::Cmd::Build(a))) => {
                assert_eq!(crate::cli::build::options(&a, &mut false).unwrap(), opts)
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn typed_commands_say_which_docker_has() {
        let w = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        assert!(Equivalent::typed(&w("network create lab")).docker.is_some());
        assert!(Equivalent::typed(&w("image demo")).docker.is_none());
        assert!(Equivalent::typed(&w("audit")).docker.is_none());
    }
}
