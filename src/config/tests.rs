//! Tests of the configuration: defaults, parsing, validation, rules, security settings, the
//! property table and the README's copy of it.

use super::security::parse_jaas;
use super::*;
use crate::error::Error;
use std::time::Duration;

fn cfg(props: &[(&str, &str)]) -> Result<ProducerConfig, Error> {
    let mut all = vec![("bootstrap.servers", "localhost:9092")];
    all.extend_from_slice(props);
    ProducerConfig::from_properties(all)
}

/// The property an error names, and its reason.
fn err(props: &[(&str, &str)]) -> (String, String) {
    match cfg(props) {
        Err(Error::Config { property, reason }) => (property, reason),
        other => panic!("expected a config error for {props:?}, got {other:?}"),
    }
}

#[test]
fn java_defaults() {
    let c = cfg(&[]).unwrap();
    assert_eq!(
        c.bootstrap_servers(),
        [BrokerAddress {
            host: "localhost".into(),
            port: 9092
        }]
    );
    assert!(c.client_id().starts_with("producer-"));
    assert_eq!(c.acks(), Acks::All);
    assert_eq!(c.linger(), Duration::from_millis(5));
    assert_eq!(c.batch_size(), 16384);
    assert_eq!(c.buffer_memory(), 33_554_432);
    assert_eq!(c.max_block(), Duration::from_secs(60));
    assert_eq!(c.delivery_timeout(), Duration::from_secs(120));
    assert_eq!(c.request_timeout(), Duration::from_secs(30));
    assert_eq!(c.retries(), i32::MAX as u32);
    assert_eq!(c.retry_backoff(), Duration::from_millis(100));
    assert_eq!(c.retry_backoff_max(), Duration::from_millis(1000));
    assert_eq!(c.reconnect_backoff(), Duration::from_millis(50));
    assert_eq!(c.reconnect_backoff_max(), Duration::from_millis(1000));
    assert_eq!(c.max_in_flight_requests_per_connection(), 5);
    assert_eq!(c.max_request_size(), 1_048_576);
    assert_eq!(c.metadata_max_age(), Duration::from_secs(300));
    assert_eq!(c.metadata_max_idle(), Duration::from_secs(300));
    assert!(!c.partitioner_ignore_keys());
    assert!(c.partitioner_adaptive_partitioning());
    assert_eq!(c.partitioner_availability_timeout(), Duration::ZERO);
    assert!(c.partitioner().is_none());
    assert!(c.idempotence_enabled());
    assert_eq!(c.compression(), CompressionType::None);
    assert_eq!(c.compression_level(), None);
    assert_eq!(c.connections_max_idle(), Some(Duration::from_secs(540)));
    assert_eq!(c.send_buffer_bytes(), Some(131_072));
    assert_eq!(c.receive_buffer_bytes(), Some(32_768));
    assert_eq!(c.socket_connection_setup_timeout(), Duration::from_secs(10));
    assert_eq!(
        c.socket_connection_setup_timeout_max(),
        Duration::from_secs(30)
    );
    assert_eq!(c.security_protocol(), SecurityProtocol::Plaintext);
}

#[test]
fn typed_builder_sets_every_property() {
    let c = ProducerConfig::builder()
        .bootstrap_servers("a:1")
        .client_id("me")
        .acks(Acks::Leader)
        .enable_idempotence(false)
        .linger(Duration::from_millis(7))
        .batch_size(1000)
        .buffer_memory(2000)
        .max_block(Duration::from_millis(3))
        .delivery_timeout(Duration::from_millis(40_000))
        .request_timeout(Duration::from_millis(20_000))
        .retries(4)
        .retry_backoff(Duration::from_millis(11))
        .retry_backoff_max(Duration::from_millis(12))
        .reconnect_backoff(Duration::from_millis(13))
        .reconnect_backoff_max(Duration::from_millis(14))
        .max_in_flight_requests_per_connection(9)
        .max_request_size(3000)
        .metadata_max_age(Duration::from_millis(15))
        .metadata_max_idle(Duration::from_millis(6000))
        .partitioner_ignore_keys(true)
        .compression(CompressionType::None)
        .connections_max_idle(None)
        .send_buffer_bytes(None)
        .receive_buffer_bytes(Some(99))
        .socket_connection_setup_timeout(Duration::from_millis(16))
        .socket_connection_setup_timeout_max(Duration::from_millis(17))
        .partitioner(
            |_: &str,
             _: Option<&[u8]>,
             _: Option<&[u8]>,
             _: &crate::partitioner::TopicLayout<'_>| Some(0),
        )
        .build()
        .unwrap();
    assert_eq!(c.client_id(), "me");
    assert_eq!(c.acks(), Acks::Leader);
    assert!(!c.idempotence_enabled());
    assert_eq!(c.linger(), Duration::from_millis(7));
    assert_eq!(c.batch_size(), 1000);
    assert_eq!(c.buffer_memory(), 2000);
    assert_eq!(c.max_block(), Duration::from_millis(3));
    assert_eq!(c.delivery_timeout(), Duration::from_millis(40_000));
    assert_eq!(c.request_timeout(), Duration::from_millis(20_000));
    assert_eq!(c.retries(), 4);
    assert_eq!(c.retry_backoff(), Duration::from_millis(11));
    assert_eq!(c.retry_backoff_max(), Duration::from_millis(12));
    assert_eq!(c.reconnect_backoff(), Duration::from_millis(13));
    assert_eq!(c.reconnect_backoff_max(), Duration::from_millis(14));
    assert_eq!(c.max_in_flight_requests_per_connection(), 9);
    assert_eq!(c.max_request_size(), 3000);
    assert_eq!(c.metadata_max_age(), Duration::from_millis(15));
    assert_eq!(c.metadata_max_idle(), Duration::from_millis(6000));
    assert!(c.partitioner_ignore_keys());
    assert_eq!(c.connections_max_idle(), None);
    assert_eq!(c.send_buffer_bytes(), None);
    assert_eq!(c.receive_buffer_bytes(), Some(99));
    assert_eq!(
        c.socket_connection_setup_timeout(),
        Duration::from_millis(16)
    );
    assert_eq!(
        c.socket_connection_setup_timeout_max(),
        Duration::from_millis(17)
    );
    assert!(c.partitioner().is_some());
    let v = c.values();
    assert!(v.contains(&("partitioner.class", "custom".to_string())));
    assert!(v.contains(&("acks", "1".to_string())));
    assert!(format!("{c:?}").contains("\"linger.ms\": \"7\""));
}

