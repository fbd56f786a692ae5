//! Transactions against a real broker (`KAFKA_BOOTSTRAP`), read back by Kafka's own console
//! consumer: committed transactions whole under `read_committed`, aborted ones never (and
//! seen under `read_uncommitted`, which shows the reads can tell), fencing by a second
//! producer with the same `transactional.id`.

mod support;

use kafka_sync::{
    ConsumerGroupMetadata, Error, OffsetAndMetadata, Producer, ProducerConfig, ProducerRecord,
    TopicPartition, TransactionErrorKind,
};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn producer(bootstrap: &str, transactional_id: &str) -> Producer<String, String> {
    let config = ProducerConfig::builder()
        .bootstrap_servers(bootstrap)
        .transactional_id(transactional_id)
        .max_block(Duration::from_secs(30))
        .build()
        .expect("config");
    Producer::new(config).expect("producer")
}

fn record(topic: &str, partition: i32, value: String) -> ProducerRecord<String, String> {
    let mut r = ProducerRecord::new(topic, None, Some(value));
    r.partition = Some(partition);
    r
}

/// The values of `topic` a reader at `isolation` sees (waiting up to 8 s for `more_than`
/// records, so extra records would be seen too).
fn values(bs: &str, topic: &str, expected: usize, isolation: &str) -> BTreeSet<String> {
    support::consume_isolated(bs, topic, expected + 1, 8000, isolation)
        .into_iter()
        .map(|c| c.value)
        .collect()
}

fn kind(e: &Error) -> Option<TransactionErrorKind> {
    match e {
        Error::Transaction { kind, .. } => Some(*kind),
        _ => None,
    }
}

#[test]
fn a_committed_transaction_over_three_partitions_of_two_topics_is_read_whole_and_an_aborted_one_never(
) {
    let bs = support::bootstrap();
    // Kafka 4.x finalizes transaction.version 2 (KIP-890): every EndTxn bumps the epoch.
    assert_eq!(
        protocol_of(&bs),
        Protocol::V2,
        "Kafka 4.4 has transactions v2"
    );
    all_or_nothing(&bs, &single_data_dir(&bs), Protocol::V2);
}

/// The same on the older brokers (`KAFKA_COMPAT_BROKERS`): transactions protocol v1.
#[test]
fn transactions_are_all_or_nothing_on_older_brokers() {
    support::each_compat_broker(|b| {
        // Kafka 2.x predates the feature (and ZooKeeper mode has no DescribeFeatures to ask).
        let protocol = if b.major_minor() < (3, 0) {
            Protocol::V1
        } else {
            protocol_of(&b.bootstrap)
        };
        all_or_nothing(&b.bootstrap, &b.data_dir, protocol);
        fences(&b.bootstrap);
        offsets_with_the_transaction(&b.bootstrap);
    });
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    V1,
    V2,
}

/// The transactions protocol the cluster's finalized `transaction.version` gives (Kafka's
/// feature tool): v2 from level 2.
fn protocol_of(bs: &str) -> Protocol {
    let out = support::kafka_tool(
        &[
            "java-class",
            "org.apache.kafka.tools.FeatureCommand",
            "--bootstrap-server",
            bs,
            "describe",
        ],
        None,
    );
    let level = out
        .lines()
        .find(|l| l.contains("Feature: transaction.version"))
        .and_then(|l| l.split("FinalizedVersionLevel:").nth(1))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<i32>().ok())
        .unwrap_or(0);
    if level >= 2 {
        Protocol::V2
    } else {
        Protocol::V1
    }
}

/// The single-node broker's data directory: `KAFKA_DATA_DIR`, else `scripts/kafka`'s for
/// its port.
fn single_data_dir(bs: &str) -> PathBuf {
    if let Ok(d) = std::env::var("KAFKA_DATA_DIR") {
        return PathBuf::from(d);
    }
    let port = bs.rsplit(':').next().unwrap_or_default();
    let run_dir = std::env::var("KAFKA_RUN_DIR")
        .map(|d| support::repo_dir().join(d))
        .unwrap_or_else(|_| support::repo_dir().join(".kafka"));
    let name = if port == "9092" {
        "single".to_string()
    } else {
        format!("single-{port}")
    };
    run_dir.join(name).join("node1/data")
}

