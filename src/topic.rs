//! Topic name rules (Java's `org.apache.kafka.common.internals.Topic.validate`).

use crate::error::Error;

/// The longest legal topic name, in characters.
pub(crate) const MAX_TOPIC_NAME_LEN: usize = 249;

/// Checks that `name` is a legal Kafka topic name: not empty, not `.` or `..`, at most 249
/// characters, and only ASCII letters, digits, `.`, `_` and `-`.
pub(crate) fn validate_topic(name: &str) -> Result<(), Error> {
    let reason = if name.is_empty() {
        "it can't be empty"
    } else if name == "." || name == ".." {
        "it can't be \".\" or \"..\""
    } else if name.len() > MAX_TOPIC_NAME_LEN && name.encode_utf16().count() > MAX_TOPIC_NAME_LEN {
        // Java counts UTF-16 units; only then the characters are checked
        "it can't be longer than 249 characters"
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        "it contains a character other than ASCII alphanumerics, '.', '_' and '-'"
    } else {
        return Ok(());
    };
    Err(Error::InvalidTopic {
        topic: name.to_string(),
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(name: &str) -> &'static str {
        match validate_topic(name) {
            Err(Error::InvalidTopic { topic, reason }) => {
                assert_eq!(topic, name);
                reason
            }
            other => panic!("{name:?}: {other:?}"),
        }
    }

    #[test]
    fn legal_names() {
        for n in [
            "a",
            "topic",
            "my.topic_1-2",
            "...",
            ".a",
            "A_Z.0-9",
            &"x".repeat(249),
        ] {
            assert!(validate_topic(n).is_ok(), "{n:?}");
        }
    }

    #[test]
    fn illegal_names() {
        assert!(reason("").contains("empty"));
        assert!(reason(".").contains("\".\""));
        assert!(reason("..").contains("\"..\""));
        assert!(reason(&"x".repeat(250)).contains("249"));
        for n in ["a b", "a/b", "é", "topic!", "a\0", "a:b", "tab\t"] {
            assert!(reason(n).contains("ASCII alphanumerics"), "{n:?}");
        }
        // Java checks the length (in UTF-16 units) before the characters
        assert!(reason(&"é".repeat(250)).contains("249"));
        assert!(reason(&"é".repeat(200)).contains("ASCII alphanumerics"));
    }
}
