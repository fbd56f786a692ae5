//! Java's unsecured OAUTHBEARER login for development clusters
//! (`OAuthBearerUnsecuredLoginCallbackHandler`): an unsigned JWS (`{"alg":"none"}` header)
//! built from the `unsecuredLogin*` options of `OAuthBearerLoginModule` in `sasl.jaas.config`.
//! Only a broker with the unsecured validator (Kafka's default for OAUTHBEARER) accepts it.
//!
//! Options, as Java reads them: `unsecuredLoginStringClaim_<claim>="value"`,
//! `unsecuredLoginNumberClaim_<claim>="1.5"`, `unsecuredLoginListClaim_<claim>=",a,b"` (the
//! first character is the separator), `unsecuredLoginPrincipalClaimName` (default `sub`),
//! `unsecuredLoginLifetimeSeconds` (default 3600), `unsecuredLoginScopeClaimName` (default
//! `scope`), `unsecuredLoginExtension_<name>="value"` (SASL extensions). `exp` and `iat` are set
//! by the login and cannot be given.

use super::base64;
use super::json::quote;
use super::oauthbearer::{
    check_extensions, from_epoch_ms, OAuthBearerToken, OAuthBearerTokenProvider, TokenProviderError,
};
use std::time::SystemTime;

const PREFIX: &str = "unsecuredLogin";
const STRING_CLAIM: &str = "unsecuredLoginStringClaim_";
const NUMBER_CLAIM: &str = "unsecuredLoginNumberClaim_";
const LIST_CLAIM: &str = "unsecuredLoginListClaim_";
const EXTENSION: &str = "unsecuredLoginExtension_";
const PRINCIPAL_CLAIM_NAME: &str = "unsecuredLoginPrincipalClaimName";
const LIFETIME_SECONDS: &str = "unsecuredLoginLifetimeSeconds";
const SCOPE_CLAIM_NAME: &str = "unsecuredLoginScopeClaimName";

/// The unsecured login's options (checked when the configuration is built).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct UnsecuredLogin {
    options: Vec<(String, String)>,
}

/// A claim's JSON value.
enum Claim {
    Text(String),
    Number(f64),
    List(Vec<String>),
}

/// Java's list option: the first character separates the items of the rest (`String.split`,
/// which drops trailing empty items, then one empty item added when the text begins or ends
/// with the separator or has two in a row).
fn list_items(value: &str) -> Vec<String> {
    let mut chars = value.chars();
    let Some(sep) = chars.next() else {
        return Vec::new();
    };
    let rest = chars.as_str();
    if rest.is_empty() {
        return Vec::new();
    }
    let mut items: Vec<String> = rest.split(sep).map(str::to_string).collect();
    while items.last().is_some_and(String::is_empty) {
        items.pop();
    }
    let double: String = [sep, sep].iter().collect();
    if rest.starts_with(sep) || rest.ends_with(sep) || rest.contains(&double) {
        items.push(String::new());
    }
    items
}

impl UnsecuredLogin {
    /// Whether JAAS options configure the unsecured login (any `unsecuredLogin*` option).
    pub fn wanted(options: &[(String, String)]) -> bool {
        options.iter().any(|(k, _)| k.starts_with(PREFIX))
    }

    /// The login for these options, checked by building one token now (the error is for
    /// `sasl.jaas.config`).
    pub fn new(options: &[(String, String)]) -> Result<Self, String> {
        let options: Vec<(String, String)> = options
            .iter()
            .filter(|(k, _)| k.starts_with(PREFIX))
            .cloned()
            .collect();
        if options.iter().all(|(k, _)| k.starts_with(EXTENSION)) {
            return Err(
                "unsecuredLoginExtension_ options without a token: give at least \
                        unsecuredLoginStringClaim_sub=\"<principal>\""
                    .into(),
            );
        }
        let login = UnsecuredLogin { options };
        login.token_at(super::oauthbearer::epoch_ms(SystemTime::now()))?;
        Ok(login)
    }

