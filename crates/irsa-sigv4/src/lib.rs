// No panics outside tests (clippy.toml allows them in tests); every public item documented.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![warn(missing_docs, unreachable_pub)]
#![doc = include_str!("../README.md")]

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
