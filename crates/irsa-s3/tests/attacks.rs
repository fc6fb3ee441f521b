//! Inputs crafted to make the crate's decision differ from what S3 (or the S3-compatible
//! server behind the gateway) would execute. Each is refused, or mapped exactly as S3
//! maps it; the comment says why.

use irsa_s3::{
    AuthType, Authorization, Endpoints, HttpRequest, MAX_DELETE_BODY, Operation, RequestAuth,
    S3Error, S3Request, is_undetermined,
};

const AUTH: RequestAuth<'static> = RequestAuth {
    auth_type: AuthType::Header,
    content_sha256: Some("UNSIGNED-PAYLOAD"),
    resource_account: Some("111122223333"),
    signature_age_ms: Some(1),
};

fn endpoints() -> Endpoints {
    Endpoints::new(["s3.local"]).unwrap()
}

fn parse_with(method: &str, target: &str, headers: &[(&str, &[u8])]) -> Result<S3Request, S3Error> {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    S3Request::parse(
        &HttpRequest {
            method,
            path,
            query,
            headers,
        },
        &endpoints(),
    )
}

/// A request on `s3.local` (path-style) with extra headers, mapped.
fn map_h(
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Vec<Authorization>, S3Error> {
    let mut hs: Vec<(&str, &[u8])> = vec![("host", b"s3.local")];
    hs.extend(headers.iter().map(|(n, v)| (*n, v.as_bytes())));
    parse_with(method, target, &hs)?.authorizations("aws", &AUTH, body)
}

fn map(method: &str, target: &str) -> Result<Vec<Authorization>, S3Error> {
    map_h(method, target, &[], b"")
}

fn on_host(host: &str, method: &str, target: &str) -> Result<S3Request, S3Error> {
    parse_with(method, target, &[("Host", host.as_bytes())])
}

/// The `action resource` pairs.
fn pairs(a: &[Authorization]) -> Vec<String> {
    a.iter()
        .map(|a| format!("{} {}", a.action, a.resource))
        .collect()
}

fn code(r: Result<impl std::fmt::Debug, S3Error>) -> &'static str {
    match r {
        Ok(v) => panic!("mapped: {v:?}"),
        Err(e) => e.code,
    }
}

// ---- the path ----------------------------------------------------------------------

#[test]
fn dot_segments_are_refused() {
    // S3 keeps `a/../b` as a key, but file-system-backed S3 servers (versitygw) resolve
    // it to `b`: authorizing `reports/../secret` under `reports/*` would read `secret`.
    for t in [
        "/bkt/reports/../secret",
        "/bkt/./secret",
        "/bkt/reports/..",
        "/bkt/..",
        // Encoded dots decode to the same segments.
        "/bkt/reports/%2e%2e/secret",
        "/bkt/reports%2F..%2Fsecret",
    ] {
        assert_eq!(code(map("GET", t)), "InvalidArgument", "{t}");
    }
    // Dots inside a segment are plain characters (S3 and file systems agree).
    assert_eq!(
        pairs(&map("GET", "/bkt/a..b/.c/d.").unwrap()),
        ["s3:GetObject arn:aws:s3:::bkt/a..b/.c/d."]
    );
}

#[test]
fn empty_segments_are_refused() {
    // S3 keys `a//b` and `/a` exist, but a server that collapses slashes would execute
    // `a/b`: a Deny on `a/b*` would not see `a//bsecret`.
    for t in ["/bkt/a//b", "/bkt//a", "/bkt/a%2F%2Fb", "/bkt/%2Fa"] {
        assert_eq!(code(map("GET", t)), "InvalidArgument", "{t}");
    }
    // `//bkt/k`: the bucket segment is empty, not a bucket.
    assert_eq!(code(map("GET", "//bkt/k")), "InvalidBucketName");
    // A trailing slash is a "folder" object, kept as S3 keeps it.
    assert_eq!(
        pairs(&map("PUT", "/bkt/dir/").unwrap()),
        ["s3:PutObject arn:aws:s3:::bkt/dir/"]
    );
}

