//! SASL/OAUTHBEARER against the real broker started with `scripts/kafka start --port P
//! --security`: Java's unsecured login and a user token provider on the SASL_PLAINTEXT listener
//! (P+2, the broker's unsecured validator), the OIDC client-credentials login against a token
//! endpoint on loopback on the OAUTH_JWKS listener (P+6, RS256 signatures checked against the
//! harness JWKS); 1000 records each, read back with Kafka's console consumer through the
//! PLAINTEXT listener. Expired and unsigned tokens, and a failing provider, fail records
//! promptly with `Error::Authentication`.
//!
//! Needs KAFKA_BOOTSTRAP_SASL, KAFKA_SASL_PLAINTEXT_PORT, KAFKA_BOOTSTRAP_OAUTH_JWKS and
//! KAFKA_OAUTH_DIR, and with the feature `rustls` KAFKA_BOOTSTRAP_SSL,
//! KAFKA_BOOTSTRAP_SASL_SSL and KAFKA_TLS_CA (scripts/test exports them).

mod support;

use kafka_sync::{
    Delivery, Error, OAuthBearerToken, Producer, ProducerConfig, ProducerRecord, SaslMechanism,
    TokenProviderError,
};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
#[cfg(feature = "oauth-oidc")]
use support::token_endpoint::TokenEndpoint;
use support::token_endpoint::{signed_jwt, unsigned_jwt};

const MODULE: &str = "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule";

fn config(bootstrap: &str, extra: &[(&str, &str)]) -> ProducerConfig {
    let mut b = ProducerConfig::builder()
        .bootstrap_servers(bootstrap)
        .set("security.protocol", "SASL_PLAINTEXT")
        .set("sasl.mechanism", "OAUTHBEARER");
    for (k, v) in extra {
        b = b.set(*k, *v);
    }
    let cfg = b.build().expect("valid config");
    assert_eq!(cfg.sasl_mechanism(), Some(SaslMechanism::OAuthBearer));
    cfg
}

/// Writes 1000 keyed records and reads them back intact from `plaintext`.
fn write_and_read_back(p: &Producer<String, String>, plaintext: &str, topic: &str) {
    support::written::write_keyed_and_read_back(p, plaintext, topic, 1000);
}

/// The PLAINTEXT listener of the `--security` broker, for Kafka's tools.
fn plaintext() -> String {
    support::bootstrap_sasl().plaintext
}

/// Sends one record and returns its error (it must not be written).
fn refused(p: &Producer<String, String>, topic: &str) -> Error {
    match p.send(ProducerRecord::with_value(topic, "x".to_string())) {
        Err(e) => e,
        Ok(f) => f.get().expect_err("must not be written"),
    }
}

#[test]
fn unsecured_login_module_writes_1000_records() {
    unsecured_login_writes(&support::bootstrap_sasl(), 1000);
}

/// The same on each older broker's SASL_PLAINTEXT listener (OAUTHBEARER is Kafka 2.0+).
#[test]
fn unsecured_login_on_every_compat_broker() {
    support::each_compat_broker(|b| unsecured_login_writes(&b.sasl_broker(), 200));
}

fn unsecured_login_writes(broker: &support::SaslBroker, n: usize) {
    let topic = support::unique_topic("oauth-unsecured");
    support::create_topic(&broker.plaintext, &topic, 3, 1, &[]);
    // The JAAS line a Java user writes for a development cluster, with an extension (KIP-342)
    // that the broker's unsecured validator accepts.
    let jaas = format!(
        "{MODULE} required unsecuredLoginStringClaim_sub=\"alice\" \
         unsecuredLoginLifetimeSeconds=\"600\" unsecuredLoginExtension_traceId=\"kafka-sync\";"
    );
    let cfg = config(&broker.sasl, &[("sasl.jaas.config", &jaas)]);
    assert!(!format!("{cfg:?}").contains("alice\\\""));
    let p: Producer<String, String> = Producer::new(cfg).unwrap();
    support::written::write_keyed_and_read_back(&p, &broker.plaintext, &topic, n);
}

