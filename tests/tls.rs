//! TLS (security.protocol SSL and SASL_SSL, cargo feature `rustls`) against the real broker
//! started with `scripts/kafka start --port 9392 --security`: records written over TLS are read
//! back by Kafka's own console consumer on the broker's PLAINTEXT listener; a broker whose
//! certificate is not trusted, or does not name the host connected to, fails every send
//! promptly with a TLS error, and the records are known not to be written.
#![cfg(feature = "tls")]

mod support;

use kafka_sync::{Error, Producer, ProducerConfig, SecurityProtocol};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn other_ca() -> PathBuf {
    support::repo_dir().join("tests/fixtures/tls/other-ca.pem")
}

fn producer(
    bootstrap: &str,
    protocol: SecurityProtocol,
    extra: &[(&str, &str)],
) -> Producer<String, String> {
    let mut b = ProducerConfig::builder()
        .bootstrap_servers(bootstrap)
        .security_protocol(protocol);
    for (k, v) in extra {
        b = b.set(*k, *v);
    }
    let cfg = b.build().expect("valid config");
    assert_eq!(cfg.security_protocol(), protocol);
    Producer::new(cfg).expect("producer")
}

fn write_and_read_back(p: Producer<String, String>, plaintext: &str, topic: &str, n: usize) {
    support::written::write_keyed_and_read_back(&p, plaintext, topic, n);
}

/// SSL with the broker's CA as a PEM file (typed setter), host name checked (127.0.0.1 is in
/// the certificate's subject alternative names).
#[test]
fn ssl_writes_1000_records() {
    let broker = support::bootstrap_tls();
    let topic = support::unique_topic("tls-ssl");
    support::create_topic(&broker.plaintext, &topic, 3, 1, &[]);
    let cfg = ProducerConfig::builder()
        .bootstrap_servers(&broker.ssl)
        .security_protocol(SecurityProtocol::Ssl)
        .ssl_truststore_location(&broker.ca)
        .build()
        .unwrap();
    let p = Producer::new(cfg).unwrap();
    write_and_read_back(p, &broker.plaintext, &topic, 1000);
}

/// SASL_SSL with SCRAM-SHA-512, the CA given inline (`ssl.truststore.certificates`), as Java
/// properties.
#[test]
fn sasl_ssl_scram_sha512_writes_1000_records() {
    let broker = support::bootstrap_tls();
    let topic = support::unique_topic("tls-sasl-ssl");
    support::create_topic(&broker.plaintext, &topic, 3, 1, &[]);
    let pem = std::fs::read_to_string(&broker.ca).unwrap();
    let cfg = ProducerConfig::from_properties([
        ("bootstrap.servers", broker.sasl_ssl.as_str()),
        ("security.protocol", "SASL_SSL"),
        ("sasl.mechanism", "SCRAM-SHA-512"),
        (
            "sasl.jaas.config",
            "org.apache.kafka.common.security.scram.ScramLoginModule required \
             username=\"alice\" password=\"alice-secret\";",
        ),
        ("ssl.truststore.type", "PEM"),
        ("ssl.truststore.certificates", pem.as_str()),
    ])
    .unwrap();
    assert_eq!(cfg.security_protocol(), SecurityProtocol::SaslSsl);
    let p = Producer::new(cfg).unwrap();
    write_and_read_back(p, &broker.plaintext, &topic, 1000);
}

/// The certificate also names `localhost`: connecting by that name verifies too.
#[test]
fn ssl_by_host_name_localhost() {
    let broker = support::bootstrap_tls();
    let topic = support::unique_topic("tls-localhost");
    support::create_topic(&broker.plaintext, &topic, 1, 1, &[]);
    let port = broker.ssl.rsplit_once(':').unwrap().1;
    let ca = broker.ca.to_str().unwrap();
    let p = producer(
        &format!("localhost:{port}"),
        SecurityProtocol::Ssl,
        &[("ssl.truststore.location", ca)],
    );
    write_and_read_back(p, &broker.plaintext, &topic, 10);
}

/// Every send fails within a few seconds (not after max.block.ms), with an error naming the
/// TLS failure; nothing reaches the topic.
fn fails_promptly(bootstrap: &str, protocol: SecurityProtocol, extra: &[(&str, &str)], says: &str) {
    let broker = support::bootstrap_tls();
    let topic = support::unique_topic("tls-refused");
    support::create_topic(&broker.plaintext, &topic, 1, 1, &[]);
    let mut props = vec![("max.block.ms", "60000")];
    props.extend_from_slice(extra);
    let p = producer(bootstrap, protocol, &props);
    for err in support::written::refused_promptly(&p, &topic, 10) {
        match &err {
            Error::Authentication {
                broker: b, reason, ..
            } => {
                assert_eq!(b, bootstrap);
                assert!(reason.contains("TLS"), "{reason}");
                assert!(reason.contains(says), "{reason}");
            }
            other => panic!("expected a TLS (authentication) error, got {other:?}"),
        }
    }
    p.close(Duration::from_secs(5));
    let got = support::consume(&broker.plaintext, &topic, 1, 3_000);
    assert!(got.is_empty(), "{got:?}");
}

