//! The one table of broker error codes: code, name, whether retriable, description.
//!
//! Everything that needs to know about an error code (the sender deciding to retry, the public
//! error telling a user what happened) asks this table; nothing matches on raw codes elsewhere.
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
        /// Every known error code, in code order.
        pub static ERROR_TABLE: &[ErrorInfo] = &[
            $( ErrorInfo { code: $code, name: stringify!($konst), retriable: $retriable, description: $desc }, )*
        ];
    };
}

error_table! {
    UNKNOWN_SERVER_ERROR = -1, false, "The server experienced an unexpected error when processing the request.";
    NONE = 0, false, "No error.";
    OFFSET_OUT_OF_RANGE = 1, false, "The requested offset is not within the range of offsets maintained by the server.";
    CORRUPT_MESSAGE = 2, true, "This message has failed its CRC checksum, exceeds the valid size, has a null key for a compacted topic, or is otherwise corrupt.";
    UNKNOWN_TOPIC_OR_PARTITION = 3, true, "This server does not host this topic-partition.";
    // The rest of the table is filled in by the protocol work (issue 3).
}

impl ErrorCode {
    /// The table row, if the code is known.
    pub fn info(self) -> Option<&'static ErrorInfo> {
        ERROR_TABLE.iter().find(|e| e.code == self.0)
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
