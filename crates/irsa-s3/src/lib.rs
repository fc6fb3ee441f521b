#![doc = include_str!("../README.md")]
// No panics outside tests (clippy.toml allows them in tests); every public item documented.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![warn(missing_docs, unreachable_pub)]

mod address;
mod error;
mod forward;
mod headers;
mod map;
mod operation;
mod query;
mod request;
mod tagging;
mod xml;

pub use address::{Addressing, EndpointError, Endpoints, MAX_KEY_BYTES, check_bucket_name};
pub use error::S3Error;
pub use forward::{
    forwarded_content_encoding, is_forwarded as is_forwarded_header, is_s3 as is_s3_request,
    signed_headers, strip_presign_params, upstream_target,
};
pub use map::{
    AuthType, Authorization, EXISTING_OBJECT_TAG, RequestAuth, bucket_arn, is_undetermined,
    object_arn, parse_arn,
};
pub use operation::Operation;
pub use request::{HttpRequest, S3Request};
pub use tagging::MAX_TAGS;
pub use xml::{MAX_DELETE_BODY, MAX_DELETE_KEYS, MAX_TAGGING_BODY};
