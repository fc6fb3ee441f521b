#!/usr/bin/env bash
# Installs what the end-to-end node (e2e/kube-env/node-up.sh) needs from Debian: containerd
# and runc (the container runtime the kubelet drives over CRI), the CNI plugins (bridge,
# host-local, loopback, portmap), iptables (kube-proxy and the bridge plugin's masquerade
# rules) and a static-capable C compiler (the pause binary of the pause image).
# Idempotent: apt runs only when a package is missing. Skipped with a notice when apt-get
# or root is not available; e2e/run then runs without the node.
set -euo pipefail
pkgs=(containerd runc containernetworking-plugins iptables gcc libc6-dev conntrack)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "node packages present: ${pkgs[*]}"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1 || [ "$(id -u)" != 0 ]; then
  echo "node.sh: needs root and apt-get to install ${missing[*]}; the e2e node is skipped" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# containerd is started by the e2e run with its own configuration, state and socket; the
# service the package enables is not used.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl disable --now containerd >/dev/null 2>&1 || true
fi
echo "node packages installed: ${missing[*]}"
