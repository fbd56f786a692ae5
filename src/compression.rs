//! Record batch codecs, each behind a cargo feature, all pure Rust: `gzip` (flate2 with the
//! miniz_oxide backend), `snappy` (snap, with the xerial "snappy-java" stream framing that
//! Kafka's Java client writes), `lz4` (lz4_flex, LZ4 frame format as Kafka's
//! `Lz4BlockOutputStream` writes it) and `zstd` (ruzstd's encoder).
//!
//! This module defines the codec type, [`CompressionType`], and imports nothing of the crate.
//! [`protocol::record_batch`](crate::protocol::record_batch) uses the codecs: it compresses a
//! batch's records section once, when the batch is sealed, and decompresses it when a batch is
//! decoded (it re-exports [`CompressionType`], so `protocol::record_batch::CompressionType`
//! names the same type).
//!
//! # Formats (what Kafka's Java client writes and reads)
//!
//! - gzip: one standard gzip member (RFC 1952).
//! - snappy: the xerial framing: an 8-byte magic (`0x82 "SNAPPY" 0x00`), a big-endian i32
//!   version (1) and minimum compatible version (1), then chunks of `[i32 BE compressed
//!   length][raw snappy block]`, each block compressing at most 32 KiB of input.
//! - lz4: one LZ4 frame: 64 KiB blocks, independent blocks, no block or content checksum, no
//!   content size, header checksum computed over the frame descriptor (what magic v2 expects).
//! - zstd: one standard Zstandard frame.
//!
//! # Levels
//!
//! `compression.gzip.level` is applied (1-9; -1 means Java's default, 6).
//! `compression.lz4.level` is accepted and ignored: lz4_flex has one (fast) compressor, where
//! Java picks lz4-java's high-compression compressor for the level. `compression.zstd.level`
//! is accepted and ignored: ruzstd implements one level (about zstd level 1). Levels only
//! change the compressed size; the broker and every consumer read the output the same way.
//!
//! # Decompression limits
//!
//! [`decompress`] never produces more than the caller's `limit` bytes and never allocates from
//! a size claimed by the input beyond that limit (snappy block lengths are checked against
//! what is left; zstd window sizes are capped at [`MAX_ZSTD_WINDOW`]).

#[cfg(any(feature = "gzip", feature = "zstd"))]
use std::io::Read;
#[cfg(any(feature = "gzip", feature = "lz4"))]
use std::io::Write;

/// Record batch compression codec: `compression.type` in the config, attribute bits 0-2 on
/// the wire. Each codec other than `None` needs its cargo feature (all on by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CompressionType {
    /// No compression (the default).
    #[default]
    None,
    /// gzip (cargo feature `gzip`).
    Gzip,
    /// Snappy with the xerial snappy-java framing (cargo feature `snappy`).
    Snappy,
    /// LZ4 frame (cargo feature `lz4`).
    Lz4,
    /// Zstandard (cargo feature `zstd`).
    Zstd,
}

impl CompressionType {
    /// The property value: `none`, `gzip`, `snappy`, `lz4` or `zstd`.
    pub fn name(self) -> &'static str {
        match self {
            CompressionType::None => "none",
            CompressionType::Gzip => "gzip",
            CompressionType::Snappy => "snappy",
            CompressionType::Lz4 => "lz4",
            CompressionType::Zstd => "zstd",
        }
    }
    /// The codec named by a `compression.type` value.
    pub fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "none" => CompressionType::None,
            "gzip" => CompressionType::Gzip,
            "snappy" => CompressionType::Snappy,
            "lz4" => CompressionType::Lz4,
            "zstd" => CompressionType::Zstd,
            _ => return None,
        })
    }
    /// The codec id written in the attributes.
    pub fn id(self) -> i16 {
        match self {
            CompressionType::None => 0,
            CompressionType::Gzip => 1,
            CompressionType::Snappy => 2,
            CompressionType::Lz4 => 3,
            CompressionType::Zstd => 4,
        }
    }
    /// The codec with this id, if it is one.
    pub fn from_id(id: i16) -> Option<Self> {
        Some(match id {
            0 => CompressionType::None,
            1 => CompressionType::Gzip,
            2 => CompressionType::Snappy,
            3 => CompressionType::Lz4,
            4 => CompressionType::Zstd,
            _ => return None,
        })
    }
}

