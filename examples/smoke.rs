use kafka_sync::{Producer, ProducerConfig, ProducerRecord};
use std::time::Instant;
fn main() -> Result<(), kafka_sync::Error> {
    let config = ProducerConfig::builder().bootstrap_servers("127.0.0.1:9092").build()?;
    let producer: Producer<String, String> = Producer::new(config)?;
    let t = Instant::now();
    let md = producer.send(ProducerRecord::new("smoke", Some("k".to_string()), Some("v".to_string())))?.get()?;
    println!("first: {md:?} in {:?}", t.elapsed());
    let t = Instant::now();
    let mut futs = Vec::new();
    for i in 0..100_000 {
        futs.push(producer.send(ProducerRecord::new("smoke", Some(format!("k{i}")), Some(format!("value-{i}"))))?);
    }
    let mut last = None;
    for f in futs { last = Some(f.get()?); }
    println!("100k: last {last:?} in {:?}", t.elapsed());
    producer.close(std::time::Duration::from_secs(5));
    Ok(())
}
