//! The gateway's S3 mapping, from an HTTP request to what the upstream executes
//! (`irsa_s3`'s forwarding functions around `irsa_s3::S3Request`): the request is told S3 by its
//! credential scope, read from its signed headers only, mapped to IAM authorizations, then
//! turned into the path-style request the gateway forwards. The forwarded request, read
//! again as the upstream reads it (every forwarded header, the upstream's host), must
//! name the same operation, bucket, key and copy source and need exactly the same
//! authorizations: what was authorized is what the upstream executes.
//!
//! Input: the first byte picks the method; the rest is split on NUL bytes into the target
//! (`path?query`), the `SignedHeaders` list (`;`-separated), the `Host`, then header
//! name/value pairs; the last field is also the body. `IRSA_FUZZ_DEBUG=1` prints each
//! request that got through to the comparison.
#![no_main]

use irsa_s3::{
    AuthType, Endpoints, HttpRequest, RequestAuth, S3Request, forwarded_content_encoding,
    is_forwarded_header, is_s3_request, signed_headers, upstream_target,
};
use libfuzzer_sys::fuzz_target;

include!("s3_common.rs");

const UPSTREAM_HOST: &[u8] = b"upstream.test:9000";

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let fields = s3_fields(rest);
    let text = |i: usize| s3_text(&fields, i);
    let method = METHODS[usize::from(first) % METHODS.len()];
    let target = text(0);
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let signed: Vec<String> = text(1)
        .split(';')
        .filter(|s| !s.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20240101/us-east-1/s3/aws4_request, SignedHeaders={}, Signature=00",
        signed.join(";")
    );
    let mut all: Vec<(&str, &[u8])> = vec![
        ("host", fields.get(2).copied().unwrap_or(b"")),
        ("authorization", authorization.as_bytes()),
    ];
    let mut i = 3;
    while i + 1 < fields.len() {
        all.push((text(i), fields[i + 1]));
        i += 2;
    }
    let body = fields.last().copied().unwrap_or(b"");

    // Routing: the credential scope says S3, whatever else the request carries; a scope of
    // another service never is.
    assert!(is_s3_request(Some(authorization.as_bytes()), query));
    let dynamodb = authorization.replace("/s3/", "/dynamodb/");
    assert!(!is_s3_request(Some(dynamodb.as_bytes()), query));
    if let Some((_, v)) = all
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("x-fuzz-auth"))
    {
        let _ = is_s3_request(Some(v), query);
    }

    // Read as the gateway reads it: the signed headers only.
    let read = signed_headers(&all, &signed);
    assert!(
        read.iter().all(|(n, _)| n.eq_ignore_ascii_case("host")
            || signed.iter().any(|s| s.eq_ignore_ascii_case(n)))
    );
    let req = HttpRequest {
        method,
        path,
        query,
        headers: &read,
    };
    let Some(parsed) = s3_parse(&req) else {
        return;
    };
    let Ok(wanted) = parsed.authorizations("aws", &S3_AUTH, body) else {
        return;
    };

    // Forwarded as the gateway forwards it, then read as the upstream reads it.
    let (up_path, up_query) = upstream_target(&parsed, path, query);
    let mut forwarded: Vec<(&str, Vec<u8>)> = vec![("host", UPSTREAM_HOST.to_vec())];
    for (n, v) in &all {
        if is_forwarded_header(n, &signed) {
            forwarded.push((n, v.to_vec()));
        }
    }
    let encoding = all
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-encoding"))
        .and_then(|(_, v)| std::str::from_utf8(v).ok())
        .and_then(forwarded_content_encoding);
    if let Some(e) = &encoding {
        forwarded.push(("content-encoding", e.as_bytes().to_vec()));
    }
    let forwarded: Vec<(&str, &[u8])> = forwarded.iter().map(|(n, v)| (*n, v.as_slice())).collect();
    let Ok(upstream_endpoints) = Endpoints::new(["upstream.test"]) else {
        return;
    };
    let upstream = S3Request::parse(
        &HttpRequest {
            method,
            path: &up_path,
            query: &up_query,
            headers: &forwarded,
        },
        &upstream_endpoints,
    )
    .unwrap_or_else(|e| {
        panic!("{method} {target}: the forwarded request {up_path}?{up_query} does not parse: {e}")
    });
    assert_eq!(
        upstream.operation().name(),
        parsed.operation().name(),
        "{method} {target} → {up_path}?{up_query}"
    );
    assert_eq!(upstream.bucket(), parsed.bucket(), "{target}");
    assert_eq!(upstream.key(), parsed.key(), "{target}");
    assert_eq!(upstream.copy_source(), parsed.copy_source(), "{target}");
    let executed = upstream
        .authorizations("aws", &S3_AUTH, body)
        .unwrap_or_else(|e| panic!("{target}: the forwarded request maps to {e}"));
    assert_eq!(executed, wanted, "{method} {target} → {up_path}?{up_query}");
    if std::env::var_os("IRSA_FUZZ_DEBUG").is_some() {
        eprintln!(
            "compared: {} {target} → {up_path}?{up_query}: {} authorizations",
            parsed.operation().name(),
            wanted.len()
        );
    }
});
