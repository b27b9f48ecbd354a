#!/usr/bin/env bash
# Makes the Python tools the chart tests use available, idempotently: a virtualenv with
# helm-python-sdk (the Helm library, renders and lints the chart offline) and
# kubernetes-validate (Kubernetes JSON schemas, validates manifests offline). Prints the
# virtualenv's python on the last line.
#
#   SENTINEL_VENV   where the virtualenv lives (default ~/.cache/uptime-sentinel/venv)
set -euo pipefail

venv="${SENTINEL_VENV:-$HOME/.cache/uptime-sentinel/venv}"
requirements=(helm-python-sdk==0.2.2 kubernetes-validate==1.37.0 PyYAML==6.0.3)

log() { echo "python-tools: $*" >&2; }

if [ ! -x "$venv/bin/python" ]; then
  if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
    log "installing python3-venv (Debian)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq python3 python3-venv >&2
  fi
  log "creating $venv"
  mkdir -p "$(dirname "$venv")"
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" - "${requirements[@]}" <<'PY' >/dev/null 2>&1
import sys
from importlib.metadata import version
for requirement in sys.argv[1:]:
    name, wanted = requirement.split("==")
    assert version(name) == wanted, requirement
PY
then
  log "installing ${requirements[*]}"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "${requirements[@]}" >&2
fi
echo "$venv/bin/python"
