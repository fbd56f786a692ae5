//! PEM certificates and private keys for TLS, including encrypted PKCS#8 keys
//! (`-----BEGIN ENCRYPTED PRIVATE KEY-----`, decrypted with `ssl.key.password` by the pure-Rust
//! `pkcs8` crate: PBES2 with PBKDF2 or scrypt, AES or 3DES). Key material is a secret: errors
//! never quote it.

use crate::error::Error;
use rustls::pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// The property holding the password of an encrypted key.
const KEY_PASSWORD: &str = "ssl.key.password";
/// PBKDF2 iteration counts above this are refused before any work (OpenSSL makes 2048,
/// keytool 10000): a hostile file must not hold the caller for minutes.
const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;
/// The largest scrypt cost (`N`) accepted (OpenSSL's default is 16384; each unit costs
/// 128 * r bytes).
const MAX_SCRYPT_COST: u64 = 1 << 20;

/// Every certificate in PEM text; none is an error.
pub(crate) fn certificates(
    property: &str,
    pem: &[u8],
) -> Result<Vec<CertificateDer<'static>>, Error> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::config(property, format!("bad PEM: {e}")))?;
    if certs.is_empty() {
        return Err(Error::config(
            property,
            "no PEM certificate found (expected -----BEGIN CERTIFICATE-----)",
        ));
    }
    Ok(certs)
}

const ENCRYPTED_BEGIN: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----";
const ENCRYPTED_END: &str = "-----END ENCRYPTED PRIVATE KEY-----";

/// The private key in PEM text: unencrypted PKCS#8, PKCS#1 or SEC1, or encrypted PKCS#8
/// opened with `password` (`ssl.key.password`).
pub(crate) fn private_key(
    property: &str,
    pem: &[u8],
    password: Option<&str>,
) -> Result<PrivateKeyDer<'static>, Error> {
    if let Some(der) = encrypted_block(property, pem)? {
        let Some(password) = password else {
            return Err(Error::config(
                KEY_PASSWORD,
                format!("missing: the private key in {property} is encrypted and needs it"),
            ));
        };
        return decrypt_pkcs8(property, &der, password);
    }
    if contains(pem, b"Proc-Type: 4,ENCRYPTED") {
        return Err(Error::config(
            property,
            "the private key is encrypted the legacy OpenSSL way (Proc-Type: 4,ENCRYPTED), \
             which Java does not read either: convert it to encrypted PKCS#8 with openssl \
             pkcs8 -topk8 -v2 aes-256-cbc -in old.key -out new.key",
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(pem).map_err(|e| {
        Error::config(
            property,
            format!(
                "no usable private key ({e}); expected PKCS#8 (BEGIN PRIVATE KEY or BEGIN \
                 ENCRYPTED PRIVATE KEY), PKCS#1 (BEGIN RSA PRIVATE KEY) or SEC1 (BEGIN EC \
                 PRIVATE KEY)"
            ),
        )
    })?;
    if password.is_some() {
        log::warn!("{KEY_PASSWORD} is set but the key in {property} is not encrypted: not used");
    }
    Ok(key)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The DER inside the first `ENCRYPTED PRIVATE KEY` block, if there is one. Lines are
/// trimmed (CRLF files, trailing blanks) before the strict RFC 7468 decoder reads them.
fn encrypted_block(property: &str, pem: &[u8]) -> Result<Option<Vec<u8>>, Error> {
    let text = String::from_utf8_lossy(pem);
    let Some(start) = text.find(ENCRYPTED_BEGIN) else {
        return Ok(None);
    };
    let Some(len) = text[start..].find(ENCRYPTED_END) else {
        return Err(Error::config(
            property,
            format!("bad PEM: {ENCRYPTED_BEGIN} without {ENCRYPTED_END}"),
        ));
    };
    let mut block = String::with_capacity(len + ENCRYPTED_END.len() + 1);
    for line in text[start..start + len + ENCRYPTED_END.len()].lines() {
        let line = line.trim();
        if !line.is_empty() {
            block.push_str(line);
            block.push('\n');
        }
    }
    let (_, der) = pkcs8::der::pem::decode_vec(block.as_bytes())
        .map_err(|e| Error::config(property, format!("bad PEM in the encrypted key: {e}")))?;
    Ok(Some(der))
}

/// An `EncryptedPrivateKeyInfo` (DER) decrypted with `password`; a wrong password is an
/// error naming `ssl.key.password`.
fn decrypt_pkcs8(
    property: &str,
    der: &[u8],
    password: &str,
) -> Result<PrivateKeyDer<'static>, Error> {
    use pkcs8::der::Decode;
    use pkcs8::pkcs5::{pbes2::Kdf, EncryptionScheme};
    let info = pkcs8::EncryptedPrivateKeyInfoRef::from_der(der).map_err(|e| {
        Error::config(
            property,
            format!("not an encrypted PKCS#8 key (EncryptedPrivateKeyInfo): {e}"),
        )
    })?;
    if let EncryptionScheme::Pbes2(params) = &info.encryption_algorithm {
        let too_costly = match &params.kdf {
            Kdf::Pbkdf2(k) => k.iteration_count > MAX_PBKDF2_ITERATIONS,
            Kdf::Scrypt(s) => {
                s.cost_parameter > MAX_SCRYPT_COST || s.block_size > 64 || s.parallelization > 16
            }
            _ => false,
        };
        if too_costly {
            return Err(Error::config(
                property,
                "the encrypted key's key-derivation parameters are beyond any real key's \
                 (refused rather than spending minutes on them)",
            ));
        }
    }
    let plain = info.decrypt(password).map_err(|e| {
        let why = match e {
            pkcs8::Error::EncryptedPrivateKey(pkcs8::pkcs5::Error::UnsupportedAlgorithm {
                ..
            }) => {
                return Error::config(
                    property,
                    format!(
                        "the key's encryption scheme is not supported ({e}); PBES2 (PBKDF2 or \
                         scrypt with AES or 3DES) is, as made by openssl pkcs8 -topk8 -v2 \
                         aes-256-cbc"
                    ),
                )
            }
            pkcs8::Error::EncryptedPrivateKey(_) => "the password is wrong",
            _ => "the password is wrong (what it decrypts is not a PKCS#8 key)",
        };
        Error::config(
            KEY_PASSWORD,
            format!("does not decrypt the private key in {property}: {why}"),
        )
    })?;
    Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        plain.as_bytes().to_vec(),
    )))
}

#[cfg(test)]
#[path = "pem_tests.rs"]
mod tests;
