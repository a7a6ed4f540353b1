//! Key bindings as data: `keymaps/*.json` map keys to named actions per context.
//!
//! A keymap is a JSON object with one object per context (`global`, `list`, one per
//! pane: `containers`, `images`, ..., then `inspect` and `help`; [`contexts`] lists them
//! with the actions each may bind) and an optional `"extends": "default"` naming the keymap it builds on (its bindings
//! for the same key in the same context are replaced). Keys are written `q`, `S`,
//! `ctrl-d`, `alt-x`, `enter`, `esc`, `space`, `tab`, `shift-tab`, `backspace`, `up`,
//! `down`, `left`, `right`, `pgup`, `pgdn`, `home`, `end`, `f1`..`f12`, or a sequence of
//! plain characters (`gg`). Errors name the file, the line and column, and what to fix.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

use super::actions::Action;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// The keymaps built into the binary.
pub const BUILTIN: [(&str, &str); 2] = [
    ("default", include_str!("../../../keymaps/default.json")),
    ("vim", include_str!("../../../keymaps/vim.json")),
];

/// Keymap contexts and the actions each may bind (from the panes' lists), built once.
pub fn contexts() -> &'static [(&'static str, Vec<Action>)] {
    static C: OnceLock<Vec<(&'static str, Vec<Action>)>> = OnceLock::new();
    C.get_or_init(super::panes::contexts)
}

/// The names of the contexts, in order.
pub fn context_names() -> Vec<&'static str> {
    contexts().iter().map(|c| c.0).collect()
}

/// The action `name` stands for in context `ctx`, or what is wrong with it.
fn action_in(ctx: &str, name: &str) -> Result<Action, String> {
    let all = contexts();
    if let Some(a) = all
        .iter()
        .find(|c| c.0 == ctx)
        .and_then(|c| c.1.iter().find(|a| a.name == name))
    {
        return Ok(*a);
    }
    let owners: Vec<&str> = all
        .iter()
        .filter(|c| c.1.iter().any(|a| a.name == name))
        .map(|c| c.0)
        .collect();
    if owners.is_empty() {
        Err(format!("unknown action {name:?}"))
    } else {
        Err(format!(
            "action {name:?} is not one of {ctx} (it is one of {})",
            owners.join(", ")
        ))
    }
}

/// One key press, normalised (no SHIFT on characters: `S` is `S`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub code: KeyCodeOrd,
    pub ctrl: bool,
    pub alt: bool,
}

/// The key codes wharf binds (an orderable subset of crossterm's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyCodeOrd {
    Char(char),
    F(u8),
    Enter,
    Esc,
    Tab,
    BackTab,
    Backspace,
    Delete,
    Insert,
    Up,
    Down,
    Left,
    Right,
    PageUp,
    PageDown,
    Home,
    End,
}

impl Key {
    /// From a terminal key event; `None` for keys wharf never binds.
    pub fn from_event(ev: &KeyEvent) -> Option<Key> {
        let code = match ev.code {
            KeyCode::Char(c) => KeyCodeOrd::Char(c),
            KeyCode::F(n) => KeyCodeOrd::F(n),
            KeyCode::Enter => KeyCodeOrd::Enter,
            KeyCode::Esc => KeyCodeOrd::Esc,
            KeyCode::Tab => KeyCodeOrd::Tab,
            KeyCode::BackTab => KeyCodeOrd::BackTab,
            KeyCode::Backspace => KeyCodeOrd::Backspace,
            KeyCode::Delete => KeyCodeOrd::Delete,
            KeyCode::Insert => KeyCodeOrd::Insert,
            KeyCode::Up => KeyCodeOrd::Up,
            KeyCode::Down => KeyCodeOrd::Down,
            KeyCode::Left => KeyCodeOrd::Left,
            KeyCode::Right => KeyCodeOrd::Right,
            KeyCode::PageUp => KeyCodeOrd::PageUp,
            KeyCode::PageDown => KeyCodeOrd::PageDown,
            KeyCode::Home => KeyCodeOrd::Home,
            KeyCode::End => KeyCodeOrd::End,
            _ => return None,
        };
        Some(Key {
            code,
            ctrl: ev.modifiers.contains(KeyModifiers::CONTROL),
            alt: ev.modifiers.contains(KeyModifiers::ALT),
        })
    }

