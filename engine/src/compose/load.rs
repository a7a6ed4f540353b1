//! Loading a project: the files (`-f`, several merged in order), the project name
//! (`-p`, `name:`, `COMPOSE_PROJECT_NAME`, the directory), `.env` / `--env-file`,
//! interpolation, `extends`, profiles.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::interp::{self, Vars};
use super::spec::{self, Project};
use super::yaml::{self, Mark, Node, Value};
use crate::error::{EngineError, Result};

/// Largest compose or env file read.
const MAX_FILE: u64 = 4 << 20;

/// How to find and read a project.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `-f`; the default names in the working directory when empty.
    pub files: Vec<PathBuf>,
    /// `-p`.
    pub project_name: Option<String>,
    /// `--project-directory`; the first file's directory by default.
    pub project_dir: Option<PathBuf>,
    /// `--profile`.
    pub profiles: Vec<String>,
    /// `--env-file`; `<project dir>/.env` when it exists by default.
    pub env_files: Vec<PathBuf>,
    /// The caller's environment (the process's for the CLI).
    pub env: BTreeMap<String, String>,
    /// Where relative `-f` paths and the default file names are looked up.
    pub cwd: PathBuf,
}

/// Default compose file names, in the order `docker compose` tries them.
pub const DEFAULT_FILES: &[&str] = &[
    "compose.yaml",
    "compose.yml",
    "docker-compose.yml",
    "docker-compose.yaml",
];

/// A project name as compose normalizes it: lowercase, `[a-z0-9_-]`, starting with a
/// letter or digit.
pub fn normalize_name(s: &str) -> String {
    let lower = s.to_lowercase();
    let kept: String = lower
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-')
        .collect();
    kept.trim_start_matches(['_', '-']).to_string()
}

fn check_name(name: &str, from: &str) -> Result<()> {
    if name.is_empty() || normalize_name(name) != name {
        return Err(EngineError::invalid(format!(
            "{from} {name:?} is not a valid project name: use lowercase letters, digits, _ and -, starting with a letter or digit"
        )));
    }
    Ok(())
}

fn read(path: &Path) -> Result<String> {
    use std::io::Read;
    let f = std::fs::File::open(path)
        .map_err(|e| EngineError::invalid(format!("cannot read {}: {e}", path.display())))?;
    let mut s = String::new();
    f.take(MAX_FILE + 1)
        .read_to_string(&mut s)
        .map_err(|e| EngineError::invalid(format!("cannot read {}: {e}", path.display())))?;
    if s.len() as u64 > MAX_FILE {
        return Err(EngineError::invalid(format!(
            "{} is larger than {} MiB",
            path.display(),
            MAX_FILE >> 20
        )));
    }
    Ok(s)
}

/// The compose files of `opts`, absolute.
pub fn find_files(opts: &LoadOptions) -> Result<Vec<PathBuf>> {
    if !opts.files.is_empty() {
        return Ok(opts
            .files
            .iter()
            .map(|f| {
                if f.is_absolute() {
                    f.clone()
                } else {
                    opts.cwd.join(f)
                }
            })
            .collect());
    }
    if let Some(f) = opts.env.get("COMPOSE_FILE") {
        return Ok(f
            .split(':')
            .filter(|s| !s.is_empty())
            .map(|s| opts.cwd.join(s))
            .collect());
    }
    // The working directory, then its parents, as compose does.
    let mut dir = Some(opts.cwd.as_path());
    while let Some(d) = dir {
        for name in DEFAULT_FILES {
            let p = d.join(name);
            if p.is_file() {
                let mut files = vec![p];
                let stem = name.rsplit_once('.').map(|(a, _)| a).unwrap_or(name);
                for ext in ["yaml", "yml"] {
                    let o = d.join(format!("{stem}.override.{ext}"));
                    if o.is_file() {
                        files.push(o);
                        break;
                    }
                }
                return Ok(files);
            }
        }
        dir = d.parent();
    }
    Err(EngineError::not_found(
        "compose file",
        "compose.yaml",
        &format!(
            "no compose.yaml, compose.yml, docker-compose.yml or docker-compose.yaml in {} or above: give one with -f",
            opts.cwd.display()
        ),
    ))
}

