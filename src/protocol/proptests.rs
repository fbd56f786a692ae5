//! Property tests: every response decoder is total (arbitrary, truncated and mutated input
//! return `Ok` or `Err`, never panic), and response encode -> decode round trips.

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

use super::add_offsets_to_txn::{self, AddOffsetsToTxnResponse};
use super::add_partitions_to_txn::{self, AddPartitionsToTxnResponse, PartitionError, TopicErrors};
use super::api_versions::{self, *};
use super::end_txn::{self, EndTxnResponse};
use super::error_code::ErrorCode;
use super::find_coordinator::{self, Coordinator, FindCoordinatorResponse};
use super::init_producer_id::{self, InitProducerIdResponse};
use super::metadata::{self, *};
use super::produce::{self, *};
use super::sasl_authenticate::{self, SaslAuthenticateResponse};
use super::sasl_handshake::{self, SaslHandshakeResponse};
use super::txn_offset_commit::{self, TxnOffsetCommitResponse};

/// Runs every decoder at `version` over `body`, ignoring results: the point is not panicking.
fn decode_all(body: &[u8], version: i16) {
    let _ = ApiVersionsResponse::decode(body, version);
    let _ = MetadataResponse::decode(body, version);
    let _ = ProduceResponse::decode(body, version);
    let _ = ProduceRequest::decode(body, version);
    let _ = InitProducerIdResponse::decode(body, version);
    let _ = SaslHandshakeResponse::decode(body, version);
    let _ = SaslAuthenticateResponse::decode(body, version);
    let _ = FindCoordinatorResponse::decode(body, version);
    let _ = AddPartitionsToTxnResponse::decode(body, version);
    let _ = AddOffsetsToTxnResponse::decode(body, version);
    let _ = TxnOffsetCommitResponse::decode(body, version);
    let _ = EndTxnResponse::decode(body, version);
}

fn fixtures() -> Vec<(&'static str, i16, Vec<u8>)> {
    macro_rules! f {
        ($($name:literal, $v:expr;)*) => {
            vec![$(($name, $v, hex(include_str!(concat!("../../tests/fixtures/protocol/", $name, ".hex"))))),*]
        };
    }
    f! {
        "api_versions_v0_response", 0;
        "api_versions_v3_response", 3;
        "metadata_v4_response", 4;
        "metadata_v9_response", 9;
        "metadata_v13_response", 13;
        "produce_v3_response", 3;
        "produce_v8_response", 8;
        "produce_v10_response", 10;
        "produce_v13_response", 13;
        "init_producer_id_v0_response", 0;
        "init_producer_id_v2_response", 2;
        "init_producer_id_v5_response", 5;
        "sasl_handshake_v1_response", 1;
        "sasl_authenticate_v0_response", 0;
        "sasl_authenticate_v2_response", 2;
        "find_coordinator_v0_response", 0;
        "find_coordinator_v1_response", 1;
        "find_coordinator_v3_response", 3;
        "find_coordinator_v4_response", 4;
        "find_coordinator_v6_response", 6;
        "add_partitions_to_txn_v0_response", 0;
        "add_partitions_to_txn_v3_response", 3;
        "add_offsets_to_txn_v0_response", 0;
        "add_offsets_to_txn_v3_response", 3;
        "txn_offset_commit_v0_response", 0;
        "txn_offset_commit_v3_response", 3;
        "txn_offset_commit_v5_response", 5;
        "end_txn_v0_response", 0;
        "end_txn_v3_response", 3;
        "end_txn_v5_response", 5;
    }
}

