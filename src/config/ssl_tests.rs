//! The `ssl.*` settings end to end, through `ProducerConfig::from_properties`: PEM, PKCS12
//! and JKS stores by type and content, passwords, and the property each error names.

use crate::config::{ProducerConfig, SecurityProtocol};
use crate::error::Error;

pub(super) fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/tls/{name}", env!("CARGO_MANIFEST_DIR"))
}

pub(super) fn store(name: &str) -> String {
    fixture(&format!("stores/{name}"))
}

pub(super) fn ssl(props: &[(&str, &str)]) -> Result<ProducerConfig, Error> {
    let mut all = vec![
        ("bootstrap.servers", "localhost:9092"),
        ("security.protocol", "SSL"),
    ];
    all.extend_from_slice(props);
    ProducerConfig::from_properties(all)
}

pub(super) fn ssl_err(props: &[(&str, &str)]) -> (String, String) {
    match ssl(props) {
        Err(Error::Config { property, reason }) => (property, reason),
        other => panic!("expected a config error for {props:?}, got {other:?}"),
    }
}

fn has_client_cert(c: &ProducerConfig) -> bool {
    format!("{:?}", c.tls_connector().unwrap()).contains("client_auth: true")
}

#[test]
fn pem_truststores() {
    let ca = fixture("other-ca.pem");
    ssl(&[("ssl.truststore.location", &ca)]).unwrap();
    for t in ["pem", "JKS"] {
        // JKS, Kafka's default, reads by content
        ssl(&[("ssl.truststore.type", t), ("ssl.truststore.location", &ca)]).unwrap();
    }
    let pem = std::fs::read_to_string(&ca).unwrap();
    ssl(&[("ssl.truststore.certificates", &pem)]).unwrap();
    let c = ProducerConfig::builder()
        .bootstrap_servers("h:1")
        .security_protocol(SecurityProtocol::Ssl)
        .ssl_truststore_certificates(pem.clone())
        .ssl_endpoint_identification(false)
        .build()
        .unwrap();
    assert!(format!("{:?}", c.tls_connector().unwrap()).contains("false"));
    // blank values count as unset (Java's defaults are empty strings)
    ssl(&[
        ("ssl.truststore.location", ""),
        ("ssl.keystore.location", " "),
    ])
    .unwrap();

    let (p, r) = ssl_err(&[
        ("ssl.truststore.location", &ca),
        ("ssl.truststore.certificates", &pem),
    ]);
    assert_eq!(p, "ssl.truststore.certificates");
    assert!(r.contains("not both"), "{r}");
    let (p, r) = ssl_err(&[
        ("ssl.truststore.type", "PKCS12"),
        ("ssl.truststore.location", &ca),
    ]);
    assert_eq!(p, "ssl.truststore.type");
    assert!(r.contains("is a PEM file: set PEM"), "{r}");
    let (p, r) = ssl_err(&[
        ("ssl.truststore.type", "PKCS12"),
        ("ssl.truststore.certificates", &pem),
    ]);
    assert_eq!(p, "ssl.truststore.type");
    assert!(r.contains("set PEM"), "{r}");
    let (p, r) = ssl_err(&[
        ("ssl.truststore.type", "BCFKS"),
        ("ssl.truststore.location", &ca),
    ]);
    assert_eq!(p, "ssl.truststore.type");
    assert!(r.contains("PKCS12 or PEM"), "{r}");
    // Java refuses a store password with PEM
    let (p, r) = ssl_err(&[
        ("ssl.truststore.location", &ca),
        ("ssl.truststore.password", "changeit"),
    ]);
    assert_eq!(p, "ssl.truststore.password");
    assert!(r.contains("PEM"), "{r}");
    let (p, r) = ssl_err(&[("ssl.truststore.location", "/nonexistent/ca.pem")]);
    assert_eq!(p, "ssl.truststore.location");
    assert!(r.contains("cannot read"), "{r}");
    // a text file that is no store at all
    let toml = format!("{}/Cargo.toml", env!("CARGO_MANIFEST_DIR"));
    let (p, r) = ssl_err(&[("ssl.truststore.location", &toml)]);
    assert_eq!(p, "ssl.truststore.location");
    assert!(r.contains("neither a PKCS12 store"), "{r}");
    let broken = pem.replace("MII", "M!I");
    let (p, _) = ssl_err(&[("ssl.truststore.certificates", &broken)]);
    assert_eq!(p, "ssl.truststore.certificates");
}

