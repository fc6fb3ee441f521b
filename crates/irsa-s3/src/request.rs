//! A request read as S3 reads it: addressing, operation, and the query parameters and
//! headers the mapping needs, all checked up front.

use crate::address::{self, Addressing, Endpoints, check_bucket_name, check_key, percent_decode};
use crate::error::S3Error;
use crate::headers::Headers;
use crate::operation::{self, FLAGS, Level, Operation};
use crate::query::{Param, Query};
use crate::tagging::{self, Tags};
use crate::xml;

/// An HTTP request as the gateway received it (the shape of `irsa_sigv4::Request`, without
/// the body, which only some operations need; see [`S3Request::body_limit`]).
#[derive(Debug, Clone, Copy)]
pub struct HttpRequest<'a> {
    /// HTTP method, e.g. `GET` (exact case).
    pub method: &'a str,
    /// The request path as received, e.g. `/bucket/a%2Fb`.
    pub path: &'a str,
    /// The raw query string without `?`.
    pub query: &'a str,
    /// All request headers, in the order received (`Host`, or HTTP/2's `:authority`
    /// passed as `host`, included).
    pub headers: &'a [(&'a str, &'a [u8])],
}

/// A value taken from the query string or a header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Text {
    pub(crate) value: String,
    /// Whether S3 would read it exactly so (a query value with a `+` is not known to be).
    pub(crate) exact: bool,
}

impl Text {
    fn of(p: &Param) -> Text {
        Text {
            value: p.value.clone().unwrap_or_default(),
            exact: !p.plus,
        }
    }
}

/// The copy source of `CopyObject` and `UploadPartCopy` (`x-amz-copy-source`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CopySource {
    pub(crate) bucket: String,
    pub(crate) key: String,
    pub(crate) version_id: Option<String>,
    /// `s3:x-amz-copy-source`: the header as sent when it is plain `bucket/key` (no
    /// leading `/`, no `%`, no `?versionId=`), so that its value is not in doubt;
    /// otherwise undetermined.
    pub(crate) condition_value: Option<String>,
}

/// What the request's headers ask for beyond the operation itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Extras {
    pub(crate) copy_source: Option<CopySource>,
    /// `x-amz-tagging`: `None` when absent.
    pub(crate) tagging: Option<Tags>,
    pub(crate) acl: Option<String>,
    /// `(header name, value)` of each `x-amz-grant-*`.
    pub(crate) grants: Vec<(String, String)>,
    pub(crate) sse: Option<String>,
    pub(crate) sse_kms_key: Option<String>,
    pub(crate) storage_class: Option<String>,
    pub(crate) metadata_directive: Option<String>,
    pub(crate) lock_mode: Option<String>,
    pub(crate) lock_retain_until: bool,
    pub(crate) legal_hold: Option<String>,
    pub(crate) bypass_governance: bool,
    pub(crate) bucket_object_lock: bool,
    pub(crate) object_ownership: Option<String>,
}

/// An S3 request, read: what it addresses, which operation it is, and what its query and
/// headers ask for. Build it with [`S3Request::parse`], then call
/// [`S3Request::authorizations`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Request {
    pub(crate) operation: Operation,
    pub(crate) addressing: Addressing,
    pub(crate) bucket: Option<String>,
    pub(crate) key: Option<String>,
    pub(crate) version_id: Option<Text>,
    pub(crate) query: Query,
    pub(crate) extras: Extras,
}

impl S3Request {
    /// Reads a request. Refused with S3's error (and never forwarded): a Host that is
    /// neither an endpoint nor `bucket.endpoint`, an invalid bucket name, a key that is not
    /// UTF-8, longer than 1024 bytes or has a segment the gateway refuses, an unknown,
    /// repeated or case-altered query parameter, a subresource combination no operation
    /// has, a repeated header the mapping reads, an unknown `x-amz-` header, and malformed
    /// values of the parameters and headers the mapping reads.
    pub fn parse(req: &HttpRequest<'_>, endpoints: &Endpoints) -> Result<S3Request, S3Error> {
        let headers = Headers::new(req.headers)?;
        let host = headers.text("host")?.ok_or_else(|| {
            S3Error::invalid_request("Missing required header for this request: Host")
        })?;
        let target = address::resolve(req.path, host, endpoints)?;
        let query = Query::parse(req.query)?;
        let level = match (&target.bucket, &target.key) {
            (None, _) => Level::Service,
            (Some(_), None) => Level::Bucket,
            (Some(_), Some(_)) => Level::Object,
        };
        let copy_header = headers.text("x-amz-copy-source")?;
        let operation = operation::identify(req.method, level, &query, copy_header.is_some())?;
        check_params(&query)?;
        let version_id = query.required_value("versionId")?.map(Text::of);
        let extras = read_extras(operation, &headers, copy_header)?;
        Ok(S3Request {
            operation,
            addressing: target.style,
            bucket: target.bucket,
            key: target.key,
            version_id,
            query,
            extras,
        })
    }

