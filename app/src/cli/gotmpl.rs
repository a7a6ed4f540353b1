//! Go templates for `--format`, as the docker CLI runs them (text/template), on JSON
//! values. A faithful subset: `{{.Field}}` and `.A.B` chains, `.`, `$` and variables
//! (`$x := ...`), pipelines (`|`), parentheses, string/number/bool literals, `{{if}}`
//! `{{else if}}` `{{else}}`, `{{range}}` (with `$i, $e :=` and `{{else}}`), `{{with}}`,
//! `{{- ... -}}` trimming and `{{/* comments */}}`; Go's functions `and or not len index
//! print printf println eq ne lt le gt ge` and docker's `json join split lower upper
//! title pad truncate`. Anything else (`define`, `template`, `block`, `break`, `slice`,
//! `html`, `call`, ...) is refused by name when the template is read, never ignored.
//!
//! No crate on crates.io does this well enough: `gtmpl` (passively maintained since
//! 2021) cannot call a field with arguments (docker's `{{.Label "k"}}`), so this small
//! interpreter is wharf's own.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

/// A template error: where and what, in Go's words where it has them.
#[derive(Debug, Clone, PartialEq)]
pub struct TmplError(pub String);

impl std::fmt::Display for TmplError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

type R<T> = Result<T, TmplError>;

fn err<T>(m: impl Into<String>) -> R<T> {
    Err(TmplError(m.into()))
}

/// A method on the data: `{{.Label "k"}}` calls `Label` with the receiver and ["k"].
pub type Method = fn(&Value, &[Value]) -> R<Value>;

/// How a template reads its data.
#[derive(Clone, Default)]
pub struct Options {
    /// A missing field is an error naming the type (docker's formatter contexts are Go
    /// structs); otherwise it is `<no value>` (inspect's data is a map).
    pub strict: Option<&'static str>,
    /// Methods the data has (`Label` on ps, images, networks, volumes).
    pub methods: Vec<(&'static str, Method)>,
    /// Header mode: docker runs the template on the column headers with functions that
    /// give back their argument, and methods give their upper-cased name.
    pub header: bool,
}

#[derive(Debug, Clone)]
enum Node {
    Text(String),
    Action(Pipe),
    If(Vec<(Pipe, Vec<Node>)>, Vec<Node>),
    Range(Pipe, Vec<Node>, Vec<Node>),
    With(Pipe, Vec<Node>, Vec<Node>),
}

#[derive(Debug, Clone)]
struct Pipe {
    decl: Vec<String>,
    /// `=` rather than `:=`.
    assign: bool,
    cmds: Vec<Cmd>,
}

#[derive(Debug, Clone)]
struct Cmd {
    args: Vec<Arg>,
}

#[derive(Debug, Clone)]
enum Arg {
    /// `.A.B` (empty: `.` itself).
    Field(Vec<String>),
    /// `$x.A.B` (`$` is the data).
    Var(String, Vec<String>),
    Func(String),
    Lit(Value),
    Nil,
    /// `(pipeline).A.B`
    Sub(Box<Pipe>, Vec<String>),
}

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    nodes: Vec<Node>,
}

const FUNCS: &[&str] = &[
    "and", "or", "not", "len", "index", "print", "printf", "println", "eq", "ne", "lt", "le", "gt",
    "ge", "json", "join", "split", "lower", "upper", "title", "pad", "truncate",
];

const UNSUPPORTED: &[&str] = &[
    "define", "template", "block", "break", "continue", "slice", "html", "js", "urlquery", "call",
];

// ---- lexing ----

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Field(Vec<String>),
    Var(String, Vec<String>),
    Ident(String),
    Str(String),
    Num(String),
    LParen,
    RParen,
    Pipe,
    Declare,
    Assign,
    Comma,
    /// `.Field` chain right after `)`.
    Chain(Vec<String>),
}

