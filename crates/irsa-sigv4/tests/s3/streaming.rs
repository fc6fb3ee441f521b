//! S3 payloads: `x-amz-content-sha256` classification, presigned URL bounds, and the
//! `aws-chunked` body decoder, against AWS's documented examples, bodies framed and
//! signed by the AWS SDK for Rust (`aws-sigv4`'s chunk and trailer signer,
//! `aws-runtime`'s `AwsChunkedBody`), arbitrary split points, and an attack suite.

use std::time::Duration;

use aws_lc_rs::digest;
use aws_sigv4::http_request::{
    PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
    UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use base64::Engine as _;
use irsa_sigv4::{
    BodyComplete, BodyDecoder, ChecksumAlgorithm, ContentSha256, DecoderLimits, PayloadError,
    S3ErrorCode, S3Payload, SeedSignature, SignatureLocation as Location, VerifyError,
    VerifyOptions, parse,
};
use proptest::prelude::*;

use super::{AKID, Received, SECRET, Signer, T0};

// ---------------------------------------------------------------------------
// AWS's documented examples.
//
// Source: Amazon S3 API Reference, "Signature Calculations for the Authorization Header:
// Transferring Payload in Multiple Chunks (Chunked Upload)" (sigv4-streaming.html) and
// "Signature calculations for trailing headers" (sigv4-streaming-trailers.html): PUT
// examplebucket/chunkObject.txt with 65,536 + 1,024 bytes of `a`, AKIAIOSFODNN7EXAMPLE /
// wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY, us-east-1, 20130524T000000Z.

const DOC_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
/// 2013-05-24T00:00:00Z
const DOC_TIME: i64 = 1_369_353_600;

struct DocExample {
    content_sha256: &'static str,
    signed_headers: &'static str,
    seed: &'static str,
    chunk_signatures: [&'static str; 3],
    trailer: &'static str,
}

const DOC_STREAMING: DocExample = DocExample {
    content_sha256: "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
    signed_headers: "content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class",
    seed: "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
    chunk_signatures: [
        "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
        "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
        "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
    ],
    trailer: "",
};

const DOC_TRAILER: DocExample = DocExample {
    content_sha256: "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
    signed_headers: "content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class;x-amz-trailer",
    seed: "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e",
    chunk_signatures: [
        "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
        "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
        "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992",
    ],
    trailer: "x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n",
};

impl DocExample {
    fn body(&self) -> Vec<u8> {
        let [s1, s2, s3] = self.chunk_signatures;
        let mut body = format!("10000;chunk-signature={s1}\r\n").into_bytes();
        body.extend_from_slice(&[b'a'; 65_536]);
        body.extend_from_slice(format!("\r\n400;chunk-signature={s2}\r\n").as_bytes());
        body.extend_from_slice(&[b'a'; 1024]);
        body.extend_from_slice(format!("\r\n0;chunk-signature={s3}\r\n").as_bytes());
        body.extend_from_slice(self.trailer.as_bytes());
        body.extend_from_slice(b"\r\n");
        body
    }

    fn request(&self) -> Received {
        let trailer = !self.trailer.is_empty();
        let mut headers = vec![
            ("host", "s3.amazonaws.com".to_owned()),
            ("x-amz-date", "20130524T000000Z".to_owned()),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY".to_owned()),
            (
                "authorization",
                format!(
                    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders={},Signature={}",
                    self.signed_headers, self.seed
                ),
            ),
            ("x-amz-content-sha256", self.content_sha256.to_owned()),
            ("content-encoding", "aws-chunked".to_owned()),
            ("x-amz-decoded-content-length", "66560".to_owned()),
        ];
        if trailer {
            headers.push(("x-amz-trailer", "x-amz-checksum-crc32c".to_owned()));
        } else {
            headers.push(("content-length", "66824".to_owned()));
        }
        Received {
            method: "PUT".to_owned(),
            path: "/examplebucket/chunkObject.txt".to_owned(),
            query: String::new(),
            headers: headers
                .into_iter()
                .map(|(n, v)| (n.to_owned(), v.into_bytes()))
                .collect(),
            body: Vec::new(),
        }
    }
}

/// Verifies the request head (the seed) and returns what the body decoder needs.
fn verify_head(r: &Received, secret: &str, now: i64) -> (S3Payload, SeedSignature) {
    r.with(|req| {
        let parsed = parse(req, &VerifyOptions::s3_streaming()).unwrap();
        let (verified, seed) = parsed.verify_s3(secret, now).unwrap();
        assert_eq!(verified.location, Location::Header);
        let payload = S3Payload::from_headers(req.headers, false).unwrap();
        assert_eq!(verified.content_sha256, Some(payload.content_sha256));
        (payload, seed)
    })
}

/// Decodes `body` fed in pieces cut at `cuts` (offsets, any order, out of range ignored).
fn decode_split(
    payload: &S3Payload,
    seed: Option<SeedSignature>,
    body: &[u8],
    cuts: &[usize],
) -> Result<(Vec<u8>, BodyComplete), PayloadError> {
    let mut decoder = BodyDecoder::new(payload, seed, DecoderLimits::default())?;
    let mut cuts: Vec<usize> = cuts.iter().copied().filter(|&c| c <= body.len()).collect();
    cuts.sort_unstable();
    cuts.push(body.len());
    let mut out = Vec::new();
    let mut at = 0;
    for cut in cuts {
        decoder.feed(&body[at..cut], &mut out)?;
        assert!(
            decoder.buffered_bytes() <= 16 * 1024 * 1024 + 2048,
            "bounded buffering"
        );
        at = cut;
    }
    let done = decoder.finish()?;
    assert!(decoder.is_complete());
    Ok((out, done))
}

fn decode(
    payload: &S3Payload,
    seed: Option<SeedSignature>,
    body: &[u8],
) -> Result<(Vec<u8>, BodyComplete), PayloadError> {
    decode_split(payload, seed, body, &[])
}

#[test]
fn aws_documented_streaming_example() {
    let example = DOC_STREAMING;
    let body = example.body();
    assert_eq!(body.len(), 66_824, "the documented Content-Length");
    let (payload, seed) = verify_head(&example.request(), DOC_SECRET, DOC_TIME);
    assert_eq!(seed.signature_hex(), example.seed);
    assert_eq!(payload.content_sha256, ContentSha256::StreamingSigned);
    assert_eq!(payload.decoded_length, Some(66_560));
    let (out, done) = decode(&payload, Some(seed.clone()), &body).unwrap();
    assert_eq!(out, vec![b'a'; 66_560]);
    assert_eq!(
        done,
        BodyComplete {
            decoded_length: 66_560,
            chunks: 3,
            checksum: None
        }
    );
    // Byte by byte, the same.
    let cuts: Vec<usize> = (0..body.len()).collect();
    assert_eq!(
        decode_split(&payload, Some(seed), &body, &cuts).unwrap().0,
        out
    );
}

#[test]
fn aws_documented_trailer_example() {
    let example = DOC_TRAILER;
    let (payload, seed) = verify_head(&example.request(), DOC_SECRET, DOC_TIME);
    assert_eq!(seed.signature_hex(), example.seed);
    assert_eq!(payload.trailer, Some(ChecksumAlgorithm::Crc32c));
    let (out, done) = decode(&payload, Some(seed.clone()), &example.body()).unwrap();
    assert_eq!(out, vec![b'a'; 66_560]);
    let crc = base64::engine::general_purpose::STANDARD
        .decode("sOO8/Q==")
        .unwrap();
    assert_eq!(done.checksum, Some((ChecksumAlgorithm::Crc32c, crc)));
    // Another trailer signature: refused.
    let tampered = String::from_utf8(example.body())
        .unwrap()
        .replace("d81f82fc", "d81f82fd");
    assert_code(
        decode(&payload, Some(seed), tampered.as_bytes()),
        S3ErrorCode::SignatureDoesNotMatch,
    );
}

#[test]
fn documented_example_from_its_parts() {
    // The same chain from SeedSignature::from_parts (no request verification).
    let seed = SeedSignature::from_parts(
        DOC_SECRET,
        "20130524T000000Z",
        "20130524/us-east-1/s3/aws4_request",
        DOC_STREAMING.seed,
    )
    .unwrap();
    let payload = S3Payload {
        content_sha256: ContentSha256::StreamingSigned,
        decoded_length: Some(66_560),
        trailer: None,
    };
    assert!(decode(&payload, Some(seed), &DOC_STREAMING.body()).is_ok());
    for scope in [
        "20130524/us-east-1/s3",
        "20130524/us-east-1/s3/aws4_request/x",
    ] {
        assert!(
            SeedSignature::from_parts(DOC_SECRET, "20130524T000000Z", scope, DOC_STREAMING.seed)
                .is_none()
        );
    }
    assert!(
        SeedSignature::from_parts(
            DOC_SECRET,
            "20130524T000000Z",
            "20130524/us-east-1/s3/aws4_request",
            "zz"
        )
        .is_none()
    );
}

// ---------------------------------------------------------------------------
// Bodies signed by the AWS SDK for Rust's signer.

const STREAMING_SIGNED: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
const STREAMING_SIGNED_TRAILER: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
const STREAMING_UNSIGNED_TRAILER: &str = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";

fn identity() -> Identity {
    aws_credential_types::Credentials::new(AKID, SECRET, None, None, "test").into()
}

/// S3 signing settings as the SDK uses them.
fn s3_settings() -> SigningSettings {
    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    settings.payload_checksum_kind = aws_sigv4::http_request::PayloadChecksumKind::XAmzSha256;
    settings
}

/// The parameters aws-sigv4 signs the S3 requests of these tests with: us-east-1, at T0.
fn s3_params(identity: &Identity) -> v4::SigningParams<'_, SigningSettings> {
    v4::SigningParams::builder()
        .identity(identity)
        .region("us-east-1")
        .name("s3")
        .time(irsa_test::system_time(T0))
        .settings(s3_settings())
        .build()
        .unwrap()
}

/// An S3 PUT whose head is signed by aws-sigv4 with `content_sha256` as the payload value;
/// returns the request as received and the seed signature (hex).
fn sdk_put(content_sha256: &str, decoded: usize, trailer: Option<&str>) -> (Received, String) {
    let identity = identity();
    let params = s3_params(&identity).into();
    let decoded = decoded.to_string();
    let mut headers = vec![
        ("host", "bucket.s3.us-east-1.amazonaws.com"),
        ("content-encoding", "aws-chunked"),
        ("x-amz-decoded-content-length", decoded.as_str()),
        ("x-amz-content-sha256", content_sha256),
    ];
    if let Some(t) = trailer {
        headers.push(("x-amz-trailer", t));
    }
    let url = "https://bucket.s3.us-east-1.amazonaws.com/dir/object.bin";
    let signable = SignableRequest::new(
        "PUT",
        url,
        headers.iter().copied(),
        SignableBody::Precomputed(content_sha256.to_owned()),
    )
    .unwrap();
    let (instructions, signature) = sign(signable, &params).unwrap().into_parts();
    let mut request = http::Request::builder().method("PUT").uri(url);
    for (n, v) in &headers {
        request = request.header(*n, *v);
    }
    let mut request = request.body(()).unwrap();
    instructions.apply_to_request_http1x(&mut request);
    let received = Received {
        method: "PUT".to_owned(),
        path: "/dir/object.bin".to_owned(),
        query: String::new(),
        headers: request
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
            .collect(),
        body: Vec::new(),
    };
    (received, signature)
}

/// Frames `data` in signed chunks of `sizes` (cycled; the rest in the last), each signed
/// by aws-sigv4's `sign_chunk` chained from `seed`; the final empty chunk; the trailer
/// signed by `sign_trailer` when given.
fn sdk_signed_body(
    data: &[u8],
    sizes: &[usize],
    seed: &str,
    trailer: Option<(&str, String)>,
) -> Vec<u8> {
    let identity = identity();
    let params = s3_params(&identity);
    let mut running = seed.to_owned();
    let mut out = Vec::new();
    let mut chunk_with = |piece: &[u8], out: &mut Vec<u8>| {
        let bytes = bytes::Bytes::copy_from_slice(piece);
        running = v4::sign_chunk(&bytes, &running, &params)
            .unwrap()
            .signature()
            .to_owned();
        out.extend_from_slice(
            format!("{:x};chunk-signature={running}\r\n", piece.len()).as_bytes(),
        );
        out.extend_from_slice(piece);
        if !piece.is_empty() {
            out.extend_from_slice(b"\r\n");
        }
    };
    for piece in pieces(data, sizes) {
        chunk_with(piece, &mut out);
    }
    chunk_with(b"", &mut out);
    match trailer {
        None => out.extend_from_slice(b"\r\n"),
        Some((name, value)) => {
            let mut headers = aws_smithy_runtime_api::http::Headers::new();
            headers.insert(name.to_owned(), value.clone());
            let signature = v4::sign_trailer(&headers, &running, &params)
                .unwrap()
                .signature()
                .to_owned();
            out.extend_from_slice(
                format!("{name}:{value}\r\nx-amz-trailer-signature:{signature}\r\n\r\n").as_bytes(),
            );
        }
    }
    out
}

/// `data` cut into pieces of `sizes` (cycled).
fn pieces<'d>(data: &'d [u8], sizes: &[usize]) -> Vec<&'d [u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    let mut i = 0;
    while !rest.is_empty() {
        let n = sizes[i % sizes.len()].clamp(1, rest.len());
        let (a, b) = rest.split_at(n);
        out.push(a);
        rest = b;
        i += 1;
    }
    out
}

