//! The console's forms: the keys of a form window, what the run form's Enter starts
//! (run detached, run with the terminal handed over, or create only), and the forms
//! that look at this machine's files, which views may not: cp and export. The console
//! runs where its user is, like the CLI: host paths are this machine's, relative ones
//! from the directory the console was started in.

use std::path::{Path, PathBuf};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use wharf_engine::api::ContainerCreate;
use wharf_views::form::{quote, FieldDef, Form, Spec};
use wharf_views::run_form::Mode;

use super::api::{Call, Target};
use super::msg::{Confirm, Effect, FormAsk, Handoff};

/// What a key did to a form.
pub enum Key {
    /// It edited or moved; the form stays.
    Stay,
    /// Esc.
    Close,
    /// Enter on a valid form: what it asks for.
    Done(Box<Effect>),
}

/// A key on a form window: Tab/↓ and Shift-Tab/↑ move, ← → and Space choose, ctrl-u
/// clears, Enter checks the fields and acts (or shows the first error), Esc cancels.
pub fn key(fa: &mut FormAsk, ev: &KeyEvent) -> Key {
    let ctrl = ev.modifiers.contains(KeyModifiers::CONTROL);
    let f = &mut fa.form;
    match ev.code {
        KeyCode::Esc => return Key::Close,
        KeyCode::Tab | KeyCode::Down => f.move_focus(1),
        KeyCode::BackTab | KeyCode::Up => f.move_focus(-1),
        KeyCode::Left => f.cycle(-1),
        KeyCode::Right => f.cycle(1),
        KeyCode::Backspace => f.backspace(),
        KeyCode::Char('u') if ctrl => f.clear_field(),
        KeyCode::Char(c) if !ctrl => f.type_char(c),
        KeyCode::Enter if f.submit() => return Key::Done(Box::new((fa.then)(&f.values))),
        _ => {}
    }
    Key::Stay
}

/// One field of a [`checked`] form: its definition and the value it starts with.
pub struct Field {
    def: FieldDef,
    value: String,
}

impl Field {
    /// A text field starting at `value`.
    pub fn new(label: &'static str, value: impl Into<String>) -> Field {
        Field {
            def: FieldDef::text(label, ""),
            value: value.into(),
        }
    }

    /// A secret field (a password): drawn as dots, never logged; its value leaves the
    /// form only in what Enter hands to the form's `then`.
    pub fn secret(label: &'static str) -> Field {
        Field {
            def: FieldDef::secret(label, ""),
            value: String::new(),
        }
    }

    /// The same with a placeholder (shown dim while the field is empty).
    pub fn hint(mut self, h: &'static str) -> Field {
        self.def.placeholder = h;
        self
    }
}

/// What is wrong with a [`checked`] form's values: the field (by index) it is about,
/// if one, and why.
pub type Problem = (Option<usize>, String);

/// A [`checked`] form's check of all its values: what Enter will do (a sentence), or
/// the first problem.
pub type FormCheck = Box<dyn Fn(&[String]) -> Result<String, Problem>>;

/// What a [`checked`] form's Enter does with the values (in field order), once.
pub type SubmitOnce = Box<dyn FnOnce(Vec<String>) -> Effect>;

/// The [`Spec`] of a form checked as a whole (a registry login, a push, a policy
/// edit): the line under the fields says what Enter will do.
struct Checked {
    title: String,
    defs: Vec<FieldDef>,
    verb: &'static str,
    check: FormCheck,
}

impl Spec for Checked {
    fn title(&self) -> String {
        self.title.clone()
    }
    fn fields(&self) -> &[FieldDef] {
        &self.defs
    }
    fn error(&self, v: &[String], i: usize) -> Option<String> {
        match (self.check)(v) {
            Err((Some(j), e)) if j == i => Some(e),
            _ => None,
        }
    }
    fn form_error(&self, v: &[String]) -> Option<String> {
        match (self.check)(v) {
            Err((None, e)) => Some(e),
            _ => None,
        }
    }
    fn placeholder(&self, i: usize) -> String {
        self.defs
            .get(i)
            .map(|d| d.placeholder.to_string())
            .unwrap_or_default()
    }
    fn command_line(&self, v: &[String]) -> String {
        (self.check)(v).unwrap_or_default()
    }
    fn verb(&self) -> &'static str {
        self.verb
    }
    fn line_is_command(&self) -> bool {
        false
    }
}

