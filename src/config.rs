//! Producer configuration: a typed builder and the Java client's property names.

use crate::error::Error;
use crate::net::tls::TlsConnector;
use crate::partitioner::Partitioner;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

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
    fn property_value(self) -> &'static str {
        match self {
            Acks::None => "0",
            Acks::Leader => "1",
            Acks::All => "all",
        }
    }
}

pub use crate::protocol::record_batch::CompressionType;

/// Transport and authentication to brokers (`security.protocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecurityProtocol {
    /// Plain TCP, no authentication (the default).
    Plaintext,
    /// TLS. Needs the cargo feature `rustls` (off by default: its crypto provider compiles C).
    Ssl,
    /// SASL authentication over plain TCP (see [`SaslMechanism`]).
    SaslPlaintext,
    /// SASL authentication over TLS. Needs the cargo feature `rustls`.
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

/// A SASL mechanism (`sasl.mechanism`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SaslMechanism {
    /// `PLAIN` (RFC 4616): user name and password sent as they are. The default, as in Java.
    /// Only safe over TLS or a trusted network.
    Plain,
    /// `SCRAM-SHA-256` (RFC 5802, RFC 7677): a challenge-response exchange; the password never
    /// crosses the network. Needs the cargo feature `sasl-scram` (on by default).
    ScramSha256,
    /// `SCRAM-SHA-512`: as SCRAM-SHA-256 with SHA-512. Needs the cargo feature `sasl-scram`.
    ScramSha512,
}

impl SaslMechanism {
    /// The mechanism's name: `PLAIN`, `SCRAM-SHA-256` or `SCRAM-SHA-512`.
    pub fn name(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
        }
    }
    /// The mechanism with this name (ASCII case-insensitive), if this client implements it.
    pub fn from_name(name: &str) -> Option<Self> {
        [
            SaslMechanism::Plain,
            SaslMechanism::ScramSha256,
            SaslMechanism::ScramSha512,
        ]
        .into_iter()
        .find(|m| m.name().eq_ignore_ascii_case(name))
    }
    /// Whether this build can use the mechanism (SCRAM needs the `sasl-scram` feature).
    pub fn is_available(self) -> bool {
        match self {
            SaslMechanism::Plain => true,
            SaslMechanism::ScramSha256 | SaslMechanism::ScramSha512 => cfg!(feature = "sasl-scram"),
        }
    }
}

/// What SASL needs on every connection: the mechanism and the credentials. `Debug` never shows
/// the password.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SaslSettings {
    pub mechanism: SaslMechanism,
    pub username: String,
    pub password: String,
}

impl fmt::Debug for SaslSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SaslSettings")
            .field("mechanism", &self.mechanism.name())
            .field("username", &self.username)
            .field("password", &REDACTED)
            .finish()
    }
}

/// What `Debug` and [`ProducerConfig::values`] show instead of a secret.
const REDACTED: &str = "[hidden]";

/// Whether a property's value is a secret that must not be logged or shown by `Debug`.
fn is_secret(property: &str) -> bool {
    property == "sasl.jaas.config"
        || property.contains("password")
        || property.contains("secret")
        || property == "ssl.keystore.key"
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

/// A validated producer configuration. Build it with [`ProducerConfig::builder`] or
/// [`ProducerConfig::from_properties`].
///
/// The getters return effective values: after defaults, Java's adjustments (idempotence turned
/// off, delivery timeout raised, backoff caps) and the generated client id.
///
/// ```
/// use kafka_sync::{Acks, ProducerConfig};
/// use std::time::Duration;
///
/// // typed
/// let cfg = ProducerConfig::builder()
///     .bootstrap_servers("localhost:9092")
///     .linger(Duration::from_millis(10))
///     .acks(Acks::All)
///     .build()
///     .unwrap();
/// assert_eq!(cfg.linger(), Duration::from_millis(10));
///
/// // Java property names, e.g. pasted from a producer.properties file
/// let cfg = ProducerConfig::from_properties([
///     ("bootstrap.servers", "broker1:9092,broker2:9092"),
///     ("linger.ms", "10"),
///     ("key.serializer", "org.apache.kafka.common.serialization.StringSerializer"),
/// ])
/// .unwrap();
/// assert_eq!(cfg.bootstrap_servers().len(), 2);
/// assert!(cfg.idempotence_enabled());
/// ```
///
/// # Rules (as in the Java producer 4.x)
///
/// - Defaults, value types and ranges are Java's. Values are trimmed; booleans are `true` /
///   `false` in any case; numbers are decimal.
/// - An unknown property is an error ([`Error::Config`] naming it), so typos are caught.
/// - `delivery.timeout.ms` must be at least `linger.ms + request.timeout.ms`. If it was set
///   explicitly this is an error; if it is the default, it is raised to that sum (with a
///   warning), as Java does.
/// - Idempotence (`enable.idempotence`, default `true`) needs `acks=all`, `retries > 0` and
///   `max.in.flight.requests.per.connection <= 5`. If idempotence was set to `true`
///   explicitly, a conflicting setting is an error naming it; if it is only the default, it is
///   turned off (logged at info). [`ProducerConfig::idempotence_enabled`] is the outcome.
/// - `retry.backoff.max.ms` below `retry.backoff.ms` gives a constant backoff of
///   `retry.backoff.ms`; setting `reconnect.backoff.ms` without `reconnect.backoff.max.ms`
///   disables exponential reconnect backoff (max = base), as Java does.
/// - SASL (`security.protocol=SASL_PLAINTEXT`): `sasl.mechanism` is `PLAIN` (the default),
///   `SCRAM-SHA-256` or `SCRAM-SHA-512` (the SCRAM ones need the cargo feature `sasl-scram`, on
///   by default); the credentials come from `sasl.jaas.config` as Java users write it,
///   `org.apache.kafka.common.security.plain.PlainLoginModule required username="..."
///   password="...";` (or `ScramLoginModule`; quoted values take backslash escapes), or from
///   [`ProducerConfigBuilder::sasl_plain`] and its siblings. Missing credentials are an error
///   naming `sasl.jaas.config`. Under `PLAINTEXT` the `sasl.*` properties are ignored, as in
///   Java. The password is never logged: `Debug` and [`values`](ProducerConfig::values) show
///   `[hidden]` for `sasl.jaas.config` and every `*password*` property.
/// - TLS (`security.protocol=SSL` or `SASL_SSL`; cargo feature `rustls`, off by default because
///   its crypto provider, ring, needs a C compiler): trusted certificates come from
///   `ssl.truststore.location` (a PEM file of CA certificates) or `ssl.truststore.certificates`
///   (the PEM text itself), with `ssl.truststore.type` `PEM` or unset; JKS and PKCS12 stores
///   are errors (convert them to PEM, e.g. `keytool -exportcert -rfc`). With neither set, the
///   public CAs of the Mozilla root program (webpki-roots) are trusted.
///   `ssl.endpoint.identification.algorithm` is `https` (the default: the broker's certificate
///   must name the host in its address) or empty (the chain is still verified, the name is
///   not). A client certificate (brokers with `ssl.client.auth=required`) is
///   `ssl.keystore.location` (one PEM file holding the certificate chain and an unencrypted
///   PKCS#8, PKCS#1 or SEC1 key) or `ssl.keystore.certificate.chain` with `ssl.keystore.key`
///   (the PEM text), with `ssl.keystore.type` `PEM` or unset; encrypted keys
///   (`ssl.key.password`) are not supported. A broker certificate that fails verification
///   fails queued records at once with [`Error::Authentication`], as bad SASL credentials do.
/// - An empty `client.id` becomes `producer-N` (N counts producers configured in this process,
///   from 1), as Java does.
///
/// # Not supported yet
///
/// These are errors that say so, never silently ignored: a `compression.type` whose cargo
/// feature (`gzip`, `snappy`, `lz4`, `zstd`; all on by default) is not compiled in,
/// `transactional.id`, `security.protocol` `SSL` or `SASL_SSL` without the cargo feature
/// `rustls`, JKS and PKCS12 key and trust stores, a `sasl.mechanism` other
/// than `PLAIN`, `SCRAM-SHA-256` and `SCRAM-SHA-512`, a non-empty `interceptor.classes` or `config.providers`, and `partitioner.class`
/// (set a Rust [`Partitioner`] with [`ProducerConfigBuilder::partitioner`] instead).
///
/// # Accepted without effect
///
/// - `key.serializer` / `value.serializer`: in Rust the serializers are types given to the
///   producer, so these class names are ignored (accepted so Java configurations can be pasted).
/// - `compression.lz4.level`, `compression.zstd.level`: validated with Java's ranges and kept
///   ([`ProducerConfig::compression_level`]), but the pure-Rust encoders have one level each
///   (lz4_flex's fast compressor; ruzstd's "fastest", about zstd level 1). Only
///   `compression.gzip.level` changes the output.
/// - `partitioner.adaptive.partitioning.enable`, `partitioner.availability.timeout.ms`,
///   `partitioner.rack.aware`: the sticky partitioner picks uniformly among partitions with a
///   leader (Java's behavior without load statistics).
/// - `ssl.*` other than those above (`ssl.protocol`, `ssl.enabled.protocols`,
///   `ssl.cipher.suites`: rustls offers TLS 1.3 and 1.2 with its safe cipher suites), store
///   passwords, `security.providers`, and `sasl.*` other than `sasl.mechanism` and
///   `sasl.jaas.config` (Kerberos, OAUTHBEARER and Java login class settings), metrics
///   settings, `client.rack`, `client.dns.lookup`, `bootstrap.resolve.timeout.ms`,
///   `metadata.recovery.*`, `metadata.cluster.check.enable`,
///   `buffer.memory.allocation.strategy`, `transaction.timeout.ms`,
///   `transaction.two.phase.commit.enable`. Their values are type-checked where the type is
///   simple (booleans, integers).
#[derive(Clone)]
pub struct ProducerConfig {
    bootstrap_servers: Vec<BrokerAddress>,
    client_id: String,
    acks: Acks,
    linger: Duration,
    batch_size: usize,
    buffer_memory: usize,
    max_block: Duration,
    delivery_timeout: Duration,
    request_timeout: Duration,
    retries: u32,
    retry_backoff: Duration,
    retry_backoff_max: Duration,
    reconnect_backoff: Duration,
    reconnect_backoff_max: Duration,
    max_in_flight: usize,
    max_request_size: usize,
    metadata_max_age: Duration,
    metadata_max_idle: Duration,
    partitioner_ignore_keys: bool,
    partitioner_adaptive: bool,
    partitioner_availability_timeout: Duration,
    idempotence: bool,
    compression: CompressionType,
    gzip_level: i32,
    lz4_level: i32,
    zstd_level: i32,
    connections_max_idle: Option<Duration>,
    send_buffer_bytes: Option<usize>,
    receive_buffer_bytes: Option<usize>,
    socket_connection_setup_timeout: Duration,
    socket_connection_setup_timeout_max: Duration,
    security_protocol: SecurityProtocol,
    sasl: Option<SaslSettings>,
    tls: Option<TlsConnector>,
    partitioner: Option<Arc<dyn Partitioner>>,
}

/// Builds a [`ProducerConfig`]: typed setters and [`set`](Self::set) with Java property names
/// both record a property; [`build`](Self::build) validates them all. A later setting of the
/// same property replaces an earlier one.
#[derive(Clone, Default)]
pub struct ProducerConfigBuilder {
    props: BTreeMap<String, String>,
    partitioner: Option<Arc<dyn Partitioner>>,
}

impl fmt::Debug for ProducerConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let props: BTreeMap<&str, &str> = self
            .props
            .iter()
            .map(|(k, v)| (k.as_str(), if is_secret(k) { REDACTED } else { v.as_str() }))
            .collect();
        f.debug_struct("ProducerConfigBuilder")
            .field("props", &props)
            .field("partitioner", &self.partitioner.as_ref().map(|_| "custom"))
            .finish()
    }
}

fn ms(d: Duration) -> String {
    d.as_millis().to_string()
}

