#![doc = include_str!("../README.md")]

use aws_sdk_eksauth::config::http::HttpResponse;
use aws_sdk_eksauth::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_eksauth::operation::assume_role_for_pod_identity::AssumeRoleForPodIdentityError;
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};
use irsa_server::{Limits, ServeOptions};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The path the SDKs' container credentials providers call (`AWS_CONTAINER_CREDENTIALS_FULL_URI`).
pub const CREDENTIALS_PATH: &str = "/v1/credentials";
/// The addresses the EKS Pod Identity Agent listens on, and the webhook points pods at.
pub const LINK_LOCAL_ADDRESSES: [&str; 2] = ["169.254.170.23", "fd00:ec2::23"];
/// Longest ServiceAccount token accepted in the `Authorization` header.
pub const MAX_TOKEN_LEN: usize = 20_000;

/// Settings of an agent.
#[derive(Debug, Clone)]
pub struct Options {
    /// The cluster the agent's node belongs to (`clusterName` of every call).
    pub cluster_name: String,
    /// Host names (without port) a request's `Host` header may name; others are refused
    /// with 403, as the EKS agent refuses calls through another address (a page of another
    /// origin cannot make a browser on the node reach the agent by DNS rebinding). Empty:
    /// any host.
    pub allowed_hosts: Vec<String>,
    /// Credentials cached at most (distinct tokens); the entry expiring first makes room.
    /// 0 disables the cache. Default 2000 (the EKS agent's).
    pub max_cache_entries: usize,
    /// Cached credentials are renewed after at most this long. Default 3 h (the EKS agent's).
    pub max_retention: Duration,
    /// Cached credentials are renewed once they expire within this much. Default 15 min,
    /// so an SDK never receives credentials it would itself consider due for a refresh.
    pub refresh_before_expiry: Duration,
    /// Requests handled at once; more are answered 429 at once. Default 1024.
    pub max_concurrency: usize,
    /// Bound on one request, the call to EKS Auth included (500 past it). Default 10 s.
    pub request_timeout: Duration,
    /// Bound on receiving a request's line and headers. Default 10 s.
    pub header_read_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            cluster_name: String::new(),
            allowed_hosts: Vec::new(),
            max_cache_entries: 2000,
            max_retention: Duration::from_secs(3 * 3600),
            refresh_before_expiry: Duration::from_secs(15 * 60),
            max_concurrency: 1024,
            request_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(10),
        }
    }
}

/// Credentials as the container credentials providers read them. `Debug` hides them.
#[derive(Clone)]
struct Cached {
    /// The JSON answer.
    body: Arc<str>,
    /// Renew after this (unix seconds).
    fresh_until: i64,
}

/// The agent: an EKS Auth client, the cache and the limits.
pub struct Agent {
    client: aws_sdk_eksauth::Client,
    options: Options,
    /// SHA-256 of the token → cached answer (the token itself is not kept).
    cache: Mutex<HashMap<[u8; 32], Cached>>,
    /// Tokens being fetched now: concurrent requests with one token wait for one call
    /// (at most one entry per request in flight, so bounded by the limits).
    inflight: Mutex<HashMap<[u8; 32], Arc<tokio::sync::Mutex<()>>>>,
    limits: Limits,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

impl Agent {
    /// An agent calling `AssumeRoleForPodIdentity` with `client`.
    pub fn new(client: aws_sdk_eksauth::Client, options: Options) -> Arc<Agent> {
        let limits = Limits::new(
            options.max_concurrency,
            options.request_timeout,
            || text_error(429, "Too Many Requests. Rate exceeded"),
            || text_error(500, "Timed out fetching credentials"),
        );
        Arc::new(Agent {
            client,
            options,
            cache: Mutex::new(HashMap::new()),
            inflight: Mutex::new(HashMap::new()),
            limits,
        })
    }

    /// Entries in the cache now.
    pub fn cached(&self) -> usize {
        self.lock().len()
    }

    /// The limits in front of the routes (and their counters).
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Cached>> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn cache_get(&self, key: &[u8; 32], now: i64) -> Option<Arc<str>> {
        let mut cache = self.lock();
        match cache.get(key) {
            Some(c) if now < c.fresh_until => Some(c.body.clone()),
            Some(_) => {
                cache.remove(key);
                None
            }
            None => None,
        }
    }

