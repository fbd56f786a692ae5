//! SASL/OAUTHBEARER settings: which login gives the tokens (Java's unsecured login, the OIDC
//! client-credentials login, or a provider given to the producer builder) and the
//! `sasl.login.*` refresh timing. Secrets never appear in errors.

use super::parse::{invalid, Resolved, Value};
use super::security::JaasModule;
use crate::error::Error;
use crate::net::sasl::token::{OAuthConfig, OAuthLogin, RefreshConfig};
use crate::net::sasl::unsecured::UnsecuredLogin;
use std::time::Duration;

const JAAS: &str = "sasl.jaas.config";
const HANDLER: &str = "sasl.login.callback.handler.class";
const PKG: &str = "org.apache.kafka.common.security.oauthbearer.";
/// Java's handler for the OIDC login (client credentials, or a token file).
pub(crate) const OIDC_HANDLER: &str =
    "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler";
const UNSECURED_HANDLER: &str = "org.apache.kafka.common.security.oauthbearer.internals.unsecured.OAuthBearerUnsecuredLoginCallbackHandler";

/// The `sasl.login.refresh.*` and `sasl.login.retry.*` values (ranges checked by the table).
fn refresh(p: &Resolved) -> RefreshConfig {
    let double = |name: &str| match p.get(name) {
        Value::Double(d) => *d,
        Value::Num(n) => *n as f64,
        _ => 0.0,
    };
    let secs = |name: &str| Duration::from_secs(p.num(name).max(0) as u64);
    RefreshConfig {
        window_factor: double("sasl.login.refresh.window.factor"),
        window_jitter: double("sasl.login.refresh.window.jitter"),
        min_period: secs("sasl.login.refresh.min.period.seconds"),
        buffer: secs("sasl.login.refresh.buffer.seconds"),
        retry_backoff: p.ms("sasl.login.retry.backoff.ms"),
        retry_backoff_max: p.ms("sasl.login.retry.backoff.max.ms"),
    }
}

/// OAUTHBEARER's settings from `sasl.jaas.config` (parsed, if set) and the other properties.
pub(crate) fn parse_oauth(p: &Resolved, module: Option<&JaasModule>) -> Result<OAuthConfig, Error> {
    if let Some(m) = module {
        if m.class.rsplit('.').next() != Some("OAuthBearerLoginModule") {
            return Err(Error::config(
                JAAS,
                format!(
                    "login module {} does not go with sasl.mechanism=OAUTHBEARER: use \
                     {PKG}OAuthBearerLoginModule",
                    m.class
                ),
            ));
        }
    }
    let options: &[(String, String)] = module.map_or(&[], |m| &m.options);
    let login = match p.text(HANDLER) {
        None | Some(UNSECURED_HANDLER) if UnsecuredLogin::wanted(options) => {
            OAuthLogin::Unsecured(UnsecuredLogin::new(options).map_err(|e| Error::config(JAAS, e))?)
        }
        None | Some(UNSECURED_HANDLER) => OAuthLogin::Provided,
        Some(OIDC_HANDLER) => oidc(p, options)?,
        Some(other) => {
            return Err(invalid(
                HANDLER,
                other,
                format!(
                    "Java classes cannot be loaded; {OIDC_HANDLER} (the OIDC login) is \
                     supported, and custom logins are Rust: \
                     Producer::builder(config).oauth_token_provider(..)"
                ),
            ))
        }
    };
    Ok(OAuthConfig {
        login,
        refresh: refresh(p),
    })
}

#[cfg(not(feature = "oauth-oidc"))]
fn oidc(_: &Resolved, _: &[(String, String)]) -> Result<OAuthLogin, Error> {
    Err(Error::config(
        HANDLER,
        format!(
            "{OIDC_HANDLER} (the OIDC login) needs the cargo feature \"oauth-oidc\" of \
             kafka-sync, which this build does not have"
        ),
    ))
}