#[test]
fn properties_are_trimmed_and_later_wins() {
    let c = cfg(&[
        ("linger.ms", " 10 "),
        ("linger.ms", "20"),
        ("partitioner.ignore.keys", "TRUE"),
    ])
    .unwrap();
    assert_eq!(c.linger(), Duration::from_millis(20));
    assert!(c.partitioner_ignore_keys());
    let c = ProducerConfig::builder()
        .set("bootstrap.servers", "h:1")
        .linger(Duration::from_millis(1))
        .set("linger.ms", "2")
        .build()
        .unwrap();
    assert_eq!(c.linger(), Duration::from_millis(2));
}

#[test]
fn unknown_property_is_named() {
    assert_eq!(err(&[("linger.msec", "1")]).0, "linger.msec");
    assert!(err(&[("lingr.ms", "1")]).1.contains("unknown"));
}

#[test]
fn bootstrap_servers_parsing() {
    let c = cfg(&[(
        "bootstrap.servers",
        " b1:9092 , ,PLAINTEXT://b2.example.com:19092,[::1]:9093,10.0.0.1:1,",
    )])
    .unwrap();
    let s: Vec<String> = c
        .bootstrap_servers()
        .iter()
        .map(|b| b.to_string())
        .collect();
    assert_eq!(
        s,
        [
            "b1:9092",
            "b2.example.com:19092",
            "[::1]:9093",
            "10.0.0.1:1"
        ]
    );
    assert_eq!(c.bootstrap_servers()[2].host, "::1");
    for bad in [
        "b1",
        "b1:",
        ":9092",
        "b1:0",
        "b1:65536",
        "b1:-1",
        "b1:+5",
        "b1:x",
        "[::1",
        "[::1]",
        "b 1:9092",
        "b1:9092,b2",
    ] {
        let (p, r) = err(&[("bootstrap.servers", bad)]);
        assert_eq!(p, "bootstrap.servers", "{bad}");
        assert!(r.contains("host:port"), "{bad}: {r}");
    }
    assert!(err(&[("bootstrap.servers", " , ")])
        .1
        .contains("no bootstrap"));
    let e = ProducerConfig::from_properties([("linger.ms", "1")]).unwrap_err();
    assert!(matches!(e, Error::Config { ref property, .. } if property == "bootstrap.servers"));
    assert!(e.to_string().contains("missing"));
}

#[test]
fn client_id_generated_when_empty() {
    let a = cfg(&[("client.id", "")]).unwrap();
    let b = cfg(&[]).unwrap();
    let n = |c: &ProducerConfig| -> u64 {
        c.client_id()
            .strip_prefix("producer-")
            .unwrap()
            .parse()
            .unwrap()
    };
    assert!(n(&a) >= 1);
    assert_ne!(n(&a), n(&b));
    assert_eq!(cfg(&[("client.id", "x")]).unwrap().client_id(), "x");
}

#[test]
fn acks_values() {
    for (v, a) in [
        ("all", Acks::All),
        ("-1", Acks::All),
        ("1", Acks::Leader),
        ("0", Acks::None),
    ] {
        let c = cfg(&[("acks", v), ("enable.idempotence", "false")]).unwrap();
        assert_eq!(c.acks(), a);
    }
    assert_eq!(Acks::All.as_i16(), -1);
    assert_eq!(Acks::Leader.as_i16(), 1);
    assert_eq!(Acks::None.as_i16(), 0);
    for bad in ["2", "ALL", "", "one"] {
        assert_eq!(err(&[("acks", bad)]).0, "acks");
    }
}

