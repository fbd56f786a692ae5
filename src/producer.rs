//! The producer: what users hold. `send` runs on the caller's thread (serialize, partition,
//! append); the network is the sender thread's.

use crate::accumulator::{AccumulatorConfig, RecordAccumulator};
use crate::backoff::Rng;
use crate::config::ProducerConfig;
use crate::error::{Delivery, Error};
use crate::future::{Callback, SendFuture};
use crate::interceptor::{
    acknowledging, Acknowledge, Acknowledgement, Interceptors, ProducerInterceptor,
};
use crate::metadata::Metadata;
use crate::metrics::{CallerFigures, Metrics, SharedMetrics, WindowConfig};
use crate::net::sasl::oauthbearer::OAuthBearerTokenProvider;
use crate::net::sasl::token::TokenCache;
use crate::net::{PoolConfig, SocketOptions, TcpTransport, Transport};
use crate::partitioner::{
    choose_partition, BuiltInPartitioners, LoadStats, PartitionChoice, TopicLayout,
};
use crate::protocol::record_batch::{record_size_upper_bound, BATCH_HEADER_LEN};
use crate::record::{
    ConsumerGroupMetadata, OffsetAndMetadata, PartitionInfo, ProducerRecord, RecordMetadata,
    TopicPartition,
};
use crate::record_producer::RecordProducer;
use crate::send_cache::{next_producer_id, SendCache};
use crate::sender::{Sender, SenderConfig, Shared, TxnCore, TxnShared};
use crate::serializer::{as_serialization, DefaultSerializer, Serializer};
use crate::topic::validate_topic;
use parking_lot::Mutex;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

mod login;
mod transactions;

thread_local! {
    /// What `send` keeps between records on this thread (scratch buffers, topics, clock).
    static SEND_CACHE: RefCell<SendCache> = RefCell::new(SendCache::default());
}

/// A Kafka producer: `Send + Sync`, share it between threads (e.g. in an `Arc`).
///
/// Records are answered exactly once: through the [`SendFuture`] returned by
/// [`send`](Producer::send), or the callback given to
/// [`send_with_callback`](Producer::send_with_callback). Dropping the producer closes it
/// ([`close`](Producer::close) without a timeout): queued records are sent first, and every
/// record still pending when the sender gives up (at the latest after `delivery.timeout.ms`)
/// is answered with an error.
///
/// ```no_run
/// use kafka_sync::{Producer, ProducerConfig, ProducerRecord};
///
/// let config = ProducerConfig::builder().bootstrap_servers("127.0.0.1:9092").build()?;
/// let producer: Producer<String, String> = Producer::new(config)?;
/// let md = producer
///     .send(ProducerRecord::new("events", Some("user-1".to_string()), Some("hello".to_string())))?
///     .get()?;
/// println!("written to {}-{} at offset {}", md.topic, md.partition, md.offset);
/// # Ok::<(), kafka_sync::Error>(())
/// ```
pub struct Producer<K, V> {
    key_serializer: Box<dyn Serializer<K>>,
    value_serializer: Box<dyn Serializer<V>>,
    inner: Arc<Inner>,
    /// `None` without interceptors: then `send` pays nothing for them.
    interceptors: Option<Intercepting<K, V>>,
}

/// The interceptor chain, and the same chain as records' callbacks hold it.
struct Intercepting<K, V> {
    chain: Arc<Interceptors<K, V>>,
    acks: Arc<dyn Acknowledge>,
}

