//! Compact JWTs (RFC 7519) as the client reads them: base64url (RFC 4648 section 5, no padding)
//! and the claims of a token, which the client reads without checking the signature (the
//! broker checks it), as Java's `LoginAccessTokenValidator` does.

use super::base64;
use super::json::Json;

/// The three segments of a compact JWS.
fn segments(token: &str) -> Result<[&str; 3], String> {
    let mut parts = token.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(h), Some(p), Some(s), None) => Ok([h, p, s]),
        _ => Err("the token is not a compact JWT (three base64url parts separated by dots)".into()),
    }
}

fn json_segment(segment: &str, what: &str) -> Result<Json, String> {
    let bytes =
        base64::decode_url(segment).ok_or_else(|| format!("the JWT {what} is not base64url"))?;
    let text = String::from_utf8(bytes).map_err(|_| format!("the JWT {what} is not UTF-8"))?;
    match Json::parse(&text) {
        Ok(v @ Json::Object(_)) => Ok(v),
        Ok(_) => Err(format!("the JWT {what} is not a JSON object")),
        Err(e) => Err(format!("the JWT {what} is not JSON: {e}")),
    }
}

/// The JOSE header and the claims of a compact JWT, unverified.
pub(crate) fn decode(token: &str) -> Result<(Json, Json), String> {
    let [h, p, _] = segments(token)?;
    Ok((json_segment(h, "header")?, json_segment(p, "payload")?))
}

/// The header's `alg`, if the token is a JWT with one.
pub(crate) fn algorithm(token: &str) -> Option<String> {
    let (header, _) = decode(token).ok()?;
    header.get("alg").and_then(Json::as_str).map(str::to_string)
}

#[cfg_attr(not(feature = "oauth-oidc"), allow(dead_code))]
/// What the client learns from a token it got from a token endpoint, as Java's
/// `LoginAccessTokenValidator` reads it: `exp` (required, seconds since the epoch), the subject
/// claim (required, a non-blank string), `iat` (optional) and the scope claim (a string of
/// space-separated scopes, or a list).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Claims {
    pub expires_at_ms: i64,
    pub issued_at_ms: Option<i64>,
    pub subject: String,
    pub scope: Vec<String>,
}

#[cfg_attr(not(feature = "oauth-oidc"), allow(dead_code))]
fn millis(v: &Json, claim: &str) -> Result<i64, String> {
    match v.as_f64() {
        Some(s) if (0.0..9.0e12).contains(&s) => Ok((s * 1000.0) as i64),
        _ => Err(format!(
            "the JWT claim {claim} is not a date (seconds since the epoch)"
        )),
    }
}

#[cfg_attr(not(feature = "oauth-oidc"), allow(dead_code))]
/// Reads [`Claims`] from a compact JWT; the claim names are `sasl.oauthbearer.sub.claim.name`
/// and `sasl.oauthbearer.scope.claim.name`.
pub(crate) fn claims(token: &str, sub_claim: &str, scope_claim: &str) -> Result<Claims, String> {
    let (_, payload) = decode(token)?;
    let expires_at_ms = match payload.get("exp") {
        Some(v) => millis(v, "exp")?,
        None => return Err("the JWT has no exp claim".into()),
    };
    let issued_at_ms = match payload.get("iat") {
        Some(v) => Some(millis(v, "iat")?),
        None => None,
    };
    let subject = match payload.get(sub_claim).and_then(Json::as_str) {
        Some(s) if !s.trim().is_empty() => s.trim().to_string(),
        Some(_) => return Err(format!("the JWT claim {sub_claim} is blank")),
        None => {
            return Err(format!(
                "the JWT has no string claim {sub_claim} (the principal)"
            ))
        }
    };
    let scope = match payload.get(scope_claim) {
        None | Some(Json::Null) => Vec::new(),
        Some(Json::String(s)) => s.split_whitespace().map(str::to_string).collect(),
        Some(Json::Array(items)) => items
            .iter()
            .filter_map(Json::as_str)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        Some(_) => {
            return Err(format!(
                "the JWT claim {scope_claim} is not a string or a list"
            ))
        }
    };
    Ok(Claims {
        expires_at_ms,
        issued_at_ms,
        subject,
        scope,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(header: &str, payload: &str) -> String {
        format!(
            "{}.{}.sig",
            base64::encode_url(header.as_bytes()),
            base64::encode_url(payload.as_bytes())
        )
    }

    #[test]
    fn reads_claims() {
        let t = jwt(
            r#"{"alg":"RS256","kid":"k"}"#,
            r#"{"sub":" svc ","exp":1700003600,"iat":1700000000.5,"scope":"a b"}"#,
        );
        assert_eq!(algorithm(&t).as_deref(), Some("RS256"));
        let c = claims(&t, "sub", "scope").unwrap();
        assert_eq!(
            c,
            Claims {
                expires_at_ms: 1_700_003_600_000,
                issued_at_ms: Some(1_700_000_000_500),
                subject: "svc".into(),
                scope: vec!["a".into(), "b".into()],
            }
        );
        let t = jwt(
            r#"{"alg":"none"}"#,
            r#"{"client":"c","exp":1,"roles":["x"," "]}"#,
        );
        let c = claims(&t, "client", "roles").unwrap();
        assert_eq!((c.subject.as_str(), c.scope), ("c", vec!["x".to_string()]));
    }

    #[test]
    fn bad_tokens_are_errors() {
        let cases = [
            ("", "compact"),
            ("a.b", "compact"),
            ("a.b.c.d", "compact"),
            ("!.e30.", "base64url"),
            (&jwt("{}", "[1]"), "object"),
            (&jwt("{}", "{"), "JSON"),
            (&jwt("{}", r#"{"sub":"a"}"#), "exp"),
            (&jwt("{}", r#"{"sub":"a","exp":"soon"}"#), "exp"),
            (&jwt("{}", r#"{"sub":"a","exp":-5}"#), "exp"),
            (&jwt("{}", r#"{"exp":5}"#), "sub"),
            (&jwt("{}", r#"{"exp":5,"sub":" "}"#), "blank"),
            (&jwt("{}", r#"{"exp":5,"sub":"a","scope":7}"#), "scope"),
            (&jwt("{}", r#"{"exp":5,"sub":"a","iat":true}"#), "iat"),
        ];
        for (t, want) in cases {
            let e = claims(t, "sub", "scope").unwrap_err();
            assert!(e.contains(want), "{t:?}: {e}");
        }
        assert_eq!(algorithm("x.y.z"), None);
    }
}
