//! `Policy::parse` on arbitrary text; a policy that parses must print as JSON that parses
//! back to the same policy (compared as JSON values), compact and pretty.
#![no_main]

use irsa_policy::{Policy, lint_trust};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(policy) = Policy::parse(text) else {
        return;
    };
    let value = policy.to_value();
    let compact = policy.to_json();
    let again = match Policy::parse(&compact) {
        Ok(p) => p,
        Err(e) => {
            panic!("to_json output does not parse back: {e}\ninput: {text:?}\nprinted: {compact}")
        }
    };
    assert_eq!(
        value,
        again.to_value(),
        "round trip changed the policy\ninput: {text:?}\nprinted: {compact}"
    );
    let pretty = policy.to_json_pretty();
    match Policy::parse(&pretty) {
        Ok(p) => assert_eq!(
            value,
            p.to_value(),
            "pretty round trip changed the policy\ninput: {text:?}"
        ),
        Err(e) => panic!("to_json_pretty output does not parse back: {e}\ninput: {text:?}"),
    }
    let _ = lint_trust(&policy);
});