/// Frames `data` in unsigned chunks (as the SDK does for `STREAMING-UNSIGNED-PAYLOAD-TRAILER`).
fn unsigned_body(data: &[u8], sizes: &[usize], trailer: Option<(&str, String)>) -> Vec<u8> {
    let mut out = Vec::new();
    for piece in pieces(data, sizes) {
        out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        out.extend_from_slice(piece);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n");
    if let Some((name, value)) = trailer {
        out.extend_from_slice(format!("{name}:{value}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// `x-amz-checksum-*` value of `data`, computed independently of the decoder.
fn checksum_b64(algorithm: ChecksumAlgorithm, data: &[u8]) -> String {
    let raw: Vec<u8> = match algorithm {
        ChecksumAlgorithm::Crc32 => crc32fast::hash(data).to_be_bytes().to_vec(),
        ChecksumAlgorithm::Crc32c => crc32c::crc32c(data).to_be_bytes().to_vec(),
        ChecksumAlgorithm::Crc64Nvme => {
            let mut d = crc64fast_nvme::Digest::new();
            d.write(data);
            d.sum64().to_be_bytes().to_vec()
        }
        ChecksumAlgorithm::Sha1 => digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, data)
            .as_ref()
            .to_vec(),
        ChecksumAlgorithm::Sha256 => digest::digest(&digest::SHA256, data).as_ref().to_vec(),
    };
    base64::engine::general_purpose::STANDARD.encode(raw)
}

fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 % 251) as u8).collect()
}

fn assert_code<T: std::fmt::Debug>(result: Result<T, PayloadError>, code: S3ErrorCode) {
    match result {
        Ok(v) => panic!("expected {code}, got Ok({v:?})"),
        Err(e) => assert_eq!(e.s3_code(), code, "{e:?}: {e}"),
    }
}

/// A signed streaming request over `data`, its body and what the decoder needs.
struct Signed {
    payload: S3Payload,
    seed: SeedSignature,
    seed_hex: String,
    body: Vec<u8>,
}

fn signed(data: &[u8], sizes: &[usize], trailer: Option<ChecksumAlgorithm>) -> Signed {
    let mode = if trailer.is_some() {
        STREAMING_SIGNED_TRAILER
    } else {
        STREAMING_SIGNED
    };
    let (request, seed_hex) = sdk_put(mode, data.len(), trailer.map(|a| a.header_name()));
    let (payload, seed) = verify_head(&request, SECRET, T0);
    assert_eq!(seed.signature_hex(), seed_hex);
    let trailer = trailer.map(|a| (a.header_name(), checksum_b64(a, data)));
    let body = sdk_signed_body(data, sizes, &seed_hex, trailer);
    Signed {
        payload,
        seed,
        seed_hex,
        body,
    }
}

#[test]
fn sdk_signed_chunks_decode() {
    for (n, sizes) in [
        (0, &[8192][..]),
        (1, &[8192]),
        (8192, &[8192]),
        (100_000, &[65_536]),
        (100_000, &[8192, 30_000, 9000]),
    ] {
        let d = data(n);
        let s = signed(&d, sizes, None);
        let (out, done) = decode(&s.payload, Some(s.seed), &s.body).unwrap();
        assert_eq!(out, d, "{n} {sizes:?}");
        assert_eq!(done.decoded_length, n as u64);
        assert_eq!(done.chunks, pieces(&d, sizes).len() as u64 + 1);
    }
}

#[test]
fn sdk_signed_trailers_decode_for_every_checksum() {
    let d = data(70_000);
    for algorithm in ChecksumAlgorithm::ALL {
        let s = signed(&d, &[65_536], Some(algorithm));
        let (out, done) = decode(&s.payload, Some(s.seed.clone()), &s.body).unwrap();
        assert_eq!(out, d);
        let (a, raw) = done.checksum.unwrap();
        assert_eq!(a, algorithm);
        assert_eq!(raw.len(), algorithm.digest_len());
        // The checksum of other data, correctly signed: BadDigest.
        let wrong = sdk_signed_body(
            &d,
            &[65_536],
            &s.seed_hex,
            Some((algorithm.header_name(), checksum_b64(algorithm, b"other"))),
        );
        assert_code(
            decode(&s.payload, Some(s.seed), &wrong),
            S3ErrorCode::BadDigest,
        );
    }
}

#[test]
fn unsigned_trailers_decode_for_every_checksum() {
    let d = data(70_000);
    for algorithm in ChecksumAlgorithm::ALL {
        let payload = S3Payload {
            content_sha256: ContentSha256::StreamingUnsignedTrailer,
            decoded_length: Some(d.len() as u64),
            trailer: Some(algorithm),
        };
        let body = unsigned_body(
            &d,
            &[65_536],
            Some((algorithm.header_name(), checksum_b64(algorithm, &d))),
        );
        let (out, done) = decode(&payload, None, &body).unwrap();
        assert_eq!(out, d);
        assert_eq!(done.checksum.unwrap().0, algorithm);
        let wrong = unsigned_body(
            &d,
            &[65_536],
            Some((algorithm.header_name(), checksum_b64(algorithm, b"x"))),
        );
        assert_code(decode(&payload, None, &wrong), S3ErrorCode::BadDigest);
    }
}

/// The AWS SDK for Rust's own aws-chunked encoder (`aws-runtime`'s `AwsChunkedBody`, as
/// its S3 client wraps PutObject bodies), unsigned with a CRC32 trailer.
#[test]
fn sdk_aws_chunked_body_encoder_decodes() {
    use http_body_util::BodyExt as _;
    let d = data(200_000);
    let checksum = checksum_b64(ChecksumAlgorithm::Crc32, &d);
    let mut trailers = http::HeaderMap::new();
    trailers.insert("x-amz-checksum-crc32", checksum.parse().unwrap());
    let trailer_len = ("x-amz-checksum-crc32".len() + 1 + checksum.len()) as u64;
    let frames: Vec<Result<http_body::Frame<bytes::Bytes>, aws_smithy_types::body::Error>> = vec![
        Ok(http_body::Frame::data(bytes::Bytes::copy_from_slice(
            &d[..150_000],
        ))),
        Ok(http_body::Frame::data(bytes::Bytes::copy_from_slice(
            &d[150_000..],
        ))),
        Ok(http_body::Frame::trailers(trailers)),
    ];
    let inner = http_body_util::StreamBody::new(futures::stream::iter(frames));
    let options = aws_runtime::content_encoding::AwsChunkedBodyOptions::new(
        d.len() as u64,
        vec![trailer_len],
    );
    let encoded_length = options.encoded_length();
    let body = aws_runtime::content_encoding::AwsChunkedBody::new(inner, options);
    let encoded = futures::executor::block_on(body.collect())
        .unwrap()
        .to_bytes()
        .to_vec();
    assert_eq!(encoded.len() as u64, encoded_length);
    let payload = S3Payload {
        content_sha256: ContentSha256::StreamingUnsignedTrailer,
        decoded_length: Some(d.len() as u64),
        trailer: Some(ChecksumAlgorithm::Crc32),
    };
    let (out, done) = decode(&payload, None, &encoded).unwrap();
    assert_eq!(out, d);
    assert!(done.chunks >= 2);
    // Byte by byte.
    let cuts: Vec<usize> = (0..encoded.len()).step_by(7).collect();
    assert_eq!(decode_split(&payload, None, &encoded, &cuts).unwrap().0, d);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Any split of the input gives the same output, in every streaming mode.
    #[test]
    fn any_split_gives_the_same_output(
        len in 0usize..20_000,
        chunk in 8192usize..12_000,
        cuts in proptest::collection::vec(0usize..21_000, 0..40),
        mode in 0u8..3,
    ) {
        let d = data(len);
        let (payload, seed, body) = match mode {
            0 => { let s = signed(&d, &[chunk], None); (s.payload, Some(s.seed), s.body) }
            1 => {
                let s = signed(&d, &[chunk], Some(ChecksumAlgorithm::Crc32c));
                (s.payload, Some(s.seed), s.body)
            }
            _ => {
                let payload = S3Payload {
                    content_sha256: ContentSha256::StreamingUnsignedTrailer,
                    decoded_length: Some(len as u64),
                    trailer: Some(ChecksumAlgorithm::Sha256),
                };
                let body = unsigned_body(&d, &[chunk], Some((
                    "x-amz-checksum-sha256",
                    checksum_b64(ChecksumAlgorithm::Sha256, &d),
                )));
                (payload, None, body)
            }
        };
        let (out, _) = decode_split(&payload, seed, &body, &cuts).unwrap();
        prop_assert_eq!(out, d);
    }

    /// Any single-byte change to a signed body is refused (or, inside a size line's hex,
    /// changes the framing, also refused).
    #[test]
    fn any_byte_flip_in_a_signed_body_is_refused(
        at in 0usize..30_000,
        bit in 0u8..8,
        trailer in any::<bool>(),
    ) {
        let d = data(20_000);
        let s = signed(&d, &[8192], trailer.then_some(ChecksumAlgorithm::Crc32));
        let mut body = s.body.clone();
        let at = at % body.len();
        body[at] ^= 1 << bit;
        let result = decode(&s.payload, Some(s.seed), &body);
        // The only accepted change: the case of a hex letter in a chunk size (the SDKs
        // write sizes in either case).
        let line_start = s.body[..at].iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let in_size = s.body[line_start..=at].iter().all(u8::is_ascii_hexdigit);
        let size_digit_case =
            in_size && body[at] != s.body[at] && body[at].eq_ignore_ascii_case(&s.body[at]);
        prop_assert!(result.is_err() || size_digit_case, "flip at {} accepted", at);
    }
}

// ---------------------------------------------------------------------------
// Attacks: each refused, with S3's code.

#[test]
fn tampered_chunk_data_is_refused_before_release() {
    let d = data(3 * 8192);
    let s = signed(&d, &[8192], None);
    let mut body = s.body.clone();
    // A byte of the second chunk.
    let second = body.len() / 2;
    body[second] ^= 1;
    let mut decoder = BodyDecoder::new(&s.payload, Some(s.seed), DecoderLimits::default()).unwrap();
    let mut out = Vec::new();
    let err = decoder.feed(&body, &mut out).unwrap_err();
    assert_eq!(err.s3_code(), S3ErrorCode::SignatureDoesNotMatch);
    assert_eq!(err, PayloadError::ChunkSignatureMismatch { chunk: 1 });
    // Only the verified first chunk was released.
    assert_eq!(out, d[..8192]);
    // The decoder stays failed.
    assert_eq!(decoder.feed(b"", &mut out).unwrap_err(), err);
    assert_eq!(decoder.finish().unwrap_err(), err);
    assert!(!decoder.is_complete());
}

/// The body split into its chunk frames (each with its CRLF), the final part last.
fn frames(body: &[u8]) -> Vec<Vec<u8>> {
    let text = body;
    let mut out = Vec::new();
    let mut at = 0;
    loop {
        let line_end = at + text[at..].windows(2).position(|w| w == b"\r\n").unwrap();
        let line = std::str::from_utf8(&text[at..line_end]).unwrap();
        let size = usize::from_str_radix(line.split(';').next().unwrap(), 16).unwrap();
        if size == 0 {
            out.push(text[at..].to_vec());
            return out;
        }
        let end = line_end + 2 + size + 2;
        out.push(text[at..end].to_vec());
        at = end;
    }
}

#[test]
fn reordered_dropped_and_replayed_chunks_are_refused() {
    let d = data(4 * 8192);
    let s = signed(&d, &[8192], None);
    let f = frames(&s.body);
    assert_eq!(f.len(), 5);
    let cases: Vec<(&str, Vec<usize>)> = vec![
        ("swapped", vec![1, 0, 2, 3, 4]),
        ("dropped", vec![0, 2, 3, 4]),
        ("repeated", vec![0, 0, 1, 2, 3, 4]),
        ("final first", vec![4]),
    ];
    for (name, order) in cases {
        let body: Vec<u8> = order.iter().flat_map(|&i| f[i].clone()).collect();
        let result = decode(&s.payload, Some(s.seed.clone()), &body);
        let err = result.unwrap_err();
        assert!(
            matches!(
                err.s3_code(),
                S3ErrorCode::SignatureDoesNotMatch | S3ErrorCode::IncompleteBody
            ),
            "{name}: {err:?}"
        );
    }
    // A chunk signature from another request (same data, another seed).
    let other = signed(&d, &[8192], None);
    let (req2, _) = sdk_put(STREAMING_SIGNED, d.len() + 1, None);
    let (_, other_seed) = verify_head(&req2, SECRET, T0);
    assert_ne!(other_seed.signature_hex(), other.seed_hex);
    assert_code(
        decode(&other.payload, Some(other_seed), &other.body),
        S3ErrorCode::SignatureDoesNotMatch,
    );
    // A signature with a wrong secret.
    let wrong = SeedSignature::from_parts(
        "not-the-secret",
        "20240101T000000Z",
        "20240101/us-east-1/s3/aws4_request",
        &s.seed_hex,
    )
    .unwrap();
    assert_code(
        decode(&s.payload, Some(wrong), &s.body),
        S3ErrorCode::SignatureDoesNotMatch,
    );
}

#[test]
fn tampered_chunk_signature_is_refused() {
    let d = data(10_000);
    let s = signed(&d, &[8192], None);
    let text = String::from_utf8_lossy(&s.body).into_owned();
    let sig_at = text.find("chunk-signature=").unwrap() + "chunk-signature=".len();
    let original = &text[sig_at..sig_at + 1];
    let other_digit = if original == "0" { "1" } else { "0" };
    let upper = original.to_uppercase();
    for replacement in [other_digit, "A", "g", upper.as_str()] {
        if replacement == original {
            continue;
        }
        let mut body = s.body.clone();
        body.splice(sig_at..sig_at + 1, replacement.bytes());
        let err = decode(&s.payload, Some(s.seed.clone()), &body).unwrap_err();
        assert!(
            matches!(
                err.s3_code(),
                S3ErrorCode::SignatureDoesNotMatch | S3ErrorCode::IncompleteBody
            ),
            "{replacement}: {err:?}"
        );
    }
    // The signature missing, or a different extension name.
    for (from, to) in [
        (";chunk-signature=", ";"),
        (";chunk-signature=", ";chunk-signaturex="),
        (";chunk-signature=", ""),
    ] {
        let body = text.replacen(from, to, 1);
        assert_code(
            decode(&s.payload, Some(s.seed.clone()), body.as_bytes()),
            S3ErrorCode::IncompleteBody,
        );
    }
}

#[test]
fn truncated_streams_are_incomplete() {
    let d = data(3 * 8192);
    for trailer in [None, Some(ChecksumAlgorithm::Crc32)] {
        let s = signed(&d, &[8192], trailer);
        for cut in [
            0,
            1,
            50,
            8192,
            s.body.len() / 2,
            s.body.len() - 3,
            s.body.len() - 1,
        ] {
            assert_code(
                decode(&s.payload, Some(s.seed.clone()), &s.body[..cut]),
                S3ErrorCode::IncompleteBody,
            );
        }
    }
    // Unsigned: the released bytes do not make it complete.
    let payload = unsigned_payload(d.len(), None);
    let body = unsigned_body(&d, &[8192], None);
    let mut decoder = BodyDecoder::new(&payload, None, DecoderLimits::default()).unwrap();
    let mut out = Vec::new();
    decoder.feed(&body[..body.len() - 2], &mut out).unwrap();
    assert_eq!(out, d, "unsigned bytes are released as they arrive");
    assert!(!decoder.is_complete());
    assert_code(decoder.finish(), S3ErrorCode::IncompleteBody);
}

fn unsigned_payload(len: usize, trailer: Option<ChecksumAlgorithm>) -> S3Payload {
    S3Payload {
        content_sha256: ContentSha256::StreamingUnsignedTrailer,
        decoded_length: Some(len as u64),
        trailer,
    }
}

#[test]
fn extra_bytes_after_the_final_chunk_are_refused() {
    let d = data(100);
    let s = signed(&d, &[8192], None);
    for extra in [&b"x"[..], b"\r\n", b"0;chunk-signature=00\r\n\r\n"] {
        let mut body = s.body.clone();
        body.extend_from_slice(extra);
        assert_code(
            decode(&s.payload, Some(s.seed.clone()), &body),
            S3ErrorCode::IncompleteBody,
        );
    }
    let payload = unsigned_payload(d.len(), None);
    let mut body = unsigned_body(&d, &[8192], None);
    body.extend_from_slice(b"5\r\nhello\r\n");
    assert_code(decode(&payload, None, &body), S3ErrorCode::IncompleteBody);
}

#[test]
fn size_line_overflow_and_garbage_are_refused() {
    let payload = unsigned_payload(16, None);
    for size_line in [
        "ffffffffffffffffff", // 18 digits
        "10000000000000000",  // 17 digits
        "ffffffffffffffff",   // u64::MAX: larger than declared
        "-10",
        "0x10",
        "+10",
        " 10",
        "10 ",
        "",
        "1O",
        "10;",
        "10;chunk-signature=ab",
        "١٠",
    ] {
        let body = format!("{size_line}\r\n0123456789abcdef\r\n0\r\n\r\n");
        let err = decode(&payload, None, body.as_bytes()).unwrap_err();
        assert!(
            matches!(err.s3_code(), S3ErrorCode::IncompleteBody),
            "{size_line:?}: {err:?}"
        );
    }
    // A size line longer than the bound is refused as soon as it is too long, without
    // waiting for its end.
    let mut decoder = BodyDecoder::new(&payload, None, DecoderLimits::default()).unwrap();
    let err = decoder.feed(&[b'0'; 200], &mut Vec::new()).unwrap_err();
    assert_eq!(err.s3_code(), S3ErrorCode::IncompleteBody);
    // Leading zeros are fine (16 digits at most).
    let body = "0000000000000010\r\n0123456789abcdef\r\n0\r\n\r\n";
    assert!(decode(&payload, None, body.as_bytes()).is_ok());
}

#[test]
fn chunk_larger_than_the_limit_or_the_declared_length_is_refused() {
    // Signed: above max_chunk_size, refused at the header line (nothing buffered).
    let d = data(100);
    let s = signed(&d, &[8192], None);
    let limits = DecoderLimits {
        max_chunk_size: 64,
        ..DecoderLimits::default()
    };
    let mut decoder = BodyDecoder::new(&s.payload, Some(s.seed.clone()), limits).unwrap();
    let err = decoder.feed(&s.body, &mut Vec::new()).unwrap_err();
    assert_eq!(err, PayloadError::ChunkTooLarge { size: 100, max: 64 });
    assert_eq!(err.s3_code(), S3ErrorCode::InvalidArgument);
    assert_eq!(decoder.buffered_bytes(), 0);
    // The default limit: 16 MiB + 1 is refused before any data.
    let line = format!("1000001;chunk-signature={}\r\n", "0".repeat(64));
    let mut decoder = BodyDecoder::new(
        &S3Payload {
            decoded_length: Some(1 << 30),
            ..s.payload.clone()
        },
        Some(s.seed.clone()),
        DecoderLimits::default(),
    )
    .unwrap();
    assert_code(
        decoder.feed(line.as_bytes(), &mut Vec::new()),
        S3ErrorCode::InvalidArgument,
    );
    // A chunk longer than what remains of x-amz-decoded-content-length.
    let short = S3Payload {
        decoded_length: Some(99),
        ..s.payload.clone()
    };
    assert_code(
        decode(&short, Some(s.seed.clone()), &s.body),
        S3ErrorCode::IncompleteBody,
    );
    // Fewer bytes than declared, then the final chunk.
    let long = S3Payload {
        decoded_length: Some(101),
        ..s.payload.clone()
    };
    assert_code(
        decode(&long, Some(s.seed.clone()), &s.body),
        S3ErrorCode::IncompleteBody,
    );
    let payload = unsigned_payload(10, None);
    assert_code(
        decode(
            &payload,
            None,
            unsigned_body(&data(11), &[11], None).as_slice(),
        ),
        S3ErrorCode::IncompleteBody,
    );
    assert_code(
        decode(
            &payload,
            None,
            unsigned_body(&data(9), &[9], None).as_slice(),
        ),
        S3ErrorCode::IncompleteBody,
    );
}

#[test]
fn trailer_attacks_are_refused() {
    let d = data(1000);
    let crc = checksum_b64(ChecksumAlgorithm::Crc32, &d);
    let declared = unsigned_payload(d.len(), Some(ChecksumAlgorithm::Crc32));
    let undeclared = unsigned_payload(d.len(), None);
    let chunk = |trailers: &str| {
        let mut body = unsigned_body(&d, &[1000], None);
        body.truncate(body.len() - 2); // the final CRLF
        body.extend_from_slice(trailers.as_bytes());
        body
    };
    let ok = format!("x-amz-checksum-crc32:{crc}\r\n\r\n");
    assert!(decode(&declared, None, &chunk(&ok)).is_ok());
    let cases: Vec<(&str, &S3Payload, String, S3ErrorCode)> = vec![
        (
            "declared but missing",
            &declared,
            "\r\n".into(),
            S3ErrorCode::InvalidRequest,
        ),
        (
            "undeclared",
            &undeclared,
            ok.clone(),
            S3ErrorCode::InvalidRequest,
        ),
        (
            "another checksum than declared",
            &declared,
            format!(
                "x-amz-checksum-sha256:{}\r\n\r\n",
                checksum_b64(ChecksumAlgorithm::Sha256, &d)
            ),
            S3ErrorCode::InvalidRequest,
        ),
        (
            "not a checksum",
            &declared,
            format!("x-amz-checksum-crc32:{crc}\r\nx-amz-meta-evil:1\r\n\r\n"),
            S3ErrorCode::InvalidRequest,
        ),
        (
            "duplicate",
            &declared,
            format!("x-amz-checksum-crc32:{crc}\r\nx-amz-checksum-crc32:{crc}\r\n\r\n"),
            S3ErrorCode::MalformedTrailerError,
        ),
        (
            "wrong checksum",
            &declared,
            "x-amz-checksum-crc32:AAAAAA==\r\n\r\n".into(),
            S3ErrorCode::BadDigest,
        ),
        (
            "not base64",
            &declared,
            "x-amz-checksum-crc32:!!!!\r\n\r\n".into(),
            S3ErrorCode::InvalidRequest,
        ),
        (
            "wrong length",
            &declared,
            "x-amz-checksum-crc32:AAAAAAAA\r\n\r\n".into(),
            S3ErrorCode::InvalidRequest,
        ),
        (
            "no colon",
            &declared,
            format!("x-amz-checksum-crc32 {crc}\r\n\r\n"),
            S3ErrorCode::MalformedTrailerError,
        ),
        (
            "trailer signature in unsigned mode",
            &declared,
            format!(
                "x-amz-checksum-crc32:{crc}\r\nx-amz-trailer-signature:{}\r\n\r\n",
                "0".repeat(64)
            ),
            S3ErrorCode::InvalidRequest,
        ),
        (
            "bare LF",
            &declared,
            format!("x-amz-checksum-crc32:{crc}\n\r\n"),
            S3ErrorCode::MalformedTrailerError,
        ),
        (
            "CR without LF",
            &declared,
            format!("x-amz-checksum-crc32:{crc}\r\r\n"),
            S3ErrorCode::MalformedTrailerError,
        ),
        (
            "too long",
            &declared,
            format!("x-amz-checksum-crc32:{crc}{}\r\n\r\n", " ".repeat(2000)),
            S3ErrorCode::MalformedTrailerError,
        ),
        (
            "too many lines",
            &declared,
            format!("x-amz-checksum-crc32:{crc}\r\n{}\r\n", "a:b\r\n".repeat(10)),
            S3ErrorCode::MalformedTrailerError,
        ),
    ];
    for (name, payload, trailers, code) in cases {
        let err = decode(payload, None, &chunk(&trailers)).unwrap_err();
        assert_eq!(err.s3_code(), code, "{name}: {err:?}");
    }
    // The trailer section never ends: incomplete.
    assert_code(
        decode(
            &declared,
            None,
            &chunk(&format!("x-amz-checksum-crc32:{crc}\r\n")),
        ),
        S3ErrorCode::IncompleteBody,
    );
}

#[test]
fn signed_trailer_attacks_are_refused() {
    let d = data(1000);
    let s = signed(&d, &[1000], Some(ChecksumAlgorithm::Crc32));
    // The body up to the final chunk's header line, and the rest as text.
    let final_at = s
        .body
        .windows(18)
        .rposition(|w| w == b"0;chunk-signature=")
        .unwrap();
    let head = s.body[..final_at].to_vec();
    let text = String::from_utf8(s.body[final_at..].to_vec()).unwrap();
    let with = |tail: &str| [head.clone(), tail.as_bytes().to_vec()].concat();
    assert!(decode(&s.payload, Some(s.seed.clone()), &with(&text)).is_ok());
    let crc_line = text
        .lines()
        .find(|l| l.starts_with("x-amz-checksum-crc32:"))
        .unwrap()
        .to_owned();
    let sig_line = text
        .lines()
        .find(|l| l.starts_with("x-amz-trailer-signature:"))
        .unwrap()
        .to_owned();
    let prefix = &text[..text.find("x-amz-checksum").unwrap()];
    let cases = [
        // The signature missing.
        (
            format!("{prefix}{crc_line}\r\n\r\n"),
            S3ErrorCode::MalformedTrailerError,
        ),
        // Before the checksum.
        (
            format!("{prefix}{sig_line}\r\n{crc_line}\r\n\r\n"),
            S3ErrorCode::MalformedTrailerError,
        ),
        // Another checksum value under the same signature.
        (
            format!("{prefix}x-amz-checksum-crc32:AAAAAA==\r\n{sig_line}\r\n\r\n"),
            S3ErrorCode::SignatureDoesNotMatch,
        ),
        // The checksum dropped, the signature kept.
        (
            format!("{prefix}{sig_line}\r\n\r\n"),
            S3ErrorCode::SignatureDoesNotMatch,
        ),
        // The signature malformed.
        (
            format!("{prefix}{crc_line}\r\nx-amz-trailer-signature:xyz\r\n\r\n"),
            S3ErrorCode::MalformedTrailerError,
        ),
    ];
    for (tail, code) in cases {
        let err = decode(&s.payload, Some(s.seed.clone()), &with(&tail)).unwrap_err();
        assert_eq!(err.s3_code(), code, "{tail:?}: {err:?}");
    }
}

#[test]
fn crlf_confusion_in_framing_is_refused() {
    let d = data(16);
    let payload = unsigned_payload(16, None);
    let good = unsigned_body(&d, &[16], None);
    assert!(decode(&payload, None, &good).is_ok());
    let text = good.clone();
    let variants: Vec<Vec<u8>> = vec![
        // LF-only line ends.
        [b"10\n".to_vec(), d.clone(), b"\r\n0\r\n\r\n".to_vec()].concat(),
        [b"10\r\n".to_vec(), d.clone(), b"\n0\r\n\r\n".to_vec()].concat(),
        // CR-only.
        [b"10\r".to_vec(), d.clone(), b"\r\n0\r\n\r\n".to_vec()].concat(),
        // Data one byte longer than declared before the CRLF.
        [b"10\r\n".to_vec(), d.clone(), b"x\r\n0\r\n\r\n".to_vec()].concat(),
        // Missing CRLF after the data.
        [b"10\r\n".to_vec(), d.clone(), b"0\r\n\r\n".to_vec()].concat(),
        // LF CR.
        [b"10\n\r".to_vec(), d.clone(), b"\r\n0\r\n\r\n".to_vec()].concat(),
        // Final CRLF replaced by LF.
        [text[..text.len() - 2].to_vec(), b"\n".to_vec()].concat(),
    ];
    for body in variants {
        let err = decode(&payload, None, &body).unwrap_err();
        assert!(
            matches!(
                err.s3_code(),
                S3ErrorCode::IncompleteBody | S3ErrorCode::MalformedTrailerError
            ),
            "{:?}: {err:?}",
            String::from_utf8_lossy(&body)
        );
    }
    // Signed: the final chunk's CRLF must be CRLF.
    let s = signed(&d, &[16], None);
    let mut body = s.body.clone();
    let n = body.len();
    body[n - 2] = b'\n';
    assert_code(
        decode(&s.payload, Some(s.seed.clone()), &body),
        S3ErrorCode::IncompleteBody,
    );
}

#[test]
fn unsigned_chunks_take_no_extension_and_signed_need_a_seed() {
    let payload = unsigned_payload(3, None);
    assert_code(
        decode(&payload, None, b"3;chunk-signature=00\r\nabc\r\n0\r\n\r\n"),
        S3ErrorCode::IncompleteBody,
    );
    assert_code(
        decode(&payload, None, b"3;foo=bar\r\nabc\r\n0\r\n\r\n"),
        S3ErrorCode::IncompleteBody,
    );
    let signed_payload = S3Payload {
        content_sha256: ContentSha256::StreamingSigned,
        decoded_length: Some(3),
        trailer: None,
    };
    assert!(BodyDecoder::new(&signed_payload, None, DecoderLimits::default()).is_err());
}

// ---------------------------------------------------------------------------
// Plain bodies.

#[test]
fn plain_bodies_check_hash_and_length() {
    let d = data(5000);
    let hash: [u8; 32] = digest::digest(&digest::SHA256, &d)
        .as_ref()
        .try_into()
        .unwrap();
    let payload = S3Payload {
        content_sha256: ContentSha256::Sha256(hash),
        decoded_length: Some(5000),
        trailer: None,
    };
    let (out, done) = decode_split(&payload, None, &d, &[1, 100, 4999]).unwrap();
    assert_eq!(out, d);
    assert_eq!(done.decoded_length, 5000);
    let mut tampered = d.clone();
    tampered[10] ^= 1;
    assert_code(
        decode(&payload, None, &tampered),
        S3ErrorCode::XAmzContentSHA256Mismatch,
    );
    assert_code(
        decode(&payload, None, &d[..4999]),
        S3ErrorCode::IncompleteBody,
    );
    assert_code(
        decode(&payload, None, &[d.clone(), b"x".to_vec()].concat()),
        S3ErrorCode::IncompleteBody,
    );
    // UNSIGNED-PAYLOAD: only the length.
    let unsigned = S3Payload {
        content_sha256: ContentSha256::Unsigned,
        decoded_length: Some(5000),
        trailer: None,
    };
    assert_eq!(decode(&unsigned, None, &tampered).unwrap().0, tampered);
    assert_code(
        decode(&unsigned, None, &d[..10]),
        S3ErrorCode::IncompleteBody,
    );
    let unknown_length = S3Payload {
        decoded_length: None,
        ..unsigned
    };
    assert_eq!(
        decode(&unknown_length, None, &d).unwrap().1.decoded_length,
        5000
    );
}

// ---------------------------------------------------------------------------
// Headers, classification, presigned URLs.

#[test]
fn content_sha256_classification() {
    let hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    assert!(matches!(
        ContentSha256::parse(hex.as_bytes()),
        Ok(ContentSha256::Sha256(_))
    ));
    assert!(matches!(
        ContentSha256::parse(hex.to_uppercase().as_bytes()),
        Ok(ContentSha256::Sha256(_))
    ));
    for (value, expected) in [
        ("UNSIGNED-PAYLOAD", ContentSha256::Unsigned),
        (
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
            ContentSha256::StreamingSigned,
        ),
        (
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
            ContentSha256::StreamingSignedTrailer,
        ),
        (
            "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
            ContentSha256::StreamingUnsignedTrailer,
        ),
    ] {
        let parsed = ContentSha256::parse(value.as_bytes()).unwrap();
        assert_eq!(parsed, expected);
        assert_eq!(parsed.as_header_value(), value);
    }
    for value in [
        "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD",
        "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER",
    ] {
        let err = ContentSha256::parse(value.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("4A"), "{err}");
        assert_eq!(err.s3_code(), S3ErrorCode::InvalidRequest);
    }
    for value in [
        "",
        "unsigned-payload",
        "UNSIGNED-PAYLOAD ",
        "STREAMING-UNSIGNED-PAYLOAD",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILERX",
        &hex[..63],
        &format!("{hex}0"),
        &format!("{}g", &hex[..63]),
    ] {
        let err = ContentSha256::parse(value.as_bytes()).unwrap_err();
        assert_eq!(err.s3_code(), S3ErrorCode::InvalidArgument, "{value:?}");
    }
    assert!(ContentSha256::parse(b"\xff").is_err());
}

#[test]
fn payload_headers() {
    let h = |pairs: &[(&'static str, &'static str)]| -> Vec<(&'static str, &'static [u8])> {
        pairs.iter().map(|(n, v)| (*n, v.as_bytes())).collect()
    };
    let ok = h(&[
        ("x-amz-content-sha256", STREAMING_UNSIGNED_TRAILER),
        ("x-amz-decoded-content-length", "10"),
        ("content-length", "70"),
        ("x-amz-trailer", "x-amz-checksum-crc64nvme"),
    ]);
    assert_eq!(
        S3Payload::from_headers(&ok, false).unwrap(),
        S3Payload {
            content_sha256: ContentSha256::StreamingUnsignedTrailer,
            decoded_length: Some(10),
            trailer: Some(ChecksumAlgorithm::Crc64Nvme),
        }
    );
    let err = |pairs: &[(&'static str, &'static str)], presigned: bool| {
        S3Payload::from_headers(&h(pairs), presigned)
            .unwrap_err()
            .s3_code()
    };
    assert_eq!(err(&[], false), S3ErrorCode::InvalidRequest);
    assert_eq!(
        err(&[("x-amz-content-sha256", STREAMING_SIGNED)], false),
        S3ErrorCode::MissingContentLength
    );
    for bad in [
        "-1",
        "1e3",
        "",
        " 5",
        "99999999999999999999999",
        "6000000000000",
    ] {
        let pairs = [
            ("x-amz-content-sha256", STREAMING_SIGNED),
            ("x-amz-decoded-content-length", bad),
        ];
        assert_eq!(
            S3Payload::from_headers(&h(&pairs), false)
                .unwrap_err()
                .s3_code(),
            S3ErrorCode::MissingContentLength,
            "{bad:?}"
        );
    }
    assert_eq!(
        err(
            &[
                ("x-amz-content-sha256", STREAMING_SIGNED),
                ("x-amz-decoded-content-length", "1"),
                ("x-amz-decoded-content-length", "2"),
            ],
            false
        ),
        S3ErrorCode::InvalidArgument
    );
    // x-amz-trailer: only with a trailer mode, one checksum name.
    assert_eq!(
        err(
            &[
                ("x-amz-content-sha256", STREAMING_SIGNED),
                ("x-amz-decoded-content-length", "1"),
                ("x-amz-trailer", "x-amz-checksum-crc32"),
            ],
            false
        ),
        S3ErrorCode::InvalidRequest
    );
    for trailer in [
        "x-amz-meta-a",
        "x-amz-checksum-crc32,x-amz-checksum-sha1",
        "x-amz-checksum-md5",
    ] {
        let pairs = [
            ("x-amz-content-sha256", STREAMING_UNSIGNED_TRAILER),
            ("x-amz-decoded-content-length", "1"),
            ("x-amz-trailer", trailer),
        ];
        assert_eq!(
            S3Payload::from_headers(&h(&pairs), false)
                .unwrap_err()
                .s3_code(),
            S3ErrorCode::InvalidRequest,
            "{trailer}"
        );
    }
    // Presigned: absent means UNSIGNED-PAYLOAD; streaming refused.
    assert_eq!(
        S3Payload::from_headers(&[], true).unwrap().content_sha256,
        ContentSha256::Unsigned
    );
    assert_eq!(
        err(
            &[("x-amz-content-sha256", STREAMING_UNSIGNED_TRAILER)],
            true
        ),
        S3ErrorCode::InvalidRequest
    );
}

#[test]
fn s3_head_verification_rules() {
    // Streaming needs s3_streaming(): with s3() the body would be unverified.
    let (request, _) = sdk_put(STREAMING_SIGNED, 10, None);
    let err = request.with(|r| parse(r, &VerifyOptions::s3()).unwrap_err());
    assert!(matches!(err, VerifyError::UnsupportedPayload(_)), "{err:?}");
    assert_eq!(err.s3_code(), S3ErrorCode::InvalidRequest);
    // A missing x-amz-content-sha256 with the Authorization header.
    let mut missing = request.clone();
    missing.remove_header("x-amz-content-sha256");
    let err = missing.with(|r| parse(r, &VerifyOptions::s3_streaming()).unwrap_err());
    assert_eq!(err, VerifyError::MissingContentSha256);
    assert_eq!(err.s3_code(), S3ErrorCode::InvalidRequest);
    assert_eq!(
        err.to_string(),
        "Missing required header for this request: x-amz-content-sha256"
    );
    // The value is signed: changing the mode breaks the seed signature.
    let mut switched = request.clone();
    switched.set_header("x-amz-content-sha256", STREAMING_UNSIGNED_TRAILER);
    let err = switched.with(|r| {
        parse(r, &VerifyOptions::s3_streaming())
            .unwrap()
            .verify_s3(SECRET, T0)
            .unwrap_err()
    });
    assert_eq!(err.s3_code(), S3ErrorCode::SignatureDoesNotMatch);
    // Unsigned streaming is refused where unsigned payloads are.
    let (unsigned, _) = sdk_put(STREAMING_UNSIGNED_TRAILER, 10, None);
    let strict = VerifyOptions {
        allow_unsigned_payload: false,
        ..VerifyOptions::s3_streaming()
    };
    let err = unsigned.with(|r| parse(r, &strict).unwrap_err());
    assert_eq!(err, VerifyError::UnsignedPayloadNotAllowed);
    // With s3_streaming, a hex hash is left to the decoder (the body is not looked at).
    let hash = hex::encode(digest::digest(&digest::SHA256, b"body"));
    let (hashed, _) = sdk_put(&hash, 4, None);
    let verified = hashed.with(|r| {
        parse(r, &VerifyOptions::s3_streaming())
            .unwrap()
            .verify(SECRET, T0)
            .unwrap()
    });
    assert!(verified.payload_signed);
    assert!(matches!(
        verified.content_sha256,
        Some(ContentSha256::Sha256(_))
    ));
    // …and with s3() it is checked against Request::body (empty here).
    let err = hashed.with(|r| parse(r, &VerifyOptions::s3()).unwrap_err());
    assert_eq!(err.s3_code(), S3ErrorCode::XAmzContentSHA256Mismatch);
    // Time: S3 says RequestTimeTooSkewed.
    let err = request.with(|r| {
        parse(r, &VerifyOptions::s3_streaming())
            .unwrap()
            .verify_s3(SECRET, T0 + 901)
            .unwrap_err()
    });
    assert_eq!(err.s3_code(), S3ErrorCode::RequestTimeTooSkewed);
    assert_eq!(err.s3_code().http_status(), 403);
}

fn presigned_get(expires: u64) -> Received {
    let mut signer = Signer::new("s3");
    signer.settings.signature_location = SignatureLocation::QueryParams;
    signer.settings.expires_in = Some(Duration::from_secs(expires));
    signer.settings.percent_encoding_mode = PercentEncodingMode::Single;
    signer.settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    signer.sign(
        "GET",
        "https://bucket.s3.us-east-1.amazonaws.com/reports/a.csv",
        &[],
        irsa_test::sigv4::Payload::Unsigned,
        b"",
    )
}

#[test]
fn presigned_urls_enforce_expires_bounds_and_expiry() {
    let verify = |r: &Received, now: i64| {
        r.with(|req| {
            parse(req, &VerifyOptions::s3_streaming())
                .and_then(|p| p.verify_s3(SECRET, now))
                .map(|(v, _)| v)
        })
    };
    // 1 s and 7 days are the bounds; valid through X-Amz-Date + X-Amz-Expires.
    for expires in [1, 3600, 604_800] {
        let r = presigned_get(expires);
        let v = verify(&r, T0 + expires as i64).unwrap();
        assert_eq!(
            v.location,
            Location::Query {
                expires_in: expires
            }
        );
        assert_eq!(v.content_sha256, Some(ContentSha256::Unsigned));
        let err = verify(&r, T0 + expires as i64 + 1).unwrap_err();
        assert_eq!(err.s3_code(), S3ErrorCode::AccessDenied);
        assert_eq!(err.to_string(), "Request has expired");
    }
    // Out of range: AuthorizationQueryParametersError, before any secret is needed.
    let base = presigned_get(3600);
    for (value, message) in [
        ("0", "X-Amz-Expires must be at least 1 (in seconds)"),
        (
            "604801",
            "X-Amz-Expires must be less than a week (in seconds) that is 604800",
        ),
        ("-1", "X-Amz-Expires must be non-negative"),
        ("1e3", "X-Amz-Expires should be a number"),
        ("+5", "X-Amz-Expires should be a number"),
        (
            "99999999999999999999999",
            "X-Amz-Expires should be a number",
        ),
    ] {
        let mut r = base.clone();
        r.query = r
            .query
            .replace("X-Amz-Expires=3600", &format!("X-Amz-Expires={value}"));
        let err = r.with(|req| parse(req, &VerifyOptions::s3_streaming()).unwrap_err());
        assert_eq!(
            err.s3_code(),
            S3ErrorCode::AuthorizationQueryParametersError,
            "{value}"
        );
        assert_eq!(err.to_string(), message);
    }
    // A presigned URL cannot declare a streaming body.
    let mut r = base.clone();
    r.set_header("x-amz-content-sha256", STREAMING_SIGNED);
    let err = r.with(|req| parse(req, &VerifyOptions::s3_streaming()).unwrap_err());
    assert_eq!(err.s3_code(), S3ErrorCode::InvalidRequest);
}

#[test]
fn error_codes_and_statuses() {
    for (code, text, status) in [
        (
            S3ErrorCode::SignatureDoesNotMatch,
            "SignatureDoesNotMatch",
            403,
        ),
        (S3ErrorCode::IncompleteBody, "IncompleteBody", 400),
        (
            S3ErrorCode::XAmzContentSHA256Mismatch,
            "XAmzContentSHA256Mismatch",
            400,
        ),
        (S3ErrorCode::BadDigest, "BadDigest", 400),
        (
            S3ErrorCode::MissingContentLength,
            "MissingContentLength",
            411,
        ),
        (S3ErrorCode::AccessDenied, "AccessDenied", 403),
        (
            S3ErrorCode::RequestTimeTooSkewed,
            "RequestTimeTooSkewed",
            403,
        ),
        (S3ErrorCode::InvalidAccessKeyId, "InvalidAccessKeyId", 403),
        (
            S3ErrorCode::AuthorizationHeaderMalformed,
            "AuthorizationHeaderMalformed",
            400,
        ),
    ] {
        assert_eq!(code.as_str(), text);
        assert_eq!(code.to_string(), text);
        assert_eq!(code.http_status(), status);
    }
    assert_eq!(
        PayloadError::IncompleteBody.to_string(),
        "You did not provide the number of bytes specified by the Content-Length HTTP header."
    );
    assert_eq!(
        PayloadError::ChecksumMismatch("CRC32").to_string(),
        "The CRC32 you specified did not match the calculated checksum."
    );
}

#[test]
fn only_the_last_chunk_may_be_small() {
    // S3: InvalidChunkSizeError, naming the chunk after the small one and the small size.
    let s = signed(b"hello", &[3], None);
    let err = decode(&s.payload, Some(s.seed), &s.body).unwrap_err();
    assert_eq!(
        err,
        PayloadError::ChunkTooSmall {
            chunk: 2,
            size: 3,
            min: 8192
        }
    );
    assert_eq!(err.s3_code(), S3ErrorCode::InvalidChunkSizeError);
    assert_eq!(
        err.to_string(),
        "Only the last chunk is allowed to have a size less than 8192 bytes"
    );
    let d = data(2000);
    let payload = unsigned_payload(d.len(), None);
    assert_eq!(
        decode(&payload, None, &unsigned_body(&d, &[1000], None)).unwrap_err(),
        PayloadError::ChunkTooSmall {
            chunk: 2,
            size: 1000,
            min: 8192
        }
    );
    // A small last chunk (before the final empty one) is fine, and so is 8192 before it.
    let d = data(8192 + 10);
    let s = signed(&d, &[8192], None);
    assert_eq!(decode(&s.payload, Some(s.seed), &s.body).unwrap().0, d);
}

// ---------------------------------------------------------------------------
// What the AWS SDK for Rust's S3 client sends for PutObject with its default checksums,
// captured on a loopback listener.

/// One HTTP/1.1 request as received: method, target, headers, body (Content-Length or
/// chunked transfer coding undone).
struct Captured {
    method: String,
    target: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

fn capture_one(listener: std::net::TcpListener) -> Captured {
    use std::io::{BufRead, BufReader, Read, Write};
    let (stream, _) = listener.accept().unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap().to_owned();
    let target = parts.next().unwrap().to_owned();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            break;
        }
        let (n, v) = line.split_once(':').unwrap();
        headers.push((n.trim().to_ascii_lowercase(), v.trim().as_bytes().to_vec()));
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| String::from_utf8(v.clone()).unwrap())
    };
    let mut body = Vec::new();
    if let Some(len) = header("content-length") {
        body.resize(len.parse().unwrap(), 0);
        reader.read_exact(&mut body).unwrap();
    } else if header("transfer-encoding").is_some_and(|t| t.contains("chunked")) {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).unwrap();
            let size = usize::from_str_radix(size.trim().split(';').next().unwrap(), 16).unwrap();
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).unwrap();
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    }
    let mut stream = stream;
    stream
        .write_all(
            b"HTTP/1.1 200 OK\r\nETag: \"0\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
    Captured {
        method,
        target,
        headers,
        body,
    }
}

