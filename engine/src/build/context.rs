//! The build context: a directory (given, or a tar unpacked into a staging directory),
//! `.dockerignore`, sources of COPY/ADD resolved inside it (globs; `..` and symlinks
//! that leave it refused), their checksums for the cache, and tars of them for a step.

use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{EngineError, IoContext, Result};

/// The most a context tar may unpack to, and its most entries.
pub const MAX_CONTEXT_BYTES: u64 = 16 << 30;
pub const MAX_CONTEXT_ENTRIES: u64 = 1_000_000;

/// One `.dockerignore` line.
#[derive(Debug, Clone)]
struct Pattern {
    parts: Vec<String>,
    exclude: bool,
}

/// The context of one build.
pub struct Context {
    root: PathBuf,
    /// A staging directory the context was unpacked into (removed on drop).
    staging: Option<PathBuf>,
    ignore: Vec<Pattern>,
}

impl Drop for Context {
    fn drop(&mut self) {
        if let Some(s) = &self.staging {
            let _ = std::fs::remove_dir_all(s);
        }
    }
}

/// A source of COPY/ADD found in the context.
#[derive(Debug, Clone)]
pub struct Source {
    /// Its path relative to the context root, as matched (`src/a.txt`).
    pub rel: String,
    /// The file on disk (symlinks of the path resolved inside the context).
    pub path: PathBuf,
    pub is_dir: bool,
}

fn bad(msg: impl Into<String>) -> EngineError {
    EngineError::invalid(msg)
}

/// One token of a component pattern.
enum Tok {
    /// `*`: any run of characters.
    Star,
    /// `?`: any one character.
    Any,
    /// A character (`\x` escapes included).
    Lit(char),
    /// `[...]` / `[^...]`: ranges and characters, negated or not.
    Class { neg: bool, items: Vec<(char, char)> },
}

impl Tok {
    fn one(&self, c: char) -> bool {
        match self {
            Tok::Star | Tok::Any => true,
            Tok::Lit(l) => *l == c,
            Tok::Class { neg, items } => items.iter().any(|(lo, hi)| *lo <= c && c <= *hi) != *neg,
        }
    }
}

/// A component pattern's tokens; `None` for an unterminated `[` class (which matches
/// nothing, as Go's `ErrBadPattern`).
fn tokens(pat: &str) -> Option<Vec<Tok>> {
    let p: Vec<char> = pat.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            '*' => {
                out.push(Tok::Star);
                i += 1;
            }
            '?' => {
                out.push(Tok::Any);
                i += 1;
            }
            '[' => {
                i += 1;
                let neg = matches!(p.get(i), Some('^') | Some('!'));
                if neg {
                    i += 1;
                }
                let mut items = Vec::new();
                let mut first = true;
                while i < p.len() && (p[i] != ']' || first) {
                    first = false;
                    let lo = if p[i] == '\\' && i + 1 < p.len() {
                        i += 1;
                        p[i]
                    } else {
                        p[i]
                    };
                    if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|c| *c != ']') {
                        items.push((lo, p[i + 2]));
                        i += 3;
                    } else {
                        items.push((lo, lo));
                        i += 1;
                    }
                }
                if i >= p.len() {
                    return None;
                }
                i += 1;
                out.push(Tok::Class { neg, items });
            }
            '\\' if i + 1 < p.len() => {
                out.push(Tok::Lit(p[i + 1]));
                i += 2;
            }
            c => {
                out.push(Tok::Lit(c));
                i += 1;
            }
        }
    }
    Some(out)
}

