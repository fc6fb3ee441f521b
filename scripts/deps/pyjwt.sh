#!/usr/bin/env bash
# Installs PyJWT (with the `cryptography` backend) for irsa's JWT interop tests
# (crates/irsa-cli/tests/oidc_token.rs): .cache/pyjwt/venv/bin/python.
# Idempotent. The tests fail naming this script when it has not run, unless IRSA_SKIP_EXTERNAL=1 (or true).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="$root/.cache/pyjwt/venv"
want='pyjwt[crypto]==2.10.1'

if ! command -v python3 >/dev/null 2>&1; then
  echo "pyjwt.sh: python3 not found" >&2
  exit 1
fi
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
stamp="$venv/.installed"
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  "$venv/bin/pip" install --disable-pip-version-check -q "$want"
  echo "$want" > "$stamp"
fi
"$venv/bin/python" -c 'import jwt, cryptography; print("pyjwt", jwt.__version__, "cryptography", cryptography.__version__)'
