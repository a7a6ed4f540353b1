//! The run form: image, name, command, how to start it (detached `-d`, interactive
//! `-it`, or create only), env, ports (`-p`, `--expose`, `-P`), volumes, network,
//! limits, restart policy. Every field is validated as it is typed, by the same flag
//! grammar as the command line ([`wharf_engine::api::flags`]), and the equivalent
//! `wharf run` (or `wharf create`) command line is shown under the form.
//! [`RunForm::to_create`] gives the engine's [`ContainerCreate`], the same one
//! `wharf run` makes of that command line.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;
use wharf_engine::api::flags::{self, EnvArg};
use wharf_engine::api::ContainerCreate;
use wharf_engine::EngineError;

use crate::dialog::centered;
use crate::theme::Theme;

/// The fields, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Image,
    Name,
    Command,
    Mode,
    Env,
    Ports,
    Expose,
    PublishAll,
    Volumes,
    Network,
    Memory,
    Cpus,
    Restart,
}

impl Field {
    /// All fields in form order.
    pub const ALL: [Field; 13] = [
        Field::Image,
        Field::Name,
        Field::Command,
        Field::Mode,
        Field::Env,
        Field::Ports,
        Field::Expose,
        Field::PublishAll,
        Field::Volumes,
        Field::Network,
        Field::Memory,
        Field::Cpus,
        Field::Restart,
    ];

    /// The label on the form.
    pub fn label(self) -> &'static str {
        match self {
            Field::Image => "image",
            Field::Name => "name",
            Field::Command => "command",
            Field::Mode => "start",
            Field::Env => "env",
            Field::Ports => "ports",
            Field::Expose => "expose",
            Field::PublishAll => "publish all",
            Field::Volumes => "volumes",
            Field::Network => "network",
            Field::Memory => "memory",
            Field::Cpus => "cpus",
            Field::Restart => "restart",
        }
    }

    /// What to type, shown when the field is empty.
    pub fn placeholder(self) -> &'static str {
        match self {
            Field::Image => "required, e.g. wharf/demo:latest",
            Field::Name => "optional, e.g. web-1",
            Field::Command => "image default; e.g. sh -c 'echo hi; sleep 60'",
            Field::Mode | Field::PublishAll => "",
            Field::Env => "KEY=VALUE ...",
            Field::Ports => "[ip:][host:]container[/udp] ...",
            Field::Expose => "container ports to expose, e.g. 80 8000-8001/udp",
            Field::Volumes => "name:/path or /host:/path[:ro] ...",
            Field::Network => "bridge (default), none, host or a network name",
            Field::Memory => "e.g. 256m, 1g",
            Field::Cpus => "e.g. 0.5",
            Field::Restart => "no, always, unless-stopped, on-failure[:N]",
        }
    }

    /// A choice field's values, the first the default (empty for a text field).
    pub fn choices(self) -> &'static [&'static str] {
        match self {
            Field::Mode => &[Mode::DETACHED, Mode::INTERACTIVE, Mode::CREATE],
            Field::PublishAll => &["no", "yes"],
            _ => &[],
        }
    }
}

/// How the form starts the container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `wharf run -d`: in the background.
    Detached,
    /// `wharf run -it`: with a terminal, the console's handed over to it.
    Interactive,
    /// `wharf create`: made, not started.
    CreateOnly,
}

impl Mode {
    const DETACHED: &str = "detached";
    const INTERACTIVE: &str = "interactive";
    const CREATE: &str = "create only";
}

/// Commands that are a shell reading its input: with no terminal and no input (a
/// detached container) they exit at once.
pub fn is_bare_shell(cmd: &[String]) -> bool {
    match cmd {
        [one] => {
            let base = one.rsplit('/').next().unwrap_or(one);
            matches!(base, "sh" | "bash" | "ash" | "dash" | "zsh" | "ksh")
        }
        _ => false,
    }
}

