#![doc = include_str!("../README.md")]

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};
use irsa_jose::{Jwks, PreparedJwks};
use irsa_oidc::{ClientConfig, JwksClient, KeySource};
use irsa_server::{Current, Limits, ReadError, Refusals, ServeOptions};
use irsa_sts_core::{
    AssumeRoleWithWebIdentityRequest, AssumeRoleWithWebIdentityResult, Config, EksAuthError,
    GetCallerIdentityResult, KeyRing, MasterKey, Params, ParseOptions, PodIdentityResponse,
    RequestContext, StsError, StsRequest, assume_prepared, assume_role_for_pod_identity,
    assume_role_with_web_identity_response, authenticate_pod_identity_caller,
    decode_pod_identity_request, decode_sts_request, encode_error, get_caller_identity_response,
    parse_pod_identity_token, prepare_assume_role, request_id,
};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Limits and switches of a server.
#[derive(Debug, Clone)]
pub struct Options {
    /// Largest request body accepted (`RequestEntityTooLarge` above). Default 64 KiB.
    pub max_body_bytes: usize,
    /// Requests handled at once; more are answered `Throttling` at once. Default 256.
    pub max_concurrency: usize,
    /// Bound on handling one request once its headers are in, reading the body included
    /// (`ServiceUnavailable` past it). Default 10 s. JWKS fetches get at most half of it
    /// (see [`ClientConfig::fetch_timeout`]), so a request waiting for keys still answers.
    pub request_timeout: Duration,
    /// Bound on receiving a request's line and headers (slowloris); the connection is
    /// closed past it. Default 10 s.
    pub header_read_timeout: Duration,
    /// Settings for JWKS discovery clients (the CA bundle comes from each provider's `caFile`).
    /// Its `allow_insecure_http_issuer` (`--insecure-allow-http-issuer`) also lets the
    /// configuration register `http://` issuers; off, only `https://` issuers load.
    pub jwks_client: ClientConfig,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_body_bytes: 64 * 1024,
            max_concurrency: 256,
            request_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(10),
            jwks_client: ClientConfig::default(),
        }
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file could not be read.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] irsa_sts_core::ConfigError),
    /// A file the configuration names is invalid.
    #[error("{field}: {reason}")]
    File {
        /// The field naming the file.
        field: String,
        /// What is wrong.
        reason: String,
    },
}

/// One loaded configuration with everything derived from it.
pub struct Snapshot {
    /// The validated configuration.
    pub config: Config,
    keys: HashMap<String, KeySource>,
    /// Key sources of the clusters' issuers, by cluster name.
    cluster_keys: HashMap<String, KeySource>,
    ring: KeyRing,
}

/// A JWKS as a key source handed it out, and its keys prepared for verification.
type PreparedEntry = (Arc<Jwks>, Arc<PreparedJwks>);

/// The server's shared state: the current snapshot (swapped on reload) and the limits.
pub struct Server {
    current: Current<Snapshot>,
    options: Options,
    /// The limits in front of both protocols (STS refusals by default, EKS Auth's JSON
    /// refusals for its paths).
    limits: Limits,
    /// Used when the configuration names no signing keys; kept across reloads.
    generated: MasterKey,
    clients: Mutex<HashMap<Option<Vec<u8>>, Arc<JwksClient>>>,
    /// Per issuer: the last JWKS seen and its keys prepared for verification, rebuilt only
    /// when the key source hands out another JWKS (a new fetch).
    prepared: Mutex<HashMap<String, PreparedEntry>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl Server {
    /// A server for configuration `text`; relative file names resolve against `base_dir`.
    pub fn new(text: &str, base_dir: &Path, options: Options) -> Result<Arc<Server>, LoadError> {
        let mut rng = rand::rngs::OsRng;
        let generated = MasterKey::generate(&mut rng);
        let limits = Limits::new(
            options.max_concurrency,
            options.request_timeout,
            || error_response(&StsError::Throttling, new_request_id()),
            || error_response(&StsError::ServiceUnavailable, new_request_id()),
        )
        .route(
            |req| is_eks_path(req.uri().path()),
            Refusals::new(
                || eks_error_response(&EksAuthError::Throttling, &new_request_id()),
                || eks_error_response(&EksAuthError::ServiceUnavailable, &new_request_id()),
            ),
        );
        let server = Server {
            current: Current::new(Snapshot {
                config: Config::from_yaml("account: \"000000000000\"\nregion: us-east-1\n")?,
                keys: HashMap::new(),
                cluster_keys: HashMap::new(),
                ring: KeyRing::single(generated.clone()),
            }),
            options,
            limits,
            generated,
            clients: Mutex::new(HashMap::new()),
            prepared: Mutex::new(HashMap::new()),
        };
        let snap = server.load(text, base_dir)?;
        server.install(snap);
        Ok(Arc::new(server))
    }

    /// A server from a configuration file.
    pub fn from_file(path: &Path, options: Options) -> Result<Arc<Server>, LoadError> {
        let (text, base_dir) = irsa_server::read_text(path)?;
        Server::new(&text, base_dir, options)
    }

    /// The configuration in force.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.get()
    }

