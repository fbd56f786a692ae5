//! Turning keys and values into bytes.

use crate::error::Error;
use std::sync::Arc;

/// Appends the serialized form of a `T` to a buffer.
///
/// A [`Serializer`] appends the bytes of one key or value to a buffer the producer owns and
/// reuses, so serializing a record allocates nothing once the buffer has grown.
///
/// [`DefaultSerializer`] serializes the common types byte-for-byte as the Java client's
/// serializers do, so consumers using Java deserializers read them back:
///
/// | Rust type                                        | Java serializer         | Bytes                       |
/// |--------------------------------------------------|-------------------------|-----------------------------|
/// | `[u8]`, `Vec<u8>`, `&[u8]`, `[u8; N]`, `Box<[u8]>` | `ByteArraySerializer`   | as is                       |
/// | `str`, `String`, `&str`, `Box<str>`, `Arc<str>`  | `StringSerializer`      | UTF-8 (Java's default)      |
/// | `i16`, `u16`                                     | `ShortSerializer`       | 2 bytes big-endian          |
/// | `i32`, `u32`                                     | `IntegerSerializer`     | 4 bytes big-endian          |
/// | `i64`, `u64`                                     | `LongSerializer`        | 8 bytes big-endian          |
/// | `f32`                                            | `FloatSerializer`       | raw IEEE bits, big-endian   |
/// | `f64`                                            | `DoubleSerializer`      | IEEE bits (NaN canonical), big-endian |
/// | `bool`                                           | `BooleanSerializer`     | 1 byte, 1 or 0              |
/// | `()`                                             | (see below)             | no bytes                    |
///
/// Unsigned integers have no Java counterpart; they are written with the same width as the
/// signed type, so Java reads the same bits as a signed number.
///
/// Null keys and values are expressed by the record (`key: None`), not by the serializer, so
/// Java's `VoidSerializer` (always null) corresponds to leaving the field `None`. Serializing
/// `Some(())` writes an *empty* (non-null) key or value.
///
/// Java's `key.serializer` / `value.serializer` properties name classes; in Rust the serializer
/// is a type parameter of the producer, so those properties are accepted and ignored by
/// [`ProducerConfig`](crate::ProducerConfig).
///
/// Custom serializers implement the trait, or are closures; `Arc<S>` (including
/// `Arc<dyn Serializer<T>>`) is a serializer when `S` is:
///
/// ```
/// use kafka_sync::{Error, Serializer};
/// let csv = |_topic: &str, v: &(u32, u32), out: &mut Vec<u8>| -> Result<(), Error> {
///     out.extend_from_slice(format!("{},{}", v.0, v.1).as_bytes());
///     Ok(())
/// };
/// let mut buf = Vec::new();
/// csv.serialize("t", &(1, 2), &mut buf).unwrap();
/// assert_eq!(buf, b"1,2");
/// ```
///
/// # Contract
///
/// `out` may already hold bytes (the producer may serialize the key and the value into one
/// buffer); append, never clear or overwrite. On error, whatever was appended is discarded and
/// the record is not sent: return [`Error::Serialization`] (the producer fills in `part`).
pub trait Serializer<T: ?Sized>: Send + Sync {
    /// Appends `value`, destined for `topic`, to `out`.
    fn serialize(&self, topic: &str, value: &T, out: &mut Vec<u8>) -> Result<(), Error>;

    /// The bytes `serialize` would append, borrowed from `value`, when serializing is only a
    /// copy (bytes and strings). The producer then appends them to the batch straight from the
    /// record: one copy less per byte. `None` (the default) means: call `serialize`.
    ///
    /// When it returns `Some`, the bytes must be exactly what `serialize` appends.
    fn as_bytes<'a>(&self, _topic: &str, _value: &'a T) -> Option<&'a [u8]> {
        None
    }
}

impl<T: ?Sized, F> Serializer<T> for F
where
    F: Fn(&str, &T, &mut Vec<u8>) -> Result<(), Error> + Send + Sync,
{
    fn serialize(&self, topic: &str, value: &T, out: &mut Vec<u8>) -> Result<(), Error> {
        self(topic, value, out)
    }
}

/// A serializer's error as the record's: [`Error::Serialization`] naming the `part`
/// (`"key"` or `"value"`).
pub(crate) fn as_serialization(e: Error, part: &'static str) -> Error {
    match e {
        Error::Serialization { .. } => e,
        other => Error::Serialization {
            part,
            reason: other.to_string(),
        },
    }
}

