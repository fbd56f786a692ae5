//! The one backoff policy (exponential with +-20% jitter, KIP-580 / KIP-144) and the one
//! random source, shared by batch retries (`retry.backoff.ms`), reconnects
//! (`reconnect.backoff.ms`) and the growing connect timeout
//! (`socket.connection.setup.timeout.ms`), as Java's `ExponentialBackoff` serves all three.
//! No random-number crate: jitter and picking a node need spread, not quality.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A small xorshift64 generator, seeded from the clock; shareable (`&self`) across threads.
#[derive(Debug)]
pub(crate) struct Rng(AtomicU64);

impl Rng {
    /// Seeded from the clock.
    pub fn new() -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9e37_79b9_7f4a_7c15);
        Self::with_seed(seed)
    }

    /// A fixed sequence (for tests).
    pub fn with_seed(seed: u64) -> Self {
        Rng(AtomicU64::new(seed | 1))
    }

    /// The next 64 random bits.
    pub fn next_u64(&self) -> u64 {
        let step = |mut x: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let prev = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |x| Some(step(x)))
            .unwrap_or(1);
        step(prev)
    }

    /// A uniform value in [0, 1).
    pub fn next_unit(&self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A uniform index below `n` (`n` > 0).
    pub fn below(&self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

/// Relative jitter applied to every backoff.
const JITTER: f64 = 0.2;

/// `retry.backoff.ms` doubling per failed attempt up to `retry.backoff.max.ms`, each value
/// multiplied by a random factor in [0.8, 1.2] (and still capped at the maximum).
#[derive(Debug)]
pub(crate) struct ExponentialBackoff {
    initial: Duration,
    max: Duration,
    rng: Rng,
}

impl ExponentialBackoff {
    /// A backoff from `initial` to `max`; the jitter generator is seeded from the clock.
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self::with_rng(initial, max, Rng::new())
    }

    /// A backoff drawing its jitter from `rng`.
    pub fn with_rng(initial: Duration, max: Duration, rng: Rng) -> Self {
        ExponentialBackoff {
            initial,
            max: max.max(initial),
            rng,
        }
    }

    /// The backoff before retry number `attempts` (1 = first retry).
    pub fn backoff(&self, attempts: u32) -> Duration {
        let exp = attempts.saturating_sub(1).min(32);
        let term = self
            .initial
            .checked_mul(1u32 << exp.min(31))
            .unwrap_or(self.max)
            .min(self.max);
        if self.max == self.initial && self.initial.is_zero() {
            return Duration::ZERO;
        }
        let factor = 1.0 - JITTER + 2.0 * JITTER * self.rng.next_unit();
        term.mul_f64(factor).min(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_with_jitter_and_caps() {
        let b = ExponentialBackoff::with_rng(
            Duration::from_millis(100),
            Duration::from_millis(1000),
            Rng::with_seed(42),
        );
        let ms = |d: Duration| d.as_millis() as u64;
        let mut seen_distinct = std::collections::HashSet::new();
        for _ in 0..200 {
            let d1 = ms(b.backoff(1));
            assert!((80..=120).contains(&d1), "{d1}");
            seen_distinct.insert(d1);
            let d3 = ms(b.backoff(3));
            assert!((320..=480).contains(&d3), "{d3}");
            let d10 = ms(b.backoff(10));
            assert!((800..=1000).contains(&d10), "{d10}");
        }
        assert!(seen_distinct.len() > 10, "jitter must vary");
    }
}
