//! Parsing the SigV4 authentication of a request and verifying its signature.

use aws_lc_rs::{digest, hmac};
use time::OffsetDateTime;

use crate::canonical::{
    QueryParam, UriEncoding, canonical_headers, canonical_query, canonical_uri, header_values,
    parse_query, redacted_headers,
};
use crate::date::{
    format_amz_date, format_amz_date_unix, format_scope_date, parse_amz_date, parse_http_date,
    write_amz_date,
};
use crate::encoding::{hex_decode_32, hex_lower};
use crate::error::{SignatureMismatch, VerifyError};
use crate::s3::{ContentSha256, SeedSignature};
use crate::sign::SigningKeyCache;

/// The only algorithm accepted.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The payload hash value that leaves the body unsigned.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
pub(crate) const TERMINATOR: &str = "aws4_request";
/// Longest `X-Amz-Expires` AWS accepts: seven days.
pub const MAX_PRESIGNED_EXPIRES: u64 = 604_800;

const Q_ALGORITHM: &[u8] = b"X-Amz-Algorithm";
const Q_CREDENTIAL: &[u8] = b"X-Amz-Credential";
const Q_DATE: &[u8] = b"X-Amz-Date";
const Q_EXPIRES: &[u8] = b"X-Amz-Expires";
const Q_SIGNED_HEADERS: &[u8] = b"X-Amz-SignedHeaders";
const Q_SIGNATURE: &[u8] = b"X-Amz-Signature";
const Q_SECURITY_TOKEN: &[u8] = b"X-Amz-Security-Token";
const Q_CONTENT_SHA256: &[u8] = b"X-Amz-Content-Sha256";

/// The parts of a received HTTP request that SigV4 covers.
///
/// `path` and `query` are exactly as received on the wire (still
/// percent-encoded; `query` without the `?`, empty when there is none). Header
/// names are matched case-insensitively; repeated headers are all kept. The
/// `host` header must be present: HTTP/2 servers that carry the host in the
/// `:authority` pseudo-header should pass it as `("host", authority)`.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// HTTP method, e.g. `POST`.
    pub method: &'a str,
    /// Request path as received, e.g. `/a%20b`.
    pub path: &'a str,
    /// Raw query string without `?`.
    pub query: &'a str,
    /// All request headers, in the order received.
    pub headers: &'a [(&'a str, &'a [u8])],
    /// The complete request body (empty for none).
    pub body: &'a [u8],
}

/// Splits a request target such as `/path?a=1` into path and query.
pub fn split_path_and_query(target: &str) -> (&str, &str) {
    target.split_once('?').unwrap_or((target, ""))
}

/// What the verifier accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyOptions {
    /// How far (seconds) the request time may be from `now`, both ways. AWS: 900.
    pub max_clock_skew_secs: i64,
    /// Canonical URI rules: [`UriEncoding::Double`] for every service but S3.
    pub uri_encoding: UriEncoding,
    /// Accept `x-amz-content-sha256: UNSIGNED-PAYLOAD` (and unsigned presigned
    /// S3 URLs). Off by default: with it, the body is not covered by the
    /// signature.
    pub allow_unsigned_payload: bool,
    /// When set, the credential scope must name this service (e.g. `sts`).
    pub expected_service: Option<String>,
    /// Upper bound for `X-Amz-Expires` of presigned URLs, in seconds (the lower bound
    /// is 1).
    pub max_presigned_expires: u64,
    /// S3 bodies that stream: [`Request::body`] is not looked at. `x-amz-content-sha256`
    /// is classified ([`ContentSha256`]; the `STREAMING-…` values are accepted with the
    /// `Authorization` header) and its value signed as is; a hex hash is **not**
    /// compared with the body here. The caller must pass the body through a
    /// [`crate::BodyDecoder`] built from [`crate::S3Payload::from_headers`] and the seed
    /// of [`ParsedRequest::verify_s3`], which checks the hash, the chunk signatures, the
    /// trailers and the length. Only with [`UriEncoding::S3`].
    pub streaming_body: bool,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        Self {
            max_clock_skew_secs: 15 * 60,
            uri_encoding: UriEncoding::Double,
            allow_unsigned_payload: false,
            expected_service: None,
            max_presigned_expires: MAX_PRESIGNED_EXPIRES,
            streaming_body: false,
        }
    }
}

