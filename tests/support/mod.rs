//! Shared helpers for integration tests: where the brokers are, and Kafka's own Java tools
//! (through `scripts/kafka`) as the independent writer and reader.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

const HOW_TO_START: &str = "run everything with `scripts/test`, or start the brokers by hand: \
`scripts/kafka start` (KAFKA_BOOTSTRAP=127.0.0.1:9092), `scripts/kafka start --brokers 3` \
(KAFKA_BOOTSTRAP_3=127.0.0.1:19092,127.0.0.1:29092,127.0.0.1:39092), \
the older brokers, each with `KAFKA_VERSION=<v> scripts/kafka start --port <p> --security` \
(2.8.2 on 9592, 3.3.2 on 9692, 3.9.1 on 9192, 4.0.2 on 9792; \
KAFKA_COMPAT_BROKERS=2.8.2=127.0.0.1:9592,3.3.2=127.0.0.1:9692,3.9.1=127.0.0.1:9192,4.0.2=127.0.0.1:9792) and \
`scripts/kafka start --port 9292` (KAFKA_BOOTSTRAP_FAULT=127.0.0.1:9292, KAFKA_FAULT_PORT=9292) and \
`scripts/kafka start --port 9392 --security` (KAFKA_BOOTSTRAP_SASL=127.0.0.1:9394, its SASL_PLAINTEXT \
listener, and KAFKA_SASL_PLAINTEXT_PORT=9392, the same broker's PLAINTEXT port; with TLS: \
KAFKA_BOOTSTRAP_SSL=127.0.0.1:9395, KAFKA_BOOTSTRAP_SASL_SSL=127.0.0.1:9396 and \
KAFKA_TLS_CA=<repo>/.kafka/single-9392/tls/ca.pem), and export those variables";

/// The repository root.
pub fn repo_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `scripts/kafka`.
pub fn kafka_script() -> PathBuf {
    repo_dir().join("scripts/kafka")
}

fn require_reachable(var: &str) -> String {
    let bootstrap = std::env::var(var).unwrap_or_else(|_| {
        panic!("{var} is not set: these tests need a running Apache Kafka; {HOW_TO_START}")
    });
    let first = bootstrap.split(',').next().unwrap_or_default().to_string();
    let addr = first
        .parse()
        .unwrap_or_else(|e| panic!("{var}={bootstrap}: {first} is not an ip:port ({e})"));
    if let Err(e) = std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(5)) {
        panic!("no Kafka broker answers at {first} ({var}): {e}; {HOW_TO_START}");
    }
    bootstrap
}

/// The single-node broker's bootstrap list (`KAFKA_BOOTSTRAP`); panics with how to start one.
pub fn bootstrap() -> String {
    require_reachable("KAFKA_BOOTSTRAP")
}

/// The 3-node cluster's bootstrap list (`KAFKA_BOOTSTRAP_3`); panics with how to start one.
pub fn bootstrap3() -> String {
    require_reachable("KAFKA_BOOTSTRAP_3")
}

/// One of the older brokers the compatibility tests run against (`KAFKA_COMPAT_BROKERS`), each a
/// single node started with `KAFKA_VERSION=<version> scripts/kafka start --port <port> --security`
/// (ZooKeeper mode before 3.4, KRaft from 3.4 on).
#[derive(Debug, Clone)]
pub struct CompatBroker {
    /// The Kafka version, as written in `KAFKA_COMPAT_BROKERS` (e.g. `2.8.2`).
    pub version: String,
    /// `host:port` of its PLAINTEXT listener.
    pub bootstrap: String,
    /// `host:port` of its SASL_PLAINTEXT listener (port + 2; users as in [`SaslBroker`]).
    pub sasl: String,
    /// Its data directory (`<KAFKA_RUN_DIR>/single-<port>/node1/data`), for DumpLogSegments.
    pub data_dir: PathBuf,
}

impl CompatBroker {
    /// The broker as a [`SaslBroker`] (its SASL_PLAINTEXT and PLAINTEXT listeners).
    pub fn sasl_broker(&self) -> SaslBroker {
        SaslBroker {
            sasl: self.sasl.clone(),
            plaintext: self.bootstrap.clone(),
        }
    }