/// Builds a [`Producer`] with interceptors, and serializers other than the default ones.
///
/// `KS` and `VS` are the key and value serializers' types; [`build`](Self::build) requires
/// them to serialize `K` and `V`, so a missing serializer is a compile error.
///
/// ```no_run
/// use kafka_sync::{Header, InterceptorError, Producer, ProducerConfig, ProducerInterceptor, ProducerRecord};
///
/// struct Source;
/// impl ProducerInterceptor<String, Vec<u8>> for Source {
///     fn on_send(&self, r: &mut ProducerRecord<String, Vec<u8>>) -> Result<(), InterceptorError> {
///         r.headers.push(Header::new("source", "billing"));
///         Ok(())
///     }
/// }
///
/// let config = ProducerConfig::builder().bootstrap_servers("127.0.0.1:9092").build()?;
/// let producer: Producer<String, Vec<u8>> = Producer::builder(config)
///     .interceptor(Source)
///     .build()?;
/// # Ok::<(), kafka_sync::Error>(())
/// ```
pub struct ProducerBuilder<K, V, KS = DefaultSerializer, VS = DefaultSerializer> {
    config: ProducerConfig,
    key_serializer: KS,
    value_serializer: VS,
    interceptors: Vec<Box<dyn ProducerInterceptor<K, V>>>,
    token_provider: Option<Arc<dyn OAuthBearerTokenProvider>>,
}

impl<K, V, KS, VS> ProducerBuilder<K, V, KS, VS> {
    /// Uses these key and value serializers instead of [`DefaultSerializer`].
    ///
    /// ```no_run
    /// use kafka_sync::{DefaultSerializer, Error, Producer, ProducerConfig};
    ///
    /// // Values written as comma-separated numbers.
    /// let csv = |_topic: &str, v: &Vec<u32>, out: &mut Vec<u8>| -> Result<(), Error> {
    ///     let text: Vec<String> = v.iter().map(u32::to_string).collect();
    ///     out.extend_from_slice(text.join(",").as_bytes());
    ///     Ok(())
    /// };
    /// let config = ProducerConfig::builder().bootstrap_servers("127.0.0.1:9092").build()?;
    /// let producer: Producer<String, Vec<u32>> = Producer::builder(config)
    ///     .serializers(DefaultSerializer, csv)
    ///     .build()?;
    /// # Ok::<(), kafka_sync::Error>(())
    /// ```
    pub fn serializers<KS2, VS2>(
        self,
        key_serializer: KS2,
        value_serializer: VS2,
    ) -> ProducerBuilder<K, V, KS2, VS2> {
        ProducerBuilder {
            config: self.config,
            key_serializer,
            value_serializer,
            interceptors: self.interceptors,
            token_provider: self.token_provider,
        }
    }

    /// Adds an interceptor after those added before (see [`ProducerInterceptor`]).
    pub fn interceptor(mut self, interceptor: impl ProducerInterceptor<K, V> + 'static) -> Self {
        self.interceptors.push(Box::new(interceptor));
        self
    }

    /// Gives SASL/OAUTHBEARER its tokens (see [`OAuthBearerTokenProvider`]), in place of the
    /// login `sasl.jaas.config` configures (Java: a custom `sasl.login.callback.handler.class`).
    /// The configuration must use `sasl.mechanism=OAUTHBEARER`; `sasl.jaas.config` may then be
    /// left unset.
    pub fn oauth_token_provider(
        mut self,
        provider: impl OAuthBearerTokenProvider + 'static,
    ) -> Self {
        self.token_provider = Some(Arc::new(provider));
        self
    }

    /// Starts the producer.
    ///
    /// # Errors
    ///
    /// As for [`Producer::new`].
    pub fn build(self) -> Result<Producer<K, V>, Error>
    where
        K: 'static,
        V: 'static,
        KS: Serializer<K> + 'static,
        VS: Serializer<V> + 'static,
    {
        let mut producer = Producer::start(
            self.config,
            self.key_serializer,
            self.value_serializer,
            self.token_provider,
        )?;
        if !self.interceptors.is_empty() {
            let chain = Arc::new(Interceptors::new(self.interceptors));
            producer.interceptors = Some(Intercepting {
                acks: chain.clone(),
                chain,
            });
        }
        Ok(producer)
    }
}

