//! S3 requests (`irsa_s3::S3Request`) → IAM authorizations. The input is split on NUL
//! bytes into method, path, query, Host, then header name/value pairs; the last field is
//! also the body. The first byte picks the method from a short list (or the raw field
//! is used). Nothing may panic; a mapped request has at least one authorization, each for
//! an `s3:` action on `*` or an S3 ARN that parses back to the request's bucket or copy
//! source, and error bodies are XML.
#![no_main]

use irsa_s3::{AuthType, Endpoints, HttpRequest, RequestAuth, S3Request, parse_arn};
use libfuzzer_sys::fuzz_target;

include!("s3_common.rs");

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let fields = s3_fields(rest);
    let text = |i: usize| s3_text(&fields, i);
    let method = METHODS
        .get(usize::from(first) % (METHODS.len() + 1))
        .copied()
        .unwrap_or_else(|| text(0));
    let path = text(1);
    let query = text(2);
    let mut headers: Vec<(&str, &[u8])> = vec![("host", fields.get(3).copied().unwrap_or(b""))];
    let mut i = 4;
    while i + 1 < fields.len() {
        headers.push((text(i), fields[i + 1]));
        i += 2;
    }
    let body = fields.last().copied().unwrap_or(b"");
    let req = HttpRequest {
        method,
        path,
        query,
        headers: &headers,
    };
    let Some(parsed) = s3_parse(&req) else {
        return;
    };
    let Ok(auths) = parsed.authorizations("aws", &S3_AUTH, body) else {
        return;
    };
    assert!(
        !auths.is_empty(),
        "{}: no authorization",
        parsed.operation()
    );
    for a in &auths {
        assert!(a.action.starts_with("s3:"), "{}", a.action);
        if a.resource == "*" {
            assert!(parsed.bucket().is_none());
            continue;
        }
        let (partition, bucket, key) = parse_arn(&a.resource).unwrap_or_else(|| {
            panic!(
                "{}: resource {} does not parse",
                parsed.operation(),
                a.resource
            )
        });
        assert_eq!(partition, "aws");
        let source = parsed.copy_source();
        // DeleteObjects names its keys in the body (the request has no key).
        let ours = Some(bucket) == parsed.bucket()
            && (key.is_none() || parsed.key().is_none() || key == parsed.key());
        let copied = source.is_some_and(|(b, k, _)| b == bucket && Some(k) == key);
        assert!(ours || copied, "{}: {}", parsed.operation(), a.resource);
    }
});
