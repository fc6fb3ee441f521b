//! The gateway server: verify, map, authorize, forward.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::response::Response;
use http::{HeaderName, HeaderValue, Method, StatusCode};
use irsa_policy::Policy;
use irsa_sigv4::VerifyOptions;
use irsa_sts_core::config::Config;
use irsa_sts_core::credentials::{self, KeyRing, SessionClaims};
use rand::Rng as _;
use tokio::sync::Semaphore;

use crate::authz::{self, Caller, RequestFacts, SessionPolicies};
use crate::config::{self, LoadError};
use crate::dynamodb::{self, Schemas, Scope, TableSchema};
use crate::error::{ApiError, crc32};
use crate::upstream::{Upstream, strip_presign_params};

/// Server limits and verification settings.
#[derive(Debug, Clone)]
pub struct Options {
    /// Largest request body accepted, in bytes (DynamoDB's own limit is 16 MB).
    pub max_body_bytes: usize,
    /// Requests handled at once; above it requests get `ThrottlingException`.
    pub max_concurrency: usize,
    /// How long a table's key schema (from `DescribeTable`) is reused.
    pub schema_ttl: Duration,
    /// Clock skew accepted on signatures, in seconds (AWS: 900).
    pub max_clock_skew_secs: i64,
    /// Accept `x-amz-content-sha256: UNSIGNED-PAYLOAD`.
    pub allow_unsigned_payload: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_body_bytes: 16 * 1024 * 1024 + 64 * 1024,
            max_concurrency: 1024,
            schema_ttl: Duration::from_secs(60),
            max_clock_skew_secs: 15 * 60,
            allow_unsigned_payload: true,
        }
    }
}

/// Session policies resolved for a session: key = (inline policy, managed ARNs).
type SessionKey = (Option<String>, Vec<String>);
const SESSION_CACHE_MAX: usize = 4096;

/// One loaded configuration with everything derived from it.
pub struct Snapshot {
    /// The validated configuration.
    pub config: Config,
    ring: KeyRing,
    scope: Scope,
    role_policies: HashMap<String, Arc<[Policy]>>,
    session_cache: Mutex<HashMap<SessionKey, Arc<Option<Vec<Policy>>>>>,
}

impl Snapshot {
    /// A snapshot of configuration text; relative file names resolve against `base_dir`.
    pub fn load(text: &str, base_dir: &Path) -> Result<Snapshot, LoadError> {
        let (config, _) = config::parse(text)?;
        let ring = config::key_ring(&config, base_dir)?;
        Ok(Snapshot::new(config, ring))
    }

    /// A snapshot of a parsed configuration and its key ring.
    pub fn new(config: Config, ring: KeyRing) -> Snapshot {
        let role_policies = config
            .roles
            .values()
            .map(|role| {
                let mut policies: Vec<Policy> = role
                    .policies
                    .values()
                    .map(|p| p.policy.as_ref().clone())
                    .collect();
                policies.extend(
                    role.managed_policies
                        .iter()
                        .filter_map(|arn| config.policies.get(arn))
                        .map(|m| m.document.policy.as_ref().clone()),
                );
                (role.arn.clone(), Arc::from(policies))
            })
            .collect();
        let scope = Scope {
            partition: config.partition.clone(),
            region: config.region.clone(),
            account: config.account.clone(),
        };
        Snapshot {
            config,
            ring,
            scope,
            role_policies,
            session_cache: Mutex::new(HashMap::new()),
        }
    }

    /// The role's identity policies (inline and managed); empty for an unknown role.
    fn identity_policies(&self, role_arn: &str) -> Arc<[Policy]> {
        self.role_policies
            .get(role_arn)
            .cloned()
            .unwrap_or_else(|| Arc::from(Vec::new()))
    }

    /// The session policies of a session: `None` when it has none. A policy that no longer
    /// parses or an ARN no longer configured is left out, which only narrows the session.
    fn session_policies(&self, claims: &SessionClaims) -> Arc<Option<Vec<Policy>>> {
        if claims.session_policy.is_none() && claims.policy_arns.is_empty() {
            return Arc::new(None);
        }
        let key = (claims.session_policy.clone(), claims.policy_arns.clone());
        let mut cache = self.session_cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = cache.get(&key) {
            return p.clone();
        }
        let mut policies = Vec::new();
        if let Some(text) = &claims.session_policy {
            match Policy::parse(text) {
                Ok(p) => policies.push(p),
                Err(e) => tracing::warn!(error = %e, "session policy does not parse; ignored"),
            }
        }
        for arn in &claims.policy_arns {
            match self.config.policies.get(arn) {
                Some(m) => policies.push(m.document.policy.as_ref().clone()),
                None => {
                    tracing::warn!(policy_arn = %arn, "session policy ARN not configured; ignored")
                }
            }
        }
        let resolved = Arc::new(Some(policies));
        if cache.len() >= SESSION_CACHE_MAX {
            cache.clear();
        }
        cache.insert(key, resolved.clone());
        resolved
    }
}