struct Inner {
    /// Tells this producer's entries apart in the per-thread send cache.
    id: u64,
    config: ProducerConfig,
    shared: Arc<Shared>,
    sticky: BuiltInPartitioners,
    closed: AtomicBool,
    thread: Mutex<Option<JoinHandle<()>>>,
    exited: crossbeam_channel::Receiver<()>,
    /// OAUTHBEARER's token and login thread, stopped with the producer.
    login: Option<Arc<TokenCache>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(login) = &self.login {
            login.stop();
        }
    }
}

impl<K, V> Producer<K, V>
where
    DefaultSerializer: Serializer<K> + Serializer<V>,
{
    /// A producer with the built-in serializers for `K` and `V` (bytes, strings, integers as Java
    /// writes them). Starts the sender thread; nothing is connected until the first send.
    ///
    /// # Errors
    ///
    /// [`Error::Startup`] when the operating system refuses the readiness poller or the sender
    /// thread (the configuration was checked when it was built).
    pub fn new(config: ProducerConfig) -> Result<Self, Error> {
        Self::with_serializers(config, DefaultSerializer, DefaultSerializer)
    }
}

impl<K, V> Producer<K, V> {
    /// A builder, for interceptors ([`ProducerBuilder::interceptor`]) and serializers
    /// ([`ProducerBuilder::serializers`]; [`DefaultSerializer`] unless given).
    pub fn builder(config: ProducerConfig) -> ProducerBuilder<K, V> {
        ProducerBuilder {
            config,
            key_serializer: DefaultSerializer,
            value_serializer: DefaultSerializer,
            interceptors: Vec::new(),
            token_provider: None,
        }
    }
}

impl<K, V> Producer<K, V> {
    /// A producer with the given key and value serializers.
    ///
    /// # Errors
    ///
    /// As for [`Producer::new`].
    pub fn with_serializers(
        config: ProducerConfig,
        key_serializer: impl Serializer<K> + 'static,
        value_serializer: impl Serializer<V> + 'static,
    ) -> Result<Self, Error> {
        Self::start(config, key_serializer, value_serializer, None)
    }

