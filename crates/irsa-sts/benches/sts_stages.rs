//! Where one AssumeRoleWithWebIdentity's CPU goes outside HTTP, stage by stage, in one
//! thread (no I/O): form decoding, request decoding, preparation (session policies, issuer),
//! verification + trust policy + credentials, XML encoding; beside the bare RS256 verify.
//!
//! cargo bench -p irsa-sts --bench sts_stages -- [iterations=20000]

use irsa_jose::{Algorithm, Jwks, PreparedJwks, SigningKey, Validation};
use irsa_sts_core::{
    Config, KeyRing, MasterKey, Params, RequestContext, StsRequest, assume_prepared,
    assume_role_with_web_identity_response, decode_sts_request, prepare_assume_role, request_id,
};
use irsa_test::bench::{form_encode, iterations, time};
use serde_json::{Map, Value, json};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use std::alloc::System;
use std::time::{SystemTime, UNIX_EPOCH};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// [`time`], then the allocations (and reallocations) of one more call.
fn stage<T>(name: &str, n: u32, mut f: impl FnMut() -> T) -> f64 {
    let us = time(name, n, &mut f);
    let region = Region::new(GLOBAL);
    let out = f();
    let c = region.change();
    drop(out);
    let allocs = c.allocations + c.reallocations;
    println!("{:<52} {allocs:>8} allocations", "");
    us
}

const ISS: &str = "https://oidc.example.test/id/ABC";

fn main() {
    let n = iterations(20_000);
    let key = SigningKey::generate(Algorithm::RS256).unwrap();
    let jwks = Jwks {
        keys: vec![key.public_jwk().unwrap()],
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let claims: Map<String, Value> =
        json!({"iss": ISS, "sub": "system:serviceaccount:default:reader",
        "aud": ["sts.amazonaws.com"], "iat": now, "exp": now + 3600})
        .as_object()
        .unwrap()
        .clone();
    let token = key.sign_jwt(&Map::new(), &claims).unwrap();
    let body = format!(
        "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn={}&RoleSessionName=bench&WebIdentityToken={}",
        form_encode("arn:aws:iam::111122223333:role/reader"),
        form_encode(&token)
    );
    let config = Config::from_yaml(&config_yaml()).unwrap();
    let prepared_keys = PreparedJwks::new(&jwks);
    let ring = KeyRing::single(MasterKey::generate(&mut rand::rngs::OsRng));
    let ctx = RequestContext {
        now,
        source_ip: Some("127.0.0.1".into()),
        secure_transport: false,
    };
    let auds = vec!["sts.amazonaws.com".to_owned()];

    let verify = stage("RS256 verify_prepared (whole token)", n, || {
        irsa_jose::verify_prepared(&token, &prepared_keys, &Validation::new(ISS, &auds, now))
            .unwrap()
    });
    let form = stage("form body -> Params", n, || {
        Params::parse(None, body.as_bytes())
    });
    let params = Params::parse(None, body.as_bytes());
    let decode = stage("Params -> request", n, || {
        decode_sts_request(&params).unwrap()
    });
    let StsRequest::AssumeRoleWithWebIdentity(req) = decode_sts_request(&params).unwrap() else {
        unreachable!()
    };
    let prepare = stage("prepare (session policies, issuer)", n, || {
        prepare_assume_role(&req, &config).unwrap();
    });
    let mut rng = rand::rngs::OsRng;
    let assume = stage("assume_prepared (verify, trust, issue)", n, || {
        let p = prepare_assume_role(&req, &config).unwrap();
        assume_prepared(&req, &config, p, &prepared_keys, &ring, &ctx, &mut rng).unwrap()
    });
    let mut thread_rng = rand::thread_rng();
    let assume_trng = stage("assume_prepared with thread_rng", n, || {
        let p = prepare_assume_role(&req, &config).unwrap();
        assume_prepared(
            &req,
            &config,
            p,
            &prepared_keys,
            &ring,
            &ctx,
            &mut thread_rng,
        )
        .unwrap()
    });
    let p = prepare_assume_role(&req, &config).unwrap();
    let result = assume_prepared(&req, &config, p, &prepared_keys, &ring, &ctx, &mut rng).unwrap();
    let encode = stage("XML response", n, || {
        assume_role_with_web_identity_response(&result, "0f7a-request-id")
    });
    let rid = stage("request id (OsRng)", n, || {
        request_id(&mut rand::rngs::OsRng)
    });
    println!(
        "pure path total {:.2} µs, of which RS256 {verify:.2} µs; outside verification {:.2} µs (assume with thread_rng: {assume_trng:.2})",
        form + decode + assume + encode + rid,
        form + decode + assume + encode + rid - verify,
    );
    let _ = prepare;

    // The whole handler in-process (axum routing, limits middleware, body collection,
    // logging call sites, response building), without sockets.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("jwks.json"), jwks.to_json()).unwrap();
    let yaml = config_yaml();
    std::fs::write(dir.path().join("sts.yaml"), yaml).unwrap();
    let server =
        irsa_sts::Server::from_file(&dir.path().join("sts.yaml"), irsa_sts::Options::default())
            .unwrap();
    let router = irsa_sts::router(server);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let handler = stage("router.oneshot (whole handler, no sockets)", n, || {
        use tower::ServiceExt as _;
        let req = http::Request::post("/")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(axum::body::Body::from(body.clone()))
            .unwrap();
        let resp = rt.block_on(router.clone().oneshot(req)).unwrap();
        assert_eq!(resp.status(), 200);
        rt.block_on(axum::body::to_bytes(resp.into_body(), usize::MAX))
            .unwrap()
    });
    println!(
        "handler beyond the pure path: {:.2} µs",
        handler - (form + decode + assume + encode + rid)
    );
}

fn config_yaml() -> String {
    format!(
        r#"account: "111122223333"
region: us-east-1
providers:
  - issuer: {ISS}
    audiences: [sts.amazonaws.com]
    jwksFile: jwks.json
roles:
  - name: reader
    trustPolicy: {{Version: "2012-10-17", Statement: [{{Effect: Allow, Principal: {{Federated: "arn:aws:iam::111122223333:oidc-provider/oidc.example.test/id/ABC"}}, Action: "sts:AssumeRoleWithWebIdentity", Condition: {{StringEquals: {{"oidc.example.test/id/ABC:sub": "system:serviceaccount:default:reader"}}}}}}]}}
"#
    )
}
