//! A form over the panes: text fields and choices, each checked as it is typed, the
//! equivalent command line under them, Enter to act and Esc to cancel (the run form's
//! look, for the other forms: commit, cp, export, update, network create and connect).
//!
//! What a form means is its [`Spec`]: the fields, their rules (the flag grammar,
//! [`wharf_engine::api::flags`]), the command line it stands for. [`Form`] is the
//! editing state the console keeps, and [`draw`] draws it.
//!
//! A secret field (a registry password) is drawn as one dot per character
//! ([`masked`]), never its text, and is left out of the form's `Debug`. A form whose
//! line is not a command (a policy edit says what it will change) draws it as a
//! sentence ([`Spec::line_is_command`]); a problem of the whole form, not of one field,
//! is [`Spec::form_error`].

use std::fmt;

use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

use crate::dialog::centered;
use crate::theme::Theme;

/// One field of a form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldDef {
    /// The label on the form (`repository`).
    pub label: &'static str,
    /// What to type, shown while the field is empty.
    pub placeholder: &'static str,
    /// A choice field's values, the first one the default (Space, ← and → move through
    /// them, a letter picks the one it starts with); empty for a text field.
    pub choices: &'static [&'static str],
    /// A secret (a password): drawn as dots, never its text.
    pub secret: bool,
}

impl FieldDef {
    /// A text field.
    pub const fn text(label: &'static str, placeholder: &'static str) -> FieldDef {
        FieldDef {
            label,
            placeholder,
            choices: &[],
            secret: false,
        }
    }

    /// A secret text field (a password): drawn as one dot per character.
    pub const fn secret(label: &'static str, placeholder: &'static str) -> FieldDef {
        FieldDef {
            label,
            placeholder,
            choices: &[],
            secret: true,
        }
    }

    /// A choice among `choices`.
    pub const fn choice(label: &'static str, choices: &'static [&'static str]) -> FieldDef {
        FieldDef {
            label,
            placeholder: "",
            choices,
            secret: false,
        }
    }
}

/// What a form means: its fields, their rules, and the command line it stands for.
pub trait Spec {
    /// The window's title (`commit web-1 to an image`).
    fn title(&self) -> String;
    /// The fields, in order.
    fn fields(&self) -> &[FieldDef];
    /// Why field `i` is wrong, given all the values; `None` when it is fine.
    fn error(&self, values: &[String], i: usize) -> Option<String>;
    /// What is wrong with the values together, when no one field is (Enter waits for
    /// it to be fixed too).
    fn form_error(&self, _values: &[String]) -> Option<String> {
        None
    }
    /// A warning on field `i` that does not stop Enter.
    fn hint(&self, _values: &[String], _i: usize) -> Option<String> {
        None
    }
    /// What field `i` shows while empty (its placeholder, or the value it keeps).
    fn placeholder(&self, i: usize) -> String {
        self.fields()
            .get(i)
            .map(|f| f.placeholder.to_string())
            .unwrap_or_default()
    }
    /// The equivalent command line (`wharf commit -m "..." web-1 lab/web:2`).
    fn command_line(&self, values: &[String]) -> String;
    /// What Enter does, in a word (`commit`).
    fn verb(&self) -> &'static str;
    /// The line under the fields is a command (drawn after `$ `); else a sentence
    /// saying what Enter will do (empty: nothing to say yet).
    fn line_is_command(&self) -> bool {
        true
    }
}

/// What a secret field shows: a dot per character, never the text.
pub fn masked(value: &str) -> String {
    "•".repeat(value.chars().count())
}

/// A form being filled in: its spec, the values, the focus.
pub struct Form {
    pub spec: Box<dyn Spec>,
    pub values: Vec<String>,
    pub focus: usize,
    /// Set after Enter was pressed once, so empty required fields show their error too.
    pub submitted: bool,
}

impl fmt::Debug for Form {
    /// A secret field's value is never printed (its length is).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let defs = self.spec.fields();
        let values: Vec<String> = self
            .values
            .iter()
            .enumerate()
            .map(|(i, v)| match defs.get(i) {
                Some(d) if d.secret => masked(v),
                _ => v.clone(),
            })
            .collect();
        f.debug_struct("Form")
            .field("title", &self.spec.title())
            .field("values", &values)
            .field("focus", &self.focus)
            .finish_non_exhaustive()
    }
}