impl VerifyOptions {
    /// Defaults, with the credential scope required to name `service`.
    pub fn for_service(service: &str) -> Self {
        Self {
            expected_service: Some(service.to_owned()),
            ..Self::default()
        }
    }

    /// S3 rules: single URI encoding, unsigned payloads allowed, service `s3`,
    /// `x-amz-content-sha256` required with the `Authorization` header. The whole body
    /// is in [`Request::body`] and checked against a hex `x-amz-content-sha256`;
    /// `STREAMING-…` values are refused (see [`VerifyOptions::s3_streaming`]).
    pub fn s3() -> Self {
        Self {
            uri_encoding: UriEncoding::S3,
            allow_unsigned_payload: true,
            expected_service: Some("s3".to_owned()),
            ..Self::default()
        }
    }

    /// [`VerifyOptions::s3`] for a server that streams bodies: the body is checked by a
    /// [`crate::BodyDecoder`], not here ([`VerifyOptions::streaming_body`]).
    pub fn s3_streaming() -> Self {
        Self {
            streaming_body: true,
            ..Self::s3()
        }
    }
}

/// Where the signature was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureLocation {
    /// The `Authorization` header.
    Header,
    /// Presigned query parameters, valid for `expires_in` seconds.
    Query {
        /// `X-Amz-Expires`.
        expires_in: u64,
    },
}

/// A request whose authentication parameters parsed, before its signature is
/// checked. Look at [`ParsedRequest::access_key_id`] and
/// [`ParsedRequest::security_token`] to find the secret key, then call
/// [`ParsedRequest::verify`].
#[derive(Clone)]
pub struct ParsedRequest {
    access_key_id: String,
    region: String,
    service: String,
    signed_headers: Vec<String>,
    security_token: Option<String>,
    request_time: i64,
    location: SignatureLocation,
    payload_signed: bool,
    content_sha256: Option<ContentSha256>,
    scope_date: String,
    signature: String,
    string_to_sign: String,
    canonical_request: Redactable,
    max_clock_skew_secs: i64,
}

impl std::fmt::Debug for ParsedRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParsedRequest")
            .field("access_key_id", &self.access_key_id)
            .field("region", &self.region)
            .field("service", &self.service)
            .field("signed_headers", &self.signed_headers)
            .field("request_time", &self.request_time)
            .field("location", &self.location)
            .field("payload_signed", &self.payload_signed)
            .field("string_to_sign", &self.string_to_sign)
            .field("canonical_request", &self.canonical_request_redacted())
            .finish_non_exhaustive()
    }
}

/// The parts of the canonical request, its redacted form built only when asked for (the
/// header values, security token included, are kept as signed: never shown unredacted).
#[derive(Clone)]
struct Redactable {
    method: String,
    uri: String,
    query_line_redacted: String,
    headers_block: Vec<u8>,
    value_lengths: Vec<usize>,
    signed_headers_line: String,
    payload_line: String,
}