/// The gateway's shared state.
pub struct Gateway {
    current: RwLock<Arc<Snapshot>>,
    upstream: Upstream,
    options: Options,
    permits: Arc<Semaphore>,
    schemas: Mutex<HashMap<String, (Instant, Arc<TableSchema>)>>,
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl Gateway {
    /// A gateway for a loaded snapshot.
    pub fn new(snapshot: Snapshot, upstream: Upstream, options: Options) -> Arc<Gateway> {
        Arc::new(Gateway {
            current: RwLock::new(Arc::new(snapshot)),
            upstream,
            permits: Arc::new(Semaphore::new(options.max_concurrency.max(1))),
            options,
            schemas: Mutex::new(HashMap::new()),
        })
    }

    /// The configuration in force.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current
            .read()
            .map_or_else(|p| p.into_inner().clone(), |g| g.clone())
    }

    /// Re-reads the configuration file; installs it when valid, keeps the old one otherwise.
    /// The upstream settings are not reloaded.
    pub fn reload(&self, path: &Path) -> Result<(), LoadError> {
        let text = String::from_utf8_lossy(&config::read(path)?).into_owned();
        let snap = Snapshot::load(&text, config::base_dir(path))?;
        let mut g = self.current.write().unwrap_or_else(|p| p.into_inner());
        *g = Arc::new(snap);
        Ok(())
    }

    async fn schemas_for(&self, tables: Vec<String>) -> Result<Schemas, ApiError> {
        let mut out = Schemas::new();
        for table in tables {
            let cached = {
                let cache = self.schemas.lock().unwrap_or_else(|p| p.into_inner());
                cache
                    .get(&table)
                    .filter(|(at, _)| at.elapsed() < self.options.schema_ttl)
                    .map(|(_, s)| s.clone())
            };
            let schema = match cached {
                Some(s) => Some(s),
                None => match self.upstream.describe_table(&table).await {
                    Ok(Some(s)) => {
                        let s = Arc::new(s);
                        let mut cache = self.schemas.lock().unwrap_or_else(|p| p.into_inner());
                        if cache.len() >= 10_000 {
                            cache.clear();
                        }
                        cache.insert(table.clone(), (Instant::now(), s.clone()));
                        Some(s)
                    }
                    Ok(None) => None,
                    Err(e) => {
                        tracing::error!(table = %table, error = %e, "cannot read the table's key schema from the upstream");
                        return Err(ApiError::internal());
                    }
                },
            };
            if let Some(s) = schema {
                out.insert(table, s);
            }
        }
        Ok(out)
    }
}

/// Polls `path` every `interval` and reloads on change. A bad file keeps the old
/// configuration and logs why. Runs forever.
pub async fn watch_config(gateway: Arc<Gateway>, path: PathBuf, interval: Duration) {
    let fingerprint = |p: &Path| -> Option<(SystemTime, u64, Vec<u8>)> {
        let m = std::fs::metadata(p).ok()?;
        Some((m.modified().ok()?, m.len(), std::fs::read(p).ok()?))
    };
    let mut last = fingerprint(&path);
    loop {
        tokio::time::sleep(interval).await;
        let now = fingerprint(&path);
        if now.is_none() || now == last {
            continue;
        }
        last = now;
        match gateway.reload(&path) {
            Ok(()) => tracing::info!(path = %path.display(), "configuration reloaded"),
            Err(e) => tracing::error!(
                path = %path.display(),
                error = %e,
                "configuration not reloaded; keeping the previous one"
            ),
        }
    }
}

/// The gateway's routes: every request is a DynamoDB request (`GET /` without
/// authentication is a health check, as on DynamoDB).
pub fn router(gateway: Arc<Gateway>) -> Router {
    Router::new().fallback(handle).with_state(gateway)
}

/// Serves `router(gateway)` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    gateway: Arc<Gateway>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(gateway).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

fn request_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::thread_rng();
    (0..52)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect()
}

fn error_response(e: &ApiError, request_id: &str) -> Response {
    let body = e.body();
    let crc = crc32(body.as_bytes());
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    let h = r.headers_mut();
    h.insert(
        "content-type",
        HeaderValue::from_static("application/x-amz-json-1.0"),
    );
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amzn-requestid", v);
    }
    if let Ok(v) = HeaderValue::from_str(e.code()) {
        h.insert("x-amzn-errortype", v);
    }
    h.insert("x-amz-crc32", HeaderValue::from(crc));
    r
}

const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
];

fn is_health_check(req: &axum::extract::Request) -> bool {
    req.method() == Method::GET
        && req.uri().path() == "/"
        && !req.headers().contains_key("authorization")
        && req.uri().query().is_none_or(|q| !q.contains("X-Amz-"))
}

