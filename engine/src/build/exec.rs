//! Running a build: the stages the target needs, in order, each instruction a step
//! whose result is an image (as the classic builder makes them), looked up in the cache
//! first. RUN, COPY, ADD and WORKDIR act in containers made through the container calls;
//! the other instructions only change the config.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use super::cache::{self, Cache, Record};
use super::context::{self, Context, Owner, Source};
use super::instructions::{self, CmdLine, CopySpec, HealthSpec, Instr, Instruction, Plan};
use super::parser;
use super::shell;
use crate::api::{
    BuildContext, BuildEvent, BuildOptions, BuildResult, ContainerApi, ContainerCreate,
    HealthConfig, RemoveOptions, ToolboxApi,
};
use crate::caller::Caller;
use crate::error::{EngineError, ErrorKind, IoContext, Result};
use crate::image::store::{ImageIndex, NewImage, MAX_JSON};
use crate::image::Reference;
use crate::LocalEngine;

/// Build arguments every Dockerfile may use without declaring them; kept out of the
/// image's history.
pub const BUILTIN_ARGS: &[&str] = &[
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// How often a running step reports that it still runs.
const TICK: Duration = Duration::from_millis(250);

fn now_rfc() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Go's `%q` of a string.
fn go_quote(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\t' => o.push_str("\\t"),
            '\r' => o.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                o.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// Go's `%q` of a string slice: `["a" "b"]`.
fn go_quote_list(v: &[String]) -> String {
    format!(
        "[{}]",
        v.iter().map(|s| go_quote(s)).collect::<Vec<_>>().join(" ")
    )
}

/// Go's `time.Duration` text: `0s`, `1.5s`, `2m0s`, `500ms`.
pub fn go_duration(ns: i64) -> String {
    if ns == 0 {
        return "0s".into();
    }
    let neg = ns < 0;
    let u = ns.unsigned_abs();
    let s = if u < 1_000_000_000 {
        let (unit, div) = if u < 1_000 {
            ("ns", 1)
        } else if u < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        format!("{}{unit}", frac(u, div))
    } else {
        let h = u / 3_600_000_000_000;
        let m = (u / 60_000_000_000) % 60;
        let rest = u % 60_000_000_000;
        let secs = frac(rest, 1_000_000_000);
        if h > 0 {
            format!("{h}h{m}m{secs}s")
        } else if m > 0 {
            format!("{m}m{secs}s")
        } else {
            format!("{secs}s")
        }
    };
    if neg {
        format!("-{s}")
    } else {
        s
    }
}

fn frac(v: u64, div: u64) -> String {
    let whole = v / div;
    let mut f = v % div;
    if f == 0 {
        return whole.to_string();
    }
    let mut digits = div.to_string().len() - 1;
    while f % 10 == 0 {
        f /= 10;
        digits -= 1;
    }
    format!("{whole}.{f:0digits$}")
}

/// Go's `%q` of an int (a quoted rune).
fn go_rune(n: i64) -> String {
    match u32::try_from(n).ok().and_then(char::from_u32) {
        Some('\'') => "'\\''".into(),
        Some('\\') => "'\\\\'".into(),
        Some(c) if (' '..='~').contains(&c) => format!("'{c}'"),
        _ if (0..0x80).contains(&n) => format!("'\\x{n:02x}'"),
        _ => format!("'\\u{n:04x}'"),
    }
}

/// An image's layers: (blob digest, media type).
type Layers = Vec<(String, Option<String>)>;

/// What writes a step's files: the tar to put into the container (or, on an empty
/// stage, the layer itself).
type FilesFn = Box<dyn FnOnce(&mut Builder<'_>, &St, Option<&str>) -> Result<Option<PathBuf>>>;

/// A container made for a step, removed when dropped (whatever happened).
struct StepContainer<'a> {
    eng: &'a LocalEngine,
    caller: &'a Caller,
    id: String,
    removed: bool,
}

impl StepContainer<'_> {
    fn remove(&mut self) -> Result<()> {
        if self.removed {
            return Ok(());
        }
        self.removed = true;
        self.eng.container_remove(
            self.caller,
            &self.id,
            RemoveOptions {
                force: true,
                volumes: true,
            },
        )
    }
}

impl Drop for StepContainer<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.remove() {
            tracing::warn!("could not remove build container {}: {e}", self.id);
        }
    }
}

/// A stage's state between steps.
#[derive(Clone)]
struct St {
    /// The current image (`""` for scratch before any step).
    image: String,
    /// Its config JSON.
    img: Value,
    /// Layers of the current image: (blob, media type).
    layers: Vec<(String, Option<String>)>,
    /// CMD was set in this stage (ENTRYPOINT then keeps it).
    cmd_set: bool,
    /// ARGs declared in the stage, with their values.
    args: Vec<(String, Option<String>)>,
    /// The stage's name (or number) for events.
    name: String,
}

impl St {
    fn cfg(&mut self) -> &mut Map<String, Value> {
        if !self.img.get("config").is_some_and(Value::is_object) {
            self.img["config"] = json!({});
        }
        self.img["config"]
            .as_object_mut()
            .expect("config is an object")
    }
    fn get(&self, k: &str) -> &Value {
        &self.img["config"][k]
    }
    fn env(&self) -> Vec<String> {
        self.get("Env")
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }
    fn shell(&self) -> Vec<String> {
        match self.get("Shell").as_array() {
            Some(a) if !a.is_empty() => a
                .iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect(),
            _ => vec!["/bin/sh".into(), "-c".into()],
        }
    }
    fn workdir(&self) -> String {
        self.get("WorkingDir").as_str().unwrap_or("").to_string()
    }
    /// ARGs with values, for expansion (ENV wins over them).
    fn arg_env(&self) -> Vec<String> {
        self.args
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
            .collect()
    }
    /// Variables for expansion: ARGs, then ENV.
    fn vars(&self) -> Vec<String> {
        let mut v = self.arg_env();
        v.extend(self.env());
        v
    }
}

/// Docker's config with every field it writes.
fn normalize_config(c: &mut Map<String, Value>) {
    for (k, v) in [
        ("Hostname", json!("")),
        ("Domainname", json!("")),
        ("User", json!("")),
        ("AttachStdin", json!(false)),
        ("AttachStdout", json!(false)),
        ("AttachStderr", json!(false)),
        ("Tty", json!(false)),
        ("OpenStdin", json!(false)),
        ("StdinOnce", json!(false)),
        ("Env", Value::Null),
        ("Cmd", Value::Null),
        ("Image", json!("")),
        ("Volumes", Value::Null),
        ("WorkingDir", json!("")),
        ("Entrypoint", Value::Null),
        ("OnBuild", Value::Null),
        ("Labels", Value::Null),
    ] {
        c.entry(k).or_insert(v);
    }
}

/// The next step's source of files for COPY/ADD.
enum Src {
    Ctx(Source),
    /// COPY --from: a tar of the path (entries named from its base name).
    Image {
        tar: PathBuf,
        stat: crate::api::PathStat,
    },
    Heredoc {
        name: String,
        content: String,
    },
}

struct Builder<'a> {
    /// Containers of finished RUN steps being removed.
    removals: Vec<std::thread::JoinHandle<Result<()>>>,
    eng: &'a LocalEngine,
    caller: &'a Caller,
    opts: &'a BuildOptions,
    sink: &'a mut dyn FnMut(BuildEvent) -> bool,
    ctx: Context,
    /// Temporary files of this build (removed at the end).
    tmp: PathBuf,
    escape: char,
    total: usize,
    step: usize,
    cache: Cache,
    cache_idx: cache::Index,
    images: ImageIndex,
    used: Vec<String>,
    cached: usize,
    /// The image each built stage ended on.
    stage_images: BTreeMap<usize, String>,
    /// Build args some ARG declared.
    consumed: BTreeSet<String>,
    step_start: Instant,
    /// The global ARGs (a stage's `ARG NAME` without a value takes their value).
    meta: Vec<(String, Option<String>)>,
}