/// A form of `fields` checked as a whole: `check` says what Enter will do or what is
/// wrong (a field's problem shows on that field); `then` makes the effect from the
/// values when Enter is pressed on good ones.
pub fn checked(
    title: impl Into<String>,
    fields: Vec<Field>,
    verb: &'static str,
    check: FormCheck,
    then: SubmitOnce,
) -> FormAsk {
    let spec = Checked {
        title: title.into(),
        defs: fields.iter().map(|f| f.def).collect(),
        verb,
        check,
    };
    let mut form = Form::new(Box::new(spec));
    for (i, f) in fields.iter().enumerate() {
        form.set(i, &f.value);
    }
    // Enter closes the form: `then` runs once.
    let then = std::cell::Cell::new(Some(then));
    FormAsk {
        form,
        then: Box::new(move |v| match then.take() {
            Some(t) => t(v.to_vec()),
            None => Effect::note(wharf_views::footer::Level::Warn, "done already"),
        }),
    }
}

impl FormAsk {
    /// The same with the focus on field `i`.
    pub fn focus(mut self, i: usize) -> FormAsk {
        self.form.focus = i.min(self.form.values.len().saturating_sub(1));
        self
    }
}

/// What the run form's Enter does, as it starts the container.
pub fn start(mode: Mode, spec: Box<ContainerCreate>, line: String) -> Effect {
    match mode {
        Mode::Detached => Effect::Call(Call::Run { spec, line }),
        Mode::Interactive => Effect::Handoff(Handoff::Run { spec, line }),
        Mode::CreateOnly => Effect::Call(Call::Create { spec, line }),
    }
}

/// The directory relative host paths start from (the console's own).
fn cwd() -> String {
    std::env::current_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_else(|_| ".".into())
}

/// An absolute path in a container (`etc/motd` is `/etc/motd`, as for `wharf cp`).
pub fn in_container(p: &str) -> String {
    if p.starts_with('/') {
        p.to_string()
    } else {
        format!("/{p}")
    }
}

