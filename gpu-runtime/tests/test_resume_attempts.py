"""A retried training attempt (a new output folder) continues from the previous attempt's newest checkpoint when
the control plane passes `paths.resumeFrom`; a source without a checkpoint or from a different spec is refused
(issue 15 item 6). That resuming reproduces the uninterrupted adapter is tested in test_train.py."""
import json
import os
import subprocess

from safetensors.torch import load_file

from conftest import RUNTIME, events, run_cli, write_job
from test_train import _wait_for_step

TRAINING = {"maxSteps": 30, "checkpointEverySteps": 10, "logEverySteps": 1, "lora": {"r": 8, "alpha": 16, "dropout": 0.1}}


def _job_with_resume(path, *, base, data, out, resume_from, training=TRAINING):
    job = write_job(path, base=base, data=data, out=out, training=training)
    raw = json.loads(open(job).read())
    raw["paths"]["resumeFrom"] = resume_from
    with open(job, "w") as f:
        json.dump(raw, f)
    return job


def test_next_attempt_resumes_from_the_previous_attempts_checkpoint(work, tiny_model, demo_data):
    # Attempt 1 is killed after step 23: its checkpoints are step-10 and step-20.
    first = work / "run" / "train-1" / "output"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LORAPLANE_")}
    p = subprocess.Popen(RUNTIME + ["train", "--config", write_job(work / "a1.json", base=tiny_model, data=demo_data, out=str(first), training=TRAINING)],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    _wait_for_step(p, 23)
    p.kill()
    p.wait()
    assert sorted(os.listdir(first / "checkpoints")) == ["step-10", "step-20"]

    # Attempt 2 writes into its own folder and continues from attempt 1's newest checkpoint.
    second = work / "run" / "train-2" / "output"
    r = run_cli(["train", "--config", _job_with_resume(work / "a2.json", base=tiny_model, data=demo_data, out=str(second), resume_from=str(first))])
    assert r.returncode == 0, r.stderr
    evs = events(r.stdout)
    resumed = [e for e in evs if e["event"] == "resumed"]
    assert resumed == [{"event": "resumed", "checkpoint": str(first / "checkpoints" / "step-20"), "step": 20}]
    result = evs[-1]
    assert result["event"] == "result" and result["resumedFromStep"] == 20 and result["steps"] == 30
    steps = [e["step"] for e in evs if e["event"] == "progress"]
    assert sorted(set(steps)) == list(range(20, 31))  # no step before the checkpoint is trained again
    # Attempt 1's folder is only read.
    assert sorted(os.listdir(first / "checkpoints")) == ["step-10", "step-20"]
    # The adapter continues from the checkpoint's weights (exactness of resume itself: test_train.py).
    start = load_file(str(first / "checkpoints" / "step-20" / "adapter_model.safetensors"))
    end = load_file(str(second / "adapter" / "adapter_model.safetensors"))
    assert start.keys() == end.keys()
    assert max(float((end[k] - start[k]).abs().max()) for k in start) > 0

    # A source with no complete checkpoint is an error, not a silent restart from step 0.
    empty = work / "run" / "train-9" / "output"
    empty.mkdir(parents=True)
    r = run_cli(["train", "--config", _job_with_resume(work / "a3.json", base=tiny_model, data=demo_data, out=str(work / "run" / "train-3" / "output"), resume_from=str(empty))])
    assert r.returncode == 2, r.stderr
    assert f"paths.resumeFrom {empty}: no complete checkpoint there" in r.stderr

    # The guard holds across attempts: a checkpoint written with another learning rate is refused, naming it.
    r = run_cli(["train", "--config", _job_with_resume(work / "a4.json", base=tiny_model, data=demo_data, out=str(work / "run" / "train-4" / "output"),
                                                       resume_from=str(first), training={**TRAINING, "learningRate": 5e-4})])
    assert r.returncode == 2, r.stderr
    assert "refusing to resume" in r.stderr and "training.learningRate" in r.stderr
