//! The stacks pane: compose projects (NAME, STATUS, CONTAINERS, CONFIG FILES), one
//! project's services with their containers (SERVICE, CONTAINER, STATE, HEALTH, PORTS),
//! and a project's logs, interleaved and coloured by service.

use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::Span;
use ratatui::Frame;
use wharf_engine::api::{ContainerSummary, HealthStatus};

use crate::table::{self, Column, Row};
use crate::theme::Theme;
use crate::{ListCursor, Load};

/// The project list's columns.
pub const PROJECT_COLUMNS: [Column; 4] = [
    Column {
        title: "NAME",
        width: 16,
        flex: true,
        priority: 0,
    },
    Column {
        title: "STATUS",
        width: 22,
        flex: false,
        priority: 1,
    },
    Column {
        title: "CONTAINERS",
        width: 10,
        flex: false,
        priority: 3,
    },
    Column {
        title: "CONFIG FILES",
        width: 20,
        flex: true,
        priority: 2,
    },
];

/// One project's columns.
pub const SERVICE_COLUMNS: [Column; 5] = [
    Column {
        title: "SERVICE",
        width: 12,
        flex: true,
        priority: 0,
    },
    Column {
        title: "CONTAINER",
        width: 18,
        flex: true,
        priority: 1,
    },
    Column {
        title: "STATE",
        width: 12,
        flex: false,
        priority: 0,
    },
    Column {
        title: "HEALTH",
        width: 9,
        flex: false,
        priority: 3,
    },
    Column {
        title: "PORTS · DRIFT",
        width: 16,
        flex: true,
        priority: 2,
    },
];

/// A compose project as the list shows it (`wharf compose ls -a`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProjectRow {
    pub name: String,
    /// `running(2), exited(1)`.
    pub status: String,
    /// The compose files, comma-separated, as the label has them.
    pub config_files: String,
    pub working_dir: String,
    pub containers: usize,
    pub running: usize,
}

/// A row of one project: a service's container, or a service with none.
#[derive(Debug, Clone, Copy)]
pub struct ServiceRow<'a> {
    pub service: &'a str,
    pub container: Option<&'a ContainerSummary>,
    /// How the service differs from its file (`changed in the file: up recreates`).
    pub note: &'a str,
}

/// A log line of a project: which service (its colour), the container's name, the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackLogLine {
    pub service: usize,
    pub container: String,
    pub text: String,
}

/// What the pane shows.
pub enum Body<'a> {
    Projects {
        load: &'a Load<()>,
        rows: &'a [&'a ProjectRow],
        /// The key of `up` from a file, for the empty state (none for a viewer).
        up_key: Option<String>,
    },
    Project {
        name: &'a str,
        /// Config files (full paths), or empty when unknown.
        files: &'a str,
        status: &'a str,
        rows: &'a [ServiceRow<'a>],
    },
    Logs {
        name: &'a str,
        lines: &'a [StackLogLine],
        following: bool,
        /// Width of the container column.
        width: usize,
    },
}

/// The services' colours in logs, in order (as `docker compose logs` cycles them).
pub const SERVICE_COLORS: [Color; 6] = [
    Color::Cyan,
    Color::Yellow,
    Color::Green,
    Color::Magenta,
    Color::Blue,
    Color::LightRed,
];

/// `0.0.0.0:8080→80`.
fn ports(c: &ContainerSummary) -> String {
    crate::containers::ports_text(c)
}

fn health(h: Option<HealthStatus>) -> &'static str {
    match h {
        None => "",
        Some(HealthStatus::Starting) => "starting",
        Some(HealthStatus::Healthy) => "healthy",
        Some(HealthStatus::Unhealthy) => "unhealthy",
    }
}

