//! Shared helpers for irsa's tests: paths to fixtures and the shared conformance data.

use std::path::PathBuf;

/// The workspace root (the folder holding the top-level `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.ancestors().nth(2).map(PathBuf::from).unwrap_or(here)
}

/// Extra fixture folders named in the environment variable `var` (colon-separated).
pub fn extra_dirs(var: &str) -> Vec<PathBuf> {
    std::env::var(var)
        .map(|v| {
            v.split(':')
                .filter(|s| !s.is_empty())
                .map(PathBuf::from)
                .collect()
        })
        .unwrap_or_default()
}
