#!/usr/bin/env bash
# The latency irsa gateway adds over calling its upstream (dynalite) directly, measured in
# the same run (see crates/irsa-gateway/benches/gateway.rs); prints a markdown table for
# docs/benchmarks.md ("Gateway"). Needs scripts/deps/gateway.sh.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/deps/gateway.sh >/dev/null
cargo bench -p irsa-gateway --bench gateway