#[test]
fn numbers_are_type_and_range_checked() {
    let cases: &[(&str, &str, &str)] = &[
        ("linger.ms", "-1", "at least 0"),
        ("linger.ms", "abc", "integer"),
        ("linger.ms", "1.5", "integer"),
        ("batch.size", "-1", "at least 0"),
        ("batch.size", "2147483648", "at most 2147483647"),
        ("buffer.memory", "-5", "at least 0"),
        ("max.block.ms", "-1", "at least 0"),
        ("request.timeout.ms", "-1", "at least 0"),
        ("delivery.timeout.ms", "99999999999", "at most"),
        ("retries", "-1", "at least 0"),
        ("retries", "2147483648", "at most"),
        ("retry.backoff.ms", "-1", "at least 0"),
        ("max.in.flight.requests.per.connection", "0", "at least 1"),
        ("max.request.size", "-1", "at least 0"),
        ("metadata.max.age.ms", "-1", "at least 0"),
        ("metadata.max.idle.ms", "4999", "at least 5000"),
        ("send.buffer.bytes", "-2", "at least -1"),
        ("receive.buffer.bytes", "-2", "at least -1"),
        ("partitioner.ignore.keys", "yes", "true or false"),
        ("enable.idempotence", "1", "true or false"),
        (
            "partitioner.adaptive.partitioning.enable",
            "x",
            "true or false",
        ),
        ("partitioner.availability.timeout.ms", "-1", "at least 0"),
        ("socket.connection.setup.timeout.ms", "-1", "at least 0"),
        ("compression.gzip.level", "10", "at most 9"),
        ("compression.gzip.level", "0", "-1 (default) or 1 to 9"),
        ("compression.lz4.level", "0", "at least 1"),
        ("compression.lz4.level", "18", "at most 17"),
        ("compression.zstd.level", "23", "at most 22"),
        ("compression.zstd.level", "-131073", "at least -131072"),
        ("metrics.num.samples", "x", "integer"),
        ("enable.metrics.push", "x", "true or false"),
    ];
    for (prop, value, why) in cases {
        let (p, r) = err(&[(prop, value)]);
        assert_eq!(&p, prop, "{prop}={value}");
        assert!(r.contains(why), "{prop}={value}: {r}");
    }
    // -1 for socket buffers and idle connections means "OS default" / "never"
    let c = cfg(&[
        ("send.buffer.bytes", "-1"),
        ("receive.buffer.bytes", "-1"),
        ("connections.max.idle.ms", "-1"),
        ("compression.zstd.level", "-5"),
        ("compression.gzip.level", "9"),
    ])
    .unwrap();
    assert_eq!(c.send_buffer_bytes(), None);
    assert_eq!(c.receive_buffer_bytes(), None);
    assert_eq!(c.connections_max_idle(), None);
}

#[test]
fn delivery_timeout_rule() {
    // explicit and too small: error naming delivery.timeout.ms
    let (p, r) = err(&[
        ("delivery.timeout.ms", "30000"),
        ("linger.ms", "5"),
        ("request.timeout.ms", "30000"),
    ]);
    assert_eq!(p, "delivery.timeout.ms");
    assert!(r.contains("30005"), "{r}");
    // exactly equal is fine
    let c = cfg(&[
        ("delivery.timeout.ms", "30005"),
        ("request.timeout.ms", "30000"),
    ])
    .unwrap();
    assert_eq!(c.delivery_timeout(), Duration::from_millis(30005));
    // default and too small: raised
    let c = cfg(&[("linger.ms", "100000"), ("request.timeout.ms", "30000")]).unwrap();
    assert_eq!(c.delivery_timeout(), Duration::from_millis(130_000));
    // capped at i32::MAX as Java computes in int
    let c = cfg(&[
        ("linger.ms", "9223372036854775807"),
        ("request.timeout.ms", "30000"),
    ])
    .unwrap();
    assert_eq!(c.delivery_timeout(), Duration::from_millis(i32::MAX as u64));
}

#[test]
fn idempotence_explicit_conflicts_are_errors() {
    let t = ("enable.idempotence", "true");
    let (p, r) = err(&[t, ("acks", "1")]);
    assert_eq!(p, "acks");
    assert!(r.contains("enable.idempotence"), "{r}");
    assert_eq!(err(&[t, ("acks", "0")]).0, "acks");
    assert_eq!(err(&[t, ("retries", "0")]).0, "retries");
    assert_eq!(
        err(&[t, ("max.in.flight.requests.per.connection", "6")]).0,
        "max.in.flight.requests.per.connection"
    );
    let c = cfg(&[
        t,
        ("max.in.flight.requests.per.connection", "5"),
        ("retries", "1"),
    ])
    .unwrap();
    assert!(c.idempotence_enabled());
    // explicitly "TRUE" counts as explicit too
    assert_eq!(
        err(&[("enable.idempotence", "TRUE"), ("acks", "1")]).0,
        "acks"
    );
}

#[test]
fn idempotence_default_is_turned_off_by_conflicts() {
    for conflict in [("acks", "1"), ("acks", "0"), ("retries", "0")] {
        let c = cfg(&[conflict]).unwrap();
        assert!(!c.idempotence_enabled(), "{conflict:?}");
    }
    assert!(cfg(&[("acks", "-1")]).unwrap().idempotence_enabled());
    // explicitly disabled: conflicts are fine
    let c = cfg(&[
        ("enable.idempotence", "false"),
        ("acks", "1"),
        ("retries", "0"),
        ("max.in.flight.requests.per.connection", "6"),
    ])
    .unwrap();
    assert!(!c.idempotence_enabled());
    assert_eq!(c.retries(), 0);
    assert_eq!(c.max_in_flight_requests_per_connection(), 6);
}

#[test]
fn more_than_five_in_flight_needs_idempotence_off_even_by_default() {
    // Java 4.4: an error unless enable.idempotence=false, whatever acks/retries say
    for extra in [None, Some(("acks", "1")), Some(("retries", "0"))] {
        let mut props = vec![("max.in.flight.requests.per.connection", "6")];
        props.extend(extra);
        let (p, r) = err(&props);
        assert_eq!(p, "max.in.flight.requests.per.connection", "{extra:?}");
        assert!(r.contains("enable.idempotence=false"), "{r}");
    }
}