/// The serializer for the common types, matching the Java client's built-in serializers
/// (see [`Serializer`] for the table).
///
/// ```
/// use kafka_sync::{DefaultSerializer, Serializer};
/// let mut out = Vec::new();
/// DefaultSerializer.serialize("t", &1i32, &mut out).unwrap();
/// DefaultSerializer.serialize("t", "hi", &mut out).unwrap();
/// assert_eq!(out, [0, 0, 0, 1, b'h', b'i']);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DefaultSerializer;

macro_rules! bytes_impl {
    ($($t:ty),*) => {$(
        impl Serializer<$t> for DefaultSerializer {
            fn serialize(&self, _topic: &str, value: &$t, out: &mut Vec<u8>) -> Result<(), Error> {
                out.extend_from_slice(&value[..]);
                Ok(())
            }
            fn as_bytes<'a>(&self, _topic: &str, value: &'a $t) -> Option<&'a [u8]> {
                Some(&value[..])
            }
        }
    )*};
}
bytes_impl!([u8], Vec<u8>, &[u8], Box<[u8]>, Arc<[u8]>);

macro_rules! str_impl {
    ($($t:ty),*) => {$(
        impl Serializer<$t> for DefaultSerializer {
            fn serialize(&self, _topic: &str, value: &$t, out: &mut Vec<u8>) -> Result<(), Error> {
                out.extend_from_slice(value.as_bytes());
                Ok(())
            }
            fn as_bytes<'a>(&self, _topic: &str, value: &'a $t) -> Option<&'a [u8]> {
                Some(value.as_bytes())
            }
        }
    )*};
}
str_impl!(str, String, &str, Box<str>, Arc<str>);

impl<const N: usize> Serializer<[u8; N]> for DefaultSerializer {
    fn serialize(&self, _topic: &str, value: &[u8; N], out: &mut Vec<u8>) -> Result<(), Error> {
        out.extend_from_slice(value);
        Ok(())
    }
    fn as_bytes<'a>(&self, _topic: &str, value: &'a [u8; N]) -> Option<&'a [u8]> {
        Some(value)
    }
}

macro_rules! be_impl {
    ($($t:ty),*) => {$(
        impl Serializer<$t> for DefaultSerializer {
            fn serialize(&self, _topic: &str, value: &$t, out: &mut Vec<u8>) -> Result<(), Error> {
                out.extend_from_slice(&value.to_be_bytes());
                Ok(())
            }
        }
    )*};
}
be_impl!(i16, u16, i32, u32, i64, u64);

impl Serializer<f32> for DefaultSerializer {
    /// Java's `FloatSerializer` uses `floatToRawIntBits`: NaN payloads are kept.
    fn serialize(&self, _topic: &str, value: &f32, out: &mut Vec<u8>) -> Result<(), Error> {
        out.extend_from_slice(&value.to_bits().to_be_bytes());
        Ok(())
    }
}

impl Serializer<f64> for DefaultSerializer {
    /// Java's `DoubleSerializer` uses `doubleToLongBits`: every NaN becomes the canonical
    /// `0x7ff8000000000000`.
    fn serialize(&self, _topic: &str, value: &f64, out: &mut Vec<u8>) -> Result<(), Error> {
        let bits = if value.is_nan() {
            0x7ff8_0000_0000_0000u64
        } else {
            value.to_bits()
        };
        out.extend_from_slice(&bits.to_be_bytes());
        Ok(())
    }
}

impl Serializer<bool> for DefaultSerializer {
    fn serialize(&self, _topic: &str, value: &bool, out: &mut Vec<u8>) -> Result<(), Error> {
        out.push(u8::from(*value));
        Ok(())
    }
}

impl Serializer<()> for DefaultSerializer {
    /// Writes nothing: `Some(())` is an empty key or value (use `None` for null).
    fn serialize(&self, _topic: &str, _value: &(), _out: &mut Vec<u8>) -> Result<(), Error> {
        Ok(())
    }
}

