//! The `/` filter: a substring (case-insensitive), `/regex/`, `label=value`
//! (`label=key` alone matches any value), or `network=NAME` (containers on a network).

use std::collections::BTreeMap;

/// A parsed filter.
#[derive(Debug, Clone, Default)]
pub enum Filter {
    #[default]
    None,
    Text(String),
    Regex(regex::Regex),
    Label(String, Option<String>),
    /// Rows on this network (only containers are on networks).
    Network(String),
}

impl Filter {
    /// Parse what was typed after `/`.
    pub fn parse(s: &str) -> Result<Filter, String> {
        let s = s.trim();
        if s.is_empty() {
            return Ok(Filter::None);
        }
        if s.len() >= 2 && s.starts_with('/') && s.ends_with('/') {
            return regex::RegexBuilder::new(&s[1..s.len() - 1])
                .case_insensitive(true)
                .size_limit(1 << 20)
                .build()
                .map(Filter::Regex)
                .map_err(|e| format!("bad regex: {}", e.to_string().lines().last().unwrap_or("")));
        }
        if let Some(rest) = s.strip_prefix("label=") {
            return Ok(match rest.split_once('=') {
                Some((k, v)) => Filter::Label(k.into(), Some(v.into())),
                None => Filter::Label(rest.into(), None),
            });
        }
        if let Some(net) = s.strip_prefix("network=").filter(|n| !n.is_empty()) {
            return Ok(Filter::Network(net.into()));
        }
        Ok(Filter::Text(s.to_lowercase()))
    }

    /// Does an object with these searchable texts and labels pass?
    pub fn matches(&self, texts: &[&str], labels: &BTreeMap<String, String>) -> bool {
        self.matches_on(texts, labels, &[])
    }

    /// The same for an object on `networks`.
    pub fn matches_on(
        &self,
        texts: &[&str],
        labels: &BTreeMap<String, String>,
        networks: &[String],
    ) -> bool {
        match self {
            Filter::None => true,
            Filter::Text(t) => texts.iter().any(|x| x.to_lowercase().contains(t)),
            Filter::Regex(r) => texts.iter().any(|x| r.is_match(x)),
            Filter::Label(k, v) => labels
                .get(k)
                .is_some_and(|have| v.as_ref().is_none_or(|v| v == have)),
            Filter::Network(n) => networks.iter().any(|x| x == n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_kinds() {
        let mut l = BTreeMap::new();
        l.insert("team".to_string(), "lab".to_string());
        assert!(Filter::parse("WEB").unwrap().matches(&["web-1"], &l));
        assert!(!Filter::parse("db").unwrap().matches(&["web-1"], &l));
        assert!(Filter::parse("/^w.b-\\d$/")
            .unwrap()
            .matches(&["web-1"], &l));
        assert!(Filter::parse("label=team=lab").unwrap().matches(&["x"], &l));
        assert!(Filter::parse("label=team").unwrap().matches(&["x"], &l));
        assert!(!Filter::parse("label=team=ops").unwrap().matches(&["x"], &l));
        assert!(Filter::parse("/(/").unwrap_err().starts_with("bad regex"));
        let lan = Filter::parse("network=lan").unwrap();
        assert!(lan.matches_on(&["x"], &l, &["bridge".into(), "lan".into()]));
        assert!(!lan.matches_on(&["lan"], &l, &["bridge".into()]));
        assert!(!lan.matches(&["lan"], &l));
    }
}
