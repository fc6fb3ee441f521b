//! The query string as S3 reads it: `name[=value]` pairs split on `&`, values
//! percent-decoded. Everything that could be read two ways is refused.

use crate::address::percent_decode;
use crate::error::S3Error;
use crate::operation::{FLAGS, TABLE};

/// Longest raw query string read.
pub(crate) const MAX_QUERY: usize = 16 * 1024;
/// Most parameters read.
pub(crate) const MAX_PARAMS: usize = 64;

/// One query parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Param {
    pub(crate) name: String,
    /// `None` for a bare `name` (no `=`).
    pub(crate) value: Option<String>,
    /// The raw value held a `+`: S3 may read it as a space or as a plus, so a condition
    /// key taken from it is undetermined.
    pub(crate) plus: bool,
}

/// Every parameter name the crate knows: the subresource flags, the parameters of every
/// operation (the operation table's), and [`COMMON`] (presigned URLs' SigV4 query
/// authentication and the SDKs' operation hint). A name that equals one of these but for
/// ASCII case is refused (S3 matches subresources case-sensitively, a server behind the
/// gateway may not); any other name is `NotImplemented`.
fn known() -> impl Iterator<Item = &'static str> {
    let operations = TABLE
        .iter()
        .flat_map(|r| r.required.iter().chain(r.optional));
    FLAGS.iter().chain(operations).chain(COMMON).copied()
}

/// Parameters every operation accepts.
pub(crate) const COMMON: &[&str] = &[
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
    "X-Amz-Security-Token",
    "x-id",
];

/// The parsed query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Query {
    pub(crate) params: Vec<Param>,
}

impl Query {
    /// Parses a raw query string (without `?`). Refused: an empty segment (`a&&b`), a name
    /// that is not plain (`%`, `+` or anything outside `[A-Za-z0-9._~-]`), a name given
    /// twice, a name that differs from a known one only in case, an unknown name, a value
    /// that is not valid percent-encoded UTF-8, and more than [`MAX_PARAMS`] parameters
    /// or [`MAX_QUERY`] bytes.
    pub(crate) fn parse(raw: &str) -> Result<Query, S3Error> {
        if raw.len() > MAX_QUERY {
            return Err(S3Error::invalid_argument("The query string is too long"));
        }
        let mut params: Vec<Param> = Vec::new();
        if raw.is_empty() {
            return Ok(Query { params });
        }
        for seg in raw.split('&') {
            if params.len() >= MAX_PARAMS {
                return Err(S3Error::invalid_argument("Too many query parameters"));
            }
            let (name, value) = match seg.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (seg, None),
            };
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'))
            {
                return Err(S3Error::invalid_argument(format!(
                    "The query parameter `{}` is not a plain name",
                    seg.chars().take(64).collect::<String>()
                )));
            }
            if !known().any(|k| k == name) {
                if known().any(|k| k.eq_ignore_ascii_case(name)) {
                    return Err(S3Error::invalid_argument(format!(
                        "The query parameter `{name}` differs from an S3 parameter only in case"
                    )));
                }
                return Err(S3Error::not_implemented());
            }
            if params.iter().any(|p| p.name == name) {
                return Err(S3Error::invalid_argument(format!(
                    "The query parameter `{name}` is given more than once"
                )));
            }
            let (value, plus) = match value {
                None => (None, false),
                Some(v) => {
                    let bytes = percent_decode(v).ok_or_else(S3Error::invalid_uri)?;
                    let s = String::from_utf8(bytes).map_err(|_| S3Error::invalid_uri())?;
                    (Some(s), v.contains('+'))
                }
            };
            params.push(Param {
                name: name.to_owned(),
                value,
                plus,
            });
        }
        Ok(Query { params })
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Param> {
        self.params.iter().find(|p| p.name == name)
    }

    pub(crate) fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// A parameter's value that must be present and non-empty (`versionId`, `uploadId`,
    /// `partNumber`): `Ok(None)` when absent.
    pub(crate) fn required_value(&self, name: &str) -> Result<Option<&Param>, S3Error> {
        match self.get(name) {
            None => Ok(None),
            Some(p) if p.value.as_deref().is_some_and(|v| !v.is_empty()) => Ok(Some(p)),
            Some(_) => Err(S3Error::invalid_argument(match name {
                "versionId" => "Version id cannot be the empty string".to_owned(),
                _ => format!("The parameter `{name}` needs a value"),
            })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_values() {
        let q = Query::parse("prefix=a%2Fb+c&delimiter=%2F&tagging").unwrap();
        let p = q.get("prefix").unwrap();
        assert_eq!(p.value.as_deref(), Some("a/b+c"));
        assert!(p.plus);
        assert_eq!(q.get("tagging").unwrap().value, None);
        assert_eq!(q.get("delimiter").unwrap().value.as_deref(), Some("/"));
    }

    #[test]
    fn refuses_what_reads_two_ways() {
        for bad in [
            "tagging&tagging",
            "Tagging",
            "versionid=1",
            "a&&b",
            "&",
            "%74agging",
            "prefix=%zz",
            "prefix=%ff",
            "=x",
        ] {
            assert!(Query::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Query::parse("cors").unwrap_err().code, "NotImplemented");
        let many = vec!["x-id=1"; 65].join("&");
        assert!(Query::parse(&many).is_err());
    }

    #[test]
    fn required_values() {
        let q = Query::parse("versionId=&uploadId").unwrap();
        assert!(q.required_value("versionId").is_err());
        assert!(q.required_value("uploadId").is_err());
        assert!(q.required_value("partNumber").unwrap().is_none());
    }
}
