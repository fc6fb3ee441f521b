//! The request headers the mapping reads. Names are compared without regard to ASCII case;
//! a header the mapping reads that appears twice is refused (which copy would S3 use?), and
//! an `x-amz-` header the crate does not know is `NotImplemented`: it could ask S3 for
//! something (object lock, MFA delete, an append) that needs a permission the mapping
//! would not ask for.

use crate::error::S3Error;

/// Most headers read.
pub(crate) const MAX_HEADERS: usize = 256;

/// The `x-amz-` headers of SigV4 authentication and `aws-chunked` body framing.
pub(crate) const SIGNING_AND_FRAMING: &[&str] = &[
    "x-amz-date",
    "x-amz-security-token",
    "x-amz-content-sha256",
    "x-amz-decoded-content-length",
    "x-amz-trailer",
    "x-amz-sdk-checksum-algorithm",
];

/// `x-amz-` headers that change nothing IAM sees, or whose meaning the mapping reads
/// (besides [`SIGNING_AND_FRAMING`]).
const KNOWN: &[&str] = &[
    "x-amz-user-agent",
    "x-amz-expected-bucket-owner",
    "x-amz-source-expected-bucket-owner",
    "x-amz-request-payer",
    "x-amz-checksum-mode",
    "x-amz-checksum-algorithm",
    "x-amz-checksum-type",
    "x-amz-storage-class",
    "x-amz-website-redirect-location",
    "x-amz-metadata-directive",
    "x-amz-tagging-directive",
    "x-amz-tagging",
    "x-amz-acl",
    "x-amz-bucket-object-lock-enabled",
    "x-amz-object-ownership",
    "x-amz-bypass-governance-retention",
    "x-amz-mp-object-size",
    "x-amz-api-version",
];

/// Families of `x-amz-` headers: user metadata, checksums, encryption (including
/// customer keys), the copy source and its conditions and range, ACL grants, object lock.
const KNOWN_PREFIXES: &[&str] = &[
    "x-amz-meta-",
    "x-amz-checksum-",
    "x-amz-server-side-encryption",
    "x-amz-copy-source",
    "x-amz-grant-",
    "x-amz-object-lock-",
];

/// The headers of a request, checked.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Headers<'a> {
    all: &'a [(&'a str, &'a [u8])],
}

impl<'a> Headers<'a> {
    /// Checks every `x-amz-` header name is one the crate knows.
    pub(crate) fn new(all: &'a [(&'a str, &'a [u8])]) -> Result<Headers<'a>, S3Error> {
        if all.len() > MAX_HEADERS {
            return Err(S3Error::invalid_request("Too many headers"));
        }
        for (name, _) in all {
            let lower = name.to_ascii_lowercase();
            if lower.starts_with("x-amz-")
                && !SIGNING_AND_FRAMING.contains(&lower.as_str())
                && !KNOWN.contains(&lower.as_str())
                && !KNOWN_PREFIXES.iter().any(|p| lower.starts_with(p))
            {
                return Err(S3Error::not_implemented());
            }
        }
        Ok(Headers { all })
    }

    /// The one value of a header, `None` when absent; twice is `InvalidArgument`.
    pub(crate) fn one(&self, name: &str) -> Result<Option<&'a [u8]>, S3Error> {
        let mut it = self
            .all
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name));
        let first = it.next().map(|(_, v)| *v);
        if it.next().is_some() {
            return Err(S3Error::invalid_argument(format!(
                "The header `{name}` is given more than once"
            )));
        }
        Ok(first)
    }

    /// The one value of a header as text (surrounding spaces and tabs trimmed, as HTTP
    /// does); a value that is not UTF-8 is `InvalidArgument`.
    pub(crate) fn text(&self, name: &str) -> Result<Option<&'a str>, S3Error> {
        match self.one(name)? {
            None => Ok(None),
            Some(v) => std::str::from_utf8(v)
                .map(|s| Some(s.trim_matches([' ', '\t'])))
                .map_err(|_| {
                    S3Error::invalid_argument(format!("The header `{name}` is not UTF-8"))
                }),
        }
    }

    /// Names (lowercase) of the headers present that start with `prefix`.
    pub(crate) fn with_prefix(&self, prefix: &str) -> Vec<String> {
        let mut out: Vec<String> = self
            .all
            .iter()
            .map(|(n, _)| n.to_ascii_lowercase())
            .filter(|n| n.starts_with(prefix))
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_and_unknowns() {
        let h: &[(&str, &[u8])] = &[("X-Amz-Acl", b"private"), ("x-amz-acl", b"public-read")];
        let hs = Headers::new(h).unwrap();
        assert!(hs.one("x-amz-acl").is_err());
        let h: &[(&str, &[u8])] = &[("x-amz-mfa", b"1 2")];
        assert_eq!(Headers::new(h).unwrap_err().code, "NotImplemented");
        let h: &[(&str, &[u8])] = &[("X-Amz-Meta-Foo", b"1"), ("x-amz-grant-read", b"id=1")];
        let hs = Headers::new(h).unwrap();
        assert_eq!(hs.with_prefix("x-amz-grant-"), vec!["x-amz-grant-read"]);
        assert_eq!(hs.text("x-amz-meta-foo").unwrap(), Some("1"));
    }
}
