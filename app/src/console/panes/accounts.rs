//! The accounts pane (`:accounts`, admins only): the policy as tables (users, groups,
//! roles with their constraints, projects), edited in forms that check the new policy
//! as loading a policy file does before anything is written (and refuse one that would
//! lock out every admin); who is connected to the engine's socket now; each user's
//! containers and limits against their role. The engine writes the file atomically,
//! keeps the previous version, puts the new one in force and audits the change.

use std::collections::{BTreeMap, BTreeSet};

use ratatui::layout::Rect;
use ratatui::Frame;
use wharf_engine::api::{Connection, PolicyView, RoleView, Usage};
use wharf_engine::policy::edit::{check_not_locked_out, summarize};
use wharf_engine::policy::{
    Action as Perm, Binding, Constraints, Policy, PolicyFile, RoleDef, Scope,
};
use wharf_views::accounts::{self as view, GroupRow, ProjectRow, Rows, Section, UserRow};
use wharf_views::footer::Level as NoteLevel;
use wharf_views::Load;

use super::{Ctx, ListState, Pane, PaneInfo, View};
use crate::console::actions::{self, Action};
use crate::console::api::{self, Call, PaneAnswer, PaneCall};
use crate::console::forms::{checked, Field, Problem};
use crate::console::msg::{Confirm, Effect, PaneMsg};
use crate::console::store::Store;

pub const NEXT: Action = Action::new(
    "section-next",
    "the next section (users, groups, roles, ...)",
)
.short("next section")
.needs(Perm::PolicyRead);
pub const PREV: Action = Action::new("section-prev", "the previous section")
    .short("previous section")
    .needs(Perm::PolicyRead);
pub const NEW: Action = Action::new(
    "account-new",
    "add a user, group or role to the policy (a form, checked before it is written)",
)
.short("add")
.needs(Perm::PolicyWrite);
pub const EDIT: Action = Action::new(
    "account-edit",
    "change the selected user's, group's or role's entry (a form)",
)
.short("edit")
.needs(Perm::PolicyWrite);
pub const REMOVE: Action = Action::new(
    "account-remove",
    "remove the selected entry from the policy (asks first)",
)
.short("remove")
.needs(Perm::PolicyWrite);
pub const SHOW: Action = Action::new("policy-show", "the policy file in force, as JSON")
    .short("policy file")
    .needs(Perm::PolicyRead);

pub static INFO: PaneInfo = PaneInfo {
    title: "Accounts",
    short: "Acct",
    context: "accounts",
    commands: &["accounts", "policy"],
    takes_container: false,
    actions: &[NEXT, EDIT, NEW, REMOVE, SHOW, PREV],
    make: || Box::new(Accounts::default()),
};

/// The accounts pane.
#[derive(Debug)]
pub struct Accounts {
    section: Section,
    policy: Load<PolicyView>,
    users: Vec<UserRow>,
    groups: Vec<GroupRow>,
    projects: Vec<ProjectRow>,
    conns: Load<Vec<Connection>>,
    socket: Option<String>,
    usage: Load<Vec<Usage>>,
    /// A cursor and filter per section.
    lists: Vec<ListState>,
    started: bool,
}

impl Default for Accounts {
    fn default() -> Self {
        Accounts {
            section: Section::Users,
            policy: Load::Loading,
            users: vec![],
            groups: vec![],
            projects: vec![],
            conns: Load::Loading,
            socket: None,
            usage: Load::Loading,
            lists: Section::ALL.iter().map(|_| ListState::default()).collect(),
            started: false,
        }
    }
}

/// What workers answer.
#[derive(Debug)]
enum Answer {
    Policy(Result<PolicyView, String>),
    Connections(Result<wharf_engine::api::Connections, String>),
    Usage(Result<Vec<Usage>, String>),
}

/// The rows of a section the `/` filter lets through ([`Accounts::visible`]).
enum Visible<'a> {
    Users(Vec<&'a UserRow>),
    Groups(Vec<&'a GroupRow>),
    Roles(Vec<&'a RoleView>),
    /// A section without a filter: its number of rows.
    Other(usize),
}

impl Visible<'_> {
    fn len(&self) -> usize {
        match self {
            Visible::Users(v) => v.len(),
            Visible::Groups(v) => v.len(),
            Visible::Roles(v) => v.len(),
            Visible::Other(n) => *n,
        }
    }
}

/// Which entry a form edits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    User,
    Group,
}

