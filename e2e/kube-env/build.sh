#!/usr/bin/env bash
# Builds the Kubernetes components (kube-apiserver, kube-controller-manager, kube-scheduler,
# kubelet, kube-proxy), etcd and helm from the Go module proxy at the versions pinned in
# versions.env, into a cache folder keyed by version (default ~/.cache/irsa/kube).
# Prints the folder holding the binaries. A second run with the binaries present does
# nothing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"
out="${IRSA_KUBE_BIN_DIR:-$HOME/.cache/irsa/kube}/$KUBE_VERSION-etcd-$ETCD_VERSION-helm-$HELM_VERSION"
mkdir -p "$out"
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false
minor=${KUBE_VERSION#v1.}; minor=${minor%%.*}
# The Kubernetes components missing from the cache are built by one `go build`, so the
# packages they share are compiled once.
missing=()
for c in kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy; do
  [ -x "$out/$c" ] || missing+=("$c")
done
if [ ${#missing[@]} -gt 0 ]; then
  pkg=k8s.io/component-base/version
  ldflags="-s -w -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  tmp="$out/.build.$$"
  mkdir -p "$tmp"
  pkgs=()
  for c in "${missing[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
  (cd "$here/kubernetes" && nice -n 10 go build -trimpath -ldflags "$ldflags" -o "$tmp/" "${pkgs[@]}")
  for c in "${missing[@]}"; do mv "$tmp/$c" "$out/$c"; done
  rmdir "$tmp"
fi
if [ ! -x "$out/etcd" ]; then
  (cd "$here/etcd" && nice -n 10 go build -trimpath -ldflags "-s -w" -o "$out/etcd.tmp" go.etcd.io/etcd/server/v3)
  mv "$out/etcd.tmp" "$out/etcd"
fi
if [ ! -x "$out/helm" ]; then
  (cd "$here/helm" && nice -n 10 go build -trimpath -ldflags "-s -w" -o "$out/helm.tmp" helm.sh/helm/v3/cmd/helm)
  mv "$out/helm.tmp" "$out/helm"
fi
echo "$out"