impl ProducerConfigBuilder {
    /// Sets a property by its Java name (`"linger.ms"`, `"acks"`, ...). Errors (unknown
    /// name, bad value) are reported by [`build`](Self::build).
    pub fn set(mut self, property: impl Into<String>, value: impl Into<String>) -> Self {
        self.props.insert(property.into(), value.into());
        self
    }
    /// `bootstrap.servers` (required): comma-separated `host:port` list, e.g.
    /// `"b1:9092,b2:9092"`; IPv6 as `[::1]:9092`.
    pub fn bootstrap_servers(self, servers: impl Into<String>) -> Self {
        self.set("bootstrap.servers", servers)
    }
    /// `client.id`: the name sent to brokers in every request; default `producer-N`.
    pub fn client_id(self, id: impl Into<String>) -> Self {
        self.set("client.id", id)
    }
    /// `acks` (default [`Acks::All`]).
    pub fn acks(self, acks: Acks) -> Self {
        self.set("acks", acks.property_value())
    }
    /// `linger.ms` (default 5 ms): how long to wait for more records before sending a batch
    /// that is not full. Truncated to whole milliseconds.
    pub fn linger(self, d: Duration) -> Self {
        self.set("linger.ms", ms(d))
    }
    /// `batch.size` (default 16384): target bytes per partition batch.
    pub fn batch_size(self, bytes: usize) -> Self {
        self.set("batch.size", bytes.to_string())
    }
    /// `buffer.memory` (default 32 MiB): bytes of records waiting to be sent, across all
    /// partitions; `send` blocks up to `max.block.ms` when it is full.
    pub fn buffer_memory(self, bytes: usize) -> Self {
        self.set("buffer.memory", bytes.to_string())
    }
    /// `max.block.ms` (default 60 s): how long `send` may block for metadata or buffer space.
    pub fn max_block(self, d: Duration) -> Self {
        self.set("max.block.ms", ms(d))
    }
    /// `delivery.timeout.ms` (default 120 s): upper bound on the time from `send` to the
    /// record's final answer, retries included.
    pub fn delivery_timeout(self, d: Duration) -> Self {
        self.set("delivery.timeout.ms", ms(d))
    }
    /// `request.timeout.ms` (default 30 s): how long to wait for a broker's answer.
    pub fn request_timeout(self, d: Duration) -> Self {
        self.set("request.timeout.ms", ms(d))
    }
    /// `retries` (default `i32::MAX`, at most that): retries of a failed batch, within
    /// `delivery.timeout.ms`.
    pub fn retries(self, n: u32) -> Self {
        self.set("retries", n.to_string())
    }
    /// `retry.backoff.ms` (default 100 ms): first backoff before retrying.
    pub fn retry_backoff(self, d: Duration) -> Self {
        self.set("retry.backoff.ms", ms(d))
    }
    /// `retry.backoff.max.ms` (default 1 s): cap of the exponential retry backoff.
    pub fn retry_backoff_max(self, d: Duration) -> Self {
        self.set("retry.backoff.max.ms", ms(d))
    }
    /// `reconnect.backoff.ms` (default 50 ms): first wait before reconnecting to a broker.
    pub fn reconnect_backoff(self, d: Duration) -> Self {
        self.set("reconnect.backoff.ms", ms(d))
    }
    /// `reconnect.backoff.max.ms` (default 1 s): cap of the exponential reconnect backoff.
    pub fn reconnect_backoff_max(self, d: Duration) -> Self {
        self.set("reconnect.backoff.max.ms", ms(d))
    }
    /// `max.in.flight.requests.per.connection` (default 5): unanswered requests per broker.
    pub fn max_in_flight_requests_per_connection(self, n: usize) -> Self {
        self.set("max.in.flight.requests.per.connection", n.to_string())
    }
    /// `max.request.size` (default 1 MiB): largest produce request, and largest record.
    pub fn max_request_size(self, bytes: usize) -> Self {
        self.set("max.request.size", bytes.to_string())
    }
    /// `metadata.max.age.ms` (default 5 min): metadata is refreshed at least this often.
    pub fn metadata_max_age(self, d: Duration) -> Self {
        self.set("metadata.max.age.ms", ms(d))
    }
    /// `metadata.max.idle.ms` (default 5 min, at least 5 s): metadata of a topic not written
    /// to for this long is dropped.
    pub fn metadata_max_idle(self, d: Duration) -> Self {
        self.set("metadata.max.idle.ms", ms(d))
    }
    /// `partitioner.ignore.keys` (default false): when true, keyed records are sticky
    /// partitioned like keyless ones.
    pub fn partitioner_ignore_keys(self, ignore: bool) -> Self {
        self.set("partitioner.ignore.keys", ignore.to_string())
    }
    /// `enable.idempotence` (default true).
    pub fn enable_idempotence(self, enable: bool) -> Self {
        self.set("enable.idempotence", enable.to_string())
    }
    /// `compression.type` (default [`CompressionType::None`]).
    pub fn compression(self, c: CompressionType) -> Self {
        self.set("compression.type", c.name())
    }
    /// `connections.max.idle.ms` (default 9 min): idle connections are closed after this;
    /// `None` never closes them (Java: a negative value).
    pub fn connections_max_idle(self, d: Option<Duration>) -> Self {
        self.set("connections.max.idle.ms", d.map_or("-1".to_string(), ms))
    }
    /// `send.buffer.bytes` (default 128 KiB): socket send buffer; `None` keeps the OS
    /// default (Java: -1).
    pub fn send_buffer_bytes(self, bytes: Option<usize>) -> Self {
        self.set(
            "send.buffer.bytes",
            bytes.map_or("-1".to_string(), |b| b.to_string()),
        )
    }
    /// `receive.buffer.bytes` (default 32 KiB): socket receive buffer; `None` keeps the OS
    /// default (Java: -1).
    pub fn receive_buffer_bytes(self, bytes: Option<usize>) -> Self {
        self.set(
            "receive.buffer.bytes",
            bytes.map_or("-1".to_string(), |b| b.to_string()),
        )
    }
    /// `socket.connection.setup.timeout.ms` (default 10 s): first connect timeout.
    pub fn socket_connection_setup_timeout(self, d: Duration) -> Self {
        self.set("socket.connection.setup.timeout.ms", ms(d))
    }
    /// `socket.connection.setup.timeout.max.ms` (default 30 s): cap of the growing connect
    /// timeout.
    pub fn socket_connection_setup_timeout_max(self, d: Duration) -> Self {
        self.set("socket.connection.setup.timeout.max.ms", ms(d))
    }
    /// `security.protocol` (default [`SecurityProtocol::Plaintext`]).
    pub fn security_protocol(self, p: SecurityProtocol) -> Self {
        self.set("security.protocol", p.name())
    }
    /// `sasl.mechanism` (default [`SaslMechanism::Plain`]); used with a `SASL_*`
    /// security protocol.
    pub fn sasl_mechanism(self, m: SaslMechanism) -> Self {
        self.set("sasl.mechanism", m.name())
    }
    /// `sasl.jaas.config`, as in Java, e.g.
    /// `org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="secret";`
    /// (`PlainLoginModule` or `ScramLoginModule`; only `username` and `password` are used).
    pub fn sasl_jaas_config(self, jaas: impl Into<String>) -> Self {
        self.set("sasl.jaas.config", jaas)
    }
    /// SASL/PLAIN with these credentials: sets `sasl.mechanism`, `sasl.jaas.config`, and
    /// `security.protocol` to `SASL_PLAINTEXT` (or `SASL_SSL` if it was `SSL`) unless it is
    /// already a SASL protocol.
    ///
    /// ```
    /// use kafka_sync::{ProducerConfig, SaslMechanism, SecurityProtocol};
    /// let cfg = ProducerConfig::builder()
    ///     .bootstrap_servers("localhost:9094")
    ///     .sasl_plain("alice", "alice-secret")
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(cfg.security_protocol(), SecurityProtocol::SaslPlaintext);
    /// assert_eq!(cfg.sasl_mechanism(), Some(SaslMechanism::Plain));
    /// assert_eq!(cfg.sasl_username(), Some("alice"));
    /// assert!(!format!("{cfg:?}").contains("alice-secret"));
    /// ```
    pub fn sasl_plain(self, username: &str, password: &str) -> Self {
        self.sasl_credentials(SaslMechanism::Plain, username, password)
    }
    /// SASL/SCRAM-SHA-256 with these credentials; see [`sasl_plain`](Self::sasl_plain) for
    /// what it sets.
    pub fn sasl_scram_sha256(self, username: &str, password: &str) -> Self {
        self.sasl_credentials(SaslMechanism::ScramSha256, username, password)
    }
    /// SASL/SCRAM-SHA-512 with these credentials; see [`sasl_plain`](Self::sasl_plain) for
    /// what it sets.
    pub fn sasl_scram_sha512(self, username: &str, password: &str) -> Self {
        self.sasl_credentials(SaslMechanism::ScramSha512, username, password)
    }
    /// `mechanism` with these credentials (written as a `sasl.jaas.config`); see
    /// [`sasl_plain`](Self::sasl_plain) for what it sets.
    pub fn sasl_credentials(
        self,
        mechanism: SaslMechanism,
        username: &str,
        password: &str,
    ) -> Self {
        let module = match mechanism {
            SaslMechanism::Plain => "org.apache.kafka.common.security.plain.PlainLoginModule",
            _ => "org.apache.kafka.common.security.scram.ScramLoginModule",
        };
        let jaas = format!(
            "{module} required username=\"{}\" password=\"{}\";",
            jaas_escape(username),
            jaas_escape(password)
        );
        let protocol = match self
            .props
            .get("security.protocol")
            .map(|v| v.trim().to_ascii_uppercase())
        {
            Some(p) if p == "SASL_PLAINTEXT" || p == "SASL_SSL" => None,
            Some(p) if p == "SSL" => Some(SecurityProtocol::SaslSsl),
            _ => Some(SecurityProtocol::SaslPlaintext),
        };
        let b = self.sasl_mechanism(mechanism).sasl_jaas_config(jaas);
        match protocol {
            Some(p) => b.security_protocol(p),
            None => b,
        }
    }
    /// Trust the CA certificates in this PEM file (`ssl.truststore.location`, with
    /// `ssl.truststore.type=PEM`) instead of the public CAs. Used with `security.protocol`
    /// `SSL` or `SASL_SSL` (cargo feature `rustls`).
    ///
    /// ```no_run
    /// use kafka_sync::{ProducerConfig, SecurityProtocol};
    /// let cfg = ProducerConfig::builder()
    ///     .bootstrap_servers("broker.example.com:9093")
    ///     .security_protocol(SecurityProtocol::Ssl)
    ///     .ssl_truststore_location("/etc/kafka/ca.pem")
    ///     .build();
    /// ```
    pub fn ssl_truststore_location(self, path: impl AsRef<std::path::Path>) -> Self {
        self.set("ssl.truststore.type", "PEM").set(
            "ssl.truststore.location",
            path.as_ref().to_string_lossy().into_owned(),
        )
    }
    /// Trust these PEM CA certificates (`ssl.truststore.certificates`, with
    /// `ssl.truststore.type=PEM`), given as text.
    pub fn ssl_truststore_certificates(self, pem: impl Into<String>) -> Self {
        self.set("ssl.truststore.type", "PEM")
            .set("ssl.truststore.certificates", pem)
    }
    /// Whether the broker's certificate must name the host connected to
    /// (`ssl.endpoint.identification.algorithm` `https`, the default, or empty). The
    /// certificate chain is verified either way.
    pub fn ssl_endpoint_identification(self, verify_host_name: bool) -> Self {
        self.set(
            "ssl.endpoint.identification.algorithm",
            if verify_host_name { "https" } else { "" },
        )
    }
    /// A client certificate: a PEM file holding the certificate chain and its unencrypted
    /// private key (`ssl.keystore.location`, with `ssl.keystore.type=PEM`), for brokers with
    /// `ssl.client.auth=required`.
    pub fn ssl_keystore_location(self, path: impl AsRef<std::path::Path>) -> Self {
        self.set("ssl.keystore.type", "PEM").set(
            "ssl.keystore.location",
            path.as_ref().to_string_lossy().into_owned(),
        )
    }
    /// A client certificate given as PEM text: the certificate chain
    /// (`ssl.keystore.certificate.chain`) and its unencrypted private key
    /// (`ssl.keystore.key`, a secret: never shown by `Debug`).
    pub fn ssl_keystore_pem(
        self,
        certificate_chain: impl Into<String>,
        private_key: impl Into<String>,
    ) -> Self {
        self.set("ssl.keystore.type", "PEM")
            .set("ssl.keystore.certificate.chain", certificate_chain)
            .set("ssl.keystore.key", private_key)
    }
    /// A custom partitioner (Java's `partitioner.class`).
    pub fn partitioner(mut self, p: impl Partitioner + 'static) -> Self {
        self.partitioner = Some(Arc::new(p));
        self
    }
    /// Validates everything and returns the configuration, or the first problem found.
    pub fn build(self) -> Result<ProducerConfig, Error> {
        ProducerConfig::from_parts(self.props, self.partitioner)
    }
}

