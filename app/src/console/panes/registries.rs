//! The registries pane (`:registries`, `:registries HOST[:PORT][/REPO]`): the caller's
//! registries (logged in to, or named by the configuration), a registry's repositories
//! and a repository's tags page by page, a tag's manifest; log in (password typed
//! hidden) and out, pull with per-layer progress, push a local image, delete a tag.
//!
//! Lists come from a [`Source`]: a registry's own API ([`RegistrySource`]) today.
//! Another catalog (a search service such as Docker Hub's, which needs the network) is
//! another `Source`, opened the same way.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ratatui::layout::Rect;
use ratatui::Frame;
use wharf_engine::api::{NamePage, Progress, RegistryEntry, RemoteManifest};
use wharf_engine::policy::Action as Perm;
use wharf_engine::{Caller, Engine};
use wharf_views::footer::Level as NoteLevel;
use wharf_views::registries::{self as view, LayerProgress, Level as ViewLevel, Names, Transfer};
use wharf_views::util::short_id;
use wharf_views::Load;

use super::{Ctx, ListState, Pane, PaneInfo, View};
use crate::console::actions::{self, Action};
use crate::console::api::{self, Call, PaneAnswer, PaneCall};
use crate::console::forms::{checked, Field};
use crate::console::msg::{Confirm, Effect, Lists, Msg, PaneMsg};
use crate::console::store::Store;

pub const LOGIN: Action = Action::new(
    "registry-login",
    "log in to a registry (the password is typed hidden, kept for your user only)",
)
.short("log in")
.needs(Perm::ImagePull);
pub const LOGOUT: Action = Action::new(
    "registry-logout",
    "log out of the selected registry (asks first)",
)
.short("log out")
.needs(Perm::ImagePull);
pub const OPEN: Action = Action::new(
    "registry-open",
    "open a registry (host:port) or a repository (host:port/name) by its address",
)
.short("open")
.needs(Perm::ImagePull);
pub const PULL: Action = Action::new(
    "registry-pull",
    "pull the selected tag (or the platform shown), with each layer's progress",
)
.short("pull")
.needs(Perm::ImagePull);
pub const PUSH: Action = Action::new(
    "registry-push",
    "push a local image to a repository of this registry",
)
.short("push")
.needs(Perm::ImagePush);
pub const DELETE: Action = Action::new(
    "registry-delete",
    "delete the selected tag from the registry, where it allows it (asks first)",
)
.short("delete tag")
.needs(Perm::ImagePush);

pub static INFO: PaneInfo = PaneInfo {
    title: "Registries",
    short: "Reg",
    context: "registries",
    commands: &["registries", "registry"],
    takes_container: false,
    actions: &[PULL, PUSH, LOGIN, OPEN, DELETE, LOGOUT],
    make: || Box::new(Registries::default()),
};

/// Where the pane's repositories, tags and manifests come from.
pub trait Source: Send + Sync + std::fmt::Debug {
    /// Its name in the path line (`127.0.0.1:5000`).
    fn title(&self) -> String;
    /// The registry its images live in (for log in, pull and push references).
    fn registry(&self) -> &str;
    /// A page of repositories after `last`.
    fn repositories(
        &self,
        e: &dyn Engine,
        c: &Caller,
        last: Option<String>,
    ) -> Result<NamePage, String>;
    /// A page of `repo`'s tags after `last`.
    fn tags(
        &self,
        e: &dyn Engine,
        c: &Caller,
        repo: &str,
        last: Option<String>,
    ) -> Result<NamePage, String>;
    /// The manifest of `repo:tag`, with the image of `platform`.
    fn manifest(
        &self,
        e: &dyn Engine,
        c: &Caller,
        repo: &str,
        tag: &str,
        platform: Option<&str>,
    ) -> Result<RemoteManifest, String>;
    /// The reference to pull `repo:tag` by.
    fn reference(&self, repo: &str, tag: &str) -> String {
        format!("{}/{repo}:{tag}", self.registry())
    }
}

/// A registry's own API (`/v2/_catalog`, `tags/list`, manifests), with the caller's login.
#[derive(Debug)]
pub struct RegistrySource {
    pub registry: String,
}

impl Source for RegistrySource {
    fn title(&self) -> String {
        self.registry.clone()
    }
    fn registry(&self) -> &str {
        &self.registry
    }
    fn repositories(
        &self,
        e: &dyn Engine,
        c: &Caller,
        last: Option<String>,
    ) -> Result<NamePage, String> {
        api::registry_catalog(e, c, &self.registry, last)
    }
    fn tags(
        &self,
        e: &dyn Engine,
        c: &Caller,
        repo: &str,
        last: Option<String>,
    ) -> Result<NamePage, String> {
        api::registry_tags(e, c, &format!("{}/{repo}", self.registry), last)
    }
    fn manifest(
        &self,
        e: &dyn Engine,
        c: &Caller,
        repo: &str,
        tag: &str,
        platform: Option<&str>,
    ) -> Result<RemoteManifest, String> {
        api::registry_manifest(e, c, &self.reference(repo, tag), platform)
    }
}

