//! Traits tying each API module's request and response types to their API key and the
//! versions this client implements, so that framing and negotiation can be generic.
//!
//! Every API module also exposes the same facts as plain constants (`API_KEY`, `MIN_VERSION`,
//! `MAX_VERSION`, `FIRST_FLEXIBLE_VERSION`) and inherent `encode` / `decode` functions; these
//! traits just forward to them.
//!
//! # References
//! - <https://kafka.apache.org/protocol#protocol_api_keys>

use super::primitives::DecodeResult;

/// A request body of one API.
pub trait Request {
    /// The API key.
    const API_KEY: i16;
    /// The lowest version this client can write.
    const MIN_VERSION: i16;
    /// The highest version this client can write.
    const MAX_VERSION: i16;
    /// Appends the body (no size, no header) at `version`. The caller must pass a version in
    /// `MIN_VERSION..=MAX_VERSION` (normally the result of negotiation); other versions are
    /// written as the nearest implemented version would be.
    fn encode_body(&self, version: i16, buf: &mut Vec<u8>);
}

/// A response body of one API.
pub trait Response: Sized {
    /// The API key.
    const API_KEY: i16;
    /// Decodes a body (after the response header) written at `version`. Total: never panics.
    fn decode_body(body: &[u8], version: i16) -> DecodeResult<Self>;
}
