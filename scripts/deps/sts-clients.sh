#!/usr/bin/env bash
# Installs the real AWS SDK clients that irsa-sts's integration tests (crates/irsa-sts/tests)
# drive against `irsa sts`:
#   - Python: boto3 + awscli (+ moto's server for the benchmark) into .cache/sts-clients/venv,
#     pinned by tools/sdk-python/requirements.txt;
#   - JavaScript: @aws-sdk/client-sts + @aws-sdk/credential-providers (and @aws-sdk/client-s3 +
#     @aws-sdk/lib-storage for the gateway's S3 tests) into tools/sdk-js/node_modules,
#     pinned by tools/sdk-js/package-lock.json (npm ci);
#   - Go: aws-sdk-go-v2 (config, credentials/stscreds, service/sts; service/s3 and
#     feature/s3/manager for the gateway's S3 tests) into the module cache, pinned by
#     tools/sdk-go/go.sum, built to .cache/sts-clients/sdk-go-client and sdk-go-s3-client.
# Idempotent. Sections whose toolchain (python3, node/npm, go) is missing are reported and skipped;
# the tests then fail naming this script unless IRSA_SKIP_EXTERNAL=1 (or true).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cache="$root/.cache/sts-clients"
mkdir -p "$cache"

# --- Python: boto3, awscli, moto[server] ---
if command -v python3 >/dev/null 2>&1; then
  venv="$cache/venv"
  req="$root/tools/sdk-python/requirements.txt"
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
  fi
  stamp="$venv/.requirements.sha256"
  want="$(sha256sum "$req" | cut -d' ' -f1)"
  if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
    "$venv/bin/pip" install --disable-pip-version-check -q -r "$req"
    echo "$want" > "$stamp"
  fi
  "$venv/bin/python" -c 'import boto3, botocore; print("boto3", boto3.__version__, "botocore", botocore.__version__)'
  "$venv/bin/aws" --version
else
  echo "sts-clients.sh: python3 not found; skipping boto3/awscli" >&2
fi

# --- JavaScript: AWS SDK v3 ---
if command -v npm >/dev/null 2>&1; then
  (cd "$root/tools/sdk-js" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  echo "sdk-js installed in tools/sdk-js/node_modules"
else
  echo "sts-clients.sh: npm not found; skipping the JavaScript SDK" >&2
fi

# --- Go: aws-sdk-go-v2 ---
if command -v go >/dev/null 2>&1; then
  (cd "$root/tools/sdk-go" && GOFLAGS=-mod=mod go build -o "$cache/sdk-go-client" .)
  echo "sdk-go client built at .cache/sts-clients/sdk-go-client"
  (cd "$root/tools/sdk-go" && GOFLAGS=-mod=mod go build -o "$cache/sdk-go-s3-client" ./s3client)
  echo "sdk-go S3 client built at .cache/sts-clients/sdk-go-s3-client"
else
  echo "sts-clients.sh: go not found; skipping aws-sdk-go-v2" >&2
fi