    /// `host:port` of the `--security` listener `offset` ports above PLAINTEXT.
    fn listener(&self, offset: u16) -> String {
        let (host, port) = self.bootstrap.rsplit_once(':').expect("host:port");
        let port: u16 = port.parse().expect("checked by compat_brokers");
        format!("{host}:{}", port + offset)
    }

    /// The broker's REAUTH listener (port + 5, `connections.max.reauth.ms=10000`) as a
    /// [`SaslBroker`].
    pub fn reauth_broker(&self) -> SaslBroker {
        SaslBroker {
            sasl: self.listener(5),
            plaintext: self.bootstrap.clone(),
        }
    }

    /// The broker's MTLS listener (port + 7) with its CA and client keys (its `tls/`
    /// directory beside `node1/`).
    pub fn mtls_broker(&self) -> MtlsBroker {
        let dir = self
            .data_dir
            .parent()
            .and_then(Path::parent)
            .expect("<run dir>/single-<port>/node1/data")
            .join("tls");
        MtlsBroker {
            mtls: self.listener(7),
            plaintext: self.bootstrap.clone(),
            ca: dir.join("ca.pem"),
            dir,
        }
    }

    /// `(major, minor)` of [`Self::version`].
    pub fn major_minor(&self) -> (u32, u32) {
        let mut it = self.version.split('.').map(|x| x.parse().unwrap_or(0));
        (it.next().unwrap_or(0), it.next().unwrap_or(0))
    }
}

/// Every broker of `KAFKA_COMPAT_BROKERS` (`version=host:port,...`, e.g.
/// `2.8.2=127.0.0.1:9592,3.3.2=127.0.0.1:9692`); panics with how to start them if the variable
/// is unset or empty, malformed, or any listed broker (PLAINTEXT or SASL_PLAINTEXT listener)
/// does not answer.
pub fn compat_brokers() -> Vec<CompatBroker> {
    let list = std::env::var("KAFKA_COMPAT_BROKERS").unwrap_or_default();
    if list.trim().is_empty() {
        panic!("KAFKA_COMPAT_BROKERS is not set: the compatibility tests need the older Kafka brokers; {HOW_TO_START}");
    }
    let run_dir = std::env::var("KAFKA_RUN_DIR")
        .map(|d| repo_dir().join(d))
        .unwrap_or_else(|_| repo_dir().join(".kafka"));
    list.split(',')
        .map(|entry| {
            let (version, bootstrap) = entry.trim().split_once('=').unwrap_or_else(|| {
                panic!("KAFKA_COMPAT_BROKERS: {entry:?} is not version=host:port")
            });
            let (host, port) = bootstrap
                .rsplit_once(':')
                .unwrap_or_else(|| panic!("KAFKA_COMPAT_BROKERS: {bootstrap:?} is not host:port"));
            let port: u16 = port
                .parse()
                .unwrap_or_else(|e| panic!("KAFKA_COMPAT_BROKERS: port of {entry:?}: {e}"));
            let sasl = format!("{host}:{}", port + 2);
            for (addr, what) in [(bootstrap, "PLAINTEXT"), (sasl.as_str(), "SASL_PLAINTEXT")] {
                let sock = addr.parse().unwrap_or_else(|e| {
                    panic!("KAFKA_COMPAT_BROKERS: {addr} is not an ip:port ({e})")
                });
                if let Err(e) =
                    std::net::TcpStream::connect_timeout(&sock, std::time::Duration::from_secs(5))
                {
                    panic!(
                        "no Kafka {version} broker answers at {addr} (its {what} listener, from \
                         KAFKA_COMPAT_BROKERS): {e}; start it with `KAFKA_VERSION={version} \
                         scripts/kafka start --port {port} --security`; {HOW_TO_START}"
                    );
                }
            }
            CompatBroker {
                version: version.to_string(),
                bootstrap: bootstrap.to_string(),
                sasl,
                data_dir: run_dir.join(format!("single-{port}/node1/data")),
            }
        })
        .collect()
}

/// Runs `check` against every broker of [`compat_brokers`], each to the end even when an
/// earlier one fails, then fails naming every version that failed and why.
pub fn each_compat_broker(check: impl Fn(&CompatBroker)) {
    let mut failed = Vec::new();
    for b in compat_brokers() {
        let started = std::time::Instant::now();
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&b))) {
            Ok(()) => eprintln!(
                "Kafka {} ({}): passed in {:?}",
                b.version,
                b.bootstrap,
                started.elapsed()
            ),
            Err(e) => {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "panicked".into());
                failed.push(format!("Kafka {} ({}): {msg}", b.version, b.bootstrap));
            }
        }
    }
    assert!(
        failed.is_empty(),
        "failed on {}:\n{}",
        failed.len(),
        failed.join("\n")
    );
}

