//! Batches the broker refuses as too large (MESSAGE_TOO_LARGE, RECORD_LIST_TOO_LARGE) are split
//! and their records written once, in order (see `accumulator/split.rs`).

use super::*;
#[cfg(any(feature = "lz4", feature = "gzip"))]
use crate::compression::CompressionType;
use crate::future::Callback;
use crate::record::RecordMetadata;
use std::sync::Mutex;

/// Appends a record of `value` to `partition` (optionally with a callback).
fn send_value(h: &Harness, partition: i32, value: &[u8], callback: Option<Callback>) -> SendFuture {
    let tp = TopicPartition::new(TOPIC, partition);
    h.shared
        .accumulator
        .append(
            &tp,
            0,
            None,
            Some(value),
            &[],
            callback,
            h.now(),
            Duration::ZERO,
        )
        .expect("append")
        .future
}

/// The 100-byte value of record `i`.
fn value(i: usize) -> Vec<u8> {
    let mut v = format!("record-{i:05}-").into_bytes();
    v.resize(100, b'.');
    v
}

/// Every value in the log of `partition`, in log order.
fn logged_values(h: &Harness, partition: i32) -> Vec<Vec<u8>> {
    h.net.broker(|b| {
        b.logs
            .get(&(TOPIC.into(), partition))
            .map(|l| {
                l.iter()
                    .flat_map(|a| a.values.iter().map(|v| v.clone().expect("a value")))
                    .collect()
            })
            .unwrap_or_default()
    })
}

fn logged_sizes(h: &Harness, partition: i32) -> Vec<usize> {
    h.net.broker(|b| {
        b.logs
            .get(&(TOPIC.into(), partition))
            .map(|l| l.iter().map(|a| a.size).collect())
            .unwrap_or_default()
    })
}

/// Every record written once, in send order, at the offset its future says; sequences (under
/// idempotence) contiguous from 0.
fn all_written_once_in_order(h: &Harness, futures: &[SendFuture], idempotent: bool) {
    let want: Vec<Vec<u8>> = (0..futures.len()).map(value).collect();
    assert_eq!(logged_values(h, 0), want, "each record once, in order");
    let offsets: Vec<i64> = futures.iter().map(offset).collect();
    assert_eq!(offsets, (0..futures.len() as i64).collect::<Vec<_>>());
    if idempotent {
        for (_, _, seq, base) in h.log(0) {
            assert_eq!(i64::from(seq), base, "sequences follow the records");
        }
    }
}

#[test]
fn a_batch_over_the_brokers_limit_is_split_until_each_piece_fits() {
    let mut h = harness(Opts::default());
    h.net.broker(|b| b.max_message_bytes = Some(1000));
    // One batch of 40 records (about 4.3 kB): refused, then split in halves until the pieces
    // are under 1000 bytes.
    let futures: Vec<SendFuture> = (0..40)
        .map(|i| send_value(&h, 0, &value(i), None))
        .collect();
    h.answered(&futures);
    all_written_once_in_order(&h, &futures, true);
    let sizes = logged_sizes(&h, 0);
    assert!(sizes.iter().all(|&s| s <= 1000), "{sizes:?}");
    assert!(sizes.len() >= 5, "{sizes:?}");
    assert_eq!(h.requests(22), 1, "no new producer id or epoch");
    assert!(h
        .log(0)
        .iter()
        .all(|&(pid, epoch, _, _)| (pid, epoch) == (1001, 0)));
}

#[test]
fn a_split_among_five_batches_in_flight_keeps_the_sequence_order() {
    // Batches of four records (about 500 bytes), five in flight; the broker refuses the first as too large, so
    // it answers the next ones OUT_OF_ORDER (it expects the first's sequence): they wait for
    // the pieces, which go first.
    let mut h = harness(Opts {
        batch_size: 600,
        ..Opts::default()
    });
    h.fault(0, &[Fault::Refuse(ErrorCode::MESSAGE_TOO_LARGE)]);
    let futures: Vec<SendFuture> = (0..20)
        .map(|i| send_value(&h, 0, &value(i), None))
        .collect();
    h.answered(&futures);
    all_written_once_in_order(&h, &futures, true);
    let counts: Vec<i32> = h.net.broker(|b| {
        b.logs[&(TOPIC.into(), 0)]
            .iter()
            .map(|a| a.records)
            .collect()
    });
    // Halving a 4-record batch leaves room for one record per piece (with its header).
    assert_eq!(
        counts,
        vec![1, 1, 1, 1, 4, 4, 4, 4],
        "the first batch's pieces, then the rest"
    );
    assert_eq!(h.requests(22), 1, "the gap is explained: no new epoch");
}

#[test]
fn record_list_too_large_is_split_too() {
    let mut h = harness(Opts::default());
    h.fault(0, &[Fault::Refuse(ErrorCode::RECORD_LIST_TOO_LARGE)]);
    let futures: Vec<SendFuture> = (0..4).map(|i| send_value(&h, 0, &value(i), None)).collect();
    h.answered(&futures);
    all_written_once_in_order(&h, &futures, true);
    assert!(h.log(0).len() >= 2);
}