    fn plain(code: KeyCodeOrd) -> Key {
        Key {
            code,
            ctrl: false,
            alt: false,
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ctrl {
            f.write_str("ctrl-")?;
        }
        if self.alt {
            f.write_str("alt-")?;
        }
        match self.code {
            KeyCodeOrd::Char(' ') => f.write_str("space"),
            KeyCodeOrd::Char(c) => write!(f, "{c}"),
            KeyCodeOrd::F(n) => write!(f, "f{n}"),
            other => f.write_str(match other {
                KeyCodeOrd::Enter => "enter",
                KeyCodeOrd::Esc => "esc",
                KeyCodeOrd::Tab => "tab",
                KeyCodeOrd::BackTab => "shift-tab",
                KeyCodeOrd::Backspace => "backspace",
                KeyCodeOrd::Delete => "delete",
                KeyCodeOrd::Insert => "insert",
                KeyCodeOrd::Up => "↑",
                KeyCodeOrd::Down => "↓",
                KeyCodeOrd::Left => "←",
                KeyCodeOrd::Right => "→",
                KeyCodeOrd::PageUp => "pgup",
                KeyCodeOrd::PageDown => "pgdn",
                KeyCodeOrd::Home => "home",
                KeyCodeOrd::End => "end",
                _ => "?",
            }),
        }
    }
}

/// Parse a key as written in keymap files into a sequence of key presses.
pub fn parse_key(s: &str) -> Result<Vec<Key>, String> {
    let named = |n: &str| -> Option<KeyCodeOrd> {
        Some(match n {
            "enter" | "return" => KeyCodeOrd::Enter,
            "esc" | "escape" => KeyCodeOrd::Esc,
            "space" => KeyCodeOrd::Char(' '),
            "tab" => KeyCodeOrd::Tab,
            "backtab" => KeyCodeOrd::BackTab,
            "backspace" => KeyCodeOrd::Backspace,
            "delete" | "del" => KeyCodeOrd::Delete,
            "insert" | "ins" => KeyCodeOrd::Insert,
            "up" => KeyCodeOrd::Up,
            "down" => KeyCodeOrd::Down,
            "left" => KeyCodeOrd::Left,
            "right" => KeyCodeOrd::Right,
            "pgup" | "pageup" => KeyCodeOrd::PageUp,
            "pgdn" | "pagedown" => KeyCodeOrd::PageDown,
            "home" => KeyCodeOrd::Home,
            "end" => KeyCodeOrd::End,
            f if f.len() >= 2
                && f.starts_with('f')
                && f[1..].chars().all(|c| c.is_ascii_digit()) =>
            {
                let n: u8 = f[1..].parse().ok()?;
                if !(1..=12).contains(&n) {
                    return None;
                }
                KeyCodeOrd::F(n)
            }
            _ => return None,
        })
    };
    if s.is_empty() {
        return Err("an empty key".into());
    }
    if s.chars().count() == 1 {
        return Ok(vec![Key::plain(KeyCodeOrd::Char(
            s.chars().next().unwrap_or(' '),
        ))]);
    }
    if let Some(c) = named(s) {
        return Ok(vec![Key::plain(c)]);
    }
    // Modifiers: ctrl-x, alt-x, shift-tab, ctrl-alt-x.
    if s.contains('-') && !s.ends_with('-') {
        let parts: Vec<&str> = s.split('-').collect();
        let (mods, last) = parts.split_at(parts.len() - 1);
        let mut k = Key::plain(KeyCodeOrd::Esc);
        let mut shift = false;
        for m in mods {
            match *m {
                "ctrl" | "c" => k.ctrl = true,
                "alt" | "meta" | "m" => k.alt = true,
                "shift" | "s" => shift = true,
                other => {
                    return Err(format!(
                        "unknown modifier {other:?} in key {s:?}: use ctrl-, alt- or shift-"
                    ))
                }
            }
        }
        let last = last[0];
        k.code = if last.chars().count() == 1 {
            let c = last.chars().next().unwrap_or(' ');
            KeyCodeOrd::Char(if shift { c.to_ascii_uppercase() } else { c })
        } else {
            match named(last) {
                Some(KeyCodeOrd::Tab) if shift => KeyCodeOrd::BackTab,
                Some(c) if !shift => c,
                _ => {
                    return Err(format!(
                        "unknown key {s:?}: write e.g. q, S, ctrl-d, enter, space, f5, shift-tab"
                    ))
                }
            }
        };
        return Ok(vec![k]);
    }
    if s.len() >= 2 && s.starts_with('f') && s[1..].chars().all(|c| c.is_ascii_digit()) {
        return Err(format!(
            "unknown key {s:?}: function keys go from f1 to f12"
        ));
    }
    // A sequence of plain characters (vim's gg).
    if s.chars().all(|c| c.is_ascii_graphic()) && s.chars().count() <= 3 {
        return Ok(s.chars().map(|c| Key::plain(KeyCodeOrd::Char(c))).collect());
    }
    Err(format!("unknown key {s:?}: write e.g. q, S, ctrl-d, enter, space, f5, shift-tab, or a sequence like gg"))
}

/// A loaded keymap: bindings per context.
#[derive(Debug, Clone, Default)]
pub struct Keymap {
    /// Its name (`default`, `vim`, or the file path).
    pub name: String,
    bindings: BTreeMap<String, Vec<(Vec<Key>, Action)>>,
}

/// A keymap that cannot be used, with where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeymapError(pub String);

impl fmt::Display for KeymapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What pressing a key did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    Action(Action),
    /// The start of a sequence; wait for the next key.
    Pending,
    None,
}

