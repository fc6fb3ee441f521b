// No panics outside tests (clippy.toml allows them in tests); every public item documented.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![warn(missing_docs, unreachable_pub)]
#![doc = include_str!("../README.md")]

mod alg;
mod b64;
mod discovery;
mod error;
mod jwk;
mod jws;
mod prepared;
mod sign;

pub use alg::{Algorithm, UnknownAlgorithm};
pub use discovery::DiscoveryDocument;
pub use error::{JoseError, KEY_RETRIEVAL_MESSAGE, KeyError, NOT_A_JWT_MESSAGE};
pub use jwk::{Jwk, Jwks, MIN_RSA_BITS, jwks_from_pem, kube_key_id};
pub use jws::{
    DEFAULT_LEEWAY_SECS, MAX_TOKEN_BYTES, ParsedToken, UnverifiedToken, Validation, VerifiedToken,
    parse_token, peek, verify,
};
pub use prepared::{PreparedJwks, verify_prepared, verify_prepared_parsed};
pub use sign::SigningKey;

/// A certificate read from PEM: its DER and its subject (RFC 4514 string).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    /// The DER encoding.
    pub der: Vec<u8>,
    /// The subject distinguished name, e.g. `CN=Example CA,O=Example`.
    pub subject: String,
}

/// Every `CERTIFICATE` block in `pem`, in file order, each parsed as X.509 (other blocks are
/// skipped). Errors when a certificate does not parse or none is found.
pub fn certificates_from_pem(pem_text: &str) -> Result<Vec<Certificate>, KeyError> {
    use der::Decode as _;
    let blocks = pem::parse_many(pem_text).map_err(|e| KeyError::Pem(e.to_string()))?;
    let mut out = Vec::new();
    for b in blocks.iter().filter(|b| b.tag() == "CERTIFICATE") {
        let cert = x509_cert::Certificate::from_der(b.contents())
            .map_err(|e| KeyError::Invalid(format!("not an x.509 certificate: {e}")))?;
        out.push(Certificate {
            der: b.contents().to_vec(),
            subject: cert.tbs_certificate.subject.to_string(),
        });
    }
    if out.is_empty() {
        return Err(KeyError::Pem("no `CERTIFICATE` block found".into()));
    }
    Ok(out)
}

/// SHA-1 thumbprint (40 lowercase hex digits) of a DER certificate, as IAM's
/// `ThumbprintList` wants it.
pub fn sha1_thumbprint(cert_der: &[u8]) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, cert_der);
    hex::encode(d)
}

/// Base64url without padding (the JOSE encoding), for callers building tokens by hand.
pub fn base64url_encode(bytes: &[u8]) -> String {
    b64::encode(bytes)
}

/// Strict base64url without padding; `None` for padding, the standard alphabet or junk.
pub fn base64url_decode(s: &str) -> Option<Vec<u8>> {
    b64::decode(s)
}
