//! S3's payload rules: what `x-amz-content-sha256` may say, the headers that describe an
//! `aws-chunked` body, S3's error codes for them, and the seed a chunk signature chain
//! starts from.

use aws_lc_rs::hmac;

use crate::encoding::hex_decode_32;
use crate::error::VerifyError;

/// `x-amz-content-sha256` of a body sent in signed `aws-chunked` chunks.
pub const STREAMING_SIGNED: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
/// `x-amz-content-sha256` of a body sent in signed chunks with signed trailers.
pub const STREAMING_SIGNED_TRAILER: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
/// `x-amz-content-sha256` of a body sent in unsigned chunks with trailers.
pub const STREAMING_UNSIGNED_TRAILER: &str = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
/// Prefix of SigV4a's streaming values (`STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD…`).
const STREAMING_SIGV4A_PREFIX: &str = "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD";

/// An S3 error code, with the HTTP status S3 answers it with. The wire form (XML body)
/// belongs to the S3 front end; this names which of S3's errors a failure is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum S3ErrorCode {
    /// `AccessDenied` (403): no authentication, or a presigned URL past its expiry.
    AccessDenied,
    /// `AuthorizationHeaderMalformed` (400): the `Authorization` header or its credential
    /// scope cannot be used.
    AuthorizationHeaderMalformed,
    /// `AuthorizationQueryParametersError` (400): presigned query parameters cannot be used.
    AuthorizationQueryParametersError,
    /// `BadDigest` (400): a checksum does not match the data received.
    BadDigest,
    /// `IncompleteBody` (400): fewer (or more) bytes than the request declared, or an
    /// `aws-chunked` body that is not well formed ("The request body terminated
    /// unexpectedly").
    IncompleteBody,
    /// `InvalidAccessKeyId` (403): the access key id is not known.
    InvalidAccessKeyId,
    /// `InvalidArgument` (400): a header or parameter has a value S3 does not accept.
    InvalidArgument,
    /// `InvalidChunkSizeError` (400): a chunk other than the last is smaller than
    /// 8192 bytes.
    InvalidChunkSizeError,
    /// `InvalidRequest` (400): the request is not one S3 accepts (unsupported mode,
    /// malformed checksum value, undeclared trailer…).
    InvalidRequest,
    /// `MalformedTrailerError` (400): the trailer section is not well formed.
    MalformedTrailerError,
    /// `MissingContentLength` (411): `x-amz-decoded-content-length` is missing.
    MissingContentLength,
    /// `RequestTimeTooSkewed` (403): the request time is too far from the server's.
    RequestTimeTooSkewed,
    /// `SignatureDoesNotMatch` (403): a request, chunk or trailer signature is wrong.
    SignatureDoesNotMatch,
    /// `XAmzContentSHA256Mismatch` (400): the body does not hash to `x-amz-content-sha256`.
    XAmzContentSHA256Mismatch,
}

impl S3ErrorCode {
    /// The code as S3 writes it in `<Code>`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AccessDenied => "AccessDenied",
            Self::AuthorizationHeaderMalformed => "AuthorizationHeaderMalformed",
            Self::AuthorizationQueryParametersError => "AuthorizationQueryParametersError",
            Self::BadDigest => "BadDigest",
            Self::IncompleteBody => "IncompleteBody",
            Self::InvalidAccessKeyId => "InvalidAccessKeyId",
            Self::InvalidArgument => "InvalidArgument",
            Self::InvalidChunkSizeError => "InvalidChunkSizeError",
            Self::InvalidRequest => "InvalidRequest",
            Self::MalformedTrailerError => "MalformedTrailerError",
            Self::MissingContentLength => "MissingContentLength",
            Self::RequestTimeTooSkewed => "RequestTimeTooSkewed",
            Self::SignatureDoesNotMatch => "SignatureDoesNotMatch",
            Self::XAmzContentSHA256Mismatch => "XAmzContentSHA256Mismatch",
        }
    }

    /// The HTTP status S3 answers the code with.
    pub fn http_status(self) -> u16 {
        match self {
            Self::AccessDenied
            | Self::InvalidAccessKeyId
            | Self::RequestTimeTooSkewed
            | Self::SignatureDoesNotMatch => 403,
            Self::MissingContentLength => 411,
            Self::AuthorizationHeaderMalformed
            | Self::AuthorizationQueryParametersError
            | Self::BadDigest
            | Self::IncompleteBody
            | Self::InvalidArgument
            | Self::InvalidChunkSizeError
            | Self::InvalidRequest
            | Self::MalformedTrailerError
            | Self::XAmzContentSHA256Mismatch => 400,
        }
    }
}

