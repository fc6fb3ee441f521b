#!/usr/bin/env bash
# Installs what crates/irsa-gateway's tests and benchmark need:
#   - dynalite (npm, pinned by tools/dynalite/package-lock.json): the DynamoDB-compatible
#     upstream, into tools/dynalite/node_modules (in-memory store, no native build needed);
#   - boto3 (PyPI): reused from .cache/sts-clients/venv when scripts/deps/sts-clients.sh has
#     installed it, else installed into .cache/gateway/venv at the same pinned version.
# Idempotent. Without node/npm or python3 it fails, naming what is missing.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

# --- dynalite ---
if ! command -v npm >/dev/null 2>&1; then
  echo "gateway.sh: npm not found (install nodejs and npm)" >&2
  exit 1
fi
(cd "$root/tools/dynalite" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
node -e 'console.log("dynalite", require(process.argv[1]).version)' \
  "$root/tools/dynalite/node_modules/dynalite/package.json"

# --- boto3 ---
if ! command -v python3 >/dev/null 2>&1; then
  echo "gateway.sh: python3 not found" >&2
  exit 1
fi
sts_venv="$root/.cache/sts-clients/venv"
if [ -x "$sts_venv/bin/python" ] && "$sts_venv/bin/python" -c 'import boto3' 2>/dev/null; then
  echo "boto3: reusing $sts_venv"
else
  venv="$root/.cache/gateway/venv"
  if [ ! -x "$venv/bin/python" ]; then
    mkdir -p "$root/.cache/gateway"
    python3 -m venv "$venv"
  fi
  if ! "$venv/bin/python" -c 'import boto3' 2>/dev/null; then
    "$venv/bin/pip" install --disable-pip-version-check -q "boto3==1.44.8" "botocore==1.44.8"
  fi
  "$venv/bin/python" -c 'import boto3; print("boto3", boto3.__version__, "in", "'"$venv"'")'
fi
