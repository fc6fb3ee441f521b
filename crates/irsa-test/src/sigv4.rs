//! Requests signed with the AWS SDK's own SigV4 signer (`aws-sigv4`), as real clients sign.

use std::time::SystemTime;

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;

pub use aws_sigv4::http_request::{PayloadChecksumKind, SignatureLocation};

/// Access key, secret and optional session token.
#[derive(Clone, Debug)]
pub struct Keys {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

/// What to sign a request for.
#[derive(Clone, Debug)]
pub struct Signing<'a> {
    pub keys: &'a Keys,
    pub region: &'a str,
    pub service: &'a str,
    pub time: SystemTime,
    pub settings: SigningSettings,
}

impl<'a> Signing<'a> {
    /// Header signing at `time` with the SDK's default settings.
    pub fn new(keys: &'a Keys, region: &'a str, service: &'a str, time: SystemTime) -> Self {
        Signing {
            keys,
            region,
            service,
            time,
            settings: SigningSettings::default(),
        }
    }

    /// Header signing for S3 at `time`, as the SDK's S3 client signs: the path encoded
    /// once and not normalised, `x-amz-content-sha256` sent and signed.
    pub fn s3(keys: &'a Keys, region: &'a str, time: SystemTime) -> Self {
        let mut s = Signing::new(keys, region, "s3", time);
        s.settings.percent_encoding_mode = aws_sigv4::http_request::PercentEncodingMode::Single;
        s.settings.uri_path_normalization_mode =
            aws_sigv4::http_request::UriPathNormalizationMode::Disabled;
        s.settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        s
    }
}

/// The payload as signed: its bytes, `UNSIGNED-PAYLOAD`, or a SHA-256 given in hex.
#[derive(Clone, Copy, Debug)]
pub enum Payload<'b> {
    Bytes(&'b [u8]),
    Unsigned,
    Sha256Hex(&'b str),
}

/// Signs `method url` with `headers` and `payload`; returns the request with the signature
/// applied (headers added, or query parameters when presigning) and `body` as its body.
pub fn sign_request<B>(
    s: &Signing<'_>,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    payload: Payload<'_>,
    body: B,
) -> http::Request<B> {
    let identity: Identity = aws_credential_types::Credentials::new(
        s.keys.access_key_id.clone(),
        s.keys.secret_access_key.clone(),
        s.keys.session_token.clone(),
        None,
        "irsa-test",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(s.region)
        .name(s.service)
        .time(s.time)
        .settings(s.settings.clone())
        .build()
        .unwrap()
        .into();
    let signable_body = match payload {
        Payload::Bytes(b) => SignableBody::Bytes(b),
        Payload::Unsigned => SignableBody::UnsignedPayload,
        Payload::Sha256Hex(h) => SignableBody::Precomputed(h.to_owned()),
    };
    let signable =
        SignableRequest::new(method, url, headers.iter().copied(), signable_body).unwrap();
    let (instructions, _signature) = sign(signable, &params).unwrap().into_parts();
    let mut builder = http::Request::builder().method(method).uri(url);
    for (n, v) in headers {
        builder = builder.header(*n, *v);
    }
    let mut request = builder.body(body).unwrap();
    instructions.apply_to_request_http1x(&mut request);
    request
}
