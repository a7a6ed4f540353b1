//! The fields of a JSON object of a request, taken one at a time: whatever a handler did
//! not take and that holds anything but a zero value (`null`, `false`, `0`, `""`, `[]`,
//! objects of those: what Go clients send for unset fields) is refused by name, so no
//! field a client sets is ever silently ignored. Container create and update, networks,
//! volumes, commit configs and `X-Registry-Auth` all read their JSON with [`Fields`].
//!
//! Messages name the field by its path: `HostConfig.LogConfig.Type` within a container
//! create body, `network create: IPAM.Options` within another request's.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::labels_of;
use crate::error::EngineError;

/// A value for an error message: compact JSON, cut to 60 characters.
pub fn shown(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        let cut: String = s.chars().take(60).collect();
        format!("{cut}…")
    } else {
        s
    }
}

/// Refuse `path` with value `v`: `HostConfig.PidMode "host" is not supported by wharf: hint`.
pub fn refuse(path: &str, v: &Value, hint: &str) -> EngineError {
    EngineError::invalid(format!(
        "{path} {} is not supported by wharf: {hint}",
        shown(v)
    ))
}

/// `path` holds `v` where `want` belongs: `HostConfig.Memory must be an integer, not "1g"`.
pub fn bad_type(path: &str, want: &str, v: &Value) -> EngineError {
    EngineError::invalid(format!("{path} must be {want}, not {}", shown(v)))
}

/// Docker's zero values: null, false, 0, "", [], and objects of zero values.
pub fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.values().all(is_zero),
    }
}

/// The fields of one JSON object of a request, taken one by one; [`Fields::finish`]
/// refuses what nobody took unless it is a zero value.
pub struct Fields<'a> {
    /// Where the object is, for messages: a path (`HostConfig.LogConfig`), "" for a
    /// container create body, or what the request is (`network create`, [`Fields::of`]).
    path: String,
    /// Between the path and a field's name: `.`, or `: ` after what a request is.
    sep: &'static str,
    map: Option<&'a Map<String, Value>>,
    taken: BTreeSet<&'a str>,
}

static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();

impl<'a> Fields<'a> {
    /// The object `v` (null = empty) known as `path` in messages.
    pub fn new(path: &str, v: Option<&'a Value>) -> Result<Fields<'a>, EngineError> {
        let map = match v {
            None | Some(Value::Null) => None,
            Some(Value::Object(m)) => Some(m),
            Some(other) => {
                let what = if path.is_empty() {
                    "the request body"
                } else {
                    path
                };
                return Err(bad_type(what, "an object", other));
            }
        };
        Ok(Fields {
            path: path.to_string(),
            sep: ".",
            map,
            taken: BTreeSet::new(),
        })
    }

    /// The JSON of request `what` (`network create`, `X-Registry-Auth`), null = empty:
    /// its fields are `what: Name` in messages.
    pub fn of(what: &str, v: &'a Value) -> Result<Fields<'a>, EngineError> {
        if !v.is_null() && !v.is_object() {
            return Err(EngineError::invalid(format!(
                "{what}: expected a JSON object, not {}",
                shown(v)
            )));
        }
        Ok(Fields {
            sep: ": ",
            ..Fields::new(what, Some(v))?
        })
    }

    /// `Path.key`, for messages.
    pub fn at(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}{}{key}", self.path, self.sep)
        }
    }

    /// Take `key`; `None` when absent or null.
    pub fn get(&mut self, key: &'static str) -> Option<&'a Value> {
        let map = self.map.unwrap_or_else(|| EMPTY.get_or_init(Map::new));
        let (k, v) = map.get_key_value(key)?;
        self.taken.insert(k.as_str());
        (!v.is_null()).then_some(v)
    }

    /// An object field as its own [`Fields`] (empty when absent or null).
    pub fn object(&mut self, key: &'static str) -> Result<Fields<'a>, EngineError> {
        let v = self.get(key);
        Fields::new(&self.at(key), v)
    }

    /// A string field; absent, null and `""` are `None`.
    pub fn string(&mut self, key: &'static str) -> Result<Option<String>, EngineError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(bad_type(&self.at(key), "a string", other)),
        }
    }

    /// A boolean field; absent and null are `false`.
    pub fn bool(&mut self, key: &'static str) -> Result<bool, EngineError> {
        self.opt_bool(key).map(|b| b.unwrap_or(false))
    }

    /// A boolean field that may be unset (absent or null).
    pub fn opt_bool(&mut self, key: &'static str) -> Result<Option<bool>, EngineError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(bad_type(&self.at(key), "true or false", other)),
        }
    }