    fn start(
        config: ProducerConfig,
        key_serializer: impl Serializer<K> + 'static,
        value_serializer: impl Serializer<V> + 'static,
        token_provider: Option<Arc<dyn OAuthBearerTokenProvider>>,
    ) -> Result<Self, Error> {
        let login = login::start(&config, token_provider)?;
        let acc = Arc::new(RecordAccumulator::new(AccumulatorConfig {
            batch_size: config.batch_size(),
            max_batch_size: config.batch_max_size().min(config.max_request_size()),
            linger: config.linger(),
            buffer_memory: config.buffer_memory(),
            retry_backoff: config.retry_backoff(),
            retry_backoff_max: config.retry_backoff_max(),
            delivery_timeout: config.delivery_timeout(),
            compression: config.compression(),
            compression_level: config.compression_level(),
        }));
        let metadata = Arc::new(Metadata::new(
            config.metadata_max_age(),
            config.metadata_max_idle(),
            config.retry_backoff(),
        ));
        let transport = TcpTransport::new(
            config.tls_connector().cloned(),
            SocketOptions {
                send_buffer: config.send_buffer_bytes(),
                receive_buffer: config.receive_buffer_bytes(),
            },
        )
        .map_err(|e| Error::startup("cannot create the readiness poller", e))?;
        let shared = Arc::new(Shared {
            accumulator: acc,
            metadata,
            load: Arc::new(LoadStats::new(config.partitioner_adaptive_partitioning())),
            metrics: Arc::new(SharedMetrics::new(
                WindowConfig::new(
                    config.metrics_num_samples(),
                    u64::try_from(config.metrics_sample_window().as_millis()).unwrap_or(u64::MAX),
                ),
                transport.now(),
            )),
            waker: transport.waker(),
            running: AtomicBool::new(true),
            force_close: AtomicBool::new(false),
            saturated: AtomicBool::new(false),
            txn: config.transactional_id().map(|id| {
                Arc::new(TxnShared::new(TxnCore::new(
                    Arc::from(id),
                    config.transaction_timeout(),
                    config.retry_backoff(),
                )))
            }),
        });
        let bootstrap: Vec<String> = config
            .bootstrap_servers()
            .iter()
            .map(|b| b.to_string())
            .collect();
        let sender_cfg = SenderConfig {
            acks: config.acks().as_i16(),
            delivery_timeout: config.delivery_timeout(),
            max_request_size: config.max_request_size(),
            retries: config.retries(),
            retry_backoff: config.retry_backoff(),
            idempotence: config.idempotence_enabled(),
            availability_timeout: config.partitioner_availability_timeout(),
            bootstrap,
            pool: PoolConfig {
                client_id: config.client_id().to_string(),
                max_in_flight: config.max_in_flight_requests_per_connection(),
                request_timeout: config.request_timeout(),
                reconnect_backoff: config.reconnect_backoff(),
                reconnect_backoff_max: config.reconnect_backoff_max(),
                setup_timeout: config.socket_connection_setup_timeout(),
                setup_timeout_max: config.socket_connection_setup_timeout_max(),
                connections_max_idle: config.connections_max_idle(),
                sasl: config.sasl_settings().cloned().map(|mut s| {
                    s.oauth = login.clone();
                    s
                }),
            },
        };
        log::info!("producer {} starting: {:?}", config.client_id(), config);
        let (exit_tx, exit_rx) = crossbeam_channel::bounded(1);
        let sender = Sender::new(sender_cfg, shared.clone(), transport, Rng::new());
        let guarded = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!(
                "kafka-producer-network-thread | {}",
                config.client_id()
            ))
            .spawn(move || {
                run_guarded(&guarded, move || sender.run());
                let _ = exit_tx.send(());
            })
            .map_err(|e| Error::startup("cannot spawn the sender thread", e))?;
        let sticky = BuiltInPartitioners::with_load(config.batch_size(), shared.load.clone());
        Ok(Producer {
            key_serializer: Box::new(key_serializer),
            value_serializer: Box::new(value_serializer),
            inner: Arc::new(Inner {
                id: next_producer_id(),
                config,
                shared,
                sticky,
                closed: AtomicBool::new(false),
                thread: Mutex::new(Some(thread)),
                exited: exit_rx,
                login,
            }),
            interceptors: None,
        })
    }

    /// The configuration in effect.
    pub fn config(&self) -> &ProducerConfig {
        &self.inner.config
    }

    /// A snapshot of the producer's metrics, with the Java producer's names and meanings
    /// (see [`Metrics`] and the README's Observability table). Cheap enough to call every
    /// second: it takes the sender's metrics lock once, and the buffer pool's.
    ///
    /// ```no_run
    /// # let config = kafka_sync::ProducerConfig::builder().bootstrap_servers("127.0.0.1:9092").build()?;
    /// # let producer: kafka_sync::Producer<String, String> = kafka_sync::Producer::new(config)?;
    /// let m = producer.metrics();
    /// let sent = m.get("record-send-total").unwrap_or(0.0);
    /// let failed = m.get("record-error-total").unwrap_or(0.0);
    /// println!("{sent} sent, {failed} failed");
    /// # Ok::<(), kafka_sync::Error>(())
    /// ```
    pub fn metrics(&self) -> Metrics {
        let shared = &self.inner.shared;
        let (total, available, waiting, wait_ns) = shared.accumulator.pool().figures();
        let caller = CallerFigures {
            buffer_total: total,
            buffer_available: available,
            waiting_threads: waiting,
            bufferpool_wait_ns: wait_ns,
            unseen_send_errors: 0,
        };
        let client_id = self.inner.config.client_id();
        shared.metrics.snapshot(client_id, caller, Instant::now())
    }

    /// Sends a record. Returns at once with a [`SendFuture`] for its answer, or with an error
    /// for what is known before anything is queued: an invalid topic name, a serialization
    /// failure, a record larger than `max.request.size`, a partition that does not exist, the
    /// topic not in metadata within `max.block.ms`, or `buffer.memory` still full after
    /// `max.block.ms`. When it returns an error, nothing was queued.
    ///
    /// It blocks only for metadata of a topic not seen before and for buffer memory, each bounded
    /// by `max.block.ms` in total.
    pub fn send(&self, record: ProducerRecord<K, V>) -> Result<SendFuture, Error> {
        self.do_send(record, None)
            .inspect_err(|_| self.inner.shared.metrics.send_error())
    }

    /// Sends a record and calls `callback` once with its answer.
    ///
    /// The callback runs on the producer's sender thread: keep it short and never block in it,
    /// or every other record of this producer waits. It may call `send` (which can still block
    /// up to `max.block.ms` for metadata or memory, as always). It must not call
    /// [`flush`](Producer::flush) or a blocking `get` on a record not yet answered: those wait
    /// for the sender thread, which is running the callback, and block forever. Calling
    /// [`close`](Producer::close) from it (or dropping the last handle in it) does not wait: a
    /// timeout is treated as zero, as in Java, and a drop lets queued records be sent.
    ///
    /// If this returns an error, the record was not queued and the callback is not called: the
    /// error is the record's answer. The returned future resolves with the same answer as the
    /// callback.
    pub fn send_with_callback(
        &self,
        record: ProducerRecord<K, V>,
        callback: impl FnOnce(Result<RecordMetadata, Error>) + Send + 'static,
    ) -> Result<SendFuture, Error> {
        self.do_send(record, Some(Box::new(callback)))
            .inspect_err(|_| self.inner.shared.metrics.send_error())
    }

    #[inline]
    fn do_send(
        &self,
        record: ProducerRecord<K, V>,
        callback: Option<Callback>,
    ) -> Result<SendFuture, Error> {
        match &self.interceptors {
            None => self.append(&record, callback, None),
            Some(intercepting) => self.send_intercepted(record, callback, intercepting),
        }
    }

    /// `send` with interceptors: their `on_send`, the append, and their acknowledgement of an
    /// error returned here.
    #[inline(never)]
    fn send_intercepted(
        &self,
        mut record: ProducerRecord<K, V>,
        callback: Option<Callback>,
        intercepting: &Intercepting<K, V>,
    ) -> Result<SendFuture, Error> {
        intercepting.chain.on_send(&mut record);
        let sent = self.append(&record, callback, Some(&intercepting.acks));
        if let Err(error) = &sent {
            // The record's answer is this error: the interceptors hear it too (Java's
            // onSendError), with the partition the record asked for, if any.
            intercepting.acks.acknowledge(&Acknowledgement::Failed {
                topic: &record.topic,
                partition: record.partition,
                error,
            });
        }
        sent
    }

    /// Serializes, partitions and appends one record (everything `send` does but the
    /// interceptors' `on_send`). With `acks`, the record carries a callback that tells the
    /// interceptors its answer.
    fn append(
        &self,
        record: &ProducerRecord<K, V>,
        callback: Option<Callback>,
        acks: Option<&Arc<dyn Acknowledge>>,
    ) -> Result<SendFuture, Error> {
        let inner = &*self.inner;
        let cfg = &inner.config;
        if inner.closed.load(Ordering::Acquire) {
            return Err(Error::Closed {
                delivery: Delivery::NotWritten,
            });
        }
        let started = Instant::now();
        let deadline = started + cfg.max_block();
        let shared = &inner.shared;

        SEND_CACHE.with(|cell| {
            // A serializer that itself sends finds the cache in use: it gets a fresh one.
            let mut fresh = SendCache::default();
            let mut guard = cell.try_borrow_mut();
            let cache = match guard.as_deref_mut() {
                Ok(c) => c,
                Err(_) => &mut fresh,
            };
            let SendCache {
                key: kbuf,
                value: vbuf,
                topics,
                clock,
            } = cache;

            // The topic: remembered by this thread while the metadata has not changed, else
            // checked and waited for (see send_cache.rs).
            let version = shared.metadata.version();
            let hit = topics.lookup(inner.id, &record.topic, version)
                && topics.front().is_some_and(|t| {
                    record
                        .partition
                        .is_none_or(|p| p < t.info.partition_count())
                });
            let (entry, now) = if hit {
                let Some(entry) = topics.front() else {
                    unreachable!("a successful lookup leaves the topic in front")
                };
                shared.metadata.used(&entry.info, started);
                (entry, started)
            } else {
                validate_topic(&record.topic)?;
                let (info, after) = shared.metadata.wait_for_topic(
                    &record.topic,
                    record.partition,
                    started,
                    deadline,
                    || shared.wake(),
                )?;
                let sticky = inner.sticky.topic(&record.topic);
                (topics.remember(inner.id, version, info, sticky), after)
            };

            kbuf.clear();
            vbuf.clear();
            // Bytes and strings are appended to the batch straight from the record; other
            // types are serialized into the scratch buffers first.
            let key = match &record.key {
                Some(k) => match self.key_serializer.as_bytes(&record.topic, k) {
                    Some(b) => Some(b),
                    None => {
                        self.key_serializer
                            .serialize(&record.topic, k, kbuf)
                            .map_err(|e| as_serialization(e, "key"))?;
                        Some(&kbuf[..])
                    }
                },
                None => None,
            };
            let value = match &record.value {
                Some(v) => match self.value_serializer.as_bytes(&record.topic, v) {
                    Some(b) => Some(b),
                    None => {
                        self.value_serializer
                            .serialize(&record.topic, v, vbuf)
                            .map_err(|e| as_serialization(e, "value"))?;
                        Some(&vbuf[..])
                    }
                },
                None => None,
            };

            let size = BATCH_HEADER_LEN + record_size_upper_bound(key, value, &record.headers);
            if size > cfg.max_request_size() {
                return Err(Error::RecordTooLarge {
                    size,
                    limit: cfg.max_request_size(),
                    limit_name: "max.request.size",
                });
            }
            if size > cfg.buffer_memory() {
                return Err(Error::RecordTooLarge {
                    size,
                    limit: cfg.buffer_memory(),
                    limit_name: "buffer.memory",
                });
            }

            let topic = &entry.info;
            let layout = TopicLayout::new(topic.partition_count(), &topic.available);
            let custom = cfg.partitioner().map(|p| &**p);
            let choice = choose_partition(
                record.partition,
                custom,
                cfg.partitioner_ignore_keys(),
                &record.topic,
                key,
                value,
                &layout,
            )?;
            let sticky = match choice {
                PartitionChoice::Fixed(_) => None,
                PartitionChoice::Sticky => Some(entry.sticky.peek_current(&layout)),
            };
            let partition = match (&choice, &sticky) {
                (PartitionChoice::Fixed(p), _) => *p,
                (_, Some(info)) => info.partition(),
                _ => unreachable!("sticky choice has sticky info"),
            };
            let timestamp = record.timestamp.unwrap_or_else(|| clock.millis(now));
            let max_block = deadline.saturating_duration_since(now);
            let accumulator = &shared.accumulator;
            let queue = entry.queues.get(partition, || {
                accumulator.partition(&TopicPartition {
                    topic: topic.name.clone(),
                    partition,
                })
            });
            if let Some(txn) = &shared.txn {
                let tp = TopicPartition {
                    topic: topic.name.clone(),
                    partition,
                };
                txn.lock().check_send(&tp)?;
            }
            let callback = match acks {
                None => callback,
                Some(acks) => Some(acknowledging(
                    acks.clone(),
                    topic.name.clone(),
                    partition,
                    callback,
                )),
            };
            let result = accumulator.append_to(
                queue,
                timestamp,
                key,
                value,
                &record.headers,
                callback,
                now,
                max_block,
            )?;
            if let Some(info) = sticky {
                entry.sticky.update_partition_info(
                    &info,
                    size - BATCH_HEADER_LEN,
                    &layout,
                    result.batch_is_full,
                );
            }
            if result.batch_is_full || result.new_batch_created {
                shared.wake_for_append();
            }
            Ok(result.future)
        })
    }

    /// Blocks until every record sent before this call has its answer (success or error).
    /// Lingering batches are sent at once.
    pub fn flush(&self) {
        let shared = &self.inner.shared;
        shared.accumulator.begin_flush();
        shared.wake();
        shared.accumulator.await_flush_completion(Duration::MAX);
    }

    /// The partitions of `topic`, waiting up to `max.block.ms` for its metadata.
    pub fn partitions_for(&self, topic: &str) -> Result<Vec<PartitionInfo>, Error> {
        validate_topic(topic)?;
        let shared = &self.inner.shared;
        let started = Instant::now();
        let deadline = started + self.inner.config.max_block();
        let (t, _) = shared
            .metadata
            .wait_for_topic(topic, None, started, deadline, || shared.wake())?;
        Ok(t.partitions
            .iter()
            .map(|p| PartitionInfo {
                topic: topic.to_string(),
                partition: p.partition,
                leader: (p.leader >= 0).then_some(p.leader),
                replicas: p.replicas.clone(),
                in_sync_replicas: p.isr.clone(),
            })
            .collect())
    }

    /// Closes the producer: no new records are accepted; queued records are sent and in-flight
    /// ones awaited for up to `timeout`. When the timeout runs out, every record still without
    /// an answer is failed ([`Error::Closed`], saying whether it may have been written) and
    /// this returns. `Duration::MAX` waits as long as it takes (bounded by
    /// `delivery.timeout.ms` per record). Calling it again does nothing.
    pub fn close(&self, timeout: Duration) {
        self.close_then_interceptors(timeout);
    }

    fn close_then_interceptors(&self, timeout: Duration) {
        let answered = self.inner.close(timeout);
        if let (true, Some(login)) = (answered, &self.inner.login) {
            // the sender is done: no connection will ask for a token again
            login.stop();
        }
        if let (true, Some(i)) = (answered, &self.interceptors) {
            i.chain.close();
        }
    }
}

