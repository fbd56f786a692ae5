//! Security settings: SASL credentials from `sasl.jaas.config`, and TLS from PEM trust and
//! key stores. Secrets never appear in errors or logs.

use super::oauth::parse_oauth;
use super::parse::{invalid, Resolved};
use super::types::SaslMechanism;
use crate::error::Error;
use crate::net::sasl::token::OAuthConfig;
pub(crate) use crate::net::sasl::SaslSettings;
#[cfg(feature = "rustls")]
use crate::net::tls::TlsConnector;

/// Quotes a value for a JAAS option: backslash and double quote are escaped.
pub(crate) fn jaas_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// One login module of a `sasl.jaas.config` value.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct JaasModule {
    pub class: String,
    pub flag: String,
    pub options: Vec<(String, String)>,
}

#[derive(Debug, PartialEq, Eq)]
enum JaasToken {
    Word(String),
    Quoted(String),
    Equals,
    Semicolon,
}

/// Splits a JAAS configuration into words, quoted strings (backslash escapes as in Java's
/// `StreamTokenizer`: `\n`, `\t`, `\r`, and any other character taken as it is), `=` and `;`.
/// `//` and `/* */` comments are skipped, as Java does.
fn jaas_tokens(text: &str) -> Result<Vec<JaasToken>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '=' => out.push(JaasToken::Equals),
            ';' => out.push(JaasToken::Semicolon),
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' || c == '\r' {
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut prev = ' ';
                let mut closed = false;
                for c in chars.by_ref() {
                    if prev == '*' && c == '/' {
                        closed = true;
                        break;
                    }
                    prev = c;
                }
                if !closed {
                    return Err("unterminated /* comment".into());
                }
            }
            '"' | '\'' => {
                let quote = c;
                let mut s = String::new();
                let mut closed = false;
                while let Some(c) = chars.next() {
                    match c {
                        c if c == quote => {
                            closed = true;
                            break;
                        }
                        '\\' => match chars.next() {
                            Some('n') => s.push('\n'),
                            Some('t') => s.push('\t'),
                            Some('r') => s.push('\r'),
                            Some(other) => s.push(other),
                            None => break,
                        },
                        c => s.push(c),
                    }
                }
                if !closed {
                    return Err("unterminated quoted string".into());
                }
                out.push(JaasToken::Quoted(s));
            }
            c => {
                let mut s = String::from(c);
                while let Some(&n) = chars.peek() {
                    if n.is_whitespace() || matches!(n, '=' | ';' | '"' | '\'') {
                        break;
                    }
                    s.push(n);
                    chars.next();
                }
                out.push(JaasToken::Word(s));
            }
        }
    }
    Ok(out)
}

/// Parses a `sasl.jaas.config` value: exactly one `LoginModuleClass flag key=value ... ;`, as
/// Kafka clients require. The trailing `;` may be left out.
pub(crate) fn parse_jaas(text: &str) -> Result<JaasModule, String> {
    let mut tokens = jaas_tokens(text)?.into_iter().peekable();
    let class = match tokens.next() {
        Some(JaasToken::Word(w)) => w,
        None => return Err("it is empty (expected a login module, e.g. \
            org.apache.kafka.common.security.plain.PlainLoginModule required username=\"...\" password=\"...\";)".into()),
        Some(t) => return Err(format!("expected a login module class name, found {t:?}")),
    };
    let flag = match tokens.next() {
        Some(JaasToken::Word(w))
            if ["required", "requisite", "sufficient", "optional"]
                .iter()
                .any(|f| f.eq_ignore_ascii_case(&w)) =>
        {
            w
        }
        other => {
            return Err(format!(
                "expected a control flag (required, requisite, sufficient or optional) after \
                 {class}, found {}",
                other.map_or("the end".to_string(), |t| format!("{t:?}"))
            ))
        }
    };
    let mut options = Vec::new();
    loop {
        match tokens.next() {
            None => break,
            Some(JaasToken::Semicolon) => {
                if tokens.peek().is_some() {
                    return Err(
                        "more than one login module (Kafka clients take exactly one)".into(),
                    );
                }
                break;
            }
            Some(JaasToken::Word(key)) => {
                if tokens.next() != Some(JaasToken::Equals) {
                    return Err(format!("expected '=' after option {key}"));
                }
                let value = match tokens.next() {
                    Some(JaasToken::Word(v)) | Some(JaasToken::Quoted(v)) => v,
                    _ => return Err(format!("expected a value for option {key}")),
                };
                options.push((key, value));
            }
            Some(t) => return Err(format!("expected an option name=value or ';', found {t:?}")),
        }
    }
    Ok(JaasModule {
        class,
        flag,
        options,
    })
}