fn lex_action(src: &str) -> R<Vec<Tok>> {
    let c: Vec<char> = src.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    let ident = |c: &[char], i: &mut usize| {
        let s = *i;
        while *i < c.len() && (c[*i].is_alphanumeric() || c[*i] == '_') {
            *i += 1;
        }
        c[s..*i].iter().collect::<String>()
    };
    let chain = |c: &[char], i: &mut usize| -> Vec<String> {
        let mut parts = Vec::new();
        while *i < c.len() && c[*i] == '.' {
            *i += 1;
            let s = *i;
            while *i < c.len() && (c[*i].is_alphanumeric() || c[*i] == '_') {
                *i += 1;
            }
            let p: String = c[s..*i].iter().collect();
            if p.is_empty() {
                break;
            }
            parts.push(p);
        }
        parts
    };
    while i < c.len() {
        let ch = c[i];
        match ch {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            '(' => {
                out.push(Tok::LParen);
                i += 1
            }
            ')' => {
                out.push(Tok::RParen);
                i += 1;
                if i < c.len() && c[i] == '.' {
                    out.push(Tok::Chain(chain(&c, &mut i)));
                }
            }
            '|' => {
                out.push(Tok::Pipe);
                i += 1
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1
            }
            ':' if c.get(i + 1) == Some(&'=') => {
                out.push(Tok::Declare);
                i += 2
            }
            '=' => {
                out.push(Tok::Assign);
                i += 1
            }
            '.' => {
                if c.get(i + 1).is_some_and(|d| d.is_ascii_digit()) {
                    let s = i;
                    i += 1;
                    while i < c.len() && (c[i].is_ascii_alphanumeric() || c[i] == '.') {
                        i += 1;
                    }
                    out.push(Tok::Num(c[s..i].iter().collect()));
                } else {
                    let parts = chain(&c, &mut i);
                    if parts.is_empty() {
                        // `.` alone
                        i = i.max(1);
                    }
                    out.push(Tok::Field(parts));
                }
            }
            '$' => {
                i += 1;
                let name = ident(&c, &mut i);
                let parts = chain(&c, &mut i);
                out.push(Tok::Var(name, parts));
            }
            '"' => {
                i += 1;
                let mut s = String::new();
                loop {
                    match c.get(i) {
                        None => return err("unterminated quoted string"),
                        Some('"') => {
                            i += 1;
                            break;
                        }
                        Some('\\') => {
                            let e = c.get(i + 1).copied().unwrap_or('\\');
                            s.push(match e {
                                'n' => '\n',
                                't' => '\t',
                                'r' => '\r',
                                '0' => '\0',
                                other => other,
                            });
                            i += 2;
                        }
                        Some(&x) => {
                            s.push(x);
                            i += 1
                        }
                    }
                }
                out.push(Tok::Str(s));
            }
            '`' => {
                i += 1;
                let s0 = i;
                while i < c.len() && c[i] != '`' {
                    i += 1;
                }
                if i >= c.len() {
                    return err("unterminated raw quoted string");
                }
                out.push(Tok::Str(c[s0..i].iter().collect()));
                i += 1;
            }
            '\'' => {
                // A Go character constant is a number.
                let ch = c.get(i + 1).copied().unwrap_or('\0');
                if c.get(i + 2) != Some(&'\'') {
                    return err("unterminated character constant");
                }
                out.push(Tok::Num((ch as u32).to_string()));
                i += 3;
            }
            '-' | '+' | '0'..='9' => {
                let s = i;
                i += 1;
                while i < c.len() && (c[i].is_ascii_alphanumeric() || c[i] == '.' || c[i] == '_') {
                    i += 1;
                }
                out.push(Tok::Num(c[s..i].iter().collect()));
            }
            c0 if c0.is_alphabetic() || c0 == '_' => {
                out.push(Tok::Ident(ident(&c, &mut i)));
            }
            other => return err(format!("unexpected {other:?} in command")),
        }
    }
    Ok(out)
}

// ---- parsing ----

enum Item {
    Node(Node),
    Else(Option<Pipe>),
    End,
}

struct Parser {
    items: Vec<Item>,
    pos: usize,
}

impl Template {
    /// Read a template; everything it does not support is named in the error.
    pub fn parse(src: &str) -> R<Template> {
        let items = split_items(src)?;
        let mut p = Parser { items, pos: 0 };
        let (nodes, stop) = p.list()?;
        match stop {
            None => Ok(Template { nodes }),
            Some(Stop::End) => err("unexpected {{end}}"),
            Some(Stop::Else(_)) => err("unexpected {{else}}"),
        }
    }

    /// Run the template on `data`.
    pub fn execute(&self, data: &Value, opts: &Options) -> R<String> {
        let mut ex = Exec {
            opts,
            vars: vec![("$".to_string(), data.clone())],
            out: String::new(),
        };
        ex.walk(&self.nodes, data)?;
        Ok(ex.out)
    }
}

fn split_items(src: &str) -> R<Vec<Item>> {
    let mut items = Vec::new();
    let mut rest = src;
    let mut trim_next = false;
    while !rest.is_empty() {
        let Some(open) = rest.find("{{") else {
            let t = if trim_next { rest.trim_start() } else { rest };
            items.push(Item::Node(Node::Text(t.to_string())));
            break;
        };
        let mut text = &rest[..open];
        if trim_next {
            text = text.trim_start();
        }
        let mut inner = &rest[open + 2..];
        if inner.starts_with("- ") || inner.starts_with("-\t") || inner.starts_with("-\n") {
            text = text.trim_end();
            inner = &inner[1..];
        }
        if !text.is_empty() {
            items.push(Item::Node(Node::Text(text.to_string())));
        }
        let Some(close) = find_close(inner) else {
            return err("unclosed action: a {{ without its }}");
        };
        let mut action = &inner[..close];
        rest = &inner[close + 2..];
        trim_next = false;
        if action.ends_with(" -") || action.ends_with("\t-") || action.ends_with("\n-") {
            action = &action[..action.len() - 1];
            trim_next = true;
        }
        let a = action.trim();
        if a.starts_with("/*") {
            if !a.ends_with("*/") {
                return err("unclosed comment");
            }
            continue;
        }
        items.push(parse_action(a)?);
    }
    Ok(items)
}

