//! The typed rejections of loa's decoders and validators.

use thiserror::Error;

/// Why a message was refused. Every variant is reported by the side that refused it.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ProtocolError {
    /// The signature does not match the payload under the pinned key.
    #[error("bad signature: the message was not signed by the expected key")]
    BadSignature,
    /// A plan whose version is not newer than the one already applied.
    #[error("older plan version {got}: version {current} is already applied")]
    OlderVersion { got: u64, current: u64 },
    /// A plan past its validity: an old plan replayed, or one held back too long.
    #[error("stale plan: it was valid until {valid_until}")]
    Stale {
        valid_until: chrono::DateTime<chrono::Utc>,
    },
    /// A message meant for another node.
    #[error("message is for node {got:?}, this is node {expected:?}")]
    OtherNode { expected: String, got: String },
    /// A message larger than the protocol allows.
    #[error("message of {size} bytes is over the {limit}-byte limit")]
    Oversize { size: usize, limit: usize },
    /// Bytes that are not the message they claim to be.
    #[error("malformed message: {0}")]
    Malformed(String),
}

impl From<serde_json::Error> for ProtocolError {
    fn from(e: serde_json::Error) -> Self {
        ProtocolError::Malformed(e.to_string())
    }
}

/// Refuses a message over `limit` bytes before anything parses it.
pub fn check_size(bytes: &[u8], limit: usize) -> Result<(), ProtocolError> {
    if bytes.len() > limit {
        return Err(ProtocolError::Oversize {
            size: bytes.len(),
            limit,
        });
    }
    Ok(())
}

/// Checks that an id is short and safe inside an MQTT topic and a file name.
pub fn check_id(what: &str, id: &str) -> Result<(), ProtocolError> {
    let ok = !id.is_empty()
        && id.len() <= crate::limits::MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        && !id.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(ProtocolError::Malformed(format!(
            "{what} {id:?} must be 1 to {} letters, digits, '-', '_' or '.'",
            crate::limits::MAX_ID_LEN
        )))
    }
}