/// The form's text and focus.
#[derive(Debug, Clone, Default)]
pub struct RunForm {
    pub values: [String; 13],
    pub focus: usize,
    /// Image references the engine has, for a "not found locally" hint.
    pub known_images: Vec<String>,
    /// Their default commands (entrypoint and cmd), where known: a hint when a
    /// detached run of a shell would exit at once.
    pub image_cmds: Vec<(String, Vec<String>)>,
    /// Set after a submit attempt, so empty required fields show their error too.
    pub submitted: bool,
}

fn words(s: &str) -> Result<Vec<String>, String> {
    shlex::split(s).ok_or_else(|| "unbalanced quotes".to_string())
}

/// Docker's rule for container, volume and network names:
/// `[a-zA-Z0-9][a-zA-Z0-9_.-]+` (the flag grammar's).
pub fn valid_name(s: &str) -> bool {
    flags::valid_volume_name(s)
}

/// The message of a grammar error, for the form.
fn msg(e: EngineError) -> String {
    e.message
}

/// `-e` words of the form: `KEY=VALUE` only (the console has no shell of its own to take
/// a bare KEY's value from).
fn env_words(w: &[String]) -> Result<Vec<String>, String> {
    w.iter()
        .map(|e| match flags::env(e).map_err(msg)? {
            EnvArg::Set(kv) => Ok(kv),
            EnvArg::FromCaller(k) => Err(format!(
                "{k:?} has no value: write {k}=VALUE (the console has no shell to take it from)"
            )),
        })
        .collect()
}

impl RunForm {
    /// An empty form; `network` pre-filled (e.g. `none` in tests).
    pub fn new(known_images: Vec<String>) -> Self {
        let mut f = RunForm {
            known_images,
            ..Default::default()
        };
        for fld in Field::ALL {
            if let Some(c) = fld.choices().first() {
                f.set(fld, c);
            }
        }
        f
    }

    /// How the container is to be started.
    pub fn mode(&self) -> Mode {
        match self.get(Field::Mode) {
            Mode::INTERACTIVE => Mode::Interactive,
            Mode::CREATE => Mode::CreateOnly,
            _ => Mode::Detached,
        }
    }

    /// The command the container would run: the one typed, else the image's (when
    /// known).
    fn effective_cmd(&self) -> Option<Vec<String>> {
        let typed = words(self.get(Field::Command).trim()).ok()?;
        if !typed.is_empty() {
            return Some(typed);
        }
        let img = self.get(Field::Image).trim();
        self.image_cmds
            .iter()
            .find(|(r, _)| {
                r == img
                    || crate::util::short_ref(r) == img
                    || crate::util::short_ref(r) == format!("{img}:latest")
            })
            .map(|(_, c)| c.clone())
    }

    /// Move a choice field's value by `d` (a text field stays as it is).
    pub fn cycle(&mut self, d: isize) {
        let choices = self.focused().choices();
        if choices.is_empty() {
            return;
        }
        let at = choices
            .iter()
            .position(|c| *c == self.values[self.focus])
            .unwrap_or(0) as isize;
        let n = choices.len() as isize;
        self.values[self.focus] = choices[(at + d).rem_euclid(n) as usize].to_string();
    }

    /// The value of a field.
    pub fn get(&self, f: Field) -> &str {
        &self.values[f as usize]
    }

    /// Set a field.
    pub fn set(&mut self, f: Field, v: &str) {
        self.values[f as usize] = v.to_string();
    }

    /// The focused field.
    pub fn focused(&self) -> Field {
        Field::ALL[self.focus]
    }

    /// Move focus by `d` fields, wrapping.
    pub fn move_focus(&mut self, d: isize) {
        self.focus = (self.focus as isize + d).rem_euclid(Field::ALL.len() as isize) as usize;
    }

    /// Type a character into the focused field; on a choice, Space moves to the next
    /// value and a letter picks the value it starts with.
    pub fn type_char(&mut self, c: char) {
        let choices = self.focused().choices();
        if choices.is_empty() {
            self.values[self.focus].push(c);
        } else if c == ' ' {
            self.cycle(1);
        } else if let Some(v) = choices
            .iter()
            .find(|v| v.chars().next().is_some_and(|f| f.eq_ignore_ascii_case(&c)))
        {
            self.values[self.focus] = v.to_string();
        }
    }

