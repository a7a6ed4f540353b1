//! The audit journal: every mutating call and every refusal, chained and keyed so that an
//! edited, inserted or removed entry is detected by `wharf audit verify`.
//!
//! Files beside the journal `audit.jsonl` (one [`AuditEntry`] per line):
//! - `audit.jsonl.key`: the chain's secret, 32 random bytes, mode 0600, made by the first
//!   record. Without it nobody can write entries that verify.
//! - `audit.jsonl.head`: the sequence number and hash of the newest entry, with a MAC; it
//!   detects entries removed from the end, which the chain alone cannot.
//! - `audit.jsonl.lock`: writers hold it exclusively, readers and `verify` shared.
//!
//! Each entry's `hash` is `HMAC-SHA256(key, prev || canonical JSON of the entry without its
//! hash)`, hex, and the entry says `"alg":"hmac-sha256"`. Entries without `alg` were
//! written before the key existed and verify as `sha256(prev || JSON)`; they may only come
//! before the first keyed entry.
//!
//! The journal is the truth: each record reads the sequence number and previous hash from
//! the journal's last complete line (read backwards from the end), under the lock. The
//! head is a guard against truncation: it may lag the journal (a crash between the
//! append and the head update), never lead it. A line cut short by a crash (no newline)
//! is cut off by the next writer, which records that it did (`audit.torn`, naming the
//! byte offset); until then `verify` reports it as torn, with its line and offset. What a
//! writer finds wrong with the head (entries gone from the end, a rewritten or missing
//! head) it records in the chain itself, so `verify` keeps reporting it.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::caller::{Caller, Role};
use crate::error::{EngineError, ErrorKind, IoContext, Result};
use crate::state::{read_json, sync_dir, FileLock};

/// The hash before the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The `alg` of keyed entries.
pub const ALG_HMAC: &str = "hmac-sha256";

/// The action of the entry a writer adds when it cut a torn line off the journal.
pub const TORN: &str = "audit.torn";

/// Actions of entries a writer adds about damage it found: `verify` fails on them.
const REMOVED: &str = "audit.removed";
const REWRITTEN: &str = "audit.rewritten";
const HEAD_LOST: &str = "audit.head-lost";
const DAMAGED: &str = "audit.damaged";

/// Does an entry with this action record damage (so the journal is not intact)?
fn is_alarm(action: &str) -> bool {
    matches!(action, REMOVED | REWRITTEN | HEAD_LOST | DAMAGED)
}

/// Environment variable that turns on the syslog mirror of [`AuditLog::new`]: `1` (or
/// `on`) sends to `/dev/log`, an absolute path to that datagram socket.
pub const SYSLOG_ENV: &str = "WHARF_AUDIT_SYSLOG";

const KEY_LEN: usize = 32;
type Key = [u8; KEY_LEN];

/// The longest last line a writer reads back (entries are far smaller).
const MAX_TAIL: u64 = 16 << 20;

/// One audited call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub seq: u64,
    /// RFC 3339 with nanoseconds.
    pub time: String,
    pub uid: u32,
    pub user: String,
    pub role: String,
    /// `kind.verb`, e.g. `container.stop`; `audit.*` for what the journal records about
    /// itself (e.g. `audit.torn`).
    pub action: String,
    /// The object, by name or id (empty for kind-wide calls such as prune).
    pub target: String,
    /// `allowed`, `denied` or `failed`; `noted` for the journal's own entries.
    pub outcome: String,
    /// Why it was denied or failed; parameters that matter for allowed calls.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
    /// How `hash` is made: `hmac-sha256`, or empty for the old unkeyed SHA-256 chain.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub alg: String,
    pub prev: String,
    #[serde(default)]
    pub hash: String,
}

fn mac(key: &Key, parts: &[&[u8]]) -> String {
    let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    let mut ctx = ring::hmac::Context::with_key(&k);
    for p in parts {
        ctx.update(p);
    }
    hex::encode(ctx.sign().as_ref())
}

impl AuditEntry {
    /// The canonical JSON the hash covers: the entry with an empty `hash`.
    fn body(&self) -> Vec<u8> {
        let mut copy = self.clone();
        copy.hash = String::new();
        serde_json::to_vec(&copy).expect("audit entries always serialize")
    }

    /// The hash this entry must carry, or why it cannot be computed.
    fn expected_hash(&self, key: Option<&Key>) -> std::result::Result<String, String> {
        let body = self.body();
        match self.alg.as_str() {
            "" => {
                let mut h = Sha256::new();
                h.update(self.prev.as_bytes());
                h.update(&body);
                Ok(hex::encode(h.finalize()))
            }
            ALG_HMAC => match key {
                Some(k) => Ok(mac(k, &[self.prev.as_bytes(), &body])),
                None => Err("it is keyed (HMAC-SHA256) but the key is missing".into()),
            },
            other => Err(format!("its algorithm {other:?} is unknown")),
        }
    }
}

/// `audit.jsonl.head`: the newest entry the last writer wrote, sealed with the key.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct Head {
    seq: u64,
    hash: String,
    /// HMAC of seq and hash; empty in heads written before the key existed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    mac: String,
}