/// Line and column (1-based) of byte offset `at` in `text`.
fn line_col(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, col)
}

/// Where `"key"` appears inside the object of `context` (best effort, for messages).
fn locate(text: &str, context: &str, key: &str) -> (usize, usize) {
    let ctx_at = text.find(&format!("\"{context}\"")).unwrap_or(0);
    let quoted = serde_json::to_string(key).unwrap_or_default();
    let at = text[ctx_at..]
        .find(&quoted)
        .map(|p| p + ctx_at)
        .unwrap_or(ctx_at);
    line_col(text, at)
}

/// The raw file: contexts in order, each a list of (key, value) in order (duplicates kept).
struct RawMap(Vec<(String, RawCtx)>);
enum RawCtx {
    Str(String),
    Pairs(Vec<(String, String)>),
}

impl<'de> serde::Deserialize<'de> for RawMap {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{Error, MapAccess, Visitor};
        struct Pairs(Vec<(String, String)>);
        impl<'de> serde::Deserialize<'de> for Pairs {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = Pairs;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str("an object of \"key\": \"action\"")
                    }
                    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Pairs, A::Error> {
                        let mut v = Vec::new();
                        while let Some((k, a)) = m.next_entry::<String, String>()? {
                            v.push((k, a));
                        }
                        Ok(Pairs(v))
                    }
                }
                d.deserialize_map(V)
            }
        }
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawMap;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object with one object per context")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<RawMap, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = m.next_key::<String>()? {
                    if k == "extends" {
                        out.push((k, RawCtx::Str(m.next_value::<String>()?)));
                    } else if context_names().contains(&k.as_str()) {
                        out.push((k, RawCtx::Pairs(m.next_value::<Pairs>()?.0)));
                    } else {
                        return Err(A::Error::custom(format!(
                            "unknown context {k:?}: use one of {}",
                            context_names().join(", ")
                        )));
                    }
                }
                Ok(RawMap(out))
            }
        }
        d.deserialize_map(V)
    }
}

impl Keymap {
    /// A built-in keymap by name.
    pub fn builtin(name: &str) -> Option<Keymap> {
        let text = BUILTIN.iter().find(|b| b.0 == name)?.1;
        Keymap::parse(name, text).ok()
    }

    /// The default keymap (always valid: a test checks it).
    pub fn default_keymap() -> Keymap {
        Keymap::builtin("default").unwrap_or_default()
    }

    /// Parse a keymap file's text; `source` names it in errors.
    pub fn parse(source: &str, text: &str) -> Result<Keymap, KeymapError> {
        Self::parse_depth(source, text, 0)
    }

