//! A form a pane asks for (log in to a registry, push an image, edit the policy): a few
//! one-line fields, checked as they are typed, Enter to do it once they are right. A
//! secret field (a password) is drawn as dots, never logged, and leaves the form only
//! in the value handed to `then`.

use std::fmt;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::Rect;
use ratatui::Frame;
use wharf_views::form::{self as view, FieldView};
use wharf_views::Theme;

use super::msg::Effect;

/// One field.
pub struct Field {
    pub label: String,
    pub value: String,
    /// Drawn as dots (a password).
    pub secret: bool,
    /// Shown dim while empty.
    pub placeholder: String,
}

impl Field {
    /// A plain field with a starting value.
    pub fn new(label: &str, value: impl Into<String>) -> Field {
        Field {
            label: label.into(),
            value: value.into(),
            secret: false,
            placeholder: String::new(),
        }
    }

    /// A field drawn as dots.
    pub fn secret(label: &str) -> Field {
        Field {
            secret: true,
            ..Field::new(label, "")
        }
    }

    /// The same with a placeholder.
    pub fn hint(mut self, h: &str) -> Field {
        self.placeholder = h.into();
        self
    }
}

/// What is wrong with the values: the field (by index) it is about, if one, and why.
pub type Problem = (Option<usize>, String);

/// The whole form's check: what Enter will do (a sentence), or the problem.
pub type FormCheck = Box<dyn Fn(&[String]) -> Result<String, Problem>>;

/// What Enter does with the values (in field order).
pub type Submit = Box<dyn FnOnce(Vec<String>) -> Effect>;

/// A form.
pub struct Form {
    pub title: String,
    pub fields: Vec<Field>,
    pub focus: usize,
    /// What Enter is called (`log in`).
    pub submit_label: String,
    check: FormCheck,
    then: Option<Submit>,
}

impl fmt::Debug for Form {
    /// Labels only: a form may hold a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Form")
            .field("title", &self.title)
            .field(
                "fields",
                &self.fields.iter().map(|x| &x.label).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// What a key did to the form.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    Stay,
    Cancel,
    /// Enter with good values: take [`Form::submit`].
    Submit,
}

impl Form {
    /// A form of `fields`; `check` says what Enter will do or what is wrong; `then`
    /// makes the effect from the values.
    pub fn new(
        title: impl Into<String>,
        fields: Vec<Field>,
        submit_label: &str,
        check: FormCheck,
        then: Submit,
    ) -> Form {
        Form {
            title: title.into(),
            fields,
            focus: 0,
            submit_label: submit_label.into(),
            check,
            then: Some(then),
        }
    }

    /// Start on field `i`.
    pub fn focus(mut self, i: usize) -> Form {
        self.focus = i.min(self.fields.len().saturating_sub(1));
        self
    }

    fn values(&self) -> Vec<String> {
        self.fields.iter().map(|f| f.value.clone()).collect()
    }

    /// What Enter does now, or what is wrong.
    pub fn state(&self) -> Result<String, Problem> {
        (self.check)(&self.values())
    }

    /// A key.
    pub fn key(&mut self, ev: &KeyEvent) -> Step {
        let ctrl = ev.modifiers.contains(KeyModifiers::CONTROL);
        let n = self.fields.len();
        let field = self.fields.get_mut(self.focus);
        match ev.code {
            KeyCode::Esc => return Step::Cancel,
            KeyCode::Enter => {
                return match self.state() {
                    Ok(_) => Step::Submit,
                    Err((Some(i), _)) => {
                        self.focus = i.min(n.saturating_sub(1));
                        Step::Stay
                    }
                    Err((None, _)) => Step::Stay,
                }
            }
            KeyCode::Tab | KeyCode::Down if n > 0 => self.focus = (self.focus + 1) % n,
            KeyCode::BackTab | KeyCode::Up if n > 0 => self.focus = (self.focus + n - 1) % n,
            KeyCode::Backspace => {
                if let Some(f) = field {
                    f.value.pop();
                }
            }
            KeyCode::Char('u') if ctrl => {
                if let Some(f) = field {
                    f.value.clear();
                }
            }
            KeyCode::Char(c) if !ctrl => {
                if let Some(f) = field {
                    f.value.push(c);
                }
            }
            _ => {}
        }
        Step::Stay
    }

    /// The effect of Enter (once; the form closes).
    pub fn submit(mut self) -> Option<Effect> {
        let values = self.values();
        // The values leave in the effect only; the form's copy is wiped.
        for f in &mut self.fields {
            f.value.clear();
        }
        self.then.take().map(|t| t(values))
    }

    /// Draw it over `area`.
    pub fn draw(&self, f: &mut Frame, area: Rect, theme: &Theme) {
        let state = self.state();
        let (summary, blocked, at) = match &state {
            Ok(s) => (s.clone(), false, None),
            Err((i, e)) => (e.clone(), true, *i),
        };
        let fields = self
            .fields
            .iter()
            .enumerate()
            .map(|(i, x)| FieldView {
                label: &x.label,
                value: &x.value,
                secret: x.secret,
                placeholder: &x.placeholder,
                error: if at == Some(i) {
                    Some(summary.as_str())
                } else {
                    None
                },
            })
            .collect();
        let m = view::Model {
            title: &self.title,
            fields,
            focus: self.focus,
            summary: if at.is_some() {
                "fix the field marked above"
            } else {
                &summary
            },
            blocked,
            submit: &self.submit_label,
        };
        view::draw(f, area, theme, &m);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::msg::Effect;
    use wharf_views::footer::Level;

    fn k(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }

    fn login() -> Form {
        Form::new(
            "log in",
            vec![Field::new("user", "alice"), Field::secret("password")],
            "log in",
            Box::new(|v| {
                if v[1].is_empty() {
                    Err((Some(1), "a password is needed".into()))
                } else {
                    Ok(format!("log in as {}", v[0]))
                }
            }),
            Box::new(|v| Effect::note(Level::Info, format!("{} {}", v[0], v[1].len()))),
        )
    }

    #[test]
    fn enter_waits_for_good_values_and_a_secret_is_not_in_debug() {
        let mut f = login();
        assert_eq!(f.key(&k(KeyCode::Enter)), Step::Stay);
        assert_eq!(f.focus, 1, "Enter goes to the field that is wrong");
        for c in "s3cret".chars() {
            f.key(&k(KeyCode::Char(c)));
        }
        assert!(!format!("{f:?}").contains("s3cret"));
        assert_eq!(f.state().unwrap(), "log in as alice");
        assert_eq!(f.key(&k(KeyCode::Enter)), Step::Submit);
        match f.submit() {
            Some(Effect::Notify(n)) => assert_eq!(n.text, "alice 6"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_secret_is_drawn_as_dots() {
        let mut f = login().focus(1);
        for c in "hunter2".chars() {
            f.key(&k(KeyCode::Char(c)));
        }
        let mut t = ratatui::Terminal::new(ratatui::backend::TestBackend::new(60, 10)).unwrap();
        t.draw(|fr| f.draw(fr, fr.area(), &Theme::default()))
            .unwrap();
        let s = t.backend().to_string();
        assert!(!s.contains("hunter2") && s.contains("•••••••"), "{s}");
    }
}
