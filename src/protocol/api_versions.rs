//! ApiVersions (key 18): which API versions a broker supports. Sent first on every connection
//! (after TLS, before SASL), and the basis of per-broker version negotiation
//! ([`super::versions`]).
//!
//! Versions implemented: v0 to v3; v3 is the first flexible version.
//! - Request: empty in v0-v2; v3 adds `client_software_name` and `client_software_version`
//!   (KIP-511).
//! - Response: `error_code`, `api_keys[] {api_key, min_version, max_version}`;
//!   `throttle_time_ms` added in v1; v3 adds the tagged fields `supported_features` (tag 0),
//!   `finalized_features_epoch` (tag 1), `finalized_features` (tag 2) and `zk_migration_ready`
//!   (tag 3).
//! - The response header is always v0, even for v3 (no tagged fields in the header).
//!
//! # Unsupported versions: retry at v0
//! A broker that does not support the requested ApiVersions version answers with error
//! `UNSUPPORTED_VERSION` **in the v0 body format**, whatever version was asked for. Since
//! Kafka 2.4 (KIP-511) that v0 response still lists the broker's ApiVersions range in
//! `api_keys`. [`ApiVersionsResponse::decode`] therefore falls back to v0 when a body does not
//! parse at the requested version (as Java's `ApiVersionsResponse.parse` does), and
//! [`ApiVersionsResponse::retry_version`] gives the version to retry with: the highest the
//! broker advertises for ApiVersions (capped at ours), or v0 if it advertised none.
//!
//! # References
//! - <https://kafka.apache.org/protocol#The_Messages_ApiVersions>
//! - `ApiVersionsRequest.json`, `ApiVersionsResponse.json` in apache/kafka
//!   `clients/src/main/resources/common/message/`
//! - KIP-35 (ApiVersions), KIP-511 (client software name/version, v0 fallback),
//!   KIP-584 (feature versioning), KIP-482 (flexible versions)

use super::codec::{check_version, read_array, read_string};
use super::error_code::ErrorCode;
use super::primitives::{
    put_array_len, put_empty_tagged_fields, put_i16, put_i32, put_i64, put_string, put_uvarint,
    DecodeResult, Decoder,
};

/// API key of ApiVersions.
pub const API_KEY: i16 = 18;
/// Lowest version implemented.
pub const MIN_VERSION: i16 = 0;
/// Highest version implemented.
pub const MAX_VERSION: i16 = 3;
/// First flexible version (compact types, tagged fields).
pub const FIRST_FLEXIBLE_VERSION: i16 = 3;

/// This client's software name, sent in ApiVersions v3+.
pub const CLIENT_SOFTWARE_NAME: &str = "kafka-sync";
/// This client's software version, sent in ApiVersions v3+.
pub const CLIENT_SOFTWARE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The ApiVersions request. [`Default`] fills in [`CLIENT_SOFTWARE_NAME`] and
/// [`CLIENT_SOFTWARE_VERSION`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiVersionsRequest<'a> {
    /// The client's name, e.g. `kafka-sync` (added in v3; must be non-empty and made of
    /// letters, digits, `.`, `-`, for the broker to accept it).
    pub client_software_name: &'a str,
    /// The client's version, e.g. `0.1.0` (added in v3; same character rules).
    pub client_software_version: &'a str,
}

impl Default for ApiVersionsRequest<'_> {
    fn default() -> Self {
        ApiVersionsRequest {
            client_software_name: CLIENT_SOFTWARE_NAME,
            client_software_version: CLIENT_SOFTWARE_VERSION,
        }
    }
}

impl ApiVersionsRequest<'_> {
    /// Appends the body at `version`.
    pub fn encode(&self, version: i16, buf: &mut Vec<u8>) {
        if version >= 3 {
            put_string(buf, self.client_software_name, true);
            put_string(buf, self.client_software_version, true);
            put_empty_tagged_fields(buf);
        }
    }
}

