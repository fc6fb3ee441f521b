//! The local issuer: serves an OIDC discovery document and a JWKS the way kube-apiserver
//! does, so STS (ours or anything that speaks OIDC discovery) can fetch the keys.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use irsa_jose::{DiscoveryDocument, Jwks};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::future::Future;
use std::net::SocketAddr;
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
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_chain_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| ServeError::Tls(format!("certificate: {e}")))?;
    if certs.is_empty() {
        return Err(ServeError::Tls(
            "certificate file has no CERTIFICATE block".into(),
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| ServeError::Tls(format!("private key: {e}")))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServeError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| ServeError::Tls(e.to_string()))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// Serves `router` on `listener` (plain HTTP, or TLS when `tls` is given) until `shutdown`
/// completes. TLS handshakes run per connection, bounded by 10 s.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let Some(tls) = tls else {
        axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await?;
        return Ok(());
    };
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer): (tokio::net::TcpStream, SocketAddr) = tokio::select! {
            () = &mut shutdown => return Ok(()),
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let acceptor = acceptor.clone();
        let svc = TowerToHyperService::new(router.clone());
        tokio::spawn(async move {
            let stream =
                match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "tls handshake failed");
                        return;
                    }
                    Err(_) => return,
                };
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(30));
            if let Err(e) = http.serve_connection(TokioIo::new(stream), svc).await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
}
