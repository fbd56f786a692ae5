//! SaslAuthenticate (key 36): carry SASL tokens after a SaslHandshake v1.
//!
//! Versions implemented: v0 to v2; v2 is the first flexible version.
//! - Request: `auth_bytes`.
//! - Response: `error_code`, `error_message` (nullable), `auth_bytes`; `session_lifetime_ms`
//!   added in v1 (KIP-368: re-authenticate before it elapses; 0 = no limit).
//!
//! # References
//! - <https://kafka.apache.org/protocol#The_Messages_SaslAuthenticate>
//! - `SaslAuthenticateRequest.json`, `SaslAuthenticateResponse.json` in apache/kafka
//!   `clients/src/main/resources/common/message/`
//! - KIP-152 (SaslAuthenticate), KIP-368 (re-authentication), KIP-482 (flexible versions)

use super::codec::{check_version, read_nullable_string};
use super::error_code::ErrorCode;
use super::primitives::{
    put_bytes, put_empty_tagged_fields, put_i16, put_i64, put_nullable_string, DecodeResult,
    Decoder,
};

/// API key of SaslAuthenticate.
pub const API_KEY: i16 = 36;
/// Lowest version implemented.
pub const MIN_VERSION: i16 = 0;
/// Highest version implemented.
pub const MAX_VERSION: i16 = 2;
/// First flexible version (compact types, tagged fields).
pub const FIRST_FLEXIBLE_VERSION: i16 = 2;

/// The SaslAuthenticate request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaslAuthenticateRequest<'a> {
    /// The client's SASL token.
    pub auth_bytes: &'a [u8],
}

impl SaslAuthenticateRequest<'_> {
    /// Appends the body at `version`.
    pub fn encode(&self, version: i16, buf: &mut Vec<u8>) {
        let fx = version >= FIRST_FLEXIBLE_VERSION;
        put_bytes(buf, self.auth_bytes, fx);
        if fx {
            put_empty_tagged_fields(buf);
        }
    }
}

super::api::impl_request!(SaslAuthenticateRequest<'_>);

/// The SaslAuthenticate response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaslAuthenticateResponse {
    /// The error, or `NONE` (`SASL_AUTHENTICATION_FAILED` on bad credentials).
    pub error_code: ErrorCode,
    /// The broker's message, if any.
    pub error_message: Option<String>,
    /// The broker's SASL token.
    pub auth_bytes: Vec<u8>,
    /// Session lifetime in ms, 0 if unlimited (added in v1).
    pub session_lifetime_ms: i64,
}

impl SaslAuthenticateResponse {
    /// Decodes a body written at `version`.
    pub fn decode(body: &[u8], version: i16) -> DecodeResult<Self> {
        check_version(version, MIN_VERSION, MAX_VERSION)?;
        let fx = version >= FIRST_FLEXIBLE_VERSION;
        let mut d = Decoder::new(body);
        let r = SaslAuthenticateResponse {
            error_code: ErrorCode(d.i16()?),
            error_message: read_nullable_string(&mut d, fx)?,
            auth_bytes: d.bytes(fx)?.to_vec(),
            session_lifetime_ms: if version >= 1 { d.i64()? } else { 0 },
        };
        if fx {
            d.skip_tagged_fields()?;
        }
        Ok(r)
    }

    /// Appends the body at `version` (for tests and mock brokers).
    pub fn encode(&self, version: i16, buf: &mut Vec<u8>) {
        let fx = version >= FIRST_FLEXIBLE_VERSION;
        put_i16(buf, self.error_code.0);
        put_nullable_string(buf, self.error_message.as_deref(), fx);
        put_bytes(buf, &self.auth_bytes, fx);
        if version >= 1 {
            put_i64(buf, self.session_lifetime_ms);
        }
        if fx {
            put_empty_tagged_fields(buf);
        }
    }
}

super::api::impl_response!(SaslAuthenticateResponse);
