//! Every STS error the server can answer, and its wire form: HTTP status, fault type
//! (`Sender`/`Receiver`), code and message. This is the one place that mapping lives: the
//! errors of the pure crates (token verification, SigV4, session tokens, policy documents)
//! carry AWS's message as their `Display` and become an [`StsError`] through the `From`
//! impls below.
//!
//! Messages reproduce AWS's wording exactly (so they break the project's lowercase rule on
//! purpose): SDKs and users compare them with what real STS sends.

use crate::credentials::CredError;
use irsa_jose::JoseError;
use irsa_policy::PolicyError;
use irsa_sigv4::{ErrorKind, VerifyError};
use std::fmt;

/// Who is at fault, as the `<Type>` element of an `ErrorResponse` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The caller sent something wrong (4xx).
    Sender,
    /// The server failed (5xx).
    Receiver,
}

impl Fault {
    /// The text of the `<Type>` element.
    pub fn as_str(self) -> &'static str {
        match self {
            Fault::Sender => "Sender",
            Fault::Receiver => "Receiver",
        }
    }
}

/// One failed constraint, rendered in AWS's (Coral) validation wording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationFailure {
    /// The member path in lower camel case, e.g. `roleSessionName`, `policyArns.1.member.arn`.
    pub member: String,
    /// The offending value; `None` renders `Value null`; sensitive members carry
    /// [`Shown::Hidden`] and render `Value at`.
    pub value: Shown,
    /// The constraint text, e.g. `Member must have length less than or equal to 64`.
    pub constraint: String,
}

/// How a value appears in a validation message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shown {
    /// `Value 'x' at …`
    Value(String),
    /// `Value null at …` (a required member is missing)
    Null,
    /// `Value at …` (a sensitive member such as the web identity token)
    Hidden,
}

impl fmt::Display for ValidationFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Shown::Value(v) => write!(f, "Value '{v}' at '{}'", self.member)?,
            Shown::Null => write!(f, "Value null at '{}'", self.member)?,
            Shown::Hidden => write!(f, "Value at '{}'", self.member)?,
        }
        write!(f, " failed to satisfy constraint: {}", self.constraint)
    }
}

/// Renders `N validation error(s) detected: a; b` as AWS does.
pub fn validation_message(failures: &[ValidationFailure]) -> String {
    let n = failures.len();
    let noun = if n == 1 { "error" } else { "errors" };
    let list: Vec<String> = failures.iter().map(ToString::to_string).collect();
    format!("{n} validation {noun} detected: {}", list.join("; "))
}