/// A list of names and where its next page starts.
#[derive(Debug)]
struct NameList {
    load: Load<Names>,
    next: Option<String>,
}

impl NameList {
    fn loading() -> Self {
        NameList {
            load: Load::Loading,
            next: None,
        }
    }
}

/// What one level of the pane holds.
// A manifest is bigger than a list, and there are a few levels at most: not boxed.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
enum Kind {
    Registries(Load<Vec<RegistryEntry>>),
    Repositories(NameList),
    Tags {
        repo: String,
        list: NameList,
    },
    Manifest {
        repo: String,
        tag: String,
        platform: Option<String>,
        load: Load<RemoteManifest>,
    },
}

/// One level: what it shows, its cursor and filter, and the number its answers carry.
#[derive(Debug)]
struct Frame_ {
    kind: Kind,
    list: ListState,
    serial: u64,
}

/// The registries pane.
#[derive(Debug, Default)]
pub struct Registries {
    /// The levels, the first one the registries; the last is shown.
    stack: Vec<Frame_>,
    /// The source of the levels below the registries.
    source: Option<Arc<dyn Source>>,
    transfer: Option<Transfer>,
    serial: u64,
    started: bool,
}

/// What workers answer.
// A manifest is bigger than the other answers, which come a few a second at most.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
enum Answer {
    Registries {
        serial: u64,
        result: Result<Vec<RegistryEntry>, String>,
    },
    Page {
        serial: u64,
        /// A next page, appended (else the first page).
        more: bool,
        result: Result<NamePage, String>,
    },
    Manifest {
        serial: u64,
        result: Result<RemoteManifest, String>,
    },
    LoggedIn {
        server: String,
        result: Result<(), String>,
    },
    /// A pull's or push's step.
    Step(Progress),
    /// It ended.
    Finished(Result<String, String>),
}

fn send(tx: &tokio::sync::mpsc::UnboundedSender<Msg>, a: Answer) -> bool {
    tx.send(Msg::Pane {
        to: INFO.context,
        msg: PaneMsg::new(a),
    })
    .is_ok()
}

/// Is `s` a registry address (`host[:port]`)?
fn registry_error(s: &str) -> Option<String> {
    let s = s.trim();
    if s.is_empty() {
        return Some("a registry address: host[:port], e.g. 127.0.0.1:5000".into());
    }
    wharf_engine::image::registry::api::normalize_server(s)
        .err()
        .map(|e| e.message)
}

impl Registries {
    fn next_serial(&mut self) -> u64 {
        self.serial += 1;
        self.serial
    }

    fn top(&self) -> Option<&Frame_> {
        self.stack.last()
    }

    fn top_mut(&mut self) -> Option<&mut Frame_> {
        self.stack.last_mut()
    }

    fn frame_of(&mut self, serial: u64) -> Option<&mut Frame_> {
        self.stack.iter_mut().find(|f| f.serial == serial)
    }

    fn push(&mut self, kind: Kind) -> u64 {
        let serial = self.next_serial();
        self.stack.push(Frame_ {
            kind,
            list: ListState::default(),
            serial,
        });
        serial
    }

    /// The registries level, read again.
    fn reset(&mut self, cx: &mut Ctx) {
        self.stack.clear();
        self.source = None;
        let s = self.push(Kind::Registries(Load::Loading));
        cx.ask(INFO.context, move |e, c| Answer::Registries {
            serial: s,
            result: api::registry_list(e, c),
        });
    }

    /// Open `source`'s repositories on top of the registries level.
    fn open_source(&mut self, source: Arc<dyn Source>, cx: &mut Ctx) {
        self.stack.truncate(1);
        self.source = Some(source);
        let s = self.push(Kind::Repositories(NameList::loading()));
        self.load_page(s, None, cx);
    }

    /// Open `repo`'s tags.
    fn open_repo(&mut self, repo: String, cx: &mut Ctx) {
        let s = self.push(Kind::Tags {
            repo,
            list: NameList::loading(),
        });
        self.load_page(s, None, cx);
    }

    fn open_tag(&mut self, repo: String, tag: String, cx: &mut Ctx) {
        let s = self.push(Kind::Manifest {
            repo,
            tag,
            platform: None,
            load: Load::Loading,
        });
        self.load_manifest(s, cx);
    }

    /// Ask for a page of the level `serial` (after `last`: the next page).
    fn load_page(&mut self, serial: u64, last: Option<String>, cx: &mut Ctx) {
        let Some(source) = self.source.clone() else {
            return;
        };
        let more = last.is_some();
        let Some(f) = self.frame_of(serial) else {
            return;
        };
        match &f.kind {
            Kind::Repositories(_) => cx.ask(INFO.context, move |e, c| Answer::Page {
                serial,
                more,
                result: source.repositories(e, c, last),
            }),
            Kind::Tags { repo, .. } => {
                let repo = repo.clone();
                cx.ask(INFO.context, move |e, c| Answer::Page {
                    serial,
                    more,
                    result: source.tags(e, c, &repo, last),
                })
            }
            _ => {}
        }
    }

