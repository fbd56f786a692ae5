//! SASL client mechanisms: PLAIN (RFC 4616), SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802,
//! RFC 7677), OAUTHBEARER (RFC 7628, KIP-255, with KIP-342 extensions; [`oauthbearer`], its
//! token cache and login thread in [`token`], Java's unsecured login in [`unsecured`], the
//! OIDC client-credentials login in `oidc` behind the cargo feature `oauth-oidc`).
//!
//! Pure logic, no socket: [`SaslClient::start`] gives the first token, [`SaslClient::step`]
//! takes each token from the broker and gives the next one or says the exchange is done. The
//! sender carries the tokens in SaslAuthenticate requests after a SaslHandshake v1, so the
//! exchange is the same whatever stream (plain TCP now, TLS later) carries the frames.
//!
//! SCRAM as Kafka does it (`ScramSaslClient` in the Java client): no channel binding (GS2
//! header `n,,`), user names with `,` and `=` escaped as `=2C` and `=3D`, no SASLprep
//! normalisation, at least 4096 iterations. The server's signature is checked, so a broker
//! that does not know the password cannot pass for one that does.
//!
//! Delegation tokens (`tokenauth` extension) are not done. Re-authentication (KIP-368) runs a
//! new exchange built the same way (see `super::reauth`); an OAUTHBEARER one takes the token
//! cache's current token.

use std::fmt;
use std::sync::Arc;

pub(crate) mod base64;
pub(crate) mod json;
pub(crate) mod jwt;
pub(crate) mod oauthbearer;
#[cfg(feature = "oauth-oidc")]
pub(crate) mod oidc;
pub(crate) mod token;
pub(crate) mod unsecured;

use oauthbearer::OAuthBearerClient;
use token::{TokenAnswer, TokenCache};

/// A SASL mechanism (`sasl.mechanism`). Non-exhaustive: mechanisms are being added, so a
/// match on it needs a `_` arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SaslMechanism {
    /// `PLAIN` (RFC 4616): user name and password sent as they are. The default here (Java's
    /// default, GSSAPI, is not implemented).
    /// Only safe over TLS or a trusted network.
    Plain,
    /// `SCRAM-SHA-256` (RFC 5802, RFC 7677): a challenge-response exchange; the password never
    /// crosses the network. Needs the cargo feature `sasl-scram` (on by default).
    ScramSha256,
    /// `SCRAM-SHA-512`: as SCRAM-SHA-256 with SHA-512. Needs the cargo feature `sasl-scram`.
    ScramSha512,
    /// `OAUTHBEARER` (RFC 7628, KIP-255): an OAuth 2 bearer token, from Java's unsecured login
    /// (development), the OIDC client-credentials flow (cargo feature `oauth-oidc`), or an
    /// [`OAuthBearerTokenProvider`](crate::OAuthBearerTokenProvider). Only safe over TLS or
    /// a trusted network.
    OAuthBearer,
}

impl SaslMechanism {
    /// The mechanism's name: `PLAIN`, `SCRAM-SHA-256` or `SCRAM-SHA-512`.
    pub fn name(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
            SaslMechanism::OAuthBearer => "OAUTHBEARER",
        }
    }
    /// The mechanism with this name (ASCII case-insensitive), if this client implements it.
    pub fn from_name(name: &str) -> Option<Self> {
        [
            SaslMechanism::Plain,
            SaslMechanism::ScramSha256,
            SaslMechanism::ScramSha512,
            SaslMechanism::OAuthBearer,
        ]
        .into_iter()
        .find(|m| m.name().eq_ignore_ascii_case(name))
    }
    /// Whether this build can use the mechanism (SCRAM needs the `sasl-scram` feature).
    pub fn is_available(self) -> bool {
        match self {
            SaslMechanism::Plain | SaslMechanism::OAuthBearer => true,
            SaslMechanism::ScramSha256 | SaslMechanism::ScramSha512 => cfg!(feature = "sasl-scram"),
        }
    }
}

