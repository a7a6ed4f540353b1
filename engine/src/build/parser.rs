//! The Dockerfile's text: parser directives (`# syntax=`, `# escape=`), comments, line
//! continuations, heredocs, and the split of each instruction into its name, its
//! `--flags` and the rest. What an instruction's arguments mean is
//! [`super::instructions`]'s business.

use crate::error::{EngineError, Result};

/// A heredoc attached to an instruction (`RUN <<EOF`, `COPY <<EOF /dest`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    /// The terminator word, which is also the heredoc's name (`EOF`).
    pub name: String,
    /// Its lines, each ending in `\n` (leading tabs gone with `<<-`).
    pub content: String,
    /// The terminator was quoted (`<<"EOF"`, `<<'EOF'`): no variable expansion.
    pub quoted: bool,
    /// `<<-`: leading tabs stripped.
    pub strip_tabs: bool,
}

/// One instruction as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The line it starts on (1-based).
    pub line: usize,
    /// The instruction in upper case (`RUN`).
    pub cmd: String,
    /// `--name=value` flags before the arguments, as written (without the `--`).
    pub flags: Vec<String>,
    /// The arguments, continuations joined (without the flags).
    pub rest: String,
    /// The instruction as one line (name, flags and arguments; continuations joined).
    pub original: String,
    /// Heredocs that followed the line, in order.
    pub heredocs: Vec<Heredoc>,
}

impl Node {
    /// `line N: INSTRUCTION`: where an error points.
    pub fn at(&self) -> String {
        format!("line {}: {}", self.line, self.cmd)
    }

    /// An error about this instruction, naming its line.
    pub fn err(&self, msg: impl std::fmt::Display) -> EngineError {
        EngineError::invalid(format!("Dockerfile {}: {msg}", self.at()))
    }
}

/// A parsed Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    /// The escape character (`\` or `` ` ``).
    pub escape: char,
    /// The `# syntax=` directive, recorded and otherwise ignored.
    pub syntax: Option<String>,
    pub nodes: Vec<Node>,
    /// Warnings (empty continuation lines, unknown directives...).
    pub warnings: Vec<String>,
}

/// Instructions that may carry heredocs.
const HEREDOC_CMDS: &[&str] = &["RUN", "COPY", "ADD"];

/// Every instruction of the reference.
pub const INSTRUCTIONS: &[&str] = &[
    "FROM",
    "RUN",
    "CMD",
    "LABEL",
    "MAINTAINER",
    "EXPOSE",
    "ENV",
    "ADD",
    "COPY",
    "ENTRYPOINT",
    "VOLUME",
    "USER",
    "WORKDIR",
    "ARG",
    "ONBUILD",
    "STOPSIGNAL",
    "HEALTHCHECK",
    "SHELL",
];

/// The largest Dockerfile read (dockerd has no limit; a Dockerfile of this size is not
/// a Dockerfile).
pub const MAX_DOCKERFILE: u64 = 16 << 20;

fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

/// Does `line` end in the escape character (trailing blanks allowed), i.e. continue on
/// the next line? Returns the line without it.
fn continued(line: &str, escape: char) -> Option<&str> {
    let t = line.trim_end_matches([' ', '\t', '\r']);
    let s = t.strip_suffix(escape)?;
    Some(s)
}

/// Parse the directives at the top: `(escape, syntax, index of the first line after them)`.
fn directives(lines: &[&str], warnings: &mut Vec<String>) -> Result<(char, Option<String>, usize)> {
    let mut escape = '\\';
    let mut syntax = None;
    let mut seen = std::collections::BTreeSet::new();
    for (i, l) in lines.iter().enumerate() {
        let t = l.trim();
        let Some(body) = t.strip_prefix('#') else {
            return Ok((escape, syntax, i));
        };
        let Some((k, v)) = body.split_once('=') else {
            return Ok((escape, syntax, i));
        };
        let k = k.trim().to_ascii_lowercase();
        let v = v.trim();
        if k.is_empty()
            || !k
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Ok((escape, syntax, i));
        }
        if !seen.insert(k.clone()) && (k == "escape" || k == "syntax") {
            return Err(EngineError::invalid(format!(
                "Dockerfile line {}: only one {k} parser directive can be used",
                i + 1
            )));
        }
        match k.as_str() {
            "escape" => {
                escape = match v {
                    "\\" => '\\',
                    "`" => '`',
                    _ => {
                        return Err(EngineError::invalid(format!(
                            "Dockerfile line {}: invalid escape token {v:?} does not match ` or \\",
                            i + 1
                        )))
                    }
                }
            }
            "syntax" => syntax = Some(v.to_string()),
            "check" => {}
            // Unknown directives are comments, and end the directives.
            _ => {
                warnings.push(format!(
                    "line {}: unknown parser directive {k:?} treated as a comment",
                    i + 1
                ));
                return Ok((escape, syntax, i + 1));
            }
        }
    }
    Ok((escape, syntax, lines.len()))
}

