//! The transaction APIs against the Java client's bytes (see the parent module).

use super::{assert_bytes, frame};
use crate::protocol::add_offsets_to_txn::*;
use crate::protocol::add_partitions_to_txn::*;
use crate::protocol::end_txn::*;
use crate::protocol::error_code::ErrorCode;
use crate::protocol::find_coordinator::*;
use crate::protocol::txn_offset_commit::*;

macro_rules! fixture {
    ($name:literal) => {
        super::hex(include_str!(concat!(
            "../../../tests/fixtures/protocol/",
            $name,
            ".hex"
        )))
    };
}

/// Decodes `body` at `version`, compares with `expected`, and re-encodes it byte for byte.
macro_rules! response_roundtrip {
    ($t:ty, $expected:expr, $version:expr, $body:expr) => {{
        let body = $body;
        let version = $version;
        let expected = $expected;
        assert_eq!(
            <$t>::decode(&body, version).unwrap(),
            expected,
            "v{version}"
        );
        let mut b = Vec::new();
        expected.encode(version, &mut b);
        assert_bytes(b, body, concat!(stringify!($t), " re-encoded"));
    }};
}

#[test]
fn find_coordinator() {
    let group = FindCoordinatorRequest {
        key: "group-1",
        key_type: CoordinatorType::Group,
    };
    assert_bytes(
        frame(&group, 0),
        fixture!("find_coordinator_v0_request"),
        "v0",
    );
    let txn = FindCoordinatorRequest {
        key: "txn-1",
        key_type: CoordinatorType::Transaction,
    };
    assert_bytes(
        frame(&txn, 1),
        fixture!("find_coordinator_v1_request"),
        "v1",
    );
    assert_bytes(
        frame(&txn, 3),
        fixture!("find_coordinator_v3_request"),
        "v3",
    );
    assert_bytes(
        frame(&txn, 4),
        fixture!("find_coordinator_v4_request"),
        "v4",
    );
    assert_bytes(
        frame(&txn, 6),
        fixture!("find_coordinator_v6_request"),
        "v6",
    );

    let single = |throttle, c: Coordinator| FindCoordinatorResponse {
        throttle_time_ms: throttle,
        coordinators: vec![c],
    };
    let found = Coordinator {
        key: String::new(),
        node_id: 2,
        host: "broker-2".into(),
        port: 9092,
        error_code: ErrorCode::NONE,
        error_message: None,
    };
    response_roundtrip!(
        FindCoordinatorResponse,
        single(0, found.clone()),
        0,
        fixture!("find_coordinator_v0_response")
    );
    let unavailable = Coordinator {
        key: String::new(),
        node_id: -1,
        host: String::new(),
        port: -1,
        error_code: ErrorCode(15),
        error_message: Some("not available".into()),
    };
    for (v, body) in [
        (1, fixture!("find_coordinator_v1_response")),
        (3, fixture!("find_coordinator_v3_response")),
    ] {
        response_roundtrip!(
            FindCoordinatorResponse,
            single(1, unavailable.clone()),
            v,
            body
        );
    }
    let batched = FindCoordinatorResponse {
        throttle_time_ms: 1,
        coordinators: vec![
            Coordinator {
                key: "txn-1".into(),
                ..found
            },
            Coordinator {
                key: "txn-2".into(),
                error_code: ErrorCode(14),
                error_message: Some("loading".into()),
                ..unavailable
            },
        ],
    };
    for (v, body) in [
        (4, fixture!("find_coordinator_v4_response")),
        (6, fixture!("find_coordinator_v6_response")),
    ] {
        response_roundtrip!(FindCoordinatorResponse, batched.clone(), v, body);
    }
}

#[test]
fn add_partitions_to_txn() {
    let topics = [
        TxnTopic {
            name: "t1",
            partitions: &[0, 2],
        },
        TxnTopic {
            name: "t2",
            partitions: &[1],
        },
    ];
    let req = AddPartitionsToTxnRequest {
        transactional_id: "txn-1",
        producer_id: 4000,
        producer_epoch: 2,
        topics: &topics,
    };
    assert_bytes(
        frame(&req, 0),
        fixture!("add_partitions_to_txn_v0_request"),
        "v0",
    );
    assert_bytes(
        frame(&req, 3),
        fixture!("add_partitions_to_txn_v3_request"),
        "v3",
    );
    let expected = AddPartitionsToTxnResponse {
        throttle_time_ms: 1,
        topics: vec![TopicErrors {
            name: "t1".into(),
            partitions: vec![
                PartitionError {
                    partition_index: 0,
                    error_code: ErrorCode::NONE,
                },
                PartitionError {
                    partition_index: 2,
                    error_code: ErrorCode(51),
                },
            ],
        }],
    };
    for (v, body) in [
        (0, fixture!("add_partitions_to_txn_v0_response")),
        (3, fixture!("add_partitions_to_txn_v3_response")),
    ] {
        response_roundtrip!(AddPartitionsToTxnResponse, expected.clone(), v, body);
    }
}

