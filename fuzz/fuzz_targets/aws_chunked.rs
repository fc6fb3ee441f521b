//! The S3 body decoder (`irsa_sigv4::BodyDecoder`): `aws-chunked` bodies (signed chunks,
//! signed and unsigned trailers) and plain bodies, fed in random pieces.
//!
//! The input chooses a mode, the payload, chunk sizes and split points. The target frames
//! a valid body for the payload (signing chunks and the trailer with a fixed key), then
//! either keeps it or applies the input's edits (overwrite, insert, delete at positions),
//! or, in raw mode, decodes the input bytes as they are.
//!
//! Invariants, besides "never panics":
//! - bounded buffering: `buffered_bytes()` never exceeds the chunk limit (16 KiB here)
//!   plus the trailer and line bounds, whatever the input;
//! - released bytes never exceed the declared decoded length, and `finish()` succeeds
//!   only with exactly that many;
//! - any split gives the same outcome (the same error, or success with the same output) as
//!   feeding everything at once; on failure the released bytes agree up to the shorter;
//! - an unedited valid body decodes to its payload;
//! - signed chunks: whatever the edits, the released bytes are a prefix of the payload
//!   the signatures cover (nothing unverified is released).
#![no_main]

use arbitrary::Arbitrary;
use aws_lc_rs::{digest, hmac};
use base64::Engine as _;
use irsa_sigv4::{
    BodyDecoder, ChecksumAlgorithm, ContentSha256, DecoderLimits, MAX_CHUNK_LINE,
    MAX_TRAILER_BYTES, PayloadError, S3Payload, SeedSignature,
};
use libfuzzer_sys::fuzz_target;

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const DATE: &str = "20130524T000000Z";
const SCOPE: &str = "20130524/us-east-1/s3/aws4_request";
const SEED: &str = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
const MAX_CHUNK: u64 = 16_384;
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

#[derive(Debug, Arbitrary)]
enum Edit {
    Overwrite { at: u16, byte: u8 },
    Insert { at: u16, bytes: Vec<u8> },
    Delete { at: u16, len: u8 },
}

#[derive(Debug, Arbitrary)]
struct Input {
    mode: u8,
    trailer: u8,
    /// Declared length minus the payload length (as i8: shorter or longer).
    length_skew: i8,
    chunk_sizes: Vec<u16>,
    splits: Vec<u16>,
    edits: Vec<Edit>,
    raw: bool,
    data: Vec<u8>,
}

fn signing_key() -> hmac::Key {
    let mut key = hmac::Key::new(hmac::HMAC_SHA256, format!("AWS4{SECRET}").as_bytes());
    for part in ["20130524", "us-east-1", "s3", "aws4_request"] {
        let tag = hmac::sign(&key, part.as_bytes());
        key = hmac::Key::new(hmac::HMAC_SHA256, tag.as_ref());
    }
    key
}

fn sign(key: &hmac::Key, kind: &str, previous: &str, hashes: &str) -> String {
    let sts = format!("AWS4-HMAC-SHA256-{kind}\n{DATE}\n{SCOPE}\n{previous}\n{hashes}");
    hex::encode(hmac::sign(key, sts.as_bytes()))
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(digest::digest(&digest::SHA256, data))
}

fn checksum(algorithm: ChecksumAlgorithm, data: &[u8]) -> String {
    let raw = match algorithm {
        ChecksumAlgorithm::Crc32 => crc32fast::hash(data).to_be_bytes().to_vec(),
        ChecksumAlgorithm::Sha256 => digest::digest(&digest::SHA256, data).as_ref().to_vec(),
        ChecksumAlgorithm::Sha1 => digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, data)
            .as_ref()
            .to_vec(),
        // Not computed here: a wrong value exercises the mismatch path.
        _ => vec![0; algorithm.digest_len()],
    };
    base64::engine::general_purpose::STANDARD.encode(raw)
}

