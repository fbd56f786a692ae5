//! PEM keys: encrypted PKCS#8 opened with the right password and refused with a wrong one,
//! broken and hostile encrypted keys refused without panics.

use super::*;

const KEY: &[u8] = include_bytes!("../../tests/fixtures/tls/stores/client.key");
const AES: &[u8] = include_bytes!("../../tests/fixtures/tls/stores/client-encrypted.key");
const DES3: &[u8] = include_bytes!("../../tests/fixtures/tls/stores/client-encrypted-des3.key");

fn property(e: Error) -> (String, String) {
    match e {
        Error::Config { property, reason } => (property, reason),
        other => panic!("not a config error: {other:?}"),
    }
}

#[test]
fn decrypts_to_the_plain_key() {
    let plain = private_key("k", KEY, None).unwrap();
    for enc in [AES, DES3] {
        let key = private_key("k", enc, Some("changeit")).unwrap();
        assert_eq!(key.secret_der(), plain.secret_der());
    }
    // CRLF line ends and blanks around lines
    let crlf = String::from_utf8(AES.to_vec())
        .unwrap()
        .replace('\n', "  \r\n");
    let key = private_key("k", crlf.as_bytes(), Some("changeit")).unwrap();
    assert_eq!(key.secret_der(), plain.secret_der());
}

#[test]
fn passwords() {
    let (p, r) = property(private_key("ssl.keystore.key", AES, Some("wrong")).unwrap_err());
    assert_eq!(p, "ssl.key.password");
    assert!(r.contains("ssl.keystore.key") && r.contains("wrong"), "{r}");
    let (p, r) = property(private_key("ssl.keystore.key", DES3, None).unwrap_err());
    assert_eq!(p, "ssl.key.password");
    assert!(r.starts_with("missing"), "{r}");
    // an unencrypted key needs no password: one given is not used
    private_key("k", KEY, Some("unused")).unwrap();
}

#[test]
fn legacy_openssl_encryption_says_how_to_convert() {
    let legacy = b"-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: \
        AES-256-CBC,0011\n\nAAAA\n-----END RSA PRIVATE KEY-----\n";
    let (p, r) = property(private_key("k", legacy, Some("x")).unwrap_err());
    assert_eq!(p, "k");
    assert!(r.contains("openssl pkcs8 -topk8"), "{r}");
}

#[test]
fn broken_encrypted_keys_are_errors() {
    let text = String::from_utf8(AES.to_vec()).unwrap();
    // no end line
    let open = text.replace(ENCRYPTED_END, "");
    assert_eq!(
        property(private_key("k", open.as_bytes(), Some("changeit")).unwrap_err()).0,
        "k"
    );
    // every truncation of the base64 body, and every flipped body character
    let body_start = text.find('\n').unwrap() + 1;
    let body_end = text.find(ENCRYPTED_END).unwrap();
    for cut in (body_start..body_end).step_by(3) {
        let t = format!("{}{ENCRYPTED_END}\n", &text[..cut]);
        assert!(private_key("k", t.as_bytes(), Some("changeit")).is_err());
    }
    for i in (body_start..body_end).step_by(7) {
        let mut b = text.clone().into_bytes();
        b[i] = if b[i] == b'A' { b'B' } else { b'A' };
        let _ = private_key("k", &b, Some("changeit"));
    }
}

/// An iteration count no real key has is refused before any key derivation.
#[test]
fn absurd_kdf_costs_are_refused() {
    use pkcs8::der::{Decode, Encode};
    use pkcs8::pkcs5::{pbes2::Kdf, EncryptionScheme};
    let (_, der) = pkcs8::der::pem::decode_vec(AES).unwrap();
    let mut info = pkcs8::EncryptedPrivateKeyInfoRef::from_der(&der).unwrap();
    let EncryptionScheme::Pbes2(params) = &mut info.encryption_algorithm else {
        panic!("openssl made PBES2")
    };
    let Kdf::Pbkdf2(kdf) = &mut params.kdf else {
        panic!("openssl made PBKDF2")
    };
    kdf.iteration_count = u32::MAX;
    let hostile = info.to_der().unwrap();
    let started = std::time::Instant::now();
    let (p, r) = property(decrypt_pkcs8("k", &hostile, "changeit").unwrap_err());
    assert_eq!(p, "k");
    assert!(r.contains("key-derivation"), "{r}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}
