//! Draw the whole console from the [`App`] state with the views crate.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::Frame;
use wharf_views::tabs::Tab;
use wharf_views::{
    containers, dialog, events, footer, header, help, images, inspect, logs, networks, run_form,
    stats, volumes, Load,
};

use super::app::{input_error, App, Overlay, Prompt};
use super::keymap::Action;

/// Draw one frame.
pub fn draw(f: &mut Frame, app: &mut App) {
    let area = f.area();
    let theme = app.theme;
    if area.width < 40 || area.height < 10 {
        f.render_widget(
            Line::styled(
                format!(
                    "wharf needs at least 40x10 (this is {}x{})",
                    area.width, area.height
                ),
                theme.warn(),
            ),
            area,
        );
        return;
    }
    let row = |y: u16| Rect {
        x: area.x,
        y,
        width: area.width,
        height: 1,
    };
    let body = Rect {
        x: area.x,
        y: area.y + 2,
        width: area.width,
        height: area.height - 3,
    };
    app.body_area = body;
    app.tabs_area = row(area.y + 1);

    let user = app.worker.caller.name.clone();
    let role = app
        .role
        .as_ref()
        .map(|r| r.name.clone())
        .unwrap_or_else(|| app.worker.caller.role.to_string());
    let hm = header::Model {
        info: &app.info,
        counts: app.counts(),
        cpu_pct: app.host_cpu,
        mem: app.host_mem,
        user: &user,
        role: &role,
        read_only: app.read_only(),
    };
    header::draw(f, row(area.y), &theme, &hm);
    // The containers pane filters and sorts its rows once a frame; the tab line (drawn
    // after the body) counts them.
    let mut shown = None;

    let focused = matches!(app.overlay, Overlay::None);
    if let Some(ins) = app.inspect.as_mut() {
        let title = Rect { height: 1, ..body };
        let rest = Rect {
            y: body.y + 1,
            height: body.height - 1,
            ..body
        };
        f.render_widget(
            Line::from(vec![
                Span::styled(format!(" inspect {}", ins.title), theme.accent()),
                Span::styled("  · Esc back", theme.dim()),
            ]),
            title,
        );
        inspect::draw(f, rest, &theme, ins);
    } else {
        match app.tab {
            Tab::Containers => {
                let rows = app.visible_containers();
                shown = Some(rows.len());
                let run_key = app
                    .keymap
                    .keys_for(&["containers"], Action::RunForm)
                    .filter(|_| app.allowed(Action::RunForm));
                let stopped_key = app.keymap.keys_for(&["containers"], Action::StoppedToggle);
                let m = containers::Model {
                    load: &app.containers.load,
                    rows: &rows,
                    total: app.containers.items.len(),
                    marked: &app.marked,
                    sort: app.sort,
                    filter: &app.containers.filter_text,
                    run_key: run_key.as_deref(),
                    show_stopped_key: stopped_key.as_deref(),
                    stopped_hidden: !app.show_stopped,
                    stats: &app.stats,
                    now: chrono::Utc::now().timestamp(),
                    focused,
                };
                let mut cur = app.containers.cursor;
                // The lower split: the selected container's log, when there is room.
                let (top, lower) = match &app.preview {
                    Some(p) if app.split && (app.split_zoom || body.height >= 16) => {
                        // The split's share of the body (resizable), or all of it (zoom).
                        let th = if app.split_zoom {
                            0
                        } else {
                            let lower =
                                (u32::from(body.height) * u32::from(app.split_pct) / 100) as u16;
                            body.height.saturating_sub(lower).clamp(4, body.height - 5)
                        };
                        let top = Rect { height: th, ..body };
                        let rule = Rect {
                            y: body.y + th,
                            height: 1,
                            ..body
                        };
                        let rest = Rect {
                            y: body.y + th + 1,
                            height: body.height - th - 1,
                            ..body
                        };
                        (top, Some((rule, rest, p)))
                    }
                    _ => (body, None),
                };
                if top.height > 0 {
                    containers::draw(f, top, &theme, &m, &mut cur);
                }
                app.containers.cursor = cur;
                if let Some((rule, rest, p)) = lower {
                    let title = format!(
                        " {} · log ({}) ",
                        p.name,
                        if p.load == Load::Loading {
                            "reading"
                        } else {
                            "tail, every 2 s"
                        }
                    ) + if app.split_zoom {
                        "· full screen "
                    } else {
                        ""
                    };
                    let line = "─".repeat(rule.width as usize);
                    f.render_widget(Span::styled(line, theme.border()), rule);
                    f.render_widget(
                        Span::styled(title, theme.accent()),
                        Rect {
                            x: rule.x + 1,
                            width: rule.width.saturating_sub(1),
                            ..rule
                        },
                    );
                    logs::draw(f, rest, &theme, p);
                }
            }
            Tab::Images => {
                let rows = app.visible_images();
                let demo_key = app
                    .keymap
                    .keys_for(&["images"], Action::ImageDemo)
                    .filter(|_| app.allowed(Action::ImageDemo));
                let m = images::Model {
                    load: &app.images.load,
                    rows: &rows,
                    total: app.images.items.len(),
                    marked: &app.image_marks,
                    filter: &app.images.filter_text,
                    demo_key: demo_key.as_deref(),
                    now: chrono::Utc::now().timestamp(),
                    focused,
                };
                let mut cur = app.images.cursor;
                images::draw(f, body, &theme, &m, &mut cur);
                app.images.cursor = cur;
            }
            Tab::Networks => {
                let rows = app.visible_networks();
                let mut cur = app.networks.cursor;
                networks::draw(
                    f,
                    body,
                    &theme,
                    &app.networks.load,
                    &rows,
                    &mut cur,
                    focused,
                );
                app.networks.cursor = cur;
            }
            Tab::Volumes => {
                let load = match &app.volumes.load {
                    Load::Ready(()) => Load::Ready(
                        app.visible_volumes()
                            .into_iter()
                            .map(|v| volumes::VolumeRow {
                                name: v.name.clone(),
                                driver: v.driver.clone(),
                                mountpoint: v.mountpoint.clone(),
                                size: v.usage_data.map(|u| u.size),
                                used_by: v.usage_data.map(|u| u.ref_count),
                            })
                            .collect(),
                    ),
                    Load::Loading => Load::Loading,
                    Load::Error(e) => Load::Error(e.clone()),
                    Load::Unavailable(e) => Load::Unavailable(e.clone()),
                };
                volumes::draw(f, body, &theme, &load, &mut app.volumes.cursor, focused);
            }
            Tab::Stats => {
                let rows = app.stats_rows();
                let hist = app.stats_history(&rows);
                let rows: Vec<(&str, wharf_engine::api::StatsPoint)> =
                    rows.iter().map(|(_, name, p)| (*name, *p)).collect();
                let m = stats::Model {
                    load: &app.stats_load,
                    rows: &rows,
                    history: &hist,
                    focused,
                };
                let mut cur = app.stats_cursor;
                stats::draw(f, body, &theme, &m, &mut cur);
                app.stats_cursor = cur;
            }
            Tab::Events => {
                let evs = app.visible_events();
                let tz = chrono::Local::now().offset().local_minus_utc();
                let m = events::Model {
                    load: &app.events_pane.load,
                    events: &evs,
                    paused: app.events_paused,
                    filter: &app.events_pane.filter_text,
                    tz,
                    focused,
                };
                let mut cur = app.events_pane.cursor;
                events::draw(f, body, &theme, &m, &mut cur);
                app.events_pane.cursor = cur;
            }
            Tab::Logs => match &app.logs {
                Some(l) => logs::draw(f, body, &theme, l),
                None => {
                    let k = app
                        .keymap
                        .keys_for(&["containers"], Action::Logs)
                        .unwrap_or_else(|| "l".into());
                    wharf_views::table::draw_message(
                        f.buffer_mut(),
                        body,
                        &[
                            ("No log open.".into(), theme.text()),
                            (
                                format!("Select a container and press {k}, or type :logs NAME"),
                                theme.accent(),
                            ),
                        ],
                    )
                }
            },
            Tab::ConsoleLog => wharf_views::applog::draw(f, body, &theme),
        }
    }
    let shown = shown.unwrap_or_else(|| {
        if app.tab == Tab::Containers {
            app.visible_containers().len()
        } else {
            0
        }
    });
    let status = app.tab_status(shown);
    wharf_views::tabs::draw(f, row(area.y + 1), &theme, app.tab, &status);

    let foot = row(area.bottom() - 1);
    match &app.prompt {
        Prompt::Command(s, err) => {
            let c = app.completions(s);
            wharf_views::command::draw(f, foot, &theme, ':', s, &c, err.as_deref());
        }
        Prompt::Filter(s, err) => {
            wharf_views::command::draw(f, foot, &theme, '/', s, &[], err.as_deref())
        }
        Prompt::None => {
            let hints = app.hints();
            footer::draw(f, foot, &theme, app.note.as_ref(), &hints);
        }
    }

    match &app.overlay {
        Overlay::None => {}
        Overlay::Help { scroll } => {
            let sections = app.help_sections();
            help::draw(f, area, &theme, &app.keymap.name, &sections, *scroll);
        }
        Overlay::Confirm {
            title, question, ..
        } => dialog::draw_confirm(f, area, &theme, title, question),
        Overlay::Input {
            title,
            label,
            value,
            purpose,
        } => {
            let e = input_error(purpose, value);
            dialog::draw_input(f, area, &theme, title, label, value, e.as_deref());
        }
        Overlay::Message { title, body } => dialog::draw_message(f, area, &theme, title, body),
        Overlay::RunForm(form) => run_form::draw(f, area, &theme, form),
    }
}

