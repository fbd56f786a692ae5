//! [`ProducerConfig`]: the checked configuration with typed getters, and how it is built from
//! properties (table-driven parsing, then the security settings, then the cross-property rules).

use super::builder::ProducerConfigBuilder;
use super::parse::{self, Resolved, Value};
use super::properties::Status;
use super::rules;
use super::security::{self, SaslSettings};
#[cfg(feature = "tls")]
use super::ssl;
use super::types::{
    compression_from_name, parse_bootstrap, Acks, BrokerAddress, ClientDnsLookup, CompressionType,
    SaslMechanism, SecurityProtocol,
};
use crate::error::Error;
use crate::net::sasl::token::OAuthConfig;
use crate::net::tls::TlsConnector;
use crate::partitioner::Partitioner;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

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
/// - An unknown property is an error ([`Error::Config`] naming it and the closest known name),
///   so typos are caught; [`ProducerConfigBuilder::allow_unknown_properties`] logs and skips
///   unknown names instead, as the Java client does.
/// - `delivery.timeout.ms` must be at least `linger.ms + request.timeout.ms`. If it was set
///   explicitly this is an error; if it is the default, it is raised to that sum (with a
///   warning), as Java does.
/// - `transactional.id` needs idempotence: with `enable.idempotence=false` (or idempotence
///   turned off by `acks`/`retries`) it is an error naming `enable.idempotence`, as in Java.
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
/// - SASL/OAUTHBEARER (`sasl.mechanism=OAUTHBEARER`, KIP-255, with KIP-342 extensions): the
///   tokens come from Java's unsecured login (`OAuthBearerLoginModule required
///   unsecuredLoginStringClaim_sub="...";`, development brokers), the OIDC client-credentials
///   login (`sasl.login.callback.handler.class=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler`,
///   `sasl.oauthbearer.token.endpoint.url`, and `clientId`, `clientSecret`, `scope`,
///   `extension_<name>` options; cargo feature `oauth-oidc`), or a Rust
///   [`OAuthBearerTokenProvider`](crate::OAuthBearerTokenProvider) given to
///   [`ProducerBuilder::oauth_token_provider`](crate::ProducerBuilder::oauth_token_provider).
///   Tokens are refreshed on a login thread at `sasl.login.refresh.window.factor` of their
///   lifetime (with `.jitter`, `sasl.login.refresh.min.period.seconds` and
///   `.buffer.seconds`), failures retried with `sasl.login.retry.backoff.ms` to `.max.ms`.
/// - TLS (`security.protocol=SSL` or `SASL_SSL`; cargo feature `rustls`, on by default, or
///   `rustls-graviola`): trusted certificates come from `ssl.truststore.location` (a PKCS12
///   store opened with `ssl.truststore.password`, or a PEM file of CA certificates) or
///   `ssl.truststore.certificates` (the PEM text itself); with neither, the system's trust
///   store (as Java uses the JVM's; when it is empty, the feature `webpki-roots` brings the
///   Mozilla list).
///   `ssl.endpoint.identification.algorithm` is `https` (the default: the broker's certificate
///   must name the host in its address) or empty (the chain is still verified, the name is
///   not). A client certificate (brokers with `ssl.client.auth=required`) is
///   `ssl.keystore.location`, a PKCS12 store (`ssl.keystore.password`; `ssl.key.password`
///   unset or the same) or one PEM file holding the chain and a PKCS#8, PKCS#1 or SEC1 key, or
///   `ssl.keystore.certificate.chain` with `ssl.keystore.key` (the PEM text); an encrypted
///   PKCS#8 PEM key is opened with `ssl.key.password`. `ssl.*.type` defaults to `JKS` as in
///   Java, which (since Java 9) reads by content: PKCS12 and PEM files are read, a JKS file is
///   an error giving the `keytool` command converting it to PKCS12. Files and passwords are
///   checked here: a wrong password is an error naming its property. A broker certificate that
///   fails verification fails queued records at once with [`Error::Authentication`], as bad
///   SASL credentials do.
/// - An empty `client.id` becomes `producer-N` (N counts producers configured in this process,
///   from 1), as Java does.
///
/// # Properties without effect
///
/// Every Java producer property is known (the README's property table lists them with type,
/// default, valid values and status). Each one either takes effect, or is accepted and
/// ignored with a stated reason (type and range are still checked, and building a
/// configuration that sets one to anything but its default logs one warning listing them), or
/// is an error when set, saying why: a non-empty `interceptor.classes` or
/// `config.providers`, and `partitioner.class` (set a Rust [`Partitioner`] with
/// [`ProducerConfigBuilder::partitioner`] instead). Values this build cannot honour are errors
/// too: a `compression.type` whose cargo feature (`gzip`, `snappy`, `lz4`, `zstd`; all on by
/// default) is not compiled in, `security.protocol` `SSL` or `SASL_SSL` without a TLS cargo
/// feature, JKS key and trust stores, a `sasl.mechanism` other than
/// `PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512` and `OAUTHBEARER`, and a
/// `sasl.login.callback.handler.class` other than Java's OIDC one (without the cargo feature
/// `oauth-oidc`, that one too), and the `sasl.oauthbearer.assertion.*` settings (client
/// assertions are not implemented).
///
/// Among the ignored ones: `key.serializer` / `value.serializer` (serializers are Rust types
/// given to the producer; the names are accepted so Java configurations can be pasted),
/// `compression.lz4.level` and `compression.zstd.level` (validated and kept, see
/// [`ProducerConfig::compression_level`], but the pure-Rust encoders have one level each; only
/// `compression.gzip.level` changes the output), `partitioner.rack.aware`, metrics,
/// `transaction.two.phase.commit.enable` and `metadata.recovery.*` settings, and the Java-specific `ssl.*` and `sasl.*`
/// settings (providers, protocols, cipher suites, Kerberos, OAUTHBEARER token validation,
/// which is the broker's).
#[derive(Clone)]
pub struct ProducerConfig {
    bootstrap_servers: Vec<BrokerAddress>,
    client_id: String,
    transactional_id: Option<Arc<str>>,
    transaction_timeout: Duration,
    acks: Acks,
    linger: Duration,
    batch_size: usize,
    batch_max_size: usize,
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
    client_dns_lookup: ClientDnsLookup,
    security_protocol: SecurityProtocol,
    sasl: Option<SaslSettings>,
    /// OAUTHBEARER's login and refresh timing (`sasl.mechanism=OAUTHBEARER` only).
    oauth: Option<OAuthConfig>,
    tls: Option<TlsConnector>,
    partitioner: Option<Arc<dyn Partitioner>>,
    metrics_num_samples: usize,
    metrics_sample_window: Duration,
    /// What `values()` shows: every property that takes effect, after the rules.
    values: Vec<(&'static str, String)>,
}

impl ProducerConfig {
    /// A builder with nothing set (`bootstrap.servers` must be set before `build`).
    pub fn builder() -> ProducerConfigBuilder {
        ProducerConfigBuilder::default()
    }