/// PutObject of `data` by the SDK's S3 client: from memory, or (`from_file`) streamed from a
/// file, which the SDK sends in aws-chunked with a checksum trailer.
fn sdk_put_object(data: &[u8], from_file: bool) -> Captured {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || capture_one(listener));
    let config = aws_sdk_s3::Config::builder()
        .behavior_version_latest()
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .force_path_style(true)
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            AKID, SECRET, None, None, "test",
        ))
        .build();
    let client = aws_sdk_s3::Client::from_conf(config);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), data).unwrap();
    runtime
        .block_on(async {
            let body = if from_file {
                aws_sdk_s3::primitives::ByteStream::from_path(file.path())
                    .await
                    .unwrap()
            } else {
                aws_sdk_s3::primitives::ByteStream::from(data.to_vec())
            };
            client
                .put_object()
                .bucket("bucket")
                .key("dir/object.bin")
                .body(body)
                .send()
                .await
        })
        .unwrap();
    server.join().unwrap()
}

#[test]
fn aws_sdk_rust_put_object_with_default_checksums_decodes() {
    let d = data(200_000);
    let mut modes = Vec::new();
    for from_file in [false, true] {
        let captured = sdk_put_object(&d, from_file);
        assert_eq!(captured.method, "PUT");
        let (path, query) = captured
            .target
            .split_once('?')
            .unwrap_or((&captured.target, ""));
        let received = Received {
            method: captured.method.clone(),
            path: path.to_owned(),
            query: query.to_owned(),
            headers: captured.headers.clone(),
            body: Vec::new(),
        };
        let now = irsa_test::now();
        let (payload, seed) = verify_head(&received, SECRET, now);
        modes.push(format!(
            "{} {:?}",
            payload.content_sha256.as_header_value(),
            payload.trailer
        ));
        assert_eq!(payload.decoded_length, Some(d.len() as u64));
        let (out, done) = decode(&payload, Some(seed.clone()), &captured.body).unwrap();
        assert_eq!(out, d);
        if payload.content_sha256.is_streaming() {
            // A checksum trailer, checked.
            let algorithm = payload.trailer.expect("a checksum trailer");
            assert_eq!(done.checksum.unwrap().0, algorithm);
        }
        // Byte by byte (every third), the same.
        let cuts: Vec<usize> = (0..captured.body.len()).step_by(3).collect();
        assert_eq!(
            decode_split(&payload, Some(seed.clone()), &captured.body, &cuts)
                .unwrap()
                .0,
            d
        );
        // A data byte changed on the way: refused (chunk signature, checksum or hash).
        let mut tampered = captured.body.clone();
        let at = tampered.len() / 2;
        tampered[at] ^= 1;
        let code = decode(&payload, Some(seed), &tampered)
            .unwrap_err()
            .s3_code();
        let expected = match payload.content_sha256 {
            ContentSha256::Sha256(_) => S3ErrorCode::XAmzContentSHA256Mismatch,
            c if c.chunks_signed() => S3ErrorCode::SignatureDoesNotMatch,
            _ => S3ErrorCode::BadDigest,
        };
        assert_eq!(code, expected);
    }
    eprintln!("x-amz-content-sha256 of the SDK's PutObject (memory, file): {modes:?}");
    // Over plain HTTP the SDK signs an in-memory body's hash and streams a file in
    // aws-chunked with a trailing checksum.
    assert!(!modes[0].starts_with("STREAMING-"), "{modes:?}");
    assert!(modes[1].starts_with("STREAMING-"), "{modes:?}");
}
