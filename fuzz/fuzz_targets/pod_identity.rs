//! The pure `AssumeRoleForPodIdentity` path on fuzzed input: `decode_pod_identity_request` of a
//! path and a JSON body → the token parsed → `assume_role_for_pod_identity` against a fixed
//! configuration (cluster `dev`, one association), the irsa-jose test JWKS and a fixed key
//! ring → the JSON answer or the error's JSON; and `pod_claims` of the body
//! read as a claims object (the checks that tie `sub` to the `kubernetes.io` claims).
//!
//! Input: `<path> 0x00 <body>`; without a 0x00 byte, the path is the operation's for
//! cluster `dev` and the whole input is the body.
#![no_main]

use std::sync::OnceLock;

use irsa_jose::PreparedJwks;
use irsa_sts_core::{
    Config, KeyRing, assume_role_for_pod_identity, decode_pod_identity_request,
    parse_pod_identity_token, pod_claims,
};
use libfuzzer_sys::fuzz_target;

include!("sts_common.rs");
include!("jose_common.rs");

const POD_CONFIG: &str = r#"
account: "111122223333"
region: us-east-1
clusters:
  - name: dev
    issuer: https://issuer.example.com
roles:
  - name: app
    trustPolicy:
      Version: "2012-10-17"
      Statement:
        - Effect: Allow
          Principal: {Service: pods.eks.amazonaws.com}
          Action: [sts:AssumeRole, sts:TagSession]
          Condition:
            StringEquals: {"aws:RequestTag/kubernetes-namespace": default}
podIdentityAssociations:
  - {cluster: dev, namespace: default, serviceAccount: app, roleArn: "arn:aws:iam::111122223333:role/app"}
"#;

struct Fixed {
    config: Config,
    keys: PreparedJwks,
    ring: KeyRing,
}

fn fixed() -> &'static Fixed {
    static F: OnceLock<Fixed> = OnceLock::new();
    F.get_or_init(|| Fixed {
        config: Config::from_yaml(POD_CONFIG).expect("fixed config"),
        keys: PreparedJwks::new(&fixture_jwks()),
        ring: sts_keyring(),
    })
}

fuzz_target!(|data: &[u8]| {
    let (path, body) = match data.iter().position(|&b| b == 0) {
        Some(i) => (
            String::from_utf8_lossy(&data[..i]).into_owned(),
            &data[i + 1..],
        ),
        None => (
            "/clusters/dev/assume-role-for-pod-identity".to_owned(),
            data,
        ),
    };
    let f = fixed();
    let result = decode_pod_identity_request("POST", &path, body).and_then(|req| {
        let token = parse_pod_identity_token(&req.token)?;
        let mut rng = rand::rngs::mock::StepRng::new(7, 11);
        assume_role_for_pod_identity(&req, token, &f.config, &f.keys, &f.ring, STS_NOW, &mut rng)
    });
    match result {
        Ok(r) => {
            // Only the associated ServiceAccount of namespace `default` gets credentials.
            assert_eq!(r.subject.namespace, "default");
            assert_eq!(r.subject.service_account, "app");
            let _ = r.to_json();
        }
        Err(e) => {
            assert!(
                (400..600).contains(&e.status()),
                "error status {}",
                e.status()
            );
            let v: serde_json::Value = serde_json::from_str(&e.to_json()).expect("error JSON");
            assert_eq!(v["__type"], e.code());
        }
    }
    if let Ok(serde_json::Value::Object(claims)) = serde_json::from_slice(body) {
        if let Ok(p) = pod_claims(&claims) {
            let sub = format!(
                "system:serviceaccount:{}:{}",
                p.namespace, p.service_account
            );
            assert_eq!(
                claims.get("sub").and_then(|s| s.as_str()),
                Some(sub.as_str())
            );
            assert!(!p.pod_name.is_empty() && !p.pod_uid.is_empty());
        }
    }
});