/// Match `items` against `pat`, where star tokens take any run of items and every other
/// token exactly one, in time proportional to the product of the lengths at worst (the
/// algorithm of `policy::glob_match`): on a mismatch only the last star seen takes one
/// more item (what an earlier star could take, the last one can too). Patterns are the
/// caller's: a backtracking matcher would be exponential in their stars.
fn last_star<P, T>(
    pat: &[P],
    items: &[T],
    is_star: impl Fn(&P) -> bool,
    one: impl Fn(&P, &T) -> bool,
) -> bool {
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while j < items.len() {
        match pat.get(i) {
            Some(p) if is_star(p) => {
                star = Some((i, j));
                i += 1;
            }
            Some(p) if one(p, &items[j]) => {
                i += 1;
                j += 1;
            }
            _ => match star {
                Some((si, sj)) => {
                    i = si + 1;
                    j = sj + 1;
                    star = Some((si, sj + 1));
                }
                None => return false,
            },
        }
    }
    pat[i..].iter().all(is_star)
}

/// Go's `filepath.Match` on one path component: `*`, `?`, `[a-z]`, `[^x]`, `\` escapes.
pub fn match_component(pat: &str, name: &str) -> bool {
    let Some(toks) = tokens(pat) else {
        return false;
    };
    let n: Vec<char> = name.chars().collect();
    last_star(&toks, &n, |t| matches!(t, Tok::Star), |t, c| t.one(*c))
}

fn has_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Match path components against pattern components, `**` spanning any number.
fn match_parts(pat: &[String], path: &[&str]) -> bool {
    last_star(pat, path, |p| p == "**", |p, c| match_component(p, c))
}

/// Clean a relative path lexically; `None` when it climbs out (`../x`).
pub fn clean_rel(p: &str) -> Option<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for c in Path::new(p).components() {
        match c {
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            Component::ParentDir => {
                out.pop()?;
            }
            Component::Normal(s) => out.push(s.to_string_lossy().into_owned()),
        }
    }
    Some(out)
}

fn parse_ignore(text: &str) -> Vec<Pattern> {
    let mut out = Vec::new();
    for l in text.lines() {
        let t = l.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let (exclude, body) = match t.strip_prefix('!') {
            Some(b) => (false, b.trim()),
            None => (true, t),
        };
        let parts = clean_rel(body).unwrap_or_default();
        if parts.is_empty() {
            continue;
        }
        out.push(Pattern { parts, exclude });
    }
    out
}

