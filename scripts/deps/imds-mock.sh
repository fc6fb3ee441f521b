#!/usr/bin/env bash
# Installs amazon-ec2-metadata-mock (the EC2 instance metadata service, IMDSv1 and v2, from
# the Go module proxy, pinned) into .cache/imds-mock/bin: the real IMDS implementation
# `irsa webhook --compose-role-arn` is tested against. Go's build and module caches make a
# re-run cheap. Idempotent; without go it fails naming it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
version=v1.13.0
bin="$root/.cache/imds-mock/bin"
if ! command -v go >/dev/null 2>&1; then
  echo "imds-mock.sh: go not found" >&2
  exit 1
fi
stamp="$bin/.version"
if [ -x "$bin/ec2-metadata-mock" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; then
  echo "amazon-ec2-metadata-mock $version: $bin/ec2-metadata-mock"
  exit 0
fi
mkdir -p "$bin"
GOBIN="$bin" go install \
  "github.com/aws/amazon-ec2-metadata-mock/cmd/ec2-metadata-mock@$version"
echo "$version" > "$stamp"
echo "amazon-ec2-metadata-mock $version: $bin/ec2-metadata-mock"