/// Keys whose lists add up across files and `extends` (others are replaced).
const APPEND: &[&str] = &[
    "ports",
    "expose",
    "dns",
    "cap_add",
    "cap_drop",
    "env_file",
    "extra_hosts",
    "security_opt",
    "tmpfs",
    "volumes",
    "profiles",
];

/// Merge `over` into `base` as compose merges files: mappings key by key, the lists in
/// [`APPEND`] added up, anything else replaced.
pub fn merge(base: Node, over: Node, key: &str) -> Node {
    match (base.value, over.value) {
        (Value::Map(mut b), Value::Map(o)) => {
            for (ok, ov) in o {
                let name = ok.as_str().unwrap_or("").to_string();
                match b.iter().position(|(k, _)| k.as_str() == Some(&name)) {
                    Some(i) => {
                        let (bk, bv) = b.remove(i);
                        let _ = bk;
                        b.insert(i, (ok, merge(bv, ov, &name)));
                    }
                    None => b.push((ok, ov)),
                }
            }
            Node::new(base.mark, Value::Map(b))
        }
        (Value::Seq(mut b), Value::Seq(o)) if APPEND.contains(&key) => {
            b.extend(o);
            Node::new(over.mark, Value::Seq(b))
        }
        (_, ov) => Node::new(over.mark, ov),
    }
}

/// Lists that mean mappings (`environment: [A=1]`, `depends_on: [db]`) as mappings, so
/// files merge by key.
fn normalize_service(svc: &mut Node) -> Result<()> {
    let Value::Map(entries) = &mut svc.value else {
        return Ok(());
    };
    for (k, v) in entries.iter_mut() {
        let key = k.as_str().unwrap_or("").to_string();
        let Value::Seq(items) = &v.value else {
            continue;
        };
        let items = items.clone();
        let as_map: Option<Vec<(Node, Node)>> = match key.as_str() {
            "environment" | "labels" => Some(
                items
                    .iter()
                    .map(|i| {
                        let t = i.as_str().unwrap_or("");
                        match t.split_once('=') {
                            Some((a, b)) => {
                                (Node::text(i.mark.clone(), a), Node::text(i.mark.clone(), b))
                            }
                            None => (
                                Node::text(i.mark.clone(), t),
                                Node::new(i.mark.clone(), Value::Null),
                            ),
                        }
                    })
                    .collect(),
            ),
            "depends_on" | "networks" => Some(
                items
                    .iter()
                    .map(|i| {
                        (
                            Node::text(i.mark.clone(), i.as_str().unwrap_or("")),
                            Node::new(i.mark.clone(), Value::Map(vec![])),
                        )
                    })
                    .collect(),
            ),
            _ => None,
        };
        if let Some(m) = as_map {
            for (i, item) in items.iter().enumerate() {
                if item.as_str().is_none() {
                    return Err(item.error(&format!("{key}[{i}]"), "expected a string"));
                }
            }
            v.value = Value::Map(m);
        }
    }
    Ok(())
}

/// Read, parse and interpolate one file, with its services normalized.
fn load_file(path: &Path, vars: &Vars) -> Result<Node> {
    let text = read(path)?;
    let mut node = yaml::parse(&path.display().to_string(), &text)?;
    if !matches!(node.value, Value::Map(_)) {
        return Err(node.error(
            "(top level)",
            "a compose file is a mapping (services:, networks:, volumes:)",
        ));
    }
    interp::interpolate(&mut node, "", vars)?;
    if let Value::Map(top) = &mut node.value {
        for (k, v) in top.iter_mut() {
            if k.as_str() == Some("services") {
                if let Value::Map(svcs) = &mut v.value {
                    for (_, s) in svcs.iter_mut() {
                        normalize_service(s)?;
                    }
                }
            }
        }
    }
    Ok(node)
}

