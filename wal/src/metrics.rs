//! How long the WAL's `fdatasync`s take, for the server's
//! `etcd_disk_wal_fsync_duration_seconds`: a process-wide histogram with
//! etcd's buckets (1 ms doubling to 8.192 s).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A Prometheus-style histogram of durations with fixed upper bounds, updated
/// without locks.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    counts: Vec<AtomicU64>,
    sum_nanos: AtomicU64,
    count: AtomicU64,
}

/// What a histogram holds at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    /// Upper bounds in seconds, each with the cumulative count at or below it.
    pub buckets: Vec<(f64, u64)>,
    /// The sum of all observations, in seconds.
    pub sum: f64,
    /// How many observations.
    pub count: u64,
}

/// etcd's buckets for disk latencies: 0.001 * 2^n seconds, n in 0..14.
pub const DISK_BUCKETS: &[f64] =
    &[0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048, 4.096, 8.192];

impl Histogram {
    /// An empty histogram with `bounds` (ascending, in seconds).
    pub fn new(bounds: &'static [f64]) -> Self {
        Histogram {
            bounds,
            counts: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            sum_nanos: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    /// Records one observation.
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        if let Some(at) = self.bounds.iter().position(|b| secs <= *b) {
            self.counts[at].fetch_add(1, Ordering::Relaxed);
        }
        self.sum_nanos.fetch_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// The cumulative buckets, sum and count.
    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut cumulative = 0;
        let buckets = self
            .bounds
            .iter()
            .zip(&self.counts)
            .map(|(bound, count)| {
                cumulative += count.load(Ordering::Relaxed);
                (*bound, cumulative)
            })
            .collect();
        HistogramSnapshot {
            buckets,
            sum: self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9,
            count: self.count.load(Ordering::Relaxed),
        }
    }
}

/// Every WAL `fdatasync` of this process.
pub fn fsync() -> &'static Histogram {
    static FSYNC: std::sync::OnceLock<Histogram> = std::sync::OnceLock::new();
    FSYNC.get_or_init(|| Histogram::new(DISK_BUCKETS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative() {
        let h = Histogram::new(DISK_BUCKETS);
        h.observe(Duration::from_micros(500));
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_secs(10));
        let s = h.snapshot();
        assert_eq!(s.count, 3);
        assert_eq!(&s.buckets[..3], &[(0.001, 1), (0.002, 1), (0.004, 2)]);
        assert_eq!(s.buckets.last(), Some(&(8.192, 2)));
        assert!((s.sum - 10.0035).abs() < 1e-9);
    }
}
