//! Heap allocations and bytes of `Policy::parse` per policy of a benchmark case, counted by a
//! global allocator (stats_alloc), plus the bytes a parsed policy keeps:
//!
//! ```text
//! cargo run --release -p irsa-policy --example allocs [CASE]
//! ```
//!
//! For where the allocations come from, run the `profile` example under
//! `valgrind --tool=dhat`.

use irsa_policy::Policy;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use std::alloc::System;
use std::hint::black_box;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

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

fn texts(json: &str) -> Vec<String> {
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
}

fn main() {
    let only = std::env::args().nth(1);
    for (name, json) in CASES {
        if only.as_deref().is_some_and(|o| o != *name) {
            continue;
        }
        for (i, text) in texts(json).iter().enumerate() {
            // Warm up once so lazily initialised statics are not counted.
            black_box(Policy::parse(text).expect("policy parses"));
            let region = Region::new(GLOBAL);
            let parsed = Policy::parse(black_box(text)).expect("policy parses");
            let kept = region.change();
            drop(parsed);
            let all = region.change();
            let retained = (kept.bytes_allocated + kept.bytes_reallocated.max(0) as usize)
                .saturating_sub(kept.bytes_deallocated);
            println!(
                "{name} policy {i} ({} bytes of JSON): {} allocations, {} reallocations, {} bytes allocated; kept: {} allocations, {retained} bytes",
                text.len(),
                all.allocations,
                all.reallocations,
                all.bytes_allocated + all.bytes_reallocated.max(0) as usize,
                kept.allocations.saturating_sub(kept.deallocations),
            );
        }
    }
}
