//! A driver for instruction-count profiling (valgrind --tool=callgrind), stable on a loaded
//! machine where wall-clock benchmarks are not:
//!
//! ```text
//! cargo build --profile bench -p irsa-policy --example profile
//! valgrind --tool=callgrind --toggle-collect='profile::parse_all' \
//!     target/release/examples/profile parse permissions-10 1000
//! ```
//!
//! Modes: `parse` (`Policy::parse` of every policy of the case), `decide` (the decision over
//! parsed policies, every kind of policy), `decide_trust` (the trust decision STS makes:
//! `decide_trust` over the case's resource policy), `decide_trust_typed` (the same with the
//! caller's principal type given, as STS gives it: `Federated` for a provider ARN, else as
//! inferred), `parse_decide` (parse, then `decide`, as
//! the `parse_decide` benchmark). Toggle `profile::decide_one` for `decide` and
//! `decide_trust`. The instruction count of the toggled function divided by the iteration
//! count is the per-call cost.

use irsa_policy::EvalDocument;
use irsa_policy::{Decision, EvalInput, Policy, Request, decide, decide_trust};
use std::hint::black_box;

const CASES: &[(&str, &str)] = &[
    (
        "permissions-10",
        include_str!("../benches/cases/permissions-10.json"),
    ),
    (
        "trust-cognito",
        include_str!("../benches/cases/trust-cognito.json"),
    ),
    (
        "trust-irsa",
        include_str!("../benches/cases/trust-irsa.json"),
    ),
];

struct Texts {
    identity: Vec<String>,
    boundaries: Vec<String>,
    sessions: Vec<String>,
    resource: Option<String>,
}

fn texts(json: &str) -> Texts {
    let v: serde_json::Value = serde_json::from_str(json).expect("case is JSON");
    let list = |f: &str| -> Vec<String> {
        v[f].as_array()
            .into_iter()
            .flatten()
            .map(|p| p.to_string())
            .collect()
    };
    Texts {
        identity: list("identityPolicies"),
        boundaries: list("permissionBoundaries"),
        sessions: list("sessionPolicies"),
        resource: v.get("resourcePolicy").map(|p| p.to_string()),
    }
}

#[inline(never)]
fn parse_all(t: &Texts) -> (Vec<Policy>, Vec<Policy>, Vec<Policy>, Option<Policy>) {
    let p = |ts: &[String]| -> Vec<Policy> {
        ts.iter()
            .map(|t| Policy::parse(black_box(t)).expect("policy parses"))
            .collect()
    };
    (
        p(&t.identity),
        p(&t.boundaries),
        p(&t.sessions),
        t.resource
            .as_deref()
            .map(|r| Policy::parse(black_box(r)).expect("policy parses")),
    )
}

#[inline(never)]
fn decide_one(input: &EvalInput<'_>, req: &Request, trust: bool) -> Decision {
    match (trust, input.resource_policy) {
        (true, Some(p)) => decide_trust(black_box(p), black_box(req)),
        _ => decide(black_box(input), black_box(req)),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (mode, case, n) = match args.as_slice() {
        [_, m, c, n] => (m.as_str(), c.as_str(), n.parse::<usize>().unwrap_or(1000)),
        _ => {
            eprintln!(
                "usage: profile parse|decide|decide_trust|decide_trust_typed|parse_decide CASE ITERATIONS"
            );
            std::process::exit(2);
        }
    };
    let Some((_, json)) = CASES.iter().find(|(name, _)| *name == case) else {
        eprintln!("unknown case {case}");
        std::process::exit(2);
    };
    let doc = EvalDocument::parse(json).expect("case parses");
    let t = texts(json);
    match mode {
        "parse" => {
            for _ in 0..n {
                black_box(parse_all(&t));
            }
        }
        "decide" | "decide_trust" | "decide_trust_typed" => {
            let input = doc.input();
            let trust = mode != "decide";
            let mut req = doc.request.clone();
            if mode == "decide_trust_typed" {
                req.principal_type = req.effective_principal_type();
            }
            for _ in 0..n {
                black_box(decide_one(&input, &req, trust));
            }
        }
        "parse_decide" => {
            for _ in 0..n {
                let (i, b, s, r) = parse_all(&t);
                let input = EvalInput {
                    identity_policies: &i,
                    resource_policy: r.as_ref(),
                    permission_boundaries: &b,
                    session_policies: &s,
                };
                black_box(decide_one(&input, &doc.request, false));
            }
        }
        _ => {
            eprintln!("unknown mode {mode}");
            std::process::exit(2);
        }
    }
}