/// Load the project `opts` describes.
pub fn load(opts: &LoadOptions) -> Result<Project> {
    let files = find_files(opts)?;
    let first = files.first().cloned().unwrap_or_default();
    let dir = match &opts.project_dir {
        Some(d) if d.is_absolute() => d.clone(),
        Some(d) => opts.cwd.join(d),
        None => first
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| opts.cwd.clone()),
    };
    // .env (or --env-file) under the environment.
    let mut dotenv = BTreeMap::new();
    let env_files: Vec<PathBuf> = if opts.env_files.is_empty() {
        let d = dir.join(".env");
        if d.is_file() {
            vec![d]
        } else {
            vec![]
        }
    } else {
        opts.env_files
            .iter()
            .map(|f| {
                if f.is_absolute() {
                    f.clone()
                } else {
                    opts.cwd.join(f)
                }
            })
            .collect()
    };
    for f in &env_files {
        let text = read(f)?;
        let mut scope = opts.env.clone();
        scope.extend(dotenv.clone());
        dotenv.extend(interp::dotenv(&f.display().to_string(), &text, &scope)?);
    }
    let vars = Vars::new(dotenv, opts.env.clone());
    let mut merged: Option<Node> = None;
    for f in &files {
        let n = load_file(f, &vars)?;
        merged = Some(match merged {
            None => n,
            Some(b) => merge(b, n, ""),
        });
    }
    let root = merged.ok_or_else(|| EngineError::invalid("no compose file"))?;
    let mut warnings = Vec::new();
    // The name: -p, COMPOSE_PROJECT_NAME, name:, the directory.
    let (name, from) = if let Some(p) = &opts.project_name {
        (p.clone(), "-p")
    } else if let Some(p) = vars.get("COMPOSE_PROJECT_NAME").filter(|s| !s.is_empty()) {
        (p.to_string(), "COMPOSE_PROJECT_NAME")
    } else if let Some(n) = root.get("name") {
        (spec::text(n, "name")?, "name:")
    } else {
        let base = dir
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        (normalize_name(&base), "the project directory's name")
    };
    check_name(&name, from)?;
    // Top-level keys.
    let mut services_node = None;
    let mut networks_node = None;
    let mut volumes_node = None;
    for (k, v) in root.as_map().unwrap_or(&[]) {
        let key = k.as_str().unwrap_or("");
        match key {
            "services" => services_node = Some(v.clone()),
            "networks" => networks_node = Some(v.clone()),
            "volumes" => volumes_node = Some(v.clone()),
            "name" => {}
            "version" => warnings.push(format!(
                "{}: version is obsolete and ignored, as docker compose does",
                k.mark
            )),
            _ if key.starts_with("x-") => {}
            "secrets" | "configs" => {
                return Err(k.error(
                    key,
                    format!("{key} is not supported by wharf: pass files with read-only bind mounts (volumes) instead"),
                ))
            }
            "include" | "models" => {
                return Err(k.error(key, format!("{key} is not supported by wharf: list the files with -f instead")))
            }
            _ => {
                return Err(k.error(
                    key,
                    format!("unknown key {key:?}: a compose file has services, networks, volumes, name and x- extensions"),
                ))
            }
        }
    }
    let services_node =
        services_node.unwrap_or_else(|| Node::new(Mark::default(), Value::Map(vec![])));
    let mut networks = match &networks_node {
        Some(n) => spec::networks(n, &name)?,
        None => BTreeMap::new(),
    };
    let volumes = match &volumes_node {
        Some(n) => spec::volumes(n, &name)?,
        None => BTreeMap::new(),
    };
    // extends, then the typed services.
    let raw: Vec<(String, Node)> = match &services_node.value {
        Value::Map(m) => m
            .iter()
            .map(|(k, v)| Ok((spec::text(k, "services")?, v.clone())))
            .collect::<Result<_>>()?,
        Value::Null => vec![],
        _ => return Err(services_node.error("services", "expected a mapping of services")),
    };
    let mut all = BTreeMap::new();
    for (sname, node) in &raw {
        if !valid_service_name(sname) {
            return Err(node.error(
                &format!("services.{sname}"),
                "a service name is letters, digits, ., _ and -, starting with a letter or digit",
            ));
        }
        let resolved = extends(sname, node, &raw, &dir, &vars, &mut Vec::new())?;
        let s = spec::service(sname, &resolved, &dir, &vars)?;
        all.insert(sname.clone(), (s, node.mark.clone()));
    }
    // Networks and volumes used must be declared; the default network when needed.
    let mut need_default = false;
    for (sname, (s, mark)) in &all {
        if s.network_mode.is_some() {
            if !s.networks.is_empty() {
                return Err(EngineError::invalid(format!(
                    "{mark}: services.{sname}: network_mode and networks cannot be used together"
                )));
            }
            continue;
        }
        if s.networks.is_empty() {
            need_default = true;
        }
        for n in s.networks.keys() {
            if n == "default" {
                need_default = true;
            } else if !networks.contains_key(n) {
                return Err(EngineError::invalid(format!(
                    "{mark}: services.{sname}.networks: service {sname} refers to undefined network {n:?}: declare it under the top-level networks"
                )));
            }
        }
        for m in &s.volumes {
            if m.mount.kind == "volume"
                && !m.mount.source.is_empty()
                && !volumes.contains_key(&m.mount.source)
            {
                return Err(EngineError::invalid(format!(
                    "{mark}: services.{sname}.volumes: service {sname} refers to undefined volume {:?}: declare it under the top-level volumes",
                    m.mount.source
                )));
            }
        }
        for d in s.depends_on.keys() {
            if !raw.iter().any(|(n, _)| n == d) && s.depends_on[d].required {
                return Err(EngineError::invalid(format!(
                    "{mark}: services.{sname}.depends_on: service {sname} depends on undefined service {d:?}"
                )));
            }
        }
    }
    if need_default && !networks.contains_key("default") {
        networks.insert(
            "default".into(),
            spec::NetworkDef {
                name: format!("{name}_default"),
                ..Default::default()
            },
        );
    }
    // Profiles: a service with profiles runs only when one of them is active (or
    // COMPOSE_PROFILES names it).
    let mut active: BTreeSet<String> = opts.profiles.iter().cloned().collect();
    if let Some(p) = vars.get("COMPOSE_PROFILES") {
        active.extend(p.split(',').filter(|s| !s.is_empty()).map(str::to_string));
    }
    let mut services = BTreeMap::new();
    let mut disabled = BTreeMap::new();
    for (n, (s, _)) in all {
        if s.profiles.is_empty()
            || active.contains("*")
            || s.profiles.iter().any(|p| active.contains(p))
        {
            services.insert(n, s);
        } else {
            disabled.insert(n, s);
        }
    }
    for v in vars.unset.borrow().iter() {
        warnings.push(format!(
            "the {v} variable is not set: defaulting to a blank string"
        ));
    }
    Ok(Project {
        name,
        working_dir: dir,
        config_files: files.iter().map(|f| f.display().to_string()).collect(),
        services,
        disabled,
        networks,
        volumes,
        warnings,
    })
}