#[test]
fn encoded_slashes_are_part_of_the_key() {
    // S3 decodes `%2F` to `/` in the key (the key is the decoded rest after `/bucket/`).
    assert_eq!(
        pairs(&map("GET", "/bkt/reports%2Fq1").unwrap()),
        ["s3:GetObject arn:aws:s3:::bkt/reports/q1"]
    );
    // Decoded once only: `%252F` is the three characters `%2F`.
    assert_eq!(
        pairs(&map("GET", "/bkt/a%252Fb").unwrap()),
        ["s3:GetObject arn:aws:s3:::bkt/a%2Fb"]
    );
    // A `%2F` in the bucket segment does not split it: the bucket `bkt%2Fk` is invalid.
    assert_eq!(code(map("GET", "/bkt%2Fk")), "InvalidBucketName");
}

#[test]
fn plus_is_a_plus_in_the_path() {
    // In the path S3 reads `+` literally (only `%20` is a space).
    assert_eq!(
        pairs(&map("GET", "/bkt/a+b%20c").unwrap()),
        ["s3:GetObject arn:aws:s3:::bkt/a+b c"]
    );
}

#[test]
fn malformed_paths() {
    // Not percent-encoding, not UTF-8, raw characters a next hop may read differently.
    for t in [
        "/bkt/a%zz",
        "/bkt/a%2",
        "/bkt/%ff",
        "/bkt/a#b",
        "/bkt/a b",
        "bkt/k",
    ] {
        assert_eq!(code(map("GET", t)), "InvalidURI", "{t}");
    }
    // S3's limit: 1024 bytes of key.
    let long = format!("/bkt/{}", "k".repeat(1025));
    assert_eq!(code(map("GET", &long)), "KeyTooLongError");
    let max = format!("/bkt/{}", "k".repeat(1024));
    assert!(map("GET", &max).is_ok());
    // 1024 bytes after decoding: 342 three-byte characters are 1026 bytes.
    let wide = format!("/bkt/{}", "%E2%82%AC".repeat(342));
    assert_eq!(code(map("GET", &wide)), "KeyTooLongError");
}

// ---- the query ---------------------------------------------------------------------

#[test]
fn subresource_names_are_case_sensitive_and_refused_otherwise() {
    // S3 knows `?tagging`, not `?Tagging`: an upstream that matched case-insensitively would
    // run PutObjectTagging where the mapping saw a PutObject.
    for t in [
        "/bkt/k?Tagging",
        "/bkt/k?ACL",
        "/bkt/k?uploadid=1",
        "/bkt/k?VersionId=1",
    ] {
        assert_eq!(code(map("PUT", t)), "InvalidArgument", "{t}");
    }
    // An encoded name is not a plain name.
    assert_eq!(code(map("POST", "/bkt/k?%75ploads")), "InvalidArgument");
    // A subresource the crate does not know is not mapped to a guess.
    for t in [
        "/bkt?cors",
        "/bkt?lifecycle",
        "/bkt/k?restore",
        "/bkt/k?torrent",
        "/bkt/k?attributes",
    ] {
        assert_eq!(code(map("GET", t)), "NotImplemented", "{t}");
    }
}

#[test]
fn duplicate_query_parameters_are_refused() {
    // Which versionId would S3 use, the first or the last? Neither is guessed.
    assert_eq!(
        code(map("GET", "/bkt/k?versionId=a&versionId=b")),
        "InvalidArgument"
    );
    assert_eq!(
        code(map("GET", "/bkt?prefix=a&prefix=b")),
        "InvalidArgument"
    );
    assert_eq!(
        code(map("GET", "/bkt/k?tagging&tagging")),
        "InvalidArgument"
    );
}

