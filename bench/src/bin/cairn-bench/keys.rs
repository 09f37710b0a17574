//! Keys, values and pacing shared by the workloads: etcd's varint-encoded
//! keys, random bytes, and a rate limit that spaces requests evenly.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A key of `size` bytes holding `n` as Go's `binary.PutVarint` writes it
/// (zigzag, then base-128), zero padded: the keys etcd's benchmark writes.
pub fn varint_key(n: u64, size: usize) -> Vec<u8> {
    let mut key = vec![0u8; size];
    let mut ux = (n as i64 as u64) << 1;
    if (n as i64) < 0 {
        ux = !ux;
    }
    let mut i = 0;
    while i < size {
        if ux < 0x80 {
            key[i] = ux as u8;
            break;
        }
        key[i] = (ux as u8) | 0x80;
        ux >>= 7;
        i += 1;
    }
    key
}

/// The smallest key greater than every key starting with `prefix`
/// (etcd's `GetPrefixRangeEnd`); `\0` for the empty prefix, meaning all keys.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

/// A cheap pseudo-random sequence (xorshift64*), seeded per worker.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A sequence seeded from the clock and `salt`.
    pub fn new(salt: u64) -> Self {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        Rng((now as u64 ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15)) | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..bound`.
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound.max(1)
    }

    /// A float in `0..1`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// `n` random bytes.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }
}

/// Hands out request numbers `0..total` to the workers, at most `rate` a
/// second when `rate > 0` (etcd's `--rate`, a limiter with a burst of one).
#[derive(Debug)]
pub struct Pacer {
    next: AtomicU64,
    total: u64,
    rate: u64,
    started: Instant,
}

impl Pacer {
    /// Numbers `0..total` at `rate` a second (0: as fast as asked).
    pub fn new(total: u64, rate: u64) -> Self {
        Pacer { next: AtomicU64::new(0), total, rate, started: Instant::now() }
    }

    /// The next request number, once it is due; `None` when all are handed out.
    pub async fn take(&self) -> Option<u64> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        if n >= self.total {
            return None;
        }
        if let Some(due) = self.due(n) {
            tokio::time::sleep_until(due.into()).await;
        }
        Some(n)
    }

    fn due(&self, n: u64) -> Option<Instant> {
        (self.rate > 0).then(|| self.started + Duration::from_secs_f64(n as f64 / self.rate as f64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_keys_match_go() {
        // binary.PutVarint: 0 -> 00, 1 -> 02, -1 -> 01, 64 -> 80 01, 300 -> d8 04.
        assert_eq!(varint_key(0, 4), vec![0, 0, 0, 0]);
        assert_eq!(varint_key(1, 4), vec![2, 0, 0, 0]);
        assert_eq!(varint_key(-1i64 as u64, 2), vec![1, 0]);
        assert_eq!(varint_key(64, 3), vec![0x80, 0x01, 0]);
        assert_eq!(varint_key(300, 2), vec![0xd8, 0x04]);
        assert_eq!(varint_key(300, 1), vec![0xd8], "cut to the key size");
    }

    #[test]
    fn prefix_ends() {
        assert_eq!(prefix_end(b"abc"), b"abd".to_vec());
        assert_eq!(prefix_end(&[b'a', 0xff]), b"b".to_vec());
        assert_eq!(prefix_end(b""), vec![0]);
        assert_eq!(prefix_end(&[0xff]), vec![0]);
    }

    #[test]
    fn pacer_spaces_requests() {
        let pacer = Pacer::new(10, 100);
        assert_eq!(pacer.due(0), Some(pacer.started));
        assert_eq!(pacer.due(50), Some(pacer.started + Duration::from_millis(500)));
        assert_eq!(Pacer::new(10, 0).due(5), None);
    }

    #[test]
    fn rng_ranges() {
        let mut rng = Rng::new(7);
        for _ in 0..1000 {
            assert!(rng.below(10) < 10);
            let u = rng.unit();
            assert!((0.0..1.0).contains(&u));
        }
        assert_eq!(rng.bytes(5).len(), 5);
    }
}
