//! Mounts: `-v`, `--mount`, `--tmpfs` and `--volumes-from`, and the vocabulary of
//! [`MountSpec::options`](crate::api::MountSpec) that the runtime honours.
//!
//! # `MountSpec` as the engine receives it
//!
//! - `kind` is `bind`, `volume` or `tmpfs`.
//! - `target` is an absolute path inside the container, not `/`.
//! - `read_only` is the only place read-only or read-write is said, for every kind: the
//!   words `ro` and `rw` never appear in `options`.
//! - `bind`: `source` is an absolute host path. `options` holds at most one propagation
//!   word ([`PROPAGATIONS`]: `private`, `rprivate`, `shared`, `rshared`, `slave`,
//!   `rslave`; Docker's default when none is given is `rprivate`) and at most one SELinux
//!   relabel word ([`RELABEL`]: `z` shared, `Z` private). Binds are always recursive.
//! - `volume`: `source` is a volume name (`[a-zA-Z0-9][a-zA-Z0-9_.-]+`) or empty for a
//!   new anonymous volume (never read-only). `options` holds `nocopy` (do not copy the
//!   image's content into the volume at its first mount) and at most one relabel word.
//! - `tmpfs`: `source` is empty. `options` holds the kernel's tmpfs data options, each
//!   at most once, with plain numbers ([`TMPFS_DATA`]): `size=BYTES` or `size=N%` (1 to
//!   100), `mode=OCTAL` (at most 7777), `uid=N`, `gid=N`, `nr_inodes=N`, `nr_blocks=N`;
//!   and mount flag words ([`TMPFS_FLAGS`]), one of each pair: `exec`/`noexec`,
//!   `suid`/`nosuid`, `dev`/`nodev` (Docker's defaults are `noexec`, `nosuid`, `nodev`;
//!   a word given here overrides its default).
//!
//! The relabel words ask for an SELinux label on the mount's source; wharf applies no
//! SELinux labels, so, as with Docker on a host without SELinux, they change nothing.

use std::str::FromStr;

use super::resources::ByteSize;
use super::{flag, num, BadValue};
use crate::api::MountSpec;
use crate::error::EngineError;

/// Bind propagation words of `MountSpec::options`.
pub const PROPAGATIONS: [&str; 6] = [
    "private", "rprivate", "shared", "rshared", "slave", "rslave",
];
/// SELinux relabel words of `MountSpec::options` (bind and volume).
pub const RELABEL: [&str; 2] = ["z", "Z"];
/// Mount flag words of a tmpfs's `MountSpec::options`.
pub const TMPFS_FLAGS: [&str; 6] = ["exec", "noexec", "suid", "nosuid", "dev", "nodev"];
/// Kernel data options (`key=value`) of a tmpfs's `MountSpec::options`.
pub const TMPFS_DATA: [&str; 6] = ["size", "mode", "uid", "gid", "nr_inodes", "nr_blocks"];

const VOLUME_HINT: &str =
    "write NAME:/path[:options], /host/path:/path[:options] or /path (an anonymous volume)";
const VOLUME_OPTIONS: &str = "the options are ro, rw, z, Z, nocopy (volumes), and shared, rshared, slave, rslave, private, rprivate (bind mounts)";

/// Docker's rule for local volume names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+` (two characters
/// at least), at most 255.
pub fn valid_volume_name(s: &str) -> bool {
    let mut c = s.chars();
    s.len() >= 2
        && s.len() <= 255
        && c.next().is_some_and(|f| f.is_ascii_alphanumeric())
        && c.all(|ch| ch.is_ascii_alphanumeric() || "_.-".contains(ch))
}

/// Is `p`, cleaned as a path (`.`, `..`, repeated slashes), the root?
fn is_root(p: &str) -> bool {
    let mut depth: usize = 0;
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => depth = depth.saturating_sub(1),
            _ => depth += 1,
        }
    }
    depth == 0
}

/// Why `target` is not a mount target, if it is not one.
fn target_problem(target: &str) -> Option<String> {
    if target.is_empty() {
        Some("no target path in the container is given".into())
    } else if target.contains('\0') {
        Some("a path cannot contain NUL".into())
    } else if !target.starts_with('/') {
        Some(format!(
            "the target {target:?} must be an absolute path in the container, such as /data"
        ))
    } else if is_root(target) {
        Some("the target cannot be / (the container's root); mount somewhere below it, such as /data".into())
    } else {
        None
    }
}

/// `-v` as Docker reads it on Linux: `NAME:/path[:opts]` (a named volume),
/// `/host/path:/path[:opts]` (a bind mount) or `/path` (an anonymous volume). Options
/// are comma-separated: `ro`, `rw`, `z`, `Z`, `nocopy` (volumes), `shared`, `rshared`,
/// `slave`, `rslave`, `private`, `rprivate` (bind mounts), and `consistent` (what Linux
/// always does; accepted and dropped). `cached`/`delegated` (Docker Desktop's), unknown
/// words and conflicting ones (`ro,rw`) are refused by name. A relative host path is
/// refused unless it is a valid volume name: give host paths absolute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeSpec(pub MountSpec);

