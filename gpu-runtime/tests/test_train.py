import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from conftest import RUNTIME, events, run_cli, write_job


def _losses(evs):
    return [p["value"] for e in evs if e["event"] == "metrics" for p in e["points"] if p["key"] == "train/loss"]


def test_training_lowers_loss_and_writes_adapter(work, tiny_model, demo_data):
    out = work / "train-basic"
    job = write_job(work / "basic.json", base=tiny_model, data=demo_data, out=str(out),
                    training={"maxSteps": 40, "packing": True})
    r = run_cli(["train", "--config", job])
    assert r.returncode == 0, r.stderr
    evs = events(r.stdout)  # every stdout line parses as JSON
    losses = _losses(evs)
    assert len(losses) == 8
    assert losses[-1] < losses[0] - 0.3, losses
    keys = {p["key"] for e in evs if e["event"] == "metrics" for p in e["points"]}
    assert {"train/loss", "train/learning_rate", "train/grad_norm", "train/tokens_per_second", "train/epoch", "val/loss"} <= keys
    result = evs[-1]
    assert result["event"] == "result" and result["stage"] == "train" and result["steps"] == 40
    adapter = out / "adapter"
    assert result["adapterDir"] == str(adapter)
    manifest = json.loads((adapter / "manifest.json").read_text())
    names = {f["path"] for f in manifest["files"]}
    assert {"adapter_model.safetensors", "adapter_config.json", "tokenizer.json"} <= names
    from loraplane_runtime.modeling import sha256_file
    for f in manifest["files"]:
        assert sha256_file(str(adapter / f["path"])) == f["sha256"]
    arts = [e for e in evs if e["event"] == "artifact"]
    assert {"checkpoint", "adapter"} <= {a["kind"] for a in arts}
    assert any(e["event"] == "progress" and e["progress"] == 1.0 for e in evs)


def _wait_for_step(proc, step, timeout=120):
    """Read stdout events until a progress event at >= step (the run is then past that step)."""
    deadline = time.time() + timeout
    lines = []
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        ev = json.loads(line)
        if ev["event"] == "progress" and ev["step"] >= step:
            return lines
    raise AssertionError(f"run never reached step {step}: {lines}")


def test_resume_after_kill_reproduces_uninterrupted_adapter(work, tiny_model, demo_data):
    training = {"maxSteps": 30, "checkpointEverySteps": 10, "logEverySteps": 1, "lora": {"r": 8, "alpha": 16, "dropout": 0.1}}
    ref_out = work / "resume-ref"
    r = run_cli(["train", "--config", write_job(work / "ref.json", base=tiny_model, data=demo_data,
                                                  out=str(ref_out), training=training)])
    assert r.returncode == 0, r.stderr

    out = work / "resume"
    job = write_job(work / "resume.json", base=tiny_model, data=demo_data, out=str(out), training=training)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LORAPLANE_")}
    # 1) SIGKILL after step 13: only the periodic checkpoint at step 10 survives.
    p = subprocess.Popen(RUNTIME + ["train", "--config", job], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    _wait_for_step(p, 13)
    p.kill()
    p.wait()
    assert sorted(os.listdir(out / "checkpoints")) == ["step-10"]
    # 2) resume, then SIGTERM after step 16: saves a checkpoint and exits 75.
    p = subprocess.Popen(RUNTIME + ["train", "--config", job], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    _wait_for_step(p, 16)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 75, err
    assert "loraplane-runtime: error: stopped by SIGTERM" in err
    saved = sorted(int(n[5:]) for n in os.listdir(out / "checkpoints"))
    assert saved[-1] >= 16
    # 3) resume to the end.
    r = run_cli(["train", "--config", job])
    assert r.returncode == 0, r.stderr
    assert f"resumed from {out / 'checkpoints' / f'step-{saved[-1]}'}" in r.stderr
    a = load_file(str(ref_out / "adapter" / "adapter_model.safetensors"))
    b = load_file(str(out / "adapter" / "adapter_model.safetensors"))
    assert a.keys() == b.keys()
    init = load_file(str(ref_out / "checkpoints" / "step-10" / "adapter_model.safetensors"))
    for k in a:
        torch.testing.assert_close(b[k], a[k], atol=1e-5, rtol=1e-4)
    # the comparison is meaningful: the adapter moved well beyond the tolerance since step 10
    assert max(float((a[k] - init[k]).abs().max()) for k in a) > 1e-3


def _expect_error(r, code, *fragments):
    assert r.returncode == code, (r.returncode, r.stderr)
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("loraplane-runtime: error: "), last
    for f in fragments:
        assert f in last, last
    assert r.stdout.strip() == "" or all(json.loads(l) for l in r.stdout.splitlines())


def test_bad_configs_exit_codes(work, tiny_model, demo_data, tmp_path):
    job = write_job(tmp_path / "a.json", base=tiny_model, data=demo_data, out=str(tmp_path / "o"),
                    training={"lora": {"targetModules": ["q_proj", "qkv_proj"]}})
    _expect_error(run_cli(["train", "--config", job]), 2, "qkv_proj", "valid modules", "'gate_proj'", "'q_proj'")

    job = write_job(tmp_path / "b.json", base=str(tmp_path / "nope"), data=demo_data, out=str(tmp_path / "o"))
    _expect_error(run_cli(["train", "--config", job]), 2, "base model not found")

    job = write_job(tmp_path / "c.json", base=tiny_model, data=demo_data, out=str(tmp_path / "o"), training={"scheduler": "step"})
    _expect_error(run_cli(["train", "--config", job]), 2, "spec.training.scheduler")

    empty = tmp_path / "empty"
    empty.mkdir()
    job = write_job(tmp_path / "d.json", base=tiny_model, data=str(empty), out=str(tmp_path / "o"))
    _expect_error(run_cli(["train", "--config", job]), 3, "data file not found", "train.jsonl")

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "train.jsonl").write_text('{"instruction":"a","output":"b"}\n{"instruction":"c","output":"d"}\n{oops\n')
    job = write_job(tmp_path / "e.json", base=tiny_model, data=str(bad), out=str(tmp_path / "o"))
    _expect_error(run_cli(["train", "--config", job]), 3, "train.jsonl:3")


def _torchrun(job):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LORAPLANE_")}
    env["OMP_NUM_THREADS"] = "1"
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29533",
                           "-m", "loraplane_runtime.cli", "train", "--config", job],
                          capture_output=True, text=True, timeout=300, env=env)


