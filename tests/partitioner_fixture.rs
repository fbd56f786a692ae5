//! Cross-check against the Java client: tests/fixtures/partitions.txt was produced by
//! tests/fixtures/java/GenPartitions.java (scripts/gen-partition-fixture) with Kafka's own
//! `Utils.toPositive(Utils.murmur2(key)) % n`.

use kafka_sync::partition_for_key;

#[test]
fn keyed_partitions_match_java_for_5000_cases() {
    let fixture = include_str!("fixtures/partitions.txt");
    let mut checked = 0;
    for (i, line) in fixture.lines().enumerate() {
        let mut f = line.split(' ');
        let (key, n, p) = (f.next().unwrap(), f.next().unwrap(), f.next().unwrap());
        let n: i32 = n.parse().unwrap();
        let p: i32 = p.parse().unwrap();
        assert_eq!(
            partition_for_key(key.as_bytes(), n),
            p,
            "line {}: key {key:?}, {n} partitions",
            i + 1
        );
        checked += 1;
    }
    assert_eq!(checked, 5000);
}
