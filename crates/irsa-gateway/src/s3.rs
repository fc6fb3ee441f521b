//! S3 through the gateway: verify (S3's SigV4 rules, the body through `irsa-sigv4`'s
//! decoder), read the request as S3 does and map it to IAM (`irsa-s3`), authorize
//! (`irsa-authz`, with the bucket's policy), forward re-signed, stream both ways. Errors in
//! S3's XML form ([`irsa_s3::S3Error`]).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::response::Response;
use bytes::Bytes;
use futures_util::StreamExt as _;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use http_body_util::BodyExt;
use irsa_authz::{Caller, RequestFacts, ResourcePolicies, SessionPolicies, Uses};
use irsa_s3::{AuthType, HttpRequest, RequestAuth, S3Error, S3Request};
use irsa_sigv4::{
    BodyDecoder, ContentSha256, DecoderLimits, PayloadError, S3Payload, SignatureLocation,
    VerifyError, VerifyOptions,
};
use irsa_sts_core::credentials::{self, CredError};

use crate::server::{Gateway, HOP_BY_HOP, Snapshot};
use crate::upstream::{Payload, UpstreamBody, strip_presign_params};

/// An S3 error with the path it concerns.
pub(crate) struct Refused(pub(crate) S3Error);

impl From<S3Error> for Refused {
    fn from(e: S3Error) -> Refused {
        Refused(e)
    }
}

fn from_verify(e: &VerifyError) -> S3Error {
    let code = e.s3_code();
    S3Error::new(code.as_str(), e.to_string(), code.http_status())
}

fn from_payload(e: &PayloadError) -> S3Error {
    let code = e.s3_code();
    S3Error::new(code.as_str(), e.to_string(), code.http_status())
}

fn from_cred(e: &CredError) -> S3Error {
    match e {
        CredError::Expired { .. } => {
            S3Error::new("ExpiredToken", "The provided token has expired.", 400)
        }
        _ => S3Error::new(
            "InvalidToken",
            "The provided token is malformed or otherwise invalid.",
            400,
        ),
    }
}

fn invalid_access_key() -> S3Error {
    S3Error::new(
        "InvalidAccessKeyId",
        "The AWS Access Key Id you provided does not exist in our records.",
        403,
    )
}

/// S3's XML error response, with S3's request id headers.
pub(crate) fn error_response(e: &S3Error, path: &str, head: bool, request_id: &str) -> Response {
    let body = if head {
        Body::empty()
    } else {
        Body::from(e.to_xml(path, request_id))
    };
    let mut r = Response::new(body);
    *r.status_mut() = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    let h = r.headers_mut();
    h.insert("content-type", HeaderValue::from_static("application/xml"));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amz-request-id", v.clone());
        h.insert("x-amz-id-2", v);
    }
    r
}

/// Headers the client signed (plus `host`), as `(name, value)` pairs: only these are read
/// for authorization and forwarded, so what is authorized is what the upstream executes.
fn signed_pairs<'h>(headers: &'h HeaderMap, signed: &[String]) -> Vec<(&'h str, &'h [u8])> {
    headers
        .iter()
        .filter(|(n, _)| {
            n.as_str() == "host" || signed.iter().any(|s| s.eq_ignore_ascii_case(n.as_str()))
        })
        .map(|(n, v)| (n.as_str(), v.as_bytes()))
        .collect()
}

/// Request headers never sent upstream: the client's authentication and body framing
/// (the gateway sends the decoded body under its own signature and length).
const NOT_FORWARDED: &[&str] = &[
    "authorization",
    "x-amz-date",
    "x-amz-security-token",
    "x-amz-content-sha256",
    "x-amz-decoded-content-length",
    "x-amz-trailer",
    "x-amz-sdk-checksum-algorithm",
    "content-length",
    "content-encoding",
    "host",
    "expect",
];