/// Remove the build's temporary directory at the end.
struct TmpDir(PathBuf);
impl Drop for TmpDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Run a build (the permission was checked by the caller).
pub fn build(
    eng: &LocalEngine,
    caller: &Caller,
    opts: &BuildOptions,
    context: BuildContext<'_>,
    sink: &mut dyn FnMut(BuildEvent) -> bool,
) -> Result<BuildResult> {
    if opts.pull {
        return Err(EngineError::invalid(
            "--pull: wharf builds offline and never pulls; load or pull the base images first (wharf load, wharf pull), then build without --pull",
        ));
    }
    if let Some(p) = opts.platform.as_deref().filter(|p| !p.is_empty()) {
        check_platform(p)?;
    }
    let mut tags = Vec::new();
    for t in &opts.tags {
        let r = Reference::parse(t).map_err(|e| e.context(format!("-t {t}")))?;
        if r.digest.is_some() {
            return Err(EngineError::invalid(format!(
                "-t {t}: a tag cannot contain a digest; write NAME[:TAG]"
            )));
        }
        super::check_image_ref(eng, caller, "tag", t)?;
        tags.push(r.to_string());
    }
    let tmp = eng.root().staging_dir("build")?;
    let _tmp_guard = TmpDir(tmp.clone());
    let ctx = match context {
        BuildContext::Dir(d) => Context::from_dir(&d)?,
        BuildContext::Tar(r) => Context::from_tar(r, tmp.join("context"))?,
        BuildContext::Empty => Context::empty(tmp.join("context"))?,
    };
    let text = match &opts.dockerfile_content {
        Some(t) => {
            if t.len() as u64 > parser::MAX_DOCKERFILE {
                return Err(EngineError::invalid("the Dockerfile is larger than 16 MiB"));
            }
            t.clone()
        }
        None => ctx.read_file(
            if opts.dockerfile.is_empty() {
                "Dockerfile"
            } else {
                &opts.dockerfile
            },
            parser::MAX_DOCKERFILE,
        )?,
    };
    let df = parser::parse(&text)?;
    let plan = instructions::plan(&df)?;
    let cache = Cache::new(eng.root());
    let cache_idx = if opts.no_cache {
        cache::Index::default()
    } else {
        cache.read()?
    };
    let images = eng.image_store().index()?;
    let mut b = Builder {
        removals: vec![],
        eng,
        caller,
        opts,
        sink,
        ctx,
        tmp,
        escape: plan.escape,
        total: 0,
        step: 0,
        cache,
        cache_idx,
        images,
        used: vec![],
        cached: 0,
        stage_images: BTreeMap::new(),
        consumed: BTreeSet::new(),
        step_start: Instant::now(),
        meta: vec![],
    };
    let mut res = b.run(&plan, &tags);
    for h in std::mem::take(&mut b.removals) {
        let r = h
            .join()
            .unwrap_or_else(|_| Err(EngineError::internal("removing a build container panicked")));
        if let (Err(e), true) = (r, res.is_ok()) {
            res = Err(e.context("removing a step's container"));
        }
    }
    let now = now_secs();
    if let Err(e) = b.cache.update(vec![], &b.used, now) {
        tracing::warn!("could not mark the build cache's records used: {e}");
    }
    res
}

fn check_platform(p: &str) -> Result<()> {
    let host = format!("linux/{}", crate::image::build::host_arch());
    let p = p.trim();
    if p == host || p == "linux" || p.starts_with(&format!("{host}/")) {
        return Ok(());
    }
    Err(EngineError::invalid(format!(
        "--platform {p}: wharf builds for this host only ({host}); building for another platform needs emulation, which wharf does not do"
    )))
}

impl Builder<'_> {
    fn emit(&mut self, ev: BuildEvent) -> Result<()> {
        if (self.sink)(ev) {
            Ok(())
        } else {
            Err(EngineError::new(
                ErrorKind::Conflict,
                "the build was cancelled",
            ))
        }
    }

    fn run(&mut self, plan: &Plan, tags: &[String]) -> Result<BuildResult> {
        // Global ARGs: defaults expanded with the earlier ones, --build-arg wins.
        let mut meta: Vec<(String, Option<String>)> = Vec::new();
        for i in &plan.meta_args {
            if let Instr::Arg(list) = &i.instr {
                for (k, v) in list {
                    let env: Vec<String> = meta
                        .iter()
                        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
                        .collect();
                    let def = match v {
                        Some(v) => Some(
                            shell::process_word(v, &env, self.escape)
                                .map_err(|e| i.node.err(e.message))?,
                        ),
                        None => None,
                    };
                    let val = self.opts.build_args.get(k).cloned().or(def);
                    self.consumed.insert(k.clone());
                    meta.push((k.clone(), val));
                }
            }
        }
        self.meta = meta.clone();
        let meta_env: Vec<String> = meta
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
            .collect();
        // Stage bases (expanded) and the stages the target needs.
        let mut bases = Vec::new();
        for s in &plan.stages {
            let Instr::From {
                image, platform, ..
            } = &s.from.instr
            else {
                unreachable!("a stage begins with FROM")
            };
            let img = shell::process_word(image, &meta_env, self.escape)
                .map_err(|e| s.from.node.err(e.message))?;
            if let Some(p) = platform {
                let mut env = meta_env.clone();
                let host = format!("linux/{}", crate::image::build::host_arch());
                env.insert(0, format!("BUILDPLATFORM={host}"));
                env.insert(0, format!("TARGETPLATFORM={host}"));
                let p = shell::process_word(p, &env, self.escape)
                    .map_err(|e| s.from.node.err(e.message))?;
                check_platform(&p).map_err(|e| s.from.node.err(e.message))?;
            }
            if img.is_empty() {
                return Err(s
                    .from
                    .node
                    .err("base name should not be blank (is an ARG without a value used?)"));
            }
            bases.push(img);
        }
        let stage_of = |name: &str, before: usize| -> Option<usize> {
            let lname = name.to_ascii_lowercase();
            plan.stages[..before]
                .iter()
                .find(|s| s.name.as_deref() == Some(lname.as_str()))
                .map(|s| s.index)
                .or_else(|| name.parse::<usize>().ok().filter(|n| *n < before))
        };
        let target = match &self.opts.target {
            Some(t) if !t.is_empty() => plan
                .stages
                .iter()
                .find(|s| s.name.as_deref() == Some(t.to_ascii_lowercase().as_str()))
                .map(|s| s.index)
                .ok_or_else(|| {
                    EngineError::invalid(format!(
                        "failed to reach build target {t} in Dockerfile: no stage is named {t}"
                    ))
                })?,
            _ => plan.stages.len() - 1,
        };
        let mut need = BTreeSet::new();
        let mut todo = vec![target];
        while let Some(i) = todo.pop() {
            if !need.insert(i) {
                continue;
            }
            let s = &plan.stages[i];
            if let Some(d) = stage_of(&bases[i], i) {
                todo.push(d);
            }
            for ins in &s.instrs {
                if let Instr::Copy(c) = &ins.instr {
                    if let Some(f) = &c.from {
                        if let Some(d) = stage_of(f, i) {
                            todo.push(d);
                        }
                    }
                }
            }
        }
        let labels: Vec<(String, String)> = self
            .opts
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        self.total = need
            .iter()
            .map(|i| plan.stages[*i].instrs.len() + 1)
            .sum::<usize>()
            + labels.len();
        let mut last = String::new();
        for &i in &need {
            let stage = &plan.stages[i];
            let mut st = self.from(stage, &bases[i], stage_of(&bases[i], i))?;
            for ins in &stage.instrs {
                self.step(&mut st, ins, true, &stage_of_fn(plan, i))?;
            }
            if i == target {
                for (k, v) in &labels {
                    let node = parser::Node {
                        line: 0,
                        cmd: "LABEL".into(),
                        flags: vec![],
                        rest: String::new(),
                        original: format!("LABEL {k}={v}"),
                        heredocs: vec![],
                    };
                    self.begin(&st.name, &node.original)?;
                    let c = st.cfg();
                    if !c.get("Labels").is_some_and(Value::is_object) {
                        c.insert("Labels".into(), json!({}));
                    }
                    c["Labels"][k] = json!(v);
                    self.meta_step(&mut st, &format!("LABEL {k}={v}"))?;
                }
            }
            self.stage_images.insert(i, st.image.clone());
            last = st.image.clone();
            if i == target {
                break;
            }
        }
        if last.is_empty() {
            return Err(EngineError::invalid("the build made no image: a stage FROM scratch needs at least one instruction that adds files"));
        }
        let unused: Vec<&String> = self
            .opts
            .build_args
            .keys()
            .filter(|k| !self.consumed.contains(*k) && !BUILTIN_ARGS.contains(&k.as_str()))
            .collect();
        if !unused.is_empty() {
            let list = unused
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            self.emit(BuildEvent::Message {
                text: format!("[Warning] One or more build-args [{list}] were not consumed"),
            })?;
        }
        self.eng.tag_built(&last, tags)?;
        self.emit(BuildEvent::Done {
            image_id: last.clone(),
            tags: tags.to_vec(),
        })?;
        Ok(BuildResult {
            image_id: last,
            tags: tags.to_vec(),
            steps: self.step,
            cached: self.cached,
        })
    }

    /// Start a step: its event.
    fn begin(&mut self, stage: &str, original: &str) -> Result<()> {
        self.step += 1;
        self.step_start = Instant::now();
        let ev = BuildEvent::Step {
            index: self.step,
            total: self.total,
            stage: stage.to_string(),
            instruction: original.to_string(),
        };
        self.emit(ev)
    }

    fn done(&mut self, image: &str, removed: Option<String>) -> Result<()> {
        let ev = BuildEvent::StepDone {
            index: self.step,
            image_id: image.to_string(),
            removed_container: removed,
            elapsed_ms: self.step_start.elapsed().as_millis() as u64,
        };
        self.emit(ev)
    }

    /// The config of image `id` and its layers.
    fn load(&self, id: &str) -> Result<(Value, Layers)> {
        let store = self.eng.image_store();
        let rec = self.images.images.get(id).ok_or_else(|| {
            EngineError::not_found("image", id, "it was removed during the build; build again")
        })?;
        let cfg: Value = serde_json::from_slice(&store.read_blob(id, MAX_JSON)?)
            .map_err(|e| EngineError::corrupt(format!("the config of image {id}: {e}")))?;
        Ok((
            cfg,
            rec.layers
                .iter()
                .map(|l| (l.blob.clone(), Some(l.media_type.clone())))
                .collect(),
        ))
    }

    fn from(
        &mut self,
        stage: &instructions::Stage,
        base: &str,
        from_stage: Option<usize>,
    ) -> Result<St> {
        let name = stage
            .name
            .clone()
            .unwrap_or_else(|| stage.index.to_string());
        self.begin(&name, &stage.from.node.original)?;
        let node = &stage.from.node;
        let (image, img, layers) = if let Some(d) = from_stage {
            let id = self.stage_images.get(&d).cloned().unwrap_or_default();
            if id.is_empty() {
                (String::new(), scratch_config(), vec![])
            } else {
                let (c, l) = self.load(&id)?;
                (id, c, l)
            }
        } else if base.eq_ignore_ascii_case("scratch") {
            (String::new(), scratch_config(), vec![])
        } else {
            super::check_image_ref(self.eng, self.caller, "build from", base)
                .map_err(|e| e.context(format!("FROM {base}")))?;
            let idx = &self.images;
            let id = find_image(idx, base).ok_or_else(|| {
                node.err(format!(
                    "the image {base} is not here, and wharf builds offline: load it (wharf load) or pull it (wharf pull) first"
                ))
            })?;
            let (c, l) = self.load(&id)?;
            (id, c, l)
        };
        let mut st = St {
            image,
            img,
            layers,
            cmd_set: false,
            args: vec![],
            name,
        };
        // The author is the stage's own MAINTAINER, never the base image's.
        if let Some(o) = st.img.as_object_mut() {
            o.remove("author");
        }
        {
            let c = st.cfg();
            normalize_config(c);
            // A stage without PATH (FROM scratch) gets the default one, as Docker's.
            let has_path = c.get("Env").and_then(Value::as_array).is_some_and(|a| {
                a.iter()
                    .any(|e| e.as_str().is_some_and(|e| e.starts_with("PATH=")))
            });
            if !has_path {
                let mut env: Vec<Value> = c
                    .get("Env")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                env.insert(
                    0,
                    json!("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
                );
                c.insert("Env".into(), Value::Array(env));
            }
        }
        if !st.image.is_empty() {
            self.emit(BuildEvent::StepDone {
                index: self.step,
                image_id: st.image.clone(),
                removed_container: None,
                elapsed_ms: self.step_start.elapsed().as_millis() as u64,
            })?;
        }
        // The base's ONBUILD triggers run now, and are not passed on.
        let triggers: Vec<String> = st
            .get("OnBuild")
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        if !triggers.is_empty() {
            let n = triggers.len();
            self.emit(BuildEvent::Message {
                text: format!(
                    "# Executing {n} build trigger{}",
                    if n == 1 { "" } else { "s" }
                ),
            })?;
            st.cfg().insert("OnBuild".into(), Value::Null);
            for t in triggers {
                let df = parser::parse(&t)
                    .map_err(|e| node.err(format!("ONBUILD trigger {t:?}: {}", e.message)))?;
                for n in &df.nodes {
                    let instr = instructions::instruction(n, self.escape)
                        .map_err(|e| node.err(format!("ONBUILD trigger {t:?}: {}", e.message)))?;
                    let ins = Instruction {
                        node: n.clone(),
                        instr,
                    };
                    self.step(&mut st, &ins, false, &|_| None)?;
                }
            }
        }
        Ok(st)
    }
}

