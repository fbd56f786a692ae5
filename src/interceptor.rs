//! Producer interceptors (Java's `ProducerInterceptor`): user code that sees every record on
//! its way in ([`ProducerInterceptor::on_send`], on the caller's thread, before serialization
//! and partitioning) and every record's answer ([`ProducerInterceptor::on_acknowledgement`],
//! exactly once per record, on the thread that answers it).
//!
//! [`Interceptors`] is the chain: several interceptors called in the order they were added.
//! An interceptor that panics or returns an error is logged and skipped; the record goes on
//! to the next one, and is sent.

use crate::error::Error;
use crate::future::Callback;
use crate::record::{ProducerRecord, RecordMetadata};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// What an interceptor may return instead of `Ok`: any error. The producer logs it and goes on.
pub type InterceptorError = Box<dyn std::error::Error + Send + Sync>;

/// A record's answer as an interceptor sees it: written (with the broker's metadata) or
/// failed (with the error, the topic, and the partition when one had been chosen).
///
/// Java passes a `RecordMetadata` whose partition is -1 and offset -1 when the record failed
/// before a partition was known; here that is `Failed { partition: None, .. }`.
#[derive(Debug, Clone, Copy)]
pub enum Acknowledgement<'a> {
    /// The broker wrote the record.
    Written(&'a RecordMetadata),
    /// The record was not written, or may not have been ([`Error::delivery`] says which).
    Failed {
        /// The record's topic.
        topic: &'a str,
        /// The partition the record went to; `None` when it failed before one was chosen (for
        /// an error `send` returned, the partition the record itself asked for, if any).
        partition: Option<i32>,
        /// Why.
        error: &'a Error,
    },
}

impl<'a> Acknowledgement<'a> {
    /// The record's topic.
    ///
    /// ```
    /// use kafka_sync::{Acknowledgement, Delivery, Error};
    /// let error = Error::Closed { delivery: Delivery::NotWritten };
    /// let ack = Acknowledgement::Failed { topic: "events", partition: Some(2), error: &error };
    /// assert_eq!((ack.topic(), ack.partition()), ("events", Some(2)));
    /// assert!(ack.metadata().is_none() && ack.error().is_some());
    /// ```
    pub fn topic(&self) -> &'a str {
        match self {
            Acknowledgement::Written(md) => &md.topic,
            Acknowledgement::Failed { topic, .. } => topic,
        }
    }
    /// The record's partition, if known.
    pub fn partition(&self) -> Option<i32> {
        match self {
            Acknowledgement::Written(md) => Some(md.partition),
            Acknowledgement::Failed { partition, .. } => *partition,
        }
    }
    /// The broker's metadata, if the record was written.
    pub fn metadata(&self) -> Option<&'a RecordMetadata> {
        match self {
            Acknowledgement::Written(md) => Some(md),
            Acknowledgement::Failed { .. } => None,
        }
    }
    /// The error, if the record failed.
    pub fn error(&self) -> Option<&'a Error> {
        match self {
            Acknowledgement::Written(_) => None,
            Acknowledgement::Failed { error, .. } => Some(error),
        }
    }
}

/// Sees every record a [`Producer`](crate::Producer) sends, and every record's answer (Java's
/// `ProducerInterceptor`). Register interceptors with
/// [`Producer::builder`](crate::Producer::builder); several are called in the order they
/// were added.
///
/// - [`on_send`](Self::on_send) runs on the caller's thread inside `send`, before the key and
///   value are serialized and before the partition is chosen: it may change anything in the
///   record (a header, the key, the partition, even the topic).
/// - [`on_acknowledgement`](Self::on_acknowledgement) runs exactly once per record that went
///   through `on_send`: when the broker answers, when the record fails (broker error,
///   `delivery.timeout.ms`, close or drop of the producer), and also when `send` itself returns
///   an error. It runs before the record's callback, usually on the producer's network
///   thread: keep it short and never block in it.
/// - [`close`](Self::close) runs once, when the producer is closed or dropped.
///
/// An interceptor that panics or returns an error is logged (with `log`) and skipped: the
/// record goes on to the next interceptor as this one left it, and is sent as usual. Changes
/// made by `on_send` before it failed stay (as in Java, where an interceptor that changed the
/// headers and then threw leaves them changed): change the record last.
///
/// All methods take `&self` (the producer is shared between threads): keep state in atomics
/// or behind a lock. Every method has a default that does nothing.
///
/// Java's `interceptor.classes` property names classes; in Rust an interceptor is a value
/// given to the builder, and the property is refused.
///
/// ```
/// use kafka_sync::{Acknowledgement, Header, InterceptorError, ProducerInterceptor, ProducerRecord};
/// use std::sync::atomic::{AtomicU64, Ordering};
///
/// /// Tags every record with the service's name and counts failures.
/// #[derive(Default)]
/// struct Tag {
///     failed: AtomicU64,
/// }
///
/// impl ProducerInterceptor<String, String> for Tag {
///     fn on_send(&self, record: &mut ProducerRecord<String, String>) -> Result<(), InterceptorError> {
///         record.headers.push(Header::new("service", "billing"));
///         Ok(())
///     }
///     fn on_acknowledgement(&self, ack: &Acknowledgement<'_>) -> Result<(), InterceptorError> {
///         if ack.error().is_some() {
///             self.failed.fetch_add(1, Ordering::Relaxed);
///         }
///         Ok(())
///     }
/// }
///
/// let mut record = ProducerRecord::with_value("invoices", "42".to_string());
/// Tag::default().on_send(&mut record).unwrap();
/// assert_eq!(record.headers[0].key, "service");
/// ```
pub trait ProducerInterceptor<K, V>: Send + Sync {
    /// Called with each record before it is serialized and partitioned; may change it.
    fn on_send(&self, record: &mut ProducerRecord<K, V>) -> Result<(), InterceptorError> {
        let _ = record;
        Ok(())
    }

