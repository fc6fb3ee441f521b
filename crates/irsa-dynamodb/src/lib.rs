#![doc = include_str!("../README.md")]
// No panics outside tests (clippy.toml allows them in tests); every public item documented.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![warn(missing_docs, unreachable_pub)]

#[cfg(test)]
mod authz;
mod error;
mod expr;
mod json;
mod map;
mod operation;
mod request;
mod reserved;
mod schema;
mod scope;
mod value;

pub use error::MapError;
pub use expr::{
    Comparator, Condition, ExprError, Function, MAX_EXPRESSION_BYTES, Name, Operand, Path, Section,
    SetValue, Step, Update, parse_condition, parse_projection, parse_update, print_projection,
};
pub use map::{ATTRIBUTES, Authorization, LEADING_KEYS, MAX_ATTRIBUTE_NAMES};
pub use operation::{Operation, TARGET_PREFIX};
pub use request::Request;
pub use schema::{KeySchema, Schemas, TableSchema};
pub use scope::{Scope, check_name};
