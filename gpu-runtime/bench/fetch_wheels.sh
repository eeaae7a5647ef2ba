#!/usr/bin/env bash
# Wheels the GPU image lacks for gpu_check's TRL branch (d): trl, datasets and the two pure-Python needs of
# datasets the image does not have (dill, multiprocess). Everything else datasets/trl need (pyarrow, pandas,
# xxhash, fsspec, aiohttp, httpx, accelerate, transformers...) is in the image (device KINDS.md package list).
# Fetched from the local wheel mirror into bench/.wheelhouse/ (git-ignored; ~1.9 MB), which the device run carries.
# The mirror has multiprocess for py310/py311 only; device_run.sh unpacks the wheels itself (all pure Python)
# rather than pip-installing them, so the py311 tag is not refused on the image's Python 3.12.
set -euo pipefail
cd "$(dirname "$0")"
DEST=.wheelhouse
mkdir -p "$DEST"
INDEX=(--index-url file:///opt/pypi/simple)
[ -d /opt/pypi-more/simple ] && INDEX+=(--extra-index-url file:///opt/pypi-more/simple)
PY="${PYTHON:-python3}"
"$PY" -m pip download -q --no-deps --only-binary=:all: "${INDEX[@]}" -d "$DEST" \
  trl==1.13.0 datasets==5.0.1 dill==0.4.1 2> >(grep -v "is ignored: it is neither" >&2)
"$PY" -m pip download -q --no-deps --only-binary=:all: "${INDEX[@]}" -d "$DEST" \
  --python-version 3.11 multiprocess==0.70.19 2> >(grep -v "is ignored: it is neither" >&2)
ls -la "$DEST"
du -sh "$DEST"
