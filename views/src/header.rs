//! The header: engine and host, cgroup mode, container counts by state, host CPU and
//! memory on the left; the caller and role (and a `read-only` badge) on the right.
//! Segments drop from the right by priority when the terminal is narrow.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::Frame;
use wharf_engine::api::SystemInfo;

use crate::theme::Theme;
use crate::util::width;
use crate::Load;

/// Counts of containers by state, from the engine's container list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub running: usize,
    pub paused: usize,
    pub stopped: usize,
}

/// Everything the header draws.
pub struct Model<'a> {
    pub info: &'a Load<SystemInfo>,
    /// From the container list; `None` until it is known.
    pub counts: Option<Counts>,
    /// Host CPU busy over the last sample, percent of all CPUs.
    pub cpu_pct: Option<f64>,
    /// Host memory in use and total, bytes.
    pub mem: Option<(u64, u64)>,
    pub user: &'a str,
    pub role: &'a str,
    /// The role may only look.
    pub read_only: bool,
    /// The admin previewing `user` with `--as` (shown loudly, so a demonstration of
    /// roles never confuses whose view this is).
    pub preview_by: Option<&'a str>,
}

fn gib(b: u64) -> f64 {
    b as f64 / (1u64 << 30) as f64
}

/// Draw the header line into `area` (one row).
pub fn draw(f: &mut Frame, area: Rect, theme: &Theme, m: &Model) {
    // (priority, spans): lower priority numbers stay longer.
    let mut segs: Vec<(u8, Vec<Span>)> = Vec::new();
    match m.info {
        Load::Ready(i) => {
            segs.push((
                0,
                vec![Span::styled(
                    format!("wharf {}", i.engine_version),
                    theme.accent(),
                )],
            ));
            segs.push((2, vec![Span::raw(format!("host {}", i.hostname))]));
            segs.push((
                4,
                vec![Span::raw(format!("cgroup {}", i.cgroup_mode.as_str()))],
            ));
        }
        Load::Loading => segs.push((0, vec![Span::styled("wharf", theme.accent())])),
        Load::Error(e) | Load::Unavailable(e) => {
            segs.push((0, vec![Span::styled("wharf", theme.accent())]));
            segs.push((1, vec![Span::styled(format!("engine: {e}"), theme.error())]));
        }
    }
    if let Some(c) = m.counts {
        let t = Theme { color: theme.color };
        let run = t.ok();
        let compact = area.width < 120;
        let (r, p, st) = if compact {
            ("", "", "")
        } else {
            (" running", " paused", " stopped")
        };
        segs.push((
            1,
            vec![
                Span::styled(format!("▲ {}{r}", c.running), run),
                Span::raw("  "),
                Span::styled(
                    format!("‖ {}{p}", c.paused),
                    t.warn().remove_modifier(ratatui::style::Modifier::BOLD),
                ),
                Span::raw("  "),
                Span::styled(format!("■ {}{st}", c.stopped), t.dim()),
            ],
        ));
    }
    if let Some(p) = m.cpu_pct {
        segs.push((3, vec![Span::raw(format!("cpu {p:.0}%"))]));
    }
    if let Some((used, total)) = m.mem {
        segs.push((
            3,
            vec![Span::raw(format!(
                "mem {:.1}/{:.1} GiB",
                gib(used),
                gib(total)
            ))],
        ));
    }
    let mut right = vec![Span::styled(
        format!("{} ({})", m.user, m.role),
        theme.accent(),
    )];
    if let Some(admin) = m.preview_by {
        right = vec![Span::styled(
            format!(" PREVIEW as {} ({}) · you are {admin} ", m.user, m.role),
            theme
                .warn()
                .add_modifier(ratatui::style::Modifier::REVERSED),
        )];
    }
    if m.read_only {
        right.insert(
            0,
            Span::styled(
                " read-only ",
                theme
                    .warn()
                    .add_modifier(ratatui::style::Modifier::REVERSED),
            ),
        );
        right.insert(1, Span::raw(" "));
    }
    let rw: usize = right.iter().map(|s| width(&s.content)).sum::<usize>() + 1;
    let seg_w = |s: &Vec<Span>| -> usize { s.iter().map(|x| width(&x.content)).sum::<usize>() + 3 };
    let avail = (area.width as usize).saturating_sub(rw + 1);
    while segs.len() > 1 && segs.iter().map(|s| seg_w(&s.1)).sum::<usize>() > avail {
        let (pos, _) = segs
            .iter()
            .enumerate()
            .max_by_key(|(i, s)| (s.0, *i))
            .expect("non-empty");
        segs.remove(pos);
    }
    let mut left: Vec<Span> = vec![Span::raw(" ")];
    for (n, (_, s)) in segs.into_iter().enumerate() {
        if n > 0 {
            left.push(Span::styled(" · ", theme.dim()));
        }
        left.extend(s);
    }
    f.render_widget(Line::from(left), area);
    let rx = area.right().saturating_sub(rw as u16);
    if rx > area.x {
        f.render_widget(
            Line::from(right),
            Rect {
                x: rx,
                width: rw as u16,
                ..area
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::render;
    use wharf_engine::api::CgroupMode;
    use wharf_engine::Caller;

    fn info() -> SystemInfo {
        SystemInfo {
            engine_version: "0.1.0".into(),
            hostname: "lab-02".into(),
            kernel: "6.1".into(),
            os: "Debian".into(),
            cgroup_mode: CgroupMode::V2,
            root: "/var/lib/wharf".into(),
            ncpu: 2,
            mem_total: 16 << 30,
            containers: 17,
            running: 12,
            paused: 1,
            stopped: 4,
            images: 3,
            caller: Caller::root(),
        }
    }

    fn shot(w: u16, info: Load<SystemInfo>, ro: bool) -> String {
        let m = Model {
            info: &info,
            counts: Some(Counts {
                running: 12,
                paused: 1,
                stopped: 4,
            }),
            cpu_pct: Some(23.4),
            mem: Some((3_300_000_000, 16 << 30)),
            user: "alice",
            role: if ro { "viewer" } else { "operator" },
            read_only: ro,
            preview_by: None,
        };
        render(w, 1, |f| draw(f, f.area(), &Theme::default(), &m))
    }

    #[test]
    fn populated() {
        insta::assert_snapshot!(shot(140, Load::Ready(info()), false));
    }
    /// `--as alice`: the badge says whose view this is and who is looking, at any width.
    #[test]
    fn previewing_another_user_is_said_loudly() {
        let info = Load::Ready(info());
        for w in [80, 140] {
            let m = Model {
                info: &info,
                counts: None,
                cpu_pct: None,
                mem: None,
                user: "alice",
                role: "user",
                read_only: false,
                preview_by: Some("root"),
            };
            let s = render(w, 1, |f| draw(f, f.area(), &Theme::default(), &m));
            assert!(s.contains("PREVIEW as alice (user) · you are root"), "{s}");
        }
    }

    #[test]
    fn narrow_read_only() {
        insta::assert_snapshot!(shot(80, Load::Ready(info()), true));
    }
    #[test]
    fn loading() {
        insta::assert_snapshot!(shot(80, Load::Loading, false));
    }
    #[test]
    fn error() {
        insta::assert_snapshot!(shot(
            100,
            Load::Error("state root /x: permission denied".into()),
            false
        ));
    }
}