/// Largest zstd window a frame may ask for when decoding (8 MiB, what zstd's levels up to 19
/// use); larger windows are refused before anything is allocated.
pub const MAX_ZSTD_WINDOW: u64 = 8 << 20;

/// The xerial snappy-java stream header magic.
#[cfg(feature = "snappy")]
const SNAPPY_MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];
/// Input bytes per snappy chunk (snappy-java's default block size).
#[cfg(feature = "snappy")]
const SNAPPY_BLOCK: usize = 32 * 1024;

/// Why compressing or decompressing failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompressionError {
    /// The codec's cargo feature is not compiled in.
    #[error("compression codec {codec} needs the cargo feature \"{feature}\"")]
    NotCompiled {
        /// The codec.
        codec: &'static str,
        /// The cargo feature that enables it.
        feature: &'static str,
    },
    /// The decompressed data would exceed the limit.
    #[error("decompressed data exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// The compressed data is malformed.
    #[error("malformed {codec} data: {reason}")]
    Corrupt {
        /// The codec.
        codec: &'static str,
        /// What is wrong.
        reason: String,
    },
}

/// The cargo feature a codec needs (`None` for no compression).
pub fn feature_name(codec: CompressionType) -> Option<&'static str> {
    match codec {
        CompressionType::None => None,
        CompressionType::Gzip => Some("gzip"),
        CompressionType::Snappy => Some("snappy"),
        CompressionType::Lz4 => Some("lz4"),
        CompressionType::Zstd => Some("zstd"),
    }
}

/// Whether this build can compress and decompress with `codec`.
pub fn is_available(codec: CompressionType) -> bool {
    match codec {
        CompressionType::None => true,
        CompressionType::Gzip => cfg!(feature = "gzip"),
        CompressionType::Snappy => cfg!(feature = "snappy"),
        CompressionType::Lz4 => cfg!(feature = "lz4"),
        CompressionType::Zstd => cfg!(feature = "zstd"),
    }
}

fn not_compiled(codec: CompressionType) -> CompressionError {
    CompressionError::NotCompiled {
        codec: codec.name(),
        feature: feature_name(codec).unwrap_or("none"),
    }
}

fn corrupt(codec: CompressionType, reason: impl std::fmt::Display) -> CompressionError {
    CompressionError::Corrupt {
        codec: codec.name(),
        reason: reason.to_string(),
    }
}

/// Compresses `input` with `codec`, appending to `out`. `level` is the configured level for
/// the codec (see the [module docs](self) for which are applied); `None` uses the default.
/// `CompressionType::None` copies the input.
pub fn compress(
    codec: CompressionType,
    level: Option<i32>,
    input: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), CompressionError> {
    let _ = level;
    match codec {
        CompressionType::None => {
            out.extend_from_slice(input);
            Ok(())
        }
        #[cfg(feature = "gzip")]
        CompressionType::Gzip => {
            let level = match level {
                Some(l @ 1..=9) => l as u32,
                _ => 6, // Java's Deflater.DEFAULT_COMPRESSION
            };
            let mut enc = flate2::write::GzEncoder::new(&mut *out, flate2::Compression::new(level));
            enc.write_all(input).map_err(|e| corrupt(codec, e))?;
            enc.finish().map_err(|e| corrupt(codec, e))?;
            Ok(())
        }
        #[cfg(feature = "snappy")]
        CompressionType::Snappy => {
            out.extend_from_slice(&SNAPPY_MAGIC);
            out.extend_from_slice(&1i32.to_be_bytes()); // version
            out.extend_from_slice(&1i32.to_be_bytes()); // minimum compatible version
            let mut enc = snap::raw::Encoder::new();
            let mut block = Vec::new();
            for chunk in input.chunks(SNAPPY_BLOCK) {
                block.resize(snap::raw::max_compress_len(chunk.len()), 0);
                let n = enc
                    .compress(chunk, &mut block)
                    .map_err(|e| corrupt(codec, e))?;
                let len = i32::try_from(n).map_err(|_| corrupt(codec, "block too large"))?;
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(&block[..n]);
            }
            Ok(())
        }
        #[cfg(feature = "lz4")]
        CompressionType::Lz4 => {
            use lz4_flex::frame::{BlockMode, BlockSize, FrameEncoder, FrameInfo};
            let info = FrameInfo::new()
                .block_size(BlockSize::Max64KB)
                .block_mode(BlockMode::Independent)
                .block_checksums(false)
                .content_checksum(false)
                .content_size(None);
            let mut enc = FrameEncoder::with_frame_info(info, &mut *out);
            enc.write_all(input).map_err(|e| corrupt(codec, e))?;
            enc.finish().map_err(|e| corrupt(codec, e))?;
            Ok(())
        }
        #[cfg(feature = "zstd")]
        CompressionType::Zstd => {
            ruzstd::encoding::compress(
                input,
                &mut *out,
                ruzstd::encoding::CompressionLevel::Fastest,
            );
            Ok(())
        }
        #[allow(unreachable_patterns)]
        _ => Err(not_compiled(codec)),
    }
}