    fn option(&self, name: &str) -> Option<&str> {
        self.options
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn claim_name(&self, option: &str, default: &'static str) -> String {
        match self.option(option).map(str::trim) {
            Some(v) if !v.is_empty() => v.to_string(),
            _ => default.to_string(),
        }
    }

    /// The claims the options give, in order (`exp` and `iat` refused).
    fn claims(&self) -> Result<Vec<(String, Claim)>, String> {
        let mut out = Vec::new();
        for (k, v) in &self.options {
            let (name, claim) = if let Some(n) = k.strip_prefix(STRING_CLAIM) {
                (n, Claim::Text(v.clone()))
            } else if let Some(n) = k.strip_prefix(NUMBER_CLAIM) {
                match v.trim().parse::<f64>() {
                    Ok(x) if x.is_finite() => (n, Claim::Number(x)),
                    _ => return Err(format!("{k}: {v:?} is not a number")),
                }
            } else if let Some(n) = k.strip_prefix(LIST_CLAIM) {
                (n, Claim::List(list_items(v)))
            } else {
                continue;
            };
            if name.is_empty() {
                continue;
            }
            if name == "exp" || name == "iat" {
                return Err(format!("{k}: the {name} claim cannot be set explicitly"));
            }
            out.push((name.to_string(), claim));
        }
        Ok(out)
    }

    /// The SASL extensions (`unsecuredLoginExtension_<name>`).
    fn extensions(&self) -> Vec<(String, String)> {
        self.options
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix(EXTENSION)
                    .map(|name| (name.to_string(), v.clone()))
            })
            .collect()
    }

    /// The unsigned JWS and its token, issued at `now_ms`.
    pub fn token_at(&self, now_ms: i64) -> Result<OAuthBearerToken, String> {
        let lifetime_s: i64 = match self.option(LIFETIME_SECONDS) {
            None => 3600,
            Some(v) => v
                .trim()
                .parse()
                .map_err(|_| format!("{LIFETIME_SECONDS}: {v:?} is not a whole number"))?,
        };
        let principal_claim = self.claim_name(PRINCIPAL_CLAIM_NAME, "sub");
        let scope_claim = self.claim_name(SCOPE_CLAIM_NAME, "scope");
        let claims = self.claims()?;
        let iat = now_ms as f64 / 1000.0;
        let exp = iat + lifetime_s as f64;
        let mut json = format!("{{\"exp\":{exp},\"iat\":{iat}");
        let mut principal = None;
        let mut scope = Vec::new();
        for (name, claim) in &claims {
            json.push(',');
            json.push_str(&quote(name));
            json.push(':');
            match claim {
                Claim::Text(s) => json.push_str(&quote(s)),
                Claim::Number(x) => json.push_str(&x.to_string()),
                Claim::List(items) => {
                    let quoted: Vec<String> = items.iter().map(|s| quote(s)).collect();
                    json.push('[');
                    json.push_str(&quoted.join(","));
                    json.push(']');
                }
            }
            if *name == principal_claim {
                if let Claim::Text(s) = claim {
                    principal = Some(s.trim().to_string());
                }
            }
            if *name == scope_claim {
                scope = match claim {
                    Claim::Text(s) => s.split_whitespace().map(str::to_string).collect(),
                    Claim::List(items) => items.clone(),
                    Claim::Number(_) => Vec::new(),
                };
            }
        }
        json.push('}');
        let principal = principal.filter(|p| !p.is_empty()).ok_or_else(|| {
            format!(
                "the unsecured token needs a non-empty string claim {principal_claim} (the \
                 principal): add {STRING_CLAIM}{principal_claim}=\"<name>\""
            )
        })?;
        let extensions = self.extensions();
        check_extensions(&extensions)?;
        let value = format!(
            "{}.{}.",
            base64::encode_url(br#"{"alg":"none"}"#),
            base64::encode_url(json.as_bytes())
        );
        let mut token =
            OAuthBearerToken::new(value, from_epoch_ms((exp * 1000.0) as i64), principal)
                .with_start_time(from_epoch_ms(now_ms))
                .with_scope(scope);
        for (k, v) in extensions {
            token = token.with_extension(k, v);
        }
        Ok(token)
    }
}

impl OAuthBearerTokenProvider for UnsecuredLogin {
    fn token(&self) -> Result<OAuthBearerToken, TokenProviderError> {
        Ok(self.token_at(super::oauthbearer::epoch_ms(SystemTime::now()))?)
    }
}

#[cfg(test)]
mod tests {
    use super::super::json::Json;
    use super::super::jwt;
    use super::*;
    use crate::net::sasl::oauthbearer::epoch_ms;