/// The words of a `-v` mode, sorted out.
#[derive(Default)]
struct VolumeMode {
    read_only: Option<bool>,
    relabel: Option<String>,
    propagation: Option<String>,
    nocopy: bool,
}

fn volume_mode(raw: &str, mode: &str) -> Result<VolumeMode, BadValue> {
    let mut m = VolumeMode::default();
    let mut consistency = false;
    let dup = |w: &str| {
        BadValue::new(
            raw,
            format!("the options {mode:?} say {w} twice or contradict each other; give one of each kind"),
        )
    };
    for w in mode.split(',') {
        match w {
            "ro" | "rw" => {
                if m.read_only.replace(w == "ro").is_some() {
                    return Err(dup(w));
                }
            }
            "z" | "Z" => {
                if m.relabel.replace(w.into()).is_some() {
                    return Err(dup(w));
                }
            }
            "nocopy" => {
                if std::mem::replace(&mut m.nocopy, true) {
                    return Err(dup(w));
                }
            }
            "consistent" => {
                if std::mem::replace(&mut consistency, true) {
                    return Err(dup(w));
                }
            }
            "cached" | "delegated" => {
                return Err(BadValue::new(
                    raw,
                    format!("the consistency mode {w:?} is Docker Desktop's for macOS and does nothing on Linux; leave it out"),
                ))
            }
            p if PROPAGATIONS.contains(&p) => {
                if m.propagation.replace(p.into()).is_some() {
                    return Err(dup(p));
                }
            }
            "" => {
                return Err(BadValue::new(
                    raw,
                    format!("the options {mode:?} have an empty word; {VOLUME_OPTIONS}"),
                ))
            }
            other => {
                return Err(BadValue::new(
                    raw,
                    format!("{other:?} is not a volume option; {VOLUME_OPTIONS}"),
                ))
            }
        }
    }
    Ok(m)
}

/// Is every word of `mode` a `-v` option (for telling `/path:ro` from `src:/path`)?
fn looks_like_mode(mode: &str) -> bool {
    volume_mode("", mode).is_ok()
}

impl FromStr for VolumeSpec {
    type Err = BadValue;

    fn from_str(s: &str) -> Result<Self, BadValue> {
        let bad = |why: String| BadValue::new(s, format!("{why}; {VOLUME_HINT}"));
        let parts: Vec<&str> = s.splitn(4, ':').collect();
        if parts[0].is_empty() {
            return Err(bad(
                "no source or target is given before the first colon".into()
            ));
        }
        let (source, target, mode) = match parts.as_slice() {
            [t] => ("", *t, ""),
            [_, m] if looks_like_mode(m) => {
                return Err(bad(format!(
                    "{m:?} looks like options, but a volume needs a target path before them"
                )))
            }
            [src, t] => (*src, *t, ""),
            [src, t, m] => (*src, *t, *m),
            _ => return Err(bad("it has too many colons".into())),
        };
        if let Some(why) = target_problem(target) {
            return Err(bad(why));
        }
        let mode = if parts.len() == 3 {
            volume_mode(s, mode)?
        } else {
            VolumeMode::default()
        };
        let kind = if source.starts_with('/') {
            "bind"
        } else {
            if !source.is_empty() && !valid_volume_name(source) {
                return Err(BadValue::new(
                    s,
                    format!("{source:?} is neither a volume name ([a-zA-Z0-9][a-zA-Z0-9_.-], two characters at least) nor an absolute host path; to mount a host directory give its absolute path, such as $PWD/{}", source.trim_start_matches("./")),
                ));
            }
            "volume"
        };
        if source.contains('\0') {
            return Err(bad("a path cannot contain NUL".into()));
        }
        let mut options = Vec::new();
        match kind {
            "bind" => {
                if mode.nocopy {
                    return Err(BadValue::new(
                        s,
                        "nocopy applies to volumes, not to bind mounts of host paths; leave it out",
                    ));
                }
                options.extend(mode.propagation);
            }
            _ => {
                if let Some(p) = mode.propagation {
                    return Err(BadValue::new(
                        s,
                        format!("the propagation {p:?} applies to bind mounts of host paths, not to volumes; leave it out"),
                    ));
                }
                if mode.nocopy {
                    options.push("nocopy".to_string());
                }
            }
        }
        options.extend(mode.relabel);
        Ok(VolumeSpec(MountSpec {
            kind: kind.into(),
            source: source.into(),
            target: target.into(),
            read_only: mode.read_only.unwrap_or(false),
            options,
        }))
    }
}

/// `--mount` fields: comma-separated, each may be double-quoted as in CSV.
fn csv_fields(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => return Err("a quoted field is not closed".into()),
                }
            }
            match chars.next() {
                None => {
                    out.push(field);
                    return Ok(out);
                }
                Some(',') => out.push(field),
                Some(c) => return Err(format!("{c:?} follows a closing quote")),
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        out.push(field);
                        return Ok(out);
                    }
                    Some(',') => break,
                    Some(c) => field.push(c),
                }
            }
            out.push(field);
        }
    }
}