/// Decompresses `input` (a records section compressed with `codec`), appending at most
/// `limit` bytes to `out`; more is [`CompressionError::TooLarge`].
pub fn decompress(
    codec: CompressionType,
    input: &[u8],
    limit: usize,
    out: &mut Vec<u8>,
) -> Result<(), CompressionError> {
    #[allow(unused_variables)] // used by the codecs' branches only
    let start = out.len();
    if input.is_empty() && codec != CompressionType::None {
        // Every codec's stream has a header: empty input is not a stream (Kafka agrees).
        return Err(corrupt(codec, "empty input"));
    }
    match codec {
        CompressionType::None => {
            if input.len() > limit {
                return Err(CompressionError::TooLarge { limit });
            }
            out.extend_from_slice(input);
            Ok(())
        }
        #[cfg(feature = "gzip")]
        CompressionType::Gzip => read_capped(
            codec,
            flate2::read::MultiGzDecoder::new(input),
            limit,
            out,
            start,
        ),
        #[cfg(feature = "snappy")]
        CompressionType::Snappy => snappy_decompress(input, limit, out, start),
        #[cfg(feature = "lz4")]
        CompressionType::Lz4 => lz4_decompress(input, limit, out, start),
        #[cfg(feature = "zstd")]
        CompressionType::Zstd => zstd_decompress(input, limit, out, start),
        #[allow(unreachable_patterns)]
        _ => Err(not_compiled(codec)),
    }
}

/// Reads `r` to its end into `out`, failing once more than `limit` bytes came out.
#[cfg(any(feature = "gzip", feature = "zstd"))]
fn read_capped(
    codec: CompressionType,
    r: impl Read,
    limit: usize,
    out: &mut Vec<u8>,
    start: usize,
) -> Result<(), CompressionError> {
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    r.take(cap)
        .read_to_end(out)
        .map_err(|e| corrupt(codec, e))?;
    if out.len() - start > limit {
        out.truncate(start);
        return Err(CompressionError::TooLarge { limit });
    }
    Ok(())
}

