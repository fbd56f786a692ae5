//! The one table of broker error codes: code, name, whether retriable, description.
//!
//! Everything that needs to know about an error code (the sender deciding to retry, the public
//! error telling a user what happened) asks this table; nothing matches on raw codes elsewhere.
//!
//! The table holds every code of Kafka 4.4 (`-1` to `136`). Names and retriable flags are those
//! of Java's `org.apache.kafka.common.protocol.Errors` (retriable = the exception class descends
//! from `RetriableException`); a unit test checks them against `tests/fixtures/errors.txt`, which
//! `scripts/gen-fixtures` regenerates from the Java client. Descriptions are our own words.
//!
//! # References
//! - <https://kafka.apache.org/protocol#protocol_error_codes>
//! - `org.apache.kafka.common.protocol.Errors` (names, retriable flags)

/// A Kafka error code as it appears on the wire. Unknown codes are kept, not rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ErrorCode(pub i16);

/// One row of the table.
#[derive(Debug, Clone, Copy)]
pub struct ErrorInfo {
    /// The wire code.
    pub code: i16,
    /// The Java name, e.g. `NOT_LEADER_OR_FOLLOWER`.
    pub name: &'static str,
    /// Whether the Java client treats it as retriable.
    pub retriable: bool,
    /// What it means.
    pub description: &'static str,
}

macro_rules! error_table {
    ($( $konst:ident = $code:literal, $retriable:literal, $desc:literal; )*) => {
        impl ErrorCode {
            $(
                #[doc = $desc]
                pub const $konst: ErrorCode = ErrorCode($code);
            )*
        }
        /// Every known error code, in code order (contiguous from -1).
        pub static ERROR_TABLE: &[ErrorInfo] = &[
            $( ErrorInfo { code: $code, name: stringify!($konst), retriable: $retriable, description: $desc }, )*
        ];
    };
}

