//! OpenID Connect at the edges: a JWKS client (discovery → `jwks_uri`, cached per issuer,
//! rate-limited refetch on unknown `kid`, stale keys while the issuer is down, size and time
//! limits, https only unless loudly allowed) and a local issuer server (discovery + JWKS like
//! kube-apiserver). See README.md.

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
