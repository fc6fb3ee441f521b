#!/usr/bin/env bash
# Policy engine benchmark: irsa-policy (criterion) and @cloud-copilot/iam-simulate (the oracle's
# bench mode) on the same decisions, in the same run, printed side by side. The cases are
# crates/irsa-policy/benches/cases/*.json (irsa eval input shape). Results go to docs/benchmarks.md
# by hand. Usage: scripts/bench-policy.sh [--quick]
#   --quick   short criterion measurement and fewer oracle iterations (smoke run)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
cases_dir="crates/irsa-policy/benches/cases"
oracle="tools/iam-simulate-oracle/oracle.mjs"

quick=0
[ "${1:-}" = "--quick" ] && quick=1

if [ ! -d tools/iam-simulate-oracle/node_modules/@cloud-copilot/iam-simulate ]; then
  echo "bench-policy.sh: the oracle is not installed; run scripts/deps/iam-simulate.sh" >&2
  exit 1
fi

target_dir="${CARGO_TARGET_DIR:-$root/target}"
crit_args=(--noplot)
iters=20000
if [ "$quick" = 1 ]; then
  crit_args+=(--warm-up-time 1 --measurement-time 2)
  iters=2000
fi

echo "== machine: $(nproc) cores, $(uname -srm); $(rustc --version); node $(node --version)"
echo "== irsa-policy: cargo bench -p irsa-policy --bench policy"
cargo bench -p irsa-policy --bench policy -- "${crit_args[@]}" 2>&1 \
  | grep -E '^(json_floor|parse|decide|decide_trust|parse_decide|evaluate|parse_evaluate)/|^ +time:' | sed -E 's/^ +time:/    time:/' || true

echo "== iam-simulate: node $oracle bench --iterations $iters"
oracle_out="$(for f in "$cases_dir"/*.json; do
  node -e 'process.stdout.write(JSON.stringify(JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")))+"\n")' "$f"
done | node "$oracle" bench --iterations "$iters")"

# Side-by-side table: criterion mean (ns) from target/criterion/<group>/<case>/new/estimates.json.
ORACLE_OUT="$oracle_out" TARGET_DIR="$target_dir" CASES_DIR="$cases_dir" node - <<'JS'
const fs = require('fs');
const path = require('path');
const crit = (group, name) => {
  const p = path.join(process.env.TARGET_DIR, 'criterion', group, name, 'new', 'estimates.json');
  try { return JSON.parse(fs.readFileSync(p, 'utf8')).mean.point_estimate; } catch { return undefined; }
};
const oracle = process.env.ORACLE_OUT.trim().split('\n').map((l) => JSON.parse(l));
const names = fs.readdirSync(process.env.CASES_DIR).filter((f) => f.endsWith('.json')).sort().map((f) => f.replace(/\.json$/, ''));
const fmt = (x) => (x === undefined ? 'n/a' : x >= 10000 ? `${(x / 1000).toFixed(1)} µs` : `${Math.round(x)} ns`);
console.log('');
console.log('| case | irsa decide (trust cases: decide_trust) | irsa evaluate | irsa parse+validate+decide | irsa parse document+evaluate | iam-simulate prevalidated | iam-simulate runSimulation | decision (iam-simulate) |');
console.log('|---|---|---|---|---|---|---|---|');
for (const [i, name] of names.entries()) {
  const o = (mode) => oracle.find((r) => r.case === i && r.mode === mode);
  // A trust case is decided as STS decides it: the trust policy alone (decide_trust).
  const dc = crit('decide_trust', name) ?? crit('decide', name);
  const ev = crit('evaluate', name);
  const pd = crit('parse_decide', name);
  const pe = crit('parse_evaluate', name);
  console.log(`| ${name} | ${fmt(dc)} | ${fmt(ev)} | ${fmt(pd)} | ${fmt(pe)} | ${fmt(o('prevalidated')?.ns_per_decision)} | ${fmt(o('runSimulation')?.ns_per_decision)} | ${o('runSimulation')?.decision} |`);
}
const full = names.filter((n) => crit('decide_trust', n) !== undefined).map((n) => `${n}: ${fmt(crit('decide', n))}`).join(', ');
console.log(`\nirsa decide (every kind of policy: the trust policy as a resource policy, plus the account check) on the trust cases: ${full}`);
const parse = names.map((n) => `${n}: ${fmt(crit('parse', n))}`).join(', ');
console.log(`\nirsa parse alone: ${parse}`);
const floor = names.map((n) => `${n}: ${fmt(crit('json_floor', n))}`).join(', ');
console.log(`serde_json floor (same policy text into IgnoredAny): ${floor}`);
JS
