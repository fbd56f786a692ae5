//! The table of every Java producer property: name, type, default, valid values and what this
//! client does with it. Name checks, parsing, validation, [`ProducerConfig::values`] and the
//! README's property table all read this one table, so a property is described once.
//!
//! [`ProducerConfig::values`]: super::ProducerConfig::values

/// The value type of a property, as Java's `ConfigDef` types it (`Ms` is a Java `long` or
/// `int` counted in milliseconds; its range says which).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Type {
    Bool,
    Int,
    Long,
    Double,
    Ms,
    String,
    List,
    Class,
    /// A secret: never logged, hidden by `Debug` and `values()`.
    Password,
    /// A string from a fixed set. `ignore_case` is Java's `CaseInsensitiveValidString`; the
    /// others (`ValidString.in`) compare exactly.
    Enum {
        values: &'static [&'static str],
        ignore_case: bool,
    },
}

/// A property's default. `None` is Java's `null` (or no default at all).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum DefaultValue {
    None,
    Bool(bool),
    Num(i64),
    Double(f64),
    Text(&'static str),
}

/// What values are valid beyond the type.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Range {
    /// Anything of the type (integers: the type's own bounds).
    Any,
    /// An integer from `min` to `max`, both included.
    Between(i64, i64),
    /// `sentinel` (the codec's default) or an integer from `min` to `max` (gzip's levels).
    SentinelOr(i64, i64, i64),
    /// A floating-point number from `min` to `max`.
    Fraction(f64, f64),
    /// Checked where the value is used (bootstrap addresses, security settings), because the
    /// check depends on other properties; the text says what is valid.
    Described(&'static str),
}

/// What this client does with a property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    /// It takes effect.
    Effective,
    /// Accepted (and type-checked) but without effect; setting it to anything but its default
    /// is logged once, with the reason, when the configuration is built.
    Ignored { reason: &'static str },
    /// Setting it to anything but its default is a configuration error giving the reason.
    Unsupported { reason: &'static str },
}

/// One Java producer property.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Property {
    pub name: &'static str,
    pub ty: Type,
    pub default: DefaultValue,
    pub range: Range,
    pub status: Status,
}

impl Property {
    /// Whether the value is a secret (never shown).
    pub fn is_secret(&self) -> bool {
        self.ty == Type::Password
    }
}

const I32: i64 = i32::MAX as i64;
const MAX: i64 = i64::MAX;
const E: Status = Status::Effective;

const fn p(
    name: &'static str,
    ty: Type,
    default: DefaultValue,
    range: Range,
    status: Status,
) -> Property {
    Property {
        name,
        ty,
        default,
        range,
        status,
    }
}
const fn ignored(reason: &'static str) -> Status {
    Status::Ignored { reason }
}
const fn unsupported(reason: &'static str) -> Status {
    Status::Unsupported { reason }
}
const fn one_of(values: &'static [&'static str]) -> Type {
    Type::Enum {
        values,
        ignore_case: false,
    }
}
const fn one_of_any_case(values: &'static [&'static str]) -> Type {
    Type::Enum {
        values,
        ignore_case: true,
    }
}

use DefaultValue::{Bool as B, None as NONE, Num as N, Text as T};
use Range::{Any, Between};
use Type::{Bool as BOOL, Class, Double as DOUBLE, Int, List, Long, Ms, Password, String as STR};

// Reasons shared by several properties.
const METRICS: &str =
    "no JMX or metrics push in Rust: read Producer::metrics() (Java names), or its Prometheus text";
const KERBEROS: &str = "SASL/GSSAPI (Kerberos) is not supported";
const OAUTH: &str = "a setting of token validation, which the broker does (the client reads a token's exp and subject without checking it)";
const ASSERTION: &str = "client assertions (private_key_jwt, RFC 7523) and the jwt-bearer grant (JwtBearerJwtRetriever) are not implemented: the OIDC login authenticates with a client id and secret";
const LOGIN: &str = "Java login classes do not apply: credentials come from sasl.jaas.config";
const JAVA_TLS: &str =
    "Java TLS settings do not apply: rustls offers TLS 1.3 and 1.2 with its own safe cipher suites";
