//! Setting up one connection: ApiVersions, then (with a `SASL_*` security protocol) the SASL
//! exchange, then ready, or failed.
//!
//! A pure state machine: it says which request to send next and reads each answer; the node
//! pool ([`super::nodes`]) sends and receives. Every step is a request in flight on the
//! non-blocking connection like any other, bounded by `request.timeout.ms`, so the sender
//! thread never blocks on a handshake.
//!
//! SASL is SaslHandshake v1 (the mechanism) then SaslAuthenticate rounds carrying the
//! mechanism's tokens ([`super::sasl`]); v1 at least, because v0 sends the tokens raw, outside
//! Kafka framing. A failure is either an authentication failure, which the sender reports to
//! the records waiting (retrying cannot fix credentials), or a broken exchange (malformed or
//! unexpected answer), which is handled like any lost connection.
//!
//! Re-authentication (KIP-368, see [`super::reauth`]) runs the same machine again from a ready
//! connection: SaslHandshake and SaslAuthenticate, with a client built as for the first login
//! (ApiVersions is not asked again: the versions are the connection's).

use super::sasl::SaslSettings;
use super::sasl::{SaslClient, StartError, Step};
use crate::protocol::api_versions::{self, ApiVersionsRequest, ApiVersionsResponse};
use crate::protocol::produce;
use crate::protocol::sasl_authenticate::{self, SaslAuthenticateRequest, SaslAuthenticateResponse};
use crate::protocol::sasl_handshake::{self, SaslHandshakeRequest, SaslHandshakeResponse};
use crate::protocol::versions::ApiVersionTable;
use crate::protocol::{ErrorCode, Request};
use std::time::Duration;

/// A request the handshake wants sent: API key, version and encoded body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Outgoing {
    pub api_key: i16,
    pub version: i16,
    pub body: Vec<u8>,
}

/// Why a handshake failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// Authentication failed (credentials, mechanism, a listener that is not SASL, a bad SCRAM
    /// server signature): reported to the records waiting.
    Auth(String),
    /// The exchange broke (malformed or unexpected answer, ApiVersions error): the connection
    /// is closed and set up again later.
    Broken(String),
}

/// What the pool does after an answer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Next {
    /// Send this request and wait for its answer.
    Send(Outgoing),
    /// The connection is ready for requests.
    Ready,
    /// The connection must be closed.
    Failed(Failure),
}

enum State {
    /// Waiting for the ApiVersions answer.
    ApiVersions,
    /// Waiting for the SaslHandshake answer.
    SaslHandshake(SaslClient),
    /// Waiting for a SaslAuthenticate answer.
    SaslAuthenticate(SaslClient),
    Ready,
    Failed,
}

/// One connection's setup. See the module docs.
pub(crate) struct Handshake {
    state: State,
    sasl: Option<SaslSettings>,
    versions: Option<ApiVersionTable>,
    /// The session lifetime the broker gave in the last SaslAuthenticate answer.
    session_lifetime: Option<Duration>,
    /// The exchange under way (or the last one) is a re-authentication.
    reauthenticating: bool,
}

impl Handshake {
    /// A new connection's setup and its first request (ApiVersions at our highest version).
    pub fn start(sasl: Option<SaslSettings>) -> (Self, Outgoing) {
        let hs = Handshake {
            state: State::ApiVersions,
            sasl,
            versions: None,
            session_lifetime: None,
            reauthenticating: false,
        };
        (hs, api_versions_request(api_versions::MAX_VERSION))
    }

    /// The versions both sides speak, once ApiVersions answered.
    pub fn versions(&self) -> Option<&ApiVersionTable> {
        self.versions.as_ref()
    }

    /// Whether the connection is ready for requests.
    pub fn is_ready(&self) -> bool {
        matches!(self.state, State::Ready)
    }

    /// The session lifetime the broker gave when the last (re-)authentication completed; `None`
    /// without SASL or when the broker sets none (`connections.max.reauth.ms` unset, or a
    /// broker before Kafka 2.2).
    pub fn session_lifetime(&self) -> Option<Duration> {
        self.session_lifetime
    }

    /// Whether the exchange under way (or the last one) is a re-authentication.
    pub fn is_reauthentication(&self) -> bool {
        self.reauthenticating
    }

    /// Starts re-authenticating a ready connection: the first request (SaslHandshake), or why
    /// it cannot start. `None` when there is nothing to renew (not ready, or no SASL).
    pub fn reauthenticate(&mut self) -> Option<Next> {
        if !self.is_ready() || self.sasl.is_none() {
            return None;
        }
        self.reauthenticating = true;
        self.session_lifetime = None;
        self.state = State::Failed;
        Some(self.begin_sasl())
    }