    fn load_manifest(&mut self, serial: u64, cx: &mut Ctx) {
        let Some(source) = self.source.clone() else {
            return;
        };
        let Some(Frame_ {
            kind:
                Kind::Manifest {
                    repo,
                    tag,
                    platform,
                    ..
                },
            ..
        }) = self.frame_of(serial)
        else {
            return;
        };
        let (repo, tag, platform) = (repo.clone(), tag.clone(), platform.clone());
        cx.ask(INFO.context, move |e, c| Answer::Manifest {
            serial,
            result: source.manifest(e, c, &repo, &tag, platform.as_deref()),
        });
    }

    /// Read the level shown again.
    fn refresh(&mut self, cx: &mut Ctx) {
        let Some(f) = self.top_mut() else {
            return self.reset(cx);
        };
        let old = f.serial;
        match &mut f.kind {
            Kind::Registries(_) => return self.reset(cx),
            Kind::Repositories(l) | Kind::Tags { list: l, .. } => *l = NameList::loading(),
            Kind::Manifest { load, .. } => *load = Load::Loading,
        }
        let s = self.next_serial();
        if let Some(f) = self.frame_of(old) {
            f.serial = s;
            if matches!(f.kind, Kind::Manifest { .. }) {
                return self.load_manifest(s, cx);
            }
        }
        self.load_page(s, None, cx);
    }

    /// Names shown at a names level (the filter applied).
    fn names(f: &Frame_) -> Vec<&str> {
        let none = BTreeMap::new();
        match &f.kind {
            Kind::Repositories(l) | Kind::Tags { list: l, .. } => match &l.load {
                Load::Ready(n) => n
                    .names
                    .iter()
                    .map(String::as_str)
                    .filter(|x| f.list.filter.matches(&[x], &none))
                    .collect(),
                _ => vec![],
            },
            _ => vec![],
        }
    }

    fn registries(f: &Frame_) -> Vec<&RegistryEntry> {
        let none = BTreeMap::new();
        match &f.kind {
            Kind::Registries(Load::Ready(v)) => v
                .iter()
                .filter(|r| f.list.filter.matches(&[&r.registry], &none))
                .collect(),
            _ => vec![],
        }
    }

    /// The registry the pane is in, or the one selected at the registries level.
    fn current_registry(&self) -> Option<String> {
        if let Some(s) = &self.source {
            return Some(s.registry().to_string());
        }
        let f = self.top()?;
        Self::registries(f)
            .get(f.list.cursor.selected)
            .map(|r| r.registry.clone())
    }

    /// The reference (and platform) a pull takes from the selection.
    fn pull_target(&self) -> Option<(String, Option<String>)> {
        let source = self.source.as_ref()?;
        let f = self.top()?;
        match &f.kind {
            Kind::Tags { repo, .. } => {
                let names = Self::names(f);
                names
                    .get(f.list.cursor.selected)
                    .map(|t| (source.reference(repo, t), None))
            }
            Kind::Manifest {
                repo, tag, load, ..
            } => {
                // The platform shown (or selected) when the tag is an index.
                let platform = match load {
                    Load::Ready(m) if !m.platforms.is_empty() => {
                        let lines = view::manifest_lines(m);
                        lines
                            .get(f.list.cursor.selected)
                            .and_then(|l| l.platform)
                            .map(|i| m.platforms[i].platform.clone())
                            .or_else(|| m.image.as_ref().map(|i| i.platform.clone()))
                    }
                    _ => None,
                };
                Some((source.reference(repo, tag), platform))
            }
            _ => None,
        }
    }

    fn login_form(&self, cx: &mut Ctx) {
        let registry = self.current_registry().unwrap_or_default();
        let focus = if registry.is_empty() { 0 } else { 1 };
        let form = checked(
            "log in to a registry",
            vec![
                Field::new("registry", registry).hint("host[:port], e.g. 127.0.0.1:5000"),
                Field::new("user", ""),
                Field::secret("password").hint("or an access token"),
            ],
            "log in",
            Box::new(|v| {
                if let Some(e) = registry_error(&v[0]) {
                    return Err((Some(0), e));
                }
                if v[1].trim().is_empty() {
                    return Err((Some(1), "a user name".into()));
                }
                if v[1].contains(':') {
                    return Err((Some(1), "a user name cannot contain ':'".into()));
                }
                if v[2].is_empty() {
                    return Err((Some(2), "the password (or token)".into()));
                }
                Ok(format!(
                    "log in to {} as {}: the registry checks the password first; it is kept for your user only",
                    v[0].trim(),
                    v[1].trim()
                ))
            }),
            Box::new(|mut v| {
                let password = std::mem::take(&mut v[2]);
                let (server, user) = (v[0].trim().to_string(), v[1].trim().to_string());
                Effect::ToPane {
                    to: INFO.context,
                    msg: PaneMsg::new(Login {
                        server,
                        user,
                        password,
                    }),
                }
            }),
        )
        .focus(focus);
        cx.emit(Effect::Form(Box::new(form)));
    }

