//! A fast hasher for the maps the send path looks up on every record (topic names, topic
//! partitions).
//!
//! std's default SipHash-1-3 resists hash flooding, at about 20 ns for a short topic name; these
//! keys are few, chosen by the application or named by its own cluster, and looked up millions
//! of times a second, so a multiply-rotate hash (the FxHash construction) does: a word at a
//! time, a few cycles per word.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A `HashMap` with [`FastHasher`].
pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// Multiply-rotate hashing, eight bytes at a time. Not for keys an attacker picks.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FastHasher {
    hash: u64,
}

/// An odd constant with well-mixed bits (2^64 / golden ratio, rounded to odd).
const SEED: u64 = 0x9e37_79b9_7f4a_7c15;

impl FastHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            // The length keeps "a" and "a\0" apart.
            self.add(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 56));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::hash::{BuildHasher, Hash};

    fn h<T: Hash + ?Sized>(v: &T) -> u64 {
        BuildHasherDefault::<FastHasher>::default().hash_one(v)
    }

    #[test]
    fn distinct_keys_hash_apart() {
        // Names that differ in one byte, in length only, or in the partition number.
        let mut seen = HashSet::new();
        for name in [
            "a",
            "a\0",
            "topic-1",
            "topic-2",
            "topic-10",
            "topic-1-long-name-x",
        ] {
            assert!(seen.insert(h(name)), "{name}");
            for p in 0..64i32 {
                assert!(seen.insert(h(&(name, p))), "{name} {p}");
            }
        }
    }

    #[test]
    fn the_map_works() {
        let mut m: FastMap<String, usize> = FastMap::default();
        for i in 0..1000 {
            m.insert(format!("t{i}"), i);
        }
        assert!((0..1000).all(|i| m[&format!("t{i}")] == i));
    }
}