#[test]
fn pkcs12_truststores() {
    let ts = store("truststore-keytool.p12");
    for t in ["PKCS12", "pkcs12", "JKS", ""] {
        ssl(&[
            ("ssl.truststore.type", t),
            ("ssl.truststore.location", &ts),
            ("ssl.truststore.password", "changeit"),
        ])
        .unwrap();
    }
    let (p, r) = ssl_err(&[("ssl.truststore.location", &ts)]);
    assert_eq!(p, "ssl.truststore.password");
    assert!(r.starts_with("missing"), "{r}");
    let (p, r) = ssl_err(&[
        ("ssl.truststore.location", &ts),
        ("ssl.truststore.password", "wrong"),
    ]);
    assert_eq!(p, "ssl.truststore.password");
    assert!(r.contains("password is wrong"), "{r}");
    let (p, r) = ssl_err(&[
        ("ssl.truststore.type", "PEM"),
        ("ssl.truststore.location", &ts),
    ]);
    assert_eq!(p, "ssl.truststore.type");
    assert!(r.contains("set PKCS12"), "{r}");
    // a key store serves as a trust store too (its certificate), as in Java
    ssl(&[
        ("ssl.truststore.location", &store("client-keytool.p12")),
        ("ssl.truststore.password", "changeit"),
    ])
    .unwrap();
}

#[test]
fn endpoint_identification() {
    ssl(&[("ssl.endpoint.identification.algorithm", "HTTPS")]).unwrap();
    ssl(&[("ssl.endpoint.identification.algorithm", "")]).unwrap();
    let (p, r) = ssl_err(&[("ssl.endpoint.identification.algorithm", "ldaps")]);
    assert_eq!(p, "ssl.endpoint.identification.algorithm");
    assert!(r.contains("https"), "{r}");
}

#[test]
fn pem_keystores() {
    let ks = fixture("client-keystore.pem");
    assert!(has_client_cert(
        &ssl(&[("ssl.keystore.location", &ks)]).unwrap()
    ));
    let text = std::fs::read_to_string(&ks).unwrap();
    let split = text.find("-----BEGIN PRIVATE KEY").unwrap();
    let (chain, key) = text.split_at(split);
    let c = ProducerConfig::builder()
        .bootstrap_servers("h:1")
        .security_protocol(SecurityProtocol::Ssl)
        .ssl_keystore_pem(chain, key)
        .build()
        .unwrap();
    assert!(has_client_cert(&c));
    // the key is a secret
    let body = key.lines().nth(1).unwrap();
    assert!(!format!("{c:?}").contains(body));

    let (p, _) = ssl_err(&[("ssl.keystore.certificate.chain", chain)]);
    assert_eq!(p, "ssl.keystore.key");
    let (p, _) = ssl_err(&[("ssl.keystore.key", key)]);
    assert_eq!(p, "ssl.keystore.certificate.chain");
    let (p, r) = ssl_err(&[
        ("ssl.keystore.certificate.chain", chain),
        ("ssl.keystore.key", chain),
    ]);
    assert_eq!(p, "ssl.keystore.key");
    assert!(r.contains("private key") && !r.contains(body), "{r}");
    // a password for an unencrypted key is not used (a warning), as the key needs none
    ssl(&[("ssl.keystore.location", &ks), ("ssl.key.password", "x")]).unwrap();
    let (p, r) = ssl_err(&[
        ("ssl.keystore.location", &ks),
        ("ssl.keystore.password", "x"),
    ]);
    assert_eq!(p, "ssl.keystore.password");
    assert!(r.contains("PEM"), "{r}");
    let (p, r) = ssl_err(&[
        ("ssl.keystore.type", "PKCS12"),
        ("ssl.keystore.location", &ks),
    ]);
    assert_eq!(p, "ssl.keystore.type");
    assert!(r.contains("set PEM"), "{r}");
    let (p, _) = ssl_err(&[("ssl.keystore.location", &ks), ("ssl.keystore.key", key)]);
    assert_eq!(p, "ssl.keystore.location");
}

/// keytool's (Java 17: PBES2/AES-256, HMAC-SHA256 MAC), keytool's legacy (3DES keys, RC2
/// certificates, SHA-1 MAC, an EC key) and openssl's -legacy stores, as Java users pass them.
#[test]
fn pkcs12_keystores() {
    for name in [
        "client-keytool.p12",
        "client-keytool-legacy.p12",
        "client-openssl-legacy.p12",
    ] {
        let ks = store(name);
        for t in ["PKCS12", "JKS"] {
            let c = ssl(&[
                ("ssl.keystore.type", t),
                ("ssl.keystore.location", &ks),
                ("ssl.keystore.password", "changeit"),
            ])
            .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(has_client_cert(&c), "{name}");
        }
        ssl(&[
            ("ssl.keystore.location", &ks),
            ("ssl.keystore.password", "changeit"),
            ("ssl.key.password", "changeit"),
        ])
        .unwrap();
        let (p, r) = ssl_err(&[
            ("ssl.keystore.location", &ks),
            ("ssl.keystore.password", "wrong"),
        ]);
        assert_eq!(p, "ssl.keystore.password", "{name}");
        assert!(r.contains("password is wrong"), "{r}");
        let (p, r) = ssl_err(&[("ssl.keystore.location", &ks)]);
        assert_eq!(p, "ssl.keystore.password");
        assert!(r.starts_with("missing"), "{r}");
        let (p, r) = ssl_err(&[
            ("ssl.keystore.location", &ks),
            ("ssl.keystore.password", "changeit"),
            ("ssl.key.password", "other"),
        ]);
        assert_eq!(p, "ssl.key.password");
        assert!(r.contains("differs from ssl.keystore.password"), "{r}");
    }
}