impl std::fmt::Display for S3ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl VerifyError {
    /// The S3 error this stands for when the request is an S3 request
    /// ([`crate::VerifyOptions::s3`]).
    pub fn s3_code(&self) -> S3ErrorCode {
        match self {
            Self::MissingAuthentication | Self::PresignedUrlExpired { .. } => {
                S3ErrorCode::AccessDenied
            }
            Self::IncompleteSignature(_) | Self::CredentialScope(_) => {
                S3ErrorCode::AuthorizationHeaderMalformed
            }
            Self::PresignedQuery(_) => S3ErrorCode::AuthorizationQueryParametersError,
            Self::UnknownAccessKey { .. } => S3ErrorCode::InvalidAccessKeyId,
            Self::MissingSignedHeader { .. } | Self::SignatureDoesNotMatch(_) => {
                S3ErrorCode::SignatureDoesNotMatch
            }
            Self::SignatureExpired { .. } | Self::SignatureNotYetCurrent { .. } => {
                S3ErrorCode::RequestTimeTooSkewed
            }
            Self::PayloadHashMismatch => S3ErrorCode::XAmzContentSHA256Mismatch,
            Self::InvalidPayloadHash => S3ErrorCode::InvalidArgument,
            Self::UnsignedPayloadNotAllowed
            | Self::MissingContentSha256
            | Self::UnsupportedPayload(_) => S3ErrorCode::InvalidRequest,
        }
    }
}

