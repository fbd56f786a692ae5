//! Producer configuration: a typed builder and the Java client's property names.
//!
//! One table ([`properties`]) lists every Java producer property with its type, default,
//! valid values and what this client does with it; the rest of the module reads it:
//!
//! - `properties.rs`: the table and name suggestions (`readme.rs`: the README's copy of it);
//! - `parse.rs`: strings to checked values (names, types, ranges, allowed values, defaults);
//! - `rules.rs`: the rules between properties (idempotence, delivery timeout, backoffs);
//! - `security.rs`: SASL credentials (`sasl.jaas.config`);
//! - `ssl.rs`: TLS settings, reading `keystore.rs` (PKCS12 and JKS stores) and `pem.rs`
//!   (PEM certificates and keys, encrypted PKCS#8 included);
//! - `oauth.rs`: SASL/OAUTHBEARER's login (unsecured, OIDC, or a provider) and refresh timing;
//! - `types.rs`: the typed values (`Acks`, `SecurityProtocol`, ...) and bootstrap addresses;
//! - `builder.rs` and `producer_config.rs`: the public builder and configuration.

mod builder;
#[cfg(feature = "tls")]
mod ec_key;
#[cfg(feature = "tls")]
mod keystore;
mod oauth;
mod parse;
#[cfg(feature = "tls")]
mod pem;
mod producer_config;
pub(crate) mod properties;
#[cfg(test)]
mod readme;
mod rules;
mod security;
#[cfg(feature = "tls")]
mod ssl;
mod types;

pub use builder::ProducerConfigBuilder;
pub use producer_config::ProducerConfig;
pub use types::{
    Acks, BrokerAddress, ClientDnsLookup, CompressionType, OAuthBearerToken,
    OAuthBearerTokenProvider, SaslMechanism, SecurityProtocol, TokenProviderError,
};

#[cfg(test)]
mod tests;