/// An STS error. `Display` is the AWS message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StsError {
    /// `ValidationError` (400) with the AWS message, e.g. from [`validation_message`].
    #[error("{0}")]
    Validation(String),
    /// `MissingAction` (400): no `Action` parameter.
    #[error("The request is missing an action or a required parameter.")]
    MissingAction,
    /// `InvalidAction` (400): an action this service doesn't have (or a wrong `Version`).
    #[error("Could not find operation {action} for version {version}")]
    InvalidAction {
        /// The `Action` sent.
        action: String,
        /// The `Version` sent (or the service's version when none was sent).
        version: String,
    },
    /// `InvalidParameterValue` (400).
    #[error("{0}")]
    InvalidParameterValue(String),
    /// `InvalidIdentityToken` (400).
    #[error("{0}")]
    InvalidIdentityToken(String),
    /// `ExpiredTokenException` (400): the web identity token's `exp` has passed.
    #[error("{0}")]
    ExpiredTokenException(String),
    /// `IDPCommunicationError` (400): the issuer's discovery document or JWKS can't be had.
    #[error("{0}")]
    IdpCommunicationError(String),
    /// `IDPRejectedClaim` (403).
    #[error("{0}")]
    IdpRejectedClaim(String),
    /// `MalformedPolicyDocument` (400): the session policy is invalid.
    #[error("{0}")]
    MalformedPolicyDocument(String),
    /// `PackedPolicyTooLarge` (400).
    #[error(
        "Packed policy consumes {percent}% of allotted space, please use smaller policy for the session."
    )]
    PackedPolicyTooLarge {
        /// How much of the allowed size the packed policies take.
        percent: u32,
    },
    /// `PackedPolicyTooLarge` (400) when session tags push the packed size (session
    /// policies, policy ARNs and tags together) over the limit. Wording from AWS's knowledge
    /// center article "iam-role-aws-sts-error".
    #[error("Packed size of session tags consumes {percent}% of allotted space.")]
    PackedTagsTooLarge {
        /// How much of the allowed size the policies and tags take together.
        percent: u32,
    },
    /// `AccessDenied` (403).
    #[error("{0}")]
    AccessDenied(String),
    /// `MissingAuthenticationToken` (403): a signed action arrived without a signature.
    #[error("Request is missing Authentication Token")]
    MissingAuthenticationToken,
    /// `IncompleteSignature` (400): the `Authorization` header is malformed.
    #[error("{0}")]
    IncompleteSignature(String),
    /// `InvalidClientTokenId` (403): unknown access key or a session token that won't open.
    #[error("The security token included in the request is invalid.")]
    InvalidClientTokenId,
    /// `SignatureDoesNotMatch` (403).
    #[error("{0}")]
    SignatureDoesNotMatch(String),
    /// `RequestExpired` (400): a presigned request past its `X-Amz-Expires`.
    #[error("{0}")]
    RequestExpired(String),
    /// `ExpiredToken` (403): the session credentials have expired.
    #[error("The security token included in the request is expired")]
    ExpiredToken,
    /// `Throttling` (400): over capacity.
    #[error("Rate exceeded")]
    Throttling,
    /// `RequestEntityTooLarge` (413): the body exceeds the server's limit.
    #[error("Request body exceeds the maximum allowed size")]
    RequestEntityTooLarge,
    /// `RequestTimeout` (408): the request took longer than the server allows.
    #[error("The request took too long to process")]
    RequestTimeout,
    /// `InternalFailure` (500). The detail is for logs only; the wire message is generic.
    #[error("An internal error occurred")]
    InternalFailure,
    /// `ServiceUnavailable` (503).
    #[error("Service is unable to handle request.")]
    ServiceUnavailable,
}

impl StsError {
    /// The `<Code>` element.
    pub fn code(&self) -> &'static str {
        match self {
            StsError::Validation(_) => "ValidationError",
            StsError::MissingAction => "MissingAction",
            StsError::InvalidAction { .. } => "InvalidAction",
            StsError::InvalidParameterValue(_) => "InvalidParameterValue",
            StsError::InvalidIdentityToken(_) => "InvalidIdentityToken",
            StsError::ExpiredTokenException(_) => "ExpiredTokenException",
            StsError::IdpCommunicationError(_) => "IDPCommunicationError",
            StsError::IdpRejectedClaim(_) => "IDPRejectedClaim",
            StsError::MalformedPolicyDocument(_) => "MalformedPolicyDocument",
            StsError::PackedPolicyTooLarge { .. } | StsError::PackedTagsTooLarge { .. } => {
                "PackedPolicyTooLarge"
            }
            StsError::AccessDenied(_) => "AccessDenied",
            StsError::MissingAuthenticationToken => "MissingAuthenticationToken",
            StsError::IncompleteSignature(_) => "IncompleteSignature",
            StsError::InvalidClientTokenId => "InvalidClientTokenId",
            StsError::SignatureDoesNotMatch(_) => "SignatureDoesNotMatch",
            StsError::ExpiredToken => "ExpiredToken",
            StsError::RequestExpired(_) => "RequestExpired",
            StsError::Throttling => "Throttling",
            StsError::RequestEntityTooLarge => "RequestEntityTooLarge",
            StsError::RequestTimeout => "RequestTimeout",
            StsError::InternalFailure => "InternalFailure",
            StsError::ServiceUnavailable => "ServiceUnavailable",
        }
    }

    /// The HTTP status AWS answers this code with.
    pub fn status(&self) -> u16 {
        match self {
            StsError::IdpRejectedClaim(_)
            | StsError::AccessDenied(_)
            | StsError::MissingAuthenticationToken
            | StsError::InvalidClientTokenId
            | StsError::SignatureDoesNotMatch(_)
            | StsError::ExpiredToken => 403,
            StsError::RequestEntityTooLarge => 413,
            StsError::RequestTimeout => 408,
            StsError::InternalFailure => 500,
            StsError::ServiceUnavailable => 503,
            _ => 400,
        }
    }

    /// `Sender` for 4xx, `Receiver` for 5xx.
    pub fn fault(&self) -> Fault {
        if self.status() >= 500 {
            Fault::Receiver
        } else {
            Fault::Sender
        }
    }

    /// The `<Message>` element (AWS's wording).
    pub fn message(&self) -> String {
        self.to_string()
    }

    /// `AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity`.
    pub fn not_authorized() -> Self {
        StsError::AccessDenied("Not authorized to perform sts:AssumeRoleWithWebIdentity".into())
    }

    /// `ValidationError` from a list of failed constraints.
    pub fn validation(failures: &[ValidationFailure]) -> Self {
        StsError::Validation(validation_message(failures))
    }
}

