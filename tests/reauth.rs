//! KIP-368 re-authentication against the real broker started with
//! `scripts/kafka start --port 9392 --security`: on its REAUTH listener (port+5,
//! `connections.max.reauth.ms=10000`) a 60-second stream at 5000 records/s per mechanism
//! renews its session at least 5 times on the same connection, and every record is written
//! once, in order (idempotent producer, acks=all), none failed, as Kafka's console consumer
//! reads them back. On the SASL listener without a session lifetime (port+2) nothing is
//! renewed and nothing else changes. Each older broker of `KAFKA_COMPAT_BROKERS` renews too
//! (a shorter stream on its REAUTH listener).
//!
//! The mechanisms run at once, one thread each (stream, then read back): the test takes about
//! a minute and a half, not six.
//! The mechanisms are PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 and OAUTHBEARER (Java's unsecured
//! login): see [`reauth_mechanisms`]; [`stream`] takes the properties and nothing else.

mod support;

use kafka_sync::{Producer, ProducerConfig, ProducerRecord, SendFuture};
use std::time::{Duration, Instant};

/// A mechanism under test: its name (for topics and messages) and the SASL properties a Java
/// user would set (`security.protocol` is added).
struct Sasl {
    name: &'static str,
    properties: Vec<(&'static str, String)>,
}

fn jaas(module: &str) -> String {
    format!("{module} required username=\"alice\" password=\"alice-secret\";")
}

fn plain() -> Sasl {
    Sasl {
        name: "plain",
        properties: vec![
            ("sasl.mechanism", "PLAIN".into()),
            (
                "sasl.jaas.config",
                jaas("org.apache.kafka.common.security.plain.PlainLoginModule"),
            ),
        ],
    }
}

fn scram(bits: u32) -> Sasl {
    Sasl {
        name: if bits == 256 {
            "scram-256"
        } else {
            "scram-512"
        },
        properties: vec![
            ("sasl.mechanism", format!("SCRAM-SHA-{bits}")),
            (
                "sasl.jaas.config",
                jaas("org.apache.kafka.common.security.scram.ScramLoginModule"),
            ),
        ],
    }
}

/// OAUTHBEARER with Java's unsecured login (the broker's unsecured validator on the REAUTH
/// listener); each re-authentication takes the login thread's current token.
fn oauthbearer() -> Sasl {
    Sasl {
        name: "oauthbearer",
        properties: vec![
            ("sasl.mechanism", "OAUTHBEARER".into()),
            (
                "sasl.jaas.config",
                "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required \
                 unsecuredLoginStringClaim_sub=\"alice\";"
                    .into(),
            ),
        ],
    }
}

/// The mechanisms streamed through the REAUTH listener.
fn reauth_mechanisms() -> Vec<Sasl> {
    vec![plain(), scram(256), scram(512), oauthbearer()]
}

/// What one stream saw, from the producer's metrics.
#[derive(Debug)]
struct Streamed {
    name: &'static str,
    topic: String,
    records: usize,
    /// `successful-reauthentication-total` at the end.
    reauthentications: f64,
    /// `connection-creation-total` once the first record was written, and at the end.
    connections: (f64, f64),
    failed_reauthentications: f64,
    record_errors: f64,
    /// `reauthentication-latency-max` (ms) over the last window, for the log.
    latency_max: f64,
}

/// Streams `rate` records/s for `secs` seconds to a new one-partition topic through `bootstrap`
/// with `sasl`'s properties (idempotent, acks=all), paced 50 records at a time; every record
/// must be acknowledged. Keys are the record's number, values `<name>-<number>`.
fn stream(broker: &support::SaslBroker, sasl: &Sasl, rate: usize, secs: u64) -> Streamed {
    let topic = support::unique_topic(&format!("reauth-{}", sasl.name));
    support::create_topic(&broker.plaintext, &topic, 1, 1, &[]);
    let mut b = ProducerConfig::builder()
        .bootstrap_servers(&broker.sasl)
        .set("security.protocol", "SASL_PLAINTEXT")
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("linger.ms", "5");
    for (k, v) in &sasl.properties {
        b = b.set(*k, v.as_str());
    }
    let p: Producer<String, String> = Producer::new(b.build().expect("config")).expect("producer");
    let record = |i: usize| {
        ProducerRecord::new(
            topic.as_str(),
            Some(i.to_string()),
            Some(format!("{}-{i}", sasl.name)),
        )
    };
    // Connected and authenticated before the count of connections is taken.
    p.send(record(0))
        .expect("send")
        .get()
        .expect("the first record written");
    let metric = |n: &str| {
        p.metrics()
            .get(n)
            .unwrap_or_else(|| panic!("no metric {n}"))
    };
    let connections_first = metric("connection-creation-total");
    let n = rate * secs as usize;
    let step = Duration::from_secs_f64(50.0 / rate as f64);
    let start = Instant::now();
    let mut futures: Vec<SendFuture> = Vec::with_capacity(n);
    for i in 1..n {
        futures.push(p.send(record(i)).expect("send"));
        if i % 50 == 0 {
            let due = start + step * (i / 50) as u32;
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
    }
    for (i, f) in futures.into_iter().enumerate() {
        if let Err(e) = f.get() {
            panic!("{}: record {} failed: {e}", sasl.name, i + 1);
        }
    }
    let streamed = Streamed {
        name: sasl.name,
        topic: topic.clone(),
        records: n,
        reauthentications: metric("successful-reauthentication-total"),
        connections: (connections_first, metric("connection-creation-total")),
        failed_reauthentications: metric("failed-reauthentication-total"),
        record_errors: metric("record-error-total"),
        latency_max: metric("reauthentication-latency-max"),
    };
    p.close(Duration::from_secs(30));
    streamed
}

/// Kafka's console consumer reads every record of the stream once, in order.
fn read_back_in_order(broker: &support::SaslBroker, s: &Streamed) {
    let got = support::consume(&broker.plaintext, &s.topic, s.records, 60_000);
    assert_eq!(got.len(), s.records, "{}: records read back", s.name);
    for (i, c) in got.iter().enumerate() {
        let want = (i as i64, i.to_string(), format!("{}-{i}", s.name));
        let seen = (c.offset, c.key.clone(), c.value.clone());
        assert_eq!(seen, want, "{}: record at position {i}", s.name);
    }
}

/// Each mechanism in its own thread, at once: streamed, then read back.
fn stream_all(
    broker: &support::SaslBroker,
    mechanisms: Vec<Sasl>,
    rate: usize,
    secs: u64,
) -> Vec<Streamed> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = mechanisms
            .iter()
            .map(|m| {
                scope.spawn(move || {
                    let s = stream(broker, m, rate, secs);
                    read_back_in_order(broker, &s);
                    s
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

#[test]
fn a_minute_at_5000_records_per_second_renews_sessions_on_the_same_connections() {
    let broker = support::bootstrap_reauth();
    for s in stream_all(&broker, reauth_mechanisms(), 5000, 60) {
        eprintln!("{s:?}");
        assert!(
            s.reauthentications >= 5.0,
            "{}: {} re-authentications in 60 s of 10 s sessions",
            s.name,
            s.reauthentications
        );
        assert_eq!(
            s.connections.0, s.connections.1,
            "{}: no new connection after the first",
            s.name
        );
        assert_eq!(s.failed_reauthentications, 0.0, "{}", s.name);
        assert_eq!(s.record_errors, 0.0, "{}", s.name);
        assert!(
            s.latency_max > 0.0,
            "{}: the last renewal's latency",
            s.name
        );
    }
}

/// Each older broker's REAUTH listener (KIP-368 is Kafka 2.2+): the four mechanisms at once,
/// 25 seconds at 1000 records/s each, renew at least twice on the same connections, nothing
/// failed, everything read back once and in order.
#[test]
fn sessions_are_renewed_on_every_compat_broker() {
    support::each_compat_broker(|b| {
        for s in stream_all(&b.reauth_broker(), reauth_mechanisms(), 1000, 25) {
            eprintln!("Kafka {}: {s:?}", b.version);
            assert!(
                s.reauthentications >= 2.0,
                "{}: {}",
                s.name,
                s.reauthentications
            );
            assert_eq!(s.connections.0, s.connections.1, "{}", s.name);
            assert_eq!(s.failed_reauthentications, 0.0, "{}", s.name);
            assert_eq!(s.record_errors, 0.0, "{}", s.name);
        }
    });
}

#[test]
fn without_a_session_lifetime_nothing_is_renewed() {
    let broker = support::bootstrap_sasl();
    let streams = stream_all(&broker, vec![plain()], 2000, 15);
    for s in streams {
        eprintln!("{s:?}");
        assert_eq!(s.reauthentications, 0.0, "{}", s.name);
        assert!(s.latency_max.is_nan(), "{}: no renewal, no latency", s.name);
        assert_eq!(s.failed_reauthentications, 0.0, "{}", s.name);
        assert_eq!(s.connections.0, s.connections.1, "{}", s.name);
        assert_eq!(s.record_errors, 0.0, "{}", s.name);
    }
}
