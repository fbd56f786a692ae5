use super::*;
use crate::partitioner::partition_for_key;
use crate::record::RecordMetadata;
use std::sync::atomic::{AtomicUsize, Ordering};

type Answers = Arc<Mutex<Vec<Result<RecordMetadata, Error>>>>;

fn keyed(topic: &str, key: &str, value: &str) -> ProducerRecord<String, String> {
    ProducerRecord::new(topic, Some(key.to_string()), Some(value.to_string()))
}

fn keyless(topic: &str, value: &str) -> ProducerRecord<String, String> {
    ProducerRecord::with_value(topic, value.to_string())
}

/// A callback that appends its answer to `answers`.
fn into(answers: &Answers) -> impl FnOnce(Result<RecordMetadata, Error>) + Send + 'static {
    let answers = answers.clone();
    move |r| answers.lock().push(r)
}

#[test]
fn auto_complete_answers_at_once_with_offsets_counting_per_partition() {
    let mock: MockProducer<String, String> = MockProducer::new().with_topic("t", 3);
    let answers = Answers::default();
    let keys = ["a", "b", "c", "a", "d", "a"];
    let mut futures = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        let f = mock
            .send_with_callback(keyed("t", k, &i.to_string()), into(&answers))
            .unwrap();
        assert!(f.is_done(), "answered inside send");
        futures.push(f);
    }
    let mut expected_next: HashMap<i32, i64> = HashMap::new();
    for (i, (k, f)) in keys.iter().zip(&futures).enumerate() {
        let md = f.get().unwrap();
        let p = partition_for_key(k.as_bytes(), 3);
        let next = expected_next.entry(p).or_insert(0);
        assert_eq!((md.partition, md.offset), (p, *next), "record {i}");
        *next += 1;
        assert_eq!(&*md.topic, "t");
        assert_eq!((md.serialized_key_size, md.serialized_value_size), (1, 1));
        assert_eq!(
            answers.lock()[i].as_ref().unwrap(),
            &md,
            "callback saw the same"
        );
    }
    assert_eq!(answers.lock().len(), keys.len(), "one callback each");
    let history: Vec<_> = mock.history().into_iter().map(|r| r.key.unwrap()).collect();
    assert_eq!(history, keys);
    assert!(mock.flushed());
}

#[test]
fn explicit_partitions_are_respected_and_checked_against_the_layout() {
    let mock: MockProducer<String, String> = MockProducer::new().with_topic("t", 2);
    let md = mock
        .send(keyed("t", "a", "v").with_partition(1))
        .unwrap()
        .get()
        .unwrap();
    assert_eq!(md.partition, 1);
    let err = mock.send(keyless("t", "v").with_partition(2)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::UnknownPartition {
                partition: 2,
                partitions: 2,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        mock.history().len(),
        1,
        "a refused record is not in the history"
    );
    // A topic without a layout: the record's partition, or 0.
    let md = mock
        .send(keyless("other", "v").with_partition(7))
        .unwrap()
        .get()
        .unwrap();
    assert_eq!(md.partition, 7);
    let md = mock.send(keyed("other", "a", "v")).unwrap().get().unwrap();
    assert_eq!((md.partition, md.offset), (0, 0));
    assert!(mock.send(keyless("other", "v").with_partition(-1)).is_err());
}

#[test]
fn keyless_records_stay_on_one_partition_per_topic() {
    let mock: MockProducer<String, String> = MockProducer::new().with_topic("t", 16);
    let first = mock.send(keyless("t", "0")).unwrap().get().unwrap();
    for i in 1..50 {
        let md = mock
            .send(keyless("t", &i.to_string()))
            .unwrap()
            .get()
            .unwrap();
        assert_eq!((md.partition, md.offset), (first.partition, i));
    }
    assert!((0..16).contains(&first.partition));
}

#[test]
fn a_custom_partitioner_is_asked_first_for_records_without_a_partition() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let mock: MockProducer<String, String> =
        MockProducer::new().with_topic("t", 4).with_partitioner(
            move |_: &str, key: Option<&[u8]>, _: Option<&[u8]>, _: &TopicLayout<'_>| {
                c.fetch_add(1, Ordering::Relaxed);
                key.map(|_| 3)
            },
        );
    assert_eq!(
        mock.send(keyed("t", "k", "v"))
            .unwrap()
            .get()
            .unwrap()
            .partition,
        3
    );
    assert_eq!(
        mock.send(keyless("t", "v").with_partition(1))
            .unwrap()
            .get()
            .unwrap()
            .partition,
        1
    );
    mock.send(keyless("t", "v")).unwrap();
    assert_eq!(
        calls.load(Ordering::Relaxed),
        2,
        "not asked for an explicit partition"
    );
}

