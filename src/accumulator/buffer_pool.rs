//! The memory bound (`buffer.memory`) for queued batches, with a free list of `batch.size`
//! buffers so the common batch allocation reuses memory instead of asking the allocator.
//!
//! Accounting is in bytes: a buffer handed out counts its requested size against the total
//! until it is given back with [`BufferPool::deallocate`]. A caller that finds no room blocks
//! (without holding any other lock of the accumulator) until memory is freed, the pool is
//! closed, or its `max.block.ms` deadline passes.
//!
//! Lock rule: the pool's mutex is a leaf; nothing else is locked while it is held.

use crate::error::{Delivery, Error};
use parking_lot::{Condvar, Mutex};
use std::time::{Duration, Instant};

struct PoolState {
    /// Bytes neither handed out nor held in the free list.
    non_pooled_available: usize,
    /// Cleared buffers of capacity >= `poolable_size`, each counting `poolable_size` bytes.
    free: Vec<Vec<u8>>,
    /// Callers currently blocked in `allocate`.
    waiters: usize,
    closed: bool,
    /// Time callers spent blocked in `allocate` (the metrics' `bufferpool-wait-time-total`).
    wait_ns: u64,
}

/// A byte budget of `buffer.memory`, handing out `Vec<u8>` buffers, with a free list of
/// `batch.size` buffers. Its mutex is a leaf lock.
pub struct BufferPool {
    total: usize,
    poolable_size: usize,
    state: Mutex<PoolState>,
    cond: Condvar,
}

impl std::fmt::Debug for BufferPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BufferPool")
            .field("total", &self.total)
            .field("available", &self.available_memory())
            .finish()
    }
}

impl BufferPool {
    /// A pool of `total` bytes (`buffer.memory`) that keeps freed buffers of `poolable_size`
    /// bytes (`batch.size`) for reuse.
    pub fn new(total: usize, poolable_size: usize) -> Self {
        BufferPool {
            total,
            poolable_size,
            state: Mutex::new(PoolState {
                non_pooled_available: total,
                free: Vec::new(),
                waiters: 0,
                closed: false,
                wait_ns: 0,
            }),
            cond: Condvar::new(),
        }
    }

    /// Bytes not handed out (free list included).
    pub fn available_memory(&self) -> usize {
        let s = self.state.lock();
        s.non_pooled_available + s.free.len() * self.poolable_size
    }
    /// `buffer.memory`, the bytes not handed out, the callers blocked now, and the time
    /// callers spent blocked so far (ns): the metrics' memory figures, under one lock.
    pub fn figures(&self) -> (usize, usize, usize, u64) {
        let s = self.state.lock();
        let available = s.non_pooled_available + s.free.len() * self.poolable_size;
        (self.total, available, s.waiters, s.wait_ns)
    }
    /// Callers currently blocked waiting for memory (the pool is exhausted when > 0).
    pub fn queued(&self) -> usize {
        self.state.lock().waiters
    }

    /// A buffer with capacity for `size` bytes, counted against the pool. Blocks until memory
    /// is freed or `max_block` passes ([`Error::BufferExhausted`]); a request larger than the
    /// whole pool fails at once ([`Error::RecordTooLarge`] naming `buffer.memory`); a closed
    /// pool answers [`Error::Closed`].
    pub fn allocate(&self, size: usize, max_block: Duration) -> Result<Vec<u8>, Error> {
        if size > self.total {
            return Err(Error::RecordTooLarge {
                size,
                limit: self.total,
                limit_name: "buffer.memory",
            });
        }
        let start = Instant::now();
        let deadline = start.checked_add(max_block);
        let mut s = self.state.lock();
        loop {
            if s.closed {
                return Err(Error::Closed {
                    delivery: Delivery::NotWritten,
                });
            }
            if size == self.poolable_size {
                if let Some(buf) = s.free.pop() {
                    return Ok(buf);
                }
            }
            let available = s.non_pooled_available + s.free.len() * self.poolable_size;
            if available >= size {
                // Release pooled buffers until the non-pooled budget covers the request.
                while s.non_pooled_available < size {
                    if s.free.pop().is_some() {
                        s.non_pooled_available += self.poolable_size;
                    } else {
                        break;
                    }
                }
                s.non_pooled_available -= size;
                drop(s);
                return Ok(Vec::with_capacity(size));
            }
            s.waiters += 1;
            let wait_start = Instant::now();
            let timed_out = match deadline {
                Some(d) => self.cond.wait_until(&mut s, d).timed_out(),
                None => {
                    self.cond.wait(&mut s);
                    false
                }
            };
            s.waiters -= 1;
            let waited = wait_start.elapsed().as_nanos();
            s.wait_ns = s
                .wait_ns
                .saturating_add(u64::try_from(waited).unwrap_or(u64::MAX));
            if timed_out && !s.closed {
                let available = s.non_pooled_available + s.free.len() * self.poolable_size;
                if available < size {
                    return Err(Error::BufferExhausted {
                        requested: size,
                        waited: start.elapsed(),
                    });
                }
            }
        }
    }

