//! The one error type of key retrieval, mapped onto STS error codes.

use irsa_jose::JoseError;
use std::time::Duration;

/// Why keys for an issuer could not be had.
///
/// `Display` is a precise lowercase explanation for logs and the command line (never a
/// token). [`FetchError::to_jose`] turns it into the [`JoseError`] that STS answers with
/// (message: `Couldn't retrieve verification key from your identity provider,  please
/// reference AssumeRoleWithWebIdentity documentation for requirements`), whose STS code is
/// `IDPCommunicationError` (which SDKs retry) when the issuer is unreachable, slow, answers
/// an error status, too much, or something that is not a discovery document / JWKS, and
/// `InvalidIdentityToken` for problems that retrying cannot fix (issuer URL not allowed,
/// discovery document naming another issuer, bad configuration).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The issuer is not an absolute `https://` URL without query or fragment.
    #[error("issuer `{issuer}` is not a valid issuer url: {reason}")]
    InvalidIssuer {
        /// The issuer as given.
        issuer: String,
        /// What is wrong.
        reason: String,
    },
    /// The issuer uses plain http and the client was not told to allow it.
    #[error(
        "issuer `{issuer}` uses plain http; only https issuers are allowed \
         (insecure-allow-http-issuer is off)"
    )]
    InsecureIssuer {
        /// The issuer as given.
        issuer: String,
    },
    /// The discovery document's `jwks_uri` is not a URL we may fetch.
    #[error("jwks_uri `{uri}` of issuer `{issuer}` is not allowed: {reason}")]
    InvalidJwksUri {
        /// The issuer.
        issuer: String,
        /// The `jwks_uri` from the discovery document.
        uri: String,
        /// What is wrong.
        reason: String,
    },
    /// The discovery document's `issuer` is not the issuer it was fetched for (OpenID Connect
    /// Discovery 1.0 §4.3 requires them to be identical).
    #[error("discovery document fetched for issuer `{expected}` names issuer `{found}`")]
    IssuerMismatch {
        /// The configured issuer.
        expected: String,
        /// The `issuer` member of the document.
        found: String,
    },
    /// Connecting or talking to the issuer failed (DNS, refused, TLS, reset).
    #[error("cannot fetch `{url}`: {reason}")]
    Unreachable {
        /// The URL being fetched.
        url: String,
        /// The cause, with its chain.
        reason: String,
    },
    /// The server's TLS certificate is not trusted (unknown CA, wrong name, expired): not
    /// transient, so `InvalidIdentityToken` (STS's own wording for this case is `OpenIDConnect
    /// provider's HTTPS certificate doesn't match configured thumbprint`).
    #[error("tls certificate of `{url}` is not trusted: {reason}")]
    Certificate {
        /// The URL being fetched.
        url: String,
        /// The verifier's complaint.
        reason: String,
    },
    /// The response did not complete within the request timeout.
    #[error("`{url}` did not answer within {}ms", timeout.as_millis())]
    Timeout {
        /// The URL being fetched.
        url: String,
        /// The configured request timeout.
        timeout: Duration,
    },
    /// The server answered a status other than 200.
    #[error("`{url}` answered http status {status}")]
    Status {
        /// The URL being fetched.
        url: String,
        /// The HTTP status code.
        status: u16,
    },
    /// The body is larger than the configured limit (refused before reading it all).
    #[error("`{url}` answered more than {limit} bytes")]
    TooLarge {
        /// The URL being fetched.
        url: String,
        /// The configured limit in bytes.
        limit: usize,
    },
    /// The body is not a valid document of the expected kind.
    #[error("`{url}` is not a valid {what}: {reason}")]
    BadDocument {
        /// The URL being fetched (or `jwks file` for a static source).
        url: String,
        /// `discovery document` or `jwks`.
        what: &'static str,
        /// The parse error.
        reason: String,
    },
    /// The client configuration is unusable (e.g. the CA bundle has no certificate).
    #[error("invalid jwks client configuration: {reason}")]
    Config {
        /// What is wrong.
        reason: String,
    },
}

impl FetchError {
    /// Whether the failure is on the issuer's side and may go away by itself (SDKs retry
    /// `IDPCommunicationError`).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            FetchError::Unreachable { .. }
                | FetchError::Timeout { .. }
                | FetchError::Status { .. }
                | FetchError::TooLarge { .. }
                | FetchError::BadDocument { .. }
        )
    }

    /// The token-verification error STS answers with: [`JoseError::IdpCommunication`] for
    /// transient failures, [`JoseError::KeyNotFound`]-style `InvalidIdentityToken` (via
    /// [`JoseError::KeyMismatch`]) otherwise. Both carry AWS's `Couldn't retrieve
    /// verification key…` message; the detail keeps this error's explanation.
    pub fn to_jose(&self) -> JoseError {
        if self.is_transient() {
            JoseError::IdpCommunication {
                reason: self.to_string(),
            }
        } else {
            JoseError::KeyMismatch {
                reason: self.to_string(),
            }
        }
    }
}

impl From<FetchError> for JoseError {
    fn from(e: FetchError) -> JoseError {
        e.to_jose()
    }
}