fn valid_service_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

/// A service with `extends` applied (recursively; cycles refused).
fn extends(
    name: &str,
    node: &Node,
    services: &[(String, Node)],
    dir: &Path,
    vars: &Vars,
    seen: &mut Vec<String>,
) -> Result<Node> {
    let Some(ext) = node.get("extends") else {
        return Ok(node.clone());
    };
    let p = format!("services.{name}.extends");
    let (base_name, file) = match &ext.value {
        Value::Scalar { text, .. } => (text.clone(), None),
        Value::Map(m) => {
            let mut svc = None;
            let mut file = None;
            for (k, v) in m {
                match k.as_str().unwrap_or("") {
                    "service" => svc = Some(spec::text(v, &p)?),
                    "file" => file = Some(spec::text(v, &p)?),
                    other => {
                        return Err(k.error(
                            &p,
                            format!("unknown key {other:?}: extends takes service and file"),
                        ))
                    }
                }
            }
            (
                svc.ok_or_else(|| ext.error(&p, "extends needs a service"))?,
                file,
            )
        }
        _ => return Err(ext.error(&p, "extends takes a service name or {service, file}")),
    };
    let tag = format!("{}:{base_name}", file.as_deref().unwrap_or(""));
    if seen.contains(&tag) {
        return Err(ext.error(&p, format!("extends loops back to {base_name}")));
    }
    seen.push(tag);
    let base = match &file {
        None => {
            let b = services
                .iter()
                .find(|(n, _)| *n == base_name)
                .map(|(_, n)| n.clone())
                .ok_or_else(|| ext.error(&p, format!("service {base_name:?} is not defined")))?;
            extends(&base_name, &b, services, dir, vars, seen)?
        }
        Some(f) => {
            let path = dir.join(f);
            let other = load_file(&path, vars)?;
            let others: Vec<(String, Node)> = other
                .get("services")
                .and_then(Node::as_map)
                .unwrap_or(&[])
                .iter()
                .map(|(k, v)| (k.as_str().unwrap_or("").to_string(), v.clone()))
                .collect();
            let b = others
                .iter()
                .find(|(n, _)| *n == base_name)
                .map(|(_, n)| n.clone())
                .ok_or_else(|| {
                    ext.error(
                        &p,
                        format!("service {base_name:?} is not defined in {}", path.display()),
                    )
                })?;
            let d = path
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| dir.to_path_buf());
            extends(&base_name, &b, &others, &d, vars, seen)?
        }
    };
    // The base without what is never inherited, then this service over it.
    let mut base = base;
    if let Value::Map(m) = &mut base.value {
        m.retain(|(k, _)| !matches!(k.as_str(), Some("depends_on" | "extends" | "profiles")));
    }
    let mut own = node.clone();
    if let Value::Map(m) = &mut own.value {
        m.retain(|(k, _)| k.as_str() != Some("extends"));
    }
    Ok(merge(base, own, ""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn opts(dir: &Path, files: &[PathBuf]) -> LoadOptions {
        LoadOptions {
            files: files.to_vec(),
            cwd: dir.to_path_buf(),
            ..Default::default()
        }
    }

    #[test]
    fn files_merge_env_interpolates_and_extends() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("My App");
        std::fs::create_dir(&d).unwrap();
        write(&d, ".env", "TAG=1.2\nPORT=8080\n");
        let a = write(
            &d,
            "compose.yaml",
            "x-common: &common\n  restart: always\n  labels: [team=a]\nservices:\n  base:\n    image: busybox\n    environment: [A=1]\n    profiles: [tools]\n  web:\n    <<: *common\n    extends: base\n    image: demo:${TAG}\n    ports: [\"${PORT}:80\"]\n    environment:\n      B: \"2\"\n    depends_on: [db]\n  db:\n    image: db\n    volumes: [data:/var/lib/db, ./conf:/etc/db:ro]\nvolumes:\n  data: {}\n",
        );
        let b = write(
            &d,
            "override.yaml",
            "services:\n  web:\n    environment: [B=3]\n    ports: [\"9090:90\"]\n",
        );
        let p = load(&opts(&d, &[a, b])).unwrap();
        assert_eq!(p.name, "myapp");
        let web = &p.services["web"];
        assert_eq!(web.image.as_deref(), Some("demo:1.2"));
        assert_eq!(web.environment, ["A=1", "B=3"]);
        assert_eq!(web.ports.len(), 2);
        assert_eq!(web.labels["team"], "a");
        assert!(
            web.profiles.is_empty(),
            "a base's profiles are not inherited"
        );
        assert!(p.disabled.contains_key("base"));
        let db = &p.services["db"];
        assert_eq!(db.volumes[0].mount.source, "data");
        assert_eq!(
            db.volumes[1].mount.source,
            d.join("conf").display().to_string()
        );
        assert!(db.volumes[1].mount.read_only);
        assert_eq!(p.volumes["data"].name, "myapp_data");
        assert_eq!(p.networks["default"].name, "myapp_default");
    }

    #[test]
    fn refusals_name_file_line_and_key() {
        let t = tempfile::tempdir().unwrap();
        let f = write(
            t.path(),
            "c.yaml",
            "services:\n  web:\n    image: x\n    secrets: [a]\n",
        );
        let e = load(&opts(t.path(), &[f])).unwrap_err().message;
        assert!(
            e.contains("c.yaml:4:5: services.web.secrets: secrets is not supported"),
            "{e}"
        );
        let f = write(
            t.path(),
            "c.yaml",
            "services:\n  web:\n    image: x\n    imagee: y\n",
        );
        let e = load(&opts(t.path(), &[f])).unwrap_err().message;
        assert!(
            e.contains("c.yaml:4:5: services.web.imagee: unknown key"),
            "{e}"
        );
        let f = write(
            t.path(),
            "c.yaml",
            "services:\n  web:\n    image: x\n    ports: [\"99999:80\"]\n",
        );
        let e = load(&opts(t.path(), &[f])).unwrap_err().message;
        assert!(e.contains("c.yaml:4:13: services.web.ports[0]"), "{e}");
        let f = write(
            t.path(),
            "c.yaml",
            "services:\n  web:\n    image: \"${IMG:?give an image}\"\n",
        );
        let e = load(&opts(t.path(), &[f])).unwrap_err().message;
        assert!(e.contains("c.yaml:3:12: services.web.image: required variable IMG is missing a value: give an image"), "{e}");
        let f = write(
            t.path(),
            "c.yaml",
            "services:\n  web:\n    image: x\n    networks: [nope]\n",
        );
        let e = load(&opts(t.path(), &[f])).unwrap_err().message;
        assert!(e.contains("undefined network \"nope\""), "{e}");
        let f = write(t.path(), "c.yaml", "services:\n  web:\n    image: x\n    deploy:\n      resources:\n        reservations: {}\n");
        let e = load(&opts(t.path(), &[f])).unwrap_err().message;
        assert!(e.contains("c.yaml:6:9: services.web.deploy.resources.reservations: reservations is not supported"), "{e}");
    }

    #[test]
    fn profiles_and_names() {
        assert_eq!(normalize_name("My_App-2!"), "my_app-2");
        let t = tempfile::tempdir().unwrap();
        let f = write(
            t.path(),
            "c.yaml",
            "name: demo\nservices:\n  a: {image: x}\n  b: {image: x, profiles: [debug]}\n",
        );
        let mut o = opts(t.path(), &[f]);
        let p = load(&o).unwrap();
        assert_eq!(p.name, "demo");
        assert_eq!(p.services.keys().collect::<Vec<_>>(), ["a"]);
        o.profiles = vec!["debug".into()];
        assert_eq!(load(&o).unwrap().services.len(), 2);
        o.project_name = Some("Bad Name".into());
        assert!(load(&o).is_err());
    }
}

