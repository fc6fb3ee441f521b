#![doc = include_str!("../README.md")]

mod client;
mod clock;
mod error;
mod http;
mod server;

pub use client::{ClientConfig, JwksClient, KeySource};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::FetchError;
pub use server::{
    DISCOVERY_PATH, IssuerState, JWKS_PATH, ServeError, router, serve, server_tls_config,
};
