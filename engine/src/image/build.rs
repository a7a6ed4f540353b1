//! Images made here rather than loaded: `wharf import` (a root filesystem tar becomes a
//! one-layer image, with Dockerfile-style `--change`s) and the offline demo image built
//! from the host's busybox-static.

use std::io::Read;
use std::path::Path;

use serde_json::{json, Map, Value};

use crate::error::{EngineError, IoContext, Result};

/// The OCI architecture name of this host (`amd64`, `arm64`, ...).
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "arm" => "arm",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        other => other,
    }
}

/// Split a shell-form argument into words, honouring single and double quotes and `\`.
fn shell_words(s: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, '"') | (None, '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (Some(q), c) if c == q => quote = None,
            (Some('\''), c) => cur.push(c),
            (_, '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
                in_word = true;
            }
            (_, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err(EngineError::invalid(format!("unterminated quote in {s:?}")));
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

/// `["a","b"]` (exec form) or `a b` (shell form, run with `/bin/sh -c` when `shell`).
fn exec_or_shell(arg: &str, shell: bool) -> Result<Value> {
    let t = arg.trim();
    if t.starts_with('[') {
        if let Ok(v) = serde_json::from_str::<Vec<String>>(t) {
            return Ok(json!(v));
        }
    }
    if shell {
        Ok(json!(["/bin/sh", "-c", t]))
    } else {
        Ok(json!(shell_words(t)?))
    }
}

/// Apply one Dockerfile-style change (`CMD ["sh"]`, `ENV A=b`, `EXPOSE 80/udp`, `LABEL k=v`,
/// `USER app`, `WORKDIR /x`, `VOLUME /data`, `ENTRYPOINT ...`, `STOPSIGNAL SIGTERM`,
/// `ONBUILD ...`) to an image's `config` object.
pub fn apply_change(cfg: &mut Map<String, Value>, change: &str) -> Result<()> {
    let change = change.trim();
    let (word, arg) = change
        .split_once(char::is_whitespace)
        .unwrap_or((change, ""));
    let arg = arg.trim();
    let need = |what: &str| {
        if arg.is_empty() {
            Err(EngineError::invalid(format!(
                "--change {change:?}: {what} needs an argument"
            )))
        } else {
            Ok(())
        }
    };
    match word.to_ascii_uppercase().as_str() {
        "CMD" => {
            need("CMD")?;
            cfg.insert("Cmd".into(), exec_or_shell(arg, true)?);
        }
        "ENTRYPOINT" => {
            need("ENTRYPOINT")?;
            cfg.insert("Entrypoint".into(), exec_or_shell(arg, true)?);
        }
        "ENV" => {
            need("ENV")?;
            let mut pairs = Vec::new();
            let words = shell_words(arg)?;
            if words.iter().all(|w| w.contains('=')) {
                for w in words {
                    pairs.push(w);
                }
            } else {
                // Legacy `ENV KEY value with spaces`.
                let (k, v) = arg.split_once(char::is_whitespace).unwrap_or((arg, ""));
                pairs.push(format!("{k}={}", v.trim()));
            }
            let env = cfg.entry("Env").or_insert_with(|| json!([]));
            if !env.is_array() {
                *env = json!([]);
            }
            let list = env.as_array_mut().ok_or_else(|| EngineError::internal("Env is not a list"))?;
            for p in pairs {
                let key = p.split('=').next().unwrap_or_default().to_string();
                list.retain(|e| e.as_str().and_then(|s| s.split('=').next()) != Some(key.as_str()));
                list.push(json!(p));
            }
        }
        "EXPOSE" => {
            need("EXPOSE")?;
            let ports = cfg.entry("ExposedPorts").or_insert_with(|| json!({}));
            for p in arg.split_whitespace() {
                let (num, proto) = p.split_once('/').unwrap_or((p, "tcp"));
                let ok_num = num.split_once('-').map_or_else(|| num.parse::<u16>().is_ok(), |(a, b)| a.parse::<u16>().is_ok() && b.parse::<u16>().is_ok());
                if !ok_num || !matches!(proto, "tcp" | "udp" | "sctp") {
                    return Err(EngineError::invalid(format!("--change {change:?}: {p:?} is not a port such as 80, 80/tcp or 53/udp")));
                }
                if let Some(o) = ports.as_object_mut() {
                    o.insert(format!("{num}/{proto}"), json!({}));
                }
            }
        }
        "LABEL" => {
            need("LABEL")?;
            let labels = cfg.entry("Labels").or_insert_with(|| json!({}));
            for w in shell_words(arg)? {
                let (k, v) = w
                    .split_once('=')
                    .ok_or_else(|| EngineError::invalid(format!("--change {change:?}: labels are written key=value")))?;
                if let Some(o) = labels.as_object_mut() {
                    o.insert(k.to_string(), json!(v));
                }
            }
        }
        "USER" => {
            need("USER")?;
            cfg.insert("User".into(), json!(arg));
        }
        "WORKDIR" => {
            need("WORKDIR")?;
            cfg.insert("WorkingDir".into(), json!(arg));
        }
        "STOPSIGNAL" => {
            need("STOPSIGNAL")?;
            cfg.insert("StopSignal".into(), json!(arg));
        }
        "VOLUME" => {
            need("VOLUME")?;
            let vols = cfg.entry("Volumes").or_insert_with(|| json!({}));
            let list: Vec<String> = match serde_json::from_str::<Vec<String>>(arg) {
                Ok(v) => v,
                Err(_) => arg.split_whitespace().map(str::to_string).collect(),
            };
            for v in list {
                if let Some(o) = vols.as_object_mut() {
                    o.insert(v, json!({}));
                }
            }
        }
        "ONBUILD" => {
            need("ONBUILD")?;
            let ob = cfg.entry("OnBuild").or_insert_with(|| json!([]));
            if let Some(a) = ob.as_array_mut() {
                a.push(json!(arg));
            }
        }
        other => {
            return Err(EngineError::invalid(format!(
                "--change {change:?}: {other:?} cannot be changed; use CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME or WORKDIR"
            )))
        }
    }
    Ok(())
}

/// The config of a one-layer image made by `import`: `diff_id` is its layer.
pub fn import_config(
    diff_id: &str,
    changes: &[String],
    comment: &str,
    created: &str,
) -> Result<Vec<u8>> {
    let mut cfg = Map::new();
    for c in changes {
        apply_change(&mut cfg, c)?;
    }
    let config = json!({
        "architecture": host_arch(),
        "os": "linux",
        "created": created,
        "config": Value::Object(cfg),
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": created, "comment": comment}],
    });
    serde_json::to_vec(&config)
        .map_err(|e| EngineError::internal(format!("serializing the image config: {e}")))
}

/// Is the ELF file `data` statically linked (no program interpreter)?
pub fn elf_is_static(data: &[u8]) -> Result<bool> {
    if data.len() < 64 || &data[..4] != b"\x7fELF" {
        return Err(EngineError::invalid("it is not an ELF executable"));
    }
    let le = data[5] == 1;
    let rd = |off: usize, n: usize| -> Option<u64> {
        let b = data.get(off..off + n)?;
        let mut v: u64 = 0;
        for i in 0..n {
            let byte = if le { b[n - 1 - i] } else { b[i] };
            v = (v << 8) | byte as u64;
        }
        Some(v)
    };
    let (phoff, phentsize, phnum) = if data[4] == 2 {
        (rd(0x20, 8), rd(0x36, 2), rd(0x38, 2))
    } else {
        (rd(0x1c, 4), rd(0x2a, 2), rd(0x2c, 2))
    };
    let (Some(phoff), Some(phentsize), Some(phnum)) = (phoff, phentsize, phnum) else {
        return Err(EngineError::invalid("its ELF header is truncated"));
    };
    for i in 0..phnum {
        let off = (phoff + i * phentsize) as usize;
        match rd(off, 4) {
            Some(3) => return Ok(false), // PT_INTERP
            Some(_) => {}
            None => {
                return Err(EngineError::invalid(
                    "its ELF program headers are truncated",
                ))
            }
        }
    }
    Ok(true)
}

/// The demo image's `/www/index.html`.
pub const DEMO_INDEX_HTML: &str =
    "<!doctype html>\n<title>wharf demo</title>\n<h1>Hello from the wharf demo image</h1>\n";

/// Build the demo root filesystem as a tar from the busybox binary at `busybox`:
/// busybox and its applet links, /etc/passwd and /etc/group (root, nobody, app uid 1000),
/// /tmp (1777), /root, /home/app, /www/index.html. Entries are dated `mtime`, so the same
/// busybox always gives the same image.
pub fn demo_rootfs(busybox: &Path, mtime: u64) -> Result<Vec<u8>> {
    let missing = || {
        EngineError::not_found(
            "file",
            &busybox.display().to_string(),
            "the demo image is built from the host's static busybox: install it with apt-get install busybox-static",
        )
    };
    let bin = std::fs::read(busybox).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            missing()
        } else {
            EngineError::io(format!("reading {}", busybox.display()), e)
        }
    })?;
    match elf_is_static(&bin) {
        Ok(true) => {}
        Ok(false) => {
            return Err(EngineError::invalid(format!(
                "{} is dynamically linked, so it would not run inside the demo image: install the static one with apt-get install busybox-static",
                busybox.display()
            )))
        }
        Err(e) => {
            return Err(EngineError::invalid(format!(
                "{} cannot be used for the demo image ({}): install apt-get install busybox-static",
                busybox.display(),
                e.message
            )))
        }
    }
    // Ask busybox where its applets live (`bin/sh`, `usr/bin/awk`, ...).
    let out = std::process::Command::new(busybox)
        .arg("--list-full")
        .output()
        .ctx(|| format!("running {} --list-full", busybox.display()))?;
    if !out.status.success() {
        return Err(EngineError::invalid(format!(
            "{} --list-full failed: install a complete busybox with apt-get install busybox-static",
            busybox.display()
        )));
    }
    let mut applets: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().trim_start_matches('/').to_string())
        .filter(|l| !l.is_empty() && !l.contains("..") && l != "bin/busybox")
        .collect();
    applets.sort();
    applets.dedup();

    let mut b = tar::Builder::new(Vec::new());
    let dir = |b: &mut tar::Builder<Vec<u8>>, path: &str, mode: u32| -> Result<()> {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(mtime);
        h.set_size(0);
        b.append_data(&mut h, path, std::io::empty())
            .ctx(|| format!("building the demo rootfs ({path})"))
    };
    let file = |b: &mut tar::Builder<Vec<u8>>, path: &str, mode: u32, data: &[u8]| -> Result<()> {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(mtime);
        h.set_size(data.len() as u64);
        b.append_data(&mut h, path, data)
            .ctx(|| format!("building the demo rootfs ({path})"))
    };
    let mut dirs: Vec<String> = vec![
        "bin", "dev", "etc", "home", "proc", "sys", "usr", "usr/bin", "usr/sbin", "sbin", "var",
        "www",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    for a in &applets {
        let mut p = Path::new(a).parent();
        while let Some(d) = p {
            let s = d.to_string_lossy().to_string();
            if !s.is_empty() && !dirs.contains(&s) {
                dirs.push(s);
            }
            p = d.parent();
        }
    }
    dirs.sort();
    for d in &dirs {
        dir(&mut b, d, 0o755)?;
    }
    dir(&mut b, "tmp", 0o1777)?;
    dir(&mut b, "root", 0o700)?;
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_mode(0o755);
    h.set_uid(1000);
    h.set_gid(1000);
    h.set_mtime(mtime);
    h.set_size(0);
    b.append_data(&mut h, "home/app", std::io::empty())
        .ctx(|| "building the demo rootfs".into())?;
    file(&mut b, "bin/busybox", 0o755, &bin)?;
    for a in &applets {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_mode(0o777);
        h.set_mtime(mtime);
        h.set_size(0);
        b.append_link(&mut h, a, "/bin/busybox")
            .ctx(|| format!("building the demo rootfs ({a})"))?;
    }
    file(
        &mut b,
        "etc/passwd",
        0o644,
        b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\napp:x:1000:1000:app:/home/app:/bin/sh\n",
    )?;
    file(
        &mut b,
        "etc/group",
        0o644,
        b"root:x:0:\nnogroup:x:65534:\nnobody:x:65534:\napp:x:1000:\n",
    )?;
    file(&mut b, "etc/hostname", 0o644, b"wharf-demo\n")?;
    file(&mut b, "www/index.html", 0o644, DEMO_INDEX_HTML.as_bytes())?;
    b.into_inner().ctx(|| "building the demo rootfs".into())
}

