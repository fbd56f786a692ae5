//! Adaptive partitioning (KIP-794) over the scripted cluster: keyless records are steered away
//! from a broker that answers slowly (see `partitioner/adaptive.rs`, `sender/adaptive.rs`).

use super::*;
use crate::partitioner::{BuiltInPartitioner, TopicLayout};

const PARTITIONS: i32 = 4;
const RECORDS: usize = 4000;

/// Sends `RECORDS` keyless records through the sticky partitioner while the sender turns, one
/// record and one simulated millisecond at a time; node 1 (partitions 1 and 3) answers each
/// Produce `delay` late. Returns how many sticky choices there were, and how many of them went
/// to node 1 in the first and in the second half of the run. (Choices, not records: a sticky
/// partition of the slow broker fills its batch and moves on sooner, since its batches wait,
/// so by records even a uniform choice gives it less than half.)
fn choices_of_the_slow_broker(o: Opts, delay: Duration) -> (usize, usize, usize) {
    let mut h = harness(Opts {
        partitions: PARTITIONS,
        nodes: 2,
        batch_size: 1000,
        max_in_flight: 1,
        ..o
    });
    h.net.broker(|b| {
        b.answer_delay.insert(1, delay);
    });
    let topic: Arc<str> = Arc::from(TOPIC);
    let sticky = BuiltInPartitioner::with_load(1000, h.shared.load.register(&topic));
    let available: Vec<i32> = (0..PARTITIONS).collect();
    let layout = TopicLayout::new(PARTITIONS, &available);
    // Metadata first, so the leaders are known.
    let first = h.send(0);
    h.answered(std::slice::from_ref(&first));
    h.net.freeze_clock(true);
    let mut to_slow = [0, 0];
    let mut choices = 0;
    let mut last: Option<Arc<crate::partitioner::StickyPartitionInfo>> = None;
    let mut futures = Vec::with_capacity(RECORDS);
    for i in 0..RECORDS {
        let info = sticky.peek_current(&layout);
        let tp = TopicPartition::new(TOPIC, info.partition());
        let r = h
            .shared
            .accumulator
            .append(
                &tp,
                0,
                None,
                Some(&[1; 100]),
                &[],
                None,
                h.now(),
                Duration::ZERO,
            )
            .expect("append");
        sticky.update_partition_info(&info, 108, &layout, r.batch_is_full);
        if !last.as_ref().is_some_and(|l| Arc::ptr_eq(l, &info)) {
            choices += 1;
            if info.partition() % 2 == 1 {
                to_slow[i * 2 / RECORDS] += 1;
            }
            last = Some(info.clone());
        }
        futures.push(r.future);
        h.sender.run_once();
        h.net.advance(Duration::from_millis(1));
    }
    h.net.freeze_clock(false);
    h.answered(&futures);
    assert!(futures.iter().all(|f| matches!(f.try_get(), Some(Ok(_)))));
    (choices, to_slow[0], to_slow[1])
}

#[test]
fn keyless_records_are_steered_away_from_a_slow_broker() {
    let (n, a, b) = choices_of_the_slow_broker(Opts::default(), ms(500));
    // Uniform would give the slow broker about half (see the next test).
    assert!((a + b) * 5 < n, "slow broker chosen {a} + {b} times of {n}");
}

#[test]
fn without_adaptive_partitioning_the_choice_is_uniform() {
    let (n, a, b) = choices_of_the_slow_broker(
        Opts {
            adaptive: false,
            ..Opts::default()
        },
        ms(500),
    );
    // Some 250 choices: half of them +- 4 standard deviations.
    let share = (a + b) as f64 / n as f64;
    let sd = 0.5 / (n as f64).sqrt();
    assert!(
        (share - 0.5).abs() < 4.0 * sd,
        "slow broker chosen {a} + {b} times of {n}"
    );
}

#[test]
fn a_broker_unable_to_take_batches_past_the_availability_timeout_is_left_out() {
    // Node 1 takes one request and answers it only after the run (10 s): from 100 ms after its
    // next batch was ready, it is unavailable, and its partitions are never chosen again.
    let (n, a, b) = choices_of_the_slow_broker(
        Opts {
            availability_timeout: ms(100),
            ..Opts::default()
        },
        ms(10_000),
    );
    assert_eq!(b, 0, "chosen {a} + {b} times of {n}");
    assert!(a * 10 < n, "chosen {a} times of {n} in the first half");
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}