/// Go's `strconv.ParseBool`, as `--mount` reads `readonly=` and friends.
fn go_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// An octal file mode, at most 7777.
fn octal_mode(v: &str) -> Option<u32> {
    if v.is_empty() || v.len() > 6 || !v.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return None;
    }
    u32::from_str_radix(v, 8).ok().filter(|m| *m <= 0o7777)
}

/// `--mount` as Docker reads it: `type=bind|volume|tmpfs` (volume when left out),
/// `source`/`src`, `target`/`destination`/`dst`, `readonly`/`ro[=bool]`,
/// `bind-propagation=...`, `volume-nocopy[=bool]`, `volume-driver=local`,
/// `tmpfs-size=SIZE`, `tmpfs-mode=OCTAL`, `consistency=consistent|default`. Keys are
/// case-insensitive; values may be CSV-quoted. Refused by name: other volume drivers,
/// `volume-opt`, `volume-label`, `volume-subpath`, non-recursive binds
/// (`bind-nonrecursive`, `bind-recursive` other than `enabled`),
/// `bind-create-mountpoint`, `cached`/`delegated` consistency, other mount types, and
/// unknown keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOpt(pub MountSpec);

impl FromStr for MountOpt {
    type Err = BadValue;

    fn from_str(s: &str) -> Result<Self, BadValue> {
        const HINT: &str = "write type=bind|volume|tmpfs,source=...,target=/path[,readonly]";
        let bad = |why: String| BadValue::new(s, why);
        let fields = csv_fields(s).map_err(|e| bad(format!("{e}; {HINT}")))?;
        let mut kind = "volume".to_string();
        let (mut source, mut target) = (String::new(), String::new());
        let mut read_only = false;
        let mut propagation: Option<String> = None;
        let mut nocopy = false;
        let (mut size, mut mode): (Option<u64>, Option<u32>) = (None, None);
        // Which family of options was used, to refuse mixing them with another type.
        let (mut bind_o, mut volume_o, mut tmpfs_o) = (None, None, None);
        let unsupported = |k: &str, why: &str| bad(format!("{k} is not supported: {why}"));
        for field in &fields {
            let (key, val) = match field.split_once('=') {
                Some((k, v)) => (k.to_ascii_lowercase(), Some(v)),
                None => (field.to_ascii_lowercase(), None),
            };
            let family = |slot: &mut Option<String>| {
                if slot.is_none() {
                    *slot = Some(key.clone());
                }
            };
            let boolean = |v: Option<&str>| -> Result<bool, BadValue> {
                match v {
                    None => Ok(true),
                    Some(v) => go_bool(v).ok_or_else(|| {
                        bad(format!(
                            "{key}={v} is not a boolean; write {key}, {key}=true or {key}=false"
                        ))
                    }),
                }
            };
            match key.as_str() {
                "readonly" | "ro" => read_only = boolean(val)?,
                "volume-nocopy" => {
                    family(&mut volume_o);
                    nocopy = boolean(val)?;
                }
                "bind-nonrecursive" => {
                    family(&mut bind_o);
                    if boolean(val)? {
                        return Err(unsupported(
                            "bind-nonrecursive",
                            "wharf always binds recursively (submounts included); leave it out",
                        ));
                    }
                }
                _ if val.is_none() => {
                    return Err(bad(format!(
                        "{field:?} must be a key=value pair; {HINT}"
                    )))
                }
                "type" => {
                    let v = val.unwrap_or_default().to_ascii_lowercase();
                    match v.as_str() {
                        "bind" | "volume" | "tmpfs" => kind = v,
                        _ => {
                            return Err(bad(format!(
                                "the mount type {v:?} is not one wharf mounts; use type=bind, type=volume or type=tmpfs"
                            )))
                        }
                    }
                }
                "source" | "src" => source = val.unwrap_or_default().to_string(),
                "target" | "destination" | "dst" => target = val.unwrap_or_default().to_string(),
                "consistency" => match val.unwrap_or_default().to_ascii_lowercase().as_str() {
                    "consistent" | "default" => {}
                    "cached" | "delegated" => {
                        return Err(bad(format!(
                            "consistency={} is Docker Desktop's for macOS and does nothing on Linux; leave it out",
                            val.unwrap_or_default()
                        )))
                    }
                    other => {
                        return Err(bad(format!(
                            "consistency={other} is not a consistency mode; leave it out (Linux mounts are always consistent)"
                        )))
                    }
                },
                "bind-propagation" => {
                    family(&mut bind_o);
                    let v = val.unwrap_or_default().to_ascii_lowercase();
                    if !PROPAGATIONS.contains(&v.as_str()) {
                        return Err(bad(format!(
                            "bind-propagation={v} is not a propagation; use one of {}",
                            PROPAGATIONS.join(", ")
                        )));
                    }
                    propagation = Some(v);
                }
                "bind-recursive" => {
                    family(&mut bind_o);
                    if val != Some("enabled") {
                        return Err(unsupported(
                            &format!("bind-recursive={}", val.unwrap_or_default()),
                            "wharf always binds recursively, with the submounts as they are; leave it out",
                        ));
                    }
                }
                "bind-create-mountpoint" => {
                    return Err(unsupported(
                        "bind-create-mountpoint",
                        "create the host path first",
                    ))
                }
                "volume-driver" => {
                    family(&mut volume_o);
                    if val != Some("local") {
                        return Err(unsupported(
                            &format!("volume-driver={}", val.unwrap_or_default()),
                            "wharf has only the local volume driver; leave it out",
                        ));
                    }
                }
                "volume-opt" => {
                    return Err(unsupported(
                        "volume-opt",
                        "the local volumes of wharf take no driver options",
                    ))
                }
                "volume-label" => {
                    return Err(unsupported(
                        "volume-label",
                        "create the volume first with `wharf volume create --label KEY=VALUE NAME` and mount it by name",
                    ))
                }
                "volume-subpath" => {
                    return Err(unsupported(
                        "volume-subpath",
                        "mount the whole volume, or bind-mount the directory",
                    ))
                }
                "tmpfs-size" => {
                    family(&mut tmpfs_o);
                    let v = val.unwrap_or_default();
                    let b: ByteSize = v
                        .parse()
                        .map_err(|e: BadValue| bad(format!("tmpfs-size={v}: {}", e.reason)))?;
                    size = Some(b.0);
                }
                "tmpfs-mode" => {
                    family(&mut tmpfs_o);
                    let v = val.unwrap_or_default();
                    mode = Some(octal_mode(v).ok_or_else(|| {
                        bad(format!(
                            "tmpfs-mode={v} is not a file mode; write it in octal, at most 7777, such as 1777"
                        ))
                    })?);
                }
                _ => {
                    return Err(bad(format!(
                        "{key:?} is not a --mount key; the keys are type, source, target, readonly, bind-propagation, volume-nocopy, volume-driver, tmpfs-size, tmpfs-mode, consistency"
                    )))
                }
            }
        }
        for (family, fam_kind) in [
            (&bind_o, "bind"),
            (&volume_o, "volume"),
            (&tmpfs_o, "tmpfs"),
        ] {
            if let Some(k) = family {
                if kind != fam_kind {
                    return Err(bad(format!(
                        "{k} is for type={fam_kind} mounts, and this one is type={kind}; leave it out or change the type"
                    )));
                }
            }
        }
        if let Some(why) = target_problem(&target) {
            return Err(bad(format!("{why}; {HINT}")));
        }
        let mut options = Vec::new();
        match kind.as_str() {
            "bind" => {
                if source.is_empty() {
                    return Err(bad(
                        "a bind mount needs source=/host/path (an absolute path on the host)"
                            .into(),
                    ));
                }
                if !source.starts_with('/') || source.contains('\0') {
                    return Err(bad(format!(
                        "the bind source {source:?} must be an absolute host path, such as /srv/data"
                    )));
                }
                options.extend(propagation);
            }
            "volume" => {
                if !source.is_empty() && !valid_volume_name(&source) {
                    return Err(bad(format!(
                        "{source:?} is not a volume name ([a-zA-Z0-9][a-zA-Z0-9_.-], two characters at least); for a host path use type=bind"
                    )));
                }
                if source.is_empty() && read_only {
                    return Err(bad(
                        "a new anonymous volume cannot be read-only (it would stay empty); name a volume with source=NAME, or leave readonly out".into(),
                    ));
                }
                if nocopy {
                    options.push("nocopy".to_string());
                }
            }
            _ => {
                if !source.is_empty() {
                    return Err(bad("a tmpfs mount has no source; leave source= out".into()));
                }
                options.extend(size.map(|b| format!("size={b}")));
                options.extend(mode.map(|m| format!("mode={m:o}")));
            }
        }
        Ok(MountOpt(MountSpec {
            kind,
            source,
            target,
            read_only,
            options,
        }))
    }
}

