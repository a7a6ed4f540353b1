//! The accounts pane (admins): the policy as tables, one section at a time (users,
//! groups, roles with their constraints, projects), who is connected to the engine's
//! socket now, and each user's containers and limits against their role.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::Frame;
use wharf_engine::api::{Connection, RoleView, Usage};
use wharf_engine::policy::{Constraints, Scope};

use crate::table::{self, Column, Row};
use crate::theme::Theme;
use crate::util::{ago, fit, size, width};
use crate::{ListCursor, Load};

/// The pane's sections, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Users,
    Groups,
    Roles,
    Projects,
    Connected,
    Usage,
}

impl Section {
    pub const ALL: [Section; 6] = [
        Section::Users,
        Section::Groups,
        Section::Roles,
        Section::Projects,
        Section::Connected,
        Section::Usage,
    ];

    /// Its title in the section bar.
    pub fn title(self) -> &'static str {
        match self {
            Section::Users => "Users",
            Section::Groups => "Groups",
            Section::Roles => "Roles",
            Section::Projects => "Projects",
            Section::Connected => "Connected",
            Section::Usage => "Usage",
        }
    }

    /// The next (or previous, `-1`) section.
    pub fn step(self, d: isize) -> Section {
        let i = Section::ALL.iter().position(|s| *s == self).unwrap_or(0) as isize;
        let n = Section::ALL.len() as isize;
        Section::ALL[(i + d).rem_euclid(n) as usize]
    }
}

/// A user the policy names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    /// As the file writes it (a name or a uid).
    pub name: String,
    /// The uid on this machine (`None`: no such user here).
    pub uid: Option<u32>,
    pub role: String,
    pub project: Option<String>,
    /// May change the policy.
    pub admin: bool,
}

/// A group the policy names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRow {
    pub name: String,
    pub gid: Option<u32>,
    pub role: String,
    pub project: Option<String>,
    pub members: Vec<String>,
}

/// A project and who is in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectRow {
    pub name: String,
    pub users: Vec<String>,
    pub groups: Vec<String>,
}

/// The rows of the section shown.
#[derive(Debug)]
pub enum Rows<'a> {
    Users(&'a [&'a UserRow]),
    Groups(&'a [&'a GroupRow]),
    Roles(&'a [&'a RoleView]),
    Projects(&'a [ProjectRow]),
    Connected(&'a Load<Vec<Connection>>),
    Usage(&'a Load<Vec<Usage>>),
}

/// The pane's view-model.
#[derive(Debug)]
pub struct Model<'a> {
    pub section: Section,
    /// The policy's state: loading, refused, or ready (then `rows` is the section's).
    pub load: &'a Load<()>,
    /// The policy file (`None`: single-user mode, no policy).
    pub source: Option<&'a str>,
    /// `sha256:…` of the file in force.
    pub digest: Option<&'a str>,
    pub rows: Rows<'a>,
    /// The socket of the server whose connections are listed.
    pub socket: Option<&'a str>,
    /// Keys to offer in empty states (add a user ...).
    pub new_key: Option<&'a str>,
    pub focused: bool,
    pub now: i64,
}

const fn col(title: &'static str, width: u16, flex: bool, priority: u8) -> Column {
    Column {
        title,
        width,
        flex,
        priority,
    }
}

pub const USER_COLUMNS: [Column; 5] = [
    col("USER", 16, true, 0),
    col("UID", 7, false, 3),
    col("ROLE", 12, false, 0),
    col("PROJECT", 14, false, 1),
    col("ADMIN", 6, false, 2),
];
pub const GROUP_COLUMNS: [Column; 5] = [
    col("GROUP", 16, true, 0),
    col("GID", 7, false, 3),
    col("ROLE", 12, false, 0),
    col("PROJECT", 14, false, 1),
    col("MEMBERS", 20, true, 2),
];
pub const ROLE_COLUMNS: [Column; 6] = [
    col("ROLE", 12, false, 0),
    col("FROM", 9, false, 3),
    col("INHERITS", 9, false, 4),
    col("SCOPE", 8, false, 2),
    col("CONSTRAINTS", 30, true, 1),
    col("PERMISSIONS", 24, true, 5),
];
pub const PROJECT_COLUMNS: [Column; 3] = [
    col("PROJECT", 16, false, 0),
    col("USERS", 24, true, 1),
    col("GROUPS", 20, true, 2),
];
pub const CONNECTED_COLUMNS: [Column; 6] = [
    col("#", 5, false, 3),
    col("USER", 14, true, 0),
    col("ROLE", 12, false, 1),
    col("SINCE", 12, false, 2),
    col("CALLS", 7, false, 0),
    col("LAST CALL", 12, false, 4),
];
pub const USAGE_COLUMNS: [Column; 6] = [
    col("USER", 14, true, 0),
    col("ROLE", 12, false, 1),
    col("CONTAINERS", 10, false, 0),
    col("RUNNING", 7, false, 0),
    col("MEMORY LIMITS", 26, false, 2),
    col("CPU LIMITS", 20, false, 3),
];

fn scope_word(s: Scope) -> &'static str {
    match s {
        Scope::Own => "own",
        Scope::Project => "project",
        Scope::All => "all",
    }
}