    fn open_form(&self, cx: &mut Ctx) {
        let start = self.current_registry().unwrap_or_default();
        let form = checked(
            "open a registry or a repository",
            vec![Field::new("address", start).hint("host[:port] or host[:port]/repository")],
            "open",
            Box::new(|v| {
                let a = v[0].trim();
                let (reg, repo) = a.split_once('/').unwrap_or((a, ""));
                if let Some(e) = registry_error(reg) {
                    return Err((Some(0), e));
                }
                Ok(if repo.is_empty() {
                    format!("list the repositories of {reg}")
                } else {
                    format!("list the tags of {reg}/{repo}")
                })
            }),
            Box::new(|v| Effect::ToPane {
                to: INFO.context,
                msg: PaneMsg::new(Open(v[0].trim().to_string())),
            }),
        );
        cx.emit(Effect::Form(Box::new(form)));
    }

    fn push_form(&self, cx: &mut Ctx) {
        let Some(registry) = self.current_registry() else {
            cx.emit(Effect::note(
                NoteLevel::Warn,
                "open a registry first (o), or select one",
            ));
            return;
        };
        let repo = self.top().and_then(|f| match &f.kind {
            Kind::Tags { repo, .. } | Kind::Manifest { repo, .. } => Some(repo.clone()),
            Kind::Repositories(_) => Self::names(f)
                .get(f.list.cursor.selected)
                .map(|s| s.to_string()),
            _ => None,
        });
        let local: Vec<String> = cx
            .store
            .images
            .items
            .iter()
            .flat_map(|i| i.repo_tags.iter().cloned())
            .collect();
        let first = local.first().cloned().unwrap_or_default();
        let target = |image: &str| -> String {
            // The local image's repository and tag, under this registry (or the
            // repository open now).
            let r = wharf_engine::image::Reference::parse(image).ok();
            let tag = r
                .as_ref()
                .and_then(|r| r.tag.clone())
                .unwrap_or_else(|| "latest".into());
            let name = repo.clone().unwrap_or_else(|| {
                r.as_ref()
                    .map(|r| r.repository.trim_start_matches("library/").to_string())
                    .unwrap_or_default()
            });
            format!("{registry}/{name}:{tag}")
        };
        let start_target = target(&first);
        let known = local.clone();
        let form = checked(
            "push an image",
            vec![
                Field::new("local image", first).hint("a reference from the images pane"),
                Field::new("push to", start_target).hint("registry/repository:tag"),
            ],
            "push",
            Box::new(move |v| {
                let (image, to) = (v[0].trim(), v[1].trim());
                let full = |s: &str| {
                    wharf_engine::image::Reference::parse(s)
                        .map(|r| r.to_string())
                        .unwrap_or_default()
                };
                if !known.iter().any(|k| *k == full(image) || k == image) {
                    let near: Vec<&str> = known
                        .iter()
                        .map(|k| wharf_views::util::short_ref(k))
                        .filter(|k| !image.is_empty() && k.starts_with(image))
                        .take(3)
                        .collect();
                    return Err((
                        Some(0),
                        if near.is_empty() {
                            "a local image's reference (see the images pane)".into()
                        } else {
                            format!("did you mean {}?", near.join(", "))
                        },
                    ));
                }
                match wharf_engine::image::Reference::parse(to) {
                    Err(e) => return Err((Some(1), e.message)),
                    Ok(r) if r.digest.is_some() => {
                        return Err((Some(1), "push to a tag, not a digest".into()))
                    }
                    Ok(_) => {}
                }
                if to
                    .split('/')
                    .next()
                    .is_none_or(|h| !(h.contains('.') || h.contains(':') || h == "localhost"))
                {
                    return Err((
                        Some(1),
                        "name the registry first: host[:port]/repository:tag".into(),
                    ));
                }
                Ok(format!("tag {image} as {to} and push it"))
            }),
            Box::new(|v| Effect::ToPane {
                to: INFO.context,
                msg: PaneMsg::new(Push {
                    local: v[0].trim().to_string(),
                    target: v[1].trim().to_string(),
                }),
            }),
        );
        cx.emit(Effect::Form(Box::new(form.focus(0))));
    }

