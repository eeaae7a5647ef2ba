"""The runtime's real `train` in two variants on the same GPU, model, data and spec, each in its own process,
alternating (A, B, A, B) so warm-up of the machine is shared: wall time and the trainer's own logged real tokens/s.
  --before DIR        A = an older `loraplane_runtime` package in DIR (e.g. from `git archive <rev>
                      gpu-runtime/loraplane_runtime`), B = this checkout's
  --pad-multiples     A = this checkout with train.GPU_PAD_MULTIPLE = 1, B = with 64 (its default on a GPU)

    python3 bench/trainer_check.py --before /tmp/before [--steps 60] [--tiny]
    python3 bench/trainer_check.py --pad-multiples [--steps 60] [--tiny]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from gpu_check import QWEN05, TINY, build_model
from loraplane_runtime import data as D
from loraplane_runtime.demo_data import make_demo_data
from loraplane_runtime.modeling import load_tokenizer

RUNTIME = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# `train` with the trainer's batch-width multiple set first (the --pad-multiples comparison).
WITH_PAD_MULTIPLE = "import sys; import loraplane_runtime.train as T; T.GPU_PAD_MULTIPLE = int(sys.argv[1]); " \
                    "from loraplane_runtime.cli import main; sys.exit(main(sys.argv[2:]))"


def run_once(pythonpath: str, job_path: str, pad_multiple: int | None = None) -> tuple:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LORAPLANE_")}
    env["PYTHONPATH"] = pythonpath
    train = ["-m", "loraplane_runtime.cli"] if pad_multiple is None else ["-c", WITH_PAD_MULTIPLE, str(pad_multiple)]
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, *train, "train", "--config", job_path],
                       capture_output=True, text=True, env=env, timeout=600)
    secs = time.monotonic() - t0
    evs = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    rates = [p["value"] for e in evs if e.get("event") == "metrics" for p in e["points"] if p["key"] == "train/tokens_per_second"]
    if r.returncode != 0 or not rates:
        return None, f"exit {r.returncode}: {r.stderr[-600:]}"
    # The first logged window holds the first steps' one-off costs; the rest is the steady state.
    return {"seconds": secs, "first_window": rates[0],
            "steady": statistics.median(rates[1:]) if len(rates) > 1 else rates[0]}, None


def main() -> int:
    ap = argparse.ArgumentParser()
    which = ap.add_mutually_exclusive_group(required=True)
    which.add_argument("--before", help="folder holding the older loraplane_runtime package")
    which.add_argument("--pad-multiples", action="store_true", help="GPU_PAD_MULTIPLE 1 against 64")
    ap.add_argument("--tiny", action="store_true")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--batch-size", type=int, default=16)
    a = ap.parse_args()
    steps = a.steps or (6 if a.tiny else 60)
    work = tempfile.mkdtemp(prefix="lp-trainercheck-")
    model = build_model(os.path.join(work, "model"), TINY if a.tiny else QWEN05)
    data = make_demo_data(os.path.join(work, "data"), train=max(64, a.batch_size * steps), validation=8, test=1)["output"]
    tok = load_tokenizer(model)
    # As the trainer formats them (the spec's default dataset format, "auto").
    rows = D.load_split(data, "train", "auto")
    lengths = [len(e["input_ids"]) for e in D.tokenize_dataset(tok, D.PromptFormatter(tok, "auto"), rows, 1024, "train")]
    print(f"model {'tiny' if a.tiny else 'Qwen2.5-0.5B shape'}; {steps} steps, batch {a.batch_size}, "
          f"mean {statistics.mean(lengths):.1f} tokens/example; logged every 5 steps")
    print(f"{'runtime':11} {'process s':>10} {'first 5 steps tok/s':>20} {'steady tok/s (median)':>22}")
    names = ("multiple 1", "multiple 64") if a.pad_multiples else ("before", "after")
    for name in names * 2:
        job = {"runId": "trainer-check", "stage": "train",
               "paths": {"baseModel": model, "dataDir": data, "outputDir": os.path.join(work, f"out-{time.monotonic_ns()}")},
               "spec": {"training": {"maxSteps": steps, "batchSize": a.batch_size, "learningRate": 1e-4, "logEverySteps": 5,
                                     "checkpointEverySteps": 10 ** 6, "lora": {"r": 16, "alpha": 32}}}}
        path = os.path.join(work, "job.json")
        with open(path, "w") as f:
            json.dump(job, f)
        if a.pad_multiples:
            out, err = run_once(RUNTIME, path, int(name.split()[1]))
        else:
            out, err = run_once(os.path.abspath(a.before) if name == "before" else RUNTIME, path)
        if err:
            print(f"{name:11} FAILED {err}", flush=True)
            continue
        print(f"{name:11} {out['seconds']:>10.1f} {out['first_window']:>20.0f} {out['steady']:>22.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
