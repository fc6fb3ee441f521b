//! HTTP: the webhook router (`/mutate`, `/healthz`, `/readyz`, debug), the metrics router,
//! and the TLS / plain listeners with graceful shutdown.

use crate::admission;
use crate::cache::{SaCache, SaFound, Shared};
use crate::metrics::{self, Metrics};
use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Json, Router};
use http_body_util::BodyExt;
use irsa_mutate::{ConfigMapConfig, ContainerCredentialsConfig, Decision, Lookup, Pod, Settings};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};

/// Default bound of an AdmissionReview body (a pod is at most ~1.5 MiB in etcd).
pub const DEFAULT_MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// Readiness inputs.
#[derive(Debug, Default)]
pub struct Health {
    /// Set when shutdown starts: readiness goes false first.
    pub shutting_down: AtomicBool,
    /// The ConfigMap watch has listed once (true when `--watch-config-map` is off).
    pub config_map_synced: Arc<AtomicBool>,
}

/// Everything the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// Mutation settings (from the flags).
    pub settings: Arc<Settings>,
    /// ServiceAccount cache.
    pub sa: SaCache,
    /// ConfigMap mapping, when `--watch-config-map` is on.
    pub config_map: Option<Arc<Shared<ConfigMapConfig>>>,
    /// Container-credentials identities, when the file flag is set.
    pub container_credentials: Option<Arc<Shared<ContainerCredentialsConfig>>>,
    /// Metrics.
    pub metrics: Metrics,
    /// Readiness.
    pub health: Arc<Health>,
    /// `--enable-debugging-handlers`.
    pub debug_handlers: bool,
    /// Body bound of `/mutate`.
    pub max_body_bytes: usize,
    /// Fired by the debug `cache/clear` handler: the reflector re-lists.
    pub cache_restart: Arc<Notify>,
}

impl AppState {
    /// Whether `/readyz` is ok, and if not, why.
    pub fn readiness(&self) -> Result<(), String> {
        let mut why = Vec::new();
        if self.health.shutting_down.load(Ordering::SeqCst) {
            why.push("shutting down");
        }
        if !self.sa.is_synced() {
            why.push("ServiceAccount cache not synced");
        }
        if !self.health.config_map_synced.load(Ordering::SeqCst) {
            why.push("ConfigMap not synced");
        }
        let ok = why.is_empty();
        self.metrics.ready.set(i64::from(ok));
        if ok { Ok(()) } else { Err(why.join(", ")) }
    }
}

/// The webhook router (served over TLS): `/mutate`, `/healthz`, `/readyz` and, with
/// `debug_handlers`, `/debug/alpha/deny` and `/debug/alpha/500`.
pub fn router(state: AppState) -> Router {
    // Only `/mutate` and the debug handlers are instrumented, as in the reference: probes
    // and unknown paths do not count in `http_request_*`.
    let mut instrumented = Router::new().route("/mutate", any(mutate));
    if state.debug_handlers {
        instrumented = instrumented
            .route("/debug/alpha/deny", any(debug_deny))
            .route("/debug/alpha/500", any(debug_500));
    }
    instrumented
        .route_layer(middleware::from_fn_with_state(state.clone(), track))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .fallback(not_found)
        .with_state(state)
}

/// The metrics router (plain HTTP): `/metrics`, `/healthz`, `/readyz` and, with
/// `debug_handlers`, `/debug/alpha/cache` and `/debug/alpha/cache/clear`.
pub fn metrics_router(state: AppState) -> Router {
    let mut r = Router::new()
        .route("/metrics", get(metrics_handler))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz));
    if state.debug_handlers {
        r = r
            .route("/debug/alpha/cache", get(debug_cache))
            .route("/debug/alpha/cache/clear", any(debug_cache_clear));
    }
    r.fallback(not_found).with_state(state)
}

async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let verb = req.method().clone();
    let path = req.extensions().get::<MatchedPath>().cloned();
    let resp = next.run(req).await;
    let micros = start.elapsed().as_secs_f64() * 1e6;
    state.metrics.observe_request(
        verb.as_str(),
        path.as_ref().map_or("other", MatchedPath::as_str),
        resp.status().as_u16(),
        micros,
    );
    resp
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "404 page not found\n").into_response()
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.readiness() {
        Ok(()) => "ok".into_response(),
        Err(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {why}\n"),
        )
            .into_response(),
    }
}

