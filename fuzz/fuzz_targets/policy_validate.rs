//! `validate` for every policy kind. A policy valid for some kind must also pass
//! `Policy::parse` (validation only adds checks) and round-trip through `to_json`.
#![no_main]

use irsa_policy::{Policy, PolicyKind, validate};
use libfuzzer_sys::fuzz_target;

const KINDS: [PolicyKind; 4] = [
    PolicyKind::Identity,
    PolicyKind::Resource,
    PolicyKind::Trust,
    PolicyKind::Session,
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for kind in KINDS {
        match validate(text, kind) {
            Ok(policy) => {
                let parsed = match Policy::parse(text) {
                    Ok(p) => p,
                    Err(e) => {
                        panic!("valid as {kind:?} but Policy::parse fails: {e}\ninput: {text:?}")
                    }
                };
                assert_eq!(
                    policy.to_value(),
                    parsed.to_value(),
                    "validate and parse disagree ({kind:?})"
                );
                if let Err(e) = Policy::parse(&policy.to_json()) {
                    panic!("valid {kind:?} policy does not round-trip: {e}\ninput: {text:?}");
                }
            }
            Err(errors) => {
                assert!(
                    !errors.is_empty(),
                    "validate returned Err with no errors ({kind:?})"
                );
                for e in &errors {
                    let _ = (e.to_string(), irsa_sts_core::StsError::from(e).code());
                }
            }
        }
    }
});