    /// Reads the answer to the last request sent.
    pub fn on_response(&mut self, api_key: i16, version: i16, body: &[u8]) -> Next {
        let state = std::mem::replace(&mut self.state, State::Failed);
        let next = match state {
            State::ApiVersions if api_key == api_versions::API_KEY => {
                self.on_api_versions(version, body)
            }
            State::SaslHandshake(client) if api_key == sasl_handshake::API_KEY => {
                self.on_sasl_handshake(client, version, body)
            }
            State::SaslAuthenticate(client) if api_key == sasl_authenticate::API_KEY => {
                self.on_sasl_authenticate(client, version, body)
            }
            _ => Next::Failed(Failure::Broken(format!(
                "unexpected answer to API {api_key} during connection setup"
            ))),
        };
        if matches!(next, Next::Ready) {
            self.state = State::Ready;
        }
        next
    }

    fn on_api_versions(&mut self, version: i16, body: &[u8]) -> Next {
        let resp = match ApiVersionsResponse::decode(body, version) {
            Ok(r) => r,
            Err(e) => return broken(format!("malformed ApiVersions response: {e}")),
        };
        if resp.error_code == ErrorCode::UNSUPPORTED_VERSION && version > 0 {
            // The broker is older than our ApiVersions version: ask again at what it supports.
            self.state = State::ApiVersions;
            return Next::Send(api_versions_request(resp.retry_version().min(version - 1)));
        }
        if !resp.error_code.is_ok() {
            return broken(format!("ApiVersions failed: {}", resp.error_code));
        }
        let table = ApiVersionTable::from_response(&resp);
        if table
            .negotiate(produce::API_KEY, produce::MIN_VERSION, produce::MAX_VERSION)
            .is_none()
        {
            log::error!(
                "a broker does not support Produce v3 or later; Kafka 0.11+ (2.1+ tested) is \
                 required"
            );
        }
        self.versions = Some(table);
        if self.sasl.is_none() {
            return Next::Ready;
        }
        self.begin_sasl()
    }

    /// The SASL exchange's first request (SaslHandshake v1 naming the mechanism), with a new
    /// client: the same for the first login and for every re-authentication.
    fn begin_sasl(&mut self) -> Next {
        let Some(settings) = self.sasl.as_ref() else {
            return Next::Ready;
        };
        let client = match SaslClient::new(settings) {
            Ok(c) => c,
            Err(StartError::Auth(e)) => return Next::Failed(Failure::Auth(e)),
            Err(StartError::NotReady(e)) => return broken(e),
        };
        let req = SaslHandshakeRequest {
            mechanism: client.mechanism().name(),
        };
        match self.encode(&req, 1) {
            Some(out) => {
                self.state = State::SaslHandshake(client);
                Next::Send(out)
            }
            None => Next::Failed(Failure::Auth(
                "the broker does not support SaslHandshake v1 (SASL needs Kafka 1.0 or later)"
                    .into(),
            )),
        }
    }

    fn on_sasl_handshake(&mut self, mut client: SaslClient, version: i16, body: &[u8]) -> Next {
        let resp = match SaslHandshakeResponse::decode(body, version) {
            Ok(r) => r,
            Err(e) => return broken(format!("malformed SaslHandshake response: {e}")),
        };
        let mechanism = client.mechanism().name();
        if !resp.error_code.is_ok() {
            let reason = if resp.error_code == ErrorCode::UNSUPPORTED_SASL_MECHANISM {
                format!(
                    "the broker does not enable SASL mechanism {mechanism} on this listener \
                     (it enables: {}); check sasl.mechanism",
                    resp.mechanisms.join(", ")
                )
            } else if resp.error_code == ErrorCode::ILLEGAL_SASL_STATE {
                format!(
                    "{}: the listener does not expect SASL; is security.protocol right for \
                     this port?",
                    resp.error_code.name()
                )
            } else {
                format!("SaslHandshake failed: {}", resp.error_code)
            };
            return Next::Failed(Failure::Auth(reason));
        }
        let token = client.start();
        self.authenticate(client, &token)
    }

    fn authenticate(&mut self, client: SaslClient, token: &[u8]) -> Next {
        let req = SaslAuthenticateRequest { auth_bytes: token };
        match self.encode(&req, SaslAuthenticateRequest::MIN_VERSION) {
            Some(out) => {
                self.state = State::SaslAuthenticate(client);
                Next::Send(out)
            }
            None => Next::Failed(Failure::Auth(
                "the broker does not support SaslAuthenticate (SASL needs Kafka 1.0 or later)"
                    .into(),
            )),
        }
    }

