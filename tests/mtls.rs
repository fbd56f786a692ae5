//! Client certificates (mTLS) against the real broker's `MTLS` listener (SSL with
//! `ssl.client.auth=required`), from `scripts/kafka start --port 9392 --security`: the client
//! key as a Java user passes it (keytool's PKCS12 `client.p12`: type, location, password), as
//! PEM (certificate and key), as an encrypted PKCS#8 key with `ssl.key.password`, inline; a JKS
//! store is refused with the keytool command converting it, and a client without a
//! certificate is refused by the broker with an error saying so. Records written are read back
//! by Kafka's console consumer on the broker's PLAINTEXT listener. The PKCS12 store and the
//! refusal are also checked on each older broker of `KAFKA_COMPAT_BROKERS` (their MTLS
//! listener on port + 7).
#![cfg(feature = "tls")]

mod support;

use kafka_sync::{Error, Producer, ProducerConfig};
use std::time::Duration;
use support::MtlsBroker;

/// Java-style properties for the MTLS listener, trusting the broker's certificate.
fn config(broker: &MtlsBroker, extra: &[(&str, &str)]) -> Result<ProducerConfig, Error> {
    let ca = broker.ca.to_str().unwrap().to_string();
    let mut props = vec![
        ("bootstrap.servers", broker.mtls.clone()),
        ("security.protocol", "SSL".to_string()),
        ("ssl.truststore.location", ca),
        ("ssl.truststore.type", "PEM".to_string()),
    ];
    props.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    ProducerConfig::from_properties(props)
}

/// Writes `n` records through `cfg` and reads them back from the PLAINTEXT listener.
fn write_and_read_back(broker: &MtlsBroker, cfg: ProducerConfig, prefix: &str, n: usize) {
    let topic = support::unique_topic(prefix);
    support::create_topic(&broker.plaintext, &topic, 2, 1, &[]);
    let p: Producer<String, String> = Producer::new(cfg).expect("producer");
    support::written::write_keyed_and_read_back(&p, &broker.plaintext, &topic, n);
}

/// The PKCS12 store at `location` (password changeit) with `extra` properties.
fn pkcs12_config(broker: &MtlsBroker, location: &str, extra: &[(&str, &str)]) -> ProducerConfig {
    let mut props = vec![
        ("ssl.keystore.type", "PKCS12"),
        ("ssl.keystore.location", location),
        ("ssl.keystore.password", "changeit"),
    ];
    props.extend_from_slice(extra);
    config(broker, &props).unwrap()
}

/// keytool's `client.p12`, passed as Java users do (type, location, both passwords).
fn keytool_p12_config(broker: &MtlsBroker) -> ProducerConfig {
    let p12 = broker.file("client.p12");
    pkcs12_config(broker, &p12, &[("ssl.key.password", "changeit")])
}

/// keytool's `client.p12`, passed as Java users do.
#[test]
fn pkcs12_key_store_made_by_keytool() {
    let broker = support::bootstrap_mtls();
    write_and_read_back(&broker, keytool_p12_config(&broker), "mtls-p12", 500);
}