/// The producer epoch of each data batch of `topic`-0, in log order (DumpLogSegments).
fn batch_epochs(data_dir: &Path, topic: &str) -> Vec<i64> {
    let dir = data_dir.join(format!("{topic}-0"));
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e} (set KAFKA_DATA_DIR)", dir.display()))
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    files.sort();
    let out = support::kafka_tool(&["dump-log", "--files", &files.join(",")], None);
    out.lines()
        .filter(|l| l.contains("producerEpoch:") && l.contains("isControl: false"))
        .map(|l| {
            let epoch = l.split("producerEpoch:").nth(1).unwrap_or_default();
            epoch
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .parse()
                .unwrap()
        })
        .collect()
}

fn all_or_nothing(bs: &str, data_dir: &Path, protocol: Protocol) {
    let bs = bs.to_string();
    let (a, b) = (
        support::unique_topic("txn-a"),
        support::unique_topic("txn-b"),
    );
    support::create_topic(&bs, &a, 2, 1, &[]);
    support::create_topic(&bs, &b, 1, 1, &[]);
    let p = producer(&bs, &support::unique_topic("txid"));

    // Before init_transactions, and outside a transaction: refused, nothing queued.
    let early = p.send(record(&a, 0, "early".into())).unwrap_err();
    assert_eq!(
        kind(&early),
        Some(TransactionErrorKind::InvalidState),
        "{early}"
    );
    p.init_transactions().expect("init_transactions");
    let outside = p.send(record(&a, 0, "outside".into())).unwrap_err();
    assert_eq!(
        kind(&outside),
        Some(TransactionErrorKind::InvalidState),
        "{outside}"
    );

    let targets = [(&a, 0), (&a, 1), (&b, 0)];
    let mut committed = BTreeSet::new();
    p.begin_transaction().unwrap();
    let mut futures = Vec::new();
    for i in 0..30 {
        let (topic, partition) = targets[i % 3];
        let v = format!("committed-{i}");
        committed.insert(v.clone());
        futures.push(p.send(record(topic, partition, v)).unwrap());
    }
    p.commit_transaction().expect("commit");
    for f in futures {
        f.try_get()
            .expect("answered by the commit")
            .expect("written");
    }

    p.begin_transaction().unwrap();
    let mut aborted = BTreeSet::new();
    for i in 0..30 {
        let (topic, partition) = targets[i % 3];
        let v = format!("aborted-{i}");
        aborted.insert(v.clone());
        let f = p.send(record(topic, partition, v)).unwrap();
        if i < 3 {
            // Some of it reaches the log of each partition before the abort.
            f.get().expect("written before the abort");
        }
    }
    p.abort_transaction().expect("abort");

    // A last committed transaction, after the aborted one.
    p.begin_transaction().unwrap();
    for (i, (topic, partition)) in targets.iter().enumerate() {
        let v = format!("last-{i}");
        committed.insert(v.clone());
        p.send(record(topic, *partition, v)).unwrap();
    }
    p.commit_transaction().expect("second commit");
    p.close(Duration::from_secs(10));

    // Three transactions wrote to b-0: under v2 each under its own epoch (EndTxn bumps it),
    // under v1 all under the one InitProducerId gave.
    let mut epochs = batch_epochs(data_dir, &b);
    epochs.dedup();
    match protocol {
        Protocol::V2 => assert!(
            epochs.len() == 3 && epochs[0] < epochs[1] && epochs[1] < epochs[2],
            "{epochs:?}"
        ),
        Protocol::V1 => assert_eq!(epochs.len(), 1, "{epochs:?}"),
    }

    let of = |set: &BTreeSet<String>, topic_is_b: bool| -> BTreeSet<String> {
        set.iter()
            .filter(|v| {
                let n: usize = v.rsplit('-').next().unwrap().parse().unwrap();
                (n % 3 == 2) == topic_is_b
            })
            .cloned()
            .collect()
    };
    for (topic, is_b) in [(&a, false), (&b, true)] {
        let want = of(&committed, is_b);
        let read = values(&bs, topic, want.len(), "read_committed");
        assert_eq!(
            read, want,
            "read_committed of {topic}: the committed records, whole"
        );
        let all = values(&bs, topic, want.len() + 10, "read_uncommitted");
        let aborted_here = of(&aborted, is_b);
        assert!(
            aborted_here.iter().any(|v| all.contains(v)),
            "read_uncommitted of {topic} sees aborted records (the reads can tell): {all:?}"
        );
    }
}

#[test]
fn a_second_producer_with_the_same_id_fences_the_first_and_goes_on() {
    fences(&support::bootstrap());
}