#[cfg(test)]
mod tests {
    //! The whole console on a TestBackend (gitui-style): header, tabs, pane, footer and
    //! overlays composed as the app draws them, at 80x24 and 160x45.

    use std::sync::Arc;

    use ratatui::backend::TestBackend;
    use ratatui::Terminal;
    use wharf_engine::{EngineOptions, LocalEngine};
    use wharf_views::footer::{Level, Notification};
    use wharf_views::Theme;

    use super::super::app::{App, Overlay, Worker};
    use super::super::keymap::{Action, Keymap};
    use super::*;

    fn app(dir: &std::path::Path) -> App {
        let engine =
            LocalEngine::open(dir, EngineOptions::default()).expect("engine on a temp root");
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let worker = Worker {
            engine: Arc::new(engine),
            caller: wharf_engine::Caller::root(),
            tx,
        };
        let mut a = App::new(
            worker,
            Keymap::default_keymap(),
            None,
            None,
            Theme::default(),
        );
        let now = chrono::Utc::now().timestamp();
        a.containers.items = wharf_views::containers::sample(6, now);
        a.containers.load = Load::Ready(());
        a
    }

    fn screen(a: &mut App, w: u16, h: u16) -> String {
        let mut t = Terminal::new(TestBackend::new(w, h)).expect("backend");
        t.draw(|f| draw(f, a)).expect("draw");
        t.backend().to_string()
    }