    /// Called exactly once with each record's answer, before the record's callback.
    fn on_acknowledgement(&self, ack: &Acknowledgement<'_>) -> Result<(), InterceptorError> {
        let _ = ack;
        Ok(())
    }

    /// Called once when the producer is closed (or dropped), after the records it waited
    /// for were answered.
    fn close(&self) {}
}

/// The answering half of the chain, without the record types: what a record's callback holds
/// (records answered on the network thread need a `'static` handle to it).
pub(crate) trait Acknowledge: Send + Sync {
    /// Calls every interceptor's `on_acknowledgement`, in order.
    fn acknowledge(&self, ack: &Acknowledgement<'_>);
}

/// The callback a record carries when interceptors are registered: the interceptors'
/// `on_acknowledgement`, then the user's callback (if any), as Java's `InterceptorCallback`.
/// Only records of a producer with interceptors pay for it (one allocation).
pub(crate) fn acknowledging(
    acks: Arc<dyn Acknowledge>,
    topic: Arc<str>,
    partition: i32,
    user: Option<Callback>,
) -> Callback {
    Box::new(move |result| {
        match &result {
            Ok(md) => acks.acknowledge(&Acknowledgement::Written(md)),
            Err(error) => acks.acknowledge(&Acknowledgement::Failed {
                topic: &topic,
                partition: Some(partition),
                error,
            }),
        }
        if let Some(cb) = user {
            cb(result);
        }
    })
}

/// Several interceptors, called in order; failures logged and skipped.
pub(crate) struct Interceptors<K, V> {
    chain: Vec<Box<dyn ProducerInterceptor<K, V>>>,
    closed: AtomicBool,
}

impl<K, V> Interceptors<K, V> {
    pub(crate) fn new(chain: Vec<Box<dyn ProducerInterceptor<K, V>>>) -> Self {
        Interceptors {
            chain,
            closed: AtomicBool::new(false),
        }
    }

    /// Every interceptor's `on_send`, in order, each with the record the previous one left.
    pub(crate) fn on_send(&self, record: &mut ProducerRecord<K, V>) {
        for (i, interceptor) in self.chain.iter().enumerate() {
            match catch_unwind(AssertUnwindSafe(|| interceptor.on_send(record))) {
                Ok(Ok(())) => {}
                Ok(Err(e)) => log::warn!(
                    "interceptor #{i} on_send failed for a record of topic {:?}, partition {:?} \
                     (skipped, the record goes on): {e}",
                    record.topic,
                    record.partition
                ),
                Err(_) => log::error!(
                    "interceptor #{i} on_send panicked for a record of topic {:?} (caught and \
                     skipped, the record goes on)",
                    record.topic
                ),
            }
        }
    }