/// Heredoc openers in `s` (outside quotes): `(name, quoted, strip_tabs)`.
pub fn heredoc_openers(s: &str, escape: char) -> Vec<(String, bool, bool)> {
    let mut out = Vec::new();
    let b: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut quote: Option<char> = None;
    while i < b.len() {
        let c = b[i];
        if let Some(q) = quote {
            if c == escape && q == '"' {
                i += 2;
                continue;
            }
            if c == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        if c == escape {
            i += 2;
            continue;
        }
        if c == '"' || c == '\'' {
            quote = Some(c);
            i += 1;
            continue;
        }
        if c == '<'
            && b.get(i + 1) == Some(&'<')
            && b.get(i + 2) != Some(&'<')
            && (i == 0 || b[i - 1] != '<')
        {
            let mut j = i + 2;
            let strip = b.get(j) == Some(&'-');
            if strip {
                j += 1;
            }
            let q = match b.get(j) {
                Some('"') | Some('\'') => {
                    let q = b[j];
                    j += 1;
                    Some(q)
                }
                _ => None,
            };
            let start = j;
            while j < b.len()
                && (b[j].is_ascii_alphanumeric() || b[j] == '_' || b[j] == '-' || b[j] == '.')
            {
                j += 1;
            }
            let name: String = b[start..j].iter().collect();
            if let Some(q) = q {
                if b.get(j) != Some(&q) {
                    i += 2;
                    continue;
                }
                j += 1;
            }
            if !name.is_empty() {
                out.push((name, q.is_some(), strip));
            }
            i = j;
            continue;
        }
        i += 1;
    }
    out
}

/// Split off leading `--flag[=value]` words.
fn split_flags(rest: &str) -> (Vec<String>, String) {
    let mut flags = Vec::new();
    let mut r = rest.trim_start();
    while let Some(f) = r.strip_prefix("--") {
        let end = f.find(char::is_whitespace).unwrap_or(f.len());
        let word = &f[..end];
        if word.is_empty() {
            break;
        }
        flags.push(word.to_string());
        r = f[end..].trim_start();
    }
    (flags, r.to_string())
}

/// Parse a Dockerfile's text.
pub fn parse(text: &str) -> Result<Dockerfile> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let mut warnings = Vec::new();
    let (escape, syntax, mut i) = directives(&lines, &mut warnings)?;
    let mut nodes = Vec::new();
    while i < lines.len() {
        let l = lines[i];
        if l.trim().is_empty() || is_comment(l) {
            i += 1;
            continue;
        }
        let start = i;
        let mut joined = String::new();
        let mut cur = l;
        loop {
            match continued(cur, escape) {
                Some(head) => {
                    joined.push_str(head);
                    i += 1;
                    // Comment lines inside a continuation are dropped; so are empty ones.
                    while i < lines.len() && (is_comment(lines[i]) || lines[i].trim().is_empty()) {
                        if lines[i].trim().is_empty() {
                            warnings.push(format!("line {}: empty continuation line", i + 1));
                        }
                        i += 1;
                    }
                    if i >= lines.len() {
                        break;
                    }
                    cur = lines[i];
                }
                None => {
                    joined.push_str(cur);
                    i += 1;
                    break;
                }
            }
        }
        let t = joined.trim();
        let (word, rest) = t.split_once(char::is_whitespace).unwrap_or((t, ""));
        let cmd = word.to_ascii_uppercase();
        if !INSTRUCTIONS.contains(&cmd.as_str()) {
            return Err(EngineError::invalid(format!(
                "Dockerfile line {}: unknown instruction: {word}",
                start + 1
            )));
        }
        let (flags, rest) = split_flags(rest);
        let mut heredocs = Vec::new();
        if HEREDOC_CMDS.contains(&cmd.as_str()) {
            for (name, quoted, strip) in heredoc_openers(&rest, escape) {
                let mut content = String::new();
                let mut closed = false;
                while i < lines.len() {
                    let hl = lines[i];
                    i += 1;
                    let cmp = if strip {
                        hl.trim_start_matches('\t')
                    } else {
                        hl
                    };
                    if cmp == name {
                        closed = true;
                        break;
                    }
                    content.push_str(cmp);
                    content.push('\n');
                }
                if !closed {
                    return Err(EngineError::invalid(format!(
                        "Dockerfile line {}: {cmd}: the heredoc <<{name} is not closed: end it with a line {name}",
                        start + 1
                    )));
                }
                heredocs.push(Heredoc {
                    name,
                    content,
                    quoted,
                    strip_tabs: strip,
                });
            }
        }
        nodes.push(Node {
            line: start + 1,
            original: t.to_string(),
            cmd,
            flags,
            rest: rest.trim().to_string(),
            heredocs,
        });
    }
    Ok(Dockerfile {
        escape,
        syntax,
        nodes,
        warnings,
    })
}

