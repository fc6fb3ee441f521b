//! Requests → authorizations, as AWS's service authorization reference for S3 lists them:
//! one table row per request shape, and a property test that every (bucket, key) that
//! maps yields ARNs that parse back to the same bucket and key.

use irsa_policy::ContextValue;
use irsa_s3::{
    Addressing, AuthType, Authorization, EXISTING_OBJECT_TAG, Endpoints, HttpRequest, Operation,
    RequestAuth, S3Error, S3Request, parse_arn,
};
use proptest::prelude::*;

const AUTH: RequestAuth<'static> = RequestAuth {
    auth_type: AuthType::Header,
    content_sha256: Some("UNSIGNED-PAYLOAD"),
    resource_account: Some("111122223333"),
    signature_age_ms: Some(7),
};

fn endpoints() -> Endpoints {
    Endpoints::new(["s3.local", "localhost"]).unwrap()
}

fn request(
    method: &str,
    host: &str,
    target: &str,
    headers: &[(&str, &str)],
) -> Result<S3Request, S3Error> {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut hs: Vec<(&str, &[u8])> = vec![("host", host.as_bytes())];
    hs.extend(headers.iter().map(|(n, v)| (*n, v.as_bytes())));
    S3Request::parse(
        &HttpRequest {
            method,
            path,
            query,
            headers: &hs,
        },
        &endpoints(),
    )
}

fn map(
    method: &str,
    host: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Result<Vec<Authorization>, S3Error> {
    request(method, host, target, headers)?.authorizations("aws", &AUTH, body.as_bytes())
}

fn single(a: &Authorization, key: &str) -> Option<String> {
    match a.context.get(key)? {
        ContextValue::Single(s) => Some(s.clone()),
        ContextValue::Multi(v) => Some(format!("[{}]", v.join(","))),
    }
}

struct Row {
    method: &'static str,
    host: &'static str,
    target: &'static str,
    headers: &'static [(&'static str, &'static str)],
    body: &'static str,
    op: Operation,
    /// `action resource` of each authorization, in order.
    expect: &'static [&'static str],
    /// `(authorization index, key, value)` that must be in the context.
    keys: &'static [(usize, &'static str, &'static str)],
    /// `(authorization index, key)` that must be undetermined.
    undetermined: &'static [(usize, &'static str)],
}

const B: &str = "arn:aws:s3:::bkt";

macro_rules! row {
    ($m:literal $t:literal => $op:ident [$($e:literal),*]) => {
        row!($m "s3.local", $t, &[], "" => $op [$($e),*] keys [] undet [])
    };
    ($m:literal $host:literal, $t:literal, $h:expr, $body:expr => $op:ident [$($e:literal),*]
        keys [$(($i:literal, $k:literal, $v:literal)),*] undet [$(($j:literal, $u:expr)),*]) => {
        Row {
            method: $m,
            host: $host,
            target: $t,
            headers: $h,
            body: $body,
            op: Operation::$op,
            expect: &[$($e),*],
            keys: &[$(($i, $k, $v)),*],
            undetermined: &[$(($j, $u)),*],
        }
    };
}

const DELETE_BODY: &str = r#"<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Object><Key>a.txt</Key></Object>
  <Object><Key>b/c.txt</Key><VersionId>v9</VersionId></Object>
  <Object><Key>a.txt</Key></Object>
</Delete>"#;

const TAGGING_BODY: &str =
    "<Tagging><TagSet><Tag><Key>team</Key><Value>x y</Value></Tag></TagSet></Tagging>";