impl Form {
    /// An empty form (choices on their first value), the focus on the first field.
    pub fn new(spec: Box<dyn Spec>) -> Form {
        let values = spec
            .fields()
            .iter()
            .map(|f| f.choices.first().map(|c| c.to_string()).unwrap_or_default())
            .collect();
        Form {
            spec,
            values,
            focus: 0,
            submitted: false,
        }
    }

    /// The same with field `i` set to `v`.
    pub fn with(mut self, i: usize, v: &str) -> Form {
        self.set(i, v);
        self
    }

    /// The value of field `i`.
    pub fn get(&self, i: usize) -> &str {
        self.values.get(i).map(String::as_str).unwrap_or("")
    }

    /// Set field `i`.
    pub fn set(&mut self, i: usize, v: &str) {
        if let Some(x) = self.values.get_mut(i) {
            *x = v.to_string();
        }
    }

    fn def(&self) -> FieldDef {
        self.spec.fields()[self.focus]
    }

    /// Move the focus by `d` fields, wrapping.
    pub fn move_focus(&mut self, d: isize) {
        let n = self.values.len().max(1) as isize;
        self.focus = (self.focus as isize + d).rem_euclid(n) as usize;
    }

    /// Move a choice field's value by `d` (a text field stays as it is).
    pub fn cycle(&mut self, d: isize) {
        let choices = self.def().choices;
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

    /// A character typed: into a text field; on a choice, Space moves to the next value
    /// and a letter picks the value it starts with.
    pub fn type_char(&mut self, c: char) {
        let choices = self.def().choices;
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

    /// Delete the last character of a text field.
    pub fn backspace(&mut self) {
        if self.def().choices.is_empty() {
            self.values[self.focus].pop();
        }
    }

    /// Clear a text field.
    pub fn clear_field(&mut self) {
        if self.def().choices.is_empty() {
            self.values[self.focus].clear();
        }
    }

    /// Why field `i` is wrong.
    pub fn error(&self, i: usize) -> Option<String> {
        self.spec.error(&self.values, i)
    }

    /// The first field with an error.
    pub fn first_error(&self) -> Option<(usize, String)> {
        (0..self.values.len()).find_map(|i| self.error(i).map(|e| (i, e)))
    }

    /// What is wrong with the values together (when no field is wrong).
    pub fn form_error(&self) -> Option<String> {
        self.spec.form_error(&self.values)
    }

    /// Nothing wrong: Enter acts.
    pub fn is_ok(&self) -> bool {
        self.first_error().is_none() && self.form_error().is_none()
    }

    /// The equivalent command line.
    pub fn command_line(&self) -> String {
        self.spec.command_line(&self.values)
    }

    /// Enter: `true` when every field is fine; otherwise the focus goes to the first
    /// wrong one and its error shows.
    pub fn submit(&mut self) -> bool {
        self.submitted = true;
        match self.first_error() {
            None => self.form_error().is_none(),
            Some((i, _)) => {
                self.focus = i;
                false
            }
        }
    }
}

/// Quote a word for a shell command line, only when it needs it.
pub fn quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:=@,+%".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Draw the form as a window over `area`.
pub fn draw(f: &mut Frame, area: Rect, theme: &Theme, form: &Form) {
    let defs = form.spec.fields();
    let w = area.width.saturating_sub(4).min(96);
    let inner = w.saturating_sub(2).max(1) as usize;
    let label_w = defs.iter().map(|d| d.label.len()).max().unwrap_or(0);
    let mut lines = Vec::new();
    // Hints said under the fields (they do not fit on their line).
    let mut moved: Vec<(usize, String)> = Vec::new();
    for (i, d) in defs.iter().enumerate() {
        let focused = i == form.focus;
        let val = form.get(i);
        let mut spans = vec![
            Span::styled(if focused { "▶ " } else { "  " }, theme.accent()),
            Span::styled(
                format!("{:<label_w$} ", d.label),
                if focused {
                    theme.accent()
                } else {
                    theme.column().remove_modifier(Modifier::BOLD)
                },
            ),
        ];
        if d.choices.is_empty() {
            if val.is_empty() && !focused {
                spans.push(Span::styled(form.spec.placeholder(i), theme.dim()));
            } else if d.secret {
                spans.push(Span::raw(masked(val)));
            } else {
                spans.push(Span::raw(val.to_string()));
            }
            if focused {
                spans.push(Span::styled("█", theme.accent()));
                if val.is_empty() {
                    spans.push(Span::styled(
                        format!(" {}", form.spec.placeholder(i)),
                        theme.dim(),
                    ));
                }
            }
        } else {
            for (k, c) in d.choices.iter().enumerate() {
                let on = *c == val;
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
        }
        let err = form.error(i).filter(|_| !val.is_empty() || form.submitted);
        if err.is_some() {
            spans.push(Span::styled("  ✖", theme.error()));
        } else if let Some(h) = form.spec.hint(&form.values, i) {
            // A hint that does not fit on its line is said in full under the fields.
            let inline = format!("  ⚠ {h}");
            if Line::from(spans.clone()).width() + crate::util::width(&inline) <= inner {
                spans.push(Span::styled(inline, theme.warn()));
            } else {
                spans.push(Span::styled("  ⚠", theme.warn()));
                moved.push((i, h));
            }
        }
        lines.push(Line::from(spans));
    }
    // The focused field's error in full, else the first one shown.
    let shown = form
        .error(form.focus)
        .filter(|_| !form.get(form.focus).is_empty() || form.submitted)
        .map(|e| (form.focus, e))
        .or_else(|| {
            form.first_error()
                .filter(|(i, _)| form.submitted || !form.get(*i).is_empty())
        });
    let moved_hint = moved
        .iter()
        .find(|(i, _)| *i == form.focus)
        .or(moved.first());
    // A problem of the whole form once no field has one.
    let whole = form
        .form_error()
        .filter(|_| shown.is_none() && form.first_error().is_none());
    lines.push(match (&shown, moved_hint, whole) {
        (Some((i, e)), _, _) => Line::styled(format!("✖ {}: {e}", defs[*i].label), theme.error()),
        (None, _, Some(e)) => Line::styled(format!("✖ {e}"), theme.error()),
        (None, Some((i, h)), None) => {
            Line::styled(format!("⚠ {}: {h}", defs[*i].label), theme.warn())
        }
        (None, None, None) => Line::raw(""),
    });
    let cmd = form.command_line();
    if form.spec.line_is_command() {
        lines.push(Line::from(vec![
            Span::styled("$ ", theme.dim()),
            Span::styled(cmd.clone(), theme.ok()),
        ]));
    } else if !cmd.is_empty() {
        lines.push(Line::styled(cmd.clone(), theme.text()));
    }
    lines.push(Line::raw(""));
    let ok = form.is_ok();
    let mut keys = vec![
        Span::styled("Tab", theme.accent()),
        Span::raw(" next field  "),
    ];
    if defs.iter().any(|d| !d.choices.is_empty()) {
        keys.push(Span::styled("Space ←→", theme.accent()));
        keys.push(Span::raw(" choose  "));
    }
    keys.extend([
        Span::styled("Enter", theme.accent()),
        Span::raw(if ok {
            format!(" {}  ", form.spec.verb())
        } else {
            format!(" {} (fix ✖ first)  ", form.spec.verb())
        }),
        Span::styled("Esc", theme.accent()),
        Span::raw(" cancel"),
    ]);
    lines.push(Line::from(keys));
    // Wrapped lines: the error, the command line and the keys may take more than one.
    let rows: usize = lines.iter().map(|l| l.width().div_ceil(inner).max(1)).sum();
    let h = (rows as u16 + 2).min(area.height);
    let r = centered(area, w, h);
    f.render_widget(Clear, r);
    let title = format!(" {} ", form.spec.title());
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.accent())
        .title(Span::styled(title, theme.accent()));
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

    #[derive(Debug)]
    struct Demo;

    const FIELDS: &[FieldDef] = &[
        FieldDef::text("name", "required, e.g. web"),
        FieldDef::choice("mode", &["fast", "slow"]),
    ];

    impl Spec for Demo {
        fn title(&self) -> String {
            "demo".into()
        }
        fn fields(&self) -> &'static [FieldDef] {
            FIELDS
        }
        fn error(&self, v: &[String], i: usize) -> Option<String> {
            (i == 0 && v[0].is_empty()).then(|| "a name is required".into())
        }
        fn command_line(&self, v: &[String]) -> String {
            format!("demo --{} {}", v[1], quote(&v[0]))
        }
        fn verb(&self) -> &'static str {
            "go"
        }
    }