/// What `x-amz-content-sha256` says about the body of an S3 request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentSha256 {
    /// The SHA-256 of the whole body (64 hex digits).
    Sha256([u8; 32]),
    /// `UNSIGNED-PAYLOAD`: the body is not covered by the signature.
    Unsigned,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: `aws-chunked`, every chunk signed.
    StreamingSigned,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`: `aws-chunked`, every chunk and the
    /// trailer signed.
    StreamingSignedTrailer,
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: `aws-chunked`, unsigned chunks, trailers
    /// (a checksum) after the last chunk.
    StreamingUnsignedTrailer,
}

impl ContentSha256 {
    /// Classifies a header value. Anything but the five forms S3 accepts with SigV4
    /// (SigV4a's `STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD…` included) is refused.
    pub fn parse(value: &[u8]) -> Result<Self, VerifyError> {
        let text = std::str::from_utf8(value).map_err(|_| VerifyError::InvalidPayloadHash)?;
        match text {
            crate::verify::UNSIGNED_PAYLOAD => Ok(Self::Unsigned),
            STREAMING_SIGNED => Ok(Self::StreamingSigned),
            STREAMING_SIGNED_TRAILER => Ok(Self::StreamingSignedTrailer),
            STREAMING_UNSIGNED_TRAILER => Ok(Self::StreamingUnsignedTrailer),
            t if t.starts_with(STREAMING_SIGV4A_PREFIX) => Err(VerifyError::UnsupportedPayload(
                "Signature Version 4A (STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD) is not supported; sign with AWS4-HMAC-SHA256."
                    .to_owned(),
            )),
            t => hex_decode_32(t)
                .map(Self::Sha256)
                .ok_or(VerifyError::InvalidPayloadHash),
        }
    }

    /// The header value as the canonical request's payload line has it (hex in lower
    /// case for [`ContentSha256::Sha256`]).
    pub fn as_header_value(&self) -> String {
        match self {
            Self::Sha256(hash) => hex::encode(hash),
            Self::Unsigned => crate::verify::UNSIGNED_PAYLOAD.to_owned(),
            Self::StreamingSigned => STREAMING_SIGNED.to_owned(),
            Self::StreamingSignedTrailer => STREAMING_SIGNED_TRAILER.to_owned(),
            Self::StreamingUnsignedTrailer => STREAMING_UNSIGNED_TRAILER.to_owned(),
        }
    }

    /// The body is `aws-chunked` (one of the `STREAMING-…` values).
    pub fn is_streaming(&self) -> bool {
        matches!(
            self,
            Self::StreamingSigned | Self::StreamingSignedTrailer | Self::StreamingUnsignedTrailer
        )
    }

    /// Every chunk carries a signature chained from the seed signature.
    pub fn chunks_signed(&self) -> bool {
        matches!(self, Self::StreamingSigned | Self::StreamingSignedTrailer)
    }

    /// Trailers may follow the final chunk.
    pub fn has_trailer(&self) -> bool {
        matches!(
            self,
            Self::StreamingSignedTrailer | Self::StreamingUnsignedTrailer
        )
    }

    /// The payload is covered by the signature (a hash, or signed chunks).
    pub fn payload_signed(&self) -> bool {
        !matches!(self, Self::Unsigned | Self::StreamingUnsignedTrailer)
    }
}

/// The checksum algorithms S3 accepts in `x-amz-checksum-*` (header or trailer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChecksumAlgorithm {
    /// `x-amz-checksum-crc32`: CRC-32 (ISO-HDLC), 4 bytes big-endian, base64.
    Crc32,
    /// `x-amz-checksum-crc32c`: CRC-32C (Castagnoli), 4 bytes big-endian, base64.
    Crc32c,
    /// `x-amz-checksum-crc64nvme`: CRC-64/NVME, 8 bytes big-endian, base64.
    Crc64Nvme,
    /// `x-amz-checksum-sha1`: SHA-1, 20 bytes, base64.
    Sha1,
    /// `x-amz-checksum-sha256`: SHA-256, 32 bytes, base64.
    Sha256,
}

impl ChecksumAlgorithm {
    /// Every algorithm.
    pub const ALL: [ChecksumAlgorithm; 5] = [
        Self::Crc32,
        Self::Crc32c,
        Self::Crc64Nvme,
        Self::Sha1,
        Self::Sha256,
    ];

    /// The header (and trailer) name, e.g. `x-amz-checksum-crc32`.
    pub fn header_name(self) -> &'static str {
        match self {
            Self::Crc32 => "x-amz-checksum-crc32",
            Self::Crc32c => "x-amz-checksum-crc32c",
            Self::Crc64Nvme => "x-amz-checksum-crc64nvme",
            Self::Sha1 => "x-amz-checksum-sha1",
            Self::Sha256 => "x-amz-checksum-sha256",
        }
    }

    /// The name S3 uses in messages and `x-amz-sdk-checksum-algorithm`, e.g. `CRC32`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Crc32 => "CRC32",
            Self::Crc32c => "CRC32C",
            Self::Crc64Nvme => "CRC64NVME",
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
        }
    }

    /// Length of the raw digest in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            Self::Crc32 | Self::Crc32c => 4,
            Self::Crc64Nvme => 8,
            Self::Sha1 => 20,
            Self::Sha256 => 32,
        }
    }

    /// The algorithm of a header name (ASCII case-insensitive).
    pub fn from_header_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.header_name().eq_ignore_ascii_case(name))
    }
}

/// What the headers of an S3 request say about its body: how it is encoded, how long
/// the decoded payload is, and which trailer follows it. Read with
/// [`S3Payload::from_headers`]; hand it to [`crate::BodyDecoder::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Payload {
    /// `x-amz-content-sha256`, classified. Presigned URLs without it are
    /// [`ContentSha256::Unsigned`].
    pub content_sha256: ContentSha256,
    /// The length of the payload after decoding: `x-amz-decoded-content-length` for
    /// `aws-chunked` bodies, else `Content-Length` (`None` when absent: the body then
    /// ends when the transport says so).
    pub decoded_length: Option<u64>,
    /// The trailer `x-amz-trailer` declares (only checksum trailers are accepted).
    pub trailer: Option<ChecksumAlgorithm>,
}

