#!/usr/bin/env bash
# restart-apiserver.sh DIR stop|start: stops kube-apiserver (of up.sh DIR), or starts it
# again with the same arguments and port and waits (bounded) until it is ready.
set -euo pipefail
dir=${1:?usage: restart-apiserver.sh DIR stop|start}
# shellcheck disable=SC1091
. "$dir/env"
case "${2:?stop or start}" in
  stop)
    pid=$(cat "$dir/apiserver.pid")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || exit 0; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true ;;
  start)
    # shellcheck disable=SC2046
    "$IRSA_E2E_BIN/kube-apiserver" $(cat "$dir/apiserver.args") >> "$dir/logs/kube-apiserver.log" 2>&1 &
    echo $! > "$dir/apiserver.pid"
    for _ in $(seq 1 300); do
      curl -fsS --cacert "$dir/pki/ca.crt" --cert "$dir/pki/admin.crt" --key "$dir/pki/admin.key" \
        "$IRSA_E2E_APISERVER/readyz" >/dev/null 2>&1 && exit 0
      sleep 0.2
    done
    echo "kube-apiserver did not become ready again" >&2; exit 1 ;;
esac
