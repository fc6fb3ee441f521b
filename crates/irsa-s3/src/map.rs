//! Request → IAM authorizations: the actions and resources AWS's service authorization
//! reference lists for each S3 operation, with the condition keys the request shows.

use irsa_policy::Context;

use crate::address::check_bucket_name;
use crate::error::S3Error;
use crate::operation::{Level, Operation};
use crate::request::{S3Request, Text};
use crate::tagging::Tags;
use crate::xml;

/// `s3:ExistingObjectTag/<key>`: the tags of the stored object, which a pure mapping cannot
/// know; reported undetermined (as this prefix) on every action AWS evaluates it for.
pub const EXISTING_OBJECT_TAG: &str = "s3:ExistingObjectTag/";
const REQUEST_OBJECT_TAG: &str = "s3:RequestObjectTag/";
const REQUEST_OBJECT_TAG_KEYS: &str = "s3:RequestObjectTagKeys";

/// One IAM authorization request derived from an S3 request (`s3:<Action>` on
/// `arn:PARTITION:s3:::bucket`, `arn:PARTITION:s3:::bucket/key`, or `*`). An entry of
/// `undetermined` ending in `/` stands for the family of keys it prefixes
/// (`s3:ExistingObjectTag/`); match with [`is_undetermined`]. A policy in force that uses one
/// of them must deny.
pub use irsa_authz::Authorization;

/// How the request was authenticated (`s3:authType`, `s3:signatureversion`), and the
/// inputs of the condition keys only the caller knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestAuth<'a> {
    /// `s3:authType`.
    pub auth_type: AuthType,
    /// `s3:x-amz-content-sha256`: the `x-amz-content-sha256` header as signed (hex,
    /// `UNSIGNED-PAYLOAD`, `STREAMING-…`); `None` when the request has none (presigned).
    pub content_sha256: Option<&'a str>,
    /// `s3:ResourceAccount`: the account that owns the bucket; `None` leaves the key
    /// undetermined.
    pub resource_account: Option<&'a str>,
    /// `s3:signatureAge` in milliseconds; `None` leaves the key undetermined.
    pub signature_age_ms: Option<u64>,
}

/// `s3:authType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthType {
    /// `REST-HEADER`: an `Authorization` header.
    Header,
    /// `REST-QUERY-STRING`: a presigned URL.
    QueryString,
    /// `POST`: a browser form upload.
    Post,
}

impl AuthType {
    /// The value of `s3:authType`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthType::Header => "REST-HEADER",
            AuthType::QueryString => "REST-QUERY-STRING",
            AuthType::Post => "POST",
        }
    }
}

pub use irsa_authz::is_undetermined;

/// `arn:PARTITION:s3:::bucket`.
pub fn bucket_arn(partition: &str, bucket: &str) -> String {
    format!("arn:{partition}:s3:::{bucket}")
}

/// `arn:PARTITION:s3:::bucket/key` (the key as is: IAM matches resources literally).
pub fn object_arn(partition: &str, bucket: &str, key: &str) -> String {
    format!("arn:{partition}:s3:::{bucket}/{key}")
}

/// Splits an S3 bucket or object ARN into (partition, bucket, key): the inverse of
/// [`bucket_arn`] and [`object_arn`] (a bucket name has no `/`, so the first `/` ends it).
pub fn parse_arn(arn: &str) -> Option<(&str, &str, Option<&str>)> {
    let rest = arn.strip_prefix("arn:")?;
    let (partition, rest) = rest.split_once(':')?;
    let rest = rest.strip_prefix("s3:::")?;
    let (bucket, key) = match rest.split_once('/') {
        Some((b, k)) if !k.is_empty() => (b, Some(k)),
        Some(_) => return None,
        None => (rest, None),
    };
    check_bucket_name(bucket).ok()?;
    (!partition.is_empty()).then_some((partition, bucket, key))
}

/// Builds the authorizations of one request.
struct Builder<'a> {
    partition: &'a str,
    auth: &'a RequestAuth<'a>,
    out: Vec<Authorization>,
}