    fn on_sasl_authenticate(&mut self, mut client: SaslClient, version: i16, body: &[u8]) -> Next {
        let resp = match SaslAuthenticateResponse::decode(body, version) {
            Ok(r) => r,
            Err(e) => return broken(format!("malformed SaslAuthenticate response: {e}")),
        };
        if !resp.error_code.is_ok() {
            let mut reason = match resp.error_message.as_deref() {
                Some(m) if !m.is_empty() => format!("{}: {m}", resp.error_code.name()),
                _ => resp.error_code.to_string(),
            };
            if let Some(context) = client.failure_context(&reason) {
                reason = format!("{reason} ({context})");
            }
            return Next::Failed(Failure::Auth(reason));
        }
        match client.step(&resp.auth_bytes) {
            Ok(Step::Send(token)) => self.authenticate(client, &token),
            Ok(Step::Done) => {
                let lifetime = u64::try_from(resp.session_lifetime_ms).ok();
                self.session_lifetime = lifetime.filter(|&ms| ms > 0).map(Duration::from_millis);
                log::trace!(
                    "{} with {}; session lifetime: {}",
                    if self.reauthenticating {
                        "re-authenticated"
                    } else {
                        "authenticated"
                    },
                    client.mechanism().name(),
                    self.session_lifetime
                        .map_or("none".to_string(), |l| format!("{} ms", l.as_millis()))
                );
                Next::Ready
            }
            Err(reason) => Next::Failed(Failure::Auth(reason)),
        }
    }

    /// `req` at the highest version both sides speak (never below `min_version`), or `None`
    /// when the broker speaks none of them.
    fn encode<R: Request>(&self, req: &R, min_version: i16) -> Option<Outgoing> {
        let version = self
            .versions
            .as_ref()?
            .negotiate(R::API_KEY, min_version, R::MAX_VERSION)?;
        let mut body = Vec::new();
        req.encode_body(version, &mut body);
        Some(Outgoing {
            api_key: R::API_KEY,
            version,
            body,
        })
    }
}

fn api_versions_request(version: i16) -> Outgoing {
    let mut body = Vec::new();
    ApiVersionsRequest {
        client_software_name: api_versions::CLIENT_SOFTWARE_NAME,
        client_software_version: api_versions::CLIENT_SOFTWARE_VERSION,
    }
    .encode(version, &mut body);
    Outgoing {
        api_key: api_versions::API_KEY,
        version,
        body,
    }
}