/// `["a", "b"]` as a JSON array of strings, if `s` is one.
pub fn json_array(s: &str) -> Option<Vec<String>> {
    let t = s.trim();
    if !t.starts_with('[') {
        return None;
    }
    serde_json::from_str::<Vec<String>>(t).ok()
}

/// Split words on whitespace, keeping quotes and escapes as written (buildkit's
/// `parseWords`): `a "b c" d\ e` gives `a`, `"b c"`, `d\ e`.
pub fn words(s: &str, escape: char) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if quote.is_none() && c.is_whitespace() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        cur.push(c);
        if c == escape {
            if let Some(n) = chars.next() {
                cur.push(n);
            }
            continue;
        }
        match quote {
            None if c == '"' || c == '\'' => quote = Some(c),
            Some(q) if c == q => quote = None,
            _ => {}
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// `KEY=value KEY2="v 2"` pairs, or the legacy `KEY value` form when `legacy` and the
/// first word has no `=`. Values keep their quotes (the expansion removes them).
pub fn name_vals(node: &Node, escape: char, legacy: bool) -> Result<Vec<(String, String)>> {
    let ws = words(&node.rest, escape);
    if ws.is_empty() {
        return Err(node.err(format!("{} needs at least one argument", node.cmd)));
    }
    if !ws[0].contains('=') {
        if !legacy {
            return Err(node.err(format!(
                "{} takes key=value pairs: {:?} has no =",
                node.cmd, ws[0]
            )));
        }
        let key = ws[0].clone();
        let rest = node.rest.trim_start()[key.len()..].trim().to_string();
        if rest.is_empty() {
            return Err(node.err(format!(
                "{} {key} needs a value: write {key}=VALUE",
                node.cmd
            )));
        }
        return Ok(vec![(key, rest)]);
    }
    let mut out = Vec::new();
    for w in ws {
        let Some((k, v)) = w.split_once('=') else {
            return Err(node.err(format!(
                "{} takes key=value pairs: {w:?} has no =",
                node.cmd
            )));
        };
        if k.is_empty() {
            return Err(node.err(format!("{}: a key is empty in {w:?}", node.cmd)));
        }
        out.push((k.to_string(), v.to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_comments_and_continuations() {
        let df = parse(
            "# syntax=docker/dockerfile:1\n# escape=`\n\nFROM busybox\n# a comment\nRUN echo a `\n  # inside\n  b\n  run   echo c\n",
        )
        .unwrap();
        assert_eq!(df.escape, '`');
        assert_eq!(df.syntax.as_deref(), Some("docker/dockerfile:1"));
        assert_eq!(df.nodes.len(), 3);
        assert_eq!(df.nodes[1].cmd, "RUN");
        assert_eq!(df.nodes[1].rest, "echo a   b");
        assert_eq!(df.nodes[1].line, 6);
        assert_eq!(df.nodes[2].cmd, "RUN");
        assert_eq!(df.nodes[2].line, 9);
    }

    #[test]
    fn reference_escape_example() {
        // The reference's Windows example: with escape=` a backslash is just a character.
        let df = parse(
            "# escape=`\n\nFROM microsoft/nanoserver\nCOPY testfile.txt c:\\\nRUN dir c:\\\n",
        )
        .unwrap();
        assert_eq!(df.nodes[1].rest, "testfile.txt c:\\");
        assert_eq!(df.nodes[2].rest, "dir c:\\");
        // Without it, `c:\` continues onto the next line.
        let df =
            parse("FROM microsoft/nanoserver\nCOPY testfile.txt c:\\\nRUN dir c:\\\n").unwrap();
        assert_eq!(df.nodes.len(), 2);
        assert_eq!(df.nodes[1].rest, "testfile.txt c:RUN dir c:");
    }

    #[test]
    fn directives_only_at_the_top() {
        let df = parse("FROM x\n# escape=`\nRUN a \\\n b\n").unwrap();
        assert_eq!(df.escape, '\\');
        assert_eq!(df.nodes[1].rest, "a  b");
        // After a comment, a directive is a comment.
        let df = parse("# about\n# escape=`\nFROM x\n").unwrap();
        assert_eq!(df.escape, '\\');
        // Unknown directive: a comment, and the end of directives.
        let df = parse("# unknowndirective=value\n# escape=`\nFROM x\n").unwrap();
        assert_eq!(df.escape, '\\');
        assert!(parse("# escape=x\nFROM x\n")
            .unwrap_err()
            .message
            .contains("escape"));
        assert!(parse("# escape=\\\n# escape=`\nFROM x\n").is_err());
    }

    #[test]
    fn flags_and_unknown_instructions() {
        let df = parse("FROM --platform=linux/amd64 busybox AS b\nCOPY --from=b --chown=1:2 a b\n")
            .unwrap();
        assert_eq!(df.nodes[0].flags, vec!["platform=linux/amd64"]);
        assert_eq!(df.nodes[0].rest, "busybox AS b");
        assert_eq!(df.nodes[1].flags, vec!["from=b", "chown=1:2"]);
        let e = parse("FROM x\n\nFORM y\n").unwrap_err();
        assert!(
            e.message.contains("line 3") && e.message.contains("FORM"),
            "{e}"
        );
    }

    #[test]
    fn heredocs() {
        let df = parse(
            "FROM x\nRUN <<EOF\necho a\necho b\nEOF\nCOPY <<-\"END\" <<two /dest/\n\tquoted $X\n\tEND\nsecond\ntwo\nRUN echo done\n",
        )
        .unwrap();
        assert_eq!(df.nodes.len(), 4);
        let run = &df.nodes[1];
        assert_eq!(run.heredocs.len(), 1);
        assert_eq!(run.heredocs[0].name, "EOF");
        assert_eq!(run.heredocs[0].content, "echo a\necho b\n");
        let cp = &df.nodes[2];
        assert_eq!(cp.heredocs.len(), 2);
        assert_eq!(cp.heredocs[0].content, "quoted $X\n");
        assert!(cp.heredocs[0].quoted && cp.heredocs[0].strip_tabs);
        assert_eq!(cp.heredocs[1].content, "second\n");
        assert_eq!(df.nodes[3].line, 11);
        assert!(parse("FROM x\nRUN <<EOF\nnever closed\n")
            .unwrap_err()
            .message
            .contains("line 2"));
        // `<<` inside quotes is not a heredoc.
        assert!(heredoc_openers("echo '<<EOF'", '\\').is_empty());
    }

    #[test]
    fn words_and_name_vals() {
        assert_eq!(
            words(r#"a "b c" d\ e"#, '\\'),
            vec!["a", "\"b c\"", "d\\ e"]
        );
        let df = parse("ENV A=1 B=\"x y\"\nENV LEGACY some value\nLABEL broken\n").unwrap();
        assert_eq!(
            name_vals(&df.nodes[0], '\\', true).unwrap(),
            vec![("A".into(), "1".into()), ("B".into(), "\"x y\"".into())]
        );
        assert_eq!(
            name_vals(&df.nodes[1], '\\', true).unwrap(),
            vec![("LEGACY".into(), "some value".into())]
        );
        assert!(name_vals(&df.nodes[2], '\\', false)
            .unwrap_err()
            .message
            .contains("line 3"));
    }
}
