//! `-u user[:group]` resolved against the container's /etc/passwd and /etc/group.

use std::path::Path;

use crate::error::{EngineError, Result};

/// Who the container's process runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecUser {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups (from /etc/group, for named users).
    pub groups: Vec<u32>,
    pub home: String,
}

fn passwd_lines(root: &Path, file: &str) -> Vec<Vec<String>> {
    std::fs::read_to_string(root.join(file))
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split(':').map(str::to_string).collect())
        .collect()
}

/// Resolve `spec` (`""`, `name`, `uid`, `name:group`, `uid:gid`) with the files under `root`.
pub fn resolve(root: &Path, spec: &str) -> Result<ExecUser> {
    let (u, g) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let u = if u.is_empty() { "0" } else { u };
    let passwd = passwd_lines(root, "etc/passwd");
    let entry = passwd
        .iter()
        .find(|f| f.len() >= 6 && (f[0] == u || (u.parse::<u32>().is_ok() && f[2] == u)));
    let (uid, mut gid, name, home) = match (entry, u.parse::<u32>()) {
        (Some(f), _) => (
            f[2].parse().unwrap_or(0),
            f[3].parse().unwrap_or(0),
            Some(f[0].clone()),
            f.get(5).cloned().unwrap_or_else(|| "/".into()),
        ),
        (None, Ok(n)) => (n, 0, None, "/".to_string()),
        (None, Err(_)) => {
            return Err(EngineError::invalid(format!(
                "unable to find user {u}: no matching entries in the image's /etc/passwd; use a numeric uid"
            )))
        }
    };
    let groups = passwd_lines(root, "etc/group");
    if let Some(g) = g {
        gid = match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => groups
                .iter()
                .find(|f| f.len() >= 3 && f[0] == g)
                .and_then(|f| f[2].parse().ok())
                .ok_or_else(|| {
                    EngineError::invalid(format!(
                        "unable to find group {g}: no matching entries in the image's /etc/group; use a numeric gid"
                    ))
                })?,
        };
    }
    let mut extra = Vec::new();
    if let (Some(name), None) = (&name, g) {
        for f in &groups {
            if f.len() >= 4 && f[3].split(',').any(|m| m == name) {
                if let Ok(n) = f[2].parse::<u32>() {
                    if n != gid && !extra.contains(&n) {
                        extra.push(n);
                    }
                }
            }
        }
    }
    Ok(ExecUser {
        uid,
        gid,
        groups: extra,
        home,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("etc")).unwrap();
        std::fs::write(
            t.path().join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n",
        )
        .unwrap();
        std::fs::write(
            t.path().join("etc/group"),
            "root:x:0:\nnogroup:x:65534:\nwheel:x:10:nobody\n",
        )
        .unwrap();
        assert_eq!(
            resolve(t.path(), "").unwrap(),
            ExecUser {
                uid: 0,
                gid: 0,
                groups: vec![],
                home: "/root".into()
            }
        );
        let n = resolve(t.path(), "nobody").unwrap();
        assert_eq!((n.uid, n.gid, n.groups.clone()), (65534, 65534, vec![10]));
        assert_eq!(resolve(t.path(), "1000:wheel").unwrap().gid, 10);
        assert_eq!(resolve(t.path(), "1000:1000").unwrap().uid, 1000);
        assert!(resolve(t.path(), "alice").is_err());
    }
}