fn hex(s: &str) -> Vec<u8> {
    let s = s.trim();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn decode_named(name: &str, body: &[u8], v: i16) -> bool {
    if name.starts_with("api_versions") {
        ApiVersionsResponse::decode_exact(body, v).is_ok()
    } else if name.starts_with("metadata") {
        MetadataResponse::decode(body, v).is_ok()
    } else if name.starts_with("produce") {
        ProduceResponse::decode(body, v).is_ok()
    } else if name.starts_with("init_producer_id") {
        InitProducerIdResponse::decode(body, v).is_ok()
    } else if name.starts_with("sasl_handshake") {
        SaslHandshakeResponse::decode(body, v).is_ok()
    } else if name.starts_with("find_coordinator") {
        FindCoordinatorResponse::decode(body, v).is_ok()
    } else if name.starts_with("add_partitions_to_txn") {
        AddPartitionsToTxnResponse::decode(body, v).is_ok()
    } else if name.starts_with("add_offsets_to_txn") {
        AddOffsetsToTxnResponse::decode(body, v).is_ok()
    } else if name.starts_with("txn_offset_commit") {
        TxnOffsetCommitResponse::decode(body, v).is_ok()
    } else if name.starts_with("end_txn") {
        EndTxnResponse::decode(body, v).is_ok()
    } else {
        SaslAuthenticateResponse::decode(body, v).is_ok()
    }
}

#[test]
fn every_truncation_of_java_bodies_is_an_error() {
    for (name, v, body) in fixtures() {
        assert!(decode_named(name, &body, v), "{name} must decode whole");
        for cut in 0..body.len() {
            assert!(
                !decode_named(name, &body[..cut], v),
                "{name} truncated to {cut} bytes decoded"
            );
            decode_all(&body[..cut], v);
        }
    }
}

#[test]
fn versions_out_of_range_are_errors() {
    for v in [-1, i16::MIN, i16::MAX, 14] {
        assert!(ApiVersionsResponse::decode(&[0; 64], v).is_err());
        assert!(MetadataResponse::decode(&[0; 64], v).is_err());
        assert!(ProduceResponse::decode(&[0; 64], v).is_err());
        assert!(InitProducerIdResponse::decode(&[0; 64], v).is_err());
        assert!(SaslHandshakeResponse::decode(&[0; 64], v).is_err());
        assert!(SaslAuthenticateResponse::decode(&[0; 64], v).is_err());
        assert!(FindCoordinatorResponse::decode(&[0; 64], v).is_err());
        assert!(AddPartitionsToTxnResponse::decode(&[0; 64], v).is_err());
        assert!(AddOffsetsToTxnResponse::decode(&[0; 64], v).is_err());
        assert!(TxnOffsetCommitResponse::decode(&[0; 64], v).is_err());
        assert!(EndTxnResponse::decode(&[0; 64], v).is_err());
    }
    // The broker-only AddPartitionsToTxn v4+ and TxnOffsetCommit v6 (topic ids) are not ours.
    assert!(AddPartitionsToTxnResponse::decode(&[0; 64], 4).is_err());
    assert!(TxnOffsetCommitResponse::decode(&[0; 64], 6).is_err());
    // Produce below v3 and Metadata below v4 are not implemented.
    assert!(ProduceResponse::decode(&[0; 64], 2).is_err());
    assert!(MetadataResponse::decode(&[0; 64], 3).is_err());
}

#[test]
fn hostile_counts_do_not_allocate() {
    // A Produce v3 body claiming i32::MAX topics, and a v9 body claiming 2^32-2 via uvarint.
    assert!(ProduceResponse::decode(&[0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0], 3).is_err());
    assert!(ProduceResponse::decode(&[0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0, 0, 0], 9).is_err());
    // Metadata with a broker count of 1 million and 3 bytes of input.
    assert!(MetadataResponse::decode(&[0, 0, 0, 0, 0, 0x0f, 0x42, 0x40, 1, 2, 3], 4).is_err());
}

proptest! {
    #[test]
    fn decoders_are_total_on_arbitrary_input(body in vec(any::<u8>(), 0..256), version in -2i16..16) {
        decode_all(&body, version);
    }

    #[test]
    fn decoders_are_total_on_mutated_java_bodies(
        idx in 0usize..64,
        edits in vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let all = fixtures();
        let (_, v, mut body) = all[idx % all.len()].clone();
        for (at, byte) in edits {
            let i = at.index(body.len());
            body[i] = byte;
        }
        let cut = cut.index(body.len() + 1);
        decode_all(&body[..cut], v);
        decode_all(&body, v);
    }
}

// ---------------------------------------------------------------------------------------------
// Round trips. Encoding a decoded value must give the same bytes again, and decoding those
// must give the same value: version-dependent fields absent at a version settle to defaults
// after the first decode.
// ---------------------------------------------------------------------------------------------

fn small_string() -> impl Strategy<Value = String> {
    "[a-z0-9.-]{0,12}"
}

fn code() -> impl Strategy<Value = ErrorCode> {
    (-1i16..140).prop_map(ErrorCode)
}

fn produce_response() -> impl Strategy<Value = ProduceResponse> {
    let partition = (
        any::<i32>(),
        code(),
        any::<i64>(),
        any::<i64>(),
        any::<i64>(),
        vec((any::<i32>(), option::of(small_string())), 0..3),
        option::of(small_string()),
        option::of((any::<i32>(), any::<i32>())),
    )
        .prop_map(
            |(index, error_code, base_offset, t, lso, errs, msg, leader)| {
                ProducePartitionResponse {
                    index,
                    error_code,
                    base_offset,
                    log_append_time_ms: t,
                    log_start_offset: lso,
                    record_errors: errs
                        .into_iter()
                        .map(|(batch_index, message)| RecordError {
                            batch_index,
                            message,
                        })
                        .collect(),
                    error_message: msg,
                    current_leader: leader.map(|(leader_id, leader_epoch)| LeaderIdAndEpoch {
                        leader_id,
                        leader_epoch,
                    }),
                }
            },
        );
    let topic = (small_string(), any::<[u8; 16]>(), vec(partition, 0..3)).prop_map(
        |(name, topic_id, partitions)| ProduceTopicResponse {
            name,
            topic_id,
            partitions,
        },
    );
    let endpoint = (
        any::<i32>(),
        small_string(),
        any::<i32>(),
        option::of(small_string()),
    )
        .prop_map(|(node_id, host, port, rack)| NodeEndpoint {
            node_id,
            host,
            port,
            rack,
        });
    (vec(topic, 0..3), any::<i32>(), vec(endpoint, 0..2)).prop_map(
        |(topics, throttle_time_ms, node_endpoints)| ProduceResponse {
            topics,
            throttle_time_ms,
            node_endpoints,
        },
    )
}

fn metadata_response() -> impl Strategy<Value = MetadataResponse> {
    let broker = (
        any::<i32>(),
        small_string(),
        any::<i32>(),
        option::of(small_string()),
    )
        .prop_map(|(node_id, host, port, rack)| MetadataBroker {
            node_id,
            host,
            port,
            rack,
        });
    let ids = || vec(any::<i32>(), 0..4);
    let partition = (
        code(),
        any::<i32>(),
        any::<i32>(),
        any::<i32>(),
        ids(),
        ids(),
        ids(),
    )
        .prop_map(
            |(error_code, partition_index, leader_id, leader_epoch, r, i, o)| MetadataPartition {
                error_code,
                partition_index,
                leader_id,
                leader_epoch,
                replica_nodes: r,
                isr_nodes: i,
                offline_replicas: o,
            },
        );
    let topic = (
        code(),
        option::of(small_string()),
        any::<[u8; 16]>(),
        any::<bool>(),
        vec(partition, 0..3),
        any::<i32>(),
    )
        .prop_map(
            |(error_code, name, topic_id, is_internal, partitions, ops)| MetadataTopic {
                error_code,
                name,
                topic_id,
                is_internal,
                partitions,
                topic_authorized_operations: ops,
            },
        );
    (
        any::<i32>(),
        vec(broker, 0..3),
        option::of(small_string()),
        any::<i32>(),
        vec(topic, 0..3),
        any::<i32>(),
        code(),
    )
        .prop_map(
            |(throttle, brokers, cluster_id, controller_id, topics, ops, error_code)| {
                MetadataResponse {
                    throttle_time_ms: throttle,
                    brokers,
                    cluster_id,
                    controller_id,
                    topics,
                    cluster_authorized_operations: ops,
                    error_code,
                }
            },
        )
}

fn api_versions_response() -> impl Strategy<Value = ApiVersionsResponse> {
    let range = (any::<i16>(), any::<i16>(), any::<i16>()).prop_map(
        |(api_key, min_version, max_version)| ApiVersionRange {
            api_key,
            min_version,
            max_version,
        },
    );
    let sf = (small_string(), any::<i16>(), any::<i16>()).prop_map(
        |(name, min_version, max_version)| SupportedFeature {
            name,
            min_version,
            max_version,
        },
    );
    let ff = (small_string(), any::<i16>(), any::<i16>()).prop_map(
        |(name, max_version_level, min_version_level)| FinalizedFeature {
            name,
            max_version_level,
            min_version_level,
        },
    );
    (
        code(),
        vec(range, 0..5),
        any::<i32>(),
        vec(sf, 0..2),
        any::<i64>(),
        vec(ff, 0..2),
        any::<bool>(),
    )
        .prop_map(
            |(error_code, api_keys, throttle, sf, epoch, ff, zk)| ApiVersionsResponse {
                error_code,
                api_keys,
                throttle_time_ms: throttle,
                supported_features: sf,
                finalized_features_epoch: epoch,
                finalized_features: ff,
                zk_migration_ready: zk,
                decoded_version: 0,
            },
        )
}

macro_rules! roundtrip {
    ($value:expr, $ty:ty, $version:expr) => {{
        let version = $version;
        let mut first = Vec::new();
        $value.encode(version, &mut first);
        let decoded = <$ty>::decode(&first, version).expect("decode what we encoded");
        let mut second = Vec::new();
        decoded.encode(version, &mut second);
        prop_assert_eq!(&first, &second);
        prop_assert_eq!(<$ty>::decode(&second, version).unwrap(), decoded.clone());
        decoded
    }};
}

proptest! {
    #[test]
    fn produce_response_roundtrip(r in produce_response(), v in produce::MIN_VERSION..=produce::MAX_VERSION) {
        let d = roundtrip!(r, ProduceResponse, v);
        if v == produce::MAX_VERSION {
            // At the newest version everything but the topic name is carried.
            let mut expected = r.clone();
            expected.topics.iter_mut().for_each(|t| t.name.clear());
            prop_assert_eq!(d, expected);
        }
    }

    #[test]
    fn metadata_response_roundtrip(r in metadata_response(), v in metadata::MIN_VERSION..=metadata::MAX_VERSION) {
        let d = roundtrip!(r, MetadataResponse, v);
        if v == metadata::MAX_VERSION {
            let mut expected = r.clone();
            expected.cluster_authorized_operations = AUTHORIZED_OPERATIONS_OMITTED;
            prop_assert_eq!(d, expected);
        }
    }

    #[test]
    fn api_versions_response_roundtrip(r in api_versions_response(), v in api_versions::MIN_VERSION..=api_versions::MAX_VERSION) {
        let d = roundtrip!(r, ApiVersionsResponse, v);
        prop_assert_eq!(&d.api_keys, &r.api_keys);
        prop_assert_eq!(d.error_code, r.error_code);
        if v == api_versions::MAX_VERSION {
            prop_assert_eq!(d, ApiVersionsResponse { decoded_version: v, ..r });
        }
    }

    #[test]
    fn small_responses_roundtrip(
        t in any::<i32>(), c in code(), pid in any::<i64>(), epoch in any::<i16>(),
        mechs in vec(small_string(), 0..4), msg in option::of(small_string()),
        bytes in vec(any::<u8>(), 0..40), life in any::<i64>(),
        vi in init_producer_id::MIN_VERSION..=init_producer_id::MAX_VERSION,
        vh in sasl_handshake::MIN_VERSION..=sasl_handshake::MAX_VERSION,
        va in sasl_authenticate::MIN_VERSION..=sasl_authenticate::MAX_VERSION,
    ) {
        let i = InitProducerIdResponse { throttle_time_ms: t, error_code: c, producer_id: pid, producer_epoch: epoch };
        prop_assert_eq!(roundtrip!(i, InitProducerIdResponse, vi), i);
        let h = SaslHandshakeResponse { error_code: c, mechanisms: mechs };
        prop_assert_eq!(roundtrip!(h, SaslHandshakeResponse, vh), h);
        let a = SaslAuthenticateResponse { error_code: c, error_message: msg, auth_bytes: bytes, session_lifetime_ms: life };
        let d = roundtrip!(a, SaslAuthenticateResponse, va);
        prop_assert_eq!(d.session_lifetime_ms, if va >= 1 { a.session_lifetime_ms } else { 0 });
        prop_assert_eq!(&d.auth_bytes, &a.auth_bytes);
    }
}

fn topic_errors() -> impl Strategy<Value = Vec<TopicErrors>> {
    let partition =
        (any::<i32>(), code()).prop_map(|(partition_index, error_code)| PartitionError {
            partition_index,
            error_code,
        });
    vec(
        (small_string(), vec(partition, 0..4))
            .prop_map(|(name, partitions)| TopicErrors { name, partitions }),
        0..4,
    )
}

fn coordinator() -> impl Strategy<Value = Coordinator> {
    (
        small_string(),
        any::<i32>(),
        small_string(),
        any::<i32>(),
        code(),
        option::of(small_string()),
    )
        .prop_map(
            |(key, node_id, host, port, error_code, error_message)| Coordinator {
                key,
                node_id,
                host,
                port,
                error_code,
                error_message,
            },
        )
}

proptest! {
    #[test]
    fn transaction_responses_roundtrip(
        t in any::<i32>(), c in code(), pid in any::<i64>(), epoch in any::<i16>(),
        coordinators in vec(coordinator(), 1..4), topics in topic_errors(),
        vf in find_coordinator::MIN_VERSION..=find_coordinator::MAX_VERSION,
        vp in add_partitions_to_txn::MIN_VERSION..=add_partitions_to_txn::MAX_VERSION,
        vo in add_offsets_to_txn::MIN_VERSION..=add_offsets_to_txn::MAX_VERSION,
        vc in txn_offset_commit::MIN_VERSION..=txn_offset_commit::MAX_VERSION,
        ve in end_txn::MIN_VERSION..=end_txn::MAX_VERSION,
    ) {
        let f = FindCoordinatorResponse { throttle_time_ms: t, coordinators };
        let d = roundtrip!(f, FindCoordinatorResponse, vf);
        if vf >= find_coordinator::FIRST_BATCHED_VERSION {
            prop_assert_eq!(&d, &FindCoordinatorResponse { throttle_time_ms: t, ..f.clone() });
        } else {
            prop_assert_eq!(d.coordinators.len(), 1);
            prop_assert_eq!(d.coordinators[0].node_id, f.coordinators[0].node_id);
        }
        let p = AddPartitionsToTxnResponse { throttle_time_ms: t, topics: topics.clone() };
        prop_assert_eq!(roundtrip!(p, AddPartitionsToTxnResponse, vp), p);
        let o = AddOffsetsToTxnResponse { throttle_time_ms: t, error_code: c };
        prop_assert_eq!(roundtrip!(o, AddOffsetsToTxnResponse, vo), o);
        let x = TxnOffsetCommitResponse { throttle_time_ms: t, topics };
        prop_assert_eq!(roundtrip!(x, TxnOffsetCommitResponse, vc), x);
        let e = EndTxnResponse { throttle_time_ms: t, error_code: c, producer_id: pid, producer_epoch: epoch };
        let d = roundtrip!(e, EndTxnResponse, ve);
        if ve >= end_txn::FIRST_TRANSACTIONS_V2_VERSION {
            prop_assert_eq!(d, e);
        } else {
            prop_assert_eq!((d.producer_id, d.producer_epoch), (-1, -1));
        }
    }
}