    /// The limits in front of the routes (and their counters).
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    fn install(&self, snap: Snapshot) {
        lock(&self.prepared).retain(|issuer, _| {
            snap.keys.contains_key(issuer)
                || issuer
                    .strip_prefix(CLUSTER_KEY_PREFIX)
                    .is_some_and(|name| snap.cluster_keys.contains_key(name))
        });
        self.current.set(snap);
    }

    /// `keys` (the JWKS the issuer's key source returned) prepared for verification: the
    /// cached preparation when the source returned the same JWKS as last time (it hands out
    /// one `Arc` per fetch), else a new one, cached.
    pub fn prepared_keys(&self, issuer: &str, keys: &Arc<Jwks>) -> Arc<PreparedJwks> {
        if let Some((k, p)) = lock(&self.prepared).get(issuer)
            && Arc::ptr_eq(k, keys)
        {
            return p.clone();
        }
        let p = Arc::new(PreparedJwks::new(keys));
        lock(&self.prepared).insert(issuer.to_owned(), (keys.clone(), p.clone()));
        p
    }

    fn client_for(&self, ca: Option<Vec<u8>>) -> Result<Arc<JwksClient>, String> {
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = clients.get(&ca) {
            return Ok(c.clone());
        }
        let base = &self.options.jwks_client;
        let config = ClientConfig {
            ca_bundle_pem: ca.clone(),
            // A request waiting for a fetch must still answer before its own deadline.
            fetch_timeout: base.fetch_timeout.min(self.options.request_timeout / 2),
            ..base.clone()
        };
        let client = Arc::new(JwksClient::new(config).map_err(|e| e.to_string())?);
        clients.insert(ca, client.clone());
        Ok(client)
    }

    /// Loads configuration text into a snapshot (reads the files it names) without
    /// installing it.
    pub fn load(&self, text: &str, base_dir: &Path) -> Result<Snapshot, LoadError> {
        let parse = ParseOptions {
            allow_insecure_http_issuer: self.options.jwks_client.allow_insecure_http_issuer,
        };
        let config = Config::from_yaml_with(text, &parse)?;
        let mut keys = HashMap::new();
        for (i, p) in config.providers.iter().enumerate() {
            let field = format!("providers[{i}]");
            let source = self.key_source(&field, &p.jwks_file, &p.ca_file, base_dir)?;
            keys.insert(p.issuer.clone(), source);
        }
        let mut cluster_keys = HashMap::new();
        for (i, c) in config.clusters.iter().enumerate() {
            let field = format!("clusters[{i}]");
            let source = self.key_source(&field, &c.jwks_file, &c.ca_file, base_dir)?;
            cluster_keys.insert(c.name.clone(), source);
        }
        let ring = if config.signing_keys.is_empty() {
            KeyRing::single(self.generated.clone())
        } else {
            let contents = config
                .signing_keys
                .iter()
                .map(|f| irsa_server::read(&base_dir.join(f)))
                .collect::<Result<Vec<_>, _>>()?;
            KeyRing::from_key_files(&contents).map_err(|e| LoadError::File {
                field: e.field,
                reason: e.reason,
            })?
        };
        Ok(Snapshot {
            config,
            keys,
            cluster_keys,
            ring,
        })
    }