/// A role's constraints in a few words, only those that restrict: `no binds, no ports,
/// mem ≤ 1 GiB, images docker.io/*`; `none` when the role is unrestricted.
pub fn constraints_summary(c: &Constraints) -> String {
    let mut v: Vec<String> = Vec::new();
    match &c.bind_mounts {
        Some(p) if p.is_empty() => v.push("no binds".into()),
        Some(p) => v.push(format!("binds {}", p.join(" "))),
        None => {}
    }
    for (flag, word) in [
        (c.publish_ports, "ports"),
        (c.host_network, "host net"),
        (c.privileged, "privileged"),
        (c.cap_add, "cap-add"),
        (c.seccomp, "seccomp change"),
        (c.raise_ulimits, "ulimit raise"),
    ] {
        if flag == Some(false) {
            v.push(format!("no {word}"));
        }
    }
    if let Some(m) = c.max_memory {
        v.push(format!("mem ≤ {}", size(m.max(0) as u64)));
    }
    if let Some(x) = c.max_cpus {
        v.push(format!("cpus ≤ {x}"));
    }
    if let Some(p) = c.max_pids {
        v.push(format!("pids ≤ {p}"));
    }
    if let Some(i) = &c.images {
        v.push(format!("images {}", i.join(" ")));
    }
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

/// Draw the pane.
pub fn draw(f: &mut Frame, area: Rect, theme: &Theme, m: &Model, cursor: &mut ListCursor) {
    if area.height < 2 {
        return;
    }
    let buf = f.buffer_mut();
    draw_bar(buf, area, theme, m);
    let body = Rect {
        y: area.y + 1,
        height: area.height - 1,
        ..area
    };
    let cols: &[Column] = match m.rows {
        Rows::Users(_) => &USER_COLUMNS,
        Rows::Groups(_) => &GROUP_COLUMNS,
        Rows::Roles(_) => &ROLE_COLUMNS,
        Rows::Projects(_) => &PROJECT_COLUMNS,
        Rows::Connected(_) => &CONNECTED_COLUMNS,
        Rows::Usage(_) => &USAGE_COLUMNS,
    };
    if let Some(lines) = table::load_lines(
        m.load,
        "reading the policy…",
        "cannot read the policy",
        theme,
    ) {
        return table::draw_empty(buf, body, theme, cols, None, &lines);
    }
    let empty = |what: &str, hint: Option<String>| {
        let mut v = vec![(what.to_string(), theme.text())];
        v.extend(hint.map(|h| (h, theme.accent())));
        v
    };
    let new_hint = |what: &str| {
        m.new_key
            .filter(|_| m.source.is_some())
            .map(|k| format!("Press {k} to add a {what}."))
    };
    match &m.rows {
        Rows::Users([]) => {
            let what = if m.source.is_none() {
                "No policy: single-user mode, root is admin and nobody else has a role. Start wharf with --policy PATH to have roles."
            } else {
                "The policy names no user (root is admin unless it says otherwise)."
            };
            table::draw_empty(buf, body, theme, cols, None, &empty(what, new_hint("user")))
        }
        Rows::Users(rows) => table::draw_rows(
            buf,
            body,
            theme,
            cols,
            None,
            rows.len(),
            cursor,
            m.focused,
            |i| {
                let r = &rows[i];
                Row {
                    cells: vec![
                        Span::raw(r.name.as_str()),
                        match r.uid {
                            Some(u) => Span::styled(u.to_string(), theme.dim()),
                            None => Span::styled("unknown", theme.warn()),
                        },
                        Span::raw(r.role.as_str()),
                        Span::styled(r.project.clone().unwrap_or_else(|| "-".into()), theme.dim()),
                        if r.admin {
                            Span::styled("★", theme.warn())
                        } else {
                            Span::raw("")
                        },
                    ],
                    marked: false,
                }
            },
        ),
        Rows::Groups([]) => table::draw_empty(
            buf,
            body,
            theme,
            cols,
            None,
            &empty("The policy names no group.", new_hint("group")),
        ),
        Rows::Groups(rows) => table::draw_rows(
            buf,
            body,
            theme,
            cols,
            None,
            rows.len(),
            cursor,
            m.focused,
            |i| {
                let r = &rows[i];
                Row {
                    cells: vec![
                        Span::raw(r.name.as_str()),
                        match r.gid {
                            Some(g) => Span::styled(g.to_string(), theme.dim()),
                            None => Span::styled("unknown", theme.warn()),
                        },
                        Span::raw(r.role.as_str()),
                        Span::styled(r.project.clone().unwrap_or_else(|| "-".into()), theme.dim()),
                        Span::styled(r.members.join(", "), theme.dim()),
                    ],
                    marked: false,
                }
            },
        ),
        Rows::Roles(rows) => table::draw_rows(
            buf,
            body,
            theme,
            cols,
            None,
            rows.len(),
            cursor,
            m.focused,
            |i| {
                let r = &rows[i];
                let from = match (r.builtin, r.in_file) {
                    (true, true) => "changed",
                    (true, false) => "built-in",
                    _ => "policy",
                };
                let perms = if r.permissions.len() > 40 {
                    format!("{} permissions", r.permissions.len())
                } else {
                    r.permissions.join(" ")
                };
                Row {
                    cells: vec![
                        Span::raw(r.name.as_str()),
                        Span::styled(from, theme.dim()),
                        Span::styled(
                            r.inherits.clone().unwrap_or_else(|| "-".into()),
                            theme.dim(),
                        ),
                        Span::raw(scope_word(r.scope)),
                        Span::raw(constraints_summary(&r.constraints)),
                        Span::styled(perms, theme.dim()),
                    ],
                    marked: false,
                }
            },
        ),
        Rows::Projects([]) => table::draw_empty(
            buf,
            body,
            theme,
            cols,
            None,
            &empty(
                "No projects: give a user or a group a project to share resources within it.",
                None,
            ),
        ),
        Rows::Projects(rows) => table::draw_rows(
            buf,
            body,
            theme,
            cols,
            None,
            rows.len(),
            cursor,
            m.focused,
            |i| {
                let r = &rows[i];
                Row {
                    cells: vec![
                        Span::raw(r.name.as_str()),
                        Span::raw(r.users.join(", ")),
                        Span::styled(r.groups.join(", "), theme.dim()),
                    ],
                    marked: false,
                }
            },
        ),
        Rows::Connected(load) => {
            let lines =
                table::load_lines(load, "asking the server…", "cannot list connections", theme);
            match load {
                Load::Ready(rows) if !rows.is_empty() => table::draw_rows(
                    buf,
                    body,
                    theme,
                    cols,
                    None,
                    rows.len(),
                    cursor,
                    m.focused,
                    |i| {
                        let c = &rows[i];
                        Row {
                            cells: vec![
                                Span::styled(c.id.to_string(), theme.dim()),
                                Span::raw(format!("{} ({})", c.user, c.uid)),
                                Span::raw(c.role.as_str()),
                                Span::styled(ago(c.since, m.now), theme.dim()),
                                Span::raw(c.calls.to_string()),
                                Span::styled(ago(c.last, m.now), theme.dim()),
                            ],
                            marked: false,
                        }
                    },
                ),
                _ => {
                    let lines = lines.unwrap_or_else(|| match m.socket {
                        Some(s) => vec![(format!("Nobody is connected to {s}."), theme.text())],
                        None => vec![
                            (
                                "No wharf serve runs for this engine's state root.".into(),
                                theme.text(),
                            ),
                            (
                                "Start one with `wharf serve`; its connections show here.".into(),
                                theme.accent(),
                            ),
                        ],
                    });
                    table::draw_empty(buf, body, theme, cols, None, &lines)
                }
            }
        }
        Rows::Usage(load) => {
            let lines = table::load_lines(load, "counting containers…", "cannot read usage", theme);
            match load {
                Load::Ready(rows) if !rows.is_empty() => table::draw_rows(
                    buf,
                    body,
                    theme,
                    cols,
                    None,
                    rows.len(),
                    cursor,
                    m.focused,
                    |i| {
                        let u = &rows[i];
                        let mem = {
                            let mut s = size(u.memory.max(0) as u64);
                            if u.memory_unlimited > 0 {
                                s.push_str(&format!(" + {} unlimited", u.memory_unlimited));
                            }
                            if let Some(max) = u.limits.max_memory {
                                s.push_str(&format!(" (≤ {} each)", size(max.max(0) as u64)));
                            }
                            s
                        };
                        let cpu = {
                            let mut s = format!("{:.2}", u.cpus);
                            if u.cpus_unlimited > 0 {
                                s.push_str(&format!(" + {} unl.", u.cpus_unlimited));
                            }
                            if let Some(max) = u.limits.max_cpus {
                                s.push_str(&format!(" (≤ {max})"));
                            }
                            s
                        };
                        Row {
                            cells: vec![
                                Span::raw(format!("{} ({})", u.user, u.uid)),
                                Span::raw(u.role.as_str()),
                                Span::raw(u.containers.to_string()),
                                if u.running > 0 {
                                    Span::styled(u.running.to_string(), theme.ok())
                                } else {
                                    Span::styled("0", theme.dim())
                                },
                                Span::raw(mem),
                                Span::raw(cpu),
                            ],
                            marked: false,
                        }
                    },
                ),
                _ => {
                    let lines = lines.unwrap_or_else(|| {
                        vec![(
                            "No containers, and the policy names no user.".into(),
                            theme.text(),
                        )]
                    });
                    table::draw_empty(buf, body, theme, cols, None, &lines)
                }
            }
        }
    }
}

fn draw_bar(buf: &mut Buffer, area: Rect, theme: &Theme, m: &Model) {
    let mut x = area.x + 1;
    for (i, s) in Section::ALL.iter().enumerate() {
        if i > 0 {
            buf.set_string(x, area.y, " · ", theme.dim());
            x += 3;
        }
        let style = if *s == m.section {
            theme
                .selected()
                .add_modifier(ratatui::style::Modifier::BOLD)
        } else {
            theme.dim()
        };
        buf.set_string(x, area.y, s.title(), style);
        x += width(s.title()) as u16;
    }
    let right = match (m.source, m.digest) {
        (Some(s), Some(d)) => format!("{s} · {}", crate::util::short_id(d)),
        (Some(s), None) => s.to_string(),
        (None, _) => "no policy (single-user mode)".into(),
    };
    let room = area.right().saturating_sub(x + 3) as usize;
    if room > 8 {
        let t = fit(&right, room);
        let w = width(&t) as u16;
        buf.set_string(area.right() - w - 1, area.y, &t, theme.dim());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{render, NOW};

    fn shot(w: u16, h: u16, m: &Model) -> String {
        let mut cur = ListCursor::default();
        render(w, h, |f| draw(f, f.area(), &Theme::default(), m, &mut cur))
    }

    fn model<'a>(section: Section, load: &'a Load<()>, rows: Rows<'a>) -> Model<'a> {
        Model {
            section,
            load,
            source: Some("/etc/wharf/policy.json"),
            digest: Some("sha256:0123456789abcdef"),
            rows,
            socket: Some("/run/wharf/wharf.sock"),
            new_key: Some("n"),
            focused: true,
            now: NOW,
        }
    }

    #[test]
    fn users_groups_and_single_user_mode() {
        let ready = Load::Ready(());
        let users = [
            UserRow {
                name: "alice".into(),
                uid: Some(1000),
                role: "admin".into(),
                project: None,
                admin: true,
            },
            UserRow {
                name: "bob".into(),
                uid: Some(1001),
                role: "student".into(),
                project: Some("course-2026".into()),
                admin: false,
            },
            UserRow {
                name: "carol".into(),
                uid: None,
                role: "viewer".into(),
                project: None,
                admin: false,
            },
        ];
        insta::assert_snapshot!(shot(
            90,
            6,
            &model(
                Section::Users,
                &ready,
                Rows::Users(&users.iter().collect::<Vec<_>>())
            )
        ));
        insta::assert_snapshot!(shot(
            60,
            6,
            &model(
                Section::Users,
                &ready,
                Rows::Users(&users.iter().collect::<Vec<_>>())
            )
        ));
        let groups = [GroupRow {
            name: "students".into(),
            gid: Some(2000),
            role: "student".into(),
            project: Some("course-2026".into()),
            members: vec!["bob".into(), "dave".into()],
        }];
        insta::assert_snapshot!(shot(
            90,
            4,
            &model(
                Section::Groups,
                &ready,
                Rows::Groups(&groups.iter().collect::<Vec<_>>())
            )
        ));
        let mut single = model(Section::Users, &ready, Rows::Users(&[]));
        single.source = None;
        single.digest = None;
        insta::assert_snapshot!(shot(100, 5, &single));
        let denied = Load::Error(
            "bob (user) may not read the policy: the role does not allow policy.read".into(),
        );
        insta::assert_snapshot!(shot(
            90,
            5,
            &model(Section::Users, &denied, Rows::Users(&[]))
        ));
    }

    #[test]
    fn roles_with_constraints() {
        let ready = Load::Ready(());
        let roles = [
            RoleView {
                name: "student".into(),
                builtin: false,
                in_file: true,
                inherits: Some("user".into()),
                scope: Scope::Project,
                permissions: vec!["container.list".into(), "container.create".into()],
                constraints: Constraints {
                    bind_mounts: Some(vec!["/srv/course/".into()]),
                    publish_ports: Some(false),
                    max_memory: Some(1 << 30),
                    max_pids: Some(256),
                    images: Some(vec!["localhost:5000/*".into()]),
                    ..Default::default()
                },
                description: String::new(),
            },
            RoleView {
                name: "viewer".into(),
                builtin: true,
                in_file: false,
                inherits: None,
                scope: Scope::All,
                permissions: vec!["container.list".into()],
                constraints: Constraints::default(),
                description: String::new(),
            },
        ];
        insta::assert_snapshot!(shot(
            120,
            5,
            &model(
                Section::Roles,
                &ready,
                Rows::Roles(&roles.iter().collect::<Vec<_>>())
            )
        ));
    }

    #[test]
    fn connected_and_usage() {
        let ready = Load::Ready(());
        let conns = Load::Ready(vec![Connection {
            id: 3,
            uid: 1001,
            user: "bob".into(),
            role: "student".into(),
            since: NOW - 600,
            calls: 42,
            last: NOW - 5,
        }]);
        insta::assert_snapshot!(shot(
            90,
            4,
            &model(Section::Connected, &ready, Rows::Connected(&conns))
        ));
        let none = Load::Ready(vec![]);
        let mut m = model(Section::Connected, &ready, Rows::Connected(&none));
        m.socket = None;
        insta::assert_snapshot!(shot(90, 6, &m));
        let usage = Load::Ready(vec![Usage {
            uid: 1001,
            user: "bob".into(),
            role: "student".into(),
            project: None,
            containers: 3,
            running: 2,
            memory: 512 << 20,
            memory_unlimited: 0,
            cpus: 1.5,
            cpus_unlimited: 1,
            limits: Constraints {
                max_memory: Some(1 << 30),
                max_cpus: Some(2.0),
                ..Default::default()
            },
        }]);
        insta::assert_snapshot!(shot(
            110,
            4,
            &model(Section::Usage, &ready, Rows::Usage(&usage))
        ));
    }
}
