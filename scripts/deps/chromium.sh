#!/usr/bin/env bash
# Installs Debian's chromium, the headless browser that renders `irsa audit --format html`
# in the irsa-audit tests (a screenshot and the DOM). Uses apt-get (as root, or through
# sudo when available); does nothing when `chromium` is already on PATH. Prints its path.
set -euo pipefail
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then sudo=(); elif command -v sudo >/dev/null 2>&1; then sudo=(sudo); else
    echo "chromium.sh: chromium is missing and neither root nor sudo is available: install Debian's chromium package" >&2
    exit 1
  fi
  start=$(date +%s)
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    chromium fonts-dejavu-core >/dev/null
  echo "chromium.sh: installed chromium in $(( $(date +%s) - start ))s" >&2
fi
command -v chromium
