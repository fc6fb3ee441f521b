//! An incremental, push-based decoder of S3 request bodies: `aws-chunked` (signed
//! chunks, signed or unsigned trailers) and plain bodies (hex `x-amz-content-sha256` or
//! `UNSIGNED-PAYLOAD`). No I/O: the caller feeds bytes as they arrive and forwards what
//! the decoder releases.

use aws_lc_rs::{digest, hmac};
use base64::Engine as _;

use crate::checksum::Checksum;
use crate::s3::{ChecksumAlgorithm, ContentSha256, PayloadError, S3Payload, SeedSignature};

/// Default largest signed chunk: 16 MiB. A signed chunk is held until its signature is
/// verified, so this bounds the decoder's memory. SDKs send 64 KiB (the AWS SDKs' default)
/// to 1 MiB chunks.
pub const DEFAULT_MAX_CHUNK_SIZE: u64 = 16 * 1024 * 1024;
/// Smallest chunk but the last, as S3 requires (`InvalidChunkSizeError`).
pub const MIN_CHUNK_SIZE: u64 = 8192;
/// Longest chunk header line (size, `;chunk-signature=`, 64 hex digits), CRLF excluded.
/// A signed header line is at most 97 bytes; anything longer is refused.
pub const MAX_CHUNK_LINE: usize = 128;
/// Largest trailer section (every trailer line with its CRLF).
pub const MAX_TRAILER_BYTES: usize = 1024;
/// Most trailer lines (the checksum and the trailer signature are two).
pub const MAX_TRAILER_LINES: usize = 4;

/// The name of the trailer that carries the trailer signature.
const TRAILER_SIGNATURE: &str = "x-amz-trailer-signature";
/// Hex SHA-256 of the empty string, the fifth line of a chunk's string to sign.
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/// Longest hex chunk size: 16 digits (a `u64`).
const MAX_SIZE_DIGITS: usize = 16;

/// The decoder's bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecoderLimits {
    /// Largest signed chunk accepted (bytes of payload). Unsigned chunks are released as
    /// they arrive and are bounded only by the decoded length.
    pub max_chunk_size: u64,
    /// Smallest chunk accepted but the last (S3: [`MIN_CHUNK_SIZE`]).
    pub min_chunk_size: u64,
}

impl Default for DecoderLimits {
    fn default() -> Self {
        DecoderLimits {
            max_chunk_size: DEFAULT_MAX_CHUNK_SIZE,
            min_chunk_size: MIN_CHUNK_SIZE,
        }
    }
}

/// The outcome of a body that decoded completely: the final chunk (and its signature)
/// verified, the trailers checked, the declared length matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyComplete {
    /// Bytes of decoded payload.
    pub decoded_length: u64,
    /// Chunks received, the final empty chunk included (0 for plain bodies).
    pub chunks: u64,
    /// The checksum trailer, verified against the payload: its algorithm and raw value.
    pub checksum: Option<(ChecksumAlgorithm, Vec<u8>)>,
}

/// Where the decoder is in an `aws-chunked` body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a chunk header line into `line`.
    SizeLine,
    /// Reading chunk payload; `remaining` bytes to go.
    Data { remaining: u64 },
    /// Expecting the CRLF after a chunk's payload; `seen` bytes of it so far. `last`:
    /// this is the CRLF closing a signed body without trailers.
    DataEnd { seen: u8, last: bool },
    /// Reading trailer lines.
    Trailer,
    /// The body is complete; no byte may follow.
    Done,
}

/// How the body is framed and protected.
enum Mode {
    /// Not `aws-chunked`; with `Some`, the SHA-256 the body must hash to.
    Plain {
        hash: Option<Box<(digest::Context, [u8; 32])>>,
    },
    /// `aws-chunked`.
    Chunked {
        /// Signed chunks: the chain (key, time, scope, previous signature).
        chain: Option<Box<SeedSignature>>,
        /// The trailer section carries `x-amz-trailer-signature`.
        trailer_signed: bool,
        /// The trailer section exists (`…-TRAILER`).
        trailer_section: bool,
    },
}