super::api::impl_request!(ApiVersionsRequest<'_>);

/// One API's supported version range, as advertised by a broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiVersionRange {
    /// The API key.
    pub api_key: i16,
    /// Lowest supported version, inclusive.
    pub min_version: i16,
    /// Highest supported version, inclusive.
    pub max_version: i16,
}

/// A feature's supported version range (`supported_features`, added in v3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupportedFeature {
    /// Feature name, e.g. `transaction.version`.
    pub name: String,
    /// Lowest supported version.
    pub min_version: i16,
    /// Highest supported version.
    pub max_version: i16,
}

/// A cluster-wide finalized feature level (`finalized_features`, added in v3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinalizedFeature {
    /// Feature name, e.g. `transaction.version`.
    pub name: String,
    /// Finalized highest level.
    pub max_version_level: i16,
    /// Finalized lowest level.
    pub min_version_level: i16,
}

/// The ApiVersions response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiVersionsResponse {
    /// Top-level error; `UNSUPPORTED_VERSION` means retry (see the module docs).
    pub error_code: ErrorCode,
    /// The APIs the broker supports.
    pub api_keys: Vec<ApiVersionRange>,
    /// Throttle time in ms (added in v1; 0 before).
    pub throttle_time_ms: i32,
    /// Features the broker supports (tagged, added in v3).
    pub supported_features: Vec<SupportedFeature>,
    /// Epoch of the finalized features, -1 if unknown (tagged, added in v3).
    pub finalized_features_epoch: i64,
    /// Cluster-wide finalized features (tagged, added in v3).
    pub finalized_features: Vec<FinalizedFeature>,
    /// Set by a KRaft controller ready for ZooKeeper migration (tagged, added in v3).
    pub zk_migration_ready: bool,
    /// The version the body was actually decoded at: the requested one, or 0 after the
    /// `UNSUPPORTED_VERSION` fallback.
    pub decoded_version: i16,
}

impl Default for ApiVersionsResponse {
    fn default() -> Self {
        ApiVersionsResponse {
            error_code: ErrorCode::NONE,
            api_keys: Vec::new(),
            throttle_time_ms: 0,
            supported_features: Vec::new(),
            finalized_features_epoch: -1,
            finalized_features: Vec::new(),
            zk_migration_ready: false,
            decoded_version: 0,
        }
    }
}

impl ApiVersionsResponse {
    /// Decodes a body sent in answer to a request of `version`. If it does not parse at
    /// `version`, it is decoded again at v0 (a broker answers unsupported versions in v0
    /// format); [`ApiVersionsResponse::decoded_version`] says which one succeeded.
    pub fn decode(body: &[u8], version: i16) -> DecodeResult<Self> {
        check_version(version, MIN_VERSION, MAX_VERSION)?;
        match Self::decode_exact(body, version) {
            Ok(r) => Ok(r),
            Err(e) if version == 0 => Err(e),
            Err(_) => Self::decode_exact(body, 0),
        }
    }

    /// Decodes a body at exactly `version`, with no fallback.
    pub fn decode_exact(body: &[u8], version: i16) -> DecodeResult<Self> {
        check_version(version, MIN_VERSION, MAX_VERSION)?;
        let flexible = version >= FIRST_FLEXIBLE_VERSION;
        let mut d = Decoder::new(body);
        let mut r = ApiVersionsResponse {
            error_code: ErrorCode(d.i16()?),
            decoded_version: version,
            ..Default::default()
        };
        r.api_keys = read_array(&mut d, flexible, 6, |d| {
            let k = ApiVersionRange {
                api_key: d.i16()?,
                min_version: d.i16()?,
                max_version: d.i16()?,
            };
            if flexible {
                d.skip_tagged_fields()?;
            }
            Ok(k)
        })?;
        if version >= 1 {
            r.throttle_time_ms = d.i32()?;
        }
        if flexible {
            d.tagged_fields(|tag, data| {
                let mut t = Decoder::new(data);
                match tag {
                    0 => {
                        r.supported_features = read_array(&mut t, true, 5, |t| {
                            let f = SupportedFeature {
                                name: read_string(t, true)?,
                                min_version: t.i16()?,
                                max_version: t.i16()?,
                            };
                            t.skip_tagged_fields()?;
                            Ok(f)
                        })?
                    }
                    1 => r.finalized_features_epoch = t.i64()?,
                    2 => {
                        r.finalized_features = read_array(&mut t, true, 5, |t| {
                            let f = FinalizedFeature {
                                name: read_string(t, true)?,
                                max_version_level: t.i16()?,
                                min_version_level: t.i16()?,
                            };
                            t.skip_tagged_fields()?;
                            Ok(f)
                        })?
                    }
                    3 => r.zk_migration_ready = t.bool()?,
                    _ => {}
                }
                Ok(())
            })?;
        }
        Ok(r)
    }

