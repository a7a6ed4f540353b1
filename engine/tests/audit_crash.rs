//! The audit journal under crashes, damage, tampering and concurrency, through its public
//! API only (`AuditLog::new`, `record`, `read`, `verify`).
//!
//! The kill test is real: a child process (this test binary re-executed with
//! `AUDIT_CHILD_JOURNAL` set, running only [`child_writer`]) records entries in a loop and
//! is SIGKILLed at a random instant, many times over; the journal must verify after each
//! kill and go on verifying as more entries are written.

use std::fs;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use wharf_engine::policy::audit::AuditLog;
use wharf_engine::{Caller, Role};

const CHILD_ENV: &str = "AUDIT_CHILD_JOURNAL";

fn alice() -> Caller {
    Caller {
        uid: 1000,
        gid: 1000,
        name: "alice".into(),
        role: Role("user".into()),
        project: None,
    }
}

fn journal() -> (tempfile::TempDir, AuditLog) {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::new(dir.path().join("audit.jsonl"));
    (dir, log)
}

fn record(log: &AuditLog, i: usize) {
    log.record(
        &alice(),
        "container.stop",
        &format!("web-{i}"),
        "denied",
        "it belongs to bob",
    )
    .unwrap();
}

fn head_path(log: &AuditLog) -> PathBuf {
    let mut p = log.path().as_os_str().to_owned();
    p.push(".head");
    p.into()
}

fn lines(log: &AuditLog) -> Vec<String> {
    fs::read_to_string(log.path())
        .unwrap()
        .lines()
        .map(|l| format!("{l}\n"))
        .collect()
}

fn verify_err(log: &AuditLog) -> String {
    match log.verify() {
        Ok(n) => panic!("verify passed ({n} entries) on a damaged journal"),
        Err(e) => e.message,
    }
}

/// A small xorshift generator seeded from the clock (no dependency for a few numbers).
struct Rng(u64);