/// Why a host path cannot be written as a new file or directory there: its parent
/// directory is missing, or it names a directory that is not there.
fn unwritable(p: &str) -> Option<String> {
    let path = Path::new(p);
    if p.ends_with('/') && !path.is_dir() {
        return Some(format!(
            "no directory {p} on this machine: create it first, or name a new file without a trailing /"
        ));
    }
    let parent = path
        .parent()
        .filter(|x| !x.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    (!parent.is_dir()).then(|| {
        format!(
            "no directory {} on this machine: create it first",
            parent.display()
        )
    })
}

// ----- cp -----

/// Field numbers of the cp form.
pub const DIRECTION: usize = 0;
pub const CONTAINER_PATH: usize = 1;
pub const HOST_PATH: usize = 2;

/// The directions, as the form offers them.
pub const INTO: &str = "into the container";
pub const OUT: &str = "out to this machine";

const CP_FIELDS: &[FieldDef] = &[
    FieldDef::choice("copy", &[INTO, OUT]),
    FieldDef::text("container path", "e.g. /etc/motd, or /tmp/ (a directory)"),
    FieldDef::text("host path", "e.g. ./motd, or /tmp/lab/ (a directory)"),
];

/// `wharf cp HOST CTR:PATH` or `wharf cp CTR:PATH HOST` for one container.
#[derive(Debug, Clone)]
pub struct CopySpec {
    pub target: Target,
    /// Where relative host paths start.
    pub cwd: String,
}

impl CopySpec {
    fn into(v: &[String]) -> bool {
        v[DIRECTION] != OUT
    }

    /// The host path as it will be used (relative ones from the console's directory).
    fn host(&self, v: &[String]) -> String {
        let h = v[HOST_PATH].trim();
        if h.starts_with('/') {
            h.to_string()
        } else {
            let mut p = PathBuf::from(&self.cwd).join(h).display().to_string();
            if h.ends_with('/') && !p.ends_with('/') {
                p.push('/');
            }
            p
        }
    }

    /// The host file this copy would replace, if there is one.
    fn replaces(&self, v: &[String]) -> Option<String> {
        let h = self.host(v);
        (!Self::into(v) && Path::new(&h).is_file()).then_some(h)
    }

    /// The engine call for these values (checked first).
    pub fn request(&self, v: &[String]) -> Call {
        Call::Copy {
            target: Box::new(self.target.clone()),
            into: Self::into(v),
            container_path: in_container(v[CONTAINER_PATH].trim()),
            host_path: self.host(v),
        }
    }

    /// What Enter does: the copy, after asking when it replaces a file on this machine.
    pub fn submit(&self, v: &[String]) -> Effect {
        let call = self.request(v);
        match self.replaces(v) {
            Some(h) => Effect::Confirm(Confirm::new(
                "replace",
                format!(
                    "replace {h} on this machine with {}:{}?",
                    self.target.name,
                    in_container(v[CONTAINER_PATH].trim())
                ),
                call,
            )),
            None => Effect::Call(call),
        }
    }
}

impl Spec for CopySpec {
    fn title(&self) -> String {
        format!("copy files into or out of {}", self.target.name)
    }

    fn fields(&self) -> &'static [FieldDef] {
        CP_FIELDS
    }

    fn error(&self, v: &[String], i: usize) -> Option<String> {
        let t = v[i].trim();
        match i {
            CONTAINER_PATH if t.is_empty() => Some("a path in the container is needed".into()),
            HOST_PATH if t.is_empty() => Some(format!(
                "a path on this machine is needed (relative ones start at {})",
                self.cwd
            )),
            HOST_PATH if Self::into(v) => {
                let h = self.host(v);
                std::fs::symlink_metadata(&h)
                    .err()
                    .map(|e| format!("cannot read {h}: {e}"))
            }
            HOST_PATH => {
                let h = self.host(v);
                if Path::new(&h).is_dir() {
                    None
                } else {
                    unwritable(&h)
                }
            }
            _ => None,
        }
    }

    fn hint(&self, v: &[String], i: usize) -> Option<String> {
        if i != HOST_PATH || v[HOST_PATH].trim().is_empty() || self.error(v, i).is_some() {
            return None;
        }
        if self.replaces(v).is_some() {
            Some("exists: it is replaced (asks first)".into())
        } else if !Self::into(v) && Path::new(&self.host(v)).is_dir() {
            Some("a directory: the copy goes inside it".into())
        } else {
            None
        }
    }

    fn placeholder(&self, i: usize) -> String {
        let p = CP_FIELDS[i].placeholder;
        if i == HOST_PATH {
            format!("{p}; relative to {}", self.cwd)
        } else {
            p.to_string()
        }
    }

    fn command_line(&self, v: &[String]) -> String {
        let c = v[CONTAINER_PATH].trim();
        let in_ctr = format!(
            "{}:{}",
            self.target.name,
            if c.is_empty() {
                "PATH".into()
            } else {
                in_container(c)
            }
        );
        let h = v[HOST_PATH].trim();
        let host = if h.is_empty() {
            "HOST_PATH".into()
        } else {
            quote(h)
        };
        if Self::into(v) {
            format!("wharf cp {host} {}", quote(&in_ctr))
        } else {
            format!("wharf cp {} {host}", quote(&in_ctr))
        }
    }

    fn verb(&self) -> &'static str {
        "copy"
    }
}

/// The cp form for a container.
pub fn copy_form(target: Target) -> FormAsk {
    let spec = CopySpec { target, cwd: cwd() };
    let s2 = spec.clone();
    FormAsk {
        form: Form::new(Box::new(spec)),
        then: Box::new(move |v| s2.submit(v)),
    }
}

// ----- export -----

const EXPORT_FIELDS: &[FieldDef] = &[FieldDef::text(
    "file",
    "a tar file to write on this machine, e.g. web.tar",
)];

/// `wharf export -o FILE CTR`.
#[derive(Debug, Clone)]
pub struct ExportSpec {
    pub target: Target,
    pub cwd: String,
}

impl ExportSpec {
    fn path(&self, v: &[String]) -> String {
        let p = v[0].trim();
        if p.starts_with('/') {
            p.to_string()
        } else {
            PathBuf::from(&self.cwd).join(p).display().to_string()
        }
    }

    /// What Enter does: the export, after asking when it replaces a file.
    pub fn submit(&self, v: &[String]) -> Effect {
        let path = self.path(v);
        let call = Call::Export {
            target: self.target.clone(),
            path: path.clone(),
        };
        if Path::new(&path).exists() {
            Effect::Confirm(Confirm::new(
                "replace",
                format!(
                    "replace {path} with the file system of {}?",
                    self.target.name
                ),
                call,
            ))
        } else {
            Effect::Call(call)
        }
    }
}