/// A request whose signature verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedRequest {
    /// The access key id that signed it.
    pub access_key_id: String,
    /// Region of the credential scope.
    pub region: String,
    /// Service of the credential scope.
    pub service: String,
    /// Lower-case names of the signed headers, as listed by the client.
    pub signed_headers: Vec<String>,
    /// `X-Amz-Security-Token` (header, or query parameter when presigned).
    pub security_token: Option<String>,
    /// The signing time (`X-Amz-Date` or `Date`), unix seconds.
    pub request_time: i64,
    /// Header or presigned query signature.
    pub location: SignatureLocation,
    /// `false` when the body is not covered (`UNSIGNED-PAYLOAD`,
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`).
    pub payload_signed: bool,
    /// S3 requests ([`UriEncoding::S3`]): `x-amz-content-sha256` classified
    /// (`UNSIGNED-PAYLOAD` for presigned URLs without it). `None` for other services.
    pub content_sha256: Option<ContentSha256>,
}

/// Verifies a request in one call: parse, check the time, look the secret key
/// up, check the signature. `lookup` returns the secret access key for the
/// parsed request (its access key id and security token), or `None` when the
/// key is unknown, which gives [`VerifyError::UnknownAccessKey`].
///
/// Callers that must tell apart why a key is unknown (for example an expired
/// session token) use [`parse`] and [`ParsedRequest::verify`] instead.
pub fn verify<S, F>(
    request: &Request<'_>,
    options: &VerifyOptions,
    now: i64,
    lookup: F,
) -> Result<VerifiedRequest, VerifyError>
where
    S: AsRef<str>,
    F: FnOnce(&ParsedRequest) -> Option<S>,
{
    let parsed = parse(request, options)?;
    parsed.check_time(now)?;
    let secret = lookup(&parsed).ok_or_else(|| VerifyError::UnknownAccessKey {
        access_key_id: parsed.access_key_id.clone(),
    })?;
    parsed.verify(secret.as_ref(), now)
}

/// Parses the authentication parameters of `request` and builds its canonical
/// request and string to sign. No secret is needed and no time is checked yet.
pub fn parse(request: &Request<'_>, options: &VerifyOptions) -> Result<ParsedRequest, VerifyError> {
    let query = parse_query(request.query);
    let authorization = header_values(request.headers, "authorization");
    let presigned = query
        .iter()
        .any(|p| [Q_ALGORITHM, Q_CREDENTIAL, Q_SIGNATURE].contains(&p.key.as_slice()));
    let auth = match (authorization, presigned) {
        (Some(_), true) => {
            return Err(VerifyError::IncompleteSignature(
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, \
                 Signature query string parameter or the Authorization header should be specified"
                    .to_owned(),
            ));
        }
        (None, false) => return Err(VerifyError::MissingAuthentication),
        (Some(header), false) => parse_authorization_header(&header, request.headers)?,
        (None, true) => parse_presigned_query(&query, options)?,
    };
    check_scope(&auth, options)?;

    let security_token = match auth.location {
        SignatureLocation::Header => {
            header_values(request.headers, "x-amz-security-token").map(|v| utf8_lossy(&v))
        }
        SignatureLocation::Query { .. } => {
            single_query_value(&query, Q_SECURITY_TOKEN)?.map(str::to_owned)
        }
    };

    let (payload_line, payload_signed, content_sha256) =
        payload_hash(request, &query, &auth, options)?;

    let (canonical, canonical_request) =
        canonical_request(request, &query, &auth, options, payload_line)?;
    let mut amz_date = [0u8; 16];
    let amz_date = if write_amz_date(auth.request_time.unix_timestamp(), &mut amz_date) {
        std::str::from_utf8(&amz_date).unwrap_or_default()
    } else {
        ""
    };
    let mut string_to_sign = String::with_capacity(160);
    for part in [
        ALGORITHM,
        "\n",
        amz_date,
        "\n",
        &auth.scope_date,
        "/",
        &auth.region,
        "/",
        &auth.service,
        "/",
        TERMINATOR,
        "\n",
        &hex_lower(digest::digest(&digest::SHA256, &canonical).as_ref()),
    ] {
        string_to_sign.push_str(part);
    }

    Ok(ParsedRequest {
        access_key_id: auth.access_key_id,
        region: auth.region,
        service: auth.service,
        signed_headers: auth.signed_headers,
        security_token,
        request_time: auth.request_time.unix_timestamp(),
        location: auth.location,
        payload_signed,
        content_sha256,
        scope_date: auth.scope_date,
        signature: auth.signature,
        string_to_sign,
        canonical_request,
        max_clock_skew_secs: options.max_clock_skew_secs,
    })
}

/// The canonical request of `request` (bytes, to hash) and its parts (for the redacted
/// form, built only when the signature does not match).
fn canonical_request(
    request: &Request<'_>,
    query: &[QueryParam],
    auth: &AuthParams,
    options: &VerifyOptions,
    payload_line: String,
) -> Result<(Vec<u8>, Redactable), VerifyError> {
    let uri = canonical_uri(request.path, options.uri_encoding);
    let exclude: &[&[u8]] = match auth.location {
        SignatureLocation::Header => &[],
        SignatureLocation::Query { .. } => &[Q_SIGNATURE],
    };
    let (query_line, query_line_redacted) = canonical_query(query, exclude);
    let (headers_block, value_lengths) =
        canonical_headers(request.headers, &auth.signed_headers)
            .map_err(|name| VerifyError::MissingSignedHeader { name })?;
    let signed_headers_line = auth.signed_headers.join(";");

    let mut canonical = Vec::with_capacity(256 + headers_block.len() + query_line.len());
    for part in [request.method, &uri, &query_line] {
        canonical.extend_from_slice(part.as_bytes());
        canonical.push(b'\n');
    }
    canonical.extend_from_slice(&headers_block);
    canonical.push(b'\n');
    canonical.extend_from_slice(signed_headers_line.as_bytes());
    canonical.push(b'\n');
    canonical.extend_from_slice(payload_line.as_bytes());
    let parts = Redactable {
        method: request.method.to_owned(),
        uri,
        query_line_redacted,
        headers_block,
        value_lengths,
        signed_headers_line,
        payload_line,
    };
    Ok((canonical, parts))
}

impl ParsedRequest {
    /// The access key id of the credential scope.
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }
    /// `X-Amz-Security-Token`, if the request carries one.
    pub fn security_token(&self) -> Option<&str> {
        self.security_token.as_deref()
    }
    /// Region of the credential scope.
    pub fn region(&self) -> &str {
        &self.region
    }
    /// Service of the credential scope.
    pub fn service(&self) -> &str {
        &self.service
    }
    /// The signing time, unix seconds.
    pub fn request_time(&self) -> i64 {
        self.request_time
    }
    /// Header or presigned query signature.
    pub fn location(&self) -> SignatureLocation {
        self.location
    }
    /// The canonical request with security tokens redacted (for diagnostics).
    pub fn canonical_request_redacted(&self) -> String {
        let c = &self.canonical_request;
        format!(
            "{}\n{}\n{}\n{}\n{}\n{}",
            c.method,
            c.uri,
            c.query_line_redacted,
            redacted_headers(&c.headers_block, &self.signed_headers, &c.value_lengths),
            c.signed_headers_line,
            c.payload_line
        )
    }
    /// The string to sign.
    pub fn string_to_sign(&self) -> &str {
        &self.string_to_sign
    }

    /// Checks the request time against `now`: within the clock skew for header
    /// signatures; not in the future beyond the skew and not past
    /// `X-Amz-Expires` for presigned URLs.
    pub fn check_time(&self, now: i64) -> Result<(), VerifyError> {
        let skew = self.max_clock_skew_secs.max(0);
        let t = self.request_time;
        if t > now.saturating_add(skew) {
            return Err(VerifyError::SignatureNotYetCurrent {
                request_time: format_amz_date_unix(t),
                latest: format_amz_date_unix(now.saturating_add(skew)),
                now: format_amz_date_unix(now),
                skew: describe_skew(skew),
            });
        }
        match self.location {
            SignatureLocation::Header => {
                if t < now.saturating_sub(skew) {
                    return Err(VerifyError::SignatureExpired {
                        request_time: format_amz_date_unix(t),
                        earliest: format_amz_date_unix(now.saturating_sub(skew)),
                        now: format_amz_date_unix(now),
                        skew: describe_skew(skew),
                    });
                }
            }
            SignatureLocation::Query { expires_in } => {
                let expires_at = t.saturating_add(i64::try_from(expires_in).unwrap_or(i64::MAX));
                if now > expires_at {
                    return Err(VerifyError::PresignedUrlExpired {
                        expired_at: format_amz_date_unix(expires_at),
                    });
                }
            }
        }
        Ok(())
    }

    /// Checks the time (see [`ParsedRequest::check_time`]) and the signature
    /// against `secret_access_key`. The signature comparison is constant-time.
    pub fn verify(
        &self,
        secret_access_key: &str,
        now: i64,
    ) -> Result<VerifiedRequest, VerifyError> {
        self.matching_key(secret_access_key, now, None)
            .map(|_| self.verified())
    }

    /// `x-amz-content-sha256` classified, for S3 requests ([`UriEncoding::S3`]).
    pub fn content_sha256(&self) -> Option<ContentSha256> {
        self.content_sha256
    }

    /// [`ParsedRequest::verify`], also returning the seed of the chunk signature chain
    /// (the verified signature and its signing key), which a [`crate::BodyDecoder`]
    /// needs for `STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]` bodies.
    pub fn verify_s3(
        &self,
        secret_access_key: &str,
        now: i64,
    ) -> Result<(VerifiedRequest, SeedSignature), VerifyError> {
        self.verify_with(secret_access_key, now, None)
    }

    /// [`ParsedRequest::verify`] with the signing key taken from (or added to) `cache`.
    pub fn verify_cached(
        &self,
        secret_access_key: &str,
        now: i64,
        cache: &SigningKeyCache,
    ) -> Result<VerifiedRequest, VerifyError> {
        self.matching_key(secret_access_key, now, Some(cache))
            .map(|_| self.verified())
    }

    /// [`ParsedRequest::verify_s3`] with the signing key taken from (or added to) `cache`.
    pub fn verify_s3_cached(
        &self,
        secret_access_key: &str,
        now: i64,
        cache: &SigningKeyCache,
    ) -> Result<(VerifiedRequest, SeedSignature), VerifyError> {
        self.verify_with(secret_access_key, now, Some(cache))
    }

    /// Checks the time and the signature with `secret_access_key`, the signing key from
    /// `cache`, without building a [`VerifiedRequest`]: for a server that reads what it
    /// needs ([`ParsedRequest::signed_headers`], [`ParsedRequest::access_key_id`], …)
    /// from this parsed request once it verified.
    pub fn verify_signature_cached(
        &self,
        secret_access_key: &str,
        now: i64,
        cache: &SigningKeyCache,
    ) -> Result<(), VerifyError> {
        self.matching_key(secret_access_key, now, Some(cache))
            .map(|_| ())
    }

    /// Lower-case names of the signed headers, as listed by the client.
    pub fn signed_headers(&self) -> &[String] {
        &self.signed_headers
    }

    /// The time checked, then the signing key and the signature when the signature matches.
    fn matching_key(
        &self,
        secret_access_key: &str,
        now: i64,
        cache: Option<&SigningKeyCache>,
    ) -> Result<(hmac::Key, [u8; 32]), VerifyError> {
        self.check_time(now)?;
        let (secret, date, region, service) = (
            secret_access_key,
            self.scope_date.as_str(),
            self.region.as_str(),
            self.service.as_str(),
        );
        let key = match cache {
            Some(cache) => cache.key(secret, date, region, service),
            None => signing_key(secret, date, region, service),
        };
        let provided = hex_decode_32(&self.signature).filter(|provided| {
            hmac::verify(&key, self.string_to_sign.as_bytes(), provided).is_ok()
        });
        match provided {
            Some(provided) => Ok((key, provided)),
            None => Err(VerifyError::SignatureDoesNotMatch(Box::new(
                SignatureMismatch {
                    canonical_request: self.canonical_request_redacted(),
                    string_to_sign: self.string_to_sign.clone(),
                },
            ))),
        }
    }

    fn verified(&self) -> VerifiedRequest {
        VerifiedRequest {
            access_key_id: self.access_key_id.clone(),
            region: self.region.clone(),
            service: self.service.clone(),
            signed_headers: self.signed_headers.clone(),
            security_token: self.security_token.clone(),
            request_time: self.request_time,
            location: self.location,
            payload_signed: self.payload_signed,
            content_sha256: self.content_sha256,
        }
    }

    fn verify_with(
        &self,
        secret_access_key: &str,
        now: i64,
        cache: Option<&SigningKeyCache>,
    ) -> Result<(VerifiedRequest, SeedSignature), VerifyError> {
        let (key, provided) = self.matching_key(secret_access_key, now, cache)?;
        let seed = SeedSignature {
            key,
            signature: provided,
            amz_date: format_amz_date_unix(self.request_time),
            scope: format!(
                "{}/{}/{}/{TERMINATOR}",
                self.scope_date, self.region, self.service
            ),
        };
        Ok((self.verified(), seed))
    }
}

fn describe_skew(seconds: i64) -> String {
    if seconds % 60 == 0 {
        format!("{} min", seconds / 60)
    } else {
        format!("{seconds} sec")
    }
}

/// The SigV4 signing key: an HMAC-SHA256 chain over date, region, service and
/// the terminator, keyed first with `AWS4` + secret.
pub(crate) fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> hmac::Key {
    let mut k_secret = Vec::with_capacity(4 + secret.len());
    k_secret.extend_from_slice(b"AWS4");
    k_secret.extend_from_slice(secret.as_bytes());
    let mut key = hmac::Key::new(hmac::HMAC_SHA256, &k_secret);
    for part in [date, region, service, TERMINATOR] {
        let tag = hmac::sign(&key, part.as_bytes());
        key = hmac::Key::new(hmac::HMAC_SHA256, tag.as_ref());
    }
    key
}

/// Authentication parameters from either location.
struct AuthParams {
    access_key_id: String,
    scope_date: String,
    region: String,
    service: String,
    signed_headers: Vec<String>,
    signature: String,
    request_time: OffsetDateTime,
    location: SignatureLocation,
}

/// `bytes` as text, invalid UTF-8 replaced (`str::from_utf8` first: it checks ASCII a
/// word at a time, where `from_utf8_lossy` walks chunk by chunk).
fn utf8_lossy(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// Quotes user input in messages only when short and printable.
fn quoted(value: &str) -> String {
    if value.len() <= 128 && value.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        value.to_owned()
    } else {
        "<invalid>".to_owned()
    }
}

fn parse_authorization_header(
    value: &[u8],
    headers: &[(&str, &[u8])],
) -> Result<AuthParams, VerifyError> {
    let value = String::from_utf8_lossy(value);
    let value = value.trim();
    let (algorithm, rest) = value.split_once([' ', '\t']).unwrap_or((value, ""));
    if algorithm != ALGORITHM && algorithm.starts_with("AWS4-") {
        return Err(VerifyError::IncompleteSignature(format!(
            "Unsupported AWS 'algorithm': '{}'",
            quoted(algorithm)
        )));
    }
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    if algorithm == ALGORITHM {
        for part in rest.split(',') {
            let part = part.trim();
            let Some((key, val)) = part.split_once('=') else {
                continue;
            };
            let slot = match key.trim() {
                "Credential" => &mut credential,
                "SignedHeaders" => &mut signed_headers,
                "Signature" => &mut signature,
                _ => continue,
            };
            if slot.is_some() {
                return Err(VerifyError::IncompleteSignature(format!(
                    "Authorization header has a duplicate '{}' parameter.",
                    key.trim()
                )));
            }
            *slot = Some(val.trim().to_owned());
        }
    }
    let date = header_values(headers, "x-amz-date")
        .map(|v| (v, true))
        .or_else(|| header_values(headers, "date").map(|v| (v, false)));

    let mut missing = Vec::new();
    if credential.as_deref().is_none_or(str::is_empty) {
        missing.push("Authorization header requires 'Credential' parameter.");
    }
    if signature.as_deref().is_none_or(str::is_empty) {
        missing.push("Authorization header requires 'Signature' parameter.");
    }
    if signed_headers.as_deref().is_none_or(str::is_empty) {
        missing.push("Authorization header requires 'SignedHeaders' parameter.");
    }
    if date.is_none() {
        missing.push(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        );
    }
    let (Some(credential), Some(signed_headers), Some(signature), Some((date, is_amz_date))) =
        (credential, signed_headers, signature, date)
    else {
        return Err(VerifyError::IncompleteSignature(missing.join(" ")));
    };
    if !missing.is_empty() {
        return Err(VerifyError::IncompleteSignature(missing.join(" ")));
    }
    let date = String::from_utf8_lossy(&date).into_owned();
    let request_time = if is_amz_date {
        parse_amz_date(&date)
    } else {
        parse_http_date(&date)
    }
    .ok_or_else(|| bad_date(&date))?;
    build_params(
        &credential,
        &signed_headers,
        signature,
        request_time,
        SignatureLocation::Header,
    )
}

fn bad_date(value: &str) -> VerifyError {
    VerifyError::IncompleteSignature(format!(
        "Date must be in ISO-8601 'basic format'. Got '{}'. See http://en.wikipedia.org/wiki/ISO_8601",
        quoted(value)
    ))
}

/// The value of a query parameter that may appear at most once.
fn single_query_value<'q>(
    query: &'q [QueryParam],
    key: &[u8],
) -> Result<Option<&'q str>, VerifyError> {
    let mut found = None;
    for param in query.iter().filter(|p| p.key == key) {
        if found.is_some() {
            return Err(VerifyError::IncompleteSignature(format!(
                "Query parameter '{}' appears more than once.",
                String::from_utf8_lossy(key)
            )));
        }
        let value = std::str::from_utf8(&param.value).map_err(|_| {
            VerifyError::IncompleteSignature(format!(
                "Query parameter '{}' is not valid UTF-8.",
                String::from_utf8_lossy(key)
            ))
        })?;
        found = Some(value);
    }
    Ok(found)
}

fn parse_presigned_query(
    query: &[QueryParam],
    options: &VerifyOptions,
) -> Result<AuthParams, VerifyError> {
    let algorithm = single_query_value(query, Q_ALGORITHM)?;
    let credential = single_query_value(query, Q_CREDENTIAL)?;
    let signature = single_query_value(query, Q_SIGNATURE)?;
    let date = single_query_value(query, Q_DATE)?;
    let signed_headers = single_query_value(query, Q_SIGNED_HEADERS)?;
    let expires = single_query_value(query, Q_EXPIRES)?;
    let (
        Some(algorithm),
        Some(credential),
        Some(signature),
        Some(date),
        Some(signed_headers),
        Some(expires),
    ) = (
        algorithm,
        credential,
        signature,
        date,
        signed_headers,
        expires,
    )
    else {
        return Err(VerifyError::IncompleteSignature(
            "AWS query-string parameters must include 'X-Amz-Algorithm', 'X-Amz-Credential', \
             'X-Amz-Signature', 'X-Amz-Date', 'X-Amz-SignedHeaders', and 'X-Amz-Expires'. \
             Re-examine the query-string parameters."
                .to_owned(),
        ));
    };
    if algorithm != ALGORITHM {
        return Err(VerifyError::IncompleteSignature(
            "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"".to_owned(),
        ));
    }
    let expires_in: u64 = if expires.bytes().all(|b| b.is_ascii_digit()) {
        expires.parse().ok()
    } else {
        None
    }
    .ok_or_else(|| {
        VerifyError::PresignedQuery(if expires.starts_with('-') {
            "X-Amz-Expires must be non-negative".to_owned()
        } else {
            "X-Amz-Expires should be a number".to_owned()
        })
    })?;
    if expires_in == 0 {
        return Err(VerifyError::PresignedQuery(
            "X-Amz-Expires must be at least 1 (in seconds)".to_owned(),
        ));
    }
    if expires_in > options.max_presigned_expires {
        return Err(VerifyError::PresignedQuery(format!(
            "X-Amz-Expires must be less than a week (in seconds) that is {}",
            options.max_presigned_expires
        )));
    }
    let request_time = parse_amz_date(date).ok_or_else(|| bad_date(date))?;
    build_params(
        credential,
        signed_headers,
        signature.to_owned(),
        request_time,
        SignatureLocation::Query { expires_in },
    )
}

fn build_params(
    credential: &str,
    signed_headers: &str,
    signature: String,
    request_time: OffsetDateTime,
    location: SignatureLocation,
) -> Result<AuthParams, VerifyError> {
    let parts: Vec<&str> = credential.split('/').collect();
    let [access_key_id, scope_date, region, service, terminator] = parts.as_slice() else {
        return Err(VerifyError::IncompleteSignature(format!(
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{}'",
            quoted(credential)
        )));
    };
    if access_key_id.is_empty() {
        return Err(VerifyError::IncompleteSignature(format!(
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{}'",
            quoted(credential)
        )));
    }
    if *terminator != TERMINATOR {
        return Err(VerifyError::CredentialScope(format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '{}'.",
            quoted(terminator)
        )));
    }
    let signed_headers: Vec<String> = signed_headers.split(';').map(str::to_owned).collect();
    if signed_headers.iter().any(String::is_empty) {
        return Err(VerifyError::IncompleteSignature(
            "SignedHeaders must be a non-empty, ';'-separated list of header names.".to_owned(),
        ));
    }
    if !signed_headers
        .iter()
        .any(|h| h.eq_ignore_ascii_case("host") || h == ":authority")
    {
        return Err(VerifyError::IncompleteSignature(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.".to_owned(),
        ));
    }
    Ok(AuthParams {
        access_key_id: (*access_key_id).to_owned(),
        scope_date: (*scope_date).to_owned(),
        region: (*region).to_owned(),
        service: (*service).to_owned(),
        signed_headers,
        signature,
        request_time,
        location,
    })
}

fn check_scope(auth: &AuthParams, options: &VerifyOptions) -> Result<(), VerifyError> {
    if let Some(expected) = options
        .expected_service
        .as_ref()
        .filter(|expected| auth.service != **expected)
    {
        return Err(VerifyError::CredentialScope(format!(
            "Credential should be scoped to correct service: '{expected}'."
        )));
    }
    if auth.region.is_empty() {
        return Err(VerifyError::CredentialScope(
            "Credential should be scoped to a valid region.".to_owned(),
        ));
    }
    let date = format_scope_date(auth.request_time);
    if auth.scope_date != date {
        return Err(VerifyError::CredentialScope(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{date}', from '{}'.",
            quoted(&auth.scope_date),
            format_amz_date(auth.request_time)
        )));
    }
    Ok(())
}

/// The payload line of the canonical request, whether it covers the body and, for S3,
/// the classified `x-amz-content-sha256`.
fn payload_hash(
    request: &Request<'_>,
    query: &[QueryParam],
    auth: &AuthParams,
    options: &VerifyOptions,
) -> Result<(String, bool, Option<ContentSha256>), VerifyError> {
    let presigned = matches!(auth.location, SignatureLocation::Query { .. });
    let declared = match header_values(request.headers, "x-amz-content-sha256") {
        Some(v) => Some(utf8_lossy(&v)),
        None if presigned => single_query_value(query, Q_CONTENT_SHA256)?.map(str::to_owned),
        None => None,
    };
    if options.uri_encoding == UriEncoding::S3 {
        return s3_payload_hash(request, declared, presigned, options);
    }
    match declared {
        Some(value) if value == UNSIGNED_PAYLOAD => {
            if options.allow_unsigned_payload {
                Ok((value, false, None))
            } else {
                Err(VerifyError::UnsignedPayloadNotAllowed)
            }
        }
        Some(value) => {
            let declared = hex_decode_32(&value).ok_or(VerifyError::InvalidPayloadHash)?;
            let actual = digest::digest(&digest::SHA256, request.body);
            if actual.as_ref() != declared.as_slice() {
                return Err(VerifyError::PayloadHashMismatch);
            }
            Ok((value, true, None))
        }
        None => Ok((
            hex_lower(digest::digest(&digest::SHA256, request.body).as_ref()),
            true,
            None,
        )),
    }
}

/// S3's payload rules: `x-amz-content-sha256` required with the `Authorization` header
/// (presigned URLs without it are `UNSIGNED-PAYLOAD`), one of the five forms S3 accepts,
/// streaming only with the `Authorization` header and [`VerifyOptions::streaming_body`].
fn s3_payload_hash(
    request: &Request<'_>,
    declared: Option<String>,
    presigned: bool,
    options: &VerifyOptions,
) -> Result<(String, bool, Option<ContentSha256>), VerifyError> {
    let (line, content) = match declared {
        Some(value) => {
            let content = ContentSha256::parse(value.as_bytes())?;
            (value, content)
        }
        None if presigned => (UNSIGNED_PAYLOAD.to_owned(), ContentSha256::Unsigned),
        None => return Err(VerifyError::MissingContentSha256),
    };
    if !content.payload_signed() && !options.allow_unsigned_payload {
        return Err(VerifyError::UnsignedPayloadNotAllowed);
    }
    if content.is_streaming() {
        if presigned {
            return Err(VerifyError::UnsupportedPayload(
                "Streaming uploads (STREAMING-…) are not supported with presigned URLs.".to_owned(),
            ));
        }
        if !options.streaming_body {
            return Err(VerifyError::UnsupportedPayload(
                "Streaming uploads (STREAMING-…) need a streaming body verifier.".to_owned(),
            ));
        }
    }
    if let ContentSha256::Sha256(expected) = content
        && !options.streaming_body
        && digest::digest(&digest::SHA256, request.body).as_ref() != expected.as_slice()
    {
        return Err(VerifyError::PayloadHashMismatch);
    }
    Ok((line, content.payload_signed(), Some(content)))
}