/// The same store with the type left to its default (JKS in Java, read by content) and the
/// trust store as PKCS12 too (the broker's certificate imported with keytool).
#[test]
fn pkcs12_with_default_types() {
    let broker = support::bootstrap_mtls();
    let p12 = broker.file("client.p12");
    let dir = std::env::temp_dir().join(format!("kafka-sync-mtls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let trust = dir.join("broker-trust.p12");
    let _ = std::fs::remove_file(&trust);
    let out = std::process::Command::new("keytool")
        .args([
            "-importcert",
            "-noprompt",
            "-alias",
            "broker",
            "-storetype",
            "PKCS12",
        ])
        .arg("-file")
        .arg(&broker.ca)
        .arg("-keystore")
        .arg(&trust)
        .args(["-storepass", "changeit"])
        .output()
        .expect("keytool (Java 17+, which scripts/kafka needs too)");
    assert!(out.status.success(), "{out:?}");
    let cfg = ProducerConfig::from_properties([
        ("bootstrap.servers", broker.mtls.as_str()),
        ("security.protocol", "SSL"),
        ("ssl.truststore.location", trust.to_str().unwrap()),
        ("ssl.truststore.password", "changeit"),
        ("ssl.keystore.location", &p12),
        ("ssl.keystore.password", "changeit"),
    ])
    .unwrap();
    write_and_read_back(&broker, cfg, "mtls-p12-default", 100);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// PEM certificate and unencrypted key, as one key store file and inline.
#[test]
fn pem_certificate_and_key() {
    let broker = support::bootstrap_mtls();
    let cert = std::fs::read_to_string(broker.file("client.pem")).unwrap();
    let key = std::fs::read_to_string(broker.file("client.key")).unwrap();
    let cfg = config(
        &broker,
        &[
            ("ssl.keystore.type", "PEM"),
            ("ssl.keystore.certificate.chain", &cert),
            ("ssl.keystore.key", &key),
        ],
    )
    .unwrap();
    write_and_read_back(&broker, cfg, "mtls-pem-inline", 300);

    let dir = std::env::temp_dir().join(format!("kafka-sync-mtls-pem-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let both = dir.join("client-keystore.pem");
    std::fs::write(&both, format!("{cert}{key}")).unwrap();
    let cfg = config(
        &broker,
        &[
            ("ssl.keystore.type", "PEM"),
            ("ssl.keystore.location", both.to_str().unwrap()),
        ],
    )
    .unwrap();
    write_and_read_back(&broker, cfg, "mtls-pem-file", 300);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The encrypted PKCS#8 key with `ssl.key.password`, inline and in a key store file; a
/// wrong password fails the configuration, naming `ssl.key.password`.
#[test]
fn encrypted_pkcs8_key_with_key_password() {
    let broker = support::bootstrap_mtls();
    let cert = std::fs::read_to_string(broker.file("client.pem")).unwrap();
    let key = std::fs::read_to_string(broker.file("client-encrypted.key")).unwrap();
    assert!(key.contains("BEGIN ENCRYPTED PRIVATE KEY"));
    let cfg = config(
        &broker,
        &[
            ("ssl.keystore.type", "PEM"),
            ("ssl.keystore.certificate.chain", &cert),
            ("ssl.keystore.key", &key),
            ("ssl.key.password", "changeit"),
        ],
    )
    .unwrap();
    write_and_read_back(&broker, cfg, "mtls-encrypted", 300);

    match config(
        &broker,
        &[
            ("ssl.keystore.certificate.chain", &cert),
            ("ssl.keystore.key", &key),
            ("ssl.key.password", "not-changeit"),
        ],
    ) {
        Err(Error::Config { property, reason }) => {
            assert_eq!(property, "ssl.key.password");
            assert!(reason.contains("does not decrypt"), "{reason}");
        }
        other => panic!("expected a config error, got {other:?}"),
    }
}

/// JKS: refused at construction with the keytool command converting it; the converted store
/// then works.
#[test]
fn jks_key_store_says_how_to_convert() {
    let broker = support::bootstrap_mtls();
    let jks = broker.file("client.jks");
    let err = config(
        &broker,
        &[
            ("ssl.keystore.type", "JKS"),
            ("ssl.keystore.location", &jks),
            ("ssl.keystore.password", "changeit"),
        ],
    )
    .expect_err("JKS is not read");
    let Error::Config { property, reason } = err else {
        panic!("expected a config error, got {err:?}")
    };
    assert_eq!(property, "ssl.keystore.location");
    let command = reason
        .split("with: ")
        .nth(1)
        .and_then(|r| r.split(" and set").next())
        .unwrap_or_else(|| panic!("no command in: {reason}"));
    assert!(
        command.starts_with("keytool -importkeystore -srckeystore "),
        "{reason}"
    );
    // Run the command the error gives (keytool prompts for the passwords: give them).
    let dir = std::env::temp_dir().join(format!("kafka-sync-jks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let copy = dir.join("client.jks");
    std::fs::copy(&jks, &copy).unwrap();
    let copy = copy.to_str().unwrap();
    let jks_dir = std::path::Path::new(&jks)
        .parent()
        .unwrap()
        .to_str()
        .unwrap();
    let command = command.replace(jks_dir, dir.to_str().unwrap());
    let converted = copy.replace(".jks", ".p12");
    assert!(
        command.contains(&format!("-srckeystore {copy} ")),
        "{command}"
    );
    assert!(
        command.contains(&format!("-destkeystore {converted} ")),
        "{command}"
    );
    let _ = std::fs::remove_file(&converted);
    let mut args = command.split(' ').skip(1).collect::<Vec<_>>();
    args.extend([
        "-srcstorepass",
        "changeit",
        "-deststorepass",
        "changeit",
        "-noprompt",
    ]);
    let out = std::process::Command::new("keytool")
        .args(&args)
        .output()
        .expect("keytool");
    assert!(out.status.success(), "{command}: {out:?}");
    let cfg = pkcs12_config(&broker, &converted, &[]);
    write_and_read_back(&broker, cfg, "mtls-jks-converted", 100);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// No client certificate: the broker refuses the session; every send fails promptly with an
/// authentication error saying the broker requires a client certificate, nothing written.
#[test]
fn without_a_client_certificate_is_refused() {
    refused_without_a_certificate(&support::bootstrap_mtls());
}

/// keytool's `client.p12` accepted and a client without a certificate refused, on each older
/// broker (2.8.2, 3.3.2, 3.9.1, 4.0.2). Kafka 2.8.2's refusal of a TLS 1.3 session arrives as
/// an alert the client cannot decrypt; the error still says what to set.
#[test]
fn client_certificates_on_every_compat_broker() {
    support::each_compat_broker(|b| {
        let broker = b.mtls_broker();
        write_and_read_back(&broker, keytool_p12_config(&broker), "mtls-compat", 50);
        refused_without_a_certificate(&broker);
    });
}

fn refused_without_a_certificate(broker: &MtlsBroker) {
    let topic = support::unique_topic("mtls-refused");
    support::create_topic(&broker.plaintext, &topic, 1, 1, &[]);
    let cfg = config(broker, &[("max.block.ms", "60000")]).unwrap();
    let p: Producer<String, String> = Producer::new(cfg).unwrap();
    for err in support::written::refused_promptly(&p, &topic, 5) {
        match &err {
            Error::Authentication { reason, .. } => {
                assert!(reason.contains("requires a client certificate"), "{reason}");
                assert!(reason.contains("ssl.keystore.location"), "{reason}");
            }
            other => panic!("expected an authentication error, got {other:?}"),
        }
    }
    p.close(Duration::from_secs(5));
    assert!(support::consume(&broker.plaintext, &topic, 1, 3_000).is_empty());
}