    /// Delete the last character of the focused field (not of a choice).
    pub fn backspace(&mut self) {
        if self.focused().choices().is_empty() {
            self.values[self.focus].pop();
        }
    }

    /// Clear the focused field (not a choice).
    pub fn clear_field(&mut self) {
        if self.focused().choices().is_empty() {
            self.values[self.focus].clear();
        }
    }

    /// The error of one field, if its text is not valid.
    pub fn error(&self, f: Field) -> Option<String> {
        let v = self.get(f).trim();
        let r: Result<(), String> = match f {
            Field::Image if v.is_empty() => Err("an image is required".into()),
            Field::Image if v.contains(char::is_whitespace) => {
                Err("an image reference has no spaces".into())
            }
            Field::Image => Ok(()),
            Field::Name if !v.is_empty() && !valid_name(v) => Err(
                "a name may contain only [a-zA-Z0-9_.-] and starts with a letter or digit".into(),
            ),
            Field::Command => words(v).map(|_| ()),
            Field::Env => words(v).and_then(|w| env_words(&w).map(|_| ())),
            Field::Ports => words(v).and_then(|w| {
                w.iter()
                    .try_for_each(|p| flags::publish(p).map(|_| ()).map_err(msg))
            }),
            Field::Expose => words(v).and_then(|w| {
                w.iter()
                    .try_for_each(|p| flags::expose(p).map(|_| ()).map_err(msg))
            }),
            Field::Volumes => words(v).and_then(|w| {
                w.iter()
                    .try_for_each(|p| flags::volume(p).map(|_| ()).map_err(msg))
            }),
            Field::Network if !v.is_empty() && !(valid_name(v)) => {
                Err("a network is bridge, none, host or a network name".into())
            }
            Field::Memory if !v.is_empty() => flags::memory(v).map(|_| ()).map_err(msg),
            Field::Cpus if !v.is_empty() => flags::cpus(v).map(|_| ()).map_err(msg),
            Field::Restart => flags::restart(v).map(|_| ()).map_err(msg),
            _ => Ok(()),
        };
        r.err()
    }

    /// A hint that is not an error (image not known locally; a detached shell that
    /// would exit at once; `-P` on a network without ports).
    pub fn hint(&self, f: Field) -> Option<String> {
        let v = self.get(f).trim();
        if f == Field::Mode && self.mode() == Mode::Detached {
            if let Some(cmd) = self.effective_cmd().filter(|c| is_bare_shell(c)) {
                return Some(format!(
                    "detached, {} has no input and exits at once: choose interactive",
                    cmd.join(" ")
                ));
            }
        }
        if f == Field::PublishAll
            && v == "yes"
            && matches!(self.get(Field::Network).trim(), "none" | "host")
        {
            return Some(format!(
                "publishes nothing with network {}",
                self.get(Field::Network).trim()
            ));
        }
        if f == Field::Image && !v.is_empty() && self.error(f).is_none() {
            let known = self.known_images.iter().any(|k| {
                k == v
                    || crate::util::short_ref(k) == v
                    || crate::util::short_ref(k) == format!("{v}:latest")
            });
            if !known {
                return Some("not found locally: the engine will say what to do".into());
            }
        }
        None
    }

    /// The first field with an error.
    pub fn first_error(&self) -> Option<(Field, String)> {
        Field::ALL
            .iter()
            .find_map(|f| self.error(*f).map(|e| (*f, e)))
    }