#[test]
fn add_offsets_to_txn() {
    let req = AddOffsetsToTxnRequest {
        transactional_id: "txn-1",
        producer_id: 4000,
        producer_epoch: 2,
        group_id: "group-1",
    };
    assert_bytes(
        frame(&req, 0),
        fixture!("add_offsets_to_txn_v0_request"),
        "v0",
    );
    assert_bytes(
        frame(&req, 3),
        fixture!("add_offsets_to_txn_v3_request"),
        "v3",
    );
    assert_bytes(
        frame(&req, 4),
        fixture!("add_offsets_to_txn_v4_request"),
        "v4",
    );
    let expected = AddOffsetsToTxnResponse {
        throttle_time_ms: 1,
        error_code: ErrorCode(51),
    };
    for (v, body) in [
        (0, fixture!("add_offsets_to_txn_v0_response")),
        (3, fixture!("add_offsets_to_txn_v3_response")),
    ] {
        response_roundtrip!(AddOffsetsToTxnResponse, expected, v, body);
    }
}

#[test]
fn txn_offset_commit() {
    let offsets = |epoch| {
        [
            TxnOffset {
                partition_index: 0,
                committed_offset: 100,
                committed_leader_epoch: epoch,
                committed_metadata: Some("m"),
            },
            TxnOffset {
                partition_index: 3,
                committed_offset: 5,
                committed_leader_epoch: -1,
                committed_metadata: None,
            },
        ]
    };
    let (v0_offsets, later_offsets) = (offsets(-1), offsets(7));
    let v0_topics = [TxnOffsetTopic {
        name: "t1",
        partitions: &v0_offsets,
    }];
    let topics = [TxnOffsetTopic {
        name: "t1",
        partitions: &later_offsets,
    }];
    let old = TxnOffsetCommitRequest {
        transactional_id: "txn-1",
        group_id: "group-1",
        producer_id: 4000,
        producer_epoch: 2,
        generation_id: -1,
        member_id: "",
        group_instance_id: None,
        topics: &v0_topics,
    };
    assert_bytes(
        frame(&old, 0),
        fixture!("txn_offset_commit_v0_request"),
        "v0",
    );
    let v2 = TxnOffsetCommitRequest {
        topics: &topics,
        ..old
    };
    assert_bytes(
        frame(&v2, 2),
        fixture!("txn_offset_commit_v2_request"),
        "v2",
    );
    let new = TxnOffsetCommitRequest {
        generation_id: 9,
        member_id: "member-1",
        group_instance_id: Some("instance-1"),
        ..v2
    };
    assert_bytes(
        frame(&new, 3),
        fixture!("txn_offset_commit_v3_request"),
        "v3",
    );
    assert_bytes(
        frame(&new, 5),
        fixture!("txn_offset_commit_v5_request"),
        "v5",
    );
    let expected = TxnOffsetCommitResponse {
        throttle_time_ms: 1,
        topics: vec![TopicErrors {
            name: "t1".into(),
            partitions: vec![
                PartitionError {
                    partition_index: 0,
                    error_code: ErrorCode::NONE,
                },
                PartitionError {
                    partition_index: 3,
                    error_code: ErrorCode(22),
                },
            ],
        }],
    };
    for (v, body) in [
        (0, fixture!("txn_offset_commit_v0_response")),
        (3, fixture!("txn_offset_commit_v3_response")),
        (5, fixture!("txn_offset_commit_v5_response")),
    ] {
        response_roundtrip!(TxnOffsetCommitResponse, expected.clone(), v, body);
    }
}

#[test]
fn end_txn() {
    let req = EndTxnRequest {
        transactional_id: "txn-1",
        producer_id: 4000,
        producer_epoch: 2,
        committed: true,
    };
    for (v, java) in [
        (0, fixture!("end_txn_v0_request")),
        (3, fixture!("end_txn_v3_request")),
        (5, fixture!("end_txn_v5_request")),
    ] {
        assert_bytes(frame(&req, v), java, "end_txn request");
    }
    let v1 = EndTxnResponse {
        throttle_time_ms: 1,
        error_code: ErrorCode::NONE,
        producer_id: -1,
        producer_epoch: -1,
    };
    response_roundtrip!(EndTxnResponse, v1, 0, fixture!("end_txn_v0_response"));
    response_roundtrip!(EndTxnResponse, v1, 3, fixture!("end_txn_v3_response"));
    let v2 = EndTxnResponse {
        producer_id: 4000,
        producer_epoch: 3,
        ..v1
    };
    response_roundtrip!(EndTxnResponse, v2, 5, fixture!("end_txn_v5_response"));
}
