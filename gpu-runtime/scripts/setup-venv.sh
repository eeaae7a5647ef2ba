#!/usr/bin/env bash
# Idempotent: creates gpu-runtime/.venv and installs pinned requirements + this package (editable), offline.
# Skips the install when the stamp matches the hash of the requirement files and pyproject.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
HASH="$(cat requirements.txt requirements-dev.txt pyproject.toml | sha256sum | cut -d' ' -f1)"
STAMP=.venv/.loraplane-requirements.sha256
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$HASH" ]; then
  echo "gpu-runtime: venv up to date" >&2
  exit 0
fi
INDEX=()
# The machines' pip config lists pypi.org first, which is unreachable here and costs retries per
# package; point pip straight at the local mirror when it exists.
if [ -d /opt/pypi/simple ]; then
  INDEX=(--index-url file:///opt/pypi/simple)
  [ -d /opt/pypi-more/simple ] && INDEX+=(--extra-index-url file:///opt/pypi-more/simple)
fi
# pip warns once per package that the extra index lacks ("Location '…' is ignored: it is neither a file nor a
# directory") — over a hundred lines on a first start that mean nothing; every other line still gets through.
quiet_pip() {
  .venv/bin/pip "$@" 2> >(sed -u -e "/^WARNING: Location '.*' is ignored: /d" >&2)
}
quiet_pip install -q "${INDEX[@]}" -r requirements.txt -r requirements-dev.txt
quiet_pip install -q "${INDEX[@]}" --no-deps --no-build-isolation -e .
echo "$HASH" > "$STAMP"
echo "gpu-runtime: venv ready" >&2