    /// The operation.
    pub fn operation(&self) -> Operation {
        self.operation
    }

    /// Path-style or virtual-hosted-style.
    pub fn addressing(&self) -> Addressing {
        self.addressing
    }

    /// The bucket, for every operation but `ListBuckets`.
    pub fn bucket(&self) -> Option<&str> {
        self.bucket.as_deref()
    }

    /// The object key (decoded), for object operations.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// The `versionId` query parameter, decoded.
    pub fn version_id(&self) -> Option<&str> {
        self.version_id.as_ref().map(|t| t.value.as_str())
    }

    /// The copy source `(bucket, key, versionId)` of `CopyObject` and `UploadPartCopy`.
    pub fn copy_source(&self) -> Option<(&str, &str, Option<&str>)> {
        self.extras
            .copy_source
            .as_ref()
            .map(|c| (c.bucket.as_str(), c.key.as_str(), c.version_id.as_deref()))
    }

    /// `Some(limit)` when [`S3Request::authorizations`] needs the request body
    /// (`DeleteObjects`: the keys; `PutObjectTagging`: the tags): the gateway reads at most
    /// `limit` bytes (a longer body is refused) before authorizing. `None`: the body is not
    /// read and may stream.
    pub fn body_limit(&self) -> Option<usize> {
        match self.operation {
            Operation::DeleteObjects => Some(xml::MAX_DELETE_BODY),
            Operation::PutObjectTagging => Some(xml::MAX_TAGGING_BODY),
            _ => None,
        }
    }
}

/// Checks the values of the parameters the request carries.
fn check_params(query: &Query) -> Result<(), S3Error> {
    for p in &query.params {
        let name = p.name.as_str();
        let value = p.value.as_deref();
        let ok = if FLAGS.contains(&name) {
            value.is_none_or(str::is_empty)
        } else {
            match name {
                "list-type" => value == Some("2"),
                "encoding-type" => value == Some("url"),
                "fetch-owner" => matches!(value, Some("true" | "false")),
                "partNumber" => value
                    .and_then(number)
                    .is_some_and(|n| (1..=10_000).contains(&n)),
                "max-keys" | "max-uploads" | "max-parts" | "part-number-marker" | "max-buckets" => {
                    value.and_then(number).is_some()
                }
                _ => true,
            }
        };
        if !ok {
            return Err(S3Error::invalid_argument(match name {
                "partNumber" => {
                    "Part number must be an integer between 1 and 10000, inclusive".to_owned()
                }
                "encoding-type" => "Invalid Encoding Method specified in Request".to_owned(),
                _ => format!("The value of the query parameter `{name}` is not valid"),
            }));
        }
    }
    query.required_value("uploadId")?;
    Ok(())
}

/// A non-negative decimal integer that fits an `i32` (S3's integer parameters).
fn number(v: &str) -> Option<u32> {
    if v.is_empty() || v.len() > 10 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse::<u32>().ok().filter(|n| *n <= i32::MAX as u32)
}

fn owned(v: Option<&str>) -> Option<String> {
    v.map(str::to_owned)
}

fn read_extras(
    op: Operation,
    headers: &Headers<'_>,
    copy_header: Option<&str>,
) -> Result<Extras, S3Error> {
    let mut x = Extras::default();
    let puts_object = matches!(
        op,
        Operation::PutObject | Operation::CopyObject | Operation::CreateMultipartUpload
    );
    let sets_acl = puts_object
        || matches!(
            op,
            Operation::PutObjectAcl | Operation::PutBucketAcl | Operation::CreateBucket
        );
    if let Some(raw) = copy_header {
        x.copy_source = Some(copy_source(raw)?);
    }
    if sets_acl {
        x.acl = owned(headers.text("x-amz-acl")?);
        for name in headers.with_prefix("x-amz-grant-") {
            let v = headers.text(&name)?.unwrap_or_default().to_owned();
            x.grants.push((name, v));
        }
    }
    if puts_object {
        read_put_object_headers(&mut x, op, headers)?;
    }
    if matches!(op, Operation::DeleteObject | Operation::DeleteObjects) {
        x.bypass_governance = boolean(headers, "x-amz-bypass-governance-retention")?;
    }
    if op == Operation::CreateBucket {
        x.bucket_object_lock = boolean(headers, "x-amz-bucket-object-lock-enabled")?;
        x.object_ownership = owned(headers.text("x-amz-object-ownership")?);
    }
    Ok(x)
}

