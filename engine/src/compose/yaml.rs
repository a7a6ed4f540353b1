//! Compose files as a tree of YAML nodes, each with the file, line and column it came
//! from, so every error names where the key was written.
//!
//! The tree is built from the events of `saphyr-parser` (a maintained, pure-Rust YAML
//! 1.2 parser that gives a position with every event). `serde_yaml` is archived;
//! `serde_yml` is deprecated (a shim over another crate) and was found unsound;
//! `serde_norway` is a maintained fork of `serde_yaml` (libyaml in Rust), but it hands
//! out positions only for its own errors, not for the keys of a tree merged from
//! several files, interpolated and extended, which is what compose needs. Building our
//! own small tree from saphyr's events gives a position on every key and value through
//! all of that.
//!
//! Anchors and aliases are resolved while building; YAML merge keys (`<<: *base`,
//! `<<: [*a, *b]`), which compose files use a lot, are applied as YAML 1.1 defines
//! them (keys written in the mapping win).

use std::fmt;
use std::sync::Arc;

use saphyr_parser::{Event, Parser, ScalarStyle};

use crate::error::{EngineError, Result};

/// Where a node was written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Mark {
    /// The file as the user named it.
    pub file: Arc<str>,
    /// 1-based.
    pub line: usize,
    /// 1-based.
    pub col: usize,
}

impl fmt::Display for Mark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.file)
        } else {
            write!(f, "{}:{}:{}", self.file, self.line, self.col)
        }
    }
}

/// A YAML value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    /// A scalar's text; `plain` when written without quotes or block style (only then
    /// `true`, `12` or `null` are something other than text).
    Scalar {
        text: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    /// Keys in the order written (later duplicates are refused when reading).
    Map(Vec<(Node, Node)>),
}

/// A value with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub mark: Mark,
    pub value: Value,
}

impl Node {
    /// A node made by wharf (no position of its own): `mark` says where it belongs.
    pub fn new(mark: Mark, value: Value) -> Self {
        Node { mark, value }
    }

    /// A plain-text scalar at `mark`.
    pub fn text(mark: Mark, text: impl Into<String>) -> Self {
        Node {
            mark,
            value: Value::Scalar {
                text: text.into(),
                plain: false,
            },
        }
    }

    /// The scalar's text, if it is one.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// The mapping's entries, if it is one.
    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The value under `key` of a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }

    /// Is this YAML null (`~`, `null`, nothing)?
    pub fn is_null(&self) -> bool {
        match &self.value {
            Value::Null => true,
            Value::Scalar { text, plain: true } => {
                matches!(text.as_str(), "~" | "null" | "Null" | "NULL" | "")
            }
            _ => false,
        }
    }

    /// What kind of value this is, for messages.
    pub fn kind(&self) -> &'static str {
        match &self.value {
            Value::Null => "null",
            Value::Scalar { .. } => "a scalar",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    /// An error at this node: `compose.yaml:3:5: services.web.ports: ...`.
    pub fn error(&self, path: &str, msg: impl fmt::Display) -> EngineError {
        EngineError::invalid(format!("{}: {path}: {msg}", self.mark))
    }
}

/// Parse one YAML document (a compose file). An empty file is an empty mapping.
pub fn parse(file: &str, text: &str) -> Result<Node> {
    let file: Arc<str> = Arc::from(file);
    let mut b = Builder {
        file: file.clone(),
        anchors: Vec::new(),
        stack: Vec::new(),
        docs: Vec::new(),
    };
    let mut parser = Parser::new_from_str(text);
    for ev in &mut parser {
        let (ev, span) = ev.map_err(|e| {
            EngineError::invalid(format!(
                "{file}:{}:{}: this is not valid YAML: {}",
                e.marker().line(),
                e.marker().col() + 1,
                e.info()
            ))
        })?;
        let mark = Mark {
            file: file.clone(),
            line: span.start.line(),
            col: span.start.col() + 1,
        };
        b.event(ev, mark)?;
    }
    match b.docs.len() {
        0 => Ok(Node::new(
            Mark {
                file,
                line: 1,
                col: 1,
            },
            Value::Map(vec![]),
        )),
        1 => Ok(b
            .docs
            .pop()
            .unwrap_or_else(|| Node::new(Mark::default(), Value::Null))),
        _ => Err(EngineError::invalid(format!(
            "{file}: a compose file holds one YAML document; this one has {}",
            b.docs.len()
        ))),
    }
}

enum Open {
    Seq(Node, usize),
    /// The mapping, its anchor id, and a key waiting for its value.
    Map(Node, usize, Option<Node>),
}

struct Builder {
    file: Arc<str>,
    anchors: Vec<(usize, Node)>,
    stack: Vec<Open>,
    docs: Vec<Node>,
}