impl Context {
    /// A directory as the context.
    pub fn from_dir(dir: &Path) -> Result<Self> {
        let root = std::fs::canonicalize(dir).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                EngineError::not_found(
                    "build context",
                    &dir.display().to_string(),
                    "give an existing directory",
                )
            } else {
                EngineError::io(format!("opening the build context {}", dir.display()), e)
            }
        })?;
        if !root.is_dir() {
            return Err(bad(format!(
                "the build context {} is not a directory",
                dir.display()
            )));
        }
        let mut c = Context {
            root,
            staging: None,
            ignore: vec![],
        };
        c.load_ignore();
        Ok(c)
    }

    /// No context: an empty directory under `staging`.
    pub fn empty(staging: PathBuf) -> Result<Self> {
        let root = staging.join("context");
        std::fs::create_dir_all(&root).ctx(|| format!("creating {}", root.display()))?;
        Ok(Context {
            root,
            staging: Some(staging),
            ignore: vec![],
        })
    }

    /// A tar stream (plain or gzip) unpacked into `staging`: names that climb out are
    /// refused, symlinks kept as they are (and resolved inside the context when used),
    /// devices skipped, at most [`MAX_CONTEXT_BYTES`].
    pub fn from_tar(input: &mut dyn Read, staging: PathBuf) -> Result<Self> {
        let c = Context::empty(staging)?;
        let mut head = [0u8; 2];
        let mut buf = std::io::BufReader::with_capacity(1 << 16, input);
        let n = {
            use std::io::BufRead;
            let b = buf.fill_buf().ctx(|| "reading the build context".into())?;
            let n = b.len().min(2);
            head[..n].copy_from_slice(&b[..n]);
            n
        };
        let reader: Box<dyn Read> = if n == 2 && head == [0x1f, 0x8b] {
            Box::new(flate2::read::GzDecoder::new(buf))
        } else {
            Box::new(buf)
        };
        let mut ar = tar::Archive::new(reader.take(MAX_CONTEXT_BYTES + 1));
        let mut count = 0u64;
        let mut total = 0u64;
        let entries = ar
            .entries()
            .map_err(|e| bad(format!("the build context is not a tar archive: {e}")))?;
        for ent in entries {
            let mut ent = ent.map_err(|e| bad(format!("reading the build context tar: {e}")))?;
            count += 1;
            if count > MAX_CONTEXT_ENTRIES {
                return Err(bad(format!(
                    "the build context has more than {MAX_CONTEXT_ENTRIES} entries"
                )));
            }
            let raw = ent
                .path()
                .map_err(|e| bad(format!("a context entry name: {e}")))?
                .into_owned();
            let Some(parts) = clean_rel(&raw.to_string_lossy()) else {
                return Err(bad(format!(
                    "the build context entry {:?} leaves the context: refusing it",
                    raw.display()
                )));
            };
            if parts.is_empty() {
                continue;
            }
            let dest = parts.iter().fold(c.root.clone(), |p, s| p.join(s));
            // Parents are made by the archive or here; a parent that is a symlink was
            // made by the archive itself: refuse to write through it.
            let mut cur = c.root.clone();
            for p in &parts[..parts.len() - 1] {
                cur.push(p);
                match std::fs::symlink_metadata(&cur) {
                    Ok(m) if m.file_type().is_symlink() => {
                        return Err(bad(format!(
                            "the build context entry {:?} is under a symlink: refusing it",
                            raw.display()
                        )))
                    }
                    Ok(_) => {}
                    Err(_) => std::fs::create_dir_all(&cur)
                        .ctx(|| format!("creating {}", cur.display()))?,
                }
            }
            let h = ent.header().clone();
            let mode = h.mode().unwrap_or(0o644) & 0o7777;
            match h.entry_type() {
                tar::EntryType::Directory => {
                    // Never through a symlink the archive made (is_dir would follow it).
                    if !std::fs::symlink_metadata(&dest).is_ok_and(|m| m.is_dir()) {
                        let _ = std::fs::remove_file(&dest);
                        std::fs::create_dir(&dest)
                            .ctx(|| format!("creating {}", dest.display()))?;
                    }
                    set_mode(&dest, mode | 0o700);
                }
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    let _ = std::fs::remove_file(&dest);
                    let mut f = std::fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .open(&dest)
                        .ctx(|| format!("creating {}", dest.display()))?;
                    total += std::io::copy(&mut ent, &mut f)
                        .ctx(|| format!("writing {}", dest.display()))?;
                    if total > MAX_CONTEXT_BYTES {
                        return Err(bad(format!(
                            "the build context is larger than {MAX_CONTEXT_BYTES} bytes"
                        )));
                    }
                    set_mode(&dest, mode);
                }
                tar::EntryType::Symlink => {
                    let target = ent
                        .link_name()
                        .ok()
                        .flatten()
                        .map(|t| t.into_owned())
                        .unwrap_or_default();
                    let _ = std::fs::remove_file(&dest);
                    std::os::unix::fs::symlink(&target, &dest)
                        .ctx(|| format!("creating {}", dest.display()))?;
                }
                tar::EntryType::Link => {
                    let target = ent
                        .link_name()
                        .ok()
                        .flatten()
                        .map(|t| t.into_owned())
                        .unwrap_or_default();
                    let Some(tp) = clean_rel(&target.to_string_lossy()) else {
                        return Err(bad(format!(
                            "the hard link {:?} points outside the context",
                            raw.display()
                        )));
                    };
                    // Its target resolved inside the context (a symlink the archive made
                    // cannot lead it out), and a regular file.
                    let src = c.resolve(&tp, &raw.to_string_lossy()).map_err(|e| {
                        bad(format!("the hard link {:?}: {}", raw.display(), e.message))
                    })?;
                    if !std::fs::symlink_metadata(&src).is_ok_and(|m| m.is_file()) {
                        return Err(bad(format!(
                            "the hard link {:?} does not point to a file of the context",
                            raw.display()
                        )));
                    }
                    let _ = std::fs::remove_file(&dest);
                    std::fs::copy(&src, &dest)
                        .ctx(|| format!("copying {} to {}", src.display(), dest.display()))?;
                }
                _ => continue,
            }
            let mtime = h.mtime().unwrap_or(0) as i64;
            let ft = filetime::FileTime::from_unix_time(mtime, 0);
            let _ = filetime::set_symlink_file_times(&dest, ft, ft);
        }
        let mut c = c;
        c.load_ignore();
        Ok(c)
    }

    fn load_ignore(&mut self) {
        if let Ok(t) = std::fs::read_to_string(self.root.join(".dockerignore")) {
            self.ignore = parse_ignore(&t);
        }
    }

    /// The context's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Is `rel` (components) excluded by `.dockerignore` (or a parent of it)?
    pub fn ignored(&self, rel: &[&str]) -> bool {
        let mut ex = false;
        for p in &self.ignore {
            let hit = (1..=rel.len()).any(|n| match_parts(&p.parts, &rel[..n]));
            if hit {
                ex = p.exclude;
            }
        }
        ex
    }

    /// Resolve `rel` inside the context, following symlinks but never out of it.
    fn resolve(&self, parts: &[String], what: &str) -> Result<PathBuf> {
        let mut cur: Vec<String> = Vec::new();
        let mut todo: std::collections::VecDeque<String> = parts.iter().cloned().collect();
        let mut links = 0;
        while let Some(p) = todo.pop_front() {
            let path = cur
                .iter()
                .fold(self.root.clone(), |a, s| a.join(s))
                .join(&p);
            match std::fs::symlink_metadata(&path) {
                Ok(m) if m.file_type().is_symlink() => {
                    links += 1;
                    if links > 40 {
                        return Err(bad(format!("{what}: too many levels of symbolic links")));
                    }
                    let target = std::fs::read_link(&path)
                        .ctx(|| format!("reading the link {}", path.display()))?;
                    let joined = if target.is_absolute() {
                        match target.strip_prefix(&self.root) {
                            Ok(r) => r.to_string_lossy().into_owned(),
                            Err(_) => {
                                return Err(bad(format!(
                                    "{what}: the symlink {} points outside the build context (to {}): refusing it",
                                    cur.iter().chain(std::iter::once(&p)).cloned().collect::<Vec<_>>().join("/"),
                                    target.display()
                                )))
                            }
                        }
                    } else {
                        format!("{}/{}", cur.join("/"), target.to_string_lossy())
                    };
                    let Some(np) = clean_rel(&joined) else {
                        return Err(bad(format!(
                            "{what}: the symlink {} points outside the build context (to {}): refusing it",
                            cur.iter().chain(std::iter::once(&p)).cloned().collect::<Vec<_>>().join("/"),
                            target.display()
                        )));
                    };
                    cur.clear();
                    for (i, s) in np.into_iter().enumerate() {
                        todo.insert(i, s);
                    }
                }
                Ok(_) => cur.push(p),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(EngineError::not_found(
                        "file in the build context",
                        what,
                        "check the path (relative to the context) and .dockerignore",
                    ))
                }
                Err(e) => return Err(EngineError::io(format!("reading {}", path.display()), e)),
            }
        }
        Ok(cur.iter().fold(self.root.clone(), |a, s| a.join(s)))
    }

    /// Read a file of the context (the Dockerfile), at most `max` bytes.
    pub fn read_file(&self, rel: &str, max: u64) -> Result<String> {
        let Some(parts) = clean_rel(rel) else {
            return Err(bad(format!(
                "the Dockerfile {rel:?} is outside the build context"
            )));
        };
        let p = self.resolve(&parts, rel).map_err(|e| {
            if e.kind == crate::error::ErrorKind::NotFound {
                EngineError::not_found(
                    "Dockerfile",
                    rel,
                    "give its path inside the context with -f, or - to read it from standard input",
                )
            } else {
                e
            }
        })?;
        let mut f = std::fs::File::open(&p).ctx(|| format!("opening {}", p.display()))?;
        let v = crate::image::build::read_limited(&mut f, max, "the Dockerfile")?;
        String::from_utf8(v).map_err(|_| bad(format!("the Dockerfile {rel} is not UTF-8 text")))
    }

    /// The sources a COPY/ADD source names (a path or a glob), sorted.
    pub fn sources(&self, src: &str) -> Result<Vec<Source>> {
        let Some(parts) = clean_rel(src) else {
            return Err(bad(format!(
                "COPY failed: forbidden path outside the build context: {src}: copy only what is inside the context"
            )));
        };
        if !parts.iter().any(|p| has_glob(p)) {
            let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
            if !parts.is_empty() && self.ignored(&refs) {
                return Err(EngineError::not_found(
                    "file in the build context",
                    src,
                    "it is excluded by .dockerignore",
                ));
            }
            let path = self.resolve(&parts, src)?;
            let is_dir = path.is_dir();
            return Ok(vec![Source {
                rel: parts.join("/"),
                path,
                is_dir,
            }]);
        }
        // Globs: walk the context matching component by component.
        let mut found: Vec<Vec<String>> = vec![vec![]];
        for p in &parts {
            let mut next = Vec::new();
            for base in &found {
                let dir = self.resolve(base, src)?;
                if has_glob(p) {
                    let mut names: Vec<String> = std::fs::read_dir(&dir)
                        .map(|d| {
                            d.flatten()
                                .map(|e| e.file_name().to_string_lossy().into_owned())
                                .collect()
                        })
                        .unwrap_or_default();
                    names.sort();
                    for n in names {
                        if match_component(p, &n) {
                            let mut b = base.clone();
                            b.push(n);
                            next.push(b);
                        }
                    }
                } else if dir.join(p).symlink_metadata().is_ok() {
                    let mut b = base.clone();
                    b.push(p.clone());
                    next.push(b);
                }
            }
            found = next;
        }
        let mut out = Vec::new();
        for f in found {
            let refs: Vec<&str> = f.iter().map(String::as_str).collect();
            if self.ignored(&refs) {
                continue;
            }
            let path = self.resolve(&f, src)?;
            let is_dir = path.is_dir();
            out.push(Source {
                rel: f.join("/"),
                path,
                is_dir,
            });
        }
        if out.is_empty() {
            return Err(EngineError::not_found(
                "file in the build context",
                src,
                "no file matches the pattern (check .dockerignore too)",
            ));
        }
        Ok(out)
    }

    /// Every entry under a directory source, sorted, `.dockerignore` applied:
    /// (path relative to the source, full path, metadata).
    pub fn walk(&self, s: &Source) -> Result<Vec<(String, PathBuf, std::fs::Metadata)>> {
        let mut out = Vec::new();
        let base: Vec<String> = s
            .rel
            .split('/')
            .filter(|x| !x.is_empty())
            .map(String::from)
            .collect();
        self.walk_into(&s.path, &base, "", &mut out)?;
        Ok(out)
    }

    fn walk_into(
        &self,
        dir: &Path,
        base: &[String],
        prefix: &str,
        out: &mut Vec<(String, PathBuf, std::fs::Metadata)>,
    ) -> Result<()> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .ctx(|| format!("reading {}", dir.display()))?
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for n in names {
            let rel = if prefix.is_empty() {
                n.clone()
            } else {
                format!("{prefix}/{n}")
            };
            let mut full: Vec<&str> = base.iter().map(String::as_str).collect();
            full.extend(rel.split('/'));
            if self.ignored(&full) {
                continue;
            }
            let p = dir.join(&n);
            let m = std::fs::symlink_metadata(&p).ctx(|| format!("reading {}", p.display()))?;
            let is_dir = m.is_dir();
            out.push((rel.clone(), p.clone(), m));
            if is_dir {
                self.walk_into(&p, base, &rel, out)?;
            }
        }
        Ok(())
    }
}