    /// Run a pull or a push on a worker: steps come back as they happen (a few a second
    /// per layer), then how it ended; the images list is read again.
    fn transfer(
        &mut self,
        title: String,
        cx: &mut Ctx,
        run: impl FnOnce(&dyn Engine, &Caller, &mut dyn FnMut(Progress)) -> Result<String, String>
            + Send
            + 'static,
    ) {
        if self.transfer.as_ref().is_some_and(|t| t.done.is_none()) {
            cx.emit(Effect::note(
                NoteLevel::Warn,
                "a transfer is under way: wait for it to end",
            ));
            return;
        }
        self.transfer = Some(Transfer {
            title: title.clone(),
            ..Default::default()
        });
        cx.worker.stream(move |e, c, tx| {
            let mut last: BTreeMap<String, (String, Instant)> = BTreeMap::new();
            let mut on = |p: Progress| {
                // Every change of status goes; byte counts at most 5 times a second.
                if let Progress::Layer { id, status, .. } = &p {
                    let now = Instant::now();
                    if let Some((s, t)) = last.get(id) {
                        if s == status && now.duration_since(*t) < Duration::from_millis(200) {
                            return;
                        }
                    }
                    last.insert(id.clone(), (status.clone(), now));
                }
                send(tx, Answer::Step(p));
            };
            let r = run(e, c, &mut on);
            let note = match &r {
                Ok(t) => wharf_views::footer::Notification {
                    level: NoteLevel::Ok,
                    text: t.clone(),
                    details: None,
                },
                Err(err) => wharf_views::footer::Notification {
                    level: NoteLevel::Error,
                    text: format!("{title} failed: {err}"),
                    details: Some(err.clone()),
                },
            };
            send(tx, Answer::Finished(r));
            let _ = tx.send(Msg::Done {
                note,
                refresh: Lists::IMAGES,
            });
        });
    }

    fn start_pull(&mut self, cx: &mut Ctx) {
        let Some((reference, platform)) = self.pull_target() else {
            cx.emit(Effect::note(NoteLevel::Warn, "select a tag to pull"));
            return;
        };
        let title = match &platform {
            Some(p) => format!("pulling {reference} ({p})"),
            None => format!("pulling {reference}"),
        };
        self.transfer(title, cx, move |e, c, on| {
            api::pull_image(e, c, &reference, platform, on).map(|id| {
                format!(
                    "pulled {reference} ({}): it is in the images pane",
                    short_id(&id)
                )
            })
        });
    }

    fn ask_delete(&self, cx: &mut Ctx) {
        let Some((reference, _)) = self.pull_target() else {
            cx.emit(Effect::note(NoteLevel::Warn, "select a tag to delete"));
            return;
        };
        cx.emit(Effect::Confirm(Confirm {
            yes: "delete".into(),
            ..Confirm::new(
                "delete a tag",
                format!(
                    "delete {reference} from its registry? A registry that deletes by manifest removes every tag of the same manifest with it."
                ),
                Call::Pane {
                    to: INFO.context,
                    call: PaneCall::RegistryDelete { reference },
                },
            )
        }));
    }

    fn ask_logout(&self, cx: &mut Ctx) {
        let Some(f) = self.top() else { return };
        let selected = Self::registries(f)
            .get(f.list.cursor.selected)
            .map(|r| (*r).clone());
        let entry = match (selected, &self.source) {
            (Some(r), _) => r,
            (None, Some(s)) => RegistryEntry {
                registry: s.registry().to_string(),
                username: Some(String::new()),
                configured: false,
                insecure: false,
            },
            _ => return,
        };
        if entry.username.is_none() {
            cx.emit(Effect::note(
                NoteLevel::Warn,
                format!("you are not logged in to {}", entry.registry),
            ));
            return;
        }
        let server = entry.registry;
        cx.emit(Effect::Confirm(Confirm {
            yes: "log out".into(),
            ..Confirm::new(
                "log out",
                format!("log out of {server}? Your saved login for it is removed."),
                Call::Pane {
                    to: INFO.context,
                    call: PaneCall::RegistryLogout { server },
                },
            )
        }));
    }

    /// `registry` or `registry/repository`: open it.
    fn open_address(&mut self, a: &str, cx: &mut Ctx) -> Result<(), String> {
        let (reg, repo) = a.split_once('/').unwrap_or((a, ""));
        if let Some(e) = registry_error(reg) {
            return Err(e);
        }
        let registry =
            wharf_engine::image::registry::api::normalize_server(reg).map_err(|e| e.message)?;
        if self.stack.is_empty() {
            self.reset(cx);
        }
        self.open_source(Arc::new(RegistrySource { registry }), cx);
        if !repo.is_empty() {
            self.open_repo(repo.trim_end_matches('/').to_string(), cx);
        }
        Ok(())
    }

