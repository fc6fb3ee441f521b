//! `irsa_sts_core::Config::from_yaml` on arbitrary text (YAML, or JSON).
#![no_main]

use irsa_sts_core::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Config::from_yaml(text) {
        Ok(config) => {
            for p in &config.providers {
                assert!(config.provider(&p.issuer).is_some());
            }
            for (arn, role) in &config.roles {
                assert_eq!(arn, &role.arn);
                let _ = config.assumed_role_arn(&role.name, "s");
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
