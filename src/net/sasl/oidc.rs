//! The OIDC client-credentials login (Java's `OAuthBearerLoginCallbackHandler` with its
//! `ClientCredentialsJwtRetriever`, once `HttpAccessTokenRetriever`): a POST of
//! `grant_type=client_credentials` (and `scope`) to `sasl.oauthbearer.token.endpoint.url`,
//! authenticated with HTTP Basic (client id and secret), whose JSON answer's `access_token` is
//! a JWT; its expiry is its `exp` claim and its principal the `sasl.oauthbearer.sub.claim.name`
//! claim, read without checking the signature (the broker checks it), as Java's client-side
//! validator does. A `file:` URL names a file holding the token instead (Java's
//! `FileTokenRetriever`).
//!
//! The call runs on the producer's login thread ([`super::token`]), bounded by
//! `sasl.login.connect.timeout.ms` and `sasl.login.read.timeout.ms`; a failed call is retried by
//! the login thread with `sasl.login.retry.backoff.ms` / `.max.ms`. The request and answer
//! handling are pure (`request`, `token_from_response`); `ureq` does the I/O.

use super::base64;
use super::json::Json;
use super::jwt;
use super::oauthbearer::{
    from_epoch_ms, OAuthBearerToken, OAuthBearerTokenProvider, TokenProviderError,
};
use std::time::Duration;

/// The largest token endpoint answer read.
const MAX_BODY: u64 = 1 << 20;

/// The client-credentials login's settings (checked when the configuration is built).
#[derive(Clone, PartialEq)]
pub(crate) struct ClientCredentials {
    pub endpoint: String,
    pub client_id: String,
    pub client_secret: String,
    pub scope: Option<String>,
    pub extensions: Vec<(String, String)>,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    /// `sasl.oauthbearer.header.urlencode`.
    pub urlencode_header: bool,
    pub sub_claim: String,
    pub scope_claim: String,
}

impl std::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("endpoint", &self.endpoint)
            .field("client_id", &self.client_id)
            .field("client_secret", &"[hidden]")
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// `application/x-www-form-urlencoded` as Java's `URLEncoder` writes it.
pub(crate) fn form_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'*' | b'_' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

impl ClientCredentials {
    /// The `Authorization` header value.
    pub fn authorization(&self) -> String {
        let (id, secret) = (self.client_id.trim(), self.client_secret.trim());
        let pair = if self.urlencode_header {
            format!("{}:{}", form_encode(id), form_encode(secret))
        } else {
            format!("{id}:{secret}")
        };
        format!("Basic {}", base64::encode(pair.as_bytes()))
    }