fn fences(bs: &str) {
    let bs = bs.to_string();
    let topic = support::unique_topic("txn-fence");
    support::create_topic(&bs, &topic, 1, 1, &[]);
    let id = support::unique_topic("txid-fence");

    let first = producer(&bs, &id);
    first.init_transactions().unwrap();
    first.begin_transaction().unwrap();
    first.send(record(&topic, 0, "first-1".into())).unwrap();
    first.commit_transaction().expect("first's commit");

    let second = producer(&bs, &id);
    second.init_transactions().expect("second init");

    first.begin_transaction().unwrap();
    let sent = first.send(record(&topic, 0, "zombie".into())).unwrap();
    let err = first.commit_transaction().unwrap_err();
    assert!(err.is_fatal(), "{err}");
    assert!(err.to_string().contains("fenced"), "{err}");
    assert!(sent.get().is_err(), "the zombie's record failed");
    let again = first.begin_transaction().unwrap_err();
    assert!(again.is_fatal(), "{again}");

    for i in 0..2 {
        second.begin_transaction().unwrap();
        second
            .send(record(&topic, 0, format!("second-{i}")))
            .unwrap();
        second.commit_transaction().expect("second's commit");
    }
    let read = values(&bs, &topic, 3, "read_committed");
    let want: BTreeSet<String> = ["first-1", "second-0", "second-1"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(read, want);
}

/// The group's committed offset of `topic`-0, as Kafka's consumer-groups tool shows it.
fn group_offset(bs: &str, group: &str, topic: &str) -> Option<i64> {
    let out = support::kafka_tool(
        &[
            "java-class",
            "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
            "--bootstrap-server",
            bs,
            "--describe",
            "--group",
            group,
        ],
        None,
    );
    out.lines().find_map(|l| {
        let cols: Vec<&str> = l.split_whitespace().collect();
        (cols.len() > 3 && cols[0] == group && cols[1] == topic && cols[2] == "0")
            .then(|| cols[3].parse().ok())
            .flatten()
    })
}

#[test]
fn offsets_sent_to_a_transaction_are_committed_only_with_it() {
    let bs = support::bootstrap();
    offsets_with_the_transaction(&bs);
}

fn offsets_with_the_transaction(bs: &str) {
    let (input, output) = (
        support::unique_topic("txn-in"),
        support::unique_topic("txn-out"),
    );
    support::create_topic(bs, &input, 1, 1, &[]);
    support::create_topic(bs, &output, 1, 1, &[]);
    let group = ConsumerGroupMetadata::new(support::unique_topic("txn-group"));
    let p = producer(bs, &support::unique_topic("txid-offsets"));
    p.init_transactions().unwrap();
    let at = |offset: i64| {
        HashMap::from([(
            TopicPartition::new(&*input, 0),
            OffsetAndMetadata::new(offset),
        )])
    };

    let outside = p.send_offsets_to_transaction(&at(1), &group).unwrap_err();
    assert_eq!(
        kind(&outside),
        Some(TransactionErrorKind::InvalidState),
        "{outside}"
    );

    p.begin_transaction().unwrap();
    p.send(record(&output, 0, "out-1".into())).unwrap();
    p.send_offsets_to_transaction(&at(7), &group).unwrap();
    p.commit_transaction().unwrap();
    assert_eq!(group_offset(bs, &group.group_id, &input), Some(7));

    p.begin_transaction().unwrap();
    p.send(record(&output, 0, "out-2".into())).unwrap();
    p.send_offsets_to_transaction(&at(9), &group).unwrap();
    assert_eq!(
        group_offset(bs, &group.group_id, &input),
        Some(7),
        "not before the commit"
    );
    p.abort_transaction().unwrap();
    assert_eq!(
        group_offset(bs, &group.group_id, &input),
        Some(7),
        "not after the abort"
    );

    p.begin_transaction().unwrap();
    p.send_offsets_to_transaction(&at(11), &group).unwrap();
    p.commit_transaction().unwrap();
    assert_eq!(group_offset(bs, &group.group_id, &input), Some(11));
}

#[test]
fn a_record_the_broker_refuses_makes_the_commit_fail_abortably_and_the_abort_recovers() {
    let bs = support::bootstrap();
    let topic = support::unique_topic("txn-refused");
    support::create_topic(&bs, &topic, 1, 1, &["--config", "max.message.bytes=1000"]);
    let p = producer(&bs, &support::unique_topic("txid-refused"));
    p.init_transactions().unwrap();

    p.begin_transaction().unwrap();
    let small = p.send(record(&topic, 0, "kept-out".into())).unwrap();
    let large = p.send(record(&topic, 0, "x".repeat(5000))).unwrap();
    let err = p.commit_transaction().unwrap_err();
    assert!(err.is_abortable(), "{err}");
    assert!(large.get().is_err(), "refused: MESSAGE_TOO_LARGE");
    let _ = small.get();
    let again = p.send(record(&topic, 0, "late".into())).unwrap_err();
    assert!(again.is_abortable(), "{again}");
    p.abort_transaction().expect("abort");

    p.begin_transaction().unwrap();
    p.send(record(&topic, 0, "after".into())).unwrap();
    p.commit_transaction()
        .expect("the next transaction commits");
    let read = values(&bs, &topic, 1, "read_committed");
    assert_eq!(read, BTreeSet::from(["after".to_string()]));
}

#[test]
fn init_transactions_bounded_by_max_block_times_out_and_can_be_called_again() {
    // Nothing listens on port 1: no coordinator can be found.
    let config = ProducerConfig::builder()
        .bootstrap_servers("127.0.0.1:1")
        .transactional_id("txid-unreachable")
        .max_block(Duration::from_millis(300))
        .build()
        .unwrap();
    let p: Producer<String, String> = Producer::new(config).unwrap();
    for _ in 0..2 {
        let err = p.init_transactions().unwrap_err();
        assert_eq!(kind(&err), Some(TransactionErrorKind::TimedOut), "{err}");
        assert!(err.is_retriable() && !err.is_fatal() && !err.is_abortable());
    }
    let begin = p.begin_transaction().unwrap_err();
    assert_eq!(
        kind(&begin),
        Some(TransactionErrorKind::InvalidState),
        "{begin}"
    );
    p.close(Duration::ZERO);
}

/// An EndTxn whose answer never came (its connection reset by the fault proxy, then one
/// swallowed until `request.timeout.ms`): the commit still succeeds (EndTxn is sent again),
/// and under protocol v1 the producer re-initializes before the next transaction, so each
/// transaction after a lost EndTxn is written under a new epoch and a late first EndTxn could
/// not end it. Under v2 every EndTxn bumps the epoch anyway. Checked in the log itself
/// (DumpLogSegments) on 4.4 (v2) and each older broker.
#[test]
fn an_end_txn_whose_answer_never_came_moves_the_next_transaction_to_a_new_epoch() {
    let bs = support::bootstrap();
    end_txn_lost(&bs, &single_data_dir(&bs));
    support::each_compat_broker(|b| end_txn_lost(&b.bootstrap, &b.data_dir));
}

fn end_txn_lost(bs: &str, data_dir: &Path) {
    use support::proxy::{AnswerFault, Proxy};
    let end_txn = kafka_sync::protocol::end_txn::API_KEY;
    let topic = support::unique_topic("txn-endlost");
    support::create_topic(bs, &topic, 1, 1, &[]);
    let proxy = Proxy::start(bs);
    let config = ProducerConfig::builder()
        .bootstrap_servers(proxy.bootstrap())
        .transactional_id(support::unique_topic("txid-endlost"))
        .max_block(Duration::from_secs(30))
        .set("request.timeout.ms", "2000")
        .build()
        .expect("config");
    let p: Producer<String, String> = Producer::new(config).expect("producer");
    p.init_transactions().expect("init_transactions");
    let mut sent = BTreeSet::new();
    let mut transaction = |name: &str, fault: Option<AnswerFault>| {
        p.begin_transaction().unwrap();
        p.send(record(&topic, 0, name.to_string()))
            .unwrap()
            .get()
            .expect("written");
        if let Some(f) = fault {
            proxy.fail_answers_of(end_txn, 1, f);
        }
        p.commit_transaction()
            .unwrap_or_else(|e| panic!("commit of {name}: {e}"));
        sent.insert(name.to_string());
    };
    transaction("first", None);
    transaction("reset", Some(AnswerFault::Reset));
    transaction("after-reset", Some(AnswerFault::Swallow));
    transaction("after-swallow", None);
    p.close(Duration::from_secs(10));
    assert_eq!(proxy.stats().answers_failed.get(&end_txn), Some(&2));
    // One batch per transaction. The ones after a lost EndTxn ("after-reset",
    // "after-swallow") are each under a newer epoch than the one before them.
    let epochs = batch_epochs(data_dir, &topic);
    assert_eq!(epochs.len(), 4, "{epochs:?}");
    assert!(
        epochs[1] < epochs[2] && epochs[2] < epochs[3],
        "a transaction after a lost EndTxn reused the epoch: {epochs:?}"
    );
    assert_eq!(values(bs, &topic, 4, "read_committed"), sent);
}