/// What SASL needs on every connection: the mechanism and the credentials (user name and
/// password; for OAUTHBEARER, the producer's token cache, which an exchange asks for the
/// current token when it starts). `Debug` never shows the password.
#[derive(Clone)]
pub(crate) struct SaslSettings {
    pub mechanism: SaslMechanism,
    pub username: String,
    pub password: String,
    /// OAUTHBEARER's token source; set when the producer starts.
    pub oauth: Option<Arc<TokenCache>>,
}

impl PartialEq for SaslSettings {
    fn eq(&self, other: &Self) -> bool {
        self.mechanism == other.mechanism
            && self.username == other.username
            && self.password == other.password
            && match (&self.oauth, &other.oauth) {
                (None, None) => true,
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                _ => false,
            }
    }
}

impl SaslSettings {
    /// Whether OAUTHBEARER's first token is still being fetched. A connection opened now
    /// could not authenticate: it would be closed after ApiVersions, counted as a failed
    /// connect and backed off, so the pool waits for the token instead.
    pub fn awaits_first_token(&self) -> bool {
        self.oauth
            .as_ref()
            .is_some_and(|c| matches!(c.current(), TokenAnswer::NotYet))
    }
}

impl fmt::Debug for SaslSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SaslSettings")
            .field("mechanism", &self.mechanism.name())
            .field("username", &self.username)
            .field("password", &"[hidden]")
            .field("oauth", &self.oauth.is_some())
            .finish()
    }
}

/// Why an exchange could not start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StartError {
    /// Authentication cannot succeed (no random nonce, the token provider failed).
    Auth(String),
    /// Not yet (the first OAUTHBEARER token is still being fetched): the connection is closed
    /// and opened again later, nothing fails.
    NotReady(String),
}

/// What to do after a broker token.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Send this token in the next SaslAuthenticate request.
    Send(Vec<u8>),
    /// The exchange succeeded: the connection is authenticated.
    Done,
}

/// One authentication exchange with one broker (a new one per connection).
pub(crate) struct SaslClient {
    mechanism: SaslMechanism,
    state: Mechanism,
}

enum Mechanism {
    Plain {
        token: Vec<u8>,
    },
    #[cfg(feature = "sasl-scram")]
    Scram(scram::ScramClient),
    OAuthBearer(OAuthBearerClient),
}

impl SaslClient {
    /// A client for `settings`; fails if no random nonce could be had (SCRAM) or no token
    /// (OAUTHBEARER).
    pub fn new(settings: &SaslSettings) -> Result<Self, StartError> {
        let state = match settings.mechanism {
            SaslMechanism::OAuthBearer => {
                let Some(cache) = settings.oauth.as_ref() else {
                    return Err(StartError::Auth(
                        "OAUTHBEARER has no token source (internal error)".into(),
                    ));
                };
                match cache.current() {
                    TokenAnswer::Ready(token) => {
                        Mechanism::OAuthBearer(OAuthBearerClient::new(token))
                    }
                    TokenAnswer::NotYet => {
                        return Err(StartError::NotReady(
                            "the first OAUTHBEARER token is not fetched yet".into(),
                        ))
                    }
                    TokenAnswer::Failed(why) => return Err(StartError::Auth(why)),
                }
            }
            SaslMechanism::Plain => Mechanism::Plain {
                token: plain_token(&settings.username, &settings.password),
            },
            #[cfg(feature = "sasl-scram")]
            m @ (SaslMechanism::ScramSha256 | SaslMechanism::ScramSha512) => {
                let hash = if m == SaslMechanism::ScramSha256 {
                    scram::Hash::Sha256
                } else {
                    scram::Hash::Sha512
                };
                Mechanism::Scram(scram::ScramClient::new(
                    hash,
                    &settings.username,
                    &settings.password,
                    scram::random_nonce().map_err(StartError::Auth)?,
                ))
            }
            #[cfg(not(feature = "sasl-scram"))]
            m => {
                return Err(StartError::Auth(format!(
                    "{} needs the cargo feature \"sasl-scram\"",
                    m.name()
                )))
            }
        };
        Ok(SaslClient {
            mechanism: settings.mechanism,
            state,
        })
    }

