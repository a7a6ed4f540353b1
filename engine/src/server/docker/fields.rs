//! The fields of a JSON request body, taken one at a time: whatever a handler did not
//! take and that holds anything but a zero value (`null`, `false`, `0`, `""`, `[]`,
//! objects of those: what Go clients send for unset fields; one rule with container
//! create's) is refused by name, so no field a client sets is ever silently ignored.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::create::is_zero;
use super::{labels_of, unsupported};
use crate::error::EngineError;

/// A JSON object whose fields are taken one by one.
pub struct Fields {
    /// What the object is, for messages (`network create`, `EndpointConfig`).
    what: String,
    map: Map<String, Value>,
}

impl Fields {
    /// The fields of `v` (`null` is an empty object).
    pub fn new(v: Value, what: &str) -> Result<Fields, EngineError> {
        match v {
            Value::Null => Ok(Fields {
                what: what.to_string(),
                map: Map::new(),
            }),
            Value::Object(map) => Ok(Fields {
                what: what.to_string(),
                map,
            }),
            other => Err(EngineError::invalid(format!(
                "{what}: expected a JSON object, not {other}"
            ))),
        }
    }

    /// Field `key` (null when absent), taken.
    pub fn take(&mut self, key: &str) -> Value {
        self.map.remove(key).unwrap_or(Value::Null)
    }

    /// A string field (`""` when absent or null).
    pub fn string(&mut self, key: &str) -> Result<String, EngineError> {
        match self.take(key) {
            Value::Null => Ok(String::new()),
            Value::String(s) => Ok(s),
            other => Err(EngineError::invalid(format!(
                "{}: field {key} must be a string, not {other}",
                self.what
            ))),
        }
    }

    /// A boolean field (`false` when absent or null).
    pub fn boolean(&mut self, key: &str) -> Result<bool, EngineError> {
        self.opt_bool(key).map(|b| b.unwrap_or(false))
    }

    /// A boolean field that may be unset.
    pub fn opt_bool(&mut self, key: &str) -> Result<Option<bool>, EngineError> {
        match self.take(key) {
            Value::Null => Ok(None),
            Value::Bool(b) => Ok(Some(b)),
            other => Err(EngineError::invalid(format!(
                "{}: field {key} must be true or false, not {other}",
                self.what
            ))),
        }
    }

    /// A list of strings (empty when absent or null).
    pub fn strings(&mut self, key: &str) -> Result<Vec<String>, EngineError> {
        match self.take(key) {
            Value::Null => Ok(vec![]),
            Value::Array(a) => a
                .into_iter()
                .map(|x| match x {
                    Value::String(s) => Ok(s),
                    other => Err(EngineError::invalid(format!(
                        "{}: field {key} must be a list of strings, and {other} is not one",
                        self.what
                    ))),
                })
                .collect(),
            other => Err(EngineError::invalid(format!(
                "{}: field {key} must be a list of strings, not {other}",
                self.what
            ))),
        }
    }

    /// An object field as its own [`Fields`] (empty when absent or null).
    pub fn object(&mut self, key: &str) -> Result<Fields, EngineError> {
        let what = format!("{} field {key}", self.what);
        Fields::new(self.take(key), &what)
    }

    /// A `{"k": "v"}` map (labels, options).
    pub fn string_map(&mut self, key: &str) -> Result<BTreeMap<String, String>, EngineError> {
        let what = format!("{} field {key}", self.what);
        labels_of(&self.take(key), &what)
    }

    /// Refuse field `key` by name if it holds anything but its default.
    pub fn refuse(&mut self, key: &str, hint: &str) -> Result<(), EngineError> {
        let v = self.take(key);
        if is_zero(&v) {
            Ok(())
        } else {
            Err(unsupported(
                &format!("{} field {key} (set to {v})", self.what),
                hint,
            ))
        }
    }

    /// Accept field `key` whatever it holds: for fields Docker itself ignores on input
    /// (read-only fields echoed back by clients, deprecated switches that are always on).
    pub fn ignore(&mut self, key: &str) {
        self.map.remove(key);
    }

    /// The end: any field left with a value is refused by name.
    pub fn finish(self) -> Result<(), EngineError> {
        for (k, v) in &self.map {
            if !is_zero(v) {
                return Err(unsupported(
                    &format!("{} field {k} (set to {v})", self.what),
                    "wharf does not know this field; leave it unset",
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
        let mut f = Fields::new(
            json!({"Name": "n", "A": false, "B": 0, "C": "", "D": [], "E": {}, "F": null}),
            "thing",
        )
        .unwrap();
        assert_eq!(f.string("Name").unwrap(), "n");
        f.finish().unwrap();
        let mut f = Fields::new(json!({"Name": "n", "Weird": [1]}), "thing").unwrap();
        f.string("Name").unwrap();
        let e = f.finish().unwrap_err();
        assert!(e.message.contains("thing field Weird"), "{e}");
        let mut f = Fields::new(json!({"Name": 3}), "thing").unwrap();
        assert!(f.string("Name").is_err());
        assert!(Fields::new(json!([1]), "thing").is_err());
        let mut f = Fields::new(json!({"X": true}), "thing").unwrap();
        let e = f.refuse("X", "because").unwrap_err();
        assert!(
            e.message.contains("thing field X (set to true)") && e.message.contains("because"),
            "{e}"
        );
    }
}