impl Builder<'_> {
    /// An authorization with the keys every S3 action has.
    fn base(&self, action: &str, resource: String) -> Authorization {
        let mut context = Context::new();
        let mut undetermined = Vec::new();
        context.insert("s3:authType", self.auth.auth_type.as_str());
        context.insert("s3:signatureversion", "AWS4-HMAC-SHA256");
        if let Some(sha) = self.auth.content_sha256 {
            context.insert("s3:x-amz-content-sha256", sha);
        }
        match self.auth.signature_age_ms {
            Some(ms) => {
                context.insert("s3:signatureAge", ms.to_string());
            }
            None => undetermined.push("s3:signatureAge"),
        }
        if resource != "*" {
            match self.auth.resource_account {
                Some(a) => {
                    context.insert("s3:ResourceAccount", a);
                }
                None => undetermined.push("s3:ResourceAccount"),
            }
        }
        Authorization {
            action: format!("s3:{action}"),
            resource,
            context,
            undetermined,
        }
    }

    fn bucket(&self, action: &str, bucket: &str) -> Authorization {
        self.base(action, bucket_arn(self.partition, bucket))
    }

    fn object(&self, action: &str, bucket: &str, key: &str) -> Authorization {
        self.base(action, object_arn(self.partition, bucket, key))
    }

    /// Adds an authorization; an identical one (a key twice in `DeleteObjects`) is asked
    /// once.
    fn add(&mut self, a: Authorization) {
        if !self.out.contains(&a) {
            self.out.push(a);
        }
    }
}

/// Sets a key from a query parameter: its value when S3 reads it exactly so, else the key
/// is undetermined.
fn set_text(a: &mut Authorization, key: &'static str, t: Option<&Text>) {
    match t {
        None => {}
        Some(t) if t.exact => {
            a.context.insert(key, t.value.as_str());
        }
        Some(_) => a.undetermined.push(key),
    }
}

fn set(a: &mut Authorization, key: &str, v: Option<&str>) {
    if let Some(v) = v {
        a.context.insert(key, v);
    }
}

/// The tag keys: `s3:RequestObjectTag/<key>` for each tag, `s3:RequestObjectTagKeys`
/// (multivalued) — or both undetermined.
fn set_tags(a: &mut Authorization, tags: &Tags) {
    match tags {
        Tags::Known(tags) => {
            for (k, v) in tags {
                a.context
                    .insert(format!("{REQUEST_OBJECT_TAG}{k}"), v.as_str());
            }
            a.context.insert_multi(
                REQUEST_OBJECT_TAG_KEYS,
                tags.iter().map(|(k, _)| k.as_str()),
            );
        }
        Tags::Undetermined => {
            a.undetermined.push(REQUEST_OBJECT_TAG);
            a.undetermined.push(REQUEST_OBJECT_TAG_KEYS);
        }
    }
}

impl S3Request {
    /// The authorizations IAM evaluates for this request (never empty; all must be
    /// allowed). `partition` is the ARN partition (`aws`); `body` is the request body when
    /// [`S3Request::body_limit`] is `Some` (ignored otherwise). Refused with S3's error: a
    /// body that is malformed, over the limit, or names keys the path would refuse.
    pub fn authorizations(
        &self,
        partition: &str,
        auth: &RequestAuth<'_>,
        body: &[u8],
    ) -> Result<Vec<Authorization>, S3Error> {
        let mut b = Builder {
            partition,
            auth,
            out: Vec::new(),
        };
        let op = self.operation;
        if op == Operation::ListBuckets {
            b.add(b.base("ListAllMyBuckets", "*".to_owned()));
            return Ok(b.out);
        }
        let bucket = self.bucket.as_deref().ok_or_else(S3Error::access_denied)?;
        match op.level() {
            Some(Level::Bucket) => self.bucket_level(&mut b, bucket, body)?,
            Some(Level::Object) => self.object_level(&mut b, bucket, body)?,
            // ListBuckets, the only operation on the service, is answered above.
            Some(Level::Service) | None => {}
        }
        if b.out.is_empty() {
            return Err(S3Error::access_denied());
        }
        Ok(b.out)
    }

