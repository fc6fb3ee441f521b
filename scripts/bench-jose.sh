#!/usr/bin/env bash
# JWT verification throughput (irsa-jose) beside aws-lc-rs's raw signature verification and
# `openssl speed` on the same machine, in the same run. Prints a Markdown table.
# Usage: scripts/bench-jose.sh [seconds-per-openssl-test (default 3)]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
secs="${1:-3}"

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
cargo bench -p irsa-jose --bench verify -- --noplot 2>&1 | tee "$log" >&2

# criterion prints "jwt/verify/RS256-2048" then a "thrpt: [lo mid hi]" line.
rate() {
  awk -v name="$1" '
    $0 ~ "^jwt/"name"$" || $1 == "jwt/"name { found=1 }
    found && /thrpt:/ { sub(/.*thrpt: *\[/, ""); split($0, a, " "); v=a[3]; u=a[4];
      if (u ~ /^Kelem/) v*=1000; if (u ~ /^Melem/) v*=1000000; printf "%.0f", v; exit }' "$log"
}

ossl="$(openssl speed -seconds "$secs" rsa2048 ecdsap256 2>/dev/null)"
ossl_rsa="$(echo "$ossl" | awk '$1=="rsa" && $2=="2048" {print $NF}' | tail -1)"
ossl_ec="$(echo "$ossl" | awk '$3=="ecdsa" && $4=="(nistp256)" {print $NF}' | tail -1)"

echo
echo "| verification | RS256 (RSA-2048) /s | ES256 (P-256) /s |"
echo "|---|---:|---:|"
echo "| irsa-jose \`verify\` (parse + key by kid + signature + claims) | $(rate verify/RS256-2048) | $(rate verify/ES256) |"
echo "| aws-lc-rs raw signature verify (pre-parsed key) | $(rate aws-lc-rs/RS256-2048) | $(rate aws-lc-rs/ES256) |"
echo "| \`openssl speed rsa2048 ecdsap256\` verify/s ($(openssl version | cut -d' ' -f1-2)) | ${ossl_rsa:-?} | ${ossl_ec:-?} |"
echo
echo "machine: $(nproc) cpu, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