fn stage_of_fn(plan: &Plan, before: usize) -> impl Fn(&str) -> Option<usize> + '_ {
    move |name: &str| {
        let lname = name.to_ascii_lowercase();
        plan.stages[..before]
            .iter()
            .find(|s| s.name.as_deref() == Some(lname.as_str()))
            .map(|s| s.index)
            .or_else(|| name.parse::<usize>().ok().filter(|n| *n < before))
    }
}

fn scratch_config() -> Value {
    json!({
        "architecture": crate::image::build::host_arch(),
        "os": "linux",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": []},
        "history": [],
    })
}

/// Find a local image by reference or id in the index, as every other image call does.
fn find_image(idx: &ImageIndex, name: &str) -> Option<String> {
    crate::image::find(idx, name).ok().map(|f| f.id)
}

/// How a step changes the file system.
enum Fs {
    /// A RUN command.
    Run {
        cmd: Vec<String>,
        env: Vec<String>,
        network: String,
    },
    /// Files into the image: COPY, ADD, WORKDIR.
    Files(FilesFn),
}

impl Builder<'_> {
    /// One instruction: `counted` ones are steps with their own event (ONBUILD
    /// triggers run inside the FROM step).
    fn step(
        &mut self,
        st: &mut St,
        ins: &Instruction,
        counted: bool,
        stage_of: &dyn Fn(&str) -> Option<usize>,
    ) -> Result<()> {
        let node = &ins.node;
        if counted {
            let name = st.name.clone();
            self.begin(&name, &node.original)?;
        }
        let esc = self.escape;
        let vars = st.vars();
        let word = |w: &str| shell::process_word(w, &vars, esc).map_err(|e| node.err(e.message));
        match &ins.instr {
            Instr::From { .. } => Err(node.err("FROM inside a stage")),
            Instr::Env(pairs) => {
                let mut env = st.env();
                let mut parts = Vec::new();
                for (k, v) in pairs {
                    let k = word(k)?;
                    let v = word(v)?;
                    env.retain(|e| e.split('=').next() != Some(k.as_str()));
                    env.push(format!("{k}={v}"));
                    parts.push(format!("{k}={v}"));
                }
                st.cfg().insert("Env".into(), json!(env));
                self.meta_step(st, &format!("ENV {}", parts.join(" ")))
            }
            Instr::Label(pairs) => {
                let mut parts = Vec::new();
                let c = st.cfg();
                if !c.get("Labels").is_some_and(Value::is_object) {
                    c.insert("Labels".into(), json!({}));
                }
                for (k, v) in pairs {
                    let k = word(k)?;
                    let v = word(v)?;
                    st.cfg()["Labels"][&k] = json!(v);
                    parts.push(format!("{k}={v}"));
                }
                self.meta_step(st, &format!("LABEL {}", parts.join(" ")))
            }
            Instr::Maintainer(m) => {
                st.img["author"] = json!(m);
                self.meta_step(st, &format!("MAINTAINER {m}"))
            }
            Instr::Cmd(c) => {
                let cmd = self.cmd_of(st, c);
                st.cfg().insert("Cmd".into(), json!(cmd));
                st.cmd_set = true;
                self.meta_step(st, &format!("CMD {}", go_quote_list(&cmd)))
            }
            Instr::Entrypoint(c) => {
                let ep = self.cmd_of(st, c);
                st.cfg().insert("Entrypoint".into(), json!(ep));
                if !st.cmd_set {
                    st.cfg().insert("Cmd".into(), Value::Null);
                }
                self.meta_step(st, &format!("ENTRYPOINT {}", go_quote_list(&ep)))
            }
            Instr::Expose(ports) => {
                let mut all = Vec::new();
                for p in ports {
                    all.extend(
                        shell::process_words(p, &vars, esc).map_err(|e| node.err(e.message))?,
                    );
                }
                let c = st.cfg();
                if !c.get("ExposedPorts").is_some_and(Value::is_object) {
                    c.insert("ExposedPorts".into(), json!({}));
                }
                for p in &all {
                    for key in expose_keys(p).map_err(|e| node.err(e))? {
                        st.cfg()["ExposedPorts"][key] = json!({});
                    }
                }
                // Docker's history lists the ports sorted.
                let mut shown = all.clone();
                shown.sort();
                self.meta_step(st, &format!("EXPOSE {}", shown.join(" ")))
            }
            Instr::Volume(vols) => {
                let mut out = Vec::new();
                for v in vols {
                    let v = word(v)?;
                    if v.trim().is_empty() {
                        return Err(node.err("VOLUME specified can not be an empty string"));
                    }
                    out.push(v);
                }
                let c = st.cfg();
                if !c.get("Volumes").is_some_and(Value::is_object) {
                    c.insert("Volumes".into(), json!({}));
                }
                for v in &out {
                    st.cfg()["Volumes"][v] = json!({});
                }
                self.meta_step(st, &format!("VOLUME [{}]", out.join(" ")))
            }
            Instr::User(u) => {
                let u = word(u)?;
                st.cfg().insert("User".into(), json!(u));
                self.meta_step(st, &format!("USER {u}"))
            }
            Instr::Stopsignal(s) => {
                let s = word(s)?;
                crate::api::flags::parse_signal(&s)
                    .map_err(|e| node.err(format!("STOPSIGNAL: {}", e.message)))?;
                st.cfg().insert("StopSignal".into(), json!(s));
                self.meta_step(st, &format!("STOPSIGNAL {s}"))
            }
            Instr::Onbuild(t) => {
                let c = st.cfg();
                let mut list: Vec<Value> = c
                    .get("OnBuild")
                    .and_then(|v| v.as_array())
                    .cloned()
                    .unwrap_or_default();
                // The trigger's instruction word in upper case, as Docker stores it.
                let (w, rest) = t.split_once(char::is_whitespace).unwrap_or((t, ""));
                let trig = format!("{} {}", w.to_ascii_uppercase(), rest.trim());
                list.push(json!(trig.trim()));
                c.insert("OnBuild".into(), Value::Array(list));
                self.meta_step(st, &format!("ONBUILD {}", trig.trim()))
            }
            Instr::Healthcheck(h) => {
                let (v, text) = health_json(h.as_ref());
                st.cfg().insert("Healthcheck".into(), v);
                self.meta_step(st, &format!("HEALTHCHECK {text}"))
            }
            Instr::Shell(v) => {
                st.cfg().insert("Shell".into(), json!(v));
                self.meta_step(st, &format!("SHELL [{}]", v.join(" ")))
            }
            Instr::Arg(list) => {
                let mut parts = Vec::new();
                for (k, v) in list {
                    let def = match v {
                        Some(v) => Some(word(v)?),
                        None => self
                            .meta
                            .iter()
                            .find(|(m, _)| m == k)
                            .and_then(|(_, v)| v.clone()),
                    };
                    let val = self.opts.build_args.get(k).cloned().or(def.clone());
                    self.consumed.insert(k.clone());
                    st.args.retain(|(a, _)| a != k);
                    st.args.push((k.clone(), val));
                    parts.push(match v {
                        Some(_) => format!("{k}={}", def.unwrap_or_default()),
                        None => k.clone(),
                    });
                }
                self.meta_step(st, &format!("ARG {}", parts.join(" ")))
            }
            Instr::Workdir(w) => {
                let w = word(w)?;
                let dir = normalize_workdir(&st.workdir(), &w);
                st.cfg().insert("WorkingDir".into(), json!(dir));
                let d = dir.clone();
                self.fs_step(
                    st,
                    &format!("#(nop) WORKDIR {dir}"),
                    Fs::Files(Box::new(
                        move |b: &mut Builder<'_>, st: &St, ctr: Option<&str>| {
                            b.make_dirs(st, ctr, &d)
                        },
                    )),
                    vec![],
                )
            }
            Instr::Run { cmd, network } => {
                let cmd = self.cmd_of(st, cmd);
                let env_keys: BTreeSet<String> = st
                    .env()
                    .iter()
                    .map(|e| e.split('=').next().unwrap_or("").to_string())
                    .collect();
                // Build args the RUN sees: declared ones with values, and the predefined
                // ones given with --build-arg; ENV of the same name wins.
                let mut args: BTreeMap<String, String> = BTreeMap::new();
                for (k, v) in &st.args {
                    if let Some(v) = v {
                        args.insert(k.clone(), v.clone());
                    }
                }
                for b in BUILTIN_ARGS {
                    if let Some(v) = self.opts.build_args.get(*b) {
                        args.entry(b.to_string()).or_insert_with(|| v.clone());
                    }
                }
                args.retain(|k, _| !env_keys.contains(k));
                let env: Vec<String> = args.iter().map(|(k, v)| format!("{k}={v}")).collect();
                let mut save = cmd.clone();
                if !args.is_empty() {
                    let shown: Vec<String> = args
                        .iter()
                        .filter(|(k, _)| {
                            st.args.iter().any(|(a, _)| a == *k)
                                || !BUILTIN_ARGS.contains(&k.as_str())
                        })
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect();
                    let mut s = vec![format!("|{}", shown.len())];
                    s.extend(shown);
                    s.extend(cmd.clone());
                    save = s;
                }
                let net = network
                    .clone()
                    .or_else(|| self.opts.network.clone())
                    .filter(|n| !n.is_empty() && n != "default")
                    .unwrap_or_else(|| "none".into());
                let extra = vec![format!("network={net}"), env.join("\u{0}")];
                self.fs_step(
                    st,
                    &save.join(" "),
                    Fs::Run {
                        cmd,
                        env,
                        network: net,
                    },
                    extra,
                )
            }
            Instr::Copy(spec) | Instr::Add(spec) => {
                let is_add = matches!(ins.instr, Instr::Add(_));
                self.copy_step(st, spec, is_add, node, stage_of)
            }
        }
    }

    fn cmd_of(&self, st: &St, c: &CmdLine) -> Vec<String> {
        match c {
            CmdLine::Exec(v) => v.clone(),
            CmdLine::Shell(s) => {
                let mut v = st.shell();
                v.push(s.clone());
                v
            }
        }
    }

    /// The cache key of a step from its parts, with the caller's uid first: one user's
    /// step never serves another's (a record names an image its maker built from files
    /// only they may read, and a hit skips the RUN a user expects to run as themselves).
    fn cache_key(&self, parts: &[&str]) -> String {
        let uid = format!("uid:{}", self.caller.uid);
        let mut all: Vec<&str> = Vec::with_capacity(parts.len() + 1);
        all.push(&uid);
        all.extend_from_slice(parts);
        cache::key(&all)
    }

    /// Use the cache for `key` if it has it: the image, and the step is done.
    fn probe(&mut self, st: &mut St, key: &str) -> Result<bool> {
        if self.opts.no_cache {
            return Ok(false);
        }
        let Some(r) = self.cache_idx.records.get(key).cloned() else {
            return Ok(false);
        };
        if r.parent != st.image || !self.images.images.contains_key(&r.image) {
            return Ok(false);
        }
        let (img, layers) = self.load(&r.image)?;
        st.image = r.image.clone();
        st.img = img;
        st.layers = layers;
        self.used.push(key.to_string());
        self.cached += 1;
        self.emit(BuildEvent::Cached { index: self.step })?;
        self.done(&r.image, None)?;
        Ok(true)
    }

    /// The config of the next image: the stage's config, one more history entry.
    fn next_config(
        &self,
        st: &St,
        created_by: &str,
        empty: bool,
        container_cmd: Vec<String>,
    ) -> Value {
        let mut img = st.img.clone();
        let now = now_rfc();
        img["created"] = json!(now);
        if let Some(c) = img.get_mut("config").and_then(Value::as_object_mut) {
            c.insert("Image".into(), json!(st.image));
        }
        let mut cc = img["config"].clone();
        cc["Cmd"] = json!(container_cmd);
        img["container_config"] = cc;
        let mut h = json!({"created": now, "created_by": created_by});
        if let Some(a) = img.get("author").and_then(Value::as_str) {
            h["author"] = json!(a);
        }
        if empty {
            h["empty_layer"] = json!(true);
        }
        match img.get_mut("history").and_then(Value::as_array_mut) {
            Some(a) => a.push(h),
            None => img["history"] = json!([h]),
        }
        if img.get("rootfs").is_none() {
            img["rootfs"] = json!({"type": "layers", "diff_ids": []});
        }
        img
    }

    /// Store the next image (its layer from `layer`, a tar) and move the stage onto it.
    fn commit(
        &mut self,
        st: &mut St,
        img: Value,
        layer: Option<&Path>,
        key: &str,
        created_by: &str,
    ) -> Result<()> {
        let store = self.eng.image_store();
        let mut staging = store.staging("build")?;
        let mut img = img;
        let mut layers = st.layers.clone();
        let mut size = 0;
        if let Some(p) = layer {
            let mut f = std::fs::File::open(p).ctx(|| format!("reading {}", p.display()))?;
            let (blob, n) = staging.put_blob(&mut f, None)?;
            size = n;
            match img["rootfs"]["diff_ids"].as_array_mut() {
                Some(a) => a.push(json!(blob)),
                None => img["rootfs"]["diff_ids"] = json!([blob]),
            }
            layers.push((blob, None));
        }
        let config = serde_json::to_vec(&img)
            .map_err(|e| EngineError::internal(format!("encoding the image config: {e}")))?;
        let ni = NewImage {
            config,
            manifest: None,
            layers,
            tags: vec![],
            repo_digests: vec![],
        };
        store.prepare(&mut staging, &ni)?;
        let done = store.commit(staging, std::slice::from_ref(&ni))?;
        let id = done
            .into_iter()
            .next()
            .map(|c| c.id)
            .ok_or_else(|| EngineError::internal("the step made no image"))?;
        self.images = store.index()?;
        let now = now_secs();
        let rec = Record {
            image: id.clone(),
            parent: st.image.clone(),
            created_by: created_by.to_string(),
            created: now,
            last_used: now,
            size,
        };
        self.cache_idx.records.insert(key.to_string(), rec.clone());
        if let Err(e) = self.cache.update(vec![(key.to_string(), rec)], &[], now) {
            tracing::warn!("could not record the build step in the cache: {e}");
        }
        let (c, l) = self.load(&id)?;
        st.image = id;
        st.img = c;
        st.layers = l;
        Ok(())
    }

    /// A step that changes the config only.
    fn meta_step(&mut self, st: &mut St, comment: &str) -> Result<()> {
        let shell = st.shell();
        let created_by = format!("{} #(nop)  {comment}", shell.join(" "));
        let mut ccmd = shell.clone();
        ccmd.push("#(nop) ".into());
        ccmd.push(comment.to_string());
        let key = self.cache_key(&[
            &st.image,
            &created_by,
            &st.img["config"].to_string(),
            st.img["author"].as_str().unwrap_or(""),
        ]);
        if self.probe(st, &key)? {
            return Ok(());
        }
        let img = self.next_config(st, &created_by, true, ccmd);
        self.commit(st, img, None, &key, &created_by)?;
        let id = st.image.clone();
        self.done(&id, None)
    }

    /// A step that acts in a container (RUN) or writes files (COPY, ADD, WORKDIR).
    fn fs_step(&mut self, st: &mut St, what: &str, fs: Fs, extra: Vec<String>) -> Result<()> {
        let shell = st.shell();
        let (created_by, ccmd) = match &fs {
            Fs::Run { .. } => (what.to_string(), vec![]),
            _ => {
                let mut c = shell.clone();
                c.push(what.to_string());
                (format!("{} {what}", shell.join(" ")), c)
            }
        };
        let mut parts: Vec<&str> = vec![&st.image, &created_by];
        let cfg = st.img["config"].to_string();
        parts.push(&cfg);
        for e in &extra {
            parts.push(e);
        }
        let key = self.cache_key(&parts);
        if self.probe(st, &key)? {
            return Ok(());
        }
        let layer_path = self.tmp.join(format!("layer-{}.tar", self.step));
        let (layer, removed) = match fs {
            Fs::Run { cmd, env, network } => {
                let (l, id) =
                    self.run_container(st, &created_by, cmd, env, network, &layer_path)?;
                (l, Some(id))
            }
            Fs::Files(f) => {
                if st.image.is_empty() || st.layers.is_empty() {
                    // Nothing below: the files are the layer.
                    (f(self, st, None)?, None)
                } else {
                    let spec = ContainerCreate {
                        image: st.image.clone(),
                        cmd: Some(ccmd.clone()),
                        entrypoint: Some(vec![]),
                        network: Some("none".into()),
                        log_driver: Some("none".into()),
                        labels: [("wharf.build.step".to_string(), self.step.to_string())]
                            .into_iter()
                            .collect(),
                        ..Default::default()
                    };
                    let id = self.eng.container_create(self.caller, &spec)?;
                    let mut ctr = StepContainer {
                        eng: self.eng,
                        caller: self.caller,
                        id: id.clone(),
                        removed: false,
                    };
                    let wrote = f(self, st, Some(&id))?;
                    let l = match wrote {
                        Some(put) => {
                            let mut inp = std::fs::File::open(&put)
                                .ctx(|| format!("reading {}", put.display()))?;
                            self.eng
                                .container_archive_put(self.caller, &id, "/", &mut inp)?;
                            self.capture(&id, &layer_path)?
                        }
                        None => None,
                    };
                    ctr.remove()?;
                    (l, None)
                }
            }
        };
        let img = self.next_config(
            st,
            &created_by,
            layer.is_none(),
            if ccmd.is_empty() { vec![] } else { ccmd },
        );
        let img = match &st.img.get("container_config") {
            _ if created_by == what => {
                // RUN: the container config's command is what the history shows.
                let mut img = img;
                img["container_config"]["Cmd"] = json!([what]);
                img
            }
            _ => img,
        };
        self.commit(st, img, layer.as_deref(), &key, &created_by)?;
        let id = st.image.clone();
        self.done(&id, removed)
    }

    /// The container's changes as a layer tar at `path`; `None` when it changed nothing.
    fn capture(&mut self, id: &str, path: &Path) -> Result<Option<PathBuf>> {
        let f = std::fs::File::create(path).ctx(|| format!("creating {}", path.display()))?;
        let mut w = std::io::BufWriter::new(f);
        self.eng.container_layer(self.caller, id, &mut w)?;
        w.flush().ctx(|| "writing the layer".into())?;
        drop(w);
        let f = std::fs::File::open(path).ctx(|| format!("reading {}", path.display()))?;
        let mut ar = tar::Archive::new(f);
        let empty = ar.entries().map(|mut e| e.next().is_none()).unwrap_or(true);
        Ok((!empty).then(|| path.to_path_buf()))
    }

    /// RUN: a container from the stage's image, its output streamed, its changes kept.
    fn run_container(
        &mut self,
        st: &St,
        created_by: &str,
        cmd: Vec<String>,
        env: Vec<String>,
        network: String,
        layer: &Path,
    ) -> Result<(Option<PathBuf>, String)> {
        let user = st
            .get("User")
            .as_str()
            .filter(|u| !u.is_empty())
            .map(String::from);
        let workdir = Some(st.workdir()).filter(|w| !w.is_empty());
        if st.image.is_empty() || st.layers.is_empty() {
            return Err(EngineError::invalid(format!(
                "RUN {}: the stage has no files yet (FROM scratch): there is no shell to run it with",
                cmd.join(" ")
            )));
        }
        let spec = ContainerCreate {
            image: st.image.clone(),
            cmd: Some(cmd.clone()),
            entrypoint: Some(vec![]),
            env,
            user,
            workdir,
            network: Some(network),
            log_driver: Some("none".into()),
            labels: [("wharf.build.step".to_string(), self.step.to_string())]
                .into_iter()
                .collect(),
            healthcheck: Some(HealthConfig {
                test: Some(vec!["NONE".into()]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let id = self.eng.container_create(self.caller, &spec)?;
        let mut ctr = StepContainer {
            eng: self.eng,
            caller: self.caller,
            id: id.clone(),
            removed: false,
        };
        self.emit(BuildEvent::Container {
            index: self.step,
            id: id.clone(),
        })?;
        let mut stream = self.eng.container_start_attached(self.caller, &id, None)?;
        let _ = stream.set_read_timeout(Some(TICK));
        let mut dec = crate::runtime::attach::Decoder::default();
        let mut buf = vec![0u8; 64 << 10];
        let mut code: Option<i32> = None;
        let mut failure: Option<String> = None;
        let mut last_tick = Instant::now();
        let started = Instant::now();
        'read: loop {
            match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => dec.push(&buf[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock
                            | std::io::ErrorKind::TimedOut
                            | std::io::ErrorKind::Interrupted
                    ) => {}
                Err(_) => break,
            }
            loop {
                match dec.next_frame() {
                    Ok(Some((kind, data))) => match kind {
                        crate::runtime::attach::STDOUT | crate::runtime::attach::STDERR => {
                            let stream = if kind == crate::runtime::attach::STDOUT {
                                "stdout"
                            } else {
                                "stderr"
                            };
                            self.emit(BuildEvent::Output {
                                index: self.step,
                                stream: stream.into(),
                                data: String::from_utf8_lossy(&data).into_owned(),
                            })?;
                        }
                        crate::runtime::attach::EXIT => {
                            code = String::from_utf8_lossy(&data).trim().parse().ok();
                            break 'read;
                        }
                        crate::runtime::attach::ERROR => {
                            let t = String::from_utf8_lossy(&data).into_owned();
                            failure =
                                Some(t.split_once('\n').map(|(_, m)| m.to_string()).unwrap_or(t));
                        }
                        _ => {}
                    },
                    Ok(None) => break,
                    Err(_) => break 'read,
                }
            }
            if last_tick.elapsed() >= TICK {
                last_tick = Instant::now();
                self.emit(BuildEvent::Running {
                    index: self.step,
                    elapsed_ms: started.elapsed().as_millis() as u64,
                })?;
            }
        }
        drop(stream);
        let code = match code {
            Some(c) => c,
            None => self.eng.container_wait(self.caller, &id)?,
        };
        if let Some(f) = failure {
            return Err(EngineError::invalid(format!(
                "The command '{created_by}' could not be started: {f}"
            )));
        }
        if code != 0 {
            return Err(EngineError::invalid(format!(
                "The command '{created_by}' returned a non-zero code: {code}"
            )));
        }
        let l = self.capture(&id, layer)?;
        // Its layer is read: the container goes in the background while the next step
        // runs (the build waits for every removal before it ends).
        ctr.removed = true;
        let (eng, caller) = (self.eng.clone(), self.caller.clone());
        self.removals.push(std::thread::spawn(move || {
            eng.container_remove(
                &caller,
                &id,
                RemoveOptions {
                    force: true,
                    volumes: true,
                },
            )
        }));
        let id = ctr.id.clone();
        Ok((l, id))
    }

    /// The tar of the directories of `dir` that do not exist yet (WORKDIR).
    fn make_dirs(&mut self, st: &St, ctr: Option<&str>, dir: &str) -> Result<Option<PathBuf>> {
        let _ = st;
        let own = Owner {
            uid: 0,
            gid: 0,
            mode: None,
        };
        let path = self.tmp.join(format!("files-{}.tar", self.step));
        let f = std::fs::File::create(&path).ctx(|| format!("creating {}", path.display()))?;
        let mut b = tar::Builder::new(std::io::BufWriter::new(f));
        let n = self.missing_dirs(&mut b, ctr, dir, own)?;
        b.into_inner()
            .ctx(|| "packing".into())?
            .flush()
            .ctx(|| "packing".into())?;
        Ok((n > 0).then_some(path))
    }

    /// Add entries for the directories of `dir` (itself included) that the container
    /// (or, without one, the empty stage) lacks. Returns how many.
    fn missing_dirs<W: Write>(
        &mut self,
        b: &mut tar::Builder<W>,
        ctr: Option<&str>,
        dir: &str,
        own: Owner,
    ) -> Result<usize> {
        let mut n = 0;
        let mut cur = String::new();
        let mtime = now_secs().max(0) as u64;
        let mut missing = ctr.is_none();
        for part in dir.split('/').filter(|p| !p.is_empty()) {
            cur.push('/');
            cur.push_str(part);
            if !missing {
                if let Some(c) = ctr {
                    match self.eng.container_stat_path(self.caller, c, &cur) {
                        Ok(s) if s.is_dir => continue,
                        Ok(_) => {
                            return Err(EngineError::invalid(format!(
                                "{cur} exists in the image and is not a directory"
                            )))
                        }
                        Err(e) if e.kind == ErrorKind::NotFound => missing = true,
                        Err(e) => return Err(e),
                    }
                }
            }
            context::append_dir(
                b,
                cur.trim_start_matches('/'),
                0o755,
                mtime,
                Owner { mode: None, ..own },
            )?;
            n += 1;
        }
        Ok(n)
    }

    fn copy_step(
        &mut self,
        st: &mut St,
        spec: &CopySpec,
        is_add: bool,
        node: &parser::Node,
        stage_of: &dyn Fn(&str) -> Option<usize>,
    ) -> Result<()> {
        let esc = self.escape;
        let vars = st.vars();
        let word = |w: &str| shell::process_word(w, &vars, esc).map_err(|e| node.err(e.message));
        let cmd = if is_add { "ADD" } else { "COPY" };
        let dest_raw = word(&spec.dest)?;
        let wd = st.workdir();
        let mut dest = if dest_raw.starts_with('/') {
            dest_raw.clone()
        } else {
            let base = if wd.is_empty() {
                "/".to_string()
            } else {
                wd.clone()
            };
            format!("{}/{}", base.trim_end_matches('/'), dest_raw)
        };
        let dest_slash = dest_raw.ends_with('/') || dest_raw == "." || dest_raw.ends_with("/.");
        dest = normalize_workdir("/", &dest);
        let chown = match &spec.chown {
            Some(c) => Some(word(c)?),
            None => None,
        };
        let chmod = match &spec.chmod {
            Some(m) => Some(
                u32::from_str_radix(m, 8)
                    .ok()
                    .filter(|m| *m <= 0o7777)
                    .ok_or_else(|| {
                        node.err(format!("--chmod={m}: give an octal mode such as 755"))
                    })?,
            ),
            None => None,
        };
        // Sources.
        let mut srcs: Vec<Src> = Vec::new();
        let mut sums = Vec::new();
        let mut from_image: Option<String> = None;
        if let Some(f) = &spec.from {
            let f = word(f)?;
            let id = match stage_of(&f) {
                Some(i) => self.stage_images.get(&i).cloned().unwrap_or_default(),
                None => {
                    super::check_image_ref(self.eng, self.caller, "build from", &f)
                        .map_err(|e| e.context(format!("COPY --from={f}")))?;
                    find_image(&self.images, &f).ok_or_else(|| {
                        node.err(format!("--from={f}: no stage of that name before this one, and no such image here (wharf builds offline: load or pull it first)"))
                    })?
                }
            };
            if id.is_empty() {
                return Err(node.err(format!("--from={f}: that stage has no files")));
            }
            from_image = Some(id);
        }
        let mut globbed = false;
        for s in &spec.srcs {
            if let Some(name) = s
                .strip_prefix("<<")
                .map(|n| n.trim_start_matches('-').trim_matches(['"', '\'']))
            {
                if let Some(h) = spec.heredocs.iter().find(|h| h.name == name) {
                    let content = if h.quoted {
                        h.content.clone()
                    } else {
                        word(&h.content.replace('"', "\\\""))?
                    };
                    sums.push(format!("heredoc:{}:{}", h.name, content));
                    srcs.push(Src::Heredoc {
                        name: h.name.clone(),
                        content,
                    });
                    continue;
                }
            }
            let s = word(s)?;
            if s.contains("://") || s.starts_with("git@") {
                return Err(node.err(format!(
                    "{cmd} {s}: remote sources need the network, and wharf builds offline: download the file into the build context and {cmd} it from there"
                )));
            }
            if from_image.is_some() {
                if s.contains(['*', '?', '[']) {
                    return Err(node.err(format!("COPY --from with a wildcard ({s}) is not supported by wharf's builder: name the paths")));
                }
                let n = srcs.len();
                let (tar, stat) =
                    self.fetch_from_image(from_image.as_deref().unwrap_or_default(), &s, n)?;
                let kind = if stat.is_dir { "dir" } else { "file" };
                sums.push(format!("{kind}:{}", file_sha256(&tar)?));
                srcs.push(Src::Image { tar, stat });
                continue;
            }
            if s.contains(['*', '?', '[']) {
                globbed = true;
            }
            let found = self
                .ctx
                .sources(&s)
                .map_err(|e| node.err(format!("{cmd} failed: {}", e.message)))?;
            sums.push(context::checksum(&self.ctx, &found)?);
            for f in found {
                srcs.push(Src::Ctx(f));
            }
        }
        let hash = if sums.len() == 1 && !sums[0].starts_with("heredoc:") {
            sums[0].clone()
        } else {
            format!(
                "multi:{}",
                &cache::key(&sums.iter().map(String::as_str).collect::<Vec<_>>())[7..]
            )
        };
        let from_part = from_image
            .as_deref()
            .map(|i| format!("--from={i} "))
            .unwrap_or_default();
        // As Docker 20.10 writes it: no space between the flag and the checksum.
        let chown_part = chown
            .as_deref()
            .map(|c| format!("--chown={c}"))
            .unwrap_or_default();
        let chmod_part = chmod.map(|m| format!("--chmod={m:o} ")).unwrap_or_default();
        let comment = format!("#(nop) {cmd} {chown_part}{chmod_part}{hash} in {dest_raw} ");
        let extra = vec![
            from_part,
            if is_add { "add".into() } else { "copy".into() },
            dest.clone(),
        ];
        let many = srcs.len() > 1 || globbed;
        if many && !dest_slash {
            return Err(node.err(format!("When using {cmd} with more than one source file, the destination must be a directory and end with a /")));
        }
        let f =
            move |b: &mut Builder<'_>, _st: &St, ctr: Option<&str>| -> Result<Option<PathBuf>> {
                b.put_files(
                    ctr,
                    srcs,
                    &dest,
                    dest_slash || many,
                    chown.as_deref(),
                    chmod,
                    is_add,
                )
            };
        self.fs_step(st, &comment, Fs::Files(Box::new(f)), extra)
    }

    /// Write the tar of a COPY/ADD (missing parents, then the files) for the container
    /// `ctr` (or an empty stage).
    #[allow(clippy::too_many_arguments)]
    fn put_files(
        &mut self,
        ctr: Option<&str>,
        srcs: Vec<Src>,
        dest: &str,
        dest_is_dir: bool,
        chown: Option<&str>,
        chmod: Option<u32>,
        is_add: bool,
    ) -> Result<Option<PathBuf>> {
        let (uid, gid) = match chown {
            Some(c) => self.owner(ctr, c)?,
            None => (0, 0),
        };
        let own = Owner {
            uid,
            gid,
            mode: chmod,
        };
        let stat_dir = |b: &Builder<'_>, p: &str| -> bool {
            ctr.is_some_and(|c| {
                b.eng
                    .container_stat_path(b.caller, c, p)
                    .map(|s| s.is_dir)
                    .unwrap_or(false)
            })
        };
        let path = self.tmp.join(format!("files-{}.tar", self.step));
        let f = std::fs::File::create(&path).ctx(|| format!("creating {}", path.display()))?;
        let mut b = tar::Builder::new(std::io::BufWriter::new(f));
        let dest_dir_exists = stat_dir(self, dest);
        let into_dir = dest_is_dir || dest_dir_exists;
        let mut archives: Vec<PathBuf> = Vec::new();
        // Parents first.
        let single_dir = srcs.len() == 1 && matches!(&srcs[0], Src::Ctx(s) if s.is_dir)
            || matches!(&srcs[..], [Src::Image { stat, .. }] if stat.is_dir);
        let target_dir = if into_dir || single_dir {
            dest.to_string()
        } else {
            parent_of(dest)
        };
        self.missing_dirs(&mut b, ctr, &target_dir, Owner { mode: None, ..own })?;
        let name_in = |d: &str, n: &str| {
            format!("{}/{}", d.trim_end_matches('/'), n)
                .trim_start_matches('/')
                .to_string()
        };
        for s in srcs {
            match s {
                Src::Heredoc { name, content } => {
                    let target = if into_dir {
                        name_in(dest, &name)
                    } else {
                        dest.trim_start_matches('/').to_string()
                    };
                    let mut h = tar::Header::new_gnu();
                    h.set_entry_type(tar::EntryType::Regular);
                    h.set_size(content.len() as u64);
                    h.set_mode(chmod.unwrap_or(0o644));
                    h.set_uid(uid);
                    h.set_gid(gid);
                    h.set_mtime(0);
                    b.append_data(&mut h, &target, content.as_bytes())
                        .ctx(|| format!("packing {target}"))?;
                }
                Src::Image { tar, stat } => {
                    copy_from_image(&mut b, &tar, &stat, dest, into_dir, own)?;
                }
                Src::Ctx(s) => {
                    let base = s.rel.rsplit('/').next().unwrap_or("").to_string();
                    if s.is_dir {
                        context::append_tree(&self.ctx, &mut b, &s, dest, own)?;
                    } else if is_add && is_archive(&s.path) {
                        archives.push(s.path.clone());
                    } else if let Some(kind) = other_archive(&s.path).filter(|_| is_add) {
                        return Err(EngineError::invalid(format!(
                            "ADD {}: a {kind} archive, which wharf's builder does not unpack (plain and gzip tars only): unpack it into the context, or recompress it with gzip",
                            s.rel
                        )));
                    } else {
                        let target = if into_dir {
                            name_in(dest, &base)
                        } else {
                            dest.trim_start_matches('/').to_string()
                        };
                        context::append_file(&mut b, &s.path, &target, own)?;
                    }
                }
            }
        }
        b.into_inner()
            .ctx(|| "packing".into())?
            .flush()
            .ctx(|| "packing".into())?;
        if archives.is_empty() {
            return Ok(Some(path));
        }
        // ADD of local archives: the directories first, then each archive unpacked into
        // the destination (as its entries say, owners included).
        let Some(c) = ctr else {
            return Err(EngineError::invalid("ADD of an archive into an empty stage (FROM scratch) is not supported by wharf's builder: COPY the files instead"));
        };
        let mut inp = std::fs::File::open(&path).ctx(|| format!("reading {}", path.display()))?;
        self.eng
            .container_archive_put(self.caller, c, "/", &mut inp)?;
        for a in archives {
            let f = std::fs::File::open(&a).ctx(|| format!("reading {}", a.display()))?;
            let mut r: Box<dyn Read> = if gz_magic(&a) {
                Box::new(flate2::read::GzDecoder::new(f))
            } else {
                Box::new(f)
            };
            self.eng
                .container_archive_put(self.caller, c, dest, &mut r)?;
        }
        // Everything is in the container already.
        let empty = self.tmp.join(format!("empty-{}.tar", self.step));
        let f = std::fs::File::create(&empty).ctx(|| format!("creating {}", empty.display()))?;
        tar::Builder::new(f).into_inner().ctx(|| "packing".into())?;
        Ok(Some(empty))
    }

    /// COPY --from: a tar of `path` in `image`, read through a container of it.
    fn fetch_from_image(
        &mut self,
        image: &str,
        path: &str,
        n: usize,
    ) -> Result<(PathBuf, crate::api::PathStat)> {
        let spec = ContainerCreate {
            image: image.to_string(),
            cmd: Some(vec!["#(nop) COPY".into()]),
            entrypoint: Some(vec![]),
            network: Some("none".into()),
            log_driver: Some("none".into()),
            ..Default::default()
        };
        let id = self.eng.container_create(self.caller, &spec)?;
        let mut ctr = StepContainer {
            eng: self.eng,
            caller: self.caller,
            id: id.clone(),
            removed: false,
        };
        let p = if path.starts_with('/') {
            path.to_string()
        } else {
            format!("/{path}")
        };
        let tarp = self.tmp.join(format!("from-{}-{n}.tar", self.step));
        let stat = {
            let mut f =
                std::fs::File::create(&tarp).ctx(|| format!("creating {}", tarp.display()))?;
            let r = self.eng.container_archive_get(self.caller, &id, &p, &mut f);
            r.map_err(|e| {
                if e.kind == ErrorKind::NotFound {
                    EngineError::not_found(
                        "path",
                        &p,
                        "check the path in the --from stage or image",
                    )
                } else {
                    e
                }
            })?
        };
        ctr.remove()?;
        Ok((tarp, stat))
    }

    /// `--chown=user:group` as numbers, names looked up in the image's /etc/passwd and
    /// /etc/group.
    fn owner(&mut self, ctr: Option<&str>, spec: &str) -> Result<(u64, u64)> {
        let (u, g) = match spec.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (spec, None),
        };
        let read = |b: &Builder<'_>, file: &str| -> String {
            let Some(c) = ctr else { return String::new() };
            let mut out = Vec::new();
            if b.eng
                .container_archive_get(b.caller, c, file, &mut out)
                .is_err()
            {
                return String::new();
            }
            let mut ar = tar::Archive::new(&out[..]);
            let mut s = String::new();
            if let Ok(mut es) = ar.entries() {
                if let Some(Ok(mut e)) = es.next() {
                    let _ = e.read_to_string(&mut s);
                }
            }
            s
        };
        let lookup = |text: &str, name: &str, field: usize| -> Option<(u64, u64)> {
            text.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.first() == Some(&name)).then(|| {
                    (
                        f.get(field).and_then(|v| v.parse().ok()).unwrap_or(0),
                        f.get(3).and_then(|v| v.parse().ok()).unwrap_or(0),
                    )
                })
            })
        };
        let (uid, pgid) = match u.parse::<u64>() {
            Ok(n) => (n, n),
            Err(_) => lookup(&read(self, "/etc/passwd"), u, 2).ok_or_else(|| {
                EngineError::invalid(format!(
                    "--chown={spec}: no user {u:?} in the image's /etc/passwd"
                ))
            })?,
        };
        let gid = match g {
            None => pgid,
            Some(g) => match g.parse::<u64>() {
                Ok(n) => n,
                Err(_) => lookup(&read(self, "/etc/group"), g, 2)
                    .map(|(a, _)| a)
                    .ok_or_else(|| {
                        EngineError::invalid(format!(
                            "--chown={spec}: no group {g:?} in the image's /etc/group"
                        ))
                    })?,
            },
        };
        Ok((uid, gid))
    }
}

