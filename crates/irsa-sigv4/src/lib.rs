// No panics outside tests (clippy.toml allows them in tests); every public item documented.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![warn(missing_docs, unreachable_pub)]
//! AWS Signature Version 4 verification, as a pure function of the request,
//! the secret key and the current time.
//!
//! Both forms are supported: the `Authorization: AWS4-HMAC-SHA256 ...` header
//! (with `X-Amz-Date` or `Date`) and presigned URLs (`X-Amz-Algorithm`,
//! `X-Amz-Credential`, `X-Amz-Date`, `X-Amz-Expires`, `X-Amz-SignedHeaders`,
//! `X-Amz-Signature`, optionally `X-Amz-Security-Token`).
//!
//! ```
//! use irsa_sigv4::{Request, VerifyOptions, verify};
//! let now = 1_700_000_000; // unix seconds
//! let headers: &[(&str, &[u8])] = &[("host", b"sts.amazonaws.com")];
//! let request = Request { method: "POST", path: "/", query: "", headers, body: b"" };
//! let err = verify(&request, &VerifyOptions::for_service("sts"), now, |_| None::<String>)
//!     .unwrap_err();
//! assert_eq!(err.kind(), irsa_sigv4::ErrorKind::MissingAuthenticationToken);
//! ```

mod canonical;
mod date;
mod encoding;
mod error;
mod verify;

pub use canonical::UriEncoding;
pub use error::{ErrorKind, SignatureMismatch, VerifyError};
pub use verify::{
    ALGORITHM, MAX_PRESIGNED_EXPIRES, ParsedRequest, Request, SignatureLocation, UNSIGNED_PAYLOAD,
    VerifiedRequest, VerifyOptions, parse, split_path_and_query, verify,
};
