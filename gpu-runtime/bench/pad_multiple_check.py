"""The runtime's real `train` on a GPU with dynamic padding rounded to train.GPU_PAD_MULTIPLE (64, the default on a
GPU) against no rounding (1): same Qwen2.5-0.5B-shaped model, data, spec and steps, each in its own process.
Reports wall time of the training loop, mean real tokens/s and the `auto` gradient-checkpointing choice from the log.

    python3 bench/pad_multiple_check.py [--steps 60] [--tiny]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from gpu_check import QWEN05, TINY, build_model
from loraplane_runtime.demo_data import make_demo_data

RUN = "import sys; import loraplane_runtime.train as T; T.GPU_PAD_MULTIPLE = int(sys.argv[1]); " \
      "from loraplane_runtime.cli import main; sys.exit(main(sys.argv[2:]))"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tiny", action="store_true")
    ap.add_argument("--steps", type=int, default=None)
    a = ap.parse_args()
    steps = a.steps or (4 if a.tiny else 60)
    work = tempfile.mkdtemp(prefix="lp-padcheck-")
    model = build_model(os.path.join(work, "model"), TINY if a.tiny else QWEN05)
    data = make_demo_data(os.path.join(work, "data"), seed=1, train=max(64, 16 * steps), validation=8, test=1)["output"]
    print(f"{'multiple':>8} {'seconds':>8} {'real tokens/s (mean of logged)':>31}  checkpointing")
    for multiple in (1, 64, 1, 64):
        out = os.path.join(work, f"out-{multiple}-{time.monotonic_ns()}")
        job = {"runId": "pad-check", "stage": "train", "paths": {"baseModel": model, "dataDir": data, "outputDir": out},
               "spec": {"training": {"maxSteps": steps, "batchSize": 16, "learningRate": 1e-4, "logEverySteps": 5,
                                     "checkpointEverySteps": 10 ** 6, "gradientCheckpointing": "auto",
                                     "lora": {"r": 16, "alpha": 32}}}}
        path = os.path.join(work, "job.json")
        with open(path, "w") as f:
            json.dump(job, f)
        env = {k: v for k, v in os.environ.items() if not k.startswith("LORAPLANE_")}
        t0 = time.monotonic()
        r = subprocess.run([sys.executable, "-c", RUN, str(multiple), "train", "--config", path],
                           capture_output=True, text=True, env=env, timeout=600)
        secs = time.monotonic() - t0
        evs = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
        rates = [p["value"] for e in evs if e.get("event") == "metrics" for p in e["points"] if p["key"] == "train/tokens_per_second"]
        ckpt = next((line.split("gradient checkpointing ")[1].split()[0] for line in r.stderr.splitlines() if "gradient checkpointing " in line), "?")
        if r.returncode != 0 or not rates:
            print(f"{multiple:>8} FAILED exit {r.returncode}: {r.stderr[-800:]}")
            continue
        print(f"{multiple:>8} {secs:>8.1f} {sum(rates) / len(rates):>31.0f}  {ckpt}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
