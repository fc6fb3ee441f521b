//! Decode throughput of S3 `aws-chunked` bodies beside the machine's limit: SHA-256 of
//! the same payload bytes (what verifying signed chunks cannot go below) and a copy.
//! Run with `cargo bench -p irsa-sigv4 --bench chunked`.

use std::hint::black_box;

use aws_lc_rs::{digest, hmac};
use base64::Engine as _;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use irsa_sigv4::{
    BodyDecoder, ChecksumAlgorithm, ContentSha256, DecoderLimits, S3Payload, SeedSignature,
};

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const DATE: &str = "20130524T000000Z";
const SCOPE: &str = "20130524/us-east-1/s3/aws4_request";
const SEED: &str = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/// 8 MiB of payload per iteration.
const SIZE: usize = 8 << 20;
/// The AWS SDKs' chunk size.
const CHUNK: usize = 64 << 10;
/// Network reads arrive in pieces of this size.
const READ: usize = 16 << 10;

fn signing_key() -> hmac::Key {
    let mut key = hmac::Key::new(hmac::HMAC_SHA256, format!("AWS4{SECRET}").as_bytes());
    for part in ["20130524", "us-east-1", "s3", "aws4_request"] {
        let tag = hmac::sign(&key, part.as_bytes());
        key = hmac::Key::new(hmac::HMAC_SHA256, tag.as_ref());
    }
    key
}

fn signed_body(data: &[u8]) -> Vec<u8> {
    let key = signing_key();
    let mut previous = SEED.to_owned();
    let mut out = Vec::with_capacity(data.len() + data.len() / CHUNK * 100 + 200);
    for piece in data.chunks(CHUNK).chain([&[][..]]) {
        let sts = format!(
            "AWS4-HMAC-SHA256-PAYLOAD\n{DATE}\n{SCOPE}\n{previous}\n{EMPTY_SHA256}\n{}",
            hex::encode(digest::digest(&digest::SHA256, piece))
        );
        previous = hex::encode(hmac::sign(&key, sts.as_bytes()));
        out.extend_from_slice(
            format!("{:x};chunk-signature={previous}\r\n", piece.len()).as_bytes(),
        );
        out.extend_from_slice(piece);
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn unsigned_body(data: &[u8], trailer: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / CHUNK * 10 + 100);
    for piece in data.chunks(CHUNK) {
        out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        out.extend_from_slice(piece);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("0\r\n{trailer}\r\n\r\n").as_bytes());
    out
}

fn decode(payload: &S3Payload, seed: Option<&SeedSignature>, body: &[u8], out: &mut Vec<u8>) {
    let mut decoder = BodyDecoder::new(payload, seed.cloned(), DecoderLimits::default()).unwrap();
    for piece in body.chunks(READ) {
        out.clear();
        decoder.feed(piece, out).unwrap();
        black_box(&out);
    }
    decoder.finish().unwrap();
}

fn bench(c: &mut Criterion) {
    let data: Vec<u8> = (0..SIZE).map(|i| (i * 31 % 251) as u8).collect();
    let seed = SeedSignature::from_parts(SECRET, DATE, SCOPE, SEED).unwrap();
    let mut g = c.benchmark_group("aws_chunked_8MiB");
    g.throughput(Throughput::Bytes(SIZE as u64));
    g.sample_size(20);
    let mut out = Vec::with_capacity(1 << 20);

    // The machine's limit: SHA-256 of the payload, and a copy of it in 16 KiB reads.
    g.bench_function("sha256 (limit)", |b| {
        b.iter(|| digest::digest(&digest::SHA256, black_box(&data)))
    });
    g.bench_function("copy (limit)", |b| {
        b.iter(|| {
            for piece in data.chunks(READ) {
                out.clear();
                out.extend_from_slice(black_box(piece));
                black_box(&out);
            }
        })
    });

    let signed = signed_body(&data);
    let payload = S3Payload {
        content_sha256: ContentSha256::StreamingSigned,
        decoded_length: Some(SIZE as u64),
        trailer: None,
    };
    g.bench_function("signed chunks 64KiB", |b| {
        b.iter(|| decode(&payload, Some(&seed), black_box(&signed), &mut out))
    });

    let crc =
        base64::engine::general_purpose::STANDARD.encode(crc32fast::hash(&data).to_be_bytes());
    let body = unsigned_body(&data, &format!("x-amz-checksum-crc32:{crc}"));
    let payload = S3Payload {
        content_sha256: ContentSha256::StreamingUnsignedTrailer,
        decoded_length: Some(SIZE as u64),
        trailer: Some(ChecksumAlgorithm::Crc32),
    };
    g.bench_function("unsigned chunks 64KiB + crc32 trailer", |b| {
        b.iter(|| decode(&payload, None, black_box(&body), &mut out))
    });

    let crc = base64::engine::general_purpose::STANDARD.encode(crc32c::crc32c(&data).to_be_bytes());
    let body = unsigned_body(&data, &format!("x-amz-checksum-crc32c:{crc}"));
    let payload = S3Payload {
        trailer: Some(ChecksumAlgorithm::Crc32c),
        ..payload
    };
    g.bench_function("unsigned chunks 64KiB + crc32c trailer", |b| {
        b.iter(|| decode(&payload, None, black_box(&body), &mut out))
    });

    let hash: [u8; 32] = digest::digest(&digest::SHA256, &data)
        .as_ref()
        .try_into()
        .unwrap();
    let payload = S3Payload {
        content_sha256: ContentSha256::Sha256(hash),
        decoded_length: Some(SIZE as u64),
        trailer: None,
    };
    g.bench_function("plain body, hex x-amz-content-sha256", |b| {
        b.iter(|| decode(&payload, None, black_box(&data), &mut out))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
