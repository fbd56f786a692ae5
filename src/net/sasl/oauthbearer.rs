//! SASL/OAUTHBEARER (RFC 7628, KIP-255) with SASL extensions (KIP-342): the token type, the
//! provider users implement, and the client side of the exchange.
//!
//! The exchange, as Kafka's `OAuthBearerSaslClient` does it: the client sends
//! `n,,\x01auth=Bearer <token>\x01<key>=<value>\x01...\x01\x01`; a broker that accepts the token
//! answers with an empty message. One that refuses it sends a JSON error (`{"status":
//! "invalid_token"}`), to which the client answers `\x01`, and the broker then ends the exchange
//! with `SASL_AUTHENTICATION_FAILED`.

use super::jwt;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// An OAuth 2 bearer token for SASL/OAUTHBEARER, as an [`OAuthBearerTokenProvider`] returns it:
/// the compact token string (usually a JWT), when it expires, the principal it names, and the
/// SASL extensions (KIP-342) sent with it. `Debug` never shows the token itself.
///
/// ```
/// use kafka_sync::OAuthBearerToken;
/// use std::time::{Duration, SystemTime};
///
/// let token = OAuthBearerToken::new(
///     "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.",
///     SystemTime::now() + Duration::from_secs(3600),
///     "alice",
/// )
/// .with_extension("logicalCluster", "lkc-abc123");
/// assert_eq!(token.principal_name(), "alice");
/// assert_eq!(token.extensions(), &[("logicalCluster".to_string(), "lkc-abc123".to_string())]);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct OAuthBearerToken {
    value: String,
    expires_at: SystemTime,
    principal_name: String,
    start_time: Option<SystemTime>,
    scope: Vec<String>,
    extensions: Vec<(String, String)>,
}

impl OAuthBearerToken {
    /// A token: its compact value, when it stops being valid (Java's `lifetimeMs`), and the
    /// principal it names.
    pub fn new(
        value: impl Into<String>,
        expires_at: SystemTime,
        principal_name: impl Into<String>,
    ) -> Self {
        OAuthBearerToken {
            value: value.into(),
            expires_at,
            principal_name: principal_name.into(),
            start_time: None,
            scope: Vec::new(),
            extensions: Vec::new(),
        }
    }

    /// When the token became valid (Java's `startTimeMs`; a JWT's `iat`). The refresh time is
    /// a fraction of the lifetime from here (from when the token was received, if unset).
    pub fn with_start_time(mut self, start: SystemTime) -> Self {
        self.start_time = Some(start);
        self
    }

    /// The token's scope (informational: the broker reads the scope from the token itself).
    pub fn with_scope(mut self, scope: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.scope = scope.into_iter().map(Into::into).collect();
        self
    }

    /// Adds a SASL extension (KIP-342) sent with the token, e.g. Confluent Cloud's
    /// `logicalCluster` and `identityPoolId`. Names are letters only and not `auth`; values
    /// are printable ASCII, space, tab, CR or LF (RFC 7628); a token breaking this is refused
    /// when it is used, with an [`Error::Authentication`](crate::Error::Authentication) saying
    /// why.
    pub fn with_extension(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.extensions.push((name.into(), value.into()));
        self
    }

    /// The compact token string.
    pub fn value(&self) -> &str {
        &self.value
    }
    /// When the token expires.
    pub fn expires_at(&self) -> SystemTime {
        self.expires_at
    }
    /// The principal the token names.
    pub fn principal_name(&self) -> &str {
        &self.principal_name
    }
    /// When the token became valid, if known.
    pub fn start_time(&self) -> Option<SystemTime> {
        self.start_time
    }
    /// The token's scope.
    pub fn scope(&self) -> &[String] {
        &self.scope
    }
    /// The SASL extensions sent with the token, in order.
    pub fn extensions(&self) -> &[(String, String)] {
        &self.extensions
    }

