//! The `ssl.*` settings of a TLS security protocol (`SSL`, `SASL_SSL`), read into a
//! [`TlsConnector`]: the trust store (PKCS12 or PEM file, inline PEM, or else the system's
//! trusted CAs), the broker host name check, and the client certificate (PKCS12 or PEM key
//! store, or inline PEM) with its passwords. Every file is read, and every password tried,
//! here: a wrong one fails the configuration, naming the property.

use super::ec_key;
use super::keystore::{self, Read, StoreType};
use super::parse::{invalid, Resolved};
use super::pem;
use crate::error::Error;
use crate::net::tls::{TlsConnector, TlsOptions, TlsSetupError};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

const TRUST_TYPE: &str = "ssl.truststore.type";
const TRUST_LOCATION: &str = "ssl.truststore.location";
const TRUST_PASSWORD: &str = "ssl.truststore.password";
const TRUST_PEM: &str = "ssl.truststore.certificates";
const KEY_TYPE: &str = "ssl.keystore.type";
const KEY_LOCATION: &str = "ssl.keystore.location";
const KEY_STORE_PASSWORD: &str = "ssl.keystore.password";
const KEY_CHAIN: &str = "ssl.keystore.certificate.chain";
const KEY_PEM: &str = "ssl.keystore.key";
const KEY_PASSWORD: &str = "ssl.key.password";
const ENDPOINT: &str = "ssl.endpoint.identification.algorithm";

type ClientAuth = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

/// The contents of the file a `*.location` property names.
fn read_location(property: &str, path: &str) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|e| invalid(property, path, format!("cannot read the file: {e}")))
}

/// Inline PEM values (`ssl.keystore.key`, `ssl.truststore.certificates`) are PEM whatever the
/// default type says; a declared `PKCS12` contradicts them.
fn inline_needs_pem(declared: StoreType, type_property: &str, inline: &str) -> Result<(), Error> {
    if declared == StoreType::Pkcs12 {
        return Err(Error::config(
            type_property,
            format!("is PKCS12 but {inline} is PEM text: set PEM, or use a PKCS12 file"),
        ));
    }
    Ok(())
}

/// Java refuses a store password with a PEM store (only the key can be encrypted).
fn no_pem_password(p: &Resolved, password_property: &str, what: &str) -> Result<(), Error> {
    if p.non_empty(password_property).is_some() {
        return Err(Error::config(
            password_property,
            format!(
                "cannot be set for a PEM {what}, as in Java (PEM files have no store password; \
                 an encrypted key takes ssl.key.password)"
            ),
        ));
    }
    Ok(())
}

/// The trusted certificates and the property they came from; `None`: the system's CAs.
fn trust(p: &Resolved) -> Result<(Option<Vec<CertificateDer<'static>>>, &'static str), Error> {
    let declared = keystore::store_type(p, TRUST_TYPE)?;
    match (p.non_empty(TRUST_LOCATION), p.non_empty(TRUST_PEM)) {
        (Some(_), Some(_)) => Err(Error::config(
            TRUST_PEM,
            format!("set {TRUST_LOCATION} or {TRUST_PEM}, not both"),
        )),
        (Some(path), None) => {
            let bytes = read_location(TRUST_LOCATION, path)?;
            let how = keystore::resolve(
                declared,
                keystore::sniff(&bytes),
                TRUST_TYPE,
                TRUST_LOCATION,
                path,
            )?;
            let certs = match how {
                Read::Pkcs12 => {
                    keystore::pkcs12_trust_store(&bytes, path, p.non_empty(TRUST_PASSWORD))?
                }
                Read::Pem => {
                    no_pem_password(p, TRUST_PASSWORD, "trust store")?;
                    pem::certificates(TRUST_LOCATION, &bytes)?
                }
            };
            Ok((Some(certs), TRUST_LOCATION))
        }
        (None, Some(text)) => {
            inline_needs_pem(declared, TRUST_TYPE, TRUST_PEM)?;
            no_pem_password(p, TRUST_PASSWORD, "trust store")?;
            Ok((
                Some(pem::certificates(TRUST_PEM, text.as_bytes())?),
                TRUST_PEM,
            ))
        }
        (None, None) => Ok((None, TRUST_LOCATION)),
    }
}

