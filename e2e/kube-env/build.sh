#!/usr/bin/env bash
# Builds kube-apiserver, etcd and helm (to render the chart in deploy/helm) from the Go module proxy at the versions pinned in
# versions.env, into a cache folder keyed by version (default ~/.cache/irsa/kube).
# Prints the folder holding the two binaries. A second run with the binaries present
# does nothing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"
out="${IRSA_KUBE_BIN_DIR:-$HOME/.cache/irsa/kube}/$KUBE_VERSION-etcd-$ETCD_VERSION-helm-$HELM_VERSION"
mkdir -p "$out"
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false
minor=${KUBE_VERSION#v1.}; minor=${minor%%.*}
if [ ! -x "$out/kube-apiserver" ]; then
  pkg=k8s.io/component-base/version
  ldflags="-s -w -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  (cd "$here/apiserver" && go build -trimpath -ldflags "$ldflags" -o "$out/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver)
  mv "$out/kube-apiserver.tmp" "$out/kube-apiserver"
fi
if [ ! -x "$out/etcd" ]; then
  (cd "$here/etcd" && go build -trimpath -ldflags "-s -w" -o "$out/etcd.tmp" go.etcd.io/etcd/server/v3)
  mv "$out/etcd.tmp" "$out/etcd"
fi
if [ ! -x "$out/helm" ]; then
  (cd "$here/helm" && go build -trimpath -ldflags "-s -w" -o "$out/helm.tmp" helm.sh/helm/v3/cmd/helm)
  mv "$out/helm.tmp" "$out/helm"
fi
echo "$out"
