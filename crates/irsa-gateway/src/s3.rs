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
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use http_body_util::BodyExt;
use irsa_authz::{Caller, RequestFacts, ResourcePolicies, SessionPolicies, Uses};
use irsa_s3::{AuthType, HttpRequest, RequestAuth, S3Error, S3Request};
use irsa_sigv4::{
    BodyDecoder, ContentSha256, DecoderLimits, PayloadError, S3Payload, SeedSignature,
    SignatureLocation, VerifiedRequest, VerifyError, VerifyOptions,
};
use irsa_sts_core::{
    CredError, OpenedSession, SessionClaims, is_access_key_id, open_session, secret_access_key,
};

use crate::server::{Gateway, Snapshot};
use crate::upstream::{Payload, UpstreamBody};

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

/// `SignatureDoesNotMatch` as S3 answers it: what the gateway computed (string to sign,
/// canonical request with the session token redacted, each also as bytes in hex) so the
/// client can see where its signing differs.
fn signature_mismatch(
    e: &VerifyError,
    m: &irsa_sigv4::SignatureMismatch,
    akid: &str,
    provided: &str,
) -> S3Error {
    fn hex_bytes(s: &str) -> String {
        let mut out = String::with_capacity(s.len() * 3);
        for (i, b) in s.bytes().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            out.push_str(&format!("{b:02x}"));
        }
        out
    }
    from_verify(e)
        .with_detail("AWSAccessKeyId", akid)
        .with_detail("StringToSign", m.string_to_sign.clone())
        .with_detail("SignatureProvided", provided)
        .with_detail("StringToSignBytes", hex_bytes(&m.string_to_sign))
        .with_detail("CanonicalRequest", m.canonical_request.clone())
        .with_detail("CanonicalRequestBytes", hex_bytes(&m.canonical_request))
}

/// The signature the client sent (`Signature=` of the header, or `X-Amz-Signature`).
fn provided_signature<'a>(headers: &'a HeaderMap, uri: &'a http::Uri) -> &'a str {
    if let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok()) {
        return auth
            .split_once("Signature=")
            .map_or("", |(_, rest)| rest.split([',', ' ']).next().unwrap_or(""));
    }
    uri.query()
        .unwrap_or("")
        .split('&')
        .find_map(|p| p.strip_prefix("X-Amz-Signature="))
        .unwrap_or("")
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

/// `SlowDown` (503): the gateway is over its concurrency limit (S3's throttling answer,
/// which SDKs retry with backoff).
pub(crate) fn slow_down() -> S3Error {
    S3Error::new("SlowDown", "Please reduce your request rate.", 503)
}

/// `RequestTimeout` (400): the request did not complete within the gateway's deadline.
pub(crate) fn request_timeout() -> S3Error {
    S3Error::new(
        "RequestTimeout",
        "Your socket connection to the server was not read from or written to within the timeout period. Idle connections will be closed.",
        400,
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

/// The forwarded headers: the signed ones but the client's authentication and framing
/// ([`irsa_s3::is_forwarded_header`]), `content-encoding` without `aws-chunked`, and the
/// decoded length.
fn forward_headers(
    headers: &HeaderMap,
    signed: &[String],
    decoded_length: Option<u64>,
) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (name, value) in headers {
        if irsa_s3::is_forwarded_header(name.as_str(), signed) {
            out.append(name.clone(), value.clone());
        }
    }
    if let Some(v) = headers
        .get("content-encoding")
        .and_then(|v| v.to_str().ok())
        .and_then(irsa_s3::forwarded_content_encoding)
        .and_then(|v| HeaderValue::from_str(&v).ok())
    {
        out.insert("content-encoding", v);
    }
    if let Some(n) = decoded_length {
        out.insert("content-length", HeaderValue::from(n));
    }
    out
}

/// A request whose signature checked out: who sent it and how its body is signed.
struct Authenticated {
    session: OpenedSession,
    verified: VerifiedRequest,
    seed: SeedSignature,
    payload: S3Payload,
    caller: Caller,
}

/// Handles one S3 request: the response, and the operation's name for the log. The body
/// stays in `body` until it is forwarded, so that after a refusal the caller can drain
/// what is left of it ([`drain`]).
pub(crate) async fn process(
    gw: &Gateway,
    parts: http::request::Parts,
    body: &mut Option<DataStream>,
    now: i64,
) -> Result<(Response, &'static str), Refused> {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string());
    let snap = gw.snapshot();
    let all: Vec<(&str, &[u8])> = parts
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_bytes()))
        .collect();

    // 1. SigV4 by S3's rules, without the body (the decoder checks it as it streams).
    let Authenticated {
        session,
        verified,
        seed,
        payload,
        caller,
    } = authenticate(gw, &snap, &parts, &all, now)?;

    // 2. The request as S3 reads it, from the signed headers only.
    let signed = irsa_s3::signed_headers(&all, &verified.signed_headers);
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
    let Some(stream) = body.as_mut() else {
        return Err(internal_error().into());
    };
    let whole = match s3req.body_limit() {
        Some(limit) => {
            if payload.decoded_length.is_some_and(|n| n > limit as u64) {
                return Err(S3Error::too_big().into());
            }
            Some(read_decoded(stream, &mut decoder, limit).await?)
        }
        None => None,
    };

    // 4. Authorize: identity ∩ session policies, and the bucket's policy.
    let signed_by = Signed {
        session: &session,
        verified: &verified,
        caller: &caller,
        peer: peer.as_deref(),
    };
    authorize_request(&snap, &s3req, &parts, &signed_by, whole.as_deref(), now)?;

    // 5. Forward.
    let (path, query) =
        irsa_s3::upstream_target(&s3req, parts.uri.path(), parts.uri.query().unwrap_or(""));
    let outgoing = Outgoing {
        method: parts.method.clone(),
        path: &path,
        query: &query,
        headers: &parts.headers,
        signed_headers: &verified.signed_headers,
    };
    let response = forward(gw, outgoing, &payload, whole, body, decoder).await?;
    Ok((response, op))
}

