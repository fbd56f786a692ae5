//! Java's key and trust stores for TLS: which format a `ssl.*.location` file is in, and
//! reading PKCS12 stores (with `p12-keystore`, pure Rust). JKS stores are refused with the
//! `keytool` command that converts them.
//!
//! `ssl.keystore.type` and `ssl.truststore.type` default to `JKS` in Kafka's Java client, and
//! since Java 9 a `JKS` key store reads PKCS12 files too (`keystore.type.compat`): the file's
//! content decides. So does it here: with the default (or `JKS`), a PKCS12 file is read as
//! PKCS12, a PEM file as PEM (Java would need `PEM` said), and a JKS file is refused with the
//! conversion command. `PKCS12` and `PEM` ask for that format; a file in another one is an
//! error naming both.
//!
//! Store files are not trusted input: the parser bounds every length and key-derivation
//! iteration count by the bytes it has, and a bad file is an error, never a panic.

use super::parse::{invalid, Resolved};
use crate::error::Error;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A certificate chain, leaf first.
pub(crate) type Chain = Vec<CertificateDer<'static>>;

/// The `ssl.*.type` values this client reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StoreType {
    /// `JKS`, Kafka's default: read by content (PKCS12 or PEM; JKS itself is refused).
    Jks,
    /// `PKCS12`.
    Pkcs12,
    /// `PEM`.
    Pem,
}

/// A store file's format, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileFormat {
    Pkcs12,
    Jks,
    /// Java's JCEKS (`keytool -storetype JCEKS`).
    Jceks,
    Pem,
    Unknown,
}

/// The format to read a store in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Read {
    Pkcs12,
    Pem,
}

/// `property` (`ssl.keystore.type` or `ssl.truststore.type`), case-insensitive as in Java.
pub(crate) fn store_type(p: &Resolved, property: &str) -> Result<StoreType, Error> {
    match p.non_empty(property) {
        None => Ok(StoreType::Jks),
        Some(v) if v.eq_ignore_ascii_case("JKS") => Ok(StoreType::Jks),
        Some(v) if v.eq_ignore_ascii_case("PKCS12") => Ok(StoreType::Pkcs12),
        Some(v) if v.eq_ignore_ascii_case("PEM") => Ok(StoreType::Pem),
        Some(v) => Err(invalid(
            property,
            v,
            "not supported: use PKCS12 or PEM (JKS stores are converted with keytool \
             -importkeystore ... -deststoretype PKCS12)",
        )),
    }
}

/// What `bytes` are: JKS and JCEKS by their magic numbers, PKCS12 by its outer DER
/// `SEQUENCE`, PEM by a `-----BEGIN ` line.
pub(crate) fn sniff(bytes: &[u8]) -> FileFormat {
    match bytes {
        [0xFE, 0xED, 0xFE, 0xED, ..] => FileFormat::Jks,
        [0xCE, 0xCE, 0xCE, 0xCE, ..] => FileFormat::Jceks,
        [0x30, ..] => FileFormat::Pkcs12,
        _ if bytes.windows(11).any(|w| w == b"-----BEGIN ") => FileFormat::Pem,
        _ => FileFormat::Unknown,
    }
}

/// The command that converts the JKS (or JCEKS) store at `path` to PKCS12.
fn keytool_conversion(path: &str, source_type: &str) -> String {
    let dest = match path.rsplit_once('.') {
        Some((stem, ext)) if !ext.contains('/') => format!("{stem}.p12"),
        _ => format!("{path}.p12"),
    };
    format!(
        "keytool -importkeystore -srckeystore {path} -srcstoretype {source_type} -destkeystore \
         {dest} -deststoretype PKCS12"
    )
}

/// How to read the file `location_property` names, given its declared type (named
/// `type_property`) and what the bytes look like; or why it cannot be read.
pub(crate) fn resolve(
    declared: StoreType,
    found: FileFormat,
    type_property: &str,
    location_property: &str,
    path: &str,
) -> Result<Read, Error> {
    let jks = |kind: &str| {
        Error::config(
            location_property,
            format!(
                "{path} is a {kind} store, which this client does not read; convert it to \
                 PKCS12 once with: {} and set \
                 {type_property}=PKCS12 with {location_property} naming the new file (the \
                 passwords stay the same)",
                keytool_conversion(path, kind)
            ),
        )
    };
    match (declared, found) {
        (_, FileFormat::Jks) => Err(jks("JKS")),
        (_, FileFormat::Jceks) => Err(jks("JCEKS")),
        (StoreType::Jks | StoreType::Pkcs12, FileFormat::Pkcs12) => Ok(Read::Pkcs12),
        (StoreType::Jks | StoreType::Pem, FileFormat::Pem) => Ok(Read::Pem),
        (StoreType::Pkcs12, FileFormat::Pem) => Err(Error::config(
            type_property,
            format!("is PKCS12 but {path} ({location_property}) is a PEM file: set PEM"),
        )),
        (StoreType::Pem, FileFormat::Pkcs12) => Err(Error::config(
            type_property,
            format!(
                "is PEM but {path} ({location_property}) is binary (DER), as a PKCS12 store \
                 is: set PKCS12"
            ),
        )),
        (_, FileFormat::Unknown) => Err(Error::config(
            location_property,
            format!("{path} is neither a PKCS12 store, a JKS store nor a PEM file"),
        )),
    }
}

