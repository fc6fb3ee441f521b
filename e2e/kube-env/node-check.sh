#!/usr/bin/env bash
# Exits 0 when this machine can run the e2e node (root, containerd, runc, the CNI plugins,
# iptables, a writable cgroup hierarchy, gcc for the pause binary, go for the Go
# application, node and dynalite for the DynamoDB upstream); else prints what is missing
# and exits 1. IRSA_E2E_NODE=0 turns the node off.
set -uo pipefail
[ "${IRSA_E2E_NODE:-1}" = 0 ] && { echo "IRSA_E2E_NODE=0"; exit 1; }
missing=()
[ "$(id -u)" = 0 ] || missing+=("root")
for c in containerd containerd-shim-runc-v2 runc ctr iptables ip gcc go node python3 openssl curl; do
  command -v "$c" >/dev/null 2>&1 || missing+=("$c")
done
for p in bridge host-local loopback; do
  [ -x "/usr/lib/cni/$p" ] || missing+=("/usr/lib/cni/$p")
done
root=$(cd "$(dirname "$0")/../.." && pwd)
[ -d "$root/tools/dynalite/node_modules/dynalite" ] || missing+=("dynalite (scripts/deps/gateway.sh)")
[ -w /sys/fs/cgroup/memory ] || [ -w /sys/fs/cgroup/cgroup.subtree_control ] || missing+=("writable cgroups")
if [ ${#missing[@]} -gt 0 ]; then
  echo "missing: ${missing[*]} (scripts/deps/node.sh installs the packages)"
  exit 1
fi
exit 0