/// Who signed a request, and from where.
struct Signed<'a> {
    session: &'a OpenedSession,
    verified: &'a VerifiedRequest,
    caller: &'a Caller,
    peer: Option<&'a str>,
}

/// Step 4: the request's authorizations (what S3 would authorize, with the signature's
/// form and age and the body read for the mapping, if any) decided against the role's
/// and the session's policies and the bucket's policy.
fn authorize_request(
    snap: &Snapshot,
    s3req: &S3Request,
    parts: &http::request::Parts,
    signed: &Signed<'_>,
    whole: Option<&[u8]>,
    now: i64,
) -> Result<(), Refused> {
    let verified = signed.verified;
    let auth = RequestAuth {
        auth_type: if matches!(verified.location, SignatureLocation::Header) {
            AuthType::Header
        } else {
            AuthType::QueryString
        },
        content_sha256: parts
            .headers
            .get("x-amz-content-sha256")
            .and_then(|v| v.to_str().ok()),
        resource_account: Some(&snap.config.account),
        signature_age_ms: u64::try_from(now.saturating_sub(verified.request_time))
            .ok()
            .map(|s| s.saturating_mul(1000)),
    };
    let authorizations =
        s3req.authorizations(&snap.config.partition, &auth, whole.unwrap_or(b""))?;
    authorize(
        snap,
        &signed.session.claims,
        signed.caller,
        signed.peer,
        now,
        &authorizations,
    )?;
    Ok(())
}

/// Step 1: the signature by S3's rules (region, a session of this deployment, the
/// signature itself) and how the body is signed.
fn authenticate(
    gw: &Gateway,
    snap: &Snapshot,
    parts: &http::request::Parts,
    all: &[(&str, &[u8])],
    now: i64,
) -> Result<Authenticated, Refused> {
    let sig_request = irsa_sigv4::Request {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers: all,
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
    if !is_access_key_id(akid) {
        return Err(invalid_access_key().into());
    }
    let Some(token) = parsed.security_token() else {
        return Err(invalid_access_key().into());
    };
    let session = open_session(snap.ring(), token, akid, now).map_err(|e| from_cred(&e))?;
    let secret = secret_access_key(snap.ring(), akid, &session).map_err(|e| from_cred(&e))?;
    let (verified, seed) =
        parsed
            .verify_s3_cached(&secret, now, &gw.keys)
            .map_err(|e| match &e {
                VerifyError::SignatureDoesNotMatch(m) => {
                    signature_mismatch(&e, m, akid, provided_signature(&parts.headers, &parts.uri))
                }
                _ => from_verify(&e),
            })?;
    let presigned = !matches!(verified.location, SignatureLocation::Header);
    let payload = S3Payload::from_headers(all, presigned).map_err(|e| from_payload(&e))?;
    let caller = Caller::of(&session.claims, &snap.config).ok_or_else(invalid_access_key)?;
    Ok(Authenticated {
        session,
        verified,
        seed,
        payload,
        caller,
    })
}

/// Where an allowed request goes upstream.
struct Outgoing<'a> {
    method: Method,
    path: &'a str,
    query: &'a str,
    /// The client's headers.
    headers: &'a HeaderMap,
    /// The names the client signed: only these are forwarded.
    signed_headers: &'a [String],
}