    /// The authorizations of an operation on a bucket (`DeleteObjects` included: its keys
    /// are in the body). An operation not listed gets none, which the caller refuses.
    fn bucket_level(&self, b: &mut Builder<'_>, bucket: &str, body: &[u8]) -> Result<(), S3Error> {
        let op = self.operation;
        match op {
            Operation::HeadBucket => b.add(b.bucket("ListBucket", bucket)),
            Operation::ListObjects | Operation::ListObjectsV2 | Operation::ListObjectVersions => {
                self.list_objects(b, bucket);
            }
            Operation::ListMultipartUploads => {
                b.add(b.bucket("ListBucketMultipartUploads", bucket));
            }
            Operation::CreateBucket => self.create_bucket(b, bucket),
            Operation::PutBucketAcl => {
                let mut a = b.bucket("PutBucketAcl", bucket);
                self.set_acl(&mut a);
                b.add(a);
            }
            // AWS: DeleteBucketTagging is authorized as s3:PutBucketTagging.
            Operation::DeleteBucketTagging => b.add(b.bucket("PutBucketTagging", bucket)),
            Operation::DeleteBucket
            | Operation::GetBucketLocation
            | Operation::GetBucketPolicy
            | Operation::PutBucketPolicy
            | Operation::DeleteBucketPolicy
            | Operation::GetBucketTagging
            | Operation::PutBucketTagging
            | Operation::GetBucketVersioning
            | Operation::PutBucketVersioning
            | Operation::GetBucketAcl => b.add(b.bucket(op.name(), bucket)),
            Operation::DeleteObjects => self.delete_objects(b, bucket, body)?,
            _ => {}
        }
        Ok(())
    }

    /// The authorizations of an operation on an object (a request without a key is
    /// refused). An operation not listed gets none, which the caller refuses.
    fn object_level(&self, b: &mut Builder<'_>, bucket: &str, body: &[u8]) -> Result<(), S3Error> {
        let op = self.operation;
        // The action on a version when the request names one.
        let versioned = |plain, version| {
            if self.version_id.is_some() {
                version
            } else {
                plain
            }
        };
        match op {
            Operation::GetObject
            | Operation::HeadObject
            | Operation::GetObjectTagging
            | Operation::GetObjectAcl
            | Operation::DeleteObjectTagging => {
                let action = match op {
                    Operation::GetObjectTagging => {
                        versioned("GetObjectTagging", "GetObjectVersionTagging")
                    }
                    Operation::GetObjectAcl => versioned("GetObjectAcl", "GetObjectVersionAcl"),
                    Operation::DeleteObjectTagging => {
                        versioned("DeleteObjectTagging", "DeleteObjectVersionTagging")
                    }
                    _ => versioned("GetObject", "GetObjectVersion"),
                };
                b.add(self.on_existing_version(self.object(b, bucket, action)?));
            }
            Operation::PutObjectAcl => {
                let mut a =
                    self.object(b, bucket, versioned("PutObjectAcl", "PutObjectVersionAcl"))?;
                self.set_version(&mut a);
                self.set_acl(&mut a);
                a.undetermined.push(EXISTING_OBJECT_TAG);
                b.add(a);
            }
            Operation::PutObjectTagging => {
                let tags = xml::parse_tagging(body)?;
                let action = versioned("PutObjectTagging", "PutObjectVersionTagging");
                let mut a = self.object(b, bucket, action)?;
                self.set_version(&mut a);
                set_tags(&mut a, &tags);
                a.undetermined.push(EXISTING_OBJECT_TAG);
                b.add(a);
            }
            Operation::DeleteObject => {
                let mut a =
                    self.object(b, bucket, versioned("DeleteObject", "DeleteObjectVersion"))?;
                self.set_version(&mut a);
                b.add(a);
                if self.extras.bypass_governance {
                    b.add(self.object(b, bucket, "BypassGovernanceRetention")?);
                }
            }
            Operation::PutObject | Operation::CopyObject | Operation::CreateMultipartUpload => {
                if op == Operation::CopyObject {
                    self.copy_read(b)?;
                }
                self.put_object(b, bucket)?;
            }
            Operation::UploadPart | Operation::CompleteMultipartUpload => {
                b.add(self.object(b, bucket, "PutObject")?);
            }
            Operation::UploadPartCopy => {
                self.copy_read(b)?;
                b.add(self.object(b, bucket, "PutObject")?);
            }
            Operation::AbortMultipartUpload => {
                b.add(self.object(b, bucket, "AbortMultipartUpload")?);
            }
            Operation::ListParts => b.add(self.object(b, bucket, "ListMultipartUploadParts")?),
            _ => {}
        }
        Ok(())
    }