async fn handle(State(gw): State<Arc<Gateway>>, req: axum::extract::Request) -> Response {
    let started = Instant::now();
    if is_health_check(&req) {
        return Response::new(Body::from("healthy: irsa-gateway"));
    }
    let id = request_id();
    let Ok(_permit) = gw.permits.clone().try_acquire_owned() else {
        return error_response(&ApiError::throttling(), &id);
    };
    match process(&gw, req).await {
        Ok((response, op)) => {
            tracing::info!(
                request_id = %id,
                operation = %op,
                status = response.status().as_u16(),
                elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
                "forwarded"
            );
            response
        }
        Err(e) => {
            tracing::info!(
                request_id = %id,
                error = e.code(),
                message = e.message.as_deref().unwrap_or(""),
                elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
                "refused"
            );
            error_response(&e, &id)
        }
    }
}

async fn process(
    gw: &Gateway,
    req: axum::extract::Request,
) -> Result<(Response, String), ApiError> {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string());
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, gw.options.max_body_bytes)
        .await
        .map_err(|_| ApiError::too_large(gw.options.max_body_bytes))?;
    let now = now_secs();
    let snap = gw.snapshot();

    // 1. Authenticate: SigV4 with the secret re-derived from the session token.
    let path = parts.uri.path();
    let query = parts.uri.query().unwrap_or("");
    let headers: Vec<(&str, &[u8])> = parts
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_bytes()))
        .collect();
    let http = irsa_sigv4::Request {
        method: parts.method.as_str(),
        path,
        query,
        headers: &headers,
        body: &body,
    };
    let options = VerifyOptions {
        max_clock_skew_secs: gw.options.max_clock_skew_secs,
        allow_unsigned_payload: gw.options.allow_unsigned_payload,
        ..VerifyOptions::for_service("dynamodb")
    };
    let parsed = irsa_sigv4::parse(&http, &options).map_err(|e| ApiError::from_sigv4(&e))?;
    parsed
        .check_time(now)
        .map_err(|e| ApiError::from_sigv4(&e))?;
    if parsed.region() != snap.config.region {
        return Err(ApiError::invalid_signature(format!(
            "Credential should be scoped to a valid region, not '{}'. ",
            parsed.region()
        )));
    }
    let akid = parsed.access_key_id();
    let Some(token) = parsed.security_token() else {
        return Err(ApiError::unrecognized_client());
    };
    if !credentials::is_access_key_id(akid) {
        return Err(ApiError::unrecognized_client());
    }
    let session = credentials::open(&snap.ring, token, akid, now)
        .map_err(|e| ApiError::from_credentials(&e))?;
    let secret = credentials::secret_for(&snap.ring, akid, &session)
        .map_err(|e| ApiError::from_credentials(&e))?;
    parsed
        .verify(&secret, now)
        .map_err(|e| ApiError::from_sigv4(&e))?;
    let claims = &session.claims;
    let caller = Caller::of(claims).ok_or_else(ApiError::unrecognized_client)?;

    // 2. Map the request to IAM.
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok());
    let op = dynamodb::operation(target).map_err(|e| ApiError::from_mapping(&e))?;
    let json = dynamodb::parse_body(&body).map_err(|e| ApiError::from_mapping(&e))?;
    let schemas = gw.schemas_for(dynamodb::schema_tables(op, &json)).await?;
    let authorizations = dynamodb::map_request(op, &json, &snap.scope, &schemas)
        .map_err(|e| ApiError::from_mapping(&e))?;

    // 3. Authorize: the role's policies ∩ the session's.
    let identity = snap.identity_policies(&claims.role_arn);
    let session_policies = snap.session_policies(claims);
    let facts = RequestFacts {
        now,
        source_ip: peer.as_deref(),
        secure_transport: false,
        region: &snap.config.region,
    };
    let global = authz::global_context(claims, &caller, &facts);
    let policies = SessionPolicies {
        identity: &identity,
        session: session_policies.as_ref().as_deref(),
    };
    if let Err(denied) = authz::authorize(&policies, &caller, &global, &authorizations) {
        tracing::info!(
            caller = %caller.arn,
            action = %denied.action,
            resource = %denied.resource,
            reason = ?denied.reason,
            "access denied"
        );
        return Err(ApiError::access_denied(&denied));
    }

    // 4. Forward, re-signed with the upstream's credentials; stream the answer back.
    let op = op.to_owned();
    let forward_query = strip_presign_params(query);
    let response = gw
        .upstream
        .send(parts.method, path, &forward_query, &parts.headers, body)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "upstream request failed");
            ApiError::internal()
        })?;
    let (up, incoming) = response.into_parts();
    let mut r = Response::new(Body::new(incoming));
    *r.status_mut() = up.status;
    for (n, v) in &up.headers {
        if !HOP_BY_HOP.contains(&n.as_str()) {
            r.headers_mut().append(HeaderName::clone(n), v.clone());
        }
    }
    Ok((r, op))
}