impl<T: ?Sized, S: Serializer<T> + ?Sized> Serializer<T> for Arc<S> {
    fn serialize(&self, topic: &str, value: &T, out: &mut Vec<u8>) -> Result<(), Error> {
        (**self).serialize(topic, value, out)
    }
    fn as_bytes<'a>(&self, topic: &str, value: &'a T) -> Option<&'a [u8]> {
        (**self).as_bytes(topic, value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ser<T: ?Sized>(v: &T) -> Vec<u8>
    where
        DefaultSerializer: Serializer<T>,
    {
        let mut out = Vec::new();
        DefaultSerializer.serialize("t", v, &mut out).unwrap();
        out
    }

    // Expected bytes below were printed by the Java client 4.4.0's serializers.
    #[test]
    fn integers_match_java() {
        assert_eq!(ser(&1i32), [0, 0, 0, 1]); // IntegerSerializer(1)
        assert_eq!(ser(&-2i32), [0xff, 0xff, 0xff, 0xfe]);
        assert_eq!(ser(&-1i64), [0xff; 8]); // LongSerializer(-1)
        assert_eq!(ser(&0x0102030405060708i64), [1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(ser(&258i16), [1, 2]); // ShortSerializer(258)
        assert_eq!(ser(&u32::MAX), ser(&-1i32));
        assert_eq!(ser(&65535u16), [0xff, 0xff]);
        assert_eq!(ser(&1u64), [0, 0, 0, 0, 0, 0, 0, 1]);
    }

    #[test]
    fn floats_match_java() {
        assert_eq!(ser(&1.5f32), [0x3f, 0xc0, 0, 0]);
        // FloatSerializer keeps the NaN payload (floatToRawIntBits)
        assert_eq!(ser(&f32::from_bits(0x7fc0_0001)), [0x7f, 0xc0, 0, 1]);
        assert_eq!(ser(&1.5f64), [0x3f, 0xf8, 0, 0, 0, 0, 0, 0]);
        // DoubleSerializer canonicalises NaN (doubleToLongBits)
        assert_eq!(
            ser(&f64::from_bits(0x7ff8_0000_0000_0001)),
            [0x7f, 0xf8, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(ser(&-0.0f64), [0x80, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn bool_strings_bytes_unit() {
        assert_eq!(ser(&true), [1]);
        assert_eq!(ser(&false), [0]);
        assert_eq!(ser("héllo"), [0x68, 0xc3, 0xa9, 0x6c, 0x6c, 0x6f]);
        assert_eq!(ser(&"héllo".to_string()), ser("héllo"));
        assert_eq!(ser(&"ab"), b"ab");
        assert_eq!(ser(&Arc::<str>::from("ab")), b"ab");
        assert_eq!(ser(&vec![9u8, 8]), [9, 8]);
        assert_eq!(ser(&[9u8, 8][..]), [9, 8]);
        assert_eq!(ser(&[7u8; 3]), [7, 7, 7]);
        assert_eq!(ser(&&b"x"[..]), b"x");
        assert!(ser(&()).is_empty());
    }

    #[test]
    fn appends_without_clearing() {
        let mut out = vec![0xaa];
        DefaultSerializer.serialize("t", &1i16, &mut out).unwrap();
        DefaultSerializer.serialize("t", "z", &mut out).unwrap();
        assert_eq!(out, [0xaa, 0, 1, b'z']);
    }

    #[test]
    fn borrowed_bytes_match_serialize() {
        fn same<T: ?Sized>(v: &T)
        where
            DefaultSerializer: Serializer<T>,
        {
            let mut out = Vec::new();
            DefaultSerializer.serialize("t", v, &mut out).unwrap();
            assert_eq!(DefaultSerializer.as_bytes("t", v), Some(&out[..]));
        }
        same(&b"ab"[..]);
        same(&vec![1u8, 2, 3]);
        same(&Arc::<[u8]>::from(&b"xyz"[..]));
        same("hé");
        same(&String::from("s"));
        same(&[7u8; 4]);
        // Encoded types have no borrowed form: they are serialized.
        assert_eq!(DefaultSerializer.as_bytes("t", &1i32), None);
        let shared: Arc<dyn Serializer<str>> = Arc::new(DefaultSerializer);
        assert_eq!(shared.as_bytes("t", "q"), Some(&b"q"[..]));
    }

    #[test]
    fn wrappers_and_closures() {
        let boxed: Box<dyn Serializer<str>> = Box::new(DefaultSerializer); // used via deref
        let shared: Arc<dyn Serializer<i32>> = Arc::new(DefaultSerializer);
        let mut out = Vec::new();
        boxed.serialize("t", "a", &mut out).unwrap();
        shared.serialize("t", &2, &mut out).unwrap();
        assert_eq!(out, [b'a', 0, 0, 0, 2]);

        let failing = |topic: &str, _: &i32, _: &mut Vec<u8>| -> Result<(), Error> {
            Err(Error::Serialization {
                part: "value",
                reason: format!("no ints for {topic}"),
            })
        };
        let err = failing.serialize("t1", &1, &mut out).unwrap_err();
        assert!(err.to_string().contains("no ints for t1"), "{err}");
    }
}