    /// The mechanism, for the SaslHandshake request.
    pub fn mechanism(&self) -> SaslMechanism {
        self.mechanism
    }

    /// The first token the client sends.
    pub fn start(&mut self) -> Vec<u8> {
        match &mut self.state {
            Mechanism::Plain { token } => std::mem::take(token),
            #[cfg(feature = "sasl-scram")]
            Mechanism::Scram(s) => s.client_first(),
            Mechanism::OAuthBearer(o) => o.client_first(),
        }
    }

    /// What the client knows that explains the broker's refusal `broker_message`
    /// (OAUTHBEARER: the broker's error challenge, whether the token expired or is unsigned),
    /// if anything.
    pub fn failure_context(&self, broker_message: &str) -> Option<String> {
        match &self.state {
            Mechanism::OAuthBearer(o) => {
                Some(o.failure_context(broker_message, std::time::SystemTime::now()))
            }
            _ => None,
        }
    }

    /// Takes the broker's token (from a successful SaslAuthenticate response) and returns
    /// the next client token, or `Done`. An error means authentication failed.
    pub fn step(&mut self, server: &[u8]) -> Result<Step, String> {
        match &mut self.state {
            // The broker answers PLAIN with an empty token once it accepted the credentials.
            Mechanism::Plain { .. } => {
                let _ = server;
                Ok(Step::Done)
            }
            #[cfg(feature = "sasl-scram")]
            Mechanism::Scram(s) => s.step(server),
            Mechanism::OAuthBearer(o) => Ok(match o.step(server)? {
                Some(bytes) => Step::Send(bytes),
                None => Step::Done,
            }),
        }
    }
}

/// The single PLAIN message: authorization id (empty), user name, password, NUL-separated.
fn plain_token(username: &str, password: &str) -> Vec<u8> {
    let mut t = Vec::with_capacity(2 + username.len() + password.len());
    t.push(0);
    t.extend_from_slice(username.as_bytes());
    t.push(0);
    t.extend_from_slice(password.as_bytes());
    t
}

#[cfg(feature = "sasl-scram")]
mod scram {
    use super::{base64, Step};
    use hmac::{Hmac, Mac};
    use sha2::{Digest, Sha256, Sha512};

    /// Kafka's minimum (`ScramMechanism.minIterations`); the Java client refuses fewer.
    pub const MIN_ITERATIONS: u32 = 4096;
    /// Upper bound on the iteration count a broker may ask for: PBKDF2 runs on the sender
    /// thread, and a hostile or broken broker must not make it spin for minutes. Kafka itself
    /// caps SCRAM credentials at 16384.
    pub const MAX_ITERATIONS: u32 = 100_000;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Hash {
        Sha256,
        Sha512,
    }

