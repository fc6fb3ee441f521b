#!/usr/bin/env bash
# Side-by-side benchmark of `irsa webhook` and aws/amazon-eks-pod-identity-webhook (the Go
# original) against the same real kube-apiserver, with the same ServiceAccounts, TLS
# certificate, flags and load generator, alternately (Go, irsa, Go, irsa, …).
#
#   scripts/bench-webhook.sh [--sas 5000] [--big-sas 100000] [--rounds 2] [--big-rounds 2]
#                            [--seconds 8] [--probes 1500] [--keep]
#
# 1. Builds the Go webhook from the Go module proxy at $GO_WEBHOOK_VERSION (default
#    v0.6.17) into .cache/webhook-go/bin (skipped when that binary is already that
#    version), `irsa` (release) and the examples create_sas and admit_remote (release).
# 2. Starts etcd + kube-apiserver on 127.0.0.1 with e2e/kube-env/up.sh (torn down on any
#    exit, with both webhooks).
# 3. Creates --sas ServiceAccounts sa-0 … in namespace `bench`, annotated with
#    eks.amazonaws.com/role-arn, then --probes more (same annotation) in namespace
#    `zz-probe`, which the API server lists after every `bench` one (lists are in key
#    order).
# 4. Per round, each webhook in turn: start, wait until it is ready (below), idle RSS,
#    then admit_remote at concurrency 1, 8 and 32 for --seconds each (admissions/s,
#    p50/p99, server CPU per 1,000 admissions from /proc/PID/stat, RSS).
#    Ready: a pod under a zz-probe ServiceAccount is mutated, each attempt (every 20 ms,
#    a new connection) naming a probe ServiceAccount no earlier attempt of this process
#    named. Both run with --service-account-lookup-grace-period=0, so a miss is not
#    looked up while the review waits; the Go webhook still fetches a missed
#    ServiceAccount in the background, which would make a probe repeated under one name
#    succeed before its informer has listed everything (why the 100,000 phase once
#    failed: load began before the Go cache was complete). A fresh name can only be
#    mutated from the listed cache, and the list delivers zz-probe after every load
#    ServiceAccount. For irsa /readyz (cache synced) must be ok too; ready is the later.
# 5. Grows the ServiceAccounts to --big-sas; per big round, each webhook in turn: cold start
#    (process start → ready as in 4.), idle RSS, RSS under load (c=32).
# 6. Prints a markdown table (medians over rounds; every run's numbers above it) and how
#    busy the machine was: the load average before each run and the CPU time that
#    processes other than the server and the load generator used during the runs.
#
# Every wait is bounded; each load run stops after --seconds. Work files go to a temporary
# folder, removed at the end unless --keep.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
GO_WEBHOOK_VERSION=${GO_WEBHOOK_VERSION:-v0.6.17}
sas=5000 big_sas=100000 rounds=2 big_rounds=2 seconds=8 probes=1500 keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --sas) sas=$2; shift 2 ;;
    --big-sas) big_sas=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --big-rounds) big_rounds=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --probes) probes=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,40p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
target=${CARGO_TARGET_DIR:-$repo/target}
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# --- 1. builds --------------------------------------------------------------------------
gobin_dir="$repo/.cache/webhook-go/bin"
gobin="$gobin_dir/amazon-eks-pod-identity-webhook"
go_module=github.com/aws/amazon-eks-pod-identity-webhook
if ! { [ -x "$gobin" ] && go version -m "$gobin" 2>/dev/null \
        | grep -Eq "^[[:space:]]+mod[[:space:]]+$go_module[[:space:]]+$GO_WEBHOOK_VERSION[[:space:]]"; }; then
  echo "building $go_module@$GO_WEBHOOK_VERSION from the Go module proxy" >&2
  mkdir -p "$gobin_dir"
  GOBIN="$gobin_dir" CGO_ENABLED=0 GOFLAGS=-buildvcs=false \
    go install -trimpath "$go_module@$GO_WEBHOOK_VERSION"
fi
(cd "$repo" && cargo build --release -p irsa-cli \
  && cargo build --release -p irsa-webhook --example create_sas --example admit_remote)
irsa="$target/release/irsa"
create_sas="$target/release/examples/create_sas"
admit="$target/release/examples/admit_remote"