fn broken(reason: String) -> Next {
    Next::Failed(Failure::Broken(reason))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::sasl::SaslMechanism;
    use crate::protocol::api_versions::ApiVersionRange;

    fn versions_body(version: i16, code: ErrorCode, keys: &[(i16, i16, i16)]) -> Vec<u8> {
        let resp = ApiVersionsResponse {
            error_code: code,
            api_keys: keys
                .iter()
                .map(|&(api_key, min_version, max_version)| ApiVersionRange {
                    api_key,
                    min_version,
                    max_version,
                })
                .collect(),
            ..Default::default()
        };
        let mut body = Vec::new();
        resp.encode(version, &mut body);
        body
    }

    const BROKER: &[(i16, i16, i16)] =
        &[(0, 0, 11), (3, 0, 12), (17, 0, 1), (18, 0, 3), (36, 0, 2)];

    fn plain() -> SaslSettings {
        SaslSettings {
            mechanism: SaslMechanism::Plain,
            username: "alice".into(),
            password: "alice-secret".into(),
            oauth: None,
        }
    }

    #[test]
    fn without_sasl_ready_after_api_versions() {
        let (mut hs, first) = Handshake::start(None);
        assert_eq!(
            (first.api_key, first.version),
            (18, api_versions::MAX_VERSION)
        );
        let next = hs.on_response(18, 3, &versions_body(3, ErrorCode::NONE, BROKER));
        assert_eq!(next, Next::Ready);
        assert!(hs.is_ready());
        let v = hs.versions().unwrap();
        assert_eq!(v.negotiate(0, 3, 13), Some(11));
    }

    #[test]
    fn an_older_broker_is_asked_again_at_its_version() {
        let (mut hs, _) = Handshake::start(None);
        // A broker that only knows ApiVersions v0..2 answers in v0 with UNSUPPORTED_VERSION.
        let body = versions_body(0, ErrorCode::UNSUPPORTED_VERSION, &[(18, 0, 2)]);
        let Next::Send(again) = hs.on_response(18, 3, &body) else {
            panic!("expected a second ApiVersions");
        };
        assert_eq!((again.api_key, again.version), (18, 2));
        assert!(!hs.is_ready());
        let next = hs.on_response(18, 2, &versions_body(2, ErrorCode::NONE, BROKER));
        assert_eq!(next, Next::Ready);
    }

    #[test]
    fn malformed_api_versions_breaks_the_connection() {
        let (mut hs, _) = Handshake::start(None);
        let next = hs.on_response(18, 3, &[0xff]);
        assert!(matches!(next, Next::Failed(Failure::Broken(_))), "{next:?}");
        assert!(!hs.is_ready());
    }

    #[test]
    fn sasl_plain_exchange() {
        let (mut hs, _) = Handshake::start(Some(plain()));
        let Next::Send(h) = hs.on_response(18, 3, &versions_body(3, ErrorCode::NONE, BROKER))
        else {
            panic!("expected SaslHandshake");
        };
        assert_eq!((h.api_key, h.version), (17, 1));
        let mut ok = Vec::new();
        SaslHandshakeResponse {
            error_code: ErrorCode::NONE,
            mechanisms: vec!["PLAIN".into()],
        }
        .encode(1, &mut ok);
        let Next::Send(a) = hs.on_response(17, 1, &ok) else {
            panic!("expected SaslAuthenticate");
        };
        assert_eq!((a.api_key, a.version), (36, 2));
        // The PLAIN token: authzid NUL user NUL password.
        let token = b"\0alice\0alice-secret";
        assert!(a.body.windows(token.len()).any(|w| w == token));
        let mut done = Vec::new();
        SaslAuthenticateResponse {
            error_code: ErrorCode::NONE,
            error_message: None,
            auth_bytes: Vec::new(),
            session_lifetime_ms: 60_000,
        }
        .encode(2, &mut done);
        assert_eq!(hs.on_response(36, 2, &done), Next::Ready);
        assert!(hs.is_ready());
    }

    #[test]
    fn unsupported_mechanism_is_an_auth_failure_naming_what_the_broker_enables() {
        let (mut hs, _) = Handshake::start(Some(plain()));
        hs.on_response(18, 3, &versions_body(3, ErrorCode::NONE, BROKER));
        let mut body = Vec::new();
        SaslHandshakeResponse {
            error_code: ErrorCode::UNSUPPORTED_SASL_MECHANISM,
            mechanisms: vec!["SCRAM-SHA-512".into()],
        }
        .encode(1, &mut body);
        let Next::Failed(Failure::Auth(reason)) = hs.on_response(17, 1, &body) else {
            panic!("expected an auth failure");
        };
        assert!(
            reason.contains("PLAIN") && reason.contains("SCRAM-SHA-512"),
            "{reason}"
        );
    }

    #[test]
    fn bad_credentials_are_an_auth_failure_with_the_broker_message() {
        let (mut hs, _) = Handshake::start(Some(plain()));
        hs.on_response(18, 3, &versions_body(3, ErrorCode::NONE, BROKER));
        let mut ok = Vec::new();
        SaslHandshakeResponse {
            error_code: ErrorCode::NONE,
            mechanisms: vec!["PLAIN".into()],
        }
        .encode(1, &mut ok);
        hs.on_response(17, 1, &ok);
        let mut body = Vec::new();
        SaslAuthenticateResponse {
            error_code: ErrorCode::SASL_AUTHENTICATION_FAILED,
            error_message: Some("Invalid username or password".into()),
            auth_bytes: Vec::new(),
            session_lifetime_ms: 0,
        }
        .encode(2, &mut body);
        let Next::Failed(Failure::Auth(reason)) = hs.on_response(36, 2, &body) else {
            panic!("expected an auth failure");
        };
        assert!(reason.contains("Invalid username or password"), "{reason}");
    }

    #[test]
    fn a_broker_without_sasl_handshake_v1_fails_authentication() {
        let (mut hs, _) = Handshake::start(Some(plain()));
        let old = &[(0, 0, 7), (18, 0, 2), (17, 0, 0)];
        let next = hs.on_response(18, 3, &versions_body(3, ErrorCode::NONE, old));
        assert!(matches!(next, Next::Failed(Failure::Auth(r)) if r.contains("SaslHandshake v1")));
    }

    #[test]
    fn an_unexpected_answer_breaks_the_exchange() {
        let (mut hs, _) = Handshake::start(None);
        let next = hs.on_response(3, 12, &[]);
        assert!(matches!(next, Next::Failed(Failure::Broken(_))));
    }

    fn handshake_ok() -> Vec<u8> {
        let mut ok = Vec::new();
        SaslHandshakeResponse {
            error_code: ErrorCode::NONE,
            mechanisms: vec!["PLAIN".into()],
        }
        .encode(1, &mut ok);
        ok
    }

    fn authenticate_answer(code: ErrorCode, lifetime_ms: i64) -> Vec<u8> {
        let mut body = Vec::new();
        SaslAuthenticateResponse {
            error_code: code,
            error_message: (!code.is_ok()).then(|| "session renewal refused".into()),
            auth_bytes: Vec::new(),
            session_lifetime_ms: lifetime_ms,
        }
        .encode(2, &mut body);
        body
    }

    /// A PLAIN handshake taken to ready, the broker giving `lifetime_ms`.
    fn authenticated(lifetime_ms: i64) -> Handshake {
        let (mut hs, _) = Handshake::start(Some(plain()));
        hs.on_response(18, 3, &versions_body(3, ErrorCode::NONE, BROKER));
        hs.on_response(17, 1, &handshake_ok());
        let ready = hs.on_response(36, 2, &authenticate_answer(ErrorCode::NONE, lifetime_ms));
        assert_eq!(ready, Next::Ready);
        hs
    }

    #[test]
    fn the_session_lifetime_is_kept_when_the_broker_gives_one() {
        assert_eq!(
            authenticated(10_000).session_lifetime(),
            Some(Duration::from_secs(10))
        );
        assert_eq!(authenticated(0).session_lifetime(), None);
        let (mut hs, _) = Handshake::start(None);
        hs.on_response(18, 3, &versions_body(3, ErrorCode::NONE, BROKER));
        assert_eq!(hs.session_lifetime(), None);
    }

    #[test]
    fn reauthentication_restarts_at_sasl_handshake_with_a_new_client() {
        let mut hs = authenticated(10_000);
        assert!(!hs.is_reauthentication());
        let Some(Next::Send(h)) = hs.reauthenticate() else {
            panic!("expected a SaslHandshake");
        };
        // No ApiVersions again: the versions are the connection's.
        assert_eq!((h.api_key, h.version), (17, 1));
        assert!(!hs.is_ready(), "no request may go out while it runs");
        assert!(hs.is_reauthentication());
        assert!(hs.versions().is_some());
        let Next::Send(a) = hs.on_response(17, 1, &handshake_ok()) else {
            panic!("expected SaslAuthenticate");
        };
        assert_eq!((a.api_key, a.version), (36, 2));
        let token = b"\0alice\0alice-secret";
        assert!(a.body.windows(token.len()).any(|w| w == token));
        let ready = hs.on_response(36, 2, &authenticate_answer(ErrorCode::NONE, 20_000));
        assert_eq!(ready, Next::Ready);
        assert!(hs.is_ready());
        assert_eq!(hs.session_lifetime(), Some(Duration::from_secs(20)));
        // And again, as many times as the sessions last.
        assert!(matches!(hs.reauthenticate(), Some(Next::Send(o)) if o.api_key == 17));
    }

    #[test]
    fn a_refused_reauthentication_is_an_auth_failure() {
        let mut hs = authenticated(10_000);
        hs.reauthenticate();
        hs.on_response(17, 1, &handshake_ok());
        let answer = authenticate_answer(ErrorCode::SASL_AUTHENTICATION_FAILED, 0);
        let Next::Failed(Failure::Auth(reason)) = hs.on_response(36, 2, &answer) else {
            panic!("expected an auth failure");
        };
        assert!(reason.contains("session renewal refused"), "{reason}");
        assert!(!hs.is_ready());
    }

    #[test]
    fn an_unexpected_answer_during_reauthentication_breaks_the_exchange() {
        let mut hs = authenticated(10_000);
        hs.reauthenticate();
        let next = hs.on_response(0, 11, &[]);
        assert!(matches!(next, Next::Failed(Failure::Broken(_))), "{next:?}");
    }

    #[test]
    fn nothing_to_renew_without_sasl_or_before_ready() {
        let (mut hs, _) = Handshake::start(None);
        hs.on_response(18, 3, &versions_body(3, ErrorCode::NONE, BROKER));
        assert!(hs.reauthenticate().is_none());
        assert!(hs.is_ready(), "left as it was");
        let (mut setting_up, _) = Handshake::start(Some(plain()));
        assert!(setting_up.reauthenticate().is_none());
    }
}