/// A kernel `memparse` number (`nr_inodes=`, `nr_blocks=`): digits with an optional
/// k, m, g, t, p or e suffix (binary), as a plain number.
fn mem_number(v: &str) -> Option<u64> {
    let (digits, shift) = match v.as_bytes().last()?.to_ascii_lowercase() {
        b'k' => (&v[..v.len() - 1], 10),
        b'm' => (&v[..v.len() - 1], 20),
        b'g' => (&v[..v.len() - 1], 30),
        b't' => (&v[..v.len() - 1], 40),
        b'p' => (&v[..v.len() - 1], 50),
        b'e' => (&v[..v.len() - 1], 60),
        _ => (v, 0),
    };
    num::uint(digits)?.checked_mul(1u64 << shift)
}

/// The flag words' pairs: a word and its opposite.
fn opposite(w: &str) -> &'static str {
    match w {
        "exec" => "noexec",
        "noexec" => "exec",
        "suid" => "nosuid",
        "nosuid" => "suid",
        "dev" => "nodev",
        _ => "dev",
    }
}

/// `--tmpfs /path[:options]`: options `size=` (a size, or N% of memory), `mode=`
/// (octal), `uid=`, `gid=`, `nr_inodes=`, `nr_blocks=`, `exec`/`noexec`,
/// `suid`/`nosuid`, `dev`/`nodev`, `ro`/`rw`; anything else is refused by name. The
/// options are normalized into the vocabulary of this module (sizes in bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TmpfsSpec(pub MountSpec);