#[test]
fn manual_mode_answers_in_order_when_told() {
    let mock: MockProducer<String, String> = MockProducer::new().with_auto_complete(false);
    let answers = Answers::default();
    let futures: Vec<_> = (0..4)
        .map(|i| {
            mock.send_with_callback(keyless("t", &i.to_string()), into(&answers))
                .unwrap()
        })
        .collect();
    assert!(futures.iter().all(|f| !f.is_done()));
    assert!(!mock.flushed());
    assert!(mock.complete_next());
    assert_eq!(futures[0].get().unwrap().offset, 0);
    assert!(!futures[1].is_done());
    let refused = Error::Broker {
        code: crate::protocol::ErrorCode::MESSAGE_TOO_LARGE,
        message: None,
        delivery: Delivery::NotWritten,
    };
    assert!(mock.error_next(refused));
    let err = futures[1].get().unwrap_err();
    assert!(matches!(err, Error::Broker { .. }), "{err:?}");
    mock.flush();
    assert_eq!(
        futures[2].get().unwrap().offset,
        2,
        "an error still used its offset (Java)"
    );
    assert_eq!(futures[3].get().unwrap().offset, 3);
    assert!(!mock.complete_next() && !mock.error_next(Error::WaitTimeout));
    let a = answers.lock();
    assert_eq!(a.len(), 4);
    assert!(a[0].is_ok() && a[1].is_err() && a[2].is_ok() && a[3].is_ok());
}

#[test]
fn close_answers_what_waits_and_refuses_later_sends() {
    let mock: MockProducer<String, String> = MockProducer::new().with_auto_complete(false);
    let answers = Answers::default();
    let f = mock
        .send_with_callback(keyless("t", "v"), into(&answers))
        .unwrap();
    mock.close(Duration::from_secs(1));
    assert!(mock.is_closed());
    let err = f.get().unwrap_err();
    assert!(
        matches!(
            err,
            Error::Closed {
                delivery: Delivery::Unknown
            }
        ),
        "{err:?}"
    );
    assert_eq!(answers.lock().len(), 1);
    let err = mock.send(keyless("t", "late")).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Closed {
                delivery: Delivery::NotWritten
            }
        ),
        "{err:?}"
    );
    assert_eq!(mock.history().len(), 1);
    mock.close(Duration::ZERO);
    drop(mock);
    assert_eq!(
        answers.lock().len(),
        1,
        "answered once, not again on a second close or drop"
    );
}

#[test]
fn drop_answers_what_waits() {
    let mock: MockProducer<String, String> = MockProducer::new().with_auto_complete(false);
    let answers = Answers::default();
    let futures: Vec<_> = (0..3)
        .map(|i| {
            mock.send_with_callback(keyless("t", &i.to_string()), into(&answers))
                .unwrap()
        })
        .collect();
    drop(mock);
    for f in futures {
        assert!(matches!(f.try_get(), Some(Err(Error::Closed { .. }))));
    }
    assert_eq!(answers.lock().len(), 3);
}

#[test]
fn clear_forgets_the_history_but_not_the_waiting_records() {
    let mock: MockProducer<String, String> = MockProducer::new().with_auto_complete(false);
    let f = mock.send(keyless("t", "v")).unwrap();
    mock.clear();
    assert!(mock.history().is_empty());
    assert!(!mock.flushed());
    assert!(mock.complete_next());
    assert_eq!(f.get().unwrap().offset, 0);
    mock.send(keyless("t", "w")).unwrap();
    assert_eq!(mock.history()[0].value.as_deref(), Some("w"));
}

#[test]
fn serializer_and_topic_errors_are_returned_and_nothing_is_recorded() {
    let refuse = |_: &str, v: &String, _: &mut Vec<u8>| -> Result<(), Error> {
        Err(Error::Config {
            property: "x".into(),
            reason: format!("cannot serialize {v}"),
        })
    };
    let mock: MockProducer<String, String> =
        MockProducer::with_serializers(DefaultSerializer, refuse);
    let err = mock.send(keyless("t", "v")).unwrap_err();
    assert!(
        matches!(&err, Error::Serialization { part: "value", reason } if reason.contains("cannot serialize v")),
        "{err:?}"
    );
    let tombstone = ProducerRecord::<String, String>::new("t", Some("k".into()), None);
    let md = mock.send(tombstone).unwrap().get().unwrap();
    assert_eq!(
        (md.offset, md.serialized_value_size),
        (0, -1),
        "the failure used no offset"
    );
    assert!(matches!(
        mock.send(keyless("bad topic", "v")),
        Err(Error::InvalidTopic { .. })
    ));
    assert!(matches!(
        mock.partitions_for(""),
        Err(Error::InvalidTopic { .. })
    ));
    assert_eq!(mock.history().len(), 1);
}

