//! Inspect: an object's JSON as a foldable tree with search. [`InspectState`] flattens
//! the JSON into lines; folding a node hides its children.

use std::collections::HashSet;

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::Frame;
use serde_json::Value;

use crate::table::draw_message;
use crate::theme::Theme;
use crate::{ListCursor, Load};

/// One line of the flattened tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeLine {
    /// `/State/Status`-style path (JSON pointer), unique per node.
    pub path: String,
    pub depth: usize,
    /// Key or `[index]`; empty for the root.
    pub key: String,
    /// The value for leaves; `{12}` / `[3]` for containers.
    pub value: String,
    /// Objects and arrays can fold.
    pub container: bool,
    pub folded: bool,
}

/// The inspect pane's state.
#[derive(Debug, Clone)]
pub struct InspectState {
    /// What is inspected: `container web-1`.
    pub title: String,
    pub load: Load<Value>,
    folded: HashSet<String>,
    lines: Vec<TreeLine>,
    pub cursor: ListCursor,
    pub search: String,
}

fn leaf(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

fn escape(k: &str) -> String {
    k.replace('~', "~0").replace('/', "~1")
}

fn flatten(
    v: &Value,
    path: &str,
    key: String,
    depth: usize,
    folded: &HashSet<String>,
    all: bool,
    out: &mut Vec<TreeLine>,
) {
    let (container, summary) = match v {
        Value::Object(m) => (true, format!("{{{}}}", m.len())),
        Value::Array(a) => (true, format!("[{}]", a.len())),
        other => (false, leaf(other)),
    };
    let is_folded = container && !all && folded.contains(path);
    out.push(TreeLine {
        path: path.to_string(),
        depth,
        key,
        value: summary,
        container,
        folded: is_folded,
    });
    if is_folded {
        return;
    }
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                flatten(
                    c,
                    &format!("{path}/{}", escape(k)),
                    k.clone(),
                    depth + 1,
                    folded,
                    all,
                    out,
                );
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                flatten(
                    c,
                    &format!("{path}/{i}"),
                    format!("[{i}]"),
                    depth + 1,
                    folded,
                    all,
                    out,
                );
            }
        }
        _ => {}
    }
}

impl InspectState {
    /// A new pane for `title`, waiting for the engine.
    pub fn new(title: &str) -> Self {
        InspectState {
            title: title.into(),
            load: Load::Loading,
            folded: HashSet::new(),
            lines: Vec::new(),
            cursor: ListCursor::default(),
            search: String::new(),
        }
    }

    /// The engine's answer arrived.
    pub fn set(&mut self, load: Load<Value>) {
        self.load = load;
        self.rebuild();
    }

    fn rebuild(&mut self) {
        self.lines.clear();
        if let Load::Ready(v) = &self.load {
            flatten(
                v,
                "",
                String::new(),
                0,
                &self.folded,
                false,
                &mut self.lines,
            );
        }
        self.cursor.clamp(self.lines.len());
    }

    /// Lines as shown (folded children hidden).
    pub fn lines(&self) -> &[TreeLine] {
        &self.lines
    }

    /// Fold or unfold the selected node (a leaf folds its parent).
    pub fn toggle(&mut self) {
        let Some(l) = self.lines.get(self.cursor.selected).cloned() else {
            return;
        };
        let path = if l.container {
            l.path.clone()
        } else {
            l.path
                .rsplit_once('/')
                .map(|p| p.0.to_string())
                .unwrap_or_default()
        };
        if !self.folded.remove(&path) {
            self.folded.insert(path.clone());
        }
        self.rebuild();
        if let Some(i) = self.lines.iter().position(|x| x.path == path) {
            self.cursor.selected = i;
        }
    }

    /// Fold every node below the root.
    pub fn fold_all(&mut self) {
        if let Load::Ready(v) = &self.load {
            let mut all = Vec::new();
            flatten(v, "", String::new(), 0, &HashSet::new(), true, &mut all);
            self.folded = all
                .into_iter()
                .filter(|l| l.container && l.depth > 0)
                .map(|l| l.path)
                .collect();
        }
        self.rebuild();
    }

    /// Unfold everything.
    pub fn unfold_all(&mut self) {
        self.folded.clear();
        self.rebuild();
    }

    /// Move to the next (or previous) node whose key or value contains the search text,
    /// unfolding what hides it. Returns false when nothing matches.
    pub fn find(&mut self, forward: bool) -> bool {
        let Load::Ready(v) = &self.load else {
            return false;
        };
        if self.search.is_empty() {
            return false;
        }
        let needle = self.search.to_lowercase();
        let mut all = Vec::new();
        flatten(v, "", String::new(), 0, &HashSet::new(), true, &mut all);
        let hits: Vec<usize> = all
            .iter()
            .enumerate()
            .filter(|(_, l)| {
                l.key.to_lowercase().contains(&needle)
                    || (!l.container && l.value.to_lowercase().contains(&needle))
            })
            .map(|(i, _)| i)
            .collect();
        if hits.is_empty() {
            return false;
        }
        let cur_path = self
            .lines
            .get(self.cursor.selected)
            .map(|l| l.path.clone())
            .unwrap_or_default();
        let cur = all.iter().position(|l| l.path == cur_path).unwrap_or(0);
        let target = if forward {
            hits.iter().copied().find(|&i| i > cur).unwrap_or(hits[0])
        } else {
            hits.iter()
                .rev()
                .copied()
                .find(|&i| i < cur)
                .unwrap_or(hits[hits.len() - 1])
        };
        let path = all[target].path.clone();
        // Unfold every ancestor.
        let mut p = path.as_str();
        while let Some((parent, _)) = p.rsplit_once('/') {
            self.folded.remove(parent);
            p = parent;
        }
        self.rebuild();
        if let Some(i) = self.lines.iter().position(|l| l.path == path) {
            self.cursor.selected = i;
        }
        true
    }
}

