"""bench/gpu_check.sh runs end to end in its tiny mode on a CPU (the GPU run itself needs a device)."""
import json
import os
import subprocess


def test_gpu_check_tiny_mode(tmp_path):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = tmp_path / "gc.json"
    r = subprocess.run(["bash", "bench/gpu_check.sh", "--json", str(out)], cwd=root, capture_output=True, text=True,
                       timeout=600, env={**os.environ, "DEVICE": "tiny"})
    assert r.returncode == 0, r.stderr[-3000:]
    lines = r.stdout.splitlines()
    assert lines[0].startswith("device: ") and "tiny" in lines[0]
    for mode in ("a) HF+PEFT pad-512", "b) ours dynamic padding", "c) ours packing", "d) TRL SFTTrainer padding-free"):
        assert any(line.startswith(mode) for line in lines), r.stdout
    assert lines[-1].startswith("eval generation: ")
    res = json.loads(out.read_text())
    ours = [x for x in res["results"] if "skipped" not in x]
    assert len(ours) >= 3 and all(x["tokens_per_s"] > 0 for x in ours)
    assert res["eval"]["tokens_per_s"] > 0