# --- 2. control plane, certificate, teardown ---------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/irsa-bench-webhook.XXXXXX")
webhook_pid=""
stop_webhook() {
  [ -n "$webhook_pid" ] || return 0
  kill -TERM "$webhook_pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$webhook_pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$webhook_pid" 2>/dev/null || true
  wait "$webhook_pid" 2>/dev/null || true
  webhook_pid=""
}
cleanup() {
  stop_webhook
  "$repo/e2e/kube-env/down.sh" "$work/kube" >/dev/null 2>&1 || true
  if [ "$keep" = 1 ]; then echo "work files kept in $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$repo/e2e/kube-env/up.sh" "$work/kube" >&2
# shellcheck disable=SC1091
. "$work/kube/env"

pki="$work/webhook-pki"
mkdir -p "$pki"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj "/CN=irsa-bench-webhook-ca" -keyout "$pki/ca.key" -out "$pki/ca.crt" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -subj "/CN=localhost" -keyout "$pki/tls.key" -out "$pki/tls.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' > "$pki/ext"
openssl x509 -req -in "$pki/tls.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
  -days 2 -extfile "$pki/ext" -out "$pki/tls.crt" 2>/dev/null

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# --- 3. ServiceAccounts -----------------------------------------------------------------
timeout 600 "$create_sas" --kubeconfig "$KUBECONFIG" --namespace bench --from 0 --to "$sas" >&2
timeout 600 "$create_sas" --kubeconfig "$KUBECONFIG" --namespace zz-probe --from 0 --to "$probes" >&2

# --- 4./5. runs -------------------------------------------------------------------------
results="$work/results"
: > "$results"
record() { echo "$*" >> "$results"; }   # impl phase round key value
kib() { awk -v k="$2:" '$1==k {print $2}' "/proc/$1/status"; }

# start_webhook IMPL LOG: starts it, sets webhook_pid and port; echoes the start time (ns)
start_webhook() {
  local impl=$1 log=$2
  port=$(free_port)
  local mport
  mport=$(free_port)
  metrics_port=$mport
  local common=(--in-cluster=false "--kubeconfig=$KUBECONFIG" "--tls-cert=$pki/tls.crt"
                "--tls-key=$pki/tls.key" "--port=$port" "--metrics-port=$mport"
                --service-account-lookup-grace-period=0)
  start_ns=$(date +%s%N)
  case "$impl" in
    go) "$gobin" "${common[@]}" > "$log" 2>&1 & ;;
    irsa) "$irsa" webhook "${common[@]}" --listen-address=127.0.0.1 > "$log" 2>&1 & ;;
  esac
  webhook_pid=$!
}

# wait_ready IMPL PHASE ROUND LIMIT_S: cold start = start → first mutation of a pod under a
# zz-probe ServiceAccount not probed before (see 4. above)
wait_ready() {
  local impl=$1 phase=$2 round=$3 limit=$4 out
  if ! out=$("$admit" --target "https://127.0.0.1:$port" --ca "$pki/ca.crt" \
      --namespace zz-probe --service-accounts "$probes" --wait-mutated "$limit" \
      --since-ns "$start_ns"); then
    echo "$impl did not mutate within ${limit}s; log:" >&2
    tail -20 "$work/$impl-$phase-$round.log" >&2
    exit 1
  fi
  local ms
  ms=$(sed -n 's/^RESULT ready_ms=\([0-9.]*\).*/\1/p' <<<"$out")
  record "$impl $phase $round probe_attempts $(sed -n 's/^RESULT .*attempts=\([0-9]*\).*/\1/p' <<<"$out")"
  if [ "$impl" = irsa ]; then
    # irsa is ready when it mutates and /readyz (ServiceAccount cache synced) is ok
    local ok=0
    for _ in $(seq 1 $((limit * 50))); do
      if curl -fsS --max-time 2 "http://127.0.0.1:$metrics_port/readyz" >/dev/null 2>&1; then ok=1; break; fi
      sleep 0.02
    done
    [ "$ok" = 1 ] || { echo "irsa mutates but /readyz is not ok after ${limit}s" >&2; exit 1; }
    local readyz_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
    record "$impl $phase $round first_mutation_ms $ms"
    ms=$(( readyz_ms > ${ms%.*} ? readyz_ms : ${ms%.*} ))
  fi
  record "$impl $phase $round cold_start_ms $ms"
}

