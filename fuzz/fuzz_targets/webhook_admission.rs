//! The webhook's request path without HTTP: `irsa_webhook::admission::decode` of an
//! AdmissionReview body, then (as the server does) `pod_service_account` → `resolve`
//! (every ServiceAccount annotated with a role ARN; namespace `cc` in container-credentials
//! mode) → `mutate` → the AdmissionResponse (`allowed` with the base64 patch, or `denied`).
//!
//! Invariants: no panic; a patch applies cleanly to the pod; responses echo the uid.
#![no_main]

use std::collections::BTreeMap;
use std::sync::OnceLock;

use irsa_mutate::{
    ContainerCredentialsConfig, Lookup, ServiceAccountConfig, Settings, mutate,
    pod_service_account, resolve,
};
use irsa_webhook::admission::{allowed, decode, denied};
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

fuzz_target!(|data: &[u8]| {
    let f = fixed();
    let review = match decode(data) {
        Ok(r) => r,
        Err((env, e)) => {
            let resp = denied(&env, 400, &e.to_string());
            assert_eq!(resp["response"]["uid"], env.uid.as_str());
            return;
        }
    };
    let env = review.envelope();
    let sa_name = pod_service_account(&review.object);
    let decision = resolve(
        &Lookup {
            namespace: &review.namespace,
            service_account: sa_name,
            service_account_config: Some(&f.sa),
            config_map: None,
            container_credentials: Some(&f.cc),
        },
        &f.settings,
    );
    let mut rng = rand::rngs::mock::StepRng::new(42, 1);
    let resp = match mutate(&review.object, &decision, &f.settings, &mut rng) {
        Ok(Some(ops)) => {
            let bytes = serde_json::to_vec(&ops).expect("patch serialises");
            let patch: json_patch::Patch = serde_json::from_slice(&bytes).expect("RFC 6902");
            let mut pod = review.object.clone();
            if let Err(e) = json_patch::patch(&mut pod, &patch) {
                panic!(
                    "patch does not apply: {e}\npod: {}\npatch: {}",
                    review.object,
                    String::from_utf8_lossy(&bytes)
                );
            }
            allowed(&env, Some(&bytes))
        }
        Ok(None) => allowed(&env, None),
        Err(e) => denied(&env, 400, &e.to_string()),
    };
    assert_eq!(resp["response"]["uid"], review.uid.as_str());
});