/// Every producer property of the Java client 4.x, in the order of the README's table.
#[rustfmt::skip]
pub(crate) static PROPERTIES: &[Property] = &[
    // Where to connect and who we are.
    p("bootstrap.servers", List, NONE, Range::Described("host:port list (required)"), E),
    p("client.id", STR, T(""), Any, E),
    p("client.dns.lookup", one_of(&["use_all_dns_ips", "resolve_canonical_bootstrap_servers_only"]), T("use_all_dns_ips"), Any, E),
    // Delivery.
    p("acks", one_of(&["all", "-1", "0", "1"]), T("all"), Any, E),
    p("enable.idempotence", BOOL, B(true), Any, E),
    p("retries", Int, N(I32), Between(0, I32), E),
    p("delivery.timeout.ms", Ms, N(120_000), Between(0, I32), E),
    p("request.timeout.ms", Ms, N(30_000), Between(0, I32), E),
    p("max.in.flight.requests.per.connection", Int, N(5), Between(1, I32), E),
    p("retry.backoff.ms", Ms, N(100), Between(0, MAX), E),
    p("retry.backoff.max.ms", Ms, N(1000), Between(0, MAX), E),
    // Batching and memory.
    p("linger.ms", Ms, N(5), Between(0, MAX), E),
    p("batch.size", Int, N(16_384), Between(0, I32), E),
    // Not a Java property: the bound KIP-782 proposed for batches that grow under backlog.
    // Its default follows batch.size when batch.size is set and this is not (ProducerConfig).
    p("batch.max.size", Int, N(1_000_000), Between(0, I32), E),
    p("buffer.memory", Long, N(33_554_432), Between(0, MAX), E),
    p("max.block.ms", Ms, N(60_000), Between(0, MAX), E),
    p("max.request.size", Int, N(1_048_576), Between(0, I32), E),
    p("compression.type", one_of(&["none", "gzip", "snappy", "lz4", "zstd"]), T("none"), Any, E),
    p("compression.gzip.level", Int, N(-1), Range::SentinelOr(-1, 1, 9), E),
    p("compression.lz4.level", Int, N(9), Between(1, 17), ignored("lz4_flex has one (fast) compressor; the level is kept but does not change the output")),
    p("compression.zstd.level", Int, N(3), Between(-131_072, 22), ignored("ruzstd has one level (about zstd level 1); the level is kept but does not change the output")),
    // Partitioning.
    p("partitioner.ignore.keys", BOOL, B(false), Any, E),
    p("partitioner.adaptive.partitioning.enable", BOOL, B(true), Any, E),
    p("partitioner.availability.timeout.ms", Ms, N(0), Between(0, MAX), E),
    p("partitioner.class", Class, NONE, Any, unsupported("Java partitioner classes cannot be loaded; set a Rust Partitioner with ProducerConfigBuilder::partitioner")),
    p("partitioner.rack.aware", BOOL, B(false), Any, ignored("rack-aware partitioning is not implemented")),
    p("client.rack", STR, T(""), Any, ignored("only rack-aware partitioning uses it, which is not implemented")),
    // Metadata.
    p("metadata.max.age.ms", Ms, N(300_000), Between(0, MAX), E),
    p("metadata.max.idle.ms", Ms, N(300_000), Between(5000, MAX), E),
    p("metadata.recovery.strategy", one_of_any_case(&["none", "rebootstrap"]), T("rebootstrap"), Any, ignored("when no known broker can be connected the producer always goes back to the bootstrap servers; none is not honoured and REBOOTSTRAP_REQUIRED is not acted on")),
    p("metadata.recovery.rebootstrap.trigger.ms", Ms, N(300_000), Between(0, MAX), ignored("rebootstrapping is not timed: the bootstrap servers are tried whenever no known broker can be connected")),
    p("metadata.cluster.check.enable", BOOL, B(false), Any, ignored("the cluster id is not checked")),
    p("bootstrap.resolve.timeout.ms", Ms, N(120_000), Between(0, MAX), ignored("bootstrap addresses are resolved at each connection attempt, with no overall timeout")),
    // Connections.
    p("connections.max.idle.ms", Ms, N(540_000), Any, E),
    p("send.buffer.bytes", Int, N(131_072), Between(-1, I32), E),
    p("receive.buffer.bytes", Int, N(32_768), Between(-1, I32), E),
    p("reconnect.backoff.ms", Ms, N(50), Between(0, MAX), E),
    p("reconnect.backoff.max.ms", Ms, N(1000), Between(0, MAX), E),
    p("socket.connection.setup.timeout.ms", Ms, N(10_000), Between(0, MAX), E),
    p("socket.connection.setup.timeout.max.ms", Ms, N(30_000), Between(0, MAX), E),
    // Java classes and plug-ins.
    p("key.serializer", Class, NONE, Any, ignored("serializers are Rust types given to the Producer")),
    p("value.serializer", Class, NONE, Any, ignored("serializers are Rust types given to the Producer")),
    p("interceptor.classes", List, T(""), Any, unsupported("Java names interceptor classes; as a property it is not supported: register Rust interceptors with Producer::builder(config).interceptor(..)")),
    p("config.providers", List, T(""), Any, unsupported("config providers (${provider:path:key} substitution) are not supported")),
    p("buffer.memory.allocation.strategy", STR, NONE, Any, ignored("the buffer pool has one allocation strategy")),
    // Metrics.
    p("enable.metrics.push", BOOL, B(true), Any, ignored(METRICS)),
    p("metric.reporters", List, T("org.apache.kafka.common.metrics.JmxReporter"), Any, ignored(METRICS)),
    p("metrics.num.samples", Int, N(2), Between(1, I32), E),
    p("metrics.recording.level", one_of(&["INFO", "DEBUG", "TRACE"]), T("INFO"), Any, ignored("every metric is recorded: the producer has no DEBUG-level metrics (Java's per-partition ones are not kept)")),
    p("metrics.sample.window.ms", Ms, N(30_000), Between(0, MAX), E),
    // Transactions.
    p("transactional.id", STR, NONE, Any, E),
    p("transaction.timeout.ms", Ms, N(60_000), Between(i32::MIN as i64, I32), E),
    p("transaction.two.phase.commit.enable", BOOL, B(false), Any, ignored("two-phase commit with an external coordinator (KIP-939) is not implemented")),
    // Security.
    p("security.protocol", one_of_any_case(&["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]), T("PLAINTEXT"), Any, E),
    p("security.providers", STR, NONE, Any, ignored("Java security providers do not apply")),
    p("sasl.mechanism", STR, T("PLAIN"), Range::Described("PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER (checked under SASL_*)"), E),
    p("sasl.jaas.config", Password, NONE, Range::Described("PlainLoginModule or ScramLoginModule with username and password; OAuthBearerLoginModule with unsecuredLogin* options, or clientId, clientSecret, scope, extension_<name> for the OIDC login (checked under SASL_*)"), E),
    p("ssl.truststore.type", STR, T("JKS"), Range::Described("JKS (Java's default: read by content, PKCS12 or PEM), PKCS12 or PEM; a JKS file is refused with the keytool command converting it"), E),
    p("ssl.truststore.location", STR, NONE, Range::Described("a PKCS12 store or a PEM file of CA certificates; unset: the system's trusted CAs"), E),
    p("ssl.truststore.certificates", Password, NONE, Range::Described("PEM CA certificates"), E),
    p("ssl.endpoint.identification.algorithm", STR, T("https"), Range::Described("https or empty (checked under SSL, SASL_SSL)"), E),
    p("ssl.keystore.type", STR, T("JKS"), Range::Described("JKS (Java's default: read by content, PKCS12 or PEM), PKCS12 or PEM; a JKS file is refused with the keytool command converting it"), E),
    p("ssl.keystore.location", STR, NONE, Range::Described("a PKCS12 store (one key with its certificate chain), or a PEM file with the chain and a key (encrypted PKCS#8 with ssl.key.password)"), E),
    p("ssl.keystore.certificate.chain", Password, NONE, Range::Described("PEM certificate chain"), E),
    p("ssl.keystore.key", Password, NONE, Range::Described("PEM private key: PKCS#8 (encrypted with ssl.key.password), PKCS#1 or SEC1"), E),
    p("ssl.key.password", Password, NONE, Range::Described("decrypts an encrypted PKCS#8 PEM key; for PKCS12, unset or equal to ssl.keystore.password"), E),
    p("ssl.keystore.password", Password, NONE, Range::Described("opens a PKCS12 key store (not set with PEM, as in Java)"), E),
    p("ssl.truststore.password", Password, NONE, Range::Described("opens a PKCS12 trust store (not set with PEM, as in Java)"), E),
    p("ssl.protocol", STR, T("TLSv1.3"), Any, ignored(JAVA_TLS)),
    p("ssl.enabled.protocols", List, T("TLSv1.2,TLSv1.3"), Any, ignored(JAVA_TLS)),
    p("ssl.cipher.suites", List, NONE, Any, ignored(JAVA_TLS)),
    p("ssl.provider", STR, NONE, Any, ignored(JAVA_TLS)),
    p("ssl.keymanager.algorithm", STR, T("SunX509"), Any, ignored(JAVA_TLS)),
    p("ssl.trustmanager.algorithm", STR, T("PKIX"), Any, ignored(JAVA_TLS)),
    p("ssl.secure.random.implementation", STR, NONE, Any, ignored(JAVA_TLS)),
    p("ssl.engine.factory.class", Class, NONE, Any, ignored(JAVA_TLS)),
    p("sasl.client.callback.handler.class", Class, NONE, Any, ignored(LOGIN)),
    p("sasl.login.callback.handler.class", Class, NONE, Range::Described("unset, or org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler: the OIDC login (OAUTHBEARER, feature oauth-oidc)"), E),
    p("sasl.login.class", Class, NONE, Any, ignored(LOGIN)),
    p("sasl.login.connect.timeout.ms", Ms, NONE, Range::Described("ms to connect to the OIDC token endpoint; unset: 10000 (Java: no limit)"), E),
    p("sasl.login.read.timeout.ms", Ms, NONE, Range::Described("ms to wait for the OIDC token endpoint's answer; unset: 10000 (Java: no limit)"), E),
    p("sasl.login.refresh.buffer.seconds", Int, N(300), Between(0, 3600), E),
    p("sasl.login.refresh.min.period.seconds", Int, N(60), Between(0, 900), E),
    p("sasl.login.refresh.window.factor", DOUBLE, DefaultValue::Double(0.8), Range::Fraction(0.5, 1.0), E),
    p("sasl.login.refresh.window.jitter", DOUBLE, DefaultValue::Double(0.05), Range::Fraction(0.0, 0.25), E),
    p("sasl.login.retry.backoff.max.ms", Ms, N(10_000), Any, E),
    p("sasl.login.retry.backoff.ms", Ms, N(100), Any, E),
    p("sasl.kerberos.service.name", STR, NONE, Any, ignored(KERBEROS)),
    p("sasl.kerberos.kinit.cmd", STR, T("/usr/bin/kinit"), Any, ignored(KERBEROS)),
    p("sasl.kerberos.min.time.before.relogin", Ms, N(60_000), Any, ignored(KERBEROS)),
    p("sasl.kerberos.ticket.renew.jitter", DOUBLE, DefaultValue::Double(0.05), Any, ignored(KERBEROS)),
    p("sasl.kerberos.ticket.renew.window.factor", DOUBLE, DefaultValue::Double(0.8), Any, ignored(KERBEROS)),
    p("sasl.oauthbearer.allow.unverified.audience", STR, NONE, Any, ignored(OAUTH)),
    p("sasl.oauthbearer.allow.unverified.issuer", STR, NONE, Any, ignored(OAUTH)),
    p("sasl.oauthbearer.assertion.algorithm", STR, T("RS256"), Any, unsupported(ASSERTION)),
    p("sasl.oauthbearer.assertion.claim.aud", STR, NONE, Any, unsupported(ASSERTION)),
    p("sasl.oauthbearer.assertion.claim.exp.seconds", Int, N(300), Any, unsupported(ASSERTION)),
    p("sasl.oauthbearer.assertion.claim.iss", STR, NONE, Any, unsupported(ASSERTION)),
    p("sasl.oauthbearer.assertion.claim.jti.include", BOOL, B(false), Any, unsupported(ASSERTION)),
    p("sasl.oauthbearer.assertion.claim.nbf.seconds", Int, N(60), Any, unsupported(ASSERTION)),
    p("sasl.oauthbearer.assertion.claim.sub", STR, NONE, Any, unsupported(ASSERTION)),
    p("sasl.oauthbearer.assertion.file", STR, NONE, Any, unsupported(ASSERTION)),
    p("sasl.oauthbearer.assertion.private.key.file", STR, NONE, Any, unsupported(ASSERTION)),
    p("sasl.oauthbearer.assertion.private.key.passphrase", Password, NONE, Any, unsupported(ASSERTION)),
    p("sasl.oauthbearer.assertion.template.file", STR, NONE, Any, unsupported(ASSERTION)),
    p("sasl.oauthbearer.client.credentials.client.id", STR, NONE, Any, E),
    p("sasl.oauthbearer.client.credentials.client.secret", Password, NONE, Any, E),
    p("sasl.oauthbearer.clock.skew.seconds", Int, N(30), Any, ignored(OAUTH)),
    p("sasl.oauthbearer.expected.audience", List, NONE, Any, ignored(OAUTH)),
    p("sasl.oauthbearer.expected.issuer", STR, NONE, Any, ignored(OAUTH)),
    p("sasl.oauthbearer.header.urlencode", BOOL, B(false), Any, E),
    p("sasl.oauthbearer.jwks.endpoint.refresh.ms", Ms, N(3_600_000), Any, ignored(OAUTH)),
    p("sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms", Ms, N(10_000), Any, ignored(OAUTH)),
    p("sasl.oauthbearer.jwks.endpoint.retry.backoff.ms", Ms, N(100), Any, ignored(OAUTH)),
    p("sasl.oauthbearer.jwks.endpoint.url", STR, NONE, Any, ignored(OAUTH)),
    p("sasl.oauthbearer.jwt.retriever.class", Class, NONE, Range::Described("unset, or Java's DefaultJwtRetriever, ClientCredentialsJwtRetriever or FileJwtRetriever (OIDC login)"), E),
    p("sasl.oauthbearer.jwt.validator.class", Class, NONE, Any, ignored("the OIDC login reads exp and the subject claim as Java's ClientJwtValidator does; no other validator can be loaded")),
    p("sasl.oauthbearer.scope", STR, NONE, Any, E),
    p("sasl.oauthbearer.scope.claim.name", STR, T("scope"), Any, E),
    p("sasl.oauthbearer.sub.claim.name", STR, T("sub"), Any, E),
    p("sasl.oauthbearer.token.endpoint.url", STR, NONE, Any, E),
];

/// The property with this name (exact, as Java compares).
pub(crate) fn lookup(name: &str) -> Option<&'static Property> {
    PROPERTIES.iter().find(|p| p.name == name)
}

/// The position of a property in [`PROPERTIES`].
pub(crate) fn index_of(name: &str) -> Option<usize> {
    PROPERTIES.iter().position(|p| p.name == name)
}

/// The known name closest to `name`, when it is close enough to be a likely typo: at most 2
/// edits, or one edit per 6 characters for long names.
pub(crate) fn closest(name: &str) -> Option<&'static str> {
    let limit = (name.chars().count() / 6).max(2);
    PROPERTIES
        .iter()
        .map(|p| (edit_distance(name, p.name), p.name))
        .filter(|&(d, _)| d <= limit)
        .min_by_key(|&(d, _)| d)
        .map(|(_, n)| n)
}

/// Levenshtein distance, with a swap of two neighbours counting as one edit (optimal string
/// alignment), since swapped letters are a common typo.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev2 = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                cur[j] = cur[j].min(prev2[j - 2] + 1);
            }
        }
        prev2 = std::mem::replace(&mut prev, cur);
    }
    prev[b.len()]
}