/// An incremental decoder of one S3 request body. Feed it the bytes as they arrive
/// ([`BodyDecoder::feed`]); it appends the payload bytes it releases to the output.
/// At the end of input call [`BodyDecoder::finish`]: only `Ok` means the body was
/// complete and verified; an error there means it ended early or failed a final check.
///
/// What is released when:
/// - signed chunks (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`): a chunk's bytes
///   are released only after its signature verified (the chunk is held, at most
///   [`DecoderLimits::max_chunk_size`] bytes);
/// - unsigned chunks (`STREAMING-UNSIGNED-PAYLOAD-TRAILER`), `UNSIGNED-PAYLOAD` and hex
///   `x-amz-content-sha256`: bytes are released as they arrive; the checksum trailer or
///   the hash is checked at the end.
///
/// In every mode a failure after some bytes were released (a later chunk, the trailer,
/// the hash, the length) means the released bytes must not be committed: the caller
/// aborts the upstream request (or lets the upstream check the same hash or checksum).
/// After an error every call returns the same error.
pub struct BodyDecoder {
    mode: Mode,
    declared: Option<u64>,
    /// Decoded payload bytes accounted for (released or held).
    received: u64,
    state: State,
    /// Current header or trailer line (without CRLF), bounded.
    line: Vec<u8>,
    /// A CR was the last byte read into `line`.
    line_cr: bool,
    /// Signed mode: the chunk being received, and its running SHA-256.
    chunk: Vec<u8>,
    chunk_hash: Option<digest::Context>,
    /// Signed mode: the signature the current chunk declared.
    chunk_signature: [u8; 32],
    chunks: u64,
    /// The size of the previous non-empty chunk.
    previous_size: Option<u64>,
    checksum: Option<(ChecksumAlgorithm, Checksum)>,
    trailer_declared: Option<ChecksumAlgorithm>,
    trailer_bytes: usize,
    trailer_lines: Vec<Vec<u8>>,
    checksum_seen: Option<(ChecksumAlgorithm, Vec<u8>)>,
    limits: DecoderLimits,
    error: Option<PayloadError>,
    complete: Option<BodyComplete>,
}

