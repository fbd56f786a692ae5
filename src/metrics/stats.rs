//! Windowed statistics as Java's `org.apache.kafka.common.metrics.stats` computes them: a
//! stat keeps `metrics.num.samples` samples (plus one, for the sample overlapping the window's
//! start), each `metrics.sample.window.ms` long; a sample whose last event is older than
//! `samples * window` counts as empty. From them:
//!
//! - a rate (Java's `Rate` over a `WindowedSum`): the windowed sum divided by the time since
//!   the oldest sample started, that time being at least `samples - 1` full windows (so a
//!   young stat does not report a burst as a huge rate), and at least 1 ms;
//! - an average (`Avg`): windowed sum / windowed event count, NaN with no event;
//! - a maximum (`Max`): the largest value in the window, NaN with no event;
//! - a total (`CumulativeSum`): everything ever recorded, never windowed.
//!
//! Time is milliseconds since an origin the caller picks, passed in: no clock is read here.
//! Reading a stat does not change it (Java's purge is applied to a view of the samples).

/// `metrics.num.samples` and `metrics.sample.window.ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WindowConfig {
    pub samples: usize,
    pub window_ms: u64,
}

impl WindowConfig {
    /// Java's defaults: 2 samples of 30 s.
    #[cfg(test)]
    pub const DEFAULT: WindowConfig = WindowConfig {
        samples: 2,
        window_ms: 30_000,
    };

    /// A configuration from the property values (at least one sample of 1 ms).
    pub fn new(samples: usize, window_ms: u64) -> Self {
        WindowConfig {
            samples: samples.max(1),
            window_ms: window_ms.max(1),
        }
    }

    fn expire_age(&self) -> u64 {
        (self.samples as u64).saturating_mul(self.window_ms)
    }
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    sum: f64,
    max: f64,
    events: u64,
    start: u64,
    last_event: u64,
}

impl Sample {
    fn new(now: u64) -> Self {
        Sample {
            sum: 0.0,
            max: f64::NEG_INFINITY,
            events: 0,
            start: now,
            last_event: now,
        }
    }
    fn expired(&self, cfg: &WindowConfig, now: u64) -> bool {
        now.saturating_sub(self.last_event) >= cfg.expire_age()
    }
}

/// A windowed stat giving the rate, the average and the maximum of what is recorded (Java
/// keeps one `SampledStat` per figure; recorded and read at the same instants, they hold the
/// same sample boundaries, so one set of samples serves all three).
#[derive(Debug, Clone, Default)]
pub(crate) struct Windowed {
    samples: Vec<Sample>,
    current: usize,
    total: f64,
}

impl Windowed {
    /// Records `value` at `now` (ms).
    pub fn record(&mut self, cfg: &WindowConfig, value: f64, now: u64) {
        if self.samples.is_empty() {
            self.samples.push(Sample::new(now));
            self.current = 0;
        }
        if now.saturating_sub(self.samples[self.current].start) >= cfg.window_ms {
            // Advance, keeping one extra sample for the one overlapping the window's start.
            self.current = (self.current + 1) % (cfg.samples + 1);
            if self.current >= self.samples.len() {
                self.samples.push(Sample::new(now));
            } else {
                self.samples[self.current] = Sample::new(now);
            }
        }
        let s = &mut self.samples[self.current];
        s.sum += value;
        s.max = s.max.max(value);
        s.events += 1;
        s.last_event = now;
        self.total += value;
    }