/// `sasl.mechanism` and the credentials in `sasl.jaas.config`, for a SASL security protocol;
/// for OAUTHBEARER also where its tokens come from.
pub(crate) fn parse_sasl(p: &Resolved) -> Result<(SaslSettings, Option<OAuthConfig>), Error> {
    const MECH: &str = "sasl.mechanism";
    const JAAS: &str = "sasl.jaas.config";
    let mechanism =
        match p.text(MECH) {
            None => SaslMechanism::Plain,
            Some(v) => match SaslMechanism::from_name(v) {
                Some(m) if m.is_available() => m,
                Some(m) => {
                    return Err(Error::config(
                        MECH,
                        format!(
                            "{} needs the cargo feature \"sasl-scram\" of kafka-sync, which this \
                         build does not have",
                            m.name()
                        ),
                    ))
                }
                None => return Err(invalid(
                    MECH,
                    v,
                    "not supported; this client implements PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 \
                     and OAUTHBEARER",
                )),
            },
        };
    if mechanism == SaslMechanism::OAuthBearer {
        let module = match p.text(JAAS) {
            Some(text) => Some(parse_jaas(text).map_err(|why| Error::config(JAAS, why))?),
            None => None,
        };
        let oauth = parse_oauth(p, module.as_ref())?;
        let settings = SaslSettings {
            mechanism,
            username: String::new(),
            password: String::new(),
            oauth: None,
        };
        return Ok((settings, Some(oauth)));
    }
    // The value is a secret: errors describe it without quoting it.
    let Some(text) = p.text(JAAS) else {
        return Err(Error::config(
            JAAS,
            format!(
                "missing: {} needs credentials, e.g. {} required username=\"...\" \
                 password=\"...\";",
                mechanism.name(),
                match mechanism {
                    SaslMechanism::Plain =>
                        "org.apache.kafka.common.security.plain.PlainLoginModule",
                    _ => "org.apache.kafka.common.security.scram.ScramLoginModule",
                }
            ),
        ));
    };
    let module = parse_jaas(text).map_err(|why| Error::config(JAAS, why))?;
    let short = module.class.rsplit('.').next().unwrap_or_default();
    if short != "PlainLoginModule" && short != "ScramLoginModule" {
        return Err(Error::config(
            JAAS,
            format!(
                "login module {} is not supported (PlainLoginModule or ScramLoginModule with \
                 username and password are)",
                module.class
            ),
        ));
    }
    log::debug!("sasl.jaas.config: {} {}", module.class, module.flag);
    let mut username = None;
    let mut password = None;
    for (k, v) in module.options {
        match k.as_str() {
            "username" => username = Some(v),
            "password" => password = Some(v),
            "tokenauth" if v.eq_ignore_ascii_case("true") => {
                return Err(Error::config(
                    JAAS,
                    "tokenauth=true (delegation tokens) is not supported yet",
                ))
            }
            other => log::debug!("sasl.jaas.config option {other} is not used by this client"),
        }
    }
    let (Some(username), Some(password)) = (username, password) else {
        return Err(Error::config(
            JAAS,
            "needs both username=\"...\" and password=\"...\" options",
        ));
    };
    if username.is_empty() {
        return Err(Error::config(JAAS, "the username is empty"));
    }
    let settings = SaslSettings {
        mechanism,
        username,
        password,
        oauth: None,
    };
    Ok((settings, None))
}

/// A `ssl.*.type` must be PEM (or unset): Java's JKS and PKCS12 stores cannot be read here.
#[cfg(feature = "rustls")]
fn require_pem(p: &Resolved, property: &str) -> Result<(), Error> {
    match p.text(property) {
        None => Ok(()),
        Some(v) if v.eq_ignore_ascii_case("PEM") => Ok(()),
        Some(v) => Err(invalid(
            property,
            v,
            "only PEM is supported: use PEM (JKS and PKCS12 stores can be converted, e.g. \
             keytool -exportcert -rfc, or openssl pkcs12 -nodes)",
        )),
    }
}

/// The contents of the file a `*.location` property names.
#[cfg(feature = "rustls")]
fn read_location(property: &str, path: &str) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|e| invalid(property, path, format!("cannot read the file: {e}")))
}

