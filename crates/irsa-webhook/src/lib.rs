//! The pod identity mutating admission webhook server: a drop-in replacement for
//! amazon-eks-pod-identity-webhook (same flags, metric names and patches).
//!
//! - [`admission`]: the AdmissionReview envelope on raw JSON (v1 and v1beta1).
//! - [`server`]: [`server::router`] (`/mutate`, `/healthz`, `/readyz`, debug) and
//!   [`server::metrics_router`]; TLS and plain listeners with graceful shutdown.
//! - [`cache`]: the ServiceAccount reflector cache with a bounded direct lookup on a miss,
//!   the ConfigMap watch and the container-credentials file.
//! - [`tls`]: rustls configuration from the reference's flags; certificates reloaded from
//!   disk without a restart.
//! - [`metrics`]: the reference's metric names plus process metrics.
//! - [`app`]: wiring and the SIGTERM sequence.
//!
//! The mutation itself is the pure crate `irsa-mutate`.

pub mod admission;
pub mod app;
pub mod cache;
pub mod imds;
pub mod metrics;
pub mod server;
pub use irsa_server::tls;

pub use app::{Config, Exit, RunError, run, run_with};
pub use server::{AppState, Health, metrics_router, router};