#[test]
fn backoff_adjustments() {
    // max below base: static backoff at max (Java's ExponentialBackoff takes the min)
    let c = cfg(&[("retry.backoff.ms", "500"), ("retry.backoff.max.ms", "200")]).unwrap();
    assert_eq!(c.retry_backoff(), Duration::from_millis(200));
    assert_eq!(c.retry_backoff_max(), Duration::from_millis(200));
    // reconnect.backoff.ms alone: no exponential reconnect backoff
    let c = cfg(&[("reconnect.backoff.ms", "200")]).unwrap();
    assert_eq!(c.reconnect_backoff(), Duration::from_millis(200));
    assert_eq!(c.reconnect_backoff_max(), Duration::from_millis(200));
    let c = cfg(&[
        ("reconnect.backoff.ms", "200"),
        ("reconnect.backoff.max.ms", "5000"),
    ])
    .unwrap();
    assert_eq!(c.reconnect_backoff(), Duration::from_millis(200));
    assert_eq!(c.reconnect_backoff_max(), Duration::from_millis(5000));
    let c = cfg(&[("reconnect.backoff.max.ms", "10")]).unwrap();
    assert_eq!(c.reconnect_backoff(), Duration::from_millis(10));
    assert_eq!(c.reconnect_backoff_max(), Duration::from_millis(10));
    let c = cfg(&[
        ("socket.connection.setup.timeout.ms", "40000"),
        ("socket.connection.setup.timeout.max.ms", "20000"),
    ])
    .unwrap();
    assert_eq!(
        c.socket_connection_setup_timeout(),
        Duration::from_millis(20000)
    );
}

#[test]
fn compression_types() {
    for codec in ["gzip", "snappy", "lz4", "zstd"] {
        let want = CompressionType::from_name(codec).unwrap();
        if crate::compression::is_available(want) {
            let c = cfg(&[("compression.type", codec)]).unwrap();
            assert_eq!(c.compression(), want);
        } else {
            let (p, r) = err(&[("compression.type", codec)]);
            assert_eq!(p, "compression.type");
            assert!(r.contains("cargo feature"), "{r}");
            assert!(r.contains(codec), "{r}");
        }
    }
    if crate::compression::is_available(CompressionType::Gzip) {
        let c = cfg(&[
            ("compression.type", "gzip"),
            ("compression.gzip.level", "9"),
        ])
        .unwrap();
        assert_eq!(c.compression_level(), Some(9));
    }
    let (p, r) = err(&[("compression.type", "brotli")]);
    assert_eq!(p, "compression.type");
    assert!(r.contains("invalid value") && !r.contains("yet"), "{r}");
    assert!(err(&[("compression.type", "GZIP")])
        .1
        .contains("invalid value"));
    let c = cfg(&[("compression.type", "none")]).unwrap();
    assert_eq!(c.compression(), CompressionType::None);
}

#[test]
fn security_protocols() {
    let c = cfg(&[("security.protocol", "plaintext")]).unwrap();
    assert_eq!(c.security_protocol(), SecurityProtocol::Plaintext);
    assert_eq!(c.sasl_mechanism(), None);
    for sp in ["SSL", "sasl_ssl"] {
        if cfg!(feature = "tls") {
            break;
        }
        let (p, r) = err(&[("security.protocol", sp)]);
        assert_eq!(p, "security.protocol");
        assert!(r.contains("TLS") && r.contains("\"rustls\""), "{r}");
    }
    if cfg!(feature = "tls") {
        let c = cfg(&[("security.protocol", "ssl")]).unwrap();
        assert_eq!(c.security_protocol(), SecurityProtocol::Ssl);
        assert!(c.tls_connector().is_some());
        // SASL_SSL needs the SASL credentials as SASL_PLAINTEXT does
        let (p, _) = err(&[("security.protocol", "SASL_SSL")]);
        assert_eq!(p, "sasl.jaas.config");
    }
    let (p, r) = err(&[("security.protocol", "TLS")]);
    assert_eq!(p, "security.protocol");
    assert!(r.contains("invalid value"), "{r}");
    // ssl.* and sasl.* are accepted (and unused) under PLAINTEXT, even incomplete
    let c = cfg(&[
        ("ssl.truststore.location", "/x"),
        ("sasl.mechanism", "GSSAPI"),
        ("sasl.jaas.config", "garbage"),
    ])
    .unwrap();
    assert_eq!(c.sasl_username(), None);
}

const PLAIN_JAAS: &str = "org.apache.kafka.common.security.plain.PlainLoginModule required \
                          username=\"alice\" password=\"alice-secret\";";

#[test]
fn sasl_plaintext_with_jaas_config() {
    let c = cfg(&[
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.jaas.config", PLAIN_JAAS),
    ])
    .unwrap();
    assert_eq!(c.security_protocol(), SecurityProtocol::SaslPlaintext);
    assert_eq!(c.sasl_mechanism(), Some(SaslMechanism::Plain)); // the default
    assert_eq!(c.sasl_username(), Some("alice"));
    let s = c.sasl_settings().unwrap();
    assert_eq!(s.password, "alice-secret");
    for m in ["SCRAM-SHA-256", "scram-sha-512", "PLAIN"] {
        let c = cfg(&[
            ("security.protocol", "sasl_plaintext"),
            ("sasl.mechanism", m),
            (
                "sasl.jaas.config",
                "org.apache.kafka.common.security.scram.ScramLoginModule required \
                 username=alice password=pw;",
            ),
        ]);
        let want = SaslMechanism::from_name(m).unwrap();
        if want.is_available() {
            assert_eq!(c.unwrap().sasl_mechanism(), Some(want));
        } else {
            let Err(Error::Config { property, reason }) = c else {
                panic!("{m}: expected an error")
            };
            assert_eq!(property, "sasl.mechanism");
            assert!(reason.contains("sasl-scram"), "{reason}");
        }
    }
}

