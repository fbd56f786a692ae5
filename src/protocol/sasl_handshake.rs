//! SaslHandshake (key 17): choose a SASL mechanism before authenticating.
//!
//! Versions implemented: v0 and v1; never flexible (the version cannot be bumped because of
//! old clients' negotiation, KAFKA-9577).
//! - v0: the SASL tokens that follow are sent as raw size-prefixed frames (no Kafka header).
//! - v1: the tokens are sent in SaslAuthenticate requests ([`super::sasl_authenticate`]).
//!   This client uses v1.
//! - Request: `mechanism`. Response: `error_code`, `mechanisms[]` (the broker's enabled list).
//!
//! # References
//! - <https://kafka.apache.org/protocol#The_Messages_SaslHandshake>
//! - <https://kafka.apache.org/protocol#sasl_handshake>
//! - `SaslHandshakeRequest.json`, `SaslHandshakeResponse.json` in apache/kafka
//!   `clients/src/main/resources/common/message/`
//! - KIP-43 (SASL mechanisms), KIP-152 (SaslAuthenticate, handshake v1)

use super::codec::{check_version, read_array, read_string};
use super::error_code::ErrorCode;
use super::primitives::{put_array_len, put_i16, put_string, DecodeResult, Decoder};

/// API key of SaslHandshake.
pub const API_KEY: i16 = 17;
/// Lowest version implemented.
pub const MIN_VERSION: i16 = 0;
/// Highest version implemented.
pub const MAX_VERSION: i16 = 1;
/// SaslHandshake has no flexible version.
pub const FIRST_FLEXIBLE_VERSION: Option<i16> = None;

/// The SaslHandshake request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaslHandshakeRequest<'a> {
    /// The mechanism, e.g. `PLAIN` or `SCRAM-SHA-256`.
    pub mechanism: &'a str,
}

impl SaslHandshakeRequest<'_> {
    /// Appends the body at `version` (identical in v0 and v1).
    pub fn encode(&self, _version: i16, buf: &mut Vec<u8>) {
        put_string(buf, self.mechanism, false);
    }
}

super::api::impl_request!(SaslHandshakeRequest<'_>);

/// The SaslHandshake response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaslHandshakeResponse {
    /// `UNSUPPORTED_SASL_MECHANISM` if the mechanism is not enabled.
    pub error_code: ErrorCode,
    /// Mechanisms enabled on the broker.
    pub mechanisms: Vec<String>,
}

impl SaslHandshakeResponse {
    /// Decodes a body written at `version`.
    pub fn decode(body: &[u8], version: i16) -> DecodeResult<Self> {
        check_version(version, MIN_VERSION, MAX_VERSION)?;
        let mut d = Decoder::new(body);
        Ok(SaslHandshakeResponse {
            error_code: ErrorCode(d.i16()?),
            mechanisms: read_array(&mut d, false, 2, |d| read_string(d, false))?,
        })
    }

    /// Appends the body at `version` (for tests and mock brokers).
    pub fn encode(&self, _version: i16, buf: &mut Vec<u8>) {
        put_i16(buf, self.error_code.0);
        put_array_len(buf, self.mechanisms.len(), false);
        for m in &self.mechanisms {
            put_string(buf, m, false);
        }
    }
}

super::api::impl_response!(SaslHandshakeResponse);