    /// `action` on the request's object; a request without a key is refused.
    fn object(
        &self,
        b: &Builder<'_>,
        bucket: &str,
        action: &str,
    ) -> Result<Authorization, S3Error> {
        let key = self.key.as_deref().ok_or_else(S3Error::access_denied)?;
        Ok(b.object(action, bucket, key))
    }

    /// An action on a stored object (or one of its versions): `s3:VersionId`, and the
    /// object's tags, which are undetermined.
    fn on_existing_version(&self, mut a: Authorization) -> Authorization {
        self.set_version(&mut a);
        a.undetermined.push(EXISTING_OBJECT_TAG);
        a
    }

    /// `ListObjects`, `ListObjectsV2` and `ListObjectVersions`, with the listing's keys.
    fn list_objects(&self, b: &mut Builder<'_>, bucket: &str) {
        let action = if self.operation == Operation::ListObjectVersions {
            "ListBucketVersions"
        } else {
            "ListBucket"
        };
        let mut a = b.bucket(action, bucket);
        for (param, key) in [
            ("prefix", "s3:prefix"),
            ("delimiter", "s3:delimiter"),
            ("max-keys", "s3:max-keys"),
        ] {
            set_text(&mut a, key, self.param(param).as_ref());
        }
        b.add(a);
    }

    /// `CreateBucket`, and the settings its headers make at once (ACL, object lock, object
    /// ownership), each authorized as its own action.
    fn create_bucket(&self, b: &mut Builder<'_>, bucket: &str) {
        let x = &self.extras;
        let mut a = b.bucket("CreateBucket", bucket);
        self.set_acl(&mut a);
        // The location constraint is in the body, which is not read.
        a.undetermined.push("s3:locationconstraint");
        b.add(a);
        if x.acl.is_some() || !x.grants.is_empty() {
            let mut a = b.bucket("PutBucketAcl", bucket);
            self.set_acl(&mut a);
            b.add(a);
        }
        if x.bucket_object_lock {
            b.add(b.bucket("PutBucketObjectLockConfiguration", bucket));
        }
        if x.object_ownership.is_some() {
            let mut a = b.bucket("PutBucketOwnershipControls", bucket);
            set(
                &mut a,
                "s3:x-amz-object-ownership",
                x.object_ownership.as_deref(),
            );
            b.add(a);
        }
    }

    /// `DeleteObjects`: every key of the body, as `DeleteObject` or `DeleteObjectVersion`.
    fn delete_objects(
        &self,
        b: &mut Builder<'_>,
        bucket: &str,
        body: &[u8],
    ) -> Result<(), S3Error> {
        for e in xml::parse_delete(body)? {
            let a = match &e.version_id {
                Some(v) => {
                    let mut a = b.object("DeleteObjectVersion", bucket, &e.key);
                    a.context.insert("s3:VersionId", v.as_str());
                    a
                }
                None => b.object("DeleteObject", bucket, &e.key),
            };
            b.add(a);
            if self.extras.bypass_governance {
                b.add(b.object("BypassGovernanceRetention", bucket, &e.key));
            }
        }
        Ok(())
    }

    /// `PutObject` (also of `CopyObject` and `CreateMultipartUpload`) with the keys its
    /// headers show, and the settings they make at once (ACL, tags, retention, legal hold),
    /// each authorized as its own action.
    fn put_object(&self, b: &mut Builder<'_>, bucket: &str) -> Result<(), S3Error> {
        let x = &self.extras;
        let mut a = self.object(b, bucket, "PutObject")?;
        self.set_put_object_keys(&mut a);
        b.add(a);
        if x.acl.is_some() || !x.grants.is_empty() {
            let mut a = self.object(b, bucket, "PutObjectAcl")?;
            self.set_acl(&mut a);
            b.add(a);
        }
        if let Some(t) = &x.tagging {
            let mut a = self.object(b, bucket, "PutObjectTagging")?;
            set_tags(&mut a, t);
            b.add(a);
        }
        if x.lock_mode.is_some() || x.lock_retain_until {
            let mut a = self.object(b, bucket, "PutObjectRetention")?;
            set(&mut a, "s3:object-lock-mode", x.lock_mode.as_deref());
            if x.lock_retain_until {
                a.undetermined.push("s3:object-lock-retain-until-date");
            }
            b.add(a);
        }
        if x.legal_hold.is_some() {
            let mut a = self.object(b, bucket, "PutObjectLegalHold")?;
            set(&mut a, "s3:object-lock-legal-hold", x.legal_hold.as_deref());
            b.add(a);
        }
        Ok(())
    }