#[test]
fn sasl_config_errors() {
    let sasl = ("security.protocol", "SASL_PLAINTEXT");
    // missing credentials: names sasl.jaas.config
    let (p, r) = err(&[sasl]);
    assert_eq!(p, "sasl.jaas.config");
    assert!(
        r.contains("missing") && r.contains("PlainLoginModule"),
        "{r}"
    );
    let (p, r) = err(&[sasl, ("sasl.mechanism", "SCRAM-SHA-256")]);
    assert_eq!(
        p,
        if cfg!(feature = "sasl-scram") {
            "sasl.jaas.config"
        } else {
            "sasl.mechanism"
        }
    );
    assert!(
        r.contains("ScramLoginModule") || r.contains("sasl-scram"),
        "{r}"
    );
    let (p, r) = err(&[
        sasl,
        ("sasl.mechanism", "OAUTHBEARER"),
        ("sasl.jaas.config", PLAIN_JAAS),
    ]);
    assert_eq!(p, "sasl.jaas.config");
    assert!(r.contains("OAuthBearerLoginModule"), "{r}");
    for m in ["GSSAPI", "SCRAM-SHA-1", ""] {
        let (p, r) = err(&[
            sasl,
            ("sasl.mechanism", m),
            ("sasl.jaas.config", PLAIN_JAAS),
        ]);
        assert_eq!(p, "sasl.mechanism", "{m}");
        assert!(r.contains("not supported"), "{m}: {r}");
    }
    let cases: &[(&str, &str)] = &[
        ("", "empty"),
        ("   ", "empty"),
        (
            "org.apache.kafka.common.security.plain.PlainLoginModule required;",
            "username",
        ),
        ("x.PlainLoginModule required username=\"a\";", "password"),
        ("x.PlainLoginModule required password=\"a\";", "username"),
        (
            "x.PlainLoginModule required username=\"\" password=\"a\";",
            "empty",
        ),
        (
            "x.PlainLoginModule username=\"a\" password=\"b\";",
            "control flag",
        ),
        (
            "x.PlainLoginModule mandatory username=\"a\" password=\"b\";",
            "control flag",
        ),
        (
            "x.PlainLoginModule required username \"a\" password=\"b\";",
            "'='",
        ),
        ("x.PlainLoginModule required username=;", "value"),
        (
            "x.PlainLoginModule required username=\"a password=b;",
            "unterminated",
        ),
        ("x.PlainLoginModule required /* note", "unterminated"),
        (
            "x.PlainLoginModule required username=a password=b; y.PlainLoginModule required;",
            "more than one",
        ),
        (
            "com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true;",
            "not supported",
        ),
        (
            "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;",
            "not supported",
        ),
        (
            "x.ScramLoginModule required username=a password=b tokenauth=true;",
            "tokenauth",
        ),
        ("= required;", "class name"),
    ];
    for (jaas, why) in cases {
        let (p, r) = err(&[sasl, ("sasl.jaas.config", jaas)]);
        assert_eq!(p, "sasl.jaas.config", "{jaas}");
        assert!(r.contains(why), "{jaas}: {r}");
    }
    // an error never quotes the secret
    let (_, r) = err(&[
        sasl,
        (
            "sasl.jaas.config",
            "x.PlainLoginModule required password=\"hunter2\";",
        ),
    ]);
    assert!(!r.contains("hunter2"), "{r}");
}

#[test]
fn jaas_parsing() {
    let m = parse_jaas(
        "  org.apache.kafka.common.security.scram.ScramLoginModule   REQUIRED\n\t\
         username = \"al ice\"  password=\"p\\\"w\\\\d;=x\\n\" // comment\n\
         /* a block\ncomment */ extra=plain_word-1 q='single \"q\"';  ",
    )
    .unwrap();
    assert_eq!(
        m.class,
        "org.apache.kafka.common.security.scram.ScramLoginModule"
    );
    assert_eq!(m.flag, "REQUIRED");
    let opts: Vec<(&str, &str)> = m
        .options
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        opts,
        [
            ("username", "al ice"),
            ("password", "p\"w\\d;=x\n"),
            ("extra", "plain_word-1"),
            ("q", "single \"q\""),
        ]
    );
    // the trailing ';' may be left out
    let m = parse_jaas("a.PlainLoginModule optional username=u password=p").unwrap();
    assert_eq!(m.options.len(), 2);
    // unknown options are ignored, and the module's package does not matter
    let c = cfg(&[
        ("security.protocol", "SASL_PLAINTEXT"),
        (
            "sasl.jaas.config",
            "PlainLoginModule required serviceName=kafka username=u password=p;",
        ),
    ])
    .unwrap();
    assert_eq!(c.sasl_username(), Some("u"));
}