/// A valid body for `data` in `content` mode.
fn frame(
    content: ContentSha256,
    data: &[u8],
    sizes: &[u16],
    trailer: Option<ChecksumAlgorithm>,
) -> Vec<u8> {
    if !content.is_streaming() {
        return data.to_vec();
    }
    let key = signing_key();
    let signed = content.chunks_signed();
    let mut previous = SEED.to_owned();
    let mut out = Vec::new();
    let mut rest = data;
    let mut i = 0;
    loop {
        let size = sizes
            .get(i % sizes.len().max(1))
            .map_or(8192, |&s| usize::from(s).clamp(8192, MAX_CHUNK as usize))
            .min(rest.len());
        let (piece, tail) = rest.split_at(size);
        if signed {
            previous = sign(
                &key,
                "PAYLOAD",
                &previous,
                &format!("{EMPTY_SHA256}\n{}", sha256_hex(piece)),
            );
            out.extend_from_slice(format!("{size:x};chunk-signature={previous}\r\n").as_bytes());
        } else {
            out.extend_from_slice(format!("{size:x}\r\n").as_bytes());
        }
        out.extend_from_slice(piece);
        if size == 0 {
            break;
        }
        out.extend_from_slice(b"\r\n");
        rest = tail;
        i += 1;
    }
    if content.has_trailer() {
        let mut canonical = String::new();
        if let Some(a) = trailer {
            canonical = format!("{}:{}\n", a.header_name(), checksum(a, data));
            out.extend_from_slice(canonical.replace('\n', "\r\n").as_bytes());
        }
        if signed {
            let signature = sign(
                &key,
                "TRAILER",
                &previous,
                &sha256_hex(canonical.as_bytes()),
            );
            out.extend_from_slice(format!("x-amz-trailer-signature:{signature}\r\n").as_bytes());
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

fn apply(body: &mut Vec<u8>, edits: &[Edit]) {
    for edit in edits.iter().take(8) {
        let len = body.len().max(1);
        match edit {
            Edit::Overwrite { at, byte } => {
                if let Some(b) = body.get_mut(usize::from(*at) % len) {
                    *b = *byte;
                }
            }
            Edit::Insert { at, bytes } => {
                let at = (usize::from(*at) % len).min(body.len());
                body.splice(at..at, bytes.iter().copied().take(64));
            }
            Edit::Delete { at, len: n } => {
                let at = (usize::from(*at) % len).min(body.len());
                let end = (at + usize::from(*n)).min(body.len());
                body.drain(at..end);
            }
        }
    }
}

/// Decodes `body` cut at `splits`; returns the output and the outcome.
fn run(payload: &S3Payload, body: &[u8], splits: &[u16]) -> (Vec<u8>, Result<u64, PayloadError>) {
    let seed = SeedSignature::from_parts(SECRET, DATE, SCOPE, SEED);
    let limits = DecoderLimits {
        max_chunk_size: MAX_CHUNK,
        ..DecoderLimits::default()
    };
    let mut decoder = match BodyDecoder::new(payload, seed, limits) {
        Ok(d) => d,
        Err(e) => return (Vec::new(), Err(e)),
    };
    let bound = MAX_CHUNK as usize + MAX_TRAILER_BYTES + MAX_CHUNK_LINE;
    let mut out = Vec::new();
    let mut at = 0;
    let mut cuts: Vec<usize> = splits
        .iter()
        .map(|&s| usize::from(s) % (body.len() + 1))
        .collect();
    cuts.sort_unstable();
    cuts.push(body.len());
    for cut in cuts {
        let piece = &body[at..cut];
        at = cut;
        let result = decoder.feed(piece, &mut out);
        assert!(decoder.buffered_bytes() <= bound, "unbounded buffering");
        if let Some(declared) = payload.decoded_length {
            assert!(
                out.len() as u64 <= declared,
                "released past the declared length"
            );
        }
        if let Err(e) = result {
            return (out, Err(e));
        }
    }
    let done = decoder.finish().map(|d| d.decoded_length);
    if let (Ok(n), Some(declared)) = (&done, payload.decoded_length) {
        assert_eq!(*n, declared);
        assert_eq!(out.len() as u64, declared);
    }
    (out, done)
}

fuzz_target!(|input: Input| {
    let content = match input.mode % 5 {
        0 => ContentSha256::StreamingSigned,
        1 => ContentSha256::StreamingSignedTrailer,
        2 => ContentSha256::StreamingUnsignedTrailer,
        3 => ContentSha256::Unsigned,
        _ => ContentSha256::Sha256(
            digest::digest(&digest::SHA256, &input.data)
                .as_ref()
                .try_into()
                .unwrap_or([0; 32]),
        ),
    };
    let trailer = if content.has_trailer() {
        ChecksumAlgorithm::ALL
            .get(usize::from(input.trailer % 6))
            .copied()
    } else {
        None
    };
    let data = &input.data[..input.data.len().min(40_000)];
    let declared = (data.len() as i64 + i64::from(input.length_skew)).max(0) as u64;
    let payload = S3Payload {
        content_sha256: content,
        decoded_length: Some(declared),
        trailer,
    };
    let mut body = if input.raw {
        data.to_vec()
    } else {
        frame(content, data, &input.chunk_sizes, trailer)
    };
    let edited = !input.edits.is_empty() || input.raw;
    apply(&mut body, &input.edits);

    let (whole_out, whole) = run(&payload, &body, &[]);
    let (split_out, split) = run(&payload, &body, &input.splits);
    // The same outcome; for plain bodies an overlong one reports the bytes received so
    // far, so only the code must agree there.
    if content.is_streaming() {
        assert_eq!(whole, split, "split changed the outcome");
    } else {
        assert_eq!(
            whole.as_ref().map_err(PayloadError::s3_code),
            split.as_ref().map_err(PayloadError::s3_code),
            "split changed the outcome"
        );
    }
    if whole.is_ok() {
        assert_eq!(whole_out, split_out, "split changed the output");
    } else {
        // Bytes released as they arrive: a failed body may have released more or less
        // before the failure, depending on where the input was cut; never other bytes.
        let (short, long) = if whole_out.len() <= split_out.len() {
            (&whole_out, &split_out)
        } else {
            (&split_out, &whole_out)
        };
        assert!(long.starts_with(short), "split changed the released bytes");
    }

    let crc_known = !matches!(
        trailer,
        Some(ChecksumAlgorithm::Crc32c | ChecksumAlgorithm::Crc64Nvme)
    );
    if !edited && input.length_skew == 0 && crc_known {
        assert_eq!(whole, Ok(data.len() as u64), "a valid body was refused");
        assert_eq!(whole_out, data);
    }
    if content.chunks_signed() && !input.raw {
        assert!(
            data.starts_with(&whole_out),
            "signed mode released bytes the signatures do not cover"
        );
    }
});
