//! Which S3 operation a request is: method, what it addresses (service, bucket, object),
//! its query parameters and whether it carries `x-amz-copy-source`, matched against one
//! table. A request that matches no row is refused; the table is checked to be
//! unambiguous (no request matches two rows).

use std::fmt;

use crate::error::S3Error;
use crate::query::{COMMON, Query};

/// An S3 operation the crate maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[allow(missing_docs)]
pub enum Operation {
    ListBuckets,
    HeadBucket,
    CreateBucket,
    DeleteBucket,
    ListObjects,
    ListObjectsV2,
    ListObjectVersions,
    ListMultipartUploads,
    GetBucketLocation,
    GetBucketPolicy,
    PutBucketPolicy,
    DeleteBucketPolicy,
    GetBucketTagging,
    PutBucketTagging,
    DeleteBucketTagging,
    GetBucketVersioning,
    PutBucketVersioning,
    GetBucketAcl,
    PutBucketAcl,
    DeleteObjects,
    GetObject,
    HeadObject,
    PutObject,
    CopyObject,
    DeleteObject,
    CreateMultipartUpload,
    UploadPart,
    UploadPartCopy,
    CompleteMultipartUpload,
    AbortMultipartUpload,
    ListParts,
    GetObjectTagging,
    PutObjectTagging,
    DeleteObjectTagging,
    GetObjectAcl,
    PutObjectAcl,
}

/// What a request addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    Service,
    Bucket,
    Object,
}

/// Whether a row takes `x-amz-copy-source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Copy {
    Required,
    Forbidden,
}

/// One row of the table.
pub(crate) struct Row {
    pub(crate) op: Operation,
    pub(crate) method: &'static str,
    pub(crate) level: Level,
    /// Parameters the request must carry.
    pub(crate) required: &'static [&'static str],
    /// Parameters it may carry (beyond [`COMMON`]).
    pub(crate) optional: &'static [&'static str],
    pub(crate) copy: Copy,
}

const LIST_V1: &[&str] = &["prefix", "delimiter", "marker", "max-keys", "encoding-type"];
const LIST_V2: &[&str] = &[
    "prefix",
    "delimiter",
    "max-keys",
    "continuation-token",
    "fetch-owner",
    "start-after",
    "encoding-type",
];
const LIST_VERSIONS: &[&str] = &[
    "prefix",
    "delimiter",
    "key-marker",
    "version-id-marker",
    "max-keys",
    "encoding-type",
];
const LIST_UPLOADS: &[&str] = &[
    "prefix",
    "delimiter",
    "key-marker",
    "upload-id-marker",
    "max-uploads",
    "encoding-type",
];
const GET_OBJECT: &[&str] = &[
    "versionId",
    "partNumber",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
];
const VERSION: &[&str] = &["versionId"];
const NONE: &[&str] = &[];

macro_rules! row {
    ($op:ident, $m:literal, $l:ident, $req:expr, $opt:expr) => {
        row!($op, $m, $l, $req, $opt, Forbidden)
    };
    ($op:ident, $m:literal, $l:ident, $req:expr, $opt:expr, $copy:ident) => {
        Row {
            op: Operation::$op,
            method: $m,
            level: Level::$l,
            required: $req,
            optional: $opt,
            copy: Copy::$copy,
        }
    };
}

