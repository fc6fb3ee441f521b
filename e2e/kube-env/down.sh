#!/usr/bin/env bash
# Stops what up.sh DIR started (kube-apiserver first, then etcd) and waits, bounded,
# for the processes to exit. Safe to run twice, and on a half-started DIR.
set -uo pipefail
dir=${1:?usage: down.sh DIR}
for name in apiserver etcd; do
  pidfile="$dir/$name.pid"
  [ -f "$pidfile" ] || continue
  pid=$(cat "$pidfile")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$pidfile"
done
