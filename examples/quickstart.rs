//! Quickstart: send a few records to Kafka and print where each one was written.
//!
//! ```sh
//! KAFKA_BOOTSTRAP=127.0.0.1:9092 cargo run --example quickstart -- my-topic [producer.properties]
//! ```
//!
//! The broker comes from `KAFKA_BOOTSTRAP` (default `127.0.0.1:9092`), the topic from the first
//! argument (default `quickstart`); an optional second argument names a Java
//! `producer.properties` file whose settings are applied on top. `scripts/quickstart` runs this
//! against a local Kafka and reads the records back with Kafka's own console consumer.
//!
//! The README's "Use" snippets are taken from this file, so they are known to compile.

use kafka_sync::{Delivery, Error, Producer, ProducerConfig, ProducerRecord, RecordMetadata};
use std::sync::mpsc;
use std::time::Duration;

/// How many records go out with `send(..)?.get()`, and how many with callbacks.
const SYNC_RECORDS: usize = 3;
const CALLBACK_RECORDS: usize = 3;

type BoxError = Box<dyn std::error::Error>;

fn main() {
    let bootstrap =
        std::env::var("KAFKA_BOOTSTRAP").unwrap_or_else(|_| "127.0.0.1:9092".to_string());
    let mut args = std::env::args().skip(1);
    let topic = args.next().unwrap_or_else(|| "quickstart".to_string());
    let properties = args.next();
    match run(&bootstrap, &topic, properties.as_deref()) {
        Ok(0) => {}
        Ok(failed) => {
            eprintln!("quickstart: {failed} record(s) failed");
            std::process::exit(1);
        }
        Err(e) => {
            eprintln!("quickstart: {e}");
            std::process::exit(1);
        }
    }
}

fn describe(md: &RecordMetadata) -> String {
    format!(
        "topic={} partition={} offset={} timestamp={}",
        md.topic, md.partition, md.offset, md.timestamp
    )
}

/// The configuration: typed builder, or Java property names (as in `producer.properties`).
fn config(bootstrap: &str, properties: Option<&str>) -> Result<ProducerConfig, BoxError> {
    let Some(path) = properties else {
        let config = ProducerConfig::builder()
            .bootstrap_servers(bootstrap)
            .linger(Duration::from_millis(5))
            .client_id("quickstart")
            .build()?;
        return Ok(config);
    };
    // The Java client's property names and values (checked here, then the file is used).
    let _by_name = ProducerConfig::from_properties([
        ("bootstrap.servers", bootstrap),
        ("linger.ms", "10"),
        ("compression.type", "none"),
    ])?;
    // SASL, typed (checked here; a properties file can set the same with
    // security.protocol, sasl.mechanism and sasl.jaas.config).
    let _sasl = ProducerConfig::builder()
        .bootstrap_servers("127.0.0.1:9094")
        .sasl_plain("alice", "alice-secret") // or .sasl_scram_sha256(..), .sasl_scram_sha512(..)
        .build()?;
    // A producer.properties file, with bootstrap.servers applied first so the file may
    // override it.
    let text = std::fs::read_to_string(path)?;
    let mut props = vec![("bootstrap.servers".to_string(), bootstrap.to_string())];
    props.extend(ProducerConfig::parse_properties(&text));
    Ok(ProducerConfig::from_properties(props)?)
}

/// Sends the records; returns how many failed.
fn run(bootstrap: &str, topic: &str, properties: Option<&str>) -> Result<usize, BoxError> {
    let config = config(bootstrap, properties)?;
    let producer: Producer<String, String> = Producer::new(config)?;
    println!("connected to {bootstrap}, writing to topic {topic:?}");

    let mut failed = 0;

    // 1. Blocking: send, then wait for this record's answer (`send(record)?.get()?` when any
    //    failure should end the program).
    for i in 0..SYNC_RECORDS {
        let record =
            ProducerRecord::new(topic, Some(format!("key-{i}")), Some(format!("sync {i}")));
        match producer.send(record).and_then(|future| future.get()) {
            Ok(md) => println!("sent key-{i} with get():      {}", describe(&md)),
            Err(e) => {
                failed += 1;
                report_failure(&format!("key-{i}"), &e);
            }
        }
    }

    // 2. Callbacks: each runs once, on the producer's sender thread, with the record's answer.
    //    Keep them short; these hand the answer to the main thread, which prints it.
    let (tx, rx) = mpsc::channel();
    for i in SYNC_RECORDS..SYNC_RECORDS + CALLBACK_RECORDS {
        let tx = tx.clone();
        let record = ProducerRecord::new(
            topic,
            Some(format!("key-{i}")),
            Some(format!("callback {i}")),
        );
        producer.send_with_callback(record, move |result| {
            let _ = tx.send((i, result));
        })?;
    }
    drop(tx);

    // flush: returns once every record sent so far has its answer (and its callback has run).
    producer.flush();

    let mut answers: Vec<(usize, Result<RecordMetadata, Error>)> = rx.iter().collect();
    answers.sort_by_key(|(i, _)| *i);
    for (i, result) in answers {
        match result {
            Ok(md) => println!("sent key-{i} with callback: {}", describe(&md)),
            Err(e) => {
                failed += 1;
                report_failure(&format!("key-{i}"), &e);
            }
        }
    }

    // close: stops accepting records, sends what is queued, waits up to the timeout.
    // Dropping the producer closes it too.
    producer.close(Duration::from_secs(30));
    if failed == 0 {
        println!(
            "done: {} records written to {topic:?}",
            SYNC_RECORDS + CALLBACK_RECORDS
        );
    }
    Ok(failed)
}

/// Every error says whether the record may be in the log anyway.
fn report_failure(what: &str, e: &Error) {
    match e.delivery() {
        // Definitely not in the log: safe to send again.
        Delivery::NotWritten => eprintln!("{what} was not written: {e}"),
        // A request carrying it went out and no answer came: sending again may duplicate it.
        Delivery::Unknown => eprintln!("{what} may have been written: {e}"),
    }
}