/// The forwarded headers: the signed ones minus [`NOT_FORWARDED`], `content-encoding`
/// without `aws-chunked`, and the decoded length.
fn forward_headers(
    headers: &HeaderMap,
    signed: &[String],
    decoded_length: Option<u64>,
) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (name, value) in headers {
        let n = name.as_str();
        if !signed.iter().any(|s| s.eq_ignore_ascii_case(n)) || NOT_FORWARDED.contains(&n) {
            continue;
        }
        out.append(name.clone(), value.clone());
    }
    if let Some(enc) = headers
        .get("content-encoding")
        .and_then(|v| v.to_str().ok())
    {
        let rest: Vec<&str> = enc
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty() && !e.eq_ignore_ascii_case("aws-chunked"))
            .collect();
        if let Ok(v) = HeaderValue::from_str(&rest.join(", "))
            && !rest.is_empty()
        {
            out.insert("content-encoding", v);
        }
    }
    if let Some(n) = decoded_length {
        out.insert("content-length", HeaderValue::from(n));
    }
    out
}

/// Handles one S3 request: the response, and the operation's name for the log.
pub(crate) async fn process(
    gw: &Gateway,
    req: axum::extract::Request,
    now: i64,
) -> Result<(Response, &'static str), Refused> {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string());
    let (parts, body) = req.into_parts();
    let snap = gw.snapshot();

    // 1. SigV4 by S3's rules, without the body (the decoder checks it as it streams).
    let all: Vec<(&str, &[u8])> = parts
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_bytes()))
        .collect();
    let sig_request = irsa_sigv4::Request {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers: &all,
        body: b"",
    };
    let options = VerifyOptions {
        max_clock_skew_secs: gw.options().max_clock_skew_secs,
        ..VerifyOptions::s3_streaming()
    };
    let parsed = irsa_sigv4::parse(&sig_request, &options).map_err(|e| from_verify(&e))?;
    parsed.check_time(now).map_err(|e| from_verify(&e))?;
    if parsed.region() != snap.config.region {
        return Err(S3Error::new(
            "AuthorizationHeaderMalformed",
            format!(
                "The authorization header is malformed; the region '{}' is wrong; expecting '{}'",
                parsed.region(),
                snap.config.region
            ),
            400,
        )
        .into());
    }
    let akid = parsed.access_key_id();
    if !credentials::is_access_key_id(akid) {
        return Err(invalid_access_key().into());
    }
    let Some(token) = parsed.security_token() else {
        return Err(invalid_access_key().into());
    };
    let session = credentials::open(snap.ring(), token, akid, now).map_err(|e| from_cred(&e))?;
    let secret = credentials::secret_for(snap.ring(), akid, &session).map_err(|e| from_cred(&e))?;
    let (verified, seed) = parsed
        .verify_s3(&secret, now)
        .map_err(|e| from_verify(&e))?;
    let presigned = !matches!(verified.location, SignatureLocation::Header);
    let payload = S3Payload::from_headers(&all, presigned).map_err(|e| from_payload(&e))?;
    let caller = Caller::of(&session.claims, &snap.config).ok_or_else(invalid_access_key)?;

    // 2. The request as S3 reads it, from the signed headers only.
    let signed = signed_pairs(&parts.headers, &verified.signed_headers);
    let s3req = S3Request::parse(
        &HttpRequest {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query().unwrap_or(""),
            headers: &signed,
        },
        &snap.s3.endpoints,
    )?;
    let op = s3req.operation().name();

    // 3. The body: read first (bounded) when the mapping needs it, else streamed later.
    let mut decoder = BodyDecoder::new(&payload, Some(seed), DecoderLimits::default())
        .map_err(|e| from_payload(&e))?;
    let mut body = body.into_data_stream();
    let whole = match s3req.body_limit() {
        Some(limit) => {
            if payload.decoded_length.is_some_and(|n| n > limit as u64) {
                return Err(S3Error::too_big().into());
            }
            Some(read_decoded(&mut body, &mut decoder, limit).await?)
        }
        None => None,
    };

    // 4. Authorize: identity ∩ session policies, and the bucket's policy.
    let content_sha256 = parts
        .headers
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok());
    let auth = RequestAuth {
        auth_type: if presigned {
            AuthType::QueryString
        } else {
            AuthType::Header
        },
        content_sha256,
        resource_account: Some(&snap.config.account),
        signature_age_ms: u64::try_from(now.saturating_sub(verified.request_time))
            .ok()
            .map(|s| s.saturating_mul(1000)),
    };
    let authorizations = s3req.authorizations(
        &snap.config.partition,
        &auth,
        whole.as_deref().unwrap_or(b""),
    )?;
    authorize(
        &snap,
        &session.claims,
        &caller,
        peer.as_deref(),
        now,
        &authorizations,
    )?;

    // 5. Forward.
    let Some(upstream) = gw.s3_upstream() else {
        let mut message = "irsa: no S3 upstream is configured: the request was allowed by policy but there is no bucket to send it to".to_owned();
        if let Some(hint) = &gw.options().no_s3_upstream_hint {
            message.push_str(&format!(" ({hint})"));
        }
        return Err(S3Error::new("UpstreamNotConfigured", message, 400).into());
    };
    let (path, query) = upstream_target(&s3req, parts.uri.path(), parts.uri.query());
    let has_body = whole.is_some() || payload.decoded_length.is_some_and(|n| n > 0);
    let decoded_length = if has_body {
        payload
            .decoded_length
            .or(whole.as_ref().map(|w| w.len() as u64))
    } else {
        None
    };
    let headers = forward_headers(&parts.headers, &verified.signed_headers, decoded_length);
    let failure: Arc<Mutex<Option<PayloadError>>> = Arc::new(Mutex::new(None));
    let hex = match payload.content_sha256 {
        ContentSha256::Sha256(h) if whole.is_none() => hex_lower(&h),
        _ => String::new(),
    };
    let (up_payload, up_body);
    match whole {
        Some(bytes) => {
            up_payload = Payload::Unsigned;
            up_body = crate::upstream::full_body(bytes);
        }
        None => {
            // Hold the request until the first verified bytes (or the end): a body
            // whose first chunk is refused never reaches the upstream at all.
            let first = first_decoded(&mut body, &mut decoder).await?;
            up_payload = if hex.is_empty() {
                Payload::Unsigned
            } else {
                Payload::Sha256Hex(&hex)
            };
            up_body = streamed(body, decoder, first, failure.clone());
        }
    }
    let sent = upstream
        .send_stream(
            parts.method.clone(),
            &path,
            &query,
            &headers,
            up_payload,
            up_body,
        )
        .await;
    let response = match sent {
        Ok(r) => r,
        Err(e) => {
            if let Some(p) = failure.lock().unwrap_or_else(|p| p.into_inner()).take() {
                return Err(from_payload(&p).into());
            }
            tracing::error!(error = %e, "S3 upstream request failed");
            return Err(S3Error::new(
                "InternalError",
                "We encountered an internal error. Please try again.",
                500,
            )
            .into());
        }
    };
    if let Some(p) = failure.lock().unwrap_or_else(|p| p.into_inner()).take() {
        // The upstream answered although the body was refused part-way: report the refusal.
        return Err(from_payload(&p).into());
    }
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

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Authorizes every authorization with the session's policies and the bucket policies.
fn authorize(
    snap: &Snapshot,
    claims: &credentials::SessionClaims,
    caller: &Caller,
    peer: Option<&str>,
    now: i64,
    authorizations: &[irsa_authz::Authorization],
) -> Result<(), S3Error> {
    let identity = snap.identity_policies(&claims.role_arn);
    let session_policies = snap.session_policies(claims);
    let session_prepared = session_policies.as_ref().as_ref();
    let facts = RequestFacts {
        now,
        source_ip: peer,
        secure_transport: false,
        region: &snap.config.region,
    };
    let global = irsa_authz::global_context(claims, caller, &facts);
    let buckets = |resource: &str| {
        let rest = resource
            .strip_prefix("arn:")?
            .split_once(":s3:::")
            .map(|(_, r)| r)?;
        let bucket = rest.split('/').next()?;
        snap.s3.bucket_policies.get(bucket)
    };
    let policies = SessionPolicies {
        identity: &identity.policies,
        session: session_prepared.map(|p| p.policies.as_slice()),
        resource: Some(&buckets as &ResourcePolicies<'_>),
        uses: Uses::new(&identity, session_prepared),
    };
    irsa_authz::authorize(&policies, caller, &global, authorizations).map_err(|d| {
        tracing::info!(
            caller = %caller.arn,
            action = %d.action,
            resource = %d.resource,
            reason = ?d.reason,
            "access denied"
        );
        S3Error::new("AccessDenied", d.to_string(), 403)
    })
}

/// The upstream's path-style target: the bucket, then the key exactly as the client
/// encoded it (S3 decodes it once, as `irsa-s3` did); the query without presigning
/// parameters.
fn upstream_target(req: &S3Request, path: &str, query: Option<&str>) -> (String, String) {
    let query = strip_presign_params(query.unwrap_or(""));
    let path = match (req.addressing(), req.bucket()) {
        (irsa_s3::Addressing::VirtualHosted, Some(bucket)) => format!("/{bucket}{path}"),
        _ => path.to_owned(),
    };
    (path, query)
}

type DataStream = axum::body::BodyDataStream;

fn body_error(e: &axum::Error) -> S3Error {
    tracing::info!(error = %e, "request body failed");
    S3Error::new(
        "IncompleteBody",
        "You did not provide the number of bytes specified by the Content-Length HTTP header.",
        400,
    )
}

/// The whole decoded body, at most `limit` bytes (`MaxMessageLengthExceeded` beyond).
async fn read_decoded(
    body: &mut DataStream,
    decoder: &mut BodyDecoder,
    limit: usize,
) -> Result<Bytes, S3Error> {
    let mut out = Vec::new();
    while let Some(piece) = body.next().await {
        let piece = piece.map_err(|e| body_error(&e))?;
        decoder
            .feed(&piece, &mut out)
            .map_err(|e| from_payload(&e))?;
        if out.len() > limit || decoder.buffered_bytes() > limit {
            return Err(S3Error::too_big());
        }
    }
    decoder.finish().map_err(|e| from_payload(&e))?;
    Ok(Bytes::from(out))
}

/// Reads until the decoder releases its first bytes or the body ends (then the body is
/// complete and verified).
async fn first_decoded(body: &mut DataStream, decoder: &mut BodyDecoder) -> Result<Bytes, S3Error> {
    let mut out = Vec::new();
    while out.is_empty() {
        match body.next().await {
            Some(piece) => {
                let piece = piece.map_err(|e| body_error(&e))?;
                decoder
                    .feed(&piece, &mut out)
                    .map_err(|e| from_payload(&e))?;
            }
            None => {
                decoder.finish().map_err(|e| from_payload(&e))?;
                break;
            }
        }
    }
    Ok(Bytes::from(out))
}

/// The rest of the body, decoded as it arrives. A refusal (chunk signature, checksum,
/// length, hash) ends the stream with an error, which aborts the upstream request, and is
/// recorded in `failure` for the client's answer.
fn streamed(
    body: DataStream,
    decoder: BodyDecoder,
    first: Bytes,
    failure: Arc<Mutex<Option<PayloadError>>>,
) -> UpstreamBody {
    struct State {
        body: DataStream,
        decoder: BodyDecoder,
        first: Option<Bytes>,
        done: bool,
        failure: Arc<Mutex<Option<PayloadError>>>,
    }
    type BoxError = Box<dyn std::error::Error + Send + Sync>;
    let fail = |s: &State, e: PayloadError| -> BoxError {
        *s.failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.clone());
        Box::new(e)
    };
    let done_now = first.is_empty() && decoder.is_complete();
    let state = State {
        body,
        decoder,
        first: Some(first).filter(|f| !f.is_empty()),
        done: done_now,
        failure,
    };
    let stream = futures_util::stream::unfold(state, move |mut s| async move {
        if let Some(f) = s.first.take() {
            return Some((Ok(f), s));
        }
        loop {
            if s.done {
                return None;
            }
            match s.body.next().await {
                Some(Ok(piece)) => {
                    let mut out = Vec::new();
                    if let Err(e) = s.decoder.feed(&piece, &mut out) {
                        s.done = true;
                        let err = fail(&s, e);
                        return Some((Err(err), s));
                    }
                    if !out.is_empty() {
                        return Some((Ok(Bytes::from(out)), s));
                    }
                }
                Some(Err(e)) => {
                    s.done = true;
                    let err: BoxError = Box::new(e);
                    return Some((Err(err), s));
                }
                None => {
                    s.done = true;
                    if let Err(e) = s.decoder.finish() {
                        let err = fail(&s, e);
                        return Some((Err(err), s));
                    }
                    return None;
                }
            }
        }
    });
    BodyExt::boxed_unsync(http_body_util::StreamBody::new(
        stream.map(|r| r.map(http_body::Frame::data)),
    ))
}