    /// An issuer's keys: from `jwks_file`, or by discovery (trusting `ca_file`).
    fn key_source(
        &self,
        field: &str,
        jwks_file: &Option<std::path::PathBuf>,
        ca_file: &Option<std::path::PathBuf>,
        base_dir: &Path,
    ) -> Result<KeySource, LoadError> {
        if let Some(f) = jwks_file {
            let contents = irsa_server::read(&base_dir.join(f))?;
            return KeySource::from_file_contents(&String::from_utf8_lossy(&contents)).map_err(
                |e| LoadError::File {
                    field: format!("{field}.jwksFile"),
                    reason: e.to_string(),
                },
            );
        }
        let ca = match ca_file {
            Some(f) => Some(irsa_server::read(&base_dir.join(f))?),
            None => None,
        };
        Ok(KeySource::Discovery(self.client_for(ca).map_err(
            |reason| LoadError::File {
                field: format!("{field}.caFile"),
                reason,
            },
        )?))
    }

    /// Re-reads `path`; installs it when valid, keeps the old configuration otherwise.
    pub fn reload(&self, path: &Path) -> Result<(), LoadError> {
        let (text, base_dir) = irsa_server::read_text(path)?;
        let snap = self.load(&text, base_dir)?;
        self.install(snap);
        Ok(())
    }
}

fn new_request_id() -> String {
    // The thread's CSPRNG (ChaCha, seeded and reseeded from the OS): no system call per
    // request. The master key is still drawn from the OS directly.
    request_id(&mut rand::thread_rng())
}

/// The routes: STS (`POST /` and `GET /` with a query string, every action) and the EKS
/// Auth API under `/clusters/`, behind the server's one set of limits: past the concurrency
/// limit a request is answered at once (`Throttling`, or `ThrottlingException` on the EKS
/// Auth paths), past the request deadline `ServiceUnavailable` (`ServiceUnavailableException`).
/// The two protocols share the concurrency limit, as they share the server's CPU.
pub fn router(server: Arc<Server>) -> Router {
    let limits = server.limits.clone();
    limits.apply(Router::new().fallback(dispatch).with_state(server))
}

/// One handler for both protocols, chosen by path (no second router per request).
async fn dispatch(state: State<Arc<Server>>, req: Request) -> Response {
    if is_eks_path(req.uri().path()) {
        handle_eks(state, req).await
    } else {
        handle(state, req).await
    }
}

/// Whether `path` belongs to the EKS Auth API (`/clusters` and below).
fn is_eks_path(path: &str) -> bool {
    path.strip_prefix("/clusters")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}
/// Prefix of the prepared-keys cache entries of clusters (issuers are URLs, never this).
const CLUSTER_KEY_PREFIX: &str = "cluster:";

fn eks_error_response(e: &EksAuthError, request_id: &str) -> Response {
    json_response(e.status(), e.to_json(), request_id, Some(e.code()))
}

fn json_response(
    status: u16,
    body: String,
    request_id: &str,
    error_type: Option<&str>,
) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = HeaderValue::from_str(request_id) {
        r.headers_mut().insert("x-amzn-requestid", v);
    }
    if let Some(t) = error_type.and_then(|t| HeaderValue::from_str(t).ok()) {
        r.headers_mut().insert("x-amzn-errortype", t);
    }
    r
}

/// `AssumeRoleForPodIdentity`: decode, authenticate the caller, fetch the cluster's keys,
/// then the pure steps; one log line per request (never the token or the credentials).
async fn handle_eks(State(server): State<Arc<Server>>, req: Request) -> Response {
    let started = Instant::now();
    let request_id = new_request_id();
    let mut seen = EksSeen::default();
    let result = process_eks(&server, req, &mut seen).await;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    match result {
        Ok(res) => {
            tracing::info!(
                request_id,
                action = "AssumeRoleForPodIdentity",
                status = 200,
                cluster = seen.cluster.as_deref(),
                caller = seen.caller.as_deref(),
                role_arn = %res.assumed_role_arn,
                namespace = %res.subject.namespace,
                service_account = %res.subject.service_account,
                elapsed_ms,
                "request"
            );
            json_response(200, res.to_json(), &request_id, None)
        }
        Err(e) => {
            tracing::info!(
                request_id,
                action = "AssumeRoleForPodIdentity",
                status = e.status(),
                code = e.code(),
                error_message = %e.message(),
                cluster = seen.cluster.as_deref(),
                caller = seen.caller.as_deref(),
                elapsed_ms,
                "request"
            );
            eks_error_response(&e, &request_id)
        }
    }
}