/// The `}}` that ends an action, outside quotes.
fn find_close(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut q: Option<u8> = None;
    while i + 1 < b.len() || (q.is_none() && i < b.len()) {
        match q {
            Some(c) => {
                if b[i] == b'\\' && c == b'"' {
                    i += 1;
                } else if b[i] == c {
                    q = None;
                }
            }
            None => {
                if b[i] == b'"' || b[i] == b'`' {
                    q = Some(b[i]);
                } else if b[i] == b'}' && b.get(i + 1) == Some(&b'}') {
                    return Some(i);
                }
            }
        }
        i += 1;
    }
    None
}

fn parse_action(a: &str) -> R<Item> {
    let toks = lex_action(a)?;
    let kw = match toks.first() {
        Some(Tok::Ident(k)) => k.as_str(),
        None => return err("missing value for command"),
        _ => "",
    };
    if UNSUPPORTED.contains(&kw) {
        return err(unsupported(kw));
    }
    match kw {
        "end" if toks.len() == 1 => Ok(Item::End),
        "else" => {
            if toks.len() == 1 {
                return Ok(Item::Else(None));
            }
            match toks.get(1) {
                Some(Tok::Ident(k)) if k == "if" => Ok(Item::Else(Some(pipe(&toks[2..])?))),
                Some(Tok::Ident(k)) => err(unsupported(&format!("else {k}"))),
                _ => err("unexpected tokens after {{else}}"),
            }
        }
        "if" | "range" | "with" => {
            let p = pipe(&toks[1..])?;
            if p.cmds.is_empty() {
                return err(format!("missing value for {kw}"));
            }
            Ok(Item::Node(match kw {
                "if" => Node::If(vec![(p, vec![])], vec![]),
                "range" => Node::Range(p, vec![], vec![]),
                _ => Node::With(p, vec![], vec![]),
            }))
        }
        _ => Ok(Item::Node(Node::Action(pipe(&toks)?))),
    }
}

fn unsupported(what: &str) -> String {
    format!(
        "{{{{{what}}}}} is not supported in wharf's --format templates (supported: fields, \
         variables, if/else, range, with, and the functions {})",
        FUNCS.join(", ")
    )
}

enum Stop {
    End,
    Else(Option<Pipe>),
}

impl Parser {
    fn list(&mut self) -> R<(Vec<Node>, Option<Stop>)> {
        let mut nodes = Vec::new();
        while self.pos < self.items.len() {
            let item = std::mem::replace(&mut self.items[self.pos], Item::End);
            self.pos += 1;
            match item {
                Item::End => return Ok((nodes, Some(Stop::End))),
                Item::Else(p) => return Ok((nodes, Some(Stop::Else(p)))),
                Item::Node(Node::If(mut arms, _)) => {
                    let mut els = Vec::new();
                    loop {
                        let (body, stop) = self.list()?;
                        if let Some(last) = arms.last_mut() {
                            last.1 = body;
                        }
                        match stop {
                            Some(Stop::End) => break,
                            Some(Stop::Else(Some(p))) => arms.push((p, vec![])),
                            Some(Stop::Else(None)) => {
                                let (body, stop) = self.list()?;
                                if !matches!(stop, Some(Stop::End)) {
                                    return err("missing {{end}} after {{else}}");
                                }
                                els = body;
                                break;
                            }
                            None => return err("unexpected EOF: {{if}} without {{end}}"),
                        }
                    }
                    nodes.push(Node::If(arms, els));
                }
                Item::Node(n @ (Node::Range(..) | Node::With(..))) => {
                    let (body, stop) = self.list()?;
                    let els = match stop {
                        Some(Stop::End) => vec![],
                        Some(Stop::Else(None)) => {
                            let (b, s) = self.list()?;
                            if !matches!(s, Some(Stop::End)) {
                                return err("missing {{end}} after {{else}}");
                            }
                            b
                        }
                        Some(Stop::Else(Some(_))) => {
                            return err(unsupported("else if after range or with"))
                        }
                        None => {
                            return err("unexpected EOF: {{range}} or {{with}} without {{end}}")
                        }
                    };
                    nodes.push(match n {
                        Node::Range(p, ..) => Node::Range(p, body, els),
                        Node::With(p, ..) => Node::With(p, body, els),
                        _ => unreachable!("matched above"),
                    });
                }
                Item::Node(n) => nodes.push(n),
            }
        }
        Ok((nodes, None))
    }
}

