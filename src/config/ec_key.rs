//! Java writes EC private keys (PKCS#8) without the optional public key inside their
//! `ECPrivateKey` (RFC 5915), and ring refuses such keys. The public key is in the client's own
//! certificate: [`complete_ec_key`] copies it in, so a keytool-made EC key store works.
//!
//! The DER reading here is a minimal, bounds-checked TLV walk over the key (a secret, and a
//! file's content): anything unexpected leaves the key as it was, for rustls to judge.

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

const SEQUENCE: u8 = 0x30;
const OCTET_STRING: u8 = 0x04;
const BIT_STRING: u8 = 0x03;
/// `[1]` EXPLICIT, constructed: `ECPrivateKey.publicKey`.
const PUBLIC_KEY_TAG: u8 = 0xA1;
/// The DER of OID 1.2.840.10045.2.1, id-ecPublicKey.
const EC_PUBLIC_KEY_OID: &[u8] = &[0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01];

/// One DER element: its tag, its content, and what follows it. `None` when the bytes do not
/// hold a whole element (lengths are checked against what is there, never trusted).
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7F);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// One element of a constructed value: its tag, its content, and the whole element.
type Element<'a> = (u8, &'a [u8], &'a [u8]);

/// The elements of a constructed value's content, in order.
fn children(mut content: &[u8]) -> Option<Vec<Element<'_>>> {
    let mut out = Vec::new();
    while !content.is_empty() {
        let (tag, value, rest) = tlv(content)?;
        let whole = &content[..content.len() - rest.len()];
        out.push((tag, value, whole));
        content = rest;
    }
    Some(out)
}

/// A DER element of `tag` around `content`.
fn encode(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// The subjectPublicKey BIT STRING (whole element) of an X.509 certificate with an EC key.
fn certificate_ec_public_key(cert: &[u8]) -> Option<&[u8]> {
    let (SEQUENCE, cert, _) = tlv(cert)? else {
        return None;
    };
    let (SEQUENCE, tbs, _) = tlv(cert)? else {
        return None;
    };
    // tbsCertificate: [0] version (optional), serial, signature, issuer, validity, subject,
    // subjectPublicKeyInfo, ...
    let fields = children(tbs)?;
    let skip = usize::from(fields.first()?.0 == 0xA0);
    let (tag, spki, _) = *fields.get(skip + 5)?;
    if tag != SEQUENCE {
        return None;
    }
    let parts = children(spki)?;
    let [(SEQUENCE, algorithm, _), (BIT_STRING, _, key)] = parts.as_slice() else {
        return None;
    };
    algorithm.starts_with(EC_PUBLIC_KEY_OID).then_some(*key)
}

/// The PKCS#8 EC key `pkcs8` with the public key of `cert` added, when it has none; `None`
/// when it needs no change or is not such a key.
fn add_public_key(pkcs8: &[u8], cert: &[u8]) -> Option<Vec<u8>> {
    let (SEQUENCE, info, _) = tlv(pkcs8)? else {
        return None;
    };
    let fields = children(info)?;
    // version, algorithm, privateKey, then optional attributes / public key
    let (SEQUENCE, algorithm, _) = *fields.get(1)? else {
        return None;
    };
    if !algorithm.starts_with(EC_PUBLIC_KEY_OID) {
        return None;
    }
    let (OCTET_STRING, private_key, _) = *fields.get(2)? else {
        return None;
    };
    let (SEQUENCE, ec_key, _) = tlv(private_key)? else {
        return None;
    };
    let ec_fields = children(ec_key)?;
    if ec_fields.iter().any(|f| f.0 == PUBLIC_KEY_TAG) {
        return None;
    }
    let public = certificate_ec_public_key(cert)?;
    let mut new_ec_key: Vec<u8> = ec_fields.iter().flat_map(|f| f.2.to_vec()).collect();
    new_ec_key.extend(encode(PUBLIC_KEY_TAG, public));
    let new_private_key = encode(OCTET_STRING, &encode(SEQUENCE, &new_ec_key));
    let mut new_info = Vec::new();
    for (i, f) in fields.iter().enumerate() {
        if i == 2 {
            new_info.extend_from_slice(&new_private_key);
        } else {
            new_info.extend_from_slice(f.2);
        }
    }
    Some(encode(SEQUENCE, &new_info))
}

/// `key`, with the public key from `leaf` (its certificate) added when it is a PKCS#8 EC key
/// without one (as Java writes them); any other key is returned as it is.
pub(crate) fn complete_ec_key(
    key: PrivateKeyDer<'static>,
    leaf: &CertificateDer<'_>,
) -> PrivateKeyDer<'static> {
    match &key {
        PrivateKeyDer::Pkcs8(k) => match add_public_key(k.secret_pkcs8_der(), leaf) {
            Some(fixed) => {
                log::debug!("EC private key without its public key: taken from the certificate");
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(fixed))
            }
            None => key,
        },
        _ => key,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tlv_checks_lengths() {
        assert_eq!(
            tlv(&[0x04, 0x02, 1, 2, 3]),
            Some((0x04, &[1u8, 2][..], &[3u8][..]))
        );
        assert_eq!(tlv(&[0x04, 0x03, 1, 2]), None);
        assert_eq!(tlv(&[0x04, 0x84, 0xFF, 0xFF, 0xFF, 0xFF, 0]), None);
        assert_eq!(tlv(&[0x04, 0x85, 1, 1, 1, 1, 1]), None);
        assert_eq!(tlv(&[0x04, 0x80]), None);
        assert_eq!(tlv(&[0x04]), None);
        assert_eq!(tlv(&[]), None);
        let long = encode(0x04, &[7u8; 300]);
        assert_eq!(&long[..4], &[0x04, 0x82, 0x01, 0x2C]);
        assert_eq!(tlv(&long).unwrap().1.len(), 300);
    }

    #[test]
    fn keys_that_need_nothing_are_kept() {
        let rsa = include_bytes!("../../tests/fixtures/tls/stores/client.key");
        use rustls::pki_types::pem::PemObject;
        let key = PrivateKeyDer::from_pem_slice(rsa).unwrap();
        let cert = CertificateDer::from_pem_slice(include_bytes!(
            "../../tests/fixtures/tls/stores/client-cert.pem"
        ))
        .unwrap();
        let before = key.secret_der().to_vec();
        assert_eq!(complete_ec_key(key, &cert).secret_der(), &before[..]);
        // hostile bytes: every truncation of a key and of a certificate
        for n in 0..before.len() {
            let _ = add_public_key(&before[..n], &cert);
        }
        for n in 0..cert.len() {
            let _ = certificate_ec_public_key(&cert[..n]);
        }
    }
}