/// The real producer behind the sending trait: each method is the inherent one.
impl<K, V> RecordProducer<K, V> for Producer<K, V> {
    fn send(&self, record: ProducerRecord<K, V>) -> Result<SendFuture, Error> {
        Producer::send(self, record)
    }
    fn send_with_callback(
        &self,
        record: ProducerRecord<K, V>,
        callback: Callback,
    ) -> Result<SendFuture, Error> {
        self.do_send(record, Some(callback))
    }
    fn flush(&self) {
        Producer::flush(self)
    }
    fn partitions_for(&self, topic: &str) -> Result<Vec<PartitionInfo>, Error> {
        Producer::partitions_for(self, topic)
    }
    fn close(&self, timeout: Duration) {
        Producer::close(self, timeout)
    }
    fn metrics(&self) -> Metrics {
        Producer::metrics(self)
    }
    fn init_transactions(&self) -> Result<(), Error> {
        Producer::init_transactions(self)
    }
    fn begin_transaction(&self) -> Result<(), Error> {
        Producer::begin_transaction(self)
    }
    fn commit_transaction(&self) -> Result<(), Error> {
        Producer::commit_transaction(self)
    }
    fn abort_transaction(&self) -> Result<(), Error> {
        Producer::abort_transaction(self)
    }
    fn send_offsets_to_transaction(
        &self,
        offsets: &HashMap<TopicPartition, OffsetAndMetadata>,
        group: &ConsumerGroupMetadata,
    ) -> Result<(), Error> {
        Producer::send_offsets_to_transaction(self, offsets, group)
    }
}