fn table() -> Vec<Row> {
    vec![
        row!("GET" "/" => ListBuckets ["s3:ListAllMyBuckets *"]),
        row!("HEAD" "/bkt" => HeadBucket ["s3:ListBucket arn:aws:s3:::bkt"]),
        row!("PUT" "/bkt" => CreateBucket ["s3:CreateBucket arn:aws:s3:::bkt"]),
        row!("DELETE" "/bkt/" => DeleteBucket ["s3:DeleteBucket arn:aws:s3:::bkt"]),
        row!("GET" "s3.local", "/bkt?prefix=reports%2F&delimiter=%2F&max-keys=10", &[], ""
            => ListObjects ["s3:ListBucket arn:aws:s3:::bkt"]
            keys [(0, "s3:prefix", "reports/"), (0, "s3:delimiter", "/"), (0, "s3:max-keys", "10")]
            undet []),
        row!("GET" "bkt.s3.local", "/?list-type=2&prefix=a&encoding-type=url", &[], ""
            => ListObjectsV2 ["s3:ListBucket arn:aws:s3:::bkt"]
            keys [(0, "s3:prefix", "a")] undet []),
        row!("GET" "s3.local", "/bkt?versions&prefix=p", &[], ""
            => ListObjectVersions ["s3:ListBucketVersions arn:aws:s3:::bkt"]
            keys [(0, "s3:prefix", "p")] undet []),
        row!("GET" "/bkt?uploads" => ListMultipartUploads
            ["s3:ListBucketMultipartUploads arn:aws:s3:::bkt"]),
        row!("GET" "/bkt?location" => GetBucketLocation ["s3:GetBucketLocation arn:aws:s3:::bkt"]),
        row!("GET" "/bkt?policy" => GetBucketPolicy ["s3:GetBucketPolicy arn:aws:s3:::bkt"]),
        row!("PUT" "/bkt?policy" => PutBucketPolicy ["s3:PutBucketPolicy arn:aws:s3:::bkt"]),
        row!("DELETE" "/bkt?policy" => DeleteBucketPolicy ["s3:DeleteBucketPolicy arn:aws:s3:::bkt"]),
        row!("GET" "/bkt?tagging" => GetBucketTagging ["s3:GetBucketTagging arn:aws:s3:::bkt"]),
        row!("PUT" "/bkt?tagging=" => PutBucketTagging ["s3:PutBucketTagging arn:aws:s3:::bkt"]),
        row!("DELETE" "/bkt?tagging" => DeleteBucketTagging ["s3:PutBucketTagging arn:aws:s3:::bkt"]),
        row!("GET" "/bkt?versioning" => GetBucketVersioning ["s3:GetBucketVersioning arn:aws:s3:::bkt"]),
        row!("PUT" "/bkt?versioning" => PutBucketVersioning ["s3:PutBucketVersioning arn:aws:s3:::bkt"]),
        row!("GET" "/bkt?acl" => GetBucketAcl ["s3:GetBucketAcl arn:aws:s3:::bkt"]),
        row!("PUT" "s3.local", "/bkt?acl", &[("x-amz-acl", "private")], ""
            => PutBucketAcl ["s3:PutBucketAcl arn:aws:s3:::bkt"]
            keys [(0, "s3:x-amz-acl", "private")] undet []),
        row!("PUT" "s3.local", "/bkt", &[("x-amz-acl", "private"), ("x-amz-bucket-object-lock-enabled", "true"), ("x-amz-object-ownership", "BucketOwnerEnforced")], ""
            => CreateBucket ["s3:CreateBucket arn:aws:s3:::bkt", "s3:PutBucketAcl arn:aws:s3:::bkt",
                "s3:PutBucketObjectLockConfiguration arn:aws:s3:::bkt",
                "s3:PutBucketOwnershipControls arn:aws:s3:::bkt"]
            keys [(0, "s3:x-amz-acl", "private"), (3, "s3:x-amz-object-ownership", "BucketOwnerEnforced")]
            undet [(0, "s3:locationconstraint")]),
        row!("POST" "s3.local", "/bkt?delete", &[], DELETE_BODY
            => DeleteObjects ["s3:DeleteObject arn:aws:s3:::bkt/a.txt",
                "s3:DeleteObjectVersion arn:aws:s3:::bkt/b/c.txt"]
            keys [(1, "s3:VersionId", "v9")] undet []),
        row!("POST" "s3.local", "/bkt?delete", &[("x-amz-bypass-governance-retention", "true")],
            "<Delete><Object><Key>k</Key></Object></Delete>"
            => DeleteObjects ["s3:DeleteObject arn:aws:s3:::bkt/k",
                "s3:BypassGovernanceRetention arn:aws:s3:::bkt/k"]
            keys [] undet []),
        row!("GET" "s3.local", "/bkt/reports/q1.csv", &[], ""
            => GetObject ["s3:GetObject arn:aws:s3:::bkt/reports/q1.csv"]
            keys [(0, "s3:authType", "REST-HEADER"), (0, "s3:signatureversion", "AWS4-HMAC-SHA256"),
                (0, "s3:x-amz-content-sha256", "UNSIGNED-PAYLOAD"), (0, "s3:ResourceAccount", "111122223333"),
                (0, "s3:signatureAge", "7")]
            undet [(0, EXISTING_OBJECT_TAG)]),
        row!("GET" "s3.local", "/bkt/k?versionId=3HL4kqtJlcpXroDTDmJ%2Bx&response-content-type=text%2Fplain&x-id=GetObject", &[], ""
            => GetObject ["s3:GetObjectVersion arn:aws:s3:::bkt/k"]
            keys [(0, "s3:VersionId", "3HL4kqtJlcpXroDTDmJ+x")] undet [(0, EXISTING_OBJECT_TAG)]),
        row!("HEAD" "/bkt/k?partNumber=2" => HeadObject ["s3:GetObject arn:aws:s3:::bkt/k"]),
        row!("HEAD" "s3.local", "/bkt/k?versionId=v1", &[], ""
            => HeadObject ["s3:GetObjectVersion arn:aws:s3:::bkt/k"]
            keys [(0, "s3:VersionId", "v1")] undet []),
        row!("PUT" "s3.local", "/bkt/k", &[("x-amz-server-side-encryption", "aws:kms"),
                ("x-amz-server-side-encryption-aws-kms-key-id", "key-1"), ("x-amz-storage-class", "STANDARD_IA")], ""
            => PutObject ["s3:PutObject arn:aws:s3:::bkt/k"]
            keys [(0, "s3:x-amz-server-side-encryption", "aws:kms"),
                (0, "s3:x-amz-server-side-encryption-aws-kms-key-id", "key-1"),
                (0, "s3:x-amz-storage-class", "STANDARD_IA")]
            undet []),
        row!("PUT" "s3.local", "/bkt/k", &[("x-amz-acl", "public-read"), ("x-amz-grant-read", "id=abc"),
                ("x-amz-tagging", "team=a%20b&env=prod")], ""
            => PutObject ["s3:PutObject arn:aws:s3:::bkt/k", "s3:PutObjectAcl arn:aws:s3:::bkt/k",
                "s3:PutObjectTagging arn:aws:s3:::bkt/k"]
            keys [(0, "s3:x-amz-acl", "public-read"), (0, "s3:x-amz-grant-read", "id=abc"),
                (0, "s3:RequestObjectTag/team", "a b"), (0, "s3:RequestObjectTagKeys", "[team,env]"),
                (1, "s3:x-amz-acl", "public-read"), (2, "s3:RequestObjectTag/env", "prod")]
            undet []),
        row!("PUT" "s3.local", "/bkt/k", &[("x-amz-tagging", "team=a+b")], ""
            => PutObject ["s3:PutObject arn:aws:s3:::bkt/k", "s3:PutObjectTagging arn:aws:s3:::bkt/k"]
            keys [] undet [(0, "s3:RequestObjectTag/"), (0, "s3:RequestObjectTagKeys"), (1, "s3:RequestObjectTagKeys")]),
        row!("PUT" "s3.local", "/bkt/k", &[("x-amz-object-lock-mode", "GOVERNANCE"),
                ("x-amz-object-lock-retain-until-date", "2030-01-01T00:00:00Z"), ("x-amz-object-lock-legal-hold", "ON")], ""
            => PutObject ["s3:PutObject arn:aws:s3:::bkt/k", "s3:PutObjectRetention arn:aws:s3:::bkt/k",
                "s3:PutObjectLegalHold arn:aws:s3:::bkt/k"]
            keys [(1, "s3:object-lock-mode", "GOVERNANCE"), (2, "s3:object-lock-legal-hold", "ON")]
            undet [(1, "s3:object-lock-retain-until-date")]),
        row!("PUT" "s3.local", "/bkt/dst", &[("x-amz-copy-source", "src-bkt/dir/a.txt"),
                ("x-amz-metadata-directive", "REPLACE")], ""
            => CopyObject ["s3:GetObject arn:aws:s3:::src-bkt/dir/a.txt", "s3:PutObject arn:aws:s3:::bkt/dst"]
            keys [(1, "s3:x-amz-copy-source", "src-bkt/dir/a.txt"), (1, "s3:x-amz-metadata-directive", "REPLACE")]
            undet [(0, EXISTING_OBJECT_TAG)]),
        row!("PUT" "s3.local", "/bkt/dst", &[("x-amz-copy-source", "/src-bkt/a%20b.txt?versionId=v2"),
                ("x-amz-tagging-directive", "REPLACE"), ("x-amz-tagging", "k=v")], ""
            => CopyObject ["s3:GetObjectVersion arn:aws:s3:::src-bkt/a b.txt", "s3:PutObject arn:aws:s3:::bkt/dst",
                "s3:PutObjectTagging arn:aws:s3:::bkt/dst"]
            keys [(0, "s3:VersionId", "v2"), (2, "s3:RequestObjectTag/k", "v")]
            undet [(1, "s3:x-amz-copy-source")]),
        row!("DELETE" "/bkt/k" => DeleteObject ["s3:DeleteObject arn:aws:s3:::bkt/k"]),
        row!("DELETE" "s3.local", "/bkt/k?versionId=v1", &[("x-amz-bypass-governance-retention", "true")], ""
            => DeleteObject ["s3:DeleteObjectVersion arn:aws:s3:::bkt/k",
                "s3:BypassGovernanceRetention arn:aws:s3:::bkt/k"]
            keys [(0, "s3:VersionId", "v1")] undet []),
        row!("POST" "s3.local", "/bkt/k?uploads", &[("x-amz-tagging", "a=1")], ""
            => CreateMultipartUpload ["s3:PutObject arn:aws:s3:::bkt/k", "s3:PutObjectTagging arn:aws:s3:::bkt/k"]
            keys [(0, "s3:RequestObjectTag/a", "1")] undet []),
        row!("PUT" "/bkt/k?partNumber=1&uploadId=abc" => UploadPart ["s3:PutObject arn:aws:s3:::bkt/k"]),
        row!("PUT" "s3.local", "/bkt/k?uploadId=abc&partNumber=10000", &[("x-amz-copy-source", "src/k2"),
                ("x-amz-copy-source-range", "bytes=0-9")], ""
            => UploadPartCopy ["s3:GetObject arn:aws:s3:::src/k2", "s3:PutObject arn:aws:s3:::bkt/k"]
            keys [] undet []),
        row!("POST" "/bkt/k?uploadId=abc" => CompleteMultipartUpload ["s3:PutObject arn:aws:s3:::bkt/k"]),
        row!("DELETE" "/bkt/k?uploadId=abc" => AbortMultipartUpload ["s3:AbortMultipartUpload arn:aws:s3:::bkt/k"]),
        row!("GET" "/bkt/k?uploadId=abc&max-parts=5" => ListParts ["s3:ListMultipartUploadParts arn:aws:s3:::bkt/k"]),
        row!("GET" "/bkt/k?tagging" => GetObjectTagging ["s3:GetObjectTagging arn:aws:s3:::bkt/k"]),
        row!("GET" "/bkt/k?tagging&versionId=v" => GetObjectTagging ["s3:GetObjectVersionTagging arn:aws:s3:::bkt/k"]),
        row!("PUT" "s3.local", "/bkt/k?tagging", &[], TAGGING_BODY
            => PutObjectTagging ["s3:PutObjectTagging arn:aws:s3:::bkt/k"]
            keys [(0, "s3:RequestObjectTag/team", "x y"), (0, "s3:RequestObjectTagKeys", "[team]")]
            undet [(0, EXISTING_OBJECT_TAG)]),
        row!("PUT" "s3.local", "/bkt/k?tagging&versionId=v", &[], TAGGING_BODY
            => PutObjectTagging ["s3:PutObjectVersionTagging arn:aws:s3:::bkt/k"]
            keys [(0, "s3:VersionId", "v")] undet []),
        row!("DELETE" "/bkt/k?tagging" => DeleteObjectTagging ["s3:DeleteObjectTagging arn:aws:s3:::bkt/k"]),
        row!("DELETE" "/bkt/k?tagging&versionId=v" => DeleteObjectTagging ["s3:DeleteObjectVersionTagging arn:aws:s3:::bkt/k"]),
        row!("GET" "/bkt/k?acl" => GetObjectAcl ["s3:GetObjectAcl arn:aws:s3:::bkt/k"]),
        row!("GET" "/bkt/k?acl&versionId=v" => GetObjectAcl ["s3:GetObjectVersionAcl arn:aws:s3:::bkt/k"]),
        row!("PUT" "s3.local", "/bkt/k?acl", &[("x-amz-acl", "private")], ""
            => PutObjectAcl ["s3:PutObjectAcl arn:aws:s3:::bkt/k"]
            keys [(0, "s3:x-amz-acl", "private")] undet [(0, EXISTING_OBJECT_TAG)]),
        row!("PUT" "/bkt/k?acl&versionId=v" => PutObjectAcl ["s3:PutObjectVersionAcl arn:aws:s3:::bkt/k"]),
    ]
}

