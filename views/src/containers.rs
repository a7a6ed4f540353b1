//! The containers table: NAME, IMAGE, STATUS (symbol + colour + health), CPU %, MEM,
//! NET I/O, PORTS, CREATED, ID. CPU %, MEM and NET I/O come from the engine's stats
//! stream and stay `-` for containers without a sample (stopped, or not sampled yet).

use std::collections::{HashMap, HashSet};

use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::Frame;
use wharf_engine::api::{ContainerStatus, ContainerSummary, HealthStatus, StatsPoint};

use crate::table::{self, Column, Row};
use crate::theme::Theme;
use crate::util::{ago, short_id, short_ref};
use crate::{ListCursor, Load};

/// Columns of the table, in order.
pub const COLUMNS: [Column; 9] = [
    Column {
        title: "NAME",
        width: 12,
        flex: true,
        priority: 0,
    },
    Column {
        title: "IMAGE",
        width: 14,
        flex: true,
        priority: 2,
    },
    Column {
        title: "STATUS",
        width: 20,
        flex: false,
        priority: 1,
    },
    Column {
        title: "CPU %",
        width: 7,
        flex: false,
        priority: 4,
    },
    Column {
        title: "MEM",
        width: 9,
        flex: false,
        priority: 6,
    },
    Column {
        title: "NET I/O",
        width: 13,
        flex: false,
        priority: 7,
    },
    Column {
        title: "PORTS",
        width: 16,
        flex: false,
        priority: 5,
    },
    Column {
        title: "CREATED",
        width: 11,
        flex: false,
        priority: 3,
    },
    Column {
        title: "ID",
        width: 12,
        flex: false,
        priority: 8,
    },
];

/// What the table can be sorted by (a column index into [`COLUMNS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Name,
    Image,
    Status,
    Cpu,
    Mem,
    Net,
    Ports,
    Created,
    Id,
}

impl SortKey {
    /// The sortable keys, in the order `sort-next` cycles through them (every column).
    pub const ALL: [SortKey; 9] = [
        SortKey::Name,
        SortKey::Image,
        SortKey::Status,
        SortKey::Cpu,
        SortKey::Mem,
        SortKey::Net,
        SortKey::Ports,
        SortKey::Created,
        SortKey::Id,
    ];

    /// Index of the column it sorts.
    pub fn column(self) -> usize {
        Self::ALL.iter().position(|k| *k == self).unwrap_or(0)
    }

    /// The next key in [`SortKey::ALL`].
    pub fn next(self) -> SortKey {
        Self::ALL[(self.column() + 1) % Self::ALL.len()]
    }

    /// Does this column want its largest values first when first chosen (figures)?
    pub fn biggest_first(self) -> bool {
        matches!(self, SortKey::Cpu | SortKey::Mem | SortKey::Net)
    }
}

/// Sort `rows` by `key` (descending when `desc`); ties by name. The figures (CPU %, MEM,
/// NET I/O) come from `stats`; containers without a sample sort as the smallest.
pub fn sort(
    rows: &mut [&ContainerSummary],
    key: SortKey,
    desc: bool,
    stats: &HashMap<String, StatsPoint>,
) {
    let figure = |c: &ContainerSummary| -> f64 {
        stats.get(&c.id).map_or(-1.0, |p| match key {
            SortKey::Cpu => p.cpu_percent,
            SortKey::Mem => p.mem_usage as f64,
            _ => (p.net_rx + p.net_tx) as f64,
        })
    };
    rows.sort_by(|a, b| {
        let o = match key {
            SortKey::Name => a.name.cmp(&b.name),
            SortKey::Image => a.image.cmp(&b.image),
            SortKey::Status => a.state.cmp(&b.state),
            SortKey::Cpu | SortKey::Mem | SortKey::Net => figure(a).total_cmp(&figure(b)),
            SortKey::Ports => ports_text(a).cmp(&ports_text(b)),
            SortKey::Created => a.created.cmp(&b.created),
            SortKey::Id => a.id.cmp(&b.id),
        }
        .then_with(|| a.name.cmp(&b.name));
        if desc {
            o.reverse()
        } else {
            o
        }
    });
}

/// The state column's text: `running (healthy)`, `exited (137, OOM)`.
pub fn state_text(c: &ContainerSummary) -> String {
    let mut s = c.state.as_str().to_string();
    let mut extra: Vec<String> = Vec::new();
    if let Some(h) = c.health {
        extra.push(
            match h {
                HealthStatus::Starting => "starting",
                HealthStatus::Healthy => "healthy",
                HealthStatus::Unhealthy => "unhealthy",
            }
            .into(),
        );
    }
    if matches!(c.state, ContainerStatus::Exited | ContainerStatus::Dead) {
        if let Some(code) = c.exit_code {
            extra.push(code.to_string());
        }
        if c.oom_killed {
            extra.push("OOM".into());
        }
    }
    if !extra.is_empty() {
        s.push_str(&format!(" ({})", extra.join(", ")));
    }
    s
}