impl Rng {
    fn new() -> Self {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        Rng(t | 1)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Not a test of its own: the body of the child the kill test re-executes. Without
/// `AUDIT_CHILD_JOURNAL` it returns at once.
#[test]
fn child_writer() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let log = AuditLog::new(PathBuf::from(path));
    let mut i = 0;
    loop {
        // Details of varied length, so that writes end at varied offsets.
        let detail = "x".repeat(i % 700);
        log.record(
            &alice(),
            "container.start",
            &format!("c-{i}"),
            "allowed",
            &detail,
        )
        .unwrap();
        i += 1;
    }
}

fn last_seq(log: &AuditLog) -> u64 {
    log.read().unwrap().last().map(|e| e.seq).unwrap_or(0)
}

/// The head's `seq` (read as plain JSON, whatever else it holds).
fn head_seq(log: &AuditLog) -> Option<u64> {
    let text = fs::read_to_string(head_path(log)).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["seq"].as_u64()
}

#[test]
fn killed_writers_leave_a_journal_that_verifies() {
    let (_dir, log) = journal();
    let exe = std::env::current_exe().unwrap();
    let mut rng = Rng::new();
    // Kill until the window between an append and the head update was hit a few times
    // (the state the old writer mishandled), at least 40 times, at most 400.
    let mut behind = 0;
    let mut rounds = 0;
    while rounds < 40 || (behind < 3 && rounds < 400) {
        let round = rounds;
        rounds += 1;
        let before = fs::metadata(log.path()).map(|m| m.len()).unwrap_or(0);
        let mut child = Command::new(&exe)
            .args(["child_writer", "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, log.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Kill it once it writes, at a random instant of its loop.
        let t0 = Instant::now();
        while fs::metadata(log.path()).map(|m| m.len()).unwrap_or(0) <= before {
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "the child never wrote"
            );
            std::thread::sleep(Duration::from_micros(200));
        }
        std::thread::sleep(Duration::from_micros(rng.below(20_000)));
        child.kill().unwrap();
        child.wait().unwrap();

        if head_seq(&log).is_some_and(|h| h < last_seq(&log)) {
            behind += 1;
        }
        // Right after the kill: intact (a head one behind the journal is a legal state).
        match log.verify() {
            Ok(_) => {}
            // A write torn by the kill is the one other legal state: named as such.
            Err(e) if e.message.contains("is torn") => {}
            Err(e) => panic!("round {round}: verify after a kill: {e}"),
        }
        // A writer after the kill goes on from the journal, and verify stays intact.
        record(&log, round);
        let n = log
            .verify()
            .unwrap_or_else(|e| panic!("round {round}: verify after the next record: {e}"));
        assert_eq!(n, last_seq(&log));
    }
    eprintln!("{behind} of {rounds} kills left the head behind the journal");
    assert!(
        behind > 0,
        "no kill hit the window between an append and the head update in {rounds} rounds"
    );
    // Sequence numbers are never reused: 1, 2, 3, ... with no repeats or holes.
    let seqs: Vec<u64> = log.read().unwrap().iter().map(|e| e.seq).collect();
    let want: Vec<u64> = (1..=seqs.len() as u64).collect();
    assert_eq!(seqs, want);
}

#[test]
fn a_torn_last_line_is_reported_as_torn_and_the_next_record_heals_it() {
    let (_dir, log) = journal();
    for i in 0..3 {
        record(&log, i);
    }
    let len = fs::metadata(log.path()).unwrap().len();
    // A crash mid-write: the first bytes of an entry, no newline.
    let torn = &lines(&log)[2][..60];
    fs::OpenOptions::new()
        .append(true)
        .open(log.path())
        .unwrap()
        .write_all(torn.as_bytes())
        .unwrap();
    let err = verify_err(&log);
    assert!(
        err.contains("line 4") && err.contains(&format!("byte offset {len}")),
        "{err}"
    );
    assert!(err.contains("torn") && !err.contains("edited"), "{err}");

    // The next writer does not chain onto the torn bytes.
    record(&log, 3);
    let n = log.verify().unwrap();
    let entries = log.read().unwrap();
    assert_eq!(n, entries.len() as u64);
    let note = entries
        .iter()
        .find(|e| e.action == "audit.torn")
        .expect("an audit.torn entry");
    assert!(
        note.detail.contains(&format!("byte offset {len}")),
        "{note:?}"
    );
    assert_eq!(entries.last().unwrap().target, "web-3");
    // Every line of the file is a whole entry again.
    assert_eq!(lines(&log).len(), entries.len());
}

#[test]
fn a_head_one_behind_the_journal_is_accepted() {
    let (_dir, log) = journal();
    for i in 0..4 {
        record(&log, i);
    }
    let head4 = fs::read(head_path(&log)).unwrap();
    record(&log, 4);
    // A crash between appending entry 5 and updating the head.
    fs::write(head_path(&log), &head4).unwrap();
    assert_eq!(log.verify().unwrap(), 5);
    // The next writer numbers on from the journal, not from the stale head.
    record(&log, 5);
    assert_eq!(log.verify().unwrap(), 6);
    let seqs: Vec<u64> = log.read().unwrap().iter().map(|e| e.seq).collect();
    assert_eq!(seqs, vec![1, 2, 3, 4, 5, 6]);

    // But a journal shorter than that head is a removal.
    let all = lines(&log);
    fs::write(head_path(&log), &head4).unwrap();
    fs::write(log.path(), all[..3].concat()).unwrap();
    let err = verify_err(&log);
    assert!(err.contains("removed"), "{err}");
}

#[test]
fn removal_from_the_end_is_detected_and_stays_detected() {
    let (_dir, log) = journal();
    for i in 0..5 {
        record(&log, i);
    }
    let all = lines(&log);
    fs::write(log.path(), all[..4].concat()).unwrap();
    let err = verify_err(&log);
    assert!(err.contains("removed from the end"), "{err}");
    fs::write(log.path(), all[..2].concat()).unwrap();
    let err = verify_err(&log);
    assert!(err.contains("removed from the end"), "{err}");
    // Writing on does not launder the removal.
    record(&log, 5);
    record(&log, 6);
    let err = verify_err(&log);
    assert!(err.contains("removed"), "{err}");
}

#[test]
fn edits_insertions_removals_and_reorderings_are_detected() {
    let (_dir, log) = journal();
    for i in 0..5 {
        record(&log, i);
    }
    assert_eq!(log.verify().unwrap(), 5);
    let all = lines(&log);
    let text = all.concat();

    fs::write(log.path(), text.replacen("web-2", "web-3", 1)).unwrap();
    let err = verify_err(&log);
    assert!(err.contains("entry 3 was edited"), "{err}");

    let mut without = all.clone();
    without.remove(1);
    fs::write(log.path(), without.concat()).unwrap();
    let err = verify_err(&log);
    assert!(err.contains("removed or inserted"), "{err}");

    let mut doubled = all.clone();
    doubled.insert(2, all[1].clone());
    fs::write(log.path(), doubled.concat()).unwrap();
    assert!(log.verify().is_err());

    let mut swapped = all.clone();
    swapped.swap(1, 2);
    fs::write(log.path(), swapped.concat()).unwrap();
    assert!(log.verify().is_err());

    fs::write(log.path(), &text).unwrap();
    assert_eq!(log.verify().unwrap(), 5);
}

/// Someone who can rewrite the whole file but lacks the key: edits entry 2 and re-chains
/// every later entry with plain SHA-256 (the scheme of journals before the key), head
/// included; `strip_alg` also drops the entries' algorithm field (a downgrade).
fn rechain_without_the_key(log: &AuditLog, strip_alg: bool) {
    use sha2::{Digest, Sha256};
    let mut prev = "0".repeat(64);
    let mut out = String::new();
    let mut last = (0u64, String::new());
    for line in lines(log) {
        let mut e: wharf_engine::policy::audit::AuditEntry = serde_json::from_str(&line).unwrap();
        if e.target == "web-1" {
            e.target = "web-9".into();
        }
        e.prev = prev.clone();
        e.hash = String::new();
        let mut body = serde_json::to_string(&e).unwrap();
        if strip_alg {
            body = body.replace(r#""alg":"hmac-sha256","#, "");
        }
        let mut h = Sha256::new();
        h.update(prev.as_bytes());
        h.update(body.as_bytes());
        let hash = hex::encode(h.finalize());
        out.push_str(&body.replace(r#""hash":"""#, &format!(r#""hash":"{hash}""#)));
        out.push('\n');
        last = (e.seq, hash.clone());
        prev = hash;
    }
    fs::write(log.path(), out).unwrap();
    fs::write(
        head_path(log),
        serde_json::json!({"seq": last.0, "hash": last.1}).to_string(),
    )
    .unwrap();
}

#[test]
fn a_rechained_rewrite_without_the_key_is_detected() {
    for strip_alg in [false, true] {
        let (_dir, log) = journal();
        for i in 0..4 {
            record(&log, i);
        }
        rechain_without_the_key(&log, strip_alg);
        assert!(
            log.verify().is_err(),
            "a re-chained journal verified (strip_alg: {strip_alg})"
        );
    }
}

#[test]
fn verify_while_others_write_gives_no_false_alarm() {
    let (_dir, log) = journal();
    record(&log, 0);
    std::thread::scope(|s| {
        let writers: Vec<_> = (0..4)
            .map(|w| {
                let log = log.clone();
                s.spawn(move || {
                    for i in 0..150 {
                        record(&log, w * 1000 + i);
                    }
                })
            })
            .collect();
        for round in 0..30 {
            if let Err(e) = log.verify() {
                panic!("verify {round} while writers write: {e}");
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        for w in writers {
            w.join().unwrap();
        }
    });
    assert_eq!(log.verify().unwrap(), 601);
}
