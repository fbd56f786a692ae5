//! Transactions while brokers die: the 3-node cluster (`KAFKA_BOOTSTRAP_3`), transactions of
//! 100 to 1000 records that commit or abort at random, and the transaction coordinator's
//! broker and the partition leaders SIGKILLed and restarted in turn, 5 times each. Afterwards
//! Kafka's console consumer at `read_committed` must see every committed transaction whole and
//! exactly once, and nothing of an aborted or failed one; every `commit_transaction` that
//! returned `Ok` must be in the log, and every call and record must have had its answer.
//!
//! The only test here that stops brokers of the 3-node cluster; cargo runs test binaries one
//! after another, so none of the others sees it.

mod support;

use kafka_sync::{Error, Producer, ProducerConfig, ProducerRecord, SendFuture};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What became of each transaction, by number.
#[derive(Debug, Default)]
struct Outcomes {
    /// `commit_transaction` returned `Ok`: number -> records.
    committed: BTreeMap<u64, usize>,
    /// Aborted on purpose, or failed and aborted, or cut short by a fatal error.
    not_committed: BTreeMap<u64, &'static str>,
}

fn producer(bootstrap: &str, txn_id: &str) -> Producer<String, String> {
    let config = ProducerConfig::builder()
        .bootstrap_servers(bootstrap)
        .transactional_id(txn_id)
        .set("transaction.timeout.ms", "30000")
        .set("delivery.timeout.ms", "60000")
        .set("request.timeout.ms", "5000")
        .set("max.block.ms", "60000")
        .build()
        .expect("valid config");
    Producer::new(config).expect("producer")
}

/// Calls `op` again while it times out (the operation goes on; Java says the same), up to
/// `budget`; panics if it never answers.
fn until_answered(
    what: &str,
    budget: Duration,
    op: impl Fn() -> Result<(), Error>,
) -> Result<(), Error> {
    let started = Instant::now();
    loop {
        match op() {
            Err(e) if e.is_retriable() && started.elapsed() < budget => {
                eprintln!("{what}: {e}; waiting again");
            }
            Err(e) if e.is_retriable() => panic!("{what} never answered in {budget:?}: {e}"),
            other => return other,
        }
    }
}

/// A producer whose `init_transactions` returned `Ok` (a new one after a fatal error).
fn ready_producer(bootstrap: &str, txn_id: &str) -> Producer<String, String> {
    loop {
        let p = producer(bootstrap, txn_id);
        match until_answered("init_transactions", Duration::from_secs(180), || {
            p.init_transactions()
        }) {
            Ok(()) => return p,
            Err(e) => eprintln!("init_transactions: {e}; a new producer"),
        }
    }
}

/// Runs transactions until `stop`, recording each one's outcome.
fn run_transactions(
    bootstrap: &str,
    topic: &str,
    txn_id: &str,
    stop: &AtomicBool,
    out: &Mutex<Outcomes>,
) -> usize {
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };
    let mut p = ready_producer(bootstrap, txn_id);
    let mut records_answered = 0;
    let mut txn = 0u64;
    while !stop.load(Ordering::Acquire) {
        txn += 1;
        let n = 100 + next(901) as usize;
        let commit = next(10) < 7;
        let mut verdict: Result<(), Error> = p.begin_transaction();
        let mut futures: Vec<SendFuture> = Vec::with_capacity(n);
        if verdict.is_ok() {
            for i in 0..n {
                let r = ProducerRecord::new(
                    topic.to_string(),
                    Some(format!("t{txn}")),
                    Some(format!("t{txn}-{i}-of-{n}")),
                )
                .with_partition((i % 6) as i32);
                match p.send(r) {
                    Ok(f) => futures.push(f),
                    Err(e) => {
                        verdict = Err(e);
                        break;
                    }
                }
            }
        }
        if verdict.is_ok() {
            verdict = if commit {
                until_answered("commit_transaction", Duration::from_secs(180), || {
                    p.commit_transaction()
                })
            } else {
                until_answered("abort_transaction", Duration::from_secs(180), || {
                    p.abort_transaction()
                })
            };
        }
        // Every record gets its answer, whatever became of its transaction.
        for f in futures {
            match f.get_timeout(Duration::from_secs(120)) {
                Err(Error::WaitTimeout) => panic!("a record of transaction {txn} unanswered"),
                _ => records_answered += 1,
            }
        }
        // A pause between transactions keeps the log (and the read back) to a few hundred
        // thousand records; the kills, not the volume, are the point.
        std::thread::sleep(Duration::from_millis(150));
        let mut o = out.lock().unwrap();
        match verdict {
            Ok(()) if commit => {
                o.committed.insert(txn, n);
            }
            Ok(()) => {
                o.not_committed.insert(txn, "aborted");
            }
            Err(e) if e.is_fatal() => {
                eprintln!("transaction {txn}: fatal: {e}; a new producer");
                o.not_committed.insert(txn, "fatal");
                drop(o);
                p.close(Duration::from_secs(30));
                p = ready_producer(bootstrap, txn_id);
            }
            Err(e) => {
                eprintln!("transaction {txn}: {e}; aborting it");
                o.not_committed.insert(txn, "failed");
                drop(o);
                let abort =
                    until_answered("abort after a failure", Duration::from_secs(180), || {
                        p.abort_transaction()
                    });
                if let Err(e) = abort {
                    eprintln!("transaction {txn}: the abort failed too: {e}; a new producer");
                    p.close(Duration::from_secs(30));
                    p = ready_producer(bootstrap, txn_id);
                }
            }
        }
    }
    p.close(Duration::from_secs(30));
    records_answered
}