/// Read `r` fully into a `Vec`, at most `max` bytes.
pub fn read_limited(r: &mut dyn Read, max: u64, what: &str) -> Result<Vec<u8>> {
    let mut v = Vec::new();
    r.take(max + 1)
        .read_to_end(&mut v)
        .ctx(|| format!("reading {what}"))?;
    if v.len() as u64 > max {
        return Err(EngineError::corrupt(format!(
            "{what} is larger than the {max} bytes allowed"
        )));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_like_docker_import() {
        let mut c = Map::new();
        apply_change(&mut c, r#"CMD ["sh", "-c", "echo hi"]"#).unwrap();
        apply_change(&mut c, "ENTRYPOINT echo hello").unwrap();
        apply_change(&mut c, "ENV A=1 B=\"two words\"").unwrap();
        apply_change(&mut c, "ENV A=3").unwrap();
        apply_change(&mut c, "ENV LEGACY some value").unwrap();
        apply_change(&mut c, "EXPOSE 80 53/udp").unwrap();
        apply_change(&mut c, "LABEL a=b c=\"d e\"").unwrap();
        apply_change(&mut c, "WORKDIR /srv").unwrap();
        apply_change(&mut c, "USER app").unwrap();
        apply_change(&mut c, "VOLUME /data").unwrap();
        let v = Value::Object(c);
        assert_eq!(v["Cmd"], json!(["sh", "-c", "echo hi"]));
        assert_eq!(v["Entrypoint"], json!(["/bin/sh", "-c", "echo hello"]));
        assert_eq!(v["Env"], json!(["B=two words", "A=3", "LEGACY=some value"]));
        assert_eq!(v["ExposedPorts"], json!({"80/tcp": {}, "53/udp": {}}));
        assert_eq!(v["Labels"], json!({"a": "b", "c": "d e"}));
        assert_eq!(v["WorkingDir"], "/srv");
        assert_eq!(v["User"], "app");
        assert_eq!(v["Volumes"], json!({"/data": {}}));
        let mut c = Map::new();
        assert!(apply_change(&mut c, "RUN rm -rf /")
            .unwrap_err()
            .message
            .contains("cannot be changed"));
        assert!(apply_change(&mut c, "EXPOSE http").is_err());
    }

    #[test]
    fn host_busybox_is_static_and_ls_is_not() {
        if let Ok(b) = std::fs::read("/bin/busybox") {
            assert!(elf_is_static(&b).unwrap());
        }
        if let Ok(b) = std::fs::read("/bin/ls") {
            assert!(!elf_is_static(&b).unwrap());
        }
        assert!(elf_is_static(b"#!/bin/sh\n").is_err());
    }
}

#[cfg(test)]
mod demo_tests {
    use super::*;

    #[test]
    fn demo_needs_a_static_busybox() {
        let e = demo_rootfs(Path::new("/nonexistent/busybox"), 0).unwrap_err();
        assert_eq!(e.kind, crate::error::ErrorKind::NotFound);
        assert!(e.message.contains("apt-get install busybox-static"), "{e}");
        if Path::new("/bin/ls").exists() {
            let e = demo_rootfs(Path::new("/bin/ls"), 0).unwrap_err();
            assert!(
                e.message.contains("dynamically linked") && e.message.contains("busybox-static"),
                "{e}"
            );
        }
    }
}
