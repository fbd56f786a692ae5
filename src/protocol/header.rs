//! Request and response headers, and which header version an API version uses.
//!
//! - Request header v1 (classic): `api_key: INT16, api_version: INT16, correlation_id: INT32,
//!   client_id: NULLABLE_STRING`.
//! - Request header v2 (flexible APIs): the same, then a tagged-field section. The client id
//!   stays a classic `NULLABLE_STRING` (i16 length) even in v2: the header field is declared
//!   `"flexibleVersions": "none"` so that a broker can read it before knowing the API.
//! - Response header v0: `correlation_id: INT32`; v1 adds a tagged-field section.
//!
//! A request uses header v2 and its response header v1 exactly when the API version is
//! flexible, with one exception: **ApiVersions responses always use response header v0**, so
//! a client that does not yet know the broker's versions can still read the correlation id.
//!
//! Request header v0 (no client id) was only used by ControlledShutdown v0, which Kafka 4
//! removed; it is not supported.
//!
//! # References
//! - <https://kafka.apache.org/protocol#protocol_messages>
//! - `RequestHeader.json`, `ResponseHeader.json` in apache/kafka
//!   `clients/src/main/resources/common/message/`
//! - KIP-482 (tagged fields, flexible versions), KIP-511 (ApiVersions response header)

use super::primitives::{put_empty_tagged_fields, put_i16, put_i32, put_nullable_string};
use super::primitives::{DecodeError, DecodeResult, Decoder};

/// API key of ApiVersions, whose responses always use response header v0.
const API_VERSIONS_KEY: i16 = 18;

/// `(api_key, first flexible version)` for every API of Kafka 4.4 that has flexible versions,
/// taken from the `flexibleVersions` of each `*Request.json`. APIs absent here are never
/// flexible (SaslHandshake, OffsetDelete, and the removed ZooKeeper-era APIs).
static FIRST_FLEXIBLE: &[(i16, i16)] = &[
    (0, 9),  // Produce
    (1, 12), // Fetch
    (2, 6),  // ListOffsets
    (3, 9),  // Metadata
    (8, 8),  // OffsetCommit
    (9, 6),  // OffsetFetch
    (10, 3), // FindCoordinator
    (11, 6), // JoinGroup
    (12, 4), // Heartbeat
    (13, 4), // LeaveGroup
    (14, 4), // SyncGroup
    (15, 5), // DescribeGroups
    (16, 3), // ListGroups
    (18, 3), // ApiVersions
    (19, 5), // CreateTopics
    (20, 4), // DeleteTopics
    (21, 2), // DeleteRecords
    (22, 2), // InitProducerId
    (23, 4), // OffsetForLeaderEpoch
    (24, 3), // AddPartitionsToTxn
    (25, 3), // AddOffsetsToTxn
    (26, 3), // EndTxn
    (27, 1), // WriteTxnMarkers
    (28, 3), // TxnOffsetCommit
    (29, 2), // DescribeAcls
    (30, 2), // CreateAcls
    (31, 2), // DeleteAcls
    (32, 4), // DescribeConfigs
    (33, 2), // AlterConfigs
    (34, 2), // AlterReplicaLogDirs
    (35, 2), // DescribeLogDirs
    (36, 2), // SaslAuthenticate
    (37, 2), // CreatePartitions
    (38, 2), // CreateDelegationToken
    (39, 2), // RenewDelegationToken
    (40, 2), // ExpireDelegationToken
    (41, 2), // DescribeDelegationToken
    (42, 2), // DeleteGroups
    (43, 2), // ElectLeaders
    (44, 1), // IncrementalAlterConfigs
    (45, 0), // AlterPartitionReassignments
    (46, 0), // ListPartitionReassignments
    (48, 1), // DescribeClientQuotas
    (49, 1), // AlterClientQuotas
    (50, 0), // DescribeUserScramCredentials
    (51, 0), // AlterUserScramCredentials
    (52, 0), // Vote
    (53, 1), // BeginQuorumEpoch
    (54, 1), // EndQuorumEpoch
    (55, 0), // DescribeQuorum
    (56, 0), // AlterPartition
    (57, 0), // UpdateFeatures
    (58, 0), // Envelope
    (59, 0), // FetchSnapshot
    (60, 0), // DescribeCluster
    (61, 0), // DescribeProducers
    (62, 0), // BrokerRegistration
    (63, 0), // BrokerHeartbeat
    (64, 0), // UnregisterBroker
    (65, 0), // DescribeTransactions
    (66, 0), // ListTransactions
    (67, 0), // AllocateProducerIds
    (68, 0), // ConsumerGroupHeartbeat
    (69, 0), // ConsumerGroupDescribe
    (70, 0), // ControllerRegistration
    (71, 0), // GetTelemetrySubscriptions
    (72, 0), // PushTelemetry
    (73, 0), // AssignReplicasToDirs
    (74, 0), // ListConfigResources
    (75, 0), // DescribeTopicPartitions
    (76, 0), // ShareGroupHeartbeat
    (77, 0), // ShareGroupDescribe
    (78, 0), // ShareFetch
    (79, 0), // ShareAcknowledge
    (80, 0), // AddRaftVoter
    (81, 0), // RemoveRaftVoter
    (82, 0), // UpdateRaftVoter
    (83, 0), // InitializeShareGroupState
    (84, 0), // ReadShareGroupState
    (85, 0), // WriteShareGroupState
    (86, 0), // DeleteShareGroupState
    (87, 0), // ReadShareGroupStateSummary
    (88, 0), // StreamsGroupHeartbeat
    (89, 0), // StreamsGroupDescribe
    (90, 0), // DescribeShareGroupOffsets
    (91, 0), // AlterShareGroupOffsets
    (92, 0), // DeleteShareGroupOffsets
    (93, 0), // StreamsGroupTopologyDescriptionUpdate
    (94, 0), // UnregisterController
];