#[test]
fn upload_id_needs_a_value() {
    // `?uploadId` bare or empty names no upload; S3 refuses it, and so does the mapping
    // (never a GetObject with a stray parameter).
    for (m, t) in [
        ("GET", "/bkt/k?uploadId"),
        ("GET", "/bkt/k?uploadId="),
        ("DELETE", "/bkt/k?uploadId"),
        ("PUT", "/bkt/k?partNumber=1&uploadId"),
    ] {
        assert_eq!(code(map(m, t)), "InvalidArgument", "{m} {t}");
    }
    assert_eq!(
        pairs(&map("GET", "/bkt/k?uploadId=x").unwrap()),
        ["s3:ListMultipartUploadParts arn:aws:s3:::bkt/k"]
    );
    // A part number S3 would refuse.
    for t in [
        "/bkt/k?partNumber=0&uploadId=x",
        "/bkt/k?partNumber=10001&uploadId=x",
        "/bkt/k?partNumber=-1&uploadId=x",
    ] {
        assert_eq!(code(map("PUT", t)), "InvalidArgument", "{t}");
    }
    // UploadPart without the upload is not a PutObject.
    assert_eq!(code(map("PUT", "/bkt/k?partNumber=1")), "NotImplemented");
}

#[test]
fn flags_with_values_and_combinations_are_refused() {
    // `?uploads=x`: a flag with a value is not something S3 documents.
    assert_eq!(code(map("POST", "/bkt/k?uploads=x")), "InvalidArgument");
    // Two subresources at once: no operation has both.
    assert_eq!(code(map("GET", "/bkt/k?tagging&acl")), "NotImplemented");
    assert_eq!(
        code(map("POST", "/bkt/k?uploads&uploadId=x")),
        "NotImplemented"
    );
    assert_eq!(
        code(map("GET", "/bkt?list-type=2&versions")),
        "NotImplemented"
    );
    // A versionId where the operation takes none (PutObject creates the version).
    assert_eq!(code(map("PUT", "/bkt/k?versionId=v")), "NotImplemented");
    // list-type other than 2, a version id that is empty.
    assert_eq!(code(map("GET", "/bkt?list-type=1")), "InvalidArgument");
    assert_eq!(code(map("GET", "/bkt/k?versionId=")), "InvalidArgument");
    assert_eq!(code(map("GET", "/bkt?max-keys=-1")), "InvalidArgument");
}

#[test]
fn plus_in_query_values_leaves_keys_undetermined() {
    // S3 may read `+` in a query value as a space or as a plus: `s3:prefix` is
    // undetermined (a policy using it denies), never guessed.
    let a = map("GET", "/bkt?prefix=a+b").unwrap();
    assert!(a[0].context.get("s3:prefix").is_none());
    assert!(is_undetermined(&a[0].undetermined, "s3:prefix"));
    // `%2B` is exactly a plus.
    let a = map("GET", "/bkt?prefix=a%2Bb").unwrap();
    assert_eq!(a[0].context.get("s3:prefix").unwrap().values(), ["a+b"]);
    let a = map("GET", "/bkt/k?versionId=a+b").unwrap();
    assert!(is_undetermined(&a[0].undetermined, "s3:VersionId"));
}

// ---- the Host ----------------------------------------------------------------------

#[test]
fn virtual_host_names_the_bucket_and_the_path_is_the_key() {
    // S3 takes the bucket from the Host; the path is all key, even when it starts with
    // another bucket's name.
    let r = on_host("a-bkt.s3.local", "GET", "/b-bkt/k").unwrap();
    assert_eq!((r.bucket(), r.key()), (Some("a-bkt"), Some("b-bkt/k")));
    let r = on_host("a-bkt.s3.local", "GET", "/").unwrap();
    assert_eq!(
        (r.bucket(), r.key(), r.operation()),
        (Some("a-bkt"), None, Operation::ListObjects)
    );
    // A bucket with dots is one bucket, not a deeper host.
    let r = on_host("a.b.s3.local", "GET", "/k").unwrap();
    assert_eq!(r.bucket(), Some("a.b"));
}