impl Head {
    fn mac_of(key: &Key, seq: u64, hash: &str) -> String {
        mac(
            key,
            &[
                b"wharf audit head\n",
                seq.to_string().as_bytes(),
                b"\n",
                hash.as_bytes(),
            ],
        )
    }

    fn sealed(key: &Key, seq: u64, hash: &str) -> Head {
        Head {
            seq,
            hash: hash.to_string(),
            mac: Self::mac_of(key, seq, hash),
        }
    }

    fn authentic(&self, key: &Key) -> bool {
        !self.mac.is_empty() && self.mac == Self::mac_of(key, self.seq, &self.hash)
    }
}

/// A line at the end of the journal cut short mid-write (no newline).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TornLine {
    /// 1-based line number.
    pub line: u64,
    /// Byte offset of its first byte.
    pub offset: u64,
    /// Its length in bytes.
    pub len: u64,
}

/// What [`AuditLog::verify_report`] found in a journal whose chain is intact.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditReport {
    /// Entries checked (the sequence number of the last one).
    pub entries: u64,
    /// Of those, entries of the old unkeyed format (before the key existed).
    pub unkeyed: u64,
    /// The entry the head names; entries after it were written after the head was last
    /// updated (a crash between the append and the head update), and are chained.
    pub head: u64,
    /// Lines cut short by a crash and cut off by a later writer: `(entry, detail)` of
    /// the `audit.torn` entries that recorded them.
    pub torn: Vec<(u64, String)>,
    /// A torn last line no writer has dealt with yet.
    pub torn_tail: Option<TornLine>,
}

/// The journal's end, read backwards: the last complete line and what follows it.
#[derive(Debug, Default, PartialEq, Eq)]
struct Tail {
    /// Offset and bytes (newline excluded) of the last complete line.
    last: Option<(u64, Vec<u8>)>,
    /// Offset and bytes of what follows the last newline (a line cut short), if any.
    fragment: Option<(u64, Vec<u8>)>,
}

/// Read the end of `f` (`len` bytes long) backwards until the last complete line is
/// whole; never reads the rest of the file.
fn read_tail(f: &File, len: u64) -> std::io::Result<Tail> {
    let mut buf: Vec<u8> = Vec::new();
    let mut start = len;
    let mut chunk = 4096u64;
    loop {
        let last_nl = buf.iter().rposition(|&b| b == b'\n');
        let prev_nl = last_nl.and_then(|p| buf[..p].iter().rposition(|&b| b == b'\n'));
        if start == 0 || prev_nl.is_some() {
            let mut t = Tail::default();
            match last_nl {
                None if buf.is_empty() => {}
                None => t.fragment = Some((start, buf)),
                Some(p) => {
                    let from = prev_nl.map(|q| q + 1).unwrap_or(0);
                    if p + 1 < buf.len() {
                        t.fragment = Some((start + p as u64 + 1, buf[p + 1..].to_vec()));
                    }
                    buf.truncate(p);
                    t.last = Some((start + from as u64, buf.split_off(from)));
                }
            }
            return Ok(t);
        }
        if len - start >= MAX_TAIL {
            return Err(std::io::Error::other(format!(
                "its last line is longer than {} MiB",
                MAX_TAIL >> 20
            )));
        }
        let n = chunk.min(start);
        start -= n;
        let mut more = vec![0u8; n as usize];
        f.read_exact_at(&mut more, start)?;
        more.extend_from_slice(&buf);
        buf = more;
        chunk = (chunk * 2).min(1 << 20);
    }
}

/// The identity of the entries the journal writes about itself.
fn journal_itself() -> Caller {
    Caller {
        uid: nix::unistd::geteuid().as_raw(),
        gid: nix::unistd::getegid().as_raw(),
        name: "wharf".into(),
        role: Role("system".into()),
        project: None,
    }
}

/// Printable start of bytes that are not an entry, for a message.
fn preview(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]);
    let more = if bytes.len() > 200 { "..." } else { "" };
    format!("{s:?}{more}")
}

/// The audit journal under the state root (`audit.jsonl` and its `.key`, `.head`, `.lock`).
#[derive(Debug, Clone)]
pub struct AuditLog {
    path: PathBuf,
    syslog: Option<PathBuf>,
}

