//! The builder: typed setters and Java property names, recorded as text and checked by
//! [`build`](ProducerConfigBuilder::build).

use super::parse::{is_secret, REDACTED};
use super::security::jaas_escape;
use super::types::{Acks, ClientDnsLookup, CompressionType, SaslMechanism, SecurityProtocol};
use super::ProducerConfig;
use crate::error::Error;
use crate::partitioner::Partitioner;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Builds a [`ProducerConfig`]: typed setters and [`set`](Self::set) with Java property names
/// both record a property; [`build`](Self::build) validates them all. A later setting of the
/// same property replaces an earlier one.
#[derive(Clone, Default)]
pub struct ProducerConfigBuilder {
    props: BTreeMap<String, String>,
    partitioner: Option<Arc<dyn Partitioner>>,
    allow_unknown: bool,
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
            .field("allow_unknown_properties", &self.allow_unknown)
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
    /// Whether unknown property names are allowed (default `false`).
    ///
    /// By default a name that is not a Java producer property is an error that names it and
    /// suggests the closest known one (`linger.msx`: "did you mean `linger.ms`?"), so typos are
    /// caught. With `true`, each unknown name is logged once at warn level, as the Java client
    /// logs "The configuration 'x' was supplied but isn't a known config.", and skipped: a
    /// `producer.properties` shared with other tools (`schema.registry.url`, say) then loads.
    /// Known names are checked as strictly either way.
    ///
    /// ```
    /// use kafka_sync::ProducerConfig;
    /// let text = "bootstrap.servers=localhost:9092\nschema.registry.url=http://localhost:8081\n";
    /// let props = ProducerConfig::parse_properties(text);
    /// assert!(ProducerConfig::from_properties(props.clone()).is_err());
    /// let cfg = props
    ///     .into_iter()
    ///     .fold(ProducerConfig::builder(), |b, (k, v)| b.set(k, v))
    ///     .allow_unknown_properties(true)
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(cfg.bootstrap_servers().len(), 1);
    /// ```
    pub fn allow_unknown_properties(mut self, allow: bool) -> Self {
        self.allow_unknown = allow;
        self
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
    /// `batch.max.size` (default 1,000,000, or `batch.size` when only that is set; not a Java
    /// property): how large a full batch may grow while the sender is busy. See
    /// [`ProducerConfig::batch_max_size`].
    pub fn batch_max_size(self, bytes: usize) -> Self {
        self.set("batch.max.size", bytes.to_string())
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
    /// `transactional.id`: makes the producer transactional (and idempotent); see
    /// [`Producer::init_transactions`](crate::Producer::init_transactions).
    pub fn transactional_id(self, id: impl Into<String>) -> Self {
        self.set("transactional.id", id.into())
    }
    /// `transaction.timeout.ms` (default 60000): how long the coordinator lets a transaction
    /// stay open before it aborts it.
    pub fn transaction_timeout(self, timeout: Duration) -> Self {
        self.set("transaction.timeout.ms", timeout.as_millis().to_string())
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
    /// `client.dns.lookup` (default [`ClientDnsLookup::UseAllDnsIps`]): how broker host names
    /// are resolved.
    pub fn client_dns_lookup(self, lookup: ClientDnsLookup) -> Self {
        self.set("client.dns.lookup", lookup.name())
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
    /// (`PlainLoginModule` or `ScramLoginModule`; only `username` and `password` are used; for
    /// OAUTHBEARER, `OAuthBearerLoginModule` with Java's options, see the README).
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
        self.sasl_mechanism(mechanism)
            .sasl_jaas_config(jaas)
            .sasl_protocol()
    }
    /// SASL/OAUTHBEARER: sets `sasl.mechanism`, and `security.protocol` as
    /// [`sasl_plain`](Self::sasl_plain) does. The tokens come from `sasl.jaas.config` (Java's
    /// unsecured login or the OIDC login) or from a provider given to
    /// [`ProducerBuilder::oauth_token_provider`](crate::ProducerBuilder::oauth_token_provider).
    ///
    /// ```
    /// use kafka_sync::{ProducerConfig, SaslMechanism};
    /// let cfg = ProducerConfig::builder()
    ///     .bootstrap_servers("localhost:9094")
    ///     .sasl_oauthbearer()
    ///     .sasl_jaas_config(
    ///         "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required \
    ///          unsecuredLoginStringClaim_sub=\"alice\";",
    ///     )
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(cfg.sasl_mechanism(), Some(SaslMechanism::OAuthBearer));
    /// ```
    pub fn sasl_oauthbearer(self) -> Self {
        self.sasl_mechanism(SaslMechanism::OAuthBearer)
            .sasl_protocol()
    }
    /// `security.protocol` `SASL_PLAINTEXT` (or `SASL_SSL` if it was `SSL`) unless it is
    /// already a SASL protocol.
    fn sasl_protocol(self) -> Self {
        let protocol = match self
            .props
            .get("security.protocol")
            .map(|v| v.trim().to_ascii_uppercase())
        {
            Some(p) if p == "SASL_PLAINTEXT" || p == "SASL_SSL" => None,
            Some(p) if p == "SSL" => Some(SecurityProtocol::SaslSsl),
            _ => Some(SecurityProtocol::SaslPlaintext),
        };
        match protocol {
            Some(p) => self.security_protocol(p),
            None => self,
        }
    }
    /// Trust the CA certificates in this PEM file (`ssl.truststore.location`, with
    /// `ssl.truststore.type=PEM`) instead of the system's. Used with `security.protocol`
    /// `SSL` or `SASL_SSL`.
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
    /// Trust the certificates of this PKCS12 store (`ssl.truststore.type=PKCS12`,
    /// `ssl.truststore.location`, `ssl.truststore.password`), e.g. one made with
    /// `keytool -importcert -storetype PKCS12`.
    pub fn ssl_truststore_pkcs12(
        self,
        path: impl AsRef<std::path::Path>,
        password: impl Into<String>,
    ) -> Self {
        self.set("ssl.truststore.type", "PKCS12")
            .set(
                "ssl.truststore.location",
                path.as_ref().to_string_lossy().into_owned(),
            )
            .set("ssl.truststore.password", password)
    }
    /// A client certificate from a PKCS12 store, as keytool makes them
    /// (`ssl.keystore.type=PKCS12`, `ssl.keystore.location`, `ssl.keystore.password`; the key
    /// is protected by the same password), for brokers with `ssl.client.auth=required`.
    ///
    /// ```no_run
    /// use kafka_sync::{ProducerConfig, SecurityProtocol};
    /// let cfg = ProducerConfig::builder()
    ///     .bootstrap_servers("broker.example.com:9093")
    ///     .security_protocol(SecurityProtocol::Ssl)
    ///     .ssl_truststore_pkcs12("/etc/kafka/truststore.p12", "changeit")
    ///     .ssl_keystore_pkcs12("/etc/kafka/client.p12", "changeit")
    ///     .build();
    /// ```
    pub fn ssl_keystore_pkcs12(
        self,
        path: impl AsRef<std::path::Path>,
        password: impl Into<String>,
    ) -> Self {
        self.set("ssl.keystore.type", "PKCS12")
            .set(
                "ssl.keystore.location",
                path.as_ref().to_string_lossy().into_owned(),
            )
            .set("ssl.keystore.password", password)
    }
    /// The password of an encrypted PKCS#8 PEM private key (`ssl.key.password`; a secret).
    pub fn ssl_key_password(self, password: impl Into<String>) -> Self {
        self.set("ssl.key.password", password)
    }
    /// A client certificate: a PEM file holding the certificate chain and its private key
    /// (`ssl.keystore.location`, with `ssl.keystore.type=PEM`; an encrypted key takes
    /// [`ssl_key_password`](Self::ssl_key_password)), for brokers with
    /// `ssl.client.auth=required`.
    pub fn ssl_keystore_location(self, path: impl AsRef<std::path::Path>) -> Self {
        self.set("ssl.keystore.type", "PEM").set(
            "ssl.keystore.location",
            path.as_ref().to_string_lossy().into_owned(),
        )
    }
    /// A client certificate given as PEM text: the certificate chain
    /// (`ssl.keystore.certificate.chain`) and its private key (`ssl.keystore.key`, a secret:
    /// never shown by `Debug`; an encrypted PKCS#8 key takes
    /// [`ssl_key_password`](Self::ssl_key_password)).
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
        ProducerConfig::from_parts(&self.props, self.partitioner, self.allow_unknown)
    }
}