    /// An integer field; absent and null are `None`.
    pub fn int(&mut self, key: &'static str) -> Result<Option<i64>, EngineError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_i64()
                .or_else(|| {
                    v.as_f64()
                        .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                        .map(|f| f as i64)
                })
                .map(Some)
                .ok_or_else(|| bad_type(&self.at(key), "an integer", v)),
        }
    }

    /// A list of strings (a lone string is a list of one, as dockerd reads `Cmd`);
    /// absent and null are `None`.
    pub fn strings(&mut self, key: &'static str) -> Result<Option<Vec<String>>, EngineError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(vec![s.clone()])),
            Some(_) => self.string_list(key).map(Some),
        }
    }

    /// A list of strings and nothing else (a lone string is refused); absent and null
    /// are empty.
    pub fn string_list(&mut self, key: &'static str) -> Result<Vec<String>, EngineError> {
        let path = self.at(key);
        match self.get(key) {
            None => Ok(vec![]),
            Some(Value::Array(a)) => a
                .iter()
                .map(|x| match x {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(bad_type(&path, "a list of strings", other)),
                })
                .collect(),
            Some(other) => Err(bad_type(&path, "a list of strings", other)),
        }
    }

    /// An object of strings; absent and null are empty.
    pub fn string_map(
        &mut self,
        key: &'static str,
    ) -> Result<BTreeMap<String, String>, EngineError> {
        let path = self.at(key);
        match self.get(key) {
            None => Ok(BTreeMap::new()),
            Some(v) => labels_of(v, &path),
        }
    }

    /// Accept `key` only with a zero value; refuse anything else with `hint`.
    pub fn zero(&mut self, key: &'static str, hint: &str) -> Result<(), EngineError> {
        match self.get(key) {
            Some(v) if !is_zero(v) => Err(refuse(&self.at(key), v, hint)),
            _ => Ok(()),
        }
    }

    /// Accept `key` as a string that is empty or one of `ok`; refuse others with `hint`.
    pub fn one_of(
        &mut self,
        key: &'static str,
        ok: &[&str],
        hint: &str,
    ) -> Result<Option<String>, EngineError> {
        let path = self.at(key);
        let v = self.get(key);
        match self.string(key)? {
            None => Ok(None),
            Some(s) if ok.contains(&s.as_str()) => Ok(Some(s)),
            Some(_) => Err(refuse(&path, v.unwrap_or(&Value::Null), hint)),
        }
    }

    /// Take `key` whatever it holds: for fields Docker itself ignores on input
    /// (read-only fields echoed back by clients, deprecated switches); the caller says
    /// why in a comment.
    pub fn accept(&mut self, key: &'static str) {
        let _ = self.get(key);
    }

    /// Refuse every field nobody took that holds anything but a zero value.
    pub fn finish(self) -> Result<(), EngineError> {
        let Some(map) = self.map else {
            return Ok(());
        };
        for (k, v) in map {
            if !self.taken.contains(k.as_str()) && !is_zero(v) {
                return Err(refuse(
                    &self.at(k),
                    v,
                    "wharf does not know this field; leave it out",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn leftovers_are_refused_by_name_unless_default() {
        let body = json!({"Name": "n", "A": false, "B": 0, "C": "", "D": [], "E": {}, "F": null});
        let mut f = Fields::of("thing", &body).unwrap();
        assert_eq!(f.string("Name").unwrap().as_deref(), Some("n"));
        f.finish().unwrap();
        let body = json!({"Name": "n", "Weird": [1]});
        let mut f = Fields::of("thing", &body).unwrap();
        f.string("Name").unwrap();
        let e = f.finish().unwrap_err();
        assert!(e.message.contains("thing: Weird [1]"), "{e}");
        let body = json!({"Name": 3});
        let mut f = Fields::of("thing", &body).unwrap();
        let e = f.string("Name").unwrap_err();
        assert!(e.message.contains("thing: Name must be a string"), "{e}");
        assert!(Fields::of("thing", &json!([1])).is_err());
        let e = Fields::new("", Some(&json!([1]))).err().unwrap();
        assert!(
            e.message.contains("the request body must be an object"),
            "{e}"
        );
        let body = json!({"X": true, "Sub": {"Y": 1}});
        let mut f = Fields::of("thing", &body).unwrap();
        let e = f.zero("X", "because").unwrap_err();
        assert!(
            e.message.contains("thing: X true") && e.message.contains("because"),
            "{e}"
        );
        let sub = f.object("Sub").unwrap();
        let e = sub.finish().unwrap_err();
        assert!(e.message.contains("thing: Sub.Y 1"), "{e}");
        let body = json!({"HostConfig": {"Binds": "a:b", "Dns": 5}});
        let mut f = Fields::new("", Some(&body)).unwrap();
        let mut host = f.object("HostConfig").unwrap();
        f.finish().unwrap();
        // A lone string is a list of one for `strings`, refused by `string_list`.
        assert_eq!(
            host.strings("Binds").unwrap(),
            Some(vec!["a:b".to_string()])
        );
        assert!(host.string_list("Binds").is_err());
        let e = host.strings("Dns").unwrap_err();
        assert!(
            e.message
                .contains("HostConfig.Dns must be a list of strings"),
            "{e}"
        );
        assert_eq!(host.strings("Absent").unwrap(), None);
    }
}