# load IMPL PHASE ROUND CONCURRENCY SAS: one bounded admit_remote run, results recorded
load() {
  local impl=$1 phase=$2 round=$3 c=$4 n=$5 out kv
  record "$impl $phase $round load1_c$c $(cut -d' ' -f1 /proc/loadavg)"
  # unmutated admissions are counted (failed=N in the table), not fatal: a webhook whose
  # cache is still incomplete after it looked ready shows it there
  if ! out=$(timeout $((seconds + 60)) "$admit" --target "https://127.0.0.1:$port" --ca "$pki/ca.crt" \
      --namespace bench --service-accounts "$n" --concurrency "$c" --seconds "$seconds" \
      --requests 100000000 --pid "$webhook_pid"); then
    grep -q '^RESULT ' <<<"$out" || { echo "$out" >&2; echo "$impl: load run failed" >&2; exit 1; }
    echo "$impl $phase round $round c=$c: some admissions were not mutated (counted)" >&2
  fi
  echo "$out" | sed "s/^/  [$impl $phase round $round c=$c] /" >&2
  kv=$(sed -n 's/^RESULT //p' <<<"$out")
  for pair in $kv; do record "$impl $phase $round ${pair%%=*}_c$c ${pair#*=}"; done
}

one_run() {   # IMPL PHASE ROUND SAS CONCURRENCIES…
  local impl=$1 phase=$2 round=$3 n=$4; shift 4
  record "$impl $phase $round load1_start $(cut -d' ' -f1 /proc/loadavg)"
  start_webhook "$impl" "$work/$impl-$phase-$round.log"
  wait_ready "$impl" "$phase" "$round" 180
  sleep 3
  record "$impl $phase $round rss_idle_kib $(kib "$webhook_pid" VmRSS)"
  record "$impl $phase $round hwm_start_kib $(kib "$webhook_pid" VmHWM)"
  for c in "$@"; do load "$impl" "$phase" "$round" "$c" "$n"; done
  record "$impl $phase $round hwm_kib $(kib "$webhook_pid" VmHWM)"
  stop_webhook
}

loaded=$((sas < 5000 ? sas : 5000))
for round in $(seq 1 "$rounds"); do
  for impl in go irsa; do
    echo "== $impl, $sas ServiceAccounts, round $round" >&2
    one_run "$impl" small "$round" "$loaded" 1 8 32
  done
done

timeout 900 "$create_sas" --kubeconfig "$KUBECONFIG" --namespace bench --from "$sas" \
  --to "$big_sas" >&2
for round in $(seq 1 "$big_rounds"); do
  for impl in go irsa; do
    echo "== $impl, $big_sas ServiceAccounts, round $round" >&2
    one_run "$impl" big "$round" "$loaded" 32
  done
done

# --- 6. table ---------------------------------------------------------------------------
go_version=$(go version "$gobin" | awk '{print $NF}')
python3 - "$results" "$sas" "$big_sas" "$seconds" "$load_before" "$GO_WEBHOOK_VERSION" "$go_version" \
  "$(rustc --version)" "$(nproc)" "$probes" <<'PY'
import sys, statistics
from collections import defaultdict
path, sas, big, seconds, load_before, gov, gotool, rustc, ncpu, probes = sys.argv[1:]
v = defaultdict(list)                       # (impl, phase, key) -> [values over rounds]
for line in open(path):
    impl, phase, rnd, key, val = line.split()
    try: v[(impl, phase, key)].append(float(val))
    except ValueError: pass
def med(impl, phase, key):
    xs = v.get((impl, phase, key)); return statistics.median(xs) if xs else None
def fmt(x, digits=0):
    if x is None: return "–"
    return f"{x:,.{digits}f}"
def row(label, phase_keys, digits=0, ratio=True):
    cells = {}
    for impl in ("go", "irsa"):
        cells[impl] = [med(impl, p, k) for p, k in phase_keys]
    rat = [(b / a if a and b is not None else None) for a, b in zip(cells["go"], cells["irsa"])]
    r = " / ".join((f"{x:.2f}" if x is not None else "–") for x in rat) if ratio else ""
    print(f"| {label} | {' / '.join(fmt(x, digits) for x in cells['go'])} | "
          f"{' / '.join(fmt(x, digits) for x in cells['irsa'])} | {r} |")