async fn metrics_handler(State(state): State<AppState>) -> Response {
    state.readiness().ok();
    state.metrics.sa_cache_size.set(state.sa.len() as i64);
    (
        [(header::CONTENT_TYPE, metrics::CONTENT_TYPE)],
        state.metrics.encode(),
    )
        .into_response()
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

fn review_response(body: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// `/mutate`: decode, look up the ServiceAccount, resolve, mutate, encode.
async fn mutate(State(state): State<AppState>, req: Request) -> Response {
    if req.method() != Method::POST {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "POST")],
            "only POST is allowed\n",
        )
            .into_response();
    }
    if !is_json(req.headers()) {
        return (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Invalid Content-Type, expected `application/json`\n",
        )
            .into_response();
    }
    let limit = state.max_body_bytes;
    let body = match read_body(req.into_body(), limit).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let review = match admission::decode(&body) {
        Ok(r) => r,
        Err((env, e)) => {
            tracing::warn!(error = %e, uid = %env.uid, "bad AdmissionReview");
            return review_response(admission::denied(&env, 400, &e.to_string()));
        }
    };
    let env = review.envelope();
    if let Some(k) = review.resource_kind.as_deref().filter(|k| *k != "Pod") {
        tracing::warn!(kind = k, uid = %review.uid, "not a Pod; allowed without changes (check the webhook's rules)");
        return review_response(admission::allowed(&env, None));
    }
    if let Some(op) = review.operation.as_deref().filter(|op| *op != "CREATE") {
        tracing::debug!(operation = op, uid = %review.uid, "not a CREATE; allowed without changes");
        return review_response(admission::allowed(&env, None));
    }
    let pod = match Pod::from_raw(review.object) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(namespace = %review.namespace, uid = %review.uid, error = %e, "cannot mutate pod");
            return review_response(admission::denied(&env, 400, &e.to_string()));
        }
    };
    let sa_name = pod.service_account();
    let (decision, found) = decide(&state, &review.namespace, &sa_name).await;
    respond(&state, &review, &pod, &env, &sa_name, &decision, &found)
}

/// Where the pod's identity comes from: the ServiceAccount (cache, else a bounded lookup),
/// the ConfigMap mapping and the container-credentials identities, resolved.
async fn decide(state: &AppState, namespace: &str, sa_name: &str) -> (Decision, SaFound) {
    let found = state.sa.get(namespace, sa_name, &state.metrics).await;
    let cm = state.config_map.as_ref().map(|c| c.get());
    let cc = state.container_credentials.as_ref().map(|c| c.get());
    let decision = irsa_mutate::resolve(
        &Lookup {
            namespace,
            service_account: sa_name,
            service_account_config: found.config(),
            config_map: cm.as_deref(),
            container_credentials: cc.as_deref(),
        },
        &state.settings,
    );
    (decision, found)
}

/// The AdmissionReview answer for a decision: the JSON Patch (or an error), counted and
/// logged.
fn respond(
    state: &AppState,
    review: &admission::Review<'_>,
    pod: &Pod<'_>,
    env: &admission::Envelope,
    sa_name: &str,
    decision: &Decision,
    found: &SaFound,
) -> Response {
    let patch = {
        let mut rng = rand::thread_rng();
        irsa_mutate::mutate_pod(pod, decision, &state.settings, &mut rng)
    };
    match patch {
        Err(e) => {
            tracing::warn!(namespace = %review.namespace, pod = %pod.name(), uid = %review.uid, error = %e, "cannot mutate pod");
            review_response(admission::denied(env, 400, &e.to_string()))
        }
        Ok(patch) => {
            if let Some(method) = decision.method() {
                state.metrics.count_pod(method);
            }
            if tracing::enabled!(tracing::Level::DEBUG) {
                let sa_source = match found {
                    SaFound::Cached(_) => "cache",
                    SaFound::Fetched(_) => "api",
                    SaFound::Missing(why) => why,
                };
                let outcome = match decision {
                    Decision::None(why) => why.to_string(),
                    Decision::Region(d) => format!("region only ({})", d.reason),
                    d => d.method().unwrap_or("").to_string(),
                };
                tracing::debug!(
                    namespace = %review.namespace,
                    pod = %review.name.clone().unwrap_or_else(|| pod.name()),
                    uid = %review.uid,
                    service_account = %sa_name,
                    service_account_source = sa_source,
                    decision = %outcome,
                    patch_bytes = patch.as_ref().map_or(0, String::len),
                    "admission decision"
                );
            }
            review_response(admission::allowed(env, patch.as_deref().map(str::as_bytes)))
        }
    }
}