/// The broker id that coordinates `txn_id` (Kafka's own TransactionsCommand).
fn coordinator_of(bootstrap: &str, txn_id: &str) -> Option<u32> {
    let out = std::process::Command::new(support::kafka_script())
        .args([
            "java-class",
            "org.apache.kafka.tools.TransactionsCommand",
            "--bootstrap-server",
            bootstrap,
            "describe",
            "--transactional-id",
            txn_id,
        ])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    // A header line with CoordinatorId, then the values in the same columns.
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines.next()?.split_whitespace().collect();
    let values: Vec<&str> = lines.next()?.split_whitespace().collect();
    let at = header.iter().position(|h| *h == "CoordinatorId")?;
    values.get(at)?.parse().ok()
}

/// The broker id that leads partition `partition` of `topic`.
fn leader_of(bootstrap: &str, topic: &str, partition: u32) -> Option<u32> {
    let out = support::kafka_tool(
        &[
            "topics",
            "--bootstrap-server",
            bootstrap,
            "--describe",
            "--topic",
            topic,
        ],
        None,
    );
    out.lines()
        .find(|l| {
            l.contains(&format!("Partition: {partition}\t"))
                || l.contains(&format!("Partition: {partition} "))
        })
        .and_then(|l| l.split("Leader:").nth(1))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|id| id.parse().ok())
}

/// Restarts a killed broker when dropped, so a failing test leaves the cluster up.
struct Down(Option<u32>);

impl Down {
    fn kill(&mut self, id: u32) {
        support::kafka_tool(&["kill", &id.to_string(), "--brokers", "3"], None);
        self.0 = Some(id);
    }
    fn restart(&mut self) {
        if let Some(id) = self.0.take() {
            support::kafka_tool(&["restart", &id.to_string(), "--brokers", "3"], None);
        }
    }
}

impl Drop for Down {
    fn drop(&mut self) {
        self.restart();
    }
}

#[test]
fn transactions_survive_the_coordinator_and_the_leaders_killed_in_turn() {
    let bs = support::bootstrap3();
    let topic = support::unique_topic("txn-kill");
    support::create_topic(&bs, &topic, 6, 3, &[]);
    let txn_id = format!("{topic}-producer");
    let stop = Arc::new(AtomicBool::new(false));
    let outcomes = Arc::new(Mutex::new(Outcomes::default()));
    let worker = {
        let (bs, topic, txn_id) = (bs.clone(), topic.clone(), txn_id.clone());
        let (stop, outcomes) = (stop.clone(), outcomes.clone());
        std::thread::spawn(move || run_transactions(&bs, &topic, &txn_id, &stop, &outcomes))
    };
    let mut down = Down(None);
    let mut kills: Vec<(&str, u32)> = Vec::new();
    for cycle in 0..10 {
        std::thread::sleep(Duration::from_secs(1));
        let (what, target) = if cycle % 2 == 0 {
            ("coordinator", coordinator_of(&bs, &txn_id))
        } else {
            ("leader", leader_of(&bs, &topic, (cycle / 2) % 6))
        };
        let id = target.unwrap_or(1 + cycle % 3);
        eprintln!("cycle {cycle}: killing broker {id} ({what}, found: {target:?})");
        down.kill(id);
        kills.push((what, id));
        std::thread::sleep(Duration::from_secs(2));
        down.restart();
    }
    std::thread::sleep(Duration::from_secs(3));
    stop.store(true, Ordering::Release);
    let answered = worker.join().expect("the transaction thread panicked");
    let o = outcomes.lock().unwrap();
    let expected: usize = o.committed.values().sum();
    eprintln!(
        "txn-kill: kills {kills:?}; {} committed ({expected} records), {} not committed {:?}; {answered} records answered",
        o.committed.len(),
        o.not_committed.len(),
        o.not_committed.values().fold(HashMap::<&str, usize>::new(), |mut m, v| {
            *m.entry(v).or_default() += 1;
            m
        })
    );
    assert!(
        kills.iter().filter(|(w, _)| *w == "coordinator").count() >= 5
            && kills.iter().filter(|(w, _)| *w == "leader").count() >= 5
    );
    assert!(
        o.committed.len() >= 3,
        "too few transactions committed to say anything"
    );
    assert!(
        !o.not_committed.is_empty(),
        "no transaction aborted: the test shows nothing"
    );

    // One more than expected, so a record of an aborted or failed transaction would show.
    let read = support::consume_isolated(&bs, &topic, expected + 1, 15_000, "read_committed");
    let mut seen: HashMap<u64, Vec<usize>> = HashMap::new();
    for c in &read {
        let (t, rest) = c
            .value
            .trim_start_matches('t')
            .split_once('-')
            .expect("t{txn}-{i}-of-{n}");
        let t: u64 = t.parse().unwrap();
        let i: usize = rest.split('-').next().unwrap().parse().unwrap();
        seen.entry(t).or_default().push(i);
    }
    for (t, is) in &seen {
        assert!(
            o.committed.contains_key(t),
            "transaction {t} ({:?}) is visible to read_committed: {} records",
            o.not_committed.get(t),
            is.len()
        );
    }
    for (t, &n) in &o.committed {
        let mut is = seen.get(t).cloned().unwrap_or_default();
        is.sort_unstable();
        assert_eq!(
            is,
            (0..n).collect::<Vec<_>>(),
            "committed transaction {t} of {n} records is not there whole and exactly once"
        );
    }
    assert_eq!(read.len(), expected);
}