#[test]
fn without_idempotence_the_pieces_go_first_in_order() {
    let mut h = harness(Opts {
        idempotence: false,
        max_in_flight: 1,
        ..Opts::default()
    });
    h.net.broker(|b| b.max_message_bytes = Some(700));
    let futures: Vec<SendFuture> = (0..12)
        .map(|i| send_value(&h, 0, &value(i), None))
        .collect();
    h.answered(&futures);
    all_written_once_in_order(&h, &futures, false);
    assert!(h
        .log(0)
        .iter()
        .all(|&(pid, _, seq, _)| pid == -1 && seq == -1));
    // A batch appended after the split follows the pieces.
    let later = send_value(&h, 0, &value(12), None);
    h.answered(std::slice::from_ref(&later));
    assert_eq!(offset(&later), 12);
}

#[test]
fn a_single_record_too_large_fails_and_its_sequence_is_reused() {
    let mut h = harness(Opts::default());
    h.net.broker(|b| b.max_message_bytes = Some(150));
    let f = send_value(&h, 0, &value(0), None);
    h.answered(std::slice::from_ref(&f));
    let e = error(&f);
    assert!(
        matches!(e, Error::Broker { code, .. } if code == ErrorCode::MESSAGE_TOO_LARGE),
        "{e}"
    );
    assert_eq!(e.delivery(), Delivery::NotWritten);
    assert_eq!(h.requests(0), 1, "not retried");
    let g = send_value(&h, 0, b"small", None);
    h.answered(std::slice::from_ref(&g));
    assert_eq!(offset(&g), 0);
    assert_eq!(h.log(0).iter().map(|a| a.2).collect::<Vec<_>>(), vec![0]);
}

#[test]
fn callbacks_move_with_their_records_and_run_once() {
    let mut h = harness(Opts::default());
    h.net.broker(|b| b.max_message_bytes = Some(500));
    let seen: Arc<Mutex<Vec<(usize, i64)>>> = Arc::default();
    let futures: Vec<SendFuture> = (0..10)
        .map(|i| {
            let seen = seen.clone();
            let cb: Callback = Box::new(move |r: Result<RecordMetadata, Error>| {
                seen.lock().unwrap().push((i, r.expect("written").offset));
            });
            send_value(&h, 0, &value(i), Some(cb))
        })
        .collect();
    h.answered(&futures);
    all_written_once_in_order(&h, &futures, true);
    let mut seen = seen.lock().unwrap().clone();
    seen.sort();
    assert_eq!(seen, (0..10).map(|i| (i, i as i64)).collect::<Vec<_>>());
}

#[test]
fn a_flush_waits_for_the_pieces() {
    let mut h = harness(Opts::default());
    h.net.broker(|b| b.max_message_bytes = Some(500));
    let futures: Vec<SendFuture> = (0..10)
        .map(|i| send_value(&h, 0, &value(i), None))
        .collect();
    let acc = h.shared.accumulator.clone();
    acc.begin_flush();
    // The first answer splits the batch; the pieces are not written yet.
    h.run_until("the batch is split", |h| {
        h.requests(0) >= 1 && h.log(0).is_empty()
    });
    h.sender.run_once();
    assert!(
        !acc.await_flush_completion(Duration::ZERO),
        "pieces pending"
    );
    acc.begin_flush();
    h.answered(&futures);
    assert!(acc.await_flush_completion(Duration::ZERO));
}

#[cfg(any(feature = "lz4", feature = "gzip"))]
#[test]
fn a_compressed_batch_is_split_into_compressed_pieces() {
    #[cfg(feature = "lz4")]
    let codec = CompressionType::Lz4;
    #[cfg(not(feature = "lz4"))]
    let codec = CompressionType::Gzip;
    let mut h = harness(Opts {
        compression: codec,
        ..Opts::default()
    });
    h.net.broker(|b| b.max_message_bytes = Some(300));
    // Values that compress poorly: the pieces must really be smaller.
    let rng = crate::backoff::Rng::with_seed(3);
    let values: Vec<Vec<u8>> = (0..30)
        .map(|i| {
            let mut v = value(i);
            v[20..].iter_mut().for_each(|b| *b = rng.next_u64() as u8);
            v
        })
        .collect();
    let futures: Vec<SendFuture> = values.iter().map(|v| send_value(&h, 0, v, None)).collect();
    h.answered(&futures);
    assert_eq!(logged_values(&h, 0), values);
    assert!(logged_sizes(&h, 0).iter().all(|&s| s <= 300));
    let offsets: Vec<i64> = futures.iter().map(offset).collect();
    assert_eq!(offsets, (0..30).collect::<Vec<_>>());
}

#[test]
fn a_partition_whose_grown_batch_was_too_large_keeps_to_batch_size() {
    // Batches grow past batch.size (500) while undrained, up to 100 kB; the broker takes 2000.
    let mut h = harness(Opts {
        batch_size: 500,
        max_batch_size: Some(100_000),
        ..Opts::default()
    });
    h.net.broker(|b| b.max_message_bytes = Some(2000));
    let mut futures: Vec<SendFuture> = (0..40)
        .map(|i| send_value(&h, 0, &value(i), None))
        .collect();
    h.answered(&futures);
    let first_round = h.requests(0);
    assert!(
        first_round > 2,
        "a grown batch refused, then its pieces: {first_round}"
    );
    // Later batches of the partition stop at batch.size even while records queue up.
    futures.extend((40..80).map(|i| send_value(&h, 0, &value(i), None)));
    h.answered(&futures);
    all_written_once_in_order(&h, &futures, true);
    let sizes = logged_sizes(&h, 0);
    let later = &sizes[sizes.len() - 4..];
    assert!(
        later.iter().all(|&s| s <= 500 + 200),
        "batches after the split keep to batch.size: {sizes:?}"
    );
}
