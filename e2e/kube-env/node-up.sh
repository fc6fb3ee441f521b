#!/usr/bin/env bash
# A one-node cluster from real parts, on the control plane of up.sh.
#
#   node-up.sh net DIR     before up.sh: the pod network's bridge (node.env), the Pod
#                          Identity agent's address on it (node.env) and the forwarding
#                          sysctls (old values kept in DIR/node/sysctl.saved)
#   node-up.sh start DIR   after up.sh (run with IRSA_E2E_NODE_ADDRESS): containerd (own
#                          config, root, state and socket under DIR/node), the pause image,
#                          kube-controller-manager, kube-scheduler, kubelet and kube-proxy
#                          (iptables mode); waits (bounded) until the node is Ready
#
# node-down.sh DIR undoes both, also half-done. Every listener is on 127.0.0.1 or on the
# bridge's address; the bridge has no uplink and the pods' traffic is not masqueraded out.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=node.env
. "$here/node.env"
cmd=${1:?usage: node-up.sh net|start DIR}
dir=$(cd "${2:?usage: node-up.sh net|start DIR}" && pwd)
node="$dir/node"
mkdir -p "$node" "$dir/logs"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

net() {
  : > "$node/sysctl.saved"
  for k in net/ipv4/ip_forward net/bridge/bridge-nf-call-iptables; do
    [ -e "/proc/sys/$k" ] || continue
    echo "$k $(cat "/proc/sys/$k")" >> "$node/sysctl.saved"
    echo 1 > "/proc/sys/$k"
  done
  if ! ip link show "$IRSA_NODE_BRIDGE" >/dev/null 2>&1; then
    ip link add "$IRSA_NODE_BRIDGE" type bridge
    echo "$IRSA_NODE_BRIDGE" > "$node/bridge.created"
  fi
  ip addr replace "$IRSA_NODE_ADDRESS/${IRSA_NODE_POD_CIDR#*/}" dev "$IRSA_NODE_BRIDGE"
  ip link set "$IRSA_NODE_BRIDGE" up
  # The Pod Identity agent's link-local address, on the bridge (pods reach it through
  # their default route, the bridge's address). Refused when this machine has it already.
  if ip -o addr show to "$IRSA_NODE_AGENT_ADDRESS/32" | grep -q .; then
    echo "node-up: $IRSA_NODE_AGENT_ADDRESS is already assigned on this machine" >&2
    return 1
  fi
  ip addr add "$IRSA_NODE_AGENT_ADDRESS/32" dev "$IRSA_NODE_BRIDGE"
  echo "$IRSA_NODE_AGENT_ADDRESS/32 $IRSA_NODE_BRIDGE" > "$node/agent-address.added"
}

pki_for() { # NAME SUBJECT EXT
  local name=$1 subj=$2 ext=$3 pki="$dir/pki"
  openssl req -newkey rsa:2048 -nodes -subj "$subj" -keyout "$pki/$name.key" \
    -out "$pki/$name.csr" >/dev/null 2>&1
  printf '%b' "$ext" > "$pki/$name.ext"
  openssl x509 -req -in "$pki/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" \
    -CAcreateserial -days 2 -extfile "$pki/$name.ext" -out "$pki/$name.crt" >/dev/null 2>&1
}

kubeconfig_for() { # NAME
  cat > "$node/$1.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster: {server: "$IRSA_E2E_APISERVER", certificate-authority: "$dir/pki/ca.crt"}
users:
- name: $1
  user: {client-certificate: "$dir/pki/$1.crt", client-key: "$dir/pki/$1.key"}
contexts:
- name: e2e
  context: {cluster: e2e, user: $1}
current-context: e2e
EOF
}

start_bg() { # NAME ARGS... (pid in DIR/node/NAME.pid, log in DIR/logs/NAME.log)
  local name=$1; shift
  "$@" > "$dir/logs/$name.log" 2>&1 &
  echo $! > "$node/$name.pid"
}

wait_for() { # WHAT TRIES CMD...
  local what=$1 tries=$2; shift 2
  for _ in $(seq 1 "$tries"); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  echo "node-up: $what not ready after $((tries / 2)) s" >&2
  return 1
}