#[test]
fn a_user_token_provider_writes_1000_records() {
    let broker = support::bootstrap_sasl();
    let topic = support::unique_topic("oauth-provider");
    support::create_topic(&broker.plaintext, &topic, 3, 1, &[]);
    let calls = Arc::new(AtomicU32::new(0));
    let counted = calls.clone();
    // sasl.jaas.config is not needed with a provider
    let p: Producer<String, String> = Producer::builder(config(&broker.sasl, &[]))
        .oauth_token_provider(move || -> Result<OAuthBearerToken, TokenProviderError> {
            counted.fetch_add(1, Ordering::SeqCst);
            let expires = SystemTime::now() + Duration::from_secs(600);
            Ok(
                OAuthBearerToken::new(unsigned_jwt("bob", 600), expires, "bob")
                    .with_extension("logicalCluster", "lkc-test"),
            )
        })
        .build()
        .unwrap();
    write_and_read_back(&p, &broker.plaintext, &topic);
    // one token for the whole run: it is cached, not fetched per connection
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// A provider slow to give its first token (an identity provider's round trip): records sent
/// meanwhile wait for it and are written, and no connection was opened only to be dropped for
/// want of a token.
#[test]
fn records_sent_before_the_first_token_wait_for_it() {
    let broker = support::bootstrap_sasl();
    let topic = support::unique_topic("oauth-slow-first");
    support::create_topic(&broker.plaintext, &topic, 3, 1, &[]);
    let p: Producer<String, String> = Producer::builder(config(&broker.sasl, &[]))
        .oauth_token_provider(move || -> Result<OAuthBearerToken, TokenProviderError> {
            std::thread::sleep(Duration::from_millis(800));
            let expires = SystemTime::now() + Duration::from_secs(600);
            Ok(OAuthBearerToken::new(
                unsigned_jwt("dora", 600),
                expires,
                "dora",
            ))
        })
        .build()
        .unwrap();
    write_and_read_back(&p, &broker.plaintext, &topic);
    let m = p.metrics();
    assert!(m.get("connection-creation-total").unwrap() >= 1.0);
    // At most the bootstrap connection, closed once metadata names the broker (as with an
    // instant token); a connection per look at the missing token made it 6 here.
    let closed = m.get("connection-close-total").unwrap();
    assert!(closed <= 1.0, "{closed} connections closed");
    p.close(Duration::from_secs(10));
}

#[test]
fn a_producer_without_a_token_source_is_refused() {
    let cfg = config("127.0.0.1:1", &[]);
    match Producer::<String, String>::new(cfg) {
        Err(Error::Config { property, reason }) => {
            assert_eq!(property, "sasl.jaas.config");
            assert!(reason.contains("oauth_token_provider"), "{reason}");
        }
        other => panic!("expected a config error, got {:?}", other.err()),
    }
    // a provider for a configuration that does not use OAUTHBEARER is a mistake too
    let plain = ProducerConfig::builder()
        .bootstrap_servers("127.0.0.1:1")
        .sasl_plain("alice", "alice-secret")
        .build()
        .unwrap();
    let built = Producer::<String, String>::builder(plain)
        .oauth_token_provider(|| -> Result<OAuthBearerToken, TokenProviderError> {
            Err("unused".into())
        })
        .build();
    match built {
        Err(Error::Config { property, reason }) => {
            assert_eq!(property, "sasl.mechanism");
            assert!(reason.contains("OAUTHBEARER"), "{reason}");
        }
        other => panic!("expected a config error, got {:?}", other.err()),
    }
}

/// OAUTHBEARER over TLS (SASL_SSL), the unsecured login, as a Java properties file has it.
#[cfg(feature = "rustls")]
#[test]
fn unsecured_login_over_sasl_ssl() {
    let broker = support::bootstrap_tls();
    let topic = support::unique_topic("oauth-sasl-ssl");
    support::create_topic(&broker.plaintext, &topic, 1, 1, &[]);
    let text = format!(
        "bootstrap.servers={}\n\
         security.protocol=SASL_SSL\n\
         ssl.truststore.location={}\n\
         sasl.mechanism=OAUTHBEARER\n\
         sasl.jaas.config={MODULE} required unsecuredLoginStringClaim_sub=\"alice\";\n",
        broker.sasl_ssl,
        broker.ca.display()
    );
    let cfg = ProducerConfig::from_properties(ProducerConfig::parse_properties(&text)).unwrap();
    let p: Producer<String, String> = Producer::new(cfg).unwrap();
    for i in 0..100 {
        p.send(ProducerRecord::with_value(topic.as_str(), format!("v{i}")))
            .unwrap()
            .get()
            .expect("acknowledged");
    }
    p.close(Duration::from_secs(10));
    let got = support::consume(&broker.plaintext, &topic, 100, 30_000);
    let values: Vec<String> = got.into_iter().map(|c| c.value).collect();
    assert_eq!(
        values,
        (0..100).map(|i| format!("v{i}")).collect::<Vec<_>>()
    );
}

/// Expired and unsigned tokens on the listener that checks signatures: each record fails with
/// `Error::Authentication` carrying the broker's status and what the token says about itself,
/// long before delivery.timeout.ms (2 minutes).
#[test]
fn expired_and_unsigned_tokens_fail_promptly_with_a_clear_error() {
    let jwks = support::bootstrap_oauth_jwks();
    let topic = support::unique_topic("oauth-refused");
    support::create_topic(&plaintext(), &topic, 1, 1, &[]);
    type MakeToken = Box<dyn Fn() -> OAuthBearerToken + Send + Sync>;
    let cases: [(&str, MakeToken, &str); 2] = [
        (
            "expired",
            Box::new(|| {
                OAuthBearerToken::new(
                    signed_jwt("carol", -120),
                    SystemTime::now() - Duration::from_secs(120),
                    "carol",
                )
            }),
            "EXPIRED",
        ),
        (
            "unsigned",
            Box::new(|| {
                OAuthBearerToken::new(
                    unsigned_jwt("carol", 600),
                    SystemTime::now() + Duration::from_secs(600),
                    "carol",
                )
            }),
            "UNSIGNED",
        ),
    ];
    for (what, make, client_says) in cases {
        let p: Producer<String, String> = Producer::builder(config(
            &jwks,
            &[("delivery.timeout.ms", "120000"), ("max.block.ms", "60000")],
        ))
        .oauth_token_provider(move || -> Result<OAuthBearerToken, TokenProviderError> {
            Ok(make())
        })
        .build()
        .unwrap();
        let started = Instant::now();
        for _ in 0..3 {
            let err = refused(&p, &topic);
            let Error::Authentication { broker, reason, .. } = &err else {
                panic!("{what}: expected an authentication error, got {err:?}");
            };
            assert_eq!(broker, &jwks);
            assert!(
                reason.contains("SASL_AUTHENTICATION_FAILED"),
                "{what}: {reason}"
            );
            assert!(reason.contains("invalid_token"), "{what}: {reason}");
            assert!(reason.contains(client_says), "{what}: {reason}");
            assert_eq!(err.delivery(), Delivery::NotWritten);
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{what}: {:?}",
            started.elapsed()
        );
        p.close(Duration::from_secs(5));
    }
    assert!(support::consume(&plaintext(), &topic, 1, 3_000).is_empty());
}

/// A provider that fails: records fail with its error; once it recovers (retried with
/// sasl.login.retry.backoff.ms), later records are written.
#[test]
fn a_failing_provider_fails_records_then_recovers() {
    let broker = support::bootstrap_sasl();
    let topic = support::unique_topic("oauth-failing");
    support::create_topic(&broker.plaintext, &topic, 1, 1, &[]);
    let down = Arc::new(AtomicBool::new(true));
    let calls = Arc::new(AtomicU32::new(0));
    let (is_down, counted) = (down.clone(), calls.clone());
    let cfg = config(
        &broker.sasl,
        &[
            ("sasl.login.retry.backoff.ms", "50"),
            ("sasl.login.retry.backoff.max.ms", "200"),
        ],
    );
    let p: Producer<String, String> = Producer::builder(cfg)
        .oauth_token_provider(move || -> Result<OAuthBearerToken, TokenProviderError> {
            counted.fetch_add(1, Ordering::SeqCst);
            if is_down.load(Ordering::SeqCst) {
                return Err("the identity provider is down (test)".into());
            }
            let expires = SystemTime::now() + Duration::from_secs(600);
            Ok(OAuthBearerToken::new(
                unsigned_jwt("dave", 600),
                expires,
                "dave",
            ))
        })
        .build()
        .unwrap();
    for _ in 0..3 {
        let err = refused(&p, &topic);
        let Error::Authentication { reason, .. } = &err else {
            panic!("expected an authentication error, got {err:?}");
        };
        assert!(reason.contains("identity provider is down"), "{reason}");
        assert!(reason.contains("token provider failed"), "{reason}");
        assert_eq!(err.delivery(), Delivery::NotWritten);
    }
    // retried with backoff (50 ms, doubling to 200 ms) meanwhile, without any send asking
    let deadline = Instant::now() + Duration::from_secs(30);
    while calls.load(Ordering::SeqCst) < 4 {
        assert!(
            Instant::now() < deadline,
            "the failing provider is not retried"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    down.store(false, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut written = 0;
    let mut last = None;
    while written < 10 {
        assert!(
            Instant::now() < deadline,
            "no record written after the provider recovered; last error {last:?}"
        );
        let sent = p.send(ProducerRecord::with_value(
            topic.as_str(),
            format!("after{written}"),
        ));
        match sent.and_then(|f| f.get()) {
            Ok(_) => written += 1,
            Err(e @ Error::Authentication { .. }) if written == 0 => {
                last = Some(e);
                std::thread::sleep(Duration::from_millis(50))
            }
            Err(e) => panic!("after recovery: {e:?}"),
        }
    }
    p.close(Duration::from_secs(10));
    let got = support::consume(&broker.plaintext, &topic, 10, 30_000);
    let values: Vec<String> = got.into_iter().map(|c| c.value).collect();
    assert_eq!(
        values,
        (0..10).map(|i| format!("after{i}")).collect::<Vec<_>>()
    );
}

/// The OIDC client-credentials login configured as a Java user does, against a token endpoint
/// on loopback, on the listener that checks RS256 signatures against the JWKS.
#[cfg(feature = "oauth-oidc")]
#[test]
fn client_credentials_login_writes_1000_records_on_the_jwks_listener() {
    let jwks = support::bootstrap_oauth_jwks();
    let topic = support::unique_topic("oauth-oidc");
    support::create_topic(&plaintext(), &topic, 3, 1, &[]);
    let endpoint = TokenEndpoint::start("kafka-sync-app", "app-s3cret", 3600);
    let text = format!(
        "bootstrap.servers={jwks}\n\
         security.protocol=SASL_PLAINTEXT\n\
         sasl.mechanism=OAUTHBEARER\n\
         sasl.login.callback.handler.class=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler\n\
         sasl.oauthbearer.token.endpoint.url={}\n\
         sasl.login.connect.timeout.ms=5000\n\
         sasl.login.read.timeout.ms=5000\n\
         sasl.jaas.config={MODULE} required clientId=\"kafka-sync-app\" clientSecret=\"app-s3cret\" \
         scope=\"kafka produce\" extension_logicalCluster=\"lkc-test\";\n",
        endpoint.url
    );
    let cfg = ProducerConfig::from_properties(ProducerConfig::parse_properties(&text)).unwrap();
    assert!(!format!("{cfg:?}").contains("app-s3cret"));
    let p: Producer<String, String> = Producer::new(cfg).unwrap();
    write_and_read_back(&p, &plaintext(), &topic);
    let seen = endpoint.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "one token for the run: {seen:?}");
    let r = &seen[0];
    assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/token"));
    assert_eq!(r.body, "grant_type=client_credentials&scope=kafka+produce");
    assert_eq!(r.content_type, "application/x-www-form-urlencoded");
    assert!(r.authorization.starts_with("Basic "), "{}", r.authorization);
}

/// A wrong client secret: the endpoint's 401 and its RFC 6749 error reach the records.
#[cfg(feature = "oauth-oidc")]
#[test]
fn client_credentials_with_a_wrong_secret_fail_records_with_the_endpoint_s_error() {
    let jwks = support::bootstrap_oauth_jwks();
    let endpoint = TokenEndpoint::start("kafka-sync-app", "app-s3cret", 3600);
    let jaas =
        format!("{MODULE} required clientId=\"kafka-sync-app\" clientSecret=\"bad-secret-42\";");
    let cfg = config(
        &jwks,
        &[
            (
                "sasl.login.callback.handler.class",
                "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler",
            ),
            ("sasl.oauthbearer.token.endpoint.url", &endpoint.url),
            ("sasl.jaas.config", &jaas),
        ],
    );
    let p: Producer<String, String> = Producer::new(cfg).unwrap();
    let err = refused(&p, "oauth-never-created");
    let Error::Authentication { reason, .. } = &err else {
        panic!("expected an authentication error, got {err:?}");
    };
    assert!(reason.contains("HTTP 401"), "{reason}");
    assert!(reason.contains("invalid_client"), "{reason}");
    assert!(!reason.contains("bad-secret-42"), "{reason}");
    p.close(Duration::from_secs(5));
}
