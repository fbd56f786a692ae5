//! Proves the harness: a topic made with Kafka's topic tool, records written by Kafka's console
//! producer, read back by Kafka's console consumer, all through `scripts/kafka`.

mod support;

#[test]
fn java_tools_round_trip_through_the_harness() {
    let bs = support::bootstrap();
    let topic = support::unique_topic("harness");
    support::create_topic(&bs, &topic, 3, 1, &[]);
    let input = "alpha\tone\nbeta\ttwo\ngamma\tthree\n";
    support::kafka_tool(
        &[
            "console-producer",
            "--bootstrap-server",
            &bs,
            "--topic",
            &topic,
            "--reader-property",
            "parse.key=true",
        ],
        Some(input.as_bytes()),
    );
    let mut got = support::consume(&bs, &topic, 3, 30_000);
    assert_eq!(got.len(), 3, "read back {got:?}");
    got.sort_by(|a, b| a.key.cmp(&b.key));
    let kv: Vec<(&str, &str)> = got
        .iter()
        .map(|c| (c.key.as_str(), c.value.as_str()))
        .collect();
    assert_eq!(
        kv,
        vec![("alpha", "one"), ("beta", "two"), ("gamma", "three")]
    );
    // Within each partition the offsets are 0, 1, ... with no gap.
    for p in 0..3 {
        let mut offs: Vec<i64> = got
            .iter()
            .filter(|c| c.partition == p)
            .map(|c| c.offset)
            .collect();
        offs.sort();
        assert_eq!(
            offs,
            (0..offs.len() as i64).collect::<Vec<_>>(),
            "partition {p}: {got:?}"
        );
    }
    for c in &got {
        assert!(
            c.timestamp.is_some_and(|t| t > 1_600_000_000_000),
            "create time printed: {c:?}"
        );
    }
}

#[test]
fn three_node_cluster_takes_a_replicated_topic() {
    let bs = support::bootstrap3();
    let topic = support::unique_topic("harness-rf3");
    support::create_topic(&bs, &topic, 3, 3, &[]);
    let desc = support::kafka_tool(
        &[
            "topics",
            "--bootstrap-server",
            &bs,
            "--describe",
            "--topic",
            &topic,
        ],
        None,
    );
    assert!(desc.contains("ReplicationFactor: 3"), "{desc}");
    let lines: Vec<&str> = desc.lines().filter(|l| l.contains("Partition:")).collect();
    assert_eq!(lines.len(), 3, "{desc}");
}

/// `scripts/kafka start --security`: SASL_PLAINTEXT (PLAIN), SSL, SASL_SSL (SCRAM-SHA-512),
/// REAUTH (OAUTHBEARER) and MTLS (a keytool PKCS12 client store)
/// listeners beside PLAINTEXT, with the self-signed CA the script prints. Runs its own broker
/// (port 9492, listeners 9494-9499, apart from the shared one `scripts/test` starts on 9392)
/// in its own run directory, stopped at the end.
#[test]
fn security_listeners_take_plain_ssl_and_scram_clients() {
    struct Stop(std::path::PathBuf);
    impl Drop for Stop {
        fn drop(&mut self) {
            let _ = std::process::Command::new(support::kafka_script())
                .arg("stop")
                .env("KAFKA_RUN_DIR", &self.0)
                .status();
        }
    }
    let run_dir = std::env::temp_dir().join(format!("kafka-sync-security-{}", std::process::id()));
    let _stop = Stop(run_dir.clone());
    let run = |args: &[&str], stdin: Option<&[u8]>| -> String {
        use std::io::Write;
        let mut cmd = std::process::Command::new(support::kafka_script());
        cmd.args(args).env("KAFKA_RUN_DIR", &run_dir);
        cmd.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let mut si = child.stdin.take().unwrap();
        si.write_all(stdin.unwrap_or_default()).unwrap();
        drop(si);
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "scripts/kafka {args:?}: {stderr}");
        String::from_utf8_lossy(&out.stdout).into_owned() + &stderr
    };
    let started = run(&["start", "--port", "9492", "--security"], None);
    let ca = started
        .lines()
        .find_map(|l| l.strip_prefix("kafka: CA certificate: "))
        .expect("the CA file is printed")
        .trim()
        .to_string();
    assert!(std::path::Path::new(&ca).exists(), "{ca}");
    run(
        &[
            "topics",
            "--bootstrap-server",
            "127.0.0.1:9492",
            "--create",
            "--topic",
            "secure",
            "--partitions",
            "1",
        ],
        None,
    );
    let clients = [
        ("127.0.0.1:9494", "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\nsasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"alice\" password=\"alice-secret\";\n".to_string(), "plain"),
        ("127.0.0.1:9495", format!("security.protocol=SSL\nssl.truststore.type=PEM\nssl.truststore.location={ca}\n"), "ssl"),
        ("127.0.0.1:9496", format!("security.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-512\nsasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"alice\" password=\"alice-secret\";\nssl.truststore.type=PEM\nssl.truststore.location={ca}\n"), "scram"),
        // The REAUTH listener takes Java's unsecured OAUTHBEARER login.
        ("127.0.0.1:9497", "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=OAUTHBEARER\nsasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub=\"alice\";\n".to_string(), "reauth-oauthbearer"),
        // The MTLS listener takes the keytool-made client.p12 beside the CA file.
        ("127.0.0.1:9499", format!("security.protocol=SSL\nssl.truststore.type=PEM\nssl.truststore.location={ca}\nssl.keystore.type=PKCS12\nssl.keystore.location={}\nssl.keystore.password=changeit\n", std::path::Path::new(&ca).with_file_name("client.p12").display()), "mtls"),
    ];
    for (bs, props, value) in &clients {
        let file = run_dir.join(format!("{value}.properties"));
        std::fs::write(&file, props).unwrap();
        let file = file.to_string_lossy().into_owned();
        run(
            &[
                "console-producer",
                "--bootstrap-server",
                bs,
                "--topic",
                "secure",
                "--command-config",
                &file,
            ],
            Some(format!("{value}\n").as_bytes()),
        );
    }
    let read = run(
        &[
            "console-consumer",
            "--bootstrap-server",
            "127.0.0.1:9492",
            "--topic",
            "secure",
            "--from-beginning",
            "--max-messages",
            "5",
            "--timeout-ms",
            "20000",
        ],
        None,
    );
    for (_, _, value) in &clients {
        assert!(
            read.lines().any(|l| l == *value),
            "{value} not read back: {read}"
        );
    }
}

