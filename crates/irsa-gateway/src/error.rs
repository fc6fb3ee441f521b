//! DynamoDB's JSON error responses: the one place the gateway turns errors into wire answers.
//! The errors of the pure crates (SigV4, session tokens, request mapping) become an
//! [`ApiError`] through the `From` impls below.

use irsa_sigv4::{ErrorKind, VerifyError};
use irsa_sts_core::CredError;

use irsa_authz::Denied;
use irsa_dynamodb::MapError;

/// An error answered in DynamoDB's wire format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// The `__type` value, e.g. `com.amazon.coral.service#AccessDeniedException`.
    pub type_name: &'static str,
    /// The message (AWS's wording); `None` for errors DynamoDB sends without one.
    pub message: Option<String>,
    /// DynamoDB spells the member `Message` for some errors and `message` for others.
    pub capital_message: bool,
}

const CORAL: &str = "com.amazon.coral.service#";

/// The error code (and `__type`) of an allowed request on a gateway without an upstream.
/// Not an AWS error, so it carries no AWS namespace.
pub const UPSTREAM_NOT_CONFIGURED: &str = "UpstreamNotConfigured";

impl ApiError {
    fn new(status: u16, type_name: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            type_name,
            message: Some(message.into()),
            capital_message: false,
        }
    }

    /// The error code (the `__type` after `#`).
    pub fn code(&self) -> &str {
        self.type_name
            .rsplit_once('#')
            .map_or(self.type_name, |(_, c)| c)
    }

    /// `AccessDeniedException` with AWS's wording.
    pub fn access_denied(d: &Denied) -> ApiError {
        ApiError {
            capital_message: true,
            ..ApiError::new(
                400,
                "com.amazon.coral.service#AccessDeniedException",
                d.to_string(),
            )
        }
    }

    /// `UnrecognizedClientException`: unknown access key or invalid session token.
    pub fn unrecognized_client() -> ApiError {
        ApiError::new(
            400,
            "com.amazon.coral.service#UnrecognizedClientException",
            "The security token included in the request is invalid.",
        )
    }

    /// `ExpiredTokenException`.
    pub fn expired_token() -> ApiError {
        ApiError::new(
            400,
            "com.amazon.coral.service#ExpiredTokenException",
            "The security token included in the request is expired",
        )
    }

    /// `InvalidSignatureException` with a message.
    pub fn invalid_signature(message: impl Into<String>) -> ApiError {
        ApiError::new(
            400,
            "com.amazon.coral.service#InvalidSignatureException",
            message,
        )
    }

    /// `IncompleteSignatureException`: the signature does not cover what it must.
    pub fn incomplete_signature(message: impl Into<String>) -> ApiError {
        ApiError::new(
            400,
            "com.amazon.coral.service#IncompleteSignatureException",
            message,
        )
    }

    /// `ResourceNotFoundException`: the upstream has no such table.
    pub fn resource_not_found() -> ApiError {
        ApiError::new(
            400,
            "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException",
            "Requested resource not found",
        )
    }

    /// The request was not handled within the gateway's request timeout (a body sent too
    /// slowly, or a slow upstream). SDKs retry this code.
    pub fn request_timeout() -> ApiError {
        ApiError::new(
            408,
            "com.amazon.coral.service#RequestTimeoutException",
            "Request timed out",
        )
    }

    /// [`UPSTREAM_NOT_CONFIGURED`]: the request was allowed by policy but the gateway has
    /// no upstream to send it to. HTTP 400, not 5xx: SDKs retry 5xx answers, and retrying
    /// cannot help.
    pub fn upstream_not_configured(hint: Option<&str>) -> ApiError {
        let mut message = String::from(
            "irsa: no DynamoDB upstream is configured: the request was allowed by policy but there is no table to send it to",
        );
        if let Some(hint) = hint {
            message.push_str(&format!(" ({hint})"));
        }
        ApiError::new(400, UPSTREAM_NOT_CONFIGURED, message)
    }

    /// A body over the size limit.
    pub fn too_large(limit: usize) -> ApiError {
        ApiError::new(
            413,
            "com.amazon.coral.service#RequestEntityTooLargeException",
            format!("Request size exceeded {limit} bytes"),
        )
    }

    /// Too many requests in flight.
    pub fn throttling() -> ApiError {
        ApiError::new(
            400,
            "com.amazon.coral.availability#ThrottlingException",
            "Rate of requests exceeds the allowed throughput.",
        )
    }

    /// The gateway could not complete the request (upstream unreachable or failing).
    pub fn internal() -> ApiError {
        ApiError::new(
            500,
            "com.amazonaws.dynamodb.v20120810#InternalServerError",
            "Internal server error",
        )
    }

    /// The JSON body.
    pub fn body(&self) -> String {
        let mut m = serde_json::Map::new();
        m.insert("__type".into(), self.type_name.into());
        if let Some(msg) = &self.message {
            let key = if self.capital_message {
                "Message"
            } else {
                "message"
            };
            m.insert(key.into(), msg.as_str().into());
        }
        serde_json::Value::Object(m).to_string()
    }
}

