//! SASL authentication (SASL_PLAINTEXT) against the real broker started with
//! `scripts/kafka start --port 9392 --security`: every mechanism writes records that Kafka's own
//! console consumer reads back (through the broker's PLAINTEXT listener), and failures to
//! authenticate fail the sends promptly with `Error::Authentication`.

mod support;

use kafka_sync::{
    Delivery, Error, Producer, ProducerConfig, ProducerRecord, SaslMechanism, SecurityProtocol,
};
use std::collections::HashSet;
use std::time::{Duration, Instant};

const USER: &str = "alice";
const PASSWORD: &str = "alice-secret";
const MECHANISMS: [SaslMechanism; 3] = [
    SaslMechanism::Plain,
    SaslMechanism::ScramSha256,
    SaslMechanism::ScramSha512,
];

fn producer(
    bootstrap: &str,
    mechanism: SaslMechanism,
    password: &str,
    extra: &[(&str, &str)],
) -> Producer<String, String> {
    let mut b = ProducerConfig::builder()
        .bootstrap_servers(bootstrap)
        .sasl_credentials(mechanism, USER, password);
    for (k, v) in extra {
        b = b.set(*k, *v);
    }
    let cfg = b.build().expect("valid config");
    assert_eq!(cfg.security_protocol(), SecurityProtocol::SaslPlaintext);
    assert!(!format!("{cfg:?}").contains(password));
    Producer::new(cfg).expect("producer")
}

fn round_trip(mechanism: SaslMechanism) {
    round_trip_on(&support::bootstrap_sasl(), mechanism);
}

fn round_trip_on(broker: &support::SaslBroker, mechanism: SaslMechanism) {
    let topic = support::unique_topic(&format!("sasl-{}", mechanism.name().to_lowercase()));
    support::create_topic(&broker.plaintext, &topic, 3, 1, &[]);
    let p = producer(&broker.sasl, mechanism, PASSWORD, &[]);
    let n = 1000;
    let futures: Vec<_> = (0..n)
        .map(|i| {
            p.send(ProducerRecord::new(
                topic.as_str(),
                Some(format!("k{}", i % 37)),
                Some(format!("v{i}")),
            ))
            .expect("send")
        })
        .collect();
    for f in futures {
        let md = f.get().expect("acknowledged");
        assert!(md.offset >= 0);
    }
    p.close(Duration::from_secs(10));
    let got = support::consume(&broker.plaintext, &topic, n, 60_000);
    assert_eq!(got.len(), n, "records read back");
    let values: HashSet<String> = got.iter().map(|c| c.value.clone()).collect();
    let want: HashSet<String> = (0..n).map(|i| format!("v{i}")).collect();
    assert_eq!(values, want);
    for c in &got {
        let i: usize = c.value[1..].parse().unwrap();
        assert_eq!(c.key, format!("k{}", i % 37));
    }
}

#[test]
fn plain_writes_1000_records() {
    round_trip(SaslMechanism::Plain);
}

#[test]
fn scram_sha256_writes_1000_records() {
    round_trip(SaslMechanism::ScramSha256);
}

#[test]
fn scram_sha512_writes_1000_records() {
    round_trip(SaslMechanism::ScramSha512);
}

/// Every mechanism on every older broker (`KAFKA_COMPAT_BROKERS`, each started with
/// `--security`; in ZooKeeper mode the SCRAM users were written to ZooKeeper): 1000 records
/// each, read back intact.
#[test]
fn every_mechanism_on_every_compat_broker() {
    support::each_compat_broker(|b| {
        for m in MECHANISMS {
            round_trip_on(&b.sasl_broker(), m);
        }
    });
}

/// A wrong password on every older broker fails every send promptly, "not written".
#[test]
fn wrong_password_on_every_compat_broker() {
    support::each_compat_broker(|b| {
        for m in [SaslMechanism::Plain, SaslMechanism::ScramSha512] {
            wrong_password_fails_promptly_on(&b.sasl_broker(), m, "SASL_AUTHENTICATION_FAILED");
        }
    });
}