impl Inner {
    /// Closes; `true` once every record has its answer (`false` when called on the sender
    /// thread, which answers the rest after the callback returns).
    fn close(&self, timeout: Duration) -> bool {
        let first = !self.closed.swap(true, Ordering::AcqRel);
        let shared = &self.shared;
        if first {
            log::info!(
                "closing producer {} (timeout {:?})",
                self.config.client_id(),
                timeout
            );
            shared.accumulator.close();
            shared.metadata.close();
        }
        shared.running.store(false, Ordering::Release);
        shared.wake();
        if !first && self.thread.lock().is_none() {
            // Closed and joined before (e.g. `close` then drop): nothing left to wait for.
            return true;
        }
        let on_sender_thread = self
            .thread
            .lock()
            .as_ref()
            .is_some_and(|t| t.thread().id() == std::thread::current().id());
        if on_sender_thread {
            // Called from a callback (or the last handle dropped in one): the sender thread
            // cannot wait for itself to exit; waiting here hung forever (found by
            // tests/producer_mock.rs, dropping_the_last_handle_...). It finishes the close
            // after the callback returns. As Java does, an explicit timeout is treated as 0:
            // what is pending is failed at once; a drop (no timeout) sends what is queued.
            log::warn!("producer closed from its own sender thread (a callback): not waiting");
            if timeout != Duration::MAX {
                shared.force_close.store(true, Ordering::Release);
            }
            return false;
        }
        let finished = match Instant::now().checked_add(timeout) {
            Some(deadline) => self.exited.recv_deadline(deadline).is_ok(),
            None => self.exited.recv().is_ok(),
        };
        if !finished {
            log::info!("close timeout ran out: failing what is still pending");
            shared.force_close.store(true, Ordering::Release);
            shared.wake();
        }
        if let Some(t) = self.thread.lock().take() {
            if t.join().is_err() {
                log::error!("the sender thread panicked");
                shared
                    .accumulator
                    .abort_incomplete_batches(|_, delivery| Error::Closed { delivery });
            }
        }
        true
    }
}