/// Whether a request is for S3: its credential scope (header or presigned query) names
/// the `s3` service, or it is signed with S3's signature version 2 (refused as S3 refuses
/// an unsupported signature, in S3's form).
pub(crate) fn is_s3(headers: &HeaderMap, query: &str) -> bool {
    if let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok()) {
        if auth.starts_with("AWS ") {
            return true;
        }
        return auth
            .split_once("Credential=")
            .and_then(|(_, rest)| rest.split([',', ' ']).next())
            .is_some_and(|c| c.split('/').nth(3) == Some("s3"));
    }
    query.split('&').any(|p| {
        p.starts_with("AWSAccessKeyId=")
            || p.split_once('=').is_some_and(|(k, v)| {
                k.eq_ignore_ascii_case("X-Amz-Credential")
                    && (v.contains("%2Fs3%2Faws4_request") || v.contains("/s3/aws4_request"))
            })
    })
}

/// `HEAD` requests get error answers without a body.
pub(crate) fn is_head(method: &Method) -> bool {
    method == Method::HEAD
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_requests_are_told_by_their_credential_scope() {
        let mut h = HeaderMap::new();
        h.insert(
            "authorization",
            HeaderValue::from_static(
                "AWS4-HMAC-SHA256 Credential=ASIAX/20240101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00",
            ),
        );
        assert!(is_s3(&h, ""));
        h.insert(
            "authorization",
            HeaderValue::from_static(
                "AWS4-HMAC-SHA256 Credential=ASIAX/20240101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=00",
            ),
        );
        assert!(!is_s3(&h, ""));
        assert!(is_s3(
            &HeaderMap::new(),
            "X-Amz-Credential=ASIAX%2F20240101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=0"
        ));
        assert!(!is_s3(&HeaderMap::new(), "prefix=%2Fs3%2Faws4_request"));
    }

    #[test]
    fn forwarded_headers_drop_framing_and_keep_other_encodings() {
        let mut h = HeaderMap::new();
        h.insert(
            "content-encoding",
            HeaderValue::from_static("aws-chunked, gzip"),
        );
        h.insert(
            "x-amz-decoded-content-length",
            HeaderValue::from_static("5"),
        );
        h.insert("content-length", HeaderValue::from_static("99"));
        h.insert("x-amz-meta-a", HeaderValue::from_static("1"));
        h.insert("x-amz-meta-unsigned", HeaderValue::from_static("1"));
        let signed: Vec<String> = [
            "content-encoding",
            "x-amz-decoded-content-length",
            "content-length",
            "x-amz-meta-a",
            "host",
        ]
        .map(String::from)
        .to_vec();
        let f = forward_headers(&h, &signed, Some(5));
        assert_eq!(f["content-encoding"], "gzip");
        assert_eq!(f["content-length"], "5");
        assert_eq!(f["x-amz-meta-a"], "1");
        assert!(!f.contains_key("x-amz-meta-unsigned"));
        assert!(!f.contains_key("x-amz-decoded-content-length"));
    }
}