/// The JAAS line a Java user would paste works as it is.
#[test]
fn java_properties_with_jaas_config() {
    let broker = support::bootstrap_sasl();
    let topic = support::unique_topic("sasl-jaas");
    support::create_topic(&broker.plaintext, &topic, 1, 1, &[]);
    let text = format!(
        "bootstrap.servers={}\n\
         security.protocol=SASL_PLAINTEXT\n\
         sasl.mechanism=SCRAM-SHA-512\n\
         sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \\\n\
         \x20   username=\"alice\" \\\n\
         \x20   password=\"alice-secret\";\n",
        broker.sasl
    );
    let cfg = ProducerConfig::from_properties(ProducerConfig::parse_properties(&text)).unwrap();
    assert_eq!(cfg.sasl_mechanism(), Some(SaslMechanism::ScramSha512));
    let p: Producer<String, String> = Producer::new(cfg).unwrap();
    let md = p
        .send(ProducerRecord::with_value(
            topic.as_str(),
            "hello".to_string(),
        ))
        .unwrap()
        .get()
        .unwrap();
    assert_eq!(md.offset, 0);
    p.close(Duration::from_secs(10));
    let got = support::consume(&broker.plaintext, &topic, 1, 30_000);
    assert_eq!(got[0].value, "hello");
}

/// Every send fails, each well before `max.block.ms`, with an authentication error that
/// carries the broker's message, and the records are known not to be written.
fn wrong_password_fails_promptly(mechanism: SaslMechanism, broker_says: &str) {
    wrong_password_fails_promptly_on(&support::bootstrap_sasl(), mechanism, broker_says);
}

fn wrong_password_fails_promptly_on(
    broker: &support::SaslBroker,
    mechanism: SaslMechanism,
    broker_says: &str,
) {
    let topic = support::unique_topic("sasl-denied");
    support::create_topic(&broker.plaintext, &topic, 1, 1, &[]);
    let p = producer(
        &broker.sasl,
        mechanism,
        "not-the-password",
        &[("max.block.ms", "60000")],
    );
    for err in support::written::refused_promptly(&p, &topic, 20) {
        match &err {
            Error::Authentication {
                broker: b, reason, ..
            } => {
                assert_eq!(b, &broker.sasl);
                assert!(reason.contains(broker_says), "{mechanism:?}: {reason}");
            }
            other => panic!("{mechanism:?}: expected an authentication error, got {other:?}"),
        }
        assert!(!err.to_string().contains("not-the-password"));
    }
    p.close(Duration::from_secs(5));
    // nothing reached the topic
    let got = support::consume(&broker.plaintext, &topic, 1, 3_000);
    assert!(got.is_empty(), "{got:?}");
}

#[test]
fn wrong_password_plain() {
    wrong_password_fails_promptly(SaslMechanism::Plain, "SASL_AUTHENTICATION_FAILED");
}

#[test]
fn wrong_password_scram_sha256() {
    wrong_password_fails_promptly(SaslMechanism::ScramSha256, "SASL_AUTHENTICATION_FAILED");
}

#[test]
fn wrong_password_scram_sha512() {
    wrong_password_fails_promptly(SaslMechanism::ScramSha512, "SASL_AUTHENTICATION_FAILED");
}

/// SASL_PLAINTEXT pointed at a PLAINTEXT listener: the broker refuses the handshake, and the
/// error says to check security.protocol.
#[test]
fn sasl_against_a_plaintext_listener_is_a_clear_error() {
    let broker = support::bootstrap_sasl();
    let p = producer(&broker.plaintext, SaslMechanism::Plain, PASSWORD, &[]);
    let started = Instant::now();
    let err = p
        .send(ProducerRecord::with_value(
            "sasl-wrong-listener",
            "x".to_string(),
        ))
        .expect_err("no metadata without authentication");
    assert!(started.elapsed() < Duration::from_secs(10));
    match &err {
        Error::Authentication { reason, .. } => {
            assert!(reason.contains("security.protocol"), "{reason}")
        }
        other => panic!("expected an authentication error, got {other:?}"),
    }
    assert_eq!(err.delivery(), Delivery::NotWritten);
    p.close(Duration::from_secs(5));
}

