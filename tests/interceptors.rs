//! Producer interceptors against the real single-node broker: `on_send` sees (and may change)
//! every record before it is partitioned, `on_acknowledgement` hears every record's answer
//! exactly once (successes, broker refusals, errors `send` returns, close and drop), and a
//! panicking interceptor changes nothing else. What was written is read back with Kafka's
//! console consumer.

mod support;

use kafka_sync::{
    partition_for_key, Acknowledgement, Error, Header, InterceptorError, Producer, ProducerConfig,
    ProducerInterceptor, ProducerRecord, RecordMetadata,
};
use parking_lot::Mutex;
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What an interceptor heard: `on_send` count, every acknowledgement, and whether (and after
/// how many acknowledgements) `close` ran.
#[derive(Default)]
struct Heard {
    sent: AtomicUsize,
    written: Mutex<Vec<RecordMetadata>>,
    failed: Mutex<Vec<(String, Option<i32>, String)>>,
    closed_after: Mutex<Vec<usize>>,
}

impl Heard {
    fn acks(&self) -> usize {
        self.written.lock().len() + self.failed.lock().len()
    }
}

/// Prefixes the key with `new-` and adds a `trace` header numbering the record.
struct Rekey {
    heard: Arc<Heard>,
}

impl ProducerInterceptor<String, String> for Rekey {
    fn on_send(&self, r: &mut ProducerRecord<String, String>) -> Result<(), InterceptorError> {
        let n = self.heard.sent.fetch_add(1, Ordering::SeqCst);
        if let Some(k) = &mut r.key {
            k.insert_str(0, "new-");
        }
        r.headers.push(Header::new("trace", format!("t-{n}")));
        Ok(())
    }
    fn on_acknowledgement(&self, ack: &Acknowledgement<'_>) -> Result<(), InterceptorError> {
        record(&self.heard, ack);
        Ok(())
    }
    fn close(&self) {
        self.heard.closed_after.lock().push(self.heard.acks());
    }
}

fn record(heard: &Heard, ack: &Acknowledgement<'_>) {
    match ack {
        Acknowledgement::Written(md) => heard.written.lock().push((*md).clone()),
        Acknowledgement::Failed {
            topic,
            partition,
            error,
        } => heard
            .failed
            .lock()
            .push((topic.to_string(), *partition, format!("{error:?}"))),
    }
}

/// Only listens.
struct Listen {
    heard: Arc<Heard>,
}

impl ProducerInterceptor<String, String> for Listen {
    fn on_send(&self, _: &mut ProducerRecord<String, String>) -> Result<(), InterceptorError> {
        self.heard.sent.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    fn on_acknowledgement(&self, ack: &Acknowledgement<'_>) -> Result<(), InterceptorError> {
        record(&self.heard, ack);
        Ok(())
    }
    fn close(&self) {
        self.heard.closed_after.lock().push(self.heard.acks());
    }
}

const CHANGED_TIMESTAMP: i64 = 1_600_000_000_000;

/// Panics in everything it does; or changes the record in everything it does; or returns an error.
struct Faulty {
    panics: bool,
}

impl ProducerInterceptor<String, String> for Faulty {
    fn on_send(&self, r: &mut ProducerRecord<String, String>) -> Result<(), InterceptorError> {
        if self.panics {
            panic!("a faulty interceptor (test)");
        }
        // A change, then an error: the change stays (as documented), the record goes on.
        r.timestamp = Some(CHANGED_TIMESTAMP);
        Err("refused by a faulty interceptor (test)".into())
    }
    fn on_acknowledgement(&self, _: &Acknowledgement<'_>) -> Result<(), InterceptorError> {
        if self.panics {
            panic!("a faulty interceptor (test)");
        }
        Err("refused by a faulty interceptor (test)".into())
    }
    fn close(&self) {
        if self.panics {
            panic!("a faulty interceptor (test)");
        }
    }
}

fn config(bootstrap: &str, extra: &[(&str, &str)]) -> ProducerConfig {
    let mut b = ProducerConfig::builder().bootstrap_servers(bootstrap);
    for (k, v) in extra {
        b = b.set(*k, *v);
    }
    b.build().expect("valid config")
}

#[test]
fn on_send_changes_the_key_and_headers_before_partitioning() {
    let bs = support::bootstrap();
    let topic = support::unique_topic("icpt-rekey");
    support::create_topic(&bs, &topic, 6, 1, &[]);
    let heard = Arc::new(Heard::default());
    let producer: Producer<String, String> = Producer::builder(config(&bs, &[]))
        .interceptor(Rekey {
            heard: heard.clone(),
        })
        .build()
        .unwrap();
    const N: usize = 60;
    let futures: Vec<_> = (0..N)
        .map(|i| {
            let r = ProducerRecord::new(&topic, Some(format!("k{i}")), Some(format!("v{i}")));
            producer.send(r).unwrap()
        })
        .collect();
    let mut moved = 0;
    for (i, f) in futures.iter().enumerate() {
        let md = f.get().unwrap();
        let new_key = format!("new-k{i}");
        assert_eq!(
            md.partition,
            partition_for_key(new_key.as_bytes(), 6),
            "record {i}"
        );
        assert_eq!(md.serialized_key_size, new_key.len() as i32);
        if md.partition != partition_for_key(format!("k{i}").as_bytes(), 6) {
            moved += 1;
        }
    }
    assert!(
        moved > 0,
        "some records landed elsewhere than their old key's partition"
    );
    drop(producer);
    assert_eq!(heard.sent.load(Ordering::SeqCst), N);
    assert_eq!(heard.written.lock().len(), N);
    assert_eq!(
        *heard.closed_after.lock(),
        vec![N],
        "closed once, after every answer"
    );

    let read = support::consume(&bs, &topic, N, 30_000);
    assert_eq!(read.len(), N);
    let mut seen = HashSet::new();
    for c in read {
        let i: usize = c.value[1..].parse().unwrap();
        assert_eq!(c.key, format!("new-k{i}"));
        // The header numbers the record in on_send order (sends are sequential here).
        assert_eq!(c.headers, format!("trace:t-{i}"));
        assert!(seen.insert(i));
    }
}

#[test]
fn on_acknowledgement_hears_every_record_once_whatever_its_answer() {
    let bs = support::bootstrap();
    let topic = support::unique_topic("icpt-acks");
    support::create_topic(&bs, &topic, 2, 1, &["--config", "max.message.bytes=1000"]);
    let heard = Arc::new(Heard::default());
    let cfg = config(&bs, &[("max.request.size", "20000"), ("linger.ms", "20")]);
    let producer: Producer<String, String> = Producer::builder(cfg)
        .interceptor(Listen {
            heard: heard.clone(),
        })
        .build()
        .unwrap();
    // Each record's callback checks that the interceptor heard the answer before it.
    let callbacks = Arc::new(AtomicUsize::new(0));
    let check = |expect_ok: bool| {
        let (heard, callbacks) = (heard.clone(), callbacks.clone());
        move |r: Result<RecordMetadata, Error>| {
            let before = heard.acks();
            match &r {
                Ok(md) => assert!(heard.written.lock().contains(md)),
                Err(_) => assert!(before > 0),
            }
            assert_eq!(r.is_ok(), expect_ok, "{r:?}");
            callbacks.fetch_add(1, Ordering::SeqCst);
        }
    };
    let mut ok = Vec::new();
    let mut refused = Vec::new();
    for i in 0..20 {
        let small = ProducerRecord::new(&topic, Some(format!("k{i}")), Some(format!("v{i}")));
        let big = ProducerRecord::with_value(&topic, "x".repeat(3000)).with_partition(i % 2);
        if i % 2 == 0 {
            ok.push(producer.send(small).unwrap());
            refused.push(producer.send(big).unwrap());
        } else {
            ok.push(producer.send_with_callback(small, check(true)).unwrap());
            refused.push(producer.send_with_callback(big, check(false)).unwrap());
        }
    }
    // Errors `send` returns: the interceptors hear them too, with the partition asked for.
    let too_large = ProducerRecord::with_value(&topic, "y".repeat(30_000)).with_partition(1);
    assert!(matches!(
        producer.send(too_large),
        Err(Error::RecordTooLarge { .. })
    ));
    let bad_topic = ProducerRecord::with_value("not a topic!", "v".to_string());
    assert!(matches!(
        producer.send_with_callback(bad_topic, |_| panic!("not called")),
        Err(Error::InvalidTopic { .. })
    ));
    let written: HashSet<(i32, i64)> = ok
        .iter()
        .map(|f| {
            let md = f.get().unwrap();
            (md.partition, md.offset)
        })
        .collect();
    for f in &refused {
        let e = f.get().unwrap_err();
        assert!(matches!(e, Error::Broker { .. }), "{e:?}");
    }
    producer.close(Duration::from_secs(30));

    assert_eq!(heard.sent.load(Ordering::SeqCst), 42);
    let heard_written: Vec<(i32, i64)> = heard
        .written
        .lock()
        .iter()
        .map(|md| (md.partition, md.offset))
        .collect();
    assert_eq!(heard_written.len(), 20, "once per written record");
    assert_eq!(
        heard_written.iter().copied().collect::<HashSet<_>>(),
        written
    );
    let failed = heard.failed.lock().clone();
    assert_eq!(
        failed.len(),
        22,
        "20 refused by the broker, 2 by send: {failed:?}"
    );
    let broker = failed.iter().filter(|f| f.2.starts_with("Broker")).count();
    assert_eq!(broker, 20);
    assert!(
        failed
            .iter()
            .any(|f| f.0 == topic && f.1 == Some(1) && f.2.starts_with("RecordTooLarge")),
        "{failed:?}"
    );
    assert!(failed
        .iter()
        .any(|f| f.0 == "not a topic!" && f.1.is_none() && f.2.starts_with("InvalidTopic")));
    assert!(failed
        .iter()
        .filter(|f| f.2.starts_with("Broker"))
        .all(|f| f.0 == topic && f.1.is_some()));
    assert_eq!(callbacks.load(Ordering::SeqCst), 20);
    assert_eq!(*heard.closed_after.lock(), vec![42]);
}

#[test]
fn close_and_drop_answer_pending_records_to_the_interceptors_once() {
    let bs = support::bootstrap();
    let topic = support::unique_topic("icpt-close");
    support::create_topic(&bs, &topic, 1, 1, &[]);
    // Long linger: the records are still queued when close runs.
    let cfg = || config(&bs, &[("linger.ms", "60000"), ("batch.size", "1000000")]);
    for drop_it in [false, true] {
        let heard = Arc::new(Heard::default());
        let producer: Producer<String, String> = Producer::builder(cfg())
            .interceptor(Listen {
                heard: heard.clone(),
            })
            .build()
            .unwrap();
        producer.partitions_for(&topic).unwrap(); // metadata first: sends only queue
        let futures: Vec<_> = (0..25)
            .map(|i| {
                producer
                    .send(ProducerRecord::with_value(&topic, format!("v{i}")))
                    .unwrap()
            })
            .collect();
        assert!(futures.iter().all(|f| !f.is_done()), "still lingering");
        if drop_it {
            drop(producer); // a drop sends what is queued first
        } else {
            producer.close(Duration::ZERO); // fails what is pending at once
        }
        // close(0) fails what the sender has not yet sent (it may have sent some, the close
        // making the lingering batch ready); a drop sends everything.
        let written = futures
            .iter()
            .filter(|f| f.try_get().unwrap().is_ok())
            .count();
        if drop_it {
            assert_eq!(written, 25);
        }
        assert_eq!(heard.written.lock().len(), written, "drop: {drop_it}");
        let failed = heard.failed.lock().clone();
        assert_eq!(failed.len(), 25 - written);
        assert!(failed
            .iter()
            .all(|f| f.1 == Some(0) && f.2.starts_with("Closed")));
        assert_eq!(
            *heard.closed_after.lock(),
            vec![25],
            "closed once, after the answers"
        );
    }
}

#[test]
fn a_panicking_or_failing_interceptor_changes_nothing_else() {
    let bs = support::bootstrap();
    let topic = support::unique_topic("icpt-panic");
    support::create_topic(&bs, &topic, 3, 1, &[]);
    let (before, after) = (Arc::new(Heard::default()), Arc::new(Heard::default()));
    let producer: Producer<String, String> = Producer::builder(config(&bs, &[]))
        .interceptor(Listen {
            heard: before.clone(),
        })
        .interceptor(Faulty { panics: true })
        .interceptor(Rekey {
            heard: after.clone(),
        })
        .interceptor(Faulty { panics: false })
        .build()
        .unwrap();
    const N: usize = 30;
    let answered = Arc::new(AtomicUsize::new(0));
    for i in 0..N {
        let a = answered.clone();
        let r = ProducerRecord::new(&topic, Some(format!("k{i}")), Some(format!("v{i}")));
        producer
            .send_with_callback(r, move |r| {
                r.expect("delivered");
                a.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
    }
    producer.flush();
    assert_eq!(answered.load(Ordering::SeqCst), N);
    drop(producer);
    for heard in [&before, &after] {
        assert_eq!(heard.sent.load(Ordering::SeqCst), N);
        assert_eq!(heard.written.lock().len(), N);
        assert!(heard.failed.lock().is_empty());
        assert_eq!(*heard.closed_after.lock(), vec![N]);
    }
    let read = support::consume(&bs, &topic, N, 30_000);
    assert_eq!(read.len(), N);
    for c in &read {
        let i: usize = c.value[1..].parse().unwrap();
        assert_eq!(
            c.key,
            format!("new-k{i}"),
            "the interceptor after the panicking one ran"
        );
        assert!(c.headers.starts_with("trace:t-"), "{}", c.headers);
        assert_eq!(
            c.timestamp,
            Some(CHANGED_TIMESTAMP),
            "the failing one's change stayed"
        );
    }
}
