//! A token endpoint on loopback for the OIDC client-credentials tests: a small HTTP/1.1 server
//! that answers each `POST` with `grant_type=client_credentials` and the expected HTTP Basic
//! credentials with `{"access_token": <JWT>, "token_type": "Bearer", "expires_in": N}`, the JWT
//! signed RS256 with the harness key (`KAFKA_OAUTH_DIR/signing-key.der`, kid
//! `kafka-sync-test`) and carrying the audience and issuer the OAUTH_JWKS listener expects.
//! Anything else gets 400 or 401 with an RFC 6749 error. Every request is recorded.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The `aud` and `iss` the OAUTH_JWKS listener requires, and the key id of its JWKS.
pub const AUDIENCE: &str = "kafka-sync-test";
pub const ISSUER: &str = "kafka-sync-test-issuer";
pub const KID: &str = "kafka-sync-test";

/// The harness's OAuth directory (`KAFKA_OAUTH_DIR`); panics with how to start the broker.
pub fn oauth_dir() -> std::path::PathBuf {
    let dir = std::env::var("KAFKA_OAUTH_DIR").unwrap_or_else(|_| {
        panic!(
            "KAFKA_OAUTH_DIR is not set: the OAuth tests need the signing key of the broker \
             started with `scripts/kafka start --port P --security` (<repo>/.kafka/single-P/oauth), \
             and KAFKA_BOOTSTRAP_OAUTH_JWKS=127.0.0.1:P+6"
        )
    });
    std::path::PathBuf::from(dir)
}

fn b64url(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

fn b64(data: &[u8]) -> String {
    let s = b64url(data).replace('-', "+").replace('_', "/");
    s + ["", "==", "="][data.len() % 3]
}

/// Seconds since the epoch.
pub fn now_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A JWT signed RS256 with the harness key: subject `sub`, valid from now for `lifetime_s`
/// (negative: expired), with the audience and issuer the JWKS listener expects.
pub fn signed_jwt(sub: &str, lifetime_s: i64) -> String {
    let der = std::fs::read(oauth_dir().join("signing-key.der"))
        .unwrap_or_else(|e| panic!("cannot read the harness signing key: {e}"));
    let key = ring::signature::RsaKeyPair::from_pkcs8(&der).expect("an RSA PKCS#8 key");
    let now = now_s();
    let header = format!(r#"{{"alg":"RS256","typ":"JWT","kid":"{KID}"}}"#);
    let claims = format!(
        r#"{{"sub":"{sub}","iat":{now},"exp":{},"aud":"{AUDIENCE}","iss":"{ISSUER}","scope":"kafka"}}"#,
        now + lifetime_s
    );
    let input = format!(
        "{}.{}",
        b64url(header.as_bytes()),
        b64url(claims.as_bytes())
    );
    let mut sig = vec![0; key.public().modulus_len()];
    key.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        input.as_bytes(),
        &mut sig,
    )
    .expect("RSA signing");
    format!("{input}.{}", b64url(&sig))
}

/// An unsigned JWS (`{"alg":"none"}`), as Java's unsecured login makes them.
pub fn unsigned_jwt(sub: &str, lifetime_s: i64) -> String {
    let now = now_s();
    let claims = format!(
        r#"{{"sub":"{sub}","iat":{now},"exp":{},"aud":"{AUDIENCE}","iss":"{ISSUER}"}}"#,
        now + lifetime_s
    );
    format!(
        "{}.{}.",
        b64url(br#"{"alg":"none"}"#),
        b64url(claims.as_bytes())
    )
}

/// One request the endpoint received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub authorization: String,
    pub content_type: String,
    pub body: String,
}

/// The running endpoint; it stops with the test process.
pub struct TokenEndpoint {
    /// `http://127.0.0.1:<port>/token`.
    pub url: String,
    /// Every request, in order.
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

impl TokenEndpoint {
    /// Starts an endpoint accepting `client_id` / `client_secret` and giving tokens for
    /// principal `client_id`, valid `lifetime_s` seconds.
    pub fn start(client_id: &str, client_secret: &str, lifetime_s: i64) -> TokenEndpoint {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the token endpoint");
        let url = format!("http://{}/token", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let expected = format!(
            "Basic {}",
            b64(format!("{client_id}:{client_secret}").as_bytes())
        );
        let (log, sub) = (seen.clone(), client_id.to_string());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let _ = serve(stream, &expected, &sub, lifetime_s, &log);
            }
        });
        TokenEndpoint { url, seen }
    }
}

fn serve(
    stream: TcpStream,
    expected_auth: &str,
    sub: &str,
    lifetime_s: i64,
    log: &Mutex<Vec<Seen>>,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (method, path) = (
        parts.next().unwrap_or_default().to_string(),
        parts.next().unwrap_or_default().to_string(),
    );
    let (mut length, mut authorization, mut content_type) = (0usize, String::new(), String::new());
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            let v = v.trim().to_string();
            match k.trim().to_ascii_lowercase().as_str() {
                "content-length" => length = v.parse().unwrap_or(0),
                "authorization" => authorization = v,
                "content-type" => content_type = v,
                _ => {}
            }
        }
    }
    let mut body = vec![0; length.min(1 << 16)];
    reader.read_exact(&mut body)?;
    let body = String::from_utf8_lossy(&body).to_string();
    let (status, answer) = if method != "POST" || !body.starts_with("grant_type=client_credentials")
    {
        ("400 Bad Request", r#"{"error":"invalid_request","error_description":"expected a client-credentials POST"}"#.to_string())
    } else if authorization != expected_auth {
        (
            "401 Unauthorized",
            r#"{"error":"invalid_client","error_description":"unknown client or wrong secret"}"#
                .to_string(),
        )
    } else {
        let jwt = signed_jwt(sub, lifetime_s);
        (
            "200 OK",
            format!(
                r#"{{"access_token":"{jwt}","token_type":"Bearer","expires_in":{lifetime_s}}}"#
            ),
        )
    };
    log.lock().unwrap().push(Seen {
        method,
        path,
        authorization,
        content_type,
        body,
    });
    let mut out = stream;
    write!(
        out,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
        answer.len()
    )?;
    out.flush()
}
