//! SASL settings: the mechanism and the credentials from `sasl.jaas.config` (TLS is in
//! `ssl.rs`). Secrets never appear in errors or logs.

use super::oauth::parse_oauth;
use super::parse::{invalid, Resolved};
use super::types::SaslMechanism;
use crate::error::Error;
use crate::net::sasl::token::OAuthConfig;
pub(crate) use crate::net::sasl::SaslSettings;

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