def test_torchrun_two_process_gloo_ddp_and_fsdp(work, tiny_model, demo_data):
    training = {"maxSteps": 6, "batchSize": 4, "checkpointEverySteps": 3, "logEverySteps": 3}
    adapters, losses = {}, {}
    for strategy in ("ddp", "fsdp"):
        out = work / f"dist-{strategy}"
        job = write_job(work / f"{strategy}.json", base=tiny_model, data=demo_data, out=str(out), training=training,
                        extra={"distributed": {"nprocPerNode": 2, "strategy": strategy}})
        r = _torchrun(job)
        assert r.returncode == 0, r.stderr[-3000:]
        results = [e for e in events(r.stdout) if e["event"] == "result"]
        assert len(results) == 1 and results[0]["steps"] == 6  # only rank 0 reports
        assert "world 2" in r.stderr
        assert sorted(os.listdir(out / "checkpoints")) == ["step-3"]
        assert {"rng-0.pt", "rng-1.pt"} <= set(os.listdir(out / "checkpoints" / "step-3"))
        adapters[strategy] = load_file(str(out / "adapter" / "adapter_model.safetensors"))
        losses[strategy] = [p["value"] for e in events(r.stdout) if e["event"] == "metrics"
                            for p in e["points"] if p["key"] == "train/loss"]
    # FSDP (rank 1 meta-initialised, weights broadcast from rank 0) shards the same math as DDP: same losses, adapter
    assert len(losses["fsdp"]) == 2 and losses["fsdp"] == pytest.approx(losses["ddp"], rel=1e-5)
    for k, v in adapters["ddp"].items():
        torch.testing.assert_close(adapters["fsdp"][k], v, atol=1e-5, rtol=1e-4)
    assert max(float(v.abs().max()) for k, v in adapters["fsdp"].items() if "lora_B" in k) > 1e-4  # it trained
    # FSDP resume: a fresh run given only the step-3 checkpoint finishes with the same adapter
    out = work / "dist-fsdp-resume"
    (out / "checkpoints").mkdir(parents=True)
    shutil.copytree(work / "dist-fsdp" / "checkpoints" / "step-3", out / "checkpoints" / "step-3")
    job = write_job(work / "fsdp-resume.json", base=tiny_model, data=demo_data, out=str(out), training=training,
                    extra={"distributed": {"nprocPerNode": 2, "strategy": "fsdp"}})
    r = _torchrun(job)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "resumed from" in r.stderr
    resumed = load_file(str(out / "adapter" / "adapter_model.safetensors"))
    for k, v in adapters["fsdp"].items():
        torch.testing.assert_close(resumed[k], v, atol=1e-5, rtol=1e-4)