/// Step 5: the request re-signed for the S3 upstream, its body either `whole` (read for
/// the mapping) or streamed from `body` through `decoder`, held until its first verified
/// bytes; the upstream's answer streamed back.
async fn forward(
    gw: &Gateway,
    to: Outgoing<'_>,
    payload: &S3Payload,
    whole: Option<Bytes>,
    body: &mut Option<DataStream>,
    mut decoder: BodyDecoder,
) -> Result<Response, Refused> {
    let Some(upstream) = gw.s3_upstream() else {
        let mut message = "irsa: no S3 upstream is configured: the request was allowed by policy but there is no bucket to send it to".to_owned();
        if let Some(hint) = &gw.options().no_s3_upstream_hint {
            message.push_str(&format!(" ({hint})"));
        }
        return Err(S3Error::new("UpstreamNotConfigured", message, 400).into());
    };
    let has_body = whole.is_some() || payload.decoded_length.is_some_and(|n| n > 0);
    let decoded_length = if has_body {
        payload
            .decoded_length
            .or(whole.as_ref().map(|w| w.len() as u64))
    } else {
        None
    };
    let headers = forward_headers(to.headers, to.signed_headers, decoded_length);
    let failure: Arc<Mutex<Option<PayloadError>>> = Arc::new(Mutex::new(None));
    let hex = match payload.content_sha256 {
        ContentSha256::Sha256(h) if whole.is_none() => hex_lower(&h),
        _ => String::new(),
    };
    let (up_payload, up_body) = match whole {
        Some(bytes) => (Payload::Unsigned, crate::upstream::full_body(bytes)),
        None => {
            // Hold the request until the first verified bytes (or the end): a body
            // whose first chunk is refused never reaches the upstream at all.
            let Some(stream) = body.as_mut() else {
                return Err(internal_error().into());
            };
            let first = first_decoded(stream, &mut decoder).await?;
            let Some(rest) = body.take() else {
                return Err(internal_error().into());
            };
            let up_payload = if hex.is_empty() {
                Payload::Unsigned
            } else {
                Payload::Sha256Hex(&hex)
            };
            (up_payload, streamed(rest, decoder, first, failure.clone()))
        }
    };
    let sent = upstream
        .send_stream(to.method, to.path, to.query, &headers, up_payload, up_body)
        .await;
    let refused = || failure.lock().unwrap_or_else(|p| p.into_inner()).take();
    let response = match sent {
        Ok(r) => r,
        Err(e) => {
            if let Some(p) = refused() {
                return Err(from_payload(&p).into());
            }
            tracing::error!(error = %e, "S3 upstream request failed");
            return Err(internal_error().into());
        }
    };
    if let Some(p) = refused() {
        // The upstream answered although the body was refused part-way: report the refusal.
        return Err(from_payload(&p).into());
    }
    Ok(crate::server::relay(response))
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Authorizes every authorization with the session's policies and the bucket policies.
fn authorize(
    snap: &Snapshot,
    claims: &SessionClaims,
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
    irsa_authz::authorize_owned(&policies, caller, global, authorizations).map_err(|d| {
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

/// A request body as a stream of its pieces.
pub(crate) type DataStream = axum::body::BodyDataStream;

fn internal_error() -> S3Error {
    S3Error::new(
        "InternalError",
        "We encountered an internal error. Please try again.",
        500,
    )
}

/// Bytes of a refused request's body read and discarded at most, and for how long.
const DRAIN_BYTES: u64 = 8 << 20;
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(5);

/// Reads and discards what is left of a refused request's body (at most [`DRAIN_BYTES`]
/// within [`DRAIN_TIME`]), so that the client, still sending, reads the refusal instead of
/// a reset connection, and may reuse the connection. `false` when the body did not end
/// within the bounds: then the connection must be closed.
pub(crate) async fn drain(mut body: DataStream) -> bool {
    let read = async {
        let mut seen = 0u64;
        while let Some(piece) = body.next().await {
            let Ok(piece) = piece else {
                return false;
            };
            seen += piece.len() as u64;
            if seen > DRAIN_BYTES {
                return false;
            }
        }
        true
    };
    tokio::time::timeout(DRAIN_TIME, read)
        .await
        .unwrap_or(false)
}

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

/// Whether a request is for S3 ([`irsa_s3::is_s3_request`]: its credential scope).
pub(crate) fn is_s3(headers: &HeaderMap, query: &str) -> bool {
    irsa_s3::is_s3_request(
        headers.get("authorization").map(HeaderValue::as_bytes),
        query,
    )
}

/// Whether the request carries a body (a `Content-Length` above 0, or chunked).
pub(crate) fn has_body(headers: &HeaderMap) -> bool {
    if headers.contains_key(http::header::TRANSFER_ENCODING) {
        return true;
    }
    headers
        .get(http::header::CONTENT_LENGTH)
        .is_some_and(|v| v.to_str().ok().and_then(|v| v.trim().parse::<u64>().ok()) != Some(0))
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
        let h = crate::server::header_map(&[
            ("content-encoding", "aws-chunked, gzip"),
            ("x-amz-decoded-content-length", "5"),
            ("content-length", "99"),
            ("x-amz-meta-a", "1"),
            ("x-amz-meta-unsigned", "1"),
        ]);
        let signed = crate::server::names(&[
            "content-encoding",
            "x-amz-decoded-content-length",
            "content-length",
            "x-amz-meta-a",
            "host",
        ]);
        let f = forward_headers(&h, &signed, Some(5));
        assert_eq!(f["content-encoding"], "gzip");
        assert_eq!(f["content-length"], "5");
        assert_eq!(f["x-amz-meta-a"], "1");
        assert!(!f.contains_key("x-amz-meta-unsigned"));
        assert!(!f.contains_key("x-amz-decoded-content-length"));
    }
}