    fn cache_put(&self, key: [u8; 32], entry: Cached, now: i64) {
        let max = self.options.max_cache_entries;
        if max == 0 || entry.fresh_until <= now {
            return;
        }
        let mut cache = self.lock();
        if cache.len() >= max && !cache.contains_key(&key) {
            cache.retain(|_, c| c.fresh_until > now);
            while cache.len() >= max {
                let Some(first) = cache
                    .iter()
                    .min_by_key(|(_, c)| c.fresh_until)
                    .map(|(k, _)| *k)
                else {
                    break;
                };
                cache.remove(&first);
            }
        }
        cache.insert(key, entry);
    }
}

/// An EKS Auth client from the default credential chain (in a cluster: the agent's own
/// IRSA web identity, with `AWS_ROLE_ARN` and `AWS_WEB_IDENTITY_TOKEN_FILE`), sending to
/// `endpoint` when given (else `AWS_ENDPOINT_URL_EKS_AUTH`, else AWS's endpoint).
pub async fn default_client(endpoint: Option<&str>) -> aws_sdk_eksauth::Client {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    client(&sdk, endpoint)
}

/// An EKS Auth client of `sdk`, sending to `endpoint` when given. Each attempt is bounded
/// (3 s to connect, 5 s per attempt) and the SDK's standard retries apply.
pub fn client(sdk: &aws_config::SdkConfig, endpoint: Option<&str>) -> aws_sdk_eksauth::Client {
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(Duration::from_secs(5))
        .build();
    let mut conf = aws_sdk_eksauth::config::Builder::from(sdk).timeout_config(timeouts);
    if let Some(e) = endpoint {
        conf = conf.endpoint_url(e);
    }
    aws_sdk_eksauth::Client::from_conf(conf.build())
}

/// The routes: `/v1/credentials` (any method, as the EKS agent serves it) behind the
/// agent's limits; every other path is 404.
pub fn router(agent: Arc<Agent>) -> Router {
    let limits = agent.limits.clone();
    limits.apply(
        Router::new()
            .route(CREDENTIALS_PATH, axum::routing::any(credentials))
            .fallback(|| async { text_error(404, "404 page not found") })
            .with_state(agent),
    )
}

/// Serves `router(agent)` on `listener` until `shutdown` completes, then lets requests in
/// flight finish (at most the request timeout + 1 s).
pub async fn serve(
    listener: tokio::net::TcpListener,
    agent: Arc<Agent>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let options = ServeOptions {
        header_read_timeout: agent.options.header_read_timeout,
        drain_timeout: agent.options.request_timeout + Duration::from_secs(1),
        ..ServeOptions::default()
    };
    irsa_server::serve(listener, router(agent), options, shutdown).await
}

/// An error as the EKS agent answers it (Go's `http.Error`): plain text and a newline.
fn text_error(status: u16, message: &str) -> Response {
    let mut r = Response::new(Body::from(format!("{message}\n")));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    r
}

/// Why a request got no credentials.
#[derive(Debug, thiserror::Error)]
enum Refusal {
    /// The request was refused before any call (status, message).
    #[error("{1}")]
    Local(u16, String),
    /// EKS Auth answered an error, or could not be reached.
    #[error("{1}")]
    Remote(u16, String),
}

impl Refusal {
    fn status(&self) -> u16 {
        match self {
            Refusal::Local(s, _) | Refusal::Remote(s, _) => *s,
        }
    }
}

/// The `Host` header's host without port or IPv6 brackets.
fn host_of(value: &str) -> &str {
    let v = value.trim();
    if let Some(rest) = v.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match v.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !h.contains(':') => h,
        _ => v,
    }
}

/// Basic checks before any call, as the EKS agent makes them: a token is present, is a
/// JWT, and is within its validity window (the signature is for EKS Auth to check).
fn validate_token(token: &str, now: i64) -> Result<(), Refusal> {
    if token.is_empty() {
        return Err(Refusal::Local(
            400,
            "Service account token cannot be empty".into(),
        ));
    }
    if token.len() > MAX_TOKEN_LEN {
        return Err(Refusal::Local(
            400,
            "Service account token cannot be parsed: token is too large".into(),
        ));
    }
    let t = irsa_jose::peek(token)
        .map_err(|e| Refusal::Local(400, format!("Service account token cannot be parsed: {e}")))?;
    let num = |k: &str| t.claims.get(k).and_then(serde_json::Value::as_i64);
    let bad = |why: &str| {
        Refusal::Local(
            400,
            format!("Service account token failed basic claim validations: {why}"),
        )
    };
    match (t.claims.get("exp"), num("exp")) {
        (Some(_), None) => return Err(bad("token has invalid claims: exp is not a number")),
        (_, Some(exp)) if exp <= now => {
            return Err(bad("token has invalid claims: token is expired"));
        }
        _ => {}
    }
    if num("nbf").is_some_and(|nbf| nbf > now) {
        return Err(bad("token has invalid claims: token is not valid yet"));
    }
    Ok(())
}