/// Kinds of properties accepted without effect, for type checking.
#[derive(Clone, Copy)]
enum Kind {
    Any,
    Bool,
    Int,
    Long,
    /// A list that must be empty (the feature is not supported).
    EmptyList(&'static str),
}

/// Java producer properties this client accepts but does not act on (see module docs).
const ACCEPTED_WITHOUT_EFFECT: &[(&str, Kind)] = &[
    ("key.serializer", Kind::Any),
    ("value.serializer", Kind::Any),
    ("partitioner.adaptive.partitioning.enable", Kind::Bool),
    ("partitioner.rack.aware", Kind::Bool),
    ("client.rack", Kind::Any),
    ("client.dns.lookup", Kind::Any),
    ("bootstrap.resolve.timeout.ms", Kind::Long),
    ("buffer.memory.allocation.strategy", Kind::Any),
    ("enable.metrics.push", Kind::Bool),
    ("metric.reporters", Kind::Any),
    ("metrics.num.samples", Kind::Int),
    ("metrics.recording.level", Kind::Any),
    ("metrics.sample.window.ms", Kind::Long),
    ("metadata.cluster.check.enable", Kind::Bool),
    ("metadata.recovery.strategy", Kind::Any),
    ("metadata.recovery.rebootstrap.trigger.ms", Kind::Long),
    ("transaction.timeout.ms", Kind::Int),
    ("transaction.two.phase.commit.enable", Kind::Bool),
    ("security.providers", Kind::Any),
    (
        "interceptor.classes",
        Kind::EmptyList("producer interceptors are not supported yet"),
    ),
    (
        "config.providers",
        Kind::EmptyList("config providers (${provider:path:key} substitution) are not supported"),
    ),
    (
        "partitioner.class",
        Kind::EmptyList(
            "Java partitioner classes cannot be loaded; set a Rust Partitioner with \
             ProducerConfigBuilder::partitioner",
        ),
    ),
];

/// `ssl.*` / `sasl.*` properties of the Java producer that this client does not use (the SSL
/// ones choose Java security providers, protocols and cipher suites, or open JKS/PKCS12 stores;
/// the SASL ones concern Kerberos, OAUTHBEARER and Java login classes).
const SECURITY_PROPERTIES: &[&str] = &[
    "sasl.client.callback.handler.class",
    "sasl.kerberos.kinit.cmd",
    "sasl.kerberos.min.time.before.relogin",
    "sasl.kerberos.service.name",
    "sasl.kerberos.ticket.renew.jitter",
    "sasl.kerberos.ticket.renew.window.factor",
    "sasl.login.callback.handler.class",
    "sasl.login.class",
    "sasl.login.connect.timeout.ms",
    "sasl.login.read.timeout.ms",
    "sasl.login.refresh.buffer.seconds",
    "sasl.login.refresh.min.period.seconds",
    "sasl.login.refresh.window.factor",
    "sasl.login.refresh.window.jitter",
    "sasl.login.retry.backoff.max.ms",
    "sasl.login.retry.backoff.ms",
    "sasl.oauthbearer.allow.unverified.audience",
    "sasl.oauthbearer.allow.unverified.issuer",
    "sasl.oauthbearer.assertion.algorithm",
    "sasl.oauthbearer.assertion.claim.aud",
    "sasl.oauthbearer.assertion.claim.exp.seconds",
    "sasl.oauthbearer.assertion.claim.iss",
    "sasl.oauthbearer.assertion.claim.jti.include",
    "sasl.oauthbearer.assertion.claim.nbf.seconds",
    "sasl.oauthbearer.assertion.claim.sub",
    "sasl.oauthbearer.assertion.file",
    "sasl.oauthbearer.assertion.private.key.file",
    "sasl.oauthbearer.assertion.private.key.passphrase",
    "sasl.oauthbearer.assertion.template.file",
    "sasl.oauthbearer.client.credentials.client.id",
    "sasl.oauthbearer.client.credentials.client.secret",
    "sasl.oauthbearer.clock.skew.seconds",
    "sasl.oauthbearer.expected.audience",
    "sasl.oauthbearer.expected.issuer",
    "sasl.oauthbearer.header.urlencode",
    "sasl.oauthbearer.jwks.endpoint.refresh.ms",
    "sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms",
    "sasl.oauthbearer.jwks.endpoint.retry.backoff.ms",
    "sasl.oauthbearer.jwks.endpoint.url",
    "sasl.oauthbearer.jwt.retriever.class",
    "sasl.oauthbearer.jwt.validator.class",
    "sasl.oauthbearer.scope",
    "sasl.oauthbearer.scope.claim.name",
    "sasl.oauthbearer.sub.claim.name",
    "sasl.oauthbearer.token.endpoint.url",
    "ssl.cipher.suites",
    "ssl.enabled.protocols",
    "ssl.engine.factory.class",
    "ssl.key.password",
    "ssl.keymanager.algorithm",
    "ssl.keystore.password",
    "ssl.protocol",
    "ssl.provider",
    "ssl.secure.random.implementation",
    "ssl.trustmanager.algorithm",
    "ssl.truststore.password",
];

/// Properties this client implements.
const IMPLEMENTED: &[&str] = &[
    "bootstrap.servers",
    "client.id",
    "acks",
    "linger.ms",
    "batch.size",
    "buffer.memory",
    "max.block.ms",
    "delivery.timeout.ms",
    "request.timeout.ms",
    "retries",
    "retry.backoff.ms",
    "retry.backoff.max.ms",
    "reconnect.backoff.ms",
    "reconnect.backoff.max.ms",
    "max.in.flight.requests.per.connection",
    "max.request.size",
    "metadata.max.age.ms",
    "metadata.max.idle.ms",
    "partitioner.ignore.keys",
    "partitioner.availability.timeout.ms",
    "enable.idempotence",
    "compression.type",
    "compression.gzip.level",
    "compression.lz4.level",
    "compression.zstd.level",
    "connections.max.idle.ms",
    "send.buffer.bytes",
    "receive.buffer.bytes",
    "socket.connection.setup.timeout.ms",
    "socket.connection.setup.timeout.max.ms",
    "security.protocol",
    "sasl.mechanism",
    "sasl.jaas.config",
    "ssl.truststore.type",
    "ssl.truststore.location",
    "ssl.truststore.certificates",
    "ssl.endpoint.identification.algorithm",
    "ssl.keystore.type",
    "ssl.keystore.location",
    "ssl.keystore.certificate.chain",
    "ssl.keystore.key",
    "transactional.id",
];

/// Counter behind generated client ids (`producer-1`, `producer-2`, ...), as Java's.
static CLIENT_ID_SEQUENCE: AtomicU64 = AtomicU64::new(1);

/// Raw properties with typed, range-checked reads.
struct Props {
    map: BTreeMap<String, String>,
}

fn invalid(property: &str, value: &str, why: impl fmt::Display) -> Error {
    Error::config(property, format!("invalid value {value:?}: {why}"))
}

impl Props {
    fn explicit(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }
    fn raw(&self, name: &str) -> Option<&str> {
        self.map.get(name).map(|v| v.trim())
    }
    fn long(&self, name: &str, default: i64, min: i64, max: i64) -> Result<i64, Error> {
        let Some(v) = self.raw(name) else {
            return Ok(default);
        };
        let n: i64 = v
            .parse()
            .map_err(|_| invalid(name, v, "expected an integer"))?;
        if n < min {
            return Err(invalid(name, v, format!("must be at least {min}")));
        }
        if n > max {
            return Err(invalid(name, v, format!("must be at most {max}")));
        }
        Ok(n)
    }
    fn int(&self, name: &str, default: i32, min: i32, max: i32) -> Result<i32, Error> {
        // a value outside i32 is reported as out of range, with the property's bounds
        self.long(name, default.into(), min.into(), max.into())
            .map(|n| n as i32)
    }
    fn millis(&self, name: &str, default: i64) -> Result<Duration, Error> {
        self.long(name, default, 0, i64::MAX)
            .map(|n| Duration::from_millis(n as u64))
    }
    fn int_millis(&self, name: &str, default: i32) -> Result<Duration, Error> {
        self.int(name, default, 0, i32::MAX)
            .map(|n| Duration::from_millis(n as u64))
    }
    fn size(&self, name: &str, default: i64, min: i64, max: i64) -> Result<usize, Error> {
        let n = self.long(name, default, min, max)?;
        usize::try_from(n).map_err(|_| {
            invalid(
                name,
                self.raw(name).unwrap_or_default(),
                "too large for this platform",
            )
        })
    }
    fn boolean(&self, name: &str, default: bool) -> Result<bool, Error> {
        let Some(v) = self.raw(name) else {
            return Ok(default);
        };
        if v.eq_ignore_ascii_case("true") {
            Ok(true)
        } else if v.eq_ignore_ascii_case("false") {
            Ok(false)
        } else {
            Err(invalid(name, v, "expected true or false"))
        }
    }
}

fn parse_bootstrap(value: &str) -> Result<Vec<BrokerAddress>, Error> {
    const P: &str = "bootstrap.servers";
    let mut out = Vec::new();
    for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let bad = |why: &str| invalid(P, entry, format!("{why} (expected host:port)"));
        // Java accepts and drops a listener prefix such as PLAINTEXT://
        let addr = entry.split_once("://").map_or(entry, |(_, rest)| rest);
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

/// Quotes a value for a JAAS option: backslash and double quote are escaped.
fn jaas_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// One login module of a `sasl.jaas.config` value.
#[derive(Debug, PartialEq, Eq)]
struct JaasModule {
    class: String,
    flag: String,
    options: Vec<(String, String)>,
}

#[derive(Debug, PartialEq, Eq)]
enum JaasToken {
    Word(String),
    Quoted(String),
    Equals,
    Semicolon,
}

/// Splits a JAAS configuration into words, quoted strings (backslash escapes as in Java's
/// `StreamTokenizer`: `\n`, `\t`, `\r`, and any other character taken as it is), `=` and `;`.
/// `//` and `/* */` comments are skipped, as Java does.
fn jaas_tokens(text: &str) -> Result<Vec<JaasToken>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '=' => out.push(JaasToken::Equals),
            ';' => out.push(JaasToken::Semicolon),
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' || c == '\r' {
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut prev = ' ';
                let mut closed = false;
                for c in chars.by_ref() {
                    if prev == '*' && c == '/' {
                        closed = true;
                        break;
                    }
                    prev = c;
                }
                if !closed {
                    return Err("unterminated /* comment".into());
                }
            }
            '"' | '\'' => {
                let quote = c;
                let mut s = String::new();
                let mut closed = false;
                while let Some(c) = chars.next() {
                    match c {
                        c if c == quote => {
                            closed = true;
                            break;
                        }
                        '\\' => match chars.next() {
                            Some('n') => s.push('\n'),
                            Some('t') => s.push('\t'),
                            Some('r') => s.push('\r'),
                            Some(other) => s.push(other),
                            None => break,
                        },
                        c => s.push(c),
                    }
                }
                if !closed {
                    return Err("unterminated quoted string".into());
                }
                out.push(JaasToken::Quoted(s));
            }
            c => {
                let mut s = String::from(c);
                while let Some(&n) = chars.peek() {
                    if n.is_whitespace() || matches!(n, '=' | ';' | '"' | '\'') {
                        break;
                    }
                    s.push(n);
                    chars.next();
                }
                out.push(JaasToken::Word(s));
            }
        }
    }
    Ok(out)
}

/// Parses a `sasl.jaas.config` value: exactly one `LoginModuleClass flag key=value ... ;`, as
/// Kafka clients require. The trailing `;` may be left out.
fn parse_jaas(text: &str) -> Result<JaasModule, String> {
    let mut tokens = jaas_tokens(text)?.into_iter().peekable();
    let class = match tokens.next() {
        Some(JaasToken::Word(w)) => w,
        None => return Err("it is empty (expected a login module, e.g. \
            org.apache.kafka.common.security.plain.PlainLoginModule required username=\"...\" password=\"...\";)".into()),
        Some(t) => return Err(format!("expected a login module class name, found {t:?}")),
    };
    let flag = match tokens.next() {
        Some(JaasToken::Word(w))
            if ["required", "requisite", "sufficient", "optional"]
                .iter()
                .any(|f| f.eq_ignore_ascii_case(&w)) =>
        {
            w
        }
        other => {
            return Err(format!(
                "expected a control flag (required, requisite, sufficient or optional) after \
                 {class}, found {}",
                other.map_or("the end".to_string(), |t| format!("{t:?}"))
            ))
        }
    };
    let mut options = Vec::new();
    loop {
        match tokens.next() {
            None => break,
            Some(JaasToken::Semicolon) => {
                if tokens.peek().is_some() {
                    return Err(
                        "more than one login module (Kafka clients take exactly one)".into(),
                    );
                }
                break;
            }
            Some(JaasToken::Word(key)) => {
                if tokens.next() != Some(JaasToken::Equals) {
                    return Err(format!("expected '=' after option {key}"));
                }
                let value = match tokens.next() {
                    Some(JaasToken::Word(v)) | Some(JaasToken::Quoted(v)) => v,
                    _ => return Err(format!("expected a value for option {key}")),
                };
                options.push((key, value));
            }
            Some(t) => return Err(format!("expected an option name=value or ';', found {t:?}")),
        }
    }
    Ok(JaasModule {
        class,
        flag,
        options,
    })
}

/// `sasl.mechanism` and the credentials in `sasl.jaas.config`, for a SASL security protocol.
fn parse_sasl(p: &Props) -> Result<SaslSettings, Error> {
    const MECH: &str = "sasl.mechanism";
    const JAAS: &str = "sasl.jaas.config";
    let mechanism =
        match p.raw(MECH) {
            None => SaslMechanism::Plain,
            Some(v) => match SaslMechanism::from_name(v) {
                Some(m) if m.is_available() => m,
                Some(m) => {
                    return Err(Error::config(
                        MECH,
                        format!(
                            "{} needs the cargo feature \"sasl-scram\" of kafka-sync, which this \
                         build does not have",
                            m.name()
                        ),
                    ))
                }
                None => return Err(invalid(
                    MECH,
                    v,
                    "not supported; this client implements PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512",
                )),
            },
        };
    // The value is a secret: errors describe it without quoting it.
    let Some(text) = p.raw(JAAS) else {
        return Err(Error::config(
            JAAS,
            format!(
                "missing: {} needs credentials, e.g. {} required username=\"...\" \
                 password=\"...\";",
                mechanism.name(),
                match mechanism {
                    SaslMechanism::Plain =>
                        "org.apache.kafka.common.security.plain.PlainLoginModule",
                    _ => "org.apache.kafka.common.security.scram.ScramLoginModule",
                }
            ),
        ));
    };
    let module = parse_jaas(text).map_err(|why| Error::config(JAAS, why))?;
    let short = module.class.rsplit('.').next().unwrap_or_default();
    if short != "PlainLoginModule" && short != "ScramLoginModule" {
        return Err(Error::config(
            JAAS,
            format!(
                "login module {} is not supported (PlainLoginModule or ScramLoginModule with \
                 username and password are)",
                module.class
            ),
        ));
    }
    log::debug!("sasl.jaas.config: {} {}", module.class, module.flag);
    let mut username = None;
    let mut password = None;
    for (k, v) in module.options {
        match k.as_str() {
            "username" => username = Some(v),
            "password" => password = Some(v),
            "tokenauth" if v.eq_ignore_ascii_case("true") => {
                return Err(Error::config(
                    JAAS,
                    "tokenauth=true (delegation tokens) is not supported yet",
                ))
            }
            other => log::debug!("sasl.jaas.config option {other} is not used by this client"),
        }
    }
    let (Some(username), Some(password)) = (username, password) else {
        return Err(Error::config(
            JAAS,
            "needs both username=\"...\" and password=\"...\" options",
        ));
    };
    if username.is_empty() {
        return Err(Error::config(JAAS, "the username is empty"));
    }
    Ok(SaslSettings {
        mechanism,
        username,
        password,
    })
}