    fn app_as(dir: &std::path::Path, role: &str) -> App {
        let policy =
            wharf_engine::policy::Policy::parse(std::path::Path::new("policy.json"), "{}").unwrap();
        let mut a = app(dir);
        a.role = policy.role(role).cloned();
        a
    }

    /// Admin and viewer get the same screen; only what each may do differs: the role
    /// in the header (with the viewer's read-only badge), the footer's actions and the
    /// help's entries.
    #[test]
    fn admin_and_viewer_differ_only_in_what_they_may_do() {
        let dir = tempfile::tempdir().unwrap();
        let mut admin = app_as(dir.path(), "admin");
        let mut viewer = app_as(dir.path(), "viewer");
        let (sa, sv) = (screen(&mut admin, 160, 45), screen(&mut viewer, 160, 45));
        let (la, lv): (Vec<&str>, Vec<&str>) = (sa.lines().collect(), sv.lines().collect());
        assert_eq!(la.len(), lv.len());
        let differing: Vec<usize> = (0..la.len()).filter(|&i| la[i] != lv[i]).collect();
        let (header, footer) = (0, la.len() - 1);
        assert!(
            differing.iter().all(|&i| i == header || i == footer),
            "only the header and the footer may differ, not lines {differing:?}"
        );
        assert!(
            lv[header].contains("viewer") && lv[header].contains("read-only"),
            "{}",
            lv[header]
        );
        assert!(
            la[header].contains("admin") && !la[header].contains("read-only"),
            "{}",
            la[header]
        );
        assert!(
            la[footer].contains("s stop")
                && !lv[footer].contains("s stop")
                && !lv[footer].contains("remove"),
            "admin: {}\nviewer: {}",
            la[footer],
            lv[footer]
        );
        insta::assert_snapshot!("role_admin", sa);
        insta::assert_snapshot!("role_viewer", sv);

        // The help lists what the role may do, and nothing else.
        admin.overlay = Overlay::Help { scroll: 0 };
        viewer.overlay = Overlay::Help { scroll: 0 };
        let (ha, hv) = (screen(&mut admin, 160, 45), screen(&mut viewer, 160, 45));
        assert!(
            ha.contains("remove") && !hv.contains("remove"),
            "viewer help:\n{hv}"
        );
        assert!(hv.contains("inspect"), "viewer help:\n{hv}");
    }