    /// The engine request for this form, or the first error.
    pub fn to_create(&self) -> Result<ContainerCreate, (Field, String)> {
        if let Some(e) = self.first_error() {
            return Err(e);
        }
        let v = |f: Field| self.get(f).trim().to_string();
        let ws = |f: Field| words(&v(f)).map_err(|e| (f, e));
        let err = |f: Field| move |e: EngineError| (f, e.message);
        let opt = |f: Field| Some(v(f)).filter(|s| !s.is_empty());
        let mut c = ContainerCreate {
            image: v(Field::Image),
            name: opt(Field::Name),
            network: opt(Field::Network),
            ..Default::default()
        };
        let cmd = ws(Field::Command)?;
        if !cmd.is_empty() {
            c.cmd = Some(cmd);
        }
        c.env = env_words(&ws(Field::Env)?).map_err(|e| (Field::Env, e))?;
        for p in ws(Field::Ports)? {
            c.ports
                .extend(flags::publish(&p).map_err(err(Field::Ports))?);
        }
        for p in ws(Field::Expose)? {
            c.expose
                .extend(flags::expose(&p).map_err(err(Field::Expose))?);
        }
        c.publish_all = self.get(Field::PublishAll) == "yes";
        if self.mode() == Mode::Interactive {
            c.tty = true;
            c.open_stdin = true;
        }
        for m in ws(Field::Volumes)? {
            c.mounts
                .push(flags::volume(&m).map_err(err(Field::Volumes))?);
        }
        if let Some(m) = opt(Field::Memory) {
            c.resources.memory = Some(flags::memory(&m).map_err(err(Field::Memory))?);
        }
        if let Some(n) = opt(Field::Cpus) {
            c.resources.nano_cpus = Some(flags::cpus(&n).map_err(err(Field::Cpus))?);
        }
        c.restart = flags::restart(&v(Field::Restart)).map_err(err(Field::Restart))?;
        Ok(c)
    }

    /// The equivalent command line: `wharf run -d --name web ... IMAGE CMD` (`run -it`,
    /// or `create`, as the form starts it), made from the request the form makes (the
    /// same words the console shows after the run); while the form is not valid yet,
    /// from its text as typed.
    pub fn command_line(&self) -> String {
        if let Ok(spec) = self.to_create() {
            // -i and -t come from the request (an interactive run asks for both).
            let mut words = vec!["wharf".to_string()];
            match self.mode() {
                Mode::Detached => words.extend(["run".into(), "-d".into()]),
                Mode::Interactive => words.push("run".into()),
                Mode::CreateOnly => words.push("create".into()),
            }
            words.extend(flags::argv::run_args(&spec));
            return flags::argv::shell_line(&words);
        }
        self.typed_line()
    }

    /// The command line from the form's text as typed.
    fn typed_line(&self) -> String {
        let q = |s: &str| {
            if !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-./:=@,+%".contains(c))
            {
                s.to_string()
            } else {
                format!("'{}'", s.replace('\'', "'\\''"))
            }
        };
        let mut out = vec!["wharf".to_string()];
        match self.mode() {
            Mode::Detached => out.extend(["run".into(), "-d".into()]),
            Mode::Interactive => out.extend(["run".into(), "-it".into()]),
            Mode::CreateOnly => out.push("create".into()),
        }
        let v = |f: Field| self.get(f).trim().to_string();
        let ws = |f: Field| words(&v(f)).unwrap_or_default();
        if !v(Field::Name).is_empty() {
            out.push(format!("--name {}", q(&v(Field::Name))));
        }
        for e in ws(Field::Env) {
            out.push(format!("-e {}", q(&e)));
        }
        for p in ws(Field::Ports) {
            out.push(format!("-p {}", q(&p)));
        }
        for p in ws(Field::Expose) {
            out.push(format!("--expose {}", q(&p)));
        }
        if self.get(Field::PublishAll) == "yes" {
            out.push("-P".into());
        }
        for m in ws(Field::Volumes) {
            out.push(format!("-v {}", q(&m)));
        }
        if !v(Field::Network).is_empty() {
            out.push(format!("--network {}", q(&v(Field::Network))));
        }
        if !v(Field::Memory).is_empty() {
            out.push(format!("-m {}", q(&v(Field::Memory))));
        }
        if !v(Field::Cpus).is_empty() {
            out.push(format!("--cpus {}", q(&v(Field::Cpus))));
        }
        if !v(Field::Restart).is_empty() && v(Field::Restart) != "no" {
            out.push(format!("--restart {}", q(&v(Field::Restart))));
        }
        out.push(if v(Field::Image).is_empty() {
            "IMAGE".into()
        } else {
            q(&v(Field::Image))
        });
        for w in ws(Field::Command) {
            out.push(q(&w));
        }
        out.join(" ")
    }
}