impl Entry {
    fn word(self) -> &'static str {
        match self {
            Entry::User => "user",
            Entry::Group => "group",
        }
    }
    fn map(self, f: &mut PolicyFile) -> &mut BTreeMap<String, Binding> {
        match self {
            Entry::User => &mut f.users,
            Entry::Group => &mut f.groups,
        }
    }
}

/// A changed policy, checked as a file being loaded is, and not locking out every
/// admin: its text and what changed. `me` is the editor's uid.
fn check_policy(view: &PolicyView, new: &PolicyFile, me: u32) -> Result<(String, String), String> {
    let source = view.source.clone().unwrap_or_default();
    let text = serde_json::to_string_pretty(new).map_err(|e| e.to_string())? + "\n";
    let p = Policy::parse(std::path::Path::new(&source), &text).map_err(|e| e.message)?;
    check_not_locked_out(&p, me).map_err(|e| e.message)?;
    let what = summarize(&view.file, new);
    if what == "no change" {
        return Err("nothing changed".into());
    }
    Ok((text, what))
}

/// `container:* image:list,pull` as a role's permissions.
pub fn parse_permissions(s: &str) -> Result<BTreeMap<String, Vec<String>>, String> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for item in s.split_whitespace() {
        let (kind, verbs) = item.split_once(':').ok_or_else(|| {
            format!("{item:?}: write kind:verb,verb (e.g. image:list,pull or container:*)")
        })?;
        if kind.is_empty() || verbs.is_empty() {
            return Err(format!("{item:?}: write kind:verb,verb"));
        }
        out.entry(kind.to_string()).or_default().extend(
            verbs
                .split(',')
                .filter(|v| !v.is_empty())
                .map(str::to_string),
        );
    }
    Ok(out)
}