    impl Hash {
        fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
            match self {
                Hash::Sha256 => {
                    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key)
                        .expect("HMAC accepts keys of any length");
                    m.update(data);
                    m.finalize().into_bytes().to_vec()
                }
                Hash::Sha512 => {
                    let mut m = <Hmac<Sha512> as Mac>::new_from_slice(key)
                        .expect("HMAC accepts keys of any length");
                    m.update(data);
                    m.finalize().into_bytes().to_vec()
                }
            }
        }
        fn h(self, data: &[u8]) -> Vec<u8> {
            match self {
                Hash::Sha256 => Sha256::digest(data).to_vec(),
                Hash::Sha512 => Sha512::digest(data).to_vec(),
            }
        }
        fn salted_password(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
            match self {
                Hash::Sha256 => {
                    let mut out = vec![0; 32];
                    pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out);
                    out
                }
                Hash::Sha512 => {
                    let mut out = vec![0; 64];
                    pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, &mut out);
                    out
                }
            }
        }
    }

    /// A nonce of 24 random bytes from the operating system, base64 (32 printable characters,
    /// never a comma).
    pub fn random_nonce() -> Result<String, String> {
        let mut bytes = [0u8; 24];
        getrandom::fill(&mut bytes).map_err(|e| format!("no random nonce for SCRAM: {e}"))?;
        Ok(base64::encode(&bytes))
    }

    /// RFC 5802 `saslname`: `=` and `,` escaped.
    fn sasl_name(username: &str) -> String {
        username.replace('=', "=3D").replace(',', "=2C")
    }

    enum State {
        Initial,
        /// client-first sent; waiting for server-first.
        ClientFirstSent {
            client_first_bare: String,
        },
        /// client-final sent; waiting for server-final, whose signature must be this.
        ClientFinalSent {
            server_signature: Vec<u8>,
        },
        Done,
        Failed,
    }

    pub struct ScramClient {
        hash: Hash,
        username: String,
        password: String,
        nonce: String,
        state: State,
    }

    /// The attributes of a SCRAM message (`a=value,b=value`), in order.
    fn attributes(msg: &str) -> Result<Vec<(char, &str)>, String> {
        msg.split(',')
            .map(|part| {
                let mut chars = part.chars();
                match (chars.next(), chars.next()) {
                    (Some(k), Some('=')) if k.is_ascii_alphabetic() => Ok((k, &part[2..])),
                    _ => Err(format!("malformed SCRAM message from the broker: {part:?}")),
                }
            })
            .collect()
    }

    impl ScramClient {
        pub fn new(hash: Hash, username: &str, password: &str, nonce: String) -> Self {
            ScramClient {
                hash,
                username: username.to_string(),
                password: password.to_string(),
                nonce,
                state: State::Initial,
            }
        }

        pub fn client_first(&mut self) -> Vec<u8> {
            let bare = format!("n={},r={}", sasl_name(&self.username), self.nonce);
            let msg = format!("n,,{bare}");
            self.state = State::ClientFirstSent {
                client_first_bare: bare,
            };
            msg.into_bytes()
        }

        pub fn step(&mut self, server: &[u8]) -> Result<Step, String> {
            let state = std::mem::replace(&mut self.state, State::Failed);
            let msg = std::str::from_utf8(server)
                .map_err(|_| "the broker's SCRAM message is not UTF-8".to_string())?;
            match state {
                State::ClientFirstSent { client_first_bare } => {
                    let (client_final, server_signature) =
                        self.client_final(&client_first_bare, msg)?;
                    self.state = State::ClientFinalSent { server_signature };
                    Ok(Step::Send(client_final.into_bytes()))
                }
                State::ClientFinalSent { server_signature } => {
                    let attrs = attributes(msg)?;
                    match attrs.first() {
                        Some(('e', e)) => Err(format!("the broker refused the SCRAM proof: {e}")),
                        Some(('v', v)) => {
                            let got = base64::decode(v).ok_or_else(|| {
                                "the broker's SCRAM server signature is not base64".to_string()
                            })?;
                            if !constant_time_eq(&got, &server_signature) {
                                return Err("the broker's SCRAM server signature is wrong: it \
                                            does not know this user's credentials"
                                    .into());
                            }
                            self.state = State::Done;
                            Ok(Step::Done)
                        }
                        _ => Err(format!("unexpected SCRAM server-final message {msg:?}")),
                    }
                }
                State::Initial | State::Done | State::Failed => {
                    Err("unexpected SCRAM message from the broker".into())
                }
            }
        }

        /// From server-first: the client-final message and the server signature to expect.
        fn client_final(
            &self,
            client_first_bare: &str,
            server_first: &str,
        ) -> Result<(String, Vec<u8>), String> {
            let attrs = attributes(server_first)?;
            let mut nonce = None;
            let mut salt = None;
            let mut iterations = None;
            for (i, &(k, v)) in attrs.iter().enumerate() {
                match k {
                    'e' => return Err(format!("the broker refused SCRAM: {v}")),
                    'm' if i == 0 => {
                        return Err("the broker requires a SCRAM extension this client does \
                                    not know"
                            .into())
                    }
                    'r' if i == 0 => nonce = Some(v),
                    's' if i == 1 => salt = Some(v),
                    'i' if i == 2 => iterations = Some(v),
                    _ if i >= 3 => {} // extensions
                    _ => {
                        return Err(format!(
                            "malformed SCRAM server-first message {server_first:?}"
                        ))
                    }
                }
            }
            let (Some(nonce), Some(salt), Some(iterations)) = (nonce, salt, iterations) else {
                return Err(format!(
                    "malformed SCRAM server-first message {server_first:?}"
                ));
            };
            if !nonce.starts_with(&self.nonce) || nonce.len() == self.nonce.len() {
                return Err("the broker's SCRAM nonce does not extend the client's".into());
            }
            let salt = base64::decode(salt)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| "the broker's SCRAM salt is not base64".to_string())?;
            let iterations: u32 = iterations
                .parse()
                .map_err(|_| format!("bad SCRAM iteration count {iterations:?}"))?;
            if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&iterations) {
                return Err(format!(
                    "SCRAM iteration count {iterations} out of the accepted range \
                     {MIN_ITERATIONS} to {MAX_ITERATIONS}"
                ));
            }
            let h = self.hash;
            let salted = h.salted_password(self.password.as_bytes(), &salt, iterations);
            let client_key = h.hmac(&salted, b"Client Key");
            let stored_key = h.h(&client_key);
            // c=biws is base64("n,,"): no channel binding.
            let without_proof = format!("c=biws,r={nonce}");
            let auth_message = format!("{client_first_bare},{server_first},{without_proof}");
            let client_signature = h.hmac(&stored_key, auth_message.as_bytes());
            let proof: Vec<u8> = client_key
                .iter()
                .zip(&client_signature)
                .map(|(a, b)| a ^ b)
                .collect();
            let server_key = h.hmac(&salted, b"Server Key");
            let server_signature = h.hmac(&server_key, auth_message.as_bytes());
            Ok((
                format!("{without_proof},p={}", base64::encode(&proof)),
                server_signature,
            ))
        }
    }

    fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        const NONCE: &str = "rOprNGfwEbeRWgbNEkqO";
        const SERVER_FIRST: &str = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                                    s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";

        fn rfc7677() -> ScramClient {
            ScramClient::new(Hash::Sha256, "user", "pencil", NONCE.to_string())
        }

        #[test]
        fn rfc7677_sha256_vector() {
            let mut c = rfc7677();
            assert_eq!(c.client_first(), b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
            let fin = c.step(SERVER_FIRST.as_bytes()).unwrap();
            assert_eq!(
                fin,
                Step::Send(
                    b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                      p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
                        .to_vec()
                )
            );
            let done = c
                .step(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
                .unwrap();
            assert_eq!(done, Step::Done);
            // nothing more is expected
            assert!(c.step(b"v=x").is_err());
        }

        #[test]
        fn wrong_server_signature_fails() {
            let mut c = rfc7677();
            c.client_first();
            c.step(SERVER_FIRST.as_bytes()).unwrap();
            // a valid base64 signature of the right length, but not the right one
            let bad = base64::encode(&[7u8; 32]);
            let e = c.step(format!("v={bad}").as_bytes()).unwrap_err();
            assert!(e.contains("server signature is wrong"), "{e}");
        }

        #[test]
        fn server_error_attribute() {
            let mut c = rfc7677();
            c.client_first();
            c.step(SERVER_FIRST.as_bytes()).unwrap();
            let e = c.step(b"e=invalid-proof").unwrap_err();
            assert!(e.contains("invalid-proof"), "{e}");
            let mut c = rfc7677();
            c.client_first();
            let e = c.step(b"e=unknown-user").unwrap_err();
            assert!(e.contains("unknown-user"), "{e}");
        }

        #[test]
        fn hostile_server_first_messages() {
            let cases: &[(&str, &str)] = &[
                ("", "malformed"),
                ("r=abc,s=W22Z,i=4096", "nonce"),
                (
                    "r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
                    "nonce",
                ),
                ("r=rOprNGfwEbeRWgbNEkqOx,s=***,i=4096", "salt"),
                ("r=rOprNGfwEbeRWgbNEkqOx,s=,i=4096", "salt"),
                (
                    "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4095",
                    "range",
                ),
                (
                    "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4294967295",
                    "range",
                ),
                (
                    "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=99999999999",
                    "iteration",
                ),
                (
                    "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=-1",
                    "iteration",
                ),
                (
                    "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==",
                    "malformed",
                ),
                (
                    "s=W22ZaJ0SNY7soEsUEjb6gQ==,r=rOprNGfwEbeRWgbNEkqOx,i=4096",
                    "malformed",
                ),
                (
                    "m=ext,r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
                    "extension",
                ),
                ("r=rOprNGfwEbeRWgbNEkqOx,,i=4096", "malformed"),
            ];
            for (msg, want) in cases {
                let mut c = rfc7677();
                c.client_first();
                let e = c.step(msg.as_bytes()).unwrap_err();
                assert!(e.contains(want), "{msg:?}: {e}");
            }
            let mut c = rfc7677();
            c.client_first();
            assert!(c.step(&[0xff, 0xfe]).unwrap_err().contains("UTF-8"));
            // extensions after i= are allowed
            let mut c = rfc7677();
            c.client_first();
            let with_ext = format!("{SERVER_FIRST},x=whatever");
            assert!(matches!(c.step(with_ext.as_bytes()), Ok(Step::Send(_))));
        }

        #[test]
        fn sha512_exchange_against_a_server_computed_here() {
            // The server side of RFC 5802, computed independently of ScramClient::client_final.
            let salt = b"0123456789abcdef";
            let iterations = 4096;
            let mut c = ScramClient::new(Hash::Sha512, "a,b=c", "p\u{e4}ss", "cnonce".into());
            let first = String::from_utf8(c.client_first()).unwrap();
            assert_eq!(first, "n,,n=a=2Cb=3Dc,r=cnonce");
            let server_first = format!("r=cnonceSNONCE,s={},i={iterations}", base64::encode(salt));
            let Step::Send(fin) = c.step(server_first.as_bytes()).unwrap() else {
                panic!("expected client-final")
            };
            let fin = String::from_utf8(fin).unwrap();
            let (without_proof, proof) = fin.rsplit_once(",p=").unwrap();
            assert_eq!(without_proof, "c=biws,r=cnonceSNONCE");
            let mut salted = [0u8; 64];
            pbkdf2::pbkdf2_hmac::<Sha512>("p\u{e4}ss".as_bytes(), salt, iterations, &mut salted);
            let mac = |k: &[u8], d: &[u8]| {
                let mut m = <Hmac<Sha512> as Mac>::new_from_slice(k).unwrap();
                m.update(d);
                m.finalize().into_bytes().to_vec()
            };
            let auth = format!("n=a=2Cb=3Dc,r=cnonce,{server_first},{without_proof}");
            // The server recovers ClientKey from the proof and checks H(ClientKey) = StoredKey.
            let stored_key = Sha512::digest(mac(&salted, b"Client Key")).to_vec();
            let sig = mac(&stored_key, auth.as_bytes());
            let proof = base64::decode(proof).unwrap();
            let client_key: Vec<u8> = proof.iter().zip(&sig).map(|(a, b)| a ^ b).collect();
            assert_eq!(Sha512::digest(&client_key).to_vec(), stored_key);
            let server_sig = mac(&mac(&salted, b"Server Key"), auth.as_bytes());
            let v = format!("v={}", base64::encode(&server_sig));
            assert_eq!(c.step(v.as_bytes()).unwrap(), Step::Done);
        }

        #[test]
        fn nonces_are_random_and_printable() {
            let a = random_nonce().unwrap();
            let b = random_nonce().unwrap();
            assert_ne!(a, b);
            assert_eq!(a.len(), 32);
            assert!(a.bytes().all(|c| c.is_ascii_graphic() && c != b','));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(mechanism: SaslMechanism) -> SaslSettings {
        SaslSettings {
            mechanism,
            username: "alice".into(),
            password: "s3cr\u{e9}t".into(),
            oauth: None,
        }
    }

    #[test]
    fn plain_message_bytes() {
        let mut c = SaslClient::new(&settings(SaslMechanism::Plain)).unwrap();
        assert_eq!(c.mechanism(), SaslMechanism::Plain);
        assert_eq!(c.start(), b"\0alice\0s3cr\xc3\xa9t");
        assert_eq!(c.step(b"").unwrap(), Step::Done);
    }

    #[cfg(feature = "sasl-scram")]
    #[test]
    fn scram_client_first_has_a_fresh_nonce() {
        let mut a = SaslClient::new(&settings(SaslMechanism::ScramSha512)).unwrap();
        let mut b = SaslClient::new(&settings(SaslMechanism::ScramSha256)).unwrap();
        let (fa, fb) = (a.start(), b.start());
        assert!(fa.starts_with(b"n,,n=alice,r="));
        assert_ne!(fa, fb);
    }

    fn oauth(state: token::State) -> SaslSettings {
        SaslSettings {
            mechanism: SaslMechanism::OAuthBearer,
            username: String::new(),
            password: String::new(),
            oauth: Some(TokenCache::fixed(state)),
        }
    }

    #[test]
    fn oauthbearer_exchanges_take_the_cached_token() {
        use oauthbearer::{epoch_ms, OAuthBearerToken};
        use std::time::{Duration, SystemTime};
        let cfg = token::RefreshConfig::default();
        let now = SystemTime::now();
        // nothing fetched yet: not ready, nothing fails
        assert!(matches!(
            SaslClient::new(&oauth(token::State::default())),
            Err(StartError::NotReady(_))
        ));
        // the provider failed: an authentication failure with its reason
        let mut failed = token::State::default();
        failed.on_fetched(&cfg, Err("idp down".into()), epoch_ms(now), 0.0);
        assert!(matches!(
            SaslClient::new(&oauth(failed)),
            Err(StartError::Auth(e)) if e.contains("idp down")
        ));
        // a token: the client-first message, then the broker's error answered with 0x01
        let mut ready = token::State::default();
        let t = OAuthBearerToken::new("aGVhZA.Ym9keQ.", now + Duration::from_secs(60), "alice")
            .with_extension("logicalCluster", "lkc-1");
        ready.on_fetched(&cfg, Ok(t), epoch_ms(now), 0.0);
        let with_token = oauth(ready);
        let mut c = SaslClient::new(&with_token).unwrap();
        assert_eq!(c.mechanism(), SaslMechanism::OAuthBearer);
        assert_eq!(
            c.start(),
            b"n,,\x01auth=Bearer aGVhZA.Ym9keQ.\x01logicalCluster=lkc-1\x01\x01"
        );
        assert_eq!(
            c.step(br#"{"status":"invalid_token"}"#),
            Ok(Step::Send(vec![1]))
        );
        let ctx = c.failure_context("SASL_AUTHENTICATION_FAILED").unwrap();
        assert!(
            ctx.contains("invalid_token") && ctx.contains("alice"),
            "{ctx}"
        );
        // accepted: an empty answer ends the exchange
        let mut c = SaslClient::new(&with_token).unwrap();
        c.start();
        assert_eq!(c.step(b""), Ok(Step::Done));
        assert_eq!(
            SaslClient::new(&settings(SaslMechanism::Plain))
                .unwrap()
                .failure_context("x"),
            None
        );
    }
}