    /// The condition keys of `s3:PutObject` from the request's headers.
    fn set_put_object_keys(&self, a: &mut Authorization) {
        let x = &self.extras;
        self.set_acl(a);
        set(a, "s3:x-amz-server-side-encryption", x.sse.as_deref());
        set(
            a,
            "s3:x-amz-server-side-encryption-aws-kms-key-id",
            x.sse_kms_key.as_deref(),
        );
        set(a, "s3:x-amz-storage-class", x.storage_class.as_deref());
        set(
            a,
            "s3:x-amz-metadata-directive",
            x.metadata_directive.as_deref(),
        );
        if let Some(c) = &x.copy_source {
            match &c.condition_value {
                Some(v) => {
                    a.context.insert("s3:x-amz-copy-source", v.as_str());
                }
                None => a.undetermined.push("s3:x-amz-copy-source"),
            }
        }
        if let Some(t) = &x.tagging {
            set_tags(a, t);
        }
        set(a, "s3:object-lock-mode", x.lock_mode.as_deref());
        if x.lock_retain_until {
            a.undetermined.push("s3:object-lock-retain-until-date");
        }
        set(a, "s3:object-lock-legal-hold", x.legal_hold.as_deref());
    }

    fn param(&self, name: &str) -> Option<Text> {
        self.query.get(name).map(|p| Text {
            value: p.value.clone().unwrap_or_default(),
            exact: !p.plus,
        })
    }

    fn set_version(&self, a: &mut Authorization) {
        set_text(a, "s3:VersionId", self.version_id.as_ref());
    }

    fn set_acl(&self, a: &mut Authorization) {
        set(a, "s3:x-amz-acl", self.extras.acl.as_deref());
        for (name, value) in &self.extras.grants {
            a.context.insert(format!("s3:{name}"), value.as_str());
        }
    }

    /// The read of a copy source: `s3:GetObject`, or `s3:GetObjectVersion` with
    /// `s3:VersionId` when it names a version.
    fn copy_read(&self, b: &mut Builder<'_>) -> Result<(), S3Error> {
        let c = self
            .extras
            .copy_source
            .as_ref()
            .ok_or_else(S3Error::access_denied)?;
        let mut a = match &c.version_id {
            Some(v) => {
                let mut a = b.object("GetObjectVersion", &c.bucket, &c.key);
                a.context.insert("s3:VersionId", v.as_str());
                a
            }
            None => b.object("GetObject", &c.bucket, &c.key),
        };
        a.undetermined.push(EXISTING_OBJECT_TAG);
        b.add(a);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undetermined_families() {
        let u = [EXISTING_OBJECT_TAG, "s3:VersionId"];
        assert!(is_undetermined(&u, "s3:existingobjecttag/Env"));
        assert!(is_undetermined(&u, "S3:VERSIONID"));
        assert!(!is_undetermined(&u, "s3:ExistingObjectTag"));
        assert!(!is_undetermined(&u, "s3:prefix"));
    }

    #[test]
    fn arns_round_trip() {
        let a = object_arn("aws", "bkt", "a/b:c*");
        assert_eq!(parse_arn(&a), Some(("aws", "bkt", Some("a/b:c*"))));
        assert_eq!(
            parse_arn(&bucket_arn("aws-cn", "b.c")),
            Some(("aws-cn", "b.c", None))
        );
        assert_eq!(parse_arn("arn:aws:s3:::bkt/"), None);
        assert_eq!(parse_arn("arn:aws:s3:::BKT"), None);
        assert_eq!(parse_arn("arn:aws:s3:us-east-1::bkt"), None);
    }
}