error_table! {
    UNKNOWN_SERVER_ERROR = -1, false, "The broker hit an unexpected failure while handling the request.";
    NONE = 0, false, "Success: no error.";
    OFFSET_OUT_OF_RANGE = 1, false, "The requested offset lies outside the offsets the broker holds for the partition.";
    CORRUPT_MESSAGE = 2, true, "A record failed its checksum, is oversized, lacks a key on a compacted topic, or is otherwise malformed.";
    UNKNOWN_TOPIC_OR_PARTITION = 3, true, "The broker does not host the topic-partition (it may not exist yet, or metadata is stale).";
    INVALID_FETCH_SIZE = 4, false, "The fetch size in the request is not acceptable.";
    LEADER_NOT_AVAILABLE = 5, true, "The partition has no leader right now, typically during a leader election.";
    NOT_LEADER_OR_FOLLOWER = 6, true, "The broker is not the leader (or not a replica) for the partition; refresh metadata.";
    REQUEST_TIMED_OUT = 7, true, "The broker did not complete the request within its timeout.";
    BROKER_NOT_AVAILABLE = 8, false, "The broker cannot be reached or is not serving.";
    REPLICA_NOT_AVAILABLE = 9, true, "A replica of the partition is not available on the broker.";
    MESSAGE_TOO_LARGE = 10, false, "A record batch is larger than the broker or topic accepts.";
    STALE_CONTROLLER_EPOCH = 11, false, "The request carried an outdated controller epoch.";
    OFFSET_METADATA_TOO_LARGE = 12, false, "The metadata string attached to an offset commit is too long.";
    NETWORK_EXCEPTION = 13, true, "The connection was closed before a response arrived.";
    COORDINATOR_LOAD_IN_PROGRESS = 14, true, "The coordinator is still loading its state and cannot serve yet.";
    COORDINATOR_NOT_AVAILABLE = 15, true, "No coordinator is currently available for the key.";
    NOT_COORDINATOR = 16, true, "The broker is not the coordinator for the group or transactional id.";
    INVALID_TOPIC_EXCEPTION = 17, false, "The topic name is invalid, or the operation is not allowed on that topic.";
    RECORD_LIST_TOO_LARGE = 18, false, "A record batch exceeds the broker's log segment size.";
    NOT_ENOUGH_REPLICAS = 19, true, "Fewer in-sync replicas than min.insync.replicas; the write was refused.";
    NOT_ENOUGH_REPLICAS_AFTER_APPEND = 20, true, "The write was appended but the in-sync replica set shrank below the minimum.";
    INVALID_REQUIRED_ACKS = 21, false, "The acks value in a produce request is not one of -1, 0 or 1.";
    ILLEGAL_GENERATION = 22, false, "The group generation id is not the current one.";
    INCONSISTENT_GROUP_PROTOCOL = 23, false, "The member's protocols do not match the group's, or its protocol type is empty.";
    INVALID_GROUP_ID = 24, false, "The group id is empty or otherwise not valid.";
    UNKNOWN_MEMBER_ID = 25, false, "The coordinator does not know this member id.";
    INVALID_SESSION_TIMEOUT = 26, false, "The session timeout is outside the range the broker allows.";
    REBALANCE_IN_PROGRESS = 27, false, "The group is rebalancing; the member must rejoin.";
    INVALID_COMMIT_OFFSET_SIZE = 28, false, "The size of the offset commit data is invalid.";
    TOPIC_AUTHORIZATION_FAILED = 29, false, "The principal is not authorized for the topic.";
    GROUP_AUTHORIZATION_FAILED = 30, false, "The principal is not authorized for the group.";
    CLUSTER_AUTHORIZATION_FAILED = 31, false, "The principal is not authorized for the cluster operation.";
    INVALID_TIMESTAMP = 32, false, "A record timestamp is outside the range the topic accepts.";
    UNSUPPORTED_SASL_MECHANISM = 33, false, "The broker does not offer the SASL mechanism asked for.";
    ILLEGAL_SASL_STATE = 34, false, "The request is not allowed in the current state of the SASL exchange.";
    UNSUPPORTED_VERSION = 35, false, "The broker does not support this version of the API.";
    TOPIC_ALREADY_EXISTS = 36, false, "A topic with that name already exists.";
    INVALID_PARTITIONS = 37, false, "The partition count is invalid (below 1).";
    INVALID_REPLICATION_FACTOR = 38, false, "The replication factor is below 1 or above the number of brokers.";
    INVALID_REPLICA_ASSIGNMENT = 39, false, "The replica assignment is not valid.";
    INVALID_CONFIG = 40, false, "A configuration value is not valid.";
    NOT_CONTROLLER = 41, true, "The broker is not the active controller.";
    INVALID_REQUEST = 42, false, "The request is malformed or not understood by this broker; see its logs.";
    UNSUPPORTED_FOR_MESSAGE_FORMAT = 43, false, "The broker's message format does not support this request.";
    POLICY_VIOLATION = 44, false, "The request breaks a policy configured on the broker.";
    OUT_OF_ORDER_SEQUENCE_NUMBER = 45, false, "The broker saw a producer sequence number out of order.";
    DUPLICATE_SEQUENCE_NUMBER = 46, false, "The broker saw a producer sequence number it already has.";
    INVALID_PRODUCER_EPOCH = 47, false, "The producer epoch is older than the one the broker knows.";
    INVALID_TXN_STATE = 48, false, "The transactional operation is not valid in the transaction's current state.";
    INVALID_PRODUCER_ID_MAPPING = 49, false, "The producer id is not the one assigned to this transactional id.";
    INVALID_TRANSACTION_TIMEOUT = 50, false, "The transaction timeout exceeds the broker's transaction.max.timeout.ms.";
    CONCURRENT_TRANSACTIONS = 51, true, "Another operation on the same transaction is still in progress.";
    TRANSACTION_COORDINATOR_FENCED = 52, false, "The transaction coordinator that sent the marker is no longer current.";
    TRANSACTIONAL_ID_AUTHORIZATION_FAILED = 53, false, "The principal is not authorized for the transactional id.";
    SECURITY_DISABLED = 54, false, "Security features are turned off on the broker.";
    OPERATION_NOT_ATTEMPTED = 55, false, "The broker skipped this operation because another part of a batched request failed.";
    KAFKA_STORAGE_ERROR = 56, true, "The broker failed to read or write a log on disk.";
    LOG_DIR_NOT_FOUND = 57, false, "The log directory named in the request is not configured on the broker.";
    SASL_AUTHENTICATION_FAILED = 58, false, "SASL authentication did not succeed.";
    UNKNOWN_PRODUCER_ID = 59, false, "The broker has no state for the producer id (for example after its records were deleted).";
    REASSIGNMENT_IN_PROGRESS = 60, false, "A partition reassignment is already running.";
    DELEGATION_TOKEN_AUTH_DISABLED = 61, false, "Delegation tokens are not enabled.";
    DELEGATION_TOKEN_NOT_FOUND = 62, false, "The delegation token does not exist.";
    DELEGATION_TOKEN_OWNER_MISMATCH = 63, false, "The principal is not the owner or renewer of the token.";
    DELEGATION_TOKEN_REQUEST_NOT_ALLOWED = 64, false, "Delegation token requests are not allowed on this kind of channel.";
    DELEGATION_TOKEN_AUTHORIZATION_FAILED = 65, false, "The principal is not authorized for the delegation token.";
    DELEGATION_TOKEN_EXPIRED = 66, false, "The delegation token has expired.";
    INVALID_PRINCIPAL_TYPE = 67, false, "The principal type is not supported.";
    NON_EMPTY_GROUP = 68, false, "The group still has members.";
    GROUP_ID_NOT_FOUND = 69, false, "No group with that id exists.";
    FETCH_SESSION_ID_NOT_FOUND = 70, true, "The fetch session id is unknown to the broker.";
    INVALID_FETCH_SESSION_EPOCH = 71, true, "The fetch session epoch does not match.";
    LISTENER_NOT_FOUND = 72, true, "The leader has no listener matching the one the metadata request came in on.";
    TOPIC_DELETION_DISABLED = 73, false, "Deleting topics is disabled on the broker.";
    FENCED_LEADER_EPOCH = 74, true, "The leader epoch in the request is older than the broker's.";
    UNKNOWN_LEADER_EPOCH = 75, true, "The leader epoch in the request is newer than the broker's.";
    UNSUPPORTED_COMPRESSION_TYPE = 76, false, "The requester cannot handle the partition's compression type.";
    STALE_BROKER_EPOCH = 77, false, "The broker epoch in the request is outdated.";
    OFFSET_NOT_AVAILABLE = 78, true, "The new leader's high watermark has not caught up, so offsets are not yet reliable.";
    MEMBER_ID_REQUIRED = 79, false, "The member must obtain a member id before joining the group.";
    PREFERRED_LEADER_NOT_AVAILABLE = 80, true, "The preferred leader replica is not available.";
    GROUP_MAX_SIZE_REACHED = 81, false, "The group already has the maximum number of members.";
    FENCED_INSTANCE_ID = 82, false, "Another member registered with the same group.instance.id.";
    ELIGIBLE_LEADERS_NOT_AVAILABLE = 83, true, "No eligible leader is available for the partition.";
    ELECTION_NOT_NEEDED = 84, true, "The partition already has the leader an election would choose.";
    NO_REASSIGNMENT_IN_PROGRESS = 85, false, "There is no partition reassignment to cancel or describe.";
    GROUP_SUBSCRIBED_TO_TOPIC = 86, false, "Offsets of a topic cannot be deleted while the group is subscribed to it.";
    INVALID_RECORD = 87, false, "The broker's validation rejected a record.";
    UNSTABLE_OFFSET_COMMIT = 88, true, "Pending transactional offsets must settle first.";
    THROTTLING_QUOTA_EXCEEDED = 89, true, "A throttling quota was exceeded.";
    PRODUCER_FENCED = 90, false, "A newer producer with the same transactional id has fenced this one.";
    RESOURCE_NOT_FOUND = 91, false, "The request names a resource that does not exist.";
    DUPLICATE_RESOURCE = 92, false, "The request names the same resource more than once.";
    UNACCEPTABLE_CREDENTIAL = 93, false, "The credential does not meet the acceptance criteria.";
    INCONSISTENT_VOTER_SET = 94, false, "The sender or receiver of a quorum request is not an expected voter.";
    INVALID_UPDATE_VERSION = 95, false, "The update version is not valid.";
    FEATURE_UPDATE_FAILED = 96, false, "Finalized features could not be updated because of a broker error.";
    PRINCIPAL_DESERIALIZATION_FAILURE = 97, false, "A forwarded request's principal could not be deserialized.";
    SNAPSHOT_NOT_FOUND = 98, false, "The requested snapshot does not exist.";
    POSITION_OUT_OF_RANGE = 99, false, "The requested snapshot position is negative or past its end.";
    UNKNOWN_TOPIC_ID = 100, true, "The broker does not host a topic with this id.";
    DUPLICATE_BROKER_REGISTRATION = 101, false, "The broker id is already registered.";
    BROKER_ID_NOT_REGISTERED = 102, false, "The broker id has not been registered.";
    INCONSISTENT_TOPIC_ID = 103, true, "The topic id in the request does not match the log's topic id.";
    INCONSISTENT_CLUSTER_ID = 104, false, "The cluster id in the request is not this cluster's.";
    TRANSACTIONAL_ID_NOT_FOUND = 105, false, "The transactional id is unknown.";
    FETCH_SESSION_TOPIC_ID_ERROR = 106, true, "The fetch session used topic ids inconsistently.";
    INELIGIBLE_REPLICA = 107, false, "The proposed in-sync replica set contains an ineligible replica.";
    NEW_LEADER_ELECTED = 108, false, "The partition state was updated but leadership has moved.";
    OFFSET_MOVED_TO_TIERED_STORAGE = 109, false, "The requested offset is now only in tiered storage.";
    FENCED_MEMBER_EPOCH = 110, false, "The member epoch was fenced; the member must give up its partitions and rejoin.";
    UNRELEASED_INSTANCE_ID = 111, false, "The instance id is still held by another member that must leave first.";
    UNSUPPORTED_ASSIGNOR = 112, false, "The group does not support the assignor or its version range.";
    STALE_MEMBER_EPOCH = 113, false, "The member epoch is stale; retry after the next heartbeat supplies a new one.";
    MISMATCHED_ENDPOINT_TYPE = 114, false, "The request reached an endpoint of the wrong kind.";
    UNSUPPORTED_ENDPOINT_TYPE = 115, false, "The endpoint type is not supported.";
    UNKNOWN_CONTROLLER_ID = 116, false, "The controller id is unknown.";
    UNKNOWN_SUBSCRIPTION_ID = 117, false, "The telemetry subscription id is unknown or outdated.";
    TELEMETRY_TOO_LARGE = 118, false, "The pushed telemetry exceeds the size the broker accepts.";
    INVALID_REGISTRATION = 119, false, "The controller judged the broker registration invalid.";
    TRANSACTION_ABORTABLE = 120, false, "The transaction hit an error; abort it to keep using the transactional id.";
    INVALID_RECORD_STATE = 121, false, "The record's state does not allow the acknowledgement.";
    SHARE_SESSION_NOT_FOUND = 122, true, "The share session is unknown.";
    INVALID_SHARE_SESSION_EPOCH = 123, true, "The share session epoch does not match.";
    FENCED_STATE_EPOCH = 124, false, "The state epoch does not match the coordinator's.";
    INVALID_VOTER_KEY = 125, false, "The voter key is not the receiving replica's key.";
    DUPLICATE_VOTER = 126, false, "The voter is already in the voter set.";
    VOTER_NOT_FOUND = 127, false, "The voter is not in the voter set.";
    INVALID_REGULAR_EXPRESSION = 128, false, "The regular expression cannot be parsed.";
    REBOOTSTRAP_REQUIRED = 129, false, "The client's metadata is stale; it should rebootstrap.";
    STREAMS_INVALID_TOPOLOGY = 130, false, "The Streams topology is invalid.";
    STREAMS_INVALID_TOPOLOGY_EPOCH = 131, false, "The Streams topology epoch is invalid.";
    STREAMS_TOPOLOGY_FENCED = 132, false, "The Streams topology epoch is out of date.";
    SHARE_SESSION_LIMIT_REACHED = 133, true, "The broker has reached its limit of share sessions.";
    GROUP_DELETION_FAILED = 134, false, "Deleting the group failed; the per-group result says why.";
    STREAMS_TOPOLOGY_DESCRIPTION_UPDATE_FAILED = 135, false, "The Streams topology description could not be updated.";
    CONTROLLER_ID_NOT_REGISTERED = 136, false, "The controller id has not been registered.";
}