#[cfg(feature = "oauth-oidc")]
fn oidc(p: &Resolved, options: &[(String, String)]) -> Result<OAuthLogin, Error> {
    use crate::net::sasl::oauthbearer::check_extensions;
    use crate::net::sasl::oidc::ClientCredentials;
    const URL: &str = "sasl.oauthbearer.token.endpoint.url";
    const ID: &str = "sasl.oauthbearer.client.credentials.client.id";
    const SECRET: &str = "sasl.oauthbearer.client.credentials.client.secret";
    const SCOPE: &str = "sasl.oauthbearer.scope";
    const RETRIEVER: &str = "sasl.oauthbearer.jwt.retriever.class";
    match p.text(RETRIEVER) {
        None => {}
        Some(c)
            if [
                "DefaultJwtRetriever",
                "ClientCredentialsJwtRetriever",
                "FileJwtRetriever",
            ]
            .iter()
            .any(|r| c == format!("{PKG}{r}")) => {}
        Some(c) => {
            return Err(invalid(
                RETRIEVER,
                c,
                "only Java's DefaultJwtRetriever, ClientCredentialsJwtRetriever and \
                 FileJwtRetriever are supported",
            ))
        }
    }
    let jaas = |name: &str| {
        options
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let text = |name: &str| {
        p.text(name)
            .filter(|t| !t.trim().is_empty())
            .map(str::to_string)
    };
    let endpoint = text(URL).ok_or_else(|| {
        Error::config(
            URL,
            format!("missing: {OIDC_HANDLER} needs the token endpoint's URL (https://...)"),
        )
    })?;
    let scheme = endpoint
        .split(':')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    match scheme.as_str() {
        "http" | "file" => {}
        "https" if cfg!(feature = "rustls") => {}
        "https" => {
            return Err(invalid(
                URL,
                &endpoint,
                "an https token endpoint needs the cargo feature \"rustls\" of kafka-sync too",
            ))
        }
        _ => {
            return Err(invalid(
                URL,
                &endpoint,
                "expected an https://, http:// or file: URL",
            ))
        }
    }
    let file = scheme == "file";
    let client_id = text(ID).or_else(|| jaas("clientId"));
    let client_secret = text(SECRET).or_else(|| jaas("clientSecret"));
    let (client_id, client_secret) = match (client_id, client_secret) {
        (Some(i), Some(s)) if !i.trim().is_empty() && !s.trim().is_empty() => (i, s),
        _ if file => (String::new(), String::new()),
        _ => {
            return Err(Error::config(
                JAAS,
                format!(
                    "the client-credentials login needs a client id and secret: clientId=\"...\" \
                     clientSecret=\"...\" options of OAuthBearerLoginModule (or {ID} and \
                     {SECRET})"
                ),
            ))
        }
    };
    let extensions: Vec<(String, String)> = options
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("extension_")
                .map(|n| (n.to_string(), v.clone()))
        })
        .collect();
    check_extensions(&extensions).map_err(|e| Error::config(JAAS, e))?;
    // Java's default is no timeout at all; the login thread must not hang forever.
    let timeout = |name: &str| match p.get(name) {
        Value::Num(n) if *n > 0 => Duration::from_millis(*n as u64),
        _ => Duration::from_secs(10),
    };
    Ok(OAuthLogin::ClientCredentials(ClientCredentials {
        endpoint,
        client_id,
        client_secret,
        scope: text(SCOPE).or_else(|| jaas("scope")),
        extensions,
        connect_timeout: timeout("sasl.login.connect.timeout.ms"),
        read_timeout: timeout("sasl.login.read.timeout.ms"),
        urlencode_header: p.bool("sasl.oauthbearer.header.urlencode"),
        sub_claim: text("sasl.oauthbearer.sub.claim.name").unwrap_or_else(|| "sub".into()),
        scope_claim: text("sasl.oauthbearer.scope.claim.name").unwrap_or_else(|| "scope".into()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProducerConfig;

    const MODULE: &str = "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule";

    fn cfg(props: &[(&str, &str)]) -> Result<ProducerConfig, Error> {
        let mut all = vec![
            ("bootstrap.servers", "localhost:9092"),
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "OAUTHBEARER"),
        ];
        all.extend_from_slice(props);
        ProducerConfig::from_properties(all)
    }

    /// Properties, the property the error names, a text the reason has.
    type Case<'a> = (Vec<(&'a str, &'a str)>, &'a str, &'a str);

    fn err(props: &[(&str, &str)]) -> (String, String) {
        match cfg(props) {
            Err(Error::Config { property, reason }) => (property, reason),
            other => panic!("expected a config error for {props:?}, got {other:?}"),
        }
    }

    #[test]
    fn unsecured_login_from_jaas_options() {
        let jaas = format!(
            "{MODULE} required unsecuredLoginStringClaim_sub=\"alice\" \
             unsecuredLoginExtension_traceId=\"t1\";"
        );
        let c = cfg(&[
            ("sasl.jaas.config", &jaas),
            ("sasl.login.refresh.window.factor", "0.9"),
            ("sasl.login.refresh.window.jitter", "0"),
            ("sasl.login.refresh.min.period.seconds", "5"),
            ("sasl.login.refresh.buffer.seconds", "7"),
            ("sasl.login.retry.backoff.ms", "20"),
            ("sasl.login.retry.backoff.max.ms", "300"),
        ])
        .unwrap();
        let o = c.oauth_config().unwrap();
        assert!(matches!(o.login, OAuthLogin::Unsecured(_)), "{o:?}");
        assert_eq!(
            o.refresh,
            RefreshConfig {
                window_factor: 0.9,
                window_jitter: 0.0,
                min_period: Duration::from_secs(5),
                buffer: Duration::from_secs(7),
                retry_backoff: Duration::from_millis(20),
                retry_backoff_max: Duration::from_millis(300),
            }
        );
        let token = o.provider().unwrap().token().unwrap();
        assert_eq!(token.principal_name(), "alice");
        assert_eq!(c.sasl_mechanism().map(|m| m.name()), Some("OAUTHBEARER"));
        // the defaults are Java's
        let c = cfg(&[("sasl.jaas.config", &jaas)]).unwrap();
        assert_eq!(c.oauth_config().unwrap().refresh, RefreshConfig::default());
    }

    #[test]
    fn without_options_a_provider_is_expected() {
        for props in [
            vec![],
            vec![("sasl.jaas.config", format!("{MODULE} required;"))],
        ] {
            let props: Vec<(&str, &str)> = props.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let c = cfg(&props).unwrap();
            let o = c.oauth_config().unwrap();
            assert_eq!(o.login, OAuthLogin::Provided);
            assert!(o.provider().is_none());
        }
    }

    #[test]
    fn bad_oauth_settings_name_the_property() {
        let bad_sub = format!("{MODULE} required unsecuredLoginStringClaim_name=\"x\";");
        let only_ext = format!("{MODULE} required unsecuredLoginExtension_a=\"x\";");
        let cases: Vec<Case> = vec![
            (vec![("sasl.jaas.config", &bad_sub)], JAAS, "sub"),
            (
                vec![("sasl.jaas.config", &only_ext)],
                JAAS,
                "without a token",
            ),
            (
                vec![("sasl.login.callback.handler.class", "com.example.MyHandler")],
                HANDLER,
                "oauth_token_provider",
            ),
            (
                vec![("sasl.login.refresh.window.factor", "0.2")],
                "sasl.login.refresh.window.factor",
                "",
            ),
            (
                vec![("sasl.login.refresh.buffer.seconds", "4000")],
                "sasl.login.refresh.buffer.seconds",
                "",
            ),
        ];
        for (props, property, want) in cases {
            let (p, r) = err(&props);
            assert_eq!(p, property, "{props:?}: {r}");
            assert!(r.contains(want), "{props:?}: {r}");
        }
    }

    #[cfg(not(feature = "oauth-oidc"))]
    #[test]
    fn the_oidc_login_needs_its_feature() {
        let (p, r) = err(&[(HANDLER, OIDC_HANDLER)]);
        assert_eq!(p, HANDLER);
        assert!(r.contains("oauth-oidc"), "{r}");
    }

    #[cfg(feature = "oauth-oidc")]
    #[test]
    fn the_oidc_login_from_java_s_properties() {
        const URL: &str = "sasl.oauthbearer.token.endpoint.url";
        let jaas = format!(
            "{MODULE} required clientId=\"app\" clientSecret=\"s3cret\" scope=\"kafka\" \
             extension_logicalCluster=\"lkc-1\";"
        );
        let c = cfg(&[
            (HANDLER, OIDC_HANDLER),
            (URL, "http://127.0.0.1:8080/token"),
            ("sasl.jaas.config", &jaas),
            ("sasl.login.connect.timeout.ms", "1500"),
            ("sasl.oauthbearer.sub.claim.name", "client_id"),
        ])
        .unwrap();
        let OAuthLogin::ClientCredentials(cc) = &c.oauth_config().unwrap().login else {
            panic!("expected the OIDC login");
        };
        assert_eq!(cc.client_id, "app");
        assert_eq!(cc.client_secret, "s3cret");
        assert_eq!(cc.scope.as_deref(), Some("kafka"));
        assert_eq!(
            cc.extensions,
            [("logicalCluster".to_string(), "lkc-1".to_string())]
        );
        assert_eq!(cc.connect_timeout, Duration::from_millis(1500));
        assert_eq!(cc.read_timeout, Duration::from_secs(10));
        assert_eq!(cc.sub_claim, "client_id");
        assert!(!format!("{c:?}").contains("s3cret"));
        // the 4.x properties win over the JAAS options
        let c = cfg(&[
            (HANDLER, OIDC_HANDLER),
            (URL, "http://127.0.0.1:8080/token"),
            ("sasl.jaas.config", &jaas),
            ("sasl.oauthbearer.client.credentials.client.id", "other"),
        ])
        .unwrap();
        let OAuthLogin::ClientCredentials(cc) = &c.oauth_config().unwrap().login else {
            panic!("expected the OIDC login");
        };
        assert_eq!(cc.client_id, "other");

        let no_secret = format!("{MODULE} required clientId=\"app\";");
        let bad_ext =
            format!("{MODULE} required clientId=\"a\" clientSecret=\"b\" extension_auth=\"x\";");
        let cases: Vec<Case> = vec![
            (
                vec![(HANDLER, OIDC_HANDLER), ("sasl.jaas.config", &jaas)],
                URL,
                "missing",
            ),
            (
                vec![
                    (HANDLER, OIDC_HANDLER),
                    (URL, "ftp://x"),
                    ("sasl.jaas.config", &jaas),
                ],
                URL,
                "https://",
            ),
            (
                vec![
                    (HANDLER, OIDC_HANDLER),
                    (URL, "http://x/t"),
                    ("sasl.jaas.config", &no_secret),
                ],
                JAAS,
                "clientSecret",
            ),
            (
                vec![
                    (HANDLER, OIDC_HANDLER),
                    (URL, "http://x/t"),
                    ("sasl.jaas.config", &bad_ext),
                ],
                JAAS,
                "reserved",
            ),
            (
                vec![
                    (HANDLER, OIDC_HANDLER),
                    (URL, "http://x/t"),
                    ("sasl.jaas.config", &jaas),
                    (
                        "sasl.oauthbearer.jwt.retriever.class",
                        "org.apache.kafka.common.security.oauthbearer.JwtBearerJwtRetriever",
                    ),
                ],
                "sasl.oauthbearer.jwt.retriever.class",
                "ClientCredentialsJwtRetriever",
            ),
        ];
        for (props, property, want) in cases {
            let (p, r) = err(&props);
            assert_eq!(p, property, "{props:?}: {r}");
            assert!(r.contains(want), "{props:?}: {r}");
            assert!(!r.contains("s3cret"), "{r}");
        }
        if !cfg!(feature = "rustls") {
            let (p, r) = err(&[
                (HANDLER, OIDC_HANDLER),
                (URL, "https://idp/t"),
                ("sasl.jaas.config", &jaas),
            ]);
            assert_eq!(p, URL);
            assert!(r.contains("rustls"), "{r}");
        }
    }
}
