//! Variable substitution in Dockerfile words, as buildkit's shell lexer does it:
//! `$VAR`, `${VAR}`, `${VAR:-word}`, `${VAR-word}`, `${VAR:+word}`, `${VAR+word}`,
//! `${VAR:?message}`, single quotes (literal), double quotes (expanded), the escape
//! character. Quotes are removed from the result.

use crate::error::{EngineError, Result};

/// Variables: `KEY=value` strings, the last of a key winning.
pub struct Env<'a> {
    pub vars: &'a [String],
}

impl Env<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.vars.iter().rev().find_map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv.as_str(), ""));
            (k == key).then_some(v)
        })
    }
}

struct Lexer<'a> {
    chars: Vec<char>,
    pos: usize,
    escape: char,
    env: &'a Env<'a>,
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}
fn is_name(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }
    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        Some(c)
    }

    /// Words of the input: `(word, was any part quoted)`; with `split`, whitespace
    /// outside quotes separates words (and expansions are split too, as the shell does).
    fn words(&mut self, split: bool) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let mut cur = String::new();
        let mut have = false;
        while let Some(c) = self.next() {
            if split && c.is_whitespace() {
                if have {
                    out.push(std::mem::take(&mut cur));
                    have = false;
                }
                continue;
            }
            match c {
                '\'' => {
                    have = true;
                    loop {
                        match self.next() {
                            Some('\'') => break,
                            Some(c) => cur.push(c),
                            None => return Err(EngineError::invalid("unexpected end of statement while looking for matching single-quote")),
                        }
                    }
                }
                '"' => {
                    have = true;
                    loop {
                        match self.next() {
                            Some('"') => break,
                            Some('$') => cur.push_str(&self.dollar()?),
                            Some(c) if c == self.escape => match self.peek() {
                                Some(n) if n == '"' || n == '$' || n == self.escape => {
                                    self.pos += 1;
                                    cur.push(n);
                                }
                                _ => cur.push(c),
                            },
                            Some(c) => cur.push(c),
                            None => return Err(EngineError::invalid("unexpected end of statement while looking for matching double-quote")),
                        }
                    }
                }
                '$' => {
                    let v = self.dollar()?;
                    if split {
                        // An unquoted expansion splits into words.
                        let mut parts = v.split_whitespace().peekable();
                        if v.starts_with(char::is_whitespace) && have {
                            out.push(std::mem::take(&mut cur));
                            have = false;
                        }
                        while let Some(p) = parts.next() {
                            cur.push_str(p);
                            have = true;
                            if parts.peek().is_some() {
                                out.push(std::mem::take(&mut cur));
                            }
                        }
                        if v.ends_with(char::is_whitespace) && have {
                            out.push(std::mem::take(&mut cur));
                            have = false;
                        }
                    } else {
                        cur.push_str(&v);
                        have = true;
                    }
                }
                c if c == self.escape => {
                    have = true;
                    match self.next() {
                        Some(n) => cur.push(n),
                        None => cur.push(c),
                    }
                }
                c => {
                    have = true;
                    cur.push(c);
                }
            }
        }
        if have || !split {
            out.push(cur);
        }
        Ok(out)
    }

    /// After a `$`: the expansion.
    fn dollar(&mut self) -> Result<String> {
        match self.peek() {
            Some('{') => {
                self.pos += 1;
                let mut name = String::new();
                while let Some(c) = self.peek() {
                    if is_name(c) {
                        name.push(c);
                        self.pos += 1;
                    } else {
                        break;
                    }
                }
                if name.is_empty() {
                    return Err(EngineError::invalid(
                        "bad substitution: ${} needs a variable name",
                    ));
                }
                match self.next() {
                    Some('}') => Ok(self.env.get(&name).unwrap_or("").to_string()),
                    Some(':') => {
                        let op = self.next().ok_or_else(|| {
                            EngineError::invalid(format!("bad substitution in ${{{name}:"))
                        })?;
                        let word = self.until_brace()?;
                        let val = self.env.get(&name);
                        let set = val.is_some_and(|v| !v.is_empty());
                        match op {
                            '-' => Ok(if set { val.unwrap_or("").to_string() } else { word }),
                            '+' => Ok(if set { word } else { String::new() }),
                            '?' => {
                                if set {
                                    Ok(val.unwrap_or("").to_string())
                                } else {
                                    Err(EngineError::invalid(format!(
                                        "{name}: {}",
                                        if word.is_empty() { "is not allowed to be unset".to_string() } else { word }
                                    )))
                                }
                            }
                            other => Err(EngineError::invalid(format!(
                                "unsupported modifier ({other}) in substitution ${{{name}:{other}...}}: use :- or :+"
                            ))),
                        }
                    }
                    Some(op @ ('-' | '+' | '?')) => {
                        let word = self.until_brace()?;
                        let val = self.env.get(&name);
                        match op {
                            '-' => Ok(val.map(str::to_string).unwrap_or(word)),
                            '+' => Ok(if val.is_some() { word } else { String::new() }),
                            _ => val.map(str::to_string).ok_or_else(|| {
                                EngineError::invalid(format!(
                                    "{name}: {}",
                                    if word.is_empty() {
                                        "is not allowed to be unset".to_string()
                                    } else {
                                        word
                                    }
                                ))
                            }),
                        }
                    }
                    Some(c) => Err(EngineError::invalid(format!(
                        "unsupported modifier ({c}) in substitution ${{{name}{c}...}}"
                    ))),
                    None => Err(EngineError::invalid(format!(
                        "missing '}}' in substitution ${{{name}"
                    ))),
                }
            }
            Some(c) if is_name_start(c) => {
                let mut name = String::new();
                while let Some(c) = self.peek() {
                    if is_name(c) {
                        name.push(c);
                        self.pos += 1;
                    } else {
                        break;
                    }
                }
                Ok(self.env.get(&name).unwrap_or("").to_string())
            }
            // `$` alone, `$1`, `$$`...: literal.
            _ => Ok("$".to_string()),
        }
    }

    /// The word of a `${VAR:-word}` up to its closing brace, itself expanded.
    fn until_brace(&mut self) -> Result<String> {
        let mut raw = String::new();
        let mut depth = 0;
        loop {
            match self.next() {
                None => return Err(EngineError::invalid("missing '}' in a ${...} substitution")),
                Some('}') if depth == 0 => break,
                Some(c) => {
                    if c == '{' {
                        depth += 1;
                    } else if c == '}' {
                        depth -= 1;
                    }
                    if c == self.escape {
                        raw.push(c);
                        if let Some(n) = self.next() {
                            raw.push(n);
                        }
                        continue;
                    }
                    raw.push(c);
                }
            }
        }
        let mut inner = Lexer {
            chars: raw.chars().collect(),
            pos: 0,
            escape: self.escape,
            env: self.env,
        };
        Ok(inner.words(false)?.join(""))
    }
}