/// A version before 3.4 runs in ZooKeeper mode: `scripts/kafka start` starts ZooKeeper on
/// port + 1 and the broker on it, `status` shows both, and `stop --port P` ends ZooKeeper too.
/// Runs its own Kafka 2.8.2 (port 9892, ZooKeeper 9893) in its own run directory.
#[test]
fn zookeeper_mode_broker_starts_and_stop_ends_its_zookeeper() {
    let run_dir = std::env::temp_dir().join(format!("kafka-sync-zk-{}", std::process::id()));
    let run = |args: &[&str]| -> String {
        let out = std::process::Command::new(support::kafka_script())
            .args(args)
            .env("KAFKA_RUN_DIR", &run_dir)
            .env("KAFKA_VERSION", "2.8.2")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "scripts/kafka {args:?}: {stderr}");
        String::from_utf8_lossy(&out.stdout).into_owned() + &stderr
    };
    struct Stop(Box<dyn Fn()>);
    impl Drop for Stop {
        fn drop(&mut self) {
            (self.0)()
        }
    }
    let rd = run_dir.clone();
    let _stop = Stop(Box::new(move || {
        let _ = std::process::Command::new(support::kafka_script())
            .args(["stop", "--port", "9892"])
            .env("KAFKA_RUN_DIR", &rd)
            .status();
        let _ = std::fs::remove_dir_all(&rd);
    }));
    let started = run(&["start", "--port", "9892"]);
    assert!(started.contains("zookeeper mode"), "{started}");
    let zk_pid: u32 = std::fs::read_to_string(run_dir.join("single-9892/zookeeper/pid"))
        .expect("ZooKeeper's pid file")
        .trim()
        .parse()
        .unwrap();
    let status = run(&["status"]);
    assert!(
        status.contains("single-9892 zookeeper: running") && status.contains("127.0.0.1:9893"),
        "{status}"
    );
    run(&[
        "topics",
        "--bootstrap-server",
        "127.0.0.1:9892",
        "--create",
        "--topic",
        "zk-mode",
        "--partitions",
        "2",
    ]);
    let producer: kafka_sync::Producer<String, String> = kafka_sync::Producer::new(
        kafka_sync::ProducerConfig::builder()
            .bootstrap_servers("127.0.0.1:9892")
            .build()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(producer.partitions_for("zk-mode").unwrap().len(), 2);
    producer.close(std::time::Duration::from_secs(5));
    run(&["stop", "--port", "9892"]);
    assert!(
        !std::path::Path::new(&format!("/proc/{zk_pid}")).exists(),
        "ZooKeeper (pid {zk_pid}) still runs after stop"
    );
    let addr = "127.0.0.1:9893".parse().unwrap();
    assert!(
        std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(1)).is_err(),
        "something still listens on ZooKeeper's port"
    );
}