    /// The request body.
    pub fn request_body(&self) -> String {
        let mut body = String::from("grant_type=client_credentials");
        if let Some(scope) = self
            .scope
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            body.push_str("&scope=");
            body.push_str(&form_encode(scope));
        }
        body
    }

    /// The token in an answer of the token endpoint.
    pub fn token_from_response(&self, status: u16, body: &str) -> Result<OAuthBearerToken, String> {
        let url = &self.endpoint;
        if status != 200 && status != 201 {
            return Err(format!(
                "the token endpoint {url} answered HTTP {status} {}",
                error_summary(body)
            ));
        }
        let json = Json::parse(body).map_err(|e| {
            format!("the token endpoint {url} answered with something other than JSON: {e}")
        })?;
        let Some(token) = json.get("access_token").and_then(Json::as_str) else {
            return Err(format!(
                "the token endpoint {url} answered without an access_token (answer: {})",
                snippet(body)
            ));
        };
        self.token_from_jwt(token.trim())
    }

    /// A token from its JWT, as Java's client-side validator reads it.
    pub fn token_from_jwt(&self, token: &str) -> Result<OAuthBearerToken, String> {
        let claims = jwt::claims(token, &self.sub_claim, &self.scope_claim)
            .map_err(|e| format!("the access token from {} is unusable: {e}", self.endpoint))?;
        let mut t =
            OAuthBearerToken::new(token, from_epoch_ms(claims.expires_at_ms), claims.subject)
                .with_scope(claims.scope);
        if let Some(iat) = claims.issued_at_ms {
            t = t.with_start_time(from_epoch_ms(iat));
        }
        for (k, v) in &self.extensions {
            t = t.with_extension(k.clone(), v.clone());
        }
        Ok(t)
    }

    fn fetch(&self) -> Result<OAuthBearerToken, String> {
        if let Some(path) = self.endpoint.strip_prefix("file:") {
            // file:/path and file:///path alike
            let path = path.strip_prefix("//").unwrap_or(path);
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read the token file {path}: {e}"))?;
            return self.token_from_jwt(text.trim());
        }
        let config = ureq::Agent::config_builder()
            .timeout_connect(Some(self.connect_timeout))
            .timeout_recv_response(Some(self.read_timeout))
            .timeout_recv_body(Some(self.read_timeout))
            .http_status_as_error(false)
            .max_redirects(0);
        // ureq brings ring with "rustls"; with "rustls-graviola" alone it is given graviola
        // (checked against the CPU first, as for broker connections).
        #[cfg(all(feature = "rustls-graviola", not(feature = "rustls")))]
        let config = {
            let provider = crate::net::tls::crypto_provider()?;
            config.tls_config(
                ureq::tls::TlsConfig::builder()
                    .unversioned_rustls_crypto_provider(std::sync::Arc::new(provider))
                    .build(),
            )
        };
        let agent: ureq::Agent = config.build().into();
        let mut resp = agent
            .post(&self.endpoint)
            .header("Authorization", self.authorization())
            .header("Accept", "application/json")
            .header("Cache-Control", "no-cache")
            .content_type("application/x-www-form-urlencoded")
            .send(self.request_body())
            .map_err(|e| format!("the token endpoint {} failed: {e}", self.endpoint))?;
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_string()
            .map_err(|e| format!("reading the answer of {} failed: {e}", self.endpoint))?;
        self.token_from_response(status, &body)
    }
}

impl OAuthBearerTokenProvider for ClientCredentials {
    fn token(&self) -> Result<OAuthBearerToken, TokenProviderError> {
        Ok(self.fetch()?)
    }
}

/// At most 200 characters of a body, for an error.
fn snippet(body: &str) -> String {
    let s: String = body.chars().take(200).collect();
    if s.len() < body.len() {
        format!("{s}... ({} bytes)", body.len())
    } else {
        s
    }
}