#[test]
fn hosts_that_are_not_this_endpoint_are_refused() {
    for h in [
        "evil.example",
        "bkt.evil.example",
        "s3.local.evil.example",
        "xs3.local",
        // A trailing dot is another name to the resolver rules of the next hop.
        "s3.local.",
        "bkt.s3.local.",
        // Ports must be decimal.
        "s3.local:abc",
        "s3.local:",
        "s3.local:1:2",
        "",
    ] {
        assert_eq!(code(on_host(h, "GET", "/bkt/k")), "InvalidRequest", "{h:?}");
    }
    // S3 would treat an unknown Host as a CNAME bucket; the gateway does not.
}

#[test]
fn host_case_and_port() {
    // DNS names are case-insensitive: the endpoint part matches in any case.
    let r = on_host("S3.Local:9000", "GET", "/bkt/k").unwrap();
    assert_eq!(r.bucket(), Some("bkt"));
    // Bucket names are lowercase: an uppercase bucket label is not lowered.
    assert_eq!(
        code(on_host("BKT.s3.local", "GET", "/k")),
        "InvalidBucketName"
    );
    assert_eq!(
        code(on_host("bkt_1.s3.local", "GET", "/k")),
        "InvalidBucketName"
    );
}

#[test]
fn host_headers_missing_or_twice() {
    assert_eq!(code(parse_with("GET", "/bkt/k", &[])), "InvalidRequest");
    let two: &[(&str, &[u8])] = &[("host", b"s3.local"), ("Host", b"other.s3.local")];
    assert_eq!(code(parse_with("GET", "/bkt/k", two)), "InvalidArgument");
}

#[test]
fn ambiguous_endpoints() {
    // With endpoints `s3.local` and `x.s3.local`, `b.x.s3.local` is bucket `b.x` of one
    // and bucket `b` of the other: refused.
    let e = Endpoints::new(["s3.local", "x.s3.local"]).unwrap();
    let hs: &[(&str, &[u8])] = &[("host", b"b-1.x.s3.local")];
    let r = S3Request::parse(
        &HttpRequest {
            method: "GET",
            path: "/",
            query: "",
            headers: hs,
        },
        &e,
    );
    assert_eq!(code(r), "InvalidRequest");
}

#[test]
fn bucket_names_follow_s3s_rules() {
    for b in [
        "ab",
        "a_b",
        "Abc",
        "a..b",
        "192.168.0.1",
        "xn--abc",
        "abc-s3alias",
        "-abc",
        "abc-",
    ] {
        assert_eq!(
            code(map("GET", &format!("/{b}/k"))),
            "InvalidBucketName",
            "{b}"
        );
    }
}

// ---- methods and headers -------------------------------------------------------------

#[test]
fn methods_are_exact() {
    assert_eq!(code(map("get", "/bkt/k")), "MethodNotAllowed");
    assert_eq!(code(map("OPTIONS", "/bkt/k")), "MethodNotAllowed");
    assert_eq!(code(map("PATCH", "/bkt")), "MethodNotAllowed");
    // A browser form POST to the bucket is not implemented.
    assert_eq!(code(map("POST", "/bkt")), "NotImplemented");
}

#[test]
fn unknown_amz_headers_are_refused() {
    // `x-amz-mfa` (MFA delete) and `x-amz-write-offset-bytes` (append) ask S3 for things
    // whose permissions the mapping does not ask for.
    for h in [
        "x-amz-mfa",
        "X-Amz-Write-Offset-Bytes",
        "x-amz-something-new",
    ] {
        assert_eq!(
            code(map_h("PUT", "/bkt/k", &[(h, "1")], b"")),
            "NotImplemented",
            "{h}"
        );
    }
    // Header names are case-insensitive, as in HTTP.
    let a = map_h("PUT", "/bkt/k", &[("X-AMZ-ACL", "public-read")], b"").unwrap();
    assert_eq!(a[1].action, "s3:PutObjectAcl");
}

#[test]
fn permission_bearing_headers_twice_are_refused() {
    for h in [
        "x-amz-acl",
        "x-amz-tagging",
        "x-amz-server-side-encryption",
        "x-amz-copy-source",
    ] {
        let r = map_h("PUT", "/bkt/k", &[(h, "a/b"), (h, "c/d")], b"");
        assert_eq!(code(r), "InvalidArgument", "{h}");
    }
}

