#!/usr/bin/env bash
# Undoes node-up.sh DIR, also half-done, and is safe to run twice: stops the kubelet and
# the other node components, kills and deletes every container and sandbox of the run's
# containerd, stops containerd and the shims it started, unmounts what is mounted under
# DIR, removes kube-proxy's iptables rules, the kubelet's pod cgroups, the agent's address
# and the bridge (when the run added them) and restores the sysctls. Bounded: each wait is
# at most a few seconds.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=node.env
. "$here/node.env"
dir=${1:?usage: node-down.sh DIR}
[ -d "$dir" ] || exit 0
dir=$(cd "$dir" && pwd)
node="$dir/node"
[ -d "$node" ] || exit 0
sock="$node/containerd/containerd.sock"

stop_pid() { # PID: TERM, wait up to 5 s, KILL
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}
stop() { # NAME
  local f="$node/$1.pid"
  [ -f "$f" ] || return 0
  stop_pid "$(cat "$f")"
  rm -f "$f"
}

for c in kubelet kube-proxy kube-scheduler kube-controller-manager; do stop "$c"; done

if [ -S "$sock" ]; then
  ctr_() { timeout 20 ctr --address "$sock" -n k8s.io "$@"; }
  for t in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks kill -s SIGKILL "$t" >/dev/null 2>&1; done
  for t in $(ctr_ tasks ls -q 2>/dev/null); do
    for _ in $(seq 1 20); do ctr_ tasks delete "$t" >/dev/null 2>&1 && break; sleep 0.2; done
  done
  for c in $(ctr_ containers ls -q 2>/dev/null); do ctr_ containers delete "$c" >/dev/null 2>&1; done
fi
stop containerd
# Shims outlive containerd; only those started for this run's socket are stopped.
for pid in $(pgrep -f -- "containerd-shim-runc-v2 .*-address $sock" 2>/dev/null); do stop_pid "$pid"; done

# Mounts under the run's folder, deepest first: container root filesystems, the
# sandboxes' network namespaces, the kubelet's volumes.
awk -v d="$dir/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r | while read -r m; do
  umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
done

# kube-proxy's chains, then what is left of the kubelet's and kube-proxy's KUBE-* chains
# (the kubelet adds KUBE-FIREWALL, canaries and hints for IPv4 and IPv6): first the jumps
# from the built-in chains, then the chains themselves.
if [ -f "$node/kube-proxy.yaml" ]; then
  bin=$(. "$dir/env" 2>/dev/null; echo "${IRSA_E2E_BIN:-}")
  [ -x "$bin/kube-proxy" ] && timeout 30 "$bin/kube-proxy" --cleanup >/dev/null 2>&1
  for ipt in iptables ip6tables; do
    command -v "$ipt" >/dev/null 2>&1 || continue
    for table in mangle nat filter; do
      "$ipt-save" -t "$table" 2>/dev/null |
        grep -E '^-A (PREROUTING|INPUT|FORWARD|OUTPUT|POSTROUTING) .*-j KUBE-' |
        while read -r rule; do
          # shellcheck disable=SC2086
          eval "$ipt -t $table -D ${rule#-A }" 2>/dev/null
        done
      for chain in $("$ipt-save" -t "$table" 2>/dev/null | sed -n 's/^:\(KUBE-[^ ]*\) .*/\1/p'); do
        "$ipt" -t "$table" -F "$chain" 2>/dev/null
      done
      for chain in $("$ipt-save" -t "$table" 2>/dev/null | sed -n 's/^:\(KUBE-[^ ]*\) .*/\1/p'); do
        "$ipt" -t "$table" -X "$chain" 2>/dev/null
      done
    done
  done
fi

# The pod cgroups the kubelet created (cgroup v1: one tree per hierarchy), deepest first.
for h in /sys/fs/cgroup/*/; do
  [ -d "$h/kubepods" ] || [ -d "$h/kubepods.slice" ] || continue
  find "$h/kubepods" -depth -type d -exec rmdir {} + 2>/dev/null || true
done

if [ -f "$node/agent-address.added" ]; then
  read -r addr link < "$node/agent-address.added"
  ip addr del "$addr" dev "$link" 2>/dev/null || true
  rm -f "$node/agent-address.added"
fi
if [ -f "$node/bridge.created" ]; then
  ip link delete "$(cat "$node/bridge.created")" 2>/dev/null || true
  rm -f "$node/bridge.created"
fi
if [ -f "$node/sysctl.saved" ]; then
  while read -r k v; do echo "$v" > "/proc/sys/$k" 2>/dev/null || true; done < "$node/sysctl.saved"
  rm -f "$node/sysctl.saved"
fi
exit 0