/// What an EKS Auth request revealed before it ended, for its log line.
#[derive(Default)]
struct EksSeen {
    cluster: Option<String>,
    caller: Option<String>,
}

async fn process_eks(
    server: &Server,
    req: Request,
    seen: &mut EksSeen,
) -> Result<PodIdentityResponse, EksAuthError> {
    let (parts, body) = req.into_parts();
    let uri = &parts.uri;
    let body = axum::body::to_bytes(body, server.options.max_body_bytes)
        .await
        .map_err(|_| {
            EksAuthError::InvalidRequest("Request body exceeds the maximum allowed size".into())
        })?;
    let r = decode_pod_identity_request(parts.method.as_str(), uri.path(), &body)?;
    seen.cluster = Some(r.cluster_name.clone());
    let snap = server.snapshot();
    let headers: Vec<(&str, &[u8])> = parts
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_bytes()))
        .collect();
    let http = irsa_sigv4::Request {
        method: parts.method.as_str(),
        path: uri.path(),
        query: uri.query().unwrap_or(""),
        headers: &headers,
        body: &body,
    };
    let now = now_secs();
    let who =
        authenticate_pod_identity_caller(&http, &r.cluster_name, &snap.config, &snap.ring, now)?;
    seen.caller = Some(who.arn);
    let c = snap
        .config
        .cluster(&r.cluster_name)
        .ok_or_else(|| EksAuthError::no_cluster(&r.cluster_name))?;
    let token = parse_pod_identity_token(&r.token)?;
    let source = snap
        .cluster_keys
        .get(&c.name)
        .ok_or(EksAuthError::InternalServer)?;
    let keys = source.keys_for(&c.issuer, token.kid()).await.map_err(|e| {
        tracing::warn!(issuer = %c.issuer, error = %e, "cannot get the cluster issuer's keys");
        EksAuthError::from(&e.to_jose())
    })?;
    let keys = server.prepared_keys(&format!("{CLUSTER_KEY_PREFIX}{}", c.name), &keys);
    assume_role_for_pod_identity(
        &r,
        token,
        &snap.config,
        &keys,
        &snap.ring,
        now,
        &mut rand::thread_rng(),
    )
}

/// An XML answer; the request id moves into its header without a copy.
fn xml_response(status: u16, body: String, request_id: String) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    if let Ok(v) = HeaderValue::from_maybe_shared(Bytes::from(request_id)) {
        r.headers_mut().insert("x-amzn-requestid", v);
    }
    r
}

/// The one place errors become wire responses.
fn error_response(e: &StsError, request_id: String) -> Response {
    let (status, body) = encode_error(e, &request_id);
    xml_response(status, body, request_id)
}

struct Outcome {
    action: &'static str,
    /// The decoded `AssumeRoleWithWebIdentity` request (its role and session are logged).
    assume: Option<AssumeRoleWithWebIdentityRequest>,
    /// The caller's ARN of a `GetCallerIdentity`.
    caller: Option<String>,
    subject: Option<String>,
    result: Result<String, StsError>,
}

impl Outcome {
    fn role_arn(&self) -> Option<&str> {
        match &self.assume {
            Some(r) => Some(&r.role_arn),
            None => self.caller.as_deref(),
        }
    }

    fn session(&self) -> Option<&str> {
        self.assume.as_ref().map(|r| r.role_session_name.as_str())
    }
}

async fn handle(State(server): State<Arc<Server>>, req: Request) -> Response {
    let started = Instant::now();
    let request_id = new_request_id();
    let source_ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string());
    let outcome = process(&server, req, &request_id, source_ip).await;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    match &outcome.result {
        Ok(_) => {
            tracing::info!(
                request_id,
                action = outcome.action,
                status = 200,
                role_arn = outcome.role_arn(),
                session = outcome.session(),
                subject = outcome.subject.as_deref(),
                elapsed_ms,
                "request"
            );
        }
        Err(e) => {
            tracing::info!(
                request_id,
                action = outcome.action,
                status = e.status(),
                code = e.code(),
                error_message = %e.message(),
                role_arn = outcome.role_arn(),
                session = outcome.session(),
                subject = outcome.subject.as_deref(),
                elapsed_ms,
                "request"
            );
        }
    }
    match outcome.result {
        Ok(body) => xml_response(200, body, request_id),
        Err(e) => error_response(&e, request_id),
    }
}