/// No truststore: the public CAs are trusted, and the broker's self-made CA is not one.
#[test]
fn ssl_without_the_ca_fails_promptly() {
    let broker = support::bootstrap_tls();
    fails_promptly(&broker.ssl, SecurityProtocol::Ssl, &[], "UnknownIssuer");
}

/// A CA that did not sign the broker's certificate.
#[test]
fn ssl_with_another_ca_fails_promptly() {
    let broker = support::bootstrap_tls();
    let other = other_ca();
    fails_promptly(
        &broker.ssl,
        SecurityProtocol::Ssl,
        &[("ssl.truststore.location", other.to_str().unwrap())],
        "UnknownIssuer",
    );
}

/// SASL_SSL: the TLS failure comes before any SASL exchange.
#[test]
fn sasl_ssl_with_another_ca_fails_promptly() {
    let broker = support::bootstrap_tls();
    let other = other_ca();
    fails_promptly(
        &broker.sasl_ssl,
        SecurityProtocol::SaslSsl,
        &[
            ("ssl.truststore.location", other.to_str().unwrap()),
            ("sasl.mechanism", "PLAIN"),
            (
                "sasl.jaas.config",
                "org.apache.kafka.common.security.plain.PlainLoginModule required \
                 username=\"alice\" password=\"alice-secret\";",
            ),
        ],
        "UnknownIssuer",
    );
}

/// A TCP forwarder on the IPv6 loopback to `target`: reached as `[::1]`, a name the broker's
/// certificate does not carry. One thread pair per connection; runs until the process ends.
fn ipv6_forwarder(target: &str) -> String {
    let listener = TcpListener::bind("[::1]:0")
        .expect("these tests need the IPv6 loopback address ::1 to reach the broker by a name its certificate lacks");
    let port = listener.local_addr().unwrap().port();
    let target = target.to_string();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { continue };
            let Ok(server) = TcpStream::connect(&target) else {
                continue;
            };
            let pipe = |mut from: TcpStream, mut to: TcpStream| {
                std::thread::spawn(move || {
                    let mut buf = [0u8; 16 * 1024];
                    while let Ok(n) = from.read(&mut buf) {
                        if n == 0 || to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = to.shutdown(Shutdown::Write);
                });
            };
            pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
            pipe(server, client);
        }
    });
    format!("[::1]:{port}")
}

/// Reached as ::1, which the certificate does not name: refused while the host name is
/// checked (the default, `ssl.endpoint.identification.algorithm=https`).
#[test]
fn host_name_mismatch_fails_promptly() {
    let broker = support::bootstrap_tls();
    let via = ipv6_forwarder(&broker.ssl);
    let ca = broker.ca.to_str().unwrap();
    fails_promptly(
        &via,
        SecurityProtocol::Ssl,
        &[("ssl.truststore.location", ca)],
        "not valid for name",
    );
}

/// The same name with host name verification off (`ssl.endpoint.identification.algorithm=`):
/// the chain is still verified, so it works with the right CA and fails with another.
#[test]
fn host_name_verification_disabled() {
    let broker = support::bootstrap_tls();
    let via = ipv6_forwarder(&broker.ssl);
    let topic = support::unique_topic("tls-no-hostname");
    support::create_topic(&broker.plaintext, &topic, 2, 1, &[]);
    let cfg = ProducerConfig::builder()
        .bootstrap_servers(&via)
        .security_protocol(SecurityProtocol::Ssl)
        .ssl_truststore_location(&broker.ca)
        .ssl_endpoint_identification(false)
        .build()
        .unwrap();
    let p = Producer::new(cfg).unwrap();
    write_and_read_back(p, &broker.plaintext, &topic, 100);

    let other = other_ca();
    fails_promptly(
        &via,
        SecurityProtocol::Ssl,
        &[
            ("ssl.truststore.location", other.to_str().unwrap()),
            ("ssl.endpoint.identification.algorithm", ""),
        ],
        "UnknownIssuer",
    );
}

/// A client certificate (PEM keystore) is loaded and offered; this broker does not ask for
/// one, so records go through.
#[test]
fn ssl_with_a_client_certificate() {
    let broker = support::bootstrap_tls();
    let topic = support::unique_topic("tls-client-cert");
    support::create_topic(&broker.plaintext, &topic, 1, 1, &[]);
    let keystore = support::repo_dir().join("tests/fixtures/tls/client-keystore.pem");
    let cfg = ProducerConfig::builder()
        .bootstrap_servers(&broker.ssl)
        .security_protocol(SecurityProtocol::Ssl)
        .ssl_truststore_location(&broker.ca)
        .ssl_keystore_location(Path::new(&keystore))
        .build()
        .unwrap();
    let p = Producer::new(cfg).unwrap();
    write_and_read_back(p, &broker.plaintext, &topic, 10);
}
