//! An interceptor that adds a trace header to every record, and counts the answers.
//!
//! ```sh
//! KAFKA_BOOTSTRAP=127.0.0.1:9092 cargo run --example trace_header -- my-topic [count]
//! ```
//!
//! Every record leaves with a W3C `traceparent` header (`00-<trace id>-<span id>-01`) that
//! tracing systems downstream pick up; the interceptor adds it in `on_send`, on the caller's
//! thread, before the record is serialized and partitioned, so the code that sends does not
//! change. Its `on_acknowledgement` hears every record's answer exactly once (on the
//! producer's network thread) and counts written and failed records; `close` prints the
//! counts. Kafka's console consumer shows the header:
//!
//! ```sh
//! scripts/kafka console-consumer --bootstrap-server 127.0.0.1:9092 --topic my-topic \
//!     --from-beginning --formatter-property print.headers=true
//! ```

use kafka_sync::{
    Acknowledgement, Header, InterceptorError, Producer, ProducerConfig, ProducerInterceptor,
    ProducerRecord,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Adds a `traceparent` header to every record: one trace per run, one span per record.
struct TraceHeader {
    trace_id: u128,
    next_span: AtomicU64,
    written: AtomicU64,
    failed: AtomicU64,
}

impl TraceHeader {
    fn new() -> Self {
        // Not a random trace id (no extra crate): the time and the process id are unique enough
        // for an example.
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        TraceHeader {
            trace_id: nanos << 32 | u128::from(std::process::id()),
            next_span: AtomicU64::new(1),
            written: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        }
    }
}

impl<K, V> ProducerInterceptor<K, V> for TraceHeader {
    fn on_send(&self, record: &mut ProducerRecord<K, V>) -> Result<(), InterceptorError> {
        if record.headers.iter().any(|h| h.key == "traceparent") {
            return Ok(()); // the caller traces this record itself
        }
        let span = self.next_span.fetch_add(1, Ordering::Relaxed);
        let value = format!("00-{:032x}-{span:016x}-01", self.trace_id);
        record.headers.push(Header::new("traceparent", value));
        Ok(())
    }

    fn on_acknowledgement(&self, ack: &Acknowledgement<'_>) -> Result<(), InterceptorError> {
        match ack.error() {
            None => self.written.fetch_add(1, Ordering::Relaxed),
            Some(_) => self.failed.fetch_add(1, Ordering::Relaxed),
        };
        Ok(())
    }

    fn close(&self) {
        println!(
            "trace {:032x}: {} written, {} failed",
            self.trace_id,
            self.written.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed)
        );
    }
}

fn main() {
    let bootstrap =
        std::env::var("KAFKA_BOOTSTRAP").unwrap_or_else(|_| "127.0.0.1:9092".to_string());
    let mut args = std::env::args().skip(1);
    let topic = args.next().unwrap_or_else(|| "traced".to_string());
    let count: usize = args
        .next()
        .map_or(5, |n| n.parse().expect("count is a number"));
    if let Err(e) = run(&bootstrap, &topic, count) {
        eprintln!("trace_header: {e}");
        std::process::exit(1);
    }
}

fn run(bootstrap: &str, topic: &str, count: usize) -> Result<(), kafka_sync::Error> {
    let config = ProducerConfig::builder()
        .bootstrap_servers(bootstrap)
        .build()?;
    let producer: Producer<String, String> = Producer::builder(config)
        .interceptor(TraceHeader::new())
        .build()?;
    let futures = (0..count)
        .map(|i| {
            let record =
                ProducerRecord::new(topic, Some(format!("key-{i}")), Some(format!("value-{i}")));
            producer.send(record)
        })
        .collect::<Result<Vec<_>, _>>()?;
    for f in futures {
        let md = f.get()?;
        println!("{}-{} @ {}", md.topic, md.partition, md.offset);
    }
    // Closing runs the interceptor's close, which prints the counts.
    producer.close(Duration::from_secs(10));
    Ok(())
}
