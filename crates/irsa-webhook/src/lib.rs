//! The pod identity mutating admission webhook server: a drop-in replacement for
//! amazon-eks-pod-identity-webhook (same flags, metric names and patches).
//!
//! - The AdmissionReview envelope on raw JSON (v1 and v1beta1): [`decode_admission_review`],
//!   [`admission_allowed`], [`admission_denied`].
//! - The HTTP side: [`router`] (`/mutate`, `/healthz`, `/readyz`, debug) and
//!   [`metrics_router`] over an [`AppState`]; TLS and plain listeners with graceful shutdown.
//! - The ServiceAccount cache ([`SaCache`] over an [`SaStore`]) with a bounded direct lookup
//!   on a miss ([`SaFetcher`]), the ConfigMap watch and the container-credentials file
//!   ([`CcFile`]).
//! - [`tls`]: rustls configuration from the reference's flags; certificates reloaded from
//!   disk without a restart.
//! - [`Metrics`]: the reference's metric names plus process metrics.
//! - [`run`]: wiring and the SIGTERM sequence.
//!
//! The mutation itself is the pure crate `irsa-mutate`.

mod admission;
mod app;
mod cache;
mod imds;
mod metrics;
mod server;
pub use irsa_server::tls;

pub use admission::{
    Envelope, Review, ReviewError, allowed as admission_allowed, decode as decode_admission_review,
    denied as admission_denied,
};
pub use app::{Config, Exit, RunError, run, run_with};
pub use cache::{CcFile, SaCache, SaFetcher, SaFound, SaStore, Shared};
pub use imds::{ImdsError, compose_role_arn};
pub use metrics::Metrics;
pub use server::{AppState, DEFAULT_MAX_BODY_BYTES, Health, metrics_router, router, serve_tls};