#[test]
fn typed_sasl_setters_round_trip_any_password() {
    let tricky = "p\"a\\ss w;o=rd\n'";
    for (build, want) in [
        (
            ProducerConfig::builder().sasl_plain("bob", tricky),
            SaslMechanism::Plain,
        ),
        (
            ProducerConfig::builder().sasl_scram_sha256("bob", tricky),
            SaslMechanism::ScramSha256,
        ),
        (
            ProducerConfig::builder().sasl_scram_sha512("bob", tricky),
            SaslMechanism::ScramSha512,
        ),
    ] {
        if !want.is_available() {
            continue;
        }
        let builder = build.bootstrap_servers("h:1");
        assert!(!format!("{builder:?}").contains("w;o=rd"), "{builder:?}");
        let c = builder.build().unwrap();
        assert_eq!(c.security_protocol(), SecurityProtocol::SaslPlaintext);
        assert_eq!(c.sasl_mechanism(), Some(want));
        assert_eq!(c.sasl_username(), Some("bob"));
        assert_eq!(c.sasl_settings().unwrap().password, tricky);
        let debug = format!("{c:?}");
        assert!(!debug.contains("w;o=rd"), "{debug}");
        assert!(debug.contains("[hidden]"), "{debug}");
        assert!(!format!("{:?}", c.sasl_settings().unwrap()).contains("w;o=rd"));
        assert!(c
            .values()
            .contains(&("sasl.mechanism", want.name().to_string())));
    }
    // SSL + credentials becomes SASL_SSL (without the rustls feature: an error naming it)
    let r = ProducerConfig::builder()
        .bootstrap_servers("h:1")
        .security_protocol(SecurityProtocol::Ssl)
        .sasl_plain("u", "p")
        .build();
    if cfg!(feature = "tls") {
        assert_eq!(r.unwrap().security_protocol(), SecurityProtocol::SaslSsl);
    } else {
        assert!(
            matches!(r, Err(Error::Config { ref property, ref reason })
                if property == "security.protocol" && reason.contains("SASL_SSL")),
            "{r:?}"
        );
    }
    // an explicit SASL protocol is kept; the mechanism setter alone does not set one
    let c = ProducerConfig::builder()
        .bootstrap_servers("h:1")
        .sasl_mechanism(SaslMechanism::Plain)
        .build()
        .unwrap();
    assert_eq!(c.security_protocol(), SecurityProtocol::Plaintext);
    // other secrets are hidden by the builder's Debug too
    let b = ProducerConfig::builder().set("ssl.keystore.password", "ks-pass");
    assert!(!format!("{b:?}").contains("ks-pass"));
}

#[test]
fn a_transactional_id_implies_idempotence_and_refuses_it_off() {
    let c = cfg(&[("transactional.id", "tx-1")]).unwrap();
    assert_eq!(c.transactional_id(), Some("tx-1"));
    assert!(c.idempotence_enabled());
    assert_eq!(c.transaction_timeout(), Duration::from_secs(60));
    let c = cfg(&[
        ("transactional.id", "tx-1"),
        ("transaction.timeout.ms", "5000"),
    ])
    .unwrap();
    assert_eq!(c.transaction_timeout(), Duration::from_secs(5));
    assert_eq!(cfg(&[]).unwrap().transactional_id(), None);
    // Explicitly off, or turned off by acks (Java checks after the idempotence rules).
    for props in [
        [
            ("transactional.id", "tx-1"),
            ("enable.idempotence", "false"),
        ],
        [("transactional.id", "tx-1"), ("acks", "1")],
    ] {
        let (p, r) = err(&props);
        assert_eq!(p, "enable.idempotence", "{props:?}");
        assert!(r.contains("transactional.id"), "{r}");
    }
    let (p, _) = err(&[("transactional.id", "")]);
    assert_eq!(p, "transactional.id");
}

#[test]
fn accepted_java_properties() {
    let c = cfg(&[
        (
            "key.serializer",
            "org.apache.kafka.common.serialization.StringSerializer",
        ),
        (
            "value.serializer",
            "org.apache.kafka.common.serialization.ByteArraySerializer",
        ),
        ("partitioner.adaptive.partitioning.enable", "false"),
        ("partitioner.availability.timeout.ms", "100"),
        ("interceptor.classes", ""),
        ("metrics.num.samples", "3"),
        ("client.dns.lookup", "use_all_dns_ips"),
    ])
    .unwrap();
    assert!(!c.partitioner_adaptive_partitioning());
    assert_eq!(
        c.partitioner_availability_timeout(),
        Duration::from_millis(100)
    );
    for (prop, value) in [
        ("interceptor.classes", "com.example.Interceptor"),
        ("config.providers", "file"),
        ("partitioner.class", "com.example.MyPartitioner"),
    ] {
        let (p, r) = err(&[(prop, value)]);
        assert_eq!(p, prop);
        assert!(
            r.contains("not supported") || r.contains("Rust Partitioner"),
            "{r}"
        );
    }
}

#[test]
fn properties_text() {
    let text = "# comment\n! also comment\n\n  bootstrap.servers = b1:9092,\\\n    b2:9092\nlinger.ms:10\nacks all\nclient.id=\nretries=3 \n";
    let props = ProducerConfig::parse_properties(text);
    assert_eq!(
        props,
        [
            (
                "bootstrap.servers".to_string(),
                "b1:9092,b2:9092".to_string()
            ),
            ("linger.ms".to_string(), "10".to_string()),
            ("acks".to_string(), "all".to_string()),
            ("client.id".to_string(), String::new()),
            ("retries".to_string(), "3".to_string()),
        ]
    );
    let c = ProducerConfig::from_properties(props).unwrap();
    assert_eq!(c.bootstrap_servers().len(), 2);
    assert_eq!(c.retries(), 3);
    // a continued last line without a newline
    assert_eq!(
        ProducerConfig::parse_properties("a=b\\"),
        [("a".to_string(), "b".to_string())]
    );
}