    #[test]
    fn help_scrolling_stops_where_the_help_ends() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = app(dir.path());
        a.act(Action::Help);
        let max = help::lines(&a.theme, &a.keymap.name, &a.help_sections())
            .len()
            .saturating_sub(3) as u16;
        for _ in 0..500 {
            a.act(Action::Down);
        }
        assert!(matches!(a.overlay, Overlay::Help { scroll } if scroll == max));
        // One step back moves at once (no dead presses past the end).
        a.act(Action::Up);
        assert!(matches!(a.overlay, Overlay::Help { scroll } if scroll + 1 == max));
    }

    #[test]
    fn whole_console_wide_and_narrow() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = app(dir.path());
        a.note = Some(Notification {
            level: Level::Ok,
            text: "stopped batch-17".into(),
            details: None,
        });
        insta::assert_snapshot!("wide", screen(&mut a, 160, 45));
        insta::assert_snapshot!("narrow", screen(&mut a, 80, 24));
    }

    #[test]
    fn remove_asks_naming_the_marked_containers() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = app(dir.path());
        a.act(Action::Mark);
        a.act(Action::Mark);
        a.act(Action::Remove);
        match &a.overlay {
            Overlay::Confirm { question, .. } => {
                assert_eq!(question, "remove 2 containers: batch-17, broken?")
            }
            other => panic!("expected a confirmation, got {other:?}"),
        }
        insta::assert_snapshot!(screen(&mut a, 80, 24));
    }

    #[test]
    fn filter_and_command_mode() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = app(dir.path());
        use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
        let key = |a: &mut App, c: KeyCode| a.handle_key(KeyEvent::new(c, KeyModifiers::NONE));
        key(&mut a, KeyCode::Char('/'));
        for c in "web".chars() {
            key(&mut a, KeyCode::Char(c));
        }
        assert_eq!(a.visible_containers().len(), 1);
        key(&mut a, KeyCode::Enter);
        key(&mut a, KeyCode::Char(':'));
        for c in "im".chars() {
            key(&mut a, KeyCode::Char(c));
        }
        let s = screen(&mut a, 80, 24);
        assert!(
            s.contains(":images"),
            "completion shown as ghost text:\n{s}"
        );
        key(&mut a, KeyCode::Tab);
        key(&mut a, KeyCode::Enter);
        assert_eq!(a.tab, wharf_views::tabs::Tab::Images);
        // The containers filter stays on its pane.
        assert_eq!(a.containers.filter_text, "web");
    }
}