/// Draw the pane.
pub fn draw(
    f: &mut Frame,
    area: Rect,
    theme: &Theme,
    body: &Body,
    cursor: &mut ListCursor,
    focused: bool,
) {
    let buf = f.buffer_mut();
    match body {
        Body::Projects { load, rows, up_key } => {
            let lines =
                table::load_lines(*load, "loading projects…", "cannot list projects", theme);
            if lines.is_some() || rows.is_empty() {
                let lines = lines.unwrap_or_else(|| {
                    let mut v = vec![("No compose projects.".into(), theme.text())];
                    if let Some(k) = up_key {
                        v.push((
                            format!("Press {k} (or type :stacks up FILE) to start one from a compose file."),
                            theme.accent(),
                        ));
                    }
                    v
                });
                return table::draw_empty(buf, area, theme, &PROJECT_COLUMNS, None, &lines);
            }
            table::draw_rows(
                buf,
                area,
                theme,
                &PROJECT_COLUMNS,
                None,
                rows.len(),
                cursor,
                focused,
                |i| {
                    let p = rows[i];
                    let style = if p.running > 0 {
                        theme.ok()
                    } else {
                        theme.dim()
                    };
                    Row {
                        cells: vec![
                            Span::raw(p.name.as_str()),
                            Span::styled(p.status.as_str(), style),
                            Span::raw(format!("{}/{}", p.running, p.containers)),
                            Span::styled(p.config_files.as_str(), theme.dim()),
                        ],
                        marked: false,
                    }
                },
            );
        }
        Body::Project {
            name,
            files,
            status,
            rows,
        } => {
            if area.height < 2 {
                return;
            }
            let files = if files.is_empty() {
                "compose file unknown".to_string()
            } else {
                files.replace(',', ", ")
            };
            let head = format!(" {name} · {status} · {files}");
            buf.set_stringn(area.x, area.y, &head, area.width as usize, theme.accent());
            let area = Rect {
                y: area.y + 1,
                height: area.height - 1,
                ..area
            };
            if rows.is_empty() {
                let lines = vec![("This project has no containers.".to_string(), theme.dim())];
                return table::draw_empty(buf, area, theme, &SERVICE_COLUMNS, None, &lines);
            }
            table::draw_rows(
                buf,
                area,
                theme,
                &SERVICE_COLUMNS,
                None,
                rows.len(),
                cursor,
                focused,
                |i| {
                    let r = rows[i];
                    let first = i == 0 || rows[i - 1].service != r.service;
                    let svc = if first {
                        Span::raw(r.service)
                    } else {
                        Span::styled("", theme.dim())
                    };
                    // The service's drift from its file, after the ports.
                    let note = |ports: String| {
                        if r.note.is_empty() {
                            Span::raw(ports)
                        } else if ports.is_empty() {
                            Span::styled(r.note, theme.warn())
                        } else {
                            Span::styled(format!("{ports} · {}", r.note), theme.warn())
                        }
                    };
                    match r.container {
                        Some(c) => {
                            let (sym, st) = theme.state(c);
                            let h = health(c.health);
                            let hs = match c.health {
                                Some(HealthStatus::Healthy) => theme.ok(),
                                Some(HealthStatus::Unhealthy) => theme.error(),
                                _ => theme.dim(),
                            };
                            Row {
                                cells: vec![
                                    svc,
                                    Span::raw(c.name.as_str()),
                                    Span::styled(format!("{sym} {}", c.state.as_str()), st),
                                    Span::styled(h, hs),
                                    note(ports(c)),
                                ],
                                marked: false,
                            }
                        }
                        None => Row {
                            cells: vec![
                                svc,
                                Span::styled("(no container)", theme.dim()),
                                Span::raw(""),
                                Span::raw(""),
                                note(String::new()),
                            ],
                            marked: false,
                        },
                    }
                },
            );
        }
        Body::Logs {
            name,
            lines,
            following,
            width,
        } => {
            if area.height < 2 {
                return;
            }
            let head = format!(
                " logs of {name} · {} · {} lines",
                if *following { "following" } else { "paused" },
                lines.len()
            );
            buf.set_stringn(area.x, area.y, &head, area.width as usize, theme.accent());
            let h = (area.height - 1) as usize;
            let n = lines.len();
            // The cursor's selection is the last line shown (the bottom when following).
            if *following {
                cursor.selected = n.saturating_sub(1);
            }
            let last = cursor.selected.min(n.saturating_sub(1));
            let start = (last + 1).saturating_sub(h);
            for (k, l) in lines.iter().skip(start).take(h).enumerate() {
                let y = area.y + 1 + k as u16;
                let head = format!("{:<width$} | ", l.container, width = *width);
                let color = SERVICE_COLORS[l.service % SERVICE_COLORS.len()];
                let hs = Style::new().fg(color);
                let (x, _) = buf.set_stringn(area.x, y, &head, area.width as usize, hs);
                let room = area.right().saturating_sub(x) as usize;
                buf.set_stringn(x, y, crate::util::fit(&l.text, room), room, theme.text());
            }
            if n == 0 {
                let body = Rect {
                    y: area.y + 1,
                    height: area.height - 1,
                    ..area
                };
                table::draw_message(buf, body, &[("No output yet.".to_string(), theme.dim())]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{render, NOW};
    use wharf_engine::api::{ContainerStatus, PortBinding};

    fn projects() -> Vec<ProjectRow> {
        vec![
            ProjectRow {
                name: "shop".into(),
                status: "running(3)".into(),
                config_files: "compose.yaml".into(),
                working_dir: "/home/ann/shop".into(),
                containers: 3,
                running: 3,
            },
            ProjectRow {
                name: "blog".into(),
                status: "running(1), exited(1)".into(),
                config_files: "docker-compose.yml,docker-compose.override.yml".into(),
                working_dir: "/srv/blog".into(),
                containers: 2,
                running: 1,
            },
            ProjectRow {
                name: "batch".into(),
                status: "exited(2)".into(),
                config_files: "compose.yaml".into(),
                working_dir: "/tmp/batch".into(),
                containers: 2,
                running: 0,
            },
        ]
    }

    fn containers() -> Vec<ContainerSummary> {
        let mut v = crate::containers::sample(3, NOW);
        v[0].name = "shop-web-1".into();
        v[0].state = ContainerStatus::Running;
        v[0].health = Some(HealthStatus::Healthy);
        v[0].ports = vec![PortBinding {
            host_ip: String::new(),
            host_port: 8080,
            container_port: 80,
            proto: "tcp".into(),
        }];
        v[1].name = "shop-web-2".into();
        v[1].state = ContainerStatus::Running;
        v[1].health = Some(HealthStatus::Starting);
        v[1].ports = vec![];
        v[2].name = "shop-db-1".into();
        v[2].state = ContainerStatus::Exited;
        v[2].exit_code = Some(0);
        v[2].health = None;
        v[2].ports = vec![];
        v
    }

    fn shot(w: u16, h: u16, body: &Body) -> String {
        let mut cur = ListCursor::default();
        render(w, h, |f| {
            draw(f, f.area(), &Theme::default(), body, &mut cur, true)
        })
    }

    #[test]
    fn project_list() {
        let ps = projects();
        let rows: Vec<&ProjectRow> = ps.iter().collect();
        let b = Body::Projects {
            load: &Load::Ready(()),
            rows: &rows,
            up_key: Some("n".into()),
        };
        insta::assert_snapshot!("projects_80x24", shot(80, 24, &b));
        insta::assert_snapshot!("projects_160x45", shot(160, 45, &b));
        let empty = Body::Projects {
            load: &Load::Ready(()),
            rows: &[],
            up_key: Some("n".into()),
        };
        insta::assert_snapshot!("projects_empty", shot(80, 8, &empty));
    }

    #[test]
    fn one_project() {
        let cs = containers();
        let rows = vec![
            ServiceRow {
                service: "db",
                container: Some(&cs[2]),
                note: "",
            },
            ServiceRow {
                service: "web",
                container: Some(&cs[0]),
                note: "changed in the file: up recreates",
            },
            ServiceRow {
                service: "web",
                container: Some(&cs[1]),
                note: "changed in the file: up recreates",
            },
            ServiceRow {
                service: "worker",
                container: None,
                note: "fewer than the file asks: up creates",
            },
        ];
        let b = Body::Project {
            name: "shop",
            files: "/home/ann/shop/compose.yaml",
            status: "running(2), exited(1)",
            rows: &rows,
        };
        insta::assert_snapshot!("project_80x24", shot(80, 24, &b));
        insta::assert_snapshot!("project_160x45", shot(160, 45, &b));
    }

    #[test]
    fn project_logs() {
        let lines = vec![
            StackLogLine {
                service: 0,
                container: "shop-web-1".into(),
                text: "listening on :80".into(),
            },
            StackLogLine {
                service: 1,
                container: "shop-db-1".into(),
                text: "ready to accept connections".into(),
            },
        ];
        let b = Body::Logs {
            name: "shop",
            lines: &lines,
            following: true,
            width: 10,
        };
        insta::assert_snapshot!("logs_80x24", shot(80, 24, &b));
    }
}