    /// The samples as Java sees them after purging: expired ones are empty and start `now`.
    fn live(&self, cfg: &WindowConfig, now: u64) -> impl Iterator<Item = Sample> + '_ {
        let cfg = *cfg;
        self.samples.iter().map(move |s| {
            if s.expired(&cfg, now) {
                Sample::new(now)
            } else {
                *s
            }
        })
    }

    /// Everything ever recorded (Java's `CumulativeSum`, the `-total` of a `Meter`).
    pub fn total(&self) -> f64 {
        self.total
    }

    /// Per second over the window (Java's `Rate`).
    pub fn rate(&self, cfg: &WindowConfig, now: u64) -> f64 {
        let sum: f64 = self.live(cfg, now).map(|s| s.sum).sum();
        let oldest = self.live(cfg, now).map(|s| s.start).min().unwrap_or(now);
        let mut elapsed = now.saturating_sub(oldest);
        let full = elapsed / cfg.window_ms;
        let min_full = cfg.samples as u64 - 1;
        if full < min_full {
            elapsed += (min_full - full) * cfg.window_ms;
        }
        sum / (elapsed.max(1) as f64 / 1000.0)
    }

    /// The average over the window; NaN when nothing was recorded in it.
    pub fn avg(&self, cfg: &WindowConfig, now: u64) -> f64 {
        let (sum, events) = self
            .live(cfg, now)
            .fold((0.0, 0u64), |(s, n), x| (s + x.sum, n + x.events));
        if events == 0 {
            f64::NAN
        } else {
            sum / events as f64
        }
    }

    /// The maximum over the window; NaN when nothing was recorded in it.
    pub fn max(&self, cfg: &WindowConfig, now: u64) -> f64 {
        let (max, events) = self
            .live(cfg, now)
            .fold((f64::NEG_INFINITY, 0u64), |(m, n), x| {
                (m.max(x.max), n + x.events)
            });
        if events == 0 {
            f64::NAN
        } else {
            max
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CFG: WindowConfig = WindowConfig::DEFAULT;

    #[test]
    fn a_young_rate_counts_at_least_samples_minus_one_windows() {
        let mut w = Windowed::default();
        w.record(&CFG, 300.0, 0);
        // 1 s after the first event: elapsed 1 s, plus one full window (2 samples - 1).
        assert_eq!(w.rate(&CFG, 1_000), 300.0 / 31.0);
        // Right at the first event: 0 ms elapsed, still 30 s.
        assert_eq!(w.rate(&CFG, 0), 10.0);
        // After 45 s (one full window elapsed, no padding): 300 / 45.
        w.record(&CFG, 150.0, 45_000);
        assert_eq!(w.rate(&CFG, 45_000), 450.0 / 45.0);
        assert_eq!(w.total(), 450.0);
    }

    #[test]
    fn samples_roll_over_and_old_ones_expire() {
        let mut w = Windowed::default();
        w.record(&CFG, 10.0, 0);
        w.record(&CFG, 20.0, 30_000); // second sample
        w.record(&CFG, 30.0, 60_000); // third (the extra one)
                                      // At 60 s the first sample's last event is 60 s old, the expire age (2 x 30 s): purged.
        assert_eq!(w.avg(&CFG, 60_000), 25.0);
        assert_eq!(w.max(&CFG, 60_000), 30.0);
        w.record(&CFG, 1.0, 90_000); // 3 slots: reuses the first
        assert_eq!(w.max(&CFG, 90_000), 30.0);
        assert_eq!(w.avg(&CFG, 90_000), 15.5);
        // 30 s later the 20 (recorded at 30 s) is 90 s old: gone; 30 (60 s) is 60 s old: gone.
        assert_eq!(w.max(&CFG, 120_000), 1.0);
        assert_eq!(w.avg(&CFG, 120_000), 1.0);
        // Nothing left at all after another minute.
        assert!(w.max(&CFG, 180_000).is_nan());
        assert!(w.avg(&CFG, 180_000).is_nan());
        assert_eq!(w.rate(&CFG, 180_000), 0.0);
        assert_eq!(w.total(), 61.0);
    }

    #[test]
    fn a_purged_window_makes_the_rate_young_again() {
        let mut w = Windowed::default();
        w.record(&CFG, 100.0, 0);
        // Long idle: every sample expired; the window counts from now, padded to 30 s.
        assert_eq!(w.rate(&CFG, 600_000), 0.0);
        w.record(&CFG, 60.0, 600_000);
        assert_eq!(w.rate(&CFG, 600_000), 2.0);
    }

    #[test]
    fn an_empty_stat_reads_as_java_reads_it() {
        let w = Windowed::default();
        assert_eq!(w.rate(&CFG, 5), 0.0);
        assert!(w.avg(&CFG, 5).is_nan());
        assert!(w.max(&CFG, 5).is_nan());
        assert_eq!(w.total(), 0.0);
    }

    #[test]
    fn other_sample_settings_are_followed() {
        let cfg = WindowConfig::new(3, 1_000);
        let mut w = Windowed::default();
        for t in 0..10u64 {
            w.record(&cfg, 1.0, t * 500); // 2 events per window
        }
        // 4 slots, windows starting 0 (reused at 4000), 1000, 2000, 3000. At 4.5 s the one
        // starting 1000 last saw an event at 1500, 3 s before: purged. Left: 6 events, the
        // oldest sample starting at 2000: 2.5 s, two full windows, no padding.
        assert_eq!(w.rate(&cfg, 4_500), 6.0 / 2.5);
        assert_eq!(w.max(&cfg, 4_500), 1.0);
        assert_eq!(WindowConfig::new(0, 0), WindowConfig::new(1, 1));
    }
}