    /// A configuration from Java property names and values, e.g. the lines of a
    /// `producer.properties` file. Later duplicates win. Unknown names are errors; to skip
    /// them, set the properties on a builder with
    /// [`allow_unknown_properties`](ProducerConfigBuilder::allow_unknown_properties).
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
        parse::properties_text(text)
    }

    pub(super) fn from_parts(
        raw: &BTreeMap<String, String>,
        partitioner: Option<Arc<dyn Partitioner>>,
        allow_unknown: bool,
    ) -> Result<ProducerConfig, Error> {
        let mut v = Resolved::parse(raw, allow_unknown)?;

        let bootstrap_servers = match v.get("bootstrap.servers") {
            Value::Unset => {
                return Err(Error::config(
                    "bootstrap.servers",
                    "missing required configuration (host:port list of brokers)",
                ))
            }
            _ => parse_bootstrap(v.list("bootstrap.servers"))?,
        };
        let security_protocol =
            SecurityProtocol::from_name(v.text("security.protocol").unwrap_or_default())?;
        // As in Java, sasl.* and ssl.* are only read by the protocols that use them.
        let (sasl, oauth) = if security_protocol.uses_sasl() {
            let (s, oauth) = security::parse_sasl(&v)?;
            v.set(
                "sasl.mechanism",
                Value::Text(s.mechanism.name().to_string()),
            );
            (Some(s), oauth)
        } else {
            (None, None)
        };
        #[cfg(feature = "tls")]
        let tls = if security_protocol.uses_tls() {
            Some(ssl::parse_tls(&v)?)
        } else {
            None
        };
        #[cfg(not(feature = "tls"))]
        let tls = None;
        let compression = compression_from_name(v.text("compression.type").unwrap_or_default())?;

        rules::apply(&mut v)?;

        if let Some(warning) = parse::ignored_warning(&v.ignored_but_set()) {
            log::warn!("{warning}");
        }
        let mut values = v.shown(|p| p.status == Status::Effective);
        // A Rust partitioner stands in for Java's partitioner.class.
        let custom = if partitioner.is_some() { "custom" } else { "" };
        values.push(("partitioner.class", custom.to_string()));
        if sasl.is_none() {
            // not read under this protocol, so not shown as if in use
            values.retain(|(name, _)| !name.starts_with("sasl."));
        }
        if tls.is_none() {
            values.retain(|(name, _)| !name.starts_with("ssl."));
        }

        let int = |name: &str| v.num(name) as i32;
        let optional_size = |name: &str| usize::try_from(v.num(name)).ok();
        let connections_max_idle =
            (v.num("connections.max.idle.ms") >= 0).then(|| v.ms("connections.max.idle.ms"));
        Ok(ProducerConfig {
            bootstrap_servers,
            client_id: v.text("client.id").unwrap_or_default().to_string(),
            transactional_id: v.text("transactional.id").map(Arc::from),
            transaction_timeout: v.ms("transaction.timeout.ms"),
            acks: Acks::from_name(v.text("acks").unwrap_or_default()),
            linger: v.ms("linger.ms"),
            metrics_num_samples: v.size("metrics.num.samples")?,
            metrics_sample_window: v.ms("metrics.sample.window.ms"),
            batch_size: v.size("batch.size")?,
            // Growing past batch.size is this client's own; a user who chose batch.size
            // without it gets Java's batches.
            batch_max_size: if v.explicit("batch.size") && !v.explicit("batch.max.size") {
                v.size("batch.size")?
            } else {
                v.size("batch.max.size")?
            },
            buffer_memory: v.size("buffer.memory")?,
            max_block: v.ms("max.block.ms"),
            delivery_timeout: v.ms("delivery.timeout.ms"),
            request_timeout: v.ms("request.timeout.ms"),
            retries: v.num("retries") as u32,
            retry_backoff: v.ms("retry.backoff.ms"),
            retry_backoff_max: v.ms("retry.backoff.max.ms"),
            reconnect_backoff: v.ms("reconnect.backoff.ms"),
            reconnect_backoff_max: v.ms("reconnect.backoff.max.ms"),
            max_in_flight: v.size("max.in.flight.requests.per.connection")?,
            max_request_size: v.size("max.request.size")?,
            metadata_max_age: v.ms("metadata.max.age.ms"),
            metadata_max_idle: v.ms("metadata.max.idle.ms"),
            partitioner_ignore_keys: v.bool("partitioner.ignore.keys"),
            partitioner_adaptive: v.bool("partitioner.adaptive.partitioning.enable"),
            partitioner_availability_timeout: v.ms("partitioner.availability.timeout.ms"),
            idempotence: v.bool("enable.idempotence"),
            compression,
            gzip_level: int("compression.gzip.level"),
            lz4_level: int("compression.lz4.level"),
            zstd_level: int("compression.zstd.level"),
            connections_max_idle,
            send_buffer_bytes: optional_size("send.buffer.bytes"),
            receive_buffer_bytes: optional_size("receive.buffer.bytes"),
            socket_connection_setup_timeout: v.ms("socket.connection.setup.timeout.ms"),
            socket_connection_setup_timeout_max: v.ms("socket.connection.setup.timeout.max.ms"),
            client_dns_lookup: ClientDnsLookup::from_name(
                v.text("client.dns.lookup").unwrap_or_default(),
            ),
            security_protocol,
            sasl,
            oauth,
            tls,
            partitioner,
            values,
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
    /// `transactional.id`, if set: the producer is transactional.
    pub fn transactional_id(&self) -> Option<&str> {
        self.transactional_id.as_deref()
    }
    /// `transaction.timeout.ms` (default 60 s).
    pub fn transaction_timeout(&self) -> Duration {
        self.transaction_timeout
    }
    /// `acks`.
    pub fn acks(&self) -> Acks {
        self.acks
    }
    /// `linger.ms`.
    pub fn linger(&self) -> Duration {
        self.linger
    }
    /// `metrics.num.samples` (default 2): how many samples the windowed metrics (rates,
    /// averages, maxima of [`Producer::metrics`](crate::Producer::metrics)) keep.
    pub fn metrics_num_samples(&self) -> usize {
        self.metrics_num_samples
    }
    /// `metrics.sample.window.ms` (default 30 s): the length of one sample.
    pub fn metrics_sample_window(&self) -> Duration {
        self.metrics_sample_window
    }
    /// `batch.size` in bytes as configured (may be 0: then every batch holds one record).
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// `batch.max.size` (not a Java property; KIP-782's proposal): how large a batch that is
    /// ready at `batch.size` may grow while the sender is busy with earlier requests (a
    /// partition under backlog). Default 1,000,000 bytes (librdkafka's `batch.size`), or
    /// `batch.size` when `batch.size` is set and this is not, so a configuration tuned for the
    /// Java client gets Java's batches. Effective bound: at most `max.request.size`, at least
    /// `batch.size`.
    pub fn batch_max_size(&self) -> usize {
        self.batch_max_size
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
    /// `partitioner.adaptive.partitioning.enable` (default true): keyless records' sticky
    /// partition is chosen against the partitions' backlog (KIP-794), not uniformly.
    pub fn partitioner_adaptive_partitioning(&self) -> bool {
        self.partitioner_adaptive
    }
    /// `partitioner.availability.timeout.ms` (default 0: off): with adaptive partitioning, a
    /// broker that could not take its ready batches for longer than this has its partitions
    /// left out of keyless records' sticky choice until it takes batches again.
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
    /// `client.dns.lookup`.
    pub fn client_dns_lookup(&self) -> ClientDnsLookup {
        self.client_dns_lookup
    }
    /// `security.protocol`.
    pub fn security_protocol(&self) -> SecurityProtocol {
        self.security_protocol
    }
    /// `sasl.mechanism`, when the security protocol uses SASL (`None` otherwise).
    pub fn sasl_mechanism(&self) -> Option<SaslMechanism> {
        self.sasl.as_ref().map(|s| s.mechanism)
    }
    /// The SASL user name from `sasl.jaas.config`, when the security protocol uses SASL (empty
    /// for OAUTHBEARER, whose principal is the token's). (The
    /// password has no getter: it is only sent to brokers, never shown.)
    pub fn sasl_username(&self) -> Option<&str> {
        self.sasl.as_ref().map(|s| s.username.as_str())
    }
    pub(crate) fn oauth_config(&self) -> Option<&OAuthConfig> {
        self.oauth.as_ref()
    }
    pub(crate) fn sasl_settings(&self) -> Option<&SaslSettings> {
        self.sasl.as_ref()
    }
    /// The TLS setup, when the security protocol uses TLS.
    pub(crate) fn tls_connector(&self) -> Option<&TlsConnector> {
        self.tls.as_ref()
    }

    /// The effective values by Java property name, for logging at startup (as Java logs
    /// "ProducerConfig values"): every property that takes effect, after defaults and the
    /// rules, in the order of the property table; secrets show as `[hidden]`, and `sasl.*` /
    /// `ssl.*` only under a security protocol that reads them. `partitioner.class` is `custom`
    /// when a Rust partitioner is set.
    pub fn values(&self) -> Vec<(&'static str, String)> {
        self.values.clone()
    }
}

impl fmt::Debug for ProducerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (k, v) in &self.values {
            m.entry(k, v);
        }
        m.finish()
    }
}
