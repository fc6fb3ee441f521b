//! irsa-sigv4's signer against its verifier: a request built from fuzzer-chosen parts
//! (method, path, query, headers, body) is signed with `authorization` (the signer the
//! gateway re-signs upstream requests with), once as DynamoDB signs (double URI encoding,
//! the body hashed by the verifier) and once as S3 does (`x-amz-content-sha256` sent).
//!
//! Input: the first byte chooses the mutation (below); the rest is split on `0x00` into
//! method, path, query, body, then header name/value pairs. Names are mapped to lower-case
//! `x-…` tokens (the signer's own headers, `host`, `x-amz-date`, `x-amz-content-sha256`,
//! `x-amz-security-token`, are not chosen by the fuzzer); values are raw bytes.
//!
//! Invariants, besides "never panics":
//! - the signed request verifies (`parse`, then `verify` at its own time), and the
//!   verified signed headers are the names signed, sorted and without repeats;
//! - a one-byte change of the method, of a letter or digit of the path, of the query or
//!   of a header value (to another letter or digit), or of the body (DynamoDB) or the
//!   `x-amz-content-sha256` value (S3), after signing, is rejected.
#![no_main]

use irsa_sigv4::{
    ErrorKind, Request, Signer, UriEncoding, VerifyOptions, amz_date, authorization, parse,
};
use libfuzzer_sys::fuzz_target;

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const NOW: i64 = 1_700_000_000;
const RESERVED: &[&str] = &[
    "authorization",
    "host",
    "x-amz-date",
    "x-amz-content-sha256",
    "x-amz-security-token",
];

/// The parts of a request, owned so that one byte of any of them can be changed.
#[derive(Clone)]
struct Parts {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

fn parts(fields: &[&[u8]]) -> Parts {
    let field = |i: usize| fields.get(i).copied().unwrap_or_default();
    let mut method: String = field(0)
        .iter()
        .take(10)
        .map(|b| char::from(b'A' + b % 26))
        .collect();
    if method.is_empty() {
        method.push_str("POST");
    }
    let mut path = String::from("/");
    path.push_str(&String::from_utf8_lossy(field(1)));
    let query = String::from_utf8_lossy(field(2)).into_owned();
    let body = field(3).to_vec();
    let mut headers = Vec::new();
    for pair in fields.get(4..).unwrap_or_default().chunks(2).take(8) {
        let mut name = String::from("x-");
        name.extend(pair[0].iter().take(24).map(|b| {
            let c = b % 37;
            char::from(match c {
                0..=25 => b'a' + c,
                26..=35 => b'0' + c - 26,
                _ => b'-',
            })
        }));
        if RESERVED.contains(&name.as_str()) {
            continue;
        }
        headers.push((name, pair.get(1).copied().unwrap_or_default().to_vec()));
    }
    Parts {
        method,
        path,
        query,
        headers,
        body,
    }
}

/// `s` `%XX`-decoded (lossily), lower-cased.
fn percent_decode_lower(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (c, hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).to_ascii_lowercase()
}

/// A query that names presigning parameters is a second way to authenticate: refused
/// beside an `Authorization` header whatever its signature.
fn presigns(query: &str) -> bool {
    let q = percent_decode_lower(query);
    ["x-amz-algorithm", "x-amz-credential", "x-amz-signature"]
        .iter()
        .any(|k| q.contains(k))
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data))
}

/// The headers as sent: the fuzzer's, `host`, `x-amz-date` and, for S3,
/// `x-amz-content-sha256` (the body's hash unless `declared` says otherwise).
fn sent_headers(p: &Parts, s3: bool, date: &str, declared: &str) -> Vec<(String, Vec<u8>)> {
    let mut headers = p.headers.clone();
    headers.push(("host".into(), b"gateway.example.test".to_vec()));
    headers.push(("x-amz-date".into(), date.as_bytes().to_vec()));
    if s3 {
        headers.push(("x-amz-content-sha256".into(), declared.as_bytes().to_vec()));
    }
    headers
}

/// The `Authorization` value signing `p` as sent with `headers`.
fn sign(p: &Parts, s3: bool, headers: &[(String, Vec<u8>)], date: &str) -> Option<String> {
    let signer = Signer {
        access_key_id: "AKIDEXAMPLE",
        secret_access_key: SECRET,
        region: "us-east-1",
        service: if s3 { "s3" } else { "dynamodb" },
        uri_encoding: if s3 {
            UriEncoding::S3
        } else {
            UriEncoding::Double
        },
    };
    let signable: Vec<(&str, &[u8])> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_slice()))
        .collect();
    authorization(
        &signer,
        &p.method,
        &p.path,
        &p.query,
        &signable,
        &sha256_hex(&p.body),
        date,
        None,
    )
}