fn sha256(token: &str) -> [u8; 32] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// `2006-01-02T15:04:05Z` with fractional seconds only when present (Go's RFC3339Nano).
fn rfc3339(secs: i64, nanos: u32) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(secs)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .replace_nanosecond(nanos)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

async fn fetch(agent: &Agent, token: &str, now: i64) -> Result<Cached, Refusal> {
    let out = agent
        .client
        .assume_role_for_pod_identity()
        .cluster_name(&agent.options.cluster_name)
        .token(token)
        .send()
        .await
        .map_err(|e| refusal_of(&e))?;
    let (Some(creds), Some(user)) = (out.credentials(), out.assumed_role_user()) else {
        return Err(Refusal::Remote(
            500,
            "invalid response from server: credentials or assumed role empty".into(),
        ));
    };
    let account = user.arn().split(':').nth(4).unwrap_or_default();
    if account.len() != 12 {
        return Err(Refusal::Remote(
            500,
            "unable to parse arn from assumed role".into(),
        ));
    }
    let exp = creds.expiration();
    let body = serde_json::json!({
        "AccessKeyId": creds.access_key_id(),
        "SecretAccessKey": creds.secret_access_key(),
        "Token": creds.session_token(),
        "AccountId": account,
        "Expiration": rfc3339(exp.secs(), exp.subsec_nanos()),
    })
    .to_string();
    let fresh_until = now.saturating_add(secs(agent.options.max_retention)).min(
        exp.secs()
            .saturating_sub(secs(agent.options.refresh_before_expiry)),
    );
    tracing::info!(
        cluster = %agent.options.cluster_name,
        role = %user.arn(),
        association = out.pod_identity_association().map(|a| a.association_id()),
        namespace = out.subject().map(|s| s.namespace()),
        service_account = out.subject().map(|s| s.service_account()),
        "fetched credentials from EKS Auth"
    );
    Ok(Cached {
        body: Arc::from(body),
        fresh_until,
    })
}

/// An EKS Auth failure as the EKS agent reports it: the service's HTTP status and
/// `[request id]: (Code): message, fault: client|server`; 500 when there was no answer.
fn refusal_of(e: &SdkError<AssumeRoleForPodIdentityError, HttpResponse>) -> Refusal {
    match e {
        SdkError::ServiceError(se) => {
            let status = se.raw().status().as_u16();
            let err = se.err();
            let fault = if status >= 500 { "server" } else { "client" };
            let message = format!(
                "[{}]: ({}): {}, fault: {fault}",
                se.raw()
                    .headers()
                    .get("x-amzn-requestid")
                    .unwrap_or_default(),
                err.code().unwrap_or("Unknown"),
                err.message().unwrap_or_default(),
            );
            Refusal::Remote(status, message)
        }
        other => Refusal::Remote(
            500,
            format!(
                "unable to fetch credentials from EKS Auth: {}",
                aws_sdk_eksauth::error::DisplayErrorContext(other)
            ),
        ),
    }
}

async fn credentials(State(agent): State<Arc<Agent>>, req: Request) -> Response {
    let started = Instant::now();
    let now = now_secs();
    let result = answer(&agent, req.headers(), now).await;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    match result {
        Ok((body, cached)) => {
            tracing::info!(status = 200, cached, elapsed_ms, "credentials");
            let mut r = Response::new(Body::from(body.to_string()));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            r
        }
        Err(e) => {
            tracing::warn!(status = e.status(), error = %e, elapsed_ms, "credentials refused");
            text_error(e.status(), &e.to_string())
        }
    }
}