/// Log lines written by this thread while `f` runs (a process-wide logger that keeps each
/// thread's lines apart, so parallel tests do not see each other's).
fn logged<R>(f: impl FnOnce() -> R) -> (R, Vec<String>) {
    use std::cell::RefCell;
    thread_local!(static LINES: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) });
    struct Capture;
    impl log::Log for Capture {
        fn enabled(&self, _: &log::Metadata<'_>) -> bool {
            true
        }
        fn log(&self, r: &log::Record<'_>) {
            if r.level() <= log::Level::Warn {
                LINES.with(|l| l.borrow_mut().push(r.args().to_string()));
            }
        }
        fn flush(&self) {}
    }
    static CAPTURE: Capture = Capture;
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        let _ = log::set_logger(&CAPTURE);
        log::set_max_level(log::LevelFilter::Warn);
    });
    LINES.with(|l| l.borrow_mut().clear());
    let r = f();
    (r, LINES.with(|l| std::mem::take(&mut *l.borrow_mut())))
}

#[test]
fn unknown_property_suggests_the_closest_name() {
    let (p, r) = err(&[("linger.msx", "1")]);
    assert_eq!(p, "linger.msx");
    assert_eq!(
        r,
        "unknown property `linger.msx`; did you mean `linger.ms`?"
    );
    let e = cfg(&[("linger.msx", "1")]).unwrap_err().to_string();
    assert!(e.contains("did you mean `linger.ms`?"), "{e}");
    // swapped letters count as one edit
    assert!(err(&[("btach.size", "1")]).1.contains("`batch.size`"));
    assert!(err(&[("enable.idempotance", "true")])
        .1
        .contains("`enable.idempotence`"));
    // nothing close: no suggestion
    let (p, r) = err(&[("schema.registry.url", "http://localhost:8081")]);
    assert_eq!(p, "schema.registry.url");
    assert_eq!(r, "unknown property `schema.registry.url`");
    assert!(!err(&[("frobnicate", "1")]).1.contains("did you mean"));
}

#[test]
fn allow_unknown_properties_logs_once_and_skips() {
    let text = "bootstrap.servers=localhost:9092\nschema.registry.url=http://localhost:8081\n\
                linger.ms=7\nbasic.auth.user.info=user:secret-pass\n";
    let props = ProducerConfig::parse_properties(text);
    assert!(ProducerConfig::from_properties(props.clone()).is_err());
    let builder = props
        .into_iter()
        .fold(ProducerConfig::builder(), |b, (k, v)| b.set(k, v))
        .allow_unknown_properties(true);
    let (c, lines) = logged(|| builder.clone().build());
    let c = c.unwrap();
    assert_eq!(c.linger(), Duration::from_millis(7));
    let unknown: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("isn't a known"))
        .collect();
    assert_eq!(
        unknown,
        [
            "The configuration 'basic.auth.user.info' was supplied but isn't a known config.",
            "The configuration 'schema.registry.url' was supplied but isn't a known config.",
        ]
    );
    // skipped names are not shown as values, and the builder hides what looks like a secret
    assert!(!c.values().iter().any(|(k, _)| k.contains("schema")));
    assert!(!format!("{builder:?}").contains("secret-pass"));
    // known names are still checked strictly
    let r = ProducerConfig::builder()
        .bootstrap_servers("h:1")
        .allow_unknown_properties(true)
        .set("linger.ms", "soon")
        .build();
    assert!(matches!(r, Err(Error::Config { ref property, .. }) if property == "linger.ms"));
}

#[test]
fn enum_values_are_checked_with_javas_values() {
    let (p, r) = err(&[("client.dns.lookup", "default")]);
    assert_eq!(p, "client.dns.lookup");
    assert!(
        r.contains("use_all_dns_ips") && r.contains("resolve_canonical_bootstrap_servers_only"),
        "{r}"
    );
    // Java compares client.dns.lookup exactly
    assert_eq!(
        err(&[("client.dns.lookup", "USE_ALL_DNS_IPS")]).0,
        "client.dns.lookup"
    );
    assert_eq!(
        cfg(&[]).unwrap().client_dns_lookup(),
        ClientDnsLookup::UseAllDnsIps
    );
    let c = cfg(&[(
        "client.dns.lookup",
        "resolve_canonical_bootstrap_servers_only",
    )])
    .unwrap();
    assert_eq!(
        c.client_dns_lookup(),
        ClientDnsLookup::ResolveCanonicalBootstrapServersOnly
    );
    assert!(c.values().contains(&(
        "client.dns.lookup",
        "resolve_canonical_bootstrap_servers_only".to_string()
    )));
    let c = ProducerConfig::builder()
        .bootstrap_servers("h:1")
        .client_dns_lookup(ClientDnsLookup::ResolveCanonicalBootstrapServersOnly)
        .build()
        .unwrap();
    assert_eq!(
        c.client_dns_lookup(),
        ClientDnsLookup::ResolveCanonicalBootstrapServersOnly
    );

    // metadata.recovery.strategy: none or rebootstrap, any case (Java's CaseInsensitiveValidString)
    cfg(&[("metadata.recovery.strategy", "NONE")]).unwrap();
    cfg(&[("metadata.recovery.strategy", "rebootstrap")]).unwrap();
    let (p, r) = err(&[("metadata.recovery.strategy", "sometimes")]);
    assert_eq!(p, "metadata.recovery.strategy");
    assert!(r.contains("none, rebootstrap"), "{r}");
    let (p, r) = err(&[("metrics.recording.level", "info")]);
    assert_eq!(p, "metrics.recording.level");
    assert!(r.contains("INFO, DEBUG, TRACE"), "{r}");
    // the other enums name their values too
    assert!(err(&[("acks", "2")]).1.contains("all, -1, 0, 1"));
    assert!(err(&[("compression.type", "brotli")])
        .1
        .contains("none, gzip, snappy, lz4, zstd"));
    assert!(err(&[("security.protocol", "TLS")])
        .1
        .contains("PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL"));
}