/// Verifies `p` sent with `headers` and `auth`: the signed header names when it verifies.
fn verify(
    p: &Parts,
    s3: bool,
    headers: &[(String, Vec<u8>)],
    auth: &str,
) -> Result<Vec<String>, irsa_sigv4::VerifyError> {
    let mut all: Vec<(&str, &[u8])> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_slice()))
        .collect();
    all.push(("authorization", auth.as_bytes()));
    let request = Request {
        method: &p.method,
        path: &p.path,
        query: &p.query,
        headers: &all,
        body: &p.body,
    };
    let options = if s3 {
        VerifyOptions::s3()
    } else {
        VerifyOptions::for_service("dynamodb")
    };
    let parsed = parse(&request, &options)?;
    let verified = parsed.verify(SECRET, NOW)?;
    Ok(verified.signed_headers)
}

/// Replaces the `n`-th letter or digit of `s` (counted cyclically) by another one; `false`
/// when `s` has none.
fn change_alphanumeric(s: &mut Vec<u8>, n: usize) -> bool {
    let at: Vec<usize> = (0..s.len())
        .filter(|&i| s[i].is_ascii_alphanumeric())
        .collect();
    if at.is_empty() {
        return false;
    }
    let i = at[n % at.len()];
    s[i] = if s[i] == b'q' { b'7' } else { b'q' };
    true
}

/// `p` changed by one byte in the part `selector` names, and what is sent for S3's
/// declared hash; `None` when that part has nothing to change.
fn mutated(p: &Parts, selector: u8, s3: bool) -> Option<(Parts, Option<String>)> {
    let mut m = p.clone();
    let n = usize::from(selector / 6);
    let string = |s: &mut String| {
        let mut bytes = std::mem::take(s).into_bytes();
        let changed = change_alphanumeric(&mut bytes, n);
        *s = String::from_utf8(bytes).unwrap_or_default();
        changed
    };
    let changed = match selector % 6 {
        0 => string(&mut m.method),
        1 => string(&mut m.path),
        2 => string(&mut m.query),
        3 => {
            let len = m.headers.len();
            len > 0 && change_alphanumeric(&mut m.headers[n % len].1, n / len)
        }
        4 if !s3 => {
            if m.body.is_empty() {
                m.body.push(0);
            } else {
                let i = n % m.body.len();
                m.body[i] ^= 1;
            }
            true
        }
        4 => {
            let mut declared = sha256_hex(&p.body).into_bytes();
            change_alphanumeric(&mut declared, n);
            return Some((m, String::from_utf8(declared).ok()));
        }
        _ => false,
    };
    changed.then_some((m, None))
}

fn check(selector: u8, p: &Parts, s3: bool) {
    let Some(date) = amz_date(NOW) else {
        return;
    };
    let headers = sent_headers(p, s3, &date, &sha256_hex(&p.body));
    let Some(auth) = sign(p, s3, &headers, &date) else {
        panic!("the signer refused a well-formed date");
    };
    let signed = match verify(p, s3, &headers, &auth) {
        Ok(signed) => signed,
        Err(e) => panic!(
            "a request signed by irsa-sigv4 does not verify ({:?}): {e}\nauthorization: {auth}",
            e.kind()
        ),
    };
    let mut names: Vec<String> = headers.iter().map(|(n, _)| n.clone()).collect();
    names.sort();
    names.dedup();
    assert_eq!(signed, names, "signed headers");

    let Some((m, declared)) = mutated(p, selector, s3) else {
        return;
    };
    let declared = declared.unwrap_or_else(|| sha256_hex(&m.body));
    let sent = sent_headers(&m, s3, &date, &declared);
    match verify(&m, s3, &sent, &auth) {
        Ok(_) => panic!("a request changed after signing verifies (selector {selector})"),
        // S3 may refuse a malformed declared hash before looking at the signature.
        Err(_) if s3 && selector % 6 == 4 => {}
        Err(e) => assert_eq!(
            e.kind(),
            ErrorKind::SignatureDoesNotMatch,
            "a changed request refused with: {e}"
        ),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let fields: Vec<&[u8]> = rest.split(|&b| b == 0).collect();
    let p = parts(&fields);
    if presigns(&p.query) {
        return;
    }
    check(selector, &p, false);
    check(selector, &p, true);
});