    /// Checks what the client-first message needs: a bearer token in RFC 6750's `b64token`
    /// characters, and well-formed extensions.
    pub(crate) fn check(&self) -> Result<(), String> {
        let body = self.value.trim_end_matches('=');
        if body.is_empty()
            || !body
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"-._~+/".contains(&c))
        {
            return Err(
                "the token is empty or has characters a bearer token cannot have \
                        (RFC 6750: letters, digits, -._~+/ and trailing =)"
                    .into(),
            );
        }
        check_extensions(&self.extensions)
    }
}

impl fmt::Debug for OAuthBearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthBearerToken")
            .field("value", &"[hidden]")
            .field("expires_at", &self.expires_at)
            .field("principal_name", &self.principal_name)
            .field("start_time", &self.start_time)
            .field("scope", &self.scope)
            .field("extensions", &self.extensions)
            .finish()
    }
}

/// Checks SASL extension names and values as Kafka's `OAuthBearerClientInitialResponse` does.
pub(crate) fn check_extensions(extensions: &[(String, String)]) -> Result<(), String> {
    for (k, v) in extensions {
        if k == "auth" {
            return Err("the SASL extension name auth is reserved".into());
        }
        if k.is_empty() || !k.bytes().all(|c| c.is_ascii_alphabetic()) {
            return Err(format!(
                "the SASL extension name {k:?} is invalid (letters only)"
            ));
        }
        if v.is_empty()
            || !v
                .bytes()
                .all(|c| (0x21..=0x7e).contains(&c) || b" \t\r\n".contains(&c))
        {
            return Err(format!(
                "the value of SASL extension {k} is invalid (printable ASCII, space, tab, CR, \
                 LF; not empty)"
            ));
        }
    }
    Ok(())
}

/// The error a provider returns.
pub type TokenProviderError = Box<dyn std::error::Error + Send + Sync>;

/// Gives the producer its OAUTHBEARER tokens: register one with
/// [`ProducerBuilder::oauth_token_provider`](crate::ProducerBuilder::oauth_token_provider) (it
/// replaces the login `sasl.jaas.config` would configure, as Java's
/// `sasl.login.callback.handler.class` does).
///
/// The producer calls it on its own login thread (as Java's refreshing login does), never on a
/// thread that calls `send`: once at start, then ahead of each token's expiry (at
/// `sasl.login.refresh.window.factor` of its lifetime, with jitter, within
/// `sasl.login.refresh.min.period.seconds` and `sasl.login.refresh.buffer.seconds`). Each new
/// connection authenticates with the latest token. An error is retried after
/// `sasl.login.retry.backoff.ms`, doubling up to `sasl.login.retry.backoff.max.ms`; while no
/// valid token is had, records waiting for a connection fail with
/// [`Error::Authentication`](crate::Error::Authentication) naming the provider's error.
///
/// Any `Fn() -> Result<OAuthBearerToken, TokenProviderError>` closure is a provider.
///
/// ```no_run
/// use kafka_sync::{OAuthBearerToken, Producer, ProducerConfig};
/// use std::time::{Duration, SystemTime};
///
/// let config = ProducerConfig::builder()
///     .bootstrap_servers("broker:9093")
///     .set("security.protocol", "SASL_SSL")
///     .set("sasl.mechanism", "OAUTHBEARER")
///     .build()?;
/// let producer: Producer<String, String> = Producer::builder(config)
///     .oauth_token_provider(|| {
///         let jwt = std::fs::read_to_string("/run/secrets/kafka-token")?;
///         let expires = SystemTime::now() + Duration::from_secs(600);
///         Ok(OAuthBearerToken::new(jwt.trim(), expires, "svc-billing"))
///     })
///     .build()?;
/// # Ok::<(), kafka_sync::Error>(())
/// ```
pub trait OAuthBearerTokenProvider: Send + Sync {
    /// A token, or why none could be had.
    fn token(&self) -> Result<OAuthBearerToken, TokenProviderError>;
}