    fn enter(&mut self, cx: &mut Ctx) {
        let Some(f) = self.top() else { return };
        let sel = f.list.cursor.selected;
        match &f.kind {
            Kind::Registries(_) => {
                if let Some(r) = Self::registries(f).get(sel).map(|r| r.registry.clone()) {
                    self.open_source(Arc::new(RegistrySource { registry: r }), cx);
                }
            }
            Kind::Repositories(l) | Kind::Tags { list: l, .. } => {
                let names = Self::names(f);
                if let Some(name) = names.get(sel).map(|s| s.to_string()) {
                    match &f.kind {
                        Kind::Tags { repo, .. } => {
                            let repo = repo.clone();
                            self.open_tag(repo, name, cx)
                        }
                        _ => self.open_repo(name, cx),
                    }
                } else if sel == names.len() && l.next.is_some() {
                    // The "more" row.
                    let (serial, last) = (f.serial, l.next.clone());
                    if let Some(Frame_ {
                        kind: Kind::Repositories(l) | Kind::Tags { list: l, .. },
                        ..
                    }) = self.top_mut()
                    {
                        if let Load::Ready(n) = &mut l.load {
                            if n.fetching {
                                return;
                            }
                            n.fetching = true;
                        }
                    }
                    self.load_page(serial, last, cx);
                }
            }
            Kind::Manifest { load, .. } => {
                let chosen = match load {
                    Load::Ready(m) => view::manifest_lines(m)
                        .get(sel)
                        .and_then(|l| l.platform)
                        .map(|i| m.platforms[i].platform.clone()),
                    _ => None,
                };
                if let Some(p) = chosen {
                    let serial = self.next_serial();
                    if let Some(Frame_ {
                        kind: Kind::Manifest { platform, load, .. },
                        serial: s,
                        ..
                    }) = self.top_mut()
                    {
                        *platform = Some(p);
                        *load = Load::Loading;
                        *s = serial;
                    }
                    self.load_manifest(serial, cx);
                }
            }
        }
    }

    fn path(&self) -> Vec<String> {
        let mut p = vec!["Registries".to_string()];
        if let Some(s) = &self.source {
            p.push(s.title());
        }
        match self.top().map(|f| &f.kind) {
            Some(Kind::Tags { repo, .. }) => p.push(repo.clone()),
            Some(Kind::Manifest {
                repo,
                tag,
                platform,
                ..
            }) => {
                p.push(repo.clone());
                p.push(match platform {
                    Some(pl) => format!("{tag} ({pl})"),
                    None => tag.clone(),
                });
            }
            _ => {}
        }
        p
    }
}

/// Log in (from the form): the password travels to the engine and nowhere else.
struct Login {
    server: String,
    user: String,
    password: String,
}

/// Open an address (from the form).
struct Open(String);

/// Push (from the form).
struct Push {
    local: String,
    target: String,
}