impl FromStr for TmpfsSpec {
    type Err = BadValue;

    fn from_str(s: &str) -> Result<Self, BadValue> {
        const OPTIONS: &str = "the options are size, mode, uid, gid, nr_inodes, nr_blocks, exec/noexec, suid/nosuid, dev/nodev, ro/rw";
        let (target, opts) = s.split_once(':').unwrap_or((s, ""));
        if let Some(why) = target_problem(target) {
            return Err(BadValue::new(
                s,
                format!("{why}; write /path[:options], such as /run:size=64m"),
            ));
        }
        let mut read_only: Option<bool> = None;
        let mut options: Vec<String> = Vec::new();
        let mut seen: Vec<String> = Vec::new();
        let bad = |why: String| BadValue::new(s, why);
        for o in opts.split(',').filter(|o| !o.is_empty()) {
            let (key, val) = match o.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (o, None),
            };
            if seen.iter().any(|k| k == key) {
                return Err(bad(format!("{key} is given twice; give it once")));
            }
            match (key, val) {
                ("ro" | "rw", None) => {
                    if read_only.replace(key == "ro").is_some() {
                        return Err(bad("ro and rw contradict each other; give one".into()));
                    }
                    continue;
                }
                (w, None) if TMPFS_FLAGS.contains(&w) => {
                    if seen.iter().any(|k| k == opposite(w)) {
                        return Err(bad(format!(
                            "{w} and {} contradict each other; give one",
                            opposite(w)
                        )));
                    }
                    options.push(w.to_string());
                }
                ("size", Some(v)) => {
                    let value = match v.strip_suffix('%') {
                        Some(p) => match num::uint(p) {
                            Some(p @ 1..=100) => format!("{p}%"),
                            _ => {
                                return Err(bad(format!(
                                    "size={v} is not a percentage from 1% to 100%"
                                )))
                            }
                        },
                        None => {
                            let b: ByteSize = v
                                .parse()
                                .map_err(|e: BadValue| bad(format!("size={v}: {}", e.reason)))?;
                            b.0.to_string()
                        }
                    };
                    options.push(format!("size={value}"));
                }
                ("mode", Some(v)) => {
                    let m = octal_mode(v).ok_or_else(|| {
                        bad(format!(
                            "mode={v} is not a file mode; write it in octal, at most 7777, such as 1777"
                        ))
                    })?;
                    options.push(format!("mode={m:o}"));
                }
                ("uid" | "gid", Some(v)) => {
                    let n = num::uint(v)
                        .filter(|n| *n <= u64::from(u32::MAX))
                        .ok_or_else(|| bad(format!("{key}={v} is not a numeric id")))?;
                    options.push(format!("{key}={n}"));
                }
                ("nr_inodes" | "nr_blocks", Some(v)) => {
                    let n = mem_number(v).ok_or_else(|| {
                        bad(format!(
                            "{key}={v} is not a number (digits with an optional k, m or g)"
                        ))
                    })?;
                    options.push(format!("{key}={n}"));
                }
                _ => {
                    return Err(bad(format!("{o:?} is not a tmpfs option; {OPTIONS}")));
                }
            }
            seen.push(key.to_string());
        }
        Ok(TmpfsSpec(MountSpec {
            kind: "tmpfs".into(),
            source: String::new(),
            target: target.into(),
            read_only: read_only.unwrap_or(false),
            options,
        }))
    }
}

/// `--volumes-from CONTAINER[:ro|rw]`: the container's volumes and bind mounts, read-only
/// or read-write (as they are there when no mode is given). Kept as written; the engine
/// expands it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumesFrom {
    /// The container's name or id.
    pub container: String,
    /// `Some(true)` for `:ro`, `Some(false)` for `:rw`.
    pub read_only: Option<bool>,
}

impl FromStr for VolumesFrom {
    type Err = BadValue;

    fn from_str(s: &str) -> Result<Self, BadValue> {
        let (name, mode) = match s.split_once(':') {
            Some((n, m)) => (n, Some(m)),
            None => (s, None),
        };
        let bare = name.strip_prefix('/').unwrap_or(name);
        if !valid_volume_name(bare) {
            return Err(BadValue::new(
                s,
                "the first part must be a container name or id; write CONTAINER[:ro|rw]",
            ));
        }
        let read_only = match mode {
            None => None,
            Some("ro") => Some(true),
            Some("rw") => Some(false),
            Some(m) => {
                return Err(BadValue::new(
                    s,
                    format!("the mode {m:?} is not ro or rw; write CONTAINER[:ro|rw]"),
                ))
            }
        };
        Ok(VolumesFrom {
            container: name.to_string(),
            read_only,
        })
    }
}

/// `-v`: the mount of one value.
pub fn volume(v: &str) -> Result<MountSpec, EngineError> {
    Ok(flag::<VolumeSpec>("-v", v)?.0)
}

/// `--mount`: the mount of one value.
pub fn mount(v: &str) -> Result<MountSpec, EngineError> {
    Ok(flag::<MountOpt>("--mount", v)?.0)
}