/// A failed SigV4 check, under the JSON protocol's code for its kind (all HTTP 400).
impl From<&VerifyError> for ApiError {
    fn from(e: &VerifyError) -> ApiError {
        let type_name = match e.kind() {
            ErrorKind::MissingAuthenticationToken => {
                "com.amazon.coral.service#MissingAuthenticationTokenException"
            }
            ErrorKind::IncompleteSignature => {
                "com.amazon.coral.service#IncompleteSignatureException"
            }
            ErrorKind::InvalidClientTokenId => {
                "com.amazon.coral.service#UnrecognizedClientException"
            }
            _ => "com.amazon.coral.service#InvalidSignatureException",
        };
        debug_assert!(type_name.starts_with(CORAL));
        ApiError::new(400, type_name, e.to_string())
    }
}

/// A session token that did not open: `ExpiredTokenException` for an expired session,
/// `UnrecognizedClientException` otherwise.
impl From<&CredError> for ApiError {
    fn from(e: &CredError) -> ApiError {
        match e {
            CredError::Expired { .. } => ApiError::expired_token(),
            _ => ApiError::unrecognized_client(),
        }
    }
}

/// A request that could not be mapped to IAM.
impl From<&MapError> for ApiError {
    fn from(e: &MapError) -> ApiError {
        match e {
            MapError::UnknownOperation => ApiError {
                message: None,
                ..ApiError::new(
                    400,
                    "com.amazon.coral.service#UnknownOperationException",
                    "",
                )
            },
            MapError::Serialization(m) => {
                ApiError::new(400, "com.amazon.coral.service#SerializationException", m)
            }
            MapError::Validation(m) => {
                ApiError::new(400, "com.amazon.coral.validate#ValidationException", m)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use irsa_authz::DenyReason;

    #[test]
    fn bodies() {
        let d = Denied {
            caller_arn: "arn:aws:sts::1:assumed-role/r/s".into(),
            action: "dynamodb:PutItem".into(),
            resource: "arn:x".into(),
            reason: DenyReason::NoIdentityAllow,
        };
        let e = ApiError::access_denied(&d);
        let v: serde_json::Value = serde_json::from_str(&e.body()).unwrap();
        assert_eq!(
            v["__type"],
            "com.amazon.coral.service#AccessDeniedException"
        );
        assert_eq!(v["Message"], d.to_string());
        assert_eq!(e.code(), "AccessDeniedException");
        assert_eq!(e.status, 400);

        let e = ApiError::unrecognized_client();
        assert_eq!(
            e.body(),
            r#"{"__type":"com.amazon.coral.service#UnrecognizedClientException","message":"The security token included in the request is invalid."}"#
        );
        let e = ApiError::from(&MapError::UnknownOperation);
        assert_eq!(
            e.body(),
            r#"{"__type":"com.amazon.coral.service#UnknownOperationException"}"#
        );
        assert_eq!(
            ApiError::from(&CredError::Expired { expired_at: 1 }).code(),
            "ExpiredTokenException"
        );
        assert_eq!(
            ApiError::from(&CredError::TamperedToken).code(),
            "UnrecognizedClientException"
        );
        assert_eq!(
            ApiError::from(&VerifyError::PayloadHashMismatch).code(),
            "InvalidSignatureException"
        );
        assert_eq!(
            ApiError::from(&VerifyError::MissingAuthentication).code(),
            "MissingAuthenticationTokenException"
        );
    }
}
