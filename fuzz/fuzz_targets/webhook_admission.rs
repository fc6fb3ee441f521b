//! The webhook's request path without HTTP: `irsa_webhook::decode_admission_review` of an
//! AdmissionReview body, then (as the server does) `Pod::from_raw` → `service_account` →
//! `resolve` (every ServiceAccount annotated with a role ARN; namespace `cc` in
//! container-credentials mode) → `mutate_pod` → the AdmissionResponse (`allowed` with the
//! base64 patch, or `denied`).
//!
//! Invariants: no panic; a patch applies cleanly to the pod; responses echo the uid.
#![no_main]

use std::collections::BTreeMap;
use std::sync::OnceLock;

use irsa_mutate::{
    ContainerCredentialsConfig, Lookup, Pod, ServiceAccountConfig, Settings, mutate_pod, resolve,
};
use irsa_webhook::{admission_allowed, admission_denied, decode_admission_review};
use libfuzzer_sys::fuzz_target;

struct Fixed {
    settings: Settings,
    sa: ServiceAccountConfig,
    cc: ContainerCredentialsConfig,
}

fn fixed() -> &'static Fixed {
    static F: OnceLock<Fixed> = OnceLock::new();
    F.get_or_init(|| {
        let settings = Settings::default();
        let mut ann = BTreeMap::new();
        ann.insert(settings.annotation("role-arn"), "arn:aws:iam::111122223333:role/app".to_owned());
        ann.insert(settings.annotation("sts-regional-endpoints"), "true".to_owned());
        let sa = ServiceAccountConfig::from_annotations(&ann, &settings);
        let cc = ContainerCredentialsConfig::parse(
            r#"{"identities":[{"namespace":"cc","serviceAccount":"default"},{"namespace":"cc","serviceAccount":"app"}]}"#,
        )
        .expect("container credentials config");
        Fixed { settings, sa, cc }
    })
}

fn uid_of(resp: &[u8]) -> String {
    let v: serde_json::Value = serde_json::from_slice(resp).expect("the response is JSON");
    v["response"]["uid"].as_str().expect("uid").to_owned()
}

fuzz_target!(|data: &[u8]| {
    let f = fixed();
    let review = match decode_admission_review(data) {
        Ok(r) => r,
        Err((env, e)) => {
            let resp = admission_denied(&env, 400, &e.to_string());
            assert_eq!(uid_of(&resp), env.uid);
            return;
        }
    };
    let env = review.envelope();
    let pod = match Pod::from_raw(review.object) {
        Ok(p) => p,
        Err(e) => {
            let resp = admission_denied(&env, 400, &e.to_string());
            assert_eq!(uid_of(&resp), review.uid);
            return;
        }
    };
    let sa_name = pod.service_account();
    let decision = resolve(
        &Lookup {
            namespace: &review.namespace,
            service_account: &sa_name,
            service_account_config: Some(&f.sa),
            config_map: None,
            container_credentials: Some(&f.cc),
        },
        &f.settings,
    );
    let mut rng = rand::rngs::mock::StepRng::new(42, 1);
    let resp = match mutate_pod(&pod, &decision, &f.settings, &mut rng) {
        Ok(Some(patch_text)) => {
            let patch: json_patch::Patch =
                serde_json::from_str(&patch_text).expect("the patch is RFC 6902 JSON");
            let mut doc: serde_json::Value =
                serde_json::from_str(review.object.get()).expect("the pod is JSON");
            if let Err(e) = json_patch::patch(&mut doc, &patch) {
                panic!(
                    "patch does not apply: {e}\npod: {}\npatch: {patch_text}",
                    review.object.get()
                );
            }
            admission_allowed(&env, Some(patch_text.as_bytes()))
        }
        Ok(None) => admission_allowed(&env, None),
        Err(e) => admission_denied(&env, 400, &e.to_string()),
    };
    assert_eq!(uid_of(&resp), review.uid);
});
