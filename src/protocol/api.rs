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

/// Implements [`Request`] for a request type of the calling module, forwarding to its inherent
/// `encode` and using the module's `API_KEY`, `MIN_VERSION` and `MAX_VERSION` constants.
macro_rules! impl_request {
    ($t:ty) => {
        impl $crate::protocol::api::Request for $t {
            const API_KEY: i16 = API_KEY;
            const MIN_VERSION: i16 = MIN_VERSION;
            const MAX_VERSION: i16 = MAX_VERSION;
            fn encode_body(&self, version: i16, buf: &mut Vec<u8>) {
                self.encode(version, buf)
            }
        }
    };
}

/// Implements [`Response`] for a response type of the calling module, forwarding to its
/// inherent `decode`.
macro_rules! impl_response {
    ($t:ty) => {
        impl $crate::protocol::api::Response for $t {
            const API_KEY: i16 = API_KEY;
            fn decode_body(body: &[u8], version: i16) -> $crate::protocol::DecodeResult<Self> {
                Self::decode(body, version)
            }
        }
    };
}

pub(crate) use impl_request;
pub(crate) use impl_response;