#[cfg(feature = "snappy")]
fn snappy_decompress(
    input: &[u8],
    limit: usize,
    out: &mut Vec<u8>,
    start: usize,
) -> Result<(), CompressionError> {
    let codec = CompressionType::Snappy;
    let rest = input
        .strip_prefix(&SNAPPY_MAGIC[..])
        .ok_or_else(|| corrupt(codec, "missing snappy-java stream header"))?;
    if rest.len() < 8 {
        return Err(corrupt(codec, "truncated snappy-java stream header"));
    }
    let mut rest = &rest[8..]; // version, minimum compatible version
    let mut dec = snap::raw::Decoder::new();
    while !rest.is_empty() {
        let Some((len, tail)) = rest.split_first_chunk::<4>() else {
            return Err(corrupt(codec, "truncated chunk length"));
        };
        let len = i32::from_be_bytes(*len);
        let len = usize::try_from(len).map_err(|_| corrupt(codec, "negative chunk length"))?;
        if len > tail.len() {
            return Err(corrupt(codec, "chunk longer than the input"));
        }
        let (block, tail) = tail.split_at(len);
        let n = snap::raw::decompress_len(block).map_err(|e| corrupt(codec, e))?;
        let have = out.len() - start;
        if n > limit - have {
            out.truncate(start);
            return Err(CompressionError::TooLarge { limit });
        }
        let at = out.len();
        out.resize(at + n, 0);
        match dec.decompress(block, &mut out[at..]) {
            Ok(m) if m == n => {}
            Ok(_) => {
                out.truncate(start);
                return Err(corrupt(codec, "block length mismatch"));
            }
            Err(e) => {
                out.truncate(start);
                return Err(corrupt(codec, e));
            }
        }
        rest = tail;
    }
    Ok(())
}

/// LZ4 frame magic number (little-endian on the wire).
#[cfg(feature = "lz4")]
const LZ4_MAGIC: u32 = 0x184D_2204;

/// xxHash32 with seed 0 of a short input (under 16 bytes: the LZ4 frame descriptor).
#[cfg(feature = "lz4")]
fn xxh32_short(input: &[u8]) -> u32 {
    const P1: u32 = 2_654_435_761;
    const P2: u32 = 2_246_822_519;
    const P3: u32 = 3_266_489_917;
    const P4: u32 = 668_265_263;
    const P5: u32 = 374_761_393;
    debug_assert!(input.len() < 16);
    let mut h = P5.wrapping_add(input.len() as u32);
    let mut words = input.chunks_exact(4);
    for w in &mut words {
        let v = u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
        h = h
            .wrapping_add(v.wrapping_mul(P3))
            .rotate_left(17)
            .wrapping_mul(P4);
    }
    for &b in words.remainder() {
        h = h
            .wrapping_add(u32::from(b).wrapping_mul(P5))
            .rotate_left(11)
            .wrapping_mul(P1);
    }
    h ^= h >> 15;
    h = h.wrapping_mul(P2);
    h ^= h >> 13;
    h = h.wrapping_mul(P3);
    h ^ (h >> 16)
}