/// Longest `x-amz-decoded-content-length` / `Content-Length` accepted: 5 TiB, the largest
/// S3 object. A PutObject is limited to 5 GiB by S3 itself.
pub const MAX_DECODED_LENGTH: u64 = 5 * 1024 * 1024 * 1024 * 1024;

impl S3Payload {
    /// Reads `x-amz-content-sha256` (required; for presigned URLs pass
    /// `presigned = true`, where its absence means `UNSIGNED-PAYLOAD`),
    /// `x-amz-decoded-content-length` (required for `STREAMING-…`), `Content-Length`
    /// and `x-amz-trailer` (only with a `…-TRAILER` value; one checksum name).
    pub fn from_headers(
        headers: &[(&str, &[u8])],
        presigned: bool,
    ) -> Result<S3Payload, PayloadError> {
        let content_sha256 = match single_header(headers, "x-amz-content-sha256")? {
            Some(v) => ContentSha256::parse(v).map_err(PayloadError::Header)?,
            None if presigned => ContentSha256::Unsigned,
            None => return Err(PayloadError::Header(VerifyError::MissingContentSha256)),
        };
        if presigned && content_sha256.is_streaming() {
            return Err(PayloadError::Header(VerifyError::UnsupportedPayload(
                "Streaming uploads are not supported with presigned URLs.".to_owned(),
            )));
        }
        let content_length = parse_length(headers, "content-length")?;
        let decoded_length = if content_sha256.is_streaming() {
            match parse_length(headers, "x-amz-decoded-content-length") {
                Ok(Some(n)) => Some(n),
                Ok(None) | Err(PayloadError::InvalidLength(_)) => {
                    return Err(PayloadError::MissingDecodedContentLength);
                }
                Err(e) => return Err(e),
            }
        } else {
            content_length
        };
        let trailer = match single_header(headers, "x-amz-trailer")? {
            None => None,
            Some(_) if !content_sha256.has_trailer() => {
                return Err(PayloadError::TrailerNotAllowed);
            }
            Some(value) => {
                let name = std::str::from_utf8(value)
                    .map_err(|_| PayloadError::UnsupportedTrailer)?
                    .trim();
                Some(
                    ChecksumAlgorithm::from_header_name(name)
                        .ok_or(PayloadError::UnsupportedTrailer)?,
                )
            }
        };
        Ok(S3Payload {
            content_sha256,
            decoded_length,
            trailer,
        })
    }
}

/// The value of a header that must appear at most once.
fn single_header<'h>(
    headers: &[(&str, &'h [u8])],
    name: &str,
) -> Result<Option<&'h [u8]>, PayloadError> {
    let mut found = None;
    for (n, v) in headers {
        if n.eq_ignore_ascii_case(name) {
            if found.is_some() {
                return Err(PayloadError::DuplicateHeader(name.to_owned()));
            }
            found = Some(*v);
        }
    }
    Ok(found)
}

/// A decimal length header: digits only, at most [`MAX_DECODED_LENGTH`].
fn parse_length(headers: &[(&str, &[u8])], name: &str) -> Result<Option<u64>, PayloadError> {
    let Some(value) = single_header(headers, name)? else {
        return Ok(None);
    };
    let bad = || PayloadError::InvalidLength(name.to_owned());
    if value.is_empty() || value.len() > 20 || !value.iter().all(u8::is_ascii_digit) {
        return Err(bad());
    }
    let text = std::str::from_utf8(value).map_err(|_| bad())?;
    let n: u64 = text.parse().map_err(|_| bad())?;
    if n > MAX_DECODED_LENGTH {
        return Err(bad());
    }
    Ok(Some(n))
}

