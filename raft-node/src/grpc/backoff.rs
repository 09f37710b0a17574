//! [`Backoff`]: how long to wait before reconnecting to a peer.

use std::time::Duration;

/// Exponential backoff: `min`, doubling on each failure, capped at `max`.
#[derive(Debug)]
pub(super) struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub fn new(min: Duration, max: Duration) -> Self {
        let max = max.max(min);
        Backoff { min, max, next: min }
    }

    /// The wait before the next attempt; each call doubles the one after.
    pub fn next_wait(&mut self) -> Duration {
        let wait = self.next;
        self.next = wait.saturating_mul(2).min(self.max);
        wait
    }

    /// Starts again from `min` (after a connection that held).
    pub fn reset(&mut self) {
        self.next = self.min;
    }

    /// The longest wait, also how long a connection must hold to reset the backoff.
    pub fn max(&self) -> Duration {
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_and_resets() {
        let ms = Duration::from_millis;
        let mut backoff = Backoff::new(ms(50), ms(2000));
        let waits: Vec<Duration> = (0..8).map(|_| backoff.next_wait()).collect();
        assert_eq!(waits, [50, 100, 200, 400, 800, 1600, 2000, 2000].map(ms));
        backoff.reset();
        assert_eq!(backoff.next_wait(), ms(50));
    }

    #[test]
    fn a_cap_below_the_start_is_the_start() {
        let ms = Duration::from_millis;
        let mut backoff = Backoff::new(ms(50), ms(10));
        assert_eq!((backoff.next_wait(), backoff.next_wait()), (ms(50), ms(50)));
    }
}