impl Pane for Registries {
    fn info(&self) -> &'static PaneInfo {
        &INFO
    }

    fn act(&mut self, a: Action, cx: &mut Ctx) -> bool {
        if self.stack.is_empty() {
            self.reset(cx);
        }
        match a {
            actions::DETAILS => self.enter(cx),
            actions::BACK => {
                if self.top_mut().is_some_and(|f| f.list.clear_filter()) {
                    return true;
                }
                if self.transfer.as_ref().is_some_and(|t| t.done.is_some()) {
                    self.transfer = None;
                    return true;
                }
                if self.stack.len() <= 1 {
                    return false;
                }
                self.stack.pop();
                if self.stack.len() == 1 {
                    self.source = None;
                }
            }
            actions::REFRESH => self.refresh(cx),
            LOGIN => self.login_form(cx),
            LOGOUT => self.ask_logout(cx),
            OPEN => self.open_form(cx),
            PULL => self.start_pull(cx),
            PUSH => self.push_form(cx),
            DELETE => self.ask_delete(cx),
            _ => return false,
        }
        true
    }

    fn answer(&mut self, m: PaneMsg, cx: &mut Ctx) {
        let m = match m.take_or_keep::<Answer>() {
            Ok(a) => a,
            Err(m) => return self.answer_other(m, cx),
        };
        match m {
            Answer::Registries { serial, result } => {
                if let Some(Frame_ {
                    kind: Kind::Registries(load),
                    ..
                }) = self.frame_of(serial)
                {
                    *load = result.map(Load::Ready).unwrap_or_else(Load::Error);
                }
            }
            Answer::Page {
                serial,
                more,
                result,
            } => {
                let Some(Frame_ {
                    kind: Kind::Repositories(l) | Kind::Tags { list: l, .. },
                    ..
                }) = self.frame_of(serial)
                else {
                    return;
                };
                match result {
                    Ok(page) => {
                        l.next = page.next.clone();
                        match (&mut l.load, more) {
                            (Load::Ready(n), true) => {
                                n.names.extend(page.names);
                                n.more = page.next.is_some();
                                n.fetching = false;
                            }
                            _ => {
                                l.load = Load::Ready(Names {
                                    more: page.next.is_some(),
                                    names: page.names,
                                    fetching: false,
                                })
                            }
                        }
                    }
                    Err(e) if more => {
                        if let Load::Ready(n) = &mut l.load {
                            n.fetching = false;
                        }
                        cx.emit(Effect::note(
                            NoteLevel::Error,
                            format!("cannot read the next page: {e}"),
                        ));
                    }
                    Err(e) => l.load = Load::Error(e),
                }
            }
            Answer::Manifest { serial, result } => {
                if let Some(Frame_ {
                    kind: Kind::Manifest { load, .. },
                    ..
                }) = self.frame_of(serial)
                {
                    *load = result.map(Load::Ready).unwrap_or_else(Load::Error);
                }
            }
            Answer::LoggedIn { server, result } => match result {
                Ok(()) => {
                    cx.emit(Effect::note(
                        NoteLevel::Ok,
                        format!("logged in to {server}"),
                    ));
                    // The list shows the login; a level refused before may answer now.
                    let serial = self.stack.first().map(|f| f.serial);
                    if let Some(s) = serial {
                        cx.ask(INFO.context, move |e, c| Answer::Registries {
                            serial: s,
                            result: api::registry_list(e, c),
                        });
                    }
                    if self.stack.len() > 1
                        && self.top().is_some_and(|f| match &f.kind {
                            Kind::Repositories(l) | Kind::Tags { list: l, .. } => {
                                matches!(l.load, Load::Error(_))
                            }
                            Kind::Manifest { load, .. } => matches!(load, Load::Error(_)),
                            _ => false,
                        })
                    {
                        self.refresh(cx);
                    }
                }
                Err(e) => cx.emit(Effect::Notify(wharf_views::footer::Notification {
                    level: NoteLevel::Error,
                    text: format!("cannot log in to {server}: {e}"),
                    details: Some(e),
                })),
            },
            Answer::Step(p) => {
                let Some(t) = self.transfer.as_mut() else {
                    return;
                };
                match p {
                    Progress::Layer {
                        id,
                        status,
                        current,
                        total,
                    } => match t.layers.iter_mut().find(|l| l.id == id) {
                        Some(l) => {
                            l.status = status;
                            l.current = current;
                            l.total = total.or(l.total);
                        }
                        None => t.layers.push(LayerProgress {
                            id,
                            status,
                            current,
                            total,
                        }),
                    },
                    Progress::Message(m) => t.message = m,
                }
            }
            Answer::Finished(r) => {
                let pushed = r.is_ok()
                    && self
                        .transfer
                        .as_ref()
                        .is_some_and(|t| t.title.starts_with("pushing"));
                if let Some(t) = self.transfer.as_mut() {
                    t.done = Some(r);
                }
                // A push adds a tag (and maybe a repository): the list shows it.
                if pushed && self.stack.len() > 1 {
                    self.refresh(cx);
                }
            }
        }
    }

    fn command_action(&self, arg: &str) -> Option<Action> {
        (!arg.is_empty()).then_some(OPEN)
    }

    fn command(&mut self, arg: &str, cx: &mut Ctx) -> Result<(), String> {
        if arg.is_empty() {
            if self.stack.is_empty() {
                self.reset(cx);
            }
            return Ok(());
        }
        self.open_address(arg, cx)
    }

    fn status(&self, _store: &Store) -> String {
        let mut s = "Registries".to_string();
        if let Some(f) = self.top() {
            let n = match &f.kind {
                Kind::Registries(Load::Ready(v)) => Some(format!("{} registries", v.len())),
                Kind::Repositories(l) => match &l.load {
                    Load::Ready(n) => Some(format!(
                        "{}{} repositories",
                        n.names.len(),
                        if n.more { "+" } else { "" }
                    )),
                    _ => None,
                },
                Kind::Tags { list, .. } => match &list.load {
                    Load::Ready(n) => Some(format!(
                        "{}{} tags",
                        n.names.len(),
                        if n.more { "+" } else { "" }
                    )),
                    _ => None,
                },
                _ => None,
            };
            if let Some(n) = n {
                s.push_str(" · ");
                s.push_str(&n);
            }
            s.push_str(&f.list.filter_status());
        }
        s
    }

    fn list(&mut self) -> Option<&mut ListState> {
        self.stack.last_mut().map(|f| &mut f.list)
    }

    fn len(&self, _store: &Store) -> usize {
        let Some(f) = self.top() else { return 0 };
        match &f.kind {
            Kind::Registries(_) => Self::registries(f).len(),
            Kind::Repositories(l) | Kind::Tags { list: l, .. } => {
                Self::names(f).len() + usize::from(l.next.is_some())
            }
            Kind::Manifest { load, .. } => view::rows(&ViewLevel::Manifest(load)),
        }
    }

    fn sync(&mut self, cx: &mut Ctx, shown: bool) -> bool {
        if shown && !self.started {
            self.started = true;
            if self.stack.is_empty() {
                self.reset(cx);
            }
            return true;
        }
        false
    }

    fn draw(&mut self, f: &mut Frame, area: Rect, v: &View) {
        let path = self.path();
        let path: Vec<&str> = path.iter().map(String::as_str).collect();
        let login_key = v.key_if_allowed(INFO.context, LOGIN);
        let open_key = v.key_if_allowed(INFO.context, OPEN);
        let loading = Load::Loading;
        let Some(top) = self.stack.last_mut() else {
            let m = view::Model {
                path,
                level: ViewLevel::Registries(&loading),
                transfer: self.transfer.as_ref(),
                login_key: login_key.as_deref(),
                open_key: open_key.as_deref(),
                focused: v.focused,
            };
            return view::draw(f, area, v.theme, &m, &mut Default::default());
        };
        // The filter applies to what is drawn.
        let none = BTreeMap::new();
        let filtered_regs: Load<Vec<RegistryEntry>>;
        let filtered_names: Load<Names>;
        let level = match &top.kind {
            Kind::Registries(load) => {
                filtered_regs = load.clone().map(|v| {
                    v.into_iter()
                        .filter(|r| top.list.filter.matches(&[&r.registry], &none))
                        .collect()
                });
                ViewLevel::Registries(&filtered_regs)
            }
            Kind::Repositories(l) | Kind::Tags { list: l, .. } => {
                filtered_names = l.load.clone().map(|mut n| {
                    n.names.retain(|x| top.list.filter.matches(&[x], &none));
                    n
                });
                ViewLevel::Names {
                    tags: matches!(top.kind, Kind::Tags { .. }),
                    load: &filtered_names,
                }
            }
            Kind::Manifest { load, .. } => ViewLevel::Manifest(load),
        };
        let m = view::Model {
            path,
            level,
            transfer: self.transfer.as_ref(),
            login_key: login_key.as_deref(),
            open_key: open_key.as_deref(),
            focused: v.focused,
        };
        view::draw(f, area, v.theme, &m, &mut top.list.cursor);
    }
}