/// The first flexible version of an API, or `None` if the API is never flexible or unknown.
pub fn first_flexible_version(api_key: i16) -> Option<i16> {
    FIRST_FLEXIBLE
        .binary_search_by_key(&api_key, |&(k, _)| k)
        .ok()
        .map(|i| FIRST_FLEXIBLE[i].1)
}

/// Whether `api_version` of `api_key` is a flexible version (compact types, tagged fields).
/// Unknown APIs are treated as never flexible.
pub fn is_flexible(api_key: i16, api_version: i16) -> bool {
    first_flexible_version(api_key).is_some_and(|first| api_version >= first)
}

/// The request header version (1 or 2) used by `api_version` of `api_key`.
pub fn request_header_version(api_key: i16, api_version: i16) -> i16 {
    if is_flexible(api_key, api_version) {
        2
    } else {
        1
    }
}

/// The response header version (0 or 1) used by `api_version` of `api_key`. ApiVersions
/// responses are always header v0, whatever the request version.
pub fn response_header_version(api_key: i16, api_version: i16) -> i16 {
    if api_key != API_VERSIONS_KEY && is_flexible(api_key, api_version) {
        1
    } else {
        0
    }
}

/// A request header (v1 or v2; which one follows from the API and version).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestHeader<'a> {
    /// The API key of the request.
    pub api_key: i16,
    /// The API version of the request.
    pub api_version: i16,
    /// Chosen by the client; echoed in the response.
    pub correlation_id: i32,
    /// The client id (`client.id`), or `None`.
    pub client_id: Option<&'a str>,
}

impl RequestHeader<'_> {
    /// The header version this header is written at ([`request_header_version`]).
    pub fn version(&self) -> i16 {
        request_header_version(self.api_key, self.api_version)
    }

    /// Appends the header at [`RequestHeader::version`].
    pub fn encode(&self, buf: &mut Vec<u8>) {
        put_i16(buf, self.api_key);
        put_i16(buf, self.api_version);
        put_i32(buf, self.correlation_id);
        // Classic NULLABLE_STRING in both v1 and v2.
        put_nullable_string(buf, self.client_id, false);
        if self.version() >= 2 {
            put_empty_tagged_fields(buf);
        }
    }

    /// Decodes a request header (used by tests and mock brokers). The header version follows
    /// from the api key and version read.
    pub fn decode<'b>(d: &mut Decoder<'b>) -> DecodeResult<RequestHeader<'b>> {
        let api_key = d.i16()?;
        let api_version = d.i16()?;
        let correlation_id = d.i32()?;
        let client_id = d.nullable_str(false)?;
        let h = RequestHeader {
            api_key,
            api_version,
            correlation_id,
            client_id,
        };
        if h.version() >= 2 {
            d.skip_tagged_fields()?;
        }
        Ok(h)
    }
}

/// A response header (v0 or v1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseHeader {
    /// The correlation id of the request this answers.
    pub correlation_id: i32,
}

impl ResponseHeader {
    /// Reads a response header of `header_version` (0 or 1; see [`response_header_version`]).
    /// Unknown tagged fields in v1 are skipped.
    pub fn decode(d: &mut Decoder<'_>, header_version: i16) -> DecodeResult<ResponseHeader> {
        if !(0..=1).contains(&header_version) {
            return Err(DecodeError::Invalid {
                what: "response header version",
                offset: d.position(),
                value: header_version as i64,
            });
        }
        let correlation_id = d.i32()?;
        if header_version >= 1 {
            d.skip_tagged_fields()?;
        }
        Ok(ResponseHeader { correlation_id })
    }