#[test]
fn table_maps_as_the_reference_lists() {
    let mut seen = std::collections::HashSet::new();
    for row in table() {
        let what = format!("{} {}{}", row.method, row.host, row.target);
        let req = request(row.method, row.host, row.target, row.headers)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(req.operation(), row.op, "{what}");
        seen.insert(row.op);
        let auths = map(row.method, row.host, row.target, row.headers, row.body)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let got: Vec<String> = auths
            .iter()
            .map(|a| format!("{} {}", a.action, a.resource))
            .collect();
        assert_eq!(got, row.expect, "{what}");
        for (i, k, v) in row.keys {
            assert_eq!(single(&auths[*i], k).as_deref(), Some(*v), "{what}: {k}");
        }
        for (i, u) in row.undetermined {
            assert!(
                auths[*i].undetermined.contains(u),
                "{what}: {u} not undetermined in {:?}",
                auths[*i].undetermined
            );
        }
    }
    for op in Operation::ALL {
        assert!(seen.contains(op), "no row maps {op}");
    }
    let _ = B;
}

#[test]
fn keys_appear_only_where_aws_evaluates_them() {
    // s3:prefix is a ListBucket key: a GetObject never carries it, and a list without a
    // prefix has none (absent, not empty).
    let a = map("GET", "s3.local", "/bkt/k", &[], "").unwrap();
    assert!(a[0].context.get("s3:prefix").is_none());
    let a = map("GET", "s3.local", "/bkt", &[], "").unwrap();
    assert!(a[0].context.get("s3:prefix").is_none());
    let a = map("GET", "s3.local", "/bkt?prefix=", &[], "").unwrap();
    assert_eq!(single(&a[0], "s3:prefix").as_deref(), Some(""));
    // ExistingObjectTag is not evaluated for PutObject and DeleteObject (AWS: "not
    // supported for PUT Object and DELETE Object").
    for (m, t) in [("PUT", "/bkt/k"), ("DELETE", "/bkt/k")] {
        let a = map(m, "s3.local", t, &[], "").unwrap();
        assert!(!a[0].undetermined.contains(&EXISTING_OBJECT_TAG), "{m}");
    }
    // ListAllMyBuckets is on `*`: no s3:ResourceAccount.
    let a = map("GET", "localhost:9000", "/", &[], "").unwrap();
    assert!(a[0].context.get("s3:ResourceAccount").is_none());
    assert!(!a[0].undetermined.contains(&"s3:ResourceAccount"));
}