/// Draw the form as a window over `area`.
pub fn draw(f: &mut Frame, area: Rect, theme: &Theme, form: &RunForm) {
    let w = area.width.saturating_sub(4).min(96);
    let inner_w = w.saturating_sub(2) as usize;
    let mut lines = Vec::new();
    // Hints said under the fields (they do not fit on their line).
    let mut moved: Vec<(Field, String)> = Vec::new();
    for (i, fld) in Field::ALL.iter().enumerate() {
        let focused = i == form.focus;
        let val = form.get(*fld);
        let mut spans = vec![
            Span::styled(if focused { "▶ " } else { "  " }, theme.accent()),
            Span::styled(
                format!("{:<11} ", fld.label()),
                if focused {
                    theme.accent()
                } else {
                    theme
                        .column()
                        .remove_modifier(ratatui::style::Modifier::BOLD)
                },
            ),
        ];
        let err = form
            .error(*fld)
            .filter(|_| !val.is_empty() || form.submitted);
        let choices = fld.choices();
        if !choices.is_empty() {
            for (k, c) in choices.iter().enumerate() {
                let on = *c == val || (val.is_empty() && k == 0);
                if k > 0 {
                    spans.push(Span::raw("  "));
                }
                spans.push(Span::styled(
                    format!("{} {c}", if on { "●" } else { "○" }),
                    if on && focused {
                        theme.accent()
                    } else if on {
                        theme.text()
                    } else {
                        theme.dim()
                    },
                ));
            }
        } else if val.is_empty() && !focused {
            spans.push(Span::styled(fld.placeholder(), theme.dim()));
        } else {
            spans.push(Span::raw(val.to_string()));
        }
        if focused && choices.is_empty() {
            spans.push(Span::styled("█", theme.accent()));
            if val.is_empty() {
                spans.push(Span::styled(format!(" {}", fld.placeholder()), theme.dim()));
            }
        }
        if err.is_some() {
            spans.push(Span::styled("  ✖", theme.error()));
        } else if let Some(hn) = form.hint(*fld) {
            // A hint that does not fit on its line is said in full under the fields.
            let inline = format!("  ⚠ {hn}");
            if Line::from(spans.clone()).width() + crate::util::width(&inline) <= inner_w {
                spans.push(Span::styled(inline, theme.warn()));
            } else {
                spans.push(Span::styled("  ⚠", theme.warn()));
                moved.push((*fld, hn));
            }
        }
        let line = Line::from(spans);
        lines.push(line);
    }
    // The full error of the focused field, else the first one (after a submit attempt).
    let shown = form
        .error(form.focused())
        .filter(|_| !form.get(form.focused()).is_empty() || form.submitted)
        .map(|e| (form.focused(), e))
        .or_else(|| {
            form.first_error()
                .filter(|(f, _)| form.submitted || !form.get(*f).is_empty())
        });
    let moved_hint = moved
        .iter()
        .find(|(f, _)| *f == form.focused())
        .or(moved.first());
    match shown {
        Some((fld, e)) => lines.push(Line::styled(
            format!("✖ {}: {e}", fld.label()),
            theme.error(),
        )),
        None => match moved_hint {
            Some((fld, h)) => lines.push(Line::styled(
                format!("⚠ {}: {h}", fld.label()),
                theme.warn(),
            )),
            None => lines.push(Line::raw("")),
        },
    }
    lines.push(Line::from(vec![
        Span::styled("$ ", theme.dim()),
        Span::styled(form.command_line(), theme.ok()),
    ]));
    lines.push(Line::raw(""));
    let ok = form.first_error().is_none();
    let verb = match form.mode() {
        Mode::Detached => "run",
        Mode::Interactive => "run with a terminal",
        Mode::CreateOnly => "create",
    };
    lines.push(Line::from(vec![
        Span::styled("Tab", theme.accent()),
        Span::raw(" next field  "),
        Span::styled("Space ←→", theme.accent()),
        Span::raw(" choose  "),
        Span::styled("Enter", theme.accent()),
        Span::raw(if ok {
            format!(" {verb}  ")
        } else {
            format!(" {verb} (fix ✖ first)  ")
        }),
        Span::styled("Esc", theme.accent()),
        Span::raw(" cancel"),
    ]));
    // As tall as the lines need, wrapped (a long command line takes two).
    let rows: usize = lines
        .iter()
        .map(|l| l.width().div_ceil(inner_w.max(1)).max(1))
        .sum();
    let r = centered(area, w, (rows as u16 + 2).min(area.height));
    f.render_widget(Clear, r);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.accent())
        .title(Span::styled(" Run a container ", theme.accent()));
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block),
        r,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::render;
    use wharf_engine::api::RestartPolicy;

    fn filled() -> RunForm {
        let mut f = RunForm::new(vec!["wharf/demo:latest".into()]);
        f.set(Field::Image, "wharf/demo:latest");
        f.set(Field::Name, "web-1");
        f.set(Field::Command, "sh -c 'echo hello; sleep 60'");
        f.set(Field::Env, "MODE=demo");
        f.set(Field::Network, "none");
        f.set(Field::Memory, "64m");
        f.set(Field::Restart, "on-failure:3");
        f.focus = 2;
        f
    }

    #[test]
    fn valid_form_builds_the_request_and_command_line() {
        let f = filled();
        let c = f.to_create().expect("valid");
        assert_eq!(c.image, "wharf/demo:latest");
        assert_eq!(c.name.as_deref(), Some("web-1"));
        assert_eq!(
            c.cmd,
            Some(vec![
                "sh".into(),
                "-c".into(),
                "echo hello; sleep 60".into()
            ])
        );
        assert_eq!(c.network.as_deref(), Some("none"));
        assert_eq!(c.resources.memory, Some(64 << 20));
        assert_eq!(c.restart, RestartPolicy::OnFailure { max_retries: 3 });
        assert_eq!(
            f.command_line(),
            "wharf run -d --name web-1 -e MODE=demo --network none -m 64m --restart on-failure:3 wharf/demo:latest sh -c 'echo hello; sleep 60'"
        );
        insta::assert_snapshot!(render(110, 22, |fr| draw(
            fr,
            fr.area(),
            &Theme::default(),
            &f
        )));
    }

    #[test]
    fn errors_as_you_type() {
        let mut f = filled();
        f.set(Field::Name, "-bad");
        f.set(Field::Ports, "8080:99999");
        f.set(Field::Volumes, "data:relative");
        f.set(Field::Image, "unknown:1");
        assert!(f.error(Field::Name).is_some());
        assert!(f
            .error(Field::Ports)
            .unwrap()
            .contains("invalid containerPort: 99999"));
        assert!(f.error(Field::Volumes).unwrap().contains("absolute"));
        assert_eq!(f.to_create().unwrap_err().0, Field::Name);
        insta::assert_snapshot!(render(80, 24, |fr| draw(
            fr,
            fr.area(),
            &Theme::default(),
            &f
        )));
    }

    #[test]
    fn empty_form() {
        let mut f = RunForm::new(vec![]);
        assert_eq!(f.to_create().unwrap_err().0, Field::Image);
        f.submitted = true;
        insta::assert_snapshot!(render(80, 24, |fr| draw(
            fr,
            fr.area(),
            &Theme::default(),
            &f
        )));
    }

    #[test]
    fn modes_expose_and_publish_all() {
        let mut f = filled();
        assert_eq!(f.mode(), Mode::Detached);
        f.set(Field::Expose, "80 9000-9001/udp");
        f.set(Field::PublishAll, "yes");
        f.set(Field::Network, "lan");
        let c = f.to_create().unwrap();
        assert_eq!(c.expose.len(), 3);
        assert!(c.publish_all && !c.tty && !c.open_stdin);
        assert!(f
            .command_line()
            .starts_with("wharf run -d --name web-1 -e MODE=demo --expose 80 --expose 9000-9001/udp -P --network lan"));
        // Space, arrows and letters choose.
        f.focus = Field::ALL.iter().position(|x| *x == Field::Mode).unwrap();
        f.type_char(' ');
        assert_eq!(f.mode(), Mode::Interactive);
        let c = f.to_create().unwrap();
        assert!(c.tty && c.open_stdin);
        assert!(f.command_line().starts_with("wharf run -it --name web-1"));
        f.cycle(1);
        assert_eq!(f.mode(), Mode::CreateOnly);
        assert!(f.command_line().starts_with("wharf create --name web-1"));
        f.type_char('d');
        assert_eq!(f.mode(), Mode::Detached);
        f.backspace();
        assert_eq!(f.mode(), Mode::Detached, "backspace leaves a choice alone");
        f.set(Field::Expose, "0");
        assert!(f.error(Field::Expose).unwrap().contains("--expose"));
    }

    #[test]
    fn a_detached_shell_is_said_to_exit_at_once() {
        let mut f = RunForm::new(vec!["wharf/demo:latest".into()]);
        f.image_cmds = vec![("wharf/demo:latest".into(), vec!["sh".into()])];
        f.set(Field::Image, "wharf/demo");
        f.set(Field::Network, "none");
        let h = f.hint(Field::Mode).expect("the image's sh");
        assert!(
            h.contains("exits at once") && h.contains("interactive"),
            "{h}"
        );
        f.set(Field::Command, "sh -c 'sleep 9'");
        assert_eq!(f.hint(Field::Mode), None);
        f.set(Field::Command, "/bin/bash");
        assert!(f.hint(Field::Mode).is_some());
        f.set(Field::Mode, "interactive");
        assert_eq!(f.hint(Field::Mode), None);
        f.set(Field::Mode, "detached");
        f.set(Field::PublishAll, "yes");
        assert!(f.hint(Field::PublishAll).unwrap().contains("nothing"));
        f.focus = 1;
        insta::assert_snapshot!(render(80, 24, |fr| draw(
            fr,
            fr.area(),
            &Theme::default(),
            &f
        )));
    }

    #[test]
    fn fields_use_the_flag_grammar() {
        let mut f = filled();
        let cases = [
            (Field::Cpus, "nan", "invalid --cpus"),
            (Field::Cpus, "-1", "invalid --cpus"),
            (Field::Memory, "nan", "invalid --memory"),
            (Field::Memory, "1e30", "invalid --memory"),
            (Field::Memory, "1k", "6m"),
            (Field::Ports, "8080:0", "invalid containerPort: 0"),
            (Field::Ports, "1.2.3.4.5:80:80", "not an IP address"),
            (Field::Ports, "8080:80/sctpx", "\"sctpx\""),
            (
                Field::Volumes,
                "/tmp:/x:bogus",
                "\"bogus\" is not a volume option",
            ),
            (Field::Env, "=x", "no name"),
            (Field::Env, "HOME", "HOME=VALUE"),
            (Field::Restart, "sometimes", "invalid --restart"),
        ];
        for (field, value, needle) in cases {
            f.set(field, value);
            let e = f.error(field).unwrap_or_default();
            assert!(e.contains(needle), "{value}: {e}");
            assert_eq!(f.to_create().unwrap_err().0, field, "{value}");
            f = filled();
        }
        f.set(Field::Ports, "8000-8001:80-81/udp 127.0.0.1::90");
        f.set(Field::Cpus, "1.5");
        f.set(Field::Volumes, "/srv:/data:ro,rshared");
        let c = f.to_create().unwrap();
        assert_eq!(c.ports.len(), 3);
        assert_eq!(c.resources.nano_cpus, Some(1_500_000_000));
        assert_eq!(c.mounts[0].options, vec!["rshared".to_string()]);
        assert!(valid_name("web-1") && !valid_name("a") && !valid_name("-x"));
    }
}