/// The start of a chunk signature chain: the verified request's seed signature, its
/// signing key, time and scope. Obtained only from a verified request
/// ([`crate::ParsedRequest::verify_s3`]). Its `Debug` form hides the key.
#[derive(Clone)]
pub struct SeedSignature {
    pub(crate) key: hmac::Key,
    pub(crate) signature: [u8; 32],
    /// `X-Amz-Date` (`YYYYMMDDTHHMMSSZ`).
    pub(crate) amz_date: String,
    /// `date/region/service/aws4_request`.
    pub(crate) scope: String,
}

impl std::fmt::Debug for SeedSignature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeedSignature")
            .field("signature", &hex::encode(self.signature))
            .field("amz_date", &self.amz_date)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl SeedSignature {
    /// A seed from its parts: the secret access key, the request time
    /// (`YYYYMMDDTHHMMSSZ`), the credential scope (`date/region/service/aws4_request`)
    /// and the request's signature (64 hex digits). For callers that verified the request
    /// signature themselves (and for tests); `None` when the scope or the signature is
    /// malformed.
    pub fn from_parts(
        secret_access_key: &str,
        amz_date: &str,
        scope: &str,
        signature_hex: &str,
    ) -> Option<SeedSignature> {
        let parts: Vec<&str> = scope.split('/').collect();
        let [date, region, service, crate::verify::TERMINATOR] = parts.as_slice() else {
            return None;
        };
        let signature = hex_decode_32(signature_hex)?;
        Some(SeedSignature {
            key: crate::verify::signing_key(secret_access_key, date, region, service),
            signature,
            amz_date: amz_date.to_owned(),
            scope: scope.to_owned(),
        })
    }

    /// The seed signature, lower-case hex.
    pub fn signature_hex(&self) -> String {
        hex::encode(self.signature)
    }
}