pause_image() {
  # The pause binary from the pinned Kubernetes release's own source, as its Makefile
  # builds it (gcc -Os -static), in a one-layer OCI archive; cached by version.
  local cache="${IRSA_KUBE_BIN_DIR:-$HOME/.cache/irsa/kube}/pause-$PAUSE_VERSION-$KUBE_VERSION"
  mkdir -p "$cache"
  if [ ! -f "$cache/pause.tar" ]; then
    local src
    src="$(cd "$here/kubernetes" && go env GOMODCACHE)/k8s.io/kubernetes@$KUBE_VERSION/build/pause/linux/pause.c"
    [ -f "$src" ] || (cd "$here/kubernetes" && go mod download k8s.io/kubernetes)
    gcc -Os -Wall -Werror -static -DVERSION="v$PAUSE_VERSION-irsa" -o "$cache/pause" "$src"
    strip "$cache/pause"
    python3 "$here/../../tools/image/mkimage.py" --name "irsa.local/pause:$PAUSE_VERSION" \
      --out "$cache/pause.tar" --entrypoint '["/pause"]' --user 65535:65535 \
      --file "$cache/pause:/pause:0755" >/dev/null
  fi
  echo "$cache/pause.tar"
}

start() {
  # shellcheck disable=SC1091
  . "$dir/env"
  . "$here/versions.env"
  local bin=$IRSA_E2E_BIN ctrd="$node/containerd" sock="$node/containerd/containerd.sock"
  mkdir -p "$ctrd/root" "$ctrd/state" "$node/cni/net.d" "$node/cni/ipam" "$node/kubelet" \
    "$node/pod-logs" "$node/runc"

  # --- containerd -----------------------------------------------------------------------
  local restrict_oom=false
  # CAP_SYS_RESOURCE is bit 24 of the effective capability set.
  (( (16#$(awk '/^CapEff/ {print $2}' /proc/self/status) >> 24) & 1 )) || restrict_oom=true
  cat > "$node/cni/net.d/10-irsa-e2e.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "irsa-e2e",
  "plugins": [
    {"type": "bridge", "bridge": "$IRSA_NODE_BRIDGE", "isGateway": true, "ipMasq": false,
     "hairpinMode": true,
     "ipam": {"type": "host-local", "dataDir": "$node/cni/ipam",
              "ranges": [[{"subnet": "$IRSA_NODE_POD_CIDR", "gateway": "$IRSA_NODE_ADDRESS"}]],
              "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "loopback"}
  ]
}
EOF
  cat > "$ctrd/config.toml" <<EOF
version = 2
root = "$ctrd/root"
state = "$ctrd/state"
plugin_dir = ""
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "$sock"
[ttrpc]
  address = "$sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$ctrd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "irsa.local/pause:$PAUSE_VERSION"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  netns_mounts_under_state_dir = true
  # Without CAP_SYS_RESOURCE (dropped in this VM) no process may lower its oom_score_adj;
  # the kubelet asks -998 for sandboxes, and runc would fail with "failed to update
  # /proc/self/oom_score_adj: Permission denied". Clamp to containerd's own value.
  restrict_oom_score_adj = $restrict_oom
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$node/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$node/cni/net.d"
    max_conf_num = 1
EOF
  start_bg containerd containerd --config "$ctrd/config.toml"
  wait_for containerd 60 ctr --address "$sock" version
  ctr --address "$sock" -n k8s.io images import --all-platforms "$(pause_image)" >/dev/null

  # --- certificates and kubeconfigs -------------------------------------------------------
  local client='extendedKeyUsage=clientAuth\n'
  pki_for kubelet "/O=system:nodes/CN=system:node:$IRSA_NODE_NAME" "$client"
  pki_for kubelet-serving "/CN=$IRSA_NODE_NAME" \
    "subjectAltName=IP:$IRSA_NODE_ADDRESS,DNS:$IRSA_NODE_NAME\nextendedKeyUsage=serverAuth\n"
  pki_for kube-controller-manager "/CN=system:kube-controller-manager" "$client"
  pki_for kube-scheduler "/CN=system:kube-scheduler" "$client"
  pki_for kube-proxy "/CN=system:kube-proxy" "$client"
  for c in kubelet kube-controller-manager kube-scheduler kube-proxy; do kubeconfig_for "$c"; done

  # --- kube-controller-manager and kube-scheduler ---------------------------------------
  start_bg kube-controller-manager "$bin/kube-controller-manager" \
    --kubeconfig "$node/kube-controller-manager.kubeconfig" \
    --authentication-kubeconfig "$node/kube-controller-manager.kubeconfig" \
    --authorization-kubeconfig "$node/kube-controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$(free_port)" --leader-elect=false \
    --service-account-private-key-file "$dir/pki/sa.key" --root-ca-file "$dir/pki/ca.crt" \
    --use-service-account-credentials=true --service-cluster-ip-range 10.0.0.0/24 \
    --controllers '*,-bootstrapsigner,-tokencleaner,-nodeipam' --profiling=false
  start_bg kube-scheduler "$bin/kube-scheduler" \
    --kubeconfig "$node/kube-scheduler.kubeconfig" \
    --authentication-kubeconfig "$node/kube-scheduler.kubeconfig" \
    --authorization-kubeconfig "$node/kube-scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$(free_port)" --leader-elect=false --profiling=false

  # --- kubelet ----------------------------------------------------------------------------
  local kport
  kport=$(free_port)
  printf 'nameserver %s\n' "$IRSA_NODE_ADDRESS" > "$node/resolv.conf"
  cat > "$node/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $IRSA_NODE_ADDRESS
port: $kport
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $(free_port)
tlsCertFile: $dir/pki/kubelet-serving.crt
tlsPrivateKeyFile: $dir/pki/kubelet-serving.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $dir/pki/ca.crt}
authorization: {mode: Webhook}
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://$sock
imageServiceEndpoint: unix://$sock
resolvConf: $node/resolv.conf
podLogsDir: $node/pod-logs
clusterDomain: cluster.local
evictionHard: {memory.available: 50Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
syncFrequency: 10s
fileCheckFrequency: 10s
nodeStatusReportFrequency: 10s
serializeImagePulls: false
registerNode: true
maxPods: 60
EOF
  start_bg kubelet "$bin/kubelet" --config "$node/kubelet.yaml" \
    --kubeconfig "$node/kubelet.kubeconfig" --root-dir "$node/kubelet" \
    --hostname-override "$IRSA_NODE_NAME" --node-ip "$IRSA_NODE_ADDRESS" \
    --cert-dir "$node/kubelet/pki"

  # --- kube-proxy -------------------------------------------------------------------------
  cat > "$node/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection: {kubeconfig: $node/kube-proxy.kubeconfig}
hostnameOverride: $IRSA_NODE_NAME
bindAddress: $IRSA_NODE_ADDRESS
clusterCIDR: $IRSA_NODE_POD_CIDR
healthzBindAddress: 127.0.0.1:$(free_port)
metricsBindAddress: 127.0.0.1:$(free_port)
nodePortAddresses: [$IRSA_NODE_ADDRESS/32]
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF
  start_bg kube-proxy "$bin/kube-proxy" --config "$node/kube-proxy.yaml"

  # --- ready ------------------------------------------------------------------------------
  local admin=(--cacert "$dir/pki/ca.crt" --cert "$dir/pki/admin.crt" --key "$dir/pki/admin.key")
  # Ready, and the controller manager has lifted the not-ready taint.
  node_ready() {
    curl -fsS "${admin[@]}" "$IRSA_E2E_APISERVER/api/v1/nodes/$IRSA_NODE_NAME" |
      python3 -c 'import json,sys; n=json.load(sys.stdin); sys.exit(0 if any(c["type"]=="Ready" and c["status"]=="True" for c in n["status"]["conditions"]) and not n["spec"].get("taints") else 1)'
  }
  if ! wait_for "node $IRSA_NODE_NAME" 240 node_ready; then
    tail -30 "$dir/logs/kubelet.log" >&2
    return 1
  fi
  # The default ServiceAccount of `default` (pods are admitted only once it exists).
  wait_for "ServiceAccount default/default" 120 \
    curl -fsS "${admin[@]}" "$IRSA_E2E_APISERVER/api/v1/namespaces/default/serviceaccounts/default"
  cat >> "$dir/env" <<EOF
export IRSA_E2E_NODE_NAME=$IRSA_NODE_NAME
export IRSA_E2E_NODE_ADDRESS=$IRSA_NODE_ADDRESS
export IRSA_E2E_CONTAINERD=$sock
EOF
  echo "node $IRSA_NODE_NAME ready (containerd at $sock)"
}

case "$cmd" in
  net) net ;;
  start) start ;;
  *) echo "usage: node-up.sh net|start DIR" >&2; exit 2 ;;
esac