/// sha256 of a file, hex.
fn file_sha256(p: &Path) -> Result<String> {
    use sha2::Digest;
    let mut f = std::fs::File::open(p).ctx(|| format!("reading {}", p.display()))?;
    let mut h = sha2::Sha256::new();
    std::io::copy(&mut f, &mut h).ctx(|| format!("reading {}", p.display()))?;
    Ok(hex::encode(h.finalize()))
}

/// COPY --from: the entries of a fetched tar under `dest`, owned as the COPY says.
fn copy_from_image<W: Write>(
    b: &mut tar::Builder<W>,
    tarp: &Path,
    stat: &crate::api::PathStat,
    dest: &str,
    into_dir: bool,
    own: Owner,
) -> Result<()> {
    let f = std::fs::File::open(tarp).ctx(|| format!("reading {}", tarp.display()))?;
    let mut ar = tar::Archive::new(f);
    for e in ar.entries().ctx(|| "reading the copied files".into())? {
        let mut e = e.ctx(|| "reading the copied files".into())?;
        let name = e
            .path()
            .ctx(|| "reading the copied files".into())?
            .to_string_lossy()
            .into_owned();
        let rest = name
            .trim_end_matches('/')
            .split_once('/')
            .map(|(_, r)| r.to_string());
        let target = if stat.is_dir {
            match rest {
                None => continue,
                Some(r) => format!("{}/{r}", dest.trim_end_matches('/')),
            }
        } else if into_dir {
            format!("{}/{}", dest.trim_end_matches('/'), stat.name)
        } else {
            dest.to_string()
        };
        let target = target.trim_start_matches('/').to_string();
        let mut h = e.header().clone();
        h.set_uid(own.uid);
        h.set_gid(own.gid);
        if let Some(m) = own.mode {
            if h.entry_type() != tar::EntryType::Symlink {
                h.set_mode(m);
            }
        }
        match h.entry_type() {
            tar::EntryType::Symlink | tar::EntryType::Link => {
                let t = e
                    .link_name()
                    .ok()
                    .flatten()
                    .map(|t| t.into_owned())
                    .unwrap_or_default();
                b.append_link(&mut h, &target, t)
                    .ctx(|| format!("packing {target}"))?;
            }
            _ => {
                b.append_data(&mut h, &target, &mut e)
                    .ctx(|| format!("packing {target}"))?;
            }
        }
    }
    Ok(())
}

