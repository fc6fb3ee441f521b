#!/usr/bin/env bash
# Regenerates kubernetes/go.mod and etcd/go.mod for the pinned versions in versions.env.
# k8s.io/kubernetes requires every staging module at v0.0.0 and replaces it with a local
# folder; as a dependency those replaces are ignored, so the wrapper replaces each staging
# module (the list is read from that release's own go.mod) with its published v0.Y.Z tag.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"
staging_tag="v0.${KUBE_VERSION#v1.}"
modfile=$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
gover=$(awk '$1=="go"{print $2; exit}' "$modfile")
godebug=$(awk '$1=="godebug"{print $2; exit}' "$modfile")
{
  echo "module irsa.local/kube-env/kubernetes"
  echo
  echo "go $gover"
  [ -n "$godebug" ] && echo "godebug $godebug"
  echo
  echo "require k8s.io/kubernetes $KUBE_VERSION"
  echo
  echo "replace ("
  awk '$1 ~ /^k8s.io\// && $2=="v0.0.0" {print $1}' "$modfile" | sort -u | while read -r m; do
    echo "	$m => $m $staging_tag"
  done
  echo ")"
} > "$here/kubernetes/go.mod"
cat > "$here/kubernetes/tools.go" <<'GO'
//go:build tools

// Package tools records the Kubernetes main packages the end-to-end cluster runs as
// dependencies of this module.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
GO
(cd "$here/kubernetes" && go mod tidy)
cat > "$here/etcd/go.mod" <<MOD
module irsa.local/kube-env/etcd

go 1.25

require go.etcd.io/etcd/server/v3 $ETCD_VERSION
MOD
cat > "$here/etcd/tools.go" <<'GO'
//go:build tools

// Package tools records the etcd server main package as a dependency of this module.
package tools

import _ "go.etcd.io/etcd/server/v3"
GO
(cd "$here/etcd" && go mod tidy)
