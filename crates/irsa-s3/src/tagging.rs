//! Object tags a request sets: the `x-amz-tagging` header (URL query form, `k1=v1&k2=v2`)
//! and the `PutObjectTagging` body, checked as S3 checks tag sets.

use crate::address::percent_decode;
use crate::error::S3Error;

/// S3's limit on tags per object.
pub const MAX_TAGS: usize = 10;
/// S3's limits on a tag key and value, in characters.
pub(crate) const MAX_TAG_KEY: usize = 128;
pub(crate) const MAX_TAG_VALUE: usize = 256;

/// The tags a request sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tags {
    /// Exactly these (key, value) pairs, in request order.
    Known(Vec<(String, String)>),
    /// The request sets tags, but which ones S3 would read cannot be told exactly: the
    /// tag keys are undetermined.
    Undetermined,
}

/// Reads an `x-amz-tagging` value. Undetermined (not refused, not guessed): a `+` (space or
/// plus?), a `%` that is not followed by two hex digits, a decoding that is not UTF-8, an
/// empty segment (`a=1&&b=2`), and two keys that differ only in case (IAM condition key
/// names are case-insensitive, so `s3:RequestObjectTag/Env` could name either).
pub(crate) fn parse_header(raw: &str) -> Result<Tags, S3Error> {
    if raw.is_empty() {
        return Ok(Tags::Known(Vec::new()));
    }
    if raw.contains('+') {
        return Ok(Tags::Undetermined);
    }
    let mut tags = Vec::new();
    for seg in raw.split('&') {
        if seg.is_empty() {
            return Ok(Tags::Undetermined);
        }
        if tags.len() > MAX_TAGS {
            break;
        }
        let (k, v) = seg.split_once('=').unwrap_or((seg, ""));
        let (Some(k), Some(v)) = (decode(k), decode(v)) else {
            return Ok(Tags::Undetermined);
        };
        tags.push((k, v));
    }
    check(tags)
}

fn decode(s: &str) -> Option<String> {
    String::from_utf8(percent_decode(s)?).ok()
}

/// S3's checks of a tag set: at most [`MAX_TAGS`] (`BadRequest`), keys of 1–128 and values
/// of at most 256 characters, no key twice (`InvalidTag`).
pub(crate) fn check(tags: Vec<(String, String)>) -> Result<Tags, S3Error> {
    if tags.len() > MAX_TAGS {
        return Err(S3Error::new(
            "BadRequest",
            "Object tags cannot be greater than 10",
            400,
        ));
    }
    let mut case_collision = false;
    for (i, (k, v)) in tags.iter().enumerate() {
        if k.is_empty() || k.chars().count() > MAX_TAG_KEY {
            return Err(S3Error::invalid_tag(
                "The TagKey you have provided is invalid",
            ));
        }
        if v.chars().count() > MAX_TAG_VALUE {
            return Err(S3Error::invalid_tag(
                "The TagValue you have provided is invalid",
            ));
        }
        for (k2, _) in tags.iter().skip(i + 1) {
            if k == k2 {
                return Err(S3Error::invalid_tag(
                    "Cannot provide multiple Tags with the same key",
                ));
            }
            if k.eq_ignore_ascii_case(k2) || k.to_lowercase() == k2.to_lowercase() {
                case_collision = true;
            }
        }
    }
    if case_collision {
        return Ok(Tags::Undetermined);
    }
    Ok(Tags::Known(tags))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(v: &[(&str, &str)]) -> Tags {
        Tags::Known(v.iter().map(|(a, b)| ((*a).into(), (*b).into())).collect())
    }

    #[test]
    fn header_forms() {
        assert_eq!(
            parse_header("a=1&b%3D=x%26y&c").unwrap(),
            known(&[("a", "1"), ("b=", "x&y"), ("c", "")])
        );
        assert_eq!(parse_header("").unwrap(), known(&[]));
        assert_eq!(parse_header("a=b+c").unwrap(), Tags::Undetermined);
        assert_eq!(parse_header("a=%zz").unwrap(), Tags::Undetermined);
        assert_eq!(parse_header("a=%ff").unwrap(), Tags::Undetermined);
        assert_eq!(parse_header("a=1&&b=2").unwrap(), Tags::Undetermined);
        assert_eq!(parse_header("Env=1&env=2").unwrap(), Tags::Undetermined);
    }

    #[test]
    fn s3s_limits() {
        assert_eq!(parse_header("a=1&a=2").unwrap_err().code, "InvalidTag");
        assert_eq!(parse_header("=1").unwrap_err().code, "InvalidTag");
        let eleven: Vec<String> = (0..11).map(|i| format!("k{i}=v")).collect();
        assert_eq!(
            parse_header(&eleven.join("&")).unwrap_err().code,
            "BadRequest"
        );
        let long = format!("{}=v", "k".repeat(129));
        assert_eq!(parse_header(&long).unwrap_err().code, "InvalidTag");
        let ok = format!("{}={}", "k".repeat(128), "v".repeat(256));
        assert!(matches!(parse_header(&ok).unwrap(), Tags::Known(_)));
    }
}