impl AuditLog {
    /// The journal at `path` (normally `<root>/audit.jsonl`). Mirrors entries to syslog
    /// when [`SYSLOG_ENV`] says so (see [`with_syslog`](Self::with_syslog)).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        let syslog = match std::env::var(SYSLOG_ENV) {
            Ok(v) if v == "1" || v == "on" => Some(PathBuf::from("/dev/log")),
            Ok(v) if v.starts_with('/') => Some(PathBuf::from(v)),
            _ => None,
        };
        AuditLog {
            path: path.into(),
            syslog,
        }
    }

    /// Also send every entry, as written, to the syslog datagram socket `socket`
    /// (normally `/dev/log`; `None` = no mirror) with facility authpriv. A copy held by
    /// another machine's log collector is what makes the journal evidence against root.
    /// The mirror is best effort: a failure to send is logged, never fatal.
    pub fn with_syslog(mut self, socket: Option<PathBuf>) -> Self {
        self.syslog = socket;
        self
    }

    fn sibling(&self, ext: &str) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push(ext);
        p.into()
    }

    /// The journal file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The key file (`audit.jsonl.key`).
    pub fn key_path(&self) -> PathBuf {
        self.sibling(".key")
    }

    fn head_path(&self) -> PathBuf {
        self.sibling(".head")
    }

    fn fail(&self, msg: impl std::fmt::Display) -> EngineError {
        EngineError::corrupt(format!("audit journal {}: {msg}", self.path.display()))
    }

    /// The key, if made; an error if it is damaged or open to other users.
    fn load_key(&self) -> Result<Option<Key>> {
        let p = self.key_path();
        let f = match File::open(&p) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(EngineError::io(
                    format!("reading the audit key {}", p.display()),
                    e,
                ))
            }
        };
        let mode = f
            .metadata()
            .ctx(|| format!("reading the audit key {}", p.display()))?
            .mode();
        if mode & 0o077 != 0 {
            return Err(EngineError::new(
                ErrorKind::Conflict,
                format!(
                    "the audit key {} is open to other users (mode {:o}): whoever reads it can forge the journal; run chmod 600 on it",
                    p.display(),
                    mode & 0o777
                ),
            ));
        }
        let mut bytes = Vec::with_capacity(KEY_LEN + 1);
        f.take(KEY_LEN as u64 + 1)
            .read_to_end(&mut bytes)
            .ctx(|| format!("reading the audit key {}", p.display()))?;
        let key: Key = bytes.as_slice().try_into().map_err(|_| {
            EngineError::corrupt(format!(
                "the audit key {} is damaged ({} bytes, not {KEY_LEN}): restore it from a backup",
                p.display(),
                bytes.len()
            ))
        })?;
        Ok(Some(key))
    }

    /// Make and install a new key (hold the lock). Written aside, synced, renamed in.
    fn install_key(&self, key: &Key) -> Result<()> {
        let p = self.key_path();
        let tmp = self.sibling(".key.tmp");
        let _ = fs::remove_file(&tmp);
        let res = (|| {
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)
                .ctx(|| format!("creating the audit key {}", tmp.display()))?;
            f.write_all(key)
                .and_then(|_| f.sync_all())
                .ctx(|| format!("writing the audit key {}", tmp.display()))?;
            fs::rename(&tmp, &p).ctx(|| format!("installing the audit key {}", p.display()))?;
            match p.parent() {
                Some(d) => sync_dir(d),
                None => Ok(()),
            }
        })();
        if res.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        res
    }

    fn new_key(&self) -> Result<Key> {
        let mut key = [0u8; KEY_LEN];
        getrandom::fill(&mut key).map_err(|e| {
            EngineError::unavailable(format!(
                "getting random bytes for the audit key {}: {e}",
                self.key_path().display()
            ))
        })?;
        Ok(key)
    }

    /// The head, `Err(reason)` if it is there but damaged.
    fn read_head(&self) -> Result<std::result::Result<Option<Head>, String>> {
        match read_json::<Head>(&self.head_path()) {
            Ok(h) => Ok(Ok(h)),
            Err(e) if e.kind == ErrorKind::Corrupt => Ok(Err(e.message)),
            Err(e) => Err(e),
        }
    }

    /// The new head is written whole into the spare (the head before last), then the
    /// two are swapped in one step (`renameat2` with RENAME_EXCHANGE): the head is never
    /// torn, and no file is made per entry (a new inode per audited call cost more
    /// than the write on a root without a journal). Readers of the head hold the
    /// journal's lock, as writers do, so none reads the spare while it is rewritten.
    /// The first head, or a file system without the exchange, is renamed into place.
    fn write_head(&self, head: &Head) -> Result<()> {
        let data = serde_json::to_vec(head)
            .map_err(|err| EngineError::internal(format!("encoding the audit head: {err}")))?;
        let (spare, dst) = (self.sibling(".head.spare"), self.head_path());
        crate::state::replace_via_spare(&spare, &dst, &data)
            .ctx(|| format!("writing {}", dst.display()))
    }

    /// Append an entry for `caller` doing `action` on `target` with `outcome`.
    pub fn record(
        &self,
        caller: &Caller,
        action: &str,
        target: &str,
        outcome: &str,
        detail: &str,
    ) -> Result<AuditEntry> {
        let _lock = FileLock::exclusive(&self.sibling(".lock"))?;
        let mut f = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&self.path)
            .ctx(|| format!("opening audit journal {}", self.path.display()))?;
        let len = f
            .metadata()
            .ctx(|| format!("reading audit journal {}", self.path.display()))?
            .len();
        let tail = read_tail(&f, len).map_err(|e| {
            EngineError::io(
                format!("reading the end of audit journal {}", self.path.display()),
                e,
            )
        })?;

        // Entries this writer adds about the journal before the caller's: (action, target, detail).
        let mut notes: Vec<(&str, String, String)> = Vec::new();
        let mut last: Option<AuditEntry> = None;
        if let Some((off, line)) = &tail.last {
            match serde_json::from_slice::<AuditEntry>(line) {
                Ok(e) => last = Some(e),
                Err(err) => notes.push((
                    DAMAGED,
                    format!("byte {off}"),
                    format!(
                        "the journal's last line (byte offset {off}, {} bytes) is not an entry ({err}): it was damaged or edited; the chain goes on from the entry the head names: {}",
                        line.len(),
                        preview(line)
                    ),
                )),
            }
        }
        let keyed = last.as_ref().is_some_and(|e| e.alg == ALG_HMAC);
        let had_key = self.load_key()?;
        if had_key.is_none() && keyed {
            return Err(EngineError::corrupt(format!(
                "the audit key {} is missing but audit journal {} holds keyed entries: restore the key from a backup; or, to start a new journal, move {} and {} aside (keep them as evidence)",
                self.key_path().display(),
                self.path.display(),
                self.path.display(),
                self.head_path().display()
            )));
        }
        let key = match had_key {
            Some(k) => k,
            None => self.new_key()?,
        };

        // A line cut short: complete it if it is a whole entry that lost only its newline,
        // else cut it off and say so.
        let mut newline_first = false;
        // The journal's length before this record's append.
        let mut base = len;
        if let Some((off, frag)) = &tail.fragment {
            let whole = serde_json::from_slice::<AuditEntry>(frag).ok().filter(|e| {
                let (s, h) = last
                    .as_ref()
                    .map(|l| (l.seq, l.hash.as_str()))
                    .unwrap_or((0, GENESIS));
                e.seq == s + 1
                    && e.prev == h
                    && e.expected_hash(Some(&key)).is_ok_and(|x| x == e.hash)
            });
            match whole {
                Some(e) => {
                    newline_first = true;
                    last = Some(e);
                }
                None => {
                    base = *off;
                    f.set_len(*off).ctx(|| {
                        format!(
                            "cutting a torn line off audit journal {} at byte {off}",
                            self.path.display()
                        )
                    })?;
                    notes.push((
                        TORN,
                        format!("byte {off}"),
                        format!(
                            "{} bytes at byte offset {off} were an entry cut short mid-write (a crash or a full disk), not part of the chain; they were cut off the journal: {}",
                            frag.len(),
                            preview(frag)
                        ),
                    ));
                }
            }
        }

        let (mut seq, mut prev) = match &last {
            Some(e) => (e.seq, e.hash.clone()),
            None => (0, GENESIS.to_string()),
        };
        let head = match self.read_head()? {
            Ok(h) => h,
            Err(why) => {
                notes.push((
                    HEAD_LOST,
                    "audit.jsonl.head".into(),
                    format!("{why}; entries removed from the end of the journal before now cannot be ruled out"),
                ));
                None
            }
        };
        if last.is_none() && tail.last.is_some() {
            // The last line is garbage: go on from what the head says.
            if let Some(h) = &head {
                (seq, prev) = (h.seq, h.hash.clone());
            }
        }
        match &head {
            Some(h) => {
                if had_key.is_some() && !h.authentic(&key) {
                    let why = if h.mac.is_empty() {
                        "carries no MAC although the key exists: it was replaced"
                    } else {
                        "has a MAC that does not match: it was forged or edited"
                    };
                    notes.push((
                        REWRITTEN,
                        "audit.jsonl.head".into(),
                        format!("audit.jsonl.head (entry {}) {why}", h.seq),
                    ));
                }
                if h.seq > seq {
                    notes.push((
                        REMOVED,
                        format!("entries {}-{}", seq + 1, h.seq),
                        format!(
                            "the journal ended at entry {seq} but audit.jsonl.head named entry {}: entries {} to {} were removed from the end (or lost in a power failure before they reached the disk)",
                            h.seq,
                            seq + 1,
                            h.seq
                        ),
                    ));
                    // Numbers are never reused: the gap stays visible.
                    seq = h.seq;
                } else if (h.seq == seq && h.hash != prev)
                    || (h.seq + 1 == seq && last.as_ref().is_some_and(|l| l.prev != h.hash))
                {
                    notes.push((
                        REWRITTEN,
                        format!("entry {}", h.seq),
                        format!(
                            "entry {} is not the one audit.jsonl.head recorded (its hash differs): the journal was rewritten",
                            h.seq
                        ),
                    ));
                }
            }
            None if seq > 1 || keyed || (had_key.is_some() && seq > 0) => notes.push((
                HEAD_LOST,
                "audit.jsonl.head".into(),
                format!(
                    "audit.jsonl.head is missing while the journal holds {seq} entries: it was deleted; entries removed from the end of the journal before now cannot be ruled out"
                ),
            )),
            None => {}
        }

        let alarms = notes.iter().any(|(a, _, _)| is_alarm(a));
        if had_key.is_none() {
            // The first keyed write: seal the head first, then install the key, so that a
            // key never exists beside an unsealed head (see `verify`).
            if !alarms {
                self.write_head(&Head::sealed(&key, seq, &prev))?;
            }
            self.install_key(&key)?;
        } else if head.is_none() && !alarms {
            self.write_head(&Head::sealed(&key, seq, &prev))?;
        }

        let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        let me = journal_itself();
        let mut written = Vec::new();
        let mut push = |who: &Caller, action: &str, target: &str, outcome: &str, detail: &str| {
            let mut e = AuditEntry {
                seq: seq + 1,
                time: time.clone(),
                uid: who.uid,
                user: who.name.clone(),
                role: who.role.to_string(),
                action: action.into(),
                target: target.into(),
                outcome: outcome.into(),
                detail: detail.into(),
                alg: ALG_HMAC.into(),
                prev: prev.clone(),
                hash: String::new(),
            };
            e.hash = mac(&key, &[e.prev.as_bytes(), &e.body()]);
            seq = e.seq;
            prev = e.hash.clone();
            written.push(e);
        };
        for (a, t, d) in &notes {
            push(&me, a, t, "noted", d);
        }
        push(caller, action, target, outcome, detail);

        let mut buf = Vec::new();
        if newline_first {
            buf.push(b'\n');
        }
        for e in &written {
            serde_json::to_writer(&mut buf, e).expect("audit entries always serialize");
            buf.push(b'\n');
        }
        // No fsync: the journal is tamper evidence, not a durability log, and every
        // `wharf run` writes two entries. A power failure can lose the newest entries;
        // `verify` then says so (the head names more entries than the file holds).
        if let Err(e) = f.write_all(&buf) {
            // Leave no torn line behind if we can.
            let _ = f.set_len(base);
            return Err(EngineError::io(
                format!("appending to audit journal {}", self.path.display()),
                e,
            ));
        }
        self.write_head(&Head::sealed(&key, seq, &prev))?;
        self.mirror(&written);
        written
            .pop()
            .ok_or_else(|| EngineError::internal("the audit record wrote no entry"))
    }

    /// Send `entries` to the syslog socket, if one is set.
    fn mirror(&self, entries: &[AuditEntry]) {
        let Some(sock) = &self.syslog else {
            return;
        };
        let s = match std::os::unix::net::UnixDatagram::unbound() {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(
                    "could not mirror the audit journal to {}: {e}",
                    sock.display()
                );
                return;
            }
        };
        // Never hold up the audited call on a stalled log daemon.
        let _ = s.set_nonblocking(true);
        for e in entries {
            let json = serde_json::to_string(e).unwrap_or_default();
            // <PRI> = authpriv (10) * 8 + info (6).
            let msg = format!("<86>wharf-audit[{}]: {json}", std::process::id());
            if let Err(err) = s.send_to(msg.as_bytes(), sock) {
                tracing::warn!(
                    "could not mirror audit entry {} to {}: {err}",
                    e.seq,
                    sock.display()
                );
            }
        }
    }

    /// Every entry, oldest first (lines that are not entries are reported by
    /// [`verify`](Self::verify)).
    pub fn read(&self) -> Result<Vec<AuditEntry>> {
        let f = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
            Err(e) => {
                return Err(EngineError::io(
                    format!("reading {}", self.path.display()),
                    e,
                ))
            }
        };
        let _lock = FileLock::shared(&self.sibling(".lock"))?;
        let mut out = Vec::new();
        for line in BufReader::new(f).split(b'\n') {
            let line = line.ctx(|| format!("reading {}", self.path.display()))?;
            if let Ok(e) = serde_json::from_slice(&line) {
                out.push(e);
            }
        }
        Ok(out)
    }

    /// Check the whole chain and the head. Returns the number of entries, or an error
    /// naming the first line that was edited, inserted, removed or torn (line number and
    /// byte offset); a torn last line is named as torn, not as tampering.
    pub fn verify(&self) -> Result<u64> {
        let r = self.verify_report()?;
        if let Some(t) = r.torn_tail {
            return Err(self.fail(format!(
                "line {} (byte offset {}, {} bytes) is torn: an entry was cut short mid-write by a crash or a full disk, which is not tampering; the {} entries before it are intact. The next audited call cuts it off and records that it did (audit.torn)",
                t.line, t.offset, t.len, r.entries
            )));
        }
        Ok(r.entries)
    }

    /// Check the whole chain and the head, under the journal's lock (shared: writers
    /// wait). `Ok` when every entry is intact, with what is worth knowing (a torn last
    /// line included); an error naming the first problem otherwise.
    pub fn verify_report(&self) -> Result<AuditReport> {
        let _lock = FileLock::shared(&self.sibling(".lock"))?;
        let key = self.load_key()?;
        let head = match self.read_head()? {
            Ok(h) => h,
            Err(why) => return Err(self.fail(why)),
        };
        let f = match File::open(&self.path) {
            Ok(f) => Some(f),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                return Err(EngineError::io(
                    format!("reading {}", self.path.display()),
                    e,
                ))
            }
        };
        let mut report = AuditReport::default();
        let mut prev = GENESIS.to_string();
        let mut seq = 0u64;
        let mut keyed = false;
        let mut at_head: Option<String> = head
            .as_ref()
            .filter(|h| h.seq == 0)
            .map(|_| GENESIS.to_string());
        if let Some(f) = f {
            let mut r = BufReader::new(f);
            let mut buf = Vec::new();
            let (mut line_no, mut offset) = (0u64, 0u64);
            loop {
                buf.clear();
                let n = r
                    .read_until(b'\n', &mut buf)
                    .ctx(|| format!("reading {}", self.path.display()))?;
                if n == 0 {
                    break;
                }
                line_no += 1;
                let at = offset;
                offset += n as u64;
                let complete = buf.last() == Some(&b'\n');
                let line = if complete { &buf[..n - 1] } else { &buf[..] };
                let e: AuditEntry = match serde_json::from_slice(line) {
                    Ok(e) => e,
                    Err(_) if !complete => {
                        report.torn_tail = Some(TornLine {
                            line: line_no,
                            offset: at,
                            len: n as u64,
                        });
                        break;
                    }
                    Err(err) => {
                        return Err(self.fail(format!(
                            "line {line_no} (byte offset {at}) is not an entry ({err}): it was damaged or edited"
                        )))
                    }
                };
                let here = format!("line {line_no} (byte offset {at})");
                let gap = e.action == REMOVED && e.seq > seq + 1;
                if e.seq != seq + 1 && !gap {
                    return Err(self.fail(format!(
                        "{here}: entry {} follows entry {seq}: entries were removed or inserted",
                        e.seq
                    )));
                }
                if e.prev != prev {
                    return Err(self.fail(format!(
                        "{here}: entry {} does not chain to the entry before it: entries were removed, inserted or reordered",
                        e.seq
                    )));
                }
                if e.alg.is_empty() && keyed {
                    return Err(self.fail(format!(
                        "{here}: entry {} is in the old unkeyed format after keyed entries: it was forged",
                        e.seq
                    )));
                }
                match e.expected_hash(key.as_ref()) {
                    Ok(h) if h == e.hash => {}
                    Ok(_) => {
                        return Err(self.fail(format!(
                            "{here}: entry {} was edited (its hash does not match)",
                            e.seq
                        )))
                    }
                    Err(why) => {
                        return Err(self.fail(format!(
                            "{here}: entry {} cannot be checked: {why}; restore {} from a backup",
                            e.seq,
                            self.key_path().display()
                        )))
                    }
                }
                if is_alarm(&e.action) {
                    return Err(self.fail(format!(
                        "{here}: entry {} (written {}) records that {}",
                        e.seq, e.time, e.detail
                    )));
                }
                if e.alg == ALG_HMAC {
                    keyed = true;
                } else {
                    report.unkeyed += 1;
                }
                if e.action == TORN {
                    report.torn.push((e.seq, e.detail.clone()));
                }
                if head.as_ref().is_some_and(|h| h.seq == e.seq) {
                    at_head = Some(e.hash.clone());
                }
                prev = e.hash;
                seq = e.seq;
            }
        }
        report.entries = seq;
        match &head {
            None => {
                // Before the key, a crash could come between the first append and the
                // first head; since, the head is written before the first entry.
                if seq > 1 || keyed || (key.is_some() && seq > 0) {
                    return Err(self.fail(format!(
                        "audit.jsonl.head is missing while the journal holds {seq} entries: it was deleted, and entries removed from the end cannot be ruled out"
                    )));
                }
            }
            Some(h) => {
                if let Some(k) = &key {
                    if !h.authentic(k) {
                        return Err(self.fail(if h.mac.is_empty() {
                            "audit.jsonl.head carries no MAC although the key exists: it was replaced".to_string()
                        } else {
                            "audit.jsonl.head has a MAC that does not match: it was forged or edited".to_string()
                        }));
                    }
                }
                if h.seq > seq {
                    return Err(self.fail(format!(
                        "the journal ends at entry {seq} but audit.jsonl.head names entry {}: entries {} to {} were removed from the end (or lost in a power failure before they reached the disk)",
                        h.seq,
                        seq + 1,
                        h.seq
                    )));
                }
                if at_head.as_deref() != Some(h.hash.as_str()) {
                    return Err(self.fail(format!(
                        "entry {} is not the one audit.jsonl.head recorded (its hash differs): the journal was rewritten",
                        h.seq
                    )));
                }
                report.head = h.seq;
            }
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> Caller {
        Caller {
            uid: 1000,
            gid: 1000,
            name: "alice".into(),
            role: crate::Role("user".into()),
            project: None,
        }
    }

    fn journal() -> (tempfile::TempDir, AuditLog) {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::new(dir.path().join("audit.jsonl")).with_syslog(None);
        (dir, log)
    }

    fn rec(log: &AuditLog, target: &str) -> AuditEntry {
        log.record(
            &alice(),
            "container.stop",
            target,
            "denied",
            "it belongs to bob",
        )
        .unwrap()
    }

    /// Each entry's head is swapped in with the spare: two files take turns, none is
    /// made per entry, and the chain verifies.
    #[test]
    fn the_head_takes_turns_with_its_spare() {
        use std::os::unix::fs::MetadataExt;
        let (_d, log) = journal();
        let ino = |p: &Path| fs::metadata(p).unwrap().ino();
        rec(&log, "c0");
        rec(&log, "c1");
        let (head, spare) = (log.head_path(), log.sibling(".head.spare"));
        let mut was = [ino(&head), ino(&spare)];
        for i in 2..6 {
            rec(&log, &format!("c{i}"));
            let now = [ino(&head), ino(&spare)];
            assert_eq!(
                now,
                [was[1], was[0]],
                "entry {i}: the same two files, swapped"
            );
            was = now;
        }
        assert_eq!(log.verify().unwrap(), 6);
    }

    /// A journal as written before the key: unkeyed entries and an unsealed head.
    fn write_legacy(log: &AuditLog, n: u64) {
        let mut prev = GENESIS.to_string();
        let mut text = String::new();
        for seq in 1..=n {
            let mut e = AuditEntry {
                seq,
                time: "2024-01-01T00:00:00.000000000Z".into(),
                uid: 1000,
                user: "alice".into(),
                role: "user".into(),
                action: "container.stop".into(),
                target: format!("old-{seq}"),
                outcome: "allowed".into(),
                detail: String::new(),
                alg: String::new(),
                prev: prev.clone(),
                hash: String::new(),
            };
            e.hash = e.expected_hash(None).unwrap();
            prev = e.hash.clone();
            text.push_str(&serde_json::to_string(&e).unwrap());
            text.push('\n');
        }
        fs::write(log.path(), text).unwrap();
        fs::write(
            log.head_path(),
            serde_json::to_vec(&Head {
                seq: n,
                hash: prev,
                mac: String::new(),
            })
            .unwrap(),
        )
        .unwrap();
    }

    #[test]
    fn entries_are_keyed_and_the_key_is_private() {
        let (_d, log) = journal();
        let e = rec(&log, "web");
        assert_eq!(e.alg, ALG_HMAC);
        let key = fs::read(log.key_path()).unwrap();
        assert_eq!(key.len(), KEY_LEN);
        let mode = fs::metadata(log.key_path()).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let jmode = fs::metadata(log.path()).unwrap().mode() & 0o777;
        assert_eq!(jmode, 0o600);
        // The hash is the HMAC under that key, not a plain digest.
        let k: Key = key.as_slice().try_into().unwrap();
        assert_eq!(e.hash, mac(&k, &[GENESIS.as_bytes(), &e.body()]));
        assert_ne!(
            e.hash,
            AuditEntry {
                alg: String::new(),
                ..e.clone()
            }
            .expected_hash(None)
            .unwrap()
        );
        assert_eq!(log.verify().unwrap(), 1);
        // A key others can read protects nothing: refused, with what to do.
        fs::set_permissions(log.key_path(), fs::Permissions::from_mode(0o644)).unwrap();
        let err = log.verify().unwrap_err();
        assert!(err.message.contains("chmod 600"), "{err}");
        fs::set_permissions(log.key_path(), fs::Permissions::from_mode(0o600)).unwrap();
        // Another key does not verify this journal.
        fs::write(log.key_path(), [7u8; KEY_LEN]).unwrap();
        let err = log.verify().unwrap_err();
        assert!(err.message.contains("entry 1 was edited"), "{err}");
    }

    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn old_journals_verify_and_continue_keyed() {
        let (_d, log) = journal();
        write_legacy(&log, 3);
        let r = log.verify_report().unwrap();
        assert_eq!((r.entries, r.unkeyed), (3, 3));
        rec(&log, "new-4");
        rec(&log, "new-5");
        let r = log.verify_report().unwrap();
        assert_eq!((r.entries, r.unkeyed, r.head), (5, 3, 5));
        let entries = log.read().unwrap();
        assert_eq!(entries[2].alg, "");
        assert_eq!(entries[3].alg, ALG_HMAC);
        assert_eq!(entries[3].prev, entries[2].hash);

        // An unkeyed entry after keyed ones is a forgery (a downgrade).
        let text = fs::read_to_string(log.path()).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        let mut e: AuditEntry = serde_json::from_str(&lines[4]).unwrap();
        e.alg = String::new();
        e.target = "forged".into();
        e.hash = e.expected_hash(None).unwrap();
        lines[4] = serde_json::to_string(&e).unwrap();
        fs::write(log.path(), lines.join("\n") + "\n").unwrap();
        let err = log.verify().unwrap_err();
        assert!(
            err.message.contains("old unkeyed format after keyed"),
            "{err}"
        );
        fs::write(log.path(), &text).unwrap();
        assert_eq!(log.verify().unwrap(), 5);

        // Rewriting the whole journal unkeyed, with an unsealed head, is still caught:
        // the key exists, so the head must be sealed.
        write_legacy(&log, 5);
        let err = log.verify().unwrap_err();
        assert!(err.message.contains("carries no MAC"), "{err}");
    }

    #[test]
    fn a_missing_key_with_keyed_entries_stops_writers_and_verify() {
        let (_d, log) = journal();
        rec(&log, "a");
        rec(&log, "b");
        let key = fs::read(log.key_path()).unwrap();
        fs::remove_file(log.key_path()).unwrap();
        let err = log.verify().unwrap_err();
        assert!(err.message.contains("key is missing"), "{err}");
        let err = log
            .record(&alice(), "container.stop", "c", "allowed", "")
            .unwrap_err();
        assert!(err.message.contains("restore the key"), "{err}");
        assert!(!log.key_path().exists(), "a new key replaced the lost one");
        fs::write(log.key_path(), &key).unwrap();
        fs::set_permissions(log.key_path(), fs::Permissions::from_mode(0o600)).unwrap();
        rec(&log, "c");
        assert_eq!(log.verify().unwrap(), 3);
    }

    #[test]
    fn a_forged_or_missing_head_is_caught_and_recorded() {
        let (_d, log) = journal();
        for t in ["a", "b", "c"] {
            rec(&log, t);
        }
        // A head naming an earlier entry, unsealed: someone wants the end removable.
        let entries = log.read().unwrap();
        fs::write(
            log.head_path(),
            serde_json::to_vec(&Head {
                seq: 2,
                hash: entries[1].hash.clone(),
                mac: "00".into(),
            })
            .unwrap(),
        )
        .unwrap();
        let err = log.verify().unwrap_err();
        assert!(err.message.contains("MAC that does not match"), "{err}");
        // The next writer records it in the chain: verify keeps saying it.
        rec(&log, "d");
        let err = log.verify().unwrap_err();
        assert!(
            err.message.contains("records that audit.jsonl.head"),
            "{err}"
        );
        let entries = log.read().unwrap();
        assert_eq!(entries[3].action, REWRITTEN);
        assert_eq!(entries[3].outcome, "noted");
        assert_eq!(entries[4].target, "d");

        // A deleted head.
        let (_d, log) = journal();
        for t in ["a", "b", "c"] {
            rec(&log, t);
        }
        fs::remove_file(log.head_path()).unwrap();
        let err = log.verify().unwrap_err();
        assert!(err.message.contains("head is missing"), "{err}");
        rec(&log, "d");
        assert_eq!(log.read().unwrap()[3].action, HEAD_LOST);
        assert!(log.verify().is_err());
    }

    #[test]
    fn removal_found_by_a_writer_keeps_the_gap_and_the_record() {
        let (_d, log) = journal();
        for t in ["a", "b", "c", "d", "e"] {
            rec(&log, t);
        }
        let text = fs::read_to_string(log.path()).unwrap();
        let keep: String = text.lines().take(2).map(|l| format!("{l}\n")).collect();
        fs::write(log.path(), keep).unwrap();
        rec(&log, "f");
        let entries = log.read().unwrap();
        let seqs: Vec<u64> = entries.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, vec![1, 2, 6, 7]);
        assert_eq!(entries[2].action, REMOVED);
        let err = log.verify().unwrap_err();
        assert!(
            err.message
                .contains("entries 3 to 5 were removed from the end"),
            "{err}"
        );
    }

    #[test]
    fn a_whole_entry_that_lost_its_newline_is_kept() {
        let (_d, log) = journal();
        rec(&log, "a");
        rec(&log, "b");
        let text = fs::read_to_string(log.path()).unwrap();
        fs::write(log.path(), text.trim_end_matches('\n')).unwrap();
        assert_eq!(log.verify().unwrap(), 2);
        rec(&log, "c");
        let entries = log.read().unwrap();
        assert_eq!(entries.len(), 3);
        assert!(entries.iter().all(|e| e.action != TORN));
        assert_eq!(log.verify().unwrap(), 3);
    }

    #[test]
    fn the_tail_is_read_backwards() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("j");
        let tail = |data: &[u8]| {
            fs::write(&p, data).unwrap();
            let f = File::open(&p).unwrap();
            read_tail(&f, data.len() as u64).unwrap()
        };
        assert_eq!(tail(b""), Tail::default());
        assert_eq!(
            tail(b"abc"),
            Tail {
                last: None,
                fragment: Some((0, b"abc".to_vec()))
            }
        );
        assert_eq!(
            tail(b"one\n"),
            Tail {
                last: Some((0, b"one".to_vec())),
                fragment: None
            }
        );
        assert_eq!(
            tail(b"one\ntwo\nthr"),
            Tail {
                last: Some((4, b"two".to_vec())),
                fragment: Some((8, b"thr".to_vec()))
            }
        );
        // Lines longer than the first chunk.
        let long = "y".repeat(10_000);
        let data = format!("x\n{long}\n{long}");
        assert_eq!(
            tail(data.as_bytes()),
            Tail {
                last: Some((2, long.clone().into_bytes())),
                fragment: Some((10_003, long.into_bytes()))
            }
        );
    }

    #[test]
    fn entries_are_mirrored_to_syslog_when_asked() {
        let (d, log) = journal();
        let sock = d.path().join("log.sock");
        let rx = std::os::unix::net::UnixDatagram::bind(&sock).unwrap();
        rx.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let log = log.with_syslog(Some(sock.clone()));
        let e = rec(&log, "mirrored");
        let mut buf = vec![0u8; 65536];
        let n = rx.recv(&mut buf).unwrap();
        let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
        assert!(msg.starts_with("<86>wharf-audit["), "{msg}");
        let json = msg.split_once("]: ").unwrap().1;
        let got: AuditEntry = serde_json::from_str(json).unwrap();
        assert_eq!(got, e);
        // A socket nobody listens on does not fail the record.
        drop(rx);
        rec(&log, "unheard");
        assert_eq!(log.verify().unwrap(), 2);
    }
}
