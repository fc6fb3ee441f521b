//! The HTTP(S) GET underneath the JWKS client: rustls with explicit roots, a connect timeout,
//! a total timeout and a response size limit enforced while reading.

use crate::error::FetchError;
use bytes::Bytes;
use http::header::{ACCEPT, CACHE_CONTROL, CONTENT_LENGTH, USER_AGENT};
use http::{HeaderMap, Request, Uri};
use http_body_util::{BodyExt, Empty};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use std::sync::Arc;
use std::time::Duration;

/// A fetched body and the `max-age` its `Cache-Control` allowed (`Some(0)` for `no-store` /
/// `no-cache`, `None` when absent).
pub(crate) struct Fetched {
    pub body: Vec<u8>,
    pub max_age: Option<Duration>,
}

pub(crate) struct HttpGetter {
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
    request_timeout: Duration,
    max_bytes: usize,
}

impl HttpGetter {
    pub fn new(
        ca_bundle_pem: Option<&[u8]>,
        allow_http: bool,
        connect_timeout: Duration,
        request_timeout: Duration,
        max_bytes: usize,
    ) -> Result<HttpGetter, FetchError> {
        let tls = client_tls_config(ca_bundle_pem)?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(connect_timeout));
        http.set_nodelay(true);
        let builder = hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls);
        let connector = if allow_http {
            builder.https_or_http().enable_http1().wrap_connector(http)
        } else {
            builder.https_only().enable_http1().wrap_connector(http)
        };
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Ok(HttpGetter {
            client,
            request_timeout,
            max_bytes,
        })
    }

    /// GETs `url`; the whole exchange (connect, headers, body) is bounded by the request
    /// timeout (or `budget` when that is shorter) and the body by the size limit.
    pub async fn get(&self, url: &str, budget: Duration) -> Result<Fetched, FetchError> {
        let uri: Uri = url.parse().map_err(|e| FetchError::Unreachable {
            url: url.to_owned(),
            reason: format!("invalid url: {e}"),
        })?;
        let req = Request::get(uri)
            // kube-apiserver answers 406 to a JWKS request that does not accept its
            // `application/jwk-set+json`.
            .header(ACCEPT, "application/json, application/jwk-set+json")
            .header(USER_AGENT, concat!("irsa-oidc/", env!("CARGO_PKG_VERSION")))
            .body(Empty::<Bytes>::new())
            .map_err(|e| FetchError::Unreachable {
                url: url.to_owned(),
                reason: e.to_string(),
            })?;
        let timeout = self.request_timeout.min(budget);
        match tokio::time::timeout(timeout, self.exchange(url, req)).await {
            Ok(r) => r,
            Err(_) => Err(FetchError::Timeout {
                url: url.to_owned(),
                timeout,
            }),
        }
    }

    async fn exchange(&self, url: &str, req: Request<Empty<Bytes>>) -> Result<Fetched, FetchError> {
        let unreachable = |e: &(dyn std::error::Error + 'static)| {
            if is_certificate_error(e) {
                FetchError::Certificate {
                    url: url.to_owned(),
                    reason: error_chain(e),
                }
            } else {
                FetchError::Unreachable {
                    url: url.to_owned(),
                    reason: error_chain(e),
                }
            }
        };
        let resp = self
            .client
            .request(req)
            .await
            .map_err(|e| unreachable(&e))?;
        let status = resp.status();
        if status != http::StatusCode::OK {
            return Err(FetchError::Status {
                url: url.to_owned(),
                status: status.as_u16(),
            });
        }
        let too_large = || FetchError::TooLarge {
            url: url.to_owned(),
            limit: self.max_bytes,
        };
        if content_length(resp.headers()).is_some_and(|len| len > self.max_bytes as u64) {
            return Err(too_large());
        }
        let max_age = cache_max_age(resp.headers());
        let mut body = resp.into_body();
        let mut buf: Vec<u8> = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| unreachable(&e))?;
            if let Ok(data) = frame.into_data() {
                if buf.len().saturating_add(data.len()) > self.max_bytes {
                    return Err(too_large());
                }
                buf.extend_from_slice(&data);
            }
        }
        Ok(Fetched { body: buf, max_age })
    }
}

fn content_length(h: &HeaderMap) -> Option<u64> {
    h.get(CONTENT_LENGTH)?.to_str().ok()?.trim().parse().ok()
}

/// `max-age` from `Cache-Control`: `Some(0)` for `no-store`/`no-cache`, the smallest
/// `max-age` when several are given, `None` when there is none (or it is unreadable).
pub(crate) fn cache_max_age(h: &HeaderMap) -> Option<Duration> {
    let mut best: Option<u64> = None;
    for v in h.get_all(CACHE_CONTROL) {
        let Ok(v) = v.to_str() else { continue };
        for directive in v.split(',') {
            let d = directive.trim();
            let (name, value) = match d.split_once('=') {
                Some((n, v)) => (n.trim(), Some(v.trim().trim_matches('"'))),
                None => (d, None),
            };
            let secs =
                if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
                    Some(0)
                } else if name.eq_ignore_ascii_case("max-age") {
                    value.and_then(|v| v.parse::<u64>().ok())
                } else {
                    None
                };
            if let Some(s) = secs {
                best = Some(best.map_or(s, |b| b.min(s)));
            }
        }
    }
    best.map(Duration::from_secs)
}

