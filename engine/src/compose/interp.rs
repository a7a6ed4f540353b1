//! Variable interpolation in compose files (`${VAR}`, `${VAR:-default}`,
//! `${VAR:?message}`, `${VAR:+other}`, `$$`) and `.env` files, as `docker compose`
//! reads them.

use std::collections::BTreeMap;

use super::yaml::{Node, Value};
use crate::error::{EngineError, Result};

/// Where variables come from: the process environment over the `.env` file.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    pub map: BTreeMap<String, String>,
    /// Variables used but not set (compose warns and uses an empty string).
    pub unset: std::cell::RefCell<Vec<String>>,
}

impl Vars {
    /// `dotenv` under the process environment `env` (the environment wins).
    pub fn new(
        dotenv: BTreeMap<String, String>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Self {
        let mut map = dotenv;
        map.extend(env);
        Vars {
            map,
            unset: Default::default(),
        }
    }

    pub fn get(&self, k: &str) -> Option<&str> {
        self.map.get(k).map(String::as_str)
    }
}

/// Interpolate every scalar value of a parsed file (keys are left as written).
pub fn interpolate(node: &mut Node, path: &str, vars: &Vars) -> Result<()> {
    match &mut node.value {
        Value::Scalar { text, .. } => {
            if text.contains('$') {
                *text = expand(text, vars).map_err(|m| node_error(&node.mark, path, &m))?;
            }
            Ok(())
        }
        Value::Seq(items) => {
            for (i, n) in items.iter_mut().enumerate() {
                interpolate(n, &format!("{path}[{i}]"), vars)?;
            }
            Ok(())
        }
        Value::Map(entries) => {
            for (k, v) in entries.iter_mut() {
                let key = k.as_str().unwrap_or("").to_string();
                // Extension fields (`x-...`) are not interpolated at the top level
                // until used through anchors, as compose does not refuse them either.
                let p = if path.is_empty() {
                    key
                } else {
                    format!("{path}.{key}")
                };
                interpolate(v, &p, vars)?;
            }
            Ok(())
        }
        Value::Null => Ok(()),
    }
}

fn node_error(mark: &super::yaml::Mark, path: &str, msg: &str) -> EngineError {
    EngineError::invalid(format!("{mark}: {path}: {msg}"))
}

/// Expand one string.
pub fn expand(s: &str, vars: &Vars) -> std::result::Result<String, String> {
    let mut out = String::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'$' {
            let ch = s[i..].chars().next().unwrap_or('\0');
            out.push(ch);
            i += ch.len_utf8();
            continue;
        }
        match b.get(i + 1) {
            Some(b'$') => {
                out.push('$');
                i += 2;
            }
            Some(b'{') => {
                // Find the matching brace (defaults may nest ${...}).
                let mut depth = 0;
                let mut j = i + 1;
                let mut end = None;
                while j < b.len() {
                    match b[j] {
                        b'{' => depth += 1,
                        b'}' => {
                            depth -= 1;
                            if depth == 0 {
                                end = Some(j);
                                break;
                            }
                        }
                        _ => {}
                    }
                    j += 1;
                }
                let Some(end) = end else {
                    return Err(format!(
                        "invalid interpolation format in {s:?}: a ${{ is not closed"
                    ));
                };
                out.push_str(&braced(&s[i + 2..end], s, vars)?);
                i = end + 1;
            }
            Some(c) if c.is_ascii_alphabetic() || *c == b'_' => {
                let mut j = i + 1;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                    j += 1;
                }
                out.push_str(&lookup(&s[i + 1..j], vars));
                i = j;
            }
            _ => {
                return Err(format!(
                    "invalid interpolation format in {s:?}: write $$ for a literal $"
                ))
            }
        }
    }
    Ok(out)
}

fn lookup(name: &str, vars: &Vars) -> String {
    match vars.get(name) {
        Some(v) => v.to_string(),
        None => {
            let mut u = vars.unset.borrow_mut();
            if !u.iter().any(|x| x == name) {
                u.push(name.to_string());
            }
            String::new()
        }
    }
}

fn braced(inner: &str, whole: &str, vars: &Vars) -> std::result::Result<String, String> {
    let name_end = inner
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(inner.len());
    let name = &inner[..name_end];
    if name.is_empty() || name.as_bytes()[0].is_ascii_digit() {
        return Err(format!(
            "invalid interpolation format in {whole:?}: ${{{inner}}} names no variable"
        ));
    }
    let rest = &inner[name_end..];
    let val = vars.get(name);
    let (op, arg) = if let Some(a) = rest.strip_prefix(":-") {
        (":-", a)
    } else if let Some(a) = rest.strip_prefix(":?") {
        (":?", a)
    } else if let Some(a) = rest.strip_prefix(":+") {
        (":+", a)
    } else if let Some(a) = rest.strip_prefix('-') {
        ("-", a)
    } else if let Some(a) = rest.strip_prefix('?') {
        ("?", a)
    } else if let Some(a) = rest.strip_prefix('+') {
        ("+", a)
    } else if rest.is_empty() {
        ("", "")
    } else {
        return Err(format!(
            "invalid interpolation format in {whole:?}: ${{{inner}}}: use ${{VAR}}, ${{VAR:-default}}, ${{VAR:?error}} or ${{VAR:+other}}"
        ));
    };
    let empty = val.is_none_or(str::is_empty);
    Ok(match op {
        "" => lookup(name, vars),
        ":-" if empty => expand(arg, vars)?,
        "-" if val.is_none() => expand(arg, vars)?,
        ":?" if empty => return Err(required(name, arg)),
        "?" if val.is_none() => return Err(required(name, arg)),
        ":+" => {
            if empty {
                String::new()
            } else {
                expand(arg, vars)?
            }
        }
        "+" => {
            if val.is_none() {
                String::new()
            } else {
                expand(arg, vars)?
            }
        }
        _ => val.unwrap_or("").to_string(),
    })
}