/// `--tmpfs`: the mount of one value.
pub fn tmpfs(v: &str) -> Result<MountSpec, EngineError> {
    Ok(flag::<TmpfsSpec>("--tmpfs", v)?.0)
}

/// `--volumes-from`: the value as written, once its shape is right.
pub fn volumes_from(v: &str) -> Result<String, EngineError> {
    flag::<VolumesFrom>("--volumes-from", v)?;
    Ok(v.to_string())
}

/// The rules on one mount as it reaches the engine, whichever front end made it: the
/// vocabulary of this module.
pub fn check_mount(m: &MountSpec) -> Result<(), EngineError> {
    let refuse = |why: String| {
        EngineError::invalid(format!(
            "invalid mount {} of type {:?}: {why}",
            super::shown(&m.target),
            m.kind
        ))
    };
    if let Some(why) = target_problem(&m.target) {
        return Err(refuse(why));
    }
    let count = |set: &[&str]| {
        m.options
            .iter()
            .filter(|o| set.contains(&o.as_str()))
            .count()
    };
    let words = |allowed: &[&[&str]]| -> Result<(), EngineError> {
        for o in &m.options {
            if !allowed.iter().any(|set| set.contains(&o.as_str())) {
                return Err(refuse(format!(
                    "the option {} is not one a {} mount takes ({})",
                    super::shown(o),
                    m.kind,
                    allowed
                        .iter()
                        .flat_map(|s| s.iter())
                        .copied()
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        Ok(())
    };
    match m.kind.as_str() {
        "bind" => {
            if !m.source.starts_with('/') || m.source.contains('\0') {
                return Err(refuse(format!(
                    "the bind source {} must be an absolute host path",
                    super::shown(&m.source)
                )));
            }
            words(&[&PROPAGATIONS, &RELABEL])?;
            if count(&PROPAGATIONS) > 1 || count(&RELABEL) > 1 {
                return Err(refuse(
                    "give at most one propagation and one relabel option".into(),
                ));
            }
        }
        "volume" => {
            if !m.source.is_empty() && !valid_volume_name(&m.source) {
                return Err(refuse(format!(
                    "{} is not a volume name ([a-zA-Z0-9][a-zA-Z0-9_.-], two characters at least); for a host path use a bind mount",
                    super::shown(&m.source)
                )));
            }
            if m.source.is_empty() && m.read_only {
                return Err(refuse(
                    "a new anonymous volume cannot be read-only; name a volume".into(),
                ));
            }
            words(&[&["nocopy"], &RELABEL])?;
            if count(&["nocopy"]) > 1 || count(&RELABEL) > 1 {
                return Err(refuse("give each option once".into()));
            }
        }
        "tmpfs" => {
            if !m.source.is_empty() {
                return Err(refuse("a tmpfs mount has no source".into()));
            }
            let mut seen: Vec<&str> = Vec::new();
            for o in &m.options {
                let (key, val) = match o.split_once('=') {
                    Some((k, v)) => (k, Some(v)),
                    None => (o.as_str(), None),
                };
                let ok = match (key, val) {
                    (w, None) => TMPFS_FLAGS.contains(&w) && !seen.contains(&opposite(w)),
                    ("size", Some(v)) => match v.strip_suffix('%') {
                        Some(p) => matches!(num::uint(p), Some(1..=100)),
                        None => num::uint(v).is_some_and(|b| b <= i64::MAX as u64),
                    },
                    ("mode", Some(v)) => octal_mode(v).is_some(),
                    ("uid" | "gid", Some(v)) => {
                        num::uint(v).is_some_and(|n| n <= u64::from(u32::MAX))
                    }
                    ("nr_inodes" | "nr_blocks", Some(v)) => num::uint(v).is_some(),
                    _ => false,
                };
                if !ok || seen.contains(&key) {
                    return Err(refuse(format!(
                        "the option {} is not a tmpfs option in wharf's form (size=BYTES or size=N%, mode=OCTAL, uid=N, gid=N, nr_inodes=N, nr_blocks=N, exec/noexec, suid/nosuid, dev/nodev; each once; read-only is read_only)",
                        super::shown(o)
                    )));
                }
                seen.push(key);
            }
        }
        other => {
            return Err(EngineError::invalid(format!(
                "invalid mount {}: the type {} is not one wharf mounts; use bind, volume or tmpfs",
                super::shown(&m.target),
                super::shown(other)
            )))
        }
    }
    Ok(())
}

/// The rule on one `volumes_from` entry: `CONTAINER[:ro|rw]`.
pub fn check_volumes_from(v: &str) -> Result<(), EngineError> {
    volumes_from(v).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(kind: &str, source: &str, target: &str, ro: bool, options: &[&str]) -> MountSpec {
        MountSpec {
            kind: kind.into(),
            source: source.into(),
            target: target.into(),
            read_only: ro,
            options: options.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn volumes_as_docker_reads_them() {
        let table = [
            ("/data", ms("volume", "", "/data", false, &[])),
            ("data:/data", ms("volume", "data", "/data", false, &[])),
            ("data:/data:ro", ms("volume", "data", "/data", true, &[])),
            (
                "data:/data:rw,nocopy",
                ms("volume", "data", "/data", false, &["nocopy"]),
            ),
            ("/srv:/data", ms("bind", "/srv", "/data", false, &[])),
            ("/srv:/data:ro", ms("bind", "/srv", "/data", true, &[])),
            (
                "/srv:/data:ro,rshared",
                ms("bind", "/srv", "/data", true, &["rshared"]),
            ),
            ("/srv:/data:Z", ms("bind", "/srv", "/data", false, &["Z"])),
            (
                "/srv:/data:z,slave",
                ms("bind", "/srv", "/data", false, &["slave", "z"]),
            ),
            (
                "/srv:/data:consistent",
                ms("bind", "/srv", "/data", false, &[]),
            ),
            (
                "my.vol-1:/data",
                ms("volume", "my.vol-1", "/data", false, &[]),
            ),
        ];
        for (s, want) in table {
            assert_eq!(s.parse::<VolumeSpec>().map(|v| v.0), Ok(want), "{s}");
        }
        let refused = [
            "",
            ":/data",
            "/tmp:/x:bogus",
            "/tmp:/x:ro,rw",
            "/tmp:/x:ro,ro",
            "/tmp:/x:rshared,private",
            "/tmp:/x:cached",
            "/tmp:/x:delegated",
            "/tmp:/x:ro,",
            "/tmp:/x:nocopy",
            "data:/x:rshared",
            "/tmp:relative",
            "data:x",
            "relative",
            "/tmp:/",
            "/tmp:/..",
            "/tmp:/x/../",
            "./data:/x",
            "rel/path:/x",
            "a:/x",
            "-data:/x",
            "/data:ro",
            "/a:/b:ro:extra",
            "/a\0:/b",
            "/tmp:/x\0",
        ];
        for s in refused {
            assert!(s.parse::<VolumeSpec>().is_err(), "{s:?} was accepted");
        }
        let e = volume("/tmp:/x:bogus").unwrap_err();
        assert!(e.message.starts_with("invalid -v \"/tmp:/x:bogus\""), "{e}");
        assert!(
            e.message.contains("\"bogus\" is not a volume option"),
            "{e}"
        );
        let e = volume("./data:/x").unwrap_err();
        assert!(e.message.contains("absolute"), "{e}");
    }

    #[test]
    fn mounts_as_docker_reads_them() {
        let table = [
            (
                "type=bind,source=/srv,target=/data",
                ms("bind", "/srv", "/data", false, &[]),
            ),
            (
                "type=bind,src=/srv,dst=/data,readonly",
                ms("bind", "/srv", "/data", true, &[]),
            ),
            (
                "type=bind,src=/srv,destination=/data,ro=true",
                ms("bind", "/srv", "/data", true, &[]),
            ),
            (
                "type=bind,src=/srv,dst=/data,ro=0",
                ms("bind", "/srv", "/data", false, &[]),
            ),
            (
                "Type=Bind,Source=/srv,Target=/data,bind-propagation=rslave",
                ms("bind", "/srv", "/data", false, &["rslave"]),
            ),
            (
                "type=bind,src=/srv,dst=/data,bind-nonrecursive=false",
                ms("bind", "/srv", "/data", false, &[]),
            ),
            ("target=/data", ms("volume", "", "/data", false, &[])),
            (
                "type=volume,source=data,target=/data,volume-nocopy",
                ms("volume", "data", "/data", false, &["nocopy"]),
            ),
            (
                "type=volume,source=data,target=/data,volume-driver=local,ro",
                ms("volume", "data", "/data", true, &[]),
            ),
            (
                "type=tmpfs,target=/run,tmpfs-size=64m,tmpfs-mode=1777",
                ms("tmpfs", "", "/run", false, &["size=67108864", "mode=1777"]),
            ),
            (
                "type=tmpfs,dst=/run,consistency=consistent",
                ms("tmpfs", "", "/run", false, &[]),
            ),
            (
                "\"type=bind\",\"source=/a,b\",target=/x",
                ms("bind", "/a,b", "/x", false, &[]),
            ),
        ];
        for (s, want) in table {
            assert_eq!(s.parse::<MountOpt>().map(|m| m.0), Ok(want), "{s}");
        }
        let refused = [
            "",
            "type=bind,target=/x",
            "type=bind,source=rel,target=/x",
            "type=bind,source=/a",
            "type=bind,source=/a,target=rel",
            "type=bind,source=/a,target=/",
            "type=image,source=busybox,target=/x",
            "type=npipe,source=/a,target=/x",
            "type=volume,source=/abs,target=/x",
            "type=volume,target=/x,readonly",
            "type=volume,source=data,target=/x,volume-driver=nfs",
            "type=volume,source=data,target=/x,volume-opt=o=bind",
            "type=volume,source=data,target=/x,volume-label=a=b",
            "type=volume,source=data,target=/x,volume-subpath=sub",
            "type=bind,source=/a,target=/x,bind-nonrecursive",
            "type=bind,source=/a,target=/x,bind-recursive=disabled",
            "type=bind,source=/a,target=/x,bind-create-mountpoint",
            "type=bind,source=/a,target=/x,bind-propagation=bogus",
            "type=bind,source=/a,target=/x,volume-nocopy",
            "type=volume,source=data,target=/x,bind-propagation=rshared",
            "type=bind,source=/a,target=/x,tmpfs-size=1m",
            "type=tmpfs,source=/a,target=/x",
            "type=tmpfs,target=/x,tmpfs-size=nan",
            "type=tmpfs,target=/x,tmpfs-mode=999",
            "type=tmpfs,target=/x,tmpfs-mode=77777",
            "type=bind,source=/a,target=/x,readonly=maybe",
            "type=bind,source=/a,target=/x,consistency=cached",
            "type=bind,source=/a,target=/x,bogus=1",
            "type=bind,source=/a,target=/x,bogus",
            "\"type=bind,source=/a,target=/x",
        ];
        for s in refused {
            assert!(s.parse::<MountOpt>().is_err(), "{s:?} was accepted");
        }
        let e = mount("type=volume,source=data,target=/x,volume-driver=nfs").unwrap_err();
        assert!(
            e.message.contains("volume-driver=nfs is not supported"),
            "{e}"
        );
    }

    #[test]
    fn tmpfs_as_docker_reads_it() {
        let table = [
            ("/run", ms("tmpfs", "", "/run", false, &[])),
            (
                "/run:size=64m",
                ms("tmpfs", "", "/run", false, &["size=67108864"]),
            ),
            (
                "/run:rw,noexec,nosuid,size=65536k",
                ms(
                    "tmpfs",
                    "",
                    "/run",
                    false,
                    &["noexec", "nosuid", "size=67108864"],
                ),
            ),
            (
                "/run:ro,mode=1777,uid=1000,gid=1000",
                ms(
                    "tmpfs",
                    "",
                    "/run",
                    true,
                    &["mode=1777", "uid=1000", "gid=1000"],
                ),
            ),
            (
                "/run:size=50%,nr_inodes=1k,exec",
                ms(
                    "tmpfs",
                    "",
                    "/run",
                    false,
                    &["size=50%", "nr_inodes=1024", "exec"],
                ),
            ),
        ];
        for (s, want) in table {
            assert_eq!(s.parse::<TmpfsSpec>().map(|m| m.0), Ok(want), "{s}");
        }
        let refused = [
            "",
            "run",
            "/",
            "/run:bogus",
            "/run:size=nan",
            "/run:size=-1",
            "/run:size=0%",
            "/run:size=101%",
            "/run:mode=9",
            "/run:uid=-1",
            "/run:uid=x",
            "/run:exec,noexec",
            "/run:ro,rw",
            "/run:size=1m,size=2m",
            "/run:mpol=default",
            "/run:remount",
            "/run:nr_inodes=x",
        ];
        for s in refused {
            assert!(s.parse::<TmpfsSpec>().is_err(), "{s:?} was accepted");
        }
    }

    #[test]
    fn volumes_from_shapes() {
        assert_eq!(volumes_from("web").unwrap(), "web");
        assert_eq!(volumes_from("web:ro").unwrap(), "web:ro");
        assert_eq!(volumes_from("/web:rw").unwrap(), "/web:rw");
        assert_eq!(
            "abc123:ro".parse::<VolumesFrom>().unwrap(),
            VolumesFrom {
                container: "abc123".into(),
                read_only: Some(true)
            }
        );
        for s in ["", ":ro", "web:", "web:z", "web:ro,rshared", "we b", "-x"] {
            assert!(volumes_from(s).is_err(), "{s:?}");
        }
    }

    #[test]
    fn mount_rules_for_any_front_end() {
        assert!(check_mount(&ms("bind", "/srv", "/data", true, &["rshared", "z"])).is_ok());
        assert!(check_mount(&ms("volume", "", "/data", false, &["nocopy"])).is_ok());
        assert!(check_mount(&ms(
            "tmpfs",
            "",
            "/run",
            false,
            &["size=1024", "mode=1777", "noexec"]
        ))
        .is_ok());
        let refused = [
            ms("bind", "/srv", "rel", false, &[]),
            ms("bind", "/srv", "/", false, &[]),
            ms("bind", "rel", "/data", false, &[]),
            ms("bind", "/srv", "/data", false, &["ro"]),
            ms("bind", "/srv", "/data", false, &["shared", "slave"]),
            ms("bind", "/srv", "/data", false, &["nocopy"]),
            ms("volume", "../etc", "/data", false, &[]),
            ms("volume", "", "/data", true, &[]),
            ms("volume", "data", "/data", false, &["rshared"]),
            ms("tmpfs", "/x", "/run", false, &[]),
            ms("tmpfs", "", "/run", false, &["size=64m"]),
            ms("tmpfs", "", "/run", false, &["ro"]),
            ms("tmpfs", "", "/run", false, &["exec", "noexec"]),
            ms("tmpfs", "", "/run", false, &["mode=1777", "mode=700"]),
            ms("tmpfs", "", "/run", false, &["mpol=default"]),
            ms("overlay", "", "/run", false, &[]),
        ];
        for m in refused {
            assert!(check_mount(&m).is_err(), "{m:?} was accepted");
        }
    }
}