/// The headers of an operation that writes an object (`PutObject`, `CopyObject`,
/// `CreateMultipartUpload`): encryption, storage class, object lock, tags (for
/// `CopyObject` with `x-amz-tagging-directive: REPLACE` only) and the metadata directive.
fn read_put_object_headers(
    x: &mut Extras,
    op: Operation,
    headers: &Headers<'_>,
) -> Result<(), S3Error> {
    x.sse = owned(headers.text("x-amz-server-side-encryption")?);
    x.sse_kms_key = owned(headers.text("x-amz-server-side-encryption-aws-kms-key-id")?);
    x.storage_class = owned(headers.text("x-amz-storage-class")?);
    x.lock_mode = owned(headers.text("x-amz-object-lock-mode")?);
    x.lock_retain_until = headers
        .text("x-amz-object-lock-retain-until-date")?
        .is_some();
    x.legal_hold = owned(headers.text("x-amz-object-lock-legal-hold")?);
    let tagging = headers.text("x-amz-tagging")?;
    if op == Operation::CopyObject {
        x.metadata_directive = directive(headers, "x-amz-metadata-directive")?;
        match (
            directive(headers, "x-amz-tagging-directive")?.as_deref(),
            tagging,
        ) {
            (Some("REPLACE"), t) => {
                x.tagging = Some(tagging::parse_header(t.unwrap_or_default())?);
            }
            (_, Some(_)) => {
                return Err(S3Error::invalid_argument(
                    "x-amz-tagging is only read with x-amz-tagging-directive: REPLACE",
                ));
            }
            (_, None) => {}
        }
    } else if let Some(t) = tagging {
        x.tagging = Some(tagging::parse_header(t)?);
    }
    Ok(())
}

/// A `true`/`false` header (any case); absent is `false`.
fn boolean(headers: &Headers<'_>, name: &str) -> Result<bool, S3Error> {
    match headers.text(name)? {
        None => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(_) => Err(S3Error::invalid_argument(format!(
            "{name} must be true or false"
        ))),
    }
}

/// `COPY` or `REPLACE` (S3's default is `COPY`).
fn directive(headers: &Headers<'_>, name: &str) -> Result<Option<String>, S3Error> {
    match headers.text(name)? {
        None => Ok(None),
        Some(v @ ("COPY" | "REPLACE")) => Ok(Some(v.to_owned())),
        Some(_) => Err(S3Error::invalid_argument(format!("Unknown {name} value"))),
    }
}

/// Reads `x-amz-copy-source`: `[/]bucket/key[?versionId=v]`, URL-encoded. Refused: an
/// access point or Outposts ARN (`NotImplemented`), no key, an invalid bucket, a `+`
/// (space or plus?), any query but one non-empty `versionId`, and keys the path would
/// refuse.
fn copy_source(raw: &str) -> Result<CopySource, S3Error> {
    let invalid = || S3Error::invalid_argument("Invalid copy source object key");
    if raw.starts_with("arn:") {
        return Err(S3Error::not_implemented());
    }
    if raw.contains('+') {
        return Err(S3Error::invalid_argument(
            "A `+` in x-amz-copy-source is ambiguous; encode it as %2B",
        ));
    }
    let (path, query) = match raw.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (raw, None),
    };
    let version_id = match query {
        None => None,
        Some(q) => {
            let v = q.strip_prefix("versionId=").ok_or_else(invalid)?;
            let v =
                String::from_utf8(percent_decode(v).ok_or_else(invalid)?).map_err(|_| invalid())?;
            if v.is_empty() || v.contains('&') {
                return Err(invalid());
            }
            Some(v)
        }
    };
    let trimmed = path.strip_prefix('/').unwrap_or(path);
    let (bucket, key) = trimmed.split_once('/').ok_or_else(invalid)?;
    check_bucket_name(bucket)
        .map_err(|_| S3Error::invalid_argument("Invalid copy source bucket name"))?;
    if key.is_empty() {
        return Err(invalid());
    }
    let key = String::from_utf8(percent_decode(key).ok_or_else(S3Error::invalid_uri)?)
        .map_err(|_| invalid())?;
    check_key(&key)?;
    let plain = query.is_none() && !raw.starts_with('/') && !raw.contains('%');
    Ok(CopySource {
        bucket: bucket.to_owned(),
        key,
        version_id,
        condition_value: plain.then(|| raw.to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_sources() {
        let c = copy_source("/src/a%2Fb%3Fc?versionId=v%2B1").unwrap();
        assert_eq!((c.bucket.as_str(), c.key.as_str()), ("src", "a/b?c"));
        assert_eq!(c.version_id.as_deref(), Some("v+1"));
        assert_eq!(c.condition_value, None);
        let c = copy_source("src/dir/k.txt").unwrap();
        assert_eq!(c.condition_value.as_deref(), Some("src/dir/k.txt"));
        for bad in [
            "src",
            "/src/",
            "src/a/../b",
            "src/a+b",
            "src/k?versionId=",
            "src/k?x=1",
            "src/k?versionId=1&x=2",
            "Src/k",
            "arn:aws:s3:us-east-1:111122223333:accesspoint/ap/object/k",
            "src/%zz",
        ] {
            assert!(copy_source(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn numbers() {
        assert_eq!(number("0"), Some(0));
        assert_eq!(number("2147483647"), Some(2_147_483_647));
        assert_eq!(number("2147483648"), None);
        assert_eq!(number("-1"), None);
        assert_eq!(number(""), None);
    }
}
