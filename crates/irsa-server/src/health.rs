//! Liveness, readiness and metrics: `/healthz`, `/readyz`, `/metrics`.
//!
//! Readiness turns false as soon as shutdown begins, so a load balancer or a kubelet stops
//! sending new requests while those in flight drain.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::metrics::ServerMetrics;

type Check = Arc<dyn Fn() -> Result<(), String> + Send + Sync>;

/// Whether a server is ready: not shutting down, and every registered check passes.
#[derive(Clone, Default)]
pub struct Health {
    shutting_down: Arc<AtomicBool>,
    checks: Vec<Check>,
}

impl std::fmt::Debug for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Health")
            .field("shutting_down", &self.is_shutting_down())
            .field("checks", &self.checks.len())
            .finish()
    }
}

impl Health {
    /// Adds a readiness check: `Err(why)` while not ready.
    pub fn with_check(
        mut self,
        check: impl Fn() -> Result<(), String> + Send + Sync + 'static,
    ) -> Health {
        self.checks.push(Arc::new(check));
        self
    }

    /// Marks the server as shutting down: readiness is false from now on.
    pub fn shutting_down(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
    }

    /// Whether shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    /// `Ok` when ready, else every reason it is not, joined.
    pub fn readiness(&self) -> Result<(), String> {
        let mut why = Vec::new();
        if self.is_shutting_down() {
            why.push("shutting down".to_owned());
        }
        why.extend(self.checks.iter().filter_map(|c| c().err()));
        if why.is_empty() {
            Ok(())
        } else {
            Err(why.join(", "))
        }
    }
}

#[derive(Clone)]
struct Ops {
    health: Health,
    metrics: ServerMetrics,
}

/// `/healthz` (alive), `/readyz` (ready, else 503 with the reasons) and `/metrics` (the
/// server's counters in Prometheus' text format). Serve it on its own listener, so that
/// probes and scrapes are not shed with the traffic.
pub fn ops_router(health: Health, metrics: ServerMetrics) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_handler))
        .with_state(Ops { health, metrics })
}

async fn readyz(State(ops): State<Ops>) -> Response {
    match ops.health.readiness() {
        Ok(()) => "ok".into_response(),
        Err(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {why}\n"),
        )
            .into_response(),
    }
}

async fn metrics_handler(State(ops): State<Ops>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        ops.metrics.encode(),
    )
        .into_response()
}