/// RFC 6749 section 5.2's `error` and `error_description` (or Okta's `errorCode` and
/// `errorSummary`), else the body's start.
fn error_summary(body: &str) -> String {
    if body.trim().is_empty() {
        return "{}".into();
    }
    let text = |j: &Json, k: &str| match j.get(k) {
        Some(Json::String(s)) => s.clone(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    };
    match Json::parse(body) {
        Ok(j) if j.get("error").is_some() => {
            format!(
                "{{{} - {}}}",
                text(&j, "error"),
                text(&j, "error_description")
            )
        }
        Ok(j) if j.get("errorCode").is_some() => {
            format!(
                "{{{} - {}}}",
                text(&j, "errorCode"),
                text(&j, "errorSummary")
            )
        }
        _ => format!("{{{}}}", snippet(body)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::sasl::oauthbearer::epoch_ms;

    fn cc() -> ClientCredentials {
        ClientCredentials {
            endpoint: "http://127.0.0.1:1/token".into(),
            client_id: "my client".into(),
            client_secret: "s3cr:t".into(),
            scope: Some(" kafka write ".into()),
            extensions: vec![("logicalCluster".into(), "lkc-1".into())],
            connect_timeout: Duration::from_secs(1),
            read_timeout: Duration::from_secs(1),
            urlencode_header: false,
            sub_claim: "sub".into(),
            scope_claim: "scope".into(),
        }
    }

    fn jwt_with(payload: &str) -> String {
        format!(
            "{}.{}.c2ln",
            base64::encode_url(br#"{"alg":"RS256","kid":"k"}"#),
            base64::encode_url(payload.as_bytes())
        )
    }

    #[test]
    fn request_as_java_writes_it() {
        let c = cc();
        assert_eq!(
            c.request_body(),
            "grant_type=client_credentials&scope=kafka+write"
        );
        assert_eq!(
            c.authorization(),
            format!("Basic {}", base64::encode(b"my client:s3cr:t"))
        );
        assert_eq!(
            base64::encode(b"my client:s3cr:t"),
            "bXkgY2xpZW50OnMzY3I6dA=="
        );
        let enc = ClientCredentials {
            urlencode_header: true,
            scope: None,
            ..cc()
        };
        assert_eq!(
            enc.authorization(),
            format!("Basic {}", base64::encode(b"my+client:s3cr%3At"))
        );
        assert_eq!(enc.request_body(), "grant_type=client_credentials");
        assert_eq!(form_encode("a b/c~é"), "a+b%2Fc%7E%C3%A9");
        for (raw, b64) in [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v")] {
            assert_eq!(base64::encode(raw.as_bytes()), b64);
        }
    }

    #[test]
    fn token_from_a_good_answer() {
        let jwt = jwt_with(r#"{"sub":"svc","exp":1700003600,"iat":1700000000,"scope":"a"}"#);
        let body = format!(r#"{{"access_token":"{jwt}","token_type":"Bearer","expires_in":3600}}"#);
        let t = cc().token_from_response(200, &body).unwrap();
        assert_eq!(t.value(), jwt);
        assert_eq!(t.principal_name(), "svc");
        assert_eq!(epoch_ms(t.expires_at()), 1_700_003_600_000);
        assert_eq!(t.start_time().map(epoch_ms), Some(1_700_000_000_000));
        assert_eq!(t.scope(), ["a"]);
        assert_eq!(
            t.extensions(),
            [("logicalCluster".to_string(), "lkc-1".to_string())]
        );
        assert_eq!(t.check(), Ok(()));
    }

    #[test]
    fn bad_answers_are_clear_errors() {
        let c = cc();
        let cases: &[(u16, &str, &str)] = &[
            (
                401,
                r#"{"error":"invalid_client","error_description":"bad secret"}"#,
                "HTTP 401 {invalid_client - bad secret}",
            ),
            (
                403,
                r#"{"errorCode":"E1","errorSummary":"nope"}"#,
                "{E1 - nope}",
            ),
            (500, "", "HTTP 500 {}"),
            (502, "<html>gateway</html>", "{<html>gateway</html>}"),
            (200, "<html>", "other than JSON"),
            (200, "{}", "without an access_token"),
            (200, r#"{"access_token":7}"#, "without an access_token"),
            (200, r#"{"access_token":"opaque"}"#, "compact JWT"),
            (
                200,
                &format!(r#"{{"access_token":"{}"}}"#, jwt_with(r#"{"sub":"a"}"#)),
                "exp",
            ),
            (
                200,
                &format!(r#"{{"access_token":"{}"}}"#, jwt_with(r#"{"exp":5}"#)),
                "sub",
            ),
        ];
        for (status, body, want) in cases {
            let e = c.token_from_response(*status, body).unwrap_err();
            assert!(e.contains(want), "{status} {body}: {e}");
            assert!(!e.contains("s3cr"), "{e}");
        }
        let long = "x".repeat(100_000);
        let e = c
            .token_from_response(200, &format!(r#"{{"a":"{long}"}}"#))
            .unwrap_err();
        assert!(e.len() < 600, "{}", e.len());
        assert!(!format!("{c:?}").contains("s3cr"));
    }

    #[test]
    fn an_unreachable_endpoint_fails_within_the_timeouts() {
        // Port 1 on loopback refuses at once.
        let e = cc().fetch().unwrap_err();
        assert!(e.contains("127.0.0.1:1"), "{e}");
    }

    #[test]
    fn file_urls_read_the_token() {
        let dir = std::env::temp_dir().join(format!("kafka-sync-oidc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("token.jwt");
        std::fs::write(
            &path,
            format!("{}\n", jwt_with(r#"{"sub":"f","exp":2000000000}"#)),
        )
        .unwrap();
        let c = ClientCredentials {
            endpoint: format!("file://{}", path.display()),
            ..cc()
        };
        assert_eq!(c.fetch().unwrap().principal_name(), "f");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
