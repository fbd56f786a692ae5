//! Proves the harness: a topic made with Kafka's topic tool, records written by Kafka's console
//! producer, read back by Kafka's console consumer, all through `scripts/kafka`.

mod support;

#[test]
fn java_tools_round_trip_through_the_harness() {
    let bs = support::bootstrap();
    let topic = support::unique_topic("harness");
    support::create_topic(&bs, &topic, 3, 1, &[]);
    let input = "alpha\tone\nbeta\ttwo\ngamma\tthree\n";
    support::kafka_tool(
        &[
            "console-producer",
            "--bootstrap-server",
            &bs,
            "--topic",
            &topic,
            "--reader-property",
            "parse.key=true",
        ],
        Some(input.as_bytes()),
    );
    let mut got = support::consume(&bs, &topic, 3, 30_000);
    assert_eq!(got.len(), 3, "read back {got:?}");
    got.sort_by(|a, b| a.key.cmp(&b.key));
    let kv: Vec<(&str, &str)> = got
        .iter()
        .map(|c| (c.key.as_str(), c.value.as_str()))
        .collect();
    assert_eq!(
        kv,
        vec![("alpha", "one"), ("beta", "two"), ("gamma", "three")]
    );
    // Within each partition the offsets are 0, 1, ... with no gap.
    for p in 0..3 {
        let mut offs: Vec<i64> = got
            .iter()
            .filter(|c| c.partition == p)
            .map(|c| c.offset)
            .collect();
        offs.sort();
        assert_eq!(
            offs,
            (0..offs.len() as i64).collect::<Vec<_>>(),
            "partition {p}: {got:?}"
        );
    }
    for c in &got {
        assert!(
            c.timestamp.is_some_and(|t| t > 1_600_000_000_000),
            "create time printed: {c:?}"
        );
    }
}

#[test]
fn three_node_cluster_takes_a_replicated_topic() {
    let bs = support::bootstrap3();
    let topic = support::unique_topic("harness-rf3");
    support::create_topic(&bs, &topic, 3, 3, &[]);
    let desc = support::kafka_tool(
        &[
            "topics",
            "--bootstrap-server",
            &bs,
            "--describe",
            "--topic",
            &topic,
        ],
        None,
    );
    assert!(desc.contains("ReplicationFactor: 3"), "{desc}");
    let lines: Vec<&str> = desc.lines().filter(|l| l.contains("Partition:")).collect();
    assert_eq!(lines.len(), 3, "{desc}");
}
