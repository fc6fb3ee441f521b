//! SigV4 `parse` and `verify` of a request built from the fuzz input, with both the
//! default (`sts`, double URI encoding) and the S3 options, a fixed secret and a fixed
//! `now`.
//!
//! Input is HTTP-like text (the head must be UTF-8, the body is raw bytes):
//!
//! ```text
//! METHOD /path?query
//! name: value
//! ...
//!
//! body
//! ```
//!
//! Invariants, besides "never panics":
//! - a request that parses passes `check_time` at its own request time, and `verify`
//!   then fails only with `SignatureDoesNotMatch`;
//! - re-signing oracle: when the input holds the placeholder `{sig}` exactly once (right
//!   after `Signature=`), the target parses it with a dummy signature, computes the right
//!   signature from `string_to_sign()` and the secret, substitutes it and parses again; if
//!   the string to sign is unchanged, `verify` must succeed.
#![no_main]

use aws_lc_rs::hmac;
use irsa_sigv4::{
    ErrorKind, Request, SignatureLocation, VerifyOptions, parse, split_path_and_query, verify,
};
use libfuzzer_sys::fuzz_target;

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const NOW: i64 = 1_700_000_000;
const PLACEHOLDER: &str = "{sig}";

struct Parts<'a> {
    method: &'a str,
    target: &'a str,
    headers: Vec<(&'a str, &'a [u8])>,
    body: &'a [u8],
}

fn split(data: &[u8]) -> Option<Parts<'_>> {
    let head_end = data
        .windows(2)
        .position(|w| w == b"\n\n")
        .unwrap_or(data.len());
    let head = std::str::from_utf8(&data[..head_end]).ok()?;
    let body = data.get(head_end + 2..).unwrap_or(b"");
    let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let request_line = lines.next()?;
    let (method, target) = request_line.split_once(' ').unwrap_or((request_line, "/"));
    let headers = lines
        .filter_map(|l| {
            let (n, v) = l.split_once(':')?;
            Some((n, v.trim_start_matches(' ').as_bytes()))
        })
        .collect();
    Some(Parts {
        method,
        target,
        headers,
        body,
    })
}

fn request<'a>(p: &'a Parts<'a>) -> Request<'a> {
    let (path, query) = split_path_and_query(p.target);
    Request {
        method: p.method,
        path,
        query,
        headers: &p.headers,
        body: p.body,
    }
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data)
        .as_ref()
        .to_vec()
}

