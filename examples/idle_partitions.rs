//! Benchmark: does the sender thread's CPU grow with partitions that have nothing to send?
//!
//! ```sh
//! cargo run --release --example idle_partitions -- BOOTSTRAP BUSY_TOPIC IDLE_TOPIC IDLE_PARTITIONS
//! ```
//!
//! Both topics must exist (BUSY_TOPIC with a few partitions, IDLE_TOPIC with IDLE_PARTITIONS).
//! First one record goes to every partition of IDLE_TOPIC (0 skips that), so the producer knows
//! them all and each has had a queue; they then stay idle. Then 100 B keyless records go to
//! BUSY_TOPIC: 1M as fast as possible, and 5 s at 10k records/s (linger.ms=5: a few hundred
//! sender turns a second, where a per-turn cost that grew with known partitions would show).
//! For each phase it prints the sender thread's CPU (user+sys from /proc, 10 ms ticks). Run it
//! with IDLE_PARTITIONS 0 and 1000 and compare the lines; this machine is noisy, so alternate.

use kafka_sync::{Producer, ProducerConfig, ProducerRecord};
use std::time::{Duration, Instant};

type BoxError = Box<dyn std::error::Error>;

fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [bootstrap, busy, idle, idle_partitions] = args.as_slice() else {
        return Err(
            "usage: idle_partitions BOOTSTRAP BUSY_TOPIC IDLE_TOPIC IDLE_PARTITIONS".into(),
        );
    };
    let idle_partitions: i32 = idle_partitions.parse()?;
    let config = ProducerConfig::builder()
        .bootstrap_servers(bootstrap.as_str())
        .linger(Duration::from_millis(5))
        .build()?;
    let producer: Producer<Vec<u8>, Vec<u8>> = Producer::new(config)?;
    let futures: Vec<_> = (0..idle_partitions)
        .map(|p| {
            let r = ProducerRecord::new(idle.as_str(), None, Some(vec![1u8; 100]));
            producer.send(r.with_partition(p))
        })
        .collect::<Result<_, _>>()?;
    for f in futures {
        f.get()?;
    }
    let value = vec![7u8; 100];
    // Warm up: metadata for the busy topic, connections.
    producer
        .send(ProducerRecord::new(
            busy.as_str(),
            None,
            Some(value.clone()),
        ))?
        .get()?;

    let before = sender_cpu_ticks()?;
    let start = Instant::now();
    const FAST: u64 = 1_000_000;
    for _ in 0..FAST {
        producer.send(ProducerRecord::new(
            busy.as_str(),
            None,
            Some(value.clone()),
        ))?;
    }
    producer.flush();
    let fast_wall = start.elapsed();
    let fast_cpu = sender_cpu_ticks()? - before;

    let before = sender_cpu_ticks()?;
    let start = Instant::now();
    let mut sent = 0u64;
    while start.elapsed() < Duration::from_secs(5) {
        // 10 records a millisecond.
        let due = start.elapsed().as_millis() as u64 * 10;
        while sent < due {
            producer.send(ProducerRecord::new(
                busy.as_str(),
                None,
                Some(value.clone()),
            ))?;
            sent += 1;
        }
        std::thread::sleep(Duration::from_micros(500));
    }
    producer.flush();
    let slow_cpu = sender_cpu_ticks()? - before;
    println!(
        "idle partitions {idle_partitions}: unthrottled {FAST} records in {:.2} s, sender CPU {} ms; \
         10k/s for 5 s ({sent} records), sender CPU {} ms",
        fast_wall.as_secs_f64(),
        fast_cpu * 10,
        slow_cpu * 10
    );
    Ok(())
}

/// The sender thread's user+sys CPU so far, in clock ticks (10 ms): the thread whose name
/// starts with `kafka-producer`.
fn sender_cpu_ticks() -> Result<u64, BoxError> {
    for task in std::fs::read_dir("/proc/self/task")? {
        let dir = task?.path();
        let comm = std::fs::read_to_string(dir.join("comm"))?;
        if !comm.starts_with("kafka-producer") {
            continue;
        }
        let stat = std::fs::read_to_string(dir.join("stat"))?;
        // Fields after the parenthesised name: state is field 3, utime 14, stime 15.
        let rest = &stat[stat.rfind(')').ok_or("bad stat")? + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let utime: u64 = fields.get(11).ok_or("bad stat")?.parse()?;
        let stime: u64 = fields.get(12).ok_or("bad stat")?.parse()?;
        return Ok(utime + stime);
    }
    Err("no kafka-producer thread".into())
}
