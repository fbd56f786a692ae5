//! Sessions renewed on their connection (KIP-368) while records stream: over the scripted
//! broker, which gives each authentication a lifetime, closes a connection that sends anything
//! but SASL while it re-authenticates, and closes one whose session expired.

use super::*;

const LIFETIME: Duration = Duration::from_secs(10);

fn sasl(o: Opts) -> Harness {
    let h = harness(Opts {
        sasl_password: Some("alice-secret"),
        ..o
    });
    h.net.broker(|b| b.session_lifetime = Some(LIFETIME));
    h
}

/// Appends record `i` (its value: `i`, 8 bytes).
fn send_numbered(h: &Harness, i: u64) -> SendFuture {
    let tp = TopicPartition::new(TOPIC, 0);
    let value = i.to_be_bytes();
    let now = h.now();
    let appended =
        h.shared
            .accumulator
            .append(&tp, 0, None, Some(&value), &[], None, now, Duration::ZERO);
    appended.expect("append").future
}

/// What a stream left: the futures, and how many answers came while the connection to node
/// 0 re-authenticated.
struct Streamed {
    futures: Vec<SendFuture>,
    answered_while_renewing: usize,
}

/// A record every 20 ms of simulated time for `secs` seconds (the clock frozen: the test sets
/// the pace), then every record answered.
fn stream(h: &mut Harness, secs: u64) -> Streamed {
    h.net.freeze_clock(true);
    let mut futures = Vec::new();
    let mut answered_while_renewing = 0;
    for i in 0..secs * 50 {
        futures.push(send_numbered(h, i));
        for _ in 0..2 {
            let renewing = h.sender.pool.is_reauthenticating(0);
            let done = futures.iter().filter(|f| f.is_done()).count();
            h.sender.run_once();
            if renewing {
                answered_while_renewing += futures.iter().filter(|f| f.is_done()).count() - done;
            }
        }
        h.net.advance(Duration::from_millis(20));
    }
    h.net.freeze_clock(false);
    h.answered(&futures);
    Streamed {
        futures,
        answered_while_renewing,
    }
}

/// Every record written once, in order, none failed; each told the offset it has in the log.
fn written_once_in_order(h: &Harness, futures: &[SendFuture]) {
    let log: Vec<(i64, u64)> = h.net.broker(|b| {
        let mut out = Vec::new();
        for a in &b.logs[&(TOPIC.to_string(), 0)] {
            for (k, v) in a.values.iter().enumerate() {
                let v = v.as_deref().expect("value").try_into().expect("8 bytes");
                out.push((a.base_offset + k as i64, u64::from_be_bytes(v)));
            }
        }
        out
    });
    let values: Vec<u64> = log.iter().map(|&(_, v)| v).collect();
    let expected: Vec<u64> = (0..futures.len() as u64).collect();
    if values != expected {
        let first = values.iter().zip(&expected).position(|(a, b)| a != b);
        panic!(
            "the log holds {} records, {} expected; first difference at {first:?}",
            values.len(),
            expected.len()
        );
    }
    for (i, f) in futures.iter().enumerate() {
        match f.try_get() {
            Some(Ok(m)) => assert_eq!(m.offset, log[i].0, "record {i}'s offset"),
            other => panic!("record {i}: {other:?}"),
        }
    }
}

/// Re-authentications that succeeded and failed, and connections created, as the metrics
/// count them.
fn counted(h: &Harness) -> (f64, f64, f64) {
    let r = h.shared.metrics.lock();
    let p = &r.producer;
    (
        p.reauth_succeeded.total(),
        p.reauth_failed.total(),
        p.connections_created.total(),
    )
}

#[test]
fn sessions_are_renewed_on_the_same_connection_while_records_stream() {
    let mut h = sasl(Opts::default());
    // Answers take 30 ms: requests are in flight when a renewal starts.
    h.net
        .broker(|b| b.answer_delay.insert(0, Duration::from_millis(30)));
    let s = stream(&mut h, 60);
    written_once_in_order(&h, &s.futures);
    let (renewed, meddled, expired, connects) = h.net.broker(|b| {
        let c = b.connects.len();
        (
            b.reauthentications,
            b.requests_while_reauthenticating,
            b.expired_sessions,
            c,
        )
    });
    // 60 s of sessions of 10 s, renewed at 85-95%: at least 6 renewals of node 0.
    assert!(renewed >= 6, "{renewed} re-authentications");
    assert_eq!(meddled, 0, "no request sent while re-authenticating");
    assert_eq!(expired, 0, "no request on an expired session");
    // The bootstrap connection and node 0's, nothing more.
    assert_eq!(connects, 2);
    assert!(
        s.answered_while_renewing > 0,
        "in-flight answers still came during renewals"
    );
    assert_eq!(counted(&h), (renewed as f64, 0.0, 2.0));
    let max = {
        let r = h.shared.metrics.lock();
        r.producer.reauth_latency.max(&r.cfg, r.ms(h.now()))
    };
    assert!(
        max >= 30.0,
        "a renewal waits for the answers before it: {max} ms"
    );
}