/// The single node that fault tests may kill and restart (`KAFKA_BOOTSTRAP_FAULT`), and its
/// port for `scripts/kafka kill 1 --port P` (`KAFKA_FAULT_PORT`).
pub fn bootstrap_fault() -> (String, String) {
    let bs = require_reachable("KAFKA_BOOTSTRAP_FAULT");
    let port = std::env::var("KAFKA_FAULT_PORT")
        .unwrap_or_else(|_| panic!("KAFKA_FAULT_PORT is not set; {HOW_TO_START}"));
    (bs, port)
}

/// The broker started with `--security`: its SASL_PLAINTEXT listener (`KAFKA_BOOTSTRAP_SASL`)
/// and the same broker's PLAINTEXT listener (port `KAFKA_SASL_PLAINTEXT_PORT`), for Kafka's
/// tools, which then need no credentials. Users: `alice` / `alice-secret` for PLAIN,
/// SCRAM-SHA-256 and SCRAM-SHA-512. Panics with how to start it.
pub struct SaslBroker {
    /// `host:port` of the SASL_PLAINTEXT listener.
    pub sasl: String,
    /// `host:port` of the PLAINTEXT listener of the same broker.
    pub plaintext: String,
}

/// See [`SaslBroker`].
pub fn bootstrap_sasl() -> SaslBroker {
    let sasl = require_reachable("KAFKA_BOOTSTRAP_SASL");
    let port = std::env::var("KAFKA_SASL_PLAINTEXT_PORT")
        .unwrap_or_else(|_| panic!("KAFKA_SASL_PLAINTEXT_PORT is not set; {HOW_TO_START}"));
    let host = sasl
        .rsplit_once(':')
        .map_or("127.0.0.1", |(h, _)| h)
        .to_string();
    let plaintext = format!("{host}:{port}");
    let addr = plaintext.parse().expect("host:port");
    if let Err(e) = std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(5)) {
        panic!("no Kafka broker answers at {plaintext} (KAFKA_SASL_PLAINTEXT_PORT): {e}; {HOW_TO_START}");
    }
    SaslBroker { sasl, plaintext }
}

