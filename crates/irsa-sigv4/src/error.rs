//! Verification errors, worded as AWS words them, and the kind of AWS error
//! each stands for. The wire code of a kind depends on the protocol, so each
//! protocol maps it once (`impl From<&VerifyError> for StsError` in
//! irsa-sts-core, `for ApiError` in irsa-gateway).
//!
//! Display texts of these errors go to clients in AWS error responses, so they
//! reproduce AWS's wording (capitalised, with AWS's punctuation) instead of this
//! project's usual lower-case style. None of them contains a secret key or a
//! session token.

/// The AWS error a [`VerifyError`] stands for. The wire code differs by
/// protocol (`SignatureDoesNotMatch` in STS, `InvalidSignatureException` in
/// DynamoDB) and is chosen by the protocol's error type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// No SigV4 authentication at all.
    MissingAuthenticationToken,
    /// An `Authorization` header or presigned query that cannot be parsed.
    IncompleteSignature,
    /// The access key id is not known (or its session token is invalid).
    InvalidClientTokenId,
    /// The signature, its scope, its time or the payload hash is wrong.
    SignatureDoesNotMatch,
    /// A presigned URL past its `X-Amz-Expires`.
    RequestExpired,
}

/// What the verifier computed, for diagnostics when signatures differ. The
/// canonical request has the security token redacted; it is safe to return to
/// the caller (as AWS does) but should not be logged at info level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureMismatch {
    /// The canonical request, `X-Amz-Security-Token` values replaced by `<REDACTED>`.
    pub canonical_request: String,
    /// The string to sign.
    pub string_to_sign: String,
}

/// Why a request did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// Neither an `Authorization` header nor presigned query parameters.
    #[error("Request is missing Authentication Token")]
    MissingAuthentication,
    /// The `Authorization` header or presigned query parameters are malformed;
    /// the message says how, in AWS's words.
    #[error("{0}")]
    IncompleteSignature(String),
    /// The credential scope is wrong (service, terminator, region or date); the
    /// message is AWS's.
    #[error("{0}")]
    CredentialScope(String),
    /// The secret lookup did not know the access key id.
    #[error("The security token included in the request is invalid.")]
    UnknownAccessKey {
        /// The access key id from the credential scope.
        access_key_id: String,
    },
    /// A header listed in `SignedHeaders` is not in the request.
    #[error(
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
    )]
    MissingSignedHeader {
        /// The lower-case header name.
        name: String,
    },
    /// The signature is wrong.
    #[error(
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
    )]
    SignatureDoesNotMatch(Box<SignatureMismatch>),
    /// The request time is older than `now - max skew`.
    #[error("Signature expired: {request_time} is now earlier than {earliest} ({now} - {skew}.)")]
    SignatureExpired {
        /// Request time, `YYYYMMDDTHHMMSSZ`.
        request_time: String,
        /// `now - skew`, same format.
        earliest: String,
        /// The server time, same format.
        now: String,
        /// The allowed skew, e.g. `15 min`.
        skew: String,
    },
    /// The request time is later than `now + max skew`.
    #[error(
        "Signature not yet current: {request_time} is still later than {latest} ({now} + {skew}.)"
    )]
    SignatureNotYetCurrent {
        /// Request time, `YYYYMMDDTHHMMSSZ`.
        request_time: String,
        /// `now + skew`, same format.
        latest: String,
        /// The server time, same format.
        now: String,
        /// The allowed skew, e.g. `15 min`.
        skew: String,
    },
    /// A presigned URL used after `X-Amz-Date + X-Amz-Expires`.
    #[error("Request has expired")]
    PresignedUrlExpired {
        /// When it expired, `YYYYMMDDTHHMMSSZ`.
        expired_at: String,
    },
    /// `x-amz-content-sha256` is not the SHA-256 of the body.
    #[error("The provided 'x-amz-content-sha256' header does not match what was computed.")]
    PayloadHashMismatch,
    /// `x-amz-content-sha256` is not a hex SHA-256 (or a value we accept).
    #[error("x-amz-content-sha256 must be UNSIGNED-PAYLOAD or a valid sha256 value.")]
    InvalidPayloadHash,
    /// `UNSIGNED-PAYLOAD` was used where the options forbid it.
    #[error("UNSIGNED-PAYLOAD is not accepted by this service; sign the request payload.")]
    UnsignedPayloadNotAllowed,
    /// A presigned query parameter has a value that cannot be used (`X-Amz-Expires` out
    /// of `1..=604800`); the message is AWS's.
    #[error("{0}")]
    PresignedQuery(String),
    /// An S3 request signed in the `Authorization` header without
    /// `x-amz-content-sha256`.
    #[error("Missing required header for this request: x-amz-content-sha256")]
    MissingContentSha256,
    /// An `x-amz-content-sha256` value this verifier does not accept here (SigV4a
    /// streaming, streaming without [`crate::VerifyOptions::streaming_body`], streaming
    /// with a presigned URL); the message says which.
    #[error("{0}")]
    UnsupportedPayload(String),
}

impl VerifyError {
    /// The AWS error this stands for.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::MissingAuthentication => ErrorKind::MissingAuthenticationToken,
            Self::IncompleteSignature(_) | Self::PresignedQuery(_) => {
                ErrorKind::IncompleteSignature
            }
            Self::UnknownAccessKey { .. } => ErrorKind::InvalidClientTokenId,
            Self::PresignedUrlExpired { .. } => ErrorKind::RequestExpired,
            Self::CredentialScope(_)
            | Self::MissingSignedHeader { .. }
            | Self::SignatureDoesNotMatch(_)
            | Self::SignatureExpired { .. }
            | Self::SignatureNotYetCurrent { .. }
            | Self::PayloadHashMismatch
            | Self::InvalidPayloadHash
            | Self::UnsignedPayloadNotAllowed
            | Self::MissingContentSha256
            | Self::UnsupportedPayload(_) => ErrorKind::SignatureDoesNotMatch,
        }
    }
}