async fn read_body(body: Body, limit: usize) -> Result<Bytes, Response> {
    let limited = http_body_util::Limited::new(body, limit);
    match limited.collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) => {
            if e.is::<http_body_util::LengthLimitError>() {
                Err((
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("request body is larger than {limit} bytes\n"),
                )
                    .into_response())
            } else {
                Err((
                    StatusCode::BAD_REQUEST,
                    format!("cannot read request body: {e}\n"),
                )
                    .into_response())
            }
        }
    }
}

async fn debug_deny() -> Response {
    Json(json!({"response": {"uid": "", "allowed": false, "status": {"message": "Test deny message"}}}))
        .into_response()
}

async fn debug_500() -> Response {
    (StatusCode::INTERNAL_SERVER_ERROR, "test error\n").into_response()
}

/// `GET /debug/alpha/cache`: the SA cache as the reference dumps it.
async fn debug_cache(State(state): State<AppState>) -> Response {
    let mut out = serde_json::Map::new();
    for (ns, name, c) in state.sa.store().entries() {
        out.insert(
            format!("{ns}/{name}"),
            json!({
                "RoleARN": c.role_arn.clone().unwrap_or_default(),
                "Audience": c.audience,
                "UseRegionalSTS": c.use_regional_sts,
                "TokenExpiration": c.token_expiration,
            }),
        );
    }
    Json(Value::Object(out)).into_response()
}

/// `/debug/alpha/cache/clear`: drops the watch; the reflector re-lists every
/// ServiceAccount (the store is replaced atomically when the list completes).
async fn debug_cache_clear(State(state): State<AppState>) -> Response {
    state.cache_restart.notify_one();
    "cache cleared; re-listing ServiceAccounts\n".into_response()
}

/// Errors starting a listener.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Binding failed.
    #[error("cannot listen on {addr}: {cause}")]
    Bind {
        /// Address.
        addr: String,
        /// Cause.
        cause: std::io::Error,
    },
}

/// Binds a TCP listener.
pub async fn bind(addr: std::net::SocketAddr) -> Result<TcpListener, ServeError> {
    TcpListener::bind(addr)
        .await
        .map_err(|cause| ServeError::Bind {
            addr: addr.to_string(),
            cause,
        })
}

/// Binds `port` on `address`, or on every address, IPv6 and IPv4 alike, when `None`.
pub async fn bind_port(
    address: Option<std::net::IpAddr>,
    port: u16,
) -> Result<TcpListener, ServeError> {
    match address {
        Some(a) => bind(std::net::SocketAddr::new(a, port)).await,
        None => irsa_server::bind_dual_stack(port).map_err(|cause| ServeError::Bind {
            addr: format!("[::]:{port}"),
            cause,
        }),
    }
}

/// The admission routes behind a concurrency limit: past `max_concurrency` reviews at once
/// a review is answered `429 Too Many Requests` at once, never allowed unmutated, so the
/// API server applies the webhook's `failurePolicy` (and retries where it does).
pub fn shed(
    router: Router,
    max_concurrency: usize,
    timeout: Duration,
    metrics: irsa_server::ServerMetrics,
) -> Router {
    irsa_server::Limits::new(
        max_concurrency,
        timeout,
        || {
            (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, "1")],
                "too many admission reviews in flight\n",
            )
                .into_response()
        },
        || (StatusCode::GATEWAY_TIMEOUT, "admission review timed out\n").into_response(),
    )
    .with_metrics(metrics)
    .apply(router)
}

/// Serves `router` over TLS (HTTP/1.1 and HTTP/2 by ALPN) on `listener` until `stop`
/// turns true, then stops accepting, lets in-flight requests finish (at most `drain`)
/// and returns.
pub async fn serve_tls(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    router: Router,
    stop: watch::Receiver<bool>,
    drain: Duration,
) {
    let options = irsa_server::ServeOptions {
        tls: Some(tls),
        http2: true,
        header_read_timeout: Duration::from_secs(30),
        handshake_timeout: Duration::from_secs(10),
        drain_timeout: drain,
    };
    if let Err(e) = irsa_server::serve(listener, router, options, stopped(stop)).await {
        tracing::warn!(error = %e, "webhook server failed");
    }
}

/// Serves `router` over plain HTTP until `stop` turns true.
pub async fn serve_plain(listener: TcpListener, router: Router, stop: watch::Receiver<bool>) {
    let options = irsa_server::ServeOptions {
        header_read_timeout: Duration::from_secs(30),
        ..irsa_server::ServeOptions::default()
    };
    if let Err(e) = irsa_server::serve(listener, router, options, stopped(stop)).await {
        tracing::warn!(error = %e, "metrics server failed");
    }
}

async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}
