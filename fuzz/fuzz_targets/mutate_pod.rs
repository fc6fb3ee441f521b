//! `irsa_mutate::mutate` on arbitrary JSON pods (the bytes parsed as `serde_json::Value`
//! first), for an IRSA decision and a container-credentials decision, with the default
//! settings and with region/regional-STS settings.
//!
//! Invariants: no panic; a returned JSON Patch serialises, and applies cleanly (RFC 6902,
//! `json-patch` crate) to the pod it was computed for — the API server would reject the
//! admission response otherwise.
#![no_main]

use irsa_mutate::{
    ContainerCredentialsDecision, Decision, IrsaDecision, NoMutation, RegionDecision, Settings,
    mutate, pod_service_account,
};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn decisions() -> [Decision; 4] {
    [
        Decision::Irsa(IrsaDecision {
            role_arn: "arn:aws:iam::111122223333:role/app".into(),
            audience: "sts.amazonaws.com".into(),
            use_regional_sts: true,
            token_expiration: 86400,
            region: "us-west-2".into(),
            role_session_name: Some("pod-name".into()),
        }),
        Decision::ContainerCredentials(ContainerCredentialsDecision {
            use_regional_sts: false,
            token_expiration: 86400,
            region: String::new(),
        }),
        Decision::Region(RegionDecision {
            region: "eu-west-1".into(),
            reason: NoMutation::NoRoleArn,
        }),
        Decision::None(NoMutation::NoRoleArn),
    ]
}

fn settings() -> [Settings; 2] {
    let regional = Settings {
        aws_default_region: "us-west-2".into(),
        sts_regional_endpoint: true,
        token_expiration: 3600,
        ..Settings::default()
    };
    [Settings::default(), regional]
}

fuzz_target!(|data: &[u8]| {
    let Ok(pod) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let _ = pod_service_account(&pod);
    for settings in settings() {
        for decision in decisions() {
            let mut rng = rand::rngs::mock::StepRng::new(0x1234_5678, 0x9e37_79b9);
            let ops = match mutate(&pod, &decision, &settings, &mut rng) {
                Ok(Some(ops)) => ops,
                Ok(None) => {
                    assert!(
                        matches!(decision, Decision::None(_) | Decision::Region(_)),
                        "no patch for {decision:?}"
                    );
                    continue;
                }
                Err(e) => {
                    let _ = e.to_string();
                    continue;
                }
            };
            let bytes = serde_json::to_vec(&ops).expect("patch serialises");
            let patch: json_patch::Patch =
                serde_json::from_slice(&bytes).expect("patch is RFC 6902 JSON");
            let mut patched = pod.clone();
            if let Err(e) = json_patch::patch(&mut patched, &patch) {
                panic!(
                    "patch does not apply to its pod: {e}\npod: {pod}\npatch: {}",
                    String::from_utf8_lossy(&bytes)
                );
            }
        }
    }
});
