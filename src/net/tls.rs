//! TLS for broker connections (`security.protocol` `SSL` and `SASL_SSL`), with rustls and the
//! crypto provider of the cargo feature chosen: `rustls` (the default) takes `ring`,
//! `rustls-graviola` takes graviola (pure Rust); with both, `ring`.
//!
//! A [`TlsConnector`] is built once from the `ssl.*` settings (trusted certificates, whether
//! the broker's host name is checked, an optional client certificate) and starts one rustls
//! client session per connection. The session itself is driven by
//! [`crate::net::Connection`] over its non-blocking socket.
//!
//! Without TLS, [`TlsConnector`] is an empty enum: no value of it exists, so code that
//! handles an `Option<TlsConnector>` compiles in both builds and the TLS paths vanish.

#[cfg(all(
    feature = "rustls-graviola",
    not(feature = "rustls"),
    feature = "oauth-oidc"
))]
pub(crate) use imp::crypto_provider;
#[cfg(feature = "tls")]
pub(crate) use imp::{TlsConnector, TlsOptions, TlsSession, TlsSetupError};

/// No TLS in this build: a type with no values (see the module docs).
#[cfg(not(feature = "tls"))]
#[derive(Clone, Debug)]
pub(crate) enum TlsConnector {}

#[cfg(all(
    feature = "tls",
    not(any(feature = "rustls", feature = "rustls-graviola"))
))]
compile_error!(
    "kafka-sync's TLS needs a crypto provider: enable the feature \"rustls\" (ring) or \
     \"rustls-graviola\" (graviola, pure Rust)"
);

