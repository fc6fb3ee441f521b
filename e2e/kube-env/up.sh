#!/usr/bin/env bash
# Starts a real etcd and kube-apiserver on 127.0.0.1 for the end-to-end tests.
#
#   e2e/kube-env/up.sh DIR     (DIR: an empty work folder; `down.sh DIR` tears it down)
#
# Generates a CA, the API server's serving certificate (IP:127.0.0.1), admin client
# credentials, a ServiceAccount signing key and a kubeconfig; picks free ports; starts etcd
# and kube-apiserver (issuer https://127.0.0.1:PORT, JWKS URI on the same address); waits
# (bounded) until /readyz answers; lets unauthenticated users read the OIDC discovery
# documents. Writes DIR/env (sourceable) with KUBECONFIG, IRSA_E2E_* variables.
#
# IRSA_E2E_NODE_ADDRESS=IP (the e2e node's bridge address, see node-up.sh) serves the API
# on that address instead, so pods reach it (issuer https://IP:PORT), keeps the
# `kubernetes` Service's endpoints, admits pods with the ServiceAccount plugin (token
# volumes) and gives the API server a client certificate for the kubelet.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:?usage: up.sh DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
bin=$("$here/build.sh" | tail -n 1)
pki="$dir/pki"
addr=${IRSA_E2E_NODE_ADDRESS:-127.0.0.1}
mkdir -p "$pki" "$dir/etcd-data" "$dir/logs"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# --- PKI --------------------------------------------------------------------------------
openssl_quiet() { openssl "$@" >/dev/null 2>&1; }
openssl_quiet req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=irsa-e2e-ca" \
  -keyout "$pki/ca.key" -out "$pki/ca.crt"
cat > "$pki/serving.ext" <<EOF
subjectAltName=IP:127.0.0.1,IP:$addr,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc
extendedKeyUsage=serverAuth
EOF
openssl_quiet req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" \
  -keyout "$pki/apiserver.key" -out "$pki/apiserver.csr"
openssl_quiet x509 -req -in "$pki/apiserver.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" \
  -CAcreateserial -days 2 -extfile "$pki/serving.ext" -out "$pki/apiserver.crt"
printf 'extendedKeyUsage=clientAuth\n' > "$pki/client.ext"
openssl_quiet req -newkey rsa:2048 -nodes -subj "/O=system:masters/CN=irsa-e2e-admin" \
  -keyout "$pki/admin.key" -out "$pki/admin.csr"
openssl_quiet x509 -req -in "$pki/admin.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" \
  -CAcreateserial -days 2 -extfile "$pki/client.ext" -out "$pki/admin.crt"
openssl_quiet genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$pki/sa.key"
openssl_quiet pkey -in "$pki/sa.key" -pubout -out "$pki/sa.pub"

# --- etcd -------------------------------------------------------------------------------
etcd_client=$(free_port)
etcd_peer=$(free_port)
"$bin/etcd" --name irsa-e2e --data-dir "$dir/etcd-data" \
  --listen-client-urls "http://127.0.0.1:$etcd_client" \
  --advertise-client-urls "http://127.0.0.1:$etcd_client" \
  --listen-peer-urls "http://127.0.0.1:$etcd_peer" \
  --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer" \
  --initial-cluster "irsa-e2e=http://127.0.0.1:$etcd_peer" \
  --listen-metrics-urls "" --unsafe-no-fsync \
  > "$dir/logs/etcd.log" 2>&1 &
echo $! > "$dir/etcd.pid"
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$etcd_client/health" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fsS "http://127.0.0.1:$etcd_client/health" >/dev/null || {
  echo "etcd did not become healthy; log:" >&2; tail -20 "$dir/logs/etcd.log" >&2; exit 1; }

# --- kube-apiserver ---------------------------------------------------------------------
port=$(free_port)
issuer="https://$addr:$port"
cat > "$dir/apiserver.args" <<EOF
--etcd-servers=http://127.0.0.1:$etcd_client
--bind-address=$addr
--advertise-address=$addr
--secure-port=$port
--tls-cert-file=$pki/apiserver.crt
--tls-private-key-file=$pki/apiserver.key
--client-ca-file=$pki/ca.crt
--authorization-mode=Node,RBAC
--service-cluster-ip-range=10.0.0.0/24
--allow-privileged=true
--service-account-issuer=$issuer
--service-account-key-file=$pki/sa.pub
--service-account-signing-key-file=$pki/sa.key
--service-account-jwks-uri=$issuer/openid/v1/jwks
--api-audiences=$issuer
--profiling=false
EOF
if [ "$addr" = 127.0.0.1 ]; then
  # No node: pods are only stored, never run; no Service endpoints.
  printf '%s\n' --disable-admission-plugins=ServiceAccount --endpoint-reconciler-type=none >> "$dir/apiserver.args"
else
  printf '%s\n' --endpoint-reconciler-type=lease \
    "--kubelet-client-certificate=$pki/admin.crt" "--kubelet-client-key=$pki/admin.key" \
    "--kubelet-certificate-authority=$pki/ca.crt" --kubelet-preferred-address-types=InternalIP \
    >> "$dir/apiserver.args"
fi
start_apiserver() {
  # shellcheck disable=SC2046
  "$bin/kube-apiserver" $(cat "$dir/apiserver.args") >> "$dir/logs/kube-apiserver.log" 2>&1 &
  echo $! > "$dir/apiserver.pid"
}
start_apiserver
admin=(--cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key")
wait_ready() {
  for _ in $(seq 1 300); do
    curl -fsS "${admin[@]}" "$issuer/readyz" >/dev/null 2>&1 && return 0
    kill -0 "$(cat "$dir/apiserver.pid")" 2>/dev/null || break
    sleep 0.2
  done
  echo "kube-apiserver did not become ready; log:" >&2
  tail -30 "$dir/logs/kube-apiserver.log" >&2
  return 1
}
wait_ready

# Anonymous users may read the issuer's discovery document and JWKS, as on EKS.
curl -fsS "${admin[@]}" -X POST -H 'Content-Type: application/json' \
  "$issuer/apis/rbac.authorization.k8s.io/v1/clusterrolebindings" -d '{
  "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
  "metadata": {"name": "irsa-e2e-oidc-discovery"},
  "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
              "name": "system:service-account-issuer-discovery"},
  "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                "name": "system:unauthenticated"}]}' >/dev/null

cat > "$dir/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster: {server: "$issuer", certificate-authority: "$pki/ca.crt"}
users:
- name: admin
  user: {client-certificate: "$pki/admin.crt", client-key: "$pki/admin.key"}
contexts:
- name: e2e
  context: {cluster: e2e, user: admin}
current-context: e2e
EOF
cat > "$dir/env" <<EOF
export KUBECONFIG=$dir/kubeconfig
export IRSA_E2E_DIR=$dir
export IRSA_E2E_APISERVER=$issuer
export IRSA_E2E_ISSUER=$issuer
export IRSA_E2E_CA=$pki/ca.crt
export IRSA_E2E_BIN=$bin
EOF
echo "kube-apiserver ready at $issuer (work dir $dir)"
