//! Draw the whole console from the [`App`] state: the header, the tab bar, the pane on
//! screen (or the inspect layer over it), the footer or the prompt, and the overlays.

use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::Frame;
use wharf_views::{dialog, footer, header, help, run_form, teach};

use super::app::{allowed, App, Overlay, Prompt};
use super::panes::{Pane, View};

/// Draw one frame.
pub fn draw(f: &mut Frame, app: &mut App) {
    let area = f.area();
    let theme = app.theme;
    app.screen = area;
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
    // The teaching strip (the last action's commands, a replay's next step) takes rows
    // above the footer, leaving the pane six at least.
    let copy_keys = (
        app.keymap.keys_for(&["global"], super::teach::COPY_COMMAND),
        app.keymap.keys_for(&["global"], super::teach::COPY_DOCKER),
    );
    let replay_keys = (
        app.keymap.keys_for(&["global"], super::teach::REPLAY_NEXT),
        app.keymap.keys_for(&["global"], super::teach::REPLAY_SKIP),
    );
    let lesson = app.teach.last.as_ref().filter(|_| app.teach.strip);
    let (wharf_line, docker_line) = (
        lesson.map(|l| l.wharf_line()),
        lesson.and_then(|l| l.docker_line()),
    );
    let replay_line = app.teach.replay.as_ref().map(|r| r.status());
    let strip = teach::Model {
        wharf: wharf_line.as_deref(),
        docker: docker_line.as_deref(),
        steps: lesson.map(|l| l.steps.as_slice()).unwrap_or(&[]),
        failed: lesson.is_some_and(|l| !l.ok),
        copy_keys: (copy_keys.0.as_deref(), copy_keys.1.as_deref()),
        replay: replay_line
            .as_deref()
            .map(|s| (s, replay_keys.0.as_deref(), replay_keys.1.as_deref())),
    };
    let strip_h = strip.height().min(area.height.saturating_sub(9));
    let body = Rect {
        x: area.x,
        y: area.y + 2,
        width: area.width,
        height: area.height - 3 - strip_h,
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
        info: &app.store.info,
        counts: app.store.counts(),
        cpu_pct: app.store.host.cpu_percent,
        mem: app.store.host.mem,
        user: &user,
        role: &role,
        read_only: app.read_only(),
        preview_by: app.teach.preview_by.as_deref(),
    };
    header::draw(f, row(area.y), &theme, &hm);

    // The pane (or the inspect layer over it) draws itself from the store.
    {
        let App {
            panes,
            inspect,
            store,
            keymap,
            role,
            overlay,
            tab,
            ..
        } = app;
        let may = |a| allowed(role, a);
        let v = View {
            theme: &theme,
            store,
            keymap,
            allowed: &may,
            focused: matches!(overlay, Overlay::None),
            now: chrono::Utc::now().timestamp(),
        };
        if inspect.is_open() {
            inspect.draw(f, body, &v);
        } else {
            panes[*tab].draw(f, body, &v);
        }
    }
    // After the body: the containers pane counts its rows as it draws them.
    let status = app.tab_status();
    wharf_views::tabs::draw(
        f,
        row(area.y + 1),
        &theme,
        &app.tab_titles(),
        app.tab,
        &status,
    );

    if strip_h > 0 {
        let r = Rect {
            y: body.bottom(),
            height: strip_h,
            ..body
        };
        teach::draw(f, r, &theme, &strip);
    }
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
            let (hints, help) = app.hints();
            footer::draw(f, foot, &theme, app.note.as_ref(), &hints, help.as_ref());
        }
    }

    match &app.overlay {
        Overlay::None => {}
        Overlay::Help { scroll } => {
            let sections = app.help_sections();
            help::draw(f, area, &theme, &app.keymap.name, &sections, *scroll);
        }
        Overlay::Confirm(c) => dialog::draw_choice(
            f,
            area,
            &theme,
            &c.title,
            &c.question,
            &c.yes,
            c.also.as_ref().map(|a| (a.key, a.label.as_str())),
        ),
        Overlay::Input(ask) => {
            let e = (ask.check)(&ask.value);
            dialog::draw_input(
                f,
                area,
                &theme,
                &ask.title,
                &ask.label,
                &ask.value,
                e.as_deref(),
            );
        }
        Overlay::Message { title, body } => dialog::draw_message(f, area, &theme, title, body),
        Overlay::RunForm(form) => run_form::draw(f, area, &theme, form),
        Overlay::Form(fa) => wharf_views::form::draw(f, area, &theme, &fa.form),
    }
}

#[cfg(test)]
mod tests {
    //! The whole console on a TestBackend (gitui-style): header, tabs, pane, footer and
    //! overlays composed as the app draws them, at 80x24 and 160x45.