    fn opts(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn builds_java_s_unsigned_jws() {
        let login = UnsecuredLogin::new(&opts(&[
            ("unsecuredLoginStringClaim_sub", "alice"),
            ("unsecuredLoginNumberClaim_level", "2.5"),
            ("unsecuredLoginListClaim_scope", "|read|write"),
            ("unsecuredLoginLifetimeSeconds", "60"),
            ("unsecuredLoginExtension_traceId", "abc 1"),
        ]))
        .unwrap();
        let now = 1_700_000_000_250;
        let t = login.token_at(now).unwrap();
        let (h, p, s) = {
            let mut it = t.value().split('.');
            (it.next().unwrap(), it.next().unwrap(), it.next().unwrap())
        };
        assert_eq!(h, "eyJhbGciOiJub25lIn0"); // {"alg":"none"}
        assert_eq!(s, "");
        let payload = String::from_utf8(base64::decode_url(p).unwrap()).unwrap();
        assert_eq!(
            payload,
            r#"{"exp":1700000060.25,"iat":1700000000.25,"sub":"alice","level":2.5,"scope":["read","write"]}"#
        );
        assert!(Json::parse(&payload).is_ok());
        assert_eq!(t.principal_name(), "alice");
        assert_eq!(epoch_ms(t.expires_at()), now + 60_000);
        assert_eq!(t.start_time().map(epoch_ms), Some(now));
        assert_eq!(t.scope(), ["read", "write"]);
        assert_eq!(
            t.extensions(),
            [("traceId".to_string(), "abc 1".to_string())]
        );
        assert_eq!(t.check(), Ok(()));
        // the client's own JWT reader agrees
        let c = jwt::claims(t.value(), "sub", "scope").unwrap();
        assert_eq!(
            (c.subject.as_str(), c.expires_at_ms),
            ("alice", now + 60_000)
        );
    }

    #[test]
    fn principal_and_scope_claim_names() {
        let login = UnsecuredLogin::new(&opts(&[
            ("unsecuredLoginPrincipalClaimName", "user"),
            ("unsecuredLoginScopeClaimName", "roles"),
            ("unsecuredLoginStringClaim_user", "bob"),
            ("unsecuredLoginStringClaim_roles", "a b"),
            ("unsecuredLoginStringClaim_q\"uote", "x\\y"),
        ]))
        .unwrap();
        let t = login.token_at(0).unwrap();
        assert_eq!(
            (t.principal_name(), t.scope()),
            ("bob", &["a".to_string(), "b".to_string()][..])
        );
        let (_, claims) = jwt::decode(t.value()).unwrap();
        assert_eq!(claims.get("q\"uote").and_then(Json::as_str), Some("x\\y"));
    }

    #[test]
    fn bad_options_are_refused() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("unsecuredLoginExtension_a", "b")], "without a token"),
            (&[("unsecuredLoginStringClaim_name", "x")], "sub"),
            (&[("unsecuredLoginStringClaim_sub", " ")], "sub"),
            (
                &[
                    ("unsecuredLoginStringClaim_sub", "a"),
                    ("unsecuredLoginStringClaim_exp", "1"),
                ],
                "exp",
            ),
            (
                &[
                    ("unsecuredLoginStringClaim_sub", "a"),
                    ("unsecuredLoginNumberClaim_iat", "1"),
                ],
                "iat",
            ),
            (
                &[
                    ("unsecuredLoginStringClaim_sub", "a"),
                    ("unsecuredLoginNumberClaim_n", "x"),
                ],
                "number",
            ),
            (
                &[
                    ("unsecuredLoginStringClaim_sub", "a"),
                    ("unsecuredLoginNumberClaim_n", "NaN"),
                ],
                "number",
            ),
            (
                &[
                    ("unsecuredLoginStringClaim_sub", "a"),
                    ("unsecuredLoginLifetimeSeconds", "1h"),
                ],
                "whole number",
            ),
            (
                &[
                    ("unsecuredLoginStringClaim_sub", "a"),
                    ("unsecuredLoginExtension_auth", "x"),
                ],
                "reserved",
            ),
            (
                &[
                    ("unsecuredLoginStringClaim_sub", "a"),
                    ("unsecuredLoginExtension_x1", "x"),
                ],
                "invalid",
            ),
        ];
        for (o, want) in cases {
            let e = UnsecuredLogin::new(&opts(o)).unwrap_err();
            assert!(e.contains(want), "{o:?}: {e}");
        }
        assert!(!UnsecuredLogin::wanted(&opts(&[("clientId", "x")])));
        assert!(UnsecuredLogin::wanted(&opts(&[(
            "unsecuredLoginStringClaim_sub",
            "x"
        )])));
    }

    #[test]
    fn list_claims_as_java_splits_them() {
        assert_eq!(list_items(""), Vec::<String>::new());
        assert_eq!(list_items(","), Vec::<String>::new());
        assert_eq!(list_items(",a,b"), ["a", "b"]);
        assert_eq!(list_items("|a|b|"), ["a", "b", ""]);
        assert_eq!(list_items(",a,,b"), ["a", "", "b", ""]);
        assert_eq!(list_items(".x.y"), ["x", "y"]);
    }
}
