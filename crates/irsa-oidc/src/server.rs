//! The local issuer: serves an OIDC discovery document and a JWKS the way kube-apiserver
//! does, so STS (ours or anything that speaks OIDC discovery) can fetch the keys.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use irsa_jose::{DiscoveryDocument, Jwks};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// Path of the discovery document below the issuer URL's path.
pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";
/// Path of the JWKS below the issuer URL's path (kube-apiserver's).
pub const JWKS_PATH: &str = "/openid/v1/jwks";

/// Why the issuer cannot be served.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The issuer is not an absolute http(s) URL without query or fragment.
    #[error("issuer `{issuer}` is not a valid issuer url: {reason}")]
    InvalidIssuer {
        /// The issuer as given.
        issuer: String,
        /// What is wrong.
        reason: String,
    },
    /// The TLS certificate or key cannot be used.
    #[error("invalid tls material: {0}")]
    Tls(String),
    /// Binding or accepting failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// What the issuer serves: prebuilt documents, so a request is a clone of a string.
#[derive(Debug, Clone)]
pub struct IssuerState {
    discovery_json: Arc<str>,
    jwks_json: Arc<str>,
    cache_control: HeaderValue,
    path_prefix: String,
}

impl IssuerState {
    /// The documents kube-apiserver would serve for `issuer` and the public keys in `jwks`:
    /// `jwks_uri` is `<issuer>/openid/v1/jwks`; both answers carry
    /// `Cache-Control: public, max-age=<max_age_secs>` (kube-apiserver uses 3600).
    pub fn new(issuer: &str, jwks: &Jwks, max_age_secs: u64) -> Result<IssuerState, ServeError> {
        let jwks_uri = DiscoveryDocument::default_jwks_uri(issuer);
        IssuerState::with_jwks_uri(issuer, &jwks_uri, jwks, max_age_secs)
    }

    /// Like [`IssuerState::new`] with another `jwks_uri` in the discovery document (as
    /// `--service-account-jwks-uri`); the JWKS is still served at `<issuer path>/openid/v1/jwks`.
    pub fn with_jwks_uri(
        issuer: &str,
        jwks_uri: &str,
        jwks: &Jwks,
        max_age_secs: u64,
    ) -> Result<IssuerState, ServeError> {
        let path_prefix = issuer_path(issuer)?;
        let doc = DiscoveryDocument::kube(issuer, jwks_uri, jwks);
        let cache_control = HeaderValue::from_str(&format!("public, max-age={max_age_secs}"))
            .map_err(|e| ServeError::InvalidIssuer {
                issuer: issuer.to_owned(),
                reason: e.to_string(),
            })?;
        Ok(IssuerState {
            discovery_json: doc.to_json().into(),
            jwks_json: jwks.to_json().into(),
            cache_control,
            path_prefix,
        })
    }

    /// The path the discovery document is served at (issuer path + [`DISCOVERY_PATH`]).
    pub fn discovery_path(&self) -> String {
        format!("{}{DISCOVERY_PATH}", self.path_prefix)
    }

    /// The path the JWKS is served at (issuer path + [`JWKS_PATH`]).
    pub fn jwks_path(&self) -> String {
        format!("{}{JWKS_PATH}", self.path_prefix)
    }
}

/// The issuer's path without a trailing slash ("" for `https://host` or `https://host/`).
fn issuer_path(issuer: &str) -> Result<String, ServeError> {
    let invalid = |reason: &str| ServeError::InvalidIssuer {
        issuer: issuer.to_owned(),
        reason: reason.to_owned(),
    };
    if issuer.contains('#') {
        return Err(invalid("has a fragment"));
    }
    let uri: http::Uri = issuer.parse().map_err(|_| invalid("not a url"))?;
    match uri.scheme_str() {
        Some("https" | "http") => {}
        _ => return Err(invalid("scheme must be https (or http for local use)")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(invalid("has no host"));
    }
    if uri.query().is_some() {
        return Err(invalid("has a query"));
    }
    Ok(uri.path().trim_end_matches('/').to_owned())
}

/// The issuer's routes: GET `<issuer path>/.well-known/openid-configuration` and
/// `<issuer path>/openid/v1/jwks`, plus `/healthz`.
pub fn router(state: IssuerState) -> Router {
    Router::new()
        .route(&state.discovery_path(), get(discovery))
        .route(&state.jwks_path(), get(jwks))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(state)
}

async fn discovery(State(s): State<IssuerState>) -> Response {
    json_response(
        s.discovery_json.clone(),
        "application/json",
        &s.cache_control,
    )
}

async fn jwks(State(s): State<IssuerState>) -> Response {
    json_response(
        s.jwks_json.clone(),
        "application/jwk-set+json",
        &s.cache_control,
    )
}

fn json_response(body: Arc<str>, content_type: &'static str, cc: &HeaderValue) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, cc.clone()),
        ],
        body.to_string(),
    )
        .into_response()
}

/// A rustls server configuration (aws-lc-rs, TLS 1.2/1.3, ALPN http/1.1) from a PEM
/// certificate chain and a PEM private key (PKCS#8, PKCS#1 or SEC1).
pub fn server_tls_config(
    cert_chain_pem: &[u8],
    key_pem: &[u8],
) -> Result<Arc<rustls::ServerConfig>, ServeError> {
    irsa_server::tls::single_cert_config(cert_chain_pem, key_pem)
        .map_err(|e| ServeError::Tls(e.to_string()))
}

/// Requests served at once; past it `429 Too Many Requests` at once (the documents are
/// static, so a client retrying later loses nothing).
const MAX_CONCURRENCY: usize = 1024;

/// Serves `router` on `listener` (plain HTTP, or TLS when `tls` is given) until `shutdown`
/// completes. TLS handshakes run per connection, bounded by 10 s; request headers must
/// arrive within 30 s; requests in flight get 5 s to finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let limits = irsa_server::Limits::new(
        MAX_CONCURRENCY,
        Duration::from_secs(30),
        || {
            (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, "1")],
                "too many requests\n",
            )
                .into_response()
        },
        || (StatusCode::SERVICE_UNAVAILABLE, "timed out\n").into_response(),
    );
    let options = irsa_server::ServeOptions {
        tls,
        http2: false,
        header_read_timeout: Duration::from_secs(30),
        handshake_timeout: Duration::from_secs(10),
        drain_timeout: Duration::from_secs(5),
    };
    irsa_server::serve(listener, limits.apply(router), options, shutdown).await?;
    Ok(())
}