impl<K, V> Drop for Producer<K, V> {
    fn drop(&mut self) {
        self.close_then_interceptors(Duration::MAX);
    }
}

/// Runs the sender loop; if it panics (a bug), the producer is closed and every record without
/// an answer is failed at once, instead of waiting for a `close` that a caller blocked in
/// `get` may never make. New sends then fail with [`Error::Closed`].
fn run_guarded(shared: &Shared, run: impl FnOnce()) {
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)).is_err() {
        log::error!("the sender thread panicked: closing the producer, failing pending records");
        shared.accumulator.close();
        shared.metadata.close();
        shared.running.store(false, Ordering::Release);
        shared
            .accumulator
            .abort_incomplete_batches(|_, delivery| Error::Closed { delivery });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accumulator::AppendByName;

    /// A panicking sender loop answers every pending record and closes the accumulator.
    /// Before the fix records waited for an answer until someone closed the producer.
    #[test]
    fn a_sender_panic_answers_pending_records() {
        let shared = Shared {
            accumulator: Arc::new(RecordAccumulator::new(AccumulatorConfig::default())),
            metadata: Arc::new(Metadata::new(
                Duration::from_secs(300),
                Duration::from_secs(300),
                Duration::from_millis(100),
            )),
            load: Arc::default(),
            metrics: Arc::new(SharedMetrics::new(WindowConfig::DEFAULT, Instant::now())),
            waker: crate::net::Waker::new(|| {}),
            running: AtomicBool::new(true),
            force_close: AtomicBool::new(false),
            saturated: AtomicBool::new(false),
            txn: None,
        };
        let tp = TopicPartition::new("t", 0);
        let now = Instant::now();
        let r = shared
            .accumulator
            .append(&tp, 0, None, Some(b"v"), &[], None, now, Duration::ZERO)
            .unwrap();
        run_guarded(&shared, || panic!("a bug in the sender"));
        let err = r.future.try_get().expect("answered").unwrap_err();
        assert_eq!(err.delivery(), Delivery::NotWritten);
        assert!(shared.accumulator.is_closed());
        assert!(shared
            .accumulator
            .append(&tp, 0, None, Some(b"v"), &[], None, now, Duration::ZERO)
            .is_err());
    }
}