    /// Counts `extra` more bytes against the pool without blocking (a batch whose buffer
    /// grows: compressed batches hold more uncompressed bytes than `batch.size`). `false` if
    /// the memory is not free now, the pool is closed, or callers are blocked waiting (they go
    /// first). The bytes come back with the buffer's [`deallocate`](Self::deallocate), which
    /// must then be given the grown size.
    pub fn try_reserve(&self, extra: usize) -> bool {
        let mut s = self.state.lock();
        if s.closed || s.waiters > 0 {
            return false;
        }
        let available = s.non_pooled_available + s.free.len() * self.poolable_size;
        if available < extra {
            return false;
        }
        while s.non_pooled_available < extra {
            if s.free.pop().is_some() {
                s.non_pooled_available += self.poolable_size;
            } else {
                break;
            }
        }
        s.non_pooled_available -= extra;
        true
    }

    /// Gives back a buffer that was allocated with `size` bytes.
    pub fn deallocate(&self, mut buf: Vec<u8>, size: usize) {
        let mut s = self.state.lock();
        if size == self.poolable_size && buf.capacity() >= self.poolable_size {
            buf.clear();
            s.free.push(buf);
        } else {
            s.non_pooled_available += size;
        }
        // Never count more than the total, even if a caller double-frees.
        let pooled = s.free.len() * self.poolable_size;
        if s.non_pooled_available + pooled > self.total {
            s.non_pooled_available = self.total.saturating_sub(pooled);
        }
        self.cond.notify_all();
    }

    /// Wakes every blocked caller with [`Error::Closed`]; later allocations fail the same way.
    pub fn close(&self) {
        self.state.lock().closed = true;
        self.cond.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn accounting_and_free_list() {
        let p = BufferPool::new(1000, 100);
        let a = p.allocate(100, Duration::ZERO).unwrap();
        let b = p.allocate(300, Duration::ZERO).unwrap();
        assert!(b.capacity() >= 300);
        assert_eq!(p.available_memory(), 600);
        p.deallocate(a, 100);
        assert_eq!(p.available_memory(), 700);
        // A pooled buffer comes back from the free list.
        let a2 = p.allocate(100, Duration::ZERO).unwrap();
        assert!(a2.capacity() >= 100);
        // A large request reclaims pooled buffers.
        p.deallocate(a2, 100);
        let c = p.allocate(700, Duration::ZERO).unwrap();
        assert_eq!(p.available_memory(), 0);
        p.deallocate(c, 700);
        p.deallocate(b, 300);
        assert_eq!(p.available_memory(), 1000);
        assert!(matches!(
            p.allocate(1001, Duration::ZERO),
            Err(Error::RecordTooLarge {
                limit_name: "buffer.memory",
                ..
            })
        ));
    }

    #[test]
    fn try_reserve_counts_and_returns_with_the_grown_size() {
        let p = BufferPool::new(1000, 100);
        let a = p.allocate(100, Duration::ZERO).unwrap();
        p.deallocate(a, 100); // one pooled buffer
        let b = p.allocate(100, Duration::ZERO).unwrap();
        assert!(p.try_reserve(850));
        assert_eq!(p.available_memory(), 50);
        assert!(!p.try_reserve(51));
        p.deallocate(b, 950);
        assert_eq!(p.available_memory(), 1000);
        p.close();
        assert!(!p.try_reserve(1));
    }

    #[test]
    fn blocks_then_times_out() {
        let p = BufferPool::new(200, 100);
        let _a = p.allocate(150, Duration::ZERO).unwrap();
        let t = Instant::now();
        let e = p.allocate(100, Duration::from_millis(50)).unwrap_err();
        assert!(t.elapsed() >= Duration::from_millis(50));
        assert!(matches!(e, Error::BufferExhausted { requested: 100, .. }));
        assert!(e.to_string().contains("buffer.memory"));
    }

    #[test]
    fn unblocks_when_memory_is_freed_from_another_thread() {
        let p = Arc::new(BufferPool::new(200, 100));
        let a = p.allocate(200, Duration::ZERO).unwrap();
        let p2 = p.clone();
        let h = std::thread::spawn(move || p2.allocate(100, Duration::from_secs(30)));
        while p.queued() == 0 {
            std::thread::yield_now();
        }
        p.deallocate(a, 200);
        let b = h.join().unwrap().unwrap();
        assert!(b.capacity() >= 100);
        assert_eq!(p.available_memory(), 100);
    }

    #[test]
    fn close_wakes_waiters() {
        let p = Arc::new(BufferPool::new(100, 100));
        let _a = p.allocate(100, Duration::ZERO).unwrap();
        let p2 = p.clone();
        let h = std::thread::spawn(move || p2.allocate(100, Duration::from_secs(30)));
        while p.queued() == 0 {
            std::thread::yield_now();
        }
        p.close();
        assert!(matches!(
            h.join().unwrap(),
            Err(Error::Closed {
                delivery: Delivery::NotWritten
            })
        ));
    }
}