/// A `ssl.*.type` must be PEM (or unset): Java's JKS and PKCS12 stores cannot be read here.
#[cfg(feature = "rustls")]
fn require_pem(p: &Props, property: &str) -> Result<(), Error> {
    match p.raw(property) {
        None => Ok(()),
        Some(v) if v.eq_ignore_ascii_case("PEM") => Ok(()),
        Some(v) => Err(invalid(
            property,
            v,
            "only PEM is supported: use PEM (JKS and PKCS12 stores can be converted, e.g. \
             keytool -exportcert -rfc, or openssl pkcs12 -nodes)",
        )),
    }
}

/// A property's value, unless unset or blank.
#[cfg(feature = "rustls")]
fn non_empty<'a>(p: &'a Props, property: &str) -> Option<&'a str> {
    p.raw(property).filter(|v| !v.is_empty())
}

/// The contents of the file a `*.location` property names.
#[cfg(feature = "rustls")]
fn read_location(property: &str, path: &str) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|e| invalid(property, path, format!("cannot read the file: {e}")))
}

/// Every certificate in PEM text; none is an error.
#[cfg(feature = "rustls")]
fn pem_certificates(
    property: &str,
    pem: &[u8],
) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, Error> {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::config(property, format!("bad PEM: {e}")))?;
    if certs.is_empty() {
        return Err(Error::config(
            property,
            "no PEM certificate found (expected -----BEGIN CERTIFICATE-----; JKS and PKCS12 \
             stores are not supported, use PEM)",
        ));
    }
    Ok(certs)
}

/// The private key in PEM text (the value is a secret: errors do not quote it).
#[cfg(feature = "rustls")]
fn pem_private_key(
    property: &str,
    pem: &[u8],
) -> Result<rustls::pki_types::PrivateKeyDer<'static>, Error> {
    use rustls::pki_types::{pem::PemObject, PrivateKeyDer};
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| {
        Error::config(
            property,
            format!(
                "no usable private key ({e}); expected an unencrypted PKCS#8 (BEGIN PRIVATE \
                 KEY), PKCS#1 (BEGIN RSA PRIVATE KEY) or SEC1 (BEGIN EC PRIVATE KEY) key"
            ),
        )
    })
}

/// The `ssl.*` settings, for a TLS security protocol.
#[cfg(feature = "rustls")]
fn parse_tls(p: &Props) -> Result<TlsConnector, Error> {
    use crate::net::tls::{TlsOptions, TlsSetupError};
    const TRUST_LOCATION: &str = "ssl.truststore.location";
    const TRUST_PEM: &str = "ssl.truststore.certificates";
    const KEY_LOCATION: &str = "ssl.keystore.location";
    const KEY_CHAIN: &str = "ssl.keystore.certificate.chain";
    const KEY_PEM: &str = "ssl.keystore.key";
    const ENDPOINT: &str = "ssl.endpoint.identification.algorithm";

    require_pem(p, "ssl.truststore.type")?;
    let (trusted, trust_property) = match (non_empty(p, TRUST_LOCATION), non_empty(p, TRUST_PEM)) {
        (Some(_), Some(_)) => {
            return Err(Error::config(
                TRUST_PEM,
                format!("set {TRUST_LOCATION} or {TRUST_PEM}, not both"),
            ))
        }
        (Some(path), None) => (
            Some(pem_certificates(
                TRUST_LOCATION,
                &read_location(TRUST_LOCATION, path)?,
            )?),
            TRUST_LOCATION,
        ),
        (None, Some(pem)) => (
            Some(pem_certificates(TRUST_PEM, pem.as_bytes())?),
            TRUST_PEM,
        ),
        (None, None) => (None, TRUST_LOCATION),
    };

    let verify_hostname = match p.raw(ENDPOINT) {
        None => true,
        Some("") => false,
        Some(v) if v.eq_ignore_ascii_case("https") => true,
        Some(v) => {
            return Err(invalid(
                ENDPOINT,
                v,
                "expected https (check the broker's host name, the default) or an empty value \
                 (do not)",
            ))
        }
    };

    require_pem(p, "ssl.keystore.type")?;
    let location = non_empty(p, KEY_LOCATION);
    let chain = non_empty(p, KEY_CHAIN);
    let key = non_empty(p, KEY_PEM);
    let client_auth = match (location, chain, key) {
        (None, None, None) => None,
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            return Err(Error::config(
                KEY_LOCATION,
                format!("set {KEY_LOCATION} or {KEY_CHAIN} with {KEY_PEM}, not both"),
            ))
        }
        (Some(path), None, None) => {
            let pem = read_location(KEY_LOCATION, path)?;
            Some((
                pem_certificates(KEY_LOCATION, &pem)?,
                pem_private_key(KEY_LOCATION, &pem)?,
            ))
        }
        (None, Some(c), Some(k)) => Some((
            pem_certificates(KEY_CHAIN, c.as_bytes())?,
            pem_private_key(KEY_PEM, k.as_bytes())?,
        )),
        (None, Some(_), None) => {
            return Err(Error::config(
                KEY_PEM,
                format!("missing: {KEY_CHAIN} needs it"),
            ))
        }
        (None, None, Some(_)) => {
            return Err(Error::config(
                KEY_CHAIN,
                format!("missing: {KEY_PEM} needs it"),
            ))
        }
    };
    if client_auth.is_some() && non_empty(p, "ssl.key.password").is_some() {
        return Err(Error::config(
            "ssl.key.password",
            "encrypted private keys are not supported: give the key unencrypted (PKCS#8, \
             PKCS#1 or SEC1 PEM) and leave ssl.key.password unset",
        ));
    }
    let key_property = if location.is_some() {
        KEY_LOCATION
    } else {
        KEY_CHAIN
    };
    TlsConnector::new(TlsOptions {
        trusted,
        verify_hostname,
        client_auth,
    })
    .map_err(|e| match e {
        TlsSetupError::Trust(why) => Error::config(trust_property, why),
        TlsSetupError::ClientAuth(why) => Error::config(key_property, why),
        TlsSetupError::Other(why) => Error::config("security.protocol", why),
    })
}

/// Splits a `.properties` entry at the first `=`, `:` or blank.
fn split_property(entry: &str) -> (String, String) {
    let split = entry
        .find(|c: char| c == '=' || c == ':' || c.is_whitespace())
        .unwrap_or(entry.len());
    let (name, rest) = entry.split_at(split);
    let rest = rest.trim_start();
    let rest = rest.strip_prefix(['=', ':']).map_or(rest, str::trim_start);
    (name.to_string(), rest.trim_end().to_string())
}

impl ProducerConfig {
    /// A builder with nothing set (`bootstrap.servers` must be set before `build`).
    pub fn builder() -> ProducerConfigBuilder {
        ProducerConfigBuilder::default()
    }