/// Why a PKCS12 store could not be opened, by the property at fault.
fn pkcs12_error(
    e: p12_keystore::error::Error,
    location_property: &str,
    password_property: &str,
    path: &str,
) -> Error {
    use p12_keystore::error::Error as E;
    match e {
        E::MacError(_) => Error::config(
            password_property,
            format!(
                "does not open the PKCS12 store {path} ({location_property}): its integrity \
                 check fails, so the password is wrong (or the file was altered)"
            ),
        ),
        E::UnpadError | E::Pkcs5Error(_) => Error::config(
            password_property,
            format!(
                "does not decrypt the PKCS12 store {path} ({location_property}): the password \
                 is wrong"
            ),
        ),
        E::UnsupportedEncryptionScheme | E::UnsupportedMacAlgorithm => Error::config(
            location_property,
            format!(
                "{path}: {e} (PBES2 with AES, 3DES and RC2 are read; MD5-based schemes and \
                 unprotected stores are not)"
            ),
        ),
        other => Error::config(
            location_property,
            format!("{path} is not a readable PKCS12 store: {other}"),
        ),
    }
}

/// The one private key of a PKCS12 key store and its certificate chain. The store opens with
/// `store_password`; keytool and openssl protect the key with the same password, so
/// `ssl.key.password`, when set, must equal it (as keytool requires for PKCS12).
pub(crate) fn pkcs12_key_store(
    bytes: &[u8],
    path: &str,
    store_password: Option<&str>,
    key_password: Option<&str>,
) -> Result<(Chain, PrivateKeyDer<'static>), Error> {
    use p12_keystore::{KeyStore, KeyStoreEntry, Pkcs12ImportPolicy};
    const LOCATION: &str = "ssl.keystore.location";
    const PASSWORD: &str = "ssl.keystore.password";
    let Some(password) = store_password else {
        return Err(Error::config(
            PASSWORD,
            format!("missing: the PKCS12 key store {path} ({LOCATION}) needs its password"),
        ));
    };
    if let Some(key_password) = key_password {
        if key_password != password {
            return Err(Error::config(
                "ssl.key.password",
                format!(
                    "differs from {PASSWORD}: the key in the PKCS12 store {path} is protected \
                     by the store's password (keytool and openssl make them equal); leave \
                     ssl.key.password unset or set it to the same value"
                ),
            ));
        }
    }
    let store = KeyStore::from_pkcs12(bytes, password, Pkcs12ImportPolicy::Strict)
        .map_err(|e| pkcs12_error(e, LOCATION, PASSWORD, path))?;
    let mut chains = store.entries().filter_map(|(alias, e)| match e {
        KeyStoreEntry::PrivateKeyChain(c) if !c.certs().is_empty() => Some((alias, c)),
        _ => None,
    });
    let Some((alias, chain)) = chains.next() else {
        return Err(Error::config(
            LOCATION,
            format!("the PKCS12 store {path} holds no private key with its certificate"),
        ));
    };
    let others: Vec<&String> = chains.map(|(a, _)| a).collect();
    if !others.is_empty() {
        log::warn!(
            "{LOCATION} {path} holds more than one private key: using alias {alias:?}, not \
             {others:?}"
        );
    }
    let certs = chain
        .certs()
        .iter()
        .map(|c| CertificateDer::from(c.as_der().to_vec()))
        .collect();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(chain.key().as_der().to_vec()));
    Ok((certs, key))
}

/// Every certificate of a PKCS12 trust store (trusted certificate entries, and the
/// certificates of key entries, as Java's trust manager takes them).
pub(crate) fn pkcs12_trust_store(
    bytes: &[u8],
    path: &str,
    password: Option<&str>,
) -> Result<Chain, Error> {
    const LOCATION: &str = "ssl.truststore.location";
    const PASSWORD: &str = "ssl.truststore.password";
    let archive = p12_keystore::Pkcs12Archive::from_pkcs12(bytes, password.unwrap_or("")).map_err(
        |e| match (password, e) {
            (None, p12_keystore::error::Error::MacError(_)) => Error::config(
                PASSWORD,
                format!("missing: the PKCS12 trust store {path} ({LOCATION}) needs its password"),
            ),
            (_, e) => pkcs12_error(e, LOCATION, PASSWORD, path),
        },
    )?;
    let certs: Chain = archive
        .certs
        .iter()
        .map(|c| CertificateDer::from(c.cert.as_der().to_vec()))
        .collect();
    if certs.is_empty() {
        return Err(Error::config(
            LOCATION,
            format!("the PKCS12 trust store {path} holds no certificate"),
        ));
    }
    Ok(certs)
}

#[cfg(test)]
#[path = "keystore_tests.rs"]
mod tests;
