#!/usr/bin/env bash
# Builds versitygw (Versity S3 Gateway, Apache-2.0), the S3-compatible upstream of the
# gateway's S3 tests, benchmark and `irsa up --s3-upstream`, from the Go module proxy at the
# pinned version below (`go install module/cmd/versitygw@version`: its go.mod has no replace
# directives), into a cache folder keyed by version:
#   ${IRSA_VERSITYGW_DIR:-~/.cache/irsa/versitygw-<version>}/versitygw
# and links it as .cache/versitygw/versitygw in the checkout. Prints the binary's path.
# A second run with the binary present does nothing. Cold (module downloads included) it took
# 299 s wall on 2 cores shared with other builds (load ~11), 90 s of CPU.
#
# Run it as an S3 server over a directory (its posix backend), on 127.0.0.1:
#   ROOT_ACCESS_KEY=AK ROOT_SECRET_KEY=SK versitygw --port 127.0.0.1:9000 --health /health \
#     posix DIR
# (buckets are DIR's subdirectories; GET /health answers 200 once it serves). versitygw is
# only run by the tests and tools; it is not linked into any irsa binary.
set -euo pipefail
VERSITYGW_VERSION=v1.8.0
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="${IRSA_VERSITYGW_DIR:-$HOME/.cache/irsa/versitygw-$VERSITYGW_VERSION}"
if [ ! -x "$out/versitygw" ]; then
  if ! command -v go >/dev/null 2>&1; then
    echo "versitygw.sh: go not found (install Go >= 1.25)" >&2
    exit 1
  fi
  mkdir -p "$out"
  tmp="$out/.build.$$"
  mkdir -p "$tmp"
  start=$(date +%s)
  CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false" GOBIN="$tmp" \
    nice -n 10 go install -trimpath -ldflags "-s -w -X main.Version=$VERSITYGW_VERSION" \
    "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"
  mv "$tmp/versitygw" "$out/versitygw"
  rmdir "$tmp"
  echo "versitygw.sh: built versitygw $VERSITYGW_VERSION in $(( $(date +%s) - start ))s" >&2
fi
mkdir -p "$root/.cache/versitygw"
ln -sfn "$out/versitygw" "$root/.cache/versitygw/versitygw"
echo "$out/versitygw"