impl std::fmt::Debug for BodyDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyDecoder")
            .field("state", &self.state)
            .field("declared", &self.declared)
            .field("received", &self.received)
            .field("chunks", &self.chunks)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl BodyDecoder {
    /// A decoder for the body `payload` describes. `seed` is the verified request's seed
    /// ([`crate::ParsedRequest::verify_s3`]); signed chunk modes refuse to start without
    /// it.
    pub fn new(
        payload: &S3Payload,
        seed: Option<SeedSignature>,
        limits: DecoderLimits,
    ) -> Result<BodyDecoder, PayloadError> {
        let mode = match payload.content_sha256 {
            ContentSha256::Sha256(expected) => Mode::Plain {
                hash: Some(Box::new((digest::Context::new(&digest::SHA256), expected))),
            },
            ContentSha256::Unsigned => Mode::Plain { hash: None },
            ContentSha256::StreamingUnsignedTrailer => Mode::Chunked {
                chain: None,
                trailer_signed: false,
                trailer_section: true,
            },
            ContentSha256::StreamingSigned | ContentSha256::StreamingSignedTrailer => {
                let Some(seed) = seed else {
                    return Err(PayloadError::MalformedChunk(
                        "signed chunks need the seed signature of a verified request",
                    ));
                };
                let trailer = payload.content_sha256 == ContentSha256::StreamingSignedTrailer;
                Mode::Chunked {
                    chain: Some(Box::new(seed)),
                    trailer_signed: trailer,
                    trailer_section: trailer,
                }
            }
        };
        if payload.content_sha256.is_streaming() && payload.decoded_length.is_none() {
            return Err(PayloadError::MissingDecodedContentLength);
        }
        Ok(BodyDecoder {
            mode,
            declared: payload.decoded_length,
            received: 0,
            state: State::SizeLine,
            line: Vec::new(),
            line_cr: false,
            chunk: Vec::new(),
            chunk_hash: None,
            chunk_signature: [0; 32],
            chunks: 0,
            previous_size: None,
            checksum: payload.trailer.map(|a| (a, Checksum::new(a))),
            trailer_declared: payload.trailer,
            trailer_bytes: 0,
            trailer_lines: Vec::new(),
            checksum_seen: None,
            limits,
            error: None,
            complete: None,
        })
    }

    /// Feeds the next bytes of the body; appends the payload bytes released to `out`.
    /// All of `input` is consumed (held bytes stay inside, bounded).
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), PayloadError> {
        self.feed_with(input, |bytes| out.extend_from_slice(bytes))
    }

    /// [`BodyDecoder::feed`], handing released payload bytes to `sink` (possibly in
    /// several pieces) instead of appending them to a vector.
    pub fn feed_with(
        &mut self,
        input: &[u8],
        mut sink: impl FnMut(&[u8]),
    ) -> Result<(), PayloadError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let result = match self.mode {
            Mode::Plain { .. } => self.feed_plain(input, &mut sink),
            Mode::Chunked { .. } => self.feed_chunked(input, &mut sink),
        };
        if let Err(e) = &result {
            self.fail(e.clone());
        }
        result
    }

    /// Declares the end of the body. `Ok` only when the body was complete: for
    /// `aws-chunked`, the final chunk verified, the trailers checked and the decoded
    /// length matched; for plain bodies, the length (when declared) and the hash (when
    /// given) matched. Otherwise the error says why ([`PayloadError::IncompleteBody`]
    /// when the stream ended early).
    pub fn finish(&mut self) -> Result<BodyComplete, PayloadError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let result = self.finish_inner();
        if let Err(e) = &result {
            self.fail(e.clone());
        }
        result
    }

    /// `true` once the body is complete and verified: for `aws-chunked` as soon as the
    /// final CRLF was read (before [`BodyDecoder::finish`]); for plain bodies after
    /// `finish` succeeded.
    pub fn is_complete(&self) -> bool {
        self.error.is_none() && (self.state == State::Done || self.complete.is_some())
    }

    /// Decoded payload bytes received so far (released or held).
    pub fn decoded_bytes(&self) -> u64 {
        self.received
    }

    /// Bytes currently held inside the decoder (the signed chunk being received, the
    /// current line, the trailer section). Bounded by [`DecoderLimits::max_chunk_size`]
    /// plus [`MAX_TRAILER_BYTES`] plus [`MAX_CHUNK_LINE`].
    pub fn buffered_bytes(&self) -> usize {
        self.chunk.len() + self.line.len() + self.trailer_lines.iter().map(Vec::len).sum::<usize>()
    }

    /// The first error met, if any.
    pub fn error(&self) -> Option<&PayloadError> {
        self.error.as_ref()
    }

    fn fail(&mut self, e: PayloadError) {
        self.error = Some(e);
        self.chunk = Vec::new();
        self.line = Vec::new();
        self.trailer_lines = Vec::new();
    }

    // ---------------------------------------------------------------- plain bodies

    fn feed_plain(
        &mut self,
        input: &[u8],
        sink: &mut impl FnMut(&[u8]),
    ) -> Result<(), PayloadError> {
        let len = input.len() as u64;
        let total = self.received.saturating_add(len);
        if let Some(declared) = self.declared.filter(|d| total > *d) {
            return Err(PayloadError::DecodedLengthMismatch {
                declared,
                received: total,
            });
        }
        if let Mode::Plain { hash: Some(hash) } = &mut self.mode {
            hash.0.update(input);
        }
        self.received = total;
        if !input.is_empty() {
            sink(input);
        }
        Ok(())
    }

    fn finish_inner(&mut self) -> Result<BodyComplete, PayloadError> {
        if let Some(done) = &self.complete {
            return Ok(done.clone());
        }
        let done = match &mut self.mode {
            Mode::Plain { hash } => {
                if let Some(declared) = self.declared.filter(|d| self.received != *d) {
                    return Err(if self.received < declared {
                        PayloadError::IncompleteBody
                    } else {
                        PayloadError::DecodedLengthMismatch {
                            declared,
                            received: self.received,
                        }
                    });
                }
                if let Some(hash) = hash.take() {
                    let (ctx, expected) = *hash;
                    let actual = ctx.finish();
                    if actual.as_ref() != expected.as_slice() {
                        return Err(PayloadError::ContentSha256Mismatch);
                    }
                }
                BodyComplete {
                    decoded_length: self.received,
                    chunks: 0,
                    checksum: None,
                }
            }
            Mode::Chunked { .. } => {
                if self.state != State::Done {
                    return Err(PayloadError::IncompleteBody);
                }
                BodyComplete {
                    decoded_length: self.received,
                    chunks: self.chunks,
                    checksum: self.checksum_seen.clone(),
                }
            }
        };
        self.complete = Some(done.clone());
        Ok(done)
    }

    // ---------------------------------------------------------------- aws-chunked

    fn feed_chunked(
        &mut self,
        mut input: &[u8],
        sink: &mut impl FnMut(&[u8]),
    ) -> Result<(), PayloadError> {
        while !input.is_empty() {
            input = match self.state {
                State::SizeLine => {
                    let (line_done, rest) = self.take_line(input, MAX_CHUNK_LINE, false)?;
                    if line_done {
                        self.chunk_header()?;
                    }
                    rest
                }
                State::Data { remaining } => {
                    let n = usize::try_from(remaining)
                        .unwrap_or(usize::MAX)
                        .min(input.len());
                    let (data, rest) = input.split_at_checked(n).unwrap_or((input, &[]));
                    self.chunk_data(data, sink);
                    let remaining = remaining - data.len() as u64;
                    self.state = if remaining == 0 {
                        State::DataEnd {
                            seen: 0,
                            last: false,
                        }
                    } else {
                        State::Data { remaining }
                    };
                    rest
                }
                State::DataEnd { seen, last } => {
                    let Some((&byte, rest)) = input.split_first() else {
                        break;
                    };
                    let expected = if seen == 0 { b'\r' } else { b'\n' };
                    if byte != expected {
                        return Err(PayloadError::MalformedChunk(
                            "chunk data must be followed by CRLF",
                        ));
                    }
                    if seen == 0 {
                        self.state = State::DataEnd { seen: 1, last };
                    } else if last {
                        self.state = State::Done;
                    } else {
                        self.chunk_end(sink)?;
                        self.state = State::SizeLine;
                    }
                    rest
                }
                State::Trailer => {
                    // The section's budget: earlier lines with their CRLFs, then this
                    // line and its CRLF.
                    let budget =
                        MAX_TRAILER_BYTES.saturating_sub(self.trailer_bytes.saturating_add(2));
                    let (line_done, rest) = self.take_line(input, budget, true)?;
                    if line_done {
                        self.trailer_bytes = self.trailer_bytes.saturating_add(self.line.len() + 2);
                        self.trailer_line()?;
                    }
                    rest
                }
                State::Done => return Err(PayloadError::TrailingData),
            };
        }
        Ok(())
    }

    /// Reads into `self.line` up to a CRLF. Returns whether the line is complete and the
    /// rest of `input`. A bare LF, a CR not followed by LF, or a line longer than `max`
    /// is refused.
    fn take_line<'i>(
        &mut self,
        input: &'i [u8],
        max: usize,
        trailer: bool,
    ) -> Result<(bool, &'i [u8]), PayloadError> {
        let malformed = |chunk: &'static str, trailer_message: &'static str| {
            if trailer {
                PayloadError::MalformedTrailer(trailer_message)
            } else {
                PayloadError::MalformedChunk(chunk)
            }
        };
        let mut rest = input;
        while let Some((&byte, tail)) = rest.split_first() {
            rest = tail;
            if self.line_cr {
                self.line_cr = false;
                if byte == b'\n' {
                    return Ok((true, rest));
                }
                return Err(malformed(
                    "a CR in a chunk header must be followed by LF",
                    "a CR in the trailer section must be followed by LF.",
                ));
            }
            match byte {
                b'\r' => self.line_cr = true,
                b'\n' => {
                    return Err(malformed(
                        "chunk header lines must end with CRLF",
                        "trailer lines must end with CRLF.",
                    ));
                }
                _ => {
                    if self.line.len() >= max {
                        return Err(malformed(
                            "the chunk header line is too long",
                            "the trailer section is too long.",
                        ));
                    }
                    self.line.push(byte);
                }
            }
        }
        Ok((false, rest))
    }

    /// Parses the chunk header line in `self.line` and moves to the chunk's data (or,
    /// for the final chunk, to the trailer or the final CRLF).
    fn chunk_header(&mut self) -> Result<(), PayloadError> {
        let line = std::mem::take(&mut self.line);
        let Mode::Chunked {
            chain,
            trailer_section,
            ..
        } = &self.mode
        else {
            return Ok(());
        };
        let signed = chain.is_some();
        let trailer_section = *trailer_section;
        let (size_hex, extension) = match line.iter().position(|&b| b == b';') {
            Some(i) => {
                let (a, b) = line.split_at_checked(i).unwrap_or((&line, &[]));
                (a, b.get(1..))
            }
            None => (line.as_slice(), None),
        };
        let size = parse_hex_size(size_hex)?;
        self.chunk_extension(signed, size, extension)?;
        let declared = self.declared.unwrap_or(0);
        let total = self.received.saturating_add(size);
        if total > declared {
            return Err(PayloadError::DecodedLengthMismatch {
                declared,
                received: total,
            });
        }
        self.chunks = self.chunks.saturating_add(1);
        if size > 0 {
            if let Some(previous) = self
                .previous_size
                .filter(|p| *p < self.limits.min_chunk_size)
            {
                return Err(PayloadError::ChunkTooSmall {
                    chunk: self.chunks,
                    size: previous,
                    min: self.limits.min_chunk_size,
                });
            }
            self.previous_size = Some(size);
            self.received = total;
            self.chunk_hash = signed.then(|| digest::Context::new(&digest::SHA256));
            self.state = State::Data { remaining: size };
            return Ok(());
        }
        // The final, empty chunk.
        if self.received != declared {
            return Err(PayloadError::DecodedLengthMismatch {
                declared,
                received: self.received,
            });
        }
        if signed {
            let empty = digest::digest(&digest::SHA256, b"");
            self.verify_chunk(empty.as_ref())?;
        }
        self.state = if trailer_section {
            State::Trailer
        } else {
            State::DataEnd {
                seen: 0,
                last: true,
            }
        };
        Ok(())
    }

    /// The chunk extension of a chunk of `size` bytes: `chunk-signature=<64 hex>` for a
    /// signed chunk (kept to check the chunk against; its size bounded), none otherwise.
    fn chunk_extension(
        &mut self,
        signed: bool,
        size: u64,
        extension: Option<&[u8]>,
    ) -> Result<(), PayloadError> {
        if !signed {
            return match extension {
                Some(_) => Err(PayloadError::MalformedChunk(
                    "unsigned chunks take no chunk extension",
                )),
                None => Ok(()),
            };
        }
        let signature = extension
            .and_then(|e| e.strip_prefix(b"chunk-signature=".as_slice()))
            .ok_or(PayloadError::MalformedChunk(
                "a signed chunk header must be <hex size>;chunk-signature=<signature>",
            ))?;
        self.chunk_signature = lower_hex_32(signature).ok_or(PayloadError::MalformedChunk(
            "chunk-signature must be 64 lower-case hex digits",
        ))?;
        if size > self.limits.max_chunk_size {
            return Err(PayloadError::ChunkTooLarge {
                size,
                max: self.limits.max_chunk_size,
            });
        }
        Ok(())
    }

    /// Payload bytes of the current chunk: held (signed) or released (unsigned).
    fn chunk_data(&mut self, data: &[u8], sink: &mut impl FnMut(&[u8])) {
        if let Some(ctx) = &mut self.chunk_hash {
            ctx.update(data);
            self.chunk.extend_from_slice(data);
        } else {
            if let Some((_, c)) = &mut self.checksum {
                c.update(data);
            }
            sink(data);
        }
    }

    /// The end of a non-empty chunk: verify a signed chunk, then release it.
    fn chunk_end(&mut self, sink: &mut impl FnMut(&[u8])) -> Result<(), PayloadError> {
        let Some(ctx) = self.chunk_hash.take() else {
            return Ok(());
        };
        let hash = ctx.finish();
        self.verify_chunk(hash.as_ref())?;
        let chunk = std::mem::take(&mut self.chunk);
        if let Some((_, c)) = &mut self.checksum {
            c.update(&chunk);
        }
        sink(&chunk);
        // Keep the allocation for the next chunk.
        self.chunk = chunk;
        self.chunk.clear();
        Ok(())
    }

    /// Checks `self.chunk_signature` against the chain; advances the chain.
    fn verify_chunk(&mut self, chunk_sha256: &[u8]) -> Result<(), PayloadError> {
        let index = self.chunks.saturating_sub(1);
        let Mode::Chunked {
            chain: Some(seed), ..
        } = &mut self.mode
        else {
            return Ok(());
        };
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256-PAYLOAD\n{}\n{}\n{}\n{EMPTY_SHA256}\n{}",
            seed.amz_date,
            seed.scope,
            hex::encode(seed.signature),
            hex::encode(chunk_sha256)
        );
        if hmac::verify(&seed.key, string_to_sign.as_bytes(), &self.chunk_signature).is_err() {
            return Err(PayloadError::ChunkSignatureMismatch { chunk: index });
        }
        seed.signature = self.chunk_signature;
        Ok(())
    }

    /// One complete trailer line in `self.line`; the empty line ends the section.
    fn trailer_line(&mut self) -> Result<(), PayloadError> {
        let line = std::mem::take(&mut self.line);
        if !line.is_empty() {
            if self.trailer_lines.len() >= MAX_TRAILER_LINES {
                return Err(PayloadError::MalformedTrailer("too many trailer lines."));
            }
            self.trailer_lines.push(line);
            return Ok(());
        }
        self.end_of_trailers()?;
        self.state = State::Done;
        Ok(())
    }

    /// The trailer section is complete: check its signature (signed mode), then the
    /// declared checksum.
    fn end_of_trailers(&mut self) -> Result<(), PayloadError> {
        let lines = std::mem::take(&mut self.trailer_lines);
        let mut canonical = Vec::new();
        let mut signature = None;
        let mut value = None;
        for line in &lines {
            let Some(colon) = line.iter().position(|&b| b == b':') else {
                return Err(PayloadError::MalformedTrailer(
                    "a trailer line must be name:value.",
                ));
            };
            let (name, rest) = line.split_at_checked(colon).unwrap_or((line, &[]));
            let raw_value = rest.get(1..).unwrap_or_default();
            let name = std::str::from_utf8(name)
                .map_err(|_| PayloadError::MalformedTrailer("a trailer name must be ASCII."))?;
            if signature.is_some() {
                return Err(PayloadError::MalformedTrailer(
                    "x-amz-trailer-signature must be the last trailer.",
                ));
            }
            if name.eq_ignore_ascii_case(TRAILER_SIGNATURE) {
                signature = Some(raw_value);
                continue;
            }
            let algorithm = ChecksumAlgorithm::from_header_name(name)
                .filter(|a| Some(*a) == self.trailer_declared)
                .ok_or_else(|| PayloadError::UndeclaredTrailer(quoted_name(name)))?;
            if value.is_some() {
                return Err(PayloadError::MalformedTrailer("a trailer appears twice."));
            }
            value = Some((algorithm, raw_value));
            canonical.extend_from_slice(line);
            canonical.push(b'\n');
        }
        let trailer_signed = matches!(
            self.mode,
            Mode::Chunked {
                trailer_signed: true,
                ..
            }
        );
        if trailer_signed {
            let Some(signature) = signature else {
                return Err(PayloadError::MalformedTrailer(
                    "the trailer signature is missing.",
                ));
            };
            self.verify_trailer(&canonical, signature)?;
        } else if signature.is_some() {
            return Err(PayloadError::UndeclaredTrailer(
                TRAILER_SIGNATURE.to_owned(),
            ));
        }
        match (self.trailer_declared, value) {
            (None, _) => Ok(()),
            (Some(algorithm), None) => Err(PayloadError::MissingTrailer(algorithm.header_name())),
            (Some(_), Some((algorithm, raw))) => self.check_checksum(algorithm, raw),
        }
    }

    fn verify_trailer(&mut self, canonical: &[u8], signature: &[u8]) -> Result<(), PayloadError> {
        let chunks = self.chunks;
        let Mode::Chunked {
            chain: Some(seed), ..
        } = &mut self.mode
        else {
            return Ok(());
        };
        let provided = lower_hex_32(signature).ok_or(PayloadError::MalformedTrailer(
            "x-amz-trailer-signature must be 64 lower-case hex digits.",
        ))?;
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256-TRAILER\n{}\n{}\n{}\n{}",
            seed.amz_date,
            seed.scope,
            hex::encode(seed.signature),
            hex::encode(digest::digest(&digest::SHA256, canonical))
        );
        if hmac::verify(&seed.key, string_to_sign.as_bytes(), &provided).is_err() {
            return Err(PayloadError::ChunkSignatureMismatch { chunk: chunks });
        }
        seed.signature = provided;
        Ok(())
    }

    fn check_checksum(
        &mut self,
        algorithm: ChecksumAlgorithm,
        raw: &[u8],
    ) -> Result<(), PayloadError> {
        let provided = base64::engine::general_purpose::STANDARD
            .decode(raw)
            .ok()
            .filter(|v| v.len() == algorithm.digest_len())
            .ok_or(PayloadError::InvalidChecksum(algorithm.header_name()))?;
        let Some((_, running)) = self.checksum.take() else {
            return Err(PayloadError::MissingTrailer(algorithm.header_name()));
        };
        let actual = running.finish();
        if actual != provided {
            return Err(PayloadError::ChecksumMismatch(algorithm.name()));
        }
        self.checksum_seen = Some((algorithm, actual));
        Ok(())
    }
}

/// A trailer name for a message: printable ASCII, at most 64 characters.
fn quoted_name(name: &str) -> String {
    if name.len() <= 64 && name.bytes().all(|b| (0x21..0x7f).contains(&b)) {
        name.to_owned()
    } else {
        "<invalid>".to_owned()
    }
}

/// A signature as the SDKs write it: exactly 64 lower-case hex digits.
fn lower_hex_32(text: &[u8]) -> Option<[u8; 32]> {
    if text.len() != 64 || !text.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

/// A chunk size: 1 to 16 hex digits, nothing else (no sign, no `0x`, no spaces).
fn parse_hex_size(digits: &[u8]) -> Result<u64, PayloadError> {
    if digits.is_empty() || digits.len() > MAX_SIZE_DIGITS {
        return Err(PayloadError::MalformedChunk(
            "the chunk size must be 1 to 16 hex digits",
        ));
    }
    let mut size: u64 = 0;
    for &b in digits {
        let v = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => {
                return Err(PayloadError::MalformedChunk(
                    "the chunk size must be hex digits",
                ));
            }
        };
        size = (size << 4) | u64::from(v);
    }
    Ok(size)
}