/// Whether a rustls certificate verification failure is somewhere in the chain (io::Error
/// hides its inner error from `source()`, so look inside with `get_ref`).
fn is_certificate_error(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(r) = err.downcast_ref::<rustls::Error>() {
            return matches!(
                r,
                rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented
            );
        }
        let inner = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref());
        if inner.is_some_and(|i| is_certificate_error(i)) {
            return true;
        }
        cur = err.source();
    }
    false
}

/// The cause chain of an error, joined with `: `, without repeats.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = vec![e.to_string()];
    let mut src = e.source();
    while let Some(s) = src {
        let text = s.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        src = s.source();
    }
    parts.join(": ")
}

fn client_tls_config(ca_bundle_pem: Option<&[u8]>) -> Result<rustls::ClientConfig, FetchError> {
    let config_err = |reason: String| FetchError::Config { reason };
    let mut roots = RootCertStore::empty();
    match ca_bundle_pem {
        Some(pem) => {
            let mut n = 0usize;
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| config_err(format!("ca bundle: {e}")))?;
                roots
                    .add(cert)
                    .map_err(|e| config_err(format!("ca bundle: {e}")))?;
                n += 1;
            }
            if n == 0 {
                return Err(config_err("ca bundle has no CERTIFICATE block".into()));
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| config_err(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(cfg)
}

/// Checks that `url` may be fetched: absolute, `https` (or `http` when allowed), with a host,
/// without query or fragment. Returns the scheme (`true` for https).
pub(crate) fn check_url(url: &str, allow_http: bool) -> Result<bool, UrlProblem> {
    if url.contains('#') {
        return Err(UrlProblem::Invalid("has a fragment".into()));
    }
    let uri: Uri = url
        .parse()
        .map_err(|e: http::uri::InvalidUri| UrlProblem::Invalid(e.to_string()))?;
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") if allow_http => false,
        Some("http") => return Err(UrlProblem::Http),
        Some(other) => {
            return Err(UrlProblem::Invalid(format!(
                "scheme `{other}` is not https"
            )));
        }
        None => return Err(UrlProblem::Invalid("not an absolute url".into())),
    };
    match uri.authority() {
        Some(a) if !a.host().is_empty() => {
            if a.as_str().contains('@') {
                return Err(UrlProblem::Invalid("has user info".into()));
            }
        }
        _ => return Err(UrlProblem::Invalid("has no host".into())),
    }
    if uri.query().is_some() {
        return Err(UrlProblem::Invalid("has a query".into()));
    }
    Ok(https)
}

pub(crate) enum UrlProblem {
    Http,
    Invalid(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn cc(values: &[&str]) -> Option<Duration> {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(CACHE_CONTROL, HeaderValue::from_str(v).unwrap());
        }
        cache_max_age(&h)
    }

    #[test]
    fn cache_control_parsing() {
        assert_eq!(cc(&[]), None);
        assert_eq!(
            cc(&["public, max-age=3600"]),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(cc(&["Max-Age=\"120\""]), Some(Duration::from_secs(120)));
        assert_eq!(
            cc(&["max-age=600", "max-age=300"]),
            Some(Duration::from_secs(300))
        );
        assert_eq!(cc(&["public, no-cache"]), Some(Duration::ZERO));
        assert_eq!(cc(&["no-store, max-age=100"]), Some(Duration::ZERO));
        assert_eq!(cc(&["max-age=abc"]), None);
        assert_eq!(cc(&["public"]), None);
    }

    #[test]
    fn url_rules() {
        assert!(matches!(
            check_url("https://issuer.example", false),
            Ok(true)
        ));
        assert!(matches!(
            check_url("https://h:8443/id/ABC/", false),
            Ok(true)
        ));
        assert!(matches!(
            check_url("http://127.0.0.1:8080", false),
            Err(UrlProblem::Http)
        ));
        assert!(matches!(
            check_url("http://127.0.0.1:8080", true),
            Ok(false)
        ));
        for bad in [
            "issuer.example",
            "/path",
            "ftp://h/x",
            "https://h/x?q=1",
            "https://h/x#frag",
            "https://user@h/x",
            "",
        ] {
            assert!(
                matches!(check_url(bad, true), Err(UrlProblem::Invalid(_))),
                "{bad} should be invalid"
            );
        }
    }

    #[test]
    fn ca_bundle_must_hold_a_certificate() {
        assert!(matches!(
            client_tls_config(Some(b"not pem")),
            Err(FetchError::Config { .. })
        ));
        assert!(client_tls_config(None).is_ok());
    }
}
