//! etcd's id generator: the member id's low 16 bits, then 40 bits of the start
//! time in milliseconds and an 8-bit counter, so ids from different members and
//! restarts do not collide.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

const SUFFIX_BITS: u32 = 48;
const COUNTER_BITS: u32 = 8;

/// Hands out unique ids (for leases granted without one and for requests).
#[derive(Debug)]
pub struct IdGenerator {
    prefix: u64,
    suffix: AtomicU64,
}

fn low_bits(value: u64, bits: u32) -> u64 {
    value & ((1u64 << bits) - 1)
}

impl IdGenerator {
    /// A generator for `member_id`, seeded with the current time.
    pub fn new(member_id: u64) -> Self {
        let millis = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
        Self::with_time(member_id, millis)
    }

    /// A generator seeded with `unix_millis`.
    pub fn with_time(member_id: u64, unix_millis: u64) -> Self {
        let prefix = low_bits(member_id, 16) << SUFFIX_BITS;
        let suffix = low_bits(unix_millis, SUFFIX_BITS - COUNTER_BITS) << COUNTER_BITS;
        IdGenerator { prefix, suffix: AtomicU64::new(suffix) }
    }

    /// The next id.
    pub fn next(&self) -> u64 {
        let suffix = self.suffix.fetch_add(1, Ordering::Relaxed) + 1;
        self.prefix | low_bits(suffix, SUFFIX_BITS)
    }

    /// The next id as a positive lease id.
    pub fn next_lease_id(&self) -> i64 {
        loop {
            let id = (self.next() & (u64::MAX >> 1)) as i64;
            if id != 0 {
                return id;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_the_member_and_increase() {
        let g = IdGenerator::with_time(0x8e9e_05c5_2164_694d, 1000);
        let a = g.next();
        let b = g.next();
        assert_eq!(a >> 48, 0x694d);
        assert_eq!(b, a + 1);
        assert!(g.next_lease_id() > 0);
    }
}