#[cfg(test)]
mod config_tests {
    use super::*;

    #[test]
    fn the_resolved_file_reads_back_as_the_same_project() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("compose.yaml");
        std::fs::write(
            &f,
            "name: rt\nservices:\n  web:\n    image: demo\n    command: [sh, -c, 'echo \"hi: there\"']\n    environment: {A: '1', B: ''}\n    ports: ['127.0.0.1:8080:80/udp', '9000']\n    expose: [7000]\n    volumes: [data:/data:ro, ./src:/src, {type: tmpfs, target: /run, tmpfs: {size: 64m}}]\n    networks: {front: {aliases: [www], ipv4_address: 10.9.0.5}}\n    depends_on: {db: {condition: service_healthy}}\n    healthcheck: {test: ['CMD', 'true'], interval: 1500ms, retries: 2}\n    restart: on-failure:3\n    ulimits: {nofile: {soft: 100, hard: 200}}\n    deploy: {replicas: 2, resources: {limits: {cpus: '0.5', memory: 64m}}}\n    stop_grace_period: 3s\n    labels: [a=b]\n    logging: {driver: json-file, options: {max-size: 1m, max-file: '2'}}\n  db:\n    image: demo\n    network_mode: none\n    healthcheck: {disable: true}\nnetworks:\n  front: {internal: true, ipam: {config: [{subnet: 10.9.0.0/24}]}}\nvolumes:\n  data: {external: true}\n",
        )
        .unwrap();
        let o = LoadOptions {
            files: vec![f],
            cwd: t.path().to_path_buf(),
            ..Default::default()
        };
        let p = load(&o).unwrap();
        let text = yaml::to_yaml(&p.to_compose());
        let g = t.path().join("again.yaml");
        std::fs::write(&g, &text).unwrap();
        let q = load(&LoadOptions {
            files: vec![g.clone()],
            project_dir: Some(t.path().to_path_buf()),
            ..o
        })
        .unwrap();
        assert_eq!(p.services, q.services, "{text}");
        assert_eq!(p.networks, q.networks, "{text}");
        assert_eq!(p.volumes, q.volumes, "{text}");
    }
}