/// Reads one LZ4 frame as Kafka's `Lz4BlockInputStream` does: magic, descriptor (version 1,
/// reserved bits clear, header checksum verified), blocks up to the descriptor's maximum size,
/// and the end mark, which must be present. Checksums of blocks and content are skipped (a
/// corrupt block still fails to decode or fails the records' parse).
#[cfg(feature = "lz4")]
fn lz4_decompress(
    input: &[u8],
    limit: usize,
    out: &mut Vec<u8>,
    start: usize,
) -> Result<(), CompressionError> {
    let codec = CompressionType::Lz4;
    let fail = |out: &mut Vec<u8>, why: &str| {
        out.truncate(start);
        Err(corrupt(codec, why))
    };
    let (Some(magic), Some(&flg), Some(&bd)) = (input.get(..4), input.get(4), input.get(5)) else {
        return fail(out, "truncated frame header");
    };
    if magic != LZ4_MAGIC.to_le_bytes() {
        return fail(out, "bad magic");
    }
    if flg >> 6 != 1 || flg & 0x03 != 0 || bd & 0x8F != 0 {
        return fail(out, "unsupported frame descriptor");
    }
    let max_block = match (bd >> 4) & 7 {
        4 => 64 << 10,
        5 => 256 << 10,
        6 => 1 << 20,
        7 => 4 << 20,
        _ => return fail(out, "bad block size"),
    };
    let block_checksum = flg & 0x10 != 0;
    let content_size = flg & 0x08 != 0;
    let content_checksum = flg & 0x04 != 0;
    let desc_end = 6 + if content_size { 8 } else { 0 };
    let Some(&hc) = input.get(desc_end) else {
        return fail(out, "truncated frame header");
    };
    if hc != ((xxh32_short(&input[4..desc_end]) >> 8) & 0xff) as u8 {
        return fail(out, "frame descriptor checksum mismatch");
    }
    let mut rest = &input[desc_end + 1..];
    loop {
        let Some((size, tail)) = rest.split_first_chunk::<4>() else {
            return fail(out, "stream ended before the end mark");
        };
        let size = u32::from_le_bytes(*size);
        if size == 0 {
            let trailer = if content_checksum { 4 } else { 0 };
            if tail.len() != trailer {
                return fail(out, "bytes after the end mark");
            }
            return Ok(());
        }
        let uncompressed = size & 0x8000_0000 != 0;
        let size = (size & 0x7FFF_FFFF) as usize;
        if size > max_block {
            return fail(out, "block larger than the maximum block size");
        }
        let check = if block_checksum { 4 } else { 0 };
        if tail.len() < size + check {
            return fail(out, "truncated block");
        }
        let (block, tail) = tail.split_at(size);
        rest = &tail[check..];
        let room = limit - (out.len() - start);
        if uncompressed {
            if size > room {
                out.truncate(start);
                return Err(CompressionError::TooLarge { limit });
            }
            out.extend_from_slice(block);
            continue;
        }
        let at = out.len();
        out.resize(at + max_block.min(room), 0);
        match lz4_flex::block::decompress_into(block, &mut out[at..]) {
            Ok(n) => out.truncate(at + n),
            Err(_) if room < max_block => {
                out.truncate(start);
                return Err(CompressionError::TooLarge { limit });
            }
            Err(e) => {
                out.truncate(start);
                return Err(corrupt(codec, e));
            }
        }
    }
}

/// The window size a zstd frame header at the start of `input` declares, if it parses.
#[cfg(feature = "zstd")]
fn zstd_window_size(input: &[u8]) -> Option<u64> {
    const MAGIC: u32 = 0xFD2F_B528;
    let magic = u32::from_le_bytes(input.get(..4)?.try_into().ok()?);
    if magic != MAGIC {
        return None;
    }
    let fhd = *input.get(4)?;
    let single_segment = fhd & 0x20 != 0;
    if !single_segment {
        let wd = *input.get(5)?;
        let exponent = u64::from(wd >> 3);
        let mantissa = u64::from(wd & 7);
        let base = 1u64 << (10 + exponent);
        return Some(base + (base / 8) * mantissa);
    }
    // Single segment: the window is the frame content size.
    let dict_bytes = [0usize, 1, 2, 4][usize::from(fhd & 3)];
    let fcs_at = 5 + dict_bytes;
    Some(match fhd >> 6 {
        0 => u64::from(*input.get(fcs_at)?),
        1 => {
            u64::from(u16::from_le_bytes(
                input.get(fcs_at..fcs_at + 2)?.try_into().ok()?,
            )) + 256
        }
        2 => u64::from(u32::from_le_bytes(
            input.get(fcs_at..fcs_at + 4)?.try_into().ok()?,
        )),
        _ => u64::from_le_bytes(input.get(fcs_at..fcs_at + 8)?.try_into().ok()?),
    })
}

#[cfg(feature = "zstd")]
fn zstd_decompress(
    input: &[u8],
    limit: usize,
    out: &mut Vec<u8>,
    start: usize,
) -> Result<(), CompressionError> {
    let codec = CompressionType::Zstd;
    let mut rest = input;
    // Frames one after another, as a streaming reader accepts.
    while !rest.is_empty() {
        let window = zstd_window_size(rest).ok_or_else(|| corrupt(codec, "bad frame header"))?;
        if window > MAX_ZSTD_WINDOW {
            return Err(corrupt(
                codec,
                format!("window of {window} bytes exceeds {MAX_ZSTD_WINDOW}"),
            ));
        }
        let have = out.len() - start;
        let mut src = rest;
        let dec = ruzstd::decoding::StreamingDecoder::new(&mut src).map_err(|e| {
            out.truncate(start);
            corrupt(codec, e)
        })?;
        read_capped(codec, dec, limit - have, out, out.len()).inspect_err(|_| {
            out.truncate(start);
        })?;
        if src.len() >= rest.len() {
            return Err(corrupt(codec, "no progress"));
        }
        rest = src;
    }
    if out.len() - start > limit {
        out.truncate(start);
        return Err(CompressionError::TooLarge { limit });
    }
    Ok(())
}

