"""FSDP smoke test: the runtime's real `train` command under torchrun with `distributed.strategy: fsdp`, one process
per GPU (or CPU/gloo), so the meta-init + broadcast-from-rank-0 path, FSDP2 sharding and gradient checkpointing run
together on the device. It passes when training finishes the requested steps with a finite loss and the log
shows the FSDP set-up; prints one summary line.

  python bench/fsdp_smoke.py                  # a ~0.1B Qwen2 (char tokenizer), 20 steps, nproc = GPUs (1 on CPU)
  python bench/fsdp_smoke.py --tiny           # 2-layer toy, 3 steps on a CPU
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tiny", action="store_true")
    ap.add_argument("--nproc", type=int, default=None)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--timeout", type=float, default=240)
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--precision", default="auto", help="training.precision (auto = bf16 on GPU)")
    a = ap.parse_args()
    import torch

    from loraplane_runtime.demo_data import make_demo_data
    from loraplane_runtime.tiny_model import make_tiny_model

    steps = a.steps or (3 if a.tiny else 20)
    nproc = a.nproc or max(1, torch.cuda.device_count())
    work = a.workdir or tempfile.mkdtemp(prefix="lp-fsdp-smoke-")
    shape = dict(layers=2, hidden=64, heads=4) if a.tiny else dict(layers=8, hidden=1024, heads=16, intermediate=2816)
    info = make_tiny_model(os.path.join(work, "model"), "qwen2", seed=0, **shape)
    data = make_demo_data(os.path.join(work, "data"), seed=1, train=max(64, 8 * steps * nproc), validation=8, test=1)
    job = {"runId": "fsdp-smoke", "stage": "train",
           "paths": {"baseModel": info["output"], "dataDir": data["output"], "outputDir": os.path.join(work, "out")},
           "spec": {"training": {"maxSteps": steps, "batchSize": 8, "learningRate": 1e-3, "logEverySteps": 1,
                                 "checkpointEverySteps": 10 ** 6, "gradientCheckpointing": True,
                                 "precision": a.precision,
                                 "lora": {"r": 8, "alpha": 16}},
                    "distributed": {"nprocPerNode": nproc, "strategy": "fsdp"}}}
    job_path = os.path.join(work, "job.json")
    with open(job_path, "w") as f:
        json.dump(job, f)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LORAPLANE_")}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc), "--master_port", "29561",
           "-m", "loraplane_runtime.cli", "train", "--config", job_path]
    print("fsdp smoke: " + " ".join(cmd), flush=True)
    t0 = time.monotonic()
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=a.timeout, env=env)
    except subprocess.TimeoutExpired as e:
        sys.stderr.write((e.stderr or b"").decode(errors="replace")[-4000:] if isinstance(e.stderr, bytes) else (e.stderr or ""))
        print(f"fsdp smoke: FAILED: torchrun did not finish within {a.timeout:.0f} s", flush=True)
        return 1
    secs = time.monotonic() - t0
    sys.stderr.write(r.stderr[-6000:])
    evs = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    losses = [p["value"] for e in evs if e.get("event") == "metrics" for p in e["points"] if p["key"] == "train/loss"]
    rates = [p["value"] for e in evs if e.get("event") == "metrics" for p in e["points"]
             if p["key"] == "train/tokens_per_second"]
    result = next((e for e in evs if e.get("event") == "result"), None)
    problems = []
    if r.returncode != 0:
        problems.append(f"exit {r.returncode}")
    if not result or result.get("steps") != steps:
        problems.append(f"no result for {steps} steps")
    if not losses or not all(math.isfinite(x) for x in losses):
        problems.append("no finite loss")
    if "fsdp (rank 0 loaded, others meta-initialised)" not in r.stderr:
        problems.append("the FSDP set-up line is missing from the log")
    if "gradient checkpointing on" not in r.stderr:
        problems.append("gradient checkpointing did not turn on")
    what = (f"{nproc} process(es), {info['parameters'] / 1e6:.0f}M params, {steps} steps in {secs:.0f} s, "
            f"loss {losses[0]:.3f} -> {losses[-1]:.3f}, last {rates[-1]:.0f} tokens/s" if losses and rates else "")
    if problems:
        print(f"fsdp smoke: FAILED: {'; '.join(problems)} {what}", flush=True)
        return 1
    print(f"fsdp smoke: ok: {what}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
