//! `ConfigMapConfig::parse` (the `pod-identity-webhook` ConfigMap's `data.config`) and
//! `ContainerCredentialsConfig::parse` (the container-credentials file) on arbitrary text;
//! parsed entries must be found again by their own keys, and `resolve` must not panic.
#![no_main]

use irsa_mutate::{
    ConfigMapConfig, ContainerCredentialsConfig, Lookup, Settings, mutate, parse_go_bool, resolve,
    role_arn_looks_valid,
};
use libfuzzer_sys::fuzz_target;
use serde_json::json;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = (parse_go_bool(text), role_arn_looks_valid(text));
    let settings = Settings::default();
    let pod =
        json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x"}]}});
    let cm = ConfigMapConfig::parse(text);
    let cc = ContainerCredentialsConfig::parse(text);
    if let Ok(cm) = &cm {
        assert_eq!(cm.len(), cm.iter().count());
        for ((ns, name), entry) in cm.iter() {
            assert_eq!(cm.get(ns, name), Some(entry), "entry not found by its key");
            assert!(cm.lookup(ns, name).is_some());
            let d = resolve(
                &Lookup {
                    namespace: ns,
                    service_account: name,
                    service_account_config: None,
                    config_map: Some(cm),
                    container_credentials: None,
                },
                &settings,
            );
            let mut rng = rand::rngs::mock::StepRng::new(1, 1);
            let _ = mutate(&pod, &d, &settings, &mut rng);
        }
    }
    if let Ok(cc) = &cc {
        assert_eq!(cc.len(), cc.identities().count());
        for id in cc.identities() {
            assert!(
                cc.contains(&id.namespace, &id.service_account),
                "identity not found"
            );
            let d = resolve(
                &Lookup {
                    namespace: &id.namespace,
                    service_account: &id.service_account,
                    service_account_config: None,
                    config_map: cm.as_ref().ok(),
                    container_credentials: Some(cc),
                },
                &settings,
            );
            assert_eq!(d.method(), Some("container_credentials"), "{d:?}");
        }
    }
});