// ---- copy source ---------------------------------------------------------------------

#[test]
fn copy_source_reads_exactly_the_source() {
    let a = map_h(
        "PUT",
        "/bkt/dst",
        &[("x-amz-copy-source", "/src/a%2Fb%3Fc?versionId=v1")],
        b"",
    )
    .unwrap();
    assert_eq!(
        pairs(&a),
        [
            "s3:GetObjectVersion arn:aws:s3:::src/a/b?c",
            "s3:PutObject arn:aws:s3:::bkt/dst"
        ]
    );
    // The condition key's value is in doubt (encoded, with a version): undetermined.
    assert!(is_undetermined(&a[1].undetermined, "s3:x-amz-copy-source"));
}

#[test]
fn copy_source_attacks_are_refused() {
    for src in [
        // `..` would read another object on a file-system-backed server.
        "src/reports/../secret",
        "src/reports/%2E%2E/secret",
        // No bucket, or no key.
        "/secret",
        "secret",
        "src/",
        "//src/k",
        // `+` space or plus?
        "src/a+b",
        // Not a version query.
        "src/k?versionId=",
        "src/k?versionid=1",
        "src/k?versionId=1&partNumber=2",
        // Bucket rules apply.
        "SRC/k",
        "s%72c/k",
    ] {
        let r = map_h("PUT", "/bkt/dst", &[("x-amz-copy-source", src)], b"");
        assert!(r.is_err(), "{src}: {r:?}");
    }
    // Access point ARNs are not implemented.
    let r = map_h(
        "PUT",
        "/bkt/dst",
        &[(
            "x-amz-copy-source",
            "arn:aws:s3:us-east-1:111122223333:accesspoint/ap/object/k",
        )],
        b"",
    );
    assert_eq!(code(r), "NotImplemented");
    // A copy source on an operation that takes none is not silently ignored.
    let r = map_h("GET", "/bkt/k", &[("x-amz-copy-source", "src/k")], b"");
    assert_eq!(code(r), "InvalidRequest");
    let r = map_h(
        "POST",
        "/bkt/k?uploads",
        &[("x-amz-copy-source", "src/k")],
        b"",
    );
    assert_eq!(code(r), "InvalidRequest");
}

#[test]
fn copied_tags_need_replace() {
    // With the default COPY directive S3 copies the source's tags and ignores
    // x-amz-tagging: which tags land is not what the header says. Refused.
    let r = map_h(
        "PUT",
        "/bkt/dst",
        &[("x-amz-copy-source", "src/k"), ("x-amz-tagging", "a=1")],
        b"",
    );
    assert_eq!(code(r), "InvalidArgument");
}

// ---- DeleteObjects bodies ------------------------------------------------------------

fn delete(body: &str) -> Result<Vec<Authorization>, S3Error> {
    map_h("POST", "/bkt?delete", &[], body.as_bytes())
}

#[test]
fn delete_xml_with_a_dtd_or_entities_is_refused() {
    // A DTD could define entities one parser expands and another does not.
    for body in [
        "<!DOCTYPE Delete [<!ENTITY k \"secret\">]><Delete><Object><Key>&k;</Key></Object></Delete>",
        "<!DOCTYPE Delete><Delete><Object><Key>a</Key></Object></Delete>",
        "<!doctype Delete><Delete><Object><Key>a</Key></Object></Delete>",
        "<Delete><Object><Key>&k;</Key></Object></Delete>",
    ] {
        assert_eq!(code(delete(body)), "MalformedXML", "{body}");
    }
    // XML's own escapes and character references are what every parser reads.
    assert_eq!(
        pairs(&delete("<Delete><Object><Key>a&amp;&#98;</Key></Object></Delete>").unwrap()),
        ["s3:DeleteObject arn:aws:s3:::bkt/a&b"]
    );
}