impl Spec for ExportSpec {
    fn title(&self) -> String {
        format!("export the file system of {}", self.target.name)
    }

    fn fields(&self) -> &'static [FieldDef] {
        EXPORT_FIELDS
    }

    fn error(&self, v: &[String], _i: usize) -> Option<String> {
        if v[0].trim().is_empty() {
            return Some("a file to write is needed".into());
        }
        let p = self.path(v);
        if Path::new(&p).is_dir() {
            return Some(format!(
                "{p} is a directory: name a file in it, e.g. {p}/export.tar"
            ));
        }
        unwritable(&p)
    }

    fn hint(&self, v: &[String], _i: usize) -> Option<String> {
        (self.error(v, 0).is_none() && Path::new(&self.path(v)).exists())
            .then(|| "exists: it is replaced (asks first)".into())
    }

    fn placeholder(&self, _i: usize) -> String {
        format!("{}; relative to {}", EXPORT_FIELDS[0].placeholder, self.cwd)
    }

    fn command_line(&self, v: &[String]) -> String {
        let p = v[0].trim();
        format!(
            "wharf export -o {} {}",
            if p.is_empty() {
                "FILE".into()
            } else {
                quote(p)
            },
            quote(&self.target.name)
        )
    }

    fn verb(&self) -> &'static str {
        "export"
    }
}

