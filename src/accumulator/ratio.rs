//! Per topic and codec estimate of the compression ratio (compressed / uncompressed size of a
//! batch's records), as Java's `CompressionRatioEstimator`: it starts at 1.0 and moves after
//! each sealed batch toward the observed ratio: up (worse compression) at once by at least
//! [`DETERIORATE_STEP`], down (better compression) by at most [`IMPROVING_STEP`]. Rising fast
//! and falling slowly keeps batches from overshooting `batch.size` when data changes.
//!
//! Lock rule: its mutex is a leaf.

use crate::compression::CompressionType;
use parking_lot::Mutex;
use std::collections::HashMap;

/// The most an estimate falls per observed batch (Java's `COMPRESSION_RATIO_IMPROVING_STEP`).
pub const IMPROVING_STEP: f32 = 0.005;
/// The least an estimate rises per observed batch that compressed worse than estimated (Java's
/// `COMPRESSION_RATIO_DETERIORATE_STEP`).
pub const DETERIORATE_STEP: f32 = 0.05;

/// Estimated compression ratio per (topic, codec).
#[derive(Debug, Default)]
pub struct CompressionRatioEstimator {
    ratios: Mutex<HashMap<(String, CompressionType), f32>>,
}

impl CompressionRatioEstimator {
    /// The current estimate (1.0 until a batch of this topic and codec was sealed).
    pub fn estimation(&self, topic: &str, codec: CompressionType) -> f32 {
        self.ratios
            .lock()
            .get(&(topic.to_string(), codec))
            .copied()
            .unwrap_or(1.0)
    }

    /// Sets the estimate (Java's `setEstimation`: after a batch was split for being too large).
    pub fn set(&self, topic: &str, codec: CompressionType, ratio: f32) {
        if ratio.is_finite() && ratio > 0.0 {
            self.ratios.lock().insert((topic.to_string(), codec), ratio);
        }
    }

    /// Moves the estimate toward `observed` and returns the new estimate. A non-finite or
    /// non-positive observation is ignored.
    pub fn update(&self, topic: &str, codec: CompressionType, observed: f32) -> f32 {
        let mut m = self.ratios.lock();
        let cur = m.entry((topic.to_string(), codec)).or_insert(1.0);
        if observed.is_finite() && observed > 0.0 {
            if observed > *cur {
                *cur = (*cur + DETERIORATE_STEP).max(observed);
            } else if observed < *cur {
                *cur = (*cur - IMPROVING_STEP).max(observed);
            }
        }
        *cur
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_cases() {
        // CompressionRatioEstimatorTest: the new estimate is never below the observation.
        for (cur, obs, want) in [
            (0.8f32, 0.84f32, 0.85f32),
            (0.6, 0.7, 0.7),
            (0.6, 0.4, 0.595),
            (0.004, 0.001, 0.001),
        ] {
            let e = CompressionRatioEstimator::default();
            e.ratios
                .lock()
                .insert(("t".into(), CompressionType::Zstd), cur);
            let got = e.update("t", CompressionType::Zstd, obs);
            assert!((got - want).abs() < 1e-6, "{cur} {obs}: {got}");
            assert!(got >= obs);
        }
    }

    #[test]
    fn starts_at_one_falls_slowly_rises_fast_and_is_per_topic_and_codec() {
        let e = CompressionRatioEstimator::default();
        assert_eq!(e.estimation("a", CompressionType::Gzip), 1.0);
        for _ in 0..10 {
            e.update("a", CompressionType::Gzip, 0.2);
        }
        let after = e.estimation("a", CompressionType::Gzip);
        assert!((after - 0.95).abs() < 1e-4, "{after}");
        assert_eq!(e.estimation("a", CompressionType::Lz4), 1.0);
        assert_eq!(e.estimation("b", CompressionType::Gzip), 1.0);
        for _ in 0..200 {
            e.update("a", CompressionType::Gzip, 0.2);
        }
        assert!((e.estimation("a", CompressionType::Gzip) - 0.2).abs() < 1e-6);
        // One bad batch lifts the estimate at once.
        assert!((e.update("a", CompressionType::Gzip, 0.9) - 0.9).abs() < 1e-6);
        assert!((e.update("a", CompressionType::Gzip, 0.91) - 0.95).abs() < 1e-6);
        assert_eq!(
            e.update("a", CompressionType::Gzip, f32::NAN),
            e.estimation("a", CompressionType::Gzip)
        );
    }
}