fn required(name: &str, msg: &str) -> String {
    if msg.is_empty() {
        format!("required variable {name} is missing a value: set it in the environment or in .env")
    } else {
        format!("required variable {name} is missing a value: {msg}")
    }
}

/// Read a `.env` file: `KEY=VALUE` lines, `export` allowed, `#` comments, values in
/// single quotes (literal) or double quotes (`\n` escapes), `${VAR}` of earlier lines
/// and the environment expanded in unquoted and double-quoted values.
pub fn dotenv(
    file: &str,
    text: &str,
    env: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line).trim_start();
        let Some((k, v)) = line.split_once('=') else {
            // A bare name: its value from the environment, if any.
            if let Some(v) = env.get(line) {
                out.insert(line.to_string(), v.clone());
            }
            continue;
        };
        let k = k.trim();
        if k.is_empty()
            || !k
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        {
            return Err(EngineError::invalid(format!(
                "{file}:{}: {k:?} is not a variable name: write NAME=VALUE",
                n + 1
            )));
        }
        let v = v.trim_start();
        let mut scope = env.clone();
        scope.extend(out.clone());
        let vars = Vars {
            map: scope,
            unset: Default::default(),
        };
        let value = if let Some(q) = v.strip_prefix('\'') {
            match q.find('\'') {
                Some(e) => q[..e].to_string(),
                None => return Err(unclosed(file, n)),
            }
        } else if let Some(q) = v.strip_prefix('"') {
            let mut s = String::new();
            let mut chars = q.chars();
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '"' => {
                        closed = true;
                        break;
                    }
                    '\\' => match chars.next() {
                        Some('n') => s.push('\n'),
                        Some('t') => s.push('\t'),
                        Some(o) => s.push(o),
                        None => {}
                    },
                    o => s.push(o),
                }
            }
            if !closed {
                return Err(unclosed(file, n));
            }
            expand(&s, &vars).map_err(|m| EngineError::invalid(format!("{file}:{}: {m}", n + 1)))?
        } else {
            let v = match v.find(" #") {
                Some(i) => &v[..i],
                None => v,
            };
            expand(v.trim_end(), &vars)
                .map_err(|m| EngineError::invalid(format!("{file}:{}: {m}", n + 1)))?
        };
        out.insert(k.to_string(), value);
    }
    Ok(out)
}

fn unclosed(file: &str, n: usize) -> EngineError {
    EngineError::invalid(format!("{file}:{}: a quoted value is not closed", n + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vars {
        Vars::new(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            [],
        )
    }

    #[test]
    fn the_compose_forms() {
        let v = vars(&[("A", "a"), ("E", "")]);
        assert_eq!(expand("$A-${A}", &v).unwrap(), "a-a");
        assert_eq!(expand("${E:-d}|${E-d}|${U-d}", &v).unwrap(), "d||d");
        assert_eq!(expand("${A:+x}|${E:+x}|${E+x}", &v).unwrap(), "x||x");
        assert_eq!(expand("$$A ${U:-${A}}", &v).unwrap(), "$A a");
        assert_eq!(expand("${U}", &v).unwrap(), "");
        assert_eq!(v.unset.borrow().as_slice(), ["U"]);
        let e = expand("${DB_PASSWORD:?set a password}", &v).unwrap_err();
        assert!(
            e.contains("DB_PASSWORD") && e.contains("set a password"),
            "{e}"
        );
        assert!(expand("${E?}", &v).is_ok());
        assert!(expand("${E:?}", &v).is_err());
        assert!(expand("${A", &v).is_err());
        assert!(expand("$ x", &v).is_err());
    }

    #[test]
    fn dotenv_lines() {
        let env: BTreeMap<String, String> = [("HOME".to_string(), "/root".to_string())].into();
        let m = dotenv(
            ".env",
            "# c\nexport A=1\nB='$A lit'\nC=\"x\\ny ${A}\"\nD=v # comment\nE=${HOME}/d\n\n",
            &env,
        )
        .unwrap();
        assert_eq!(m["A"], "1");
        assert_eq!(m["B"], "$A lit");
        assert_eq!(m["C"], "x\ny 1");
        assert_eq!(m["D"], "v");
        assert_eq!(m["E"], "/root/d");
        assert!(dotenv(".env", "A='x\n", &env)
            .unwrap_err()
            .message
            .contains(".env:1"));
    }
}
