//! An upstream endpoint (DynamoDB- or S3-compatible): requests re-signed with the
//! upstream's own credentials (`irsa-sigv4`'s signer, which signs as the AWS SDK's
//! `aws-sigv4` does, with the signing key derived once a day), sent over a pooled
//! HTTP/1.1 (or TLS) client. Bodies stream: the client takes any [`UpstreamBody`].

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, Uri};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use irsa_dynamodb::{TARGET_PREFIX, TableSchema};

/// Why the upstream could not be set up or reached.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// Bad settings (URL, CA bundle, credentials).
    #[error("{0}")]
    Config(String),
    /// Signing failed.
    #[error("cannot sign the upstream request: {0}")]
    Sign(String),
    /// The upstream did not answer in time or the connection failed.
    #[error("upstream request failed: {0}")]
    Unreachable(String),
    /// The upstream answered something unexpected.
    #[error("unexpected upstream answer: {0}")]
    Unexpected(String),
}

/// The upstream's credentials. `Debug` hides the secret and the token.
#[derive(Clone)]
pub struct UpstreamCredentials {
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
    /// Session token, for temporary credentials.
    pub session_token: Option<String>,
}

impl std::fmt::Debug for UpstreamCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamCredentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// Everything needed to reach the upstream.
#[derive(Debug, Clone)]
pub struct UpstreamSettings {
    /// Base URL: scheme, authority and an optional path prefix.
    pub url: Uri,
    /// Region to sign for.
    pub region: String,
    /// Credentials to sign with.
    pub credentials: UpstreamCredentials,
    /// PEM CA bundle for https (default: Web PKI roots).
    pub ca_bundle_pem: Option<Vec<u8>>,
    /// Bound on one upstream exchange, up to the response headers.
    pub timeout: Duration,
}

/// A request body sent upstream: any stream of bytes; an error aborts the request (the
/// upstream then sees an incomplete body and stores nothing).
pub type UpstreamBody = UnsyncBoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

/// A whole body, as an [`UpstreamBody`].
pub fn full_body(bytes: Bytes) -> UpstreamBody {
    Full::new(bytes)
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// Which service the upstream speaks, and so how requests to it are signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// DynamoDB: the body is hashed into the signature.
    DynamoDb,
    /// S3: the path is encoded once and not normalised, `x-amz-content-sha256` is sent.
    S3,
}

impl Service {
    /// The service name of the credential scope.
    fn name(self) -> &'static str {
        match self {
            Service::DynamoDb => "dynamodb",
            Service::S3 => "s3",
        }
    }
}

/// What the upstream request's signature says about its body.
#[derive(Debug, Clone, Copy)]
pub enum Payload<'a> {
    /// The whole body, hashed.
    Bytes(&'a Bytes),
    /// `UNSIGNED-PAYLOAD` (S3 only).
    Unsigned,
    /// The SHA-256 the client declared, lower-case hex (S3 only): the upstream checks it.
    Sha256Hex(&'a str),
}

/// A client for the upstream.
pub struct Upstream {
    settings: UpstreamSettings,
    service: Service,
    client: Client<HttpsConnector<HttpConnector>, UpstreamBody>,
    scheme: http::uri::Scheme,
    authority: http::uri::Authority,
    host: HeaderValue,
    token: Option<HeaderValue>,
    keys: irsa_sigv4::SigningKeyCache,
    base_path: String,
}

const X_AMZ_DATE: HeaderName = HeaderName::from_static("x-amz-date");
const X_AMZ_SECURITY_TOKEN: HeaderName = HeaderName::from_static("x-amz-security-token");
const X_AMZ_CONTENT_SHA256: HeaderName = HeaderName::from_static("x-amz-content-sha256");

fn header_value(v: &str) -> Result<HeaderValue, UpstreamError> {
    HeaderValue::from_str(v).map_err(|e| UpstreamError::Sign(e.to_string()))
}

fn hex_sha256(data: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data);
    let mut out = [0u8; 64];
    match hex::encode_to_slice(digest.as_ref(), &mut out) {
        Ok(()) => String::from_utf8_lossy(&out).into_owned(),
        Err(_) => hex::encode(digest),
    }
}

/// Request headers that are not forwarded: the client's authentication (replaced by ours),
/// hop-by-hop headers and those the client library sets itself.
const DROPPED: &[&str] = &[
    "authorization",
    "x-amz-date",
    "x-amz-security-token",
    "x-amz-content-sha256",
    "host",
    "content-length",
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "expect",
];