/// Why an S3 body (or the headers describing it) was refused. [`PayloadError::s3_code`]
/// names S3's error; the display text is S3's message where S3 has one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadError {
    /// `x-amz-content-sha256` is missing, malformed or unsupported.
    #[error("{0}")]
    Header(VerifyError),
    /// A header that may appear once appears more than once.
    #[error("Multiple {0} headers are not allowed.")]
    DuplicateHeader(String),
    /// `Content-Length` is not a decimal number within bounds.
    #[error("Invalid value for header {0}.")]
    InvalidLength(String),
    /// `x-amz-decoded-content-length` is missing from an `aws-chunked` request, or is
    /// not a decimal number within bounds (S3 answers both with `MissingContentLength`).
    #[error("You must provide the Content-Length HTTP header.")]
    MissingDecodedContentLength,
    /// `x-amz-trailer` names something other than one checksum header.
    #[error(
        "The value specified in the x-amz-trailer header is not supported; expected one x-amz-checksum-* name."
    )]
    UnsupportedTrailer,
    /// `x-amz-trailer` on a request whose `x-amz-content-sha256` has no trailer.
    #[error("The x-amz-trailer header is only allowed with a STREAMING-…-TRAILER payload.")]
    TrailerNotAllowed,
    /// A chunk size line or the chunk framing is malformed (the message says how).
    #[error("The request body terminated unexpectedly: {0}.")]
    MalformedChunk(&'static str),
    /// A chunk other than the last is smaller than the minimum (8192 bytes), found when
    /// the chunk after it starts.
    #[error("Only the last chunk is allowed to have a size less than {min} bytes")]
    ChunkTooSmall {
        /// The 1-based index of the chunk that followed the small one (S3's `Chunk`).
        chunk: u64,
        /// The small chunk's size (S3's `BadChunkSize`).
        size: u64,
        /// The minimum.
        min: u64,
    },
    /// A chunk larger than the decoder accepts.
    #[error("Chunk size {size} exceeds the maximum of {max} bytes.")]
    ChunkTooLarge {
        /// The declared chunk size (saturated).
        size: u64,
        /// The decoder's limit.
        max: u64,
    },
    /// A chunk or trailer signature does not match.
    #[error(
        "The request signature we calculated does not match the signature you provided. Check your key and signing method."
    )]
    ChunkSignatureMismatch {
        /// The index of the chunk (0-based; the final empty chunk counts) or, for the
        /// trailer signature, the number of chunks.
        chunk: u64,
    },
    /// The body ended before the final chunk, its trailers and the final CRLF.
    #[error("You did not provide the number of bytes specified by the Content-Length HTTP header.")]
    IncompleteBody,
    /// The decoded payload is shorter or longer than declared.
    #[error(
        "You did not provide the number of bytes specified by the x-amz-decoded-content-length HTTP header (declared {declared}, got {received})."
    )]
    DecodedLengthMismatch {
        /// The declared decoded length.
        declared: u64,
        /// Bytes received (or at least received, when too many).
        received: u64,
    },
    /// Bytes after the end of the body.
    #[error("The request body terminated unexpectedly: data after the final chunk.")]
    TrailingData,
    /// The trailer section is malformed (a line without `:`, too long, too many lines,
    /// a duplicate, the trailer signature missing or misplaced).
    #[error("The request contained trailing data that was not well-formed. {0}")]
    MalformedTrailer(&'static str),
    /// A trailer that `x-amz-trailer` did not declare.
    #[error("The trailer {0} was not declared in x-amz-trailer.")]
    UndeclaredTrailer(String),
    /// The declared trailer did not arrive.
    #[error("The x-amz-trailer header specified {0}, but it was not sent.")]
    MissingTrailer(&'static str),
    /// A checksum value that is not base64 of the algorithm's length.
    #[error("Value for {0} trailing header is invalid.")]
    InvalidChecksum(&'static str),
    /// The checksum does not match the data.
    #[error("The {0} you specified did not match the calculated checksum.")]
    ChecksumMismatch(&'static str),
    /// A body with a hex `x-amz-content-sha256` did not hash to it.
    #[error("The provided 'x-amz-content-sha256' header does not match what was computed.")]
    ContentSha256Mismatch,
    /// Input after an error: the decoder refuses everything once it failed.
    #[error("The body was already refused.")]
    Poisoned,
}

impl PayloadError {
    /// The S3 error this stands for.
    pub fn s3_code(&self) -> S3ErrorCode {
        match self {
            Self::Header(e) => e.s3_code(),
            Self::DuplicateHeader(_) | Self::InvalidLength(_) => S3ErrorCode::InvalidArgument,
            Self::MissingDecodedContentLength => S3ErrorCode::MissingContentLength,
            Self::UnsupportedTrailer | Self::TrailerNotAllowed => S3ErrorCode::InvalidRequest,
            Self::ChunkTooLarge { .. } => S3ErrorCode::InvalidArgument,
            Self::MalformedChunk(_) | Self::TrailingData => S3ErrorCode::IncompleteBody,
            Self::ChunkTooSmall { .. } => S3ErrorCode::InvalidChunkSizeError,
            Self::ChunkSignatureMismatch { .. } => S3ErrorCode::SignatureDoesNotMatch,
            Self::IncompleteBody | Self::DecodedLengthMismatch { .. } | Self::Poisoned => {
                S3ErrorCode::IncompleteBody
            }
            Self::MalformedTrailer(_) => S3ErrorCode::MalformedTrailerError,
            Self::UndeclaredTrailer(_) | Self::MissingTrailer(_) | Self::InvalidChecksum(_) => {
                S3ErrorCode::InvalidRequest
            }
            Self::ChecksumMismatch(_) => S3ErrorCode::BadDigest,
            Self::ContentSha256Mismatch => S3ErrorCode::XAmzContentSHA256Mismatch,
        }
    }
}