fn value_style(theme: &Theme, v: &str) -> Style {
    if !theme.color {
        return Style::new();
    }
    use ratatui::style::Color;
    let c = if v.starts_with('"') {
        Color::Green
    } else if v == "true" || v == "false" {
        Color::Magenta
    } else if v == "null" {
        Color::DarkGray
    } else {
        Color::LightBlue
    };
    Style::new().fg(c)
}

/// Draw the pane.
pub fn draw(f: &mut Frame, area: Rect, theme: &Theme, s: &mut InspectState) {
    match &s.load {
        Load::Loading => {
            return draw_message(
                f.buffer_mut(),
                area,
                &[(format!("inspecting {}…", s.title), theme.dim())],
            )
        }
        Load::Error(e) => {
            return draw_message(
                f.buffer_mut(),
                area,
                &[
                    (format!("cannot inspect {}", s.title), theme.error()),
                    (e.clone(), theme.text()),
                ],
            )
        }
        Load::Unavailable(w) => {
            return draw_message(f.buffer_mut(), area, &[(w.clone(), theme.dim())])
        }
        Load::Ready(_) => {}
    }
    let height = area.height as usize;
    let off = s.cursor.scroll(height, s.lines.len());
    let needle = s.search.to_lowercase();
    let mut out = Vec::new();
    for (i, l) in s.lines.iter().enumerate().skip(off).take(height) {
        let mut spans = vec![Span::raw("  ".repeat(l.depth))];
        if l.container {
            spans.push(Span::styled(
                if l.folded { "▸ " } else { "▾ " },
                theme.accent(),
            ));
        } else {
            spans.push(Span::raw("  "));
        }
        let hit = !needle.is_empty() && l.key.to_lowercase().contains(&needle);
        if !l.key.is_empty() {
            spans.push(Span::styled(
                l.key.clone(),
                if hit {
                    theme.highlight()
                } else {
                    theme
                        .column()
                        .remove_modifier(ratatui::style::Modifier::BOLD)
                },
            ));
            spans.push(Span::raw(if l.container { " " } else { ": " }));
        }
        let vhit = !needle.is_empty() && !l.container && l.value.to_lowercase().contains(&needle);
        let vs = if vhit {
            theme.highlight()
        } else if l.container {
            theme.dim()
        } else {
            value_style(theme, &l.value)
        };
        if l.container && !l.folded {
            spans.push(Span::styled(l.value.clone(), theme.dim()));
        } else {
            spans.push(Span::styled(l.value.clone(), vs));
        }
        let mut line = Line::from(spans);
        if i == s.cursor.selected {
            line = line.style(theme.selected());
        }
        out.push(line);
    }
    f.render_widget(ratatui::widgets::Paragraph::new(out), area);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::render;

    fn doc() -> Value {
        serde_json::json!({
            "Id": "4f2c0123456789",
            "Name": "/web-1",
            "State": {"Status": "running", "Running": true, "Pid": 4242, "ExitCode": 0},
            "Config": {"Image": "wharf/demo", "Env": ["PATH=/bin", "MODE=demo"], "Cmd": ["httpd", "-f"]},
            "HostConfig": {"NetworkMode": "none", "Memory": null}
        })
    }

    fn shot(w: u16, h: u16, s: &mut InspectState) -> String {
        render(w, h, |f| draw(f, f.area(), &Theme::default(), s))
    }

    #[test]
    fn tree_folds_and_searches() {
        let mut s = InspectState::new("container web-1");
        s.set(Load::Ready(doc()));
        insta::assert_snapshot!(shot(60, 20, &mut s));
        s.fold_all();
        insta::assert_snapshot!(shot(60, 8, &mut s));
        s.search = "mode".into();
        assert!(s.find(true), "finds Env's MODE=demo inside a folded node");
        let sel = s.lines()[s.cursor.selected].clone();
        assert_eq!(sel.path, "/Config/Env/1");
        assert!(s.find(true));
        assert_eq!(s.lines()[s.cursor.selected].path, "/HostConfig/NetworkMode");
        insta::assert_snapshot!(shot(60, 12, &mut s));
        s.toggle();
        assert!(s
            .lines()
            .iter()
            .any(|l| l.path == "/HostConfig" && l.folded));
    }

    #[test]
    fn narrow_loading_error() {
        let mut s = InspectState::new("container web-1");
        insta::assert_snapshot!(shot(40, 3, &mut s));
        s.set(Load::Error("container \"web-1\" not found".into()));
        insta::assert_snapshot!(shot(40, 3, &mut s));
    }
}
