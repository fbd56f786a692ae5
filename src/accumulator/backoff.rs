//! Exponential retry backoff with +-20% jitter (KIP-580), without a random-number crate.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Relative jitter applied to every backoff.
const JITTER: f64 = 0.2;

/// `retry.backoff.ms` doubling per failed attempt up to `retry.backoff.max.ms`, each value
/// multiplied by a random factor in [0.8, 1.2] (and still capped at the maximum).
#[derive(Debug)]
pub struct ExponentialBackoff {
    initial: Duration,
    max: Duration,
    rng: AtomicU64,
}

impl ExponentialBackoff {
    /// A backoff from `initial` to `max`; the jitter generator is seeded from the clock.
    pub fn new(initial: Duration, max: Duration) -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9e37_79b9_7f4a_7c15);
        Self::with_seed(initial, max, seed)
    }

    /// Same as [`new`](Self::new) with a fixed seed (for tests).
    pub fn with_seed(initial: Duration, max: Duration, seed: u64) -> Self {
        ExponentialBackoff {
            initial,
            max: max.max(initial),
            rng: AtomicU64::new(seed | 1),
        }
    }

    /// A uniform value in [0, 1) from a shared xorshift64 state.
    fn next_unit(&self) -> f64 {
        let step = |mut x: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let prev = self
            .rng
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |x| Some(step(x)))
            .unwrap_or(1);
        (step(prev) >> 11) as f64 / (1u64 << 53) as f64
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
        let factor = 1.0 - JITTER + 2.0 * JITTER * self.next_unit();
        term.mul_f64(factor).min(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_with_jitter_and_caps() {
        let b = ExponentialBackoff::with_seed(
            Duration::from_millis(100),
            Duration::from_millis(1000),
            42,
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
