#!/usr/bin/env bash
# Installs the differential-test oracle @cloud-copilot/iam-simulate (AGPL-3.0-or-later) into
# tools/iam-simulate-oracle/node_modules, pinned by tools/iam-simulate-oracle/package-lock.json.
# It is only installed and run as a separate process (oracle.mjs); irsa never copies or links it.
# Idempotent: does nothing when the pinned version is already installed.
# Needs node >= 18 and npm on PATH (Debian: apt-get install -y nodejs npm).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
dir="$root/tools/iam-simulate-oracle"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "iam-simulate.sh: node and npm are required (apt-get install -y nodejs npm)" >&2
  exit 1
fi

want="$(node -e 'const l=require(process.argv[1]);console.log(l.packages["node_modules/@cloud-copilot/iam-simulate"].version)' "$dir/package-lock.json")"
have="$(node -e 'try{console.log(require(process.argv[1]).version)}catch{console.log("")}' \
  "$dir/node_modules/@cloud-copilot/iam-simulate/package.json")"

if [ "$want" = "$have" ] && [ -f "$dir/node_modules/.package-lock.json" ] \
  && cmp -s <(node -e 'const l=require(process.argv[1]);console.log(JSON.stringify(Object.keys(l.packages).filter(k=>k).sort().map(k=>[k,l.packages[k].version])))' "$dir/package-lock.json") \
            <(node -e 'const l=require(process.argv[1]);console.log(JSON.stringify(Object.keys(l.packages).filter(k=>k).sort().map(k=>[k,l.packages[k].version])))' "$dir/node_modules/.package-lock.json"); then
  echo "iam-simulate $have already installed in $dir/node_modules"
  exit 0
fi

(cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund)
echo "installed iam-simulate $want in $dir/node_modules"
# Smoke test: one case through the oracle.
echo '{"request":{"action":"s3:GetObject","resource":"arn:aws:s3:::b/k","principal":"arn:aws:iam::111122223333:role/r","context":{}},"identityPolicies":[{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}]}' \
  | node "$dir/oracle.mjs" | grep -q '"decision":"Allow"'
