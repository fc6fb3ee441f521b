//! What a gateway sends upstream for an S3 request it authorized, as pure functions, so
//! that "what was authorized is what the upstream executes" can be checked (and fuzzed)
//! without a server: which requests are S3's (the credential scope), which headers are
//! read for authorization (the signed ones), which are forwarded, and the path-style
//! target at the upstream.

use crate::headers::SIGNING_AND_FRAMING;
use crate::request::S3Request;

/// Whether a request is for S3, told by its credential scope (the `Authorization`
/// header's `Credential=…/s3/aws4_request`, or a presigned query's `X-Amz-Credential`), or
/// signed with S3's signature version 2 (`AWS AKID:sig`, `AWSAccessKeyId=`; refused later
/// as S3 refuses an unsupported signature, in S3's form).
pub fn is_s3(authorization: Option<&[u8]>, query: &str) -> bool {
    if let Some(auth) = authorization {
        if auth.starts_with(b"AWS ") {
            return true;
        }
        if std::str::from_utf8(auth).is_err() {
            return false;
        }
        // The credential's service: the fourth `/`-field of the value after the first
        // `Credential=`, up to `,` or ` ` (bytes compared in place: this runs on every
        // request, before anything else).
        const KEY: &[u8] = b"Credential=";
        let Some(start) = (0..auth.len())
            .filter(|&i| auth.get(i) == Some(&b'C'))
            .find(|&i| auth.get(i..).is_some_and(|rest| rest.starts_with(KEY)))
        else {
            return false;
        };
        let value = auth.get(start + KEY.len()..).unwrap_or_default();
        let end = value
            .iter()
            .position(|&b| b == b',' || b == b' ')
            .unwrap_or(value.len());
        return value
            .get(..end)
            .is_some_and(|c| c.split(|&b| b == b'/').nth(3) == Some(b"s3".as_slice()));
    }
    query.split('&').any(|p| {
        p.starts_with("AWSAccessKeyId=")
            || p.split_once('=').is_some_and(|(k, v)| {
                k.eq_ignore_ascii_case("X-Amz-Credential")
                    && (v.contains("%2Fs3%2Faws4_request") || v.contains("/s3/aws4_request"))
            })
    })
}

/// The headers the client signed (and `Host`), in their order: the only ones read for
/// authorization, so that an unsigned header added on the way cannot change the decision.
/// `signed` is the request's `SignedHeaders` list (lower case).
pub fn signed_headers<'h>(
    headers: &[(&'h str, &'h [u8])],
    signed: &[String],
) -> Vec<(&'h str, &'h [u8])> {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("host") || is_signed(n, signed))
        .copied()
        .collect()
}

fn is_signed(name: &str, signed: &[String]) -> bool {
    signed.iter().any(|s| s.eq_ignore_ascii_case(name))
}

/// Request headers never forwarded besides [`SIGNING_AND_FRAMING`]: the client's
/// authentication and body framing (the gateway sends the decoded body under its own
/// signature and length) and `Host`.
const NOT_FORWARDED: &[&str] = &[
    "authorization",
    "content-length",
    "content-encoding",
    "host",
    "expect",
];

/// Whether the header `name` is forwarded as it is: signed by the client and not one of
/// the client's authentication and body framing headers, nor `Host` (`Content-Encoding`
/// is forwarded through [`forwarded_content_encoding`]).
pub fn is_forwarded(name: &str, signed: &[String]) -> bool {
    is_signed(name, signed)
        && !NOT_FORWARDED
            .iter()
            .chain(SIGNING_AND_FRAMING)
            .any(|n| n.eq_ignore_ascii_case(name))
}

/// The `Content-Encoding` to forward for the client's: its codings without `aws-chunked`
/// (the gateway forwards the decoded body), `None` when none is left.
pub fn forwarded_content_encoding(value: &str) -> Option<String> {
    let rest: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty() && !e.eq_ignore_ascii_case("aws-chunked"))
        .collect();
    (!rest.is_empty()).then(|| rest.join(", "))
}

/// Query parameters of a presigned request, removed before forwarding.
const PRESIGN_PARAMS: &[&str] = &[
    "x-amz-algorithm",
    "x-amz-credential",
    "x-amz-date",
    "x-amz-expires",
    "x-amz-signedheaders",
    "x-amz-signature",
    "x-amz-security-token",
    "x-amz-content-sha256",
];