/// A role's permissions as [`parse_permissions`] reads them.
pub fn format_permissions(p: &BTreeMap<String, Vec<String>>) -> String {
    p.iter()
        .map(|(k, v)| format!("{k}:{}", v.join(",")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `no`/`yes`/`true`/`false`.
fn flag(k: &str, v: &str) -> Result<bool, String> {
    match v {
        "true" | "yes" => Ok(true),
        "false" | "no" => Ok(false),
        _ => Err(format!("{k}={v}: write {k}=true or {k}=false")),
    }
}

/// `max_memory=1g publish_ports=false bind_mounts=/srv/a,/srv/b images=docker.io/*` as
/// constraints (`bind_mounts=` alone forbids bind mounts).
pub fn parse_constraints(s: &str) -> Result<Constraints, String> {
    let mut c = Constraints::default();
    let list = |v: &str| -> Vec<String> {
        v.split(',')
            .filter(|x| !x.is_empty())
            .map(str::to_string)
            .collect()
    };
    for item in s.split_whitespace() {
        let (k, v) = item
            .split_once('=')
            .ok_or_else(|| format!("{item:?}: write key=value (e.g. max_memory=1g)"))?;
        match k {
            "bind_mounts" => c.bind_mounts = Some(list(v)),
            "images" => c.images = Some(list(v)),
            "publish_ports" => c.publish_ports = Some(flag(k, v)?),
            "host_network" => c.host_network = Some(flag(k, v)?),
            "privileged" => c.privileged = Some(flag(k, v)?),
            "cap_add" => c.cap_add = Some(flag(k, v)?),
            "seccomp" => c.seccomp = Some(flag(k, v)?),
            "raise_ulimits" => c.raise_ulimits = Some(flag(k, v)?),
            "max_memory" => {
                c.max_memory = Some(
                    v.parse::<wharf_engine::api::flags::ByteSize>()
                        .map(|b| b.0 as i64)
                        .map_err(|e| format!("max_memory={v}: {e}"))?,
                )
            }
            "max_cpus" => {
                c.max_cpus = Some(
                    v.parse::<f64>()
                        .ok()
                        .filter(|x| *x > 0.0)
                        .ok_or_else(|| format!("max_cpus={v}: a number of CPUs, e.g. 1.5"))?,
                )
            }
            "max_pids" => {
                c.max_pids = Some(
                    v.parse::<i64>()
                        .ok()
                        .filter(|x| *x > 0)
                        .ok_or_else(|| format!("max_pids={v}: a whole number above 0"))?,
                )
            }
            _ => {
                return Err(format!(
                    "unknown constraint {k:?} (known: bind_mounts images publish_ports host_network privileged cap_add seccomp raise_ulimits max_memory max_cpus max_pids)"
                ))
            }
        }
    }
    Ok(c)
}

/// Constraints as [`parse_constraints`] reads them.
pub fn format_constraints(c: &Constraints) -> String {
    let mut v = Vec::new();
    if let Some(b) = &c.bind_mounts {
        v.push(format!("bind_mounts={}", b.join(",")));
    }
    for (k, f) in [
        ("publish_ports", c.publish_ports),
        ("host_network", c.host_network),
        ("privileged", c.privileged),
        ("cap_add", c.cap_add),
        ("seccomp", c.seccomp),
        ("raise_ulimits", c.raise_ulimits),
    ] {
        if let Some(f) = f {
            v.push(format!("{k}={f}"));
        }
    }
    if let Some(m) = c.max_memory {
        v.push(format!("max_memory={m}"));
    }
    if let Some(x) = c.max_cpus {
        v.push(format!("max_cpus={x}"));
    }
    if let Some(p) = c.max_pids {
        v.push(format!("max_pids={p}"));
    }
    if let Some(i) = &c.images {
        v.push(format!("images={}", i.join(",")));
    }
    v.join(" ")
}

fn scope_of(s: &str) -> Result<Option<Scope>, String> {
    Ok(match s.trim() {
        "" => None,
        "own" => Some(Scope::Own),
        "project" => Some(Scope::Project),
        "all" => Some(Scope::All),
        other => {
            return Err(format!(
                "{other:?}: the scope is own, project or all (or empty to inherit)"
            ))
        }
    })
}

fn scope_word(s: Option<Scope>) -> &'static str {
    match s {
        None => "",
        Some(Scope::Own) => "own",
        Some(Scope::Project) => "project",
        Some(Scope::All) => "all",
    }
}

/// A name as a policy key: no spaces, not empty.
fn key_error(what: &str, s: &str) -> Option<String> {
    if s.trim().is_empty() {
        Some(format!("a {what} name or id"))
    } else if s.contains(char::is_whitespace) {
        Some(format!("a {what} name has no spaces"))
    } else {
        None
    }
}

impl Accounts {
    fn index(&self) -> usize {
        Section::ALL
            .iter()
            .position(|s| *s == self.section)
            .unwrap_or(0)
    }

    fn load(&mut self, cx: &mut Ctx) {
        cx.ask(INFO.context, |e, c| Answer::Policy(api::policy_read(e, c)));
        self.load_live(cx);
    }

    fn load_live(&mut self, cx: &mut Ctx) {
        cx.ask(INFO.context, |e, c| {
            Answer::Connections(api::connections(e, c))
        });
        cx.ask(INFO.context, |e, c| Answer::Usage(api::account_usage(e, c)));
    }

    /// The rows of the tables, from the policy (uids and members from this machine).
    fn rebuild(&mut self) {
        let Load::Ready(v) = &self.policy else {
            return;
        };
        let admins: BTreeSet<u32> = v.admins.iter().map(|a| a.0).collect();
        self.users = v
            .file
            .users
            .iter()
            .map(|(name, b)| {
                let uid = name.parse::<u32>().ok().or_else(|| {
                    nix::unistd::User::from_name(name)
                        .ok()
                        .flatten()
                        .map(|u| u.uid.as_raw())
                });
                UserRow {
                    name: name.clone(),
                    uid,
                    role: b.role.clone(),
                    project: b.project.clone(),
                    admin: uid.is_some_and(|u| admins.contains(&u)),
                }
            })
            .collect();
        self.groups = v
            .file
            .groups
            .iter()
            .map(|(name, b)| {
                let g = match name.parse::<u32>() {
                    Ok(gid) => nix::unistd::Group::from_gid(nix::unistd::Gid::from_raw(gid)),
                    Err(_) => nix::unistd::Group::from_name(name),
                }
                .ok()
                .flatten();
                GroupRow {
                    name: name.clone(),
                    gid: g.as_ref().map(|g| g.gid.as_raw()),
                    role: b.role.clone(),
                    project: b.project.clone(),
                    members: g.map(|g| g.mem).unwrap_or_default(),
                }
            })
            .collect();
        let mut projects: BTreeMap<String, ProjectRow> = BTreeMap::new();
        for (who, b, user) in v
            .file
            .users
            .iter()
            .map(|(k, b)| (k, b, true))
            .chain(v.file.groups.iter().map(|(k, b)| (k, b, false)))
        {
            if let Some(p) = &b.project {
                let row = projects.entry(p.clone()).or_insert_with(|| ProjectRow {
                    name: p.clone(),
                    users: vec![],
                    groups: vec![],
                });
                if user {
                    row.users.push(who.clone());
                } else {
                    row.groups.push(who.clone());
                }
            }
        }
        self.projects = projects.into_values().collect();
    }

    fn index_of(s: Section) -> usize {
        Section::ALL.iter().position(|x| *x == s).unwrap_or(0)
    }

    /// The rows of section `s` its `/` filter lets through, in the order shown: what
    /// the table draws, counts and every action picks its entry from.
    fn visible(&self, s: Section) -> Visible<'_> {
        // The filter applies to the name and the role.
        let filter = &self.lists[Self::index_of(s)].filter;
        let none = BTreeMap::new();
        match s {
            Section::Users => Visible::Users(
                self.users
                    .iter()
                    .filter(|u| filter.matches(&[&u.name, &u.role], &none))
                    .collect(),
            ),
            Section::Groups => Visible::Groups(
                self.groups
                    .iter()
                    .filter(|g| filter.matches(&[&g.name, &g.role], &none))
                    .collect(),
            ),
            Section::Roles => Visible::Roles(
                self.policy
                    .ready()
                    .map(|v| {
                        v.roles
                            .iter()
                            .filter(|r| filter.matches(&[&r.name], &none))
                            .collect()
                    })
                    .unwrap_or_default(),
            ),
            Section::Projects => Visible::Other(self.projects.len()),
            Section::Connected => Visible::Other(self.conns.ready().map(Vec::len).unwrap_or(0)),
            Section::Usage => Visible::Other(self.usage.ready().map(Vec::len).unwrap_or(0)),
        }
    }

    fn selected(&self) -> usize {
        self.lists[self.index()].cursor.selected
    }

    /// The user under the cursor (of the filtered rows).
    fn selected_user(&self) -> Option<&UserRow> {
        match self.visible(Section::Users) {
            Visible::Users(v) => v.get(self.selected()).copied(),
            _ => None,
        }
    }

    fn selected_group(&self) -> Option<&GroupRow> {
        match self.visible(Section::Groups) {
            Visible::Groups(v) => v.get(self.selected()).copied(),
            _ => None,
        }
    }

    fn selected_role(&self) -> Option<&RoleView> {
        match self.visible(Section::Roles) {
            Visible::Roles(v) => v.get(self.selected()).copied(),
            _ => None,
        }
    }

    /// The form for a user or group binding (`old`: the entry edited, by name).
    fn binding_form(&self, entry: Entry, old: Option<(String, Binding)>, cx: &mut Ctx) {
        let Load::Ready(view) = &self.policy else {
            return;
        };
        if view.source.is_none() {
            cx.emit(Effect::note(
                NoteLevel::Warn,
                "no policy to change: wharf runs in single-user mode (start it with --policy PATH)",
            ));
            return;
        }
        let roles: Vec<String> = view.roles.iter().map(|r| r.name.clone()).collect();
        let me = cx.worker.caller.uid;
        let view = view.clone();
        let old_name = old.as_ref().map(|o| o.0.clone());
        let (name, role, project) = match &old {
            Some((n, b)) => (
                n.clone(),
                b.role.clone(),
                b.project.clone().unwrap_or_default(),
            ),
            None => (String::new(), "user".to_string(), String::new()),
        };
        let word = entry.word();
        let build = move |v: &[String]| -> Result<(String, String), Problem> {
            if let Some(e) = key_error(word, &v[0]) {
                return Err((Some(0), e));
            }
            if !roles.iter().any(|r| r == v[1].trim()) {
                return Err((Some(1), format!("one of the roles: {}", roles.join(", "))));
            }
            if v[2].contains(char::is_whitespace) {
                return Err((Some(2), "a project name has no spaces".into()));
            }
            let mut file = view.file.clone();
            if let Some(o) = &old_name {
                entry.map(&mut file).remove(o);
            }
            let name = v[0].trim().to_string();
            if old_name.as_deref() != Some(name.as_str())
                && entry.map(&mut file).contains_key(&name)
            {
                return Err((
                    Some(0),
                    format!("the policy names {word} {name} already: edit that entry"),
                ));
            }
            entry.map(&mut file).insert(
                name,
                Binding {
                    role: v[1].trim().to_string(),
                    project: Some(v[2].trim().to_string()).filter(|p| !p.is_empty()),
                },
            );
            check_policy(&view, &file, me).map_err(|e| (None, e))
        };
        let build2 = build.clone();
        let base = self.policy.ready().and_then(|v| v.digest.clone());
        let title = match &old {
            Some((n, _)) => format!("{word} {n}"),
            None => format!("add a {word}"),
        };
        let form = checked(
            title,
            vec![
                Field::new(word, name).hint("a name, or a numeric id"),
                Field::new("role", role)
                    .hint("admin, operator, user, viewer, auditor, or the policy's"),
                Field::new("project", project).hint("optional: shares resources within it"),
            ],
            "write the policy",
            Box::new(move |v| build(v).map(|(_, what)| format!("will change: {what}"))),
            Box::new(move |v| match build2(&v) {
                Ok((text, what)) => write(text, base, what),
                Err((_, e)) => Effect::note(NoteLevel::Error, e),
            }),
        )
        .focus(if old.is_some() { 1 } else { 0 });
        cx.emit(Effect::Form(Box::new(form)));
    }

    /// The form for a role (`old`: the role edited).
    fn role_form(&self, old: Option<&RoleView>, cx: &mut Ctx) {
        let Load::Ready(view) = &self.policy else {
            return;
        };
        if view.source.is_none() {
            cx.emit(Effect::note(
                NoteLevel::Warn,
                "no policy to change: wharf runs in single-user mode (start it with --policy PATH)",
            ));
            return;
        }
        let me = cx.worker.caller.uid;
        // The file's own definition when it has one; a built-in role starts empty (an
        // override adds to nothing: write what the role should have).
        let def: RoleDef = old
            .and_then(|r| view.file.roles.get(&r.name).cloned())
            .unwrap_or_default();
        let old_name = old.map(|r| r.name.clone());
        let fields = vec![
            Field::new("role", old_name.clone().unwrap_or_default()),
            Field::new("inherits", def.inherits.clone().unwrap_or_default())
                .hint("a role to start from, e.g. user"),
            Field::new("scope", scope_word(def.scope))
                .hint("own, project or all (empty: inherited)"),
            Field::new("permissions", format_permissions(&def.permissions))
                .hint("kind:verb,verb ... e.g. image:list,pull container:*"),
            Field::new("constraints", format_constraints(&def.constraints))
                .hint("key=value ... e.g. max_memory=1g publish_ports=false bind_mounts="),
            Field::new("description", def.description.clone()),
        ];
        let view = view.clone();
        let build = move |v: &[String]| -> Result<(String, String), Problem> {
            if let Some(e) = key_error("role", &v[0]) {
                return Err((Some(0), e));
            }
            let scope = scope_of(&v[2]).map_err(|e| (Some(2), e))?;
            let permissions = parse_permissions(&v[3]).map_err(|e| (Some(3), e))?;
            let constraints = parse_constraints(&v[4]).map_err(|e| (Some(4), e))?;
            let mut file = view.file.clone();
            let name = v[0].trim().to_string();
            if let Some(o) = &old_name {
                if *o != name {
                    file.roles.remove(o);
                }
            }
            if old_name.as_deref() != Some(name.as_str())
                && view.roles.iter().any(|r| r.name == name)
            {
                return Err((Some(0), format!("role {name} exists already: edit it")));
            }
            file.roles.insert(
                name,
                RoleDef {
                    inherits: Some(v[1].trim().to_string()).filter(|s| !s.is_empty()),
                    permissions,
                    scope,
                    constraints,
                    description: v[5].trim().to_string(),
                },
            );
            check_policy(&view, &file, me).map_err(|e| (None, e))
        };
        let build2 = build.clone();
        let base = self.policy.ready().and_then(|v| v.digest.clone());
        let title = match old {
            Some(r) => format!("role {}", r.name),
            None => "add a role".to_string(),
        };
        let form = checked(
            title,
            fields,
            "write the policy",
            Box::new(move |v| build(v).map(|(_, what)| format!("will change: {what}"))),
            Box::new(move |v| match build2(&v) {
                Ok((text, what)) => write(text, base, what),
                Err((_, e)) => Effect::note(NoteLevel::Error, e),
            }),
        )
        .focus(if old.is_some() { 1 } else { 0 });
        cx.emit(Effect::Form(Box::new(form)));
    }

    fn ask_remove(&self, cx: &mut Ctx) {
        let Load::Ready(view) = &self.policy else {
            return;
        };
        let mut file = view.file.clone();
        let what = match self.section {
            Section::Users => self.selected_user().map(|u| {
                file.users.remove(&u.name);
                format!("user {} (role {})", u.name, u.role)
            }),
            Section::Groups => self.selected_group().map(|g| {
                file.groups.remove(&g.name);
                format!("group {} (role {})", g.name, g.role)
            }),
            Section::Roles => match self.selected_role() {
                Some(r) if r.in_file => {
                    file.roles.remove(&r.name);
                    Some(format!("role {}", r.name))
                }
                Some(r) => {
                    cx.emit(Effect::note(
                        NoteLevel::Warn,
                        format!("{} is a built-in role: it cannot be removed", r.name),
                    ));
                    None
                }
                None => None,
            },
            _ => None,
        };
        let Some(what) = what else { return };
        match check_policy(view, &file, cx.worker.caller.uid) {
            Err(e) => cx.emit(Effect::Notify(wharf_views::footer::Notification {
                level: NoteLevel::Error,
                text: format!("cannot remove {what}: {e}"),
                details: Some(e),
            })),
            Ok((text, summary)) => cx.emit(Effect::Confirm(Confirm {
                yes: "remove".into(),
                ..Confirm::new(
                    "remove from the policy",
                    format!("remove {what} from the policy? ({summary})"),
                    Call::Pane {
                        to: INFO.context,
                        call: PaneCall::PolicyWrite {
                            text,
                            base: view.digest.clone(),
                            what: summary,
                        },
                    },
                )
            })),
        }
    }

    fn details(&self, cx: &mut Ctx) {
        let Load::Ready(view) = &self.policy else {
            return;
        };
        let role_text = |name: &str| -> Option<String> {
            let r = view.roles.iter().find(|r| r.name == name)?;
            Some(format!(
                "role {}{}\nscope: {}\nconstraints: {}\n\npermissions:\n  {}",
                r.name,
                r.inherits
                    .as_ref()
                    .map(|i| format!(" (inherits {i})"))
                    .unwrap_or_default(),
                scope_word(Some(r.scope)),
                view::constraints_summary(&r.constraints),
                r.permissions.join("\n  ")
            ))
        };
        let shown = match self.section {
            Section::Roles => self
                .selected_role()
                .and_then(|r| role_text(&r.name).map(|b| (format!("role {}", r.name), b))),
            Section::Users => self.selected_user().and_then(|u| {
                role_text(&u.role).map(|b| {
                    (
                        format!("user {}", u.name),
                        format!("user {} is {}\n\n{b}", u.name, u.role),
                    )
                })
            }),
            Section::Groups => self.selected_group().and_then(|g| {
                role_text(&g.role).map(|b| {
                    (
                        format!("group {}", g.name),
                        format!(
                            "group {} ({}) is {}\n\n{b}",
                            g.name,
                            g.members.join(", "),
                            g.role
                        ),
                    )
                })
            }),
            _ => None,
        };
        if let Some((title, body)) = shown {
            cx.emit(Effect::Show { title, body });
        }
    }
}

/// The effect that writes `text` (the edit of version `base`).
fn write(text: String, base: Option<String>, what: String) -> Effect {
    Effect::Call(Call::Pane {
        to: INFO.context,
        call: PaneCall::PolicyWrite { text, base, what },
    })
}

impl Pane for Accounts {
    fn info(&self) -> &'static PaneInfo {
        &INFO
    }

    fn act(&mut self, a: Action, cx: &mut Ctx) -> bool {
        match a {
            NEXT | PREV => {
                self.section = self.section.step(if a == NEXT { 1 } else { -1 });
                if matches!(self.section, Section::Connected | Section::Usage) {
                    self.load_live(cx);
                }
            }
            actions::REFRESH => self.load(cx),
            actions::DETAILS => self.details(cx),
            NEW => match self.section {
                Section::Users => self.binding_form(Entry::User, None, cx),
                Section::Groups => self.binding_form(Entry::Group, None, cx),
                Section::Roles => self.role_form(None, cx),
                _ => cx.emit(Effect::note(
                    NoteLevel::Info,
                    "add users, groups and roles in their sections (← →)",
                )),
            },
            EDIT => match self.section {
                Section::Users => {
                    let old = self.selected_user().and_then(|u| {
                        self.policy.ready().and_then(|v| {
                            v.file
                                .users
                                .get(&u.name)
                                .map(|b| (u.name.clone(), b.clone()))
                        })
                    });
                    if old.is_some() {
                        self.binding_form(Entry::User, old, cx)
                    }
                }
                Section::Groups => {
                    let old = self.selected_group().and_then(|g| {
                        self.policy.ready().and_then(|v| {
                            v.file
                                .groups
                                .get(&g.name)
                                .map(|b| (g.name.clone(), b.clone()))
                        })
                    });
                    if old.is_some() {
                        self.binding_form(Entry::Group, old, cx)
                    }
                }
                Section::Roles => {
                    let r = self.selected_role().cloned();
                    if let Some(r) = r {
                        self.role_form(Some(&r), cx)
                    }
                }
                _ => {}
            },
            REMOVE => self.ask_remove(cx),
            SHOW => {
                if let Load::Ready(v) = &self.policy {
                    let body = match &v.source {
                        Some(s) => format!(
                            "{s} ({})\n\n{}",
                            v.digest.as_deref().unwrap_or(""),
                            serde_json::to_string_pretty(&v.file).unwrap_or_default()
                        ),
                        None => "no policy: single-user mode".into(),
                    };
                    cx.emit(Effect::Show {
                        title: "policy".into(),
                        body,
                    });
                }
            }
            _ => return false,
        }
        true
    }

    fn answer(&mut self, m: PaneMsg, cx: &mut Ctx) {
        let m = match m.take_or_keep::<Answer>() {
            Ok(a) => a,
            Err(m) => {
                if let Some(PaneAnswer::PolicyWritten { what, result }) = m.take::<PaneAnswer>() {
                    match result {
                        Ok(change) => {
                            cx.emit(Effect::note(
                                NoteLevel::Ok,
                                format!(
                                    "policy written and in force: {} (previous version kept in {})",
                                    change.summary, change.previous
                                ),
                            ));
                            self.policy = Load::Ready(change.view);
                            self.rebuild();
                            self.load_live(cx);
                        }
                        Err(e) => {
                            cx.emit(Effect::Notify(wharf_views::footer::Notification {
                                level: NoteLevel::Error,
                                text: format!("the policy was not changed ({what}): {e}"),
                                details: Some(e),
                            }));
                            self.load(cx);
                        }
                    }
                }
                return;
            }
        };
        match m {
            Answer::Policy(r) => {
                self.policy = r.map(Load::Ready).unwrap_or_else(Load::Error);
                self.rebuild();
            }
            Answer::Connections(r) => match r {
                Ok(c) => {
                    self.socket = c.socket;
                    self.conns = Load::Ready(c.list);
                }
                Err(e) => self.conns = Load::Error(e),
            },
            Answer::Usage(r) => self.usage = r.map(Load::Ready).unwrap_or_else(Load::Error),
        }
    }

    fn status(&self, _store: &Store) -> String {
        let n = self.visible(self.section).len();
        format!(
            "Accounts · {} {}{}",
            n,
            self.section.title().to_lowercase(),
            self.lists[self.index()].filter_status()
        )
    }

    fn list(&mut self) -> Option<&mut ListState> {
        let i = self.index();
        self.lists.get_mut(i)
    }

    fn len(&self, _store: &Store) -> usize {
        self.visible(self.section).len()
    }

    fn sync(&mut self, cx: &mut Ctx, shown: bool) -> bool {
        if shown && !self.started {
            self.started = true;
            self.load(cx);
            return true;
        }
        false
    }

    /// Who is connected and what they use change on their own: read again while shown.
    fn tick(&mut self, cx: &mut Ctx, shown: bool) {
        if shown && matches!(self.section, Section::Connected | Section::Usage) {
            self.load_live(cx);
        }
    }

    fn draw(&mut self, f: &mut Frame, area: Rect, v: &View) {
        let i = self.index();
        let new_key = v.key_if_allowed(INFO.context, NEW);
        // The policy's state without its data (no copy of the policy each frame).
        let load: Load<()> = match &self.policy {
            Load::Loading => Load::Loading,
            Load::Ready(_) => Load::Ready(()),
            Load::Error(e) => Load::Error(e.clone()),
            Load::Unavailable(e) => Load::Unavailable(e.clone()),
        };
        let (source, digest) = match &self.policy {
            Load::Ready(p) => (p.source.as_deref(), p.digest.as_deref()),
            _ => (None, None),
        };
        let mut cursor = self.lists[i].cursor;
        let shown = self.visible(self.section);
        let rows = match &shown {
            Visible::Users(v) => Rows::Users(v),
            Visible::Groups(v) => Rows::Groups(v),
            Visible::Roles(v) => Rows::Roles(v),
            Visible::Other(_) => match self.section {
                Section::Connected => Rows::Connected(&self.conns),
                Section::Usage => Rows::Usage(&self.usage),
                _ => Rows::Projects(&self.projects),
            },
        };
        let m = view::Model {
            section: self.section,
            load: &load,
            source,
            digest,
            rows,
            socket: self.socket.as_deref(),
            new_key: new_key.as_deref(),
            focused: v.focused,
            now: v.now,
        };
        view::draw(f, area, v.theme, &m, &mut cursor);
        self.lists[i].cursor = cursor;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_and_constraints_round_trip() {
        let p = parse_permissions("image:list,pull container:*").unwrap();
        assert_eq!(p["image"], vec!["list", "pull"]);
        assert_eq!(format_permissions(&p), "container:* image:list,pull");
        assert!(parse_permissions("image").is_err());
        let c = parse_constraints("max_memory=1g publish_ports=false bind_mounts= images=a/*,b/*")
            .unwrap();
        assert_eq!(c.max_memory, Some(1 << 30));
        assert_eq!(c.publish_ports, Some(false));
        assert_eq!(c.bind_mounts, Some(vec![]));
        assert_eq!(c.images.as_ref().unwrap().len(), 2);
        assert_eq!(parse_constraints(&format_constraints(&c)).unwrap(), c);
        assert!(parse_constraints("max_cpus=lots").is_err());
        assert!(parse_constraints("wings=2")
            .unwrap_err()
            .contains("unknown constraint"));
    }

    fn view(text: &str) -> PolicyView {
        let p = Policy::parse(std::path::Path::new("/etc/wharf/policy.json"), text).unwrap();
        wharf_engine::policy::accounts::view_of(Some(&p))
    }

    #[test]
    fn an_edit_is_checked_as_a_policy_file() {
        let v = view(r#"{"users": {"nobody": {"role": "user"}}}"#);
        let mut f = v.file.clone();
        f.users.get_mut("nobody").unwrap().role = "operator".into();
        let (text, what) = check_policy(&v, &f, 0).unwrap();
        assert_eq!(what, "user nobody: user -> operator");
        assert!(text.contains("\"operator\""));
        f.users.get_mut("nobody").unwrap().role = "pilot".into();
        assert!(check_policy(&v, &f, 0)
            .unwrap_err()
            .contains("unknown role"));
        // Demoting root as well as everyone else locks every admin out.
        let mut f = v.file.clone();
        f.users.insert(
            "root".into(),
            Binding {
                role: "viewer".into(),
                project: None,
            },
        );
        assert!(check_policy(&v, &f, 0)
            .unwrap_err()
            .contains("lock out every admin"));
        assert_eq!(check_policy(&v, &v.file, 0).unwrap_err(), "nothing changed");
    }

    /// With a `/` filter, the actions pick the entry shown under the cursor, not the
    /// one at the same place in the unfiltered list.
    #[test]
    fn actions_act_on_the_filtered_entry() {
        use std::collections::VecDeque;

        use crate::console::filter::Filter;
        use crate::console::keymap::Keymap;

        let dir = tempfile::tempdir().unwrap();
        let (worker, _rx) = crate::console::worker::Worker::on_temp_root(dir.path());
        let (store, keymap) = (Store::default(), Keymap::default_keymap());
        let mut out = VecDeque::new();
        let mut a = Accounts {
            policy: Load::Ready(view(
                r#"{"users": {"alice": {"role": "user"}, "bob": {"role": "user"},
                    "carol": {"role": "viewer"}}}"#,
            )),
            ..Accounts::default()
        };
        a.rebuild();
        let names: Vec<&str> = a.users.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(names, ["alice", "bob", "carol"]);
        a.lists[0].set_filter("car", Filter::parse("car").unwrap());
        assert_eq!(a.len(&store), 1);
        let mut cx = Ctx {
            store: &store,
            keymap: &keymap,
            worker: &worker,
            out: &mut out,
            page: 10,
        };
        assert!(a.act(REMOVE, &mut cx));
        assert!(a.act(actions::DETAILS, &mut cx));
        let effects: Vec<Effect> = out.drain(..).collect();
        match &effects[..] {
            [Effect::Confirm(c), Effect::Show { title, .. }] => {
                assert!(
                    c.question.starts_with("remove user carol (role viewer)"),
                    "{}",
                    c.question
                );
                assert_eq!(title, "user carol");
            }
            other => panic!("expected a confirmation and details, got {other:?}"),
        }
    }
}