cs = (1, 8, 32)
for k in list(v):
    if "_kib" in k[2]:
        v[(k[0], k[1], k[2].replace("_kib", "_mib"))] = [x / 1024 for x in v[k]]
    if k[2] == "cold_start_ms":
        v[(k[0], k[1], "cold_start_s")] = [x / 1000 for x in v[k]]
n_small, n_big = f"{int(sas):,}", f"{int(big):,}"
print()
print(f"| {n_small} SAs (100k rows: {n_big}; each + {int(probes):,} probe SAs) | Go {gov} | irsa | irsa / Go |")
print("|---|---|---|---|")
row("admissions/s, c=1 / 8 / 32", [("small", f"rate_c{c}") for c in cs])
row("p50 ms, c=1 / 8 / 32", [("small", f"p50_ms_c{c}") for c in cs], 2)
row("p99 ms, c=1 / 8 / 32", [("small", f"p99_ms_c{c}") for c in cs], 2)
row("server CPU ms per 1,000 admissions, c=1 / 8 / 32", [("small", f"cpu_ms_per_1000_c{c}") for c in cs])
row(f"RSS idle MiB, {n_small} / {n_big} SAs", [("small", "rss_idle_mib"), ("big", "rss_idle_mib")])
row(f"RSS under load (peak VmRSS, c=32) MiB, {n_small} / {n_big}", [("small", "rss_peak_mib_c32"), ("big", "rss_peak_mib_c32")])
row(f"VmHWM after the runs MiB, {n_small} / {n_big}", [("small", "hwm_mib"), ("big", "hwm_mib")])
row(f"cold start to ready s, {n_big} SAs", [("big", "cold_start_s")], 2)
row(f"unmutated admissions, {n_small}: c=1 / 8 / 32, {n_big}: c=32",
    [("small", "failed_c1"), ("small", "failed_c8"), ("small", "failed_c32"), ("big", "failed_c32")],
    ratio=False)
print()
print("Cold start in ms (process start → ready: the first mutation of a pod under a probe "
      "ServiceAccount, listed after every other, that no earlier attempt named; irsa also /readyz), "
      f"per round: Go {v[('go','big','cold_start_ms')]}, irsa {v[('irsa','big','cold_start_ms')]}; "
      f"with {n_small}: Go {v[('go','small','cold_start_ms')]}, irsa {v[('irsa','small','cold_start_ms')]}; "
      f"irsa's first probe mutation: {v[('irsa','big','first_mutation_ms')]} ({n_big}), "
      f"{v[('irsa','small','first_mutation_ms')]} ({n_small}); probe attempts ({n_big}): "
      f"Go {v[('go','big','probe_attempts')]}, irsa {v[('irsa','big','probe_attempts')]}")
# how busy the machine was
loads = [x for (i, p, k), xs in v.items() if k.startswith("load1_") for x in xs]
others, busy = [], []
for (i, p, k), xs in v.items():
    if k.startswith("others_cpu_ms_c"):
        c = k.split("_c")[-1]
        secs = v.get((i, p, f"seconds_c{c}"), [])
        for o, s in zip(xs, secs):
            others.append(o / (s * 1000 * int(ncpu)) * 100)
print(f"Load average (1 min) before the benchmark: {load_before}; before each run: "
      f"{min(loads):.2f}–{max(loads):.2f} (the runs' own load included)." if loads else "")
if others:
    print(f"CPU used by processes other than the webhook and the load generator during the runs: "
          f"median {statistics.median(others):.1f} %, max {max(others):.1f} % of {ncpu} CPUs "
          f"({'idle' if max(others) < 10 and float(load_before.split()[0]) < 1 else 'NOT idle'}).")
print(f"Go webhook built with {gotool}; irsa with {rustc} (release profile). {seconds} s per load run, "
      "medians over the rounds; the load generator shares the machine's CPUs with the server.")
PY
if [ "$keep" = 1 ]; then cp "$results" "$work/results.txt"; fi