impl ErrorCode {
    /// The table row, if the code is known.
    pub fn info(self) -> Option<&'static ErrorInfo> {
        // The table is contiguous from -1, so the row index is code + 1.
        let idx = usize::try_from(i32::from(self.0) + 1).ok()?;
        ERROR_TABLE.get(idx).filter(|e| e.code == self.0)
    }
    /// The Java name, or `UNKNOWN` for codes not in the table.
    pub fn name(self) -> &'static str {
        self.info().map_or("UNKNOWN", |e| e.name)
    }
    /// Whether a request failing with this code may be retried. Unknown codes are not.
    pub fn is_retriable(self) -> bool {
        self.info().is_some_and(|e| e.retriable)
    }
    /// A description of the code.
    pub fn description(self) -> &'static str {
        self.info()
            .map_or("An error code this client does not know.", |e| {
                e.description
            })
    }
    /// Whether this is `NONE` (0).
    pub fn is_ok(self) -> bool {
        self.0 == 0
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.name(), self.0, self.description())
    }
}

impl From<i16> for ErrorCode {
    fn from(code: i16) -> Self {
        ErrorCode(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `code NAME retriable` lines printed by the Java client's `Errors.values()`
    /// (see `tests/fixtures/java/GenFixtures.java`).
    const JAVA_ERRORS: &str = include_str!("../../tests/fixtures/errors.txt");

    #[test]
    fn table_matches_java_errors_enum() {
        let java: Vec<(i16, &str, bool)> = JAVA_ERRORS
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let mut it = l.split_whitespace();
                let code = it.next().unwrap().parse().unwrap();
                let name = it.next().unwrap();
                let retriable = it.next().unwrap().parse().unwrap();
                (code, name, retriable)
            })
            .collect();
        let ours: Vec<(i16, &str, bool)> = ERROR_TABLE
            .iter()
            .map(|e| (e.code, e.name, e.retriable))
            .collect();
        assert_eq!(ours, java);
    }

    #[test]
    fn lookup_is_by_code() {
        for (i, e) in ERROR_TABLE.iter().enumerate() {
            assert_eq!(e.code as i32, i as i32 - 1, "table must be contiguous");
            assert_eq!(ErrorCode(e.code).name(), e.name);
            assert!(!e.description.is_empty());
        }
        assert_eq!(ErrorCode::NOT_LEADER_OR_FOLLOWER.0, 6);
        assert!(ErrorCode(6).is_retriable());
        assert!(!ErrorCode::UNSUPPORTED_VERSION.is_retriable());
        assert!(ErrorCode::NONE.is_ok());
        assert_eq!(ErrorCode(-2).name(), "UNKNOWN");
        assert_eq!(ErrorCode(i16::MAX).info().map(|e| e.code), None);
        assert_eq!(ErrorCode(i16::MIN).info().map(|e| e.code), None);
        assert!(!ErrorCode(9999).is_retriable());
    }
}