/// The table: AWS's S3 API reference (the request syntax of each operation), botocore's
/// `s3` 2006-03-01 model (the same, machine-readable).
pub(crate) const TABLE: &[Row] = &[
    row!(
        ListBuckets,
        "GET",
        Service,
        NONE,
        &[
            "max-buckets",
            "continuation-token",
            "prefix",
            "bucket-region"
        ]
    ),
    row!(HeadBucket, "HEAD", Bucket, NONE, NONE),
    row!(CreateBucket, "PUT", Bucket, NONE, NONE),
    row!(DeleteBucket, "DELETE", Bucket, NONE, NONE),
    row!(ListObjects, "GET", Bucket, NONE, LIST_V1),
    row!(ListObjectsV2, "GET", Bucket, &["list-type"], LIST_V2),
    row!(
        ListObjectVersions,
        "GET",
        Bucket,
        &["versions"],
        LIST_VERSIONS
    ),
    row!(
        ListMultipartUploads,
        "GET",
        Bucket,
        &["uploads"],
        LIST_UPLOADS
    ),
    row!(GetBucketLocation, "GET", Bucket, &["location"], NONE),
    row!(GetBucketPolicy, "GET", Bucket, &["policy"], NONE),
    row!(PutBucketPolicy, "PUT", Bucket, &["policy"], NONE),
    row!(DeleteBucketPolicy, "DELETE", Bucket, &["policy"], NONE),
    row!(GetBucketTagging, "GET", Bucket, &["tagging"], NONE),
    row!(PutBucketTagging, "PUT", Bucket, &["tagging"], NONE),
    row!(DeleteBucketTagging, "DELETE", Bucket, &["tagging"], NONE),
    row!(GetBucketVersioning, "GET", Bucket, &["versioning"], NONE),
    row!(PutBucketVersioning, "PUT", Bucket, &["versioning"], NONE),
    row!(GetBucketAcl, "GET", Bucket, &["acl"], NONE),
    row!(PutBucketAcl, "PUT", Bucket, &["acl"], NONE),
    row!(DeleteObjects, "POST", Bucket, &["delete"], NONE),
    row!(GetObject, "GET", Object, NONE, GET_OBJECT),
    row!(HeadObject, "HEAD", Object, NONE, GET_OBJECT),
    row!(PutObject, "PUT", Object, NONE, NONE),
    row!(CopyObject, "PUT", Object, NONE, NONE, Required),
    row!(DeleteObject, "DELETE", Object, NONE, VERSION),
    row!(CreateMultipartUpload, "POST", Object, &["uploads"], NONE),
    row!(UploadPart, "PUT", Object, &["partNumber", "uploadId"], NONE),
    row!(
        UploadPartCopy,
        "PUT",
        Object,
        &["partNumber", "uploadId"],
        NONE,
        Required
    ),
    row!(CompleteMultipartUpload, "POST", Object, &["uploadId"], NONE),
    row!(AbortMultipartUpload, "DELETE", Object, &["uploadId"], NONE),
    row!(
        ListParts,
        "GET",
        Object,
        &["uploadId"],
        &["max-parts", "part-number-marker"]
    ),
    row!(GetObjectTagging, "GET", Object, &["tagging"], VERSION),
    row!(PutObjectTagging, "PUT", Object, &["tagging"], VERSION),
    row!(DeleteObjectTagging, "DELETE", Object, &["tagging"], VERSION),
    row!(GetObjectAcl, "GET", Object, &["acl"], VERSION),
    row!(PutObjectAcl, "PUT", Object, &["acl"], VERSION),
];

/// Subresource flags: present bare (`?tagging`) or with an empty value (`?tagging=`); a
/// value is refused.
pub(crate) const FLAGS: &[&str] = &[
    "acl",
    "delete",
    "location",
    "policy",
    "tagging",
    "uploads",
    "versioning",
    "versions",
];