/// Pack the directory `dir` as a context tar for a remote engine, as the docker CLI
/// does: `.dockerignore` applied, the Dockerfile and `.dockerignore` always sent,
/// symlinks as symlinks.
pub fn tar_dir(dir: &Path, dockerfile: &str, out: &mut dyn Write) -> Result<()> {
    let ctx = Context::from_dir(dir)?;
    let mut b = tar::Builder::new(out);
    b.follow_symlinks(false);
    let root = Source {
        rel: String::new(),
        path: ctx.root.clone(),
        is_dir: true,
    };
    let keep: Vec<String> = [dockerfile, ".dockerignore"]
        .iter()
        .filter_map(|p| clean_rel(p).map(|v| v.join("/")))
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    for (rel, p, m) in ctx.walk(&root)? {
        seen.insert(rel.clone());
        if m.file_type().is_symlink() || m.is_dir() || m.is_file() {
            b.append_path_with_name(&p, &rel)
                .ctx(|| format!("packing {rel}"))?;
        }
    }
    for k in keep {
        let p = ctx.root.join(&k);
        if !seen.contains(&k) && p.is_file() {
            b.append_path_with_name(&p, &k)
                .ctx(|| format!("packing {k}"))?;
        }
    }
    b.finish().ctx(|| "packing the build context".into())
}

fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode));
}

/// The checksum of sources, as the cache keys COPY/ADD by (content, names, modes and
/// link targets; not times or owners): `file:<hex>` / `dir:<hex>` / `multi:<hex>`.
pub fn checksum(ctx: &Context, sources: &[Source]) -> Result<String> {
    use std::os::unix::fs::MetadataExt;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut file = |h: &mut Sha256, p: &Path| -> Result<()> {
        let mut f = std::fs::File::open(p).ctx(|| format!("reading {}", p.display()))?;
        loop {
            let n = f
                .read(&mut buf)
                .ctx(|| format!("reading {}", p.display()))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        Ok(())
    };
    for s in sources {
        h.update(format!("src {}\n", s.rel));
        if s.is_dir {
            for (rel, p, m) in ctx.walk(s)? {
                h.update(format!("{rel} {:o} {}\n", m.mode(), m.len()));
                if m.file_type().is_symlink() {
                    h.update(
                        std::fs::read_link(&p)
                            .map(|t| t.to_string_lossy().into_owned())
                            .unwrap_or_default(),
                    );
                } else if m.is_file() {
                    file(&mut h, &p)?;
                }
            }
        } else {
            let m = std::fs::metadata(&s.path).ctx(|| format!("reading {}", s.path.display()))?;
            h.update(format!("{:o} {}\n", m.mode(), m.len()));
            file(&mut h, &s.path)?;
        }
    }
    let kind = match sources {
        [s] if s.is_dir => "dir",
        [_] => "file",
        _ => "multi",
    };
    Ok(format!("{kind}:{}", hex::encode(h.finalize())))
}

/// Ownership and mode a COPY gives what it writes.
#[derive(Debug, Clone, Copy)]
pub struct Owner {
    pub uid: u64,
    pub gid: u64,
    /// `--chmod`: for files and directories alike.
    pub mode: Option<u32>,
}

/// Append a file of the context under `name` to a tar.
pub fn append_file<W: Write>(
    b: &mut tar::Builder<W>,
    path: &Path,
    name: &str,
    own: Owner,
) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).ctx(|| format!("reading {}", path.display()))?;
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(m.len());
    h.set_mode(own.mode.unwrap_or(m.mode() & 0o7777));
    h.set_uid(own.uid);
    h.set_gid(own.gid);
    h.set_mtime(m.mtime().max(0) as u64);
    let mut f = std::fs::File::open(path).ctx(|| format!("reading {}", path.display()))?;
    b.append_data(&mut h, name, &mut f)
        .ctx(|| format!("packing {name}"))
}

