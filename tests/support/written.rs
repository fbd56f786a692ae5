//! What the security tests check after writing through a secured listener: every record read
//! back intact by Kafka's console consumer, or every record refused promptly and not written.

use kafka_sync::{Delivery, Error, Producer, ProducerRecord};
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// Sends `n` keyed records (`k{i % 37}`, `v{i}`), waits for every acknowledgement, closes `p`,
/// and checks that the console consumer on `plaintext` reads each record back once, with its key.
pub fn write_keyed_and_read_back(
    p: &Producer<String, String>,
    plaintext: &str,
    topic: &str,
    n: usize,
) {
    let futures: Vec<_> = (0..n)
        .map(|i| {
            p.send(ProducerRecord::new(
                topic,
                Some(format!("k{}", i % 37)),
                Some(format!("v{i}")),
            ))
            .expect("send")
        })
        .collect();
    for f in futures {
        assert!(f.get().expect("acknowledged").offset >= 0);
    }
    p.close(Duration::from_secs(10));
    let got = super::consume(plaintext, topic, n, 60_000);
    assert_eq!(got.len(), n, "records read back");
    let values: HashSet<String> = got.iter().map(|c| c.value.clone()).collect();
    assert_eq!(values, (0..n).map(|i| format!("v{i}")).collect());
    for c in &got {
        let i: usize = c.value[1..].parse().unwrap();
        assert_eq!(c.key, format!("k{}", i % 37));
    }
}

/// Sends `n` records that must each be refused within 10 s (all of them within 20 s), "not
/// written" and not retriable; returns the errors for the caller to check what they say.
pub fn refused_promptly(p: &Producer<String, String>, topic: &str, n: usize) -> Vec<Error> {
    let started = Instant::now();
    let errors: Vec<Error> = (0..n)
        .map(|i| {
            let sent = Instant::now();
            let err = match p.send(ProducerRecord::with_value(topic, format!("v{i}"))) {
                Err(e) => e,
                Ok(f) => f.get().expect_err("must not be written"),
            };
            assert!(
                sent.elapsed() < Duration::from_secs(10),
                "send {i} took {:?}",
                sent.elapsed()
            );
            assert_eq!(err.delivery(), Delivery::NotWritten, "{err}");
            assert!(!err.is_retriable(), "{err}");
            err
        })
        .collect();
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    errors
}