    /// A configuration from Java property names and values, e.g. the lines of a
    /// `producer.properties` file. Later duplicates win.
    pub fn from_properties<I, K, V>(props: I) -> Result<ProducerConfig, Error>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        props
            .into_iter()
            .fold(Self::builder(), |b, (k, v)| {
                b.set(k.as_ref().to_string(), v.as_ref().to_string())
            })
            .build()
    }

    /// Reads Java `.properties` text (a `producer.properties` file) into name/value pairs for
    /// [`from_properties`](Self::from_properties) or [`ProducerConfigBuilder::set`].
    ///
    /// Supported: `#` and `!` comment lines, `name=value`, `name: value` and `name value`,
    /// surrounding blanks trimmed, and lines continued with a trailing backslash. Unicode
    /// escapes and other backslash escapes of the Java format are not interpreted.
    ///
    /// ```
    /// let text = "# producer\nbootstrap.servers=localhost:9092\nlinger.ms: 10\n";
    /// let props = kafka_sync::ProducerConfig::parse_properties(text);
    /// let cfg = kafka_sync::ProducerConfig::from_properties(props).unwrap();
    /// assert_eq!(cfg.linger().as_millis(), 10);
    /// ```
    pub fn parse_properties(text: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut logical = String::new();
        for line in text.lines() {
            let line = line.trim_start();
            if logical.is_empty()
                && (line.is_empty() || line.starts_with('#') || line.starts_with('!'))
            {
                continue;
            }
            // an odd number of trailing backslashes continues the line
            let trailing = line.len() - line.trim_end_matches('\\').len();
            if trailing % 2 == 1 {
                logical.push_str(&line[..line.len() - 1]);
                continue;
            }
            logical.push_str(line);
            let entry = std::mem::take(&mut logical);
            let entry = entry.trim();
            out.push(split_property(entry));
        }
        if !logical.trim().is_empty() {
            let entry = logical.trim();
            out.push(split_property(entry));
        }
        out
    }

    fn from_parts(
        map: BTreeMap<String, String>,
        partitioner: Option<Arc<dyn Partitioner>>,
    ) -> Result<ProducerConfig, Error> {
        let p = Props { map };
        // names first: a typo is reported as such rather than as a missing property
        for (name, value) in &p.map {
            if IMPLEMENTED.contains(&name.as_str()) {
                continue;
            }
            if SECURITY_PROPERTIES.contains(&name.as_str()) {
                log::debug!("property {name} is accepted but has no effect in this client");
                continue;
            }
            match ACCEPTED_WITHOUT_EFFECT.iter().find(|(n, _)| n == name) {
                None => return Err(Error::config(name, "unknown producer property")),
                Some((_, kind)) => {
                    match kind {
                        Kind::Any => {}
                        Kind::Bool => {
                            p.boolean(name, false)?;
                        }
                        Kind::Int => {
                            p.int(name, 0, i32::MIN, i32::MAX)?;
                        }
                        Kind::Long => {
                            p.long(name, 0, i64::MIN, i64::MAX)?;
                        }
                        Kind::EmptyList(why) => {
                            if value.split(',').any(|e| !e.trim().is_empty()) {
                                return Err(Error::config(name, *why));
                            }
                        }
                    }
                    log::debug!("property {name} is accepted but has no effect in this client");
                }
            }
        }

        let bootstrap_servers = match p.raw("bootstrap.servers") {
            Some(v) => parse_bootstrap(v)?,
            None => {
                return Err(Error::config(
                    "bootstrap.servers",
                    "missing required configuration (host:port list of brokers)",
                ))
            }
        };

        let security_protocol = match p.raw("security.protocol") {
            None => SecurityProtocol::Plaintext,
            Some(v) => match v.to_ascii_uppercase().as_str() {
                "PLAINTEXT" => SecurityProtocol::Plaintext,
                "SASL_PLAINTEXT" => SecurityProtocol::SaslPlaintext,
                "SSL" | "SASL_SSL" if cfg!(feature = "rustls") => {
                    if v.eq_ignore_ascii_case("SSL") {
                        SecurityProtocol::Ssl
                    } else {
                        SecurityProtocol::SaslSsl
                    }
                }
                "SSL" | "SASL_SSL" => {
                    return Err(Error::config(
                        "security.protocol",
                        format!(
                            "{v} (TLS) needs the cargo feature \"rustls\" of kafka-sync, which \
                             this build does not have (PLAINTEXT and SASL_PLAINTEXT work without it)"
                        ),
                    ))
                }
                _ => {
                    return Err(invalid(
                        "security.protocol",
                        v,
                        "expected one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL",
                    ))
                }
            },
        };
        let sasl = if security_protocol.uses_sasl() {
            Some(parse_sasl(&p)?)
        } else {
            None
        };
        #[cfg(feature = "rustls")]
        let tls = if security_protocol.uses_tls() {
            Some(parse_tls(&p)?)
        } else {
            None
        };
        #[cfg(not(feature = "rustls"))]
        let tls = None;

        if let Some(v) = p.raw("transactional.id") {
            return Err(Error::config(
                "transactional.id",
                format!("transactions are not supported yet (got {v:?})"),
            ));
        }

        let compression = match p.raw("compression.type") {
            None => CompressionType::None,
            Some(v) => match CompressionType::from_name(v) {
                Some(c) if crate::compression::is_available(c) => c,
                Some(c) => {
                    return Err(Error::config(
                        "compression.type",
                        format!(
                            "{} needs the cargo feature \"{}\" of kafka-sync, which this build \
                             does not have",
                            c.name(),
                            crate::compression::feature_name(c).unwrap_or("none")
                        ),
                    ))
                }
                None => {
                    return Err(invalid(
                        "compression.type",
                        v,
                        "expected one of none, gzip, snappy, lz4, zstd",
                    ))
                }
            },
        };
        let gzip_level = p.int("compression.gzip.level", -1, -1, 9)?;
        if gzip_level == 0 {
            return Err(invalid(
                "compression.gzip.level",
                "0",
                "must be -1 (default) or 1 to 9",
            ));
        }
        let lz4_level = p.int("compression.lz4.level", 9, 1, 17)?;
        let zstd_level = p.int("compression.zstd.level", 3, -131072, 22)?;

        let acks = match p.raw("acks") {
            None => Acks::All,
            Some("all") | Some("-1") => Acks::All,
            Some("1") => Acks::Leader,
            Some("0") => Acks::None,
            Some(v) => return Err(invalid("acks", v, "expected one of all, -1, 0, 1")),
        };

        let client_id = match p.raw("client.id") {
            Some(v) if !v.is_empty() => v.to_string(),
            _ => format!(
                "producer-{}",
                CLIENT_ID_SEQUENCE.fetch_add(1, Ordering::Relaxed)
            ),
        };

        let linger = p.millis("linger.ms", 5)?;
        let batch_size = p.size("batch.size", 16384, 0, i32::MAX.into())?;
        let buffer_memory = p.size("buffer.memory", 33_554_432, 0, i64::MAX)?;
        let max_block = p.millis("max.block.ms", 60_000)?;
        let request_timeout = p.int_millis("request.timeout.ms", 30_000)?;
        let mut delivery_timeout = p.int_millis("delivery.timeout.ms", 120_000)?;
        let retries = p.int("retries", i32::MAX, 0, i32::MAX)? as u32;
        let retry_backoff = p.millis("retry.backoff.ms", 100)?;
        let retry_backoff_max = p.millis("retry.backoff.max.ms", 1000)?;
        let reconnect_backoff = p.millis("reconnect.backoff.ms", 50)?;
        let mut reconnect_backoff_max = p.millis("reconnect.backoff.max.ms", 1000)?;
        let max_in_flight = p.size(
            "max.in.flight.requests.per.connection",
            5,
            1,
            i32::MAX.into(),
        )?;
        let max_request_size = p.size("max.request.size", 1_048_576, 0, i32::MAX.into())?;
        let metadata_max_age = p.millis("metadata.max.age.ms", 300_000)?;
        let metadata_max_idle = p.long("metadata.max.idle.ms", 300_000, 5000, i64::MAX)?;
        let metadata_max_idle = Duration::from_millis(metadata_max_idle as u64);
        let partitioner_ignore_keys = p.boolean("partitioner.ignore.keys", false)?;
        let partitioner_adaptive = p.boolean("partitioner.adaptive.partitioning.enable", true)?;
        let partitioner_availability_timeout =
            p.millis("partitioner.availability.timeout.ms", 0)?;
        let connections_max_idle =
            p.long("connections.max.idle.ms", 540_000, i64::MIN, i64::MAX)?;
        let connections_max_idle =
            (connections_max_idle >= 0).then(|| Duration::from_millis(connections_max_idle as u64));
        let buffer_bytes = |name, default| -> Result<Option<usize>, Error> {
            let n = p.int(name, default, -1, i32::MAX)?;
            Ok((n >= 0).then_some(n as usize))
        };
        let send_buffer_bytes = buffer_bytes("send.buffer.bytes", 131_072)?;
        let receive_buffer_bytes = buffer_bytes("receive.buffer.bytes", 32_768)?;
        let socket_connection_setup_timeout =
            p.millis("socket.connection.setup.timeout.ms", 10_000)?;
        let socket_connection_setup_timeout_max =
            p.millis("socket.connection.setup.timeout.max.ms", 30_000)?;

        // delivery.timeout.ms >= linger.ms + request.timeout.ms (Java compares int millis)
        let floor_ms = (linger.as_millis() + request_timeout.as_millis()).min(i32::MAX as u128);
        if delivery_timeout.as_millis() < floor_ms {
            if p.explicit("delivery.timeout.ms") {
                return Err(Error::config(
                    "delivery.timeout.ms",
                    format!(
                        "must be at least linger.ms + request.timeout.ms ({floor_ms} ms), got {} ms",
                        delivery_timeout.as_millis()
                    ),
                ));
            }
            log::warn!(
                "delivery.timeout.ms raised to linger.ms + request.timeout.ms = {floor_ms} ms"
            );
            delivery_timeout = Duration::from_millis(floor_ms as u64);
        }

        // Java's ExponentialBackoff starts at min(base, max): a max below the base gives a
        // static backoff of the max. Same for the connection setup timeout.
        if retry_backoff > retry_backoff_max {
            log::warn!(
                "retry.backoff.ms ({retry_backoff:?}) > retry.backoff.max.ms \
                 ({retry_backoff_max:?}): static backoff of {retry_backoff_max:?}"
            );
        }
        let retry_backoff = retry_backoff.min(retry_backoff_max);
        if p.explicit("reconnect.backoff.ms") && !p.explicit("reconnect.backoff.max.ms") {
            log::info!(
                "exponential reconnect backoff disabled: reconnect.backoff.ms is set, \
                 reconnect.backoff.max.ms is not"
            );
            reconnect_backoff_max = reconnect_backoff;
        }
        let reconnect_backoff = reconnect_backoff.min(reconnect_backoff_max);
        if socket_connection_setup_timeout > socket_connection_setup_timeout_max {
            log::warn!(
                "socket.connection.setup.timeout.ms > socket.connection.setup.timeout.max.ms: \
                 static connection setup timeout of {socket_connection_setup_timeout_max:?}"
            );
        }
        let socket_connection_setup_timeout =
            socket_connection_setup_timeout.min(socket_connection_setup_timeout_max);

        // Idempotence (Java 4.4's postProcessAndValidateIdempotenceConfigs).
        let idempotence_explicit = p.explicit("enable.idempotence");
        let mut idempotence = p.boolean("enable.idempotence", true)?;
        if idempotence {
            let conflicts = [
                (retries == 0, "retries", "must be greater than 0"),
                (acks != Acks::All, "acks", "must be all (or -1)"),
            ];
            let mut disable = false;
            for (conflict, property, what) in conflicts {
                if !conflict {
                    continue;
                }
                if idempotence_explicit {
                    return Err(Error::config(
                        property,
                        format!("{what} when enable.idempotence is true"),
                    ));
                }
                log::info!("idempotence disabled because {property} {what} for it");
                disable = true;
            }
            // Since Kafka 4.0 this one is an error even when idempotence is only the default.
            if max_in_flight > 5 {
                return Err(Error::config(
                    "max.in.flight.requests.per.connection",
                    format!(
                        "must be at most 5 when enable.idempotence is true (the default), got \
                         {max_in_flight}; set enable.idempotence=false to allow more"
                    ),
                ));
            }
            idempotence = !disable;
        }

        Ok(ProducerConfig {
            bootstrap_servers,
            client_id,
            acks,
            linger,
            batch_size,
            buffer_memory,
            max_block,
            delivery_timeout,
            request_timeout,
            retries,
            retry_backoff,
            retry_backoff_max,
            reconnect_backoff,
            reconnect_backoff_max,
            max_in_flight,
            max_request_size,
            metadata_max_age,
            metadata_max_idle,
            partitioner_ignore_keys,
            partitioner_adaptive,
            partitioner_availability_timeout,
            idempotence,
            compression,
            gzip_level,
            lz4_level,
            zstd_level,
            connections_max_idle,
            send_buffer_bytes,
            receive_buffer_bytes,
            socket_connection_setup_timeout,
            socket_connection_setup_timeout_max,
            security_protocol,
            sasl,
            tls,
            partitioner,
        })
    }

    /// `bootstrap.servers`, parsed.
    pub fn bootstrap_servers(&self) -> &[BrokerAddress] {
        &self.bootstrap_servers
    }
    /// `client.id`, or the generated `producer-N`.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }
    /// `acks`.
    pub fn acks(&self) -> Acks {
        self.acks
    }
    /// `linger.ms`.
    pub fn linger(&self) -> Duration {
        self.linger
    }
    /// `batch.size` in bytes as configured (may be 0: then every batch holds one record).
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }
    /// `buffer.memory` in bytes.
    pub fn buffer_memory(&self) -> usize {
        self.buffer_memory
    }
    /// `max.block.ms`.
    pub fn max_block(&self) -> Duration {
        self.max_block
    }
    /// `delivery.timeout.ms`, raised to `linger.ms + request.timeout.ms` if it was the default
    /// and below that.
    pub fn delivery_timeout(&self) -> Duration {
        self.delivery_timeout
    }
    /// `request.timeout.ms`.
    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
    }
    /// `retries`.
    pub fn retries(&self) -> u32 {
        self.retries
    }
    /// The first retry backoff: `min(retry.backoff.ms, retry.backoff.max.ms)`.
    pub fn retry_backoff(&self) -> Duration {
        self.retry_backoff
    }
    /// `retry.backoff.max.ms`: cap of the exponential retry backoff.
    pub fn retry_backoff_max(&self) -> Duration {
        self.retry_backoff_max
    }
    /// The first reconnect backoff: `min(reconnect.backoff.ms, reconnect_backoff_max())`.
    pub fn reconnect_backoff(&self) -> Duration {
        self.reconnect_backoff
    }
    /// Cap of the reconnect backoff: `reconnect.backoff.max.ms`, or `reconnect.backoff.ms`
    /// when only that was set (as in Java).
    pub fn reconnect_backoff_max(&self) -> Duration {
        self.reconnect_backoff_max
    }
    /// `max.in.flight.requests.per.connection`.
    pub fn max_in_flight_requests_per_connection(&self) -> usize {
        self.max_in_flight
    }
    /// `max.request.size` in bytes.
    pub fn max_request_size(&self) -> usize {
        self.max_request_size
    }
    /// `metadata.max.age.ms`.
    pub fn metadata_max_age(&self) -> Duration {
        self.metadata_max_age
    }
    /// `metadata.max.idle.ms`.
    pub fn metadata_max_idle(&self) -> Duration {
        self.metadata_max_idle
    }
    /// `partitioner.ignore.keys`.
    pub fn partitioner_ignore_keys(&self) -> bool {
        self.partitioner_ignore_keys
    }
    /// `partitioner.adaptive.partitioning.enable` (accepted; no effect yet).
    pub fn partitioner_adaptive_partitioning(&self) -> bool {
        self.partitioner_adaptive
    }
    /// `partitioner.availability.timeout.ms` (accepted; no effect yet).
    pub fn partitioner_availability_timeout(&self) -> Duration {
        self.partitioner_availability_timeout
    }
    /// The custom partitioner, if one was set.
    pub fn partitioner(&self) -> Option<&Arc<dyn Partitioner>> {
        self.partitioner.as_ref()
    }
    /// Whether the producer is idempotent, after Java's rules: the default `true` is turned
    /// off by `acks` other than `all` or by `retries=0`.
    pub fn idempotence_enabled(&self) -> bool {
        self.idempotence
    }
    /// `compression.type`.
    pub fn compression(&self) -> CompressionType {
        self.compression
    }
    /// The level for the configured codec (`compression.gzip.level`, `.lz4.level`,
    /// `.zstd.level`); `None` for codecs without levels. gzip's -1 means the codec default.
    pub fn compression_level(&self) -> Option<i32> {
        match self.compression {
            CompressionType::Gzip => Some(self.gzip_level),
            CompressionType::Lz4 => Some(self.lz4_level),
            CompressionType::Zstd => Some(self.zstd_level),
            CompressionType::None | CompressionType::Snappy => None,
        }
    }
    /// `connections.max.idle.ms`; `None` when negative (idle connections are kept).
    pub fn connections_max_idle(&self) -> Option<Duration> {
        self.connections_max_idle
    }
    /// `send.buffer.bytes`; `None` for the OS default (-1).
    pub fn send_buffer_bytes(&self) -> Option<usize> {
        self.send_buffer_bytes
    }
    /// `receive.buffer.bytes`; `None` for the OS default (-1).
    pub fn receive_buffer_bytes(&self) -> Option<usize> {
        self.receive_buffer_bytes
    }
    /// The first connection setup timeout: `min(socket.connection.setup.timeout.ms,
    /// socket.connection.setup.timeout.max.ms)`.
    pub fn socket_connection_setup_timeout(&self) -> Duration {
        self.socket_connection_setup_timeout
    }
    /// `socket.connection.setup.timeout.max.ms`.
    pub fn socket_connection_setup_timeout_max(&self) -> Duration {
        self.socket_connection_setup_timeout_max
    }
    /// `security.protocol`.
    pub fn security_protocol(&self) -> SecurityProtocol {
        self.security_protocol
    }
    /// `sasl.mechanism`, when the security protocol uses SASL (`None` otherwise).
    pub fn sasl_mechanism(&self) -> Option<SaslMechanism> {
        self.sasl.as_ref().map(|s| s.mechanism)
    }
    /// The SASL user name from `sasl.jaas.config`, when the security protocol uses SASL. (The
    /// password has no getter: it is only sent to brokers, never shown.)
    pub fn sasl_username(&self) -> Option<&str> {
        self.sasl.as_ref().map(|s| s.username.as_str())
    }
    pub(crate) fn sasl_settings(&self) -> Option<&SaslSettings> {
        self.sasl.as_ref()
    }
    /// The TLS setup, when the security protocol uses TLS.
    pub(crate) fn tls_connector(&self) -> Option<&TlsConnector> {
        self.tls.as_ref()
    }

    /// The effective values by Java property name, for logging at startup (as Java logs
    /// "ProducerConfig values").
    pub fn values(&self) -> Vec<(&'static str, String)> {
        let ms = |d: Duration| d.as_millis().to_string();
        let opt = |o: Option<usize>| o.map_or("-1".to_string(), |v| v.to_string());
        let mut v = vec![
            (
                "bootstrap.servers",
                self.bootstrap_servers
                    .iter()
                    .map(|b| b.to_string())
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            ("client.id", self.client_id.clone()),
            ("acks", self.acks.property_value().to_string()),
            ("linger.ms", ms(self.linger)),
            ("batch.size", self.batch_size.to_string()),
            ("buffer.memory", self.buffer_memory.to_string()),
            ("max.block.ms", ms(self.max_block)),
            ("delivery.timeout.ms", ms(self.delivery_timeout)),
            ("request.timeout.ms", ms(self.request_timeout)),
            ("retries", self.retries.to_string()),
            ("retry.backoff.ms", ms(self.retry_backoff)),
            ("retry.backoff.max.ms", ms(self.retry_backoff_max)),
            ("reconnect.backoff.ms", ms(self.reconnect_backoff)),
            ("reconnect.backoff.max.ms", ms(self.reconnect_backoff_max)),
            (
                "max.in.flight.requests.per.connection",
                self.max_in_flight.to_string(),
            ),
            ("max.request.size", self.max_request_size.to_string()),
            ("metadata.max.age.ms", ms(self.metadata_max_age)),
            ("metadata.max.idle.ms", ms(self.metadata_max_idle)),
            (
                "partitioner.ignore.keys",
                self.partitioner_ignore_keys.to_string(),
            ),
            (
                "partitioner.class",
                if self.partitioner.is_some() {
                    "custom".to_string()
                } else {
                    String::new()
                },
            ),
            ("enable.idempotence", self.idempotence.to_string()),
            ("compression.type", self.compression.name().to_string()),
            (
                "connections.max.idle.ms",
                self.connections_max_idle.map_or("-1".to_string(), ms),
            ),
            ("send.buffer.bytes", opt(self.send_buffer_bytes)),
            ("receive.buffer.bytes", opt(self.receive_buffer_bytes)),
            (
                "socket.connection.setup.timeout.ms",
                ms(self.socket_connection_setup_timeout),
            ),
            (
                "socket.connection.setup.timeout.max.ms",
                ms(self.socket_connection_setup_timeout_max),
            ),
            (
                "security.protocol",
                self.security_protocol.name().to_string(),
            ),
        ];
        if let Some(sasl) = &self.sasl {
            v.push(("sasl.mechanism", sasl.mechanism.name().to_string()));
            v.push(("sasl.jaas.config", REDACTED.to_string()));
        }
        v
    }
}