/// The export form for a container.
pub fn export_form(target: Target) -> FormAsk {
    let spec = ExportSpec { target, cwd: cwd() };
    let s2 = spec.clone();
    FormAsk {
        form: Form::new(Box::new(spec)),
        then: Box::new(move |v| s2.submit(v)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;
    use wharf_views::Theme;

    fn target() -> Target {
        Target {
            id: "0123456789ab".into(),
            name: "web-1".into(),
        }
    }

    fn render(w: u16, h: u16, f: &Form) -> String {
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|fr| wharf_views::form::draw(fr, fr.area(), &Theme::default(), f))
            .unwrap();
        t.backend().to_string()
    }

    fn login() -> FormAsk {
        checked(
            "log in",
            vec![Field::new("user", "alice"), Field::secret("password")],
            "log in",
            Box::new(|v| {
                if v[0] == "root" {
                    Err((None, "not as root".into()))
                } else if v[1].is_empty() {
                    Err((Some(1), "a password is needed".into()))
                } else {
                    Ok(format!("log in as {}", v[0]))
                }
            }),
            Box::new(|v| {
                Effect::note(
                    wharf_views::footer::Level::Info,
                    format!("{} {}", v[0], v[1].len()),
                )
            }),
        )
    }

    fn k(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }

    #[test]
    fn a_checked_form_waits_for_good_values_and_never_shows_a_secret() {
        let mut fa = login();
        assert!(matches!(key(&mut fa, &k(KeyCode::Enter)), Key::Stay));
        assert_eq!(fa.form.focus, 1, "Enter goes to the field that is wrong");
        let s = render(60, 10, &fa.form);
        assert!(s.contains("✖ password: a password is needed"), "{s}");
        for c in "s3cret".chars() {
            key(&mut fa, &k(KeyCode::Char(c)));
        }
        assert!(!format!("{fa:?}").contains("s3cret"));
        let s = render(60, 10, &fa.form);
        assert!(!s.contains("s3cret") && s.contains("••••••"), "{s}");
        assert!(s.contains("log in as alice") && !s.contains("$ "), "{s}");
        // A problem of the whole form: said, and Enter waits.
        fa.form.set(0, "root");
        assert!(matches!(key(&mut fa, &k(KeyCode::Enter)), Key::Stay));
        assert!(render(60, 10, &fa.form).contains("✖ not as root"));
        fa.form.set(0, "alice");
        match key(&mut fa, &k(KeyCode::Enter)) {
            Key::Done(e) => match *e {
                Effect::Notify(n) => assert_eq!(n.text, "alice 6"),
                other => panic!("{other:?}"),
            },
            _ => panic!("Enter on good values acts"),
        }
        let fa = login().focus(7);
        assert_eq!(fa.form.focus, 1, "the focus stays on a field");
    }

    #[test]
    fn cp_both_ways_with_the_host_checked() {
        let dir = tempfile::tempdir().unwrap();
        let cwd = dir.path().display().to_string();
        std::fs::write(dir.path().join("motd"), "hi").unwrap();
        let spec = CopySpec {
            target: target(),
            cwd: "/lab".into(),
        };
        let mut f = Form::new(Box::new(spec))
            .with(CONTAINER_PATH, "etc/motd")
            .with(HOST_PATH, "motd");
        assert!(
            f.error(HOST_PATH)
                .unwrap()
                .contains("cannot read /lab/motd"),
            "{:?}",
            f.error(HOST_PATH)
        );
        assert_eq!(f.command_line(), "wharf cp motd web-1:/etc/motd");
        f.focus = HOST_PATH;
        f.submitted = true;
        insta::assert_snapshot!(render(90, 11, &f));

        let spec = CopySpec {
            target: target(),
            cwd: cwd.clone(),
        };
        let f = Form::new(Box::new(spec.clone()))
            .with(CONTAINER_PATH, "/etc/motd")
            .with(HOST_PATH, "motd");
        assert_eq!(f.first_error(), None);
        match spec.request(&f.values) {
            Call::Copy {
                into,
                container_path,
                host_path,
                ..
            } => {
                assert!(into);
                assert_eq!(container_path, "/etc/motd");
                assert_eq!(host_path, format!("{cwd}/motd"));
            }
            other => panic!("{other:?}"),
        }
        // Out: over an existing file it asks; into a directory it says so.
        let mut f = f.with(DIRECTION, OUT);
        assert_eq!(f.command_line(), "wharf cp web-1:/etc/motd motd");
        assert!(f
            .spec
            .hint(&f.values, HOST_PATH)
            .unwrap()
            .contains("replaced"));
        assert!(
            matches!(spec.submit(&f.values), Effect::Confirm(c) if c.question.contains("replace"))
        );
        f.set(HOST_PATH, "./");
        assert!(f
            .spec
            .hint(&f.values, HOST_PATH)
            .unwrap()
            .contains("inside"));
        assert!(matches!(
            spec.submit(&f.values),
            Effect::Call(Call::Copy { into: false, .. })
        ));
        f.set(HOST_PATH, "nosuch/dir/x");
        assert!(f.error(HOST_PATH).unwrap().contains("create it first"));
    }

    #[test]
    fn export_to_a_file_asking_before_replacing_one() {
        let dir = tempfile::tempdir().unwrap();
        let spec = ExportSpec {
            target: target(),
            cwd: dir.path().display().to_string(),
        };
        let f = Form::new(Box::new(spec.clone())).with(0, "web.tar");
        assert_eq!(f.first_error(), None);
        assert_eq!(f.command_line(), "wharf export -o web.tar web-1");
        assert!(matches!(
            spec.submit(&f.values),
            Effect::Call(Call::Export { .. })
        ));
        std::fs::write(dir.path().join("web.tar"), "").unwrap();
        assert!(matches!(spec.submit(&f.values), Effect::Confirm(_)));
        let f = f.with(0, ".");
        assert!(f.error(0).unwrap().contains("is a directory"));
        let spec = ExportSpec {
            target: target(),
            cwd: "/lab".into(),
        };
        let mut f = Form::new(Box::new(spec)).with(0, "out/web.tar");
        f.submitted = true;
        insta::assert_snapshot!(render(90, 9, &f));
    }
}

#[cfg(test)]
mod console_tests {
    //! The forms in the whole console (header, tabs, the pane under the window, the
    //! footer), at 80x24 and 160x45, and what a role is offered.

    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;
    use wharf_views::networks::NetworkRow;
    use wharf_views::Theme;

    use super::super::actions;
    use super::super::app::{App, Overlay};
    use super::super::keymap::Keymap;
    use super::super::panes::{containers, networks};

    fn console(dir: &std::path::Path, role: Option<&str>) -> App {
        let (worker, _rx) = crate::console::worker::Worker::on_temp_root(dir);
        let role = role.and_then(|r| {
            wharf_engine::policy::Policy::parse(std::path::Path::new("policy.json"), "{}")
                .unwrap()
                .role(r)
                .cloned()
        });
        let mut a = App::new(
            worker,
            Keymap::default_keymap(),
            None,
            role,
            Theme::default(),
        );
        let now = chrono::Utc::now().timestamp();
        a.store
            .containers
            .set(wharf_views::containers::sample(6, now));
        a.store.networks.set(vec![
            NetworkRow {
                name: "bridge".into(),
                driver: "bridge".into(),
                subnet: "172.17.0.0/16".into(),
                gateway: "172.17.0.1".into(),
                containers: vec![],
            },
            NetworkRow {
                name: "lan".into(),
                driver: "bridge".into(),
                subnet: "10.30.0.0/16".into(),
                gateway: "10.30.0.1".into(),
                containers: vec!["db".into()],
            },
        ]);
        a
    }

    fn screen(a: &mut App, w: u16, h: u16) -> String {
        let mut t = Terminal::new(TestBackend::new(w, h)).expect("backend");
        t.draw(|f| super::super::ui::draw(f, a)).expect("draw");
        t.backend().to_string()
    }

    fn typed(a: &mut App, s: &str) {
        for c in s.chars() {
            a.handle_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
        }
    }

    fn key(a: &mut App, k: KeyCode) {
        a.handle_key(KeyEvent::new(k, KeyModifiers::NONE));
    }

    #[test]
    fn the_forms_fit_80x24_and_160x45() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = console(dir.path(), None);
        // batch-17 is selected (sorted by name).
        a.act(containers::COMMIT);
        assert!(matches!(a.overlay, Overlay::Form(_)));
        typed(&mut a, "lab/batch:1");
        key(&mut a, KeyCode::Tab);
        typed(&mut a, "step 3 done");
        let s = screen(&mut a, 80, 24);
        assert!(
            s.contains("wharf commit -m 'step 3 done' batch-17 lab/batch:1"),
            "{s}"
        );
        insta::assert_snapshot!("commit_narrow", s);
        key(&mut a, KeyCode::Esc);
        assert!(matches!(a.overlay, Overlay::None));

        a.act(containers::UPDATE);
        typed(&mut a, "1x");
        let s = screen(&mut a, 80, 24);
        assert!(s.contains("✖ memory: invalid --memory"), "{s}");
        insta::assert_snapshot!("update_narrow", s);
        key(&mut a, KeyCode::Esc);

        // (Its snapshot is the unit test's: this one names the directory the tests run in.)
        a.act(containers::COPY);
        let s = screen(&mut a, 160, 45);
        assert!(
            s.contains("copy files into or out of batch-17") && s.contains("● into the container"),
            "{s}"
        );
        key(&mut a, KeyCode::Esc);

        a.act(actions::RUN_FORM);
        typed(&mut a, "wharf/demo");
        insta::assert_snapshot!("run_narrow", screen(&mut a, 80, 24));
        key(&mut a, KeyCode::Esc);

        a.act(actions::TABS[2]);
        a.act(networks::CREATE);
        typed(&mut a, "lab");
        key(&mut a, KeyCode::Tab);
        typed(&mut a, "10.30.1.0/24");
        let s = screen(&mut a, 160, 45);
        assert!(s.contains("overlaps network lan (10.30.0.0/16)"), "{s}");
        insta::assert_snapshot!("network_create_wide", s);
        key(&mut a, KeyCode::Esc);
        // lan is second (after bridge).
        a.act(actions::DOWN);
        a.act(networks::CONNECT);
        insta::assert_snapshot!("connect_narrow", screen(&mut a, 80, 24));
    }

    /// A viewer is offered what its role has (top, disk usage), not the rest.
    #[test]
    fn a_viewer_is_offered_only_what_reads() {
        let dir = tempfile::tempdir().unwrap();
        let a = console(dir.path(), Some("viewer"));
        let help: Vec<String> = a
            .help_sections()
            .into_iter()
            .flat_map(|s| s.bindings.into_iter().map(|b| b.action))
            .collect();
        for yes in ["processes", "disk-usage"] {
            assert!(help.iter().any(|h| h == yes), "{yes} in {help:?}");
        }
        for no in [
            "diff",
            "wait",
            "commit",
            "copy",
            "export",
            "update",
            "network-create",
            "network-connect",
        ] {
            assert!(!help.iter().any(|h| h == no), "{no} in {help:?}");
        }
        let admin = console(dir.path(), Some("admin"));
        let (hints, _) = admin.hints();
        let labels: Vec<&str> = hints.iter().map(|h| h.1.as_str()).collect();
        for l in ["top", "diff", "commit", "cp", "export", "update", "wait"] {
            assert!(labels.contains(&l), "{l} in {labels:?}");
        }
    }
}
