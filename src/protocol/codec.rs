//! Small helpers shared by the API modules: version checks and array decoding.
//!
//! Crate-private; the public codec surface is in [`super::primitives`].

use super::primitives::{DecodeError, DecodeResult, Decoder};

/// Fails with [`DecodeError::Invalid`] unless `min <= version <= max`.
pub(crate) fn check_version(version: i16, min: i16, max: i16) -> DecodeResult<()> {
    if version < min || version > max {
        return Err(DecodeError::Invalid {
            what: "api version",
            offset: 0,
            value: version as i64,
        });
    }
    Ok(())
}

/// Reads a non-null array whose elements take at least `min_elem_size` bytes each, calling
/// `elem` once per element. The capacity is bounded by the remaining input.
pub(crate) fn read_array<'a, T>(
    d: &mut Decoder<'a>,
    compact: bool,
    min_elem_size: usize,
    mut elem: impl FnMut(&mut Decoder<'a>) -> DecodeResult<T>,
) -> DecodeResult<Vec<T>> {
    let at = d.position();
    let n = d
        .array_len(compact, min_elem_size)?
        .ok_or(DecodeError::Invalid {
            what: "null array",
            offset: at,
            value: -1,
        })?;
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        v.push(elem(d)?);
    }
    Ok(v)
}

/// Reads a non-null `[]int32` array.
pub(crate) fn read_i32_array(d: &mut Decoder<'_>, compact: bool) -> DecodeResult<Vec<i32>> {
    read_array(d, compact, 4, |d| d.i32())
}

/// Reads a `STRING` / `COMPACT_STRING` into an owned `String`.
pub(crate) fn read_string(d: &mut Decoder<'_>, compact: bool) -> DecodeResult<String> {
    d.str(compact).map(str::to_owned)
}

/// Reads a nullable string into an owned `Option<String>`.
pub(crate) fn read_nullable_string(
    d: &mut Decoder<'_>,
    compact: bool,
) -> DecodeResult<Option<String>> {
    Ok(d.nullable_str(compact)?.map(str::to_owned))
}