/// Deepest nesting accepted (a hostile file cannot blow the stack).
const MAX_DEPTH: usize = 64;

impl Builder {
    fn event(&mut self, ev: Event<'_>, mark: Mark) -> Result<()> {
        match ev {
            Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart(_)
            | Event::DocumentEnd
            | Event::Nothing => Ok(()),
            Event::Alias(id) => {
                let node = self
                    .anchors
                    .iter()
                    .rev()
                    .find(|(a, _)| *a == id)
                    .map(|(_, n)| n.clone())
                    .ok_or_else(|| {
                        EngineError::invalid(format!(
                            "{mark}: an alias names an anchor not defined before it"
                        ))
                    })?;
                self.value(node, 0)
            }
            Event::Scalar(text, style, anchor, _tag) => {
                let plain = style == ScalarStyle::Plain;
                let value = if plain && matches!(text.as_ref(), "~" | "null" | "Null" | "NULL") {
                    Value::Null
                } else {
                    Value::Scalar {
                        text: text.into_owned(),
                        plain,
                    }
                };
                self.value(Node { mark, value }, anchor)
            }
            Event::SequenceStart(anchor, _) => {
                self.depth(&mark)?;
                self.stack
                    .push(Open::Seq(Node::new(mark, Value::Seq(vec![])), anchor));
                Ok(())
            }
            Event::MappingStart(anchor, _) => {
                self.depth(&mark)?;
                self.stack
                    .push(Open::Map(Node::new(mark, Value::Map(vec![])), anchor, None));
                Ok(())
            }
            Event::SequenceEnd => match self.stack.pop() {
                Some(Open::Seq(n, anchor)) => self.value(n, anchor),
                _ => Err(EngineError::invalid(format!("{mark}: unbalanced YAML"))),
            },
            Event::MappingEnd => match self.stack.pop() {
                Some(Open::Map(n, anchor, None)) => {
                    let n = merge_keys(n)?;
                    self.value(n, anchor)
                }
                _ => Err(EngineError::invalid(format!("{mark}: unbalanced YAML"))),
            },
        }
    }

    fn depth(&self, mark: &Mark) -> Result<()> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(EngineError::invalid(format!(
                "{mark}: nested more than {MAX_DEPTH} levels deep"
            )));
        }
        Ok(())
    }

    /// A finished value: into its parent, or a finished document.
    fn value(&mut self, node: Node, anchor: usize) -> Result<()> {
        if anchor > 0 {
            self.anchors.push((anchor, node.clone()));
        }
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some(Open::Seq(seq, _)) => {
                if let Value::Seq(items) = &mut seq.value {
                    items.push(node);
                }
            }
            Some(Open::Map(map, _, pending)) => match pending.take() {
                None => {
                    if !matches!(node.value, Value::Scalar { .. } | Value::Null) {
                        return Err(EngineError::invalid(format!(
                            "{}: a mapping key must be a scalar, not {}",
                            node.mark,
                            node.kind()
                        )));
                    }
                    *pending = Some(node);
                }
                Some(key) => {
                    if let Value::Map(entries) = &mut map.value {
                        let name = key.as_str().unwrap_or("");
                        if name != "<<" && entries.iter().any(|(k, _)| k.as_str() == Some(name)) {
                            return Err(EngineError::invalid(format!(
                                "{}: the key {name:?} is written twice in this mapping",
                                key.mark
                            )));
                        }
                        entries.push((key, node));
                    }
                }
            },
        }
        let _ = &self.file;
        Ok(())
    }
}

/// Apply `<<` merge keys: the merged mappings' keys come first, keys written in the
/// mapping itself win.
fn merge_keys(n: Node) -> Result<Node> {
    let Node { mark, value } = n;
    let Value::Map(entries) = value else {
        return Ok(Node { mark, value });
    };
    if !entries.iter().any(|(k, _)| k.as_str() == Some("<<")) {
        return Ok(Node::new(mark, Value::Map(entries)));
    }
    let mut own = Vec::new();
    let mut bases: Vec<Node> = Vec::new();
    for (k, v) in entries {
        if k.as_str() == Some("<<") {
            match v.value {
                Value::Map(_) => bases.push(v),
                Value::Seq(items) => {
                    for i in items {
                        if !matches!(i.value, Value::Map(_)) {
                            return Err(
                                i.error("<<", "a merge key takes mappings (aliases of mappings)")
                            );
                        }
                        bases.push(i);
                    }
                }
                _ => return Err(v.error("<<", "a merge key takes a mapping or a list of mappings")),
            }
        } else {
            own.push((k, v));
        }
    }
    let mut out: Vec<(Node, Node)> = Vec::new();
    for b in bases {
        if let Value::Map(es) = b.value {
            for (k, v) in es {
                let name = k.as_str().map(str::to_string);
                if own
                    .iter()
                    .any(|(o, _)| o.as_str().map(str::to_string) == name)
                    || out
                        .iter()
                        .any(|(o, _)| o.as_str().map(str::to_string) == name)
                {
                    continue;
                }
                out.push((k, v));
            }
        }
    }
    out.extend(own);
    Ok(Node::new(mark, Value::Map(out)))
}