fn pipe(toks: &[Tok]) -> R<Pipe> {
    let mut decl = Vec::new();
    let mut assign = false;
    let mut start = 0;
    // `$a := ...`, `$a, $b := ...`, `$a = ...`
    let declared = toks
        .iter()
        .position(|t| matches!(t, Tok::Declare | Tok::Assign));
    if let Some(d) = declared {
        let vars = &toks[..d];
        if vars
            .iter()
            .all(|t| matches!(t, Tok::Var(_, p) if p.is_empty()) || *t == Tok::Comma)
            && !vars.is_empty()
        {
            for t in vars {
                if let Tok::Var(n, _) = t {
                    decl.push(format!("${n}"));
                }
            }
            assign = toks[d] == Tok::Assign;
            start = d + 1;
        }
    }
    let mut cmds = Vec::new();
    let mut i = start;
    let mut args = Vec::new();
    while i < toks.len() {
        match &toks[i] {
            Tok::Pipe => {
                if args.is_empty() {
                    return err("missing command before |");
                }
                cmds.push(Cmd {
                    args: std::mem::take(&mut args),
                });
                i += 1;
            }
            _ => {
                let (a, n) = arg(&toks[i..])?;
                args.push(a);
                i += n;
            }
        }
    }
    if !args.is_empty() {
        cmds.push(Cmd { args });
    } else if !cmds.is_empty() {
        return err("missing command after |");
    }
    Ok(Pipe { decl, assign, cmds })
}