fn parent_of(p: &str) -> String {
    match p.trim_end_matches('/').rsplit_once('/') {
        Some(("", _)) | None => "/".into(),
        Some((d, _)) => d.to_string(),
    }
}

fn gz_magic(p: &Path) -> bool {
    let mut b = [0u8; 2];
    std::fs::File::open(p)
        .and_then(|mut f| f.read_exact(&mut b))
        .is_ok()
        && b == [0x1f, 0x8b]
}

/// A compressed archive Docker's ADD would unpack and wharf's does not: its kind.
fn other_archive(p: &Path) -> Option<&'static str> {
    let mut b = [0u8; 6];
    std::fs::File::open(p)
        .and_then(|mut f| f.read_exact(&mut b))
        .ok()?;
    if b.starts_with(b"BZh") {
        Some("bzip2")
    } else if b == [0xfd, b'7', b'z', b'X', b'Z', 0] {
        Some("xz")
    } else {
        None
    }
}

/// Is the file a tar archive (plain or gzip) that ADD unpacks?
fn is_archive(p: &Path) -> bool {
    let Ok(f) = std::fs::File::open(p) else {
        return false;
    };
    let mut r: Box<dyn Read> = if gz_magic(p) {
        Box::new(flate2::read::GzDecoder::new(f))
    } else {
        Box::new(f)
    };
    let mut head = vec![0u8; 512];
    if r.read_exact(&mut head).is_err() {
        return false;
    }
    &head[257..262] == b"ustar"
}