/// The client certificate and key, if configured, and the property they came from.
fn client_auth(p: &Resolved) -> Result<(Option<ClientAuth>, &'static str), Error> {
    let declared = keystore::store_type(p, KEY_TYPE)?;
    let key_password = p.non_empty(KEY_PASSWORD);
    match (
        p.non_empty(KEY_LOCATION),
        p.non_empty(KEY_CHAIN),
        p.non_empty(KEY_PEM),
    ) {
        (None, None, None) => Ok((None, KEY_LOCATION)),
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => Err(Error::config(
            KEY_LOCATION,
            format!("set {KEY_LOCATION} or {KEY_CHAIN} with {KEY_PEM}, not both"),
        )),
        (Some(path), None, None) => {
            let bytes = read_location(KEY_LOCATION, path)?;
            let how = keystore::resolve(
                declared,
                keystore::sniff(&bytes),
                KEY_TYPE,
                KEY_LOCATION,
                path,
            )?;
            let auth = match how {
                Read::Pkcs12 => keystore::pkcs12_key_store(
                    &bytes,
                    path,
                    p.non_empty(KEY_STORE_PASSWORD),
                    key_password,
                )?,
                Read::Pem => {
                    no_pem_password(p, KEY_STORE_PASSWORD, "key store")?;
                    (
                        pem::certificates(KEY_LOCATION, &bytes)?,
                        pem::private_key(KEY_LOCATION, &bytes, key_password)?,
                    )
                }
            };
            Ok((Some(auth), KEY_LOCATION))
        }
        (None, Some(chain), Some(key)) => {
            inline_needs_pem(declared, KEY_TYPE, KEY_PEM)?;
            no_pem_password(p, KEY_STORE_PASSWORD, "key store")?;
            let auth = (
                pem::certificates(KEY_CHAIN, chain.as_bytes())?,
                pem::private_key(KEY_PEM, key.as_bytes(), key_password)?,
            );
            Ok((Some(auth), KEY_CHAIN))
        }
        (None, Some(_), None) => Err(Error::config(
            KEY_PEM,
            format!("missing: {KEY_CHAIN} needs it"),
        )),
        (None, None, Some(_)) => Err(Error::config(
            KEY_CHAIN,
            format!("missing: {KEY_PEM} needs it"),
        )),
    }
}

/// The `ssl.*` settings, for a TLS security protocol.
pub(crate) fn parse_tls(p: &Resolved) -> Result<TlsConnector, Error> {
    let (trusted, trust_property) = trust(p)?;
    let verify_hostname = match p.text(ENDPOINT) {
        None => true,
        Some("") => false,
        Some(v) if v.eq_ignore_ascii_case("https") => true,
        Some(v) => {
            return Err(invalid(
                ENDPOINT,
                v,
                "expected https (check the broker's host name, the default) or an empty value \
                 (do not)",
            ))
        }
    };
    let (client_auth, key_property) = client_auth(p)?;
    let client_auth = client_auth.map(|(chain, key)| {
        let key = match chain.first() {
            Some(leaf) => ec_key::complete_ec_key(key, leaf),
            None => key,
        };
        (chain, key)
    });
    TlsConnector::new(TlsOptions {
        trusted,
        verify_hostname,
        client_auth,
    })
    .map_err(|e| match e {
        TlsSetupError::Trust(why) => Error::config(trust_property, why),
        TlsSetupError::ClientAuth(why) => Error::config(key_property, why),
        TlsSetupError::Other(why) => Error::config("security.protocol", why),
    })
}

#[cfg(test)]
#[path = "ssl_tests.rs"]
mod tests;
