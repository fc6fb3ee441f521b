//! The dependency rule of docs/architecture.md, checked on the resolved dependency graph
//! (`cargo metadata`, normal dependencies only, transitively):
//!
//! - L0 crates (the pure core) depend on no L1/L2/L3 crate and on no async runtime, HTTP
//!   stack or TLS stack;
//! - L1 crates depend on no L2/L3 crate; L2 servers never depend on each other;
//! - only the CLI (L3) depends on the servers.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;

const L0: &[&str] = &[
    "irsa-policy",
    "irsa-jose",
    "irsa-sigv4",
    "irsa-mutate",
    "irsa-sts-core",
    "irsa-dynamodb",
    "irsa-s3",
    "irsa-authz",
    "irsa-audit",
];
const L1: &[&str] = &["irsa-oidc", "irsa-server"];
const L2: &[&str] = &["irsa-webhook", "irsa-sts", "irsa-gateway", "irsa-agent"];
const L3: &[&str] = &["irsa-cli"];
/// Crates that do I/O; none may reach an L0 crate.
const IO_CRATES: &[&str] = &[
    "tokio",
    "mio",
    "hyper",
    "hyper-util",
    "axum",
    "reqwest",
    "rustls",
    "tokio-rustls",
    "kube",
    "kube-client",
    "socket2",
];

/// The host's target triple (`rustc -vV`).
fn host_triple() -> String {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(rustc)
        .arg("-vV")
        .output()
        .expect("rustc -vV runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("rustc -vV names the host")
        .trim()
        .to_owned()
}

/// Package name → names of its normal (non-dev, non-build) dependencies, for the host
/// platform: offline, a fresh machine holds only the host's packages (not, say, the
/// Windows-only ones), so the graph is filtered to the platform that was built.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let host = host_triple();
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--offline"])
        .args(["--filter-platform", &host])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).expect("cargo metadata is JSON");
    let names: BTreeMap<&str, &str> = meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    let mut g = BTreeMap::new();
    for node in meta["resolve"]["nodes"].as_array().expect("resolve nodes") {
        let name = names[node["id"].as_str().unwrap()].to_owned();
        let deps: BTreeSet<String> = node["deps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| {
                d["dep_kinds"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|k| k["kind"].is_null())
            })
            .map(|d| names[d["pkg"].as_str().unwrap()].to_owned())
            .collect();
        g.entry(name).or_insert_with(BTreeSet::new).extend(deps);
    }
    g
}

/// Every package `name` reaches through normal dependencies.
fn reach(g: &BTreeMap<String, BTreeSet<String>>, name: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![name.to_owned()];
    while let Some(n) = todo.pop() {
        for d in g.get(&n).into_iter().flatten() {
            if seen.insert(d.clone()) {
                todo.push(d.clone());
            }
        }
    }
    seen
}

#[test]
fn dependencies_point_down_only() {
    let g = graph();
    let mut broken = Vec::new();
    for krate in L0.iter().chain(L1).chain(L2).chain(L3) {
        assert!(g.contains_key(*krate), "{krate} is not in the workspace");
    }
    let forbidden = |from: &str, set: &[&str], why: &str, broken: &mut Vec<String>| {
        let r = reach(&g, from);
        for f in set {
            if *f != from && r.contains(*f) {
                broken.push(format!("{from} reaches {f}: {why}"));
            }
        }
    };
    for c in L0 {
        forbidden(c, L1, "L0 depends on L1", &mut broken);
        forbidden(c, L2, "L0 depends on a server", &mut broken);
        forbidden(c, L3, "L0 depends on the CLI", &mut broken);
        forbidden(c, IO_CRATES, "the pure core does no I/O", &mut broken);
    }
    for c in L1 {
        forbidden(c, L2, "L1 depends on a server", &mut broken);
        forbidden(c, L3, "L1 depends on the CLI", &mut broken);
    }
    for c in L2 {
        forbidden(c, L2, "servers never depend on each other", &mut broken);
        forbidden(c, L3, "a server depends on the CLI", &mut broken);
    }
    // Every workspace crate is placed in a layer (so a new crate cannot dodge the rule).
    let known: BTreeSet<&str> = L0.iter().chain(L1).chain(L2).chain(L3).copied().collect();
    for name in g.keys().filter(|n| n.starts_with("irsa-")) {
        if !known.contains(name.as_str()) && name != "irsa-test" && name != "irsa-e2e" {
            broken.push(format!("{name} is in no layer of docs/architecture.md"));
        }
    }
    assert!(
        broken.is_empty(),
        "dependency rule broken:\n{}",
        broken.join("\n")
    );
}

#[test]
fn the_rule_sees_a_violation() {
    // The check itself can fail: the CLI reaches tokio and every server.
    let g = graph();
    let r = reach(&g, "irsa-cli");
    assert!(
        r.contains("tokio") && L2.iter().all(|s| r.contains(*s)),
        "{r:?}"
    );
}
