import json
import os
import subprocess
import sys

import pytest

RUNTIME = [sys.executable, "-m", "loraplane_runtime.cli"]


@pytest.fixture(scope="session")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("lp")


@pytest.fixture(scope="session")
def tiny_model(work):
    from loraplane_runtime.tiny_model import make_tiny_model

    out = work / "model"
    make_tiny_model(str(out), "qwen2", layers=2, hidden=64, heads=4, seed=0)
    return str(out)


@pytest.fixture(scope="session")
def demo_data(work):
    from loraplane_runtime.demo_data import make_demo_data

    out = work / "data"
    make_demo_data(str(out), seed=1, train=256, validation=32, test=32)
    return str(out)


def write_job(path, *, base, data, out, adapter=None, training=None, eval_=None, stage="train", dataset=None, extra=None):
    job = {"runId": "run_test", "stage": stage,
           "paths": {"baseModel": base, "dataDir": data, "outputDir": out, "adapterDir": adapter},
           "spec": {"training": {"learningRate": 1e-3, "batchSize": 8, "maxSteps": 20, "logEverySteps": 5,
                                 "checkpointEverySteps": 10, "warmupRatio": 0.0, "lora": {"r": 8, "alpha": 16},
                                 **(training or {})},
                    "eval": eval_ or {}, "dataset": dataset or {}, **(extra or {})}}
    with open(path, "w") as f:
        json.dump(job, f)
    return str(path)


def run_cli(args, timeout=300, env=None):
    e = dict(os.environ)
    e.pop("LORAPLANE_URL", None)
    e.pop("LORAPLANE_RUN_TOKEN", None)
    e.update(env or {})
    return subprocess.run(RUNTIME + args, capture_output=True, text=True, timeout=timeout, env=e)


def events(stdout: str) -> list:
    """Every stdout line must be a JSON object (the contract); returns them parsed."""
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


@pytest.fixture(scope="session")
def short_model(work):
    """Like tiny_model, with a 128-position context (context-length limits are testable quickly)."""
    from loraplane_runtime.tiny_model import make_tiny_model

    out = work / "model-short"
    make_tiny_model(str(out), "qwen2", layers=2, hidden=64, heads=4, seed=0, max_positions=128)
    return str(out)