/// Expand `word` into one string, quotes removed.
pub fn process_word(word: &str, env: &[String], escape: char) -> Result<String> {
    let e = Env { vars: env };
    let mut l = Lexer {
        chars: word.chars().collect(),
        pos: 0,
        escape,
        env: &e,
    };
    Ok(l.words(false)?.join(""))
}

/// Expand `s` into whitespace-separated words (EXPOSE's `$PORTS`), quotes removed.
pub fn process_words(s: &str, env: &[String], escape: char) -> Result<Vec<String>> {
    let e = Env { vars: env };
    let mut l = Lexer {
        chars: s.chars().collect(),
        pos: 0,
        escape,
        env: &e,
    };
    l.words(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Vec<String> {
        vec![
            "A=a".into(),
            "EMPTY=".into(),
            "SP=x y".into(),
            "A=aa".into(),
        ]
    }

    #[test]
    fn reference_examples() {
        let e = env();
        let w = |s: &str| process_word(s, &e, '\\').unwrap();
        assert_eq!(w("$A"), "aa");
        assert_eq!(w("${A}_b"), "aa_b");
        assert_eq!(w("${NOPE:-default}"), "default");
        assert_eq!(w("${EMPTY:-default}"), "default");
        assert_eq!(w("${EMPTY-default}"), "");
        assert_eq!(w("${A:+set}"), "set");
        assert_eq!(w("${NOPE:+set}"), "");
        assert_eq!(w("${EMPTY+set}"), "set");
        assert_eq!(w(r"\$A"), "$A");
        assert_eq!(w(r"'$A'"), "$A");
        assert_eq!(w(r#""$A b""#), "aa b");
        assert_eq!(w(r#""a\"b""#), "a\"b");
        assert_eq!(w("$"), "$");
        assert_eq!(w("a$1"), "a$1");
        assert_eq!(w("${NOPE:-${A}x}"), "aax");
        assert!(process_word("${NOPE:?must be set}", &e, '\\')
            .unwrap_err()
            .message
            .contains("must be set"));
        assert!(process_word("${A", &e, '\\').is_err());
        assert!(process_word("'open", &e, '\\').is_err());
        // The reference's example: ENV abc=hello, ENV abc=bye def=$abc -> def=hello.
        assert_eq!(
            process_word("$abc", &["abc=hello".into()], '\\').unwrap(),
            "hello"
        );
        // With escape=` a backslash is literal.
        assert_eq!(process_word(r"c:\dir", &e, '`').unwrap(), r"c:\dir");
        assert_eq!(process_word("`$A", &e, '`').unwrap(), "$A");
    }

    #[test]
    fn words_split() {
        let e = vec!["PORTS=80 443/udp".into()];
        assert_eq!(
            process_words("$PORTS 8080", &e, '\\').unwrap(),
            vec!["80", "443/udp", "8080"]
        );
        assert_eq!(
            process_words("\"a b\" c", &e, '\\').unwrap(),
            vec!["a b", "c"]
        );
        assert!(process_words("", &e, '\\').unwrap().is_empty());
    }
}
