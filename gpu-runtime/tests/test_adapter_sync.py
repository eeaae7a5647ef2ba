import json
import os
import subprocess
import sys

import pytest

from loraplane_runtime.adapter_sync import sync_adapter
from loraplane_runtime.errors import ConfigError
from loraplane_runtime.modeling import dir_digest, write_manifest


def _adapter(tmp_path):
    src = tmp_path / "runs" / "r1" / "train-1" / "adapter"
    src.mkdir(parents=True)
    (src / "adapter_config.json").write_text('{"r": 8}')
    (src / "adapter_model.safetensors").write_bytes(b"\x00weights" * 100)
    write_manifest(str(src), {"kind": "adapter"})
    return src, dir_digest(str(src))[0]


def test_copies_verifies_and_is_idempotent(tmp_path):
    src, digest = _adapter(tmp_path)
    dest = tmp_path / "adapters"
    dest.mkdir()
    out = sync_adapter(str(src), str(dest), "demo-v1", digest)
    assert out == {"adapter": str(dest / "demo-v1"), "sha256": digest, "copied": True}
    assert (dest / "demo-v1" / "adapter_model.safetensors").read_bytes() == b"\x00weights" * 100
    assert sorted(os.listdir(dest)) == ["demo-v1"]  # no temporary folder left behind
    assert sync_adapter(str(src), str(dest), "demo-v1", digest)["copied"] is False


def test_refuses_a_different_digest_a_tampered_file_and_unlisted_files(tmp_path):
    src, digest = _adapter(tmp_path)
    dest = tmp_path / "adapters"
    dest.mkdir()
    with pytest.raises(ConfigError, match="digest mismatch"):
        sync_adapter(str(src), str(dest), "demo-v1", "0" * 64)
    (src / "adapter_model.safetensors").write_bytes(b"planted")
    with pytest.raises(ConfigError, match="adapter_model.safetensors does not match"):
        sync_adapter(str(src), str(dest), "demo-v1", digest)
    src2, digest2 = _adapter(tmp_path / "b")
    (src2 / "extra.py").write_text("import os")
    with pytest.raises(ConfigError, match="not in the manifest"):
        sync_adapter(str(src2), str(dest), "demo-v2", digest2)
    assert os.listdir(dest) == []


def test_refuses_names_that_escape_the_volume(tmp_path):
    src, digest = _adapter(tmp_path)
    for bad in ["../x", ".hidden", "A", "a/b", ""]:
        with pytest.raises(ConfigError, match="adapter name"):
            sync_adapter(str(src), str(tmp_path), bad, digest)


def test_cli_exit_code_and_result_line(tmp_path):
    src, digest = _adapter(tmp_path)
    dest = tmp_path / "adapters"
    dest.mkdir()
    ok = subprocess.run([sys.executable, "-m", "loraplane_runtime.cli", "sync-adapter", "--source", str(src), "--dest-root", str(dest), "--name", "demo-v1", "--sha256", digest], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout.strip().splitlines()[-1])["copied"] is True
    bad = subprocess.run([sys.executable, "-m", "loraplane_runtime.cli", "sync-adapter", "--source", str(src), "--dest-root", str(dest), "--name", "demo-v2", "--sha256", "f" * 64], capture_output=True, text=True)
    assert bad.returncode != 0
    assert "digest mismatch" in bad.stderr