/// The query string without presigning parameters (and without empty parameters).
pub fn strip_presign_params(query: &str) -> String {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .filter(|p| {
            let key = p.split_once('=').map_or(*p, |(k, _)| k);
            !PRESIGN_PARAMS.iter().any(|x| key.eq_ignore_ascii_case(x))
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The path-style path (the key as the client encoded it, the bucket first) and the query
/// (without presigning parameters) to send to the upstream for `req`, which was parsed
/// from `path` and `query`.
pub fn upstream_target(req: &S3Request, path: &str, query: &str) -> (String, String) {
    let query = strip_presign_params(query);
    let path = match (req.addressing(), req.bucket()) {
        (crate::Addressing::VirtualHosted, Some(bucket)) => format!("/{bucket}{path}"),
        _ => path.to_owned(),
    };
    (path, query)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_requests_are_told_by_their_credential_scope() {
        let s3 = b"AWS4-HMAC-SHA256 Credential=ASIAX/20240101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00";
        let ddb = b"AWS4-HMAC-SHA256 Credential=ASIAX/20240101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=00";
        assert!(is_s3(Some(s3), ""));
        assert!(!is_s3(Some(ddb), ""));
        assert!(is_s3(Some(b"AWS AKID:sig"), ""));
        assert!(!is_s3(Some(b"\xff"), ""));
        assert!(is_s3(
            Some(b"AWS4-HMAC-SHA256 SignedHeaders=host, Credential=A/20240101/us-east-1/s3/aws4_request, Signature=0"),
            ""
        ));
        assert!(is_s3(
            Some(b"AWS4-HMAC-SHA256 Credential=A/20240101/us-east-1/s3"),
            ""
        ));
        assert!(!is_s3(
            Some(b"AWS4-HMAC-SHA256 Credential=A/20240101/us-east-1/s4/x"),
            ""
        ));
        assert!(!is_s3(
            Some(b"AWS4-HMAC-SHA256 Credential=A/20240101/us-east-1/s3x/aws4_request"),
            ""
        ));
        assert!(!is_s3(
            Some(b"AWS4-HMAC-SHA256 Credential=A/s3/us-east-1/dynamodb/aws4_request"),
            ""
        ));
        assert!(!is_s3(Some(b"AWS4-HMAC-SHA256 Credentia"), ""));
        assert!(is_s3(
            None,
            "X-Amz-Credential=ASIAX%2F20240101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=0"
        ));
        assert!(!is_s3(None, "prefix=%2Fs3%2Faws4_request"));
    }

    #[test]
    fn only_signed_headers_are_read_and_forwarded() {
        let headers: Vec<(&str, &[u8])> = vec![
            ("host", b"s3.local"),
            ("x-amz-meta-a", b"1"),
            ("x-amz-meta-unsigned", b"1"),
            ("X-Amz-Date", b"d"),
            ("content-length", b"9"),
        ];
        let signed: Vec<String> = ["x-amz-meta-a", "x-amz-date", "content-length"]
            .map(String::from)
            .to_vec();
        let read = signed_headers(&headers, &signed);
        let names: Vec<&str> = read.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            ["host", "x-amz-meta-a", "X-Amz-Date", "content-length"]
        );
        assert!(is_forwarded("x-amz-meta-a", &signed));
        assert!(!is_forwarded("x-amz-meta-unsigned", &signed));
        assert!(!is_forwarded("X-Amz-Date", &signed));
        assert!(!is_forwarded("content-length", &signed));
    }

    #[test]
    fn aws_chunked_is_dropped_from_the_content_encoding() {
        assert_eq!(
            forwarded_content_encoding("aws-chunked, gzip").as_deref(),
            Some("gzip")
        );
        assert_eq!(forwarded_content_encoding("AWS-CHUNKED"), None);
        assert_eq!(forwarded_content_encoding(" , "), None);
    }

    #[test]
    fn presign_parameters_are_stripped() {
        assert_eq!(
            strip_presign_params("X-Amz-Signature=1&prefix=a&&x-amz-credential=c&list-type=2"),
            "prefix=a&list-type=2"
        );
        assert_eq!(strip_presign_params(""), "");
    }
}