    #[test]
    fn editing_choices_and_submit() {
        let mut f = Form::new(Box::new(Demo));
        assert_eq!(f.get(1), "fast");
        assert!(!f.submit(), "the name is missing");
        assert_eq!(f.focus, 0);
        f.type_char('a');
        f.type_char(' ');
        f.move_focus(1);
        f.type_char(' ');
        assert_eq!(f.get(1), "slow");
        f.cycle(1);
        assert_eq!(f.get(1), "fast");
        f.type_char('s');
        assert_eq!(f.get(1), "slow");
        f.backspace();
        assert_eq!(f.get(1), "slow", "backspace leaves a choice alone");
        assert!(f.submit());
        assert_eq!(f.command_line(), "demo --slow 'a '");
        insta::assert_snapshot!(render(60, 12, |fr| draw(
            fr,
            fr.area(),
            &Theme::default(),
            &f
        )));
    }

    #[derive(Debug)]
    struct Login;

    const LOGIN: &[FieldDef] = &[
        FieldDef::text("user", "a name"),
        FieldDef::secret("password", "or a token"),
    ];

    impl Spec for Login {
        fn title(&self) -> String {
            "log in".into()
        }
        fn fields(&self) -> &'static [FieldDef] {
            LOGIN
        }
        fn error(&self, v: &[String], i: usize) -> Option<String> {
            (v[i].is_empty()).then(|| "needed".into())
        }
        fn form_error(&self, v: &[String]) -> Option<String> {
            (v[0] == "root").then(|| "root may not log in here".into())
        }
        fn command_line(&self, v: &[String]) -> String {
            format!("log in as {}", v[0])
        }
        fn verb(&self) -> &'static str {
            "log in"
        }
        fn line_is_command(&self) -> bool {
            false
        }
    }

    #[test]
    fn a_secret_is_never_drawn_nor_debugged() {
        let mut f = Form::new(Box::new(Login)).with(0, "alice");
        f.focus = 1;
        for c in "hunter2".chars() {
            f.type_char(c);
        }
        assert!(!format!("{f:?}").contains("hunter2"));
        assert!(f.submit());
        let s = render(60, 10, |fr| draw(fr, fr.area(), &Theme::default(), &f));
        assert!(!s.contains("hunter2"), "{s}");
        assert!(
            s.contains("•••••••") && s.contains("log in as alice"),
            "{s}"
        );
        assert!(!s.contains("$ "), "a sentence, not a command: {s}");
        insta::assert_snapshot!(s);
        // A problem of the whole form stops Enter and is said.
        f.set(0, "root");
        assert!(!f.submit());
        let s = render(60, 10, |fr| draw(fr, fr.area(), &Theme::default(), &f));
        assert!(s.contains("✖ root may not log in here"), "{s}");
    }

    #[test]
    fn quoting() {
        assert_eq!(quote("lab/web:2"), "lab/web:2");
        assert_eq!(quote("it's"), "'it'\\''s'");
        assert_eq!(quote(""), "''");
    }
}
