//! The evaluation path allocates nothing: a counting global allocator (stats_alloc) around
//! `decide` and `decide_trust` on parsed policies, for the benchmark cases and a resource
//! policy combining every kind of policy. Its own binary (no test harness), so nothing
//! else allocates while it counts.

use irsa_policy::EvalDocument;
use irsa_policy::{Decision, EvalInput, Policy, Request, decide, decide_trust};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use std::alloc::System;
use std::hint::black_box;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Allocations made by `f` run `n` times (after one warm-up call).
fn allocations(n: usize, mut f: impl FnMut() -> Decision) -> usize {
    black_box(f());
    let region = Region::new(GLOBAL);
    for _ in 0..n {
        black_box(f());
    }
    let stats = region.change();
    stats.allocations + stats.reallocations
}

fn main() {
    let mut failures = 0;
    for (name, json) in [
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
    ] {
        // Memory of the parsed policies: bytes still allocated after parsing (reported).
        let texts: Vec<String> = {
            let v: serde_json::Value = serde_json::from_str(json).expect("case is JSON");
            [
                "identityPolicies",
                "permissionBoundaries",
                "sessionPolicies",
            ]
            .iter()
            .flat_map(|f| v[*f].as_array().cloned().unwrap_or_default())
            .chain(v.get("resourcePolicy").cloned())
            .map(|p| p.to_string())
            .collect()
        };
        let region = Region::new(GLOBAL);
        let parsed: Vec<Policy> = texts
            .iter()
            .map(|t| Policy::parse(t).expect("policy parses"))
            .collect();
        let st = region.change();
        let retained = (st.bytes_allocated + st.bytes_reallocated.max(0) as usize)
            .saturating_sub(st.bytes_deallocated);
        let text_len: usize = texts.iter().map(String::len).sum();
        println!(
            "memory {name}: {} policies, {text_len} bytes of JSON, {retained} bytes on the heap after parsing, {} live allocations",
            parsed.len(),
            st.allocations.saturating_sub(st.deallocations),
        );
        drop(parsed);
        let doc = EvalDocument::parse(json).expect("case parses");
        let input = doc.input();
        let n = allocations(1000, || decide(&input, &doc.request));
        println!("decide {name}: {n} allocations in 1000 decisions");
        failures += usize::from(n != 0);
        if let Some(trust) = &doc.resource_policy {
            let n = allocations(1000, || decide_trust(trust, &doc.request));
            println!("decide_trust {name}: {n} allocations in 1000 decisions");
            failures += usize::from(n != 0);
        }
    }
    // Every kind of policy at once: identity, a bucket policy naming the role, boundary and
    // session policies, conditions of several families.
    let p = |s: &str| Policy::parse(s).expect("policy parses");
    let ids = [p(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:Get*","s3:List*"],"Resource":"arn:aws:s3:::bucket/*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"},"Bool":{"aws:SecureTransport":"true"}}},{"Effect":"Deny","Action":"s3:Delete*","Resource":"*"}]}"#,
    )];
    let bucket = p(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/app"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket/*","Condition":{"StringLike":{"s3:prefix":["home/*"]},"NumericLessThan":{"s3:max-keys":"100"}}}]}"#,
    );
    let boundary = [p(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}}}"#,
    )];
    let session = [p(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket/home/*"}}"#,
    )];
    let req = Request::new("s3:GetObject", "arn:aws:s3:::bucket/home/a.txt")
        .with_principal("arn:aws:sts::111122223333:assumed-role/app/s1")
        .with_context(
            irsa_policy::Context::new()
                .with("aws:SourceIp", "10.1.2.3")
                .with("aws:SecureTransport", "true")
                .with("s3:prefix", "home/a")
                .with("s3:max-keys", "10")
                .with("aws:CurrentTime", "2025-06-01T00:00:00Z"),
        );
    let input = EvalInput::identity(&ids)
        .with_resource_policy(&bucket)
        .with_boundaries(&boundary)
        .with_session_policies(&session);
    let d = decide(&input, &req);
    println!("combined decision: {d}");
    failures += usize::from(d != Decision::Allow);
    let n = allocations(1000, || decide(&input, &req));
    println!("decide combined: {n} allocations in 1000 decisions");
    failures += usize::from(n != 0);
    if failures > 0 {
        eprintln!("{failures} check(s) failed");
        std::process::exit(1);
    }
}