    /// The advertised range of `api_key`, if the broker listed it.
    pub fn range(&self, api_key: i16) -> Option<ApiVersionRange> {
        self.api_keys.iter().copied().find(|k| k.api_key == api_key)
    }

    /// After an `UNSUPPORTED_VERSION` answer: the ApiVersions version to retry with, the
    /// highest the broker advertises for ApiVersions capped at [`MAX_VERSION`], or 0 when it
    /// advertises none (brokers before 2.4).
    pub fn retry_version(&self) -> i16 {
        self.range(API_KEY)
            .filter(|r| r.min_version <= r.max_version && r.min_version <= MAX_VERSION)
            .map_or(0, |r| r.max_version.clamp(MIN_VERSION, MAX_VERSION))
    }

    /// The finalized level of a feature (e.g. `transaction.version`), if finalized.
    pub fn finalized_feature(&self, name: &str) -> Option<&FinalizedFeature> {
        self.finalized_features.iter().find(|f| f.name == name)
    }

    /// Appends the body at `version` (for tests and mock brokers). Tagged fields are written
    /// only when they differ from their defaults.
    pub fn encode(&self, version: i16, buf: &mut Vec<u8>) {
        let flexible = version >= FIRST_FLEXIBLE_VERSION;
        put_i16(buf, self.error_code.0);
        put_array_len(buf, self.api_keys.len(), flexible);
        for k in &self.api_keys {
            put_i16(buf, k.api_key);
            put_i16(buf, k.min_version);
            put_i16(buf, k.max_version);
            if flexible {
                put_empty_tagged_fields(buf);
            }
        }
        if version >= 1 {
            put_i32(buf, self.throttle_time_ms);
        }
        if flexible {
            let mut fields: Vec<(u64, Vec<u8>)> = Vec::new();
            if !self.supported_features.is_empty() {
                let mut t = Vec::new();
                put_array_len(&mut t, self.supported_features.len(), true);
                for f in &self.supported_features {
                    put_string(&mut t, &f.name, true);
                    put_i16(&mut t, f.min_version);
                    put_i16(&mut t, f.max_version);
                    put_empty_tagged_fields(&mut t);
                }
                fields.push((0, t));
            }
            if self.finalized_features_epoch != -1 {
                let mut t = Vec::new();
                put_i64(&mut t, self.finalized_features_epoch);
                fields.push((1, t));
            }
            if !self.finalized_features.is_empty() {
                let mut t = Vec::new();
                put_array_len(&mut t, self.finalized_features.len(), true);
                for f in &self.finalized_features {
                    put_string(&mut t, &f.name, true);
                    put_i16(&mut t, f.max_version_level);
                    put_i16(&mut t, f.min_version_level);
                    put_empty_tagged_fields(&mut t);
                }
                fields.push((2, t));
            }
            if self.zk_migration_ready {
                fields.push((3, vec![1]));
            }
            put_uvarint(buf, fields.len() as u64);
            for (tag, data) in fields {
                put_uvarint(buf, tag);
                put_uvarint(buf, data.len() as u64);
                buf.extend_from_slice(&data);
            }
        }
    }
}

super::api::impl_response!(ApiVersionsResponse);