impl fmt::Debug for ProducerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (k, v) in self.values() {
            m.entry(&k, &v);
        }
        m.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(props: &[(&str, &str)]) -> Result<ProducerConfig, Error> {
        let mut all = vec![("bootstrap.servers", "localhost:9092")];
        all.extend_from_slice(props);
        ProducerConfig::from_properties(all)
    }

    /// The property an error names, and its reason.
    fn err(props: &[(&str, &str)]) -> (String, String) {
        match cfg(props) {
            Err(Error::Config { property, reason }) => (property, reason),
            other => panic!("expected a config error for {props:?}, got {other:?}"),
        }
    }

    #[test]
    fn java_defaults() {
        let c = cfg(&[]).unwrap();
        assert_eq!(
            c.bootstrap_servers(),
            [BrokerAddress {
                host: "localhost".into(),
                port: 9092
            }]
        );
        assert!(c.client_id().starts_with("producer-"));
        assert_eq!(c.acks(), Acks::All);
        assert_eq!(c.linger(), Duration::from_millis(5));
        assert_eq!(c.batch_size(), 16384);
        assert_eq!(c.buffer_memory(), 33_554_432);
        assert_eq!(c.max_block(), Duration::from_secs(60));
        assert_eq!(c.delivery_timeout(), Duration::from_secs(120));
        assert_eq!(c.request_timeout(), Duration::from_secs(30));
        assert_eq!(c.retries(), i32::MAX as u32);
        assert_eq!(c.retry_backoff(), Duration::from_millis(100));
        assert_eq!(c.retry_backoff_max(), Duration::from_millis(1000));
        assert_eq!(c.reconnect_backoff(), Duration::from_millis(50));
        assert_eq!(c.reconnect_backoff_max(), Duration::from_millis(1000));
        assert_eq!(c.max_in_flight_requests_per_connection(), 5);
        assert_eq!(c.max_request_size(), 1_048_576);
        assert_eq!(c.metadata_max_age(), Duration::from_secs(300));
        assert_eq!(c.metadata_max_idle(), Duration::from_secs(300));
        assert!(!c.partitioner_ignore_keys());
        assert!(c.partitioner_adaptive_partitioning());
        assert_eq!(c.partitioner_availability_timeout(), Duration::ZERO);
        assert!(c.partitioner().is_none());
        assert!(c.idempotence_enabled());
        assert_eq!(c.compression(), CompressionType::None);
        assert_eq!(c.compression_level(), None);
        assert_eq!(c.connections_max_idle(), Some(Duration::from_secs(540)));
        assert_eq!(c.send_buffer_bytes(), Some(131_072));
        assert_eq!(c.receive_buffer_bytes(), Some(32_768));
        assert_eq!(c.socket_connection_setup_timeout(), Duration::from_secs(10));
        assert_eq!(
            c.socket_connection_setup_timeout_max(),
            Duration::from_secs(30)
        );
        assert_eq!(c.security_protocol(), SecurityProtocol::Plaintext);
    }

    #[test]
    fn typed_builder_sets_every_property() {
        let c = ProducerConfig::builder()
            .bootstrap_servers("a:1")
            .client_id("me")
            .acks(Acks::Leader)
            .enable_idempotence(false)
            .linger(Duration::from_millis(7))
            .batch_size(1000)
            .buffer_memory(2000)
            .max_block(Duration::from_millis(3))
            .delivery_timeout(Duration::from_millis(40_000))
            .request_timeout(Duration::from_millis(20_000))
            .retries(4)
            .retry_backoff(Duration::from_millis(11))
            .retry_backoff_max(Duration::from_millis(12))
            .reconnect_backoff(Duration::from_millis(13))
            .reconnect_backoff_max(Duration::from_millis(14))
            .max_in_flight_requests_per_connection(9)
            .max_request_size(3000)
            .metadata_max_age(Duration::from_millis(15))
            .metadata_max_idle(Duration::from_millis(6000))
            .partitioner_ignore_keys(true)
            .compression(CompressionType::None)
            .connections_max_idle(None)
            .send_buffer_bytes(None)
            .receive_buffer_bytes(Some(99))
            .socket_connection_setup_timeout(Duration::from_millis(16))
            .socket_connection_setup_timeout_max(Duration::from_millis(17))
            .partitioner(
                |_: &str, _: Option<&[u8]>, _: Option<&[u8]>, _: &crate::TopicLayout<'_>| Some(0),
            )
            .build()
            .unwrap();
        assert_eq!(c.client_id(), "me");
        assert_eq!(c.acks(), Acks::Leader);
        assert!(!c.idempotence_enabled());
        assert_eq!(c.linger(), Duration::from_millis(7));
        assert_eq!(c.batch_size(), 1000);
        assert_eq!(c.buffer_memory(), 2000);
        assert_eq!(c.max_block(), Duration::from_millis(3));
        assert_eq!(c.delivery_timeout(), Duration::from_millis(40_000));
        assert_eq!(c.request_timeout(), Duration::from_millis(20_000));
        assert_eq!(c.retries(), 4);
        assert_eq!(c.retry_backoff(), Duration::from_millis(11));
        assert_eq!(c.retry_backoff_max(), Duration::from_millis(12));
        assert_eq!(c.reconnect_backoff(), Duration::from_millis(13));
        assert_eq!(c.reconnect_backoff_max(), Duration::from_millis(14));
        assert_eq!(c.max_in_flight_requests_per_connection(), 9);
        assert_eq!(c.max_request_size(), 3000);
        assert_eq!(c.metadata_max_age(), Duration::from_millis(15));
        assert_eq!(c.metadata_max_idle(), Duration::from_millis(6000));
        assert!(c.partitioner_ignore_keys());
        assert_eq!(c.connections_max_idle(), None);
        assert_eq!(c.send_buffer_bytes(), None);
        assert_eq!(c.receive_buffer_bytes(), Some(99));
        assert_eq!(
            c.socket_connection_setup_timeout(),
            Duration::from_millis(16)
        );
        assert_eq!(
            c.socket_connection_setup_timeout_max(),
            Duration::from_millis(17)
        );
        assert!(c.partitioner().is_some());
        let v = c.values();
        assert!(v.contains(&("partitioner.class", "custom".to_string())));
        assert!(v.contains(&("acks", "1".to_string())));
        assert!(format!("{c:?}").contains("\"linger.ms\": \"7\""));
    }

    #[test]
    fn properties_are_trimmed_and_later_wins() {
        let c = cfg(&[
            ("linger.ms", " 10 "),
            ("linger.ms", "20"),
            ("partitioner.ignore.keys", "TRUE"),
        ])
        .unwrap();
        assert_eq!(c.linger(), Duration::from_millis(20));
        assert!(c.partitioner_ignore_keys());
        let c = ProducerConfig::builder()
            .set("bootstrap.servers", "h:1")
            .linger(Duration::from_millis(1))
            .set("linger.ms", "2")
            .build()
            .unwrap();
        assert_eq!(c.linger(), Duration::from_millis(2));
    }

    #[test]
    fn unknown_property_is_named() {
        assert_eq!(err(&[("linger.msec", "1")]).0, "linger.msec");
        assert!(err(&[("lingr.ms", "1")]).1.contains("unknown"));
    }

    #[test]
    fn bootstrap_servers_parsing() {
        let c = cfg(&[(
            "bootstrap.servers",
            " b1:9092 , ,PLAINTEXT://b2.example.com:19092,[::1]:9093,10.0.0.1:1,",
        )])
        .unwrap();
        let s: Vec<String> = c
            .bootstrap_servers()
            .iter()
            .map(|b| b.to_string())
            .collect();
        assert_eq!(
            s,
            [
                "b1:9092",
                "b2.example.com:19092",
                "[::1]:9093",
                "10.0.0.1:1"
            ]
        );
        assert_eq!(c.bootstrap_servers()[2].host, "::1");
        for bad in [
            "b1",
            "b1:",
            ":9092",
            "b1:0",
            "b1:65536",
            "b1:-1",
            "b1:+5",
            "b1:x",
            "[::1",
            "[::1]",
            "b 1:9092",
            "b1:9092,b2",
        ] {
            let (p, r) = err(&[("bootstrap.servers", bad)]);
            assert_eq!(p, "bootstrap.servers", "{bad}");
            assert!(r.contains("host:port"), "{bad}: {r}");
        }
        assert!(err(&[("bootstrap.servers", " , ")])
            .1
            .contains("no bootstrap"));
        let e = ProducerConfig::from_properties([("linger.ms", "1")]).unwrap_err();
        assert!(matches!(e, Error::Config { ref property, .. } if property == "bootstrap.servers"));
        assert!(e.to_string().contains("missing"));
    }

    #[test]
    fn client_id_generated_when_empty() {
        let a = cfg(&[("client.id", "")]).unwrap();
        let b = cfg(&[]).unwrap();
        let n = |c: &ProducerConfig| -> u64 {
            c.client_id()
                .strip_prefix("producer-")
                .unwrap()
                .parse()
                .unwrap()
        };
        assert!(n(&a) >= 1);
        assert_ne!(n(&a), n(&b));
        assert_eq!(cfg(&[("client.id", "x")]).unwrap().client_id(), "x");
    }

    #[test]
    fn acks_values() {
        for (v, a) in [
            ("all", Acks::All),
            ("-1", Acks::All),
            ("1", Acks::Leader),
            ("0", Acks::None),
        ] {
            let c = cfg(&[("acks", v), ("enable.idempotence", "false")]).unwrap();
            assert_eq!(c.acks(), a);
        }
        assert_eq!(Acks::All.as_i16(), -1);
        assert_eq!(Acks::Leader.as_i16(), 1);
        assert_eq!(Acks::None.as_i16(), 0);
        for bad in ["2", "ALL", "", "one"] {
            assert_eq!(err(&[("acks", bad)]).0, "acks");
        }
    }

    #[test]
    fn numbers_are_type_and_range_checked() {
        let cases: &[(&str, &str, &str)] = &[
            ("linger.ms", "-1", "at least 0"),
            ("linger.ms", "abc", "integer"),
            ("linger.ms", "1.5", "integer"),
            ("batch.size", "-1", "at least 0"),
            ("batch.size", "2147483648", "at most 2147483647"),
            ("buffer.memory", "-5", "at least 0"),
            ("max.block.ms", "-1", "at least 0"),
            ("request.timeout.ms", "-1", "at least 0"),
            ("delivery.timeout.ms", "99999999999", "at most"),
            ("retries", "-1", "at least 0"),
            ("retries", "2147483648", "at most"),
            ("retry.backoff.ms", "-1", "at least 0"),
            ("max.in.flight.requests.per.connection", "0", "at least 1"),
            ("max.request.size", "-1", "at least 0"),
            ("metadata.max.age.ms", "-1", "at least 0"),
            ("metadata.max.idle.ms", "4999", "at least 5000"),
            ("send.buffer.bytes", "-2", "at least -1"),
            ("receive.buffer.bytes", "-2", "at least -1"),
            ("partitioner.ignore.keys", "yes", "true or false"),
            ("enable.idempotence", "1", "true or false"),
            (
                "partitioner.adaptive.partitioning.enable",
                "x",
                "true or false",
            ),
            ("partitioner.availability.timeout.ms", "-1", "at least 0"),
            ("socket.connection.setup.timeout.ms", "-1", "at least 0"),
            ("compression.gzip.level", "10", "at most 9"),
            ("compression.gzip.level", "0", "-1 (default) or 1 to 9"),
            ("compression.lz4.level", "0", "at least 1"),
            ("compression.lz4.level", "18", "at most 17"),
            ("compression.zstd.level", "23", "at most 22"),
            ("compression.zstd.level", "-131073", "at least -131072"),
            ("metrics.num.samples", "x", "integer"),
            ("enable.metrics.push", "x", "true or false"),
        ];
        for (prop, value, why) in cases {
            let (p, r) = err(&[(prop, value)]);
            assert_eq!(&p, prop, "{prop}={value}");
            assert!(r.contains(why), "{prop}={value}: {r}");
        }
        // -1 for socket buffers and idle connections means "OS default" / "never"
        let c = cfg(&[
            ("send.buffer.bytes", "-1"),
            ("receive.buffer.bytes", "-1"),
            ("connections.max.idle.ms", "-1"),
            ("compression.zstd.level", "-5"),
            ("compression.gzip.level", "9"),
        ])
        .unwrap();
        assert_eq!(c.send_buffer_bytes(), None);
        assert_eq!(c.receive_buffer_bytes(), None);
        assert_eq!(c.connections_max_idle(), None);
    }

    #[test]
    fn delivery_timeout_rule() {
        // explicit and too small: error naming delivery.timeout.ms
        let (p, r) = err(&[
            ("delivery.timeout.ms", "30000"),
            ("linger.ms", "5"),
            ("request.timeout.ms", "30000"),
        ]);
        assert_eq!(p, "delivery.timeout.ms");
        assert!(r.contains("30005"), "{r}");
        // exactly equal is fine
        let c = cfg(&[
            ("delivery.timeout.ms", "30005"),
            ("request.timeout.ms", "30000"),
        ])
        .unwrap();
        assert_eq!(c.delivery_timeout(), Duration::from_millis(30005));
        // default and too small: raised
        let c = cfg(&[("linger.ms", "100000"), ("request.timeout.ms", "30000")]).unwrap();
        assert_eq!(c.delivery_timeout(), Duration::from_millis(130_000));
        // capped at i32::MAX as Java computes in int
        let c = cfg(&[
            ("linger.ms", "9223372036854775807"),
            ("request.timeout.ms", "30000"),
        ])
        .unwrap();
        assert_eq!(c.delivery_timeout(), Duration::from_millis(i32::MAX as u64));
    }

    #[test]
    fn idempotence_explicit_conflicts_are_errors() {
        let t = ("enable.idempotence", "true");
        let (p, r) = err(&[t, ("acks", "1")]);
        assert_eq!(p, "acks");
        assert!(r.contains("enable.idempotence"), "{r}");
        assert_eq!(err(&[t, ("acks", "0")]).0, "acks");
        assert_eq!(err(&[t, ("retries", "0")]).0, "retries");
        assert_eq!(
            err(&[t, ("max.in.flight.requests.per.connection", "6")]).0,
            "max.in.flight.requests.per.connection"
        );
        let c = cfg(&[
            t,
            ("max.in.flight.requests.per.connection", "5"),
            ("retries", "1"),
        ])
        .unwrap();
        assert!(c.idempotence_enabled());
        // explicitly "TRUE" counts as explicit too
        assert_eq!(
            err(&[("enable.idempotence", "TRUE"), ("acks", "1")]).0,
            "acks"
        );
    }

    #[test]
    fn idempotence_default_is_turned_off_by_conflicts() {
        for conflict in [("acks", "1"), ("acks", "0"), ("retries", "0")] {
            let c = cfg(&[conflict]).unwrap();
            assert!(!c.idempotence_enabled(), "{conflict:?}");
        }
        assert!(cfg(&[("acks", "-1")]).unwrap().idempotence_enabled());
        // explicitly disabled: conflicts are fine
        let c = cfg(&[
            ("enable.idempotence", "false"),
            ("acks", "1"),
            ("retries", "0"),
            ("max.in.flight.requests.per.connection", "6"),
        ])
        .unwrap();
        assert!(!c.idempotence_enabled());
        assert_eq!(c.retries(), 0);
        assert_eq!(c.max_in_flight_requests_per_connection(), 6);
    }

    #[test]
    fn more_than_five_in_flight_needs_idempotence_off_even_by_default() {
        // Java 4.4: an error unless enable.idempotence=false, whatever acks/retries say
        for extra in [None, Some(("acks", "1")), Some(("retries", "0"))] {
            let mut props = vec![("max.in.flight.requests.per.connection", "6")];
            props.extend(extra);
            let (p, r) = err(&props);
            assert_eq!(p, "max.in.flight.requests.per.connection", "{extra:?}");
            assert!(r.contains("enable.idempotence=false"), "{r}");
        }
    }

    #[test]
    fn backoff_adjustments() {
        // max below base: static backoff at max (Java's ExponentialBackoff takes the min)
        let c = cfg(&[("retry.backoff.ms", "500"), ("retry.backoff.max.ms", "200")]).unwrap();
        assert_eq!(c.retry_backoff(), Duration::from_millis(200));
        assert_eq!(c.retry_backoff_max(), Duration::from_millis(200));
        // reconnect.backoff.ms alone: no exponential reconnect backoff
        let c = cfg(&[("reconnect.backoff.ms", "200")]).unwrap();
        assert_eq!(c.reconnect_backoff(), Duration::from_millis(200));
        assert_eq!(c.reconnect_backoff_max(), Duration::from_millis(200));
        let c = cfg(&[
            ("reconnect.backoff.ms", "200"),
            ("reconnect.backoff.max.ms", "5000"),
        ])
        .unwrap();
        assert_eq!(c.reconnect_backoff(), Duration::from_millis(200));
        assert_eq!(c.reconnect_backoff_max(), Duration::from_millis(5000));
        let c = cfg(&[("reconnect.backoff.max.ms", "10")]).unwrap();
        assert_eq!(c.reconnect_backoff(), Duration::from_millis(10));
        assert_eq!(c.reconnect_backoff_max(), Duration::from_millis(10));
        let c = cfg(&[
            ("socket.connection.setup.timeout.ms", "40000"),
            ("socket.connection.setup.timeout.max.ms", "20000"),
        ])
        .unwrap();
        assert_eq!(
            c.socket_connection_setup_timeout(),
            Duration::from_millis(20000)
        );
    }

    #[test]
    fn compression_types() {
        for codec in ["gzip", "snappy", "lz4", "zstd"] {
            let want = CompressionType::from_name(codec).unwrap();
            if crate::compression::is_available(want) {
                let c = cfg(&[("compression.type", codec)]).unwrap();
                assert_eq!(c.compression(), want);
            } else {
                let (p, r) = err(&[("compression.type", codec)]);
                assert_eq!(p, "compression.type");
                assert!(r.contains("cargo feature"), "{r}");
                assert!(r.contains(codec), "{r}");
            }
        }
        if crate::compression::is_available(CompressionType::Gzip) {
            let c = cfg(&[
                ("compression.type", "gzip"),
                ("compression.gzip.level", "9"),
            ])
            .unwrap();
            assert_eq!(c.compression_level(), Some(9));
        }
        let (p, r) = err(&[("compression.type", "brotli")]);
        assert_eq!(p, "compression.type");
        assert!(r.contains("invalid value") && !r.contains("yet"), "{r}");
        assert!(err(&[("compression.type", "GZIP")])
            .1
            .contains("invalid value"));
        let c = cfg(&[("compression.type", "none")]).unwrap();
        assert_eq!(c.compression(), CompressionType::None);
    }

    #[test]
    fn security_protocols() {
        let c = cfg(&[("security.protocol", "plaintext")]).unwrap();
        assert_eq!(c.security_protocol(), SecurityProtocol::Plaintext);
        assert_eq!(c.sasl_mechanism(), None);
        for sp in ["SSL", "sasl_ssl"] {
            if cfg!(feature = "rustls") {
                break;
            }
            let (p, r) = err(&[("security.protocol", sp)]);
            assert_eq!(p, "security.protocol");
            assert!(r.contains("TLS") && r.contains("\"rustls\""), "{r}");
        }
        if cfg!(feature = "rustls") {
            let c = cfg(&[("security.protocol", "ssl")]).unwrap();
            assert_eq!(c.security_protocol(), SecurityProtocol::Ssl);
            assert!(c.tls_connector().is_some());
            // SASL_SSL needs the SASL credentials as SASL_PLAINTEXT does
            let (p, _) = err(&[("security.protocol", "SASL_SSL")]);
            assert_eq!(p, "sasl.jaas.config");
        }
        let (p, r) = err(&[("security.protocol", "TLS")]);
        assert_eq!(p, "security.protocol");
        assert!(r.contains("invalid value"), "{r}");
        // ssl.* and sasl.* are accepted (and unused) under PLAINTEXT, even incomplete
        let c = cfg(&[
            ("ssl.truststore.location", "/x"),
            ("sasl.mechanism", "GSSAPI"),
            ("sasl.jaas.config", "garbage"),
        ])
        .unwrap();
        assert_eq!(c.sasl_username(), None);
    }

    #[cfg(feature = "rustls")]
    mod tls {
        use super::*;

        fn fixture(name: &str) -> String {
            format!("{}/tests/fixtures/tls/{name}", env!("CARGO_MANIFEST_DIR"))
        }

        fn ssl(props: &[(&str, &str)]) -> Result<ProducerConfig, Error> {
            let mut all = vec![("security.protocol", "SSL")];
            all.extend_from_slice(props);
            cfg(&all)
        }

        fn ssl_err(props: &[(&str, &str)]) -> (String, String) {
            match ssl(props) {
                Err(Error::Config { property, reason }) => (property, reason),
                other => panic!("expected a config error for {props:?}, got {other:?}"),
            }
        }

        #[test]
        fn pem_truststores() {
            let ca = fixture("other-ca.pem");
            ssl(&[("ssl.truststore.location", &ca)]).unwrap();
            ssl(&[
                ("ssl.truststore.type", "pem"),
                ("ssl.truststore.location", &ca),
            ])
            .unwrap();
            let pem = std::fs::read_to_string(&ca).unwrap();
            ssl(&[("ssl.truststore.certificates", &pem)]).unwrap();
            let c = ProducerConfig::builder()
                .bootstrap_servers("h:1")
                .security_protocol(SecurityProtocol::Ssl)
                .ssl_truststore_certificates(pem.clone())
                .ssl_endpoint_identification(false)
                .build()
                .unwrap();
            assert!(format!("{:?}", c.tls_connector().unwrap()).contains("false"));
            // blank values count as unset (Java's defaults are empty strings)
            ssl(&[
                ("ssl.truststore.location", ""),
                ("ssl.keystore.location", " "),
            ])
            .unwrap();

            let (p, r) = ssl_err(&[
                ("ssl.truststore.location", &ca),
                ("ssl.truststore.certificates", &pem),
            ]);
            assert_eq!(p, "ssl.truststore.certificates");
            assert!(r.contains("not both"), "{r}");
            for t in ["JKS", "PKCS12"] {
                let (p, r) =
                    ssl_err(&[("ssl.truststore.type", t), ("ssl.truststore.location", &ca)]);
                assert_eq!(p, "ssl.truststore.type");
                assert!(r.contains("use PEM"), "{r}");
            }
            let (p, r) = ssl_err(&[("ssl.truststore.location", "/nonexistent/ca.pem")]);
            assert_eq!(p, "ssl.truststore.location");
            assert!(r.contains("cannot read"), "{r}");
            // a file that is not PEM (a JKS store, say)
            let (p, r) = ssl_err(&[("ssl.truststore.location", file!())]);
            assert_eq!(p, "ssl.truststore.location");
            assert!(
                r.contains("no PEM certificate") && r.contains("use PEM"),
                "{r}"
            );
            let broken = pem.replace("MII", "M!I");
            let (p, _) = ssl_err(&[("ssl.truststore.certificates", &broken)]);
            assert_eq!(p, "ssl.truststore.certificates");
        }

        #[test]
        fn endpoint_identification() {
            ssl(&[("ssl.endpoint.identification.algorithm", "HTTPS")]).unwrap();
            ssl(&[("ssl.endpoint.identification.algorithm", "")]).unwrap();
            let (p, r) = ssl_err(&[("ssl.endpoint.identification.algorithm", "ldaps")]);
            assert_eq!(p, "ssl.endpoint.identification.algorithm");
            assert!(r.contains("https"), "{r}");
        }

        #[test]
        fn pem_keystores() {
            let ks = fixture("client-keystore.pem");
            ssl(&[("ssl.keystore.location", &ks)]).unwrap();
            let text = std::fs::read_to_string(&ks).unwrap();
            let split = text.find("-----BEGIN PRIVATE KEY").unwrap();
            let (chain, key) = text.split_at(split);
            let c = ProducerConfig::builder()
                .bootstrap_servers("h:1")
                .security_protocol(SecurityProtocol::Ssl)
                .ssl_keystore_pem(chain, key)
                .build()
                .unwrap();
            assert!(format!("{:?}", c.tls_connector().unwrap()).contains("client_auth: true"));
            // the key is a secret
            let body = key.lines().nth(1).unwrap();
            assert!(!format!("{c:?}").contains(body));

            let (p, _) = ssl_err(&[("ssl.keystore.certificate.chain", chain)]);
            assert_eq!(p, "ssl.keystore.key");
            let (p, _) = ssl_err(&[("ssl.keystore.key", key)]);
            assert_eq!(p, "ssl.keystore.certificate.chain");
            let (p, r) = ssl_err(&[
                ("ssl.keystore.certificate.chain", chain),
                ("ssl.keystore.key", chain),
            ]);
            assert_eq!(p, "ssl.keystore.key");
            assert!(r.contains("private key") && !r.contains(body), "{r}");
            let (p, r) = ssl_err(&[("ssl.keystore.location", &ks), ("ssl.key.password", "x")]);
            assert_eq!(p, "ssl.key.password");
            assert!(r.contains("encrypted"), "{r}");
            let (p, r) = ssl_err(&[("ssl.keystore.type", "JKS"), ("ssl.keystore.location", &ks)]);
            assert_eq!(p, "ssl.keystore.type");
            assert!(r.contains("use PEM"), "{r}");
            let (p, _) = ssl_err(&[("ssl.keystore.location", &ks), ("ssl.keystore.key", key)]);
            assert_eq!(p, "ssl.keystore.location");
        }

        #[test]
        fn ssl_properties_ignored_under_plaintext() {
            cfg(&[
                ("ssl.truststore.type", "JKS"),
                ("ssl.truststore.location", "/x"),
            ])
            .unwrap();
        }
    }

    const PLAIN_JAAS: &str = "org.apache.kafka.common.security.plain.PlainLoginModule required \
                              username=\"alice\" password=\"alice-secret\";";

    #[test]
    fn sasl_plaintext_with_jaas_config() {
        let c = cfg(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.jaas.config", PLAIN_JAAS),
        ])
        .unwrap();
        assert_eq!(c.security_protocol(), SecurityProtocol::SaslPlaintext);
        assert_eq!(c.sasl_mechanism(), Some(SaslMechanism::Plain)); // the default
        assert_eq!(c.sasl_username(), Some("alice"));
        let s = c.sasl_settings().unwrap();
        assert_eq!(s.password, "alice-secret");
        for m in ["SCRAM-SHA-256", "scram-sha-512", "PLAIN"] {
            let c = cfg(&[
                ("security.protocol", "sasl_plaintext"),
                ("sasl.mechanism", m),
                (
                    "sasl.jaas.config",
                    "org.apache.kafka.common.security.scram.ScramLoginModule required \
                     username=alice password=pw;",
                ),
            ]);
            let want = SaslMechanism::from_name(m).unwrap();
            if want.is_available() {
                assert_eq!(c.unwrap().sasl_mechanism(), Some(want));
            } else {
                let Err(Error::Config { property, reason }) = c else {
                    panic!("{m}: expected an error")
                };
                assert_eq!(property, "sasl.mechanism");
                assert!(reason.contains("sasl-scram"), "{reason}");
            }
        }
    }

    #[test]
    fn sasl_config_errors() {
        let sasl = ("security.protocol", "SASL_PLAINTEXT");
        // missing credentials: names sasl.jaas.config
        let (p, r) = err(&[sasl]);
        assert_eq!(p, "sasl.jaas.config");
        assert!(
            r.contains("missing") && r.contains("PlainLoginModule"),
            "{r}"
        );
        let (p, r) = err(&[sasl, ("sasl.mechanism", "SCRAM-SHA-256")]);
        assert_eq!(
            p,
            if cfg!(feature = "sasl-scram") {
                "sasl.jaas.config"
            } else {
                "sasl.mechanism"
            }
        );
        assert!(
            r.contains("ScramLoginModule") || r.contains("sasl-scram"),
            "{r}"
        );
        for m in ["GSSAPI", "OAUTHBEARER", "SCRAM-SHA-1", ""] {
            let (p, r) = err(&[
                sasl,
                ("sasl.mechanism", m),
                ("sasl.jaas.config", PLAIN_JAAS),
            ]);
            assert_eq!(p, "sasl.mechanism", "{m}");
            assert!(r.contains("not supported"), "{m}: {r}");
        }
        let cases: &[(&str, &str)] = &[
            ("", "empty"),
            ("   ", "empty"),
            (
                "org.apache.kafka.common.security.plain.PlainLoginModule required;",
                "username",
            ),
            ("x.PlainLoginModule required username=\"a\";", "password"),
            ("x.PlainLoginModule required password=\"a\";", "username"),
            (
                "x.PlainLoginModule required username=\"\" password=\"a\";",
                "empty",
            ),
            (
                "x.PlainLoginModule username=\"a\" password=\"b\";",
                "control flag",
            ),
            (
                "x.PlainLoginModule mandatory username=\"a\" password=\"b\";",
                "control flag",
            ),
            (
                "x.PlainLoginModule required username \"a\" password=\"b\";",
                "'='",
            ),
            ("x.PlainLoginModule required username=;", "value"),
            (
                "x.PlainLoginModule required username=\"a password=b;",
                "unterminated",
            ),
            ("x.PlainLoginModule required /* note", "unterminated"),
            (
                "x.PlainLoginModule required username=a password=b; y.PlainLoginModule required;",
                "more than one",
            ),
            (
                "com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true;",
                "not supported",
            ),
            (
                "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;",
                "not supported",
            ),
            (
                "x.ScramLoginModule required username=a password=b tokenauth=true;",
                "tokenauth",
            ),
            ("= required;", "class name"),
        ];
        for (jaas, why) in cases {
            let (p, r) = err(&[sasl, ("sasl.jaas.config", jaas)]);
            assert_eq!(p, "sasl.jaas.config", "{jaas}");
            assert!(r.contains(why), "{jaas}: {r}");
        }
        // an error never quotes the secret
        let (_, r) = err(&[
            sasl,
            (
                "sasl.jaas.config",
                "x.PlainLoginModule required password=\"hunter2\";",
            ),
        ]);
        assert!(!r.contains("hunter2"), "{r}");
    }

    #[test]
    fn jaas_parsing() {
        let m = parse_jaas(
            "  org.apache.kafka.common.security.scram.ScramLoginModule   REQUIRED\n\t\
             username = \"al ice\"  password=\"p\\\"w\\\\d;=x\\n\" // comment\n\
             /* a block\ncomment */ extra=plain_word-1 q='single \"q\"';  ",
        )
        .unwrap();
        assert_eq!(
            m.class,
            "org.apache.kafka.common.security.scram.ScramLoginModule"
        );
        assert_eq!(m.flag, "REQUIRED");
        let opts: Vec<(&str, &str)> = m
            .options
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            opts,
            [
                ("username", "al ice"),
                ("password", "p\"w\\d;=x\n"),
                ("extra", "plain_word-1"),
                ("q", "single \"q\""),
            ]
        );
        // the trailing ';' may be left out
        let m = parse_jaas("a.PlainLoginModule optional username=u password=p").unwrap();
        assert_eq!(m.options.len(), 2);
        // unknown options are ignored, and the module's package does not matter
        let c = cfg(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            (
                "sasl.jaas.config",
                "PlainLoginModule required serviceName=kafka username=u password=p;",
            ),
        ])
        .unwrap();
        assert_eq!(c.sasl_username(), Some("u"));
    }

    #[test]
    fn typed_sasl_setters_round_trip_any_password() {
        let tricky = "p\"a\\ss w;o=rd\n'";
        for (build, want) in [
            (
                ProducerConfig::builder().sasl_plain("bob", tricky),
                SaslMechanism::Plain,
            ),
            (
                ProducerConfig::builder().sasl_scram_sha256("bob", tricky),
                SaslMechanism::ScramSha256,
            ),
            (
                ProducerConfig::builder().sasl_scram_sha512("bob", tricky),
                SaslMechanism::ScramSha512,
            ),
        ] {
            if !want.is_available() {
                continue;
            }
            let builder = build.bootstrap_servers("h:1");
            assert!(!format!("{builder:?}").contains("w;o=rd"), "{builder:?}");
            let c = builder.build().unwrap();
            assert_eq!(c.security_protocol(), SecurityProtocol::SaslPlaintext);
            assert_eq!(c.sasl_mechanism(), Some(want));
            assert_eq!(c.sasl_username(), Some("bob"));
            assert_eq!(c.sasl_settings().unwrap().password, tricky);
            let debug = format!("{c:?}");
            assert!(!debug.contains("w;o=rd"), "{debug}");
            assert!(debug.contains("[hidden]"), "{debug}");
            assert!(!format!("{:?}", c.sasl_settings().unwrap()).contains("w;o=rd"));
            assert!(c
                .values()
                .contains(&("sasl.mechanism", want.name().to_string())));
        }
        // SSL + credentials becomes SASL_SSL (without the rustls feature: an error naming it)
        let r = ProducerConfig::builder()
            .bootstrap_servers("h:1")
            .security_protocol(SecurityProtocol::Ssl)
            .sasl_plain("u", "p")
            .build();
        if cfg!(feature = "rustls") {
            assert_eq!(r.unwrap().security_protocol(), SecurityProtocol::SaslSsl);
        } else {
            assert!(
                matches!(r, Err(Error::Config { ref property, ref reason })
                    if property == "security.protocol" && reason.contains("SASL_SSL")),
                "{r:?}"
            );
        }
        // an explicit SASL protocol is kept; the mechanism setter alone does not set one
        let c = ProducerConfig::builder()
            .bootstrap_servers("h:1")
            .sasl_mechanism(SaslMechanism::Plain)
            .build()
            .unwrap();
        assert_eq!(c.security_protocol(), SecurityProtocol::Plaintext);
        // other secrets are hidden by the builder's Debug too
        let b = ProducerConfig::builder().set("ssl.keystore.password", "ks-pass");
        assert!(!format!("{b:?}").contains("ks-pass"));
    }

    #[test]
    fn transactions_not_supported_yet() {
        let (p, r) = err(&[("transactional.id", "tx-1")]);
        assert_eq!(p, "transactional.id");
        assert!(r.contains("not supported yet"), "{r}");
    }

    #[test]
    fn accepted_java_properties() {
        let c = cfg(&[
            (
                "key.serializer",
                "org.apache.kafka.common.serialization.StringSerializer",
            ),
            (
                "value.serializer",
                "org.apache.kafka.common.serialization.ByteArraySerializer",
            ),
            ("partitioner.adaptive.partitioning.enable", "false"),
            ("partitioner.availability.timeout.ms", "100"),
            ("interceptor.classes", ""),
            ("metrics.num.samples", "3"),
            ("client.dns.lookup", "use_all_dns_ips"),
        ])
        .unwrap();
        assert!(!c.partitioner_adaptive_partitioning());
        assert_eq!(
            c.partitioner_availability_timeout(),
            Duration::from_millis(100)
        );
        for (prop, value) in [
            ("interceptor.classes", "com.example.Interceptor"),
            ("config.providers", "file"),
            ("partitioner.class", "com.example.MyPartitioner"),
        ] {
            let (p, r) = err(&[(prop, value)]);
            assert_eq!(p, prop);
            assert!(
                r.contains("not supported") || r.contains("Rust Partitioner"),
                "{r}"
            );
        }
    }

    #[test]
    fn properties_text() {
        let text = "# comment\n! also comment\n\n  bootstrap.servers = b1:9092,\\\n    b2:9092\nlinger.ms:10\nacks all\nclient.id=\nretries=3 \n";
        let props = ProducerConfig::parse_properties(text);
        assert_eq!(
            props,
            [
                (
                    "bootstrap.servers".to_string(),
                    "b1:9092,b2:9092".to_string()
                ),
                ("linger.ms".to_string(), "10".to_string()),
                ("acks".to_string(), "all".to_string()),
                ("client.id".to_string(), String::new()),
                ("retries".to_string(), "3".to_string()),
            ]
        );
        let c = ProducerConfig::from_properties(props).unwrap();
        assert_eq!(c.bootstrap_servers().len(), 2);
        assert_eq!(c.retries(), 3);
        // a continued last line without a newline
        assert_eq!(
            ProducerConfig::parse_properties("a=b\\"),
            [("a".to_string(), "b".to_string())]
        );
    }
}
