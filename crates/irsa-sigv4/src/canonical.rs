//! Building the SigV4 canonical request from the parts of a received request.

use std::borrow::Cow;

use crate::encoding::{percent_decode, uri_encode};

/// How the request path is turned into the canonical URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UriEncoding {
    /// Every AWS service except S3: the path as received is normalized (dot
    /// segments and empty segments removed) and then percent-encoded again, so
    /// each segment ends up encoded twice (`%20` becomes `%2520`).
    #[default]
    Double,
    /// S3: the path is decoded once and encoded once, without normalization.
    S3,
}

/// Header names whose values are replaced in the redacted canonical request.
const SENSITIVE_HEADERS: &[&str] = &["x-amz-security-token", "authorization"];
/// Query keys whose values are replaced in the redacted canonical request.
const SENSITIVE_QUERY_KEYS: &[&[u8]] = &[b"X-Amz-Security-Token"];
const REDACTED: &str = "<REDACTED>";

/// Removes dot segments and empty segments (RFC 3986 §5.2.4, as the AWS SDKs do).
fn normalize_path(path: &str) -> String {
    if path.is_empty() {
        return "/".to_owned();
    }
    if !(path.contains('.') || path.contains("//")) && path.starts_with('/') {
        return path.to_owned();
    }
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    let mut out = String::with_capacity(path.len() + 1);
    out.push('/');
    out.push_str(&segments.join("/"));
    let ends_with_slash = ["/", "/.", "/..", "/./", "/../"]
        .iter()
        .any(|suffix| path.ends_with(suffix));
    if ends_with_slash && !out.ends_with('/') {
        out.push('/');
    }
    out
}

/// The canonical URI for the path as received on the wire (still percent-encoded,
/// without the query).
pub(crate) fn canonical_uri(raw_path: &str, encoding: UriEncoding) -> String {
    match encoding {
        UriEncoding::Double => uri_encode(normalize_path(raw_path).as_bytes(), true),
        UriEncoding::S3 => {
            if raw_path.is_empty() {
                return "/".to_owned();
            }
            uri_encode(&percent_decode(raw_path.as_bytes(), false), true)
        }
    }
}

/// One decoded query parameter.
#[derive(Debug, Clone)]
pub(crate) struct QueryParam {
    pub(crate) key: Vec<u8>,
    pub(crate) value: Vec<u8>,
}

/// Splits a raw query string into decoded parameters (`+` means a space).
pub(crate) fn parse_query(raw_query: &str) -> Vec<QueryParam> {
    raw_query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            QueryParam {
                key: percent_decode(key.as_bytes(), true),
                value: percent_decode(value.as_bytes(), true),
            }
        })
        .collect()
}

/// The canonical query string: every parameter except those named in `exclude`,
/// encoded, sorted by encoded key and then encoded value. Returns the real and
/// the redacted form.
pub(crate) fn canonical_query(params: &[QueryParam], exclude: &[&[u8]]) -> (String, String) {
    let mut encoded: Vec<(String, String, bool)> = params
        .iter()
        .filter(|p| !exclude.contains(&p.key.as_slice()))
        .map(|p| {
            let sensitive = SENSITIVE_QUERY_KEYS.contains(&p.key.as_slice());
            (
                uri_encode(&p.key, false),
                uri_encode(&p.value, false),
                sensitive,
            )
        })
        .collect();
    encoded.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    let mut real = String::new();
    let mut redacted = String::new();
    for (i, (k, v, sensitive)) in encoded.iter().enumerate() {
        if i > 0 {
            real.push('&');
            redacted.push('&');
        }
        real.push_str(k);
        real.push('=');
        real.push_str(v);
        redacted.push_str(k);
        redacted.push('=');
        redacted.push_str(if *sensitive { REDACTED } else { v });
    }
    (real, redacted)
}

/// Trims leading and trailing spaces and collapses runs of spaces into one.
/// Only the space character counts, as in the AWS SDKs (S3 trims only spaces).
/// A value with nothing to trim or collapse (the usual case) is borrowed.
pub(crate) fn trim_all(value: &[u8]) -> Cow<'_, [u8]> {
    let start = value.iter().position(|&b| b != b' ').unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|&b| b != b' ')
        .map_or(start, |i| i + 1);
    let trimmed = value.get(start..end).unwrap_or_default();
    // `contains` on bytes is a memchr: most values (tokens, dates, hashes) have no space.
    if !trimmed.contains(&b' ') || !trimmed.windows(2).any(|w| w == b"  ") {
        return Cow::Borrowed(trimmed);
    }
    let mut out = Vec::with_capacity(trimmed.len());
    let mut previous_space = false;
    for &b in trimmed {
        if b == b' ' {
            if previous_space {
                continue;
            }
            previous_space = true;
        } else {
            previous_space = false;
        }
        out.push(b);
    }
    Cow::Owned(out)
}

/// All values of header `name` (case-insensitive), trimmed and joined with `,`,
/// or `None` when the request has no such header. A single value is borrowed.
pub(crate) fn header_values<'h>(headers: &[(&str, &'h [u8])], name: &str) -> Option<Cow<'h, [u8]>> {
    let mut joined: Option<Cow<'h, [u8]>> = None;
    for (n, v) in headers {
        if n.eq_ignore_ascii_case(name) {
            let value = trim_all(v);
            match joined.as_mut() {
                Some(acc) => {
                    let acc = acc.to_mut();
                    acc.push(b',');
                    acc.extend_from_slice(&value);
                }
                None => joined = Some(value),
            }
        }
    }
    joined
}

