#![doc = include_str!("../README.md")]
// No panics outside tests (clippy.toml allows them in tests); every public item documented.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![warn(missing_docs, unreachable_pub)]

pub mod authz;
mod error;
pub mod expr;
pub mod json;
mod map;
mod operation;
pub mod request;
mod reserved;
mod schema;
mod scope;
pub mod value;

pub use error::MapError;
pub use map::{ATTRIBUTES, Authorization, LEADING_KEYS, MAX_ATTRIBUTE_NAMES};
pub use operation::{Operation, TARGET_PREFIX};
pub use request::Request;
pub use schema::{KeySchema, Schemas, TableSchema};
pub use scope::{Scope, check_name};