fn arg(toks: &[Tok]) -> R<(Arg, usize)> {
    Ok(match &toks[0] {
        Tok::Field(p) => (Arg::Field(p.clone()), 1),
        Tok::Var(n, p) => (Arg::Var(format!("${n}"), p.clone()), 1),
        Tok::Str(s) => (Arg::Lit(Value::String(s.clone())), 1),
        Tok::Num(n) => (Arg::Lit(number(n)?), 1),
        Tok::Ident(k) => match k.as_str() {
            "true" => (Arg::Lit(Value::Bool(true)), 1),
            "false" => (Arg::Lit(Value::Bool(false)), 1),
            "nil" => (Arg::Nil, 1),
            f if FUNCS.contains(&f) => (Arg::Func(f.to_string()), 1),
            f if UNSUPPORTED.contains(&f) => return err(unsupported(f)),
            f => return err(format!("function {f:?} not defined")),
        },
        Tok::LParen => {
            let mut depth = 0;
            let mut end = None;
            for (j, t) in toks.iter().enumerate() {
                match t {
                    Tok::LParen => depth += 1,
                    Tok::RParen => {
                        depth -= 1;
                        if depth == 0 {
                            end = Some(j);
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let Some(end) = end else {
                return err("unclosed left paren");
            };
            let inner = pipe(&toks[1..end])?;
            match toks.get(end + 1) {
                Some(Tok::Chain(c)) => (Arg::Sub(Box::new(inner), c.clone()), end + 2),
                _ => (Arg::Sub(Box::new(inner), vec![]), end + 1),
            }
        }
        t => return err(format!("unexpected {t:?} in operand")),
    })
}

fn number(n: &str) -> R<Value> {
    if let Ok(i) = n.parse::<i64>() {
        return Ok(Value::from(i));
    }
    if let Some(h) = n.strip_prefix("0x") {
        if let Ok(i) = i64::from_str_radix(h, 16) {
            return Ok(Value::from(i));
        }
    }
    match n.parse::<f64>() {
        Ok(f) if f.is_finite() => Ok(Value::from(f)),
        _ => err(format!("bad number syntax: {n:?}")),
    }
}

// ---- execution ----

struct Exec<'a> {
    opts: &'a Options,
    vars: Vec<(String, Value)>,
    out: String,
}

/// `<no value>`: what Go prints for a missing map key.
const NO_VALUE: &str = "\u{0}<no value>";

fn no_value() -> Value {
    Value::String(NO_VALUE.into())
}

impl Exec<'_> {
    fn walk(&mut self, nodes: &[Node], dot: &Value) -> R<()> {
        for n in nodes {
            match n {
                Node::Text(t) => self.out.push_str(t),
                Node::Action(p) => {
                    let v = self.pipe(p, dot)?;
                    if p.decl.is_empty() {
                        let s = print_value(&v);
                        self.out.push_str(&s);
                    }
                }
                Node::If(arms, els) => {
                    let mark = self.vars.len();
                    let mut done = false;
                    for (p, body) in arms {
                        if truth(&self.pipe(p, dot)?) {
                            self.walk(body, dot)?;
                            done = true;
                            break;
                        }
                    }
                    if !done {
                        self.walk(els, dot)?;
                    }
                    self.vars.truncate(mark);
                }
                Node::With(p, body, els) => {
                    let mark = self.vars.len();
                    let v = self.pipe(p, dot)?;
                    if truth(&v) {
                        self.walk(body, &v)?;
                    } else {
                        self.walk(els, dot)?;
                    }
                    self.vars.truncate(mark);
                }
                Node::Range(p, body, els) => {
                    let mark = self.vars.len();
                    let mut inner = p.clone();
                    let decl = std::mem::take(&mut inner.decl);
                    if decl.len() > 2 {
                        return err("too many declarations in range");
                    }
                    let v = self.pipe(&inner, dot)?;
                    let items: Vec<(Value, Value)> = match &v {
                        Value::Array(a) => a
                            .iter()
                            .enumerate()
                            .map(|(i, e)| (Value::from(i), e.clone()))
                            .collect(),
                        Value::Object(m) => {
                            let sorted: BTreeMap<_, _> = m.iter().collect();
                            sorted
                                .into_iter()
                                .map(|(k, e)| (Value::String(k.clone()), e.clone()))
                                .collect()
                        }
                        Value::Null => vec![],
                        Value::String(s) if s == NO_VALUE => vec![],
                        other => {
                            return err(format!("range can't iterate over {}", print_value(other)))
                        }
                    };
                    if items.is_empty() {
                        self.walk(els, dot)?;
                    }
                    for (k, e) in items {
                        let m2 = self.vars.len();
                        match decl.len() {
                            1 => self.vars.push((decl[0].clone(), e.clone())),
                            2 => {
                                self.vars.push((decl[0].clone(), k));
                                self.vars.push((decl[1].clone(), e.clone()));
                            }
                            _ => {}
                        }
                        self.walk(body, &e)?;
                        self.vars.truncate(m2);
                    }
                    self.vars.truncate(mark);
                }
            }
        }
        Ok(())
    }

    fn pipe(&mut self, p: &Pipe, dot: &Value) -> R<Value> {
        let mut last: Option<Value> = None;
        for c in &p.cmds {
            last = Some(self.cmd(c, dot, last)?);
        }
        let v = last.unwrap_or(Value::Null);
        if p.assign {
            for d in &p.decl {
                match self.vars.iter_mut().rev().find(|(n, _)| n == d) {
                    Some(slot) => slot.1 = v.clone(),
                    None => return err(format!("undefined variable: {d}")),
                }
            }
        } else {
            for d in &p.decl {
                self.vars.push((d.clone(), v.clone()));
            }
        }
        Ok(v)
    }

    fn var(&self, name: &str) -> R<Value> {
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| TmplError(format!("undefined variable: {name}")))
    }

    fn cmd(&mut self, c: &Cmd, dot: &Value, fin: Option<Value>) -> R<Value> {
        let first = &c.args[0];
        match first {
            Arg::Func(f) => {
                let mut args = Vec::new();
                for a in &c.args[1..] {
                    args.push(self.operand(a, dot)?);
                }
                args.extend(fin);
                if self.opts.header
                    && [
                        "json", "join", "split", "lower", "upper", "title", "pad", "truncate",
                    ]
                    .contains(&f.as_str())
                {
                    return Ok(args.into_iter().next().unwrap_or(Value::Null));
                }
                call(f, &args)
            }
            Arg::Field(chain) | Arg::Var(_, chain) | Arg::Sub(_, chain)
                if c.args.len() > 1 || fin.is_some() =>
            {
                // A method call: `.Label "k"`.
                let (recv, name) = match (first, chain.split_last()) {
                    (_, None) => return err("can't give arguments to a non-function value"),
                    (Arg::Field(_), Some((n, rest))) => (self.chain(dot, rest)?, n.clone()),
                    (Arg::Var(v, _), Some((n, rest))) => {
                        (self.chain(&self.var(v)?, rest)?, n.clone())
                    }
                    (Arg::Sub(p, _), Some((n, rest))) => {
                        let base = self.pipe(p, dot)?;
                        (self.chain(&base, rest)?, n.clone())
                    }
                    _ => unreachable!("matched above"),
                };
                let mut args = Vec::new();
                for a in &c.args[1..] {
                    args.push(self.operand(a, dot)?);
                }
                args.extend(fin);
                match self.opts.methods.iter().find(|(m, _)| *m == name) {
                    Some(_) if self.opts.header => Ok(Value::String(name.to_uppercase())),
                    Some((_, m)) => m(&recv, &args),
                    None => err(format!("{name} is not a method but has arguments")),
                }
            }
            _ => {
                if c.args.len() > 1 {
                    return err("can't give arguments to a non-function value");
                }
                self.operand(first, dot)
            }
        }
    }

    fn operand(&mut self, a: &Arg, dot: &Value) -> R<Value> {
        match a {
            Arg::Field(c) => self.chain(dot, c),
            Arg::Var(v, c) => {
                let base = self.var(v)?;
                self.chain(&base, c)
            }
            Arg::Lit(v) => Ok(v.clone()),
            Arg::Nil => Ok(Value::Null),
            Arg::Func(f) => call(f, &[]),
            Arg::Sub(p, c) => {
                let base = self.pipe(p, dot)?;
                self.chain(&base, c)
            }
        }
    }

    fn chain(&self, base: &Value, fields: &[String]) -> R<Value> {
        let mut v = base.clone();
        for f in fields {
            v = match &v {
                Value::Object(m) => match m.get(f) {
                    Some(x) => x.clone(),
                    None if self.opts.header => Value::String(NO_VALUE.into()),
                    None => match self.opts.strict {
                        Some(ty) => return err(format!("can't evaluate field {f} in type {ty}")),
                        None => no_value(),
                    },
                },
                Value::Null => return err(format!("nil pointer evaluating interface {{}}.{f}")),
                Value::String(s) if s == NO_VALUE => {
                    return err(format!("nil pointer evaluating interface {{}}.{f}"))
                }
                other => {
                    return err(format!(
                        "can't evaluate field {f} in type {}",
                        type_name(other)
                    ))
                }
            };
        }
        Ok(v)
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "bool",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
        Value::Null => "interface {}",
    }
}

/// Go's notion of truth: false, 0, nil, and empty strings, lists and maps are false.
fn truth(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty() && s != NO_VALUE,
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
    }
}