/// `WORKDIR` against the current one, cleaned.
pub fn normalize_workdir(cur: &str, w: &str) -> String {
    let joined = if w.starts_with('/') {
        w.to_string()
    } else {
        format!("{}/{}", if cur.is_empty() { "/" } else { cur }, w)
    };
    let mut parts: Vec<&str> = Vec::new();
    for p in joined.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

/// `80`, `80/udp`, `8000-8002` as ExposedPorts keys.
fn expose_keys(p: &str) -> std::result::Result<Vec<String>, String> {
    let (num, proto) = p.split_once('/').unwrap_or((p, "tcp"));
    let proto = proto.to_ascii_lowercase();
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!(
            "EXPOSE {p}: invalid proto {proto:?}: use tcp, udp or sctp"
        ));
    }
    let bad = || format!("EXPOSE {p}: invalid containerPort: {num}");
    let (a, b) = match num.split_once('-') {
        Some((a, b)) => (
            a.parse::<u16>().map_err(|_| bad())?,
            b.parse::<u16>().map_err(|_| bad())?,
        ),
        None => {
            let a = num.parse::<u16>().map_err(|_| bad())?;
            (a, a)
        }
    };
    if a == 0 || b < a {
        return Err(bad());
    }
    Ok((a..=b).map(|n| format!("{n}/{proto}")).collect())
}