/// Every certificate in PEM text; none is an error.
#[cfg(feature = "rustls")]
fn pem_certificates(
    property: &str,
    pem: &[u8],
) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, Error> {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::config(property, format!("bad PEM: {e}")))?;
    if certs.is_empty() {
        return Err(Error::config(
            property,
            "no PEM certificate found (expected -----BEGIN CERTIFICATE-----; JKS and PKCS12 \
             stores are not supported, use PEM)",
        ));
    }
    Ok(certs)
}

/// The private key in PEM text (the value is a secret: errors do not quote it).
#[cfg(feature = "rustls")]
fn pem_private_key(
    property: &str,
    pem: &[u8],
) -> Result<rustls::pki_types::PrivateKeyDer<'static>, Error> {
    use rustls::pki_types::{pem::PemObject, PrivateKeyDer};
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| {
        Error::config(
            property,
            format!(
                "no usable private key ({e}); expected an unencrypted PKCS#8 (BEGIN PRIVATE \
                 KEY), PKCS#1 (BEGIN RSA PRIVATE KEY) or SEC1 (BEGIN EC PRIVATE KEY) key"
            ),
        )
    })
}

/// The `ssl.*` settings, for a TLS security protocol.
#[cfg(feature = "rustls")]
pub(crate) fn parse_tls(p: &Resolved) -> Result<TlsConnector, Error> {
    use crate::net::tls::{TlsOptions, TlsSetupError};
    const TRUST_LOCATION: &str = "ssl.truststore.location";
    const TRUST_PEM: &str = "ssl.truststore.certificates";
    const KEY_LOCATION: &str = "ssl.keystore.location";
    const KEY_CHAIN: &str = "ssl.keystore.certificate.chain";
    const KEY_PEM: &str = "ssl.keystore.key";
    const ENDPOINT: &str = "ssl.endpoint.identification.algorithm";

    require_pem(p, "ssl.truststore.type")?;
    let (trusted, trust_property) = match (p.non_empty(TRUST_LOCATION), p.non_empty(TRUST_PEM)) {
        (Some(_), Some(_)) => {
            return Err(Error::config(
                TRUST_PEM,
                format!("set {TRUST_LOCATION} or {TRUST_PEM}, not both"),
            ))
        }
        (Some(path), None) => (
            Some(pem_certificates(
                TRUST_LOCATION,
                &read_location(TRUST_LOCATION, path)?,
            )?),
            TRUST_LOCATION,
        ),
        (None, Some(pem)) => (
            Some(pem_certificates(TRUST_PEM, pem.as_bytes())?),
            TRUST_PEM,
        ),
        (None, None) => (None, TRUST_LOCATION),
    };

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

    require_pem(p, "ssl.keystore.type")?;
    let location = p.non_empty(KEY_LOCATION);
    let chain = p.non_empty(KEY_CHAIN);
    let key = p.non_empty(KEY_PEM);
    let client_auth = match (location, chain, key) {
        (None, None, None) => None,
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            return Err(Error::config(
                KEY_LOCATION,
                format!("set {KEY_LOCATION} or {KEY_CHAIN} with {KEY_PEM}, not both"),
            ))
        }
        (Some(path), None, None) => {
            let pem = read_location(KEY_LOCATION, path)?;
            Some((
                pem_certificates(KEY_LOCATION, &pem)?,
                pem_private_key(KEY_LOCATION, &pem)?,
            ))
        }
        (None, Some(c), Some(k)) => Some((
            pem_certificates(KEY_CHAIN, c.as_bytes())?,
            pem_private_key(KEY_PEM, k.as_bytes())?,
        )),
        (None, Some(_), None) => {
            return Err(Error::config(
                KEY_PEM,
                format!("missing: {KEY_CHAIN} needs it"),
            ))
        }
        (None, None, Some(_)) => {
            return Err(Error::config(
                KEY_CHAIN,
                format!("missing: {KEY_PEM} needs it"),
            ))
        }
    };
    if client_auth.is_some() && p.non_empty("ssl.key.password").is_some() {
        return Err(Error::config(
            "ssl.key.password",
            "encrypted private keys are not supported: give the key unencrypted (PKCS#8, \
             PKCS#1 or SEC1 PEM) and leave ssl.key.password unset",
        ));
    }
    let key_property = if location.is_some() {
        KEY_LOCATION
    } else {
        KEY_CHAIN
    };
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