    fn parse_depth(source: &str, text: &str, depth: usize) -> Result<Keymap, KeymapError> {
        let raw: RawMap = serde_json::from_str(text).map_err(|e| {
            KeymapError(format!(
                "keymap {source}: line {}, column {}: {e}",
                e.line(),
                e.column()
            ))
        })?;
        let mut km = Keymap {
            name: source.to_string(),
            bindings: BTreeMap::new(),
        };
        // The keymap it extends first.
        if let Some((_, RawCtx::Str(base))) = raw.0.iter().find(|(k, _)| k == "extends") {
            if depth > 4 {
                return Err(KeymapError(format!(
                    "keymap {source}: \"extends\" goes around in a circle"
                )));
            }
            let Some((_, btext)) = BUILTIN.iter().find(|b| b.0 == base) else {
                return Err(KeymapError(format!(
                    "keymap {source}: \"extends\": {base:?} is not a built-in keymap: use default or vim"
                )));
            };
            km.bindings = Self::parse_depth(base, btext, depth + 1)?.bindings;
        }
        for (ctx, body) in &raw.0 {
            let RawCtx::Pairs(pairs) = body else { continue };
            let mut mine: Vec<(Vec<Key>, Action, &str)> = Vec::new();
            for (k, a) in pairs {
                let (line, col) = locate(text, ctx, k);
                let at = format!("keymap {source}: line {line}, column {col}: {ctx}");
                let keys = parse_key(k).map_err(|e| KeymapError(format!("{at}: {e}")))?;
                let action = action_in(ctx, a).map_err(|e| {
                    KeymapError(format!(
                        "{at}: {e} for key {k:?}: the help (?) lists the actions"
                    ))
                })?;
                if let Some((_, other, okey)) = mine.iter().find(|(ks, _, _)| *ks == keys) {
                    return Err(KeymapError(format!(
                        "{at}: key {k:?} is bound twice ({okey:?} → {}, {k:?} → {a}): keep one",
                        other.name
                    )));
                }
                if let Some((_, _, okey)) = mine
                    .iter()
                    .find(|(ks, _, _)| ks.starts_with(&keys) || keys.starts_with(ks))
                {
                    return Err(KeymapError(format!(
                        "{at}: key {k:?} and key {okey:?} start the same way, so one could never be typed: change one"
                    )));
                }
                mine.push((keys, action, k));
            }
            let list = km.bindings.entry(ctx.clone()).or_default();
            for (keys, action, _) in mine {
                list.retain(|(ks, _)| !(ks.starts_with(&keys) || keys.starts_with(ks)));
                list.push((keys, action));
            }
        }
        Ok(km)
    }