/// HEALTHCHECK's config JSON and its history text (`&{["CMD-SHELL" "x"] "5s" ...}`).
fn health_json(h: Option<&HealthSpec>) -> (Value, String) {
    let none = HealthSpec {
        test: vec!["NONE".into()],
        interval: 0,
        timeout: 0,
        start_period: 0,
        retries: 0,
    };
    let h = h.unwrap_or(&none);
    let mut v = json!({"Test": h.test});
    if h.interval != 0 {
        v["Interval"] = json!(h.interval);
    }
    if h.timeout != 0 {
        v["Timeout"] = json!(h.timeout);
    }
    if h.start_period != 0 {
        v["StartPeriod"] = json!(h.start_period);
    }
    if h.retries != 0 {
        v["Retries"] = json!(h.retries);
    }
    let text = format!(
        "&{{{} {} {} {} {}}}",
        go_quote_list(&h.test),
        go_quote(&go_duration(h.interval)),
        go_quote(&go_duration(h.timeout)),
        go_quote(&go_duration(h.start_period)),
        go_rune(h.retries)
    );
    (v, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_formats() {
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(5_000_000_000), "5s");
        assert_eq!(go_duration(1_500_000_000), "1.5s");
        assert_eq!(go_duration(90_000_000_000), "1m30s");
        assert_eq!(go_duration(3_600_000_000_000), "1h0m0s");
        assert_eq!(go_duration(500_000_000), "500ms");
        assert_eq!(go_rune(3), "'\\x03'");
        assert_eq!(go_rune(65), "'A'");
        assert_eq!(
            go_quote_list(&["/bin/sh".into(), "-c".into(), "echo \"hi\"".into()]),
            r#"["/bin/sh" "-c" "echo \"hi\""]"#
        );
        let h = HealthSpec {
            test: vec!["CMD-SHELL".into(), "true".into()],
            interval: 5_000_000_000,
            timeout: 0,
            start_period: 0,
            retries: 3,
        };
        assert_eq!(
            health_json(Some(&h)).1,
            r#"&{["CMD-SHELL" "true"] "5s" "0s" "0s" '\x03'}"#
        );
    }

    #[test]
    fn workdirs_and_ports() {
        assert_eq!(normalize_workdir("", "a"), "/a");
        assert_eq!(normalize_workdir("/a", "b/../c"), "/a/c");
        assert_eq!(normalize_workdir("/a", "/x/"), "/x");
        assert_eq!(expose_keys("80").unwrap(), vec!["80/tcp"]);
        assert_eq!(expose_keys("53/UDP").unwrap(), vec!["53/udp"]);
        assert_eq!(
            expose_keys("8000-8001").unwrap(),
            vec!["8000/tcp", "8001/tcp"]
        );
        assert!(expose_keys("http").is_err());
        assert_eq!(parent_of("/a/b"), "/a");
        assert_eq!(parent_of("/a"), "/");
    }
}