/// `0.0.0.0:8080→80, 53/udp`.
pub fn ports_text(c: &ContainerSummary) -> String {
    c.ports
        .iter()
        .map(|p| {
            let proto = if p.proto == "tcp" {
                String::new()
            } else {
                format!("/{}", p.proto)
            };
            let ip = if p.host_ip.is_empty() {
                "0.0.0.0"
            } else {
                &p.host_ip
            };
            format!("{ip}:{}→{}{proto}", p.host_port, p.container_port)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Everything the containers pane draws.
pub struct Model<'a> {
    /// Loading/error/unavailable, or ready.
    pub load: &'a Load<()>,
    /// The rows to show, filtered and sorted.
    pub rows: &'a [&'a ContainerSummary],
    /// How many containers the engine listed before the filter.
    pub total: usize,
    pub marked: &'a HashSet<String>,
    pub sort: (SortKey, bool),
    /// The active `/` filter, if any.
    pub filter: &'a str,
    /// Key that opens the run form (for the empty state), from the keymap.
    pub run_key: Option<&'a str>,
    /// Key that shows stopped containers, when they are hidden.
    pub show_stopped_key: Option<&'a str>,
    pub stopped_hidden: bool,
    /// The latest stats sample by container id.
    pub stats: &'a HashMap<String, StatsPoint>,
    pub now: i64,
    pub focused: bool,
}

/// The fleet view's columns: HOST first, then [`COLUMNS`].
pub const FLEET_COLUMNS: [Column; 10] = [
    Column {
        title: "HOST",
        width: 10,
        flex: false,
        priority: 1,
    },
    COLUMNS[0],
    COLUMNS[1],
    COLUMNS[2],
    COLUMNS[3],
    COLUMNS[4],
    COLUMNS[5],
    COLUMNS[6],
    COLUMNS[7],
    COLUMNS[8],
];

/// The sort key of the header column at `x`, in a table drawn from `left` over
/// `width` (`fleet`: with the fleet view's HOST column first, which sorts nothing).
pub fn sort_key_at(fleet: bool, left: u16, width: u16, x: u16) -> Option<SortKey> {
    let (cols, shift): (&[Column], usize) = if fleet {
        (&FLEET_COLUMNS, 1)
    } else {
        (&COLUMNS, 0)
    };
    let i = table::column_at(cols, left, width, x)?;
    i.checked_sub(shift)
        .and_then(|i| SortKey::ALL.get(i).copied())
}

/// Draw the pane.
pub fn draw(f: &mut Frame, area: Rect, theme: &Theme, m: &Model, cursor: &mut ListCursor) {
    draw_hosts(f, area, theme, m, cursor, None)
}

/// Draw the pane; with `hosts` (each row's host, in the fleet view) a HOST column
/// comes first.
pub fn draw_hosts(
    f: &mut Frame,
    area: Rect,
    theme: &Theme,
    m: &Model,
    cursor: &mut ListCursor,
    hosts: Option<&[&str]>,
) {
    let buf = f.buffer_mut();
    let shift = usize::from(hosts.is_some());
    let cols: &[Column] = if hosts.is_some() {
        &FLEET_COLUMNS
    } else {
        &COLUMNS
    };
    let sort = Some((m.sort.0.column() + shift, m.sort.1));
    if let Some(lines) = table::load_lines(
        m.load,
        "loading containers…",
        "cannot list containers",
        theme,
    ) {
        return table::draw_empty(buf, area, theme, cols, sort, &lines);
    }
    if m.rows.is_empty() {
        let lines = if m.total == 0 {
            let mut l = vec![("No containers yet.".to_string(), theme.text())];
            if let Some(k) = m.run_key {
                l.push((format!("Press {k} to run one."), theme.accent()));
            }
            l
        } else if !m.filter.is_empty() {
            vec![
                (format!("No container matches /{}.", m.filter), theme.text()),
                ("Esc clears the filter.".into(), theme.dim()),
            ]
        } else if m.stopped_hidden {
            let mut l = vec![(
                format!("No running containers ({} stopped).", m.total),
                theme.text(),
            )];
            if let Some(k) = m.show_stopped_key {
                l.push((format!("Press {k} to show stopped ones."), theme.accent()));
            }
            l
        } else {
            vec![("No containers.".into(), theme.text())]
        };
        return table::draw_empty(buf, area, theme, cols, sort, &lines);
    }
    table::draw_rows(
        buf,
        area,
        theme,
        cols,
        sort,
        m.rows.len(),
        cursor,
        m.focused,
        |i| {
            let c = m.rows[i];
            let (sym, st) = theme.state(c);
            // The figures from the latest stats sample, `-` without one.
            let sample = m.stats.get(&c.id);
            let figure = |f: &dyn Fn(&StatsPoint) -> String| match sample {
                Some(p) => Span::raw(f(p)),
                None => Span::styled("-", theme.dim()),
            };
            let mut row = Row {
                cells: vec![
                    Span::raw(c.name.as_str()),
                    Span::styled(short_ref(&c.image), theme.text()),
                    Span::styled(format!("{sym} {}", state_text(c)), st),
                    figure(&|p| format!("{:.1}", p.cpu_percent)),
                    figure(&|p| crate::util::size(p.mem_usage)),
                    figure(&|p| {
                        format!(
                            "{}/{}",
                            crate::util::dsize(p.net_rx),
                            crate::util::dsize(p.net_tx)
                        )
                    }),
                    Span::raw(ports_text(c)),
                    Span::styled(ago(c.created, m.now), theme.dim()),
                    Span::styled(short_id(&c.id), theme.dim()),
                ],
                marked: m.marked.contains(&c.id),
            };
            if let Some(h) = hosts {
                let host = h.get(i).copied().unwrap_or("");
                row.cells
                    .insert(0, Span::styled(host.to_string(), theme.accent()));
            }
            row
        },
    );
}

/// Containers for tests and benchmarks: `n` of them, in varied states.
#[doc(hidden)]
pub fn sample(n: usize, now: i64) -> Vec<ContainerSummary> {
    use wharf_engine::api::PortBinding;
    let states = [
        ContainerStatus::Running,
        ContainerStatus::Running,
        ContainerStatus::Paused,
        ContainerStatus::Exited,
        ContainerStatus::Exited,
        ContainerStatus::Restarting,
        ContainerStatus::Created,
    ];
    (0..n)
        .map(|i| {
            let state = states[i % states.len()];
            ContainerSummary {
                id: format!(
                    "{:016x}{:048x}",
                    (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15),
                    i
                ),
                name: match i {
                    0 => "web-1".into(),
                    1 => "db".into(),
                    2 => "worker-3".into(),
                    3 => "batch-17".into(),
                    4 => "broken".into(),
                    _ => format!("job-{i}"),
                },
                image: [
                    "docker.io/library/nginx:1.27",
                    "docker.io/library/postgres:16",
                    "lab/worker:7",
                    "lab/job:2",
                ][i % 4]
                    .into(),
                image_id: "sha256:00".into(),
                command: "sh".into(),
                created: now - 60 * (i as i64 * 7 + 3),
                state,
                status: String::new(),
                health: if i == 0 {
                    Some(HealthStatus::Healthy)
                } else {
                    None
                },
                exit_code: match (state, i) {
                    (ContainerStatus::Exited, 4) => Some(137),
                    (ContainerStatus::Exited, _) => Some(0),
                    _ => None,
                },
                oom_killed: i == 4,
                ports: if i == 0 {
                    vec![PortBinding {
                        host_ip: "0.0.0.0".into(),
                        host_port: 8080,
                        container_port: 80,
                        proto: "tcp".into(),
                    }]
                } else {
                    vec![]
                },
                labels: Default::default(),
                networks: vec!["bridge".into()],
                size_rw: None,
                owner: 0,
                project: None,
                ..Default::default()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{render, NOW};

    fn shot(
        w: u16,
        h: u16,
        load: Load<()>,
        all: &[ContainerSummary],
        filter: &str,
        marked: &[usize],
        sel: usize,
    ) -> String {
        let mut rows: Vec<&ContainerSummary> =
            all.iter().filter(|c| c.name.contains(filter)).collect();
        sort(&mut rows, SortKey::Name, false, &HashMap::new());
        let marked: HashSet<String> = marked.iter().map(|&i| rows[i].id.clone()).collect();
        let mut stats = HashMap::new();
        if let Some(web) = all.iter().find(|c| c.name == "web-1") {
            let p = StatsPoint {
                cpu_percent: 2.14,
                mem_usage: 38 << 20,
                net_rx: 1_200_000,
                net_tx: 860_000,
                ..Default::default()
            };
            stats.insert(web.id.clone(), p);
        }
        let m = Model {
            load: &load,
            rows: &rows,
            total: all.len(),
            marked: &marked,
            sort: (SortKey::Name, false),
            filter,
            run_key: Some("n"),
            show_stopped_key: Some("a"),
            stopped_hidden: false,
            stats: &stats,
            now: NOW,
            focused: true,
        };
        let mut cur = ListCursor {
            selected: sel,
            offset: 0,
        };
        render(w, h, |f| draw(f, f.area(), &Theme::default(), &m, &mut cur))
    }

    #[test]
    fn populated() {
        let all = sample(5, NOW);
        insta::assert_snapshot!(shot(140, 8, Load::Ready(()), &all, "", &[2], 1));
    }

    #[test]
    fn sorts_by_figures_with_unsampled_last() {
        let all = sample(5, NOW);
        let mut stats = HashMap::new();
        for (i, c) in all.iter().enumerate().take(3) {
            let p = StatsPoint {
                cpu_percent: [5.0, 50.0, 0.5][i],
                mem_usage: [300u64, 100, 200][i] << 20,
                ..Default::default()
            };
            stats.insert(c.id.clone(), p);
        }
        let names = |key, desc| {
            let mut rows: Vec<&ContainerSummary> = all.iter().collect();
            sort(&mut rows, key, desc, &stats);
            rows.iter().map(|c| c.name.clone()).collect::<Vec<_>>()
        };
        let cpu = names(SortKey::Cpu, true);
        assert_eq!(
            cpu[..3],
            [
                all[1].name.clone(),
                all[0].name.clone(),
                all[2].name.clone()
            ]
        );
        let mem = names(SortKey::Mem, true);
        assert_eq!(
            mem[..3],
            [
                all[0].name.clone(),
                all[2].name.clone(),
                all[1].name.clone()
            ]
        );
        // Ascending puts the containers without a sample first.
        let up = names(SortKey::Cpu, false);
        assert_eq!(
            up[2..],
            [
                all[2].name.clone(),
                all[0].name.clone(),
                all[1].name.clone()
            ]
        );
        // Every column can be sorted, and each maps to its own column.
        let cols: HashSet<usize> = SortKey::ALL.iter().map(|k| k.column()).collect();
        assert_eq!(cols.len(), COLUMNS.len());
        assert!(SortKey::Cpu.biggest_first() && !SortKey::Name.biggest_first());
    }

    #[test]
    fn narrow() {
        let all = sample(30, NOW);
        insta::assert_snapshot!(shot(80, 12, Load::Ready(()), &all, "", &[0, 3], 20));
    }

    #[test]
    fn empty() {
        insta::assert_snapshot!(shot(80, 8, Load::Ready(()), &[], "", &[], 0));
    }

    #[test]
    fn filtered_to_nothing() {
        let all = sample(3, NOW);
        insta::assert_snapshot!(shot(80, 8, Load::Ready(()), &all, "zzz", &[], 0));
    }

    #[test]
    fn error() {
        let e = Load::Error(
            "state root /x is not readable: permission denied: run wharf as root".into(),
        );
        insta::assert_snapshot!(shot(80, 8, e, &[], "", &[], 0));
    }

    #[test]
    fn symbols_read_without_colour() {
        let all = sample(5, NOW);
        let t = Theme { color: false };
        let (s, _) = t.state(&all[4]);
        assert_eq!(s, "✖", "an OOM-killed container is marked failed");
        assert_eq!(state_text(&all[4]), "exited (137, OOM)");
        assert_eq!(ports_text(&all[0]), "0.0.0.0:8080→80");
    }

    /// A click on a header sorts by the column drawn there: in the fleet view the HOST
    /// column comes first (and sorts nothing).
    #[test]
    fn header_clicks_find_the_column_drawn() {
        let (left, width) = (0, 160);
        // The x of each column's header, as the table lays them out.
        let xs = |cols: &[Column]| -> Vec<(&'static str, u16)> {
            let mut at = left + table::GUTTER;
            table::fit_columns(cols, width)
                .into_iter()
                .map(|(i, w)| {
                    let x = at;
                    at += w + 1;
                    (cols[i].title, x)
                })
                .collect()
        };
        for (fleet, cols) in [(false, &COLUMNS[..]), (true, &FLEET_COLUMNS[..])] {
            for (title, x) in xs(cols) {
                let want = SortKey::ALL
                    .iter()
                    .copied()
                    .find(|k| COLUMNS[k.column()].title == title);
                assert_eq!(sort_key_at(fleet, left, width, x), want, "{title}");
            }
        }
        let image = xs(&FLEET_COLUMNS)
            .into_iter()
            .find(|c| c.0 == "IMAGE")
            .unwrap()
            .1;
        assert_eq!(sort_key_at(true, left, width, image), Some(SortKey::Image));
        assert_eq!(sort_key_at(true, left, width, left + table::GUTTER), None);
    }
}
