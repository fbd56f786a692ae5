//! The store format rules, and the PKCS12 reader on real stores and on broken and hostile
//! ones (every truncation, flipped bytes): an error each time, never a panic.

use super::*;

const KEYTOOL: &[u8] = include_bytes!("../../tests/fixtures/tls/stores/client-keytool.p12");
const KEYTOOL_LEGACY: &[u8] =
    include_bytes!("../../tests/fixtures/tls/stores/client-keytool-legacy.p12");
const OPENSSL_LEGACY: &[u8] =
    include_bytes!("../../tests/fixtures/tls/stores/client-openssl-legacy.p12");
const TRUSTSTORE: &[u8] = include_bytes!("../../tests/fixtures/tls/stores/truststore-keytool.p12");
const JKS: &[u8] = include_bytes!("../../tests/fixtures/tls/stores/client.jks");
const CERT_PEM: &[u8] = include_bytes!("../../tests/fixtures/tls/stores/client-cert.pem");

fn property(e: Error) -> String {
    match e {
        Error::Config { property, .. } => property,
        other => panic!("not a config error: {other:?}"),
    }
}

#[test]
fn sniffs_formats() {
    assert_eq!(sniff(KEYTOOL), FileFormat::Pkcs12);
    assert_eq!(sniff(OPENSSL_LEGACY), FileFormat::Pkcs12);
    assert_eq!(sniff(JKS), FileFormat::Jks);
    assert_eq!(sniff(&[0xCE, 0xCE, 0xCE, 0xCE, 0]), FileFormat::Jceks);
    assert_eq!(sniff(CERT_PEM), FileFormat::Pem);
    let mut with_bag_attributes = b"Bag Attributes\n    friendlyName: client\n".to_vec();
    with_bag_attributes.extend_from_slice(CERT_PEM);
    assert_eq!(sniff(&with_bag_attributes), FileFormat::Pem);
    assert_eq!(sniff(b""), FileFormat::Unknown);
    assert_eq!(sniff(b"\xFE\xED"), FileFormat::Unknown);
    assert_eq!(sniff(b"hello"), FileFormat::Unknown);
}

#[test]
fn resolves_declared_type_against_content() {
    use FileFormat as F;
    use StoreType as T;
    let r = |t, f| {
        resolve(
            t,
            f,
            "ssl.keystore.type",
            "ssl.keystore.location",
            "/s/x.jks",
        )
    };
    assert_eq!(r(T::Jks, F::Pkcs12).unwrap(), Read::Pkcs12);
    assert_eq!(r(T::Pkcs12, F::Pkcs12).unwrap(), Read::Pkcs12);
    assert_eq!(r(T::Jks, F::Pem).unwrap(), Read::Pem);
    assert_eq!(r(T::Pem, F::Pem).unwrap(), Read::Pem);
    assert_eq!(
        property(r(T::Pem, F::Pkcs12).unwrap_err()),
        "ssl.keystore.type"
    );
    assert_eq!(
        property(r(T::Pkcs12, F::Pem).unwrap_err()),
        "ssl.keystore.type"
    );
    for t in [T::Jks, T::Pkcs12, T::Pem] {
        for f in [F::Jks, F::Jceks, F::Unknown] {
            assert_eq!(property(r(t, f).unwrap_err()), "ssl.keystore.location");
        }
    }
    let Error::Config { reason, .. } = r(T::Jks, F::Jceks).unwrap_err() else {
        unreachable!()
    };
    assert!(
        reason.contains(
            "keytool -importkeystore -srckeystore /s/x.jks -srcstoretype JCEKS -destkeystore \
             /s/x.p12 -deststoretype PKCS12"
        ),
        "{reason}"
    );
}

#[test]
fn conversion_command_names_a_p12_beside_the_store() {
    assert!(keytool_conversion("/a.b/store", "JKS").contains("-destkeystore /a.b/store.p12 "));
    assert!(keytool_conversion("client.jks", "JKS").contains("-destkeystore client.p12 "));
}

#[test]
fn reads_keytool_and_legacy_key_stores() {
    for (name, bytes) in [
        ("keytool", KEYTOOL),
        ("keytool legacy", KEYTOOL_LEGACY),
        ("openssl legacy", OPENSSL_LEGACY),
    ] {
        let (chain, key) = pkcs12_key_store(bytes, name, Some("changeit"), None)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(chain.len(), 1, "{name}");
        assert!(matches!(key, PrivateKeyDer::Pkcs8(_)), "{name}");
    }
    // the same certificate as the PEM export
    let (chain, _) = pkcs12_key_store(KEYTOOL, "k", Some("changeit"), Some("changeit")).unwrap();
    let pem = super::super::pem::certificates("p", CERT_PEM).unwrap();
    assert_eq!(chain, pem);
}

#[test]
fn reads_trust_stores() {
    let certs = pkcs12_trust_store(TRUSTSTORE, "t", Some("changeit")).unwrap();
    assert_eq!(
        certs,
        super::super::pem::certificates("p", CERT_PEM).unwrap()
    );
    assert_eq!(
        property(pkcs12_trust_store(TRUSTSTORE, "t", None).unwrap_err()),
        "ssl.truststore.password"
    );
    assert_eq!(
        property(pkcs12_trust_store(TRUSTSTORE, "t", Some("nope")).unwrap_err()),
        "ssl.truststore.password"
    );
}

#[test]
fn wrong_or_missing_passwords_name_their_property() {
    for bytes in [KEYTOOL, KEYTOOL_LEGACY, OPENSSL_LEGACY] {
        let e = pkcs12_key_store(bytes, "k", Some("wrong"), None).unwrap_err();
        assert_eq!(property(e), "ssl.keystore.password");
        let e = pkcs12_key_store(bytes, "k", None, None).unwrap_err();
        assert_eq!(property(e), "ssl.keystore.password");
        let e = pkcs12_key_store(bytes, "k", Some("changeit"), Some("x")).unwrap_err();
        assert_eq!(property(e), "ssl.key.password");
    }
}

/// A store cut anywhere, or with a byte changed, is refused with an error; no panic, no
/// allocation beyond the input's size (the DER reader checks lengths against what it has).
#[test]
fn hostile_stores_are_errors() {
    for bytes in [KEYTOOL, OPENSSL_LEGACY, TRUSTSTORE] {
        for len in 0..bytes.len() {
            let cut = &bytes[..len];
            assert!(pkcs12_key_store(cut, "k", Some("changeit"), None).is_err());
            assert!(pkcs12_trust_store(cut, "t", Some("changeit")).is_err());
        }
        // flips spread over the file (each costs a key derivation for the MAC check, slow in
        // debug builds, so not every byte)
        for i in (0..bytes.len()).step_by(89) {
            let mut bad = bytes.to_vec();
            bad[i] ^= 0x5A;
            let _ = pkcs12_key_store(&bad, "k", Some("changeit"), None);
            let _ = pkcs12_trust_store(&bad, "t", Some("changeit"));
        }
    }
    // lengths claiming far more than there is
    for bytes in [
        &[0x30, 0x84, 0xFF, 0xFF, 0xFF, 0xFF][..],
        &[0x30, 0x89, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        &[0x30, 0x80, 0x00, 0x00],
        &[0x30],
    ] {
        assert!(pkcs12_key_store(bytes, "k", Some("p"), None).is_err());
        assert!(pkcs12_trust_store(bytes, "t", Some("p")).is_err());
    }
}
