#!/usr/bin/env bash
# The latency irsa gateway adds over calling its upstream (dynalite) directly, measured in
# the same run (see crates/irsa-gateway/benches/gateway.rs); prints a markdown table for
# docs/benchmarks.md ("Gateway"). Needs scripts/deps/gateway.sh.
# `scripts/bench-gateway.sh s3`: S3 through the gateway beside going direct to versitygw
# (crates/irsa-gateway/benches/s3.rs: 1 KiB GetObject latency, 1 GiB PUT and GET
# throughput; "Gateway: S3"). Needs scripts/deps/versitygw.sh.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
if [ "${1:-}" = s3 ]; then
  bash scripts/deps/versitygw.sh >/dev/null
  exec cargo bench -p irsa-gateway --bench s3
fi
bash scripts/deps/gateway.sh >/dev/null
cargo bench -p irsa-gateway --bench gateway