/// A value as Go's fmt prints it with %v.
pub fn print_value(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) if s == NO_VALUE => "<no value>".into(),
        Value::String(s) => s.clone(),
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(print_value).collect::<Vec<_>>().join(" ")
        ),
        Value::Object(m) => {
            let sorted: BTreeMap<_, _> = m.iter().collect();
            format!(
                "map[{}]",
                sorted
                    .iter()
                    .map(|(k, v)| format!("{k}:{}", print_value(v)))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        }
    }
}

fn as_str(v: &Value) -> String {
    print_value(v)
}

fn want(f: &str, args: &[Value], n: usize) -> R<()> {
    if args.len() != n {
        return err(format!(
            "wrong number of args for {f}: want {n} got {}",
            args.len()
        ));
    }
    Ok(())
}

fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

fn int_arg(f: &str, v: &Value) -> R<i64> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .ok_or_else(|| TmplError(format!("{f}: expected an integer, got {n}"))),
        Value::String(s) => s
            .parse()
            .map_err(|_| TmplError(format!("{f}: expected an integer, got {s:?}"))),
        other => err(format!(
            "{f}: expected an integer, got {}",
            print_value(other)
        )),
    }
}

fn compare(f: &str, a: &Value, b: &Value) -> R<std::cmp::Ordering> {
    match (a, b) {
        (Value::String(x), Value::String(y)) => Ok(x.cmp(y)),
        _ => match (num(a), num(b)) {
            (Some(x), Some(y)) => x
                .partial_cmp(&y)
                .ok_or_else(|| TmplError(format!("{f}: incomparable numbers"))),
            _ => err(format!(
                "{f}: incompatible types for comparison ({} and {})",
                type_name(a),
                type_name(b)
            )),
        },
    }
}