#[cfg(feature = "tls")]
mod imp {
    use crate::net::connection::ConnectionError;
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::client::WebPkiServerVerifier;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
    use rustls::{CertificateError, SignatureScheme};
    use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore};
    use std::fmt;
    use std::sync::Arc;

    /// What the `ssl.*` properties ask for, already read from files and PEM-decoded.
    pub(crate) struct TlsOptions {
        /// Trusted certificates (`ssl.truststore.*`); `None` trusts the system's CAs (as
        /// Java trusts the JVM's), or, with the feature `webpki-roots` and an empty system
        /// store, its bundled Mozilla CAs.
        pub trusted: Option<Vec<CertificateDer<'static>>>,
        /// `ssl.endpoint.identification.algorithm=https` (the default): the broker's
        /// certificate must name the host connected to.
        pub verify_hostname: bool,
        /// A client certificate chain and its key (`ssl.keystore.*`).
        pub client_auth: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
    }

    /// Why a [`TlsConnector`] could not be built, by the settings at fault.
    #[derive(Debug)]
    pub(crate) enum TlsSetupError {
        /// The trusted certificates.
        Trust(String),
        /// The client certificate or key.
        ClientAuth(String),
        /// Anything else.
        Other(String),
    }

    /// Starts TLS sessions with brokers; cheap to clone (the rustls config is shared).
    #[derive(Clone)]
    pub(crate) struct TlsConnector {
        config: Arc<ClientConfig>,
        verify_hostname: bool,
    }

    impl fmt::Debug for TlsConnector {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("TlsConnector")
                .field("provider", &PROVIDER)
                .field("verify_hostname", &self.verify_hostname)
                .field(
                    "client_auth",
                    &self.config.client_auth_cert_resolver.has_certs(),
                )
                .finish()
        }
    }

    impl TlsConnector {
        /// A connector for `options`; the error says which part was refused.
        pub fn new(options: TlsOptions) -> Result<Self, TlsSetupError> {
            let provider = Arc::new(provider()?);
            let mut roots = RootCertStore::empty();
            match options.trusted {
                Some(certs) => {
                    for (i, c) in certs.into_iter().enumerate() {
                        roots.add(c).map_err(|e| {
                            TlsSetupError::Trust(format!(
                                "certificate {} cannot be a trust anchor: {e}",
                                i + 1
                            ))
                        })?;
                    }
                }
                None => default_roots(&mut roots)?,
            }
            let webpki =
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| {
                        TlsSetupError::Trust(format!("no usable trusted certificate: {e}"))
                    })?;
            let verifier: Arc<dyn ServerCertVerifier> = if options.verify_hostname {
                webpki
            } else {
                Arc::new(ChainOnlyVerifier(webpki))
            };
            let builder = ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| TlsSetupError::Other(e.to_string()))?
                .dangerous()
                .with_custom_certificate_verifier(verifier);
            let config = match options.client_auth {
                Some((chain, key)) => builder.with_client_auth_cert(chain, key).map_err(|e| {
                    TlsSetupError::ClientAuth(format!("client certificate or key refused: {e}"))
                })?,
                None => builder.with_no_client_auth(),
            };
            Ok(TlsConnector {
                config: Arc::new(config),
                verify_hostname: options.verify_hostname,
            })
        }

        /// A client session for the broker at `addr` (`host:port`; the host is the name
        /// checked against the certificate, and sent as SNI when it is not an IP address).
        pub fn start(&self, addr: &str) -> Result<TlsSession, ConnectionError> {
            let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let name = ServerName::try_from(host.to_string()).map_err(|e| {
                ConnectionError::Tls(format!("{host:?} is not a valid TLS server name: {e}"))
            })?;
            let conn = ClientConnection::new(self.config.clone(), name)
                .map_err(|e| ConnectionError::Tls(e.to_string()))?;
            Ok(TlsSession {
                conn,
                client_cert: self.config.client_auth_cert_resolver.has_certs(),
            })
        }
    }

    /// One rustls client session, and whether it offers a client certificate (to explain a
    /// broker's refusal). Derefs to the rustls connection.
    pub(crate) struct TlsSession {
        conn: ClientConnection,
        client_cert: bool,
    }

    impl std::ops::Deref for TlsSession {
        type Target = ClientConnection;
        fn deref(&self) -> &ClientConnection {
            &self.conn
        }
    }

    impl std::ops::DerefMut for TlsSession {
        fn deref_mut(&mut self) -> &mut ClientConnection {
            &mut self.conn
        }
    }

    impl TlsSession {
        /// `e` in words. A broker that requires a client certificate (`ssl.client.auth=
        /// required`) answers a session without one with a `bad_certificate` (TLS 1.2, and
        /// Java's TLS 1.3) or `certificate_required` alert: that is said, with what to set.
        /// Kafka 2.8's alert cannot be read: its decrypt error says the same, as a condition.
        pub fn explain(&self, e: &rustls::Error) -> String {
            explain(e, self.client_cert)
        }
    }

    /// See [`TlsSession::explain`].
    pub(crate) fn explain(e: &rustls::Error, client_cert: bool) -> String {
        use rustls::AlertDescription as A;
        match e {
            rustls::Error::AlertReceived(A::BadCertificate | A::CertificateRequired)
                if !client_cert =>
            {
                format!(
                    "{e}: the broker requires a client certificate (ssl.client.auth=required) \
                     and this client has none: set ssl.keystore.location (a PKCS12 store or a \
                     PEM file), or ssl.keystore.certificate.chain with ssl.keystore.key"
                )
            }
            // Kafka 2.8.2 (3.3.2, 3.9.1 and 4.4 send the alert readably) refuses a TLS 1.3 session
            // without a client certificate with an alert under keys the client has already
            // moved past, so rustls can only say it could not decrypt it. Said as a
            // condition: the same error could, rarely, be a corrupted record.
            rustls::Error::DecryptError if !client_cert => format!(
                "{e}: if the broker requires a client certificate (ssl.client.auth=required), \
                 this client has none: set ssl.keystore.location (a PKCS12 store or a PEM \
                 file), or ssl.keystore.certificate.chain with ssl.keystore.key"
            ),
            rustls::Error::AlertReceived(
                A::BadCertificate
                | A::CertificateUnknown
                | A::UnknownCA
                | A::CertificateExpired
                | A::CertificateRevoked
                | A::UnsupportedCertificate,
            ) if client_cert => format!(
                "{e}: the broker refused this client's certificate (check that the broker's \
                 ssl.truststore trusts it and that it is in date)"
            ),
            _ => e.to_string(),
        }
    }

    /// The name of the crypto provider [`provider`] gives.
    const PROVIDER: &str = if cfg!(feature = "rustls") {
        "ring"
    } else {
        "graviola"
    };

    /// This build's crypto provider (see [`provider`]), or why this CPU cannot run it: for
    /// ureq's HTTPS (the OIDC login) when it has no provider of its own.
    #[cfg(all(
        feature = "rustls-graviola",
        not(feature = "rustls"),
        feature = "oauth-oidc"
    ))]
    pub(crate) fn crypto_provider() -> Result<rustls::crypto::CryptoProvider, String> {
        provider().map_err(|e| match e {
            TlsSetupError::Trust(s) | TlsSetupError::ClientAuth(s) | TlsSetupError::Other(s) => s,
        })
    }

    /// The crypto provider of this build: ring with the feature `rustls`, else graviola, whose
    /// CPU needs are checked here (graviola asserts them, which would panic on the sender
    /// thread).
    fn provider() -> Result<rustls::crypto::CryptoProvider, TlsSetupError> {
        #[cfg(feature = "rustls")]
        return Ok(rustls::crypto::ring::default_provider());
        #[cfg(all(feature = "rustls-graviola", not(feature = "rustls")))]
        {
            #[cfg(target_arch = "x86_64")]
            let supported = std::arch::is_x86_feature_detected!("aes")
                && std::arch::is_x86_feature_detected!("pclmulqdq")
                && std::arch::is_x86_feature_detected!("bmi1")
                && std::arch::is_x86_feature_detected!("bmi2")
                && std::arch::is_x86_feature_detected!("adx")
                && std::arch::is_x86_feature_detected!("avx")
                && std::arch::is_x86_feature_detected!("avx2");
            #[cfg(target_arch = "aarch64")]
            let supported = std::arch::is_aarch64_feature_detected!("neon")
                && std::arch::is_aarch64_feature_detected!("aes")
                && std::arch::is_aarch64_feature_detected!("pmull")
                && std::arch::is_aarch64_feature_detected!("sha2");
            if !supported {
                return Err(TlsSetupError::Other(
                    "this CPU lacks features the graviola crypto provider needs (x86_64: AES-NI, \
                     PCLMULQDQ, AVX2, ADX, BMI1/2; aarch64: AES, PMULL, SHA2): build kafka-sync \
                     with the feature \"rustls\" (ring) instead"
                        .into(),
                ));
            }
            Ok(rustls_graviola::default_provider())
        }
    }

    /// The CAs trusted when no trust store is configured: the system's store
    /// (rustls-native-certs: `SSL_CERT_FILE` and `SSL_CERT_DIR` when set, else OpenSSL's usual
    /// places on Unix, the platform's store on macOS and Windows), as Java trusts the JVM's.
    fn default_roots(roots: &mut RootCertStore) -> Result<(), TlsSetupError> {
        let found = rustls_native_certs::load_native_certs();
        for e in &found.errors {
            log::warn!("system trust store: {e}");
        }
        add_system_roots(roots, found.certs)
    }

    /// Adds the system's CA certificates `system`; when none is usable, the bundled Mozilla
    /// list with the feature `webpki-roots`, else an error.
    fn add_system_roots(
        roots: &mut RootCertStore,
        system: Vec<CertificateDer<'static>>,
    ) -> Result<(), TlsSetupError> {
        let (added, ignored) = roots.add_parsable_certificates(system);
        log::debug!(
            "system trust store: {added} CA certificates ({ignored} unusable ones ignored)"
        );
        if added > 0 {
            return Ok(());
        }
        #[cfg(feature = "webpki-roots")]
        {
            log::info!("the system trust store is empty: trusting webpki-roots' Mozilla CAs");
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            Ok(())
        }
        #[cfg(not(feature = "webpki-roots"))]
        Err(TlsSetupError::Trust(
            "none is set and the system trust store has no usable CA certificate (looked in \
             SSL_CERT_FILE / SSL_CERT_DIR or the system's CA directories): set \
             ssl.truststore.location, install the system's CA certificates, or build with the \
             feature \"webpki-roots\""
                .into(),
        ))
    }

    /// `ssl.endpoint.identification.algorithm=` (empty): the chain must still lead to a trusted
    /// certificate, be in date and carry valid signatures; only the host name is not checked.
    #[derive(Debug)]
    struct ChainOnlyVerifier(Arc<WebPkiServerVerifier>);

    impl ServerCertVerifier for ChainOnlyVerifier {
        fn verify_server_cert(
            &self,
            end_entity: &CertificateDer<'_>,
            intermediates: &[CertificateDer<'_>],
            server_name: &ServerName<'_>,
            ocsp_response: &[u8],
            now: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            // webpki checks the chain first and the name last: a name error means all the
            // rest passed.
            match self.0.verify_server_cert(
                end_entity,
                intermediates,
                server_name,
                ocsp_response,
                now,
            ) {
                Err(rustls::Error::InvalidCertificate(
                    CertificateError::NotValidForName
                    | CertificateError::NotValidForNameContext { .. },
                )) => Ok(ServerCertVerified::assertion()),
                other => other,
            }
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            self.0.verify_tls12_signature(message, cert, dss)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            self.0.verify_tls13_signature(message, cert, dss)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.supported_verify_schemes()
        }
    }

    #[cfg(test)]
    mod tests {
        use super::{add_system_roots, explain, RootCertStore};

        #[test]
        fn an_empty_system_store() {
            let mut roots = RootCertStore::empty();
            let got = add_system_roots(&mut roots, Vec::new());
            if cfg!(feature = "webpki-roots") {
                assert!(got.is_ok());
                assert!(roots.len() > 100, "{}", roots.len());
            } else {
                let Err(super::TlsSetupError::Trust(why)) = got else {
                    panic!("{got:?}")
                };
                assert!(why.contains("system trust store"), "{why}");
            }
        }

        #[test]
        fn the_system_store_comes_first() {
            let found = rustls_native_certs::load_native_certs();
            let n = found.certs.len();
            assert!(n > 0, "this machine has no system CA certificates");
            let mut roots = RootCertStore::empty();
            add_system_roots(&mut roots, found.certs).unwrap();
            assert!(roots.len() <= n && !roots.is_empty());
        }
        use rustls::{AlertDescription as A, Error as E};

        #[test]
        fn explains_a_refused_or_missing_client_certificate() {
            for alert in [A::BadCertificate, A::CertificateRequired] {
                let said = explain(&E::AlertReceived(alert), false);
                assert!(said.contains("requires a client certificate"), "{said}");
                assert!(said.contains("ssl.keystore.location"), "{said}");
            }
            let said = explain(&E::AlertReceived(A::BadCertificate), true);
            assert!(said.contains("refused this client's certificate"), "{said}");
            let said = explain(&E::DecryptError, false);
            assert!(
                said.contains("if the broker requires a client certificate"),
                "{said}"
            );
            assert!(said.contains("ssl.keystore.location"), "{said}");
            assert_eq!(explain(&E::DecryptError, true), E::DecryptError.to_string());
            let said = explain(&E::AlertReceived(A::HandshakeFailure), false);
            assert_eq!(said, "received fatal alert: HandshakeFailure");
        }
    }
}