/// Waits on `changed` until `pred` holds over the state behind `state`, or `timeout` passes;
/// returns whether it held. (The mock broker and the proxy wake `changed` on every change.)
pub fn wait_on<T>(
    state: &std::sync::Mutex<T>,
    changed: &std::sync::Condvar,
    timeout: std::time::Duration,
    pred: impl Fn(&T) -> bool,
) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        if pred(&st) {
            return true;
        }
        let now = std::time::Instant::now();
        if now >= deadline {
            return false;
        }
        st = changed
            .wait_timeout(st, deadline - now)
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A topic name no other test (or earlier run) uses.
pub fn unique_topic(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{prefix}-{}-{}-{}",
        std::process::id(),
        nanos % 1_000_000_000,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs `scripts/kafka <args>` and returns stdout; panics with stderr on failure.
pub fn kafka_tool(args: &[&str], stdin: Option<&[u8]>) -> String {
    let mut cmd = Command::new(kafka_script());
    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let mut child = cmd.spawn().expect("run scripts/kafka");
    if let Some(input) = stdin {
        let mut si = child.stdin.take().unwrap();
        si.write_all(input).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "scripts/kafka {args:?} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("tool output is UTF-8")
}

/// Creates a topic with Kafka's own topic tool.
pub fn create_topic(
    bootstrap: &str,
    topic: &str,
    partitions: u32,
    replication: u32,
    extra: &[&str],
) {
    let p = partitions.to_string();
    let r = replication.to_string();
    let mut args = vec![
        "topics",
        "--bootstrap-server",
        bootstrap,
        "--create",
        "--topic",
        topic,
        "--partitions",
        &p,
        "--replication-factor",
        &r,
    ];
    args.extend_from_slice(extra);
    kafka_tool(&args, None);
}

/// One record as Kafka's console consumer prints it (checked against the 4.4 console consumer,
/// which `scripts/kafka` runs for every broker version).
///
/// A null key, value or header value prints as the `null.literal`, `<null>` (so a key that
/// is the text `<null>` cannot be told from a null one); an empty one prints as nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumed {
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// The `CreateTime:` (or `LogAppendTime:`) timestamp; `None` if the record had none.
    pub timestamp: Option<i64>,
    /// `key:value` per header in order, joined by `,`; `NO_HEADERS` when there are none.
    pub headers: String,
    /// The key as UTF-8, or `<null>`.
    pub key: String,
    /// The value as UTF-8, or `<null>`.
    pub value: String,
}

/// Reads `count` records of `topic` from the beginning with Kafka's console consumer
/// (an independent reader), printing partition, offset, timestamp, headers, key and value.
/// Fields are separated by the ASCII unit separator so tabs and commas in data survive.
pub fn consume(bootstrap: &str, topic: &str, count: usize, timeout_ms: u64) -> Vec<Consumed> {
    consume_isolated(bootstrap, topic, count, timeout_ms, "read_uncommitted")
}

/// [`consume`] at an isolation level: `read_committed` (only committed transactions' records)
/// or `read_uncommitted` (the console consumer's default: every record, aborted ones too).
pub fn consume_isolated(
    bootstrap: &str,
    topic: &str,
    count: usize,
    timeout_ms: u64,
    isolation: &str,
) -> Vec<Consumed> {
    let max = count.to_string();
    let timeout = timeout_ms.to_string();
    let out = kafka_tool(
        &[
            "console-consumer",
            "--isolation-level",
            isolation,
            "--bootstrap-server",
            bootstrap,
            "--topic",
            topic,
            "--from-beginning",
            "--max-messages",
            &max,
            "--timeout-ms",
            &timeout,
            "--formatter-property",
            "print.partition=true",
            "--formatter-property",
            "print.offset=true",
            "--formatter-property",
            "print.timestamp=true",
            "--formatter-property",
            "print.headers=true",
            "--formatter-property",
            "print.key=true",
            "--formatter-property",
            "print.value=true",
            "--formatter-property",
            "key.separator=\u{1f}",
            "--formatter-property",
            "headers.separator=,",
            "--formatter-property",
            "null.literal=<null>",
        ],
        None,
    );
    out.lines().map(parse_consumed).collect()
}

fn parse_consumed(line: &str) -> Consumed {
    // Layout: CreateTime:<ts>\x1fPartition:<p>\x1fOffset:<o>\x1f<headers>\x1f<key>\x1f<value>
    let f: Vec<&str> = line.splitn(6, '\u{1f}').collect();
    assert_eq!(f.len(), 6, "unexpected console consumer line {line:?}");
    let ts = f[0].rsplit(':').next().and_then(|t| t.parse().ok());
    let partition = f[1]
        .strip_prefix("Partition:")
        .and_then(|p| p.parse().ok())
        .expect("partition");
    let offset = f[2]
        .strip_prefix("Offset:")
        .and_then(|o| o.parse().ok())
        .expect("offset");
    Consumed {
        partition,
        offset,
        timestamp: ts,
        headers: f[3].to_string(),
        key: f[4].to_string(),
        value: f[5].to_string(),
    }
}

/// A scripted mock broker (see its module docs).
pub mod mock_broker;

/// A fault-injecting TCP proxy in front of a real broker (see its module docs).
pub mod proxy;

/// The TLS listeners of the broker started with `--security`, and the CA certificate (PEM) its
/// certificate was made with (subject alternative names `localhost` and `127.0.0.1`).
pub struct TlsBroker {
    /// `host:port` of the SSL listener (`KAFKA_BOOTSTRAP_SSL`).
    pub ssl: String,
    /// `host:port` of the SASL_SSL listener (`KAFKA_BOOTSTRAP_SASL_SSL`).
    pub sasl_ssl: String,
    /// `host:port` of the PLAINTEXT listener of the same broker, for Kafka's tools.
    pub plaintext: String,
    /// The CA certificate file (`KAFKA_TLS_CA`).
    pub ca: PathBuf,
}

/// See [`TlsBroker`].
pub fn bootstrap_tls() -> TlsBroker {
    let plaintext = bootstrap_sasl().plaintext;
    let ssl = require_reachable("KAFKA_BOOTSTRAP_SSL");
    let sasl_ssl = require_reachable("KAFKA_BOOTSTRAP_SASL_SSL");
    let ca = PathBuf::from(
        std::env::var("KAFKA_TLS_CA")
            .unwrap_or_else(|_| panic!("KAFKA_TLS_CA is not set; {HOW_TO_START}")),
    );
    assert!(ca.is_file(), "KAFKA_TLS_CA={} is not a file", ca.display());
    TlsBroker {
        ssl,
        sasl_ssl,
        plaintext,
        ca,
    }
}

/// The REAUTH listener of the broker started with `--security` (`KAFKA_BOOTSTRAP_REAUTH`: its
/// port+5, SASL_PLAINTEXT with `connections.max.reauth.ms=10000`), and the same broker's
/// PLAINTEXT listener (`KAFKA_SASL_PLAINTEXT_PORT`) for Kafka's tools. Panics with how to start
/// it.
pub fn bootstrap_reauth() -> SaslBroker {
    if std::env::var("KAFKA_BOOTSTRAP_REAUTH").is_err() {
        panic!(
            "KAFKA_BOOTSTRAP_REAUTH is not set: the re-authentication tests need the REAUTH \
             listener of `scripts/kafka start --port 9392 --security` (port+5: \
             KAFKA_BOOTSTRAP_REAUTH=127.0.0.1:9397, with KAFKA_SASL_PLAINTEXT_PORT=9392); \
             {HOW_TO_START}"
        );
    }
    let plaintext = bootstrap_sasl().plaintext;
    SaslBroker {
        sasl: require_reachable("KAFKA_BOOTSTRAP_REAUTH"),
        plaintext,
    }
}

/// A token endpoint on loopback for the OIDC tests, signing with the harness key (see its
/// module docs).
pub mod token_endpoint;
pub mod written;

/// The OAUTH_JWKS listener of the broker started with `--security`
/// (`KAFKA_BOOTSTRAP_OAUTH_JWKS`: OAUTHBEARER tokens must be RS256-signed by the key in
/// `KAFKA_OAUTH_DIR`, with the audience and issuer of [`token_endpoint`]); panics with how to
/// start it.
pub fn bootstrap_oauth_jwks() -> String {
    let _ = token_endpoint::oauth_dir();
    require_reachable("KAFKA_BOOTSTRAP_OAUTH_JWKS")
}

/// The `MTLS` listener of the broker started with `--security` (SSL with
/// `ssl.client.auth=required`), and the client key material scripts/kafka made for it.
pub struct MtlsBroker {
    /// `host:port` of the MTLS listener (`KAFKA_BOOTSTRAP_MTLS`).
    pub mtls: String,
    /// `host:port` of the PLAINTEXT listener of the same broker, for Kafka's tools.
    pub plaintext: String,
    /// The CA certificate file (`KAFKA_TLS_CA`): the broker's certificate.
    pub ca: PathBuf,
    /// The directory of the client's keys (`KAFKA_TLS_DIR`): `client.p12`, `client.jks`,
    /// `client.pem`, `client.key`, `client-encrypted.key` (passwords `changeit`).
    pub dir: PathBuf,
}

impl MtlsBroker {
    /// A file of the client's key material, as a string path.
    pub fn file(&self, name: &str) -> String {
        let path = self.dir.join(name);
        assert!(
            path.is_file(),
            "{} is missing (KAFKA_TLS_DIR)",
            path.display()
        );
        path.to_str().expect("UTF-8 path").to_string()
    }
}

/// See [`MtlsBroker`].
pub fn bootstrap_mtls() -> MtlsBroker {
    let tls = bootstrap_tls();
    let mtls = require_reachable("KAFKA_BOOTSTRAP_MTLS");
    let dir = PathBuf::from(std::env::var("KAFKA_TLS_DIR").unwrap_or_else(|_| {
        panic!(
            "KAFKA_TLS_DIR is not set (the tls/ directory of the broker started with \
             --security, e.g. <repo>/.kafka/single-9392/tls, with KAFKA_BOOTSTRAP_MTLS=\
             127.0.0.1:9399); {HOW_TO_START}"
        )
    }));
    assert!(
        dir.is_dir(),
        "KAFKA_TLS_DIR={} is not a directory",
        dir.display()
    );
    MtlsBroker {
        mtls,
        plaintext: tls.plaintext,
        ca: tls.ca,
        dir,
    }
}
