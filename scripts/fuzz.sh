#!/usr/bin/env bash
# Builds every cargo-fuzz target in fuzz/ and runs each for N seconds, one at a time.
# Usage: scripts/fuzz.sh [seconds] [target...]     (default 30 s, every target)
#   scripts/fuzz.sh 60                  every target for 60 s
#   scripts/fuzz.sh 300 sigv4_verify    one target for 5 min
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
# Each target first replays its committed regression inputs (fuzz/regressions/<target>/),
# then fuzzes starting from fuzz/seeds/<target>/ into the working corpus fuzz/corpus/<target>/
# (gitignored; it grows across runs). Crashes land in fuzz/artifacts/<target>/.
# Env: FUZZ_NICE (niceness, default 10), FUZZ_JOBS (parallel libFuzzer jobs, default 1;
#      >1 writes fuzz-N.log files into fuzz/),
#      FUZZ_ARGS (extra libFuzzer flags).
# Exit status: 0 when no target crashed, 1 otherwise (summary table at the end).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root/fuzz"

seconds="${1:-30}"
shift || true
case "$seconds" in '' | *[!0-9]*)
  echo "fuzz.sh: seconds must be a whole number, got \`$seconds\`" >&2
  exit 2
  ;;
esac

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "fuzz.sh: needs cargo-fuzz and the nightly toolchain:" >&2
  echo "  rustup toolchain install nightly && cargo install cargo-fuzz" >&2
  exit 2
fi

nice_level="${FUZZ_NICE:-10}"
if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo +nightly fuzz list)
fi

echo "== building ${#targets[@]} fuzz targets"
nice -n "$nice_level" cargo +nightly fuzz build

logdir="$root/fuzz/target/logs"
mkdir -p "$logdir"
summary=()
failed=0
for t in "${targets[@]}"; do
  echo "== $t: regressions"
  status="ok"
  if [ -d "regressions/$t" ] && [ -n "$(ls -A "regressions/$t" 2>/dev/null)" ]; then
    # -runs=0 only executes the given inputs (no fuzzing).
    if ! nice -n "$nice_level" cargo +nightly fuzz run "$t" "regressions/$t" -- -runs=0 \
      >"$logdir/$t.regressions.log" 2>&1; then
      status="REGRESSION (see fuzz/target/logs/$t.regressions.log)"
      failed=1
    fi
  fi

  echo "== $t: fuzzing for ${seconds}s"
  mkdir -p "corpus/$t"
  dirs=("corpus/$t")
  [ -d "seeds/$t" ] && dirs+=("seeds/$t")
  [ -d "regressions/$t" ] && dirs+=("regressions/$t")
  # -jobs makes libFuzzer write fuzz-N.log into the working directory: only with FUZZ_JOBS.
  jobs=()
  [ "${FUZZ_JOBS:-1}" -gt 1 ] && jobs=(-jobs="$FUZZ_JOBS" -workers="$FUZZ_JOBS")
  # shellcheck disable=SC2086
  if ! nice -n "$nice_level" cargo +nightly fuzz run "$t" "${dirs[@]}" -- \
    -max_total_time="$seconds" -timeout=25 -print_final_stats=1 "${jobs[@]}" \
    ${FUZZ_ARGS:-} >"$logdir/$t.log" 2>&1; then
    status="CRASH (see fuzz/target/logs/$t.log and fuzz/artifacts/$t/)"
    failed=1
  fi
  runs="$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$logdir/$t.log" | grep -Eo '[0-9]+$' | tail -1 || true)"
  cov="$(grep -Eo 'cov: [0-9]+' "$logdir/$t.log" | tail -1 | grep -Eo '[0-9]+' || true)"
  corpus="$(find "corpus/$t" -type f | wc -l)"
  summary+=("$(printf '%-18s %10s execs  cov %6s  corpus %5s  %s' "$t" "${runs:-?}" "${cov:-?}" "$corpus" "$status")")
  echo "${summary[-1]}"
done

echo
echo "== summary (${seconds}s per target)"
printf '%s\n' "${summary[@]}"
exit "$failed"