async fn answer(
    agent: &Agent,
    headers: &http::HeaderMap,
    now: i64,
) -> Result<(Arc<str>, bool), Refusal> {
    if !agent.options.allowed_hosts.is_empty() {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(host_of)
            .unwrap_or_default();
        if !agent.options.allowed_hosts.iter().any(|a| a == host) {
            return Err(Refusal::Local(
                403,
                format!(
                    "Access Denied. Called agent through invalid address, please use either {:?} address not {host}",
                    agent.options.allowed_hosts
                ),
            ));
        }
    }
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let token = match (values.next(), values.next()) {
        (None, _) => "",
        (Some(v), None) => v.to_str().map(str::trim).map_err(|_| {
            Refusal::Local(
                400,
                "Service account token cannot be parsed: not a JWT".into(),
            )
        })?,
        (Some(_), Some(_)) => {
            return Err(Refusal::Local(
                400,
                "Service account token cannot be parsed: more than one Authorization header".into(),
            ));
        }
    };
    validate_token(token, now)?;
    let key = sha256(token);
    if let Some(body) = agent.cache_get(&key, now) {
        return Ok((body, true));
    }
    // One call per token at a time: later requests wait, then find the cache filled.
    let gate = agent
        .inflight
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry(key)
        .or_default()
        .clone();
    let result = {
        let _turn = gate.lock().await;
        match agent.cache_get(&key, now) {
            Some(body) => Ok((body, true)),
            None => fetch(agent, token, now).await.map(|fetched| {
                let body = fetched.body.clone();
                agent.cache_put(key, fetched, now);
                (body, false)
            }),
        }
    };
    let mut inflight = agent.inflight.lock().unwrap_or_else(|p| p.into_inner());
    // The last one out removes the gate (the map holds one reference, `gate` another).
    if Arc::strong_count(&gate) <= 2 {
        inflight.remove(&key);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_read_without_port_or_brackets() {
        assert_eq!(host_of("169.254.170.23"), "169.254.170.23");
        assert_eq!(host_of("169.254.170.23:80"), "169.254.170.23");
        assert_eq!(host_of("[fd00:ec2::23]:80"), "fd00:ec2::23");
        assert_eq!(host_of("[fd00:ec2::23]"), "fd00:ec2::23");
        assert_eq!(host_of("fd00:ec2::23"), "fd00:ec2::23");
        assert_eq!(host_of("127.0.0.1:8080"), "127.0.0.1");
        assert_eq!(host_of("evil.example:80"), "evil.example");
    }

    fn agent(max: usize) -> Arc<Agent> {
        let conf = aws_sdk_eksauth::Config::builder()
            .behavior_version(aws_sdk_eksauth::config::BehaviorVersion::latest())
            .region(aws_sdk_eksauth::config::Region::new("us-east-1"))
            .build();
        Agent::new(
            aws_sdk_eksauth::Client::from_conf(conf),
            Options {
                max_cache_entries: max,
                ..Options::default()
            },
        )
    }

    fn entry(body: &str, fresh_until: i64) -> Cached {
        Cached {
            body: Arc::from(body),
            fresh_until,
        }
    }

    #[test]
    fn the_cache_is_bounded_and_forgets_what_is_due() {
        let now = 1_000;
        let a = agent(2);
        a.cache_put([1; 32], entry("one", now + 100), now);
        a.cache_put([2; 32], entry("two", now + 50), now);
        assert_eq!(a.cached(), 2);
        // Full: the entry due first makes room.
        a.cache_put([3; 32], entry("three", now + 200), now);
        assert_eq!(a.cached(), 2);
        assert!(a.cache_get(&[2; 32], now).is_none());
        assert_eq!(a.cache_get(&[1; 32], now).as_deref(), Some("one"));
        assert_eq!(a.cache_get(&[3; 32], now).as_deref(), Some("three"));
        // Due entries are not served, and are dropped when asked for.
        assert!(a.cache_get(&[1; 32], now + 100).is_none());
        assert_eq!(a.cached(), 1);
        // Nothing is cached that is already due, nor with the cache off.
        a.cache_put([4; 32], entry("four", now), now);
        assert!(a.cache_get(&[4; 32], now).is_none());
        let off = agent(0);
        off.cache_put([1; 32], entry("one", now + 100), now);
        assert_eq!(off.cached(), 0);
    }

    #[test]
    fn expiration_is_go_rfc3339nano() {
        assert_eq!(rfc3339(1_700_000_000, 0), "2023-11-14T22:13:20Z");
        assert_eq!(
            rfc3339(1_700_000_000, 500_000_000),
            "2023-11-14T22:13:20.5Z"
        );
    }

    #[test]
    fn tokens_are_checked_before_any_call() {
        let now = 1_700_000_000;
        let e = validate_token("", now).unwrap_err();
        assert_eq!(
            (e.status(), e.to_string()),
            (400, "Service account token cannot be empty".into())
        );
        assert_eq!(validate_token("abc", now).unwrap_err().status(), 400);
        let big = "a".repeat(MAX_TOKEN_LEN + 1);
        assert_eq!(validate_token(&big, now).unwrap_err().status(), 400);
        let key = irsa_jose::SigningKey::generate(irsa_jose::Algorithm::ES256).unwrap();
        let sign = |c: serde_json::Value| {
            key.sign_jwt(&serde_json::Map::new(), c.as_object().unwrap())
                .unwrap()
        };
        assert!(validate_token(&sign(serde_json::json!({"exp": now + 60})), now).is_ok());
        let e = validate_token(&sign(serde_json::json!({"exp": now})), now).unwrap_err();
        assert!(e.to_string().contains("token is expired"), "{e}");
        let e = validate_token(&sign(serde_json::json!({"exp": "soon"})), now).unwrap_err();
        assert_eq!(e.status(), 400);
        let e = validate_token(&sign(serde_json::json!({"nbf": now + 60})), now).unwrap_err();
        assert!(e.to_string().contains("not valid yet"), "{e}");
    }
}