/// The canonical headers block (each `name:value\n`) for the signed headers, in
/// the order given, and the length of each value (to redact it later, see
/// [`redacted_headers`]). `Err(name)` names a signed header the request does not carry.
pub(crate) fn canonical_headers(
    headers: &[(&str, &[u8])],
    signed_headers: &[String],
) -> Result<(Vec<u8>, Vec<usize>), String> {
    let mut real = Vec::new();
    let mut lengths = Vec::with_capacity(signed_headers.len());
    for name in signed_headers {
        let value = header_values(headers, name).ok_or_else(|| name.clone())?;
        real.extend_from_slice(name.as_bytes());
        real.push(b':');
        real.extend_from_slice(&value);
        real.push(b'\n');
        lengths.push(value.len());
    }
    Ok((real, lengths))
}

/// The block [`canonical_headers`] built, with the values of sensitive headers replaced.
pub(crate) fn redacted_headers(
    block: &[u8],
    signed_headers: &[String],
    lengths: &[usize],
) -> String {
    let mut redacted = String::with_capacity(block.len());
    let mut at = 0usize;
    for (name, &len) in signed_headers.iter().zip(lengths) {
        let start = at + name.len() + 1;
        let value = block.get(start..start + len).unwrap_or_default();
        at = start + len + 1;
        redacted.push_str(name);
        redacted.push(':');
        if SENSITIVE_HEADERS.contains(&name.as_str()) {
            redacted.push_str(REDACTED);
        } else {
            redacted.push_str(&String::from_utf8_lossy(value));
        }
        redacted.push('\n');
    }
    redacted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_like_the_sdks() {
        assert_eq!(normalize_path(""), "/");
        assert_eq!(normalize_path("/"), "/");
        assert_eq!(normalize_path("/./"), "/");
        assert_eq!(normalize_path("/example1/example2/../.."), "/");
        assert_eq!(normalize_path("/example/.."), "/");
        assert_eq!(normalize_path("/a/./b/../c"), "/a/c");
        assert_eq!(normalize_path("//example//"), "/example/");
        assert_eq!(normalize_path("/../foo"), "/foo");
        assert_eq!(normalize_path("/foo/bar/."), "/foo/bar/");
        assert_eq!(normalize_path("/foo.txt"), "/foo.txt");
    }

    #[test]
    fn double_and_s3_uri() {
        assert_eq!(canonical_uri("/a%20b/c", UriEncoding::Double), "/a%2520b/c");
        assert_eq!(canonical_uri("/a%20b/c", UriEncoding::S3), "/a%20b/c");
        assert_eq!(canonical_uri("/a b", UriEncoding::S3), "/a%20b");
        assert_eq!(canonical_uri("/a/../b", UriEncoding::S3), "/a/../b");
        assert_eq!(canonical_uri("", UriEncoding::S3), "/");
        assert_eq!(canonical_uri("/k+ey", UriEncoding::S3), "/k%2Bey");
    }

    #[test]
    fn query_is_sorted_by_encoded_key_then_value() {
        let params = parse_query("b=2&a=z&a=y&B=1&c&&d=a+b%2Bc&X-Amz-Signature=x");
        let (real, _) = canonical_query(&params, &[b"X-Amz-Signature"]);
        assert_eq!(real, "B=1&a=y&a=z&b=2&c=&d=a%20b%2Bc");
    }

    #[test]
    fn redacts_security_token() {
        let params = parse_query("X-Amz-Security-Token=secret&a=1");
        let (real, redacted) = canonical_query(&params, &[]);
        assert!(real.contains("secret"));
        assert!(!redacted.contains("secret"));
        let headers: &[(&str, &[u8])] = &[("X-Amz-Security-Token", b"s3cr3t"), ("Host", b"h")];
        let signed = vec!["host".to_owned(), "x-amz-security-token".to_owned()];
        let (real, lengths) = canonical_headers(headers, &signed).unwrap();
        assert_eq!(real, b"host:h\nx-amz-security-token:s3cr3t\n");
        let redacted = redacted_headers(&real, &signed, &lengths);
        assert!(!redacted.contains("s3cr3t"));
        assert!(redacted.contains("x-amz-security-token:<REDACTED>"));
    }

    #[test]
    fn trims_and_collapses_spaces_only() {
        assert_eq!(&*trim_all(b"  a   b  c "), b"a b c");
        assert_eq!(&*trim_all(b"   "), b"");
        assert_eq!(&*trim_all(b"\ta\t"), b"\ta\t");
        assert_eq!(&*trim_all(b"\"a   b   c\""), b"\"a b c\"");
        assert_eq!(&*trim_all(b" a b "), b"a b");
        assert!(matches!(trim_all(b"a b"), Cow::Borrowed(_)));
    }

    #[test]
    fn duplicate_headers_are_joined_in_order() {
        let headers: &[(&str, &[u8])] = &[("My-Header1", b"value2"), ("my-header1", b" value1 ")];
        assert_eq!(
            &*header_values(headers, "my-header1").unwrap(),
            b"value2,value1"
        );
        assert!(header_values(headers, "missing").is_none());
        let signed = vec!["missing".to_owned()];
        assert_eq!(canonical_headers(headers, &signed).unwrap_err(), "missing");
    }
}