#[test]
fn ignored_properties_set_are_warned_once_with_reasons() {
    let (c, lines) = logged(|| {
        cfg(&[
            ("partitioner.rack.aware", "true"),
            ("metric.reporters", "x.Reporter"),
            ("partitioner.adaptive.partitioning.enable", "false"),
            ("linger.ms", "10"),
        ])
    });
    c.unwrap();
    let warned: Vec<&String> = lines.iter().filter(|l| l.contains("no effect")).collect();
    assert_eq!(warned.len(), 1, "{lines:?}");
    let w = warned[0];
    assert!(
        w.contains("partitioner.rack.aware (rack-aware partitioning is not implemented)"),
        "{w}"
    );
    assert!(!w.contains("partitioner.adaptive"), "effective: {w}");
    assert!(
        w.contains("metric.reporters (no JMX or metrics push in Rust"),
        "{w}"
    );
    assert!(!w.contains("linger.ms"), "{w}");

    // set to their defaults, or not set: nothing to warn about
    for props in [
        &[][..],
        &[
            ("partitioner.adaptive.partitioning.enable", "true"),
            ("metrics.num.samples", "2"),
            (
                "metric.reporters",
                "org.apache.kafka.common.metrics.JmxReporter",
            ),
        ][..],
    ] {
        let (c, lines) = logged(|| cfg(props));
        c.unwrap();
        assert!(
            !lines.iter().any(|l| l.contains("no effect")),
            "{props:?}: {lines:?}"
        );
    }
}

#[test]
fn property_table_is_consistent() {
    use super::properties::{lookup, DefaultValue, Range, Status, Type, PROPERTIES};
    let mut names = std::collections::BTreeSet::new();
    for p in PROPERTIES {
        assert!(names.insert(p.name), "{} twice", p.name);
        match (p.ty, p.default, p.range) {
            (Type::Enum { values, .. }, DefaultValue::Text(d), _) => {
                assert!(values.contains(&d), "{}", p.name)
            }
            (_, DefaultValue::Num(n), Range::Between(min, max)) => {
                assert!((min..=max).contains(&n), "{}", p.name)
            }
            (Type::Bool, d, _) => assert!(matches!(d, DefaultValue::Bool(_)), "{}", p.name),
            _ => {}
        }
        if let Status::Ignored { reason } | Status::Unsupported { reason } = p.status {
            assert!(!reason.is_empty() && !reason.contains('|'), "{}", p.name);
        }
    }
    // the network properties take effect (src/net reads their getters)
    for name in [
        "send.buffer.bytes",
        "receive.buffer.bytes",
        "connections.max.idle.ms",
        "socket.connection.setup.timeout.ms",
        "socket.connection.setup.timeout.max.ms",
        "client.dns.lookup",
    ] {
        assert_eq!(lookup(name).unwrap().status, Status::Effective, "{name}");
    }
    // adaptive partitioning (src/partitioner/adaptive.rs, src/sender/adaptive.rs)
    for name in [
        "partitioner.adaptive.partitioning.enable",
        "partitioner.availability.timeout.ms",
    ] {
        assert_eq!(lookup(name).unwrap().status, Status::Effective, "{name}");
    }
}

#[test]
fn values_follow_the_rules() {
    let c = cfg(&[
        ("linger.ms", "100000"),
        ("retry.backoff.ms", "500"),
        ("retry.backoff.max.ms", "200"),
        ("acks", "1"),
    ])
    .unwrap();
    let v = c.values();
    let get = |name: &str| v.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str());
    assert_eq!(get("delivery.timeout.ms"), Some("130000"));
    assert_eq!(get("retry.backoff.ms"), Some("200"));
    assert_eq!(get("enable.idempotence"), Some("false"));
    assert_eq!(get("client.id"), Some(c.client_id()));
    assert_eq!(get("bootstrap.servers"), Some("localhost:9092"));
    assert_eq!(get("acks"), Some("1"));
    // ignored properties are not shown as if they were in use
    assert_eq!(get("metric.reporters"), None);
    // nor sasl.* / ssl.* under PLAINTEXT
    assert_eq!(get("sasl.mechanism"), None);
    assert_eq!(get("ssl.truststore.location"), None);
}

/// The README's property table is generated from the code. To update it after changing the
/// table: `UPDATE_README=1 cargo test --lib readme_property_table`.
#[test]
fn readme_property_table_matches_the_code() {
    let want = super::readme::markdown_table();
    crate::readme_section::check("properties", &want, "readme_property_table");
}

#[test]
fn batch_max_size_follows_an_explicit_batch_size() {
    let c = |props: &[(&str, &str)]| {
        let mut b = ProducerConfig::builder().bootstrap_servers("h:1");
        for (k, v) in props {
            b = b.set(*k, *v);
        }
        b.build().unwrap()
    };
    // Default: batches grow under backlog up to librdkafka's batch size.
    assert_eq!(c(&[]).batch_max_size(), 1_000_000);
    // A batch.size chosen for the Java client keeps Java's batches...
    assert_eq!(c(&[("batch.size", "65536")]).batch_max_size(), 65536);
    // ... unless the bound is set too.
    let both = c(&[("batch.size", "65536"), ("batch.max.size", "262144")]);
    assert_eq!(both.batch_max_size(), 262144);
    assert_eq!(c(&[("batch.max.size", "0")]).batch_max_size(), 0);
    assert!(ProducerConfig::builder()
        .bootstrap_servers("h:1")
        .set("batch.max.size", "-1")
        .build()
        .is_err());
}