impl Operation {
    /// Every operation, in table order.
    pub const ALL: &'static [Operation] = &[
        Operation::ListBuckets,
        Operation::HeadBucket,
        Operation::CreateBucket,
        Operation::DeleteBucket,
        Operation::ListObjects,
        Operation::ListObjectsV2,
        Operation::ListObjectVersions,
        Operation::ListMultipartUploads,
        Operation::GetBucketLocation,
        Operation::GetBucketPolicy,
        Operation::PutBucketPolicy,
        Operation::DeleteBucketPolicy,
        Operation::GetBucketTagging,
        Operation::PutBucketTagging,
        Operation::DeleteBucketTagging,
        Operation::GetBucketVersioning,
        Operation::PutBucketVersioning,
        Operation::GetBucketAcl,
        Operation::PutBucketAcl,
        Operation::DeleteObjects,
        Operation::GetObject,
        Operation::HeadObject,
        Operation::PutObject,
        Operation::CopyObject,
        Operation::DeleteObject,
        Operation::CreateMultipartUpload,
        Operation::UploadPart,
        Operation::UploadPartCopy,
        Operation::CompleteMultipartUpload,
        Operation::AbortMultipartUpload,
        Operation::ListParts,
        Operation::GetObjectTagging,
        Operation::PutObjectTagging,
        Operation::DeleteObjectTagging,
        Operation::GetObjectAcl,
        Operation::PutObjectAcl,
    ];

    /// What the operation addresses: the service, a bucket or an object (its row's level).
    pub(crate) fn level(self) -> Option<Level> {
        TABLE.iter().find(|r| r.op == self).map(|r| r.level)
    }

    /// The operation's name in S3's API reference.
    pub fn name(self) -> &'static str {
        match self {
            Operation::ListBuckets => "ListBuckets",
            Operation::HeadBucket => "HeadBucket",
            Operation::CreateBucket => "CreateBucket",
            Operation::DeleteBucket => "DeleteBucket",
            Operation::ListObjects => "ListObjects",
            Operation::ListObjectsV2 => "ListObjectsV2",
            Operation::ListObjectVersions => "ListObjectVersions",
            Operation::ListMultipartUploads => "ListMultipartUploads",
            Operation::GetBucketLocation => "GetBucketLocation",
            Operation::GetBucketPolicy => "GetBucketPolicy",
            Operation::PutBucketPolicy => "PutBucketPolicy",
            Operation::DeleteBucketPolicy => "DeleteBucketPolicy",
            Operation::GetBucketTagging => "GetBucketTagging",
            Operation::PutBucketTagging => "PutBucketTagging",
            Operation::DeleteBucketTagging => "DeleteBucketTagging",
            Operation::GetBucketVersioning => "GetBucketVersioning",
            Operation::PutBucketVersioning => "PutBucketVersioning",
            Operation::GetBucketAcl => "GetBucketAcl",
            Operation::PutBucketAcl => "PutBucketAcl",
            Operation::DeleteObjects => "DeleteObjects",
            Operation::GetObject => "GetObject",
            Operation::HeadObject => "HeadObject",
            Operation::PutObject => "PutObject",
            Operation::CopyObject => "CopyObject",
            Operation::DeleteObject => "DeleteObject",
            Operation::CreateMultipartUpload => "CreateMultipartUpload",
            Operation::UploadPart => "UploadPart",
            Operation::UploadPartCopy => "UploadPartCopy",
            Operation::CompleteMultipartUpload => "CompleteMultipartUpload",
            Operation::AbortMultipartUpload => "AbortMultipartUpload",
            Operation::ListParts => "ListParts",
            Operation::GetObjectTagging => "GetObjectTagging",
            Operation::PutObjectTagging => "PutObjectTagging",
            Operation::DeleteObjectTagging => "DeleteObjectTagging",
            Operation::GetObjectAcl => "GetObjectAcl",
            Operation::PutObjectAcl => "PutObjectAcl",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The operation of a request: the one row whose method and level match, whose required
/// parameters are all present, which allows every parameter present, and whose copy rule
/// the `x-amz-copy-source` header meets. No row for the method and level is
/// `MethodNotAllowed`; none matching otherwise is `NotImplemented` (a subresource or a
/// combination the crate does not know is never mapped to a guess).
pub(crate) fn identify(
    method: &str,
    level: Level,
    query: &Query,
    has_copy_source: bool,
) -> Result<Operation, S3Error> {
    let mut any_row = false;
    let mut found: Option<Operation> = None;
    for row in TABLE
        .iter()
        .filter(|r| r.method == method && r.level == level)
    {
        any_row = true;
        let fits = row.required.iter().all(|n| query.has(n))
            && query.params.iter().all(|p| {
                row.required.contains(&p.name.as_str())
                    || row.optional.contains(&p.name.as_str())
                    || COMMON.contains(&p.name.as_str())
            })
            && (row.copy == Copy::Required) == has_copy_source;
        if fits {
            if found.is_some() {
                return Err(S3Error::not_implemented());
            }
            found = Some(row.op);
        }
    }
    match found {
        Some(op) => Ok(op),
        None if !any_row => Err(S3Error::method_not_allowed()),
        None if has_copy_source => Err(S3Error::invalid_request(
            "The x-amz-copy-source header is not allowed on this request",
        )),
        None => Err(S3Error::not_implemented()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_has_one_level() {
        for op in Operation::ALL {
            let levels: Vec<Level> = TABLE
                .iter()
                .filter(|r| r.op == *op)
                .map(|r| r.level)
                .collect();
            assert!(!levels.is_empty(), "{op:?} has no row");
            assert!(levels.iter().all(|l| Some(*l) == op.level()), "{op:?}");
        }
    }

    #[test]
    fn every_operation_has_exactly_one_row() {
        for op in Operation::ALL {
            assert_eq!(TABLE.iter().filter(|r| r.op == *op).count(), 1, "{op}");
        }
        assert_eq!(TABLE.len(), Operation::ALL.len());
    }

    #[test]
    fn rows_never_overlap() {
        // Two rows of one method and level differ in their required parameters or in
        // the copy rule, and neither allows the other's required parameters: no request
        // fits both.
        for (i, a) in TABLE.iter().enumerate() {
            for b in TABLE.iter().skip(i + 1) {
                if a.method != b.method || a.level != b.level {
                    continue;
                }
                let a_fits_b = a
                    .required
                    .iter()
                    .all(|n| b.required.contains(n) || b.optional.contains(n))
                    && b.required
                        .iter()
                        .all(|n| a.required.contains(n) || a.optional.contains(n));
                assert!(!a_fits_b || a.copy != b.copy, "{} / {}", a.op, b.op);
            }
        }
    }

    #[test]
    fn identifies() {
        let q = |s| Query::parse(s).unwrap();
        assert_eq!(
            identify("GET", Level::Bucket, &q("list-type=2&prefix=a"), false).unwrap(),
            Operation::ListObjectsV2
        );
        assert_eq!(
            identify("PUT", Level::Object, &q("partNumber=1&uploadId=x"), true).unwrap(),
            Operation::UploadPartCopy
        );
        assert_eq!(
            identify("GET", Level::Object, &q("tagging&acl"), false)
                .unwrap_err()
                .code,
            "NotImplemented"
        );
        assert_eq!(
            identify("PATCH", Level::Object, &q(""), false)
                .unwrap_err()
                .code,
            "MethodNotAllowed"
        );
        assert_eq!(
            identify("GET", Level::Object, &q(""), true)
                .unwrap_err()
                .code,
            "InvalidRequest"
        );
    }
}
