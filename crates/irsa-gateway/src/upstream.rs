//! An upstream endpoint (DynamoDB- or S3-compatible): requests re-signed with the
//! upstream's own credentials by the AWS SDK's signer (`aws-sigv4`), sent over a pooled
//! HTTP/1.1 (or TLS) client. Bodies stream: the client takes any [`UpstreamBody`].

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
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
    identity: Identity,
    client: Client<HttpsConnector<HttpConnector>, UpstreamBody>,
    base_path: String,
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

/// The query string without presigning parameters.
pub fn strip_presign_params(query: &str) -> String {
    irsa_s3::strip_presign_params(query)
}

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
        let c = &settings.credentials;
        let identity: Identity = Credentials::new(
            c.access_key_id.clone(),
            c.secret_access_key.clone(),
            c.session_token.clone(),
            None,
            "irsa-gateway-upstream",
        )
        .into();
        let base_path = settings.url.path().trim_end_matches('/').to_owned();
        Ok(Upstream {
            settings,
            service,
            identity,
            client,
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
        let authority = self
            .settings
            .url
            .authority()
            .map(|a| a.as_str())
            .unwrap_or_default();
        let scheme = self.settings.url.scheme_str().unwrap_or("http");
        let mut target = format!("{scheme}://{authority}{}{path}", self.base_path);
        if !query.is_empty() {
            target.push('?');
            target.push_str(query);
        }
        let uri: Uri = target
            .parse()
            .map_err(|e| UpstreamError::Unexpected(format!("request target: {e}")))?;
        let streaming = !matches!(payload, Payload::Bytes(_));
        let forwarded: Vec<(HeaderName, HeaderValue)> = headers
            .iter()
            .filter(|(n, _)| {
                !DROPPED.contains(&n.as_str()) || (streaming && n.as_str() == "content-length")
            })
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect();
        let mut request = Request::builder()
            .method(method.clone())
            .uri(uri.clone())
            .body(body)
            .map_err(|e| UpstreamError::Unexpected(e.to_string()))?;
        for (n, v) in &forwarded {
            request.headers_mut().append(n.clone(), v.clone());
        }
        let signable_headers: Vec<(&str, &str)> = forwarded
            .iter()
            .filter_map(|(n, v)| v.to_str().ok().map(|v| (n.as_str(), v)))
            .collect();
        let mut signing = SigningSettings::default();
        let name = match self.service {
            Service::DynamoDb => "dynamodb",
            Service::S3 => {
                signing.percent_encoding_mode = PercentEncodingMode::Single;
                signing.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
                signing.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
                "s3"
            }
        };
        let params = v4::SigningParams::builder()
            .identity(&self.identity)
            .region(&self.settings.region)
            .name(name)
            .time(SystemTime::now())
            .settings(signing)
            .build()
            .map_err(|e| UpstreamError::Sign(e.to_string()))?
            .into();
        let signable = SignableRequest::new(
            method.as_str(),
            target.as_str(),
            signable_headers.into_iter(),
            match payload {
                Payload::Bytes(b) => SignableBody::Bytes(b),
                Payload::Unsigned => SignableBody::UnsignedPayload,
                Payload::Sha256Hex(h) => SignableBody::Precomputed(h.to_owned()),
            },
        )
        .map_err(|e| UpstreamError::Sign(e.to_string()))?;
        let (instructions, _signature) = sign(signable, &params)
            .map_err(|e| UpstreamError::Sign(e.to_string()))?
            .into_parts();
        instructions.apply_to_request_http1x(&mut request);
        match tokio::time::timeout(self.settings.timeout, self.client.request(request)).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(e)) => Err(UpstreamError::Unreachable(error_chain(&e))),
            Err(_) => Err(UpstreamError::Unreachable(format!(
                "no answer within {:?}",
                self.settings.timeout
            ))),
        }
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
    fn presign_params_are_stripped() {
        assert_eq!(
            strip_presign_params(
                "a=1&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=x&b=2&X-Amz-Signature=s&X-Amz-Security-Token=t"
            ),
            "a=1&b=2"
        );
        assert_eq!(strip_presign_params(""), "");
    }

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
