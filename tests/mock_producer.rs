//! Testing code that sends, as a user of the crate would: a small service written against the
//! [`RecordProducer`] trait, unit-tested with [`MockProducer`]. No broker, no network: these
//! tests run anywhere (`cargo test --test mock_producer`).

use kafka_sync::{
    partition_for_key, Delivery, Error, Header, MockProducer, ProducerRecord, RecordProducer,
};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

// ---- the code under test: what an application would have ----------------------------------

/// An order event, as the application knows it.
#[derive(Debug, Clone)]
struct Order {
    id: String,
    amount_cents: u64,
}

/// Publishes order events, keyed by order id (so one order's events stay in order on one
/// partition), with the event kind in a header.
struct OrderEvents<'a, P: ?Sized> {
    producer: &'a P,
    topic: &'a str,
}

/// What a bulk publication achieved.
#[derive(Debug, Default, PartialEq, Eq)]
struct Report {
    written: usize,
    failed: usize,
    maybe_written: usize,
}

impl<'a, P: RecordProducer<String, String> + ?Sized> OrderEvents<'a, P> {
    fn record(&self, kind: &str, order: &Order) -> ProducerRecord<String, String> {
        ProducerRecord::new(
            self.topic,
            Some(order.id.clone()),
            Some(format!(
                "{{\"id\":\"{}\",\"amount\":{}}}",
                order.id, order.amount_cents
            )),
        )
        .with_header(Header::new("kind", kind))
    }

    /// Publishes one event and waits for it: the offset it was written at.
    fn publish(&self, kind: &str, order: &Order) -> Result<i64, Error> {
        Ok(self.producer.send(self.record(kind, order))?.get()?.offset)
    }

    /// Publishes many events without waiting for each, then flushes: how they went.
    fn publish_all(&self, kind: &str, orders: &[Order]) -> Report {
        let written = Arc::new(AtomicUsize::new(0));
        let failed = Arc::new(AtomicUsize::new(0));
        let maybe = Arc::new(AtomicUsize::new(0));
        for order in orders {
            let (w, f, m) = (written.clone(), failed.clone(), maybe.clone());
            let sent = self.producer.send_with_callback(
                self.record(kind, order),
                Box::new(move |r| {
                    let counter = match r {
                        Ok(_) => &w,
                        Err(e) if e.delivery() == Delivery::Unknown => &m,
                        Err(_) => &f,
                    };
                    counter.fetch_add(1, Ordering::SeqCst);
                }),
            );
            if sent.is_err() {
                failed.fetch_add(1, Ordering::SeqCst);
            }
        }
        self.producer.flush();
        Report {
            written: written.load(Ordering::SeqCst),
            failed: failed.load(Ordering::SeqCst),
            maybe_written: maybe.load(Ordering::SeqCst),
        }
    }
}

// ---- the tests ---------------------------------------------------------------------------

fn order(id: &str, amount_cents: u64) -> Order {
    Order {
        id: id.to_string(),
        amount_cents,
    }
}

#[test]
fn an_event_is_keyed_by_order_and_tagged_with_its_kind() {
    let mock = MockProducer::new().with_topic("orders", 6);
    let events = OrderEvents {
        producer: &mock,
        topic: "orders",
    };
    assert_eq!(events.publish("created", &order("o-1", 1250)).unwrap(), 0);
    assert_eq!(events.publish("paid", &order("o-1", 1250)).unwrap(), 1);

    let sent = mock.history();
    assert_eq!(sent.len(), 2);
    assert!(sent
        .iter()
        .all(|r| r.topic == "orders" && r.key.as_deref() == Some("o-1")));
    assert_eq!(sent[0].headers, vec![Header::new("kind", "created")]);
    assert_eq!(sent[1].headers, vec![Header::new("kind", "paid")]);
    assert_eq!(
        sent[0].value.as_deref(),
        Some("{\"id\":\"o-1\",\"amount\":1250}")
    );
}

#[test]
fn one_orders_events_land_on_the_partition_kafka_puts_its_key() {
    let mock = MockProducer::new().with_topic("orders", 6);
    let events = OrderEvents {
        producer: &mock,
        topic: "orders",
    };
    for id in ["o-1", "o-2", "o-3", "o-4"] {
        let f = mock.send(events.record("created", &order(id, 1))).unwrap();
        // The partition a Java client (and the real producer) would choose for this key.
        assert_eq!(
            f.get().unwrap().partition,
            partition_for_key(id.as_bytes(), 6)
        );
    }
}

#[test]
fn a_refused_event_is_reported_to_the_caller() {
    let mock = MockProducer::new().with_auto_complete(false);
    let events = OrderEvents {
        producer: &mock,
        topic: "orders",
    };
    // The caller blocks in `get`: answer from another thread, as the broker would.
    std::thread::scope(|s| {
        let publishing = s.spawn(|| events.publish("created", &order("o-9", 5)));
        while mock.history().is_empty() {
            std::thread::yield_now();
        }
        let refused = Error::Broker {
            code: kafka_sync::protocol::ErrorCode::TOPIC_AUTHORIZATION_FAILED,
            message: None,
            delivery: Delivery::NotWritten,
        };
        assert!(mock.error_next(refused));
        let err = publishing.join().unwrap().unwrap_err();
        assert!(matches!(err, Error::Broker { .. }), "{err:?}");
    });
}

#[test]
fn a_bulk_publication_flushes_and_counts_every_answer() {
    let mock = MockProducer::new().with_auto_complete(false);
    let events = OrderEvents {
        producer: &mock,
        topic: "orders",
    };
    let orders: Vec<Order> = (0..10).map(|i| order(&format!("o-{i}"), i)).collect();
    // The service's flush answers everything (the mock's flush completes what waits).
    assert_eq!(
        events.publish_all("created", &orders),
        Report {
            written: 10,
            failed: 0,
            maybe_written: 0
        }
    );
    assert!(mock.flushed());
    assert_eq!(mock.history().len(), 10);
}

#[test]
fn a_bulk_publication_after_close_fails_every_event() {
    let mock = MockProducer::new();
    let events = OrderEvents {
        producer: &mock,
        topic: "orders",
    };
    mock.close(std::time::Duration::ZERO);
    let report = events.publish_all("created", &[order("o-1", 1), order("o-2", 2)]);
    assert_eq!(report.failed, 2);
    assert!(mock.history().is_empty());
}

#[test]
fn events_waiting_when_the_producer_closes_may_have_been_written() {
    let mock = MockProducer::new().with_auto_complete(false);
    let events = OrderEvents {
        producer: &mock,
        topic: "orders",
    };
    let maybe = Arc::new(AtomicUsize::new(0));
    for i in 0..3 {
        let m = maybe.clone();
        mock.send_with_callback(
            events.record("created", &order(&format!("o-{i}"), i)),
            move |r| {
                if r.is_err_and(|e| e.delivery() == Delivery::Unknown) {
                    m.fetch_add(1, Ordering::SeqCst);
                }
            },
        )
        .unwrap();
    }
    assert!(mock.complete_next());
    drop(mock); // as the real producer, a drop answers every record still waiting
    assert_eq!(maybe.load(Ordering::SeqCst), 2);
}

#[test]
fn the_service_also_runs_on_a_trait_object() {
    let mock: MockProducer<String, String> = MockProducer::new();
    let shared: Arc<dyn RecordProducer<String, String> + Send + Sync> = Arc::new(mock);
    let events = OrderEvents {
        producer: &*shared,
        topic: "orders",
    };
    assert_eq!(events.publish("created", &order("o-1", 1)).unwrap(), 0);
}
