"""Places a registered LoRA adapter where vLLM pods read it: copies the adapter directory from the artifacts volume
to `<dest_root>/<name>`, checks every byte against the adapter's manifest and the registered digest, and publishes it
with an atomic rename. A copy that does not match is removed and the command fails, so vLLM never sees a
half-written or substituted adapter (the filesystem LoRA resolver loads whatever directory carries the name)."""

import json
import os
import shutil
import uuid

from . import errors as E
from .digests import sha256_file

NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789._-")


def _verify(directory: str, expected_digest: str) -> None:
    manifest_path = os.path.join(directory, "manifest.json")
    if not os.path.isfile(manifest_path):
        raise E.ConfigError(f"{directory} has no manifest.json")
    got = sha256_file(manifest_path)
    if got != expected_digest:
        raise E.ConfigError(f"adapter digest mismatch: registered {expected_digest}, manifest.json is {got}")
    with open(manifest_path, encoding="utf-8") as f:
        listed = {x["path"]: x for x in json.load(f)["files"]}
    present = set()
    for root, dirs, names in os.walk(directory):
        for n in dirs + names:
            if os.path.islink(os.path.join(root, n)):
                raise E.ConfigError(f"{os.path.relpath(os.path.join(root, n), directory)} is a symlink (refused)")
        for n in names:
            rel = os.path.relpath(os.path.join(root, n), directory)
            if rel != "manifest.json":
                present.add(rel)
    unlisted = sorted(present - set(listed))
    if unlisted:
        raise E.ConfigError(f"files not in the manifest: {unlisted}")
    for rel, entry in listed.items():
        p = os.path.join(directory, rel)
        if not os.path.isfile(p):
            raise E.ConfigError(f"{rel} is listed in the manifest but missing")
        if sha256_file(p) != entry["sha256"]:
            raise E.ConfigError(f"{rel} does not match its sha256 in the manifest")


def sync_adapter(source: str, dest_root: str, name: str, sha256: str) -> dict:
    if not name or set(name) - NAME_CHARS or name.startswith("."):
        raise E.ConfigError(f"adapter name {name!r} must be lower-case letters, digits, '.', '_' or '-'")
    target = os.path.join(dest_root, name)
    if os.path.isdir(target):
        # Idempotent: a Job retried after the rename (or a second environment) finds the verified copy.
        _verify(target, sha256)
        return {"adapter": target, "sha256": sha256, "copied": False}
    _verify(source, sha256)
    tmp = os.path.join(dest_root, f".tmp-{name}-{uuid.uuid4().hex[:8]}")
    try:
        shutil.copytree(source, tmp, symlinks=True)
        _verify(tmp, sha256)  # what landed on the adapters volume, not only what was read
        os.rename(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {"adapter": target, "sha256": sha256, "copied": True}
