//! The typed values of enum-like properties, and bootstrap addresses.

use super::parse::invalid;
use crate::error::Error;
use std::fmt;

pub use crate::net::sasl::oauthbearer::{
    OAuthBearerToken, OAuthBearerTokenProvider, TokenProviderError,
};
pub use crate::net::sasl::SaslMechanism;

/// How many acknowledgements the leader must have before answering a produce request (`acks`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Acks {
    /// `acks=0`: no answer at all; records are "sent" once written to the socket and their
    /// offset is unknown (-1).
    None,
    /// `acks=1`: the leader wrote the record to its log.
    Leader,
    /// `acks=all` (or `-1`): all in-sync replicas have the record. The default.
    All,
}

impl Acks {
    /// The value of the `acks` field of a Produce request: 0, 1 or -1.
    pub fn as_i16(self) -> i16 {
        match self {
            Acks::None => 0,
            Acks::Leader => 1,
            Acks::All => -1,
        }
    }
    pub(crate) fn property_value(self) -> &'static str {
        match self {
            Acks::None => "0",
            Acks::Leader => "1",
            Acks::All => "all",
        }
    }
}

pub use crate::compression::CompressionType;

/// Transport and authentication to brokers (`security.protocol`). Non-exhaustive: a match
/// on it needs a `_` arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SecurityProtocol {
    /// Plain TCP, no authentication (the default).
    Plaintext,
    /// TLS. Needs the cargo feature `rustls` (on by default) or `rustls-graviola`.
    Ssl,
    /// SASL authentication over plain TCP (see [`SaslMechanism`]).
    SaslPlaintext,
    /// SASL authentication over TLS. Needs the cargo feature `rustls` or `rustls-graviola`.
    SaslSsl,
}

impl SecurityProtocol {
    /// The property value: `PLAINTEXT`, `SSL`, `SASL_PLAINTEXT` or `SASL_SSL`.
    pub fn name(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "PLAINTEXT",
            SecurityProtocol::Ssl => "SSL",
            SecurityProtocol::SaslPlaintext => "SASL_PLAINTEXT",
            SecurityProtocol::SaslSsl => "SASL_SSL",
        }
    }
}

impl SecurityProtocol {
    /// Whether connections use TLS.
    pub fn uses_tls(self) -> bool {
        matches!(self, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl)
    }
    /// Whether connections authenticate with SASL.
    pub fn uses_sasl(self) -> bool {
        matches!(
            self,
            SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl
        )
    }
}

/// How host names of brokers are resolved (`client.dns.lookup`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ClientDnsLookup {
    /// `use_all_dns_ips` (the default): every address a name resolves to is tried, in turn,
    /// until a connection succeeds.
    #[default]
    UseAllDnsIps,
    /// `resolve_canonical_bootstrap_servers_only`: accepted, and connects as `use_all_dns_ips`
    /// does. Java resolves bootstrap names to their canonical host names first, which only
    /// Kerberos (GSSAPI, not implemented) needs; a line is logged at construction.
    ResolveCanonicalBootstrapServersOnly,
}

impl ClientDnsLookup {
    /// The property value: `use_all_dns_ips` or `resolve_canonical_bootstrap_servers_only`.
    pub fn name(self) -> &'static str {
        match self {
            ClientDnsLookup::UseAllDnsIps => "use_all_dns_ips",
            ClientDnsLookup::ResolveCanonicalBootstrapServersOnly => {
                "resolve_canonical_bootstrap_servers_only"
            }
        }
    }
    /// The value of a (table-checked) property value.
    pub(crate) fn from_name(name: &str) -> Self {
        if name == ClientDnsLookup::ResolveCanonicalBootstrapServersOnly.name() {
            ClientDnsLookup::ResolveCanonicalBootstrapServersOnly
        } else {
            ClientDnsLookup::UseAllDnsIps
        }
    }
}

/// A `host:port` from `bootstrap.servers`. IPv6 hosts are kept without brackets, so
/// `(host.as_str(), port)` can be given to `TcpStream::connect` as is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BrokerAddress {
    /// Host name or IP address.
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl fmt::Display for BrokerAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl Acks {
    /// The value of a table-checked `acks` (`all`, `-1`, `0` or `1`).
    pub(crate) fn from_name(v: &str) -> Self {
        match v {
            "0" => Acks::None,
            "1" => Acks::Leader,
            _ => Acks::All,
        }
    }
}

impl SecurityProtocol {
    /// The value of a table-checked `security.protocol`; TLS needs a TLS feature.
    pub(crate) fn from_name(v: &str) -> Result<Self, Error> {
        let p = match v {
            "SSL" => SecurityProtocol::Ssl,
            "SASL_SSL" => SecurityProtocol::SaslSsl,
            "SASL_PLAINTEXT" => SecurityProtocol::SaslPlaintext,
            _ => SecurityProtocol::Plaintext,
        };
        if p.uses_tls() && !cfg!(feature = "tls") {
            return Err(Error::config(
                "security.protocol",
                format!(
                    "{v} (TLS) needs the cargo feature \"rustls\" (a default one) or \
                     \"rustls-graviola\" of kafka-sync, which this build does not have \
                     (PLAINTEXT and SASL_PLAINTEXT work without it)"
                ),
            ));
        }
        Ok(p)
    }
}

/// The codec of a table-checked `compression.type`, if this build has its cargo feature.
pub(crate) fn compression_from_name(v: &str) -> Result<CompressionType, Error> {
    const P: &str = "compression.type";
    let c = CompressionType::from_name(v).ok_or_else(|| invalid(P, v, "unknown codec"))?;
    if !crate::compression::is_available(c) {
        return Err(Error::config(
            P,
            format!(
                "{} needs the cargo feature \"{}\" of kafka-sync, which this build does not have",
                c.name(),
                crate::compression::feature_name(c).unwrap_or("none")
            ),
        ));
    }
    Ok(c)
}

/// The entries of `bootstrap.servers` as addresses.
pub(crate) fn parse_bootstrap(entries: &[String]) -> Result<Vec<BrokerAddress>, Error> {
    const P: &str = "bootstrap.servers";
    let mut out = Vec::new();
    for entry in entries {
        let bad = |why: &str| invalid(P, entry, format!("{why} (expected host:port)"));
        // Java accepts and drops a listener prefix such as PLAINTEXT://
        let addr = entry
            .split_once("://")
            .map_or(entry.as_str(), |(_, rest)| rest);
        let (host, port) = if let Some(rest) = addr.strip_prefix('[') {
            let (host, after) = rest.split_once(']').ok_or_else(|| bad("unclosed '['"))?;
            let port = after.strip_prefix(':').ok_or_else(|| bad("missing port"))?;
            (host, port)
        } else {
            addr.rsplit_once(':').ok_or_else(|| bad("missing port"))?
        };
        if host.is_empty() {
            return Err(bad("missing host"));
        }
        if !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'%' | b'.' | b'_' | b':'))
        {
            return Err(bad("illegal character in host"));
        }
        let port: u16 = match port.parse() {
            Ok(p) if p > 0 && port.bytes().all(|b| b.is_ascii_digit()) => p,
            _ => return Err(bad("port must be a number from 1 to 65535")),
        };
        out.push(BrokerAddress {
            host: host.to_string(),
            port,
        });
    }
    if out.is_empty() {
        return Err(Error::config(P, "no bootstrap servers given"));
    }
    Ok(out)
}