    /// Appends the header at `header_version` (0 or 1; used by tests and mock brokers).
    pub fn encode(&self, header_version: i16, buf: &mut Vec<u8>) {
        put_i32(buf, self.correlation_id);
        if header_version >= 1 {
            put_empty_tagged_fields(buf);
        }
    }

    /// Splits a response frame payload (without the 4-byte size) into its header and body,
    /// reading the header at the version used by `api_key` / `api_version`.
    pub fn split(
        payload: &[u8],
        api_key: i16,
        api_version: i16,
    ) -> DecodeResult<(ResponseHeader, &[u8])> {
        let mut d = Decoder::new(payload);
        let h = ResponseHeader::decode(&mut d, response_header_version(api_key, api_version))?;
        let body = &payload[d.position()..];
        Ok((h, body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_versions() {
        // Produce: flexible from v9.
        assert_eq!(request_header_version(0, 8), 1);
        assert_eq!(request_header_version(0, 9), 2);
        assert_eq!(response_header_version(0, 8), 0);
        assert_eq!(response_header_version(0, 13), 1);
        // Metadata: flexible from v9.
        assert_eq!(request_header_version(3, 8), 1);
        assert_eq!(request_header_version(3, 12), 2);
        // ApiVersions v3 request uses header v2, but its response header is always v0.
        assert_eq!(request_header_version(18, 3), 2);
        assert_eq!(response_header_version(18, 3), 0);
        assert_eq!(response_header_version(18, 0), 0);
        // SaslHandshake is never flexible.
        assert_eq!(request_header_version(17, 1), 1);
        assert_eq!(first_flexible_version(17), None);
        // SaslAuthenticate and InitProducerId: v2.
        assert_eq!(request_header_version(36, 2), 2);
        assert_eq!(request_header_version(22, 1), 1);
        assert_eq!(request_header_version(22, 2), 2);
        // Unknown keys are never flexible.
        assert!(!is_flexible(-1, 100));
        assert!(!is_flexible(9999, 100));
        assert!(FIRST_FLEXIBLE.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn table_agrees_with_api_modules() {
        use crate::protocol::*;
        for (key, first) in [
            (api_versions::API_KEY, api_versions::FIRST_FLEXIBLE_VERSION),
            (metadata::API_KEY, metadata::FIRST_FLEXIBLE_VERSION),
            (produce::API_KEY, produce::FIRST_FLEXIBLE_VERSION),
            (
                init_producer_id::API_KEY,
                init_producer_id::FIRST_FLEXIBLE_VERSION,
            ),
            (
                sasl_authenticate::API_KEY,
                sasl_authenticate::FIRST_FLEXIBLE_VERSION,
            ),
        ] {
            assert_eq!(first_flexible_version(key), Some(first), "api {key}");
        }
        assert_eq!(
            first_flexible_version(sasl_handshake::API_KEY),
            sasl_handshake::FIRST_FLEXIBLE_VERSION
        );
    }

    #[test]
    fn request_header_bytes() {
        let h = RequestHeader {
            api_key: 0,
            api_version: 9,
            correlation_id: 7,
            client_id: Some("ab"),
        };
        let mut b = Vec::new();
        h.encode(&mut b);
        assert_eq!(b, [0, 0, 0, 9, 0, 0, 0, 7, 0, 2, b'a', b'b', 0]);
        assert_eq!(RequestHeader::decode(&mut Decoder::new(&b)).unwrap(), h);
        let h1 = RequestHeader {
            api_version: 8,
            client_id: None,
            ..h
        };
        let mut b = Vec::new();
        h1.encode(&mut b);
        assert_eq!(b, [0, 0, 0, 8, 0, 0, 0, 7, 0xff, 0xff]);
    }

    #[test]
    fn response_header_roundtrip_and_split() {
        for v in 0..=1 {
            let mut b = Vec::new();
            ResponseHeader { correlation_id: -5 }.encode(v, &mut b);
            b.extend_from_slice(&[1, 2, 3]);
            let (h, body) = ResponseHeader::split(&b, 0, if v == 1 { 9 } else { 3 }).unwrap();
            assert_eq!(h.correlation_id, -5);
            assert_eq!(body, &[1, 2, 3]);
        }
        // A v1 header with an unknown tagged field is skipped.
        let b = [0, 0, 0, 1, 1, 5, 2, 0xaa, 0xbb, 9];
        let (h, body) = ResponseHeader::split(&b, 0, 9).unwrap();
        assert_eq!(h.correlation_id, 1);
        assert_eq!(body, &[9]);
        assert!(ResponseHeader::split(&[0, 0], 0, 3).is_err());
        assert!(ResponseHeader::decode(&mut Decoder::new(&[0; 8]), 2).is_err());
    }
}