#[test]
fn jks_stores_say_how_to_convert() {
    let jks = store("client.jks");
    for t in ["JKS", "PKCS12", "PEM"] {
        let (p, r) = ssl_err(&[
            ("ssl.keystore.type", t),
            ("ssl.keystore.location", &jks),
            ("ssl.keystore.password", "changeit"),
        ]);
        assert_eq!(p, "ssl.keystore.location");
        let want = format!(
            "keytool -importkeystore -srckeystore {jks} -srcstoretype JKS -destkeystore {} \
             -deststoretype PKCS12",
            store("client.p12")
        );
        assert!(r.contains(&want), "{r}");
        assert!(r.contains("ssl.keystore.type=PKCS12"), "{r}");
        let (p, r) = ssl_err(&[
            ("ssl.truststore.type", t),
            ("ssl.truststore.location", &jks),
            ("ssl.truststore.password", "changeit"),
        ]);
        assert_eq!(p, "ssl.truststore.location");
        assert!(r.contains("is a JKS store"), "{r}");
    }
}

#[test]
fn encrypted_pkcs8_keys() {
    let cert = std::fs::read_to_string(store("client-cert.pem")).unwrap();
    for name in ["client-encrypted.key", "client-encrypted-des3.key"] {
        let key = std::fs::read_to_string(store(name)).unwrap();
        // inline
        let c = ssl(&[
            ("ssl.keystore.certificate.chain", &cert),
            ("ssl.keystore.key", &key),
            ("ssl.key.password", "changeit"),
        ])
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(has_client_cert(&c));
        // one PEM file with both, as ssl.keystore.location with type PEM
        let dir = std::env::temp_dir().join(format!("kafka-sync-pem-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join(name);
        std::fs::write(&file, format!("{cert}{key}")).unwrap();
        let file = file.to_str().unwrap();
        let c = ssl(&[
            ("ssl.keystore.type", "PEM"),
            ("ssl.keystore.location", file),
            ("ssl.key.password", "changeit"),
        ])
        .unwrap();
        assert!(has_client_cert(&c));
        let (p, r) = ssl_err(&[
            ("ssl.keystore.location", file),
            ("ssl.key.password", "wrong"),
        ]);
        assert_eq!(p, "ssl.key.password");
        assert!(
            r.contains("does not decrypt the private key in ssl.keystore.location"),
            "{r}"
        );
        let (p, r) = ssl_err(&[("ssl.keystore.location", file)]);
        assert_eq!(p, "ssl.key.password");
        assert!(r.contains("missing") && r.contains("encrypted"), "{r}");
        let (p, r) = ssl_err(&[
            ("ssl.keystore.certificate.chain", &cert),
            ("ssl.keystore.key", &key),
            ("ssl.key.password", "wrong"),
        ]);
        assert_eq!(p, "ssl.key.password");
        assert!(r.contains("ssl.keystore.key"), "{r}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn ssl_properties_ignored_under_plaintext() {
    ProducerConfig::from_properties([
        ("bootstrap.servers", "h:1"),
        ("ssl.truststore.type", "JKS"),
        ("ssl.truststore.location", "/x"),
    ])
    .unwrap();
}

#[test]
fn crypto_provider_of_the_build() {
    let c = ssl(&[]).unwrap();
    let want = if cfg!(feature = "rustls") {
        "provider: \"ring\""
    } else {
        "provider: \"graviola\""
    };
    assert!(format!("{:?}", c.tls_connector().unwrap()).contains(want));
}

#[test]
fn typed_setters() {
    let c = ProducerConfig::builder()
        .bootstrap_servers("h:1")
        .security_protocol(SecurityProtocol::Ssl)
        .ssl_truststore_pkcs12(store("truststore-keytool.p12"), "changeit")
        .ssl_keystore_pkcs12(store("client-keytool.p12"), "changeit")
        .build()
        .unwrap();
    assert!(has_client_cert(&c));
    assert!(!format!("{c:?}").contains("changeit"));
    let c = ProducerConfig::builder()
        .bootstrap_servers("h:1")
        .security_protocol(SecurityProtocol::Ssl)
        .ssl_keystore_location(store("client-encrypted.key"))
        .ssl_key_password("changeit")
        .build();
    // that file holds only the key: the certificate is missing
    match c {
        Err(Error::Config { property, .. }) => assert_eq!(property, "ssl.keystore.location"),
        other => panic!("{other:?}"),
    }
}
