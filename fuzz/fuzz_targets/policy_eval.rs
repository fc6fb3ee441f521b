//! `EvalDocument::parse` (the `irsa policy eval` input) and evaluation:
//! must never panic, whatever the request and the policies.
#![no_main]

use irsa_policy::EvalDocument;
use irsa_policy::{Decision, evaluate_trust, lint_trust};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(doc) = EvalDocument::parse(text) else {
        return;
    };
    let evaluation = doc.evaluate();
    let _ = evaluation.to_value();
    if evaluation.decision == Decision::ImplicitDeny {
        assert!(
            evaluation.matched.is_empty(),
            "ImplicitDeny with matched statements"
        );
    }
    if let Some(resource) = &doc.resource_policy {
        let _ = evaluate_trust(resource, &doc.request).to_value();
        let _ = lint_trust(resource);
    }
});