#[test]
fn delete_xml_namespaces() {
    // S3's namespace, default or prefixed, or none: S3's schema.
    for body in [
        "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Object><Key>a</Key></Object></Delete>",
        "<s:Delete xmlns:s=\"http://s3.amazonaws.com/doc/2006-03-01/\"><s:Object><s:Key>a</s:Key></s:Object></s:Delete>",
    ] {
        assert_eq!(
            pairs(&delete(body).unwrap()),
            ["s3:DeleteObject arn:aws:s3:::bkt/a"]
        );
    }
    // A foreign namespace, or a Key in one: not S3's element, not guessed.
    for body in [
        "<Delete xmlns=\"urn:other\"><Object><Key>a</Key></Object></Delete>",
        "<Delete xmlns:o=\"urn:other\"><Object><o:Key>a</o:Key></Object></Delete>",
        "<Delete><Object><Key xmlns=\"urn:other\">a</Key></Object></Delete>",
    ] {
        assert_eq!(code(delete(body)), "MalformedXML", "{body}");
    }
}

#[test]
fn delete_xml_cdata_comments_and_whitespace() {
    // CDATA is text: `<![CDATA[a<b]]>` is the key `a<b`.
    assert_eq!(
        pairs(&delete("<Delete><Object><Key><![CDATA[a<b]]></Key></Object></Delete>").unwrap()),
        ["s3:DeleteObject arn:aws:s3:::bkt/a<b"]
    );
    // A comment splitting a key: `ab` to one parser, `a` to another. Refused.
    assert_eq!(
        code(delete(
            "<Delete><Object><Key>a<!-- -->b</Key></Object></Delete>"
        )),
        "MalformedXML"
    );
    // Whitespace inside Key is part of the key, as S3 reads it.
    assert_eq!(
        pairs(&delete("<Delete>\n <Object> <Key> a </Key> </Object>\n</Delete>").unwrap()),
        ["s3:DeleteObject arn:aws:s3:::bkt/ a "]
    );
}

#[test]
fn delete_xml_duplicates_and_strays() {
    // Two Keys in one Object: which would S3 delete? Refused.
    assert_eq!(
        code(delete(
            "<Delete><Object><Key>a</Key><Key>b</Key></Object></Delete>"
        )),
        "MalformedXML"
    );
    // The same key in two Objects: deleted once, authorized once.
    assert_eq!(
        pairs(
            &delete("<Delete><Object><Key>a</Key></Object><Object><Key>a</Key></Object></Delete>")
                .unwrap()
        ),
        ["s3:DeleteObject arn:aws:s3:::bkt/a"]
    );
    for body in [
        "<Delete><Object><Key>a</Key></Object><Quiet>true</Quiet><Quiet>true</Quiet></Delete>",
        "<Delete><Object><Key>a</Key><VersionId>1</VersionId><VersionId>2</VersionId></Object></Delete>",
        "<Delete><Object/></Delete>",
        "<Delete><Object><Key>a</Key><Extra/></Object></Delete>",
        "<Delete><Object><Key>a</Key></Object><Object2/></Delete>",
        "<Delete><Object><Key>a</Key><Key2>b</Key2></Object></Delete>",
        "<Delete><Object><Key k=\"v\">a</Key></Object></Delete>",
        "<Other><Object><Key>a</Key></Object></Other>",
        "<Delete></Delete>",
        "",
        "<Delete><Object><Key>a</Key></Object>",
        "<Delete><Object><Key>a</Key></Object></Delete><Delete/>",
    ] {
        assert!(delete(body).is_err(), "{body}");
    }
}