/// A rejected web identity token: `ExpiredTokenException` when `exp` has passed,
/// `IDPCommunicationError` when the issuer's keys cannot be had, `InvalidIdentityToken`
/// otherwise; the message is the error's `Display` (AWS's wording).
impl From<&JoseError> for StsError {
    fn from(e: &JoseError) -> StsError {
        let message = e.to_string();
        match e {
            JoseError::Expired { .. } => StsError::ExpiredTokenException(message),
            JoseError::IdpCommunication { .. } => StsError::IdpCommunicationError(message),
            _ => StsError::InvalidIdentityToken(message),
        }
    }
}

impl From<JoseError> for StsError {
    fn from(e: JoseError) -> StsError {
        StsError::from(&e)
    }
}

/// A failed SigV4 check, under the Query protocol's code for its kind.
impl From<&VerifyError> for StsError {
    fn from(e: &VerifyError) -> StsError {
        match e.kind() {
            ErrorKind::MissingAuthenticationToken => StsError::MissingAuthenticationToken,
            ErrorKind::IncompleteSignature => StsError::IncompleteSignature(e.to_string()),
            ErrorKind::InvalidClientTokenId => StsError::InvalidClientTokenId,
            ErrorKind::RequestExpired => StsError::RequestExpired(e.to_string()),
            _ => StsError::SignatureDoesNotMatch(e.to_string()),
        }
    }
}

impl From<VerifyError> for StsError {
    fn from(e: VerifyError) -> StsError {
        StsError::from(&e)
    }
}

/// A session token that does not open: `ExpiredToken` for an expired session,
/// `InvalidClientTokenId` for every other token error.
impl From<&CredError> for StsError {
    fn from(e: &CredError) -> StsError {
        match e {
            CredError::Expired { .. } => StsError::ExpiredToken,
            _ => StsError::InvalidClientTokenId,
        }
    }
}

impl From<CredError> for StsError {
    fn from(e: CredError) -> StsError {
        StsError::from(&e)
    }
}

/// An invalid policy document: `ValidationError` for a session policy's length or
/// characters (the model's constraints), `MalformedPolicyDocument` for the rest.
impl From<&PolicyError> for StsError {
    fn from(e: &PolicyError) -> StsError {
        let message = e.to_string();
        match e {
            PolicyError::TooLong { .. } | PolicyError::InvalidCharacters => {
                StsError::Validation(message)
            }
            _ => StsError::MalformedPolicyDocument(message),
        }
    }
}

