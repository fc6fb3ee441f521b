//! Why a request cannot be mapped: each is answered with DynamoDB's own error.

/// A request that cannot be mapped to IAM; the gateway answers it with DynamoDB's error of
/// the same name and forwards nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MapError {
    /// No, a repeated or a foreign `X-Amz-Target` (`UnknownOperationException`).
    #[error("unknown operation")]
    UnknownOperation,
    /// The body is not the JSON the operation takes (`SerializationException`).
    #[error("{0}")]
    Serialization(String),
    /// A member is missing, malformed or over a limit (`ValidationException`, DynamoDB's
    /// wording where known).
    #[error("{0}")]
    Validation(String),
}

pub(crate) fn validation<T>(msg: impl Into<String>) -> Result<T, MapError> {
    Err(MapError::Validation(msg.into()))
}

/// A serde error as DynamoDB's error: over a limit is a `ValidationException`, anything
/// else a `SerializationException` (without serde's position suffix).
pub(crate) fn from_serde(e: &serde_json::Error) -> MapError {
    let text = e.to_string();
    let message = match text.rsplit_once(" at line ") {
        Some((m, _)) => m.to_owned(),
        None => text,
    };
    if message.starts_with(crate::json::TOO_MANY) {
        MapError::Validation(message)
    } else {
        MapError::Serialization(message)
    }
}