impl Registries {
    /// Messages from forms and confirmations (not a worker's [`Answer`]).
    fn answer_other(&mut self, m: PaneMsg, cx: &mut Ctx) {
        let m = match m.take_or_keep::<Login>() {
            Ok(Login {
                server,
                user,
                password,
            }) => {
                cx.emit(Effect::note(
                    NoteLevel::Info,
                    format!("logging in to {server} as {user}…"),
                ));
                cx.ask(INFO.context, move |e, c| {
                    let result = api::registry_login(e, c, &server, &user, &password);
                    Answer::LoggedIn { server, result }
                });
                return;
            }
            Err(m) => m,
        };
        let m = match m.take_or_keep::<Open>() {
            Ok(Open(a)) => {
                if let Err(e) = self.open_address(&a, cx) {
                    cx.emit(Effect::note(NoteLevel::Error, e));
                }
                return;
            }
            Err(m) => m,
        };
        let m = match m.take_or_keep::<Push>() {
            Ok(Push { local, target }) => {
                let title = format!("pushing {local} to {target}");
                self.transfer(title, cx, move |e, c, on| {
                    api::push_image(e, c, &local, &target, on).map(|()| format!("pushed {target}"))
                });
                return;
            }
            Err(m) => m,
        };
        let Some(a) = m.take::<PaneAnswer>() else {
            return;
        };
        match a {
            PaneAnswer::LoggedOut { server, result } => match result {
                Ok(()) => {
                    cx.emit(Effect::note(
                        NoteLevel::Ok,
                        format!("logged out of {server}"),
                    ));
                    let serial = self.stack.first().map(|f| f.serial);
                    if let Some(s) = serial {
                        cx.ask(INFO.context, move |e, c| Answer::Registries {
                            serial: s,
                            result: api::registry_list(e, c),
                        });
                    }
                }
                Err(e) => cx.emit(Effect::note(
                    NoteLevel::Error,
                    format!("cannot log out of {server}: {e}"),
                )),
            },
            PaneAnswer::Deleted { reference, result } => match result {
                Ok(d) => {
                    let how = if d.tag_only {
                        String::new()
                    } else {
                        format!(
                            " (the registry deleted manifest {}, with every tag naming it)",
                            short_id(&d.digest)
                        )
                    };
                    cx.emit(Effect::note(
                        NoteLevel::Ok,
                        format!("deleted {reference}{how}"),
                    ));
                    // Back to the tags, read again.
                    if self
                        .top()
                        .is_some_and(|f| matches!(f.kind, Kind::Manifest { .. }))
                    {
                        self.stack.pop();
                    }
                    self.refresh(cx);
                }
                Err(e) => cx.emit(Effect::Notify(wharf_views::footer::Notification {
                    level: NoteLevel::Error,
                    text: format!("cannot delete {reference}: {e}"),
                    details: Some(e),
                })),
            },
            PaneAnswer::PolicyWritten { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_addresses_are_checked() {
        assert!(registry_error("127.0.0.1:5000").is_none());
        assert!(registry_error("ghcr.io").is_none());
        assert!(registry_error("").is_some());
        assert!(registry_error("not a host").is_some());
    }
}