/// All three mechanisms are enabled on the listener; one producer per mechanism, in turn, each
/// authenticating on several connections (bootstrap, then the broker by id).
#[test]
fn every_mechanism_reconnects_by_node_id() {
    let broker = support::bootstrap_sasl();
    let topic = support::unique_topic("sasl-each");
    support::create_topic(&broker.plaintext, &topic, 2, 1, &[]);
    for m in MECHANISMS {
        let p = producer(&broker.sasl, m, PASSWORD, &[]);
        for part in 0..2 {
            p.send(
                ProducerRecord::with_value(topic.as_str(), m.name().to_string())
                    .with_partition(part),
            )
            .unwrap()
            .get()
            .unwrap();
        }
        assert_eq!(p.partitions_for(&topic).unwrap().len(), 2);
        p.close(Duration::from_secs(10));
    }
    let got = support::consume(&broker.plaintext, &topic, 6, 30_000);
    assert_eq!(got.len(), 6);
}

/// Kafka's ConfigCommand on the PLAINTEXT listener (no credentials needed there).
fn config_command(plaintext: &str, args: &[&str]) {
    let mut all = vec![
        "java-class",
        "org.apache.kafka.tools.ConfigCommand",
        "--bootstrap-server",
        plaintext,
    ];
    all.extend_from_slice(args);
    support::kafka_tool(&all, None);
}

/// Authentication that fails on a connection opened after the metadata is known (the user's
/// SCRAM credential deleted in between): the queued record fails at once with
/// `Error::Authentication` and "not written", not after `delivery.timeout.ms`.
#[test]
fn credentials_deleted_after_metadata_fail_queued_records() {
    let broker = support::bootstrap_sasl();
    let topic = support::unique_topic("sasl-revoked");
    support::create_topic(&broker.plaintext, &topic, 1, 1, &[]);
    let user = support::unique_topic("bob");
    let entity = ["--entity-type", "users", "--entity-name", user.as_str()];
    let mut add = vec![
        "--alter",
        "--add-config",
        "SCRAM-SHA-256=[iterations=4096,password=bob-pw]",
    ];
    add.extend_from_slice(&entity);
    config_command(&broker.plaintext, &add);
    let build = |max_block: &str| -> Producer<String, String> {
        let cfg = ProducerConfig::builder()
            .bootstrap_servers(&broker.sasl)
            .sasl_scram_sha256(&user, "bob-pw")
            // no InitProducerId: nothing connects to the broker by id before the send
            .enable_idempotence(false)
            .set("max.block.ms", max_block)
            .build()
            .unwrap();
        Producer::new(cfg).unwrap()
    };
    // The credential may take a moment to reach the broker's cache.
    let p = {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let p = build("60000");
            match p.partitions_for(&topic) {
                Ok(parts) => {
                    assert_eq!(parts.len(), 1);
                    break p;
                }
                Err(Error::Authentication { .. }) if Instant::now() < deadline => {
                    p.close(Duration::from_secs(1));
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => panic!("user {user} never authenticated: {e}"),
            }
        }
    };
    let mut delete = vec!["--alter", "--delete-config", "SCRAM-SHA-256"];
    delete.extend_from_slice(&entity);
    config_command(&broker.plaintext, &delete);
    // Wait until a new connection is refused (checked with another producer).
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let probe = build("5000");
        let r = probe.partitions_for(&topic);
        probe.close(Duration::from_secs(1));
        match r {
            Err(Error::Authentication { .. }) => break,
            _ if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(200)),
            other => panic!("the deleted credential still works: {other:?}"),
        }
    }
    // The metadata is known: the record is queued, then fails when the connection to the
    // leader cannot authenticate.
    let started = Instant::now();
    let err = p
        .send(ProducerRecord::with_value(topic.as_str(), "x".to_string()))
        .expect("queued: the metadata is known")
        .get()
        .expect_err("cannot be written");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(
        matches!(err, Error::Authentication { ref reason, .. } if reason.contains("SASL_AUTHENTICATION_FAILED")),
        "{err:?}"
    );
    assert_eq!(err.delivery(), Delivery::NotWritten);
    p.close(Duration::from_secs(5));
}
