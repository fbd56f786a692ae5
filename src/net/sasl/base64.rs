//! Base64 (RFC 4648) in the two forms SASL needs: standard with padding (SCRAM messages, HTTP
//! Basic credentials for the token endpoint) and base64url without padding (JWS segments).
//! One encoder and one 6-bit reader serve both; only the alphabet and the padding rules differ.
//! Hand-written because these few functions are all that is needed, and a crate for them would
//! be the only one some feature sets pull in.

const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn encode_with(data: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(alphabet[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes unpadded symbols; `None` on a character outside `alphabet`, a length no encoding
/// has, or non-zero bits after the last byte (so each byte string has one encoding).
fn decode_with(symbols: &[u8], alphabet: &[u8; 64]) -> Option<Vec<u8>> {
    if symbols.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(symbols.len() / 4 * 3 + 2);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in symbols {
        let v = alphabet.iter().position(|&a| a == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    (acc == 0).then_some(out)
}

/// Standard base64 with padding.
#[cfg_attr(
    not(any(feature = "sasl-scram", feature = "oauth-oidc")),
    allow(dead_code)
)]
pub(crate) fn encode(data: &[u8]) -> String {
    encode_with(data, STANDARD, true)
}

/// Decodes padded standard base64; `None` for anything else (wrong length, bad characters,
/// misplaced padding, non-zero bits in the padding).
#[cfg_attr(not(feature = "sasl-scram"), allow(dead_code))]
pub(crate) fn decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(4) {
        return None;
    }
    let pad = bytes.iter().rev().take_while(|&&c| c == b'=').count();
    if pad > 2 {
        return None;
    }
    decode_with(&bytes[..bytes.len() - pad], STANDARD)
}

/// base64url without padding, as JWS segments are written.
pub(crate) fn encode_url(data: &[u8]) -> String {
    encode_with(data, URL, false)
}

/// Decodes base64url with or without padding; `None` for anything else.
pub(crate) fn decode_url(text: &str) -> Option<Vec<u8>> {
    decode_with(text.trim_end_matches('=').as_bytes(), URL)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_round_trip_and_strictness() {
        for (raw, enc) in [
            (&b""[..], ""),
            (b"f", "Zg=="),
            (b"fo", "Zm8="),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg=="),
            (b"fooba", "Zm9vYmE="),
            (b"foobar", "Zm9vYmFy"),
            (&[0xfb, 0xff, 0xbf], "+/+/"),
        ] {
            assert_eq!(encode(raw), enc);
            assert_eq!(decode(enc).as_deref(), Some(raw), "{enc}");
        }
        for bad in ["Zg", "Zg=", "Z===", "Zh==", "Zg==Zg==", "Zm9v!A==", "=Zm9"] {
            assert_eq!(decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn url_round_trip_and_strictness() {
        for (raw, enc) in [
            (&b""[..], ""),
            (b"f", "Zg"),
            (b"fo", "Zm8"),
            (b"foo", "Zm9v"),
            (&[0xfb, 0xff, 0xbf], "-_-_"),
        ] {
            assert_eq!(encode_url(raw), enc);
            assert_eq!(decode_url(enc).as_deref(), Some(raw));
        }
        assert_eq!(decode_url("Zg==").as_deref(), Some(&b"f"[..]));
        for bad in ["Z", "Zm9v+", "Zm9/", "Zm 9", "Zh"] {
            assert_eq!(decode_url(bad), None, "{bad}");
        }
    }
}