async fn process(
    server: &Server,
    req: Request,
    request_id: &str,
    source_ip: Option<String>,
) -> Outcome {
    let mut out = Outcome {
        action: "unknown",
        assume: None,
        caller: None,
        subject: None,
        result: Err(StsError::InternalFailure),
    };
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, server.options.max_body_bytes).await {
        Ok(b) => b,
        Err(_) => {
            out.result = Err(StsError::RequestEntityTooLarge);
            return out;
        }
    };
    let query = parts.uri.query();
    let params = Params::parse(query, &body);
    out.action = match params.action() {
        Some("AssumeRoleWithWebIdentity") => "AssumeRoleWithWebIdentity",
        Some("GetCallerIdentity") => "GetCallerIdentity",
        Some(_) => "other",
        None => "none",
    };
    let decoded = decode_sts_request(&params);
    drop(params);
    let snap = server.snapshot();
    out.result = match decoded {
        Err(e) => Err(e),
        Ok(StsRequest::AssumeRoleWithWebIdentity(r)) => {
            out.action = "AssumeRoleWithWebIdentity";
            let result = assume_role(server, &snap, &r, source_ip).await;
            out.assume = Some(r);
            result.map(|res| {
                let body = assume_role_with_web_identity_response(&res, request_id);
                out.subject = Some(res.subject_from_web_identity_token);
                body
            })
        }
        Ok(StsRequest::GetCallerIdentity) => {
            out.action = "GetCallerIdentity";
            get_caller_identity(&snap, &parts, &body).map(|res| {
                let body = get_caller_identity_response(&res, request_id);
                out.caller = Some(res.arn);
                body
            })
        }
    };
    out
}

async fn assume_role(
    server: &Server,
    snap: &Snapshot,
    r: &AssumeRoleWithWebIdentityRequest,
    source_ip: Option<String>,
) -> Result<AssumeRoleWithWebIdentityResult, StsError> {
    // Order: session policies, provider by iss (each parsed once), then the keys (I/O),
    // then the pure checks.
    let prepared = prepare_assume_role(r, &snap.config)?;
    let issuer = prepared.provider.issuer.as_str();
    let source = snap.keys.get(issuer).ok_or(StsError::InternalFailure)?;
    let keys = source
        .keys_for(issuer, prepared.kid.as_deref())
        .await
        .map_err(|e| {
            tracing::warn!(issuer, error = %e, "cannot get the issuer's keys");
            StsError::from(e.to_jose())
        })?;
    let keys = server.prepared_keys(issuer, &keys);
    let ctx = RequestContext {
        now: now_secs(),
        source_ip,
        secure_transport: false,
    };
    assume_prepared(
        r,
        &snap.config,
        prepared,
        &keys,
        &snap.ring,
        &ctx,
        // Access key id and AEAD nonce from the thread's CSPRNG (see `new_request_id`).
        &mut rand::thread_rng(),
    )
}

fn get_caller_identity(
    snap: &Snapshot,
    parts: &http::request::Parts,
    body: &Bytes,
) -> Result<GetCallerIdentityResult, StsError> {
    let headers: Vec<(&str, &[u8])> = parts
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_bytes()))
        .collect();
    let req = irsa_sigv4::Request {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers: &headers,
        body,
    };
    irsa_sts_core::get_caller_identity(&req, &snap.config, &snap.ring, now_secs())
}

/// Serves `router(server)` over plain HTTP/1.1 on `listener` until `shutdown` resolves, then
/// stops accepting and lets in-flight requests finish (at most the request timeout + 1 s).
///
/// Each connection must deliver a request's line and headers within
/// [`Options::header_read_timeout`] (else it is closed: slowloris); the body is read inside
/// the per-request deadline ([`Options::request_timeout`]). HTTP/2 (h2c) is not offered:
/// hyper's header-read bound applies to HTTP/1 only. The peer address is passed to handlers
/// as `ConnectInfo<SocketAddr>` (`aws:SourceIp`).
pub async fn serve(
    listener: tokio::net::TcpListener,
    server: Arc<Server>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let options = ServeOptions {
        header_read_timeout: server.options.header_read_timeout,
        drain_timeout: server.options.request_timeout + Duration::from_secs(1),
        ..ServeOptions::default()
    };
    irsa_server::serve(listener, router(server), options, shutdown).await
}
