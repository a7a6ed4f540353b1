//! How long the server takes to answer: from a request's head read to its answer's head
//! ready (a streamed body may follow), in a histogram any number of threads record into
//! without a lock. A bench (or a test) reads the server's own share of a client's
//! latency from it, apart from the client's and the socket's.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Sub-buckets per power of two: a value is kept to within 1/16 (6 %).
const SUB: u32 = 16;
/// Octaves above the exact range (microseconds up to 2^40, twelve days).
const OCTAVES: u32 = 40;
const BUCKETS: usize = ((OCTAVES + 1) * SUB) as usize;

/// A histogram of answer times.
pub struct Timings {
    buckets: Box<[AtomicU64]>,
    count: AtomicU64,
    total_us: AtomicU64,
    /// Answers the connection's worker gave at once, from a kept listing.
    quick: AtomicU64,
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            total_us: AtomicU64::new(0),
            quick: AtomicU64::new(0),
        }
    }
}

impl std::fmt::Debug for Timings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timings")
            .field("count", &self.count())
            .finish()
    }
}

/// The bucket of `us` microseconds: exact below [`SUB`], then [`SUB`] per octave.
fn bucket(us: u64) -> usize {
    if us < SUB as u64 {
        return us as usize;
    }
    let octave = 63 - us.leading_zeros(); // >= 4
    let sub = (us >> (octave - 4)) as u32 & (SUB - 1);
    (((octave - 3) * SUB + sub) as usize).min(BUCKETS - 1)
}

/// The smallest value of bucket `b`, microseconds.
fn floor(b: usize) -> u64 {
    let b = b as u32;
    if b < SUB {
        return b as u64;
    }
    let octave = b / SUB + 3;
    let sub = b % SUB;
    ((SUB + sub) as u64) << (octave - 4)
}

impl Timings {
    /// Count one answer that took `took`; `quick`: given at once by the connection's
    /// worker, from a kept listing.
    pub fn record(&self, took: Duration, quick: bool) {
        if quick {
            self.quick.fetch_add(1, Ordering::Relaxed);
        }
        let us = took.as_micros().min(u64::MAX as u128) as u64;
        self.buckets[bucket(us)].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.total_us.fetch_add(us, Ordering::Relaxed);
    }

    /// Forget every answer counted so far.
    pub fn reset(&self) {
        for b in self.buckets.iter() {
            b.store(0, Ordering::Relaxed);
        }
        self.count.store(0, Ordering::Relaxed);
        self.total_us.store(0, Ordering::Relaxed);
        self.quick.store(0, Ordering::Relaxed);
    }

    /// Answers counted.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Answers given at once by the connection's worker, from a kept listing.
    pub fn quick(&self) -> u64 {
        self.quick.load(Ordering::Relaxed)
    }

    /// The mean answer time.
    pub fn mean(&self) -> Duration {
        let n = self.count().max(1);
        Duration::from_micros(self.total_us.load(Ordering::Relaxed) / n)
    }

    /// The time within which a fraction `p` (0 to 1) of the answers came (to within
    /// 6 %); zero before any.
    pub fn percentile(&self, p: f64) -> Duration {
        let n = self.count();
        if n == 0 {
            return Duration::ZERO;
        }
        let rank = ((n as f64 * p.clamp(0.0, 1.0)).ceil() as u64).max(1);
        let mut seen = 0;
        for (b, c) in self.buckets.iter().enumerate() {
            seen += c.load(Ordering::Relaxed);
            if seen >= rank {
                // The middle of the bucket.
                let lo = floor(b);
                let hi = if b + 1 < BUCKETS { floor(b + 1) } else { lo };
                return Duration::from_micros((lo + hi) / 2);
            }
        }
        Duration::from_micros(floor(BUCKETS - 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_ordered_and_tight() {
        let mut last = 0;
        for us in 0..100_000u64 {
            let b = bucket(us);
            assert!(b >= last, "bucket of {us} goes back");
            last = b;
            let lo = floor(b);
            assert!(lo <= us && us - lo <= us / 16, "{us} in bucket from {lo}");
        }
    }

    #[test]
    fn percentiles_within_a_sixteenth() {
        let t = Timings::default();
        assert_eq!(t.percentile(0.99), Duration::ZERO);
        for us in 1..=1000u64 {
            t.record(Duration::from_micros(us), us % 2 == 0);
        }
        let near = |d: Duration, want: u64| {
            let got = d.as_micros() as u64;
            assert!(got.abs_diff(want) <= want / 16 + 1, "{got} for {want}");
        };
        near(t.percentile(0.5), 500);
        near(t.percentile(0.99), 990);
        near(t.mean(), 500);
        assert_eq!((t.count(), t.quick()), (1000, 500));
    }
}
