//! Per-broker version negotiation: from a broker's ApiVersions response, the highest version of
//! each API that both sides support.
//!
//! Rules:
//! - Never send a version the broker did not advertise; an API it does not list is
//!   unsupported (`None`).
//! - Produce is never negotiated below v3, even if advertised: Kafka 4 advertises Produce v0-v2
//!   (KAFKA-18659, so that old clients get a clean error) but rejects them, and v3 is the first
//!   version carrying record batch v2.
//!
//! # References
//! - <https://kafka.apache.org/protocol#api_versions>
//! - KIP-35 (ApiVersions), KIP-896 (versions removed in Kafka 4.0)

use super::api::Request;
use super::api_versions::{ApiVersionRange, ApiVersionsResponse};
use super::produce;

/// The versions one broker supports, by API key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiVersionTable {
    /// Sorted by api key, one entry per key.
    ranges: Vec<ApiVersionRange>,
    /// Finalized feature levels (name, max level), from ApiVersions v3+.
    finalized: Vec<(String, i16)>,
}

impl ApiVersionTable {
    /// Builds the table from a broker's advertised ranges. Empty ranges (min > max) are
    /// dropped; if a key appears twice, the first entry wins.
    pub fn new(ranges: impl IntoIterator<Item = ApiVersionRange>) -> Self {
        let mut v: Vec<ApiVersionRange> = ranges
            .into_iter()
            .filter(|r| r.min_version <= r.max_version)
            .collect();
        v.sort_by_key(|r| r.api_key); // stable: the first of duplicates stays first
        v.dedup_by_key(|r| r.api_key);
        ApiVersionTable {
            ranges: v,
            finalized: Vec::new(),
        }
    }

    /// Builds the table from an ApiVersions response (its `api_keys` and finalized features).
    pub fn from_response(response: &ApiVersionsResponse) -> Self {
        let mut t = Self::new(response.api_keys.iter().copied());
        t.finalized = response
            .finalized_features
            .iter()
            .map(|f| (f.name.clone(), f.max_version_level))
            .collect();
        t
    }

    /// The finalized (cluster-wide) level of a feature, e.g. `transaction.version`.
    pub fn finalized(&self, name: &str) -> Option<i16> {
        self.finalized
            .iter()
            .find(|(n, _)| n == name)
            .map(|&(_, level)| level)
    }

    /// The broker's advertised range for `api_key`.
    pub fn range(&self, api_key: i16) -> Option<ApiVersionRange> {
        self.ranges
            .binary_search_by_key(&api_key, |r| r.api_key)
            .ok()
            .map(|i| self.ranges[i])
    }

    /// The highest version in both `our_min..=our_max` and the broker's range, or `None` if
    /// they do not overlap or the broker does not list the API. Produce is floored at v3.
    pub fn negotiate(&self, api_key: i16, our_min: i16, our_max: i16) -> Option<i16> {
        let our_min = if api_key == produce::API_KEY {
            our_min.max(produce::MIN_VERSION)
        } else {
            our_min
        };
        let r = self.range(api_key)?;
        let lo = our_min.max(r.min_version);
        let hi = our_max.min(r.max_version);
        (lo <= hi).then_some(hi)
    }

    /// [`ApiVersionTable::negotiate`] with a request type's own version range.
    pub fn negotiate_for<R: Request>(&self) -> Option<i16> {
        self.negotiate(R::API_KEY, R::MIN_VERSION, R::MAX_VERSION)
    }

    /// All advertised ranges, sorted by api key.
    pub fn ranges(&self) -> &[ApiVersionRange] {
        &self.ranges
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{metadata, produce::ProduceRequest};

    fn r(api_key: i16, min_version: i16, max_version: i16) -> ApiVersionRange {
        ApiVersionRange {
            api_key,
            min_version,
            max_version,
        }
    }

    #[test]
    fn highest_common_version() {
        let t = ApiVersionTable::new([r(3, 0, 7), r(0, 0, 13), r(18, 0, 4), r(22, 5, 9)]);
        assert_eq!(
            t.negotiate(3, metadata::MIN_VERSION, metadata::MAX_VERSION),
            Some(7)
        );
        assert_eq!(t.negotiate(18, 0, 3), Some(3));
        assert_eq!(t.negotiate(22, 0, 4), None); // no overlap
        assert_eq!(t.negotiate(36, 0, 2), None); // not advertised
        assert_eq!(t.negotiate_for::<ProduceRequest>(), Some(13));
        assert_eq!(t.range(18), Some(r(18, 0, 4)));
    }

    #[test]
    fn produce_never_below_v3() {
        // A Kafka 4 broker advertises Produce v0-v13; an old one might cap at v2.
        let t = ApiVersionTable::new([r(0, 0, 2)]);
        assert_eq!(t.negotiate(0, 0, 13), None);
        assert_eq!(t.negotiate(0, 0, 2), None);
        let t = ApiVersionTable::new([r(0, 0, 7)]);
        assert_eq!(t.negotiate(0, 0, 5), Some(5));
        assert_eq!(t.negotiate_for::<ProduceRequest>(), Some(7));
        let t = ApiVersionTable::new([r(0, 0, 3)]);
        assert_eq!(t.negotiate(0, 0, 13), Some(3));
    }

    #[test]
    fn odd_tables() {
        // Empty range dropped; duplicates keep the first.
        let t = ApiVersionTable::new([r(3, 5, 4), r(1, 0, 3), r(1, 0, 9)]);
        assert_eq!(t.range(3), None);
        assert_eq!(t.range(1), Some(r(1, 0, 3)));
        assert_eq!(t.ranges().len(), 1);
        let resp = ApiVersionsResponse {
            api_keys: vec![r(18, 0, 3)],
            ..Default::default()
        };
        assert_eq!(
            ApiVersionTable::from_response(&resp).negotiate(18, 0, 3),
            Some(3)
        );
    }
}