#[test]
fn timestamps_are_the_records_or_now() {
    let mock: MockProducer<String, String> = MockProducer::new();
    let md = mock
        .send(keyless("t", "v").with_timestamp(42))
        .unwrap()
        .get()
        .unwrap();
    assert_eq!(md.timestamp, 42);
    let before = now_ms();
    let md = mock.send(keyless("t", "v")).unwrap().get().unwrap();
    assert!(md.timestamp >= before && md.timestamp <= now_ms());
}

#[test]
fn a_callback_may_send_again_and_a_blocked_get_wakes_when_another_thread_answers() {
    let mock: Arc<MockProducer<String, String>> =
        Arc::new(MockProducer::new().with_auto_complete(false));
    let m = mock.clone();
    let inner = Arc::new(Mutex::new(None));
    let slot = inner.clone();
    let f = mock
        .send_with_callback(keyless("t", "outer"), move |_| {
            *slot.lock() = Some(m.send(keyless("t", "inner")).unwrap());
        })
        .unwrap();
    let waiter = std::thread::spawn(move || f.get());
    std::thread::sleep(Duration::from_millis(20));
    assert!(mock.complete_next());
    assert_eq!(waiter.join().unwrap().unwrap().offset, 0);
    assert!(mock.complete_next(), "the callback's record waits too");
    let f2 = inner.lock().take().expect("sent from the callback");
    assert_eq!(f2.get().unwrap().offset, 1);
}

#[test]
fn partitions_for_reports_the_layout_and_nothing_for_other_topics() {
    let mock: MockProducer<String, String> = MockProducer::new().with_topic("t", 3);
    let ps = mock.partitions_for("t").unwrap();
    assert_eq!(
        ps.iter().map(|p| p.partition).collect::<Vec<_>>(),
        [0, 1, 2]
    );
    assert!(ps.iter().all(|p| p.leader == Some(0) && p.topic == "t"));
    assert!(mock.partitions_for("u").unwrap().is_empty());
}

#[test]
fn through_the_trait_object() {
    let mock: MockProducer<String, String> = MockProducer::new().with_auto_complete(false);
    let answers = Answers::default();
    {
        let p: &dyn RecordProducer<String, String> = &mock;
        p.send(keyless("t", "a")).unwrap();
        p.send_with_callback(keyless("t", "b"), Box::new(into(&answers)))
            .unwrap();
        assert_eq!(p.partitions_for("t").unwrap(), vec![]);
        p.flush();
    }
    assert!(mock.flushed());
    assert_eq!(answers.lock().len(), 1);
    RecordProducer::close(&mock, Duration::ZERO);
    assert!(mock.is_closed());
}

#[test]
fn transactions_are_tracked_as_javas_mock_tracks_them() {
    let mock: MockProducer<String, String> = MockProducer::new();
    let kind = |r: Result<(), Error>| match r {
        Err(Error::Transaction { kind, .. }) => kind,
        other => panic!("expected a transaction error, got {other:?}"),
    };
    assert_eq!(
        kind(mock.begin_transaction()),
        TransactionErrorKind::InvalidState
    );
    // Before init_transactions the mock is not transactional: sends go to the history.
    mock.send(keyless("t", "plain")).unwrap();
    mock.init_transactions().unwrap();
    assert!(mock.transaction_initialized());
    assert_eq!(
        kind(mock.init_transactions()),
        TransactionErrorKind::InvalidState
    );
    assert!(
        mock.send(keyless("t", "outside")).is_err(),
        "outside a transaction"
    );
    assert_eq!(
        kind(mock.commit_transaction()),
        TransactionErrorKind::InvalidState
    );

    let group = ConsumerGroupMetadata::new("g");
    let offsets = HashMap::from([(TopicPartition::new("in", 0), OffsetAndMetadata::new(5))]);
    mock.begin_transaction().unwrap();
    assert!(mock.transaction_in_flight());
    mock.send(keyless("t", "aborted")).unwrap();
    mock.send_offsets_to_transaction(&offsets, &group).unwrap();
    mock.abort_transaction().unwrap();
    assert!(mock.transaction_aborted() && !mock.transaction_in_flight());

    mock.begin_transaction().unwrap();
    mock.send(keyless("t", "committed")).unwrap();
    mock.send_offsets_to_transaction(&offsets, &group).unwrap();
    assert_eq!(mock.history().len(), 1, "not before the commit");
    mock.commit_transaction().unwrap();
    let values: Vec<_> = mock.history().into_iter().filter_map(|r| r.value).collect();
    assert_eq!(values, ["plain", "committed"]);
    assert_eq!(
        mock.consumer_group_offsets(),
        vec![("g".to_string(), offsets)]
    );
    assert_eq!(mock.commit_count(), 1);

    mock.fence_producer();
    let fenced = mock.begin_transaction().unwrap_err();
    assert!(fenced.is_fatal(), "{fenced}");
    assert!(mock.send(keyless("t", "x")).unwrap_err().is_fatal());
}
