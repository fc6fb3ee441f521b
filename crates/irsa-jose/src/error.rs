//! The one error type of token verification. Its `Display` is AWS's message; the STS error
//! code is chosen by the wire format that answers it (`impl From<&JoseError> for StsError` in
//! irsa-sts-core), not here.

/// AWS's message for a key that cannot be found or fetched. Note the two spaces after the comma:
/// that is how STS writes it.
pub const KEY_RETRIEVAL_MESSAGE: &str = "Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements";

/// AWS's message for a token that is not a JWT at all.
pub const NOT_A_JWT_MESSAGE: &str = "The ID Token provided is not a valid JWT. (You may see this error if you sent an Access Token)";

/// Why a token was rejected.
///
/// `Display` is the message STS puts in `<Message>` (AWS's wording where it is known, see the
/// crate README); [`JoseError::detail`] is a precise,
/// lowercase explanation for logs and the command line (never containing the token).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JoseError {
    /// Not a compact JWS we accept: size, segments, base64url, JSON objects.
    #[error("{}", NOT_A_JWT_MESSAGE)]
    Malformed {
        /// What is wrong, lowercase.
        reason: String,
    },
    /// `alg` is `none`, an HMAC algorithm, unknown, or not allowed by the [`crate::Validation`].
    #[error("Unsupported signing algorithm: {alg}")]
    UnsupportedAlgorithm {
        /// The `alg` header as sent (truncated to 64 characters).
        alg: String,
    },
    /// The header has a `crit` parameter (no extension is understood).
    #[error("{}", NOT_A_JWT_MESSAGE)]
    UnsupportedCritical {
        /// The names listed in `crit`.
        names: Vec<String>,
    },
    /// `iss` is not the expected issuer (exact string comparison).
    #[error("No OpenIDConnect provider found in your account for {iss}")]
    UnknownIssuer {
        /// The token's `iss` (truncated to 256 characters).
        iss: String,
    },
    /// No key in the JWKS has the token's `kid` (or, for a token without `kid`, an empty or absent one).
    #[error("{}", KEY_RETRIEVAL_MESSAGE)]
    KeyNotFound {
        /// The token's `kid`.
        kid: Option<String>,
    },
    /// The key selected by `kid` cannot verify this token: `alg` does not fit the key's
    /// `kty`/`crv`/`alg`, the key material is invalid, or an RSA modulus is below 2048 bits.
    #[error("{}", KEY_RETRIEVAL_MESSAGE)]
    KeyMismatch {
        /// What does not fit, lowercase.
        reason: String,
    },
    /// The signature does not verify with the selected key.
    #[error("Signature verification failed")]
    BadSignature,
    /// A required claim is absent.
    #[error("Missing a required claim: {claim}")]
    MissingClaim {
        /// The claim's name.
        claim: &'static str,
    },
    /// A claim has the wrong type (e.g. `exp` as a string or a fraction).
    #[error("Invalid claim: {claim}")]
    InvalidClaim {
        /// The claim's name.
        claim: &'static str,
        /// What is wrong, lowercase.
        reason: String,
    },
    /// `exp` plus the allowed skew is not after `now`.
    #[error("Token expired: current date/time {now} must be before the expiration date/time {exp}")]
    Expired {
        /// The verification time (unix seconds).
        now: i64,
        /// The token's `exp`.
        exp: i64,
    },
    /// `nbf` minus the allowed skew is after `now`.
    #[error(
        "Token is not yet valid: current date/time {now} must be after the not-before date/time {nbf}"
    )]
    NotYetValid {
        /// The verification time (unix seconds).
        now: i64,
        /// The token's `nbf`.
        nbf: i64,
    },
    /// None of the token's `aud` values is an accepted audience.
    #[error("Incorrect token audience")]
    AudienceMismatch,
    /// The discovery document or JWKS cannot be fetched or parsed. Built by the JWKS client
    /// (irsa-oidc); this crate never returns it.
    #[error("{}", KEY_RETRIEVAL_MESSAGE)]
    IdpCommunication {
        /// What went wrong, lowercase.
        reason: String,
    },
}

impl JoseError {
    /// A precise, lowercase explanation for logs and the command line. Never contains the token.
    pub fn detail(&self) -> String {
        match self {
            JoseError::Malformed { reason } => format!("malformed token: {reason}"),
            JoseError::UnsupportedAlgorithm { alg } => {
                format!("algorithm `{alg}` is not accepted (RS256/384/512, ES256/384/512 only)")
            }
            JoseError::UnsupportedCritical { names } => {
                format!(
                    "unsupported critical header parameters `{}`",
                    names.join(",")
                )
            }
            JoseError::UnknownIssuer { iss } => {
                format!("issuer `{iss}` is not the expected issuer")
            }
            JoseError::KeyNotFound { kid: Some(kid) } => {
                format!("no key with kid `{kid}` in the jwks")
            }
            JoseError::KeyNotFound { kid: None } => {
                "the token has no kid and the jwks has no key with an empty kid".to_owned()
            }
            JoseError::KeyMismatch { reason } => format!("key cannot verify this token: {reason}"),
            JoseError::BadSignature => "signature does not verify with the selected key".to_owned(),
            JoseError::MissingClaim { claim } => format!("missing required claim `{claim}`"),
            JoseError::InvalidClaim { claim, reason } => {
                format!("invalid claim `{claim}`: {reason}")
            }
            JoseError::Expired { now, exp } => {
                format!("token expired at {exp}, now is {now} (beyond the allowed skew)")
            }
            JoseError::NotYetValid { now, nbf } => {
                format!("token not valid before {nbf}, now is {now} (beyond the allowed skew)")
            }
            JoseError::AudienceMismatch => "no `aud` value is an accepted audience".to_owned(),
            JoseError::IdpCommunication { reason } => {
                format!("identity provider unreachable: {reason}")
            }
        }
    }
}

/// Why a key (PEM, DER, JWK) could not be read or used for signing. Not an STS error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Not PEM, or a PEM block of a kind we do not read.
    #[error("invalid pem: {0}")]
    Pem(String),
    /// The DER inside is not a valid key or certificate.
    #[error("invalid key: {0}")]
    Invalid(String),
    /// A valid key of a type or size we do not support.
    #[error("unsupported key: {0}")]
    Unsupported(String),
    /// The cryptographic library refused an operation.
    #[error("crypto failure: {0}")]
    Crypto(String),
}
