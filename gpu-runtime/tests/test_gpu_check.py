"""bench/device_run.sh (every GPU check of issue 13: gpu_check's table, the gradient-checkpointing on/off bench, the
FSDP meta-init smoke under torchrun) runs end to end in its tiny mode on a CPU; the GPU run itself needs a device.

TRL (d) needs trl + datasets, which neither the dev venv nor the GPU image has: with bench/.wheelhouse present
(bench/fetch_wheels.sh) and LP_TRL_DEPS naming a folder with what the GPU image has besides (pyarrow, pandas, ...),
the TRL row must show a rate; otherwise it must say why it was skipped."""
import json
import os
import subprocess


def test_device_run_tiny_mode(tmp_path):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = tmp_path / "out"
    env = {**os.environ, "DEVICE": "tiny", "OUT": str(out)}
    if os.environ.get("LP_TRL_DEPS"):
        env["EXTRA_PYTHONPATH"] = os.environ["LP_TRL_DEPS"]
    else:  # without the image's pyarrow/pandas, unpacked trl/datasets cannot import: leave the wheelhouse out
        (tmp_path / "no-wheels").mkdir()
        env["WHEELHOUSE"] = str(tmp_path / "no-wheels")
    r = subprocess.run(["bash", "bench/device_run.sh"], cwd=root, capture_output=True, text=True, timeout=900, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    summary = (out / "summary.txt").read_text()
    assert "FAIL" not in summary and "SKIP" not in summary, summary
    assert sorted(os.listdir(out)) <= sorted(["summary.txt", "env.log", "trl_wheels.log", "gpu_check.log",
                                              "gpu_check.json", "gc_bench.log", "gc_bench.json", "fsdp_smoke.log"])
    assert len(os.listdir(out)) <= 8  # the device tool returns at most 8 files
    lines = summary.splitlines()
    for mode in ("a) HF+PEFT pad-512", "b) ours dynamic padding", "c) ours packing"):
        assert any(line.startswith(mode) and line.split()[-3].replace(".", "").isdigit() for line in lines), summary
    trl = next(line for line in lines if line.startswith("d) TRL SFTTrainer padding-free"))
    if os.environ.get("LP_TRL_DEPS") and os.path.isdir(os.path.join(root, "bench", ".wheelhouse")):
        assert "skipped" not in trl, trl
    else:
        assert "skipped: " in trl or trl.split()[-3].replace(".", "").isdigit(), trl
    assert any(line.startswith("eval generation: ") for line in lines)
    res = json.loads((out / "gpu_check.json").read_text())
    assert all(x["tokens_per_s"] > 0 for x in res["results"] if "skipped" not in x) and res["eval"]["tokens_per_s"] > 0
    gc = json.loads((out / "gc_bench.json").read_text())
    assert {(row["size"], row["gradient_checkpointing"]) for row in gc["rows"]} == \
        {("tiny-a", False), ("tiny-a", True), ("tiny-b", False), ("tiny-b", True)}
    assert all(row["tokens_per_s"] > 0 for row in gc["rows"])
    assert any(line.startswith("peaks for train._PEAK_GIB_WITHOUT_CHECKPOINTING") for line in lines)
    assert any(line.startswith("fsdp smoke: ok: 1 process(es)") for line in lines), summary
    assert summary.rstrip().endswith("device_run finished") and r.stdout.rstrip().endswith("device_run finished")