/// The signature of `string_to_sign` with [`SECRET`], scope read from its third line.
fn sign(string_to_sign: &str) -> Option<String> {
    let scope = string_to_sign.split('\n').nth(2)?;
    let mut it = scope.strip_suffix("/aws4_request")?.splitn(3, '/');
    let (date, region, service) = (it.next()?, it.next()?, it.next()?);
    let mut k = hmac_sha256(format!("AWS4{SECRET}").as_bytes(), date.as_bytes());
    for part in [region, service, "aws4_request"] {
        k = hmac_sha256(&k, part.as_bytes());
    }
    Some(
        hmac_sha256(&k, string_to_sign.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
    )
}

fn check(data: &[u8], options: &VerifyOptions) {
    let Some(parts) = split(data) else {
        return;
    };
    let req = request(&parts);
    let _ = verify(&req, options, NOW, |_| Some(SECRET));
    let Ok(parsed) = parse(&req, options) else {
        return;
    };
    let t = parsed.request_time();
    if let Err(e) = parsed.check_time(t) {
        panic!("request fails check_time at its own time {t}: {e}");
    }
    match parsed.verify(SECRET, t) {
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::SignatureDoesNotMatch => {}
        Err(e) => panic!(
            "verify at the request's own time failed with {:?}: {e}",
            e.kind()
        ),
    }
}

/// Whether the single `{sig}` placeholder sits where the parser takes the signature from,
/// so that substituting it changes exactly the provided signature: `Some(true)` for the
/// `Signature=` parameter of the only `authorization` header line, `Some(false)` for the
/// only `X-Amz-Signature` parameter of the query, `None` otherwise.
fn placeholder_is_the_signature(text: &str) -> Option<bool> {
    if text.matches(PLACEHOLDER).count() != 1 {
        return None;
    }
    let head = text.split("\n\n").next()?;
    let mut lines = head.split('\n');
    let request_line = lines.next()?;
    let lines: Vec<&str> = lines.collect();
    let ends_param = |rest: &str, seps: &[char]| rest.is_empty() || rest.starts_with(seps);
    if let Some(at) = request_line.find(PLACEHOLDER) {
        let query = request_line.split_once('?')?.1;
        let q_at = query.find(PLACEHOLDER)?;
        let before = &query[..q_at];
        let header_auth = lines.iter().any(|l| {
            l.split_once(':')
                .is_some_and(|(n, _)| n.eq_ignore_ascii_case("authorization"))
        });
        let ok = (before == "X-Amz-Signature=" || before.ends_with("&X-Amz-Signature="))
            && query.to_ascii_lowercase().matches("signature").count() == 1
            && percent_decode_lower(query).matches("signature").count() == 1
            && !header_auth
            && ends_param(&request_line[at + PLACEHOLDER.len()..], &['&', ' ', '#']);
        return ok.then_some(false);
    }
    let auth: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| {
            l.split_once(':')
                .is_some_and(|(n, _)| n.eq_ignore_ascii_case("authorization"))
        })
        .collect();
    let [line] = auth.as_slice() else {
        return None;
    };
    let value = line.split_once(':')?.1.trim_end_matches('\r');
    let v_at = value.find(PLACEHOLDER)?;
    let before = &value[..v_at];
    let key_start = before.strip_suffix("Signature=")?;
    let ok = (key_start.ends_with([' ', ',']))
        && value.to_ascii_lowercase().matches("signature=").count() == 1
        && ends_param(&value[v_at + PLACEHOLDER.len()..], &[',']);
    ok.then_some(true)
}

/// `s` with `%XX` escapes decoded (lossily) and lower-cased.
fn percent_decode_lower(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (b[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).to_ascii_lowercase()
}

fn resign_oracle(data: &[u8], options: &VerifyOptions) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Some(want_header) = placeholder_is_the_signature(text) else {
        return;
    };
    let dummy = text.replacen(PLACEHOLDER, &"0".repeat(64), 1);
    let Some(parts) = split(dummy.as_bytes()) else {
        return;
    };
    let Ok(first) = parse(&request(&parts), options) else {
        return;
    };
    if (first.location() == SignatureLocation::Header) != want_header {
        return;
    }
    let Some(sig) = sign(first.string_to_sign()) else {
        return;
    };
    let signed = text.replacen(PLACEHOLDER, &sig, 1);
    let Some(parts) = split(signed.as_bytes()) else {
        return;
    };
    let Ok(second) = parse(&request(&parts), options) else {
        return;
    };
    if second.string_to_sign() != first.string_to_sign() {
        return; // the signature is itself signed (e.g. `authorization` in SignedHeaders)
    }
    if let Err(e) = second.verify(SECRET, second.request_time()) {
        panic!(
            "a correctly re-signed request does not verify: {e}\nrequest: {signed:?}\nstring to sign: {:?}",
            second.string_to_sign()
        );
    }
    if std::env::var_os("IRSA_FUZZ_DEBUG").is_some() {
        eprintln!(
            "sigv4_verify: re-signed request verified ({:?})",
            second.location()
        );
    }
}

fuzz_target!(|data: &[u8]| {
    for options in [
        VerifyOptions::for_service("sts"),
        VerifyOptions::s3(),
        VerifyOptions::default(),
    ] {
        check(data, &options);
        resign_oracle(data, &options);
    }
});
