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
mod checksum;
mod chunked;
mod date;
mod encoding;
mod error;
mod s3;
mod sign;
mod verify;

pub use canonical::UriEncoding;
pub use chunked::{
    BodyComplete, BodyDecoder, DEFAULT_MAX_CHUNK_SIZE, DecoderLimits, MAX_CHUNK_LINE,
    MAX_TRAILER_BYTES, MAX_TRAILER_LINES, MIN_CHUNK_SIZE,
};
pub use error::{ErrorKind, SignatureMismatch, VerifyError};
pub use s3::{
    ChecksumAlgorithm, ContentSha256, MAX_DECODED_LENGTH, PayloadError, S3ErrorCode, S3Payload,
    STREAMING_SIGNED, STREAMING_SIGNED_TRAILER, STREAMING_UNSIGNED_TRAILER, SeedSignature,
};
pub use sign::{Signer, SigningKeyCache, amz_date, authorization};
pub use verify::{
    ALGORITHM, MAX_PRESIGNED_EXPIRES, ParsedRequest, Request, SignatureLocation, UNSIGNED_PAYLOAD,
    VerifiedRequest, VerifyOptions, parse, split_path_and_query, verify,
};