impl<F> OAuthBearerTokenProvider for F
where
    F: Fn() -> Result<OAuthBearerToken, TokenProviderError> + Send + Sync,
{
    fn token(&self) -> Result<OAuthBearerToken, TokenProviderError> {
        self()
    }
}

/// The client-first message (RFC 7628 section 3.1, no authorization id).
pub(crate) fn client_first_message(token: &str, extensions: &[(String, String)]) -> Vec<u8> {
    let mut m = String::with_capacity(token.len() + 32);
    m.push_str("n,,\x01auth=Bearer ");
    m.push_str(token);
    for (k, v) in extensions {
        m.push('\x01');
        m.push_str(k);
        m.push('=');
        m.push_str(v);
    }
    m.push_str("\x01\x01");
    m.into_bytes()
}

/// Milliseconds since the epoch (negative before it).
pub(crate) fn epoch_ms(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

/// The time `ms` milliseconds from the epoch.
pub(crate) fn from_epoch_ms(ms: i64) -> SystemTime {
    if ms >= 0 {
        UNIX_EPOCH + Duration::from_millis(ms as u64)
    } else {
        UNIX_EPOCH - Duration::from_millis(ms.unsigned_abs())
    }
}

/// One OAUTHBEARER exchange.
pub(crate) struct OAuthBearerClient {
    token: Arc<OAuthBearerToken>,
    state: State,
    /// The broker's error challenge, once it sent one.
    server_error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Initial,
    FirstSent,
    ErrorAnswered,
    Done,
}

impl OAuthBearerClient {
    pub fn new(token: Arc<OAuthBearerToken>) -> Self {
        OAuthBearerClient {
            token,
            state: State::Initial,
            server_error: None,
        }
    }

    pub fn client_first(&mut self) -> Vec<u8> {
        self.state = State::FirstSent;
        client_first_message(self.token.value(), self.token.extensions())
    }

    /// `Ok(None)`: done; `Ok(Some(bytes))`: send these.
    pub fn step(&mut self, server: &[u8]) -> Result<Option<Vec<u8>>, String> {
        match self.state {
            State::FirstSent if server.is_empty() => {
                self.state = State::Done;
                log::debug!(
                    "authenticated with OAUTHBEARER as {}",
                    self.token.principal_name()
                );
                Ok(None)
            }
            State::FirstSent => {
                let text = String::from_utf8_lossy(server);
                log::debug!("the broker refused the OAUTHBEARER token: {text}");
                self.server_error = Some(text.chars().take(500).collect());
                self.state = State::ErrorAnswered;
                Ok(Some(vec![0x01]))
            }
            s => Err(format!(
                "unexpected OAUTHBEARER message from the broker (client state {s:?})"
            )),
        }
    }

    /// What the client knows that explains a refusal whose message is `broker_message`: the
    /// broker's error challenge (unless the message repeats it) and what the token says about
    /// itself (expired, unsigned).
    pub fn failure_context(&self, broker_message: &str, now: SystemTime) -> String {
        let mut parts = Vec::new();
        if let Some(e) = self
            .server_error
            .as_ref()
            .filter(|e| !broker_message.contains(e.as_str()))
        {
            parts.push(format!("the broker's OAUTHBEARER error: {e}"));
        }
        let t = &self.token;
        let mut about = format!("the token is for principal {}", t.principal_name());
        match t.expires_at().duration_since(now) {
            Ok(left) => about.push_str(&format!(", valid {} s more", left.as_secs())),
            Err(e) => about.push_str(&format!(
                ", EXPIRED {} s ago (at {} s since the epoch)",
                e.duration().as_secs(),
                epoch_ms(t.expires_at()) / 1000
            )),
        }
        match jwt::algorithm(t.value()) {
            Some(alg) if alg.eq_ignore_ascii_case("none") => about.push_str(
                ", UNSIGNED (alg none: only a broker with the unsecured validator accepts it)",
            ),
            Some(alg) => about.push_str(&format!(", signed with {alg}")),
            None => {}
        }
        parts.push(about);
        parts.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> OAuthBearerToken {
        OAuthBearerToken::new(
            "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.",
            UNIX_EPOCH + Duration::from_secs(2_000_000_000),
            "alice",
        )
    }

    #[test]
    fn client_first_message_bytes() {
        assert_eq!(
            client_first_message("abc.def.", &[]),
            b"n,,\x01auth=Bearer abc.def.\x01\x01"
        );
        let ext = [
            ("logicalCluster".to_string(), "lkc-1".to_string()),
            ("identityPoolId".to_string(), "pool-2 x".to_string()),
        ];
        assert_eq!(
            client_first_message("t0k", &ext),
            b"n,,\x01auth=Bearer t0k\x01logicalCluster=lkc-1\x01identityPoolId=pool-2 x\x01\x01"
        );
    }

    #[test]
    fn accepted_exchange() {
        let mut c = OAuthBearerClient::new(Arc::new(token().with_extension("a", "b")));
        let first = c.client_first();
        assert!(first.starts_with(b"n,,\x01auth=Bearer eyJ"));
        assert!(first.ends_with(b"\x01a=b\x01\x01"));
        assert_eq!(c.step(b""), Ok(None));
        assert!(c.step(b"").is_err());
    }

    #[test]
    fn refused_exchange_answers_the_error_with_ctrl_a() {
        let mut c = OAuthBearerClient::new(Arc::new(token()));
        c.client_first();
        assert_eq!(
            c.step(br#"{"status":"invalid_token"}"#),
            Ok(Some(vec![0x01]))
        );
        assert!(c.step(b"x").is_err());
        let now = UNIX_EPOCH + Duration::from_secs(2_000_000_100);
        let ctx = c.failure_context("SASL_AUTHENTICATION_FAILED", now);
        assert!(ctx.contains(r#"{"status":"invalid_token"}"#), "{ctx}");
        // not repeated when the broker's message already has it
        let again = c.failure_context(r#"X: {"status":"invalid_token"}"#, now);
        assert!(!again.contains("invalid_token"), "{again}");
        assert!(ctx.contains("EXPIRED 100 s ago"), "{ctx}");
        assert!(ctx.contains("UNSIGNED"), "{ctx}");
        assert!(ctx.contains("alice"), "{ctx}");
        // hostile challenge bytes are kept short and lossy, never a panic
        let mut c = OAuthBearerClient::new(Arc::new(token()));
        c.client_first();
        c.step(&[0xff; 10_000]).unwrap();
        assert!(c.failure_context("", now).len() < 2000);
    }

    #[test]
    fn token_and_extension_checks() {
        assert_eq!(token().check(), Ok(()));
        let bad_values = ["", "a b", "a\x01b", "==", "tok\"en"];
        for v in bad_values {
            let t = OAuthBearerToken::new(v, UNIX_EPOCH, "p");
            assert!(t.check().is_err(), "{v:?}");
        }
        assert!(OAuthBearerToken::new("abc==", UNIX_EPOCH, "p")
            .check()
            .is_ok());
        for (k, v) in [
            ("auth", "x"),
            ("", "x"),
            ("a1", "x"),
            ("a", ""),
            ("a", "x\x01"),
        ] {
            let e = token().with_extension(k, v).check().unwrap_err();
            assert!(e.contains("extension"), "{k:?}={v:?}: {e}");
        }
        assert!(token().with_extension("ok", "a b\t~").check().is_ok());
    }

    #[test]
    fn debug_hides_the_token() {
        let s = format!("{:?}", token());
        assert!(!s.contains("eyJ") && s.contains("[hidden]"), "{s}");
    }

    #[test]
    fn epoch_conversions() {
        for ms in [0, 1, 1_700_000_000_123, -5_000] {
            assert_eq!(epoch_ms(from_epoch_ms(ms)), ms);
        }
    }
}
