#!/usr/bin/env bash
# images.sh DIR IRSA_BIN APP_RUST_BIN: builds the e2e node's images without a registry or a
# container engine and imports them into the run's containerd (node-up.sh DIR):
#   irsa.local/irsa:e2e           the `irsa` binary under test
#   irsa.local/dynamodb-go:e2e    tools/apps/dynamodb-go, static (CGO_ENABLED=0), aws-sdk-go-v2
#   irsa.local/dynamodb-rust:e2e  e2e/src/bin/dynamodb-rust.rs, aws-sdk-rust
# The Rust binaries are dynamically linked against glibc (the rustup musl target is not
# installable offline here): each image carries the binary plus exactly the shared
# libraries `ldd` lists (and the dynamic loader), copied from this machine. Every image
# also carries the Debian CA bundle. Layers are reproducible (tools/image/mkimage.py).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
dir=${1:?usage: images.sh DIR IRSA_BIN APP_RUST_BIN}
irsa=${2:?irsa binary}
app_rust=${3:?dynamodb-rust binary}
# shellcheck disable=SC1091
. "$dir/env"
out="$dir/images"
mkdir -p "$out"

# --file arguments for a dynamically linked binary's libraries (path inside = path outside)
libs_of() {
  ldd "$1" | awk '/=> \// {print $3} /^\t\/[^ ]+ \(/ {print $1}' | sort -u | while read -r lib; do
    printf -- '--file\0%s:%s:0755\0' "$(readlink -f "$lib")" "$lib"
  done
}
ca=()
[ -f /etc/ssl/certs/ca-certificates.crt ] && ca=(--file /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt)

image() { # NAME TAR BIN DEST ENTRYPOINT [extra mkimage args]
  local name=$1 tar=$2 bin=$3 dest=$4 entry=$5; shift 5
  local libs=()
  if ldd "$bin" >/dev/null 2>&1; then mapfile -d '' libs < <(libs_of "$bin"); fi
  python3 "$root/tools/image/mkimage.py" --name "$name" --out "$out/$tar" \
    --entrypoint "$entry" --user 65532:65532 --file "$bin:$dest:0755" \
    ${libs[@]+"${libs[@]}"} ${ca[@]+"${ca[@]}"} --dir /tmp:1777 "$@" >/dev/null
  ctr --address "$IRSA_E2E_CONTAINERD" -n k8s.io images import "$out/$tar" >/dev/null
}

# the Go app: static, built from its own module (pinned by tools/apps/dynamodb-go/go.sum)
(cd "$root/tools/apps/dynamodb-go" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false nice -n 10 \
  go build -trimpath -ldflags "-s -w" -o "$out/dynamodb-go" .)

image irsa.local/irsa:e2e irsa.tar "$irsa" /usr/local/bin/irsa '["/usr/local/bin/irsa"]'
image irsa.local/dynamodb-go:e2e dynamodb-go.tar "$out/dynamodb-go" /app '["/app"]'
image irsa.local/dynamodb-rust:e2e dynamodb-rust.tar "$app_rust" /app '["/app"]'
echo "images imported: irsa.local/{irsa,dynamodb-go,dynamodb-rust}:e2e"