#[cfg(test)]
mod feature_tests {
    use super::*;

    #[test]
    fn codecs_not_compiled_in_say_which_feature() {
        for codec in [
            CompressionType::Gzip,
            CompressionType::Snappy,
            CompressionType::Lz4,
            CompressionType::Zstd,
        ] {
            let mut out = Vec::new();
            let r = compress(codec, None, b"abc", &mut out);
            if is_available(codec) {
                assert!(r.is_ok());
            } else {
                let e = r.unwrap_err();
                assert!(e.to_string().contains(feature_name(codec).unwrap()), "{e}");
                assert!(decompress(codec, b"abc", 10, &mut out).is_err());
            }
        }
    }
}

#[cfg(all(
    test,
    feature = "gzip",
    feature = "snappy",
    feature = "lz4",
    feature = "zstd"
))]
mod tests {
    use super::*;

    const ALL: [CompressionType; 5] = [
        CompressionType::None,
        CompressionType::Gzip,
        CompressionType::Snappy,
        CompressionType::Lz4,
        CompressionType::Zstd,
    ];

    fn sample(n: usize) -> Vec<u8> {
        (0..n)
            .map(|i| (i % 251) as u8 ^ ((i / 1000) as u8))
            .collect()
    }

    #[test]
    fn round_trip_every_codec_and_size() {
        for codec in ALL {
            for n in [0usize, 1, 100, 32 * 1024, 32 * 1024 + 1, 200_000] {
                let data = sample(n);
                let mut c = Vec::new();
                compress(codec, None, &data, &mut c).unwrap();
                let mut d = vec![0xAA]; // appended after existing bytes
                decompress(codec, &c, n, &mut d).unwrap_or_else(|e| panic!("{codec:?} {n}: {e}"));
                assert_eq!(&d[1..], &data[..], "{codec:?} {n}");
                if n >= 32 * 1024 && codec != CompressionType::None {
                    assert!(c.len() < n / 2, "{codec:?} compresses repetitive data");
                }
            }
        }
    }

    #[test]
    fn gzip_levels_apply() {
        let data = sample(100_000);
        let (mut fast, mut best) = (Vec::new(), Vec::new());
        compress(CompressionType::Gzip, Some(1), &data, &mut fast).unwrap();
        compress(CompressionType::Gzip, Some(9), &data, &mut best).unwrap();
        assert_ne!(fast, best);
        for c in [fast, best] {
            let mut d = Vec::new();
            decompress(CompressionType::Gzip, &c, data.len(), &mut d).unwrap();
            assert_eq!(d, data);
        }
    }

    #[test]
    fn framing_matches_what_kafka_reads() {
        let data = sample(70_000);
        let mut s = Vec::new();
        compress(CompressionType::Snappy, None, &data, &mut s).unwrap();
        assert_eq!(&s[..8], &SNAPPY_MAGIC);
        assert_eq!(&s[8..16], &[0, 0, 0, 1, 0, 0, 0, 1]);
        let mut l = Vec::new();
        compress(CompressionType::Lz4, None, &data, &mut l).unwrap();
        assert_eq!(&l[..4], &0x184D_2204u32.to_le_bytes());
        // FLG: version 01, block independence, no checksums, no content size; BD: 64 KiB.
        assert_eq!(l[4], 0b0110_0000);
        assert_eq!(l[5], 0b0100_0000);
        let hc = xxh32_short(&l[4..6]);
        assert_eq!(l[6], ((hc >> 8) & 0xff) as u8);
        let mut g = Vec::new();
        compress(CompressionType::Gzip, None, &data, &mut g).unwrap();
        assert_eq!(&g[..3], &[0x1f, 0x8b, 8]);
        let mut z = Vec::new();
        compress(CompressionType::Zstd, None, &data, &mut z).unwrap();
        assert_eq!(&z[..4], &0xFD2F_B528u32.to_le_bytes());
        assert!(zstd_window_size(&z).unwrap() <= MAX_ZSTD_WINDOW);
    }