fn equal(a: &Value, b: &Value) -> bool {
    match (num(a), num(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn call(f: &str, args: &[Value]) -> R<Value> {
    use std::cmp::Ordering::*;
    Ok(match f {
        "and" => {
            if args.is_empty() {
                return err("wrong number of args for and: want at least 1 got 0");
            }
            args.iter()
                .find(|a| !truth(a))
                .unwrap_or(&args[args.len() - 1])
                .clone()
        }
        "or" => {
            if args.is_empty() {
                return err("wrong number of args for or: want at least 1 got 0");
            }
            args.iter()
                .find(|a| truth(a))
                .unwrap_or(&args[args.len() - 1])
                .clone()
        }
        "not" => {
            want(f, args, 1)?;
            Value::Bool(!truth(&args[0]))
        }
        "len" => {
            want(f, args, 1)?;
            Value::from(match &args[0] {
                Value::String(s) => s.len(),
                Value::Array(a) => a.len(),
                Value::Object(m) => m.len(),
                other => return err(format!("len of type {}", type_name(other))),
            })
        }
        "index" => {
            if args.is_empty() {
                return err("wrong number of args for index: want at least 1 got 0");
            }
            let mut v = args[0].clone();
            for k in &args[1..] {
                v = match (&v, k) {
                    (Value::Object(m), Value::String(s)) => {
                        m.get(s).cloned().unwrap_or_else(no_value)
                    }
                    (Value::Array(a), _) => {
                        let i = int_arg("index", k)?;
                        usize::try_from(i)
                            .ok()
                            .and_then(|i| a.get(i))
                            .cloned()
                            .ok_or_else(|| TmplError(format!("index out of range: {i}")))?
                    }
                    (Value::Null, _) => return err("index of untyped nil"),
                    (other, _) => {
                        return err(format!("can't index item of type {}", type_name(other)))
                    }
                };
            }
            v
        }
        "print" => {
            // Go adds spaces between operands when neither is a string.
            let mut s = String::new();
            for (i, a) in args.iter().enumerate() {
                if i > 0 && !a.is_string() && !args[i - 1].is_string() {
                    s.push(' ');
                }
                s.push_str(&as_str(a));
            }
            Value::String(s)
        }
        "println" => Value::String(args.iter().map(as_str).collect::<Vec<_>>().join(" ") + "\n"),
        "printf" => {
            if args.is_empty() {
                return err("wrong number of args for printf: want at least 1 got 0");
            }
            Value::String(sprintf(&as_str(&args[0]), &args[1..]))
        }
        "eq" => {
            if args.len() < 2 {
                return err("missing argument for comparison");
            }
            Value::Bool(args[1..].iter().any(|b| equal(&args[0], b)))
        }
        "ne" => {
            want(f, args, 2)?;
            Value::Bool(!equal(&args[0], &args[1]))
        }
        "lt" | "le" | "gt" | "ge" => {
            want(f, args, 2)?;
            let o = compare(f, &args[0], &args[1])?;
            Value::Bool(match f {
                "lt" => o == Less,
                "le" => o != Greater,
                "gt" => o == Greater,
                _ => o != Less,
            })
        }
        "json" => {
            want(f, args, 1)?;
            let v = if args[0].as_str() == Some(NO_VALUE) {
                Value::Null
            } else {
                args[0].clone()
            };
            Value::String(serde_json::to_string(&v).unwrap_or_default())
        }
        "join" => {
            want(f, args, 2)?;
            let sep = as_str(&args[1]);
            match &args[0] {
                Value::Array(a) => {
                    Value::String(a.iter().map(as_str).collect::<Vec<_>>().join(&sep))
                }
                Value::Null => Value::String(String::new()),
                other => return err(format!("join: expected a list, got {}", type_name(other))),
            }
        }
        "split" => {
            want(f, args, 2)?;
            Value::Array(
                as_str(&args[0])
                    .split(as_str(&args[1]).as_str())
                    .map(|s| Value::String(s.to_string()))
                    .collect(),
            )
        }
        "lower" => {
            want(f, args, 1)?;
            Value::String(as_str(&args[0]).to_lowercase())
        }
        "upper" => {
            want(f, args, 1)?;
            Value::String(as_str(&args[0]).to_uppercase())
        }
        "title" => {
            want(f, args, 1)?;
            let s = as_str(&args[0]);
            let mut out = String::new();
            let mut start = true;
            for ch in s.chars() {
                if start {
                    out.extend(ch.to_uppercase());
                } else {
                    out.push(ch);
                }
                start = ch.is_whitespace();
            }
            Value::String(out)
        }
        "pad" => {
            want(f, args, 3)?;
            let (l, r) = (int_arg(f, &args[1])?, int_arg(f, &args[2])?);
            Value::String(format!(
                "{}{}{}",
                " ".repeat(l.max(0) as usize),
                as_str(&args[0]),
                " ".repeat(r.max(0) as usize)
            ))
        }
        "truncate" => {
            want(f, args, 2)?;
            let n = int_arg(f, &args[1])?.max(0) as usize;
            Value::String(as_str(&args[0]).chars().take(n).collect())
        }
        other => return err(format!("function {other:?} not defined")),
    })
}

/// Go's fmt.Sprintf for the verbs templates use: %v %s %d %q %f %x %X %t %%, with
/// flags `-` `0` `+`, a width and a precision.
pub fn sprintf(fmt: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut it = fmt.chars().peekable();
    let mut n = 0;
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut left = false;
        let mut zero = false;
        let mut plus = false;
        while let Some(&f) = it.peek() {
            match f {
                '-' => left = true,
                '0' => zero = true,
                '+' => plus = true,
                ' ' | '#' => {}
                _ => break,
            }
            it.next();
        }
        let mut width = String::new();
        while let Some(&d) = it.peek().filter(|d| d.is_ascii_digit()) {
            width.push(d);
            it.next();
        }
        let mut prec: Option<usize> = None;
        if it.peek() == Some(&'.') {
            it.next();
            let mut p = String::new();
            while let Some(&d) = it.peek().filter(|d| d.is_ascii_digit()) {
                p.push(d);
                it.next();
            }
            prec = Some(p.parse().unwrap_or(0));
        }
        let Some(verb) = it.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(a) = args.get(n) else {
            let _ = write!(out, "%!{verb}(MISSING)");
            continue;
        };
        n += 1;
        let mut s = match verb {
            'v' | 's' => {
                let s = as_str(a);
                match prec {
                    Some(p) if verb == 's' => s.chars().take(p).collect(),
                    _ => s,
                }
            }
            'q' => serde_json::to_string(&as_str(a)).unwrap_or_default(),
            'd' => match num(a) {
                Some(f) => {
                    let s = format!("{}", f.trunc() as i64);
                    if plus && f >= 0.0 {
                        format!("+{s}")
                    } else {
                        s
                    }
                }
                None => format!("%!d({})", as_str(a)),
            },
            'f' | 'F' => match num(a) {
                Some(f) => format!("{f:.p$}", p = prec.unwrap_or(6)),
                None => format!("%!f({})", as_str(a)),
            },
            'x' | 'X' => {
                let s = match a {
                    Value::Number(x) if x.as_i64().is_some() => {
                        format!("{:x}", x.as_i64().unwrap_or(0))
                    }
                    other => as_str(other).bytes().map(|b| format!("{b:02x}")).collect(),
                };
                if verb == 'X' {
                    s.to_uppercase()
                } else {
                    s
                }
            }
            't' => as_str(a),
            other => format!("%!{other}({})", as_str(a)),
        };
        if let Ok(w) = width.parse::<usize>() {
            let len = s.chars().count();
            if len < w {
                let pad = w - len;
                if left {
                    s.push_str(&" ".repeat(pad));
                } else if zero && matches!(verb, 'd' | 'f' | 'F') {
                    let (sign, digits) = match s.strip_prefix('-') {
                        Some(d) => ("-", d.to_string()),
                        None => ("", s.clone()),
                    };
                    s = format!("{sign}{}{digits}", "0".repeat(pad));
                } else {
                    s = format!("{}{s}", " ".repeat(pad));
                }
            }
        }
        out.push_str(&s);
    }
    if n < args.len() {
        let extra: Vec<String> = args[n..].iter().map(as_str).collect();
        let _ = write!(out, "%!(EXTRA {})", extra.join(", "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(t: &str, v: &Value) -> String {
        Template::parse(t)
            .and_then(|t| t.execute(v, &Options::default()))
            .unwrap_or_else(|e| panic!("{t}: {e}"))
    }

    #[test]
    fn fields_chains_and_printing() {
        let v = json!({"ID": "abc", "State": {"Status": "running", "Pid": 42},
            "Env": ["A=1", "B=2"], "Labels": {"b": "2", "a": "1"}, "N": null});
        assert_eq!(run("{{.ID}}", &v), "abc");
        assert_eq!(run("{{.State.Status}} {{.State.Pid}}", &v), "running 42");
        assert_eq!(run("{{.Env}}", &v), "[A=1 B=2]");
        assert_eq!(run("{{.Labels}}", &v), "map[a:1 b:2]");
        assert_eq!(run("{{.N}}", &v), "<nil>");
        assert_eq!(run("{{.Missing}}", &v), "<no value>");
        assert_eq!(run("{{json .Env}}", &v), r#"["A=1","B=2"]"#);
        assert_eq!(
            run("{{json .State}}", &v),
            r#"{"Pid":42,"Status":"running"}"#
        );
        assert_eq!(run("{{range .Env}}{{.}};{{end}}", &v), "A=1;B=2;");
        assert_eq!(
            run("{{range $k, $v := .Labels}}{{$k}}={{$v}},{{end}}", &v),
            "a=1,b=2,"
        );
        assert_eq!(run("{{index .Labels \"b\"}}", &v), "2");
        assert_eq!(run("{{index .Env 1}}", &v), "B=2");
        assert_eq!(run("{{join .Env \",\"}}", &v), "A=1,B=2");
        assert_eq!(run("{{upper .ID}} {{lower \"AB\"}}", &v), "ABC ab");
        assert_eq!(run("{{.ID | upper}}", &v), "ABC");
        assert_eq!(run("{{printf \"%s-%d\" .ID .State.Pid}}", &v), "abc-42");
        assert_eq!(
            run("{{printf \"%-5s|%5s|%03d\" \"a\" \"b\" 7}}", &v),
            "a    |    b|007"
        );
        assert_eq!(
            run(
                "{{if eq .State.Status \"running\"}}up{{else}}down{{end}}",
                &v
            ),
            "up"
        );
        assert_eq!(run("{{if .N}}a{{else if .Env}}b{{else}}c{{end}}", &v), "b");
        assert_eq!(run("{{with .State}}{{.Pid}}{{end}}", &v), "42");
        assert_eq!(run("{{range .N}}x{{else}}none{{end}}", &v), "none");
        assert_eq!(run("{{$x := .ID}}{{$x}}{{/* c */}}", &v), "abc");
        assert_eq!(run("a  {{- .ID -}}  b", &v), "aabcb");
        assert_eq!(run("{{len .Env}} {{not .N}}", &v), "2 true");
        assert_eq!(run("{{(index .Env 0) | lower}}", &v), "a=1");
        assert_eq!(run("{{split \"a,b\" \",\"}}", &v), "[a b]");
    }

    #[test]
    fn what_is_not_supported_is_named() {
        for (t, word) in [
            ("{{define \"x\"}}{{end}}", "define"),
            ("{{template \"x\"}}", "template"),
            ("{{.A | html}}", "html"),
            ("{{range .A}}{{break}}{{end}}", "break"),
        ] {
            let e = Template::parse(t).expect_err(t);
            assert!(e.0.contains(word), "{t}: {e}");
        }
        let e = Template::parse("{{nosuch .A}}").expect_err("unknown function");
        assert!(e.0.contains("nosuch"), "{e}");
        assert!(Template::parse("{{if .A}}x").is_err());
        assert!(Template::parse("{{.A").is_err());
        assert!(Template::parse("{{end}}").is_err());
    }

    #[test]
    fn strict_contexts_refuse_unknown_fields_and_methods_take_arguments() {
        fn label(recv: &Value, args: &[Value]) -> R<Value> {
            let k = print_value(&args[0]);
            Ok(recv["LabelMap"][&k].clone())
        }
        let opts = Options {
            strict: Some("*formatter.ContainerContext"),
            methods: vec![("Label", label as Method)],
            header: false,
        };
        let v = json!({"Names": "web", "LabelMap": {"k": "v"}});
        let t = Template::parse("{{.Names}} {{.Label \"k\"}}").unwrap();
        assert_eq!(t.execute(&v, &opts).unwrap(), "web v");
        let e = Template::parse("{{.Nope}}")
            .unwrap()
            .execute(&v, &opts)
            .expect_err("unknown field");
        assert!(e.0.contains("can't evaluate field Nope"), "{e}");
        let e = Template::parse("{{.Names \"x\"}}")
            .unwrap()
            .execute(&v, &opts)
            .expect_err("not a method");
        assert!(e.0.contains("Names is not a method"), "{e}");
    }
}