    /// Load `--keymap NAME|PATH`, else the user's file, else the default. A bad keymap
    /// gives the default plus the error to show.
    pub fn load(arg: Option<&str>) -> (Keymap, Option<String>) {
        let user = std::env::var_os("XDG_CONFIG_HOME")
            .map(std::path::PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".config"))
            })
            .map(|d| d.join("wharf/keymap.json"));
        let result = match arg {
            Some(name) if BUILTIN.iter().any(|b| b.0 == name) => Keymap::parse(
                name,
                BUILTIN
                    .iter()
                    .find(|b| b.0 == name)
                    .map(|b| b.1)
                    .unwrap_or(""),
            ),
            Some(path) => match std::fs::read_to_string(path) {
                Ok(t) => Keymap::parse(path, &t),
                Err(e) => Err(KeymapError(format!(
                    "keymap {path}: {e}: give a built-in name (default, vim) or a readable file"
                ))),
            },
            None => match user {
                Some(p) if p.exists() => match std::fs::read_to_string(&p) {
                    Ok(t) => Keymap::parse(&p.display().to_string(), &t),
                    Err(e) => Err(KeymapError(format!("keymap {}: {e}", p.display()))),
                },
                _ => Ok(Keymap::default_keymap()),
            },
        };
        match result {
            Ok(k) => (k, None),
            Err(e) => (
                Keymap::default_keymap(),
                Some(format!(
                    "{e}\n\nThe console runs on the default keymap; fix the file and start again."
                )),
            ),
        }
    }

    /// What `keys` (pending prefix plus the new key) do in `contexts` (most specific first).
    pub fn lookup(&self, contexts: &[&str], keys: &[Key]) -> Lookup {
        let mut pending = false;
        for ctx in contexts {
            if let Some(list) = self.bindings.get(*ctx) {
                for (ks, a) in list {
                    if ks.as_slice() == keys {
                        return Lookup::Action(*a);
                    }
                    if ks.len() > keys.len() && ks.starts_with(keys) {
                        pending = true;
                    }
                }
            }
        }
        if pending {
            Lookup::Pending
        } else {
            Lookup::None
        }
    }

    /// Keys bound to `action` in `contexts` (most specific first), as text: `s`, `j, ↓`.
    pub fn keys_for(&self, contexts: &[&str], action: Action) -> Option<String> {
        for ctx in contexts {
            if let Some(list) = self.bindings.get(*ctx) {
                let ks: Vec<String> = list
                    .iter()
                    .filter(|(_, a)| *a == action)
                    .map(|(ks, _)| ks.iter().map(|k| k.to_string()).collect::<String>())
                    .collect();
                if !ks.is_empty() {
                    return Some(ks.join(", "));
                }
            }
        }
        None
    }

    /// Bindings of one context, in file order, grouped by action: (keys, action).
    pub fn context(&self, ctx: &str) -> Vec<(String, Action)> {
        let mut out: Vec<(String, Action)> = Vec::new();
        for (ks, a) in self.bindings.get(ctx).map(|v| v.as_slice()).unwrap_or(&[]) {
            let k: String = ks.iter().map(|k| k.to_string()).collect();
            match out.iter_mut().find(|(_, x)| x == a) {
                Some(e) => {
                    e.0.push_str(", ");
                    e.0.push_str(&k);
                }
                None => out.push((k, *a)),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::actions;

    fn ev(c: KeyCode, m: KeyModifiers) -> Key {
        Key::from_event(&KeyEvent::new(c, m)).unwrap()
    }

    #[test]
    fn builtins_parse() {
        for (name, text) in BUILTIN {
            let k = Keymap::parse(name, text).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                k.lookup(
                    &["containers", "list", "global"],
                    &[ev(KeyCode::Char('q'), KeyModifiers::NONE)]
                ),
                Lookup::Action(actions::QUIT)
            );
        }
    }

    /// The global T (teach) and y (copy the command) work on the containers pane too:
    /// no builtin keymap shadows them there (its processes are t, its cp is F).
    #[test]
    fn containers_keys_do_not_shadow_the_global_ones() {
        for (name, _) in BUILTIN {
            let k = Keymap::builtin(name).unwrap();
            let on_containers = |c: char| {
                let m = if c.is_ascii_uppercase() {
                    KeyModifiers::SHIFT
                } else {
                    KeyModifiers::NONE
                };
                match k.lookup(
                    &["containers", "list", "global"],
                    &[ev(KeyCode::Char(c), m)],
                ) {
                    Lookup::Action(a) => a.name,
                    _ => "",
                }
            };
            assert_eq!(on_containers('T'), "teach-toggle", "{name}");
            assert_eq!(on_containers('y'), "copy-command", "{name}");
            assert_eq!(on_containers('t'), "processes", "{name}");
            assert_eq!(on_containers('F'), "copy", "{name}");
        }
    }

    #[test]
    fn keys() {
        assert_eq!(
            parse_key("S").unwrap(),
            vec![ev(KeyCode::Char('S'), KeyModifiers::SHIFT)]
        );
        assert_eq!(
            parse_key("ctrl-d").unwrap(),
            vec![ev(KeyCode::Char('d'), KeyModifiers::CONTROL)]
        );
        assert_eq!(
            parse_key("shift-tab").unwrap(),
            vec![ev(KeyCode::BackTab, KeyModifiers::SHIFT)]
        );
        assert_eq!(
            parse_key("f5").unwrap(),
            vec![ev(KeyCode::F(5), KeyModifiers::NONE)]
        );
        assert_eq!(
            parse_key("space").unwrap(),
            vec![ev(KeyCode::Char(' '), KeyModifiers::NONE)]
        );
        assert_eq!(parse_key("gg").unwrap().len(), 2);
        assert!(parse_key("hyper-x")
            .unwrap_err()
            .contains("unknown modifier"));
        assert!(parse_key("f13").is_err());
        assert!(parse_key("frobnicate").unwrap_err().contains("unknown key"));
    }

    #[test]
    fn json_error_has_line_and_column() {
        let e = Keymap::parse("my.json", "{\n  \"global\": { \"q\": \"quit\", }\n}").unwrap_err();
        assert!(e.0.starts_with("keymap my.json: line 2, column"), "{e}");
    }

    #[test]
    fn unknown_action_names_the_place() {
        let e = Keymap::parse(
            "my.json",
            "{\n \"global\": {\n  \"q\": \"quit\",\n  \"x\": \"explode\"\n }\n}",
        )
        .unwrap_err();
        assert!(e.0.contains("line 4, column 3"), "{e}");
        assert!(e.0.contains("unknown action \"explode\""), "{e}");
    }

    /// A pane's action is bound in that pane's context (or it could never run).
    #[test]
    fn an_action_belongs_to_its_panes() {
        let e = Keymap::parse("k", r#"{"images": {"s": "stop"}}"#).unwrap_err();
        assert!(
            e.0.contains("action \"stop\" is not one of images (it is one of containers)"),
            "{e}"
        );
        // Shared ones are offered by several; the shell's go anywhere.
        Keymap::parse(
            "k",
            r#"{"volumes": {"I": "inspect"}, "logs": {"Q": "quit"}, "global": {"j": "down"}}"#,
        )
        .unwrap();
        let names = context_names();
        assert_eq!(names[..3], ["global", "list", "containers"]);
        assert_eq!(names[names.len() - 2..], ["inspect", "help"]);
    }

    #[test]
    fn unknown_key_and_context() {
        let e = Keymap::parse("k", r#"{"global": {"hyper-q": "quit"}}"#).unwrap_err();
        assert!(e.0.contains("unknown modifier"), "{e}");
        let e = Keymap::parse("k", r#"{"globl": {"q": "quit"}}"#).unwrap_err();
        assert!(e.0.contains("unknown context \"globl\""), "{e}");
    }

    #[test]
    fn two_actions_on_one_key() {
        let e = Keymap::parse("k", r#"{"containers": {"s": "stop", "s": "start"}}"#).unwrap_err();
        assert!(e.0.contains("bound twice"), "{e}");
        let e =
            Keymap::parse("k", r#"{"containers": {"S": "stop", "shift-s": "start"}}"#).unwrap_err();
        assert!(e.0.contains("bound twice"), "{e}");
        let e = Keymap::parse("k", r#"{"logs": {"g": "top", "gg": "top"}}"#).unwrap_err();
        assert!(e.0.contains("start the same way"), "{e}");
        // The same key in two contexts is fine.
        Keymap::parse(
            "k",
            r#"{"containers": {"s": "stop"}, "images": {"s": "image-tag"}}"#,
        )
        .unwrap();
    }

    #[test]
    fn extends_and_sequences() {
        let k = Keymap::parse("u", r#"{"extends": "vim", "containers": {"x": "kill"}}"#).unwrap();
        let g = ev(KeyCode::Char('g'), KeyModifiers::NONE);
        assert_eq!(k.lookup(&["logs", "list", "global"], &[g]), Lookup::Pending);
        assert_eq!(
            k.lookup(&["logs", "list", "global"], &[g, g]),
            Lookup::Action(actions::TOP)
        );
        assert_eq!(
            k.lookup(
                &["containers"],
                &[ev(KeyCode::Char('x'), KeyModifiers::NONE)]
            ),
            Lookup::Action(crate::console::panes::containers::KILL)
        );
        let e = Keymap::parse("u", r#"{"extends": "emacs"}"#).unwrap_err();
        assert!(e.0.contains("not a built-in keymap"), "{e}");
    }

    #[test]
    fn bad_file_falls_back_with_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k.json");
        std::fs::write(&p, r#"{"global": {"q": "quit-now"}}"#).unwrap();
        let (k, warn) = Keymap::load(Some(p.to_str().unwrap()));
        assert_eq!(k.name, "default");
        let w = warn.unwrap();
        assert!(
            w.contains("unknown action \"quit-now\"") && w.contains("default keymap"),
            "{w}"
        );
        let (k, warn) = Keymap::load(Some("vim"));
        assert_eq!((k.name.as_str(), warn), ("vim", None));
    }
}