impl From<PolicyError> for StsError {
    fn from(e: PolicyError) -> StsError {
        StsError::from(&e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_and_two_validation_errors() {
        let a = ValidationFailure {
            member: "roleSessionName".into(),
            value: Shown::Value("a:b".into()),
            constraint: r"Member must satisfy regular expression pattern: [\w+=,.@-]*".into(),
        };
        assert_eq!(
            validation_message(std::slice::from_ref(&a)),
            r"1 validation error detected: Value 'a:b' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]*"
        );
        let b = ValidationFailure {
            member: "roleArn".into(),
            value: Shown::Null,
            constraint: "Member must not be null".into(),
        };
        let c = ValidationFailure {
            member: "webIdentityToken".into(),
            value: Shown::Hidden,
            constraint: "Member must have length greater than or equal to 4".into(),
        };
        assert_eq!(
            validation_message(&[b, c]),
            "2 validation errors detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null; Value at 'webIdentityToken' failed to satisfy constraint: Member must have length greater than or equal to 4"
        );
    }

    #[test]
    fn statuses_and_faults() {
        let cases: Vec<(StsError, u16, &str, Fault)> = vec![
            (
                StsError::not_authorized(),
                403,
                "AccessDenied",
                Fault::Sender,
            ),
            (
                StsError::InvalidIdentityToken("x".into()),
                400,
                "InvalidIdentityToken",
                Fault::Sender,
            ),
            (
                StsError::ExpiredTokenException("x".into()),
                400,
                "ExpiredTokenException",
                Fault::Sender,
            ),
            (
                StsError::IdpCommunicationError("x".into()),
                400,
                "IDPCommunicationError",
                Fault::Sender,
            ),
            (
                StsError::IdpRejectedClaim("x".into()),
                403,
                "IDPRejectedClaim",
                Fault::Sender,
            ),
            (
                StsError::MissingAuthenticationToken,
                403,
                "MissingAuthenticationToken",
                Fault::Sender,
            ),
            (
                StsError::InvalidClientTokenId,
                403,
                "InvalidClientTokenId",
                Fault::Sender,
            ),
            (StsError::ExpiredToken, 403, "ExpiredToken", Fault::Sender),
            (StsError::Throttling, 400, "Throttling", Fault::Sender),
            (
                StsError::InternalFailure,
                500,
                "InternalFailure",
                Fault::Receiver,
            ),
        ];
        for (e, status, code, fault) in cases {
            assert_eq!(e.status(), status, "{code}");
            assert_eq!(e.code(), code);
            assert_eq!(e.fault(), fault, "{code}");
        }
        assert_eq!(
            StsError::InvalidClientTokenId.message(),
            "The security token included in the request is invalid."
        );
        assert_eq!(
            StsError::InvalidAction {
                action: "Foo".into(),
                version: "2011-06-15".into()
            }
            .message(),
            "Could not find operation Foo for version 2011-06-15"
        );
    }

    #[test]
    fn pure_errors_map_to_their_sts_codes() {
        let jose = |e: JoseError| {
            let s = StsError::from(&e);
            (s.code(), s.status(), s.message() == e.to_string())
        };
        assert_eq!(
            jose(JoseError::Expired { now: 2, exp: 1 }),
            ("ExpiredTokenException", 400, true)
        );
        assert_eq!(
            jose(JoseError::IdpCommunication { reason: "x".into() }),
            ("IDPCommunicationError", 400, true)
        );
        for e in [
            JoseError::BadSignature,
            JoseError::AudienceMismatch,
            JoseError::KeyNotFound { kid: None },
            JoseError::MissingClaim { claim: "sub" },
        ] {
            assert_eq!(jose(e), ("InvalidIdentityToken", 400, true));
        }

        let sigv4 = |e: VerifyError| {
            let s = StsError::from(&e);
            (s.code(), s.status())
        };
        assert_eq!(
            sigv4(VerifyError::MissingAuthentication),
            ("MissingAuthenticationToken", 403)
        );
        assert_eq!(
            sigv4(VerifyError::IncompleteSignature(String::new())),
            ("IncompleteSignature", 400)
        );
        assert_eq!(
            sigv4(VerifyError::UnknownAccessKey {
                access_key_id: "A".into()
            }),
            ("InvalidClientTokenId", 403)
        );
        assert_eq!(
            sigv4(VerifyError::PresignedUrlExpired {
                expired_at: String::new()
            }),
            ("RequestExpired", 400)
        );
        assert_eq!(
            sigv4(VerifyError::PayloadHashMismatch),
            ("SignatureDoesNotMatch", 403)
        );
        assert_eq!(
            StsError::from(VerifyError::PayloadHashMismatch).message(),
            VerifyError::PayloadHashMismatch.to_string()
        );

        assert_eq!(
            StsError::from(CredError::Expired { expired_at: 1 }),
            StsError::ExpiredToken
        );
        assert_eq!(
            StsError::from(CredError::TamperedToken),
            StsError::InvalidClientTokenId
        );

        assert_eq!(
            StsError::from(PolicyError::InvalidCharacters).code(),
            "ValidationError"
        );
        let e = StsError::from(PolicyError::Syntax);
        assert_eq!(
            (e.code(), e.message().as_str()),
            ("MalformedPolicyDocument", "Syntax errors in policy.")
        );
    }
}
