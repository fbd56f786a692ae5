//! Splitting a batch the broker refused as too large (MESSAGE_TOO_LARGE, RECORD_LIST_TOO_LARGE)
//! into smaller ones, put back at the front of the partition's queue in record order: Java's
//! `RecordAccumulator.splitAndReenqueue` and `ProducerBatch.split`.
//!
//! As Java does:
//! - the records are re-read from the sealed batch (decompressed if need be) and appended in
//!   order to new sealed batches of the same codec, which keep the original's creation time
//!   (`delivery.timeout.ms` runs on) and start with no retry counted and no backoff;
//! - each record's future and callback move to the batch that now holds it (see
//!   [`BatchCompletion::split_into`]), so every record still gets exactly one answer;
//! - under idempotence the new batches take the original's sequence range in order (the
//!   first one starts at its base sequence), so the partition's next sequence does not move;
//!   the sender records the split as a retry of the original's sequence, so nothing of the
//!   partition is sent until every batch in flight is back, then the pieces go first, in
//!   sequence order (later batches in flight come back OUT_OF_ORDER_SEQUENCE_NUMBER, explained
//!   by the pending pieces, and are retried after them);
//! - the compression-ratio estimate of the topic is reset to the larger of 1.0 and the
//!   original's ratio, so batches are not overestimated again right away.
//!
//! Where we differ: Java re-batches at `batch.size`, which loops forever when `batch.size`
//! itself exceeds the broker's `max.message.bytes` (the pieces are as large as the original).
//! We re-batch at the smaller of `batch.size` and half the original's size, so each split at
//! least halves and a batch of records that each fit is written after a few splits. The new
//! batches' memory is counted against `buffer.memory` when the pool has it free right now (the
//! sender never blocks); otherwise they are held outside the pool, as all of Java's are.

use super::{ProducerBatch, RecordAccumulator};
use crate::compression::CompressionType;
use crate::future::Piece;
use crate::protocol::record_batch::{
    decode_batch, decode_records, RecordBatchBuilder, BATCH_HEADER_LEN, DEFAULT_MAX_DECOMPRESSED,
};
use std::sync::atomic::Ordering;

impl RecordAccumulator {
    /// Splits `batch` (sealed, more than one record, not answered) into smaller batches and
    /// puts them at the front of its partition's queue, in record order (see the module
    /// docs). Returns how many batches it became; on failure (its bytes cannot be re-read,
    /// or it was answered meanwhile) the batch comes back untouched with the reason.
    pub fn split_and_reenqueue(
        &self,
        batch: ProducerBatch,
    ) -> Result<usize, Box<(ProducerBatch, String)>> {
        if batch.is_done() || batch.record_count() < 2 {
            return Err(Box::new((batch, "the batch cannot be split".into())));
        }
        let codec = batch.compression();
        let ratio = batch.compression_ratio().max(1.0);
        if codec != CompressionType::None && codec == self.config.compression {
            self.ratios
                .set(&batch.topic_partition().topic, codec, ratio);
        }
        let limit = self
            .config
            .batch_size
            .min(batch.size_in_bytes() / 2)
            .max(BATCH_HEADER_LEN + 1);
        let pieces = match self.split(&batch, limit, ratio) {
            Ok(p) => p,
            Err(e) => return Err(Box::new((batch, e))),
        };
        let mut first = 0;
        let links = pieces
            .iter()
            .map(|p| {
                let link = Piece {
                    first,
                    completion: p.completion().clone(),
                };
                first += p.record_count();
                link
            })
            .collect();
        if !batch.completion().split_into(links) {
            // Answered meanwhile: nothing points to the pieces; retire them quietly.
            for p in &pieces {
                p.completion().complete(Err(crate::error::Error::Closed {
                    delivery: p.delivery_if_failed(),
                }));
            }
            return Err(Box::new((batch, "the batch was answered meanwhile".into())));
        }
        let n = pieces.len();
        log::debug!(
            "{}: a batch of {} records ({} bytes) split into {n}",
            batch.topic_partition(),
            batch.record_count(),
            batch.size_in_bytes()
        );
        let tp = batch.topic_partition().clone();
        let queue = self.queue(&tp);
        if batch.size_in_bytes() > self.config.batch_size {
            // The broker's limit for this topic is below what batches grow to under backlog:
            // the partition keeps to batch.size from now on, as Java's batches do.
            queue
                .grow_to
                .store(self.config.batch_size, Ordering::Relaxed);
            queue
                .next_alloc
                .store(self.config.batch_size, Ordering::Relaxed);
        }
        drop(batch);
        let mut q = queue.batches.lock();
        self.list(&tp, &queue);
        for p in pieces.into_iter().rev() {
            super::insert_in_sequence_order(&mut q, p);
        }
        Ok(n)
    }

    /// The new batches holding `batch`'s records in order, each sealed, at most `limit` bytes
    /// (estimated with `ratio` when compressed) unless one record alone is larger.
    fn split(
        &self,
        batch: &ProducerBatch,
        limit: usize,
        ratio: f32,
    ) -> Result<Vec<ProducerBatch>, String> {
        let decoded = decode_batch(batch.bytes()).map_err(|e| e.to_string())?;
        let max = DEFAULT_MAX_DECOMPRESSED.max(batch.uncompressed_records_len());
        let section = decoded.records_section(max).map_err(|e| e.to_string())?;
        let records = decode_records(&section, decoded.record_count).map_err(|e| e.to_string())?;
        let codec = batch.compression();
        let new_builder = || {
            let mut b = RecordBatchBuilder::new(limit);
            b.set_compression(codec, self.config.compression_level, ratio);
            b
        };
        let mut builders = Vec::new();
        let mut current = new_builder();
        let mut headers = Vec::new();
        for r in &records {
            let ts = decoded.base_timestamp.wrapping_add(r.timestamp_delta);
            headers.clear();
            headers.extend(r.headers.iter().map(|h| (h.key, h.value)));
            let size = current
                .record_size(ts, r.key, r.value, &headers)
                .ok_or("a record cannot be re-encoded")?;
            if current.record_count() > 0 && !current.fits(size) {
                builders.push(std::mem::replace(&mut current, new_builder()));
            }
            current
                .append(ts, r.key, r.value, &headers)
                .map_err(|e| format!("a record cannot be re-encoded: {e:?}"))?;
        }
        builders.push(current);
        let transactional = decoded.is_transactional();
        let mut sequence = batch.base_sequence();
        let mut out = Vec::with_capacity(builders.len());
        for mut b in builders {
            b.close();
            if batch.has_sequence() {
                let (pid, epoch) = (batch.producer_id(), batch.producer_epoch());
                b.set_producer_state(pid, epoch, sequence, transactional);
                sequence = sequence.wrapping_add(b.record_count()) & i32::MAX;
            }
            let size = b.capacity();
            let pool = self.pool.try_reserve(size).then(|| self.pool.clone());
            let id = self.next_batch_id.fetch_add(1, Ordering::AcqRel);
            let completion = batch.completion().split_child(id);
            out.push(ProducerBatch::split_off(batch, b, size, pool, completion));
        }
        Ok(out)
    }
}