    #[test]
    fn xxh32_known_values() {
        assert_eq!(xxh32_short(b""), 0x02CC_5D05);
        assert_eq!(xxh32_short(b"a"), 0x550D_7456);
        assert_eq!(xxh32_short(b"abc"), 0x32D1_53FF);
        // A 10-byte descriptor (content size set) from lz4_flex's encoder: the word path.
        use lz4_flex::frame::{FrameEncoder, FrameInfo};
        let data = sample(1000);
        let mut enc =
            FrameEncoder::with_frame_info(FrameInfo::new().content_size(Some(1000)), Vec::new());
        enc.write_all(&data).unwrap();
        let framed = enc.finish().unwrap();
        assert_eq!(framed[4] & 0x08, 0x08);
        let mut d = Vec::new();
        decompress(CompressionType::Lz4, &framed, 1000, &mut d).unwrap();
        assert_eq!(d, data);
    }

    #[test]
    fn bombs_are_refused_at_the_limit() {
        let zeros = vec![0u8; 1 << 20];
        for codec in ALL {
            let mut c = Vec::new();
            compress(codec, None, &zeros, &mut c).unwrap();
            let mut d = Vec::new();
            assert_eq!(
                decompress(codec, &c, 1000, &mut d),
                Err(CompressionError::TooLarge { limit: 1000 }),
                "{codec:?}"
            );
            assert!(d.len() <= 1001, "{codec:?} stops at the limit");
            let mut d = Vec::new();
            decompress(codec, &c, 1 << 20, &mut d).unwrap();
            assert_eq!(d.len(), 1 << 20);
        }
    }

    #[test]
    fn snappy_claimed_length_is_checked_before_allocating() {
        // One chunk whose varint preamble claims 2^31 bytes.
        let mut s = SNAPPY_MAGIC.to_vec();
        s.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 5]);
        s.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0x08]);
        let mut d = Vec::new();
        assert_eq!(
            decompress(CompressionType::Snappy, &s, 1 << 20, &mut d),
            Err(CompressionError::TooLarge { limit: 1 << 20 })
        );
        assert!(d.capacity() < 1 << 20);
    }

    #[test]
    fn zstd_huge_window_is_refused() {
        // Magic, FHD (no single segment, no checksum), window descriptor exponent 31 (2 GiB+).
        let mut z = 0xFD2F_B528u32.to_le_bytes().to_vec();
        z.extend_from_slice(&[0x00, 31 << 3, 1, 0, 0]);
        let mut d = Vec::new();
        let e = decompress(CompressionType::Zstd, &z, 1 << 20, &mut d).unwrap_err();
        assert!(e.to_string().contains("window"), "{e}");
    }

    #[test]
    fn corrupt_input_is_an_error_not_a_panic() {
        let data = sample(50_000);
        for codec in &ALL[1..] {
            let mut c = Vec::new();
            compress(*codec, None, &data, &mut c).unwrap();
            for cut in [0, 1, 5, 10, 17, c.len() / 2, c.len() - 1] {
                let mut d = Vec::new();
                assert!(
                    decompress(*codec, &c[..cut], 1 << 20, &mut d).is_err(),
                    "{codec:?} cut {cut}"
                );
            }
            for i in (0..c.len()).step_by(7) {
                let mut m = c.clone();
                m[i] ^= 0x5a;
                let mut d = Vec::new();
                let _ = decompress(*codec, &m, 1 << 20, &mut d);
            }
            let mut d = Vec::new();
            assert!(decompress(*codec, b"not compressed at all", 1 << 20, &mut d).is_err());
        }
    }
}