    use ratatui::backend::TestBackend;
    use ratatui::Terminal;
    use wharf_views::footer::{Level, Notification};
    use wharf_views::Theme;

    use super::super::actions;
    use super::super::app::{App, Overlay};
    use super::super::keymap::Keymap;
    use super::*;

    fn app(dir: &std::path::Path) -> App {
        let (worker, _rx) = crate::console::worker::Worker::on_temp_root(dir);
        let mut a = App::new(
            worker,
            Keymap::default_keymap(),
            None,
            None,
            Theme::default(),
        );
        let now = chrono::Utc::now().timestamp();
        a.store
            .containers
            .set(wharf_views::containers::sample(6, now));
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
        // Tall enough for the whole of the global and containers sections.
        let (ha, hv) = (screen(&mut admin, 160, 90), screen(&mut viewer, 160, 90));
        assert!(
            ha.contains("remove") && !hv.contains("remove"),
            "viewer help:\n{hv}"
        );
        assert!(hv.contains("inspect"), "viewer help:\n{hv}");
    }

    /// `:stacks` lists the projects of the containers' labels; an admin is offered the
    /// stack actions, a viewer none of them (footer and help).
    #[test]
    fn stacks_pane_lists_projects_and_offers_a_viewer_no_action() {
        use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
        let dir = tempfile::tempdir().unwrap();
        let open = |a: &mut App| {
            for (i, c) in std::sync::Arc::make_mut(&mut a.store.containers.items)
                .iter_mut()
                .enumerate()
                .take(2)
            {
                c.labels
                    .insert("com.docker.compose.project".into(), "shop".into());
                c.labels
                    .insert("com.docker.compose.service".into(), ["web", "db"][i].into());
                c.labels.insert(
                    "com.docker.compose.project.config_files".into(),
                    "/srv/shop/compose.yaml".into(),
                );
            }
            let key = |a: &mut App, k: KeyCode| a.handle_key(KeyEvent::new(k, KeyModifiers::NONE));
            key(a, KeyCode::Char(':'));
            for ch in "stacks".chars() {
                key(a, KeyCode::Char(ch));
            }
            key(a, KeyCode::Enter);
        };
        let (mut admin, mut viewer) = (app_as(dir.path(), "admin"), app_as(dir.path(), "viewer"));
        open(&mut admin);
        open(&mut viewer);
        let (sa, sv) = (screen(&mut admin, 160, 45), screen(&mut viewer, 160, 45));
        for s in [&sa, &sv] {
            assert!(
                s.contains("shop") && s.contains("/srv/shop/compose.yaml"),
                "{s}"
            );
        }
        let footer = |s: &str| s.lines().last().unwrap_or("").to_string();
        assert!(
            footer(&sa).contains("u up") && footer(&sa).contains("d down"),
            "{}",
            footer(&sa)
        );
        assert!(
            !footer(&sv).contains("up") && !footer(&sv).contains("down"),
            "{}",
            footer(&sv)
        );
        admin.overlay = Overlay::Help { scroll: 0 };
        viewer.overlay = Overlay::Help { scroll: 0 };
        let (ha, hv) = (screen(&mut admin, 160, 200), screen(&mut viewer, 160, 200));
        assert!(ha.contains("stack-up") && ha.contains("stack-down"), "{ha}");
        for a in [
            "stack-up",
            "stack-down",
            "stack-stop",
            "stack-start",
            "stack-new",
        ] {
            assert!(!hv.contains(a), "viewer help offers {a}:\n{hv}");
        }
    }

    #[test]
    fn help_scrolling_stops_where_the_help_ends() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = app(dir.path());
        screen(&mut a, 80, 24);
        a.act(actions::HELP);
        let width = help::text_width(a.screen);
        let max = help::lines(&a.theme, &a.keymap.name, &a.help_sections(), width)
            .len()
            .saturating_sub(3) as u16;
        for _ in 0..500 {
            a.act(actions::DOWN);
        }
        assert!(matches!(a.overlay, Overlay::Help { scroll } if scroll == max));
        // One step back moves at once (no dead presses past the end).
        a.act(actions::UP);
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
        a.act(actions::MARK);
        a.act(actions::MARK);
        a.act(super::super::panes::containers::REMOVE);
        match &a.overlay {
            Overlay::Confirm(c) => {
                let question = &c.question;
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
        assert!(screen(&mut a, 80, 24).contains("1 of 6 · /web"));
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
        assert_eq!(a.current().info().context, "images");
        // The containers filter stays on its pane.
        assert_eq!(
            a.panes[0].list().map(|l| l.filter_text.as_str()),
            Some("web")
        );
    }
}