#[test]
fn caller_inputs_left_out_are_undetermined() {
    let auth = RequestAuth {
        auth_type: AuthType::QueryString,
        content_sha256: None,
        resource_account: None,
        signature_age_ms: None,
    };
    let r = request("GET", "s3.local", "/bkt/k", &[]).unwrap();
    let a = r.authorizations("aws", &auth, b"").unwrap();
    assert_eq!(
        single(&a[0], "s3:authType").as_deref(),
        Some("REST-QUERY-STRING")
    );
    assert!(a[0].context.get("s3:x-amz-content-sha256").is_none());
    assert!(a[0].undetermined.contains(&"s3:ResourceAccount"));
    assert!(a[0].undetermined.contains(&"s3:signatureAge"));
}

#[test]
fn request_accessors() {
    let r = request(
        "PUT",
        "bkt.s3.local:443",
        "/d/k",
        &[("x-amz-copy-source", "src/a?versionId=v")],
    )
    .unwrap();
    assert_eq!(r.addressing(), Addressing::VirtualHosted);
    assert_eq!(r.bucket(), Some("bkt"));
    assert_eq!(r.key(), Some("d/k"));
    assert_eq!(r.copy_source(), Some(("src", "a", Some("v"))));
    assert_eq!(r.body_limit(), None);
    let r = request("POST", "s3.local", "/bkt?delete", &[]).unwrap();
    assert_eq!(r.body_limit(), Some(irsa_s3::MAX_DELETE_BODY));
}

