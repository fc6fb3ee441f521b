//! Policy engine benchmarks. The cases are `benches/cases/*.json`, in the `irsa policy eval`
//! input shape, so `scripts/bench-policy.sh` can time iam-simulate on the same decisions.
//!
//! - `parse/<case>`: `Policy::parse` of the case's policy documents.
//! - `evaluate/<case>`: one decision over already parsed policies (the hot path of STS and
//!   the gateway, which parse a role's policies once).
//! - `decide/<case>`: the decision alone over already parsed policies (`decide`, every kind
//!   of policy: no allocation).
//! - `decide_trust/<case>`: for the cases with a trust policy, the trust decision STS makes
//!   for `AssumeRoleWithWebIdentity` (`decide_trust`: the trust policy alone, no
//!   allocation).
//! - `parse_decide/<case>`: parse and validate the case's policy documents from JSON text,
//!   then decide (the request already built).
//! - `parse_evaluate/<case>`: parse the whole eval document (request, context and policies),
//!   then evaluate (what iam-simulate's `runSimulation` does on every call).
//! - `json_floor/<case>`: serde_json reading the policy texts into nothing, the floor for
//!   any parser built on it.

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use irsa_policy::{Decision, EvalDocument, EvalInput, Policy, decide, decide_trust, evaluate};

const CASES: &[(&str, &str, Decision)] = &[
    (
        "permissions-10",
        include_str!("cases/permissions-10.json"),
        Decision::Allow,
    ),
    (
        "trust-cognito",
        include_str!("cases/trust-cognito.json"),
        Decision::Allow,
    ),
    (
        "trust-irsa",
        include_str!("cases/trust-irsa.json"),
        Decision::Allow,
    ),
];

/// The policy documents of a case, as JSON text.
fn policy_texts(case: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(case).unwrap();
    let mut out = Vec::new();
    for field in [
        "identityPolicies",
        "permissionBoundaries",
        "sessionPolicies",
    ] {
        for p in v[field].as_array().into_iter().flatten() {
            out.push(p.to_string());
        }
    }
    if let Some(p) = v.get("resourcePolicy") {
        out.push(p.to_string());
    }
    out
}

fn bench(c: &mut Criterion) {
    // The floor: serde_json reading the same policy text into nothing (IgnoredAny).
    let mut floor = c.benchmark_group("json_floor");
    for (name, json, _) in CASES {
        let texts = policy_texts(json);
        floor.bench_function(*name, |b| {
            b.iter(|| {
                for t in &texts {
                    black_box(serde_json::from_str::<serde::de::IgnoredAny>(black_box(t)).unwrap());
                }
            })
        });
    }
    floor.finish();

    let mut parse = c.benchmark_group("parse");
    for (name, json, _) in CASES {
        let texts = policy_texts(json);
        parse.bench_function(*name, |b| {
            b.iter(|| {
                for t in &texts {
                    black_box(Policy::parse(black_box(t)).unwrap());
                }
            })
        });
    }
    parse.finish();

    let mut eval = c.benchmark_group("evaluate");
    for (name, json, expected) in CASES {
        let doc = EvalDocument::parse(json).unwrap();
        let input: EvalInput<'_> = doc.input();
        assert_eq!(evaluate(&input, &doc.request).decision, *expected, "{name}");
        eval.bench_function(*name, |b| {
            b.iter(|| black_box(evaluate(black_box(&input), black_box(&doc.request))))
        });
    }
    eval.finish();

    let mut dec = c.benchmark_group("decide");
    for (name, json, expected) in CASES {
        let doc = EvalDocument::parse(json).unwrap();
        let input: EvalInput<'_> = doc.input();
        assert_eq!(decide(&input, &doc.request), *expected, "{name}");
        dec.bench_function(*name, |b| {
            b.iter(|| black_box(decide(black_box(&input), black_box(&doc.request))))
        });
    }
    dec.finish();

    let mut trust = c.benchmark_group("decide_trust");
    for (name, json, expected) in CASES {
        let doc = EvalDocument::parse(json).unwrap();
        let Some(policy) = &doc.resource_policy else {
            continue;
        };
        assert_eq!(decide_trust(policy, &doc.request), *expected, "{name}");
        trust.bench_function(*name, |b| {
            b.iter(|| black_box(decide_trust(black_box(policy), black_box(&doc.request))))
        });
    }
    trust.finish();

    let mut pd = c.benchmark_group("parse_decide");
    for (name, json, expected) in CASES {
        let doc = EvalDocument::parse(json).unwrap();
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        let text = |f: &str| -> Vec<String> {
            v[f].as_array()
                .into_iter()
                .flatten()
                .map(|p| p.to_string())
                .collect()
        };
        let (ids, bounds, sessions) = (
            text("identityPolicies"),
            text("permissionBoundaries"),
            text("sessionPolicies"),
        );
        let resource = v.get("resourcePolicy").map(|p| p.to_string());
        let parse_all = |ts: &[String]| -> Vec<Policy> {
            ts.iter().map(|t| Policy::parse(t).unwrap()).collect()
        };
        let run = || {
            let i = parse_all(&ids);
            let b = parse_all(&bounds);
            let s = parse_all(&sessions);
            let r = resource.as_deref().map(|t| Policy::parse(t).unwrap());
            let input = EvalInput {
                identity_policies: &i,
                resource_policy: r.as_ref(),
                permission_boundaries: &b,
                session_policies: &s,
            };
            decide(&input, &doc.request)
        };
        assert_eq!(run(), *expected, "{name}");
        pd.bench_function(*name, |b| b.iter(|| black_box(run())));
    }
    pd.finish();

    let mut both = c.benchmark_group("parse_evaluate");
    for (name, json, _) in CASES {
        both.bench_function(*name, |b| {
            b.iter(|| black_box(EvalDocument::parse(black_box(json)).unwrap().evaluate()))
        });
    }
    both.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