    /// Every interceptor's `close`, once (later calls do nothing).
    pub(crate) fn close(&self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        for (i, interceptor) in self.chain.iter().enumerate() {
            if catch_unwind(AssertUnwindSafe(|| interceptor.close())).is_err() {
                log::error!("interceptor #{i} close panicked (caught)");
            }
        }
    }
}

impl<K, V> Acknowledge for Interceptors<K, V> {
    fn acknowledge(&self, ack: &Acknowledgement<'_>) {
        for (i, interceptor) in self.chain.iter().enumerate() {
            match catch_unwind(AssertUnwindSafe(|| interceptor.on_acknowledgement(ack))) {
                Ok(Ok(())) => {}
                Ok(Err(e)) => log::warn!(
                    "interceptor #{i} on_acknowledgement failed for a record of topic {:?} \
                     (skipped): {e}",
                    ack.topic()
                ),
                Err(_) => log::error!(
                    "interceptor #{i} on_acknowledgement panicked for a record of topic {:?} \
                     (caught and skipped)",
                    ack.topic()
                ),
            }
        }
    }
}

impl<K, V> Drop for Interceptors<K, V> {
    /// A producer closed from its own callback could not close its interceptors at once (records
    /// were still to be answered); the last record answered drops the chain and closes them.
    fn drop(&mut self) {
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Delivery;
    use parking_lot::Mutex;
    use std::sync::Arc;

    /// Records what it sees under a name; `mode` makes it fail.
    struct Probe {
        name: &'static str,
        mode: Mode,
        log: Arc<Mutex<Vec<String>>>,
    }
    #[derive(Clone, Copy)]
    enum Mode {
        Fine,
        Errs,
        Panics,
    }

    impl ProducerInterceptor<String, String> for Probe {
        fn on_send(&self, r: &mut ProducerRecord<String, String>) -> Result<(), InterceptorError> {
            self.log
                .lock()
                .push(format!("{} send {:?}", self.name, r.key));
            match self.mode {
                Mode::Fine => {
                    r.key = Some(format!("{}+{}", r.key.as_deref().unwrap_or(""), self.name));
                    Ok(())
                }
                Mode::Errs => Err("refused".into()),
                Mode::Panics => panic!("interceptor bug"),
            }
        }
        fn on_acknowledgement(&self, ack: &Acknowledgement<'_>) -> Result<(), InterceptorError> {
            let what = match ack {
                Acknowledgement::Written(md) => format!("offset {}", md.offset),
                Acknowledgement::Failed { partition, .. } => format!("failed {partition:?}"),
            };
            self.log.lock().push(format!("{} ack {what}", self.name));
            match self.mode {
                Mode::Fine => Ok(()),
                Mode::Errs => Err("refused".into()),
                Mode::Panics => panic!("interceptor bug"),
            }
        }
        fn close(&self) {
            self.log.lock().push(format!("{} close", self.name));
            if let Mode::Panics = self.mode {
                panic!("interceptor bug");
            }
        }
    }

    fn chain(
        modes: &[(&'static str, Mode)],
    ) -> (Interceptors<String, String>, Arc<Mutex<Vec<String>>>) {
        let log = Arc::new(Mutex::new(Vec::new()));
        let chain = modes
            .iter()
            .map(|&(name, mode)| {
                Box::new(Probe {
                    name,
                    mode,
                    log: log.clone(),
                }) as Box<dyn ProducerInterceptor<String, String>>
            })
            .collect();
        (Interceptors::new(chain), log)
    }

    #[test]
    fn failing_interceptors_are_skipped_and_the_others_still_called_in_order() {
        let (c, log) = chain(&[
            ("a", Mode::Fine),
            ("b", Mode::Panics),
            ("c", Mode::Errs),
            ("d", Mode::Fine),
        ]);
        let mut r = ProducerRecord::new("t", Some("k".to_string()), Some("v".to_string()));
        c.on_send(&mut r);
        assert_eq!(r.key.as_deref(), Some("k+a+d"), "b and c changed nothing");
        let md = RecordMetadata {
            topic: "t".into(),
            partition: 1,
            offset: 7,
            timestamp: 0,
            serialized_key_size: 1,
            serialized_value_size: 1,
        };
        c.acknowledge(&Acknowledgement::Written(&md));
        let e = Error::Closed {
            delivery: Delivery::NotWritten,
        };
        c.acknowledge(&Acknowledgement::Failed {
            topic: "t",
            partition: None,
            error: &e,
        });
        c.close();
        c.close();
        drop(c);
        let expected: Vec<String> = [
            "a send Some(\"k\")",
            "b send Some(\"k+a\")",
            "c send Some(\"k+a\")",
            "d send Some(\"k+a\")",
        ]
        .into_iter()
        .map(String::from)
        .chain(
            ["offset 7", "failed None"]
                .iter()
                .flat_map(|w| ["a", "b", "c", "d"].map(|n| format!("{n} ack {w}"))),
        )
        .chain(["a", "b", "c", "d"].map(|n| format!("{n} close")))
        .collect();
        assert_eq!(
            *log.lock(),
            expected,
            "close ran once, drop did not close again"
        );
    }

    #[test]
    fn acknowledgement_accessors() {
        let md = RecordMetadata {
            topic: "t".into(),
            partition: 3,
            offset: 1,
            timestamp: 0,
            serialized_key_size: -1,
            serialized_value_size: 1,
        };
        let w = Acknowledgement::Written(&md);
        assert_eq!((w.topic(), w.partition()), ("t", Some(3)));
        assert_eq!(w.metadata(), Some(&md));
        assert!(w.error().is_none());
    }
}
