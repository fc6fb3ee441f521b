#!/usr/bin/env bash
# Builds MinIO, the S3-compatible upstream of the gateway's S3 tests and benchmark, from the
# Go module proxy at the pinned version below (`go install module@version`: MinIO's go.mod
# has no replace directives), into a cache folder keyed by version:
#   ${IRSA_MINIO_DIR:-~/.cache/irsa/minio-<version>}/minio
# and links it as .cache/minio/minio in the checkout. Prints the binary's path.
# A second run with the binary present does nothing. MinIO is only run by the tests (on
# 127.0.0.1); it is not linked into any irsa binary.
set -euo pipefail
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="${IRSA_MINIO_DIR:-$HOME/.cache/irsa/minio-$MINIO_VERSION}"
if [ ! -x "$out/minio" ]; then
  if ! command -v go >/dev/null 2>&1; then
    echo "minio.sh: go not found (install Go >= 1.24)" >&2
    exit 1
  fi
  mkdir -p "$out"
  tmp="$out/.build.$$"
  mkdir -p "$tmp"
  start=$(date +%s)
  CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false" GOBIN="$tmp" \
    GOCACHE="${GOCACHE:-$HOME/.cache/go-build}" GOMODCACHE="${GOMODCACHE:-$HOME/.cache/go-mod}" \
    nice -n 10 go install -trimpath -ldflags "-s -w" "github.com/minio/minio@$MINIO_VERSION"
  mv "$tmp/minio" "$out/minio"
  rmdir "$tmp"
  echo "minio.sh: built MinIO $MINIO_VERSION in $(( $(date +%s) - start ))s" >&2
fi
mkdir -p "$root/.cache/minio"
ln -sfn "$out/minio" "$root/.cache/minio/minio"
echo "$out/minio"
