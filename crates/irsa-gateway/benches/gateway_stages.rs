//! Where the gateway's own CPU goes, without sockets or an upstream: a signed GetItem
//! driven through `router()` in-process up to the decision (a gateway without an upstream
//! answers `UpstreamNotConfigured` once the request is authorized), beside the pieces it is
//! made of (SigV4 verification, opening the session token, reading and mapping the request,
//! re-signing for the upstream with irsa-sigv4's signer and its key cache; a client's
//! signing with aws-sigv4 for comparison).
//!
//! Each stage also prints the heap allocations (`alloc` and `realloc` calls) it makes per
//! call, counted by a global allocator (stats_alloc).
//!
//! cargo bench -p irsa-gateway --bench gateway_stages -- [iterations=20000]

use std::alloc::System;
use std::time::{SystemTime, UNIX_EPOCH};

use irsa_gateway::{Gateway, Options, Snapshot};
use irsa_sts_core::{KeyRing, MasterKey, issue_credentials, open_session};
use irsa_test::bench::{iterations, time};
use irsa_test::net::{Bytes, Full};
use irsa_test::sigv4::{Keys, Payload, Signing, sign_request};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use tower::ServiceExt as _;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// [`time`], then the allocations of `calls` more calls of `f`, printed per call.
fn stage<T>(name: &str, n: u32, mut f: impl FnMut() -> T) -> f64 {
    let us = time(name, n, &mut f);
    let calls = (n / 10).max(1);
    let region = Region::new(GLOBAL);
    for _ in 0..calls {
        std::hint::black_box(f());
    }
    let stats = region.change();
    let per_call = (stats.allocations + stats.reallocations) as f64 / f64::from(calls);
    println!("{:<52} {per_call:>8.1} allocations", "");
    us
}

fn main() {
    let n = iterations(20_000);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let key = MasterKey::generate(&mut rand::rngs::OsRng);
    let ring = KeyRing::single(key.clone());
    let config = config();
    let claims =
        irsa_test::sts::session_claims("arn:aws:iam::111122223333:role/reader", now, now + 3600);
    let issued = issue_credentials(&ring, &claims, &mut rand::rngs::OsRng).unwrap();
    let keys = Keys {
        access_key_id: issued.access_key_id.clone(),
        secret_access_key: issued.secret_access_key.clone(),
        session_token: Some(issued.session_token.clone()),
    };
    // A key of one attribute: without an upstream (no `DescribeTable`) the gateway knows
    // `dynamodb:LeadingKeys` only from such a key.
    let body = br#"{"TableName":"Books","Key":{"Author":{"S":"Tolkien"}}}"#;
    let headers = [
        ("content-type", "application/x-amz-json-1.0"),
        ("x-amz-target", "DynamoDB_20120810.GetItem"),
    ];
    let signing = Signing::new(&keys, "us-east-1", "dynamodb", SystemTime::now());
    let request = || {
        sign_request(
            &signing,
            "POST",
            "http://127.0.0.1:8000/",
            &headers,
            Payload::Bytes(body),
            Full::new(Bytes::from_static(body)),
        )
    };

    stage("aws-sigv4: sign a GetItem (as a client signs)", n, request);
    let sign = resign(n, now, body);

    let gateway = Gateway::new(
        Snapshot::new(config, ring.clone()),
        None,
        Options::default(),
    );
    let router = irsa_gateway::router(gateway);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let requests: Vec<_> = (0..n + n / 5 + 1).map(|_| request()).collect();
    let mut requests = requests.into_iter();
    let whole = stage(
        "router.oneshot: verify, open, read, map, authorize",
        n,
        || {
            let mut req = requests.next().unwrap().map(axum::body::Body::new);
            // As a client sends it: the signed `host` header (the URI alone has it here).
            let host = req.uri().authority().unwrap().as_str().parse().unwrap();
            req.headers_mut().insert("host", host);
            let resp = rt.block_on(router.clone().oneshot(req)).unwrap();
            assert_eq!(
                resp.headers()
                    .get("x-amzn-errortype")
                    .map(|v| v.to_str().unwrap()),
                Some("UpstreamNotConfigured"),
                "answered at the decision, once authorized"
            );
            rt.block_on(axum::body::to_bytes(resp.into_body(), usize::MAX))
                .unwrap()
        },
    );
    let open = stage("open the session token (AES-GCM)", n, || {
        open_session(&ring, &issued.session_token, &issued.access_key_id, now).unwrap()
    });
    let op = irsa_dynamodb::Operation::from_target(Some("DynamoDB_20120810.GetItem")).unwrap();
    let scope = irsa_dynamodb::Scope {
        partition: "aws".into(),
        region: "us-east-1".into(),
        account: "111122223333".into(),
    };
    let map = stage("read + map the request (irsa-dynamodb)", n, || {
        let r = irsa_dynamodb::Request::parse(op, body).unwrap();
        r.authorizations(&scope, &irsa_dynamodb::Schemas::new())
            .unwrap()
    });
    println!(
        "re-signing (as the forward does) + decision path: {:.2} µs; open + map: {:.2} µs",
        sign + whole,
        open + map
    );
}

/// Re-signing a GetItem for the upstream as the gateway does: `irsa-sigv4`'s signer, the
/// signing key from a cache. Mean µs per call.
fn resign(n: u32, now: i64, body: &[u8]) -> f64 {
    let amz_date = irsa_sigv4::amz_date(now).unwrap();
    let upstream_headers: [(&str, &[u8]); 4] = [
        ("content-type", b"application/x-amz-json-1.0"),
        ("host", b"127.0.0.1:8000"),
        ("x-amz-date", amz_date.as_bytes()),
        ("x-amz-target", b"DynamoDB_20120810.GetItem"),
    ];
    let signer = irsa_sigv4::Signer {
        access_key_id: "AKIAUPSTREAMEXAMPLE1",
        secret_access_key: "upstream-secret",
        region: "us-east-1",
        service: "dynamodb",
        uri_encoding: irsa_sigv4::UriEncoding::Double,
    };
    let keys = irsa_sigv4::SigningKeyCache::default();
    stage(
        "irsa-sigv4: re-sign for the upstream (key cached)",
        n,
        || {
            let hash = hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, body));
            irsa_sigv4::authorization(
                &signer,
                "POST",
                "/",
                "",
                &upstream_headers,
                &hash,
                &amz_date,
                Some(&keys),
            )
            .unwrap()
        },
    )
}

/// A role that may read `Books` rows of `Tolkien` only.
fn config() -> irsa_sts_core::Config {
    irsa_sts_core::Config::from_yaml(
        r#"account: "111122223333"
region: us-east-1
roles:
  - name: reader
    trustPolicy: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {Federated: arn:aws:iam::111122223333:oidc-provider/oidc.example.test}, Action: sts:AssumeRoleWithWebIdentity}]}
    policies:
      read:
        Version: "2012-10-17"
        Statement:
          - {Effect: Allow, Action: [dynamodb:GetItem, dynamodb:Query], Resource: arn:aws:dynamodb:us-east-1:111122223333:table/Books,
             Condition: {"ForAllValues:StringEquals": {dynamodb:LeadingKeys: [Tolkien]}}}
          - {Effect: Deny, Action: "dynamodb:*", Resource: arn:aws:dynamodb:us-east-1:111122223333:table/Secrets}
"#,
    )
    .unwrap()
}