#[test]
fn delete_xml_limits() {
    let objects = |n: usize| -> String {
        let mut s = String::from("<Delete>");
        for i in 0..n {
            s.push_str(&format!("<Object><Key>k{i}</Key></Object>"));
        }
        s.push_str("</Delete>");
        s
    };
    assert_eq!(delete(&objects(1000)).unwrap().len(), 1000);
    // S3 refuses more than 1000 keys with MalformedXML.
    assert_eq!(code(delete(&objects(1001))), "MalformedXML");
    // Over the body limit: refused before parsing.
    let huge = format!(
        "<Delete><Object><Key>a</Key></Object><!--{}--></Delete>",
        "x".repeat(MAX_DELETE_BODY)
    );
    assert_eq!(code(delete(&huge)), "MaxMessageLengthExceeded");
    // Keys follow the path's rules.
    let long = format!(
        "<Delete><Object><Key>{}</Key></Object></Delete>",
        "k".repeat(1025)
    );
    assert_eq!(code(delete(&long)), "KeyTooLongError");
    assert_eq!(
        code(delete(
            "<Delete><Object><Key>a/../b</Key></Object></Delete>"
        )),
        "InvalidArgument"
    );
    // Not UTF-8, or declared in another encoding.
    assert_eq!(
        code(map_h(
            "POST",
            "/bkt?delete",
            &[],
            b"<Delete><Object><Key>\xff</Key></Object></Delete>"
        )),
        "MalformedXML"
    );
    assert_eq!(
        code(delete(
            "<?xml version=\"1.0\" encoding=\"UTF-16\"?><Delete><Object><Key>a</Key></Object></Delete>"
        )),
        "MalformedXML"
    );
}

#[test]
fn delete_with_versions() {
    let a = delete("<Delete><Object><Key>a</Key><VersionId>v1</VersionId></Object><Object><Key>a</Key></Object></Delete>").unwrap();
    assert_eq!(
        pairs(&a),
        [
            "s3:DeleteObjectVersion arn:aws:s3:::bkt/a",
            "s3:DeleteObject arn:aws:s3:::bkt/a"
        ]
    );
    assert_eq!(a[0].context.get("s3:VersionId").unwrap().values(), ["v1"]);
}

// ---- tags ------------------------------------------------------------------------------

fn put_tagged(tagging: &str) -> Result<Vec<Authorization>, S3Error> {
    map_h("PUT", "/bkt/k", &[("x-amz-tagging", tagging)], b"")
}

#[test]
fn duplicate_tag_keys_are_refused_as_s3_does() {
    assert_eq!(code(put_tagged("a=1&a=2")), "InvalidTag");
    // Encoded, the same key.
    assert_eq!(code(put_tagged("a=1&%61=2")), "InvalidTag");
    let body = "<Tagging><TagSet><Tag><Key>a</Key><Value>1</Value></Tag><Tag><Key>a</Key><Value>2</Value></Tag></TagSet></Tagging>";
    assert_eq!(
        code(map_h("PUT", "/bkt/k?tagging", &[], body.as_bytes())),
        "InvalidTag"
    );
}

#[test]
fn tags_in_doubt_are_undetermined() {
    for t in ["a=b+c", "a=%zz", "a=%ff", "a=1&&b=2", "Env=1&env=2"] {
        let a = put_tagged(t).unwrap();
        assert!(
            is_undetermined(&a[0].undetermined, "s3:RequestObjectTag/a"),
            "{t}"
        );
        assert!(
            is_undetermined(&a[0].undetermined, "s3:RequestObjectTagKeys"),
            "{t}"
        );
        assert!(a[0].context.get("s3:RequestObjectTagKeys").is_none(), "{t}");
        // The tagging action is still asked for.
        assert_eq!(a[1].action, "s3:PutObjectTagging", "{t}");
    }
}

#[test]
fn tag_limits() {
    let eleven: Vec<String> = (0..11).map(|i| format!("k{i}=v")).collect();
    assert_eq!(code(put_tagged(&eleven.join("&"))), "BadRequest");
    assert_eq!(
        code(put_tagged(&format!("{}=v", "k".repeat(129)))),
        "InvalidTag"
    );
    assert_eq!(
        code(put_tagged(&format!("k={}", "v".repeat(257)))),
        "InvalidTag"
    );
}

#[test]
fn errors_render_as_s3_xml() {
    let e = map("GET", "/bkt/a/../b").unwrap_err();
    let xml = e.to_xml("/bkt/a/../b", "R1");
    assert!(xml.starts_with(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InvalidArgument</Code><Message>"
    ));
    assert!(xml.ends_with("<Resource>/bkt/a/../b</Resource><RequestId>R1</RequestId></Error>"));
    assert_eq!(e.status, 400);
}