fn tls_config(ca_bundle_pem: Option<&[u8]>) -> Result<rustls::ClientConfig, UpstreamError> {
    let mut roots = RootCertStore::empty();
    match ca_bundle_pem {
        Some(pem) => {
            let mut n = 0usize;
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| UpstreamError::Config(format!("ca bundle: {e}")))?;
                roots
                    .add(cert)
                    .map_err(|e| UpstreamError::Config(format!("ca bundle: {e}")))?;
                n += 1;
            }
            if n == 0 {
                return Err(UpstreamError::Config(
                    "ca bundle has no CERTIFICATE block".into(),
                ));
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| UpstreamError::Config(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

impl Upstream {
    /// A DynamoDB client for `settings`.
    pub fn new(settings: UpstreamSettings) -> Result<Upstream, UpstreamError> {
        Upstream::for_service(settings, Service::DynamoDb)
    }

    /// A client for `settings` speaking `service`.
    pub fn for_service(
        settings: UpstreamSettings,
        service: Service,
    ) -> Result<Upstream, UpstreamError> {
        match settings.url.scheme_str() {
            Some("http" | "https") => {}
            _ => {
                return Err(UpstreamError::Config(format!(
                    "upstream url `{}` must be http:// or https://",
                    settings.url
                )));
            }
        }
        if settings.url.host().is_none() || settings.url.query().is_some() {
            return Err(UpstreamError::Config(format!(
                "upstream url `{}` must have a host and no query",
                settings.url
            )));
        }
        let tls = tls_config(settings.ca_bundle_pem.as_deref())?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(settings.timeout));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        let (Some(scheme), Some(authority)) = (
            settings.url.scheme().cloned(),
            settings.url.authority().cloned(),
        ) else {
            return Err(UpstreamError::Config(format!(
                "upstream url `{}` must have a scheme and a host",
                settings.url
            )));
        };
        let host = header_value(authority.as_str())
            .map_err(|_| UpstreamError::Config("upstream host is not a header value".into()))?;
        let token = match &settings.credentials.session_token {
            Some(t) => Some(HeaderValue::from_str(t).map_err(|_| {
                UpstreamError::Config("upstream session token is not a header value".into())
            })?),
            None => None,
        };
        let base_path = settings.url.path().trim_end_matches('/').to_owned();
        Ok(Upstream {
            settings,
            service,
            client,
            scheme,
            authority,
            host,
            token,
            keys: irsa_sigv4::SigningKeyCache::new(64),
            base_path,
        })
    }

    /// The settings.
    pub fn settings(&self) -> &UpstreamSettings {
        &self.settings
    }

    /// Signs and sends a whole body: `path` and `query` as received (the query without
    /// presigning parameters), the client's headers minus [`DROPPED`], the body unchanged.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        query: &str,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Result<Response<Incoming>, UpstreamError> {
        let payload = Payload::Bytes(&body);
        self.send_stream(
            method,
            path,
            query,
            headers,
            payload,
            full_body(body.clone()),
        )
        .await
    }

    /// Signs and sends a request whose body streams. `headers` must carry the body's
    /// `content-length` when it has one (it is forwarded, not dropped, here); the bound
    /// covers the exchange up to the response headers.
    pub async fn send_stream(
        &self,
        method: Method,
        path: &str,
        query: &str,
        headers: &HeaderMap,
        payload: Payload<'_>,
        body: UpstreamBody,
    ) -> Result<Response<Incoming>, UpstreamError> {
        let request = self.signed(method, path, query, headers, payload, body)?;
        match tokio::time::timeout(self.settings.timeout, self.client.request(request)).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(e)) => Err(UpstreamError::Unreachable(error_chain(&e))),
            Err(_) => Err(UpstreamError::Unreachable(format!(
                "no answer within {:?}",
                self.settings.timeout
            ))),
        }
    }

    /// The request to send: the client's headers minus [`DROPPED`] (`content-length` kept
    /// for a streamed body), `host`, `x-amz-date`, the upstream's session token and, for
    /// S3, `x-amz-content-sha256`; all of them signed with the upstream's credentials
    /// (`irsa-sigv4`'s signer, the signing key derived once a day).
    fn signed(
        &self,
        method: Method,
        path: &str,
        query: &str,
        headers: &HeaderMap,
        payload: Payload<'_>,
        body: UpstreamBody,
    ) -> Result<Request<UpstreamBody>, UpstreamError> {
        let (path, uri) = self.target(path, query)?;
        let streaming = !matches!(payload, Payload::Bytes(_));
        let hex;
        let payload_hash = match payload {
            Payload::Bytes(b) => {
                hex = hex_sha256(b);
                hex.as_str()
            }
            Payload::Unsigned => irsa_sigv4::UNSIGNED_PAYLOAD,
            Payload::Sha256Hex(h) => h,
        };
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .ok()
            .and_then(|d| i64::try_from(d.as_secs()).ok())
            .unwrap_or_default();
        let amz_date = irsa_sigv4::amz_date(now)
            .ok_or_else(|| UpstreamError::Sign("the clock is out of range".into()))?;
        let mut out = self.outgoing_headers(headers, streaming, &amz_date, payload_hash)?;
        let signable: Vec<(&str, &[u8])> = out
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_bytes()))
            .collect();
        let c = &self.settings.credentials;
        let signer = irsa_sigv4::Signer {
            access_key_id: &c.access_key_id,
            secret_access_key: &c.secret_access_key,
            region: &self.settings.region,
            service: self.service.name(),
            uri_encoding: match self.service {
                Service::DynamoDb => irsa_sigv4::UriEncoding::Double,
                Service::S3 => irsa_sigv4::UriEncoding::S3,
            },
        };
        let authorization = irsa_sigv4::authorization(
            &signer,
            method.as_str(),
            &path,
            query,
            &signable,
            payload_hash,
            &amz_date,
            Some(&self.keys),
        )
        .ok_or_else(|| UpstreamError::Sign("cannot sign the request".into()))?;
        out.insert(http::header::AUTHORIZATION, header_value(&authorization)?);
        let mut request = Request::new(body);
        *request.method_mut() = method;
        *request.uri_mut() = uri;
        *request.headers_mut() = out;
        Ok(request)
    }

    /// The path as sent (under the URL's path prefix) and the request's URI.
    fn target<'p>(&self, path: &'p str, query: &str) -> Result<(Cow<'p, str>, Uri), UpstreamError> {
        let path = if self.base_path.is_empty() {
            Cow::Borrowed(path)
        } else {
            Cow::Owned(format!("{}{path}", self.base_path))
        };
        let uri = Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(if query.is_empty() {
                path.clone().into_owned()
            } else {
                format!("{path}?{query}")
            })
            .build()
            .map_err(|e| UpstreamError::Unexpected(format!("request target: {e}")))?;
        Ok((path, uri))
    }

    /// The client's headers minus [`DROPPED`] (`content-length` kept for a `streaming`
    /// body), with `host`, `x-amz-date`, the upstream's session token and, for S3,
    /// `x-amz-content-sha256`: the headers to sign and send.
    fn outgoing_headers(
        &self,
        headers: &HeaderMap,
        streaming: bool,
        amz_date: &str,
        payload_hash: &str,
    ) -> Result<HeaderMap, UpstreamError> {
        let mut out = HeaderMap::with_capacity(headers.len() + 5);
        for (n, v) in headers {
            if !DROPPED.contains(&n.as_str()) || (streaming && n == http::header::CONTENT_LENGTH) {
                out.append(n.clone(), v.clone());
            }
        }
        out.insert(http::header::HOST, self.host.clone());
        out.insert(X_AMZ_DATE, header_value(amz_date)?);
        if let Some(token) = &self.token {
            out.insert(X_AMZ_SECURITY_TOKEN, token.clone());
        }
        if self.service == Service::S3 {
            out.insert(X_AMZ_CONTENT_SHA256, header_value(payload_hash)?);
        }
        Ok(out)
    }

    /// `DescribeTable` for `table`'s key schema: `Ok(None)` when the upstream does not know
    /// the table.
    pub async fn describe_table(&self, table: &str) -> Result<Option<TableSchema>, UpstreamError> {
        let mut headers = HeaderMap::new();
        headers.insert(
            "content-type",
            HeaderValue::from_static("application/x-amz-json-1.0"),
        );
        let target = HeaderValue::from_str(&format!("{TARGET_PREFIX}DescribeTable"))
            .map_err(|e| UpstreamError::Unexpected(e.to_string()))?;
        headers.insert("x-amz-target", target);
        let body = serde_json::json!({ "TableName": table }).to_string();
        let response = self
            .send(Method::POST, "/", "", &headers, Bytes::from(body))
            .await?;
        let status = response.status();
        let bytes = tokio::time::timeout(self.settings.timeout, response.into_body().collect())
            .await
            .map_err(|_| UpstreamError::Unreachable("DescribeTable body timed out".into()))?
            .map_err(|e| UpstreamError::Unreachable(e.to_string()))?
            .to_bytes();
        let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| {
            UpstreamError::Unexpected(format!("DescribeTable answered {status} with non-JSON"))
        })?;
        if status.is_success() {
            return TableSchema::from_describe_table(&bytes)
                .map(Some)
                .ok_or_else(|| {
                    UpstreamError::Unexpected("DescribeTable answer without a key schema".into())
                });
        }
        let code = value.get("__type").and_then(|t| t.as_str()).unwrap_or("");
        if code.ends_with("#ResourceNotFoundException") {
            return Ok(None);
        }
        Err(UpstreamError::Unexpected(format!(
            "DescribeTable answered {status} `{code}`"
        )))
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_urls() {
        let settings = |url: &str| UpstreamSettings {
            url: url.parse().unwrap(),
            region: "us-east-1".into(),
            credentials: UpstreamCredentials {
                access_key_id: "AKID".into(),
                secret_access_key: "secret".into(),
                session_token: None,
            },
            ca_bundle_pem: None,
            timeout: Duration::from_secs(1),
        };
        assert!(Upstream::new(settings("ftp://x")).is_err());
        assert!(Upstream::new(settings("http://x/?a=1")).is_err());
        assert!(Upstream::new(settings("http://127.0.0.1:1")).is_ok());
        let dbg = format!("{:?}", settings("http://x").credentials);
        assert!(!dbg.contains("secret"));
    }
}