/// Text of a scalar for output: the value as YAML would need it quoted.
fn quoted(s: &str) -> String {
    let plain_ok = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./@+".contains(c))
        && !matches!(
            s,
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n" | "~"
        )
        && s.parse::<f64>().is_err()
        && !s.starts_with(['-', '.']);
    if plain_ok {
        s.to_string()
    } else {
        serde_json::to_string(s).unwrap_or_default()
    }
}

/// Write a JSON value as YAML (block style), for `compose config`.
pub fn to_yaml(v: &serde_json::Value) -> String {
    let mut out = String::new();
    emit(v, 0, &mut out, false);
    out
}

fn emit(v: &serde_json::Value, indent: usize, out: &mut String, in_seq: bool) {
    use serde_json::Value as J;
    let pad = " ".repeat(indent);
    match v {
        J::Object(m) => {
            if m.is_empty() {
                out.push_str(" {}\n");
                return;
            }
            if !in_seq {
                out.push('\n');
            }
            let mut first = true;
            for (k, val) in m {
                if !(in_seq && first) {
                    out.push_str(&pad);
                }
                first = false;
                out.push_str(&quoted(k));
                out.push(':');
                emit(val, indent + 2, out, false);
            }
        }
        J::Array(a) => {
            if a.is_empty() {
                out.push_str(" []\n");
                return;
            }
            if !in_seq {
                out.push('\n');
            }
            let mut first = true;
            for val in a {
                if !(in_seq && first) {
                    out.push_str(&pad);
                }
                first = false;
                out.push_str("- ");
                match val {
                    J::Object(m) if !m.is_empty() => emit(val, indent + 2, out, true),
                    J::Array(x) if !x.is_empty() => emit(val, indent + 2, out, true),
                    _ => {
                        let mut s = String::new();
                        emit(val, indent + 2, &mut s, false);
                        out.push_str(s.trim_start());
                    }
                }
            }
        }
        J::String(s) => {
            out.push(' ');
            out.push_str(&quoted(s));
            out.push('\n');
        }
        J::Null => out.push_str(" null\n"),
        other => {
            out.push(' ');
            out.push_str(&other.to_string());
            out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_anchors_and_merge_keys() {
        let text = "x-base: &base\n  image: busybox\n  restart: always\nservices:\n  web:\n    <<: *base\n    restart: \"no\"\n    ports:\n      - 80\n";
        let n = parse("c.yaml", text).unwrap();
        let web = n.get("services").unwrap().get("web").unwrap();
        assert_eq!(web.get("image").unwrap().as_str(), Some("busybox"));
        assert_eq!(web.get("restart").unwrap().as_str(), Some("no"));
        let ports = web.get("ports").unwrap();
        assert_eq!(ports.mark.line, 9);
        let m = &web.as_map().unwrap()[0].0.mark;
        assert_eq!(m.line, 2, "merged keys keep where they were written");
        let e = parse("c.yaml", "a: 1\na: 2\n").unwrap_err();
        assert!(e.message.contains("c.yaml:2:1"), "{e}");
        let e = parse("c.yaml", "a: [1\n").unwrap_err();
        assert!(e.message.contains("not valid YAML"), "{e}");
        assert!(parse("c.yaml", "").unwrap().as_map().unwrap().is_empty());
    }

    #[test]
    fn yaml_out_reads_back() {
        let v = serde_json::json!({"services": {"web": {"image": "busybox", "command": ["sh", "-c", "echo hi: there"], "ports": [{"target": 80}], "x": {}, "e": [], "yes": "yes"}}});
        let text = to_yaml(&v);
        let n = parse("out", &text).unwrap();
        let web = n.get("services").unwrap().get("web").unwrap();
        assert_eq!(web.get("yes").unwrap().as_str(), Some("yes"));
        let cmd = web.get("command").unwrap();
        let Value::Seq(items) = &cmd.value else {
            panic!("{text}")
        };
        assert_eq!(items[2].as_str(), Some("echo hi: there"));
        let Value::Seq(ports) = &web.get("ports").unwrap().value else {
            panic!("{text}")
        };
        assert_eq!(ports[0].get("target").unwrap().as_str(), Some("80"));
    }
}
