// No panics outside tests (clippy.toml allows them in tests); every public item documented.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![warn(missing_docs, unreachable_pub)]
#![doc = include_str!("../README.md")]

pub mod assume;
pub mod caller;
pub mod config;
pub mod credentials;
mod error;
pub mod pod_identity;
mod policy;
pub mod query;
pub mod xml;

pub use error::{Fault, Shown, StsError, ValidationFailure, validation_message};
pub use policy::ValidPolicy;