fn key_strategy() -> impl Strategy<Value = String> {
    // Keys of any characters, including `/`, `%`, `+`, `?`, `#`, `:`, `*` and non-ASCII.
    proptest::collection::vec(
        prop_oneof![
            4 => "[a-z0-9]{1,8}",
            1 => Just("/".to_owned()),
            1 => "[%+?#:*=&; ~]{1,2}",
            1 => "\\PC{1,3}",
        ],
        1..12,
    )
    .prop_map(|parts| parts.concat())
}

fn encode(key: &str) -> String {
    let mut out = String::new();
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn mapped_arns_round_trip(
        bucket in "[a-z0-9][a-z0-9-]{1,20}[a-z0-9]",
        key in key_strategy(),
        virtual_host in any::<bool>(),
    ) {
        let (host, path) = if virtual_host {
            (format!("{bucket}.s3.local"), format!("/{}", encode(&key)))
        } else {
            ("s3.local".to_owned(), format!("/{bucket}/{}", encode(&key)))
        };
        // The gateway refuses `.`/`..`/empty segments and backslashes; everything else maps.
        let body = key.strip_suffix('/').unwrap_or(&key);
        let refused = key.len() > 1024
            || key.contains('\\')
            || body.split('/').any(|s| s.is_empty() || s == "." || s == "..");
        let req = match request("GET", &host, &path, &[]) {
            Ok(req) => req,
            Err(e) => {
                prop_assert!(refused, "{key:?} refused: {e}");
                return Ok(());
            }
        };
        prop_assert!(!refused, "{key:?} mapped");
        prop_assert_eq!(req.bucket(), Some(bucket.as_str()));
        prop_assert_eq!(req.key(), Some(key.as_str()));
        let auths = req.authorizations("aws", &AUTH, b"").unwrap();
        prop_assert_eq!(auths.len(), 1);
        let parsed = parse_arn(&auths[0].resource);
        prop_assert_eq!(parsed, Some(("aws", bucket.as_str(), Some(key.as_str()))));
        // The copy source form of the same key reads the same object.
        let dst = request(
            "PUT",
            "s3.local",
            "/dst-bkt/k",
            &[("x-amz-copy-source", &format!("{bucket}/{}", encode(&key)))],
        )
        .unwrap();
        prop_assert_eq!(dst.copy_source(), Some((bucket.as_str(), key.as_str(), None)));
    }

    #[test]
    fn any_path_and_query_never_panics(path in "/[ -~]{0,40}", query in "[ -~]{0,40}") {
        let _ = map("GET", "s3.local", &format!("{path}?{query}"), &[], "");
        let _ = map("PUT", "bkt.s3.local", &format!("{path}?{query}"), &[], "");
    }
}
