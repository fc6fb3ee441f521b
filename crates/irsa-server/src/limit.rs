//! Request limits: concurrency with load shedding, a per-request deadline, bytes held in
//! flight, and bounded body reads.
//!
//! Past the concurrency limit a request is answered at once with the protocol's own
//! throttling error (STS `Throttling`, DynamoDB `ThrottlingException`, S3 `SlowDown`,
//! admission `429`), never queued: a queue only turns overload into latency for everyone
//! and memory for the server.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::metrics::ServerMetrics;

/// Builds the response for a request refused by a limit (the protocol's own error).
type Refusal = Arc<dyn Fn() -> Response + Send + Sync>;

/// Tells whether a request belongs to a protocol (by its head: method, URI, headers).
type Selector = Arc<dyn Fn(&Request) -> bool + Send + Sync>;

/// A protocol's two refusals, for a server that speaks more than one protocol on one
/// listener ([`Limits::route`]).
#[derive(Clone)]
pub struct Refusals {
    overloaded: Refusal,
    timed_out: Refusal,
}

impl Refusals {
    /// The answer past the concurrency limit and the answer past the request deadline.
    pub fn new(
        overloaded: impl Fn() -> Response + Send + Sync + 'static,
        timed_out: impl Fn() -> Response + Send + Sync + 'static,
    ) -> Refusals {
        Refusals {
            overloaded: Arc::new(overloaded),
            timed_out: Arc::new(timed_out),
        }
    }
}

/// The limits applied in front of a router by [`Limits::apply`] (cheap to clone: clones
/// share one state).
#[derive(Clone)]
pub struct Limits {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    permits: Arc<Semaphore>,
    max_concurrency: usize,
    request_timeout: Duration,
    refusals: Refusals,
    routes: Vec<(Selector, Refusals)>,
    metrics: ServerMetrics,
}

impl std::fmt::Debug for Limits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limits")
            .field("max_concurrency", &self.inner.max_concurrency)
            .field("request_timeout", &self.inner.request_timeout)
            .finish_non_exhaustive()
    }
}

impl Limits {
    /// At most `max_concurrency` requests at once (more are answered `overloaded()` at
    /// once), each bounded by `request_timeout` up to its response's headers (past it the
    /// handler is dropped and the client gets `timed_out()`).
    pub fn new(
        max_concurrency: usize,
        request_timeout: Duration,
        overloaded: impl Fn() -> Response + Send + Sync + 'static,
        timed_out: impl Fn() -> Response + Send + Sync + 'static,
    ) -> Limits {
        let max_concurrency = max_concurrency.clamp(1, Semaphore::MAX_PERMITS);
        Limits {
            inner: Arc::new(Inner {
                permits: Arc::new(Semaphore::new(max_concurrency)),
                max_concurrency,
                request_timeout,
                refusals: Refusals::new(overloaded, timed_out),
                routes: Vec::new(),
                metrics: ServerMetrics::default(),
            }),
        }
    }

    /// Requests `selects` picks (read from the head, before the body) are refused with
    /// `refusals` instead of the default ones: one listener, several protocols, each
    /// answered in its own form. Routes are tried in the order they were added.
    pub fn route(
        mut self,
        selects: impl Fn(&Request) -> bool + Send + Sync + 'static,
        refusals: Refusals,
    ) -> Limits {
        Arc::make_mut(&mut self.inner)
            .routes
            .push((Arc::new(selects), refusals));
        self
    }

    /// Counts into `metrics` (shared with the metrics endpoint).
    pub fn with_metrics(mut self, metrics: ServerMetrics) -> Limits {
        Arc::make_mut(&mut self.inner).metrics = metrics;
        self
    }

    /// The counters these limits update.
    pub fn metrics(&self) -> &ServerMetrics {
        &self.inner.metrics
    }

    /// Requests being handled now.
    pub fn in_flight(&self) -> usize {
        self.inner.max_concurrency - self.inner.permits.available_permits()
    }

    /// `router` behind these limits.
    pub fn apply(self, router: Router) -> Router {
        router.layer(axum::middleware::from_fn_with_state(self, limit))
    }
}

impl Inner {
    /// The refusals for `req`: its route's, or the default ones.
    fn refusals_for(&self, req: &Request) -> &Refusals {
        self.routes
            .iter()
            .find(|(selects, _)| selects(req))
            .map_or(&self.refusals, |(_, r)| r)
    }
}

async fn limit(State(limits): State<Limits>, req: Request, next: Next) -> Response {
    let limits = &*limits.inner;
    let Ok(permit) = limits.permits.try_acquire() else {
        limits.metrics.shed.inc();
        tracing::warn!(
            max_concurrency = limits.max_concurrency,
            "over capacity: request shed"
        );
        return (limits.refusals_for(&req).overloaded)();
    };
    // The route's refusal is chosen now: the request is gone once handled.
    let timed_out = &limits.refusals_for(&req).timed_out;
    limits.metrics.in_flight.inc();
    let answer = tokio::time::timeout(limits.request_timeout, next.run(req)).await;
    limits.metrics.in_flight.dec();
    drop(permit);
    match answer {
        Ok(response) => {
            limits.metrics.observe(response.status().as_u16());
            response
        }
        Err(_) => {
            limits.metrics.timed_out.inc();
            tracing::warn!(timeout = ?limits.request_timeout, "request timed out");
            let response = timed_out();
            limits.metrics.observe(response.status().as_u16());
            response
        }
    }
}

/// Request body bytes held at once over all requests: a request reserves what it may
/// hold before reading its body, or is refused.
#[derive(Debug, Clone)]
pub struct Budget {
    units: Arc<Semaphore>,
}

/// The budget counts in KiB so that one request's reservation fits a `u32`.
const UNIT: usize = 1024;

fn units(bytes: usize) -> usize {
    bytes.div_ceil(UNIT).max(1)
}

/// Bytes of a [`Budget`] held by one request until dropped.
#[derive(Debug)]
pub struct Reservation {
    _permit: OwnedSemaphorePermit,
}

impl Budget {
    /// A budget of `bytes` bytes.
    pub fn new(bytes: usize) -> Budget {
        Budget {
            units: Arc::new(Semaphore::new(units(bytes).min(Semaphore::MAX_PERMITS))),
        }
    }

    /// Reserves `bytes`, at once or not at all.
    pub fn try_reserve(&self, bytes: usize) -> Option<Reservation> {
        let n = u32::try_from(units(bytes)).ok()?;
        let permit = self.units.clone().try_acquire_many_owned(n).ok()?;
        Some(Reservation { _permit: permit })
    }
}

/// Why a body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The body is longer than the limit.
    #[error("request body is larger than {0} bytes")]
    TooLarge(usize),
    /// The connection failed while the body was read.
    #[error("cannot read request body: {0}")]
    Read(String),
}

/// Reads a whole body of at most `limit` bytes.
pub async fn read_body(body: Body, limit: usize) -> Result<Bytes, BodyError> {
    use http_body_util::BodyExt as _;
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(BodyError::TooLarge(limit)),
        Err(e) => Err(BodyError::Read(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_reserves_all_or_nothing() {
        let b = Budget::new(10 * 1024);
        let r1 = b.try_reserve(6 * 1024).expect("fits");
        assert!(b.try_reserve(6 * 1024).is_none(), "over the budget");
        let r2 = b.try_reserve(4 * 1024).expect("the rest fits");
        drop(r1);
        assert!(b.try_reserve(6 * 1024).is_some(), "released on drop");
        drop(r2);
        assert!(
            b.try_reserve(usize::MAX).is_none(),
            "never more than the budget"
        );
    }
}