#[test]
fn an_idle_connection_is_not_renewed_until_it_is_used() {
    let mut h = sasl(Opts::default());
    let f = send_numbered(&h, 0);
    h.answered(std::slice::from_ref(&f));
    h.net.freeze_clock(true);
    // Idle well past the session's end (the metadata refresh every 300 s is not due yet).
    for _ in 0..40 {
        h.net.advance(Duration::from_secs(1));
        h.sender.run_once();
    }
    assert_eq!(h.net.broker(|b| b.reauthentications), 0);
    h.net.freeze_clock(false);
    let g = send_numbered(&h, 1);
    h.answered(std::slice::from_ref(&g));
    let (renewed, expired) = h.net.broker(|b| (b.reauthentications, b.expired_sessions));
    assert_eq!(
        (renewed, expired),
        (1, 0),
        "renewed before the next request"
    );
    written_once_in_order(&h, &[f, g]);
}

#[test]
fn without_a_session_lifetime_nothing_is_renewed() {
    let mut h = sasl(Opts::default());
    h.net.broker(|b| b.session_lifetime = None);
    let s = stream(&mut h, 30);
    written_once_in_order(&h, &s.futures);
    assert_eq!(h.net.broker(|b| b.reauthentications), 0);
    assert_eq!(h.requests(17), 2, "one SaslHandshake per connection");
    assert_eq!(counted(&h).0, 0.0);
}

#[test]
fn a_refused_renewal_fails_queued_records_with_an_authentication_error() {
    let mut h = sasl(Opts::default());
    h.net.broker(|b| b.refuse_reauth = 1);
    let first = send_numbered(&h, 0);
    h.answered(std::slice::from_ref(&first));
    h.net.advance(LIFETIME);
    let queued = send_numbered(&h, 1);
    h.answered(std::slice::from_ref(&queued));
    let e = error(&queued);
    assert!(matches!(e, Error::Authentication { .. }), "{e}");
    assert!(e.to_string().contains("re-authentication"), "{e}");
    assert!(
        e.to_string().contains("Invalid username or password"),
        "{e}"
    );
    assert_eq!(e.delivery(), Delivery::NotWritten);
    assert_eq!(counted(&h).1, 1.0);
    // The next connection authenticates again and writes.
    let later = send_numbered(&h, 1);
    h.answered(std::slice::from_ref(&later));
    written_once_in_order(&h, &[first, later]);
}

#[test]
fn a_renewal_without_an_answer_is_bounded_by_the_request_timeout_and_loses_nothing() {
    let mut h = sasl(Opts {
        request_timeout: Duration::from_secs(2),
        ..Opts::default()
    });
    h.net.broker(|b| {
        b.swallow_reauth = 1;
        b.answer_delay.insert(0, Duration::from_millis(30));
    });
    let s = stream(&mut h, 25);
    written_once_in_order(&h, &s.futures);
    assert_eq!(counted(&h).1, 1.0);
    // After the timeout: the bootstrap address for the metadata refresh (node 0 is backing
    // off), then node 0 again. Nothing else.
    let connects = h.net.broker(|b| b.connects.len());
    assert_eq!(connects, 4, "one reconnect of node 0 after the timeout");
    assert!(h.net.broker(|b| b.reauthentications) >= 1, "renewed later");
}

#[test]
fn a_session_that_ends_before_its_renewal_loses_nothing() {
    // The broker ends sessions at 5 s though it says 10 s: its closes are lost connections,
    // and their batches are retried in order.
    let mut h = sasl(Opts::default());
    h.net.broker(|b| {
        b.session_ends_after = Some(Duration::from_secs(5));
        b.answer_delay.insert(0, Duration::from_millis(30));
    });
    let s = stream(&mut h, 30);
    written_once_in_order(&h, &s.futures);
    assert!(h.net.broker(|b| b.expired_sessions) >= 3);
}