/// Append a directory entry.
pub fn append_dir<W: Write>(
    b: &mut tar::Builder<W>,
    name: &str,
    mode: u32,
    mtime: u64,
    own: Owner,
) -> Result<()> {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_size(0);
    h.set_mode(own.mode.unwrap_or(mode));
    h.set_uid(own.uid);
    h.set_gid(own.gid);
    h.set_mtime(mtime);
    b.append_data(&mut h, name, std::io::empty())
        .ctx(|| format!("packing {name}"))
}

/// Append the content of a directory source under `dest` (its entries, not itself).
pub fn append_tree<W: Write>(
    ctx: &Context,
    b: &mut tar::Builder<W>,
    s: &Source,
    dest: &str,
    own: Owner,
) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    for (rel, p, m) in ctx.walk(s)? {
        let name = format!("{dest}/{rel}");
        let name = name.trim_start_matches('/');
        if m.file_type().is_symlink() {
            let target = std::fs::read_link(&p).ctx(|| format!("reading {}", p.display()))?;
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            h.set_mode(0o777);
            h.set_uid(own.uid);
            h.set_gid(own.gid);
            h.set_mtime(m.mtime().max(0) as u64);
            b.append_link(&mut h, name, &target)
                .ctx(|| format!("packing {name}"))?;
        } else if m.is_dir() {
            append_dir(b, name, m.mode() & 0o7777, m.mtime().max(0) as u64, own)?;
        } else if m.is_file() {
            append_file(b, &p, name, own)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_match() {
        assert!(match_component("*.txt", "a.txt"));
        assert!(!match_component("*.txt", "a.txtx"));
        assert!(match_component("a?c", "abc"));
        assert!(match_component("[a-c]x", "bx"));
        assert!(!match_component("[^a-c]x", "bx"));
        assert!(match_component("home*", "homework"));
        assert!(match_component("[]a]", "]"));
        assert!(match_component("[!x]?", "ab"));
        assert!(match_component("\\*x", "*x"));
        assert!(!match_component("\\*x", "ax"));
        assert!(!match_component("a[", "a"));
        assert!(match_component("*a*b*", "xxaxxbxx"));
        assert!(!match_component("*a*b*", "xxbxxaxx"));
        assert!(match_component("", ""));
        assert!(!match_component("", "a"));
        let p = |s: &str| s.split('/').map(String::from).collect::<Vec<_>>();
        assert!(match_parts(&p("**/*.log"), &["a", "b", "c.log"]));
        assert!(match_parts(&p("**/*.log"), &["c.log"]));
        assert!(match_parts(&p("a/**"), &["a"]));
        assert!(match_parts(
            &p("a/**/b/**/c"),
            &["a", "x", "b", "y", "z", "c"]
        ));
        assert!(!match_parts(&p("a/**/b/**/c"), &["a", "x", "c", "b"]));
    }

    /// Stars of a caller's pattern that cannot match: a backtracking matcher takes
    /// exponential time on these (this test would not end); the last-star one is linear.
    #[test]
    fn hostile_patterns_end() {
        let name = "a".repeat(200);
        assert!(!match_component("*a*a*a*a*a*a*a*a*b", &name));
        assert!(match_component("*a*a*a*a*a*a*a*a*", &name));
        let pat: Vec<String> = std::iter::repeat_n(["**", "a"], 12)
            .flatten()
            .map(String::from)
            .chain(std::iter::once("b".to_string()))
            .collect();
        let path = vec!["a"; 200];
        assert!(!match_parts(&pat, &path));
    }

    #[test]
    fn dockerignore_rules() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(".dockerignore"),
            "# comment\n*.md\n!README.md\ntemp?\n**/*.log\nsecret/\n",
        )
        .unwrap();
        let c = Context::from_dir(dir.path()).unwrap();
        assert!(c.ignored(&["x.md"]));
        assert!(!c.ignored(&["README.md"]));
        assert!(c.ignored(&["tempa"]));
        assert!(c.ignored(&["a", "b", "c.log"]));
        assert!(c.ignored(&["secret", "key"]));
        assert!(!c.ignored(&["src", "x.md"]));
    }

    #[test]
    fn sources_stay_inside() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        std::fs::create_dir(r.join("sub")).unwrap();
        std::fs::write(r.join("sub/a.txt"), "a").unwrap();
        std::fs::write(r.join("sub/b.txt"), "b").unwrap();
        std::os::unix::fs::symlink("sub/a.txt", r.join("link")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", r.join("out")).unwrap();
        std::os::unix::fs::symlink("../../x", r.join("sub/up")).unwrap();
        let c = Context::from_dir(r).unwrap();
        let s = c.sources("sub/*.txt").unwrap();
        assert_eq!(
            s.iter().map(|s| s.rel.as_str()).collect::<Vec<_>>(),
            vec!["sub/a.txt", "sub/b.txt"]
        );
        assert_eq!(
            std::fs::read_to_string(&c.sources("link").unwrap()[0].path).unwrap(),
            "a"
        );
        assert!(c
            .sources("../x")
            .unwrap_err()
            .message
            .contains("outside the build context"));
        assert!(c
            .sources("out")
            .unwrap_err()
            .message
            .contains("outside the build context"));
        assert!(c
            .sources("sub/up")
            .unwrap_err()
            .message
            .contains("outside the build context"));
        assert!(c.sources("nope").is_err());
        let ck1 = checksum(&c, &c.sources("sub").unwrap()).unwrap();
        std::fs::write(r.join("sub/b.txt"), "B").unwrap();
        let ck2 = checksum(&c, &c.sources("sub").unwrap()).unwrap();
        assert_ne!(ck1, ck2);
        assert!(ck1.starts_with("dir:"));
    }

    #[test]
    fn tar_context_never_writes_or_reads_through_its_own_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::create_dir(&victim).unwrap();
        std::fs::write(victim.join("secret"), "s").unwrap();
        let link = |b: &mut tar::Builder<Vec<u8>>| {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            h.set_mode(0o777);
            b.append_link(&mut h, "out", &victim).unwrap();
        };
        // A directory entry over the link must not chmod what it points to.
        let mut b = tar::Builder::new(Vec::new());
        link(&mut b);
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_size(0);
        h.set_mode(0o777);
        b.append_data(&mut h, "out", std::io::empty()).unwrap();
        let data = b.into_inner().unwrap();
        let c = Context::from_tar(&mut &data[..], dir.path().join("s1")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_ne!(
            std::fs::metadata(&victim).unwrap().permissions().mode() & 0o777,
            0o777
        );
        drop(c);
        // A hard link through the archive's own symlink is refused.
        let mut b = tar::Builder::new(Vec::new());
        link(&mut b);
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Link);
        h.set_size(0);
        h.set_mode(0o644);
        b.append_link(&mut h, "stolen", "out/secret").unwrap();
        let data = b.into_inner().unwrap();
        let e = Context::from_tar(&mut &data[..], dir.path().join("s2"))
            .err()
            .unwrap();
        assert!(e.message.contains("hard link"), "{e}");
        assert!(!dir.path().join("s2/context/stolen").exists());
    }

    #[test]
    fn tar_context_refuses_escapes() {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(1);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        // `set_path` refuses `..`; write the name by hand.
        h.as_gnu_mut().unwrap().name[..7].copy_from_slice(b"../evil");
        h.set_cksum();
        b.append(&h, &b"x"[..]).unwrap();
        let data = b.into_inner().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let e = Context::from_tar(&mut &data[..], dir.path().join("s"))
            .err()
            .unwrap();
        assert!(e.message.contains("leaves the context"), "{e}");
    }
}
