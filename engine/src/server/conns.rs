//! Connection accounting: caps in all and per uid, each open connection with its user,
//! start and number of calls (for the accounts pane), and refusals of users without a
//! role counted per uid (one audit line per minute per uid, with the count) instead of
//! one line per connection.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often a refused uid gets an audit line at most.
pub const DENIAL_AUDIT_EVERY: Duration = Duration::from_secs(60);

/// Open connections, in all and by uid.
#[derive(Debug, Default)]
pub struct Tracker {
    inner: Mutex<Counts>,
    sessions: Mutex<BTreeMap<u64, Arc<Session>>>,
    next_id: AtomicU64,
}

/// One open connection: whose, since when, how many calls.
#[derive(Debug)]
pub struct Session {
    pub id: u64,
    pub uid: u32,
    /// Seconds since the epoch when it was taken.
    pub since: i64,
    calls: AtomicU64,
    last: AtomicI64,
}

impl Session {
    /// Count a request on this connection.
    pub fn note_call(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.last
            .store(chrono::Utc::now().timestamp(), Ordering::Relaxed);
    }

    /// Requests made so far.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Seconds since the epoch of the last request (`since` before the first).
    pub fn last(&self) -> i64 {
        self.last.load(Ordering::Relaxed)
    }
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    by_uid: HashMap<u32, usize>,
}

/// Why a connection was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    /// The server holds its maximum of connections.
    Total(usize),
    /// This uid holds its maximum.
    Uid(usize),
}

/// A held connection slot; released when dropped.
#[derive(Debug)]
pub struct Slot {
    tracker: Arc<Tracker>,
    uid: u32,
    session: Arc<Session>,
}

impl Slot {
    /// The connection's record (count its calls on it).
    pub fn session(&self) -> Arc<Session> {
        self.session.clone()
    }
}

impl Tracker {
    /// Take a slot for `uid` if both caps allow it.
    pub fn acquire(
        self: &Arc<Self>,
        uid: u32,
        max_total: usize,
        max_uid: usize,
    ) -> Result<Slot, Full> {
        let mut c = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if c.total >= max_total {
            return Err(Full::Total(max_total));
        }
        let n = c.by_uid.entry(uid).or_insert(0);
        if *n >= max_uid {
            return Err(Full::Uid(max_uid));
        }
        *n += 1;
        c.total += 1;
        drop(c);
        let now = chrono::Utc::now().timestamp();
        let session = Arc::new(Session {
            id: self.next_id.fetch_add(1, Ordering::Relaxed) + 1,
            uid,
            since: now,
            calls: AtomicU64::new(0),
            last: AtomicI64::new(now),
        });
        self.sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(session.id, session.clone());
        Ok(Slot {
            tracker: self.clone(),
            uid,
            session,
        })
    }

    /// The open connections, oldest first.
    pub fn sessions(&self) -> Vec<Arc<Session>> {
        self.sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// Open connections in all.
    pub fn total(&self) -> usize {
        self.inner.lock().map(|c| c.total).unwrap_or(0)
    }

    /// Open connections of `uid`.
    pub fn of(&self, uid: u32) -> usize {
        self.inner
            .lock()
            .map(|c| c.by_uid.get(&uid).copied().unwrap_or(0))
            .unwrap_or(0)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.tracker
            .sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.session.id);
        let mut c = self.tracker.inner.lock().unwrap_or_else(|e| e.into_inner());
        c.total = c.total.saturating_sub(1);
        if let Some(n) = c.by_uid.get_mut(&self.uid) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                c.by_uid.remove(&self.uid);
            }
        }
    }
}

/// Refused connections per uid since that uid's last audit line.
#[derive(Debug, Default)]
pub struct Denials {
    inner: Mutex<HashMap<u32, (Instant, u64)>>,
}

impl Denials {
    /// Count a refusal of `uid`; `Some(n)` when an audit line is due now, `n` being the
    /// refusals it reports (this one included).
    pub fn note(&self, uid: u32) -> Option<u64> {
        self.note_at(uid, Instant::now())
    }

    fn note_at(&self, uid: u32, now: Instant) -> Option<u64> {
        let mut m = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        // Forget uids that have been quiet a while, so the map stays small.
        if m.len() > 4096 {
            m.retain(|_, (t, n)| *n > 0 || now.duration_since(*t) < DENIAL_AUDIT_EVERY);
        }
        match m.get_mut(&uid) {
            None => {
                m.insert(uid, (now, 0));
                Some(1)
            }
            Some((last, n)) => {
                *n += 1;
                if now.duration_since(*last) >= DENIAL_AUDIT_EVERY {
                    let due = *n;
                    *last = now;
                    *n = 0;
                    Some(due)
                } else {
                    None
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_in_all_and_per_uid() {
        let t = Arc::new(Tracker::default());
        let a1 = t.acquire(1, 3, 2).unwrap();
        let _a2 = t.acquire(1, 3, 2).unwrap();
        assert_eq!(t.acquire(1, 3, 2).unwrap_err(), Full::Uid(2));
        let _b = t.acquire(2, 3, 2).unwrap();
        assert_eq!(t.acquire(3, 3, 2).unwrap_err(), Full::Total(3));
        drop(a1);
        assert_eq!(t.of(1), 1);
        let c = t.acquire(3, 3, 2).unwrap();
        assert_eq!(t.total(), 3);
        // Each open connection is listed with its calls, and goes when released.
        c.session().note_call();
        c.session().note_call();
        let listed: Vec<(u32, u64)> = t.sessions().iter().map(|s| (s.uid, s.calls())).collect();
        assert_eq!(listed, vec![(1, 0), (2, 0), (3, 2)]);
        drop(c);
        assert_eq!(t.sessions().len(), 2);
    }

    #[test]
    fn denials_are_counted_not_each_audited() {
        let d = Denials::default();
        let t0 = Instant::now();
        assert_eq!(d.note_at(7, t0), Some(1));
        for i in 1..2000 {
            assert_eq!(d.note_at(7, t0 + Duration::from_micros(i)), None);
        }
        // A minute later the next refusal reports all of them.
        assert_eq!(d.note_at(7, t0 + DENIAL_AUDIT_EVERY), Some(2000));
        assert_eq!(d.note_at(8, t0), Some(1));
    }
}
